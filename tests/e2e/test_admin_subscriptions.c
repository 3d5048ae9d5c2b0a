/*
 * test_admin_subscriptions.c — the seven administrator subscription routes
 * through the real binary: list and detail with filters, bonus
 * subscriptions (BONUS row of 0), admin upgrades (prorated or free),
 * force-cancel with each refund policy now or at the period end, expire,
 * extend (a suspended one resumes), every refusal, and the audit rows with
 * their reasons. Every test ends by checking the ledger and quota
 * invariants.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"
#include "e2e.h"
#include "e2e_auth.h"
#include "testdb.h"

#define ADMIN_EMAIL "root@example.id"
#define ADMIN_PASS "admin-pass-123"
#define USER_PASS "user-pass-123"
#define NO_SUCH_ID "6f1c2a7e-3b0d-4c8e-9a51-2d4e6f8a0b1c"

static char *url;
static dm_e2e_server srv;
static char *admin;   /* the administrator's access token */
/* Catalog: service wiki with plans basic (30000), pro (90000) and solo
 * (quota 1), an inactive plan old; service blog with plan blog. */
static char wiki[37], basic[37], pro[37], solo[37], old[37], blog[37], blog_svc[37];

static void insert_id(const char *sql, char out[37])
{
    char *v = dm_test_db_scalar(url, sql);
    ck_assert_msg(v != NULL && strlen(v) == 36, "insert: %s", sql);
    memcpy(out, v, 37);
    free(v);
}

static void plan(const char *svc, const char *slug, long long price, int quota, bool active, char out[37])
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO plans (service_id, slug, name, price, billing_period_days, cpu_millicores, memory_mb, "
             "total_quota, is_active) VALUES ('%s', '%s', '%s', %lld, 30, 500, 512, %d, %s) RETURNING id",
             svc, slug, slug, price, quota, active ? "true" : "false");
    insert_id(sql, out);
}

static void catalog(void)
{
    char cat[37], sql[512];
    insert_id("INSERT INTO categories (slug, name) VALUES ('apps', 'Apps') RETURNING id", cat);
    snprintf(sql, sizeof sql, "INSERT INTO services (category_id, slug, name, service_type, template) "
                              "VALUES ('%s', 'wiki', 'Wiki', 'app', 'wiki') RETURNING id", cat);
    insert_id(sql, wiki);
    snprintf(sql, sizeof sql, "INSERT INTO services (category_id, slug, name, service_type, template) "
                              "VALUES ('%s', 'blog', 'Blog', 'app', 'blog') RETURNING id", cat);
    insert_id(sql, blog_svc);
    plan(wiki, "basic", 30000, 10, true, basic);
    plan(wiki, "pro", 90000, 10, true, pro);
    plan(wiki, "solo", 50000, 1, true, solo);
    plan(wiki, "old", 10000, 10, false, old);
    plan(blog_svc, "blog", 20000, 10, true, blog);
}

/* A fresh database and server; period ends processed every check_every_s
 * seconds with grace_days of grace. */
static void start(int check_every_s, int grace_days)
{
    url = dm_test_db_create_migrated("admin_subs_e2e");
    json_t *o = json_pack("{s:{s:s},s:{s:s,s:s},s:{s:[{s:s}]},s:{s:i,s:i}}", "database", "url", url, "auth",
                          "adminEmail", ADMIN_EMAIL, "adminPassword", ADMIN_PASS, "plugins", "enabled", "name",
                          "auth-local", "subscriptions", "checkEveryS", check_every_s, "graceDays", grace_days);
    ck_assert_msg(o != NULL, "cannot build the config overrides");
    const char *pdir = getenv("DERMAGA_TEST_PLUGIN_DIR");
    if (pdir != NULL && pdir[0] != '\0')
        json_object_set_new(json_object_get(o, "plugins"), "dir", json_string(pdir));
    dm_e2e_server_start(&srv, o);
    catalog();
    admin = dm_e2e_session_port(srv.port, ADMIN_EMAIL, ADMIN_PASS, false, NULL);
}

/* The admin routes' tests: the period-end job out of the way (hourly). */
static void setup(void)
{
    start(3600, 3);
}

/* The period-end job in the real binary: every second, three days of grace. */
static void setup_clock(void)
{
    start(1, 3);
}

static void teardown(void)
{
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM ledger_violations()");
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM quota_violations()");
    dm_e2e_server_finish(&srv);
    dm_e2e_server_free(&srv);
    dm_test_db_drop(url);
    free(url);
    free(admin);
    admin = NULL;
}

static int call(const char *method, const char *path, const char *token, const char *body, json_t **json_out)
{
    return dm_e2e_call_port(srv.port, method, path, token, body, json_out);
}

#define jpath dm_e2e_jpath
#define jint dm_e2e_jint
#define jstr dm_e2e_jstr

/* Expect status and error.code (400s also the field); frees *docp. */
static void expect_error(int st, json_t **docp, int want, const char *code, const char *field, const char *what)
{
    json_t *doc = *docp; /* read here: the call that filled it is an argument */
    *docp = NULL;
    ck_assert_msg(st == want, "%s: status %d, want %d", what, st, want);
    ck_assert_msg(strcmp(jstr(doc, "error.code"), code) == 0, "%s: code %s, want %s", what, jstr(doc, "error.code"),
                  code);
    if (field != NULL)
        ck_assert_msg(strcmp(jstr(doc, "error.details.0.field"), field) == 0, "%s: field %s, want %s", what,
                      jstr(doc, "error.details.0.field"), field);
    json_decref(doc);
}

/* A registered user with credits (through the admin route); its token
 * (caller frees) and id. */
static char *user_with(const char *email, long long credits, char id[37])
{
    char *tok = dm_e2e_session_port(srv.port, email, USER_PASS, true, id);
    if (credits > 0) {
        char path[128], body[96];
        snprintf(path, sizeof path, "/api/admin/users/%s/credits", id);
        snprintf(body, sizeof body, "{\"amount\":%lld,\"reason\":\"test credit\"}", credits);
        ck_assert_int_eq(call("POST", path, admin, body, NULL), 201);
    }
    return tok;
}

/* A paid ACTIVE subscription of uid to plan_id that started days_ago days
 * ago for the plan's price and 30-day period, written as the user route
 * leaves it (slot taken, instance PENDING, a SUBSCRIPTION row of -price
 * linked to it), its instance's history holding a RUNNING once (it ran:
 * a prorated refund stays prorated, docs/billing.md). The balance does not move: an ADJUSTMENT of +price pays
 * for it, so the ledger stays consistent and the test credits what else
 * it needs. */
