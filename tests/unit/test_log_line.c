/*
 * test_log_line.c — the line rules of docs/logs.md (instances/log_line.h),
 * one rule per test: carriage returns, ANSI escape sequences, control
 * characters, invalid UTF-8, the longest line (cut at a character
 * boundary with an ellipsis, never splitting a UTF-8 sequence, checked
 * over many generated lines), and the event's JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dm_test.h"
#include "instances/log_line.h"
#include "util/utf8.h"

#define ID "0b6f5f9e-3c1a-4d8e-9a51-2f7c4b1e8d20"
#define FFFD "\xef\xbf\xbd"
#define ELLIPSIS "\xe2\x80\xa6"

/* The shown text of raw (len bytes) with cap max, as a new string. */
static char *clean_n(const char *raw, size_t len, size_t max)
{
    char *out = malloc(max + 1);
    ck_assert_ptr_nonnull(out);
    size_t n = dm__log_line_clean(raw, len, max, out);
    ck_assert_msg(n <= max, "%zu bytes over the cap %zu", n, max);
    ck_assert_msg(strlen(out) == n, "the length returned (%zu) is not the text's (%zu)", n, strlen(out));
    ck_assert_msg(dm__utf8_valid(out), "not valid UTF-8: \"%s\"", out);
    return out;
}

/* raw (a C string, or len bytes when len > 0) must show as want. */
static void expect(const char *raw, size_t len, const char *want, const char *rule)
{
    char *got = clean_n(raw, len > 0 ? len : strlen(raw), 1024);
    ck_assert_msg(strcmp(got, want) == 0, "%s: got \"%s\", want \"%s\"", rule, got, want);
    free(got);
}

