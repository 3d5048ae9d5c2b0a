/*
 * router.h — method + path pattern routing with :params.
 * Routes are registered at start-up (before the loop runs) and read-only
 * afterwards. A pattern is a sequence of literal segments and ":name"
 * segments; a trailing "*" segment matches the rest of the path.
 */
#ifndef DM_ROUTER_H
#define DM_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "http/request.h"

typedef void (*dm_handler_fn)(dm_request *req);

enum {
    DM_ROUTE_LOOP = 0,      /* runs on the loop thread: must not block */
    DM_ROUTE_POOL = 1 << 0, /* runs on a worker thread with req->db */
    DM_ROUTE_JSON = 1 << 1, /* requires a JSON body (415/400 otherwise) */
    DM_ROUTE_HASH = 1 << 2, /* with DM_ROUTE_POOL: runs on the small hashing
                               pool, so password hashing (argon2id, ~19 MiB
                               and tens of ms each) can never take every
                               worker from ordinary requests */
    DM_ROUTE_AUTH = 1 << 3, /* with DM_ROUTE_POOL: a valid access token of a
                               live session of an active user (401) */
    DM_ROUTE_ADMIN = 1 << 4, /* DM_ROUTE_AUTH and role ADMINISTRATOR (403) */
    DM_ROUTE_IDEMPOTENT = 1 << 5, /* with DM_ROUTE_AUTH or DM_ROUTE_ADMIN: honours
                                     Idempotency-Key (http/idempotency.h) */
    DM_ROUTE_REMOTE = 1 << 6, /* with DM_ROUTE_POOL: runs on the remote-call
                                 pool, because the handler waits on a payment
                                 gateway or the container runtime (bounded by
                                 plugins.*TimeoutMs, but seconds long), which
                                 must never hold the database workers */
};

struct dm_route {
    const char   *method;
    const char   *pattern;
    dm_handler_fn handler;
    unsigned      flags;
    /* compiled form, filled by dm__router_add */
    char        **segments;
    int           n_segments;
};

typedef struct dm_router {
    struct dm_route *routes;
    size_t           n_routes;
    size_t           cap;
} dm_router;

void dm__router_init(dm_router *r);
void dm__router_free(dm_router *r);
/* Register a route; method and pattern are copied. 0, DM_EINVAL, DM_ENOMEM. */
int  dm__router_add(dm_router *r, const char *method, const char *pattern,
                    dm_handler_fn handler, unsigned flags);

typedef enum { DM_MATCH_OK, DM_MATCH_NOT_FOUND, DM_MATCH_METHOD } dm_match_t;

/*
 * Match req->method and req->path. On DM_MATCH_OK sets req->route, pattern
 * and params (values in req->arena). On DM_MATCH_METHOD writes the allowed
 * methods, comma-separated, into allow (always NUL-terminated).
 * A path whose percent-encoding is malformed is DM_MATCH_NOT_FOUND.
 */
dm_match_t dm__router_match(const dm_router *r, dm_request *req, char *allow, size_t allow_len);

#endif
