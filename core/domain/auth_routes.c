/*
 * auth_routes.c — /api/auth: register, login, refresh, logout, me, password,
 * providers (API.md, Auth). Password work (argon2id) runs on the hashing
 * pool (DM_ROUTE_HASH); everything else on the ordinary workers. The local
 * provider is the plugin named "auth-local"; Dermaga issues the sessions.
 */
#include "domain/auth_routes.h"

#include <string.h>
#include <time.h>

#include "auth/jwt.h"
#include "auth/tokens.h"
#include "domain/auth_body.h"
#include "domain/sessions.h"
#include "domain/throttle.h"
#include "domain/users.h"
#include "http/response.h"
#include "http/server.h"
#include "plugin/registry.h"
#include "util/log.h"

#define LOCAL_PROVIDER "auth-local"

/* ---- shared pieces ------------------------------------------------------ */

/* The local password provider, or NULL after answering 503. */
static const dm_plugin *local_provider(dm_request *r, const dm_auth_ops_t **ops)
{
    const dm_plugin *p = r->server->plugins != NULL
                             ? dm__plugins_find(r->server->plugins, DM_PLUGIN_AUTH, LOCAL_PROVIDER)
                             : NULL;
    *ops = dm__plugin_auth_ops(p);
    if (p == NULL || *ops == NULL || (*ops)->hash_secret == NULL || (*ops)->normalize_identifier == NULL
        || (*ops)->validate_registration == NULL) {
        dm__res_unavailable(r, "email and password sign-in is not enabled on this server");
        return NULL;
    }
    return p;
}

static void bad_credentials(dm_request *r)
{
    dm__res_error(r, 401, "INVALID_CREDENTIALS", "invalid email or password", NULL);
}

/* Sign an access token for u in session `family` and answer {user,
 * accessToken, refreshToken, expiresIn}; the refresh token `token` was
 * already stored (start_session or rotation). */
static void answer_session(dm_request *r, int status, const dm_user *u, const char *family,
                           const char *token)
{
    char *access = NULL;
    dm_err_t err = { 0 };
    if (dm__jwt_sign_access(&r->server->jwt, u->id, u->role, family, (int64_t)time(NULL), &access, &err) != 0) {
        dm__res_failure(r, &err, "sign access token");
        return;
    }
    dm__res_ok(r, status, json_pack("{s:o,s:s,s:s,s:i}", "user", dm__user_json(u, false), "accessToken",
                                    access, "refreshToken", token, "expiresIn",
                                    r->server->jwt.access_ttl_s));
    free(access);
}

/* Start a new session (refresh-token family) for u inside the caller's
 * transaction; token receives the refresh token to hand out. */
static int start_session(dm_request *r, const dm_user *u, char family[37], char token[44], dm_err_t *err)
{
    char hash[65];
    int rc = dm__refresh_token_new(token, hash, err);
    if (rc != 0)
        return rc;
    dm_session_meta meta = { r->remote_ip, dm__req_header(r, "User-Agent") };
    return dm__sessions_start(r->db, u->id, hash, r->server->cfg->refresh_token_ttl_s, &meta, family, err);
}

/* ---- POST /api/auth/register -------------------------------------------- */

static void register_user(dm_request *r)
{
    static const char *const fields[] = { "email", "password", "name", NULL };
    const char *email, *password, *name;
    if (!dm__body_only(r, fields) || !dm__body_string(r, "email", 1, 320, &email)
        || !dm__body_string(r, "password", 1, 1024, &password) || !dm__body_name(r, "name", &name))
        return;
    const dm_auth_ops_t *ops;
    const dm_plugin *p = local_provider(r, &ops);
    if (p == NULL)
        return;
    dm_auth_credentials_t creds = { email, password, NULL, NULL };
    dm_err_t err = { 0 };
    if (ops->validate_registration(p->state, &creds, &err) != 0) {
        dm__body_invalid(r, strncmp(err.msg, "password", 8) == 0 ? "password" : "email", err.msg);
        return;
    }
    char norm[DM_AUTH_HASH_MAX], hash[DM_AUTH_HASH_MAX];
    if (ops->normalize_identifier(p->state, email, norm, sizeof norm, &err) != 0) {
        dm__body_invalid(r, "email", err.msg);
        return;
    }
    if (ops->hash_secret(p->state, password, hash, sizeof hash, &err) != 0) {
        dm__res_failure(r, &err, "hash password");
        return;
    }
    dm_user u;
    char family[37], token[44];
    int rc = dm__db_begin(r->db, &err);
    if (rc == 0)
        rc = dm__users_create(r->db, norm, name, NULL, "local", hash, &u, &err);
    if (rc == 0)
        rc = start_session(r, &u, family, token, &err);
    if (rc == 0)
        rc = dm__db_commit(r->db, &err);
    if (rc != 0) {
        dm__db_rollback(r->db);
        if (rc == DM_ECONFLICT)
            dm__res_error(r, 409, "EMAIL_TAKEN", "an account with this email already exists", NULL);
        else
            dm__res_failure(r, &err, "register");
        return;
    }
    answer_session(r, 201, &u, family, token);
}