START_TEST(plain_text_is_unchanged)
{
    expect("GET / 200 12ms", 0, "GET / 200 12ms", "plain ASCII");
    expect("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 0, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "UTF-8");
    expect("", 0, "", "an empty line");
    expect("a\tb", 0, "a\tb", "a tab stays");
}
END_TEST

START_TEST(trailing_carriage_returns_are_dropped)
{
    expect("done\r", 0, "done", "CRLF line end");
    expect("done\r\r", 0, "done", "several");
    expect("\r", 0, "", "only a CR");
}
END_TEST

START_TEST(text_after_the_last_carriage_return_shows)
{
    expect("10%\r20%\r30%", 0, "30%", "a progress bar redrawn");
    expect("downloading\rdone\r", 0, "done", "redrawn, then CRLF");
    expect("a\r\x1b[2Kb", 0, "b", "redrawn after erasing the line");
}
END_TEST

START_TEST(ansi_escape_sequences_are_removed)
{
    expect("\x1b[31mred\x1b[0m", 0, "red", "SGR colour");
    expect("\x1b[1;38;5;208mbold orange\x1b[m!", 0, "bold orange!", "SGR with parameters");
    expect("\x1b[2J\x1b[H\x1b[?25lscreen", 0, "screen", "CSI with private parameters");
    expect("\x1b]0;window title\x07text", 0, "text", "OSC ended by BEL");
    expect("\x1b]8;;https://x.example\x1b\\link\x1b]8;;\x1b\\", 0, "link", "OSC 8 hyperlink ended by ST");
    expect("\x1bP1$r0m\x1b\\dcs", 0, "dcs", "DCS string");
    expect("\x1b(Bcharset", 0, "charset", "ESC with an intermediate byte");
    expect("\x1b" "7save\x1b" "8", 0, "save", "two-byte ESC sequences");
    expect("end\x1b", 0, "end", "a lone ESC at the end");
    expect("half \x1b[12", 0, "half ", "a CSI cut off by the end of the line");
    expect("\x1b]0;never ended", 0, "", "an OSC that never ends takes the rest");
    expect("a\x1b[1\x01" "b", 0, "ab", "a CSI broken off by another byte ends before it");
}
END_TEST

START_TEST(control_characters_are_removed_and_nul_replaced)
{
    expect("ding\x07!", 0, "ding!", "BEL");
    expect("ab\x08" "c", 0, "abc", "backspace");
    expect("x\x7fy", 0, "xy", "DEL");
    expect("x\x0cy\x0bz", 0, "xyz", "form feed, vertical tab");
    expect("a\xc2\x85" "b\xc2\x9b" "c", 0, "abc", "C1 controls (U+0085, U+009B)");
    expect("a\xc2\xa0" "b", 0, "a\xc2\xa0" "b", "U+00A0 is not a control");
    expect("nul\0here", 8, "nul" FFFD "here", "NUL becomes U+FFFD");
}
END_TEST

START_TEST(invalid_utf8_becomes_replacement_characters)
{
    expect("bad-\xff-utf8", 0, "bad-" FFFD "-utf8", "a byte that starts nothing");
    expect("\x80x", 0, FFFD "x", "a stray continuation byte");
    expect("\xc0\xaf", 0, FFFD FFFD, "an overlong form, byte by byte");
    expect("\xed\xa0\x80", 0, FFFD FFFD FFFD, "a surrogate");
    expect("\xf4\x90\x80\x80", 0, FFFD FFFD FFFD FFFD, "beyond U+10FFFF");
    expect("cut \xe2\x82", 0, "cut " FFFD FFFD, "a sequence cut short by the line's end");
    expect("\xe2\x82" "A", 0, FFFD FFFD "A", "a sequence broken by ASCII");
}
END_TEST

START_TEST(a_line_that_fits_exactly_is_not_cut)
{
    char raw[65];
    memset(raw, 'x', 64);
    raw[64] = '\0';
    char *got = clean_n(raw, 64, 64);
    ck_assert_str_eq(got, raw);
    free(got);
    /* Escape sequences after the text do not count. */
    char longer[80];
    snprintf(longer, sizeof longer, "%s\x1b[0m", raw);
    got = clean_n(longer, strlen(longer), 64);
    ck_assert_str_eq(got, raw);
    free(got);
}
END_TEST

START_TEST(a_long_line_keeps_its_beginning_and_an_ellipsis)
{
    size_t len = 100000;
    char *raw = malloc(len);
    for (size_t i = 0; i < len; i++)
        raw[i] = (char)('a' + i % 26);
    char *got = clean_n(raw, len, 100);
    ck_assert_int_eq(strlen(got), 100);
    ck_assert_msg(memcmp(got, raw, 97) == 0, "the first 97 bytes are the line's");
    ck_assert_str_eq(got + 97, ELLIPSIS);
    free(got);
    free(raw);
}
END_TEST

START_TEST(a_cut_never_splits_a_character)
{
    /* "é" is two bytes: with the mark's three, 64 leaves 61 bytes, so the
     * cut falls in the middle of one and must back off to 60. */
    char raw[200];
    size_t n = 0;
    for (int i = 0; i < 90; i++) {
        raw[n++] = '\xc3';
        raw[n++] = '\xa9';
    }
    char *got = clean_n(raw, n, 64);
    ck_assert_int_eq(strlen(got), 63);
    ck_assert_msg(memcmp(got, raw, 60) == 0, "30 whole characters kept");
    ck_assert_str_eq(got + 60, ELLIPSIS);
    free(got);
    /* A four-byte character across the cut goes whole. */
    memset(raw, 'x', 59);
    memcpy(raw + 59, "\xf0\x9f\x98\x80" "yyyyyyyy", 12);
    got = clean_n(raw, 71, 64);
    ck_assert_msg(strcmp(got + 59, ELLIPSIS) == 0, "the emoji at byte 59 does not fit with the mark: \"%s\"",
                  got + 59);
    free(got);
    /* Replacement characters count as the three bytes they are. */
    memset(raw, '\xff', 40);
    got = clean_n(raw, 40, 64);
    ck_assert_int_eq(strlen(got), 63);
    ck_assert_str_eq(got + 60, ELLIPSIS);
    free(got);
}
END_TEST

/* A deterministic generator (xorshift), so every run checks the same lines. */
static unsigned long long rng = 88172645463325252ull;
static unsigned next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng >> 32);
}

