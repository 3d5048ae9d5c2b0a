/*
 * sub_admin.c — the administrators' subscription operations (sub_admin.h):
 * the list, bonus subscriptions, and the changes that run in one
 * transaction with their audit row — upgrade, force-cancel, expire,
 * extend — each a rule of policy.h with an administrator's words for its
 * refusals.
 */
#include "subscriptions/sub_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/users.h"

/* The administrator's answer to each refusal of policy.h. */
static const dm_sub_answer answers[] = {
    [DM_SUB_ALREADY_SUBSCRIBED] = { DM_ECONFLICT, "ALREADY_SUBSCRIBED",
                                    "the user already has a live subscription to this service" },
    [DM_SUB_QUOTA_EXHAUSTED] = { DM_ECONFLICT, "QUOTA_EXHAUSTED", "this plan has no free slot" },
    [DM_SUB_NOT_NOW] = { DM_ECONFLICT, "INVALID_STATE", "the subscription has already ended" },
    [DM_SUB_NO_CREDITS] = { DM_ECONFLICT, "INSUFFICIENT_CREDITS", "the user's balance does not cover the upgrade" },
    [DM_SUB_NO_PLAN] = { DM_ENOTFOUND, "NOT_FOUND", "no such plan" },
    [DM_SUB_OTHER_SERVICE] = { DM_EINVAL, "VALIDATION_ERROR", "newPlanId: must be a plan of the same service" },
    [DM_SUB_CURRENT_PLAN] = { DM_EINVAL, "VALIDATION_ERROR", "newPlanId: is the current plan" },
    [DM_SUB_PLAN_INACTIVE] = { DM_EINVAL, "VALIDATION_ERROR", "newPlanId: the plan is not active" },
    [DM_SUB_OTHER_PERIOD] = { DM_EINVAL, "VALIDATION_ERROR",
                              "newPlanId: the plan has another billing period than the subscription" },
    [DM_SUB_REFUNDED_ALREADY] = { DM_ECONFLICT, "INVALID_STATE",
                                  "this subscription was refunded already; use refund: none" },
    [DM_SUB_CANCEL_SCHEDULED] = { DM_ECONFLICT, "INVALID_STATE", "already cancelled at the period end" },
};

/* rc from a rule of policy.h as the administrator's answer, in words (may
 * be NULL) of the operation. */
static int answer(int rc, dm_sub_refusal why, const char *const *words, const char **code, dm_err_t *err)
{
    return dm__sub_answer(rc, why, answers, sizeof answers / sizeof answers[0], words, code, err);
}

/* The audit row of a change to subscription id by actor (who: its user). */
static int audit(dm_db *db, const dm_actor *actor, const dm_user *who, const char *action, const char *id,
                 const char *reason, const json_t *before, const json_t *after, dm_err_t *err)
{
    dm_audit_entry e = { .actor_id = who->id, .actor = who->email, .action = action,
                         .target_type = "subscription", .target_id = id, .reason = reason,
                         .request_id = actor->request_id, .ip = actor->ip, .before = before, .after = after };
    return dm__audit_write(db, &e, NULL, err);
}

/* ---- the list ----------------------------------------------------------- */

#define LIST_WHERE                                                                                            \
    "WHERE ($1::uuid IS NULL OR user_id = $1::uuid) AND ($2::text IS NULL OR status = $2::text) "            \
    "  AND ($3::uuid IS NULL OR service_id = $3::uuid) "

