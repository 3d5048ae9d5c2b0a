/*
 * policy.h — the subscription rules, each spelled once: the lock order,
 * the status table (which operation may follow which status, as data) and
 * the one function that writes a status, the period arithmetic, prices and
 * proration, the refund cap, renewal and upgrade. The user's operations
 * (sub_ops.c), the administrators' (sub_admin.c), the period-end job
 * (period_end.c) and the instance operations call these; no other file
 * decides a status, computes a period or a price, or orders locks.
 * docs/billing.md is the prose of the same rules.
 *
 * THE LOCK ORDER. A transaction that touches a subscription takes its row
 * locks in this order and never goes back to an earlier step:
 *   1. the subscription row (dm__sub_lock; inserting a new one),
 *   2. plan rows, for quota slots — two of them in id order
 *      (dm__sub_change_plan),
 *   3. the user's balance row (the ledger, through dm__sub_money).
 * A row already held may be written at any point after (a renewal charges,
 * then moves the period of the subscription row it locked first). Each of
 * those steps declares its rank with dm__sub_lock_step, which refuses a
 * step below the rank the transaction already reached: the order is
 * checked on every call, not only when two transactions happen to collide.
 * Consequences the paths follow: an upgrade moves the slots before it
 * charges; a cancel ends (frees the slot) before it refunds; the period end
 * never ends a subscription in a transaction that already charged it (the
 * next pick does).
 */
#ifndef DM_SUB_POLICY_H
#define DM_SUB_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <dermaga/error.h>

#include "db/pg.h"
#include "subscriptions/sub_core.h"

/* ---- the lock order ----------------------------------------------------- */

typedef enum dm_sub_lock_rank {
    DM_SUB_LOCK_SUBSCRIPTION = 1,
    DM_SUB_LOCK_PLANS = 2,
    DM_SUB_LOCK_BALANCE = 3
} dm_sub_lock_rank;

/* Declare that the open transaction on db is about to take a lock of rank
 * (db->lock_rank, reset by every begin, commit and rollback). 0, also
 * outside a transaction (a single statement holds nothing after itself);
 * DM_EIO, logged as an error, when the transaction already holds a higher
 * rank: a path that breaks the order is a bug that deadlocks under load,
 * so it fails every time it runs — in tests first — rather than once in a
 * while in production. The caller rolls back. */
int dm__sub_lock_step(dm_db *db, dm_sub_lock_rank rank, dm_err_t *err);

/* ---- the status table --------------------------------------------------- */

/* Every operation on a subscription: a row of the table in policy.c. */
typedef enum dm_sub_op {
    DM_SUB_OP_SUBSCRIBE = 0,   /* the user subscribes; an administrator gives a bonus */
    DM_SUB_OP_RENEW,           /* the user renews, paying now */
    DM_SUB_OP_PERIOD_RENEW,    /* auto-renew at the period end */
    DM_SUB_OP_SUSPEND,         /* the period ended unpaid: grace */
    DM_SUB_OP_GRACE_EXPIRE,    /* the grace is over */
    DM_SUB_OP_CANCEL,          /* the user cancels */
    DM_SUB_OP_FORCE_CANCEL,    /* an administrator cancels now */
    DM_SUB_OP_SCHEDULE_CANCEL, /* an administrator cancels at the period end */
    DM_SUB_OP_PERIOD_CANCEL,   /* the period end applies that */
    DM_SUB_OP_EXPIRE,          /* an administrator expires it */
    DM_SUB_OP_EXTEND,          /* an administrator adds free days */
    DM_SUB_OP_EXTEND_RESUME,   /* ... that end a suspension */
    DM_SUB_OP_UPGRADE,         /* the user moves to a dearer plan */
    DM_SUB_OP_ADMIN_UPGRADE,   /* an administrator moves it to another plan */
    DM_SUB_OP_AUTO_RENEW,      /* auto-renewal turned on or off */
    DM_SUB_OP_RUNTIME,         /* start, stop or restart of its instance */
    DM_SUB_NOPS
} dm_sub_op;

