/*
 * test_sub_lifecycle.c — core/subscriptions/period_end.c against a real
 * PostgreSQL, with time driven through now_ms: renewal when the balance
 * covers it, suspension (stop job) when it does not, expiry after the
 * grace (slot freed, terminate job), no auto-renew and bonus periods,
 * cancellations at the period end, missed periods, rows another session
 * holds, idempotence, and the periodic job on the wall clock. After every
 * test the ledger and quota invariants hold.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/config.h"
#include "wallet/ledger.h"
#include "subscriptions/sub_core.h"
#include "subscriptions/period_end.h"
#include "accounts/users.h"
#include "dm_test.h"
#include "testdb.h"
#include "util/clock.h"

#define DAY_MS 86400000LL
#define T0 1700000000000LL /* 2023-11-14T22:13:20Z: when the test subscriptions start */
#define PRICE 30000
#define PERIOD_DAYS 30
#define PERIOD_MS (PERIOD_DAYS * DAY_MS)
#define GRACE 3

static char *url;
static dm_db db;
static char uid[37];
static char plan_id[37];

/* A catalog row's id from an INSERT … RETURNING id. */
static void insert_id(const char *sql, char out[37])
{
    char *v = dm_test_db_scalar(url, sql);
    ck_assert_msg(v != NULL && strlen(v) == 36, "insert: %s", sql);
    memcpy(out, v, 37);
    free(v);
}

static void setup(void)
{
    url = dm_test_db_create_migrated("sub_lifecycle");
    dm_err_t err = { 0 };
    ck_assert_msg(dm__db_init(&db, url, 2, 10000, &err) == 0, "db init: %s", err.msg);
    dm_user u;
    ck_assert_msg(dm__users_create(&db, "subscriber@example.id", "Subscriber", NULL, NULL, "$argon2id$x", &u, &err)
                      == 0,
                  "user: %s", err.msg);
    memcpy(uid, u.id, sizeof uid);
    char cat[37], svc[37];
    insert_id("INSERT INTO categories (slug, name) VALUES ('apps', 'Apps') RETURNING id", cat);
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO services (category_id, slug, name, service_type, template) "
             "VALUES ('%s', 'wiki', 'Wiki', 'app', 'wiki') RETURNING id", cat);
    insert_id(sql, svc);
    snprintf(sql, sizeof sql,
             "INSERT INTO plans (service_id, slug, name, price, billing_period_days, cpu_millicores, memory_mb, "
             "total_quota) VALUES ('%s', 'basic', 'Basic', %d, %d, 500, 512, 5) RETURNING id",
             svc, PRICE, PERIOD_DAYS);
    insert_id(sql, plan_id);
}

static void teardown(void)
{
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM ledger_violations()");
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM quota_violations()");
    dm__db_fini(&db);
    dm_test_db_drop(url);
    free(url);
}

/* Credit the user through the ledger. */
static void credit(int64_t amount)
{
    dm_ledger_post p = { uid, "ADJUSTMENT", amount, "test credit", NULL };
    dm_err_t err = { 0 };
    ck_assert_msg(dm__ledger_post(&db, &p, NULL, &err) == 0, "credit: %s", err.msg);
}

/* Subscribe the user at start_ms as the user route would (a bonus: price 0
 * and a BONUS row of 0); *out the subscription. */
static void subscribe_at(int64_t start_ms, bool auto_renew, bool bonus, int days, dm_sub *out)
{
    dm_err_t err = { 0 };
    dm_sub_plan plan;
    ck_assert_msg(dm__sub_plan_get(&db, plan_id, &plan, &err) == 0, "plan: %s", err.msg);
    dm_sub_new n = { .user_id = uid, .plan = &plan, .price = bonus ? 0 : plan.price, .period_days = days,
                     .auto_renew = auto_renew, .is_bonus = bonus };
    dm_sub_refusal why;
    ck_assert_int_eq(dm__db_begin(&db, &err), 0);
    ck_assert_msg(dm__sub_create(&db, &n, start_ms, out, &why, &err) == 0, "create: %s", err.msg);
    ck_assert_msg(dm__sub_money(&db, uid, out->id, bonus ? "BONUS" : "SUBSCRIPTION", bonus ? 0 : -plan.price,
                                "subscribe", NULL, &err) == 0,
                  "charge: %s", err.msg);
    ck_assert_msg(dm__db_commit(&db, &err) == 0, "commit: %s", err.msg);
}

