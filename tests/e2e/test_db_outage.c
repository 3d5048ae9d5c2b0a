/*
 * test_db_outage.c — GET /readyz through the worker pool against a database
 * that goes away and comes back (a private PostgreSQL cluster made with
 * scripts/pg.sh, so stopping it disturbs no other test), against one that
 * hangs, and with the pool's queue full: 503 with Retry-After, never a hang,
 * recovery without a restart, and the loop still answering /healthz; and a
 * quiet server whose pooled connections all died in a PostgreSQL restart
 * answers every request after it (each dead connection is found at
 * checkout and replaced, and the log says so).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dm_test.h"
#include "e2e.h"
#include "e2e_auth.h"

#define T_MS DM_E2E_T_MS

static dm_e2e_pg pg;           /* made once per test case, in the parent */
static dm_e2e_server srv;
static int hole = -1;

/* ---- fixtures --------------------------------------------------------- */

static void cluster_create(void)
{
    char why[2048];
    if (dm_e2e_pg_create(&pg, why, sizeof why) != 0)
        ck_abort_msg("cannot create a private PostgreSQL cluster: %s", why);
}

static void cluster_destroy(void)
{
    dm_e2e_pg_destroy(&pg);
}

/* A test that failed with the cluster stopped must not break the next. */
static void cluster_running(void)
{
    char why[2048];
    if (dm_e2e_pg_start(&pg, why, sizeof why) != 0)
        ck_abort_msg("cannot start the private cluster: %s", why);
}

static void teardown(void)
{
    dm_e2e_server_finish(&srv);
    if (hole >= 0)
        close(hole);
    hole = -1;
}

/* ---- helpers ---------------------------------------------------------- */

static int readyz(int timeout_ms, dm_e2e_response *res)
{
    return dm_e2e_roundtrip(srv.port, "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n", res, timeout_ms);
}

static void expect_ready(const char *when)
{
    dm_e2e_response res;
    int rc = readyz(T_MS, &res);
    ck_assert_msg(rc == 0, "%s: GET /readyz: %s", when, dm_e2e_strerror(rc));
    ck_assert_msg(res.status == 200, "%s: GET /readyz status %d: %s", when, res.status, res.body);
    json_t *doc = dm_e2e_json(&res);
    const char *st = json_string_value(json_object_get(json_object_get(doc, "data"), "status"));
    ck_assert_msg(json_is_true(json_object_get(doc, "success")) && st != NULL
                      && strcmp(st, "ready") == 0,
                  "%s: GET /readyz body %s", when, res.body);
    json_decref(doc);
    dm_e2e_response_free(&res);
}

/* 503 with the envelope and Retry-After, within max_ms. */
static void expect_unavailable(const char *when, int max_ms)
{
    dm_e2e_response res;
    long long t0 = dm_e2e_now_ms();
    int rc = readyz(max_ms + 2000, &res);
    long long took = dm_e2e_now_ms() - t0;
    ck_assert_msg(rc == 0, "%s: GET /readyz: %s after %lld ms", when, dm_e2e_strerror(rc), took);
    dm_e2e_assert_error(&res, 503, when);
    const char *ra = dm_e2e_header(&res, "Retry-After");
    ck_assert_msg(ra != NULL && strcmp(ra, "3") == 0, "%s: Retry-After is %s, configured 3", when,
                  ra ? ra : "(none)");
    ck_assert_msg(took <= max_ms, "%s: the 503 took %lld ms (bound %d ms)", when, took, max_ms);
    dm_e2e_response_free(&res);
}

