/*
 * observe_routes.c — the read-only routes over observe.h: metrics and logs
 * under /api/subscriptions/:id, logs, the live log and the health history
 * under /api/instances/:id, and the runtime inventory under
 * /api/admin/runtime. Ownership is that of instances.c: the owner or an
 * administrator; another user's is 404 like an unknown id. Runtime
 * failures (a timeout included) are 503 RUNTIME_UNAVAILABLE with the
 * detail in the log, never in the body. The routes that wait on the
 * runtime run on the remote-call pool (DM_ROUTE_REMOTE), whose size
 * bounds how many such waits run at once; they never hold the database
 * workers.
 */
#include "instances/instances_routes.h"
#include "instances/observe.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "http/body_fields.h"
#include "http/response.h"
#include "http/router.h"
#include "http/sse.h"
#include "util/log.h"

/* The instance the route's :id names (a subscription's when by_sub) if the
 * caller may see it; false when answered (404, or the failure). */
static bool find(dm_request *r, bool by_sub, dm_observed *o, const char *what)
{
    dm_err_t err = { 0 };
    const char *user = dm__principal_is_admin(&r->principal) ? NULL : r->principal.id;
    int rc = dm__observe_find(r->db, dm__req_param(r, "id"), by_sub, user, o, &err);
    if (rc == DM_ENOTFOUND)
        dm__res_error(r, 404, "NOT_FOUND", err.msg[0] ? err.msg : "not found", NULL);
    else if (rc != 0)
        dm__res_failure(r, &err, what);
    return rc == 0;
}

/* A view's outcome: 200 with data, 500 when out of memory, else 503 for
 * a runtime that is missing, lacks the op or failed: the detail goes to
 * the log only, as it may name sockets and hosts. */
static void answer_view(dm_request *r, int rc, json_t *data, const dm_err_t *err, const char *what)
{
    if (rc == 0) {
        dm__res_ok(r, 200, data);
    } else if (rc == DM_ENOMEM) {
        dm__res_failure(r, err, what);
    } else {
        DM_LOG_W("%s: %s (request %s)", what, err->msg[0] ? err->msg : "no runtime plugin", r->request_id);
        dm__res_unavailable_as(r, "RUNTIME_UNAVAILABLE", "the container runtime is unavailable; try again later");
    }
}

static void metrics(dm_request *r)
{
    dm_observed o;
    if (!find(r, true, &o, "instance metrics"))
        return;
    json_t *data = NULL;
    dm_err_t err = { 0 };
    int rc = dm__observe_metrics(r->app->plugins, &o, &data, &err);
    dm__observed_clear(&o);
    answer_view(r, rc, data, &err, "instance metrics");
}

/* ?tail= into *tail (default DM_OBSERVE_TAIL_DEFAULT). False (400 set,
 * naming tail) unless an integer from 1 to DM_OBSERVE_TAIL_MAX. */
static bool tail_param(dm_request *r, long *tail)
{
    const char *v = dm__req_query(r, "tail");
    *tail = DM_OBSERVE_TAIL_DEFAULT;
    if (v == NULL || v[0] == '\0')
        return true;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end != '\0' || n < 1 || n > DM_OBSERVE_TAIL_MAX) {
        dm__body_invalid(r, "tail", "must be an integer from 1 to 1000");
        return false;
    }
    *tail = n;
    return true;
}

static void logs(dm_request *r, bool by_sub)
{
    long tail;
    dm_observed o;
    if (!tail_param(r, &tail) || !find(r, by_sub, &o, "instance logs"))
        return;
    json_t *data = NULL;
    dm_err_t err = { 0 };
    int rc = dm__observe_logs(r->app->plugins, &o, (uint32_t)tail, &data, &err);
    dm__observed_clear(&o);
    answer_view(r, rc, data, &err, "instance logs");
}

static void sub_logs(dm_request *r) { logs(r, true); }
static void inst_logs(dm_request *r) { logs(r, false); }

static void health(dm_request *r)
{
    long page, limit, total = 0;
    dm_observed o;
    if (!dm__query_paging(r, &page, &limit) || !find(r, false, &o, "instance health"))
        return;
    dm__observed_clear(&o);
    json_t *items = NULL;
    dm_err_t err = { 0 };
    if (dm__observe_health(r->db, o.id, page, limit, &items, &total, &err) != 0)
        dm__res_failure(r, &err, "instance health");
    else
        dm__res_list(r, items, page, limit, total);
}

