/*
 * fuzz_ws.c — WebSocket frames from a client. The input is what a client
 * sends after its opening handshake. First the frame parser alone
 * (core/http/ws_frame.c): fed whole and fed in pieces it must give the same
 * events, and every event must keep the protocol's promises. Then the whole
 * path: an in-process server (tests/support/inproc.c) with an echo
 * WebSocket route gets the handshake and the input over loopback, cut into
 * pieces; what it sends back must be the 101 and then exactly the frames the
 * parser's events call for (an echo per message, a pong per ping, one close
 * with the right code), and its owner must hear the same close code.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_support.h"
#include "http/ws.h"
#include "http/ws_frame.h"
#include "inproc.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/utf8.h"

#define FUZZ_MAX_INPUT (64u * 1024u)
#define MAX_MESSAGE 4096u
#define MAX_EVENTS 16384 /* an input of 64 KiB holds at most 10923 frames */
#define MAX_OUTPUT (1024u * 1024u)
#define DEADLINE_MS 10000
static const char config_json[] =
    "{\"server\":{\"listen\":\"127.0.0.1\",\"port\":1,\"maxConnections\":8,"
    "\"headerTimeoutMs\":2000,\"idleTimeoutMs\":2000,\"shutdownGraceMs\":0,"
    "\"wsMaxMessageBytes\":4096,\"wsIdleTimeoutMs\":0,\"wsCloseTimeoutMs\":2000},"
    "\"database\":{\"url\":\"postgresql://127.0.0.1:1/x\",\"workers\":1,\"migrateOnStart\":false}}";

static const char handshake[] =
    "GET /ws HTTP/1.1\r\nHost: f\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/* One event of the parser, or one frame of the server, reduced to what is
 * compared: its kind, code, length and a hash of its payload. */
typedef struct rec {
    int      type;
    int      code;
    size_t   len;
    uint64_t hash;
} rec;

/* ---- the parser alone --------------------------------------------------- */

/* UTF-8 judged by util/utf8.c, not by the parser's own check (U+0000 is
 * well-formed in a WebSocket text, unlike in util's NUL-terminated world). */
static bool utf8_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t l = s[i] == '\0' ? 1 : dm__utf8_seq_len((const unsigned char *)s + i, n - i);
        if (l == 0)
            return false;
        i += l;
    }
    return true;
}

static void check_event(const dm_ws_event *ev)
{
    switch (ev->type) {
    case DM_WS_EV_TEXT:
        FUZZ_CHECK(utf8_ok(ev->data, ev->len), "a text message that is not UTF-8 (%zu bytes)", ev->len);
        FUZZ_CHECK(ev->len <= MAX_MESSAGE, "a message of %zu bytes", ev->len);
        break;
    case DM_WS_EV_BINARY:
        FUZZ_CHECK(ev->len <= MAX_MESSAGE, "a message of %zu bytes", ev->len);
        break;
    case DM_WS_EV_PING:
    case DM_WS_EV_PONG:
        FUZZ_CHECK(ev->len <= DM_WS_CONTROL_MAX, "a control payload of %zu bytes", ev->len);
        break;
    case DM_WS_EV_CLOSE:
        FUZZ_CHECK(ev->code == DM_WS_CLOSE_NO_STATUS || dm__ws_close_code_valid(ev->code), "close code %d",
                   ev->code);
        FUZZ_CHECK(utf8_ok(ev->data, ev->len) && ev->len <= DM_WS_REASON_MAX, "a bad close reason");
        break;
    case DM_WS_EV_ERROR:
        FUZZ_CHECK(ev->code == 1002 || ev->code == 1007 || ev->code == 1009, "error code %d", ev->code);
        FUZZ_CHECK(ev->why != NULL && strlen(ev->why) <= DM_WS_REASON_MAX, "an error without a short reason");
        break;
    case DM_WS_EV_NONE:
        break;
    }
}

/* Parse data in the pieces cuts make (none: whole); record the events up to
 * the first close or error. Returns how many. */
static size_t parse_all(const uint8_t *data, size_t size, const size_t *cuts, size_t n_cuts, rec *out)
{
    dm_ws_parser p;
    dm__ws_parser_init(&p, MAX_MESSAGE);
    size_t n = 0, start = 0;
    bool over = false;
    for (size_t c = 0; c <= n_cuts && !over; c++) {
        size_t end = c < n_cuts ? cuts[c] : size;
        const char *at = (const char *)data + start;
        size_t left = end - start;
        start = end;
        while (left > 0 && !over) {
            dm_ws_event ev;
            size_t used = dm__ws_parse(&p, at, left, &ev);
            FUZZ_CHECK(used <= left, "used %zu of %zu", used, left);
            FUZZ_CHECK(used > 0 || ev.type != DM_WS_EV_NONE, "no progress and no event");
            at += used;
            left -= used;
            if (ev.type == DM_WS_EV_NONE)
                continue;
            check_event(&ev);
            FUZZ_CHECK(n < MAX_EVENTS, "more than %d events", MAX_EVENTS);
            out[n++] = (rec){ ev.type, ev.code, ev.len, fuzz_hash(ev.data, ev.len) };
            over = ev.type == DM_WS_EV_CLOSE || ev.type == DM_WS_EV_ERROR;
        }
    }
    if (over && out[n - 1].type == DM_WS_EV_ERROR) { /* an error sticks */
        dm_ws_event again;
        FUZZ_CHECK(dm__ws_parse(&p, "\x81", 1, &again) == 0 && again.type == DM_WS_EV_ERROR, "error forgotten");
    }
    dm__ws_parser_fini(&p);
    return n;
}

