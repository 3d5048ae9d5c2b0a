/*
 * loader.h — one plugin file from disk to a running plugin: permission
 * checks, dlopen, descriptor and ABI checks, the zero-extended copy of its
 * ops table, its config, init; and back (fini, dlclose). The registry
 * decides what to load and records refusals; this file judges one plugin.
 */
#ifndef DM_PLUGIN_LOADER_H
#define DM_PLUGIN_LOADER_H

#include <stdbool.h>

#include <jansson.h>

#include <dermaga/error.h>

#include "plugin/registry.h"

/* True for [a-z0-9][a-z0-9_-]{0,62}: plugin names, which also name files. */
bool dm__plugin_name_valid(const char *name);

/*
 * Refuse a plugin directory that is missing, not a directory, writable by
 * group or others, or owned by someone other than root or this process's
 * user (any of whom could swap a plugin under us). 0, or DM_ENOTFOUND /
 * DM_EINVAL / DM_EPERM with the reason (without the path) in err.
 */
int dm__plugin_check_dir(const char *dir, dm_err_t *err);

/*
 * Open the plugin at path and run every check that needs no config: the
 * file (regular, not a symlink, not writable by group or others, owned by
 * root or us), dlopen(RTLD_NOW|RTLD_LOCAL), the entry symbol, the
 * descriptor (magic, ABI major and minor, size, build signature, name,
 * version, kind), the ops table (present, size within what the kind
 * accepts, required ops non-NULL) and the config key table. The ops table
 * is copied into a zeroed table of the host's size. Does not check the
 * directory (the caller does, once) and does not call init.
 * On success returns 0 and *out is new (dm__plugin_close). On refusal
 * returns DM_EABI, DM_EPERM, DM_ENOTFOUND, DM_EINVAL or DM_ENOMEM with the
 * exact reason (without the path) in err, and nothing stays open.
 */
int dm__plugin_open(const char *path, dm_plugin **out, dm_err_t *err);

/* Validate config (borrowed; NULL = {}) against p's key table and give p
 * its ctx holding the result. 0 or DM_EINVAL / DM_ENOMEM, reason in err. */
int dm__plugin_configure(dm_plugin *p, const json_t *config, dm_err_t *err);

/* Call p's init (after dm__plugin_configure). 0, or the plugin's code
 * (DM_EIO when it returned a positive one) with "init failed: …" in err. */
int dm__plugin_init(dm_plugin *p, dm_err_t *err);

/* fini if init succeeded, dlclose, free. NULL is fine. */
void dm__plugin_close(dm_plugin *p);

#endif
