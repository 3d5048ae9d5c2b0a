/*
 * test_gateway_hang.c — a payment gateway that hangs (the payment-hang
 * fixture, tests/plugins/hanging_payment.c) through the real binary: while
 * eight top-ups wait on it, database routes (/api/catalog/services,
 * /api/wallet) answer within their usual time, because gateway calls run
 * on the remote-call pool and not on the database workers; each top-up
 * ends at plugins.paymentTimeoutMs with 504 GATEWAY_TIMEOUT and a PENDING
 * row, which the status check then settles (credited once). A call still
 * inside the gateway at shutdown is waited for within the grace period
 * and no longer.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../plugins/fixtures.h"
#include "dm_test.h"
#include "e2e.h"
#include "e2e_auth.h"
#include "testdb.h"

#define srv dm_e2e_auth_srv
#define db_url dm_e2e_auth_db_url

#define TOPUPS 8
#define AMOUNT 25000
/* Long enough that all eight top-ups are surely inside the gateway, and the
 * database routes measured, well before the first one times out. */
#define GATEWAY_TIMEOUT_MS 8000

static char plugin_dir[256], release_dir[256], release_file[320];

static void sweep_setup(void) { dm_e2e_auth_sweep_setup("hange2e"); }
static void sweep_teardown(void) { dm_e2e_auth_sweep_teardown(); }

/* auth-local and the hanging gateway "hang" (the default one), whose
 * create returns once release_file exists; the production default of
 * eight database workers. */
static void start_with(int timeout_ms, int grace_ms)
{
    fx_mkdtemp(plugin_dir, sizeof plugin_dir);
    fx_mkdtemp(release_dir, sizeof release_dir);
    snprintf(release_file, sizeof release_file, "%s/release", release_dir);
    const char *real = getenv("DERMAGA_TEST_PLUGIN_DIR");
    ck_assert_msg(real != NULL && real[0] != '\0', "DERMAGA_TEST_PLUGIN_DIR is not set");
    char src[512], dst[512];
    snprintf(src, sizeof src, "%s/auth-local.so", real);
    snprintf(dst, sizeof dst, "%s/auth-local.so", plugin_dir);
    fx_copy_file(src, dst, "was the build done?");
    fx_install_as(plugin_dir, "hanging_payment", "payment-hang");
    dm_e2e_auth_setup_with(json_pack(
        "{s:{s:s,s:[{s:s},{s:s,s:{s:s}}],s:i,s:i},s:{s:i,s:i},s:{s:s},s:{s:i}}", "plugins", "dir", plugin_dir,
        "enabled", "name", "auth-local", "name", "payment-hang", "config", "release_file", release_file,
        "paymentTimeoutMs", timeout_ms, "remoteWorkers", TOPUPS, "database", "workers", 8, "queueDepth", 64,
        "wallet", "defaultGateway", "hang", "server", "shutdownGraceMs", grace_ms));
}

static void setup(void) { start_with(GATEWAY_TIMEOUT_MS, 5000); }

/* A gateway bound of half a second and a grace period of 1.5 s. */
static void setup_short(void) { start_with(500, 1500); }

/* Let every create still inside the gateway return. */
static void release(void)
{
    FILE *f = fopen(release_file, "w");
    ck_assert_msg(f != NULL, "cannot create %s", release_file);
    fclose(f);
}

static void teardown(void)
{
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM ledger_violations()");
    dm_e2e_auth_teardown();
    remove(release_file);
    fx_rmdir(release_dir);
    fx_rmdir(plugin_dir);
}

/* One request on a new connection; its status, and how long it took. */
static int timed_call(const char *method, const char *path, const char *token, const char *body, int timeout_ms,
                      long long *took_ms, char *code, size_t code_len)
{
    char *req = dm_e2e_auth_request(method, path, token, body);
    dm_e2e_response res;
    long long t0 = dm_e2e_now_ms();
    int rc = dm_e2e_roundtrip(srv.port, req, &res, timeout_ms);
    *took_ms = dm_e2e_now_ms() - t0;
    free(req);
    ck_assert_msg(rc == 0, "%s %s: %s after %lld ms", method, path, dm_e2e_strerror(rc), *took_ms);
    int status = res.status;
    if (code != NULL) {
        json_t *doc = dm_e2e_json(&res);
        const char *c = json_string_value(json_object_get(json_object_get(doc, "error"), "code"));
        snprintf(code, code_len, "%s", c != NULL ? c : "");
        json_decref(doc);
    }
    dm_e2e_response_free(&res);
    return status;
}

