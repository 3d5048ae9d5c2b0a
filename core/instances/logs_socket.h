/*
 * logs_socket.h — the live-log endpoint for browsers and socket.io-client:
 * Socket.IO at /socket.io/ with the namespace /k8s-logs
 * (logs_socket_routes.c). One per process: main starts it before the
 * routes are registered and frees it after the loop has stopped.
 */
#ifndef DM_LOGS_SOCKET_H
#define DM_LOGS_SOCKET_H

#include <dermaga/error.h>

#include "app/app.h"

typedef struct dm_server dm_server; /* http/server.h */
typedef struct dm_router dm_router; /* http/router.h */

/* Set up Socket.IO on srv (borrowed) for app (borrowed; app->logs is the
 * hub the namespace subscribes to) with the socketio.* settings; its
 * sessions end when srv drains. 0 or DM_ENOMEM. Main thread, before
 * serving. Its sessions and sockets join /metrics. */
int dm__logs_socket_start(dm_server *srv, const dm_app *app, dm_err_t *err);

/* Register GET and POST /socket.io/ (answering 503-like errors when the
 * endpoint was not started, as in tools that only list routes). */
int dm__logs_socket_routes_add(dm_router *rt);

/* After the loop has stopped. */
void dm__logs_socket_free(void);

#endif
