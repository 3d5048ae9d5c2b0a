/*
 * test_jwt.c — access tokens: key setup, sign/verify round trip, and every
 * refusal: forged alg none, other keys and algorithms, tampering, expiry,
 * nbf/iat in the future, token kind, issuer, sub and role, garbage, size.
 * Forged tokens are built by hand (base64url + OpenSSL HMAC), not libjwt.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "dm_test.h"
#include <dermaga/error.h>

#include "accounts/jwt.h"

#define SECRET   "0123456789abcdef0123456789abcdef-test-secret"
#define OTHER    "FEDCBA9876543210ZYXWVUTSRQPONMLK-other-secret"
#define ISSUER   "dermaga-test"
#define NOW      1764100000LL
#define HS256_H  "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define TOK_MAX  8192

static dm_jwt_keys keys;

static void setup(void)
{
    dm_err_t err = { 0 };
    ck_assert_msg(dm__jwt_keys_init(&keys, SECRET, ISSUER, 0, &err) == 0, "keys_init: %s", err.msg);
}

static void teardown(void)
{
    dm__jwt_keys_fini(&keys);
}

/* ---- forging helpers ---------------------------------------------------- */

static size_t b64url(const unsigned char *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = a[(v >> 18) & 63];
        out[o++] = a[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = a[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = a[v & 63];
    }
    out[o] = '\0';
    return o;
}

typedef enum { SIG_HMAC256, SIG_HMAC512, SIG_EMPTY, SIG_JUNK } sig_kind;

/* header.payload.signature into out (TOK_MAX bytes). */
static void forge(const char *header, const char *payload, const char *key, sig_kind sk, char *out)
{
    size_t o = b64url((const unsigned char *)header, strlen(header), out);
    out[o++] = '.';
    o += b64url((const unsigned char *)payload, strlen(payload), out + o);
    unsigned char md[256]; /* room for the junk "RSA" signature */
    unsigned int md_len = 0;
    if (sk == SIG_HMAC256 || sk == SIG_HMAC512) {
        const EVP_MD *h = sk == SIG_HMAC256 ? EVP_sha256() : EVP_sha512();
        ck_assert_ptr_nonnull(HMAC(h, key, (int)strlen(key), (const unsigned char *)out, o, md, &md_len));
    } else if (sk == SIG_JUNK) {
        memset(md, 0x5a, 256);
        md_len = 256; /* the size of an RSA-2048 signature */
    }
    out[o++] = '.';
    b64url(md, md_len, out + o);
}

/* A payload with our claims; times relative to NOW. */
static void payload(char *out, size_t n, const char *typ, const char *iss, const char *sub,
                    const char *role, long long iat, long long exp)
{
    snprintf(out, n, "{\"sub\":\"%s\",\"role\":\"%s\",\"typ\":\"%s\",\"iss\":\"%s\",\"iat\":%lld,\"exp\":%lld}",
             sub, role, typ, iss, iat, exp);
}

static int verify(const char *tok, dm_err_t *err)
{
    dm_jwt_claims c;
    dm_err_clear(err);
    return dm__jwt_verify_access(&keys, tok, NOW, &c, err);
}

#define ASSERT_REFUSED(tok, why)                                                          \
    do {                                                                                  \
        dm_err_t e_ = { 0 };                                                              \
        int rc_ = verify(tok, &e_);                                                       \
        ck_assert_msg(rc_ == DM_EPERM, "expected DM_EPERM, got %d (%s)", rc_, e_.msg);    \
        ck_assert_msg(strstr(e_.msg, why) != NULL, "reason '%s' lacks '%s'", e_.msg, why); \
    } while (0)

/* ---- keys --------------------------------------------------------------- */

START_TEST(keys_refuse_short_secret)
{
    dm_jwt_keys k;
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__jwt_keys_init(&k, "0123456789abcdef0123456789abcde", NULL, 0, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "at least 32") != NULL && strstr(err.msg, "got 31") != NULL,
                  "message should name the minimum and the length: %s", err.msg);
    ck_assert_int_eq(dm__jwt_keys_init(&k, NULL, NULL, 0, &err), DM_EINVAL);
    ck_assert_int_eq(dm__jwt_keys_init(&k, "", NULL, 0, &err), DM_EINVAL);
}
END_TEST

