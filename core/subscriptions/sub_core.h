/*
 * sub_core.h — the building blocks the subscription rules (policy.h) and
 * operations share: loading a subscription under a row lock, reading a
 * plan, the quota slot, moving money through the ledger with the
 * subscription linked, creating one, moving it to another plan, what it
 * paid in, and the API shape of a subscription. Which operation is allowed
 * and what it costs is policy.h's to decide, not these.
 *
 * Time is always a parameter (now_ms, ms since the epoch) so tests drive
 * it without sleeping. Unless a function says otherwise it runs inside the
 * caller's open transaction; after DM_EIO / DM_EUNAVAIL the caller rolls
 * back.
 */
#ifndef DM_SUB_CORE_H
#define DM_SUB_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <dermaga/error.h>

#include "db/pg.h"

/* A subscription's fields the operations decide with. */
typedef struct dm_sub {
    char    id[37];
    char    user_id[37];
    char    plan_id[37];
    char    service_id[37];
    char    instance_id[37];    /* "" when none */
    char    status[12];         /* ACTIVE, SUSPENDED, EXPIRED, CANCELLED */
    int64_t price;              /* as bought (Rupiah per period) */
    int     period_days;
    int64_t period_start_ms;    /* the times in ms since the epoch, to decide with */
    int64_t period_end_ms;
    int64_t grace_until_ms;     /* 0 unless SUSPENDED */
    bool    auto_renew;
    bool    is_bonus;
    bool    cancel_at_period_end;
    /* The same times to the microsecond, as the columns hold them: new
     * ones are computed from these (policy.h), so a period moved by whole
     * days keeps exactly the precision it had. */
    int64_t start_us;
    int64_t period_start_us;
    int64_t period_end_us;
    int64_t grace_until_us;     /* 0 unless SUSPENDED */
} dm_sub;

/* Load subscription id (borrowed) with SELECT … FOR UPDATE (lock step 1 of
 * policy.h); with user_id (may be NULL) only that user's. 0; DM_ENOTFOUND
 * (also for a malformed id); DM_EIO / DM_EUNAVAIL. */
int dm__sub_lock(dm_db *db, const char *id, const char *user_id, dm_sub *out, dm_err_t *err);

/* A plan as a subscription needs it. */
typedef struct dm_sub_plan {
    char    id[37];
    char    service_id[37];
    int64_t price;
    int     period_days;
    bool    active;        /* the plan, its service and its category all active */
} dm_sub_plan;

/* Read plan id. 0; DM_ENOTFOUND; DM_EIO / DM_EUNAVAIL. */
int dm__sub_plan_get(dm_db *db, const char *id, dm_sub_plan *out, dm_err_t *err);

/* Take one slot of plan_id with a guarded UPDATE (used_quota < total_quota;
 * lock step 2). 0; DM_ECONFLICT when none is left (nothing changed; the
 * transaction stays usable); DM_EIO / DM_EUNAVAIL. */
int dm__sub_slot_take(dm_db *db, const char *plan_id, dm_err_t *err);

/* Give one slot of plan_id back (lock step 2). 0; DM_EIO (the count was
 * already 0: a broken invariant, reported rather than hidden) /
 * DM_EUNAVAIL. */
int dm__sub_slot_free(dm_db *db, const char *plan_id, dm_err_t *err);

/* Move money for subscription sub_id of user_id through the ledger (lock
 * step 3): type SUBSCRIPTION, UPGRADE, RENEWAL (amount <= 0), REFUND (> 0)
 * or BONUS (>= 0), with the row linked to the subscription. *tx_json (may
 * be NULL) gets the ledger row. 0; DM_ECONFLICT when the balance does not
 * cover a charge (nothing written); the ledger's other codes. */
int dm__sub_money(dm_db *db, const char *user_id, const char *sub_id, const char *type, int64_t amount,
                  const char *description, json_t **tx_json, dm_err_t *err);

/* Why a subscription operation refused (DM_ECONFLICT): the rules of
 * policy.h and the refusals of dm__sub_create and dm__sub_change_plan.
 * Callers turn them into their API answers. */
typedef enum dm_sub_refusal {
    DM_SUB_REFUSED_NONE = 0,
    DM_SUB_ALREADY_SUBSCRIBED, /* a live subscription to the same service exists */
    DM_SUB_QUOTA_EXHAUSTED,    /* the plan has no free slot */
    DM_SUB_NOT_NOW,            /* the status table forbids the operation in this status */
    DM_SUB_IS_BONUS,           /* a bonus: not renewed for pay, nor upgraded by its user */
    DM_SUB_NO_CREDITS,         /* the balance does not cover the charge */
    DM_SUB_NO_PLAN,            /* no such plan (for the user: none on offer) */
    DM_SUB_OTHER_SERVICE,      /* the plan is of another service */
    DM_SUB_CURRENT_PLAN,       /* the plan is the current one */
    DM_SUB_PLAN_INACTIVE,      /* the plan, its service or its category is not on offer */
    DM_SUB_OTHER_PERIOD,       /* the plan is billed over another period */
    DM_SUB_NOT_DEARER,         /* the plan costs no more than the price paid now */
    DM_SUB_REFUNDED_ALREADY,   /* a refund was paid for it already */
    DM_SUB_CANCEL_SCHEDULED,   /* a cancel at the period end is scheduled already */
    DM_SUB_NREFUSALS
} dm_sub_refusal;

