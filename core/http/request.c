/*
 * request.c — read-only accessors over a parsed request.
 */
#include "http/request.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "app/config.h"
#include "http/forwarded.h"
#include "http/server.h"
#include "http/urldecode.h"

const char *dm__req_header(const dm_request *req, const char *name)
{
    for (int i = 0; i < req->n_headers; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

const char *dm__req_param(const dm_request *req, const char *name)
{
    for (int i = 0; i < req->n_params; i++)
        if (strcmp(req->params[i].name, name) == 0)
            return req->params[i].value;
    return NULL;
}

const char *dm__req_query(dm_request *req, const char *name)
{
    size_t nlen = strlen(name);
    const char *p = req->query;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '&');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq != NULL ? (size_t)(eq - p) : len;
        if (klen == nlen && memcmp(p, name, nlen) == 0) {
            const char *v = eq != NULL ? eq + 1 : p + len;
            size_t vlen = (size_t)(p + len - v);
            return dm__url_decode(&req->arena, v, vlen, true);
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return NULL;
}

const char *dm__req_query_invalid(dm_request *req)
{
    const char *p = req->query;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '&');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq != NULL ? (size_t)(eq - p) : len;
        const char *name = dm__url_decode(&req->arena, p, klen, true);
        if (name == NULL)
            return "(query)";
        if (eq != NULL && dm__url_decode(&req->arena, eq + 1, (size_t)(p + len - eq - 1), true) == NULL)
            return name;
        p = end != NULL ? end + 1 : NULL;
    }
    return NULL;
}

void dm__req_resolve_client(dm_request *req)
{
    if (req->client_ip[0] != '\0')
        return;
    const dm_config *cfg = req->server != NULL ? req->server->cfg : NULL;
    dm_forwarded f;
    dm__forwarded_resolve(req->peer_ip, req->headers, req->n_headers, cfg != NULL ? cfg->trusted_cidrs : NULL,
                          cfg != NULL ? cfg->n_trusted_proxies : 0, &f);
    snprintf(req->client_ip, sizeof req->client_ip, "%s", f.client);
    snprintf(req->client_proto, sizeof req->client_proto, "%s", f.proto);
}

const char *dm__req_client_ip(const dm_request *req)
{
    if (req->client_ip[0] != '\0' || req->peer_ip == NULL)
        return req->client_ip;
    return req->peer_ip;
}

const char *dm__req_forwarded_proto(const dm_request *req)
{
    return req->client_proto[0] != '\0' ? req->client_proto : NULL;
}
