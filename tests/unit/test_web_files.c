/*
 * test_web_files.c — the browser files of core/web/web_files.c: loaded from
 * a folder with their types and ETags; a file missing, too large, not
 * regular, or reached through a link out of the folder is left unloaded
 * while the others load; a second load replaces the first; If-None-Match
 * matching (strong, weak, lists, "*").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dm_test.h"
#include "util/sha256.h"
#include "web/web_files.h"

#define VENDOR "node_modules/socket.io-client/dist/socket.io.min.js"

static char *dir;

static void write_at(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    /* mkdir -p of the file's folders */
    for (char *s = strchr(path + strlen(dir) + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
        *s = '\0';
        mkdir(path, 0755);
        *s = '/';
    }
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL && fputs(text, f) >= 0 && fclose(f) == 0, "write %s: %s", path, strerror(errno));
}

static void setup(void)
{
    dir = dm_test_mkdtemp("dm-web-files");
    write_at("test-logs.html", "<!doctype html>\n");
    write_at("test-logs.js", "'use strict';\n");
    write_at("test-logs.css", "body{}\n");
    write_at(VENDOR, "var io;\n");
}

static void teardown(void)
{
    dm__web_files_free();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}

static const dm_web_file *file(const char *url)
{
    const dm_web_file *f = dm__web_file_find(url);
    ck_assert_msg(f != NULL, "%s is not in the list", url);
    return f;
}

START_TEST(all_files_load_with_types_and_etags)
{
    ck_assert_uint_eq(dm__web_files_load(dir), 4);
    ck_assert_uint_eq(dm__web_files_count(), 4);
    const dm_web_file *js = file("/test-logs.js");
    ck_assert_str_eq(js->data, "'use strict';\n");
    ck_assert_uint_eq(js->len, strlen("'use strict';\n"));
    ck_assert_str_eq(js->type, "text/javascript; charset=utf-8");
    char hex[65], want[20];
    ck_assert_int_eq(dm__sha256_hex(js->data, js->len, hex), 0);
    snprintf(want, sizeof want, "\"%.16s\"", hex);
    ck_assert_str_eq(js->etag, want);
    ck_assert_str_eq(file("/test-logs.html")->type, "text/html; charset=utf-8");
    ck_assert_msg(file("/test-logs.html")->page, "the page gets the policy");
    ck_assert_msg(!file("/test-logs.css")->page, "the style is not a page");
    ck_assert_str_eq(file("/test-logs.css")->type, "text/css; charset=utf-8");
    ck_assert_str_eq(file("/vendor/socket.io.min.js")->data, "var io;\n");
    ck_assert_ptr_null(dm__web_file_find("/test-logs.htm"));
    ck_assert_ptr_null(dm__web_file_find("/" VENDOR));
    dm__web_files_free();
    ck_assert_ptr_null(file("/test-logs.js")->data);
}
END_TEST

START_TEST(unsafe_or_missing_files_are_left_out)
{
    char path[512];
    /* node_modules a link to a folder outside: the build behind it is refused. */
    char *outside = dm_test_mkdtemp("dm-web-outside");
    snprintf(path, sizeof path, "%s/node_modules", dir);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mv '%s' '%s/' && ln -s '%s/node_modules' '%s'", path, outside, outside, path);
    ck_assert_int_eq(system(cmd), 0);
    /* Over the size limit (sparse), and a folder in place of a file. */
    snprintf(path, sizeof path, "%s/test-logs.css", dir);
    ck_assert_int_eq(truncate(path, (off_t)DM_WEB_FILE_MAX + 1), 0);
    snprintf(path, sizeof path, "%s/test-logs.js", dir);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_uint_eq(dm__web_files_load(dir), 1);
    ck_assert_str_eq(file("/test-logs.html")->data, "<!doctype html>\n");
    ck_assert_ptr_null(file("/test-logs.js")->data);
    ck_assert_ptr_null(file("/test-logs.css")->data);
    ck_assert_ptr_null(file("/vendor/socket.io.min.js")->data);
    /* A link that stays inside the folder is fine. */
    snprintf(cmd, sizeof cmd, "rm -rf '%s/test-logs.js' && ln -s test-logs.html '%s/test-logs.js'", dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_uint_eq(dm__web_files_load(dir), 2);
    ck_assert_str_eq(file("/test-logs.js")->data, "<!doctype html>\n");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", outside);
    ck_assert_int_eq(system(cmd), 0);
    free(outside);
}
END_TEST

START_TEST(a_second_load_replaces_the_first)
{
    ck_assert_uint_eq(dm__web_files_load(dir), 4);
    char old[20];
    snprintf(old, sizeof old, "%s", file("/test-logs.html")->etag);
    write_at("test-logs.html", "<!doctype html><p>new</p>\n");
    ck_assert_uint_eq(dm__web_files_load(dir), 4);
    ck_assert_str_eq(file("/test-logs.html")->data, "<!doctype html><p>new</p>\n");
    ck_assert_str_ne(file("/test-logs.html")->etag, old);
    /* And a folder that is gone leaves nothing loaded, without failing. */
    ck_assert_uint_eq(dm__web_files_load("/nonexistent/dm-web"), 0);
    ck_assert_ptr_null(file("/test-logs.html")->data);
    ck_assert_uint_eq(dm__web_files_load(NULL), 0);
}
END_TEST

START_TEST(if_none_match)
{
    static const char tag[] = "\"0123456789abcdef\"";
    static const struct {
        const char *value;
        bool match;
    } cases[] = {
        { "\"0123456789abcdef\"", true },
        { "W/\"0123456789abcdef\"", true },
        { "\"x\", \"0123456789abcdef\"", true },
        { "\"x\",\t W/\"0123456789abcdef\" ", true },
        { "*", true },
        { " * ", true },
        { "\"0123456789abcdee\"", false },
        { "\"0123456789abcdef", false },
        { "0123456789abcdef", false },
        { "\"0123456789abcdef\"x", false },
        { "W/", false },
        { "", false },
        { ",,,", false },
        { "**", false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(dm__web_etag_matches(cases[i].value, tag) == cases[i].match, "If-None-Match: [%s] should %s",
                      cases[i].value, cases[i].match ? "match" : "not match");
    ck_assert_msg(!dm__web_etag_matches(NULL, tag), "no header");
    ck_assert_msg(!dm__web_etag_matches("*", ""), "a file with no tag");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("web_files");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, all_files_load_with_types_and_etags);
    tcase_add_test(tc, unsafe_or_missing_files_are_left_out);
    tcase_add_test(tc, a_second_load_replaces_the_first);
    tcase_add_test(tc, if_none_match);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