/* The statuses of docs/openapi.yaml in a fixed order (tests index by it). */
#define DM_SUB_NSTATUS 4
extern const char *const dm__sub_statuses[DM_SUB_NSTATUS];

/* The operation's name ("subscribe", "renew", …; static), "?" when out of
 * range. */
const char *dm__sub_op_name(dm_sub_op op);

/* True when status is one of dm__sub_statuses. */
bool dm__sub_status_valid(const char *status);

/* Where op takes a subscription in status `from` (NULL: one that does not
 * exist yet): *to (may be NULL) gets a static string. 0; DM_ECONFLICT when
 * the table forbids it (*to untouched); DM_EINVAL for an unknown status or
 * op. Pure. */
int dm__sub_next(const char *from, dm_sub_op op, const char **to);

/* What a status change writes besides the status the table gives; times
 * in µs since the epoch (the periods below). Start from dm__sub_move_init
 * (everything as it is) and change what moves. */
typedef struct dm_sub_move {
    int64_t     period_start_us;
    int64_t     period_end_us;
    int64_t     grace_until_us;       /* kept only while SUSPENDED; 0 = none */
    bool        cancel_at_period_end;
    bool        auto_renew;
    int64_t     at_us;                /* ended_at, when the move ends it */
    const char *reason;               /* end_reason then; the instance job's reason (borrowed) */
} dm_sub_move;

/* m = s as it is (reason NULL, at_us 0). */
void dm__sub_move_init(dm_sub_move *m, const dm_sub *s);

/*
 * The one writer of a subscription's status: apply op to locked s inside
 * the caller's transaction. The table gives the new status; the edge gives
 * what follows from it, for every operation alike:
 *   → ACTIVE, EXPIRED or CANCELLED: no grace;
 *   live → ended: ended_at = m->at_us, end_reason = m->reason, the plan's
 *     slot freed (lock step 2), the instance's terminate job;
 *   ACTIVE → SUSPENDED: the instance's stop job (m->grace_until_us > 0);
 *   SUSPENDED → ACTIVE: the instance's start job.
 * Periods, grace and flags are written as m has them (fields that did not
 * change are left to the row). *s follows. 0; DM_ECONFLICT when the table
 * forbids op now (nothing written, the transaction stays usable); DM_EIO /
 * DM_EUNAVAIL (roll back).
 */
int dm__sub_apply(dm_db *db, dm_sub *s, dm_sub_op op, const dm_sub_move *m, dm_err_t *err);

/* ---- periods ------------------------------------------------------------ */

/*
 * Every period start and end, grace and end of a subscription is computed
 * here in C, in microseconds since the epoch (the columns' precision, so a
 * time moved by whole days keeps every digit it had), from the times of
 * the locked row (dm_sub's *_us); SQL reads a time with DM_SUB_SQL_US and
 * stores one with DM_SUB_SQL_TIME, and does no arithmetic on them.
 */
#define DM_SUB_SQL_US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"
#define DM_SUB_SQL_TIME(param) "to_timestamp(" param "::bigint / 1000000.0)"

/* from_us + days × 86 400 s: a day of a period (or of a grace) is exactly
 * 24 hours, never a calendar day, so a period has the same length in
 * seconds whatever the database session's TimeZone (docs/billing.md: a
 * calendar month across a DST change is an hour long or short, and its
 * proration would value it above its price). */
int64_t dm__sub_plus_days(int64_t from_us, int64_t days);

/* A time in µs as ms, rounded to the nearest (as the ms fields of dm_sub
 * show it). */
int64_t dm__sub_ms(int64_t us);

/* Whole seconds of s's period still to run at now_ms (0 once past). */
int64_t dm__sub_remaining_s(const dm_sub *s, int64_t now_ms);

/* ---- prices ------------------------------------------------------------- */

/* ceil or floor of amount × part ÷ whole, exact for every amount up to
 * 10^12 and every duration in seconds (128-bit intermediate). part is
 * clamped to 0..whole; whole, amount or part <= 0 gives 0. */
