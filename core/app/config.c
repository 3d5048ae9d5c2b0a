/*
 * config.c — loading the configuration in layers: the key table's defaults,
 * then the JSON file (every key checked; unknown keys refused by full path),
 * then DERMAGA_* environment overrides. The first bad key stops the load with
 * a message naming it. The result is read-only for the life of the process.
 */
#include "app/config_internal.h"

#include <stdlib.h>
#include <string.h>

typedef const char *(*env_fn)(const char *name);

#define PATH_MAX_LEN 128 /* longest dotted key path we report in full */

static const char *real_getenv(const char *name)
{
    return getenv(name);
}

/* ---- defaults ---- */

static int apply_default(dm_config *cfg, const dm_config_key *k)
{
    char *base = (char *)cfg;
    switch (k->type) {
    case DM_CK_STR:
        if (k->def_fn != NULL) {
            char *s = k->def_fn();
            if (s == NULL) {
                return DM_ENOMEM;
            }
            *(char **)(base + k->off) = s;
            return 0;
        }
        return dm__config_set_str((char **)(base + k->off), k->def, false);
    case DM_CK_INT:
        *(int *)(base + k->off) = (int)k->idef;
        return 0;
    case DM_CK_SIZE:
        *(size_t *)(base + k->off) = (size_t)k->idef;
        return 0;
    case DM_CK_BOOL:
        *(bool *)(base + k->off) = k->idef != 0;
        return 0;
    case DM_CK_PLUGINS:
        /* Email and password sign-in and manual bank transfers work out of
         * the box, with no gateway account. */
        *(json_t **)(base + k->off) = json_pack("[{s:s,s:b,s:{}},{s:s,s:b,s:{}}]", "name", "auth-local",
                                                "enabled", 1, "config", "name", "payment-manual",
                                                "enabled", 1, "config");
        return *(json_t **)(base + k->off) != NULL ? 0 : DM_ENOMEM;
    case DM_CK_STRLIST:    /* defaults to empty: the zeroed count */
    case DM_CK_SECRET_FILE: /* fills its pair; the pair has the default */
        return 0;
    }
    return 0;
}

/* ---- unknown keys ---- */

/* True when some key lives under `path.`, i.e. path names a section. */
static bool is_section(const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < dm__config_nkeys; i++) {
        if (strncmp(dm__config_keys[i].path, path, n) == 0 && dm__config_keys[i].path[n] == '.') {
            return true;
        }
    }
    return false;
}

/* Edit distance, for "did you mean"; both strings shorter than PATH_MAX_LEN. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[PATH_MAX_LEN + 1];
    for (size_t j = 0; j <= lb; j++) {
        row[j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] == b[j - 1] ? 0 : 1);
            best = up + 1 < best ? up + 1 : best;
            best = row[j - 1] + 1 < best ? row[j - 1] + 1 : best;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Keys earlier releases accepted and this one no longer has: refused like
 * any unknown key, but with the reason, so an old file is fixed in one step. */
static const struct {
    const char *path;
    const char *why;
} removed_keys[] = {
    { "dataDir", "nothing read it" },
};

static int unknown_key(const char *path, dm_err_t *err)
{
    for (size_t i = 0; i < sizeof removed_keys / sizeof removed_keys[0]; i++) {
        if (strcmp(path, removed_keys[i].path) == 0) {
            return dm_err_set(err, DM_EINVAL, "config: \"%s\" was removed: %s; delete it from the file",
                              path, removed_keys[i].why);
        }
    }
    const char *best = NULL;
    size_t best_d = 3; /* suggest only near misses: a typo, not a guess */
    for (size_t i = 0; strlen(path) < PATH_MAX_LEN && i < dm__config_nkeys; i++) {
        size_t d = distance(path, dm__config_keys[i].path);
        if (d < best_d) {
            best_d = d;
            best = dm__config_keys[i].path;
        }
    }
    if (best != NULL) {
        return dm_err_set(err, DM_EINVAL, "config: unknown key \"%s\" (did you mean \"%s\"?)", path, best);
    }
    return dm_err_set(err, DM_EINVAL, "config: unknown key \"%s\"", path);
}

