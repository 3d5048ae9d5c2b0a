/*
 * registry.h — the core's view of plugins: load the enabled ones from the
 * plugin directory (refusing bad ones with a log line and carrying on),
 * find them by kind and name, list them for the admin API, report on a
 * directory for `dermaga plugins`, and unload them.
 *
 * Threads: dm__plugins_global_init, _new, _load and _free run on the main
 * thread at start and stop. Between _load and _free a set is read-only, so
 * _find, _at, _count, _list_json and _refusals may be called from any
 * thread without a lock, and the ops they return may be called from worker
 * threads (plugins promise their ops are thread-safe).
 */
#ifndef DM_PLUGIN_REGISTRY_H
#define DM_PLUGIN_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include <dermaga/auth.h>
#include <dermaga/error.h>
#include <dermaga/payment.h>
#include <dermaga/plugin.h>
#include <dermaga/runtime.h>
#include <dermaga/service.h>

/* "DMPO": set in a live dm_plugin, cleared when it is freed. */
#define DM_PLUGIN_OBJ_MAGIC 0x4f504d44u

/*
 * One loaded plugin. Owned by its dm_plugin_set; every field is read-only
 * for the rest of the core. Its ops are called through plugin/call.h
 * (dm__payment_cancel(p, id, &err), …), which checks the op, bounds it and
 * copies its error; only that layer reads `ops` and `abi_minor`.
 */
typedef struct dm_plugin {
    uint32_t                magic;     /* DM_PLUGIN_OBJ_MAGIC */
    char                   *name;      /* the descriptor's name; owned */
    char                   *version;   /* owned */
    char                   *file;      /* path it was loaded from; owned */
    char                   *description; /* owned; "" when none */
    dm_plugin_kind_t        kind;
    uint16_t                abi_major; /* what the plugin was built with */
    uint16_t                abi_minor;
    size_t                  ops_size;  /* the plugin's declared table size */
    const void             *ops;       /* the host's full-size copy, zero-extended:
                                          ops the plugin's (older) table lacks are NULL */
    void                   *state;     /* what init stored */
    const dm_plugin_info_t *info;      /* the descriptor, inside the plugin */
    struct dm_plugin_ctx   *ctx;       /* the handle the plugin got; holds its config */
    void                   *dl;        /* dlopen handle */
    bool                    inited;    /* init succeeded: fini is owed */
} dm_plugin;

typedef struct dm_plugin_set dm_plugin_set;

/* Typed ops of p, or NULL when p is NULL or of another kind. Borrowed.
 * For the call layer (plugin/call*.c) and the loader's tests. */
static inline const dm_payment_ops_t *dm__plugin_payment_ops(const dm_plugin *p)
{
    return p != NULL && p->kind == DM_PLUGIN_PAYMENT ? (const dm_payment_ops_t *)p->ops : NULL;
}
static inline const dm_runtime_ops_t *dm__plugin_runtime_ops(const dm_plugin *p)
{
    return p != NULL && p->kind == DM_PLUGIN_RUNTIME ? (const dm_runtime_ops_t *)p->ops : NULL;
}
static inline const dm_service_ops_t *dm__plugin_service_ops(const dm_plugin *p)
{
    return p != NULL && p->kind == DM_PLUGIN_SERVICE ? (const dm_service_ops_t *)p->ops : NULL;
}
static inline const dm_auth_ops_t *dm__plugin_auth_ops(const dm_plugin *p)
{
    return p != NULL && p->kind == DM_PLUGIN_AUTH ? (const dm_auth_ops_t *)p->ops : NULL;
}

/* Process-wide set-up of what plugins use (libcurl). Call once from main
 * before starting threads; 0 or DM_EIO. Loading calls it too, harmlessly.
 * (host_http.c) */
int  dm__plugins_global_init(void);
/* Undo it at exit, after dm__plugins_free and after worker threads stop. */
void dm__plugins_global_cleanup(void);

/* An empty set. New (free with dm__plugins_free); NULL when out of memory. */
dm_plugin_set *dm__plugins_new(void);

/*
 * Load every plugin enabled in `plugins`: a JSON array of
 *   {"name": N, "enabled": bool (default true), "config": {…} (default {})}
 * where the file for N is <dir>/N.so. Each one is checked (permissions of
 * dir and file, descriptor, ABI, build signature, ops table, config table),
 * its name must not be taken, its config must pass its key table, and then
 * init runs. A plugin that fails any step is refused: one log line
 * "refused <file>: <reason>" (level error, src "plugin"), an entry in
 * dm__plugins_refusals, and loading carries on with the next.
 * dir and plugins are borrowed; plugins may be NULL (nothing to load).
 * Returns 0 even when plugins were refused; DM_EINVAL when plugins is not
 * an array or set or dir is NULL; DM_EIO when libcurl cannot initialise.
 * May be called again (another directory): names stay unique across calls.
 */
