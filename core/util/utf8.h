/*
 * utf8.h — strict UTF-8 validation, for text that reaches PostgreSQL
 * (which refuses invalid UTF-8 with an error, not a miss) or clients.
 */
#ifndef DM_UTF8_H
#define DM_UTF8_H

#include <stdbool.h>

/* True when the NUL-terminated s is well-formed UTF-8: no stray
 * continuation bytes, overlong forms, surrogates or code points beyond
 * U+10FFFF. */
bool dm__utf8_valid(const char *s);

#endif
