/*
 * sub_ops.c — the user's subscription operations (subscriptions.h):
 * subscribe, upgrade, cancel, renew, auto-renew and the list. Each is one
 * SQL transaction that locks the subscription row before anything else,
 * then touches plans (quota) and last the user's balance (ledger), so
 * concurrent operations always take their locks in the same order.
 */
#include "subscriptions/subscriptions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/users.h"
#include "instances/instance_job.h"
#include "subscriptions/sub_core.h"

#define DAY_S 86400

int64_t dm__subs_prorate(int64_t price, int64_t remaining_s, int period_days, bool round_up)
{
    if (price <= 0 || remaining_s <= 0 || period_days <= 0)
        return 0;
    const int64_t unit = (int64_t)period_days * DAY_S;
    /* Whole periods paid ahead count in full; the part period through
     * dm__prorate's exact 128-bit arithmetic. */
    int64_t whole = remaining_s / unit, value = 0;
    if (__builtin_mul_overflow(whole, price, &value))
        return INT64_MAX;
    int64_t part = dm__prorate(price, remaining_s % unit, unit, round_up);
    if (__builtin_add_overflow(value, part, &value))
        return INT64_MAX;
    return value;
}

/* Refusal: set *code and err, return rc. */
static int refuse(int rc, const char *api_code, const char **code, dm_err_t *err, const char *msg)
{
    *code = api_code;
    return dm_err_set(err, rc, "%s", msg);
}

/* The end of every operation: read the result and commit, or roll back.
 * The read comes first so that a success is never answered as a failure
 * (a 5xx releases the Idempotency-Key, and a retry would charge again). */
static int finish(dm_db *db, int rc, const char *sub_id, json_t **out, dm_err_t *err)
{
    json_t *j = NULL;
    if (rc == 0)
        rc = dm__sub_json(db, sub_id, &j, err);
    rc = dm__db_end(db, rc, err);
    if (rc == 0)
        *out = j;
    else
        json_decref(j);
    return rc;
}

/* Begin and lock user_id's subscription sub_id; on failure the
 * transaction is already rolled back. */
static int open_locked(dm_db *db, const char *user_id, const char *sub_id, dm_sub *s, const char **code,
                       dm_err_t *err)
{
    *code = NULL;
    int rc = dm__db_begin(db, err);
    if (rc != 0)
        return rc;
    rc = dm__sub_lock(db, sub_id, user_id, s, err);
    if (rc != 0) {
        dm__db_rollback(db);
        if (rc == DM_ENOTFOUND)
            *code = "NOT_FOUND";
    }
    return rc;
}

/* A charge the balance did not cover: ledger DM_ECONFLICT → 402. */
static int money(dm_db *db, const dm_sub *s, const char *type, int64_t amount, const char *what,
                 const char **code, dm_err_t *err)
{
    int rc = dm__sub_money(db, s->user_id, s->id, type, amount, what, NULL, err);
    if (rc == DM_ECONFLICT)
        *code = "INSUFFICIENT_CREDITS";
    return rc;
}

static const char *refusal_code(dm_sub_refusal why)
{
    return why == DM_SUB_ALREADY_SUBSCRIBED ? "ALREADY_SUBSCRIBED"
           : why == DM_SUB_QUOTA_EXHAUSTED  ? "QUOTA_EXHAUSTED"
                                            : NULL;
}

int dm__subs_subscribe(dm_db *db, const char *user_id, const char *plan_id, bool auto_renew, int64_t now_ms,
                       json_t **out, const char **code, dm_err_t *err)
{
    *code = NULL;
    dm_sub_plan plan;
    int rc = dm__sub_plan_get(db, plan_id, &plan, err);
    if (rc == DM_ENOTFOUND || (rc == 0 && !plan.active))
        return refuse(DM_EINVAL, "VALIDATION_ERROR", code, err, "planId: no such plan on offer");
    if (rc != 0)
        return rc;
    if ((rc = dm__db_begin(db, err)) != 0)
        return rc;
    dm_sub_new n = { user_id, &plan, plan.price, plan.period_days, auto_renew, false };
    dm_sub s;
    memset(&s, 0, sizeof s);
    dm_sub_refusal why = DM_SUB_REFUSED_NONE;
    rc = dm__sub_create(db, &n, now_ms, &s, &why, err);
    if (rc == DM_ECONFLICT)
        *code = refusal_code(why);
    if (rc == 0)
        rc = money(db, &s, "SUBSCRIPTION", -plan.price, "Subscription", code, err);
    return finish(db, rc, s.id, out, err);
}

/* The new plan must be on offer, of the same service and dearer than
 * what the subscription pays now. */
