/*
 * test_runtime_k8s.c — the runtime-kubernetes plugin's lifecycle against the
 * fake Kubernetes API server (tests/fakes/k8s, started through
 * tests/fakes/k8s_fake.h): the built plugins/runtime-kubernetes.so loaded
 * through the real loader with a kubeconfig that points at the fake.
 *
 * Over HTTPS with the fake's throwaway CA (and a wrong CA, or none, refused):
 * provision with a volume → RUNNING and ready on the pod; provision again is
 * server-side apply and makes no second Deployment; stop/start/restart (a new
 * pod); a changed memory limit converges; usage from the fake's metrics and
 * "metrics unavailable" without metrics-server; inventory and workloads;
 * terminate leaves nothing labelled and may be repeated. Over HTTP: logs
 * with tail and a follow that continues on the new pod after a restart;
 * crashing, unpullable and OOM-killed images → FAILED with the reason; an
 * unknown instance → ABSENT. With namespace_per_user: each user's
 * instances in their own namespace, found again by a plugin that cached
 * nothing, a provision cut short found by its Secret. Every object the
 * plugin sent passed the fake's schema validation (no 4xx in its request
 * log but the 404s a lookup of something absent gives).
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dm_test.h"
#include "k8s_fake.h"
#include "k8s_kubeconfig.h"
#include "../plugins/fixtures.h"

#include "plugin/registry.h"

#define PLUGIN_SO DM_BUILD_DIR "/plugins/runtime-kubernetes.so"
#define TOKEN "life-token-4711"
#define NS "dermaga"
#define OWNER "inst-life"
#define SEL "app.kubernetes.io%2Finstance%3D"
#define K8S_TRIES_AFTER_CONFLICT 3 /* the plugin's K8S_CONFLICT_RETRIES */

/* ---- the plugin on a fake ------------------------------------------------ */

typedef struct plug {
    fx_plugin               f;
    const dm_runtime_ops_t *ops;
    void                   *state;
    char                    dir[512]; /* holds the kubeconfig */
} plug;

static const char *refusal(const plug *pl)
{
    const char *r = json_string_value(
        json_object_get(json_array_get(dm__plugins_refusals(pl->f.set), 0), "reason"));
    return r != NULL ? r : "(no refusal)";
}

/* Load the plugin against f, trusting ca (NULL: no certificate-authority in
 * the kubeconfig, so the system's trust store), with the keys of extra
 * (consumed; may be NULL) added to its config. pl->f.p NULL when refused. */
static void try_open_with(plug *pl, const dm_k8s_fake *f, const char *ca, json_t *extra)
{
    memset(pl, 0, sizeof *pl);
    fx_mkdtemp(pl->dir, sizeof pl->dir);
    char kc[600];
    dm_k8s_write_kubeconfig(pl->dir, f->url, TOKEN, ca, kc, sizeof kc);
    /* base_domain: the Ingress is made too, so terminate has it to remove. */
    json_t *cfg = json_pack("{s:s, s:s, s:i}", "kubeconfig", kc, "base_domain", "apps.example.com",
                            "request_timeout_ms", 5000);
    if (extra != NULL)
        json_object_update(cfg, extra);
    json_decref(extra);
    fx_plugin_open(&pl->f, PLUGIN_SO, "runtime-kubernetes", DM_PLUGIN_RUNTIME, cfg);
    pl->ops = dm__plugin_runtime_ops(pl->f.p);
    pl->state = pl->f.p != NULL ? pl->f.p->state : NULL;
}

static void try_open(plug *pl, const dm_k8s_fake *f, const char *ca)
{
    try_open_with(pl, f, ca, NULL);
}

static void open_on(plug *pl, const dm_k8s_fake *f)
{
    try_open(pl, f, f->ca_path[0] != '\0' ? f->ca_path : NULL);
    ck_assert_msg(pl->f.p != NULL, "refused: %s\n%s", refusal(pl), pl->f.log);
    ck_assert_msg(pl->ops->logs != NULL && pl->ops->usage != NULL && pl->ops->inventory != NULL &&
                      pl->ops->workloads != NULL, "optional ops missing");
}

static void close_plugin(plug *pl)
{
    fx_plugin_close(&pl->f);
    fx_rmdir(pl->dir);
}

static void start_fake(dm_k8s_fake *f, bool https)
{
    dm_k8s_fake_opts o = { .token = TOKEN, .https = https };
    dm_k8s_fake_start(f, &o);
}

/* ---- the fake's side ----------------------------------------------------- */

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Does the array hold an object whose "name" is name? */
static bool has_name(const json_t *arr, const char *name)
{
    size_t i;
    const json_t *o;
    json_array_foreach(arr, i, o) {
        const char *n = json_string_value(json_object_get(o, "name"));
        if (n != NULL && strcmp(n, name) == 0)
            return true;
    }
    return false;
}

/* No request the plugin sent was refused: every object passed the fake's
 * schema and rule checks (422), every verb was known. 404 is a lookup of
 * something absent (status of an unknown instance, terminate again, a
 * metrics-server that is off); a followed log may meet a pod still starting
 * (400 "waiting to start") when allow_log_400. */
static void no_client_errors(const dm_k8s_fake *f, bool allow_log_400)
{
    json_t *reqs = dm_k8s_fake_json(f, "/fake/requests");
    ck_assert_msg(json_array_size(json_object_get(reqs, "items")) > 0, "no request was logged");
    size_t i;
    const json_t *r;
    json_array_foreach(json_object_get(reqs, "items"), i, r) {
        json_int_t code = json_integer_value(json_object_get(r, "code"));
        const char *path = json_string_value(json_object_get(r, "path"));
        if (code < 400 || code >= 500 || code == 404)
            continue;
        if (allow_log_400 && code == 400 && path != NULL && strstr(path, "/log") != NULL)
            continue;
        ck_abort_msg("%s %s answered %lld: %.300s", json_string_value(json_object_get(r, "method")),
                     path, (long long)code, json_string_value(json_object_get(r, "body")));
    }
    json_decref(reqs);
}

