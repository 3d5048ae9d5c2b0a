/*
 * e2e_k8s.c — the runtime-kubernetes end-to-end fixture (e2e_k8s.h).
 */
#include "e2e_k8s.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"
#include "e2e_instances.h"
#include "k8s_kubeconfig.h"
#include "../plugins/fixtures.h"

#define TOKEN "e2e-k8s-token-0815"
#define POD_WAIT_MS 20000

dm_k8s_fake dm_e2e_k8s;
static char kube_dir[256]; /* holds the kubeconfig */

const char *const dm_e2e_k8s_kinds[] = {
    "/api/v1/secrets",
    "/api/v1/persistentvolumeclaims",
    "/apis/apps/v1/deployments",
    "/api/v1/services",
    "/apis/networking.k8s.io/v1/ingresses",
    "/api/v1/pods",
    NULL,
};

/* plugins.enabled: the real auth, payment and service plugins, then
 * runtime-kubernetes on the fake. */
static json_t *enabled(const char *kubeconfig, int timeout_ms, bool per_user)
{
    char services[512];
    const char *src = getenv("DERMAGA_TEST_SOURCE_DIR");
    snprintf(services, sizeof services, "%s/config/services", src != NULL && src[0] ? src : DM_SOURCE_DIR);
    json_t *e = json_pack("[{s:s},{s:s},{s:s,s:{s:s}},{s:s,s:{s:s,s:s,s:s,s:i}}]", "name", "auth-local", "name",
                          "payment-manual", "name", "service-template", "config", "dir", services, "name",
                          "runtime-kubernetes", "config", "kubeconfig", kubeconfig, "namespace", DM_E2E_K8S_NS,
                          "base_domain", DM_E2E_K8S_DOMAIN, "request_timeout_ms", timeout_ms);
    ck_assert_msg(e != NULL, "cannot build plugins.enabled");
    if (per_user)
        json_object_set_new(json_object_get(json_array_get(e, 3), "config"), "namespace_per_user", json_true());
    return e;
}

void dm_e2e_k8s_start(const dm_e2e_k8s_opts *o)
{
    dm_k8s_fake_opts fo = { .token = TOKEN, .https = true, .pod_start_ms = 50, .args = o->fake_args };
    dm_k8s_fake_start(&dm_e2e_k8s, &fo);
    fx_mkdtemp(kube_dir, sizeof kube_dir);
    char kc[600];
    dm_k8s_write_kubeconfig(kube_dir, dm_e2e_k8s.url, TOKEN, dm_e2e_k8s.ca_path, kc, sizeof kc);
    json_t *cfg = json_pack("{s:{s:s,s:s},s:{s:o},s:{s:i},s:{s:s}}", "auth", "adminEmail", DM_E2E_ADMIN_EMAIL,
                            "adminPassword", DM_E2E_ADMIN_PASS, "plugins", "enabled",
                            enabled(kc, o->request_timeout_ms > 0 ? o->request_timeout_ms : 5000, o->per_user), "jobs",
                            "pollMs", 100, "instances", "defaultRuntime", "runtime-kubernetes");
    ck_assert_msg(cfg != NULL, "cannot build the config");
    if (o->extra != NULL) {
        ck_assert_msg(json_object_update_recursive(cfg, o->extra) == 0, "cannot merge the config");
        json_decref(o->extra);
    }
    dm_e2e_auth_setup_with(cfg);
}

void dm_e2e_k8s_start_for_errors(void)
{
    static const char *const args[] = { "--schema-errors", "422", NULL };
    dm_e2e_k8s_opts o = { .request_timeout_ms = 1000, .fake_args = args };
    dm_e2e_k8s_start(&o);
}

void dm_e2e_k8s_stop(void)
{
    dm_e2e_instances_stop();
    dm_k8s_fake_stop(&dm_e2e_k8s);
    fx_rmdir(kube_dir);
}

json_t *dm_e2e_k8s_get(const char *path)
{
    long code;
    char *body = dm_k8s_fake_call(&dm_e2e_k8s, "GET", path, NULL, NULL, &code);
    json_t *j = json_loads(body, 0, NULL);
    ck_assert_msg(code == 200 && j != NULL, "fake: GET %s: %ld %.300s", path, code, body);
    free(body);
    return j;
}

void dm_e2e_k8s_send(const char *method, const char *path, const char *body, long want)
{
    long code;
    char *resp = dm_k8s_fake_call(&dm_e2e_k8s, method, path, body != NULL ? "application/json" : NULL, body, &code);
    ck_assert_msg(code == want, "fake: %s %s: %ld (want %ld) %.300s", method, path, code, want, resp);
    free(resp);
}

