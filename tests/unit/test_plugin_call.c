/*
 * test_plugin_call.c — the call layer (plugin/call.h) with fake plugins
 * built in this file: a hanging op times out within its bound and, once
 * it returns, its abandoned call frees everything (what the plugin
 * returned included); a missing op or another kind is DM_EUNSUPPORTED; an
 * unterminated error or text field from a plugin arrives terminated; the
 * metric counts calls and timeouts; the ABI 1.3 runtime shim strips the
 * 1.4 spec keys; a log sink is left alone once its caller gave up; call
 * threads grow only to their cap; stop waits for a call inside a plugin.
 * Waits for another thread poll its state with a deadline.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "dm_test.h"
#include "plugin/call.h"

/* ---- a gate a fake op waits at until the test opens it ---- */

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static atomic_int entered; /* fake ops that reached the gate */

static void gate_wait(void)
{
    atomic_fetch_add(&entered, 1);
    pthread_mutex_lock(&gate_mu);
    while (!gate_open)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
}

static void gate_release(void)
{
    pthread_mutex_lock(&gate_mu);
    gate_open = true;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Poll the layer (every millisecond, at most 5 s) until check is true. */
static bool eventually(bool (*check)(const dm_plugin_calls_stats *))
{
    for (long long end = now_ms() + 5000; now_ms() < end;) {
        dm_plugin_calls_stats st;
        dm__plugin_calls_stats(&st);
        if (check(&st))
            return true;
        struct timespec nap = { 0, 1000000L };
        nanosleep(&nap, NULL);
    }
    return false;
}

static bool none_abandoned(const dm_plugin_calls_stats *st) { return st->abandoned == 0; }
static bool no_threads(const dm_plugin_calls_stats *st) { return st->threads == 0; }

/* ---- a fake runtime ---- */

static json_t *endpoints;   /* what status hands back (one reference per call) */
static char seen_spec[512]; /* what provision got */
static bool hang_status;
static bool bad_error;       /* stop fills its error without a NUL */
static pthread_t op_thread;  /* where the last op ran */
static int sink_answer = -1; /* what line() said after the caller left */
static bool sink_cancelled;

static int fake_provision(void *s, const char *id, const json_t *spec, dm_runtime_status_t *out, dm_err_t *err)
{
    char *text = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(seen_spec, sizeof seen_spec, "%s", text != NULL ? text : "");
    free(text);
    out->phase = DM_RUNTIME_PENDING;
    return 0;
}

static int fake_status(void *s, const char *id, dm_runtime_status_t *out, dm_err_t *err)
{
    op_thread = pthread_self();
    if (hang_status)
        gate_wait();
    out->phase = DM_RUNTIME_RUNNING;
    memset(out->message, 'B', sizeof out->message); /* no NUL */
    out->endpoints = json_incref(endpoints);
    return 0;
}

static int fake_stop(void *s, const char *id, dm_err_t *err)
{
    if (!bad_error)
        return 0;
    memset(err->msg, 'A', sizeof err->msg); /* no NUL */
    return DM_EIO;
}

static int fake_plain(void *s, const char *id, dm_err_t *err)
{
    return 7; /* not a DM_E code, no message */
}

static int fake_logs(void *s, const char *id, const dm_runtime_log_opts_t *opts, const dm_runtime_log_sink_t *sink,
                     dm_err_t *err)
{
    sink->line(sink->opaque, "one", 3, DM_RUNTIME_STDOUT, 0);
    sink->line(sink->opaque, "two", 3, DM_RUNTIME_STDOUT, 0);
    gate_wait();
    sink_answer = sink->line(sink->opaque, "three", 5, DM_RUNTIME_STDOUT, 0);
    sink_cancelled = sink->cancelled(sink->opaque);
    return 0;
}

static const dm_runtime_ops_t rt_ops = {
    .provision = fake_provision, .status = fake_status, .stop = fake_stop, .start = fake_plain,
    .restart = fake_plain, .terminate = fake_plain, .logs = fake_logs,
    /* usage, inventory and workloads missing */
};

static dm_plugin runtime = { .magic = DM_PLUGIN_OBJ_MAGIC, .name = "fake-rt", .kind = DM_PLUGIN_RUNTIME,
                             .abi_major = 1, .abi_minor = 4, .ops = &rt_ops };

/* ---- a fake auth plugin (an op on the caller's thread) ---- */

static int fake_validate(void *s, const dm_auth_credentials_t *c, dm_err_t *err)
{
    memset(err->msg, 'C', sizeof err->msg);
    return DM_EINVAL;
}

static const dm_auth_ops_t auth_ops = { .validate_registration = fake_validate };
static dm_plugin auth = { .magic = DM_PLUGIN_OBJ_MAGIC, .name = "fake-auth", .kind = DM_PLUGIN_AUTH,
                          .abi_major = 1, .abi_minor = 4, .ops = &auth_ops };

static void start(int timeout_ms, int threads)
{
    dm_plugin_calls_cfg cfg = { timeout_ms, timeout_ms, threads };
    dm_err_t err = { 0 };
    ck_assert_msg(dm__plugin_calls_start(&cfg, &err) == 0, "start: %s", err.msg);
}

static void setup(void)
{
    endpoints = json_pack("{s:{s:s,s:i}}", "http", "host", "127.0.0.1", "port", 20001);
    gate_open = false;
    atomic_store(&entered, 0);
    hang_status = bad_error = false;
}

static void teardown(void)
{
    gate_release();
    ck_assert_msg(dm__plugin_calls_stop(5000) == 0, "every call thread leaves once the plugin returned");
    json_decref(endpoints);
}

/* ---- tests ---- */

START_TEST(a_hanging_op_times_out_and_its_abandoned_call_is_freed)
{
    start(200, 4);
    hang_status = true;
    dm_runtime_status_t st;
    dm_err_t err = { 0 };
    long long t0 = now_ms();
    int rc = dm__runtime_status(&runtime, "i-1", &st, &err);
    long long took = now_ms() - t0;
    ck_assert_msg(rc == DM_ETIMEDOUT && err.code == DM_ETIMEDOUT, "a hanging status times out: %d %s", rc, err.msg);
    ck_assert_msg(took >= 190 && took < 2000, "it took %lld ms with a 200 ms bound", took);
    ck_assert_msg(strstr(err.msg, "fake-rt: status did not answer within 200 ms") != NULL, "message: %s", err.msg);
    ck_assert_msg(st.endpoints == NULL && st.phase == 0, "the caller's result stays empty");
    dm_plugin_calls_stats s;
    dm__plugin_calls_stats(&s);
    ck_assert_msg(s.abandoned == 1 && s.running == 1, "abandoned %d, running %d", s.abandoned, s.running);
    ck_assert_msg(endpoints->refcount == 1, "nothing handed out yet");
    /* The plugin returns long after its caller left: what it returned is
     * released with the call (LeakSanitizer checks the record itself). */
    gate_release();
    ck_assert_msg(eventually(none_abandoned), "the abandoned call ends once the plugin returns");
    ck_assert_msg(endpoints->refcount == 1, "the endpoints the plugin returned were decref'd (refcount %zu)",
                  (size_t)endpoints->refcount);
    char out[4096] = "";
    dm_buf b;
    dm__buf_init(&b, 0);
    ck_assert_int_eq(dm__plugin_calls_render(&b), 0);
    snprintf(out, sizeof out, "%s", b.data);
    dm__buf_free(&b);
    ck_assert_msg(strstr(out, "dermaga_plugin_call_timeouts_total{plugin=\"fake-rt\",op=\"status\"} 1\n") != NULL,
                  "the timeout is counted: %s", out);
}
END_TEST

START_TEST(a_call_that_answers_in_time_hands_its_results_over)
{
    start(5000, 4);
    dm_runtime_status_t st;
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__runtime_status(&runtime, "i-1", &st, &err), 0);
    ck_assert_msg(!pthread_equal(op_thread, pthread_self()), "a bounded op runs on a call thread");
    ck_assert_int_eq(st.phase, DM_RUNTIME_RUNNING);
    ck_assert_msg(st.endpoints == endpoints && endpoints->refcount == 2, "the endpoints are the caller's reference");
    ck_assert_msg(strlen(st.message) == sizeof st.message - 1, "an unterminated message arrives terminated");
    json_decref(st.endpoints);
}
END_TEST

