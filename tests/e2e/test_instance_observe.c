/*
 * test_instance_observe.c — the read-only instance views through the real
 * binary: metrics, logs, health history and the admin runtime inventory.
 * "engine" runs a static-site instance on the private Podman
 * ($DERMAGA_TEST_DOCKER_HOST) and reads what it really uses and prints;
 * "no_runtime" runs with no runtime plugin at all, on rows written by SQL,
 * so every answer there is proven not to need the runtime (or to refuse
 * cleanly without one).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "docker_api.h"
#include "dm_test.h"
#include "e2e.h"
#include "e2e_auth.h"
#include "e2e_instances.h"
#include "e2e_workload.h"
#include "testdb.h"

#define db_url dm_e2e_auth_db_url
#define call dm_e2e_auth_call
#define ok_data dm_e2e_auth_ok_data
#define expect_error dm_e2e_auth_expect_error

#define API "/" DM_DOCKER_API
#define ADMIN_EMAIL DM_E2E_ADMIN_EMAIL
#define ADMIN_PASS DM_E2E_ADMIN_PASS
#define PUBLIC_URL "https://site.example.id"
/* The static-site plan's limits (dm_e2e_instances_site_plan). */
#define CPU_LIMIT 250
#define MEM_LIMIT 64

/* ---- shared checks ------------------------------------------------------ */

/* obj has exactly the NULL-ended keys. */
static void expect_keys(json_t *obj, const char *const keys[], const char *what)
{
    ck_assert_msg(json_is_object(obj), "%s is not an object", what);
    size_t n = 0;
    for (; keys[n] != NULL; n++)
        ck_assert_msg(json_object_get(obj, keys[n]) != NULL, "%s lacks \"%s\"", what, keys[n]);
    char *dump = json_dumps(obj, JSON_COMPACT);
    ck_assert_msg(json_object_size(obj) == n, "%s has %zu keys, want %zu: %s", what, json_object_size(obj), n,
                  dump);
    free(dump);
}

/* "2026-11-26T01:02:03.456Z". */
static bool rfc3339_utc(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (s == NULL || strlen(s) != sizeof shape - 1)
        return false;
    for (size_t i = 0; shape[i] != '\0'; i++) {
        bool ok = shape[i] == 'd' ? s[i] >= '0' && s[i] <= '9' : s[i] == shape[i];
        if (!ok)
            return false;
    }
    return true;
}

/* cpu: {used, limit, percentage}, integers, the
 * percentage rounded from used and limit; returns used. */
static long long expect_resource(json_t *m, const char *name, long long limit)
{
    json_t *r = json_object_get(m, name);
    static const char *const keys[] = { "used", "limit", "percentage", NULL };
    expect_keys(r, keys, name);
    for (int i = 0; keys[i] != NULL; i++)
        ck_assert_msg(json_is_integer(json_object_get(r, keys[i])), "%s.%s is not an integer", name, keys[i]);
    long long used = json_integer_value(json_object_get(r, "used"));
    long long pct = json_integer_value(json_object_get(r, "percentage"));
    ck_assert_msg(json_integer_value(json_object_get(r, "limit")) == limit, "%s.limit %lld, want %lld", name,
                  (long long)json_integer_value(json_object_get(r, "limit")), limit);
    ck_assert_msg(used >= 0, "%s.used %lld is negative", name, used);
    long long want = limit > 0 ? (used * 100 + limit / 2) / limit : 0;
    ck_assert_msg(pct == want, "%s.percentage %lld, want %lld (used %lld of %lld)", name, pct, want, used, limit);
    return used;
}

/* memory: {used, limit, percentage}; used and limit MiB with at most two
 * decimals (1.37), the percentage an integer within one of used / limit
 * (the server computes it from the bytes); returns used. */