/* ---- the server ------------------------------------------------------------ */

static dm_inproc srv;
static int last_close = -1; /* what the owner heard */

static void echo(dm_ws *ws, void *ctx, bool binary, const char *data, size_t len)
{
    (void)ctx;
    FUZZ_CHECK(dm__ws_send(ws, binary, data, len) == 0, "an echo was refused");
}

static void closed(dm_ws *ws, void *ctx, int code)
{
    (void)ws;
    (void)ctx;
    last_close = code;
}

static const dm_ws_handler handler = { echo, closed, NULL };

static void route(dm_request *r)
{
    (void)dm__ws_upgrade(r, &handler, NULL, NULL);
}

static int add_routes(dm_router *rt)
{
    return dm__router_add(rt, "GET", "/ws", route, DM_ROUTE_LOOP);
}

static void teardown(void)
{
    dm_inproc_free(&srv);
}

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    dm__log_set_level(getenv("DM_FUZZ_VERBOSE") != NULL ? DM_LOG_DEBUG : DM_LOG_ERROR);
    char err[256];
    FUZZ_CHECK(dm_inproc_start(&srv, config_json, add_routes, err, sizeof err) == 0, "server: %s", err);
    atexit(teardown);
}

static void check_deadline(uint64_t deadline, const char *what)
{
    FUZZ_CHECK(dm__clock_mono_ns() < deadline, "%s within %d ms", what, DEADLINE_MS);
}

/* Send the handshake and the input in pieces, half-close, and read until
 * the server closes; then wait until it has let the connection go. */
static size_t converse(const uint8_t *data, size_t size, const size_t *cuts, size_t n_cuts, char *out)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    FUZZ_CHECK(fd >= 0, "socket: %s", strerror(errno));
    FUZZ_CHECK(connect(fd, (const struct sockaddr *)&srv.addr, sizeof srv.addr) == 0, "connect: %s",
               strerror(errno));
    FUZZ_CHECK(fcntl(fd, F_SETFL, O_NONBLOCK) == 0, "fcntl");
    uint64_t deadline = dm__clock_mono_ns() + (uint64_t)DEADLINE_MS * 1000000u;
    size_t hs = sizeof handshake - 1, total = hs + size, off = 0, next = 0, got = 0;
    bool wr_done = false, eof = false;
    while (!eof) {
        if (!wr_done && off < total) {
            while (next < n_cuts && hs + cuts[next] <= off)
                next++;
            size_t end = next < n_cuts ? hs + cuts[next] : total;
            const char *src = off < hs ? handshake + off : (const char *)data + (off - hs);
            size_t len = off < hs ? hs - off : end - off;
            ssize_t w = send(fd, src, len, MSG_NOSIGNAL);
            if (w > 0)
                off += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                wr_done = true; /* the server is gone */
        }
        if (!wr_done && off == total) {
            shutdown(fd, SHUT_WR);
            wr_done = true;
        }
        ssize_t n = recv(fd, out + got, MAX_OUTPUT - got, 0);
        if (n > 0) {
            got += (size_t)n;
            FUZZ_CHECK(got < MAX_OUTPUT, "more than %u bytes back", MAX_OUTPUT);
            continue;
        }
        eof = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
        if (!eof) {
            check_deadline(deadline, "the server closes");
            dm_inproc_step(&srv, fd, !wr_done, 50);
        }
    }
    close(fd);
    while (srv.s.n_conns > 0) {
        check_deadline(deadline, "the server lets the connection go");
        dm_inproc_step(&srv, -1, false, 50);
    }
    return got;
}