START_TEST(not_started_it_runs_on_the_callers_thread)
{
    dm_runtime_status_t st;
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__runtime_status(&runtime, "i-1", &st, &err), 0);
    ck_assert_msg(pthread_equal(op_thread, pthread_self()), "without the layer started, no thread is used");
    json_decref(st.endpoints);
}
END_TEST

START_TEST(a_missing_op_or_another_kind_is_unsupported)
{
    start(5000, 4);
    dm_runtime_usage_t u;
    json_t *list = NULL;
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__runtime_usage(&runtime, "i-1", &u, &err), DM_EUNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "fake-rt: has no usage op") != NULL, "message: %s", err.msg);
    ck_assert_int_eq(dm__runtime_workloads(&runtime, "owner", &list, &err), DM_EUNSUPPORTED);
    ck_assert_ptr_null(list);
    ck_assert_int_eq(dm__payment_cancel(&runtime, "TXMP-1", NULL, &err), DM_EUNSUPPORTED);
    ck_assert_int_eq(dm__payment_cancel(NULL, "TXMP-1", NULL, &err), DM_EUNSUPPORTED);
    ck_assert_int_eq(dm__auth_hash_secret(&auth, "x", (char[8]){ 0 }, 8, &err), DM_EUNSUPPORTED);
    ck_assert_msg(dm__plugin_has_op(&runtime, "logs") && !dm__plugin_has_op(&runtime, "usage")
                      && !dm__plugin_has_op(&auth, "logs") && !dm__plugin_has_op(NULL, "logs"),
                  "has_op answers by kind and table");
}
END_TEST

