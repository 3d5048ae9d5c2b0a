/*
 * test_idempotency_crash.c — an Idempotency-Key is one unit of work with
 * the money it moves. The real binary, built with DERMAGA_FAULTS=ON, is
 * killed (SIGKILL, as a power cut) right before and right after the commit
 * of a keyed subscribe, renew and administrator credit; a new server on the
 * same database then gets the same request again: before the commit the
 * retry runs and charges once, after it the retry replays the first answer
 * and charges nothing more. Also: an administrator's credit, a manual
 * transfer's confirmation and a force-cancel with refund sent twice with
 * one key apply once and replay;
 * the same key with another body is 422. The ledger and quota invariants
 * hold after every test.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "dm_test.h"
#include "e2e.h"
#include "e2e_auth.h"
#include "testdb.h"

#define ADMIN_EMAIL "root@example.id"
#define ADMIN_PASS "admin-pass-123"
#define USER_EMAIL "payer@example.id"
#define USER_PASS "user-pass-123"
#define PRICE 30000

static char *url;
static dm_e2e_server srv;

/* Start a server on the test's database; fault (may be NULL) names the
 * crash point (util/fault.h) it dies at. */
static void start(const char *fault)
{
    if (fault != NULL)
        setenv("DM_TEST_FAULT", fault, 1);
    else
        unsetenv("DM_TEST_FAULT");
    json_t *o = json_pack("{s:{s:s},s:{s:s,s:s},s:{s:[{s:s},{s:s}]}}", "database", "url", url, "auth", "adminEmail",
                          ADMIN_EMAIL, "adminPassword", ADMIN_PASS, "plugins", "enabled", "name", "auth-local", "name",
                          "payment-manual");
    ck_assert_msg(o != NULL, "cannot build the config overrides");
    const char *pdir = getenv("DERMAGA_TEST_PLUGIN_DIR");
    if (pdir != NULL && pdir[0] != '\0')
        json_object_set_new(json_object_get(o, "plugins"), "dir", json_string(pdir));
    dm_e2e_server_start(&srv, o);
    unsetenv("DM_TEST_FAULT");
}

static void setup(void)
{
    url = dm_test_db_create_migrated("idem_crash_e2e");
    start(NULL);
}

static void teardown(void)
{
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM ledger_violations()");
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM quota_violations()");
    dm_e2e_server_finish(&srv);
    dm_e2e_server_free(&srv);
    dm_test_db_drop(url);
    free(url);
}

/* One request with an Idempotency-Key (NULL: none) on a new connection:
 * the status (0 when the connection ended without an answer) and the
 * parsed body into *doc (may be NULL). */
static int keyed(const char *method, const char *path, const char *token, const char *key, const char *body,
                 json_t **doc, bool *replayed)
{
    dm_e2e_conn c;
    ck_assert_msg(dm_e2e_connect(&c, srv.port) == 0, "connect to the server");
    char *req = dm_e2e_auth_request(method, path, token, body);
    char *hdr = strstr(req, "\r\n") + 2;
    dm_e2e_send(&c, req, (size_t)(hdr - req));
    if (key != NULL) {
        char line[320];
        snprintf(line, sizeof line, "Idempotency-Key: %s\r\n", key);
        dm_e2e_send_str(&c, line);
    }
    dm_e2e_send_str(&c, hdr);
    free(req);
    dm_e2e_response res;
    int status = 0;
    if (dm_e2e_read_response(&c, &res, 15000, false) == 0) {
        status = res.status;
        if (doc != NULL)
            *doc = dm_e2e_json(&res);
        if (replayed != NULL)
            *replayed = dm_e2e_header(&res, "Idempotent-Replayed") != NULL;
        dm_e2e_response_free(&res);
    } else if (doc != NULL) {
        *doc = NULL;
    }
    dm_e2e_close(&c);
    return status;
}

/* The request dies with the server at its crash point: no answer, and the
 * process ended by SIGKILL. Then a server without the fault takes over. */
static void expect_crash_then_restart(int status, const char *what)
{
    ck_assert_msg(status == 0, "%s: answered %d; the crash point was not reached (build with -DDERMAGA_FAULTS=ON)",
                  what, status);
    int st = dm_e2e_server_wait_exit(&srv, 10000);
    ck_assert_msg(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "%s: the server ended with %s", what,
                  dm_e2e_describe_status(st));
    dm_e2e_server_free(&srv);
    start(NULL);
}

/* A number the database answers (v stolen). */
static long long number(char *v)
{
    long long n = strtoll(v, NULL, 10);
    free(v);
    return n;
}
#define scalar(...) number(dm_test_db_scalarf(url, __VA_ARGS__))

