/*
 * subs_fixture.h — what the subscription integration suites share: a fresh
 * migrated database per test with the ledger and quota invariants checked
 * after it, catalog rows, users and credits made through the real code,
 * and the operations called at a chosen time. Each suite includes it once.
 */
#ifndef DM_SUBS_FIXTURE_H
#define DM_SUBS_FIXTURE_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wallet/ledger.h"
#include "subscriptions/sub_core.h"
#include "subscriptions/subscriptions.h"
#include "accounts/users.h"
#include "instances/instance_state.h"
#include "dm_test.h"
#include "testdb.h"

#define DAY_MS (86400LL * 1000)
#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */

static char *url;
static dm_db db;

static inline void setup(void)
{
    url = dm_test_db_create_migrated("subs");
    dm_err_t err = { 0 };
    ck_assert_msg(dm__db_init(&db, url, 2, 10000, &err) == 0, "db init: %s", err.msg);
}

static inline void teardown(void)
{
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM ledger_violations()");
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM quota_violations()");
    dm__db_fini(&db);
    dm_test_db_drop(url);
    free(url);
}

/* ---- fixtures: catalog rows, users and credits ------------------------- */

static inline void scalar_into(char out[37], char *v, const char *what)
{
    ck_assert_msg(v != NULL && strlen(v) == 36, "%s: got %s", what, v != NULL ? v : "(null)");
    memcpy(out, v, 37);
    free(v);
}

/* A service (in its own active category) with slug; its id into out. */
static inline void service(const char *slug, char out[37])
{
    scalar_into(out,
                dm_test_db_scalarf(url,
                                   "WITH c AS (INSERT INTO categories (slug, name) VALUES ('cat-%s', 'Cat') "
                                   "RETURNING id) INSERT INTO services (category_id, slug, name, service_type, "
                                   "template) SELECT id, '%s', 'Svc', 'web', 'web' FROM c RETURNING id",
                                   slug, slug),
                "service");
}

static inline void plan(const char *service_id, const char *slug, long long price, int days, int quota, char out[37])
{
    scalar_into(out,
                dm_test_db_scalarf(url,
                                   "INSERT INTO plans (service_id, slug, name, price, billing_period_days, "
                                   "cpu_millicores, memory_mb, total_quota) VALUES ('%s', '%s', 'Plan', %lld, %d, "
                                   "250, 256, %d) RETURNING id",
                                   service_id, slug, price, days, quota),
                "plan");
}

static inline void user(const char *email, char out[37])
{
    dm_user u;
    dm_err_t err = { 0 };
    ck_assert_msg(dm__users_create(&db, email, "Subscriber", NULL, NULL, "$argon2id$x", &u, &err) == 0,
                  "user %s: %s", email, err.msg);
    memcpy(out, u.id, 37);
}

/* Move the instance of subscription sid through ops (NULL-terminated),
 * each through dm__instance_transition as the job handlers do: a status
 * change and its instance_events row. */
static inline void instance_through(const char *sid, const char *const *ops)
{
    char iid[37];
    scalar_into(iid, dm_test_db_scalarf(url, "SELECT id FROM instances WHERE subscription_id = '%s'", sid),
                "instance");
    for (size_t i = 0; ops[i] != NULL; i++) {
        dm_err_t err = { 0 };
        ck_assert_msg(dm__instance_transition(&db, iid, ops[i], "system", "test", NULL, &err) == 0,
                      "instance %s: %s", ops[i], err.msg);
    }
}

/* The instance of sid was provisioned and ran: a prorated refund stays
 * prorated (docs/billing.md, "Cancelling and refunds"). */
static inline void instance_ran(const char *sid)
{
    static const char *const ops[] = { "provision", "running", NULL };
    instance_through(sid, ops);
}

/* Credits only through the ledger: an ADJUSTMENT row. */
static inline void credit(const char *uid, long long amount)
{
    dm_ledger_post p = { uid, "ADJUSTMENT", amount, "test credit", NULL };
    dm_err_t err = { 0 };
    ck_assert_msg(dm__ledger_post(&db, &p, NULL, &err) == 0, "credit: %s", err.msg);
}

static inline long long balance(const char *uid)
{
    char *v = dm_test_db_scalarf(url, "SELECT credit_balance FROM users WHERE id = '%s'", uid);
    long long b = strtoll(v, NULL, 10);
    free(v);
    return b;
}

