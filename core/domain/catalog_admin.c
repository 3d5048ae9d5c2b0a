/*
 * catalog_admin.c — /api/admin/categories|services|plans: list (inactive
 * rows included), read, create, partial update and deactivate. One table
 * of SQL per kind drives the same handlers; every change and its audit row
 * (before, after, reason) commit in one transaction. Rows are never deleted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/auth_body.h"
#include "domain/catalog_internal.h"
#include "domain/users.h"
#include "http/response.h"
#include "jobs/audit.h"

/* The SQL of one kind. Every statement returns the row as json text. */
typedef struct admin_kind {
    const dm_cat_kind *k;
    const char        *parent;   /* the CF_REF field ("categoryId") or NULL */
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
    &dm__cat_category, NULL,
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
    &dm__cat_service, "categoryId",
    "SELECT " SVC_J " FROM services s WHERE s.id = $1::uuid FOR UPDATE",
    "SELECT " SVC_J " FROM services s WHERE s.id = $1::uuid",
    "INSERT INTO services AS s (category_id, slug, name, description, service_type, template, "
    "icon_url, sort_order, is_active) VALUES ($1::uuid, $2, $3, coalesce($4, ''), $5, $6, $7, "
    "coalesce($8::int, 0), coalesce($9::boolean, true)) RETURNING " SVC_J,
    "UPDATE services s SET category_id = coalesce($2::uuid, s.category_id), slug = coalesce($3, "
    "s.slug), name = coalesce($4, s.name), description = coalesce($5, s.description), "
    "service_type = coalesce($6, s.service_type), template = coalesce($7, s.template), icon_url = "
    "coalesce($8, s.icon_url), sort_order = coalesce($9::int, s.sort_order), is_active = "
    "coalesce($10::boolean, s.is_active), updated_at = now() WHERE s.id = $1::uuid RETURNING " SVC_J,
    "SELECT count(*) FROM services WHERE $1 = '' OR category_id::text = $1",
    "SELECT " SVC_J " FROM services s WHERE $1 = '' OR s.category_id::text = $1 "
    "ORDER BY s.sort_order, s.name, s.id LIMIT $2::int OFFSET $3::bigint",
    { "cat_adm_svc_lock", "cat_adm_svc_get", "cat_adm_svc_insert", "cat_adm_svc_update",
      "cat_adm_svc_count", "cat_adm_svc_page" },
};

