/*
 * test_docker_frames.c — the runtime-docker log-stream parser
 * (plugins/runtime-docker/docker_frames.c, compiled in here: it is pure C)
 * on fixed byte strings: frames whole and split at every byte, lines across
 * frames, stderr kept apart, raw (TTY) streams, long lines, a stop from the
 * sink, truncated streams, garbage headers, and the timestamp prefix. Also
 * the usage arithmetic of docker_stats.c (pure too) on fixed stats answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"

#include "../../plugins/runtime-docker/docker_frames.c"
#include "../../plugins/runtime-docker/docker_stats.c"

#define MAX_LINES 64

static json_t *fx_stats(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    ck_assert_msg(v != NULL, "bad fixture JSON: %s", e.text);
    return v;
}

typedef struct got {
    char     text[MAX_LINES][64];
    size_t   lens[MAX_LINES];
    uint32_t stream[MAX_LINES];
    size_t   n;
    size_t   stop_after; /* 0: never ask to stop */
} got;

static int record(void *opaque, uint32_t stream, const char *line, size_t len)
{
    got *g = opaque;
    ck_assert_msg(g->n < MAX_LINES, "too many lines");
    snprintf(g->text[g->n], sizeof g->text[0], "%.*s", (int)len, line);
    g->lens[g->n] = len;
    g->stream[g->n] = stream;
    g->n++;
    return g->stop_after != 0 && g->n >= g->stop_after ? 1 : 0;
}

/* Append one frame (stream, payload) to buf at *len. */
static void frame(unsigned char *buf, size_t *len, unsigned char stream, const char *payload)
{
    size_t n = strlen(payload);
    unsigned char h[8] = { stream, 0, 0, 0, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                           (unsigned char)(n >> 8), (unsigned char)n };
    memcpy(buf + *len, h, 8);
    memcpy(buf + *len + 8, payload, n);
    *len += 8 + n;
}

static void expect_line(const got *g, size_t i, uint32_t stream, const char *text)
{
    ck_assert_msg(i < g->n, "line %zu missing (got %zu lines)", i, g->n);
    ck_assert_msg(strcmp(g->text[i], text) == 0, "line %zu is '%s', want '%s'", i, g->text[i], text);
    ck_assert_msg(g->stream[i] == stream, "line %zu on stream %u, want %u", i, g->stream[i], stream);
}

/* stdout "one\ntw" + stderr "err1\n" + stdout "o\n" + empty frame +
 * stderr "tail-no-newline": lines join across frames per stream. */
static size_t sample(unsigned char *buf)
{
    size_t len = 0;
    frame(buf, &len, 1, "one\ntw");
    frame(buf, &len, 2, "err1\n");
    frame(buf, &len, 1, "o\r\n");
    frame(buf, &len, 1, "");
    frame(buf, &len, 2, "tail-no-newline");
    return len;
}

static void check_sample(const got *g)
{
    ck_assert_msg(g->n == 4, "got %zu lines, want 4", g->n);
    expect_line(g, 0, 1, "one");
    expect_line(g, 1, 2, "err1");
    expect_line(g, 2, 1, "two");
    expect_line(g, 3, 2, "tail-no-newline");
}

START_TEST(whole_stream_in_one_read)
{
    unsigned char buf[256];
    size_t len = sample(buf);
    got g = { 0 };
    dk_frames f;
    dk_frames_init(&f, false, record, &g);
    ck_assert_int_eq(dk_frames_feed(&f, (const char *)buf, len), 0);
    ck_assert_msg(g.n == 3, "before finish: %zu lines, want 3 (the last has no newline)", g.n);
    ck_assert_int_eq(dk_frames_finish(&f), 0);
    ck_assert_msg(!f.truncated, "a complete stream was taken as truncated");
    check_sample(&g);
    dk_frames_free(&f);
}
END_TEST

START_TEST(split_at_every_byte_and_every_cut)
{
    unsigned char buf[256];
    size_t len = sample(buf);
    /* one byte per read */
    got g = { 0 };
    dk_frames f;
    dk_frames_init(&f, false, record, &g);
    for (size_t i = 0; i < len; i++)
        ck_assert_int_eq(dk_frames_feed(&f, (const char *)buf + i, 1), 0);
    dk_frames_finish(&f);
    check_sample(&g);
    dk_frames_free(&f);
    /* two reads, cut at every position (inside headers too) */
    for (size_t cut = 0; cut <= len; cut++) {
        got h = { 0 };
        dk_frames_init(&f, false, record, &h);
        ck_assert_int_eq(dk_frames_feed(&f, (const char *)buf, cut), 0);
        ck_assert_int_eq(dk_frames_feed(&f, (const char *)buf + cut, len - cut), 0);
        dk_frames_finish(&f);
        check_sample(&h);
        dk_frames_free(&f);
    }
}
END_TEST