static void paid_sub(const char *uid, const char *plan_id, int days_ago, char id[37])
{
    char sql[2400];
    snprintf(sql, sizeof sql,
             "WITH s AS (INSERT INTO subscriptions (user_id, plan_id, service_id, status, price, "
             "  billing_period_days, start_date, current_period_start, current_period_end) "
             "  SELECT '%s', p.id, p.service_id, 'ACTIVE', p.price, 30, now() - interval '%d days', "
             "    now() - interval '%d days', now() - interval '%d days' + interval '30 days' "
             "  FROM plans p WHERE p.id = '%s' RETURNING id, price), "
             "q AS (UPDATE plans SET used_quota = used_quota + 1 WHERE id = '%s' RETURNING id), "
             "i AS (INSERT INTO instances (subscription_id, user_id) SELECT id, '%s' FROM s RETURNING id), "
             "e AS (INSERT INTO instance_events (instance_id, operation, from_status, to_status, actor) "
             "  SELECT id, 'running', 'PROVISIONING', 'RUNNING', 'system' FROM i RETURNING id), "
             "b AS (SELECT credit_balance AS bal FROM users WHERE id = '%s'), "
             "a AS (INSERT INTO transactions (user_id, type, status, amount, balance_before, balance_after, "
             "  description, settled_at) SELECT '%s', 'ADJUSTMENT', 'SUCCESS', s.price, b.bal, b.bal + s.price, "
             "  'test payment', now() FROM s, b RETURNING id), "
             "c AS (INSERT INTO transactions (user_id, type, status, amount, balance_before, balance_after, "
             "  description, settled_at, subscription_id) SELECT '%s', 'SUBSCRIPTION', 'SUCCESS', -s.price, "
             "  b.bal + s.price, b.bal, 'Subscription', now(), s.id FROM s, b RETURNING id) "
             "SELECT s.id FROM s, q, i, e, a, c",
             uid, days_ago, days_ago, days_ago, plan_id, plan_id, uid, uid, uid, uid);
    insert_id(sql, id);
}

static long long balance_of(const char *uid)
{
    char *v = dm_test_db_scalarf(url, "SELECT credit_balance FROM users WHERE id = '%s'", uid);
    long long n = strtoll(v, NULL, 10);
    free(v);
    return n;
}

static void expect_used(const char *plan_id, const char *want)
{
    DM_EXPECT_SQL(url, want, "SELECT used_quota FROM plans WHERE id = '%s'", plan_id);
}

static void expect_audit(const char *action, const char *sub_id, const char *reason)
{
    DM_EXPECT_SQL(url, reason, "SELECT reason FROM audit_log WHERE action = '%s' AND target_type = 'subscription' "
                               "AND target_id = '%s' AND actor = '" ADMIN_EMAIL "'", action, sub_id);
}

static void expect_jobs(const char *kind, const char *sub_id, const char *want)
{
    DM_EXPECT_SQL(url, want, "SELECT count(*) FROM jobs WHERE kind = 'instance.%s' "
                             "AND payload->>'subscriptionId' = '%s'", kind, sub_id);
}

/* `method path` as admin with body; the status and *doc. */
static int on(const char *method, const char *sub_id, const char *suffix, const char *body, json_t **doc)
{
    char path[160];
    snprintf(path, sizeof path, "/api/admin/subscriptions/%s%s", sub_id, suffix);
    return call(method, path, admin, body, doc);
}

/* ---- access ------------------------------------------------------------- */

START_TEST(user_gets_403_and_anonymous_401_on_all_seven_routes)
{
    char uid[37], sid[37];
    char *tok = user_with("u1@example.id", 0, uid);
    paid_sub(uid, basic, 1, sid);
    char one[96], up[128], fc[128], ex[128], ext[128], bonus[256];
    snprintf(one, sizeof one, "/api/admin/subscriptions/%s", sid);
    snprintf(up, sizeof up, "%s/upgrade", one);
    snprintf(fc, sizeof fc, "%s/force-cancel", one);
    snprintf(ex, sizeof ex, "%s/expire", one);
    snprintf(ext, sizeof ext, "%s/extend", one);
    snprintf(bonus, sizeof bonus, "{\"userId\":\"%s\",\"planId\":\"%s\",\"durationDays\":7,\"reason\":\"x\"}", uid,
             blog);
    struct { const char *method, *path, *body; } routes[] = {
        { "GET", "/api/admin/subscriptions", NULL },
        { "GET", one, NULL },
        { "POST", "/api/admin/subscriptions/bonus", bonus },
        { "PUT", up, "{\"newPlanId\":\"x\",\"bonus\":true,\"reason\":\"x\"}" },
        { "POST", fc, "{\"reason\":\"x\",\"refund\":\"full\",\"immediate\":true}" },
        { "POST", ex, "{\"reason\":\"x\"}" },
        { "PUT", ext, "{\"days\":5,\"reason\":\"x\"}" },
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        json_t *doc = NULL;
        int st = call(routes[i].method, routes[i].path, tok, routes[i].body, &doc);
        char what[200];
        snprintf(what, sizeof what, "%s %s as USER", routes[i].method, routes[i].path);
        expect_error(st, &doc, 403, "FORBIDDEN", NULL, what);
        st = call(routes[i].method, routes[i].path, NULL, routes[i].body, NULL);
        ck_assert_msg(st == 401, "%s %s without a token: %d", routes[i].method, routes[i].path, st);
    }
    DM_EXPECT_SQL(url, "ACTIVE 1", "SELECT status || ' ' || count(*) OVER () FROM subscriptions");
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM audit_log WHERE target_type = 'subscription'");
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM transactions WHERE subscription_id IS NOT NULL "
                            "AND type <> 'SUBSCRIPTION'");
    free(tok);
}
END_TEST

/* ---- list and detail ---------------------------------------------------- */