/* ---- POST /api/auth/login ------------------------------------------------ */

/* 429 with Retry-After when the address or account is throttled. */
static bool throttled(dm_request *r, const char *account)
{
    int wait = 0;
    dm_err_t err = { 0 };
    int rc = dm__throttle_check(r->db, r->remote_ip, account, &wait, &err);
    if (rc == 0)
        return false;
    if (rc == DM_EBUSY) {
        char secs[16];
        snprintf(secs, sizeof secs, "%d", wait);
        dm__res_header(r, "Retry-After", secs);
        dm__res_error(r, 429, "TOO_MANY_ATTEMPTS", "too many failed sign-ins; try again later", NULL);
    } else {
        dm__res_failure(r, &err, "throttle check");
    }
    return true;
}

static void login(dm_request *r)
{
    static const char *const fields[] = { "email", "password", NULL };
    const char *email, *password;
    if (!dm__body_only(r, fields) || !dm__body_string(r, "email", 1, 320, &email)
        || !dm__body_string(r, "password", 1, 1024, &password))
        return;
    const dm_auth_ops_t *ops;
    const dm_plugin *p = local_provider(r, &ops);
    if (p == NULL)
        return;
    dm_err_t err = { 0 };
    char norm[DM_AUTH_HASH_MAX];
    bool well_formed = ops->normalize_identifier(p->state, email, norm, sizeof norm, &err) == 0;
    if (throttled(r, well_formed ? norm : NULL))
        return;
    dm_user u;
    memset(&u, 0, sizeof u);
    bool known = false;
    if (well_formed) {
        int rc = dm__users_get_by_email(r->db, norm, &u, &err);
        if (rc != 0 && rc != DM_ENOTFOUND) {
            dm__res_failure(r, &err, "login lookup");
            return;
        }
        known = rc == 0 && u.password_hash[0] != '\0';
    }
    /* authenticate does the same work with or without a stored hash, so
     * an unknown email costs what a wrong password costs. */
    dm_auth_credentials_t creds = { well_formed ? norm : email, password, known ? u.password_hash : NULL, NULL };
    dm_auth_identity_t who;
    memset(&who, 0, sizeof who);
    int rc = ops->authenticate(p->state, &creds, &who, &err);
    if (rc == 0 && !u.is_active)
        rc = DM_EPERM; /* a deactivated account answers like a wrong password */
    if (rc != 0) {
        if (rc != DM_EPERM)
            DM_LOG_W("login: provider error: %s", err.msg);
        dm_err_t terr = { 0 };
        dm__throttle_failed(r->db, r->remote_ip, well_formed ? norm : NULL, &terr);
        bad_credentials(r);
        return;
    }
    char family[37], token[44], hash[DM_AUTH_HASH_MAX];
    /* Legacy bcrypt (or weaker argon2id) hashes are replaced on the first
     * good login; a failure here must not fail the login itself. */
    if (who.needs_rehash && ops->hash_secret(p->state, password, hash, sizeof hash, &err) == 0
        && dm__users_set_password_hash(r->db, u.id, hash, &err) != 0)
        DM_LOG_W("login: rehash not stored: %s", err.msg);
    if (start_session(r, &u, family, token, &err) != 0) {
        dm__res_failure(r, &err, "login session");
        return;
    }
    answer_session(r, 200, &u, family, token);
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
    char old_hash[65], token[44], new_hash[65], user_id[37], family[37];
    dm_err_t err = { 0 };
    if (dm__refresh_token_check(presented) != 0 || dm__refresh_token_hash(presented, old_hash) != 0) {
        dm__res_error(r, 401, "INVALID_REFRESH_TOKEN", "refresh token is not valid", NULL);
        return;
    }
    if (dm__refresh_token_new(token, new_hash, &err) != 0) {
        dm__res_failure(r, &err, "new refresh token");
        return;
    }
    dm_session_meta meta = { r->remote_ip, dm__req_header(r, "User-Agent") };
    int rc = dm__sessions_rotate(r->db, old_hash, new_hash, r->server->cfg->refresh_token_ttl_s, &meta,
                                 user_id, family, &err);
    if (rc == DM_EPERM) {
        dm__log(DM_LOG_INFO, "auth", "refresh refused: %s", err.msg);
        dm__res_error(r, 401, "INVALID_REFRESH_TOKEN", "refresh token is not valid", NULL);
        return;
    }
    dm_user u;
    if (rc == 0)
        rc = dm__users_get(r->db, user_id, &u, &err);
    if (rc != 0) {
        dm__res_failure(r, &err, "refresh");
        return;
    }
    answer_session(r, 200, &u, family, token);
}