int64_t dm__prorate(int64_t amount, int64_t part, int64_t whole, bool round_up);

/* value(price, remaining): the time left of a subscription priced `price`
 * per period of period_days, remaining_s seconds, each whole period at the
 * full price (a renewal paid ahead) and the part period prorated, ceil
 * (round_up) or floor. 0 for price, remaining or period <= 0; saturates at
 * INT64_MAX. */
int64_t dm__sub_value(int64_t price, int64_t remaining_s, int period_days, bool round_up);

/* What moving s to a plan priced new_price costs at now_ms: the difference
 * for the time paid ahead, rounded up (dm__sub_value); 0 when not dearer
 * (a cheaper plan is neither charged nor refunded). */
int64_t dm__sub_upgrade_charge(const dm_sub *s, int64_t new_price, int64_t now_ms);

/* ---- whose rules -------------------------------------------------------- */

typedef enum dm_sub_by {
    DM_SUB_BY_USER = 0,
    DM_SUB_BY_ADMIN
} dm_sub_by;

/* ---- ending with a refund ----------------------------------------------- */

typedef enum dm_sub_refund {
    DM_SUB_REFUND_NONE = 0,
    DM_SUB_REFUND_PRORATED, /* value(price, remaining), rounded down; all
                               paid in if the instance never reached RUNNING */
    DM_SUB_REFUND_FULL      /* one period's price */
} dm_sub_refund;

typedef struct dm_sub_cancel {
    dm_sub_by     by;          /* the user (op cancel) or an administrator (force-cancel) */
    dm_sub_refund refund;
    const char   *reason;      /* end_reason and the terminate job's reason */
    const char   *description; /* the REFUND row's */
} dm_sub_cancel;

/*
 * End locked s now, inside the caller's transaction, and refund by
 * c->refund ("prorated" is all that was paid in when the instance has no
 * instance_events row to RUNNING, read in this transaction, no lock). The
 * refund is nothing for a bonus subscription (never paid for) and never
 * more than the subscription paid in, net (dm__sub_paid):
 * a price raised for free, days added by extend and a refund paid already
 * are never paid out. An administrator is refused a refund above 0 for a
 * subscription refunded already (DM_SUB_REFUNDED_ALREADY); the user's
 * cancel is only capped. The order: the table, the amount, the end (the
 * slot), then the REFUND row (the balance). *refund_tx (may be NULL) gets
 * the REFUND row (new) or NULL when none was written. 0; DM_ECONFLICT with
 * *why (DM_SUB_NOT_NOW, DM_SUB_REFUNDED_ALREADY; nothing written); DM_EIO /
 * DM_EUNAVAIL.
 */
int dm__sub_cancel_now(dm_db *db, dm_sub *s, const dm_sub_cancel *c, int64_t now_ms, json_t **refund_tx,
                       dm_sub_refusal *why, dm_err_t *err);

/* ---- renewal ------------------------------------------------------------ */

typedef struct dm_sub_renewal {
    dm_sub_op   op;          /* DM_SUB_OP_RENEW, DM_SUB_OP_PERIOD_RENEW or DM_SUB_OP_EXTEND */
    int         days;        /* EXTEND: the days added; the others add one billing period */
    const char *description; /* the RENEWAL row's (RENEW, PERIOD_RENEW) */
    const char *reason;      /* the start job's, when a SUSPENDED one comes back */
} dm_sub_renewal;

