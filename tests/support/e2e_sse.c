/*
 * e2e_sse.c — the Server-Sent Events client of e2e_sse.h: a stream's head
 * parsed with e2e_http.c's response parser, then event blocks cut from the
 * close-delimited body as they arrive.
 */
#include "e2e_sse.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "e2e_auth.h"

/* Parse the head in c->buf[0..head_len) into res (status and headers),
 * through e2e_http.c on a copy that looks like a finished HEAD answer. */
static int parse_head(const dm_e2e_conn *c, size_t head_len, dm_e2e_response *res)
{
    dm_e2e_conn copy = { .fd = -1, .eof = true, .len = head_len, .cap = head_len };
    copy.buf = malloc(head_len + 1);
    ck_assert_msg(copy.buf != NULL, "out of memory");
    memcpy(copy.buf, c->buf, head_len);
    copy.buf[head_len] = '\0';
    int rc = dm_e2e_read_response(&copy, res, 0, true);
    free(copy.buf);
    return rc;
}

/* GET path with token and the extra header lines: a new string. */
static char *stream_request(const char *path, const char *token, const char *extra)
{
    char *req = dm_e2e_auth_request("GET", path, token, NULL);
    if (extra == NULL)
        return req;
    size_t n = strlen(req); /* it ends with the blank line */
    char *more = malloc(n + strlen(extra) + 1);
    ck_assert_msg(more != NULL, "out of memory");
    memcpy(more, req, n - 2);
    memcpy(more + n - 2, extra, strlen(extra));
    memcpy(more + n - 2 + strlen(extra), "\r\n", 3);
    free(req);
    return more;
}

int dm_e2e_sse_open(dm_e2e_conn *c, int port, const char *path, const char *token, dm_e2e_response *res,
                    int timeout_ms)
{
    return dm_e2e_sse_open_with(c, port, path, token, NULL, res, timeout_ms);
}

int dm_e2e_sse_open_with(dm_e2e_conn *c, int port, const char *path, const char *token, const char *extra,
                         dm_e2e_response *res, int timeout_ms)
{
    memset(res, 0, sizeof *res);
    if (dm_e2e_connect(c, port) != 0)
        return DM_E2E_SYS;
    char *req = stream_request(path, token, extra);
    int rc = dm_e2e_send_str(c, req);
    free(req);
    long long deadline = dm_e2e_now_ms() + timeout_ms;
    const char *end = NULL;
    while (rc == 0 && (end = c->len > 0 ? strstr(c->buf, "\r\n\r\n") : NULL) == NULL) {
        rc = c->eof ? (c->reset ? DM_E2E_RESET : DM_E2E_CLOSED) : dm_e2e_fill(c, deadline);
    }
    size_t head_len = end != NULL ? (size_t)(end - c->buf) + 4 : 0;
    if (rc == 0)
        rc = parse_head(c, head_len, res);
    if (rc == 0 && dm_e2e_header(res, "Content-Length") != NULL) {
        /* An ordinary answer: read it whole, framed by its length. */
        dm_e2e_response_free(res);
        long long left = deadline - dm_e2e_now_ms();
        rc = dm_e2e_read_response(c, res, left > 0 ? (int)left : 0, false);
    } else if (rc == 0) {
        dm_e2e_consume(c, head_len);
    }
    if (rc != 0) {
        dm_e2e_response_free(res);
        dm_e2e_close(c);
    }
    return rc;
}

int dm_e2e_sse_wait_bytes(dm_e2e_conn *c, size_t n, int timeout_ms)
{
    long long deadline = dm_e2e_now_ms() + timeout_ms;
    while (c->len < n) {
        if (c->eof)
            return DM_E2E_CLOSED;
        int rc = dm_e2e_fill(c, deadline);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    ck_assert_msg(d != NULL, "out of memory");
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Append text[0..n) to *field, "\n"-separated. */
static void append(char **field, const char *text, size_t n)
{
    size_t old = *field != NULL ? strlen(*field) : 0;
    char *grown = realloc(*field, old + n + 2);
    ck_assert_msg(grown != NULL, "out of memory");
    if (*field != NULL)
        grown[old++] = '\n';
    memcpy(grown + old, text, n);
    grown[old + n] = '\0';
    *field = grown;
}

/* Fill ev from one block of n bytes (its lines, without the blank line).
 * 0, or DM_E2E_PROTO with the offending line in ev->comment. */
static int parse_block(const char *p, size_t n, dm_e2e_sse_event *ev)
{
    const char *end = p + n;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t len = eol != NULL ? (size_t)(eol - p) : (size_t)(end - p);
        const char *colon = memchr(p, ':', len);
        size_t name_len = colon != NULL ? (size_t)(colon - p) : len;
        const char *v = colon != NULL ? colon + 1 : p + len;
        if (v < p + len && *v == ' ')
            v++;
        size_t vlen = (size_t)(p + len - v);
        if (name_len == 0) {
            append(&ev->comment, v, vlen);
        } else if (name_len == 4 && memcmp(p, "data", 4) == 0) {
            append(&ev->data, v, vlen);
            ev->n_data++;
        } else if (name_len == 5 && memcmp(p, "event", 5) == 0) {
            free(ev->event);
            ev->event = dup_n(v, vlen);
        } else if (name_len == 2 && memcmp(p, "id", 2) == 0) {
            free(ev->id);
            ev->id = dup_n(v, vlen);
        } else if (!(name_len == 5 && memcmp(p, "retry", 5) == 0)) {
            free(ev->comment);
            ev->comment = dup_n(p, len);
            return DM_E2E_PROTO;
        }
        p += len + 1;
    }
    return 0;
}

int dm_e2e_sse_next(dm_e2e_conn *c, dm_e2e_sse_event *ev, int timeout_ms)
{
    memset(ev, 0, sizeof *ev);
    long long deadline = dm_e2e_now_ms() + timeout_ms;
    for (;;) {
        /* A stream may open with the blank line of an earlier block cut
         * short; only "\n\n" ends a block. */
        const char *end = c->len > 0 ? strstr(c->buf, "\n\n") : NULL;
        if (end != NULL) {
            size_t n = (size_t)(end - c->buf);
            int rc = parse_block(c->buf, n, ev);
            dm_e2e_consume(c, n + 2);
            if (ev->event == NULL)
                ev->event = dup_n("", 0);
            return rc;
        }
        if (c->eof)
            return DM_E2E_CLOSED;
        int rc = dm_e2e_fill(c, deadline);
        if (rc != 0)
            return rc;
    }
}

void dm_e2e_sse_event_free(dm_e2e_sse_event *ev)
{
    free(ev->event);
    free(ev->id);
    free(ev->data);
    free(ev->comment);
    memset(ev, 0, sizeof *ev);
}

const char *dm_e2e_sse_describe(const dm_e2e_sse_event *ev)
{
    static char out[1024];
    snprintf(out, sizeof out, "id=%s event=\"%s\" data=%s%.600s%s comment=%s%.200s%s", ev->id != NULL ? ev->id : "-",
             ev->event != NULL ? ev->event : "",
             ev->data != NULL ? "\"" : "", ev->data != NULL ? ev->data : "(none)", ev->data != NULL ? "\"" : "",
             ev->comment != NULL ? "\"" : "", ev->comment != NULL ? ev->comment : "(none)",
             ev->comment != NULL ? "\"" : "");
    return out;
}
