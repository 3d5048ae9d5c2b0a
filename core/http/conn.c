/*
 * conn.c — a client connection on the loop: read and feed llhttp (strict,
 * no lenient flags ever; its callbacks and the request limits are in
 * conn_parse.c), the time limits, pipelined responses written in order,
 * the hand-over to an event stream or a WebSocket, and close. Routing and
 * handlers live in dispatch.c.
 */
#include "http/conn_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "http/dispatch.h"
#include "http/response.h"
#include "http/server.h"
#include "http/sse.h"
#include "http/ws.h"
#include "util/clock.h"
#include "util/log.h"

#define WRITE_HIGH_WATER (1024u * 1024u) /* stop parsing while this much is unsent */

typedef struct write_req {
    uv_write_t req;
    char      *head;
    char      *body;
    dm_rbuf  **rbs;         /* a WebSocket's frames (owned references, owned array), or NULL */
    size_t     n_rbs;
    bool       close_after;
    void     (*done)(void *arg, int status); /* an event stream's write (dm__conn_write_bufs) */
    void      *done_arg;
} write_req;

static void parse_input(struct dm_conn *c, const char *data, size_t len);
static void flush(struct dm_conn *c);
static void upgrade_input(struct dm_conn *c, const char *data, size_t len);

/* ---- timers ----------------------------------------------------------- */

static void on_timeout(uv_timer_t *t);

void dm__conn_arm_timer(struct dm_conn *c, int ms)
{
    if (!c->closing)
        uv_timer_start(&c->timer, on_timeout, (uint64_t)ms, 0);
}

void dm__conn_arm_request_timer(struct dm_conn *c, int ms)
{
    uint64_t now = uv_now(c->server->loop);
    uint64_t left = c->req_deadline > now ? c->req_deadline - now : 0;
    dm__conn_arm_timer(c, (uint64_t)ms < left ? ms : (int)left);
}

/* Which timer applies now: idle keep-alive when nothing is pending, none
 * while handlers run. A request being read keeps the deadline its first
 * byte (or its last body progress) set: an earlier response going out must
 * not restart it, or a client could stretch the 408. */
void dm__conn_rearm(struct dm_conn *c)
{
    const dm_config *cfg = c->server->cfg;
    if (c->closing || c->cur != NULL || c->ws != NULL) /* a WebSocket runs its own timer */
        return;
    if (c->sse != NULL) { /* a stream is idle by nature; its keep-alives show it lives */
        uv_timer_stop(&c->timer);
        return;
    }
    if (c->head == NULL) {
        c->idle_wq = SIZE_MAX; /* not measured yet: see still_writing */
        dm__conn_arm_timer(c, cfg->idle_timeout_ms);
    } else {
        uv_timer_stop(&c->timer);
    }
}

/* Whether responses are still on their way to the client: the write
 * queue shrank since the last look, or everything is with the kernel and
 * only libuv's callbacks are due. A slow reader is not idle; closing it
 * would cut off answers it is still taking in. One that stops reading is.
 * The first look after arming always counts as progress: the timer may
 * fire before the loop's next I/O phase (an iteration that queued
 * hundreds of responses can outlast a short idle timeout; fuzz_http found
 * that with 600 pipelined /metrics), so only a whole idle period with I/O
 * in it and no progress ends the connection. */
static bool still_writing(struct dm_conn *c)
{
    size_t wq = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
    bool moved = c->writes > 0 && (wq == 0 || wq < c->idle_wq);
    c->idle_wq = wq;
    return moved;
}

/* ---- reading and parsing ---------------------------------------------- */

static bool must_wait(struct dm_conn *c)
{
    return c->queued >= c->server->cfg->max_pipeline
           || uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > WRITE_HIGH_WATER;
}

static void keep_pending(struct dm_conn *c, const char *data, size_t len)
{
    char *copy = malloc(len);
    if (copy == NULL) {
        dm__conn_close(c);
        return;
    }
    memcpy(copy, data, len);
    free(c->pending);
    c->pending = copy;
    c->pending_len = len;
}

static void parse_error(struct dm_conn *c, llhttp_errno_t err)
{
    if (c->error_status != 0) {
        dm__conn_fail_request(c, c->error_status, c->error_code, c->error_msg);
        return;
    }
    (void)err;
    /* Everything else llhttp refuses in strict mode — smuggling attempts
     * (Content-Length with Transfer-Encoding, two Content-Lengths), bad
     * chunk sizes, invalid tokens — is a 400 and the end of the connection. */
    dm__conn_fail_request(c, 400, "BAD_REQUEST", "malformed HTTP request");
}

