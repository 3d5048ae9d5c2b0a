/*
 * test_admin_users.c — the bootstrap administrator and the admin routes
 * through the real binary: 401 without a token and 403 for a USER on every
 * admin route, listing and search, updates with the last-administrator
 * guard, deactivation ending the user's sessions at once, and the audit rows
 * those changes leave.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"
#include "e2e.h"
#include "e2e_auth.h"
#include "testdb.h"

#define ADMIN_EMAIL "root@example.id"
#define ADMIN_PASS "admin-pass-123"

static char *url;
static dm_e2e_server srv;

static void setup(void)
{
    url = dm_test_db_create_migrated("admin_e2e");
    json_t *o = json_pack("{s:{s:s},s:{s:s,s:s}}", "database", "url", url, "auth", "adminEmail",
                          ADMIN_EMAIL, "adminPassword", ADMIN_PASS);
    dm_e2e_server_start(&srv, o);
}

static void teardown(void)
{
    dm_e2e_server_finish(&srv);
    dm_e2e_server_free(&srv);
    dm_test_db_drop(url);
    free(url);
}

/* One request; returns the status and (when json_out) the parsed body. */
static int call(const char *method, const char *path, const char *token, const char *body, json_t **json_out)
{
    return dm_e2e_call_port(srv.port, method, path, token, body, json_out);
}

/* Log in (or register first) and return a new access token; *id gets the user id. */
static char *session(const char *email, const char *password, bool do_register, char id[37])
{
    return dm_e2e_session_port(srv.port, email, password, do_register, id);
}

START_TEST(bootstrap_admin_logs_in_as_administrator)
{
    char *tok = session(ADMIN_EMAIL, ADMIN_PASS, false, NULL);
    json_t *doc = NULL;
    ck_assert_int_eq(call("GET", "/api/auth/me", tok, NULL, &doc), 200);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "data"), "role")), "ADMINISTRATOR");
    json_decref(doc);
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM audit_log WHERE action = 'user.bootstrap_create'");
    free(tok);
}
END_TEST

START_TEST(user_gets_403_and_anonymous_401_on_every_admin_route)
{
    char uid[37];
    char *tok = session("user@example.id", "user-pass-123", true, uid);
    char path[128];
    snprintf(path, sizeof path, "/api/admin/users/%s", uid);
    struct { const char *method, *path, *body; } routes[] = {
        { "GET", "/api/admin/users", NULL },
        { "GET", path, NULL },
        { "PUT", path, "{\"role\":\"ADMINISTRATOR\"}" },
        { "GET", "/api/admin/audit", NULL },
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        json_t *doc = NULL;
        int st = call(routes[i].method, routes[i].path, tok, routes[i].body, &doc);
        ck_assert_msg(st == 403, "%s %s as USER: %d", routes[i].method, routes[i].path, st);
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "error"), "code")), "FORBIDDEN");
        json_decref(doc);
        st = call(routes[i].method, routes[i].path, NULL, routes[i].body, NULL);
        ck_assert_msg(st == 401, "%s %s without a token: %d", routes[i].method, routes[i].path, st);
    }
    DM_EXPECT_SQL(url, "USER", "SELECT role FROM users WHERE id = '%s'", uid);
    free(tok);
}
END_TEST

START_TEST(admin_lists_searches_and_reads_users)
{
    free(session("ani@example.id", "user-pass-123", true, NULL));
    free(session("budi@sample.id", "user-pass-123", true, NULL));
    char *tok = session(ADMIN_EMAIL, ADMIN_PASS, false, NULL);
    json_t *doc = NULL;
    ck_assert_int_eq(call("GET", "/api/admin/users?search=SAMPLE&page=1&limit=10", tok, NULL, &doc), 200);
    json_t *items = json_object_get(doc, "data");
    ck_assert_int_eq(json_array_size(items), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "email")), "budi@sample.id");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(doc, "pagination"), "total")), 1);
    json_decref(doc);
    ck_assert_int_eq(call("GET", "/api/admin/users?limit=101", tok, NULL, NULL), 400);
    ck_assert_int_eq(call("GET", "/api/admin/users?page=0", tok, NULL, NULL), 400);
    ck_assert_int_eq(call("GET", "/api/admin/users/6f1c2a7e-3b0d-4c8e-9a51-2d4e6f8a0b1c", tok, NULL, NULL), 404);
    ck_assert_int_eq(call("GET", "/api/admin/users/not-a-uuid", tok, NULL, NULL), 404);
    free(tok);
}
END_TEST

