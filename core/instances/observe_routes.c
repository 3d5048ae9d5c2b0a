/*
 * observe_routes.c — the read-only routes of observe.h: metrics
 * and logs under /api/subscriptions/:id, logs and the health history under
 * /api/instances/:id, and the runtime inventory under /api/admin/runtime.
 * Ownership is that of instances.c: the owner or an administrator; another
 * user's is 404 like an unknown id. Runtime failures are 503
 * RUNTIME_UNAVAILABLE with the detail in the log, never in the body.
 */
#include "instances/instances_routes.h"
#include "instances/observe.h"

#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/users.h"
#include "app/app.h"
#include "db/pg.h"
#include "db/sql_time.h"
#include "http/body_fields.h"
#include "http/response.h"
#include "http/router.h"
#include "http/sse.h"
#include "plugin/registry.h"
#include "util/clock.h"
#include "util/log.h"

/* The columns every lookup returns: the instance, its status, the plan's
 * limits and the urls shown to the user (null unless a string). */
#define OBSERVED_COLUMNS                                                                                      \
    "SELECT i.id, i.status, p.cpu_millicores, p.memory_mb, json_build_object("                              \
    "  'public', CASE WHEN jsonb_typeof(i.urls->'public') = 'string' THEN i.urls->>'public' END, "         \
    "  'admin', CASE WHEN jsonb_typeof(i.urls->'admin') = 'string' THEN i.urls->>'admin' END)::text "

/* A left join, so that a subscription without an instance is told apart. */
#define SQL_BY_SUB                                                                                            \
    OBSERVED_COLUMNS "FROM subscriptions s JOIN plans p ON p.id = s.plan_id "                                \
                     "LEFT JOIN instances i ON i.subscription_id = s.id "                                    \
                     "WHERE s.id = $1::uuid AND ($2::uuid IS NULL OR s.user_id = $2::uuid)"

#define SQL_BY_INSTANCE                                                                                       \
    OBSERVED_COLUMNS "FROM instances i JOIN subscriptions s ON s.id = i.subscription_id "                    \
                     "JOIN plans p ON p.id = s.plan_id "                                                      \
                     "WHERE i.id = $1::uuid AND ($2::uuid IS NULL OR i.user_id = $2::uuid)"

/* What a view knows about its instance. */
typedef struct observed {
    char      id[37];
    char      status[16];
    long long cpu_limit; /* millicores */
    long long mem_limit; /* MB */
    json_t   *urls;      /* owned: {"public","admin"}, each a string or null */
} observed;

/* The instance the route's :id names (a subscription's when by_sub) if the
 * caller may see it. 0; DM_ENOTFOUND (unknown, malformed, another user's,
 * or a subscription without an instance); the database codes. */
static int find(dm_request *r, bool by_sub, observed *o, dm_err_t *err)
{
    const char *what = by_sub ? "no such subscription" : "no such instance";
    const char *id = dm__req_param(r, "id");
    memset(o, 0, sizeof *o);
    if (!dm__users_valid_id(id))
        return dm_err_set(err, DM_ENOTFOUND, "%s", what);
    const char *p[] = { id, dm__principal_is_admin(&r->principal) ? NULL : r->principal.id };
    PGresult *res = dm__db_exec(r->db, by_sub ? "obs_by_sub" : "obs_by_inst", by_sub ? SQL_BY_SUB : SQL_BY_INSTANCE,
                                2, p, err);
    if (res == NULL)
        return dm__db_failed(err);
    int rc = 0;
    if (PQntuples(res) == 0)
        rc = dm_err_set(err, DM_ENOTFOUND, "%s", what);
    else if (PQgetisnull(res, 0, 0))
        rc = dm_err_set(err, DM_ENOTFOUND, "the subscription has no instance");
    else if ((o->urls = json_loads(PQgetvalue(res, 0, 4), 0, NULL)) == NULL)
        rc = dm_err_set(err, DM_EIO, "observe: unreadable urls");
    if (rc == 0) {
        snprintf(o->id, sizeof o->id, "%s", PQgetvalue(res, 0, 0));
        snprintf(o->status, sizeof o->status, "%s", PQgetvalue(res, 0, 1));
        o->cpu_limit = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
        o->mem_limit = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    }
    PQclear(res);
    return rc;
}

/* A failed lookup as the API answers it. */
static void answer_lookup(dm_request *r, int rc, const dm_err_t *err, const char *what)
{
    if (rc == DM_ENOTFOUND)
        dm__res_error(r, 404, "NOT_FOUND", err->msg[0] ? err->msg : "not found", NULL);
    else
        dm__res_failure(r, err, what);
}

/* The active runtime plugin (the one the instance jobs use), or NULL. */
static const dm_plugin *runtime(const dm_request *r)
{
    return r->app != NULL ? dm__plugins_find(r->app->plugins, DM_PLUGIN_RUNTIME, NULL) : NULL;
}

/* 503 for a runtime that is missing, lacks the op or failed: the detail
 * goes to the log only, as it may name sockets and hosts. */
