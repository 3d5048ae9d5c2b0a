/*
 * password_hash.c — argon2id hashing and verification (libargon2), legacy
 * bcrypt verification (libcrypt's crypt_r), and the parser that reads a
 * stored argon2id string's parameters to decide whether it needs a rehash.
 */
#include "password_hash.h"

#include <crypt.h>
#include <stdlib.h>
#include <string.h>

#include <argon2.h>

/* bcrypt only ever reads the first 72 bytes of a passphrase. */
#define BCRYPT_KEY_BYTES 72
#define BCRYPT_HASH_LEN  60

int al_argon2_hash(const al_params *params, const char *secret,
                   const uint8_t salt[AL_SALT_BYTES], char *out, size_t out_len, dm_err_t *err)
{
    size_t len = strlen(secret);
    if (len > ARGON2_MAX_PWD_LENGTH)
        return dm_err_set(err, DM_EINVAL, "password is too long");
    size_t need = argon2_encodedlen(params->iterations, params->memory_kib, params->parallelism,
                                    AL_SALT_BYTES, AL_HASH_BYTES, Argon2_id);
    if (out_len < need)
        return dm_err_set(err, DM_EINVAL, "hash buffer is %zu bytes, argon2id needs %zu", out_len,
                          need);
    int rc = argon2id_hash_encoded(params->iterations, params->memory_kib, params->parallelism,
                                   secret, len, salt, AL_SALT_BYTES, AL_HASH_BYTES, out, out_len);
    if (rc == ARGON2_OK)
        return 0;
    out[0] = '\0';
    if (rc == ARGON2_MEMORY_ALLOCATION_ERROR)
        return dm_err_set(err, DM_ENOMEM, "argon2id: out of memory");
    return dm_err_set(err, DM_EIO, "argon2id: %s", argon2_error_message(rc));
}

/* ---- parsing a PHC string ---- */

static const char *expect(const char *s, const char *lit)
{
    size_t n = strlen(lit);
    return s != NULL && strncmp(s, lit, n) == 0 ? s + n : NULL;
}

/* A decimal without sign or leading zero, 1..max. NULL when not. */
static const char *read_u32(const char *s, uint32_t max, uint32_t *out)
{
    if (s == NULL || *s < '1' || *s > '9')
        return NULL;
    uint64_t v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > max)
            return NULL;
        s++;
    }
    *out = (uint32_t)v;
    return s;
}

