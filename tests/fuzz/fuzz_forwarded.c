/*
 * fuzz_forwarded.c — who the client is behind proxies (core/http/forwarded.c)
 * and the CIDR parser under it (core/util/cidr.c). Byte 0 picks the peer
 * (bits 0-2) and the trusted ranges (bits 3-4: none, the peer's loopback,
 * or three ranges); the rest is header lines, "Name: value" a line (a name
 * of letters and '-'), any other line going to Forwarded, X-Forwarded-For
 * or X-Forwarded-Proto by turns. Each line is also parsed as a CIDR range.
 */
#include <string.h>

#include "fuzz_support.h"
#include "http/forwarded.h"

#define FUZZ_MAX_INPUT (16u * 1024u)
#define MAX_LINES 16

static const char *const peers[] = { "127.0.0.1", "::ffff:127.0.0.1", "10.1.2.3", "2001:db8::1",
                                     "198.51.100.5", "::1", "10.255.255.255", "fd00::7" };
static const char *const ranges[] = { "127.0.0.1/32", "10.0.0.0/8", "2001:db8::/32" };
static const char *const cycle[] = { "Forwarded", "X-Forwarded-For", "X-Forwarded-Proto" };

static void check_cidr(const char *s)
{
    dm_cidr c;
    if (dm__cidr_parse(s, &c) != 0)
        return;
    FUZZ_CHECK(c.bits <= 128, "prefix %u", c.bits);
    FUZZ_CHECK(dm__cidr_match(&c, &c.net), "a range holds its own network address: %s", s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FUZZ_MAX_INPUT)
        return 0;
    const char *peer = peers[data[0] & 7u];
    dm_cidr trusted[3];
    size_t nt = (data[0] >> 3) % 3u == 0 ? 0 : (data[0] >> 3) % 3u == 1 ? 1 : 3;
    for (size_t i = 0; i < nt; i++)
        FUZZ_CHECK(dm__cidr_parse(ranges[i], &trusted[i]) == 0, "range %s", ranges[i]);

    /* Lines into NUL-terminated names and values (a NUL byte ends a value). */
    char *text = malloc(size);
    FUZZ_CHECK(text != NULL, "malloc");
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    dm_header h[MAX_LINES];
    int n = 0;
    for (char *line = text, *next; line != NULL && n < MAX_LINES; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        check_cidr(line);
        size_t nlen = strspn(line, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-");
        char *colon = line[nlen] == ':' && nlen > 0 ? line + nlen : NULL;
        if (colon != NULL) {
            *colon = '\0';
            h[n].name = line;
            h[n].value = colon + 1 + (colon[1] == ' ');
        } else {
            h[n].name = cycle[n % 3];
            h[n].value = line;
        }
        n++;
    }

    dm_forwarded a, b;
    dm__forwarded_resolve(peer, h, n, trusted, nt, &a);
    dm__forwarded_resolve(peer, h, n, trusted, nt, &b);
    FUZZ_CHECK(memcmp(&a, &b, sizeof a) == 0, "the same headers give the same answer");
    FUZZ_CHECK(memchr(a.client, '\0', sizeof a.client) != NULL, "client text terminated");
    dm_ip ip, pip;
    FUZZ_CHECK(dm__ip_parse(a.client, strlen(a.client), &ip) == 0, "client %s is an address", a.client);
    char again[DM_IP_TEXT_MAX], peer_text[DM_IP_TEXT_MAX];
    dm__ip_format(&ip, again);
    FUZZ_CHECK(strcmp(again, a.client) == 0, "client %s is normalised (%s)", a.client, again);
    FUZZ_CHECK(a.proto[0] == '\0' || strcmp(a.proto, "http") == 0 || strcmp(a.proto, "https") == 0,
               "proto %.5s", a.proto);
    FUZZ_CHECK(dm__ip_parse(peer, strlen(peer), &pip) == 0, "peer");
    dm__ip_format(&pip, peer_text);
    if (!dm__cidr_any(trusted, nt, &pip)) {
        FUZZ_CHECK(strcmp(a.client, peer_text) == 0, "an untrusted peer (%s) is the client, not %s", peer_text,
                   a.client);
        FUZZ_CHECK(a.proto[0] == '\0', "an untrusted peer's scheme (%s) is not believed", a.proto);
    }
    free(text);
    return 0;
}
