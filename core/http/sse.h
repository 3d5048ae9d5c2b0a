/*
 * sse.h — responses that are Server-Sent Event streams. A handler (on a
 * pool worker) makes a dm_sse with a producer function and hands it to the
 * response; once the headers are on the wire the connection belongs to the
 * stream: the producer runs on a thread of its own (it may block, e.g. in a
 * runtime plugin's log follow), its events travel to the loop through a
 * uv_async, and the loop writes them. The client leaving, the server
 * draining or the producer returning ends the stream.
 */
#ifndef DM_SSE_H
#define DM_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include <dermaga/error.h>

#include "http/request.h"

typedef struct dm_sse dm_sse;

/* The producer: runs on the stream's thread, sends with dm__sse_send and
 * returns when it has nothing more (or dm__sse_cancelled says stop; it
 * must look at least once a second). arg is the one given to dm__sse_new. */
typedef void (*dm_sse_produce_fn)(dm_sse *s, void *arg);

/*
 * A stream that will run produce(s, arg) once its headers are written;
 * free_arg (may be NULL) releases arg when the stream is done with it.
 * name (copied) is for logs ("log stream <id>"). max_streams bounds the
 * streams open in the process at once. Returns new (owned by the response
 * after dm__res_sse, else dm__sse_discard it), or NULL with err: DM_EBUSY
 * when max_streams are open, DM_ENOMEM. On NULL, arg is not freed.
 */
dm_sse *dm__sse_new(const char *name, dm_sse_produce_fn produce, void *arg, void (*free_arg)(void *),
                    int max_streams, dm_err_t *err);

/* Release a stream that was never handed to a response (worker or loop). */
void dm__sse_discard(dm_sse *s);

/* Make r's response the stream s (stolen): 200 text/event-stream, no
 * Content-Length, the connection closes when the stream ends. */
void dm__res_sse(dm_request *r, dm_sse *s);

/*
 * Producer side (the stream's thread). Queue one event: "event: <event>"
 * when event is not NULL, then "data: <data>" (data must hold no newline;
 * NULL sends a comment line ": <event>" instead). Blocks while more than
 * 1 MiB waits to be written (a slow client; one that takes nothing for
 * 60 s is dropped), waking once a second to look
 * at cancellation. Returns 0, or DM_ECONFLICT when the stream is over
 * (the client left or the server is draining): the producer should return;
 * DM_ENOMEM.
 */
int dm__sse_send(dm_sse *s, const char *event, const char *data);

/* True once the stream is over for whatever reason. Any thread. */
bool dm__sse_cancelled(dm_sse *s);

/* ---- for conn.c and main.c (loop thread unless said) ---- */

struct dm_conn;

/* The headers of r's stream are queued on c: start the keep-alive timer
 * and the producer thread. On failure the connection is closed. */
void dm__sse_attach(dm_sse *s, struct dm_conn *c);
/* The connection is closing: the stream is cancelled and forgets it. */
void dm__sse_detach(dm_sse *s);
/* A write of the stream completed: more may be written now. */
void dm__sse_drained(dm_sse *s);

/* Streams open now (any thread). */
int dm__sse_open_count(void);

/*
 * At shutdown, after the loop has stopped: cancel every stream and wait up
 * to timeout_ms for their producer threads to return (so no thread is
 * inside a plugin when plugins are unloaded). 0, or DM_ETIMEDOUT.
 */
int dm__sse_shutdown(int timeout_ms);

#endif