START_TEST(garbage_header_is_refused)
{
    static const char *const bad[] = {
        "HTTP/1.1 200 OK\r\n",                 /* not a frame at all */
        "\x07\x00\x00\x00\x00\x00\x00\x01x",   /* stream 7 */
        "\x01\x00\x01\x00\x00\x00\x00\x01x",   /* padding not zero */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        got g = { 0 };
        dk_frames f;
        dk_frames_init(&f, false, record, &g);
        int rc = dk_frames_feed(&f, bad[i], 9);
        ck_assert_msg(rc == -3, "garbage %zu: feed returned %d, want -3 (DM_EIO)", i, rc);
        ck_assert_msg(g.n == 0, "garbage %zu produced %zu lines", i, g.n);
        dk_frames_free(&f);
    }
    /* garbage after a good frame: the good line is kept, then refused */
    unsigned char buf[64];
    size_t len = 0;
    frame(buf, &len, 1, "ok\n");
    memcpy(buf + len, "garbage!", 8);
    got g = { 0 };
    dk_frames f;
    dk_frames_init(&f, false, record, &g);
    ck_assert_int_eq(dk_frames_feed(&f, (const char *)buf, len + 8), -3);
    expect_line(&g, 0, 1, "ok");
    dk_frames_free(&f);
}
END_TEST

START_TEST(truncated_stream_is_flagged_and_flushed)
{
    unsigned char buf[64];
    size_t len = 0;
    frame(buf, &len, 1, "partial line that is cut");
    got g = { 0 };
    dk_frames f;
    dk_frames_init(&f, false, record, &g);
    ck_assert_int_eq(dk_frames_feed(&f, (const char *)buf, len - 4), 0);
    dk_frames_finish(&f);
    ck_assert_msg(f.truncated, "a stream ending inside a frame was not flagged");
    expect_line(&g, 0, 1, "partial line that is");
    dk_frames_free(&f);

    got h = { 0 };
    dk_frames_init(&f, false, record, &h);
    ck_assert_int_eq(dk_frames_feed(&f, "\x01\x00\x00", 3), 0);
    dk_frames_finish(&f);
    ck_assert_msg(f.truncated, "a stream ending inside a header was not flagged");
    ck_assert_msg(h.n == 0, "a bare header fragment produced lines");
    dk_frames_free(&f);
}
END_TEST

START_TEST(sink_stop_is_honoured)
{
    unsigned char buf[128];
    size_t len = 0;
    frame(buf, &len, 1, "a\nb\nc\n");
    frame(buf, &len, 1, "d\n");
    got g = { .stop_after = 2 };
    dk_frames f;
    dk_frames_init(&f, false, record, &g);
    ck_assert_int_eq(dk_frames_feed(&f, (const char *)buf, len), 1);
    ck_assert_msg(g.n == 2, "%zu lines delivered after the sink asked to stop at 2", g.n);
    dk_frames_free(&f);
}
END_TEST

START_TEST(raw_stream_and_long_lines)
{
    got g = { 0 };
    dk_frames f;
    dk_frames_init(&f, true, record, &g);
    static const char raw[] = "\x01\x00\x00\x00 looks like a header\nsecond\n";
    ck_assert_int_eq(dk_frames_feed(&f, raw, sizeof raw - 1), 0);
    dk_frames_finish(&f);
    ck_assert_msg(!f.truncated, "a raw stream is never truncated");
    ck_assert_msg(g.n == 2, "raw: %zu lines, want 2", g.n);
    expect_line(&g, 1, 1, "second");
    dk_frames_free(&f);

    /* a line of DK_LINE_MAX + 10 bytes comes in two pieces */
    size_t n = DK_LINE_MAX + 10;
    char *big = malloc(n + 1);
    ck_assert_ptr_nonnull(big);
    memset(big, 'x', n);
    big[n] = '\n';
    got h = { 0 };
    dk_frames_init(&f, true, record, &h);
    ck_assert_int_eq(dk_frames_feed(&f, big, n + 1), 0);
    ck_assert_msg(h.n == 2 && h.lens[0] == DK_LINE_MAX && h.lens[1] == 10,
                  "long line: %zu pieces (%zu, %zu), want %d and 10", h.n, h.lens[0], h.lens[1],
                  DK_LINE_MAX);
    dk_frames_free(&f);
    free(big);
}
END_TEST

