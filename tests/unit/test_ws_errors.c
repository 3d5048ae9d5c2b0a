/*
 * test_ws_errors.c — every WebSocket protocol error gets its close code
 * (1002, 1007, 1009), whether its bytes arrive in one read or cut in two at
 * any byte, and is followed by the server's FIN and on_close with the same
 * code; and a long fragmented message with pings between its fragments,
 * sent one byte per read, arrives whole. Over loopback sockets against the
 * in-process server of tests/support/ws_testserver.c; each cut is made a
 * read of its own by waiting until the server has read the first part.
 */
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"
#include "ws_client.h"
#include "ws_testserver.h"

static dm_wsc cl;

static void setup(void)
{
    cl.fd = -1;
    wst_start(WST_CLOSE_MS);
}

static void teardown(void)
{
    dm_wsc_close(&cl);
    wst_stop();
}

/* One case: frames built with dm_wsc_build (first byte as sent, masked
 * unless said), sent after the handshake on path. */
typedef struct frame_spec {
    uint8_t     first;
    bool        unmasked;
    const char *payload;
    size_t      len;       /* 0: strlen(payload) */
    size_t      declared;  /* > 0: send only a header declaring this length */
} frame_spec;

typedef struct bad_case {
    const char *what;
    const char *path;
    int         code;
    frame_spec  frames[3];
} bad_case;

static char long_126[127]; /* filled in make_bytes */
static char long_600[601];
static char long_401[402];

static const bad_case cases[] = {
    { "RSV1 set", "/ws/echo", 1002, { { 0xC1, false, "hi", 0, 0 } } },
    { "RSV3 set", "/ws/echo", 1002, { { 0x92, false, "hi", 0, 0 } } },
    { "opcode 3", "/ws/echo", 1002, { { 0x83, false, "hi", 0, 0 } } },
    { "opcode 0xB", "/ws/echo", 1002, { { 0x8B, false, "", 0, 0 } } },
    { "an unmasked frame", "/ws/echo", 1002, { { 0x81, true, "hi", 0, 0 } } },
    { "a ping of 126 bytes", "/ws/echo", 1002, { { 0x89, false, long_126, 126, 0 } } },
    { "a fragmented ping", "/ws/echo", 1002, { { 0x09, false, "p", 0, 0 } } },
    { "a fragmented close", "/ws/echo", 1002, { { 0x08, false, "\x03\xe8", 0, 0 } } },
    { "a continuation first", "/ws/echo", 1002, { { 0x80, false, "x", 0, 0 } } },
    { "text inside a fragmented message", "/ws/echo", 1002,
      { { 0x01, false, "a", 0, 0 }, { 0x81, false, "b", 0, 0 } } },
    { "binary inside a fragmented message", "/ws/echo", 1002,
      { { 0x02, false, "a", 0, 0 }, { 0x82, false, "b", 0, 0 } } },
    { "a length with its top bit", "/ws/echo", 1002, { { 0x82, false, NULL, 0, 0x8000000000000001u } } },
    { "a close of one byte", "/ws/echo", 1002, { { 0x88, false, "\x03", 0, 0 } } },
    { "close code 1005", "/ws/echo", 1002, { { 0x88, false, "\x03\xed", 0, 0 } } },
    { "close code 999", "/ws/echo", 1002, { { 0x88, false, "\x03\xe7", 0, 0 } } },
    { "close code 2000", "/ws/echo", 1002, { { 0x88, false, "\x07\xd0", 0, 0 } } },
    { "a close reason not UTF-8", "/ws/echo", 1002, { { 0x88, false, "\x03\xe8\xff", 0, 0 } } },
    { "an HTTP request", "/ws/echo", 1002, { { 'G', true, "ET / HTTP/1.1\r\n\r\n", 0, 0 } } },
    { "invalid UTF-8", "/ws/echo", 1007, { { 0x81, false, "ok\xff", 0, 0 } } },
    { "an overlong form", "/ws/echo", 1007, { { 0x81, false, "\xc0\xaf", 0, 0 } } },
    { "a surrogate", "/ws/echo", 1007, { { 0x81, false, "\xed\xa0\x80", 0, 0 } } },
    { "beyond U+10FFFF", "/ws/echo", 1007, { { 0x81, false, "\xf4\x90\x80\x80", 0, 0 } } },
    { "bad UTF-8 in a later fragment", "/ws/echo", 1007,
      { { 0x01, false, "ok \xe2\x82", 0, 0 }, { 0x80, false, "\x28", 0, 0 } } },
    { "a text ending inside a sequence", "/ws/echo", 1007, { { 0x81, false, "ok\xe2\x82", 0, 0 } } },
    { "fragments ending inside a sequence", "/ws/echo", 1007,
      { { 0x01, false, "a\xf0\x9f", 0, 0 }, { 0x80, false, "\x98", 0, 0 } } },
    { "a declared length too big", "/ws/small", 1009, { { 0x82, false, NULL, 0, WST_SMALL_MAX + 1 } } },
    { "fragments too big together", "/ws/small", 1009,
      { { 0x02, false, long_600, 600, 0 }, { 0x80, false, long_401, 401, 0 } } },
};

