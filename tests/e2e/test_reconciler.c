/*
 * test_reconciler.c — drift repair through the real binary on the private
 * Podman: a container killed or removed behind Dermaga's back is noticed
 * (ERROR with an event) and redeployed when its template asks, within a
 * budget; orphaned workloads of this installation are removed and other
 * installations' are not; lost work ends in ERROR (or is queued again for a
 * terminate); retry-provision recovers from a forced failure; and after
 * kill -9 in the middle of provisioning a restarted server converges every
 * instance to RUNNING or ERROR within 60 s with no orphan container.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dm_test.h"
#include "e2e_instances.h"
#include "testdb.h"

#define db_url dm_e2e_auth_db_url
#define API "/" DM_DOCKER_API
#define CONVERGE_MS 60000

static void engine_setup(void) { dm_e2e_instances_setup("reconcile"); }
static void engine_teardown(void) { dm_e2e_instances_teardown(); }

/* The reconciler every second, everything else as in production. */
static void setup(void)
{
    dm_e2e_instances_opts o = { .with_service = true,
                                .extra = json_pack("{s:{s:i}}", "instances", "reconcileEveryS", 1) };
    dm_e2e_instances_start(&o);
}

static void teardown(void) { dm_e2e_instances_stop(); }

static long sql_long(const char *sql)
{
    char *v = dm_test_db_scalarf(db_url, "%s", sql);
    long n = strtol(v, NULL, 10);
    free(v);
    return n;
}

/* Wait (bounded) until the reconciler has finished n more runs. */
static void wait_reconciles(int n)
{
    const char *q = "SELECT count(*) FROM jobs WHERE kind = 'instances.reconcile' AND status = 'succeeded'";
    long start = sql_long(q);
    for (long long end = dm_e2e_now_ms() + 30000; dm_e2e_now_ms() <= end;) {
        if (sql_long(q) >= start + n)
            return;
        dm_e2e_nap_ms(100);
    }
    ck_abort_msg("the reconciler did not run %d more times in 30 s", n);
}

/* Wait (bounded) for an event of inst into to_status whose reason starts with prefix. */
static void wait_event(const char *inst, const char *to_status, const char *prefix)
{
    char *q = NULL;
    for (long long end = dm_e2e_now_ms() + CONVERGE_MS; dm_e2e_now_ms() <= end;) {
        free(q);
        q = dm_test_db_scalarf(db_url,
                               "SELECT count(*) FROM instance_events WHERE instance_id = '%s' AND to_status = '%s' "
                               "AND starts_with(reason, '%s')",
                               inst, to_status, prefix);
        if (strcmp(q, "0") != 0)
            break;
        dm_e2e_nap_ms(100);
    }
    ck_assert_msg(strcmp(q, "0") != 0, "no %s event \"%s…\" for %s", to_status, prefix, inst);
    free(q);
}

static void engine_call(const char *method, long want, const char *path)
{
    dm_docker_resp r = { 0 };
    ck_assert_int_eq(dm_docker_request(&dm_e2e_engine, method, path, NULL, 15000, &r), 0);
    ck_assert_msg(r.status == want, "%s %s: %ld %s", method, path, r.status, r.body);
    dm_docker_resp_free(&r);
}

/* ---- drift ------------------------------------------------------------- */

START_TEST(killed_container_is_noticed_and_redeployed)
{
    char sub[37], inst[37], path[160];
    char *tok = dm_e2e_instances_subscribe("killed@example.id", sub, inst);
    json_decref(dm_e2e_instances_wait(tok, inst, "RUNNING"));
    DM_EXPECT_SQL(db_url, "on-failure|http", "SELECT (supervision->>'restart') || '|' || (supervision->'probe'->>'port') "
                  "FROM instances WHERE id = '%s'", inst);
    snprintf(path, sizeof path, API "/containers/dm-%s/kill?signal=KILL", inst);
    engine_call("POST", 204, path);

    wait_event(inst, "ERROR", "reconciler: the workload stopped behind");
    wait_event(inst, "PENDING", "reconciler: redeploying");
    dm_e2e_instances_wait_sql(inst, "RUNNING");
    dm_e2e_expect_container(inst, "running");
    json_t *d = dm_e2e_instances_wait(tok, inst, "RUNNING");
    dm_e2e_expect_page(d);
    json_decref(d);
    DM_EXPECT_SQL(db_url, "RUNNING>ERROR,ERROR>PENDING,PENDING>PROVISIONING,PROVISIONING>RUNNING",
                  "SELECT string_agg(from_status || '>' || to_status, ',' ORDER BY id) FROM "
                  "(SELECT * FROM instance_events WHERE instance_id = '%s' ORDER BY id OFFSET 2) e",
                  inst);
    free(tok);
}
END_TEST

