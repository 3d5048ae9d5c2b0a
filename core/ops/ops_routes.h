/*
 * ops_routes.h — the operations endpoints of docs/openapi.yaml: /healthz, /readyz,
 * /metrics, /openapi.json.
 */
#ifndef DM_OPS_ROUTES_H
#define DM_OPS_ROUTES_H

typedef struct dm_router dm_router; /* http/router.h */

/* Register the four routes. 0 or a router error. */
int dm__ops_routes_add(dm_router *r);

#endif
