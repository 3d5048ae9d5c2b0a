/*
 * report.c — `dermaga plugins`: what loading the plugin folders with a
 * given config would do, and why not. It runs the loader's own checks and,
 * for the enabled plugins, their init (then fini), so a plugin that would
 * fail to start says so here too.
 */
#include "plugin/registry.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/config_check.h"
#include "plugin/kind_names.h"
#include "plugin/kinds.h"
#include "plugin/loader.h"
#include "plugin/plugin_dirs.h"

#define PATH_MAX_LEN 4096

static void set_status(json_t *e, const char *status, const char *reason)
{
    json_object_set_new(e, "status", json_string(status));
    json_object_set_new(e, "wouldLoad", json_boolean(strcmp(status, "ok") == 0));
    if (reason != NULL) {
        json_t *r = json_string(reason);
        json_object_set_new(e, "reason", r != NULL ? r : json_string("(reason not valid UTF-8)"));
    }
}

/* What the descriptor says about itself. */
static void describe(json_t *e, const dm_plugin *p)
{
    char abi[16];
    snprintf(abi, sizeof abi, "%u.%u", p->abi_major, p->abi_minor);
    json_object_set_new(e, "name", json_string(p->name));
    json_object_set_new(e, "kind", json_string(dm__plugin_kind_name(p->kind)));
    json_object_set_new(e, "version", json_string(p->version));
    json_object_set_new(e, "abi", json_string(abi));
    json_object_set_new(e, "description", json_string(p->description));
    json_t *keys = dm__plugin_conf_table_json(p->info->config_keys);
    if (keys != NULL)
        json_object_set_new(e, "config", keys);
}

/* For an enabled plugin: what a load does after open, init included. */
static int check_enabled(dm_plugin *p, const json_t *config, json_t *seen, dm_err_t *err)
{
    const char *other = json_string_value(json_object_get(seen, p->name));
    if (other != NULL)
        return dm_err_set(err, DM_ECONFLICT, "duplicate name '%s' (already loaded from %s)",
                          p->name, other);
    int rc = dm__plugin_configure(p, config, err);
    if (rc == 0)
        rc = dm__plugin_init(p, err); /* dm__plugin_close runs fini */
    if (rc == 0)
        json_object_set_new(seen, p->name, json_string(p->file));
    return rc;
}

/* One report entry for the file at path. seen maps the names of enabled
 * plugins judged so far to their files. */
static json_t *judge(const char *path, const char *config_name, bool enabled,
                     const json_t *config, json_t *seen, const char *dir_reason)
{
    json_t *e = json_pack("{s:s, s:s, s:b}", "file", path, "configName", config_name,
                          "enabled", enabled);
    if (e == NULL)
        return NULL;
    if (dir_reason != NULL) {
        set_status(e, "refused", dir_reason);
        return e;
    }
    dm_err_t err;
    dm_err_clear(&err);
    dm_plugin *p = NULL;
    int rc = dm__plugin_open(path, &p, &err);
    if (rc == 0) {
        describe(e, p);
        rc = dm__plugin_name_fits_kind(p->name, p->kind, &err);
    }
    if (rc == 0) {
        if (enabled)
            rc = check_enabled(p, config, seen, &err);
    }
    if (rc != 0)
        set_status(e, "refused", err.msg);
    else if (enabled)
        set_status(e, "ok", NULL);
    else
        set_status(e, "disabled", "not enabled in the config");
    dm__plugin_close(p);
    return e;
}

static int is_plugin_file(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 3 && strcmp(d->d_name + n - 3, ".so") == 0;
}

/* Entries for the enabled config entries, in config order. done collects
 * the names handled (so the folder scan skips them). */
static void report_enabled(json_t *out, const dm_plugin_dirs *d, const json_t *plugins, json_t *seen,
                           json_t *done)
{
    size_t i;
    const json_t *ent;
    json_array_foreach(plugins, i, ent) {
        const char *name = json_string_value(json_object_get(ent, "name"));
        const json_t *en = json_object_get(ent, "enabled");
        if (!dm__plugin_name_valid(name) || (en != NULL && !json_is_boolean(en))) {
            char where[64];
            snprintf(where, sizeof where, "plugins[%zu]", i);
            json_t *e = json_pack("{s:n, s:s, s:b}", "file", "configName", where, "enabled", 1);
            if (e != NULL)
                set_status(e, "refused", "config entry has no valid \"name\" or a non-boolean \"enabled\"");
            json_array_append_new(out, e);
            continue;
        }
        if (en != NULL && !json_is_true(en))
            continue;
        char path[DM_PLUGIN_PATH_MAX];
        int overridden = 0;
        dm_err_t ferr = { 0, "" };
        int found = dm__plugin_dirs_find(d, name, path, NULL, &overridden, &ferr);
        json_array_append_new(out, judge(path, name, true, json_object_get(ent, "config"), seen,
                                         found != 0 ? ferr.msg : NULL));
        json_object_set_new(done, name, json_true());
    }
}

/* The other *.so files of the folders that passed their checks: stem →
 * path, a later folder's file replacing an earlier one's. */
