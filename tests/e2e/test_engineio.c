/*
 * test_engineio.c — Engine.IO v4 long-polling and Socket.IO v5 at
 * /socket.io/ through the real binary, byte by byte: the handshake and its
 * refusals, a session bound to the address that opened it, long polls that
 * wait and are answered by the heartbeat, a client that stops answering
 * pings, two polls at once, payloads over maxPayload, packets the server
 * does not take, the client's close, the /k8s-logs namespace's CONNECT
 * (no token, a bad one, a good one → {sid}; an unknown namespace), an
 * event with an ack, and draining with a poll waiting; over WebSocket, a
 * session opened on it, its heartbeat and its end, and the upgrade of a
 * polling session (probe, noop to the waiting poll, packets made during the
 * upgrade delivered on the WebSocket). (socket.io-client itself and real
 * containers are test_socketio.)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dm_test.h"
#include "e2e.h"
#include "e2e_auth.h"
#include "e2e_ws.h"
#include "testdb.h"

#define srv dm_e2e_auth_srv
#define PING_MS 400
#define SEP "\x1e"

static void sweep_setup(void) { dm_e2e_auth_sweep_setup("eioe2e"); }
static void sweep_teardown(void) { dm_e2e_auth_sweep_teardown(); }

/* Packets polled but not yet looked for (one session at a time). */
static char *inbox[64];
static int n_inbox;

static void inbox_clear(void)
{
    for (int i = 0; i < n_inbox; i++)
        free(inbox[i]);
    n_inbox = 0;
}

static void setup(void)
{
    dm_e2e_auth_setup_with(json_pack("{s:{s:i,s:i,s:i}}", "socketio", "pingIntervalMs", PING_MS, "pingTimeoutMs",
                                     PING_MS, "maxPayloadBytes", 4096));
}

static void teardown(void)
{
    inbox_clear();
    dm_e2e_auth_teardown();
}

/* ---- requests ------------------------------------------------------------ */

