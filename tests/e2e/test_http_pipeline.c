/*
 * test_http_pipeline.c — several requests on one connection: responses in
 * arrival order (also behind a slow worker-pool request and past
 * server.maxPipeline), Connection: close and errors ending a pipeline, a
 * half-closed client, and clients that vanish while their request runs.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
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
#define expect_in_order dm_e2e_expect_in_order

static void expect_status(const char *req, int status, const char *what)
{
    dm_e2e_expect_status(srv.port, req, status, what);
}

START_TEST(test_pipelined_requests_answered_in_order)
{
    start(NULL);
    dm_e2e_conn c;
    connect_ok(&c);
    send_ok(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: p1\r\n\r\n"
                "GET /missing HTTP/1.1\r\nHost: t\r\nX-Request-Id: p2\r\n\r\n"
                "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nX-Request-Id: p3\r\n\r\n{}"
                "GET /metrics HTTP/1.1\r\nHost: t\r\nX-Request-Id: p4\r\n\r\n"
                "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: p5\r\n\r\n");
    const char *ids[] = { "p1", "p2", "p3", "p4", "p5" };
    const int statuses[] = { 200, 404, 405, 200, 200 };
    expect_in_order(&c, 5, ids, statuses);
    ck_assert_msg(!dm_e2e_readable(&c, 200), "extra bytes or a close after 5 responses");
    dm_e2e_close(&c);
}
END_TEST

START_TEST(test_pipeline_order_kept_behind_a_slow_pool_request)
{
    int hole_port = 0;
    int hole = dm_e2e_blackhole_listen(&hole_port);
    ck_assert_msg(hole >= 0, "cannot open the never-answering listener");
    char url[128];
    snprintf(url, sizeof url, "postgresql://postgres@127.0.0.1:%d/postgres", hole_port);
    start(json_pack("{s:{s:s,s:i,s:i}}", "database", "url", url, "connectTimeoutS", 2, "workers", 1));
    dm_e2e_conn c;
    connect_ok(&c);
    /* /readyz waits 2 s (libpq's shortest connect timeout) on the hung
     * database; the two after it are ready at once but must not overtake it. */
    send_ok(&c, "GET /readyz HTTP/1.1\r\nHost: t\r\nX-Request-Id: slow\r\n\r\n"
                "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: fast1\r\n\r\n"
                "GET /missing HTTP/1.1\r\nHost: t\r\nX-Request-Id: fast2\r\n\r\n");
    const char *ids[] = { "slow", "fast1", "fast2" };
    const int statuses[] = { 503, 200, 404 };
    expect_in_order(&c, 3, ids, statuses);
    dm_e2e_close(&c);
    close(hole);
}
END_TEST

START_TEST(test_pipeline_longer_than_max_pipeline)
{
    start(json_pack("{s:{s:i}}", "server", "maxPipeline", 4));
    enum { N = 40 };
    static char ids_buf[N][16];
    const char *ids[N];
    int statuses[N];
    char *req = malloc(N * 80);
    ck_assert_msg(req != NULL, "out of memory");
    size_t len = 0;
    for (int i = 0; i < N; i++) {
        snprintf(ids_buf[i], sizeof ids_buf[i], "req-%02d", i);
        ids[i] = ids_buf[i];
        statuses[i] = i % 3 == 0 ? 404 : 200;
        len += (size_t)snprintf(req + len, N * 80 - len, "GET %s HTTP/1.1\r\nHost: t\r\nX-Request-Id: %s\r\n\r\n",
                                i % 3 == 0 ? "/nope" : "/healthz", ids[i]);
    }
    dm_e2e_conn c;
    connect_ok(&c);
    ck_assert_msg(dm_e2e_send(&c, req, len) == 0, "sending 40 pipelined requests failed");
    free(req);
    expect_in_order(&c, N, ids, statuses);
    dm_e2e_close(&c);
}
END_TEST