START_TEST(timestamps_are_parsed)
{
    int64_t ts = 0;
    const char *l1 = "2024-05-01T10:00:00.123456789Z hello";
    size_t skip = dk_log_timestamp(l1, strlen(l1), &ts);
    ck_assert_msg(skip == strlen("2024-05-01T10:00:00.123456789Z "), "skip %zu", skip);
    ck_assert_msg(ts == 1714557600123LL, "ts %lld, want 1714557600123", (long long)ts);
    ck_assert_str_eq(l1 + skip, "hello");

    const char *l2 = "2024-05-01T17:00:00+07:00 x";
    skip = dk_log_timestamp(l2, strlen(l2), &ts);
    ck_assert_msg(skip == 26 && ts == 1714557600000LL, "offset form: skip %zu ts %lld", skip,
                  (long long)ts);

    static const char *const not_ts[] = {
        "hello world, no timestamp here",
        "2024-13-01T10:00:00Z month 13",
        "2024-05-01T10:00:00Zno-space",
        "2024-05-01 10:00:00Z space not T",
        "2024-05-01T10:00:00",
    };
    for (size_t i = 0; i < sizeof not_ts / sizeof not_ts[0]; i++) {
        ts = 42;
        skip = dk_log_timestamp(not_ts[i], strlen(not_ts[i]), &ts);
        ck_assert_msg(skip == 0, "'%s' taken as a timestamp (skip %zu)", not_ts[i], skip);
    }
}
END_TEST

/* ---- usage arithmetic (docker_stats.c) ---- */

START_TEST(cpu_millicores_from_deltas)
{
    /* 0.5 s of container CPU over 4 s of host CPU time summed over 4 CPUs
     * (1 s of wall time): half a core = 500 millicores. */
    json_t *s = fx_stats("{\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":1500000000},"
                         "\"system_cpu_usage\":14000000000,\"online_cpus\":4},"
                         "\"precpu_stats\":{\"cpu_usage\":{\"total_usage\":1000000000},"
                         "\"system_cpu_usage\":10000000000}}");
    ck_assert_msg(dk_cpu_millicores(s) == 500, "cpu %lld, want 500", (long long)dk_cpu_millicores(s));
    json_decref(s);
    /* online_cpus missing: the length of percpu_usage counts */
    s = fx_stats("{\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":300,\"percpu_usage\":[1,2]},"
                 "\"system_cpu_usage\":2000},\"precpu_stats\":{\"cpu_usage\":{\"total_usage\":100},"
                 "\"system_cpu_usage\":1000}}");
    ck_assert_msg(dk_cpu_millicores(s) == 400, "cpu %lld, want 400", (long long)dk_cpu_millicores(s));
    json_decref(s);
    /* Podman's stream=false: precpu empty, so no delta (0, not garbage) */
    s = fx_stats("{\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":24253963},"
                 "\"system_cpu_usage\":14493872513842,\"online_cpus\":2},"
                 "\"precpu_stats\":{\"cpu_usage\":{\"total_usage\":0}}}");
    ck_assert_msg(dk_cpu_millicores(s) == 0, "cpu %lld without a previous sample, want 0",
                  (long long)dk_cpu_millicores(s));
    json_decref(s);
}
END_TEST

START_TEST(memory_minus_cache)
{
    json_t *s = fx_stats("{\"memory_stats\":{\"usage\":1000,\"stats\":{\"inactive_file\":300}}}");
    ck_assert_msg(dk_memory_bytes(s) == 700, "cgroup v2: %lld", (long long)dk_memory_bytes(s));
    json_decref(s);
    s = fx_stats("{\"memory_stats\":{\"usage\":1000,\"stats\":{\"total_inactive_file\":100,"
                 "\"cache\":900}}}");
    ck_assert_msg(dk_memory_bytes(s) == 900, "cgroup v1: %lld", (long long)dk_memory_bytes(s));
    json_decref(s);
    s = fx_stats("{\"memory_stats\":{\"usage\":1000,\"stats\":{\"cache\":250}}}");
    ck_assert_msg(dk_memory_bytes(s) == 750, "cache only: %lld", (long long)dk_memory_bytes(s));
    json_decref(s);
    s = fx_stats("{\"memory_stats\":{\"usage\":704512,\"limit\":25276510208}}");
    ck_assert_msg(dk_memory_bytes(s) == 704512, "no stats: %lld", (long long)dk_memory_bytes(s));
    json_decref(s);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("docker_frames");
    TCase *tc = tcase_create("frames");
    tcase_add_test(tc, whole_stream_in_one_read);
    tcase_add_test(tc, split_at_every_byte_and_every_cut);
    tcase_add_test(tc, garbage_header_is_refused);
    tcase_add_test(tc, truncated_stream_is_flagged_and_flushed);
    tcase_add_test(tc, sink_stop_is_honoured);
    tcase_add_test(tc, raw_stream_and_long_lines);
    tcase_add_test(tc, timestamps_are_parsed);
    suite_add_tcase(s, tc);
    TCase *st = tcase_create("stats");
    tcase_add_test(st, cpu_millicores_from_deltas);
    tcase_add_test(st, memory_minus_cache);
    suite_add_tcase(s, st);
    return s;
}

DM_TEST_MAIN(make_suite)
