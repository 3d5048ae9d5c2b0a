/*
 * forwarded.c — Forwarded / X-Forwarded-For / X-Forwarded-Proto read from
 * the right. Lists are split on every comma, quoted or not (no for=, by=,
 * host= or proto= value can hold one), so a client's broken quoting spoils
 * only its own elements, which the walk never reaches; empty list members
 * are skipped, as HTTP's list rule allows.
 */
#include "http/forwarded.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef enum { HOP_ADDR, HOP_UNKNOWN, HOP_BAD } hop_kind;

typedef struct hop {
    hop_kind kind;
    dm_ip    ip;       /* HOP_ADDR */
    char     proto[6]; /* Forwarded proto=, or "" */
} hop;

/* The rightmost DM_FWD_MAX_HOPS hops, as a ring; total counts them all. */
typedef struct hops {
    hop    h[DM_FWD_MAX_HOPS];
    size_t total;
} hops;

static hop *push(hops *hs)
{
    hop *h = &hs->h[hs->total % DM_FWD_MAX_HOPS];
    hs->total++;
    memset(h, 0, sizeof *h);
    return h;
}

static bool ows(char c)
{
    return c == ' ' || c == '\t';
}

/* ---- list members across header lines -------------------------------- */

typedef struct list_iter {
    const dm_header *headers;
    int              n, line;
    const char      *name;
    const char      *p; /* next byte of the current line, or NULL */
} list_iter;

/* The next non-empty member (trimmed) of the comma lists of every header
 * called it->name, in order. False at the end. */
static bool list_next(list_iter *it, const char **s, size_t *len)
{
    for (;;) {
        if (it->p == NULL) { /* the next line of that name */
            while (it->line < it->n && strcasecmp(it->headers[it->line].name, it->name) != 0)
                it->line++;
            if (it->line >= it->n)
                return false;
            it->p = it->headers[it->line++].value;
        }
        if (*it->p == '\0') {
            it->p = NULL;
            continue;
        }
        const char *b = it->p, *comma = strchr(b, ',');
        const char *e = comma != NULL ? comma : b + strlen(b);
        it->p = comma != NULL ? comma + 1 : e;
        while (b < e && ows(*b))
            b++;
        while (e > b && ows(e[-1]))
            e--;
        if (e > b) {
            *s = b;
            *len = (size_t)(e - b);
            return true;
        }
    }
}

static void list_start(list_iter *it, const dm_header *h, int n, const char *name)
{
    it->headers = h;
    it->n = n;
    it->line = 0;
    it->name = name;
    it->p = NULL;
}

/* ---- one node: an address, "unknown", "_obfuscated", with a port ------ */

static bool obf_ok(const char *s, size_t n) /* "_" 1*(ALPHA / DIGIT / "." / "_" / "-") */
{
    if (n < 2 || s[0] != '_')
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
              || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool port_ok(const char *s, size_t n)
{
    if (obf_ok(s, n))
        return true;
    if (n == 0 || n > 5)
        return false;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    return v <= 65535;
}

/* IPv4 ["]:port"], "[" IPv6 "]" [":" port], a bare IPv6, unknown, _obf. */
static hop_kind parse_node(const char *s, size_t n, dm_ip *ip)
{
    if (n == 7 && strncasecmp(s, "unknown", 7) == 0)
        return HOP_UNKNOWN;
    if (n > 0 && s[0] == '_')
        return obf_ok(s, n) ? HOP_UNKNOWN : HOP_BAD;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL || memchr(s + 1, ':', (size_t)(close - s - 1)) == NULL
            || dm__ip_parse(s + 1, (size_t)(close - s - 1), ip) != 0)
            return HOP_BAD;
        size_t rest = n - (size_t)(close + 1 - s);
        if (rest == 0)
            return HOP_ADDR;
        return close[1] == ':' && port_ok(close + 2, rest - 1) ? HOP_ADDR : HOP_BAD;
    }
    if (dm__ip_parse(s, n, ip) == 0)
        return HOP_ADDR;
    const char *colon = memchr(s, ':', n);
    if (colon == NULL || memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)) != NULL)
        return HOP_BAD; /* no port, or an IPv6 without brackets that did not parse */
    if (dm__ip_parse(s, (size_t)(colon - s), ip) != 0 || !port_ok(colon + 1, n - (size_t)(colon + 1 - s)))
        return HOP_BAD;
    return HOP_ADDR;
}

static void set_proto(char out[6], const char *s, size_t n)
{
    if (n == 4 && strncasecmp(s, "http", 4) == 0)
        snprintf(out, 6, "http");
    else if (n == 5 && strncasecmp(s, "https", 5) == 0)
        snprintf(out, 6, "https");
}

/* ---- Forwarded --------------------------------------------------------- */

/* One pair's value at *p (token or quoted-string) into val; *p moves past
 * it. False when it is malformed or longer than val. */
