/*
 * test_log_hub.c — the log hub (instances/log_hub.h) on a private loop
 * with a fake runtime whose followed log the test writes line by line,
 * and fake sinks that take as much as the test lets them: one follow per
 * instance shared by its subscribers and stopped after the last; the tail
 * from the runtime and from the buffer; Last-Event-ID resumes; a slow
 * subscriber gets one "lines dropped: N" and continues from the newest
 * lines while memory stays bounded; the ends of a follow; ids never
 * reused; a subscriber leaving from inside its own sink call; the linger;
 * stop. Waits run the loop until a condition holds, with a deadline.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "dm_test.h"
#include "instances/log_hub.h"
#include "util/clock.h"

#define INST "0b6f5f9e-3c1a-4d8e-9a51-2f7c4b1e8d20"
#define OTHER "1c7a6e0f-4d2b-4e9f-8a62-3e8d5c2f9e31"
#define WAIT_MS 5000

/* ---- a fake runtime: the test writes its followed log ------------------- */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    int             calls;      /* follows started */
    int             active;     /* follows running */
    uint32_t        tail_asked;
    const char     *history[16]; /* written before any follow began */
    int             n_history;
    char            live[64][64]; /* written by the test, not yet read */
    char            live_of[64][37]; /* whose container wrote each */
    int             n_live;
    bool            end;        /* the log ends (the container stopped) */
    int             end_rc;
    bool            deaf;       /* ignores cancelled() */
} fk = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static int fake_logs(void *st, const char *id, const dm_runtime_log_opts_t *opts, const dm_runtime_log_sink_t *sink,
                     dm_err_t *err)
{
    pthread_mutex_lock(&fk.mu);
    fk.calls++;
    fk.active++;
    fk.tail_asked = opts->tail_lines;
    int n = fk.n_history;
    pthread_mutex_unlock(&fk.mu);
    /* The last tail_lines of the history, stamped 1970: written before. */
    int from = n > (int)opts->tail_lines ? n - (int)opts->tail_lines : 0;
    for (int i = from; i < n; i++)
        sink->line(sink->opaque, fk.history[i], strlen(fk.history[i]), DM_RUNTIME_STDOUT, 1000 + i);
    int rc = 0;
    pthread_mutex_lock(&fk.mu);
    for (;;) {
        int k = 0;
        while (k < fk.n_live && strcmp(fk.live_of[k], id) != 0)
            k++;
        if (k < fk.n_live) {
            char line[64];
            snprintf(line, sizeof line, "%s", fk.live[k]);
            memmove(fk.live + k, fk.live + k + 1, (size_t)(fk.n_live - k - 1) * sizeof fk.live[0]);
            memmove(fk.live_of + k, fk.live_of + k + 1, (size_t)(fk.n_live - k - 1) * sizeof fk.live_of[0]);
            fk.n_live--;
            pthread_mutex_unlock(&fk.mu);
            int stop = sink->line(sink->opaque, line, strlen(line), DM_RUNTIME_STDOUT, dm__clock_wall_ms() + 60000);
            pthread_mutex_lock(&fk.mu);
            if (stop != 0 && !fk.deaf)
                break;
            continue;
        }
        if (fk.end) {
            rc = fk.end_rc;
            if (rc != 0)
                dm_err_set(err, rc, "engine at /run/secret.sock said no");
            break;
        }
        pthread_mutex_unlock(&fk.mu);
        bool cancelled = sink->cancelled(sink->opaque);
        pthread_mutex_lock(&fk.mu);
        if (cancelled && !fk.deaf)
            break;
        struct timespec until;
        dm__clock_deadline(CLOCK_REALTIME, 10, &until);
        pthread_cond_timedwait(&fk.cv, &fk.mu, &until);
    }
    fk.active--;
    pthread_mutex_unlock(&fk.mu);
    return rc;
}

static int fake_noop(void *s, const char *id, dm_err_t *err) { return 0; }
static int fake_status(void *s, const char *id, dm_runtime_status_t *out, dm_err_t *err) { return 0; }
static int fake_provision(void *s, const char *id, const json_t *spec, dm_runtime_status_t *out, dm_err_t *err)
{
    return 0;
}

