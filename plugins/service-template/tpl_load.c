/*
 * tpl_load.c — reads a directory of service templates (one <slug>.json per
 * service) and validates each one completely, so that rendering can trust
 * every field: the first problem refuses the whole set with a message
 * "<file>: <field>: <reason>". Defaults are filled in here too.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tpl.h"

/* Validation context for one file. */
typedef struct vctx {
    const char *file;
    json_t     *doc;
    dm_err_t   *err;
} vctx;

static int bad(const vctx *v, const char *field, const char *fmt, ...) DM_SDK_PRINTF(3, 4);
static int bad(const vctx *v, const char *field, const char *fmt, ...)
{
    char why[DM_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return dm_err_set(v->err, DM_EINVAL, "%s: %s: %s", v->file, field, why);
}

static int oom(const vctx *v)
{
    return dm_err_set(v->err, DM_ENOMEM, "%s: out of memory", v->file);
}

/* s matches [first][rest]{0,max-1}. first/rest: "a" = a-z, "A" = a-zA-Z_,
 * "a0-" = a-z0-9-, "A0" = A-Za-z0-9_. */
static int ident_char(char c, const char *cls)
{
    int lower = c >= 'a' && c <= 'z', upper = c >= 'A' && c <= 'Z', digit = c >= '0' && c <= '9';
    if (strcmp(cls, "a") == 0)
        return lower;
    if (strcmp(cls, "a0") == 0)
        return lower || digit;
    if (strcmp(cls, "a0-") == 0)
        return lower || digit || c == '-';
    if (strcmp(cls, "A") == 0)
        return lower || upper || c == '_';
    return lower || upper || digit || c == '_'; /* "A0" */
}

static int ident_ok(const char *s, const char *first, const char *rest, size_t max)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > max || !ident_char(s[0], first))
        return 0;
    for (size_t i = 1; i < n; i++) {
        if (!ident_char(s[i], rest))
            return 0;
    }
    return 1;
}

/* Refuse keys of obj not in the NULL-ended list allowed. */
static int only_keys(const vctx *v, const char *where, const json_t *obj, const char *const *allowed)
{
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)obj, k, val) {
        size_t i = 0;
        while (allowed[i] != NULL && strcmp(allowed[i], k) != 0)
            i++;
        if (allowed[i] == NULL) {
            char f[160];
            snprintf(f, sizeof f, "%s%s%.64s", where, where[0] != '\0' ? "." : "", k);
            return bad(v, f, "unknown field");
        }
    }
    return 0;
}

/* A required non-empty string of at most max bytes. */
static int want_string(const vctx *v, const char *field, const json_t *j, size_t max, const char **out)
{
    *out = NULL; /* set on every path: the compiler cannot see that bad() is non-zero */
    const char *s = json_string_value(j);
    if (j == NULL)
        return bad(v, field, "is required");
    if (s == NULL || s[0] == '\0' || strlen(s) > max)
        return bad(v, field, "must be a non-empty string of at most %zu bytes", max);
    *out = s;
    return 0;
}

/* An integer within lo..hi; absent gives def (and is stored in obj). */
static int want_int(const vctx *v, const char *field, json_t *obj, const char *key, json_int_t lo,
                    json_int_t hi, json_int_t def, json_int_t *out)
{
    json_t *j = json_object_get(obj, key);
    if (j == NULL) {
        if (def < lo)
            return bad(v, field, "is required");
        if (json_object_set_new(obj, key, json_integer(def)) != 0)
            return oom(v);
        j = json_object_get(obj, key);
    }
    if (!json_is_integer(j) || json_integer_value(j) < lo || json_integer_value(j) > hi)
        return bad(v, field, "must be an integer from %" JSON_INTEGER_FORMAT " to %" JSON_INTEGER_FORMAT,
                   lo, hi);
    if (out != NULL)
        *out = json_integer_value(j);
    return 0;
}

/* ---- placeholders ---- */

typedef struct phcheck {
    const vctx *v;
    int         allow_endpoint;
    char        why[160];
} phcheck;

