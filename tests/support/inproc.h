/*
 * inproc.h — an in-process dm_server on a free loopback port whose loop runs
 * on the caller's thread: a test or fuzz harness turns the loop between its
 * own socket calls, so every step happens in a known order and the server's
 * state (connections, WebSockets, counters) can be looked at directly.
 * Needs only dermaga_core (no Check), so fuzz harnesses build it in too.
 */
#ifndef DM_INPROC_H
#define DM_INPROC_H

#include <stdbool.h>
#include <stddef.h>

#include <netinet/in.h>
#include <uv.h>

#include "app/config.h"
#include "http/router.h"
#include "http/server.h"

typedef struct dm_inproc {
    uv_loop_t          loop;
    dm_config          cfg;
    dm_server          s;
    struct sockaddr_in addr; /* where it listens */
    bool               started;
} dm_inproc;

/*
 * Load config_json (no environment; the port is replaced by a free one),
 * register the routes add_routes adds, start a one-worker pool and listen.
 * SIGINT and SIGTERM are left to the caller. 0, or -1 with why in err.
 */
int  dm_inproc_start(dm_inproc *p, const char *config_json, int (*add_routes)(dm_router *rt),
                     char *err, size_t err_len);
/* Close every connection (their owners hear of it), stop the pool, close
 * the loop and free everything. Idempotent. */
void dm_inproc_free(dm_inproc *p);

/* Wait at most max_ms (less when a timer of the loop is due) until the
 * loop or fd (ignored when < 0; readable, or writable when want_write) has
 * something to do, then run the loop once without blocking. */
void dm_inproc_step(dm_inproc *p, int fd, bool want_write, int max_ms);

/* The server's end of the client socket fd (a connection of p), or NULL. */
struct dm_conn *dm_inproc_conn_of(dm_inproc *p, int fd);

#endif
