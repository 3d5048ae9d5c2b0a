/*
 * test_trusted_proxies.c — server.trustedProxies end to end: behind a
 * trusted proxy (the test itself on 127.0.0.1) the login throttle, the
 * access log, sessions and audit rows follow X-Forwarded-For, so one
 * client's failures lock that client out and not everyone; with the
 * default (trust nobody) the header changes nothing and a failure storm
 * under varying forged addresses is still one client.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"
#include "e2e.h"
#include "e2e_auth.h"
#include "testdb.h"

#define srv dm_e2e_auth_srv
#define db_url dm_e2e_auth_db_url
#define T_MS 10000

#define ADMIN_EMAIL "root@example.id"
#define ADMIN_PASS "admin-pass-123"

static void sweep_setup(void) { dm_e2e_auth_sweep_setup("proxies"); }
static void sweep_teardown(void) { dm_e2e_auth_sweep_teardown(); }

static json_t *with_admin(json_t *server)
{
    json_t *o = json_pack("{s:{s:s,s:s}}", "auth", "adminEmail", ADMIN_EMAIL, "adminPassword", ADMIN_PASS);
    if (server != NULL)
        json_object_set_new(o, "server", server);
    return o;
}

static void setup_trusted(void) { dm_e2e_auth_setup_with(with_admin(json_pack("{s:[s]}", "trustedProxies", "127.0.0.1/32"))); }
static void setup_default(void) { dm_e2e_auth_setup_with(with_admin(NULL)); }
static void teardown(void) { dm_e2e_auth_teardown(); }

/* One request with X-Forwarded-For: xff (NULL for none) and X-Request-Id:
 * rid (NULL for none); token and body may be NULL. */
