/*
 * logs_socket_routes.c — the Socket.IO namespace /k8s-logs (docs/openapi.yaml, "Live
 * logs"): a client joins with auth {token} (checked exactly as a Bearer
 * token, on a pool worker), emits `subscribe-logs` {instanceId |
 * subscriptionId, tailLines?} to follow an instance it may see, and gets
 * `log` {instanceId, line, stream, timestamp} events from the shared
 * follow (log_hub.h), `logs-error` {message} and `logs-ended`;
 * `unsubscribe-logs` stops one follow or all. When the access token
 * expires the socket is disconnected. Everything but the two database
 * checks runs on the loop.
 */
#include "instances/logs_socket.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/session_guard.h"
#include "accounts/users.h"
#include "app/app.h"
#include "db/pool.h"
#include "http/router.h"
#include "http/server.h"
#include "http/socketio.h"
#include "http/ws.h"
#include "ops/metrics.h"
#include "instances/log_hub.h"
#include "instances/observe.h"
#include "util/clock.h"
#include "util/log.h"

#define NAMESPACE     "/k8s-logs"
#define MAX_FOLLOWS   8            /* instances one socket follows at once */
#define HIGH_WATER    (256u << 10) /* bytes queued for a socket before it takes no more lines */

/* ---- the namespace's state ----------------------------------------------- */

static struct {
    dm_sio       *io;
    dm_server    *srv;
    const dm_app *app;
} g;

typedef struct sock sock;

/* One followed instance of a socket. */
typedef struct follow {
    sock          *owner;
    char           instance_id[37];
    dm_log_sub    *sub;
    bool           full;  /* refused lines: waits for the socket to drain */
    bool           ended; /* logs-ended was sent */
    struct follow *next;
} follow;

/* Work out on a pool worker; owner NULL once the socket is gone. */
typedef struct pending {
    sock           *owner;
    struct pending *next;
    /* auth */
    char           *token;
    dm_principal    who;
    /* subscribe */
    char            id[37];
    bool            by_sub;
    uint32_t        tail;
    long            ack;
    dm_observed     o;
    /* outcome */
    int             rc;
    dm_err_t        err;
} pending;

struct sock {
    dm_sio_socket *s;
    dm_principal   who;
    bool           accepted;
    uv_timer_t     expiry;  /* the access token's end */
    follow        *follows;
    int            n_follows;
    pending       *pending;
};

/* ---- encoded lines, shared by every socket ------------------------------- */

enum { FORM_PACKET, FORM_FRAME }; /* the line's forms[] (log_hub.h) */

/* The line as "42/k8s-logs,[\"log\",…]" and as that packet's WebSocket
 * frame, made once per line and kept with it by the hub; false without
 * memory. */
static bool encoded(dm_log_line *line)
{
    if (line->forms[FORM_FRAME] != NULL)
        return true;
    dm_rbuf *pkt = dm__sio_event_packet(NAMESPACE, "log", line->json->data, line->json->len);
    dm_rbuf *frame = pkt != NULL ? dm__ws_frame_text(pkt->data, pkt->len) : NULL;
    if (frame == NULL) {
        dm__rbuf_unref(pkt);
        return false;
    }
    line->forms[FORM_PACKET] = pkt;
    line->forms[FORM_FRAME] = frame;
    return true;
}

/* ---- the hub's sink ---------------------------------------------------------- */

static size_t sink_lines(void *ctx, dm_log_line *const *lines, size_t n)
{
    follow *f = ctx;
    size_t i = 0;
    for (; i < n && !f->full; i++) {
        if (dm__sio_buffered(f->owner->s) > HIGH_WATER) {
            f->full = true; /* the rest are dropped; dm__log_hub_drained resumes */
            break;
        }
        dm_log_line *l = lines[i];
        if (!encoded(l)
            || dm__sio_emit_packet(f->owner->s, l->forms[FORM_PACKET], l->forms[FORM_FRAME]) != 0)
            break;
    }
    return i;
}

static void sink_notice(void *ctx, const char *event, const char *json)
{
    follow *f = ctx;
    if (f->ended)
        return;
    json_t *arg = json_loads(json, 0, NULL);
    dm__sio_emit(f->owner->s, event, arg);
    json_decref(arg);
    f->ended = strcmp(event, "logs-ended") == 0;
}

