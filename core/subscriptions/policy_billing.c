/*
 * policy_billing.c — what a subscription costs and returns (policy.h):
 * periods, prices and proration, the refund cap with the cancel that pays
 * it, renewal and upgrade, each in the lock order of policy.h. The prose is
 * docs/billing.md.
 */
#include "subscriptions/policy.h"

#include <string.h>

/* Refuse with why: *out set, DM_ECONFLICT with msg. */
static int refuse(dm_sub_refusal *out, dm_sub_refusal why, dm_err_t *err, const char *msg)
{
    *out = why;
    return dm_err_set(err, DM_ECONFLICT, "%s", msg);
}

/* ---- periods and prices ------------------------------------------------- */

#define DAY_S 86400LL
#define DAY_US (DAY_S * 1000000)

int64_t dm__sub_plus_days(int64_t from_us, int64_t days)
{
    return from_us + days * DAY_US;
}

int64_t dm__sub_ms(int64_t us)
{
    return us >= 0 ? (us + 500) / 1000 : -((-us + 500) / 1000);
}

int64_t dm__sub_remaining_s(const dm_sub *s, int64_t now_ms)
{
    int64_t left = (s->period_end_ms - now_ms) / 1000;
    return left > 0 ? left : 0;
}

int64_t dm__prorate(int64_t amount, int64_t part, int64_t whole, bool round_up)
{
    if (whole <= 0 || amount <= 0 || part <= 0)
        return 0;
    if (part > whole)
        part = whole;
    unsigned __int128 n = (unsigned __int128)(uint64_t)amount * (uint64_t)part;
    unsigned __int128 q = n / (uint64_t)whole;
    if (round_up && n % (uint64_t)whole != 0)
        q++;
    return (int64_t)q;
}

int64_t dm__sub_value(int64_t price, int64_t remaining_s, int period_days, bool round_up)
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

int64_t dm__sub_upgrade_charge(const dm_sub *s, int64_t new_price, int64_t now_ms)
{
    /* Over billing_period_days, not current_period_end - current_period_start:
     * after a renewal ahead or an extend that span is longer than the
     * period the price pays for. */
    if (new_price <= s->price)
        return 0;
    return dm__sub_value(new_price - s->price, dm__sub_remaining_s(s, now_ms), s->period_days, true);
}

/* ---- the refund cap and the cancel that pays it ------------------------ */

/* What c->refund gives back for s at now_ms, capped at what s paid in,
 * net; an administrator is refused a second refund. "prorated" gives back
 * everything s paid in, net, when its instance never reached RUNNING (no
 * instance_events row to RUNNING, read in this transaction): nothing was
 * delivered. */
static int refund_due(dm_db *db, const dm_sub *s, const dm_sub_cancel *c, int64_t now_ms, int64_t *amount,
                      dm_sub_refusal *why, dm_err_t *err)
{
    *amount = 0;
    if (s->is_bonus) /* never paid for */
        return 0;
    if (c->refund == DM_SUB_REFUND_FULL)
        *amount = s->price;
    else if (c->refund == DM_SUB_REFUND_PRORATED) {
        bool ran = true;
        int rc = dm__sub_instance_ran(db, s->id, &ran, err);
        if (rc != 0)
            return rc;
        /* Never ran: INT64_MAX, which the cap below makes all that was paid. */
        *amount = ran ? dm__sub_value(s->price, dm__sub_remaining_s(s, now_ms), s->period_days, false) : INT64_MAX;
    }
    if (*amount <= 0)
        return 0;
    int64_t paid = 0;
    bool again = false;
    int rc = dm__sub_paid(db, s->id, &paid, &again, err);
    if (rc != 0)
        return rc;
    if (again && c->by == DM_SUB_BY_ADMIN)
        return refuse(why, DM_SUB_REFUNDED_ALREADY, err, "refunded already");
    if (*amount > paid)
        *amount = paid;
    return 0;
}

