/*
 * test_runtime_k8s_timeout.c — the real `dermaga` binary with
 * runtime-kubernetes against a fake Kubernetes API server that stays too
 * slow (tests/fakes/k8s, /fake/delay; e2e_k8s.h): the provision's every
 * attempt times out, and once the job's attempts are spent the instance is
 * ERROR with an event saying the API server did not answer in time (and
 * each retried attempt left a "retry" event saying why as it happened);
 * retry-provision converges once it answers. Apart from
 * test_runtime_k8s_e2e.c because it waits out the job's retries (~45 s).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"
#include "e2e_instances.h"
#include "e2e_k8s.h"
#include "testdb.h"

#define db_url dm_e2e_auth_db_url

static void suite_setup(void) { dm_e2e_instances_setup("k8stimeout"); }
static void suite_teardown(void) { dm_e2e_instances_teardown(); }
static void setup(void) { dm_e2e_k8s_start_for_errors(); }
static void teardown(void) { dm_e2e_k8s_stop(); }

/* The API server never answers in time: every attempt times out, and
 * when the job's attempts are spent (5, with backoff: about 40 s) the
 * instance is ERROR saying the API server did not answer in time. The
 * Deployment the late answers made is still there for the reconciler or
 * a retry, which converges on it. */
START_TEST(a_timeout_that_lasts_ends_in_error_saying_so)
{
    dm_e2e_k8s_send("PUT", "/fake/delay", "{\"ms\":1500,\"rules\":[\"patch:deployments\"]}", 200);
    char sub[37], inst[37];
    char *tok = dm_e2e_instances_subscribe("timeout@example.id", sub, inst);
    for (long long end = dm_e2e_now_ms() + 90000; dm_e2e_now_ms() <= end; dm_e2e_nap_ms(250)) {
        char *st = dm_test_db_scalarf(db_url, "SELECT status FROM instances WHERE id = '%s'", inst);
        bool done = strcmp(st, "PROVISIONING") != 0;
        free(st);
        if (done)
            break;
    }
    const char *const said[] = { "runtime-kubernetes: API server", "did not answer in time", NULL };
    dm_e2e_k8s_expect_error(tok, inst, said);
    DM_EXPECT_SQL(db_url, "5", "SELECT attempts FROM jobs WHERE kind = 'instance.provision' "
                               "AND payload->>'instanceId' = '%s'", inst);
    /* Each retried attempt said so on the instance as it happened. */
    DM_EXPECT_SQL(db_url, "4", "SELECT count(*) FROM instance_events WHERE instance_id = '%s' "
                               "AND operation = 'retry' AND from_status = 'PROVISIONING' "
                               "AND reason LIKE 'instance.provision attempt _ of 5 failed, retrying: "
                               "%%did not answer in time%%'", inst);

    dm_e2e_k8s_send("PUT", "/fake/delay", "{\"ms\":0}", 200);
    dm_e2e_k8s_retry_provision(tok, sub);
    json_decref(dm_e2e_instances_wait(tok, inst, "RUNNING"));
    dm_e2e_k8s_expect_one_of_each(inst);
    free(tok);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("runtime_k8s_timeout");
    TCase *tc = tcase_create("timeout");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 150);
    tcase_add_test(tc, a_timeout_that_lasts_ends_in_error_saying_so);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
