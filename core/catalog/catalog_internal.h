/*
 * catalog_internal.h — what the catalog files share: the JSON each row
 * becomes (built by PostgreSQL, so every query selects the same shape),
 * the field tables of categories, services and plans, and the checker that
 * both the admin routes and `dermaga seed` run before any SQL.
 */
#ifndef DM_CATALOG_INTERNAL_H
#define DM_CATALOG_INTERNAL_H

#include <stdbool.h>

#include <jansson.h>

#include "db/sql_time.h"

/* ---- row JSON, as SQL text (t is the table alias) ---------------------- */


#define CAT_CATEGORY_JSON(t)                                                                      \
    "json_build_object('id', " t ".id, 'slug', " t ".slug, 'name', " t ".name, 'description', " t \
    ".description, 'sortOrder', " t ".sort_order, 'isActive', " t ".is_active, 'createdAt', "     \
    DM_SQL_TS(t ".created_at") ", 'updatedAt', " DM_SQL_TS(t ".updated_at") ")"

#define CAT_SERVICE_PAIRS(t)                                                                      \
    "'id', " t ".id, 'categoryId', " t ".category_id, 'slug', " t ".slug, 'name', " t ".name, "  \
    "'description', " t ".description, 'serviceType', " t ".service_type, 'template', " t        \
    ".template, 'iconUrl', " t ".icon_url, 'sortOrder', " t ".sort_order, 'isActive', " t        \
    ".is_active, 'createdAt', " DM_SQL_TS(t ".created_at") ", 'updatedAt', " DM_SQL_TS(t ".updated_at")

/* Administrators also see the runtime a service's instances are created
 * on (null: instances.defaultRuntime); the public catalog does not. */
#define CAT_SERVICE_JSON(t) "json_build_object(" CAT_SERVICE_PAIRS(t) ", 'runtime', " t ".runtime)"

/* available = total - used: what a customer can still buy. */
#define CAT_PLAN_JSON(t)                                                                          \
    "json_build_object('id', " t ".id, 'serviceId', " t ".service_id, 'slug', " t ".slug, "      \
    "'name', " t ".name, 'description', " t ".description, 'price', " t ".price, "               \
    "'billingPeriodDays', " t ".billing_period_days, 'cpuMillicores', " t ".cpu_millicores, "    \
    "'memoryMb', " t ".memory_mb, 'storageGb', " t ".storage_gb, 'totalQuota', " t               \
    ".total_quota, 'usedQuota', " t ".used_quota, 'available', " t ".total_quota - " t           \
    ".used_quota, 'features', " t ".features, 'sortOrder', " t ".sort_order, 'isActive', " t     \
    ".is_active, 'createdAt', " DM_SQL_TS(t ".created_at") ", 'updatedAt', " DM_SQL_TS(t ".updated_at") ")"

/* The public service: the row, its category and its active plans (services
 * alias s joined to categories alias c). */
#define CAT_SERVICE_PUBLIC_JSON                                                                   \
    "json_build_object(" CAT_SERVICE_PAIRS("s") ", 'category', json_build_object('id', c.id, "   \
    "'slug', c.slug, 'name', c.name), 'plans', coalesce((SELECT json_agg(" CAT_PLAN_JSON("p")    \
    " ORDER BY p.sort_order, p.price, p.name) FROM plans p WHERE p.service_id = s.id AND "        \
    "p.is_active), '[]'::json))"

/* ---- fields -------------------------------------------------------------- */

typedef enum {
    CF_SLUG,     /* ^[a-z0-9][a-z0-9-]{0,62}$; derived from name when absent */
    CF_NAME,     /* 1..100 characters, not only spaces, no control characters */
    CF_TEXT,     /* 0..max characters */
    CF_IDENT,    /* ^[a-z0-9][a-z0-9_-]{0,62}$ */
    CF_INT,      /* a JSON integer in min..max */
    CF_BOOL,     /* true or false */
    CF_REF,      /* the parent's uuid (categoryId, serviceId) */
    CF_FEATURES, /* array of at most 50 strings of 1..200 characters */
    CF_RUNTIME,  /* a runtime plugin's name ([a-z0-9][a-z0-9_-]{0,63}), or null:
                  * null is given as "" (the SQL stores NULL: no choice) */
} dm_cat_ftype;

typedef struct dm_cat_field {
    const char  *name;     /* JSON name */
    dm_cat_ftype type;
    long long    min, max; /* CF_INT range; CF_TEXT max characters */
    bool         required; /* on create */
} dm_cat_field;

#define DM_CAT_MAX_FIELDS 16

typedef struct dm_cat_kind {
    const char         *noun;     /* "category": audit target type, messages */
    const dm_cat_field *fields;   /* in SQL parameter order */
    int                 n_fields;
} dm_cat_kind;

extern const dm_cat_kind dm__cat_category, dm__cat_service, dm__cat_plan;

/* Checked values of one body, as text parameters in field order (NULL for
 * a field not given). Owns what it points to except strings borrowed from
 * the JSON object it was read from. */
typedef struct dm_cat_values {
    const char *v[DM_CAT_MAX_FIELDS];
    char        num[DM_CAT_MAX_FIELDS][24];
    char       *owned[DM_CAT_MAX_FIELDS]; /* features text, derived slug */
    int         given;                    /* how many fields were given */
} dm_cat_values;

enum {
    DM_CAT_CREATE = 1 << 0, /* required fields must be there; slug derived */
    DM_CAT_NESTED = 1 << 1, /* seed file: no CF_REF field, parent is implied */
};

/*
 * Check obj (borrowed) against kind and fill out (free with
 * dm__cat_values_free, also after a failure). Members named in extra
 * (NULL-ended, may be NULL) are skipped; any other unknown member is an
 * error. Returns 0, DM_ENOMEM, or DM_EINVAL with *field (static or
 * borrowed from obj) and msg naming the problem.
 */
int dm__cat_values_read(const dm_cat_kind *kind, const json_t *obj, unsigned flags,
                        const char *const extra[], dm_cat_values *out, const char **field,
                        char msg[160]);
void dm__cat_values_free(dm_cat_values *v);

/* Index of the field named name in kind, or -1. */
int dm__cat_field_index(const dm_cat_kind *kind, const char *name);

#endif