/* The workload ends by itself with exit 0 (the image's entry point exits 0
 * on SIGTERM): nothing failed, so under restart "on-failure" it is STOPPED
 * with an event saying so — not ERROR, and never redeployed. */
START_TEST(clean_exit_is_stopped_not_redeployed)
{
    char sub[37], inst[37], path[160];
    char *tok = dm_e2e_instances_subscribe("exit0@example.id", sub, inst);
    json_decref(dm_e2e_instances_wait(tok, inst, "RUNNING"));
    DM_EXPECT_SQL(db_url, "on-failure", "SELECT supervision->>'restart' FROM instances WHERE id = '%s'", inst);
    snprintf(path, sizeof path, API "/containers/dm-%s/kill?signal=TERM", inst);
    engine_call("POST", 204, path);

    wait_event(inst, "STOPPED", "reconciler: the workload ended by itself (exited with code 0)");
    wait_reconciles(2); /* a redeploy, if any, would have been queued by now */
    DM_EXPECT_SQL(db_url, "STOPPED", "SELECT status FROM instances WHERE id = '%s'", inst);
    DM_EXPECT_SQL(db_url, "RUNNING>STOPPED|exited|system",
                  "SELECT string_agg(from_status || '>' || to_status || '|' || operation || '|' || actor, ',' "
                  "ORDER BY id) FROM (SELECT * FROM instance_events WHERE instance_id = '%s' ORDER BY id OFFSET 2) e",
                  inst);
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM instance_events WHERE instance_id = '%s' "
                  "AND (to_status = 'ERROR' OR operation = 'retry-provision')", inst);
    dm_e2e_expect_container(inst, "exited");
    /* The user starts it again as after any stop. */
    snprintf(path, sizeof path, "/api/instances/%s/start", inst);
    dm_e2e_instances_op("PUT", tok, path, NULL, 202);
    json_decref(dm_e2e_instances_wait(tok, inst, "RUNNING"));
    free(tok);
}
END_TEST

START_TEST(restart_budget_spent_leaves_error)
{
    char sub[37], inst[37], path[160];
    char *tok = dm_e2e_instances_subscribe("budget@example.id", sub, inst);
    json_decref(dm_e2e_instances_wait(tok, inst, "RUNNING"));
    /* Five automatic redeploys in the last hour already. */
    DM_EXPECT_SQL(db_url, "5",
                  "WITH e AS (INSERT INTO instance_events (instance_id, operation, from_status, to_status, reason, "
                  "  actor) SELECT '%s', 'retry-provision', 'ERROR', 'PENDING', 'earlier', 'system' "
                  "  FROM generate_series(1, 5) RETURNING 1) SELECT count(*) FROM e",
                  inst);
    /* Killed first, so that however the removal interleaves with a
     * reconcile the workload is seen failed (137) or gone, never ended
     * cleanly: a forced removal stops with SIGTERM, on which the test image
     * exits 0, and an exit 0 is a STOPPED, not a failure. */
    snprintf(path, sizeof path, API "/containers/dm-%s/kill?signal=SIGKILL", inst);
    engine_call("POST", 204, path);
    snprintf(path, sizeof path, API "/containers/dm-%s?force=1", inst);
    engine_call("DELETE", 204, path);

    wait_event(inst, "ERROR", "reconciler: the workload ");
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM instance_events WHERE instance_id = '%s' "
                  "AND to_status = 'STOPPED'", inst);
    wait_reconciles(2);
    DM_EXPECT_SQL(db_url, "ERROR", "SELECT status FROM instances WHERE id = '%s'", inst);
    DM_EXPECT_SQL(db_url, "5", "SELECT count(*) FROM instance_events WHERE instance_id = '%s' "
                  "AND operation = 'retry-provision'", inst);
    dm_e2e_expect_container(inst, "absent");
    free(tok);
}
END_TEST