int dm__sub_cancel_now(dm_db *db, dm_sub *s, const dm_sub_cancel *c, int64_t now_ms, json_t **refund_tx,
                       dm_sub_refusal *why, dm_err_t *err)
{
    *why = DM_SUB_REFUSED_NONE;
    if (refund_tx != NULL)
        *refund_tx = NULL;
    const dm_sub_op op = c->by == DM_SUB_BY_ADMIN ? DM_SUB_OP_FORCE_CANCEL : DM_SUB_OP_CANCEL;
    if (dm__sub_next(s->status, op, NULL) != 0)
        return refuse(why, DM_SUB_NOT_NOW, err, "the subscription has already ended");
    /* The amount first (the time left now), the end (the slot), then the
     * REFUND row (the balance): the lock order. */
    int64_t amount = 0;
    int rc = refund_due(db, s, c, now_ms, &amount, why, err);
    dm_sub_move m;
    dm__sub_move_init(&m, s);
    m.at_us = now_ms * 1000;
    m.reason = c->reason;
    if (rc == 0)
        rc = dm__sub_apply(db, s, op, &m, err);
    if (rc == 0 && amount > 0)
        rc = dm__sub_money(db, s->user_id, s->id, "REFUND", amount, c->description, refund_tx, err);
    return rc;
}

/* ---- renewal ------------------------------------------------------------ */

/* The move of renewal r of s at now_ms; *op the table's row for it. */
static void renewal_move(const dm_sub *s, const dm_sub_renewal *r, int64_t now_ms, dm_sub_move *m, dm_sub_op *op)
{
    dm__sub_move_init(m, s);
    m->reason = r->reason;
    *op = r->op;
    if (r->op == DM_SUB_OP_EXTEND) {
        m->period_end_us = dm__sub_plus_days(s->period_end_us, r->days);
        if (dm__sub_ms(m->period_end_us) > now_ms && dm__sub_next(s->status, DM_SUB_OP_EXTEND_RESUME, NULL) == 0)
            *op = DM_SUB_OP_EXTEND_RESUME;
        return;
    }
    /* A renewal paid for is no longer cancelled at the period end. */
    m->cancel_at_period_end = false;
    const char *to = NULL;
    if (r->op == DM_SUB_OP_PERIOD_RENEW) {
        m->period_start_us = s->period_end_us;
    } else if (dm__sub_next(s->status, r->op, &to) == 0 && strcmp(to, s->status) != 0) {
        /* A renewal that ends a suspension starts a new period now (never
         * before the start date); an ACTIVE one adds to the current. */
        m->period_start_us = now_ms * 1000 > s->start_us ? now_ms * 1000 : s->start_us;
        m->period_end_us = m->period_start_us;
    }
    m->period_end_us = dm__sub_plus_days(m->period_end_us, s->period_days);
}

int dm__sub_renewal(dm_db *db, dm_sub *s, const dm_sub_renewal *r, int64_t now_ms, dm_sub_refusal *why,
                    dm_err_t *err)
{
    *why = DM_SUB_REFUSED_NONE;
    const bool paid = r->op == DM_SUB_OP_RENEW || r->op == DM_SUB_OP_PERIOD_RENEW;
    if (!paid && r->op != DM_SUB_OP_EXTEND)
        return dm_err_set(err, DM_EINVAL, "%s is no renewal", dm__sub_op_name(r->op));
    if (dm__sub_next(s->status, r->op, NULL) != 0)
        return refuse(why, DM_SUB_NOT_NOW, err, "the subscription has ended");
    if (paid && s->is_bonus)
        return refuse(why, DM_SUB_IS_BONUS, err, "a bonus subscription is not renewed for pay");
    dm_sub_move m;
    dm_sub_op op;
    renewal_move(s, r, now_ms, &m, &op);
    int rc = 0;
    if (paid && (rc = dm__sub_money(db, s->user_id, s->id, "RENEWAL", -s->price, r->description, NULL, err))
                    == DM_ECONFLICT)
        return refuse(why, DM_SUB_NO_CREDITS, err, "insufficient credits");
    return rc != 0 ? rc : dm__sub_apply(db, s, op, &m, err);
}

