/*
 * k8s.c — the runtime-kubernetes plugin: its descriptor and the lifecycle
 * ops. provision server-side-applies the objects of k8s_objects.c; status
 * reads the Deployment and its newest pod (k8s_status.c); stop and start
 * scale the Deployment; restart bumps the pod template's restartedAt
 * annotation (what `kubectl rollout restart` does); terminate deletes
 * every object labelled with the instance. Logs and usage: k8s_logs.c;
 * inventory and workloads: k8s_inventory.c; config: k8s_config.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s.h"

static int check_id(const char *id, dm_err_t *err)
{
    return k8s_id_ok(id) ? 0 : dm_err_set(err, DM_EINVAL, "runtime-kubernetes: instance id must "
                                                          "be 1..63 of A-Z a-z 0-9 _ . - (alnum "
                                                          "at both ends)");
}

/* The path of the instance's Deployment in ns (suffix "/scale" or ""). */
static void deployment_path(const char *ns, const char *id, const char *suffix, char *out,
                            size_t cap)
{
    char name[64];
    k8s_object_name(id, name, sizeof name);
    snprintf(out, cap, "/apis/apps/v1/namespaces/%s/deployments/%s%s", ns, name, suffix);
}

/* Apply obj (a new reference, consumed); NULL means out of memory. */
static int apply_new(k8s_state *st, json_t *obj, dm_err_t *err)
{
    if (obj == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    int rc = k8s_apply(st, obj, err);
    json_decref(obj);
    return rc;
}

/* Apply namespace ns (user: whose it is, or NULL). An account allowed in
 * its namespace but not to apply namespaces (the usual RBAC for a
 * namespaced install) gets 403: then the namespace existing is enough. */
static int ensure_namespace(k8s_state *st, const char *ns, const char *user, dm_err_t *err)
{
    int rc = apply_new(st, k8s_namespace_object(ns, user), err);
    if (rc != DM_EPERM)
        return rc;
    char path[160];
    snprintf(path, sizeof path, "/api/v1/namespaces/%s", ns);
    k8s_resp r = { 0 };
    dm_err_t e;
    int got = k8s_get(st, path, "namespace", &r, &e);
    k8s_resp_free(&r);
    if (got == 0) {
        dm_err_clear(err);
        return 0;
    }
    return rc;
}

/* Delete the object of plural named name when the spec no longer wants
 * it (a port or the public port removed). */
static int drop(k8s_state *st, const char *ns, const char *plural, const char *id,
                dm_err_t *err)
{
    char coll[256], path[400], name[64];
    k8s_object_name(id, name, sizeof name);
    if (k8s_collection_path(plural, ns, coll, sizeof coll) != 0)
        return dm_err_set(err, DM_EINVAL, "runtime-kubernetes: no path for %s", plural);
    snprintf(path, sizeof path, "%s/%s", coll, name);
    return k8s_delete(st, path, plural, err);
}

static int k8s_status(void *state, const char *id, dm_runtime_status_t *out, dm_err_t *err);

/* Where the public port is reached: from the instance's Ingress, or NULL.
 * Not finding it (none, or RBAC without ingresses) leaves the status
 * without endpoints rather than failing it. */
static json_t *ingress_endpoints(k8s_state *st, const char *ns, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "/apis/networking.k8s.io/v1/namespaces/%s/ingresses/%s", ns,
             name);
    k8s_resp r = { 0 };
    dm_err_t e;
    json_t *ep = k8s_get(st, path, "ingress", &r, &e) == 0 ? k8s_endpoints_from_ingress(r.json)
                                                           : NULL;
    k8s_resp_free(&r);
    return ep;
}

/* The namespace a provision writes to: the configured one, or the
 * spec's user's. */
static int provision_ns(k8s_state *st, const k8s_spec *spec, k8s_objcfg *cfg, dm_err_t *err)
{
    *cfg = st->obj;
    if (!st->per_user)
        return 0;
    if (spec->user[0] == '\0')
        return dm_err_set(err, DM_EINVAL, "runtime-kubernetes: namespace_per_user needs the "
                                          "spec's user (a host of ABI 1.5 or later)");
    return k8s_user_namespace(st, spec->user, cfg->ns, sizeof cfg->ns, err);
}

