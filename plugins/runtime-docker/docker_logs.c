/*
 * docker_logs.c — runtime-docker's logs (the engine's log stream through
 * the frame parser of docker_frames.c into the host's sink, optionally
 * followed until the sink cancels) and usage (stats samples turned into
 * CPU millicores and memory bytes by docker_stats.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "docker.h"

typedef struct log_run {
    const dm_runtime_log_sink_t *sink;
    dk_frames                    frames;
    bool                         stopped; /* the sink said no more */
} log_run;

/* One parsed line: split off the timestamp and hand it to the sink. */
static int on_line(void *opaque, uint32_t stream, const char *line, size_t len)
{
    log_run *lr = opaque;
    int64_t ts = 0;
    size_t skip = dk_log_timestamp(line, len, &ts);
    if (lr->sink->line(lr->sink->opaque, line + skip, len - skip,
                       stream == 2 ? DM_RUNTIME_STDERR : DM_RUNTIME_STDOUT, ts) != 0) {
        lr->stopped = true;
        return 1;
    }
    return 0;
}

static int on_data(void *opaque, const char *data, size_t len)
{
    log_run *lr = opaque;
    return dk_frames_feed(&lr->frames, data, len);
}

static bool on_poll(void *opaque)
{
    log_run *lr = opaque;
    return lr->sink->cancelled != NULL && lr->sink->cancelled(lr->sink->opaque);
}

/* How long the inspect before a log read may take. */
#define INSPECT_TIMEOUT_MS 5000

/* Whether the container has a TTY (then its log is not multiplexed). */
static int has_tty(const dk_state *st, const char *id, bool *tty, dm_err_t *err)
{
    char path[128];
    snprintf(path, sizeof path, "/containers/dm-%s/json", id);
    dk_resp r = { 0 };
    /* Short: a follow cannot be cancelled while this runs, and an inspect
     * answers in milliseconds unless the engine is stuck. */
    int rc = dk_call(st, "GET", path, NULL, INSPECT_TIMEOUT_MS, &r, err);
    if (rc == 0 && r.status == 404)
        rc = dm_err_set(err, DM_ENOTFOUND, "runtime-docker: no container dm-%s", id);
    else if (rc == 0 && r.status != 200)
        rc = dm_err_set(err, DM_EIO, "runtime-docker: inspect dm-%s: engine answered %ld", id,
                        r.status);
    *tty = rc == 0 && json_is_true(json_object_get(json_object_get(r.json, "Config"), "Tty"));
    dk_resp_free(&r);
    return rc;
}

int dk_logs(void *state, const char *id, const dm_runtime_log_opts_t *opts,
            const dm_runtime_log_sink_t *sink, dm_err_t *err)
{
    const dk_state *st = state;
    if (!dk_id_ok(id))
        return dm_err_set(err, DM_EINVAL, "runtime-docker: invalid instance id");
    bool tty = false;
    int rc = has_tty(st, id, &tty, err);
    if (rc != 0)
        return rc;
    char path[256], tail[24] = "all";
    if (opts != NULL && opts->tail_lines > 0)
        snprintf(tail, sizeof tail, "%u", opts->tail_lines);
    bool follow = opts != NULL && opts->follow;
    snprintf(path, sizeof path, "/containers/dm-%s/logs?stdout=1&stderr=1&timestamps=1&tail=%s%s",
             id, tail, follow ? "&follow=1" : "");
    log_run lr = { .sink = sink };
    dk_frames_init(&lr.frames, tty, on_line, &lr);
    long status = 0;
    rc = dk_stream(st, path, follow, on_data, on_poll, &lr, &status, err);
    if (rc == 0 && !lr.stopped && status == 404)
        rc = dm_err_set(err, DM_ENOTFOUND, "runtime-docker: no container dm-%s", id);
    else if (rc == 0 && !lr.stopped && status != 200 && status != 0)
        rc = dm_err_set(err, DM_EIO, "runtime-docker: logs of dm-%s: engine answered %ld", id,
                        status);
    if (rc == 0 && !lr.stopped)
        dk_frames_finish(&lr.frames);
    dk_frames_free(&lr.frames);
    return rc;
}

/* GET stats?stream=false into r; 0, DM_ENOTFOUND, or an error. */
static int stats_sample(const dk_state *st, const char *id, dk_resp *r, dm_err_t *err)
{
    char path[128];
    snprintf(path, sizeof path, "/containers/dm-%s/stats?stream=false", id);
    int rc = dk_call(st, "GET", path, NULL, 0, r, err);
    if (rc == 0 && r->status == 404)
        return dm_err_set(err, DM_ENOTFOUND, "runtime-docker: no container dm-%s", id);
    if (rc == 0 && (r->status != 200 || !json_is_object(r->json))) {
        char why[200];
        dk_engine_message(r, why, sizeof why);
        return dm_err_set(err, r->status == 409 ? DM_ECONFLICT : DM_EIO,
                          "runtime-docker: stats of dm-%s: engine answered %ld: %s", id,
                          r->status, why);
    }
    return rc;
}

/* Docker fills precpu_stats with the sample taken a second earlier; Podman
 * 4.3 leaves it empty with stream=false. Then a second sample 500 ms later
 * gives the delta. */
int dk_usage(void *state, const char *id, dm_runtime_usage_t *out, dm_err_t *err)
{
    const dk_state *st = state;
    if (!dk_id_ok(id))
        return dm_err_set(err, DM_EINVAL, "runtime-docker: invalid instance id");
    dk_resp a = { 0 }, b = { 0 };
    int rc = stats_sample(st, id, &a, err);
    if (rc == 0) {
        out->memory_bytes = dk_memory_bytes(a.json);
        const json_t *pre = json_object_get(a.json, "precpu_stats");
        if (json_integer_value(json_object_get(pre, "system_cpu_usage")) != 0) {
            out->cpu_millicores = dk_cpu_millicores(a.json);
        } else {
            usleep(500 * 1000);
            rc = stats_sample(st, id, &b, err);
            if (rc == 0)
                out->cpu_millicores = dk_cpu_between(json_object_get(a.json, "cpu_stats"),
                                                  json_object_get(b.json, "cpu_stats"));
        }
    }
    dk_resp_free(&a);
    dk_resp_free(&b);
    return rc;
}
