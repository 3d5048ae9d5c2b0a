/*
 * admin_users.c — an administrator's change to an account (admin_users.h):
 * the change, its audit row and, on deactivation, the end of the user's
 * sessions commit together.
 */
#include "accounts/admin_users.h"

#include "accounts/sessions.h"

int dm__admin_users_change(dm_db *db, const dm_actor *actor, const char *id, const char *role, int active,
                           const char *reason, dm_user *after, dm_err_t *err)
{
    dm_user who, before;
    int rc = dm__users_get(db, actor->user_id, &who, err);
    if (rc == 0)
        rc = dm__db_begin(db, err);
    if (rc != 0)
        return rc;
    rc = dm__users_admin_update(db, id, role, active, &before, after, err);
    if (rc == 0 && active == 0)
        rc = dm__sessions_revoke_user(db, id, NULL, "deactivated", NULL, err);
    if (rc == 0) {
        json_t *b = dm__user_json(&before, true), *a = dm__user_json(after, true);
        dm_audit_entry e = { .actor_id = who.id, .actor = who.email, .action = "user.update",
                             .target_type = "user", .target_id = id, .reason = reason,
                             .request_id = actor->request_id, .ip = actor->ip, .before = b, .after = a };
        rc = dm__audit_write(db, &e, NULL, err);
        json_decref(b);
        json_decref(a);
    }
    return dm__db_end(db, rc, err);
}