/* ---- status -------------------------------------------------------------- */

static void status_of(const plug *pl, const char *id, dm_runtime_status_t *st)
{
    json_decref(st->endpoints);
    memset(st, 0, sizeof *st);
    dm_err_t err;
    dm_err_clear(&err);
    int rc = pl->ops->status(pl->state, id, st, &err);
    ck_assert_msg(rc == 0, "status %s: %d %s", id, rc, err.msg);
}

/* Poll status (10 s at most) until phase, ready when RUNNING, and, when
 * not_unit is given, a unit other than it (a new pod). */
static void wait_phase(const plug *pl, const char *id, uint32_t phase, const char *not_unit,
                       dm_runtime_status_t *st)
{
    long long until = mono_ms() + 10000;
    do {
        status_of(pl, id, st);
        if (st->phase == phase && (phase != DM_RUNTIME_RUNNING || st->ready) &&
            (not_unit == NULL || strcmp(st->unit_name, not_unit) != 0))
            return;
        poll(NULL, 0, 50);
    } while (mono_ms() < until);
    ck_abort_msg("%s never reached phase %u%s%s: phase %u ready %d unit '%s' message '%s'", id,
                 phase, not_unit ? " on a pod other than " : "", not_unit ? not_unit : "",
                 st->phase, st->ready, st->unit_name, st->message);
}

static void op_ok(int rc, const dm_err_t *err, const char *what)
{
    ck_assert_msg(rc == 0, "%s: %d %s", what, rc, err->msg);
}

static void provision(const plug *pl, const char *id, json_t *spec)
{
    dm_runtime_status_t st = { 0 };
    dm_err_t err;
    dm_err_clear(&err);
    int rc = pl->ops->provision(pl->state, id, spec, &st, &err);
    json_decref(spec);
    json_decref(st.endpoints);
    op_ok(rc, &err, "provision");
}

/* Like test_runtime_docker.c's site spec: public http, env, limits, and a
 * data volume when with_volume. */
static json_t *site_spec(const char *image, int memory_mb, bool with_volume)
{
    json_t *s = json_pack("{s:s, s:s, s:{s:s}, s:[{s:s, s:i, s:s, s:b}], s:{s:i, s:i}}",
                          "image", image, "owner", OWNER, "env", "DERMAGA_TEST", "1",
                          "ports", "name", "http", "port", 8080, "protocol", "tcp", "public", 1,
                          "resources", "memoryMb", memory_mb, "cpuMillicores", 250);
    ck_assert_msg(s != NULL, "json_pack failed");
    if (with_volume)
        json_object_set_new(s, "volumes", json_pack("[{s:s, s:s, s:i}]", "name", "data",
                                                     "mountPath", "/data", "sizeGb", 1));
    return s;
}

/* The one running pod's name as the fake sees it (the newest one). */
static void fake_pod(const dm_k8s_fake *f, const char *id, char *out, size_t cap)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/namespaces/" NS "/pods?labelSelector=%s%s", SEL, id);
    json_t *j = dm_k8s_fake_json(f, path);
    json_t *items = json_object_get(j, "items");
    ck_assert_msg(json_array_size(items) == 1, "%zu pods for %s", json_array_size(items), id);
    snprintf(out, cap, "%s", json_string_value(json_object_get(
                                 json_object_get(json_array_get(items, 0), "metadata"), "name")));
    json_decref(j);
}

/* ---- the lifecycle over HTTPS -------------------------------------------- */

#define LIFE_ID "4b1d2c3e-1111-4a2b-8c3d-00000000a001"
#define LIFE_DEPLOY "/apis/apps/v1/namespaces/" NS "/deployments/dm-" LIFE_ID

/* provision (with a volume) and again: RUNNING, ready, on the pod; the
 * second is server-side apply again and makes no second Deployment. */
