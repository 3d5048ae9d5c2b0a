/*
 * period_end.c — period ends (period_end.h): renewals charged from
 * the balance, suspension for the grace period with the instance stopped,
 * expiry when the grace is over, and cancellations scheduled for the
 * period end — what is due and each step are policy.h's rules; this file
 * picks due subscriptions and runs them, one transaction per subscription.
 * The time is a parameter.
 */
#include "subscriptions/period_end.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/config.h"
#include "subscriptions/policy.h"
#include "util/clock.h"
#include "util/log.h"

/* Periods one subscription may renew in one transaction (a long outage of
 * the job with a short period); the rest is picked up by the next pick. */
#define MAX_RENEWALS_AT_ONCE 64
/* Subscriptions one run excludes from the rest of the run (failed, or
 * picked but nothing to do) so one row cannot spin the loop. The list
 * grows as needed: a fixed cap that ended the run early let a few rows
 * that always fail (picked first every run) starve every other due
 * subscription forever. Each pick counts towards max, so a run still ends. */
#define SKIP_INITIAL 16
/* Subscriptions one periodic run processes; the next run does the rest. */
#define JOB_MAX 5000

/* ---- single steps (inside the subscription's transaction) --------------- */

/* Why an ACTIVE subscription was not renewed, for the job payload. */
static const char *suspend_reason(const dm_sub *s)
{
    if (s->is_bonus)
        return "bonus period ended";
    if (!s->auto_renew)
        return "period ended without auto-renew";
    return "period ended unpaid";
}

/* One ending or suspending step op of s (dm__sub_due, dm__sub_unpaid). */
static int end_or_suspend(dm_db *db, dm_sub *s, dm_sub_op op, int grace_days, dm_sub_period_report *rep,
                          dm_err_t *err)
{
    dm_sub_move m;
    dm__sub_move_init(&m, s);
    int *count = &rep->suspended;
    if (op == DM_SUB_OP_PERIOD_CANCEL) {
        m.at_us = s->period_end_us;
        m.reason = "cancelled at period end";
        count = &rep->cancelled;
    } else if (op == DM_SUB_OP_GRACE_EXPIRE) {
        m.at_us = dm__sub_grace_end(s, grace_days);
        m.reason = "grace period over";
        count = &rep->expired;
    } else {
        m.grace_until_us = dm__sub_grace_end(s, grace_days);
        m.reason = suspend_reason(s);
    }
    int rc = dm__sub_apply(db, s, op, &m, err);
    *count += rc == 0;
    return rc;
}

/* Everything due for locked subscription id at now_ms: one step after the
 * other while something is due. */
static int process(dm_db *db, const char *id, int64_t now_ms, int grace_days, dm_sub_period_report *rep,
                   dm_err_t *err)
{
    dm_sub s;
    int rc = dm__sub_lock(db, id, NULL, &s, err);
    if (rc != 0)
        return rc;
    char desc[96];
    snprintf(desc, sizeof desc, "Automatic renewal for %d days", s.period_days);
    const dm_sub_renewal renewal = { DM_SUB_OP_PERIOD_RENEW, 0, desc, NULL };
    bool charged = false;
    for (int i = 0; i < MAX_RENEWALS_AT_ONCE && rc == 0; i++) {
        dm_sub_op op = dm__sub_due(&s, now_ms, grace_days);
        if (op == DM_SUB_NOPS)
            break;
        if (op == DM_SUB_OP_PERIOD_RENEW) {
            dm_sub_refusal why;
            rc = dm__sub_renewal(db, &s, &renewal, now_ms, &why, err);
            rep->renewed += rc == 0;
            charged |= rc == 0;
            if (rc != DM_ECONFLICT)
                continue;
            op = dm__sub_unpaid(&s, now_ms, grace_days);
        }
        /* The lock order (policy.h): a transaction that charged holds the
         * balance row and takes no plan row after it, so an end that
         * frees a slot waits for the next pick, in a transaction of its
         * own. */
        if (charged && op != DM_SUB_OP_SUSPEND)
            return 0;
        rc = end_or_suspend(db, &s, op, grace_days, rep, err);
    }
    return rc;
}

/* ---- the run ------------------------------------------------------------ */

/* Inside an open transaction: lock one due subscription no other session
 * holds and that is not in skip (a uuid[] literal); its id into id, ""
 * when none is left. */