/* A connection to the server from source address src ("127.0.0.1" …). */
static void connect_from(dm_e2e_conn *c, const char *src)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_msg(c->fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in a = { .sin_family = AF_INET };
    ck_assert(inet_pton(AF_INET, src, &a.sin_addr) == 1);
    ck_assert_msg(bind(c->fd, (struct sockaddr *)&a, sizeof a) == 0, "bind %s: %s", src, strerror(errno));
    a.sin_port = htons((uint16_t)srv.port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_msg(connect(c->fd, (struct sockaddr *)&a, sizeof a) == 0, "connect: %s", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Send method /socket.io/?query (body may be NULL) on c. */
static void send_req(dm_e2e_conn *c, const char *method, const char *query, const char *body)
{
    char head[512];
    size_t blen = body != NULL ? strlen(body) : 0;
    snprintf(head, sizeof head,
             "%s /socket.io/?%s HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain;charset=UTF-8\r\n"
             "Content-Length: %zu\r\n\r\n",
             method, query, blen);
    dm_e2e_send_ok(c, head);
    if (blen > 0)
        dm_e2e_send_ok(c, body);
}

/* One request from src on a new connection; the response (free it). */
static void call_from(const char *src, const char *method, const char *query, const char *body,
                      dm_e2e_response *res, int timeout_ms)
{
    dm_e2e_conn c;
    connect_from(&c, src);
    send_req(&c, method, query, body);
    int rc = dm_e2e_read_response(&c, res, timeout_ms, false);
    ck_assert_msg(rc == 0, "%s ?%s: %s", method, query, dm_e2e_strerror(rc));
    dm_e2e_close(&c);
}

static void call(const char *method, const char *query, const char *body, dm_e2e_response *res)
{
    call_from("127.0.0.1", method, query, body, res, DM_E2E_T_MS);
}

/* A new polling session: its sid into sid. */
static void handshake(char sid[32])
{
    inbox_clear();
    dm_e2e_response res;
    call("GET", "EIO=4&transport=polling", NULL, &res);
    ck_assert_msg(res.status == 200 && res.body[0] == '0', "handshake: %d %s", res.status, res.body);
    json_t *j = json_loads(res.body + 1, 0, NULL);
    const char *s = json_string_value(json_object_get(j, "sid"));
    ck_assert_msg(s != NULL && strlen(s) == 20, "sid: %s", res.body);
    snprintf(sid, 32, "%s", s);
    json_decref(j);
    dm_e2e_response_free(&res);
}

static void query_of(const char *sid, char q[96])
{
    snprintf(q, 96, "EIO=4&transport=polling&sid=%s", sid);
}

/* POST packets to sid: expect "ok" (or status). */
static void post(const char *sid, const char *packets, int status)
{
    char q[96];
    query_of(sid, q);
    dm_e2e_response res;
    call("POST", q, packets, &res);
    ck_assert_msg(res.status == status, "POST %s: %d %s (want %d)", packets, res.status, res.body, status);
    if (status == 200)
        ck_assert_str_eq(res.body, "ok");
    dm_e2e_response_free(&res);
}

/* GET a poll of sid: the status and the body (new string) into *body. */
static int poll_body(const char *sid, char **body)
{
    char q[96];
    query_of(sid, q);
    dm_e2e_response res;
    call_from("127.0.0.1", "GET", q, NULL, &res, 5 * PING_MS + DM_E2E_T_MS);
    int status = res.status;
    *body = strdup(res.body);
    dm_e2e_response_free(&res);
    return status;
}

/* The first packet in the inbox starting with prefix (taken out), or NULL. */
static char *inbox_take(const char *prefix)
{
    for (int i = 0; i < n_inbox; i++) {
        if (strncmp(inbox[i], prefix, strlen(prefix)) == 0) {
            char *p = inbox[i];
            memmove(&inbox[i], &inbox[i + 1], (size_t)(n_inbox - i - 1) * sizeof inbox[0]);
            n_inbox--;
            return p;
        }
    }
    return NULL;
}

/* Poll until a packet starting with prefix arrives (answering pings),
 * within a few heartbeats; the packet (new string). */
static char *poll_for(const char *sid, const char *prefix)
{
    for (int round = 0; round < 8; round++) {
        char *found = inbox_take(prefix);
        if (found != NULL)
            return found;
        char *body;
        int status = poll_body(sid, &body);
        ck_assert_msg(status == 200, "poll: %d %s", status, body);
        char *save = NULL;
        for (char *p = strtok_r(body, SEP, &save); p != NULL; p = strtok_r(NULL, SEP, &save)) {
            if (strcmp(p, "2") == 0)
                post(sid, "3", 200);
            else if (n_inbox < (int)(sizeof inbox / sizeof inbox[0]))
                inbox[n_inbox++] = strdup(p);
        }
        free(body);
    }
    ck_abort_msg("no packet starting with %s arrived", prefix);
    return NULL;
}

static void expect_gone(const char *sid, const char *what)
{
    char *body;
    int status = poll_body(sid, &body);
    ck_assert_msg(status == 400 && strstr(body, "SESSION_UNKNOWN") != NULL, "%s: the session answers %d %s", what,
                  status, body);
    free(body);
}

/* ---- the handshake ---------------------------------------------------------- */

START_TEST(handshake_opens_a_session)
{
    dm_e2e_response res;
    call("GET", "EIO=4&transport=polling&t=abc", NULL, &res);
    ck_assert_int_eq(res.status, 200);
    const char *ct = dm_e2e_header(&res, "Content-Type");
    ck_assert_msg(ct != NULL && strncmp(ct, "text/plain", 10) == 0, "Content-Type %s", ct != NULL ? ct : "-");
    ck_assert_msg(res.body[0] == '0', "open packet: %s", res.body);
    json_t *j = json_loads(res.body + 1, 0, NULL);
    ck_assert_msg(j != NULL, "open packet JSON: %s", res.body);
    ck_assert_int_eq(strlen(json_string_value(json_object_get(j, "sid"))), 20);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "upgrades"), 0)), "websocket");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "pingInterval")), PING_MS);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "pingTimeout")), PING_MS);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "maxPayload")), 4096);
    json_decref(j);
    dm_e2e_response_free(&res);
}
END_TEST