static void check_provision(const plug *pl, const dm_k8s_fake *f)
{
    provision(pl, LIFE_ID, site_spec("nginx:1.27", 64, true));
    dm_runtime_status_t st = { 0 };
    wait_phase(pl, LIFE_ID, DM_RUNTIME_RUNNING, NULL, &st);
    char pod[128];
    fake_pod(f, LIFE_ID, pod, sizeof pod);
    ck_assert_str_eq(st.unit_name, pod);
    /* base_domain is set: the public port is reachable through the Ingress */
    json_t *http = json_object_get(st.endpoints, "http");
    const char *host = json_string_value(json_object_get(http, "host"));
    ck_assert_msg(host != NULL && strstr(host, ".apps.example.com") != NULL &&
                      json_integer_value(json_object_get(http, "port")) == 80,
                  "endpoint http: host %s", host);
    ck_assert_msg(strncmp(pod, "dm-" LIFE_ID "-", strlen("dm-" LIFE_ID "-")) == 0, "pod %s", pod);
    ck_assert_uint_eq(dm_k8s_fake_count(f, "/api/v1/namespaces/" NS "/persistentvolumeclaims?labelSelector="
                                   SEL LIFE_ID), 1);

    /* The first provision's requests are checked before they are cleared
     * so that the second's can be told apart. */
    no_client_errors(f, false);
    dm_k8s_fake_send(f, "DELETE", "/fake/requests", NULL, NULL);
    provision(pl, LIFE_ID, site_spec("nginx:1.27", 64, true));
    status_of(pl, LIFE_ID, &st);
    ck_assert_msg(st.phase == DM_RUNTIME_RUNNING && st.ready && strcmp(st.unit_name, pod) == 0,
                  "after provision again: phase %u ready %d unit %s", st.phase, st.ready,
                  st.unit_name);
    json_t *reqs = dm_k8s_fake_json(f, "/fake/requests");
    size_t i, applies = 0;
    const json_t *r;
    json_array_foreach(json_object_get(reqs, "items"), i, r) {
        const char *m = json_string_value(json_object_get(r, "method"));
        const char *path = json_string_value(json_object_get(r, "path"));
        /* The fake logs the query as an object of its parameters. */
        const json_t *q = json_object_get(r, "query");
        const char *fm = json_string_value(json_object_get(q, "fieldManager"));
        const char *force = json_string_value(json_object_get(q, "force"));
        const char *ct = json_string_value(json_object_get(r, "contentType"));
        ck_assert_msg(strcmp(m, "POST") != 0 && strcmp(m, "PUT") != 0, "%s %s: apply only", m, path);
        if (strcmp(m, "PATCH") != 0)
            continue;
        applies++;
        ck_assert_msg(fm != NULL && strcmp(fm, "dermaga") == 0 && force != NULL &&
                          strcmp(force, "true") == 0, "PATCH %s: fieldManager %s force %s", path,
                      fm, force);
        ck_assert_msg(ct != NULL && strcmp(ct, "application/apply-patch+yaml") == 0,
                      "PATCH %s as %s", path, ct);
    }
    /* namespace, secret, claim, deployment, service, ingress */
    ck_assert_msg(applies >= 6, "%zu applies", applies);
    json_decref(reqs);
    ck_assert_uint_eq(dm_k8s_fake_count(f, "/apis/apps/v1/namespaces/" NS "/deployments?labelSelector="
                                   SEL LIFE_ID), 1);
    json_decref(st.endpoints);
}

static void check_stop_start_restart(const plug *pl, const dm_k8s_fake *f)
{
    dm_err_t err;
    dm_err_clear(&err);
    dm_runtime_status_t st = { 0 };
    op_ok(pl->ops->stop(pl->state, LIFE_ID, &err), &err, "stop");
    wait_phase(pl, LIFE_ID, DM_RUNTIME_STOPPED, NULL, &st);
    json_t *d = dm_k8s_fake_json(f, LIFE_DEPLOY);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(d, "spec"), "replicas")), 0);
    json_decref(d);
    /* The fake removes the pods as it scales down, not necessarily before
     * the Deployment's status says 0. */
    long long until = mono_ms() + 5000;
    while (dm_k8s_fake_count(f, "/api/v1/namespaces/" NS "/pods?labelSelector=" SEL LIFE_ID) != 0) {
        ck_assert_msg(mono_ms() < until, "pods left after stop");
        poll(NULL, 0, 50);
    }

    op_ok(pl->ops->start(pl->state, LIFE_ID, &err), &err, "start");
    wait_phase(pl, LIFE_ID, DM_RUNTIME_RUNNING, NULL, &st);
    char before[DM_RUNTIME_UNIT_MAX];
    snprintf(before, sizeof before, "%s", st.unit_name);

    op_ok(pl->ops->restart(pl->state, LIFE_ID, &err), &err, "restart");
    wait_phase(pl, LIFE_ID, DM_RUNTIME_RUNNING, before, &st);
    char pod[128];
    fake_pod(f, LIFE_ID, pod, sizeof pod);
    ck_assert_str_eq(st.unit_name, pod);
    json_decref(st.endpoints);
}

/* A new memory limit converges: the Deployment has it and a new pod runs. */
static void check_changed_spec(const plug *pl, const dm_k8s_fake *f)
{
    dm_runtime_status_t st = { 0 };
    status_of(pl, LIFE_ID, &st);
    char before[DM_RUNTIME_UNIT_MAX];
    snprintf(before, sizeof before, "%s", st.unit_name);
    provision(pl, LIFE_ID, site_spec("nginx:1.27", 128, true));
    wait_phase(pl, LIFE_ID, DM_RUNTIME_RUNNING, before, &st);
    json_t *d = dm_k8s_fake_json(f, LIFE_DEPLOY);
    json_t *tpl = json_object_get(json_object_get(d, "spec"), "template");
    json_t *c = json_array_get(json_object_get(json_object_get(tpl, "spec"), "containers"), 0);
    const char *mem = json_string_value(
        json_object_get(json_object_get(json_object_get(c, "resources"), "limits"), "memory"));
    ck_assert_msg(mem != NULL && strcmp(mem, "128Mi") == 0, "memory limit %s", mem);
    json_decref(d);
    json_decref(st.endpoints);
}

/* The item of inventory array a whose name is name, or NULL (borrowed). */
static json_t *item_named(const json_t *a, const char *name)
{
    size_t i;
    json_t *it;
    json_array_foreach(a, i, it) {
        const char *n = json_string_value(json_object_get(it, "name"));
        if (n != NULL && strcmp(n, name) == 0)
            return it;
    }
    return NULL;
}

