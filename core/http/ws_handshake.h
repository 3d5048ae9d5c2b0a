/*
 * ws_handshake.h — the HTTP side of a WebSocket upgrade (RFC 6455 4.2): the
 * checks of the client's opening handshake, the refusals, and the
 * Sec-WebSocket-Accept value (OpenSSL's SHA-1 and base64).
 */
#ifndef DM_WS_HANDSHAKE_H
#define DM_WS_HANDSHAKE_H

#include "http/request.h"

#define DM_WS_ACCEPT_LEN 28 /* base64 of a SHA-1 digest */

/* Sec-WebSocket-Accept for key (borrowed, NUL-terminated) into out
 * (DM_WS_ACCEPT_LEN characters and a NUL). 0, or DM_EIO when OpenSSL fails. */
int dm__ws_accept_value(const char *key, char out[DM_WS_ACCEPT_LEN + 1]);

/* Check r's opening handshake. 0 with out holding the accept value; else
 * r's response is set (400; 403 for an Origin that server.corsOrigins does
 * not allow; 426 with Sec-WebSocket-Version: 13 for another version; 500)
 * and DM_EINVAL (DM_EPERM for the Origin, DM_EIO for 500) is returned. */
int dm__ws_handshake_check(dm_request *r, char out[DM_WS_ACCEPT_LEN + 1]);

#endif
