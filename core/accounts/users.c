/*
 * users.c — SQL for accounts. Statements are prepared per connection under
 * fixed names; every value travels as a parameter. Row decoding lives in
 * one place (read_user) so every query selects the same columns (USER_COLS).
 */
#include "accounts/users.h"
#include "db/sql_time.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define USER_COLS                                                                              \
    "id, email, name, role, auth_provider, coalesce(password_hash, ''), credit_balance, "     \
    "is_active, " DM_SQL_TS("created_at") ", " DM_SQL_TS("updated_at")

bool dm__users_valid_id(const char *id)
{
    if (id == NULL || strlen(id) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        char c = id[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src != NULL ? src : "");
}

/* Decode row `row` of a USER_COLS result into out. */
static void read_user(const PGresult *r, int row, dm_user *out)
{
    memset(out, 0, sizeof *out);
    copy(out->id, sizeof out->id, PQgetvalue(r, row, 0));
    copy(out->email, sizeof out->email, PQgetvalue(r, row, 1));
    copy(out->name, sizeof out->name, PQgetvalue(r, row, 2));
    copy(out->role, sizeof out->role, PQgetvalue(r, row, 3));
    copy(out->auth_provider, sizeof out->auth_provider, PQgetvalue(r, row, 4));
    copy(out->password_hash, sizeof out->password_hash, PQgetvalue(r, row, 5));
    out->credit_balance = strtoll(PQgetvalue(r, row, 6), NULL, 10);
    out->is_active = strcmp(PQgetvalue(r, row, 7), "t") == 0;
    copy(out->created_at, sizeof out->created_at, PQgetvalue(r, row, 8));
    copy(out->updated_at, sizeof out->updated_at, PQgetvalue(r, row, 9));
}

/* Run a statement that returns at most one USER_COLS row. */
static int one_user(dm_db *db, const char *name, const char *sql, int n, const char *const *params,
                    dm_user *out, dm_err_t *err)
{
    PGresult *r = dm__db_exec(db, name, sql, n, params, err);
    if (r == NULL) {
        /* 23505: unique (email taken); 23514/22001: the table's CHECKs. */
        if (strcmp(db->sqlstate, "23505") == 0)
            return dm_err_set(err, DM_ECONFLICT, "email already registered");
        if (strcmp(db->sqlstate, "23514") == 0 || strcmp(db->sqlstate, "22001") == 0)
            return dm_err_set(err, DM_EINVAL, "value refused by the users table");
        return dm__db_failed(err);
    }
    int rc = 0;
    if (PQntuples(r) == 0)
        rc = dm_err_set(err, DM_ENOTFOUND, "no such user");
    else if (out != NULL)
        read_user(r, 0, out);
    PQclear(r);
    return rc;
}

int dm__users_create(dm_db *db, const char *email, const char *name, const char *role,
                     const char *provider, const char *password_hash, dm_user *out, dm_err_t *err)
{
    const char *p[] = { email, name != NULL ? name : "", role != NULL ? role : "USER",
                        provider != NULL ? provider : "local", password_hash };
    return one_user(db, "users_create",
                    "INSERT INTO users (email, name, role, auth_provider, password_hash) "
                    "VALUES ($1, $2, $3, $4, $5) RETURNING " USER_COLS,
                    5, p, out, err);
}

int dm__users_get(dm_db *db, const char *id, dm_user *out, dm_err_t *err)
{
    if (!dm__users_valid_id(id))
        return dm_err_set(err, DM_ENOTFOUND, "no such user");
    const char *p[] = { id };
    return one_user(db, "users_get", "SELECT " USER_COLS " FROM users WHERE id = $1", 1, p, out, err);
}

int dm__users_get_by_email(dm_db *db, const char *email, dm_user *out, dm_err_t *err)
{
    const char *p[] = { email };
    return one_user(db, "users_get_by_email", "SELECT " USER_COLS " FROM users WHERE email = $1", 1,
                    p, out, err);
}

int dm__users_set_name(dm_db *db, const char *id, const char *name, dm_user *out, dm_err_t *err)
{
    if (!dm__users_valid_id(id))
        return dm_err_set(err, DM_ENOTFOUND, "no such user");
    const char *p[] = { id, name };
    return one_user(db, "users_set_name",
                    "UPDATE users SET name = $2, updated_at = now() WHERE id = $1 RETURNING " USER_COLS,
                    2, p, out, err);
}

int dm__users_set_password_hash(dm_db *db, const char *id, const char *hash, dm_err_t *err)
{
    if (!dm__users_valid_id(id))
        return dm_err_set(err, DM_ENOTFOUND, "no such user");
    const char *p[] = { id, hash };
    return one_user(db, "users_set_password_hash",
                    "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1 RETURNING " USER_COLS,
                    2, p, NULL, err);
}

/* Would the change leave no active administrator? Locks every active
 * administrator row first, so concurrent demotions are serialised. */
static int check_last_admin(dm_db *db, const dm_user *u, const char *role, int is_active,
                            dm_err_t *err)
{
    bool was_admin = strcmp(u->role, "ADMINISTRATOR") == 0 && u->is_active;
    bool stays_admin = strcmp(role != NULL ? role : u->role, "ADMINISTRATOR") == 0
                       && (is_active < 0 ? u->is_active : is_active == 1);
    if (!was_admin || stays_admin)
        return 0;
    PGresult *r = dm__db_exec(db, "users_lock_admins",
                              "SELECT id FROM users WHERE role = 'ADMINISTRATOR' AND is_active "
                              "ORDER BY id FOR UPDATE",
                              0, NULL, err);
    if (r == NULL)
        return dm__db_failed(err);
    int admins = PQntuples(r);
    PQclear(r);
    if (admins <= 1)
        return dm_err_set(err, DM_ECONFLICT, "the last active administrator cannot be demoted or deactivated");
    return 0;
}

int dm__users_admin_update(dm_db *db, const char *id, const char *role, int is_active,
                           dm_user *before, dm_user *after, dm_err_t *err)
{
    if (role != NULL && strcmp(role, "USER") != 0 && strcmp(role, "ADMINISTRATOR") != 0)
        return dm_err_set(err, DM_EINVAL, "role must be USER or ADMINISTRATOR");
    if (!dm__users_valid_id(id))
        return dm_err_set(err, DM_ENOTFOUND, "no such user");
    /* Lock the administrators before the target row, always in that order,
     * so two concurrent updates cannot deadlock or both pass the check. */
    dm_user cur;
    const char *pid[] = { id };
    int rc = one_user(db, "users_get", "SELECT " USER_COLS " FROM users WHERE id = $1", 1, pid, &cur, err);
    if (rc == 0)
        rc = check_last_admin(db, &cur, role, is_active, err);
    if (rc == 0)
        rc = one_user(db, "users_lock", "SELECT " USER_COLS " FROM users WHERE id = $1 FOR UPDATE", 1,
                      pid, &cur, err);
    if (rc == 0)
        rc = check_last_admin(db, &cur, role, is_active, err); /* re-read under the lock */
    if (rc != 0)
        return rc;
    if (before != NULL)
        *before = cur;
    const char *active = is_active < 0 ? NULL : is_active ? "t" : "f";
    const char *p[] = { id, role, active };
    return one_user(db, "users_admin_update",
                    "UPDATE users SET role = coalesce($2, role), "
                    "is_active = coalesce($3::boolean, is_active), updated_at = now() "
                    "WHERE id = $1 RETURNING " USER_COLS,
                    3, p, after, err);
}

int dm__users_list(dm_db *db, const char *search, long page, long limit, json_t **items,
                   long *total, dm_err_t *err)
{
    if (page < 1 || limit < 1 || limit > 100)
        return dm_err_set(err, DM_EINVAL, "page must be >= 1 and limit between 1 and 100");
    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%ld", limit);
    snprintf(off, sizeof off, "%ld", (page - 1) * limit);
    const char *s = search != NULL ? search : "";
    const char *p[] = { s, lim, off };
#define MATCH "($1 = '' OR strpos(lower(email), lower($1)) > 0 OR strpos(lower(name), lower($1)) > 0)"
    PGresult *c = dm__db_exec(db, "users_count", "SELECT count(*) FROM users WHERE " MATCH, 1, p, err);
    if (c == NULL)
        return dm__db_failed(err);
    *total = strtol(PQgetvalue(c, 0, 0), NULL, 10);
    PQclear(c);
    PGresult *r = dm__db_exec(db, "users_page",
                              "SELECT " USER_COLS " FROM users WHERE " MATCH
                              " ORDER BY created_at DESC, id LIMIT $2::int OFFSET $3::bigint",
                              3, p, err);
#undef MATCH
    if (r == NULL)
        return dm__db_failed(err);
    *items = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        dm_user u;
        read_user(r, i, &u);
        json_array_append_new(*items, dm__user_json(&u, true));
    }
    PQclear(r);
    return 0;
}

json_t *dm__user_json(const dm_user *u, bool for_admin)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s}", "id", u->id, "email", u->email, "name", u->name,
                          "role", u->role, "creditBalance", (json_int_t)u->credit_balance,
                          "createdAt", u->created_at);
    if (o != NULL && for_admin) {
        json_object_set_new(o, "isActive", json_boolean(u->is_active));
        json_object_set_new(o, "authProvider", json_string(u->auth_provider));
        json_object_set_new(o, "updatedAt", json_string(u->updated_at));
    }
    return o;
}
