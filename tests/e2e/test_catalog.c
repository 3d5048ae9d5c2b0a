/*
 * test_catalog.c — the catalog through the real binary: 401/403 on every
 * admin catalog route, creating, updating, deactivating and reactivating
 * categories, services and plans, what the public routes then show
 * (filters, search, pagination), every validation refusal and conflict,
 * the audit rows each change leaves, and `dermaga seed` as a command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dm_test.h"
#include "e2e_instances.h"
#include "e2e.h"
#include "e2e_auth.h"
#include "testdb.h"

#define ADMIN_EMAIL "root@example.id"
#define ADMIN_PASS "admin-pass-123"
#define NO_SUCH_ID "6f1c2a7e-3b0d-4c8e-9a51-2d4e6f8a0b1c"

static char *url;
static dm_e2e_server srv;
static char *tok; /* the administrator's access token */

/* One request; returns the status and (when json_out) the parsed body. */
static int call(const char *method, const char *path, const char *token, const char *body, json_t **json_out)
{
    return dm_e2e_call_port(srv.port, method, path, token, body, json_out);
}

/* Expect status; return the envelope's data (new reference). */
static json_t *expect(int want, const char *method, const char *path, const char *body)
{
    json_t *doc = NULL;
    int st = call(method, path, tok, body, &doc);
    ck_assert_msg(st == want, "%s %s %s: status %d, want %d", method, path, body ? body : "", st, want);
    json_t *data = json_incref(json_object_get(doc, "data"));
    json_decref(doc);
    return data;
}

/* Expect an error with status and code; when field is given, the first
 * detail must name it. */
static void refused(int want, const char *code, const char *field, const char *method, const char *path,
                    const char *body)
{
    json_t *doc = NULL;
    int st = call(method, path, tok, body, &doc);
    ck_assert_msg(st == want, "%s %s %s: status %d, want %d", method, path, body ? body : "", st, want);
    json_t *e = json_object_get(doc, "error");
    const char *got = json_string_value(json_object_get(e, "code"));
    ck_assert_msg(got != NULL && strcmp(got, code) == 0, "%s %s %s: code %s, want %s", method, path,
                  body ? body : "", got ? got : "(none)", code);
    if (field != NULL) {
        const char *f = json_string_value(json_object_get(json_array_get(json_object_get(e, "details"), 0), "field"));
        ck_assert_msg(f != NULL && strcmp(f, field) == 0, "%s %s %s: field %s, want %s", method, path,
                      body ? body : "", f ? f : "(none)", field);
    }
    json_decref(doc);
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    ck_assert_msg(s != NULL, "member %s missing", k);
    return s;
}

static long long num(const json_t *o, const char *k)
{
    ck_assert_msg(json_is_integer(json_object_get(o, k)), "member %s is not an integer", k);
    return json_integer_value(json_object_get(o, k));
}

static char *login(const char *email, const char *password, bool do_register)
{
    return dm_e2e_session_port(srv.port, email, password, do_register, NULL);
}

/* plugins: the default ones and service-template (a service names the
 * service plugin that renders it, which must be loaded). New. */
static json_t *with_templates(void)
{
    json_t *p = json_pack("{s:[{s:s},{s:s},{s:s,s:{s:s}}]}", "enabled", "name", "auth-local", "name",
                          "payment-manual", "name", "service-template", "config", "dir",
                          DM_SOURCE_DIR "/config/services");
    ck_assert_ptr_nonnull(p);
    return p;
}

static void setup(void)
{
    url = dm_test_db_create_migrated("catalog_e2e");
    json_t *o = json_pack("{s:{s:s},s:{s:s,s:s},s:o}", "database", "url", url, "auth", "adminEmail",
                          ADMIN_EMAIL, "adminPassword", ADMIN_PASS, "plugins", with_templates());
    dm_e2e_server_start(&srv, o);
    tok = login(ADMIN_EMAIL, ADMIN_PASS, false);
}

static void teardown(void)
{
    free(tok);
    tok = NULL;
    dm_e2e_server_finish(&srv);
    dm_e2e_server_free(&srv);
    dm_test_db_drop(url);
    free(url);
}

/* POST and return the new row's id into id. */
static void create(const char *path, const char *body, char id[37])
{
    json_t *d = expect(201, "POST", path, body);
    snprintf(id, 37, "%s", str(d, "id"));
    json_decref(d);
}