START_TEST(list_filters_by_user_status_and_service_and_detail_finds_one)
{
    char u1[37], u2[37], s1[37], s2[37], s3[37];
    free(user_with("a@example.id", 0, u1));
    free(user_with("b@example.id", 0, u2));
    paid_sub(u1, basic, 1, s1);
    paid_sub(u1, blog, 1, s2);
    paid_sub(u2, pro, 1, s3);
    char *v = dm_test_db_scalarf(url, "UPDATE subscriptions SET status = 'SUSPENDED', "
                                      "grace_until = now() + interval '1 day' "
                                      "WHERE id = '%s' RETURNING id", s3);
    free(v);
    struct { const char *query, *arg, *more; long long total; } cases[] = {
        { "", "", "", 3 },
        { "?userId=", u1, "", 2 },
        { "?userId=", u2, "", 1 },
        { "?status=SUSPENDED", "", "", 1 },
        { "?status=EXPIRED", "", "", 0 },
        { "?serviceId=", wiki, "", 2 },
        { "?serviceId=", wiki, "&status=ACTIVE", 1 },
        { "?userId=" NO_SUCH_ID, "", "", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[200];
        snprintf(path, sizeof path, "/api/admin/subscriptions%s%s%s", cases[i].query, cases[i].arg, cases[i].more);
        json_t *doc = NULL;
        ck_assert_msg(call("GET", path, admin, NULL, &doc) == 200, "GET %s", path);
        ck_assert_msg(jint(doc, "pagination.total") == cases[i].total, "%s: total %lld, want %lld", path,
                      jint(doc, "pagination.total"), cases[i].total);
        ck_assert_msg((long long)json_array_size(jpath(doc, "data")) == cases[i].total, "%s: items", path);
        json_decref(doc);
    }
    /* Items are the full subscription shape; pages hold limit items. */
    json_t *doc = NULL;
    ck_assert_int_eq(call("GET", "/api/admin/subscriptions?serviceId=", admin, NULL, &doc), 200);
    json_decref(doc);
    ck_assert_int_eq(call("GET", "/api/admin/subscriptions?status=SUSPENDED", admin, NULL, &doc), 200);
    ck_assert_str_eq(jstr(doc, "data.0.id"), s3);
    ck_assert_str_eq(jstr(doc, "data.0.userId"), u2);
    ck_assert_str_eq(jstr(doc, "data.0.plan.id"), pro);
    ck_assert_str_eq(jstr(doc, "data.0.service.slug"), "wiki");
    json_decref(doc);
    ck_assert_int_eq(call("GET", "/api/admin/subscriptions?limit=2&page=2", admin, NULL, &doc), 200);
    ck_assert_int_eq(json_array_size(jpath(doc, "data")), 1);
    ck_assert_int_eq(jint(doc, "pagination.totalPages"), 2);
    json_decref(doc);
    /* Detail. */
    ck_assert_int_eq(on("GET", s2, "", NULL, &doc), 200);
    ck_assert_str_eq(jstr(doc, "data.id"), s2);
    ck_assert_str_eq(jstr(doc, "data.status"), "ACTIVE");
    ck_assert_str_eq(jstr(doc, "data.plan.id"), blog);
    ck_assert_int_eq(jint(doc, "data.price"), 20000);
    ck_assert_str_eq(jstr(doc, "data.instance.status"), "PENDING");
    json_decref(doc);
    expect_error(on("GET", NO_SUCH_ID, "", NULL, &doc), &doc, 404, "NOT_FOUND", NULL, "unknown id");
    expect_error(on("GET", "nope", "", NULL, &doc), &doc, 404, "NOT_FOUND", NULL, "malformed id");
    /* Bad filters are 400s naming the parameter. */
    expect_error(call("GET", "/api/admin/subscriptions?status=GONE", admin, NULL, &doc), &doc, 400,
                 "VALIDATION_ERROR", "status", "bad status");
    expect_error(call("GET", "/api/admin/subscriptions?userId=abc", admin, NULL, &doc), &doc, 400,
                 "VALIDATION_ERROR", "userId", "bad userId");
    expect_error(call("GET", "/api/admin/subscriptions?serviceId=abc", admin, NULL, &doc), &doc, 400,
                 "VALIDATION_ERROR", "serviceId", "bad serviceId");
    expect_error(call("GET", "/api/admin/subscriptions?limit=101", admin, NULL, &doc), &doc, 400,
                 "VALIDATION_ERROR", "limit", "bad limit");
}
END_TEST

/* ---- bonus -------------------------------------------------------------- */

static int post_bonus(const char *uid, const char *plan_id, const char *days, const char *reason, json_t **doc)
{
    char body[512];
    snprintf(body, sizeof body, "{\"userId\":\"%s\",\"planId\":\"%s\",\"durationDays\":%s,\"reason\":%s}", uid,
             plan_id, days, reason);
    return call("POST", "/api/admin/subscriptions/bonus", admin, body, doc);
}

START_TEST(bonus_is_free_marked_with_a_zero_bonus_row_and_audited)
{
    char uid[37];
    free(user_with("lucky@example.id", 5000, uid));
    json_t *doc = NULL;
    int st = post_bonus(uid, basic, "14", "\"contest winner\"", &doc);
    ck_assert_msg(st == 201, "bonus: status %d", st);
    char sid[37];
    snprintf(sid, sizeof sid, "%s", jstr(doc, "data.id"));
    ck_assert_str_eq(jstr(doc, "data.status"), "ACTIVE");
    ck_assert(json_is_true(jpath(doc, "data.isBonus")));
    ck_assert(json_is_false(jpath(doc, "data.autoRenew")));
    ck_assert_int_eq(jint(doc, "data.price"), 0);
    ck_assert_int_eq(jint(doc, "data.billingPeriodDays"), 14);
    ck_assert_str_eq(jstr(doc, "data.transaction.type"), "BONUS");
    ck_assert_int_eq(jint(doc, "data.transaction.amount"), 0);
    json_decref(doc);
    DM_EXPECT_SQL(url, "14", "SELECT extract(day FROM current_period_end - start_date)::int FROM subscriptions "
                             "WHERE id = '%s'", sid);
    DM_EXPECT_SQL(url, "BONUS 0 SUCCESS contest winner",
                  "SELECT type || ' ' || amount || ' ' || status || ' ' || description FROM transactions "
                  "WHERE subscription_id = '%s'", sid);
    ck_assert_int_eq(balance_of(uid), 5000);
    expect_used(basic, "1");
    expect_jobs("provision", sid, "1");
    expect_audit("subscription.bonus", sid, "contest winner");
    /* Refusals. */
    expect_error(post_bonus(uid, pro, "7", "\"again\"", &doc), &doc, 409, "ALREADY_SUBSCRIBED", NULL, "twice");
    char other[37];
    free(user_with("other@example.id", 0, other));
    ck_assert_int_eq(post_bonus(other, solo, "7", "\"first\"", NULL), 201);
    char third[37];
    free(user_with("third@example.id", 0, third));
    expect_error(post_bonus(third, solo, "7", "\"second\"", &doc), &doc, 409, "QUOTA_EXHAUSTED", NULL, "full plan");
    expect_error(post_bonus(NO_SUCH_ID, basic, "7", "\"x\"", &doc), &doc, 404, "NOT_FOUND", NULL, "unknown user");
    expect_error(post_bonus(third, NO_SUCH_ID, "7", "\"x\"", &doc), &doc, 404, "NOT_FOUND", NULL, "unknown plan");
    expect_error(post_bonus(third, old, "7", "\"x\"", &doc), &doc, 400, "VALIDATION_ERROR", "planId", "inactive");
    expect_error(post_bonus(third, basic, "0", "\"x\"", &doc), &doc, 400, "VALIDATION_ERROR", "durationDays", "0");
    expect_error(post_bonus(third, basic, "3661", "\"x\"", &doc), &doc, 400, "VALIDATION_ERROR", "durationDays",
                 "3661");
    expect_error(post_bonus(third, basic, "7", "\"  \"", &doc), &doc, 400, "VALIDATION_ERROR", "reason", "blank");
    expect_error(post_bonus(third, basic, "7", "7", &doc), &doc, 400, "VALIDATION_ERROR", "reason", "number");
    int s = call("POST", "/api/admin/subscriptions/bonus", admin, "{\"userId\":\"x\",\"planId\":\"y\","
                 "\"durationDays\":7,\"reason\":\"r\",\"price\":5}", &doc);
    expect_error(s, &doc, 400, "VALIDATION_ERROR", "price", "extra field");
    ck_assert_int_eq(post_bonus(third, basic, "3660", "\"longest\"", NULL), 201);
    DM_EXPECT_SQL(url, "3", "SELECT count(*) FROM subscriptions");
    DM_EXPECT_SQL(url, "3", "SELECT count(*) FROM transactions WHERE type = 'BONUS' AND amount = 0");
    DM_EXPECT_SQL(url, "3", "SELECT count(*) FROM audit_log WHERE action = 'subscription.bonus'");
}
END_TEST

/* ---- upgrade ------------------------------------------------------------ */

static int put_upgrade(const char *sid, const char *plan_id, const char *bonus, json_t **doc)
{
    char body[256];
    snprintf(body, sizeof body, "{\"newPlanId\":\"%s\",\"bonus\":%s,\"reason\":\"plan change\"}", plan_id, bonus);
    return on("PUT", sid, "/upgrade", body, doc);
}

START_TEST(admin_upgrade_charges_the_prorated_difference_unless_bonus)
{
    char uid[37], sid[37];
    free(user_with("up@example.id", 39000, uid));
    paid_sub(uid, basic, 10, sid); /* 20 of 30 days left */
    json_t *doc = NULL;
    /* (90000 - 30000) × 20/30 rounded up is 40000: not covered. */
    expect_error(put_upgrade(sid, pro, "false", &doc), &doc, 402, "INSUFFICIENT_CREDITS", NULL, "not covered");
    expect_used(basic, "1");
    expect_used(pro, "0");
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM audit_log WHERE action = 'subscription.upgrade'");
    char path[128];
    snprintf(path, sizeof path, "/api/admin/users/%s/credits", uid);
    ck_assert_int_eq(call("POST", path, admin, "{\"amount\":11000,\"reason\":\"top\"}", NULL), 201);
    ck_assert_int_eq(put_upgrade(sid, pro, "false", &doc), 200);
    ck_assert_str_eq(jstr(doc, "data.plan.id"), pro);
    ck_assert_int_eq(jint(doc, "data.price"), 90000);
    json_decref(doc);
    char *charged = dm_test_db_scalarf(url, "SELECT -amount FROM transactions WHERE type = 'UPGRADE' "
                                            "AND subscription_id = '%s'", sid);
    long long c = strtoll(charged, NULL, 10);
    free(charged);
    ck_assert_msg(c >= 39990 && c <= 40000, "upgrade charge %lld, want ceil(60000 x ~20/30) = 40000", c);
    ck_assert_int_eq(balance_of(uid), 50000 - c);
    expect_used(basic, "0");
    expect_used(pro, "1");
    expect_jobs("update", sid, "1");
    expect_audit("subscription.upgrade", sid, "plan change");
    /* With bonus: true nothing is charged, even downwards. */
    ck_assert_int_eq(put_upgrade(sid, basic, "true", &doc), 200);
    ck_assert_int_eq(jint(doc, "data.price"), 30000);
    json_decref(doc);
    ck_assert_int_eq(put_upgrade(sid, solo, "true", NULL), 200);
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM transactions WHERE type = 'UPGRADE'");
    ck_assert_int_eq(balance_of(uid), 50000 - c);
    expect_used(solo, "1");
    /* Refusals, none of which changes anything. */
    char other_uid[37], other[37];
    free(user_with("full@example.id", 0, other_uid));
    paid_sub(other_uid, basic, 1, other);
    expect_error(put_upgrade(other, solo, "true", &doc), &doc, 409, "QUOTA_EXHAUSTED", NULL, "full plan");
    expect_error(put_upgrade(other, blog, "true", &doc), &doc, 400, "VALIDATION_ERROR", "newPlanId", "other service");
    expect_error(put_upgrade(other, basic, "true", &doc), &doc, 400, "VALIDATION_ERROR", "newPlanId", "same plan");
    expect_error(put_upgrade(other, old, "true", &doc), &doc, 400, "VALIDATION_ERROR", "newPlanId", "inactive plan");
    /* A yearly plan's price would be charged every 30 days: refused. */
    char yearly[37], sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO plans (service_id, slug, name, price, billing_period_days, cpu_millicores, memory_mb, "
             "total_quota) VALUES ('%s', 'yearly', 'Yearly', 300000, 365, 500, 512, 10) RETURNING id", wiki);
    insert_id(sql, yearly);
    expect_error(put_upgrade(other, yearly, "false", &doc), &doc, 400, "VALIDATION_ERROR", "newPlanId",
                 "other billing period");
    expect_error(put_upgrade(other, yearly, "true", &doc), &doc, 400, "VALIDATION_ERROR", "newPlanId",
                 "other billing period, free");
    expect_used(yearly, "0");
    expect_error(put_upgrade(other, NO_SUCH_ID, "true", &doc), &doc, 404, "NOT_FOUND", NULL, "unknown plan");
    expect_error(put_upgrade(NO_SUCH_ID, pro, "true", &doc), &doc, 404, "NOT_FOUND", NULL, "unknown subscription");
    expect_error(put_upgrade(other, pro, "\"yes\"", &doc), &doc, 400, "VALIDATION_ERROR", "bonus", "bonus type");
    expect_error(on("PUT", other, "/upgrade", "{\"newPlanId\":\"x\",\"bonus\":true}", &doc), &doc, 400,
                 "VALIDATION_ERROR", "reason", "no reason");
    ck_assert_int_eq(on("POST", other, "/expire", "{\"reason\":\"gone\"}", NULL), 200);
    expect_error(put_upgrade(other, pro, "true", &doc), &doc, 409, "INVALID_STATE", NULL, "ended");
    DM_EXPECT_SQL(url, "3", "SELECT count(*) FROM audit_log WHERE action = 'subscription.upgrade'");
}
END_TEST

/* ---- force-cancel ------------------------------------------------------- */

static int force_cancel(const char *sid, const char *refund, const char *immediate, json_t **doc)
{
    char body[256];
    snprintf(body, sizeof body, "{\"reason\":\"abuse report 7\",\"refund\":\"%s\",\"immediate\":%s}", refund,
             immediate);
    return on("POST", sid, "/force-cancel", body, doc);
}

START_TEST(force_cancel_refunds_by_policy_once)
{
    char uid[37], none[37], prorated[37], full[37];
    free(user_with("fc@example.id", 0, uid));
    paid_sub(uid, basic, 10, none);      /* 30000, 20 of 30 days left */
    paid_sub(uid, blog, 10, prorated);   /* 20000, 20 of 30 days left */
    char u2[37];
    free(user_with("fc2@example.id", 0, u2));
    paid_sub(u2, pro, 10, full);         /* 90000 */
    json_t *doc = NULL;
    ck_assert_int_eq(force_cancel(none, "none", "true", &doc), 200);
    ck_assert_str_eq(jstr(doc, "data.status"), "CANCELLED");
    ck_assert(json_is_null(jpath(doc, "data.refund")));
    json_decref(doc);
    ck_assert_int_eq(balance_of(uid), 0);
    ck_assert_int_eq(force_cancel(prorated, "prorated", "true", &doc), 200);
    long long refunded = jint(doc, "data.refund.amount");
    ck_assert_str_eq(jstr(doc, "data.refund.type"), "REFUND");
    json_decref(doc);
    ck_assert_msg(refunded >= 13330 && refunded <= 13333, "prorated refund %lld, want floor(20000 x ~20/30)",
                  refunded);
    ck_assert_int_eq(balance_of(uid), refunded);
    ck_assert_int_eq(force_cancel(full, "full", "true", &doc), 200);
    ck_assert_int_eq(jint(doc, "data.refund.amount"), 90000);
    json_decref(doc);
    ck_assert_int_eq(balance_of(u2), 90000);
    DM_EXPECT_SQL(url, "2", "SELECT count(*) FROM transactions WHERE type = 'REFUND'");
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM transactions WHERE type = 'REFUND' AND subscription_id = '%s'", full);
    const char *ids[] = { none, prorated, full };
    for (int i = 0; i < 3; i++) {
        DM_EXPECT_SQL(url, "CANCELLED abuse report 7", "SELECT status || ' ' || end_reason FROM subscriptions "
                                                       "WHERE id = '%s'", ids[i]);
        expect_jobs("terminate", ids[i], "1");
        expect_audit("subscription.force_cancel", ids[i], "abuse report 7");
    }
    expect_used(basic, "0");
    expect_used(blog, "0");
    expect_used(pro, "0");
    /* A second cancel is refused and refunds nothing. */
    expect_error(force_cancel(full, "full", "true", &doc), &doc, 409, "INVALID_STATE", NULL, "twice");
    ck_assert_int_eq(balance_of(u2), 90000);
    DM_EXPECT_SQL(url, "2", "SELECT count(*) FROM transactions WHERE type = 'REFUND'");
    expect_error(force_cancel(NO_SUCH_ID, "none", "true", &doc), &doc, 404, "NOT_FOUND", NULL, "unknown");
}
END_TEST

/* An instance that went PROVISIONING → ERROR and never ran: the route's
 * prorated force-cancel gives back the whole price, not the time left. */
START_TEST(force_cancel_prorated_refunds_in_full_when_the_instance_never_ran)
{
    char uid[37], sid[37];
    free(user_with("never@example.id", 0, uid));
    paid_sub(uid, blog, 10, sid); /* 20000, 20 of 30 days left */
    char *n = dm_test_db_scalarf(url,
                                 "WITH d AS (DELETE FROM instance_events WHERE instance_id IN "
                                 "  (SELECT id FROM instances WHERE subscription_id = '%s') RETURNING instance_id), "
                                 "e AS (INSERT INTO instance_events (instance_id, operation, from_status, to_status, "
                                 "  actor) SELECT instance_id, op, f, t, 'system' FROM d, (VALUES "
                                 "  ('provision', 'PENDING', 'PROVISIONING'), ('error', 'PROVISIONING', 'ERROR')) "
                                 "  v(op, f, t) RETURNING id) SELECT count(*) FROM e",
                                 sid);
    ck_assert_msg(n != NULL && strcmp(n, "2") == 0, "history rewritten: %s", n != NULL ? n : "(null)");
    free(n);
    json_t *doc = NULL;
    ck_assert_int_eq(force_cancel(sid, "prorated", "true", &doc), 200);
    ck_assert_int_eq(jint(doc, "data.refund.amount"), 20000);
    json_decref(doc);
    ck_assert_int_eq(balance_of(uid), 20000);
    DM_EXPECT_SQL(url, "20000", "SELECT amount FROM transactions WHERE type = 'REFUND' AND subscription_id = '%s'",
                  sid);
    expect_used(blog, "0");
}
END_TEST

START_TEST(force_cancel_at_period_end_and_its_refusals)
{
    char uid[37], a[37], b[37], c[37];
    free(user_with("pe@example.id", 0, uid));
    paid_sub(uid, basic, 10, a);
    paid_sub(uid, blog, 10, b);
    json_t *doc = NULL;
    ck_assert_int_eq(force_cancel(a, "none", "false", &doc), 200);
    ck_assert_str_eq(jstr(doc, "data.status"), "ACTIVE");
    ck_assert(json_is_true(jpath(doc, "data.cancelAtPeriodEnd")));
    json_decref(doc);
    expect_jobs("terminate", a, "0");
    expect_used(basic, "1");
    expect_error(force_cancel(a, "none", "false", &doc), &doc, 409, "INVALID_STATE", NULL, "scheduled twice");
    /* No refund while the subscription stays live: the user could still
     * cancel it (a prorated refund of their own) or renew it and keep a
     * period paid back in full. Refused before anything changes. */
    expect_error(force_cancel(b, "full", "false", &doc), &doc, 400, "VALIDATION_ERROR", "refund", "full later");
    ck_assert_int_eq(balance_of(uid), 0);
    DM_EXPECT_SQL(url, "f", "SELECT cancel_at_period_end FROM subscriptions WHERE id = '%s'", b);
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM audit_log WHERE target_id = '%s'", b);
    ck_assert_int_eq(force_cancel(b, "none", "false", NULL), 200);
    expect_audit("subscription.force_cancel", b, "abuse report 7");
    /* A scheduled cancel can still be made immediate, with its refund. */
    ck_assert_int_eq(force_cancel(b, "full", "true", &doc), 200);
    ck_assert_int_eq(jint(doc, "data.refund.amount"), 20000);
    json_decref(doc);
    ck_assert_int_eq(balance_of(uid), 20000);
    expect_error(force_cancel(b, "full", "true", &doc), &doc, 409, "INVALID_STATE", NULL, "second refund");
    ck_assert_int_eq(balance_of(uid), 20000);
    /* Validation. */
    char u2[37];
    free(user_with("pe2@example.id", 0, u2));
    paid_sub(u2, pro, 1, c);
    expect_error(force_cancel(c, "prorated", "false", &doc), &doc, 400, "VALIDATION_ERROR", "refund",
                 "prorated later");
    expect_error(force_cancel(c, "half", "true", &doc), &doc, 400, "VALIDATION_ERROR", "refund", "unknown policy");
    expect_error(on("POST", c, "/force-cancel", "{\"refund\":\"none\"}", &doc), &doc, 400, "VALIDATION_ERROR",
                 "reason", "no reason");
    expect_error(on("POST", c, "/force-cancel", "{\"reason\":\"x\",\"immediate\":1}", &doc), &doc, 400,
                 "VALIDATION_ERROR", "immediate", "immediate type");
    /* A suspended subscription has no period left to wait for. */
    char *v = dm_test_db_scalarf(url, "UPDATE subscriptions SET status = 'SUSPENDED', "
                                      "grace_until = now() + interval '1 day' "
                                      "WHERE id = '%s' RETURNING id", c);
    free(v);
    expect_error(force_cancel(c, "none", "false", &doc), &doc, 409, "INVALID_STATE", NULL, "suspended later");
    ck_assert_int_eq(force_cancel(c, "none", "true", NULL), 200);
    DM_EXPECT_SQL(url, "ACTIVE CANCELLED CANCELLED", "SELECT string_agg(status, ' ' ORDER BY status) FROM "
                                                     "subscriptions");
    DM_EXPECT_SQL(url, "4", "SELECT count(*) FROM audit_log WHERE action = 'subscription.force_cancel'");
}
END_TEST

/* A refund never pays out more than the subscription was paid: a free
 * upgrade (bonus: true) raises the price but not what was paid, and a
 * bonus subscription was never paid at all. Without the cap "full" paid
 * the new plan's 90000 for a 30000 purchase. */
START_TEST(refunds_never_exceed_what_was_paid)
{
    char uid[37], sid[37], u2[37];
    free(user_with("cap@example.id", 0, uid));
    paid_sub(uid, basic, 10, sid); /* 30000 paid */
    json_t *doc = NULL;
    ck_assert_int_eq(put_upgrade(sid, pro, "true", &doc), 200);
    ck_assert_int_eq(jint(doc, "data.price"), 90000);
    json_decref(doc);
    ck_assert_int_eq(force_cancel(sid, "full", "true", &doc), 200);
    ck_assert_int_eq(jint(doc, "data.refund.amount"), 30000);
    json_decref(doc);
    ck_assert_int_eq(balance_of(uid), 30000);
    free(user_with("capbonus@example.id", 0, u2));
    ck_assert_int_eq(post_bonus(u2, pro, "30", "\"gift\"", &doc), 201);
    char bid[37];
    snprintf(bid, sizeof bid, "%s", jstr(doc, "data.id"));
    json_decref(doc);
    ck_assert_int_eq(put_upgrade(bid, basic, "true", NULL), 200);
    ck_assert_int_eq(force_cancel(bid, "full", "true", &doc), 200);
    ck_assert_msg(json_is_null(jpath(doc, "data.refund")), "a bonus was refunded");
    json_decref(doc);
    ck_assert_int_eq(balance_of(u2), 0);
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM transactions WHERE type = 'REFUND'");
}
END_TEST

/* One request per thread on its own connection, released together. No
 * Check asserts off the main thread: only the status is recorded. */
typedef struct racer {
    pthread_barrier_t *start;
    const char        *request;
    int                status;
} racer;

static void *race(void *arg)
{
    racer *x = arg;
    pthread_barrier_wait(x->start);
    dm_e2e_response res;
    int rc = dm_e2e_roundtrip(srv.port, x->request, &res, 30000);
    x->status = rc == 0 ? res.status : rc;
    if (rc == 0)
        dm_e2e_response_free(&res);
    return NULL;
}

/* Administrators force-cancelling with a full refund and the user
 * cancelling (prorated refund by default), all at once on one
 * subscription: one of them wins, the rest are 409, one refund. Then a
 * force-cancel after the user's cancel refunds nothing. */
START_TEST(parallel_force_cancels_and_user_cancels_refund_once)
{
    enum { N = 12 };
    char uid[37], sid[37];
    char *tok = user_with("race@example.id", 0, uid);
    paid_sub(uid, pro, 10, sid);
    char fc[128], uc[128];
    snprintf(fc, sizeof fc, "/api/admin/subscriptions/%s/force-cancel", sid);
    snprintf(uc, sizeof uc, "/api/subscriptions/%s/cancel", sid);
    char *admin_req = dm_e2e_auth_request("POST", fc, admin, "{\"reason\":\"race\",\"refund\":\"full\"}");
    char *user_req = dm_e2e_auth_request("PUT", uc, tok, "{\"reason\":\"race\"}");
    pthread_t th[N];
    racer rs[N];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N);
    for (int i = 0; i < N; i++) {
        rs[i] = (racer){ .start = &start, .request = i % 2 == 0 ? admin_req : user_req, .status = 0 };
        ck_assert_int_eq(pthread_create(&th[i], NULL, race, &rs[i]), 0);
    }
    int ok = 0, conflicts = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(rs[i].status == 200 || rs[i].status == 409, "racer %d: status %d", i, rs[i].status);
        ok += rs[i].status == 200;
        conflicts += rs[i].status == 409;
    }
    pthread_barrier_destroy(&start);
    free(admin_req);
    free(user_req);
    ck_assert_msg(ok == 1 && conflicts == N - 1, "%d cancels succeeded, %d refused; want 1 and %d", ok, conflicts,
                  N - 1);
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM transactions WHERE type = 'REFUND' AND subscription_id = '%s'", sid);
    DM_EXPECT_SQL(url, "CANCELLED", "SELECT status FROM subscriptions WHERE id = '%s'", sid);
    expect_used(pro, "0");
    expect_jobs("terminate", sid, "1");
    /* After the user's own cancel an administrator's full refund is 409. */
    char sid2[37];
    paid_sub(uid, basic, 10, sid2);
    snprintf(uc, sizeof uc, "/api/subscriptions/%s/cancel", sid2);
    ck_assert_int_eq(call("PUT", uc, tok, "{}", NULL), 200);
    long long after_user = balance_of(uid);
    json_t *doc = NULL;
    expect_error(force_cancel(sid2, "full", "true", &doc), &doc, 409, "INVALID_STATE", NULL, "after user cancel");
    ck_assert_int_eq(balance_of(uid), after_user);
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM transactions WHERE type = 'REFUND' AND subscription_id = '%s'", sid2);
    free(tok);
}
END_TEST

