/*
 * ws_client.c — a raw WebSocket client for in-process tests (ws_client.h).
 */
#include "ws_client.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/sockios.h>
#include <netinet/tcp.h>

#include "dm_test.h"
#include "http/conn.h"
#include "util/clock.h"

static const uint8_t MASK[4] = { 0x37, 0xfa, 0x21, 0x3d }; /* RFC 6455's example */

static int64_t now_ms(void)
{
    return dm__clock_mono_ms();
}

void dm_wsc_open(dm_wsc *c, dm_inproc *srv, int rcvbuf)
{
    memset(c, 0, sizeof *c);
    c->srv = srv;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_msg(c->fd >= 0, "socket: %s", strerror(errno));
    if (rcvbuf > 0)
        ck_assert(setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) == 0);
    int one = 1; /* small pieces go out at once, not after the server's delayed ACK */
    ck_assert(setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
    /* A loopback connect completes in the listener's backlog, before the
     * loop accepts it: blocking here cannot deadlock. */
    ck_assert_msg(connect(c->fd, (const struct sockaddr *)&srv->addr, sizeof srv->addr) == 0, "connect: %s",
                  strerror(errno));
    ck_assert(fcntl(c->fd, F_SETFL, O_NONBLOCK) == 0);
}

void dm_wsc_close(dm_wsc *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->in);
    c->in = NULL;
    c->in_len = c->in_cap = 0;
}

void dm_wsc_send(dm_wsc *c, const void *data, size_t len)
{
    const char *p = data;
    int64_t deadline = now_ms() + DM_WSC_T_MS;
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return; /* the server is gone: what it said is still to be read */
        ck_assert_msg(now_ms() < deadline, "the server took none of %zu bytes for %d ms", len, DM_WSC_T_MS);
        dm_inproc_step(c->srv, c->fd, true, 50);
    }
}

/* Bytes of ours the server has not read yet (0 once its connection is gone). */
static int unread(dm_wsc *c)
{
    struct dm_conn *sc = dm_inproc_conn_of(c->srv, c->fd);
    uv_os_fd_t sfd;
    int in_server = 0, unsent = 0;
    if (sc == NULL || uv_fileno((uv_handle_t *)&sc->tcp, &sfd) != 0)
        return 0;
    if (ioctl(sfd, FIONREAD, &in_server) != 0 || ioctl(c->fd, SIOCOUTQNSD, &unsent) != 0)
        return 0;
    return in_server + unsent;
}

void dm_wsc_send_synced(dm_wsc *c, const void *data, size_t len)
{
    dm_wsc_send(c, data, len);
    int64_t deadline = now_ms() + DM_WSC_T_MS;
    int left;
    while ((left = unread(c)) > 0) {
        ck_assert_msg(now_ms() < deadline, "the server left %d bytes unread for %d ms", left, DM_WSC_T_MS);
        dm_inproc_step(c->srv, -1, false, 5);
    }
}

