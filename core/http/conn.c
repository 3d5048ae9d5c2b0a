/*
 * conn.c — a client connection on the loop: feed llhttp (strict, no lenient
 * flags ever), enforce the size and time limits, keep pipelined requests in
 * order, write responses, and close. Routing and handlers live in dispatch.c.
 */
#include "http/conn.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

static llhttp_settings_t parser_settings;
static void conn_close(struct dm_conn *c);
static void parse_input(struct dm_conn *c, const char *data, size_t len);
static void flush(struct dm_conn *c);
static void send_continue(struct dm_conn *c, dm_request *r);
static void upgrade_input(struct dm_conn *c, const char *data, size_t len);

/* ---- timers ----------------------------------------------------------- */

static void on_timeout(uv_timer_t *t);

static void arm_timer(struct dm_conn *c, int ms)
{
    if (!c->closing)
        uv_timer_start(&c->timer, on_timeout, (uint64_t)ms, 0);
}

/* Which timer applies now: idle keep-alive when nothing is pending, none
 * while handlers run. A request being read keeps the deadline its first
 * byte (or its last body progress) set: an earlier response going out must
 * not restart it, or a client could stretch the 408. */
static void rearm(struct dm_conn *c)
{
    const dm_config *cfg = c->server->cfg;
    if (c->closing || c->cur != NULL || c->ws != NULL) /* a WebSocket runs its own timer */
        return;
    if (c->sse != NULL) { /* a stream is idle by nature; its keep-alives show it lives */
        uv_timer_stop(&c->timer);
        return;
    }
    if (c->head == NULL)
        arm_timer(c, cfg->idle_timeout_ms);
    else
        uv_timer_stop(&c->timer);
}

/* ---- requests --------------------------------------------------------- */

static dm_request *request_new(struct dm_conn *c)
{
    dm_request *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    dm__arena_init(&r->arena);
    dm__buf_init(&r->res.headers, 64 * 1024);
    dm__buf_init(&r->res.body, 0);
    r->headers = dm__arena_alloc(&r->arena, sizeof(dm_header) * (size_t)c->server->cfg->max_headers);
    if (r->headers == NULL) {
        dm__arena_free(&r->arena);
        free(r);
        return NULL;
    }
    r->conn = c;
    r->server = c->server;
    r->app = c->server->app;
    r->remote_ip = c->peer_ip;
    r->method = "GET";
    r->path = "/";
    r->query = "";
    r->pattern = "unmatched";
    r->start_ns = dm__clock_mono_ns();
    r->keep_alive = true;
    r->http_minor = 1; /* until the request line says otherwise */
    return r;
}

void dm__request_free(dm_request *r)
{
    dm__sse_discard(r->res.sse); /* a stream whose headers never went out */
    dm__ws_discard(r->res.ws);   /* a WebSocket whose 101 never went out */
    json_decref(r->json);
    dm__buf_free(&r->res.headers);
    dm__buf_free(&r->res.body);
    dm__arena_free(&r->arena);
    free(r);
}

static void enqueue(struct dm_conn *c, dm_request *r)
{
    if (c->tail != NULL)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    c->queued++;
}

/* Answer a protocol-level failure: the request being parsed (or a new one)
 * gets the error response and the connection closes after it. */
static void fail_request(struct dm_conn *c, int status, const char *code, const char *msg)
{
    dm_request *r = c->cur;
    c->cur = NULL;
    c->stop_parsing = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (r == NULL) {
        r = request_new(c);
        if (r == NULL) {
            conn_close(c);
            return;
        }
        enqueue(c, r);
    }
    r->close_after = true;
    r->keep_alive = false;
    dm__res_error(r, status, code, msg, NULL);
    dm__dispatch_finish(r);
}

/* ---- llhttp callbacks ------------------------------------------------- */

#define CONN(p) ((struct dm_conn *)(p)->data)

static int limit(struct dm_conn *c, int status, const char *code, const char *msg)
{
    c->error_status = status;
    c->error_code = code;
    c->error_msg = msg;
    return HPE_USER;
}

static int count_header_bytes(struct dm_conn *c, size_t n)
{
    c->header_bytes += n;
    if (c->header_bytes > c->server->cfg->max_header_bytes)
        return limit(c, 431, "REQUEST_HEADER_FIELDS_TOO_LARGE",
                     "request line and headers are too large");
    return 0;
}