/* The slower of GET /api/catalog/services and GET /api/wallet, each 200. */
static long long database_routes_ms(const char *token, int timeout_ms)
{
    long long a = 0, b = 0;
    int sa = timed_call("GET", "/api/catalog/services", NULL, NULL, timeout_ms, &a, NULL, 0);
    int sb = timed_call("GET", "/api/wallet", token, NULL, timeout_ms, &b, NULL, 0);
    ck_assert_msg(sa == 200 && sb == 200, "catalog %d, wallet %d", sa, sb);
    return a > b ? a : b;
}

typedef struct topup {
    const char *token;
    int         status;
    char        code[64];
    long long   took_ms;
} topup;

static atomic_int answered; /* top-ups that have their answer */

static void *fire_topup(void *arg)
{
    topup *t = arg;
    char body[96];
    snprintf(body, sizeof body, "{\"amount\":%d,\"paymentMethod\":\"qris\"}", AMOUNT);
    t->status = timed_call("POST", "/api/wallet/topup", t->token, body, GATEWAY_TIMEOUT_MS * 4, &t->took_ms, t->code,
                           sizeof t->code);
    atomic_fetch_add(&answered, 1);
    return NULL;
}

/* Fire the top-ups and return once all of them are inside the gateway. */
static void hang_topups(const char *token, topup *ts, pthread_t *th)
{
    atomic_store(&answered, 0);
    for (int i = 0; i < TOPUPS; i++) {
        ts[i] = (topup){ .token = token };
        ck_assert(pthread_create(&th[i], NULL, fire_topup, &ts[i]) == 0);
    }
    /* Within half the bound, so that what is measured next (at most a
     * third of it) still happens while they hang. */
    long long in = dm_e2e_wait_metric(srv.port, "dermaga_plugin_calls_running", TOPUPS, TOPUPS, GATEWAY_TIMEOUT_MS / 2);
    ck_assert_msg(in == TOPUPS, "%lld of %d top-ups reached the gateway within %d ms", in, TOPUPS,
                  GATEWAY_TIMEOUT_MS / 2);
}

/* The status check asks the gateway, which has the payments: each of the
 * user's rows settles, and is credited once however often it is asked. */
static void settle_each(const char *token, const char *uid)
{
    char *ids = dm_test_db_scalarf(db_url, "SELECT string_agg(custom_id, ',') FROM transactions WHERE user_id = '%s'",
                                   uid);
    for (int round = 0; round < 2; round++) {
        char *save = NULL, *copy = strdup(ids);
        for (char *id = strtok_r(copy, ",", &save); id != NULL; id = strtok_r(NULL, ",", &save)) {
            char path[96];
            snprintf(path, sizeof path, "/api/wallet/transactions/%s/status", id);
            json_t *doc = NULL;
            int st = dm_e2e_call_port(srv.port, "GET", path, token, NULL, &doc);
            ck_assert_msg(st == 200, "status of %s: %d", id, st);
            ck_assert_str_eq(dm_e2e_jstr(doc, "data.status"), "SUCCESS");
            json_decref(doc);
        }
        free(copy);
        char want[24];
        snprintf(want, sizeof want, "%d", TOPUPS * AMOUNT);
        DM_EXPECT_SQL(db_url, want, "SELECT credit_balance FROM users WHERE id = '%s'", uid);
    }
    free(ids);
}

