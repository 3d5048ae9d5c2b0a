/*
 * urldecode.h — percent-decoding for paths and query strings.
 */
#ifndef DM_URLDECODE_H
#define DM_URLDECODE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/arena.h"

/* Decode s[0..len) into arena memory; '+' becomes ' ' when plus_is_space.
 * NULL when the encoding is malformed, decodes to a NUL byte or is not
 * UTF-8. */
char *dm__url_decode(dm_arena *a, const char *s, size_t len, bool plus_is_space);

#endif
