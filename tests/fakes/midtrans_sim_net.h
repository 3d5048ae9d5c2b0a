/*
 * midtrans_sim_net.h — the sockets under the Midtrans simulator (internal
 * to tests/fakes): a loopback HTTP/1.1 server with one thread per
 * connection that reads one request and hands it to a handler, and a
 * one-shot HTTP client for notifications.
 */
#ifndef DM_MIDTRANS_SIM_NET_H
#define DM_MIDTRANS_SIM_NET_H

#include <stdbool.h>
#include <stddef.h>

/* One request, valid during the handler call. */
typedef struct sim_req {
    char        method[16];
    char        path[512];  /* the request target as sent */
    const char *auth;       /* Authorization value, or NULL */
    const char *body;       /* NUL-terminated; body_len bytes */
    size_t      body_len;
} sim_req;

/* What the handler decides. body is malloc'd (the server frees it). */
typedef struct sim_reply {
    int   status;
    char *body;
    bool  hang; /* answer nothing; hold the connection until the peer or stop */
} sim_reply;

typedef void (*sim_handler_fn)(void *ud, const sim_req *req, sim_reply *rep);

typedef struct sim_http sim_http;

/* Listen on 127.0.0.1 (free port into *port) and serve with fn(ud, …),
 * concurrently. New, or NULL on failure. */
sim_http *sim_http_start(sim_handler_fn fn, void *ud, int *port);

/* Stop accepting, release hanging connections, wait for every connection
 * thread, free h. NULL is fine. */
void sim_http_stop(sim_http *h);

/* One POST of body (len bytes) to 127.0.0.1:port path; see
 * dm_midtrans_sim_post. */
int sim_http_post(int port, const char *path, const char *body, size_t len, int *status,
                  char **body_out);

#endif
