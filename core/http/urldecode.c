/*
 * urldecode.c — strict percent-decoding: a malformed escape, an encoded
 * NUL or bytes that are not UTF-8 are refused rather than guessed at (the
 * text goes on to PostgreSQL, which would fail on invalid UTF-8).
 */
#include "http/urldecode.h"

#include "util/utf8.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *dm__url_decode(dm_arena *a, const char *s, size_t len, bool plus_is_space)
{
    char *out = dm__arena_alloc(a, len + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 1 < len ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return NULL;
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out[o++] = ' ';
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    return dm__utf8_valid(out) ? out : NULL;
}
