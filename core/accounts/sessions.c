/*
 * sessions.c — SQL for refresh-token families. Rotation locks the presented
 * row (FOR UPDATE), so of two refreshes of one token the second sees it
 * spent once the first commits, and treats that as reuse.
 */
#include "accounts/sessions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int code_of(dm_err_t *err)
{
    return dm__db_failed(err);
}

static const char *cut(const char *s, char *buf, size_t cap)
{
    if (s == NULL)
        return NULL;
    snprintf(buf, cap, "%s", s);
    return buf;
}

/* Insert one token row; family NULL starts a new family. */
static int insert_token(dm_db *db, const char *user_id, const char *family, const char *parent,
                        const char *hash, int ttl_s, const dm_session_meta *meta, char family_out[37],
                        dm_err_t *err)
{
    char ttl[16], ip[65], ua[513];
    snprintf(ttl, sizeof ttl, "%d", ttl_s);
    const char *p[] = { user_id, family, parent, hash, ttl,
                        meta != NULL ? cut(meta->ip, ip, sizeof ip) : NULL,
                        meta != NULL ? cut(meta->user_agent, ua, sizeof ua) : NULL };
    PGresult *r = dm__db_exec(db, "sessions_insert",
                              "INSERT INTO refresh_tokens (user_id, family_id, parent_id, token_hash, "
                              "expires_at, ip, user_agent) VALUES ($1, coalesce($2::uuid, gen_random_uuid()), "
                              "$3, $4, now() + make_interval(secs => $5::int), $6, $7) RETURNING family_id",
                              7, p, err);
    if (r == NULL)
        return code_of(err);
    if (family_out != NULL)
        snprintf(family_out, 37, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int dm__sessions_start(dm_db *db, const char *user_id, const char *token_hash, int ttl_s,
                       const dm_session_meta *meta, char family_out[37], dm_err_t *err)
{
    return insert_token(db, user_id, NULL, NULL, token_hash, ttl_s, meta, family_out, err);
}

static int revoke_family(dm_db *db, const char *family, const char *reason, dm_err_t *err)
{
    const char *p[] = { family, reason };
    return dm__db_run(db, "sessions_revoke_family",
                      "UPDATE refresh_tokens SET revoked_at = now(), revoked_reason = $2 "
                      "WHERE family_id = $1 AND revoked_at IS NULL",
                      2, p, err);
}

/* The locked row of the presented token, judged. Returns 0 (good: id,
 * family and user filled), DM_EPERM with *reuse set when the family must
 * be revoked, DM_EPERM otherwise, or a pg.h code. */
static int judge(dm_db *db, const char *hash, char id[37], char family[37], char user[37],
                 bool *reuse, dm_err_t *err)
{
    *reuse = false;
    const char *p[] = { hash };
    PGresult *r = dm__db_exec(db, "sessions_lock",
                              "SELECT t.id, t.family_id, t.user_id, t.spent_at IS NOT NULL, "
                              "t.revoked_at IS NOT NULL, t.expires_at <= now(), u.is_active "
                              "FROM refresh_tokens t JOIN users u ON u.id = t.user_id "
                              "WHERE t.token_hash = $1 FOR UPDATE OF t",
                              1, p, err);
    if (r == NULL)
        return code_of(err);
    int rc = 0;
    if (PQntuples(r) == 0) {
        rc = dm_err_set(err, DM_EPERM, "unknown refresh token");
    } else {
        snprintf(id, 37, "%s", PQgetvalue(r, 0, 0));
        snprintf(family, 37, "%s", PQgetvalue(r, 0, 1));
        snprintf(user, 37, "%s", PQgetvalue(r, 0, 2));
        bool spent = PQgetvalue(r, 0, 3)[0] == 't';
        bool revoked = PQgetvalue(r, 0, 4)[0] == 't';
        bool expired = PQgetvalue(r, 0, 5)[0] == 't';
        bool active = PQgetvalue(r, 0, 6)[0] == 't';
        if (revoked)
            rc = dm_err_set(err, DM_EPERM, "refresh token revoked");
        else if (spent) {
            *reuse = true;
            rc = dm_err_set(err, DM_EPERM, "refresh token reused: family revoked");
        } else if (expired)
            rc = dm_err_set(err, DM_EPERM, "refresh token expired");
        else if (!active)
            rc = dm_err_set(err, DM_EPERM, "user deactivated");
    }
    PQclear(r);
    return rc;
}

int dm__sessions_rotate(dm_db *db, const char *presented_hash, const char *new_hash, int ttl_s,
                        const dm_session_meta *meta, char user_out[37], char family_out[37],
                        dm_err_t *err)
{
    dm_err_t local;
    if (err == NULL)
        err = &local;
    char id[37], family[37], user[37];
    bool reuse = false;
    int rc = dm__db_begin(db, err);
    if (rc != 0)
        return rc;
    rc = judge(db, presented_hash, id, family, user, &reuse, err);
    if (rc == DM_EPERM && reuse) {
        /* The revocation must stick although the request fails. */
        dm_err_t why = *err;
        if (revoke_family(db, family, "reuse", err) == 0 && dm__db_commit(db, err) == 0)
            return dm_err_set(err, DM_EPERM, "%s", why.msg);
        dm__db_rollback(db);
        return code_of(err);
    }
    if (rc == 0) {
        const char *p[] = { id };
        rc = dm__db_run(db, "sessions_spend", "UPDATE refresh_tokens SET spent_at = now() WHERE id = $1",
                        1, p, err);
    }
    if (rc == 0)
        rc = insert_token(db, user, family, id, new_hash, ttl_s, meta, NULL, err);
    if (rc == 0)
        rc = dm__db_commit(db, err);
    else
        dm__db_rollback(db);
    if (rc == 0) {
        snprintf(user_out, 37, "%s", user);
        if (family_out != NULL)
            snprintf(family_out, 37, "%s", family);
    }
    return rc;
}

int dm__sessions_logout(dm_db *db, const char *token_hash, dm_err_t *err)
{
    const char *p[] = { token_hash };
    return dm__db_run(db, "sessions_logout",
                      "UPDATE refresh_tokens SET revoked_at = now(), revoked_reason = 'logout' "
                      "WHERE revoked_at IS NULL AND family_id = "
                      "(SELECT family_id FROM refresh_tokens WHERE token_hash = $1)",
                      1, p, err);
}

int dm__sessions_revoke_user(dm_db *db, const char *user_id, const char *keep_family,
                             const char *reason, long *revoked, dm_err_t *err)
{
    const char *p[] = { user_id, keep_family, reason };
    PGresult *r = dm__db_exec(db, "sessions_revoke_user",
                              "UPDATE refresh_tokens SET revoked_at = now(), revoked_reason = $3 "
                              "WHERE user_id = $1 AND revoked_at IS NULL "
                              "AND family_id IS DISTINCT FROM $2::uuid",
                              3, p, err);
    if (r == NULL)
        return code_of(err);
    if (revoked != NULL)
        *revoked = strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 0;
}

int dm__sessions_family_of(dm_db *db, const char *token_hash, char family_out[37], dm_err_t *err)
{
    const char *p[] = { token_hash };
    PGresult *r = dm__db_exec(db, "sessions_family_of",
                              "SELECT family_id FROM refresh_tokens WHERE token_hash = $1 "
                              "AND spent_at IS NULL AND revoked_at IS NULL AND expires_at > now()",
                              1, p, err);
    if (r == NULL)
        return code_of(err);
    int rc = 0;
    if (PQntuples(r) == 0)
        rc = dm_err_set(err, DM_EPERM, "refresh token is not live");
    else
        snprintf(family_out, 37, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}
