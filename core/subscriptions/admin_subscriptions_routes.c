/*
 * admin_subscriptions_routes.c — the seven administrator routes under
 * /api/admin/subscriptions (docs/openapi.yaml, Admin): list, detail, bonus, upgrade,
 * force-cancel, expire, extend. Handlers read and check the request and
 * answer what the operations of sub_admin.c (the model: rules, SQL, audit)
 * decided, through dm__subs_answer.
 */
#include "subscriptions/subscriptions_routes.h"

#include <string.h>

#include "accounts/users.h"
#include "audit/audit.h"
#include "http/body_fields.h"
#include "http/response.h"
#include "http/router.h"
#include "subscriptions/sub_admin.h"
#include "util/clock.h"

/* The longest bonus or extension, as a plan's billing period. */
#define MAX_DAYS 3660

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
    *out = dm__req_query(r, "status");
    if (*out == NULL || (*out)[0] == '\0') {
        *out = NULL;
        return true;
    }
    if (dm__sub_status_valid(*out))
        return true;
    dm__body_invalid(r, "status", "must be ACTIVE, SUSPENDED, EXPIRED or CANCELLED");
    return false;
}

static void list_subscriptions(dm_request *r)
{
    long page, limit, total = 0;
    dm_sub_filter f;
    if (!dm__query_paging(r, &page, &limit) || !query_uuid(r, "userId", &f.user_id) || !query_status(r, &f.status)
        || !query_uuid(r, "serviceId", &f.service_id))
        return;
    json_t *items = NULL;
    dm_err_t err = { 0 };
    if (dm__sub_admin_list(r->db, &f, page, limit, &items, &total, &err) != 0)
        dm__res_failure(r, &err, "list subscriptions");
    else
        dm__res_list(r, items, page, limit, total);
}

static void get_subscription(dm_request *r)
{
    json_t *s = NULL;
    dm_err_t err = { 0 };
    int rc = dm__sub_json(r->db, dm__req_param(r, "id"), &s, &err);
    dm__subs_answer(r, 200, rc, rc == DM_ENOTFOUND ? "NOT_FOUND" : NULL, s, &err, "get subscription");
}

/* ---- the changes -------------------------------------------------------- */

/* Run change c of the subscription :id by the request's administrator and
 * answer it: 200 with the subscription, or the refusal. */
static void change(dm_request *r, int (*fn)(dm_db *, const dm_actor *, const dm_sub_admin_change *, int64_t,
                                            json_t **, const char **, dm_err_t *),
                   const dm_sub_admin_change *c, const char *what)
{
    dm_actor actor = { r->principal.id, r->request_id, dm__req_client_ip(r) };
    json_t *after = NULL;
    const char *code = NULL;
    dm_err_t err = { 0 };
    int rc = fn(r->db, &actor, c, dm__clock_wall_ms(), &after, &code, &err);
    dm__subs_answer(r, 200, rc, code, after, &err, what);
}

/* The optional boolean member field into *out (left as it is when absent);
 * false (400 set) when it is not a boolean. */
static bool body_bool(dm_request *r, const char *field, bool *out)
{
    json_t *j = json_object_get(r->json, field);
    if (j != NULL && !json_is_boolean(j)) {
        dm__body_invalid(r, field, "must be true or false");
        return false;
    }
    if (j != NULL)
        *out = json_is_true(j);
    return true;
}

static void post_bonus(dm_request *r)
{
    static const char *const fields[] = { "userId", "planId", "durationDays", "reason", NULL };
    dm_sub_bonus b;
    long long days;
    if (!dm__body_only(r, fields) || !dm__body_string(r, "userId", 1, 64, &b.user_id)
        || !dm__body_string(r, "planId", 1, 64, &b.plan_id) || !dm__body_int(r, "durationDays", 1, MAX_DAYS, &days)
        || !dm__body_reason(r, true, &b.reason))
        return;
    b.days = (int)days;
    dm_actor actor = { r->principal.id, r->request_id, dm__req_client_ip(r) };
    json_t *out = NULL;
    const char *code = NULL;
    dm_err_t err = { 0 };
    int rc = dm__sub_admin_bonus(r->db, &actor, &b, dm__clock_wall_ms(), &out, &code, &err);
    dm__subs_answer(r, 201, rc, code, out, &err, "bonus subscription");
}

