/*
 * jwt.c — HS256 access tokens on top of libjwt 1.10. libjwt checks the
 * signature and nothing else, and lets the token's own header pick the
 * algorithm; so this file checks the header before libjwt sees the token
 * and every claim after, and refuses anything it did not itself issue.
 *
 * What libjwt 1.10.2 (Debian 1.10.2-1+deb12u1) does, found by experiment
 * (jwt_decode with our 32-byte key unless said otherwise):
 *   - HS256 token, right key: 0, jwt_get_alg() == JWT_ALG_HS256.
 *   - HS256 token, wrong key: EINVAL.
 *   - HS256 token, key NULL: 0 and jwt_get_alg() == JWT_ALG_NONE — no
 *     signature check at all. So jwt_decode is never called without the key.
 *   - header alg "none", empty signature, with key: EINVAL; without key: 0.
 *     Also EINVAL when a "none" header carries a real HS256 signature.
 *   - HS256 header with the signature segment emptied: EINVAL with key,
 *     0 (alg none) without.
 *   - header alg "RS256" with an HMAC signature and our key: EINVAL (libjwt
 *     tries to read our secret as a PEM public key).
 *   - header alg "HS512" with a correct HMAC-SHA512 made with our key: 0,
 *     jwt_get_alg() == JWT_ALG_HS512. The header picks the algorithm, so
 *     it is checked here before decoding (we only issue HS256), and
 *     jwt_get_alg() is checked again after.
 *   - header typ other than "JWT" (e.g. "JWS"): EINVAL.
 *   - jwt_str_alg() is case-insensitive ("hs256" is HS256): our header
 *     check compares exactly.
 *   - exp, nbf, iat, iss and typ are not looked at.
 * Debian's deb12u1 compares the HMAC in constant time (CVE-2024-25189).
 * libjwt keeps no global state in 1.10 (no allocator hooks); each call
 * works on its own jwt_t, and jansson/OpenSSL are thread-safe for
 * independent objects, so worker threads may call these concurrently.
 */
#include "accounts/jwt.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util/base64.h"

/* Decoded header or payload: at most 3/4 of the token. */
#define SEG_MAX ((DM_JWT_MAX_TOKEN_LEN / 4) * 3)

/* Unpadded base64url, canonical only (unused low bits must be zero), so
 * one byte string has exactly one accepted spelling. Returns the decoded
 * length or -1. */
static long b64url_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
    /* split_token let no '=' through, so padding never reaches this. */
    long len = dm__base64_decode(s, n, true, NULL);
    if (len < 0 || (size_t)len > cap)
        return -1;
    return dm__base64_decode(s, n, true, out);
}

/* Three non-empty base64url segments separated by exactly two dots. */
static bool split_token(const char *t, size_t len, size_t *dot1, size_t *dot2)
{
    size_t dots[2];
    int nd = 0;
    for (size_t i = 0; i < len; i++) {
        if (t[i] == '.') {
            if (nd == 2)
                return false;
            dots[nd++] = i;
        } else if (dm__base64_value((unsigned char)t[i], true) < 0) {
            return false;
        }
    }
    if (nd != 2 || dots[0] == 0 || dots[1] == dots[0] + 1 || dots[1] + 1 == len)
        return false;
    *dot1 = dots[0];
    *dot2 = dots[1];
    return true;
}

/* Parse one segment as a JSON object; duplicate keys are refused so that
 * we and libjwt cannot read different values out of one token. New ref. */
