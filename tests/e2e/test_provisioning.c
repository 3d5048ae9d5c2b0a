/*
 * test_provisioning.c — the instance.* jobs through the real binary with
 * the service-template and runtime-docker plugins on the private Podman
 * ($DERMAGA_TEST_DOCKER_HOST): subscribing runs the static-site workload
 * until RUNNING and its public URL serves the page; stop, start and cancel
 * reach STOPPED, RUNNING and TERMINATED with the container following; with
 * the service's plugin not enabled the instance ends in ERROR saying so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"
#include "e2e_instances.h"
#include "testdb.h"
#include "../plugins/fixtures.h"

#define db_url dm_e2e_auth_db_url
#define call dm_e2e_auth_call
#define ok_data dm_e2e_auth_ok_data
#define engine dm_e2e_engine
#define subscribed dm_e2e_instances_subscribe
#define wait_status dm_e2e_instances_wait
#define expect_container dm_e2e_expect_container
#define expect_page dm_e2e_expect_page
#define nap_ms dm_e2e_nap_ms

#define API "/" DM_DOCKER_API
#define WAIT_MS DM_E2E_INSTANCE_WAIT_MS

static void engine_setup(void) { dm_e2e_instances_setup("provise2e"); }
static void engine_teardown(void) { dm_e2e_instances_teardown(); }

static void setup(void)
{
    dm_e2e_instances_opts o = { .with_service = true };
    dm_e2e_instances_start(&o);
}

static void setup_no_service(void)
{
    dm_e2e_instances_opts o = { .with_service = false };
    dm_e2e_instances_start(&o);
}

static void teardown(void) { dm_e2e_instances_stop(); }

/* A plugin folder with the real auth, payment and service plugins and the
 * never_ready_runtime fixture (its workloads stay PENDING), and a server
 * whose provisions give up after 2 s (instances.provisionTimeoutS). */
static char never_ready_dir[256];

static void setup_never_ready(void)
{
    dm_e2e_instances_plugin_dir(never_ready_dir, sizeof never_ready_dir);
    fx_install(never_ready_dir, "never_ready_runtime");
    char services[512];
    const char *src = getenv("DERMAGA_TEST_SOURCE_DIR");
    snprintf(services, sizeof services, "%s/config/services", src != NULL && src[0] ? src : DM_SOURCE_DIR);
    json_t *extra = json_pack("{s:{s:s,s:[{s:s},{s:s},{s:s,s:{s:s}},{s:s}]},s:{s:i}}", "plugins", "dir",
                              never_ready_dir, "enabled", "name", "auth-local", "name", "payment-manual", "name",
                              "service-template", "config", "dir", services, "name", "never_ready_runtime",
                              "instances", "provisionTimeoutS", 2);
    dm_e2e_instances_opts o = { .with_service = true, .extra = extra };
    dm_e2e_instances_start(&o);
}

static void teardown_never_ready(void)
{
    dm_e2e_instances_stop();
    fx_rmdir(never_ready_dir);
}

static void put_op(const char *tok, const char *path, const char *body, int status)
{
    dm_e2e_instances_op("PUT", tok, path, body, status);
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
    dm_e2e_instances_wait_sql(inst, "ERROR");
    DM_EXPECT_SQL(db_url, "service plugin service-template is not enabled", "SELECT message FROM instances WHERE id = '%s'", inst);
    expect_container(inst, "absent");
    free(tok);
}
END_TEST

/* A workload that never becomes ready: ERROR once the configured time is
 * up, with the runtime's message. */
START_TEST(provision_not_ready_in_time_is_error)
{
    char sub[37], inst[37];
    char *tok = subscribed("slow@example.id", sub, inst);
    dm_e2e_instances_wait_sql(inst, "ERROR");
    DM_EXPECT_SQL(db_url, "not ready after 2 s: still pulling the image",
                  "SELECT message FROM instances WHERE id = '%s'", inst);
    /* It waited the configured 2 s (and not the 120 s default). */
    DM_EXPECT_SQL(db_url, "t",
                  "SELECT max(created_at) FILTER (WHERE to_status = 'ERROR') - "
                  "  max(created_at) FILTER (WHERE to_status = 'PROVISIONING') BETWEEN interval '2 s' "
                  "  AND interval '30 s' FROM instance_events WHERE instance_id = '%s'",
                  inst);
    free(tok);
}
END_TEST

START_TEST(no_engine_configured)
{
    dm_docker_test_engine_off("test_provisioning");
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
        TCase *slow = tcase_create("never_ready");
        tcase_add_unchecked_fixture(slow, engine_setup, engine_teardown);
        tcase_add_checked_fixture(slow, setup_never_ready, teardown_never_ready);
        tcase_set_timeout(slow, 120);
        tcase_add_test(slow, provision_not_ready_in_time_is_error);
        suite_add_tcase(s, slow);
    }
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