static int on_message_begin(llhttp_t *p)
{
    struct dm_conn *c = CONN(p);
    dm_request *r = request_new(c);
    if (r == NULL)
        return limit(c, 503, "SERVICE_UNAVAILABLE", "out of memory");
    enqueue(c, r);
    c->cur = r;
    c->header_bytes = 0;
    c->trailers = false;
    dm__buf_reset(&c->url);
    dm__buf_reset(&c->field);
    dm__buf_reset(&c->value);
    arm_timer(c, c->server->cfg->header_timeout_ms);
    return 0;
}

/* The method is known once it is parsed, so even a request refused later
 * in its headers is logged and counted under its real method. */
static int on_method_complete(llhttp_t *p)
{
    struct dm_conn *c = CONN(p);
    if (c->cur != NULL)
        c->cur->method = llhttp_method_name((llhttp_method_t)p->method);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    struct dm_conn *c = CONN(p);
    int rc = count_header_bytes(c, len);
    if (rc == 0 && dm__buf_append(&c->url, at, len) != 0)
        rc = limit(c, 431, "REQUEST_HEADER_FIELDS_TOO_LARGE", "request line is too large");
    return rc;
}

/* RFC 9110 tchar. llhttp 8.1 lets spaces into field names even in strict
 * mode; a name that is not a token is refused here instead. */
static bool is_token(const char *s, size_t len)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
                  || (ch != '\0' && strchr(extra, ch) != NULL);
        if (!ok)
            return false;
    }
    return true;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct dm_conn *c = CONN(p);
    if (!is_token(at, len))
        return limit(c, 400, "BAD_REQUEST", "malformed header name");
    int rc = count_header_bytes(c, len);
    if (rc == 0 && dm__buf_append(&c->field, at, len) != 0)
        rc = limit(c, 431, "REQUEST_HEADER_FIELDS_TOO_LARGE", "header is too large");
    return rc;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct dm_conn *c = CONN(p);
    int rc = count_header_bytes(c, len);
    if (rc == 0 && dm__buf_append(&c->value, at, len) != 0)
        rc = limit(c, 431, "REQUEST_HEADER_FIELDS_TOO_LARGE", "header is too large");
    return rc;
}

static int on_header_value_complete(llhttp_t *p)
{
    struct dm_conn *c = CONN(p);
    dm_request *r = c->cur;
    /* Each header line also costs its ": " and CRLF on the wire. */
    int rc = count_header_bytes(c, 4);
    if (rc != 0)
        return rc;
    if (c->trailers) {
        /* Chunked trailers: counted against the limit, never merged into
         * the request's headers, where they would pass for headers. */
        dm__buf_reset(&c->field);
        dm__buf_reset(&c->value);
        return 0;
    }
    if (r->n_headers >= c->server->cfg->max_headers)
        return limit(c, 431, "REQUEST_HEADER_FIELDS_TOO_LARGE", "too many headers");
    const char *v = c->value.data != NULL ? c->value.data : "";
    size_t vlen = c->value.len;
    while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        vlen--;
    dm_header *h = &r->headers[r->n_headers];
    h->name = dm__arena_strndup(&r->arena, c->field.data != NULL ? c->field.data : "", c->field.len);
    h->value = dm__arena_strndup(&r->arena, v, vlen);
    if (h->name == NULL || h->value == NULL)
        return limit(c, 503, "SERVICE_UNAVAILABLE", "out of memory");
    r->n_headers++;
    dm__buf_reset(&c->field);
    dm__buf_reset(&c->value);
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct dm_conn *c = CONN(p);
    dm_request *r = c->cur;
    const dm_config *cfg = c->server->cfg;
    c->trailers = true;
    r->method = llhttp_method_name((llhttp_method_t)p->method);
    r->http_minor = p->http_minor;
    r->keep_alive = llhttp_should_keep_alive(p) != 0;
    const char *url = c->url.data != NULL ? c->url.data : "";
    r->target = dm__arena_strndup(&r->arena, url, c->url.len);
    if (r->target == NULL)
        return limit(c, 503, "SERVICE_UNAVAILABLE", "out of memory");
    const char *q = strchr(r->target, '?');
    r->path = q != NULL ? dm__arena_strndup(&r->arena, r->target, (size_t)(q - r->target)) : r->target;
    r->query = q != NULL ? q + 1 : "";
    if (r->path == NULL)
        return limit(c, 503, "SERVICE_UNAVAILABLE", "out of memory");

    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > cfg->max_body_bytes)
        return limit(c, 413, "PAYLOAD_TOO_LARGE", "request body is too large");
    const char *expect = dm__req_header(r, "Expect");
    if (expect != NULL) {
        if (strcasecmp(expect, "100-continue") != 0)
            return limit(c, 417, "EXPECTATION_FAILED", "only Expect: 100-continue is supported");
        /* Tell the client to send the body, but only when no earlier
         * response is still owed: a 100 must not overtake them. Otherwise
         * flush() sends it when this request reaches the front. */
        if (r->http_minor >= 1) {
            r->expect_continue = true;
            if (c->head == r)
                send_continue(c, r);
        }
    }
    if (p->upgrade)
        r->close_after = true; /* no protocol upgrades on plain HTTP routes yet */
    return 0;
}

