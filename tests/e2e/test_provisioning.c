/*
 * test_provisioning.c — the instance.* jobs through the real binary with
 * the service-template and runtime-docker plugins on the private Podman
 * ($DERMAGA_TEST_DOCKER_HOST): subscribing runs the static-site workload
 * until RUNNING and its public URL serves the page; stop, start and cancel
 * reach STOPPED, RUNNING and TERMINATED with the container following; with
 * no service plugin the instance ends in ERROR saying so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "docker_api.h"
#include "dm_test.h"
#include "e2e.h"
#include "e2e_auth.h"
#include "testdb.h"

#define db_url dm_e2e_auth_db_url
#define call dm_e2e_auth_call
#define ok_data dm_e2e_auth_ok_data

#define API "/" DM_DOCKER_API
#define ADMIN_EMAIL "root@example.id"
#define ADMIN_PASS "admin-pass-123"
#define WAIT_MS 60000

static dm_docker_host engine;

/* The instances a test made, for the parent's clean-up even after a failed
 * test (the checked teardown does not run then): one id a line. */
static void ids_file(char *out, size_t n, long runner_pid)
{
    snprintf(out, n, "/tmp/dm-provisioning-%ld.ids", runner_pid);
}

static void remember(const char *inst_id)
{
    char f[96];
    ids_file(f, sizeof f, (long)getppid());
    FILE *fp = fopen(f, "a");
    ck_assert_msg(fp != NULL, "cannot write %s", f);
    fprintf(fp, "%s\n", inst_id);
    fclose(fp);
}

static void engine_setup(void)
{
    dm_e2e_auth_sweep_setup("provise2e");
    const char *h = dm_docker_test_host();
    if (h != NULL && dm_docker_host_parse(h, &engine) != 0)
        fprintf(stderr, "test_provisioning: %s is not a Docker host\n", h);
}

/* Unchecked: runs in the runner, also after a failed test. */
static void engine_teardown(void)
{
    char f[96], line[64];
    ids_file(f, sizeof f, (long)getpid());
    FILE *fp = fopen(f, "r");
    while (fp != NULL && fgets(line, sizeof line, fp) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char label[128];
        snprintf(label, sizeof label, "dermaga.instance=%s", line);
        dm_docker_remove_labelled(&engine, label);
        dm_docker_resp r = { 0 };
        dm_docker_requestf(&engine, "DELETE", NULL, 10000, &r, API "/volumes/dm-%s-www?force=1", line);
        dm_docker_resp_free(&r);
    }
    if (fp != NULL)
        fclose(fp);
    unlink(f);
    dm_e2e_auth_sweep_teardown();
}

/* A server whose plugins are auth, payment, (service-template when
 * with_service) and runtime-docker on the test engine. */
static void start_server(bool with_service)
{
    char dir[512];
    const char *src = getenv("DERMAGA_TEST_SOURCE_DIR");
    snprintf(dir, sizeof dir, "%s/config/services", src != NULL && src[0] ? src : DM_SOURCE_DIR);
    json_t *enabled = json_pack("[{s:s},{s:s}]", "name", "auth-local", "name", "payment-manual");
    if (with_service)
        json_array_append_new(enabled, json_pack("{s:s,s:{s:s,s:{s:s}}}", "name", "service-template", "config",
                                                 "dir", dir, "image_map", "docker.io/joseluisq/static-web-server:2",
                                                 DM_DOCKER_TEST_STATIC_SITE_IMAGE));
    json_array_append_new(enabled, json_pack("{s:s,s:{s:s,s:i}}", "name", "runtime-docker", "config", "host",
                                             dm_docker_test_host(), "stop_timeout_s", 5));
    dm_e2e_auth_setup_with(json_pack("{s:{s:s,s:s},s:{s:o},s:{s:i}}", "auth", "adminEmail", ADMIN_EMAIL,
                                     "adminPassword", ADMIN_PASS, "plugins", "enabled", enabled, "jobs", "pollMs",
                                     100));
}