/* Parse data; stops after each complete message and keeps the rest when
 * the pipeline is full. Owns nothing of data after it returns. */
static void parse_input(struct dm_conn *c, const char *data, size_t len)
{
    if (c->crlf_due > 0 && len > 0 && dm__conn_crlf_mismatch(c, data, len) != 0) {
        parse_error(c, HPE_USER);
        return;
    }
    while (len > 0 && !c->stop_parsing && !c->closing) {
        c->in_end = data + len;
        llhttp_errno_t err = llhttp_execute(&c->parser, data, len);
        if (err == HPE_OK)
            return;
        if (err == HPE_PAUSED) {
            size_t used = (size_t)(llhttp_get_error_pos(&c->parser) - data);
            llhttp_resume(&c->parser);
            data += used;
            len -= used;
            if (c->upgrading) {
                upgrade_input(c, data, len);
                return;
            }
            /* Checked after every message, also one that ended the read:
             * a client sending one request per packet must be held to the
             * same pipeline and write-queue bounds. */
            if (must_wait(c)) {
                if (len > 0)
                    keep_pending(c, data, len);
                c->paused = true;
                uv_read_stop((uv_stream_t *)&c->tcp);
                return;
            }
            continue;
        }
        parse_error(c, err);
        return;
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char slab[64 * 1024]; /* the loop is single-threaded: one read at a time */
    *buf = uv_buf_init(slab, sizeof slab);
}

/* The client half-closed (EOF). Every request it sent whole is still
 * answered, and every response owed or still in the write queue goes out
 * before the close (flush marks the last one Connection: close, on_write
 * closes when nothing is left). A request cut off by the EOF can never
 * complete: it is dropped unanswered (the client is no longer sending, a
 * 400 would answer nothing it asked), without a log line or a count, as a
 * request that never began. */
static void half_closed(struct dm_conn *c)
{
    dm_request *r = c->cur;
    c->stop_parsing = true;
    if (r != NULL) {
        /* The request being parsed is the newest in the pipeline: its tail. */
        c->cur = NULL;
        dm_request **pp = &c->head;
        while (*pp != r)
            pp = &(*pp)->next;
        *pp = NULL;
        c->tail = NULL;
        for (dm_request *q = c->head; q != NULL; q = q->next)
            c->tail = q;
        c->queued--;
        dm__request_free(r);
    }
    if (c->head == NULL && c->writes == 0) {
        dm__conn_close(c);
        return;
    }
    /* Answers still owed come through flush(); only the timer of a
     * request no longer read must go (idle, then none while owed). */
    dm__conn_rearm(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct dm_conn *c = s->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        uv_read_stop(s);
        c->read_eof = true;
        if (c->ws != NULL && nread == UV_EOF) {
            dm__ws_eof(c->ws); /* it ends the connection when its close is out */
            return;
        }
        if (nread != UV_EOF || c->sse != NULL)
            dm__conn_close(c); /* a reset, or a stream's client gone */
        else
            half_closed(c);
        return;
    }
    if (c->ws != NULL) {
        dm__ws_input(c->ws, buf->base, (size_t)nread);
        return;
    }
    if (c->sse != NULL)
        return; /* a stream reads only to see the client leave */
    if (c->cur == NULL)
        dm__conn_arm_timer(c, c->server->cfg->header_timeout_ms);
    parse_input(c, buf->base, (size_t)nread);
}

/* Called when the pipeline shrinks: parse what was held back, then read. */
static void resume_input(struct dm_conn *c)
{
    if (!c->paused || must_wait(c) || c->closing)
        return;
    c->paused = false;
    char *data = c->pending;
    size_t len = c->pending_len;
    c->pending = NULL;
    c->pending_len = 0;
    parse_input(c, data, len);
    free(data);
    if (!c->paused && !c->stop_parsing && !c->closing && !c->read_eof)
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* ---- writing ---------------------------------------------------------- */

/* Free what a write request owns, and the request. */
static void write_req_free(write_req *wr)
{
    free(wr->head);
    free(wr->body);
    for (size_t i = 0; i < wr->n_rbs; i++)
        dm__rbuf_unref(wr->rbs[i]);
    free(wr->rbs);
    free(wr);
}

static void on_write(uv_write_t *w, int status)
{
    write_req *wr = (write_req *)w;
    struct dm_conn *c = w->data;
    bool close_after = wr->close_after;
    void (*done)(void *, int) = wr->done;
    void *done_arg = wr->done_arg;
    write_req_free(wr);
    c->writes--;
    if (done != NULL)
        done(done_arg, status);
    if (status < 0 || close_after) {
        dm__conn_close(c);
        return;
    }
    if (c->ws != NULL) {
        dm__ws_written(c->ws);
        return;
    }
    if (c->sse != NULL)
        return; /* the stream writes again when it has more */
    /* Nothing owed and nothing left to write on a connection that is
     * ending (client half-closed, or draining): close it now. */
    bool settled = c->writes == 0 && c->head == NULL && c->cur == NULL;
    if (settled && (c->read_eof || c->server->draining)) {
        dm__conn_close(c);
        return;
    }
    resume_input(c);
}

/* Queue wr (its head and body owned, freed in on_write) with n buffers,
 * and count it; on failure free it and close the connection. Every write
 * goes through here: c->writes is what closing waits for. */
static void queue_write(struct dm_conn *c, write_req *wr, uv_buf_t *bufs, unsigned n)
{
    wr->req.data = c;
    if (uv_write(&wr->req, (uv_stream_t *)&c->tcp, bufs, n, on_write) != 0) {
        write_req_free(wr);
        dm__conn_close(c);
        return;
    }
    c->writes++;
}

/* Queue "100 Continue" for r, which is at the front of the pipeline: after
 * every earlier response on the wire (uv_write keeps order), never torn. */
void dm__conn_send_continue(struct dm_conn *c, dm_request *r)
{
    static char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    r->expect_continue = false;
    write_req *wr = calloc(1, sizeof *wr);
    if (wr == NULL) {
        dm__conn_close(c);
        return;
    }
    uv_buf_t b = uv_buf_init(cont, sizeof cont - 1);
    queue_write(c, wr, &b, 1); /* head and body stay NULL: cont is static */
}

static void date_header(char *buf, size_t len)
{
    static char cached[40];
    static time_t cached_at = 0;
    time_t now = time(NULL);
    if (now != cached_at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(cached, sizeof cached, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached_at = now;
    }
    snprintf(buf, len, "%s", cached);
}

/* Serialise r's response and queue the write. Takes the body buffer. */
static void write_response(struct dm_conn *c, dm_request *r, bool closing)
{
    dm_response *res = &r->res;
    bool no_body = res->status == 204 || res->status == 304 || (res->status >= 100 && res->status < 200);
    bool head = strcmp(r->method, "HEAD") == 0;
    char date[40];
    date_header(date, sizeof date);

    dm_buf h;
    dm__buf_init(&h, 128 * 1024);
    int rc = dm__buf_printf(&h, "HTTP/1.%d %d %s\r\nDate: %s\r\nX-Request-Id: %s\r\n",
                            r->http_minor == 0 ? 0 : 1, res->status, dm__http_reason(res->status),
                            date, r->request_id);
    if (rc == 0 && !no_body) {
        if (res->content_type != NULL)
            rc = dm__buf_printf(&h, "Content-Type: %s\r\n", res->content_type);
        if (rc == 0 && res->sse == NULL) /* a stream's body ends with the connection */
            rc = dm__buf_printf(&h, "Content-Length: %zu\r\n", res->body.len);
    }
    if (rc == 0 && closing)
        rc = dm__buf_puts(&h, "Connection: close\r\n");
    else if (rc == 0 && r->http_minor == 0)
        rc = dm__buf_puts(&h, "Connection: keep-alive\r\n");
    if (rc == 0 && res->headers.len > 0)
        rc = dm__buf_append(&h, res->headers.data, res->headers.len);
    if (rc == 0)
        rc = dm__buf_puts(&h, "\r\n");
    write_req *wr = calloc(1, sizeof *wr);
    if (rc != 0 || wr == NULL) {
        dm__buf_free(&h);
        free(wr);
        dm__conn_close(c);
        return;
    }
    size_t body_len = 0;
    uv_buf_t bufs[2];
    int n = 1;
    wr->head = dm__buf_steal(&h, NULL);
    bufs[0] = uv_buf_init(wr->head, (unsigned)strlen(wr->head));
    if (!no_body && !head && res->body.len > 0) {
        wr->body = dm__buf_steal(&res->body, &body_len);
        bufs[1] = uv_buf_init(wr->body, (unsigned)body_len);
        n = 2;
    }
    wr->close_after = closing && res->sse == NULL;
    queue_write(c, wr, bufs, (unsigned)n);
}

/* Write every finished response at the head of the pipeline, in order.
 * The connection closes after a response that asked for it, or after the
 * last owed one when draining or when the client has half-closed. */
/* Whether r's event stream may take the connection over. When it may not
 * — a HEAD request, a client that has half-closed already, a server that
 * is draining — the stream is dropped before it starts: the answer is the
 * headers alone, or 503 while draining. */
static bool may_stream(struct dm_conn *c, dm_request *r)
{
    if (r->res.sse == NULL)
        return false;
    if (strcmp(r->method, "HEAD") != 0 && !c->read_eof && !c->server->draining)
        return true;
    dm__sse_discard(r->res.sse);
    r->res.sse = NULL;
    if (c->server->draining)
        dm__res_error(r, 503, "SERVICE_UNAVAILABLE", "the server is shutting down", NULL);
    return false;
}

/* Whether r's 101 may hand the connection to its WebSocket. When it may
 * not — the client has half-closed, the server is draining, the handler
 * answered something else after upgrading — the WebSocket ends before it
 * starts (on_close 1006) and the answer closes the connection. */
static bool may_upgrade(struct dm_conn *c, dm_request *r)
{
    if (r->res.ws == NULL)
        return false;
    if (r->res.status == 101 && !c->read_eof && !c->server->draining)
        return true;
    dm__ws_discard(r->res.ws);
    r->res.ws = NULL;
    if (r->res.status == 101 && c->server->draining)
        dm__res_error(r, 503, "SERVICE_UNAVAILABLE", "the server is shutting down", NULL);
    else if (r->res.status == 101)
        dm__res_error(r, 400, "BAD_REQUEST", "the client closed its side before the upgrade", NULL);
    return false;
}

/* The 101 of r is queued: from now on the connection carries its
 * WebSocket, which also gets what the client sent after the request. */
static void start_ws(struct dm_conn *c, dm_request *r)
{
    c->ws = r->res.ws;
    r->res.ws = NULL;
    dm__request_free(r);
    uv_timer_stop(&c->timer);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    uv_tcp_keepalive(&c->tcp, 1, 60);
    dm__ws_attach(c->ws, c);
    if (c->pending != NULL && !c->closing) {
        char *data = c->pending;
        size_t len = c->pending_len;
        c->pending = NULL;
        c->pending_len = 0;
        dm__ws_input(c->ws, data, len);
        free(data);
    }
}

static void flush(struct dm_conn *c)
{
    /* A stream owns the connection: whatever was pipelined behind it is
     * never answered (its Connection: close said so). */
    if (c->sse != NULL || c->ws != NULL)
        return;
    while (c->head != NULL && c->head->done && !c->closing) {
        dm_request *r = c->head;
        c->head = r->next;
        if (c->head == NULL)
            c->tail = NULL;
        c->queued--;
        const bool streams = may_stream(c, r);
        const bool upgrades = may_upgrade(c, r);
        bool nothing_owed = c->head == NULL && c->cur == NULL;
        bool last = !upgrades && (r->close_after || (nothing_owed && (c->server->draining || c->read_eof)));
        write_response(c, r, last);
        if (upgrades && !c->closing) {
            start_ws(c, r);
            return;
        }
        if (streams && !c->closing) {
            /* The connection now carries the stream: nothing more is
             * parsed, but reading goes on so that a client leaving is seen. */
            c->sse = r->res.sse;
            r->res.sse = NULL;
            dm__request_free(r);
            c->stop_parsing = true;
            uv_timer_stop(&c->timer);
            uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
            /* A peer that vanishes without a FIN is found by the kernel. */
            uv_tcp_keepalive(&c->tcp, 1, 60);
            dm__sse_attach(c->sse, c);
            return;
        }
        dm__request_free(r);
        if (last) {
            c->stop_parsing = true;
            uv_read_stop((uv_stream_t *)&c->tcp);
            break;
        }
    }
    /* A request waiting for "100 Continue" behind others gets it now. */
    if (!c->closing && c->head != NULL && c->head == c->cur && c->cur->expect_continue)
        dm__conn_send_continue(c, c->cur);
    if (!c->closing) {
        dm__conn_rearm(c);
        resume_input(c);
    }
}

/* A response is ready (loop thread). The request may belong to a
 * connection that already closed: then it is only freed. */
void dm__conn_request_done(dm_request *r)
{
    struct dm_conn *c = r->conn;
    r->done = true;
    if (c->closing) {
        /* Unlink and free; the connection is freed when its last request is. */
        dm_request **pp = &c->head;
        while (*pp != NULL && *pp != r)
            pp = &(*pp)->next;
        if (*pp == r)
            *pp = r->next;
        dm__request_free(r);
        return;
    }
    flush(c);
}

/* ---- lifecycle -------------------------------------------------------- */

static void maybe_free(struct dm_conn *c)
{
    if (c->open_handles > 0 || c->inflight > 0)
        return;
    while (c->head != NULL) {
        dm_request *r = c->head;
        c->head = r->next;
        dm__request_free(r);
    }
    dm__buf_free(&c->url);
    dm__buf_free(&c->field);
    dm__buf_free(&c->value);
    free(c->pending);
    free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct dm_conn *c = h->data;
    c->open_handles--;
    if (c->open_handles == 0 && c->ws != NULL) {
        struct dm_ws *ws = c->ws; /* its owner hears of the end only now, */
        c->ws = NULL;             /* never from inside one of its own calls */
        dm__ws_finish(ws);
    }
    if (c->open_handles == 0)
        dm__server_conn_closed(c->server, c);
    maybe_free(c);
}

static void on_unaccepted_closed(uv_handle_t *h)
{
    struct dm_conn *c = h->data;
    c->open_handles--;
    maybe_free(c);
}

/* Tell the owners of deferred requests that nobody waits for them any
 * more; each resumes its request (which then only frees it). */
static void abort_deferred(struct dm_conn *c)
{
    for (;;) {
        dm_request *r = c->head;
        while (r != NULL && !(r->deferred && r->on_abort != NULL))
            r = r->next;
        if (r == NULL)
            return;
        void (*abort_fn)(dm_request *) = r->on_abort;
        r->on_abort = NULL;
        abort_fn(r);
    }
}

void dm__conn_close(struct dm_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    abort_deferred(c);
    if (c->sse != NULL) {
        dm__sse_detach(c->sse);
        c->sse = NULL;
    }
    if (c->ws != NULL)
        dm__ws_detach(c->ws); /* freed when the handles are closed */
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

/* Called by dispatch.c when a pool request comes back: finish it (logged
 * and counted even if the client left) and free the connection if it was
 * only waiting for this request. */
void dm__conn_inflight_done(dm_request *r)
{
    struct dm_conn *c = r->conn;
    c->inflight--;
    dm__dispatch_finish(r);
    if (c->closing)
        maybe_free(c);
}

static void on_timeout(uv_timer_t *t)
{
    struct dm_conn *c = t->data;
    if (c->ws != NULL)
        dm__ws_timeout(c->ws);
    else if (c->cur != NULL)
        dm__conn_fail_request(c, 408, "REQUEST_TIMEOUT", "request not received in time");
    else if (c->head == NULL && still_writing(c))
        dm__conn_arm_timer(c, c->server->cfg->idle_timeout_ms);
    else if (c->head == NULL)
        dm__conn_close(c); /* idle keep-alive, or a connection that never spoke */
}

void dm__conn_shutdown(struct dm_conn *c, bool graceful)
{
    if (c->ws != NULL && !c->closing) {
        dm__ws_shutdown(c->ws, graceful); /* a close frame with 1001, or now */
        return;
    }
    if (!graceful || c->sse != NULL || (c->head == NULL && c->cur == NULL && c->writes == 0)) {
        dm__conn_close(c);
        return;
    }
    /* Let owed responses go out with Connection: close, and queued ones
     * finish (on_write closes then); read nothing new. */
    c->stop_parsing = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
}

/* A write request for a raw write on c, or NULL when c is closing (now). */
static write_req *raw_write_new(struct dm_conn *c)
{
    write_req *wr = c->closing ? NULL : calloc(1, sizeof *wr);
    if (wr == NULL)
        dm__conn_close(c);
    return wr;
}

int dm__conn_write_bufs(struct dm_conn *c, const uv_buf_t *bufs, unsigned n, void (*done)(void *arg, int status),
                       void *arg)
{
    if (c->closing)
        return DM_ECONFLICT;
    write_req *wr = raw_write_new(c);
    if (wr == NULL)
        return DM_ENOMEM;
    wr->done = done;
    wr->done_arg = arg;
    int before = c->writes;
    queue_write(c, wr, (uv_buf_t *)bufs, n);
    return c->writes > before ? 0 : DM_EIO;
}

void dm__conn_end(struct dm_conn *c)
{
    dm__conn_close(c);
}

/* ---- for a WebSocket -------------------------------------------------- */

/* Bytes read after an upgrade request: its WebSocket's once it runs (the
 * 101 may already be out when the handler ran at once), else kept for it.
 * When the upgrade is refused they are dropped with the connection. */
static void upgrade_input(struct dm_conn *c, const char *data, size_t len)
{
    if (len == 0 || c->closing)
        return;
    if (c->ws != NULL)
        dm__ws_input(c->ws, data, len);
    else
        keep_pending(c, data, len);
}

void dm__conn_write_rbufs(struct dm_conn *c, dm_rbuf **rbs, size_t n)
{
    write_req *wr = n > 0 && n <= UINT_MAX ? raw_write_new(c) : NULL;
    uv_buf_t small[16];
    uv_buf_t *bufs = n <= 16 ? small : malloc(n * sizeof *bufs);
    if (wr == NULL || bufs == NULL) {
        for (size_t i = 0; i < n; i++)
            dm__rbuf_unref(rbs[i]);
        free(rbs);
        free(wr);
        if (wr != NULL) /* no memory for the buffers: bytes would be lost */
            dm__conn_close(c);
        return;
    }
    for (size_t i = 0; i < n; i++)
        bufs[i] = uv_buf_init(rbs[i]->data, (unsigned)rbs[i]->len);
    wr->rbs = rbs;
    wr->n_rbs = n;
    queue_write(c, wr, bufs, (unsigned)n); /* libuv copies the buffer list */
    if (bufs != small)
        free(bufs);
}

void dm__conn_timer(struct dm_conn *c, uint64_t ms)
{
    if (!c->closing)
        uv_timer_start(&c->timer, on_timeout, ms, 0);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct dm_conn *c = req->data;
    free(req);
    if (c->closing) /* cancelled by the close: c lives until its close callbacks */
        return;
    if (status < 0)
        dm__conn_close(c);
    else if (c->ws != NULL)
        dm__ws_fin_sent(c->ws);
}

void dm__conn_shutdown_write(struct dm_conn *c)
{
    uv_shutdown_t *req = c->closing ? NULL : calloc(1, sizeof *req);
    if (req == NULL) {
        dm__conn_close(c);
        return;
    }
    req->data = c;
    if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        free(req);
        dm__conn_close(c);
    }
}

void dm__conn_accept(dm_server *s)
{
    struct dm_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->server = s;
    c->open_handles = 2;
    dm__buf_init(&c->url, s->cfg->max_header_bytes + 1);
    dm__buf_init(&c->field, s->cfg->max_header_bytes + 1);
    dm__buf_init(&c->value, s->cfg->max_header_bytes + 1);
    if (uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&c->tcp) != 0) {
        /* Never listed in the server: its close must not unlist it. */
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, on_unaccepted_closed);
        uv_close((uv_handle_t *)&c->timer, on_unaccepted_closed);
        return;
    }
    dm__server_conn_opened(s, c);
    bool over_cap = s->n_conns > s->cfg->max_connections;
    if (over_cap || s->draining) {
        s->metrics.connections_rejected++;
        dm__conn_close(c);
        return;
    }
    struct sockaddr_storage peer;
    int plen = sizeof peer;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &plen) == 0) {
        if (peer.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&peer, c->peer_ip, sizeof c->peer_ip);
        else
            uv_ip4_name((struct sockaddr_in *)&peer, c->peer_ip, sizeof c->peer_ip);
    }
    uv_tcp_nodelay(&c->tcp, 1);
    llhttp_init(&c->parser, HTTP_REQUEST, dm__conn_parser_settings());
    c->parser.data = c;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    dm__conn_arm_timer(c, s->cfg->header_timeout_ms);
}
