/*
 * test_socketio.c — a stock socket.io-client (npm, tests/node/sio_logs.mjs)
 * follows a real container's logs through Dermaga's /k8s-logs namespace:
 * over a WebSocket from the start and over long-polling upgraded to a
 * WebSocket, by instance and by subscription, with the recent lines first
 * for a late subscriber; refused without a token, with an expired one and
 * with one signed by another key; another user's instance is "not found"
 * and none of its lines reach them, while an administrator may follow it;
 * a token that expires while connected ends the socket.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accounts/jwt.h"
#include "dm_test.h"
#include "e2e.h"
#include "e2e_auth.h"
#include "e2e_instances.h"
#include "e2e_logs.h"
#include "e2e_node.h"
#include "e2e_workload.h"

#define OWNER "sio-owner@example.id"
#define STEP_MS 30000 /* one expected event (node start, Podman, sanitizers) */

static void sweep_setup(void) { dm_e2e_instances_setup("sioe2e"); }
static void sweep_teardown(void) { dm_e2e_instances_teardown(); }

/* Health checks make the site log a line each: once an hour keeps them out. */
static void setup(void)
{
    dm_e2e_instances_opts o = { .with_service = true,
                                .extra = json_pack("{s:{s:i}}", "instances", "healthEveryS", 3600) };
    dm_e2e_instances_start(&o);
}

static void teardown(void) { dm_e2e_instances_stop(); }

static char url[64];

/* Start sio_logs.mjs with token and more arguments (NULL-ended). */
static void client(dm_e2e_node *n, const char *token, const char *const more[])
{
    snprintf(url, sizeof url, "http://127.0.0.1:%d", dm_e2e_auth_srv.port);
    const char *args[16] = { "--url", url, "--token", token };
    int i = 4;
    for (int j = 0; more != NULL && more[j] != NULL && i < 15; j++)
        args[i++] = more[j];
    args[i] = NULL;
    dm_e2e_node_start(n, "sio_logs.mjs", args);
}

static void stop(dm_e2e_node *n)
{
    dm_e2e_node_stop(n, 0);
    unlink(n->err_path);
}

/* A marker line printed by the container now. */
static void print_marker(const char *inst, char marker[64], const char *tag)
{
    char script[128];
    snprintf(marker, 64, "sio-%s-%d-%lld", tag, (int)getpid(), dm_e2e_now_ms());
    snprintf(script, sizeof script, "echo %s >/proc/1/fd/1", marker);
    dm_e2e_exec_in_container(inst, script);
}

/* Read LINE events until the one carrying marker; check its fields. */
static void expect_line(dm_e2e_node *n, const char *inst, const char *marker)
{
    char line[4096];
    for (;;) {
        dm_e2e_node_expect(n, "LINE ", line, sizeof line, STEP_MS, marker);
        json_t *j = json_loads(line + 5, 0, NULL);
        ck_assert_msg(j != NULL, "a log event that is not JSON: %s", line);
        const char *text = json_string_value(json_object_get(j, "line"));
        ck_assert_msg(text != NULL, "a log event without its line: %s", line);
        ck_assert_str_eq(json_string_value(json_object_get(j, "instanceId")), inst);
        const char *stream = json_string_value(json_object_get(j, "stream"));
        ck_assert_msg(stream != NULL && (strcmp(stream, "stdout") == 0 || strcmp(stream, "stderr") == 0), "%s",
                      line);
        const char *ts = json_string_value(json_object_get(j, "timestamp"));
        ck_assert_msg(ts != NULL && strlen(ts) >= 20 && ts[strlen(ts) - 1] == 'Z', "timestamp: %s", line);
        bool found = strcmp(text, marker) == 0;
        if (found)
            ck_assert_str_eq(stream, "stdout");
        json_decref(j);
        if (found)
            return;
    }
}

/* A running instance of OWNER: its ids, and the owner's token (new). */
static char *running(char sub[37], char inst[37])
{
    char *tok = dm_e2e_instances_subscribe(OWNER, sub, inst);
    json_decref(dm_e2e_instances_wait(tok, inst, "RUNNING"));
    return tok;
}