/* Long but repetitive is as guessable as short: at least 16 distinct bytes. */
START_TEST(keys_refuse_few_distinct_bytes)
{
    dm_jwt_keys k;
    dm_err_t err = { 0 };
    /* 32 zeros. */
    ck_assert_int_eq(dm__jwt_keys_init(&k, "00000000000000000000000000000000", NULL, 0, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "auth.jwtSecret has only 1 distinct bytes; use at least 16") != NULL,
                  "message should name the count and the minimum: %s", err.msg);
    /* 32 bytes of 15 distinct ones. */
    const char *fifteen = "0123456789abcde0123456789abcde01";
    ck_assert_uint_eq(strlen(fifteen), 32);
    ck_assert_int_eq(dm__jwt_keys_init(&k, fifteen, NULL, 0, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "only 15 distinct bytes") != NULL && strstr(err.msg, "base64") != NULL,
                  "message: %s", err.msg);
    /* 32 bytes of exactly 16 distinct ones. */
    ck_assert_int_eq(dm__jwt_keys_init(&k, "0123456789abcdef0000000000000000", NULL, 0, &err), 0);
    ck_assert_uint_eq(k.secret_len, 32);
    dm__jwt_keys_fini(&k);
}
END_TEST

START_TEST(keys_defaults_and_limits)
{
    dm_jwt_keys k;
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__jwt_keys_init(&k, "0123456789abcdef0123456789abcdef", NULL, 0, &err), 0);
    ck_assert_uint_eq(k.secret_len, 32);
    ck_assert_str_eq(k.issuer, "dermaga");
    ck_assert_int_eq(k.access_ttl_s, 900);
    ck_assert_int_eq(dm__jwt_keys_init(&k, SECRET, "x", -5, &err), DM_EINVAL);
    ck_assert_int_eq(dm__jwt_keys_init(&k, SECRET, "x", 86401, &err), DM_EINVAL);
    char long_secret[600];
    memset(long_secret, 'k', sizeof long_secret - 1);
    long_secret[sizeof long_secret - 1] = '\0';
    ck_assert_int_eq(dm__jwt_keys_init(&k, long_secret, NULL, 0, &err), DM_EINVAL);
    char long_iss[200];
    memset(long_iss, 'i', sizeof long_iss - 1);
    long_iss[sizeof long_iss - 1] = '\0';
    ck_assert_int_eq(dm__jwt_keys_init(&k, SECRET, long_iss, 0, &err), DM_EINVAL);
    dm__jwt_keys_fini(&k);
    ck_assert_uint_eq(k.secret_len, 0);
}
END_TEST

/* ---- round trip --------------------------------------------------------- */

START_TEST(sign_then_verify_round_trip)
{
    char *tok = NULL;
    dm_err_t err = { 0 };
    ck_assert_msg(dm__jwt_sign_access(&keys, "3f2b-user", "ADMINISTRATOR", NULL, NOW, &tok, &err) == 0, "%s", err.msg);
    dm_jwt_claims c;
    ck_assert_msg(dm__jwt_verify_access(&keys, tok, NOW + 10, &c, &err) == 0, "verify: %s", err.msg);
    ck_assert_str_eq(c.sub, "3f2b-user");
    ck_assert_str_eq(c.role, "ADMINISTRATOR");
    ck_assert_int_eq(c.iat, NOW);
    ck_assert_int_eq(c.exp, NOW + 900);
    /* Still valid one second before exp, dead at exp. */
    ck_assert_int_eq(dm__jwt_verify_access(&keys, tok, NOW + 899, &c, &err), 0);
    ck_assert_int_eq(dm__jwt_verify_access(&keys, tok, NOW + 900, &c, &err), DM_EPERM);
    ck_assert_msg(strstr(err.msg, "expired") != NULL, "%s", err.msg);
    ck_assert_str_eq(c.sub, ""); /* out is zeroed on failure */
    free(tok);
}
END_TEST

START_TEST(session_id_round_trips)
{
    char *tok = NULL;
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__jwt_sign_access(&keys, "u1", "USER", "fam-1", NOW, &tok, &err), 0);
    dm_jwt_claims c;
    ck_assert_msg(dm__jwt_verify_access(&keys, tok, NOW, &c, &err) == 0, "verify: %s", err.msg);
    ck_assert_str_eq(c.sid, "fam-1");
    free(tok);
    ck_assert_int_eq(dm__jwt_sign_access(&keys, "u1", "USER", "", NOW, &tok, &err), DM_EINVAL);
}
END_TEST