int dm__plugins_load(dm_plugin_set *set, const char *dir, const json_t *plugins, dm_err_t *err);

/*
 * The same over several folders (plugins.dirs; borrowed, n_dirs >= 1, at
 * most 16 used): N's file is <dir>/N.so of the last folder that has it, so
 * a later folder adds plugins and overrides an earlier one's; an override
 * is logged (level info, src "plugin") naming both paths. A folder that
 * fails the directory checks is not searched (logged once when there are
 * several); an entry found in no folder is refused with "file not found",
 * or that folder's reason.
 */
int dm__plugins_load_dirs(dm_plugin_set *set, const char *const *dirs, size_t n_dirs, const json_t *plugins,
                          dm_err_t *err);

/* Load only the plugins of kind from now on: the enabled plugins of other
 * kinds are opened and closed again, neither initialised nor refused
 * (`dermaga seed` needs the service plugins alone). */
void dm__plugins_only(dm_plugin_set *set, dm_plugin_kind_t kind);

/* Log neither "loaded" nor "refused" lines from now on: the caller
 * reports the set itself (`dermaga check` and `doctor` print one line per
 * plugin). Refusals are still recorded (dm__plugins_refusals). */
void dm__plugins_quiet(dm_plugin_set *set);

/* Plugins loaded. */
size_t dm__plugins_count(const dm_plugin_set *set);

/* The i-th loaded plugin in load order, or NULL past the end. Borrowed. */
const dm_plugin *dm__plugins_at(const dm_plugin_set *set, size_t i);

/* The loaded plugin of `kind` named `name`, or with name NULL the first
 * loaded plugin of that kind; NULL when none. Borrowed (valid until
 * dm__plugins_free). */
const dm_plugin *dm__plugins_find(const dm_plugin_set *set, dm_plugin_kind_t kind,
                                  const char *name);

/* What GET /api/admin/plugins shows: new array of
 * {"name","kind","version","abi":"1.0","file","description"}, load order.
 * NULL when out of memory. */
json_t *dm__plugins_list_json(const dm_plugin_set *set);

/* Refusals so far: array of {"file","name","reason"} ("name" is the
 * configured name), plus "declaredName", "kind", "version" and "abi" when
 * the file was opened before it was refused. Borrowed; valid until
 * dm__plugins_free. */
const json_t *dm__plugins_refusals(const dm_plugin_set *set);

/* Call fini of every loaded plugin (reverse load order), dlclose them and
 * free the set. NULL is fine. */
void dm__plugins_free(dm_plugin_set *set);

/*
 * For `dermaga plugins`: what dm__plugins_load(dir, plugins) would do,
 * running each enabled plugin's init (and fini) as a load would, so one
 * whose init fails is reported refused with the loader's "init failed: …".
 * Returns a new array: first one object
 * per enabled config entry, in config order (its file may be missing), then
 * one per other *.so in dir, by file name:
 *   {"file", "configName", "enabled", "wouldLoad", "status", "reason"?,
 *    "name"?, "kind"?, "version"?, "abi"?, "description"?, "config"? }
 * status is "ok" (enabled and passes every check, init included), "disabled"
 * (passes the checks but is not enabled; its config is not checked) or
 * "refused" (reason says exactly why, as the loader would log it).
 * Enabled entries are judged in config order, so duplicate names come out
 * as they would when loading. "config" lists the declared keys. Nothing is
 * logged. dir and plugins are borrowed. NULL when out of memory.
 */
json_t *dm__plugins_report(const char *dir, const json_t *plugins);

/* The same over several folders, as dm__plugins_load_dirs finds files: an
 * enabled entry is judged from the last folder that has it, and the other
 * files once each (a later folder's file replacing an earlier one's). */
json_t *dm__plugins_report_dirs(const char *const *dirs, size_t n_dirs, const json_t *plugins);

/* Print a report from dm__plugins_report for people: a first line with the
 * host's ABI and build signature (what out-of-tree plugins must be built
 * with), then one block per entry.
 * out and report are borrowed. 0, or DM_EIO when writing fails. */
int dm__plugins_report_write(FILE *out, const json_t *report);

#endif
