/*
 * test_logs_stream.c — GET /api/instances/:id/logs/stream (Server-Sent
 * Events) through the real binary. "refusals" runs with no runtime plugin
 * on rows written by SQL (400 / 401 / 404, and a stream that can only
 * report an error); "engine" and "limit" run static-site instances on the
 * private Podman ($DERMAGA_TEST_DOCKER_HOST) whose containers are made to
 * print known lines: the tail, live lines, the ends (client gone, instance
 * stopped, no workload, SIGTERM) and server.maxLogStreams.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "docker_api.h"
#include "dm_test.h"
#include "e2e.h"
#include "e2e_auth.h"
#include "e2e_instances.h"
#include "e2e_logs.h"
#include "e2e_sse.h"
#include "e2e_workload.h"
#include "testdb.h"

#define db_url dm_e2e_auth_db_url
#define srv dm_e2e_auth_srv

#define EVENT_MS DM_E2E_LOGS_EVENT_MS
#define LIVE_MS DM_E2E_LOGS_LIVE_MS
#define END_MS DM_E2E_LOGS_END_MS
#define PUBLIC_URL "https://site.example.id"

/* ---- reading a stream ------------------------------------------------ */

/* Read lines until every text of texts (NULL-ended) has come, each on its
 * stream in streams, in any order: the engine keeps the order within a
 * stream but not across stdout and stderr (Podman sends a batch's stdout
 * lines first). Lines that are none of them go to extras (may be NULL). */
static void wait_lines(dm_e2e_conn *c, const char *inst, const char *const texts[], const char *const streams[],
                       int ms, json_t *extras)
{
    bool got[8] = { false };
    int n = 0;
    while (texts[n] != NULL)
        n++;
    ck_assert_int_le(n, 8);
    long long end = dm_e2e_now_ms() + ms;
    for (int missing = n; missing > 0;) {
        int k = 0;
        while (got[k])
            k++;
        char what[256];
        snprintf(what, sizeof what, "waiting for the line \"%s\" (%d of %d missing)", texts[k], missing, n);
        long long left = end - dm_e2e_now_ms();
        json_t *j = dm_e2e_logs_next_line(c, inst, left > 0 ? (int)left : 0, what, NULL);
        const char *text = dm_e2e_jstr(j, "line");
        int i = 0;
        while (i < n && strcmp(texts[i], text) != 0)
            i++;
        if (i < n) {
            ck_assert_msg(!got[i], "the line \"%s\" came twice", text);
            ck_assert_msg(strcmp(dm_e2e_jstr(j, "stream"), streams[i]) == 0, "line \"%s\" on %s, want %s", text,
                          dm_e2e_jstr(j, "stream"), streams[i]);
            got[i] = true;
            missing--;
        } else if (extras != NULL) {
            json_array_append(extras, json_object_get(j, "line"));
        }
        json_decref(j);
    }
}

/* A stream that can only fail: connected, logs-error with a message for
 * people, logs-ended, close, and no line at all. */
static void expect_error_stream(const char *path, const char *tok, const char *inst)
{
    dm_e2e_conn c;
    dm_e2e_logs_open_ok(&c, path, tok, NULL);
    dm_e2e_sse_event ev;
    dm_e2e_logs_next(&c, &ev, EVENT_MS, "the error");
    ck_assert_msg(strcmp(ev.event, "logs-error") == 0 && ev.n_data == 1, "%s: first event %s", path,
                  dm_e2e_sse_describe(&ev));
    json_t *j = json_loads(ev.data, 0, NULL);
    ck_assert_msg(json_is_object(j) && json_object_size(j) == 1, "logs-error data %s", ev.data);
    const char *msg = dm_e2e_jstr(j, "message");
    ck_assert_msg(msg[0] != '\0' && strstr(msg, ".sock") == NULL, "logs-error message \"%s\"", msg);
    json_decref(j);
    dm_e2e_sse_event_free(&ev);
    dm_e2e_logs_next(&c, &ev, EVENT_MS, "the end after logs-error");
    ck_assert_msg(strcmp(ev.event, "logs-ended") == 0, "after logs-error: %s", dm_e2e_sse_describe(&ev));
    j = json_loads(ev.data, 0, NULL);
    ck_assert_msg(j != NULL && json_object_size(j) == 1, "logs-ended data %s", ev.data);
    ck_assert_str_eq(dm_e2e_jstr(j, "instanceId"), inst);
    json_decref(j);
    dm_e2e_sse_event_free(&ev);
    ck_assert_msg(dm_e2e_wait_closed(&c, 5000) == 0, "%s: still open after logs-ended", path);
    ck_assert_msg(c.len == 0, "bytes after logs-ended: \"%.200s\"", c.buf);
    dm_e2e_close(&c);
}