static void collect_others(const dm_plugin_dirs *d, json_t *files)
{
    for (size_t k = 0; k < d->n; k++) {
        if (!d->ok[k])
            continue;
        struct dirent **names = NULL;
        int n = scandir(d->dir[k], &names, is_plugin_file, alphasort);
        for (int i = 0; i < n; i++) {
            char stem[256];
            size_t len = strlen(names[i]->d_name) - 3;
            snprintf(stem, sizeof stem, "%.*s", (int)len, names[i]->d_name);
            char path[PATH_MAX_LEN];
            snprintf(path, sizeof path, "%s/%s", d->dir[k], names[i]->d_name);
            json_object_set_new(files, stem, json_string(path));
            free(names[i]);
        }
        free(names);
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Entries for the other *.so files, by file name. */
static void report_others(json_t *out, const dm_plugin_dirs *d, json_t *seen, json_t *done)
{
    json_t *files = json_object();
    if (files == NULL)
        return;
    collect_others(d, files);
    size_t n = json_object_size(files), k = 0;
    const char **stems = calloc(n + 1, sizeof *stems);
    const char *stem;
    json_t *v;
    json_object_foreach(files, stem, v) {
        if (stems != NULL)
            stems[k++] = stem;
    }
    if (stems != NULL)
        qsort(stems, k, sizeof *stems, by_name);
    for (size_t i = 0; i < k; i++) {
        const char *path = json_string_value(json_object_get(files, stems[i]));
        if (json_object_get(done, stems[i]) != NULL) {
            /* reported with its config entry */
        } else if (dm__plugin_name_valid(stems[i])) {
            json_array_append_new(out, judge(path, stems[i], false, NULL, seen, NULL));
        } else {
            /* Never dlopen what no config entry could name. */
            json_t *e = json_pack("{s:s, s:s, s:b}", "file", path, "configName", stems[i], "enabled", 0);
            if (e != NULL)
                set_status(e, "refused", "file name is not a plugin name ([a-z0-9][a-z0-9_-]{0,62}.so)");
            json_array_append_new(out, e);
        }
    }
    free(stems);
    json_decref(files);
}

json_t *dm__plugins_report(const char *dir, const json_t *plugins)
{
    const char *const dirs[] = { dir };
    return dm__plugins_report_dirs(dir != NULL ? dirs : NULL, 1, plugins);
}

json_t *dm__plugins_report_dirs(const char *const *dirs, size_t n_dirs, const json_t *plugins)
{
    json_t *out = json_array();
    json_t *seen = json_object();
    json_t *done = json_object();
    dm_plugin_dirs d;
    dm_err_t err = { 0, "" };
    /* The enabled plugins' init may use the host's HTTP client. */
    if (out == NULL || seen == NULL || done == NULL || dm__plugins_global_init() != 0 ||
        dm__plugin_dirs_init(&d, dirs, n_dirs, &err) != 0) {
        json_decref(out);
        out = NULL;
        goto end;
    }
    if (json_is_array(plugins))
        report_enabled(out, &d, plugins, seen, done);
    report_others(out, &d, seen, done);
end:
    json_decref(seen);
    json_decref(done);
    return out;
}

static void write_keys(FILE *f, const json_t *keys)
{
    size_t i;
    const json_t *k;
    json_array_foreach(keys, i, k) {
        const json_t *dv = json_object_get(k, "default");
        char *def = dv != NULL ? json_dumps(dv, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        const char *doc = json_string_value(json_object_get(k, "doc"));
        fprintf(f, "    config %s: %s%s%s%s%s%s\n", json_string_value(json_object_get(k, "key")),
                json_string_value(json_object_get(k, "type")),
                json_is_true(json_object_get(k, "required")) ? ", required" : "",
                def != NULL ? ", default " : "", def != NULL ? def : "",
                doc != NULL && doc[0] != '\0' ? " — " : "", doc != NULL ? doc : "");
        free(def);
    }
}

int dm__plugins_report_write(FILE *f, const json_t *report)
{
    size_t i;
    const json_t *e;
    /* Plugin authors building out of the tree need the first part. */
    fprintf(f, "host: ABI %d.%d, DM_BUILD_SIGNATURE_STR=\"%s\" (full signature \"%s\")\n",
            DM_PLUGIN_ABI_MAJOR, DM_PLUGIN_ABI_MINOR, DM_BUILD_SIGNATURE_STR, DM_PLUGIN_BUILD_SIGNATURE);
    json_array_foreach(report, i, e) {
        const char *file = json_string_value(json_object_get(e, "file"));
        const char *name = json_string_value(json_object_get(e, "name"));
        const char *status = json_string_value(json_object_get(e, "status"));
        const char *reason = json_string_value(json_object_get(e, "reason"));
        fprintf(f, "%s\n", file != NULL ? file : json_string_value(json_object_get(e, "configName")));
        if (name != NULL)
            fprintf(f, "  %s %s (%s, ABI %s)\n", name,
                    json_string_value(json_object_get(e, "version")),
                    json_string_value(json_object_get(e, "kind")),
                    json_string_value(json_object_get(e, "abi")));
        if (status != NULL && strcmp(status, "ok") == 0)
            fprintf(f, "  would load\n");
        else
            fprintf(f, "  %s: %s\n", status != NULL && strcmp(status, "disabled") == 0
                                         ? "not loaded" : "REFUSED",
                    reason != NULL ? reason : "?");
        write_keys(f, json_object_get(e, "config"));
    }
    return ferror(f) ? DM_EIO : 0;
}
