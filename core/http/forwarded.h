/*
 * forwarded.h — who the client is when Dermaga sits behind reverse proxies
 * (server.trustedProxies, docs/configuration.md "Behind a reverse proxy").
 * Pure: headers in, an address and a scheme out; request.c calls it once
 * per request and everything else reads the answer through
 * dm__req_client_ip / dm__req_forwarded_proto.
 */
#ifndef DM_FORWARDED_H
#define DM_FORWARDED_H

#include <stddef.h>

#include "http/request.h"
#include "util/cidr.h"

/* The most forwarding hops looked at: the rightmost ones, which are the
 * ones trusted proxies wrote; a client may prepend as many as it likes. */
#define DM_FWD_MAX_HOPS 32

typedef struct dm_forwarded {
    char client[DM_IP_TEXT_MAX]; /* the client's address, normalised (cidr.h) */
    char proto[6];               /* "http" or "https" as a trusted proxy said, or "" */
} dm_forwarded;

/*
 * Resolve the client of a request whose TCP peer is peer (text; borrowed)
 * from its headers (n of them; borrowed), trusting the n_trusted ranges.
 *
 * An untrusted peer (or an empty list) is the client, whatever it sent.
 * A trusted peer's word is read from the Forwarded header lines (RFC 7239
 * for= and proto=) or, when there are none, the X-Forwarded-For lines
 * (with X-Forwarded-Proto), all lines of one name joined in order. The
 * hops are walked from the right, skipping trusted addresses: the client
 * is the first one not trusted, or the leftmost when all are. A hop that
 * cannot be named (for=unknown, an obfuscated "_id", an element without
 * for=) ends the walk at the trusted hop that reported it. A malformed hop
 * reached by the walk makes the peer the client; one left of the client
 * (the client's own text) is never read. out->client is always set.
 */
void dm__forwarded_resolve(const char *peer, const dm_header *headers, int n, const dm_cidr *trusted,
                           size_t n_trusted, dm_forwarded *out);

#endif
