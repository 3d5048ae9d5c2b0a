/*
 * sha256.h — SHA-256 as lower-case hex, the one spelling every owner of a
 * digest uses (migration checksums, refresh-token hashes, Idempotency-Key
 * request hashes, stored notification bodies).
 */
#ifndef DM_SHA256_H
#define DM_SHA256_H

#include <stddef.h>

/* SHA-256 of len bytes as 64 lower-case hex digits + NUL into out.
 * 0 or DM_EIO (OpenSSL failed; out is then ""). */
int dm__sha256_hex(const void *data, size_t len, char out[65]);

#endif
