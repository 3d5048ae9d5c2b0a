/*
 * test_http_shutdown.c — graceful shutdown of the real binary: on SIGTERM or
 * SIGINT it stops accepting, lets in-flight requests finish within
 * server.shutdownGraceMs, closes idle connections at once and exits 0.
 * In-flight work is a GET /readyz stuck on a database that never answers.
 */
#include <errno.h>
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
static int hole = -1; /* the never-answering "database" */

static void teardown(void)
{
    dm_e2e_server_free(&srv);
    if (hole >= 0)
        close(hole);
    hole = -1;
}

/* Start with the database pointed at a listener that never answers. */
static void start_with_hung_db(int connect_timeout_s, int grace_ms)
{
    int port = 0;
    hole = dm_e2e_blackhole_listen(&port);
    ck_assert_msg(hole >= 0, "cannot open the never-answering listener");
    char url[128];
    snprintf(url, sizeof url, "postgresql://postgres@127.0.0.1:%d/postgres", port);
    dm_e2e_server_start(&srv, json_pack("{s:{s:i,s:i},s:{s:s,s:i,s:i}}", "server",
                                        "shutdownGraceMs", grace_ms, "idleTimeoutMs", 60000,
                                        "database", "url", url, "connectTimeoutS",
                                        connect_timeout_s, "workers", 1));
}

/* Send GET /readyz on c and wait until the server counts it in flight. */
static void start_inflight_readyz(dm_e2e_conn *c)
{
    dm_e2e_connect_ok(c, srv.port);
    dm_e2e_send_ok(c, "GET /readyz HTTP/1.1\r\nHost: t\r\nX-Request-Id: inflight\r\n\r\n");
    long long n = dm_e2e_wait_metric(srv.port, "dermaga_http_inflight_requests", 1, 1, 3000);
    ck_assert_msg(n == 1, "GET /readyz never showed as in flight (dermaga_http_inflight_requests %lld)",
                  n);
}

/* After the signal, connecting must soon fail: the listener is closed.
 * (Until the server has handled the signal, a connection may still be
 * served; that is not an error.) Once refused, it stays refused. */
static void expect_refused_soon(void)
{
    long long deadline = dm_e2e_now_ms() + 2000;
    int rc = 0;
    while (dm_e2e_now_ms() < deadline) {
        dm_e2e_conn c;
        rc = dm_e2e_connect(&c, srv.port);
        /* Reset, not refused: the connection sat in the accept queue as
         * the listener closed. The next one tells. */
        if (rc != 0 && rc != -ECONNRESET)
            break;
        if (rc == 0)
            dm_e2e_close(&c);
        usleep(5000);
    }
    ck_assert_msg(rc == -ECONNREFUSED, "new connections still accepted 2 s after SIGTERM (last: %s)",
                  rc == 0 ? "connected" : strerror(-rc));
    dm_e2e_conn again;
    rc = dm_e2e_connect(&again, srv.port);
    if (rc == 0)
        dm_e2e_close(&again);
    ck_assert_msg(rc == -ECONNREFUSED, "a connection was accepted after one had been refused");
}

START_TEST(test_sigterm_idle_server_exits_0)
{
    dm_e2e_server_start(&srv, NULL);
    long long t0 = dm_e2e_now_ms();
    int st = dm_e2e_server_stop(&srv, SIGTERM, 5000);
    ck_assert_msg(dm_e2e_exited_0(st), "SIGTERM on an idle server: %s", dm_e2e_describe_status(st));
    ck_assert_msg(dm_e2e_now_ms() - t0 < 2000, "an idle server took %lld ms to stop",
                  dm_e2e_now_ms() - t0);
}
END_TEST