START_TEST(sign_refuses_bad_input)
{
    char *tok = (char *)"sentinel";
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__jwt_sign_access(&keys, "u1", "ROOT", NULL, NOW, &tok, &err), DM_EINVAL);
    ck_assert_ptr_null(tok);
    ck_assert_int_eq(dm__jwt_sign_access(&keys, "", "USER", NULL, NOW, &tok, &err), DM_EINVAL);
    ck_assert_int_eq(dm__jwt_sign_access(&keys, NULL, "USER", NULL, NOW, &tok, &err), DM_EINVAL);
    ck_assert_int_eq(dm__jwt_sign_access(&keys, "a\nb", "USER", NULL, NOW, &tok, &err), DM_EINVAL);
    ck_assert_int_eq(dm__jwt_sign_access(&keys, "u1", "USER", NULL, -1, &tok, &err), DM_EINVAL);
    ck_assert_int_eq(dm__jwt_sign_access(NULL, "u1", "USER", NULL, NOW, &tok, &err), DM_EINVAL);
    ck_assert_ptr_null(tok);
}
END_TEST

START_TEST(forged_with_our_key_is_accepted)
{
    /* Proves the forging helpers are right, so the refusals below are
     * refusals of the one thing each test changes. */
    char p[512], tok[TOK_MAX];
    payload(p, sizeof p, "access", ISSUER, "u1", "USER", NOW - 5, NOW + 60);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    dm_err_t err = { 0 };
    ck_assert_msg(verify(tok, &err) == 0, "hand-made token refused: %s", err.msg);
    forge("{\"alg\":\"HS256\"}", p, SECRET, SIG_HMAC256, tok);
    ck_assert_msg(verify(tok, &err) == 0, "header without typ refused: %s", err.msg);
}
END_TEST

START_TEST(other_keys_verifier_refuses)
{
    char *tok = NULL;
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__jwt_sign_access(&keys, "u1", "USER", NULL, NOW, &tok, &err), 0);
    dm_jwt_keys other;
    ck_assert_int_eq(dm__jwt_keys_init(&other, OTHER, ISSUER, 0, &err), 0);
    ck_assert_int_eq(dm__jwt_verify_access(&other, tok, NOW, NULL, &err), DM_EPERM);
    ck_assert_msg(strstr(err.msg, "signature") != NULL, "%s", err.msg);
    free(tok);
}
END_TEST

/* ---- algorithm attacks -------------------------------------------------- */

START_TEST(alg_none_is_refused)
{
    char p[512], tok[TOK_MAX];
    payload(p, sizeof p, "access", ISSUER, "u1", "ADMINISTRATOR", NOW, NOW + 60);
    forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", p, SECRET, SIG_EMPTY, tok);
    ASSERT_REFUSED(tok, "not three"); /* empty signature segment */
    forge("{\"alg\":\"none\"}", p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "alg is not HS256");
    forge("{\"alg\":\"None\"}", p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "alg is not HS256");
    forge("{\"typ\":\"JWT\"}", p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "alg is not HS256");
}
END_TEST

START_TEST(hs256_with_other_key_is_refused)
{
    char p[512], tok[TOK_MAX];
    payload(p, sizeof p, "access", ISSUER, "u1", "USER", NOW, NOW + 60);
    forge(HS256_H, p, OTHER, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "signature");
}
END_TEST

