/*
 * socketio.c — Socket.IO v5 over Engine.IO (socketio.h): the packet format
 * `<type>[<namespace>,][<ack id>][<JSON>]` inside Engine.IO message
 * packets, namespaces, and each connection's sockets. A packet that does
 * not parse ends the whole connection, as the reference server does.
 */
#include "http/socketio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dermaga/error.h>

#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

#define MAX_NSPS     8
#define NSP_MAX      DM_SIO_NS_MAX
#define ACK_DIGITS   15

enum { P_CONNECT = DM_SIO_CONNECT, P_DISCONNECT, P_EVENT, P_ACK, P_CONNECT_ERROR };

typedef struct nsp {
    char           *name;
    dm_sio_nsp_ops  ops;
    void           *ctx;
} nsp;

struct dm_sio {
    dm_eio *eio;
    nsp     nsps[MAX_NSPS];
    int     n_nsps;
    int     n_sessions;
    int     n_sockets;
};

/* One Engine.IO session's Socket.IO side. */
typedef struct client {
    dm_sio         *io;
    dm_eio_session *es;
    dm_sio_socket  *sockets;
} client;

struct dm_sio_socket {
    client        *c;
    const nsp     *n;
    char           id[21];
    bool           accepted;
    void          *data;
    dm_sio_socket *next;
};

/* ---- encoding ------------------------------------------------------------- */

/* An Engine.IO message packet "4<type>[<nsp>,][<ack>][<json>]"; the main
 * namespace "/" is written as nothing. New, or NULL when out of memory. */
static dm_rbuf *packet(int type, const char *ns, long ack, const char *json, size_t jlen)
{
    char head[NSP_MAX + 40];
    bool main_ns = ns == NULL || strcmp(ns, "/") == 0;
    int n = snprintf(head, sizeof head, "4%d%s%s", type, main_ns ? "" : ns, main_ns ? "" : ",");
    if (n > 0 && ack >= 0)
        n += snprintf(head + n, sizeof head - (size_t)n, "%ld", ack);
    if (n <= 0 || (size_t)n >= sizeof head)
        return NULL;
    dm_rbuf *b = dm__rbuf_alloc((size_t)n + jlen);
    if (b != NULL) {
        memcpy(b->data, head, (size_t)n);
        if (jlen > 0)
            memcpy(b->data + n, json, jlen);
    }
    return b;
}

/* packet() with j (borrowed; NULL for none) serialised. */
static dm_rbuf *packet_json(int type, const char *ns, long ack, const json_t *j)
{
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (j != NULL && text == NULL)
        return NULL;
    dm_rbuf *b = packet(type, ns, ack, text, text != NULL ? strlen(text) : 0);
    free(text);
    return b;
}

static int send_built(client *c, dm_rbuf *pkt)
{
    if (pkt == NULL)
        return DM_ENOMEM;
    int rc = dm__eio_send_packet(c->es, pkt, NULL);
    dm__rbuf_unref(pkt);
    return rc;
}

dm_rbuf *dm__sio_event_packet(const char *ns, const char *event, const char *arg, size_t len)
{
    json_t *name = json_string(event);
    char *ename = name != NULL ? json_dumps(name, JSON_ENCODE_ANY) : NULL;
    json_decref(name);
    if (ename == NULL)
        return NULL;
    dm_buf body;
    dm__buf_init(&body, 0);
    int rc = dm__buf_printf(&body, "[%s%s", ename, len > 0 ? "," : "");
    if (rc == 0 && len > 0)
        rc = dm__buf_append(&body, arg, len);
    if (rc == 0)
        rc = dm__buf_puts(&body, "]");
    dm_rbuf *b = rc == 0 ? packet(P_EVENT, ns, -1, body.data, body.len) : NULL;
    free(ename);
    dm__buf_free(&body);
    return b;
}

/* ---- parsing -------------------------------------------------------------- */

