/*
 * subscriptions_routes.h — the subscriptions' route groups: the user's
 * /api/subscriptions (subscriptions_routes.c) and the administrators'
 * /api/admin/subscriptions (admin_subscriptions_routes.c).
 */
#ifndef DM_SUBSCRIPTIONS_ROUTES_H
#define DM_SUBSCRIPTIONS_ROUTES_H

typedef struct dm_router dm_router; /* http/router.h */

/* Register the /api/subscriptions routes. 0 or DM_ENOMEM / DM_EINVAL. */
int dm__subscriptions_routes_add(dm_router *rt);

/* Register the /api/admin/subscriptions routes. 0 or DM_ENOMEM / DM_EINVAL. */
int dm__admin_subscriptions_routes_add(dm_router *rt);

#endif
