/*
 * catalog_seed.c — `dermaga seed`: a catalog file (categories holding
 * services holding plans, see config/catalog.json) checked entirely, then
 * upserted by slug in one transaction. A row whose values already match is
 * not rewritten, so a second run changes nothing and reports 0 rows.
 */
#include "catalog/catalog.h"

#include <stdio.h>
#include <string.h>

#include "catalog/catalog_internal.h"
#include "instances/instance_service.h"

/* Each statement returns (id, 1) for a row inserted or updated and (id, 0)
 * for one left alone. A field the file omits keeps its stored value on
 * update (coalesce with the row); used_quota is never named. */
static const char UPSERT_CATEGORY[] =
    "WITH up AS (INSERT INTO categories AS c (slug, name, description, sort_order, is_active) "
    "VALUES ($1, $2, coalesce($3, ''), coalesce($4::int, 0), coalesce($5::boolean, true)) "
    "ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name, description = coalesce($3, "
    "c.description), sort_order = coalesce($4::int, c.sort_order), is_active = "
    "coalesce($5::boolean, c.is_active), updated_at = now() WHERE (c.name, c.description, "
    "c.sort_order, c.is_active) IS DISTINCT FROM (EXCLUDED.name, coalesce($3, c.description), "
    "coalesce($4::int, c.sort_order), coalesce($5::boolean, c.is_active)) RETURNING c.id) "
    "SELECT id::text, 1 FROM up UNION ALL SELECT id::text, 0 FROM categories WHERE slug = $1 "
    "AND NOT EXISTS (SELECT 1 FROM up)";

/* A seed entry without "runtime" keeps the service's; null clears it. */
#define SEED_RUNTIME "CASE WHEN $10::text IS NULL THEN s.runtime ELSE nullif($10, '') END"

static const char UPSERT_SERVICE[] =
    "WITH up AS (INSERT INTO services AS s (category_id, slug, name, description, service_type, "
    "template, icon_url, sort_order, is_active, runtime) VALUES ($1::uuid, $2, $3, coalesce($4, ''), $5, "
    "$6, $7, coalesce($8::int, 0), coalesce($9::boolean, true), nullif($10, '')) ON CONFLICT (slug) DO UPDATE SET "
    "category_id = EXCLUDED.category_id, name = EXCLUDED.name, description = coalesce($4, "
    "s.description), service_type = EXCLUDED.service_type, template = EXCLUDED.template, "
    "icon_url = coalesce($7, s.icon_url), sort_order = coalesce($8::int, s.sort_order), "
    "is_active = coalesce($9::boolean, s.is_active), runtime = " SEED_RUNTIME ", updated_at = now() "
    "WHERE (s.category_id, s.name, s.description, s.service_type, s.template, s.icon_url, s.sort_order, "
    "s.is_active, s.runtime) IS DISTINCT FROM (EXCLUDED.category_id, EXCLUDED.name, coalesce($4, s.description), "
    "EXCLUDED.service_type, EXCLUDED.template, coalesce($7, s.icon_url), coalesce($8::int, "
    "s.sort_order), coalesce($9::boolean, s.is_active), " SEED_RUNTIME ") RETURNING s.id) "
    "SELECT id::text, 1 FROM up UNION ALL SELECT id::text, 0 FROM services WHERE slug = $2 "
    "AND NOT EXISTS (SELECT 1 FROM up)";

static const char UPSERT_PLAN[] =
    "WITH up AS (INSERT INTO plans AS p (service_id, slug, name, description, price, "
    "billing_period_days, cpu_millicores, memory_mb, storage_gb, total_quota, features, "
    "sort_order, is_active) VALUES ($1::uuid, $2, $3, coalesce($4, ''), $5::bigint, "
    "coalesce($6::int, 30), $7::int, $8::int, coalesce($9::int, 0), $10::int, "
    "coalesce($11::jsonb, '[]'::jsonb), coalesce($12::int, 0), coalesce($13::boolean, true)) "
    "ON CONFLICT (service_id, slug) DO UPDATE SET name = EXCLUDED.name, description = "
    "coalesce($4, p.description), price = EXCLUDED.price, billing_period_days = "
    "coalesce($6::int, p.billing_period_days), cpu_millicores = EXCLUDED.cpu_millicores, "
    "memory_mb = EXCLUDED.memory_mb, storage_gb = coalesce($9::int, p.storage_gb), total_quota "
    "= EXCLUDED.total_quota, features = coalesce($11::jsonb, p.features), sort_order = "
    "coalesce($12::int, p.sort_order), is_active = coalesce($13::boolean, p.is_active), "
    "updated_at = now() WHERE (p.name, p.description, p.price, p.billing_period_days, "
    "p.cpu_millicores, p.memory_mb, p.storage_gb, p.total_quota, p.features, p.sort_order, "
    "p.is_active) IS DISTINCT FROM (EXCLUDED.name, coalesce($4, p.description), EXCLUDED.price, "
    "coalesce($6::int, p.billing_period_days), EXCLUDED.cpu_millicores, EXCLUDED.memory_mb, "
    "coalesce($9::int, p.storage_gb), EXCLUDED.total_quota, coalesce($11::jsonb, p.features), "
    "coalesce($12::int, p.sort_order), coalesce($13::boolean, p.is_active)) RETURNING p.id) "
    "SELECT id::text, 1 FROM up UNION ALL SELECT id::text, 0 FROM plans WHERE service_id = "
    "$1::uuid AND slug = $2 AND NOT EXISTS (SELECT 1 FROM up)";

