/*
 * tpl_render.c — the placeholder language (${secret.X}, ${plan.X},
 * ${instance.id}, ${subscription.id}, ${endpoint.X}) and what a loaded
 * template renders into: the workload spec of dermaga/service.h, with
 * secrets generated once and then reused from the request's "stored", and
 * the URLs and credentials shown to the user.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tpl.h"

/* ---- the placeholder walker ---- */

static int arg_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static const struct {
    const char *ns;
    tpl_ph_kind kind;
} namespaces[] = {
    { "secret", TPL_PH_SECRET },       { "plan", TPL_PH_PLAN },
    { "instance", TPL_PH_INSTANCE },   { "subscription", TPL_PH_SUBSCRIPTION },
    { "endpoint", TPL_PH_ENDPOINT },   { "url", TPL_PH_URL },
};

/* Classify the text between "${" and "}" (len bytes at name). */
static int parse_ph(const char *name, size_t len, tpl_ph *ph, char *why, size_t why_len)
{
    const char *dot = memchr(name, '.', len);
    size_t ns_len = dot != NULL ? (size_t)(dot - name) : len;
    for (size_t i = 0; dot != NULL && i < sizeof namespaces / sizeof namespaces[0]; i++) {
        if (strlen(namespaces[i].ns) != ns_len || memcmp(namespaces[i].ns, name, ns_len) != 0)
            continue;
        ph->kind = namespaces[i].kind;
        ph->arg = dot + 1;
        ph->arg_len = len - ns_len - 1;
        int ok = ph->arg_len > 0 && ph->arg_len <= 64;
        for (size_t j = 0; ok && j < ph->arg_len; j++)
            ok = arg_char_ok(ph->arg[j]);
        if (ok && (ph->kind == TPL_PH_INSTANCE || ph->kind == TPL_PH_SUBSCRIPTION))
            ok = ph->arg_len == 2 && memcmp(ph->arg, "id", 2) == 0;
        if (ok)
            return 0;
        break;
    }
    snprintf(why, why_len, "unknown placeholder \"${%.*s}\"", (int)(len > 48 ? 48 : len), name);
    return DM_EINVAL;
}

/* Splits s into literal runs and placeholders; see tpl.h. */
int tpl_walk(const char *s, tpl_piece_fn fn, void *ud, char *why, size_t why_len)
{
    const char *lit = s, *p = s;
    int rc;
    while (*p != '\0') {
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
            /* The escape: keep everything up to the first '$', drop it. */
            if (p > lit && (rc = fn(ud, lit, (size_t)(p - lit), NULL)) != 0)
                return rc;
            lit = p + 1;
            p += 3;
            continue;
        }
        if (p[0] != '$' || p[1] != '{') {
            p++;
            continue;
        }
        const char *close = strchr(p + 2, '}');
        if (close == NULL) {
            snprintf(why, why_len, "unclosed \"${\" in \"%.48s\"", s);
            return DM_EINVAL;
        }
        tpl_ph ph;
        if ((rc = parse_ph(p + 2, (size_t)(close - p - 2), &ph, why, why_len)) != 0)
            return rc;
        if (p > lit && (rc = fn(ud, lit, (size_t)(p - lit), NULL)) != 0)
            return rc;
        if ((rc = fn(ud, NULL, 0, &ph)) != 0)
            return rc;
        lit = p = close + 1;
    }
    if (p > lit)
        return fn(ud, lit, (size_t)(p - lit), NULL);
    return 0;
}

static const struct {
    const char *name;
    int         is_int;
} plan_fields[] = {
    { "name", 0 }, { "cpuMillicores", 1 }, { "memoryMb", 1 }, { "storageGb", 1 },
};

/* 1 when ${plan.<name>} is allowed (*is_int says whether it is an integer
 * field), else 0. */
int tpl_plan_field_known(const char *name, size_t len, int *is_int)
{
    for (size_t i = 0; i < sizeof plan_fields / sizeof plan_fields[0]; i++) {
        if (strlen(plan_fields[i].name) == len && memcmp(plan_fields[i].name, name, len) == 0) {
            if (is_int != NULL)
                *is_int = plan_fields[i].is_int;
            return 1;
        }
    }
    return 0;
}