static void setup(void) { start_server(true); }
static void setup_no_service(void) { start_server(false); }

static void teardown(void)
{
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM ledger_violations()");
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM quota_violations()");
    dm_e2e_auth_teardown();
}

/* ---- fixtures ---------------------------------------------------------- */

/* A user subscribed to a static-site plan: the token (caller frees) and the
 * subscription and instance ids. */
static char *subscribed(const char *email, char sub_id[37], char inst_id[37])
{
    char *plan = dm_test_db_scalarf(db_url,
                                    "WITH c AS (INSERT INTO categories (slug, name) VALUES ('web-hosting', 'Web') "
                                    "  RETURNING id), "
                                    "s AS (INSERT INTO services (category_id, slug, name, service_type, template) "
                                    "  SELECT id, 'static-site', 'Static Site', 'service-template', 'static-site' "
                                    "  FROM c RETURNING id) "
                                    "INSERT INTO plans (service_id, slug, name, price, billing_period_days, "
                                    "  cpu_millicores, memory_mb, storage_gb, total_quota) "
                                    "SELECT id, 'small', 'Small', 10000, 30, 250, 64, 1, 5 FROM s RETURNING id");
    ck_assert_msg(strlen(plan) == 36, "plan: %s", plan);
    char uid[37], path[128], body[96];
    char *tok = dm_e2e_auth_register(email, uid);
    char *admin = dm_e2e_auth_login(ADMIN_EMAIL, ADMIN_PASS);
    snprintf(path, sizeof path, "/api/admin/users/%s/credits", uid);
    dm_e2e_response res;
    call("POST", path, admin, "{\"amount\":50000,\"reason\":\"test credit\"}", &res);
    json_decref(ok_data(&res, 201, "admin credit"));
    dm_e2e_response_free(&res);
    free(admin);
    snprintf(body, sizeof body, "{\"planId\":\"%s\"}", plan);
    free(plan);
    call("POST", "/api/subscriptions", tok, body, &res);
    json_t *s = ok_data(&res, 201, "subscribe");
    dm_e2e_response_free(&res);
    snprintf(sub_id, 37, "%s", dm_e2e_jstr(s, "id"));
    snprintf(inst_id, 37, "%s", dm_e2e_jstr(s, "instance.id"));
    json_decref(s);
    remember(inst_id);
    return tok;
}

static void nap_ms(int ms)
{
    struct timespec ts = { 0, (long)ms * 1000000L };
    nanosleep(&ts, NULL);
}

/* GET the instance until its status is want (bounded); its detail (new
 * reference). Fails at once on an unexpected ERROR, naming the message. */
static json_t *wait_status(const char *tok, const char *inst_id, const char *want)
{
    char path[128];
    snprintf(path, sizeof path, "/api/instances/%s", inst_id);
    char last[16] = "";
    for (int waited = 0; waited <= WAIT_MS; waited += 100) {
        dm_e2e_response res;
        call("GET", path, tok, NULL, &res);
        json_t *d = ok_data(&res, 200, "instance detail");
        dm_e2e_response_free(&res);
        snprintf(last, sizeof last, "%s", dm_e2e_jstr(d, "status"));
        if (strcmp(last, want) == 0)
            return d;
        json_decref(d);
        if (strcmp(last, "ERROR") == 0) {
            char *msg = dm_test_db_scalarf(db_url, "SELECT coalesce(message, '') FROM instances WHERE id = '%s'",
                                           inst_id);
            ck_abort_msg("instance %s is ERROR while waiting for %s: %s", inst_id, want, msg);
        }
        nap_ms(100);
    }
    ck_abort_msg("instance %s still %s after %d ms, want %s", inst_id, last, WAIT_MS, want);
    return NULL;
}

