/*
 * catalog_routes.h — the catalog's route groups: the public catalog
 * (catalog_routes.c) and the administrators' changes to it
 * (catalog_admin_routes.c).
 */
#ifndef DM_CATALOG_ROUTES_H
#define DM_CATALOG_ROUTES_H

typedef struct dm_router dm_router; /* http/router.h */

/* Register /api/catalog/... (public) and the admin catalog routes
 * (/api/admin/categories|services|plans). 0 or DM_ENOMEM / DM_EINVAL. */
int dm__catalog_routes_add(dm_router *rt);

/* Register the admin routes alone (catalog_admin_routes.c). */
int dm__catalog_admin_routes_add(dm_router *rt);

#endif