static void path_of(char *out, size_t n, const char *base, const char *id)
{
    snprintf(out, n, "%s/%s", base, id);
}

/* A category "cat-<tag>", its service "svc-<tag>" and one plan; ids out. */
static void make_tree(const char *tag, const char *svc_name, char cat[37], char svc[37], char plan[37])
{
    char body[1024];
    snprintf(body, sizeof body, "{\"slug\":\"cat-%s\",\"name\":\"Category %s\"}", tag, tag);
    create("/api/admin/categories", body, cat);
    snprintf(body, sizeof body, "{\"categoryId\":\"%s\",\"slug\":\"svc-%s\",\"name\":\"%s\",\"description\":"
             "\"About %s\",\"serviceType\":\"service-template\",\"template\":\"redis\"}", cat, tag, svc_name, tag);
    create("/api/admin/services", body, svc);
    snprintf(body, sizeof body, "{\"serviceId\":\"%s\",\"name\":\"Basic\",\"price\":25000,\"cpuMillicores\":250,"
             "\"memoryMb\":256,\"storageGb\":1,\"totalQuota\":50,\"features\":[\"a\",\"b\"]}", svc);
    create("/api/admin/plans", body, plan);
}

START_TEST(user_gets_403_and_anonymous_401_on_every_admin_catalog_route)
{
    char *user = login("user@example.id", "user-pass-123", true);
    const char *id = NO_SUCH_ID;
    const char *bases[] = { "/api/admin/categories", "/api/admin/services", "/api/admin/plans" };
    for (int b = 0; b < 3; b++) {
        char one[128];
        path_of(one, sizeof one, bases[b], id);
        struct { const char *m, *p, *body; } routes[] = {
            { "GET", bases[b], NULL }, { "GET", one, NULL }, { "POST", bases[b], "{\"name\":\"X\"}" },
            { "PUT", one, "{\"name\":\"X\"}" }, { "DELETE", one, NULL },
        };
        for (int i = 0; i < 5; i++) {
            json_t *doc = NULL;
            int st = call(routes[i].m, routes[i].p, user, routes[i].body, &doc);
            ck_assert_msg(st == 403, "%s %s as USER: %d", routes[i].m, routes[i].p, st);
            ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "error"), "code")), "FORBIDDEN");
            json_decref(doc);
            st = call(routes[i].m, routes[i].p, NULL, routes[i].body, NULL);
            ck_assert_msg(st == 401, "%s %s without a token: %d", routes[i].m, routes[i].p, st);
        }
    }
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM categories");
    free(user);
}
END_TEST

START_TEST(created_rows_appear_in_the_public_catalog)
{
    char cat[37], svc[37], plan[37];
    make_tree("x", "Redis Cache", cat, svc, plan);
    json_t *d = expect(200, "GET", "/api/catalog/categories", NULL);
    ck_assert_int_eq(json_array_size(d), 1);
    json_t *c = json_array_get(d, 0);
    ck_assert_str_eq(str(c, "id"), cat);
    ck_assert_str_eq(str(c, "slug"), "cat-x");
    ck_assert_int_eq(num(c, "serviceCount"), 1);
    json_decref(d);
    d = expect(200, "GET", "/api/catalog/services/svc-x", NULL);
    ck_assert_str_eq(str(d, "name"), "Redis Cache");
    ck_assert_str_eq(str(d, "serviceType"), "service-template");
    ck_assert_str_eq(str(d, "template"), "redis");
    ck_assert_str_eq(str(json_object_get(d, "category"), "slug"), "cat-x");
    json_t *p = json_array_get(json_object_get(d, "plans"), 0);
    ck_assert_str_eq(str(p, "id"), plan);
    ck_assert_str_eq(str(p, "slug"), "basic"); /* derived from the name */
    ck_assert_int_eq(num(p, "price"), 25000);
    ck_assert_int_eq(num(p, "billingPeriodDays"), 30);
    ck_assert_int_eq(num(p, "cpuMillicores"), 250);
    ck_assert_int_eq(num(p, "memoryMb"), 256);
    ck_assert_int_eq(num(p, "storageGb"), 1);
    ck_assert_int_eq(num(p, "totalQuota"), 50);
    ck_assert_int_eq(num(p, "usedQuota"), 0);
    ck_assert_int_eq(num(p, "available"), 50);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(p, "features"), 1)), "b");
    ck_assert(json_is_true(json_object_get(p, "isActive")));
    json_decref(d);
    /* available follows used_quota. */
    char *r = dm_test_db_scalarf(url, "UPDATE plans SET used_quota = 20 WHERE id = '%s' RETURNING 1", plan);
    free(r);
    d = expect(200, "GET", "/api/catalog/services/svc-x/plans", NULL);
    ck_assert_int_eq(json_array_size(d), 1);
    ck_assert_int_eq(num(json_array_get(d, 0), "available"), 30);
    json_decref(d);
    refused(404, "NOT_FOUND", NULL, "GET", "/api/catalog/services/nope", NULL);
    refused(404, "NOT_FOUND", NULL, "GET", "/api/catalog/services/nope/plans", NULL);
}
END_TEST