/* Refuses any key of obj (at section `prefix`) the table does not know. */
static int check_keys(json_t *obj, const char *prefix, dm_err_t *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        char path[PATH_MAX_LEN * 2];
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] != '\0' ? "." : "", key);
        /* "server.port" at the top level must not pass for server → port. */
        if (key[0] == '\0' || strchr(key, '.') != NULL) {
            return unknown_key(path, err);
        }
        if (dm__config_key_find(path) != NULL) {
            continue;
        }
        if (!is_section(path)) {
            return unknown_key(path, err);
        }
        if (!json_is_object(v)) {
            return dm_err_set(err, DM_EINVAL, "config: \"%s\" must be an object (a section of keys)", path);
        }
        int rc = check_keys(v, path, err);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* ---- layers ---- */

/* The node at a dotted path, or NULL. Borrowed. */
static json_t *lookup(json_t *root, const char *path)
{
    char part[PATH_MAX_LEN];
    const char *p = path;
    const char *dot;
    json_t *node = root;
    while (node != NULL && (dot = strchr(p, '.')) != NULL) {
        size_t n = (size_t)(dot - p);
        if (n >= sizeof part) {
            return NULL;
        }
        memcpy(part, p, n);
        part[n] = '\0';
        node = json_object_get(node, part);
        p = dot + 1;
    }
    return node != NULL ? json_object_get(node, p) : NULL;
}

static bool json_set(json_t *v)
{
    return json_is_string(v) && json_string_value(v)[0] != '\0';
}

static bool env_set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* A secret and its file given in the same layer is ambiguous: refuse it. */
static int file_conflicts(json_t *root, env_fn env, dm_err_t *err)
{
    for (size_t i = 0; i < dm__config_nkeys; i++) {
        const dm_config_key *k = &dm__config_keys[i];
        const dm_config_key *pair = k->type == DM_CK_SECRET_FILE ? dm__config_key_find(k->pair) : NULL;
        if (pair == NULL) {
            continue;
        }
        if (root != NULL && json_set(lookup(root, k->path)) && json_set(lookup(root, pair->path))) {
            return dm_err_set(err, DM_EINVAL, "config: \"%s\" and \"%s\" are both set; use one",
                              pair->path, k->path);
        }
        if (env != NULL && k->env != NULL && pair->env != NULL && env_set(env(k->env)) &&
            env_set(env(pair->env))) {
            return dm_err_set(err, DM_EINVAL, "config: %s and %s are both set; use one", pair->env, k->env);
        }
    }
    return 0;
}

/* plugins.dir is the one-folder form of plugins.dirs: setting both, in
 * the file or the environment or one in each, is ambiguous. */
static int plugin_dirs_conflict(json_t *root, env_fn env, dm_err_t *err)
{
    json_t *dirs = root != NULL ? lookup(root, "plugins.dirs") : NULL;
    bool one = (root != NULL && json_set(lookup(root, "plugins.dir"))) ||
               (env != NULL && env_set(env("DERMAGA_PLUGINS_DIR")));
    bool many = (json_is_array(dirs) && json_array_size(dirs) > 0) ||
                (env != NULL && env_set(env("DERMAGA_PLUGINS_DIRS")));
    if (one && many) {
        return dm_err_set(err, DM_EINVAL, "config: plugins.dir and plugins.dirs (or DERMAGA_PLUGINS_DIR and "
                          "DERMAGA_PLUGINS_DIRS) are both set; use one: plugins.dir names one folder, "
                          "plugins.dirs several");
    }
    return 0;
}

static int apply_file(dm_config *cfg, json_t *root, dm_err_t *err)
{
    int rc = check_keys(root, "", err);
    if (rc == 0) {
        rc = file_conflicts(root, NULL, err);
    }
    for (size_t i = 0; rc == 0 && i < dm__config_nkeys; i++) {
        json_t *v = lookup(root, dm__config_keys[i].path);
        if (v != NULL) {
            rc = dm__config_apply_json(cfg, &dm__config_keys[i], v, err);
        }
    }
    return rc;
}

