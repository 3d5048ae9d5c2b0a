/*
 * registry.c — the set of loaded plugins: loading the enabled ones in
 * config order (refusing bad ones, logging once each, carrying on),
 * lookup by kind and name, the admin listing, and unloading.
 */
#include "plugin/registry.h"

#include <stdlib.h>
#include <string.h>

#include "plugin/host_api.h"
#include "plugin/kind_names.h"
#include "plugin/kinds.h"
#include "plugin/loader.h"
#include "plugin/plugin_dirs.h"
#include "util/log.h"

struct dm_plugin_set {
    dm_plugin **items;    /* owned, load order */
    size_t      n;
    size_t      cap;
    json_t     *refusals; /* [{file, name, reason}] */
    int         only;     /* a dm_plugin_kind_t to load alone, or -1 for all */
    bool        quiet;    /* no "loaded"/"refused" log lines (dm__plugins_quiet) */
};

dm_plugin_set *dm__plugins_new(void)
{
    dm_plugin_set *set = calloc(1, sizeof *set);
    if (set == NULL)
        return NULL;
    set->only = -1;
    set->refusals = json_array();
    if (set->refusals == NULL) {
        free(set);
        return NULL;
    }
    return set;
}

/* What an opened plugin says of itself, added to its refusal (p may be
 * NULL: refused before its descriptor was read). */
static void describe_refused(json_t *r, const dm_plugin *p)
{
    if (p == NULL)
        return;
    char abi[16];
    snprintf(abi, sizeof abi, "%u.%u", p->abi_major, p->abi_minor);
    json_object_set_new(r, "declaredName", json_string(p->name));
    json_object_set_new(r, "kind", json_string(dm__plugin_kind_name(p->kind)));
    json_object_set_new(r, "version", json_string(p->version));
    json_object_set_new(r, "abi", json_string(abi));
}

/* Log and record one refusal. path may be NULL (a config entry naming no
 * file); then the log names the entry. p: the plugin when it was opened. */
static void refuse_opened(dm_plugin_set *set, const char *path, const char *name, const char *reason,
                          const dm_plugin *p)
{
    if (!set->quiet)
        dm__log(DM_LOG_ERROR, "plugin", "refused %s: %s", path != NULL ? path : name, reason);
    json_t *r = json_object();
    if (r == NULL)
        return;
    json_object_set_new(r, "file", path != NULL ? json_string(path) : json_null());
    json_object_set_new(r, "name", name != NULL ? json_string(name) : json_null());
    json_t *why = json_string(reason);
    json_object_set_new(r, "reason", why != NULL ? why : json_string("(reason not valid UTF-8)"));
    describe_refused(r, p);
    json_array_append_new(set->refusals, r);
}

static void refuse(dm_plugin_set *set, const char *path, const char *name, const char *reason)
{
    refuse_opened(set, path, name, reason, NULL);
}

static int append(dm_plugin_set *set, dm_plugin *p)
{
    if (set->n == set->cap) {
        size_t cap = set->cap != 0 ? set->cap * 2 : 8;
        dm_plugin **grown = realloc(set->items, cap * sizeof *grown);
        if (grown == NULL)
            return DM_ENOMEM;
        set->items = grown;
        set->cap = cap;
    }
    set->items[set->n++] = p;
    return 0;
}

static const dm_plugin *find_name(const dm_plugin_set *set, const char *name)
{
    for (size_t i = 0; i < set->n; i++) {
        if (strcmp(set->items[i]->name, name) == 0)
            return set->items[i];
    }
    return NULL;
}

/* Open, judge, configure and init the plugin file for one enabled entry.
 * 0 with the plugin in the set, or a refusal (already logged). */
static int load_entry(dm_plugin_set *set, const char *path, const char *name,
                      const json_t *config)
{
    dm_err_t err;
    dm_err_clear(&err);
    dm_plugin *p = NULL;
    int rc = dm__plugin_open(path, &p, &err);
    if (rc == 0 && set->only >= 0 && (int)p->kind != set->only) {
        dm__plugin_close(p); /* not asked for: neither loaded nor refused */
        return 0;
    }
    if (rc == 0)
        rc = dm__plugin_name_fits_kind(p->name, p->kind, &err);
    if (rc == 0) {
        const dm_plugin *other = find_name(set, p->name);
        if (other != NULL)
            rc = dm_err_set(&err, DM_ECONFLICT, "duplicate name '%s' (already loaded from %s)",
                            p->name, other->file);
    }
    if (rc == 0)
        rc = dm__plugin_configure(p, config, &err);
    if (rc == 0)
        rc = dm__plugin_init(p, &err);
    if (rc == 0 && (rc = append(set, p)) != 0)
        dm_err_set(&err, rc, "out of memory");
    if (rc != 0) {
        refuse_opened(set, path, name, err.msg, p);
        dm__plugin_close(p);
        return rc;
    }
    if (!set->quiet)
        dm__log(DM_LOG_INFO, "plugin", "loaded %s: %s %s (%s, ABI %u.%u)", path, p->name, p->version,
                dm__plugin_kind_name(p->kind), p->abi_major, p->abi_minor);
    return 0;
}

/* Pick apart one config entry; false (refusal recorded) when malformed,
 * *enabled false when switched off. */