START_TEST(database_routes_answer_while_eight_topups_hang_and_each_settles_later)
{
    char uid[37];
    char *tok = dm_e2e_auth_register("hang@example.id", uid);
    long long base = 0;
    for (int i = 0; i < 5; i++) {
        long long t = database_routes_ms(tok, DM_E2E_T_MS);
        base = t > base ? t : base;
    }
    /* Their usual time, with room for a loaded machine, yet far below the
     * gateway timeout that holding the database workers would cost. */
    long long bound = 1000 + 4 * base;
    if (bound > GATEWAY_TIMEOUT_MS / 3)
        bound = GATEWAY_TIMEOUT_MS / 3;
    topup ts[TOPUPS];
    pthread_t th[TOPUPS];
    hang_topups(tok, ts, th);
    for (int i = 0; i < 2; i++) {
        long long t = database_routes_ms(tok, GATEWAY_TIMEOUT_MS * 2);
        ck_assert_msg(t <= bound, "with %d top-ups waiting on the gateway a database route took %lld ms "
                                  "(usually at most %lld; bound %lld)", TOPUPS, t, base, bound);
    }
    ck_assert_msg(atomic_load(&answered) == 0, "the routes were measured while every top-up still hung");
    for (int i = 0; i < TOPUPS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(ts[i].status == 504 && strcmp(ts[i].code, "GATEWAY_TIMEOUT") == 0, "top-up %d: %d %s", i,
                      ts[i].status, ts[i].code);
        ck_assert_msg(ts[i].took_ms >= GATEWAY_TIMEOUT_MS - 100, "top-up %d answered after %lld ms, before its bound",
                      i, ts[i].took_ms);
    }
    DM_EXPECT_SQL(db_url, "8 PENDING", "SELECT count(*) || ' ' || string_agg(DISTINCT status, ',') FROM transactions "
                                       "WHERE user_id = '%s' AND type = 'TOPUP'", uid);
    ck_assert_int_eq(dm_e2e_fetch_metric(srv.port, "dermaga_plugin_call_timeouts_total{plugin=\"payment-hang\","
                                                   "op=\"create\"}"), TOPUPS);
    settle_each(tok, uid);
    /* Only the first round asked the gateway: a settled row is not pending. */
    ck_assert_int_eq(dm_e2e_fetch_metric(srv.port, "dermaga_plugin_call_seconds_count{plugin=\"payment-hang\","
                                                   "op=\"query_status\"}"), TOPUPS);
    /* The abandoned creates return and are freed (LeakSanitizer checks the
     * exit); the server then stops at once and cleanly. */
    release();
    ck_assert_int_eq(dm_e2e_wait_metric(srv.port, "dermaga_plugin_calls_abandoned", 0, 0, 10000), 0);
    free(tok);
}
END_TEST

START_TEST(shutdown_waits_for_a_hung_gateway_only_within_the_grace_period)
{
    char *tok = dm_e2e_auth_register("late@example.id", NULL);
    long long took = 0;
    char code[64];
    int st = timed_call("POST", "/api/wallet/topup", tok, "{\"amount\":25000,\"paymentMethod\":\"qris\"}", 10000, &took,
                        code, sizeof code);
    ck_assert_msg(st == 504 && strcmp(code, "GATEWAY_TIMEOUT") == 0, "top-up: %d %s", st, code);
    ck_assert_int_eq(dm_e2e_fetch_metric(srv.port, "dermaga_plugin_calls_abandoned"), 1);
    long long t0 = dm_e2e_now_ms();
    int status = dm_e2e_server_stop(&srv, SIGTERM, 10000);
    long long stop_ms = dm_e2e_now_ms() - t0;
    ck_assert_msg(dm_e2e_exited_0(status), "exit: %s", dm_e2e_describe_status(status));
    ck_assert_msg(stop_ms >= 1000 && stop_ms < 5000, "a call stuck in the gateway held the exit %lld ms (grace 1500)",
                  stop_ms);
    char *log = dm_e2e_server_log(&srv);
    ck_assert_msg(strstr(log, "calls still inside plugins") != NULL, "the exit says why it did not wait: %s", log);
    free(log);
    dm_e2e_server_free(&srv);
    free(tok);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("e2e_gateway_hang");
    TCase *tc = tcase_create("hang");
    tcase_add_unchecked_fixture(tc, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, database_routes_answer_while_eight_topups_hang_and_each_settles_later);
    suite_add_tcase(s, tc);
    TCase *down = tcase_create("shutdown");
    tcase_add_unchecked_fixture(down, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(down, setup_short, teardown);
    tcase_set_timeout(down, 60);
    tcase_add_test(down, shutdown_waits_for_a_hung_gateway_only_within_the_grace_period);
    suite_add_tcase(s, down);
    return s;
}

DM_TEST_MAIN(make_suite)