START_TEST(last_administrator_cannot_be_demoted_or_deactivated)
{
    char aid[37];
    char *tok = session(ADMIN_EMAIL, ADMIN_PASS, false, aid);
    char path[128];
    snprintf(path, sizeof path, "/api/admin/users/%s", aid);
    json_t *doc = NULL;
    ck_assert_int_eq(call("PUT", path, tok, "{\"role\":\"USER\",\"reason\":\"test\"}", &doc), 409);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "error"), "code")), "LAST_ADMINISTRATOR");
    json_decref(doc);
    ck_assert_int_eq(call("PUT", path, tok, "{\"isActive\":false}", NULL), 409);
    ck_assert_int_eq(call("PUT", path, tok, "{\"creditBalance\":100}", NULL), 400);
    ck_assert_int_eq(call("PUT", path, tok, "{\"role\":\"ROOT\"}", NULL), 400);
    ck_assert_int_eq(call("PUT", path, tok, "{}", NULL), 400);
    DM_EXPECT_SQL(url, "ADMINISTRATOR true", "SELECT role || ' ' || is_active FROM users WHERE id = '%s'", aid);
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM audit_log WHERE action = 'user.update'");
    free(tok);
}
END_TEST

START_TEST(deactivation_ends_sessions_at_once_and_is_audited)
{
    char uid[37];
    char *user_tok = session("user@example.id", "user-pass-123", true, uid);
    ck_assert_int_eq(call("GET", "/api/auth/me", user_tok, NULL, NULL), 200);
    char *tok = session(ADMIN_EMAIL, ADMIN_PASS, false, NULL);
    char path[128];
    snprintf(path, sizeof path, "/api/admin/users/%s", uid);
    json_t *doc = NULL;
    ck_assert_int_eq(call("PUT", path, tok, "{\"isActive\":false,\"reason\":\"abuse report #7\"}", &doc), 200);
    ck_assert(json_is_false(json_object_get(json_object_get(doc, "data"), "isActive")));
    json_decref(doc);
    ck_assert_int_eq(call("GET", "/api/auth/me", user_tok, NULL, NULL), 401);
    ck_assert_int_eq(call("POST", "/api/auth/login", NULL,
                          "{\"email\":\"user@example.id\",\"password\":\"user-pass-123\"}", NULL), 401);
    char q[160];
    snprintf(q, sizeof q, "/api/admin/audit?targetType=user&targetId=%s", uid);
    ck_assert_int_eq(call("GET", q, tok, NULL, &doc), 200);
    json_t *row = json_array_get(json_object_get(doc, "data"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(row, "action")), "user.update");
    ck_assert_str_eq(json_string_value(json_object_get(row, "reason")), "abuse report #7");
    ck_assert(json_is_true(json_object_get(json_object_get(row, "before"), "isActive")));
    ck_assert(json_is_false(json_object_get(json_object_get(row, "after"), "isActive")));
    ck_assert_str_eq(json_string_value(json_object_get(row, "ip")), "127.0.0.1");
    json_decref(doc);
    /* Reactivated, the user can sign in again; the old session stays dead. */
    ck_assert_int_eq(call("PUT", path, tok, "{\"isActive\":true}", NULL), 200);
    ck_assert_int_eq(call("GET", "/api/auth/me", user_tok, NULL, NULL), 401);
    free(session("user@example.id", "user-pass-123", false, NULL));
    free(user_tok);
    free(tok);
}
END_TEST

/* Roles are read from the database on every request, not trusted from the
 * token: a promotion or demotion acts on the user's current token at once. */
START_TEST(role_changes_act_on_existing_tokens)
{
    char uid[37];
    char *user_tok = session("user@example.id", "user-pass-123", true, uid);
    char *tok = session(ADMIN_EMAIL, ADMIN_PASS, false, NULL);
    char path[128];
    snprintf(path, sizeof path, "/api/admin/users/%s", uid);
    ck_assert_int_eq(call("GET", "/api/admin/users", user_tok, NULL, NULL), 403);
    ck_assert_int_eq(call("PUT", path, tok, "{\"role\":\"ADMINISTRATOR\"}", NULL), 200);
    ck_assert_int_eq(call("GET", "/api/admin/users", user_tok, NULL, NULL), 200);
    ck_assert_int_eq(call("PUT", path, tok, "{\"role\":\"USER\"}", NULL), 200);
    ck_assert_int_eq(call("GET", "/api/admin/users", user_tok, NULL, NULL), 403);
    free(user_tok);
    free(tok);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("admin_users");
    TCase *tc = tcase_create("admin");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, bootstrap_admin_logs_in_as_administrator);
    tcase_add_test(tc, user_gets_403_and_anonymous_401_on_every_admin_route);
    tcase_add_test(tc, admin_lists_searches_and_reads_users);
    tcase_add_test(tc, last_administrator_cannot_be_demoted_or_deactivated);
    tcase_add_test(tc, deactivation_ends_sessions_at_once_and_is_audited);
    tcase_add_test(tc, role_changes_act_on_existing_tokens);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