START_TEST(test_pipeline_stops_after_connection_close)
{
    start(NULL);
    dm_e2e_conn c;
    connect_ok(&c);
    send_ok(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: c1\r\n\r\n"
                "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: c2\r\nConnection: close\r\n\r\n"
                "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: c3\r\n\r\n");
    const char *ids[] = { "c1", "c2" };
    const int statuses[] = { 200, 200 };
    expect_in_order(&c, 2, ids, statuses);
    ck_assert_msg(dm_e2e_wait_closed(&c, T_MS) == 0, "not closed after Connection: close");
    ck_assert_msg(c.len == 0, "a request after Connection: close was answered: %s", c.buf);
    dm_e2e_close(&c);
}
END_TEST

/* A malformed request behind good ones: the good ones are answered first,
 * in order (one on the pool), then the 400, then the close. */
START_TEST(test_pipeline_error_after_good_requests)
{
    start(NULL);
    dm_e2e_conn c;
    connect_ok(&c);
    send_ok(&c, "GET /readyz HTTP/1.1\r\nHost: t\r\nX-Request-Id: e1\r\n\r\n"
                "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: e2\r\n\r\n"
                "POST /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: e3\r\n"
                "Transfer-Encoding: chunked\r\n\r\nzz\r\n\r\n"
                "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: e4\r\n\r\n");
    const char *ids[] = { "e1", "e2", "e3" };
    const int statuses[] = { 503, 200, 400 };
    expect_in_order(&c, 3, ids, statuses);
    ck_assert_msg(dm_e2e_wait_closed(&c, T_MS) == 0, "connection open after the 400");
    ck_assert_msg(c.len == 0, "the request after the malformed one was answered: %s", c.buf);
    dm_e2e_close(&c);
}
END_TEST

/* The client sends its requests and half-closes: every answer still comes,
 * including one from the worker pool, then the server closes. */
START_TEST(test_half_closed_client_still_answered)
{
    start(NULL); /* /readyz goes to the pool and fails fast (refused database) */
    dm_e2e_conn c;
    connect_ok(&c);
    send_ok(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: h1\r\n\r\n"
                "GET /readyz HTTP/1.1\r\nHost: t\r\nX-Request-Id: h2\r\n\r\n"
                "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: h3\r\n\r\n");
    ck_assert_msg(dm_e2e_shutdown_write(&c) == 0, "shutdown(SHUT_WR) failed");
    const char *ids[] = { "h1", "h2", "h3" };
    const int statuses[] = { 200, 503, 200 };
    expect_in_order(&c, 3, ids, statuses);
    ck_assert_msg(dm_e2e_wait_closed(&c, T_MS) == 0, "server kept a half-closed connection open");
    dm_e2e_close(&c);
}
END_TEST

/* Whole pipelined requests, then the start of another one, then the
 * half-close. N_BIG of the whole ones ask for /openapi.json (about 180 KB
 * each). The client's small receive buffer and segment size keep the
 * kernel's buffers on both sides small (on loopback the server's send
 * buffer otherwise starts at megabytes), so when the server reads the EOF
 * most of those answers still wait in its own write queue. Every whole
 * request must be answered in full, in order, and then the connection
 * closes; the request cut off by the EOF is not answered. The cut falls at
 * every byte of the last request, on one server. */
enum { N_BIG = 3 };

static void connect_narrow(dm_e2e_conn *c)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_msg(c->fd >= 0, "socket: %s", strerror(errno));
    int rcvbuf = 4096, mss = 1000; /* before connect: they shape the handshake */
    ck_assert_msg(setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) == 0, "SO_RCVBUF");
    ck_assert_msg(setsockopt(c->fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss) == 0, "TCP_MAXSEG");
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)srv.port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_msg(connect(c->fd, (struct sockaddr *)&a, sizeof a) == 0, "connect: %s", strerror(errno));
}
/* Never whole: its body is 5 of the 10 bytes it announces. */
static const char cut_request[] = "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n01234";

