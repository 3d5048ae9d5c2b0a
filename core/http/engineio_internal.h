/*
 * engineio_internal.h — what engineio.c (sessions, queues, heartbeat) and
 * engineio_transport.c (the HTTP long-polling and WebSocket transports)
 * share. Loop thread only.
 */
#ifndef DM_ENGINEIO_INTERNAL_H
#define DM_ENGINEIO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "http/engineio.h"
#include "http/request.h"
#include "http/ws.h"

#define DM_EIO_SID_LEN  20   /* base64url of 15 random bytes */
#define DM_EIO_BUCKETS  1024 /* sid hash table */
#define DM_EIO_SEPARATOR '\x1e'

struct dm_eio_session {
    dm_eio         *eio;
    char            sid[DM_EIO_SID_LEN + 1];
    char            peer[46];
    bool            websocket;     /* the transport is ws (else polling) */
    bool            closed;        /* on_close ran: only waiting to be freed */
    bool            timer_open;    /* the heartbeat timer's handle is not closed yet */
    bool            awaiting_pong; /* a ping went out; the timer is the pong deadline */
    dm_ws          *ws;            /* the transport's WebSocket */
    dm_ws          *probe;         /* a WebSocket probing an upgrade */
    bool            probed;        /* "3probe" sent: "5" may follow */
    dm_request     *poll;          /* the long poll waiting for packets */
    dm_rbuf       **q;             /* packets waiting for the next poll, FIFO */
    size_t          qhead, qlen, qcap;
    size_t          qbytes;
    uv_timer_t      timer;         /* ping interval, then pong deadline */
    void           *data;          /* the handler's */
    dm_eio_session *hnext;         /* sid bucket */
};

struct dm_eio {
    dm_server        *server;
    dm_eio_cfg        cfg;
    dm_eio_handler    h;
    void             *ctx;
    dm_eio_session   *buckets[DM_EIO_BUCKETS];
    int               n_sessions;
    char              open_tail[160]; /* the handshake's fixed fields after the sid */
};

/* ---- engineio.c, for the transports ---- */

/* A new polling or WebSocket session for peer (copied), registered and
 * with its heartbeat started; NULL when out of memory. */
dm_eio_session *dm__eio_session_new(dm_eio *e, const char *peer, bool websocket);
/* Drop a session that was never announced (no on_open): no on_close. */
void dm__eio_session_discard(dm_eio_session *s);
/* The open packet of s: "0{...}" (upgrades offered only to polling). New. */
dm_rbuf *dm__eio_open_packet(const dm_eio_session *s);
/* The session of sid, or NULL. */
dm_eio_session *dm__eio_find(dm_eio *e, const char *sid);
/* One packet received on any transport (text without framing). false when
 * it was a protocol error (the session is closed then). */
bool dm__eio_receive(dm_eio_session *s, const char *pkt, size_t len);
/* Close s with reason: on_close, a close packet to whatever transport is
 * left, and freed once its handles are gone. Idempotent. */
void dm__eio_session_close(dm_eio_session *s, const char *reason);
/* A transport WebSocket (or probe) of s is gone: forget it; s may be freed. */
void dm__eio_ws_gone(dm_eio_session *s, dm_ws *ws);
/* Set r's response to what s has queued (as much as one response may
 * carry), or a noop packet when nothing is queued. */
void dm__eio_answer_poll(dm_eio_session *s, dm_request *r, bool noop);
/* Answer the pending poll of s with what is queued (or a noop when
 * nothing is and noop is true) and send it; no-op without a pending
 * poll. Never from the poll's own handler (dm__req_resume). */
void dm__eio_flush_poll(dm_eio_session *s, bool noop);
/* Move s onto its probe WebSocket and send it everything queued. */
void dm__eio_upgrade(dm_eio_session *s);

#endif