static void check_usage(const plug *pl, const dm_k8s_fake *f)
{
    dm_runtime_status_t st = { 0 };
    status_of(pl, LIFE_ID, &st);
    char path[256];
    snprintf(path, sizeof path, "/fake/metrics/" NS "/%s", st.unit_name);
    dm_k8s_fake_send(f, "PUT", path, "application/json",
              "{\"containers\":{\"app\":{\"cpu\":\"150m\",\"memory\":\"64Mi\"}}}");
    dm_runtime_usage_t u = { 0 };
    dm_err_t err;
    dm_err_clear(&err);
    op_ok(pl->ops->usage(pl->state, LIFE_ID, &u, &err), &err, "usage");
    ck_assert_int_eq(u.cpu_millicores, 150);
    ck_assert_int_eq(u.memory_bytes, 64LL << 20);

    /* The cluster view's pod metrics: the "podmetrics" inventory of the
     * namespace, memory in MiB to two decimals (100000Ki = 97.65625 MiB). */
    dm_k8s_fake_send(f, "PUT", path, "application/json",
              "{\"containers\":{\"app\":{\"cpu\":\"150m\",\"memory\":\"100000Ki\"}}}");
    json_t *pm = NULL;
    op_ok(pl->ops->inventory(pl->state, "podmetrics", NS, &pm, &err), &err, "inventory podmetrics");
    const json_t *mine = item_named(pm, st.unit_name);
    ck_assert_msg(mine != NULL, "podmetrics lack %s", st.unit_name);
    ck_assert_int_eq(json_integer_value(json_object_get(mine, "cpuMillicores")), 150);
    ck_assert_double_eq_tol(json_real_value(json_object_get(mine, "memoryMiB")), 97.66, 0.001);
    json_decref(pm);
    pm = NULL;
    ck_assert_int_eq(pl->ops->inventory(pl->state, "podmetrics", NULL, &pm, &err), DM_EINVAL);

    dm_k8s_fake_send(f, "PUT", "/fake/metrics-server", "application/json", "{\"enabled\":false}");
    int rc = pl->ops->usage(pl->state, LIFE_ID, &u, &err);
    ck_assert_msg(rc == DM_EUNSUPPORTED && strstr(err.msg, "metrics unavailable") != NULL,
                  "usage without metrics-server: %d %s", rc, err.msg);
    rc = pl->ops->inventory(pl->state, "podmetrics", NS, &pm, &err);
    ck_assert_msg(rc == DM_EUNAVAIL && pm == NULL, "podmetrics without metrics-server: %d %s", rc, err.msg);
    dm_k8s_fake_send(f, "PUT", "/fake/metrics-server", "application/json", "{\"enabled\":true}");
    json_decref(st.endpoints);
}

static void check_inventory_workloads(const plug *pl)
{
    dm_runtime_status_t st = { 0 };
    status_of(pl, LIFE_ID, &st);
    dm_err_t err;
    dm_err_clear(&err);
    json_t *out = NULL;
    op_ok(pl->ops->inventory(pl->state, "pods", NS, &out, &err), &err, "inventory pods");
    ck_assert_msg(json_is_array(out) && has_name(out, st.unit_name), "pods lack %s", st.unit_name);
    json_decref(out);
    op_ok(pl->ops->inventory(pl->state, "deployments", NULL, &out, &err), &err,
          "inventory deployments");
    ck_assert_msg(json_is_array(out) && has_name(out, "dm-" LIFE_ID), "deployments lack ours");
    /* What the cluster view's ?managed= reads: ours carry the label. */
    ck_assert_msg(json_is_true(json_object_get(item_named(out, "dm-" LIFE_ID), "managed")),
                  "our deployment is not managed");
    json_decref(out);
    op_ok(pl->ops->inventory(pl->state, "nodes", NULL, &out, &err), &err, "inventory nodes");
    ck_assert_msg(json_is_array(out) && has_name(out, "fake-node-1") &&
                      has_name(out, "fake-node-2"), "nodes lack the fake's two");
    ck_assert_msg(json_is_false(json_object_get(item_named(out, "fake-node-1"), "managed")),
                  "a node is managed");
    json_decref(out);

    op_ok(pl->ops->workloads(pl->state, OWNER, &out, &err), &err, "workloads");
    ck_assert_msg(json_array_size(out) == 1 &&
                      strcmp(json_string_value(json_array_get(out, 0)), LIFE_ID) == 0,
                  "workloads(%s) is not [%s]", OWNER, LIFE_ID);
    json_decref(out);
    op_ok(pl->ops->workloads(pl->state, "someone-else", &out, &err), &err, "workloads other");
    ck_assert_uint_eq(json_array_size(out), 0);
    json_decref(out);
    json_decref(st.endpoints);
}

/* terminate: nothing labelled with the instance is left; again is fine. */
static void check_terminate(const plug *pl, const dm_k8s_fake *f)
{
    dm_err_t err;
    dm_err_clear(&err);
    op_ok(pl->ops->terminate(pl->state, LIFE_ID, &err), &err, "terminate");
    static const char *const kinds[] = {
        "/apis/apps/v1/namespaces/" NS "/deployments",
        "/api/v1/namespaces/" NS "/services",
        "/api/v1/namespaces/" NS "/secrets",
        "/api/v1/namespaces/" NS "/persistentvolumeclaims",
        "/apis/networking.k8s.io/v1/namespaces/" NS "/ingresses",
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s?labelSelector=%s%s", kinds[i], SEL, LIFE_ID);
        ck_assert_msg(dm_k8s_fake_count(f, path) == 0, "%s left after terminate", kinds[i]);
    }
    dm_runtime_status_t st = { 0 };
    wait_phase(pl, LIFE_ID, DM_RUNTIME_ABSENT, NULL, &st);
    op_ok(pl->ops->terminate(pl->state, LIFE_ID, &err), &err, "terminate again");
    json_decref(st.endpoints);
}

START_TEST(lifecycle_over_https)
{
    dm_k8s_fake f;
    start_fake(&f, true);
    ck_assert_msg(strncmp(f.url, "https://", 8) == 0, "%s", f.url);
    plug pl;
    open_on(&pl, &f);
    check_provision(&pl, &f);
    check_stop_start_restart(&pl, &f);
    check_changed_spec(&pl, &f);
    check_usage(&pl, &f);
    check_inventory_workloads(&pl);
    check_terminate(&pl, &f);
    no_client_errors(&f, false);
    close_plugin(&pl);
    dm_k8s_fake_stop(&f);
}
END_TEST