/* llhttp 8.1 accepts any two bytes after a chunk's data as its CRLF, even
 * in strict mode, which lets a request hide another one. We check those two
 * bytes ourselves: at the end of the chunk's last body span when they are
 * in the same read, else at the start of the next read (check_chunk_crlf). */
static int on_chunk_header(llhttp_t *p)
{
    struct dm_conn *c = CONN(p);
    c->chunk_left = p->content_length;
    return 0;
}

static int crlf_mismatch(struct dm_conn *c, const char *at, size_t avail)
{
    static const char crlf[] = "\r\n";
    while (c->crlf_due > 0 && avail > 0) {
        if (*at != crlf[2 - c->crlf_due])
            return limit(c, 400, "BAD_REQUEST", "chunk data not followed by CRLF");
        c->crlf_due--;
        at++;
        avail--;
    }
    return 0;
}

/* Room in r->body for need bytes plus the NUL. The first allocation is the
 * declared Content-Length (hint) when there is one; chunked bodies start
 * small and double, so a tiny chunked body never costs the configured
 * maximum. Outgrown buffers stay in the arena: at most the final size again. */
static int reserve_body(dm_request *r, size_t need, size_t hint, size_t max)
{
    if (r->body != NULL && need <= r->body_cap)
        return 0;
    size_t cap = r->body_cap > 0 ? r->body_cap * 2 : 16u * 1024u;
    if (cap < hint)
        cap = hint;
    if (cap < need)
        cap = need;
    if (cap > max)
        cap = max; /* need <= max: the caller checked */
    char *body = dm__arena_alloc(&r->arena, cap + 1);
    if (body == NULL)
        return DM_ENOMEM;
    if (r->body_len > 0)
        memcpy(body, r->body, r->body_len);
    r->body = body;
    r->body_cap = cap;
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct dm_conn *c = CONN(p);
    dm_request *r = c->cur;
    if (p->flags & F_CHUNKED) {
        c->chunk_left -= len < c->chunk_left ? len : c->chunk_left;
        if (c->chunk_left == 0) {
            c->crlf_due = 2;
            if (crlf_mismatch(c, at + len, (size_t)(c->in_end - (at + len))) != 0)
                return HPE_USER;
        }
    }
    size_t max = c->server->cfg->max_body_bytes;
    if (r->body_len + len > max)
        return limit(c, 413, "PAYLOAD_TOO_LARGE", "request body is too large");
    /* llhttp has already counted this span off content_length. */
    size_t hint = (p->flags & F_CONTENT_LENGTH) && p->content_length <= max
                      ? (size_t)p->content_length + r->body_len + len
                      : 0;
    if (reserve_body(r, r->body_len + len, hint, max) != 0)
        return limit(c, 503, "SERVICE_UNAVAILABLE", "out of memory");
    r->expect_continue = false; /* the client sent the body without waiting */
    memcpy(r->body + r->body_len, at, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    arm_timer(c, c->server->cfg->header_timeout_ms);
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct dm_conn *c = CONN(p);
    dm_request *r = c->cur;
    c->cur = NULL;
    if (!r->keep_alive)
        r->close_after = true;
    if (p->upgrade)
        c->upgrading = true; /* what follows is not HTTP, whatever the answer */
    if (r->close_after) {
        /* Connection: close (or HTTP/1.0): whatever follows is not read. */
        c->stop_parsing = true;
        uv_read_stop((uv_stream_t *)&c->tcp);
    }
    rearm(c);
    dm__dispatch(r); /* may finish and free r at once */
    /* Pause after each message so input after it is parsed only while the
     * pipeline and the write queue have room. */
    return HPE_PAUSED;
}

static void init_settings(void)
{
    llhttp_settings_init(&parser_settings);
    parser_settings.on_message_begin = on_message_begin;
    parser_settings.on_method_complete = on_method_complete;
    parser_settings.on_url = on_url;
    parser_settings.on_chunk_header = on_chunk_header;
    parser_settings.on_header_field = on_header_field;
    parser_settings.on_header_value = on_header_value;
    parser_settings.on_header_value_complete = on_header_value_complete;
    parser_settings.on_headers_complete = on_headers_complete;
    parser_settings.on_body = on_body;
    parser_settings.on_message_complete = on_message_complete;
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
        conn_close(c);
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
        fail_request(c, c->error_status, c->error_code, c->error_msg);
        return;
    }
    (void)err;
    /* Everything else llhttp refuses in strict mode — smuggling attempts
     * (Content-Length with Transfer-Encoding, two Content-Lengths), bad
     * chunk sizes, invalid tokens — is a 400 and the end of the connection. */
    fail_request(c, 400, "BAD_REQUEST", "malformed HTTP request");
}

