/*
 * test_logs_fanout.c — the live log's hub through the real binary
 * (instances/log_hub.h, docs/logs.md). On the private Podman
 * ($DERMAGA_TEST_DOCKER_HOST), static-site containers made to print known
 * lines: two streams of one instance share one runtime follow, which stops
 * once both left (the runtime's logs op counted in
 * dermaga_plugin_call_seconds_count, the follow's start and stop in the
 * server's log); Last-Event-ID (and ?lastEventId=) resume from the buffer;
 * a client that stops reading while the container floods its log gets one
 * "lines dropped: N" whose N is exactly the ids it missed, while the
 * server's resident memory stays bounded. test_logs_ticket.c has the
 * tickets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker_api.h"
#include "dm_test.h"
#include "e2e.h"
#include "e2e_auth.h"
#include "e2e_instances.h"
#include "e2e_logs.h"
#include "e2e_sse.h"
#include "e2e_workload.h"

#define srv dm_e2e_auth_srv
#define EVENT_MS DM_E2E_LOGS_EVENT_MS
#define LIVE_MS DM_E2E_LOGS_LIVE_MS

/* Health checks make the site's httpd log a line each; once an hour keeps
 * them out of the lines these tests count. */
static json_t *engine_extra(void)
{
    return json_pack("{s:{s:i}}", "instances", "healthEveryS", 3600);
}

static void sweep_setup(void) { dm_e2e_instances_setup("logfanoute2e"); }
static void sweep_teardown(void) { dm_e2e_instances_teardown(); }

static void setup_engine(void)
{
    dm_e2e_instances_opts o = { .with_service = true, .extra = engine_extra() };
    dm_e2e_instances_start(&o);
}

static void teardown_engine(void) { dm_e2e_instances_stop(); }

/* dermaga_plugin_call_seconds_count of runtime-docker's logs op now: how
 * many logs calls (each follow counts once it has ended) have finished. */
static long long logs_calls(void)
{
    dm_e2e_response res;
    dm_e2e_auth_call("GET", "/metrics", NULL, NULL, &res);
    ck_assert_int_eq(res.status, 200);
    static const char key[] = "dermaga_plugin_call_seconds_count{plugin=\"runtime-docker\",op=\"logs\"} ";
    const char *p = strstr(res.body, key);
    long long n = p != NULL ? strtoll(p + sizeof key - 1, NULL, 10) : 0;
    dm_e2e_response_free(&res);
    return n;
}

static void print(const char *inst, const char *script)
{
    dm_e2e_exec_in_container(inst, script);
}

/* The next line event of c (new JSON) and its id. */
static json_t *next_line(dm_e2e_conn *c, const char *inst, uint64_t *id, const char *what)
{
    return dm_e2e_logs_next_line(c, inst, EVENT_MS, what, id);
}

/* The line id of the line whose text is text, read from c (bounded). */
static uint64_t id_of(dm_e2e_conn *c, const char *inst, const char *text)
{
    char what[96];
    snprintf(what, sizeof what, "waiting for the line \"%s\"", text);
    for (long long end = dm_e2e_now_ms() + LIVE_MS;;) {
        long long left = end - dm_e2e_now_ms();
        uint64_t id;
        json_t *j = dm_e2e_logs_next_line(c, inst, left > 0 ? (int)left : 0, what, &id);
        bool found = strcmp(dm_e2e_jstr(j, "line"), text) == 0;
        json_decref(j);
        if (found)
            return id;
    }
}

/* ---- one follow for every stream of an instance ---------------------------- */