static const dm_runtime_ops_t rt_ops = { .provision = fake_provision, .status = fake_status, .stop = fake_noop,
                                         .start = fake_noop, .restart = fake_noop, .terminate = fake_noop,
                                         .logs = fake_logs };
static dm_plugin runtime = { .magic = DM_PLUGIN_OBJ_MAGIC, .name = "fake-rt", .kind = DM_PLUGIN_RUNTIME,
                             .abi_major = 1, .abi_minor = 4, .ops = &rt_ops };

/* inst's container writes text. */
static void write_line_to(const char *inst, const char *text)
{
    pthread_mutex_lock(&fk.mu);
    ck_assert_int_lt(fk.n_live, 64);
    snprintf(fk.live_of[fk.n_live], sizeof fk.live_of[0], "%s", inst);
    snprintf(fk.live[fk.n_live++], sizeof fk.live[0], "%s", text);
    pthread_cond_broadcast(&fk.cv);
    pthread_mutex_unlock(&fk.mu);
}

static void write_line(const char *text)
{
    write_line_to(INST, text);
}

static void end_log(int rc)
{
    pthread_mutex_lock(&fk.mu);
    fk.end = true;
    fk.end_rc = rc;
    pthread_cond_broadcast(&fk.cv);
    pthread_mutex_unlock(&fk.mu);
}

static int fake_count(const int *field)
{
    pthread_mutex_lock(&fk.mu);
    int n = *field;
    pthread_mutex_unlock(&fk.mu);
    return n;
}

/* ---- a sink that keeps what it takes ---------------------------------------- */

typedef struct sink {
    uint64_t    ids[256];
    char        texts[256][64];
    int         n;
    int         room;       /* lines it may still take; < 0: any number */
    char        notices[4][160];
    int         n_notices;
    dm_log_sub *sub;
    bool        leave_in_call; /* unsubscribes itself from inside lines() */
    const char *inst;          /* whose lines it takes; NULL: INST */
} sink;

static size_t on_lines(void *ctx, dm_log_line *const *lines, size_t n)
{
    sink *k = ctx;
    if (k->leave_in_call) {
        dm__log_hub_unsubscribe(k->sub);
        k->sub = NULL;
        return n;
    }
    size_t took = 0;
    for (; took < n && k->room != 0 && k->n < 256; took++) {
        json_t *j = json_loads(lines[took]->json->data, 0, NULL);
        ck_assert_msg(j != NULL, "a line is not JSON: %s", lines[took]->json->data);
        ck_assert_str_eq(json_string_value(json_object_get(j, "instanceId")), k->inst != NULL ? k->inst : INST);
        k->ids[k->n] = lines[took]->id;
        snprintf(k->texts[k->n], sizeof k->texts[0], "%s", json_string_value(json_object_get(j, "line")));
        k->n++;
        json_decref(j);
        if (k->room > 0)
            k->room--;
    }
    return took;
}

static void on_notice(void *ctx, const char *event, const char *json)
{
    sink *k = ctx;
    ck_assert_int_lt(k->n_notices, 4);
    snprintf(k->notices[k->n_notices++], sizeof k->notices[0], "%s %s", event, json);
}

static uv_loop_t loop;
static uv_timer_t alive; /* the hub's handles keep no loop alive: this one does */
static dm_log_hub *hub;

static void never(uv_timer_t *t) { (void)t; }

static dm_log_sub *subscribe(sink *k, const char *inst, uint32_t tail, uint64_t after)
{
    const dm_log_sink s = { k, on_lines, on_notice };
    k->sub = dm__log_hub_subscribe(hub, &runtime, inst, true, tail, after, &s);
    ck_assert_ptr_nonnull(k->sub);
    return k->sub;
}

