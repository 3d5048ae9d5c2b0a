/*
 * test_http_limits.c — the server's limits and framing over real sockets:
 * 431 (header bytes, header count), 413 (Content-Length, chunked), chunked
 * bodies, Expect: 100-continue, 408 header timeout, idle close, the
 * connection cap, and request smuggling → 400 and close. Pipelining is in
 * test_http_pipeline.c.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dm_test.h"
#include "e2e.h"

#define T_MS DM_E2E_T_MS

static dm_e2e_server srv;

static void start(json_t *overrides)
{
    dm_e2e_server_start(&srv, overrides);
}

static void teardown(void)
{
    dm_e2e_server_finish(&srv);
}

static void connect_ok(dm_e2e_conn *c)
{
    dm_e2e_connect_ok(c, srv.port);
}

#define send_ok dm_e2e_send_ok
#define read_ok dm_e2e_read_ok
#define filler dm_e2e_filler
#define expect_in_order dm_e2e_expect_in_order

static void expect_refused(const char *req, size_t len, int status, const char *what)
{
    dm_e2e_expect_refused(srv.port, req, len, status, what);
}

static void expect_status(const char *req, int status, const char *what)
{
    dm_e2e_expect_status(srv.port, req, status, what);
}

/* ---- 431 -------------------------------------------------------------- */

