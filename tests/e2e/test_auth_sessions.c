/*
 * test_auth_sessions.c — /api/auth sessions end to end against the real
 * binary with the auth-local plugin and a fresh migrated database per test:
 * refresh-token rotation, reuse revoking the family, concurrent refreshes
 * of one token and registrations of one email, logout, password change
 * revoking the other sessions, and login throttling per account (however
 * the email is spelled) and per client address.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dm_test.h"
#include "e2e.h"
#include "e2e_auth.h"
#include "testdb.h"

#define PASSWORD "correct horse battery"
#define NEW_PW   "staple battery horse 2"
#define TOK_MAX  4096

#define srv dm_e2e_auth_srv
#define db_url dm_e2e_auth_db_url

static void sweep_setup(void) { dm_e2e_auth_sweep_setup("authsess"); }
static void sweep_teardown(void) { dm_e2e_auth_sweep_teardown(); }
static void setup(void) { dm_e2e_auth_setup(); }
static void teardown(void) { dm_e2e_auth_teardown(); }


#define ok_data dm_e2e_auth_ok_data
#define call dm_e2e_auth_call_json
#define expect_error dm_e2e_auth_expect_error


/* ---- sessions --------------------------------------------------------- */

typedef struct session {
    char id[64];
    char access[TOK_MAX];
    char refresh[512];
} session;

/* Fill s from {user, accessToken, refreshToken, expiresIn:900}. */
static void take_session(json_t *data, session *s, const char *what)
{
    const char *id = json_string_value(json_object_get(json_object_get(data, "user"), "id"));
    const char *a = json_string_value(json_object_get(data, "accessToken"));
    const char *r = json_string_value(json_object_get(data, "refreshToken"));
    json_t *exp = json_object_get(data, "expiresIn");
    ck_assert_msg(id != NULL && strlen(id) < sizeof s->id, "%s: no user.id", what);
    ck_assert_msg(a != NULL && a[0] != '\0' && strlen(a) < sizeof s->access,
                  "%s: no accessToken", what);
    ck_assert_msg(r != NULL && r[0] != '\0' && strlen(r) < sizeof s->refresh,
                  "%s: no refreshToken", what);
    ck_assert_msg(json_is_integer(exp) && json_integer_value(exp) == 900,
                  "%s: expiresIn is not 900", what);
    snprintf(s->id, sizeof s->id, "%s", id);
    snprintf(s->access, sizeof s->access, "%s", a);
    snprintf(s->refresh, sizeof s->refresh, "%s", r);
}

static void register_user(const char *email, session *s)
{
    dm_e2e_response res;
    call("POST", "/api/auth/register", NULL,
         json_pack("{s:s,s:s,s:s}", "email", email, "password", PASSWORD, "name", "Tester"), &res);
    json_t *data = ok_data(&res, 201, "register");
    take_session(data, s, "register");
    json_decref(data);
    dm_e2e_response_free(&res);
}

static void login_res(const char *email, const char *password, dm_e2e_response *res)
{
    call("POST", "/api/auth/login", NULL,
         json_pack("{s:s,s:s}", "email", email, "password", password), res);
}

static void login_ok(const char *email, const char *password, session *s, const char *what)
{
    dm_e2e_response res;
    login_res(email, password, &res);
    json_t *data = ok_data(&res, 200, what);
    take_session(data, s, what);
    json_decref(data);
    dm_e2e_response_free(&res);
}

static void refresh_res(const char *token, dm_e2e_response *res)
{
    call("POST", "/api/auth/refresh", NULL, json_pack("{s:s}", "refreshToken", token), res);
}

/* POST /refresh must succeed; the new pair goes to out (may alias). */
static void refresh_ok(const char *token, session *out, const char *what)
{
    dm_e2e_response res;
    refresh_res(token, &res);
    json_t *data = ok_data(&res, 200, what);
    take_session(data, out, what);
    json_decref(data);
    dm_e2e_response_free(&res);
}

static void refresh_refused(const char *token, const char *what)
{
    dm_e2e_response res;
    refresh_res(token, &res);
    expect_error(&res, 401, "INVALID_REFRESH_TOKEN", what);
    dm_e2e_response_free(&res);
}

