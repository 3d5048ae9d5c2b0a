/*
 * catalog.c — the public catalog (/api/catalog, API.md "Catalog"): active
 * categories, active services of active categories with their active plans,
 * filtered, searched and paginated. No authentication. Also registers the
 * admin routes of catalog_admin.c.
 */
#include "domain/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/auth_body.h"
#include "domain/catalog_internal.h"
#include "http/response.h"

/* Every row's first column (json text) parsed, appended to a new array in
 * *items. DM_ENOMEM or DM_EIO when PostgreSQL wrote something jansson
 * cannot read (never expected). */
static int rows_json(PGresult *res, json_t **items, dm_err_t *err)
{
    *items = json_array();
    if (*items == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *o = json_loads(PQgetvalue(res, i, 0), 0, NULL);
        if (o == NULL || json_array_append_new(*items, o) != 0) {
            json_decref(*items);
            *items = NULL;
            return dm_err_set(err, DM_EIO, "catalog row is not JSON");
        }
    }
    return 0;
}

/* Run a query of json rows and answer them as one array (or 500/503). */
static void answer_rows(dm_request *r, const char *name, const char *sql, int n, const char *const *p)
{
    dm_err_t err = { 0 };
    json_t *items = NULL;
    PGresult *res = dm__db_exec(r->db, name, sql, n, p, &err);
    if (res == NULL || rows_json(res, &items, &err) != 0) {
        PQclear(res);
        dm__res_failure(r, &err, name);
        return;
    }
    PQclear(res);
    dm__res_ok(r, 200, items);
}

static void list_categories(dm_request *r)
{
    answer_rows(r, "cat_pub_categories",
                "SELECT json_build_object('id', c.id, 'slug', c.slug, 'name', c.name, "
                "'description', c.description, 'sortOrder', c.sort_order, 'serviceCount', "
                "(SELECT count(*) FROM services s WHERE s.category_id = c.id AND s.is_active))::text "
                "FROM categories c WHERE c.is_active ORDER BY c.sort_order, c.name, c.id",
                0, NULL);
}

/* Active services of active categories matching category slug $1 and a
 * case-insensitive substring $2 of the name or description ('' = any).
 * strpos, unlike LIKE, gives '%' and '_' in the search no meaning. */
#define PUBLIC_SERVICES_WHERE                                                                    \
    " FROM services s JOIN categories c ON c.id = s.category_id WHERE s.is_active AND "          \
    "c.is_active AND ($1 = '' OR c.slug = $1) AND ($2 = '' OR strpos(lower(s.name), lower($2)) " \
    "> 0 OR strpos(lower(s.description), lower($2)) > 0)"

static void list_services(dm_request *r)
{
    long page, limit, total;
    if (!dm__query_paging(r, &page, &limit))
        return;
    const char *cat = dm__req_query(r, "category"), *search = dm__req_query(r, "search");
    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%ld", limit);
    snprintf(off, sizeof off, "%ld", (page - 1) * limit);
    const char *p[] = { cat != NULL ? cat : "", search != NULL ? search : "", lim, off };
    dm_err_t err = { 0 };
    json_t *items = NULL;
    PGresult *c = dm__db_exec(r->db, "cat_pub_services_count", "SELECT count(*)" PUBLIC_SERVICES_WHERE,
                              2, p, &err);
    if (c == NULL) {
        dm__res_failure(r, &err, "count services");
        return;
    }
    total = strtol(PQgetvalue(c, 0, 0), NULL, 10);
    PQclear(c);
    PGresult *res = dm__db_exec(r->db, "cat_pub_services_page",
                                "SELECT " CAT_SERVICE_PUBLIC_JSON "::text" PUBLIC_SERVICES_WHERE
                                " ORDER BY s.sort_order, s.name, s.id LIMIT $3::int OFFSET $4::bigint",
                                4, p, &err);
    if (res == NULL || rows_json(res, &items, &err) != 0) {
        PQclear(res);
        dm__res_failure(r, &err, "list services");
        return;
    }
    PQclear(res);
    dm__res_list(r, items, page, limit, total);
}

/* The public service named by :slug, or NULL with the answer set. */
static json_t *public_service(dm_request *r)
{
    const char *p[] = { dm__req_param(r, "slug") };
    dm_err_t err = { 0 };
    json_t *items = NULL;
    if (p[0] == NULL) {
        dm__res_error(r, 404, "NOT_FOUND", "no such service", NULL);
        return NULL;
    }
    PGresult *res = dm__db_exec(r->db, "cat_pub_service",
                                "SELECT " CAT_SERVICE_PUBLIC_JSON "::text FROM services s JOIN "
                                "categories c ON c.id = s.category_id WHERE s.slug = $1 AND "
                                "s.is_active AND c.is_active",
                                1, p, &err);
    if (res == NULL || rows_json(res, &items, &err) != 0) {
        PQclear(res);
        dm__res_failure(r, &err, "get service");
        return NULL;
    }
    PQclear(res);
    json_t *one = json_incref(json_array_get(items, 0));
    json_decref(items);
    if (one == NULL)
        dm__res_error(r, 404, "NOT_FOUND", "no such service", NULL);
    return one;
}

static void get_service(dm_request *r)
{
    json_t *s = public_service(r);
    if (s != NULL)
        dm__res_ok(r, 200, s);
}

static void get_service_plans(dm_request *r)
{
    json_t *s = public_service(r);
    if (s == NULL)
        return;
    dm__res_ok(r, 200, json_incref(json_object_get(s, "plans")));
    json_decref(s);
}

int dm__catalog_routes_add(dm_router *rt)
{
    int rc = 0;
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/catalog/categories", list_categories, DM_ROUTE_POOL);
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/catalog/services", list_services, DM_ROUTE_POOL);
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/catalog/services/:slug", get_service, DM_ROUTE_POOL);
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/catalog/services/:slug/plans", get_service_plans,
                                  DM_ROUTE_POOL);
    rc = rc ? rc : dm__catalog_admin_routes_add(rt);
    return rc;
}
