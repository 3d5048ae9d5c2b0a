/*
 * utf8.c — strict UTF-8 decoding (utf8.h): one sequence at a time, and
 * whole strings built on it.
 */
#include "util/utf8.h"

size_t dm__utf8_seq_len(const unsigned char *p, size_t avail)
{
    if (avail == 0 || p[0] == 0)
        return 0;
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    int more = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (more < 0 || (size_t)more >= avail)
        return 0;
    unsigned cp = c & (0x3fu >> more);
    for (int i = 1; i <= more; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3fu);
    }
    /* Overlong 3- and 4-byte forms, surrogates, beyond U+10FFFF. */
    if (more == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
        return 0;
    if (more == 3 && (cp < 0x10000 || cp > 0x10ffff))
        return 0;
    return (size_t)more + 1;
}

bool dm__utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        /* At most 4 bytes are read; a NUL inside a sequence stops it. */
        size_t k = dm__utf8_seq_len(p, 4);
        if (k == 0)
            return false;
        p += k;
    }
    return true;
}
