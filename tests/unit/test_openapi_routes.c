/*
 * test_openapi_routes.c — docs/openapi.yaml and the router agree: every
 * route the server registers is documented under its path and method, and
 * every documented operation is a route the server has. A new route
 * without documentation, or documentation of a route that is gone, fails.
 * And every route that moves money honours Idempotency-Key, as its
 * documentation says.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dm_test.h"
#include "app/routes.h"
#include "http/router.h"
#include "ops/openapi.h"

static json_t *load_paths(void)
{
    char *text = NULL;
    size_t len = 0;
    dm_err_t err = { 0 };
    ck_assert_msg(dm__openapi_load(DM_SOURCE_DIR "/docs/openapi.yaml", &text, &len, &err) == 0, "load: %s", err.msg);
    json_t *doc = json_loadb(text, len, 0, NULL);
    free(text);
    ck_assert_msg(doc != NULL, "openapi JSON parses");
    json_t *paths = json_incref(json_object_get(doc, "paths"));
    json_decref(doc);
    ck_assert_msg(json_is_object(paths), "paths is an object");
    return paths;
}

/* "/api/x/:id/y" → "/api/x/{id}/y". */
static void to_openapi(const char *pattern, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = pattern; *p != '\0' && n + 2 < cap; p++) {
        if (*p == ':' && (p == pattern || p[-1] == '/')) {
            size_t len = strcspn(p + 1, "/");
            n += (size_t)snprintf(out + n, cap - n, "{%.*s}", (int)len, p + 1);
            p += len;
        } else {
            out[n++] = *p;
        }
    }
    out[n < cap ? n : cap - 1] = '\0';
}

static void lower(const char *in, char *out, size_t cap)
{
    size_t i = 0;
    for (; in[i] != '\0' && i + 1 < cap; i++)
        out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
    out[i] = '\0';
}

START_TEST(every_route_is_documented)
{
    dm_router rt;
    dm__router_init(&rt);
    ck_assert_int_eq(dm__routes_add_all(&rt), 0);
    json_t *paths = load_paths();
    int missing = 0;
    for (size_t i = 0; i < rt.n_routes; i++) {
        char path[256], method[16];
        to_openapi(rt.routes[i].pattern, path, sizeof path);
        lower(rt.routes[i].method, method, sizeof method);
        if (json_object_get(json_object_get(paths, path), method) == NULL) {
            fprintf(stderr, "undocumented route: %s %s\n", rt.routes[i].method, path);
            missing++;
        }
    }
    ck_assert_msg(missing == 0, "%d routes are missing from docs/openapi.yaml (listed above)", missing);
    json_decref(paths);
    dm__router_free(&rt);
}
END_TEST

START_TEST(every_documented_operation_is_a_route)
{
    dm_router rt;
    dm__router_init(&rt);
    ck_assert_int_eq(dm__routes_add_all(&rt), 0);
    json_t *paths = load_paths();
    static const char *const verbs[] = { "get", "put", "post", "delete", "patch", NULL };
    const char *path;
    json_t *item;
    int stale = 0;
    json_object_foreach(paths, path, item) {
        for (int v = 0; verbs[v] != NULL; v++) {
            if (json_object_get(item, verbs[v]) == NULL)
                continue;
            bool found = false;
            for (size_t i = 0; i < rt.n_routes && !found; i++) {
                char p[256], m[16];
                to_openapi(rt.routes[i].pattern, p, sizeof p);
                lower(rt.routes[i].method, m, sizeof m);
                found = strcmp(p, path) == 0 && strcmp(m, verbs[v]) == 0;
            }
            if (!found) {
                fprintf(stderr, "documented but not routed: %s %s\n", verbs[v], path);
                stale++;
            }
        }
    }
    ck_assert_msg(stale == 0, "%d documented operations have no route (listed above)", stale);
    json_decref(paths);
    dm__router_free(&rt);
}
END_TEST

/* The registered route method + pattern, or NULL. */
static const struct dm_route *route_of(const dm_router *rt, const char *method, const char *pattern)
{
    for (size_t i = 0; i < rt->n_routes; i++)
        if (strcmp(rt->routes[i].method, method) == 0 && strcmp(rt->routes[i].pattern, pattern) == 0)
            return &rt->routes[i];
    return NULL;
}

/* True when the operation lists the IdempotencyKey header parameter. */
static bool documents_key(json_t *paths, const struct dm_route *r)
{
    char path[256], method[16];
    to_openapi(r->pattern, path, sizeof path);
    lower(r->method, method, sizeof method);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(json_object_get(json_object_get(paths, path), method), "parameters"), i, p) {
        const char *ref = json_string_value(json_object_get(p, "$ref"));
        if (ref != NULL && strcmp(ref, "#/components/parameters/IdempotencyKey") == 0)
            return true;
    }
    return false;
}

START_TEST(every_money_route_honours_idempotency_key)
{
    static const char *const money[][2] = {
        { "POST", "/api/wallet/topup" },
        { "POST", "/api/subscriptions" },
        { "PUT", "/api/subscriptions/:id/upgrade" },
        { "POST", "/api/subscriptions/:id/renew" },
        { "POST", "/api/admin/users/:id/credits" },
        { "POST", "/api/admin/subscriptions/bonus" },
        { "PUT", "/api/admin/subscriptions/:id/upgrade" },
        { "POST", "/api/admin/subscriptions/:id/force-cancel" },
        { "PUT", "/api/admin/subscriptions/:id/extend" },
        { "POST", "/api/admin/transactions/:id/confirm" },
    };
    dm_router rt;
    dm__router_init(&rt);
    ck_assert_int_eq(dm__routes_add_all(&rt), 0);
    for (size_t i = 0; i < sizeof money / sizeof money[0]; i++) {
        const struct dm_route *r = route_of(&rt, money[i][0], money[i][1]);
        ck_assert_msg(r != NULL, "%s %s is a route", money[i][0], money[i][1]);
        ck_assert_msg(r->flags & DM_ROUTE_IDEMPOTENT, "%s %s moves money: it must honour Idempotency-Key",
                      money[i][0], money[i][1]);
    }
    /* And every route that honours one says so in the documentation. */
    json_t *paths = load_paths();
    for (size_t i = 0; i < rt.n_routes; i++)
        ck_assert_msg(!(rt.routes[i].flags & DM_ROUTE_IDEMPOTENT) || documents_key(paths, &rt.routes[i]),
                      "%s %s honours Idempotency-Key but docs/openapi.yaml does not list it", rt.routes[i].method,
                      rt.routes[i].pattern);
    json_decref(paths);
    dm__router_free(&rt);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("openapi_routes");
    TCase *tc = tcase_create("coverage");
    tcase_add_test(tc, every_route_is_documented);
    tcase_add_test(tc, every_documented_operation_is_a_route);
    tcase_add_test(tc, every_money_route_honours_idempotency_key);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