int dm__sub_admin_list(dm_db *db, const dm_sub_filter *f, long page, long limit, json_t **items, long *total,
                       dm_err_t *err)
{
    const char *w[] = { f->user_id, f->status, f->service_id };
    PGresult *c = dm__db_exec(db, "admin_sub_count", "SELECT count(*) FROM subscriptions " LIST_WHERE, 3, w, err);
    if (c == NULL)
        return dm__db_failed(err);
    *total = strtol(PQgetvalue(c, 0, 0), NULL, 10);
    PQclear(c);
    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%ld", limit);
    snprintf(off, sizeof off, "%ld", (page - 1) * limit);
    const char *p[] = { w[0], w[1], w[2], lim, off };
    PGresult *res = dm__db_exec(db, "admin_sub_list",
                                "SELECT id FROM subscriptions " LIST_WHERE
                                "ORDER BY created_at DESC, id DESC LIMIT $4::bigint OFFSET $5::bigint",
                                5, p, err);
    if (res == NULL)
        return dm__db_failed(err);
    int rc = dm__sub_json_page(db, res, items, err);
    PQclear(res);
    return rc;
}

/* ---- bonus -------------------------------------------------------------- */

/* Inside the open transaction: the free subscription, its BONUS row of 0
 * (as "transaction" in *out) and the audit row. */
static int bonus_write(dm_db *db, const dm_actor *actor, const dm_user *who, const dm_sub_plan *plan,
                       const dm_sub_bonus *b, int64_t now_ms, json_t **out, const char **code, dm_err_t *err)
{
    dm_sub s;
    dm_sub_refusal why = DM_SUB_REFUSED_NONE;
    json_t *tx = NULL;
    dm_sub_new n = { .user_id = b->user_id, .plan = plan, .price = 0, .period_days = b->days,
                     .auto_renew = false, .is_bonus = true };
    int rc = dm__sub_create(db, &n, now_ms, &s, &why, err);
    rc = answer(rc, why, NULL, code, err);
    rc = rc != 0 ? rc : dm__sub_money(db, b->user_id, s.id, "BONUS", 0, b->reason, &tx, err);
    rc = rc != 0 ? rc : dm__sub_json(db, s.id, out, err);
    rc = rc != 0 ? rc : audit(db, actor, who, "subscription.bonus", s.id, b->reason, NULL, *out, err);
    if (rc == 0 && json_object_set(*out, "transaction", tx) != 0)
        rc = dm_err_set(err, DM_ENOMEM, "out of memory");
    json_decref(tx);
    return rc;
}

/* A refusal before any transaction: *code and err, the class returned. */
static int refuse(int rc, const char *api_code, const char *msg, const char **code, dm_err_t *err)
{
    *code = api_code;
    return dm_err_set(err, rc, "%s", msg);
}