/* Run the loop until check(arg) holds; fails the test after WAIT_MS. */
static void run_until(bool (*check)(void *), void *arg, const char *what)
{
    int64_t end = dm__clock_mono_ms() + WAIT_MS;
    while (!check(arg)) {
        ck_assert_msg(dm__clock_mono_ms() < end, "after %d ms still waiting for %s", WAIT_MS, what);
        uv_run(&loop, UV_RUN_NOWAIT);
        struct timespec nap = { 0, 1000000L };
        nanosleep(&nap, NULL);
    }
}

typedef struct want_n {
    sink *k;
    int   n;
} want_n;

static bool has_n(void *arg)
{
    want_n *w = arg;
    return w->k->n >= w->n;
}

static void wait_lines(sink *k, int n)
{
    want_n w = { k, n };
    char what[64];
    snprintf(what, sizeof what, "%d lines (have %d)", n, k->n);
    run_until(has_n, &w, what);
}

static bool has_notices(void *arg)
{
    want_n *w = arg;
    return w->k->n_notices >= w->n;
}

static void wait_notices(sink *k, int n)
{
    want_n w = { k, n };
    run_until(has_notices, &w, "notices");
}

static bool no_follow(void *arg)
{
    dm_log_hub_stats st;
    dm__log_hub_stats(hub, &st);
    return fake_count(&fk.active) == 0 && st.follows == 0;
}

static bool published(void *arg)
{
    dm_log_hub_stats st;
    dm__log_hub_stats(hub, &st);
    return st.lines >= *(uint64_t *)arg;
}

static void wait_published(uint64_t n)
{
    run_until(published, &n, "lines published");
}

/* Run the loop a little: what must not happen has its chance. */
static void settle(void)
{
    for (int i = 0; i < 30; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        struct timespec nap = { 0, 5000000L };
        nanosleep(&nap, NULL);
    }
}

static void start_hub(uint32_t lines, size_t bytes, int linger_ms)
{
    pthread_mutex_lock(&fk.mu);
    fk.calls = fk.active = fk.n_history = fk.n_live = 0;
    fk.end = fk.deaf = false;
    pthread_mutex_unlock(&fk.mu);
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &alive);
    uv_timer_start(&alive, never, 3600000, 0);
    dm_log_hub_cfg cfg = { lines, bytes, 256, linger_ms };
    dm_err_t err = { 0 };
    hub = dm__log_hub_new(&loop, &cfg, &err);
    ck_assert_msg(hub != NULL, "hub: %s", err.msg);
}

static void setup(void) { start_hub(100, 1u << 20, 0); }

