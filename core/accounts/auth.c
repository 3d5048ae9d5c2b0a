/*
 * auth.c — registration, login, refresh, logout and password changes
 * (auth.h). The rules kept here: an unknown email costs what a wrong
 * password costs; a deactivated account answers like a wrong password;
 * failures are counted per address and account (throttle.h) before a
 * login may proceed; a new password ends every other session in the
 * transaction that stores it.
 */
#include "accounts/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dermaga/auth.h>

#include "accounts/jwt.h"
#include "accounts/throttle.h"
#include "accounts/tokens.h"
#include "plugin/call.h"
#include "plugin/registry.h"
#include "util/log.h"

void dm__auth_session_clear(dm_auth_session *s)
{
    free(s->access);
    s->access = NULL;
}

static int refuse(dm_auth_no *no, dm_auth_refusal why, const char *field, const char *message)
{
    no->why = why;
    no->field = field;
    snprintf(no->message, sizeof no->message, "%s", message != NULL ? message : "");
    return DM_ECONFLICT;
}

/* The start of every sign-in operation: out (may be NULL) and no cleared,
 * and the local password provider with every op sign-in needs, or NULL
 * after a DM_AUTH_NO_PROVIDER refusal. */
static const dm_plugin *local_provider(const dm_app *app, dm_auth_session *out, dm_auth_no *no)
{
    if (out != NULL)
        memset(out, 0, sizeof *out);
    memset(no, 0, sizeof *no);
    const dm_plugin *p =
        app->plugins != NULL ? dm__plugins_find(app->plugins, DM_PLUGIN_AUTH, DM_AUTH_LOCAL_PROVIDER) : NULL;
    if (!dm__plugin_has_op(p, "hash_secret") || !dm__plugin_has_op(p, "normalize_identifier")
        || !dm__plugin_has_op(p, "validate_registration")) {
        refuse(no, DM_AUTH_NO_PROVIDER, NULL, "email and password sign-in is not enabled on this server");
        return NULL;
    }
    return p;
}

/* Sign the access token of s (its user and family set). */
static int sign(const dm_app *app, dm_auth_session *s, dm_err_t *err)
{
    s->expires_in = app->jwt->access_ttl_s;
    return dm__jwt_sign_access(app->jwt, s->user.id, s->user.role, s->family, (int64_t)time(NULL), &s->access,
                               err);
}

/* Start a new session (refresh-token family) for s->user inside the
 * caller's transaction, or as its own statement. */
static int start_session(const dm_app *app, dm_db *db, const dm_auth_client *who, dm_auth_session *s,
                         dm_err_t *err)
{
    char hash[65];
    int rc = dm__refresh_token_new(s->refresh, hash, err);
    if (rc != 0)
        return rc;
    dm_session_meta meta = { who->ip, who->user_agent };
    return dm__sessions_start(db, s->user.id, hash, app->cfg->refresh_token_ttl_s, &meta, s->family, err);
}

/* 0 when a sign-in may proceed; DM_ECONFLICT (throttled) or a failure. */
static int throttled(dm_db *db, const dm_auth_client *who, const char *account, dm_auth_no *no, dm_err_t *err)
{
    int wait = 0;
    int rc = dm__throttle_check(db, who->ip, account, &wait, err);
    if (rc == DM_EBUSY) {
        no->retry_after_s = wait;
        return refuse(no, DM_AUTH_THROTTLED, NULL, NULL);
    }
    return rc;
}

/* A failed sign-in: counted (best effort), then the one refusal. */
static int bad_credentials(dm_db *db, const dm_auth_client *who, const char *account, dm_auth_no *no)
{
    dm_err_t terr = { 0 };
    dm__throttle_failed(db, who->ip, account, &terr);
    return refuse(no, DM_AUTH_BAD_CREDENTIALS, NULL, NULL);
}