static void subscribe(bool auto_renew, dm_sub *out)
{
    subscribe_at(T0, auto_renew, false, PERIOD_DAYS, out);
}

/* One run at now_ms; the report. */
static dm_sub_period_report run(int64_t now_ms, int grace_days)
{
    dm_sub_period_report rep;
    dm_err_t err = { 0 };
    ck_assert_msg(dm__sub_period_end(&db, now_ms, grace_days, 100, &rep, &err) == 0, "period end: %s", err.msg);
    ck_assert_msg(rep.failed == 0, "%d subscriptions failed", rep.failed);
    return rep;
}

/* The subscription as it is now (a short transaction for the lock). */
static dm_sub reload(const char *id)
{
    dm_sub s;
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__db_begin(&db, &err), 0);
    ck_assert_msg(dm__sub_lock(&db, id, NULL, &s, &err) == 0, "reload: %s", err.msg);
    dm__db_rollback(&db);
    return s;
}

static long long balance(void)
{
    char *v = dm_test_db_scalarf(url, "SELECT credit_balance FROM users WHERE id = '%s'", uid);
    long long n = strtoll(v, NULL, 10);
    free(v);
    return n;
}

/* Number of queued instance.<kind> jobs for subscription id. */
static void expect_jobs(const char *id, const char *kind, const char *want)
{
    DM_EXPECT_SQL(url, want,
                  "SELECT count(*) FROM jobs WHERE kind = 'instance.%s' AND payload->>'subscriptionId' = '%s'", kind,
                  id);
}

static void expect_used_quota(const char *want)
{
    DM_EXPECT_SQL(url, want, "SELECT used_quota FROM plans WHERE id = '%s'", plan_id);
}

START_TEST(renews_when_the_balance_covers_the_price)
{
    credit(100000);
    dm_sub s;
    subscribe(true, &s);
    ck_assert_int_eq(balance(), 70000);
    int64_t end = s.period_end_ms;
    ck_assert_int_eq(end, T0 + PERIOD_MS);
    dm_sub_period_report rep = run(end, GRACE);
    ck_assert_int_eq(rep.renewed, 1);
    ck_assert_int_eq(rep.suspended, 0);
    dm_sub a = reload(s.id);
    ck_assert_str_eq(a.status, "ACTIVE");
    ck_assert_msg(a.period_start_ms == end, "period start %lld, want the old end %lld", (long long)a.period_start_ms,
                  (long long)end);
    ck_assert_msg(a.period_end_ms == end + PERIOD_MS, "period end %lld, want %lld", (long long)a.period_end_ms,
                  (long long)(end + PERIOD_MS));
    ck_assert_int_eq(balance(), 40000);
    DM_EXPECT_SQL(url, "1 -30000 SUCCESS",
                  "SELECT count(*) || ' ' || min(amount) || ' ' || min(status) FROM transactions "
                  "WHERE type = 'RENEWAL' AND subscription_id = '%s'", s.id);
    expect_jobs(s.id, "stop", "0");
    expect_used_quota("1");
}
END_TEST

/* docs/openapi.yaml: deactivating hides a plan from the catalog, and live
 * subscriptions keep working: the period end still renews them. */
START_TEST(a_deactivated_plan_still_renews)
{
    credit(100000);
    dm_sub s;
    subscribe(true, &s);
    DM_EXPECT_SQL(url, "1", "WITH p AS (UPDATE plans SET is_active = false WHERE id = '%s' RETURNING service_id), "
                  "s AS (UPDATE services SET is_active = false WHERE id IN (SELECT service_id FROM p) RETURNING 1) "
                  "SELECT count(*) FROM s", plan_id);
    dm_sub_period_report rep = run(s.period_end_ms, GRACE);
    ck_assert_int_eq(rep.renewed, 1);
    ck_assert_str_eq(reload(s.id).status, "ACTIVE");
    ck_assert_int_eq(balance(), 40000);
}
END_TEST