/* GET path as a stream must be refused with status and code. */
static void expect_refused(const char *path, const char *tok, int status, const char *code)
{
    dm_e2e_conn c;
    dm_e2e_response res;
    int rc = dm_e2e_sse_open(&c, srv.port, path, tok, &res, EVENT_MS);
    ck_assert_msg(rc == 0, "%s: %s", path, dm_e2e_strerror(rc));
    dm_e2e_auth_expect_error(&res, status, code, path);
    ck_assert_msg(dm_e2e_header(&res, "X-Request-Id") != NULL, "%s: no X-Request-Id", path);
    if (strcmp(code, "VALIDATION_ERROR") == 0) {
        json_t *doc = dm_e2e_json(&res);
        ck_assert_str_eq(dm_e2e_jstr(doc, "error.details.0.field"), "tail");
        json_decref(doc);
    }
    dm_e2e_response_free(&res);
    dm_e2e_close(&c);
}

/* Whatever c has sent so far is lines or keep-alives, and it is open. */
static void expect_still_open(dm_e2e_conn *c, const char *inst)
{
    dm_e2e_sse_event ev;
    int rc;
    while ((rc = dm_e2e_sse_next(c, &ev, 300)) == 0) {
        if (ev.data != NULL || ev.event[0] != '\0')
            json_decref(dm_e2e_logs_line(&ev, inst));
        dm_e2e_sse_event_free(&ev);
    }
    ck_assert_msg(rc == DM_E2E_TIMEOUT, "the stream: %s (buffered \"%.200s\")", dm_e2e_strerror(rc),
                  c->buf != NULL ? c->buf : "");
}

/* ---- refusals: no runtime plugin, rows by SQL ------------------------- */

static void sweep_setup(void) { dm_e2e_instances_setup("logstreame2e"); }
static void sweep_teardown(void) { dm_e2e_instances_teardown(); }

static void setup_no_runtime(void)
{
    dm_e2e_auth_setup_with(json_pack("{s:{s:s,s:s},s:{s:[{s:s}]}}", "auth", "adminEmail", DM_E2E_ADMIN_EMAIL,
                                     "adminPassword", DM_E2E_ADMIN_PASS, "plugins", "enabled", "name",
                                     "auth-local"));
}

static void teardown_no_runtime(void)
{
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM quota_violations()");
    dm_e2e_auth_teardown();
}

START_TEST(refusals)
{
    char sub[37], inst[37], path[192];
    char *tok = dm_e2e_sql_instance("owner@example.id", "PENDING", PUBLIC_URL, sub, inst);
    char *other = dm_e2e_auth_register("other@example.id", NULL);
    const char *const bad[] = { "1001", "abc", "-1", "1.5", "5x", "99999999999999999999", NULL };
    for (int i = 0; bad[i] != NULL; i++) {
        char q[64];
        snprintf(q, sizeof q, "?tail=%s", bad[i]);
        dm_e2e_logs_path(path, sizeof path, inst, q);
        expect_refused(path, tok, 400, "VALIDATION_ERROR");
    }
    dm_e2e_logs_path(path, sizeof path, inst, "");
    expect_refused(path, other, 404, "NOT_FOUND");
    expect_refused(path, NULL, 401, "UNAUTHORIZED");
    expect_refused(path, "not-a-token", 401, "UNAUTHORIZED");
    const char *const ids[] = { "00000000-0000-4000-8000-000000000000", "not-a-uuid", NULL };
    for (int k = 0; ids[k] != NULL; k++) {
        dm_e2e_logs_path(path, sizeof path, ids[k], "");
        expect_refused(path, tok, 404, "NOT_FOUND");
    }
    /* The bounds themselves are accepted, by the owner and by an admin. */
    dm_e2e_logs_path(path, sizeof path, inst, "?tail=1000");
    char *admin = dm_e2e_auth_login(DM_E2E_ADMIN_EMAIL, DM_E2E_ADMIN_PASS);
    expect_error_stream(path, admin, inst);
    free(admin);
    free(other);
    free(tok);
}
END_TEST

