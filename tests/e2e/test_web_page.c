/*
 * test_web_page.c — the log page's files through the real binary (no
 * database needed): GET and HEAD of /test-logs.html, its script and style
 * and the socket.io-client build, with their types, nosniff, the page's
 * Content-Security-Policy and ETag revalidation; the page in headless
 * Chromium before sign-in (page_smoke.mjs) and its behaviour against the
 * fake Socket.IO stand-in (page_behaviour.mjs); and files that are missing,
 * not regular, or outside web.dir answer 404 with a log line naming them,
 * while the server keeps serving and exits 0.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dm_test.h"
#include "e2e.h"
#include "e2e_node.h"

#define PAGE_CSP                                                                                      \
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " \
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static dm_e2e_server srv;

static const struct {
    const char *url, *file, *type;
} files[] = {
    { "/test-logs.html", "test-logs.html", "text/html; charset=utf-8" },
    { "/test-logs.js", "test-logs.js", "text/javascript; charset=utf-8" },
    { "/test-logs.css", "test-logs.css", "text/css; charset=utf-8" },
    { "/vendor/socket.io.min.js", "node_modules/socket.io-client/dist/socket.io.min.js",
      "text/javascript; charset=utf-8" },
};
#define N_FILES (sizeof files / sizeof files[0])

static void setup(void)
{
    dm_e2e_server_start(&srv, NULL);
}

static void teardown(void)
{
    dm_e2e_server_finish(&srv);
}

/* The file as it is in the source tree's web/ (what the binary loaded). */
static char *source_file(const char *rel, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/web/%s", DM_SOURCE_DIR, rel);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: %s (scripts/test.sh runs `npm ci` in web/)", path, strerror(errno));
    char *buf = malloc(8u * 1024u * 1024u);
    ck_assert_msg(buf != NULL, "out of memory");
    *len = fread(buf, 1, 8u * 1024u * 1024u, f);
    fclose(f);
    return buf;
}

/* One request (method, url, extra header lines) on a new connection. */
static void request(const char *method, const char *url, const char *extra, dm_e2e_response *res)
{
    char req[512];
    snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: t\r\n%s\r\n", method, url, extra != NULL ? extra : "");
    dm_e2e_conn c;
    dm_e2e_connect_ok(&c, srv.port);
    dm_e2e_send_ok(&c, req);
    dm_e2e_read_ok(&c, res, strcmp(method, "HEAD") == 0, url);
    dm_e2e_close(&c);
}

static void expect_header(const dm_e2e_response *res, const char *url, const char *name, const char *want)
{
    const char *got = dm_e2e_header(res, name);
    if (want == NULL) {
        ck_assert_msg(got == NULL, "%s: %s: %s, want none", url, name, got);
        return;
    }
    ck_assert_msg(got != NULL && strcmp(got, want) == 0, "%s: %s: %s, want %s", url, name,
                  got != NULL ? got : "(none)", want);
}

/* The headers every file gets; the ETag (borrowed from res). */
static const char *expect_file_headers(const dm_e2e_response *res, size_t i)
{
    const char *url = files[i].url;
    bool page = strcmp(files[i].file, "test-logs.html") == 0;
    expect_header(res, url, "Content-Type", files[i].type);
    expect_header(res, url, "X-Content-Type-Options", "nosniff");
    expect_header(res, url, "Cache-Control", "no-cache");
    expect_header(res, url, "Content-Security-Policy", page ? PAGE_CSP : NULL);
    expect_header(res, url, "X-Frame-Options", page ? "DENY" : NULL);
    expect_header(res, url, "Referrer-Policy", page ? "no-referrer" : NULL);
    const char *etag = dm_e2e_header(res, "ETag");
    ck_assert_msg(etag != NULL && strlen(etag) == 18 && etag[0] == '"' && etag[17] == '"'
                      && strspn(etag + 1, "0123456789abcdef") == 16,
                  "%s: ETag %s", url, etag != NULL ? etag : "(none)");
    return etag;
}

