/*
 * ws.c — a WebSocket connection (ws.h): its states, the close handshake,
 * pings and the idle timeout, the bound on queued bytes, and the owner's
 * callbacks. Who owns what: the dm_ws is the request's until its 101 is
 * queued (dm__ws_discard frees it otherwise), then the connection's, which
 * frees it with dm__ws_finish once its handles are closed. Every frame
 * queued is a dm_rbuf reference; they wait in `pend` until the end of the
 * loop iteration (the server's flusher) and go to conn.c as one write, so
 * a socket sent a hundred log lines in one iteration costs one write(2),
 * not a hundred. Before our FIN they are handed over at once.
 *
 *   PENDING  the 101 is not queued yet: frames wait in `pend`.
 *   OPEN     messages go to the owner, pings are answered.
 *   CLOSING  we sent a close (owner, idle, drain): frames are read but not
 *            delivered, waiting server.wsCloseTimeoutMs for the peer's close.
 *   DONE     both closes seen, or the connection failed (close sent, input
 *            no longer parsed): once our bytes are out the write side is
 *            shut down, and the peer's FIN (or the same timeout) ends it.
 */
#include "http/ws.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/conn.h"
#include "http/response.h"
#include "http/router.h"
#include "http/server.h"
#include "http/ws_frame.h"
#include "http/ws_handshake.h"
#include "util/log.h"

typedef enum { WS_PENDING, WS_OPEN, WS_CLOSING, WS_DONE } ws_state;

struct dm_ws {
    const dm_ws_handler *h;
    void           *ctx;
    dm_server      *server;
    struct dm_conn *conn;        /* from attach until detach */
    dm_ws_parser    parser;
    ws_state        state;
    int             end_code;    /* what on_close says: 1006 until a close is sent or received */
    bool            attached;    /* counted in websockets_open */
    bool            dropped;     /* dropped while PENDING: end the connection at attach */
    bool            eof;         /* the peer's FIN was read */
    bool            fin;         /* ours was sent */
    bool            pinged;      /* a ping went out since the last input */
    bool            above_high;  /* queued bytes passed the high-water mark */
    int             idle_ms;
    int             close_ms;
    size_t          max_buffered;
    uint64_t        last_rx_ms;  /* loop time of the last bytes read */
    dm_rbuf       **pend;        /* frames not yet handed to the connection (owned refs) */
    size_t          n_pend, cap_pend, pend_bytes;
    bool            dirty;       /* on the server's ws_dirty list */
    struct dm_ws   *dprev, *dnext;
    char            peer[46];
};

/* ---- queueing ---------------------------------------------------------- */

static uint64_t now_ms(const dm_ws *ws)
{
    return uv_now(ws->server->loop);
}

size_t dm__ws_buffered(const dm_ws *ws)
{
    size_t in_libuv = ws->conn != NULL ? uv_stream_get_write_queue_size((const uv_stream_t *)&ws->conn->tcp) : 0;
    return in_libuv + ws->pend_bytes;
}

static void undirty(dm_ws *ws)
{
    if (!ws->dirty)
        return;
    dm_server *s = ws->server;
    if (ws->dprev != NULL)
        ws->dprev->dnext = ws->dnext;
    else
        s->ws_dirty = ws->dnext;
    if (ws->dnext != NULL)
        ws->dnext->dprev = ws->dprev;
    ws->dprev = ws->dnext = NULL;
    ws->dirty = false;
}

static void no_op(uv_idle_t *h)
{
    (void)h;
}

static void mark_dirty(dm_ws *ws)
{
    if (ws->dirty)
        return;
    dm_server *s = ws->server;
    if (s->ws_dirty == NULL) /* frames queued after this iteration's flush must not wait for I/O */
        uv_idle_start(&s->ws_wake, no_op);
    ws->dirty = true;
    ws->dprev = NULL;
    ws->dnext = s->ws_dirty;
    if (s->ws_dirty != NULL)
        s->ws_dirty->dprev = ws;
    s->ws_dirty = ws;
}

/* Hand the waiting frames to the connection as one write. */
static void hand_over(dm_ws *ws)
{
    undirty(ws);
    if (ws->conn == NULL || ws->n_pend == 0)
        return;
    dm_rbuf **frames = ws->pend;
    size_t n = ws->n_pend;
    ws->pend = NULL;
    ws->n_pend = ws->cap_pend = ws->pend_bytes = 0;
    dm__conn_write_rbufs(ws->conn, frames, n); /* may close: ws->conn is then NULL */
}

static void on_flush(uv_check_t *h)
{
    dm_server *s = h->data;
    while (s->ws_dirty != NULL)
        hand_over(s->ws_dirty);
    uv_idle_stop(&s->ws_wake);
}

