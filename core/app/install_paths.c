/*
 * install_paths.c — the defaults of install_paths.h: the running binary's
 * folder (from /proc/self/exe) joined with the layout's relative paths.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/install_paths.h"

/* The running binary's folder into out; "." when it cannot be told. */
static void exe_dir(char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash = NULL;
    if (n > 0) {
        exe[n] = '\0';
        slash = strrchr(exe, '/');
    }
    if (slash == NULL || (size_t)(slash - exe) >= cap) {
        snprintf(out, cap, ".");
        return;
    }
    *slash = '\0';
    snprintf(out, cap, "%s", slash == exe ? "/" : exe);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* "<exe dir>/<build_rel>" when it exists, else "<exe dir>/<installed_rel>". */
static char *first_of(const char *build_rel, const char *installed_rel)
{
    char dir[PATH_MAX], path[PATH_MAX + 256];
    exe_dir(dir, sizeof dir);
    int n = snprintf(path, sizeof path, "%s/%s", dir, build_rel);
    if (n < 0 || (size_t)n >= sizeof path || !exists(path))
        n = snprintf(path, sizeof path, "%s/%s", dir, installed_rel);
    if (n < 0 || (size_t)n >= sizeof path)
        return NULL;
    return strdup(path);
}

char *dm__install_share_path(const char *rel)
{
    char b[256], i[256];
    int nb = snprintf(b, sizeof b, "share/dermaga/%s", rel);
    int ni = snprintf(i, sizeof i, "../share/dermaga/%s", rel);
    if (nb < 0 || (size_t)nb >= sizeof b || ni < 0 || (size_t)ni >= sizeof i)
        return NULL;
    return first_of(b, i);
}

char *dm__install_plugins_dir(void)
{
    return first_of("plugins", "../lib/dermaga/plugins");
}
