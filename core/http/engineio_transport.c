/*
 * engineio_transport.c — the two Engine.IO transports over HTTP
 * (engineio.h): GET /socket.io/ opens a session or long-polls its packets,
 * POST /socket.io/ carries the client's packets, and a GET with
 * transport=websocket opens a WebSocket session or probes the upgrade of a
 * polling one. Loop routes: nothing here waits on a pool worker.
 */
#include "http/engineio_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dermaga/error.h>

#include "http/dispatch.h"
#include "http/response.h"
#include "http/router.h"
#include "http/server.h"
#include "util/log.h"

/* One Engine.IO endpoint per process: the routes have no context. */
static dm_eio *g_eio;

static void refuse(dm_request *r, int status, const char *code, const char *message)
{
    dm__res_error(r, status, code, message, NULL);
}

/* ---- WebSockets ------------------------------------------------------------ */

static void ws_message(dm_ws *ws, void *ctx, bool binary, const char *data, size_t len)
{
    dm_eio_session *s = ctx;
    if (s->closed)
        return;
    if (binary) {
        dm__eio_session_close(s, "transport error");
        return;
    }
    if (ws == s->probe) {
        if (len == 6 && memcmp(data, "2probe", 6) == 0) {
            dm__ws_send(ws, false, "3probe", 6);
            s->probed = true;
            dm__eio_flush_poll(s, true); /* the client pauses polling */
        } else if (len == 1 && data[0] == '5' && s->probed) {
            dm__eio_upgrade(s);
        } else {
            dm__ws_close(ws, 1002, "unexpected packet during the upgrade");
        }
        return;
    }
    if (len > s->eio->cfg.max_payload) {
        dm__eio_session_close(s, "transport error");
        return;
    }
    dm__eio_receive(s, data, len);
}

static void ws_closed(dm_ws *ws, void *ctx, int code)
{
    (void)code;
    dm__eio_ws_gone(ctx, ws);
}

static void ws_drain(dm_ws *ws, void *ctx)
{
    dm_eio_session *s = ctx;
    if (!s->closed && ws == s->ws && s->eio->h.on_drain != NULL)
        s->eio->h.on_drain(s, s->eio->ctx);
}

static const dm_ws_handler ws_handler = { ws_message, ws_closed, ws_drain };

static dm_ws_limits ws_limits(const dm_eio *e)
{
    dm_ws_limits lim = { .max_message = e->cfg.max_payload, .idle_timeout_ms = 0 };
    return lim;
}

/* GET ?transport=websocket without a sid: a session on a WebSocket. */
static void open_websocket(dm_request *r, dm_eio *e)
{
    dm_eio_session *s = dm__eio_session_new(e, dm__req_client_ip(r), true);
    if (s == NULL) {
        refuse(r, 503, "SERVICE_UNAVAILABLE", "cannot open a session now");
        return;
    }
    dm_ws_limits lim = ws_limits(e);
    s->ws = dm__ws_upgrade(r, &ws_handler, s, &lim);
    dm_rbuf *open = s->ws != NULL ? dm__eio_open_packet(s) : NULL;
    if (s->ws == NULL || open == NULL || dm__ws_send(s->ws, false, open->data, open->len) != 0) {
        dm__rbuf_unref(open);
        dm__eio_session_discard(s);
        return;
    }
    dm__rbuf_unref(open);
    e->h.on_open(s, e->ctx);
}

/* GET ?transport=websocket&sid=…: probe the upgrade of a polling session. */
static void probe_websocket(dm_request *r, dm_eio_session *s)
{
    if (s->websocket || s->probe != NULL) {
        refuse(r, 400, "BAD_REQUEST", "this session is already upgraded or upgrading");
        return;
    }
    dm_ws_limits lim = ws_limits(s->eio);
    s->probe = dm__ws_upgrade(r, &ws_handler, s, &lim);
}

/* ---- long-polling ---------------------------------------------------------- */

/* The poll's connection closed before any packet came: forget it. */
static void poll_aborted(dm_request *r)
{
    dm_eio_session *s = g_eio != NULL ? dm__eio_find(g_eio, dm__req_query(r, "sid")) : NULL;
    if (s != NULL && s->poll == r) {
        dm__eio_flush_poll(s, true); /* answered with a noop nobody reads */
        return;
    }
    refuse(r, 410, "GONE", "the session is over");
    dm__req_resume(r);
}

/* GET ?transport=polling without a sid: the handshake. */
static void open_polling(dm_request *r, dm_eio *e)
{
    if (e->n_sessions >= e->cfg.max_sessions) {
        dm__res_unavailable(r, "too many open sessions; try again later");
        return;
    }
    dm_eio_session *s = dm__eio_session_new(e, dm__req_client_ip(r), false);
    dm_rbuf *open = s != NULL ? dm__eio_open_packet(s) : NULL;
    if (open == NULL) {
        if (s != NULL)
            dm__eio_session_discard(s);
        dm__res_unavailable(r, "cannot open a session now");
        return;
    }
    dm__res_raw(r, 200, "text/plain; charset=UTF-8", open->data, open->len);
    dm__res_header(r, "Cache-Control", "no-store");
    dm__rbuf_unref(open);
    e->h.on_open(s, e->ctx);
}