START_TEST(files_are_served_with_their_headers)
{
    for (size_t i = 0; i < N_FILES; i++) {
        size_t len;
        char *want = source_file(files[i].file, &len);
        dm_e2e_response res;
        request("GET", files[i].url, NULL, &res);
        ck_assert_msg(res.status == 200, "GET %s: %d %s", files[i].url, res.status, res.body);
        expect_file_headers(&res, i);
        ck_assert_msg(res.body_len == len && memcmp(res.body, want, len) == 0,
                      "GET %s: %zu bytes that are not the %zu of web/%s", files[i].url, res.body_len, len,
                      files[i].file);
        dm_e2e_response_free(&res);
        free(want);
    }
}
END_TEST

START_TEST(head_and_revalidation)
{
    for (size_t i = 0; i < N_FILES; i++) {
        const char *url = files[i].url;
        dm_e2e_response get, head, res;
        request("GET", url, NULL, &get);
        request("HEAD", url, NULL, &head);
        ck_assert_msg(head.status == 200 && head.body_len == 0, "HEAD %s: %d with %zu bytes", url, head.status,
                      head.body_len);
        const char *etag = expect_file_headers(&head, i);
        char len[32];
        snprintf(len, sizeof len, "%zu", get.body_len);
        expect_header(&head, url, "Content-Length", len);
        expect_header(&get, url, "ETag", etag);

        /* A matching tag, strong, weak, in a list or "*": 304, no body. */
        char match[4][128];
        snprintf(match[0], sizeof match[0], "If-None-Match: %s\r\n", etag);
        snprintf(match[1], sizeof match[1], "If-None-Match: W/%s\r\n", etag);
        snprintf(match[2], sizeof match[2], "If-None-Match: \"0000000000000000\" , %s\r\n", etag);
        snprintf(match[3], sizeof match[3], "If-None-Match: *\r\n");
        for (int k = 0; k < 4; k++) {
            request("GET", url, match[k], &res);
            ck_assert_msg(res.status == 304 && res.body_len == 0, "GET %s with %s: %d, %zu bytes", url, match[k],
                          res.status, res.body_len);
            expect_header(&res, url, "ETag", etag);
            expect_header(&res, url, "Cache-Control", "no-cache");
            dm_e2e_response_free(&res);
        }
        /* Another tag: the file again. */
        request("GET", url, "If-None-Match: \"0123456789abcdef\"\r\n", &res);
        ck_assert_msg(res.status == 200 && res.body_len == get.body_len, "GET %s with another tag: %d", url,
                      res.status);
        dm_e2e_response_free(&res);
        dm_e2e_response_free(&head);
        dm_e2e_response_free(&get);
    }
}
END_TEST

/* Run a script of tests/node with `--<server_flag> <this server's URL>
 * --artifacts <dir>`; it must print OK and exit 0 within timeout_ms. */
static void run_page_script(const char *script, const char *server_flag, int timeout_ms)
{
    char url[64], artifacts[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", srv.port);
    dm_e2e_node_artifacts(script, artifacts, sizeof artifacts);
    const char *const args[] = { server_flag, url, "--artifacts", artifacts, NULL };
    dm_e2e_node_run_ok(script, args, timeout_ms);
}

START_TEST(the_page_loads_clean_in_chromium)
{
    run_page_script("page_smoke.mjs", "--base", 90000);
}
END_TEST

START_TEST(the_page_behaves_against_the_fake_standin)
{
    run_page_script("page_behaviour.mjs", "--upstream", 150000);
}
END_TEST

/* ---- what cannot be served ------------------------------------------------ */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL && fputs(text, f) >= 0 && fclose(f) == 0, "write %s", path);
}

static void expect_missing(const char *url)
{
    dm_e2e_response res;
    request("GET", url, NULL, &res);
    dm_e2e_assert_error(&res, 404, url);
    json_t *doc = dm_e2e_json(&res);
    const char *code = json_string_value(json_object_get(json_object_get(doc, "error"), "code"));
    ck_assert_msg(code != NULL && strcmp(code, "NOT_FOUND") == 0, "GET %s: %s", url, res.body);
    json_decref(doc);
    dm_e2e_response_free(&res);
}