START_TEST(test_sigint_exits_0)
{
    dm_e2e_server_start(&srv, NULL);
    dm_e2e_response res;
    dm_e2e_roundtrip_ok(srv.port, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", &res);
    dm_e2e_response_free(&res);
    int st = dm_e2e_server_stop(&srv, SIGINT, 5000);
    ck_assert_msg(dm_e2e_exited_0(st), "SIGINT: %s", dm_e2e_describe_status(st));
}
END_TEST

START_TEST(test_sigterm_finishes_inflight_request)
{
    start_with_hung_db(2, 8000);
    dm_e2e_conn c;
    start_inflight_readyz(&c);
    long long t0 = dm_e2e_now_ms();
    ck_assert_msg(kill(srv.pid, SIGTERM) == 0, "kill: %s", strerror(errno));
    expect_refused_soon();

    /* The in-flight request still gets its answer (503 once the database
     * connect times out), with Connection: close, then the close. */
    dm_e2e_response res;
    dm_e2e_read_ok(&c, &res, false, "in-flight /readyz during shutdown");
    long long waited = dm_e2e_now_ms() - t0;
    dm_e2e_assert_error(&res, 503, "in-flight /readyz during shutdown");
    ck_assert_msg(dm_e2e_header(&res, "Retry-After") != NULL, "503 without Retry-After");
    const char *id = dm_e2e_header(&res, "X-Request-Id");
    ck_assert_msg(id != NULL && strcmp(id, "inflight") == 0, "response has X-Request-Id %s", id);
    const char *conn = dm_e2e_header(&res, "Connection");
    ck_assert_msg(conn != NULL && strcasecmp(conn, "close") == 0,
                  "last response while draining lacks Connection: close");
    ck_assert_msg(waited < 4000, "in-flight response took %lld ms after SIGTERM (connect timeout 2 s)",
                  waited);
    ck_assert_msg(dm_e2e_wait_closed(&c, T_MS) == 0, "connection open after the drained response");
    dm_e2e_response_free(&res);
    dm_e2e_close(&c);

    int st = dm_e2e_server_wait_exit(&srv, 5000);
    ck_assert_msg(dm_e2e_exited_0(st), "after draining: %s", dm_e2e_describe_status(st));
    char *log = dm_e2e_server_log(&srv);
    ck_assert_msg(strstr(log, "\"requestId\":\"inflight\"") != NULL,
                  "the drained request is missing from the access log");
    free(log);
}
END_TEST

START_TEST(test_sigterm_closes_idle_keep_alive_at_once)
{
    dm_e2e_server_start(&srv, json_pack("{s:{s:i}}", "server", "idleTimeoutMs", 60000));
    dm_e2e_conn c;
    dm_e2e_response res;
    dm_e2e_connect_ok(&c, srv.port);
    dm_e2e_send_ok(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    dm_e2e_read_ok(&c, &res, false, "request before SIGTERM");
    dm_e2e_response_free(&res);
    long long t0 = dm_e2e_now_ms();
    kill(srv.pid, SIGTERM);
    ck_assert_msg(dm_e2e_wait_closed(&c, 2000) == 0,
                  "an idle keep-alive connection was not closed within 2 s of SIGTERM");
    int st = dm_e2e_server_wait_exit(&srv, 3000);
    ck_assert_msg(dm_e2e_exited_0(st), "with an idle keep-alive connection: %s",
                  dm_e2e_describe_status(st));
    ck_assert_msg(dm_e2e_now_ms() - t0 < 2000, "stopping took %lld ms with only an idle connection",
                  dm_e2e_now_ms() - t0);
    dm_e2e_close(&c);
}
END_TEST

START_TEST(test_sigterm_wait_is_bounded_by_grace)
{
    /* The database would keep the request busy for 5 s; the grace is 300 ms. */
    start_with_hung_db(5, 300);
    dm_e2e_conn c;
    start_inflight_readyz(&c);
    long long t0 = dm_e2e_now_ms();
    kill(srv.pid, SIGTERM);
    ck_assert_msg(dm_e2e_wait_closed(&c, 3000) == 0,
                  "the in-flight connection was not closed within 3 s of SIGTERM (grace 300 ms)");
    int st = dm_e2e_server_wait_exit(&srv, 10000);
    long long took = dm_e2e_now_ms() - t0;
    ck_assert_msg(dm_e2e_exited_0(st), "after the grace period: %s", dm_e2e_describe_status(st));
    ck_assert_msg(took < 2000,
                  "exit came %lld ms after SIGTERM with shutdownGraceMs 300: the wait is not "
                  "bounded by the grace period (a worker stuck in the database holds the exit)",
                  took);
    dm_e2e_close(&c);
}
END_TEST

START_TEST(test_sigterm_with_half_sent_request_is_bounded)
{
    dm_e2e_server_start(&srv, json_pack("{s:{s:i,s:i}}", "server", "shutdownGraceMs", 500,
                                        "headerTimeoutMs", 30000));
    dm_e2e_conn c;
    dm_e2e_connect_ok(&c, srv.port);
    dm_e2e_send_ok(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\n");
    /* Make sure the partial request has been read before the signal. */
    ck_assert_msg(dm_e2e_fetch_metric(srv.port, "dermaga_http_open_connections") == 2,
                  "the half-open request's connection is not counted");
    long long t0 = dm_e2e_now_ms();
    kill(srv.pid, SIGTERM);
    int st = dm_e2e_server_wait_exit(&srv, 5000);
    long long took = dm_e2e_now_ms() - t0;
    ck_assert_msg(dm_e2e_exited_0(st), "with a half-sent request: %s", dm_e2e_describe_status(st));
    ck_assert_msg(took < 2000, "a client that never finishes its headers held the exit for %lld ms "
                               "(grace 500 ms)",
                  took);
    ck_assert_msg(dm_e2e_wait_closed(&c, 1000) == 0, "the half-sent connection is still open");
    dm_e2e_close(&c);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("e2e_http_shutdown");
    TCase *tc = tcase_create("signals");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 40);
    tcase_add_test(tc, test_sigterm_idle_server_exits_0);
    tcase_add_test(tc, test_sigint_exits_0);
    tcase_add_test(tc, test_sigterm_finishes_inflight_request);
    tcase_add_test(tc, test_sigterm_closes_idle_keep_alive_at_once);
    tcase_add_test(tc, test_sigterm_wait_is_bounded_by_grace);
    tcase_add_test(tc, test_sigterm_with_half_sent_request_is_bounded);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
