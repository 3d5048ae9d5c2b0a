/*
 * audit_routes.h — the audit log's route: GET /api/admin/audit.
 */
#ifndef DM_AUDIT_ROUTES_H
#define DM_AUDIT_ROUTES_H

typedef struct dm_router dm_router; /* http/router.h */

/* 0 or a router error. */
int dm__audit_routes_add(dm_router *rt);

#endif
