/*
 * routed_runtime.c — a runtime plugin that keeps its workloads as files,
 * for the tests of which runtime runs an instance (tests/e2e/
 * test_runtime_choice.c). Built twice, as rt_alpha and rt_beta (FIX_NAME),
 * so two runtimes can be loaded at once and told apart.
 *
 * Config key "dir" (required): a folder shared by both. Each workload is a
 * file <dir>/<name>.<instance id> holding "<phase> <owner>", so its state
 * outlives a server restart; every op appends "<op> <instance id>" to
 * <dir>/<name>.calls, which is how a test sees which runtime was asked.
 * Logs are one line, "<name> says hello". Lifecycle ops take effect at
 * once (status reports the new phase on the first poll).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dirent.h>

#include <dermaga/host.h>
#include <dermaga/runtime.h>

#ifndef FIX_NAME
#define FIX_NAME "rt_alpha"
#endif

typedef struct state {
    char dir[1024];
} state;

static int init(dm_plugin_ctx_t *ctx, const dm_host_t *host, void **out, dm_err_t *err)
{
    const char *dir = json_string_value(json_object_get(host->config(ctx), "dir"));
    state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    snprintf(st->dir, sizeof st->dir, "%s", dir != NULL ? dir : ".");
    *out = st;
    return 0;
}

static void fini(void *st) { free(st); }

/* Append "<op> <id>\n" to the calls file: one write, O_APPEND, so lines
 * from concurrent ops never interleave. */
static void called(const state *st, const char *op, const char *id)
{
    char path[1200], line[160];
    snprintf(path, sizeof path, "%s/%s.calls", st->dir, FIX_NAME);
    int n = snprintf(line, sizeof line, "%s %s\n", op, id);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
        ssize_t w = write(fd, line, (size_t)n);
        (void)w;
        close(fd);
    }
}

static void path_of(const state *st, const char *id, char *out, size_t len)
{
    snprintf(out, len, "%s/%s.%s", st->dir, FIX_NAME, id);
}

/* The phase word and owner of id's workload; false when there is none. */
static bool load(const state *st, const char *id, char phase[16], char owner[64])
{
    char path[1200];
    path_of(st, id, path, sizeof path);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    char buf[128] = "";
    bool ok = fgets(buf, sizeof buf, f) != NULL;
    fclose(f);
    phase[0] = owner[0] = '\0';
    if (ok && sscanf(buf, "%15s %63s", phase, owner) < 1)
        ok = false;
    return ok;
}

static int save(const state *st, const char *id, const char *phase, const char *owner, dm_err_t *err)
{
    char path[1200];
    path_of(st, id, path, sizeof path);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return dm_err_set(err, DM_EIO, "%s: cannot write %s", FIX_NAME, path);
    fprintf(f, "%s %s\n", phase, owner);
    fclose(f);
    return 0;
}

static int provision(void *vst, const char *id, const json_t *spec, dm_runtime_status_t *out, dm_err_t *err)
{
    const state *st = vst;
    called(st, "provision", id);
    const char *owner = json_string_value(json_object_get(spec, "owner"));
    int rc = save(st, id, "running", owner != NULL ? owner : "-", err);
    out->phase = DM_RUNTIME_PENDING;
    snprintf(out->unit_name, sizeof out->unit_name, "%s-%s", FIX_NAME, id);
    return rc;
}

static int status(void *vst, const char *id, dm_runtime_status_t *out, dm_err_t *err)
{
    (void)err;
    const state *st = vst;
    called(st, "status", id);
    char phase[16], owner[64];
    if (!load(st, id, phase, owner)) {
        out->phase = DM_RUNTIME_ABSENT;
        return 0;
    }
    out->phase = strcmp(phase, "running") == 0 ? DM_RUNTIME_RUNNING : DM_RUNTIME_STOPPED;
    out->ready = out->phase == DM_RUNTIME_RUNNING;
    snprintf(out->unit_name, sizeof out->unit_name, "%s-%s", FIX_NAME, id);
    return 0;
}

static int move(const state *st, const char *op, const char *id, const char *phase, dm_err_t *err)
{
    called(st, op, id);
    char was[16], owner[64];
    if (!load(st, id, was, owner))
        return dm_err_set(err, DM_ENOTFOUND, "%s has no workload %s", FIX_NAME, id);
    return save(st, id, phase, owner, err);
}

static int stop(void *st, const char *id, dm_err_t *err) { return move(st, "stop", id, "stopped", err); }
static int start(void *st, const char *id, dm_err_t *err) { return move(st, "start", id, "running", err); }
static int restart(void *st, const char *id, dm_err_t *err) { return move(st, "restart", id, "running", err); }

static int terminate(void *vst, const char *id, dm_err_t *err)
{
    (void)err;
    const state *st = vst;
    called(st, "terminate", id);
    char path[1200];
    path_of(st, id, path, sizeof path);
    unlink(path);
    return 0;
}

static int logs(void *vst, const char *id, const dm_runtime_log_opts_t *opts, const dm_runtime_log_sink_t *sink,
                dm_err_t *err)
{
    const state *st = vst;
    called(st, opts->follow ? "follow" : "logs", id);
    char phase[16], owner[64];
    if (!load(st, id, phase, owner))
        return dm_err_set(err, DM_ENOTFOUND, "%s has no workload %s", FIX_NAME, id);
    static const char line[] = FIX_NAME " says hello";
    if (sink->line(sink->opaque, line, sizeof line - 1, DM_RUNTIME_STDOUT, 0) != 0 || !opts->follow)
        return 0;
    while (!sink->cancelled(sink->opaque))
        usleep(50 * 1000);
    return 0;
}

/* The ids of this runtime's workloads labelled with owner. */
static int workloads(void *vst, const char *owner, json_t **out, dm_err_t *err)
{
    const state *st = vst;
    called(st, "workloads", owner);
    DIR *d = opendir(st->dir);
    if (d == NULL)
        return dm_err_set(err, DM_EIO, "%s: cannot list %s", FIX_NAME, st->dir);
    *out = json_array();
    const size_t plen = strlen(FIX_NAME ".");
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, FIX_NAME ".", plen) != 0 || strcmp(e->d_name + plen, "calls") == 0)
            continue;
        char phase[16], who[64];
        if (load(st, e->d_name + plen, phase, who) && strcmp(who, owner) == 0)
            json_array_append_new(*out, json_string(e->d_name + plen));
    }
    closedir(d);
    return 0;
}

static const dm_runtime_ops_t ops = {
    .provision = provision, .status = status, .stop = stop, .start = start, .restart = restart,
    .terminate = terminate, .logs = logs, .workloads = workloads,
};

static const dm_plugin_conf_key_t keys[] = {
    { "dir", DM_CONF_STRING, DM_CONF_REQUIRED, NULL, "folder of the workload and calls files" },
    DM_CONF_END,
};

static const dm_plugin_info_t info = {
    DM_PLUGIN_HEADER,
    .name = FIX_NAME,
    .version = "0.1.0",
    .kind = DM_PLUGIN_RUNTIME,
    .init = init,
    .fini = fini,
    DM_PLUGIN_OPS(ops),
    .config_keys = keys,
    .description = "a runtime whose workloads are files (tests)",
};

DM_PLUGIN_ENTRY(info)
