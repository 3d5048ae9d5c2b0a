/*
 * conn.h — one client connection: parsing, the pipeline of requests in
 * arrival order, timers and writes. Loop thread only.
 */
#ifndef DM_CONN_H
#define DM_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <llhttp.h>
#include <uv.h>

#include "http/request.h"
#include "util/buf.h"
#include "util/rbuf.h"

struct dm_conn {
    uv_tcp_t      tcp;
    uv_timer_t    timer;
    dm_server    *server;
    llhttp_t      parser;
    dm_request   *head, *tail;  /* pipeline: oldest first */
    int           queued;       /* requests in the pipeline */
    int           inflight;     /* requests out on the worker pool */
    dm_request   *cur;          /* the request being parsed, also in the pipeline */
    dm_buf        url, field, value; /* pieces of the request being parsed */
    size_t        header_bytes; /* request line + headers so far */
    uint64_t      req_deadline; /* loop time (ms) by which the request being
                                   parsed must be complete: server.requestTimeoutMs
                                   from its first byte */
    int           error_status; /* a limit we hit while parsing: 408/413/431/400 */
    const char   *error_code;
    const char   *error_msg;
    char         *pending;      /* input not yet parsed while paused (owned) */
    size_t        pending_len;
    uint64_t      chunk_left;   /* body bytes left in the current chunk */
    int           crlf_due;     /* bytes of a chunk's CRLF still to check */
    const char   *in_end;       /* end of the input llhttp is parsing now */
    bool          trailers;     /* past the headers: fields are chunked trailers */
    int           writes;       /* uv_write requests not yet called back */
    size_t        idle_wq;      /* write queue bytes at the idle timer's last
                                   look (SIZE_MAX: none yet) */
    bool          paused;       /* pipeline full: not parsing, not reading */
    bool          read_eof;     /* the client half-closed */
    bool          stop_parsing; /* after an error response: read nothing more */
    bool          closing;      /* uv_close issued */
    int           open_handles; /* tcp + timer, counted down by close callbacks */
    char          peer_ip[46];  /* the TCP peer (a proxy, behind one); the client is dm__req_client_ip */
    struct dm_sse *sse;         /* the event stream that owns the connection now,
                                   after its response headers (http/sse.h) */
    struct dm_ws  *ws;          /* the WebSocket that owns the connection now,
                                   after its 101 (http/ws.h) */
    bool          upgrading;    /* an upgrade request was read: bytes after it
                                   are the WebSocket's, if it starts */
    struct dm_conn *next, *prev; /* server's list */
};

/* A request's response is ready: write what can be written, in order. */
void dm__conn_request_done(dm_request *r);
/* A request handed to the worker pool has come back (loop thread). */
void dm__conn_inflight_done(dm_request *r);
/* Free a request and everything in its arena. */
void dm__request_free(dm_request *r);

/* Accept one pending connection from the listener (loop thread). */
void dm__conn_accept(dm_server *s);
/* Close a connection: idle ones at once, or after its in-flight responses
 * when graceful is true. A connection carrying an event stream closes at
 * once either way (a stream never finishes by itself). */
void dm__conn_shutdown(struct dm_conn *c, bool graceful);

/* For an event stream (http/sse.c): write n buffers (the array is
 * copied; their bytes stay the caller's until done(arg, status) runs,
 * exactly once, when the write completed, failed or was cancelled by the
 * close). 0; DM_ECONFLICT when the connection is closing, DM_ENOMEM or
 * DM_EIO when the write could not be queued (the connection then closes):
 * done is not called. */
int dm__conn_write_bufs(struct dm_conn *c, const uv_buf_t *bufs, unsigned n, void (*done)(void *arg, int status),
                       void *arg);
/* For an event stream or a WebSocket: close the connection now. */
void dm__conn_end(struct dm_conn *c);

/* For a WebSocket (http/ws.c). Write the bytes of the n frames of rbs (the
 * array and its references, stolen) with one write after everything
 * queued; on failure the connection closes. */
void dm__conn_write_rbufs(struct dm_conn *c, dm_rbuf **rbs, size_t n);
/* Run the connection's timer once, ms from now (dm__ws_timeout then). */
void dm__conn_timer(struct dm_conn *c, uint64_t ms);
/* Send our FIN once the queued writes are out (dm__ws_fin_sent then);
 * reading goes on. */
void dm__conn_shutdown_write(struct dm_conn *c);

#endif