START_TEST(two_streams_share_one_runtime_follow)
{
    char inst[37], path[192], started[96], stopped[96];
    char *tok = dm_e2e_logs_running("share@example.id", inst);
    snprintf(started, sizeof started, "log follow %s started", inst);
    snprintf(stopped, sizeof stopped, "log follow %s stopped", inst);
    long long calls0 = logs_calls();
    dm_e2e_logs_path(path, sizeof path, inst, "?tail=1");
    dm_e2e_conn a, b;
    dm_e2e_logs_open_ok(&a, path, tok, NULL);
    dm_e2e_logs_open_ok(&b, path, tok, NULL);
    print(inst, "echo shared-1 >/proc/1/fd/1");
    uint64_t ia = id_of(&a, inst, "shared-1");
    uint64_t ib = id_of(&b, inst, "shared-1");
    ck_assert_msg(ia == ib, "one line, two ids: %llu and %llu", (unsigned long long)ia, (unsigned long long)ib);
    ck_assert_int_eq(dm_e2e_logs_count(started), 1);
    ck_assert_int_eq(dm_e2e_fetch_metric(dm_e2e_auth_srv.port, "dermaga_log_follows"), 1);
    ck_assert_int_eq(dm_e2e_fetch_metric(dm_e2e_auth_srv.port, "dermaga_log_subscribers"), 2);

    /* The first leaving does not stop the follow the second reads. */
    dm_e2e_close(&a);
    print(inst, "echo shared-2 >/proc/1/fd/1");
    ck_assert_int_eq(id_of(&b, inst, "shared-2"), ib + 1);
    ck_assert_int_eq(dm_e2e_logs_count(stopped), 0);
    ck_assert_int_eq(logs_calls(), calls0);

    /* The last leaving does. */
    dm_e2e_close(&b);
    dm_e2e_logs_wait_count(stopped, 1, 5000);
    ck_assert_int_eq(dm_e2e_logs_count(started), 1);
    ck_assert_int_eq(logs_calls(), calls0 + 1);
    ck_assert_int_eq(dm_e2e_wait_metric(dm_e2e_auth_srv.port, "dermaga_log_subscribers", 0, 0, 5000), 0);
    ck_assert_int_eq(dm_e2e_wait_metric(dm_e2e_auth_srv.port, "dermaga_log_follows", 0, 0, 5000), 0);
    free(tok);
}
END_TEST

START_TEST(last_event_id_resumes_where_the_client_left)
{
    char inst[37], path[192];
    char *tok = dm_e2e_logs_running("resume@example.id", inst);
    dm_e2e_logs_path(path, sizeof path, inst, "?tail=1");
    dm_e2e_conn keep, c;
    dm_e2e_logs_open_ok(&keep, path, tok, NULL); /* keeps the follow and its buffer */
    dm_e2e_logs_open_ok(&c, path, tok, NULL);
    print(inst, "echo r-1 >/proc/1/fd/1; echo r-2 >/proc/1/fd/1");
    uint64_t r1 = id_of(&c, inst, "r-1");
    ck_assert_int_eq(id_of(&c, inst, "r-2"), r1 + 1);
    dm_e2e_close(&c);
    print(inst, "echo r-3 >/proc/1/fd/1; echo r-4 >/proc/1/fd/1");
    uint64_t r4 = id_of(&keep, inst, "r-4");

    /* An EventSource reconnecting says the last id it saw: the stream goes
     * on right after it, from the buffer, whatever its tail. */
    char extra[64];
    snprintf(extra, sizeof extra, "Last-Event-ID: %llu\r\n", (unsigned long long)r1);
    dm_e2e_logs_open_ok(&c, path, tok, extra);
    static const char *const after[] = { "r-2", "r-3", "r-4" };
    for (int i = 0; i < 3; i++) {
        uint64_t id;
        json_t *j = next_line(&c, inst, &id, "the resumed lines");
        ck_assert_msg(strcmp(dm_e2e_jstr(j, "line"), after[i]) == 0 && id == r1 + 1 + (uint64_t)i,
                      "resumed line %d is \"%s\" (id %llu), want \"%s\" (id %llu)", i, dm_e2e_jstr(j, "line"),
                      (unsigned long long)id, after[i], (unsigned long long)(r1 + 1 + (uint64_t)i));
        json_decref(j);
    }
    ck_assert_int_eq(r4, r1 + 3);
    dm_e2e_close(&c);

    /* The same from a page that opens a new stream: ?lastEventId=. */
    char query[64];
    snprintf(query, sizeof query, "?tail=1&lastEventId=%llu", (unsigned long long)(r1 + 1));
    dm_e2e_logs_path(path, sizeof path, inst, query);
    dm_e2e_logs_open_ok(&c, path, tok, NULL);
    uint64_t id;
    json_t *j = next_line(&c, inst, &id, "the first line after lastEventId");
    ck_assert_str_eq(dm_e2e_jstr(j, "line"), "r-3");
    json_decref(j);
    dm_e2e_close(&c);
    dm_e2e_close(&keep);
    free(tok);
}
END_TEST

