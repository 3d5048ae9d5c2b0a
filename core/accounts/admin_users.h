/*
 * admin_users.h — administrators' changes to accounts: role and active
 * flag, audited, with the end of a deactivated user's sessions, in one
 * transaction.
 */
#ifndef DM_ADMIN_USERS_H
#define DM_ADMIN_USERS_H

#include <dermaga/error.h>

#include "accounts/users.h"
#include "audit/audit.h"
#include "db/pg.h"

/* Change user id: role (NULL = keep), active (-1 keep, 0, 1), with reason
 * (may be NULL) in the audit row written by actor. A deactivation revokes
 * every session of the user. One transaction of its own; *after gets the
 * row after the change. 0; DM_ENOTFOUND; DM_ECONFLICT when it would leave
 * no active administrator (err says so); DM_EINVAL; the SQL codes. Nothing
 * is written unless 0. */
int dm__admin_users_change(dm_db *db, const dm_actor *actor, const char *id, const char *role, int active,
                           const char *reason, dm_user *after, dm_err_t *err);

#endif