/* Unset and empty variables both leave the value alone, so an orchestrator
 * can pass DERMAGA_X= without meaning "clear it". */
static int apply_env(dm_config *cfg, env_fn env, dm_err_t *err)
{
    int rc = file_conflicts(NULL, env, err);
    for (size_t i = 0; rc == 0 && i < dm__config_nkeys; i++) {
        const dm_config_key *k = &dm__config_keys[i];
        const char *s = k->env != NULL ? env(k->env) : NULL;
        if (env_set(s)) {
            rc = dm__config_apply_text(cfg, k, s, err);
        }
    }
    return rc;
}

/* Runs all layers over a zeroed cfg. Borrows tree (NULL: no file). */
static int load_tree(dm_config *cfg, json_t *tree, env_fn env, dm_err_t *err)
{
    int rc = 0;
    if (tree != NULL && !json_is_object(tree)) {
        return dm_err_set(err, DM_EINVAL, "config: the file must hold one JSON object");
    }
    for (size_t i = 0; rc == 0 && i < dm__config_nkeys; i++) {
        rc = apply_default(cfg, &dm__config_keys[i]);
    }
    if (rc == 0 && tree != NULL) {
        rc = apply_file(cfg, tree, err);
    }
    if (rc == 0) {
        rc = plugin_dirs_conflict(tree, env, err);
    }
    if (rc == 0) {
        rc = apply_env(cfg, env, err);
    }
    if (rc == 0 && (cfg->root = dm__config_emit(cfg)) == NULL) {
        rc = DM_ENOMEM;
    }
    return rc;
}

/* True when plugins.enabled has an entry named name that is switched on. */
static bool plugin_enabled(const dm_config *cfg, const char *name)
{
    size_t i;
    const json_t *e;
    json_array_foreach(cfg->plugins, i, e) {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n != NULL && strcmp(n, name) == 0 && !json_is_false(json_object_get(e, "enabled")))
            return true;
    }
    return false;
}

/* plugins.optional names enabled plugins: anything else is a typo that
 * would leave the plugin meant fatal (or excuse nothing), so it is refused. */
static int check_optional(const dm_config *cfg, dm_err_t *err)
{
    for (size_t i = 0; i < cfg->n_plugins_optional; i++) {
        if (!plugin_enabled(cfg, cfg->plugins_optional[i])) {
            return dm_err_set(err, DM_EINVAL, "config: \"plugins.optional[%zu]\": \"%s\" is not an enabled plugin "
                              "of plugins.enabled (list only plugins that are enabled)", i,
                              cfg->plugins_optional[i]);
        }
    }
    return 0;
}

/* Rules that tie two keys together (each key alone was checked already). */
static int cross_check(const dm_config *cfg, dm_err_t *err)
{
    int rc = check_optional(cfg, err);
    if (rc != 0) {
        return rc;
    }
    if (cfg->topup_min > cfg->topup_max) {
        return dm_err_set(err, DM_EINVAL, "config: wallet.topupMin (%d) is above wallet.topupMax (%d)",
                          cfg->topup_min, cfg->topup_max);
    }
    return 0;
}

/* What is computed from checked values once, so requests need not: the
 * trusted-proxy ranges (their text stays for the effective tree). */
static int derive(dm_config *cfg, dm_err_t *err)
{
    for (size_t i = 0; i < cfg->n_trusted_proxies; i++) {
        if (dm__cidr_parse(cfg->trusted_proxies[i], &cfg->trusted_cidrs[i]) != 0) {
            return dm_err_set(err, DM_EINVAL, "config: \"server.trustedProxies[%zu]\" is not a CIDR range", i);
        }
    }
    return 0;
}

/* Common tail: on failure leave cfg empty and make sure err says something. */
static int finish(dm_config *cfg, int rc, dm_err_t *err)
{
    if (rc == 0) {
        rc = cross_check(cfg, err);
    }
    if (rc == 0) {
        rc = derive(cfg, err);
    }
    if (rc != 0) {
        dm__config_free(cfg);
        if (err != NULL && err->msg[0] == '\0') {
            dm_err_set(err, rc, "config: out of memory");
        }
    }
    return rc;
}