static json_t *segment_json(const char *seg, size_t n)
{
    unsigned char buf[SEG_MAX];
    long len = b64url_decode(seg, n, buf, sizeof buf);
    if (len <= 0)
        return NULL;
    json_error_t jerr;
    json_t *o = json_loadb((const char *)buf, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
    if (o != NULL && !json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The header must be exactly what we issue: alg "HS256", optionally typ
 * "JWT", nothing else (a "crit" or "kid" we would not understand). */
static int check_header(const char *seg, size_t n, dm_err_t *err)
{
    json_t *h = segment_json(seg, n);
    if (h == NULL)
        return dm_err_set(err, DM_EPERM, "jwt: header is not a base64url JSON object");
    int rc = 0;
    const char *alg = json_string_value(json_object_get(h, "alg"));
    json_t *typ = json_object_get(h, "typ");
    size_t allowed = typ != NULL ? 2 : 1;
    if (alg == NULL || strcmp(alg, "HS256") != 0)
        rc = dm_err_set(err, DM_EPERM, "jwt: header alg is not HS256");
    else if (typ != NULL && (!json_is_string(typ) || strcmp(json_string_value(typ), "JWT") != 0))
        rc = dm_err_set(err, DM_EPERM, "jwt: header typ is not JWT");
    else if (json_object_size(h) != allowed)
        rc = dm_err_set(err, DM_EPERM, "jwt: header has members other than alg and typ");
    json_decref(h);
    return rc;
}

static bool role_ok(const char *role)
{
    return role != NULL && (strcmp(role, "USER") == 0 || strcmp(role, "ADMINISTRATOR") == 0);
}

/* 1..63 bytes, no control characters (it ends up in logs and SQL params). */
static bool sub_ok(const char *sub)
{
    if (sub == NULL)
        return false;
    size_t n = strnlen(sub, DM_JWT_SUB_MAX);
    if (n == 0 || n >= DM_JWT_SUB_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)sub[i] < 0x20 || sub[i] == 0x7f)
            return false;
    return true;
}

/* A JSON integer claim; absent or any other type is -1, present is 0. */
static int int_claim(json_t *p, const char *name, int64_t *out)
{
    json_t *v = json_object_get(p, name);
    if (v == NULL || !json_is_integer(v))
        return -1;
    *out = (int64_t)json_integer_value(v);
    return 0;
}

/* Times: exp strictly in the future; iat and nbf not beyond now+leeway. */
static int check_times(json_t *p, int64_t now_s, dm_jwt_claims *c, dm_err_t *err)
{
    if (int_claim(p, "exp", &c->exp) != 0)
        return dm_err_set(err, DM_EPERM, "jwt: exp missing or not an integer");
    if (int_claim(p, "iat", &c->iat) != 0)
        return dm_err_set(err, DM_EPERM, "jwt: iat missing or not an integer");
    if (c->exp <= now_s)
        return dm_err_set(err, DM_EPERM, "jwt: expired (exp %lld, now %lld)",
                          (long long)c->exp, (long long)now_s);
    if (c->iat > now_s + DM_JWT_LEEWAY_S)
        return dm_err_set(err, DM_EPERM, "jwt: iat %lld is in the future", (long long)c->iat);
    if (c->exp <= c->iat)
        return dm_err_set(err, DM_EPERM, "jwt: exp is not after iat");
    int64_t nbf;
    if (json_object_get(p, "nbf") != NULL) {
        if (int_claim(p, "nbf", &nbf) != 0)
            return dm_err_set(err, DM_EPERM, "jwt: nbf is not an integer");
        if (nbf > now_s + DM_JWT_LEEWAY_S)
            return dm_err_set(err, DM_EPERM, "jwt: not valid before %lld", (long long)nbf);
    }
    return 0;
}

/* Every claim we rely on, with its type. Unknown claims are ignored. */
static int check_claims(const dm_jwt_keys *k, json_t *p, int64_t now_s,
                        dm_jwt_claims *c, dm_err_t *err)
{
    const char *typ = json_string_value(json_object_get(p, "typ"));
    if (typ == NULL || strcmp(typ, "access") != 0)
        return dm_err_set(err, DM_EPERM, "jwt: typ is not \"access\"");
    const char *iss = json_string_value(json_object_get(p, "iss"));
    if (iss == NULL || strcmp(iss, k->issuer) != 0)
        return dm_err_set(err, DM_EPERM, "jwt: iss is not the configured issuer");
    const char *sub = json_string_value(json_object_get(p, "sub"));
    if (!sub_ok(sub))
        return dm_err_set(err, DM_EPERM, "jwt: sub missing, not a string, empty or too long");
    const char *role = json_string_value(json_object_get(p, "role"));
    if (!role_ok(role))
        return dm_err_set(err, DM_EPERM, "jwt: role is not USER or ADMINISTRATOR");
    json_t *sidj = json_object_get(p, "sid");
    const char *sid = json_string_value(sidj);
    if (sidj != NULL && !sub_ok(sid))
        return dm_err_set(err, DM_EPERM, "jwt: sid not a string, empty or too long");
    int rc = check_times(p, now_s, c, err);
    if (rc != 0)
        return rc;
    if (sid != NULL)
        memcpy(c->sid, sid, strlen(sid) + 1);
    memcpy(c->sub, sub, strlen(sub) + 1);
    memcpy(c->role, role, strlen(role) + 1);
    return 0;
}

/* libjwt's verdict on the signature, with the key always supplied. */
static int check_signature(const dm_jwt_keys *k, const char *token, dm_err_t *err)
{
    jwt_t *j = NULL;
    int rc = jwt_decode(&j, token, k->secret, (int)k->secret_len);
    if (rc != 0) {
        if (rc == ENOMEM)
            return dm_err_set(err, DM_ENOMEM, "jwt: out of memory decoding token");
        return dm_err_set(err, DM_EPERM, "jwt: signature check failed");
    }
    jwt_alg_t alg = jwt_get_alg(j);
    jwt_free(j);
    if (alg != JWT_ALG_HS256)
        return dm_err_set(err, DM_EPERM, "jwt: libjwt decoded alg %s, not HS256", jwt_alg_str(alg));
    return 0;
}

int dm__jwt_verify_access(const dm_jwt_keys *k, const char *token, int64_t now_s,
                          dm_jwt_claims *out, dm_err_t *err)
{
    dm_jwt_claims c;
    memset(&c, 0, sizeof c);
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (k == NULL || k->secret_len < DM_JWT_SECRET_MIN)
        return dm_err_set(err, DM_EINVAL, "jwt: keys not initialised");
    if (token == NULL)
        return dm_err_set(err, DM_EPERM, "jwt: no token");
    size_t len = strnlen(token, DM_JWT_MAX_TOKEN_LEN + 1);
    if (len > DM_JWT_MAX_TOKEN_LEN)
        return dm_err_set(err, DM_EPERM, "jwt: token longer than %d bytes", DM_JWT_MAX_TOKEN_LEN);
    size_t d1, d2;
    if (!split_token(token, len, &d1, &d2))
        return dm_err_set(err, DM_EPERM, "jwt: not three base64url segments");
    int rc = check_header(token, d1, err);
    if (rc == 0)
        rc = check_signature(k, token, err);
    if (rc != 0)
        return rc;
    /* The signature covers these exact bytes, so reading the claims from
     * them is reading what libjwt verified — with our stricter parser. */
    json_t *p = segment_json(token + d1 + 1, d2 - d1 - 1);
    if (p == NULL)
        return dm_err_set(err, DM_EPERM, "jwt: payload is not a base64url JSON object");
    rc = check_claims(k, p, now_s, &c, err);
    json_decref(p);
    if (rc == 0 && out != NULL)
        *out = c;
    return rc;
}

/* Build the jwt_t holding our claims, signed with HS256. */
static int build_jwt(const dm_jwt_keys *k, const char *sub, const char *role, const char *sid,
                     int64_t now_s, jwt_t **out)
{
    jwt_t *j = NULL;
    if (jwt_new(&j) != 0)
        return -1;
    int rc = 0;
    rc |= jwt_add_grant(j, "sub", sub);
    rc |= jwt_add_grant(j, "role", role);
    if (sid != NULL)
        rc |= jwt_add_grant(j, "sid", sid);
    rc |= jwt_add_grant(j, "typ", "access");
    rc |= jwt_add_grant(j, "iss", k->issuer);
    rc |= jwt_add_grant_int(j, "iat", (long)now_s);
    rc |= jwt_add_grant_int(j, "exp", (long)(now_s + k->access_ttl_s));
    rc |= jwt_set_alg(j, JWT_ALG_HS256, k->secret, (int)k->secret_len);
    if (rc != 0) {
        jwt_free(j);
        return -1;
    }
    *out = j;
    return 0;
}

int dm__jwt_sign_access(const dm_jwt_keys *k, const char *sub, const char *role,
                        const char *sid, int64_t now_s, char **out_token, dm_err_t *err)
{
    if (out_token == NULL)
        return dm_err_set(err, DM_EINVAL, "jwt: out_token is NULL");
    *out_token = NULL;
    if (k == NULL || k->secret_len < DM_JWT_SECRET_MIN || k->access_ttl_s <= 0)
        return dm_err_set(err, DM_EINVAL, "jwt: keys not initialised");
    if (!sub_ok(sub))
        return dm_err_set(err, DM_EINVAL, "jwt: sub must be 1..%d printable bytes", DM_JWT_SUB_MAX - 1);
    if (!role_ok(role))
        return dm_err_set(err, DM_EINVAL, "jwt: role must be USER or ADMINISTRATOR");
    if (sid != NULL && !sub_ok(sid))
        return dm_err_set(err, DM_EINVAL, "jwt: sid must be 1..%d printable bytes", DM_JWT_SUB_MAX - 1);
    /* libjwt takes long: refuse times that would not fit (32-bit longs). */
    if (now_s < 0 || now_s > (int64_t)LONG_MAX - k->access_ttl_s)
        return dm_err_set(err, DM_EINVAL, "jwt: now %lld out of range", (long long)now_s);
    jwt_t *j = NULL;
    if (build_jwt(k, sub, role, sid, now_s, &j) != 0)
        return dm_err_set(err, DM_ENOMEM, "jwt: libjwt could not build the token");
    char *enc = jwt_encode_str(j);
    jwt_free(j);
    if (enc == NULL)
        return dm_err_set(err, DM_ENOMEM, "jwt: libjwt could not encode the token");
    /* Copy so the caller's free() certainly matches our allocator. */
    *out_token = strdup(enc);
    free(enc);
    if (*out_token == NULL)
        return dm_err_set(err, DM_ENOMEM, "jwt: out of memory");
    return 0;
}

int dm__jwt_keys_init(dm_jwt_keys *k, const char *secret, const char *issuer,
                      int access_ttl_s, dm_err_t *err)
{
    if (k == NULL)
        return dm_err_set(err, DM_EINVAL, "jwt: keys is NULL");
    memset(k, 0, sizeof *k);
    size_t n = secret != NULL ? strnlen(secret, DM_JWT_SECRET_MAX + 1) : 0;
    if (n < DM_JWT_SECRET_MIN)
        return dm_err_set(err, DM_EINVAL, "jwt: secret must be at least %d bytes, got %zu "
                          "(set DERMAGA_JWT_SECRET or auth.jwtSecretFile)", DM_JWT_SECRET_MIN, n);
    if (n > DM_JWT_SECRET_MAX)
        return dm_err_set(err, DM_EINVAL, "jwt: secret longer than %d bytes", DM_JWT_SECRET_MAX);
    /* Long but repetitive ("000…", "abab…") is as guessable as short. */
    bool seen[256] = { false };
    int distinct = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)secret[i];
        if (!seen[b]) {
            seen[b] = true;
            distinct++;
        }
    }
    if (distinct < DM_JWT_SECRET_MIN_DISTINCT)
        return dm_err_set(err, DM_EINVAL, "auth.jwtSecret has only %d distinct bytes; use at least %d "
                          "(e.g. 32 random bytes, base64)", distinct, DM_JWT_SECRET_MIN_DISTINCT);
    if (issuer == NULL || issuer[0] == '\0')
        issuer = DM_JWT_DEFAULT_ISSUER;
    size_t in = strnlen(issuer, DM_JWT_ISSUER_MAX);
    if (in >= DM_JWT_ISSUER_MAX)
        return dm_err_set(err, DM_EINVAL, "jwt: issuer longer than %d bytes", DM_JWT_ISSUER_MAX - 1);
    if (access_ttl_s == 0)
        access_ttl_s = DM_JWT_DEFAULT_TTL_S;
    if (access_ttl_s < 0 || access_ttl_s > DM_JWT_MAX_TTL_S)
        return dm_err_set(err, DM_EINVAL, "jwt: access token ttl %d s not in 1..%d",
                          access_ttl_s, DM_JWT_MAX_TTL_S);
    memcpy(k->secret, secret, n);
    k->secret_len = n;
    memcpy(k->issuer, issuer, in + 1);
    k->access_ttl_s = access_ttl_s;
    return 0;
}

void dm__jwt_keys_fini(dm_jwt_keys *k)
{
    if (k == NULL)
        return;
    OPENSSL_cleanse(k, sizeof *k);
}
