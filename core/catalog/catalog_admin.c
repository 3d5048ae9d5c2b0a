/*
 * catalog_admin.c — administrators' changes to the catalog (catalog.h):
 * list (inactive rows included), read, create, partial update and
 * deactivate categories, services and plans. One table of SQL per kind
 * drives every operation; each change and its audit row (before, after,
 * reason) commit in one transaction. Rows are never deleted.
 */
#include "catalog/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/users.h"
#include "catalog/catalog_internal.h"

/* The SQL of one kind. Every statement returns the row as json text. */
typedef struct admin_kind {
    const dm_cat_kind *k;
    const char        *lock_sql; /* $1 id: the row FOR UPDATE */
    const char        *get_sql;  /* $1 id */
    const char        *insert_sql; /* $1.. the fields */
    const char        *update_sql; /* $1 id, $2.. the fields (NULL keeps) */
    const char        *count_sql;  /* [$1 parent filter] */
    const char        *page_sql;   /* [$1 parent filter,] limit, offset */
    const char        *names[6];   /* statement names, in the order above */
} admin_kind;

#define CAT_J CAT_CATEGORY_JSON("c") "::text"
#define SVC_J CAT_SERVICE_JSON("s") "::text"
#define PLAN_J CAT_PLAN_JSON("p") "::text"

static const admin_kind CATEGORY = {
    &dm__cat_category,
    "SELECT " CAT_J " FROM categories c WHERE c.id = $1::uuid FOR UPDATE",
    "SELECT " CAT_J " FROM categories c WHERE c.id = $1::uuid",
    "INSERT INTO categories AS c (slug, name, description, sort_order, is_active) VALUES ($1, $2, "
    "coalesce($3, ''), coalesce($4::int, 0), coalesce($5::boolean, true)) RETURNING " CAT_J,
    "UPDATE categories c SET slug = coalesce($2, c.slug), name = coalesce($3, c.name), "
    "description = coalesce($4, c.description), sort_order = coalesce($5::int, c.sort_order), "
    "is_active = coalesce($6::boolean, c.is_active), updated_at = now() WHERE c.id = $1::uuid "
    "RETURNING " CAT_J,
    "SELECT count(*) FROM categories",
    "SELECT " CAT_J " FROM categories c ORDER BY c.sort_order, c.name, c.id LIMIT $1::int OFFSET $2::bigint",
    { "cat_adm_cat_lock", "cat_adm_cat_get", "cat_adm_cat_insert", "cat_adm_cat_update",
      "cat_adm_cat_count", "cat_adm_cat_page" },
};

static const admin_kind SERVICE = {
    &dm__cat_service,
    "SELECT " SVC_J " FROM services s WHERE s.id = $1::uuid FOR UPDATE",
    "SELECT " SVC_J " FROM services s WHERE s.id = $1::uuid",
    "INSERT INTO services AS s (category_id, slug, name, description, service_type, template, "
    "icon_url, sort_order, is_active, runtime) VALUES ($1::uuid, $2, $3, coalesce($4, ''), $5, $6, $7, "
    "coalesce($8::int, 0), coalesce($9::boolean, true), nullif($10, '')) RETURNING " SVC_J,
    "UPDATE services s SET category_id = coalesce($2::uuid, s.category_id), slug = coalesce($3, "
    "s.slug), name = coalesce($4, s.name), description = coalesce($5, s.description), "
    "service_type = coalesce($6, s.service_type), template = coalesce($7, s.template), icon_url = "
    "coalesce($8, s.icon_url), sort_order = coalesce($9::int, s.sort_order), is_active = "
    "coalesce($10::boolean, s.is_active), runtime = CASE WHEN $11::text IS NULL THEN s.runtime "
    "ELSE nullif($11, '') END, updated_at = now() WHERE s.id = $1::uuid RETURNING " SVC_J,
    "SELECT count(*) FROM services WHERE $1 = '' OR category_id::text = $1",
    "SELECT " SVC_J " FROM services s WHERE $1 = '' OR s.category_id::text = $1 "
    "ORDER BY s.sort_order, s.name, s.id LIMIT $2::int OFFSET $3::bigint",
    { "cat_adm_svc_lock", "cat_adm_svc_get", "cat_adm_svc_insert", "cat_adm_svc_update",
      "cat_adm_svc_count", "cat_adm_svc_page" },
};