static char *request_with_header_bytes(size_t value_len)
{
    char *v = filler(value_len, 'a');
    size_t n = value_len + 128;
    char *req = malloc(n);
    ck_assert_msg(req != NULL, "out of memory");
    snprintf(req, n, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: %s\r\n\r\n", v);
    free(v);
    return req;
}

START_TEST(test_431_when_headers_exceed_16k)
{
    start(NULL);
    char *req = request_with_header_bytes(17 * 1024);
    expect_refused(req, strlen(req), 431, "17 KiB header");
    free(req);
    /* The request line counts too. */
    char *q = filler(17 * 1024, 'q');
    size_t n = strlen(q) + 64;
    req = malloc(n);
    ck_assert_msg(req != NULL, "out of memory");
    snprintf(req, n, "GET /healthz?q=%s HTTP/1.1\r\nHost: t\r\n\r\n", q);
    expect_refused(req, strlen(req), 431, "17 KiB request target");
    free(q);
    free(req);
}
END_TEST

/* A client that streams an endless header gets its 431 while still
 * sending: the server must not wait for the end of the headers. */
START_TEST(test_431_without_waiting_for_the_end_of_headers)
{
    start(NULL);
    dm_e2e_conn c;
    dm_e2e_response res;
    connect_ok(&c);
    send_ok(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Endless: ");
    char *chunk = filler(4096, 'e');
    size_t sent = 0;
    while (sent < 4u * 1024u * 1024u && !dm_e2e_readable(&c, 1)) {
        if (dm_e2e_send(&c, chunk, 4096) != 0)
            break; /* the server closed after answering: read the answer */
        sent += 4096;
    }
    free(chunk);
    int rc = dm_e2e_read_response(&c, &res, T_MS, false);
    ck_assert_msg(rc == 0, "no answer to an endless header after %zu bytes: %s", sent,
                  dm_e2e_strerror(rc));
    dm_e2e_assert_error(&res, 431, "endless header");
    dm_e2e_response_free(&res);
    dm_e2e_close(&c);
}
END_TEST

START_TEST(test_headers_under_16k_accepted)
{
    start(NULL);
    char *req = request_with_header_bytes(15 * 1024);
    expect_status(req, 200, "15 KiB header");
    free(req);
}
END_TEST

/* A request with n header fields in total (Host included). */
static char *request_with_headers(int n)
{
    size_t cap = (size_t)n * 32 + 64;
    char *req = malloc(cap);
    ck_assert_msg(req != NULL, "out of memory");
    size_t len = (size_t)snprintf(req, cap, "GET /healthz HTTP/1.1\r\nHost: t\r\n");
    for (int i = 1; i < n; i++)
        len += (size_t)snprintf(req + len, cap - len, "X-H%d: %d\r\n", i, i);
    snprintf(req + len, cap - len, "\r\n");
    return req;
}

START_TEST(test_431_when_more_than_100_headers)
{
    start(NULL);
    char *req = request_with_headers(101);
    expect_refused(req, strlen(req), 431, "101 headers");
    free(req);
    req = request_with_headers(100);
    expect_status(req, 200, "100 headers");
    free(req);
}
END_TEST

START_TEST(test_431_limits_follow_config)
{
    start(json_pack("{s:{s:i,s:i}}", "server", "maxHeaders", 10, "maxHeaderBytes", 1024));
    char *req = request_with_headers(11);
    expect_refused(req, strlen(req), 431, "11 headers with maxHeaders 10");
    free(req);
    req = request_with_headers(10);
    expect_status(req, 200, "10 headers with maxHeaders 10");
    free(req);
    req = request_with_header_bytes(1100);
    expect_refused(req, strlen(req), 431, "1100-byte header with maxHeaderBytes 1024");
    free(req);
}
END_TEST

/* Counters of header bytes and fields must restart with each request on a
 * keep-alive connection. */
START_TEST(test_header_limits_apply_per_request)
{
    start(NULL);
    char *big = request_with_header_bytes(15 * 1024);
    char *many = request_with_headers(100);
    dm_e2e_conn c;
    dm_e2e_response res;
    connect_ok(&c);
    for (int i = 0; i < 6; i++) {
        send_ok(&c, i % 2 == 0 ? big : many);
        read_ok(&c, &res, false, "request near the header limits");
        ck_assert_msg(res.status == 200, "request %d near the limits on one connection: status %d",
                      i + 1, res.status);
        dm_e2e_response_free(&res);
    }
    free(big);
    free(many);
    dm_e2e_close(&c);
}
END_TEST

/* ---- bodies: 413, chunked, 100-continue ------------------------------- */

START_TEST(test_get_with_body_is_framed)
{
    start(NULL);
    dm_e2e_conn c;
    connect_ok(&c);
    send_ok(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 30\r\nX-Request-Id: g1\r\n\r\n"
                "GET /missing HTTP/1.1\r\n\r\nxxxxx" /* 30 bytes of body */
                "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: g2\r\n\r\n");
    const char *ids[] = { "g1", "g2" };
    const int statuses[] = { 200, 200 };
    expect_in_order(&c, 2, ids, statuses);
    dm_e2e_close(&c);
}
END_TEST


START_TEST(test_413_content_length_over_default_1mib)
{
    start(NULL);
    /* Only the headers: the answer must not wait for a body never sent. */
    const char *req = "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                      "Content-Length: 1048577\r\n\r\n";
    expect_refused(req, strlen(req), 413, "Content-Length 1 MiB + 1");
}
END_TEST

START_TEST(test_body_of_exactly_1mib_accepted)
{
    start(NULL);
    dm_e2e_conn c;
    dm_e2e_response res;
    connect_ok(&c);
    send_ok(&c, "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\n\r\n");
    char *body = filler(1048576, 'b');
    ck_assert_msg(dm_e2e_send(&c, body, 1048576) == 0, "sending a 1 MiB body failed");
    free(body);
    read_ok(&c, &res, false, "1 MiB body");
    /* /healthz is GET-only: 405 proves the whole body was read and routed. */
    ck_assert_msg(res.status == 405, "1 MiB body: status %d, expected 405: %s", res.status, res.body);
    dm_e2e_response_free(&res);
    send_ok(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    read_ok(&c, &res, false, "GET after a 1 MiB body");
    ck_assert_msg(res.status == 200, "GET after a 1 MiB body: status %d", res.status);
    dm_e2e_response_free(&res);
    dm_e2e_close(&c);
}
END_TEST

START_TEST(test_413_chunked_body_over_limit)
{
    start(json_pack("{s:{s:i}}", "server", "maxBodyBytes", 1024));
    char *chunk = filler(600, 'c');
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "258\r\n%s\r\n258\r\n%s\r\n0\r\n\r\n",
                     chunk, chunk);
    free(chunk);
    expect_refused(req, (size_t)n, 413, "chunked body of 1200 bytes with maxBodyBytes 1024");
}
END_TEST

START_TEST(test_413_content_length_follows_config)
{
    start(json_pack("{s:{s:i}}", "server", "maxBodyBytes", 1024));
    const char *req = "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 1025\r\n\r\n";
    expect_refused(req, strlen(req), 413, "Content-Length 1025 with maxBodyBytes 1024");
    char ok[1200];
    char *body = filler(1024, 'x');
    snprintf(ok, sizeof ok, "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 1024\r\n\r\n%s",
             body);
    free(body);
    expect_status(ok, 405, "1024-byte body with maxBodyBytes 1024");
}
END_TEST

START_TEST(test_chunked_body_is_parsed_and_connection_reused)
{
    start(NULL);
    dm_e2e_conn c;
    dm_e2e_response res;
    connect_ok(&c);
    /* The chunked body and the next request in one write: the second
     * request is only found if the chunked framing was parsed right. */
    send_ok(&c, "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\nX-Request-Id: chunked-post\r\n\r\n"
                "7\r\n{\"a\":1,\r\n"
                "A\r\n\"b\":\"xyz\"}\r\n"
                "0\r\n\r\n"
                "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: after-chunked\r\n\r\n");
    read_ok(&c, &res, false, "chunked POST");
    dm_e2e_assert_error(&res, 405, "chunked POST /healthz");
    const char *id = dm_e2e_header(&res, "X-Request-Id");
    ck_assert_msg(id != NULL && strcmp(id, "chunked-post") == 0, "first response id %s", id);
    dm_e2e_response_free(&res);
    read_ok(&c, &res, false, "GET after chunked POST");
    id = dm_e2e_header(&res, "X-Request-Id");
    ck_assert_msg(res.status == 200 && id != NULL && strcmp(id, "after-chunked") == 0,
                  "request after a chunked body: status %d id %s", res.status, id ? id : "-");
    dm_e2e_response_free(&res);
    dm_e2e_close(&c);
}
END_TEST

START_TEST(test_json_post_to_get_route_is_405_after_body)
{
    start(NULL);
    dm_e2e_conn c;
    dm_e2e_response res;
    connect_ok(&c);
    send_ok(&c, "POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                "Content-Length: 13\r\n\r\n{\"hello\":\"x\"}");
    read_ok(&c, &res, false, "JSON POST /metrics");
    dm_e2e_assert_error(&res, 405, "JSON POST /metrics");
    dm_e2e_response_free(&res);
    send_ok(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    read_ok(&c, &res, false, "GET after JSON POST");
    ck_assert_msg(res.status == 200, "GET after a JSON POST: status %d (body bytes left over?)",
                  res.status);
    dm_e2e_response_free(&res);
    dm_e2e_close(&c);
}
END_TEST

START_TEST(test_expect_100_continue)
{
    start(NULL);
    dm_e2e_conn c;
    dm_e2e_response res;
    connect_ok(&c);
    send_ok(&c, "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                "Content-Length: 7\r\nExpect: 100-continue\r\n\r\n");
    /* Nothing of the body is sent until the server says so. */
    read_ok(&c, &res, false, "interim response to Expect: 100-continue");
    ck_assert_msg(res.status == 100 && res.http_minor == 1,
                  "expected HTTP/1.1 100 Continue before the body, got HTTP/1.%d %d",
                  res.http_minor, res.status);
    dm_e2e_response_free(&res);
    send_ok(&c, "{\"a\":1}");
    read_ok(&c, &res, false, "final response after 100-continue");
    dm_e2e_assert_error(&res, 405, "POST /healthz after 100-continue");
    dm_e2e_response_free(&res);
    send_ok(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    read_ok(&c, &res, false, "GET after 100-continue");
    ck_assert_msg(res.status == 200, "GET after 100-continue exchange: status %d", res.status);
    dm_e2e_response_free(&res);
    dm_e2e_close(&c);
}
END_TEST

START_TEST(test_expect_100_continue_refused_when_too_large)
{
    start(NULL);
    const char *req = "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5000000\r\n"
                      "Expect: 100-continue\r\n\r\n";
    /* 413 straight away, never a 100 inviting a body we will refuse. */
    expect_refused(req, strlen(req), 413, "Expect: 100-continue with a 5 MB body");
}
END_TEST

START_TEST(test_expect_other_is_417)
{
    start(NULL);
    const char *req = "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
                      "Expect: 200-ok\r\n\r\n{}";
    expect_refused(req, strlen(req), 417, "Expect: 200-ok");
}
END_TEST

/* ---- time limits ------------------------------------------------------ */

START_TEST(test_408_when_headers_incomplete)
{
    start(json_pack("{s:{s:i}}", "server", "headerTimeoutMs", 300));
    dm_e2e_conn c;
    dm_e2e_response res;
    connect_ok(&c);
    long long t0 = dm_e2e_now_ms();
    send_ok(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\n");
    read_ok(&c, &res, false, "incomplete headers");
    long long waited = dm_e2e_now_ms() - t0;
    dm_e2e_assert_error(&res, 408, "headers not completed");
    ck_assert_msg(waited >= 250 && waited < 3000,
                  "408 after %lld ms, expected about the 300 ms header timeout", waited);
    ck_assert_msg(dm_e2e_wait_closed(&c, T_MS) == 0, "connection still open after 408");
    dm_e2e_response_free(&res);
    dm_e2e_close(&c);
}
END_TEST

START_TEST(test_408_slow_drip_does_not_extend_the_deadline)
{
    start(json_pack("{s:{s:i}}", "server", "headerTimeoutMs", 300));
    dm_e2e_conn c;
    dm_e2e_response res;
    connect_ok(&c);
    const char *req = "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    long long t0 = dm_e2e_now_ms();
    size_t i = 0;
    /* One byte every 40 ms: a slowloris that never stops talking. */
    while (i < strlen(req) && !dm_e2e_readable(&c, 40)) {
        if (dm_e2e_send(&c, req + i, 1) != 0)
            break;
        i++;
    }
    ck_assert_msg(i < strlen(req), "the whole request was dripped in %lld ms without a 408",
                  dm_e2e_now_ms() - t0);
    read_ok(&c, &res, false, "slow drip");
    long long waited = dm_e2e_now_ms() - t0;
    dm_e2e_assert_error(&res, 408, "slow drip of headers");
    ck_assert_msg(waited < 1500, "408 only after %lld ms of dripping; the header deadline (300 ms) "
                                 "must count from the first byte",
                  waited);
    dm_e2e_response_free(&res);
    dm_e2e_close(&c);
}
END_TEST

START_TEST(test_408_when_body_stalls)
{
    start(json_pack("{s:{s:i}}", "server", "headerTimeoutMs", 300));
    dm_e2e_conn c;
    dm_e2e_response res;
    connect_ok(&c);
    send_ok(&c, "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    int rc = dm_e2e_read_response(&c, &res, T_MS, false);
    ck_assert_msg(rc == 0, "a stalled body got no answer within %d ms: %s", T_MS,
                  dm_e2e_strerror(rc));
    dm_e2e_assert_error(&res, 408, "stalled body");
    ck_assert_msg(dm_e2e_wait_closed(&c, T_MS) == 0, "connection open after 408 for a stalled body");
    dm_e2e_response_free(&res);
    dm_e2e_close(&c);
}
END_TEST

/* server.requestTimeoutMs counts from a request's first byte, whatever
 * arrives after it: a client dripping one byte every 300 ms (never idle
 * for as long as any per-read timer) still gets 408 and the close about
 * 1000 ms after it began. `head` goes out at once, then `drip` byte by
 * byte; waiting for the answer is the pacing, so the 408 is seen when it
 * comes. Header and idle timeouts are far off (10 s). */
static void expect_408_at_request_deadline(const char *head, const char *drip, const char *what)
{
    enum { DEADLINE = 1000, PACE = 300, GIVE_UP = 4000 };
    start(json_pack("{s:{s:i,s:i,s:i}}", "server", "requestTimeoutMs", DEADLINE, "headerTimeoutMs", 10000,
                    "idleTimeoutMs", 10000));
    dm_e2e_conn c;
    dm_e2e_response res;
    connect_ok(&c);
    long long t0 = dm_e2e_now_ms();
    if (head[0] != '\0')
        send_ok(&c, head);
    size_t i = 0, n = strlen(drip);
    while (i < n && dm_e2e_send(&c, drip + i, 1) == 0) {
        i++;
        if (dm_e2e_readable(&c, PACE) || dm_e2e_now_ms() - t0 >= GIVE_UP)
            break;
    }
    ck_assert_msg(c.len > 0 || c.eof, "%s: no answer after %lld ms of dripping (%zu of %zu bytes sent); "
                                      "server.requestTimeoutMs is %d",
                  what, dm_e2e_now_ms() - t0, i, n, DEADLINE);
    read_ok(&c, &res, false, what);
    long long waited = dm_e2e_now_ms() - t0;
    dm_e2e_assert_error(&res, 408, what);
    ck_assert_msg(waited >= DEADLINE - 50 && waited < DEADLINE + 1500,
                  "%s: 408 after %lld ms, expected at the %d ms request deadline", what, waited, DEADLINE);
    ck_assert_msg(dm_e2e_wait_closed(&c, T_MS) == 0, "%s: connection open after the 408", what);
    long long closed = dm_e2e_now_ms() - t0;
    ck_assert_msg(closed < DEADLINE + 1500, "%s: closed only after %lld ms", what, closed);
    dm_e2e_response_free(&res);
    dm_e2e_close(&c);
}

START_TEST(test_408_request_deadline_while_headers_drip)
{
    expect_408_at_request_deadline("", "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaa\r\n\r\n",
                                   "headers dripping");
}
END_TEST

START_TEST(test_408_request_deadline_while_body_drips)
{
    expect_408_at_request_deadline("POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 40\r\n\r\n",
                                   "0123456789012345678901234567890123456789", "body dripping");
}
END_TEST

START_TEST(test_408_on_a_later_request_of_a_keep_alive_connection)
{
    start(json_pack("{s:{s:i,s:i}}", "server", "headerTimeoutMs", 300, "idleTimeoutMs", 10000));
    dm_e2e_conn c;
    dm_e2e_response res;
    connect_ok(&c);
    send_ok(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    read_ok(&c, &res, false, "first request");
    dm_e2e_response_free(&res);
    long long t0 = dm_e2e_now_ms();
    send_ok(&c, "GET /healthz HTTP/1.1\r\nHost");
    read_ok(&c, &res, false, "second request left incomplete");
    long long waited = dm_e2e_now_ms() - t0;
    dm_e2e_assert_error(&res, 408, "second request left incomplete");
    ck_assert_msg(waited < 3000, "408 for the second request after %lld ms (header timeout 300 ms, "
                                 "idle 10 s)",
                  waited);
    ck_assert_msg(dm_e2e_wait_closed(&c, T_MS) == 0, "connection open after 408");
    dm_e2e_response_free(&res);
    dm_e2e_close(&c);
}
END_TEST

START_TEST(test_silent_connection_is_closed)
{
    start(json_pack("{s:{s:i}}", "server", "headerTimeoutMs", 300));
    dm_e2e_conn c;
    connect_ok(&c);
    long long t0 = dm_e2e_now_ms();
    ck_assert_msg(dm_e2e_wait_closed(&c, T_MS) == 0,
                  "a connection that never sent a byte is still open after %d ms", T_MS);
    long long waited = dm_e2e_now_ms() - t0;
    ck_assert_msg(waited >= 250, "silent connection closed after only %lld ms", waited);
    if (c.len > 0)
        ck_assert_msg(strncmp(c.buf, "HTTP/1.1 408 ", 13) == 0,
                      "a silent connection got something other than 408: %s", c.buf);
    dm_e2e_close(&c);
}
END_TEST

START_TEST(test_idle_keep_alive_closed_after_idle_timeout)
{
    start(json_pack("{s:{s:i,s:i}}", "server", "idleTimeoutMs", 300, "headerTimeoutMs", 5000));
    dm_e2e_conn c;
    dm_e2e_response res;
    connect_ok(&c);
    send_ok(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    read_ok(&c, &res, false, "request before idling");
    ck_assert_msg(res.status == 200, "status %d", res.status);
    dm_e2e_response_free(&res);
    long long t0 = dm_e2e_now_ms();
    ck_assert_msg(dm_e2e_wait_closed(&c, T_MS) == 0, "idle keep-alive connection still open "
                                                     "%d ms after its 300 ms idle timeout",
                  T_MS);
    long long waited = dm_e2e_now_ms() - t0;
    ck_assert_msg(waited >= 250, "idle connection closed after %lld ms, before its timeout", waited);
    ck_assert_msg(c.len == 0, "an idle close should be silent, got: %s", c.buf);
    dm_e2e_close(&c);
}
END_TEST

START_TEST(test_idle_wait_uses_idle_timeout_not_header_timeout)
{
    start(json_pack("{s:{s:i,s:i}}", "server", "idleTimeoutMs", 5000, "headerTimeoutMs", 300));
    dm_e2e_conn c;
    dm_e2e_response res;
    connect_ok(&c);
    send_ok(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    read_ok(&c, &res, false, "first request");
    dm_e2e_response_free(&res);
    /* Between requests the 5 s idle timeout applies, not the 300 ms one. */
    ck_assert_msg(!dm_e2e_readable(&c, 900),
                  "between requests the connection was answered or closed within 900 ms%s%s",
                  c.len > 0 ? ": " : "", c.len > 0 ? c.buf : "");
    send_ok(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    read_ok(&c, &res, false, "second request after 900 ms idle");
    ck_assert_msg(res.status == 200, "second request: status %d", res.status);
    dm_e2e_response_free(&res);
    dm_e2e_close(&c);
}
END_TEST

/* ---- connection cap --------------------------------------------------- */

START_TEST(test_connection_cap_rejects_and_counts)
{
    start(json_pack("{s:{s:i}}", "server", "maxConnections", 2));
    dm_e2e_conn a, b, extra;
    dm_e2e_response res;
    connect_ok(&a);
    connect_ok(&b);
    send_ok(&a, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    read_ok(&a, &res, false, "first connection");
    dm_e2e_response_free(&res);
    send_ok(&b, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    read_ok(&b, &res, false, "second connection");
    dm_e2e_response_free(&res);

    /* The third is accepted by the kernel and closed by the server. */
    connect_ok(&extra);
    (void)dm_e2e_send_str(&extra, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"); /* may fail */
    ck_assert_msg(dm_e2e_wait_closed(&extra, T_MS) == 0,
                  "a connection beyond maxConnections=2 was not closed");
    ck_assert_msg(extra.len == 0, "a connection beyond the cap was answered: %s", extra.buf);
    dm_e2e_close(&extra);

    send_ok(&a, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    read_ok(&a, &res, false, "metrics at the cap");
    long long rejected = dm_e2e_metric(res.body, "dermaga_http_connections_rejected_total");
    ck_assert_msg(rejected == 1, "dermaga_http_connections_rejected_total is %lld, expected 1",
                  rejected);
    dm_e2e_response_free(&res);

    /* A slot freed by a client is usable again (the server notices the
     * close asynchronously, so retry for a bounded time). */
    dm_e2e_close(&b);
    long long deadline = dm_e2e_now_ms() + 3000;
    int status = 0;
    while (status != 200 && dm_e2e_now_ms() < deadline) {
        if (dm_e2e_roundtrip(srv.port, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", &res, 1000) == 0)
            status = res.status;
        dm_e2e_response_free(&res);
        if (status != 200)
            usleep(5000);
    }
    ck_assert_msg(status == 200, "no connection was served after one of two closed");
    dm_e2e_close(&a);
}
END_TEST

/* ---- smuggling -------------------------------------------------------- */

/* Each of these is followed, in the same write, by a request that must
 * never be answered: a smuggled request is exactly that. */
#define SMUGGLED "GET /metrics HTTP/1.1\r\nHost: t\r\nX-Request-Id: smuggled\r\n\r\n"

START_TEST(test_400_content_length_with_transfer_encoding)
{
    start(NULL);
    const char *req = "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" SMUGGLED;
    expect_refused(req, strlen(req), 400, "Content-Length with Transfer-Encoding");
    const char *req2 = "POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                       "Content-Length: 5\r\n\r\n0\r\n\r\n" SMUGGLED;
    expect_refused(req2, strlen(req2), 400, "Transfer-Encoding then Content-Length");
}
END_TEST

START_TEST(test_400_two_content_lengths)
{
    start(NULL);
    const char *diff = "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
                       "Content-Length: 0\r\n\r\n{}" SMUGGLED;
    expect_refused(diff, strlen(diff), 400, "two different Content-Lengths");
    const char *same = "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
                       "Content-Length: 2\r\n\r\n{}" SMUGGLED;
    expect_refused(same, strlen(same), 400, "two equal Content-Lengths");
    const char *list = "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 2, 2\r\n\r\n{}" SMUGGLED;
    expect_refused(list, strlen(list), 400, "Content-Length: 2, 2");
}
END_TEST

START_TEST(test_400_bad_chunk_sizes)
{
    start(NULL);
    const char *zz = "POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "zz\r\nhello\r\n0\r\n\r\n" SMUGGLED;
    expect_refused(zz, strlen(zz), 400, "chunk size zz");
    const char *neg = "POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "-5\r\nhello\r\n0\r\n\r\n" SMUGGLED;
    expect_refused(neg, strlen(neg), 400, "chunk size -5");
    const char *huge = "POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "fffffffffffffffff1\r\nhello\r\n0\r\n\r\n" SMUGGLED;
    expect_refused(huge, strlen(huge), 400, "chunk size that overflows 64 bits");
}
END_TEST

/* The CRLF after chunk data is part of the framing: anything else there
 * must not be skipped as if it were one. */
START_TEST(test_400_chunk_data_without_crlf)
{
    start(NULL);
    const char *req = "POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhelloXX0\r\n\r\n" SMUGGLED;
    expect_refused(req, strlen(req), 400, "chunk data followed by XX instead of CRLF");
}
END_TEST

START_TEST(test_400_other_framing_tricks)
{
    start(NULL);
    const char *te = "POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n"
                     "hello" SMUGGLED;
    expect_refused(te, strlen(te), 400, "Transfer-Encoding without chunked last");
    const char *sp = "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length : 5\r\n\r\nhello" SMUGGLED;
    expect_refused(sp, strlen(sp), 400, "space before the colon of Content-Length");
    const char *bad = "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5x\r\n\r\nhello" SMUGGLED;
    expect_refused(bad, strlen(bad), 400, "Content-Length 5x");
}
END_TEST

START_TEST(test_server_fine_after_refusals)
{
    start(NULL);
    const char *zz = "POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    for (int i = 0; i < 20; i++)
        expect_refused(zz, strlen(zz), 400, "repeated bad chunk size");
    expect_status("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 200, "GET after 20 refusals");
    long long open = dm_e2e_fetch_metric(srv.port, "dermaga_http_open_connections");
    ck_assert_msg(open == 1, "dermaga_http_open_connections is %lld after refusals, expected 1 "
                             "(the /metrics connection itself)",
                  open);
}
END_TEST

static TCase *tcase(Suite *s, const char *name, int timeout_s)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, timeout_s);
    suite_add_tcase(s, tc);
    return tc;
}

static Suite *make_suite(void)
{
    Suite *s = suite_create("e2e_http_limits");
    TCase *tc = tcase(s, "headers", 30);
    tcase_add_test(tc, test_431_when_headers_exceed_16k);
    tcase_add_test(tc, test_431_without_waiting_for_the_end_of_headers);
    tcase_add_test(tc, test_headers_under_16k_accepted);
    tcase_add_test(tc, test_431_when_more_than_100_headers);
    tcase_add_test(tc, test_431_limits_follow_config);
    tcase_add_test(tc, test_header_limits_apply_per_request);

    tc = tcase(s, "bodies", 30);
    tcase_add_test(tc, test_413_content_length_over_default_1mib);
    tcase_add_test(tc, test_get_with_body_is_framed);
    tcase_add_test(tc, test_body_of_exactly_1mib_accepted);
    tcase_add_test(tc, test_413_chunked_body_over_limit);
    tcase_add_test(tc, test_413_content_length_follows_config);
    tcase_add_test(tc, test_chunked_body_is_parsed_and_connection_reused);
    tcase_add_test(tc, test_json_post_to_get_route_is_405_after_body);
    tcase_add_test(tc, test_expect_100_continue);
    tcase_add_test(tc, test_expect_100_continue_refused_when_too_large);
    tcase_add_test(tc, test_expect_other_is_417);

    tc = tcase(s, "timeouts", 30);
    tcase_add_test(tc, test_408_when_headers_incomplete);
    tcase_add_test(tc, test_408_slow_drip_does_not_extend_the_deadline);
    tcase_add_test(tc, test_408_when_body_stalls);
    tcase_add_test(tc, test_408_request_deadline_while_headers_drip);
    tcase_add_test(tc, test_408_request_deadline_while_body_drips);
    tcase_add_test(tc, test_408_on_a_later_request_of_a_keep_alive_connection);
    tcase_add_test(tc, test_silent_connection_is_closed);
    tcase_add_test(tc, test_idle_keep_alive_closed_after_idle_timeout);
    tcase_add_test(tc, test_idle_wait_uses_idle_timeout_not_header_timeout);

    tc = tcase(s, "connections", 30);
    tcase_add_test(tc, test_connection_cap_rejects_and_counts);

    tc = tcase(s, "smuggling", 30);
    tcase_add_test(tc, test_400_content_length_with_transfer_encoding);
    tcase_add_test(tc, test_400_two_content_lengths);
    tcase_add_test(tc, test_400_bad_chunk_sizes);
    tcase_add_test(tc, test_400_chunk_data_without_crlf);
    tcase_add_test(tc, test_400_other_framing_tricks);
    tcase_add_test(tc, test_server_fine_after_refusals);
    return s;
}

DM_TEST_MAIN(make_suite)