/* The container's State.Status, or "absent" (404); new string. */
static char *container_state(const char *inst_id)
{
    dm_docker_resp r = { 0 };
    int rc = dm_docker_requestf(&engine, "GET", NULL, 10000, &r, API "/containers/dm-%s/json", inst_id);
    ck_assert_msg(rc == 0, "inspect: %s", r.error);
    char *s = NULL;
    if (r.status == 404)
        s = strdup("absent");
    else
        s = strdup(json_string_value(json_object_get(json_object_get(r.json, "State"), "Status")) != NULL
                       ? json_string_value(json_object_get(json_object_get(r.json, "State"), "Status"))
                       : "?");
    dm_docker_resp_free(&r);
    ck_assert_msg(s != NULL, "out of memory");
    return s;
}

static void expect_container(const char *inst_id, const char *want)
{
    char *s = container_state(inst_id);
    ck_assert_msg(strcmp(s, want) == 0, "container dm-%s is %s, want %s", inst_id, s, want);
    free(s);
}

static void put_op(const char *tok, const char *path, const char *body, int status)
{
    dm_e2e_response res;
    call("PUT", path, tok, body, &res);
    json_decref(ok_data(&res, status, path));
    dm_e2e_response_free(&res);
}

/* The page at the instance's urls.public. */
static void expect_page(json_t *detail)
{
    const char *url = dm_e2e_jstr(detail, "urls.public");
    ck_assert_msg(strncmp(url, "http://127.0.0.1:", 17) == 0, "urls.public: %s", url);
    dm_docker_resp last = { 0 };
    bool ok = dm_docker_wait_http(url, DM_DOCKER_TEST_STATIC_SITE_MARKER, 20000, &last);
    ck_assert_msg(ok, "%s did not serve the page: %ld %s %s", url, last.status, last.error,
                  last.body != NULL ? last.body : "");
    dm_docker_resp_free(&last);
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(subscribe_runs_stop_start_cancel_terminates)
{
    char sub[37], inst[37], path[160];
    char *tok = subscribed("site@example.id", sub, inst);
    json_t *d = wait_status(tok, inst, "RUNNING");
    ck_assert_str_eq(dm_e2e_jstr(d, "runtime"), "runtime-docker");
    char unit[64];
    snprintf(unit, sizeof unit, "dm-%s", inst);
    ck_assert_str_eq(dm_e2e_jstr(d, "unitName"), unit);
    expect_page(d);
    json_decref(d);
    expect_container(inst, "running");
    /* The history through the API, newest first. */
    snprintf(path, sizeof path, "/api/instances/%s/events", inst);
    dm_e2e_response res;
    call("GET", path, tok, NULL, &res);
    json_t *ev = ok_data(&res, 200, "events");
    ck_assert_msg(json_array_size(ev) == 2, "events: %s", res.body);
    ck_assert_str_eq(dm_e2e_jstr(ev, "1.fromStatus"), "PENDING");
    ck_assert_str_eq(dm_e2e_jstr(ev, "1.toStatus"), "PROVISIONING");
    ck_assert_str_eq(dm_e2e_jstr(ev, "0.toStatus"), "RUNNING");
    ck_assert_str_eq(dm_e2e_jstr(ev, "0.actor"), "system");
    json_decref(ev);
    dm_e2e_response_free(&res);
    DM_EXPECT_SQL(db_url, "t", "SELECT endpoints ? 'http' FROM instances WHERE id = '%s'", inst);

    snprintf(path, sizeof path, "/api/instances/%s/stop", inst);
    put_op(tok, path, NULL, 202);
    json_decref(wait_status(tok, inst, "STOPPED"));
    expect_container(inst, "exited");

    snprintf(path, sizeof path, "/api/instances/%s/start", inst);
    put_op(tok, path, NULL, 202);
    d = wait_status(tok, inst, "RUNNING");
    expect_container(inst, "running");
    expect_page(d);
    json_decref(d);

    snprintf(path, sizeof path, "/api/subscriptions/%s/cancel", sub);
    put_op(tok, path, "{}", 200);
    d = wait_status(tok, inst, "TERMINATED");
    ck_assert_msg(json_object_size(dm_e2e_jpath(d, "urls")) == 0, "urls after terminate");
    json_decref(d);
    expect_container(inst, "absent");
    dm_docker_resp r = { 0 };
    ck_assert_int_eq(dm_docker_requestf(&engine, "GET", NULL, 10000, &r, API "/volumes/dm-%s-www", inst), 0);
    ck_assert_msg(r.status == 404, "volume dm-%s-www after terminate: %ld %s", inst, r.status, r.body);
    dm_docker_resp_free(&r);
    DM_EXPECT_SQL(db_url,
                  "PENDING>PROVISIONING,PROVISIONING>RUNNING,RUNNING>STOPPING,STOPPING>STOPPED,"
                  "STOPPED>STARTING,STARTING>RUNNING,RUNNING>TERMINATING,TERMINATING>TERMINATED",
                  "SELECT string_agg(from_status || '>' || to_status, ',' ORDER BY id) FROM instance_events "
                  "WHERE instance_id = '%s'",
                  inst);
    /* Every job finished: none left to retry. */
    DM_EXPECT_SQL(db_url, "0",
                  "SELECT count(*) FROM jobs WHERE payload->>'instanceId' = '%s' AND status <> 'succeeded'", inst);
    free(tok);
}
END_TEST

/* Poll (bounded) until the instance has n events; fails otherwise. */
static void wait_events(const char *inst_id, long n)
{
    long got = -1;
    for (int waited = 0; waited <= WAIT_MS; waited += 100) {
        char *v = dm_test_db_scalarf(db_url, "SELECT count(*) FROM instance_events WHERE instance_id = '%s'",
                                     inst_id);
        got = strtol(v, NULL, 10);
        free(v);
        if (got >= n)
            break;
        nap_ms(100);
    }
    ck_assert_msg(got == n, "instance %s has %ld events, want %ld", inst_id, got, n);
}

/* HostConfig.Memory of the instance's container, in MiB. */
static long long container_memory_mb(const char *inst_id)
{
    dm_docker_resp r = { 0 };
    ck_assert_int_eq(dm_docker_requestf(&engine, "GET", NULL, 10000, &r, API "/containers/dm-%s/json", inst_id),
                     0);
    ck_assert_msg(r.status == 200, "inspect dm-%s: %ld", inst_id, r.status);
    long long mb = json_integer_value(json_object_get(json_object_get(r.json, "HostConfig"), "Memory")) >> 20;
    dm_docker_resp_free(&r);
    return mb;
}

START_TEST(restart_upgrade_and_a_repeated_job)
{
    char sub[37], inst[37], path[160], body[96];
    char *tok = subscribed("upgrade@example.id", sub, inst);
    json_decref(wait_status(tok, inst, "RUNNING"));
    ck_assert_int_eq(container_memory_mb(inst), 64);
    /* A provision job delivered twice finds the instance RUNNING: no-op. */
    DM_EXPECT_SQL(db_url, "1",
                  "WITH j AS (INSERT INTO jobs (kind, payload) SELECT 'instance.provision', "
                  "  jsonb_build_object('instanceId', id::text, 'subscriptionId', subscription_id::text) "
                  "  FROM instances WHERE id = '%s' RETURNING 1) SELECT count(*) FROM j",
                  inst);
    for (int waited = 0; waited <= WAIT_MS; waited += 100) {
        char *v = dm_test_db_scalarf(db_url, "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')");
        bool idle = strcmp(v, "0") == 0;
        free(v);
        if (idle)
            break;
        nap_ms(100);
    }
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM jobs WHERE status <> 'succeeded' AND payload->>'instanceId' = '%s'",
                  inst);
    DM_EXPECT_SQL(db_url, "2", "SELECT count(*) FROM instance_events WHERE instance_id = '%s'", inst);

    snprintf(path, sizeof path, "/api/instances/%s/restart", inst);
    put_op(tok, path, NULL, 202);
    wait_events(inst, 4);
    json_t *d = wait_status(tok, inst, "RUNNING");
    expect_page(d);
    json_decref(d);

    /* A bigger plan: the workload is recreated with its limits. */
    char *big = dm_test_db_scalarf(db_url,
                                   "INSERT INTO plans (service_id, slug, name, price, billing_period_days, "
                                   "  cpu_millicores, memory_mb, storage_gb, total_quota) "
                                   "SELECT service_id, 'big', 'Big', 20000, 30, 500, 128, 1, 5 FROM plans "
                                   "WHERE slug = 'small' RETURNING id");
    snprintf(path, sizeof path, "/api/subscriptions/%s/upgrade", sub);
    snprintf(body, sizeof body, "{\"newPlanId\":\"%s\"}", big);
    free(big);
    put_op(tok, path, body, 200);
    wait_events(inst, 6);
    d = wait_status(tok, inst, "RUNNING");
    ck_assert_int_eq(container_memory_mb(inst), 128);
    expect_page(d);
    json_decref(d);
    DM_EXPECT_SQL(db_url, "RUNNING>RESTARTING,RESTARTING>RUNNING,RUNNING>RESTARTING,RESTARTING>RUNNING",
                  "SELECT string_agg(from_status || '>' || to_status, ',' ORDER BY id) FROM "
                  "(SELECT * FROM instance_events WHERE instance_id = '%s' ORDER BY id OFFSET 2) e",
                  inst);
    free(tok);
}
END_TEST