static const admin_kind PLAN = {
    &dm__cat_plan,
    "SELECT " PLAN_J " FROM plans p WHERE p.id = $1::uuid FOR UPDATE",
    "SELECT " PLAN_J " FROM plans p WHERE p.id = $1::uuid",
    "INSERT INTO plans AS p (service_id, slug, name, description, price, billing_period_days, "
    "cpu_millicores, memory_mb, storage_gb, total_quota, features, sort_order, is_active) VALUES "
    "($1::uuid, $2, $3, coalesce($4, ''), $5::bigint, coalesce($6::int, 30), $7::int, $8::int, "
    "coalesce($9::int, 0), $10::int, coalesce($11::jsonb, '[]'::jsonb), coalesce($12::int, 0), "
    "coalesce($13::boolean, true)) RETURNING " PLAN_J,
    "UPDATE plans p SET service_id = coalesce($2::uuid, p.service_id), slug = coalesce($3, p.slug), "
    "name = coalesce($4, p.name), description = coalesce($5, p.description), price = "
    "coalesce($6::bigint, p.price), billing_period_days = coalesce($7::int, p.billing_period_days), "
    "cpu_millicores = coalesce($8::int, p.cpu_millicores), memory_mb = coalesce($9::int, "
    "p.memory_mb), storage_gb = coalesce($10::int, p.storage_gb), total_quota = coalesce($11::int, "
    "p.total_quota), features = coalesce($12::jsonb, p.features), sort_order = coalesce($13::int, "
    "p.sort_order), is_active = coalesce($14::boolean, p.is_active), updated_at = now() "
    "WHERE p.id = $1::uuid RETURNING " PLAN_J,
    "SELECT count(*) FROM plans WHERE $1 = '' OR service_id::text = $1",
    "SELECT " PLAN_J " FROM plans p WHERE $1 = '' OR p.service_id::text = $1 "
    "ORDER BY p.service_id, p.sort_order, p.price, p.name, p.id LIMIT $2::int OFFSET $3::bigint",
    { "cat_adm_plan_lock", "cat_adm_plan_get", "cat_adm_plan_insert", "cat_adm_plan_update",
      "cat_adm_plan_count", "cat_adm_plan_page" },
};

static const admin_kind *kind_of(const dm_cat_kind *k)
{
    return k == &dm__cat_category ? &CATEGORY : k == &dm__cat_service ? &SERVICE : &PLAN;
}

/* One statement returning at most one json row: *row new or NULL (none). */
static int one_row(dm_db *db, const char *name, const char *sql, int n, const char *const *p,
                   json_t **row, dm_err_t *err)
{
    *row = NULL;
    PGresult *res = dm__db_exec(db, name, sql, n, p, err);
    if (res == NULL)
        return dm__db_failed(err);
    if (PQntuples(res) > 0)
        *row = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    int rc = PQntuples(res) > 0 && *row == NULL ? dm_err_set(err, DM_ENOMEM, "catalog row") : 0;
    PQclear(res);
    return rc;
}

/* The SQLSTATE of a failed statement as an outcome. */
static dm_cat_outcome classify(const admin_kind *ak, const dm_db *db)
{
    if (strcmp(db->sqlstate, "23505") == 0)
        return DM_CAT_SLUG_TAKEN;
    if (strcmp(db->sqlstate, "23503") == 0)
        return DM_CAT_BAD_PARENT;
    /* Every other CHECK is tested in C first; on plans only the quota one is left. */
    if (strcmp(db->sqlstate, "23514") == 0)
        return ak == &PLAN ? DM_CAT_QUOTA_IN_USE : DM_CAT_REFUSED;
    return DM_CAT_FAILED;
}

/* Would the new totalQuota fall below what subscriptions already use?
 * before is the row locked FOR UPDATE, so usedQuota cannot move meanwhile. */
static bool quota_too_low(const admin_kind *ak, const dm_cat_values *v, const json_t *before)
{
    int qi = dm__cat_field_index(ak->k, "totalQuota");
    if (ak != &PLAN || v->v[qi] == NULL)
        return false;
    return strtoll(v->v[qi], NULL, 10) < json_integer_value(json_object_get(before, "usedQuota"));
}

static int audit(dm_db *db, const dm_actor *actor, const dm_cat_change *c, const json_t *before,
                 const json_t *after, dm_err_t *err)
{
    dm_user who;
    int rc = dm__users_get(db, actor->user_id, &who, err);
    if (rc != 0)
        return rc;
    char action[64];
    snprintf(action, sizeof action, "catalog.%s.%s", c->kind->noun, c->action);
    dm_audit_entry e = { .actor_id = who.id, .actor = who.email, .action = action,
                         .target_type = c->kind->noun,
                         .target_id = json_string_value(json_object_get(after, "id")),
                         .reason = c->reason, .request_id = actor->request_id, .ip = actor->ip,
                         .before = before, .after = after };
    return dm__audit_write(db, &e, NULL, err);
}