static char *admin_token(void)
{
    return dm_e2e_session_port(srv.port, ADMIN_EMAIL, ADMIN_PASS, false, NULL);
}

/* A registered user holding `balance` (credited without a key); its token
 * (new string), its id into uid. */
static char *payer(long long balance, char uid[37])
{
    char *tok = dm_e2e_session_port(srv.port, USER_EMAIL, USER_PASS, true, uid);
    char *admin = admin_token();
    char path[128], body[96];
    snprintf(path, sizeof path, "/api/admin/users/%s/credits", uid);
    snprintf(body, sizeof body, "{\"amount\":%lld,\"reason\":\"opening balance\"}", balance);
    ck_assert_int_eq(keyed("POST", path, admin, NULL, body, NULL, NULL), 201);
    free(admin);
    return tok;
}

/* A plan of PRICE with free slots; its id into out. */
static void plan(char out[37])
{
    char *v = dm_test_db_scalarf(url, "%s",
                                 "WITH c AS (INSERT INTO categories (slug, name) VALUES ('cat', 'Cat') RETURNING id), "
                                 "s AS (INSERT INTO services (category_id, slug, name, service_type, template) "
                                 "  SELECT id, 'web', 'Web', 'web', 'web' FROM c RETURNING id) "
                                 "INSERT INTO plans (service_id, slug, name, price, billing_period_days, "
                                 "  cpu_millicores, memory_mb, total_quota) "
                                 "SELECT id, 'basic', 'Basic', 30000, 30, 250, 256, 5 FROM s RETURNING id");
    ck_assert_msg(strlen(v) == 36, "plan: %s", v);
    memcpy(out, v, 37);
    free(v);
}

static long long balance(const char *uid)
{
    return scalar("SELECT credit_balance FROM users WHERE id = '%s'", uid);
}

static long long rows_of_type(const char *type)
{
    return scalar("SELECT count(*) FROM transactions WHERE type = '%s'", type);
}

/* ---- one key, two requests --------------------------------------------- */

START_TEST(admin_credit_sent_twice_applies_once_and_replays)
{
    char uid[37];
    char *tok = payer(10000, uid);
    char *admin = admin_token();
    char path[128];
    snprintf(path, sizeof path, "/api/admin/users/%s/credits", uid);
    const char *body = "{\"amount\":25000,\"reason\":\"goodwill\"}";
    json_t *d1 = NULL, *d2 = NULL, *d3 = NULL;
    bool r1 = true, r2 = false;
    ck_assert_int_eq(keyed("POST", path, admin, "adj-1", body, &d1, &r1), 201);
    ck_assert_int_eq(keyed("POST", path, admin, "adj-1", body, &d2, &r2), 201);
    ck_assert_msg(!r1 && r2, "the second answer is the replay (%d, %d)", r1, r2);
    ck_assert_msg(json_equal(d1, d2), "the replay is the first answer");
    ck_assert_int_eq(balance(uid), 35000);
    ck_assert_int_eq(rows_of_type("ADJUSTMENT"), 2); /* the opening balance and this one */
    ck_assert_int_eq(scalar("SELECT count(*) FROM audit_log WHERE action = '%s'", "wallet.adjust"), 2);
    /* The same key with another body is a client bug: 422, nothing moves. */
    ck_assert_int_eq(keyed("POST", path, admin, "adj-1", "{\"amount\":1,\"reason\":\"x\"}", &d3, NULL), 422);
    ck_assert_str_eq(dm_e2e_jstr(d3, "error.code"), "IDEMPOTENCY_KEY_REUSED");
    ck_assert_int_eq(balance(uid), 35000);
    json_decref(d1);
    json_decref(d2);
    json_decref(d3);
    free(admin);
    free(tok);
}
END_TEST

START_TEST(manual_confirmation_sent_twice_credits_once)
{
    char uid[37];
    char *tok = payer(1000, uid);
    json_t *t = NULL;
    ck_assert_int_eq(keyed("POST", "/api/wallet/topup", tok, NULL,
                           "{\"amount\":50000,\"paymentMethod\":\"bank_transfer\",\"gateway\":\"manual\"}", &t, NULL),
                     201);
    char path[128];
    snprintf(path, sizeof path, "/api/admin/transactions/%s/confirm", dm_e2e_jstr(t, "data.transaction.customId"));
    char *admin = admin_token();
    bool replayed = false;
    ck_assert_int_eq(keyed("POST", path, admin, "confirm-1", NULL, NULL, NULL), 200);
    ck_assert_int_eq(keyed("POST", path, admin, "confirm-1", NULL, NULL, &replayed), 200);
    ck_assert_msg(replayed, "the second confirmation replays the first");
    ck_assert_int_eq(balance(uid), 51000);
    json_decref(t);
    free(admin);
    free(tok);
}
END_TEST