static int upgrade_target(dm_db *db, const dm_sub *s, const char *new_plan_id, dm_sub_plan *to,
                          const char **code, dm_err_t *err)
{
    int rc = dm__sub_plan_get(db, new_plan_id, to, err);
    if (rc == DM_ENOTFOUND || (rc == 0 && !to->active))
        return refuse(DM_EINVAL, "VALIDATION_ERROR", code, err, "newPlanId: no such plan on offer");
    if (rc != 0)
        return rc;
    if (strcmp(to->service_id, s->service_id) != 0)
        return refuse(DM_EINVAL, "VALIDATION_ERROR", code, err, "newPlanId: a plan of another service");
    /* The price is per period: a plan billed over another length is no
     * "dearer" or cheaper by its number alone, and the subscription keeps
     * its period, so taking the new price would re-bill a yearly price
     * every month (or a monthly one every year). */
    if (to->period_days != s->period_days)
        return refuse(DM_EINVAL, "VALIDATION_ERROR", code, err,
                      "newPlanId: a plan with another billing period (change it by cancelling and subscribing)");
    if (to->price <= s->price)
        return refuse(DM_EINVAL, "VALIDATION_ERROR", code, err,
                      "newPlanId: must cost more than the current plan (downgrades are not offered)");
    return 0;
}

int dm__subs_upgrade(dm_db *db, const char *user_id, const char *sub_id, const char *new_plan_id,
                     int64_t now_ms, json_t **out, const char **code, dm_err_t *err)
{
    dm_sub s;
    int rc = open_locked(db, user_id, sub_id, &s, code, err);
    if (rc != 0)
        return rc;
    dm_sub_plan to;
    if (strcmp(s.status, "ACTIVE") != 0)
        rc = refuse(DM_ECONFLICT, "INVALID_STATE", code, err, "only an active subscription can be upgraded");
    else if (s.is_bonus) /* never paid for: an administrator changes it */
        rc = refuse(DM_ECONFLICT, "INVALID_STATE", code, err, "a bonus subscription is not upgraded by its user");
    else
        rc = upgrade_target(db, &s, new_plan_id, &to, code, err);
    /* The price before the move: the difference is what the rest of the
     * paid time costs more. */
    int64_t charge = 0;
    if (rc == 0)
        charge = dm__subs_prorate(to.price - s.price, dm__sub_remaining_s(&s, now_ms), s.period_days, true);
    dm_sub_refusal why = DM_SUB_REFUSED_NONE;
    if (rc == 0) {
        rc = dm__sub_change_plan(db, &s, &to, to.price, "upgrade", &why, err);
        if (rc == DM_ECONFLICT)
            *code = refusal_code(why);
    }
    if (rc == 0)
        rc = money(db, &s, "UPGRADE", -charge, "Plan upgrade (prorated)", code, err);
    return finish(db, rc, sub_id, out, err);
}

int dm__subs_cancel(dm_db *db, const char *user_id, const char *sub_id, const char *reason,
                    const char *refund_policy, int64_t now_ms, json_t **out, const char **code, dm_err_t *err)
{
    dm_sub s;
    int rc = open_locked(db, user_id, sub_id, &s, code, err);
    if (rc != 0)
        return rc;
    /* Read before the end: dm__sub_end does not move the period, but the
     * refund is for the time left at this moment. */
    int64_t refund = refund_policy != NULL && strcmp(refund_policy, "prorated") == 0 && !s.is_bonus
                         ? dm__subs_prorate(s.price, dm__sub_remaining_s(&s, now_ms), s.period_days, false)
                         : 0;
    if (!dm__sub_is_live(&s))
        rc = refuse(DM_ECONFLICT, "INVALID_STATE", code, err, "the subscription has already ended");
    /* Never more back than was paid in (dm__sub_paid). */
    int64_t paid = 0;
    if (rc == 0 && refund > 0 && (rc = dm__sub_paid(db, s.id, &paid, NULL, err)) == 0 && refund > paid)
        refund = paid;
    if (rc == 0)
        rc = dm__sub_end(db, &s, "CANCELLED", reason != NULL ? reason : "cancelled by the user", now_ms, err);
    if (rc == 0 && refund > 0)
        rc = dm__sub_money(db, s.user_id, s.id, "REFUND", refund, "Cancellation refund (prorated)", NULL, err);
    return finish(db, rc, sub_id, out, err);
}

/* One more period: after the current end while ACTIVE; from now, ACTIVE
 * again, when SUSPENDED. A renewal paid for is no longer cancelled at
 * the period end. A period is exactly days × 24 hours, whatever the
 * session's TimeZone (see dm__sub_create). */
