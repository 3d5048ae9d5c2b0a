/*
 * test_ws.c — WebSocket connections over real loopback sockets against an
 * in-process server (tests/support/ws_testserver.c), byte for byte: the
 * opening handshake and its refusals, echo of text and binary, the length
 * forms, fragmentation with pings between fragments, the close handshake
 * both ways, the idle timeout, draining, back-pressure and the bound on
 * queued bytes, and metrics. Protocol errors and split frames are in
 * test_ws_errors.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dm_test.h"
#include "http/conn.h"
#include "http/ws_handshake.h"
#include "ops/metrics.h"
#include "util/clock.h"
#include "ws_client.h"
#include "ws_testserver.h"

static dm_wsc cl, cl2;

static void setup(void)
{
    cl.fd = cl2.fd = -1;
    wst_start(WST_CLOSE_MS);
}

/* For the tests that wait for the close timeout. */
static void setup_short(void)
{
    cl.fd = cl2.fd = -1;
    wst_start(WST_CLOSE_SHORT_MS);
}

static void teardown(void)
{
    dm_wsc_close(&cl);
    dm_wsc_close(&cl2);
    wst_stop();
}

static void open_ws(dm_wsc *c, const char *path)
{
    dm_wsc_open(c, &wst_srv, 0);
    dm_wsc_handshake(c, path);
}

/* The client answers the server's close and the server ends the connection. */
static void finish_close(dm_wsc *c, int code)
{
    uint8_t payload[2] = { (uint8_t)(code >> 8), (uint8_t)code };
    dm_wsc_send_frame(c, true, 0x8, payload, 2);
    ck_assert_msg(dm_wsc_wait_eof(c, DM_WSC_T_MS), "the server kept the connection after both closes");
}

static bool metric_has(const char *line)
{
    dm_buf out;
    dm__buf_init(&out, 0);
    ck_assert_int_eq(dm__metrics_render(&wst_srv.s.metrics, &out), 0);
    bool found = out.data != NULL && strstr(out.data, line) != NULL;
    dm__buf_free(&out);
    return found;
}

/* ---- handshake ------------------------------------------------------------ */

START_TEST(accept_values)
{
    static const char *const pairs[][2] = {
        { "dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" }, /* RFC 6455 1.3 */
        { "x3JJHMbDL1EzLkh9GBhXDw==", "HSmrc0sMlYUkAGmm5OPpG2HaGWk=" },
        { "AAAAAAAAAAAAAAAAAAAAAA==", "ICX+Yqv66kxgM0FcWaLWlFLwTAI=" },
        { "/////////////////////w==", "XXpj4jYzLM2yUE0C7TIgMwTQh2g=" },
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        char out[DM_WS_ACCEPT_LEN + 1];
        ck_assert_int_eq(dm__ws_accept_value(pairs[i][0], out), 0);
        ck_assert_msg(strcmp(out, pairs[i][1]) == 0, "accept for %s: %s, expected %s", pairs[i][0], out,
                      pairs[i][1]);
    }
}
END_TEST