/* ---- upgrade ------------------------------------------------------------ */

/* Whose upgrade may do what (policy.h, dm__sub_upgrade_to). */
static const struct upgrade_rules {
    dm_sub_op op;             /* the table's row */
    bool      refuse_bonus;   /* a bonus is an administrator's to change */
    bool      offer_only;     /* a plan not on offer is no such plan */
    bool      refuse_current; /* the current plan is no change */
    bool      dearer_only;    /* downgrades are not offered */
    bool      bonus_any_period; /* a bonus stays free, so its period may change */
    bool      zero_row;       /* an UPGRADE row even for a charge of 0 */
} upgrade_rules[] = {
    [DM_SUB_BY_USER] = { DM_SUB_OP_UPGRADE, true, true, false, true, false, true },
    [DM_SUB_BY_ADMIN] = { DM_SUB_OP_ADMIN_UPGRADE, false, false, true, false, true, false },
};

/* The checks of policy.h in their order; 0 or a refusal. */
static int upgrade_allowed(dm_db *db, const dm_sub *s, const struct upgrade_rules *u, const char *plan_id,
                           dm_sub_plan *to, dm_sub_refusal *why, dm_err_t *err)
{
    if (dm__sub_next(s->status, u->op, NULL) != 0)
        return refuse(why, DM_SUB_NOT_NOW, err, "not in this status");
    if (u->refuse_bonus && s->is_bonus)
        return refuse(why, DM_SUB_IS_BONUS, err, "a bonus subscription");
    int rc = dm__sub_plan_get(db, plan_id, to, err);
    if (rc == DM_ENOTFOUND || (rc == 0 && u->offer_only && !to->active))
        return refuse(why, DM_SUB_NO_PLAN, err, "no such plan");
    if (rc != 0)
        return rc;
    if (strcmp(to->service_id, s->service_id) != 0)
        return refuse(why, DM_SUB_OTHER_SERVICE, err, "a plan of another service");
    if (u->refuse_current && strcmp(to->id, s->plan_id) == 0)
        return refuse(why, DM_SUB_CURRENT_PLAN, err, "the current plan");
    if (!to->active)
        return refuse(why, DM_SUB_PLAN_INACTIVE, err, "the plan is not on offer");
    if (to->period_days != s->period_days && !(u->bonus_any_period && s->is_bonus))
        return refuse(why, DM_SUB_OTHER_PERIOD, err, "a plan with another billing period");
    if (u->dearer_only && to->price <= s->price)
        return refuse(why, DM_SUB_NOT_DEARER, err, "not dearer");
    return 0;
}

int dm__sub_upgrade_to(dm_db *db, dm_sub *s, const dm_sub_upgrade *u, int64_t now_ms, dm_sub_refusal *why,
                       dm_err_t *err)
{
    *why = DM_SUB_REFUSED_NONE;
    const struct upgrade_rules *rules = &upgrade_rules[u->by == DM_SUB_BY_ADMIN ? DM_SUB_BY_ADMIN : DM_SUB_BY_USER];
    dm_sub_plan to;
    int rc = upgrade_allowed(db, s, rules, u->plan_id, &to, why, err);
    if (rc != 0)
        return rc;
    /* A bonus stays free. The charge from the price before the move: the
     * difference is what the rest of the paid time costs more. */
    const int64_t price = s->is_bonus ? 0 : to.price;
    const int64_t charge = u->free ? 0 : dm__sub_upgrade_charge(s, price, now_ms);
    /* The slots (lock step 2) before the charge (step 3). */
    rc = dm__sub_change_plan(db, s, &to, price, u->reason, why, err);
    if (rc == 0 && (charge > 0 || rules->zero_row)
        && (rc = dm__sub_money(db, s->user_id, s->id, "UPGRADE", -charge, u->description, NULL, err))
               == DM_ECONFLICT)
        return refuse(why, DM_SUB_NO_CREDITS, err, "insufficient credits");
    return rc;
}