json_t *dm_e2e_k8s_labelled(const char *list_path, const char *inst)
{
    char path[256];
    snprintf(path, sizeof path, "%s?labelSelector=app.kubernetes.io%%2Finstance%%3D%s", list_path, inst);
    json_t *list = dm_e2e_k8s_get(path);
    json_t *items = json_incref(json_object_get(list, "items"));
    json_decref(list);
    ck_assert_msg(json_is_array(items), "fake: %s has no items", path);
    return items;
}

size_t dm_e2e_k8s_count(const char *list_path, const char *inst)
{
    json_t *items = dm_e2e_k8s_labelled(list_path, inst);
    size_t n = json_array_size(items);
    json_decref(items);
    return n;
}

/* A pod that runs and is Ready. */
static bool pod_ready(const json_t *pod)
{
    const json_t *st = json_object_get(pod, "status");
    const char *phase = json_string_value(json_object_get(st, "phase"));
    if (phase == NULL || strcmp(phase, "Running") != 0)
        return false;
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(st, "conditions"), i, c) {
        const char *type = json_string_value(json_object_get(c, "type"));
        const char *v = json_string_value(json_object_get(c, "status"));
        if (type != NULL && strcmp(type, "Ready") == 0)
            return v != NULL && strcmp(v, "True") == 0;
    }
    return false;
}

void dm_e2e_k8s_wait_pod(const char *inst, const char *not, char *out, size_t cap)
{
    out[0] = '\0';
    for (long long end = dm_e2e_now_ms() + POD_WAIT_MS; out[0] == '\0' && dm_e2e_now_ms() <= end;) {
        json_t *pods = dm_e2e_k8s_labelled("/api/v1/pods", inst);
        size_t i;
        const json_t *p;
        json_array_foreach(pods, i, p) {
            const char *name = json_string_value(json_object_get(json_object_get(p, "metadata"), "name"));
            if (name != NULL && pod_ready(p) && (not == NULL || strcmp(name, not) != 0))
                snprintf(out, cap, "%s", name);
        }
        json_decref(pods);
        if (out[0] == '\0')
            dm_e2e_nap_ms(50);
    }
    ck_assert_msg(out[0] != '\0', "no ready pod of %s%s%s within %d ms", inst, not != NULL ? " other than " : "",
                  not != NULL ? not : "", POD_WAIT_MS);
}

json_t *dm_e2e_k8s_only(const char *list_path, const char *inst)
{
    json_t *items = dm_e2e_k8s_labelled(list_path, inst);
    ck_assert_msg(json_array_size(items) == 1, "%s labelled %s: %zu objects, want 1", list_path, inst,
                  json_array_size(items));
    json_t *o = json_incref(json_array_get(items, 0));
    json_decref(items);
    return o;
}

void dm_e2e_k8s_expect_one_of_each(const char *inst)
{
    for (size_t i = 0; dm_e2e_k8s_kinds[i] != NULL; i++)
        json_decref(dm_e2e_k8s_only(dm_e2e_k8s_kinds[i], inst));
}

/* GET path as tok: the data of a 200 (new reference). */
static json_t *api_data(const char *tok, const char *path)
{
    dm_e2e_response res;
    dm_e2e_auth_call("GET", path, tok, NULL, &res);
    json_t *d = dm_e2e_auth_ok_data(&res, 200, path);
    dm_e2e_response_free(&res);
    return d;
}

void dm_e2e_k8s_expect_error(const char *tok, const char *inst, const char *const needles[])
{
    dm_e2e_instances_wait_sql(inst, "ERROR");
    char path[160];
    snprintf(path, sizeof path, "/api/instances/%s", inst);
    json_t *d = api_data(tok, path);
    ck_assert_str_eq(dm_e2e_jstr(d, "status"), "ERROR");
    json_decref(d);
    snprintf(path, sizeof path, "/api/instances/%s/events?limit=1", inst);
    json_t *evs = api_data(tok, path);
    json_t *ev = json_array_get(evs, 0);
    ck_assert_msg(ev != NULL, "%s has no events", inst);
    ck_assert_str_eq(dm_e2e_jstr(ev, "toStatus"), "ERROR");
    ck_assert_str_eq(dm_e2e_jstr(ev, "actor"), "system");
    const char *reason = dm_e2e_jstr(ev, "reason");
    for (size_t i = 0; needles[i] != NULL; i++)
        ck_assert_msg(strstr(reason, needles[i]) != NULL, "the ERROR event must say \"%s\": %s", needles[i],
                      reason);
    json_decref(evs);
}

void dm_e2e_k8s_retry_provision(const char *tok, const char *sub)
{
    char path[160];
    snprintf(path, sizeof path, "/api/subscriptions/%s/retry-provision", sub);
    dm_e2e_instances_op("POST", tok, path, NULL, 202);
}
