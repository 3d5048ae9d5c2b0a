/*
 * k8s_inventory.c — what an operator looks at (nodes, namespaces, pods,
 * deployments, services, ingresses; only the fields that help decide
 * something) and the workloads op the reconciler uses to find orphans.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "k8s.h"

static const char *s_at(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    if (b != NULL)
        v = json_object_get(v, b);
    return json_string_value(v);
}

static json_t *str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

/* {"cpuMillicores","memoryBytes"} of a node's capacity or allocatable. */
static json_t *amounts(const json_t *res)
{
    return json_pack("{s:I, s:I}", "cpuMillicores",
                     (json_int_t)k8s_cpu_millicores(json_string_value(json_object_get(res, "cpu"))),
                     "memoryBytes",
                     (json_int_t)k8s_memory_bytes(json_string_value(json_object_get(res,
                                                                                    "memory"))));
}

static bool is_ready(const json_t *status)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(status, "conditions"), i, c) {
        if (strcmp(s_at(c, "type", NULL) != NULL ? s_at(c, "type", NULL) : "", "Ready") == 0)
            return strcmp(s_at(c, "status", NULL) != NULL ? s_at(c, "status", NULL) : "",
                          "True") == 0;
    }
    return false;
}

static json_t *row(const char *what, const json_t *it)
{
    const json_t *md = json_object_get(it, "metadata");
    const json_t *sp = json_object_get(it, "spec");
    const json_t *st = json_object_get(it, "status");
    json_t *o = json_pack("{s:o, s:o, s:o}", "name", str_or_null(s_at(md, "name", NULL)),
                          "namespace", str_or_null(s_at(md, "namespace", NULL)), "created",
                          str_or_null(s_at(md, "creationTimestamp", NULL)));
    if (o == NULL)
        return NULL;
    /* What the host's ?managed= filter reads: Dermaga's own objects carry
     * the recommended managed-by label (k8s_objects.c). */
    const char *by = s_at(md, "labels", K8S_LBL_MANAGED);
    json_object_set_new(o, "managed", json_boolean(by != NULL && strcmp(by, "dermaga") == 0));
    if (strcmp(what, "nodes") == 0) {
        json_object_del(o, "namespace");
        json_object_set_new(o, "ready", json_boolean(is_ready(st)));
        json_object_set_new(o, "capacity", amounts(json_object_get(st, "capacity")));
        json_object_set_new(o, "allocatable", amounts(json_object_get(st, "allocatable")));
    } else if (strcmp(what, "namespaces") == 0) {
        json_object_del(o, "namespace");
        json_object_set_new(o, "phase", str_or_null(s_at(st, "phase", NULL)));
    } else if (strcmp(what, "pods") == 0) {
        json_int_t restarts = 0, ready = 0, total = 0;
        size_t i;
        const json_t *cs;
        json_array_foreach(json_object_get(st, "containerStatuses"), i, cs) {
            restarts += json_integer_value(json_object_get(cs, "restartCount"));
            ready += json_is_true(json_object_get(cs, "ready"));
            total++;
        }
        json_object_set_new(o, "phase", str_or_null(s_at(st, "phase", NULL)));
        json_object_set_new(o, "ready", json_pack("{s:I, s:I}", "ready", ready, "total", total));
        json_object_set_new(o, "restarts", json_integer(restarts));
        json_object_set_new(o, "node", str_or_null(s_at(sp, "nodeName", NULL)));
        json_object_set_new(o, "instance", str_or_null(s_at(md, "labels", K8S_LBL_INSTANCE)));
    } else if (strcmp(what, "deployments") == 0) {
        json_object_set_new(o, "replicas", json_integer(json_integer_value(
                                               json_object_get(sp, "replicas"))));
        json_object_set_new(o, "readyReplicas", json_integer(json_integer_value(
                                                    json_object_get(st, "readyReplicas"))));
        json_object_set_new(o, "instance", str_or_null(s_at(md, "labels", K8S_LBL_INSTANCE)));
    } else if (strcmp(what, "services") == 0) {
        json_t *ports = json_array();
        size_t i;
        const json_t *p;
        json_array_foreach(json_object_get(sp, "ports"), i, p)
            json_array_append_new(ports, json_integer(json_integer_value(json_object_get(p, "port"))));
        json_object_set_new(o, "type", str_or_null(s_at(sp, "type", NULL)));
        json_object_set_new(o, "clusterIP", str_or_null(s_at(sp, "clusterIP", NULL)));
        json_object_set_new(o, "ports", ports);
    } else {
        json_t *hosts = json_array();
        size_t i;
        const json_t *r;
        json_array_foreach(json_object_get(sp, "rules"), i, r) {
            if (s_at(r, "host", NULL) != NULL)
                json_array_append_new(hosts, json_string(s_at(r, "host", NULL)));
        }
        json_object_set_new(o, "class", str_or_null(s_at(sp, "ingressClassName", NULL)));
        json_object_set_new(o, "hosts", hosts);
    }
    return o;
}

/* "podmetrics": metrics.k8s.io's samples of the pods of namespace ns, each
 * {name, namespace, cpuMillicores, memoryMiB (two decimals)} summed over
 * its containers; the host picks the pod (the cluster view's pod metrics).
 * No metrics-server (404 for the group, 503 for its APIService) is
 * DM_EUNAVAIL: the kind exists, the data does not. */
