/*
 * routes.h — every HTTP route the server has, registered in one place so
 * that main and the test that checks docs/openapi.yaml against the router
 * see the same list.
 */
#ifndef DM_ROUTES_H
#define DM_ROUTES_H

typedef struct dm_router dm_router; /* http/router.h */

/* Register every route group. 0 or DM_ENOMEM / DM_EINVAL. */
int dm__routes_add_all(dm_router *rt);

#endif
