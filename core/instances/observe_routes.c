/*
 * observe_routes.c — the read-only routes over observe.h: metrics and logs
 * under /api/subscriptions/:id, logs, the live log (a Server-Sent Event
 * stream subscribed to the log hub, log_hub.h), its tickets (log_ticket.h)
 * and the health history under /api/instances/:id, and the runtime
 * inventory under /api/admin/runtime. Ownership is that of instances.c:
 * the owner or an administrator; another user's is 404 like an unknown
 * id. Runtime failures (a timeout included) are 503 RUNTIME_UNAVAILABLE
 * with the detail in the log, never in the body. The routes that wait on
 * the runtime run on the remote-call pool (DM_ROUTE_REMOTE), whose size
 * bounds how many such waits run at once; they never hold the database
 * workers.
 */
#include "instances/instances_routes.h"
#include "instances/observe.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "accounts/session_guard.h"
#include "app/app.h"
#include "http/body_fields.h"
#include "http/response.h"
#include "http/router.h"
#include "http/sse.h"
#include "instances/log_hub.h"
#include "instances/instance_runtime.h"
#include "instances/log_ticket.h"
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

/* The instance records a runtime that is not enabled on this node and the
 * view would ask it (need): answered 503 RUNTIME_UNAVAILABLE saying so
 * (the name is the operator's configuration, nothing about the host), and
 * true. No other runtime is asked in its place. */
static bool runtime_gone(dm_request *r, dm_observed *o, bool need, const char *what)
{
    const dm_plugin *rt = NULL;
    dm_err_t err = { 0 };
    if (!need || o->runtime[0] == '\0' || dm__observe_runtime(r->app->plugins, o, &rt, &err) == 0)
        return false;
    DM_LOG_W("%s of %s: %s (request %s)", what, o->id, err.msg, r->request_id);
    dm__res_unavailable_as(r, "RUNTIME_UNAVAILABLE", err.msg);
    dm__observed_clear(o);
    return true;
}

