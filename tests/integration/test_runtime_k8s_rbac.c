/*
 * test_runtime_k8s_rbac.c — the runtime-kubernetes plugin's RBAC manifest
 * (plugins/runtime-kubernetes/rbac.yaml) is least privilege: the plugin's
 * whole lifecycle runs against the fake Kubernetes API server in RBAC mode
 * (tests/fakes/k8s, `--rbac` with the committed manifest, requests made as
 * system:serviceaccount:dermaga:dermaga), and
 *
 *  - no request is refused (the manifest grants enough), and
 *  - every grant of the manifest (each verb × apiGroup × resource of each
 *    bound rule) allowed at least one request: an unused grant is excess
 *    privilege, and the test fails naming it.
 *
 * The lifecycle: provision with a volume, an Ingress and TLS (cert-manager),
 * status, stop, start, restart, logs (tail and follow), usage, inventory of
 * every kind (all namespaces and one; pod metrics of two namespaces),
 * workloads, provision again without the public port and then without
 * ports (the Ingress and the Service deleted), terminate, status ABSENT.
 *
 * The same with namespace_per_user and rbac-per-user.yaml: the instance in
 * its user's namespace, found again by a plugin that cached nothing.
 *
 * And the other way round: with one grant removed from the manifest (the
 * fake's /fake/rbac/remove) the operation that needs it fails DM_EPERM with
 * a message naming the verb and the resource.
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
#define MANIFEST "plugins/runtime-kubernetes/rbac.yaml"
#define TOKEN "rbac-token-0815"
#define NS "dermaga"
#define OWNER "inst-rbac"
#define SEL "app.kubernetes.io%2Finstance%3D"
#define ID "4b1d2c3e-7777-4a2b-8c3d-00000000e001"
#define PER_USER_MANIFEST "plugins/runtime-kubernetes/rbac-per-user.yaml"
#define USER "0a0a0a0a-7777-4000-8000-00000000000a"
#define USER_NS NS "-" USER

/* The mode a test runs: per_user (namespace_per_user) or not, and the
 * namespace the instance lives in. */
static bool per_user;
static const char *ns_of_instance = NS;

/* ---- the plugin on a fake in RBAC mode ----------------------------------- */

typedef struct plug {
    fx_plugin               f;
    const dm_runtime_ops_t *ops;
    void                   *state;
    char                    dir[512];
} plug;

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void start_rbac_fake(dm_k8s_fake *f, const char *file)
{
    const char *src = getenv("DERMAGA_TEST_SOURCE_DIR");
    static char manifest[600];
    snprintf(manifest, sizeof manifest, "%s/%s", src != NULL && src[0] != '\0' ? src : DM_SOURCE_DIR,
             file);
    static const char *args[3];
    args[0] = "--rbac";
    args[1] = manifest;
    args[2] = NULL;
    dm_k8s_fake_opts o = { .token = TOKEN, .args = args };
    dm_k8s_fake_start(f, &o);
}

static void open_on(plug *pl, const dm_k8s_fake *f)
{
    memset(pl, 0, sizeof *pl);
    fx_mkdtemp(pl->dir, sizeof pl->dir);
    char kc[600];
    dm_k8s_write_kubeconfig(pl->dir, f->url, TOKEN, NULL, kc, sizeof kc);
    /* An Ingress with TLS through cert-manager: every object kind. */
    json_t *cfg = json_pack("{s:s, s:s, s:s, s:s, s:i, s:b}", "kubeconfig", kc, "namespace", NS,
                            "base_domain", "apps.example.com", "cert_manager_issuer",
                            "letsencrypt", "request_timeout_ms", 5000, "namespace_per_user",
                            per_user);
    fx_plugin_open(&pl->f, PLUGIN_SO, "runtime-kubernetes", DM_PLUGIN_RUNTIME, cfg);
    ck_assert_msg(pl->f.p != NULL, "refused:\n%s", pl->f.log);
    pl->ops = dm__plugin_runtime_ops(pl->f.p);
    pl->state = pl->f.p->state;
    ck_assert_msg(pl->ops->logs != NULL && pl->ops->usage != NULL && pl->ops->inventory != NULL &&
                      pl->ops->workloads != NULL, "optional ops missing");
}

static void close_plugin(plug *pl)
{
    fx_plugin_close(&pl->f);
    fx_rmdir(pl->dir);
}

/* ---- the fake's side ----------------------------------------------------- */

/* The refusals the fake's authorizer made, as "verb group resource ns; …"
 * (empty when none), into out. */
