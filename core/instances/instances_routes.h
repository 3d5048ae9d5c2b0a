/*
 * instances_routes.h — the instances' route groups: /api/instances and the
 * runtime operations under /api/subscriptions/:id (instances_routes.c),
 * and the read-only views of a running instance (observe_routes.c).
 */
#ifndef DM_INSTANCES_ROUTES_H
#define DM_INSTANCES_ROUTES_H

typedef struct dm_router dm_router; /* http/router.h */

/* Register the routes of instances_routes.c. 0 or DM_ENOMEM / DM_EINVAL. */
int dm__instances_routes_add(dm_router *rt);

/* Register GET /api/subscriptions/:id/metrics|logs, /api/instances/:id/logs,
 * /logs/stream and /health, and /api/admin/runtime/:kind
 * (observe_routes.c). 0 or DM_ENOMEM / DM_EINVAL. */
int dm__instance_observe_routes_add(dm_router *rt);

#endif
