/*
 * engineio.c — Engine.IO sessions (engineio.h): the sid table, the queue of
 * packets a long poll takes, the heartbeat, receiving packets from either
 * transport, and closing. The HTTP side of the transports is
 * engineio_transport.c.
 */
#include "http/engineio_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dermaga/error.h>

#include "http/dispatch.h"
#include "http/response.h"
#include "http/server.h"
#include "util/clock.h"
#include "util/log.h"

/* ---- the sid table ------------------------------------------------------- */

static unsigned bucket_of(const char *sid)
{
    unsigned h = 2166136261u; /* FNV-1a: sids are random already */
    for (const unsigned char *p = (const unsigned char *)sid; *p != '\0'; p++)
        h = (h ^ *p) * 16777619u;
    return h % DM_EIO_BUCKETS;
}

dm_eio_session *dm__eio_find(dm_eio *e, const char *sid)
{
    if (sid == NULL)
        return NULL;
    for (dm_eio_session *s = e->buckets[bucket_of(sid)]; s != NULL; s = s->hnext)
        if (strcmp(s->sid, sid) == 0 && !s->closed)
            return s;
    return NULL;
}

static void unlink_session(dm_eio_session *s)
{
    dm_eio_session **pp = &s->eio->buckets[bucket_of(s->sid)];
    while (*pp != NULL && *pp != s)
        pp = &(*pp)->hnext;
    if (*pp == s) {
        *pp = s->hnext;
        s->eio->n_sessions--;
    }
}

/* 15 random bytes as 20 base64url characters. */
static int new_sid(char out[DM_EIO_SID_LEN + 1])
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[15];
    if (dm__random_bytes(raw, sizeof raw) != 0)
        return DM_EIO;
    for (int i = 0, o = 0; i < 15; i += 3) {
        unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 | raw[i + 2];
        for (int k = 3; k >= 0; k--)
            out[o++] = alphabet[(v >> (6 * k)) & 63];
    }
    out[DM_EIO_SID_LEN] = '\0';
    return 0;
}

/* ---- lifetime ------------------------------------------------------------ */

static void queue_clear(dm_eio_session *s)
{
    for (size_t i = 0; i < s->qlen; i++)
        dm__rbuf_unref(s->q[(s->qhead + i) % s->qcap]);
    s->qhead = s->qlen = s->qbytes = 0;
}

/* Free s once nothing refers to it any more: closed, timer handle closed,
 * no WebSocket that could still call back, no poll owed. */
static void maybe_free(dm_eio_session *s)
{
    if (!s->closed || s->timer_open || s->ws != NULL || s->probe != NULL || s->poll != NULL)
        return;
    queue_clear(s);
    free(s->q);
    free(s);
}

static void on_timer_closed(uv_handle_t *h)
{
    dm_eio_session *s = h->data;
    s->timer_open = false;
    maybe_free(s);
}

static void on_heartbeat(uv_timer_t *t);

static void arm(dm_eio_session *s, int ms)
{
    if (!s->closed)
        uv_timer_start(&s->timer, on_heartbeat, (uint64_t)ms, 0);
}

dm_eio_session *dm__eio_session_new(dm_eio *e, const char *peer, bool websocket)
{
    dm_eio_session *s = calloc(1, sizeof *s);
    if (s == NULL || new_sid(s->sid) != 0) {
        free(s);
        return NULL;
    }
    s->eio = e;
    s->websocket = websocket;
    snprintf(s->peer, sizeof s->peer, "%s", peer != NULL ? peer : "");
    uv_timer_init(e->server->loop, &s->timer);
    s->timer.data = s;
    s->timer_open = true;
    unsigned b = bucket_of(s->sid);
    s->hnext = e->buckets[b];
    e->buckets[b] = s;
    e->n_sessions++;
    arm(s, e->cfg.ping_interval_ms);
    return s;
}

dm_rbuf *dm__eio_open_packet(const dm_eio_session *s)
{
    char text[256];
    int n = snprintf(text, sizeof text, "0{\"sid\":\"%s\",\"upgrades\":%s,%s", s->sid,
                     s->websocket ? "[]" : "[\"websocket\"]", s->eio->open_tail);
    return n > 0 && (size_t)n < sizeof text ? dm__rbuf_new(text, (size_t)n) : NULL;
}

/* ---- sending --------------------------------------------------------------- */