static int pick(dm_db *db, int64_t now_ms, const char *skip, char id[37], dm_err_t *err)
{
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    const char *p[] = { now, skip };
    PGresult *r = dm__db_exec(
        db, "sub_period_pick",
        "SELECT id FROM subscriptions "
        "WHERE ((status = 'ACTIVE' AND current_period_end <= to_timestamp($1::bigint / 1000.0)) "
        "    OR (status = 'SUSPENDED' AND grace_until <= to_timestamp($1::bigint / 1000.0))) "
        "  AND id <> ALL ($2::uuid[]) "
        "LIMIT 1 FOR UPDATE SKIP LOCKED",
        2, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    id[0] = '\0';
    if (PQntuples(r) == 1)
        snprintf(id, 37, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

/* The ids a run leaves alone, as a uuid[] literal ("{}" when empty). */
typedef struct skip_list {
    char  *text;
    size_t len, cap;
} skip_list;

static int skip_init(skip_list *k, dm_err_t *err)
{
    k->cap = 2 + SKIP_INITIAL * 37 + 1;
    k->text = malloc(k->cap);
    if (k->text == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    memcpy(k->text, "{}", 3);
    k->len = 2;
    return 0;
}

/* "{a,b}" → "{a,b,id}": overwrite the closing brace. */
static int skip_add(skip_list *k, const char *id, dm_err_t *err)
{
    if (k->len + 38 >= k->cap) {
        char *t = realloc(k->text, k->cap * 2);
        if (t == NULL)
            return dm_err_set(err, DM_ENOMEM, "out of memory");
        k->text = t;
        k->cap *= 2;
    }
    int n = snprintf(k->text + k->len - 1, k->cap - (k->len - 1), "%s%s}", k->len > 2 ? "," : "", id);
    k->len += (size_t)n - 1;
    return 0;
}

/* One pick and its processing in its own transaction; *done when nothing
 * due is left. Non-zero ends the run: a lost connection (DM_EUNAVAIL) or
 * out of memory; a subscription's other failures are counted, logged and
 * skipped for the rest of the run. */
static int run_one(dm_db *db, int64_t now_ms, int grace_days, skip_list *k, dm_sub_period_report *rep,
                   bool *done, dm_err_t *err)
{
    char id[37];
    int rc = dm__db_begin(db, err);
    rc = rc != 0 ? rc : pick(db, now_ms, k->text, id, err);
    if (rc != 0 || id[0] == '\0') {
        dm__db_rollback(db);
        *done = true;
        return rc;
    }
    dm_err_t one = { 0 };
    const dm_sub_period_report saved = *rep;
    int before = rep->renewed + rep->suspended + rep->cancelled + rep->expired;
    rc = process(db, id, now_ms, grace_days, rep, &one);
    if (rc == 0)
        rc = dm__db_commit(db, &one);
    rep->subscriptions++;
    if (rc == 0) {
        /* Picked by SQL time but not due by the millisecond one: leave
         * it for the next run rather than pick it again. */
        if (rep->renewed + rep->suspended + rep->cancelled + rep->expired == before)
            return skip_add(k, id, err);
        return 0;
    }
    dm__db_rollback(db);
    /* Nothing of it happened: renewals counted before the failure were
     * rolled back with it. */
    rep->renewed = saved.renewed;
    rep->suspended = saved.suspended;
    rep->cancelled = saved.cancelled;
    rep->expired = saved.expired;
    if (rc == DM_EUNAVAIL)
        return dm_err_set(err, rc, "period end of %s: %s", id, one.msg);
    DM_LOG_W("period end of subscription %s failed: %s", id, one.msg);
    rep->failed++;
    return skip_add(k, id, err);
}

int dm__sub_period_end(dm_db *db, int64_t now_ms, int grace_days, int max, dm_sub_period_report *rep,
                       dm_err_t *err)
{
    dm_sub_period_report local;
    if (rep == NULL)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    if (max < 1 || grace_days < 0)
        return dm_err_set(err, DM_EINVAL, "period end: max %d, grace_days %d", max, grace_days);
    skip_list k;
    int rc = skip_init(&k, err);
    bool done = false;
    while (rc == 0 && !done && rep->subscriptions < max)
        rc = run_one(db, now_ms, grace_days, &k, rep, &done, err);
    free(k.text);
    return rc;
}

int dm__sub_period_job(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err)
{
    (void)job;
    const dm_config *cfg = ctx;
    dm_sub_period_report rep;
    int rc = dm__sub_period_end(db, dm__clock_wall_ms(), cfg->grace_days, JOB_MAX, &rep, err);
    if (rep.subscriptions > 0)
        DM_LOG_I("period ends: %d subscriptions, %d renewals, %d suspended, %d cancelled, %d expired, %d failed",
                 rep.subscriptions, rep.renewed, rep.suspended, rep.cancelled, rep.expired, rep.failed);
    return rc;
}