/* ---- the live log ------------------------------------------------------- */

/* The stream's producer: the follow, its events written as SSE. */
static int sse_send(void *ctx, const char *event, const char *data)
{
    return dm__sse_send(ctx, event, data);
}

static bool sse_cancelled(void *ctx)
{
    return dm__sse_cancelled(ctx);
}

static void follow_into_sse(dm_sse *s, void *follow)
{
    const dm_event_out out = { s, sse_send, sse_cancelled };
    dm__instance_follow_run(follow, &out);
}

/* GET /api/instances/:id/logs/stream: the same checks as the logs, then
 * the response becomes a Server-Sent Event stream (http/sse.h) that
 * follows the log on a thread of its own until the client leaves. */
static void logs_stream(dm_request *r)
{
    long tail;
    dm_observed o;
    if (!tail_param(r, &tail) || !find(r, false, &o, "instance log stream"))
        return;
    dm__observed_clear(&o);
    bool has = dm__observe_has_workload(o.status);
    dm_instance_follow *f =
        dm__instance_follow_new(has ? dm__observe_runtime(r->app->plugins) : NULL, has, o.id, (uint32_t)tail);
    char name[64];
    snprintf(name, sizeof name, "log stream %s", o.id);
    dm_err_t err = { 0 };
    dm_sse *s = f != NULL ? dm__sse_new(name, follow_into_sse, f, dm__instance_follow_free,
                                        r->app->cfg->max_log_streams, &err)
                          : NULL;
    if (s == NULL) {
        dm__instance_follow_free(f);
        if (err.code == DM_EBUSY) {
            dm__res_unavailable_as(r, "TOO_MANY_STREAMS", "too many live log streams are open; try again later");
        } else {
            dm_err_set(&err, DM_ENOMEM, "out of memory");
            dm__res_failure(r, &err, "instance log stream");
        }
        return;
    }
    dm__res_sse(r, s);
}

/* ---- runtime inventory (administrators) -------------------------------- */

/* A name of the backend's vocabulary: 1–63 of [a-z0-9-], starting with a
 * letter or digit (kinds, and Kubernetes namespaces, are DNS labels). */
static bool label_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > 63 || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

static void no_such_kind(dm_request *r, const char *kind)
{
    char msg[160];
    snprintf(msg, sizeof msg, "the active runtime has no inventory of \"%.60s\"", kind != NULL ? kind : "");
    dm__res_error(r, 404, "NOT_FOUND", msg, NULL);
}

static void inventory(dm_request *r)
{
    const char *kind = dm__req_param(r, "kind");
    const char *ns = dm__req_query(r, "namespace");
    if (ns != NULL && ns[0] == '\0')
        ns = NULL;
    if (ns != NULL && !label_ok(ns)) {
        dm__body_invalid(r, "namespace", "must be 1 to 63 of a-z, 0-9 and -");
        return;
    }
    if (!label_ok(kind)) {
        no_such_kind(r, kind);
        return;
    }
    json_t *out = NULL;
    dm_err_t err = { 0 };
    int rc = dm__observe_inventory(r->app->plugins, kind, ns, &out, &err);
    if (rc == DM_ENOTFOUND)
        no_such_kind(r, kind);
    else
        answer_view(r, rc, out, &err, "runtime inventory");
}

int dm__instance_observe_routes_add(dm_router *rt)
{
    const unsigned user = DM_ROUTE_POOL | DM_ROUTE_AUTH;
    const unsigned admin = DM_ROUTE_POOL | DM_ROUTE_ADMIN;
    static const struct {
        const char   *path;
        dm_handler_fn fn;
        bool          admin;
        bool          remote; /* waits on the runtime */
    } routes[] = {
        { "/api/subscriptions/:id/metrics", metrics, false, true },
        { "/api/subscriptions/:id/logs", sub_logs, false, true },
        { "/api/instances/:id/logs", inst_logs, false, true },
        { "/api/instances/:id/logs/stream", logs_stream, false, false }, /* the follow has its own thread */
        { "/api/instances/:id/health", health, false, false },
        { "/api/admin/runtime/:kind", inventory, true, true },
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        unsigned flags = (routes[i].admin ? admin : user) | (routes[i].remote ? DM_ROUTE_REMOTE : 0);
        int rc = dm__router_add(rt, "GET", routes[i].path, routes[i].fn, flags);
        if (rc != 0)
            return rc;
    }
    return 0;
}