START_TEST(an_unterminated_plugin_error_is_copied_terminated)
{
    start(5000, 4);
    bad_error = true;
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__runtime_stop(&runtime, "i-1", &err), DM_EIO);
    ck_assert_msg(err.code == DM_EIO && strlen(err.msg) == DM_ERR_MSG_MAX - 1 && err.msg[0] == 'A',
                  "a bounded op's error: code %d, length %zu", err.code, strnlen(err.msg, sizeof err.msg));
    memset(&err, 0, sizeof err);
    dm_auth_credentials_t creds = { "a@b.c", "secret", NULL, NULL };
    ck_assert_int_eq(dm__auth_validate_registration(&auth, &creds, &err), DM_EINVAL);
    ck_assert_msg(strlen(err.msg) == DM_ERR_MSG_MAX - 1 && err.msg[0] == 'C', "an inline op's error is terminated");
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(dm__runtime_start(&runtime, "i-1", &err), DM_EIO);
    ck_assert_msg(strcmp(err.msg, "fake-rt: start failed (code -3)") == 0,
                  "a positive code is DM_EIO with a message of the layer's: %s", err.msg);
}
END_TEST

START_TEST(the_metric_counts_each_call)
{
    start(5000, 4);
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__runtime_stop(&runtime, "i-1", &err), 0);
    ck_assert_int_eq(dm__runtime_stop(&runtime, "i-2", &err), 0);
    dm_buf b;
    dm__buf_init(&b, 0);
    ck_assert_int_eq(dm__plugin_calls_render(&b), 0);
    ck_assert_msg(strstr(b.data, "# TYPE dermaga_plugin_call_seconds histogram\n") != NULL, "a histogram");
    ck_assert_msg(strstr(b.data, "dermaga_plugin_call_seconds_count{plugin=\"fake-rt\",op=\"stop\"} 2\n") != NULL,
                  "two calls of stop: %s", b.data);
    ck_assert_msg(strstr(b.data, "dermaga_plugin_call_seconds_bucket{plugin=\"fake-rt\",op=\"stop\",le=\"+Inf\"} 2\n")
                      != NULL, "the +Inf bucket holds both");
    ck_assert_msg(strstr(b.data, "op=\"start\"") == NULL, "an op never called has no series");
    dm__buf_free(&b);
}
END_TEST

/* provision's spec as the runtime saw it, for a runtime of minor. */
static void provision_as(uint16_t minor, const char *want)
{
    json_t *spec = json_pack("{s:s,s:s}", "image", "redis:7", "restart", "on-failure");
    dm_plugin old = runtime;
    old.abi_minor = minor;
    dm_runtime_status_t st;
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__runtime_provision(&old, "i-1", spec, "inst-9", "user-3", &st, &err), 0);
    ck_assert_msg(strcmp(seen_spec, want) == 0, "ABI 1.%u runtime got %s, want %s", minor, seen_spec, want);
    ck_assert_msg(json_object_get(spec, "restart") != NULL && json_object_get(spec, "owner") == NULL &&
                      json_object_get(spec, "user") == NULL,
                  "the caller's spec is left as it was");
    json_decref(spec);
}

