/*
 * test_openapi.c — the YAML-to-JSON conversion behind GET /openapi.json:
 * scalar typing, styles, collections, every refusal (duplicate keys, syntax
 * errors with positions, depth, anchors/aliases, size), and the real
 * docs/openapi.yaml loading as an OpenAPI 3.0.3 document.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "dm_test.h"
#include "ops/openapi.h"

#define REAL_DOC DM_SOURCE_DIR "/docs/openapi.yaml"

/* Convert yaml and require success; returns the JSON (caller frees). */
static char *conv_ok(const char *yaml)
{
    dm_err_t err = {0};
    char    *json = NULL;
    size_t   len = 0;
    int      rc = dm__openapi_yaml_to_json("t.yaml", yaml, strlen(yaml), &json, &len, &err);

    ck_assert_msg(rc == 0, "conversion of <<%s>> failed: %d %s", yaml, rc, err.msg);
    ck_assert_msg(json != NULL, "no JSON for <<%s>>", yaml);
    ck_assert_msg(len == strlen(json), "out_len %zu != strlen %zu", len, strlen(json));
    return json;
}

static void expect_json(const char *yaml, const char *want)
{
    char *got = conv_ok(yaml);
    ck_assert_msg(strcmp(got, want) == 0, "<<%s>>\n got  %s\n want %s", yaml, got, want);
    free(got);
}

/* Convert yaml and require failure with `code` and `needle` in the message. */
static void expect_fail(const char *yaml, int code, const char *needle)
{
    dm_err_t err = {0};
    char    *json = (char *)"sentinel";
    int      rc = dm__openapi_yaml_to_json("t.yaml", yaml, strlen(yaml), &json, NULL, &err);

    ck_assert_msg(rc == code, "<<%s>>: rc %d, want %d (%s)", yaml, rc, code, err.msg);
    ck_assert_msg(json == NULL, "<<%s>>: out_json not reset on failure", yaml);
    ck_assert_msg(err.code == code, "<<%s>>: err.code %d, want %d", yaml, err.code, code);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "<<%s>>: message \"%s\" lacks \"%s\"", yaml,
                  err.msg, needle);
}

/* --- scalars ------------------------------------------------------------- */

START_TEST(test_plain_null_and_bool)
{
    expect_json("[null, Null, NULL, ~, true, True, TRUE, false, False, FALSE]",
                "[null,null,null,null,true,true,true,false,false,false]");
    expect_json("a:\nb: ~\n", "{\"a\":null,\"b\":null}");
}
END_TEST

START_TEST(test_plain_integers)
{
    expect_json("[0, 42, -7, +3, 007, 0o17, 0x1F, 0xff]", "[0,42,-7,3,7,15,31,255]");
    expect_json("[9223372036854775807, -9223372036854775808]",
                "[9223372036854775807,-9223372036854775808]");
}
END_TEST

START_TEST(test_plain_floats)
{
    expect_json("[1.5, .5, -2.5E-1, 1e3, 1., +0.25]", "[1.5,0.5,-0.25,1000.0,1.0,0.25]");
    /* Shortest exact form when 15 digits suffice, 17 when some value needs them. */
    expect_json("[0.1, 1e300]", "[0.1,1e300]");
    expect_json("[0.1, 0.30000000000000004]", "[0.10000000000000001,0.30000000000000004]");
}
END_TEST

START_TEST(test_plain_strings_not_typed)
{
    /* YAML 1.1 booleans and forms outside the 1.2 core schema stay strings. */
    expect_json("[yes, no, on, off, y, 1_000, 0x, 0o8, -0x1, 3.0.3, 1e, .e1, tRUE, nulls]",
                "[\"yes\",\"no\",\"on\",\"off\",\"y\",\"1_000\",\"0x\",\"0o8\",\"-0x1\","
                "\"3.0.3\",\"1e\",\".e1\",\"tRUE\",\"nulls\"]");
    expect_json("version: 0.1.0", "{\"version\":\"0.1.0\"}");
}
END_TEST

