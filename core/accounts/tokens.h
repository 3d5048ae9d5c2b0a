/*
 * tokens.h — refresh tokens: 256-bit random opaque strings handed to the
 * client once and stored only as their SHA-256 (hex). Storage, families
 * and rotation belong to the session code that calls these.
 */
#ifndef DM_AUTH_TOKENS_H
#define DM_AUTH_TOKENS_H

#include <dermaga/error.h>

#define DM_REFRESH_TOKEN_BYTES 32 /* random bytes in a token */
#define DM_REFRESH_TOKEN_LEN   43 /* base64url of 32 bytes, unpadded */
#define DM_REFRESH_HASH_HEX    64 /* SHA-256 as lowercase hex */

/*
 * A new refresh token: out_token gets 43 base64url characters and a NUL,
 * out_hash_hex its SHA-256 as 64 lowercase hex digits and a NUL (what the
 * database stores). Both caller-owned. Returns 0 or DM_EIO when the kernel
 * gives no randomness or hashing fails; on failure both are "".
 */
int dm__refresh_token_new(char out_token[44], char out_hash_hex[65], dm_err_t *err);

/*
 * 0 when token (borrowed; may be NULL) has the exact shape we issue:
 * 43 base64url characters, canonical last character, nothing after it.
 * DM_EINVAL otherwise. Call before hashing client input, so garbage of any
 * size is refused at the door.
 */
int dm__refresh_token_check(const char *token);

/*
 * SHA-256 of the token's characters as lowercase hex into out_hash_hex.
 * token is borrowed; pass it through dm__refresh_token_check first.
 * Returns 0, or DM_EINVAL (token NULL) / DM_EIO (OpenSSL failed) with
 * out_hash_hex set to "" so a failure can never match a stored hash.
 */
int dm__refresh_token_hash(const char *token, char out_hash_hex[65]);

/* Compare two hex hashes in constant time: 1 when equal, else 0. */
int dm__refresh_hash_eq(const char *a_hex, const char *b_hex);

#endif
