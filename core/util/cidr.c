/*
 * cidr.c — address and range parsing over inet_pton, which is strict (no
 * leading zeros in IPv4 octets, no zone ids), and a byte-wise prefix match.
 */
#include "util/cidr.h"

#include <arpa/inet.h>
#include <string.h>

#include <dermaga/error.h>

int dm__ip_parse(const char *s, size_t n, dm_ip *out)
{
    char text[DM_IP_TEXT_MAX];
    if (n == 0 || n >= sizeof text)
        return DM_EINVAL;
    memcpy(text, s, n);
    text[n] = '\0';
    if (memchr(text, '\0', n) != NULL)
        return DM_EINVAL;
    uint8_t v4[4];
    if (inet_pton(AF_INET, text, v4) == 1) {
        memset(out->b, 0, 10);
        out->b[10] = 0xff;
        out->b[11] = 0xff;
        memcpy(out->b + 12, v4, 4);
        return 0;
    }
    return inet_pton(AF_INET6, text, out->b) == 1 ? 0 : DM_EINVAL;
}

static bool is_v4_mapped(const dm_ip *ip)
{
    static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    return memcmp(ip->b, prefix, sizeof prefix) == 0;
}

void dm__ip_format(const dm_ip *ip, char out[DM_IP_TEXT_MAX])
{
    const char *ok = is_v4_mapped(ip) ? inet_ntop(AF_INET, ip->b + 12, out, DM_IP_TEXT_MAX)
                                      : inet_ntop(AF_INET6, ip->b, out, DM_IP_TEXT_MAX);
    if (ok == NULL) /* cannot happen with these sizes; never leave garbage */
        out[0] = '\0';
}

/* The prefix text after '/': 1-3 decimal digits, at most max. */
static int parse_prefix(const char *p, int max)
{
    int v = 0, digits = 0;
    for (; *p != '\0'; p++, digits++) {
        if (*p < '0' || *p > '9' || digits == 3)
            return -1;
        v = v * 10 + (*p - '0');
    }
    return digits > 0 && v <= max ? v : -1;
}

int dm__cidr_parse(const char *s, dm_cidr *out)
{
    const char *slash = strchr(s, '/');
    size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
    dm_ip ip;
    if (dm__ip_parse(s, alen, &ip) != 0)
        return DM_EINVAL;
    /* A literal written as IPv4 counts its prefix over 32 bits; one
     * written as IPv6 (::ffff:10.0.0.0/104 too) over 128. */
    bool v4 = memchr(s, ':', alen) == NULL;
    int max = v4 ? 32 : 128;
    int prefix = slash != NULL ? parse_prefix(slash + 1, max) : max;
    if (prefix < 0)
        return DM_EINVAL;
    out->net = ip;
    out->bits = (uint8_t)(v4 ? prefix + 96 : prefix);
    dm_ip masked = ip;
    for (int i = 0; i < 16; i++) {
        int keep = (int)out->bits - i * 8;
        uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
        masked.b[i] &= mask;
    }
    if (memcmp(masked.b, ip.b, 16) != 0)
        return DM_EINVAL; /* bits set below the prefix */
    return 0;
}

bool dm__cidr_match(const dm_cidr *c, const dm_ip *ip)
{
    int full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->net.b, ip->b, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (ip->b[full] & mask) == c->net.b[full];
}

bool dm__cidr_any(const dm_cidr *set, size_t n, const dm_ip *ip)
{
    for (size_t i = 0; i < n; i++)
        if (dm__cidr_match(&set[i], ip))
            return true;
    return false;
}
