/*
 * jwt.h — access tokens: HS256 JWTs signed and verified with libjwt 1.10,
 * with every check libjwt leaves out (header algorithm, claim types, expiry,
 * issuer, token kind) done here. No global state: safe on worker threads.
 * Refresh tokens are not JWTs; see auth/tokens.h.
 */
#ifndef DM_AUTH_JWT_H
#define DM_AUTH_JWT_H

#include <stddef.h>
#include <stdint.h>

#include <dermaga/error.h>

#define DM_JWT_SECRET_MIN    32    /* bytes; shorter secrets are refused */
#define DM_JWT_SECRET_MIN_DISTINCT 16 /* distinct bytes; fewer are refused */
#define DM_JWT_SECRET_MAX    512   /* bytes; a longer one is a config mistake */
#define DM_JWT_ISSUER_MAX    128   /* bytes including the NUL */
#define DM_JWT_DEFAULT_TTL_S 900   /* 15 minutes */
#define DM_JWT_MAX_TTL_S     86400 /* matches auth.accessTokenTtlS's range */
#define DM_JWT_DEFAULT_ISSUER "dermaga"
/* Clock skew tolerated on iat and nbf between Dermaga nodes. exp gets none:
 * a token is dead at exp on every node that agrees on the time. */
#define DM_JWT_LEEWAY_S      30
/* Tokens longer than this are refused before any decoding. Ours are about
 * 250 bytes; the cap bounds the work an anonymous client can ask for. */
#define DM_JWT_MAX_TOKEN_LEN 4096
#define DM_JWT_SUB_MAX       64    /* bytes including the NUL */
#define DM_JWT_ROLE_MAX      16

/* Signing material. Filled by dm__jwt_keys_init, wiped by dm__jwt_keys_fini;
 * read-only afterwards, so one instance may be shared by all threads. */
typedef struct dm_jwt_keys {
    unsigned char secret[DM_JWT_SECRET_MAX];
    size_t        secret_len;
    char          issuer[DM_JWT_ISSUER_MAX];
    int           access_ttl_s;
} dm_jwt_keys;

/* What a verified access token says. */
typedef struct dm_jwt_claims {
    char    sub[DM_JWT_SUB_MAX];   /* the user id */
    char    role[DM_JWT_ROLE_MAX]; /* "USER" or "ADMINISTRATOR" */
    char    sid[DM_JWT_SUB_MAX];   /* the session (refresh-token family), or "" */
    int64_t iat;                   /* seconds since the epoch */
    int64_t exp;
} dm_jwt_claims;

/*
 * Fill k from a secret string (borrowed; copied), an issuer (borrowed,
 * copied; NULL or "" means "dermaga") and an access-token lifetime in
 * seconds (0 means 15 minutes). Returns 0, or DM_EINVAL with err naming the
 * problem: secret missing or shorter than 32 bytes, secret longer than 512,
 * secret of fewer than 16 distinct bytes (DM_JWT_SECRET_MIN_DISTINCT),
 * issuer too long, ttl negative or above a day.
 */
int dm__jwt_keys_init(dm_jwt_keys *k, const char *secret, const char *issuer,
                      int access_ttl_s, dm_err_t *err);

/* Wipe the secret in k (so it does not linger in freed memory or core
 * dumps). k may be NULL. */
void dm__jwt_keys_fini(dm_jwt_keys *k);

/*
 * Sign an access token for user `sub` (1..63 bytes) with `role` ("USER" or
 * "ADMINISTRATOR") in session `sid` (1..63 bytes; NULL for none), issued at
 * now_s and expiring k->access_ttl_s later.
 * *out_token is new (caller frees with free()). Returns 0, DM_EINVAL for a
 * bad sub, role, now_s or keys, DM_ENOMEM when libjwt fails to build it.
 */
int dm__jwt_sign_access(const dm_jwt_keys *k, const char *sub, const char *role,
                        const char *sid, int64_t now_s, char **out_token, dm_err_t *err);

/*
 * Verify an access token (borrowed) at time now_s and fill out (may be
 * NULL). Returns 0, or DM_EPERM with the reason in err — for the log only;
 * clients get one generic 401 whatever the reason. DM_EINVAL when k is
 * NULL, DM_ENOMEM when memory ran out. out is zeroed on every failure.
 */
int dm__jwt_verify_access(const dm_jwt_keys *k, const char *token, int64_t now_s,
                          dm_jwt_claims *out, dm_err_t *err);

#endif
