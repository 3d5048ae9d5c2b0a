/*
 * server.h — the HTTP server: one libuv loop, its listener, connections,
 * router, worker pool and the counters /metrics reports. Owned by main.
 */
#ifndef DM_SERVER_H
#define DM_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "auth/jwt.h"
#include "config/config.h"
#include "db/pool.h"
#include "http/router.h"
#include "ops/metrics.h"

typedef struct dm_plugin_set dm_plugin_set;

struct dm_server {
    uv_loop_t        *loop;
    const dm_config  *cfg;        /* borrowed */
    dm_router         router;
    dm_pool          *pool;       /* database and plugin work */
    dm_pool          *hash_pool;  /* DM_ROUTE_HASH routes (logins, passwords) */
    dm_metrics        metrics;    /* loop-thread counters */
    dm_jwt_keys       jwt;        /* session signing keys, read-only once serving */
    /* Checks DM_ROUTE_AUTH/ADMIN requests on the worker before the handler;
     * false when it has set the 401/403/503 response. Set by main. */
    bool            (*guard)(dm_request *req);
    dm_plugin_set    *plugins;    /* borrowed; NULL when none loaded */
    struct dm_jobs_runner *jobs;  /* borrowed, for metrics */
    char             *openapi_json; /* owned; served at /openapi.json */
    size_t            openapi_len;
    uv_tcp_t          listener;
    uv_signal_t       sigterm, sigint;
    uv_timer_t        drain_timer;
    bool              draining;
    uint64_t          drain_started_ns; /* monotonic, when draining began */
    struct dm_conn   *conns;      /* intrusive list of open connections */
    int               n_conns;
};

/* Bind, listen and install signal handlers. 0 or DM_EIO with a message. */
int  dm__server_start(dm_server *s, dm_err_t *err);
/* Begin graceful shutdown: stop accepting, close idle connections, let
 * in-flight requests finish (bounded by cfg->shutdown_grace_ms). */
void dm__server_drain(dm_server *s);

/* Called by conn.c (loop thread). */
void dm__server_conn_opened(dm_server *s, struct dm_conn *c);
void dm__server_conn_closed(dm_server *s, struct dm_conn *c);

#endif