/* Malformed ids are 404 on every changing route (never 500), and JSON
 * nulls where a value is required are 400 for that field. */
START_TEST(malformed_ids_are_404_and_nulls_are_400)
{
    char uid[37], sid[37];
    free(user_with("nulls@example.id", 0, uid));
    paid_sub(uid, basic, 1, sid);
    json_t *doc = NULL;
    struct { const char *method, *suffix, *body; } bad[] = {
        { "PUT", "/upgrade", "{\"newPlanId\":\"6f1c2a7e-3b0d-4c8e-9a51-2d4e6f8a0b1c\",\"reason\":\"x\"}" },
        { "POST", "/force-cancel", "{\"reason\":\"x\"}" },
        { "POST", "/expire", "{\"reason\":\"x\"}" },
        { "PUT", "/extend", "{\"days\":1,\"reason\":\"x\"}" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "malformed id %s", bad[i].suffix);
        expect_error(on(bad[i].method, "not-a-uuid", bad[i].suffix, bad[i].body, &doc), &doc, 404, "NOT_FOUND",
                     NULL, what);
        expect_error(on(bad[i].method, "6F1C2A7E-3B0D-4C8E-9A51-2D4E6F8A0B1C", bad[i].suffix, bad[i].body, &doc),
                     &doc, 404, "NOT_FOUND", NULL, what);
    }
    expect_error(put_upgrade(sid, "not-a-uuid", "false", &doc), &doc, 404, "NOT_FOUND", NULL, "malformed plan");
    expect_error(post_bonus("not-a-uuid", blog, "7", "\"x\"", &doc), &doc, 404, "NOT_FOUND", NULL, "bad user");
    expect_error(post_bonus(uid, "not-a-uuid", "7", "\"x\"", &doc), &doc, 404, "NOT_FOUND", NULL, "bad plan");
    expect_error(post_bonus(uid, blog, "7", "null", &doc), &doc, 400, "VALIDATION_ERROR", "reason", "null reason");
    expect_error(post_bonus(uid, blog, "null", "\"x\"", &doc), &doc, 400, "VALIDATION_ERROR", "durationDays",
                 "null days");
    expect_error(post_bonus(uid, blog, "7.5", "\"x\"", &doc), &doc, 400, "VALIDATION_ERROR", "durationDays",
                 "fractional days");
    expect_error(on("POST", sid, "/force-cancel", "{\"reason\":\"x\",\"refund\":null}", &doc), &doc, 400,
                 "VALIDATION_ERROR", "refund", "null refund");
    expect_error(on("POST", sid, "/force-cancel", "{\"reason\":\"x\",\"immediate\":null}", &doc), &doc, 400,
                 "VALIDATION_ERROR", "immediate", "null immediate");
    expect_error(on("POST", sid, "/force-cancel", "{\"reason\":null}", &doc), &doc, 400, "VALIDATION_ERROR",
                 "reason", "null reason");
    expect_error(on("PUT", sid, "/extend", "{\"days\":-1,\"reason\":\"x\"}", &doc), &doc, 400,
                 "VALIDATION_ERROR", "days", "negative days");
    expect_error(on("PUT", sid, "/extend", "{\"days\":\"5\",\"reason\":\"x\"}", &doc), &doc, 400,
                 "VALIDATION_ERROR", "days", "string days");
    expect_error(on("PUT", sid, "/upgrade", "{\"newPlanId\":null,\"reason\":\"x\"}", &doc), &doc, 400,
                 "VALIDATION_ERROR", "newPlanId", "null plan");
    DM_EXPECT_SQL(url, "ACTIVE false", "SELECT status || ' ' || cancel_at_period_end FROM subscriptions WHERE id = '%s'",
                  sid);
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM audit_log WHERE target_type = 'subscription'");
}
END_TEST