static void expect_logged(const char *needle)
{
    char *log = dm_e2e_server_log(&srv);
    bool found = strstr(log, needle) != NULL;
    ck_assert_msg(found, "the server did not log \"%s\"; its output:\n%s", needle, log);
    free(log);
}

START_TEST(missing_or_unsafe_files_answer_404)
{
    char *dir = dm_test_mkdtemp("dm-web");
    char path[512];
    snprintf(path, sizeof path, "%s/test-logs.html", dir);
    write_file(path, "<!doctype html><title>only this</title>\n");
    /* A link out of the folder, and a folder where a file belongs. */
    snprintf(path, sizeof path, "%s/test-logs.js", dir);
    ck_assert_msg(symlink("/etc/hostname", path) == 0, "symlink: %s", strerror(errno));
    snprintf(path, sizeof path, "%s/test-logs.css", dir);
    ck_assert_msg(mkdir(path, 0755) == 0, "mkdir: %s", strerror(errno));
    dm_e2e_server_start(&srv, json_pack("{s:{s:s}}", "web", "dir", dir));

    dm_e2e_response res;
    request("GET", "/test-logs.html", NULL, &res);
    ck_assert_msg(res.status == 200 && strcmp(res.body, "<!doctype html><title>only this</title>\n") == 0,
                  "GET /test-logs.html: %d %s", res.status, res.body);
    expect_header(&res, "/test-logs.html", "Content-Security-Policy", PAGE_CSP);
    dm_e2e_response_free(&res);
    expect_missing("/test-logs.js");
    expect_missing("/test-logs.css");
    expect_missing("/vendor/socket.io.min.js");
    request("GET", "/vendor/socket.io.min.js", NULL, &res);
    expect_header(&res, "/vendor/socket.io.min.js", "Cache-Control", "no-store");
    dm_e2e_response_free(&res);
    /* Nothing else in the folder, nor any path built from the URL, is served. */
    expect_missing("/node_modules/socket.io-client/dist/socket.io.min.js");
    expect_missing("/test-logs.html/../test-logs.js");
    expect_missing("/vendor/%2e%2e/test-logs.html");

    expect_logged("test-logs.js: its real path /etc/hostname is outside the directory; GET /test-logs.js will answer 404");
    expect_logged("test-logs.css: not a regular file; GET /test-logs.css will answer 404");
    expect_logged("socket.io.min.js: No such file or directory; GET /vendor/socket.io.min.js will answer 404 "
                  "(install it with `npm ci` in web.dir");
    expect_logged("loaded 1 of 4 browser files");
    free(dir);
}
END_TEST

START_TEST(no_web_dir_is_404_not_a_crash)
{
    dm_e2e_server_start(&srv, json_pack("{s:{s:s}}", "web", "dir", "/nonexistent/dm-web"));
    for (size_t i = 0; i < N_FILES; i++)
        expect_missing(files[i].url);
    dm_e2e_response res;
    request("GET", "/healthz", NULL, &res);
    ck_assert_msg(res.status == 200, "GET /healthz: %d", res.status);
    dm_e2e_response_free(&res);
    expect_logged("web.dir /nonexistent/dm-web: No such file or directory; the log page and its files will answer 404");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("web_page");
    TCase *tc = tcase_create("served");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 200);
    tcase_add_test(tc, files_are_served_with_their_headers);
    tcase_add_test(tc, head_and_revalidation);
    tcase_add_test(tc, the_page_loads_clean_in_chromium);
    tcase_add_test(tc, the_page_behaves_against_the_fake_standin);
    suite_add_tcase(s, tc);

    TCase *bad = tcase_create("missing");
    tcase_add_checked_fixture(bad, NULL, teardown);
    tcase_set_timeout(bad, 60);
    tcase_add_test(bad, missing_or_unsafe_files_answer_404);
    tcase_add_test(bad, no_web_dir_is_404_not_a_crash);
    suite_add_tcase(s, bad);
    return s;
}

DM_TEST_MAIN(make_suite)
