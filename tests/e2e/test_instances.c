/*
 * test_instances.c — /api/instances and the runtime operations under
 * /api/subscriptions/:id through the real binary: the list, detail and
 * events shapes; every operation's 202 with its job and event rows; every
 * transition the table forbids as 409 INVALID_STATE with nothing written;
 * a subscription that is not ACTIVE; another user's ids as 404; no token
 * as 401. No runtime runs here, so tests put the instance in the status
 * they need with SQL. After every test the ledger and quota invariants hold.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"
#include "e2e.h"
#include "e2e_auth.h"
#include "testdb.h"

#define db_url dm_e2e_auth_db_url
#define call dm_e2e_auth_call
#define ok_data dm_e2e_auth_ok_data
#define expect_error dm_e2e_auth_expect_error

#define ADMIN_EMAIL "root@example.id"
#define ADMIN_PASS "admin-pass-123"

static void sweep_setup(void) { dm_e2e_auth_sweep_setup("inste2e"); }
static void sweep_teardown(void) { dm_e2e_auth_sweep_teardown(); }

static void setup(void)
{
    dm_e2e_auth_setup_with(
        json_pack("{s:{s:s,s:s}}", "auth", "adminEmail", ADMIN_EMAIL, "adminPassword", ADMIN_PASS));
}

static void teardown(void)
{
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM ledger_violations()");
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM quota_violations()");
    dm_e2e_auth_teardown();
}

/* ---- fixtures ---------------------------------------------------------- */

static const char *const all_statuses[10] = {
    "PENDING", "PROVISIONING", "RUNNING", "STOPPING", "STOPPED",
    "STARTING", "RESTARTING", "ERROR", "TERMINATING", "TERMINATED",
};

/* A user with a subscription to a fresh plan (one per test database): its token (caller frees),
 * the subscription and instance ids. */
static char *subscribed(const char *email, char uid[37], char sub_id[37], char inst_id[37])
{
    char *v = dm_test_db_scalarf(db_url,
                                 "WITH c AS (INSERT INTO categories (slug, name) VALUES ('cat-web', 'Cat') "
                                 "  RETURNING id), "
                                 "s AS (INSERT INTO services (category_id, slug, name, service_type, template) "
                                 "  SELECT id, 'web', 'Svc', 'web', 'web' FROM c RETURNING id) "
                                 "INSERT INTO plans (service_id, slug, name, price, billing_period_days, "
                                 "  cpu_millicores, memory_mb, total_quota) SELECT id, 'basic', 'Plan', 10000, 30, "
                                 "  250, 256, 5 FROM s RETURNING id");
    ck_assert_msg(strlen(v) == 36, "plan: %s", v);
    char *tok = dm_e2e_auth_register(email, uid);
    /* Credits through the administrators' route, so the ledger records them. */
    char *admin = dm_e2e_auth_login(ADMIN_EMAIL, ADMIN_PASS);
    char path[128], body[96];
    snprintf(path, sizeof path, "/api/admin/users/%s/credits", uid);
    dm_e2e_response res;
    call("POST", path, admin, "{\"amount\":50000,\"reason\":\"test credit\"}", &res);
    json_decref(ok_data(&res, 201, "admin credit"));
    dm_e2e_response_free(&res);
    free(admin);
    snprintf(body, sizeof body, "{\"planId\":\"%s\"}", v);
    free(v);
    call("POST", "/api/subscriptions", tok, body, &res);
    json_t *s = ok_data(&res, 201, "subscribe");
    dm_e2e_response_free(&res);
    snprintf(sub_id, 37, "%s", dm_e2e_jstr(s, "id"));
    snprintf(inst_id, 37, "%s", dm_e2e_jstr(s, "instance.id"));
    json_decref(s);
    return tok;
}

static void set_status(const char *inst_id, const char *status)
{
    DM_EXPECT_SQL(db_url, status, "UPDATE instances SET status = '%s' WHERE id = '%s' RETURNING status", status,
                  inst_id);
}