START_TEST(updates_are_partial_and_audited)
{
    char cat[37], svc[37], plan[37], p[128];
    make_tree("u", "Postgres", cat, svc, plan);
    path_of(p, sizeof p, "/api/admin/plans", plan);
    json_t *d = expect(200, "PUT", p, "{\"price\":30000,\"features\":[\"z\"],\"reason\":\"price review\"}");
    ck_assert_int_eq(num(d, "price"), 30000);
    ck_assert_int_eq(num(d, "memoryMb"), 256); /* untouched */
    ck_assert_str_eq(str(d, "name"), "Basic");
    json_decref(d);
    path_of(p, sizeof p, "/api/admin/services", svc);
    d = expect(200, "PUT", p, "{\"name\":\"PostgreSQL\",\"template\":\"postgresql\"}");
    ck_assert_str_eq(str(d, "name"), "PostgreSQL");
    ck_assert_str_eq(str(d, "slug"), "svc-u");
    json_decref(d);
    path_of(p, sizeof p, "/api/admin/categories", cat);
    d = expect(200, "PUT", p, "{\"description\":\"Relational\",\"sortOrder\":5}");
    ck_assert_str_eq(str(d, "description"), "Relational");
    ck_assert_int_eq(num(d, "sortOrder"), 5);
    json_decref(d);
    DM_EXPECT_SQL(url, "3", "SELECT count(*) FROM audit_log WHERE action LIKE 'catalog.%%.create'");
    DM_EXPECT_SQL(url, "1 1 1", "SELECT (SELECT count(*) FROM audit_log WHERE action = 'catalog.plan.update') || ' ' || "
                                "(SELECT count(*) FROM audit_log WHERE action = 'catalog.service.update') || ' ' || "
                                "(SELECT count(*) FROM audit_log WHERE action = 'catalog.category.update')");
    char q[200];
    snprintf(q, sizeof q, "/api/admin/audit?targetType=plan&targetId=%s", plan);
    d = expect(200, "GET", q, NULL);
    json_t *row = json_array_get(d, 0);
    ck_assert_str_eq(str(row, "action"), "catalog.plan.update");
    ck_assert_str_eq(str(row, "reason"), "price review");
    ck_assert_str_eq(str(row, "actor"), ADMIN_EMAIL);
    ck_assert_int_eq(num(json_object_get(row, "before"), "price"), 25000);
    ck_assert_int_eq(num(json_object_get(row, "after"), "price"), 30000);
    ck_assert_str_eq(str(json_array_get(d, 1), "action"), "catalog.plan.create");
    json_decref(d);
}
END_TEST

