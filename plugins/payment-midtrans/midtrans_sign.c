/*
 * midtrans_sign.c — the crypto of payment-midtrans: the notification
 * signature (lowercase hex SHA-512 of order_id + status_code + gross_amount
 * + server key), its constant-time comparison, and the Basic auth header.
 * OpenSSL's libcrypto does the hashing and base64.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "midtrans.h"

int mt_signature(const char *order_id, const char *status_code, const char *gross_amount,
                 const char *server_key, char out[MT_SIG_HEX_LEN + 1])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL)
        return DM_ENOMEM;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    /* Hash the parts in sequence: the same bytes as their concatenation,
     * without building a string that holds the key. */
    int ok = EVP_DigestInit_ex(md, EVP_sha512(), NULL) == 1 &&
             EVP_DigestUpdate(md, order_id, strlen(order_id)) == 1 &&
             EVP_DigestUpdate(md, status_code, strlen(status_code)) == 1 &&
             EVP_DigestUpdate(md, gross_amount, strlen(gross_amount)) == 1 &&
             EVP_DigestUpdate(md, server_key, strlen(server_key)) == 1 &&
             EVP_DigestFinal_ex(md, digest, &n) == 1 && n * 2 == MT_SIG_HEX_LEN;
    EVP_MD_CTX_free(md);
    if (!ok)
        return DM_EIO;
    static const char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < n; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[MT_SIG_HEX_LEN] = '\0';
    return 0;
}

bool mt_signature_equal(const char *expected, const char *given)
{
    /* The length is public (always 128 for a real signature); only the
     * content must not leak through timing. */
    if (strlen(given) != MT_SIG_HEX_LEN || strlen(expected) != MT_SIG_HEX_LEN)
        return false;
    char lower[MT_SIG_HEX_LEN];
    for (size_t i = 0; i < MT_SIG_HEX_LEN; i++) {
        unsigned char c = (unsigned char)given[i];
        /* Branch-free lowercasing of A-F; other bytes pass unchanged and
         * then fail the comparison. */
        unsigned char is_upper = (unsigned char)((c >= 'A') & (c <= 'Z'));
        lower[i] = (char)(c | (unsigned char)(is_upper << 5));
    }
    return CRYPTO_memcmp(lower, expected, MT_SIG_HEX_LEN) == 0;
}

char *mt_basic_auth(const char *server_key)
{
    size_t klen = strlen(server_key);
    unsigned char *plain = malloc(klen + 1);
    if (plain == NULL)
        return NULL;
    memcpy(plain, server_key, klen);
    plain[klen] = ':';
    size_t enc_len = 4 * ((klen + 1 + 2) / 3);
    size_t total = strlen("Basic ") + enc_len + 1;
    char *out = malloc(total);
    if (out != NULL) {
        memcpy(out, "Basic ", 6);
        EVP_EncodeBlock((unsigned char *)out + 6, plain, (int)(klen + 1));
        out[total - 1] = '\0';
    }
    OPENSSL_cleanse(plain, klen + 1);
    free(plain);
    return out;
}