START_TEST(no_runtime_plugin_is_an_error_event)
{
    char sub[37], inst[37], path[192];
    char *tok = dm_e2e_sql_instance("noruntime@example.id", "RUNNING", PUBLIC_URL, sub, inst);
    dm_e2e_logs_path(path, sizeof path, inst, "");
    expect_error_stream(path, tok, inst);
    free(tok);
}
END_TEST

/* ---- engine: real static-site instances -------------------------------- */

/* Health checks make the site's httpd log a line each; once an hour keeps
 * them out of the tails these tests count. idleTimeoutMs is far below the
 * 15 s keep-alive, so a stream that the idle timer closed shows. */
static json_t *engine_extra(int max_streams)
{
    json_t *x = json_pack("{s:{s:i},s:{s:i}}", "instances", "healthEveryS", 3600, "server", "idleTimeoutMs", 2000);
    if (max_streams > 0)
        json_object_set_new(json_object_get(x, "server"), "maxLogStreams", json_integer(max_streams));
    return x;
}

static void setup_engine(void)
{
    dm_e2e_instances_opts o = { .with_service = true, .extra = engine_extra(0) };
    dm_e2e_instances_start(&o);
}

static void setup_limit(void)
{
    dm_e2e_instances_opts o = { .with_service = true, .extra = engine_extra(1) };
    dm_e2e_instances_start(&o);
}

/* A stream a test leaves open for the teardown's SIGTERM to meet (the
 * server must still exit 0); closed once the server is gone. */
static dm_e2e_conn left_open;
static bool left_open_used;

static void teardown_engine(void)
{
    dm_e2e_instances_stop();
    if (left_open_used)
        dm_e2e_close(&left_open);
    left_open_used = false;
}

/* before must be exactly the n NULL-ended texts. */
static void expect_before(json_t *before, const char *const want[], const char *what)
{
    size_t n = 0;
    while (want[n] != NULL)
        n++;
    char *dump = json_dumps(before, JSON_COMPACT);
    bool same = json_array_size(before) == n;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(json_string_value(json_array_get(before, i)), want[i]) == 0;
    ck_assert_msg(same, "%s: the lines before the live one are %s", what, dump);
    free(dump);
}

/* Print text on stdout alone and wait until the engine's tail=1 is it
 * (GET /logs, not streamed): then it is the newest earlier line. */
static void print_newest(const char *tok, const char *inst, const char *text)
{
    char script[128], path[160];
    snprintf(script, sizeof script, "echo %s >/proc/1/fd/1", text);
    dm_e2e_exec_in_container(inst, script);
    snprintf(path, sizeof path, "/api/instances/%s/logs?tail=1", inst);
    const char *last = "";
    json_t *d = NULL;
    for (long long end = dm_e2e_now_ms() + 20000; strcmp(last, text) != 0 && dm_e2e_now_ms() < end;) {
        json_decref(d);
        dm_e2e_response res;
        dm_e2e_auth_call("GET", path, tok, NULL, &res);
        d = dm_e2e_auth_ok_data(&res, 200, path);
        dm_e2e_response_free(&res);
        const char *t = json_string_value(json_object_get(json_array_get(json_object_get(d, "lines"), 0), "line"));
        last = t != NULL ? t : "";
        if (strcmp(last, text) != 0)
            dm_e2e_nap_ms(200);
    }
    ck_assert_msg(strcmp(last, text) == 0, "the newest line is \"%s\", not \"%s\"", last, text);
    json_decref(d);
}

