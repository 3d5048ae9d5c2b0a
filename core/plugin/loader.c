/*
 * loader.c — judging and opening one plugin file. Every refusal names the
 * exact field or condition (PostgreSQL's PG_MODULE_MAGIC style), because
 * "incompatible plugin" alone sends an operator guessing.
 */
#include "loader.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin/config_check.h"
#include "plugin/host_api.h"
#include "plugin/kinds.h"

#define VERSION_MAX     64
#define DESCRIPTION_MAX 512

bool dm__plugin_name_valid(const char *name)
{
    if (name == NULL || name[0] == '\0' || strlen(name) > 63)
        return false;
    for (const char *p = name; *p != '\0'; p++) {
        bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9');
        if (!alnum && (p == name || (*p != '_' && *p != '-')))
            return false;
    }
    return true;
}

/* Group/other-writable or foreign-owned: someone else could replace it. */
static int check_mode(const struct stat *st, const char *what, dm_err_t *err)
{
    if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0)
        return dm_err_set(err, DM_EPERM, "%s is writable by group or others (mode %04o)", what,
                          (unsigned)(st->st_mode & 07777));
    if (st->st_uid != 0 && st->st_uid != geteuid())
        return dm_err_set(err, DM_EPERM, "%s is owned by uid %u, neither root nor uid %u", what,
                          (unsigned)st->st_uid, (unsigned)geteuid());
    return 0;
}

int dm__plugin_check_dir(const char *dir, dm_err_t *err)
{
    struct stat st;
    if (dir == NULL || stat(dir, &st) != 0)
        return dm_err_set(err, DM_ENOTFOUND, "plugin directory does not exist");
    if (!S_ISDIR(st.st_mode))
        return dm_err_set(err, DM_EINVAL, "plugin directory is not a directory");
    return check_mode(&st, "plugin directory", err);
}

/* A symlink is refused rather than followed: its target may sit in a
 * directory we never checked. */
static int check_file(const char *path, dm_err_t *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return dm_err_set(err, DM_ENOTFOUND, "file not found");
    if (S_ISLNK(st.st_mode))
        return dm_err_set(err, DM_EPERM, "file is a symbolic link (install the file itself)");
    if (!S_ISREG(st.st_mode))
        return dm_err_set(err, DM_EINVAL, "not a regular file");
    return check_mode(&st, "file", err);
}

static bool is_utf8_line(const char *s, size_t max)
{
    if (s == NULL || strlen(s) > max || strpbrk(s, "\r\n") != NULL)
        return false;
    json_t *j = json_string(s); /* jansson refuses invalid UTF-8 */
    bool ok = j != NULL;
    json_decref(j);
    return ok;
}

/* The frozen prefix: these checks mean the same for every ABI major. */
static int check_frozen(const dm_plugin_info_t *in, dm_err_t *err)
{
    if (in->magic != DM_PLUGIN_MAGIC)
        return dm_err_set(err, DM_EABI, "bad magic 0x%08x (expected 0x%08x)", in->magic,
                          DM_PLUGIN_MAGIC);
    if (in->abi_major != DM_PLUGIN_ABI_MAJOR)
        return dm_err_set(err, DM_EABI, "ABI major %u, host speaks %u", in->abi_major,
                          DM_PLUGIN_ABI_MAJOR);
    if (in->abi_minor > DM_PLUGIN_ABI_MINOR)
        return dm_err_set(err, DM_EABI, "ABI minor: plugin needs %u.%u, newer than the host's %u.%u",
                          in->abi_major, in->abi_minor, DM_PLUGIN_ABI_MAJOR, DM_PLUGIN_ABI_MINOR);
    if (in->info_size < DM_PLUGIN_INFO_SIZE_1_0)
        return dm_err_set(err, DM_EABI, "descriptor is %u bytes, ABI %u.0 needs at least %zu",
                          in->info_size, DM_PLUGIN_ABI_MAJOR, (size_t)DM_PLUGIN_INFO_SIZE_1_0);
    if (in->build_signature == NULL)
        return dm_err_set(err, DM_EABI, "no build signature (host's is \"%s\")",
                          DM_PLUGIN_BUILD_SIGNATURE);
    if (strcmp(in->build_signature, DM_PLUGIN_BUILD_SIGNATURE) != 0)
        return dm_err_set(err, DM_EABI, "build signature \"%.80s\" does not match the host's \"%s\"",
                          is_utf8_line(in->build_signature, 80) ? in->build_signature : "(unprintable)",
                          DM_PLUGIN_BUILD_SIGNATURE);
    return 0;
}

/* The 1.0 fields other than the ops table. */
static int check_identity(const dm_plugin_info_t *in, dm_err_t *err)
{
    if (!dm__plugin_name_valid(in->name))
        return dm_err_set(err, DM_EINVAL, "invalid name \"%.63s\" (want [a-z0-9][a-z0-9_-]{0,62})",
                          is_utf8_line(in->name, 63) ? in->name : "(missing or unprintable)");
    if (!is_utf8_line(in->version, VERSION_MAX) || in->version[0] == '\0')
        return dm_err_set(err, DM_EINVAL, "missing or invalid version (one UTF-8 line, at most %d bytes)",
                          VERSION_MAX);
    if (in->description != NULL && !is_utf8_line(in->description, DESCRIPTION_MAX))
        return dm_err_set(err, DM_EINVAL, "invalid description (one UTF-8 line, at most %d bytes)",
                          DESCRIPTION_MAX);
    if (dm__plugin_kind_find(in->kind) == NULL)
        return dm_err_set(err, DM_EINVAL, "unknown kind %u", in->kind);
    return 0;
}

/*
 * Copy the plugin's ops into a zeroed table of the host's size (OBS-style):
 * an older plugin's shorter table leaves the newer ops NULL. *copy is new.
 */