static const admin_kind PLAN = {
    &dm__cat_plan, "serviceId",
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

/* How a write ended, for the answer. */
typedef enum { W_OK, W_NOT_FOUND, W_SLUG_TAKEN, W_BAD_PARENT, W_QUOTA, W_REFUSED, W_FAILED } wres;

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
static wres classify(const admin_kind *ak, const dm_db *db)
{
    if (strcmp(db->sqlstate, "23505") == 0)
        return W_SLUG_TAKEN;
    if (strcmp(db->sqlstate, "23503") == 0)
        return W_BAD_PARENT;
    /* Every other CHECK is tested in C first; on plans only the quota one is left. */
    if (strcmp(db->sqlstate, "23514") == 0)
        return ak == &PLAN ? W_QUOTA : W_REFUSED;
    return W_FAILED;
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

typedef struct change {
    const admin_kind    *ak;
    const char          *id;     /* NULL: create */
    const dm_cat_values *v;
    const char          *reason; /* may be NULL */
    const char          *action; /* "create" | "update" | "deactivate" */
    json_t              *after;  /* out: new reference */
} change;

static int audit(dm_request *r, change *c, const json_t *before, dm_err_t *err)
{
    dm_user actor;
    int rc = dm__users_get(r->db, r->principal.id, &actor, err);
    if (rc != 0)
        return rc;
    char action[64];
    snprintf(action, sizeof action, "catalog.%s.%s", c->ak->k->noun, c->action);
    dm_audit_entry e = { .actor_id = actor.id, .actor = actor.email, .action = action,
                         .target_type = c->ak->k->noun,
                         .target_id = json_string_value(json_object_get(c->after, "id")),
                         .reason = c->reason, .request_id = r->request_id, .ip = r->remote_ip,
                         .before = before, .after = c->after };
    return dm__audit_write(r->db, &e, NULL, err);
}

/* The statement of c inside the open transaction; before (new or NULL) is
 * the locked row of an update. */
static wres apply_sql(dm_request *r, change *c, json_t **before, dm_err_t *err)
{
    const admin_kind *ak = c->ak;
    const char *p[DM_CAT_MAX_FIELDS + 1];
    int n = 0;
    if (c->id != NULL) {
        p[n++] = c->id;
        if (one_row(r->db, ak->names[0], ak->lock_sql, 1, p, before, err) != 0)
            return W_FAILED;
        if (*before == NULL)
            return W_NOT_FOUND;
        if (quota_too_low(ak, c->v, *before))
            return W_QUOTA;
    }
    for (int i = 0; i < ak->k->n_fields; i++)
        p[n++] = c->v->v[i];
    const char *name = c->id != NULL ? ak->names[3] : ak->names[2];
    const char *sql = c->id != NULL ? ak->update_sql : ak->insert_sql;
    if (one_row(r->db, name, sql, n, p, &c->after, err) != 0)
        return r->db->sqlstate[0] != '\0' ? classify(ak, r->db) : W_FAILED;
    return c->after != NULL ? W_OK : W_NOT_FOUND;
}

/* Begin, change, audit, commit; rolled back on any failure. */
static wres apply(dm_request *r, change *c, dm_err_t *err)
{
    if (c->id != NULL && !dm__users_valid_id(c->id))
        return W_NOT_FOUND;
    if (dm__db_begin(r->db, err) != 0)
        return W_FAILED;
    json_t *before = NULL;
    wres w = apply_sql(r, c, &before, err);
    if (w == W_OK && audit(r, c, before, err) != 0)
        w = W_FAILED;
    if (w == W_OK && dm__db_commit(r->db, err) != 0)
        w = W_FAILED;
    if (w != W_OK) {
        dm__db_rollback(r->db);
        json_decref(c->after);
        c->after = NULL;
    }
    json_decref(before);
    return w;
}

static void answer(dm_request *r, change *c, wres w, const dm_err_t *err)
{
    char msg[160];
    switch (w) {
    case W_OK:
        dm__res_ok(r, c->id == NULL ? 201 : 200, c->after);
        c->after = NULL;
        return;
    case W_NOT_FOUND:
        snprintf(msg, sizeof msg, "no such %s", c->ak->k->noun);
        dm__res_error(r, 404, "NOT_FOUND", msg, NULL);
        return;
    case W_SLUG_TAKEN:
        snprintf(msg, sizeof msg, "another %s already has this slug", c->ak->k->noun);
        dm__res_error(r, 409, "SLUG_TAKEN", msg, json_pack("[{s:s,s:s}]", "field", "slug", "message", msg));
        return;
    case W_BAD_PARENT:
        /* Only services and plans have a foreign key; never a NULL field. */
        dm__body_invalid(r, c->ak->parent != NULL ? c->ak->parent : c->ak->k->noun,
                         "no such parent: it does not exist");
        return;
    case W_QUOTA:
        dm__res_error(r, 409, "QUOTA_IN_USE", "totalQuota cannot be lower than usedQuota",
                      json_pack("[{s:s,s:s}]", "field", "totalQuota", "message", "is below usedQuota"));
        return;
    case W_REFUSED:
        dm__res_error(r, 400, "VALIDATION_ERROR", "a value was refused by the catalog tables", NULL);
        return;
    default:
        dm__res_failure(r, err, "catalog change");
    }
}

/* {fields…, reason?} of kind; false with 400 set. */
static bool read_body(dm_request *r, const admin_kind *ak, unsigned flags, dm_cat_values *v,
                      const char **reason)
{
    const char *names[DM_CAT_MAX_FIELDS + 2];
    int n = 0;
    for (int i = 0; i < ak->k->n_fields; i++)
        names[n++] = ak->k->fields[i].name;
    names[n++] = "reason";
    names[n] = NULL;
    static const char *const extra[] = { "reason", NULL };
    const char *field;
    char msg[160];
    if (!dm__body_only(r, names))
        return false;
    /* Optional, with the rules of every other admin reason. */
    if (!dm__body_reason(r, false, reason))
        return false;
    int rc = dm__cat_values_read(ak->k, r->json, flags, extra, v, &field, msg);
    if (rc == DM_EINVAL) {
        dm__body_invalid(r, field, msg);
        return false;
    }
    if (rc != 0) {
        dm_err_t err = { 0 };
        dm_err_set(&err, rc, "reading a %s body: out of memory", ak->k->noun);
        dm__res_failure(r, &err, "catalog body");
        return false;
    }
    if (v->given == 0) {
        dm__body_invalid(r, ak->k->fields[ak->parent != NULL ? 2 : 1].name, "give at least one field to change");
        return false;
    }
    return true;
}

static void do_write(dm_request *r, const admin_kind *ak, const char *id)
{
    dm_cat_values v;
    memset(&v, 0, sizeof v); /* read_body may refuse before it fills v */
    const char *reason;
    if (!read_body(r, ak, id == NULL ? DM_CAT_CREATE : 0, &v, &reason)) {
        dm__cat_values_free(&v);
        return;
    }
    change c = { ak, id, &v, reason, id == NULL ? "create" : "update", NULL };
    dm_err_t err = { 0 };
    answer(r, &c, apply(r, &c, &err), &err);
    dm__cat_values_free(&v);
}

static void do_create(dm_request *r, const admin_kind *ak)
{
    do_write(r, ak, NULL);
}

static void do_update(dm_request *r, const admin_kind *ak)
{
    do_write(r, ak, dm__req_param(r, "id"));
}

/* DELETE deactivates: no body; the reason may come as ?reason=. */
static void do_deactivate(dm_request *r, const admin_kind *ak)
{
    const char *reason = dm__req_query(r, "reason");
    /* (Query values are valid UTF-8 by now: dispatch refuses the rest.) */
    if (reason != NULL && (reason[0] == '\0' || strlen(reason) > 2000)) {
        dm__body_invalid(r, "reason", "must be 1 to 2000 bytes");
        return;
    }
    dm_cat_values v;
    memset(&v, 0, sizeof v);
    v.v[dm__cat_field_index(ak->k, "isActive")] = "f";
    change c = { ak, dm__req_param(r, "id"), &v, reason, "deactivate", NULL };
    dm_err_t err = { 0 };
    answer(r, &c, apply(r, &c, &err), &err);
}

static void do_get(dm_request *r, const admin_kind *ak)
{
    const char *id = dm__req_param(r, "id");
    json_t *row = NULL;
    dm_err_t err = { 0 };
    if (dm__users_valid_id(id) && one_row(r->db, ak->names[1], ak->get_sql, 1, &id, &row, &err) != 0) {
        dm__res_failure(r, &err, "get catalog row");
        return;
    }
    if (row == NULL) {
        char msg[64];
        snprintf(msg, sizeof msg, "no such %s", ak->k->noun);
        dm__res_error(r, 404, "NOT_FOUND", msg, NULL);
        return;
    }
    dm__res_ok(r, 200, row);
}

/* Every row, active or not, optionally of one parent (?categoryId= or
 * ?serviceId=), in catalog order. */
static void do_list(dm_request *r, const admin_kind *ak)
{
    long page, limit;
    if (!dm__query_paging(r, &page, &limit))
        return;
    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%ld", limit);
    snprintf(off, sizeof off, "%ld", (page - 1) * limit);
    const char *parent = ak->parent != NULL ? dm__req_query(r, ak->parent) : NULL;
    /* Checked here: bad UTF-8 in the text comparison below is a database
     * error, and anything but a uuid cannot match anyway. */
    if (parent != NULL && parent[0] != '\0' && !dm__users_valid_id(parent)) {
        dm__body_invalid(r, ak->parent, "must be a lowercase uuid");
        return;
    }
    const char *p[] = { parent != NULL ? parent : "", lim, off };
    int skip = ak->parent != NULL ? 0 : 1; /* categories have no parent filter */
    dm_err_t err = { 0 };
    PGresult *c = dm__db_exec(r->db, ak->names[4], ak->count_sql, 1 - skip, p, &err);
    PGresult *res = c == NULL ? NULL : dm__db_exec(r->db, ak->names[5], ak->page_sql, 3 - skip, p + skip, &err);
    json_t *items = json_array();
    for (int i = 0; res != NULL && items != NULL && i < PQntuples(res); i++) {
        if (json_array_append_new(items, json_loads(PQgetvalue(res, i, 0), 0, NULL)) != 0) {
            json_decref(items); /* never a silently shorter page */
            items = NULL;
            dm_err_set(&err, DM_EIO, "catalog row is not JSON");
        }
    }
    if (res == NULL || items == NULL) {
        PQclear(c);
        PQclear(res);
        json_decref(items);
        dm__res_failure(r, &err, "list catalog");
        return;
    }
    long total = strtol(PQgetvalue(c, 0, 0), NULL, 10);
    PQclear(c);
    PQclear(res);
    dm__res_list(r, items, page, limit, total);
}

#define HANDLERS(kind, K)                                                                        \
    static void kind##_list(dm_request *r) { do_list(r, &K); }                                   \
    static void kind##_get(dm_request *r) { do_get(r, &K); }                                     \
    static void kind##_create(dm_request *r) { do_create(r, &K); }                               \
    static void kind##_update(dm_request *r) { do_update(r, &K); }                               \
    static void kind##_deactivate(dm_request *r) { do_deactivate(r, &K); }

HANDLERS(category, CATEGORY)
HANDLERS(service, SERVICE)
HANDLERS(plan, PLAN)

#define ADD(method, path, fn, flags) rc = rc ? rc : dm__router_add(rt, method, path, fn, flags)

int dm__catalog_admin_routes_add(dm_router *rt)
{
    const unsigned admin = DM_ROUTE_POOL | DM_ROUTE_ADMIN, json = admin | DM_ROUTE_JSON;
    int rc = 0;
    ADD("GET", "/api/admin/categories", category_list, admin);
    ADD("GET", "/api/admin/categories/:id", category_get, admin);
    ADD("POST", "/api/admin/categories", category_create, json);
    ADD("PUT", "/api/admin/categories/:id", category_update, json);
    ADD("DELETE", "/api/admin/categories/:id", category_deactivate, admin);
    ADD("GET", "/api/admin/services", service_list, admin);
    ADD("GET", "/api/admin/services/:id", service_get, admin);
    ADD("POST", "/api/admin/services", service_create, json);
    ADD("PUT", "/api/admin/services/:id", service_update, json);
    ADD("DELETE", "/api/admin/services/:id", service_deactivate, admin);
    ADD("GET", "/api/admin/plans", plan_list, admin);
    ADD("GET", "/api/admin/plans/:id", plan_get, admin);
    ADD("POST", "/api/admin/plans", plan_create, json);
    ADD("PUT", "/api/admin/plans/:id", plan_update, json);
    ADD("DELETE", "/api/admin/plans/:id", plan_deactivate, admin);
    return rc;
}