/* Secret alphabets by name; see tpl.h. */
const char *tpl_alphabet(const char *name)
{
    static const struct {
        const char *name, *chars;
    } alphabets[] = {
        { "alnum", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" },
        { "lowernum", "abcdefghijklmnopqrstuvwxyz0123456789" },
        { "hex", "0123456789abcdef" },
        { "base64url", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" },
    };
    for (size_t i = 0; name != NULL && i < sizeof alphabets / sizeof alphabets[0]; i++) {
        if (strcmp(alphabets[i].name, name) == 0)
            return alphabets[i].chars;
    }
    return NULL;
}

/* ---- rendering one string ---- */

#define MISSING 1 /* a secret or endpoint not known yet (presentation only) */

typedef struct rctx {
    const dm_service_request_t *req;
    const json_t               *secrets;   /* name → string; may be NULL */
    const json_t               *endpoints; /* name → {host, port}; may be NULL */
    char                       *buf;
    size_t                      len, cap;
    dm_err_t                   *err;
    int                         err_set; /* a piece already filled err */
} rctx;

static int fail(rctx *c, int code, const char *what, const char *arg)
{
    c->err_set = 1;
    return dm_err_set(c->err, code, "%s%s%s", what, arg != NULL ? arg : "", arg != NULL ? "\"" : "");
}

static int put(rctx *c, const char *s, size_t n)
{
    if (c->len + n + 1 > c->cap) {
        size_t cap = c->cap != 0 ? c->cap : 64;
        while (c->len + n + 1 > cap)
            cap *= 2;
        char *b = realloc(c->buf, cap);
        if (b == NULL)
            return fail(c, DM_ENOMEM, "out of memory", NULL);
        c->buf = b;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, s, n);
    c->len += n;
    c->buf[c->len] = '\0';
    return 0;
}

static int put_str(rctx *c, const char *s)
{
    return put(c, s, strlen(s));
}

static int put_plan(rctx *c, const tpl_ph *ph)
{
    char key[65];
    snprintf(key, sizeof key, "%.*s", (int)ph->arg_len, ph->arg);
    const json_t *v = json_object_get(c->req->plan, key);
    if (json_is_integer(v)) {
        char num[32];
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return put_str(c, num);
    }
    if (json_is_string(v))
        return put_str(c, json_string_value(v));
    return fail(c, DM_EINVAL, "the plan has no \"", key);
}

/* ${endpoint.PORT}: "host:port" from stored.endpoints.<port>, else (port
 * "http" only) the public host name, else MISSING.
 * ${url.PORT}: "<scheme>://host[:port]" from the same endpoint, its
 * "scheme" (ABI 1.5; "http" when absent) and the port left out when it is
 * the scheme's own (80 for http, 443 for https), else "http://<public
 * host>" for port "http", else MISSING. */
static int put_endpoint(rctx *c, const tpl_ph *ph)
{
    bool as_url = ph->kind == TPL_PH_URL;
    char key[65], out[400];
    snprintf(key, sizeof key, "%.*s", (int)ph->arg_len, ph->arg);
    const json_t *e = json_object_get(c->endpoints, key);
    const char *host = json_string_value(json_object_get(e, "host"));
    const json_t *port = json_object_get(e, "port");
    const char *scheme = json_string_value(json_object_get(e, "scheme"));
    if (scheme == NULL)
        scheme = "http";
    if (host != NULL && json_is_integer(port)) {
        json_int_t p = json_integer_value(port);
        bool own = (strcmp(scheme, "http") == 0 && p == 80) || (strcmp(scheme, "https") == 0 && p == 443);
        if (!as_url)
            snprintf(out, sizeof out, "%s:%" JSON_INTEGER_FORMAT, host, p);
        else if (own)
            snprintf(out, sizeof out, "%s://%s", scheme, host);
        else
            snprintf(out, sizeof out, "%s://%s:%" JSON_INTEGER_FORMAT, scheme, host, p);
        return put_str(c, out);
    }
    /* The host's reverse proxy serves the web port under the instance's
     * host name; any other port is reached only through an endpoint. */
    if (strcmp(key, "http") == 0 && c->req->public_host != NULL && c->req->public_host[0] != '\0') {
        snprintf(out, sizeof out, "%s%s", as_url ? "http://" : "", c->req->public_host);
        return put_str(c, out);
    }
    return MISSING;
}

static int piece(void *ud, const char *lit, size_t len, const tpl_ph *ph)
{
    rctx *c = ud;
    if (ph == NULL)
        return put(c, lit, len);
    char key[65];
    switch (ph->kind) {
    case TPL_PH_SECRET: {
        snprintf(key, sizeof key, "%.*s", (int)ph->arg_len, ph->arg);
        const char *v = json_string_value(json_object_get(c->secrets, key));
        return v != NULL ? put_str(c, v) : MISSING;
    }
    case TPL_PH_PLAN:
        return put_plan(c, ph);
    case TPL_PH_INSTANCE:
        if (c->req->instance_id == NULL)
            return fail(c, DM_EINVAL, "the request has no instance id", NULL);
        return put_str(c, c->req->instance_id);
    case TPL_PH_SUBSCRIPTION:
        if (c->req->subscription_id == NULL)
            return fail(c, DM_EINVAL, "the request has no subscription id", NULL);
        return put_str(c, c->req->subscription_id);
    case TPL_PH_ENDPOINT:
    case TPL_PH_URL:
        return put_endpoint(c, ph);
    }
    return fail(c, DM_EINVAL, "bad placeholder", NULL);
}

/* Render s into *out (new json string). 0, MISSING, or a negative code. */
static int render(rctx *c, const char *s, json_t **out)
{
    c->len = 0;
    if (put(c, "", 0) != 0)
        return DM_ENOMEM;
    char why[128];
    int rc = tpl_walk(s, piece, c, why, sizeof why);
    if (rc < 0 && !c->err_set)
        dm_err_set(c->err, rc, "%s", why);
    if (rc != 0)
        return rc;
    *out = json_string(c->buf);
    return *out != NULL ? 0 : dm_err_set(c->err, DM_ENOMEM, "out of memory");
}

/* ---- secrets ---- */

/* length characters of alphabet, uniformly: bytes at or above the largest
 * multiple of the alphabet's size are dropped, so no character is likelier
 * than another. */
static int gen_secret(const dm_host_t *host, const char *alphabet, size_t length, char *out)
{
    size_t n = strlen(alphabet), got = 0;
    unsigned limit = 256u - (256u % (unsigned)n);
    unsigned char rnd[64];
    while (got < length) {
        if (host->random_bytes(rnd, sizeof rnd) != 0)
            return DM_EIO;
        for (size_t i = 0; i < sizeof rnd && got < length; i++) {
            if (rnd[i] < limit)
                out[got++] = alphabet[rnd[i] % n];
        }
    }
    out[got] = '\0';
    return 0;
}

/* Every declared secret: reused from req->stored.secrets when there, else
 * generated. *out is new. */
static int resolve_secrets(const tpl *t, const dm_host_t *host, const dm_service_request_t *req,
                           json_t **out, dm_err_t *err)
{
    json_t *old = json_object_get(req->stored, "secrets");
    json_t *res = json_object();
    if (res == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    const char *name;
    json_t *decl;
    json_object_foreach(json_object_get(t->doc, "secrets"), name, decl) {
        const char *prev = json_string_value(json_object_get(old, name));
        char fresh[257];
        if (prev == NULL || prev[0] == '\0') {
            size_t length = (size_t)json_integer_value(json_object_get(decl, "length"));
            const char *alpha = tpl_alphabet(json_string_value(json_object_get(decl, "alphabet")));
            if (gen_secret(host, alpha, length, fresh) != 0) {
                json_decref(res);
                return dm_err_set(err, DM_EIO, "no randomness for secret \"%s\"", name);
            }
            prev = fresh;
        }
        int rc = json_object_set_new(res, name, json_string(prev));
        explicit_bzero(fresh, sizeof fresh); /* no copy of a secret left on the stack */
        if (rc != 0) {
            json_decref(res);
            return dm_err_set(err, DM_ENOMEM, "out of memory");
        }
    }
    *out = res;
    return 0;
}

/* ---- the workload spec ---- */

/* One resource: an integer in the template, or "${plan.X}". */
static int resource(const tpl *t, const dm_service_request_t *req, const char *key, json_int_t min,
                    json_int_t *out, dm_err_t *err)
{
    const json_t *v = json_object_get(json_object_get(t->doc, "resources"), key);
    if (json_is_string(v)) {
        const char *s = json_string_value(v); /* "${plan.X}", checked at load */
        char field[65];
        snprintf(field, sizeof field, "%.*s", (int)(strlen(s) - 8), s + 7);
        v = json_object_get(req->plan, field);
        if (!json_is_integer(v) || json_integer_value(v) < min)
            return dm_err_set(err, DM_EINVAL, "%s: the plan's \"%s\" must be an integer >= %d", key,
                              field, (int)min);
    }
    *out = json_integer_value(v);
    return 0;
}

/* Strings of an array or object rendered through c; *out is new. */
static int render_all(rctx *c, const json_t *in, json_t **out)
{
    json_t *res = json_is_array(in) ? json_array() : json_object();
    if (res == NULL)
        return dm_err_set(c->err, DM_ENOMEM, "out of memory");
    size_t i;
    const char *k;
    json_t *v, *s = NULL;
    int rc = 0;
    if (json_is_array(in)) {
        json_array_foreach(in, i, v) {
            if ((rc = render(c, json_string_value(v), &s)) != 0)
                break;
            if (json_array_append_new(res, s) != 0) {
                rc = dm_err_set(c->err, DM_ENOMEM, "out of memory");
                break;
            }
        }
    } else {
        json_object_foreach((json_t *)in, k, v) {
            if ((rc = render(c, json_string_value(v), &s)) != 0)
                break;
            if (json_object_set_new(res, k, s) != 0) {
                rc = dm_err_set(c->err, DM_ENOMEM, "out of memory");
                break;
            }
        }
    }
    if (rc > 0) /* a workload string never lacks a secret (all resolved first) */
        rc = dm_err_set(c->err, DM_EINVAL, "unresolved placeholder");
    if (rc != 0) {
        json_decref(res);
        return rc;
    }
    *out = res;
    return 0;
}

static int add_volumes(json_t *spec, const json_t *vols, json_int_t storage_gb)
{
    json_t *arr = json_array();
    size_t i;
    json_t *v;
    if (arr == NULL || json_object_set_new(spec, "volumes", arr) != 0)
        return DM_ENOMEM;
    json_array_foreach(vols, i, v) {
        json_t *c = json_deep_copy(v);
        if (c == NULL || json_object_set_new(c, "sizeGb", json_integer(storage_gb)) != 0 ||
            json_array_append_new(arr, c) != 0)
            return DM_ENOMEM;
    }
    return 0;
}

/* "stored": the request's stored object (kept as the host gave it, so
 * whatever else the host keeps there survives) with "secrets" set to the
 * resolved ones (borrowed). New, or NULL when out of memory. */
static json_t *make_stored(const dm_service_request_t *req, json_t *secrets)
{
    json_t *st = json_is_object(req->stored) ? json_deep_copy(req->stored) : json_object();
    if (st == NULL || json_object_set(st, "secrets", secrets) != 0) {
        json_decref(st);
        return NULL;
    }
    return st;
}

/* The probe as declared, with an exec probe's command rendered. */
static int add_health(rctx *c, const json_t *health, json_t *spec)
{
    if (health == NULL)
        return 0;
    json_t *h = json_deep_copy(health), *cmd = NULL;
    if (h == NULL || json_object_set_new(spec, "health", h) != 0)
        return dm_err_set(c->err, DM_ENOMEM, "out of memory");
    if (json_object_get(health, "command") == NULL)
        return 0;
    int rc = render_all(c, json_object_get(health, "command"), &cmd);
    if (rc == 0 && json_object_set_new(h, "command", cmd) != 0)
        rc = dm_err_set(c->err, DM_ENOMEM, "out of memory");
    return rc;
}

static int build_spec(const tpl *t, rctx *c, const json_t *image_map, json_int_t res[3], json_t *spec)
{
    const json_t *doc = t->doc;
    const char *image = json_string_value(json_object_get(doc, "image"));
    const char *mapped = json_string_value(json_object_get(image_map, image));
    json_t *cmd = NULL, *env = NULL;
    int rc;
    if (json_object_set_new(spec, "image", json_string(mapped != NULL ? mapped : image)) != 0)
        return dm_err_set(c->err, DM_ENOMEM, "out of memory");
    static const char *const argvs[] = { "entrypoint", "command" };
    for (size_t i = 0; i < sizeof argvs / sizeof argvs[0]; i++) {
        if (json_object_get(doc, argvs[i]) == NULL)
            continue;
        if ((rc = render_all(c, json_object_get(doc, argvs[i]), &cmd)) != 0)
            return rc;
        json_object_set_new(spec, argvs[i], cmd);
    }
    if ((rc = render_all(c, json_object_get(doc, "env"), &env)) != 0)
        return rc;
    if (json_object_set_new(spec, "env", env) != 0 ||
        json_object_set_new(spec, "ports", json_deep_copy(json_object_get(doc, "ports"))) != 0 ||
        add_volumes(spec, json_object_get(doc, "volumes"), res[2]) != 0 ||
        json_object_set_new(spec, "resources",
                            json_pack("{s:I,s:I,s:I}", "cpuMillicores", res[0], "memoryMb", res[1],
                                      "storageGb", res[2])) != 0)
        return dm_err_set(c->err, DM_ENOMEM, "out of memory");
    const json_t *restart = json_object_get(doc, "restart");
    if (json_object_set_new(spec, "restart", json_string(restart != NULL ? json_string_value(restart) : "never")) != 0)
        return dm_err_set(c->err, DM_ENOMEM, "out of memory");
    return add_health(c, json_object_get(doc, "health"), spec);
}

/* The workload spec for req; see tpl.h. */
int tpl_render_workload(const tpl *t, const dm_host_t *host, const json_t *image_map,
                        const dm_service_request_t *req, json_t **out, dm_err_t *err)
{
    json_int_t res[3];
    int rc;
    if ((rc = resource(t, req, "cpuMillicores", 1, &res[0], err)) != 0 ||
        (rc = resource(t, req, "memoryMb", 1, &res[1], err)) != 0 ||
        (rc = resource(t, req, "storageGb", 0, &res[2], err)) != 0)
        return rc;
    json_t *secrets = NULL;
    if ((rc = resolve_secrets(t, host, req, &secrets, err)) != 0)
        return rc;
    rctx c = { .req = req, .secrets = secrets, .err = err };
    json_t *spec = json_object();
    if (spec == NULL)
        rc = dm_err_set(err, DM_ENOMEM, "out of memory");
    else
        rc = build_spec(t, &c, image_map, res, spec);
    free(c.buf);
    json_t *stored = rc == 0 ? make_stored(req, secrets) : NULL;
    json_decref(secrets);
    if (rc == 0 && (stored == NULL || json_object_set_new(spec, "stored", stored) != 0))
        rc = dm_err_set(err, DM_ENOMEM, "out of memory");
    if (rc != 0) {
        json_decref(spec);
        return rc;
    }
    *out = spec;
    return 0;
}

/* ---- what the user sees ---- */

/* One group ("urls" or "credentials"): each entry rendered, the ones
 * waiting for a secret or an endpoint left out. *out is new. */
static int render_group(rctx *c, const json_t *in, json_t **out)
{
    json_t *res = json_object();
    if (res == NULL)
        return dm_err_set(c->err, DM_ENOMEM, "out of memory");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)in, k, v) {
        json_t *s = NULL;
        int rc = render(c, json_string_value(v), &s);
        if (rc == MISSING)
            continue;
        if (rc == 0 && json_object_set_new(res, k, s) != 0)
            rc = dm_err_set(c->err, DM_ENOMEM, "out of memory");
        if (rc != 0) {
            json_decref(res);
            return rc;
        }
    }
    *out = res;
    return 0;
}

/* {"urls","credentials"} for req; see tpl.h. */
int tpl_render_presentation(const tpl *t, const dm_service_request_t *req, json_t **out,
                            dm_err_t *err)
{
    const json_t *pres = json_object_get(t->doc, "presentation");
    rctx c = { .req = req,
               .secrets = json_object_get(req->stored, "secrets"),
               .endpoints = json_object_get(req->stored, "endpoints"),
               .err = err };
    json_t *urls = NULL, *creds = NULL;
    int rc = render_group(&c, json_object_get(pres, "urls"), &urls);
    if (rc == 0)
        rc = render_group(&c, json_object_get(pres, "credentials"), &creds);
    free(c.buf);
    json_t *res = rc == 0 ? json_object() : NULL;
    if (rc == 0 && (res == NULL || json_object_set(res, "urls", urls) != 0 ||
                    json_object_set(res, "credentials", creds) != 0))
        rc = dm_err_set(err, DM_ENOMEM, "out of memory");
    json_decref(urls);
    json_decref(creds);
    if (rc != 0) {
        json_decref(res);
        return rc;
    }
    *out = res;
    return 0;
}
