/*
 * base64.h — RFC 4648 base64 and base64url, strict on decoding (one
 * accepted spelling per byte string), for the host's plugin helpers
 * (plugin/host_crypto.c) and the core's own tokens.
 */
#ifndef DM_BASE64_H
#define DM_BASE64_H

#include <stdbool.h>
#include <stddef.h>

/* Characters of the text for n bytes (no NUL), with or without padding. */
size_t dm__base64_encoded_len(size_t n, bool pad);

/* Write the text for n bytes of in into out, which has room for
 * dm__base64_encoded_len(n, pad) characters (no NUL is written). */
void dm__base64_encode(const void *in, size_t n, bool url, bool pad, char *out);

/* The value (0-63) of character c in the alphabet url picks, or -1 (for
 * '=' too). */
int dm__base64_value(unsigned char c, bool url);

/* Check n characters of text (the alphabet url picks; '=' padding
 * optional, exact when present; unused low bits zero) and return how many
 * bytes they decode to, or -1 when the text is not canonical base64. With
 * out (room for that many bytes; NULL to only check) the bytes are
 * written. */
long dm__base64_decode(const char *in, size_t n, bool url, void *out);

#endif