/* Queue instance.<kind> for inst by SQL, as the period-end job does, due
 * in delay_s seconds. */
static void queue_job(const char *inst, const char *kind, int delay_s)
{
    char *id = dm_test_db_scalarf(db_url,
                                  "INSERT INTO jobs (kind, payload, run_at) VALUES ('instance.%s', "
                                  "  jsonb_build_object('instanceId', '%s', 'reason', 'suspended (test)'), "
                                  "  now() + make_interval(secs => %d)) RETURNING id",
                                  kind, inst, delay_s);
    ck_assert_msg(strlen(id) == 36, "queue %s: %s", kind, id);
    free(id);
}

/* A suspension queued a stop; the workload dies before it runs: ERROR,
 * and no redeploy that the stop would then miss. The stop still wins. */
START_TEST(suspended_subscription_is_not_redeployed)
{
    char sub[37], inst[37], path[160];
    char *tok = dm_e2e_instances_subscribe("suspended@example.id", sub, inst);
    json_decref(dm_e2e_instances_wait(tok, inst, "RUNNING"));
    DM_EXPECT_SQL(db_url, "1", "WITH u AS (UPDATE subscriptions SET status = 'SUSPENDED', grace_until = now() + interval '3 days' WHERE id = '%s' "
                  "RETURNING 1) SELECT count(*) FROM u", sub);
    queue_job(inst, "stop", 4);
    snprintf(path, sizeof path, API "/containers/dm-%s/kill?signal=KILL", inst);
    engine_call("POST", 204, path);

    wait_event(inst, "ERROR", "reconciler: the workload stopped behind");
    dm_e2e_instances_wait_sql(inst, "STOPPED");
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM instance_events WHERE instance_id = '%s' "
                  "AND operation = 'retry-provision'", inst);
    DM_EXPECT_SQL(db_url, "ERROR>STOPPING,STOPPING>STOPPED",
                  "SELECT string_agg(from_status || '>' || to_status, ',' ORDER BY id) FROM "
                  "(SELECT * FROM instance_events WHERE instance_id = '%s' ORDER BY id OFFSET 3) e",
                  inst);
    free(tok);
}
END_TEST

/* A system stop that finds the instance in the middle of another move
 * waits for it (queued again) instead of being dropped. */
START_TEST(system_stop_waits_for_a_move_in_progress)
{
    char sub[37], inst[37];
    char *tok = dm_e2e_instances_subscribe("busy@example.id", sub, inst);
    json_decref(dm_e2e_instances_wait(tok, inst, "RUNNING"));
    DM_EXPECT_SQL(db_url, "1", "WITH u AS (UPDATE instances SET status = 'RESTARTING' WHERE id = '%s' "
                  "RETURNING 1) SELECT count(*) FROM u", inst);
    queue_job(inst, "stop", 0);
    char *n = NULL;
    for (long long end = dm_e2e_now_ms() + 20000; dm_e2e_now_ms() <= end;) {
        free(n);
        n = dm_test_db_scalarf(db_url, "SELECT count(*) FROM jobs WHERE kind = 'instance.stop' "
                               "AND payload->>'instanceId' = '%s' AND payload->>'deferred' = '1'", inst);
        if (strcmp(n, "0") != 0)
            break;
        dm_e2e_nap_ms(100);
    }
    ck_assert_msg(strcmp(n, "1") == 0, "the stop was not queued again while RESTARTING (%s)", n);
    free(n);
    /* The move ends; the deferred stop then does its work. */
    DM_EXPECT_SQL(db_url, "1", "WITH u AS (UPDATE instances SET status = 'RUNNING' WHERE id = '%s' "
                  "RETURNING 1) SELECT count(*) FROM u", inst);
    dm_e2e_instances_wait_sql(inst, "STOPPED");
    dm_e2e_expect_container(inst, "exited");
    free(tok);
}
END_TEST

