/*
 * fuzz_router.c — the router, percent-decoding and query lookup fed with a
 * method, a request-target and query names taken from the input.
 * Input: "METHOD SP TARGET" on the first line, then one query parameter name
 * per line. A fixed route table is built once.
 */
#include <string.h>

#include "fuzz_support.h"
#include "http/request.h"
#include "http/router.h"
#include "http/urldecode.h"

#define FUZZ_MAX_INPUT (64u * 1024u)
#define MAX_QUERY_NAMES 8

static void handler(dm_request *req)
{
    (void)req;
}

static dm_router router;

/* Patterns chosen to reach every branch of the matcher: literals, params,
 * a trailing "*", the root, one method per path and several, and a route
 * with more params than DM_MAX_PARAMS (which must never match). */
static const struct {
    const char *method, *pattern;
} routes[] = {
    { "GET", "/" },
    { "GET", "/healthz" },
    { "GET", "/v1/services" },
    { "POST", "/v1/services" },
    { "GET", "/v1/services/:id" },
    { "PUT", "/v1/services/:id" },
    { "DELETE", "/v1/services/:id" },
    { "GET", "/v1/services/:id/plans/:plan" },
    { "POST", "/v1/orders/:id/actions/:action" },
    { "GET", "/files/*" },
    { "GET", "/v1/:a/x/*" },
    { "OPTIONS", "/v1/services" },
    { "GET", "/p/:a/:b/:c/:d/:e/:f/:g/:h/:i" },
    { "GET", "/p/:a/:b/:c/:d/:e/:f/:g/:h" },
};

static void setup(void)
{
    dm__router_init(&router);
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = dm__router_add(&router, routes[i].method, routes[i].pattern, handler, 0);
        FUZZ_CHECK(rc == 0, "cannot add route %s %s: %d", routes[i].method, routes[i].pattern, rc);
    }
    /* Bad patterns are refused, never half-added. */
    size_t n = router.n_routes;
    FUZZ_CHECK(dm__router_add(&router, "GET", "no-slash", handler, 0) != 0, "pattern without /");
    FUZZ_CHECK(dm__router_add(&router, "GET", "/a//b", handler, 0) != 0, "empty segment");
    FUZZ_CHECK(router.n_routes == n, "a refused route was added");
}

static void teardown(void)
{
    dm__router_free(&router);
}

/* What a DM_MATCH_OK must look like. */
static void check_match(const dm_request *req)
{
    FUZZ_CHECK(req->route != NULL, "match without a route");
    FUZZ_CHECK(req->pattern == req->route->pattern, "pattern not the route's");
    FUZZ_CHECK(req->n_params >= 0 && req->n_params <= DM_MAX_PARAMS, "n_params %d", req->n_params);
    bool same = strcmp(req->route->method, req->method) == 0
                || (strcmp(req->method, "HEAD") == 0 && strcmp(req->route->method, "GET") == 0);
    FUZZ_CHECK(same, "route method %s for request method %s", req->route->method, req->method);
    for (int i = 0; i < req->n_params; i++) {
        const char *v = req->params[i].value;
        FUZZ_CHECK(v != NULL && v[0] != '\0', "param %d empty", i);
        FUZZ_CHECK(strchr(v, '/') == NULL, "param %d holds a '/': %s", i, v);
        FUZZ_CHECK(dm__req_param(req, req->params[i].name) != NULL, "param %s not found by name",
                   req->params[i].name);
    }
}

/* Decoding never grows the text and never yields an embedded NUL. */
static void check_decode(dm_arena *a, const char *s, size_t len)
{
    for (int plus = 0; plus < 2; plus++) {
        const char *out = dm__url_decode(a, s, len, plus != 0);
        if (out == NULL)
            continue;
        FUZZ_CHECK(strlen(out) <= len, "decoded %zu bytes from %zu", strlen(out), len);
        if (memchr(s, '%', len) == NULL && memchr(s, '\0', len) == NULL)
            FUZZ_CHECK(strlen(out) == len, "plain text changed length");
    }
}

/* A 405's Allow list never names the method that was refused (nor GET for
 * HEAD, which GET routes answer). */
