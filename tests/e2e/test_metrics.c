/*
 * test_metrics.c — GET /metrics of the real binary after real traffic,
 * parsed by the reference Prometheus parser (tests/e2e/metrics_parse.py on
 * Debian's python3-prometheus-client): required families and types, route
 * labels that are patterns (a parameterised route hit with two ids is one
 * series), status classes, well-formed histograms, and the business gauges
 * (instances, subscriptions, pending top-ups) matching what the test made.
 * metrics.refreshS is 1 here so the gauges catch up within a second or
 * two, waited for as a condition.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dm_test.h"
#include "e2e_instances.h"
#include "testdb.h"

#define call dm_e2e_auth_call
#define NO_SUCH_ID "00000000-0000-4000-8000-000000000000"

static void engine_setup(void) { dm_e2e_instances_setup("metricse2e"); }
static void engine_teardown(void) { dm_e2e_instances_teardown(); }

static void setup(void)
{
    dm_e2e_instances_opts o = { .with_service = true, .extra = json_pack("{s:{s:i}}", "metrics", "refreshS", 1) };
    dm_e2e_instances_start(&o);
}

static void teardown(void) { dm_e2e_instances_stop(); }

static void expect_status(const char *path, const char *tok, int want)
{
    dm_e2e_response res;
    call("GET", path, tok, NULL, &res);
    ck_assert_msg(res.status == want, "GET %s: %d, want %d: %s", path, res.status, want, res.body);
    dm_e2e_response_free(&res);
}

/* A scrape (new string) once its gauges show the top-up and the running
 * instance, bounded; the last scrape otherwise (the parse check says
 * what is wrong). */
static char *scrape_when_current(void)
{
    char *body = NULL;
    for (long long end = dm_e2e_now_ms() + 20000;;) {
        dm_e2e_response res;
        dm_e2e_auth_call("GET", "/metrics", NULL, NULL, &res);
        ck_assert_msg(res.status == 200, "GET /metrics: %d", res.status);
        free(body);
        body = strdup(res.body);
        dm_e2e_response_free(&res);
        ck_assert_ptr_nonnull(body);
        if ((dm_e2e_metric(body, "dermaga_topups_pending") == 1
             && dm_e2e_metric(body, "dermaga_instances{status=\"RUNNING\"}") == 1)
            || dm_e2e_now_ms() > end)
            return body;
        dm_e2e_nap_ms(100);
    }
}

/* Run metrics_parse.py over text; its exit status, its output in out. */
static int parse_check(const char *text, char *out, size_t n)
{
    const char *tmp = getenv("DERMAGA_TEST_TMPDIR");
    char file[512], cmd[2048];
    snprintf(file, sizeof file, "%s/metrics-%d.txt", tmp != NULL && tmp[0] ? tmp : "/tmp", (int)getpid());
    FILE *f = fopen(file, "w");
    ck_assert_msg(f != NULL, "cannot write %s", file);
    fputs(text, f);
    fclose(f);
    const char *src = getenv("DERMAGA_TEST_SOURCE_DIR");
    /* Debian's python3 (its dist-packages hold the parser), whatever
     * python3 comes first on PATH. */
    const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    snprintf(cmd, sizeof cmd, "%s '%s/tests/e2e/metrics_parse.py' '%s' 2>&1", py,
             src != NULL && src[0] ? src : DM_SOURCE_DIR, file);
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "cannot run %s", cmd);
    size_t got = fread(out, 1, n - 1, p);
    out[got] = '\0';
    int st = pclose(p);
    unlink(file);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(scrape_parses_with_patterns_classes_and_gauges)
{
    char sub[37], inst[37], path[160];
    char *tok = dm_e2e_instances_subscribe("metrics@example.id", sub, inst);
    json_decref(dm_e2e_instances_wait(tok, inst, "RUNNING"));
    dm_e2e_response res;
    call("POST", "/api/wallet/topup", tok, "{\"amount\":10000,\"paymentMethod\":\"bank_transfer\"}", &res);
    ck_assert_msg(res.status == 201, "topup: %d %s", res.status, res.body);
    dm_e2e_response_free(&res);

    /* One parameterised route, two ids: a 2xx and a 4xx; a path no
     * route matches; a plain 2xx. */
    snprintf(path, sizeof path, "/api/instances/%s", inst);
    expect_status(path, tok, 200);
    expect_status("/api/instances/" NO_SUCH_ID, tok, 404);
    expect_status("/no-such-page/" NO_SUCH_ID, NULL, 404);
    expect_status("/healthz", NULL, 200);

    char *body = scrape_when_current();
    ck_assert_msg(strstr(body, inst) == NULL && strstr(body, NO_SUCH_ID) == NULL, "a raw id became a label");
    char out[8192];
    int rc = parse_check(body, out, sizeof out);
    ck_assert_msg(rc != 2, "python3-prometheus-client is missing (install it; scripts/lib/deps.sh lists it): %s",
                  out);
    if (rc != 0) /* the scrape is too long for a Check message */
        fprintf(stderr, "the scrape metrics_parse.py refused:\n%s\n", body);
    ck_assert_msg(rc == 0, "metrics_parse.py: exit %d:\n%.2000s", rc, out);
    free(body);
    free(tok);
}
END_TEST

/* ---- the database away: a scrape never waits on it ------------------- */

static dm_e2e_pg pg; /* made once per test case, in the parent */
static dm_e2e_server srv;