/* ---- a client that stops reading ---------------------------------------------- */

#define FLOOD_LINES 120000
#define RSS_BOUND_KB (40 * 1024)

/* The server's resident memory in KiB. */
static long rss_kb(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)srv.pid);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    ck_assert_msg(kb > 0, "no VmRSS in %s", path);
    return kb;
}

static void setup_slow(void)
{
    /* AddressSanitizer keeps freed memory in quarantine (256 MiB by
     * default), which would hide whether the server's memory stays
     * bounded: a small one lets freed blocks be used again. */
    const char *asan = getenv("ASAN_OPTIONS");
    char opts[512];
    snprintf(opts, sizeof opts, "%s%squarantine_size_mb=4", asan != NULL ? asan : "",
             asan != NULL && asan[0] != '\0' ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    json_t *x = engine_extra();
    json_object_set_new(json_object_get(x, "instances"), "logSubscriberBytes", json_integer(16384));
    dm_e2e_instances_opts o = { .with_service = true, .extra = x };
    dm_e2e_instances_start(&o);
}

/* The newest line the server holds for inst, as a stream joining now with
 * ?tail=1 gets it from the buffer (a new string), and its id. */
static char *newest_buffered(const char *inst, const char *tok, uint64_t *id)
{
    char path[192];
    dm_e2e_logs_path(path, sizeof path, inst, "?tail=1");
    dm_e2e_conn c;
    dm_e2e_logs_open_ok(&c, path, tok, NULL);
    json_t *j = next_line(&c, inst, id, "the newest buffered line");
    char *text = strdup(dm_e2e_jstr(j, "line"));
    json_decref(j);
    dm_e2e_close(&c);
    return text;
}

/* Wait until the server has published the line text (bounded by ms),
 * sampling its memory meanwhile: the most it held, and the line's id. */
static long wait_published_sampling(const char *inst, const char *tok, const char *text, int ms, uint64_t *id)
{
    long most = 0;
    bool there = false;
    for (long long end = dm_e2e_now_ms() + ms; !there && dm_e2e_now_ms() < end;) {
        long kb = rss_kb();
        most = kb > most ? kb : most;
        char *newest = newest_buffered(inst, tok, id);
        there = strcmp(newest, text) == 0;
        free(newest);
        if (!there)
            dm_e2e_nap_ms(100);
    }
    ck_assert_msg(there, "\"%s\" was not published within %d ms", text, ms);
    return most;
}

/* What a reader of a stream has seen: ids follow each other except across
 * a "lines dropped: N" notice, after which exactly N ids are skipped. */
typedef struct gaps {
    uint64_t prev;    /* the id of the last line read */
    uint64_t skip;    /* ids the last notice said are skipped */
    int      notices;
    uint64_t dropped; /* lines all notices counted */
} gaps;

/* Read one line of c into g (bounded), failing on a silent gap; its text
 * is text (a new string). */
static char *read_line_checked(dm_e2e_conn *c, const char *inst, gaps *g)
{
    uint64_t id;
    json_t *j = next_line(c, inst, &id, "reading past a flood");
    char *text = strdup(dm_e2e_jstr(j, "line"));
    json_decref(j);
    if (strncmp(text, "lines dropped: ", 15) == 0) {
        ck_assert_msg(g->skip == 0, "two notices in a row");
        g->skip = strtoull(text + 15, NULL, 10);
        ck_assert_msg(g->skip > 0, "a notice of nothing: %s", text);
        g->notices++;
        g->dropped += g->skip;
    } else {
        ck_assert_msg(id == g->prev + g->skip + 1, "id %llu after %llu and a notice of %llu: lines lost silently",
                      (unsigned long long)id, (unsigned long long)g->prev, (unsigned long long)g->skip);
        g->prev = id;
        g->skip = 0;
    }
    return text;
}

START_TEST(a_client_that_stops_reading_gets_lines_dropped_and_memory_stays_bounded)
{
    char inst[37], path[192], flood[256];
    char *tok = dm_e2e_logs_running("slow@example.id", inst);
    dm_e2e_logs_path(path, sizeof path, inst, "?tail=1");
    dm_e2e_conn slow;
    dm_e2e_logs_open_ok(&slow, path, tok, NULL);
    print(inst, "echo before-flood >/proc/1/fd/1");
    gaps g = { .prev = id_of(&slow, inst, "before-flood") };
    long rss0 = rss_kb();

    /* The container prints as fast as it can while the client reads
     * nothing: ~45 MB of events, far past what a stream may hold. */
    snprintf(flood, sizeof flood,
             "awk 'BEGIN { for (i = 1; i <= %d; i++) printf \"flood-%%d %%0250d\\n\", i, 0 }' "
             ">/proc/1/fd/1; echo flood-done >/proc/1/fd/1",
             FLOOD_LINES);
    print(inst, flood);
    uint64_t done_id = 0;
    long most = wait_published_sampling(inst, tok, "flood-done", 120000, &done_id);
    ck_assert_msg(most - rss0 < RSS_BOUND_KB, "the server grew by %ld KiB (from %ld) while a client read nothing",
                  most - rss0, rss0);

    /* It reads again: what it was sent before each stall, one notice of
     * what it then missed, and so on until every line of the flood is
     * either read or counted; never a line lost silently. */
    while (g.prev + g.skip < done_id)
        free(read_line_checked(&slow, inst, &g));
    ck_assert_msg(g.notices >= 1 && g.dropped > 0, "%d notices of %llu lines", g.notices,
                  (unsigned long long)g.dropped);
    ck_assert_int_ge(dm_e2e_fetch_metric(dm_e2e_auth_srv.port, "dermaga_log_lines_dropped_total"),
                     (long long)g.dropped);
    /* Then it goes on with the newest lines. */
    print(inst, "echo after-flood >/proc/1/fd/1");
    for (bool done = false; !done;) {
        char *text = read_line_checked(&slow, inst, &g);
        done = strcmp(text, "after-flood") == 0;
        free(text);
    }
    ck_assert_msg(rss_kb() - rss0 < RSS_BOUND_KB, "the server holds %ld KiB more after the flood", rss_kb() - rss0);
    dm_e2e_close(&slow);
    free(tok);
}
END_TEST

START_TEST(no_engine_configured)
{
    dm_docker_test_engine_off("test_logs_fanout");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("logs_fanout");
    TCase *tc = tcase_create("fanout");
    if (dm_docker_test_host() == NULL) {
        tcase_add_test(tc, no_engine_configured);
        suite_add_tcase(s, tc);
        return s;
    }
    tcase_add_unchecked_fixture(tc, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(tc, setup_engine, teardown_engine);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, two_streams_share_one_runtime_follow);
    tcase_add_test(tc, last_event_id_resumes_where_the_client_left);
    suite_add_tcase(s, tc);

    TCase *slow = tcase_create("slow");
    tcase_add_unchecked_fixture(slow, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(slow, setup_slow, teardown_engine);
    tcase_set_timeout(slow, 240);
    tcase_add_test(slow, a_client_that_stops_reading_gets_lines_dropped_and_memory_stays_bounded);
    suite_add_tcase(s, slow);
    return s;
}

DM_TEST_MAIN(make_suite)