START_TEST(tail_then_live_lines)
{
    char inst[37], path[192];
    char *tok = dm_e2e_logs_running("tail@example.id", inst);
    dm_e2e_exec_in_container(inst, "echo tail-out-1 >/proc/1/fd/1; echo tail-err-2 >/proc/1/fd/2; "
                                   "printf 'bad-\\377-utf8\\n' >/proc/1/fd/1");
    const char *const earlier[] = { "tail-out-1", "tail-err-2", "bad-\xef\xbf\xbd-utf8", NULL };
    const char *const earlier_streams[] = { "stdout", "stderr", "stdout" };
    dm_e2e_logs_wait_logged(tok, inst, earlier);

    /* The default tail holds the earlier lines on their streams (invalid
     * UTF-8 made U+FFFD); once they are in, the follow is established and
     * what comes after is live. */
    dm_e2e_conn c;
    dm_e2e_logs_path(path, sizeof path, inst, "");
    dm_e2e_logs_open_ok(&c, path, tok, NULL);
    wait_lines(&c, inst, earlier, earlier_streams, EVENT_MS, NULL);

    json_t *extras = json_array();
    long long t0 = dm_e2e_now_ms();
    dm_e2e_exec_in_container(inst, "echo live-out-3 >/proc/1/fd/1; echo live-err-4 >/proc/1/fd/2");
    const char *const live[] = { "live-out-3", "live-err-4", NULL };
    const char *const live_streams[] = { "stdout", "stderr" };
    wait_lines(&c, inst, live, live_streams, LIVE_MS, extras);
    long long took = dm_e2e_now_ms() - t0;
    static const char *const none[] = { NULL };
    expect_before(extras, none, "live lines");
    ck_assert_msg(took <= LIVE_MS, "live lines took %lld ms", took);
    dm_e2e_close(&c);

    /* tail=1: only the newest earlier line, then live ones. */
    print_newest(tok, inst, "newest-5");
    dm_e2e_logs_path(path, sizeof path, inst, "?tail=1");
    dm_e2e_logs_open_ok(&c, path, tok, NULL);
    json_decref(dm_e2e_logs_wait_line(&c, inst, "newest-5", EVENT_MS, extras));
    expect_before(extras, none, "tail=1");
    dm_e2e_exec_in_container(inst, "echo live-out-6 >/proc/1/fd/1");
    json_decref(dm_e2e_logs_wait_line(&c, inst, "live-out-6", LIVE_MS, extras));
    expect_before(extras, none, "tail=1 then live");
    dm_e2e_close(&c);

    json_decref(extras);
    free(tok);
}
END_TEST

START_TEST(a_quiet_stream_is_kept_alive)
{
    char inst[37], path[192];
    char *tok = dm_e2e_logs_running("quiet@example.id", inst);
    dm_e2e_exec_in_container(inst, "echo quiet-1 >/proc/1/fd/1");
    const char *const printed[] = { "quiet-1", NULL };
    dm_e2e_logs_wait_logged(tok, inst, printed);
    dm_e2e_conn c;
    dm_e2e_logs_path(path, sizeof path, inst, "?tail=1");
    dm_e2e_logs_open_ok(&c, path, tok, NULL);
    json_decref(dm_e2e_logs_wait_line(&c, inst, "quiet-1", EVENT_MS, NULL));
    /* Bytes the client sends now are ignored: they must not start a
     * request's header timer (5 s) that would end the stream. */
    ck_assert_msg(dm_e2e_send_str(&c, "x") == 0, "send after the stream started");
    /* Nothing more is printed: after 15 s a keep-alive comment, on a
     * connection the 2 s idle timer must leave alone. */
    long long t0 = dm_e2e_now_ms();
    dm_e2e_sse_event ev;
    int rc = dm_e2e_sse_next(&c, &ev, 25000);
    ck_assert_msg(rc == 0, "no keep-alive in 25 s: %s", dm_e2e_strerror(rc));
    ck_assert_msg(ev.data == NULL && ev.event[0] == '\0' && ev.comment != NULL &&
                      strcmp(ev.comment, "keep-alive") == 0,
                  "a quiet stream sent %s", dm_e2e_sse_describe(&ev));
    dm_e2e_sse_event_free(&ev);
    ck_assert_msg(dm_e2e_now_ms() - t0 >= 10000, "the keep-alive came after %lld ms, not ~15 s",
                  dm_e2e_now_ms() - t0);
    /* Still following. */
    dm_e2e_exec_in_container(inst, "echo after-keep-alive >/proc/1/fd/1");
    json_decref(dm_e2e_logs_wait_line(&c, inst, "after-keep-alive", LIVE_MS, NULL));
    dm_e2e_close(&c);
    free(tok);
}
END_TEST

/* HEAD gets the stream's headers alone and the connection closes at once,
 * not when the stream (or the idle timer) would end. */
