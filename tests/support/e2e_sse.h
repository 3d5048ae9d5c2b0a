/*
 * e2e_sse.h — a client for Server-Sent Events in end-to-end tests, on the
 * raw connections of e2e.h: open a stream (the response head only; the
 * body is close-delimited and never ends by itself), then read it one event
 * at a time with bounded waits, seeing comments, event types and data
 * exactly as sent.
 */
#ifndef DM_E2E_SSE_H
#define DM_E2E_SSE_H

#include <stdbool.h>

#include "e2e.h"

/*
 * Connect to 127.0.0.1:port, send `GET path` (with `Authorization: Bearer
 * token` unless token is NULL) and read the response head within
 * timeout_ms. When the response has a Content-Length (an error answer) its
 * body is read too and res is the whole response; otherwise (a stream) res
 * holds the head with an empty body and the bytes after the head stay in
 * c->buf for dm_e2e_sse_next. 0 with c open and res filled (free both), or
 * a DM_E2E_* code with c closed and res empty.
 */
int dm_e2e_sse_open(dm_e2e_conn *c, int port, const char *path, const char *token, dm_e2e_response *res,
                    int timeout_ms);

/* The same with more request headers: extra (may be NULL) is header
 * lines, each ending in "\r\n" (e.g. "Last-Event-ID: 41\r\n"). */
int dm_e2e_sse_open_with(dm_e2e_conn *c, int port, const char *path, const char *token, const char *extra,
                         dm_e2e_response *res, int timeout_ms);

/* Wait up to timeout_ms until c->buf holds at least n bytes or the server
 * closed: 0 when it holds them, DM_E2E_CLOSED, DM_E2E_TIMEOUT, DM_E2E_SYS.
 * For checking a stream's bytes exactly (e.g. how its body starts). */
int dm_e2e_sse_wait_bytes(dm_e2e_conn *c, size_t n, int timeout_ms);

/* One event block (the lines up to a blank line). */
typedef struct dm_e2e_sse_event {
    char *event;   /* the `event:` field; "" when absent (the default type) */
    char *id;      /* the `id:` field; NULL when absent */
    char *data;    /* the `data:` lines joined with "\n"; NULL when none */
    int   n_data;  /* how many `data:` lines */
    char *comment; /* the comment lines (":" then text, one leading space
                    * dropped) joined with "\n"; NULL when none */
} dm_e2e_sse_event;

/*
 * Read the next event block within timeout_ms; every line must end in "\n"
 * and be a comment or an `id:`, `event:` or `data:` field (a `retry:`
 * field is accepted and ignored). 0 and *ev filled (free it), or
 * DM_E2E_TIMEOUT (no complete block yet; the partial one stays buffered),
 * DM_E2E_CLOSED (the server closed; c->buf holds any partial bytes),
 * DM_E2E_PROTO (a line that is none of those; ev->comment then holds it),
 * DM_E2E_SYS.
 */
int dm_e2e_sse_next(dm_e2e_conn *c, dm_e2e_sse_event *ev, int timeout_ms);

void dm_e2e_sse_event_free(dm_e2e_sse_event *ev);

/* A one-line description of ev for assert messages ("event=x data=…");
 * static buffer, overwritten by the next call. */
const char *dm_e2e_sse_describe(const dm_e2e_sse_event *ev);

#endif