/* A container of the static-site image labelled as Dermaga labels its
 * workloads, for instance id of installation owner. */
static void labelled_container(const char *id, const char *owner)
{
    json_t *body = json_pack("{s:s,s:{s:s,s:s,s:s}}", "Image", DM_DOCKER_TEST_STATIC_SITE_IMAGE, "Labels",
                             "dermaga.instance", id, "dermaga.managed", "true", "dermaga.owner", owner);
    dm_docker_resp r = { 0 };
    ck_assert_int_eq(dm_docker_requestf(&dm_e2e_engine, "POST", body, 15000, &r, API "/containers/create?name=dm-%s",
                                        id), 0);
    ck_assert_msg(r.status == 201, "create dm-%s: %ld %s", id, r.status, r.body);
    dm_docker_resp_free(&r);
    json_decref(body);
    dm_e2e_instances_remember(id);
}

START_TEST(orphans_are_removed_and_strangers_kept)
{
    char *owner = dm_test_db_scalarf(db_url, "SELECT id FROM installation");
    char *orphan = dm_test_db_scalarf(db_url, "SELECT gen_random_uuid()");
    char *stranger = dm_test_db_scalarf(db_url, "SELECT gen_random_uuid()");
    char *other_owner = dm_test_db_scalarf(db_url, "SELECT gen_random_uuid()");
    labelled_container(orphan, owner);
    labelled_container(stranger, other_owner);
    /* And a TERMINATED instance whose container is still there. */
    char sub[37], inst[37];
    char *tok = dm_e2e_instances_subscribe("orphan@example.id", sub, inst);
    json_decref(dm_e2e_instances_wait(tok, inst, "RUNNING"));
    DM_EXPECT_SQL(db_url, "1", "WITH u AS (UPDATE instances SET status = 'TERMINATED' WHERE id = '%s' RETURNING 1) "
                  "SELECT count(*) FROM u", inst);

    for (long long end = dm_e2e_now_ms() + 30000; dm_e2e_now_ms() <= end;) {
        char *a = dm_e2e_container_state(orphan), *b = dm_e2e_container_state(inst);
        bool gone = strcmp(a, "absent") == 0 && strcmp(b, "absent") == 0;
        free(a);
        free(b);
        if (gone)
            break;
        dm_e2e_nap_ms(100);
    }
    dm_e2e_expect_container(orphan, "absent");
    dm_e2e_expect_container(inst, "absent");
    wait_reconciles(2);
    dm_e2e_expect_container(stranger, "created");
    free(owner);
    free(orphan);
    free(stranger);
    free(other_owner);
    free(tok);
}
END_TEST

START_TEST(lost_work_ends_in_error_or_is_queued_again)
{
    char sub1[37], inst1[37], sub2[37], inst2[37];
    char *t1 = dm_e2e_instances_subscribe("lost1@example.id", sub1, inst1);
    char *t2 = dm_e2e_instances_subscribe("lost2@example.id", sub2, inst2);
    json_decref(dm_e2e_instances_wait(t1, inst1, "RUNNING"));
    json_decref(dm_e2e_instances_wait(t2, inst2, "RUNNING"));
    /* Moves whose jobs are gone: nothing would ever finish them. */
    DM_EXPECT_SQL(db_url, "2",
                  "WITH u AS (UPDATE instances SET status = CASE WHEN id = '%s' THEN 'STARTING' ELSE 'TERMINATING' END, "
                  "  updated_at = now() - interval '1 minute' WHERE id IN ('%s', '%s') RETURNING 1) "
                  "SELECT count(*) FROM u",
                  inst1, inst1, inst2);
    wait_event(inst1, "ERROR", "reconciler: the work of STARTING was lost");
    dm_e2e_instances_wait_sql(inst2, "TERMINATED");
    dm_e2e_expect_container(inst2, "absent");
    DM_EXPECT_SQL(db_url, "1", "SELECT count(*) FROM jobs WHERE kind = 'instance.terminate' "
                  "AND payload->>'instanceId' = '%s' AND starts_with(payload->>'reason', 'reconciler:')", inst2);
    free(t1);
    free(t2);
}
END_TEST