static int port_named(const json_t *doc, const char *name, size_t len)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(doc, "ports"), i, p) {
        const char *n = json_string_value(json_object_get(p, "name"));
        if (n != NULL && strlen(n) == len && memcmp(n, name, len) == 0)
            return 1;
    }
    return 0;
}

static int ph_piece(void *ud, const char *lit, size_t len, const tpl_ph *ph)
{
    phcheck *pc = ud;
    (void)lit, (void)len;
    if (ph == NULL)
        return 0;
    char name[65];
    snprintf(name, sizeof name, "%.*s", (int)ph->arg_len, ph->arg);
    if (ph->kind == TPL_PH_SECRET && json_object_get(json_object_get(pc->v->doc, "secrets"), name) == NULL)
        snprintf(pc->why, sizeof pc->why, "unknown placeholder \"${secret.%s}\" (no such secret)", name);
    else if (ph->kind == TPL_PH_PLAN && !tpl_plan_field_known(ph->arg, ph->arg_len, NULL))
        snprintf(pc->why, sizeof pc->why,
                 "unknown placeholder \"${plan.%s}\" (name, cpuMillicores, memoryMb, storageGb)", name);
    else if ((ph->kind == TPL_PH_ENDPOINT || ph->kind == TPL_PH_URL) && !pc->allow_endpoint)
        snprintf(pc->why, sizeof pc->why, "\"${%s.%s}\" is only allowed in presentation",
                 ph->kind == TPL_PH_URL ? "url" : "endpoint", name);
    else if ((ph->kind == TPL_PH_ENDPOINT || ph->kind == TPL_PH_URL) &&
             !port_named(pc->v->doc, ph->arg, ph->arg_len))
        snprintf(pc->why, sizeof pc->why, "unknown placeholder \"${%s.%s}\" (no such port)",
                 ph->kind == TPL_PH_URL ? "url" : "endpoint", name);
    else
        return 0;
    return DM_EINVAL;
}

/* A string whose placeholders must all resolve against this template. */
static int check_text(const vctx *v, const char *field, const json_t *j, int allow_endpoint)
{
    const char *s = json_string_value(j);
    if (s == NULL)
        return bad(v, field, "must be a string");
    if (strlen(s) > 4096)
        return bad(v, field, "longer than 4096 bytes");
    phcheck pc = { .v = v, .allow_endpoint = allow_endpoint };
    if (tpl_walk(s, ph_piece, &pc, pc.why, sizeof pc.why) != 0)
        return bad(v, field, "%s", pc.why);
    return 0;
}

/* ---- sections ---- */

static int check_top(const vctx *v, const char *stem)
{
    static const char *const keys[] = { "slug", "name", "category", "description", "image",
                                        "entrypoint", "command", "env", "secrets", "ports", "volumes",
                                        "health", "restart", "resources", "presentation", NULL };
    const json_t *d = v->doc;
    const char *s;
    int rc;
    if ((rc = only_keys(v, "", d, keys)) != 0)
        return rc;
    if ((rc = want_string(v, "slug", json_object_get(d, "slug"), 63, &s)) != 0)
        return rc;
    if (strcmp(s, stem) != 0)
        return bad(v, "slug", "\"%.63s\" differs from the file name (want \"%s\")", s, stem);
    if ((rc = want_string(v, "name", json_object_get(d, "name"), 200, &s)) != 0 ||
        (rc = want_string(v, "category", json_object_get(d, "category"), 63, &s)) != 0)
        return rc;
    if (!ident_ok(s, "a0", "a0-", 63))
        return bad(v, "category", "must be a slug ([a-z0-9][a-z0-9-]*)");
    if ((rc = want_string(v, "description", json_object_get(d, "description"), 1000, &s)) != 0 ||
        (rc = want_string(v, "image", json_object_get(d, "image"), 255, &s)) != 0)
        return rc;
    if (strpbrk(s, " \t\r\n$") != NULL)
        return bad(v, "image", "must be an image reference (no spaces, no placeholders)");
    const json_t *restart = json_object_get(d, "restart");
    if (restart != NULL && (!json_is_string(restart) || (strcmp(json_string_value(restart), "never") != 0 &&
                                                         strcmp(json_string_value(restart), "on-failure") != 0)))
        return bad(v, "restart", "must be \"never\" or \"on-failure\"");
    return 0;
}

