/*
 * fixtures.h — helpers the plugin tests share (header-only, static): a
 * fresh private plugin directory per test with fixtures copied in at mode
 * 0755 (so the build tree's umask cannot decide the permission checks),
 * stderr capture to read the log lines, and cleanup.
 */
#ifndef DM_TEST_PLUGIN_FIXTURES_H
#define DM_TEST_PLUGIN_FIXTURES_H

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "plugin/registry.h"

/* A new 0700 directory under $TMPDIR (or /tmp); path written to out. */
static inline void fx_mkdtemp(char *out, size_t len)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(out, len, "%s/dm-plugins-XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    ck_assert_msg(mkdtemp(out) != NULL, "mkdtemp %s failed", out);
    ck_assert_msg(chmod(out, 0700) == 0, "chmod %s failed", out);
}

/* Copy the file src to dst, mode 0755 (a plugin the loader will accept).
 * what names src in the failure message. */
static inline void fx_copy_file(const char *src, const char *dst, const char *what)
{
    int in = open(src, O_RDONLY);
    ck_assert_msg(in >= 0, "%s is missing (%s)", src, what);
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    ck_assert_msg(out >= 0, "cannot create %s", dst);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        ck_assert_msg(write(out, buf, (size_t)n) == n, "short write to %s", dst);
    ck_assert_msg(n == 0, "read %s failed", src);
    close(in);
    close(out);
    ck_assert_msg(chmod(dst, 0755) == 0, "chmod %s failed", dst);
}

/* Copy DM_TEST_PLUGIN_DIR/<fixture>.so to <dir>/<as>.so, mode 0755. */
static inline void fx_install_as(const char *dir, const char *fixture, const char *as)
{
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s/%s.so", DM_TEST_PLUGIN_DIR, fixture);
    snprintf(dst, sizeof dst, "%s/%s.so", dir, as);
    fx_copy_file(src, dst, "was tests/plugins built?");
}

static inline void fx_install(const char *dir, const char *fixture)
{
    fx_install_as(dir, fixture, fixture);
}

/* Remove dir and the files directly in it. */
static inline void fx_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    chmod(dir, 0700);
    rmdir(dir);
}

/* Redirect fd 2 to a temporary file until fx_capture_end. */
typedef struct fx_capture {
    int  saved;
    char path[256];
} fx_capture;

static inline void fx_capture_start(fx_capture *c)
{
    snprintf(c->path, sizeof c->path, "/tmp/dm-stderr-XXXXXX");
    int fd = mkstemp(c->path);
    ck_assert_msg(fd >= 0, "mkstemp failed");
    fflush(stderr);
    c->saved = dup(STDERR_FILENO);
    ck_assert_msg(c->saved >= 0 && dup2(fd, STDERR_FILENO) >= 0, "redirecting stderr failed");
    close(fd);
}

/* Restore stderr; returns what was written (new, caller frees; never NULL). */
static inline char *fx_capture_end(fx_capture *c)
{
    fflush(stderr);
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    FILE *f = fopen(c->path, "r");
    ck_assert_msg(f != NULL, "reopening %s failed", c->path);
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    ck_assert_msg(s != NULL, "out of memory");
    size_t n;
    while ((n = fread(s + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            cap *= 2;
            s = realloc(s, cap);
            ck_assert_msg(s != NULL, "out of memory");
        }
    }
    s[len] = '\0';
    fclose(f);
    unlink(c->path);
    return s;
}

/* True when one of the JSON log lines in `log` has src `src` and a "msg"
 * containing `needle`. Lines that are not JSON (sanitizer output) are
 * skipped. */
static inline int fx_log_has(const char *log, const char *src, const char *needle)
{
    const char *line = log;
    while (line != NULL && *line != '\0') {
        const char *nl = strchr(line, '\n');
        size_t n = nl != NULL ? (size_t)(nl - line) : strlen(line);
        json_t *j = json_loadb(line, n, 0, NULL);
        const char *s = json_string_value(json_object_get(j, "src"));
        const char *m = json_string_value(json_object_get(j, "msg"));
        int hit = s != NULL && m != NULL && strcmp(s, src) == 0 && strstr(m, needle) != NULL;
        json_decref(j);
        if (hit)
            return 1;
        line = nl != NULL ? nl + 1 : NULL;
    }
    return 0;
}

/* A plugins config array from JSON text; new. */
static inline json_t *fx_json(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    ck_assert_msg(j != NULL, "bad test JSON: %s", e.text);
    return j;
}

/* A built plugin loaded through the core loader from a private copy of
 * its .so (the loader refuses files others can write, so tests never load
 * from the build tree directly). */
typedef struct fx_plugin {
    char             dir[512]; /* the private plugin directory */
    dm_plugin_set   *set;
    const dm_plugin *p;        /* NULL when the plugin was refused */
    char            *log;      /* what loading logged (refusals say why) */
} fx_plugin;

/* Copy so_path to a new directory as <name>.so and load it with config
 * (stolen) as a plugin of kind; loading itself must succeed (a refused
 * plugin leaves f->p NULL and the reason in f->log). what_missing names
 * the build target in the failure message when so_path is absent. */
static inline void fx_plugin_open(fx_plugin *f, const char *so_path, const char *name, dm_plugin_kind_t kind,
                                  json_t *config)
{
    memset(f, 0, sizeof *f);
    fx_mkdtemp(f->dir, sizeof f->dir);
    char dst[1024];
    snprintf(dst, sizeof dst, "%s/%s.so", f->dir, name);
    fx_copy_file(so_path, dst, "was the plugin's target built?");
    json_t *plugins = json_pack("[{s:s,s:o}]", "name", name, "config", config);
    ck_assert_msg(plugins != NULL, "json_pack failed");
    f->set = dm__plugins_new();
    ck_assert_msg(f->set != NULL, "dm__plugins_new failed");
    fx_capture cap;
    fx_capture_start(&cap);
    dm_err_t err;
    dm_err_clear(&err);
    int rc = dm__plugins_load(f->set, f->dir, plugins, &err);
    f->log = fx_capture_end(&cap);
    json_decref(plugins);
    ck_assert_msg(rc == 0, "dm__plugins_load: %d (%s)", rc, err.msg);
    f->p = dm__plugins_find(f->set, kind, name);
}

/* Unload and remove the private directory. */
static inline void fx_plugin_close(fx_plugin *f)
{
    dm__plugins_free(f->set);
    free(f->log);
    fx_rmdir(f->dir);
}

#endif