/* One level of the file: its kind, the member holding the next level, the
 * statement that upserts it and the report counter it adds to. */
typedef struct level {
    const dm_cat_kind *kind;
    const char        *child;   /* "services", "plans" or NULL */
    const char        *stmt;    /* prepared statement name */
    const char        *sql;
    const char        *label;   /* "categories", "services", "plans" */
} level;

static const level LEVELS[3] = {
    { &dm__cat_category, "services", "cat_seed_category", UPSERT_CATEGORY, "categories" },
    { &dm__cat_service, "plans", "cat_seed_service", UPSERT_SERVICE, "services" },
    { &dm__cat_plan, NULL, "cat_seed_plan", UPSERT_PLAN, "plans" },
};

typedef struct seed {
    const char             *path;
    dm_db                  *db;    /* NULL while only checking */
    dm_catalog_seed_report *rep;
    dm_err_t               *err;
    const dm_plugin_set    *services; /* NULL: plugin names are not checked */
    json_t                 *seen[2]; /* category and service slugs (both unique tables-wide) */
} seed;

/* The entries of obj's member name into *out (NULL when absent). 0, or
 * DM_EINVAL when it is not an array. */
static int children(seed *s, const json_t *obj, const char *name, const char *entry,
                    const json_t **out)
{
    *out = json_object_get(obj, name);
    if (*out != NULL && !json_is_array(*out))
        return dm_err_set(s->err, DM_EINVAL, "%s: %s: %s: must be an array", s->path, entry, name);
    return 0;
}

/* Check one entry (and refuse a slug used twice); when writing, upsert it
 * under parent_id and put its id in id_out. */
static int one_entry(seed *s, int depth, const json_t *obj, json_t *seen, const char *parent_id,
                     const char *entry, char id_out[37])
{
    const level *lv = &LEVELS[depth];
    const char *const extra[] = { lv->child, NULL };
    dm_cat_values v;
    const char *field;
    char msg[160];
    int rc = dm__cat_values_read(lv->kind, obj, DM_CAT_CREATE | DM_CAT_NESTED, extra, &v, &field, msg);
    if (rc != 0) {
        dm__cat_values_free(&v);
        return dm_err_set(s->err, rc, "%s: %s: %s: %s", s->path, entry, field, msg);
    }
    const char *slug = v.v[dm__cat_field_index(lv->kind, "slug")];
    if (s->db == NULL && lv->kind == &dm__cat_service && s->services != NULL &&
        dm__instance_service_check(s->services, v.v[dm__cat_field_index(lv->kind, "serviceType")],
                                   v.v[dm__cat_field_index(lv->kind, "template")], &field, msg, sizeof msg) != 0)
        rc = dm_err_set(s->err, DM_EINVAL, "%s: %s: %s: %s", s->path, entry, field, msg);
    else if (s->db == NULL && json_object_get(seen, slug) != NULL)
        rc = dm_err_set(s->err, DM_EINVAL, "%s: %s: slug: \"%s\" is used twice in this file", s->path,
                        entry, slug);
    else if (s->db == NULL)
        rc = json_object_set_new(seen, slug, json_true()) == 0 ? 0 : DM_ENOMEM;
    if (rc == 0 && s->db != NULL) {
        if (depth > 0)
            v.v[0] = parent_id; /* the CF_REF field comes first */
        PGresult *res = dm__db_exec(s->db, lv->stmt, lv->sql, lv->kind->n_fields, v.v, s->err);
        if (res == NULL && strcmp(s->db->sqlstate, "23514") == 0)
            rc = dm_err_set(s->err, DM_EINVAL, "%s: %s: %s", s->path, entry,
                            lv->kind == &dm__cat_service ? "template: is required for a service-template service"
                                                         : "totalQuota: below the plan's usedQuota");
        else if (res == NULL)
            rc = s->err != NULL && s->err->code != 0 ? s->err->code : DM_EIO;
        else if (PQntuples(res) != 1)
            rc = dm_err_set(s->err, DM_EIO, "%s: %s: upsert returned no row", s->path, entry);
        if (rc == 0) {
            snprintf(id_out, 37, "%s", PQgetvalue(res, 0, 0));
            int *count[] = { &s->rep->categories, &s->rep->services, &s->rep->plans };
            *count[depth] += strcmp(PQgetvalue(res, 0, 1), "1") == 0;
        }
        PQclear(res);
    }
    dm__cat_values_free(&v);
    return rc;
}

