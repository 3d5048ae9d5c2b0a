/*
 * catalog.h — categories, services and plans: the public catalog routes,
 * the admin routes that change it, and `dermaga seed`, which loads a
 * catalog file idempotently (upsert by slug).
 */
#ifndef DM_CATALOG_H
#define DM_CATALOG_H

#include <dermaga/error.h>

#include "db/pg.h"
#include "http/router.h"

/* Register /api/catalog/... (public) and the admin catalog routes
 * (/api/admin/categories|services|plans). 0 or DM_ENOMEM / DM_EINVAL. */
int dm__catalog_routes_add(dm_router *rt);

/* What dm__catalog_seed_file did. */
typedef struct dm_catalog_seed_report {
    int categories; /* rows inserted or updated */
    int services;
    int plans;
} dm_catalog_seed_report;

/*
 * Load the catalog file at path (borrowed) into the database on db, in one
 * transaction: categories, services and plans are inserted or updated by
 * slug (a plan by its service and slug), so running it twice changes
 * nothing the second time (the report then counts 0 rows: a row whose
 * values already match is not rewritten). Rows the file does not mention
 * are left alone; used_quota is never written.
 * Returns 0; DM_EINVAL when the file is unreadable or malformed (the
 * message names the file, the entry and the field; nothing is written);
 * DM_EIO / DM_EUNAVAIL from the database (rolled back).
 */
int dm__catalog_seed_file(dm_db *db, const char *path, dm_catalog_seed_report *rep, dm_err_t *err);

#endif
