/*
 * catalog_admin_routes.c — /api/admin/categories|services|plans (docs/openapi.yaml,
 * Admin): list (inactive rows included), read, create, partial update and
 * deactivate, over catalog_admin.c. Bodies are checked against the
 * kind's field table (catalog_fields.c) before any SQL runs.
 */
#include "catalog/catalog_routes.h"

#include <stdio.h>
#include <string.h>

#include "accounts/users.h"
#include "app/app.h"
#include "catalog/catalog.h"
#include "catalog/catalog_internal.h"
#include "http/body_fields.h"
#include "http/response.h"
#include "http/router.h"
#include "instances/instance_service.h"

/* The name of kind's parent field ("categoryId", "serviceId"), or NULL. */
static const char *parent_of(const dm_cat_kind *k)
{
    for (int i = 0; i < k->n_fields; i++)
        if (k->fields[i].type == CF_REF)
            return k->fields[i].name;
    return NULL;
}

static void answer(dm_request *r, const dm_cat_change *c, dm_cat_outcome w, json_t *after, const dm_err_t *err)
{
    char msg[160];
    switch (w) {
    case DM_CAT_OK:
        dm__res_ok(r, c->id == NULL ? 201 : 200, after);
        return;
    case DM_CAT_NOT_FOUND:
        snprintf(msg, sizeof msg, "no such %s", c->kind->noun);
        dm__res_error(r, 404, "NOT_FOUND", msg, NULL);
        return;
    case DM_CAT_SLUG_TAKEN:
        snprintf(msg, sizeof msg, "another %s already has this slug", c->kind->noun);
        dm__res_error(r, 409, "SLUG_TAKEN", msg, json_pack("[{s:s,s:s}]", "field", "slug", "message", msg));
        return;
    case DM_CAT_BAD_PARENT:
        /* Only services and plans have a foreign key; never a NULL field. */
        dm__body_invalid(r, parent_of(c->kind) != NULL ? parent_of(c->kind) : c->kind->noun,
                         "no such parent: it does not exist");
        return;
    case DM_CAT_QUOTA_IN_USE:
        dm__res_error(r, 409, "QUOTA_IN_USE", "totalQuota cannot be lower than usedQuota",
                      json_pack("[{s:s,s:s}]", "field", "totalQuota", "message", "is below usedQuota"));
        return;
    case DM_CAT_REFUSED:
        dm__res_error(r, 400, "VALIDATION_ERROR", "a value was refused by the catalog tables", NULL);
        return;
    default:
        dm__res_failure(r, err, "catalog change");
    }
}

/* Run change c for the caller and answer it. */
static void write_and_answer(dm_request *r, const dm_cat_change *c)
{
    dm_actor actor = { r->principal.id, r->request_id, dm__req_client_ip(r) };
    json_t *after = NULL;
    dm_err_t err = { 0 };
    dm_cat_outcome w = dm__cat_admin_write(r->db, &actor, c, &after, &err);
    answer(r, c, w, after, &err);
}

/* {fields…, reason?} of kind; false with 400 set. */
static bool read_body(dm_request *r, const dm_cat_kind *ak, unsigned flags, dm_cat_values *v,
                      const char **reason)
{
    const char *names[DM_CAT_MAX_FIELDS + 2];
    int n = 0;
    for (int i = 0; i < ak->n_fields; i++)
        names[n++] = ak->fields[i].name;
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
    int rc = dm__cat_values_read(ak, r->json, flags, extra, v, &field, msg);
    if (rc == DM_EINVAL) {
        dm__body_invalid(r, field, msg);
        return false;
    }
    if (rc != 0) {
        dm_err_t err = { 0 };
        dm_err_set(&err, rc, "reading a %s body: out of memory", ak->noun);
        dm__res_failure(r, &err, "catalog body");
        return false;
    }
    if (v->given == 0) {
        dm__body_invalid(r, ak->fields[parent_of(ak) != NULL ? 2 : 1].name, "give at least one field to change");
        return false;
    }
    return true;
}

/* A service's serviceType must name a loaded service plugin, and a
 * service-template service needs a template (dm__instance_service_check).
 * Checked when a create, or an update that sets serviceType, would leave
 * the row so; an update of other fields leaves the plugin alone (a
 * service whose plugin is gone can still be changed or deactivated).
 * false with 400 (or the failure) answered. */