static int enqueue(dm_eio_session *s, dm_rbuf *pkt)
{
    if (s->qlen == s->qcap) {
        size_t cap = s->qcap > 0 ? s->qcap * 2 : 8;
        dm_rbuf **q = malloc(cap * sizeof *q);
        if (q == NULL)
            return DM_ENOMEM;
        for (size_t i = 0; i < s->qlen; i++)
            q[i] = s->q[(s->qhead + i) % s->qcap];
        free(s->q);
        s->q = q;
        s->qcap = cap;
        s->qhead = 0;
    }
    s->q[(s->qhead + s->qlen) % s->qcap] = dm__rbuf_ref(pkt);
    s->qlen++;
    s->qbytes += pkt->len;
    return 0;
}

/* One packet out through the current transport; ws_frame may be NULL. */
static int send_packet(dm_eio_session *s, dm_rbuf *pkt, dm_rbuf *ws_frame)
{
    if (s->websocket && s->ws != NULL) {
        if (ws_frame != NULL)
            return dm__ws_send_frame(s->ws, ws_frame);
        return dm__ws_send(s->ws, false, pkt->data, pkt->len);
    }
    int rc = enqueue(s, pkt);
    if (rc == 0 && !s->closed && s->qbytes > s->eio->cfg.max_buffered) {
        DM_LOG_W("engine.io %s: %zu bytes wait for a poll; closing it as too slow", s->sid, s->qbytes);
        dm__eio_session_close(s, "transport error");
        return DM_ECONFLICT;
    }
    if (rc == 0 && !s->probed)
        dm__eio_flush_poll(s, false); /* paused while an upgrade is being probed */
    return rc;
}

int dm__eio_send_packet(dm_eio_session *s, dm_rbuf *msg, dm_rbuf *ws_frame)
{
    if (s->closed)
        return DM_ECONFLICT;
    return send_packet(s, msg, ws_frame);
}

int dm__eio_send(dm_eio_session *s, const char *data, size_t len)
{
    dm_rbuf *pkt = dm__rbuf_alloc(len + 1);
    if (pkt == NULL)
        return DM_ENOMEM;
    pkt->data[0] = '4';
    memcpy(pkt->data + 1, data, len);
    int rc = dm__eio_send_packet(s, pkt, NULL);
    dm__rbuf_unref(pkt);
    return rc;
}

/* A control packet of one character ("2" ping, "1" close, "6" noop). */
static void send_control(dm_eio_session *s, char type)
{
    dm_rbuf *pkt = dm__rbuf_new(&type, 1);
    if (pkt != NULL)
        send_packet(s, pkt, NULL);
    dm__rbuf_unref(pkt);
}

size_t dm__eio_buffered(const dm_eio_session *s)
{
    if (s->websocket && s->ws != NULL)
        return dm__ws_buffered(s->ws);
    return s->qbytes;
}

void dm__eio_answer_poll(dm_eio_session *s, dm_request *r, bool noop)
{
    dm_buf body;
    dm__buf_init(&body, 0);
    int rc = s->qlen == 0 ? dm__buf_puts(&body, "6") : 0;
    /* As much as one response may carry; the rest waits for the next poll. */
    while (rc == 0 && s->qlen > 0 && (body.len == 0 || body.len + s->q[s->qhead]->len < s->eio->cfg.max_payload)) {
        dm_rbuf *p = s->q[s->qhead];
        if (body.len > 0)
            rc = dm__buf_append(&body, "\x1e", 1);
        if (rc == 0)
            rc = dm__buf_append(&body, p->data, p->len);
        s->qhead = (s->qhead + 1) % s->qcap;
        s->qlen--;
        s->qbytes -= p->len;
        dm__rbuf_unref(p);
    }
    if (rc == 0) {
        dm__res_raw(r, 200, "text/plain; charset=UTF-8", body.data != NULL ? body.data : "", body.len);
        dm__res_header(r, "Cache-Control", "no-store");
    } else {
        dm__res_error(r, 500, "INTERNAL", "out of memory", NULL);
    }
    dm__buf_free(&body);
}

void dm__eio_flush_poll(dm_eio_session *s, bool noop)
{
    dm_request *r = s->poll;
    if (r == NULL || (s->qlen == 0 && !noop))
        return;
    s->poll = NULL;
    dm__eio_answer_poll(s, r, noop);
    dm__req_resume(r);
    if (s->eio->h.on_drain != NULL && !s->closed)
        s->eio->h.on_drain(s, s->eio->ctx);
}