static void teardown(void)
{
    ck_assert_int_eq(dm__log_hub_stop(hub, 3000), 0);
    dm__log_hub_free(hub);
    uv_close((uv_handle_t *)&alive, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}

static void expect_texts(const sink *k, int from, const char *const want[], const char *what)
{
    for (int i = 0; want[i] != NULL; i++) {
        ck_assert_msg(from + i < k->n, "%s: only %d lines", what, k->n);
        ck_assert_msg(strcmp(k->texts[from + i], want[i]) == 0, "%s: line %d is \"%s\", want \"%s\"", what,
                      from + i, k->texts[from + i], want[i]);
    }
}

/* ---- sharing ---------------------------------------------------------------- */

START_TEST(subscribers_share_one_follow_until_the_last_leaves)
{
    sink a = { .room = -1 }, b = { .room = -1 };
    subscribe(&a, INST, 100, 0);
    subscribe(&b, INST, 100, 0);
    write_line("one");
    write_line("two");
    wait_lines(&a, 2);
    wait_lines(&b, 2);
    ck_assert_int_eq(fake_count(&fk.calls), 1);
    ck_assert_int_eq(fk.tail_asked, 100); /* the buffer's size */
    static const char *const both[] = { "one", "two", NULL };
    expect_texts(&a, 0, both, "a");
    expect_texts(&b, 0, both, "b");
    ck_assert_msg(a.ids[0] == 1 && a.ids[1] == 2 && b.ids[0] == 1 && b.ids[1] == 2, "ids 1, 2 for both");
    dm__log_hub_unsubscribe(a.sub);
    settle();
    ck_assert_msg(fake_count(&fk.active) == 1, "the follow stopped while b still reads");
    write_line("three");
    wait_lines(&b, 3);
    ck_assert_int_eq(a.n, 2);
    dm__log_hub_unsubscribe(b.sub);
    run_until(no_follow, NULL, "the follow to stop after the last subscriber left");
    ck_assert_int_eq(fake_count(&fk.calls), 1);
}
END_TEST

START_TEST(another_instance_has_its_own_follow)
{
    sink a = { .room = -1 }, b = { .room = -1, .inst = OTHER };
    subscribe(&a, INST, 100, 0);
    const dm_log_sink s = { &b, on_lines, on_notice };
    b.sub = dm__log_hub_subscribe(hub, &runtime, OTHER, true, 100, 0, &s);
    write_line("x");
    write_line_to(OTHER, "y");
    wait_lines(&a, 1);
    wait_lines(&b, 1);
    ck_assert_str_eq(a.texts[0], "x");
    ck_assert_str_eq(b.texts[0], "y");
    ck_assert_int_eq(fake_count(&fk.calls), 2);
    dm__log_hub_unsubscribe(a.sub);
    dm__log_hub_unsubscribe(b.sub);
    run_until(no_follow, NULL, "both follows to stop");
}
END_TEST

/* ---- tails -------------------------------------------------------------------- */

static const char *const five[] = { "h1", "h2", "h3", "h4", "h5" };

static void history(int n)
{
    memcpy(fk.history, five, sizeof five);
    fk.n_history = n;
}

START_TEST(the_first_subscriber_gets_the_runtimes_tail)
{
    history(5);
    sink a = { .room = -1 };
    subscribe(&a, INST, 2, 0);
    wait_lines(&a, 2);
    ck_assert_int_eq(fk.tail_asked, 2);
    write_line("live");
    wait_lines(&a, 3);
    static const char *const want[] = { "h4", "h5", "live", NULL };
    expect_texts(&a, 0, want, "tail=2");
    ck_assert_int_eq(a.n, 3);
    ck_assert_msg(a.ids[0] == 1 && a.ids[2] == 3, "ids 1.. (got %llu)", (unsigned long long)a.ids[0]);
    dm__log_hub_unsubscribe(a.sub);
}
END_TEST

/* A joins with tail 5 and B with 2, both before the runtime answered: A
 * gets what the runtime sends, B the last two of it once all five came. */
START_TEST(a_joiner_with_a_smaller_tail_waits_for_the_runtimes_tail)
{
    history(5);
    sink a = { .room = -1 }, b = { .room = -1 };
    subscribe(&a, INST, 5, 0);
    subscribe(&b, INST, 2, 0);
    wait_lines(&a, 5);
    wait_lines(&b, 2);
    static const char *const want[] = { "h4", "h5", NULL };
    expect_texts(&b, 0, want, "the smaller tail");
    write_line("live");
    wait_lines(&b, 3);
    ck_assert_str_eq(b.texts[2], "live");
    ck_assert_int_eq(fake_count(&fk.calls), 1);
    dm__log_hub_unsubscribe(a.sub);
    dm__log_hub_unsubscribe(b.sub);
}
END_TEST

/* Fewer lines than asked for: the tail is known to be in when the runtime
 * has been quiet for a moment. */
START_TEST(a_short_history_is_over_when_the_runtime_is_quiet)
{
    history(3);
    sink a = { .room = -1 }, b = { .room = -1 };
    subscribe(&a, INST, 5, 0);
    subscribe(&b, INST, 1, 0);
    wait_lines(&b, 1);
    ck_assert_str_eq(b.texts[0], "h3");
    ck_assert_int_eq(a.n, 3);
    dm__log_hub_unsubscribe(a.sub);
    dm__log_hub_unsubscribe(b.sub);
}
END_TEST

/* A line stamped after the follow began ends the tail at once. */
START_TEST(a_live_line_ends_the_runtimes_tail)
{
    history(3);
    write_line("live-1");
    sink a = { .room = -1 }, b = { .room = -1 };
    subscribe(&a, INST, 5, 0);
    subscribe(&b, INST, 1, 0);
    wait_lines(&b, 2);
    static const char *const want[] = { "h3", "live-1", NULL };
    expect_texts(&b, 0, want, "tail=1 then the live line");
    dm__log_hub_unsubscribe(a.sub);
    dm__log_hub_unsubscribe(b.sub);
}
END_TEST

START_TEST(a_late_subscriber_gets_its_tail_from_the_buffer)
{
    sink a = { .room = -1 }, b = { .room = -1 };
    subscribe(&a, INST, 100, 0);
    char text[16];
    for (int i = 1; i <= 8; i++) {
        snprintf(text, sizeof text, "l%d", i);
        write_line(text);
    }
    wait_lines(&a, 8);
    subscribe(&b, INST, 3, 0);
    wait_lines(&b, 3);
    static const char *const want[] = { "l6", "l7", "l8", NULL };
    expect_texts(&b, 0, want, "the late tail");
    write_line("l9");
    wait_lines(&b, 4);
    ck_assert_str_eq(b.texts[3], "l9");
    ck_assert_int_eq(fake_count(&fk.calls), 1);
    dm__log_hub_unsubscribe(a.sub);
    dm__log_hub_unsubscribe(b.sub);
}
END_TEST

START_TEST(the_buffer_holds_at_most_its_lines_and_bytes)
{
    teardown();
    start_hub(10, 1u << 20, 0);
    sink a = { .room = -1 }, b = { .room = -1 };
    subscribe(&a, INST, 100, 0);
    char text[16];
    for (int i = 1; i <= 40; i++) {
        snprintf(text, sizeof text, "l%d", i);
        write_line(text);
    }
    wait_lines(&a, 40);
    subscribe(&b, INST, 1000, 0);
    wait_lines(&b, 10);
    settle();
    ck_assert_int_eq(b.n, 10);
    ck_assert_str_eq(b.texts[0], "l31");
    dm_log_hub_stats st;
    dm__log_hub_stats(hub, &st);
    ck_assert_msg(st.buffered_bytes < 10 * 200, "%zu bytes buffered for 10 lines", st.buffered_bytes);
    dm__log_hub_unsubscribe(a.sub);
    dm__log_hub_unsubscribe(b.sub);
}
END_TEST

/* ---- resuming ------------------------------------------------------------------- */

START_TEST(last_event_id_resumes_from_the_buffer)
{
    sink a = { .room = -1 }, b = { .room = -1 }, c = { .room = -1 };
    subscribe(&a, INST, 100, 0);
    for (int i = 1; i <= 6; i++) {
        char text[16];
        snprintf(text, sizeof text, "l%d", i);
        write_line(text);
    }
    wait_lines(&a, 6);
    subscribe(&b, INST, 1, 4); /* saw up to id 4 */
    wait_lines(&b, 2);
    static const char *const want[] = { "l5", "l6", NULL };
    expect_texts(&b, 0, want, "resumed after 4");
    ck_assert_int_eq(b.ids[0], 5);
    subscribe(&c, INST, 1, 6); /* saw everything: nothing again */
    settle();
    ck_assert_int_eq(c.n, 0);
    write_line("l7");
    wait_lines(&c, 1);
    ck_assert_str_eq(c.texts[0], "l7");
    dm__log_hub_unsubscribe(a.sub);
    dm__log_hub_unsubscribe(b.sub);
    dm__log_hub_unsubscribe(c.sub);
}
END_TEST

START_TEST(an_id_the_buffer_no_longer_holds_gets_the_tail)
{
    teardown();
    start_hub(4, 1u << 20, 0);
    sink a = { .room = -1 }, b = { .room = -1 };
    subscribe(&a, INST, 100, 0);
    for (int i = 1; i <= 10; i++) {
        char text[16];
        snprintf(text, sizeof text, "l%d", i);
        write_line(text);
    }
    wait_lines(&a, 10);
    subscribe(&b, INST, 2, 3); /* lines 4.. are gone from a buffer of 4 */
    wait_lines(&b, 2);
    settle();
    static const char *const want[] = { "l9", "l10", NULL };
    expect_texts(&b, 0, want, "the tail instead");
    ck_assert_int_eq(b.n, 2);
    dm__log_hub_unsubscribe(a.sub);
    dm__log_hub_unsubscribe(b.sub);
}
END_TEST

START_TEST(ids_are_never_reused)
{
    sink a = { .room = -1 };
    subscribe(&a, INST, 100, 0);
    write_line("first");
    wait_lines(&a, 1);
    dm__log_hub_unsubscribe(a.sub);
    run_until(no_follow, NULL, "the first follow to stop");
    /* A new follow reads the same history again, under new ids; an id of
     * the old follow is not taken for one of the new. */
    static const char *const first[] = { "first" };
    memcpy(fk.history, first, sizeof first);
    fk.n_history = 1;
    sink b = { .room = -1 };
    subscribe(&b, INST, 100, 1);
    wait_lines(&b, 1);
    ck_assert_int_eq(fake_count(&fk.calls), 2);
    ck_assert_msg(b.ids[0] == 2, "the new follow's first id is %llu, want 2", (unsigned long long)b.ids[0]);
    dm__log_hub_unsubscribe(b.sub);
}
END_TEST

/* ---- back-pressure -------------------------------------------------------------- */

START_TEST(a_slow_subscriber_gets_one_dropped_notice_then_the_newest)
{
    sink fast = { .room = -1 }, slow = { .room = 3 };
    subscribe(&fast, INST, 100, 0);
    subscribe(&slow, INST, 100, 0);
    for (int i = 1; i <= 10; i++) {
        char text[16];
        snprintf(text, sizeof text, "l%d", i);
        write_line(text);
    }
    wait_lines(&fast, 10);
    wait_published(10);
    settle();
    ck_assert_msg(slow.n == 3, "the slow one took %d lines, its room was 3", slow.n);
    dm_log_hub_stats st;
    dm__log_hub_stats(hub, &st);
    ck_assert_int_eq(st.dropped, 7);
    write_line("l11"); /* missed too: no room yet */
    wait_lines(&fast, 11);
    settle();
    ck_assert_int_eq(slow.n, 3);
    /* It wrote its lines out: room again. */
    slow.room = -1;
    dm__log_hub_drained(slow.sub);
    wait_lines(&slow, 4);
    ck_assert_msg(slow.ids[3] == 0 && strcmp(slow.texts[3], "lines dropped: 8") == 0,
                  "after draining: id %llu \"%s\"", (unsigned long long)slow.ids[3], slow.texts[3]);
    write_line("l12");
    wait_lines(&slow, 5);
    ck_assert_str_eq(slow.texts[4], "l12");
    settle();
    ck_assert_int_eq(slow.n, 5);
    ck_assert_int_eq(fast.n, 12);
    dm__log_hub_unsubscribe(fast.sub);
    dm__log_hub_unsubscribe(slow.sub);
}
END_TEST

START_TEST(memory_stays_bounded_whatever_a_subscriber_does)
{
    teardown();
    start_hub(16, 64 * 1024, 0);
    sink stuck = { .room = 0 }, fast = { .room = -1 };
    subscribe(&stuck, INST, 100, 0);
    subscribe(&fast, INST, 100, 0);
    size_t most = 0;
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 60; i++) {
            char text[32];
            snprintf(text, sizeof text, "round %d line %d", round, i);
            write_line(text);
        }
        wait_published((uint64_t)(round + 1) * 60);
        dm_log_hub_stats st;
        dm__log_hub_stats(hub, &st);
        most = st.buffered_bytes > most ? st.buffered_bytes : most;
        fast.n = 0; /* keep what it took from growing the test's memory */
    }
    ck_assert_msg(most <= 16 * 200, "the buffer held %zu bytes for 16 lines", most);
    ck_assert_int_eq(stuck.n, 0);
    dm_log_hub_stats st;
    dm__log_hub_stats(hub, &st);
    ck_assert_int_eq(st.dropped, 240);
    dm__log_hub_unsubscribe(stuck.sub);
    dm__log_hub_unsubscribe(fast.sub);
}
END_TEST