static bool is_b64(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

/* Unpadded base64 up to '$' or the end; *bytes = decoded length. */
static const char *read_b64(const char *s, size_t *bytes)
{
    if (s == NULL)
        return NULL;
    size_t n = 0;
    while (is_b64(s[n]))
        n++;
    if (n == 0 || n % 4 == 1 || (s[n] != '$' && s[n] != '\0'))
        return NULL;
    *bytes = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
    return s + n;
}

int al_argon2_parse(const char *enc, al_argon2_info *out)
{
    memset(out, 0, sizeof *out);
    const char *s = expect(enc, "$argon2id$");
    out->version = ARGON2_VERSION_10; /* what an absent v= means in the PHC format */
    if (expect(s, "v=") != NULL) {
        s = read_u32(expect(s, "v="), 0xff, &out->version);
        s = expect(s, "$");
    }
    s = read_u32(expect(s, "m="), AL_MAX_MEMORY_KIB, &out->params.memory_kib);
    s = read_u32(expect(s, ",t="), AL_MAX_ITERATIONS, &out->params.iterations);
    s = read_u32(expect(s, ",p="), AL_MAX_PARALLELISM, &out->params.parallelism);
    s = read_b64(expect(s, "$"), &out->salt_len);
    s = read_b64(expect(s, "$"), &out->hash_len);
    if (s == NULL || *s != '\0')
        return DM_EINVAL;
    if (out->version != ARGON2_VERSION_10 && out->version != ARGON2_VERSION_13)
        return DM_EINVAL;
    /* libargon2's own floors: 8 blocks per lane, an 8-byte salt, a 4-byte tag. */
    if (out->params.memory_kib < 8 * out->params.parallelism || out->salt_len < 8 ||
        out->hash_len < 4 || out->hash_len > 64)
        return DM_EINVAL;
    return 0;
}

/* ---- bcrypt ---- */

static bool is_bcrypt_b64(char c)
{
    return c == '.' || c == '/' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9');
}

bool al_bcrypt_is_valid(const char *stored)
{
    if (stored == NULL || strlen(stored) != BCRYPT_HASH_LEN)
        return false;
    if (strncmp(stored, "$2a$", 4) != 0 && strncmp(stored, "$2b$", 4) != 0 &&
        strncmp(stored, "$2y$", 4) != 0)
        return false;
    if (stored[4] < '0' || stored[4] > '9' || stored[5] < '0' || stored[5] > '9' ||
        stored[6] != '$')
        return false;
    int cost = (stored[4] - '0') * 10 + (stored[5] - '0');
    if (cost < 4 || cost > AL_BCRYPT_MAX_COST)
        return false;
    for (size_t i = 7; i < BCRYPT_HASH_LEN; i++) {
        if (!is_bcrypt_b64(stored[i]))
            return false;
    }
    return true;
}

/* crypt_r with a fresh zeroed crypt_data (32 KiB: too big for a worker's
 * stack to take lightly), then a constant-time comparison. */
static int bcrypt_verify(const char *stored, const char *secret)
{
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (cd == NULL)
        return DM_ENOMEM;
    /* Pass at most the 72 bytes bcrypt reads: identical result, and crypt_r
     * refuses passphrases of CRYPT_MAX_PASSPHRASE_SIZE bytes or more. */
    char key[BCRYPT_KEY_BYTES + 1];
    size_t n = strnlen(secret, BCRYPT_KEY_BYTES);
    memcpy(key, secret, n);
    key[n] = '\0';
    const char *h = crypt_r(key, stored, cd);
    int rc;
    if (h == NULL || h[0] == '*' || strlen(h) != BCRYPT_HASH_LEN)
        rc = DM_EINVAL;
    else
        rc = al_ct_equal(h, stored, BCRYPT_HASH_LEN) ? 0 : DM_EPERM;
    explicit_bzero(key, sizeof key);
    explicit_bzero(cd, sizeof *cd);
    free(cd);
    return rc;
}

/* ---- verification ---- */

static bool argon2_is_weaker(const al_argon2_info *have, const al_params *want)
{
    return have->version < ARGON2_VERSION_13 || have->params.memory_kib < want->memory_kib ||
           have->params.iterations < want->iterations || have->salt_len < AL_SALT_BYTES ||
           have->hash_len < AL_HASH_BYTES;
}

int al_hash_verify(const al_params *current, const char *stored, const char *secret,
                   bool *needs_rehash)
{
    *needs_rehash = false;
    if (stored == NULL || secret == NULL)
        return DM_EINVAL;
    if (al_bcrypt_is_valid(stored)) {
        int rc = bcrypt_verify(stored, secret);
        *needs_rehash = rc == 0;
        return rc;
    }
    al_argon2_info info;
    if (al_argon2_parse(stored, &info) != 0)
        return DM_EINVAL;
    /* argon2id_verify compares the tags in constant time. */
    int rc = argon2id_verify(stored, secret, strlen(secret));
    if (rc == ARGON2_OK) {
        *needs_rehash = argon2_is_weaker(&info, current);
        return 0;
    }
    if (rc == ARGON2_VERIFY_MISMATCH)
        return DM_EPERM;
    if (rc == ARGON2_MEMORY_ALLOCATION_ERROR)
        return DM_ENOMEM;
    return DM_EINVAL;
}

bool al_ct_equal(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a;
    const volatile unsigned char *y = b;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(x[i] ^ y[i]);
    return diff == 0;
}