/* Time paid ahead (a renewal while ACTIVE moves the end one period later
 * and keeps the period start) counts whole periods at the price, as the
 * user's cancel and upgrade do. Over end - start (60 days) instead, the
 * admin routes refunded about half of what was paid ahead and charged
 * about half of the upgrade. */
START_TEST(prorating_counts_time_paid_ahead_as_the_user_routes_do)
{
    char uid[37], ahead[37], up[37];
    char *tok = user_with("ahead@example.id", 250000, uid);
    paid_sub(uid, blog, 10, ahead);  /* 20000 a period */
    paid_sub(uid, basic, 10, up);    /* 30000 a period */
    const char *ids[] = { ahead, up };
    for (int i = 0; i < 2; i++) {
        char path[128];
        snprintf(path, sizeof path, "/api/subscriptions/%s/renew", ids[i]);
        ck_assert_int_eq(call("POST", path, tok, "{}", NULL), 200);
    }
    free(tok);
    ck_assert_int_eq(balance_of(uid), 200000);
    json_t *doc = NULL;
    ck_assert_int_eq(force_cancel(ahead, "prorated", "true", &doc), 200);
    long long refunded = jint(doc, "data.refund.amount");
    json_decref(doc);
    /* 50 of 30 days left: 20000 + floor(20000 x ~20/30). */
    ck_assert_msg(refunded >= 33330 && refunded <= 33333, "prorated refund %lld, want 20000 + 13333", refunded);
    ck_assert_int_eq(put_upgrade(up, pro, "false", &doc), 200);
    json_decref(doc);
    char *charged = dm_test_db_scalarf(url, "SELECT -amount FROM transactions WHERE type = 'UPGRADE' "
                                            "AND subscription_id = '%s'", up);
    long long c = strtoll(charged, NULL, 10);
    free(charged);
    /* (90000 - 30000) for the whole period ahead + ceil(60000 x ~20/30). */
    ck_assert_msg(c >= 99990 && c <= 100000, "upgrade charge %lld, want 60000 + 40000", c);
    ck_assert_int_eq(balance_of(uid), 200000 + refunded - c);
}
END_TEST