/* One API answer to a refusal: the class returned, the API code and the
 * message (for VALIDATION_ERROR "field: why"). */
typedef struct dm_sub_answer {
    int         rc;
    const char *code;
    const char *msg;
} dm_sub_answer;

/* Turn rc from a subscription rule into a caller's API answer: when it is
 * a refusal (DM_ECONFLICT with why set), answers[why] (answers has n
 * entries, indexed by dm_sub_refusal) with its message replaced by
 * words[why] when words (DM_SUB_NREFUSALS entries, the words of one
 * operation; may be NULL) has one: *code (static) and err set, the
 * answer's class returned. Any other rc passes unchanged. A refusal
 * without an answer is DM_EIO (*code untouched): a rule refused something
 * the caller never expected. */
int dm__sub_answer(int rc, dm_sub_refusal why, const dm_sub_answer *answers, size_t n, const char *const *words,
                   const char **code, dm_err_t *err);

/* A new subscription. Borrowed for the call. */
typedef struct dm_sub_new {
    const char *user_id;
    const dm_sub_plan *plan;
    int64_t     price;       /* copied onto the subscription (0 for a bonus) */
    int         period_days; /* the first period's length (a bonus's duration) */
    bool        auto_renew;
    bool        is_bonus;
} dm_sub_new;

/*
 * Write subscription n in the status the table gives a subscribe (ACTIVE)
 * for one period of n->period_days from now_ms, write its instance
 * PENDING, take its plan's slot and queue the instance's provision job.
 * No money moves here: the caller charges (dm__sub_money) in the same
 * transaction. *out gets the new subscription as dm__sub_lock reads it.
 * 0; DM_ECONFLICT with *refusal set (nothing written; the transaction is
 * still usable for a rollback only — callers roll back); DM_EIO /
 * DM_EUNAVAIL.
 */
int dm__sub_create(dm_db *db, const dm_sub_new *n, int64_t now_ms, dm_sub *out, dm_sub_refusal *refusal,
                   dm_err_t *err);

/* Move live subscription sub to plan to (same service; the caller checked
 * that, and charges after: dm__sub_upgrade_to): the slot moves from the
 * old plan to the new one, the price becomes `price`, the period end
 * stays, and the instance's update job is queued. The two plan rows are
 * locked in id order (lock step 2; no deadlock between opposite moves),
 * before the balance is touched. DM_ECONFLICT with *refusal =
 * DM_SUB_QUOTA_EXHAUSTED when the new plan has no free slot — the old
 * slot may already be freed then: the caller rolls back. */
int dm__sub_change_plan(dm_db *db, dm_sub *sub, const dm_sub_plan *to, int64_t price, const char *reason,
                        dm_sub_refusal *refusal, dm_err_t *err);

/* What the ledger says subscription id has paid in, net: *net_paid its
 * SUCCESS SUBSCRIPTION, UPGRADE and RENEWAL charges less its REFUNDs (0
 * when that is not positive), and *refunded (may be NULL) whether a
 * REFUND was paid already. A refund is never more than *net_paid, whatever
 * happened to the price or period on the way (a free administrator
 * upgrade, an extend, a full refund at the period end). 0, DM_EIO /
 * DM_EUNAVAIL. */
int dm__sub_paid(dm_db *db, const char *id, int64_t *net_paid, bool *refunded, dm_err_t *err);

/* Whether the instance of subscription id ever reached RUNNING: *ran
 * true when an instance_events row of it has to_status RUNNING (false for
 * a subscription without an instance). A plain read in the caller's
 * transaction, no lock taken. 0, DM_EIO / DM_EUNAVAIL. */
int dm__sub_instance_ran(dm_db *db, const char *id, bool *ran, dm_err_t *err);

/* The API shape {id, userId, status, plan:{id, name, slug, price, …},
 * service:{id, slug, name}, price, billingPeriodDays, startDate, endDate,
 * currentPeriodStart, autoRenew, isBonus, graceUntil, cancelAtPeriodEnd,
 * endedAt, endReason, instance:{id, status, urls, healthStatus},
 * createdAt, updatedAt}: *out a new reference. 0, DM_ENOTFOUND, DM_EIO /
 * DM_EUNAVAIL. */
int dm__sub_json(dm_db *db, const char *id, json_t **out, dm_err_t *err);

/* The same shape for every subscription id in column 0 of ids (borrowed),
 * in their order, read in one statement: *items a new array. 0, DM_EIO /
 * DM_EUNAVAIL, DM_ENOMEM. */
int dm__sub_json_page(dm_db *db, PGresult *ids, json_t **items, dm_err_t *err);

#endif