static void metrics(dm_request *r)
{
    dm_observed o;
    if (!find(r, true, &o, "instance metrics") || runtime_gone(r, &o, strcmp(o.status, "RUNNING") == 0,
                                                               "instance metrics"))
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
    if (!tail_param(r, &tail) || !find(r, by_sub, &o, "instance logs")
        || runtime_gone(r, &o, dm__observe_has_workload(o.status), "instance logs"))
        return;
    json_t *data = NULL;
    dm_err_t err = { 0 };
    int rc = dm__observe_logs(r->app->plugins, &o, (uint32_t)tail, r->app->cfg->log_line_max_bytes, &data, &err);
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

/* One Server-Sent Event stream as a subscriber of the log hub: made on the
 * worker, then loop-owned (its owner callbacks); freed by close. */
typedef struct log_stream {
    dm_log_hub      *hub;
    const dm_plugin *rt;
    char             id[37];
    bool             has_workload;
    uint32_t         tail;
    uint64_t         after;
    dm_sse          *sse;
    dm_log_sub      *sub;
} log_stream;

/* The hub's lines as events with their ids; it takes what fits. */
static size_t on_lines(void *ctx, dm_log_line *const *lines, size_t n)
{
    log_stream *ls = ctx;
    size_t i = 0;
    while (i < n && dm__sse_push(ls->sse, lines[i]->id, lines[i]->json) == 0)
        i++;
    return i;
}

static void on_notice(void *ctx, const char *event, const char *json)
{
    log_stream *ls = ctx;
    dm__sse_send(ls->sse, event, json);
    if (strcmp(event, "logs-ended") == 0)
        dm__sse_end(ls->sse);
}

static void on_start(void *ctx, dm_sse *s)
{
    log_stream *ls = ctx;
    ls->sse = s;
    const dm_log_sink sink = { ls, on_lines, on_notice };
    ls->sub = dm__log_hub_subscribe(ls->hub, ls->rt, ls->id, ls->has_workload, ls->tail, ls->after, &sink);
    if (ls->sub == NULL) {
        dm__sse_send(s, "logs-error", "{\"message\":\"the server is out of memory\"}");
        dm__sse_end(s);
    }
}

static void on_drained(void *ctx)
{
    dm__log_hub_drained(((log_stream *)ctx)->sub);
}

static void on_close(void *ctx)
{
    log_stream *ls = ctx;
    dm__log_hub_unsubscribe(ls->sub);
    free(ls);
}

/* The token after "Bearer ", or NULL. */
static const char *bearer(const dm_request *r)
{
    const char *h = dm__req_header(r, "Authorization");
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    for (h += 7; *h == ' '; h++)
        ;
    return *h != '\0' ? h : NULL;
}

/* Who opens the stream: a browser shows a ticket (?ticket=, spent here),
 * anyone else a Bearer access token. False when answered: every refusal
 * is the same 401 as the guard's (the reason goes to the debug log). */
static bool stream_caller(dm_request *r)
{
    const char *ticket = dm__req_query(r, "ticket");
    const char *token = ticket == NULL ? bearer(r) : NULL;
    dm_err_t err = { 0 };
    int rc = DM_EPERM;
    if (ticket != NULL)
        rc = dm__log_ticket_redeem(r->db, ticket, dm__req_param(r, "id"), &r->principal, &err);
    else if (token != NULL)
        rc = dm__session_guard(r->app, r->db, token, &r->principal, &err);
    if (rc == 0)
        return true;
    if (rc != DM_EPERM) {
        dm__res_failure(r, &err, "log stream caller");
        return false;
    }
    dm__log(DM_LOG_DEBUG, "auth", "request %s refused: %s", r->request_id,
            ticket == NULL && token == NULL ? "no bearer token or ticket" : err.msg);
    dm__res_header(r, "WWW-Authenticate", "Bearer");
    dm__res_error(r, 401, "UNAUTHORIZED", "a valid access token or log ticket is required", NULL);
    return false;
}

/* The id after which the client wants lines (Last-Event-ID, or the
 * lastEventId query a page passes after getting a new ticket); 0 when
 * there is none or it is not a decimal id. */
static uint64_t last_event_id(dm_request *r)
{
    const char *v = dm__req_header(r, "Last-Event-ID");
    if (v == NULL)
        v = dm__req_query(r, "lastEventId");
    if (v == NULL || v[0] < '0' || v[0] > '9' || strlen(v) > 19)
        return 0;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    return *end == '\0' ? (uint64_t)n : 0;
}

/* The response becomes a stream whose owner subscribes to the hub once
 * its headers are out; 503 TOO_MANY_STREAMS past server.maxLogStreams. */
static void start_stream(dm_request *r, const dm_observed *o, uint32_t tail, uint64_t after)
{
    const dm_config *cfg = r->app->cfg;
    dm_err_t err = { 0 };
    const dm_plugin *rt = NULL;
    /* The instance's own runtime (the caller answered when it records one
     * that is not enabled). With none loaded at all, rt stays NULL and the
     * hub tells the stream it cannot follow. */
    if (dm__observe_has_workload(o->status))
        dm__observe_runtime(r->app->plugins, o, &rt, &err);
    log_stream *ls = calloc(1, sizeof *ls);
    dm_sse *s = NULL;
    if (ls != NULL) {
        *ls = (log_stream){ .hub = r->app->logs, .rt = rt, .tail = tail,
                            .after = after, .has_workload = dm__observe_has_workload(o->status) };
        memcpy(ls->id, o->id, sizeof ls->id);
        char name[64];
        snprintf(name, sizeof name, "log stream %s", o->id);
        const dm_sse_owner owner = { ls, on_start, on_drained, on_close };
        s = dm__sse_new(name, &owner, cfg->log_subscriber_bytes, cfg->max_log_streams, &err);
    }
    if (s != NULL) {
        dm__res_sse(r, s);
        return;
    }
    free(ls);
    if (err.code == DM_EBUSY) {
        dm__res_unavailable_as(r, "TOO_MANY_STREAMS", "too many live log streams are open; try again later");
    } else {
        dm_err_set(&err, DM_ENOMEM, "out of memory");
        dm__res_failure(r, &err, "instance log stream");
    }
}

/* GET /api/instances/:id/logs/stream: the caller (a ticket or a token),
 * the same checks as the logs, then a Server-Sent Event stream fed by the
 * log hub (instances/log_hub.h) on the loop until the client leaves. */
static void logs_stream(dm_request *r)
{
    long tail;
    dm_observed o;
    if (!stream_caller(r) || !tail_param(r, &tail) || !find(r, false, &o, "instance log stream")
        || runtime_gone(r, &o, dm__observe_has_workload(o.status), "instance log stream"))
        return;
    dm__observed_clear(&o);
    start_stream(r, &o, (uint32_t)tail, last_event_id(r));
}

/* POST /api/instances/:id/logs/ticket: a single-use ticket for the stream
 * (log_ticket.h), for the owner or an administrator. */
static void logs_ticket(dm_request *r)
{
    dm_observed o;
    if (!find(r, false, &o, "log ticket"))
        return;
    dm__observed_clear(&o);
    char ticket[44], expires[40];
    dm_err_t err = { 0 };
    if (dm__log_ticket_new(r->db, o.id, &r->principal, r->app->cfg->log_ticket_ttl_s, ticket, expires, &err) != 0) {
        dm__res_failure(r, &err, "log ticket");
        return;
    }
    dm__res_header(r, "Cache-Control", "no-store");
    dm__res_ok(r, 201, json_pack("{s:s, s:s}", "ticket", ticket, "expiresAt", expires));
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

/* ?managed=true|false into *managed (1, 0; -1 when absent). False (400
 * set) for any other value. */
static bool managed_param(dm_request *r, int *managed)
{
    const char *v = dm__req_query(r, "managed");
    *managed = -1;
    if (v == NULL || v[0] == '\0')
        return true;
    if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
        *managed = v[0] == 't';
        return true;
    }
    dm__body_invalid(r, "managed", "must be true or false");
    return false;
}

static void inventory(dm_request *r)
{
    const char *kind = dm__req_param(r, "kind");
    const char *ns = dm__req_query(r, "namespace");
    const char *runtime = dm__req_query(r, "runtime");
    long page, limit;
    int managed;
    if (ns != NULL && ns[0] == '\0')
        ns = NULL;
    if (runtime != NULL && runtime[0] == '\0')
        runtime = NULL;
    if (ns != NULL && !label_ok(ns)) {
        dm__body_invalid(r, "namespace", "must be 1 to 63 of a-z, 0-9 and -");
        return;
    }
    if (runtime != NULL && !dm__instance_runtime_name_ok(runtime)) {
        dm__body_invalid(r, "runtime", "must be a runtime plugin name");
        return;
    }
    if (!managed_param(r, &managed) || !dm__query_paging(r, &page, &limit))
        return;
    json_t *all = NULL, *items = NULL;
    long total = 0;
    char rt_name[72];
    dm_err_t err = { 0 };
    int rc = label_ok(kind) ? dm__observe_inventory(r->app->plugins, runtime, r->app->cfg->default_runtime, kind, ns,
                                                    &all, rt_name, sizeof rt_name, &err)
                            : dm_err_set(&err, DM_ENOTFOUND, "no inventory of that kind");
    if (rc == 0 && json_is_array(all))
        rc = dm__observe_inventory_page(all, managed, page, limit, &items, &total, &err);
    else if (rc == 0) /* one object (e.g. Docker's "info"): answered as it is */
        items = json_incref(all);
    json_decref(all);
    if (rc == DM_ENOTFOUND)
        dm__res_error(r, 404, "NOT_FOUND", err.msg, NULL);
    else if (rc != 0 || !json_is_array(items))
        answer_view(r, rc, items, &err, "runtime inventory");
    else
        dm__res_list(r, items, page, limit, total);
}

/* A pod name as Kubernetes takes it (a DNS subdomain: 1–253 of
 * [a-z0-9.-]); anything else cannot name a pod, so it is 404. */
static bool pod_name_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return false;
    }
    return true;
}