/* ---- follows ---------------------------------------------------------------- */

static void follow_free(follow *f)
{
    if (f->sub != NULL)
        dm__log_hub_unsubscribe(f->sub);
    f->owner->n_follows--;
    free(f);
}

/* Stop following instance_id (NULL: every instance). */
static void unfollow(sock *k, const char *instance_id)
{
    follow **pp = &k->follows;
    while (*pp != NULL) {
        follow *f = *pp;
        if (instance_id == NULL || strcmp(f->instance_id, instance_id) == 0) {
            *pp = f->next;
            follow_free(f);
        } else {
            pp = &f->next;
        }
    }
}

static void ack_or_error(sock *k, long ack, const char *error)
{
    if (error != NULL) {
        json_t *m = json_pack("{s:s}", "message", error);
        dm__sio_emit(k->s, "logs-error", m);
        json_decref(m);
    }
    if (ack >= 0) {
        json_t *args = error != NULL ? json_pack("[{s:b,s:s}]", "success", 0, "message", error)
                                     : json_pack("[{s:b}]", "success", 1);
        dm__sio_ack(k->s, ack, args);
        json_decref(args);
    }
}

/* The lookup came back: follow the instance it found. */
static void start_follow(sock *k, pending *p)
{
    const char *id = p->o.id;
    unfollow(k, id); /* a second subscribe restarts the follow with its tail */
    const dm_plugin *rt = NULL;
    dm_err_t e = { 0, "" };
    /* The instance's own runtime. One it records that is not enabled here
     * is the reason in the ack (no other runtime is followed in its
     * place); with none loaded at all rt stays NULL and the hub says it
     * cannot follow, as before. */
    if (dm__observe_has_workload(p->o.status) && dm__observe_runtime(g.app->plugins, &p->o, &rt, &e) != 0
        && p->o.runtime[0] != '\0') {
        ack_or_error(k, p->ack, e.msg);
        return;
    }
    if (k->n_follows >= MAX_FOLLOWS) {
        ack_or_error(k, p->ack, "too many instances followed on this connection");
        return;
    }
    follow *f = calloc(1, sizeof *f);
    if (f == NULL) {
        ack_or_error(k, p->ack, "the server is out of memory");
        return;
    }
    f->owner = k;
    snprintf(f->instance_id, sizeof f->instance_id, "%s", id);
    f->next = k->follows;
    k->follows = f;
    k->n_follows++;
    ack_or_error(k, p->ack, NULL);
    dm_log_sink sink = { f, sink_lines, sink_notice };
    f->sub = g.app->logs == NULL ? NULL
                                 : dm__log_hub_subscribe(g.app->logs, rt, id,
                                                         dm__observe_has_workload(p->o.status), p->tail, 0, &sink);
    if (f->sub == NULL && !f->ended)
        sink_notice(f, "logs-error", "{\"message\":\"the log cannot be followed now\"}");
}

/* ---- work on a pool worker ---------------------------------------------- */

static pending *pending_new(sock *k)
{
    pending *p = calloc(1, sizeof *p);
    if (p != NULL) {
        p->owner = k;
        p->ack = -1;
        p->next = k->pending;
        k->pending = p;
    }
    return p;
}

/* Unlink p from its socket (if it still has one) and free it. */
static void pending_free(pending *p)
{
    if (p->owner != NULL) {
        pending **pp = &p->owner->pending;
        while (*pp != NULL && *pp != p)
            pp = &(*pp)->next;
        if (*pp == p)
            *pp = p->next;
    }
    free(p->token);
    dm__observed_clear(&p->o);
    free(p);
}

/* Hand p to a database worker; false (p freed) when the pool refuses. */
static bool submit(pending *p, dm_pool_work_fn work, dm_pool_done_fn done)
{
    if (dm__pool_submit(g.srv->pool, work, done, p) == 0)
        return true;
    pending_free(p);
    return false;
}

/* ---- joining -------------------------------------------------------------- */

/* The socket state is freed when its timer's handle is closed. */
static void free_sock(uv_handle_t *h)
{
    free(h->data);
}

static void on_expiry(uv_timer_t *t)
{
    sock *k = t->data;
    DM_LOG_I("socket.io %s: the access token expired; disconnecting", dm__sio_id(k->s));
    dm__sio_disconnect(k->s); /* on_disconnect frees k */
}