START_TEST(head_gets_headers_and_a_close)
{
    char inst[37], path[192];
    char *tok = dm_e2e_logs_running("head@example.id", inst);
    dm_e2e_logs_path(path, sizeof path, inst, "");
    char *req = dm_e2e_auth_request("HEAD", path, tok, NULL);
    dm_e2e_conn c;
    dm_e2e_connect_ok(&c, dm_e2e_auth_srv.port);
    dm_e2e_send_ok(&c, req);
    free(req);
    dm_e2e_response res;
    dm_e2e_read_ok(&c, &res, true, "HEAD of the stream");
    ck_assert_int_eq(res.status, 200);
    dm_e2e_response_free(&res);
    ck_assert_msg(dm_e2e_wait_closed(&c, 3000) == 0, "the connection stayed open after HEAD");
    dm_e2e_close(&c);
    free(tok);
}
END_TEST

START_TEST(closing_the_client_ends_the_follow)
{
    char inst[37], path[192], ended[96];
    char *tok = dm_e2e_logs_running("close@example.id", inst);
    snprintf(ended, sizeof ended, "log stream %s ended", inst);
    dm_e2e_logs_path(path, sizeof path, inst, "");
    dm_e2e_conn c;
    dm_e2e_logs_open_ok(&c, path, tok, NULL);
    ck_assert_msg(!dm_e2e_server_wait_log(&srv, ended, 1500), "\"%s\" logged while the client is there", ended);
    dm_e2e_close(&c);
    dm_e2e_logs_wait_count(ended, 1, 5000);
    /* A client that vanishes with a reset, too. */
    dm_e2e_logs_open_ok(&c, path, tok, NULL);
    dm_e2e_abort(&c);
    dm_e2e_logs_wait_count(ended, 2, 5000);
    free(tok);
}
END_TEST

START_TEST(stopping_the_instance_ends_the_stream)
{
    char inst[37], path[192];
    char *tok = dm_e2e_logs_running("stop@example.id", inst);
    dm_e2e_exec_in_container(inst, "echo before-stop >/proc/1/fd/1");
    const char *const printed[] = { "before-stop", NULL };
    dm_e2e_logs_wait_logged(tok, inst, printed);
    dm_e2e_logs_path(path, sizeof path, inst, "");
    dm_e2e_conn c;
    dm_e2e_logs_open_ok(&c, path, tok, NULL);
    json_decref(dm_e2e_logs_wait_line(&c, inst, "before-stop", EVENT_MS, NULL));
    snprintf(path, sizeof path, "/api/instances/%s/stop", inst);
    dm_e2e_instances_op("PUT", tok, path, NULL, 202);
    dm_e2e_logs_expect_ended(&c, inst, END_MS);
    dm_e2e_close(&c);
    json_decref(dm_e2e_instances_wait(tok, inst, "STOPPED"));
    free(tok);
}
END_TEST

START_TEST(no_workload_is_an_error_event)
{
    char sub[37], inst[37], path[192];
    char *tok = dm_e2e_sql_instance("pending@example.id", "PENDING", PUBLIC_URL, sub, inst);
    dm_e2e_instances_remember(inst);
    dm_e2e_logs_path(path, sizeof path, inst, "");
    expect_error_stream(path, tok, inst);
    free(tok);
}
END_TEST

START_TEST(sigterm_with_a_stream_open_exits_0)
{
    char inst[37], path[192];
    char *tok = dm_e2e_logs_running("sigterm@example.id", inst);
    dm_e2e_logs_path(path, sizeof path, inst, "");
    dm_e2e_conn c;
    dm_e2e_logs_open_ok(&c, path, tok, NULL);
    long long t0 = dm_e2e_now_ms();
    int st = dm_e2e_server_stop(&srv, SIGTERM, 15000);
    long long took = dm_e2e_now_ms() - t0;
    char *log = dm_e2e_server_log(&srv);
    size_t n = strlen(log);
    char tail[2048];
    snprintf(tail, sizeof tail, "%s", n > 1500 ? log + n - 1500 : log);
    free(log);
    ck_assert_msg(dm_e2e_exited_0(st), "with a stream open the server %s; last output:\n%s",
                  dm_e2e_describe_status(st), tail);
    /* e2e.c's default server.shutdownGraceMs is 5000. */
    ck_assert_msg(took < 5000, "the server took %lld ms to exit: the stream held it to the grace", took);
    ck_assert_msg(dm_e2e_wait_closed(&c, 1000) == 0, "the stream is still open after the server exited");
    dm_e2e_close(&c);
    /* The fixture's teardown would stop it again: it is done. */
    dm_e2e_server_free(&srv);
    free(tok);
}
END_TEST

