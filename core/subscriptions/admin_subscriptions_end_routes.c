/*
 * admin_subscriptions_end_routes.c — the administrator routes that end or
 * lengthen a subscription: force-cancel (refund none | prorated | full,
 * now or at the period end), expire now, extend by N days. Each runs in
 * dm__admin_sub_change's transaction with its audit row.
 */
#include "subscriptions/admin_subscriptions_routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/body_fields.h"
#include "http/response.h"
#include "http/router.h"
#include "instances/instance_job.h"
#include "subscriptions/subscriptions.h"
#include "util/clock.h"

#define DAY_MS 86400000LL
#define EXTEND_MAX_DAYS 3660

/* ---- POST /api/admin/subscriptions/:id/force-cancel --------------------- */

typedef enum { REFUND_NONE, REFUND_PRORATED, REFUND_FULL } refund_policy;

typedef struct cancel_req {
    const char   *reason;
    refund_policy refund;
    bool          immediate;
    json_t       *refund_tx; /* the REFUND row written, or NULL (owned) */
} cancel_req;

/* What the policy gives back for s at now_ms. prorated is the user's
 * cancel refund (dm__subs_prorate over billing_period_days, rounded down):
 * over current_period_end - current_period_start instead, a subscription
 * renewed ahead (two periods paid) got back barely one. */
static int64_t refund_amount(const dm_sub *s, refund_policy p, int64_t now_ms)
{
    if (p == REFUND_FULL)
        return s->price;
    if (p == REFUND_PRORATED)
        return dm__subs_prorate(s->price, dm__sub_remaining_s(s, now_ms), s->period_days, false);
    return 0;
}

/* The refund the policy gives for s now, never more than was paid for it:
 * a price the user never paid (a free upgrade with bonus: true, a bonus)
 * is not paid out. 0 or *no filled (refunded already). */
static int capped_refund(dm_request *r, const dm_sub *s, refund_policy p, int64_t now, int64_t *amount,
                         dm_admin_sub_refusal *no, dm_err_t *err)
{
    *amount = refund_amount(s, p, now);
    if (*amount <= 0)
        return 0;
    int64_t paid = 0;
    bool again = false;
    int rc = dm__sub_paid(r->db, s->id, &paid, &again, err);
    if (rc != 0)
        return rc;
    if (again)
        return dm__admin_sub_refuse(no, 409, "INVALID_STATE", NULL,
                                    "this subscription was refunded already; use refund: none");
    if (*amount > paid)
        *amount = paid > 0 ? paid : 0;
    return 0;
}

static int cancel_fn(dm_request *r, dm_sub *s, void *arg, dm_admin_sub_refusal *no, dm_err_t *err)
{
    cancel_req *c = arg;
    int64_t now = dm__clock_wall_ms();
    if (!dm__sub_is_live(s))
        return dm__admin_sub_refuse(no, 409, "INVALID_STATE", NULL, "the subscription has already ended");
    if (!c->immediate && strcmp(s->status, "ACTIVE") != 0)
        return dm__admin_sub_refuse(no, 409, "INVALID_STATE", NULL,
                                    "a suspended subscription has no period left to run: cancel it immediately");
    if (!c->immediate && s->cancel_at_period_end)
        return dm__admin_sub_refuse(no, 409, "INVALID_STATE", NULL, "already cancelled at the period end");
    int64_t amount = 0;
    int rc = capped_refund(r, s, c->refund, now, &amount, no, err);
    if (rc != 0)
        return rc;
    if (amount > 0)
        rc = dm__sub_money(r->db, s->user_id, s->id, "REFUND", amount, c->reason, &c->refund_tx, err);
    if (rc != 0)
        return rc;
    if (c->immediate)
        return dm__sub_end(r->db, s, "CANCELLED", c->reason, now, err);
    const char *p[] = { s->id };
    return dm__db_run(r->db, "admin_sub_cancel_at_end",
                      "UPDATE subscriptions SET cancel_at_period_end = true, updated_at = now() WHERE id = $1::uuid",
                      1, p, err);
}

/* {reason, refund?, immediate?}: refund defaults to "none", immediate to
 * true. A refund other than "none" needs immediate.
 * False (400 set) when malformed. */
static bool cancel_body(dm_request *r, cancel_req *c)
{
    static const char *const fields[] = { "reason", "refund", "immediate", NULL };
    memset(c, 0, sizeof *c);
    c->immediate = true;
    if (!dm__body_only(r, fields) || !dm__body_reason(r, true, &c->reason))
        return false;
    json_t *ji = json_object_get(r->json, "immediate");
    if (ji != NULL && !json_is_boolean(ji)) {
        dm__body_invalid(r, "immediate", "must be true or false");
        return false;
    }
    if (ji != NULL)
        c->immediate = json_is_true(ji);
    const char *pol = "none";
    if (json_object_get(r->json, "refund") != NULL && !dm__body_string(r, "refund", 1, 16, &pol))
        return false;
    if (strcmp(pol, "none") == 0) {
        c->refund = REFUND_NONE;
    } else if (strcmp(pol, "prorated") == 0) {
        c->refund = REFUND_PRORATED;
    } else if (strcmp(pol, "full") == 0) {
        c->refund = REFUND_FULL;
    } else {
        dm__body_invalid(r, "refund", "must be none, prorated or full");
        return false;
    }
    /* No refund while the subscription stays live: the user could then
     * cancel it with a prorated refund of their own, or renew it (which
     * clears the scheduled cancel) and keep a period paid back in full. */
    if (c->refund != REFUND_NONE && !c->immediate) {
        dm__body_invalid(r, "refund", "a refund needs immediate: true (with immediate: false use refund: none)");
        return false;
    }
    return true;
}

