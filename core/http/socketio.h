/*
 * socketio.h — a Socket.IO v5 server on Engine.IO (engineio.h): namespaces
 * registered by name, each client's CONNECT with its `auth` payload answered
 * by the namespace ({sid}, or CONNECT_ERROR {message}), EVENT packets with
 * their ack ids, ACKs, DISCONNECT both ways. An unknown namespace is refused
 * with CONNECT_ERROR. Binary packets are not accepted (the log namespace
 * needs none): a client that sends one is disconnected. Loop thread only.
 *
 * A socket is one client's connection to one namespace. on_connect is
 * answered later if need be (a database check on a worker): the socket
 * stays pending until dm__sio_accept or dm__sio_refuse, or until it goes
 * away (on_disconnect). Every socket on_connect saw ends with exactly one
 * of dm__sio_refuse or on_disconnect; after either, it must not be used.
 */
#ifndef DM_SOCKETIO_H
#define DM_SOCKETIO_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "http/engineio.h"
#include "util/rbuf.h"

typedef struct dm_sio dm_sio;
typedef struct dm_sio_socket dm_sio_socket;

/* ---- the packet format ------------------------------------------------- */

#define DM_SIO_NS_MAX 128 /* bytes of a namespace name, with its NUL */

enum { DM_SIO_CONNECT = 0, DM_SIO_DISCONNECT, DM_SIO_EVENT, DM_SIO_ACK, DM_SIO_CONNECT_ERROR };

/* One decoded Socket.IO packet. */
typedef struct dm_sio_packet {
    int     type;              /* DM_SIO_CONNECT … DM_SIO_CONNECT_ERROR */
    char    ns[DM_SIO_NS_MAX]; /* "/" when the packet names none */
    long    ack;               /* the ack id, or -1 */
    json_t *data;              /* the JSON payload (new reference), or NULL when none */
} dm_sio_packet;

/* Decode d[0..len) (the data of an Engine.IO message packet): 0 and *out
 * (json_decref(out->data) after); DM_EINVAL for anything malformed — a
 * bad type, a binary packet (refused here), a namespace too long, an ack
 * id over 15 digits, a payload that is not JSON — with *out zeroed. */
int dm__sio_decode(const char *d, size_t len, dm_sio_packet *out);

/* The Engine.IO message packet ("4" + the Socket.IO packet) of p. New,
 * NULL when out of memory or when p does not fit the format. */
dm_rbuf *dm__sio_encode(const dm_sio_packet *p);

typedef struct dm_sio_nsp_ops {
    /* A client asks to join: auth is its auth payload (an object, or NULL
     * when it sent none; borrowed for the call). Answer with
     * dm__sio_accept or dm__sio_refuse, now or later. */
    void (*on_connect)(dm_sio_socket *s, void *ctx, const json_t *auth);
    /* An event of an accepted socket: its name and the arguments after it
     * (an array, borrowed for the call); ack_id >= 0 when the client wants
     * an answer (dm__sio_ack). */
    void (*on_event)(dm_sio_socket *s, void *ctx, const char *event, const json_t *args, long ack_id);
    /* The socket's transport can take more (its buffer drained). May be NULL. */
    void (*on_drain)(dm_sio_socket *s, void *ctx);
    /* The socket is gone — the client left the namespace or the connection
     * ended ("client namespace disconnect", "transport close", "ping
     * timeout", "server shutting down", …), or the server disconnected it
     * ("server namespace disconnect"). s is freed after this returns. */
    void (*on_disconnect)(dm_sio_socket *s, void *ctx, const char *reason);
} dm_sio_nsp_ops;

/* The Socket.IO server of srv (borrowed) with its Engine.IO settings.
 * New, or NULL when out of memory. Before serving. */
dm_sio *dm__sio_new(dm_server *srv, const dm_eio_cfg *cfg);

/* Register GET and POST /socket.io/. 0 or a router error. */
int dm__sio_routes_add(dm_router *rt, dm_sio *io);

/* The Engine.IO endpoint io runs on (borrowed). */
dm_eio *dm__sio_engine(dm_sio *io);

/* Add namespace name ("/k8s-logs"; copied) served by ops with ctx
 * (borrowed; must outlive io). Before serving. 0, DM_EINVAL, DM_ENOMEM. */
int dm__sio_namespace(dm_sio *io, const char *name, const dm_sio_nsp_ops *ops, void *ctx);

/* End every connection (the server is draining). Loop thread. */
void dm__sio_close_all(dm_sio *io);

/* After the loop has stopped. NULL-safe. */
void dm__sio_free(dm_sio *io);

/* Connections (Engine.IO sessions) and sockets open now. */
int dm__sio_session_count(const dm_sio *io);
int dm__sio_socket_count(const dm_sio *io);

/* Answer a pending CONNECT: {sid} to the client; events flow from now. */
void dm__sio_accept(dm_sio_socket *s);
/* Refuse it: CONNECT_ERROR {message}; s is freed (no on_disconnect). */
void dm__sio_refuse(dm_sio_socket *s, const char *message);

/* Emit event with one argument arg (borrowed; NULL for none). 0;
 * DM_ECONFLICT when the socket is not accepted or is closing; DM_ENOMEM. */
int dm__sio_emit(dm_sio_socket *s, const char *event, const json_t *arg);

/* The Engine.IO packet of an event of namespace nsp with one argument
 * whose JSON text is arg (len bytes): "42<nsp>,[\"event\",arg]" — built
 * once and sent to many sockets with dm__sio_emit_packet. New. */
dm_rbuf *dm__sio_event_packet(const char *nsp, const char *event, const char *arg, size_t len);
/* Send such a packet (reference taken); ws_frame (may be NULL) is the
 * same packet framed for WebSocket. Codes as dm__sio_emit. */
int dm__sio_emit_packet(dm_sio_socket *s, dm_rbuf *packet, dm_rbuf *ws_frame);

/* Answer ack_id with args (an array, borrowed; NULL for none). */
int dm__sio_ack(dm_sio_socket *s, long ack_id, const json_t *args);

/* Disconnect the socket from the server side: a DISCONNECT packet, then
 * on_disconnect ("server namespace disconnect"). */
void dm__sio_disconnect(dm_sio_socket *s);

/* Bytes queued for the socket's connection and not yet on the wire. */
size_t dm__sio_buffered(const dm_sio_socket *s);

/* Its id (as sent in the CONNECT answer), its client's address. */
const char *dm__sio_id(const dm_sio_socket *s);
const char *dm__sio_peer(const dm_sio_socket *s);

/* One pointer the namespace keeps with the socket. */
void  dm__sio_set_data(dm_sio_socket *s, void *data);
void *dm__sio_data(const dm_sio_socket *s);

#endif
