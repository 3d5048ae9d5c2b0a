/*
 * catalog.h — categories, services and plans: what the public catalog
 * shows (catalog_public.c) and `dermaga seed`, which loads a catalog file
 * idempotently (upsert by slug; catalog_seed.c). The routes are in
 * catalog_routes.h.
 */
#ifndef DM_CATALOG_H
#define DM_CATALOG_H

#include <jansson.h>

#include <dermaga/error.h>

#include "audit/audit.h"
#include "db/pg.h"
#include "plugin/registry.h"

/* Active categories {id, slug, name, description, sortOrder, serviceCount}
 * in display order: *items a new array. 0, DM_EIO / DM_EUNAVAIL. */
int dm__catalog_categories(dm_db *db, json_t **items, dm_err_t *err);

/* One page of active services of active categories, each with its active
 * plans; category (a slug) and search (a case-insensitive substring of the
 * name or description) may be NULL or "" for any. *items a new array,
 * *total the matches. 0, DM_EIO / DM_EUNAVAIL. */
int dm__catalog_services(dm_db *db, const char *category, const char *search, long page, long limit,
                         json_t **items, long *total, dm_err_t *err);

/* The active service slug with its active plans (*out new). 0,
 * DM_ENOTFOUND (also for slug NULL), DM_EIO / DM_EUNAVAIL. */
int dm__catalog_service(dm_db *db, const char *slug, json_t **out, dm_err_t *err);

/* ---- administrators' changes (catalog_admin.c) -------------------------- */

typedef struct dm_cat_kind dm_cat_kind;     /* catalog_internal.h */
typedef struct dm_cat_values dm_cat_values; /* catalog_internal.h */

/* One change: create (id NULL) or update row id of kind with the checked
 * values (fields not given are kept), audited as catalog.<noun>.<action>
 * with reason (may be NULL). Borrowed. */
typedef struct dm_cat_change {
    const dm_cat_kind   *kind;
    const char          *id;
    const dm_cat_values *values;
    const char          *reason;
    const char          *action; /* "create" | "update" | "deactivate" */
} dm_cat_change;

/* How a change ended. */
typedef enum dm_cat_outcome {
    DM_CAT_OK,
    DM_CAT_NOT_FOUND,   /* no such row (or a malformed id) */
    DM_CAT_SLUG_TAKEN,  /* another row of the kind has the slug */
    DM_CAT_BAD_PARENT,  /* the parent id names no row */
    DM_CAT_QUOTA_IN_USE, /* totalQuota below usedQuota */
    DM_CAT_REFUSED,     /* a table CHECK refused a value */
    DM_CAT_FAILED       /* the database failed (err says why) */
} dm_cat_outcome;

/* Apply c with its audit row by actor in one transaction of its own;
 * *after (new) the row after on DM_CAT_OK. Nothing is written otherwise. */
dm_cat_outcome dm__cat_admin_write(dm_db *db, const dm_actor *actor, const dm_cat_change *c, json_t **after,
                                   dm_err_t *err);

/* Row id of kind, active or not (*row new). 0, DM_ENOTFOUND (err names the
 * kind), DM_EIO / DM_EUNAVAIL. */
int dm__cat_admin_get(dm_db *db, const dm_cat_kind *k, const char *id, json_t **row, dm_err_t *err);

/* One page of kind's rows, active or not, in catalog order; parent (a
 * uuid, or NULL / "" for any) filters services by category and plans by
 * service. *items new, *total the matches. 0, DM_EIO / DM_EUNAVAIL. */
int dm__cat_admin_list(dm_db *db, const dm_cat_kind *k, const char *parent, long page, long limit, json_t **items,
                       long *total, dm_err_t *err);

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

/* The same, and every service's serviceType must name a service plugin
 * loaded in services (borrowed), with a template when that plugin is
 * service-template (dm__instance_service_check); else DM_EINVAL naming
 * the entry and the field, and nothing is written. `dermaga seed` calls
 * this one; dm__catalog_seed_file is it with services NULL, which checks
 * no plugin names (the tests of the file format). */
int dm__catalog_seed_file_for(dm_db *db, const char *path, const dm_plugin_set *services,
                              dm_catalog_seed_report *rep, dm_err_t *err);

#endif