START_TEST(nothing_happens_one_second_before_the_end)
{
    credit(100000);
    dm_sub s;
    subscribe(true, &s);
    dm_sub_period_report rep = run(s.period_end_ms - 1000, GRACE);
    ck_assert_int_eq(rep.subscriptions, 0);
    dm_sub a = reload(s.id);
    ck_assert_str_eq(a.status, "ACTIVE");
    ck_assert_int_eq(a.period_end_ms, s.period_end_ms);
    ck_assert_int_eq(balance(), 70000);
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM transactions WHERE type = 'RENEWAL'");
}
END_TEST

START_TEST(running_twice_at_the_same_time_changes_nothing_more)
{
    credit(100000);
    dm_sub s;
    subscribe(true, &s);
    int64_t now = s.period_end_ms + 5000;
    ck_assert_int_eq(run(now, GRACE).renewed, 1);
    dm_sub_period_report rep = run(now, GRACE);
    ck_assert_int_eq(rep.subscriptions, 0);
    ck_assert_int_eq(rep.renewed, 0);
    ck_assert_int_eq(balance(), 40000);
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM transactions WHERE type = 'RENEWAL'");
}
END_TEST

START_TEST(suspends_when_not_covered_then_expires_after_the_grace)
{
    credit(PRICE + 100); /* one period, not two */
    dm_sub s;
    subscribe(true, &s);
    int64_t end = s.period_end_ms;
    dm_sub_period_report rep = run(end, GRACE);
    ck_assert_int_eq(rep.suspended, 1);
    ck_assert_int_eq(rep.renewed, 0);
    dm_sub a = reload(s.id);
    ck_assert_str_eq(a.status, "SUSPENDED");
    ck_assert_msg(a.grace_until_ms == end + GRACE * DAY_MS, "grace until %lld, want %lld",
                  (long long)a.grace_until_ms, (long long)(end + GRACE * DAY_MS));
    ck_assert_int_eq(balance(), 100);
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM transactions WHERE type = 'RENEWAL'");
    expect_jobs(s.id, "stop", "1");
    expect_used_quota("1");
    /* Idempotent while suspended; the grace runs to the millisecond. */
    ck_assert_int_eq(run(end, GRACE).subscriptions, 0);
    ck_assert_int_eq(run(a.grace_until_ms - 1000, GRACE).subscriptions, 0);
    ck_assert_str_eq(reload(s.id).status, "SUSPENDED");
    expect_jobs(s.id, "stop", "1");
    rep = run(a.grace_until_ms, GRACE);
    ck_assert_int_eq(rep.expired, 1);
    ck_assert_str_eq(reload(s.id).status, "EXPIRED");
    DM_EXPECT_SQL(url, "grace period over true",
                  "SELECT end_reason || ' ' || (ended_at IS NOT NULL AND grace_until IS NULL) "
                  "FROM subscriptions WHERE id = '%s'", s.id);
    expect_used_quota("0");
    expect_jobs(s.id, "terminate", "1");
    ck_assert_int_eq(run(a.grace_until_ms + DAY_MS, GRACE).subscriptions, 0);
    expect_jobs(s.id, "terminate", "1");
}
END_TEST

START_TEST(auto_renew_off_suspends_even_with_money)
{
    credit(100000);
    dm_sub s;
    subscribe(false, &s);
    dm_sub_period_report rep = run(s.period_end_ms, GRACE);
    ck_assert_int_eq(rep.suspended, 1);
    ck_assert_str_eq(reload(s.id).status, "SUSPENDED");
    ck_assert_int_eq(balance(), 70000);
    expect_jobs(s.id, "stop", "1");
    DM_EXPECT_SQL(url, "period ended without auto-renew",
                  "SELECT payload->>'reason' FROM jobs WHERE kind = 'instance.stop'");
}
END_TEST