static long long num(char *v)
{
    long long n = strtoll(v, NULL, 10);
    free(v);
    return n;
}

static long long jobs_of(const char *inst_id, const char *kind)
{
    return num(dm_test_db_scalarf(db_url,
                                  "SELECT count(*) FROM jobs WHERE payload->>'instanceId' = '%s' "
                                  "AND kind = 'instance.%s'",
                                  inst_id, kind));
}

static long long events_of(const char *inst_id)
{
    return num(dm_test_db_scalarf(db_url, "SELECT count(*) FROM instance_events WHERE instance_id = '%s'",
                                  inst_id));
}

static long long all_jobs(const char *inst_id)
{
    return num(dm_test_db_scalarf(db_url, "SELECT count(*) FROM jobs WHERE payload->>'instanceId' = '%s'",
                                  inst_id));
}

/* One operation route: which op, whether by instance or subscription. */
typedef struct op_route {
    const char *op, *job;
    bool by_instance;
    const char *method, *to;
    const char *allowed[3]; /* the statuses the table allows it from */
} op_route;

static const op_route op_routes[] = {
    { "restart", "restart", true, "PUT", "RESTARTING", { "RUNNING", "ERROR", NULL } },
    { "stop", "stop", true, "PUT", "STOPPING", { "RUNNING", "ERROR", NULL } },
    { "start", "start", true, "PUT", "STARTING", { "STOPPED", NULL, NULL } },
    { "restart", "restart", false, "POST", "RESTARTING", { "RUNNING", "ERROR", NULL } },
    { "stop", "stop", false, "POST", "STOPPING", { "RUNNING", "ERROR", NULL } },
    { "start", "start", false, "POST", "STARTING", { "STOPPED", NULL, NULL } },
    { "retry-provision", "provision", false, "POST", "PENDING", { "ERROR", "TERMINATED", NULL } },
};
#define N_OPS (sizeof op_routes / sizeof op_routes[0])

static void op_path(const op_route *o, const char *sub_id, const char *inst_id, char *path, size_t n)
{
    snprintf(path, n, "/api/%s/%s/%s", o->by_instance ? "instances" : "subscriptions",
             o->by_instance ? inst_id : sub_id, o->op);
}