/* A missing optional section becomes an empty one of the right type, so
 * the renderer never tests for absence. */
static int section(const vctx *v, const char *key, int is_array, json_t **out)
{
    json_t *j = json_object_get(v->doc, key);
    if (j == NULL) {
        j = is_array ? json_array() : json_object();
        if (j == NULL || json_object_set_new(v->doc, key, j) != 0)
            return oom(v);
    }
    if (is_array ? !json_is_array(j) : !json_is_object(j))
        return bad(v, key, "must be an %s", is_array ? "array" : "object");
    *out = j;
    return 0;
}

static int check_secrets(const vctx *v)
{
    static const char *const keys[] = { "length", "alphabet", NULL };
    json_t *secrets, *decl;
    const char *name;
    int rc;
    if ((rc = section(v, "secrets", 0, &secrets)) != 0)
        return rc;
    json_object_foreach(secrets, name, decl) {
        char f[128];
        snprintf(f, sizeof f, "secrets.%.64s", name);
        if (!ident_ok(name, "A", "A0", 64))
            return bad(v, f, "secret names are [A-Za-z_][A-Za-z0-9_]*");
        if (!json_is_object(decl))
            return bad(v, f, "must be an object {\"length\",\"alphabet\"}");
        if ((rc = only_keys(v, f, decl, keys)) != 0)
            return rc;
        char fl[160];
        snprintf(fl, sizeof fl, "%s.length", f);
        if ((rc = want_int(v, fl, decl, "length", 8, 256, 0, NULL)) != 0)
            return rc;
        if (json_object_get(decl, "alphabet") == NULL &&
            json_object_set_new(decl, "alphabet", json_string("alnum")) != 0)
            return oom(v);
        if (tpl_alphabet(json_string_value(json_object_get(decl, "alphabet"))) == NULL) {
            snprintf(fl, sizeof fl, "%s.alphabet", f);
            return bad(v, fl, "must be \"alnum\", \"lowernum\", \"hex\" or \"base64url\"");
        }
    }
    return 0;
}

static int check_port(const vctx *v, json_t *p, size_t i, const json_t *ports)
{
    static const char *const keys[] = { "name", "port", "protocol", "public", NULL };
    char f[64], ff[96];
    snprintf(f, sizeof f, "ports[%zu]", i);
    if (!json_is_object(p))
        return bad(v, f, "must be an object {\"name\",\"port\",\"protocol\",\"public\"}");
    int rc = only_keys(v, f, p, keys);
    if (rc != 0)
        return rc;
    const char *name = json_string_value(json_object_get(p, "name"));
    snprintf(ff, sizeof ff, "%s.name", f);
    if (!ident_ok(name, "a", "a0-", 15))
        return bad(v, ff, "must be [a-z][a-z0-9-]*, at most 15 bytes");
    for (size_t j = 0; j < i; j++) {
        if (strcmp(name, json_string_value(json_object_get(json_array_get(ports, j), "name"))) == 0)
            return bad(v, ff, "duplicate port name \"%s\"", name);
    }
    snprintf(ff, sizeof ff, "%s.port", f);
    if ((rc = want_int(v, ff, p, "port", 1, 65535, 0, NULL)) != 0)
        return rc;
    if (json_object_get(p, "protocol") == NULL && json_object_set_new(p, "protocol", json_string("tcp")) != 0)
        return oom(v);
    const char *proto = json_string_value(json_object_get(p, "protocol"));
    if (proto == NULL || (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0)) {
        snprintf(ff, sizeof ff, "%s.protocol", f);
        return bad(v, ff, "must be \"tcp\" or \"udp\"");
    }
    if (json_object_get(p, "public") == NULL && json_object_set_new(p, "public", json_false()) != 0)
        return oom(v);
    if (!json_is_boolean(json_object_get(p, "public"))) {
        snprintf(ff, sizeof ff, "%s.public", f);
        return bad(v, ff, "must be true or false");
    }
    return 0;
}

