/*
 * catalog_routes.c — the public catalog (/api/catalog, docs/openapi.yaml "Catalog"):
 * active categories, active services of active categories with their
 * active plans, filtered, searched and paginated (catalog_public.c). No
 * authentication. Also registers the admin routes of
 * catalog_admin_routes.c.
 */
#include "catalog/catalog_routes.h"

#include "catalog/catalog.h"
#include "http/body_fields.h"
#include "http/response.h"
#include "http/router.h"

static void list_categories(dm_request *r)
{
    json_t *items = NULL;
    dm_err_t err = { 0 };
    if (dm__catalog_categories(r->db, &items, &err) != 0)
        dm__res_failure(r, &err, "cat_pub_categories");
    else
        dm__res_ok(r, 200, items);
}

static void list_services(dm_request *r)
{
    long page, limit, total = 0;
    if (!dm__query_paging(r, &page, &limit))
        return;
    json_t *items = NULL;
    dm_err_t err = { 0 };
    if (dm__catalog_services(r->db, dm__req_query(r, "category"), dm__req_query(r, "search"), page, limit, &items,
                             &total, &err) != 0)
        dm__res_failure(r, &err, "list services");
    else
        dm__res_list(r, items, page, limit, total);
}

/* The public service named by :slug, or NULL with the answer set. */
static json_t *public_service(dm_request *r)
{
    json_t *one = NULL;
    dm_err_t err = { 0 };
    int rc = dm__catalog_service(r->db, dm__req_param(r, "slug"), &one, &err);
    if (rc == DM_ENOTFOUND)
        dm__res_error(r, 404, "NOT_FOUND", "no such service", NULL);
    else if (rc != 0)
        dm__res_failure(r, &err, "get service");
    return rc == 0 ? one : NULL;
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
