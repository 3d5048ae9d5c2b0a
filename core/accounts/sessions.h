/*
 * sessions.h — refresh-token families in the refresh_tokens table
 * (migration 0002). Tokens are only ever seen here as SHA-256 hex hashes
 * (accounts/tokens.h makes and hashes them). Worker threads only.
 *
 * Rotation rule: a token is good once. Presenting it again — after it was
 * rotated, or while a concurrent refresh of it commits first — is reuse:
 * the whole family is revoked, which also kills the newer token, and the
 * caller answers 401. Two clients racing with one token therefore get one
 * success, and the family ends: a stolen token costs the thief and the
 * owner the session, never more.
 */
#ifndef DM_SESSIONS_H
#define DM_SESSIONS_H

#include <stdbool.h>

#include <dermaga/error.h>

#include "db/pg.h"

typedef struct dm_session_meta {
    const char *ip;         /* may be NULL */
    const char *user_agent; /* may be NULL; cut to 512 bytes */
} dm_session_meta;

/* Start a new family for user_id with its first token. family_out (may be
 * NULL) receives the family id. 0 or the pg.h codes. */
int dm__sessions_start(dm_db *db, const char *user_id, const char *token_hash, int ttl_s,
                       const dm_session_meta *meta, char family_out[37], dm_err_t *err);

/*
 * Spend presented_hash and issue new_hash in its family, in one transaction
 * of its own (the caller must not have one open). user_out and family_out
 * (may be NULL) receive the owner and the session. DM_EPERM for an unknown, expired or revoked token, and for reuse
 * (the family is revoked, committed, before DM_EPERM is returned);
 * DM_EPERM also when the owner is deactivated. Other pg.h codes on failure.
 */
int dm__sessions_rotate(dm_db *db, const char *presented_hash, const char *new_hash, int ttl_s,
                        const dm_session_meta *meta, char user_out[37], char family_out[37],
                        dm_err_t *err);

/* Revoke the family of token_hash (logout). 0 also when the token is
 * unknown or already revoked: logout is idempotent. */
int dm__sessions_logout(dm_db *db, const char *token_hash, dm_err_t *err);

/* Revoke every live family of user_id except keep_family (may be NULL),
 * with reason "password_change", "deactivated" or "admin". *revoked (may
 * be NULL) gets the number of tokens revoked. */
int dm__sessions_revoke_user(dm_db *db, const char *user_id, const char *keep_family,
                             const char *reason, long *revoked, dm_err_t *err);

/* The family of a live (unspent, unrevoked, unexpired) token, for "all
 * other sessions". DM_EPERM when the token is not live. */
int dm__sessions_family_of(dm_db *db, const char *token_hash, char family_out[37], dm_err_t *err);

#endif