static int check_ports(const vctx *v)
{
    json_t *ports, *p;
    size_t i;
    int rc;
    if ((rc = section(v, "ports", 1, &ports)) != 0)
        return rc;
    json_array_foreach(ports, i, p) {
        if ((rc = check_port(v, p, i, ports)) != 0)
            return rc;
        for (size_t j = 0; j < i; j++) {
            json_t *q = json_array_get(ports, j);
            if (json_integer_value(json_object_get(q, "port")) == json_integer_value(json_object_get(p, "port")) &&
                json_equal(json_object_get(q, "protocol"), json_object_get(p, "protocol"))) {
                char f[64];
                snprintf(f, sizeof f, "ports[%zu].port", i);
                return bad(v, f, "port %" JSON_INTEGER_FORMAT " is declared twice",
                           json_integer_value(json_object_get(p, "port")));
            }
        }
    }
    return 0;
}

static int check_volume(const vctx *v, const json_t *vol, size_t i, const json_t *vols)
{
    static const char *const keys[] = { "name", "mountPath", NULL };
    char f[64], ff[96];
    snprintf(f, sizeof f, "volumes[%zu]", i);
    if (!json_is_object(vol))
        return bad(v, f, "must be an object {\"name\",\"mountPath\"}");
    int rc = only_keys(v, f, vol, keys);
    if (rc != 0)
        return rc;
    const char *name = json_string_value(json_object_get(vol, "name"));
    const char *path = json_string_value(json_object_get(vol, "mountPath"));
    snprintf(ff, sizeof ff, "%s.name", f);
    if (!ident_ok(name, "a", "a0-", 31))
        return bad(v, ff, "must be [a-z][a-z0-9-]*, at most 31 bytes");
    snprintf(ff, sizeof ff, "%s.mountPath", f);
    if (path == NULL || path[0] != '/' || strlen(path) > 255 || strstr(path, "..") != NULL ||
        strpbrk(path, "$:\t\r\n") != NULL)
        return bad(v, ff, "must be an absolute path without \"..\", \":\" or placeholders");
    for (size_t j = 0; j < i; j++) {
        const json_t *o = json_array_get(vols, j);
        if (strcmp(name, json_string_value(json_object_get(o, "name"))) == 0) {
            snprintf(ff, sizeof ff, "%s.name", f);
            return bad(v, ff, "duplicate volume name \"%s\"", name);
        }
        if (strcmp(path, json_string_value(json_object_get(o, "mountPath"))) == 0)
            return bad(v, ff, "\"%.100s\" is mounted twice", path);
    }
    return 0;
}

static int check_volumes(const vctx *v)
{
    json_t *vols, *vol;
    size_t i;
    int rc;
    if ((rc = section(v, "volumes", 1, &vols)) != 0)
        return rc;
    json_array_foreach(vols, i, vol) {
        if ((rc = check_volume(v, vol, i, vols)) != 0)
            return rc;
    }
    return 0;
}