/* ERROR is what this test waits for, so it polls by SQL instead. */
START_TEST(without_service_plugin_the_instance_says_why)
{
    char sub[37], inst[37];
    char *tok = subscribed("nosvc@example.id", sub, inst);
    char *st = NULL;
    for (int waited = 0; waited <= WAIT_MS; waited += 100) {
        free(st);
        st = dm_test_db_scalarf(db_url, "SELECT status FROM instances WHERE id = '%s'", inst);
        if (strcmp(st, "ERROR") == 0)
            break;
        nap_ms(100);
    }
    ck_assert_msg(strcmp(st, "ERROR") == 0, "status %s, want ERROR", st);
    free(st);
    DM_EXPECT_SQL(db_url, "no service plugin enabled", "SELECT message FROM instances WHERE id = '%s'", inst);
    expect_container(inst, "absent");
    free(tok);
}
END_TEST

START_TEST(no_engine_configured)
{
    const char *off = getenv("DERMAGA_TEST_PODMAN");
    ck_assert_msg(off != NULL && strcmp(off, "0") == 0,
                  "%s is not set; scripts/test.sh starts a private Podman and sets it, or set "
                  "DERMAGA_TEST_PODMAN=0 to skip the engine tests", DM_DOCKER_TEST_HOST_ENV);
    fprintf(stderr, "test_provisioning: SKIPPED engine tests: DERMAGA_TEST_PODMAN=0\n");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("provisioning");
    TCase *tc = tcase_create("engine");
    if (dm_docker_test_host() == NULL) {
        tcase_add_test(tc, no_engine_configured);
    } else {
        tcase_add_unchecked_fixture(tc, engine_setup, engine_teardown);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 180);
        tcase_add_test(tc, subscribe_runs_stop_start_cancel_terminates);
        tcase_add_test(tc, restart_upgrade_and_a_repeated_job);
        TCase *nosvc = tcase_create("no_service");
        tcase_add_unchecked_fixture(nosvc, engine_setup, engine_teardown);
        tcase_add_checked_fixture(nosvc, setup_no_service, teardown);
        tcase_set_timeout(nosvc, 120);
        tcase_add_test(nosvc, without_service_plugin_the_instance_says_why);
        suite_add_tcase(s, nosvc);
    }
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