/* The fake's certificate is checked against the kubeconfig's CA: another
 * CA (a second fake's) or none (the system store) is refused, and not one
 * request gets through to the API. */
START_TEST(wrong_ca_is_refused)
{
    dm_k8s_fake f, other;
    start_fake(&f, true);
    start_fake(&other, true);
    const char *cas[] = { other.ca_path, NULL };
    for (size_t i = 0; i < 2; i++) {
        plug pl;
        try_open(&pl, &f, cas[i]);
        /* The plugin loads without a request (the server is not asked at
         * start); its first call meets the certificate it cannot trust. */
        ck_assert_msg(pl.f.p != NULL, "refused: %s", refusal(&pl));
        dm_runtime_status_t st = { 0 };
        dm_err_t err;
        dm_err_clear(&err);
        int rc = pl.ops->status(pl.state, LIFE_ID, &st, &err);
        ck_assert_msg(rc == DM_EUNAVAIL && strstr(err.msg, "unreachable") != NULL &&
                          strstr(err.msg, "certificate") != NULL,
                      "status with %s: %d '%s', want DM_EUNAVAIL for the certificate",
                      cas[i] ? "another CA" : "no CA", rc, err.msg);
        ck_assert_msg(strstr(err.msg, TOKEN) == NULL, "the token leaked: %s", err.msg);
        json_decref(st.endpoints);
        close_plugin(&pl);
    }
    ck_assert_uint_eq(dm_k8s_fake_count(&f, "/fake/requests"), 0);
    dm_k8s_fake_stop(&other);
    dm_k8s_fake_stop(&f);
}
END_TEST

/* ---- logs over HTTP ------------------------------------------------------ */

#define LOG_ID "4b1d2c3e-2222-4a2b-8c3d-00000000b002"

typedef struct lines {
    pthread_mutex_t mu;
    char            text[64][96];
    int64_t         ts[64];
    int             n;
    atomic_bool     cancel;
} lines;

static int on_line(void *opaque, const char *line, size_t len, uint32_t stream, int64_t ts_ms)
{
    lines *l = opaque;
    (void)stream;
    pthread_mutex_lock(&l->mu);
    if (l->n < 64) {
        snprintf(l->text[l->n], sizeof l->text[0], "%.*s", (int)len, line);
        l->ts[l->n++] = ts_ms;
    }
    pthread_mutex_unlock(&l->mu);
    return 0;
}

static bool on_cancelled(void *opaque)
{
    lines *l = opaque;
    return atomic_load(&l->cancel);
}

/* Index of the line text in l, or -1. */
static int find_line(lines *l, const char *text)
{
    pthread_mutex_lock(&l->mu);
    int at = -1;
    for (int i = 0; i < l->n && at < 0; i++) {
        if (strcmp(l->text[i], text) == 0)
            at = i;
    }
    pthread_mutex_unlock(&l->mu);
    return at;
}

static void wait_line(lines *l, const char *text)
{
    long long until = mono_ms() + 10000;
    while (find_line(l, text) < 0) {
        ck_assert_msg(mono_ms() < until, "the followed log never showed '%s' (%d lines)", text, l->n);
        poll(NULL, 0, 50);
    }
}

static void inject(const dm_k8s_fake *f, const char *pod, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "/fake/pods/" NS "/%s/log", pod);
    dm_k8s_fake_send(f, "POST", path, "text/plain", text);
}

typedef struct follower {
    const plug *pl;
    lines      *l;
    int         rc;
    char        msg[256];
} follower;

static void *follow_thread(void *arg)
{
    follower *fw = arg;
    dm_runtime_log_sink_t sink = { .opaque = fw->l, .line = on_line, .cancelled = on_cancelled };
    dm_runtime_log_opts_t opts = { .tail_lines = 1, .follow = true };
    dm_err_t err;
    dm_err_clear(&err);
    fw->rc = fw->pl->ops->logs(fw->pl->state, LOG_ID, &opts, &sink, &err);
    snprintf(fw->msg, sizeof fw->msg, "%s", err.msg);
    return NULL;
}