/* A non-empty array of strings whose placeholders resolve (no endpoints). */
static int check_argv(const vctx *v, const char *field, const json_t *arr)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > 64)
        return bad(v, field, "must be an array of 1 to 64 strings");
    size_t i;
    json_t *s;
    json_array_foreach(arr, i, s) {
        char f[96];
        snprintf(f, sizeof f, "%s[%zu]", field, i);
        int rc = check_text(v, f, s, 0);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int check_command_env(const vctx *v)
{
    int rc;
    json_t *cmd = json_object_get(v->doc, "command"), *env, *val;
    json_t *entry = json_object_get(v->doc, "entrypoint");
    if (cmd != NULL && (rc = check_argv(v, "command", cmd)) != 0)
        return rc;
    if (entry != NULL && (rc = check_argv(v, "entrypoint", entry)) != 0)
        return rc;
    if ((rc = section(v, "env", 0, &env)) != 0)
        return rc;
    const char *name;
    json_object_foreach(env, name, val) {
        char f[96];
        snprintf(f, sizeof f, "env.%.64s", name);
        if (!ident_ok(name, "A", "A0", 255))
            return bad(v, f, "variable names are [A-Za-z_][A-Za-z0-9_]*");
        if ((rc = check_text(v, f, val, 0)) != 0)
            return rc;
    }
    return 0;
}

/* The probe's port must be one the workload declares. */
static int check_health_port(const vctx *v, json_t *h)
{
    json_int_t port = 0;
    int rc = want_int(v, "health.port", h, "port", 1, 65535, 0, &port);
    if (rc != 0)
        return rc;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(v->doc, "ports"), i, p) {
        if (json_integer_value(json_object_get(p, "port")) == port)
            return 0;
    }
    return bad(v, "health.port", "%" JSON_INTEGER_FORMAT " is not one of the declared ports", port);
}

static int check_health(const vctx *v)
{
    static const char *const http_keys[] = { "type", "port", "path", "initialDelayS", "periodS", NULL };
    static const char *const tcp_keys[] = { "type", "port", "initialDelayS", "periodS", NULL };
    static const char *const exec_keys[] = { "type", "command", "initialDelayS", "periodS", NULL };
    json_t *h = json_object_get(v->doc, "health");
    if (h == NULL)
        return 0;
    if (!json_is_object(h))
        return bad(v, "health", "must be an object");
    const char *type = json_string_value(json_object_get(h, "type"));
    int rc, http = type != NULL && strcmp(type, "http") == 0, tcp = type != NULL && strcmp(type, "tcp") == 0;
    if (!http && !tcp && (type == NULL || strcmp(type, "exec") != 0))
        return bad(v, "health.type", "must be \"http\", \"tcp\" or \"exec\"");
    if ((rc = only_keys(v, "health", h, http ? http_keys : tcp ? tcp_keys : exec_keys)) != 0)
        return rc;
    if ((rc = want_int(v, "health.initialDelayS", h, "initialDelayS", 0, 3600, 5, NULL)) != 0 ||
        (rc = want_int(v, "health.periodS", h, "periodS", 1, 3600, 10, NULL)) != 0)
        return rc;
    if (!http && !tcp)
        return check_argv(v, "health.command", json_object_get(h, "command"));
    if ((rc = check_health_port(v, h)) != 0 || !http)
        return rc;
    if (json_object_get(h, "path") == NULL && json_object_set_new(h, "path", json_string("/")) != 0)
        return oom(v);
    const char *path = json_string_value(json_object_get(h, "path"));
    if (path == NULL || path[0] != '/' || strlen(path) > 1024 || strpbrk(path, " \t\r\n$") != NULL)
        return bad(v, "health.path", "must be a path starting with \"/\" (no spaces or placeholders)");
    return 0;
}

/* Each limit is an integer or exactly "${plan.<integer field>}"; absent
 * means the plan's field of the same name. */