/*
 * Renew locked s inside the caller's transaction, in one order for the
 * user's renew, the period end's auto-renew and an administrator's extend:
 *   1. the table allows r->op (EXTEND that moves a SUSPENDED end past now
 *      is EXTEND_RESUME);
 *   2. paid renewals (RENEW, PERIOD_RENEW) are never made for a bonus;
 *   3. the new period: RENEW after the current end while ACTIVE, from now
 *      (never before the start date) when SUSPENDED; PERIOD_RENEW from the
 *      old end; EXTEND moves the end by r->days;
 *   4. the charge, for paid ones: a RENEWAL row of -price, the
 *      subscription's own price (lock step 3; written even when 0);
 *   5. dm__sub_apply: the period, ACTIVE again with its start job when it
 *      was SUSPENDED, and a paid renewal clears a cancel scheduled for the
 *      period end.
 * The charge comes before the write so that a refused charge leaves the
 * transaction as it was: the period end goes on to suspend in it.
 * 0; DM_ECONFLICT with *why (DM_SUB_NOT_NOW, DM_SUB_IS_BONUS,
 * DM_SUB_NO_CREDITS; nothing written); DM_EINVAL for another op; DM_EIO /
 * DM_EUNAVAIL.
 */
int dm__sub_renewal(dm_db *db, dm_sub *s, const dm_sub_renewal *r, int64_t now_ms, dm_sub_refusal *why,
                    dm_err_t *err);

/* ---- upgrade ------------------------------------------------------------ */

typedef struct dm_sub_upgrade {
    dm_sub_by   by;          /* whose rules (below) */
    const char *plan_id;     /* the new plan (borrowed) */
    bool        free;        /* nobody pays: an administrator's bonus: true */
    const char *description; /* the UPGRADE row's */
    const char *reason;      /* the instance update job's */
} dm_sub_upgrade;

/*
 * Move locked s to plan u->plan_id inside the caller's transaction: the one
 * upgrade of the user and of administrators. Checked in this order, each a
 * refusal (*why) of its own:
 *   the table (user: ACTIVE; administrator: ACTIVE or SUSPENDED)  NOT_NOW
 *   user: not a bonus (an administrator changes those)            IS_BONUS
 *   the plan exists (user: and is on offer)                        NO_PLAN
 *   of the same service                                            OTHER_SERVICE
 *   administrator: not the current plan                            CURRENT_PLAN
 *   on offer (plan, service and category active)                   PLAN_INACTIVE
 *   billed over the subscription's period (the subscription keeps
 *     it, so a yearly price would be charged every month) — except
 *     an administrator's move of a bonus, which stays free         OTHER_PERIOD
 *   user: dearer than the price paid now                          NOT_DEARER
 * Then the new price (a bonus stays at 0), the charge (unless u->free:
 * dm__sub_upgrade_charge from the price before the move), the slots moved
 * (lock step 2, QUOTA_EXHAUSTED), the UPGRADE row (lock step 3,
 * NO_CREDITS; the user's is written even when 0, so every upgrade of
 * theirs has one; an administrator's only when it charges), the instance's
 * update job. The period end stays. 0; DM_ECONFLICT with *why (roll back:
 * the slots may have moved); DM_EIO / DM_EUNAVAIL.
 */
int dm__sub_upgrade_to(dm_db *db, dm_sub *s, const dm_sub_upgrade *u, int64_t now_ms, dm_sub_refusal *why,
                       dm_err_t *err);

/* ---- the period end ----------------------------------------------------- */

/* What the period end does next with s at now_ms given grace_days of
 * grace: DM_SUB_OP_PERIOD_CANCEL, DM_SUB_OP_PERIOD_RENEW (auto-renew on;
 * when refused, dm__sub_unpaid decides), DM_SUB_OP_SUSPEND or
 * DM_SUB_OP_GRACE_EXPIRE; DM_SUB_NOPS when nothing is due. Pure. */
dm_sub_op dm__sub_due(const dm_sub *s, int64_t now_ms, int grace_days);

/* The period of ACTIVE s ended unpaid at now_ms: DM_SUB_OP_SUSPEND, or
 * DM_SUB_OP_GRACE_EXPIRE when its grace (period end + grace_days) is over
 * already. Pure. */
dm_sub_op dm__sub_unpaid(const dm_sub *s, int64_t now_ms, int grace_days);

/* When s's grace ends, in µs: grace_until while SUSPENDED, else its period
 * end + grace_days. Pure. */
int64_t dm__sub_grace_end(const dm_sub *s, int grace_days);

#endif