static bool service_plugin_ok(dm_request *r, const char *id, const dm_cat_values *v)
{
    const char *type = v->v[dm__cat_field_index(&dm__cat_service, "serviceType")];
    const char *tpl = v->v[dm__cat_field_index(&dm__cat_service, "template")];
    if (id != NULL && type == NULL)
        return true;
    json_t *row = NULL;
    if (id != NULL && tpl == NULL) {
        /* The template the row keeps; a missing row is the write's 404. */
        dm_err_t err = { 0 };
        int rc = dm__cat_admin_get(r->db, &dm__cat_service, id, &row, &err);
        if (rc == DM_ENOTFOUND)
            return true;
        if (rc != 0) {
            dm__res_failure(r, &err, "get catalog row");
            return false;
        }
        tpl = json_string_value(json_object_get(row, "template"));
    }
    const char *field;
    char msg[160];
    int rc = dm__instance_service_check(r->app != NULL ? r->app->plugins : NULL, type, tpl, &field, msg,
                                        sizeof msg);
    json_decref(row);
    if (rc != 0)
        dm__body_invalid(r, field, msg);
    return rc == 0;
}

static void do_write(dm_request *r, const dm_cat_kind *ak, const char *id)
{
    dm_cat_values v;
    memset(&v, 0, sizeof v); /* read_body may refuse before it fills v */
    const char *reason;
    if (!read_body(r, ak, id == NULL ? DM_CAT_CREATE : 0, &v, &reason)
        || (ak == &dm__cat_service && !service_plugin_ok(r, id, &v))) {
        dm__cat_values_free(&v);
        return;
    }
    dm_cat_change c = { ak, id, &v, reason, id == NULL ? "create" : "update" };
    write_and_answer(r, &c);
    dm__cat_values_free(&v);
}

static void do_create(dm_request *r, const dm_cat_kind *ak)
{
    do_write(r, ak, NULL);
}

static void do_update(dm_request *r, const dm_cat_kind *ak)
{
    do_write(r, ak, dm__req_param(r, "id"));
}

/* DELETE deactivates: no body; the reason may come as ?reason=. */
static void do_deactivate(dm_request *r, const dm_cat_kind *ak)
{
    const char *reason = dm__req_query(r, "reason");
    /* (Query values are valid UTF-8 by now: dispatch refuses the rest.) */
    if (reason != NULL && (reason[0] == '\0' || strlen(reason) > 2000)) {
        dm__body_invalid(r, "reason", "must be 1 to 2000 bytes");
        return;
    }
    dm_cat_values v;
    memset(&v, 0, sizeof v);
    v.v[dm__cat_field_index(ak, "isActive")] = "f";
    dm_cat_change c = { ak, dm__req_param(r, "id"), &v, reason, "deactivate" };
    write_and_answer(r, &c);
}

static void do_get(dm_request *r, const dm_cat_kind *ak)
{
    json_t *row = NULL;
    dm_err_t err = { 0 };
    int rc = dm__cat_admin_get(r->db, ak, dm__req_param(r, "id"), &row, &err);
    if (rc == DM_ENOTFOUND)
        dm__res_error(r, 404, "NOT_FOUND", err.msg, NULL);
    else if (rc != 0)
        dm__res_failure(r, &err, "get catalog row");
    else
        dm__res_ok(r, 200, row);
}

/* Every row, active or not, optionally of one parent (?categoryId= or
 * ?serviceId=), in catalog order. */
static void do_list(dm_request *r, const dm_cat_kind *ak)
{
    long page, limit, total = 0;
    if (!dm__query_paging(r, &page, &limit))
        return;
    const char *pname = parent_of(ak);
    const char *parent = pname != NULL ? dm__req_query(r, pname) : NULL;
    /* Checked here: bad UTF-8 in the text comparison is a database error,
     * and anything but a uuid cannot match anyway. */
    if (parent != NULL && parent[0] != '\0' && !dm__users_valid_id(parent)) {
        dm__body_invalid(r, pname, "must be a lowercase uuid");
        return;
    }
    json_t *items = NULL;
    dm_err_t err = { 0 };
    if (dm__cat_admin_list(r->db, ak, parent, page, limit, &items, &total, &err) != 0)
        dm__res_failure(r, &err, "list catalog");
    else
        dm__res_list(r, items, page, limit, total);
}

#define HANDLERS(kind, K)                                                                        \
    static void kind##_list(dm_request *r) { do_list(r, &K); }                                   \
    static void kind##_get(dm_request *r) { do_get(r, &K); }                                     \
    static void kind##_create(dm_request *r) { do_create(r, &K); }                               \
    static void kind##_update(dm_request *r) { do_update(r, &K); }                               \
    static void kind##_deactivate(dm_request *r) { do_deactivate(r, &K); }

HANDLERS(category, dm__cat_category)
HANDLERS(service, dm__cat_service)
HANDLERS(plan, dm__cat_plan)

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
