/*
 * config_value.c — turning one value (a JSON node from the file, or the text
 * of an environment variable) into a dm_config field, per the key's table
 * entry: type and range checks, secrets read from files, the plugin list.
 * Every refusal names the key; a secret's value is never put in a message.
 */
#include "app/config_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GOT_MAX 60                 /* characters of a bad value shown back */
#define SECRET_FILE_MAX (64 * 1024) /* a secret is small; refuse anything else */

/* ---- strings ---- */

/* Frees s; a secret is overwritten first so it does not linger in the heap. */
void dm__config_free_str(char *s, bool wipe)
{
    if (s != NULL && wipe) {
        explicit_bzero(s, strlen(s));
    }
    free(s);
}

/* Replaces *slot with a copy of s (NULL stores NULL). Returns 0 or DM_ENOMEM;
 * on failure *slot is unchanged. */
int dm__config_set_str(char **slot, const char *s, bool wipe)
{
    char *copy = NULL;
    if (s != NULL && (copy = strdup(s)) == NULL) {
        return DM_ENOMEM;
    }
    dm__config_free_str(*slot, wipe);
    *slot = copy;
    return 0;
}

static bool is_secret(const dm_config_key *k)
{
    return (k->flags & DM_CK_SECRET) != 0;
}

/* ---- messages ---- */

