/*
 * policy.h — auth-local's input rules: the canonical form and shape of an
 * email address, and the password length policy (counted in Unicode code
 * points of valid UTF-8). Messages are safe to show to clients and name
 * the field they are about.
 */
#ifndef AUTH_LOCAL_POLICY_H
#define AUTH_LOCAL_POLICY_H

#include <stddef.h>

#include <dermaga/error.h>

#define AL_EMAIL_MAX 254 /* RFC 5321: a path is at most 256 octets with its <> */

/*
 * Trim ASCII whitespace around `in` (borrowed), lower-case ASCII letters,
 * and check the shape: one '@'; a local part of 1..64 bytes; a domain of
 * dot-separated labels of 1..63 bytes (letters, digits, '-', or UTF-8; not
 * starting or ending with '-'), at least two labels; no whitespace or
 * control characters anywhere; valid UTF-8; at most AL_EMAIL_MAX bytes.
 * Writes the result to out (caller's, out_len bytes). 0, or DM_EINVAL with
 * a message starting "email" (or about out being too small).
 */
int al_email_normalize(const char *in, char *out, size_t out_len, dm_err_t *err);

/* Code points in s when it is valid UTF-8 (no overlongs, no surrogates,
 * at most U+10FFFF); -1 when it is not. */
long al_utf8_count(const char *s);

/* 0 when password (borrowed; NULL refused) is valid UTF-8 of min..max code
 * points; DM_EINVAL with a message starting "password" otherwise. */
int al_password_check(const char *password, long min_chars, long max_chars, dm_err_t *err);

#endif
