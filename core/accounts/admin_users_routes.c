/*
 * admin_users_routes.c — /api/admin/users (docs/openapi.yaml, Admin): the users,
 * one user, and an administrator's change of role or active flag
 * (admin_users.h). Every route needs the ADMINISTRATOR role.
 */
#include "accounts/accounts_routes.h"

#include <string.h>

#include "accounts/admin_users.h"
#include "accounts/users.h"
#include "http/body_fields.h"
#include "http/response.h"
#include "http/router.h"

static void list_users(dm_request *r)
{
    long page, limit, total = 0;
    if (!dm__query_paging(r, &page, &limit))
        return;
    json_t *items = NULL;
    dm_err_t err = { 0 };
    if (dm__users_list(r->db, dm__req_query(r, "search"), page, limit, &items, &total, &err) != 0) {
        dm__res_failure(r, &err, "list users");
        return;
    }
    dm__res_list(r, items, page, limit, total);
}

static void get_user(dm_request *r)
{
    dm_user u;
    dm_err_t err = { 0 };
    int rc = dm__users_get(r->db, dm__req_param(r, "id"), &u, &err);
    if (rc == DM_ENOTFOUND) {
        dm__res_error(r, 404, "NOT_FOUND", "no such user", NULL);
        return;
    }
    if (rc != 0) {
        dm__res_failure(r, &err, "get user");
        return;
    }
    dm__res_ok(r, 200, dm__user_json(&u, true));
}

/* Read {role?, isActive?, reason?}; false (400 set) when malformed. */
static bool update_body(dm_request *r, const char **role, int *active, const char **reason)
{
    static const char *const fields[] = { "role", "isActive", "reason", NULL };
    if (!dm__body_only(r, fields))
        return false;
    json_t *jr = json_object_get(r->json, "role"), *ja = json_object_get(r->json, "isActive");
    *role = NULL;
    *active = -1;
    *reason = NULL;
    if (jr != NULL && !dm__body_string(r, "role", 1, 16, role))
        return false;
    if (*role != NULL && strcmp(*role, "USER") != 0 && strcmp(*role, "ADMINISTRATOR") != 0) {
        dm__body_invalid(r, "role", "must be USER or ADMINISTRATOR");
        return false;
    }
    if (ja != NULL && !json_is_boolean(ja)) {
        dm__body_invalid(r, "isActive", "must be true or false");
        return false;
    }
    if (ja != NULL)
        *active = json_is_true(ja) ? 1 : 0;
    if (json_object_get(r->json, "reason") != NULL && !dm__body_string(r, "reason", 1, 2000, reason))
        return false;
    if (*role == NULL && *active < 0) {
        dm__body_invalid(r, "role", "give role, isActive or both");
        return false;
    }
    return true;
}

static void update_user(dm_request *r)
{
    const char *role, *reason;
    int active;
    if (!update_body(r, &role, &active, &reason))
        return;
    dm_user after;
    dm_err_t err = { 0 };
    dm_actor actor = { r->principal.id, r->request_id, dm__req_client_ip(r) };
    int rc = dm__admin_users_change(r->db, &actor, dm__req_param(r, "id"), role, active, reason, &after, &err);
    if (rc == DM_ENOTFOUND)
        dm__res_error(r, 404, "NOT_FOUND", "no such user", NULL);
    else if (rc == DM_ECONFLICT)
        dm__res_error(r, 409, "LAST_ADMINISTRATOR", err.msg, NULL);
    else if (rc != 0)
        dm__res_failure(r, &err, "update user");
    else
        dm__res_ok(r, 200, dm__user_json(&after, true));
}

int dm__admin_users_routes_add(dm_router *rt)
{
    const unsigned admin = DM_ROUTE_POOL | DM_ROUTE_ADMIN;
    int rc = 0;
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/admin/users", list_users, admin);
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/admin/users/:id", get_user, admin);
    rc = rc ? rc : dm__router_add(rt, "PUT", "/api/admin/users/:id", update_user, admin | DM_ROUTE_JSON);
    return rc;
}