/* Quotes s, cut at GOT_MAX characters, control characters shown as '?'. */
static void render_text(char *out, size_t n, const char *s)
{
    size_t o = 0;
    size_t i = 0;
    out[o++] = '"';
    for (; s[i] != '\0' && i < GOT_MAX && o + 5 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (s[i] != '\0') {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = '\0';
}

static void render_json(char *out, size_t n, json_t *v)
{
    if (json_is_string(v)) {
        render_text(out, n, json_string_value(v));
        return;
    }
    char *dump = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (dump == NULL) {
        snprintf(out, n, "(a JSON value)");
        return;
    }
    snprintf(out, n, "%.*s%s", GOT_MAX, dump, strlen(dump) > GOT_MAX ? "..." : "");
    free(dump);
}

/* A message that names where a value came from and what it must be. */
typedef struct source {
    char label[160];          /* "server.port" quoted, or DERMAGA_PORT (server.port) */
    bool secret;              /* leave the value out of messages */
} source;

static void source_json(source *src, const dm_config_key *k, const char *suffix)
{
    snprintf(src->label, sizeof src->label, "\"%s%s\"", k->path, suffix);
    src->secret = is_secret(k);
}

static void source_env(source *src, const dm_config_key *k, const char *suffix)
{
    snprintf(src->label, sizeof src->label, "%s (%s)%s", k->env, k->path, suffix);
    src->secret = is_secret(k);
}

static int fail_json(dm_err_t *err, const source *src, const char *must, json_t *got)
{
    char shown[GOT_MAX * 2 + 16];
    if (src->secret || got == NULL) {
        return dm_err_set(err, DM_EINVAL, "config: %s %s", src->label, must);
    }
    render_json(shown, sizeof shown, got);
    return dm_err_set(err, DM_EINVAL, "config: %s %s, got %s", src->label, must, shown);
}

static int fail_text(dm_err_t *err, const source *src, const char *must, const char *got)
{
    char shown[GOT_MAX + 16];
    if (src->secret || got == NULL) {
        return dm_err_set(err, DM_EINVAL, "config: %s %s", src->label, must);
    }
    render_text(shown, sizeof shown, got);
    return dm_err_set(err, DM_EINVAL, "config: %s %s, got %s", src->label, must, shown);
}

/* ---- scalar checks shared by both sources ---- */

/* NULL when s suits a STR key (or one STRLIST item), else what it must be. */
static const char *string_problem(const dm_config_key *k, const char *s)
{
    if ((k->flags & DM_CK_NONEMPTY) != 0 && s[0] == '\0') {
        return "must be a non-empty string";
    }
    return k->check != NULL ? k->check(s) : NULL;
}

static void range_text(char *buf, size_t n, const dm_config_key *k)
{
    snprintf(buf, n, "must be an integer between %lld and %lld", k->min, k->max);
}

static void store_number(dm_config *cfg, const dm_config_key *k, long long v)
{
    char *base = (char *)cfg;
    if (k->type == DM_CK_INT) {
        *(int *)(base + k->off) = (int)v;
    } else {
        *(size_t *)(base + k->off) = (size_t)v;
    }
}

/* Stores items[0..n) (stolen, also on failure) in a STRLIST field. */
static void store_list(dm_config *cfg, const dm_config_key *k, char **items, size_t n)
{
    char *base = (char *)cfg;
    char **slot = (char **)(base + k->off);
    size_t *count = (size_t *)(base + k->off_n);
    for (size_t i = 0; i < *count; i++) {
        free(slot[i]);
        slot[i] = NULL;
    }
    for (size_t i = 0; i < n; i++) {
        slot[i] = items[i];
    }
    *count = n;
}

static void free_items(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(items[i]);
    }
}

/* ---- secrets from files ---- */

/* Reads a secret file into a new string (caller frees, wiping), minus one
 * trailing newline. Refuses missing, unreadable, non-regular, oversized,
 * empty files and NUL bytes, naming the key and path (never the content). */
static int read_secret_file(const source *src, const char *path, char **out, dm_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return dm_err_set(err, DM_EINVAL, "config: %s: cannot read %s: %s", src->label, path,
                          strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > SECRET_FILE_MAX) {
        close(fd);
        return dm_err_set(err, DM_EINVAL, "config: %s: %s must be a regular file of at most %d bytes",
                          src->label, path, SECRET_FILE_MAX);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        close(fd);
        return DM_ENOMEM;
    }
    size_t want = (size_t)st.st_size;
    size_t len = 0;
    int rerr = 0;
    while (len < want && rerr == 0) {
        ssize_t n = read(fd, buf + len, want - len);
        if (n > 0) {
            len += (size_t)n;
        } else if (n == 0) {
            rerr = EIO; /* shrank since fstat */
        } else if (errno != EINTR) {
            rerr = errno;
        }
    }
    close(fd);
    if (rerr != 0) {
        explicit_bzero(buf, want);
        free(buf);
        return dm_err_set(err, DM_EINVAL, "config: %s: cannot read %s: %s", src->label, path, strerror(rerr));
    }
    if (len > 0 && buf[len - 1] == '\n') {
        len--;
        if (len > 0 && buf[len - 1] == '\r') {
            len--;
        }
    }
    buf[len] = '\0';
    const char *why = len == 0 ? "is empty" : memchr(buf, '\0', len) != NULL ? "contains a NUL byte" : NULL;
    if (why != NULL) {
        explicit_bzero(buf, want);
        free(buf);
        return dm_err_set(err, DM_EINVAL, "config: %s: %s %s", src->label, path, why);
    }
    *out = buf;
    return 0;
}

static int apply_secret_file(dm_config *cfg, const dm_config_key *k, const source *src,
                             const char *path, dm_err_t *err)
{
    if (path[0] == '\0') {
        return 0; /* "" means no file: the paired key (or its default) stands */
    }
    char *secret = NULL;
    int rc = read_secret_file(src, path, &secret, err);
    if (rc != 0) {
        return rc;
    }
    char **slot = (char **)((char *)cfg + k->off);
    dm__config_free_str(*slot, true);
    *slot = secret;
    return 0;
}

/* ---- the plugin list ---- */

/* Checks one entry and stores a normalised copy {"name", "enabled",
 * "config"} in *out (new). The plugin's own "config" object is shared, not
 * checked: the plugin loader validates it against the plugin's declarations. */
static int plugin_entry(json_t *item, size_t idx, json_t *seen, json_t **out, dm_err_t *err)
{
    char where[64];
    snprintf(where, sizeof where, "plugins.enabled[%zu]", idx);
    source src = { .secret = false };
    snprintf(src.label, sizeof src.label, "\"%s\"", where);
    if (!json_is_object(item)) {
        return fail_json(err, &src, "must be an object with \"name\" and optional \"enabled\" and \"config\"",
                         item);
    }
    const char *key;
    json_t *val;
    json_object_foreach(item, key, val) {
        if (strcmp(key, "name") != 0 && strcmp(key, "enabled") != 0 && strcmp(key, "config") != 0) {
            char shown[GOT_MAX + 16];
            render_text(shown, sizeof shown, key);
            return dm_err_set(err, DM_EINVAL, "config: unknown key %s in \"%s\" (allowed: name, enabled, config)",
                              shown, where);
        }
    }
    json_t *name = json_object_get(item, "name");
    json_t *enabled = json_object_get(item, "enabled");
    json_t *conf = json_object_get(item, "config");
    const char *why = NULL;
    snprintf(src.label, sizeof src.label, "\"%s.name\"", where);
    if (!json_is_string(name)) {
        return fail_json(err, &src, "must be a string (the plugin's name)", name);
    }
    if ((why = dm__config_check_plugin_name(json_string_value(name))) != NULL) {
        return fail_json(err, &src, why, name);
    }
    if (json_object_get(seen, json_string_value(name)) != NULL) {
        return fail_json(err, &src, "names a plugin already listed", name);
    }
    snprintf(src.label, sizeof src.label, "\"%s.enabled\"", where);
    if (enabled != NULL && !json_is_boolean(enabled)) {
        return fail_json(err, &src, "must be true or false", enabled);
    }
    snprintf(src.label, sizeof src.label, "\"%s.config\"", where);
    if (conf != NULL && !json_is_object(conf)) {
        return fail_json(err, &src, "must be an object (the plugin's own settings)", conf);
    }
    json_t *c = conf != NULL ? json_incref(conf) : json_object();
    *out = json_pack("{s:O, s:b, s:o}", "name", name, "enabled",
                     enabled == NULL || json_is_true(enabled), "config", c); /* steals c */
    if (*out == NULL || json_object_set(seen, json_string_value(name), json_true()) != 0) {
        json_decref(*out);
        *out = NULL;
        return DM_ENOMEM;
    }
    return 0;
}

static int apply_plugins(dm_config *cfg, const dm_config_key *k, json_t *v, dm_err_t *err)
{
    source src;
    source_json(&src, k, "");
    char must[96];
    snprintf(must, sizeof must, "must be an array of at most %lld plugin objects", k->max);
    if (!json_is_array(v) || json_array_size(v) > (size_t)k->max) {
        return fail_json(err, &src, must, json_is_array(v) ? NULL : v);
    }
    json_t *list = json_array();
    json_t *seen = json_object();
    int rc = (list == NULL || seen == NULL) ? DM_ENOMEM : 0;
    for (size_t i = 0; rc == 0 && i < json_array_size(v); i++) {
        json_t *entry = NULL;
        rc = plugin_entry(json_array_get(v, i), i, seen, &entry, err);
        if (rc == 0 && json_array_append_new(list, entry) != 0) {
            rc = DM_ENOMEM;
        }
    }
    json_decref(seen);
    if (rc != 0) {
        json_decref(list);
        return rc;
    }
    json_t **slot = (json_t **)((char *)cfg + k->off);
    json_decref(*slot);
    *slot = list;
    return 0;
}

/* ---- from the JSON file ---- */

static int json_list(dm_config *cfg, const dm_config_key *k, json_t *v, dm_err_t *err)
{
    source src;
    source_json(&src, k, "");
    char must[96];
    snprintf(must, sizeof must, "must be an array of at most %lld strings", k->max);
    if (!json_is_array(v) || json_array_size(v) > (size_t)k->max) {
        return fail_json(err, &src, must, json_is_array(v) ? NULL : v);
    }
    char *items[DM_CONFIG_MAX_CORS];
    size_t n = 0;
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        char idx[32];
        snprintf(idx, sizeof idx, "[%zu]", i);
        source_json(&src, k, idx);
        const char *why = json_is_string(item) ? string_problem(k, json_string_value(item))
                                               : "must be a string";
        int rc = why != NULL ? fail_json(err, &src, why, item) : 0;
        if (rc == 0 && (items[n] = strdup(json_string_value(item))) == NULL) {
            rc = DM_ENOMEM;
        }
        if (rc != 0) {
            free_items(items, n);
            return rc;
        }
        n++;
    }
    store_list(cfg, k, items, n);
    return 0;
}

