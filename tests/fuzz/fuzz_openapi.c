/*
 * fuzz_openapi.c — the strict YAML-to-JSON converter behind /openapi.json.
 * Each input is converted in memory and, through a temporary file, by the
 * loader; the two must agree, and whatever comes out must be valid JSON.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "fuzz_support.h"
#include "ops/openapi.h"

#define FUZZ_MAX_INPUT (256u * 1024u)

static char tmp_path[64];
static int tmp_fd = -1;

static void remove_tmp(void)
{
    if (tmp_fd >= 0) {
        close(tmp_fd);
        unlink(tmp_path);
        tmp_fd = -1;
    }
}

static void setup(void)
{
    snprintf(tmp_path, sizeof tmp_path, "/tmp/dm_fuzz_openapi_XXXXXX");
    tmp_fd = mkstemp(tmp_path);
    FUZZ_CHECK(tmp_fd >= 0, "mkstemp: %s", strerror(errno));
    atexit(remove_tmp);
}

static void write_tmp(const uint8_t *data, size_t size)
{
    FUZZ_CHECK(ftruncate(tmp_fd, 0) == 0, "ftruncate: %s", strerror(errno));
    size_t off = 0;
    while (off < size) {
        ssize_t w = pwrite(tmp_fd, data + off, size - off, (off_t)off);
        FUZZ_CHECK(w > 0, "pwrite: %s", strerror(errno));
        off += (size_t)w;
    }
}

/* The shape dm__openapi_load insists on, judged independently. */
static bool openapi_shaped(const json_t *root)
{
    const json_t *v = json_object_get(root, "openapi");
    return json_is_object(root) && json_is_string(v) && strncmp(json_string_value(v), "3.", 2) == 0
           && json_is_object(json_object_get(root, "info"))
           && json_is_object(json_object_get(root, "paths"));
}

/* Output is one compact JSON value with unique keys, and its length is
 * what was reported. Returns the parsed value (new). */
static json_t *check_json(const char *out, size_t out_len)
{
    FUZZ_CHECK(out != NULL, "success without output");
    FUZZ_CHECK(strlen(out) == out_len, "length %zu reported for %zu bytes", out_len, strlen(out));
    json_error_t jerr;
    json_t *v = json_loadb(out, out_len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    FUZZ_CHECK(v != NULL, "output is not JSON (%s): %.200s", jerr.text, out);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready = false;
    if (!ready) {
        setup();
        ready = true;
    }
    if (size > FUZZ_MAX_INPUT)
        return 0;

    char *out = NULL;
    size_t out_len = 12345;
    dm_err_t err = { 0 };
    int rc = dm__openapi_yaml_to_json("fuzz.yaml", (const char *)data, size, &out, &out_len, &err);
    json_t *root = NULL;
    if (rc == 0) {
        root = check_json(out, out_len);
    } else {
        FUZZ_CHECK(rc < 0, "positive error code %d", rc);
        FUZZ_CHECK(out == NULL && out_len == 0, "failure left output behind");
        FUZZ_CHECK(memchr(err.msg, '\0', sizeof err.msg) != NULL && err.msg[0] != '\0',
                   "failure %d without a message", rc);
    }

    /* The loader reads the same bytes from a file: same verdict, same JSON. */
    write_tmp(data, size);
    char *loaded = NULL;
    size_t loaded_len = 0;
    dm_err_t lerr = { 0 };
    int lrc = dm__openapi_load(tmp_path, &loaded, &loaded_len, &lerr);
    if (rc != 0) {
        FUZZ_CHECK(lrc == rc, "converter said %d, loader said %d (%s)", rc, lrc, lerr.msg);
    } else if (openapi_shaped(root)) {
        FUZZ_CHECK(lrc == 0, "OpenAPI-shaped document refused by the loader: %s", lerr.msg);
        FUZZ_CHECK(loaded_len == out_len && memcmp(loaded, out, out_len) == 0,
                   "loader and converter disagree:\n%.200s\n%.200s", loaded, out);
    } else {
        FUZZ_CHECK(lrc == DM_EINVAL, "non-OpenAPI document: loader said %d", lrc);
    }
    free(loaded);
    json_decref(root);
    free(out);
    return 0;
}