static double expect_memory(json_t *m, long long limit)
{
    json_t *r = json_object_get(m, "memory");
    static const char *const keys[] = { "used", "limit", "percentage", NULL };
    expect_keys(r, keys, "memory");
    json_t *u = json_object_get(r, "used"), *l = json_object_get(r, "limit");
    ck_assert_msg(json_is_number(u) && json_is_number(l), "memory.used / memory.limit are not numbers");
    ck_assert_msg(json_is_integer(json_object_get(r, "percentage")), "memory.percentage is not an integer");
    double used = json_number_value(u);
    double hundredths = used * 100.0;
    ck_assert_msg(used >= 0 && hundredths - (double)(long long)(hundredths + 0.5) < 1e-6
                      && (double)(long long)(hundredths + 0.5) - hundredths < 1e-6,
                  "memory.used %.17g is not MiB with two decimals", used);
    ck_assert_msg(json_number_value(l) == (double)limit, "memory.limit %g, want %lld", json_number_value(l), limit);
    long long pct = json_integer_value(json_object_get(r, "percentage"));
    double want = limit > 0 ? used * 100.0 / (double)limit : 0;
    ck_assert_msg(pct >= (long long)want - 1 && pct <= (long long)want + 1, "memory.percentage %lld, want ~%.2f",
                  pct, want);
    return used;
}

/* GET path with tok; the data of a 200 (new reference). */
static json_t *get_ok(const char *path, const char *tok)
{
    dm_e2e_response res;
    call("GET", path, tok, NULL, &res);
    json_t *d = ok_data(&res, 200, path);
    dm_e2e_response_free(&res);
    return d;
}

static void get_error(const char *path, const char *tok, int status, const char *code)
{
    dm_e2e_response res;
    call("GET", path, tok, NULL, &res);
    expect_error(&res, status, code, path);
    dm_e2e_response_free(&res);
}

/* The metrics of subscription sub, checked for shape; new reference. */
static json_t *metrics_of(const char *sub, const char *tok, const char *inst, const char *status)
{
    char path[128];
    snprintf(path, sizeof path, "/api/subscriptions/%s/metrics", sub);
    json_t *m = get_ok(path, tok);
    static const char *const keys[] = { "instanceId", "status", "cpu", "memory", "urls", "timestamp", NULL };
    expect_keys(m, keys, "metrics");
    ck_assert_str_eq(dm_e2e_jstr(m, "instanceId"), inst);
    ck_assert_str_eq(dm_e2e_jstr(m, "status"), status);
    static const char *const url_keys[] = { "public", "admin", NULL };
    expect_keys(json_object_get(m, "urls"), url_keys, "metrics.urls");
    ck_assert_msg(json_is_null(dm_e2e_jpath(m, "urls.admin")), "urls.admin is not null");
    ck_assert_msg(rfc3339_utc(dm_e2e_jstr(m, "timestamp")), "timestamp %s", dm_e2e_jstr(m, "timestamp"));
    return m;
}

/* ---- no runtime plugin: rows by SQL ------------------------------------ */

static void sweep_setup(void) { dm_e2e_instances_setup("observee2e"); }
static void sweep_teardown(void) { dm_e2e_instances_teardown(); }

/* A server with auth-local only: no runtime plugin at all. */
static void setup_no_runtime(void)
{
    dm_e2e_auth_setup_with(json_pack("{s:{s:s,s:s},s:{s:[{s:s}]}}", "auth", "adminEmail", ADMIN_EMAIL,
                                     "adminPassword", ADMIN_PASS, "plugins", "enabled", "name", "auth-local"));
}

static void teardown(void)
{
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM quota_violations()");
    dm_e2e_auth_teardown();
}

/* A user (token returned, new string) with an ACTIVE subscription to the
 * static-site plan and its instance in status, all written by SQL. */
static char *sql_instance(const char *email, const char *status, char sub[37], char inst[37])
{
    return dm_e2e_sql_instance(email, status, PUBLIC_URL, sub, inst);
}

static void set_status(const char *inst, const char *status)
{
    DM_EXPECT_SQL(db_url, "1",
                  "WITH u AS (UPDATE instances SET status = '%s' WHERE id = '%s' RETURNING 1) "
                  "SELECT count(*) FROM u",
                  status, inst);
}