/* decode() of dm__sio_decode, which undoes what it did on failure. */
static int decode(const char *d, size_t len, dm_sio_packet *p)
{
    if (len == 0 || d[0] < '0' || d[0] > '4')
        return DM_EINVAL; /* 5 and 6 are binary: refused */
    p->type = d[0] - '0';
    size_t i = 1;
    snprintf(p->ns, sizeof p->ns, "/");
    if (i < len && d[i] == '/') {
        size_t start = i;
        while (i < len && d[i] != ',')
            i++;
        if (i - start >= sizeof p->ns || memchr(d + start, '\0', i - start) != NULL)
            return DM_EINVAL;
        memcpy(p->ns, d + start, i - start);
        p->ns[i - start] = '\0';
        if (i < len)
            i++; /* the comma */
    }
    size_t digits = 0;
    while (i < len && d[i] >= '0' && d[i] <= '9') {
        if (++digits > ACK_DIGITS)
            return DM_EINVAL;
        p->ack = (p->ack < 0 ? 0 : p->ack * 10) + (d[i] - '0');
        i++;
    }
    /* A payload is an object or an array: anything else would be
     * ambiguous after an ack id ("44" + "2" reads as ack 2). */
    if (i < len && (p->data = json_loadb(d + i, len - i, JSON_DECODE_ANY, NULL)) == NULL)
        return DM_EINVAL;
    if (p->data != NULL && !json_is_object(p->data) && !json_is_array(p->data))
        return DM_EINVAL;
    return 0;
}

int dm__sio_decode(const char *d, size_t len, dm_sio_packet *p)
{
    memset(p, 0, sizeof *p);
    p->ack = -1;
    int rc = decode(d, len, p);
    if (rc != 0) {
        json_decref(p->data);
        memset(p, 0, sizeof *p);
        p->ack = -1;
    }
    return rc;
}

dm_rbuf *dm__sio_encode(const dm_sio_packet *p)
{
    if (p->type < DM_SIO_CONNECT || p->type > DM_SIO_CONNECT_ERROR || p->ns[0] != '/'
        || strchr(p->ns, ',') != NULL)
        return NULL;
    return packet_json(p->type, p->ns, p->ack, p->data);
}

/* ---- sockets -------------------------------------------------------------- */

static dm_sio_socket *socket_of(client *c, const char *ns)
{
    for (dm_sio_socket *s = c->sockets; s != NULL; s = s->next)
        if (strcmp(s->n->name, ns) == 0)
            return s;
    return NULL;
}

static void unlink_socket(dm_sio_socket *s)
{
    dm_sio_socket **pp = &s->c->sockets;
    while (*pp != NULL && *pp != s)
        pp = &(*pp)->next;
    if (*pp == s)
        *pp = s->next;
    s->c->io->n_sockets--;
}

/* Tell the namespace and free s. */
static void drop(dm_sio_socket *s, const char *reason)
{
    unlink_socket(s);
    s->n->ops.on_disconnect(s, s->n->ctx, reason);
    free(s);
}

static const nsp *find_nsp(const dm_sio *io, const char *name)
{
    for (int i = 0; i < io->n_nsps; i++)
        if (strcmp(io->nsps[i].name, name) == 0)
            return &io->nsps[i];
    return NULL;
}

/* 15 random bytes as 20 base64url characters. */
static void new_id(char out[21])
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[15] = { 0 };
    dm__random_bytes(raw, sizeof raw);
    for (int i = 0, o = 0; i < 15; i += 3) {
        unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 | raw[i + 2];
        for (int k = 3; k >= 0; k--)
            out[o++] = alphabet[(v >> (6 * k)) & 63];
    }
    out[20] = '\0';
}

static void connect_error(client *c, const char *ns, const char *message)
{
    json_t *j = json_pack("{s:s}", "message", message);
    send_built(c, packet_json(P_CONNECT_ERROR, ns, -1, j));
    json_decref(j);
}