int dm__sub_admin_bonus(dm_db *db, const dm_actor *actor, const dm_sub_bonus *b, int64_t now_ms, json_t **out,
                        const char **code, dm_err_t *err)
{
    dm_user who, target;
    dm_sub_plan plan;
    *out = NULL;
    *code = NULL;
    int rc = dm__users_get(db, actor->user_id, &who, err);
    if (rc != 0)
        return rc;
    rc = dm__users_get(db, b->user_id, &target, err);
    if (rc == DM_ENOTFOUND)
        return refuse(DM_ENOTFOUND, "NOT_FOUND", "no such user", code, err);
    rc = rc != 0 ? rc : dm__sub_plan_get(db, b->plan_id, &plan, err);
    if (rc == DM_ENOTFOUND)
        return refuse(DM_ENOTFOUND, "NOT_FOUND", "no such plan", code, err);
    if (rc == 0 && !plan.active)
        return refuse(DM_EINVAL, "VALIDATION_ERROR", "planId: the plan (or its service or category) is not active",
                      code, err);
    rc = rc != 0 ? rc : dm__db_begin(db, err);
    if (rc != 0)
        return rc;
    rc = dm__db_end(db, bonus_write(db, actor, &who, &plan, b, now_ms, out, code, err), err);
    if (rc != 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- changes to one subscription ---------------------------------------- */

/* One change to locked subscription s inside the transaction; *extra (may
 * stay NULL) is a ledger row the change wrote. */
typedef int (*change_fn)(dm_db *db, dm_sub *s, const dm_sub_admin_change *c, int64_t now_ms, json_t **extra,
                         const char **code, dm_err_t *err);

/* In one transaction: lock subscription c->sub_id, run fn, write the audit
 * row (action, reason, the subscription before and after) and commit.
 * *out the subscription after it (new), with *extra under extra_key when
 * one is given (null when fn wrote none). Nothing is written unless 0. */
static int change(dm_db *db, const dm_actor *actor, const char *action, const dm_sub_admin_change *c,
                  int64_t now_ms, change_fn fn, const char *extra_key, json_t **out, const char **code,
                  dm_err_t *err)
{
    dm_user who;
    dm_sub s;
    memset(&s, 0, sizeof s);
    json_t *before = NULL, *extra = NULL;
    *out = NULL;
    *code = NULL;
    int rc = dm__users_get(db, actor->user_id, &who, err);
    rc = rc != 0 ? rc : dm__db_begin(db, err);
    if (rc != 0) {
        *code = rc == DM_ENOTFOUND ? "NOT_FOUND" : NULL;
        return rc;
    }
    rc = dm__sub_lock(db, c->sub_id, NULL, &s, err);
    rc = rc != 0 ? rc : dm__sub_json(db, s.id, &before, err);
    rc = rc != 0 ? rc : fn(db, &s, c, now_ms, &extra, code, err);
    rc = rc != 0 ? rc : dm__sub_json(db, s.id, out, err);
    rc = rc != 0 ? rc : audit(db, actor, &who, action, s.id, c->reason, before, *out, err);
    json_decref(before);
    rc = dm__db_end(db, rc, err);
    if (rc == 0 && extra_key != NULL && json_object_set(*out, extra_key, extra != NULL ? extra : json_null()) != 0)
        rc = dm_err_set(err, DM_ENOMEM, "out of memory");
    json_decref(extra);
    if (rc != 0) {
        json_decref(*out);
        *out = NULL;
    }
    if (rc == DM_ENOTFOUND && *code == NULL) /* the subscription (or the actor) */
        *code = "NOT_FOUND";
    return rc;
}

static int upgrade_fn(dm_db *db, dm_sub *s, const dm_sub_admin_change *c, int64_t now_ms, json_t **extra,
                      const char **code, dm_err_t *err)
{
    static const char *const words[DM_SUB_NREFUSALS] = {
        [DM_SUB_NOT_NOW] = "the subscription has ended",
        [DM_SUB_QUOTA_EXHAUSTED] = "the new plan has no free slot",
    };
    (void)extra;
    dm_sub_upgrade u = { DM_SUB_BY_ADMIN, c->plan_id, c->free, c->reason, c->reason };
    dm_sub_refusal why = DM_SUB_REFUSED_NONE;
    int rc = dm__sub_upgrade_to(db, s, &u, now_ms, &why, err);
    return answer(rc, why, words, code, err);
}

int dm__sub_admin_upgrade(dm_db *db, const dm_actor *actor, const dm_sub_admin_change *c, int64_t now_ms,
                          json_t **out, const char **code, dm_err_t *err)
{
    return change(db, actor, "subscription.upgrade", c, now_ms, upgrade_fn, NULL, out, code, err);
}

/* A cancel at the period end: only while ACTIVE, once. */
static int schedule_cancel(dm_db *db, dm_sub *s, const char **code, dm_err_t *err)
{
    static const char *const words[DM_SUB_NREFUSALS] = {
        [DM_SUB_NOT_NOW] = "a suspended subscription has no period left to run: cancel it immediately"
    };
    dm_sub_refusal why = DM_SUB_REFUSED_NONE;
    int rc = 0;
    if (dm__sub_next(s->status, DM_SUB_OP_SCHEDULE_CANCEL, NULL) != 0)
        why = DM_SUB_NOT_NOW;
    else if (s->cancel_at_period_end)
        why = DM_SUB_CANCEL_SCHEDULED;
    if (why != DM_SUB_REFUSED_NONE)
        return answer(DM_ECONFLICT, why, words, code, err);
    dm_sub_move m;
    dm__sub_move_init(&m, s);
    m.cancel_at_period_end = true;
    rc = dm__sub_apply(db, s, DM_SUB_OP_SCHEDULE_CANCEL, &m, err);
    return answer(rc, rc == DM_ECONFLICT ? DM_SUB_NOT_NOW : DM_SUB_REFUSED_NONE, words, code, err);
}

static int cancel_fn(dm_db *db, dm_sub *s, const dm_sub_admin_change *c, int64_t now_ms, json_t **extra,
                     const char **code, dm_err_t *err)
{
    dm_sub_refusal why = DM_SUB_REFUSED_NONE;
    if (dm__sub_next(s->status, DM_SUB_OP_FORCE_CANCEL, NULL) != 0)
        return answer(DM_ECONFLICT, DM_SUB_NOT_NOW, NULL, code, err);
    if (!c->immediate)
        return schedule_cancel(db, s, code, err);
    dm_sub_cancel k = { DM_SUB_BY_ADMIN, c->refund, c->reason, c->reason };
    int rc = dm__sub_cancel_now(db, s, &k, now_ms, extra, &why, err);
    return answer(rc, why, NULL, code, err);
}

int dm__sub_admin_force_cancel(dm_db *db, const dm_actor *actor, const dm_sub_admin_change *c, int64_t now_ms,
                               json_t **out, const char **code, dm_err_t *err)
{
    /* No refund while the subscription stays live: the user could then
     * cancel it with a prorated refund of their own, or renew it (which
     * clears the scheduled cancel) and keep a period paid back in full. */
    if (c->refund != DM_SUB_REFUND_NONE && !c->immediate) {
        *out = NULL;
        return refuse(DM_EINVAL, "VALIDATION_ERROR",
                      "refund: a refund needs immediate: true (with immediate: false use refund: none)", code, err);
    }
    return change(db, actor, "subscription.force_cancel", c, now_ms, cancel_fn, "refund", out, code, err);
}

static int expire_fn(dm_db *db, dm_sub *s, const dm_sub_admin_change *c, int64_t now_ms, json_t **extra,
                     const char **code, dm_err_t *err)
{
    (void)extra;
    dm_sub_move m;
    dm__sub_move_init(&m, s);
    m.at_us = now_ms * 1000;
    m.reason = c->reason;
    int rc = dm__sub_apply(db, s, DM_SUB_OP_EXPIRE, &m, err);
    return answer(rc, rc == DM_ECONFLICT ? DM_SUB_NOT_NOW : DM_SUB_REFUSED_NONE, NULL, code, err);
}

int dm__sub_admin_expire(dm_db *db, const dm_actor *actor, const dm_sub_admin_change *c, int64_t now_ms,
                         json_t **out, const char **code, dm_err_t *err)
{
    return change(db, actor, "subscription.expire", c, now_ms, expire_fn, NULL, out, code, err);
}

static int extend_fn(dm_db *db, dm_sub *s, const dm_sub_admin_change *c, int64_t now_ms, json_t **extra,
                     const char **code, dm_err_t *err)
{
    (void)extra;
    dm_sub_renewal r = { DM_SUB_OP_EXTEND, c->days, NULL, c->reason };
    dm_sub_refusal why = DM_SUB_REFUSED_NONE;
    int rc = dm__sub_renewal(db, s, &r, now_ms, &why, err);
    return answer(rc, why, NULL, code, err);
}

int dm__sub_admin_extend(dm_db *db, const dm_actor *actor, const dm_sub_admin_change *c, int64_t now_ms,
                         json_t **out, const char **code, dm_err_t *err)
{
    return change(db, actor, "subscription.extend", c, now_ms, extend_fn, NULL, out, code, err);
}
