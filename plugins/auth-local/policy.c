/*
 * policy.c — email canonical form and shape, password length policy. Kept
 * apart from hashing so the rules read in one place; everything here is
 * pure and thread-safe.
 */
#include "policy.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Length of the UTF-8 sequence at s (1..4), or 0 when it is not valid. */
static size_t utf8_seq(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if ((s[0] & 0xe0) == 0xc0) {
        n = 2;
        cp = s[0] & 0x1fu;
    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3;
        cp = s[0] & 0x0fu;
    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    static const uint32_t least[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (cp < least[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

long al_utf8_count(const char *s)
{
    long count = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        size_t n = utf8_seq(p);
        if (n == 0)
            return -1;
        p += n;
        count++;
    }
    return count;
}

int al_password_check(const char *password, long min_chars, long max_chars, dm_err_t *err)
{
    if (password == NULL || password[0] == '\0')
        return dm_err_set(err, DM_EINVAL, "password is required");
    long n = al_utf8_count(password);
    if (n < 0)
        return dm_err_set(err, DM_EINVAL, "password must be valid UTF-8 text");
    if (n < min_chars)
        return dm_err_set(err, DM_EINVAL, "password must be at least %ld characters", min_chars);
    if (n > max_chars)
        return dm_err_set(err, DM_EINVAL, "password must be at most %ld characters", max_chars);
    return 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* One domain label: 1..63 bytes of letters, digits, '-' or UTF-8, not
 * starting or ending with '-'. */
static bool label_ok(const char *s, size_t n)
{
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

/* The domain (already lower-cased): two or more good labels. */
static bool domain_ok(const char *d, size_t len)
{
    size_t start = 0, labels = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || d[i] == '.') {
            if (!label_ok(d + start, i - start))
                return false;
            labels++;
            start = i + 1;
        }
    }
    return labels >= 2;
}

/* Whitespace, control characters, UTF-8 validity and the one '@'. */
static int check_chars(const char *s, size_t len, dm_err_t *err)
{
    size_t ats = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f)
            return dm_err_set(err, DM_EINVAL,
                              "email must not contain spaces or control characters");
        size_t n = utf8_seq((const unsigned char *)s + i);
        if (n == 0 || i + n > len)
            return dm_err_set(err, DM_EINVAL, "email must be valid UTF-8 text");
        ats += c == '@';
        i += n;
    }
    if (ats != 1)
        return dm_err_set(err, DM_EINVAL, "email must contain exactly one @");
    return 0;
}

int al_email_normalize(const char *in, char *out, size_t out_len, dm_err_t *err)
{
    if (in == NULL)
        return dm_err_set(err, DM_EINVAL, "email is required");
    while (is_space(*in))
        in++;
    size_t len = strlen(in);
    while (len > 0 && is_space(in[len - 1]))
        len--;
    if (len == 0)
        return dm_err_set(err, DM_EINVAL, "email is required");
    if (len > AL_EMAIL_MAX)
        return dm_err_set(err, DM_EINVAL, "email must be at most %d characters", AL_EMAIL_MAX);
    int rc = check_chars(in, len, err);
    if (rc != 0)
        return rc;
    if (out_len < len + 1)
        return dm_err_set(err, DM_EINVAL, "normalized email needs %zu bytes, buffer has %zu",
                          len + 1, out_len);
    for (size_t i = 0; i < len; i++)
        out[i] = (in[i] >= 'A' && in[i] <= 'Z') ? (char)(in[i] - 'A' + 'a') : in[i];
    out[len] = '\0';
    size_t local = (size_t)(strchr(out, '@') - out);
    if (local == 0 || local > 64)
        rc = dm_err_set(err, DM_EINVAL, "email must have 1 to 64 characters before the @");
    else if (!domain_ok(out + local + 1, len - local - 1))
        rc = dm_err_set(err, DM_EINVAL, "email must end in a domain such as example.com");
    if (rc != 0)
        out[0] = '\0'; /* never hand back half a result */
    return rc;
}