static int check_resources(const vctx *v)
{
    static const char *const keys[] = { "cpuMillicores", "memoryMb", "storageGb", NULL };
    json_t *res = NULL;
    int rc;
    if ((rc = section(v, "resources", 0, &res)) != 0 || (rc = only_keys(v, "resources", res, keys)) != 0)
        return rc;
    for (size_t i = 0; keys[i] != NULL; i++) {
        char f[64], def[64];
        snprintf(f, sizeof f, "resources.%s", keys[i]);
        snprintf(def, sizeof def, "${plan.%s}", keys[i]);
        json_t *j = json_object_get(res, keys[i]);
        if (j == NULL && json_object_set_new(res, keys[i], json_string(def)) != 0)
            return oom(v);
        j = json_object_get(res, keys[i]);
        json_int_t min = strcmp(keys[i], "storageGb") == 0 ? 0 : 1;
        if (json_is_integer(j) && json_integer_value(j) >= min && json_integer_value(j) <= 1000000)
            continue;
        const char *s = json_string_value(j);
        size_t n = s != NULL ? strlen(s) : 0;
        int is_int = 0;
        if (n > 8 && strncmp(s, "${plan.", 7) == 0 && s[n - 1] == '}' &&
            tpl_plan_field_known(s + 7, n - 8, &is_int) && is_int)
            continue;
        return bad(v, f, "must be an integer >= %d or \"${plan.cpuMillicores|memoryMb|storageGb}\"",
                   (int)min);
    }
    return 0;
}

static int check_presentation(const vctx *v)
{
    static const char *const keys[] = { "urls", "credentials", NULL };
    static const char *const groups[] = { "urls", "credentials" };
    json_t *pres = NULL;
    int rc;
    if ((rc = section(v, "presentation", 0, &pres)) != 0 || (rc = only_keys(v, "presentation", pres, keys)) != 0)
        return rc;
    for (size_t g = 0; g < 2; g++) {
        json_t *grp = json_object_get(pres, groups[g]), *val;
        char f[128];
        snprintf(f, sizeof f, "presentation.%s", groups[g]);
        if (grp == NULL) {
            if (json_object_set_new(pres, groups[g], json_object()) != 0)
                return oom(v);
            continue;
        }
        if (!json_is_object(grp))
            return bad(v, f, "must be an object of strings");
        const char *k;
        json_object_foreach(grp, k, val) {
            snprintf(f, sizeof f, "presentation.%s.%.64s", groups[g], k);
            if ((rc = check_text(v, f, val, 1)) != 0)
                return rc;
        }
    }
    return 0;
}

/* ---- files ---- */

/* Load and validate dir/name into t (t->doc new, also on failure: the
 * caller frees it with the set). */
static int load_file(const char *dir, const char *name, tpl *t, dm_err_t *err)
{
    char path[4096];
    size_t n = strlen(name);
    snprintf(t->file, sizeof t->file, "%s", name);
    snprintf(t->slug, sizeof t->slug, "%.*s", (int)(n - 5), name);
    if (n - 5 >= sizeof t->slug || !ident_ok(t->slug, "a0", "a0-", 63))
        return dm_err_set(err, DM_EINVAL, "%.100s: file name must be <slug>.json with slug [a-z0-9][a-z0-9-]*",
                          name);
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return dm_err_set(err, DM_EINVAL, "%s: path too long", name);
    json_error_t je;
    t->doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (t->doc == NULL)
        return dm_err_set(err, DM_EINVAL, "%s: invalid JSON at line %d column %d: %s", name, je.line,
                          je.column, je.text);
    vctx v = { .file = name, .doc = t->doc, .err = err };
    int rc;
    if (!json_is_object(t->doc))
        rc = bad(&v, "(top)", "must be a JSON object");
    else if ((rc = check_top(&v, t->slug)) == 0 && (rc = check_secrets(&v)) == 0 &&
             (rc = check_ports(&v)) == 0 && (rc = check_volumes(&v)) == 0 &&
             (rc = check_command_env(&v)) == 0 && (rc = check_health(&v)) == 0 &&
             (rc = check_resources(&v)) == 0)
        rc = check_presentation(&v);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.json names in dir, sorted; *names new (free each and the array). */
static int list_dir(const char *dir, char ***names, size_t *n, dm_err_t *err)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return dm_err_set(err, DM_EIO, "config: dir \"%.200s\" cannot be read", dir);
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len <= 5 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        if (cnt == cap) {
            cap = cap != 0 ? cap * 2 : 16;
            char **nv = realloc(v, cap * sizeof *nv);
            if (nv == NULL) {
                rc = DM_ENOMEM;
                break;
            }
            v = nv;
        }
        if ((v[cnt] = strdup(e->d_name)) == NULL)
            rc = DM_ENOMEM;
        else
            cnt++;
    }
    closedir(d);
    if (rc == 0 && cnt > 0)
        qsort(v, cnt, sizeof *v, by_name);
    *names = v;
    *n = cnt;
    return rc != 0 ? dm_err_set(err, rc, "out of memory") : 0;
}