static void check_allow(const char *allow, const char *method)
{
    const char *p = allow;
    while (*p != '\0') {
        const char *end = strstr(p, ", ");
        size_t l = end != NULL ? (size_t)(end - p) : strlen(p);
        bool refused = strlen(method) == l && memcmp(p, method, l) == 0;
        bool head_get = strcmp(method, "HEAD") == 0 && l == 3 && memcmp(p, "GET", 3) == 0;
        FUZZ_CHECK(!refused && !head_get, "405 but Allow \"%s\" names %s", allow, method);
        p += l;
        if (end != NULL)
            p += 2;
    }
}

static void run_queries(dm_request *req, const char *names, size_t len)
{
    int n = 0;
    while (len > 0 && n < MAX_QUERY_NAMES) {
        const char *nl = memchr(names, '\n', len);
        size_t l = nl != NULL ? (size_t)(nl - names) : len;
        const char *name = dm__arena_strndup(&req->arena, names, l);
        FUZZ_CHECK(name != NULL, "out of memory");
        const char *v = dm__req_query(req, name);
        if (v != NULL)
            FUZZ_CHECK(strlen(v) <= strlen(req->query), "query value longer than the query");
        n++;
        names += l;
        len -= l;
        if (nl != NULL) {
            names++;
            len--;
        }
    }
    /* Names that always appear in our seeds, so the common path runs too. */
    (void)dm__req_query(req, "page");
    (void)dm__req_query(req, "");
}

/* Fill req (its arena new, freed by the caller) from "METHOD SP TARGET"
 * as conn.c would, and check decoding on the raw target bytes. */
static void build_request(dm_request *req, const char *line, size_t line_len)
{
    const char *sp = memchr(line, ' ', line_len);
    memset(req, 0, sizeof *req);
    dm__arena_init(&req->arena);
    req->method = sp != NULL ? dm__arena_strndup(&req->arena, line, (size_t)(sp - line)) : "GET";
    const char *tstart = sp != NULL ? sp + 1 : line;
    size_t tlen = line_len - (size_t)(tstart - line);
    req->target = dm__arena_strndup(&req->arena, tstart, tlen);
    FUZZ_CHECK(req->method != NULL && req->target != NULL, "out of memory");
    const char *q = strchr(req->target, '?');
    req->path = q != NULL ? dm__arena_strndup(&req->arena, req->target, (size_t)(q - req->target))
                          : req->target;
    req->query = q != NULL ? q + 1 : "";
    req->pattern = "unmatched";
    /* On the input itself, not a copy: ASan sees a read past its end. */
    check_decode(&req->arena, tstart, tlen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready = false;
    if (!ready) {
        setup();
        atexit(teardown);
        ready = true;
    }
    if (size > FUZZ_MAX_INPUT)
        return 0;
    const char *in = (const char *)data;
    const char *nl = memchr(in, '\n', size);
    size_t line_len = nl != NULL ? (size_t)(nl - in) : size;
    dm_request req;
    build_request(&req, in, line_len);

    char allow[128];
    memset(allow, 'x', sizeof allow);
    dm_match_t m = dm__router_match(&router, &req, allow, sizeof allow);
    FUZZ_CHECK(memchr(allow, '\0', sizeof allow) != NULL, "allow not NUL-terminated");
    switch (m) {
    case DM_MATCH_OK:
        check_match(&req);
        break;
    case DM_MATCH_METHOD:
        FUZZ_CHECK(allow[0] != '\0', "405 with an empty Allow");
        check_allow(allow, req.method);
        break;
    case DM_MATCH_NOT_FOUND:
        FUZZ_CHECK(allow[0] == '\0', "404 with an Allow list");
        break;
    }
    /* A tiny allow buffer must still be terminated and never overflowed. */
    char small[4];
    dm_request again = req;
    (void)dm__router_match(&router, &again, small, sizeof small);
    FUZZ_CHECK(memchr(small, '\0', sizeof small) != NULL, "small allow not NUL-terminated");
    req.arena = again.arena; /* chunks are prepended: again's list holds req's too */

    if (nl != NULL)
        run_queries(&req, nl + 1, size - line_len - 1);
    dm__arena_free(&req.arena);
    return 0;
}
