/*
 * ws_handshake.c — the opening handshake of a WebSocket (ws_handshake.h):
 * which requests may upgrade, the answer to those that may not, and the
 * accept value that proves the server read the key.
 */
#include "http/ws_handshake.h"

#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "http/response.h"
#include "http/server.h"
#include "util/log.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define KEY_LEN 24 /* base64 of 16 bytes */

int dm__ws_accept_value(const char *key, char out[DM_WS_ACCEPT_LEN + 1])
{
    char text[KEY_LEN + sizeof WS_GUID];
    size_t klen = strlen(key);
    if (klen > KEY_LEN)
        return DM_EINVAL;
    memcpy(text, key, klen);
    memcpy(text + klen, WS_GUID, sizeof WS_GUID);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(text, klen + sizeof WS_GUID - 1, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
        return DM_EIO;
    if (EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen) != DM_WS_ACCEPT_LEN)
        return DM_EIO;
    return 0;
}

/* How many header lines named name r carries. */
static int header_count(const dm_request *r, const char *name)
{
    int n = 0;
    for (int i = 0; i < r->n_headers; i++)
        n += strcasecmp(r->headers[i].name, name) == 0;
    return n;
}

/* True when a comma-separated list in any header named name holds token
 * (case-insensitive, blanks around items ignored). */
static bool has_token(const dm_request *r, const char *name, const char *token)
{
    size_t tlen = strlen(token);
    for (int i = 0; i < r->n_headers; i++) {
        if (strcasecmp(r->headers[i].name, name) != 0)
            continue;
        const char *p = r->headers[i].value;
        while (*p != '\0') {
            while (*p == ' ' || *p == '\t' || *p == ',')
                p++;
            const char *start = p;
            while (*p != '\0' && *p != ',')
                p++;
            const char *end = p;
            while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
            if ((size_t)(end - start) == tlen && strncasecmp(start, token, tlen) == 0)
                return true;
        }
    }
    return false;
}

static bool is_b64(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* 16 bytes in base64: 22 symbols and "==". */
static bool key_ok(const char *k)
{
    if (strlen(k) != KEY_LEN || strcmp(k + 22, "==") != 0)
        return false;
    for (int i = 0; i < 22; i++)
        if (!is_b64(k[i]))
            return false;
    return true;
}

/* Origin names the host the request went to: the page is one this server
 * sent. Its scheme is the one a trusted proxy says the client used; when
 * none says, http or https (an untrusted proxy may end TLS in front). */
static bool same_origin(const dm_request *r, const char *origin)
{
    const char *host = dm__req_header(r, "Host");
    if (host == NULL || header_count(r, "Host") != 1)
        return false;
    const char *proto = dm__req_forwarded_proto(r);
    const char *rest = strncmp(origin, "http://", 7) == 0    ? origin + 7
                       : strncmp(origin, "https://", 8) == 0 ? origin + 8
                                                             : NULL;
    if (rest != NULL && proto != NULL
        && ((size_t)(rest - origin) != strlen(proto) + 3 || strncmp(origin, proto, strlen(proto)) != 0))
        return false;
    return rest != NULL && *host != '\0' && strcasecmp(rest, host) == 0;
}

static int refuse(dm_request *r, int status, const char *code, const char *msg, int rc)
{
    dm__res_error(r, status, code, msg, NULL);
    return rc;
}

int dm__ws_handshake_check(dm_request *r, char out[DM_WS_ACCEPT_LEN + 1])
{
    if (strcmp(r->method, "GET") != 0 || r->http_minor < 1)
        return refuse(r, 400, "BAD_REQUEST", "a WebSocket upgrade is a GET over HTTP/1.1", DM_EINVAL);
    if (!has_token(r, "Upgrade", "websocket") || !has_token(r, "Connection", "upgrade"))
        return refuse(r, 400, "BAD_REQUEST", "a WebSocket upgrade needs Upgrade: websocket and Connection: Upgrade",
                      DM_EINVAL);
    const char *version = dm__req_header(r, "Sec-WebSocket-Version");
    if (version == NULL || header_count(r, "Sec-WebSocket-Version") != 1)
        return refuse(r, 400, "BAD_REQUEST", "one Sec-WebSocket-Version header is needed", DM_EINVAL);
    if (strcmp(version, "13") != 0) {
        dm__res_header(r, "Sec-WebSocket-Version", "13");
        return refuse(r, 426, "UPGRADE_REQUIRED", "only WebSocket version 13 is supported", DM_EINVAL);
    }
    const char *key = dm__req_header(r, "Sec-WebSocket-Key");
    if (key == NULL || header_count(r, "Sec-WebSocket-Key") != 1 || !key_ok(key))
        return refuse(r, 400, "BAD_REQUEST", "Sec-WebSocket-Key must be 16 bytes in base64", DM_EINVAL);
    /* Browsers always send Origin; other clients may not, and are not a
     * cross-site threat, so only a present one is checked. A page Dermaga
     * served itself (the log page) is always allowed. */
    const char *origin = dm__req_header(r, "Origin");
    if (origin != NULL && (header_count(r, "Origin") != 1 ||
                           (!same_origin(r, origin) && !dm__config_cors_allowed(r->server->cfg, origin))))
        return refuse(r, 403, "FORBIDDEN", "origin not allowed", DM_EPERM);
    if (dm__ws_accept_value(key, out) != 0) {
        DM_LOG_E("websocket: cannot compute Sec-WebSocket-Accept");
        return refuse(r, 500, "INTERNAL", "internal error", DM_EIO);
    }
    return 0;
}