void dm__ws_flusher_init(dm_server *s)
{
    s->ws_dirty = NULL;
    uv_check_init(s->loop, &s->ws_flusher);
    uv_idle_init(s->loop, &s->ws_wake);
    s->ws_flusher.data = s;
    uv_check_start(&s->ws_flusher, on_flush);
    uv_unref((uv_handle_t *)&s->ws_flusher);
    uv_unref((uv_handle_t *)&s->ws_wake);
}

/* Keep rb (stolen) for the end of the iteration, or for after the 101. */
static int queue(dm_ws *ws, dm_rbuf *rb)
{
    if (ws->n_pend == ws->cap_pend) {
        size_t cap = ws->cap_pend > 0 ? ws->cap_pend * 2 : 8;
        dm_rbuf **more = realloc(ws->pend, cap * sizeof *more);
        if (more == NULL) {
            dm__rbuf_unref(rb);
            return DM_ENOMEM;
        }
        ws->pend = more;
        ws->cap_pend = cap;
    }
    ws->pend[ws->n_pend++] = rb;
    ws->pend_bytes += rb->len;
    if (ws->conn != NULL)
        mark_dirty(ws);
    return 0;
}

static void free_pend(dm_ws *ws)
{
    undirty(ws);
    for (size_t i = 0; i < ws->n_pend; i++)
        dm__rbuf_unref(ws->pend[i]);
    free(ws->pend);
    ws->pend = NULL;
    ws->n_pend = ws->cap_pend = ws->pend_bytes = 0;
}

static void arm(dm_ws *ws, uint64_t ms)
{
    if (ws->conn != NULL)
        dm__conn_timer(ws->conn, ms);
}

/* End now, without a (further) close frame; on_close will say code. */
static void drop(dm_ws *ws, int code)
{
    ws->end_code = code;
    ws->state = WS_DONE;
    free_pend(ws);
    if (ws->conn != NULL)
        dm__conn_end(ws->conn);
    else
        ws->dropped = true; /* ended at attach */
}

/* A client that does not read: a close frame would wait behind what it
 * does not take, so the connection is dropped without one. */
static void drop_slow(dm_ws *ws)
{
    DM_LOG_W("websocket %s: the client is not reading (%zu bytes queued); dropping it", ws->peer,
             dm__ws_buffered(ws));
    ws->server->metrics.ws_slow_drops++;
    drop(ws, DM_WS_CLOSE_POLICY);
}

/* Queue a data or pong frame (stolen) within the bound on queued bytes. A
 * lone frame always goes, whatever its size; one more behind a full queue
 * drops the connection. */
static int send_bounded(dm_ws *ws, dm_rbuf *rb)
{
    if (ws->state != WS_PENDING && ws->state != WS_OPEN) {
        dm__rbuf_unref(rb);
        return DM_ECONFLICT;
    }
    if (rb->len > UINT_MAX) { /* more than one write can carry */
        dm__rbuf_unref(rb);
        return DM_ENOMEM;
    }
    size_t queued = dm__ws_buffered(ws);
    if (queued > 0 && queued + rb->len > ws->max_buffered) {
        dm__rbuf_unref(rb);
        drop_slow(ws);
        return DM_ECONFLICT;
    }
    int rc = queue(ws, rb);
    if (rc == 0 && dm__ws_buffered(ws) > ws->max_buffered / 4)
        ws->above_high = true;
    return rc;
}

int dm__ws_send(dm_ws *ws, bool binary, const char *data, size_t len)
{
    if (ws->state != WS_PENDING && ws->state != WS_OPEN)
        return DM_ECONFLICT;
    dm_rbuf *rb = dm__ws_frame(binary ? DM_WS_OP_BINARY : DM_WS_OP_TEXT, data, len);
    return rb != NULL ? send_bounded(ws, rb) : DM_ENOMEM;
}

dm_rbuf *dm__ws_frame_text(const char *data, size_t len)
{
    return dm__ws_frame(DM_WS_OP_TEXT, data, len);
}

int dm__ws_send_frame(dm_ws *ws, dm_rbuf *frame)
{
    return frame != NULL ? send_bounded(ws, dm__rbuf_ref(frame)) : DM_ENOMEM;
}

const char *dm__ws_peer(const dm_ws *ws)
{
    return ws->peer;
}

/* ---- closing ------------------------------------------------------------ */

/* Queue our close frame: the last frame we send. */
static void send_close(dm_ws *ws, int code, const char *reason)
{
    ws->end_code = code;
    dm__metrics_ws_close(&ws->server->metrics, code);
    dm_rbuf *rb = dm__ws_frame_close(code, reason);
    if (rb == NULL || queue(ws, rb) != 0) {
        DM_LOG_W("websocket %s: no memory for a close frame; dropping it", ws->peer);
        drop(ws, code);
    }
}

