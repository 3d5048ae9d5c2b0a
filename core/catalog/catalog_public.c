/*
 * catalog_public.c — what the public catalog shows (catalog.h): active
 * categories, and active services of active categories with their active
 * plans, filtered, searched and paginated. PostgreSQL builds each row's
 * JSON (catalog_internal.h), so every route shows a row the same way.
 */
#include "catalog/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_internal.h"

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

/* Run a query of json rows into a new array *items. */
static int query_rows(dm_db *db, const char *name, const char *sql, int n, const char *const *p, json_t **items,
                      dm_err_t *err)
{
    PGresult *res = dm__db_exec(db, name, sql, n, p, err);
    int rc = res == NULL ? dm__db_failed(err) : rows_json(res, items, err);
    PQclear(res);
    return rc;
}

int dm__catalog_categories(dm_db *db, json_t **items, dm_err_t *err)
{
    return query_rows(db, "cat_pub_categories",
                      "SELECT json_build_object('id', c.id, 'slug', c.slug, 'name', c.name, "
                      "'description', c.description, 'sortOrder', c.sort_order, 'serviceCount', "
                      "(SELECT count(*) FROM services s WHERE s.category_id = c.id AND s.is_active))::text "
                      "FROM categories c WHERE c.is_active ORDER BY c.sort_order, c.name, c.id",
                      0, NULL, items, err);
}

/* Active services of active categories matching category slug $1 and a
 * case-insensitive substring $2 of the name or description ('' = any).
 * strpos, unlike LIKE, gives '%' and '_' in the search no meaning. */
#define PUBLIC_SERVICES_WHERE                                                                    \
    " FROM services s JOIN categories c ON c.id = s.category_id WHERE s.is_active AND "          \
    "c.is_active AND ($1 = '' OR c.slug = $1) AND ($2 = '' OR strpos(lower(s.name), lower($2)) " \
    "> 0 OR strpos(lower(s.description), lower($2)) > 0)"

int dm__catalog_services(dm_db *db, const char *category, const char *search, long page, long limit,
                         json_t **items, long *total, dm_err_t *err)
{
    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%ld", limit);
    snprintf(off, sizeof off, "%ld", (page - 1) * limit);
    const char *p[] = { category != NULL ? category : "", search != NULL ? search : "", lim, off };
    PGresult *c = dm__db_exec(db, "cat_pub_services_count", "SELECT count(*)" PUBLIC_SERVICES_WHERE, 2, p, err);
    if (c == NULL)
        return dm__db_failed(err);
    *total = strtol(PQgetvalue(c, 0, 0), NULL, 10);
    PQclear(c);
    return query_rows(db, "cat_pub_services_page",
                      "SELECT " CAT_SERVICE_PUBLIC_JSON "::text" PUBLIC_SERVICES_WHERE
                      " ORDER BY s.sort_order, s.name, s.id LIMIT $3::int OFFSET $4::bigint",
                      4, p, items, err);
}

int dm__catalog_service(dm_db *db, const char *slug, json_t **out, dm_err_t *err)
{
    if (slug == NULL)
        return dm_err_set(err, DM_ENOTFOUND, "no such service");
    const char *p[] = { slug };
    json_t *items = NULL;
    int rc = query_rows(db, "cat_pub_service",
                        "SELECT " CAT_SERVICE_PUBLIC_JSON "::text FROM services s JOIN "
                        "categories c ON c.id = s.category_id WHERE s.slug = $1 AND "
                        "s.is_active AND c.is_active",
                        1, p, &items, err);
    if (rc != 0)
        return rc;
    *out = json_incref(json_array_get(items, 0));
    json_decref(items);
    return *out != NULL ? 0 : dm_err_set(err, DM_ENOTFOUND, "no such service");
}