START_TEST(logs_tail_and_follow_across_restart)
{
    dm_k8s_fake f;
    start_fake(&f, false);
    plug pl;
    open_on(&pl, &f);
    provision(&pl, LOG_ID, site_spec("nginx:1.27", 64, false));
    dm_runtime_status_t st = { 0 };
    wait_phase(&pl, LOG_ID, DM_RUNTIME_RUNNING, NULL, &st);
    inject(&f, st.unit_name, "one\ntwo\nthree\n");

    /* tail: the last two lines, each with its time */
    lines *l = calloc(1, sizeof *l);
    ck_assert_ptr_nonnull(l);
    pthread_mutex_init(&l->mu, NULL);
    dm_runtime_log_sink_t sink = { .opaque = l, .line = on_line, .cancelled = on_cancelled };
    dm_runtime_log_opts_t opts = { .tail_lines = 2 };
    dm_err_t err;
    dm_err_clear(&err);
    long long now_ms = (long long)time(NULL) * 1000;
    op_ok(pl.ops->logs(pl.state, LOG_ID, &opts, &sink, &err), &err, "logs tail");
    ck_assert_msg(l->n == 2, "%d lines for tail 2", l->n);
    ck_assert_str_eq(l->text[0], "two");
    ck_assert_str_eq(l->text[1], "three");
    for (int i = 0; i < 2; i++)
        ck_assert_msg(l->ts[i] > now_ms - 60000 && l->ts[i] < now_ms + 60000,
                      "line %d time %lld, now %lld", i, (long long)l->ts[i], now_ms);

    /* follow: a line injected later arrives; after a restart the stream
     * goes on with the new pod's lines */
    l->n = 0;
    follower fw = { .pl = &pl, .l = l };
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, follow_thread, &fw), 0);
    wait_line(l, "three"); /* tail 1: attached */
    inject(&f, st.unit_name, "four\n");
    wait_line(l, "four");
    char old_pod[DM_RUNTIME_UNIT_MAX];
    snprintf(old_pod, sizeof old_pod, "%s", st.unit_name);
    op_ok(pl.ops->restart(pl.state, LOG_ID, &err), &err, "restart");
    wait_phase(&pl, LOG_ID, DM_RUNTIME_RUNNING, old_pod, &st);
    /* the old pod is gone once the new one is the only one (RollingUpdate
     * deletes it when the new one is ready) */
    char pod[128];
    long long until = mono_ms() + 5000;
    for (;;) {
        if (dm_k8s_fake_count(&f, "/api/v1/namespaces/" NS "/pods?labelSelector=" SEL LOG_ID) == 1)
            break;
        ck_assert_msg(mono_ms() < until, "the old pod stayed");
        poll(NULL, 0, 50);
    }
    fake_pod(&f, LOG_ID, pod, sizeof pod);
    ck_assert_str_ne(pod, old_pod);
    inject(&f, pod, "after restart\n");
    wait_line(l, "after restart");
    atomic_store(&l->cancel, true);
    long long t0 = mono_ms();
    pthread_join(th, NULL);
    ck_assert_msg(fw.rc == 0, "follow: %d %s", fw.rc, fw.msg);
    ck_assert_msg(mono_ms() - t0 < 5000, "cancelling the follow took %lld ms", mono_ms() - t0);
    /* nothing twice: the old pod's lines were not read again */
    ck_assert_int_eq(find_line(l, "four"), find_line(l, "three") + 1);
    pthread_mutex_lock(&l->mu);
    int fours = 0;
    for (int i = 0; i < l->n; i++)
        fours += strcmp(l->text[i], "four") == 0;
    pthread_mutex_unlock(&l->mu);
    ck_assert_int_eq(fours, 1);

    op_ok(pl.ops->terminate(pl.state, LOG_ID, &err), &err, "terminate");
    no_client_errors(&f, true);
    pthread_mutex_destroy(&l->mu);
    free(l);
    json_decref(st.endpoints);
    close_plugin(&pl);
    dm_k8s_fake_stop(&f);
}
END_TEST

/* ---- failures and the unknown -------------------------------------------- */

#define CRASH_ID "4b1d2c3e-3333-4a2b-8c3d-00000000c003"
#define BAD_ID "4b1d2c3e-3333-4a2b-8c3d-00000000c004"
#define OOM_ID "4b1d2c3e-3333-4a2b-8c3d-00000000c005"

/* An image the fake makes fail (README: "crash", "badimage", "oom") →
 * FAILED with the waiting or last-exit reason; terminate cleans it up. */
static void expect_failed(const plug *pl, const char *id, const char *image, const char *reason)
{
    provision(pl, id, site_spec(image, 64, false));
    dm_runtime_status_t st = { 0 };
    wait_phase(pl, id, DM_RUNTIME_FAILED, NULL, &st);
    ck_assert_msg(strstr(st.message, reason) != NULL && !st.ready, "%s: ready %d message '%s'",
                  image, st.ready, st.message);
    dm_err_t err;
    dm_err_clear(&err);
    op_ok(pl->ops->terminate(pl->state, id, &err), &err, "terminate");
    json_decref(st.endpoints);
}

START_TEST(crash_image_fails_and_unknown_is_absent)
{
    dm_k8s_fake f;
    start_fake(&f, false);
    plug pl;
    open_on(&pl, &f);
    expect_failed(&pl, CRASH_ID, "example/crash:1", "CrashLoopBackOff");
    /* ids of their own: each starts clean, whatever terminate left going */
    expect_failed(&pl, BAD_ID, "example/badimage:1", "ImagePullBackOff");
    expect_failed(&pl, OOM_ID, "example/oom:1", "OOMKilled");
    dm_runtime_status_t st = { 0 };
    dm_err_t err;
    dm_err_clear(&err);
    status_of(&pl, "4b1d2c3e-9999-4a2b-8c3d-000000000000", &st);
    ck_assert_msg(st.phase == DM_RUNTIME_ABSENT, "unknown instance: phase %u '%s'", st.phase,
                  st.message);
    op_ok(pl.ops->terminate(pl.state, "4b1d2c3e-9999-4a2b-8c3d-000000000000", &err), &err,
          "terminate of an unknown instance");
    no_client_errors(&f, false);
    json_decref(st.endpoints);
    close_plugin(&pl);
    dm_k8s_fake_stop(&f);
}
END_TEST

/* ---- 409 Conflict --------------------------------------------------------- */

#define CONFLICT_ID "4b1d2c3e-3333-4a2b-8c3d-00000000c409"

/* How many requests of method on a path containing part answered code. */
static size_t answered(const dm_k8s_fake *f, const char *method, const char *part, long code)
{
    json_t *reqs = dm_k8s_fake_json(f, "/fake/requests");
    size_t i, n = 0;
    const json_t *r;
    json_array_foreach(json_object_get(reqs, "items"), i, r) {
        const char *m = json_string_value(json_object_get(r, "method"));
        const char *path = json_string_value(json_object_get(r, "path"));
        n += strcmp(m, method) == 0 && strstr(path, part) != NULL &&
             json_integer_value(json_object_get(r, "code")) == code;
    }
    json_decref(reqs);
    return n;
}