static void auth_work(dm_db *db, void *arg)
{
    pending *p = arg;
    p->rc = dm__session_guard(g.app, db, p->token, &p->who, &p->err);
}

static void auth_done(void *arg)
{
    pending *p = arg;
    sock *k = p->owner;
    if (k != NULL) {
        if (p->rc == 0) {
            k->who = p->who;
            k->accepted = true;
            dm__sio_accept(k->s);
            int64_t left_ms = p->who.expires_at * 1000 - dm__clock_wall_ms();
            uv_timer_start(&k->expiry, on_expiry, (uint64_t)(left_ms > 0 ? left_ms : 0), 0);
        } else {
            dm__log(DM_LOG_DEBUG, "auth", "socket.io %s refused: %s", dm__sio_id(k->s), p->err.msg);
            dm__sio_set_data(k->s, NULL);
            dm_sio_socket *s = k->s;
            k->s = NULL;
            dm__sio_refuse(s, p->rc == DM_EPERM ? "unauthorized: a valid access token is required"
                                                : "the server cannot check the token now; retry");
        }
    }
    pending_free(p);
    if (k != NULL && k->s == NULL) /* refused: nothing else refers to it */
        uv_close((uv_handle_t *)&k->expiry, free_sock);
}

static void ns_connect(dm_sio_socket *s, void *ctx, const json_t *auth)
{
    (void)ctx;
    const char *token = json_string_value(json_object_get(auth, "token"));
    if (token == NULL || token[0] == '\0' || strlen(token) > 4096) {
        dm__sio_refuse(s, "unauthorized: auth {token} is required");
        return;
    }
    sock *k = calloc(1, sizeof *k);
    pending *p = k != NULL ? pending_new(k) : NULL;
    if (p == NULL || (p->token = strdup(token)) == NULL) {
        free(p);
        free(k);
        dm__sio_refuse(s, "the server is out of memory");
        return;
    }
    k->s = s;
    uv_timer_init(g.srv->loop, &k->expiry);
    k->expiry.data = k;
    dm__sio_set_data(s, k);
    if (!submit(p, auth_work, auth_done)) {
        dm__sio_set_data(s, NULL);
        uv_close((uv_handle_t *)&k->expiry, free_sock);
        dm__sio_refuse(s, "the server is busy; retry");
    }
}

/* ---- events ---------------------------------------------------------------- */

static void lookup_work(dm_db *db, void *arg)
{
    pending *p = arg;
    p->rc = dm__observe_find(db, p->id, p->by_sub, dm__principal_is_admin(&p->who) ? NULL : p->who.id, &p->o,
                             &p->err);
}

static void lookup_done(void *arg)
{
    pending *p = arg;
    sock *k = p->owner;
    if (k != NULL && p->rc == DM_ENOTFOUND)
        ack_or_error(k, p->ack, "not found");
    else if (k != NULL && p->rc != 0)
        ack_or_error(k, p->ack, "the instance cannot be looked up now; retry");
    else if (k != NULL)
        start_follow(k, p);
    pending_free(p);
}

/* subscribe-logs {instanceId | subscriptionId, tailLines?}. */
static void subscribe(sock *k, const json_t *args, long ack)
{
    const json_t *o = json_array_get(args, 0);
    const char *inst = json_string_value(json_object_get(o, "instanceId"));
    const char *subn = json_string_value(json_object_get(o, "subscriptionId"));
    const json_t *tl = json_object_get(o, "tailLines");
    if ((inst == NULL) == (subn == NULL)) {
        ack_or_error(k, ack, "subscribe-logs needs instanceId or subscriptionId");
        return;
    }
    if (tl != NULL && (!json_is_integer(tl) || json_integer_value(tl) < 0
                       || json_integer_value(tl) > DM_OBSERVE_TAIL_MAX)) {
        ack_or_error(k, ack, "tailLines must be an integer from 0 to 1000");
        return;
    }
    const char *id = inst != NULL ? inst : subn;
    if (!dm__users_valid_id(id)) { /* as unknown as one that does not exist */
        ack_or_error(k, ack, "not found");
        return;
    }
    pending *p = pending_new(k);
    if (p == NULL) {
        ack_or_error(k, ack, "the server is out of memory");
        return;
    }
    snprintf(p->id, sizeof p->id, "%s", id);
    p->by_sub = subn != NULL;
    p->tail = tl != NULL ? (uint32_t)json_integer_value(tl) : DM_OBSERVE_TAIL_DEFAULT;
    p->ack = ack;
    p->who = k->who;
    if (!submit(p, lookup_work, lookup_done))
        ack_or_error(k, ack, "the server is busy; retry");
}