START_TEST(force_cancel_with_refund_sent_twice_refunds_once)
{
    char uid[37], plan_id[37], body[96], path[160];
    char *tok = payer(100000, uid);
    plan(plan_id);
    snprintf(body, sizeof body, "{\"planId\":\"%s\"}", plan_id);
    json_t *sub = NULL;
    ck_assert_int_eq(keyed("POST", "/api/subscriptions", tok, NULL, body, &sub, NULL), 201);
    snprintf(path, sizeof path, "/api/admin/subscriptions/%s/force-cancel", dm_e2e_jstr(sub, "data.id"));
    char *admin = admin_token();
    const char *cancel = "{\"reason\":\"outage\",\"refund\":\"full\"}";
    json_t *d1 = NULL, *d2 = NULL;
    bool replayed = false;
    ck_assert_int_eq(keyed("POST", path, admin, "cancel-1", cancel, &d1, NULL), 200);
    ck_assert_int_eq(keyed("POST", path, admin, "cancel-1", cancel, &d2, &replayed), 200);
    ck_assert_msg(replayed && json_equal(d1, d2), "the second force-cancel replays the first");
    ck_assert_int_eq(balance(uid), 100000);
    ck_assert_int_eq(rows_of_type("REFUND"), 1);
    json_decref(d1);
    json_decref(d2);
    json_decref(sub);
    free(admin);
    free(tok);
}
END_TEST

/* One of several concurrent credits with the same key. No Check asserts
 * off the main thread: the outcome is only recorded. */
typedef struct racer {
    const char *token, *path;
    int         status;
    bool        replayed;
} racer;

static void *race_credit(void *arg)
{
    racer *rc = arg;
    rc->status = keyed("POST", rc->path, rc->token, "race-1", "{\"amount\":1000,\"reason\":\"race\"}", NULL,
                       &rc->replayed);
    return NULL;
}

START_TEST(concurrent_duplicates_wait_for_the_first_and_replay_it)
{
    char uid[37], path[128];
    char *tok = payer(1, uid);
    char *admin = admin_token();
    snprintf(path, sizeof path, "/api/admin/users/%s/credits", uid);
    enum { N = 8 };
    racer rs[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        rs[i] = (racer){ .token = admin, .path = path };
        ck_assert(pthread_create(&th[i], NULL, race_credit, &rs[i]) == 0);
    }
    int first = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        /* Each claim waits for the first to commit, then replays it:
         * never a second credit, never a 409 for work that is done. */
        ck_assert_msg(rs[i].status == 201, "racer %d: %d", i, rs[i].status);
        first += rs[i].status == 201 && !rs[i].replayed;
    }
    ck_assert_msg(first == 1, "%d racers applied the credit", first);
    ck_assert_int_eq(balance(uid), 1001);
    free(admin);
    free(tok);
}
END_TEST

/* ---- crashes around the commit ----------------------------------------- */

