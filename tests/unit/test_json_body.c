/*
 * test_json_body.c — the JSON body middleware: media type (415), empty,
 * malformed, duplicate-key and non-object bodies (400), and the happy path.
 */
#include <string.h>

#include "dm_test.h"
#include "http/json_body.h"

static dm_request req;
static dm_header hdrs[2];

static void setup(void)
{
    memset(&req, 0, sizeof req);
    dm__arena_init(&req.arena);
    dm__buf_init(&req.res.headers, 0);
    dm__buf_init(&req.res.body, 0);
    req.headers = hdrs;
}

static void teardown(void)
{
    json_decref(req.json);
    dm__buf_free(&req.res.headers);
    dm__buf_free(&req.res.body);
    dm__arena_free(&req.arena);
}

static bool parse(const char *ctype, const char *body)
{
    req.n_headers = 0;
    if (ctype != NULL) {
        hdrs[0].name = "content-type";
        hdrs[0].value = ctype;
        req.n_headers = 1;
    }
    req.body = body != NULL ? dm__arena_strdup(&req.arena, body) : NULL;
    req.body_len = body != NULL ? strlen(body) : 0;
    return dm__json_body_parse(&req);
}

/* The error code in the envelope of the response just set. */
static void expect_error(int status, const char *code)
{
    ck_assert_int_eq(req.res.status, status);
    json_t *doc = json_loadb(req.res.body.data, req.res.body.len, 0, NULL);
    ck_assert_msg(doc != NULL, "response body is not JSON: %s", req.res.body.data);
    ck_assert(json_is_false(json_object_get(doc, "success")));
    const char *got = json_string_value(json_object_get(json_object_get(doc, "error"), "code"));
    ck_assert_msg(got != NULL && strcmp(got, code) == 0, "code %s, want %s", got, code);
    json_decref(doc);
}

START_TEST(object_body_is_parsed)
{
    ck_assert(parse("application/json; charset=utf-8", "{\"a\":1}"));
    ck_assert_int_eq(json_integer_value(json_object_get(req.json, "a")), 1);
    ck_assert_int_eq(req.res.status, 0);
}
END_TEST

START_TEST(media_type_is_case_insensitive)
{
    ck_assert(parse("Application/JSON", "{}"));
}
END_TEST

START_TEST(missing_or_wrong_content_type_is_415)
{
    ck_assert(!parse(NULL, "{}"));
    expect_error(415, "UNSUPPORTED_MEDIA_TYPE");
    ck_assert(!parse("text/plain", "{}"));
    expect_error(415, "UNSUPPORTED_MEDIA_TYPE");
    ck_assert(!parse("application/jsonp", "{}"));
    expect_error(415, "UNSUPPORTED_MEDIA_TYPE");
}
END_TEST

START_TEST(empty_body_is_400)
{
    ck_assert(!parse("application/json", NULL));
    expect_error(400, "VALIDATION_ERROR");
}
END_TEST

START_TEST(malformed_json_is_400_with_position)
{
    ck_assert(!parse("application/json", "{\"a\":\n  tru}"));
    expect_error(400, "INVALID_JSON");
    ck_assert_msg(strstr(req.res.body.data, "\"line\":2") != NULL, "details should give the line: %s",
                  req.res.body.data);
}
END_TEST

START_TEST(duplicate_keys_are_400)
{
    ck_assert(!parse("application/json", "{\"role\":\"USER\",\"role\":\"ADMINISTRATOR\"}"));
    expect_error(400, "INVALID_JSON");
}
END_TEST

START_TEST(non_object_is_400)
{
    ck_assert(!parse("application/json", "[1,2]"));
    expect_error(400, "VALIDATION_ERROR");
    json_decref(req.json);
    req.json = NULL;
    ck_assert(!parse("application/json", "\"x\""));
    expect_error(400, "INVALID_JSON"); /* jansson refuses bare scalars without JSON_DECODE_ANY */
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("json_body");
    TCase *tc = tcase_create("json_body");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, object_body_is_parsed);
    tcase_add_test(tc, media_type_is_case_insensitive);
    tcase_add_test(tc, missing_or_wrong_content_type_is_415);
    tcase_add_test(tc, empty_body_is_400);
    tcase_add_test(tc, malformed_json_is_400_with_position);
    tcase_add_test(tc, duplicate_keys_are_400);
    tcase_add_test(tc, non_object_is_400);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