/* Everything a refused operation must leave untouched. */
static inline char *snapshot(void)
{
    return dm_test_db_scalarf(url, "SELECT (SELECT count(*) FROM subscriptions) || '|' || "
                                   "(SELECT count(*) FROM instances) || '|' || (SELECT count(*) FROM jobs) || '|' || "
                                   "(SELECT count(*) FROM transactions) || '|' || "
                                   "(SELECT coalesce(sum(used_quota), 0) FROM plans) || '|' || "
                                   "(SELECT coalesce(sum(credit_balance), 0) FROM users) || '|' || "
                                   "(SELECT coalesce(string_agg(id || status || plan_id || price || "
                                   "current_period_end, ',' ORDER BY id), '') FROM subscriptions)");
}

/* ---- calls ------------------------------------------------------------- */

typedef struct outcome {
    int rc;
    const char *code;
    char id[37];
    json_t *sub;
} outcome;

static inline void keep(outcome *o, int rc, const char *code, json_t *sub)
{
    o->rc = rc;
    o->code = code != NULL ? code : "";
    o->sub = sub;
    o->id[0] = '\0';
    const char *id = rc == 0 ? json_string_value(json_object_get(sub, "id")) : NULL;
    if (id != NULL)
        snprintf(o->id, sizeof o->id, "%s", id);
}

static inline outcome subscribe_at(const char *uid, const char *plan_id, int64_t now)
{
    outcome o;
    json_t *sub = NULL;
    const char *code = NULL;
    dm_err_t err = { 0 };
    int rc = dm__subs_subscribe(&db, uid, plan_id, true, now, &sub, &code, &err);
    keep(&o, rc, code, sub);
    return o;
}

/* A subscription that must succeed; its id into id. */
static inline void subscribed(const char *uid, const char *plan_id, int64_t now, char id[37])
{
    outcome o = subscribe_at(uid, plan_id, now);
    ck_assert_msg(o.rc == 0, "subscribe: rc %d %s", o.rc, o.code);
    memcpy(id, o.id, 37);
    json_decref(o.sub);
}

static inline outcome upgrade_at(const char *uid, const char *sid, const char *plan_id, int64_t now)
{
    outcome o;
    json_t *sub = NULL;
    const char *code = NULL;
    dm_err_t err = { 0 };
    int rc = dm__subs_upgrade(&db, uid, sid, plan_id, now, &sub, &code, &err);
    keep(&o, rc, code, sub);
    return o;
}

static inline outcome cancel_at(const char *uid, const char *sid, const char *policy, int64_t now)
{
    outcome o;
    json_t *sub = NULL;
    const char *code = NULL;
    dm_err_t err = { 0 };
    int rc = dm__subs_cancel(&db, uid, sid, "testing", policy, now, &sub, &code, &err);
    keep(&o, rc, code, sub);
    return o;
}

static inline outcome renew_at(const char *uid, const char *sid, int64_t now)
{
    outcome o;
    json_t *sub = NULL;
    const char *code = NULL;
    dm_err_t err = { 0 };
    int rc = dm__subs_renew(&db, uid, sid, now, &sub, &code, &err);
    keep(&o, rc, code, sub);
    return o;
}

static inline void expect_refused(outcome o, int rc, const char *code, const char *what)
{
    ck_assert_msg(o.rc == rc && strcmp(o.code, code) == 0, "%s: got rc %d code %s, want rc %d code %s", what,
                  o.rc, o.code, rc, code);
    ck_assert_msg(o.sub == NULL, "%s: no subscription on a refusal", what);
}

static inline const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "(none)";
}

/* ---- locks ------------------------------------------------------------- */

/* Whether the open transaction on d can lock plan id at once (NOWAIT). */
static inline bool plan_lockable(dm_db *d, const char *id)
{
    const char *p[] = { id };
    dm_err_t err = { 0 };
    PGresult *r = dm__db_exec(d, "test_plan_nowait", "SELECT 1 FROM plans WHERE id = $1::uuid FOR UPDATE NOWAIT", 1,
                              p, &err);
    PQclear(r);
    return r != NULL;
}

/* Wait (bounded: 10 s) until a session of the test database waits for a
 * row lock; whether one did. */
static inline bool some_session_waits_for_a_lock(void)
{
    for (int i = 0; i < 2000; i++) {
        char *n = dm_test_db_scalarf(url, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                          "AND wait_event_type = 'Lock'");
        const bool waits = n != NULL && strcmp(n, "0") != 0;
        free(n);
        if (waits)
            return true;
        usleep(5000);
    }
    return false;
}

#endif