static bool allows(const op_route *o, const char *status)
{
    for (int i = 0; i < 3 && o->allowed[i] != NULL; i++)
        if (strcmp(o->allowed[i], status) == 0)
            return true;
    return false;
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(list_detail_and_events_shapes)
{
    char uid[37], sub[37], inst[37], path[160];
    char *tok = subscribed("shape@example.id", uid, sub, inst);
    dm_e2e_response res;
    call("GET", "/api/instances", tok, NULL, &res);
    json_t *l = ok_data(&res, 200, "list");
    ck_assert_msg(json_array_size(l) == 1 && strstr(res.body, "\"total\":1") != NULL, "list: %s", res.body);
    ck_assert_str_eq(dm_e2e_jstr(l, "0.id"), inst);
    ck_assert_msg(dm_e2e_header(&res, "X-Request-Id") != NULL, "X-Request-Id");
    json_decref(l);
    dm_e2e_response_free(&res);
    snprintf(path, sizeof path, "/api/instances/%s", inst);
    call("GET", path, tok, NULL, &res);
    json_t *d = ok_data(&res, 200, "detail");
    ck_assert_str_eq(dm_e2e_jstr(d, "id"), inst);
    ck_assert_str_eq(dm_e2e_jstr(d, "subscriptionId"), sub);
    ck_assert_str_eq(dm_e2e_jstr(d, "status"), "PENDING");
    ck_assert_str_eq(dm_e2e_jstr(d, "healthStatus"), "UNKNOWN");
    ck_assert_msg(json_is_object(dm_e2e_jpath(d, "urls")), "urls: %s", res.body);
    static const char *const keys[] = { "runtime", "unitName", "lastHealthCheck", "createdAt", "updatedAt" };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        ck_assert_msg(json_object_get(d, keys[i]) != NULL, "detail has %s: %s", keys[i], res.body);
    ck_assert_msg(json_is_string(json_object_get(d, "createdAt")), "createdAt: %s", res.body);
    json_decref(d);
    dm_e2e_response_free(&res);
    /* Two operations: the history lists them newest first. */
    set_status(inst, "RUNNING");
    snprintf(path, sizeof path, "/api/instances/%s/stop", inst);
    call("PUT", path, tok, NULL, &res);
    json_decref(ok_data(&res, 202, "stop"));
    dm_e2e_response_free(&res);
    set_status(inst, "STOPPED");
    snprintf(path, sizeof path, "/api/instances/%s/start", inst);
    call("PUT", path, tok, NULL, &res);
    json_decref(ok_data(&res, 202, "start"));
    dm_e2e_response_free(&res);
    snprintf(path, sizeof path, "/api/instances/%s/events", inst);
    call("GET", path, tok, NULL, &res);
    json_t *ev = ok_data(&res, 200, "events");
    ck_assert_msg(json_array_size(ev) == 2 && strstr(res.body, "\"total\":2") != NULL, "events: %s", res.body);
    ck_assert_str_eq(dm_e2e_jstr(ev, "0.operation"), "start");
    ck_assert_str_eq(dm_e2e_jstr(ev, "0.fromStatus"), "STOPPED");
    ck_assert_str_eq(dm_e2e_jstr(ev, "0.toStatus"), "STARTING");
    ck_assert_str_eq(dm_e2e_jstr(ev, "0.actor"), uid);
    ck_assert_str_eq(dm_e2e_jstr(ev, "1.operation"), "stop");
    ck_assert_str_eq(dm_e2e_jstr(ev, "1.fromStatus"), "RUNNING");
    ck_assert_str_eq(dm_e2e_jstr(ev, "1.toStatus"), "STOPPING");
    ck_assert_msg(json_is_string(dm_e2e_jpath(ev, "0.createdAt")), "createdAt: %s", res.body);
    json_decref(ev);
    dm_e2e_response_free(&res);
    /* Paging: one per page, the newest first. */
    snprintf(path, sizeof path, "/api/instances/%s/events?page=2&limit=1", inst);
    call("GET", path, tok, NULL, &res);
    ev = ok_data(&res, 200, "events page 2");
    ck_assert_msg(json_array_size(ev) == 1 && strstr(res.body, "\"total\":2") != NULL, "page 2: %s", res.body);
    ck_assert_str_eq(dm_e2e_jstr(ev, "0.operation"), "stop");
    json_decref(ev);
    dm_e2e_response_free(&res);
    free(tok);
}
END_TEST

START_TEST(every_operation_answers_202_with_job_and_event)
{
    char uid[37], sub[37], inst[37], path[160];
    char *tok = subscribed("ops@example.id", uid, sub, inst);
    for (size_t i = 0; i < N_OPS; i++) {
        const op_route *o = &op_routes[i];
        for (int a = 0; a < 3 && o->allowed[a] != NULL; a++) {
            set_status(inst, o->allowed[a]);
            long long jobs = jobs_of(inst, o->job), evs = events_of(inst);
            op_path(o, sub, inst, path, sizeof path);
            dm_e2e_response res;
            call(o->method, path, tok, NULL, &res);
            json_t *d = ok_data(&res, 202, path);
            ck_assert_msg(strcmp(dm_e2e_jstr(d, "status"), o->to) == 0 && strcmp(dm_e2e_jstr(d, "id"), inst) == 0,
                          "%s from %s: %s", path, o->allowed[a], res.body);
            ck_assert_msg(dm_e2e_header(&res, "X-Request-Id") != NULL, "X-Request-Id");
            json_decref(d);
            dm_e2e_response_free(&res);
            DM_EXPECT_SQL(db_url, o->to, "SELECT status FROM instances WHERE id = '%s'", inst);
            ck_assert_msg(jobs_of(inst, o->job) == jobs + 1, "%s from %s: one instance.%s job queued", path,
                          o->allowed[a], o->job);
            ck_assert_msg(events_of(inst) == evs + 1, "%s from %s: one event", path, o->allowed[a]);
            DM_EXPECT_SQL(db_url, "t",
                          "SELECT from_status = '%s' AND to_status = '%s' AND operation = '%s' AND actor = '%s' "
                          "FROM instance_events WHERE instance_id = '%s' ORDER BY id DESC LIMIT 1",
                          o->allowed[a], o->to, o->op, uid, inst);
            DM_EXPECT_SQL(db_url, sub,
                          "SELECT payload->>'subscriptionId' FROM jobs WHERE kind = 'instance.%s' AND "
                          "payload->>'instanceId' = '%s' ORDER BY created_at DESC LIMIT 1",
                          o->job, inst);
        }
    }
    free(tok);
}
END_TEST

START_TEST(forbidden_transitions_are_409_and_write_nothing)
{
    char uid[37], sub[37], inst[37], path[160];
    char *tok = subscribed("forbid@example.id", uid, sub, inst);
    int refused = 0;
    for (size_t i = 0; i < N_OPS; i++) {
        const op_route *o = &op_routes[i];
        for (int s = 0; s < 10; s++) {
            if (allows(o, all_statuses[s]))
                continue;
            set_status(inst, all_statuses[s]);
            long long jobs = all_jobs(inst), evs = events_of(inst);
            op_path(o, sub, inst, path, sizeof path);
            dm_e2e_response res;
            call(o->method, path, tok, NULL, &res);
            expect_error(&res, 409, "INVALID_STATE", path);
            ck_assert_msg(strstr(res.body, all_statuses[s]) != NULL, "%s: the message names %s: %s", path,
                          all_statuses[s], res.body);
            dm_e2e_response_free(&res);
            DM_EXPECT_SQL(db_url, all_statuses[s], "SELECT status FROM instances WHERE id = '%s'", inst);
            ck_assert_msg(all_jobs(inst) == jobs, "%s from %s: no job", path, all_statuses[s]);
            ck_assert_msg(events_of(inst) == evs, "%s from %s: no event", path, all_statuses[s]);
            refused++;
        }
    }
    /* 7 routes × 10 statuses, less the 12 pairs the table allows. */
    ck_assert_msg(refused == 58, "refused %d pairs, want 58", refused);
    free(tok);
}
END_TEST

START_TEST(only_an_active_subscription_is_operated)
{
    char uid[37], sub[37], inst[37], path[160];
    char *tok = subscribed("ended@example.id", uid, sub, inst);
    snprintf(path, sizeof path, "/api/subscriptions/%s/cancel", sub);
    dm_e2e_response res;
    call("PUT", path, tok, NULL, &res);
    json_decref(ok_data(&res, 200, "cancel"));
    dm_e2e_response_free(&res);
    for (size_t i = 0; i < N_OPS; i++) {
        const op_route *o = &op_routes[i];
        set_status(inst, o->allowed[0]); /* a status the table allows */
        long long jobs = all_jobs(inst), evs = events_of(inst);
        op_path(o, sub, inst, path, sizeof path);
        call(o->method, path, tok, NULL, &res);
        expect_error(&res, 409, "INVALID_STATE", path);
        ck_assert_msg(strstr(res.body, "CANCELLED") != NULL, "%s: names the subscription's status: %s", path,
                      res.body);
        dm_e2e_response_free(&res);
        DM_EXPECT_SQL(db_url, o->allowed[0], "SELECT status FROM instances WHERE id = '%s'", inst);
        ck_assert_msg(all_jobs(inst) == jobs && events_of(inst) == evs, "%s: nothing written", path);
    }
    free(tok);
}
END_TEST

START_TEST(another_users_ids_are_404_and_no_token_401)
{
    char uid[37], sub[37], inst[37], eve_id[37], path[200];
    char *tok = subscribed("own@example.id", uid, sub, inst);
    char *eve = dm_e2e_auth_register("eve@example.id", eve_id);
    set_status(inst, "RUNNING");
    dm_e2e_response res;
    const char *gets[] = { "", "/events" };
    for (size_t g = 0; g < 2; g++) {
        snprintf(path, sizeof path, "/api/instances/%s%s", inst, gets[g]);
        call("GET", path, eve, NULL, &res);
        expect_error(&res, 404, "NOT_FOUND", path);
        dm_e2e_response_free(&res);
        call("GET", path, NULL, NULL, &res);
        expect_error(&res, 401, "UNAUTHORIZED", path);
        dm_e2e_response_free(&res);
        snprintf(path, sizeof path, "/api/instances/nope%s", gets[g]);
        call("GET", path, tok, NULL, &res);
        expect_error(&res, 404, "NOT_FOUND", path);
        dm_e2e_response_free(&res);
    }
    for (size_t i = 0; i < N_OPS; i++) {
        op_path(&op_routes[i], sub, inst, path, sizeof path);
        call(op_routes[i].method, path, eve, NULL, &res);
        expect_error(&res, 404, "NOT_FOUND", path);
        dm_e2e_response_free(&res);
        call(op_routes[i].method, path, NULL, NULL, &res);
        expect_error(&res, 401, "UNAUTHORIZED", path);
        dm_e2e_response_free(&res);
        op_path(&op_routes[i], "6f1c2a7e-3b0d-4c8e-9a51-2d4e6f8a0b1c", "nope", path, sizeof path);
        call(op_routes[i].method, path, tok, NULL, &res);
        expect_error(&res, 404, "NOT_FOUND", path);
        dm_e2e_response_free(&res);
    }
    call("GET", "/api/instances", NULL, NULL, &res);
    expect_error(&res, 401, "UNAUTHORIZED", "list");
    dm_e2e_response_free(&res);
    call("GET", "/api/instances", eve, NULL, &res);
    ck_assert_msg(res.status == 200 && strstr(res.body, "\"total\":0") != NULL, "eve sees none: %s", res.body);
    dm_e2e_response_free(&res);
    DM_EXPECT_SQL(db_url, "RUNNING", "SELECT status FROM instances WHERE id = '%s'", inst);
    ck_assert_msg(events_of(inst) == 0, "no event written");
    /* An administrator reaches it by id, and is recorded as the actor. */
    char *admin = dm_e2e_auth_login(ADMIN_EMAIL, ADMIN_PASS);
    snprintf(path, sizeof path, "/api/instances/%s", inst);
    call("GET", path, admin, NULL, &res);
    json_decref(ok_data(&res, 200, "admin detail"));
    dm_e2e_response_free(&res);
    call("GET", "/api/instances", admin, NULL, &res);
    ck_assert_msg(res.status == 200 && strstr(res.body, "\"total\":0") != NULL, "the list is the caller's own: %s",
                  res.body);
    dm_e2e_response_free(&res);
    snprintf(path, sizeof path, "/api/subscriptions/%s/restart", sub);
    call("POST", path, admin, NULL, &res);
    json_decref(ok_data(&res, 202, "admin restart"));
    dm_e2e_response_free(&res);
    DM_EXPECT_SQL(db_url, "1", "SELECT count(*) FROM instance_events e JOIN users u ON u.id::text = e.actor "
                               "WHERE u.role = 'ADMINISTRATOR' AND e.instance_id = '%s'", inst);
    free(admin);
    free(eve);
    free(tok);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("instances_e2e");
    TCase *tc = tcase_create("instances");
    tcase_add_unchecked_fixture(tc, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, list_detail_and_events_shapes);
    tcase_add_test(tc, every_operation_answers_202_with_job_and_event);
    tcase_add_test(tc, forbidden_transitions_are_409_and_write_nothing);
    tcase_add_test(tc, only_an_active_subscription_is_operated);
    tcase_add_test(tc, another_users_ids_are_404_and_no_token_401);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
