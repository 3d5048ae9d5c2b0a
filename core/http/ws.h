/*
 * ws.h — WebSocket (RFC 6455) connections, beside SSE. A loop route upgrades
 * its GET request with dm__ws_upgrade; once the 101 is written the connection
 * belongs to a dm_ws, which parses frames (http/ws_frame.h), answers pings,
 * runs the close handshake and the idle timeout, and calls its owner's
 * handler. Everything runs on the loop thread; a WebSocket never holds a
 * pool worker. docs/architecture.md, "WebSocket", has the whole story.
 */
#ifndef DM_WS_H
#define DM_WS_H

#include <stdbool.h>
#include <stddef.h>

#include <dermaga/error.h>

#include "http/request.h"
#include "util/rbuf.h"

typedef struct dm_ws dm_ws;

typedef struct dm_ws_limits {
    size_t max_message;     /* bytes of one reassembled message; beyond: close 1009 */
    int    idle_timeout_ms; /* nothing received (not even a pong) this long: close (1001 going away); 0 = none */
} dm_ws_limits;

typedef struct dm_ws_handler {
    /* A complete message; a text one is valid UTF-8. data is valid during the call only. Loop thread. */
    void (*on_message)(dm_ws *ws, void *ctx, bool binary, const char *data, size_t len);
    /* The WebSocket is over (close handshake done, protocol error, peer vanished, server draining):
     * code is the close code (1006 when none was exchanged). ws is freed right after this returns;
     * no dm__ws_* call on it from here on. Loop thread. */
    void (*on_close)(dm_ws *ws, void *ctx, int code);
    /* Optional (may be NULL): the bytes queued for writing fell below the low-water mark after
     * having been above it. Loop thread. */
    void (*on_drain)(dm_ws *ws, void *ctx);
} dm_ws_handler;

/*
 * In a loop-thread route handler (DM_ROUTE_LOOP) of a GET request: check the
 * upgrade (GET, HTTP/1.1, Upgrade: websocket, Connection containing
 * "upgrade", Sec-WebSocket-Version: 13, a Sec-WebSocket-Key of 16
 * base64-decoded bytes, and an Origin, when present, allowed by
 * server.corsOrigins), answer 101 Switching Protocols with
 * Sec-WebSocket-Accept, and once those bytes are written the connection
 * belongs to a dm_ws that calls h with ctx (h and ctx borrowed until
 * on_close). Requests pipelined after the upgrade request are refused
 * (connection closes). On a bad upgrade: sets the response (400, 403 for an
 * Origin not allowed, 426 with Sec-WebSocket-Version: 13 for another
 * version) and returns NULL. lim NULL = the configured defaults.
 *
 * The dm_ws returned is usable at once (dm__ws_send queues behind the 101).
 * If the 101 never goes out (the client leaves first, the server drains, the
 * handler replaces the response) on_close follows with 1006. on_close is
 * never called from inside a dm__ws_* call or a handler callback: it comes
 * from the loop once the connection is closed.
 */
dm_ws *dm__ws_upgrade(dm_request *r, const dm_ws_handler *h, void *ctx, const dm_ws_limits *lim);

/* Queue one message (copied) / one shared pre-built frame (ref taken). Loop thread.
 * 0; DM_ECONFLICT when the WebSocket is closing; DM_ENOMEM.
 * A text message must be valid UTF-8 (not checked). When more than
 * server.wsMaxBufferedBytes would be queued (a client that does not read),
 * the connection is dropped without a close frame, which could never reach
 * it, and on_close follows with 1008; this send returns DM_ECONFLICT. */
int dm__ws_send(dm_ws *ws, bool binary, const char *data, size_t len);
/* A complete unmasked server frame for a text message (header + payload), to send the same bytes to
 * many WebSockets with dm__ws_send_frame. New (one reference), NULL when out of memory. Any thread. */
dm_rbuf *dm__ws_frame_text(const char *data, size_t len);
/* frame NULL (a failed dm__ws_frame_text) is DM_ENOMEM. */
int dm__ws_send_frame(dm_ws *ws, dm_rbuf *frame);
/* Bytes queued for the socket and not yet written (for back-pressure). on_drain is called when
 * this, having passed a quarter of server.wsMaxBufferedBytes, falls below a sixteenth. */
size_t dm__ws_buffered(const dm_ws *ws);
/* Start the close handshake with code and reason (≤ 123 bytes, UTF-8); on_close follows. Idempotent.
 * A code a peer could not accept (1005, 1006, outside 1000-1014 and 3000-4999) is sent as 1011;
 * a reason that is not UTF-8 is left out. */
void dm__ws_close(dm_ws *ws, int code, const char *reason);
/* The peer's address text (borrowed). */
const char *dm__ws_peer(const dm_ws *ws);

/* ---- for conn.c and ops/ (loop thread) ---- */

struct dm_conn;

/* Release a WebSocket whose 101 was never written (request freed): on_close(1006). */
void dm__ws_discard(dm_ws *ws);
/* The 101 is queued on c: the WebSocket owns the connection from now on. */
void dm__ws_attach(dm_ws *ws, struct dm_conn *c);
/* Bytes read from the connection (borrowed for the call). */
void dm__ws_input(dm_ws *ws, const char *data, size_t len);
/* The peer half-closed. */
void dm__ws_eof(dm_ws *ws);
/* A write of the connection completed. */
void dm__ws_written(dm_ws *ws);
/* Start s's flusher (dm__server_start): frames queued during a loop
 * iteration leave at its end, one write per WebSocket. */
void dm__ws_flusher_init(dm_server *s);
/* Our write side is shut down (after the close frame). */
void dm__ws_fin_sent(dm_ws *ws);
/* The connection's timer fired. */
void dm__ws_timeout(dm_ws *ws);
/* The server drains: close with 1001 (graceful) or drop now. */
void dm__ws_shutdown(dm_ws *ws, bool graceful);
/* The connection is closing: nothing more is written. */
void dm__ws_detach(dm_ws *ws);
/* The connection's handles are closed: on_close, then ws is freed. */
void dm__ws_finish(dm_ws *ws);

#endif
