/*
 * admin_subscriptions_routes.c — /api/admin/subscriptions (API.md, Admin): the
 * list with filters, one subscription, bonus subscriptions and admin plan
 * changes, plus the transaction-and-audit wrapper every changing route
 * shares. force-cancel, expire and extend live in admin_subscriptions_end_routes.c.
 */
#include "subscriptions/admin_subscriptions_routes.h"
#include "subscriptions/subscriptions_routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/users.h"
#include "audit/audit.h"
#include "http/body_fields.h"
#include "http/response.h"
#include "http/router.h"
#include "subscriptions/subscriptions.h"
#include "util/clock.h"

#define DURATION_MAX_DAYS 3660

/* ---- shared pieces ------------------------------------------------------ */

int dm__admin_sub_refuse(dm_admin_sub_refusal *no, int status, const char *code, const char *field,
                         const char *message)
{
    no->status = status;
    no->code = code;
    no->field = field;
    snprintf(no->message, sizeof no->message, "%s", message);
    return DM_ECONFLICT;
}

/* The audit row of a change to subscription id. */
static int audit(dm_request *r, const dm_user *actor, const char *action, const char *id, const char *reason,
                 const json_t *before, const json_t *after, dm_err_t *err)
{
    dm_audit_entry e = { .actor_id = actor->id, .actor = actor->email, .action = action,
                         .target_type = "subscription", .target_id = id, .reason = reason,
                         .request_id = r->request_id, .ip = r->remote_ip, .before = before, .after = after };
    return dm__audit_write(r->db, &e, NULL, err);
}

int dm__admin_sub_change(dm_request *r, const char *action, const char *reason, dm_admin_sub_fn fn, void *arg,
                         json_t **after, dm_admin_sub_refusal *no, dm_err_t *err)
{
    dm_user actor;
    dm_sub s;
    json_t *before = NULL;
    *after = NULL;
    memset(no, 0, sizeof *no);
    int rc = dm__users_get(r->db, r->principal.id, &actor, err);
    rc = rc != 0 ? rc : dm__db_begin(r->db, err);
    if (rc != 0)
        return rc;
    rc = dm__sub_lock(r->db, dm__req_param(r, "id"), NULL, &s, err);
    rc = rc != 0 ? rc : dm__sub_json(r->db, s.id, &before, err);
    rc = rc != 0 ? rc : fn(r, &s, arg, no, err);
    rc = rc != 0 ? rc : dm__sub_json(r->db, s.id, after, err);
    rc = rc != 0 ? rc : audit(r, &actor, action, s.id, reason, before, *after, err);
    json_decref(before);
    rc = dm__db_end(r->db, rc, err);
    if (rc != 0) {
        json_decref(*after);
        *after = NULL;
    }
    return rc;
}

void dm__admin_sub_answer(dm_request *r, int rc, const dm_admin_sub_refusal *no, const dm_err_t *err,
                          json_t *after, int ok_status, const char *what)
{
    if (rc == 0)
        dm__res_ok(r, ok_status, after);
    else if (no->status == 400 && no->field != NULL)
        dm__body_invalid(r, no->field, no->message);
    else if (no->status != 0)
        dm__res_error(r, no->status, no->code, no->message, NULL);
    else if (rc == DM_ENOTFOUND)
        dm__res_error(r, 404, "NOT_FOUND", "no such subscription", NULL);
    else
        dm__res_failure(r, err, what);
}

/* ---- GET /api/admin/subscriptions[/:id] --------------------------------- */

/* ?name as a uuid filter (NULL when absent or empty); false (400 set) when
 * malformed. */
static bool query_uuid(dm_request *r, const char *name, const char **out)
{
    *out = dm__req_query(r, name);
    if (*out != NULL && (*out)[0] == '\0')
        *out = NULL;
    if (*out != NULL && !dm__users_valid_id(*out)) {
        dm__body_invalid(r, name, "must be a lower-case UUID");
        return false;
    }
    return true;
}