/* ---- expire and extend -------------------------------------------------- */

START_TEST(expire_ends_now_and_only_once)
{
    char uid[37], sid[37];
    free(user_with("ex@example.id", 0, uid));
    paid_sub(uid, basic, 1, sid);
    json_t *doc = NULL;
    expect_error(on("POST", sid, "/expire", "{}", &doc), &doc, 400, "VALIDATION_ERROR", "reason", "no reason");
    expect_error(on("POST", sid, "/expire", "{\"reason\":\"x\",\"when\":1}", &doc), &doc, 400, "VALIDATION_ERROR",
                 "when", "extra");
    ck_assert_int_eq(on("POST", sid, "/expire", "{\"reason\":\"terms violated\"}", &doc), 200);
    ck_assert_str_eq(jstr(doc, "data.status"), "EXPIRED");
    ck_assert_str_eq(jstr(doc, "data.endReason"), "terms violated");
    ck_assert(json_is_string(jpath(doc, "data.endedAt")));
    json_decref(doc);
    expect_used(basic, "0");
    expect_jobs("terminate", sid, "1");
    expect_audit("subscription.expire", sid, "terms violated");
    DM_EXPECT_SQL(url, "ACTIVE EXPIRED", "SELECT (before->>'status') || ' ' || (after->>'status') FROM audit_log "
                                         "WHERE action = 'subscription.expire'");
    expect_error(on("POST", sid, "/expire", "{\"reason\":\"again\"}", &doc), &doc, 409, "INVALID_STATE", NULL,
                 "twice");
    expect_error(on("POST", NO_SUCH_ID, "/expire", "{\"reason\":\"x\"}", &doc), &doc, 404, "NOT_FOUND", NULL,
                 "unknown");
    expect_jobs("terminate", sid, "1");
    ck_assert_int_eq(balance_of(uid), 0);
}
END_TEST