START_TEST(bad_handshakes_are_refused)
{
    static const struct {
        const char *method, *query, *code;
    } cases[] = {
        { "GET", "transport=polling", "UNSUPPORTED_PROTOCOL_VERSION" },
        { "GET", "EIO=3&transport=polling", "UNSUPPORTED_PROTOCOL_VERSION" },
        { "GET", "EIO=4&transport=flashsocket", "TRANSPORT_UNKNOWN" },
        { "GET", "EIO=4", "TRANSPORT_UNKNOWN" },
        { "GET", "EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA", "SESSION_UNKNOWN" },
        { "POST", "EIO=4&transport=polling", "BAD_REQUEST" },
        { "POST", "EIO=4&transport=polling&sid=nope", "SESSION_UNKNOWN" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dm_e2e_response res;
        call(cases[i].method, cases[i].query, cases[i].method[0] == 'P' ? "40" : NULL, &res);
        dm_e2e_assert_error(&res, 400, cases[i].query);
        ck_assert_msg(strstr(res.body, cases[i].code) != NULL, "%s ?%s: %s (want %s)", cases[i].method,
                      cases[i].query, res.body, cases[i].code);
        dm_e2e_response_free(&res);
    }
}
END_TEST

/* A session belongs to the address that opened it. */
START_TEST(a_session_answers_only_its_own_address)
{
    char sid[32], q[96], *body;
    handshake(sid);
    query_of(sid, q);
    dm_e2e_response res;
    call_from("127.0.0.2", "GET", q, NULL, &res, DM_E2E_T_MS);
    ck_assert_msg(res.status == 400 && strstr(res.body, "SESSION_UNKNOWN") != NULL, "from another address: %d %s",
                  res.status, res.body);
    dm_e2e_response_free(&res);
    call_from("127.0.0.2", "POST", q, "40/k8s-logs,", &res, DM_E2E_T_MS);
    ck_assert_int_eq(res.status, 400);
    dm_e2e_response_free(&res);
    /* Its own address still has it. */
    post(sid, "40/nope,", 200);
    ck_assert_int_eq(poll_body(sid, &body), 200);
    free(body);
}
END_TEST

/* ---- long polls and the heartbeat ---------------------------------------- */

START_TEST(a_long_poll_waits_for_the_ping)
{
    char sid[32], *body;
    handshake(sid);
    long long t0 = dm_e2e_now_ms();
    ck_assert_int_eq(poll_body(sid, &body), 200);
    long long waited = dm_e2e_now_ms() - t0;
    ck_assert_msg(strcmp(body, "2") == 0, "the first packet is the ping: %s", body);
    /* It waited for the heartbeat rather than answering empty at once. */
    ck_assert_msg(waited >= PING_MS / 2, "the poll came back after %lld ms", waited);
    free(body);
    post(sid, "3", 200);
    /* Answered pings keep the session across several intervals. */
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(poll_body(sid, &body), 200);
        ck_assert_str_eq(body, "2");
        free(body);
        post(sid, "3", 200);
    }
}
END_TEST

START_TEST(a_client_that_stops_answering_pings_is_dropped)
{
    char sid[32], *body;
    handshake(sid);
    ck_assert_int_eq(poll_body(sid, &body), 200);
    ck_assert_str_eq(body, "2");
    free(body);
    /* No pong: the session ends after pingTimeout; the next poll says so
     * (with a close packet while it can, then an unknown session). */
    int status = poll_body(sid, &body);
    ck_assert_msg(status == 400 || strchr(body, '1') != NULL, "after a missed pong: %d %s", status, body);
    free(body);
    expect_gone(sid, "a missed pong");
}
END_TEST

START_TEST(two_polls_at_once_end_the_session)
{
    char sid[32], q[96];
    handshake(sid);
    query_of(sid, q);
    dm_e2e_conn first;
    connect_from(&first, "127.0.0.1");
    send_req(&first, "GET", q, NULL);
    /* The first is waiting; a second is a broken client. */
    ck_assert_msg(!dm_e2e_readable(&first, 100), "the first poll waits");
    dm_e2e_response res;
    call("GET", q, NULL, &res);
    ck_assert_int_eq(res.status, 400);
    dm_e2e_response_free(&res);
    ck_assert_int_eq(dm_e2e_read_response(&first, &res, DM_E2E_T_MS, false), 0);
    ck_assert_msg(res.status == 200 && strchr(res.body, '1') != NULL, "the first poll gets the close: %s", res.body);
    dm_e2e_response_free(&res);
    dm_e2e_close(&first);
    expect_gone(sid, "two polls");
}
END_TEST

