/*
 * plugin.c — the runtime template: a runtime plugin whose "backend" is a
 * table in memory, so every op already keeps the contract of
 * dermaga/runtime.h (idempotent provision, ABSENT for what it does not
 * know, a new unit name after a restart, logs through the sink) and the
 * plugin loads and runs as it is. Replace each op's table work with calls
 * to your backend; README.md next to it says what to fill in.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dermaga/runtime.h>

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "runtime-example"
#endif

#define MAX_UNITS 256

/* What the "backend" knows of one instance. */
typedef struct unit {
    char     id[64];
    char     image[128];
    uint32_t phase;   /* dm_runtime_phase_t */
    uint32_t restarts;
} unit;

/* Ops run on several threads at once: the table is behind a lock. */
typedef struct backend {
    dm_plugin_ctx_t *ctx;
    const dm_host_t *host;
    pthread_mutex_t  lock;
    unit             units[MAX_UNITS];
    size_t           n;
} backend;

static int rt_init(dm_plugin_ctx_t *ctx, const dm_host_t *host, void **state, dm_err_t *err)
{
    backend *b = calloc(1, sizeof *b);
    if (b == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    b->ctx = ctx;
    b->host = host;
    pthread_mutex_init(&b->lock, NULL);
    *state = b;
    return 0;
}

static void rt_fini(void *state)
{
    backend *b = state;
    pthread_mutex_destroy(&b->lock);
    free(b);
}

/* The unit of id, or NULL. Call with the lock held. */
static unit *find(backend *b, const char *id)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->units[i].id, id) == 0)
            return &b->units[i];
    return NULL;
}

/* status of u (NULL: ABSENT) into out. Call with the lock held. */
static void describe(const unit *u, dm_runtime_status_t *out)
{
    if (u == NULL) {
        out->phase = DM_RUNTIME_ABSENT;
        return;
    }
    out->phase = u->phase;
    out->ready = u->phase == DM_RUNTIME_RUNNING;
    out->restarts = u->restarts;
    /* A restart makes a new unit, as a new container or pod would. */
    snprintf(out->unit_name, sizeof out->unit_name, "%.64s-%u", u->id, u->restarts);
}

static int rt_provision(void *state, const char *id, const json_t *spec, dm_runtime_status_t *out,
                        dm_err_t *err)
{
    backend *b = state;
    const char *image = json_string_value(json_object_get(spec, "image"));
    if (image == NULL || strlen(image) >= sizeof b->units[0].image)
        return dm_err_set(err, DM_EINVAL, "spec.image must be a string of at most 127 bytes");
    if (strlen(id) >= sizeof b->units[0].id)
        return dm_err_set(err, DM_EINVAL, "instance id too long");
    pthread_mutex_lock(&b->lock);
    unit *u = find(b, id); /* provision again converges: no second copy */
    if (u == NULL && b->n < MAX_UNITS) {
        u = &b->units[b->n++];
        memset(u, 0, sizeof *u);
        snprintf(u->id, sizeof u->id, "%s", id);
    }
    if (u != NULL) {
        snprintf(u->image, sizeof u->image, "%s", image);
        u->phase = DM_RUNTIME_RUNNING;
    }
    describe(u, out);
    pthread_mutex_unlock(&b->lock);
    return u != NULL ? 0 : dm_err_set(err, DM_EUNAVAIL, "the backend is full");
}

static int rt_status(void *state, const char *id, dm_runtime_status_t *out, dm_err_t *err)
{
    backend *b = state;
    pthread_mutex_lock(&b->lock);
    describe(find(b, id), out);
    pthread_mutex_unlock(&b->lock);
    return 0;
}

/* Set the phase of id (restart: a new unit too); DM_ENOTFOUND when absent. */
static int change(backend *b, const char *id, uint32_t phase, bool restart, dm_err_t *err)
{
    pthread_mutex_lock(&b->lock);
    unit *u = find(b, id);
    if (u != NULL) {
        u->phase = phase;
        u->restarts += restart ? 1u : 0u;
    }
    pthread_mutex_unlock(&b->lock);
    return u != NULL ? 0 : dm_err_set(err, DM_ENOTFOUND, "no instance %s", id);
}

static int rt_stop(void *state, const char *id, dm_err_t *err)
{
    return change(state, id, DM_RUNTIME_STOPPED, false, err);
}

static int rt_start(void *state, const char *id, dm_err_t *err)
{
    return change(state, id, DM_RUNTIME_RUNNING, false, err);
}

static int rt_restart(void *state, const char *id, dm_err_t *err)
{
    return change(state, id, DM_RUNTIME_RUNNING, true, err);
}

/* Idempotent: terminating what is not there succeeds. */
static int rt_terminate(void *state, const char *id, dm_err_t *err)
{
    backend *b = state;
    pthread_mutex_lock(&b->lock);
    unit *u = find(b, id);
    if (u != NULL)
        *u = b->units[--b->n];
    pthread_mutex_unlock(&b->lock);
    return 0;
}

/* One line per instance; a real backend streams its workload's output and,
 * when following, keeps going until sink->cancelled() or sink->line()
 * says stop. */
static int rt_logs(void *state, const char *id, const dm_runtime_log_opts_t *opts,
                   const dm_runtime_log_sink_t *sink, dm_err_t *err)
{
    backend *b = state;
    char line[256];
    pthread_mutex_lock(&b->lock);
    const unit *u = find(b, id);
    int n = u != NULL ? snprintf(line, sizeof line, "running %s (restart %u)", u->image, u->restarts)
                      : 0;
    pthread_mutex_unlock(&b->lock);
    if (u == NULL)
        return dm_err_set(err, DM_ENOTFOUND, "no instance %s", id);
    sink->line(sink->opaque, line, (size_t)n, DM_RUNTIME_STDOUT, b->host->clock_wall_ms());
    return 0;
}

static const dm_runtime_ops_t rt_ops = {
    .provision = rt_provision,
    .status = rt_status,
    .stop = rt_stop,
    .start = rt_start,
    .restart = rt_restart,
    .terminate = rt_terminate,
    .logs = rt_logs,
    /* usage, inventory and workloads are optional: NULL answers
     * "not supported" to the host. */
};

static const dm_plugin_info_t rt_info = {
    DM_PLUGIN_HEADER,
    .name = PLUGIN_NAME,
    .version = "0.1.0",
    .kind = DM_PLUGIN_RUNTIME,
    .init = rt_init,
    .fini = rt_fini,
    DM_PLUGIN_OPS(rt_ops),
    .description = "template: a runtime whose backend is a table in memory",
};

DM_PLUGIN_ENTRY(rt_info)