START_TEST(bonus_suspends_at_its_end_without_charging)
{
    credit(100000);
    dm_sub s;
    subscribe_at(T0, true, true, 7, &s);
    ck_assert_int_eq(s.period_end_ms, T0 + 7 * DAY_MS);
    ck_assert_int_eq(run(T0 + 7 * DAY_MS - 1000, GRACE).subscriptions, 0);
    dm_sub_period_report rep = run(T0 + 7 * DAY_MS, GRACE);
    ck_assert_int_eq(rep.suspended, 1);
    ck_assert_int_eq(rep.renewed, 0);
    ck_assert_str_eq(reload(s.id).status, "SUSPENDED");
    ck_assert_int_eq(balance(), 100000);
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM transactions WHERE type = 'RENEWAL'");
    expect_jobs(s.id, "stop", "1");
}
END_TEST

START_TEST(cancel_at_period_end_cancels_instead_of_renewing)
{
    credit(100000);
    dm_sub s;
    subscribe(true, &s);
    char *v = dm_test_db_scalarf(url, "UPDATE subscriptions SET cancel_at_period_end = true WHERE id = '%s' "
                                      "RETURNING id", s.id);
    free(v);
    ck_assert_int_eq(run(s.period_end_ms - 1, GRACE).subscriptions, 0);
    ck_assert_str_eq(reload(s.id).status, "ACTIVE");
    dm_sub_period_report rep = run(s.period_end_ms, GRACE);
    ck_assert_int_eq(rep.cancelled, 1);
    ck_assert_int_eq(rep.renewed, 0);
    ck_assert_str_eq(reload(s.id).status, "CANCELLED");
    DM_EXPECT_SQL(url, "cancelled at period end", "SELECT end_reason FROM subscriptions WHERE id = '%s'", s.id);
    ck_assert_int_eq(balance(), 70000);
    expect_used_quota("0");
    expect_jobs(s.id, "terminate", "1");
    expect_jobs(s.id, "stop", "0");
}
END_TEST

START_TEST(zero_grace_days_expire_at_once)
{
    dm_sub s;
    credit(PRICE);
    subscribe(true, &s);
    dm_sub_period_report rep = run(s.period_end_ms, 0);
    ck_assert_int_eq(rep.expired, 1);
    ck_assert_int_eq(rep.suspended, 0);
    ck_assert_str_eq(reload(s.id).status, "EXPIRED");
    expect_used_quota("0");
    expect_jobs(s.id, "terminate", "1");
}
END_TEST

START_TEST(missed_periods_renew_one_at_a_time_while_covered)
{
    credit(PRICE * 3 + 5); /* the first period and two renewals */
    dm_sub s;
    subscribe(true, &s);
    int64_t end = s.period_end_ms;
    /* The job was down for two and a half periods. */
    int64_t now = end + 2 * PERIOD_MS + PERIOD_MS / 2;
    dm_sub_period_report rep = run(now, 30);
    ck_assert_int_eq(rep.subscriptions, 1);
    ck_assert_int_eq(rep.renewed, 2);
    ck_assert_int_eq(rep.suspended, 1);
    dm_sub a = reload(s.id);
    ck_assert_str_eq(a.status, "SUSPENDED");
    ck_assert_int_eq(a.period_end_ms, end + 2 * PERIOD_MS);
    ck_assert_int_eq(a.grace_until_ms, end + 2 * PERIOD_MS + 30 * DAY_MS);
    ck_assert_int_eq(balance(), 5);
    DM_EXPECT_SQL(url, "2", "SELECT count(*) FROM transactions WHERE type = 'RENEWAL'");
    /* Nothing more at the same time. */
    ck_assert_int_eq(run(now, 30).subscriptions, 0);
}
END_TEST

START_TEST(missed_grace_expires_without_suspending)
{
    credit(PRICE);
    dm_sub s;
    subscribe(true, &s);
    dm_sub_period_report rep = run(s.period_end_ms + (GRACE + 1) * DAY_MS, GRACE);
    ck_assert_int_eq(rep.expired, 1);
    ck_assert_int_eq(rep.suspended, 0);
    ck_assert_str_eq(reload(s.id).status, "EXPIRED");
    expect_used_quota("0");
}
END_TEST

