/*
 * auth_guard.h — the check behind DM_ROUTE_AUTH and DM_ROUTE_ADMIN: a
 * strictly verified access token (core/auth/jwt.h) whose user is active and
 * whose session has not been revoked, looked up on every request so that a
 * logout, a password change elsewhere or a deactivation acts at once.
 */
#ifndef DM_AUTH_GUARD_H
#define DM_AUTH_GUARD_H

#include <stdbool.h>

#include "http/request.h"

/* Worker thread. True with req->principal filled; false after setting
 * 401 UNAUTHORIZED, 403 FORBIDDEN or 503. Installed as dm_server.guard. */
bool dm__auth_guard(dm_request *req);

#endif