static void call_via(const char *xff, const char *rid, const char *method, const char *path, const char *token,
                     const char *body, dm_e2e_response *res)
{
    char req[2048];
    size_t n = (size_t)snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: t\r\n", method, path);
    if (xff != NULL)
        n += (size_t)snprintf(req + n, sizeof req - n, "X-Forwarded-For: %s\r\n", xff);
    if (rid != NULL)
        n += (size_t)snprintf(req + n, sizeof req - n, "X-Request-Id: %s\r\n", rid);
    if (token != NULL)
        n += (size_t)snprintf(req + n, sizeof req - n, "Authorization: Bearer %s\r\n", token);
    if (body != NULL)
        n += (size_t)snprintf(req + n, sizeof req - n, "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                              strlen(body));
    n += (size_t)snprintf(req + n, sizeof req - n, "\r\n%s", body != NULL ? body : "");
    ck_assert_msg(n < sizeof req, "request too long");
    dm_e2e_roundtrip_ok(srv.port, req, res);
}

static void login_via(const char *xff, const char *rid, const char *email, const char *password, dm_e2e_response *res)
{
    char body[256];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
    call_via(xff, rid, "POST", "/api/auth/login", NULL, body, res);
}

/* The access token of a good login from xff. New string. */
static char *login_ok_via(const char *xff, const char *email, const char *password, const char *what)
{
    dm_e2e_response res;
    login_via(xff, NULL, email, password, &res);
    json_t *data = dm_e2e_auth_ok_data(&res, 200, what);
    dm_e2e_response_free(&res);
    char *tok = strdup(json_string_value(json_object_get(data, "accessToken")));
    json_decref(data);
    ck_assert_msg(tok != NULL, "%s: no token", what);
    return tok;
}

/* 30 failed logins (unknown accounts, so only the address counts) with
 * X-Forwarded-For: xff, or (xff NULL) a different address every time. */
static void fail_30(const char *xff_fixed)
{
    for (int i = 1; i <= 30; i++) {
        dm_e2e_response res;
        char what[64], email[64], xff[64];
        snprintf(what, sizeof what, "failed login %d of 30", i);
        snprintf(email, sizeof email, "ghost%d@example.id", i);
        if (xff_fixed != NULL)
            snprintf(xff, sizeof xff, "%s", xff_fixed);
        else
            snprintf(xff, sizeof xff, "10.0.%d.1", i);
        login_via(xff, NULL, email, DM_E2E_AUTH_PASSWORD, &res);
        dm_e2e_auth_expect_error(&res, 401, "INVALID_CREDENTIALS", what);
        dm_e2e_response_free(&res);
    }
}

static void expect_throttled(const dm_e2e_response *res, const char *what)
{
    dm_e2e_auth_expect_error(res, 429, "TOO_MANY_ATTEMPTS", what);
    ck_assert_msg(dm_e2e_header(res, "Retry-After") != NULL, "%s: no Retry-After", what);
}

/* The "client" of the access-log line of request rid. */
static void expect_logged_client(const char *rid, const char *want)
{
    char needle[128];
    snprintf(needle, sizeof needle, "\"requestId\":\"%s\"", rid);
    ck_assert_msg(dm_e2e_server_wait_log(&srv, needle, T_MS), "no access-log line for %s", rid);
    char *log = dm_e2e_server_log(&srv);
    const char *client = NULL;
    json_t *line = NULL;
    for (char *save = NULL, *l = strtok_r(log, "\n", &save); l != NULL && client == NULL;
         l = strtok_r(NULL, "\n", &save)) {
        if (strstr(l, needle) == NULL)
            continue;
        line = json_loads(l, 0, NULL);
        client = json_string_value(json_object_get(line, "client"));
    }
    ck_assert_msg(client != NULL && strcmp(client, want) == 0, "access log of %s: client %s, expected %s", rid,
                  client != NULL ? client : "(none)", want);
    json_decref(line);
    free(log);
}

/* An audited change by the administrator, sent with xff; the ip of its row. */
static char *audited_change_ip(const char *xff)
{
    char uid[37];
    free(dm_e2e_auth_register("subject@example.id", uid));
    char *tok = login_ok_via(xff, ADMIN_EMAIL, ADMIN_PASS, "administrator login");
    char path[128];
    snprintf(path, sizeof path, "/api/admin/users/%s", uid);
    dm_e2e_response res;
    call_via(xff, NULL, "PUT", path, tok, "{\"isActive\":false,\"reason\":\"proxy test\"}", &res);
    ck_assert_msg(res.status == 200, "deactivate: %d %s", res.status, res.body);
    dm_e2e_response_free(&res);
    free(tok);
    return dm_test_db_scalarf(db_url, "SELECT host(ip) FROM audit_log WHERE action = 'user.update' AND target_id = '%s'",
                              uid);
}

/* ---- behind a trusted proxy ---------------------------------------------- */

START_TEST(forwarded_client_is_throttled_alone)
{
    free(dm_e2e_auth_register("target@example.id", NULL));
    fail_30("203.0.113.7");
    dm_e2e_response res;
    login_via("203.0.113.7", "xff-locked", "target@example.id", DM_E2E_AUTH_PASSWORD, &res);
    expect_throttled(&res, "a good login from the client with 30 failures");
    dm_e2e_response_free(&res);
    expect_logged_client("xff-locked", "203.0.113.7");
    /* Everyone else behind the same proxy, the administrator included. */
    free(login_ok_via("198.51.100.9", "target@example.id", DM_E2E_AUTH_PASSWORD, "another client, same proxy"));
    free(login_ok_via("198.51.100.9", ADMIN_EMAIL, ADMIN_PASS, "the administrator, same proxy"));
    free(login_ok_via(NULL, "target@example.id", DM_E2E_AUTH_PASSWORD, "the proxy itself"));
    DM_EXPECT_SQL(db_url, "30", "SELECT count(*) FROM auth_failures WHERE scope = 'ip' AND key = '203.0.113.7'");
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM auth_failures WHERE scope = 'ip' AND key = '127.0.0.1'");
}
END_TEST

START_TEST(client_walks_past_trusted_hops_only)
{
    /* The client prepends a forged address; the proxy appends the real one. */
    dm_e2e_response res;
    login_via("198.51.100.9, 203.0.113.7", "xff-forged", "nobody@example.id", "x-wrong-pw", &res);
    dm_e2e_auth_expect_error(&res, 401, "INVALID_CREDENTIALS", "failed login with a forged hop");
    dm_e2e_response_free(&res);
    expect_logged_client("xff-forged", "203.0.113.7");
    /* Garbage the proxy passed on is not believed: the proxy is the client. */
    login_via("not-an-address", "xff-garbage", "nobody@example.id", "x-wrong-pw", &res);
    dm_e2e_response_free(&res);
    expect_logged_client("xff-garbage", "127.0.0.1");
}
END_TEST

START_TEST(audit_and_sessions_record_forwarded_client)
{
    char *ip = audited_change_ip("198.51.100.9");
    ck_assert_msg(strcmp(ip, "198.51.100.9") == 0, "audit ip %s, expected 198.51.100.9", ip);
    free(ip);
    DM_EXPECT_SQL(db_url, "1", "SELECT count(*) FROM refresh_tokens WHERE ip = '198.51.100.9'");
}
END_TEST

/* ---- trusting nobody (the default) -------------------------------------- */

START_TEST(forwarded_header_changes_nothing_by_default)
{
    free(dm_e2e_auth_register("target@example.id", NULL));
    fail_30(NULL); /* a fresh forged address every time */
    dm_e2e_response res;
    login_via("198.51.100.9", "xff-ignored", "target@example.id", DM_E2E_AUTH_PASSWORD, &res);
    expect_throttled(&res, "a good login claiming another address, after 30 failures from this one");
    dm_e2e_response_free(&res);
    expect_logged_client("xff-ignored", "127.0.0.1");
    DM_EXPECT_SQL(db_url, "30", "SELECT count(*) FROM auth_failures WHERE scope = 'ip' AND key = '127.0.0.1'");
}
END_TEST

START_TEST(audit_ignores_forwarded_by_default)
{
    char *ip = audited_change_ip("198.51.100.9");
    ck_assert_msg(strcmp(ip, "127.0.0.1") == 0, "audit ip %s, expected the peer 127.0.0.1", ip);
    free(ip);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("e2e_trusted_proxies");
    TCase *tr = tcase_create("trusted");
    tcase_add_unchecked_fixture(tr, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(tr, setup_trusted, teardown);
    tcase_set_timeout(tr, 180);
    tcase_add_test(tr, forwarded_client_is_throttled_alone);
    tcase_add_test(tr, client_walks_past_trusted_hops_only);
    tcase_add_test(tr, audit_and_sessions_record_forwarded_client);
    suite_add_tcase(s, tr);

    TCase *df = tcase_create("default");
    tcase_add_unchecked_fixture(df, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(df, setup_default, teardown);
    tcase_set_timeout(df, 180);
    tcase_add_test(df, forwarded_header_changes_nothing_by_default);
    tcase_add_test(df, audit_ignores_forwarded_by_default);
    suite_add_tcase(s, df);
    return s;
}

DM_TEST_MAIN(make_suite)
