/*
 * cidr.h — IP addresses and CIDR ranges as 16 bytes, for the trusted-proxy
 * list (server.trustedProxies: its config check and http/forwarded.c).
 * An IPv4 address is kept as its IPv4-mapped IPv6 form (::ffff:a.b.c.d)
 * and an IPv4 prefix as that prefix + 96, so a peer a dual-stack listener
 * reports as ::ffff:10.0.0.5 matches 10.0.0.0/8 with no special case.
 */
#ifndef DM_CIDR_H
#define DM_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest text dm__ip_format writes, with its NUL (INET6_ADDRSTRLEN). */
#define DM_IP_TEXT_MAX 46

typedef struct dm_ip {
    uint8_t b[16]; /* network order; IPv4 as ::ffff:a.b.c.d */
} dm_ip;

typedef struct dm_cidr {
    dm_ip   net;  /* host bits zero */
    uint8_t bits; /* 0..128, counted over the 16 bytes */
} dm_cidr;

/* Parse the n bytes at s (no NUL needed) as an IPv4 or IPv6 address
 * literal (no brackets, port or zone). 0, or DM_EINVAL. */
int dm__ip_parse(const char *s, size_t n, dm_ip *out);

/* The address as text into out (DM_IP_TEXT_MAX bytes): dotted IPv4 for
 * an IPv4 (or IPv4-mapped) address, else RFC 5952 IPv6, so one address
 * always reads the same. */
void dm__ip_format(const dm_ip *ip, char out[DM_IP_TEXT_MAX]);

/* Parse "ADDR" or "ADDR/PREFIX" (a single address is /32 or /128; the
 * prefix is 1-3 digits within the address's bits; bits below it must be
 * zero, so 10.0.0.1/8 is refused rather than guessed at). 0, or
 * DM_EINVAL. */
int dm__cidr_parse(const char *s, dm_cidr *out);

/* True when ip lies in c. */
bool dm__cidr_match(const dm_cidr *c, const dm_ip *ip);

/* True when ip lies in any of the n ranges. */
bool dm__cidr_any(const dm_cidr *set, size_t n, const dm_ip *ip);

#endif