/* Receive what is there now; false when nothing was. */
static bool recv_some(dm_wsc *c)
{
    if (c->in_cap - c->in_len < 65536) {
        size_t cap = c->in_cap * 2 + 65536;
        uint8_t *more = realloc(c->in, cap + 1);
        ck_assert(more != NULL);
        c->in = more;
        c->in_cap = cap;
    }
    ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    if (n > 0) {
        c->in_len += (size_t)n;
        c->in[c->in_len] = 0;
        return true;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        c->eof = true; /* FIN or reset */
    return n == 0;
}

bool dm_wsc_fill(dm_wsc *c, size_t want, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    while (c->in_len < want && !c->eof) {
        if (recv_some(c))
            continue;
        if (now_ms() >= deadline)
            break;
        dm_inproc_step(c->srv, c->fd, false, 20);
    }
    return c->in_len >= want;
}

void dm_wsc_consume(dm_wsc *c, size_t n)
{
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
}

char *dm_wsc_request(dm_wsc *c, const char *request)
{
    dm_wsc_send(c, request, strlen(request));
    int64_t deadline = now_ms() + DM_WSC_T_MS;
    for (;;) {
        const uint8_t *end = c->in_len > 0 ? memmem(c->in, c->in_len, "\r\n\r\n", 4) : NULL;
        if (end != NULL) {
            char *head = strndup((const char *)c->in, (size_t)(end - c->in));
            dm_wsc_consume(c, (size_t)(end - c->in) + 4);
            return head;
        }
        int left = (int)(deadline - now_ms());
        if (left <= 0 || !dm_wsc_fill(c, c->in_len + 1, left))
            return NULL;
    }
}

char *dm_wsc_handshake_text(const char *path, const char *extra)
{
    char *text = NULL;
    ck_assert(asprintf(&text,
                       "GET %s HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                       path, extra != NULL ? extra : "") > 0);
    return text;
}

void dm_wsc_handshake(dm_wsc *c, const char *path)
{
    char *req = dm_wsc_handshake_text(path, NULL);
    char *head = dm_wsc_request(c, req);
    free(req);
    ck_assert_msg(head != NULL, "no answer to the handshake on %s", path);
    ck_assert_msg(strncmp(head, "HTTP/1.1 101 Switching Protocols\r\n", 34) == 0, "handshake on %s: %s", path,
                  head);
    ck_assert_msg(strstr(head, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != NULL,
                  "wrong or missing accept value: %s", head);
    free(head);
}

size_t dm_wsc_build(uint8_t *out, uint8_t first_byte, bool masked, const void *payload, size_t len)
{
    size_t n = 0;
    out[n++] = first_byte;
    uint8_t m = masked ? 0x80 : 0;
    if (len < 126) {
        out[n++] = (uint8_t)(m | len);
    } else if (len <= 0xFFFF) {
        out[n++] = m | 126;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = m | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    if (masked) {
        memcpy(out + n, MASK, 4);
        n += 4;
    }
    const uint8_t *p = payload;
    for (size_t i = 0; i < len; i++)
        out[n + i] = masked ? (uint8_t)(p[i] ^ MASK[i & 3]) : p[i];
    return n + len;
}

void dm_wsc_send_frame(dm_wsc *c, bool fin, int opcode, const void *payload, size_t len)
{
    uint8_t *f = malloc(len + 14);
    ck_assert(f != NULL);
    size_t n = dm_wsc_build(f, (uint8_t)((fin ? 0x80 : 0) | opcode), true, payload, len);
    dm_wsc_send(c, f, n);
    free(f);
}

bool dm_wsc_read_frame(dm_wsc *c, dm_wsc_frame *f, int timeout_ms)
{
    memset(f, 0, sizeof *f);
    int64_t deadline = now_ms() + timeout_ms;
    if (!dm_wsc_fill(c, 2, timeout_ms))
        return false;
    uint8_t l7 = c->in[1] & 0x7F;
    f->masked = (c->in[1] & 0x80) != 0;
    size_t need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + (f->masked ? 4 : 0);
    if (!dm_wsc_fill(c, need, (int)(deadline - now_ms())))
        return false;
    uint64_t len = l7;
    if (l7 >= 126) {
        len = 0;
        for (size_t i = 2; i < (l7 == 126 ? 4u : 10u); i++)
            len = (len << 8) | c->in[i];
    }
    ck_assert_msg(len < 64u * 1024 * 1024, "a server frame of %llu bytes", (unsigned long long)len);
    if (!dm_wsc_fill(c, need + (size_t)len, (int)(deadline - now_ms())))
        return false;
    f->fin = (c->in[0] & 0x80) != 0;
    f->rsv = (c->in[0] >> 4) & 7;
    f->opcode = c->in[0] & 0x0F;
    f->len = (size_t)len;
    f->header_len = need;
    f->payload = malloc(f->len + 1);
    ck_assert(f->payload != NULL);
    memcpy(f->payload, c->in + need, f->len);
    f->payload[f->len] = 0;
    dm_wsc_consume(c, need + f->len);
    return true;
}

void dm_wsc_frame_free(dm_wsc_frame *f)
{
    free(f->payload);
    f->payload = NULL;
}

/* The next frame, which must be a final, unmasked frame with no reserved bit. */
static void next_frame(dm_wsc *c, dm_wsc_frame *f, const char *what)
{
    ck_assert_msg(dm_wsc_read_frame(c, f, DM_WSC_T_MS), "%s: no frame came (%s)", what,
                  c->eof ? "the server closed" : "timeout");
    ck_assert_msg(f->fin && f->rsv == 0 && !f->masked, "%s: a server frame with fin %d rsv %d masked %d", what,
                  f->fin, f->rsv, f->masked);
}

void dm_wsc_expect_message(dm_wsc *c, int opcode, const void *payload, size_t len)
{
    dm_wsc_frame f;
    next_frame(c, &f, "expected a message");
    ck_assert_msg(f.opcode == opcode, "opcode %d, expected %d (payload %.60s)", f.opcode, opcode, f.payload);
    ck_assert_msg(f.len == len, "%zu bytes, expected %zu", f.len, len);
    ck_assert_msg(len == 0 || memcmp(f.payload, payload, len) == 0, "the payload differs");
    dm_wsc_frame_free(&f);
}

void dm_wsc_expect_close(dm_wsc *c, int code, const char *reason)
{
    dm_wsc_frame f;
    next_frame(c, &f, "expected a close");
    ck_assert_msg(f.opcode == 0x8, "opcode %d, expected a close (payload %.60s)", f.opcode, f.payload);
    ck_assert_msg(f.len >= 2, "a close frame without a code");
    int got = (f.payload[0] << 8) | f.payload[1];
    ck_assert_msg(got == code, "close code %d (%.*s), expected %d", got, (int)f.len - 2, f.payload + 2, code);
    if (reason != NULL)
        ck_assert_msg(f.len - 2 == strlen(reason) && memcmp(f.payload + 2, reason, f.len - 2) == 0,
                      "close reason \"%.*s\", expected \"%s\"", (int)f.len - 2, f.payload + 2, reason);
    dm_wsc_frame_free(&f);
}

bool dm_wsc_wait_eof(dm_wsc *c, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    while (!c->eof) {
        if (recv_some(c))
            continue;
        if (now_ms() >= deadline)
            return false;
        dm_inproc_step(c->srv, c->fd, false, 20);
    }
    return true;
}