static void on_connect_packet(client *c, const dm_sio_packet *p)
{
    const nsp *n = find_nsp(c->io, p->ns);
    if (n == NULL) {
        connect_error(c, p->ns, "Invalid namespace");
        return;
    }
    if (socket_of(c, p->ns) != NULL) {
        DM_LOG_W("socket.io %s: a second CONNECT to %s ignored", dm__eio_sid(c->es), p->ns);
        return;
    }
    const json_t *auth = p->data;
    if (auth != NULL && !json_is_object(auth)) {
        connect_error(c, p->ns, "the auth payload must be a JSON object");
        return;
    }
    dm_sio_socket *s = calloc(1, sizeof *s);
    if (s == NULL) {
        connect_error(c, p->ns, "the server is out of memory");
        return;
    }
    s->c = c;
    s->n = n;
    new_id(s->id);
    s->next = c->sockets;
    c->sockets = s;
    c->io->n_sockets++;
    n->ops.on_connect(s, n->ctx, auth);
}

static bool on_event_packet(client *c, const dm_sio_packet *p)
{
    const json_t *all = p->data;
    const char *name = json_string_value(json_array_get(all, 0));
    if (!json_is_array(all) || name == NULL)
        return false;
    dm_sio_socket *s = socket_of(c, p->ns);
    if (s != NULL && s->accepted) {
        json_t *args = json_array();
        for (size_t i = 1; args != NULL && i < json_array_size(all); i++)
            json_array_append(args, json_array_get(all, i));
        if (args != NULL)
            s->n->ops.on_event(s, s->n->ctx, name, args, p->ack);
        json_decref(args);
    }
    return true;
}

/* ---- Engine.IO handler ------------------------------------------------------ */

static void eio_open(dm_eio_session *es, void *ctx)
{
    dm_sio *io = ctx;
    client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        dm__eio_close(es);
        return;
    }
    c->io = io;
    c->es = es;
    io->n_sessions++;
    dm__eio_set_data(es, c);
}

static void eio_message(dm_eio_session *es, void *ctx, const char *data, size_t len)
{
    (void)ctx;
    client *c = dm__eio_data(es);
    dm_sio_packet p;
    bool ok = c != NULL && dm__sio_decode(data, len, &p) == 0;
    if (ok) {
        dm_sio_socket *s;
        switch (p.type) {
        case P_CONNECT:
            on_connect_packet(c, &p);
            break;
        case P_DISCONNECT:
            if ((s = socket_of(c, p.ns)) != NULL)
                drop(s, "client namespace disconnect");
            break;
        case P_EVENT:
            ok = on_event_packet(c, &p);
            break;
        case P_ACK: /* the server asks for no acks: nothing to match */
            break;
        default: /* CONNECT_ERROR is the server's to send */
            ok = false;
        }
        json_decref(p.data);
    }
    if (!ok) {
        DM_LOG_W("socket.io %s: a malformed or refused packet; closing the connection", dm__eio_sid(es));
        dm__eio_close(es);
    }
}

static void eio_drain(dm_eio_session *es, void *ctx)
{
    (void)ctx;
    client *c = dm__eio_data(es);
    for (dm_sio_socket *s = c != NULL ? c->sockets : NULL; s != NULL; s = s->next)
        if (s->accepted && s->n->ops.on_drain != NULL)
            s->n->ops.on_drain(s, s->n->ctx);
}

static void eio_close(dm_eio_session *es, void *ctx, const char *reason)
{
    (void)ctx;
    client *c = dm__eio_data(es);
    if (c == NULL)
        return;
    while (c->sockets != NULL)
        drop(c->sockets, reason);
    c->io->n_sessions--;
    dm__eio_set_data(es, NULL);
    free(c);
}

/* ---- the API ------------------------------------------------------------------ */