START_TEST(stopped_metrics_are_zero_without_asking_the_runtime)
{
    char sub[37], inst[37];
    char *tok = sql_instance("stopped@example.id", "STOPPED", sub, inst);
    /* No runtime plugin is loaded: any runtime call would be a 503. */
    json_t *m = metrics_of(sub, tok, inst, "STOPPED");
    ck_assert_int_eq(expect_resource(m, "cpu", CPU_LIMIT), 0);
    ck_assert_msg(expect_memory(m, MEM_LIMIT) == 0, "memory.used of a stopped instance is not 0");
    ck_assert_str_eq(dm_e2e_jstr(m, "urls.public"), PUBLIC_URL);
    json_decref(m);
    /* An administrator sees any user's. */
    char *admin = dm_e2e_auth_login(ADMIN_EMAIL, ADMIN_PASS);
    json_decref(metrics_of(sub, admin, inst, "STOPPED"));
    free(admin);
    free(tok);
}
END_TEST

START_TEST(running_without_runtime_is_503_without_detail)
{
    char sub[37], inst[37], path[128];
    char *tok = sql_instance("noruntime@example.id", "RUNNING", sub, inst);
    const char *const paths[] = { "metrics", "logs", NULL };
    for (int i = 0; paths[i] != NULL; i++) {
        snprintf(path, sizeof path, "/api/subscriptions/%s/%s", sub, paths[i]);
        dm_e2e_response res;
        call("GET", path, tok, NULL, &res);
        expect_error(&res, 503, "RUNTIME_UNAVAILABLE", path);
        ck_assert_msg(dm_e2e_header(&res, "Retry-After") != NULL, "%s: no Retry-After", path);
        ck_assert_msg(strstr(res.body, "plugin") == NULL && strstr(res.body, "sock") == NULL,
                      "%s leaks detail: %s", path, res.body);
        dm_e2e_response_free(&res);
    }
    snprintf(path, sizeof path, "/api/instances/%s/logs", inst);
    get_error(path, tok, 503, "RUNTIME_UNAVAILABLE");
    /* The cause is in the server's log instead. */
    ck_assert_msg(dm_e2e_server_wait_log(&dm_e2e_auth_srv, "no runtime plugin", 5000),
                  "the server log does not say why");
    free(tok);
}
END_TEST

START_TEST(logs_without_workload_are_empty)
{
    char sub[37], inst[37], path[128];
    char *tok = sql_instance("pending@example.id", "PENDING", sub, inst);
    const char *const statuses[] = { "PENDING", "TERMINATED", NULL };
    for (int s = 0; statuses[s] != NULL; s++) {
        set_status(inst, statuses[s]);
        for (int by_inst = 0; by_inst < 2; by_inst++) {
            snprintf(path, sizeof path, by_inst ? "/api/instances/%s/logs" : "/api/subscriptions/%s/logs",
                     by_inst ? inst : sub);
            json_t *d = get_ok(path, tok);
            static const char *const keys[] = { "instanceId", "lines", NULL };
            expect_keys(d, keys, "logs");
            ck_assert_str_eq(dm_e2e_jstr(d, "instanceId"), inst);
            json_t *lines = json_object_get(d, "lines");
            ck_assert_msg(json_is_array(lines) && json_array_size(lines) == 0, "%s %s: lines not []", statuses[s],
                          path);
            json_decref(d);
        }
    }
    free(tok);
}
END_TEST

START_TEST(tail_out_of_bounds_is_400)
{
    char sub[37], inst[37], path[160];
    char *tok = sql_instance("tail@example.id", "PENDING", sub, inst);
    const char *const bad[] = { "0", "1001", "-1", "abc", "5x", "1.5", "99999999999999999999", NULL };
    for (int i = 0; bad[i] != NULL; i++) {
        for (int by_inst = 0; by_inst < 2; by_inst++) {
            snprintf(path, sizeof path, "/api/%s/%s/logs?tail=%s", by_inst ? "instances" : "subscriptions",
                     by_inst ? inst : sub, bad[i]);
            dm_e2e_response res;
            call("GET", path, tok, NULL, &res);
            expect_error(&res, 400, "VALIDATION_ERROR", path);
            json_t *doc = dm_e2e_json(&res);
            ck_assert_str_eq(dm_e2e_jstr(doc, "error.details.0.field"), "tail");
            json_decref(doc);
            dm_e2e_response_free(&res);
        }
    }
    const char *const good[] = { "1", "1000", NULL };
    for (int i = 0; good[i] != NULL; i++) {
        snprintf(path, sizeof path, "/api/subscriptions/%s/logs?tail=%s", sub, good[i]);
        json_decref(get_ok(path, tok));
    }
    free(tok);
}
END_TEST