START_TEST(test_quoted_scalars_are_strings)
{
    expect_json("a: \"true\"\nb: '42'\nc: \"null\"\nd: '1.5'\ne: \"~\"\nf: ''\n",
                "{\"a\":\"true\",\"b\":\"42\",\"c\":\"null\",\"d\":\"1.5\",\"e\":\"~\",\"f\":\"\"}");
    expect_json("a: true\nb: 42\n", "{\"a\":true,\"b\":42}");
    expect_json("s: \"tab\\there \\u00e9 \\\"q\\\"\"\nt: 'it''s'\n",
                "{\"s\":\"tab\\there \xc3\xa9 \\\"q\\\"\",\"t\":\"it's\"}");
}
END_TEST

START_TEST(test_inf_nan_refused)
{
    expect_fail("x: .inf", DM_EINVAL, "no JSON representation");
    expect_fail("x: -.Inf", DM_EINVAL, "no JSON representation");
    expect_fail("x: .NaN", DM_EINVAL, "t.yaml:1:4:");
    expect_json("x: '.inf'", "{\"x\":\".inf\"}");
}
END_TEST

START_TEST(test_out_of_range_numbers_refused)
{
    expect_fail("x: 9223372036854775808", DM_EINVAL, "does not fit in 64 bits");
    expect_fail("x: -9223372036854775809", DM_EINVAL, "does not fit in 64 bits");
    expect_fail("x: 0xffffffffffffffffff", DM_EINVAL, "does not fit in 64 bits");
    expect_fail("x: 1e999", DM_EINVAL, "out of range");
}
END_TEST

START_TEST(test_explicit_tags)
{
    expect_json("[!!str 42, !!str true, ! 12, !!int \"7\", !!float 1, !!bool 'false', !!null '']",
                "[\"42\",\"true\",\"12\",7,1.0,false,null]");
    expect_json("a: !!map {b: 1}\nc: !!seq [1]\n", "{\"a\":{\"b\":1},\"c\":[1]}");
    expect_fail("x: !!int abc", DM_EINVAL, "is not a valid !!int");
    expect_fail("x: !!bool yes", DM_EINVAL, "is not a valid !!bool");
    expect_fail("x: !custom value", DM_EUNSUPPORTED, "unsupported tag !custom");
    expect_fail("x: !!binary aGk=", DM_EUNSUPPORTED, "unsupported tag");
    expect_fail("x: !!set {a: null}", DM_EUNSUPPORTED, "unsupported tag");
}
END_TEST

START_TEST(test_scalar_root)
{
    expect_json("42", "42");
    expect_json("hello world", "\"hello world\"");
    expect_json("--- \"x\"\n...\n", "\"x\"");
}
END_TEST

/* --- collections and block scalars ---------------------------------------- */

START_TEST(test_nested_block)
{
    expect_json("info:\n"
                "  title: Dermaga\n"
                "  tags:\n"
                "    - name: ops\n"
                "      list:\n"
                "        - 1\n"
                "        - [a, b]\n"
                "    - plain\n"
                "paths: {}\n",
                "{\"info\":{\"title\":\"Dermaga\",\"tags\":[{\"name\":\"ops\",\"list\":[1,[\"a\","
                "\"b\"]]},\"plain\"]},\"paths\":{}}");
}
END_TEST

START_TEST(test_key_order_preserved)
{
    expect_json("z: 1\na: 2\nm: 3\n", "{\"z\":1,\"a\":2,\"m\":3}");
}
END_TEST

START_TEST(test_flow_collections)
{
    expect_json("{a: [1, {b: c}], d: {}, e: [], 'f g': \"h\"}",
                "{\"a\":[1,{\"b\":\"c\"}],\"d\":{},\"e\":[],\"f g\":\"h\"}");
    expect_json("required: [page, limit]\nenum: [true]\n",
                "{\"required\":[\"page\",\"limit\"],\"enum\":[true]}");
}
END_TEST

