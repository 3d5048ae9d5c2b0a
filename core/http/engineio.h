/*
 * engineio.h — an Engine.IO v4 server at /socket.io/: sessions opened by
 * HTTP long-polling or directly over a WebSocket, the upgrade from polling
 * to WebSocket (probe, upgrade packet, nothing lost), the heartbeat (the
 * server pings every pingInterval; no pong within pingTimeout closes the
 * session), and message packets handed to one handler (the Socket.IO layer,
 * socketio.h). Everything runs on the loop thread: a session never holds a
 * pool worker, and a long poll is a request answered later
 * (dm__req_defer).
 *
 * A polling session belongs to the address that opened it: a request with
 * its sid from another address is refused like an unknown sid.
 */
#ifndef DM_ENGINEIO_H
#define DM_ENGINEIO_H

#include <stdbool.h>
#include <stddef.h>

#include "util/rbuf.h"

typedef struct dm_server dm_server; /* http/server.h */
typedef struct dm_router dm_router; /* http/router.h */

typedef struct dm_eio dm_eio;
typedef struct dm_eio_session dm_eio_session;

typedef struct dm_eio_cfg {
    int    ping_interval_ms; /* the heartbeat: a ping this often */
    int    ping_timeout_ms;  /* no pong this long after a ping: closed */
    size_t max_payload;      /* bytes of one POST body or WebSocket message */
    int    max_sessions;     /* open at once; more are refused with 503 */
    size_t max_buffered;     /* bytes queued for one session before it is closed as too slow */
} dm_eio_cfg;

typedef struct dm_eio_handler {
    /* A session is open (its transport can carry messages). Loop thread. */
    void (*on_open)(dm_eio_session *s, void *ctx);
    /* A message packet's data (without the "4"); valid during the call. */
    void (*on_message)(dm_eio_session *s, void *ctx, const char *data, size_t len);
    /* The session's transport can take more (its buffer drained). May be NULL. */
    void (*on_drain)(dm_eio_session *s, void *ctx);
    /* The session is over (reason: "transport close", "ping timeout",
     * "forced close", "server shutting down", "transport error"); s is freed
     * after this returns and no dm__eio_* call on it is allowed from here. */
    void (*on_close)(dm_eio_session *s, void *ctx, const char *reason);
} dm_eio_handler;

/* The endpoint of server s (borrowed; must outlive it), calling h with ctx
 * (borrowed). New, or NULL when out of memory. Call before serving. */
dm_eio *dm__eio_new(dm_server *s, const dm_eio_cfg *cfg, const dm_eio_handler *h, void *ctx);

/* Register GET and POST /socket.io/ (loop routes). 0 or a router error. */
int dm__eio_routes_add(dm_router *rt, dm_eio *e);

/* Close every session (the server is draining): their transports end and
 * on_close runs. Loop thread. */
void dm__eio_close_all(dm_eio *e, const char *reason);

/* After the loop has stopped: free what is left. NULL-safe. */
void dm__eio_free(dm_eio *e);

/* Sessions open now. */
int dm__eio_session_count(const dm_eio *e);

/* Send one message packet: msg is the packet text, "4" followed by the
 * data (a reference is taken). ws_frame (may be NULL) is the same text
 * already framed for WebSocket (dm__ws_frame_text), shared by many
 * sessions. 0; DM_ECONFLICT when the session is closing; DM_ENOMEM. */
int dm__eio_send_packet(dm_eio_session *s, dm_rbuf *msg, dm_rbuf *ws_frame);

/* The same for data (copied): "4" is prefixed. */
int dm__eio_send(dm_eio_session *s, const char *data, size_t len);

/* Bytes queued for the session and not yet on the wire. */
size_t dm__eio_buffered(const dm_eio_session *s);

/* Close the session from the server side; on_close follows at once. */
void dm__eio_close(dm_eio_session *s);

/* Its sid, and the address that opened it (borrowed, live as long as s). */
const char *dm__eio_sid(const dm_eio_session *s);
const char *dm__eio_peer(const dm_eio_session *s);

/* One pointer the handler keeps with the session. */
void  dm__eio_set_data(dm_eio_session *s, void *data);
void *dm__eio_data(const dm_eio_session *s);

#endif
