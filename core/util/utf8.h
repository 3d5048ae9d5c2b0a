/*
 * utf8.h — strict UTF-8 validation, for text that reaches PostgreSQL
 * (which refuses invalid UTF-8 with an error, not a miss) or clients.
 */
#ifndef DM_UTF8_H
#define DM_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* The length (1..4) of the well-formed UTF-8 sequence at p, which has
 * avail bytes, or 0 when none starts there (a NUL, a stray continuation
 * byte, an overlong form, a surrogate, beyond U+10FFFF, cut short). */
size_t dm__utf8_seq_len(const unsigned char *p, size_t avail);

/* True when the NUL-terminated s is well-formed UTF-8: no stray
 * continuation bytes, overlong forms, surrogates or code points beyond
 * U+10FFFF. */
bool dm__utf8_valid(const char *s);

#endif
