/*
 * e2e_http.c — a deliberately small HTTP/1.1 client over raw sockets for
 * end-to-end tests: the test writes the exact request bytes, and responses
 * are framed by hand (Content-Length, or to EOF) so that pipelining, interim
 * 100 responses and closes are all visible. Plus JSON and metrics helpers.
 */
#include "e2e.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_RESPONSE_HEADERS 128

/* ---- connection ------------------------------------------------------- */

int dm_e2e_connect(dm_e2e_conn *c, int port)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -errno;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(c->fd);
        c->fd = -1;
        return -e;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return 0;
}

void dm_e2e_close(dm_e2e_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

void dm_e2e_abort(dm_e2e_conn *c)
{
    if (c->fd >= 0) {
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    dm_e2e_close(c);
}

int dm_e2e_shutdown_write(dm_e2e_conn *c)
{
    return shutdown(c->fd, SHUT_WR) == 0 ? 0 : -errno;
}

int dm_e2e_send(dm_e2e_conn *c, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            c->sys_errno = errno;
            return errno == ECONNRESET || errno == EPIPE ? DM_E2E_RESET : DM_E2E_SYS;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int dm_e2e_send_str(dm_e2e_conn *c, const char *s)
{
    return dm_e2e_send(c, s, strlen(s));
}

int dm_e2e_fill(dm_e2e_conn *c, long long deadline)
{
    if (c->eof)
        return 0;
    long long left = deadline - dm_e2e_now_ms();
    if (left < 0)
        left = 0;
    struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
    int n = poll(&pfd, 1, (int)left);
    if (n < 0 && errno == EINTR)
        return dm_e2e_fill(c, deadline);
    if (n < 0) {
        c->sys_errno = errno;
        return DM_E2E_SYS;
    }
    if (n == 0)
        return DM_E2E_TIMEOUT;
    if (c->cap - c->len < 65536) {
        size_t cap = c->cap * 2 + 65536;
        char *grown = realloc(c->buf, cap + 1);
        ck_assert_msg(grown != NULL, "out of memory");
        c->buf = grown;
        c->cap = cap;
    }
    ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    if (r < 0 && errno == EINTR)
        return dm_e2e_fill(c, deadline);
    if (r < 0 && errno == ECONNRESET) {
        c->eof = c->reset = true;
        return 0;
    }
    if (r < 0) {
        c->sys_errno = errno;
        return DM_E2E_SYS;
    }
    if (r == 0)
        c->eof = true;
    c->len += (size_t)r;
    c->buf[c->len] = '\0';
    return 0;
}

void dm_e2e_consume(dm_e2e_conn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
    c->buf[c->len] = '\0';
}

/* ---- response parsing ------------------------------------------------- */

static char *dup_range(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    ck_assert_msg(d != NULL, "out of memory");
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Parse the status line and headers in head[0..len). 0 or DM_E2E_PROTO. */
static int parse_head(const char *head, size_t len, dm_e2e_response *res)
{
    const char *end = head + len;
    const char *eol = memmem(head, len, "\r\n", 2);
    if (eol == NULL || eol - head < 12 || memcmp(head, "HTTP/1.", 7) != 0)
        return DM_E2E_PROTO;
    if ((head[7] != '0' && head[7] != '1') || head[8] != ' ' || (eol - head > 12 && head[12] != ' '))
        return DM_E2E_PROTO;
    res->http_minor = head[7] - '0';
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (head[i] < '0' || head[i] > '9')
            return DM_E2E_PROTO;
        status = status * 10 + (head[i] - '0');
    }
    res->status = status;
    res->reason = eol - head > 13 ? dup_range(head + 13, (size_t)(eol - head - 13)) : dup_range("", 0);
    res->headers = calloc(MAX_RESPONSE_HEADERS, sizeof *res->headers);
    ck_assert_msg(res->headers != NULL, "out of memory");
    const char *p = eol + 2;
    while (p < end && !(end - p >= 2 && p[0] == '\r' && p[1] == '\n')) {
        const char *le = memmem(p, (size_t)(end - p), "\r\n", 2);
        const char *colon = le != NULL ? memchr(p, ':', (size_t)(le - p)) : NULL;
        if (colon == NULL || colon == p || res->n_headers == MAX_RESPONSE_HEADERS)
            return DM_E2E_PROTO;
        const char *v = colon + 1;
        while (v < le && (*v == ' ' || *v == '\t'))
            v++;
        const char *ve = le;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        dm_e2e_hdr *h = &res->headers[res->n_headers++];
        h->name = dup_range(p, (size_t)(colon - p));
        h->value = dup_range(v, (size_t)(ve - v));
        p = le + 2;
    }
    return 0;
}

static bool bodyless(const dm_e2e_response *res, bool head_request)
{
    return head_request || (res->status >= 100 && res->status < 200) || res->status == 204
           || res->status == 304;
}

/* Content-Length of res: 1 found (in *out), 0 none, DM_E2E_PROTO if bad. */
static int content_length(const dm_e2e_response *res, size_t *out)
{
    const char *v = dm_e2e_header(res, "Content-Length");
    if (v == NULL)
        return 0;
    if (dm_e2e_header_count(res, "Content-Length") != 1 || v[0] < '0' || v[0] > '9')
        return DM_E2E_PROTO;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno != 0 || *end != '\0')
        return DM_E2E_PROTO;
    *out = (size_t)n;
    return 1;
}

/* Wait until the header block is complete; its length in *head_len. */
static int read_head(dm_e2e_conn *c, long long deadline, size_t *head_len)
{
    for (;;) {
        const char *e = c->len > 0 ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        if (e != NULL) {
            *head_len = (size_t)(e - c->buf) + 4;
            return 0;
        }
        if (c->eof)
            return c->len == 0 && c->reset ? DM_E2E_RESET
                   : c->len > 0           ? DM_E2E_PROTO
                                          : DM_E2E_CLOSED;
        int rc = dm_e2e_fill(c, deadline);
        if (rc != 0)
            return rc;
    }
}

int dm_e2e_read_response(dm_e2e_conn *c, dm_e2e_response *res, int timeout_ms, bool head_request)
{
    memset(res, 0, sizeof *res);
    long long deadline = dm_e2e_now_ms() + timeout_ms;
    size_t head_len = 0;
    int rc = read_head(c, deadline, &head_len);
    if (rc == 0)
        rc = parse_head(c->buf, head_len, res);
    if (rc != 0) {
        dm_e2e_response_free(res);
        return rc;
    }
    res->head_len = head_len;
    size_t want = 0;
    int has = bodyless(res, head_request) ? 1 : content_length(res, &want);
    if (has < 0) {
        dm_e2e_response_free(res);
        return has;
    }
    res->has_length = has == 1 && !bodyless(res, head_request);
    /* Without a length the body runs to EOF. */
    while (has == 1 ? c->len - head_len < want : !c->eof) {
        if (has == 1 && c->eof) {
            dm_e2e_response_free(res);
            return c->reset ? DM_E2E_RESET : DM_E2E_CLOSED;
        }
        rc = dm_e2e_fill(c, deadline);
        if (rc != 0) {
            dm_e2e_response_free(res);
            return rc;
        }
    }
    if (has != 1)
        want = c->len - head_len;
    res->body = dup_range(c->buf + head_len, want);
    res->body_len = want;
    dm_e2e_consume(c, head_len + want);
    return 0;
}

void dm_e2e_response_free(dm_e2e_response *res)
{
    for (int i = 0; i < res->n_headers; i++) {
        free(res->headers[i].name);
        free(res->headers[i].value);
    }
    free(res->headers);
    free(res->reason);
    free(res->body);
    memset(res, 0, sizeof *res);
}

const char *dm_e2e_header(const dm_e2e_response *res, const char *name)
{
    for (int i = 0; i < res->n_headers; i++) {
        if (strcasecmp(res->headers[i].name, name) == 0)
            return res->headers[i].value;
    }
    return NULL;
}

int dm_e2e_header_count(const dm_e2e_response *res, const char *name)
{
    int n = 0;
    for (int i = 0; i < res->n_headers; i++)
        n += strcasecmp(res->headers[i].name, name) == 0;
    return n;
}

int dm_e2e_wait_closed(dm_e2e_conn *c, int timeout_ms)
{
    long long deadline = dm_e2e_now_ms() + timeout_ms;
    while (!c->eof) {
        int rc = dm_e2e_fill(c, deadline);
        if (rc != 0)
            return rc;
    }
    return 0;
}

bool dm_e2e_readable(dm_e2e_conn *c, int timeout_ms)
{
    if (c->len > 0 || c->eof)
        return true;
    return dm_e2e_fill(c, dm_e2e_now_ms() + timeout_ms) == 0;
}

int dm_e2e_roundtrip(int port, const char *request, dm_e2e_response *res, int timeout_ms)
{
    dm_e2e_conn c;
    memset(res, 0, sizeof *res);
    if (dm_e2e_connect(&c, port) != 0)
        return DM_E2E_SYS;
    int rc = dm_e2e_send_str(&c, request);
    if (rc == 0)
        rc = dm_e2e_read_response(&c, res, timeout_ms, strncmp(request, "HEAD ", 5) == 0);
    dm_e2e_close(&c);
    return rc;
}

void dm_e2e_connect_ok(dm_e2e_conn *c, int port)
{
    int rc = dm_e2e_connect(c, port);
    ck_assert_msg(rc == 0, "connect to 127.0.0.1:%d: %s", port, strerror(-rc));
}

void dm_e2e_send_ok(dm_e2e_conn *c, const char *s)
{
    int rc = dm_e2e_send_str(c, s);
    ck_assert_msg(rc == 0, "sending %.40s…: %s (%s)", s, dm_e2e_strerror(rc),
                  strerror(c->sys_errno));
}

void dm_e2e_read_ok(dm_e2e_conn *c, dm_e2e_response *res, bool head_request, const char *what)
{
    int rc = dm_e2e_read_response(c, res, DM_E2E_T_MS, head_request);
    ck_assert_msg(rc == 0, "%s: no response: %s", what, dm_e2e_strerror(rc));
}

void dm_e2e_roundtrip_ok(int port, const char *request, dm_e2e_response *res)
{
    int rc = dm_e2e_roundtrip(port, request, res, DM_E2E_T_MS);
    ck_assert_msg(rc == 0, "no response to %.60s…: %s", request, dm_e2e_strerror(rc));
}

char *dm_e2e_filler(size_t n, char ch)
{
    char *s = malloc(n + 1);
    ck_assert_msg(s != NULL, "out of memory");
    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

void dm_e2e_expect_refused(int port, const char *req, size_t len, int status, const char *what)
{
    dm_e2e_conn c;
    dm_e2e_response res;
    dm_e2e_connect_ok(&c, port);
    (void)dm_e2e_send(&c, req, len); /* a failed send is fine: the answer decides */
    int rc = dm_e2e_read_response(&c, &res, DM_E2E_T_MS, false);
    ck_assert_msg(rc == 0, "%s: no response: %s", what, dm_e2e_strerror(rc));
    dm_e2e_assert_error(&res, status, what);
    const char *conn = dm_e2e_header(&res, "Connection");
    ck_assert_msg(conn != NULL && strcasecmp(conn, "close") == 0,
                  "%s: %d without Connection: close", what, status);
    ck_assert_msg(dm_e2e_wait_closed(&c, DM_E2E_T_MS) == 0, "%s: connection still open after %d",
                  what, status);
    ck_assert_msg(c.len == 0, "%s: more bytes after the %d (a smuggled request was answered?): %s",
                  what, status, c.buf);
    dm_e2e_response_free(&res);
    dm_e2e_close(&c);
}

void dm_e2e_expect_status(int port, const char *req, int status, const char *what)
{
    dm_e2e_response res;
    dm_e2e_roundtrip_ok(port, req, &res);
    ck_assert_msg(res.status == status, "%s: status %d, expected %d: %s", what, res.status, status,
                  res.body);
    dm_e2e_response_free(&res);
}

void dm_e2e_expect_in_order(dm_e2e_conn *c, int n, const char *const ids[], const int statuses[])
{
    for (int i = 0; i < n; i++) {
        dm_e2e_response res;
        char what[64];
        snprintf(what, sizeof what, "pipelined response %d", i + 1);
        dm_e2e_read_ok(c, &res, false, what);
        const char *id = dm_e2e_header(&res, "X-Request-Id");
        ck_assert_msg(id != NULL && strcmp(id, ids[i]) == 0,
                      "%s carries X-Request-Id %s, expected %s (out of order)", what,
                      id ? id : "(none)", ids[i]);
        ck_assert_msg(res.status == statuses[i], "%s (%s): status %d, expected %d", what, ids[i],
                      res.status, statuses[i]);
        dm_e2e_response_free(&res);
    }
}

const char *dm_e2e_strerror(int rc)
{
    switch (rc) {
    case 0:              return "ok";
    case DM_E2E_TIMEOUT: return "timed out";
    case DM_E2E_CLOSED:  return "connection closed before a complete response";
    case DM_E2E_RESET:   return "connection reset";
    case DM_E2E_PROTO:   return "not an HTTP/1.x response";
    case DM_E2E_SYS:     return "system call failed";
    default:             return "unknown error";
    }
}

/* ---- JSON and metrics ------------------------------------------------- */

json_t *dm_e2e_json(const dm_e2e_response *res)
{
    if (res->body == NULL)
        return NULL;
    return json_loadb(res->body, res->body_len, 0, NULL);
}

static bool snake_case(const char *s)
{
    if (s == NULL || s[0] < 'A' || s[0] > 'Z')
        return false;
    for (; *s != '\0'; s++) {
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    }
    return true;
}

void dm_e2e_assert_error(const dm_e2e_response *res, int status, const char *what)
{
    ck_assert_msg(res->status == status, "%s: status %d, expected %d; body: %s", what,
                  res->status, status, res->body != NULL ? res->body : "");
    const char *ct = dm_e2e_header(res, "Content-Type");
    ck_assert_msg(ct != NULL && strncmp(ct, "application/json", 16) == 0,
                  "%s: Content-Type is %s, expected application/json", what,
                  ct != NULL ? ct : "(none)");
    json_t *doc = dm_e2e_json(res);
    ck_assert_msg(doc != NULL, "%s: body is not JSON: %s", what, res->body);
    json_t *err = json_object_get(doc, "error");
    json_t *code = json_object_get(err, "code");
    ck_assert_msg(json_is_false(json_object_get(doc, "success")),
                  "%s: \"success\" is not false: %s", what, res->body);
    ck_assert_msg(json_is_object(err), "%s: no \"error\" object: %s", what, res->body);
    ck_assert_msg(snake_case(json_string_value(code)),
                  "%s: error.code is not a SNAKE_CASE string: %s", what, res->body);
    ck_assert_msg(json_is_string(json_object_get(err, "message"))
                      && json_string_length(json_object_get(err, "message")) > 0,
                  "%s: error.message is not a non-empty string: %s", what, res->body);
    ck_assert_msg(json_is_array(json_object_get(err, "details")),
                  "%s: error.details is not an array: %s", what, res->body);
    json_decref(doc);
}

long long dm_e2e_metric(const char *text, const char *series)
{
    size_t n = strlen(series);
    const char *p = text;
    while (p != NULL && *p != '\0') {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            char *end = NULL;
            double v = strtod(p + n + 1, &end);
            if (end != p + n + 1)
                return (long long)v;
        }
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return -1;
}

long long dm_e2e_fetch_metric(int port, const char *series)
{
    dm_e2e_response res;
    int rc = dm_e2e_roundtrip(port, "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                              &res, 5000);
    long long v = -2;
    if (rc == 0 && res.status == 200)
        v = dm_e2e_metric(res.body, series);
    dm_e2e_response_free(&res);
    return v;
}

long long dm_e2e_wait_metric(int port, const char *series, long long lo, long long hi,
                             int timeout_ms)
{
    long long deadline = dm_e2e_now_ms() + timeout_ms;
    for (;;) {
        long long v = dm_e2e_fetch_metric(port, series);
        if ((v >= lo && v <= hi) || dm_e2e_now_ms() > deadline)
            return v;
        struct timespec ts = { .tv_sec = 0, .tv_nsec = 5 * 1000000L };
        nanosleep(&ts, NULL); /* the server changes state on its own time */
    }
}