/* GET ?transport=polling&sid=…: the packets queued, or wait for some. */
static void poll(dm_request *r, dm_eio_session *s)
{
    if (s->websocket) {
        refuse(r, 400, "BAD_REQUEST", "this session has moved to a WebSocket");
        return;
    }
    if (s->poll != NULL) { /* two polls at once: a broken client */
        refuse(r, 400, "BAD_REQUEST", "a poll of this session is already waiting");
        dm__eio_session_close(s, "transport error");
        return;
    }
    /* Packets are waiting: no need to wait. Or an upgrade has been probed:
     * a client that polled again before it saw "3probe" now pauses polling
     * and sends "5" only once this poll has ended, so it must not be held. */
    if (s->qlen > 0 || s->probed) {
        dm__eio_answer_poll(s, r, true);
        if (s->eio->h.on_drain != NULL)
            s->eio->h.on_drain(s, s->eio->ctx);
        return;
    }
    s->poll = r;
    dm__req_defer(r, poll_aborted);
}

/* POST ?transport=polling&sid=…: the client's packets, \x1e-separated. */
static void post(dm_request *r, dm_eio_session *s)
{
    if (s->websocket) {
        refuse(r, 400, "BAD_REQUEST", "this session has moved to a WebSocket");
        return;
    }
    if (r->body_len > s->eio->cfg.max_payload) {
        refuse(r, 413, "PAYLOAD_TOO_LARGE", "the payload is larger than maxPayload");
        dm__eio_session_close(s, "transport error");
        return;
    }
    const char *p = r->body != NULL ? r->body : "";
    const char *end = p + r->body_len;
    while (p <= end) {
        const char *sep = memchr(p, DM_EIO_SEPARATOR, (size_t)(end - p));
        const char *stop = sep != NULL ? sep : end;
        if (!dm__eio_receive(s, p, (size_t)(stop - p))) {
            refuse(r, 400, "BAD_REQUEST", "a packet is not an Engine.IO packet this server takes");
            return;
        }
        if (sep == NULL || s->closed)
            break;
        p = sep + 1;
    }
    dm__res_raw(r, 200, "text/plain; charset=UTF-8", "ok", 2);
}

/* ---- the routes ------------------------------------------------------------ */

/* The session a request names, checked: 0 and *out, or the answer is set. */
static int session_of(dm_request *r, dm_eio_session **out)
{
    const char *sid = dm__req_query(r, "sid");
    dm_eio_session *s = dm__eio_find(g_eio, sid);
    /* A session belongs to the address that opened it. */
    if (s == NULL || strcmp(s->peer, dm__req_client_ip(r)) != 0) {
        refuse(r, 400, "SESSION_UNKNOWN", "no such Engine.IO session");
        return DM_ENOTFOUND;
    }
    *out = s;
    return 0;
}

/* EIO=4 and a known transport; false with the answer set otherwise. */
static bool protocol_ok(dm_request *r, bool *websocket)
{
    const char *eio = dm__req_query(r, "EIO");
    const char *transport = dm__req_query(r, "transport");
    if (eio == NULL || strcmp(eio, "4") != 0) {
        refuse(r, 400, "UNSUPPORTED_PROTOCOL_VERSION", "only Engine.IO protocol version 4 (EIO=4) is spoken here");
        return false;
    }
    if (transport == NULL || (strcmp(transport, "polling") != 0 && strcmp(transport, "websocket") != 0)) {
        refuse(r, 400, "TRANSPORT_UNKNOWN", "transport must be polling or websocket");
        return false;
    }
    *websocket = strcmp(transport, "websocket") == 0;
    return true;
}

/* False (503 set) when no endpoint runs (tools that only list routes). */
static bool running(dm_request *r)
{
    if (g_eio == NULL)
        dm__res_unavailable(r, "live logs are not running on this server");
    return g_eio != NULL;
}

static void on_get(dm_request *r)
{
    bool websocket;
    if (!running(r) || !protocol_ok(r, &websocket))
        return;
    dm_eio_session *s;
    if (dm__req_query(r, "sid") == NULL) {
        if (websocket)
            open_websocket(r, g_eio);
        else
            open_polling(r, g_eio);
    } else if (session_of(r, &s) == 0) {
        if (websocket)
            probe_websocket(r, s);
        else
            poll(r, s);
    }
}

static void on_post(dm_request *r)
{
    bool websocket;
    dm_eio_session *s;
    if (!running(r) || !protocol_ok(r, &websocket))
        return;
    if (websocket || dm__req_query(r, "sid") == NULL)
        refuse(r, 400, "BAD_REQUEST", "packets are posted to a polling session (transport=polling&sid=…)");
    else if (session_of(r, &s) == 0)
        post(r, s);
}

int dm__eio_routes_add(dm_router *rt, dm_eio *e)
{
    g_eio = e;
    int rc = dm__router_add(rt, "GET", "/socket.io", on_get, DM_ROUTE_LOOP);
    return rc != 0 ? rc : dm__router_add(rt, "POST", "/socket.io", on_post, DM_ROUTE_LOOP);
}

dm_eio *dm__eio_new(dm_server *srv, const dm_eio_cfg *cfg, const dm_eio_handler *h, void *ctx)
{
    dm_eio *e = calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    e->server = srv;
    e->cfg = *cfg;
    e->h = *h;
    e->ctx = ctx;
    snprintf(e->open_tail, sizeof e->open_tail, "\"pingInterval\":%d,\"pingTimeout\":%d,\"maxPayload\":%zu}",
             cfg->ping_interval_ms, cfg->ping_timeout_ms, cfg->max_payload);
    return e;
}

void dm__eio_free(dm_eio *e)
{
    if (e == g_eio)
        g_eio = NULL;
    free(e);
}
