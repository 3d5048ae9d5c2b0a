/*
 * session_guard.h — who an access token belongs to, for the check behind
 * DM_ROUTE_AUTH and DM_ROUTE_ADMIN: a strictly verified token (jwt.h)
 * whose user is active and whose session has not been revoked, looked up
 * on every request so that a logout, a password change elsewhere or a
 * deactivation acts at once. http/dispatch.c turns the answer into 401 or
 * 403; main installs this as the server's authenticate function.
 */
#ifndef DM_SESSION_GUARD_H
#define DM_SESSION_GUARD_H

#include <dermaga/error.h>

#include "app/app.h"
#include "app/principal.h"
#include "db/pg.h"

/* Worker thread. token is borrowed. 0 with *out filled; DM_EPERM when the
 * token is not good or its user or session is not (err says which, for
 * the debug log; *out untouched); DM_EUNAVAIL / DM_EIO when the database
 * could not be asked. One round trip. */
int dm__session_guard(const dm_app *app, dm_db *db, const char *token, dm_principal *out, dm_err_t *err);

#endif