/* ---- the heartbeat --------------------------------------------------------- */

static void on_heartbeat(uv_timer_t *t)
{
    dm_eio_session *s = t->data;
    if (s->closed)
        return;
    if (s->awaiting_pong) {
        dm__eio_session_close(s, "ping timeout");
        return;
    }
    s->awaiting_pong = true;
    send_control(s, '2');
    arm(s, s->eio->cfg.ping_timeout_ms);
}

/* ---- receiving ------------------------------------------------------------- */

bool dm__eio_receive(dm_eio_session *s, const char *pkt, size_t len)
{
    if (s->closed)
        return false;
    switch (len > 0 ? pkt[0] : '\0') {
    case '1': /* the client closes */
        dm__eio_session_close(s, "transport close");
        return true;
    case '3': /* pong */
        if (s->awaiting_pong) {
            s->awaiting_pong = false;
            arm(s, s->eio->cfg.ping_interval_ms);
        }
        return true;
    case '4':
        s->eio->h.on_message(s, s->eio->ctx, pkt + 1, len - 1);
        return true;
    case '6': /* noop */
        return true;
    default: /* an unknown type, a ping from a client, binary ("b…") */
        DM_LOG_W("engine.io %s: unexpected packet type 0x%02x; closing", s->sid, len > 0 ? (unsigned char)pkt[0] : 0);
        dm__eio_session_close(s, "transport error");
        return false;
    }
}

/* ---- closing ---------------------------------------------------------------- */

void dm__eio_session_close(dm_eio_session *s, const char *reason)
{
    if (s->closed)
        return;
    dm_eio *e = s->eio;
    s->closed = true;
    /* Tell the client (a close packet on whatever still carries packets),
     * then let the transports go. */
    send_control(s, '1');
    unlink_session(s);
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, on_timer_closed);
    e->h.on_close(s, e->ctx, reason);
    if (s->poll != NULL)
        dm__eio_flush_poll(s, true);
    if (s->ws != NULL)
        dm__ws_close(s->ws, 1000, "");
    if (s->probe != NULL)
        dm__ws_close(s->probe, 1000, "");
    maybe_free(s);
}

void dm__eio_session_discard(dm_eio_session *s)
{
    s->closed = true;
    unlink_session(s);
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, on_timer_closed);
    if (s->ws != NULL)
        dm__ws_close(s->ws, 1011, "");
    maybe_free(s);
}

void dm__eio_close(dm_eio_session *s)
{
    dm__eio_session_close(s, "forced close");
}

void dm__eio_ws_gone(dm_eio_session *s, dm_ws *ws)
{
    if (ws == s->probe) {
        s->probe = NULL;
        if (s->probed && !s->closed) { /* the upgrade failed: polling goes on */
            s->probed = false;
            dm__eio_flush_poll(s, false);
        }
    } else if (ws == s->ws) {
        s->ws = NULL;
        dm__eio_session_close(s, "transport close");
    }
    maybe_free(s);
}

void dm__eio_upgrade(dm_eio_session *s)
{
    s->ws = s->probe;
    s->probe = NULL;
    s->probed = false;
    s->websocket = true;
    if (s->poll != NULL)
        dm__eio_flush_poll(s, true); /* nothing is left for polling */
    /* What waited for a poll goes over the WebSocket, in order. */
    while (s->qlen > 0 && !s->closed) {
        dm_rbuf *p = s->q[s->qhead];
        s->qhead = (s->qhead + 1) % s->qcap;
        s->qlen--;
        s->qbytes -= p->len;
        dm__ws_send(s->ws, false, p->data, p->len);
        dm__rbuf_unref(p);
    }
}

void dm__eio_close_all(dm_eio *e, const char *reason)
{
    for (int b = 0; b < DM_EIO_BUCKETS; b++)
        while (e->buckets[b] != NULL)
            dm__eio_session_close(e->buckets[b], reason);
}

/* ---- the rest of the API ---------------------------------------------------- */

int dm__eio_session_count(const dm_eio *e)
{
    return e->n_sessions;
}

const char *dm__eio_sid(const dm_eio_session *s)
{
    return s->sid;
}

const char *dm__eio_peer(const dm_eio_session *s)
{
    return s->peer;
}

void dm__eio_set_data(dm_eio_session *s, void *data)
{
    s->data = data;
}

void *dm__eio_data(const dm_eio_session *s)
{
    return s->data;
}