/* Another writer first (409 Conflict): an apply or a scale is sent again
 * and succeeds; one that keeps conflicting ends in DM_ECONFLICT with the
 * API server's message after K8S_CONFLICT_RETRIES more tries. */
START_TEST(conflicts_are_retried)
{
    dm_k8s_fake f;
    start_fake(&f, false);
    plug pl;
    open_on(&pl, &f);
    dm_k8s_fake_send(&f, "PUT", "/fake/conflict", "application/json",
              "{\"times\":2,\"rules\":[\"patch:deployments\"]}");
    provision(&pl, CONFLICT_ID, site_spec("nginx:1.27", 64, false));
    ck_assert_uint_eq(answered(&f, "PATCH", "/deployments/dm-" CONFLICT_ID, 409), 2);
    ck_assert_uint_eq(dm_k8s_fake_count(&f, "/apis/apps/v1/namespaces/" NS "/deployments?labelSelector=" SEL
                                     CONFLICT_ID), 1);
    dm_err_t err;
    dm_err_clear(&err);
    dm_k8s_fake_send(&f, "PUT", "/fake/conflict", "application/json",
              "{\"times\":1,\"rules\":[\"patch:deployments/scale\"]}");
    op_ok(pl.ops->stop(pl.state, CONFLICT_ID, &err), &err, "stop after one conflict");
    dm_k8s_fake_send(&f, "PUT", "/fake/conflict", "application/json",
              "{\"times\":10,\"rules\":[\"patch:deployments/scale\"]}");
    int rc = pl.ops->start(pl.state, CONFLICT_ID, &err);
    ck_assert_msg(rc == DM_ECONFLICT && strstr(err.msg, "the object has been modified") != NULL,
                  "start that keeps conflicting: %d %s", rc, err.msg);
    json_t *left = dm_k8s_fake_json(&f, "/fake/conflict");
    ck_assert_int_eq(json_integer_value(json_object_get(left, "times")), 10 - 1 - K8S_TRIES_AFTER_CONFLICT);
    json_decref(left);
    op_ok(pl.ops->terminate(pl.state, CONFLICT_ID, &err), &err, "terminate");
    close_plugin(&pl);
    dm_k8s_fake_stop(&f);
}
END_TEST

/* ---- one namespace per user --------------------------------------------- */

#define UNS "dmu"
#define USER_A "0a0a0a0a-0000-4000-8000-00000000000a"
#define USER_B "0b0b0b0b-0000-4000-8000-00000000000b"
#define UA_1 "5c000000-0000-4000-8000-0000000000a1"
#define UA_2 "5c000000-0000-4000-8000-0000000000a2"
#define UB_1 "5c000000-0000-4000-8000-0000000000b1"
#define U_CUT "5c000000-0000-4000-8000-0000000000c1"
#define ALL_DEPLOY "/apis/apps/v1/deployments?labelSelector=" SEL

static void open_per_user(plug *pl, const dm_k8s_fake *f)
{
    try_open_with(pl, f, NULL, json_pack("{s:b, s:s}", "namespace_per_user", 1, "namespace", UNS));
    ck_assert_msg(pl->f.p != NULL, "refused: %s\n%s", refusal(pl), pl->f.log);
}

static json_t *user_spec(const char *user)
{
    json_t *s = site_spec("nginx:1.27", 64, false);
    if (user != NULL)
        json_object_set_new(s, "user", json_string(user));
    return s;
}

/* The namespace the fake holds instance id's Deployment in ("" if none). */
static void deployment_ns(const dm_k8s_fake *f, const char *id, char *out, size_t cap)
{
    char path[256];
    snprintf(path, sizeof path, "%s%s", ALL_DEPLOY, id);
    json_t *j = dm_k8s_fake_json(f, path);
    json_t *items = json_object_get(j, "items");
    ck_assert_msg(json_array_size(items) <= 1, "%zu Deployments of %s", json_array_size(items), id);
    const char *ns = json_string_value(json_object_get(
        json_object_get(json_array_get(items, 0), "metadata"), "namespace"));
    snprintf(out, cap, "%s", ns != NULL ? ns : "");
    json_decref(j);
}

/* Each user's instances go to "<namespace>-<user>", applied on demand and
 * labelled with the user; a plugin started afresh (nothing cached) finds
 * them for every op; terminate removes one instance's objects and leaves
 * the user's other instance; a provision cut short (Deployments refused)
 * is found by its Secret and removed; a spec without a user, or with one
 * that cannot name a namespace, is refused with the reason. */
