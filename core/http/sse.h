/*
 * sse.h — responses that are Server-Sent Event streams, fed on the loop.
 * A handler (on a pool worker) makes a dm_sse naming its owner and hands it
 * to the response; once the headers are queued the connection belongs to
 * the stream and the owner is told to start. From then on, on the loop
 * thread, the owner queues events; the stream writes what was queued once
 * per loop iteration, in one write (one at a time), sharing the bytes of
 * dm_rbuf events with every other stream that carries them. What waits for
 * a slow client is bounded: past the bound an event is refused and the
 * owner hears drained() once half of it is free again. The stream knows
 * nothing of what it carries.
 */
#ifndef DM_SSE_H
#define DM_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include <dermaga/error.h>

#include "http/request.h"
#include "util/rbuf.h"

typedef struct dm_sse dm_sse;

/* Who feeds a stream. Every callback runs on the loop thread, never from
 * inside a dm__sse_* call. */
typedef struct dm_sse_owner {
    void *ctx;
    /* The headers are queued: feed s from now on. */
    void (*start)(void *ctx, dm_sse *s);
    /* An event was refused for want of room; now half the queue is free. */
    void (*drained)(void *ctx);
    /* The stream is over (the client left, the server is draining, or what
     * dm__sse_end waited for is written) or never started: stop feeding,
     * release ctx. Called exactly once; no other call follows. For a stream
     * that never started, on the thread that discarded it. */
    void (*close)(void *ctx);
} dm_sse_owner;

/*
 * A stream for owner (copied; ctx borrowed until close). name (copied) is
 * for logs ("log stream <id>"). At most queue_max bytes of events wait for
 * the client's socket, queued here or not yet taken by the kernel from the
 * write under way (at least one event always fits). max_streams bounds the
 * streams open in the process at once. Any thread. New (owned by the
 * response after dm__res_sse, else dm__sse_discard it), or NULL with err:
 * DM_EBUSY when max_streams are open, DM_ENOMEM. On NULL, close is not called.
 */
dm_sse *dm__sse_new(const char *name, const dm_sse_owner *owner, size_t queue_max, int max_streams, dm_err_t *err);

/* Release a stream that was never handed to a response, or whose
 * response was never written (any thread): the owner's close runs. */
void dm__sse_discard(dm_sse *s);

/* Make r's response the stream s (stolen): 200 text/event-stream, no
 * Content-Length, the connection closes when the stream ends. */
void dm__res_sse(dm_request *r, dm_sse *s);

/*
 * Owner side (loop thread, between start and close). Queue one event of
 * the default type, "id: <id>" first unless id is 0, then "data: <data>"
 * (data holds no newline; a reference is taken). 0; DM_EBUSY when the
 * queue is full (the owner hears drained() later); DM_ECONFLICT once the
 * stream is ending; DM_ENOMEM.
 */
int dm__sse_push(dm_sse *s, uint64_t id, dm_rbuf *data);

/* Queue "event: <event>" and "data: <data>" (both copied; no newline in
 * either), whatever room is left: for the few events that end a stream.
 * 0, DM_ECONFLICT once ending, DM_ENOMEM. */
int dm__sse_send(dm_sse *s, const char *event, const char *data);

/* Close the connection once everything queued is written. */
void dm__sse_end(dm_sse *s);

/* ---- for conn.c and main.c (loop thread unless said) ---- */

struct dm_conn;

/* Flush streams once per loop iteration on loop (main, before serving) /
 * stop doing so (main, at shutdown). 0 or a uv error. */
int  dm__sse_start(uv_loop_t *loop);
void dm__sse_stop(void);

/* The headers of r's stream are queued on c: the stream owns the
 * connection now; its owner starts. */
void dm__sse_attach(dm_sse *s, struct dm_conn *c);
/* The connection is closing: the stream is over. */
void dm__sse_detach(dm_sse *s);

/* Streams open now (any thread). */
int dm__sse_open_count(void);

#endif