/* Nothing more to say or to read: our FIN follows the queued bytes, then
 * the peer's FIN (or the timeout) ends the connection. */
static void enter_done(dm_ws *ws)
{
    if (ws->conn == NULL)
        return;
    ws->state = WS_DONE;
    hand_over(ws); /* the FIN follows every frame */
    if (ws->conn == NULL)
        return;
    dm__conn_shutdown_write(ws->conn);
    arm(ws, (uint64_t)ws->close_ms);
}

void dm__ws_close(dm_ws *ws, int code, const char *reason)
{
    if (ws->state != WS_PENDING && ws->state != WS_OPEN)
        return;
    if (!dm__ws_close_code_valid(code)) {
        DM_LOG_W("websocket %s: close code %d cannot be sent; sending 1011", ws->peer, code);
        code = DM_WS_CLOSE_INTERNAL;
    }
    dm_ws_utf8 u = { 0 };
    if (reason != NULL && (!dm__ws_utf8_feed(&u, (const unsigned char *)reason, strlen(reason)) || u.need != 0))
        reason = NULL;
    ws->state = WS_CLOSING;
    send_close(ws, code, reason);
    if (ws->state == WS_CLOSING)
        arm(ws, (uint64_t)ws->close_ms);
}

/* The peer broke the protocol: say why with code, read nothing more. */
static void fail(dm_ws *ws, int code, const char *why)
{
    DM_LOG_D("websocket %s: %s; closing with %d", ws->peer, why, code);
    if (ws->state == WS_OPEN)
        send_close(ws, code, why);
    enter_done(ws);
}

/* The peer's close frame: answer it (echoing its code) unless it answers ours. */
static void peer_close(dm_ws *ws, int code)
{
    if (ws->state == WS_OPEN) {
        send_close(ws, code == DM_WS_CLOSE_NO_STATUS ? DM_WS_CLOSE_NORMAL : code, NULL);
        ws->end_code = code;
    }
    enter_done(ws);
}

/* ---- reading ----------------------------------------------------------- */

static void pong(dm_ws *ws, const char *data, size_t len)
{
    dm_rbuf *rb = dm__ws_frame(DM_WS_OP_PONG, data, len);
    if (rb == NULL || send_bounded(ws, rb) == DM_ENOMEM)
        DM_LOG_W("websocket %s: no memory for a pong", ws->peer);
}

static void handle(dm_ws *ws, const dm_ws_event *ev)
{
    switch (ev->type) {
    case DM_WS_EV_TEXT:
    case DM_WS_EV_BINARY:
        if (ws->state == WS_OPEN)
            ws->h->on_message(ws, ws->ctx, ev->type == DM_WS_EV_BINARY, ev->data, ev->len);
        break;
    case DM_WS_EV_PING:
        if (ws->state == WS_OPEN)
            pong(ws, ev->data, ev->len);
        break;
    case DM_WS_EV_CLOSE:
        peer_close(ws, ev->code);
        break;
    case DM_WS_EV_ERROR:
        fail(ws, ev->code, ev->why);
        break;
    case DM_WS_EV_PONG: /* it has done its work: input arrived */
    case DM_WS_EV_NONE:
        break;
    }
}

void dm__ws_input(dm_ws *ws, const char *data, size_t len)
{
    ws->last_rx_ms = now_ms(ws);
    ws->pinged = false;
    /* The owner may close (or be dropped) inside on_message: look again
     * after every event. */
    while (len > 0 && ws->conn != NULL && (ws->state == WS_OPEN || ws->state == WS_CLOSING)) {
        dm_ws_event ev;
        size_t used = dm__ws_parse(&ws->parser, data, len, &ev);
        data += used;
        len -= used;
        if (ev.type == DM_WS_EV_NONE)
            break;
        handle(ws, &ev);
    }
}

void dm__ws_eof(dm_ws *ws)
{
    ws->eof = true;
    /* After our close, let its bytes and our FIN go out first. */
    if (ws->state != WS_DONE || ws->fin)
        dm__conn_end(ws->conn);
}

void dm__ws_fin_sent(dm_ws *ws)
{
    ws->fin = true;
    if (ws->eof)
        dm__conn_end(ws->conn);
}

void dm__ws_written(dm_ws *ws)
{
    if (!ws->above_high || dm__ws_buffered(ws) >= ws->max_buffered / 16)
        return;
    ws->above_high = false;
    if (ws->h->on_drain != NULL && ws->state == WS_OPEN)
        ws->h->on_drain(ws, ws->ctx);
}

/* ---- timers -------------------------------------------------------------- */