START_TEST(extend_moves_the_end_and_resumes_a_suspended_one)
{
    char uid[37], sid[37], sus[37];
    free(user_with("xt@example.id", 0, uid));
    paid_sub(uid, basic, 1, sid);
    json_t *doc = NULL;
    ck_assert_int_eq(on("PUT", sid, "/extend", "{\"days\":5,\"reason\":\"outage credit\"}", &doc), 200);
    ck_assert_str_eq(jstr(doc, "data.status"), "ACTIVE");
    json_decref(doc);
    DM_EXPECT_SQL(url, "35", "SELECT extract(day FROM current_period_end - start_date)::int FROM subscriptions "
                             "WHERE id = '%s'", sid);
    expect_audit("subscription.extend", sid, "outage credit");
    expect_jobs("start", sid, "0");
    /* Suspended since its period ended two days ago: 5 more days resume it. */
    paid_sub(uid, blog, 32, sus);
    char *v = dm_test_db_scalarf(url, "UPDATE subscriptions SET status = 'SUSPENDED', grace_until = now() + "
                                      "interval '1 day' WHERE id = '%s' RETURNING id", sus);
    free(v);
    ck_assert_int_eq(on("PUT", sus, "/extend", "{\"days\":1,\"reason\":\"not enough\"}", &doc), 200);
    ck_assert_str_eq(jstr(doc, "data.status"), "SUSPENDED");
    json_decref(doc);
    expect_jobs("start", sus, "0");
    ck_assert_int_eq(on("PUT", sus, "/extend", "{\"days\":5,\"reason\":\"resume\"}", &doc), 200);
    ck_assert_str_eq(jstr(doc, "data.status"), "ACTIVE");
    ck_assert(json_is_null(jpath(doc, "data.graceUntil")));
    json_decref(doc);
    expect_jobs("start", sus, "1");
    expect_used(blog, "1");
    /* Refusals. */
    expect_error(on("PUT", sid, "/extend", "{\"days\":0,\"reason\":\"x\"}", &doc), &doc, 400, "VALIDATION_ERROR",
                 "days", "0 days");
    expect_error(on("PUT", sid, "/extend", "{\"days\":3661,\"reason\":\"x\"}", &doc), &doc, 400, "VALIDATION_ERROR",
                 "days", "3661 days");
    expect_error(on("PUT", sid, "/extend", "{\"days\":5}", &doc), &doc, 400, "VALIDATION_ERROR", "reason",
                 "no reason");
    expect_error(on("PUT", NO_SUCH_ID, "/extend", "{\"days\":5,\"reason\":\"x\"}", &doc), &doc, 404, "NOT_FOUND",
                 NULL, "unknown");
    ck_assert_int_eq(on("POST", sid, "/expire", "{\"reason\":\"end\"}", NULL), 200);
    expect_error(on("PUT", sid, "/extend", "{\"days\":5,\"reason\":\"x\"}", &doc), &doc, 409, "INVALID_STATE", NULL,
                 "ended");
    DM_EXPECT_SQL(url, "3", "SELECT count(*) FROM audit_log WHERE action = 'subscription.extend'");
}
END_TEST

