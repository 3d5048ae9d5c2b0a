/*
 * test_subscriptions.c — /api/subscriptions through the real binary: the
 * 201 shape, 402/409/409 and body refusals, an Idempotency-Key replay,
 * another user's subscription as 404 on every route, upgrade, auto-renew,
 * renew and cancel (prorated refund by default; none with
 * subscriptions.refundPolicy "none"). Credits come from an administrator
 * through POST /api/admin/users/:id/credits; the catalog is seeded with
 * SQL. After every test the ledger and quota invariants hold.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"
#include "e2e.h"
#include "e2e_auth.h"
#include "testdb.h"

#define srv dm_e2e_auth_srv
#define db_url dm_e2e_auth_db_url
#define call dm_e2e_auth_call
#define ok_data dm_e2e_auth_ok_data
#define expect_error dm_e2e_auth_expect_error

#define ADMIN_EMAIL "root@example.id"
#define ADMIN_PASS "admin-pass-123"

static void sweep_setup(void) { dm_e2e_auth_sweep_setup("subse2e"); }
static void sweep_teardown(void) { dm_e2e_auth_sweep_teardown(); }

static void start(const char *refund_policy)
{
    dm_e2e_auth_setup_with(json_pack("{s:{s:s,s:s},s:{s:s}}", "auth", "adminEmail", ADMIN_EMAIL, "adminPassword",
                                     ADMIN_PASS, "subscriptions", "refundPolicy", refund_policy));
}

static void setup(void) { start("prorated"); }
static void setup_no_refunds(void) { start("none"); }

static void teardown(void)
{
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM ledger_violations()");
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM quota_violations()");
    dm_e2e_auth_teardown();
}

/* ---- fixtures ---------------------------------------------------------- */

static void service(const char *slug, char out[37])
{
    char *v = dm_test_db_scalarf(db_url,
                                 "WITH c AS (INSERT INTO categories (slug, name) VALUES ('cat-%s', 'Cat') RETURNING id) "
                                 "INSERT INTO services (category_id, slug, name, service_type, template) "
                                 "SELECT id, '%s', 'Svc', 'web', 'web' FROM c RETURNING id",
                                 slug, slug);
    ck_assert_msg(strlen(v) == 36, "service: %s", v);
    memcpy(out, v, 37);
    free(v);
}

static void plan(const char *svc, const char *slug, long long price, int quota, char out[37])
{
    char *v = dm_test_db_scalarf(db_url,
                                 "INSERT INTO plans (service_id, slug, name, price, billing_period_days, "
                                 "cpu_millicores, memory_mb, total_quota) VALUES ('%s', '%s', 'Plan', %lld, 30, "
                                 "250, 256, %d) RETURNING id",
                                 svc, slug, price, quota);
    ck_assert_msg(strlen(v) == 36, "plan: %s", v);
    memcpy(out, v, 37);
    free(v);
}

/* Credits through the administrators' route, so the ledger records them. */
static void credit(const char *uid, long long amount)
{
    char *admin = dm_e2e_auth_login(ADMIN_EMAIL, ADMIN_PASS);
    char path[128], body[96];
    snprintf(path, sizeof path, "/api/admin/users/%s/credits", uid);
    snprintf(body, sizeof body, "{\"amount\":%lld,\"reason\":\"test credit\"}", amount);
    dm_e2e_response res;
    call("POST", path, admin, body, &res);
    json_decref(ok_data(&res, 201, "admin credit"));
    dm_e2e_response_free(&res);
    free(admin);
}

static long long balance(const char *uid)
{
    char *v = dm_test_db_scalarf(db_url, "SELECT credit_balance FROM users WHERE id = '%s'", uid);
    long long b = strtoll(v, NULL, 10);
    free(v);
    return b;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "(none)";
}

/* One call expecting status; its data (new reference; NULL for errors). */
static json_t *expect_ok(const char *method, const char *path, const char *tok, const char *body, int status)
{
    dm_e2e_response res;
    call(method, path, tok, body, &res);
    json_t *d = ok_data(&res, status, path);
    dm_e2e_response_free(&res);
    return d;
}