int dm__auth_register(const dm_app *app, dm_db *db, const dm_auth_client *who, const char *email,
                      const char *password, const char *name, dm_auth_session *out, dm_auth_no *no,
                      dm_err_t *err)
{
    const dm_plugin *p = local_provider(app, out, no);
    if (p == NULL)
        return DM_ECONFLICT;
    dm_auth_credentials_t creds = { email, password, NULL, NULL };
    dm_err_t why = { 0 };
    if (dm__auth_validate_registration(p, &creds, &why) != 0)
        return refuse(no, DM_AUTH_BAD_FIELD, strncmp(why.msg, "password", 8) == 0 ? "password" : "email", why.msg);
    char norm[DM_AUTH_HASH_MAX], hash[DM_AUTH_HASH_MAX];
    if (dm__auth_normalize_identifier(p, email, norm, sizeof norm, &why) != 0)
        return refuse(no, DM_AUTH_BAD_FIELD, "email", why.msg);
    if (dm__auth_hash_secret(p, password, hash, sizeof hash, err) != 0)
        return dm__db_failed(err);
    int rc = dm__db_begin(db, err);
    if (rc == 0)
        rc = dm__users_create(db, norm, name, NULL, "local", hash, &out->user, err);
    if (rc == 0)
        rc = start_session(app, db, who, out, err);
    rc = dm__db_end(db, rc, err);
    if (rc == DM_ECONFLICT)
        return refuse(no, DM_AUTH_EMAIL_TAKEN, NULL, NULL);
    return rc != 0 ? rc : sign(app, out, err);
}

int dm__auth_login(const dm_app *app, dm_db *db, const dm_auth_client *who, const char *email,
                   const char *password, dm_auth_session *out, dm_auth_no *no, dm_err_t *err)
{
    const dm_plugin *p = local_provider(app, out, no);
    if (p == NULL)
        return DM_ECONFLICT;
    dm_err_t why = { 0 };
    char norm[DM_AUTH_HASH_MAX];
    bool well_formed = dm__auth_normalize_identifier(p, email, norm, sizeof norm, &why) == 0;
    const char *account = well_formed ? norm : NULL;
    int rc = throttled(db, who, account, no, err);
    if (rc != 0)
        return rc;
    dm_user *u = &out->user;
    bool known = false;
    if (well_formed) {
        rc = dm__users_get_by_email(db, norm, u, err);
        if (rc != 0 && rc != DM_ENOTFOUND)
            return rc;
        known = rc == 0 && u->password_hash[0] != '\0';
    }
    /* authenticate does the same work with or without a stored hash, so
     * an unknown email costs what a wrong password costs. */
    dm_auth_credentials_t creds = { well_formed ? norm : email, password, known ? u->password_hash : NULL, NULL };
    dm_auth_identity_t id;
    rc = dm__auth_authenticate(p, &creds, &id, &why);
    if (rc == 0 && !u->is_active)
        rc = DM_EPERM; /* a deactivated account answers like a wrong password */
    if (rc != 0) {
        if (rc != DM_EPERM)
            DM_LOG_W("login: provider error: %s", why.msg);
        return bad_credentials(db, who, account, no);
    }
    /* Legacy bcrypt (or weaker argon2id) hashes are replaced on the first
     * good login; a failure here must not fail the login itself. */
    char hash[DM_AUTH_HASH_MAX];
    if (id.needs_rehash && dm__auth_hash_secret(p, password, hash, sizeof hash, &why) == 0
        && dm__users_set_password_hash(db, u->id, hash, &why) != 0)
        DM_LOG_W("login: rehash not stored: %s", why.msg);
    rc = start_session(app, db, who, out, err);
    return rc != 0 ? rc : sign(app, out, err);
}

