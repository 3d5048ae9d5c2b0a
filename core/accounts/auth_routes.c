/*
 * auth_routes.c — /api/auth: register, login, refresh, logout, me, password,
 * providers (docs/openapi.yaml, Auth), over auth.h. Password work (argon2id) runs on
 * the hashing pool (DM_ROUTE_HASH); everything else on the ordinary
 * workers.
 */
#include "accounts/accounts_routes.h"

#include <stdio.h>
#include <string.h>

#include "accounts/auth.h"
#include "accounts/users.h"
#include "app/app.h"
#include "http/body_fields.h"
#include "http/response.h"
#include "http/router.h"

/* The caller as auth.h needs it. */
static dm_auth_client client(const dm_request *r)
{
    dm_auth_client c = { dm__req_client_ip(r), dm__req_header(r, "User-Agent") };
    return c;
}

/* Answer an auth operation's outcome: what (for the log) failed, a
 * refusal, or nothing to say (0). */
static void answer_refusal(dm_request *r, int rc, const dm_auth_no *no, const dm_err_t *err, const char *what)
{
    if (rc != DM_ECONFLICT) {
        dm__res_failure(r, err, what);
        return;
    }
    char secs[16];
    switch (no->why) {
    case DM_AUTH_NO_PROVIDER:
        dm__res_unavailable(r, no->message);
        break;
    case DM_AUTH_BAD_FIELD:
        dm__body_invalid(r, no->field, no->message);
        break;
    case DM_AUTH_EMAIL_TAKEN:
        dm__res_error(r, 409, "EMAIL_TAKEN", "an account with this email already exists", NULL);
        break;
    case DM_AUTH_BAD_CREDENTIALS:
        dm__res_error(r, 401, "INVALID_CREDENTIALS", "invalid email or password", NULL);
        break;
    case DM_AUTH_THROTTLED:
        snprintf(secs, sizeof secs, "%d", no->retry_after_s);
        dm__res_header(r, "Retry-After", secs);
        dm__res_error(r, 429, "TOO_MANY_ATTEMPTS", "too many failed sign-ins; try again later", NULL);
        break;
    case DM_AUTH_BAD_REFRESH:
        dm__res_error(r, 401, "INVALID_REFRESH_TOKEN", "refresh token is not valid", NULL);
        break;
    default:
        dm__res_failure(r, err, what);
    }
}

/* {user, accessToken, refreshToken, expiresIn}, or the refusal. */
static void answer_session(dm_request *r, int status, int rc, dm_auth_session *s, const dm_auth_no *no,
                           const dm_err_t *err, const char *what)
{
    if (rc == 0)
        dm__res_ok(r, status, json_pack("{s:o,s:s,s:s,s:i}", "user", dm__user_json(&s->user, false), "accessToken",
                                        s->access, "refreshToken", s->refresh, "expiresIn", s->expires_in));
    else
        answer_refusal(r, rc, no, err, what);
    dm__auth_session_clear(s);
}

/* ---- POST /api/auth/register and /login ---------------------------------- */

static void register_user(dm_request *r)
{
    static const char *const fields[] = { "email", "password", "name", NULL };
    const char *email, *password, *name;
    if (!dm__body_only(r, fields) || !dm__body_string(r, "email", 1, 320, &email)
        || !dm__body_string(r, "password", 1, 1024, &password) || !dm__body_name(r, "name", &name))
        return;
    dm_auth_client who = client(r);
    dm_auth_session s;
    dm_auth_no no;
    dm_err_t err = { 0 };
    int rc = dm__auth_register(r->app, r->db, &who, email, password, name, &s, &no, &err);
    answer_session(r, 201, rc, &s, &no, &err, "register");
}

static void login(dm_request *r)
{
    static const char *const fields[] = { "email", "password", NULL };
    const char *email, *password;
    if (!dm__body_only(r, fields) || !dm__body_string(r, "email", 1, 320, &email)
        || !dm__body_string(r, "password", 1, 1024, &password))
        return;
    dm_auth_client who = client(r);
    dm_auth_session s;
    dm_auth_no no;
    dm_err_t err = { 0 };
    int rc = dm__auth_login(r->app, r->db, &who, email, password, &s, &no, &err);
    answer_session(r, 200, rc, &s, &no, &err, "login");
}