/* One pod's resource use: the runtime's "podmetrics" inventory of its
 * namespace (no SDK op of its own), the pod picked here. A runtime without
 * that kind (runtime-docker) is 404 naming it, like any kind it lacks. */
static void pod_metrics(dm_request *r)
{
    const char *ns = dm__req_param(r, "namespace");
    const char *name = dm__req_param(r, "name");
    const char *runtime = dm__req_query(r, "runtime");
    if (runtime != NULL && runtime[0] == '\0')
        runtime = NULL;
    if (runtime != NULL && !dm__instance_runtime_name_ok(runtime)) {
        dm__body_invalid(r, "runtime", "must be a runtime plugin name");
        return;
    }
    if (!label_ok(ns) || !pod_name_ok(name)) {
        dm__res_error(r, 404, "NOT_FOUND", "no such pod", NULL);
        return;
    }
    json_t *all = NULL, *found = NULL;
    char rt_name[72];
    dm_err_t err = { 0 };
    int rc = dm__observe_inventory(r->app->plugins, runtime, r->app->cfg->default_runtime, "podmetrics", ns, &all,
                                   rt_name, sizeof rt_name, &err);
    size_t i;
    json_t *it;
    json_array_foreach(rc == 0 ? all : NULL, i, it) {
        const char *n = json_string_value(json_object_get(it, "name"));
        if (found == NULL && n != NULL && strcmp(n, name) == 0)
            found = json_incref(it);
    }
    json_decref(all);
    if (rc == DM_ENOTFOUND)
        dm__res_error(r, 404, "NOT_FOUND", err.msg, NULL);
    else if (rc == 0 && found == NULL)
        dm__res_error(r, 404, "NOT_FOUND", "no metrics for that pod", NULL);
    else
        answer_view(r, rc, found, &err, "pod metrics");
}