START_TEST(deactivation_hides_rows_and_reactivation_restores_them)
{
    char cat[37], svc[37], plan[37], p[160];
    make_tree("d", "Redis", cat, svc, plan);
    path_of(p, sizeof p, "/api/admin/plans", plan);
    json_t *d = expect(200, "DELETE", p, NULL);
    ck_assert(json_is_false(json_object_get(d, "isActive")));
    json_decref(d);
    d = expect(200, "GET", "/api/catalog/services/svc-d/plans", NULL);
    ck_assert_int_eq(json_array_size(d), 0);
    json_decref(d);
    path_of(p, sizeof p, "/api/admin/services", svc);
    snprintf(p + strlen(p), sizeof p - strlen(p), "?reason=retired");
    json_decref(expect(200, "DELETE", p, NULL));
    refused(404, "NOT_FOUND", NULL, "GET", "/api/catalog/services/svc-d", NULL);
    d = expect(200, "GET", "/api/catalog/categories", NULL);
    ck_assert_int_eq(num(json_array_get(d, 0), "serviceCount"), 0);
    json_decref(d);
    path_of(p, sizeof p, "/api/admin/categories", cat);
    json_decref(expect(200, "DELETE", p, NULL));
    d = expect(200, "GET", "/api/catalog/categories", NULL);
    ck_assert_int_eq(json_array_size(d), 0);
    json_decref(d);
    /* Admins still see every row; nothing was deleted. */
    d = expect(200, "GET", "/api/admin/plans", NULL);
    ck_assert_int_eq(json_array_size(d), 1);
    ck_assert(json_is_false(json_object_get(json_array_get(d, 0), "isActive")));
    json_decref(d);
    DM_EXPECT_SQL(url, "1 1 1", "SELECT (SELECT count(*) FROM categories) || ' ' || (SELECT count(*) FROM services) "
                                "|| ' ' || (SELECT count(*) FROM plans)");
    snprintf(p, sizeof p, "/api/admin/plans?serviceId=%s", svc);
    d = expect(200, "GET", p, NULL);
    ck_assert_int_eq(json_array_size(d), 1);
    json_decref(d);
    d = expect(200, "GET", "/api/admin/plans?serviceId=" NO_SUCH_ID, NULL);
    ck_assert_int_eq(json_array_size(d), 0);
    json_decref(d);
    path_of(p, sizeof p, "/api/admin/services", svc);
    d = expect(200, "GET", p, NULL);
    ck_assert(json_is_false(json_object_get(d, "isActive")));
    ck_assert_str_eq(str(d, "categoryId"), cat);
    json_decref(d);
    DM_EXPECT_SQL(url, "retired", "SELECT reason FROM audit_log WHERE action = 'catalog.service.deactivate'");
    DM_EXPECT_SQL(url, "true false", "SELECT (before->>'isActive') || ' ' || (after->>'isActive') FROM audit_log "
                                     "WHERE action = 'catalog.category.deactivate'");
    /* Reactivate all three: the service is public again with its plan. */
    const char *bases[] = { "/api/admin/categories", "/api/admin/services", "/api/admin/plans" };
    const char *ids[] = { cat, svc, plan };
    for (int i = 0; i < 3; i++) {
        path_of(p, sizeof p, bases[i], ids[i]);
        json_decref(expect(200, "PUT", p, "{\"isActive\":true}"));
    }
    d = expect(200, "GET", "/api/catalog/services/svc-d", NULL);
    ck_assert_int_eq(json_array_size(json_object_get(d, "plans")), 1);
    json_decref(d);
}
END_TEST

/* n services in category "cat-<tag>" named "<prefix> <i>". */
static void many(const char *tag, const char *prefix, int n)
{
    char cat[37], id[37], body[512];
    snprintf(body, sizeof body, "{\"slug\":\"cat-%s\",\"name\":\"%s\"}", tag, tag);
    create("/api/admin/categories", body, cat);
    for (int i = 0; i < n; i++) {
        snprintf(body, sizeof body, "{\"categoryId\":\"%s\",\"name\":\"%s %d\",\"serviceType\":\"service-template\","
                 "\"template\":\"t\",\"sortOrder\":%d}", cat, prefix, i, i);
        create("/api/admin/services", body, id);
    }
}

