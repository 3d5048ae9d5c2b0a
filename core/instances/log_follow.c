/*
 * log_follow.c — a live log (observe.h): on the caller's own thread,
 * follow the workload's log through the runtime plugin's logs op
 * (plugin/call.h) and send every line as one event, the same fields as
 * the Socket.IO `log` event ({instanceId, line, stream, timestamp}); then
 * `logs-error` when the follow failed and `logs-ended`. Where the events go is the caller's
 * (dm_event_out): GET /api/instances/:id/logs/stream hands an SSE stream.
 */
#include "instances/observe.h"

#include <stdlib.h>
#include <string.h>

#include "plugin/call.h"
#include "util/log.h"

/* What one follow needs; owned by the stream (dm__instance_follow_free). */
struct dm_instance_follow {
    const dm_plugin        *p;   /* borrowed: plugins outlive every stream */
    char                    id[37];
    uint32_t                tail;
    bool                    has_workload;
    const dm_event_out     *out;  /* set by dm__instance_follow_run */
};

dm_instance_follow *dm__instance_follow_new(const dm_plugin *p, bool has_workload, const char *instance_id,
                                            uint32_t tail)
{
    dm_instance_follow *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    f->p = p;
    f->tail = tail;
    f->has_workload = has_workload;
    memcpy(f->id, instance_id, strnlen(instance_id, sizeof f->id - 1));
    return f;
}

void dm__instance_follow_free(void *f)
{
    free(f);
}

/* One line as a `data:` JSON object; non-zero stops the follow. */
static int on_line(void *opaque, const char *line, size_t len, uint32_t stream, int64_t ts_ms)
{
    dm_instance_follow *f = opaque;
    size_t n = 0;
    char *text = dm__instance_logs_utf8(line, len, &n);
    json_t *ev = text != NULL ? dm__instance_log_line(text, n, stream, ts_ms) : NULL;
    free(text);
    if (ev != NULL && json_object_set_new(ev, "instanceId", json_string(f->id)) != 0) {
        json_decref(ev);
        ev = NULL;
    }
    char *data = ev != NULL ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    int rc = data != NULL ? f->out->send(f->out->ctx, NULL, data) : DM_ENOMEM;
    free(data);
    return rc != 0;
}

static bool on_cancelled(void *opaque)
{
    const dm_instance_follow *f = opaque;
    return f->out->cancelled(f->out->ctx);
}

/* `event: name` with {"message": msg} or {"instanceId": id}. */
static void control(dm_instance_follow *f, const char *event, const char *msg)
{
    json_t *j = msg != NULL ? json_pack("{s:s}", "message", msg) : json_pack("{s:s}", "instanceId", f->id);
    char *data = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (data != NULL)
        f->out->send(f->out->ctx, event, data);
    free(data);
}

void dm__instance_follow_run(dm_instance_follow *f, const dm_event_out *out)
{
    f->out = out;
    dm_err_t err = { 0, "" };
    int rc;
    if (!f->has_workload) {
        rc = DM_ENOTFOUND;
    } else {
        /* A follow runs here, on the stream's own thread, for as long as
         * the client stays: the call layer does not bound it. */
        dm_runtime_log_opts_t opts = { .tail_lines = f->tail, .follow = true };
        dm_runtime_log_sink_t sink = { .opaque = f, .line = on_line, .cancelled = on_cancelled };
        rc = dm__runtime_logs(f->p, f->id, &opts, &sink, &err);
    }
    if (out->cancelled(out->ctx))
        return; /* the client left or the server is draining: nobody to tell */
    if (rc == DM_ENOTFOUND) {
        control(f, "logs-error", "the instance has no workload to read logs from");
    } else if (rc != 0) {
        /* The runtime's message may name hosts and sockets: the log only. */
        DM_LOG_W("log stream %s: %s", f->id, err.msg);
        control(f, "logs-error", "the container runtime could not stream the log");
    }
    control(f, "logs-ended", NULL);
}
