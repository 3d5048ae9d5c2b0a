/*
 * conn_parse.c — a connection's requests as llhttp reads them (conn.c owns
 * the connection, its reads, writes and timers): the callbacks that build a
 * dm_request piece by piece, the limits on its request line, headers and
 * body (413/431/400 and friends), the checks llhttp's strict mode leaves to
 * us (a chunk's CRLF, header names), and the pipeline's order.
 */
#include "http/conn_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/dispatch.h"
#include "http/response.h"
#include "http/server.h"
#include "http/sse.h"
#include "http/ws.h"
#include "util/clock.h"

/* ---- requests --------------------------------------------------------- */

dm_request *dm__conn_request_new(struct dm_conn *c)
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
    r->peer_ip = c->peer_ip;
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

void dm__conn_enqueue(struct dm_conn *c, dm_request *r)
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
void dm__conn_fail_request(struct dm_conn *c, int status, const char *code, const char *msg)
{
    dm_request *r = c->cur;
    c->cur = NULL;
    c->stop_parsing = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (r == NULL) {
        r = dm__conn_request_new(c);
        if (r == NULL) {
            dm__conn_close(c);
            return;
        }
        dm__conn_enqueue(c, r);
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
    dm_request *r = dm__conn_request_new(c);
    if (r == NULL)
        return limit(c, 503, "SERVICE_UNAVAILABLE", "out of memory");
    dm__conn_enqueue(c, r);
    c->cur = r;
    c->header_bytes = 0;
    c->trailers = false;
    dm__buf_reset(&c->url);
    dm__buf_reset(&c->field);
    dm__buf_reset(&c->value);
    /* Two clocks start at the first byte: the headers must be in within
     * server.headerTimeoutMs, the whole request within
     * server.requestTimeoutMs, however steadily it trickles in. */
    c->req_deadline = uv_now(c->server->loop) + (uint64_t)c->server->cfg->request_timeout_ms;
    dm__conn_arm_request_timer(c, c->server->cfg->header_timeout_ms);
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
                dm__conn_send_continue(c, r);
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

int dm__conn_crlf_mismatch(struct dm_conn *c, const char *at, size_t avail)
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
            if (dm__conn_crlf_mismatch(c, at + len, (size_t)(c->in_end - (at + len))) != 0)
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
    /* A body that stops for server.headerTimeoutMs is over; progress buys
     * that much more, never past the request's deadline. */
    dm__conn_arm_request_timer(c, c->server->cfg->header_timeout_ms);
    return 0;
}

/* The pieces of a request grow with what the client sends (up to
 * server.maxHeaderBytes each); a keep-alive connection must not keep one
 * large request's worth of buffers through its idle time. Small ones stay
 * for the next request. */
#define KEEP_PIECE_BYTES 4096u

static void shrink_pieces(struct dm_conn *c)
{
    dm_buf *pieces[] = { &c->url, &c->field, &c->value };
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++)
        if (pieces[i]->cap > KEEP_PIECE_BYTES)
            dm__buf_free(pieces[i]);
}

static int on_message_complete(llhttp_t *p)
{
    struct dm_conn *c = CONN(p);
    dm_request *r = c->cur;
    c->cur = NULL;
    shrink_pieces(c);
    if (!r->keep_alive)
        r->close_after = true;
    if (p->upgrade)
        c->upgrading = true; /* what follows is not HTTP, whatever the answer */
    if (r->close_after) {
        /* Connection: close (or HTTP/1.0): whatever follows is not read. */
        c->stop_parsing = true;
        uv_read_stop((uv_stream_t *)&c->tcp);
    }
    dm__conn_rearm(c);
    dm__dispatch(r); /* may finish and free r at once */
    /* Pause after each message so input after it is parsed only while the
     * pipeline and the write queue have room. */
    return HPE_PAUSED;
}

static llhttp_settings_t parser_settings;

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

const llhttp_settings_t *dm__conn_parser_settings(void)
{
    static bool ready;
    if (!ready) { /* loop thread only: no race */
        init_settings();
        ready = true;
    }
    return &parser_settings;
}