/* The statement of c inside the open transaction; before (new or NULL) is
 * the locked row of an update. */
static dm_cat_outcome apply_sql(dm_db *db, const dm_cat_change *c, json_t **before, json_t **after,
                                dm_err_t *err)
{
    const admin_kind *ak = kind_of(c->kind);
    const char *p[DM_CAT_MAX_FIELDS + 1];
    int n = 0;
    if (c->id != NULL) {
        p[n++] = c->id;
        if (one_row(db, ak->names[0], ak->lock_sql, 1, p, before, err) != 0)
            return DM_CAT_FAILED;
        if (*before == NULL)
            return DM_CAT_NOT_FOUND;
        if (quota_too_low(ak, c->values, *before))
            return DM_CAT_QUOTA_IN_USE;
    }
    for (int i = 0; i < ak->k->n_fields; i++)
        p[n++] = c->values->v[i];
    const char *name = c->id != NULL ? ak->names[3] : ak->names[2];
    const char *sql = c->id != NULL ? ak->update_sql : ak->insert_sql;
    if (one_row(db, name, sql, n, p, after, err) != 0)
        return db->sqlstate[0] != '\0' ? classify(ak, db) : DM_CAT_FAILED;
    return *after != NULL ? DM_CAT_OK : DM_CAT_NOT_FOUND;
}

dm_cat_outcome dm__cat_admin_write(dm_db *db, const dm_actor *actor, const dm_cat_change *c, json_t **after,
                                   dm_err_t *err)
{
    *after = NULL;
    if (c->id != NULL && !dm__users_valid_id(c->id))
        return DM_CAT_NOT_FOUND;
    if (dm__db_begin(db, err) != 0)
        return DM_CAT_FAILED;
    json_t *before = NULL;
    dm_cat_outcome w = apply_sql(db, c, &before, after, err);
    if (w == DM_CAT_OK && audit(db, actor, c, before, *after, err) != 0)
        w = DM_CAT_FAILED;
    if (w == DM_CAT_OK && dm__db_commit(db, err) != 0)
        w = DM_CAT_FAILED;
    if (w != DM_CAT_OK) {
        dm__db_rollback(db);
        json_decref(*after);
        *after = NULL;
    }
    json_decref(before);
    return w;
}

int dm__cat_admin_get(dm_db *db, const dm_cat_kind *k, const char *id, json_t **row, dm_err_t *err)
{
    const admin_kind *ak = kind_of(k);
    *row = NULL;
    if (dm__users_valid_id(id) && one_row(db, ak->names[1], ak->get_sql, 1, &id, row, err) != 0)
        return dm__db_failed(err);
    return *row != NULL ? 0 : dm_err_set(err, DM_ENOTFOUND, "no such %s", k->noun);
}

int dm__cat_admin_list(dm_db *db, const dm_cat_kind *k, const char *parent, long page, long limit, json_t **items,
                       long *total, dm_err_t *err)
{
    const admin_kind *ak = kind_of(k);
    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%ld", limit);
    snprintf(off, sizeof off, "%ld", (page - 1) * limit);
    const char *p[] = { parent != NULL ? parent : "", lim, off };
    int skip = k == &dm__cat_category ? 1 : 0; /* categories have no parent filter */
    PGresult *c = dm__db_exec(db, ak->names[4], ak->count_sql, 1 - skip, p, err);
    PGresult *res = c == NULL ? NULL : dm__db_exec(db, ak->names[5], ak->page_sql, 3 - skip, p + skip, err);
    *items = json_array();
    int rc = res == NULL ? dm__db_failed(err) : *items == NULL ? dm_err_set(err, DM_ENOMEM, "out of memory") : 0;
    for (int i = 0; rc == 0 && i < PQntuples(res); i++)
        if (json_array_append_new(*items, json_loads(PQgetvalue(res, i, 0), 0, NULL)) != 0)
            rc = dm_err_set(err, DM_EIO, "catalog row is not JSON"); /* never a silently shorter page */
    if (rc == 0)
        *total = strtol(PQgetvalue(c, 0, 0), NULL, 10);
    PQclear(c);
    PQclear(res);
    if (rc != 0) {
        json_decref(*items);
        *items = NULL;
    }
    return rc;
}