static tpl *find_slug(tpl_set *set, const char *slug)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->items[i].slug, slug) == 0)
            return &set->items[i];
    return NULL;
}

static int by_slug(const void *a, const void *b)
{
    return strcmp(((const tpl *)a)->slug, ((const tpl *)b)->slug);
}

/* Add t (stolen) to set, replacing a template of the same slug. */
static int add(tpl_set *set, size_t *cap, tpl *t, tpl_note_fn note, void *ud)
{
    tpl *old = find_slug(set, t->slug);
    if (old != NULL) {
        char line[1024];
        snprintf(line, sizeof line, "template %s: %.300s/%s overrides %.300s/%s", t->slug, t->dir, t->file,
                 old->dir, old->file);
        note(ud, DM_HOST_LOG_INFO, line);
        json_decref(old->doc);
        *old = *t;
        return 0;
    }
    if (set->n == *cap) {
        size_t nc = *cap != 0 ? *cap * 2 : 16;
        tpl *grown = realloc(set->items, nc * sizeof *grown);
        if (grown == NULL)
            return DM_ENOMEM;
        set->items = grown;
        *cap = nc;
    }
    set->items[set->n++] = *t;
    return 0;
}

/* Every template of one directory into set; a bad file is noted and
 * skipped. */
static int load_one_dir(tpl_set *set, size_t *cap, const char *dir, tpl_note_fn note, void *ud, dm_err_t *err)
{
    char **names = NULL;
    size_t n = 0;
    int rc = list_dir(dir, &names, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        tpl t;
        memset(&t, 0, sizeof t);
        t.dir = dir;
        dm_err_t why = { 0, "" };
        if (load_file(dir, names[i], &t, &why) != 0) {
            json_decref(t.doc);
            char line[1024];
            snprintf(line, sizeof line, "template refused: %.300s/%s", dir, why.msg);
            note(ud, DM_HOST_LOG_WARN, line);
            continue;
        }
        if ((rc = add(set, cap, &t, note, ud)) != 0) {
            json_decref(t.doc);
            dm_err_set(err, rc, "out of memory");
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* Load every template of dirs; see tpl.h. */
int tpl_set_load_dirs(tpl_set *set, const char *const *dirs, size_t n, tpl_note_fn note, void *ud,
                      dm_err_t *err)
{
    size_t cap = 0;
    int rc = n == 0 ? dm_err_set(err, DM_EINVAL, "config: no templates directory") : 0;
    for (size_t k = 0; rc == 0 && k < n; k++)
        rc = load_one_dir(set, &cap, dirs[k], note, ud, err);
    if (rc == 0 && set->n == 0)
        rc = dm_err_set(err, DM_EINVAL, "config: %s\"%.200s\"%s no *.json templates that are valid",
                        n > 1 ? "dirs " : "dir ", dirs[0], n > 1 ? " and the others have" : " has");
    if (rc != 0)
        tpl_set_free(set);
    else
        qsort(set->items, set->n, sizeof *set->items, by_slug);
    return rc;
}

/* Free the set; see tpl.h. */
void tpl_set_free(tpl_set *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->n; i++)
        json_decref(set->items[i].doc);
    free(set->items);
    set->items = NULL;
    set->n = 0;
}

/* The template for slug; see tpl.h. Names are sorted, but the sets are a
 * handful of entries, so a scan is clearer than a bsearch. */
const tpl *tpl_set_find(const tpl_set *set, const char *slug)
{
    for (size_t i = 0; slug != NULL && i < set->n; i++) {
        if (strcmp(set->items[i].slug, slug) == 0)
            return &set->items[i];
    }
    return NULL;
}
