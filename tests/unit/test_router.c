/*
 * test_router.c — pattern matching, :params, 404 versus 405 with Allow,
 * percent-decoding and the refusals of malformed paths.
 */
#include <string.h>

#include "dm_test.h"
#include <dermaga/error.h>

#include "http/router.h"

static void h_a(dm_request *r) { (void)r; }
static void h_b(dm_request *r) { (void)r; }

static dm_router rt;
static dm_request req;

static void setup(void)
{
    dm__router_init(&rt);
    ck_assert_int_eq(dm__router_add(&rt, "GET", "/healthz", h_a, 0), 0);
    ck_assert_int_eq(dm__router_add(&rt, "GET", "/api/users/:id", h_a, 0), 0);
    ck_assert_int_eq(dm__router_add(&rt, "PUT", "/api/users/:id", h_b, 0), 0);
    ck_assert_int_eq(dm__router_add(&rt, "GET", "/api/users/:id/posts/:post", h_b, 0), 0);
    ck_assert_int_eq(dm__router_add(&rt, "GET", "/static/*", h_b, 0), 0);
    memset(&req, 0, sizeof req);
    dm__arena_init(&req.arena);
}

static void teardown(void)
{
    dm__arena_free(&req.arena);
    dm__router_free(&rt);
}

static dm_match_t match(const char *method, const char *path, char *allow, size_t n)
{
    req.method = method;
    req.path = path;
    req.n_params = 0;
    req.route = NULL;
    return dm__router_match(&rt, &req, allow, n);
}

START_TEST(literal_route_matches)
{
    char allow[64];
    ck_assert_int_eq(match("GET", "/healthz", allow, sizeof allow), DM_MATCH_OK);
    ck_assert_str_eq(req.pattern, "/healthz");
    ck_assert_ptr_eq(req.route->handler, h_a);
}
END_TEST

START_TEST(params_are_captured_and_decoded)
{
    char allow[64];
    ck_assert_int_eq(match("GET", "/api/users/a%20b/posts/42", allow, sizeof allow), DM_MATCH_OK);
    ck_assert_str_eq(req.pattern, "/api/users/:id/posts/:post");
    ck_assert_int_eq(req.n_params, 2);
    ck_assert_str_eq(dm__req_param(&req, "id"), "a b");
    ck_assert_str_eq(dm__req_param(&req, "post"), "42");
    ck_assert_ptr_null(dm__req_param(&req, "nope"));
}
END_TEST

START_TEST(method_picks_the_route)
{
    char allow[64];
    ck_assert_int_eq(match("PUT", "/api/users/7", allow, sizeof allow), DM_MATCH_OK);
    ck_assert_ptr_eq(req.route->handler, h_b);
}
END_TEST

START_TEST(unknown_path_is_not_found)
{
    char allow[64];
    ck_assert_int_eq(match("GET", "/nope", allow, sizeof allow), DM_MATCH_NOT_FOUND);
    ck_assert_int_eq(match("GET", "/api/users", allow, sizeof allow), DM_MATCH_NOT_FOUND);
    ck_assert_int_eq(match("GET", "/api/users/1/extra", allow, sizeof allow), DM_MATCH_NOT_FOUND);
}
END_TEST

START_TEST(wrong_method_lists_allowed)
{
    char allow[64];
    ck_assert_int_eq(match("DELETE", "/api/users/7", allow, sizeof allow), DM_MATCH_METHOD);
    ck_assert_msg(strstr(allow, "GET") != NULL && strstr(allow, "PUT") != NULL,
                  "Allow should list GET and PUT, got \"%s\"", allow);
    ck_assert_int_eq(match("POST", "/healthz", allow, sizeof allow), DM_MATCH_METHOD);
    ck_assert_str_eq(allow, "GET");
}
END_TEST

START_TEST(head_uses_get_route)
{
    char allow[64];
    ck_assert_int_eq(match("HEAD", "/healthz", allow, sizeof allow), DM_MATCH_OK);
}
END_TEST