START_TEST(a_poll_whose_client_leaves_is_forgotten)
{
    char sid[32], q[96], *body;
    handshake(sid);
    query_of(sid, q);
    dm_e2e_conn c;
    connect_from(&c, "127.0.0.1");
    send_req(&c, "GET", q, NULL);
    ck_assert_msg(!dm_e2e_readable(&c, 50), "the poll waits");
    dm_e2e_abort(&c); /* the client vanishes mid-poll */
    /* The session lives on and takes the next poll. */
    ck_assert_int_eq(poll_body(sid, &body), 200);
    free(body);
}
END_TEST

/* ---- what the client sends ------------------------------------------------- */

START_TEST(payloads_over_max_payload_end_the_session)
{
    char sid[32], q[96];
    handshake(sid);
    query_of(sid, q);
    char *big = dm_e2e_filler(5000, 'a');
    big[0] = '4';
    dm_e2e_response res;
    call("POST", q, big, &res);
    dm_e2e_assert_error(&res, 413, "over maxPayload");
    dm_e2e_response_free(&res);
    free(big);
    expect_gone(sid, "an oversized payload");
}
END_TEST

START_TEST(packets_the_server_does_not_take_end_the_session)
{
    static const char *const bad[] = {
        "x",                   /* no Engine.IO type */
        "bAQID",               /* binary, base64 */
        "2",                   /* a ping is the server's to send */
        "49",                  /* no Socket.IO type */
        "451-[\"e\",{\"_placeholder\":true,\"num\":0}]", /* a binary event */
        "42/k8s-logs,{",       /* an event that is not JSON */
        "42[1,2]",             /* an event without a name */
        "44/k8s-logs,{}",      /* CONNECT_ERROR is the server's */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char sid[32];
        handshake(sid);
        post(sid, "40/k8s-logs,", 200); /* a namespace socket to take down with it */
        char q[96];
        query_of(sid, q);
        dm_e2e_response res;
        call("POST", q, bad[i], &res);
        ck_assert_msg(res.status == 200 || res.status == 400, "%s: %d", bad[i], res.status);
        dm_e2e_response_free(&res);
        expect_gone(sid, bad[i]);
    }
}
END_TEST

START_TEST(the_client_closes_with_a_close_packet)
{
    char sid[32];
    handshake(sid);
    post(sid, "1", 200);
    expect_gone(sid, "the close packet");
}
END_TEST

/* ---- Socket.IO ----------------------------------------------------------------- */

/* The value of the /metrics line starting with name (with its space). */
static long metric(const char *name)
{
    dm_e2e_response res;
    dm_e2e_roundtrip_ok(srv.port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &res);
    char want[128];
    snprintf(want, sizeof want, "\n%s", name);
    const char *line = strstr(res.body, want);
    ck_assert_msg(line != NULL, "no %s in /metrics", name);
    long v = strtol(line + strlen(want), NULL, 10);
    dm_e2e_response_free(&res);
    return v;
}

START_TEST(unknown_namespaces_and_missing_tokens_are_refused)
{
    char sid[32];
    handshake(sid);
    post(sid, "40/nope," SEP "40/k8s-logs,", 200);
    char *a = poll_for(sid, "44/nope,");
    ck_assert_msg(strstr(a, "Invalid namespace") != NULL, "%s", a);
    char *b = poll_for(sid, "44/k8s-logs,");
    ck_assert_msg(strstr(b, "token") != NULL, "%s", b);
    free(a);
    free(b);
    post(sid, "40/k8s-logs,{\"token\":\"not.a.token\"}", 200);
    char *c = poll_for(sid, "44/k8s-logs,");
    ck_assert_msg(strstr(c, "unauthorized") != NULL, "%s", c);
    free(c);
    /* The connection is fine for another try. */
    post(sid, "40/k8s-logs,[1]", 200);
    char *d = poll_for(sid, "44/k8s-logs,");
    free(d);
}
END_TEST