START_TEST(rows_another_session_holds_are_skipped)
{
    credit(100000);
    dm_sub s;
    subscribe(true, &s);
    dm_db other;
    dm_err_t err = { 0 };
    ck_assert_msg(dm__db_init(&other, url, 2, 10000, &err) == 0, "db init: %s", err.msg);
    ck_assert_int_eq(dm__db_begin(&other, &err), 0);
    dm_sub held;
    ck_assert_msg(dm__sub_lock(&other, s.id, NULL, &held, &err) == 0, "lock: %s", err.msg);
    ck_assert_int_eq(run(s.period_end_ms, GRACE).subscriptions, 0);
    dm__db_rollback(&other);
    dm__db_fini(&other);
    ck_assert_int_eq(run(s.period_end_ms, GRACE).renewed, 1);
}
END_TEST

START_TEST(periodic_job_uses_the_wall_clock_and_configured_grace)
{
    credit(PRICE);
    dm_sub s;
    /* Bought 31 days ago: its period ended yesterday. */
    int64_t start = dm__clock_wall_ms() - 31 * DAY_MS;
    subscribe_at(start, true, false, PERIOD_DAYS, &s);
    dm_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.grace_days = 2;
    dm_err_t err = { 0 };
    ck_assert_msg(dm__sub_period_job(&db, NULL, &cfg, &err) == 0, "job: %s", err.msg);
    dm_sub a = reload(s.id);
    ck_assert_str_eq(a.status, "SUSPENDED");
    ck_assert_int_eq(a.grace_until_ms, s.period_end_ms + 2 * DAY_MS);
    expect_jobs(s.id, "stop", "1");
}
END_TEST

/* 40 due subscriptions that always fail (their plan's used_quota was
 * zeroed behind the job's back, so freeing the slot fails) must not stop
 * the run from reaching a healthy one due after them: a run used to end
 * after 32 failures, and as the same rows came first every run, the
 * healthy subscription was never renewed. */
START_TEST(failing_rows_do_not_starve_the_rest_of_the_run)
{
    enum { POISON = 40 };
    char poison_plan[37], sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO plans (service_id, slug, name, price, billing_period_days, cpu_millicores, memory_mb, "
             "total_quota) SELECT service_id, 'poison', 'Poison', 0, 1, 500, 512, %d FROM plans WHERE id = '%s' "
             "RETURNING id",
             POISON, plan_id);
    insert_id(sql, poison_plan);
    dm_err_t err = { 0 };
    dm_sub_plan pp;
    ck_assert_msg(dm__sub_plan_get(&db, poison_plan, &pp, &err) == 0, "plan: %s", err.msg);
    for (int i = 0; i < POISON; i++) {
        char email[64];
        snprintf(email, sizeof email, "poison%d@example.id", i);
        dm_user u;
        ck_assert_msg(dm__users_create(&db, email, "Poison", NULL, NULL, "$argon2id$x", &u, &err) == 0, "user: %s",
                      err.msg);
        /* A one-day bonus that ended long before the healthy one. */
        dm_sub_new n = { .user_id = u.id, .plan = &pp, .price = 0, .period_days = 1, .is_bonus = true };
        dm_sub ps;
        dm_sub_refusal why;
        ck_assert_int_eq(dm__db_begin(&db, &err), 0);
        ck_assert_msg(dm__sub_create(&db, &n, T0 - 10 * DAY_MS, &ps, &why, &err) == 0, "create: %s", err.msg);
        ck_assert_msg(dm__db_commit(&db, &err) == 0, "commit: %s", err.msg);
    }
    free(dm_test_db_scalarf(url, "UPDATE plans SET used_quota = 0 WHERE id = '%s' RETURNING id", poison_plan));
    credit(2 * PRICE); /* the first period and one renewal */
    dm_sub s;
    subscribe(true, &s);
    dm_sub_period_report rep;
    ck_assert_msg(dm__sub_period_end(&db, s.period_end_ms, 0, 1000, &rep, &err) == 0, "period end: %s", err.msg);
    ck_assert_msg(rep.failed == POISON, "%d failed, want %d", rep.failed, POISON);
    ck_assert_msg(rep.renewed == 1, "the healthy subscription was not renewed (%d renewals)", rep.renewed);
    ck_assert_int_eq(reload(s.id).period_end_ms, s.period_end_ms + PERIOD_MS);
    ck_assert_int_eq(balance(), 0);
    /* Repair the count so the quota invariant holds again. */
    free(dm_test_db_scalarf(url, "UPDATE plans SET used_quota = %d WHERE id = '%s' RETURNING id", POISON,
                            poison_plan));
}
END_TEST