/* Loads from $DERMAGA_CONFIG (or path) and the real environment. cfg is
 * overwritten (it need not be initialised); on success the caller releases
 * it with dm__config_free, on failure it is left empty. Returns 0, DM_EINVAL
 * (message names the file position or the key) or DM_ENOMEM. */
int dm__config_load(dm_config *cfg, const char *path, dm_err_t *err)
{
    memset(cfg, 0, sizeof *cfg);
    dm_err_clear(err);
    if (path == NULL) {
        path = getenv("DERMAGA_CONFIG");
        if (path != NULL && path[0] == '\0') {
            path = NULL;
        }
    }
    json_t *tree = NULL;
    if (path != NULL) {
        json_error_t jerr;
        tree = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        if (tree == NULL && jerr.line >= 1) {
            return dm_err_set(err, DM_EINVAL, "config: %s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        }
        if (tree == NULL) {
            return dm_err_set(err, DM_EINVAL, "config: %s: %s", path, jerr.text);
        }
    }
    int rc = load_tree(cfg, tree, real_getenv, err);
    json_decref(tree);
    return finish(cfg, rc, err);
}

/* As dm__config_load, from JSON text (NULL: no file) and an env lookup
 * (NULL: getenv). Positions in messages are reported against "<text>". */
int dm__config_load_text(dm_config *cfg, const char *json_text, const char *(*env)(const char *name),
                         dm_err_t *err)
{
    memset(cfg, 0, sizeof *cfg);
    dm_err_clear(err);
    json_t *tree = NULL;
    if (json_text != NULL) {
        json_error_t jerr;
        tree = json_loads(json_text, JSON_REJECT_DUPLICATES, &jerr);
        if (tree == NULL) {
            return dm_err_set(err, DM_EINVAL, "config: <text>:%d:%d: %s", jerr.line, jerr.column, jerr.text);
        }
    }
    int rc = load_tree(cfg, tree, env != NULL ? env : real_getenv, err);
    json_decref(tree);
    return finish(cfg, rc, err);
}

/* Releases everything cfg owns (secrets are wiped first) and zeroes it.
 * Safe on a zeroed cfg and on one whose load failed. */
void dm__config_free(dm_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    char *base = (char *)cfg;
    for (size_t i = 0; i < dm__config_nkeys; i++) {
        const dm_config_key *k = &dm__config_keys[i];
        if (k->type == DM_CK_STR) {
            dm__config_free_str(*(char **)(base + k->off), (k->flags & DM_CK_SECRET) != 0);
        } else if (k->type == DM_CK_STRLIST) {
            char **items = (char **)(base + k->off);
            size_t n = *(size_t *)(base + k->off_n);
            for (size_t j = 0; j < n; j++) {
                free(items[j]);
            }
        } else if (k->type == DM_CK_PLUGINS) {
            json_decref(*(json_t **)(base + k->off));
        }
    }
    json_decref(cfg->root);
    memset(cfg, 0, sizeof *cfg);
}

bool dm__config_plugin_optional(const dm_config *cfg, const char *name)
{
    for (size_t i = 0; cfg != NULL && name != NULL && i < cfg->n_plugins_optional; i++) {
        if (strcmp(cfg->plugins_optional[i], name) == 0) {
            return true;
        }
    }
    return false;
}

const char *const *dm__config_plugin_dirs(const dm_config *cfg, size_t *n)
{
    if (cfg->n_plugin_dirs > 0) {
        *n = cfg->n_plugin_dirs;
        return (const char *const *)cfg->plugin_dirs;
    }
    *n = 1;
    return (const char *const *)&cfg->plugin_dir;
}

/* True when origin (borrowed; NULL is never allowed) is listed exactly or
 * the list holds "*". */
bool dm__config_cors_allowed(const dm_config *cfg, const char *origin)
{
    if (cfg == NULL || origin == NULL) {
        return false;
    }
    for (size_t i = 0; i < cfg->n_cors_origins; i++) {
        if (strcmp(cfg->cors_origins[i], "*") == 0 || strcmp(cfg->cors_origins[i], origin) == 0) {
            return true;
        }
    }
    return false;
}
