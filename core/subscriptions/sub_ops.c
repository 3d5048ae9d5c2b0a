/*
 * sub_ops.c — the user's subscription operations (subscriptions.h):
 * subscribe, upgrade, cancel, renew, auto-renew and the list. Each is one
 * SQL transaction around a rule of policy.h (which owns the lock order,
 * the status table, prices and periods); this file adds what is the
 * user's: their own subscriptions only, and the API's codes and messages
 * for each refusal.
 */
#include "subscriptions/subscriptions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "subscriptions/policy.h"
#include "subscriptions/sub_core.h"

/* Refusal: set *code and err, return rc. */
static int refuse(int rc, const char *api_code, const char **code, dm_err_t *err, const char *msg)
{
    *code = api_code;
    return dm_err_set(err, rc, "%s", msg);
}

/* The user's answer to each refusal of policy.h. NOT_NOW and IS_BONUS
 * name the operation, so each operation has its words for them. */
static const dm_sub_answer answers[] = {
    [DM_SUB_ALREADY_SUBSCRIBED] = { DM_ECONFLICT, "ALREADY_SUBSCRIBED", "already subscribed to this service" },
    [DM_SUB_QUOTA_EXHAUSTED] = { DM_ECONFLICT, "QUOTA_EXHAUSTED", "this plan has no free slot" },
    [DM_SUB_NOT_NOW] = { DM_ECONFLICT, "INVALID_STATE", "not in this status" },
    [DM_SUB_IS_BONUS] = { DM_ECONFLICT, "INVALID_STATE", "a bonus subscription" },
    [DM_SUB_NO_CREDITS] = { DM_ECONFLICT, "INSUFFICIENT_CREDITS",
                            "the balance does not cover this charge; top up first" },
    [DM_SUB_NO_PLAN] = { DM_EINVAL, "VALIDATION_ERROR", "newPlanId: no such plan on offer" },
    [DM_SUB_OTHER_SERVICE] = { DM_EINVAL, "VALIDATION_ERROR", "newPlanId: a plan of another service" },
    /* The price is per period: a plan billed over another length is no
     * "dearer" or cheaper by its number alone. */
    [DM_SUB_OTHER_PERIOD] = { DM_EINVAL, "VALIDATION_ERROR",
                              "newPlanId: a plan with another billing period (change it by cancelling and "
                              "subscribing)" },
    [DM_SUB_NOT_DEARER] = { DM_EINVAL, "VALIDATION_ERROR",
                            "newPlanId: must cost more than the current plan (downgrades are not offered)" },
};

/* rc from a rule of policy.h as the user's answer, in words (may be NULL). */
static int answer(int rc, dm_sub_refusal why, const char *const *words, const char **code, dm_err_t *err)
{
    return dm__sub_answer(rc, why, answers, sizeof answers / sizeof answers[0], words, code, err);
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
    rc = answer(rc, why, NULL, code, err);
    if (rc == 0) {
        rc = dm__sub_money(db, s.user_id, s.id, "SUBSCRIPTION", -plan.price, "Subscription", NULL, err);
        rc = answer(rc, rc == DM_ECONFLICT ? DM_SUB_NO_CREDITS : DM_SUB_REFUSED_NONE, NULL, code, err);
    }
    return finish(db, rc, s.id, out, err);
}

int dm__subs_upgrade(dm_db *db, const char *user_id, const char *sub_id, const char *new_plan_id,
                     int64_t now_ms, json_t **out, const char **code, dm_err_t *err)
{
    static const char *const w[DM_SUB_NREFUSALS] = {
        [DM_SUB_NOT_NOW] = "only an active subscription can be upgraded",
        [DM_SUB_IS_BONUS] = "a bonus subscription is not upgraded by its user",
    };
    dm_sub s;
    int rc = open_locked(db, user_id, sub_id, &s, code, err);
    if (rc != 0)
        return rc;
    dm_sub_upgrade u = { DM_SUB_BY_USER, new_plan_id, false, "Plan upgrade (prorated)", "upgrade" };
    dm_sub_refusal why = DM_SUB_REFUSED_NONE;
    rc = dm__sub_upgrade_to(db, &s, &u, now_ms, &why, err);
    rc = answer(rc, why, w, code, err);
    return finish(db, rc, sub_id, out, err);
}

int dm__subs_cancel(dm_db *db, const char *user_id, const char *sub_id, const char *reason,
                    const char *refund_policy, int64_t now_ms, json_t **out, const char **code, dm_err_t *err)
{
    static const char *const w[DM_SUB_NREFUSALS] = { [DM_SUB_NOT_NOW] = "the subscription has already ended" };
    dm_sub s;
    int rc = open_locked(db, user_id, sub_id, &s, code, err);
    if (rc != 0)
        return rc;
    const bool prorated = refund_policy != NULL && strcmp(refund_policy, "prorated") == 0;
    dm_sub_cancel c = { DM_SUB_BY_USER, prorated ? DM_SUB_REFUND_PRORATED : DM_SUB_REFUND_NONE,
                        reason != NULL ? reason : "cancelled by the user", "Cancellation refund (prorated)" };
    dm_sub_refusal why = DM_SUB_REFUSED_NONE;
    rc = dm__sub_cancel_now(db, &s, &c, now_ms, NULL, &why, err);
    rc = answer(rc, why, w, code, err);
    return finish(db, rc, sub_id, out, err);
}

int dm__subs_renew(dm_db *db, const char *user_id, const char *sub_id, int64_t now_ms, json_t **out,
                   const char **code, dm_err_t *err)
{
    static const char *const w[DM_SUB_NREFUSALS] = {
        [DM_SUB_NOT_NOW] = "the subscription has ended; subscribe again",
        [DM_SUB_IS_BONUS] = "a bonus subscription is not renewed by its user",
    };
    dm_sub s;
    int rc = open_locked(db, user_id, sub_id, &s, code, err);
    if (rc != 0)
        return rc;
    dm_sub_renewal r = { DM_SUB_OP_RENEW, 0, "Renewal", "renewed" };
    dm_sub_refusal why = DM_SUB_REFUSED_NONE;
    rc = dm__sub_renewal(db, &s, &r, now_ms, &why, err);
    rc = answer(rc, why, w, code, err);
    return finish(db, rc, sub_id, out, err);
}

int dm__subs_auto_renew(dm_db *db, const char *user_id, const char *sub_id, bool enabled, json_t **out,
                        const char **code, dm_err_t *err)
{
    static const char *const w[DM_SUB_NREFUSALS] = { [DM_SUB_NOT_NOW] = "the subscription has ended" };
    dm_sub s;
    int rc = open_locked(db, user_id, sub_id, &s, code, err);
    if (rc != 0)
        return rc;
    dm_sub_move m;
    dm__sub_move_init(&m, &s);
    m.auto_renew = enabled;
    rc = dm__sub_apply(db, &s, DM_SUB_OP_AUTO_RENEW, &m, err);
    rc = answer(rc, rc == DM_ECONFLICT ? DM_SUB_NOT_NOW : DM_SUB_REFUSED_NONE, w, code, err);
    return finish(db, rc, sub_id, out, err);
}

int dm__subs_list(dm_db *db, const char *user_id, const char *status, long page, long limit, json_t **items,
                  long *total, dm_err_t *err)
{
    if (status != NULL && status[0] == '\0')
        status = NULL;
    if (status != NULL && !dm__sub_status_valid(status))
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