START_TEST(services_filter_search_and_paginate)
{
    many("db", "Postgre SQL", 3);
    many("cache", "Key_Value%Store", 2);
    json_t *doc = NULL;
    ck_assert_int_eq(call("GET", "/api/catalog/services?page=2&limit=2", NULL, NULL, &doc), 200);
    json_t *pg = json_object_get(doc, "pagination");
    ck_assert_int_eq(num(pg, "total"), 5);
    ck_assert_int_eq(num(pg, "totalPages"), 3);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "data")), 2);
    json_decref(doc);
    json_t *d = expect(200, "GET", "/api/catalog/services?category=cat-cache", NULL);
    ck_assert_int_eq(json_array_size(d), 2);
    ck_assert_str_eq(str(json_object_get(json_array_get(d, 0), "category"), "slug"), "cat-cache");
    ck_assert_str_eq(str(json_array_get(d, 0), "slug"), "key-value-store-0");
    json_decref(d);
    d = expect(200, "GET", "/api/catalog/services?search=sql%201", NULL); /* "sql 1", any case */
    ck_assert_int_eq(json_array_size(d), 1);
    ck_assert_str_eq(str(json_array_get(d, 0), "name"), "Postgre SQL 1");
    json_decref(d);
    /* '%' and '_' are plain characters in a search. */
    d = expect(200, "GET", "/api/catalog/services?search=e%25s", NULL);
    ck_assert_int_eq(json_array_size(d), 2);
    json_decref(d);
    d = expect(200, "GET", "/api/catalog/services?search=%25", NULL);
    ck_assert_int_eq(json_array_size(d), 2);
    json_decref(d);
    d = expect(200, "GET", "/api/catalog/services?search=_&category=cat-db", NULL);
    ck_assert_int_eq(json_array_size(d), 0);
    json_decref(d);
    d = expect(200, "GET", "/api/catalog/services?category=nope", NULL);
    ck_assert_int_eq(json_array_size(d), 0);
    json_decref(d);
    const char *bad[] = { "page=0", "page=x", "limit=0", "limit=101", "limit=5x", "page=-1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[96];
        snprintf(path, sizeof path, "/api/catalog/services?%s", bad[i]);
        refused(400, "VALIDATION_ERROR", strncmp(bad[i], "page", 4) == 0 ? "page" : "limit", "GET", path, NULL);
    }
    refused(400, "VALIDATION_ERROR", "limit", "GET", "/api/admin/services?limit=1000", NULL);
    /* Admin lists filter by parent. */
    doc = NULL;
    ck_assert_int_eq(call("GET", "/api/admin/services?limit=1", tok, NULL, &doc), 200);
    ck_assert_int_eq(num(json_object_get(doc, "pagination"), "total"), 5);
    json_decref(doc);
}
END_TEST