/* GET /me with token must answer status (200, or 401 UNAUTHORIZED). */
static void expect_me(const char *token, int status, const char *what)
{
    dm_e2e_response res;
    call("GET", "/api/auth/me", token, NULL, &res);
    if (status == 200)
        json_decref(ok_data(&res, 200, what));
    else
        expect_error(&res, status, "UNAUTHORIZED", what);
    dm_e2e_response_free(&res);
}

static void logout_204(const char *token, const char *what)
{
    dm_e2e_response res;
    call("POST", "/api/auth/logout", NULL, json_pack("{s:s}", "refreshToken", token), &res);
    ck_assert_msg(res.status == 204, "%s: status %d, expected 204: %s", what, res.status,
                  res.body);
    ck_assert_msg(res.body_len == 0, "%s: a 204 with a body: %s", what, res.body);
    dm_e2e_response_free(&res);
}

static void change_password(const char *token, const char *current, const char *next,
                            dm_e2e_response *res)
{
    call("PUT", "/api/auth/password", token,
         json_pack("{s:s,s:s}", "currentPassword", current, "newPassword", next), res);
}

/* ---- refresh ---------------------------------------------------------- */

START_TEST(refresh_rotates_tokens)
{
    session s, next;
    register_user("rot@example.id", &s);
    refresh_ok(s.refresh, &next, "first refresh");
    ck_assert_msg(strcmp(next.id, s.id) == 0, "refresh answered for user %s, not %s", next.id,
                  s.id);
    ck_assert_msg(strcmp(next.refresh, s.refresh) != 0, "refresh handed back the same token");
    expect_me(next.access, 200, "GET /me with the rotated access token");
    session third;
    refresh_ok(next.refresh, &third, "refreshing the rotated token");
    expect_me(third.access, 200, "GET /me after a second rotation");
}
END_TEST

START_TEST(refresh_spent_token_revokes_family)
{
    session other, s, next;
    register_user("reuse@example.id", &other); /* a family of its own */
    login_ok("reuse@example.id", PASSWORD, &s, "login");
    refresh_ok(s.refresh, &next, "refresh");
    refresh_refused(s.refresh, "presenting the spent refresh token");
    refresh_refused(next.refresh, "the newer token after reuse was detected");
    expect_me(next.access, 401, "GET /me with the family's newest access token after reuse");
    expect_me(s.access, 401, "GET /me with the family's first access token after reuse");
    expect_me(other.access, 200, "GET /me with another family's access token");
    refresh_ok(other.refresh, &other, "refreshing another family");
}
END_TEST