START_TEST(generated_lines_keep_every_rule)
{
    static const char *const pieces[] = { "a", "Z", " ", "\t", "\r", "\x1b[31m", "\x1b]0;t\x07", "\x1b", "\x07",
                                          "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xff", "\xc3",
                                          "\xe2\x82", "\x80", "\xed\xa0\x80", "\xc2\x85", "\"", "\\" };
    const size_t n_pieces = sizeof pieces / sizeof pieces[0];
    for (int round = 0; round < 4000; round++) {
        char raw[600];
        size_t len = 0;
        int k = (int)(next_rand() % 120);
        for (int i = 0; i < k; i++) {
            const char *p = pieces[next_rand() % n_pieces];
            memcpy(raw + len, p, strlen(p));
            len += strlen(p);
        }
        size_t max = 64 + next_rand() % 64;
        char *whole = clean_n(raw, len, 4096); /* never cut */
        char *got = clean_n(raw, len, max);
        size_t wn = strlen(whole), gn = strlen(got);
        if (wn <= max) {
            ck_assert_msg(strcmp(got, whole) == 0, "round %d: cut although it fits", round);
        } else {
            size_t keep = gn - (sizeof ELLIPSIS - 1);
            ck_assert_msg(strcmp(got + keep, ELLIPSIS) == 0, "round %d: no ellipsis", round);
            ck_assert_msg(memcmp(got, whole, keep) == 0, "round %d: not the line's beginning", round);
            ck_assert_msg(((unsigned char)whole[keep] & 0xc0) != 0x80, "round %d: split a character", round);
            ck_assert_msg(gn > max - 4 - 3, "round %d: cut %zu bytes, more than needed for a cap of %zu", round,
                          gn, max);
        }
        ck_assert_msg(strchr(got, '\r') == NULL && strchr(got, '\x1b') == NULL && strchr(got, '\x07') == NULL,
                      "round %d: a control character survived", round);
        free(whole);
        free(got);
    }
}
END_TEST

START_TEST(the_event_is_compact_json_in_a_fixed_order)
{
    const char *text = "say \"hi\"\t\\ caf\xc3\xa9";
    dm_rbuf *b = dm__log_event_new(ID, text, strlen(text), 2, 1764118923123LL);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(b->len, strlen(b->data));
    const char *want = "{\"instanceId\":\"" ID "\",\"line\":\"say \\\"hi\\\"\\t\\\\ caf\xc3\xa9\","
                       "\"stream\":\"stderr\",\"timestamp\":\"2025-11-26T01:02:03.123Z\"}";
    ck_assert_str_eq(b->data, want);
    json_error_t je;
    json_t *j = json_loads(b->data, 0, &je);
    ck_assert_msg(j != NULL, "not JSON: %s", je.text);
    ck_assert_str_eq(json_string_value(json_object_get(j, "line")), text);
    json_decref(j);
    dm__rbuf_unref(b);

    b = dm__log_event_new(ID, "x", 1, 1, 0);
    ck_assert_str_eq(b->data, "{\"instanceId\":\"" ID "\",\"line\":\"x\",\"stream\":\"stdout\",\"timestamp\":null}");
    dm__rbuf_unref(b);
    /* Control characters (none survive the rules, but the encoder is total). */
    b = dm__log_event_new(ID, "a\x01\n", 3, 1, 0);
    ck_assert_msg(strstr(b->data, "\"a\\u0001\\n\"") != NULL, "escaped: %s", b->data);
    dm__rbuf_unref(b);
}
END_TEST

START_TEST(the_dropped_notice_is_a_line)
{
    dm_rbuf *b = dm__log_dropped_new(ID, 1234, 1764118923000LL);
    json_t *j = json_loads(b->data, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "line")), "lines dropped: 1234");
    ck_assert_str_eq(json_string_value(json_object_get(j, "instanceId")), ID);
    ck_assert_str_eq(json_string_value(json_object_get(j, "stream")), "stderr");
    ck_assert_int_eq(json_object_size(j), 4);
    json_decref(j);
    dm__rbuf_unref(b);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("log_line");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, plain_text_is_unchanged);
    tcase_add_test(tc, trailing_carriage_returns_are_dropped);
    tcase_add_test(tc, text_after_the_last_carriage_return_shows);
    tcase_add_test(tc, ansi_escape_sequences_are_removed);
    tcase_add_test(tc, control_characters_are_removed_and_nul_replaced);
    tcase_add_test(tc, invalid_utf8_becomes_replacement_characters);
    tcase_add_test(tc, a_line_that_fits_exactly_is_not_cut);
    tcase_add_test(tc, a_long_line_keeps_its_beginning_and_an_ellipsis);
    tcase_add_test(tc, a_cut_never_splits_a_character);
    tcase_add_test(tc, generated_lines_keep_every_rule);
    suite_add_tcase(s, tc);
    TCase *ev = tcase_create("event");
    tcase_add_test(ev, the_event_is_compact_json_in_a_fixed_order);
    tcase_add_test(ev, the_dropped_notice_is_a_line);
    suite_add_tcase(s, ev);
    return s;
}

DM_TEST_MAIN(make_suite)
