/*
 * accounts_routes.h — the accounts' route groups: /api/auth
 * (auth_routes.c) and /api/admin/users (admin_users_routes.c).
 */
#ifndef DM_ACCOUNTS_ROUTES_H
#define DM_ACCOUNTS_ROUTES_H

typedef struct dm_router dm_router; /* http/router.h */

/* Register every /api/auth route. 0 or a router error. */
int dm__auth_routes_add(dm_router *rt);

/* Register /api/admin/users and /api/admin/users/:id. 0 or a router error. */
int dm__admin_users_routes_add(dm_router *rt);

#endif
