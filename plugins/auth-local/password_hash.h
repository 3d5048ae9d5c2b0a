/*
 * password_hash.h — auth-local's password hashing: new hashes in argon2id
 * (PHC string format, libargon2), verification of argon2id and of legacy
 * bcrypt ($2a$, $2b$, $2y$ through libcrypt's crypt_r), and the "is this
 * stored hash weaker than what we would write today" judgement.
 * Pure functions, no state: safe from any number of threads at once.
 */
#ifndef AUTH_LOCAL_PASSWORD_HASH_H
#define AUTH_LOCAL_PASSWORD_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dermaga/error.h>

#define AL_SALT_BYTES 16 /* RFC 9106 recommends 16 */
#define AL_HASH_BYTES 32

/* Hard upper bounds on what we accept, from the config and from a stored
 * hash: argon2_verify allocates what the string asks for, so a corrupt
 * row must not make a worker allocate gigabytes or loop for minutes. */
#define AL_MAX_MEMORY_KIB   (1024u * 1024u) /* 1 GiB */
#define AL_MAX_ITERATIONS   64u
#define AL_MAX_PARALLELISM  16u
#define AL_BCRYPT_MAX_COST  16 /* 2^16 rounds: several seconds already */

/* argon2id cost parameters. */
typedef struct al_params {
    uint32_t memory_kib;
    uint32_t iterations;
    uint32_t parallelism;
} al_params;

/*
 * Hash secret (borrowed, NUL-terminated) with argon2id, version 0x13, the
 * given params and salt (AL_SALT_BYTES), into out (caller's, out_len bytes)
 * as "$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>". 0, or DM_EINVAL (out too
 * small, secret too long), DM_ENOMEM, DM_EIO (libargon2 refused), reason in
 * err.
 */
int al_argon2_hash(const al_params *params, const char *secret,
                   const uint8_t salt[AL_SALT_BYTES], char *out, size_t out_len, dm_err_t *err);

/*
 * Parse the parameters of an argon2id PHC string without verifying it:
 * version, m, t, p, and the lengths of salt and hash after base64.
 * 0, or DM_EINVAL when enc is not a well-formed argon2id string within
 * the AL_MAX_* bounds.
 */
typedef struct al_argon2_info {
    uint32_t  version;
    al_params params;
    size_t    salt_len; /* decoded bytes */
    size_t    hash_len; /* decoded bytes */
} al_argon2_info;
int al_argon2_parse(const char *enc, al_argon2_info *out);

/* True when stored looks like a bcrypt hash we can verify: $2a$, $2b$ or
 * $2y$, a two-digit cost 04..AL_BCRYPT_MAX_COST, 53 characters of bcrypt
 * base64. */
bool al_bcrypt_is_valid(const char *stored);

/*
 * Verify secret against stored (both borrowed). 0 on a match, with
 * *needs_rehash true when stored is bcrypt, or argon2id with a version,
 * memory or iteration count below current, or a short salt or hash.
 * DM_EPERM when it does not match; DM_EINVAL when stored is in no format
 * we verify (nothing was computed: the caller spends the time itself);
 * DM_ENOMEM / DM_EIO when hashing could not run. Compares in constant
 * time.
 */
int al_hash_verify(const al_params *current, const char *stored, const char *secret,
                   bool *needs_rehash);

/* Constant-time equality of n bytes (time depends on n only). */
bool al_ct_equal(const void *a, const void *b, size_t n);

#endif