/* Applies a value from the JSON file; null keeps the current value. */
int dm__config_apply_json(dm_config *cfg, const dm_config_key *k, json_t *v, dm_err_t *err)
{
    source src;
    source_json(&src, k, "");
    char must[96];
    if (json_is_null(v)) {
        return 0;
    }
    switch (k->type) {
    case DM_CK_STR: {
        const char *why = json_is_string(v) ? string_problem(k, json_string_value(v))
                                            : "must be a string";
        if (why != NULL) {
            return fail_json(err, &src, why, v);
        }
        return dm__config_set_str((char **)((char *)cfg + k->off), json_string_value(v), is_secret(k));
    }
    case DM_CK_INT:
    case DM_CK_SIZE:
        if (!json_is_integer(v) || json_integer_value(v) < k->min || json_integer_value(v) > k->max) {
            range_text(must, sizeof must, k);
            return fail_json(err, &src, must, v);
        }
        store_number(cfg, k, json_integer_value(v));
        return 0;
    case DM_CK_BOOL:
        if (!json_is_boolean(v)) {
            return fail_json(err, &src, "must be true or false", v);
        }
        *(bool *)((char *)cfg + k->off) = json_is_true(v);
        return 0;
    case DM_CK_STRLIST:
        return json_list(cfg, k, v, err);
    case DM_CK_SECRET_FILE:
        if (!json_is_string(v)) {
            return fail_json(err, &src, "must be a string (a file path)", v);
        }
        return apply_secret_file(cfg, k, &src, json_string_value(v), err);
    case DM_CK_PLUGINS:
        return apply_plugins(cfg, k, v, err);
    }
    return dm_err_set(err, DM_EINVAL, "config: %s has no known type", src.label);
}