/* A database error after RENEWAL rows were written (here the UPDATE that
 * moves the period on a second time, for a second missed period, fails)
 * rolls the whole subscription back: no money taken without the period
 * moving, nothing reported as renewed, and the next run renews both. */
START_TEST(a_failure_mid_renewal_charges_nothing_and_is_retried)
{
    credit(3 * PRICE);
    dm_sub s;
    subscribe(true, &s);
    int64_t now = s.period_end_ms + PERIOD_MS; /* two periods over */
    free(dm_test_db_scalar(url, "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS "
                                "$$ BEGIN RAISE EXCEPTION 'period move refused'; END $$"));
    free(dm_test_db_scalarf(url, "CREATE TRIGGER boom BEFORE UPDATE ON subscriptions FOR EACH ROW "
                                 "WHEN (NEW.current_period_end > to_timestamp(%lld / 1000.0)) "
                                 "EXECUTE FUNCTION boom()", (long long)now));
    dm_sub_period_report rep;
    dm_err_t err = { 0 };
    ck_assert_msg(dm__sub_period_end(&db, now, GRACE, 100, &rep, &err) == 0, "run: %s", err.msg);
    ck_assert_int_eq(rep.failed, 1);
    ck_assert_msg(rep.renewed == 0, "a rolled-back renewal was reported (%d)", rep.renewed);
    ck_assert_int_eq(balance(), 2 * PRICE);
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM transactions WHERE type = 'RENEWAL'");
    dm_sub a = reload(s.id);
    ck_assert_str_eq(a.status, "ACTIVE");
    ck_assert_int_eq(a.period_end_ms, s.period_end_ms);
    free(dm_test_db_scalar(url, "DROP TRIGGER boom ON subscriptions"));
    ck_assert_int_eq(run(now, GRACE).renewed, 2);
    ck_assert_int_eq(balance(), 0);
    ck_assert_int_eq(reload(s.id).period_end_ms, s.period_end_ms + 2 * PERIOD_MS);
}
END_TEST

/* One node's run of the job on its own connection (no Check asserts off
 * the main thread: results are recorded). */
typedef struct node_run {
    pthread_barrier_t   *start;
    int64_t              now_ms;
    int                  rc;
    dm_sub_period_report rep;
} node_run;

static void *node(void *arg)
{
    node_run *n = arg;
    dm_db conn;
    dm_err_t err = { 0 };
    int init = dm__db_init(&conn, url, 2, 10000, &err);
    pthread_barrier_wait(n->start);
    n->rc = init != 0 ? init : dm__sub_period_end(&conn, n->now_ms, GRACE, 1000, &n->rep, &err);
    if (init == 0)
        dm__db_fini(&conn);
    return NULL;
}

/* Three nodes running the job at once over 24 due subscriptions: each is
 * renewed exactly once (SKIP LOCKED shares them out, and a row one node
 * renewed is no longer due for the others). */