void dm__admin_sub_force_cancel(dm_request *r)
{
    cancel_req c;
    if (!cancel_body(r, &c))
        return;
    json_t *after = NULL;
    dm_admin_sub_refusal no;
    dm_err_t err = { 0 };
    int rc = dm__admin_sub_change(r, "subscription.force_cancel", c.reason, cancel_fn, &c, &after, &no, &err);
    if (rc == 0 && json_object_set(after, "refund", c.refund_tx != NULL ? c.refund_tx : json_null()) != 0) {
        json_decref(after);
        after = NULL;
        rc = dm_err_set(&err, DM_ENOMEM, "out of memory");
    }
    json_decref(c.refund_tx);
    dm__admin_sub_answer(r, rc, &no, &err, after, 200, "force-cancel");
}

/* ---- POST /api/admin/subscriptions/:id/expire --------------------------- */

static int expire_fn(dm_request *r, dm_sub *s, void *arg, dm_admin_sub_refusal *no, dm_err_t *err)
{
    if (!dm__sub_is_live(s))
        return dm__admin_sub_refuse(no, 409, "INVALID_STATE", NULL, "the subscription has already ended");
    return dm__sub_end(r->db, s, "EXPIRED", arg, dm__clock_wall_ms(), err);
}

void dm__admin_sub_expire(dm_request *r)
{
    static const char *const fields[] = { "reason", NULL };
    const char *reason;
    if (!dm__body_only(r, fields) || !dm__body_reason(r, true, &reason))
        return;
    json_t *after = NULL;
    dm_admin_sub_refusal no;
    dm_err_t err = { 0 };
    int rc = dm__admin_sub_change(r, "subscription.expire", reason, expire_fn, (void *)reason, &after, &no, &err);
    dm__admin_sub_answer(r, rc, &no, &err, after, 200, "expire");
}

/* ---- PUT /api/admin/subscriptions/:id/extend ---------------------------- */

typedef struct extend_req {
    const char *reason;
    long long   days;
} extend_req;

/* The period end moves by days; a SUSPENDED subscription whose new end is
 * in the future is ACTIVE again and its instance started. */
static int extend_fn(dm_request *r, dm_sub *s, void *arg, dm_admin_sub_refusal *no, dm_err_t *err)
{
    const extend_req *x = arg;
    if (!dm__sub_is_live(s))
        return dm__admin_sub_refuse(no, 409, "INVALID_STATE", NULL, "the subscription has already ended");
    int64_t end = s->period_end_ms + (int64_t)x->days * DAY_MS;
    bool resume = strcmp(s->status, "SUSPENDED") == 0 && end > dm__clock_wall_ms();
    char len[24];
    snprintf(len, sizeof len, "%lld", x->days * DAY_MS);
    const char *p[] = { s->id, len, resume ? "t" : "f" };
    int rc = dm__db_run(r->db, "admin_sub_extend",
                        "UPDATE subscriptions SET "
                        "  current_period_end = current_period_end + $2::bigint * interval '1 millisecond', "
                        "  status = CASE WHEN $3::boolean THEN 'ACTIVE' ELSE status END, "
                        "  grace_until = CASE WHEN $3::boolean THEN NULL ELSE grace_until END, "
                        "  updated_at = now() WHERE id = $1::uuid",
                        3, p, err);
    if (rc == 0 && resume && s->instance_id[0] != '\0')
        rc = dm__instance_job_enqueue(r->db, DM_INSTANCE_JOB_START, s->instance_id, s->id, x->reason, 0, NULL, err);
    return rc;
}

void dm__admin_sub_extend(dm_request *r)
{
    static const char *const fields[] = { "days", "reason", NULL };
    extend_req x;
    if (!dm__body_only(r, fields) || !dm__body_int(r, "days", 1, EXTEND_MAX_DAYS, &x.days)
        || !dm__body_reason(r, true, &x.reason))
        return;
    json_t *after = NULL;
    dm_admin_sub_refusal no;
    dm_err_t err = { 0 };
    int rc = dm__admin_sub_change(r, "subscription.extend", x.reason, extend_fn, &x, &after, &no, &err);
    dm__admin_sub_answer(r, rc, &no, &err, after, 200, "extend");
}