static bool pair_value(const char **p, const char *e, char *val, size_t cap, size_t *vn)
{
    const char *q = *p;
    *vn = 0;
    if (q < e && *q == '"') {
        for (q++; q < e && *q != '"'; q++) {
            if (*q == '\\' && ++q == e)
                return false;
            if (*vn + 1 >= cap)
                return false;
            val[(*vn)++] = *q;
        }
        if (q == e)
            return false; /* unterminated */
        q++;
    } else {
        for (; q < e && *q != ';' && !ows(*q) && *q != '"'; q++) {
            if (*vn + 1 >= cap)
                return false;
            val[(*vn)++] = *q;
        }
        if (*vn == 0)
            return false;
    }
    *p = q;
    return true;
}

/* One forwarded-element: pairs separated by ';'. An element without for=
 * is a hop that could not be named. */
static void parse_element(const char *s, size_t n, hop *h)
{
    const char *p = s, *e = s + n;
    bool have_for = false;
    h->kind = HOP_UNKNOWN;
    while (p < e) {
        while (p < e && ows(*p))
            p++;
        if (p == e)
            break;
        const char *name = p;
        while (p < e && *p != '=' && *p != ';' && !ows(*p))
            p++;
        size_t nlen = (size_t)(p - name);
        char val[64];
        size_t vn;
        if (nlen == 0 || p == e || *p != '=') {
            h->kind = HOP_BAD;
            return;
        }
        p++;
        if (!pair_value(&p, e, val, sizeof val, &vn)) {
            h->kind = HOP_BAD;
            return;
        }
        while (p < e && ows(*p))
            p++;
        if (p < e && *p++ != ';') {
            h->kind = HOP_BAD;
            return;
        }
        if (nlen == 3 && strncasecmp(name, "for", 3) == 0) {
            if (have_for) { /* two answers to one question: believe neither */
                h->kind = HOP_BAD;
                return;
            }
            have_for = true;
            h->kind = parse_node(val, vn, &h->ip);
            if (h->kind == HOP_BAD)
                return;
        } else if (nlen == 5 && strncasecmp(name, "proto", 5) == 0) {
            set_proto(h->proto, val, vn);
        }
    }
}

static bool has_header(const dm_header *h, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcasecmp(h[i].name, name) == 0)
            return true;
    return false;
}

/* ---- X-Forwarded-Proto ----------------------------------------------- */

/* The scheme for the hop at index pos (from the left) of total XFF hops:
 * the member at pos when each proxy appended one to both lists, else the
 * only member when a proxy set one value. */
static void xfp_proto(const dm_header *h, int n, long pos, size_t total, char out[6])
{
    list_iter it;
    const char *s, *pick = NULL;
    size_t len, count = 0, pick_len = 0;
    list_start(&it, h, n, "X-Forwarded-Proto");
    while (list_next(&it, &s, &len)) {
        if (count == 0 || (pos >= 0 && count == (size_t)pos)) {
            pick = s;
            pick_len = len;
        }
        count++;
    }
    if (count == 1 || (count == total && pos >= 0 && pick != NULL))
        set_proto(out, pick, pick_len);
}

/* ---- the walk ---------------------------------------------------------- */

void dm__forwarded_resolve(const char *peer, const dm_header *headers, int n, const dm_cidr *trusted,
                           size_t n_trusted, dm_forwarded *out)
{
    memset(out, 0, sizeof *out);
    dm_ip pip;
    if (peer == NULL || dm__ip_parse(peer, strlen(peer), &pip) != 0) {
        snprintf(out->client, sizeof out->client, "%s", peer != NULL ? peer : "");
        return;
    }
    dm__ip_format(&pip, out->client);
    if (n_trusted == 0 || !dm__cidr_any(trusted, n_trusted, &pip))
        return;

    hops hs;
    hs.total = 0;
    bool fwd = has_header(headers, n, "Forwarded");
    list_iter it;
    const char *s;
    size_t len;
    list_start(&it, headers, n, fwd ? "Forwarded" : "X-Forwarded-For");
    while (list_next(&it, &s, &len)) {
        hop *h = push(&hs);
        if (fwd)
            parse_element(s, len, h);
        else
            h->kind = parse_node(s, len, &h->ip);
    }

    dm_ip client = pip;
    long pos = -1; /* the hop that named the client (its proto), -1 for the peer */
    size_t kept = hs.total < DM_FWD_MAX_HOPS ? hs.total : DM_FWD_MAX_HOPS;
    for (size_t i = 0; i < kept; i++) {
        size_t at = hs.total - 1 - i;
        const hop *h = &hs.h[at % DM_FWD_MAX_HOPS];
        if (h->kind == HOP_BAD)
            return; /* out->client is the peer, and no scheme is believed */
        pos = (long)at;
        if (h->kind == HOP_UNKNOWN)
            break; /* the trusted hop to its right is as far as we can see */
        client = h->ip;
        if (!dm__cidr_any(trusted, n_trusted, &client))
            break;
    }
    dm__ip_format(&client, out->client);
    if (fwd) {
        if (pos >= 0)
            snprintf(out->proto, sizeof out->proto, "%s", hs.h[pos % DM_FWD_MAX_HOPS].proto);
    } else {
        xfp_proto(headers, n, pos, hs.total, out->proto);
    }
}