START_TEST(bodies_are_validated_field_by_field)
{
    char cat[37], svc[37], plan[37], p[160], body[512];
    make_tree("v", "Valid", cat, svc, plan);
    const char *C = "/api/admin/categories", *S = "/api/admin/services", *P = "/api/admin/plans";
    refused(400, "VALIDATION_ERROR", "colour", "POST", C, "{\"name\":\"A\",\"colour\":\"red\"}");
    refused(400, "VALIDATION_ERROR", "name", "POST", C, "{\"slug\":\"a\"}");
    refused(400, "VALIDATION_ERROR", "name", "POST", C, "{\"name\":\"   \"}");
    refused(400, "VALIDATION_ERROR", "name", "POST", C, "{\"name\":7}");
    refused(400, "VALIDATION_ERROR", "slug", "POST", C, "{\"name\":\"A\",\"slug\":\"Has Space\"}");
    refused(400, "VALIDATION_ERROR", "slug", "POST", C, "{\"name\":\"A\",\"slug\":\"-lead\"}");
    refused(400, "VALIDATION_ERROR", "slug", "POST", C, "{\"name\":\"!!!\"}");
    refused(400, "VALIDATION_ERROR", "sortOrder", "POST", C, "{\"name\":\"A\",\"sortOrder\":1.5}");
    refused(400, "VALIDATION_ERROR", "reason", "POST", C, "{\"name\":\"A\",\"reason\":\"\"}");
    refused(400, "VALIDATION_ERROR", "reason", "POST", C, "{\"name\":\"A\",\"reason\":\"   \"}");
    refused(400, "VALIDATION_ERROR", "isActive", "POST", C, "{\"name\":\"A\",\"isActive\":\"yes\"}");
    refused(400, "VALIDATION_ERROR", "categoryId", "POST", S,
            "{\"categoryId\":\"nope\",\"name\":\"S\",\"serviceType\":\"service-template\",\"template\":\"t\"}");
    refused(400, "VALIDATION_ERROR", "categoryId", "POST", S,
            "{\"categoryId\":\"" NO_SUCH_ID "\",\"name\":\"S\",\"serviceType\":\"service-template\",\"template\":\"t\"}");
    snprintf(body, sizeof body, "{\"categoryId\":\"%s\",\"name\":\"S\",\"serviceType\":\"Bad Type\",\"template\":\"t\"}", cat);
    refused(400, "VALIDATION_ERROR", "serviceType", "POST", S, body);
    snprintf(body, sizeof body, "{\"categoryId\":\"%s\",\"name\":\"S\",\"serviceType\":\"service-template\"}", cat);
    refused(400, "VALIDATION_ERROR", "template", "POST", S, body);
    refused(400, "VALIDATION_ERROR", "serviceId", "POST", P,
            "{\"serviceId\":\"" NO_SUCH_ID "\",\"name\":\"P\",\"price\":1,\"cpuMillicores\":1,\"memoryMb\":1,\"totalQuota\":1}");
    struct { const char *field, *frag; } plan_bad[] = {
        { "price", "\"price\":-1" }, { "price", "\"price\":\"100\"" }, { "price", "\"price\":1000000000001" },
        { "billingPeriodDays", "\"billingPeriodDays\":0" }, { "billingPeriodDays", "\"billingPeriodDays\":3661" },
        { "cpuMillicores", "\"cpuMillicores\":0" }, { "memoryMb", "\"memoryMb\":4194305" },
        { "storageGb", "\"storageGb\":-1" }, { "totalQuota", "\"totalQuota\":1000001" },
        { "features", "\"features\":\"fast\"" }, { "features", "\"features\":[\"\"]" },
    };
    for (size_t i = 0; i < sizeof plan_bad / sizeof plan_bad[0]; i++) {
        /* The bad fragment comes last, so it overrides nothing and is the only fault. */
        const char *f = plan_bad[i].field;
        snprintf(body, sizeof body, "{\"serviceId\":\"%s\",\"name\":\"P\"%s%s%s%s%s,%s}", svc,
                 strcmp(f, "price") ? ",\"price\":1" : "", strcmp(f, "cpuMillicores") ? ",\"cpuMillicores\":1" : "",
                 strcmp(f, "memoryMb") ? ",\"memoryMb\":1" : "", strcmp(f, "totalQuota") ? ",\"totalQuota\":1" : "",
                 "", plan_bad[i].frag);
        refused(400, "VALIDATION_ERROR", f, "POST", P, body);
    }
    path_of(p, sizeof p, S, svc);
    refused(400, "VALIDATION_ERROR", "categoryId", "PUT", p, "{\"categoryId\":\"" NO_SUCH_ID "\"}");
    path_of(p, sizeof p, P, plan);
    refused(400, "VALIDATION_ERROR", "serviceId", "PUT", p, "{\"serviceId\":\"" NO_SUCH_ID "\"}");
    refused(400, "VALIDATION_ERROR", "usedQuota", "PUT", p, "{\"usedQuota\":0}");
    path_of(p, sizeof p, C, cat);
    refused(400, "VALIDATION_ERROR", NULL, "PUT", p, "{}");
    refused(400, "VALIDATION_ERROR", NULL, "PUT", p, "{\"reason\":\"nothing else\"}");
    refused(404, "NOT_FOUND", NULL, "PUT", "/api/admin/categories/not-a-uuid", "{\"name\":\"A\"}");
    refused(404, "NOT_FOUND", NULL, "PUT", "/api/admin/categories/" NO_SUCH_ID, "{\"name\":\"A\"}");
    refused(404, "NOT_FOUND", NULL, "DELETE", "/api/admin/plans/" NO_SUCH_ID, NULL);
    refused(404, "NOT_FOUND", NULL, "GET", "/api/admin/services/x", NULL);
    DM_EXPECT_SQL(url, "1 1 1", "SELECT (SELECT count(*) FROM categories) || ' ' || (SELECT count(*) FROM services) "
                                "|| ' ' || (SELECT count(*) FROM plans)");
    DM_EXPECT_SQL(url, "3", "SELECT count(*) FROM audit_log WHERE action LIKE 'catalog.%%'");
}
END_TEST