static void logout(dm_request *r)
{
    const char *presented;
    if (!refresh_field(r, &presented))
        return;
    char hash[65];
    dm_err_t err = { 0 };
    /* A token of the wrong shape cannot be live: nothing to revoke. */
    if (dm__refresh_token_check(presented) == 0 && dm__refresh_token_hash(presented, hash) == 0
        && dm__sessions_logout(r->db, hash, &err) != 0) {
        dm__res_failure(r, &err, "logout");
        return;
    }
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
    const dm_auth_ops_t *ops;
    const dm_plugin *p = local_provider(r, &ops);
    if (p == NULL)
        return;
    dm_user u;
    dm_err_t err = { 0 };
    if (dm__users_get(r->db, r->principal.id, &u, &err) != 0) {
        dm__res_failure(r, &err, "password: user");
        return;
    }
    if (throttled(r, u.email))
        return;
    dm_auth_credentials_t cur = { u.email, current, u.password_hash[0] != '\0' ? u.password_hash : NULL, NULL };
    dm_auth_identity_t who;
    memset(&who, 0, sizeof who);
    if (ops->authenticate(p->state, &cur, &who, &err) != 0) {
        dm_err_t terr = { 0 };
        dm__throttle_failed(r->db, r->remote_ip, u.email, &terr);
        bad_credentials(r);
        return;
    }
    dm_auth_credentials_t fresh = { u.email, next, NULL, NULL };
    if (ops->validate_registration(p->state, &fresh, &err) != 0) {
        dm__body_invalid(r, "newPassword", err.msg);
        return;
    }
    char hash[DM_AUTH_HASH_MAX];
    if (ops->hash_secret(p->state, next, hash, sizeof hash, &err) != 0) {
        dm__res_failure(r, &err, "password: hash");
        return;
    }
    /* The new hash and the end of every other session commit together. */
    int rc = dm__db_begin(r->db, &err);
    if (rc == 0)
        rc = dm__users_set_password_hash(r->db, u.id, hash, &err);
    if (rc == 0)
        rc = dm__sessions_revoke_user(r->db, u.id, r->principal.sid, "password_change", NULL, &err);
    if (rc == 0)
        rc = dm__db_commit(r->db, &err);
    if (rc != 0) {
        dm__db_rollback(r->db);
        dm__res_failure(r, &err, "password");
        return;
    }
    dm__res_empty(r, 204);
}

/* ---- GET /api/auth/providers -------------------------------------------- */

static void providers(dm_request *r)
{
    json_t *list = json_array();
    size_t n = r->server->plugins != NULL ? dm__plugins_count(r->server->plugins) : 0;
    for (size_t i = 0; i < n; i++) {
        const dm_plugin *p = dm__plugins_at(r->server->plugins, i);
        const dm_auth_ops_t *ops = dm__plugin_auth_ops(p);
        json_t *d = NULL;
        dm_err_t err = { 0 };
        if (ops == NULL || ops->describe == NULL)
            continue;
        if (ops->describe(p->state, &d, &err) == 0 && json_is_object(d))
            json_array_append_new(list, d);
        else
            json_decref(d);
    }
    dm__res_ok(r, 200, list);
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
