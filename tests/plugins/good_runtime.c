/*
 * good_runtime.c — a minimal runtime plugin: every required op, plus logs
 * (three lines into the host's sink); no init, no state, no config keys.
 * Built again with FIX_NEVER_READY as never_ready_runtime: a workload that
 * stays PENDING with a message, for the provision timeout.
 */
#include <stdio.h>
#include <string.h>

#include <dermaga/runtime.h>

static int provision(void *st, const char *id, const json_t *spec, dm_runtime_status_t *out,
                     dm_err_t *err)
{
    if (json_string_value(json_object_get(spec, "image")) == NULL)
        return dm_err_set(err, DM_EINVAL, "spec has no image");
    out->phase = DM_RUNTIME_PENDING;
    snprintf(out->unit_name, sizeof out->unit_name, "fake-%s", id);
    return 0;
}

static int status(void *st, const char *id, dm_runtime_status_t *out, dm_err_t *err)
{
#ifdef FIX_NEVER_READY
    out->phase = DM_RUNTIME_PENDING;
    snprintf(out->message, sizeof out->message, "still pulling the image");
#else
    out->phase = DM_RUNTIME_RUNNING;
    out->ready = true;
#endif
    snprintf(out->unit_name, sizeof out->unit_name, "fake-%s", id);
    return 0;
}

static int noop(void *st, const char *id, dm_err_t *err) { return 0; }

static int logs(void *st, const char *id, const dm_runtime_log_opts_t *opts,
                const dm_runtime_log_sink_t *sink, dm_err_t *err)
{
    static const char *lines[] = { "one", "two", "three" };
    for (size_t i = 0; i < 3; i++) {
        if (sink->line(sink->opaque, lines[i], strlen(lines[i]), DM_RUNTIME_STDOUT, 0) != 0)
            break;
    }
    return 0;
}

static const dm_runtime_ops_t ops = {
    .provision = provision, .status = status, .stop = noop, .start = noop,
    .restart = noop, .terminate = noop, .logs = logs,
};

static const dm_plugin_info_t info = {
    DM_PLUGIN_HEADER,
#ifdef FIX_NEVER_READY
    .name = "never_ready_runtime",
#else
    .name = "good_runtime",
#endif
    .version = "0.3.0",
    .kind = DM_PLUGIN_RUNTIME,
    DM_PLUGIN_OPS(ops),
};

DM_PLUGIN_ENTRY(info)
