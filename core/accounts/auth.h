/*
 * auth.h — signing in and out (docs/openapi.yaml, Auth), without HTTP: registration,
 * login (throttled; a deactivated account answers like a wrong password),
 * refresh-token rotation, logout, password change, and the providers on
 * offer. Passwords are the auth-local plugin's business (validate,
 * normalise, hash, authenticate); Dermaga issues and checks the sessions
 * (sessions.h) and signs access tokens (jwt.h). auth_routes.c is the HTTP
 * side. Worker threads only; each function manages its own transaction.
 */
#ifndef DM_ACCOUNTS_AUTH_H
#define DM_ACCOUNTS_AUTH_H

#include <jansson.h>

#include <dermaga/error.h>

#include "accounts/sessions.h"
#include "accounts/users.h"
#include "app/app.h"
#include "db/pg.h"

/* The plugin that checks email + password. */
#define DM_AUTH_LOCAL_PROVIDER "auth-local"

/* A session handed out: the user, its refresh token (stored only as a
 * hash) and a signed access token. Free with dm__auth_session_clear. */
typedef struct dm_auth_session {
    dm_user user;
    char    family[37];  /* the session: the refresh-token family */
    char    refresh[44]; /* the refresh token, shown to the client once */
    char   *access;      /* the access token (owned) */
    int     expires_in;  /* the access token's lifetime, seconds */
} dm_auth_session;

void dm__auth_session_clear(dm_auth_session *s);

/* Why a call was refused (the functions return DM_ECONFLICT then). */
typedef enum dm_auth_refusal {
    DM_AUTH_OK = 0,
    DM_AUTH_NO_PROVIDER,     /* email + password sign-in is not enabled (503) */
    DM_AUTH_BAD_FIELD,       /* field (email, password, newPassword) refused (400) */
    DM_AUTH_EMAIL_TAKEN,     /* 409 */
    DM_AUTH_BAD_CREDENTIALS, /* wrong email or password, or deactivated (401) */
    DM_AUTH_THROTTLED,       /* too many failures: retry after retry_after_s (429) */
    DM_AUTH_BAD_REFRESH      /* refresh token unknown, spent, revoked or expired (401) */
} dm_auth_refusal;

typedef struct dm_auth_no {
    dm_auth_refusal why;
    const char     *field;         /* for DM_AUTH_BAD_FIELD (static) */
    char            message[DM_ERR_MSG_MAX]; /* for DM_AUTH_BAD_FIELD: safe to show */
    int             retry_after_s; /* for DM_AUTH_THROTTLED */
} dm_auth_no;

/* Who is asking, for sessions and throttling. Borrowed; either may be NULL. */
typedef struct dm_auth_client {
    const char *ip;
    const char *user_agent;
} dm_auth_client;

/* Each returns 0 (and fills *out where there is one); DM_ECONFLICT with
 * *no filled for a refusal; or a failure (err says why, nothing saved). */

/* A new local account (USER) for email, password and display name, signed
 * in at once. */
int dm__auth_register(const dm_app *app, dm_db *db, const dm_auth_client *who, const char *email,
                      const char *password, const char *name, dm_auth_session *out, dm_auth_no *no,
                      dm_err_t *err);

/* Sign in with email and password. The same refusal for an unknown email,
 * a wrong password and a deactivated account, after the same work. A
 * hash in an old format is replaced on success. */
int dm__auth_login(const dm_app *app, dm_db *db, const dm_auth_client *who, const char *email,
                   const char *password, dm_auth_session *out, dm_auth_no *no, dm_err_t *err);

/* Spend refresh token presented for a new pair (sessions.h: reuse revokes
 * the family). */
int dm__auth_refresh(const dm_app *app, dm_db *db, const dm_auth_client *who, const char *presented,
                     dm_auth_session *out, dm_auth_no *no, dm_err_t *err);

/* End the session of refresh token presented; idempotent (an unknown or
 * malformed token is 0). */
int dm__auth_logout(dm_db *db, const char *presented, dm_err_t *err);

/* Change user_id's password from current to next (checked like a
 * registration) and end every other session than keep_sid, together. */
int dm__auth_change_password(const dm_app *app, dm_db *db, const dm_auth_client *who, const char *user_id,
                             const char *keep_sid, const char *current, const char *next, dm_auth_no *no,
                             dm_err_t *err);

/* GET /api/auth/providers: a new array of the enabled auth plugins'
 * descriptions {id, name, type}. */
json_t *dm__auth_providers(const dm_app *app);

#endif