static size_t denied(const dm_k8s_fake *f, char *out, size_t cap)
{
    json_t *u = dm_k8s_fake_json(f, "/fake/rbac/used");
    json_t *d = json_object_get(u, "denied");
    size_t i, n = json_array_size(d), o = 0;
    const json_t *it;
    out[0] = '\0';
    json_array_foreach(d, i, it) {
        int w = snprintf(out + o, cap - o, "%s%s \"%s\" %s in \"%s\"", i ? "; " : "",
                         json_string_value(json_object_get(it, "verb")),
                         json_string_value(json_object_get(it, "apiGroup")),
                         json_string_value(json_object_get(it, "resource")),
                         json_string_value(json_object_get(it, "namespace")));
        if (w < 0 || (size_t)w >= cap - o)
            break;
        o += (size_t)w;
    }
    json_decref(u);
    return n;
}

/* ---- operations ---------------------------------------------------------- */

static void op_ok(int rc, const dm_err_t *err, const char *what)
{
    ck_assert_msg(rc == 0, "%s: %d %s", what, rc, err->msg);
}

static void status_of(const plug *pl, dm_runtime_status_t *st)
{
    json_decref(st->endpoints);
    memset(st, 0, sizeof *st);
    dm_err_t err;
    dm_err_clear(&err);
    op_ok(pl->ops->status(pl->state, ID, st, &err), &err, "status");
}

static void wait_phase(const plug *pl, uint32_t phase, const char *not_unit,
                       dm_runtime_status_t *st)
{
    long long until = mono_ms() + 10000;
    do {
        status_of(pl, st);
        if (st->phase == phase && (phase != DM_RUNTIME_RUNNING || st->ready) &&
            (not_unit == NULL || strcmp(st->unit_name, not_unit) != 0))
            return;
        poll(NULL, 0, 50);
    } while (mono_ms() < until);
    ck_abort_msg("never reached phase %u: phase %u ready %d unit '%s' message '%s'", phase,
                 st->phase, st->ready, st->unit_name, st->message);
}

/* ports: 2 a public http port, 1 a private one, 0 none. */
static json_t *spec(int ports)
{
    json_t *s = json_pack("{s:s, s:s, s:{s:s}, s:{s:i, s:i}, s:[{s:s, s:s, s:i}]}", "image",
                          "nginx:1.27", "owner", OWNER, "env", "DERMAGA_TEST", "1", "resources",
                          "memoryMb", 64, "cpuMillicores", 250, "volumes", "name", "data",
                          "mountPath", "/data", "sizeGb", 1);
    ck_assert_ptr_nonnull(s);
    if (ports > 0)
        json_object_set_new(s, "ports", json_pack("[{s:s, s:i, s:s, s:b}]", "name", "http",
                                                  "port", 8080, "protocol", "tcp", "public",
                                                  ports == 2));
    if (per_user)
        json_object_set_new(s, "user", json_string(USER));
    return s;
}

static int provision(const plug *pl, int ports, dm_err_t *err)
{
    dm_runtime_status_t st = { 0 };
    dm_err_clear(err);
    json_t *s = spec(ports);
    int rc = pl->ops->provision(pl->state, ID, s, &st, err);
    json_decref(s);
    json_decref(st.endpoints);
    return rc;
}

typedef struct lines {
    pthread_mutex_t mu;
    char            text[32][96];
    int             n;
    atomic_bool     cancel;
} lines;

static int on_line(void *opaque, const char *line, size_t len, uint32_t stream, int64_t ts_ms)
{
    lines *l = opaque;
    (void)stream;
    (void)ts_ms;
    pthread_mutex_lock(&l->mu);
    if (l->n < 32)
        snprintf(l->text[l->n++], sizeof l->text[0], "%.*s", (int)len, line);
    pthread_mutex_unlock(&l->mu);
    return 0;
}

static bool on_cancelled(void *opaque)
{
    return atomic_load(&((lines *)opaque)->cancel);
}

static bool has_line(lines *l, const char *text)
{
    pthread_mutex_lock(&l->mu);
    bool found = false;
    for (int i = 0; i < l->n && !found; i++)
        found = strcmp(l->text[i], text) == 0;
    pthread_mutex_unlock(&l->mu);
    return found;
}

static void inject(const dm_k8s_fake *f, const char *pod, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "/fake/pods/%s/%s/log", ns_of_instance, pod);
    dm_k8s_fake_send(f, "POST", path, "text/plain", text);
}

