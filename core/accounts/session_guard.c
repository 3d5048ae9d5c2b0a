/*
 * session_guard.c — access token → principal (session_guard.h).
 */
#include "accounts/session_guard.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "accounts/jwt.h"
#include "accounts/users.h"

int dm__session_guard(const dm_app *app, dm_db *db, const char *token, dm_principal *out, dm_err_t *err)
{
    dm_jwt_claims c;
    dm_err_t why = { 0 };
    if (dm__jwt_verify_access(app->jwt, token, (int64_t)time(NULL), &c, &why) != 0)
        return dm_err_set(err, DM_EPERM, "%s", why.msg);
    if (!dm__users_valid_id(c.sub) || !dm__users_valid_id(c.sid))
        return dm_err_set(err, DM_EPERM, "sub or sid is not a session of ours");
    /* One round trip: the user as the database says now, and whether the
     * session (refresh-token family) still has an unrevoked token. */
    const char *p[] = { c.sub, c.sid };
    PGresult *res = dm__db_exec(db, "auth_guard",
                                "SELECT u.role, u.is_active, EXISTS (SELECT 1 FROM refresh_tokens t "
                                "WHERE t.family_id = $2 AND t.user_id = u.id AND t.revoked_at IS NULL) "
                                "FROM users u WHERE u.id = $1",
                                2, p, err);
    if (res == NULL)
        return dm__db_failed(err);
    bool found = PQntuples(res) == 1;
    bool active = found && PQgetvalue(res, 0, 1)[0] == 't';
    bool live = found && PQgetvalue(res, 0, 2)[0] == 't';
    char role[sizeof out->role] = "";
    if (found)
        snprintf(role, sizeof role, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!found || !active || !live)
        return dm_err_set(err, DM_EPERM, "%s",
                          !found ? "no such user" : !active ? "user deactivated" : "session revoked");
    /* Both are 36-character UUIDs (checked above). */
    memcpy(out->id, c.sub, sizeof out->id);
    memcpy(out->sid, c.sid, sizeof out->sid);
    memcpy(out->role, role, sizeof out->role);
    out->expires_at = c.exp;
    return 0;
}
