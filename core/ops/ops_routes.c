/*
 * ops_routes.c — liveness answers on the loop (no I/O); readiness goes
 * through the worker pool so it proves the pool and the database both work.
 */
#include "ops/ops_routes.h"

#include <stdio.h>

#include "http/response.h"
#include "http/router.h"
#include "http/server.h"
#include "ops/ops_extra.h"
#include "ops/process_metrics.h"

static void healthz(dm_request *r)
{
    static const char body[] = "{\"success\":true,\"data\":{\"status\":\"ok\"}}";
    dm__res_raw(r, 200, "application/json", body, sizeof body - 1);
}

/* Pool thread: one round trip proves a worker and the database answer now
 * (dm__db_ping replaces a connection that died while idle first). */
static void readyz(dm_request *r)
{
    dm_err_t err;
    if (dm__db_ping(r->db, &err) != 0) {
        dm__res_unavailable(r, "database unavailable");
        return;
    }
    dm__res_ok(r, 200, dm__ops_ready_data(r->server));
}

static void metrics(dm_request *r)
{
    dm_buf out;
    dm__buf_init(&out, 8u * 1024u * 1024u);
    int rc = dm__metrics_render(&r->server->metrics, &out);
    if (rc == 0)
        rc = dm__ops_render_runtime_metrics(r->server, &out);
    if (rc == 0)
        rc = dm__process_metrics_render(&out);
    if (rc != 0) {
        dm__buf_free(&out);
        dm__res_error(r, 500, "INTERNAL", "cannot render metrics", NULL);
        return;
    }
    dm__res_raw(r, 200, "text/plain; version=0.0.4", out.data, out.len);
    dm__buf_free(&out);
}

static void openapi(dm_request *r)
{
    dm_server *s = r->server;
    if (s->openapi_json == NULL) {
        dm__res_error(r, 404, "NOT_FOUND", "no OpenAPI document loaded", NULL);
        return;
    }
    dm__res_raw(r, 200, "application/json", s->openapi_json, s->openapi_len);
}

int dm__ops_routes_add(dm_router *r)
{
    int rc = dm__router_add(r, "GET", "/healthz", healthz, DM_ROUTE_LOOP);
    if (rc == 0)
        rc = dm__router_add(r, "GET", "/readyz", readyz, DM_ROUTE_POOL);
    if (rc == 0)
        rc = dm__router_add(r, "GET", "/metrics", metrics, DM_ROUTE_LOOP);
    if (rc == 0)
        rc = dm__router_add(r, "GET", "/openapi.json", openapi, DM_ROUTE_LOOP);
    return rc;
}