/* A one-off read of the last line. */
static int logs_tail(const plug *pl, lines *l, dm_err_t *err)
{
    dm_runtime_log_sink_t sink = { .opaque = l, .line = on_line, .cancelled = on_cancelled };
    dm_runtime_log_opts_t opts = { .tail_lines = 1 };
    dm_err_clear(err);
    return pl->ops->logs(pl->state, ID, &opts, &sink, err);
}

typedef struct follower {
    const plug *pl;
    lines      *l;
    int         rc;
    char        msg[DM_ERR_MSG_MAX];
} follower;

static void *follow_thread(void *arg)
{
    follower *fw = arg;
    dm_runtime_log_sink_t sink = { .opaque = fw->l, .line = on_line, .cancelled = on_cancelled };
    dm_runtime_log_opts_t opts = { .tail_lines = 1, .follow = true };
    dm_err_t err;
    dm_err_clear(&err);
    fw->rc = fw->pl->ops->logs(fw->pl->state, ID, &opts, &sink, &err);
    snprintf(fw->msg, sizeof fw->msg, "%s", err.msg);
    return NULL;
}

static void wait_line(lines *l, const char *text)
{
    long long until = mono_ms() + 10000;
    while (!has_line(l, text)) {
        ck_assert_msg(mono_ms() < until, "the log never showed '%s'", text);
        poll(NULL, 0, 50);
    }
}

static void check_logs(const plug *pl, const dm_k8s_fake *f, const char *pod)
{
    lines *l = calloc(1, sizeof *l);
    ck_assert_ptr_nonnull(l);
    pthread_mutex_init(&l->mu, NULL);
    inject(f, pod, "before\n");
    dm_err_t err;
    op_ok(logs_tail(pl, l, &err), &err, "logs");
    ck_assert_msg(has_line(l, "before"), "tail 1 lacks 'before' (%d lines)", l->n);

    follower fw = { .pl = pl, .l = l };
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, follow_thread, &fw), 0);
    /* tail 1 shows "before" again once attached; then a new line arrives */
    long long until = mono_ms() + 10000;
    while (l->n < 2) {
        ck_assert_msg(mono_ms() < until, "the follow never attached");
        poll(NULL, 0, 20);
    }
    inject(f, pod, "followed\n");
    wait_line(l, "followed");
    atomic_store(&l->cancel, true);
    pthread_join(th, NULL);
    ck_assert_msg(fw.rc == 0, "follow: %d %s", fw.rc, fw.msg);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static void inventory_ok(const plug *pl, const char *kind, const char *ns)
{
    json_t *out = NULL;
    dm_err_t err;
    dm_err_clear(&err);
    char what[64];
    snprintf(what, sizeof what, "inventory %s in %s", kind, ns != NULL ? ns : "all");
    op_ok(pl->ops->inventory(pl->state, kind, ns, &out, &err), &err, what);
    ck_assert_msg(json_is_array(out), "%s: not an array", what);
    json_decref(out);
}