/* ---- the period-end job in the server ---------------------------------- */

START_TEST(server_job_renews_covered_and_suspends_uncovered_period_ends)
{
    char rich[37], poor[37], renewed[37], suspended[37], gone[37];
    free(user_with("rich@example.id", 50000, rich));
    free(user_with("poor@example.id", 100, poor));
    paid_sub(rich, basic, 31, renewed);   /* period ended a day ago, 30000 covered */
    paid_sub(poor, basic, 31, suspended); /* not covered */
    paid_sub(poor, blog, 34, gone);       /* ended 4 days ago: past the 3-day grace */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT status FROM subscriptions WHERE id = '%s'", suspended);
    dm_test_db_wait(url, "SUSPENDED", 20, sql);
    snprintf(sql, sizeof sql, "SELECT status FROM subscriptions WHERE id = '%s'", gone);
    dm_test_db_wait(url, "EXPIRED", 20, sql);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM transactions WHERE type = 'RENEWAL' AND subscription_id = '%s'",
             renewed);
    dm_test_db_wait(url, "1", 20, sql);
    DM_EXPECT_SQL(url, "ACTIVE true", "SELECT status || ' ' || (current_period_end > now() + interval '28 days') "
                                   "FROM subscriptions WHERE id = '%s'", renewed);
    ck_assert_int_eq(balance_of(rich), 20000);
    ck_assert_int_eq(balance_of(poor), 100);
    DM_EXPECT_SQL(url, "t",
                  "SELECT abs(extract(epoch FROM grace_until - current_period_end - interval '3 days')) < 0.001 "
                  "FROM subscriptions WHERE id = '%s'", suspended);
    expect_jobs("stop", suspended, "1");
    expect_jobs("terminate", gone, "1");
    expect_used(basic, "2");
    expect_used(blog, "0");
    /* The admin view shows it; extending resumes it. */
    json_t *doc = NULL;
    ck_assert_int_eq(call("GET", "/api/admin/subscriptions?status=SUSPENDED", admin, NULL, &doc), 200);
    ck_assert_int_eq(jint(doc, "pagination.total"), 1);
    ck_assert_str_eq(jstr(doc, "data.0.id"), suspended);
    json_decref(doc);
    ck_assert_int_eq(on("PUT", suspended, "/extend", "{\"days\":30,\"reason\":\"goodwill\"}", &doc), 200);
    ck_assert_str_eq(jstr(doc, "data.status"), "ACTIVE");
    json_decref(doc);
    expect_jobs("start", suspended, "1");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("admin_subscriptions");
    TCase *tc = tcase_create("admin_subscriptions");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, user_gets_403_and_anonymous_401_on_all_seven_routes);
    tcase_add_test(tc, list_filters_by_user_status_and_service_and_detail_finds_one);
    tcase_add_test(tc, bonus_is_free_marked_with_a_zero_bonus_row_and_audited);
    tcase_add_test(tc, admin_upgrade_charges_the_prorated_difference_unless_bonus);
    tcase_add_test(tc, force_cancel_refunds_by_policy_once);
    tcase_add_test(tc, force_cancel_prorated_refunds_in_full_when_the_instance_never_ran);
    tcase_add_test(tc, force_cancel_at_period_end_and_its_refusals);
    tcase_add_test(tc, prorating_counts_time_paid_ahead_as_the_user_routes_do);
    tcase_add_test(tc, refunds_never_exceed_what_was_paid);
    tcase_add_test(tc, malformed_ids_are_404_and_nulls_are_400);
    tcase_add_test(tc, parallel_force_cancels_and_user_cancels_refund_once);
    tcase_add_test(tc, expire_ends_now_and_only_once);
    tcase_add_test(tc, extend_moves_the_end_and_resumes_a_suspended_one);
    suite_add_tcase(s, tc);
    TCase *clock = tcase_create("period_end_job");
    tcase_add_checked_fixture(clock, setup_clock, teardown);
    tcase_set_timeout(clock, 120);
    tcase_add_test(clock, server_job_renews_covered_and_suspends_uncovered_period_ends);
    suite_add_tcase(s, clock);
    return s;
}

DM_TEST_MAIN(make_suite)