static void expect_healthz_fast(const char *when)
{
    dm_e2e_response res;
    long long t0 = dm_e2e_now_ms();
    int rc = dm_e2e_roundtrip(srv.port, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", &res, T_MS);
    long long took = dm_e2e_now_ms() - t0;
    ck_assert_msg(rc == 0 && res.status == 200, "%s: GET /healthz: %s, status %d", when,
                  dm_e2e_strerror(rc), res.status);
    ck_assert_msg(took < 500, "%s: GET /healthz took %lld ms; the loop must not wait on the "
                              "database",
                  when, took);
    dm_e2e_response_free(&res);
}

/* Poll until n consecutive /readyz answers are 200 (every worker has its
 * connection back), within deadline_ms. Returns the ms it took, or -1. */
static long long wait_ready_streak(int n, int deadline_ms)
{
    long long t0 = dm_e2e_now_ms();
    int streak = 0;
    while (dm_e2e_now_ms() - t0 < deadline_ms) {
        dm_e2e_response res;
        int rc = readyz(T_MS, &res);
        streak = rc == 0 && res.status == 200 ? streak + 1 : 0;
        dm_e2e_response_free(&res);
        if (streak == n)
            return dm_e2e_now_ms() - t0;
        if (streak == 0)
            usleep(100 * 1000); /* PostgreSQL is still coming up */
    }
    return -1;
}

static void start_hung_db(int workers, int queue_depth, int connect_timeout_s)
{
    int port = 0;
    hole = dm_e2e_blackhole_listen(&port);
    ck_assert_msg(hole >= 0, "cannot open the never-answering listener");
    char url[128];
    snprintf(url, sizeof url, "postgresql://postgres@127.0.0.1:%d/postgres", port);
    dm_e2e_server_start(&srv, json_pack("{s:{s:s,s:i,s:i,s:i,s:i}}", "database", "url", url,
                                        "workers", workers, "queueDepth", queue_depth,
                                        "connectTimeoutS", connect_timeout_s, "retryAfterS", 3));
}

/* How many lines of the server's log contain needle. */
static int log_count(const char *needle)
{
    char *log = dm_e2e_server_log(&srv);
    int n = 0;
    for (const char *p = strstr(log, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    free(log);
    return n;
}

/* Poll /metrics until series has value want (bounded). */
static void wait_metric(const char *series, long long want)
{
    long long v = dm_e2e_wait_metric(srv.port, series, want, want, 3000);
    ck_assert_msg(v == want, "%s is %lld, waited for %lld", series, v, want);
}

/* ---- tests ------------------------------------------------------------ */

START_TEST(test_readyz_follows_the_database)
{
    char why[2048];
    dm_e2e_server_start(&srv, json_pack("{s:{s:s,s:i,s:i,s:i}}", "database", "url", pg.url,
                                        "workers", 2, "connectTimeoutS", 2, "retryAfterS", 3));
    expect_ready("database up");
    expect_ready("database up, again");

    ck_assert_msg(dm_e2e_pg_stop(&pg, why, sizeof why) == 0, "%s", why);
    /* Connections are refused now: the answer is quick, never a hang. */
    expect_unavailable("database stopped", 2500);
    expect_unavailable("database still stopped", 2500);
    expect_healthz_fast("database stopped");

    ck_assert_msg(dm_e2e_pg_start(&pg, why, sizeof why) == 0, "%s", why);
    long long took = wait_ready_streak(5, 15000);
    ck_assert_msg(took >= 0, "GET /readyz did not answer 200 five times in a row within 15 s of "
                             "PostgreSQL coming back");
    expect_ready("database back");
    /* The outage is in the log once, however many connects failed (every
     * /readyz, every job worker), and so is its end. */
    ck_assert_msg(dm_e2e_server_wait_log(&srv, "database reachable again", 2000),
                  "the log does not say that the database is reachable again");
    ck_assert_msg(log_count("database unreachable") == 1, "\"database unreachable\" is in the log %d times, "
                  "want once", log_count("database unreachable"));
}
END_TEST

START_TEST(test_readyz_when_database_down_at_start)
{
    char why[2048];
    ck_assert_msg(dm_e2e_pg_stop(&pg, why, sizeof why) == 0, "%s", why);
    /* migrateOnStart is false, so the server starts without a database. */
    dm_e2e_server_start(&srv, json_pack("{s:{s:s,s:i,s:i,s:i}}", "database", "url", pg.url,
                                        "workers", 1, "connectTimeoutS", 2, "retryAfterS", 3));
    expect_unavailable("database down at start", 2500);
    ck_assert_msg(dm_e2e_pg_start(&pg, why, sizeof why) == 0, "%s", why);
    ck_assert_msg(wait_ready_streak(3, 15000) >= 0,
                  "GET /readyz never became 200 after PostgreSQL started");
}
END_TEST

START_TEST(test_readyz_on_hung_database_is_bounded)
{
    start_hung_db(1, 4, 2);
    /* connectTimeoutS 2: a 503 after about 2 s, never a hang. */
    long long t0 = dm_e2e_now_ms();
    expect_unavailable("database hangs", 4000);
    ck_assert_msg(dm_e2e_now_ms() - t0 >= 1500, "503 came before the connect timeout could expire");
    expect_healthz_fast("after a hung database");
}
END_TEST

START_TEST(test_queue_full_is_503_and_loop_stays_responsive)
{
    start_hung_db(1, 1, 3);
    dm_e2e_conn busy, queued;
    dm_e2e_response res;

    /* One request occupies the only worker (stuck connecting)… */
    dm_e2e_connect_ok(&busy, srv.port);
    dm_e2e_send_ok(&busy, "GET /readyz HTTP/1.1\r\nHost: t\r\nX-Request-Id: busy\r\n\r\n");
    wait_metric("dermaga_db_connections{state=\"busy\"}", 1);
    /* …one waits in the queue of depth 1… */
    dm_e2e_connect_ok(&queued, srv.port);
    dm_e2e_send_ok(&queued, "GET /readyz HTTP/1.1\r\nHost: t\r\nX-Request-Id: queued\r\n\r\n");
    wait_metric("dermaga_pool_queue_depth", 1);

    /* …so further ones are refused at once, not queued behind a hang. */
    for (int i = 0; i < 3; i++)
        expect_unavailable("queue full", 1000);
    expect_healthz_fast("queue full");
    long long rejected = dm_e2e_fetch_metric(srv.port, "dermaga_pool_rejected_total");
    ck_assert_msg(rejected == 3, "dermaga_pool_rejected_total is %lld, expected 3", rejected);

    /* The two accepted requests still get answers, bounded by the timeout. */
    dm_e2e_read_ok(&busy, &res, false, "the request holding the worker");
    dm_e2e_assert_error(&res, 503, "the request holding the worker");
    dm_e2e_response_free(&res);
    dm_e2e_read_ok(&queued, &res, false, "the queued request");
    dm_e2e_assert_error(&res, 503, "the queued request");
    const char *id = dm_e2e_header(&res, "X-Request-Id");
    ck_assert_msg(id != NULL && strcmp(id, "queued") == 0, "queued request answered with id %s", id);
    dm_e2e_response_free(&res);
    dm_e2e_close(&busy);
    dm_e2e_close(&queued);
}
END_TEST


/* Send n GET /readyz at once on n connections, then read every answer:
 * several workers take the burst, each opening its connection. */
static void readyz_burst(int n)
{
    dm_e2e_conn c[16];
    dm_e2e_response res;
    ck_assert(n <= 16);
    for (int i = 0; i < n; i++) {
        dm_e2e_connect_ok(&c[i], srv.port);
        dm_e2e_send_ok(&c[i], "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n");
    }
    for (int i = 0; i < n; i++) {
        dm_e2e_read_ok(&c[i], &res, false, "a warming /readyz");
        dm_e2e_response_free(&res);
        dm_e2e_close(&c[i]);
    }
}

/* The fault of issue 15: after a PostgreSQL restart on a quiet server every
 * pooled connection is dead, and each used to fail the first request that
 * took it (503 "database unavailable") however long after the restart. */
START_TEST(test_quiet_pool_survives_a_restart)
{
    enum { WORKERS = 4, AFTER = 20 };
    char why[2048];
    json_t *o = json_pack("{s:{s:s,s:b,s:i,s:i,s:i},s:{s:[{s:s}]},s:{s:s}}", "database", "url", pg.url,
                          "migrateOnStart", 1, "workers", WORKERS, "connectTimeoutS", 2, "retryAfterS", 3,
                          "plugins", "enabled", "name", "auth-local", "auth", "jwtSecret", DM_E2E_AUTH_SECRET);
    const char *pdir = getenv("DERMAGA_TEST_PLUGIN_DIR");
    if (pdir != NULL && pdir[0] != '\0')
        json_object_set_new(json_object_get(o, "plugins"), "dir", json_string(pdir));
    dm_e2e_server_start(&srv, o);
    char *token = dm_e2e_session_port(srv.port, "quiet@example.com", DM_E2E_AUTH_PASSWORD, true, NULL);

    /* Warm: bursts until every worker holds an open connection. */
    const char *closed = "dermaga_db_connections{state=\"closed\"}";
    long long t0 = dm_e2e_now_ms();
    while (dm_e2e_fetch_metric(srv.port, closed) != 0 && dm_e2e_now_ms() - t0 < 15000)
        readyz_burst(2 * WORKERS);
    ck_assert_msg(dm_e2e_fetch_metric(srv.port, closed) == 0, "the pool never had all %d connections open",
                  WORKERS);

    /* Quiet from here: no request while PostgreSQL restarts. pg.sh start
     * returns once pg_isready sees it accept connections. */
    ck_assert_msg(dm_e2e_pg_stop(&pg, why, sizeof why) == 0, "%s", why);
    ck_assert_msg(dm_e2e_pg_start(&pg, why, sizeof why) == 0, "%s", why);

    for (int i = 0; i < AFTER; i++) {
        dm_e2e_response res;
        int rc = readyz(T_MS, &res);
        ck_assert_msg(rc == 0 && res.status == 200, "request %d after the restart: GET /readyz %s, status %d: %s",
                      i + 1, dm_e2e_strerror(rc), res.status, res.body);
        dm_e2e_response_free(&res);
        int st = dm_e2e_call_port(srv.port, "GET", "/api/wallet", token, NULL, NULL);
        ck_assert_msg(st == 200, "request %d after the restart: GET /api/wallet status %d", i + 1, st);
    }
    free(token);
    ck_assert_msg(dm_e2e_server_wait_log(&srv, "replacing a broken database connection", 1000),
                  "the log does not say that dead connections were replaced");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("e2e_db_outage");
    TCase *outage = tcase_create("outage");
    tcase_add_unchecked_fixture(outage, cluster_create, cluster_destroy);
    tcase_add_checked_fixture(outage, cluster_running, teardown);
    tcase_set_timeout(outage, 60);
    tcase_add_test(outage, test_readyz_follows_the_database);
    tcase_add_test(outage, test_readyz_when_database_down_at_start);
    suite_add_tcase(s, outage);

    TCase *quiet = tcase_create("quiet");
    tcase_add_unchecked_fixture(quiet, cluster_create, cluster_destroy);
    tcase_add_checked_fixture(quiet, cluster_running, teardown);
    tcase_set_timeout(quiet, 90);
    tcase_add_test(quiet, test_quiet_pool_survives_a_restart);
    suite_add_tcase(s, quiet);

    TCase *hung = tcase_create("hung");
    tcase_add_checked_fixture(hung, NULL, teardown);
    tcase_set_timeout(hung, 30);
    tcase_add_test(hung, test_readyz_on_hung_database_is_bounded);
    tcase_add_test(hung, test_queue_full_is_503_and_loop_stays_responsive);
    suite_add_tcase(s, hung);
    return s;
}

DM_TEST_MAIN(make_suite)
