/*
 * k8s_logs.c — logs and usage of an instance's newest pod. Logs stream the
 * pod log API (timestamps=true, so each line starts with an RFC 3339 time
 * that becomes ts_ms) line by line into the host's sink; a followed log
 * outlives its pod: when the stream ends and the Deployment is still there
 * it attaches to the newest pod again (a replaced or restarted pod). Usage
 * is the metrics API's pod sample in millicores and bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "k8s.h"

#define LINE_MAX_BYTES (64u * 1024u) /* a longer line goes out in pieces */
#define WAIT_STEP_US (200 * 1000)

int k8s_list_pods(k8s_state *st, const char *ns, const char *id, k8s_resp *out, dm_err_t *err)
{
    char selector[160];
    k8s_instance_selector(id, selector, sizeof selector);
    return k8s_list(st, ns, "pods", selector, out, err);
}

/* The newest pod's name into out: 0, DM_ENOTFOUND (no pod), or error. */
static int newest_pod(k8s_state *st, const char *ns, const char *id, char *out, size_t cap,
                      dm_err_t *err)
{
    k8s_resp r = { 0 };
    int rc = k8s_list_pods(st, ns, id, &r, err);
    const json_t *pod = rc == 0 ? k8s_newest_pod(r.json) : NULL;
    const char *name = json_string_value(json_object_get(json_object_get(pod, "metadata"), "name"));
    if (rc == 0 && (name == NULL || strlen(name) >= cap))
        rc = dm_err_set(err, DM_ENOTFOUND, "runtime-kubernetes: instance %s has no pod", id);
    if (rc == 0)
        memcpy(out, name, strlen(name) + 1);
    k8s_resp_free(&r);
    return rc;
}

typedef struct log_run {
    const dm_runtime_log_sink_t *sink;
    char    line[LINE_MAX_BYTES];
    size_t  len;
    bool    stopped;   /* the sink said no more */
    int64_t skip_before; /* on re-attach to the same pod: lines older were sent */
    int64_t last_ts;
} log_run;

static int emit(log_run *lr)
{
    int64_t ts = 0;
    size_t skip = k8s_parse_time(lr->line, lr->len, &ts);
    if (skip > 0 && skip < lr->len && lr->line[skip] == ' ')
        skip++;
    size_t len = lr->len;
    lr->len = 0;
    if (skip > 0 && ts < lr->skip_before)
        return 0;
    if (skip > 0)
        lr->last_ts = ts;
    if (lr->sink->line(lr->sink->opaque, lr->line + skip, len - skip, DM_RUNTIME_STDOUT, ts) != 0) {
        lr->stopped = true;
        return 1;
    }
    return 0;
}

/* The API merges stdout and stderr into one stream, so every line is
 * reported as stdout. */
static int on_data(void *opaque, const char *data, size_t len)
{
    log_run *lr = opaque;
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n') {
            if (emit(lr) != 0)
                return 1;
            continue;
        }
        if (lr->len == sizeof lr->line && emit(lr) != 0)
            return 1;
        lr->line[lr->len++] = data[i];
    }
    return 0;
}

static bool on_poll(void *opaque)
{
    log_run *lr = opaque;
    return lr->sink->cancelled != NULL && lr->sink->cancelled(lr->sink->opaque);
}

/* Sleep about a second, polling the sink; true when it cancelled. */
static bool pause_cancellable(log_run *lr)
{
    for (int i = 0; i < 5; i++) {
        if (on_poll(lr))
            return true;
        usleep(WAIT_STEP_US);
    }
    return on_poll(lr);
}

/* One attach: stream pod's log into lr. */
static int attach(k8s_state *st, const char *ns, const char *pod, uint32_t tail, bool follow,
                  log_run *lr, dm_err_t *err)
{
    char path[512], q[64] = "";
    if (tail > 0)
        snprintf(q, sizeof q, "&tailLines=%u", tail);
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s/log?container=" K8S_CONTAINER
                                "&timestamps=true%s%s", ns, pod, q,
             follow ? "&follow=true" : "");
    long status = 0;
    k8s_resp eb = { 0 };
    int rc = k8s_stream(st, path, follow, on_data, on_poll, lr, &status, &eb, err);
    if (rc == 0 && !lr->stopped && lr->len > 0)
        emit(lr); /* a last line without its newline */
    if (rc == 0 && !lr->stopped && status != 200 && status != 0) {
        char what[160];
        snprintf(what, sizeof what, "pods/%s/log", pod);
        rc = k8s_api_error(status, eb.json, "get", what, err);
    }
    k8s_resp_free(&eb);
    return rc;
}

