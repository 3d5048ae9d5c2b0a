/*
 * tokens.c — refresh tokens: kernel randomness, base64url without padding,
 * SHA-256 via OpenSSL EVP. A token is a bearer credential with 256 bits of
 * entropy, so an unsalted fast hash is enough to make a leaked table
 * useless; no global state.
 */
#include "accounts/tokens.h"

#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util/clock.h"
#include "util/sha256.h"

static const char B64URL[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 32 bytes → 43 characters: 10 full groups of three, then two bytes. */
static void encode32(const unsigned char in[DM_REFRESH_TOKEN_BYTES], char out[44])
{
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= DM_REFRESH_TOKEN_BYTES; i += 3) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = B64URL[(v >> 18) & 63];
        out[o++] = B64URL[(v >> 12) & 63];
        out[o++] = B64URL[(v >> 6) & 63];
        out[o++] = B64URL[v & 63];
    }
    uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
    out[o++] = B64URL[(v >> 18) & 63];
    out[o++] = B64URL[(v >> 12) & 63];
    out[o++] = B64URL[(v >> 6) & 63];
    out[o] = '\0';
}

static int b64url_index(char c)
{
    const char *p = c != '\0' ? strchr(B64URL, c) : NULL;
    return p != NULL ? (int)(p - B64URL) : -1;
}

int dm__refresh_token_check(const char *token)
{
    if (token == NULL)
        return DM_EINVAL;
    if (strnlen(token, DM_REFRESH_TOKEN_LEN + 1) != DM_REFRESH_TOKEN_LEN)
        return DM_EINVAL;
    for (size_t i = 0; i < DM_REFRESH_TOKEN_LEN; i++)
        if (b64url_index(token[i]) < 0)
            return DM_EINVAL;
    /* The last character carries 4 data bits; its 2 low bits are padding
     * and must be zero, so each token has one spelling only. */
    if ((b64url_index(token[DM_REFRESH_TOKEN_LEN - 1]) & 3) != 0)
        return DM_EINVAL;
    return 0;
}

int dm__refresh_token_hash(const char *token, char out_hash_hex[65])
{
    out_hash_hex[0] = '\0';
    if (token == NULL)
        return DM_EINVAL;
    return dm__sha256_hex(token, strlen(token), out_hash_hex);
}

int dm__refresh_token_new(char out_token[44], char out_hash_hex[65], dm_err_t *err)
{
    unsigned char raw[DM_REFRESH_TOKEN_BYTES];
    out_token[0] = '\0';
    out_hash_hex[0] = '\0';
    if (dm__random_bytes(raw, sizeof raw) != 0)
        return dm_err_set(err, DM_EIO, "refresh token: no randomness from the kernel");
    encode32(raw, out_token);
    OPENSSL_cleanse(raw, sizeof raw);
    if (dm__refresh_token_hash(out_token, out_hash_hex) != 0) {
        OPENSSL_cleanse(out_token, 44);
        out_token[0] = '\0';
        return dm_err_set(err, DM_EIO, "refresh token: SHA-256 failed");
    }
    return 0;
}

int dm__refresh_hash_eq(const char *a_hex, const char *b_hex)
{
    if (a_hex == NULL || b_hex == NULL)
        return 0;
    if (strnlen(a_hex, 65) != DM_REFRESH_HASH_HEX || strnlen(b_hex, 65) != DM_REFRESH_HASH_HEX)
        return 0;
    return CRYPTO_memcmp(a_hex, b_hex, DM_REFRESH_HASH_HEX) == 0;
}
