/*
 * sub_admin.h — the administrators' subscription operations behind
 * /api/admin/subscriptions (docs/openapi.yaml, Admin/Subscriptions): the list with
 * filters, bonus subscriptions, upgrade, force-cancel, expire and extend.
 * Each change is one transaction with its audit row (the actor, the
 * reason, the subscription before and after). The rules are policy.h's
 * and the same as the user's; what is an administrator's is who pays and
 * the audit row. The routes are admin_subscriptions_routes.c.
 */
#ifndef DM_SUB_ADMIN_H
#define DM_SUB_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <dermaga/error.h>

#include "audit/audit.h"
#include "db/pg.h"
#include "subscriptions/policy.h"

/*
 * Every operation answers as subscriptions.h does: 0 with *out (new
 * reference); or a refusal, where *code names the API error (static),
 * err->msg is the API's message ("field: why" for VALIDATION_ERROR) and the
 * return value its class:
 *   DM_ENOTFOUND  "NOT_FOUND"            the message names what: subscription, user or plan
 *   DM_EINVAL     "VALIDATION_ERROR"
 *   DM_ECONFLICT  "INVALID_STATE" | "ALREADY_SUBSCRIBED" | "QUOTA_EXHAUSTED" (409) or
 *                 "INSUFFICIENT_CREDITS" (402)
 * Any other negative code leaves *code NULL: a failure, nothing saved.
 * actor (borrowed) is who asks: the audit row names them. now_ms is the wall
 * clock in ms. Strings are borrowed.
 */

/* Filters of the list; NULL means any. The routes check their form. */
typedef struct dm_sub_filter {
    const char *user_id;
    const char *status;
    const char *service_id;
} dm_sub_filter;

/* One page of every user's subscriptions matching f, newest first: *items
 * a new array of dm__sub_json objects, *total the matches. 0, DM_EIO /
 * DM_EUNAVAIL, DM_ENOMEM. */
int dm__sub_admin_list(dm_db *db, const dm_sub_filter *f, long page, long limit, json_t **items, long *total,
                       dm_err_t *err);

/* A free subscription of user_id to plan_id for days days (price 0,
 * is_bonus, auto-renew off) with a BONUS row of 0 carrying the reason:
 * *out the subscription with that row as "transaction". */
typedef struct dm_sub_bonus {
    const char *user_id;
    const char *plan_id;
    int         days;
    const char *reason;
} dm_sub_bonus;

int dm__sub_admin_bonus(dm_db *db, const dm_actor *actor, const dm_sub_bonus *b, int64_t now_ms, json_t **out,
                        const char **code, dm_err_t *err);

/* A change to subscription sub_id; each operation reads its own fields. */
typedef struct dm_sub_admin_change {
    const char   *sub_id;
    const char   *reason;    /* the audit row's; also the job's, the ledger row's, the end reason */
    const char   *plan_id;   /* upgrade: the new plan */
    bool          free;      /* upgrade: nobody pays (bonus: true) */
    dm_sub_refund refund;    /* force-cancel */
    bool          immediate; /* force-cancel: now, or at the period end (refund none only) */
    int           days;      /* extend */
} dm_sub_admin_change;

/* dm__sub_upgrade_to with an administrator's rules; the user pays unless
 * c->free. Audited as subscription.upgrade. */
int dm__sub_admin_upgrade(dm_db *db, const dm_actor *actor, const dm_sub_admin_change *c, int64_t now_ms,
                          json_t **out, const char **code, dm_err_t *err);

/* Now (dm__sub_cancel_now, refund capped, "refund" in *out: the REFUND row
 * or null), or at the period end (cancel_at_period_end; only with refund
 * none: a refund on a subscription that stays live could be topped up by
 * the user's own cancel or kept by a renewal). Audited as
 * subscription.force_cancel. */
int dm__sub_admin_force_cancel(dm_db *db, const dm_actor *actor, const dm_sub_admin_change *c, int64_t now_ms,
                               json_t **out, const char **code, dm_err_t *err);

/* EXPIRED now, no refund. Audited as subscription.expire. */
int dm__sub_admin_expire(dm_db *db, const dm_actor *actor, const dm_sub_admin_change *c, int64_t now_ms,
                         json_t **out, const char **code, dm_err_t *err);

/* c->days free days (dm__sub_renewal, op extend). Audited as
 * subscription.extend. */
int dm__sub_admin_extend(dm_db *db, const dm_actor *actor, const dm_sub_admin_change *c, int64_t now_ms,
                         json_t **out, const char **code, dm_err_t *err);

#endif