/* The whole lifecycle; fails on the first refused operation. */
static void lifecycle(const plug *pl, const dm_k8s_fake *f)
{
    dm_err_t err;
    dm_runtime_status_t st = { 0 };
    op_ok(provision(pl, 2, &err), &err, "provision");
    wait_phase(pl, DM_RUNTIME_RUNNING, NULL, &st);
    /* TLS by cert-manager: the endpoint is https */
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(st.endpoints, "http"),
                                                        "port")), 443);

    op_ok(pl->ops->stop(pl->state, ID, &err), &err, "stop");
    wait_phase(pl, DM_RUNTIME_STOPPED, NULL, &st);
    op_ok(pl->ops->start(pl->state, ID, &err), &err, "start");
    wait_phase(pl, DM_RUNTIME_RUNNING, NULL, &st);
    char before[DM_RUNTIME_UNIT_MAX];
    snprintf(before, sizeof before, "%s", st.unit_name);
    op_ok(pl->ops->restart(pl->state, ID, &err), &err, "restart");
    wait_phase(pl, DM_RUNTIME_RUNNING, before, &st);
    /* Recreate (a volume): the old pod is gone once the new one runs */
    check_logs(pl, f, st.unit_name);

    char path[256];
    snprintf(path, sizeof path, "/fake/metrics/%s/%s", ns_of_instance, st.unit_name);
    dm_k8s_fake_send(f, "PUT", path, "application/json",
              "{\"containers\":{\"app\":{\"cpu\":\"150m\",\"memory\":\"64Mi\"}}}");
    dm_runtime_usage_t u = { 0 };
    op_ok(pl->ops->usage(pl->state, ID, &u, &err), &err, "usage");
    ck_assert_int_eq(u.cpu_millicores, 150);

    /* The cluster view: every kind, across namespaces and in one. */
    static const char *const kinds[] = { "nodes", "namespaces", "pods", "deployments",
                                         "services", "ingresses" };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        inventory_ok(pl, kinds[i], NULL);
        inventory_ok(pl, kinds[i], "kube-system");
    }
    inventory_ok(pl, "podmetrics", ns_of_instance);
    inventory_ok(pl, "podmetrics", "kube-system");

    json_t *ids = NULL;
    op_ok(pl->ops->workloads(pl->state, OWNER, &ids, &err), &err, "workloads");
    ck_assert_uint_eq(json_array_size(ids), 1);
    json_decref(ids);

    /* The public port made private: the Ingress goes; no ports: the
     * Service goes (deleted one by one, by name). */
    op_ok(provision(pl, 1, &err), &err, "provision without a public port");
    ck_assert_uint_eq(dm_k8s_fake_count(f, "/apis/networking.k8s.io/v1/ingresses?labelSelector=" SEL ID), 0);
    op_ok(provision(pl, 0, &err), &err, "provision without ports");
    ck_assert_uint_eq(dm_k8s_fake_count(f, "/api/v1/services?labelSelector=" SEL ID), 0);

    op_ok(pl->ops->terminate(pl->state, ID, &err), &err, "terminate");
    ck_assert_uint_eq(dm_k8s_fake_count(f, "/apis/apps/v1/deployments?labelSelector=" SEL ID), 0);
    wait_phase(pl, DM_RUNTIME_ABSENT, NULL, &st);
    json_decref(st.endpoints);
}

/* ---- least privilege ----------------------------------------------------- */

/* Run the lifecycle against manifest: nothing refused, every grant used. */
static void check_manifest(const char *manifest)
{
    dm_k8s_fake f;
    start_rbac_fake(&f, manifest);
    plug pl;
    open_on(&pl, &f);
    lifecycle(&pl, &f);

    /* (a) nothing was refused */
    char refused[2048];
    size_t n = denied(&f, refused, sizeof refused);
    ck_assert_msg(n == 0, "%zu requests refused by %s: %s", n, manifest, refused);

    /* (b) every grant was used */
    json_t *u = dm_k8s_fake_json(&f, "/fake/rbac/used");
    ck_assert_str_eq(json_string_value(json_object_get(u, "user")),
                     "system:serviceaccount:dermaga:dermaga");
    json_t *grants = json_object_get(u, "grants");
    ck_assert_msg(json_array_size(grants) > 0, "the manifest binds nothing to the service account");
    char unused[4096] = "";
    size_t o = 0, n_unused = 0, i;
    const json_t *g;
    json_array_foreach(grants, i, g) {
        if (json_integer_value(json_object_get(g, "uses")) > 0)
            continue;
        n_unused++;
        int w = snprintf(unused + o, sizeof unused - o, "\n  %s (%s): %s \"%s\" %s, scope %s",
                         json_string_value(json_object_get(g, "role")),
                         json_string_value(json_object_get(g, "binding")),
                         json_string_value(json_object_get(g, "verb")),
                         json_string_value(json_object_get(g, "apiGroup")),
                         json_string_value(json_object_get(g, "resource")),
                         json_string_value(json_object_get(g, "scope")));
        if (w > 0 && (size_t)w < sizeof unused - o)
            o += (size_t)w;
    }
    ck_assert_msg(n_unused == 0, "%zu grants of %s were never used (excess privilege):%s",
                  n_unused, manifest, unused);
    json_decref(u);
    close_plugin(&pl);
    dm_k8s_fake_stop(&f);
}

START_TEST(manifest_is_exactly_what_the_lifecycle_uses)
{
    check_manifest(MANIFEST);
}
END_TEST

START_TEST(per_user_manifest_is_exactly_what_the_lifecycle_uses)
{
    per_user = true;
    ns_of_instance = USER_NS;
    check_manifest(PER_USER_MANIFEST);
}
END_TEST

/* ---- one grant fewer ----------------------------------------------------- */

typedef enum { OP_PROVISION, OP_STOP, OP_LOGS, OP_USAGE, OP_TERMINATE, OP_NODES } op_t;