static int pod_metrics(k8s_state *st, const char *ns, json_t **out, dm_err_t *err)
{
    if (ns == NULL || ns[0] == '\0')
        return dm_err_set(err, DM_EINVAL, "runtime-kubernetes: podmetrics needs a namespace");
    char path[256];
    snprintf(path, sizeof path, "/apis/metrics.k8s.io/v1beta1/namespaces/%s/pods", ns);
    k8s_resp r = { 0 };
    int rc = k8s_call(st, "GET", path, NULL, NULL, &r, err);
    if (rc == 0 && (r.status == 404 || r.status == 503))
        rc = dm_err_set(err, DM_EUNAVAIL, "runtime-kubernetes: metrics unavailable");
    else if (rc == 0 && r.status != 200)
        rc = k8s_api_error(r.status, r.json, "list", "pods.metrics.k8s.io", err);
    json_t *arr = rc == 0 ? json_array() : NULL;
    if (rc == 0 && arr == NULL)
        rc = dm_err_set(err, DM_ENOMEM, "out of memory");
    size_t i, j;
    const json_t *it, *c;
    json_array_foreach(rc == 0 ? json_object_get(r.json, "items") : NULL, i, it) {
        int64_t cpu = 0, mem = 0;
        json_array_foreach(json_object_get(it, "containers"), j, c) {
            const json_t *u = json_object_get(c, "usage");
            int64_t cm = k8s_cpu_millicores(json_string_value(json_object_get(u, "cpu")));
            int64_t mb = k8s_memory_bytes(json_string_value(json_object_get(u, "memory")));
            cpu += cm > 0 ? cm : 0;
            mem += mb > 0 ? mb : 0;
        }
        /* Whole hundredths of a MiB, rounded: two decimals in the JSON. */
        double mib = (double)((mem * 100 + 524288) / 1048576) / 100.0;
        const json_t *md = json_object_get(it, "metadata");
        json_t *o = json_pack("{s:o, s:o, s:I, s:f}", "name", str_or_null(s_at(md, "name", NULL)), "namespace",
                              str_or_null(s_at(md, "namespace", NULL)), "cpuMillicores", (json_int_t)cpu,
                              "memoryMiB", mib);
        if (o == NULL || json_array_append_new(arr, o) != 0) {
            rc = dm_err_set(err, DM_ENOMEM, "out of memory");
            break;
        }
    }
    k8s_resp_free(&r);
    if (rc != 0) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

int k8s_inventory(void *state, const char *what, const char *ns, json_t **out, dm_err_t *err)
{
    k8s_state *st = state;
    static const char *const kinds[] = { "nodes", "namespaces", "pods", "deployments",
                                         "services", "ingresses", "podmetrics" };
    bool known = false;
    for (size_t i = 0; what != NULL && i < sizeof kinds / sizeof kinds[0]; i++)
        known = known || strcmp(what, kinds[i]) == 0;
    if (!known)
        return dm_err_set(err, DM_EUNSUPPORTED, "runtime-kubernetes: no inventory of \"%.40s\" "
                                                "(nodes, namespaces, pods, deployments, services, "
                                                "ingresses, podmetrics)", what != NULL ? what : "");
    char esc[128];
    if (ns != NULL && ns[0] != '\0' && (!k8s_escape(ns, esc, sizeof esc) || strcmp(esc, ns) != 0))
        return dm_err_set(err, DM_EINVAL, "runtime-kubernetes: bad namespace filter");
    if (strcmp(what, "podmetrics") == 0)
        return pod_metrics(st, ns, out, err);
    char path[256];
    k8s_collection_path(what, ns, path, sizeof path);
    k8s_resp r = { 0 };
    int rc = k8s_get(st, path, what, &r, err);
    if (rc == DM_ENOTFOUND)
        rc = k8s_api_error(404, r.json, "list", what, err);
    json_t *arr = rc == 0 ? json_array() : NULL;
    if (rc == 0 && arr == NULL)
        rc = dm_err_set(err, DM_ENOMEM, "out of memory");
    size_t i;
    const json_t *it;
    json_array_foreach(rc == 0 ? json_object_get(r.json, "items") : NULL, i, it) {
        json_t *o = row(what, it);
        if (o == NULL || json_array_append_new(arr, o) != 0) {
            rc = dm_err_set(err, DM_ENOMEM, "out of memory");
            break;
        }
    }
    k8s_resp_free(&r);
    if (rc != 0) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

int k8s_workloads(void *state, const char *owner, json_t **out, dm_err_t *err)
{
    k8s_state *st = state;
    if (!k8s_id_ok(owner))
        return dm_err_set(err, DM_EINVAL, "runtime-kubernetes: owner must be a label value");
    char selector[160];
    snprintf(selector, sizeof selector, K8S_LBL_MANAGED "=dermaga," K8S_LBL_OWNER "=%s", owner);
    json_t *ids = json_array();
    if (ids == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    /* Claims and Secrets too: a terminate cut short after the Deployment
     * went, or a provision cut short before it was made (the Secret is
     * written first), leaves objects that only the reconciler would clean. */
    static const char *const plurals[] = { "deployments", "persistentvolumeclaims", "secrets" };
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < sizeof plurals / sizeof plurals[0]; k++) {
        k8s_resp r = { 0 };
        /* Per user, the owner's workloads are spread over namespaces. */
        rc = k8s_list(st, st->per_user ? "" : st->obj.ns, plurals[k], selector, &r, err);
        size_t i, j;
        const json_t *it, *seen;
        json_array_foreach(rc == 0 ? json_object_get(r.json, "items") : NULL, i, it) {
            const char *id = s_at(json_object_get(it, "metadata"), "labels", K8S_LBL_INSTANCE);
            bool dup = id == NULL;
            json_array_foreach(ids, j, seen) dup = dup || strcmp(json_string_value(seen), id) == 0;
            if (!dup)
                json_array_append_new(ids, json_string(id));
        }
        k8s_resp_free(&r);
    }
    if (rc != 0) {
        json_decref(ids);
        return rc;
    }
    *out = ids;
    return 0;
}