static void runtime_unavailable(dm_request *r, const char *what, const dm_err_t *err)
{
    DM_LOG_W("%s: %s (request %s)", what, err->msg[0] ? err->msg : "no runtime plugin", r->request_id);
    dm__res_unavailable_as(r, "RUNTIME_UNAVAILABLE", "the container runtime is unavailable; try again later");
}

/* ---- the engine gate ----------------------------------------------------- */

/* Metrics and logs wait on the engine (a stats sample takes about a
 * second) on a pool worker, which also serves every database route. At
 * most this many such calls run at once; more get 503 with Retry-After, so
 * a busy dashboard cannot hold every worker. */
#define ENGINE_CALLS_MAX 2
static atomic_int engine_calls;

static int engine_enter(dm_err_t *err)
{
    if (atomic_fetch_add(&engine_calls, 1) >= ENGINE_CALLS_MAX) {
        atomic_fetch_sub(&engine_calls, 1);
        return dm_err_set(err, DM_EBUSY, "%d runtime calls already in flight", ENGINE_CALLS_MAX);
    }
    return 0;
}

static void engine_leave(void)
{
    atomic_fetch_sub(&engine_calls, 1);
}

/* ---- metrics ----------------------------------------------------------- */

/* used × 100 / limit, rounded to nearest; 0 when there is no limit. */
static long long percentage(long long used, long long limit)
{
    if (limit <= 0 || used <= 0)
        return 0;
    return (used * 100 + limit / 2) / limit;
}

/* The runtime's usage of a RUNNING instance into *u. A workload that is
 * gone or not running (DM_ENOTFOUND, DM_ECONFLICT) uses nothing: the
 * reconciler will notice, the answer stays truthful. */
static int usage(const dm_request *r, const char *id, dm_runtime_usage_t *u, dm_err_t *err)
{
    const dm_plugin *p = runtime(r);
    const dm_runtime_ops_t *ops = dm__plugin_runtime_ops(p);
    if (ops == NULL || ops->usage == NULL)
        return dm_err_set(err, DM_EUNSUPPORTED, "%s", ops == NULL ? "no runtime plugin loaded"
                                                                  : "the runtime does not report usage");
    int rc = engine_enter(err);
    if (rc != 0)
        return rc;
    rc = ops->usage(p->state, id, u, err);
    engine_leave();
    if (rc == DM_ENOTFOUND || rc == DM_ECONFLICT) {
        memset(u, 0, sizeof *u);
        rc = 0;
    }
    return rc;
}

static json_t *resource(long long used, long long limit)
{
    return json_pack("{s:I, s:I, s:I}", "used", (json_int_t)used, "limit", (json_int_t)limit, "percentage",
                     (json_int_t)percentage(used, limit));
}

static void metrics(dm_request *r)
{
    observed o;
    dm_err_t err = { 0 };
    int rc = find(r, true, &o, &err);
    if (rc != 0) {
        answer_lookup(r, rc, &err, "instance metrics");
        return;
    }
    dm_runtime_usage_t u = { 0 };
    /* Only a RUNNING workload uses anything; the others are not asked. */
    if (strcmp(o.status, "RUNNING") == 0 && (rc = usage(r, o.id, &u, &err)) != 0) {
        json_decref(o.urls);
        runtime_unavailable(r, "instance metrics", &err);
        return;
    }
    long long cpu = u.cpu_millicores > 0 ? (long long)u.cpu_millicores : 0;
    long long mem = u.memory_bytes > 0 ? (long long)(u.memory_bytes / 1048576) : 0;
    char ts[40];
    dm__clock_rfc3339(dm__clock_wall_ms(), ts, sizeof ts);
    json_t *data = json_pack("{s:s, s:s, s:o, s:o, s:o, s:s}", "instanceId", o.id, "status", o.status, "cpu",
                             resource(cpu, o.cpu_limit), "memory", resource(mem, o.mem_limit), "urls", o.urls,
                             "timestamp", ts);
    if (data == NULL) {
        dm_err_set(&err, DM_ENOMEM, "out of memory");
        dm__res_failure(r, &err, "instance metrics");
        return;
    }
    dm__res_ok(r, 200, data);
}

/* ---- logs -------------------------------------------------------------- */

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

/* PENDING has no workload yet and TERMINATED none any more: nothing to
 * ask. Any other status may have a container with a log, even ERROR. */
static bool has_workload(const char *status)
{
    return strcmp(status, "PENDING") != 0 && strcmp(status, "TERMINATED") != 0;
}