/* ---- from an environment variable ---- */

static int text_number(dm_config *cfg, const dm_config_key *k, const source *src, const char *s,
                       dm_err_t *err)
{
    char must[96];
    char *end = NULL;
    errno = 0;
    long long v = (s[0] >= '0' && s[0] <= '9') || s[0] == '-' ? strtoll(s, &end, 10) : 0;
    if (end == NULL || end == s || *end != '\0' || errno != 0 || v < k->min || v > k->max) {
        range_text(must, sizeof must, k);
        return fail_text(err, src, must, s);
    }
    store_number(cfg, k, v);
    return 0;
}

/* One trimmed item of a comma list: checked, then copied into items[n]. */
static int text_item(const dm_config_key *k, const char *q, size_t len, char **items, size_t n,
                     dm_err_t *err)
{
    source src;
    char idx[48];
    snprintf(idx, sizeof idx, " item %zu", n + 1);
    source_env(&src, k, idx);
    if (n >= (size_t)k->max) {
        char must[64];
        snprintf(must, sizeof must, "is one too many (at most %lld items)", k->max);
        return fail_text(err, &src, must, NULL);
    }
    char *item = strndup(q, len);
    if (item == NULL) {
        return DM_ENOMEM;
    }
    const char *why = string_problem(k, item);
    if (why != NULL) {
        int rc = fail_text(err, &src, why, item);
        free(item);
        return rc;
    }
    items[n] = item;
    return 0;
}

/* Comma-separated items, blanks around them dropped, empty items skipped. */
static int text_list(dm_config *cfg, const dm_config_key *k, const char *s, dm_err_t *err)
{
    char *items[DM_CONFIG_MAX_CORS];
    size_t n = 0;
    const char *p = s;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *q = p;
        p = end != NULL ? end + 1 : p + len;
        while (len > 0 && (*q == ' ' || *q == '\t')) {
            q++;
            len--;
        }
        while (len > 0 && (q[len - 1] == ' ' || q[len - 1] == '\t')) {
            len--;
        }
        if (len == 0) {
            continue;
        }
        int rc = text_item(k, q, len, items, n, err);
        if (rc != 0) {
            free_items(items, n);
            return rc;
        }
        n++;
    }
    store_list(cfg, k, items, n);
    return 0;
}

/* Applies an environment variable's text (the caller skips unset/empty). */
int dm__config_apply_text(dm_config *cfg, const dm_config_key *k, const char *s, dm_err_t *err)
{
    source src;
    source_env(&src, k, "");
    switch (k->type) {
    case DM_CK_STR: {
        const char *why = string_problem(k, s);
        json_t *utf8 = why == NULL ? json_string(s) : NULL; /* jansson refuses bad UTF-8 */
        if (why == NULL && utf8 == NULL) {
            why = "must be valid UTF-8 text";
        }
        json_decref(utf8);
        if (why != NULL) {
            return fail_text(err, &src, why, s);
        }
        return dm__config_set_str((char **)((char *)cfg + k->off), s, is_secret(k));
    }
    case DM_CK_INT:
    case DM_CK_SIZE:
        return text_number(cfg, k, &src, s, err);
    case DM_CK_BOOL:
        if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0 && strcmp(s, "1") != 0 &&
            strcmp(s, "0") != 0) {
            return fail_text(err, &src, "must be true, false, 1 or 0", s);
        }
        *(bool *)((char *)cfg + k->off) = s[0] == 't' || s[0] == '1';
        return 0;
    case DM_CK_STRLIST:
        return text_list(cfg, k, s, err);
    case DM_CK_SECRET_FILE:
        return apply_secret_file(cfg, k, &src, s, err);
    case DM_CK_PLUGINS:
        break;
    }
    return dm_err_set(err, DM_EINVAL, "config: %s cannot be set from the environment", src.label);
}