static bool query_status(dm_request *r, const char **out)
{
    static const char *const ok[] = { "ACTIVE", "SUSPENDED", "EXPIRED", "CANCELLED", NULL };
    *out = dm__req_query(r, "status");
    if (*out == NULL || (*out)[0] == '\0') {
        *out = NULL;
        return true;
    }
    for (int i = 0; ok[i] != NULL; i++)
        if (strcmp(*out, ok[i]) == 0)
            return true;
    dm__body_invalid(r, "status", "must be ACTIVE, SUSPENDED, EXPIRED or CANCELLED");
    return false;
}

#define LIST_WHERE                                                                                            \
    "WHERE ($1::uuid IS NULL OR user_id = $1::uuid) AND ($2::text IS NULL OR status = $2::text) "            \
    "  AND ($3::uuid IS NULL OR service_id = $3::uuid) "

/* One page of subscriptions matching the filters, newest first: *items a
 * new array of dm__sub_json objects, *total the number of matches. */
static int list_page(dm_db *db, const char *const f[3], long page, long limit, json_t **items, long *total,
                     dm_err_t *err)
{
    PGresult *c = dm__db_exec(db, "admin_sub_count", "SELECT count(*) FROM subscriptions " LIST_WHERE, 3, f, err);
    if (c == NULL)
        return dm__db_failed(err);
    *total = strtol(PQgetvalue(c, 0, 0), NULL, 10);
    PQclear(c);
    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%ld", limit);
    snprintf(off, sizeof off, "%ld", (page - 1) * limit);
    const char *p[] = { f[0], f[1], f[2], lim, off };
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

static void list_subscriptions(dm_request *r)
{
    long page, limit, total = 0;
    const char *f[3];
    if (!dm__query_paging(r, &page, &limit) || !query_uuid(r, "userId", &f[0]) || !query_status(r, &f[1])
        || !query_uuid(r, "serviceId", &f[2]))
        return;
    json_t *items = NULL;
    dm_err_t err = { 0 };
    if (list_page(r->db, f, page, limit, &items, &total, &err) != 0)
        dm__res_failure(r, &err, "list subscriptions");
    else
        dm__res_list(r, items, page, limit, total);
}

static void get_subscription(dm_request *r)
{
    json_t *s = NULL;
    dm_err_t err = { 0 };
    int rc = dm__sub_json(r->db, dm__req_param(r, "id"), &s, &err);
    if (rc == DM_ENOTFOUND)
        dm__res_error(r, 404, "NOT_FOUND", "no such subscription", NULL);
    else if (rc != 0)
        dm__res_failure(r, &err, "get subscription");
    else
        dm__res_ok(r, 200, s);
}

/* ---- POST /api/admin/subscriptions/bonus -------------------------------- */

typedef struct bonus_req {
    const char *user_id, *plan_id, *reason;
    long long   days;
} bonus_req;

/* The free subscription, its BONUS row of 0 and the audit row. *out the
 * subscription (new reference) with the ledger row as "transaction". */
static int bonus_write(dm_request *r, const dm_user *actor, const dm_sub_plan *plan, const bonus_req *b,
                       json_t **out, dm_admin_sub_refusal *no, dm_err_t *err)
{
    dm_sub s;
    dm_sub_refusal why = DM_SUB_REFUSED_NONE;
    json_t *tx = NULL;
    dm_sub_new n = { .user_id = b->user_id, .plan = plan, .price = 0, .period_days = (int)b->days,
                     .auto_renew = false, .is_bonus = true };
    int rc = dm__sub_create(r->db, &n, dm__clock_wall_ms(), &s, &why, err);
    if (rc == DM_ECONFLICT)
        return why == DM_SUB_QUOTA_EXHAUSTED
                   ? dm__admin_sub_refuse(no, 409, "QUOTA_EXHAUSTED", NULL, "this plan has no free slot")
                   : dm__admin_sub_refuse(no, 409, "ALREADY_SUBSCRIBED",
                                          NULL, "the user already has a live subscription to this service");
    rc = rc != 0 ? rc : dm__sub_money(r->db, b->user_id, s.id, "BONUS", 0, b->reason, &tx, err);
    rc = rc != 0 ? rc : dm__sub_json(r->db, s.id, out, err);
    rc = rc != 0 ? rc : audit(r, actor, "subscription.bonus", s.id, b->reason, NULL, *out, err);
    if (rc == 0 && json_object_set(*out, "transaction", tx) != 0)
        rc = dm_err_set(err, DM_ENOMEM, "out of memory");
    json_decref(tx);
    return rc;
}

static int bonus(dm_request *r, const bonus_req *b, json_t **out, dm_admin_sub_refusal *no, dm_err_t *err)
{
    dm_user actor, target;
    dm_sub_plan plan;
    *out = NULL;
    memset(no, 0, sizeof *no);
    int rc = dm__users_get(r->db, r->principal.id, &actor, err);
    if (rc != 0)
        return rc;
    rc = dm__users_get(r->db, b->user_id, &target, err);
    if (rc == DM_ENOTFOUND)
        return dm__admin_sub_refuse(no, 404, "NOT_FOUND", NULL, "no such user");
    rc = rc != 0 ? rc : dm__sub_plan_get(r->db, b->plan_id, &plan, err);
    if (rc == DM_ENOTFOUND)
        return dm__admin_sub_refuse(no, 404, "NOT_FOUND", NULL, "no such plan");
    if (rc == 0 && !plan.active)
        return dm__admin_sub_refuse(no, 400, "VALIDATION_ERROR", "planId",
                                    "the plan (or its service or category) is not active");
    rc = rc != 0 ? rc : dm__db_begin(r->db, err);
    if (rc != 0)
        return rc;
    rc = bonus_write(r, &actor, &plan, b, out, no, err);
    rc = dm__db_end(r->db, rc, err);
    if (rc != 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

static void post_bonus(dm_request *r)
{
    static const char *const fields[] = { "userId", "planId", "durationDays", "reason", NULL };
    bonus_req b;
    if (!dm__body_only(r, fields) || !dm__body_string(r, "userId", 1, 64, &b.user_id)
        || !dm__body_string(r, "planId", 1, 64, &b.plan_id)
        || !dm__body_int(r, "durationDays", 1, DURATION_MAX_DAYS, &b.days) || !dm__body_reason(r, true, &b.reason))
        return;
    json_t *out = NULL;
    dm_admin_sub_refusal no;
    dm_err_t err = { 0 };
    int rc = bonus(r, &b, &out, &no, &err);
    dm__admin_sub_answer(r, rc, &no, &err, out, 201, "bonus subscription");
}

/* ---- PUT /api/admin/subscriptions/:id/upgrade --------------------------- */

typedef struct upgrade_req {
    const char *plan_id, *reason;
    bool        bonus;
} upgrade_req;

/* The charge of moving s to a plan priced `price` now: the difference for
 * the time paid ahead rounded up, exactly as the user's upgrade
 * (dm__subs_prorate: whole periods of billing_period_days in full, the
 * part period prorated). Not over current_period_end - current_period_start:
 * after a renewal ahead or an extend that span is longer than the period
 * the price pays for. Nothing for a cheaper plan (no refund either). */
static int64_t upgrade_charge(const dm_sub *s, int64_t price)
{
    if (price <= s->price)
        return 0;
    return dm__subs_prorate(price - s->price, dm__sub_remaining_s(s, dm__clock_wall_ms()), s->period_days, true);
}

static int upgrade_fn(dm_request *r, dm_sub *s, void *arg, dm_admin_sub_refusal *no, dm_err_t *err)
{
    const upgrade_req *u = arg;
    dm_sub_plan to;
    if (!dm__sub_is_live(s))
        return dm__admin_sub_refuse(no, 409, "INVALID_STATE", NULL, "the subscription has ended");
    int rc = dm__sub_plan_get(r->db, u->plan_id, &to, err);
    if (rc == DM_ENOTFOUND)
        return dm__admin_sub_refuse(no, 404, "NOT_FOUND", NULL, "no such plan");
    if (rc != 0)
        return rc;
    if (strcmp(to.service_id, s->service_id) != 0)
        return dm__admin_sub_refuse(no, 400, "VALIDATION_ERROR", "newPlanId", "must be a plan of the same service");
    if (strcmp(to.id, s->plan_id) == 0)
        return dm__admin_sub_refuse(no, 400, "VALIDATION_ERROR", "newPlanId", "is the current plan");
    if (!to.active)
        return dm__admin_sub_refuse(no, 400, "VALIDATION_ERROR", "newPlanId", "the plan is not active");
    /* The subscription keeps its billing_period_days (dm__sub_change_plan
     * moves only plan and price): a yearly plan's price would otherwise be
     * charged every month. A bonus stays free, so its period may differ. */
    if (!s->is_bonus && to.period_days != s->period_days)
        return dm__admin_sub_refuse(no, 400, "VALIDATION_ERROR", "newPlanId",
                                    "the plan has another billing period than the subscription");
    /* A bonus subscription stays free; others pay the new plan's price from
     * their next renewal on. */
    int64_t price = s->is_bonus ? 0 : to.price;
    int64_t charge = u->bonus ? 0 : upgrade_charge(s, price);
    if (charge > 0) {
        rc = dm__sub_money(r->db, s->user_id, s->id, "UPGRADE", -charge, u->reason, NULL, err);
        if (rc == DM_ECONFLICT)
            return dm__admin_sub_refuse(no, 402, "INSUFFICIENT_CREDITS", NULL,
                                        "the user's balance does not cover the upgrade");
        if (rc != 0)
            return rc;
    }
    dm_sub_refusal why = DM_SUB_REFUSED_NONE;
    rc = dm__sub_change_plan(r->db, s, &to, price, u->reason, &why, err);
    if (rc == DM_ECONFLICT && why == DM_SUB_QUOTA_EXHAUSTED)
        return dm__admin_sub_refuse(no, 409, "QUOTA_EXHAUSTED", NULL, "the new plan has no free slot");
    return rc;
}

static void put_upgrade(dm_request *r)
{
    static const char *const fields[] = { "newPlanId", "bonus", "reason", NULL };
    upgrade_req u = { 0 };
    if (!dm__body_only(r, fields) || !dm__body_string(r, "newPlanId", 1, 64, &u.plan_id))
        return;
    json_t *jb = json_object_get(r->json, "bonus");
    if (jb != NULL && !json_is_boolean(jb)) {
        dm__body_invalid(r, "bonus", "must be true or false");
        return;
    }
    u.bonus = json_is_true(jb);
    if (!dm__body_reason(r, true, &u.reason))
        return;
    json_t *after = NULL;
    dm_admin_sub_refusal no;
    dm_err_t err = { 0 };
    int rc = dm__admin_sub_change(r, "subscription.upgrade", u.reason, upgrade_fn, &u, &after, &no, &err);
    dm__admin_sub_answer(r, rc, &no, &err, after, 200, "admin upgrade");
}

int dm__admin_subscriptions_routes_add(dm_router *rt)
{
    const unsigned admin = DM_ROUTE_POOL | DM_ROUTE_ADMIN;
    const unsigned change = admin | DM_ROUTE_JSON;
    int rc = 0;
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/admin/subscriptions", list_subscriptions, admin);
    rc = rc ? rc : dm__router_add(rt, "POST", "/api/admin/subscriptions/bonus", post_bonus, change);
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/admin/subscriptions/:id", get_subscription, admin);
    rc = rc ? rc : dm__router_add(rt, "PUT", "/api/admin/subscriptions/:id/upgrade", put_upgrade, change);
    rc = rc ? rc : dm__router_add(rt, "POST", "/api/admin/subscriptions/:id/force-cancel",
                                  dm__admin_sub_force_cancel, change);
    rc = rc ? rc : dm__router_add(rt, "POST", "/api/admin/subscriptions/:id/expire", dm__admin_sub_expire, change);
    rc = rc ? rc : dm__router_add(rt, "PUT", "/api/admin/subscriptions/:id/extend", dm__admin_sub_extend, change);
    return rc;
}