/* ---- ends ------------------------------------------------------------------------ */

START_TEST(the_end_of_the_log_ends_every_subscriber)
{
    sink a = { .room = -1 }, b = { .room = 0 };
    subscribe(&a, INST, 100, 0);
    subscribe(&b, INST, 100, 0);
    write_line("last words");
    wait_lines(&a, 1);
    end_log(0);
    wait_notices(&a, 1);
    wait_notices(&b, 1);
    ck_assert_str_eq(a.notices[0], "logs-ended {\"instanceId\":\"" INST "\"}");
    ck_assert_str_eq(b.notices[0], "logs-ended {\"instanceId\":\"" INST "\"}");
    settle();
    ck_assert_int_eq(a.n_notices, 1);
    /* The next subscriber starts a new follow; ids go on. */
    pthread_mutex_lock(&fk.mu);
    fk.end = false;
    pthread_mutex_unlock(&fk.mu);
    sink c = { .room = -1 };
    subscribe(&c, INST, 100, 0);
    write_line("again");
    wait_lines(&c, 1);
    ck_assert_int_eq(fake_count(&fk.calls), 2);
    ck_assert_int_eq(c.ids[0], 2);
    dm__log_hub_unsubscribe(a.sub);
    dm__log_hub_unsubscribe(b.sub);
    dm__log_hub_unsubscribe(c.sub);
}
END_TEST

