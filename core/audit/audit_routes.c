/*
 * audit_routes.c — GET /api/admin/audit (docs/openapi.yaml, Admin): the audit log,
 * newest first, filtered by actor, action and target. Administrators only;
 * nothing here writes.
 */
#include "audit/audit_routes.h"

#include "audit/audit.h"
#include "http/body_fields.h"
#include "http/response.h"
#include "http/router.h"

static void list_audit(dm_request *r)
{
    long page, limit, total = 0;
    if (!dm__query_paging(r, &page, &limit))
        return;
    dm_audit_filter f = { dm__req_query(r, "actorId"), dm__req_query(r, "action"),
                          dm__req_query(r, "targetType"), dm__req_query(r, "targetId") };
    json_t *items = NULL;
    dm_err_t err = { 0 };
    if (dm__audit_list(r->db, &f, page, limit, &items, &total, &err) != 0) {
        dm__res_failure(r, &err, "list audit");
        return;
    }
    dm__res_list(r, items, page, limit, total);
}

int dm__audit_routes_add(dm_router *rt)
{
    return dm__router_add(rt, "GET", "/api/admin/audit", list_audit, DM_ROUTE_POOL | DM_ROUTE_ADMIN);
}