START_TEST(the_abi_1_3_runtime_gets_no_1_4_spec_keys)
{
    start(5000, 4);
    provision_as(3, "{\"image\":\"redis:7\"}");
    provision_as(4, "{\"image\":\"redis:7\",\"owner\":\"inst-9\",\"restart\":\"on-failure\"}");
    provision_as(5, "{\"image\":\"redis:7\",\"owner\":\"inst-9\",\"restart\":\"on-failure\",\"user\":\"user-3\"}");
}
END_TEST

typedef struct lines {
    int n;
} lines;

static int count_line(void *opaque, const char *line, size_t len, uint32_t stream, int64_t ts_ms)
{
    ((lines *)opaque)->n++;
    return 0;
}

static bool never(void *opaque) { return false; }

START_TEST(a_log_sink_is_left_alone_once_its_caller_gave_up)
{
    start(1000, 4); /* ample for the two lines before the gate, even on a loaded machine */
    lines got = { 0 };
    dm_runtime_log_opts_t opts = { .tail_lines = 10, .follow = false };
    dm_runtime_log_sink_t sink = { &got, count_line, never };
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__runtime_logs(&runtime, "i-1", &opts, &sink, &err), DM_ETIMEDOUT);
    ck_assert_int_eq(got.n, 2);
    gate_release();
    ck_assert_msg(eventually(none_abandoned), "the read ends");
    ck_assert_msg(got.n == 2, "no line reached the caller after it left (%d)", got.n);
    ck_assert_msg(sink_answer == 1 && sink_cancelled, "the plugin was told to stop: line %d, cancelled %d",
                  sink_answer, sink_cancelled);
}
END_TEST

static void *hang_one(void *arg)
{
    dm_runtime_status_t st;
    dm_err_t err = { 0 };
    *(int *)arg = dm__runtime_status(&runtime, "i-1", &st, &err);
    return NULL;
}

START_TEST(call_threads_grow_to_their_cap_and_queued_calls_time_out)
{
    start(1000, 2); /* ample for two threads to reach the gate, even on a loaded machine */
    hang_status = true;
    pthread_t t[3];
    int rc[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, hang_one, &rc[i]), 0);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        ck_assert_msg(rc[i] == DM_ETIMEDOUT, "call %d: %d", i, rc[i]);
    }
    dm_plugin_calls_stats s;
    dm__plugin_calls_stats(&s);
    ck_assert_msg(s.threads == 2 && atomic_load(&entered) == 2, "2 threads at most (%d), 2 calls inside (%d)",
                  s.threads, atomic_load(&entered));
    gate_release();
    ck_assert_msg(eventually(none_abandoned), "the queued call is freed without running");
    ck_assert_msg(atomic_load(&entered) == 2, "the call its caller gave up before it ran never reached the plugin");
}
END_TEST

START_TEST(stop_waits_for_a_call_still_inside_a_plugin)
{
    start(100, 4);
    hang_status = true;
    dm_runtime_status_t st;
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__runtime_status(&runtime, "i-1", &st, &err), DM_ETIMEDOUT);
    ck_assert_msg(dm__plugin_calls_stop(100) == DM_ETIMEDOUT, "a call inside the plugin holds the stop");
    gate_release();
    ck_assert_msg(dm__plugin_calls_stop(5000) == 0, "the stop completes once the plugin returned");
    ck_assert_msg(eventually(no_threads), "no call thread is left");
    start(100, 4); /* for teardown's stop */
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("plugin_call");
    TCase *t = tcase_create("call");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, a_hanging_op_times_out_and_its_abandoned_call_is_freed);
    tcase_add_test(t, a_call_that_answers_in_time_hands_its_results_over);
    tcase_add_test(t, a_missing_op_or_another_kind_is_unsupported);
    tcase_add_test(t, an_unterminated_plugin_error_is_copied_terminated);
    tcase_add_test(t, the_metric_counts_each_call);
    tcase_add_test(t, the_abi_1_3_runtime_gets_no_1_4_spec_keys);
    tcase_add_test(t, a_log_sink_is_left_alone_once_its_caller_gave_up);
    tcase_add_test(t, call_threads_grow_to_their_cap_and_queued_calls_time_out);
    tcase_add_test(t, stop_waits_for_a_call_still_inside_a_plugin);
    suite_add_tcase(s, t);
    TCase *n = tcase_create("not_started");
    tcase_add_test(n, not_started_it_runs_on_the_callers_thread);
    suite_add_tcase(s, n);
    return s;
}

DM_TEST_MAIN(make_suite)