int dm__instance_observe_routes_add(dm_router *rt)
{
    const unsigned user = DM_ROUTE_POOL | DM_ROUTE_AUTH;
    const unsigned admin = DM_ROUTE_POOL | DM_ROUTE_ADMIN;
    static const struct {
        const char   *method;
        const char   *path;
        dm_handler_fn fn;
        unsigned      extra;
    } routes[] = {
        { "GET", "/api/subscriptions/:id/metrics", metrics, DM_ROUTE_REMOTE }, /* waits on the runtime */
        { "GET", "/api/subscriptions/:id/logs", sub_logs, DM_ROUTE_REMOTE },
        { "GET", "/api/instances/:id/logs", inst_logs, DM_ROUTE_REMOTE },
        { "GET", "/api/instances/:id/health", health, 0 },
        { "POST", "/api/instances/:id/logs/ticket", logs_ticket, 0 },
        { "GET", "/api/admin/runtime/:kind", inventory, DM_ROUTE_ADMIN | DM_ROUTE_REMOTE },
        { "GET", "/api/admin/runtime/pods/:namespace/:name/metrics", pod_metrics, DM_ROUTE_ADMIN | DM_ROUTE_REMOTE },
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        unsigned flags = ((routes[i].extra & DM_ROUTE_ADMIN) ? admin : user) | routes[i].extra;
        int rc = dm__router_add(rt, routes[i].method, routes[i].path, routes[i].fn, flags);
        if (rc != 0)
            return rc;
    }
    /* The stream checks its caller itself: a ticket stands in for the
     * Bearer token (stream_caller). Its work is on the loop (the hub). */
    return dm__router_add(rt, "GET", "/api/instances/:id/logs/stream", logs_stream, DM_ROUTE_POOL);
}
