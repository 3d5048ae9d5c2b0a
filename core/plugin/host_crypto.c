/*
 * host_crypto.c — the ABI 1.5 encoding and crypto helpers of dm_host
 * (dermaga/host.h): base64 and base64url (util/base64.c), SHA-256 and
 * SHA-512, HMAC over either, and a constant-time compare, the last three
 * on OpenSSL. Every one follows host.h's buffer contract: return the size
 * the result needs, write it only when it fits whole.
 */
#include "plugin/host_api.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "util/base64.h"

/* Inputs larger than this are refused (their text would not fit a
 * size_t, nor their size an int64_t, on any target we build for). */
#define INPUT_MAX ((size_t)1 << 40)

int64_t dm__host_base64_encode(uint32_t flags, const void *in, size_t in_len, char *out, size_t out_len)
{
    if ((flags & ~(DM_BASE64_URL | DM_BASE64_NOPAD)) != 0 || (in == NULL && in_len > 0) || in_len > INPUT_MAX)
        return DM_EINVAL;
    bool pad = (flags & DM_BASE64_NOPAD) == 0;
    size_t need = dm__base64_encoded_len(in_len, pad);
    if (out != NULL && out_len > need) {
        dm__base64_encode(in, in_len, (flags & DM_BASE64_URL) != 0, pad, out);
        out[need] = '\0';
    } else if (out != NULL && out_len > 0) {
        out[0] = '\0';
    }
    return (int64_t)need;
}

int64_t dm__host_base64_decode(uint32_t flags, const char *in, size_t in_len, void *out, size_t out_len)
{
    if ((flags & ~(DM_BASE64_URL | DM_BASE64_NOPAD)) != 0 || (in == NULL && in_len > 0) || in_len > INPUT_MAX)
        return DM_EINVAL;
    bool url = (flags & DM_BASE64_URL) != 0;
    long need = dm__base64_decode(in != NULL ? in : "", in_len, url, NULL);
    if (need < 0)
        return DM_EINVAL;
    if (out != NULL && out_len >= (size_t)need)
        dm__base64_decode(in, in_len, url, out);
    return need;
}

/* The OpenSSL name and output size of alg; NULL for an unknown one. */
static const char *alg_name(uint32_t alg, size_t *len)
{
    if (alg == DM_HOST_SHA256) {
        *len = DM_HOST_SHA256_LEN;
        return "SHA256";
    }
    if (alg == DM_HOST_SHA512) {
        *len = DM_HOST_SHA512_LEN;
        return "SHA512";
    }
    return NULL;
}

static bool parts_ok(const dm_host_bytes_t *parts, size_t n)
{
    if (parts == NULL && n > 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].data == NULL && parts[i].len > 0)
            return false;
    }
    return true;
}

int64_t dm__host_digest(uint32_t alg, const dm_host_bytes_t *parts, size_t n_parts, void *out, size_t out_len)
{
    size_t need = 0;
    const char *name = alg_name(alg, &need);
    if (name == NULL || !parts_ok(parts, n_parts))
        return DM_EINVAL;
    if (out == NULL || out_len < need)
        return (int64_t)need;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char res[EVP_MAX_MD_SIZE];
    unsigned int got = 0;
    bool ok = md != NULL && EVP_DigestInit_ex(md, alg == DM_HOST_SHA256 ? EVP_sha256() : EVP_sha512(), NULL) == 1;
    for (size_t i = 0; ok && i < n_parts; i++)
        ok = parts[i].len == 0 || EVP_DigestUpdate(md, parts[i].data, parts[i].len) == 1;
    ok = ok && EVP_DigestFinal_ex(md, res, &got) == 1 && got == need;
    EVP_MD_CTX_free(md);
    if (ok)
        memcpy(out, res, need);
    OPENSSL_cleanse(res, sizeof res);
    return ok ? (int64_t)need : DM_EIO;
}

int64_t dm__host_hmac(uint32_t alg, const void *key, size_t key_len, const dm_host_bytes_t *parts, size_t n_parts,
                      void *out, size_t out_len)
{
    size_t need = 0;
    const char *name = alg_name(alg, &need);
    if (name == NULL || (key == NULL && key_len > 0) || !parts_ok(parts, n_parts))
        return DM_EINVAL;
    if (out == NULL || out_len < need)
        return (int64_t)need;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)name, 0),
                            OSSL_PARAM_construct_end() };
    /* A non-NULL key even when empty: NULL would mean "keep the old key". */
    static const unsigned char no_key[1] = { 0 };
    unsigned char res[EVP_MAX_MD_SIZE];
    size_t got = 0;
    bool ok = ctx != NULL && EVP_MAC_init(ctx, key_len > 0 ? key : no_key, key_len, params) == 1;
    for (size_t i = 0; ok && i < n_parts; i++)
        ok = parts[i].len == 0 || EVP_MAC_update(ctx, parts[i].data, parts[i].len) == 1;
    ok = ok && EVP_MAC_final(ctx, res, &got, sizeof res) == 1 && got == need;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    if (ok)
        memcpy(out, res, need);
    OPENSSL_cleanse(res, sizeof res);
    return ok ? (int64_t)need : DM_EIO;
}

int dm__host_equal_ct(const void *a, const void *b, size_t len)
{
    if (len == 0)
        return 1;
    if (a == NULL || b == NULL)
        return 0;
    return CRYPTO_memcmp(a, b, len) == 0;
}
