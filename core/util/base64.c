/*
 * base64.c — RFC 4648 sections 4 and 5 (base64.h).
 */
#include "util/base64.h"

#include <limits.h>
#include <stdint.h>

static const char std_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t dm__base64_encoded_len(size_t n, bool pad)
{
    if (pad)
        return (n / 3 + (n % 3 != 0)) * 4;
    return (n / 3) * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

void dm__base64_encode(const void *in, size_t n, bool url, bool pad, char *out)
{
    const char *a = url ? url_alphabet : std_alphabet;
    const unsigned char *p = in;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        size_t left = n - i;
        uint32_t v = (uint32_t)p[i] << 16;
        if (left > 1)
            v |= (uint32_t)p[i + 1] << 8;
        if (left > 2)
            v |= p[i + 2];
        out[o++] = a[(v >> 18) & 63];
        out[o++] = a[(v >> 12) & 63];
        if (left > 1)
            out[o++] = a[(v >> 6) & 63];
        else if (pad)
            out[o++] = '=';
        if (left > 2)
            out[o++] = a[v & 63];
        else if (pad)
            out[o++] = '=';
    }
}

int dm__base64_value(unsigned char c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

long dm__base64_decode(const char *in, size_t n, bool url, void *out)
{
    size_t pads = 0;
    while (pads < 2 && pads < n && in[n - 1 - pads] == '=')
        pads++;
    size_t m = n - pads; /* symbols */
    /* A lone symbol carries 6 bits, less than a byte; padding must fill
     * the last quantum exactly. */
    if (m % 4 == 1 || (pads > 0 && (n % 4 != 0 || m % 4 != 4 - pads)))
        return -1;
    if (m / 4 > (size_t)LONG_MAX / 3)
        return -1;
    unsigned char *dst = out;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < m; i++) {
        int v = dm__base64_value((unsigned char)in[i], url);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (dst != NULL)
                dst[o] = (unsigned char)(acc >> bits);
            o++;
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)
        return -1; /* unused low bits set: not the canonical spelling */
    return (long)o;
}