START_TEST(test_keys_are_text)
{
    expect_json("200: ok\n'404': missing\ntrue: t\n~: n\n",
                "{\"200\":\"ok\",\"404\":\"missing\",\"true\":\"t\",\"~\":\"n\"}");
}
END_TEST

START_TEST(test_literal_and_folded)
{
    expect_json("a: |\n  line one\n  line two\nb: x\n",
                "{\"a\":\"line one\\nline two\\n\",\"b\":\"x\"}");
    expect_json("a: |-\n  kept\n    indented\n", "{\"a\":\"kept\\n  indented\"}");
    expect_json("a: >\n  folded\n  together\n\n  new para\n",
                "{\"a\":\"folded together\\nnew para\\n\"}");
    /* Block scalars are strings, never typed. */
    expect_json("a: |-\n  42\nb: >-\n  true\n", "{\"a\":\"42\",\"b\":\"true\"}");
}
END_TEST

/* --- refusals --------------------------------------------------------------- */

START_TEST(test_duplicate_keys_refused)
{
    expect_fail("a: 1\nb: 2\na: 3\n", DM_EINVAL, "t.yaml:3:1: duplicate key \"a\"");
    expect_fail("outer:\n  x: 1\n  x: 2\n", DM_EINVAL, "t.yaml:3:3: duplicate key \"x\"");
    expect_fail("{a: 1, a: 2}", DM_EINVAL, "duplicate key \"a\"");
    /* Same text, different quoting: still the same JSON key. */
    expect_fail("200: a\n'200': b\n", DM_EINVAL, "duplicate key \"200\"");
}
END_TEST

START_TEST(test_syntax_error_has_position)
{
    expect_fail("a: 1\nb: 2\n  c: 3\n", DM_EINVAL, "t.yaml:3:4:");
    expect_fail("a: 1\nb: [1, 2\nc: 3\n", DM_EINVAL, "t.yaml:");
    expect_fail("a: \"unterminated\n", DM_EINVAL, "t.yaml:2:1:");
    expect_fail("a:\n\t- tab\n", DM_EINVAL, "t.yaml:2:");
}
END_TEST

START_TEST(test_invalid_utf8_refused)
{
    expect_fail("a: \xff\xfe\n", DM_EINVAL, "t.yaml: byte 3:");
}
END_TEST

START_TEST(test_document_count)
{
    expect_fail("", DM_EINVAL, "empty YAML input");
    expect_fail("# only a comment\n", DM_EINVAL, "empty YAML input");
    expect_fail("a: 1\n---\nb: 2\n", DM_EINVAL, "t.yaml:2:1: more than one YAML document");
}
END_TEST

START_TEST(test_complex_keys_refused)
{
    expect_fail("? [a, b]\n: c\n", DM_EUNSUPPORTED, "mapping keys must be scalars");
    expect_fail("{[a]: b}", DM_EUNSUPPORTED, "mapping keys must be scalars");
}
END_TEST

START_TEST(test_aliases_refused)
{
    expect_fail("a: &x 1\nb: *x\n", DM_EUNSUPPORTED,
                "t.yaml:1:4: anchor &x: YAML anchors and aliases are not supported");
    expect_fail("a: *nowhere\n", DM_EUNSUPPORTED, "t.yaml:1:4: alias *nowhere");
    expect_fail("base: &b {x: 1}\nd:\n  <<: *b\n", DM_EUNSUPPORTED, "anchor &b");
    expect_fail("- &s [1]\n", DM_EUNSUPPORTED, "anchor &s");
    expect_fail("*k : v\n", DM_EUNSUPPORTED, "alias *k");
    expect_fail("&k key: v\n", DM_EUNSUPPORTED, "anchor &k");
    /* The classic exponential expansion is refused at its first anchor. */
    expect_fail("a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: [*c, *c]\n", DM_EUNSUPPORTED,
                "t.yaml:1:4: anchor &a");
}
END_TEST