START_TEST(a_good_token_joins_and_events_are_acked)
{
    char *tok = dm_e2e_auth_register("sio@example.id", NULL);
    char sid[32], body[1024];
    handshake(sid);
    snprintf(body, sizeof body, "40/k8s-logs,{\"token\":\"%s\"}", tok);
    post(sid, body, 200);
    char *ok = poll_for(sid, "40/k8s-logs,");
    json_t *j = json_loads(ok + strlen("40/k8s-logs,"), 0, NULL);
    ck_assert_msg(json_string_value(json_object_get(j, "sid")) != NULL, "CONNECT answer: %s", ok);
    json_decref(j);
    free(ok);
    ck_assert_int_eq(metric("dermaga_socketio_sessions_open "), 1);
    ck_assert_int_eq(metric("dermaga_log_sockets_open "), 1);
    /* Another user's instance, or none at all, is "not found" — with the ack. */
    post(sid, "42/k8s-logs,7[\"subscribe-logs\",{\"instanceId\":\"00000000-0000-4000-8000-000000000000\"}]", 200);
    char *err = poll_for(sid, "42/k8s-logs,[\"logs-error\"");
    ck_assert_msg(strstr(err, "not found") != NULL, "%s", err);
    free(err);
    char *ack = poll_for(sid, "43/k8s-logs,7");
    ck_assert_msg(strstr(ack, "\"success\":false") != NULL, "%s", ack);
    free(ack);
    /* A malformed subscription is refused without a lookup. */
    post(sid, "42/k8s-logs,[\"subscribe-logs\",{\"tailLines\":5}]", 200);
    char *bad = poll_for(sid, "42/k8s-logs,[\"logs-error\"");
    ck_assert_msg(strstr(bad, "instanceId or subscriptionId") != NULL, "%s", bad);
    free(bad);
    /* Leaving the namespace, then the connection. */
    post(sid, "41/k8s-logs,", 200);
    ck_assert_int_eq(metric("dermaga_log_sockets_open "), 0);
    post(sid, "1", 200);
    expect_gone(sid, "a client that left");
    ck_assert_int_eq(metric("dermaga_socketio_sessions_open "), 0);
    free(tok);
}
END_TEST

START_TEST(draining_answers_a_waiting_poll)
{
    char sid[32], q[96];
    handshake(sid);
    query_of(sid, q);
    dm_e2e_conn c;
    connect_from(&c, "127.0.0.1");
    send_req(&c, "GET", q, NULL);
    ck_assert_msg(!dm_e2e_readable(&c, 50), "the poll waits");
    ck_assert(kill(srv.pid, SIGTERM) == 0);
    dm_e2e_response res;
    ck_assert_int_eq(dm_e2e_read_response(&c, &res, DM_E2E_T_MS, false), 0);
    ck_assert_msg(res.status == 200 && strchr(res.body, '1') != NULL, "the poll gets the close: %s", res.body);
    dm_e2e_response_free(&res);
    dm_e2e_close(&c);
    int st = dm_e2e_server_wait_exit(&srv, 10000);
    ck_assert_msg(dm_e2e_exited_0(st), "the server ended with %s", dm_e2e_describe_status(st));
    dm_e2e_server_free(&srv); /* teardown has nothing left to stop */
}
END_TEST

/* ---- WebSocket ----------------------------------------------------------------- */

static void ws_connect(dm_e2e_conn *c, const char *query)
{
    char target[160];
    snprintf(target, sizeof target, "/socket.io/?%s", query);
    connect_from(c, "127.0.0.1");
    int status = dm_e2e_ws_open(c, target);
    ck_assert_msg(status == 101, "upgrade of %s: %d", target, status);
}

/* The next packet starting with prefix; pings before it are answered (the
 * heartbeat runs on its own clock). */
static char *ws_expect(dm_e2e_conn *c, const char *prefix, int timeout_ms, const char *what)
{
    for (;;) {
        char *p = dm_e2e_ws_expect_text(c, "", timeout_ms, what);
        if (strcmp(p, "2") == 0 && strcmp(prefix, "2") != 0) {
            free(p);
            dm_e2e_ws_send_text(c, "3");
            continue;
        }
        ck_assert_msg(strncmp(p, prefix, strlen(prefix)) == 0, "%s: \"%s\", want \"%s…\"", what, p, prefix);
        return p;
    }
}

/* The session ends: Engine.IO's close packet, then the close frame. */
static void expect_session_end(dm_e2e_conn *c, int timeout_ms, const char *what)
{
    free(dm_e2e_ws_expect_text(c, "1", timeout_ms, what));
    int op = 0;
    char *p = NULL;
    int rc = dm_e2e_ws_read(c, &op, &p, DM_E2E_T_MS);
    ck_assert_msg(rc == 0 && op == 8, "%s: a close frame after the close packet: rc %d op %d", what, rc, op);
    free(p);
}