static void put_upgrade(dm_request *r)
{
    static const char *const fields[] = { "newPlanId", "bonus", "reason", NULL };
    dm_sub_admin_change c = { .sub_id = dm__req_param(r, "id") };
    if (!dm__body_only(r, fields) || !dm__body_string(r, "newPlanId", 1, 64, &c.plan_id)
        || !body_bool(r, "bonus", &c.free) || !dm__body_reason(r, true, &c.reason))
        return;
    change(r, dm__sub_admin_upgrade, &c, "admin upgrade");
}

/* {reason, refund?, immediate?}: refund defaults to "none", immediate to
 * true. False (400 set) when malformed. */
static bool cancel_body(dm_request *r, dm_sub_admin_change *c)
{
    static const char *const fields[] = { "reason", "refund", "immediate", NULL };
    static const struct { const char *name; dm_sub_refund refund; } refunds[] = {
        { "none", DM_SUB_REFUND_NONE }, { "prorated", DM_SUB_REFUND_PRORATED }, { "full", DM_SUB_REFUND_FULL }
    };
    c->immediate = true;
    if (!dm__body_only(r, fields) || !dm__body_reason(r, true, &c->reason) || !body_bool(r, "immediate", &c->immediate))
        return false;
    const char *pol = "none";
    if (json_object_get(r->json, "refund") != NULL && !dm__body_string(r, "refund", 1, 16, &pol))
        return false;
    for (size_t i = 0; i < sizeof refunds / sizeof refunds[0]; i++) {
        if (strcmp(pol, refunds[i].name) == 0) {
            c->refund = refunds[i].refund;
            return true;
        }
    }
    dm__body_invalid(r, "refund", "must be none, prorated or full");
    return false;
}

static void post_force_cancel(dm_request *r)
{
    dm_sub_admin_change c = { .sub_id = dm__req_param(r, "id") };
    if (!cancel_body(r, &c))
        return;
    change(r, dm__sub_admin_force_cancel, &c, "force-cancel");
}

static void post_expire(dm_request *r)
{
    static const char *const fields[] = { "reason", NULL };
    dm_sub_admin_change c = { .sub_id = dm__req_param(r, "id") };
    if (!dm__body_only(r, fields) || !dm__body_reason(r, true, &c.reason))
        return;
    change(r, dm__sub_admin_expire, &c, "expire");
}

static void put_extend(dm_request *r)
{
    static const char *const fields[] = { "days", "reason", NULL };
    dm_sub_admin_change c = { .sub_id = dm__req_param(r, "id") };
    long long days;
    if (!dm__body_only(r, fields) || !dm__body_int(r, "days", 1, MAX_DAYS, &days)
        || !dm__body_reason(r, true, &c.reason))
        return;
    c.days = (int)days;
    change(r, dm__sub_admin_extend, &c, "extend");
}

int dm__admin_subscriptions_routes_add(dm_router *rt)
{
    const unsigned admin = DM_ROUTE_POOL | DM_ROUTE_ADMIN;
    const unsigned change = admin | DM_ROUTE_JSON;
    /* Changes a retry must not apply twice (money, or free days) honour
     * Idempotency-Key: the retry replays the first answer. */
    const unsigned once = change | DM_ROUTE_IDEMPOTENT;
    int rc = 0;
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/admin/subscriptions", list_subscriptions, admin);
    rc = rc ? rc : dm__router_add(rt, "POST", "/api/admin/subscriptions/bonus", post_bonus, once);
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/admin/subscriptions/:id", get_subscription, admin);
    rc = rc ? rc : dm__router_add(rt, "PUT", "/api/admin/subscriptions/:id/upgrade", put_upgrade, once);
    rc = rc ? rc : dm__router_add(rt, "POST", "/api/admin/subscriptions/:id/force-cancel", post_force_cancel, once);
    rc = rc ? rc : dm__router_add(rt, "POST", "/api/admin/subscriptions/:id/expire", post_expire, change);
    rc = rc ? rc : dm__router_add(rt, "PUT", "/api/admin/subscriptions/:id/extend", put_extend, once);
    return rc;
}
