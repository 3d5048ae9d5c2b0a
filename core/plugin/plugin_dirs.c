/*
 * plugin_dirs.c — which file a plugin name means in the plugin folders
 * (plugin_dirs.h).
 */
#include "plugin/plugin_dirs.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "plugin/loader.h"

int dm__plugin_dirs_init(dm_plugin_dirs *d, const char *const *dirs, size_t n, dm_err_t *err)
{
    memset(d, 0, sizeof *d);
    if (n == 0 || dirs == NULL)
        return dm_err_set(err, DM_EINVAL, "plugins: no plugin directory");
    for (size_t i = 0; i < n && i < DM_PLUGIN_DIRS_MAX; i++) {
        if (dirs[i] == NULL)
            return dm_err_set(err, DM_EINVAL, "plugins: no plugin directory");
        dm_err_t derr = { 0, "" };
        d->dir[i] = dirs[i];
        d->ok[i] = dm__plugin_check_dir(dirs[i], &derr) == 0;
        snprintf(d->why[i], sizeof d->why[i], "%s", derr.msg);
        d->n = i + 1;
    }
    return 0;
}

int dm__plugin_dirs_find(const dm_plugin_dirs *d, const char *name, char path[DM_PLUGIN_PATH_MAX],
                         char prev[DM_PLUGIN_PATH_MAX], int *overridden, dm_err_t *err)
{
    int found = 0;
    const char *bad = NULL; /* a folder's reason, when one failed its checks */
    char candidate[DM_PLUGIN_PATH_MAX];
    *overridden = 0;
    path[0] = '\0';
    for (size_t i = 0; i < d->n; i++) {
        if (snprintf(candidate, sizeof candidate, "%s/%s.so", d->dir[i], name) >= (int)sizeof candidate)
            return dm_err_set(err, DM_EINVAL, "plugin path too long");
        struct stat st;
        if (!d->ok[i]) {
            if (found == 0) {
                bad = d->why[i];
                memcpy(path, candidate, sizeof candidate);
            }
            continue;
        }
        /* lstat: a symlink counts as there (the loader refuses it). */
        if (lstat(candidate, &st) != 0) {
            if (found == 0 && bad == NULL)
                memcpy(path, candidate, sizeof candidate);
            continue;
        }
        if (found > 0 && prev != NULL)
            memcpy(prev, path, DM_PLUGIN_PATH_MAX);
        memcpy(path, candidate, sizeof candidate);
        found++;
    }
    *overridden = found > 0 ? found - 1 : 0;
    if (found > 0)
        return 0;
    return dm_err_set(err, DM_ENOTFOUND, "%s", bad != NULL ? bad : "file not found");
}