START_TEST(websocket_follows_a_real_container)
{
    char sub[37], inst[37], marker[64], line[512];
    char *tok = running(sub, inst);
    dm_e2e_node a;
    client(&a, tok, (const char *const[]){ "--transports", "websocket", "--subscribe", inst, NULL });
    dm_e2e_node_expect(&a, "OPENED ", line, sizeof line, STEP_MS, "the Engine.IO open");
    ck_assert_str_eq(line, "OPENED websocket");
    dm_e2e_node_expect(&a, "CONNECTED ", line, sizeof line, STEP_MS, "connect");
    ck_assert_str_eq(line, "CONNECTED websocket");
    dm_e2e_node_expect(&a, "SUBSCRIBED", line, sizeof line, STEP_MS, "subscribe-logs");
    print_marker(inst, marker, "ws");
    expect_line(&a, inst, marker);

    /* A late subscriber gets the recent lines first: the marker is one. */
    dm_e2e_node b;
    client(&b, tok, (const char *const[]){ "--subscribe", inst, "--tail", "200", NULL });
    dm_e2e_node_expect(&b, "CONNECTED ", line, sizeof line, STEP_MS, "the second client");
    dm_e2e_node_expect(&b, "SUBSCRIBED", line, sizeof line, STEP_MS, "the second subscribe-logs");
    expect_line(&b, inst, marker); /* the acknowledgement comes first, then the recent lines */
    /* An SSE stream of the same instance shares the one runtime follow. */
    char path[192];
    dm_e2e_conn sse;
    dm_e2e_logs_path(path, sizeof path, inst, "?tail=1");
    dm_e2e_logs_open_ok(&sse, path, tok, NULL);
    ck_assert_int_eq(dm_e2e_wait_metric(dm_e2e_auth_srv.port, "dermaga_log_subscribers", 3, 3, STEP_MS), 3);
    ck_assert_int_eq(dm_e2e_fetch_metric(dm_e2e_auth_srv.port, "dermaga_log_follows"), 1);
    /* All three see what comes next; after unsubscribe-logs the first sees no more. */
    char next[64];
    print_marker(inst, next, "both");
    expect_line(&a, inst, next);
    expect_line(&b, inst, next);
    json_decref(dm_e2e_logs_wait_line(&sse, inst, next, STEP_MS, NULL));
    dm_e2e_close(&sse);
    dm_e2e_node_send(&a, "REPORT");
    dm_e2e_node_expect(&a, "COUNT ", line, sizeof line, STEP_MS, "the first count");
    char count_before[512];
    snprintf(count_before, sizeof count_before, "%s", line);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "UNSUBSCRIBE %s", inst);
    dm_e2e_node_send(&a, cmd);
    dm_e2e_node_expect(&a, "UNSUBSCRIBED", line, sizeof line, STEP_MS, "unsubscribe-logs");
    char last[64];
    print_marker(inst, last, "after");
    expect_line(&b, inst, last);
    dm_e2e_node_send(&a, "REPORT");
    dm_e2e_node_expect(&a, "COUNT ", line, sizeof line, STEP_MS, "the count after leaving");
    ck_assert_msg(strcmp(line, count_before) == 0, "lines after unsubscribe-logs: %s, then %s", count_before, line);
    stop(&a);
    stop(&b);
    free(tok);
}
END_TEST

/* SIGTERM while sockets follow: each is closed (the client hears the
 * disconnect), the follow is stopped, and the server exits 0 — under the
 * sanitizers, so nothing is used after it was freed on the way out. */
START_TEST(sigterm_closes_following_sockets_and_exits_cleanly)
{
    char sub[37], inst[37], marker[64], line[512];
    char *tok = running(sub, inst);
    dm_e2e_node a, b;
    client(&a, tok, (const char *const[]){ "--transports", "websocket", "--subscribe", inst, NULL });
    client(&b, tok, (const char *const[]){ "--transports", "polling", "--subscribe", inst, NULL });
    dm_e2e_node_expect(&a, "SUBSCRIBED", line, sizeof line, STEP_MS, "the first subscribe-logs");
    dm_e2e_node_expect(&b, "SUBSCRIBED", line, sizeof line, STEP_MS, "the second subscribe-logs");
    print_marker(inst, marker, "term");
    expect_line(&a, inst, marker);
    expect_line(&b, inst, marker);
    int st = dm_e2e_server_stop(&dm_e2e_auth_srv, SIGTERM, 15000);
    ck_assert_msg(dm_e2e_exited_0(st), "the server ended with %s", dm_e2e_describe_status(st));
    dm_e2e_node_expect(&a, "DISCONNECTED ", line, sizeof line, STEP_MS, "the WebSocket client's disconnect");
    dm_e2e_node_expect(&b, "DISCONNECTED ", line, sizeof line, STEP_MS, "the upgraded client's disconnect");
    stop(&a);
    stop(&b);
    dm_e2e_instances_restart(SIGTERM); /* the teardown checks money and quota on a live server */
    free(tok);
}
END_TEST