static int k8s_provision(void *state, const char *id, const json_t *spec_json,
                         dm_runtime_status_t *out, dm_err_t *err)
{
    k8s_state *st = state;
    k8s_spec spec;
    k8s_objcfg cfg;
    int rc = check_id(id, err);
    if (rc == 0)
        rc = k8s_spec_parse(spec_json, &spec, err);
    if (rc == 0)
        rc = provision_ns(st, &spec, &cfg, err);
    if (rc == 0)
        rc = ensure_namespace(st, cfg.ns, st->per_user ? spec.user : NULL, err);
    /* Secret and claims first: the pods of the Deployment mount them, and
     * k8s_instance_ns finds a provision cut short by its Secret. */
    if (rc == 0)
        rc = apply_new(st, k8s_secret_object(&cfg, id, &spec), err);
    if (rc == 0)
        k8s_ns_remember(st, id, cfg.ns);
    for (size_t i = 0; rc == 0 && i < spec.n_volumes; i++)
        rc = apply_new(st, k8s_pvc_object(&cfg, id, &spec, i), err);
    if (rc == 0)
        rc = apply_new(st, k8s_deployment_object(&cfg, id, &spec), err);
    if (rc == 0) {
        json_t *svc = k8s_service_object(&cfg, id, &spec);
        rc = svc != NULL ? apply_new(st, svc, err) : drop(st, cfg.ns, "services", id, err);
    }
    if (rc == 0) {
        json_t *ing = k8s_ingress_object(&cfg, id, &spec);
        rc = ing != NULL ? apply_new(st, ing, err) : drop(st, cfg.ns, "ingresses", id, err);
    }
    if (rc == 0)
        rc = k8s_status(state, id, out, err);
    return rc;
}

static int k8s_status(void *state, const char *id, dm_runtime_status_t *out, dm_err_t *err)
{
    k8s_state *st = state;
    int rc = check_id(id, err);
    if (rc != 0)
        return rc;
    char path[256], name[64], ns[K8S_LABEL_MAX];
    k8s_object_name(id, name, sizeof name);
    k8s_resp d = { 0 }, pods = { 0 };
    rc = k8s_instance_ns(st, id, ns, sizeof ns, err);
    if (rc == 0) {
        deployment_path(ns, id, "", path, sizeof path);
        rc = k8s_get(st, path, "deployment", &d, err);
    }
    if (rc == DM_ENOTFOUND) {
        dm_err_clear(err);
        k8s_status_from(name, NULL, NULL, out);
        k8s_resp_free(&d);
        return 0;
    }
    if (rc == 0)
        rc = k8s_list_pods(st, ns, id, &pods, err);
    if (rc == 0)
        k8s_status_from(name, d.json, pods.json, out);
    if (rc == 0)
        out->endpoints = ingress_endpoints(st, ns, name);
    k8s_resp_free(&d);
    k8s_resp_free(&pods);
    return rc;
}

/* A merge patch of the Deployment (suffix "" or "/scale"). */
static int patch_deployment(k8s_state *st, const char *id, const char *suffix,
                            const char *body, const char *verb, dm_err_t *err)
{
    char path[256], ns[K8S_LABEL_MAX];
    int rc = check_id(id, err);
    if (rc == 0)
        rc = k8s_instance_ns(st, id, ns, sizeof ns, err);
    if (rc != 0)
        return rc;
    deployment_path(ns, id, suffix, path, sizeof path);
    k8s_resp r = { 0 };
    rc = k8s_patch(st, path, "application/merge-patch+json", body, &r, err);
    if (rc == 0 && r.status != 200 && r.status != 201) {
        char what[96];
        snprintf(what, sizeof what, "deployments%s of %s", suffix, id);
        rc = k8s_api_error(r.status, r.json, verb, what, err);
    }
    k8s_resp_free(&r);
    return rc;
}

/* Scale through the subresource: a merge patch of spec.replicas cannot
 * conflict, so no read-modify-write (and no 409 retry) is needed. */
static int k8s_stop(void *state, const char *id, dm_err_t *err)
{
    return patch_deployment(state, id, "/scale", "{\"spec\":{\"replicas\":0}}", "scale", err);
}