/* Parse data; stops after each complete message and keeps the rest when
 * the pipeline is full. Owns nothing of data after it returns. */
static void parse_input(struct dm_conn *c, const char *data, size_t len)
{
    if (c->crlf_due > 0 && len > 0 && crlf_mismatch(c, data, len) != 0) {
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

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct dm_conn *c = s->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        /* EOF or reset. Pipelined requests already read still get answers
         * when the client only half-closed, and responses still in the
         * write queue go out before the close (on_write). */
        uv_read_stop(s);
        c->read_eof = true;
        if (c->ws != NULL && nread == UV_EOF) {
            dm__ws_eof(c->ws); /* it ends the connection when its close is out */
            return;
        }
        if (nread != UV_EOF || c->cur != NULL || c->sse != NULL || (c->head == NULL && c->writes == 0))
            conn_close(c);
        return;
    }
    if (c->ws != NULL) {
        dm__ws_input(c->ws, buf->base, (size_t)nread);
        return;
    }
    if (c->sse != NULL)
        return; /* a stream reads only to see the client leave */
    if (c->cur == NULL)
        arm_timer(c, c->server->cfg->header_timeout_ms);
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
        conn_close(c);
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
        conn_close(c);
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
        conn_close(c);
        return;
    }
    c->writes++;
}

/* Queue "100 Continue" for r, which is at the front of the pipeline: after
 * every earlier response on the wire (uv_write keeps order), never torn. */
static void send_continue(struct dm_conn *c, dm_request *r)
{
    static char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    r->expect_continue = false;
    write_req *wr = calloc(1, sizeof *wr);
    if (wr == NULL) {
        conn_close(c);
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
        conn_close(c);
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
        send_continue(c, c->cur);
    if (!c->closing) {
        rearm(c);
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

static void conn_close(struct dm_conn *c)
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
        fail_request(c, 408, "REQUEST_TIMEOUT", "request not received in time");
    else if (c->head == NULL)
        conn_close(c); /* idle keep-alive, or a connection that never spoke */
}

void dm__conn_shutdown(struct dm_conn *c, bool graceful)
{
    if (c->ws != NULL && !c->closing) {
        dm__ws_shutdown(c->ws, graceful); /* a close frame with 1001, or now */
        return;
    }
    if (!graceful || c->sse != NULL || (c->head == NULL && c->cur == NULL && c->writes == 0)) {
        conn_close(c);
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
        conn_close(c);
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
    conn_close(c);
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
            conn_close(c);
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
        conn_close(c);
    else if (c->ws != NULL)
        dm__ws_fin_sent(c->ws);
}

void dm__conn_shutdown_write(struct dm_conn *c)
{
    uv_shutdown_t *req = c->closing ? NULL : calloc(1, sizeof *req);
    if (req == NULL) {
        conn_close(c);
        return;
    }
    req->data = c;
    if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        free(req);
        conn_close(c);
    }
}

void dm__conn_accept(dm_server *s)
{
    static bool settings_ready = false;
    if (!settings_ready) {
        init_settings();
        settings_ready = true;
    }
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
        conn_close(c);
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
    llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
    c->parser.data = c;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    arm_timer(c, s->cfg->header_timeout_ms);
}