/* Subscribe with a key while the server dies at `fault`, then retry. */
static void subscribe_through_crash(const char *fault, bool want_replay)
{
    char uid[37], plan_id[37], body[96];
    char *tok = payer(100000, uid);
    plan(plan_id);
    dm_e2e_server_free(&srv);
    start(fault);
    free(tok);
    tok = dm_e2e_session_port(srv.port, USER_EMAIL, USER_PASS, false, NULL);
    snprintf(body, sizeof body, "{\"planId\":\"%s\"}", plan_id);
    expect_crash_then_restart(keyed("POST", "/api/subscriptions", tok, "sub-1", body, NULL, NULL), fault);
    ck_assert_int_eq(scalar("SELECT count(*) FROM subscriptions WHERE user_id = '%s'", uid), (want_replay ? 1 : 0));
    bool replayed = !want_replay;
    json_t *d = NULL;
    ck_assert_int_eq(keyed("POST", "/api/subscriptions", tok, "sub-1", body, &d, &replayed), 201);
    ck_assert_msg(replayed == want_replay, "%s: replayed %d, want %d", fault, replayed, want_replay);
    ck_assert_int_eq(balance(uid), 100000 - PRICE);
    ck_assert_int_eq(rows_of_type("SUBSCRIPTION"), 1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM subscriptions WHERE user_id = '%s'", uid), 1);
    ck_assert_int_eq(scalar("SELECT used_quota FROM plans WHERE id = '%s'", plan_id), 1);
    json_decref(d);
    free(tok);
}

START_TEST(crash_before_the_commit_leaves_nothing_and_the_retry_charges_once)
{
    subscribe_through_crash("idem.before_commit", false);
}
END_TEST

START_TEST(crash_after_the_commit_leaves_the_answer_and_the_retry_replays_it)
{
    subscribe_through_crash("idem.after_commit", true);
}
END_TEST

/* Renew (which moves money on an existing subscription) across a crash. */
static void renew_through_crash(const char *fault, bool want_replay)
{
    char uid[37], plan_id[37], body[96], path[128];
    char *tok = payer(100000, uid);
    plan(plan_id);
    snprintf(body, sizeof body, "{\"planId\":\"%s\"}", plan_id);
    json_t *s = NULL;
    ck_assert_int_eq(keyed("POST", "/api/subscriptions", tok, NULL, body, &s, NULL), 201);
    snprintf(path, sizeof path, "/api/subscriptions/%s/renew", dm_e2e_jstr(s, "data.id"));
    char *end_before = dm_test_db_scalarf(url, "SELECT current_period_end FROM subscriptions WHERE id = '%s'",
                                          dm_e2e_jstr(s, "data.id"));
    dm_e2e_server_free(&srv);
    start(fault);
    free(tok);
    tok = dm_e2e_session_port(srv.port, USER_EMAIL, USER_PASS, false, NULL);
    expect_crash_then_restart(keyed("POST", path, tok, "renew-1", NULL, NULL, NULL), fault);
    bool replayed = !want_replay;
    ck_assert_int_eq(keyed("POST", path, tok, "renew-1", NULL, NULL, &replayed), 200);
    ck_assert_msg(replayed == want_replay, "%s: replayed %d, want %d", fault, replayed, want_replay);
    ck_assert_int_eq(balance(uid), 100000 - 2 * PRICE);
    ck_assert_int_eq(rows_of_type("RENEWAL"), 1);
    /* One period more, not two. */
    DM_EXPECT_SQL(url, "t", "SELECT current_period_end = '%s'::timestamptz + interval '30 days' "
                            "FROM subscriptions WHERE id = '%s'", end_before, dm_e2e_jstr(s, "data.id"));
    free(end_before);
    json_decref(s);
    free(tok);
}

START_TEST(renew_crash_before_the_commit_charges_once)
{
    renew_through_crash("idem.before_commit", false);
}
END_TEST

START_TEST(renew_crash_after_the_commit_charges_once)
{
    renew_through_crash("idem.after_commit", true);
}
END_TEST

/* An administrator's credit across a crash. */
static void credit_through_crash(const char *fault, bool want_replay)
{
    char uid[37], path[128];
    char *tok = payer(5000, uid);
    dm_e2e_server_free(&srv);
    start(fault);
    char *admin = admin_token();
    snprintf(path, sizeof path, "/api/admin/users/%s/credits", uid);
    const char *body = "{\"amount\":70000,\"reason\":\"refund by hand\"}";
    expect_crash_then_restart(keyed("POST", path, admin, "credit-1", body, NULL, NULL), fault);
    free(admin);
    admin = admin_token();
    bool replayed = !want_replay;
    ck_assert_int_eq(keyed("POST", path, admin, "credit-1", body, NULL, &replayed), 201);
    ck_assert_msg(replayed == want_replay, "%s: replayed %d, want %d", fault, replayed, want_replay);
    ck_assert_int_eq(balance(uid), 75000);
    ck_assert_int_eq(scalar("SELECT count(*) FROM audit_log WHERE action = '%s'", "wallet.adjust"), 2);
    free(admin);
    free(tok);
}

START_TEST(admin_credit_crash_before_the_commit_applies_once)
{
    credit_through_crash("idem.before_commit", false);
}
END_TEST

START_TEST(admin_credit_crash_after_the_commit_applies_once)
{
    credit_through_crash("idem.after_commit", true);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("idempotency_crash_e2e");
    TCase *tc = tcase_create("idempotency");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, admin_credit_sent_twice_applies_once_and_replays);
    tcase_add_test(tc, manual_confirmation_sent_twice_credits_once);
    tcase_add_test(tc, force_cancel_with_refund_sent_twice_refunds_once);
    tcase_add_test(tc, concurrent_duplicates_wait_for_the_first_and_replay_it);
    tcase_add_test(tc, crash_before_the_commit_leaves_nothing_and_the_retry_charges_once);
    tcase_add_test(tc, crash_after_the_commit_leaves_the_answer_and_the_retry_replays_it);
    tcase_add_test(tc, renew_crash_before_the_commit_charges_once);
    tcase_add_test(tc, renew_crash_after_the_commit_charges_once);
    tcase_add_test(tc, admin_credit_crash_before_the_commit_applies_once);
    tcase_add_test(tc, admin_credit_crash_after_the_commit_applies_once);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