START_TEST(a_failed_follow_says_why_in_words_for_people)
{
    static const int codes[] = { DM_EIO, DM_ENOTFOUND };
    static const char *const said[] = { "the container runtime could not stream the log",
                                         "the instance has no workload to read logs from" };
    for (int i = 0; i < 2; i++) {
        sink a = { .room = -1 };
        subscribe(&a, INST, 100, 0);
        end_log(codes[i]);
        wait_notices(&a, 2);
        char want[160];
        snprintf(want, sizeof want, "logs-error {\"message\":\"%s\"}", said[i]);
        ck_assert_str_eq(a.notices[0], want);
        ck_assert_msg(strstr(a.notices[0], ".sock") == NULL, "the runtime's words reached the client");
        ck_assert_str_eq(a.notices[1], "logs-ended {\"instanceId\":\"" INST "\"}");
        dm__log_hub_unsubscribe(a.sub);
        pthread_mutex_lock(&fk.mu);
        fk.end = false;
        pthread_mutex_unlock(&fk.mu);
        run_until(no_follow, NULL, "the follow to end");
    }
}
END_TEST

START_TEST(nothing_to_read_is_an_error_without_a_follow)
{
    sink a = { .room = -1 }, b = { .room = -1 };
    const dm_log_sink sa = { &a, on_lines, on_notice }, sb = { &b, on_lines, on_notice };
    a.sub = dm__log_hub_subscribe(hub, &runtime, INST, false, 100, 0, &sa);
    b.sub = dm__log_hub_subscribe(hub, NULL, INST, true, 100, 0, &sb);
    ck_assert_msg(a.n_notices == 0 && b.n_notices == 0, "a sink was called inside subscribe");
    wait_notices(&a, 2);
    wait_notices(&b, 2);
    ck_assert_str_eq(a.notices[0], "logs-error {\"message\":\"the instance has no workload to read logs from\"}");
    ck_assert_str_eq(b.notices[0], "logs-error {\"message\":\"the container runtime could not stream the log\"}");
    ck_assert_str_eq(a.notices[1], "logs-ended {\"instanceId\":\"" INST "\"}");
    ck_assert_int_eq(fake_count(&fk.calls), 0);
    dm__log_hub_unsubscribe(a.sub);
    dm__log_hub_unsubscribe(b.sub);
}
END_TEST