static int extend(dm_db *db, const dm_sub *s, int64_t now_ms, dm_err_t *err)
{
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    const char *p[] = { s->id, now };
    return dm__db_run(
        db, "subs_renew",
        "UPDATE subscriptions SET "
        "  current_period_start = CASE WHEN status = 'SUSPENDED' "
        "    THEN greatest(start_date, to_timestamp($2::bigint / 1000.0)) ELSE current_period_start END, "
        "  current_period_end = CASE WHEN status = 'SUSPENDED' "
        "    THEN greatest(start_date, to_timestamp($2::bigint / 1000.0)) ELSE current_period_end END "
        "    + billing_period_days * interval '24 hours', "
        "  status = 'ACTIVE', grace_until = NULL, cancel_at_period_end = false, updated_at = now() "
        "WHERE id = $1::uuid AND status IN ('ACTIVE', 'SUSPENDED')",
        2, p, err);
}

int dm__subs_renew(dm_db *db, const char *user_id, const char *sub_id, int64_t now_ms, json_t **out,
                   const char **code, dm_err_t *err)
{
    dm_sub s;
    int rc = open_locked(db, user_id, sub_id, &s, code, err);
    if (rc != 0)
        return rc;
    if (!dm__sub_is_live(&s))
        rc = refuse(DM_ECONFLICT, "INVALID_STATE", code, err, "the subscription has ended; subscribe again");
    else if (s.is_bonus)
        rc = refuse(DM_ECONFLICT, "INVALID_STATE", code, err, "a bonus subscription is not renewed by its user");
    const bool was_suspended = strcmp(s.status, "SUSPENDED") == 0;
    if (rc == 0)
        rc = extend(db, &s, now_ms, err);
    if (rc == 0 && was_suspended && s.instance_id[0] != '\0')
        rc = dm__instance_job_enqueue(db, DM_INSTANCE_JOB_START, s.instance_id, s.id, "renewed", 0, NULL, err);
    if (rc == 0)
        rc = money(db, &s, "RENEWAL", -s.price, "Renewal", code, err);
    return finish(db, rc, sub_id, out, err);
}

int dm__subs_auto_renew(dm_db *db, const char *user_id, const char *sub_id, bool enabled, json_t **out,
                        const char **code, dm_err_t *err)
{
    dm_sub s;
    int rc = open_locked(db, user_id, sub_id, &s, code, err);
    if (rc != 0)
        return rc;
    const char *p[] = { s.id, enabled ? "t" : "f" };
    if (!dm__sub_is_live(&s))
        rc = refuse(DM_ECONFLICT, "INVALID_STATE", code, err, "the subscription has ended");
    else
        rc = dm__db_run(db, "subs_auto_renew",
                        "UPDATE subscriptions SET auto_renew = $2::boolean, updated_at = now() WHERE id = $1::uuid",
                        2, p, err);
    return finish(db, rc, sub_id, out, err);
}

static bool valid_status(const char *s)
{
    static const char *const all[] = { "ACTIVE", "SUSPENDED", "EXPIRED", "CANCELLED" };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(s, all[i]) == 0)
            return true;
    return false;
}

int dm__subs_list(dm_db *db, const char *user_id, const char *status, long page, long limit, json_t **items,
                  long *total, dm_err_t *err)
{
    if (status != NULL && status[0] == '\0')
        status = NULL;
    if (status != NULL && !valid_status(status))
        return dm_err_set(err, DM_EINVAL, "status: must be one of ACTIVE, SUSPENDED, EXPIRED, CANCELLED");
    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%ld", limit);
    snprintf(off, sizeof off, "%ld", (page - 1) * limit);
    const char *p[] = { user_id, status, lim, off };
    PGresult *r = dm__db_exec(db, "subs_list",
                              "SELECT id, count(*) OVER () FROM subscriptions "
                              "WHERE user_id = $1::uuid AND ($2::text IS NULL OR status = $2) "
                              "ORDER BY created_at DESC, id DESC LIMIT $3::bigint OFFSET $4::bigint",
                              4, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    json_t *arr = NULL;
    int rc = dm__sub_json_page(db, r, &arr, err);
    *total = PQntuples(r) > 0 ? strtol(PQgetvalue(r, 0, 1), NULL, 10) : 0;
    PQclear(r);
    if (rc == 0 && *total == 0 && page > 1) {
        /* A page past the end has no rows to carry the count. */
        const char *cp[] = { user_id, status };
        PGresult *c = dm__db_exec(db, "subs_count",
                                  "SELECT count(*) FROM subscriptions WHERE user_id = $1::uuid "
                                  "AND ($2::text IS NULL OR status = $2)",
                                  2, cp, err);
        if (c == NULL)
            rc = dm__db_failed(err);
        else
            *total = strtol(PQgetvalue(c, 0, 0), NULL, 10);
        PQclear(c);
    }
    if (rc != 0) {
        json_decref(arr);
        return rc;
    }
    *items = arr;
    return 0;
}