/* A subscription that ended while its instance was ERROR (its terminate
 * failed for good): the workload is still there, and must go. */
START_TEST(error_instance_of_an_ended_subscription_is_terminated)
{
    char sub[37], inst[37];
    char *tok = dm_e2e_instances_subscribe("ended@example.id", sub, inst);
    json_decref(dm_e2e_instances_wait(tok, inst, "RUNNING"));
    DM_EXPECT_SQL(db_url, "1",
                  "WITH s AS (UPDATE subscriptions SET status = 'CANCELLED', ended_at = now(), "
                  "  end_reason = 'test' WHERE id = '%s' RETURNING plan_id), "
                  "p AS (UPDATE plans SET used_quota = used_quota - 1 WHERE id IN (SELECT plan_id FROM s) "
                  "  RETURNING 1), "
                  "i AS (UPDATE instances SET status = 'ERROR' WHERE subscription_id = '%s' RETURNING 1) "
                  "SELECT count(*) FROM p, i",
                  sub, sub);
    wait_event(inst, "TERMINATING", "reconciler: the subscription has ended");
    dm_e2e_instances_wait_sql(inst, "TERMINATED");
    dm_e2e_expect_container(inst, "absent");
    free(tok);
}
END_TEST

/* ---- retry-provision after a forced failure ---------------------------- */

static char flaky_image[96];

static void setup_flaky(void)
{
    /* An image that does not exist yet: every provision fails. */
    snprintf(flaky_image, sizeof flaky_image, "localhost/dermaga/flaky:t%ld", (long)getpid());
    dm_e2e_instances_opts o = { .with_service = true, .site_image = flaky_image,
                                .extra = json_pack("{s:{s:i}}", "instances", "reconcileEveryS", 1) };
    dm_e2e_instances_start(&o);
}

static void teardown_flaky(void)
{
    dm_docker_resp r = { 0 };
    dm_docker_requestf(&dm_e2e_engine, "DELETE", NULL, 15000, &r, API "/images/%s", flaky_image);
    dm_docker_resp_free(&r);
    dm_e2e_instances_stop();
}

START_TEST(retry_provision_recovers_from_a_forced_failure)
{
    char sub[37], inst[37], path[256];
    char *tok = dm_e2e_instances_subscribe("flaky@example.id", sub, inst);
    dm_e2e_instances_wait_sql(inst, "ERROR");
    char *msg = dm_test_db_scalarf(db_url, "SELECT message FROM instances WHERE id = '%s'", inst);
    ck_assert_msg(strstr(msg, "flaky") != NULL, "the error names the image: %s", msg);
    free(msg);

    /* Fix the cause: the image now exists. */
    const char *colon = strrchr(flaky_image, ':');
    snprintf(path, sizeof path, API "/images/%s/tag?repo=%.*s&tag=%s", DM_DOCKER_TEST_STATIC_SITE_IMAGE,
             (int)(colon - flaky_image), flaky_image, colon + 1);
    engine_call("POST", 201, path);

    snprintf(path, sizeof path, "/api/subscriptions/%s/retry-provision", sub);
    dm_e2e_instances_op("POST", tok, path, NULL, 202);
    json_t *d = dm_e2e_instances_wait(tok, inst, "RUNNING");
    dm_e2e_expect_page(d);
    json_decref(d);
    /* RUNNING forbids another retry. */
    dm_e2e_response res;
    dm_e2e_auth_call("POST", path, tok, NULL, &res);
    dm_e2e_assert_error(&res, 409, "retry-provision while RUNNING");
    dm_e2e_response_free(&res);
    free(tok);
}
END_TEST

/* ---- kill -9 mid-provision ------------------------------------------- */

static long provisioning_now(void)
{
    return sql_long("SELECT count(*) FROM instances WHERE status = 'PROVISIONING'");
}