static void expect_all_before_close(size_t cut)
{
    dm_e2e_conn c;
    connect_narrow(&c);
    static char ids_buf[N_BIG + 1][24];
    const char *ids[N_BIG + 1];
    char req[(N_BIG + 1) * 96];
    size_t len = 0;
    for (int i = 0; i <= N_BIG; i++) {
        snprintf(ids_buf[i], sizeof ids_buf[i], "cut%zu-%d", cut, i);
        ids[i] = ids_buf[i];
        len += (size_t)snprintf(req + len, sizeof req - len, "GET %s HTTP/1.1\r\nHost: t\r\nX-Request-Id: %s\r\n\r\n",
                                i == N_BIG ? "/healthz" : "/openapi.json", ids[i]);
    }
    ck_assert_msg(len + cut < sizeof req, "request buffer too small");
    memcpy(req + len, cut_request, cut);
    len += cut;
    ck_assert_msg(dm_e2e_send(&c, req, len) == 0, "sending the pipeline (cut at %zu) failed", cut);
    ck_assert_msg(dm_e2e_shutdown_write(&c) == 0, "shutdown(SHUT_WR) failed");
    for (int i = 0; i <= N_BIG; i++) {
        dm_e2e_response res;
        int rc = dm_e2e_read_response(&c, &res, T_MS, false);
        ck_assert_msg(rc == 0, "cut at byte %zu of the last request: response %d of %d: %s", cut, i + 1,
                      N_BIG + 1, dm_e2e_strerror(rc));
        const char *id = dm_e2e_header(&res, "X-Request-Id");
        ck_assert_msg(res.status == 200 && id != NULL && strcmp(id, ids[i]) == 0,
                      "cut at %zu: response %d is %d for %s, expected 200 for %s", cut, i + 1, res.status,
                      id != NULL ? id : "(no id)", ids[i]);
        ck_assert_msg(res.has_length && res.body_len > (i == N_BIG ? 0u : 100000u),
                      "cut at %zu: response %d has a %zu-byte body", cut, i + 1, res.body_len);
        dm_e2e_response_free(&res);
    }
    ck_assert_msg(dm_e2e_wait_closed(&c, T_MS) == 0, "cut at %zu: still open after the last answer", cut);
    ck_assert_msg(c.len == 0, "cut at %zu: the cut-off request was answered: %.80s", cut, c.buf);
    dm_e2e_close(&c);
}

START_TEST(test_half_close_mid_request_keeps_queued_responses)
{
    start(NULL);
    for (size_t cut = 1; cut < sizeof cut_request; cut++)
        expect_all_before_close(cut);
}
END_TEST

/* A client that takes its answers in slowly is not idle. It asks for
 * /openapi.json (about 180 KB) N times and reads a small receive buffer's
 * worth every 10 ms: far longer than server.idleTimeoutMs while the answers
 * are still queued, and it must get all of them. The idle clock only runs
 * out on a client that stops reading altogether. */
static size_t read_one_slowly(dm_e2e_conn *c, long long t0)
{
    size_t want = 0; /* head plus Content-Length, once the head is in */
    while (want == 0 || c->len < want) {
        int rc = dm_e2e_fill(c, dm_e2e_now_ms() + T_MS);
        ck_assert_msg(rc == 0 && !c->eof, "after %zu more bytes and %lld ms of slow reading: %s", c->len,
                      dm_e2e_now_ms() - t0, c->eof ? "the server closed" : dm_e2e_strerror(rc));
        const char *end = want == 0 ? strstr(c->buf, "\r\n\r\n") : NULL;
        const char *cl = end != NULL ? strstr(c->buf, "Content-Length: ") : NULL;
        if (cl != NULL && cl < end)
            want = (size_t)(end + 4 - c->buf) + strtoul(cl + 16, NULL, 10);
        struct timespec pace = { .tv_sec = 0, .tv_nsec = 10 * 1000000L };
        nanosleep(&pace, NULL);
    }
    dm_e2e_consume(c, want);
    return want;
}