/* A session opened on a WebSocket: the open packet offers no upgrade, the
 * namespace answers on it, the server's pings keep it while answered, and
 * one not answered ends it with a close frame. */
START_TEST(a_websocket_session_lives_by_its_heartbeat)
{
    char *tok = dm_e2e_auth_register("siows@example.id", NULL);
    dm_e2e_conn c;
    ws_connect(&c, "EIO=4&transport=websocket");
    char *open = dm_e2e_ws_expect_text(&c, "0{", DM_E2E_T_MS, "the open packet");
    ck_assert_msg(strstr(open, "\"upgrades\":[]") != NULL, "%s", open);
    free(open);
    char body[1024];
    snprintf(body, sizeof body, "40/k8s-logs,{\"token\":\"%s\"}", tok);
    dm_e2e_ws_send_text(&c, body);
    char *ok = ws_expect(&c, "40/k8s-logs,{\"sid\":", DM_E2E_T_MS, "CONNECT");
    free(ok);
    dm_e2e_ws_send_text(&c, "42/k8s-logs,3[\"unsubscribe-logs\",{}]");
    char *ack = ws_expect(&c, "43/k8s-logs,3[", DM_E2E_T_MS, "the ack");
    free(ack);
    for (int i = 0; i < 3; i++) { /* three heartbeats answered */
        char *ping = dm_e2e_ws_expect_text(&c, "2", 2 * PING_MS + DM_E2E_T_MS, "a ping");
        ck_assert_str_eq(ping, "2");
        free(ping);
        dm_e2e_ws_send_text(&c, "3");
    }
    char *ping = dm_e2e_ws_expect_text(&c, "2", 2 * PING_MS + DM_E2E_T_MS, "the last ping");
    free(ping);
    expect_session_end(&c, 3 * PING_MS + DM_E2E_T_MS, "an unanswered ping");
    dm_e2e_close(&c);
    free(tok);
}
END_TEST

/* Binary frames and packets that are not Engine.IO end a WebSocket session. */
START_TEST(a_websocket_session_refuses_garbage)
{
    dm_e2e_conn c;
    ws_connect(&c, "EIO=4&transport=websocket");
    free(dm_e2e_ws_expect_text(&c, "0{", DM_E2E_T_MS, "the open packet"));
    dm_e2e_ws_send_text(&c, "9nonsense");
    expect_session_end(&c, DM_E2E_T_MS, "a packet of no type");
    dm_e2e_close(&c);
    ws_connect(&c, "EIO=4&transport=websocket");
    free(dm_e2e_ws_expect_text(&c, "0{", DM_E2E_T_MS, "the open packet"));
    static const unsigned char binary[] = { 0x82, 0x81, 1, 2, 3, 4, '4' ^ 1 };
    ck_assert_int_eq(dm_e2e_send(&c, binary, sizeof binary), 0);
    expect_session_end(&c, DM_E2E_T_MS, "a binary frame");
    dm_e2e_close(&c);
}
END_TEST

/* Polling, then the upgrade: 2probe → 3probe and a noop for the poll that
 * waits; an ack made between the probe and "5" is not lost: it comes on
 * the WebSocket; polling is over for the session. */
