/*
 * e2e_workload.c — exec in an instance's container and instance rows made
 * by SQL, for the end-to-end suites (e2e_workload.h).
 */
#include "e2e_workload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"
#include "e2e_auth.h"
#include "e2e_instances.h"
#include "testdb.h"

#define API "/" DM_DOCKER_API

/* Start `sh -c script` detached in inst_id's container; its exec id into
 * exec_id. */
static void exec_start(const char *inst_id, const char *script, char exec_id[128])
{
    json_t *body = json_pack("{s:[s,s,s], s:b, s:b}", "Cmd", "sh", "-c", script, "AttachStdout", 0,
                             "AttachStderr", 0);
    ck_assert_msg(body != NULL, "out of memory");
    dm_docker_resp r = { 0 };
    int rc = dm_docker_requestf(&dm_e2e_engine, "POST", body, 10000, &r, API "/containers/dm-%s/exec", inst_id);
    json_decref(body);
    ck_assert_msg(rc == 0, "exec create: %s", r.error);
    ck_assert_msg(r.status == 201, "exec create: %ld %s", r.status, r.body);
    const char *id = json_string_value(json_object_get(r.json, "Id"));
    snprintf(exec_id, 128, "%s", id != NULL ? id : "");
    ck_assert_msg(exec_id[0] != '\0', "exec create: no Id in %s", r.body);
    /* Detached: the engine answers once the command runs, so a test can
     * tell "before" from "after" by when this returns. */
    body = json_pack("{s:b}", "Detach", 1);
    ck_assert_msg(body != NULL, "out of memory");
    rc = dm_docker_requestf(&dm_e2e_engine, "POST", body, 10000, &r, API "/exec/%s/start", exec_id);
    json_decref(body);
    ck_assert_msg(rc == 0, "exec start: %s", r.error);
    ck_assert_msg(r.status == 200 || r.status == 204, "exec start: %ld %s", r.status, r.body);
    dm_docker_resp_free(&r);
}

void dm_e2e_exec_in_container(const char *inst_id, const char *script)
{
    char exec_id[128];
    exec_start(inst_id, script, exec_id);
}

void dm_e2e_exec_wait(const char *inst_id, const char *script, int timeout_ms, void (*meanwhile)(void *), void *arg)
{
    char exec_id[128];
    exec_start(inst_id, script, exec_id);
    bool running = true;
    for (long long end = dm_e2e_now_ms() + timeout_ms; running && dm_e2e_now_ms() < end;) {
        if (meanwhile != NULL)
            meanwhile(arg);
        dm_docker_resp r = { 0 };
        int rc = dm_docker_requestf(&dm_e2e_engine, "GET", NULL, 10000, &r, API "/exec/%s/json", exec_id);
        ck_assert_msg(rc == 0 && r.status == 200, "exec inspect: %ld %s", r.status, rc == 0 ? r.body : r.error);
        running = json_is_true(json_object_get(r.json, "Running"));
        dm_docker_resp_free(&r);
        if (running)
            dm_e2e_nap_ms(100);
    }
    ck_assert_msg(!running, "`%s` still runs after %d ms", script, timeout_ms);
}

char *dm_e2e_sql_instance(const char *email, const char *status, const char *public_url, char sub_id[37],
                          char inst_id[37])
{
    char uid[37];
    char *tok = dm_e2e_auth_register(email, uid);
    char *plan = dm_e2e_instances_site_plan();
    /* The slot is counted, as subscribing would, so the quota invariant
     * the fixtures check at teardown holds. */
    DM_EXPECT_SQL(dm_e2e_auth_db_url, "1",
                  "WITH u AS (UPDATE plans SET used_quota = used_quota + 1 WHERE id = '%s' RETURNING 1) "
                  "SELECT count(*) FROM u",
                  plan);
    char *s = dm_test_db_scalarf(dm_e2e_auth_db_url,
                                 "INSERT INTO subscriptions (user_id, plan_id, service_id, status, price, "
                                 "  billing_period_days, start_date, current_period_start, current_period_end) "
                                 "SELECT '%s', id, service_id, 'ACTIVE', price, 30, now(), now(), "
                                 "  now() + interval '30 days' FROM plans WHERE id = '%s' RETURNING id",
                                 uid, plan);
    free(plan);
    ck_assert_msg(strlen(s) == 36, "subscription: \"%s\"", s);
    snprintf(sub_id, 37, "%s", s);
    free(s);
    char *i = dm_test_db_scalarf(dm_e2e_auth_db_url,
                                 "INSERT INTO instances (subscription_id, user_id, status, urls) "
                                 "VALUES ('%s', '%s', '%s', jsonb_build_object('public', '%s'::text)) RETURNING id",
                                 sub_id, uid, status, public_url);
    ck_assert_msg(strlen(i) == 36, "instance: \"%s\"", i);
    snprintf(inst_id, 37, "%s", i);
    free(i);
    return tok;
}