static bool deployment_exists(k8s_state *st, const char *ns, const char *id)
{
    char name[64], path[256];
    k8s_object_name(id, name, sizeof name);
    snprintf(path, sizeof path, "/apis/apps/v1/namespaces/%s/deployments/%s", ns, name);
    k8s_resp r = { 0 };
    dm_err_t e;
    /* Only a clear 404 ends a follow; an API hiccup keeps trying. */
    bool gone = k8s_get(st, path, "deployment", &r, &e) == DM_ENOTFOUND;
    k8s_resp_free(&r);
    return !gone;
}

int k8s_logs(void *state, const char *id, const dm_runtime_log_opts_t *opts,
             const dm_runtime_log_sink_t *sink, dm_err_t *err)
{
    k8s_state *st = state;
    if (!k8s_id_ok(id))
        return dm_err_set(err, DM_EINVAL, "runtime-kubernetes: invalid instance id");
    bool follow = opts != NULL && opts->follow;
    log_run *lr = calloc(1, sizeof *lr);
    if (lr == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    lr->sink = sink;
    char pod[256], prev[256] = "", ns[K8S_LABEL_MAX];
    int rc = k8s_instance_ns(st, id, ns, sizeof ns, err);
    if (rc == 0)
        rc = newest_pod(st, ns, id, pod, sizeof pod, err);
    uint32_t tail = opts != NULL ? opts->tail_lines : 0;
    /* A one-off read that meets a pod replaced since it was listed (404)
     * reads the newest pod instead, once. */
    for (int again = 0; rc == 0 && !follow && again < 2; again++) {
        rc = attach(st, ns, pod, tail, false, lr, err);
        if (rc != DM_ENOTFOUND || again == 1 || lr->stopped)
            break;
        dm_err_clear(err);
        rc = newest_pod(st, ns, id, pod, sizeof pod, err);
    }
    while (rc == 0 && follow) {
        rc = attach(st, ns, pod, tail, follow, lr, err);
        /* A pod still starting answers 400 ("waiting to start"), one just
         * replaced 404: a follow waits for the next; a one-off read
         * reports it. */
        bool starting = (rc == DM_EINVAL || rc == DM_ENOTFOUND) && follow;
        if ((rc != 0 && !starting) || !follow || lr->stopped || on_poll(lr))
            break;
        dm_err_clear(err);
        rc = 0;
        snprintf(prev, sizeof prev, "%s", pod);
        if (pause_cancellable(lr) || !deployment_exists(st, ns, id))
            break;
        dm_err_t e;
        if (newest_pod(st, ns, id, pod, sizeof pod, &e) != 0) {
            snprintf(pod, sizeof pod, "%s", prev); /* none now: try the same later */
            continue;
        }
        /* A new pod is read from its start; the same pod again (its
         * container restarted, or the stream broke) from where we were. */
        tail = 0;
        lr->skip_before = strcmp(pod, prev) == 0 ? lr->last_ts : 0;
    }
    free(lr);
    return rc;
}

int k8s_usage(void *state, const char *id, dm_runtime_usage_t *out, dm_err_t *err)
{
    k8s_state *st = state;
    if (!k8s_id_ok(id))
        return dm_err_set(err, DM_EINVAL, "runtime-kubernetes: invalid instance id");
    char pod[256], path[512], ns[K8S_LABEL_MAX];
    int rc = k8s_instance_ns(st, id, ns, sizeof ns, err);
    if (rc == 0)
        rc = newest_pod(st, ns, id, pod, sizeof pod, err);
    if (rc != 0)
        return rc;
    snprintf(path, sizeof path, "/apis/metrics.k8s.io/v1beta1/namespaces/%s/pods/%s", ns, pod);
    k8s_resp r = { 0 };
    rc = k8s_call(st, "GET", path, NULL, NULL, &r, err);
    /* No metrics-server (404 for the group, 503 for its APIService), or no
     * sample yet for a new pod. */
    if (rc == 0 && (r.status == 404 || r.status == 503))
        rc = dm_err_set(err, DM_EUNSUPPORTED, "runtime-kubernetes: metrics unavailable");
    else if (rc == 0 && r.status != 200)
        rc = k8s_api_error(r.status, r.json, "get", "pods.metrics.k8s.io", err);
    int64_t cpu = 0, mem = 0;
    size_t i;
    const json_t *c;
    json_array_foreach(rc == 0 ? json_object_get(r.json, "containers") : NULL, i, c) {
        const json_t *u = json_object_get(c, "usage");
        int64_t cm = k8s_cpu_millicores(json_string_value(json_object_get(u, "cpu")));
        int64_t mb = k8s_memory_bytes(json_string_value(json_object_get(u, "memory")));
        cpu += cm > 0 ? cm : 0;
        mem += mb > 0 ? mb : 0;
    }
    if (rc == 0) {
        out->cpu_millicores = cpu;
        out->memory_bytes = mem;
    }
    k8s_resp_free(&r);
    return rc;
}