START_TEST(another_users_views_are_404)
{
    char sub[37], inst[37], path[160];
    char *tok = sql_instance("owner@example.id", "PENDING", sub, inst);
    char *other = dm_e2e_auth_register("other@example.id", NULL);
    const char *const by_sub[] = { "metrics", "logs", NULL };
    const char *const by_inst[] = { "logs", "health", NULL };
    const char *const ids[] = { "00000000-0000-4000-8000-000000000000", "not-a-uuid", NULL };
    for (int i = 0; by_sub[i] != NULL; i++) {
        snprintf(path, sizeof path, "/api/subscriptions/%s/%s", sub, by_sub[i]);
        get_error(path, other, 404, "NOT_FOUND");
        json_decref(get_ok(path, tok));
        for (int k = 0; ids[k] != NULL; k++) {
            snprintf(path, sizeof path, "/api/subscriptions/%s/%s", ids[k], by_sub[i]);
            get_error(path, tok, 404, "NOT_FOUND");
        }
    }
    for (int i = 0; by_inst[i] != NULL; i++) {
        snprintf(path, sizeof path, "/api/instances/%s/%s", inst, by_inst[i]);
        get_error(path, other, 404, "NOT_FOUND");
        get_error(path, NULL, 401, "UNAUTHORIZED");
        json_decref(get_ok(path, tok));
        for (int k = 0; ids[k] != NULL; k++) {
            snprintf(path, sizeof path, "/api/instances/%s/%s", ids[k], by_inst[i]);
            get_error(path, tok, 404, "NOT_FOUND");
        }
    }
    free(other);
    free(tok);
}
END_TEST

START_TEST(health_history_newest_first_and_paged)
{
    char sub[37], inst[37], path[160];
    char *tok = sql_instance("health@example.id", "RUNNING", sub, inst);
    DM_EXPECT_SQL(db_url, "3",
                  "WITH h AS (INSERT INTO instance_health (instance_id, status, message) VALUES "
                  "  ('%s', 'HEALTHY', 'first ok'), ('%s', 'UNHEALTHY', 'connection refused'), "
                  "  ('%s', 'HEALTHY', NULL) RETURNING 1) SELECT count(*) FROM h",
                  inst, inst, inst);
    snprintf(path, sizeof path, "/api/instances/%s/health", inst);
    dm_e2e_response res;
    call("GET", path, tok, NULL, &res);
    json_t *doc = dm_e2e_json(&res);
    json_t *d = ok_data(&res, 200, path);
    dm_e2e_response_free(&res);
    ck_assert_msg(json_array_size(d) == 3, "health items: %zu", json_array_size(d));
    static const char *const keys[] = { "status", "message", "checkedAt", NULL };
    for (size_t i = 0; i < 3; i++) {
        expect_keys(json_array_get(d, i), keys, "health item");
        const char *at = json_string_value(json_object_get(json_array_get(d, i), "checkedAt"));
        ck_assert_msg(rfc3339_utc(at), "checkedAt %s", at != NULL ? at : "(null)");
    }
    ck_assert_str_eq(dm_e2e_jstr(d, "0.status"), "HEALTHY");
    ck_assert_msg(json_is_null(dm_e2e_jpath(d, "0.message")), "newest message is not null");
    ck_assert_str_eq(dm_e2e_jstr(d, "1.status"), "UNHEALTHY");
    ck_assert_str_eq(dm_e2e_jstr(d, "1.message"), "connection refused");
    ck_assert_str_eq(dm_e2e_jstr(d, "2.message"), "first ok");
    ck_assert_int_eq(dm_e2e_jint(doc, "pagination.total"), 3);
    json_decref(d);
    json_decref(doc);

    snprintf(path, sizeof path, "/api/instances/%s/health?limit=2&page=2", inst);
    d = get_ok(path, tok);
    ck_assert_msg(json_array_size(d) == 1, "page 2 items: %zu", json_array_size(d));
    ck_assert_str_eq(dm_e2e_jstr(d, "0.message"), "first ok");
    json_decref(d);
    snprintf(path, sizeof path, "/api/instances/%s/health?limit=0", inst);
    get_error(path, tok, 400, "VALIDATION_ERROR");
    free(tok);
}
END_TEST

