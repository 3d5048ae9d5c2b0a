/*
 * server.h — the HTTP transport: one libuv loop, its listener, connections,
 * router, worker pools and the counters /metrics reports. Owned by main.
 * What requests need of the application (configuration, plugins, keys,
 * jobs) is the dm_app it hands them, never this struct.
 */
#ifndef DM_SERVER_H
#define DM_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "app/config.h"
#include "db/pool.h"
#include "http/router.h"
#include "ops/metrics.h"

/* Who a DM_ROUTE_AUTH/ADMIN request is: verify bearer (the token after
 * "Bearer ", borrowed) on db and fill *out. 0; DM_EPERM when the token or
 * its session is not good (401); DM_EUNAVAIL / DM_EIO when the check could
 * not be made (err says why). Runs on the worker before the handler. */
typedef int (*dm_authenticate_fn)(const dm_app *app, dm_db *db, const char *bearer, dm_principal *out,
                                  dm_err_t *err);

struct dm_server {
    uv_loop_t        *loop;
    const dm_config  *cfg;        /* borrowed: the server.* limits */
    const dm_app     *app;        /* borrowed: handed to every request */
    dm_router         router;
    dm_pool          *pool;       /* database and plugin work */
    dm_pool          *hash_pool;  /* DM_ROUTE_HASH routes (logins, passwords) */
    dm_pool          *remote_pool; /* DM_ROUTE_REMOTE routes (gateways, runtime) */
    dm_metrics        metrics;    /* loop-thread counters */
    /* Checks DM_ROUTE_AUTH/ADMIN requests; set by main. NULL: such routes
     * answer 500. */
    dm_authenticate_fn authenticate;
    char             *openapi_json; /* owned; served at /openapi.json */
    size_t            openapi_len;
    uv_tcp_t          listener;
    uv_signal_t       sigterm, sigint;
    uv_signal_t       sighup;     /* logged, never fatal (on_sighup) */
    uv_timer_t        drain_timer;
    uv_timer_t        trim_timer; /* returns freed memory after closes (server.c) */
    int               closed_since_trim;
    bool              draining;
    uint64_t          drain_started_ns; /* monotonic, when draining began */
    struct dm_conn   *conns;      /* intrusive list of open connections */
    int               n_conns;
    /* WebSocket frames wait for the end of the loop iteration and leave
     * with one write per connection (http/ws.c owns the list). */
    struct dm_ws     *ws_dirty;   /* WebSockets with frames waiting */
    uv_check_t        ws_flusher; /* writes them after the iteration's I/O */
    uv_idle_t         ws_wake;    /* active while some wait: the loop does not block */
    /* Called first when draining starts (loop thread): owners of long-lived
     * exchanges (long polls, sockets) end them so connections can close. */
    struct dm_drain_hook {
        void (*fn)(void *ctx);
        void  *ctx;
    } drain_hooks[4];
    int               n_drain_hooks;
};

/* Bind, listen and install signal handlers. 0 or DM_EIO with a message. */
int  dm__server_start(dm_server *s, dm_err_t *err);
/* Begin graceful shutdown: stop accepting, close idle connections, let
 * in-flight requests finish (bounded by cfg->shutdown_grace_ms). */
void dm__server_drain(dm_server *s);

/* Call fn(ctx) on the loop when draining starts, before connections are
 * shut down. Before serving. 0, or DM_ENOMEM when the hooks are full. */
int  dm__server_on_drain(dm_server *s, void (*fn)(void *ctx), void *ctx);

/* Called by conn.c (loop thread). */
void dm__server_conn_opened(dm_server *s, struct dm_conn *c);
void dm__server_conn_closed(dm_server *s, struct dm_conn *c);

#endif
