/*
 * auth_routes.h — registers the /api/auth routes of API.md.
 */
#ifndef DM_AUTH_ROUTES_H
#define DM_AUTH_ROUTES_H

#include "http/router.h"

/* Register every /api/auth route. 0 or a router error. */
int dm__auth_routes_add(dm_router *r);

#endif