/* Nested flow sequences: "[[[…]]]" with `levels` brackets. */
static char *nested(int levels)
{
    char *s = malloc((size_t)levels * 2 + 1);
    ck_assert_msg(s != NULL, "malloc");
    memset(s, '[', (size_t)levels);
    memset(s + levels, ']', (size_t)levels);
    s[levels * 2] = '\0';
    return s;
}

START_TEST(test_depth_limit_flow)
{
    char *ok = nested(DM_OPENAPI_MAX_DEPTH);
    char *deep = nested(DM_OPENAPI_MAX_DEPTH + 1);
    char *json = conv_ok(ok);

    ck_assert_msg(strcmp(json, ok) == 0, "64 levels should round-trip, got %.80s", json);
    expect_fail(deep, DM_EINVAL, "nesting deeper than 64 levels");
    expect_fail(deep, DM_EINVAL, "t.yaml:1:65:");
    free(json);
    free(ok);
    free(deep);
}
END_TEST

START_TEST(test_depth_limit_block)
{
    /* 65 nested block mappings, one key per line, each indented by one. */
    char   buf[8192];
    size_t off = 0;

    for (int i = 0; i < DM_OPENAPI_MAX_DEPTH + 1; i++) {
        int n = snprintf(buf + off, sizeof buf - off, "%*sk:\n", i, "");
        ck_assert_msg(n > 0 && (size_t)n < sizeof buf - off, "buffer");
        off += (size_t)n;
    }
    expect_fail(buf, DM_EINVAL, "nesting deeper than 64 levels");
}
END_TEST

START_TEST(test_size_limit_in_memory)
{
    size_t   len = DM_OPENAPI_MAX_BYTES + 1;
    char    *big = malloc(len);
    char    *json = NULL;
    dm_err_t err = {0};

    ck_assert_msg(big != NULL, "malloc");
    memset(big, '#', len); /* a comment: valid YAML, so only the size refuses it */
    ck_assert_int_eq(dm__openapi_yaml_to_json("t.yaml", big, len, &json, NULL, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "over the 4194304-byte limit") != NULL, "message: %s", err.msg);
    ck_assert_msg(json == NULL, "no output on failure");
    free(big);
}
END_TEST

START_TEST(test_null_arguments)
{
    dm_err_t err = {0};
    char    *json = NULL;

    ck_assert_int_eq(dm__openapi_yaml_to_json(NULL, "a: 1", 4, NULL, NULL, &err), DM_EINVAL);
    ck_assert_int_eq(dm__openapi_yaml_to_json(NULL, NULL, 4, &json, NULL, &err), DM_EINVAL);
    ck_assert_int_eq(dm__openapi_load(NULL, &json, NULL, &err), DM_EINVAL);
    ck_assert_int_eq(dm__openapi_load(REAL_DOC, NULL, NULL, NULL), DM_EINVAL);
    /* A NULL name falls back to a placeholder in messages. */
    ck_assert_int_eq(dm__openapi_yaml_to_json(NULL, "a: [", 4, &json, NULL, &err), DM_EINVAL);
    ck_assert_msg(strncmp(err.msg, "<yaml>:", 7) == 0, "message: %s", err.msg);
}
END_TEST

/* --- files ------------------------------------------------------------------- */

/* Write `text` to a new temporary file; returns its path (caller frees and
 * unlinks). */