START_TEST(slug_and_quota_conflicts_are_409)
{
    char cat[37], svc[37], plan[37], p[160], body[512];
    make_tree("k", "Kafka", cat, svc, plan);
    refused(409, "SLUG_TAKEN", "slug", "POST", "/api/admin/categories", "{\"slug\":\"cat-k\",\"name\":\"Again\"}");
    refused(409, "SLUG_TAKEN", "slug", "POST", "/api/admin/categories", "{\"name\":\"Cat K\"}"); /* derived */
    snprintf(body, sizeof body, "{\"serviceId\":\"%s\",\"name\":\"Basic\",\"price\":1,\"cpuMillicores\":1,"
             "\"memoryMb\":1,\"totalQuota\":1}", svc);
    refused(409, "SLUG_TAKEN", "slug", "POST", "/api/admin/plans", body);
    char other[37];
    create("/api/admin/categories", "{\"name\":\"Other\"}", other);
    path_of(p, sizeof p, "/api/admin/categories", other);
    refused(409, "SLUG_TAKEN", "slug", "PUT", p, "{\"slug\":\"cat-k\"}");
    char *r = dm_test_db_scalarf(url, "UPDATE plans SET used_quota = 30 WHERE id = '%s' RETURNING 1", plan);
    free(r);
    path_of(p, sizeof p, "/api/admin/plans", plan);
    refused(409, "QUOTA_IN_USE", "totalQuota", "PUT", p, "{\"totalQuota\":29}");
    json_t *d = expect(200, "PUT", p, "{\"totalQuota\":30}");
    ck_assert_int_eq(num(d, "available"), 0);
    json_decref(d);
    DM_EXPECT_SQL(url, "30 30", "SELECT total_quota || ' ' || used_quota FROM plans WHERE id = '%s'", plan);
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM audit_log WHERE action = 'catalog.plan.update'");
    DM_EXPECT_SQL(url, "2", "SELECT count(*) FROM categories");
}
END_TEST

/* Run `dermaga --config cfg seed [file]`; output into *out (caller frees). */
static int run_seed(const char *cfg, const char *file, char **out)
{
    return dm_e2e_run_command(cfg, "seed", file, out);
}

START_TEST(seed_command_loads_the_demo_catalog_for_the_public_routes)
{
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s/seed-config.json", srv.dir);
    json_t *c = json_pack("{s:{s:s,s:s},s:o}", "database", "url", url, "migrationsDir", DM_SOURCE_DIR "/migrations",
                          "plugins", with_templates());
    ck_assert_int_eq(json_dump_file(c, cfg, 0), 0);
    json_decref(c);
    char *out = NULL;
    int rc = run_seed(cfg, NULL, &out); /* default: catalogPath = <source>/config/catalog.json */
    ck_assert_msg(rc == 0, "seed exited %d: %s", rc, out);
    ck_assert_msg(strstr(out, "5 categories, 5 services, 15 plans") != NULL, "report: %s", out);
    free(out);
    rc = run_seed(cfg, DM_SOURCE_DIR "/config/catalog.json", &out);
    ck_assert_msg(rc == 0 && strstr(out, "0 categories, 0 services, 0 plans") != NULL, "second run %d: %s", rc, out);
    free(out);
    rc = run_seed(cfg, cfg, &out); /* a config file is not a catalog */
    ck_assert_msg(rc == 1 && strstr(out, cfg) != NULL, "bad file must fail naming it, %d: %s", rc, out);
    free(out);
    json_t *d = expect(200, "GET", "/api/catalog/categories", NULL);
    ck_assert_int_eq(json_array_size(d), 5);
    json_decref(d);
    d = expect(200, "GET", "/api/catalog/services?search=kuma", NULL);
    ck_assert_int_eq(json_array_size(d), 1);
    json_t *plans = json_object_get(json_array_get(d, 0), "plans");
    ck_assert_int_eq(json_array_size(plans), 3);
    ck_assert_str_eq(str(json_array_get(plans, 0), "name"), "Basic");
    ck_assert_msg(num(json_array_get(plans, 0), "price") < num(json_array_get(plans, 2), "price"),
                  "plans are ordered Basic to Pro");
    json_decref(d);
}
END_TEST

/* Query and path text is percent-decoded bytes: %ff is not UTF-8, and
 * PostgreSQL refuses such a parameter with an error. Each of these was a
 * 500 INTERNAL; they are the client's mistakes (400) or a miss (404). */
