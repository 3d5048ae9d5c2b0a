/*
 * plugin_dirs.h — the plugin folders (plugins.dirs, or plugins.dir alone)
 * and which file a plugin name means in them: a later folder adds plugins
 * and overrides an earlier one's file of the same name. A folder that
 * fails the directory checks (dm__plugin_check_dir) is not searched.
 */
#ifndef DM_PLUGIN_DIRS_H
#define DM_PLUGIN_DIRS_H

#include <stdbool.h>
#include <stddef.h>

#include <dermaga/error.h>

#define DM_PLUGIN_DIRS_MAX  16
#define DM_PLUGIN_PATH_MAX  4096

typedef struct dm_plugin_dirs {
    const char *dir[DM_PLUGIN_DIRS_MAX]; /* borrowed, in order */
    bool        ok[DM_PLUGIN_DIRS_MAX];  /* passed the directory checks */
    char        why[DM_PLUGIN_DIRS_MAX][256]; /* why not, when !ok */
    size_t      n;
} dm_plugin_dirs;

/* Check each of dirs[0..n) (borrowed; at most DM_PLUGIN_DIRS_MAX are
 * kept). 0, or DM_EINVAL when n is 0 or a dir is NULL. */
int dm__plugin_dirs_init(dm_plugin_dirs *d, const char *const *dirs, size_t n, dm_err_t *err);

/*
 * The file for plugin name: <dir>/<name>.so of the last checked folder
 * that has it, into path. *overridden is set to how many earlier folders also
 * had it, and prev (when not NULL) the path of the last of those. 0; or
 * DM_ENOTFOUND with path set to where it was looked for last and the
 * reason in err ("file not found", or the directory's own reason when a
 * folder failed its checks), or DM_EINVAL when the path is too long.
 */
int dm__plugin_dirs_find(const dm_plugin_dirs *d, const char *name, char path[DM_PLUGIN_PATH_MAX],
                         char prev[DM_PLUGIN_PATH_MAX], int *overridden, dm_err_t *err);

#endif