static char *temp_file(const char *text)
{
    char *path = strdup("/tmp/dm_openapi_XXXXXX");
    int   fd;

    ck_assert_msg(path != NULL, "strdup");
    fd = mkstemp(path);
    ck_assert_msg(fd >= 0, "mkstemp: %s", strerror(errno));
    ck_assert_msg(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write");
    close(fd);
    return path;
}

START_TEST(test_load_missing_file)
{
    dm_err_t err = {0};
    char    *json = NULL;

    ck_assert_int_eq(dm__openapi_load("/nonexistent/openapi.yaml", &json, NULL, &err), DM_ENOTFOUND);
    ck_assert_msg(strstr(err.msg, "/nonexistent/openapi.yaml") != NULL, "message: %s", err.msg);
    ck_assert_msg(json == NULL, "no output");
}
END_TEST

START_TEST(test_load_directory_refused)
{
    dm_err_t err = {0};
    char    *json = NULL;

    ck_assert_int_eq(dm__openapi_load("/tmp", &json, NULL, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "not a regular file") != NULL, "message: %s", err.msg);
}
END_TEST

START_TEST(test_load_oversized_file_refused)
{
    dm_err_t err = {0};
    char    *json = NULL;
    char    *path = temp_file("openapi: 3.0.3\n");

    /* Sparse: costs no disk, but stat says over the limit. */
    ck_assert_msg(truncate(path, (off_t)DM_OPENAPI_MAX_BYTES + 1) == 0, "truncate: %s",
                  strerror(errno));
    ck_assert_int_eq(dm__openapi_load(path, &json, NULL, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "4194305 bytes is over the 4194304-byte limit") != NULL,
                  "message: %s", err.msg);
    ck_assert_msg(json == NULL, "no output");
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_load_rejects_non_openapi)
{
    const char *cases[][2] = {
        {"- a\n- b\n", "root is not a mapping"},
        {"swagger: '2.0'\ninfo: {}\npaths: {}\n", "\"openapi\" must be a string"},
        {"openapi: 3.0\ninfo: {}\npaths: {}\n", "\"openapi\" must be a string"},
        {"openapi: 2.0.0\ninfo: {}\npaths: {}\n", "starting with \"3.\""},
        {"openapi: 3.0.3\ninfo: {}\n", "\"paths\" must be mappings"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dm_err_t err = {0};
        char    *json = NULL;
        char    *path = temp_file(cases[i][0]);

        ck_assert_msg(dm__openapi_load(path, &json, NULL, &err) == DM_EINVAL, "case %zu accepted",
                      i);
        ck_assert_msg(strstr(err.msg, cases[i][1]) != NULL, "case %zu message: %s", i, err.msg);
        ck_assert_msg(json == NULL, "case %zu: no output", i);
        unlink(path);
        free(path);
    }
}
END_TEST

START_TEST(test_load_reports_file_and_line)
{
    dm_err_t err = {0};
    char    *json = NULL;
    char    *path = temp_file("openapi: 3.0.3\ninfo: {}\npaths: {}\ninfo: {}\n");
    char     want[512];

    snprintf(want, sizeof want, "%s:4:1: duplicate key \"info\"", path);
    ck_assert_int_eq(dm__openapi_load(path, &json, NULL, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, want) != NULL, "message: %s", err.msg);
    unlink(path);
    free(path);
}
END_TEST

/* --- the real document ------------------------------------------------------- */

static json_t *load_real_doc(void)
{
    dm_err_t     err = {0};
    char        *text = NULL;
    size_t       len = 0;
    json_error_t jerr;
    json_t      *doc;
    int          rc = dm__openapi_load(REAL_DOC, &text, &len, &err);

    ck_assert_msg(rc == 0, "loading %s: %d %s", REAL_DOC, rc, err.msg);
    ck_assert_msg(len == strlen(text), "out_len %zu != strlen %zu", len, strlen(text));
    ck_assert_msg(strchr(text, '\n') == NULL, "compact JSON has no newlines");
    doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    ck_assert_msg(doc != NULL, "not valid JSON: %s at %d:%d", jerr.text, jerr.line, jerr.column);
    free(text);
    return doc;
}

START_TEST(test_real_doc_is_openapi_303)
{
    json_t     *doc = load_real_doc();
    const char *paths[] = {"/healthz", "/readyz", "/metrics", "/openapi.json"};
    json_t     *p = json_object_get(doc, "paths");

    ck_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
    ck_assert_msg(json_is_string(json_object_get(json_object_get(doc, "info"), "version")),
                  "info.version must be a string (0.1.0 is not a number)");
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        ck_assert_msg(json_is_object(json_object_get(json_object_get(p, paths[i]), "get")),
                      "paths[%s].get missing", paths[i]);
    }
    json_decref(doc);
}
END_TEST

/* Follow a local "#/a/b" reference; NULL when it does not resolve. */
static json_t *resolve_ref(json_t *doc, const char *ref)
{
    char    buf[256];
    json_t *cur = doc;

    if (strncmp(ref, "#/", 2) != 0 || strlen(ref) >= sizeof buf) {
        return NULL;
    }
    memcpy(buf, ref + 2, strlen(ref + 2) + 1);
    for (char *save = NULL, *tok = strtok_r(buf, "/", &save); tok != NULL;
         tok = strtok_r(NULL, "/", &save)) {
        cur = json_object_get(cur, tok);
    }
    return cur;
}

static void check_refs(json_t *doc, json_t *node, int *count)
{
    const char *key;
    json_t     *v;
    size_t      i;

    if (json_is_object(node)) {
        json_object_foreach(node, key, v) {
            if (strcmp(key, "$ref") == 0) {
                ck_assert_msg(json_is_string(v), "$ref must be a string");
                ck_assert_msg(resolve_ref(doc, json_string_value(v)) != NULL,
                              "$ref %s does not resolve", json_string_value(v));
                (*count)++;
            } else {
                check_refs(doc, v, count);
            }
        }
    } else if (json_is_array(node)) {
        json_array_foreach(node, i, v) {
            check_refs(doc, v, count);
        }
    }
}

START_TEST(test_real_doc_refs_resolve)
{
    json_t *doc = load_real_doc();
    int     n = 0;

    check_refs(doc, doc, &n);
    ck_assert_msg(n > 10, "expected the document to reuse components, found %d $ref", n);
    json_decref(doc);
}
END_TEST

/* A response object, following one $ref. */
static json_t *deref(json_t *doc, json_t *resp)
{
    json_t *ref = json_object_get(resp, "$ref");
    return json_is_string(ref) ? resolve_ref(doc, json_string_value(ref)) : resp;
}

START_TEST(test_real_doc_every_response_has_request_id)
{
    json_t     *doc = load_real_doc();
    json_t     *comps = json_object_get(json_object_get(doc, "components"), "responses");
    const char *path, *method, *status;
    json_t     *item, *op, *resp;
    int         n = 0;

    json_object_foreach(json_object_get(doc, "paths"), path, item) {
        json_object_foreach(item, method, op) {
            json_object_foreach(json_object_get(op, "responses"), status, resp) {
                json_t *r = deref(doc, resp);
                ck_assert_msg(json_object_get(json_object_get(r, "headers"), "X-Request-Id") != NULL,
                              "%s %s %s lacks the X-Request-Id header", method, path, status);
                n++;
            }
        }
    }
    json_object_foreach(comps, status, resp) {
        ck_assert_msg(json_object_get(json_object_get(resp, "headers"), "X-Request-Id") != NULL,
                      "components.responses.%s lacks X-Request-Id", status);
    }
    ck_assert_msg(n >= 8, "only %d responses found", n);
    json_decref(doc);
}
END_TEST

START_TEST(test_real_doc_shared_components)
{
    json_t     *doc = load_real_doc();
    json_t     *c = json_object_get(doc, "components");
    json_t     *resp = json_object_get(c, "responses");
    json_t     *schemas = json_object_get(c, "schemas");
    json_t     *want;
    const char *needed[] = {"BadRequest", "NotFound", "MethodNotAllowed", "RequestTimeout",
                            "PayloadTooLarge", "UnsupportedMediaType",
                            "RequestHeaderFieldsTooLarge", "ServiceUnavailable"};

    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
        ck_assert_msg(json_object_get(resp, needed[i]) != NULL, "components.responses.%s missing",
                      needed[i]);
    }
    ck_assert_msg(json_object_get(json_object_get(json_object_get(resp, "MethodNotAllowed"),
                                                  "headers"), "Allow") != NULL,
                  "405 must document Allow");
    ck_assert_msg(json_object_get(json_object_get(json_object_get(resp, "ServiceUnavailable"),
                                                  "headers"), "Retry-After") != NULL,
                  "503 must document Retry-After");
    ck_assert_msg(json_object_get(schemas, "ErrorEnvelope") != NULL, "ErrorEnvelope missing");
    ck_assert_msg(json_object_get(schemas, "SuccessEnvelope") != NULL, "SuccessEnvelope missing");
    want = json_pack("[ssss]", "page", "limit", "total", "totalPages");
    ck_assert_msg(want != NULL, "json_pack");
    ck_assert_msg(json_equal(json_object_get(json_object_get(schemas, "Pagination"), "required"),
                             want),
                  "Pagination must require page, limit, total, totalPages");
    json_decref(want);
    ck_assert_msg(json_object_get(json_object_get(json_object_get(json_object_get(
                      doc, "paths"), "/metrics"), "get"), "responses") != NULL,
                  "/metrics responses missing");
    json_decref(doc);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("openapi");
    TCase *scalars = tcase_create("scalars");
    TCase *collections = tcase_create("collections");
    TCase *refusals = tcase_create("refusals");
    TCase *files = tcase_create("files");
    TCase *doc = tcase_create("document");

    tcase_add_test(scalars, test_plain_null_and_bool);
    tcase_add_test(scalars, test_plain_integers);
    tcase_add_test(scalars, test_plain_floats);
    tcase_add_test(scalars, test_plain_strings_not_typed);
    tcase_add_test(scalars, test_quoted_scalars_are_strings);
    tcase_add_test(scalars, test_inf_nan_refused);
    tcase_add_test(scalars, test_out_of_range_numbers_refused);
    tcase_add_test(scalars, test_explicit_tags);
    tcase_add_test(scalars, test_scalar_root);
    tcase_add_test(collections, test_nested_block);
    tcase_add_test(collections, test_key_order_preserved);
    tcase_add_test(collections, test_flow_collections);
    tcase_add_test(collections, test_keys_are_text);
    tcase_add_test(collections, test_literal_and_folded);
    tcase_add_test(refusals, test_duplicate_keys_refused);
    tcase_add_test(refusals, test_syntax_error_has_position);
    tcase_add_test(refusals, test_invalid_utf8_refused);
    tcase_add_test(refusals, test_document_count);
    tcase_add_test(refusals, test_complex_keys_refused);
    tcase_add_test(refusals, test_aliases_refused);
    tcase_add_test(refusals, test_depth_limit_flow);
    tcase_add_test(refusals, test_depth_limit_block);
    tcase_add_test(refusals, test_size_limit_in_memory);
    tcase_add_test(refusals, test_null_arguments);
    tcase_add_test(files, test_load_missing_file);
    tcase_add_test(files, test_load_directory_refused);
    tcase_add_test(files, test_load_oversized_file_refused);
    tcase_add_test(files, test_load_rejects_non_openapi);
    tcase_add_test(files, test_load_reports_file_and_line);
    tcase_add_test(doc, test_real_doc_is_openapi_303);
    tcase_add_test(doc, test_real_doc_refs_resolve);
    tcase_add_test(doc, test_real_doc_every_response_has_request_id);
    tcase_add_test(doc, test_real_doc_shared_components);
    suite_add_tcase(s, scalars);
    suite_add_tcase(s, collections);
    suite_add_tcase(s, refusals);
    suite_add_tcase(s, files);
    suite_add_tcase(s, doc);
    return s;
}

DM_TEST_MAIN(make_suite)