int dm__auth_refresh(const dm_app *app, dm_db *db, const dm_auth_client *who, const char *presented,
                     dm_auth_session *out, dm_auth_no *no, dm_err_t *err)
{
    memset(out, 0, sizeof *out);
    memset(no, 0, sizeof *no);
    char old_hash[65], new_hash[65], user_id[37];
    if (dm__refresh_token_check(presented) != 0 || dm__refresh_token_hash(presented, old_hash) != 0)
        return refuse(no, DM_AUTH_BAD_REFRESH, NULL, NULL);
    int rc = dm__refresh_token_new(out->refresh, new_hash, err);
    if (rc != 0)
        return rc;
    dm_session_meta meta = { who->ip, who->user_agent };
    dm_err_t why = { 0 };
    rc = dm__sessions_rotate(db, old_hash, new_hash, app->cfg->refresh_token_ttl_s, &meta, user_id, out->family,
                             &why);
    if (rc == DM_EPERM) {
        dm__log(DM_LOG_INFO, "auth", "refresh refused: %s", why.msg);
        return refuse(no, DM_AUTH_BAD_REFRESH, NULL, NULL);
    }
    if (rc != 0) {
        if (err != NULL)
            *err = why;
        return rc;
    }
    rc = dm__users_get(db, user_id, &out->user, err);
    return rc != 0 ? rc : sign(app, out, err);
}

int dm__auth_logout(dm_db *db, const char *presented, dm_err_t *err)
{
    char hash[65];
    /* A token of the wrong shape cannot be live: nothing to revoke. */
    if (dm__refresh_token_check(presented) != 0 || dm__refresh_token_hash(presented, hash) != 0)
        return 0;
    return dm__sessions_logout(db, hash, err);
}

int dm__auth_change_password(const dm_app *app, dm_db *db, const dm_auth_client *who, const char *user_id,
                             const char *keep_sid, const char *current, const char *next, dm_auth_no *no,
                             dm_err_t *err)
{
    const dm_plugin *p = local_provider(app, NULL, no);
    if (p == NULL)
        return DM_ECONFLICT;
    dm_user u;
    int rc = dm__users_get(db, user_id, &u, err);
    if (rc == 0)
        rc = throttled(db, who, u.email, no, err);
    if (rc != 0)
        return rc;
    dm_auth_credentials_t cur = { u.email, current, u.password_hash[0] != '\0' ? u.password_hash : NULL, NULL };
    dm_auth_identity_t id;
    dm_err_t why = { 0 };
    if (dm__auth_authenticate(p, &cur, &id, &why) != 0)
        return bad_credentials(db, who, u.email, no);
    dm_auth_credentials_t fresh = { u.email, next, NULL, NULL };
    if (dm__auth_validate_registration(p, &fresh, &why) != 0)
        return refuse(no, DM_AUTH_BAD_FIELD, "newPassword", why.msg);
    char hash[DM_AUTH_HASH_MAX];
    if (dm__auth_hash_secret(p, next, hash, sizeof hash, err) != 0)
        return dm__db_failed(err);
    /* The new hash and the end of every other session commit together. */
    rc = dm__db_begin(db, err);
    if (rc == 0)
        rc = dm__users_set_password_hash(db, u.id, hash, err);
    if (rc == 0)
        rc = dm__sessions_revoke_user(db, u.id, keep_sid, "password_change", NULL, err);
    return dm__db_end(db, rc, err);
}

json_t *dm__auth_providers(const dm_app *app)
{
    json_t *list = json_array();
    size_t n = app->plugins != NULL ? dm__plugins_count(app->plugins) : 0;
    for (size_t i = 0; list != NULL && i < n; i++) {
        const dm_plugin *p = dm__plugins_at(app->plugins, i);
        json_t *d = NULL;
        dm_err_t err = { 0 };
        /* Plugins of other kinds, and auth plugins without describe, are
         * DM_EUNSUPPORTED: not providers to list. */
        if (dm__auth_describe(p, &d, &err) == 0 && json_is_object(d))
            json_array_append_new(list, d);
        else
            json_decref(d);
    }
    return list;
}