/* ---- POST /api/auth/refresh and /logout --------------------------------- */

static bool refresh_field(dm_request *r, const char **token)
{
    static const char *const fields[] = { "refreshToken", NULL };
    /* Any string is accepted here and judged as a token (401), so a wrong
     * kind of token gets the same answer as an unknown one. */
    return dm__body_only(r, fields) && dm__body_string(r, "refreshToken", 1, 8192, token);
}

static void refresh(dm_request *r)
{
    const char *presented;
    if (!refresh_field(r, &presented))
        return;
    dm_auth_client who = client(r);
    dm_auth_session s;
    dm_auth_no no;
    dm_err_t err = { 0 };
    int rc = dm__auth_refresh(r->app, r->db, &who, presented, &s, &no, &err);
    answer_session(r, 200, rc, &s, &no, &err, "refresh");
}

static void logout(dm_request *r)
{
    const char *presented;
    if (!refresh_field(r, &presented))
        return;
    dm_err_t err = { 0 };
    if (dm__auth_logout(r->db, presented, &err) != 0)
        dm__res_failure(r, &err, "logout");
    else
        dm__res_empty(r, 204);
}

/* ---- /api/auth/me and /password ----------------------------------------- */

static void me_get(dm_request *r)
{
    dm_user u;
    dm_err_t err = { 0 };
    if (dm__users_get(r->db, r->principal.id, &u, &err) != 0) {
        dm__res_failure(r, &err, "me");
        return;
    }
    dm__res_ok(r, 200, dm__user_json(&u, false));
}

static void me_put(dm_request *r)
{
    static const char *const fields[] = { "name", NULL };
    const char *name;
    if (!dm__body_only(r, fields) || !dm__body_name(r, "name", &name))
        return;
    dm_user u;
    dm_err_t err = { 0 };
    if (dm__users_set_name(r->db, r->principal.id, name, &u, &err) != 0) {
        dm__res_failure(r, &err, "update me");
        return;
    }
    dm__res_ok(r, 200, dm__user_json(&u, false));
}

static void change_password(dm_request *r)
{
    static const char *const fields[] = { "currentPassword", "newPassword", NULL };
    const char *current, *next;
    if (!dm__body_only(r, fields) || !dm__body_string(r, "currentPassword", 1, 1024, &current)
        || !dm__body_string(r, "newPassword", 1, 1024, &next))
        return;
    dm_auth_client who = client(r);
    dm_auth_no no;
    dm_err_t err = { 0 };
    int rc = dm__auth_change_password(r->app, r->db, &who, r->principal.id, r->principal.sid, current, next, &no,
                                      &err);
    if (rc != 0)
        answer_refusal(r, rc, &no, &err, "password");
    else
        dm__res_empty(r, 204);
}

/* ---- GET /api/auth/providers -------------------------------------------- */

static void providers(dm_request *r)
{
    dm__res_ok(r, 200, dm__auth_providers(r->app));
}

int dm__auth_routes_add(dm_router *rt)
{
    const unsigned body = DM_ROUTE_POOL | DM_ROUTE_JSON;
    int rc = 0;
    rc = rc ? rc : dm__router_add(rt, "POST", "/api/auth/register", register_user, body | DM_ROUTE_HASH);
    rc = rc ? rc : dm__router_add(rt, "POST", "/api/auth/login", login, body | DM_ROUTE_HASH);
    rc = rc ? rc : dm__router_add(rt, "POST", "/api/auth/refresh", refresh, body);
    rc = rc ? rc : dm__router_add(rt, "POST", "/api/auth/logout", logout, body);
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/auth/me", me_get, DM_ROUTE_POOL | DM_ROUTE_AUTH);
    rc = rc ? rc : dm__router_add(rt, "PUT", "/api/auth/me", me_put, body | DM_ROUTE_AUTH);
    rc = rc ? rc : dm__router_add(rt, "PUT", "/api/auth/password", change_password,
                                  body | DM_ROUTE_AUTH | DM_ROUTE_HASH);
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/auth/providers", providers, DM_ROUTE_POOL);
    return rc;
}