static void expect_fail(const char *method, const char *path, const char *tok, const char *body, int status,
                        const char *code, const char *field)
{
    dm_e2e_response res;
    call(method, path, tok, body, &res);
    expect_error(&res, status, code, path);
    if (field != NULL)
        ck_assert_msg(strstr(res.body, field) != NULL, "%s %s: details do not name %s: %s", method, path, field,
                      res.body);
    dm_e2e_response_free(&res);
}

static json_t *subscribe(const char *tok, const char *plan_id)
{
    char body[96];
    snprintf(body, sizeof body, "{\"planId\":\"%s\"}", plan_id);
    return expect_ok("POST", "/api/subscriptions", tok, body, 201);
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(subscribe_answers_201_with_the_subscription)
{
    char svc[37], pl[37], uid[37];
    service("redis", svc);
    plan(svc, "basic", 100000, 5, pl);
    char *tok = dm_e2e_auth_register("a@example.id", uid);
    credit(uid, 150000);
    json_t *s = subscribe(tok, pl);
    ck_assert_msg(strlen(jstr(s, "id")) == 36, "id: %s", jstr(s, "id"));
    ck_assert_str_eq(jstr(s, "status"), "ACTIVE");
    ck_assert_str_eq(jstr(json_object_get(s, "plan"), "id"), pl);
    ck_assert_str_eq(jstr(json_object_get(s, "service"), "slug"), "redis");
    ck_assert_msg(json_is_string(json_object_get(s, "startDate")) && json_is_string(json_object_get(s, "endDate")),
                  "startDate and endDate");
    ck_assert_msg(json_is_true(json_object_get(s, "autoRenew")), "autoRenew defaults on");
    json_t *inst = json_object_get(s, "instance");
    ck_assert_msg(strlen(jstr(inst, "id")) == 36, "instance id");
    ck_assert_str_eq(jstr(inst, "status"), "PENDING");
    ck_assert_msg(json_is_object(json_object_get(inst, "urls")), "instance urls");
    ck_assert_int_eq(balance(uid), 50000);
    DM_EXPECT_SQL(db_url, "1", "SELECT count(*) FROM jobs WHERE kind = 'instance.provision'");
    /* The detail and the list agree. */
    char path[128];
    snprintf(path, sizeof path, "/api/subscriptions/%s", jstr(s, "id"));
    json_t *d = expect_ok("GET", path, tok, NULL, 200);
    ck_assert_str_eq(jstr(d, "id"), jstr(s, "id"));
    json_decref(d);
    dm_e2e_response res;
    call("GET", "/api/subscriptions?status=ACTIVE", tok, NULL, &res);
    json_t *l = ok_data(&res, 200, "list");
    ck_assert_msg(json_array_size(l) == 1 && strstr(res.body, "\"total\":1") != NULL, "list: %s", res.body);
    json_decref(l);
    dm_e2e_response_free(&res);
    expect_fail("GET", "/api/subscriptions?status=PAID", tok, NULL, 400, "VALIDATION_ERROR", "status");
    expect_fail("GET", "/api/subscriptions", NULL, NULL, 401, "UNAUTHORIZED", NULL);
    json_decref(s);
    free(tok);
}
END_TEST

START_TEST(subscribe_refusals)
{
    char svc[37], svc2[37], svc3[37], basic[37], pro[37], none[37], dear[37], uid[37];
    service("web", svc);
    service("scarce", svc2);
    service("dear", svc3);
    plan(svc, "basic", 100000, 5, basic);
    plan(svc, "pro", 200000, 5, pro);
    plan(svc2, "none", 1000, 0, none);
    plan(svc3, "dear", 100000, 5, dear);
    char *tok = dm_e2e_auth_register("b@example.id", uid);
    credit(uid, 150000);
    json_decref(subscribe(tok, basic));
    char body[128];
    snprintf(body, sizeof body, "{\"planId\":\"%s\"}", pro);
    expect_fail("POST", "/api/subscriptions", tok, body, 409, "ALREADY_SUBSCRIBED", NULL);
    snprintf(body, sizeof body, "{\"planId\":\"%s\"}", none);
    expect_fail("POST", "/api/subscriptions", tok, body, 409, "QUOTA_EXHAUSTED", NULL);
    snprintf(body, sizeof body, "{\"planId\":\"%s\"}", dear);
    expect_fail("POST", "/api/subscriptions", tok, body, 402, "INSUFFICIENT_CREDITS", NULL);
    expect_fail("POST", "/api/subscriptions", tok, "{\"planId\":\"6f1c2a7e-3b0d-4c8e-9a51-2d4e6f8a0b1c\"}", 400,
                "VALIDATION_ERROR", "planId");
    expect_fail("POST", "/api/subscriptions", tok, "{}", 400, "VALIDATION_ERROR", "planId");
    snprintf(body, sizeof body, "{\"planId\":\"%s\",\"autoRenew\":\"yes\"}", dear);
    expect_fail("POST", "/api/subscriptions", tok, body, 400, "VALIDATION_ERROR", "autoRenew");
    snprintf(body, sizeof body, "{\"planId\":\"%s\",\"price\":1}", dear);
    expect_fail("POST", "/api/subscriptions", tok, body, 400, "VALIDATION_ERROR", "price");
    DM_EXPECT_SQL(db_url, "1|1|1", "SELECT (SELECT count(*) FROM subscriptions) || '|' || "
                                   "(SELECT count(*) FROM instances) || '|' || "
                                   "(SELECT count(*) FROM transactions WHERE type = 'SUBSCRIPTION')");
    ck_assert_int_eq(balance(uid), 50000);
    free(tok);
}
END_TEST

START_TEST(idempotency_key_replays_a_subscribe)
{
    char svc[37], pl[37], uid[37];
    service("idem", svc);
    plan(svc, "basic", 10000, 5, pl);
    char *tok = dm_e2e_auth_register("idem@example.id", uid);
    credit(uid, 100000);
    char body[96];
    snprintf(body, sizeof body, "{\"planId\":\"%s\"}", pl);
    dm_e2e_response r1, r2;
    dm_e2e_auth_call_keyed("POST", "/api/subscriptions", tok, "sub-key-1", body, &r1);
    dm_e2e_auth_call_keyed("POST", "/api/subscriptions", tok, "sub-key-1", body, &r2);
    ck_assert_msg(r1.status == 201 && r2.status == 201, "statuses %d %d: %s", r1.status, r2.status, r2.body);
    ck_assert_msg(strcmp(r1.body, r2.body) == 0, "replay differs:\n%s\n%s", r1.body, r2.body);
    ck_assert_msg(dm_e2e_header(&r2, "Idempotent-Replayed") != NULL, "the replay is marked");
    dm_e2e_response_free(&r1);
    dm_e2e_response_free(&r2);
    DM_EXPECT_SQL(db_url, "1", "SELECT count(*) FROM subscriptions");
    DM_EXPECT_SQL(db_url, "1", "SELECT count(*) FROM transactions WHERE type = 'SUBSCRIPTION'");
    ck_assert_int_eq(balance(uid), 90000);
    /* Without the key the same request is a new one: already subscribed. */
    expect_fail("POST", "/api/subscriptions", tok, body, 409, "ALREADY_SUBSCRIBED", NULL);
    free(tok);
}
END_TEST

/* Upgrade and renew move money too: the same key replays the first answer
 * and charges once; the same key with another body is 422. */
static void expect_replayed_once(const char *method, const char *path, const char *tok, const char *key,
                                 const char *body, const char *other_body)
{
    dm_e2e_response r1, r2, r3;
    dm_e2e_auth_call_keyed(method, path, tok, key, body, &r1);
    dm_e2e_auth_call_keyed(method, path, tok, key, body, &r2);
    ck_assert_msg(r1.status == 200 && r2.status == 200, "%s: statuses %d %d: %s", path, r1.status, r2.status,
                  r2.body);
    ck_assert_msg(strcmp(r1.body, r2.body) == 0, "%s: replay differs:\n%s\n%s", path, r1.body, r2.body);
    ck_assert_msg(dm_e2e_header(&r2, "Idempotent-Replayed") != NULL, "%s: the replay is not marked", path);
    dm_e2e_auth_call_keyed(method, path, tok, key, other_body, &r3);
    dm_e2e_assert_error(&r3, 422, "same key, other body");
    dm_e2e_response_free(&r1);
    dm_e2e_response_free(&r2);
    dm_e2e_response_free(&r3);
}

START_TEST(idempotency_key_replays_an_upgrade_and_a_renewal)
{
    char svc[37], basic[37], pro[37], uid[37], path[160], body[96];
    service("idem2", svc);
    plan(svc, "basic", 100000, 5, basic);
    plan(svc, "pro", 160000, 5, pro);
    char *tok = dm_e2e_auth_register("idem2@example.id", uid);
    credit(uid, 1000000);
    json_t *s = subscribe(tok, basic);
    char id[37];
    snprintf(id, sizeof id, "%s", jstr(s, "id"));
    json_decref(s);
    snprintf(path, sizeof path, "/api/subscriptions/%s/upgrade", id);
    snprintf(body, sizeof body, "{\"newPlanId\":\"%s\"}", pro);
    expect_replayed_once("PUT", path, tok, "up-key", body, "{\"newPlanId\":\"other\"}");
    DM_EXPECT_SQL(db_url, "1", "SELECT count(*) FROM transactions WHERE type = 'UPGRADE'");
    snprintf(path, sizeof path, "/api/subscriptions/%s/renew", id);
    expect_replayed_once("POST", path, tok, "renew-key", "{}", "{\"x\":1}");
    DM_EXPECT_SQL(db_url, "1", "SELECT count(*) FROM transactions WHERE type = 'RENEWAL'");
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM ledger_violations()");
    free(tok);
}
END_TEST

START_TEST(another_users_subscription_is_404_everywhere)
{
    char svc[37], basic[37], pro[37], uid[37], eve_id[37];
    service("private", svc);
    plan(svc, "basic", 10000, 5, basic);
    plan(svc, "pro", 20000, 5, pro);
    char *tok = dm_e2e_auth_register("owner@example.id", uid);
    char *eve = dm_e2e_auth_register("eve@example.id", eve_id);
    credit(uid, 100000);
    credit(eve_id, 100000);
    json_t *s = subscribe(tok, basic);
    const char *id = jstr(s, "id");
    char path[160], body[96];
    snprintf(body, sizeof body, "{\"newPlanId\":\"%s\"}", pro);
    const struct { const char *method, *suffix, *body; } routes[] = {
        { "GET", "", NULL },
        { "PUT", "/upgrade", body },
        { "PUT", "/cancel", "{}" },
        { "PUT", "/auto-renew", "{\"enabled\":false}" },
        { "POST", "/renew", NULL },
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        snprintf(path, sizeof path, "/api/subscriptions/%s%s", id, routes[i].suffix);
        expect_fail(routes[i].method, path, eve, routes[i].body, 404, "NOT_FOUND", NULL);
        /* An unknown and a malformed id answer the same. */
        snprintf(path, sizeof path, "/api/subscriptions/6f1c2a7e-3b0d-4c8e-9a51-2d4e6f8a0b1c%s", routes[i].suffix);
        expect_fail(routes[i].method, path, tok, routes[i].body, 404, "NOT_FOUND", NULL);
        snprintf(path, sizeof path, "/api/subscriptions/nope%s", routes[i].suffix);
        expect_fail(routes[i].method, path, tok, routes[i].body, 404, "NOT_FOUND", NULL);
    }
    dm_e2e_response res;
    call("GET", "/api/subscriptions", eve, NULL, &res);
    ck_assert_msg(strstr(res.body, "\"total\":0") != NULL, "eve sees nothing: %s", res.body);
    dm_e2e_response_free(&res);
    /* Nothing moved. */
    DM_EXPECT_SQL(db_url, "ACTIVE|true", "SELECT status || '|' || auto_renew FROM subscriptions WHERE id = '%s'", id);
    ck_assert_int_eq(balance(uid), 90000);
    ck_assert_int_eq(balance(eve_id), 100000);
    json_decref(s);
    free(tok);
    free(eve);
}
END_TEST

START_TEST(upgrade_autorenew_renew_and_cancel)
{
    char svc[37], basic[37], pro[37], uid[37];
    service("flow", svc);
    plan(svc, "basic", 100000, 5, basic);
    plan(svc, "pro", 160000, 5, pro);
    char *tok = dm_e2e_auth_register("flow@example.id", uid);
    credit(uid, 500000);
    json_t *s = subscribe(tok, pro);
    char id[37], path[160], body[96];
    snprintf(id, sizeof id, "%s", jstr(s, "id"));
    json_decref(s);
    /* Downgrades are refused. */
    snprintf(path, sizeof path, "/api/subscriptions/%s/upgrade", id);
    snprintf(body, sizeof body, "{\"newPlanId\":\"%s\"}", basic);
    expect_fail("PUT", path, tok, body, 400, "VALIDATION_ERROR", "newPlanId");
    /* Start over on basic and upgrade: about the whole difference, just
     * after the start of the period. */
    snprintf(path, sizeof path, "/api/subscriptions/%s/cancel", id);
    json_decref(expect_ok("PUT", path, tok, "{\"reason\":\"wrong plan\"}", 200));
    s = subscribe(tok, basic);
    snprintf(id, sizeof id, "%s", jstr(s, "id"));
    json_decref(s);
    snprintf(path, sizeof path, "/api/subscriptions/%s/upgrade", id);
    snprintf(body, sizeof body, "{\"newPlanId\":\"%s\"}", pro);
    s = expect_ok("PUT", path, tok, body, 200);
    ck_assert_str_eq(jstr(json_object_get(s, "plan"), "id"), pro);
    ck_assert_int_eq(json_integer_value(json_object_get(s, "price")), 160000);
    json_decref(s);
    char *up = dm_test_db_scalarf(db_url, "SELECT -amount FROM transactions WHERE subscription_id = '%s' "
                                          "AND type = 'UPGRADE'", id);
    long long charged = strtoll(up, NULL, 10);
    free(up);
    ck_assert_msg(charged > 59000 && charged <= 60000, "upgrade charge %lld", charged);
    /* Auto-renew off, and its validation. */
    snprintf(path, sizeof path, "/api/subscriptions/%s/auto-renew", id);
    s = expect_ok("PUT", path, tok, "{\"enabled\":false}", 200);
    ck_assert_msg(json_is_false(json_object_get(s, "autoRenew")), "auto-renew off");
    json_decref(s);
    expect_fail("PUT", path, tok, "{\"enabled\":\"no\"}", 400, "VALIDATION_ERROR", "enabled");
    /* Renew: 30 more days, charged now at the subscription's price. */
    DM_EXPECT_SQL(db_url, "30", "SELECT extract(day FROM current_period_end - current_period_start) "
                                "FROM subscriptions WHERE id = '%s'", id);
    snprintf(path, sizeof path, "/api/subscriptions/%s/renew", id);
    json_decref(expect_ok("POST", path, tok, NULL, 200));
    DM_EXPECT_SQL(db_url, "60", "SELECT extract(day FROM current_period_end - current_period_start) "
                                "FROM subscriptions WHERE id = '%s'", id);
    DM_EXPECT_SQL(db_url, "-160000", "SELECT amount FROM transactions WHERE subscription_id = '%s' "
                                     "AND type = 'RENEWAL'", id);
    /* Cancel: almost two periods refunded (rounded down), once. */
    long long before = balance(uid);
    snprintf(path, sizeof path, "/api/subscriptions/%s/cancel", id);
    s = expect_ok("PUT", path, tok, NULL, 200);
    ck_assert_str_eq(jstr(s, "status"), "CANCELLED");
    json_decref(s);
    long long refunded = balance(uid) - before;
    ck_assert_msg(refunded > 318000 && refunded <= 320000, "refund %lld", refunded);
    expect_fail("PUT", path, tok, NULL, 409, "INVALID_STATE", NULL);
    ck_assert_int_eq(balance(uid), before + refunded);
    snprintf(path, sizeof path, "/api/subscriptions/%s/renew", id);
    expect_fail("POST", path, tok, NULL, 409, "INVALID_STATE", NULL);
    snprintf(path, sizeof path, "/api/subscriptions/%s/upgrade", id);
    expect_fail("PUT", path, tok, body, 409, "INVALID_STATE", NULL);
    DM_EXPECT_SQL(db_url, "0|0", "SELECT string_agg(used_quota::text, '|' ORDER BY slug) FROM plans");
    free(tok);
}
END_TEST

/* The bodies' fields are checked by type; a cancel's reason is optional
 * (null too) and counted in characters like the column. */
START_TEST(bodies_are_checked_field_by_field)
{
    char svc[37], pl[37], uid[37];
    service("fields", svc);
    plan(svc, "basic", 1000, 5, pl);
    char *tok = dm_e2e_auth_register("fields@example.id", uid);
    credit(uid, 10000);
    expect_fail("POST", "/api/subscriptions", tok, "{\"planId\":42}", 400, "VALIDATION_ERROR", "planId");
    expect_fail("POST", "/api/subscriptions", tok, "{\"planId\":null}", 400, "VALIDATION_ERROR", "planId");
    expect_fail("POST", "/api/subscriptions", tok, "{\"planId\":\"not-a-uuid\"}", 400, "VALIDATION_ERROR",
                "planId");
    json_t *s = subscribe(tok, pl);
    char path[160];
    snprintf(path, sizeof path, "/api/subscriptions/%s/cancel", jstr(s, "id"));
    json_decref(s);
    expect_fail("PUT", path, tok, "{\"reason\":\"   \"}", 400, "VALIDATION_ERROR", "reason");
    expect_fail("PUT", path, tok, "{\"reason\":7}", 400, "VALIDATION_ERROR", "reason");
    /* 1 500 two-byte characters: 3 000 bytes, within the 2 000 characters. */
    static char body[3200];
    size_t n = (size_t)snprintf(body, sizeof body, "{\"reason\":\"");
    for (int i = 0; i < 1500; i++, n += 2)
        memcpy(body + n, "\xc3\xa9", 2);
    memcpy(body + n, "\"}", 3);
    s = expect_ok("PUT", path, tok, body, 200);
    ck_assert_msg(json_string_length(json_object_get(s, "endReason")) == 3000, "the reason as given: %s",
                  jstr(s, "endReason"));
    json_decref(s);
    s = subscribe(tok, pl);
    snprintf(path, sizeof path, "/api/subscriptions/%s/cancel", jstr(s, "id"));
    json_decref(s);
    s = expect_ok("PUT", path, tok, "{\"reason\":null}", 200);
    ck_assert_str_eq(jstr(s, "status"), "CANCELLED");
    json_decref(s);
    free(tok);
}
END_TEST

START_TEST(cancel_refunds_nothing_with_policy_none)
{
    char svc[37], pl[37], uid[37];
    service("norefund", svc);
    plan(svc, "basic", 100000, 5, pl);
    char *tok = dm_e2e_auth_register("none@example.id", uid);
    credit(uid, 100000);
    json_t *s = subscribe(tok, pl);
    char path[160];
    snprintf(path, sizeof path, "/api/subscriptions/%s/cancel", jstr(s, "id"));
    json_decref(s);
    s = expect_ok("PUT", path, tok, NULL, 200);
    ck_assert_str_eq(jstr(s, "status"), "CANCELLED");
    json_decref(s);
    ck_assert_int_eq(balance(uid), 0);
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM transactions WHERE type = 'REFUND'");
    expect_fail("PUT", path, tok, "{\"reason\":7}", 400, "VALIDATION_ERROR", "reason");
    free(tok);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("subscriptions_e2e");
    TCase *tc = tcase_create("prorated");
    tcase_add_unchecked_fixture(tc, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, subscribe_answers_201_with_the_subscription);
    tcase_add_test(tc, subscribe_refusals);
    tcase_add_test(tc, idempotency_key_replays_a_subscribe);
    tcase_add_test(tc, idempotency_key_replays_an_upgrade_and_a_renewal);
    tcase_add_test(tc, another_users_subscription_is_404_everywhere);
    tcase_add_test(tc, upgrade_autorenew_renew_and_cancel);
    tcase_add_test(tc, bodies_are_checked_field_by_field);
    suite_add_tcase(s, tc);
    TCase *none = tcase_create("no_refunds");
    tcase_add_unchecked_fixture(none, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(none, setup_no_refunds, teardown);
    tcase_set_timeout(none, 60);
    tcase_add_test(none, cancel_refunds_nothing_with_policy_none);
    suite_add_tcase(s, none);
    return s;
}

DM_TEST_MAIN(make_suite)