START_TEST(namespace_per_user)
{
    dm_k8s_fake f;
    start_fake(&f, false);
    plug pl;
    open_per_user(&pl, &f);
    provision(&pl, UA_1, user_spec(USER_A));
    provision(&pl, UA_2, user_spec(USER_A));
    provision(&pl, UB_1, user_spec(USER_B));
    char ns[64];
    deployment_ns(&f, UA_1, ns, sizeof ns);
    ck_assert_str_eq(ns, UNS "-" USER_A);
    deployment_ns(&f, UA_2, ns, sizeof ns);
    ck_assert_str_eq(ns, UNS "-" USER_A);
    deployment_ns(&f, UB_1, ns, sizeof ns);
    ck_assert_str_eq(ns, UNS "-" USER_B);
    json_t *nsobj = dm_k8s_fake_json(&f, "/api/v1/namespaces/" UNS "-" USER_B);
    const json_t *labels = json_object_get(json_object_get(nsobj, "metadata"), "labels");
    ck_assert_str_eq(json_string_value(json_object_get(labels, "dermaga.io/user")), USER_B);
    json_decref(nsobj);
    ck_assert_uint_eq(dm_k8s_fake_count(&f, "/apis/apps/v1/namespaces/" UNS "/deployments"), 0);

    /* A fresh plugin knows nothing: every op finds the namespace. */
    close_plugin(&pl);
    open_per_user(&pl, &f);
    dm_runtime_status_t st = { 0 };
    wait_phase(&pl, UB_1, DM_RUNTIME_RUNNING, NULL, &st);
    ck_assert_msg(strncmp(st.unit_name, "dm-" UB_1 "-", strlen("dm-" UB_1 "-")) == 0, "unit %s",
                  st.unit_name);
    dm_err_t err;
    dm_err_clear(&err);
    op_ok(pl.ops->stop(pl.state, UB_1, &err), &err, "stop");
    wait_phase(&pl, UB_1, DM_RUNTIME_STOPPED, NULL, &st);
    json_t *d = dm_k8s_fake_json(&f, "/apis/apps/v1/namespaces/" UNS "-" USER_B "/deployments/dm-" UB_1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(d, "spec"), "replicas")), 0);
    json_decref(d);
    op_ok(pl.ops->start(pl.state, UB_1, &err), &err, "start");
    wait_phase(&pl, UB_1, DM_RUNTIME_RUNNING, NULL, &st);
    dm_runtime_usage_t use = { 0 };
    op_ok(pl.ops->usage(pl.state, UB_1, &use, &err), &err, "usage");
    json_t *ids = NULL;
    op_ok(pl.ops->workloads(pl.state, OWNER, &ids, &err), &err, "workloads");
    ck_assert_msg(json_array_size(ids) == 3, "workloads over the users' namespaces: %zu",
                  json_array_size(ids));
    json_decref(ids);

    op_ok(pl.ops->terminate(pl.state, UA_1, &err), &err, "terminate");
    ck_assert_uint_eq(dm_k8s_fake_count(&f, ALL_DEPLOY UA_1), 0);
    ck_assert_uint_eq(dm_k8s_fake_count(&f, "/api/v1/secrets?labelSelector=" SEL UA_1), 0);
    ck_assert_uint_eq(dm_k8s_fake_count(&f, "/api/v1/services?labelSelector=" SEL UA_1), 0);
    op_ok(pl.ops->terminate(pl.state, UA_1, &err), &err, "terminate again");
    status_of(&pl, UA_1, &st);
    ck_assert_uint_eq(st.phase, DM_RUNTIME_ABSENT);
    wait_phase(&pl, UA_2, DM_RUNTIME_RUNNING, NULL, &st);
    json_decref(st.endpoints);

    /* Cut short after its Secret: a fresh plugin finds and removes it. */
    dm_k8s_fake_send(&f, "PUT", "/fake/deny", "application/json", "{\"rules\":[\"patch:deployments\"]}");
    st = (dm_runtime_status_t){ 0 };
    json_t *cut = user_spec(USER_B);
    int rc = pl.ops->provision(pl.state, U_CUT, cut, &st, &err);
    json_decref(cut);
    ck_assert_msg(rc == DM_EPERM, "provision with Deployments refused: %d %s", rc, err.msg);
    json_decref(st.endpoints);
    dm_k8s_fake_send(&f, "PUT", "/fake/deny", "application/json", "{\"rules\":[]}");
    ck_assert_uint_eq(dm_k8s_fake_count(&f, "/api/v1/secrets?labelSelector=" SEL U_CUT), 1);
    /* Only its Secret exists: the reconciler still learns of it. */
    ids = NULL;
    op_ok(pl.ops->workloads(pl.state, OWNER, &ids, &err), &err, "workloads");
    bool listed = false;
    size_t k;
    const json_t *v;
    json_array_foreach(ids, k, v) listed = listed || strcmp(json_string_value(v), U_CUT) == 0;
    ck_assert_msg(listed, "workloads() does not list the instance whose provision was cut short");
    json_decref(ids);
    close_plugin(&pl);
    open_per_user(&pl, &f);
    op_ok(pl.ops->terminate(pl.state, U_CUT, &err), &err, "terminate the cut-short one");
    ck_assert_uint_eq(dm_k8s_fake_count(&f, "/api/v1/secrets?labelSelector=" SEL U_CUT), 0);

    const char *bad[][2] = { { NULL, "namespace_per_user needs the spec's user" },
                             { "Bad_User", "user id \"Bad_User\" cannot name a namespace" } };
    for (size_t i = 0; i < 2; i++) {
        st = (dm_runtime_status_t){ 0 };
        dm_err_clear(&err);
        json_t *spec = user_spec(bad[i][0]);
        rc = pl.ops->provision(pl.state, U_CUT, spec, &st, &err);
        json_decref(spec);
        ck_assert_msg(rc == DM_EINVAL && strstr(err.msg, bad[i][1]) != NULL, "user %s: %d %s",
                      bad[i][0], rc, err.msg);
    }
    close_plugin(&pl);
    dm_k8s_fake_stop(&f);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("runtime_k8s");
    TCase *tc = tcase_create("fake API server");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, lifecycle_over_https);
    tcase_add_test(tc, wrong_ca_is_refused);
    tcase_add_test(tc, logs_tail_and_follow_across_restart);
    tcase_add_test(tc, crash_image_fails_and_unknown_is_absent);
    suite_add_tcase(s, tc);
    TCase *conflicts = tcase_create("conflicts");
    tcase_set_timeout(conflicts, 60);
    tcase_add_test(conflicts, conflicts_are_retried);
    suite_add_tcase(s, conflicts);
    TCase *users = tcase_create("per-user namespaces");
    tcase_set_timeout(users, 60);
    tcase_add_test(users, namespace_per_user);
    suite_add_tcase(s, users);
    return s;
}

DM_TEST_MAIN(make_suite)