START_TEST(nodes_running_at_once_renew_each_subscription_once)
{
    enum { SUBS = 24, NODES = 3 };
    dm_err_t err = { 0 };
    dm_sub_plan plan;
    ck_assert_int_eq(dm__sub_plan_get(&db, plan_id, &plan, &err), 0);
    free(dm_test_db_scalarf(url, "UPDATE plans SET total_quota = %d WHERE id = '%s' RETURNING id", SUBS, plan_id));
    int64_t end = 0;
    for (int i = 0; i < SUBS; i++) {
        char email[64];
        snprintf(email, sizeof email, "node%d@example.id", i);
        dm_user u;
        ck_assert_msg(dm__users_create(&db, email, "Node", NULL, NULL, "$argon2id$x", &u, &err) == 0, "user: %s",
                      err.msg);
        dm_ledger_post p = { u.id, "ADJUSTMENT", 2 * PRICE, "test credit", NULL };
        ck_assert_msg(dm__ledger_post(&db, &p, NULL, &err) == 0, "credit: %s", err.msg);
        dm_sub_new n = { .user_id = u.id, .plan = &plan, .price = PRICE, .period_days = PERIOD_DAYS,
                         .auto_renew = true };
        dm_sub ns;
        dm_sub_refusal why;
        ck_assert_int_eq(dm__db_begin(&db, &err), 0);
        ck_assert_msg(dm__sub_create(&db, &n, T0, &ns, &why, &err) == 0, "create: %s", err.msg);
        ck_assert_msg(dm__sub_money(&db, u.id, ns.id, "SUBSCRIPTION", -PRICE, "subscribe", NULL, &err) == 0,
                      "charge: %s", err.msg);
        ck_assert_int_eq(dm__db_commit(&db, &err), 0);
        end = ns.period_end_ms;
    }
    pthread_t th[NODES];
    node_run runs[NODES];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, NODES);
    for (int i = 0; i < NODES; i++) {
        runs[i] = (node_run){ .start = &start, .now_ms = end };
        ck_assert_int_eq(pthread_create(&th[i], NULL, node, &runs[i]), 0);
    }
    int renewed = 0;
    for (int i = 0; i < NODES; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(runs[i].rc == 0 && runs[i].rep.failed == 0, "node %d: rc %d, %d failed", i, runs[i].rc,
                      runs[i].rep.failed);
        renewed += runs[i].rep.renewed;
    }
    pthread_barrier_destroy(&start);
    ck_assert_msg(renewed == SUBS, "%d renewals for %d subscriptions", renewed, SUBS);
    DM_EXPECT_SQL(url, "24 24", "SELECT count(*) || ' ' || count(DISTINCT subscription_id) FROM transactions "
                                "WHERE type = 'RENEWAL'");
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM subscriptions WHERE current_period_end <= to_timestamp(%lld / 1000.0)",
                  (long long)end);
}
END_TEST

START_TEST(bad_arguments_are_refused)
{
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__sub_period_end(&db, T0, -1, 10, NULL, &err), DM_EINVAL);
    ck_assert_int_eq(dm__sub_period_end(&db, T0, 3, 0, NULL, &err), DM_EINVAL);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("sub_lifecycle");
    TCase *tc = tcase_create("period_end");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, renews_when_the_balance_covers_the_price);
    tcase_add_test(tc, a_deactivated_plan_still_renews);
    tcase_add_test(tc, nothing_happens_one_second_before_the_end);
    tcase_add_test(tc, running_twice_at_the_same_time_changes_nothing_more);
    tcase_add_test(tc, suspends_when_not_covered_then_expires_after_the_grace);
    tcase_add_test(tc, auto_renew_off_suspends_even_with_money);
    tcase_add_test(tc, bonus_suspends_at_its_end_without_charging);
    tcase_add_test(tc, cancel_at_period_end_cancels_instead_of_renewing);
    tcase_add_test(tc, zero_grace_days_expire_at_once);
    tcase_add_test(tc, missed_periods_renew_one_at_a_time_while_covered);
    tcase_add_test(tc, missed_grace_expires_without_suspending);
    tcase_add_test(tc, rows_another_session_holds_are_skipped);
    tcase_add_test(tc, periodic_job_uses_the_wall_clock_and_configured_grace);
    tcase_add_test(tc, failing_rows_do_not_starve_the_rest_of_the_run);
    tcase_add_test(tc, a_failure_mid_renewal_charges_nothing_and_is_retried);
    tcase_add_test(tc, nodes_running_at_once_renew_each_subscription_once);
    tcase_add_test(tc, bad_arguments_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