/* The frames the server must send for the parser's events. */
static size_t expected_frames(const rec *ev, size_t n, rec *want)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        switch (ev[i].type) {
        case DM_WS_EV_TEXT:
            want[k++] = (rec){ DM_WS_OP_TEXT, 0, ev[i].len, ev[i].hash };
            break;
        case DM_WS_EV_BINARY:
            want[k++] = (rec){ DM_WS_OP_BINARY, 0, ev[i].len, ev[i].hash };
            break;
        case DM_WS_EV_PING:
            want[k++] = (rec){ DM_WS_OP_PONG, 0, ev[i].len, ev[i].hash };
            break;
        case DM_WS_EV_CLOSE:
            want[k++] = (rec){ DM_WS_OP_CLOSE, ev[i].code == DM_WS_CLOSE_NO_STATUS ? 1000 : ev[i].code, 0, 0 };
            break;
        case DM_WS_EV_ERROR:
            want[k++] = (rec){ DM_WS_OP_CLOSE, ev[i].code, 0, 0 };
            break;
        default:
            break;
        }
    }
    return k;
}

/* Split the server's answer into the 101 and its frames, checking each. */
static size_t server_frames(const char *out, size_t len, rec *got)
{
    static const char ok[] = "HTTP/1.1 101 Switching Protocols\r\n";
    FUZZ_CHECK(len >= sizeof ok - 1 && memcmp(out, ok, sizeof ok - 1) == 0, "no 101: %.40s", out);
    const char *end = memmem(out, len, "\r\n\r\n", 4);
    FUZZ_CHECK(end != NULL, "the 101 never ends");
    static const char accept[] = "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
    FUZZ_CHECK(memmem(out, (size_t)(end - out) + 2, accept, sizeof accept - 1) != NULL, "a wrong accept value");
    const uint8_t *p = (const uint8_t *)end + 4, *stop = (const uint8_t *)out + len;
    size_t n = 0;
    while (p < stop) {
        FUZZ_CHECK(stop - p >= 2, "a frame cut short");
        FUZZ_CHECK((p[0] & 0xF0) == 0x80 && (p[1] & 0x80) == 0, "first bytes %02x %02x: not final or masked",
                   p[0], p[1]);
        size_t l = p[1] & 0x7F, h = l == 126 ? 4 : l == 127 ? 10 : 2;
        FUZZ_CHECK((size_t)(stop - p) >= h, "a header cut short");
        if (l >= 126) {
            l = 0;
            for (size_t i = 2; i < h; i++)
                l = (l << 8) | p[i];
        }
        FUZZ_CHECK(h == dm__ws_header_len(l), "a length of %zu in a %zu-byte header", l, h);
        FUZZ_CHECK((size_t)(stop - p) - h >= l, "a payload cut short");
        FUZZ_CHECK(n == 0 || got[n - 1].type != DM_WS_OP_CLOSE, "a frame after the close");
        int op = p[0] & 0x0F;
        rec r = { op, 0, l, fuzz_hash(p + h, l) };
        if (op == DM_WS_OP_CLOSE) {
            FUZZ_CHECK(l >= 2, "a close without a code");
            r = (rec){ op, (p[h] << 8) | p[h + 1], 0, 0 };
        }
        got[n++] = r;
        p += h + l;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready = false;
    static rec whole[MAX_EVENTS], pieces[MAX_EVENTS], want[MAX_EVENTS], got[MAX_EVENTS];
    static char out[MAX_OUTPUT];
    if (!ready) {
        setup();
        ready = true;
    }
    if (size > FUZZ_MAX_INPUT)
        return 0;
    size_t cuts[FUZZ_MAX_CUTS];
    size_t n_cuts = fuzz_plan_cuts(data, size, cuts);
    size_t n = parse_all(data, size, NULL, 0, whole);
    size_t m = parse_all(data, size, cuts, n_cuts, pieces);
    FUZZ_CHECK(n == m && memcmp(whole, pieces, n * sizeof whole[0]) == 0,
               "%zu events whole, %zu in %zu pieces", n, m, n_cuts + 1);

    last_close = -1;
    size_t len = converse(data, size, cuts, n_cuts, out);
    size_t k = expected_frames(whole, n, want);
    size_t g = server_frames(out, len, got);
    if (getenv("DM_FUZZ_VERBOSE") != NULL)
        fprintf(stderr, "---- %zu events, %zu frames expected, %zu came, close %d\n", n, k, g, last_close);
    FUZZ_CHECK(g == k, "%zu frames from the server, %zu expected", g, k);
    for (size_t i = 0; i < k; i++)
        FUZZ_CHECK(memcmp(&got[i], &want[i], sizeof got[i]) == 0, "frame %zu: op %d code %d len %zu, expected op %d "
                   "code %d len %zu", i, got[i].type, got[i].code, got[i].len, want[i].type, want[i].code, want[i].len);
    int heard = n == 0 || (whole[n - 1].type != DM_WS_EV_CLOSE && whole[n - 1].type != DM_WS_EV_ERROR)
                    ? DM_WS_CLOSE_ABNORMAL
                    : whole[n - 1].code;
    FUZZ_CHECK(last_close == heard, "the owner heard close %d, expected %d", last_close, heard);
    return 0;
}