START_TEST(streams_over_the_limit_are_503)
{
    char inst[37], path[192], ended[96];
    char *tok = dm_e2e_logs_running("limit@example.id", inst);
    snprintf(ended, sizeof ended, "log stream %s ended", inst);
    dm_e2e_logs_path(path, sizeof path, inst, "");
    dm_e2e_conn first;
    dm_e2e_logs_open_ok(&first, path, tok, NULL);

    dm_e2e_conn c;
    dm_e2e_response res;
    int rc = dm_e2e_sse_open(&c, srv.port, path, tok, &res, EVENT_MS);
    ck_assert_msg(rc == 0, "second stream: %s", dm_e2e_strerror(rc));
    dm_e2e_auth_expect_error(&res, 503, "TOO_MANY_STREAMS", "a second stream with maxLogStreams 1");
    const char *ra = dm_e2e_header(&res, "Retry-After");
    char *endp = NULL;
    ck_assert_msg(ra != NULL && ra[0] >= '0' && ra[0] <= '9' && strtol(ra, &endp, 10) >= 0 && *endp == '\0',
                  "Retry-After %s", ra != NULL ? ra : "(none)");
    dm_e2e_response_free(&res);
    dm_e2e_close(&c);
    /* Only streams count: the plain log still answers. */
    char plain[160];
    snprintf(plain, sizeof plain, "/api/instances/%s/logs", inst);
    dm_e2e_instances_op("GET", tok, plain, NULL, 200);
    expect_still_open(&first, inst);

    /* The slot is free again once the first one has ended. */
    dm_e2e_close(&first);
    dm_e2e_logs_wait_count(ended, 1, 5000);
    /* The client's close reaches the stream within ~1 s (sse.h), so the
     * slot may come back a moment after the log line. */
    int status = 0;
    for (long long end = dm_e2e_now_ms() + 3000; status != 200 && dm_e2e_now_ms() < end;) {
        status = dm_e2e_logs_open(&left_open, path, tok, NULL);
        left_open_used = status == 200;
        ck_assert_msg(status == 200 || status == 503, "a new stream after the first ended: %d", status);
        if (status != 200)
            dm_e2e_nap_ms(100);
    }
    ck_assert_msg(status == 200, "no new stream within 3 s after the first ended: %d", status);
    /* Left open on purpose: the teardown's SIGTERM must still exit 0. */
    free(tok);
}
END_TEST

START_TEST(no_engine_configured)
{
    dm_docker_test_engine_off("test_logs_stream");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("logs_stream");
    TCase *plain = tcase_create("refusals");
    tcase_add_unchecked_fixture(plain, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(plain, setup_no_runtime, teardown_no_runtime);
    tcase_set_timeout(plain, 60);
    tcase_add_test(plain, refusals);
    tcase_add_test(plain, no_runtime_plugin_is_an_error_event);
    suite_add_tcase(s, plain);

    TCase *tc = tcase_create("engine");
    if (dm_docker_test_host() == NULL) {
        tcase_add_test(tc, no_engine_configured);
        suite_add_tcase(s, tc);
        return s;
    }
    tcase_add_unchecked_fixture(tc, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(tc, setup_engine, teardown_engine);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, tail_then_live_lines);
    tcase_add_test(tc, a_quiet_stream_is_kept_alive);
    tcase_add_test(tc, head_gets_headers_and_a_close);
    tcase_add_test(tc, closing_the_client_ends_the_follow);
    tcase_add_test(tc, stopping_the_instance_ends_the_stream);
    tcase_add_test(tc, no_workload_is_an_error_event);
    tcase_add_test(tc, sigterm_with_a_stream_open_exits_0);
    suite_add_tcase(s, tc);

    TCase *limit = tcase_create("limit");
    tcase_add_unchecked_fixture(limit, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(limit, setup_limit, teardown_engine);
    tcase_set_timeout(limit, 180);
    tcase_add_test(limit, streams_over_the_limit_are_503);
    suite_add_tcase(s, limit);
    return s;
}

DM_TEST_MAIN(make_suite)