static void ns_event(dm_sio_socket *s, void *ctx, const char *event, const json_t *args, long ack)
{
    (void)ctx;
    sock *k = dm__sio_data(s);
    if (k == NULL)
        return;
    if (strcmp(event, "subscribe-logs") == 0) {
        subscribe(k, args, ack);
    } else if (strcmp(event, "unsubscribe-logs") == 0) {
        const char *id = json_string_value(json_object_get(json_array_get(args, 0), "instanceId"));
        unfollow(k, id);
        ack_or_error(k, ack, NULL);
    }
    /* Other events mean nothing here: ignored, as Socket.IO servers do. */
}

static void ns_drain(dm_sio_socket *s, void *ctx)
{
    (void)ctx;
    sock *k = dm__sio_data(s);
    for (follow *f = k != NULL ? k->follows : NULL; f != NULL; f = f->next)
        if (f->full && f->sub != NULL && dm__sio_buffered(s) <= HIGH_WATER / 2) {
            f->full = false;
            dm__log_hub_drained(f->sub);
        }
}

static void ns_disconnect(dm_sio_socket *s, void *ctx, const char *reason)
{
    (void)ctx;
    (void)reason;
    sock *k = dm__sio_data(s);
    if (k == NULL)
        return;
    unfollow(k, NULL);
    for (pending *p = k->pending; p != NULL; p = p->next)
        p->owner = NULL; /* its worker's answer finds nobody */
    k->pending = NULL;
    uv_timer_stop(&k->expiry);
    uv_close((uv_handle_t *)&k->expiry, free_sock);
}

/* ---- the endpoint ----------------------------------------------------------- */

static void on_drain(void *ctx)
{
    (void)ctx;
    dm__sio_close_all(g.io);
}

/* The endpoint's figures for /metrics (loop thread, at scrape time). */
static int render_metrics(void *ctx, dm_buf *out)
{
    (void)ctx;
    return dm__buf_printf(out,
                          "# HELP dermaga_socketio_sessions_open Engine.IO sessions open (polling or WebSocket).\n"
                          "# TYPE dermaga_socketio_sessions_open gauge\n"
                          "dermaga_socketio_sessions_open %d\n"
                          "# HELP dermaga_log_sockets_open Sockets joined to the /k8s-logs namespace.\n"
                          "# TYPE dermaga_log_sockets_open gauge\n"
                          "dermaga_log_sockets_open %d\n",
                          g.io != NULL ? dm__sio_session_count(g.io) : 0,
                          g.io != NULL ? dm__sio_socket_count(g.io) : 0);
}

int dm__logs_socket_start(dm_server *srv, const dm_app *app, dm_err_t *err)
{
    static const dm_sio_nsp_ops ops = { ns_connect, ns_event, ns_drain, ns_disconnect };
    const dm_config *cfg = app->cfg;
    dm_eio_cfg ec = { .ping_interval_ms = cfg->sio_ping_interval_ms, .ping_timeout_ms = cfg->sio_ping_timeout_ms,
                      .max_payload = cfg->sio_max_payload, .max_sessions = cfg->sio_max_sessions,
                      .max_buffered = (size_t)4 << 20 };
    g.srv = srv;
    g.app = app;
    g.io = dm__sio_new(srv, &ec);
    if (g.io == NULL || dm__sio_namespace(g.io, NAMESPACE, &ops, NULL) != 0
        || dm__server_on_drain(srv, on_drain, NULL) != 0
        || dm__metrics_add_source(&srv->metrics, render_metrics, NULL) != 0) {
        dm__sio_free(g.io);
        g.io = NULL;
        return dm_err_set(err, DM_ENOMEM, "cannot set up the Socket.IO endpoint");
    }
    return 0;
}

int dm__logs_socket_routes_add(dm_router *rt)
{
    return dm__eio_routes_add(rt, g.io != NULL ? dm__sio_engine(g.io) : NULL);
}

void dm__logs_socket_free(void)
{
    dm__sio_free(g.io);
    memset(&g, 0, sizeof g);
}