dm_sio *dm__sio_new(dm_server *srv, const dm_eio_cfg *cfg)
{
    static const dm_eio_handler h = { eio_open, eio_message, eio_drain, eio_close };
    dm_sio *io = calloc(1, sizeof *io);
    if (io == NULL)
        return NULL;
    io->eio = dm__eio_new(srv, cfg, &h, io);
    if (io->eio == NULL) {
        free(io);
        return NULL;
    }
    return io;
}

int dm__sio_routes_add(dm_router *rt, dm_sio *io)
{
    return dm__eio_routes_add(rt, io->eio);
}

dm_eio *dm__sio_engine(dm_sio *io)
{
    return io->eio;
}

int dm__sio_namespace(dm_sio *io, const char *name, const dm_sio_nsp_ops *ops, void *ctx)
{
    if (name == NULL || name[0] != '/' || strlen(name) >= NSP_MAX || strchr(name, ',') != NULL
        || find_nsp(io, name) != NULL || io->n_nsps >= MAX_NSPS)
        return DM_EINVAL;
    nsp *n = &io->nsps[io->n_nsps];
    n->name = strdup(name);
    if (n->name == NULL)
        return DM_ENOMEM;
    n->ops = *ops;
    n->ctx = ctx;
    io->n_nsps++;
    return 0;
}

void dm__sio_close_all(dm_sio *io)
{
    dm__eio_close_all(io->eio, "server shutting down");
}

void dm__sio_free(dm_sio *io)
{
    if (io == NULL)
        return;
    for (int i = 0; i < io->n_nsps; i++)
        free(io->nsps[i].name);
    dm__eio_free(io->eio);
    free(io);
}

int dm__sio_session_count(const dm_sio *io)
{
    return io->n_sessions;
}

int dm__sio_socket_count(const dm_sio *io)
{
    return io->n_sockets;
}

void dm__sio_accept(dm_sio_socket *s)
{
    s->accepted = true;
    json_t *j = json_pack("{s:s}", "sid", s->id);
    send_built(s->c, packet_json(P_CONNECT, s->n->name, -1, j));
    json_decref(j);
}

void dm__sio_refuse(dm_sio_socket *s, const char *message)
{
    connect_error(s->c, s->n->name, message);
    unlink_socket(s);
    free(s);
}

int dm__sio_emit(dm_sio_socket *s, const char *event, const json_t *arg)
{
    if (!s->accepted)
        return DM_ECONFLICT;
    json_t *all = json_pack("[sO*]", event, arg);
    if (all == NULL)
        return DM_ENOMEM;
    int rc = send_built(s->c, packet_json(P_EVENT, s->n->name, -1, all));
    json_decref(all);
    return rc;
}

int dm__sio_emit_packet(dm_sio_socket *s, dm_rbuf *pkt, dm_rbuf *ws_frame)
{
    if (!s->accepted)
        return DM_ECONFLICT;
    return dm__eio_send_packet(s->c->es, pkt, ws_frame);
}

int dm__sio_ack(dm_sio_socket *s, long ack_id, const json_t *args)
{
    if (!s->accepted || ack_id < 0)
        return DM_ECONFLICT;
    json_t *empty = args == NULL ? json_array() : NULL;
    int rc = send_built(s->c, packet_json(P_ACK, s->n->name, ack_id, args != NULL ? args : empty));
    json_decref(empty);
    return rc;
}

void dm__sio_disconnect(dm_sio_socket *s)
{
    send_built(s->c, packet(P_DISCONNECT, s->n->name, -1, NULL, 0));
    drop(s, "server namespace disconnect");
}

size_t dm__sio_buffered(const dm_sio_socket *s)
{
    return dm__eio_buffered(s->c->es);
}

const char *dm__sio_id(const dm_sio_socket *s)
{
    return s->id;
}

const char *dm__sio_peer(const dm_sio_socket *s)
{
    return dm__eio_peer(s->c->es);
}

void dm__sio_set_data(dm_sio_socket *s, void *data)
{
    s->data = data;
}

void *dm__sio_data(const dm_sio_socket *s)
{
    return s->data;
}
