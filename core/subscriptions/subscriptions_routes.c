/*
 * subscriptions_routes.c — the user's routes under /api/subscriptions (docs/openapi.yaml,
 * Subscriptions): subscribe, list, detail, upgrade, cancel, auto-renew and
 * renew. Handlers read and check the request, call the operations of
 * sub_ops.c with the wall clock, and map their refusals to the API's
 * statuses (dm__subs_answer, which the administrators' routes share). A
 * caller sees only their own subscriptions: another user's id is 404,
 * exactly like an unknown one.
 */
#include "subscriptions/subscriptions.h"
#include "subscriptions/subscriptions_routes.h"

#include <stdio.h>
#include <string.h>

#include "accounts/users.h"
#include "app/app.h"
#include "http/body_fields.h"
#include "http/json_body.h"
#include "http/response.h"
#include "http/router.h"
#include "jobs/jobs.h"
#include "subscriptions/sub_core.h"
#include "util/clock.h"

void dm__subs_answer(dm_request *r, int ok_status, int rc, const char *code, json_t *body, const dm_err_t *err,
                     const char *what)
{
    if (rc == 0) {
        dm__res_ok(r, ok_status, body);
    } else if (code == NULL) {
        dm__res_failure(r, err, what);
    } else if (strcmp(code, "VALIDATION_ERROR") == 0) {
        /* The operation's message starts with the field it refused. */
        char field[32];
        snprintf(field, sizeof field, "%.*s", (int)strcspn(err->msg, ":"), err->msg);
        const char *why = strchr(err->msg, ':');
        why = why != NULL ? why + 1 : err->msg;
        while (*why == ' ') /* never past the terminator, whatever the message */
            why++;
        dm__body_invalid(r, field, why);
    } else {
        const int status = strcmp(code, "NOT_FOUND") == 0              ? 404
                           : strcmp(code, "INSUFFICIENT_CREDITS") == 0 ? 402
                                                                       : 409;
        dm__res_error(r, status, code, err->msg, NULL);
    }
}

/* The user's operation answered: most queued instance work, so start it
 * now, not at the runner's next poll. */
static void answer(dm_request *r, int ok_status, int rc, const char *code, json_t *sub, const dm_err_t *err)
{
    if (rc == 0)
        dm__app_wake_jobs(r->app);
    dm__subs_answer(r, ok_status, rc, code, sub, err, "subscription");
}

static void subscribe(dm_request *r)
{
    static const char *const fields[] = { "planId", "autoRenew", NULL };
    const char *plan_id;
    if (!dm__body_only(r, fields) || !dm__body_string(r, "planId", 1, 64, &plan_id))
        return;
    json_t *ar = json_object_get(r->json, "autoRenew");
    if (ar != NULL && !json_is_boolean(ar)) {
        dm__body_invalid(r, "autoRenew", "must be true or false");
        return;
    }
    json_t *sub = NULL;
    const char *code = NULL;
    dm_err_t err = { 0 };
    int rc = dm__subs_subscribe(r->db, r->principal.id, plan_id, ar == NULL || json_is_true(ar),
                                dm__clock_wall_ms(), &sub, &code, &err);
    answer(r, 201, rc, code, sub, &err);
}

static void list(dm_request *r)
{
    long page, limit, total = 0;
    if (!dm__query_paging(r, &page, &limit))
        return;
    json_t *items = NULL;
    dm_err_t err = { 0 };
    int rc = dm__subs_list(r->db, r->principal.id, dm__req_query(r, "status"), page, limit, &items, &total, &err);
    if (rc == DM_EINVAL)
        dm__body_invalid(r, "status", "must be one of ACTIVE, SUSPENDED, EXPIRED, CANCELLED");
    else if (rc != 0)
        dm__res_failure(r, &err, "list subscriptions");
    else
        dm__res_list(r, items, page, limit, total);
}