START_TEST(kill_9_mid_provision_then_restart_converges)
{
    enum { N = 3 };
    char subs[N][37], insts[N][37];
    char *toks[N] = { 0 };
    bool killed = false;
    for (int i = 0; i < N && !killed; i++) {
        char email[64];
        snprintf(email, sizeof email, "crash%d@example.id", i);
        toks[i] = dm_e2e_instances_subscribe(email, subs[i], insts[i]);
        for (long long end = dm_e2e_now_ms() + 3000; dm_e2e_now_ms() <= end && !killed;) {
            if (provisioning_now() > 0) {
                dm_e2e_server_stop(&dm_e2e_auth_srv, SIGKILL, 5000);
                killed = true;
            }
        }
    }
    ck_assert_msg(killed, "no instance was ever seen PROVISIONING");
    long caught = provisioning_now();
    ck_assert_msg(caught >= 1, "killed with %ld instances PROVISIONING", caught);

    long long t0 = dm_e2e_now_ms();
    dm_e2e_instances_restart(SIGKILL);
    long unsettled = -1;
    while (dm_e2e_now_ms() - t0 <= CONVERGE_MS) {
        unsettled = sql_long("SELECT count(*) FROM instances WHERE status NOT IN ('RUNNING', 'ERROR')");
        if (unsettled == 0)
            break;
        dm_e2e_nap_ms(200);
    }
    long long took = dm_e2e_now_ms() - t0;
    ck_assert_msg(unsettled == 0, "%ld instances neither RUNNING nor ERROR %lld ms after the restart", unsettled,
                  took);
    fprintf(stderr, "test_reconciler: converged %lld ms after the restart (%ld were PROVISIONING)\n", took, caught);

    /* No orphan: every container of this installation is a live instance's. */
    char *owner = dm_test_db_scalarf(db_url, "SELECT id FROM installation");
    char label[96];
    snprintf(label, sizeof label, "dermaga.owner=%s", owner);
    dm_docker_resp r = { 0 };
    ck_assert_msg(dm_docker_list_labelled(&dm_e2e_engine, label, &r) == 0, "list: %ld %s", r.status, r.body);
    size_t i;
    json_t *c;
    json_array_foreach(r.json, i, c) {
        const char *id = json_string_value(json_object_get(json_object_get(c, "Labels"), "dermaga.instance"));
        ck_assert_msg(id != NULL, "a container without an instance label");
        DM_EXPECT_SQL(db_url, "1", "SELECT count(*) FROM instances WHERE id = '%s' AND status IN ('RUNNING', 'ERROR')",
                      id);
    }
    long running = sql_long("SELECT count(*) FROM instances WHERE status = 'RUNNING'");
    ck_assert_msg((long)json_array_size(r.json) >= running, "%zu containers for %ld RUNNING instances",
                  json_array_size(r.json), running);
    dm_docker_resp_free(&r);
    free(owner);
    for (int k = 0; k < N; k++)
        free(toks[k]);
}
END_TEST

START_TEST(no_engine_configured)
{
    dm_docker_test_engine_off("test_reconciler");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("reconciler");
    TCase *tc = tcase_create("engine");
    if (dm_docker_test_host() == NULL) {
        tcase_add_test(tc, no_engine_configured);
        suite_add_tcase(s, tc);
        return s;
    }
    tcase_add_unchecked_fixture(tc, engine_setup, engine_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, killed_container_is_noticed_and_redeployed);
    tcase_add_test(tc, clean_exit_is_stopped_not_redeployed);
    tcase_add_test(tc, restart_budget_spent_leaves_error);
    tcase_add_test(tc, suspended_subscription_is_not_redeployed);
    tcase_add_test(tc, system_stop_waits_for_a_move_in_progress);
    tcase_add_test(tc, orphans_are_removed_and_strangers_kept);
    tcase_add_test(tc, lost_work_ends_in_error_or_is_queued_again);
    tcase_add_test(tc, error_instance_of_an_ended_subscription_is_terminated);
    tcase_add_test(tc, kill_9_mid_provision_then_restart_converges);
    suite_add_tcase(s, tc);
    TCase *flaky = tcase_create("flaky");
    tcase_add_unchecked_fixture(flaky, engine_setup, engine_teardown);
    tcase_add_checked_fixture(flaky, setup_flaky, teardown_flaky);
    tcase_set_timeout(flaky, 120);
    tcase_add_test(flaky, retry_provision_recovers_from_a_forced_failure);
    suite_add_tcase(s, flaky);
    return s;
}

DM_TEST_MAIN(make_suite)
