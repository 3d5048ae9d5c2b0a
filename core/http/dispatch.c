/*
 * dispatch.c — middleware in the order it applies: request id, CORS
 * (including preflight), routing (404/405), JSON body checks (415/400), then
 * the handler. Pool handlers run on a worker and come back through
 * dm__pool's completion on the loop. Every response leaves through
 * dm__dispatch_finish so every one is logged and counted.
 */
#include "http/dispatch.h"

#include <string.h>
#include <strings.h>

#include "db/pool.h"
#include "http/access_log.h"
#include "http/conn.h"
#include "http/idempotency.h"
#include "http/json_body.h"
#include "http/response.h"
#include "http/router.h"
#include "http/server.h"
#include "util/clock.h"
#include "util/log.h"

/* A client-supplied X-Request-Id is passed through only when it is short
 * and plain, so it can go into logs and headers unescaped. */
static bool valid_request_id(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char ch = s[n];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
                  || ch == '-' || ch == '_' || ch == '.';
        if (!ok || n >= 63)
            return false;
    }
    return n > 0;
}

static void assign_request_id(dm_request *r)
{
    if (r->request_id[0] != '\0')
        return;
    const char *given = dm__req_header(r, "X-Request-Id");
    if (given != NULL && valid_request_id(given)) {
        snprintf(r->request_id, sizeof r->request_id, "%s", given);
        return;
    }
    char id[37];
    if (dm__uuid_v4(id) != 0)
        snprintf(id, sizeof id, "00000000-0000-4000-8000-000000000000");
    snprintf(r->request_id, sizeof r->request_id, "%s", id);
}

/* Returns true when the request was a preflight and has been answered. */
static bool apply_cors(dm_request *r)
{
    const char *origin = dm__req_header(r, "Origin");
    if (origin != NULL && dm__config_cors_allowed(r->server->cfg, origin))
        r->origin = origin;
    if (strcmp(r->method, "OPTIONS") != 0 || dm__req_header(r, "Access-Control-Request-Method") == NULL)
        return false;
    if (r->origin == NULL) {
        dm__res_error(r, 403, "FORBIDDEN", "origin not allowed", NULL);
        return true;
    }
    dm__res_header(r, "Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS");
    const char *want = dm__req_header(r, "Access-Control-Request-Headers");
    dm__res_header(r, "Access-Control-Allow-Headers",
                   want != NULL ? want : "Authorization, Content-Type, Idempotency-Key, X-Request-Id");
    dm__res_header(r, "Access-Control-Max-Age", "600");
    dm__res_empty(r, 204);
    r->pattern = "preflight";
    return true;
}

static bool unauthorized(dm_request *r, const char *why)
{
    dm__log(DM_LOG_DEBUG, "auth", "request %s refused: %s", r->request_id, why);
    dm__res_header(r, "WWW-Authenticate", "Bearer");
    dm__res_error(r, 401, "UNAUTHORIZED", "a valid access token is required", NULL);
    return false;
}

/* The token after "Bearer ", or NULL. */
static const char *bearer(const dm_request *r)
{
    const char *h = dm__req_header(r, "Authorization");
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h != '\0' ? h : NULL;
}

/* DM_ROUTE_AUTH / DM_ROUTE_ADMIN: who the caller is, through the server's
 * authenticate function; every refusal is the same 401 for the client
 * (the reason goes to the debug log only), a non-administrator on an
 * admin route 403. False when the response is set. */
static bool guarded(dm_request *r)
{
    unsigned f = r->route->flags;
    if (!(f & (DM_ROUTE_AUTH | DM_ROUTE_ADMIN)))
        return true;
    if (r->server->authenticate == NULL) { /* a route that needs a guard the server lacks */
        dm__res_error(r, 500, "INTERNAL", "authentication is not configured", NULL);
        return false;
    }
    const char *token = bearer(r);
    if (token == NULL)
        return unauthorized(r, "no bearer token");
    dm_err_t err = { 0 };
    int rc = r->server->authenticate(r->app, r->db, token, &r->principal, &err);
    if (rc == DM_EPERM)
        return unauthorized(r, err.msg);
    if (rc != 0) {
        dm__res_failure(r, &err, "auth guard");
        return false;
    }
    if ((f & DM_ROUTE_ADMIN) && !dm__principal_is_admin(&r->principal)) {
        dm__res_error(r, 403, "FORBIDDEN", "administrator role required", NULL);
        return false;
    }
    return true;
}