START_TEST(other_algorithms_are_refused)
{
    char p[512], tok[TOK_MAX];
    payload(p, sizeof p, "access", ISSUER, "u1", "USER", NOW, NOW + 60);
    forge("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "alg is not HS256");
    forge("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", p, SECRET, SIG_JUNK, tok);
    ASSERT_REFUSED(tok, "alg is not HS256");
    /* libjwt reads algorithm names case-insensitively; we do not. */
    forge("{\"alg\":\"hs256\",\"typ\":\"JWT\"}", p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "alg is not HS256");
    forge("{\"alg\":[\"HS256\"]}", p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "alg is not HS256");
}
END_TEST

/* A correct HS512 MAC made with our key: libjwt 1.10 alone accepts it
 * (rc 0, alg HS512). Refused by the header check and, should that ever
 * fail, by the jwt_get_alg() check after decoding; both reasons name HS256. */
START_TEST(hs512_with_our_key_is_refused)
{
    char p[512], tok[TOK_MAX];
    payload(p, sizeof p, "access", ISSUER, "u1", "USER", NOW, NOW + 60);
    forge("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", p, SECRET, SIG_HMAC512, tok);
    ASSERT_REFUSED(tok, "HS256");
}
END_TEST

START_TEST(odd_headers_are_refused)
{
    char p[512], tok[TOK_MAX];
    payload(p, sizeof p, "access", ISSUER, "u1", "USER", NOW, NOW + 60);
    forge("{\"alg\":\"HS256\",\"typ\":\"JWS\"}", p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "typ is not JWT");
    forge("{\"alg\":\"HS256\",\"kid\":\"../../etc/passwd\"}", p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "members other than");
    forge("{\"alg\":\"HS256\",\"alg\":\"none\"}", p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "header is not");
    forge("[\"HS256\"]", p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "header is not");
}
END_TEST

/* ---- tampering ---------------------------------------------------------- */

START_TEST(tampered_payload_is_refused)
{
    char *tok = NULL;
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__jwt_sign_access(&keys, "u1", "USER", NULL, NOW, &tok, &err), 0);
    /* Keep header and signature, swap in a payload granting ADMINISTRATOR. */
    char p[512], forged[TOK_MAX], out[TOK_MAX];
    payload(p, sizeof p, "access", ISSUER, "u1", "ADMINISTRATOR", NOW, NOW + 900);
    forge(HS256_H, p, OTHER, SIG_EMPTY, forged); /* "h.p." */
    const char *sig = strrchr(tok, '.');
    snprintf(out, sizeof out, "%.*s%s", (int)strlen(forged) - 1, forged, sig);
    ASSERT_REFUSED(out, "signature");
    /* One flipped character in the signature. */
    snprintf(out, sizeof out, "%s", tok);
    size_t last = strlen(out) - 2;
    out[last] = out[last] == 'A' ? 'B' : 'A';
    ASSERT_REFUSED(out, "signature");
    free(tok);
}
END_TEST

/* ---- times -------------------------------------------------------------- */

START_TEST(expired_token_is_refused)
{
    char p[512], tok[TOK_MAX];
    payload(p, sizeof p, "access", ISSUER, "u1", "USER", NOW - 1000, NOW - 1);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "expired");
    payload(p, sizeof p, "access", ISSUER, "u1", "USER", NOW - 1000, NOW);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "expired");
}
END_TEST

START_TEST(nbf_in_future_is_refused)
{
    char p[512], tok[TOK_MAX];
    dm_err_t err = { 0 };
    snprintf(p, sizeof p, "{\"sub\":\"u1\",\"role\":\"USER\",\"typ\":\"access\",\"iss\":\"" ISSUER
             "\",\"iat\":%lld,\"exp\":%lld,\"nbf\":%lld}", NOW, NOW + 900, NOW + DM_JWT_LEEWAY_S + 1);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "not valid before");
    snprintf(p, sizeof p, "{\"sub\":\"u1\",\"role\":\"USER\",\"typ\":\"access\",\"iss\":\"" ISSUER
             "\",\"iat\":%lld,\"exp\":%lld,\"nbf\":%lld}", NOW, NOW + 900, NOW + DM_JWT_LEEWAY_S);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    ck_assert_msg(verify(tok, &err) == 0, "nbf within leeway refused: %s", err.msg);
    snprintf(p, sizeof p, "{\"sub\":\"u1\",\"role\":\"USER\",\"typ\":\"access\",\"iss\":\"" ISSUER
             "\",\"iat\":%lld,\"exp\":%lld,\"nbf\":\"soon\"}", NOW, NOW + 900);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "nbf is not an integer");
}
END_TEST

START_TEST(iat_in_future_is_refused)
{
    char p[512], tok[TOK_MAX];
    dm_err_t err = { 0 };
    payload(p, sizeof p, "access", ISSUER, "u1", "USER", NOW + DM_JWT_LEEWAY_S + 1, NOW + 900);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "iat");
    payload(p, sizeof p, "access", ISSUER, "u1", "USER", NOW + DM_JWT_LEEWAY_S, NOW + 900);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    ck_assert_msg(verify(tok, &err) == 0, "iat within leeway refused: %s", err.msg);
}
END_TEST

START_TEST(time_claims_must_be_integers)
{
    char p[512], tok[TOK_MAX];
    snprintf(p, sizeof p, "{\"sub\":\"u1\",\"role\":\"USER\",\"typ\":\"access\",\"iss\":\"" ISSUER
             "\",\"iat\":%lld,\"exp\":\"%lld\"}", NOW, NOW + 900);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "exp missing or not an integer");
    snprintf(p, sizeof p, "{\"sub\":\"u1\",\"role\":\"USER\",\"typ\":\"access\",\"iss\":\"" ISSUER
             "\",\"iat\":%lld,\"exp\":%lld.5}", NOW, NOW + 900);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "exp missing or not an integer");
    snprintf(p, sizeof p, "{\"sub\":\"u1\",\"role\":\"USER\",\"typ\":\"access\",\"iss\":\"" ISSUER
             "\",\"exp\":%lld}", NOW + 900);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "iat missing");
}
END_TEST

