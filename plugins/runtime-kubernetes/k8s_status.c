/*
 * k8s_status.c — dm_runtime_status_t from a Deployment and the instance's
 * pods. The newest pod (by creationTimestamp, whatever its phase) is the
 * one the user's instance is now: its Ready condition, its container's
 * restart count, and the waiting/terminated reasons that mean it will not
 * come up by itself (CrashLoopBackOff, image pull errors, OOMKilled). Pure.
 */
#include <stdio.h>
#include <string.h>

#include "k8s.h"

const json_t *k8s_newest_pod(const json_t *pod_list)
{
    const json_t *best = NULL;
    const char *best_ts = NULL;
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(pod_list, "items"), i, p) {
        const char *ts = json_string_value(
            json_object_get(json_object_get(p, "metadata"), "creationTimestamp"));
        /* The API writes creationTimestamp as UTC "...Z" with whole
         * seconds, so text order is time order. */
        if (best == NULL || (ts != NULL && (best_ts == NULL || strcmp(ts, best_ts) > 0))) {
            best = p;
            best_ts = ts;
        }
    }
    return best;
}

/* The condition of type in a conditions array, or NULL. */
static const json_t *condition(const json_t *obj_status, const char *type)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(obj_status, "conditions"), i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t != NULL && strcmp(t, type) == 0)
            return c;
    }
    return NULL;
}

static bool cond_true(const json_t *c)
{
    const char *s = json_string_value(json_object_get(c, "status"));
    return s != NULL && strcmp(s, "True") == 0;
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

/* Waiting reasons that stay until someone changes the spec or the image. */
static bool fatal_waiting(const char *reason)
{
    static const char *const fatal[] = { "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull",
                                         "InvalidImageName", "CreateContainerConfigError",
                                         "CreateContainerError" };
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) {
        if (strcmp(reason, fatal[i]) == 0)
            return true;
    }
    return false;
}

/* Fill out from the newest pod. */
static void from_pod(const json_t *pod, dm_runtime_status_t *out)
{
    const json_t *md = json_object_get(pod, "metadata");
    const json_t *ps = json_object_get(pod, "status");
    snprintf(out->unit_name, sizeof out->unit_name, "%s", str(md, "name"));
    out->ready = cond_true(condition(ps, "Ready"));
    const json_t *cs = json_array_get(json_object_get(ps, "containerStatuses"), 0);
    json_int_t restarts = json_integer_value(json_object_get(cs, "restartCount"));
    out->restarts = restarts > 0 && restarts < UINT32_MAX ? (uint32_t)restarts : 0;
    const json_t *waiting = json_object_get(json_object_get(cs, "state"), "waiting");
    const json_t *last = json_object_get(json_object_get(cs, "lastState"), "terminated");
    const char *phase = str(ps, "phase");
    const char *wreason = str(waiting, "reason");
    if (wreason[0] != '\0' && fatal_waiting(wreason)) {
        out->phase = DM_RUNTIME_FAILED;
        const char *lreason = str(last, "reason");
        snprintf(out->message, sizeof out->message, "%s%s%s: %.300s", wreason,
                 lreason[0] != '\0' ? ", last exit: " : "", lreason, str(waiting, "message"));
        return;
    }
    /* OOMKilled only fails the instance while the container is down
     * because of it; one that came back and is ready is running. */
    if (strcmp(str(last, "reason"), "OOMKilled") == 0 && !out->ready) {
        out->phase = DM_RUNTIME_FAILED;
        snprintf(out->message, sizeof out->message,
                 "OOMKilled: the container ran out of its memory limit");
        return;
    }
    if (strcmp(phase, "Running") == 0) {
        out->phase = DM_RUNTIME_RUNNING;
        if (!out->ready)
            snprintf(out->message, sizeof out->message, "not ready: %.400s",
                     str(condition(ps, "Ready"), "message"));
    } else if (strcmp(phase, "Pending") == 0) {
        out->phase = DM_RUNTIME_PENDING;
        const json_t *sched = condition(ps, "PodScheduled");
        if (sched != NULL && !cond_true(sched))
            snprintf(out->message, sizeof out->message, "unschedulable: %.400s",
                     str(sched, "message"));
        else
            snprintf(out->message, sizeof out->message, "%s",
                     wreason[0] != '\0' ? wreason : "pending");
    } else if (strcmp(phase, "Failed") == 0) {
        out->phase = DM_RUNTIME_FAILED;
        snprintf(out->message, sizeof out->message, "pod failed: %s %.300s", str(ps, "reason"),
                 str(ps, "message"));
    } else if (strcmp(phase, "Succeeded") == 0) {
        /* Every container ended with exit code 0: worded as runtime-docker
         * words a clean exit, so the reconciler stops the instance rather
         * than failing and redeploying it. */
        out->phase = DM_RUNTIME_STOPPED;
        snprintf(out->message, sizeof out->message, "exited with code 0");
    } else {
        out->phase = DM_RUNTIME_UNKNOWN;
        snprintf(out->message, sizeof out->message, "pod phase %.60s", phase);
    }
}