START_TEST(refresh_garbage_token_is_401)
{
    session s;
    register_user("garbage@example.id", &s);
    char flipped[512];
    snprintf(flipped, sizeof flipped, "%s", s.refresh);
    size_t n = strlen(flipped);
    flipped[n - 1] = flipped[n - 1] == 'A' ? 'B' : 'A';
    const char *const bad[] = { "garbage", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                flipped };
    const char *const what[] = { "refresh with \"garbage\"", "refresh with an unknown token",
                                 "refresh with the real token's last character changed" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        refresh_refused(bad[i], what[i]);
    refresh_ok(s.refresh, &s, "the real token after the failed attempts");
}
END_TEST

START_TEST(refresh_access_token_is_401)
{
    /* An access token is garbage to /refresh, whatever its length. */
    session s;
    register_user("wrongkind@example.id", &s);
    refresh_refused(s.access, "refresh with the access token");
    char *long_garbage = dm_e2e_filler(1000, 'g');
    refresh_refused(long_garbage, "refresh with 1000 bytes of garbage");
    free(long_garbage);
}
END_TEST

START_TEST(refresh_expired_token_is_401)
{
    session s;
    register_user("expired@example.id", &s);
    char *n = dm_test_db_scalar(db_url, "UPDATE refresh_tokens SET created_at = now() - "
                                        "interval '2 hours', expires_at = now() - interval "
                                        "'1 hour' RETURNING 1");
    ck_assert_msg(n != NULL, "the test could not age the refresh token");
    free(n);
    refresh_refused(s.refresh, "refresh with a token that expired an hour ago");
}
END_TEST

/* Send one request on n connections at once: each gets all but its last
 * byte first, then the last bytes go out back to back, so the server has
 * all n complete at the same moment. Each answer must be 200/201 (counted
 * and returned) or `status` with `code`. */
#define RACE_MAX 4
static int race(const char *path, const char *body, int n, int status, const char *code,
                const char *what)
{
    char *req = dm_e2e_auth_request("POST", path, NULL, body);
    size_t len = strlen(req);
    dm_e2e_conn c[RACE_MAX];
    ck_assert_msg(n <= RACE_MAX, "race: at most %d connections", RACE_MAX);
    for (int i = 0; i < n; i++) {
        dm_e2e_connect_ok(&c[i], srv.port);
        ck_assert_msg(dm_e2e_send(&c[i], req, len - 1) == 0, "%s: send failed", what);
    }
    for (int i = 0; i < n; i++)
        ck_assert_msg(dm_e2e_send(&c[i], req + len - 1, 1) == 0, "%s: send failed", what);
    int wins = 0;
    for (int i = 0; i < n; i++) {
        dm_e2e_response res;
        char w[128];
        snprintf(w, sizeof w, "%s, connection %d", what, i + 1);
        dm_e2e_read_ok(&c[i], &res, false, w);
        if (res.status == 200 || res.status == 201)
            wins++;
        else
            expect_error(&res, status, code, w);
        dm_e2e_response_free(&res);
        dm_e2e_close(&c[i]);
    }
    free(req);
    return wins;
}

static void race_once(int round)
{
    char email[64], body[600], what[64];
    snprintf(email, sizeof email, "race%d@example.id", round);
    session s;
    register_user(email, &s);
    snprintf(body, sizeof body, "{\"refreshToken\":\"%s\"}", s.refresh);
    snprintf(what, sizeof what, "refresh race, round %d", round);
    int wins = race("/api/auth/refresh", body, 2, 401, "INVALID_REFRESH_TOKEN", what);
    ck_assert_msg(wins == 1, "round %d: %d of two concurrent refreshes of one token succeeded",
                  round, wins);
}

START_TEST(refresh_concurrent_only_one_wins)
{
    for (int round = 0; round < 5; round++)
        race_once(round);
}
END_TEST

START_TEST(register_concurrent_same_email)
{
    for (int round = 0; round < 3; round++) {
        char body[160], what[64];
        snprintf(body, sizeof body,
                 "{\"email\":\"same%d@example.id\",\"password\":\"" PASSWORD "\",\"name\":\"S\"}",
                 round);
        snprintf(what, sizeof what, "register race, round %d", round);
        int wins = race("/api/auth/register", body, 3, 409, "EMAIL_TAKEN", what);
        ck_assert_msg(wins == 1, "round %d: %d of three concurrent registrations of one email "
                                 "succeeded", round, wins);
    }
    DM_EXPECT_SQL(db_url, "3", "SELECT count(*) FROM users");
}
END_TEST

/* ---- logout ----------------------------------------------------------- */

START_TEST(logout_ends_only_that_session)
{
    session s, other;
    register_user("bye@example.id", &s);
    login_ok("bye@example.id", PASSWORD, &other, "second login");
    logout_204(s.refresh, "logout");
    refresh_refused(s.refresh, "refresh with the logged-out token");
    expect_me(s.access, 401, "GET /me with the logged-out session's access token");
    expect_me(other.access, 200, "GET /me with the other session's access token");
    refresh_ok(other.refresh, &other, "refresh of the other session");
}
END_TEST

START_TEST(logout_is_idempotent)
{
    session s;
    register_user("twice@example.id", &s);
    logout_204(s.refresh, "first logout");
    logout_204(s.refresh, "second logout of the same token");
    refresh_refused(s.refresh, "refresh after two logouts");
}
END_TEST

/* ---- password change -------------------------------------------------- */

START_TEST(password_change_swaps_passwords)
{
    session s, fresh;
    register_user("pw@example.id", &s);
    dm_e2e_response res;
    change_password(s.access, PASSWORD, NEW_PW, &res);
    ck_assert_msg(res.status == 204, "PUT /password: status %d, expected 204: %s", res.status,
                  res.body);
    dm_e2e_response_free(&res);
    login_res("pw@example.id", PASSWORD, &res);
    expect_error(&res, 401, "INVALID_CREDENTIALS", "login with the old password");
    dm_e2e_response_free(&res);
    login_ok("pw@example.id", NEW_PW, &fresh, "login with the new password");
    expect_me(fresh.access, 200, "GET /me after logging in with the new password");
}
END_TEST

START_TEST(password_change_revokes_other_sessions)
{
    session maker, other;
    register_user("others@example.id", &maker);
    login_ok("others@example.id", PASSWORD, &other, "second login");
    dm_e2e_response res;
    change_password(maker.access, PASSWORD, NEW_PW, &res);
    ck_assert_msg(res.status == 204, "PUT /password: status %d, expected 204: %s", res.status,
                  res.body);
    dm_e2e_response_free(&res);
    expect_me(other.access, 401, "GET /me with another session's access token");
    refresh_refused(other.refresh, "refresh of another session");
    expect_me(maker.access, 200, "GET /me with the changing session's access token");
    refresh_ok(maker.refresh, &maker, "refresh of the changing session");
    expect_me(maker.access, 200, "GET /me with the changing session's rotated access token");
}
END_TEST

START_TEST(password_change_wrong_current_is_401)
{
    session s, other;
    register_user("wrongcur@example.id", &s);
    login_ok("wrongcur@example.id", PASSWORD, &other, "second login");
    dm_e2e_response res;
    change_password(s.access, "not the password", NEW_PW, &res);
    expect_error(&res, 401, "INVALID_CREDENTIALS", "PUT /password with a wrong currentPassword");
    dm_e2e_response_free(&res);
    login_ok("wrongcur@example.id", PASSWORD, &s, "login with the unchanged password");
    expect_me(other.access, 200, "the other session after a refused change");
}
END_TEST

START_TEST(password_change_bad_new_is_400)
{
    session s;
    register_user("short@example.id", &s);
    dm_e2e_response res;
    change_password(s.access, PASSWORD, "seven77", &res);
    expect_error(&res, 400, "VALIDATION_ERROR", "PUT /password with a 7-character newPassword");
    dm_e2e_response_free(&res);
    char *long_pw = dm_e2e_filler(129, 'x');
    change_password(s.access, PASSWORD, long_pw, &res);
    free(long_pw);
    expect_error(&res, 400, "VALIDATION_ERROR", "PUT /password with a 129-character newPassword");
    dm_e2e_response_free(&res);
    login_ok("short@example.id", PASSWORD, &s, "login with the unchanged password");
}
END_TEST

START_TEST(password_change_needs_token)
{
    session s;
    register_user("notoken@example.id", &s);
    dm_e2e_response res;
    change_password(NULL, PASSWORD, NEW_PW, &res);
    expect_error(&res, 401, "UNAUTHORIZED", "PUT /password without a token");
    dm_e2e_response_free(&res);
    login_ok("notoken@example.id", PASSWORD, &s, "login with the unchanged password");
}
END_TEST

/* ---- throttling ------------------------------------------------------- */

/* 429 TOO_MANY_ATTEMPTS with Retry-After: integer seconds in 1..900. */
static void expect_throttled(const dm_e2e_response *res, const char *what)
{
    expect_error(res, 429, "TOO_MANY_ATTEMPTS", what);
    const char *ra = dm_e2e_header(res, "Retry-After");
    char *end = NULL;
    long v = ra != NULL ? strtol(ra, &end, 10) : 0;
    ck_assert_msg(ra != NULL && end != ra && *end == '\0' && v > 0 && v <= 900,
                  "%s: Retry-After is %s, expected integer seconds in 1..900", what,
                  ra ? ra : "(none)");
}

START_TEST(login_throttled_per_account)
{
    session s;
    register_user("victim@example.id", &s);
    register_user("bystander@example.id", &s);
    for (int i = 1; i <= 10; i++) {
        dm_e2e_response res;
        char what[64];
        snprintf(what, sizeof what, "failed login %d of 10", i);
        login_res("victim@example.id", "wrong password", &res);
        expect_error(&res, 401, "INVALID_CREDENTIALS", what);
        dm_e2e_response_free(&res);
    }
    dm_e2e_response res;
    login_res("victim@example.id", PASSWORD, &res);
    expect_throttled(&res, "login with the right password after 10 failures");
    dm_e2e_response_free(&res);
    login_ok("bystander@example.id", PASSWORD, &s, "another account from the same address");
}
END_TEST

START_TEST(login_throttle_counts_normalised_email)
{
    /* Varying case and spaces must not give an attacker fresh counters. */
    session s;
    register_user("variant@example.id", &s);
    static const char *const forms[] = { "variant@example.id", "VARIANT@EXAMPLE.ID",
                                         " Variant@Example.Id " };
    for (int i = 0; i < 10; i++) {
        dm_e2e_response res;
        char what[96];
        snprintf(what, sizeof what, "failed login %d of 10 as \"%s\"", i + 1, forms[i % 3]);
        login_res(forms[i % 3], "wrong password", &res);
        expect_error(&res, 401, "INVALID_CREDENTIALS", what);
        dm_e2e_response_free(&res);
    }
    dm_e2e_response res;
    login_res("variant@example.id", PASSWORD, &res);
    expect_throttled(&res, "right password after 10 failures under three spellings");
    dm_e2e_response_free(&res);
}
END_TEST

START_TEST(login_throttled_per_address)
{
    session s;
    register_user("target@example.id", &s);
    for (int i = 1; i <= 30; i++) {
        dm_e2e_response res;
        char what[64], email[64];
        snprintf(what, sizeof what, "failed login %d of 30", i);
        snprintf(email, sizeof email, "ghost%d@example.id", i);
        login_res(email, PASSWORD, &res);
        expect_error(&res, 401, "INVALID_CREDENTIALS", what);
        dm_e2e_response_free(&res);
    }
    dm_e2e_response res;
    login_res("target@example.id", PASSWORD, &res);
    expect_throttled(&res, "a good login from an address with 30 failures");
    dm_e2e_response_free(&res);
}
END_TEST

/* ---- suite ------------------------------------------------------------ */

static Suite *make_suite(void)
{
    Suite *s = suite_create("e2e_auth_sessions");
    TCase *refresh = tcase_create("refresh");
    tcase_add_unchecked_fixture(refresh, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(refresh, setup, teardown);
    tcase_set_timeout(refresh, 90);
    tcase_add_test(refresh, refresh_rotates_tokens);
    tcase_add_test(refresh, refresh_spent_token_revokes_family);
    tcase_add_test(refresh, refresh_garbage_token_is_401);
    tcase_add_test(refresh, refresh_access_token_is_401);
    tcase_add_test(refresh, refresh_expired_token_is_401);
    tcase_add_test(refresh, refresh_concurrent_only_one_wins);
    tcase_add_test(refresh, register_concurrent_same_email);
    suite_add_tcase(s, refresh);

    TCase *logout = tcase_create("logout");
    tcase_add_unchecked_fixture(logout, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(logout, setup, teardown);
    tcase_set_timeout(logout, 60);
    tcase_add_test(logout, logout_ends_only_that_session);
    tcase_add_test(logout, logout_is_idempotent);
    suite_add_tcase(s, logout);

    TCase *pw = tcase_create("password");
    tcase_add_unchecked_fixture(pw, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(pw, setup, teardown);
    tcase_set_timeout(pw, 60);
    tcase_add_test(pw, password_change_swaps_passwords);
    tcase_add_test(pw, password_change_revokes_other_sessions);
    tcase_add_test(pw, password_change_wrong_current_is_401);
    tcase_add_test(pw, password_change_bad_new_is_400);
    tcase_add_test(pw, password_change_needs_token);
    suite_add_tcase(s, pw);

    TCase *thr = tcase_create("throttle");
    tcase_add_unchecked_fixture(thr, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(thr, setup, teardown);
    tcase_set_timeout(thr, 180);
    tcase_add_test(thr, login_throttled_per_account);
    tcase_add_test(thr, login_throttle_counts_normalised_email);
    tcase_add_test(thr, login_throttled_per_address);
    suite_add_tcase(s, thr);
    return s;
}

DM_TEST_MAIN(make_suite)