/* The bytes of case i after the handshake (new; caller frees). */
static uint8_t *make_bytes(int i, size_t *len)
{
    memset(long_126, 'p', sizeof long_126 - 1);
    memset(long_600, 'a', sizeof long_600 - 1);
    memset(long_401, 'b', sizeof long_401 - 1);
    uint8_t *out = malloc(4096);
    size_t n = 0;
    for (int f = 0; f < 3 && cases[i].frames[f].first != 0; f++) {
        const frame_spec *s = &cases[i].frames[f];
        if (s->declared > 0) { /* a header (with its mask) and no payload */
            uint64_t d = s->declared;
            out[n++] = s->first;
            out[n++] = 0x80 | 127;
            for (int b = 7; b >= 0; b--)
                out[n++] = (uint8_t)(d >> (8 * b));
            memcpy(out + n, "\x01\x02\x03\x04", 4);
            n += 4;
            continue;
        }
        if (s->first == 'G') { /* raw bytes, no framing */
            out[n++] = 'G';
            memcpy(out + n, s->payload, strlen(s->payload));
            n += strlen(s->payload);
            continue;
        }
        size_t plen = s->len > 0 ? s->len : strlen(s->payload);
        n += dm_wsc_build(out + n, s->first, !s->unmasked, s->payload, plen);
    }
    *len = n;
    return out;
}

/* Case i with its bytes cut at `cut` (0: one write). */
static void run_case(int i, size_t cut)
{
    size_t len;
    uint8_t *bytes = make_bytes(i, &len);
    int closes = wst.n_closes;
    dm_wsc_open(&cl, &wst_srv, 0);
    dm_wsc_handshake(&cl, cases[i].path);
    if (cut > 0)
        dm_wsc_send_synced(&cl, bytes, cut);
    dm_wsc_send(&cl, bytes + cut, len - cut);
    dm_wsc_frame f;
    ck_assert_msg(dm_wsc_read_frame(&cl, &f, DM_WSC_T_MS), "%s (cut at %zu): no close frame", cases[i].what, cut);
    int code = f.len >= 2 ? (f.payload[0] << 8) | f.payload[1] : -1;
    ck_assert_msg(f.opcode == 0x8 && code == cases[i].code, "%s (cut at %zu): opcode %d code %d, expected close %d",
                  cases[i].what, cut, f.opcode, code, cases[i].code);
    dm_wsc_frame_free(&f);
    ck_assert_msg(dm_wsc_wait_eof(&cl, DM_WSC_T_MS), "%s (cut at %zu): no FIN after the close", cases[i].what, cut);
    ck_assert_msg(cl.in_len == 0, "%s: bytes after the close", cases[i].what);
    dm_wsc_close(&cl);
    wst_expect_close(closes + 1, cases[i].code);
    if (wst.n_closes == WST_MAX_CLOSES)
        wst.n_closes = 0;
    free(bytes);
}

START_TEST(protocol_error_at_every_cut)
{
    size_t len;
    free(make_bytes(_i, &len));
    for (size_t cut = 0; cut < len; cut++)
        run_case(_i, cut);
    ck_assert_int_eq(wst.messages, 0);
}
END_TEST

/* Fragments of every length form, a message ending in a 64-bit one, text
 * whose multi-byte characters fall across fragment ends, pings between the
 * fragments; every byte a read of its own. */
START_TEST(long_message_one_byte_per_read)
{
    static const char pattern[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"; /* a é € 😀: 10 bytes */
    static const size_t sizes[] = { 0, 1, 125, 126, 127, 1001, 65540 };
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        total += sizes[i];
    char *text = malloc(total);
    for (size_t i = 0; i < total; i++)
        text[i] = pattern[i % 10];
    uint8_t *wire = malloc(total + 8 * 14 + 3 * 140);
    size_t n = 0, at = 0;
    static char ping3[125];
    memset(ping3, 'q', sizeof ping3);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        bool last = i + 1 == sizeof sizes / sizeof sizes[0];
        uint8_t first = (uint8_t)((last ? 0x80 : 0) | (i == 0 ? 0x1 : 0x0));
        n += dm_wsc_build(wire + n, first, true, text + at, sizes[i]);
        at += sizes[i];
        if (i == 1)
            n += dm_wsc_build(wire + n, 0x89, true, "p1", 2);
        if (i == 3)
            n += dm_wsc_build(wire + n, 0x89, true, "", 0);
        if (i == 5)
            n += dm_wsc_build(wire + n, 0x89, true, ping3, sizeof ping3);
    }
    dm_wsc_open(&cl, &wst_srv, 0);
    dm_wsc_handshake(&cl, "/ws/echo");
    for (size_t i = 0; i < n; i++)
        dm_wsc_send_synced(&cl, wire + i, 1);
    dm_wsc_expect_message(&cl, 0xA, "p1", 2);
    dm_wsc_expect_message(&cl, 0xA, "", 0);
    dm_wsc_expect_message(&cl, 0xA, ping3, sizeof ping3);
    dm_wsc_expect_message(&cl, 0x1, text, total);
    ck_assert_int_eq(wst.messages, 1);
    free(wire);
    free(text);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("ws_errors");
    TCase *t = tcase_create("errors");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, protocol_error_at_every_cut, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(t, long_message_one_byte_per_read);
    suite_add_tcase(s, t);
    return s;
}

DM_TEST_MAIN(make_suite)