static void logs(dm_request *r, bool by_sub)
{
    long tail;
    if (!tail_param(r, &tail))
        return;
    observed o;
    dm_err_t err = { 0 };
    int rc = find(r, by_sub, &o, &err);
    if (rc != 0) {
        answer_lookup(r, rc, &err, "instance logs");
        return;
    }
    json_decref(o.urls);
    json_t *lines = NULL;
    const dm_plugin *p = has_workload(o.status) ? runtime(r) : NULL;
    if (has_workload(o.status) && p == NULL)
        rc = dm_err_set(&err, DM_EUNSUPPORTED, "no runtime plugin loaded");
    else if (p != NULL && (rc = engine_enter(&err)) == 0) {
        rc = dm__instance_logs_read(dm__plugin_runtime_ops(p), p->state, o.id, (uint32_t)tail, DM_OBSERVE_LOG_BYTES,
                                    &lines, &err);
        engine_leave();
    }
    if (rc == DM_ENOTFOUND || (rc == 0 && lines == NULL)) {
        rc = 0;
        lines = json_array();
    }
    if (rc == DM_ENOMEM) {
        dm__res_failure(r, &err, "instance logs");
        return;
    }
    if (rc != 0) {
        runtime_unavailable(r, "instance logs", &err);
        return;
    }
    json_t *data = json_pack("{s:s, s:o}", "instanceId", o.id, "lines", lines);
    if (data == NULL) {
        dm_err_set(&err, DM_ENOMEM, "out of memory");
        dm__res_failure(r, &err, "instance logs");
        return;
    }
    dm__res_ok(r, 200, data);
}

static void sub_logs(dm_request *r) { logs(r, true); }
static void inst_logs(dm_request *r) { logs(r, false); }

/* ---- health history ---------------------------------------------------- */

static void health(dm_request *r)
{
    long page, limit;
    if (!dm__query_paging(r, &page, &limit))
        return;
    observed o;
    dm_err_t err = { 0 };
    int rc = find(r, false, &o, &err);
    if (rc != 0) {
        answer_lookup(r, rc, &err, "instance health");
        return;
    }
    json_decref(o.urls);
    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%ld", limit);
    snprintf(off, sizeof off, "%ld", (page - 1) * limit);
    const char *p[] = { o.id, lim, off };
    PGresult *res = dm__db_exec(
        r->db, "obs_health",
        "SELECT (SELECT count(*) FROM instance_health WHERE instance_id = $1::uuid), "
        "  coalesce((SELECT json_agg(json_build_object('status', h.status, 'message', h.message, "
        "    'checkedAt', " DM_SQL_TS("h.checked_at") ") ORDER BY h.id DESC) FROM ("
        "    SELECT * FROM instance_health WHERE instance_id = $1::uuid ORDER BY id DESC "
        "    LIMIT $2::bigint OFFSET $3::bigint) h), '[]')::text",
        3, p, &err);
    json_t *items = NULL;
    rc = res == NULL ? dm__db_failed(&err) : 0;
    if (rc == 0 && (items = json_loads(PQgetvalue(res, 0, 1), 0, NULL)) == NULL)
        rc = dm_err_set(&err, DM_EIO, "instance health: unreadable row JSON");
    long total = rc == 0 ? strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    if (rc != 0)
        dm__res_failure(r, &err, "instance health");
    else
        dm__res_list(r, items, page, limit, total);
}

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
    if (!tail_param(r, &tail))
        return;
    observed o;
    dm_err_t err = { 0 };
    int rc = find(r, false, &o, &err);
    if (rc != 0) {
        answer_lookup(r, rc, &err, "instance log stream");
        return;
    }
    json_decref(o.urls);
    const dm_plugin *p = has_workload(o.status) ? runtime(r) : NULL;
    dm_instance_follow *f = dm__instance_follow_new(p != NULL ? dm__plugin_runtime_ops(p) : NULL,
                                                    p != NULL ? p->state : NULL, has_workload(o.status), o.id,
                                                    (uint32_t)tail);
    char name[64];
    snprintf(name, sizeof name, "log stream %s", o.id);
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
    const dm_plugin *p = runtime(r);
    const dm_runtime_ops_t *ops = dm__plugin_runtime_ops(p);
    if (!label_ok(kind) || ops == NULL || ops->inventory == NULL) {
        no_such_kind(r, kind);
        return;
    }
    json_t *out = NULL;
    dm_err_t err = { 0 };
    int rc = ops->inventory(p->state, kind, ns, &out, &err);
    if (rc == DM_EUNSUPPORTED || rc == DM_ENOTFOUND || rc == DM_EINVAL)
        no_such_kind(r, kind);
    else if (rc == DM_ENOMEM)
        dm__res_failure(r, &err, "runtime inventory");
    else if (rc != 0)
        runtime_unavailable(r, "runtime inventory", &err);
    else
        dm__res_ok(r, 200, out != NULL ? out : json_array());
    if (rc != 0)
        json_decref(out);
}

int dm__instance_observe_routes_add(dm_router *rt)
{
    const unsigned user = DM_ROUTE_POOL | DM_ROUTE_AUTH;
    const unsigned admin = DM_ROUTE_POOL | DM_ROUTE_ADMIN;
    static const struct {
        const char   *path;
        dm_handler_fn fn;
        bool          admin;
    } routes[] = {
        { "/api/subscriptions/:id/metrics", metrics, false },
        { "/api/subscriptions/:id/logs", sub_logs, false },
        { "/api/instances/:id/logs", inst_logs, false },
        { "/api/instances/:id/logs/stream", logs_stream, false },
        { "/api/instances/:id/health", health, false },
        { "/api/admin/runtime/:kind", inventory, true },
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = dm__router_add(rt, "GET", routes[i].path, routes[i].fn, routes[i].admin ? admin : user);
        if (rc != 0)
            return rc;
    }
    return 0;
}