START_TEST(test_slow_reader_is_not_idle)
{
    enum { N = 8 };
    start(json_pack("{s:{s:i}}", "server", "idleTimeoutMs", 300));
    dm_e2e_conn c;
    connect_narrow(&c);
    for (int i = 0; i < N; i++)
        send_ok(&c, "GET /openapi.json HTTP/1.1\r\nHost: t\r\n\r\n");
    long long t0 = dm_e2e_now_ms();
    for (int i = 0; i < N; i++) {
        size_t got = read_one_slowly(&c, t0);
        ck_assert_msg(got > 100000, "response %d: %zu bytes, expected a large /openapi.json", i + 1, got);
    }
    long long took = dm_e2e_now_ms() - t0;
    ck_assert_msg(took > 600, "read in %lld ms: too fast to show anything (idle timeout 300 ms)", took);
    dm_e2e_close(&c);
}
END_TEST

/* A client that leaves while its request runs on the pool: the server must
 * drop the answer safely (the sanitizers watch this) and carry on. */
static void client_gone_while_in_flight(bool reset)
{
    int hole_port = 0;
    int hole = dm_e2e_blackhole_listen(&hole_port);
    ck_assert_msg(hole >= 0, "cannot open the never-answering listener");
    char url[128];
    snprintf(url, sizeof url, "postgresql://postgres@127.0.0.1:%d/postgres", hole_port);
    start(json_pack("{s:{s:s,s:i,s:i}}", "database", "url", url, "connectTimeoutS", 2, "workers", 2));
    for (int i = 0; i < 2; i++) {
        dm_e2e_conn c;
        connect_ok(&c);
        send_ok(&c, "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n"
                    "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
        dm_e2e_wait_metric(srv.port, "dermaga_http_inflight_requests", 1, 100, 3000);
        if (reset)
            dm_e2e_abort(&c);
        else
            dm_e2e_close(&c);
    }
    /* Wait for the pool to give the orphaned requests back. */
    long long n = dm_e2e_wait_metric(srv.port, "dermaga_http_inflight_requests", 0, 0, 8000);
    ck_assert_msg(n == 0, "dermaga_http_inflight_requests is %lld long after the clients left", n);
    n = dm_e2e_wait_metric(srv.port, "dermaga_http_open_connections", 1, 1, 3000);
    ck_assert_msg(n == 1, "dermaga_http_open_connections is %lld after the clients left, "
                          "expected 1 (the /metrics request itself)", n);
    expect_status("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 200, "GET after orphaned requests");
    close(hole);
}

START_TEST(test_client_closes_while_request_in_flight)
{
    client_gone_while_in_flight(false);
}
END_TEST

START_TEST(test_client_resets_while_request_in_flight)
{
    client_gone_while_in_flight(true);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("e2e_http_pipeline");
    TCase *tc = tcase_create("pipeline");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_pipelined_requests_answered_in_order);
    tcase_add_test(tc, test_pipeline_order_kept_behind_a_slow_pool_request);
    tcase_add_test(tc, test_pipeline_longer_than_max_pipeline);
    tcase_add_test(tc, test_pipeline_stops_after_connection_close);
    tcase_add_test(tc, test_pipeline_error_after_good_requests);
    tcase_add_test(tc, test_half_closed_client_still_answered);
    tcase_add_test(tc, test_half_close_mid_request_keeps_queued_responses);
    tcase_add_test(tc, test_slow_reader_is_not_idle);
    suite_add_tcase(s, tc);

    tc = tcase_create("client_gone");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_client_closes_while_request_in_flight);
    tcase_add_test(tc, test_client_resets_while_request_in_flight);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