static void cluster_create(void)
{
    char why[2048];
    if (dm_e2e_pg_create(&pg, why, sizeof why) != 0)
        ck_abort_msg("cannot create a private PostgreSQL cluster: %s", why);
}

static void cluster_destroy(void) { dm_e2e_pg_destroy(&pg); }

static void outage_teardown(void) { dm_e2e_server_finish(&srv); }

/* GET /metrics on srv within 1 s (the loop never waits on the database);
 * the body (new string). */
static char *scrape_fast(const char *when)
{
    dm_e2e_response res;
    long long t0 = dm_e2e_now_ms();
    int rc = dm_e2e_roundtrip(srv.port, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n", &res, 5000);
    long long took = dm_e2e_now_ms() - t0;
    ck_assert_msg(rc == 0 && res.status == 200, "%s: GET /metrics: %s, status %d", when, dm_e2e_strerror(rc),
                  res.status);
    ck_assert_msg(took < 1000, "%s: GET /metrics took %lld ms", when, took);
    char *body = strdup(res.body);
    dm_e2e_response_free(&res);
    ck_assert_ptr_nonnull(body);
    return body;
}

/* The gauges are read; the database stops: scrapes still answer at once
 * with the last values, and the failed reads are counted. */
START_TEST(database_down_serves_the_last_values)
{
    char why[2048];
    dm_e2e_server_start(&srv, json_pack("{s:{s:s,s:b,s:i},s:{s:i}}", "database", "url", pg.url, "migrateOnStart", 1,
                                        "connectTimeoutS", 2, "metrics", "refreshS", 1));
    long long running = dm_e2e_wait_metric(srv.port, "dermaga_instances{status=\"RUNNING\"}", 0, 0, 10000);
    ck_assert_msg(running == 0, "the gauges were not read from an empty database (%lld)", running);
    DM_EXPECT_SQL(pg.url, "1",
                  "WITH u AS (INSERT INTO users (email) VALUES ('outage@example.id') RETURNING id), "
                  "t AS (INSERT INTO transactions (user_id, type, status, amount, gateway) "
                  "SELECT id, 'TOPUP', 'PENDING', 7000, 'payment-manual' FROM u RETURNING 1) SELECT count(*) FROM t");
    long long pending = dm_e2e_wait_metric(srv.port, "dermaga_topups_pending", 1, 1, 10000);
    ck_assert_msg(pending == 1, "the pending top-up is not counted (%lld)", pending);
    ck_assert_msg(dm_e2e_pg_stop(&pg, why, sizeof why) == 0, "%s", why);
    long long failed = dm_e2e_wait_metric(srv.port, "dermaga_db_gauges_refresh_failures_total", 1, 1000000, 10000);
    ck_assert_msg(failed >= 1, "no failed read counted with the database stopped (%lld)", failed);
    char *body = scrape_fast("database stopped");
    ck_assert_msg(dm_e2e_metric(body, "dermaga_topups_pending") == 1
                      && dm_e2e_metric(body, "dermaga_topups_pending_amount_rupiah") == 7000
                      && dm_e2e_metric(body, "dermaga_instances{status=\"RUNNING\"}") == 0,
                  "the last values are gone with the database stopped");
    free(body);
    ck_assert_msg(dm_e2e_pg_start(&pg, why, sizeof why) == 0, "%s", why);
}
END_TEST

/* A database that never answers (connections hang): the first read is
 * stuck in its connect, and the scrape answers at once without the gauges. */
START_TEST(hung_database_never_holds_a_scrape)
{
    int port = 0;
    int hole = dm_e2e_blackhole_listen(&port);
    ck_assert_msg(hole >= 0, "cannot open the never-answering listener");
    char url[128];
    snprintf(url, sizeof url, "postgresql://postgres@127.0.0.1:%d/postgres", port);
    dm_e2e_server_start(&srv, json_pack("{s:{s:s,s:i},s:{s:i}}", "database", "url", url, "connectTimeoutS", 3,
                                        "metrics", "refreshS", 1));
    for (int i = 0; i < 3; i++) {
        char *body = scrape_fast("database hangs");
        ck_assert_msg(strstr(body, "\ndermaga_instances{") == NULL, "gauges without a read");
        ck_assert_msg(strstr(body, "\nprocess_cpu_seconds_total ") != NULL, "the rest of the scrape is missing");
        free(body);
    }
    long long failed = dm_e2e_wait_metric(srv.port, "dermaga_db_gauges_refresh_failures_total", 1, 1000000, 15000);
    ck_assert_msg(failed >= 1, "the hung read was not counted as failed (%lld)", failed);
    close(hole);
}
END_TEST

START_TEST(no_engine_configured)
{
    dm_docker_test_engine_off("test_metrics");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("metrics_e2e");
    TCase *tc = tcase_create("engine");
    if (dm_docker_test_host() == NULL) {
        tcase_add_test(tc, no_engine_configured);
    } else {
        tcase_add_unchecked_fixture(tc, engine_setup, engine_teardown);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 180);
        tcase_add_test(tc, scrape_parses_with_patterns_classes_and_gauges);
    }
    suite_add_tcase(s, tc);
    TCase *outage = tcase_create("outage");
    tcase_add_unchecked_fixture(outage, cluster_create, cluster_destroy);
    tcase_add_checked_fixture(outage, NULL, outage_teardown);
    tcase_set_timeout(outage, 90);
    tcase_add_test(outage, database_down_serves_the_last_values);
    tcase_add_test(outage, hung_database_never_holds_a_scrape);
    suite_add_tcase(s, outage);
    return s;
}

DM_TEST_MAIN(make_suite)