START_TEST(the_upgrade_loses_no_packet)
{
    char *tok = dm_e2e_auth_register("sioup@example.id", NULL);
    char sid[32], q[96], body[1024];
    handshake(sid);
    snprintf(body, sizeof body, "40/k8s-logs,{\"token\":\"%s\"}", tok);
    post(sid, body, 200);
    free(poll_for(sid, "40/k8s-logs,"));

    dm_e2e_conn poll;
    query_of(sid, q);
    connect_from(&poll, "127.0.0.1");
    send_req(&poll, "GET", q, NULL);
    ck_assert_msg(!dm_e2e_readable(&poll, 50), "the poll waits");

    char wsq[96];
    snprintf(wsq, sizeof wsq, "EIO=4&transport=websocket&sid=%s", sid);
    dm_e2e_conn ws;
    ws_connect(&ws, wsq);
    dm_e2e_ws_send_text(&ws, "2probe");
    free(dm_e2e_ws_expect_text(&ws, "3probe", DM_E2E_T_MS, "the probe's answer"));
    dm_e2e_response res;
    ck_assert_int_eq(dm_e2e_read_response(&poll, &res, DM_E2E_T_MS, false), 0);
    ck_assert_msg(res.status == 200 && strcmp(res.body, "6") == 0, "the waiting poll gets a noop: %d %s", res.status,
                  res.body);
    dm_e2e_response_free(&res);
    dm_e2e_close(&poll);
    /* A client whose next poll crossed the probe's answer polls again: that
     * poll ends at once, or the client, which sends "5" only when its poll
     * has ended, would wait for the next ping. */
    char *again;
    ck_assert_int_eq(poll_body(sid, &again), 200);
    ck_assert_msg(strcmp(again, "6") == 0, "a poll during the upgrade gets a noop at once: %s", again);
    free(again);

    post(sid, "42/k8s-logs,9[\"unsubscribe-logs\",{}]", 200); /* its ack waits for a transport */
    dm_e2e_ws_send_text(&ws, "5");
    char *ack = ws_expect(&ws, "43/k8s-logs,9[", DM_E2E_T_MS, "the ack made during the upgrade");
    free(ack);
    /* The session is the WebSocket's now: polling it is refused. */
    char *after;
    int status = poll_body(sid, &after);
    ck_assert_msg(status == 400, "a poll after the upgrade: %d %s", status, after);
    free(after);
    dm_e2e_ws_send_text(&ws, "42/k8s-logs,10[\"unsubscribe-logs\",{}]");
    free(ws_expect(&ws, "43/k8s-logs,10[", DM_E2E_T_MS, "an ack on the WebSocket"));
    dm_e2e_close(&ws);
    free(tok);
}
END_TEST

/* A probe for a session that does not exist, and a second probe, are refused. */
START_TEST(probes_need_a_polling_session)
{
    dm_e2e_conn c;
    connect_from(&c, "127.0.0.1");
    int status = dm_e2e_ws_open(&c, "/socket.io/?EIO=4&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA");
    ck_assert_msg(status == 400, "unknown sid: %d", status);
    dm_e2e_close(&c);
    char sid[32], wsq[96];
    handshake(sid);
    snprintf(wsq, sizeof wsq, "EIO=4&transport=websocket&sid=%s", sid);
    dm_e2e_conn a, b;
    ws_connect(&a, wsq);
    connect_from(&b, "127.0.0.1");
    char target[128];
    snprintf(target, sizeof target, "/socket.io/?%s", wsq);
    status = dm_e2e_ws_open(&b, target);
    ck_assert_msg(status == 400, "a second probe: %d", status);
    dm_e2e_close(&b);
    dm_e2e_close(&a);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("engineio_e2e");
    TCase *tc = tcase_create("polling");
    tcase_add_unchecked_fixture(tc, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, handshake_opens_a_session);
    tcase_add_test(tc, bad_handshakes_are_refused);
    tcase_add_test(tc, a_session_answers_only_its_own_address);
    tcase_add_test(tc, a_long_poll_waits_for_the_ping);
    tcase_add_test(tc, a_client_that_stops_answering_pings_is_dropped);
    tcase_add_test(tc, two_polls_at_once_end_the_session);
    tcase_add_test(tc, a_poll_whose_client_leaves_is_forgotten);
    tcase_add_test(tc, payloads_over_max_payload_end_the_session);
    tcase_add_test(tc, packets_the_server_does_not_take_end_the_session);
    tcase_add_test(tc, the_client_closes_with_a_close_packet);
    tcase_add_test(tc, unknown_namespaces_and_missing_tokens_are_refused);
    tcase_add_test(tc, a_good_token_joins_and_events_are_acked);
    tcase_add_test(tc, draining_answers_a_waiting_poll);
    suite_add_tcase(s, tc);
    TCase *ws = tcase_create("websocket");
    tcase_add_unchecked_fixture(ws, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(ws, setup, teardown);
    tcase_set_timeout(ws, 60);
    tcase_add_test(ws, a_websocket_session_lives_by_its_heartbeat);
    tcase_add_test(ws, a_websocket_session_refuses_garbage);
    tcase_add_test(ws, the_upgrade_loses_no_packet);
    tcase_add_test(ws, probes_need_a_polling_session);
    suite_add_tcase(s, ws);
    return s;
}

DM_TEST_MAIN(make_suite)