/* Every entry of list (at depth) and, recursively, of its children. */
static int walk(seed *s, int depth, const json_t *list, const char *parent_id, const char *prefix)
{
    json_t *plan_seen = depth == 2 ? json_object() : NULL; /* plan slugs: unique per service */
    json_t *seen = depth < 2 ? s->seen[depth] : plan_seen;
    if (seen == NULL)
        return dm_err_set(s->err, DM_ENOMEM, "out of memory");
    size_t i;
    const json_t *obj;
    int rc = 0;
    json_array_foreach(list, i, obj) {
        char entry[200], id[37] = "";
        snprintf(entry, sizeof entry, "%.120s%s%s[%zu]", prefix, prefix[0] != '\0' ? "." : "",
                 LEVELS[depth].label, i);
        const json_t *kids = NULL;
        rc = one_entry(s, depth, obj, seen, parent_id, entry, id);
        if (rc == 0 && LEVELS[depth].child != NULL)
            rc = children(s, obj, LEVELS[depth].child, entry, &kids);
        if (rc == 0 && kids != NULL)
            rc = walk(s, depth + 1, kids, id, entry);
        if (rc != 0)
            break;
    }
    json_decref(plan_seen);
    return rc;
}

/* The file's top level: {"categories": [...]} and nothing else. */
static int check_root(seed *s, const json_t *root)
{
    const char *key;
    json_t *val;
    if (!json_is_object(root))
        return dm_err_set(s->err, DM_EINVAL, "%s: must hold a JSON object", s->path);
    json_object_foreach((json_t *)root, key, val) {
        if (strcmp(key, "categories") != 0)
            return dm_err_set(s->err, DM_EINVAL, "%s: \"%.64s\" is not a field of a catalog file",
                              s->path, key);
    }
    if (!json_is_array(json_object_get(root, "categories")))
        return dm_err_set(s->err, DM_EINVAL, "%s: categories: must be an array", s->path);
    return 0;
}

/* The transaction: every upsert, committed together or not at all. */
static int write_all(seed *s, const json_t *list)
{
    int rc = dm__db_begin(s->db, s->err);
    if (rc != 0)
        return rc;
    rc = walk(s, 0, list, NULL, "");
    rc = dm__db_end(s->db, rc, s->err);
    if (rc != 0) {
        memset(s->rep, 0, sizeof *s->rep);
    }
    return rc;
}

int dm__catalog_seed_file(dm_db *db, const char *path, dm_catalog_seed_report *rep, dm_err_t *err)
{
    return dm__catalog_seed_file_for(db, path, NULL, rep, err);
}

int dm__catalog_seed_file_for(dm_db *db, const char *path, const dm_plugin_set *services,
                              dm_catalog_seed_report *rep, dm_err_t *err)
{
    dm_catalog_seed_report local;
    rep = rep != NULL ? rep : &local;
    memset(rep, 0, sizeof *rep);
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return dm_err_set(err, DM_EINVAL, "%s: line %d column %d: %s", path, jerr.line, jerr.column,
                          jerr.text);
    seed s = { path, NULL, rep, err, services, { json_object(), json_object() } };
    int rc = s.seen[0] != NULL && s.seen[1] != NULL ? check_root(&s, root) : DM_ENOMEM;
    const json_t *list = json_object_get(root, "categories");
    /* First pass checks everything (no database), second one writes. */
    if (rc == 0)
        rc = walk(&s, 0, list, NULL, "");
    if (rc == 0) {
        s.db = db;
        rc = write_all(&s, list);
    }
    json_decref(s.seen[0]);
    json_decref(s.seen[1]);
    json_decref(root);
    return rc;
}
