/*
 * router.c — a small linear router: routes are few (tens), matching is a
 * segment-by-segment compare, and the table never changes after start-up.
 */
#include "http/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dermaga/error.h>

#include "http/urldecode.h"

#define MAX_SEGMENTS 32

void dm__router_init(dm_router *r)
{
    memset(r, 0, sizeof *r);
}

static void free_route(struct dm_route *rt)
{
    for (int i = 0; i < rt->n_segments; i++)
        free(rt->segments[i]);
    free(rt->segments);
    free((char *)rt->method);
    free((char *)rt->pattern);
}

void dm__router_free(dm_router *r)
{
    for (size_t i = 0; i < r->n_routes; i++)
        free_route(&r->routes[i]);
    free(r->routes);
    memset(r, 0, sizeof *r);
}

/* Split "/a/:b/c" into {"a", ":b", "c"}; "/" has no segments. */
static int split_pattern(const char *pattern, char ***out, int *n)
{
    char *segs[MAX_SEGMENTS];
    int count = 0;
    const char *p = pattern + 1;
    while (*p != '\0') {
        const char *end = strchr(p, '/');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len == 0 || count == MAX_SEGMENTS)
            goto bad;
        segs[count] = strndup(p, len);
        if (segs[count] == NULL)
            goto bad;
        count++;
        p += len;
        if (*p == '/')
            p++;
    }
    *out = calloc((size_t)(count > 0 ? count : 1), sizeof(char *));
    if (*out == NULL)
        goto bad;
    memcpy(*out, segs, (size_t)count * sizeof(char *));
    *n = count;
    return 0;
bad:
    for (int i = 0; i < count; i++)
        free(segs[i]);
    return DM_EINVAL;
}

int dm__router_add(dm_router *r, const char *method, const char *pattern,
                   dm_handler_fn handler, unsigned flags)
{
    if (pattern == NULL || pattern[0] != '/' || method == NULL || handler == NULL)
        return DM_EINVAL;
    /* The guard and hashing read the database: only worker routes may ask. */
    if ((flags & (DM_ROUTE_AUTH | DM_ROUTE_ADMIN | DM_ROUTE_HASH)) && !(flags & DM_ROUTE_POOL))
        return DM_EINVAL;
    /* Idempotency keys belong to a user: only authenticated routes. */
    if ((flags & DM_ROUTE_IDEMPOTENT) && !(flags & (DM_ROUTE_AUTH | DM_ROUTE_ADMIN)))
        return DM_EINVAL;
    if (r->n_routes == r->cap) {
        size_t cap = r->cap != 0 ? r->cap * 2 : 32;
        struct dm_route *routes = realloc(r->routes, cap * sizeof *routes);
        if (routes == NULL)
            return DM_ENOMEM;
        r->routes = routes;
        r->cap = cap;
    }
    struct dm_route *rt = &r->routes[r->n_routes];
    memset(rt, 0, sizeof *rt);
    if (split_pattern(pattern, &rt->segments, &rt->n_segments) != 0)
        return DM_EINVAL;
    rt->method = strdup(method);
    rt->pattern = strdup(pattern);
    rt->handler = handler;
    rt->flags = flags;
    if (rt->method == NULL || rt->pattern == NULL) {
        free_route(rt);
        return DM_ENOMEM;
    }
    r->n_routes++;
    return 0;
}

/* Does route rt match the split path? Fills params only on success. */
static bool match_route(const struct dm_route *rt, char **segs, int n, dm_request *req,
                        bool fill)
{
    bool tail = rt->n_segments > 0 && strcmp(rt->segments[rt->n_segments - 1], "*") == 0;
    int fixed = tail ? rt->n_segments - 1 : rt->n_segments;
    if (tail ? n < fixed : n != fixed)
        return false;
    int np = 0;
    for (int i = 0; i < fixed; i++) {
        const char *s = rt->segments[i];
        if (s[0] == ':') {
            if (np == DM_MAX_PARAMS)
                return false;
            if (fill) {
                req->params[np].name = s + 1;
                req->params[np].value = segs[i];
            }
            np++;
        } else if (strcmp(s, segs[i]) != 0) {
            return false;
        }
    }
    if (fill)
        req->n_params = np;
    return true;
}

dm_match_t dm__router_match(const dm_router *r, dm_request *req, char *allow, size_t allow_len)
{
    if (allow_len > 0)
        allow[0] = '\0';
    char *segs[MAX_SEGMENTS];
    int n = 0;
    const char *p = req->path;
    if (p == NULL || p[0] != '/')
        return DM_MATCH_NOT_FOUND;
    p++;
    while (*p != '\0') {
        const char *end = strchr(p, '/');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (n == MAX_SEGMENTS)
            return DM_MATCH_NOT_FOUND;
        /* Empty segments ("//", trailing "/") never match a pattern. */
        if (len == 0)
            return DM_MATCH_NOT_FOUND;
        segs[n] = dm__url_decode(&req->arena, p, len, false);
        if (segs[n] == NULL || strchr(segs[n], '/') != NULL)
            return DM_MATCH_NOT_FOUND;
        n++;
        p += len;
        if (*p == '/')
            p++; /* one trailing slash names the same route, as in Express
                    (non-strict routing), whose clients Dermaga must serve */
    }

    bool path_matched = false;
    size_t used = 0;
    for (size_t i = 0; i < r->n_routes; i++) {
        const struct dm_route *rt = &r->routes[i];
        if (!match_route(rt, segs, n, req, false))
            continue;
        bool same_method = strcmp(rt->method, req->method) == 0
                           || (strcmp(req->method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0);
        if (same_method) {
            match_route(rt, segs, n, req, true);
            req->route = rt;
            req->pattern = rt->pattern;
            return DM_MATCH_OK;
        }
        if (!path_matched)
            req->pattern = rt->pattern; /* 405s are counted under the path's pattern */
        path_matched = true;
        if (allow_len > 0 && strstr(allow, rt->method) == NULL) {
            int w = snprintf(allow + used, allow_len - used, "%s%s", used > 0 ? ", " : "",
                             rt->method);
            if (w > 0 && (size_t)w < allow_len - used)
                used += (size_t)w;
        }
    }
    return path_matched ? DM_MATCH_METHOD : DM_MATCH_NOT_FOUND;
}