/* Silence for half the idle time gets a ping; for all of it, a close. */
static void idle_check(dm_ws *ws)
{
    uint64_t idle = (uint64_t)ws->idle_ms, half = idle / 2;
    uint64_t silent = now_ms(ws) - ws->last_rx_ms;
    if (silent >= idle) {
        DM_LOG_D("websocket %s: nothing received for %d ms; closing", ws->peer, ws->idle_ms);
        dm__ws_close(ws, DM_WS_CLOSE_GOING_AWAY, "idle timeout");
        return;
    }
    if (!ws->pinged && silent >= half) {
        dm_rbuf *rb = dm__ws_frame(DM_WS_OP_PING, NULL, 0);
        int rc = rb != NULL ? send_bounded(ws, rb) : DM_ENOMEM;
        if (ws->state != WS_OPEN)
            return; /* dropped for not reading */
        ws->pinged = rc == 0;
    }
    uint64_t next = !ws->pinged && silent < half ? half : idle;
    arm(ws, next - silent);
}

void dm__ws_timeout(dm_ws *ws)
{
    if (ws->state == WS_CLOSING || ws->state == WS_DONE) {
        DM_LOG_D("websocket %s: the close handshake did not finish in %d ms", ws->peer, ws->close_ms);
        dm__conn_end(ws->conn);
    } else if (ws->state == WS_OPEN && ws->idle_ms > 0) {
        idle_check(ws);
    }
}

/* ---- life ------------------------------------------------------------------ */

dm_ws *dm__ws_upgrade(dm_request *r, const dm_ws_handler *h, void *ctx, const dm_ws_limits *lim)
{
    if (r->db != NULL || (r->route != NULL && (r->route->flags & DM_ROUTE_POOL))) {
        DM_LOG_E("websocket upgrade on %s: the route must run on the loop (DM_ROUTE_LOOP)", r->pattern);
        dm__res_error(r, 500, "INTERNAL", "internal error", NULL);
        return NULL;
    }
    char accept[DM_WS_ACCEPT_LEN + 1];
    if (dm__ws_handshake_check(r, accept) != 0)
        return NULL;
    dm_ws *ws = calloc(1, sizeof *ws);
    if (ws == NULL) {
        dm__res_unavailable(r, "out of memory");
        return NULL;
    }
    const dm_config *cfg = r->server->cfg;
    ws->h = h;
    ws->ctx = ctx;
    ws->server = r->server;
    ws->end_code = DM_WS_CLOSE_ABNORMAL;
    ws->idle_ms = lim != NULL ? lim->idle_timeout_ms : cfg->ws_idle_timeout_ms;
    ws->close_ms = cfg->ws_close_timeout_ms;
    ws->max_buffered = cfg->ws_max_buffered;
    dm__ws_parser_init(&ws->parser, lim != NULL ? lim->max_message : cfg->ws_max_message);
    snprintf(ws->peer, sizeof ws->peer, "%s", dm__req_client_ip(r));
    dm__ws_discard(r->res.ws); /* a handler that upgrades twice */
    dm__res_empty(r, 101);
    dm__res_header(r, "Upgrade", "websocket");
    dm__res_header(r, "Connection", "Upgrade");
    dm__res_header(r, "Sec-WebSocket-Accept", accept);
    r->res.ws = ws;
    return ws;
}

static void ws_free(dm_ws *ws)
{
    int code = ws->end_code;
    ws->h->on_close(ws, ws->ctx, code);
    free_pend(ws);
    dm__ws_parser_fini(&ws->parser);
    free(ws);
}

void dm__ws_discard(dm_ws *ws)
{
    if (ws != NULL)
        ws_free(ws);
}

void dm__ws_attach(dm_ws *ws, struct dm_conn *c)
{
    ws->conn = c;
    ws->attached = true;
    ws->server->metrics.websockets_open++;
    ws->last_rx_ms = now_ms(ws);
    hand_over(ws); /* in order, behind the 101 */
    if (ws->conn == NULL) /* a write failed: the connection is closing */
        return;
    if (ws->dropped) {
        dm__conn_end(c);
    } else if (ws->state == WS_PENDING) {
        ws->state = WS_OPEN;
        if (ws->idle_ms > 0)
            arm(ws, (uint64_t)(ws->idle_ms / 2));
    } else if (ws->state == WS_CLOSING) {
        arm(ws, (uint64_t)ws->close_ms);
    }
}

void dm__ws_shutdown(dm_ws *ws, bool graceful)
{
    if (graceful && ws->state == WS_OPEN)
        dm__ws_close(ws, DM_WS_CLOSE_GOING_AWAY, "server shutting down");
    else if (!graceful)
        dm__conn_end(ws->conn);
}

void dm__ws_detach(dm_ws *ws)
{
    free_pend(ws); /* the connection is closing: nothing more can be written */
    ws->conn = NULL;
    ws->state = WS_DONE; /* nothing more is written or delivered */
}

void dm__ws_finish(dm_ws *ws)
{
    if (ws->attached)
        ws->server->metrics.websockets_open--;
    ws_free(ws);
}
