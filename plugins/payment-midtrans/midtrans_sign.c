/*
 * midtrans_sign.c — the crypto of payment-midtrans: the notification
 * signature (lowercase hex SHA-512 of order_id + status_code + gross_amount
 * + server key), its constant-time comparison, and the Basic auth header.
 * The host's helpers (dm_host digest, equal_ct, base64_encode; ABI 1.5) do
 * the hashing, comparing and base64; OpenSSL only wipes the key's copy.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "midtrans.h"

int mt_signature(const dm_host_t *host, const char *order_id, const char *status_code, const char *gross_amount,
                 const char *server_key, char out[MT_SIG_HEX_LEN + 1])
{
    /* The parts in sequence: the same bytes as their concatenation,
     * without building a string that holds the key. */
    const dm_host_bytes_t parts[] = {
        { order_id, strlen(order_id) },
        { status_code, strlen(status_code) },
        { gross_amount, strlen(gross_amount) },
        { server_key, strlen(server_key) },
    };
    unsigned char digest[DM_HOST_SHA512_LEN];
    int64_t n = host->digest(DM_HOST_SHA512, parts, sizeof parts / sizeof parts[0], digest, sizeof digest);
    if (n != DM_HOST_SHA512_LEN)
        return n < 0 ? (int)n : DM_EIO;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof digest; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[MT_SIG_HEX_LEN] = '\0';
    return 0;
}

bool mt_signature_equal(const dm_host_t *host, const char *expected, const char *given)
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
    return host->equal_ct(lower, expected, MT_SIG_HEX_LEN) == 1;
}

char *mt_basic_auth(const dm_host_t *host, const char *server_key)
{
    size_t klen = strlen(server_key);
    char *plain = malloc(klen + 2);
    if (plain == NULL)
        return NULL;
    memcpy(plain, server_key, klen);
    memcpy(plain + klen, ":", 2);
    const size_t prefix = strlen("Basic ");
    int64_t need = host->base64_encode(0, plain, klen + 1, NULL, 0);
    char *out = need >= 0 ? malloc(prefix + (size_t)need + 1) : NULL;
    if (out != NULL) {
        memcpy(out, "Basic ", prefix);
        if (host->base64_encode(0, plain, klen + 1, out + prefix, (size_t)need + 1) != need) {
            free(out);
            out = NULL;
        }
    }
    OPENSSL_cleanse(plain, klen + 2);
    free(plain);
    return out;
}
