/*
 * users.h — the users table (migration 0002): creating, reading and
 * changing accounts. Every function runs on a worker thread with that
 * worker's connection and may be called inside the caller's transaction.
 * Emails must already be normalised by the auth plugin; the table refuses
 * anything else.
 */
#ifndef DM_USERS_H
#define DM_USERS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <dermaga/error.h>

#include "db/pg.h"

typedef struct dm_user {
    char    id[37];
    char    email[255];
    char    name[101];
    char    role[16];           /* USER | ADMINISTRATOR */
    char    auth_provider[65];
    char    password_hash[513]; /* "" when the provider keeps none here */
    int64_t credit_balance;
    bool    is_active;
    char    created_at[40];     /* RFC 3339 UTC */
    char    updated_at[40];
} dm_user;

/* True for a canonical lower-case UUID string (what the database returns);
 * lookups refuse anything else as not found rather than as a SQL error. */
bool dm__users_valid_id(const char *id);

/* Insert a user. role NULL = USER; password_hash may be NULL. On success
 * out (may be NULL) holds the new row. DM_ECONFLICT when the email is taken,
 * DM_EINVAL when the table refuses a value, or the pg.h codes. */
int dm__users_create(dm_db *db, const char *email, const char *name, const char *role,
                     const char *provider, const char *password_hash, dm_user *out, dm_err_t *err);

/* Read one user by id or by (normalised) email. DM_ENOTFOUND when absent. */
int dm__users_get(dm_db *db, const char *id, dm_user *out, dm_err_t *err);
int dm__users_get_by_email(dm_db *db, const char *email, dm_user *out, dm_err_t *err);

/* Change the display name; out gets the updated row. DM_ENOTFOUND, DM_EINVAL. */
int dm__users_set_name(dm_db *db, const char *id, const char *name, dm_user *out, dm_err_t *err);

/* Store a new password hash. Ending other sessions is the caller's
 * business (sessions.h), in the same transaction. DM_ENOTFOUND. */
int dm__users_set_password_hash(dm_db *db, const char *id, const char *hash, dm_err_t *err);

/*
 * Administrator change of role (NULL = keep) and active flag (-1 = keep,
 * 0, 1). Must run inside a transaction: it locks the active administrators
 * so that two concurrent demotions cannot leave none. before/after (may be
 * NULL) receive the row around the change. Access tokens carry no role
 * that counts: the auth guard reads role and active flag on every request,
 * so the change acts at once. DM_ECONFLICT when it would leave no active
 * administrator; DM_ENOTFOUND; DM_EINVAL for an unknown role.
 */
int dm__users_admin_update(dm_db *db, const char *id, const char *role, int is_active,
                           dm_user *before, dm_user *after, dm_err_t *err);

/*
 * One page of users, newest first, optionally filtered by a case-insensitive
 * substring of email or name (search may be NULL or ""). page >= 1,
 * 1 <= limit <= 100. *items is a new array of dm__user_json(…, true)
 * objects; *total the number of matches.
 */
int dm__users_list(dm_db *db, const char *search, long page, long limit, json_t **items,
                   long *total, dm_err_t *err);

/* The docs/openapi.yaml user object: {id, email, name, role, creditBalance, createdAt}
 * plus isActive and updatedAt when for_admin. New reference. */
json_t *dm__user_json(const dm_user *u, bool for_admin);

#endif