/* ---- claims ------------------------------------------------------------- */

START_TEST(refresh_typed_jwt_is_refused)
{
    char p[512], tok[TOK_MAX];
    payload(p, sizeof p, "refresh", ISSUER, "u1", "USER", NOW, NOW + 86400);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "typ is not \"access\"");
    snprintf(p, sizeof p, "{\"sub\":\"u1\",\"role\":\"USER\",\"iss\":\"" ISSUER
             "\",\"iat\":%lld,\"exp\":%lld}", NOW, NOW + 900);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "typ is not \"access\"");
}
END_TEST

START_TEST(wrong_issuer_is_refused)
{
    char p[512], tok[TOK_MAX];
    payload(p, sizeof p, "access", "someone-else", "u1", "USER", NOW, NOW + 60);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "iss");
    snprintf(p, sizeof p, "{\"sub\":\"u1\",\"role\":\"USER\",\"typ\":\"access\",\"iat\":%lld,\"exp\":%lld}",
             NOW, NOW + 60);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "iss");
}
END_TEST

START_TEST(bad_sub_is_refused)
{
    char p[512], tok[TOK_MAX];
    snprintf(p, sizeof p, "{\"role\":\"USER\",\"typ\":\"access\",\"iss\":\"" ISSUER
             "\",\"iat\":%lld,\"exp\":%lld}", NOW, NOW + 60);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "sub");
    snprintf(p, sizeof p, "{\"sub\":42,\"role\":\"USER\",\"typ\":\"access\",\"iss\":\"" ISSUER
             "\",\"iat\":%lld,\"exp\":%lld}", NOW, NOW + 60);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "sub");
    payload(p, sizeof p, "access", ISSUER, "", "USER", NOW, NOW + 60);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "sub");
    char sub[65];
    memset(sub, 'u', 64);
    sub[64] = '\0';
    payload(p, sizeof p, "access", ISSUER, sub, "USER", NOW, NOW + 60);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "sub");
    payload(p, sizeof p, "access", ISSUER, "a\\u0001b", "USER", NOW, NOW + 60);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "sub");
}
END_TEST

START_TEST(bad_role_is_refused)
{
    char p[512], tok[TOK_MAX];
    const char *roles[] = { "ROOT", "user", "ADMIN", "USER ", "" };
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        payload(p, sizeof p, "access", ISSUER, "u1", roles[i], NOW, NOW + 60);
        forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
        ASSERT_REFUSED(tok, "role");
    }
    snprintf(p, sizeof p, "{\"sub\":\"u1\",\"typ\":\"access\",\"iss\":\"" ISSUER
             "\",\"iat\":%lld,\"exp\":%lld}", NOW, NOW + 60);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "role");
}
END_TEST

START_TEST(duplicate_claims_are_refused)
{
    char p[512], tok[TOK_MAX];
    snprintf(p, sizeof p, "{\"sub\":\"u1\",\"role\":\"USER\",\"role\":\"ADMINISTRATOR\",\"typ\":\"access\","
             "\"iss\":\"" ISSUER "\",\"iat\":%lld,\"exp\":%lld}", NOW, NOW + 60);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    ASSERT_REFUSED(tok, "payload is not");
}
END_TEST

/* ---- garbage and size --------------------------------------------------- */

START_TEST(garbage_is_refused)
{
    const char *bad[] = { "", "abc", "a.b", "a.b.c.d", "..", "a..c", ".b.c", "a.b.",
                          "eyJ hbGc.e30.c2ln", "eyJhbGciOiJIUzI1NiJ9=.e30.c2ln",
                          "eyJhbGci+iJIUzI1NiJ9.e30.c2ln", "Bearer x.y.z", "x.y.z" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dm_err_t err = { 0 };
        int rc = verify(bad[i], &err);
        ck_assert_msg(rc == DM_EPERM, "'%s' gave %d (%s)", bad[i], rc, err.msg);
    }
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__jwt_verify_access(&keys, NULL, NOW, NULL, &err), DM_EPERM);
    ck_assert_int_eq(dm__jwt_verify_access(NULL, "a.b.c", NOW, NULL, &err), DM_EINVAL);
}
END_TEST