static bool parse_entry(dm_plugin_set *set, size_t i, const json_t *e, const char **name,
                        bool *enabled, const json_t **config)
{
    char where[64];
    snprintf(where, sizeof where, "plugins[%zu]", i);
    const json_t *en = json_object_get(e, "enabled");
    *name = json_string_value(json_object_get(e, "name"));
    *config = json_object_get(e, "config");
    *enabled = en == NULL || json_is_true(en);
    if (!json_is_object(e))
        refuse(set, NULL, where, "config entry is not an object");
    else if (!dm__plugin_name_valid(*name))
        refuse(set, NULL, where, "config entry has no valid \"name\" ([a-z0-9][a-z0-9_-]{0,62})");
    else if (en != NULL && !json_is_boolean(en))
        refuse(set, NULL, *name, "config entry's \"enabled\" is not a boolean");
    else
        return true;
    return false;
}

int dm__plugins_load(dm_plugin_set *set, const char *dir, const json_t *plugins, dm_err_t *err)
{
    const char *const dirs[] = { dir };
    return dm__plugins_load_dirs(set, dir != NULL ? dirs : NULL, 1, plugins, err);
}

/* The file for an enabled entry in the folders, logging an override; 0,
 * or a refusal (already logged and recorded). */
static int find_file(dm_plugin_set *set, const dm_plugin_dirs *d, const char *name, char path[DM_PLUGIN_PATH_MAX])
{
    char prev[DM_PLUGIN_PATH_MAX];
    int overridden = 0;
    dm_err_t err = { 0, "" };
    if (dm__plugin_dirs_find(d, name, path, prev, &overridden, &err) != 0) {
        refuse(set, path[0] != '\0' ? path : NULL, name, err.msg);
        return err.code;
    }
    if (overridden > 0)
        dm__log(DM_LOG_INFO, "plugin", "plugin %s: %s overrides %s (a later plugin folder wins)", name, path,
                prev);
    return 0;
}

int dm__plugins_load_dirs(dm_plugin_set *set, const char *const *dirs, size_t n_dirs, const json_t *plugins,
                          dm_err_t *err)
{
    if (set == NULL || dirs == NULL || n_dirs == 0)
        return dm_err_set(err, DM_EINVAL, "plugins: no set or directory");
    if (plugins == NULL)
        return 0;
    if (!json_is_array(plugins))
        return dm_err_set(err, DM_EINVAL, "plugins: config \"plugins\" must be an array");
    if (dm__plugins_global_init() != 0)
        return dm_err_set(err, DM_EIO, "plugins: libcurl failed to initialise");
    dm_plugin_dirs d;
    int rc = dm__plugin_dirs_init(&d, dirs, n_dirs, err);
    if (rc != 0)
        return rc;
    for (size_t k = 0; k < d.n && d.n > 1; k++) {
        if (!d.ok[k])
            dm__log(DM_LOG_ERROR, "plugin", "plugin directory %s is not searched: %s", d.dir[k], d.why[k]);
    }
    size_t i;
    const json_t *e;
    json_array_foreach(plugins, i, e) {
        const char *name;
        bool enabled;
        const json_t *config;
        char path[DM_PLUGIN_PATH_MAX];
        if (!parse_entry(set, i, e, &name, &enabled, &config) || !enabled)
            continue;
        if (find_file(set, &d, name, path) == 0)
            load_entry(set, path, name, config);
    }
    return 0;
}

void dm__plugins_quiet(dm_plugin_set *set)
{
    if (set != NULL)
        set->quiet = true;
}

void dm__plugins_only(dm_plugin_set *set, dm_plugin_kind_t kind)
{
    if (set != NULL)
        set->only = (int)kind;
}

size_t dm__plugins_count(const dm_plugin_set *set)
{
    return set != NULL ? set->n : 0;
}

const dm_plugin *dm__plugins_at(const dm_plugin_set *set, size_t i)
{
    return set != NULL && i < set->n ? set->items[i] : NULL;
}

const dm_plugin *dm__plugins_find(const dm_plugin_set *set, dm_plugin_kind_t kind,
                                  const char *name)
{
    for (size_t i = 0; set != NULL && i < set->n; i++) {
        const dm_plugin *p = set->items[i];
        if (p->kind == kind && (name == NULL || strcmp(p->name, name) == 0))
            return p;
    }
    return NULL;
}

json_t *dm__plugins_list_json(const dm_plugin_set *set)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && set != NULL && i < set->n; i++) {
        const dm_plugin *p = set->items[i];
        char abi[16];
        snprintf(abi, sizeof abi, "%u.%u", p->abi_major, p->abi_minor);
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "name", p->name,
                              "kind", dm__plugin_kind_name(p->kind), "version", p->version,
                              "abi", abi, "file", p->file, "description", p->description);
        if (o == NULL || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

const json_t *dm__plugins_refusals(const dm_plugin_set *set)
{
    return set != NULL ? set->refusals : NULL;
}

void dm__plugins_free(dm_plugin_set *set)
{
    if (set == NULL)
        return;
    /* Reverse order: a plugin loaded later may have been set up assuming
     * the earlier ones exist. */
    for (size_t i = set->n; i > 0; i--)
        dm__plugin_close(set->items[i - 1]);
    free(set->items);
    json_decref(set->refusals);
    free(set);
}