START_TEST(inventory_refusals)
{
    char *user = dm_e2e_auth_register("plain@example.id", NULL);
    char *admin = dm_e2e_auth_login(ADMIN_EMAIL, ADMIN_PASS);
    get_error("/api/admin/runtime/containers", user, 403, "FORBIDDEN");
    get_error("/api/admin/runtime/containers", NULL, 401, "UNAUTHORIZED");
    /* No runtime plugin: no kind exists. */
    dm_e2e_response res;
    call("GET", "/api/admin/runtime/containers", admin, NULL, &res);
    expect_error(&res, 404, "NOT_FOUND", "inventory without a runtime");
    ck_assert_msg(strstr(res.body, "no runtime plugin") != NULL, "message: %s", res.body);
    dm_e2e_response_free(&res);
    /* A runtime named but not enabled: 404 naming it, not another's. */
    call("GET", "/api/admin/runtime/pods?runtime=runtime-nope", admin, NULL, &res);
    expect_error(&res, 404, "NOT_FOUND", "unknown runtime");
    ck_assert_msg(strstr(res.body, "runtime-nope is not enabled") != NULL, "message: %s", res.body);
    dm_e2e_response_free(&res);
    static const char *const bad[][2] = {
        { "/api/admin/runtime/pods?limit=0", "limit" },     { "/api/admin/runtime/pods?limit=101", "limit" },
        { "/api/admin/runtime/pods?page=x", "page" },       { "/api/admin/runtime/pods?managed=yes", "managed" },
        { "/api/admin/runtime/pods?runtime=Bad!", "runtime" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        call("GET", bad[i][0], admin, NULL, &res);
        expect_error(&res, 400, "VALIDATION_ERROR", bad[i][0]);
        json_t *d = dm_e2e_json(&res);
        ck_assert_str_eq(dm_e2e_jstr(d, "error.details.0.field"), bad[i][1]);
        json_decref(d);
        dm_e2e_response_free(&res);
    }
    call("GET", "/api/admin/runtime/pods?namespace=Bad_NS", admin, NULL, &res);
    expect_error(&res, 400, "VALIDATION_ERROR", "bad namespace");
    json_t *doc = dm_e2e_json(&res);
    ck_assert_str_eq(dm_e2e_jstr(doc, "error.details.0.field"), "namespace");
    json_decref(doc);
    dm_e2e_response_free(&res);
    free(admin);
    free(user);
}
END_TEST

/* ---- engine: a real static-site instance ------------------------------- */

static void setup_engine(void)
{
    dm_e2e_instances_opts o = { .with_service = true };
    dm_e2e_instances_start(&o);
}

static void teardown_engine(void) { dm_e2e_instances_stop(); }

/* Make the container's main process print known lines: what a process in
 * it writes to PID 1's stdout and stderr is the container's log. The last
 * one is not UTF-8 (byte 0xFF). */
static void print_in_container(const char *inst)
{
    dm_e2e_exec_in_container(inst, "echo hello-stdout >/proc/1/fd/1; echo hello-stderr >/proc/1/fd/2; "
                            "printf 'bad-\\377-utf8\\n' >/proc/1/fd/1");
}

/* The static site's whole use is under 1 MiB, which is 0 MB rounded down;
 * 3 MiB in its /dev/shm (tmpfs, charged to the container) make it
 * measurable. */
static void fill_memory(const char *inst)
{
    dm_e2e_exec_in_container(inst, "dd if=/dev/zero of=/dev/shm/dm-fill bs=1048576 count=3");
}

/* 1100 lines of 2000 bytes (2.2 MB, over the 1 MiB an answer holds)
 * then a marker. */
static void flood_log(const char *inst)
{
    dm_e2e_exec_in_container(inst, "l=$(printf '%2000s' '' | tr ' ' x); i=0; "
                            "while [ $i -lt 1100 ]; do echo \"$l\"; i=$((i+1)); done >/proc/1/fd/1; "
                            "echo last-line-marker >/proc/1/fd/1");
}

/* The last line's text in a logs answer ("" when none). */
static const char *last_line(json_t *d)
{
    json_t *lines = json_object_get(d, "lines");
    const char *t = json_string_value(json_object_get(json_array_get(lines, json_array_size(lines) - 1), "line"));
    return t != NULL ? t : "";
}

/* After flood_log: the answer keeps the newest lines up to 1 MiB. */
static void expect_capped(const char *path, const char *tok)
{
    json_t *d = NULL;
    for (long long end = dm_e2e_now_ms() + 30000; dm_e2e_now_ms() < end;) {
        json_decref(d);
        d = get_ok(path, tok);
        if (strcmp(last_line(d), "last-line-marker") == 0)
            break;
        struct timespec ts = { 0, 200 * 1000000L };
        nanosleep(&ts, NULL);
    }
    ck_assert_msg(strcmp(last_line(d), "last-line-marker") == 0, "the newest line is \"%.80s\"", last_line(d));
    size_t total = 0, i;
    json_t *l;
    json_array_foreach(json_object_get(d, "lines"), i, l)
        total += strlen(json_string_value(json_object_get(l, "line")));
    ck_assert_msg(total <= ((size_t)1 << 20), "%zu bytes of lines, over 1 MiB", total);
    /* At most one line more than needed was dropped: the cap drops whole
     * lines, oldest first. Under load the engine's log driver may split a
     * 2001-byte line and join pieces of two, so the dropped one can be
     * longer than 2000, though never longer than instances.logLineMaxBytes
     * (16384), the longest line shown. */
    ck_assert_msg(total > ((size_t)1 << 20) - 16384, "%zu bytes of lines: dropped more than needed", total);
    ck_assert_msg(json_array_size(json_object_get(d, "lines")) < 1000, "%zu lines: the byte cap did not bite",
                  json_array_size(json_object_get(d, "lines")));
    json_decref(d);
}

/* The stream of the line equal to text in lines, or NULL. Each line is
 * checked for shape on the way. */
static const char *stream_of(json_t *lines, const char *text)
{
    size_t i;
    json_t *l;
    const char *found = NULL;
    json_array_foreach(lines, i, l) {
        static const char *const keys[] = { "timestamp", "stream", "line", NULL };
        expect_keys(l, keys, "log line");
        const char *s = json_string_value(json_object_get(l, "stream"));
        ck_assert_msg(s != NULL && (strcmp(s, "stdout") == 0 || strcmp(s, "stderr") == 0), "stream %s",
                      s != NULL ? s : "(not a string)");
        const char *ts = json_string_value(json_object_get(l, "timestamp"));
        ck_assert_msg(rfc3339_utc(ts), "timestamp %s", ts != NULL ? ts : "(null)");
        if (strcmp(json_string_value(json_object_get(l, "line")), text) == 0)
            found = s;
    }
    return found;
}

/* GET path until its lines hold the three printed ones (bounded); checks
 * their streams. */
static void expect_printed(const char *path, const char *tok)
{
    json_t *d = NULL;
    long long deadline = dm_e2e_now_ms() + 20000;
    bool all = false;
    do {
        json_decref(d);
        d = get_ok(path, tok);
        json_t *lines = json_object_get(d, "lines");
        all = stream_of(lines, "hello-stdout") != NULL && stream_of(lines, "hello-stderr") != NULL &&
              stream_of(lines, "bad-\xef\xbf\xbd-utf8") != NULL;
        if (!all) {
            struct timespec ts = { 0, 200 * 1000000L };
            nanosleep(&ts, NULL);
        }
    } while (!all && dm_e2e_now_ms() < deadline);
    char *dump = json_dumps(d, JSON_COMPACT);
    ck_assert_msg(all, "%s lacks the printed lines: %.2000s", path, dump);
    free(dump);
    json_t *lines = json_object_get(d, "lines");
    ck_assert_str_eq(stream_of(lines, "hello-stdout"), "stdout");
    ck_assert_str_eq(stream_of(lines, "hello-stderr"), "stderr");
    ck_assert_str_eq(stream_of(lines, "bad-\xef\xbf\xbd-utf8"), "stdout");
    json_decref(d);
}

/* The admin's containers inventory has the instance's container. */
static void expect_in_inventory(const char *admin, const char *inst)
{
    json_t *d = get_ok("/api/admin/runtime/containers", admin);
    ck_assert_msg(json_is_array(d), "containers is not an array");
    char name[64];
    snprintf(name, sizeof name, "dm-%s", inst);
    bool found = false;
    size_t i;
    json_t *c;
    json_array_foreach(d, i, c) {
        const char *n = json_string_value(json_object_get(c, "name"));
        const char *in = json_string_value(json_object_get(c, "instance"));
        found = found || (n != NULL && strcmp(n, name) == 0 && in != NULL && strcmp(in, inst) == 0);
    }
    char *dump = json_dumps(d, JSON_COMPACT);
    ck_assert_msg(found, "no %s in %.2000s", name, dump);
    free(dump);
    json_decref(d);
}

/* The cluster view under Docker (one running instance): paged in the
 * list envelope, filtered by ?managed=, a Kubernetes-only kind 404 naming
 * the runtime. */
static void expect_cluster_view(const char *admin)
{
    dm_e2e_response res;
    call("GET", "/api/admin/runtime/containers?limit=1&managed=true&runtime=runtime-docker", admin, NULL, &res);
    ck_assert_int_eq(res.status, 200);
    json_t *doc = dm_e2e_json(&res);
    ck_assert_int_eq(dm_e2e_jint(doc, "pagination.limit"), 1);
    ck_assert_int_eq(dm_e2e_jint(doc, "pagination.page"), 1);
    ck_assert_int_ge(dm_e2e_jint(doc, "pagination.total"), 1);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "data")), 1);
    ck_assert(json_is_true(json_object_get(json_array_get(json_object_get(doc, "data"), 0), "managed")));
    json_decref(doc);
    dm_e2e_response_free(&res);
    /* Every listed container is Dermaga's: none is unmanaged. */
    call("GET", "/api/admin/runtime/containers?managed=false", admin, NULL, &res);
    ck_assert_int_eq(res.status, 200);
    doc = dm_e2e_json(&res);
    ck_assert_int_eq(dm_e2e_jint(doc, "pagination.total"), 0);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "data")), 0);
    json_decref(doc);
    dm_e2e_response_free(&res);
    call("GET", "/api/admin/runtime/ingresses", admin, NULL, &res);
    expect_error(&res, 404, "NOT_FOUND", "ingresses under Docker");
    ck_assert_msg(strstr(res.body, "runtime-docker has no inventory of \\\"ingresses\\\"") != NULL, "message: %s",
                  res.body);
    dm_e2e_response_free(&res);
    call("GET", "/api/admin/runtime/pods/default/web-1/metrics", admin, NULL, &res);
    expect_error(&res, 404, "NOT_FOUND", "pod metrics under Docker");
    ck_assert_msg(strstr(res.body, "runtime-docker has no inventory of \\\"podmetrics\\\"") != NULL,
                  "message: %s", res.body);
    dm_e2e_response_free(&res);
}