START_TEST(long_token_is_refused_before_decoding)
{
    /* A correctly signed token, only too long: refused for its size. */
    char p[TOK_MAX], tok[TOK_MAX];
    char pad[3100];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    snprintf(p, sizeof p, "{\"sub\":\"u1\",\"role\":\"USER\",\"typ\":\"access\",\"iss\":\"" ISSUER
             "\",\"iat\":%lld,\"exp\":%lld,\"pad\":\"%s\"}", NOW, NOW + 60, pad);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    ck_assert_uint_gt(strlen(tok), DM_JWT_MAX_TOKEN_LEN);
    ASSERT_REFUSED(tok, "longer than 4096");
    /* A megabyte of junk takes the same exit. */
    size_t n = 1 << 20;
    char *big = malloc(n + 1);
    ck_assert_ptr_nonnull(big);
    memset(big, 'A', n);
    big[n] = '\0';
    ASSERT_REFUSED(big, "longer than 4096");
    free(big);
}
END_TEST

START_TEST(unknown_claims_are_ignored)
{
    char p[512], tok[TOK_MAX];
    dm_err_t err = { 0 };
    snprintf(p, sizeof p, "{\"sub\":\"u1\",\"role\":\"USER\",\"typ\":\"access\",\"iss\":\"" ISSUER
             "\",\"iat\":%lld,\"exp\":%lld,\"jti\":\"abc\"}", NOW, NOW + 60);
    forge(HS256_H, p, SECRET, SIG_HMAC256, tok);
    ck_assert_msg(verify(tok, &err) == 0, "extra claim refused: %s", err.msg);
}
END_TEST

/* ---- threads ------------------------------------------------------------ */

static void *sign_verify_loop(void *arg)
{
    const char *sub = arg;
    for (int i = 0; i < 200; i++) {
        char *tok = NULL;
        dm_jwt_claims c;
        if (dm__jwt_sign_access(&keys, sub, "USER", NULL, NOW + i, &tok, NULL) != 0)
            return (void *)1;
        int rc = dm__jwt_verify_access(&keys, tok, NOW + i, &c, NULL);
        free(tok);
        if (rc != 0 || strcmp(c.sub, sub) != 0)
            return (void *)1;
    }
    return NULL;
}

START_TEST(concurrent_sign_and_verify)
{
    pthread_t th[4];
    const char *subs[4] = { "t0", "t1", "t2", "t3" };
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, sign_verify_loop, (void *)subs[i]), 0);
    for (int i = 0; i < 4; i++) {
        void *res = (void *)1;
        ck_assert_int_eq(pthread_join(th[i], &res), 0);
        ck_assert_msg(res == NULL, "thread %d saw a wrong result", i);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("jwt");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, keys_refuse_short_secret);
    tcase_add_test(tc, keys_refuse_few_distinct_bytes);
    tcase_add_test(tc, keys_defaults_and_limits);
    tcase_add_test(tc, sign_then_verify_round_trip);
    tcase_add_test(tc, session_id_round_trips);
    tcase_add_test(tc, sign_refuses_bad_input);
    tcase_add_test(tc, forged_with_our_key_is_accepted);
    tcase_add_test(tc, other_keys_verifier_refuses);
    tcase_add_test(tc, alg_none_is_refused);
    tcase_add_test(tc, hs256_with_other_key_is_refused);
    tcase_add_test(tc, other_algorithms_are_refused);
    tcase_add_test(tc, hs512_with_our_key_is_refused);
    tcase_add_test(tc, odd_headers_are_refused);
    tcase_add_test(tc, tampered_payload_is_refused);
    tcase_add_test(tc, expired_token_is_refused);
    tcase_add_test(tc, nbf_in_future_is_refused);
    tcase_add_test(tc, iat_in_future_is_refused);
    tcase_add_test(tc, time_claims_must_be_integers);
    tcase_add_test(tc, refresh_typed_jwt_is_refused);
    tcase_add_test(tc, wrong_issuer_is_refused);
    tcase_add_test(tc, bad_sub_is_refused);
    tcase_add_test(tc, bad_role_is_refused);
    tcase_add_test(tc, duplicate_claims_are_refused);
    tcase_add_test(tc, garbage_is_refused);
    tcase_add_test(tc, long_token_is_refused_before_decoding);
    tcase_add_test(tc, unknown_claims_are_ignored);
    tcase_add_test(tc, concurrent_sign_and_verify);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