static int copy_ops(const dm_plugin_info_t *in, void **copy, dm_err_t *err)
{
    const dm_plugin_kind_desc *k = dm__plugin_kind_find(in->kind);
    *copy = NULL;
    if (in->ops == NULL)
        return dm_err_set(err, DM_EABI, "no ops table");
    if (in->ops_size < k->min_size)
        return dm_err_set(err, DM_EABI, "ops table is %zu bytes, a %s plugin needs at least %zu",
                          in->ops_size, k->name, k->min_size);
    if (in->ops_size > k->ops_size)
        return dm_err_set(err, DM_EABI, "ops table is %zu bytes, more than the %zu of a %s table in ABI %u.%u",
                          in->ops_size, k->ops_size, k->name, DM_PLUGIN_ABI_MAJOR, DM_PLUGIN_ABI_MINOR);
    unsigned char *t = calloc(1, k->ops_size);
    if (t == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    memcpy(t, in->ops, in->ops_size);
    int rc = dm__plugin_kind_check_required(k, t, in->abi_minor, err);
    if (rc != 0) {
        free(t);
        return rc;
    }
    *copy = t;
    return 0;
}

static void plugin_free(dm_plugin *p)
{
    p->magic = 0;
    free(p->name);
    free(p->version);
    free(p->file);
    free(p->description);
    free((void *)p->ops);
    dm__plugin_ctx_free(p->ctx);
    free(p);
}

/* Build the dm_plugin for a descriptor that passed every check. */
static int make_plugin(const char *path, void *dl, const dm_plugin_info_t *in, void *ops,
                       dm_plugin **out, dm_err_t *err)
{
    dm_plugin *p = calloc(1, sizeof *p);
    if (p == NULL) {
        free(ops);
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    }
    p->magic = DM_PLUGIN_OBJ_MAGIC;
    p->ops = ops;
    p->name = strdup(in->name);
    p->version = strdup(in->version);
    p->file = strdup(path);
    p->description = strdup(in->description != NULL ? in->description : "");
    if (p->name == NULL || p->version == NULL || p->file == NULL || p->description == NULL) {
        plugin_free(p);
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    }
    p->kind = (dm_plugin_kind_t)in->kind;
    p->abi_major = in->abi_major;
    p->abi_minor = in->abi_minor;
    p->ops_size = in->ops_size;
    p->info = in;
    p->dl = dl;
    *out = p;
    return 0;
}

/* Everything after dlopen succeeded; the caller dlcloses on failure. */
static int judge(const char *path, void *dl, dm_plugin **out, dm_err_t *err)
{
    dlerror();
    dm_plugin_entry_fn entry;
    void *sym = dlsym(dl, DM_PLUGIN_ENTRY_SYMBOL);
    if (sym == NULL)
        return dm_err_set(err, DM_EABI, "no entry symbol %s", DM_PLUGIN_ENTRY_SYMBOL);
    /* POSIX guarantees dlsym's object pointer converts to a function pointer. */
    memcpy(&entry, &sym, sizeof entry);
    const dm_plugin_info_t *in = entry();
    if (in == NULL)
        return dm_err_set(err, DM_EABI, "%s returned NULL", DM_PLUGIN_ENTRY_SYMBOL);
    int rc = check_frozen(in, err);
    if (rc == 0)
        rc = check_identity(in, err);
    if (rc == 0)
        rc = dm__plugin_kind_check_tag(in, err);
    if (rc == 0)
        rc = dm__plugin_conf_table_check(in->config_keys, err);
    void *ops = NULL;
    if (rc == 0)
        rc = copy_ops(in, &ops, err);
    if (rc == 0)
        rc = make_plugin(path, dl, in, ops, out, err);
    return rc;
}

int dm__plugin_open(const char *path, dm_plugin **out, dm_err_t *err)
{
    *out = NULL;
    int rc = check_file(path, err);
    if (rc != 0)
        return rc;
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        const char *why = dlerror();
        return dm_err_set(err, DM_EABI, "dlopen failed: %s", why != NULL ? why : "unknown error");
    }
    rc = judge(path, dl, out, err);
    if (rc != 0)
        dlclose(dl);
    return rc;
}

int dm__plugin_configure(dm_plugin *p, const json_t *config, dm_err_t *err)
{
    json_t *cfg = NULL;
    int rc = dm__plugin_conf_apply(p->info->config_keys, config, &cfg, err);
    if (rc != 0)
        return rc;
    dm__plugin_ctx_free(p->ctx);
    p->ctx = dm__plugin_ctx_new(p->name, cfg);
    if (p->ctx == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    return 0;
}

int dm__plugin_init(dm_plugin *p, dm_err_t *err)
{
    if (p->ctx == NULL)
        return dm_err_set(err, DM_EINVAL, "init: plugin was not configured");
    if (p->info->init == NULL) {
        p->inited = true;
        return 0;
    }
    dm_err_t perr;
    dm_err_clear(&perr);
    void *state = NULL;
    int rc = p->info->init(p->ctx, dm__plugin_host(), &state, &perr);
    perr.msg[sizeof perr.msg - 1] = '\0'; /* the plugin's bytes; trust nothing */
    if (rc == 0) {
        p->state = state;
        p->inited = true;
        return 0;
    }
    return dm_err_set(err, rc < 0 ? rc : DM_EIO, "init failed: %s (code %d)",
                      perr.msg[0] != '\0' ? perr.msg : "no message", rc);
}

void dm__plugin_close(dm_plugin *p)
{
    if (p == NULL)
        return;
    if (p->inited && p->info->fini != NULL)
        p->info->fini(p->state);
    if (p->dl != NULL)
        dlclose(p->dl);
    plugin_free(p);
}