START_TEST(malformed_paths_do_not_match)
{
    char allow[64];
    ck_assert_int_eq(match("GET", "/api/users/%zz", allow, sizeof allow), DM_MATCH_NOT_FOUND);
    ck_assert_int_eq(match("GET", "/api/users/%00", allow, sizeof allow), DM_MATCH_NOT_FOUND);
    ck_assert_int_eq(match("GET", "/api/users/a%2Fb", allow, sizeof allow), DM_MATCH_NOT_FOUND);
    ck_assert_int_eq(match("GET", "/api//users/1", allow, sizeof allow), DM_MATCH_NOT_FOUND);
    ck_assert_int_eq(match("GET", "/healthz//", allow, sizeof allow), DM_MATCH_NOT_FOUND);
    ck_assert_int_eq(match("GET", "/api/users/%ff", allow, sizeof allow), DM_MATCH_NOT_FOUND); /* not UTF-8 */
    ck_assert_int_eq(match("GET", "healthz", allow, sizeof allow), DM_MATCH_NOT_FOUND);
    ck_assert_int_eq(match("GET", "/api/users/%4", allow, sizeof allow), DM_MATCH_NOT_FOUND);
}
END_TEST

/* Express (the system Dermaga replaces) routes "/x/" like "/x"; clients
 * written against it may send either. */
START_TEST(one_trailing_slash_is_the_same_route)
{
    char allow[64];
    ck_assert_int_eq(match("GET", "/healthz/", allow, sizeof allow), DM_MATCH_OK);
    ck_assert_str_eq(req.pattern, "/healthz");
}
END_TEST

START_TEST(tail_wildcard)
{
    char allow[64];
    ck_assert_int_eq(match("GET", "/static/a/b/c", allow, sizeof allow), DM_MATCH_OK);
    ck_assert_str_eq(req.pattern, "/static/*");
}
END_TEST

START_TEST(bad_patterns_are_refused)
{
    ck_assert_int_eq(dm__router_add(&rt, "GET", "no-slash", h_a, 0), DM_EINVAL);
    ck_assert_int_eq(dm__router_add(&rt, "GET", "/a//b", h_a, 0), DM_EINVAL);
    ck_assert_int_eq(dm__router_add(&rt, "GET", "/a", NULL, 0), DM_EINVAL);
    ck_assert_int_eq(dm__router_add(&rt, "GET", "/a", h_a, DM_ROUTE_AUTH), DM_EINVAL);
    ck_assert_int_eq(dm__router_add(&rt, "GET", "/a", h_a, DM_ROUTE_ADMIN), DM_EINVAL);
    ck_assert_int_eq(dm__router_add(&rt, "GET", "/a", h_a, DM_ROUTE_HASH), DM_EINVAL);
    ck_assert_int_eq(dm__router_add(&rt, "GET", "/a", h_a, DM_ROUTE_POOL | DM_ROUTE_AUTH), 0);
}
END_TEST

START_TEST(query_parameters_are_decoded)
{
    req.query = "search=red+shoes&page=2&empty=&flag";
    ck_assert_str_eq(dm__req_query(&req, "search"), "red shoes");
    ck_assert_str_eq(dm__req_query(&req, "page"), "2");
    ck_assert_str_eq(dm__req_query(&req, "empty"), "");
    ck_assert_str_eq(dm__req_query(&req, "flag"), "");
    ck_assert_ptr_null(dm__req_query(&req, "missing"));
    ck_assert_ptr_null(dm__req_query(&req, "pag"));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("match");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, literal_route_matches);
    tcase_add_test(tc, params_are_captured_and_decoded);
    tcase_add_test(tc, method_picks_the_route);
    tcase_add_test(tc, unknown_path_is_not_found);
    tcase_add_test(tc, wrong_method_lists_allowed);
    tcase_add_test(tc, head_uses_get_route);
    tcase_add_test(tc, malformed_paths_do_not_match);
    tcase_add_test(tc, one_trailing_slash_is_the_same_route);
    tcase_add_test(tc, tail_wildcard);
    tcase_add_test(tc, bad_patterns_are_refused);
    tcase_add_test(tc, query_parameters_are_decoded);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