void k8s_status_from(const char *name, const json_t *deploy, const json_t *pod_list,
                     dm_runtime_status_t *out)
{
    out->ready = false;
    out->restarts = 0;
    out->message[0] = '\0';
    snprintf(out->unit_name, sizeof out->unit_name, "%s", name);
    if (deploy == NULL) {
        out->phase = DM_RUNTIME_ABSENT;
        snprintf(out->message, sizeof out->message, "no deployment %s", name);
        return;
    }
    const json_t *spec = json_object_get(deploy, "spec");
    const json_t *st = json_object_get(deploy, "status");
    const json_t *pod = k8s_newest_pod(pod_list);
    if (json_integer_value(json_object_get(spec, "replicas")) == 0 &&
        json_object_get(spec, "replicas") != NULL) {
        out->phase = DM_RUNTIME_STOPPED;
        if (pod != NULL)
            snprintf(out->unit_name, sizeof out->unit_name, "%s",
                     str(json_object_get(pod, "metadata"), "name"));
        snprintf(out->message, sizeof out->message, "scaled to 0 replicas");
        return;
    }
    if (pod != NULL) {
        from_pod(pod, out);
        return;
    }
    /* No pod yet: the Deployment's conditions say whether one is coming. */
    const json_t *failure = condition(st, "ReplicaFailure");
    const json_t *progress = condition(st, "Progressing");
    if (failure != NULL && cond_true(failure)) {
        out->phase = DM_RUNTIME_FAILED;
        snprintf(out->message, sizeof out->message, "%.400s", str(failure, "message"));
    } else if (progress != NULL && !cond_true(progress)) {
        out->phase = DM_RUNTIME_FAILED;
        snprintf(out->message, sizeof out->message, "%s: %.400s", str(progress, "reason"),
                 str(progress, "message"));
    } else {
        out->phase = DM_RUNTIME_PENDING;
        snprintf(out->message, sizeof out->message, "no pod yet (%lld of %lld ready)",
                 (long long)json_integer_value(json_object_get(st, "readyReplicas")),
                 (long long)json_integer_value(json_object_get(spec, "replicas")));
    }
}

json_t *k8s_endpoints_from_ingress(const json_t *ingress)
{
    const json_t *md = json_object_get(ingress, "metadata");
    const json_t *sp = json_object_get(ingress, "spec");
    const char *port = json_string_value(json_object_get(json_object_get(md, "annotations"),
                                                         K8S_ANN_PORT));
    const char *host = json_string_value(json_object_get(json_array_get(
                                                             json_object_get(sp, "rules"), 0),
                                                         "host"));
    if (port == NULL || host == NULL || host[0] == '\0')
        return NULL;
    bool tls = json_array_size(json_object_get(sp, "tls")) > 0;
    return json_pack("{s:{s:s, s:i, s:s}}", port, "host", host, "port", tls ? 443 : 80, "scheme",
                     tls ? "https" : "http");
}