START_TEST(a_subscriber_may_leave_from_inside_its_sink)
{
    sink a = { .room = -1, .leave_in_call = true }, b = { .room = -1 };
    subscribe(&a, INST, 100, 0);
    subscribe(&b, INST, 100, 0);
    write_line("one");
    wait_lines(&b, 1);
    ck_assert_ptr_null(a.sub);
    write_line("two");
    wait_lines(&b, 2);
    ck_assert_int_eq(a.n, 0);
    dm__log_hub_unsubscribe(b.sub);
    run_until(no_follow, NULL, "the follow to stop");
}
END_TEST

/* ---- linger and stop ----------------------------------------------------------- */

START_TEST(a_lingering_follow_lets_a_reconnect_resume)
{
    teardown();
    start_hub(100, 1u << 20, 300);
    sink a = { .room = -1 };
    subscribe(&a, INST, 100, 0);
    write_line("l1");
    write_line("l2");
    wait_lines(&a, 2);
    dm__log_hub_unsubscribe(a.sub);
    write_line("l3"); /* while nobody listens */
    wait_published(3);
    sink b = { .room = -1 };
    subscribe(&b, INST, 100, 2);
    wait_lines(&b, 1);
    ck_assert_str_eq(b.texts[0], "l3");
    ck_assert_int_eq(fake_count(&fk.calls), 1);
    dm__log_hub_unsubscribe(b.sub);
    ck_assert_int_eq(fake_count(&fk.active), 1);
    run_until(no_follow, NULL, "the follow to stop after the linger");
}
END_TEST