static void run_handler(dm_request *r)
{
    /* The guard runs before body parsing, so an anonymous client learns
     * nothing from 400s about what a route would accept. */
    bool idem = (r->route->flags & DM_ROUTE_IDEMPOTENT) != 0;
    if (guarded(r) && (!(r->route->flags & DM_ROUTE_JSON) || dm__json_body_parse(r))
        && (!idem || dm__idem_begin(r))) {
        r->route->handler(r);
        if (idem)
            dm__idem_finish(r);
    }
    if (r->res.status == 0 && !r->deferred)
        dm__res_error(r, 500, "INTERNAL", "handler produced no response", NULL);
}

/* ---- the worker pool hop ---------------------------------------------- */

static void pool_work(dm_db *db, void *arg)
{
    dm_request *r = arg;
    r->db = db;
    run_handler(r);
    r->db = NULL;
}

static void pool_done(void *arg)
{
    dm_request *r = arg;
    r->server->metrics.inflight_requests--;
    dm__conn_inflight_done(r);
}

/* The pool a route's flags ask for, when the server has it. */
static dm_pool *pool_for(const dm_server *s, unsigned flags)
{
    if ((flags & DM_ROUTE_HASH) && s->hash_pool != NULL)
        return s->hash_pool;
    if ((flags & DM_ROUTE_REMOTE) && s->remote_pool != NULL)
        return s->remote_pool;
    return s->pool;
}

/* ---- deferred loop requests -------------------------------------------- */

void dm__req_defer(dm_request *r, void (*on_abort)(dm_request *r))
{
    r->deferred = true;
    r->on_abort = on_abort;
}

void dm__req_resume(dm_request *r)
{
    r->on_abort = NULL;
    if (r->res.status == 0)
        dm__res_error(r, 500, "INTERNAL", "handler produced no response", NULL);
    r->server->metrics.inflight_requests--;
    dm__conn_inflight_done(r);
}

/* ---- entry points ----------------------------------------------------- */

void dm__dispatch(dm_request *r)
{
    dm_server *s = r->server;
    assign_request_id(r);
    dm__req_resolve_client(r); /* before anything logs, throttles or audits by it */
    if (apply_cors(r)) {
        dm__dispatch_finish(r);
        return;
    }
    char allow[128];
    switch (dm__router_match(&s->router, r, allow, sizeof allow)) {
    case DM_MATCH_NOT_FOUND:
        dm__res_error(r, 404, "NOT_FOUND", "no such route", NULL);
        dm__dispatch_finish(r);
        return;
    case DM_MATCH_METHOD:
        dm__res_header(r, "Allow", allow);
        dm__res_error(r, 405, "METHOD_NOT_ALLOWED", "method not allowed on this route", NULL);
        dm__dispatch_finish(r);
        return;
    case DM_MATCH_OK:
        break;
    }
    /* Query text goes on to handlers and PostgreSQL as UTF-8 strings: a
     * value that does not decode to that is the client's error, said once
     * here for every route. */
    const char *bad = dm__req_query_invalid(r);
    if (bad != NULL) {
        dm__res_error(r, 400, "VALIDATION_ERROR", "a query parameter is not percent-encoded UTF-8",
                      json_pack("[{s:s,s:s}]", "field", bad, "message", "must be percent-encoded UTF-8"));
        dm__dispatch_finish(r);
        return;
    }
    if (!(r->route->flags & DM_ROUTE_POOL)) {
        run_handler(r);
        if (r->deferred) { /* answered later: owed like a pool request */
            r->conn->inflight++;
            s->metrics.inflight_requests++;
            return;
        }
        dm__dispatch_finish(r);
        return;
    }
    int rc = dm__pool_submit(pool_for(s, r->route->flags), pool_work, pool_done, r);
    if (rc != 0) {
        if (rc == DM_EBUSY)
            s->metrics.pool_rejected++;
        dm__res_unavailable(r, rc == DM_EBUSY ? "server is busy, try again" : "server is shutting down");
        dm__dispatch_finish(r);
        return;
    }
    r->conn->inflight++;
    s->metrics.inflight_requests++;
}

void dm__dispatch_finish(dm_request *r)
{
    assign_request_id(r);
    dm__req_resolve_client(r); /* a protocol failure never reached dm__dispatch */
    if (r->origin != NULL) {
        dm__res_header(r, "Access-Control-Allow-Origin", r->origin);
        dm__res_header(r, "Vary", "Origin");
    }
    uint64_t dur = dm__clock_mono_ns() - r->start_ns;
    dm__metrics_observe(&r->server->metrics, r->method, r->pattern, r->res.status, dur);
    dm__access_log(r->server, r, dur);
    dm__conn_request_done(r);
}