START_TEST(handshake_answers_101)
{
    dm_wsc_open(&cl, &wst_srv, 0);
    char *req = dm_wsc_handshake_text("/ws/echo", "Origin: https://app.example.com\r\n");
    char *head = dm_wsc_request(&cl, req);
    ck_assert_ptr_nonnull(head);
    ck_assert_msg(strncmp(head, "HTTP/1.1 101 Switching Protocols\r\n", 34) == 0, "%s", head);
    ck_assert_msg(strstr(head, "\r\nUpgrade: websocket") != NULL, "%s", head);
    ck_assert_msg(strstr(head, "\r\nConnection: Upgrade") != NULL, "%s", head);
    ck_assert_msg(strstr(head, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != NULL, "%s", head);
    ck_assert_msg(strstr(head, "Connection: close") == NULL && strstr(head, "Content-Length") == NULL, "%s",
                  head);
    free(head);
    free(req);
    dm_wsc_send_frame(&cl, true, 0x1, "hi", 2);
    dm_wsc_expect_message(&cl, 0x1, "hi", 2);
}
END_TEST

static const struct {
    const char *what;
    const char *request;
    int         status;
    bool        closes; /* the request asked to upgrade: the connection ends */
} refusals[] = {
    { "no Upgrade", "GET /ws/echo HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
      "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, false },
    { "Upgrade: h2c", "GET /ws/echo HTTP/1.1\r\nHost: t\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, true },
    { "no Connection: upgrade", "GET /ws/echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: "
      "keep-alive\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, false },
    { "no version", "GET /ws/echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", 400, true },
    { "version 8", "GET /ws/echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n", 426, true },
    { "no key", "GET /ws/echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n", 400, true },
    { "key of 15 bytes", "GET /ws/echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, true },
    { "key not base64", "GET /ws/echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ!==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, true },
    { "two keys", "GET /ws/echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n", 400, true },
    { "HTTP/1.0", "GET /ws/echo HTTP/1.0\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, true },
    { "Origin not allowed", "GET /ws/echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
      "Origin: https://evil.example\r\n\r\n", 403, true },
    { "Origin of another host", "GET /ws/echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
      "Origin: http://t.evil.example\r\n\r\n", 403, true },
    { "Origin of the Host on another scheme", "GET /ws/echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
      "Origin: ftp://t\r\n\r\n", 403, true },
    { "Origin http when the trusted proxy says https", "GET /ws/echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
      "X-Forwarded-Proto: https\r\nOrigin: http://t\r\n\r\n", 403, true },
    { "Origin https when the trusted proxy says http", "GET /ws/echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
      "Forwarded: for=203.0.113.7;proto=http\r\nOrigin: https://t\r\n\r\n", 403, true },
    { "a route that refuses", "GET /ws/refuse HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 401, true },
    { "a pool route", "GET /ws/pool HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 500, true },
};

START_TEST(handshake_refused)
{
    int i = _i;
    dm_wsc_open(&cl, &wst_srv, 0);
    char *head = dm_wsc_request(&cl, refusals[i].request);
    ck_assert_msg(head != NULL, "%s: no answer", refusals[i].what);
    char want[32];
    snprintf(want, sizeof want, "HTTP/1.%c %d ", refusals[i].request[strcspn(refusals[i].request, "\r") - 1],
             refusals[i].status);
    ck_assert_msg(strncmp(head, want, strlen(want)) == 0, "%s: %s", refusals[i].what, head);
    if (refusals[i].status == 426)
        ck_assert_msg(strstr(head, "\r\nSec-WebSocket-Version: 13") != NULL, "426 without the version: %s", head);
    if (refusals[i].closes) /* and nothing after the answer could pass for frames */
        ck_assert_msg(dm_wsc_wait_eof(&cl, DM_WSC_T_MS), "%s: the connection stayed open", refusals[i].what);
    free(head);
    ck_assert_int_eq(wst.n_closes, 0);
    ck_assert_int_eq(wst.n_open, 0);
}
END_TEST

START_TEST(handshake_token_lists_and_allowed_origin)
{
    dm_wsc_open(&cl, &wst_srv, 0);
    char *req = dm_wsc_handshake_text("/ws/echo", "Origin: https://app.example.com\r\n");
    /* Connection may list other tokens; Upgrade is matched without case. */
    char *p = strstr(req, "Connection: Upgrade");
    ck_assert_ptr_nonnull(p);
    char *fixed = NULL;
    ck_assert(asprintf(&fixed, "%.*sConnection: keep-alive, UPGRADE%s", (int)(p - req), req,
                       p + strlen("Connection: Upgrade")) > 0);
    char *head = dm_wsc_request(&cl, fixed);
    ck_assert_msg(head != NULL && strncmp(head, "HTTP/1.1 101 ", 13) == 0, "%s", head);
    free(head);
    free(fixed);
    free(req);
}
END_TEST

/* A page this server sent (Origin is the Host it asked) needs no entry in
 * server.corsOrigins: the log page connects from there. Over either scheme
 * unless a trusted proxy (the test server trusts 127.0.0.1) names one. */
START_TEST(handshake_same_origin)
{
    static const char *const origins[] = { "Origin: http://t\r\n", "Origin: https://T\r\n",
                                           "Origin: https://t\r\nX-Forwarded-Proto: https\r\n",
                                           "Origin: http://t\r\nX-Forwarded-Proto: http\r\n" };
    for (size_t i = 0; i < sizeof origins / sizeof origins[0]; i++) {
        dm_wsc_open(&cl, &wst_srv, 0);
        char *req = dm_wsc_handshake_text("/ws/echo", origins[i]);
        char *head = dm_wsc_request(&cl, req);
        ck_assert_msg(head != NULL && strncmp(head, "HTTP/1.1 101 ", 13) == 0, "%s: %s", origins[i], head);
        free(head);
        free(req);
        dm_wsc_close(&cl);
    }
}
END_TEST

/* Frames the client sent right behind its handshake, before the 101: they
 * are the WebSocket's; a pipelined HTTP request is not a frame (1002). */
START_TEST(bytes_behind_the_handshake)
{
    uint8_t frame[32];
    size_t n = dm_wsc_build(frame, 0x81, true, "early", 5);
    char *req = dm_wsc_handshake_text("/ws/echo", NULL);
    size_t rlen = strlen(req);
    char *both = malloc(rlen + n);
    memcpy(both, req, rlen);
    memcpy(both + rlen, frame, n);
    dm_wsc_open(&cl, &wst_srv, 0);
    dm_wsc_send(&cl, both, rlen + n);
    ck_assert(dm_wsc_fill(&cl, 4, DM_WSC_T_MS));
    char *head = dm_wsc_request(&cl, "");
    ck_assert_msg(head != NULL && strncmp(head, "HTTP/1.1 101 ", 13) == 0, "%s", head);
    free(head);
    dm_wsc_expect_message(&cl, 0x1, "early", 5);

    static const char pipelined[] = "GET /ws/echo HTTP/1.1\r\nHost: t\r\n\r\n";
    char *two = NULL;
    ck_assert(asprintf(&two, "%s%s", req, pipelined) > 0);
    dm_wsc_open(&cl2, &wst_srv, 0);
    head = dm_wsc_request(&cl2, two);
    ck_assert_msg(head != NULL && strncmp(head, "HTTP/1.1 101 ", 13) == 0, "%s", head);
    dm_wsc_expect_close(&cl2, 1002, NULL);
    ck_assert(dm_wsc_wait_eof(&cl2, DM_WSC_T_MS));
    ck_assert_msg(cl2.in_len == 0, "bytes after the close: %.40s", cl2.in);
    free(head);
    free(two);
    free(both);
    free(req);
}
END_TEST

/* ---- messages ------------------------------------------------------------- */

START_TEST(echo_text_and_binary)
{
    open_ws(&cl, "/ws/echo");
    dm_wsc_send_frame(&cl, true, 0x1, "hello, 世界", strlen("hello, 世界"));
    dm_wsc_expect_message(&cl, 0x1, "hello, 世界", strlen("hello, 世界"));
    dm_wsc_send_frame(&cl, true, 0x1, "", 0);
    dm_wsc_expect_message(&cl, 0x1, "", 0);
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    dm_wsc_send_frame(&cl, true, 0x2, all, sizeof all);
    dm_wsc_expect_message(&cl, 0x2, all, sizeof all);
    dm_wsc_send_frame(&cl, true, 0x1, "a\0b", 3); /* U+0000 is UTF-8 */
    dm_wsc_expect_message(&cl, 0x1, "a\0b", 3);
}
END_TEST

/* Each length form both ways: 7-bit, 16-bit, 64-bit, at their edges. */
START_TEST(echo_length_forms)
{
    static const size_t lens[] = { 125, 126, 65535, 65536, 200000 };
    static const size_t header[] = { 2, 4, 4, 10, 10 };
    open_ws(&cl, "/ws/echo");
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t *p = malloc(lens[i]);
        for (size_t j = 0; j < lens[i]; j++)
            p[j] = (uint8_t)(j * 7 + i);
        dm_wsc_send_frame(&cl, true, 0x2, p, lens[i]);
        dm_wsc_frame f;
        ck_assert(dm_wsc_read_frame(&cl, &f, DM_WSC_T_MS));
        /* An echo above the high-water mark (a quarter of the bound) is
         * followed by the test server's "drained" once it is written. */
        ck_assert_msg(f.len == lens[i] && memcmp(f.payload, p, lens[i]) == 0, "%zu bytes came back wrong", lens[i]);
        if (lens[i] + header[i] > WST_MAX_BUFFERED / 4) {
            dm_wsc_frame d;
            ck_assert(dm_wsc_read_frame(&cl, &d, DM_WSC_T_MS));
            ck_assert_msg(d.opcode == 0x1 && d.len == 7 && memcmp(d.payload, "drained", 7) == 0,
                          "after %zu bytes: opcode %d, %zu bytes", lens[i], d.opcode, d.len);
            dm_wsc_frame_free(&d);
        }
        ck_assert_msg(f.header_len == header[i], "a %zu-byte frame with a %zu-byte header", lens[i], f.header_len);
        dm_wsc_frame_free(&f);
        free(p);
    }
}
END_TEST

/* A text message in fragments with pings between them, a UTF-8 sequence
 * cut across two fragments: pongs first, in order, then the message. */
START_TEST(fragmented_with_pings)
{
    open_ws(&cl, "/ws/echo");
    dm_wsc_send_frame(&cl, false, 0x1, "grüß \xe2\x82", strlen("grüß \xe2\x82")); /* € cut after two bytes */
    dm_wsc_send_frame(&cl, true, 0x9, "p1", 2);
    dm_wsc_send_frame(&cl, false, 0x0, "\xac ", 2);
    dm_wsc_send_frame(&cl, false, 0x0, "", 0);
    dm_wsc_send_frame(&cl, true, 0xA, "unsolicited", 11); /* a pong nobody asked for: ignored */
    dm_wsc_send_frame(&cl, true, 0x9, "p2", 2);
    dm_wsc_send_frame(&cl, true, 0x0, "end", 3);
    dm_wsc_expect_message(&cl, 0xA, "p1", 2);
    dm_wsc_expect_message(&cl, 0xA, "p2", 2);
    dm_wsc_expect_message(&cl, 0x1, "grüß € end", strlen("grüß € end"));
    char big[125];
    memset(big, 'x', sizeof big);
    dm_wsc_send_frame(&cl, true, 0x9, big, sizeof big); /* the largest control frame */
    dm_wsc_expect_message(&cl, 0xA, big, sizeof big);
    ck_assert_int_eq(wst.messages, 1);
}
END_TEST

START_TEST(send_before_the_101)
{
    open_ws(&cl, "/ws/hello");
    dm_wsc_expect_message(&cl, 0x1, "hello", 5);
}
END_TEST

START_TEST(shared_frame_to_many)
{
    open_ws(&cl, "/ws/echo");
    open_ws(&cl2, "/ws/echo");
    dm_wsc_send_frame(&cl, true, 0x1, "cmd:fan", 7);
    dm_wsc_expect_message(&cl, 0x1, "fan-out", 7);
    dm_wsc_expect_message(&cl2, 0x1, "fan-out", 7);
}
END_TEST

/* ---- closing -------------------------------------------------------------- */

static const struct {
    const char *payload;
    size_t      len;
    int         echoed;   /* the code of the server's answer */
    int         reported; /* what on_close says */
} client_closes[] = {
    { "\x03\xe8" "bye", 5, 1000, 1000 },
    { "", 0, 1000, 1005 },
    { "\x0f\xa1", 2, 4001, 4001 },
    { "\x03\xe9" "going", 7, 1001, 1001 },
};

START_TEST(close_from_client)
{
    int i = _i;
    open_ws(&cl, "/ws/echo");
    dm_wsc_send_frame(&cl, true, 0x8, client_closes[i].payload, client_closes[i].len);
    dm_wsc_expect_close(&cl, client_closes[i].echoed, "");
    ck_assert_msg(dm_wsc_wait_eof(&cl, DM_WSC_T_MS), "no FIN after the close handshake");
    dm_wsc_close(&cl);
    wst_expect_close(1, client_closes[i].reported);
}
END_TEST

START_TEST(close_from_server)
{
    open_ws(&cl, "/ws/echo");
    dm_wsc_send_frame(&cl, true, 0x1, "cmd:close-policy", 16);
    dm_wsc_expect_close(&cl, 1008, "policy");
    dm_wsc_send_frame(&cl, true, 0x1, "not echoed", 10); /* after its close the server says nothing */
    int64_t t0 = dm__clock_mono_ms();
    finish_close(&cl, 1008);
    int64_t took = dm__clock_mono_ms() - t0;
    ck_assert_msg(took < WST_CLOSE_MS / 2, "the answered close took %lld ms: the timeout, not the handshake",
                  (long long)took);
    ck_assert_msg(cl.in_len == 0, "a frame after the server's close: %.20s", cl.in);
    dm_wsc_close(&cl);
    wst_expect_close(1, 1008);
    ck_assert(metric_has("dermaga_websocket_closes_total{code=\"1008\"} 1\n"));
}
END_TEST

START_TEST(close_unanswered_is_dropped)
{
    open_ws(&cl, "/ws/echo");
    int64_t t0 = dm__clock_mono_ms();
    dm_wsc_send_frame(&cl, true, 0x1, "cmd:close-policy", 16);
    dm_wsc_expect_close(&cl, 1008, "policy");
    ck_assert_msg(dm_wsc_wait_eof(&cl, WST_CLOSE_SHORT_MS + DM_WSC_T_MS), "never dropped");
    int64_t waited = dm__clock_mono_ms() - t0;
    ck_assert_msg(waited >= WST_CLOSE_SHORT_MS - 50, "dropped after %lld ms, before the close timeout",
                  (long long)waited);
    wst_expect_close(1, 1008);
}
END_TEST

START_TEST(peer_vanishes)
{
    open_ws(&cl, "/ws/echo");
    dm_wsc_close(&cl);
    wst_expect_close(1, 1006);
    ck_assert(metric_has("dermaga_websockets_open 0\n"));
}
END_TEST

/* ---- timers and shutdown -------------------------------------------------- */

START_TEST(idle_timeout_pings_then_closes)
{
    open_ws(&cl, "/ws/idle");
    int64_t t0 = dm__clock_mono_ms();
    dm_wsc_expect_message(&cl, 0x9, "", 0);
    int64_t ping_at = dm__clock_mono_ms() - t0;
    ck_assert_msg(ping_at >= WST_IDLE_MS / 2 - 50, "pinged after %lld ms", (long long)ping_at);
    dm_wsc_expect_close(&cl, 1001, "idle timeout");
    int64_t close_at = dm__clock_mono_ms() - t0;
    ck_assert_msg(close_at >= WST_IDLE_MS - 50, "closed after %lld ms of silence", (long long)close_at);
    finish_close(&cl, 1001);
    dm_wsc_close(&cl);
    wst_expect_close(1, 1001);
}
END_TEST

/* A client that answers every ping stays: pongs are input. */
START_TEST(idle_timeout_pongs_keep_alive)
{
    open_ws(&cl, "/ws/idle");
    int64_t end = dm__clock_mono_ms() + 3 * WST_IDLE_MS;
    int pings = 0;
    while (dm__clock_mono_ms() < end) {
        dm_wsc_frame f;
        if (!dm_wsc_read_frame(&cl, &f, 20))
            continue;
        ck_assert_msg(f.opcode == 0x9, "opcode %d while pongs were answered", f.opcode);
        dm_wsc_send_frame(&cl, true, 0xA, f.payload, f.len);
        dm_wsc_frame_free(&f);
        pings++;
    }
    ck_assert_msg(pings >= 3, "%d pings in %d ms", pings, 3 * WST_IDLE_MS);
    ck_assert_int_eq(wst.n_closes, 0);
    dm_wsc_expect_message(&cl, 0x9, "", 0); /* now silent: ping, then close */
    dm_wsc_expect_close(&cl, 1001, "idle timeout");
}
END_TEST

START_TEST(drain_closes_with_1001)
{
    open_ws(&cl, "/ws/echo");
    open_ws(&cl2, "/ws/echo");
    int64_t t0 = dm__clock_mono_ms();
    dm__server_drain(&wst_srv.s);
    dm_wsc_expect_close(&cl, 1001, "server shutting down");
    dm_wsc_expect_close(&cl2, 1001, "server shutting down");
    int64_t took = dm__clock_mono_ms() - t0;
    ck_assert_msg(took < 1000, "the close frames took %lld ms", (long long)took);
    finish_close(&cl, 1001);
    /* cl2 never answers: dropped after the close timeout, not the grace period. */
    ck_assert(dm_wsc_wait_eof(&cl2, DM_WSC_T_MS));
    dm_wsc_close(&cl);
    dm_wsc_close(&cl2);
    wst_expect_close(1, 1001);
    wst_expect_close(2, 1001);
    while (wst_srv.s.n_conns > 0 && dm__clock_mono_ms() - t0 < DM_WSC_T_MS)
        dm_inproc_step(&wst_srv, -1, false, 20);
    /* The grace period is 2 s: well before it, the close timeout ended cl2. */
    ck_assert_msg(wst_srv.s.n_conns == 0 && dm__clock_mono_ms() - t0 < 1500, "draining took %lld ms",
                  (long long)(dm__clock_mono_ms() - t0));
}
END_TEST

/* ---- back-pressure -------------------------------------------------------- */

/* The server's socket buffer made small, so what the client does not take
 * stays in the server's queue rather than the kernel's. */
static void small_server_sndbuf(dm_wsc *c)
{
    struct dm_conn *sc = dm_inproc_conn_of(&wst_srv, c->fd);
    ck_assert_ptr_nonnull(sc);
    int v = 16384;
    ck_assert_int_eq(uv_send_buffer_size((uv_handle_t *)&sc->tcp, &v), 0);
}

START_TEST(slow_reader_is_dropped)
{
    dm_wsc_open(&cl, &wst_srv, 4096);
    dm_wsc_handshake(&cl, "/ws/echo");
    small_server_sndbuf(&cl);
    uint8_t cmd[32];
    dm_wsc_send_synced(&cl, cmd, dm_wsc_build(cmd, 0x81, true, "cmd:flood", 9));
    ck_assert_int_eq(wst.messages, 1);
    ck_assert_msg(wst.flood_rc == DM_ECONFLICT, "flood ended with %d after %d messages", wst.flood_rc,
                  wst.flood_sent);
    ck_assert_msg(wst.max_buffered <= WST_MAX_BUFFERED, "%zu bytes queued, above the bound", wst.max_buffered);
    wst_expect_close(1, 1008);
    ck_assert(metric_has("dermaga_websocket_slow_drops_total 1\n"));
}
END_TEST

START_TEST(drain_callback_after_high_water)
{
    dm_wsc_open(&cl, &wst_srv, 4096);
    dm_wsc_handshake(&cl, "/ws/echo");
    small_server_sndbuf(&cl);
    dm_wsc_send_frame(&cl, true, 0x1, "cmd:fill", 8);
    for (int got = 0;; got++) {
        dm_wsc_frame f;
        ck_assert_msg(dm_wsc_read_frame(&cl, &f, DM_WSC_T_MS), "frame %d did not come (%d queued)", got,
                      wst.fill_sent);
        bool drained = f.opcode == 0x1;
        ck_assert_msg(!drained || (f.len == 7 && memcmp(f.payload, "drained", 7) == 0), "%s", f.payload);
        dm_wsc_frame_free(&f);
        if (drained) {
            ck_assert_msg(got == wst.fill_sent, "\"drained\" after %d of %d messages", got, wst.fill_sent);
            break;
        }
    }
    ck_assert_msg(wst.max_buffered > WST_MAX_BUFFERED / 4, "never above the mark (%zu)", wst.max_buffered);
    ck_assert_int_eq(wst.drains, 1);
}
END_TEST

START_TEST(metrics_count_websockets)
{
    open_ws(&cl, "/ws/echo");
    ck_assert(metric_has("dermaga_websockets_open 1\n"));
    dm_wsc_send(&cl, "\x83\x80\x00\x00\x00\x00", 6); /* opcode 3 */
    dm_wsc_expect_close(&cl, 1002, NULL);
    ck_assert(dm_wsc_wait_eof(&cl, DM_WSC_T_MS));
    dm_wsc_close(&cl);
    wst_wait_closes(1);
    ck_assert(metric_has("dermaga_websockets_open 0\n"));
    ck_assert(metric_has("dermaga_websocket_closes_total{code=\"1002\"} 1\n"));
}
END_TEST

/* Every expectation has a deadline of its own (DM_WSC_T_MS), longer than
 * Check's default: a test fails with a message rather than a timeout. */
static TCase *tcase(const char *name, void (*setup_fn)(void))
{
    TCase *t = tcase_create(name);
    tcase_add_checked_fixture(t, setup_fn, teardown);
    tcase_set_timeout(t, 60);
    return t;
}

static Suite *make_suite(void)
{
    Suite *s = suite_create("ws");
    TCase *t = tcase("handshake", setup);
    tcase_add_test(t, accept_values);
    tcase_add_test(t, handshake_answers_101);
    tcase_add_loop_test(t, handshake_refused, 0, (int)(sizeof refusals / sizeof refusals[0]));
    tcase_add_test(t, handshake_token_lists_and_allowed_origin);
    tcase_add_test(t, handshake_same_origin);
    tcase_add_test(t, bytes_behind_the_handshake);
    suite_add_tcase(s, t);
    t = tcase("messages", setup);
    tcase_add_test(t, echo_text_and_binary);
    tcase_add_test(t, echo_length_forms);
    tcase_add_test(t, fragmented_with_pings);
    tcase_add_test(t, send_before_the_101);
    tcase_add_test(t, shared_frame_to_many);
    suite_add_tcase(s, t);
    t = tcase("closing", setup);
    tcase_add_loop_test(t, close_from_client, 0, (int)(sizeof client_closes / sizeof client_closes[0]));
    tcase_add_test(t, close_from_server);
    tcase_add_test(t, peer_vanishes);
    tcase_add_test(t, idle_timeout_pings_then_closes);
    tcase_add_test(t, idle_timeout_pongs_keep_alive);
    suite_add_tcase(s, t);
    t = tcase("close timeout", setup_short);
    tcase_add_test(t, close_unanswered_is_dropped);
    tcase_add_test(t, drain_closes_with_1001);
    suite_add_tcase(s, t);
    t = tcase("buffering", setup);
    tcase_add_test(t, slow_reader_is_dropped);
    tcase_add_test(t, drain_callback_after_high_water);
    tcase_add_test(t, metrics_count_websockets);
    suite_add_tcase(s, t);
    return s;
}

DM_TEST_MAIN(make_suite)