START_TEST(stop_ends_every_follow)
{
    sink a = { .room = -1 };
    subscribe(&a, INST, 100, 0);
    write_line("x");
    wait_lines(&a, 1);
    int64_t t0 = dm__clock_mono_ms();
    ck_assert_int_eq(dm__log_hub_stop(hub, 3000), 0);
    ck_assert_msg(dm__clock_mono_ms() - t0 < 1500, "stop took %lld ms", (long long)(dm__clock_mono_ms() - t0));
    ck_assert_int_eq(fake_count(&fk.active), 0);
    dm__log_hub_unsubscribe(a.sub);
}
END_TEST

START_TEST(stop_gives_up_on_a_runtime_that_never_returns)
{
    fk.deaf = true;
    sink a = { .room = -1 };
    subscribe(&a, INST, 100, 0);
    write_line("x");
    wait_lines(&a, 1);
    ck_assert_int_eq(dm__log_hub_stop(hub, 200), DM_ETIMEDOUT);
    /* The test process ends with the thread inside the fake (forked). */
    end_log(0);
    ck_assert_int_eq(dm__log_hub_stop(hub, 3000), 0);
    dm__log_hub_unsubscribe(a.sub);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("log_hub");
    TCase *tc = tcase_create("hub");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, subscribers_share_one_follow_until_the_last_leaves);
    tcase_add_test(tc, another_instance_has_its_own_follow);
    tcase_add_test(tc, the_first_subscriber_gets_the_runtimes_tail);
    tcase_add_test(tc, a_joiner_with_a_smaller_tail_waits_for_the_runtimes_tail);
    tcase_add_test(tc, a_short_history_is_over_when_the_runtime_is_quiet);
    tcase_add_test(tc, a_live_line_ends_the_runtimes_tail);
    tcase_add_test(tc, a_late_subscriber_gets_its_tail_from_the_buffer);
    tcase_add_test(tc, the_buffer_holds_at_most_its_lines_and_bytes);
    tcase_add_test(tc, last_event_id_resumes_from_the_buffer);
    tcase_add_test(tc, an_id_the_buffer_no_longer_holds_gets_the_tail);
    tcase_add_test(tc, ids_are_never_reused);
    tcase_add_test(tc, a_slow_subscriber_gets_one_dropped_notice_then_the_newest);
    tcase_add_test(tc, memory_stays_bounded_whatever_a_subscriber_does);
    tcase_add_test(tc, the_end_of_the_log_ends_every_subscriber);
    tcase_add_test(tc, a_failed_follow_says_why_in_words_for_people);
    tcase_add_test(tc, nothing_to_read_is_an_error_without_a_follow);
    tcase_add_test(tc, a_subscriber_may_leave_from_inside_its_sink);
    tcase_add_test(tc, a_lingering_follow_lets_a_reconnect_resume);
    tcase_add_test(tc, stop_ends_every_follow);
    tcase_add_test(tc, stop_gives_up_on_a_runtime_that_never_returns);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
