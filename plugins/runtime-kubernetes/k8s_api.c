/*
 * k8s_api.c — the few REST shapes the ops use, on top of k8s_http.c: the
 * path of a kind's collection, server-side apply of a built object, GET,
 * list by label selector and an idempotent DELETE, each turning a refusal
 * into a dm_err through k8s_errors.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "k8s.h"

static const struct kind {
    const char *kind, *plural, *prefix;
    bool        namespaced;
} KINDS[] = {
    { "Namespace", "namespaces", "/api/v1", false },
    { "Node", "nodes", "/api/v1", false },
    { "Secret", "secrets", "/api/v1", true },
    { "PersistentVolumeClaim", "persistentvolumeclaims", "/api/v1", true },
    { "Service", "services", "/api/v1", true },
    { "Pod", "pods", "/api/v1", true },
    { "Deployment", "deployments", "/apis/apps/v1", true },
    { "Ingress", "ingresses", "/apis/networking.k8s.io/v1", true },
};

static const struct kind *find_kind(const char *kind, const char *plural)
{
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++) {
        if ((kind != NULL && strcmp(KINDS[i].kind, kind) == 0) ||
            (plural != NULL && strcmp(KINDS[i].plural, plural) == 0))
            return &KINDS[i];
    }
    return NULL;
}

int k8s_collection_path(const char *plural, const char *ns, char *out, size_t cap)
{
    const struct kind *k = find_kind(NULL, plural);
    if (k == NULL)
        return DM_EUNSUPPORTED;
    int n = k->namespaced && ns != NULL && ns[0] != '\0'
                ? snprintf(out, cap, "%s/namespaces/%s/%s", k->prefix, ns, k->plural)
                : snprintf(out, cap, "%s/%s", k->prefix, k->plural);
    return n < 0 || (size_t)n >= cap ? DM_EINVAL : 0;
}

int k8s_patch(k8s_state *st, const char *path, const char *content_type, const char *body,
              k8s_resp *r, dm_err_t *err)
{
    int rc = 0;
    for (int attempt = 0; attempt <= K8S_CONFLICT_RETRIES; attempt++) {
        if (attempt > 0) {
            /* Another writer changed the object first. Our patches carry
             * no resourceVersion, so sending the same patch again applies
             * it to the version that is there now: re-read and retry. */
            struct timespec ts = { 0, (100L << (attempt - 1)) * 1000000L };
            nanosleep(&ts, NULL);
        }
        rc = k8s_call(st, "PATCH", path, content_type, body, r, err);
        if (rc != 0 || r->status != 409)
            break;
    }
    return rc;
}

int k8s_apply(k8s_state *st, const json_t *obj, dm_err_t *err)
{
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const json_t *md = json_object_get(obj, "metadata");
    const char *name = json_string_value(json_object_get(md, "name"));
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const struct kind *k = find_kind(kind, NULL);
    char coll[256], path[512], what[160];
    if (k == NULL || name == NULL ||
        k8s_collection_path(k->plural, ns, coll, sizeof coll) != 0)
        return dm_err_set(err, DM_EINVAL, "runtime-kubernetes: cannot apply a %s",
                          kind != NULL ? kind : "(no kind)");
    /* force=true: dermaga owns these objects; a field another manager
     * (kubectl edit) took is taken back rather than failing with 409. */
    snprintf(path, sizeof path, "%s/%s?fieldManager=" K8S_MANAGER "&force=true", coll, name);
    snprintf(what, sizeof what, "%s/%s", k->plural, name);
    char *body = json_dumps(obj, JSON_COMPACT);
    if (body == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    k8s_resp r = { 0 };
    /* JSON is YAML, so the apply content type takes the JSON body. */
    int rc = k8s_patch(st, path, "application/apply-patch+yaml", body, &r, err);
    if (rc == 0 && r.status != 200 && r.status != 201)
        rc = k8s_api_error(r.status, r.json, "apply", what, err);
    free(body);
    k8s_resp_free(&r);
    return rc;
}

int k8s_get(k8s_state *st, const char *path, const char *what, k8s_resp *r, dm_err_t *err)
{
    int rc = k8s_call(st, "GET", path, NULL, NULL, r, err);
    if (rc == 0 && r->status == 404)
        return DM_ENOTFOUND;
    if (rc == 0 && r->status != 200)
        return k8s_api_error(r->status, r->json, "get", what, err);
    if (rc == 0 && !json_is_object(r->json))
        return dm_err_set(err, DM_EIO, "runtime-kubernetes: get %.100s: answer is not JSON", what);
    return rc;
}

int k8s_list(k8s_state *st, const char *ns, const char *plural, const char *selector,
             k8s_resp *r, dm_err_t *err)
{
    char coll[256], sel[512], path[1024];
    if (k8s_collection_path(plural, ns, coll, sizeof coll) != 0 ||
        !k8s_escape(selector, sel, sizeof sel))
        return dm_err_set(err, DM_EINVAL, "runtime-kubernetes: cannot list %s", plural);
    snprintf(path, sizeof path, "%s?labelSelector=%s", coll, sel);
    int rc = k8s_get(st, path, plural, r, err);
    if (rc == DM_ENOTFOUND) /* the namespace is not there yet: nothing */
        rc = k8s_api_error(404, r->json, "list", plural, err);
    if (rc == 0 && !json_is_array(json_object_get(r->json, "items")))
        rc = dm_err_set(err, DM_EIO, "runtime-kubernetes: list %s: answer has no items", plural);
    return rc;
}

int k8s_delete(k8s_state *st, const char *path, const char *what, dm_err_t *err)
{
    k8s_resp r = { 0 };
    int rc = k8s_call(st, "DELETE", path, NULL, NULL, &r, err);
    if (rc == 0 && r.status != 200 && r.status != 202 && r.status != 404)
        rc = k8s_api_error(r.status, r.json, "delete", what, err);
    k8s_resp_free(&r);
    return rc;
}