static int k8s_start(void *state, const char *id, dm_err_t *err)
{
    return patch_deployment(state, id, "/scale", "{\"spec\":{\"replicas\":1}}", "scale", err);
}

static int k8s_restart(void *state, const char *id, dm_err_t *err)
{
    k8s_state *st = state;
    char now[40], body[200];
    k8s_format_time(st->host->clock_wall_ms(), now, sizeof now);
    snprintf(body, sizeof body, "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":"
                                "{\"kubectl.kubernetes.io/restartedAt\":\"%s\"}}}}}", now);
    return patch_deployment(st, id, "", body, "restart", err);
}

/* Delete each labelled object of plural one by one (for an API that
 * refuses a collection delete). */
static int delete_listed(k8s_state *st, const char *ns, const char *plural,
                         const char *selector, const char *coll, dm_err_t *err)
{
    k8s_resp r = { 0 };
    int rc = k8s_list(st, ns, plural, selector, &r, err);
    size_t i;
    const json_t *it;
    json_array_foreach(rc == 0 ? json_object_get(r.json, "items") : NULL, i, it) {
        const char *name = json_string_value(json_object_get(json_object_get(it, "metadata"),
                                                             "name"));
        char path[512];
        if (name == NULL || strlen(name) > 253)
            continue;
        snprintf(path, sizeof path, "%s/%s?propagationPolicy=Foreground", coll, name);
        if ((rc = k8s_delete(st, path, plural, err)) != 0)
            break;
    }
    k8s_resp_free(&r);
    return rc;
}

static int k8s_terminate(void *state, const char *id, dm_err_t *err)
{
    k8s_state *st = state;
    int rc = check_id(id, err);
    static const char *const plurals[] = { "deployments", "services", "ingresses", "secrets",
                                           "persistentvolumeclaims" };
    char selector[160], sel[320], ns[K8S_LABEL_MAX];
    k8s_instance_selector(id, selector, sizeof selector);
    if (rc == 0 && !k8s_escape(selector, sel, sizeof sel))
        rc = dm_err_set(err, DM_EINVAL, "runtime-kubernetes: selector too long");
    if (rc == 0)
        rc = k8s_instance_ns(st, id, ns, sizeof ns, err);
    if (rc == DM_ENOTFOUND) { /* nothing of it on the cluster: done */
        dm_err_clear(err);
        return 0;
    }
    for (size_t i = 0; rc == 0 && i < sizeof plurals / sizeof plurals[0]; i++) {
        char coll[256], path[700];
        k8s_collection_path(plurals[i], ns, coll, sizeof coll);
        /* Foreground: the Deployment goes only after its pods, so the
         * claims deleted next are not held by a pod still running. */
        snprintf(path, sizeof path, "%s?labelSelector=%s&propagationPolicy=Foreground", coll, sel);
        k8s_resp r = { 0 };
        rc = k8s_call(st, "DELETE", path, NULL, NULL, &r, err);
        if (rc == 0 && r.status == 405)
            rc = delete_listed(st, ns, plurals[i], selector, coll, err);
        else if (rc == 0 && r.status != 200 && r.status != 202 && r.status != 404)
            rc = k8s_api_error(r.status, r.json, "delete", plurals[i], err);
        k8s_resp_free(&r);
    }
    /* The namespace itself stays (per user it may hold their other
     * instances; an empty one costs nothing). */
    if (rc == 0)
        k8s_ns_forget(st, id);
    return rc;
}

static const dm_runtime_ops_t ops = {
    .provision = k8s_provision,
    .status = k8s_status,
    .stop = k8s_stop,
    .start = k8s_start,
    .restart = k8s_restart,
    .terminate = k8s_terminate,
    .logs = k8s_logs,
    .usage = k8s_usage,
    .inventory = k8s_inventory,
    .workloads = k8s_workloads,
};

static const dm_plugin_info_t info = {
    DM_PLUGIN_HEADER,
    .name = "runtime-kubernetes",
    .version = "0.1.0",
    .kind = DM_PLUGIN_RUNTIME,
    .init = k8s_init,
    .fini = k8s_fini,
    DM_PLUGIN_OPS(ops),
    .config_keys = k8s_conf_keys,
    .description = "workloads as Deployments, Services and Ingresses on a Kubernetes cluster",
};

DM_PLUGIN_ENTRY(info)
