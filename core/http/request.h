/*
 * request.h — one HTTP request and the response being built for it.
 * A request lives in its connection's pipeline queue; all its memory comes
 * from req->arena and is freed with it. Handlers read the request and fill
 * req->res through the dm__res_* functions (response.h). Pool handlers run
 * on a worker thread: they may use req->db and must not touch the loop.
 */
#ifndef DM_REQUEST_H
#define DM_REQUEST_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "app/principal.h"
#include "util/arena.h"
#include "util/buf.h"

#define DM_MAX_PARAMS 8

typedef struct dm_header {
    const char *name;  /* arena; as received */
    const char *value; /* arena; leading/trailing blanks trimmed */
} dm_header;

typedef struct dm_param {
    const char *name;  /* borrowed from the route pattern */
    const char *value; /* arena; percent-decoded */
} dm_param;

typedef struct dm_response {
    int      status;       /* 0 until a handler or middleware sets it */
    dm_buf   headers;      /* extra "Name: value\r\n" lines */
    dm_buf   body;
    const char *content_type; /* static or arena */
    struct dm_sse *sse;    /* owned: the body is this event stream (http/sse.h) */
    struct dm_ws  *ws;     /* owned: a 101 that makes the connection this
                              WebSocket's (http/ws.h) */
} dm_response;

typedef struct dm_db dm_db;           /* db/pg.h */
typedef struct dm_route dm_route;     /* http/router.h */
typedef struct dm_conn dm_conn;       /* http/conn.c */
typedef struct dm_server dm_server;   /* http/server.h */
typedef struct dm_app dm_app;         /* app/app.h */

typedef struct dm_request {
    dm_arena     arena;
    /* request line */
    const char  *method;     /* "GET", … */
    const char  *target;     /* raw request-target */
    const char  *path;       /* target before '?', not decoded */
    const char  *query;      /* after '?', or "" */
    int          http_minor; /* 0 or 1 */
    bool         keep_alive;
    /* headers */
    dm_header   *headers;    /* arena array of n_headers */
    int          n_headers;
    /* body (already complete when a handler runs) */
    char        *body;       /* arena, NUL-terminated; NULL if none */
    size_t       body_len;
    size_t       body_cap;   /* bytes body can hold before the NUL (conn.c) */
    json_t      *json;       /* parsed body for DM_ROUTE_JSON routes; owned, freed with req */
    /* routing */
    const dm_route *route;
    const char  *pattern;    /* route pattern for logs and metrics, or "unmatched" */
    dm_param     params[DM_MAX_PARAMS];
    int          n_params;
    /* middleware */
    char         request_id[64];
    const char  *peer_ip;    /* the TCP peer's address as text (borrowed from conn): a
                                proxy's, behind one. Who the client is, for logs,
                                throttling and audit, is dm__req_client_ip. */
    char         client_ip[46]; /* dm__req_resolve_client's answer, or "" before it */
    char         client_proto[6]; /* "http"/"https" as a trusted proxy said, or "" */
    dm_principal principal;
    const char  *idem_key;   /* Idempotency-Key claimed for this request (arena), or NULL;
                                its transaction is open on db while it is set */
    bool         idem_durable; /* the claim was committed early (dm__idem_checkpoint) */
    const char  *origin;     /* allowed CORS origin to echo, or NULL */
    uint64_t     start_ns;
    /* execution */
    dm_db       *db;         /* set only while a pool handler runs */
    const dm_app *app;       /* the application: config, plugins, keys, jobs */
    dm_server   *server;     /* the transport; only http/ and ops/ look inside */
    dm_response  res;
    /* internal to conn.c */
    dm_conn     *conn;
    struct dm_request *next; /* pipeline queue */
    bool         done;       /* response ready to write */
    bool         close_after;/* close the connection after this response */
    bool         expect_continue; /* owes a 100 Continue before its body */
    bool         deferred;   /* a loop handler answers later (dm__req_defer) */
    void       (*on_abort)(struct dm_request *r); /* the deferred request's connection is closing */
} dm_request;

/* Case-insensitive header lookup; borrowed value or NULL. */
const char *dm__req_header(const dm_request *req, const char *name);
/* Path parameter by name; borrowed value or NULL. */
const char *dm__req_param(const dm_request *req, const char *name);
/* Decoded query parameter into arena memory; NULL when absent. */
const char *dm__req_query(dm_request *req, const char *name);
/* The (decoded) name of the first query parameter whose name or value is
 * not well-formed percent-encoded UTF-8, "(query)" when a name itself is
 * not, or NULL when every one is (arena memory). */
const char *dm__req_query_invalid(dm_request *req);


/* Work out who the client is from the peer and, when the peer is a trusted
 * proxy (server.trustedProxies), its forwarding headers (http/forwarded.h).
 * Dispatch calls it before anything reads the answer; again is a no-op. */
void dm__req_resolve_client(dm_request *req);
/* The client's address as text (borrowed from req): the one accessor for
 * logs, throttling, audit records and session bookkeeping. The peer's
 * as it is before dm__req_resolve_client has run. */
const char *dm__req_client_ip(const dm_request *req); /* never NULL */
/* The scheme the client used, "http" or "https", when a trusted proxy said
 * it (X-Forwarded-Proto or Forwarded proto=); NULL when nobody trusted did
 * (the connection itself is plain HTTP, but a proxy in front may end TLS). */
const char *dm__req_forwarded_proto(const dm_request *req);

#endif