START_TEST(polling_then_upgrade_follows_by_subscription)
{
    char sub[37], inst[37], marker[64], line[512];
    char *tok = running(sub, inst);
    dm_e2e_node a;
    client(&a, tok, (const char *const[]){ "--transports", "polling", "--subscription", sub, NULL });
    dm_e2e_node_expect(&a, "OPENED ", line, sizeof line, STEP_MS, "the Engine.IO open");
    ck_assert_str_eq(line, "OPENED polling");
    dm_e2e_node_expect(&a, "UPGRADED ", line, sizeof line, STEP_MS, "the upgrade");
    ck_assert_str_eq(line, "UPGRADED websocket");
    dm_e2e_node_expect(&a, "SUBSCRIBED", line, sizeof line, STEP_MS, "subscribe-logs by subscription");
    print_marker(inst, marker, "poll");
    expect_line(&a, inst, marker);
    stop(&a);
    free(tok);
}
END_TEST

/* An access token for the user and session of tok, signed with secret,
 * issued at iat and living ttl_s (new string). */
static char *forge(const char *tok, const char *secret, int64_t iat, int ttl_s)
{
    dm_jwt_keys k, real;
    dm_err_t err = { 0 };
    dm_jwt_claims c;
    ck_assert_int_eq(dm__jwt_keys_init(&real, DM_E2E_AUTH_SECRET, NULL, 0, &err), 0);
    ck_assert_msg(dm__jwt_verify_access(&real, tok, time(NULL), &c, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(dm__jwt_keys_init(&k, secret, NULL, ttl_s, &err), 0);
    char *out = NULL;
    ck_assert_msg(dm__jwt_sign_access(&k, c.sub, c.role, c.sid, iat, &out, &err) == 0, "%s", err.msg);
    dm__jwt_keys_fini(&k);
    dm__jwt_keys_fini(&real);
    return out;
}

static void expect_refused(const char *token, const char *want)
{
    dm_e2e_node n;
    char line[512];
    client(&n, token, NULL);
    dm_e2e_node_expect(&n, "REFUSED ", line, sizeof line, STEP_MS, want);
    ck_assert_msg(strstr(line, want) != NULL, "refused with \"%s\", want \"%s\"", line, want);
    stop(&n);
}

/* Register email: the access token (new string) and refresh token and id. */
static char *register_full(const char *email, char refresh[512], char id[37])
{
    json_t *doc = NULL;
    char body[256];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\",\"name\":\"Tester\"}", email,
             DM_E2E_AUTH_PASSWORD);
    int st = dm_e2e_call_port(dm_e2e_auth_srv.port, "POST", "/api/auth/register", NULL, body, &doc);
    ck_assert_msg(st == 201 || st == 200, "register %s: %d", email, st);
    const char *access = json_string_value(dm_e2e_jpath(doc, "data.accessToken"));
    const char *rt = json_string_value(dm_e2e_jpath(doc, "data.refreshToken"));
    const char *uid = json_string_value(dm_e2e_jpath(doc, "data.user.id"));
    ck_assert_msg(access != NULL && rt != NULL && uid != NULL, "register %s: no tokens", email);
    snprintf(refresh, 512, "%s", rt);
    snprintf(id, 37, "%s", uid);
    char *out = strdup(access);
    json_decref(doc);
    return out;
}

START_TEST(tokens_are_checked_like_bearer_tokens)
{
    char id[37], refresh[512], body[640];
    char *tok = register_full("sio-token@example.id", refresh, id);
    expect_refused("", "token");
    expect_refused("not.a.token", "unauthorized");
    char *expired = forge(tok, DM_E2E_AUTH_SECRET, (int64_t)time(NULL) - 120, 60);
    expect_refused(expired, "unauthorized");
    char *other_key = forge(tok, "another-secret-of-more-than-32-bytes!!", (int64_t)time(NULL), 600);
    expect_refused(other_key, "unauthorized");
    /* The session logged out: its access token is unexpired but refused. */
    snprintf(body, sizeof body, "{\"refreshToken\":\"%s\"}", refresh);
    ck_assert_int_eq(dm_e2e_call_port(dm_e2e_auth_srv.port, "POST", "/api/auth/logout", NULL, body, NULL), 204);
    expect_refused(tok, "unauthorized");
    /* A user an administrator deactivated. */
    char *tok2 = register_full("sio-inactive@example.id", refresh, id);
    char *admin = dm_e2e_auth_login(DM_E2E_ADMIN_EMAIL, DM_E2E_ADMIN_PASS);
    char path[96];
    snprintf(path, sizeof path, "/api/admin/users/%s", id);
    ck_assert_int_eq(dm_e2e_call_port(dm_e2e_auth_srv.port, "PUT", path, admin, "{\"isActive\":false}", NULL), 200);
    expect_refused(tok2, "unauthorized");
    free(admin);
    free(tok2);
    free(expired);
    free(other_key);
    free(tok);
}
END_TEST

START_TEST(a_token_that_expires_ends_the_socket)
{
    char *tok = dm_e2e_auth_register("sio-expiry@example.id", NULL);
    char *brief = forge(tok, DM_E2E_AUTH_SECRET, (int64_t)time(NULL), 3);
    dm_e2e_node n;
    char line[512];
    client(&n, brief, NULL);
    dm_e2e_node_expect(&n, "CONNECTED ", line, sizeof line, STEP_MS, "connect with a brief token");
    long long t0 = dm_e2e_now_ms();
    dm_e2e_node_expect(&n, "DISCONNECTED ", line, sizeof line, STEP_MS, "the disconnect at expiry");
    ck_assert_str_eq(line, "DISCONNECTED io server disconnect");
    ck_assert_msg(dm_e2e_now_ms() - t0 < 10000, "disconnected %lld ms after connecting", dm_e2e_now_ms() - t0);
    stop(&n);
    free(brief);
    free(tok);
}
END_TEST

START_TEST(another_users_instance_is_not_found)
{
    char sub[37], inst[37], marker[64], line[512];
    char *owner = running(sub, inst);
    char *other = dm_e2e_auth_register("sio-other@example.id", NULL);
    dm_e2e_node o, x;
    client(&o, owner, (const char *const[]){ "--subscribe", inst, NULL });
    dm_e2e_node_expect(&o, "SUBSCRIBED", line, sizeof line, STEP_MS, "the owner subscribes");
    client(&x, other, (const char *const[]){ "--subscribe", inst, "--tail", "200", NULL });
    dm_e2e_node_expect(&x, "LOGS-ERROR ", line, sizeof line, STEP_MS, "another user's subscribe-logs");
    ck_assert_str_eq(line, "LOGS-ERROR not found");
    dm_e2e_node_expect(&x, "ACK-ERROR ", line, sizeof line, STEP_MS, "its acknowledgement");
    ck_assert_str_eq(line, "ACK-ERROR not found");
    char cmd[64];
    snprintf(cmd, sizeof cmd, "SUBSCRIBE %s", sub); /* a subscription id is no instance id either */
    dm_e2e_node_send(&x, cmd);
    dm_e2e_node_expect(&x, "ACK-ERROR ", line, sizeof line, STEP_MS, "a subscription id as instanceId");
    print_marker(inst, marker, "private");
    expect_line(&o, inst, marker);
    dm_e2e_node_send(&x, "REPORT");
    dm_e2e_node_expect(&x, "COUNT ", line, sizeof line, STEP_MS, "the other user's count");
    ck_assert_str_eq(line, "COUNT 0");

    /* An administrator may follow it. */
    char *admin = dm_e2e_auth_login(DM_E2E_ADMIN_EMAIL, DM_E2E_ADMIN_PASS);
    dm_e2e_node a;
    client(&a, admin, (const char *const[]){ "--subscribe", inst, NULL });
    dm_e2e_node_expect(&a, "SUBSCRIBED", line, sizeof line, STEP_MS, "the administrator subscribes");
    char next[64];
    print_marker(inst, next, "admin");
    expect_line(&a, inst, next);
    stop(&a);
    stop(&o);
    stop(&x);
    free(admin);
    free(other);
    free(owner);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("socketio_e2e");
    TCase *tc = tcase_create("socket.io-client");
    tcase_add_unchecked_fixture(tc, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, websocket_follows_a_real_container);
    tcase_add_test(tc, polling_then_upgrade_follows_by_subscription);
    tcase_add_test(tc, sigterm_closes_following_sockets_and_exits_cleanly);
    tcase_add_test(tc, tokens_are_checked_like_bearer_tokens);
    tcase_add_test(tc, a_token_that_expires_ends_the_socket);
    tcase_add_test(tc, another_users_instance_is_not_found);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