START_TEST(bad_utf8_and_non_uuid_filters_are_400_or_404_not_500)
{
    char cat[37], svc[37], plan[37], p[160];
    make_tree("u", "Utf Checked", cat, svc, plan);
    refused(400, "VALIDATION_ERROR", "search", "GET", "/api/catalog/services?search=%ff", NULL);
    refused(400, "VALIDATION_ERROR", "search", "GET", "/api/catalog/services?search=%c0%af", NULL); /* overlong */
    refused(400, "VALIDATION_ERROR", "search", "GET", "/api/catalog/services?search=%ed%a0%80", NULL); /* surrogate */
    refused(400, "VALIDATION_ERROR", "category", "GET", "/api/catalog/services?category=%ff", NULL);
    refused(404, "NOT_FOUND", NULL, "GET", "/api/catalog/services/%ff", NULL);
    refused(404, "NOT_FOUND", NULL, "GET", "/api/catalog/services/%ff/plans", NULL);
    refused(400, "VALIDATION_ERROR", "categoryId", "GET", "/api/admin/services?categoryId=%ff", NULL);
    refused(400, "VALIDATION_ERROR", "categoryId", "GET", "/api/admin/services?categoryId=cat-u", NULL);
    refused(400, "VALIDATION_ERROR", "serviceId", "GET", "/api/admin/plans?serviceId=%ff", NULL);
    /* Valid multi-byte text still searches. */
    json_t *d = expect(200, "GET", "/api/catalog/services?search=%C3%A9t%C3%A9", NULL);
    ck_assert_int_eq(json_array_size(d), 0);
    json_decref(d);
    d = expect(200, "GET", "/api/catalog/services?search=checked", NULL);
    ck_assert_int_eq(json_array_size(d), 1);
    json_decref(d);
    /* The deactivation's reason goes to the audit row: refused, nothing changes. */
    snprintf(p, sizeof p, "/api/admin/categories/%s?reason=%%ff", cat);
    refused(400, "VALIDATION_ERROR", "reason", "DELETE", p, NULL);
    char *active = dm_test_db_scalarf(url, "SELECT is_active FROM categories WHERE id = '%s'", cat);
    ck_assert_msg(strcmp(active, "t") == 0, "category deactivated despite the 400: %s", active);
    free(active);
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM audit_log WHERE action = 'catalog.category.deactivate'");
    snprintf(p, sizeof p, "/api/admin/categories/%s?reason=caf%%C3%%A9%%20closed", cat);
    d = expect(200, "DELETE", p, NULL);
    json_decref(d);
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM audit_log WHERE action = 'catalog.category.deactivate' "
                            "AND reason = 'caf\u00e9 closed'");
}
END_TEST

/* reason is optional: null means "none", as on the other admin routes
 * (it was refused with "reason: is required"). */
START_TEST(a_null_reason_is_no_reason)
{
    json_t *d = expect(201, "POST", "/api/admin/categories", "{\"name\":\"Nul Reason\",\"reason\":null}");
    ck_assert_str_eq(str(d, "slug"), "nul-reason");
    char p[160];
    snprintf(p, sizeof p, "/api/admin/categories/%s", str(d, "id"));
    json_decref(d);
    d = expect(200, "PUT", p, "{\"sortOrder\":3,\"reason\":null}");
    ck_assert_int_eq(num(d, "sortOrder"), 3);
    json_decref(d);
    refused(400, "VALIDATION_ERROR", "reason", "PUT", p, "{\"sortOrder\":4,\"reason\":\"\"}");
    refused(400, "VALIDATION_ERROR", "reason", "PUT", p, "{\"sortOrder\":4,\"reason\":7}");
    DM_EXPECT_SQL(url, "2",
                  "SELECT count(*) FROM audit_log WHERE action LIKE 'catalog.category.%%' AND reason IS NULL");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("catalog");
    TCase *tc = tcase_create("catalog");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, user_gets_403_and_anonymous_401_on_every_admin_catalog_route);
    tcase_add_test(tc, created_rows_appear_in_the_public_catalog);
    tcase_add_test(tc, updates_are_partial_and_audited);
    tcase_add_test(tc, deactivation_hides_rows_and_reactivation_restores_them);
    tcase_add_test(tc, services_filter_search_and_paginate);
    tcase_add_test(tc, bodies_are_validated_field_by_field);
    tcase_add_test(tc, slug_and_quota_conflicts_are_409);
    tcase_add_test(tc, seed_command_loads_the_demo_catalog_for_the_public_routes);
    tcase_add_test(tc, bad_utf8_and_non_uuid_filters_are_400_or_404_not_500);
    tcase_add_test(tc, a_null_reason_is_no_reason);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
