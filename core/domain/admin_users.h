/*
 * admin_users.h — registers /api/admin/users and /api/admin/audit.
 */
#ifndef DM_ADMIN_USERS_H
#define DM_ADMIN_USERS_H

#include "http/router.h"

/* 0 or a router error. */
int dm__admin_users_routes_add(dm_router *r);

#endif
