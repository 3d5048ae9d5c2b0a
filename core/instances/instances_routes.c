/*
 * instances_routes.c — /api/instances (list, detail, events,
 * restart|stop|start) and the runtime operations under
 * /api/subscriptions/:id (restart, stop, start, retry-provision), over the
 * model of instances.h. A caller reaches their own instances, an
 * administrator any by id; another user's is 404, exactly like an unknown
 * one. The lists show only the caller's own.
 */
#include "instances/instances_routes.h"

#include "app/app.h"
#include "http/body_fields.h"
#include "http/response.h"
#include "http/router.h"
#include "instances/instances.h"

/* A failure of a lookup or an operation, as the API answers it. */
static void answer_error(dm_request *r, int rc, const dm_err_t *err, const char *what)
{
    if (rc == DM_ENOTFOUND)
        dm__res_error(r, 404, "NOT_FOUND", err->msg[0] ? err->msg : "not found", NULL);
    else if (rc == DM_ECONFLICT)
        dm__res_error(r, 409, "INVALID_STATE", err->msg, NULL);
    else
        dm__res_failure(r, err, what);
}

static void list(dm_request *r)
{
    long page, limit, total = 0;
    if (!dm__query_paging(r, &page, &limit))
        return;
    json_t *items = NULL;
    dm_err_t err = { 0 };
    if (dm__instances_list(r->db, r->principal.id, page, limit, &items, &total, &err) != 0)
        dm__res_failure(r, &err, "list instances");
    else
        dm__res_list(r, items, page, limit, total);
}

/* The owner the caller may reach: their own, or (administrators) any. */
static const char *owner_filter(const dm_request *r)
{
    return dm__principal_is_admin(&r->principal) ? NULL : r->principal.id;
}

static void detail(dm_request *r)
{
    dm_err_t err = { 0 };
    json_t *j = NULL;
    int rc = dm__instance_get(r->db, dm__req_param(r, "id"), owner_filter(r), &j, &err);
    if (rc != 0)
        answer_error(r, rc, &err, "get instance");
    else
        dm__res_ok(r, 200, j);
}

static void events(dm_request *r)
{
    long page, limit, total = 0;
    if (!dm__query_paging(r, &page, &limit))
        return;
    json_t *items = NULL;
    dm_err_t err = { 0 };
    int rc = dm__instance_events(r->db, dm__req_param(r, "id"), owner_filter(r), page, limit, &items, &total, &err);
    if (rc != 0)
        answer_error(r, rc, &err, "instance events");
    else
        dm__res_list(r, items, page, limit, total);
}

/* One operation from the route's last path segment. */
static void operate(dm_request *r, bool by_instance, const char *op)
{
    dm_instance_target t = { NULL, NULL };
    if (by_instance)
        t.instance_id = dm__req_param(r, "id");
    else
        t.subscription_id = dm__req_param(r, "id");
    json_t *out = NULL;
    dm_err_t err = { 0 };
    int rc = dm__instance_operate(r->db, &t, owner_filter(r), r->principal.id, op, &out, &err);
    if (rc != 0) {
        answer_error(r, rc, &err, op);
        return;
    }
    dm__app_wake_jobs(r->app); /* the job is queued: run it now */
    dm__res_ok(r, 202, out);
}

static void inst_restart(dm_request *r) { operate(r, true, "restart"); }
static void inst_stop(dm_request *r) { operate(r, true, "stop"); }
static void inst_start(dm_request *r) { operate(r, true, "start"); }
static void sub_restart(dm_request *r) { operate(r, false, "restart"); }
static void sub_stop(dm_request *r) { operate(r, false, "stop"); }
static void sub_start(dm_request *r) { operate(r, false, "start"); }
static void sub_retry(dm_request *r) { operate(r, false, "retry-provision"); }

int dm__instances_routes_add(dm_router *rt)
{
    const unsigned user = DM_ROUTE_POOL | DM_ROUTE_AUTH;
    static const struct {
        const char *method, *path;
        dm_handler_fn fn;
    } routes[] = {
        { "GET", "/api/instances", list },
        { "GET", "/api/instances/:id", detail },
        { "GET", "/api/instances/:id/events", events },
        { "PUT", "/api/instances/:id/restart", inst_restart },
        { "PUT", "/api/instances/:id/stop", inst_stop },
        { "PUT", "/api/instances/:id/start", inst_start },
        { "POST", "/api/subscriptions/:id/restart", sub_restart },
        { "POST", "/api/subscriptions/:id/stop", sub_stop },
        { "POST", "/api/subscriptions/:id/start", sub_start },
        { "POST", "/api/subscriptions/:id/retry-provision", sub_retry },
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = dm__router_add(rt, routes[i].method, routes[i].path, routes[i].fn, user);
        if (rc != 0)
            return rc;
    }
    return 0;
}