static const struct without {
    const char *verb, *group, *resource; /* the grant removed */
    op_t        op;                      /* what then fails */
    const char *want;                    /* in the plugin's error */
} WITHOUT[] = {
    { "patch", "", "namespaces", OP_PROVISION,
      "cannot patch resource \"namespaces\" in API group \"\" in the namespace \"" NS "\"" },
    { "create", "apps", "deployments", OP_PROVISION,
      "forbidden: create deployments/dm-" ID ": deployments.apps \"dm-" ID "\" is forbidden" },
    { "patch", "apps", "deployments/scale", OP_STOP,
      "cannot patch resource \"deployments/scale\" in API group \"apps\" in the namespace \"" NS "\"" },
    { "get", "", "pods/log", OP_LOGS,
      "cannot get resource \"pods/log\" in API group \"\" in the namespace \"" NS "\"" },
    { "get", "metrics.k8s.io", "pods", OP_USAGE,
      "cannot get resource \"pods\" in API group \"metrics.k8s.io\" in the namespace \"" NS "\"" },
    { "deletecollection", "", "secrets", OP_TERMINATE,
      "cannot deletecollection resource \"secrets\" in API group \"\" in the namespace \"" NS "\"" },
    { "list", "", "nodes", OP_NODES,
      "cannot list resource \"nodes\" in API group \"\" at the cluster scope" },
};

/* Run case w's operation (and what it needs first) → its rc. */
static int run_op(const plug *pl, const dm_k8s_fake *f, op_t op, dm_err_t *err)
{
    if (op == OP_PROVISION)
        return provision(pl, 2, err);
    if (op == OP_NODES) {
        json_t *out = NULL;
        dm_err_clear(err);
        int rc = pl->ops->inventory(pl->state, "nodes", NULL, &out, err);
        json_decref(out);
        return rc;
    }
    op_ok(provision(pl, 2, err), err, "provision");
    dm_runtime_status_t st = { 0 };
    wait_phase(pl, DM_RUNTIME_RUNNING, NULL, &st);
    dm_err_clear(err);
    int rc;
    if (op == OP_STOP) {
        rc = pl->ops->stop(pl->state, ID, err);
    } else if (op == OP_LOGS) {
        lines l = { .n = 0 };
        pthread_mutex_init(&l.mu, NULL);
        inject(f, st.unit_name, "x\n");
        rc = logs_tail(pl, &l, err);
        pthread_mutex_destroy(&l.mu);
    } else if (op == OP_USAGE) {
        dm_runtime_usage_t u = { 0 };
        rc = pl->ops->usage(pl->state, ID, &u, err);
    } else {
        rc = pl->ops->terminate(pl->state, ID, err);
    }
    json_decref(st.endpoints);
    return rc;
}

START_TEST(one_grant_fewer_fails_naming_it)
{
    dm_k8s_fake f;
    start_rbac_fake(&f, MANIFEST);
    plug pl;
    open_on(&pl, &f);
    for (size_t i = 0; i < sizeof WITHOUT / sizeof WITHOUT[0]; i++) {
        const struct without *w = &WITHOUT[i];
        dm_k8s_fake_send(&f, "POST", "/fake/reset", NULL, NULL); /* the manifest as committed */
        char body[256];
        snprintf(body, sizeof body, "{\"verb\":\"%s\",\"apiGroup\":\"%s\",\"resource\":\"%s\"}",
                 w->verb, w->group, w->resource);
        dm_k8s_fake_send(&f, "PUT", "/fake/rbac/remove", "application/json", body);
        dm_err_t err;
        int rc = run_op(&pl, &f, w->op, &err);
        ck_assert_msg(rc == DM_EPERM && strstr(err.msg, "forbidden: ") != NULL &&
                          strstr(err.msg, w->want) != NULL,
                      "without %s \"%s\" %s: %d '%s', want DM_EPERM with '%s'", w->verb,
                      w->group, w->resource, rc, err.msg, w->want);
        /* and it was that grant the fake found missing */
        char refused[2048];
        ck_assert_msg(denied(&f, refused, sizeof refused) > 0, "nothing refused");
        char needle[160];
        snprintf(needle, sizeof needle, "%s \"%s\" %s in", w->verb, w->group, w->resource);
        ck_assert_msg(strstr(refused, needle) != NULL, "refused %s, not %s", refused, needle);
    }
    close_plugin(&pl);
    dm_k8s_fake_stop(&f);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("runtime_k8s_rbac");
    TCase *tc = tcase_create("least privilege");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, manifest_is_exactly_what_the_lifecycle_uses);
    tcase_add_test(tc, one_grant_fewer_fails_naming_it);
    tcase_add_test(tc, per_user_manifest_is_exactly_what_the_lifecycle_uses);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
