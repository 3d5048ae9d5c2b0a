/*
 * auth_guard.c — Bearer token → principal. Every refusal is the same
 * 401 for the client; the reason goes to the debug log only.
 */
#include "domain/auth_guard.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/jwt.h"
#include "domain/users.h"
#include "http/response.h"
#include "http/router.h"
#include "http/server.h"
#include "util/log.h"

static bool unauthorized(dm_request *r, const char *why)
{
    dm__log(DM_LOG_DEBUG, "auth", "request %s refused: %s", r->request_id, why);
    dm__res_header(r, "WWW-Authenticate", "Bearer");
    dm__res_error(r, 401, "UNAUTHORIZED", "a valid access token is required", NULL);
    return false;
}

/* The token after "Bearer ", or NULL. */
static const char *bearer(const dm_request *r)
{
    const char *h = dm__req_header(r, "Authorization");
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h != '\0' ? h : NULL;
}

bool dm__auth_guard(dm_request *r)
{
    const char *token = bearer(r);
    if (token == NULL)
        return unauthorized(r, "no bearer token");
    dm_jwt_claims c;
    dm_err_t err = { 0 };
    if (dm__jwt_verify_access(&r->server->jwt, token, (int64_t)time(NULL), &c, &err) != 0)
        return unauthorized(r, err.msg);
    if (!dm__users_valid_id(c.sub) || !dm__users_valid_id(c.sid))
        return unauthorized(r, "sub or sid is not a session of ours");
    /* One round trip: the user as the database says now, and whether the
     * session (refresh-token family) still has an unrevoked token. */
    const char *p[] = { c.sub, c.sid };
    PGresult *res = dm__db_exec(r->db, "auth_guard",
                                "SELECT u.role, u.is_active, EXISTS (SELECT 1 FROM refresh_tokens t "
                                "WHERE t.family_id = $2 AND t.user_id = u.id AND t.revoked_at IS NULL) "
                                "FROM users u WHERE u.id = $1",
                                2, p, &err);
    if (res == NULL) {
        dm__res_failure(r, &err, "auth guard");
        return false;
    }
    bool found = PQntuples(res) == 1;
    bool active = found && PQgetvalue(res, 0, 1)[0] == 't';
    bool live = found && PQgetvalue(res, 0, 2)[0] == 't';
    if (found)
        snprintf(r->principal.role, sizeof r->principal.role, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!found || !active || !live)
        return unauthorized(r, !found ? "no such user" : !active ? "user deactivated" : "session revoked");
    /* Both are 36-character UUIDs (checked above). */
    memcpy(r->principal.id, c.sub, sizeof r->principal.id);
    memcpy(r->principal.sid, c.sid, sizeof r->principal.sid);
    if ((r->route->flags & DM_ROUTE_ADMIN) && strcmp(r->principal.role, "ADMINISTRATOR") != 0) {
        dm__res_error(r, 403, "FORBIDDEN", "administrator role required", NULL);
        return false;
    }
    return true;
}
