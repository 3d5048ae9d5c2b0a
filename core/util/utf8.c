/*
 * utf8.c — strict UTF-8 validation (utf8.h).
 */
#include "util/utf8.h"

bool dm__utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        unsigned c = *p;
        int more = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2
                                : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
        if (more < 0)
            return false;
        unsigned cp = more == 0 ? c : c & (0x3fu >> more);
        for (int i = 1; i <= more; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false; /* also stops at the NUL */
            cp = cp << 6 | (p[i] & 0x3fu);
        }
        /* Overlong 3- and 4-byte forms, surrogates, beyond U+10FFFF. */
        bool bad_three = more == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff));
        if (bad_three || (more == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        p += more + 1;
    }
    return true;
}