static void detail(dm_request *r)
{
    const char *id = dm__req_param(r, "id");
    json_t *sub = NULL;
    dm_err_t err = { 0 };
    int rc = dm__sub_json(r->db, id, &sub, &err);
    /* Someone else's is as unknown as one that does not exist. */
    if (rc == 0 && strcmp(json_string_value(json_object_get(sub, "userId")), r->principal.id) != 0) {
        json_decref(sub);
        rc = dm_err_set(&err, DM_ENOTFOUND, "no such subscription");
    }
    answer(r, 200, rc, rc == DM_ENOTFOUND ? "NOT_FOUND" : NULL, sub, &err);
}

static void upgrade(dm_request *r)
{
    static const char *const fields[] = { "newPlanId", NULL };
    const char *plan_id;
    if (!dm__body_only(r, fields) || !dm__body_string(r, "newPlanId", 1, 64, &plan_id))
        return;
    json_t *sub = NULL;
    const char *code = NULL;
    dm_err_t err = { 0 };
    int rc = dm__subs_upgrade(r->db, r->principal.id, dm__req_param(r, "id"), plan_id, dm__clock_wall_ms(), &sub,
                              &code, &err);
    answer(r, 200, rc, code, sub, &err);
}

/* The body is optional here: {reason?}, or none at all. */
static void cancel(dm_request *r)
{
    static const char *const fields[] = { "reason", NULL };
    const char *reason = NULL;
    /* No body at all is a cancel without a reason; a body must be JSON. */
    if (r->body_len > 0 && !dm__json_body_parse(r))
        return;
    /* reason: null is no reason; a given one is 1–2000 characters (the
     * column's limit, counted in characters, not bytes), not only blanks. */
    if (r->json != NULL && (!dm__body_only(r, fields) || !dm__body_reason(r, false, &reason)))
        return;
    json_t *sub = NULL;
    const char *code = NULL;
    dm_err_t err = { 0 };
    int rc = dm__subs_cancel(r->db, r->principal.id, dm__req_param(r, "id"), reason, r->app->cfg->refund_policy,
                             dm__clock_wall_ms(), &sub, &code, &err);
    answer(r, 200, rc, code, sub, &err);
}

static void auto_renew(dm_request *r)
{
    static const char *const fields[] = { "enabled", NULL };
    if (!dm__body_only(r, fields))
        return;
    json_t *en = json_object_get(r->json, "enabled");
    if (!json_is_boolean(en)) {
        dm__body_invalid(r, "enabled", "is required: true or false");
        return;
    }
    json_t *sub = NULL;
    const char *code = NULL;
    dm_err_t err = { 0 };
    int rc = dm__subs_auto_renew(r->db, r->principal.id, dm__req_param(r, "id"), json_is_true(en), &sub, &code,
                                 &err);
    answer(r, 200, rc, code, sub, &err);
}

static void renew(dm_request *r)
{
    json_t *sub = NULL;
    const char *code = NULL;
    dm_err_t err = { 0 };
    int rc = dm__subs_renew(r->db, r->principal.id, dm__req_param(r, "id"), dm__clock_wall_ms(), &sub, &code, &err);
    answer(r, 200, rc, code, sub, &err);
}

int dm__subscriptions_routes_add(dm_router *rt)
{
    const unsigned user = DM_ROUTE_POOL | DM_ROUTE_AUTH;
    const unsigned money = user | DM_ROUTE_IDEMPOTENT;
    int rc = 0;
    rc = rc ? rc : dm__router_add(rt, "POST", "/api/subscriptions", subscribe, money | DM_ROUTE_JSON);
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/subscriptions", list, user);
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/subscriptions/:id", detail, user);
    rc = rc ? rc : dm__router_add(rt, "PUT", "/api/subscriptions/:id/upgrade", upgrade, money | DM_ROUTE_JSON);
    rc = rc ? rc : dm__router_add(rt, "PUT", "/api/subscriptions/:id/cancel", cancel, user);
    rc = rc ? rc : dm__router_add(rt, "PUT", "/api/subscriptions/:id/auto-renew", auto_renew, user | DM_ROUTE_JSON);
    rc = rc ? rc : dm__router_add(rt, "POST", "/api/subscriptions/:id/renew", renew, money);
    return rc;
}