START_TEST(a_running_instance_observed)
{
    char sub[37], inst[37], path[160];
    char *tok = dm_e2e_instances_subscribe("site@example.id", sub, inst);
    json_decref(dm_e2e_instances_wait(tok, inst, "RUNNING"));

    fill_memory(inst);
    json_t *m = NULL;
    double mem = 0;
    for (long long end = dm_e2e_now_ms() + 20000; mem < 3 && dm_e2e_now_ms() < end;) {
        json_decref(m);
        m = metrics_of(sub, tok, inst, "RUNNING");
        expect_resource(m, "cpu", CPU_LIMIT);
        mem = expect_memory(m, MEM_LIMIT);
    }
    ck_assert_msg(mem >= 3, "memory.used %.2f MiB of a running container holding 3 MiB", mem);
    /* On the wire too: "used":3.14, never the double's 17 digits. */
    snprintf(path, sizeof path, "/api/subscriptions/%s/metrics", sub);
    dm_e2e_response raw;
    call("GET", path, tok, NULL, &raw);
    const char *u = strstr(raw.body, "\"memory\":{\"used\":");
    ck_assert_msg(u != NULL, "no memory.used in %s", raw.body);
    u += strlen("\"memory\":{\"used\":");
    size_t digits = strspn(u, "0123456789");
    size_t decimals = u[digits] == '.' ? strspn(u + digits + 1, "0123456789") : 0;
    ck_assert_msg(digits > 0 && decimals <= 2, "memory.used is not written with two decimals: %s", raw.body);
    dm_e2e_response_free(&raw);
    ck_assert_msg(strncmp(dm_e2e_jstr(m, "urls.public"), "http://127.0.0.1:", 17) == 0, "urls.public %s",
                  dm_e2e_jstr(m, "urls.public"));
    json_decref(m);

    print_in_container(inst);
    snprintf(path, sizeof path, "/api/subscriptions/%s/logs", sub);
    expect_printed(path, tok);
    snprintf(path, sizeof path, "/api/instances/%s/logs?tail=1000", inst);
    expect_printed(path, tok);
    snprintf(path, sizeof path, "/api/instances/%s/logs?tail=1", inst);
    json_t *d = get_ok(path, tok);
    ck_assert_msg(json_array_size(json_object_get(d, "lines")) == 1, "tail=1 gave %zu lines",
                  json_array_size(json_object_get(d, "lines")));
    json_decref(d);

    char *other = dm_e2e_auth_register("other@example.id", NULL);
    snprintf(path, sizeof path, "/api/subscriptions/%s/metrics", sub);
    get_error(path, other, 404, "NOT_FOUND");
    snprintf(path, sizeof path, "/api/instances/%s/logs", inst);
    get_error(path, other, 404, "NOT_FOUND");
    get_error("/api/admin/runtime/containers", other, 403, "FORBIDDEN");
    free(other);

    char *admin = dm_e2e_auth_login(ADMIN_EMAIL, ADMIN_PASS);
    expect_in_inventory(admin, inst);
    json_t *info = get_ok("/api/admin/runtime/info", admin);
    ck_assert_msg(json_is_array(info) && json_array_size(info) == 1, "info is not a one-item array");
    json_decref(info);
    get_error("/api/admin/runtime/pods", admin, 404, "NOT_FOUND");
    get_error("/api/admin/runtime/NoSuchKind", admin, 404, "NOT_FOUND");
    expect_cluster_view(admin);
    free(admin);

    flood_log(inst);
    snprintf(path, sizeof path, "/api/instances/%s/logs?tail=1000", inst);
    expect_capped(path, tok);

    /* Stopped: zeros without the runtime, and the log is still there. */
    snprintf(path, sizeof path, "/api/instances/%s/stop", inst);
    dm_e2e_response res;
    call("PUT", path, tok, NULL, &res);
    json_decref(ok_data(&res, 202, "stop"));
    dm_e2e_response_free(&res);
    json_decref(dm_e2e_instances_wait(tok, inst, "STOPPED"));
    m = metrics_of(sub, tok, inst, "STOPPED");
    ck_assert_int_eq(expect_resource(m, "cpu", CPU_LIMIT), 0);
    ck_assert_msg(expect_memory(m, MEM_LIMIT) == 0, "memory.used of a stopped instance is not 0");
    json_decref(m);
    snprintf(path, sizeof path, "/api/subscriptions/%s/logs?tail=1000", sub);
    expect_capped(path, tok);
    free(tok);
}
END_TEST

START_TEST(no_engine_configured)
{
    dm_docker_test_engine_off("test_instance_observe");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("instance_observe");
    TCase *plain = tcase_create("no_runtime");
    tcase_add_unchecked_fixture(plain, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(plain, setup_no_runtime, teardown);
    tcase_set_timeout(plain, 60);
    tcase_add_test(plain, stopped_metrics_are_zero_without_asking_the_runtime);
    tcase_add_test(plain, running_without_runtime_is_503_without_detail);
    tcase_add_test(plain, logs_without_workload_are_empty);
    tcase_add_test(plain, tail_out_of_bounds_is_400);
    tcase_add_test(plain, another_users_views_are_404);
    tcase_add_test(plain, health_history_newest_first_and_paged);
    tcase_add_test(plain, inventory_refusals);
    suite_add_tcase(s, plain);

    TCase *tc = tcase_create("engine");
    if (dm_docker_test_host() == NULL) {
        tcase_add_test(tc, no_engine_configured);
    } else {
        tcase_add_unchecked_fixture(tc, sweep_setup, sweep_teardown);
        tcase_add_checked_fixture(tc, setup_engine, teardown_engine);
        tcase_set_timeout(tc, 180);
        tcase_add_test(tc, a_running_instance_observed);
    }
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
