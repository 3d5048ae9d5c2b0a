/*
 * test_runtime_k8s_e2e.c — the real `dermaga` binary with runtime-kubernetes
 * as its default runtime against the fake Kubernetes API server
 * (tests/fakes/k8s over HTTPS with its throwaway CA; e2e_k8s.h), driven
 * through the REST API only, the fake's API and /fake/ control API being
 * used to look at the cluster and to steer it.
 *
 * lifecycle: a static-site subscription comes up RUNNING on a pod of the
 * fake, with the Ingress URL and the labelled Secret, claim, Deployment,
 * Service and Ingress; stop scales to 0, start and restart (a new pod) come
 * back; injected pod log lines reach the logs route and the live log, which
 * follows the new pod after a restart; the metrics route answers the
 * fake's metrics, and 503 without a metrics-server; the admin cluster view
 * lists the pod, Deployment, Ingress host and nodes and the pod's metrics;
 * a cancel leaves nothing labelled with the instance.
 * errors: an RBAC refusal (403) of the apply or of the scale subresource
 * (a stop) and an admission policy's 422 end the operation in ERROR with
 * the API server's words in the instance's events,
 * and retry-provision after the cause is gone reaches RUNNING with one copy
 * of each object; a slow API server (request timeout) is retried, not
 * recorded as a failure, and converges once it answers again (one that
 * stays slow: test_runtime_k8s_timeout.c).
 * reconciler: a Deployment of this installation whose instance does not
 * exist is removed; another installation's is kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"
#include "e2e_instances.h"
#include "e2e_k8s.h"
#include "e2e_logs.h"
#include "testdb.h"

#define db_url dm_e2e_auth_db_url
#define NS DM_E2E_K8S_NS
#define WAIT_MS 20000

static void suite_setup(void) { dm_e2e_instances_setup("k8se2e"); }
static void suite_teardown(void) { dm_e2e_instances_teardown(); }

static void setup(void)
{
    dm_e2e_k8s_opts o = { 0 };
    dm_e2e_k8s_start(&o);
}

static void setup_errors(void) { dm_e2e_k8s_start_for_errors(); }

/* The reconciler every second. */
static void setup_reconciler(void)
{
    dm_e2e_k8s_opts o = { .extra = json_pack("{s:{s:i}}", "instances", "reconcileEveryS", 1) };
    dm_e2e_k8s_start(&o);
}

/* namespace_per_user: each subscriber's instances in their own namespace. */
static void setup_per_user(void)
{
    dm_e2e_k8s_opts o = { .per_user = true };
    dm_e2e_k8s_start(&o);
}

static void teardown(void) { dm_e2e_k8s_stop(); }

/* ---- helpers --------------------------------------------------------------- */

/* PUT /api/instances/<inst>/<op> → 202, then wait for want; the detail. */
static json_t *inst_op(const char *tok, const char *inst, const char *op, const char *want)
{
    char path[160];
    snprintf(path, sizeof path, "/api/instances/%s/%s", inst, op);
    dm_e2e_instances_op("PUT", tok, path, NULL, 202);
    return dm_e2e_instances_wait(tok, inst, want);
}

/* GET path as tok: the data of a 200 (new reference). */
static json_t *api_get(const char *tok, const char *path)
{
    dm_e2e_response res;
    dm_e2e_auth_call("GET", path, tok, NULL, &res);
    json_t *d = dm_e2e_auth_ok_data(&res, 200, path);
    dm_e2e_response_free(&res);
    return d;
}

/* Nothing of any kind labelled with inst, waited for (pods go just after
 * their Deployment). */
static void expect_none_left(const char *inst)
{
    size_t left = 0;
    const char *kind = "";
    for (long long end = dm_e2e_now_ms() + WAIT_MS; dm_e2e_now_ms() <= end; dm_e2e_nap_ms(100)) {
        left = 0;
        for (size_t i = 0; dm_e2e_k8s_kinds[i] != NULL && left == 0; i++) {
            left = dm_e2e_k8s_count(dm_e2e_k8s_kinds[i], inst);
            kind = dm_e2e_k8s_kinds[i];
        }
        if (left == 0)
            return;
    }
    ck_abort_msg("%zu objects of %s are still labelled %s", left, kind, inst);
}

static void deployment_path(char *out, size_t n, const char *inst)
{
    snprintf(out, n, "/apis/apps/v1/namespaces/" NS "/deployments/dm-%s", inst);
}

/* The Deployment's spec.replicas. */
static long long replicas(const char *inst)
{
    char path[200];
    deployment_path(path, sizeof path, inst);
    json_t *d = dm_e2e_k8s_get(path);
    long long n = dm_e2e_jint(d, "spec.replicas");
    json_decref(d);
    return n;
}

/* Append text (one line) to pod's log in the fake. */
static void inject(const char *pod, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "/fake/pods/" NS "/%s/log", pod);
    long code;
    char *resp = dm_k8s_fake_call(&dm_e2e_k8s, "POST", path, "text/plain", text, &code);
    ck_assert_msg(code == 200 && strstr(resp, "\"appended\":1") != NULL, "inject into %s: %ld %s", pod, code, resp);
    free(resp);
}

/* Inject text into pod until the live log c carries it (a follow may
 * attach to a new pod only after a line was written to it, and a follow
 * from "now" would not see that line): bounded. */
static void inject_until_streamed(dm_e2e_conn *c, const char *inst, const char *pod, const char *text)
{
    for (long long end = dm_e2e_now_ms() + WAIT_MS; dm_e2e_now_ms() <= end;) {
        inject(pod, text);
        long long round = dm_e2e_now_ms() + 1000;
        while (dm_e2e_now_ms() < round) {
            dm_e2e_sse_event ev;
            int rc = dm_e2e_sse_next(c, &ev, 200);
            if (rc == DM_E2E_TIMEOUT)
                continue;
            ck_assert_msg(rc == 0, "live log of %s: %s", inst, dm_e2e_strerror(rc));
            bool hit = false;
            if (ev.data != NULL && ev.event[0] == '\0') { /* a line, not a comment or a control */
                json_t *l = dm_e2e_logs_line(&ev, inst);
                const char *t = json_string_value(json_object_get(l, "line"));
                hit = t != NULL && strcmp(t, text) == 0;
                json_decref(l);
            }
            dm_e2e_sse_event_free(&ev);
            if (hit)
                return;
        }
    }
    ck_abort_msg("\"%s\" written to %s never came on the live log of %s", text, pod, inst);
}

/* A user with a RUNNING static-site instance on the fake; the token. */
static char *running(const char *email, char sub[37], char inst[37])
{
    char *tok = dm_e2e_instances_subscribe(email, sub, inst);
    json_decref(dm_e2e_instances_wait(tok, inst, "RUNNING"));
    return tok;
}

/* ---- lifecycle ---------------------------------------------------------------- */

START_TEST(a_subscription_runs_on_the_cluster)
{
    char sub[37], inst[37], pod[128];
    char *tok = dm_e2e_instances_subscribe("run@example.id", sub, inst);
    json_t *d = dm_e2e_instances_wait(tok, inst, "RUNNING");
    ck_assert_str_eq(dm_e2e_jstr(d, "runtime"), "runtime-kubernetes");
    dm_e2e_k8s_wait_pod(inst, NULL, pod, sizeof pod);
    ck_assert_str_eq(dm_e2e_jstr(d, "unitName"), pod);

    /* The Ingress: host <service>-<8 chars>.<base_domain>, the public URL. */
    json_t *ing = dm_e2e_k8s_only("/apis/networking.k8s.io/v1/ingresses", inst);
    const char *host = dm_e2e_jstr(ing, "spec.rules.0.host");
    char tail[128];
    snprintf(tail, sizeof tail, "-%.8s." DM_E2E_K8S_DOMAIN, inst);
    size_t hl = strlen(host), tl = strlen(tail);
    ck_assert_msg(hl > tl && strcmp(host + hl - tl, tail) == 0 && strchr(host, '.') == host + hl - tl + 9,
                  "ingress host %s is not <service>%s", host, tail);
    /* No TLS configured: the Ingress URL, http://<host> (the endpoint is
     * the host on port 80 with scheme http, which the template's
     * "${url.http}" spells without the scheme's own port). */
    char url[300];
    snprintf(url, sizeof url, "http://%s", host);
    ck_assert_str_eq(dm_e2e_jstr(d, "urls.public"), url);
    json_decref(ing);
    json_decref(d);

    /* Every object, labelled for this installation and instance. */
    dm_e2e_k8s_expect_one_of_each(inst);
    char *owner = dm_test_db_scalarf(db_url, "SELECT id FROM installation");
    json_t *dep = dm_e2e_k8s_only("/apis/apps/v1/deployments", inst);
    ck_assert_str_eq(dm_e2e_jstr(dep, "metadata.namespace"), NS);
    json_t *labels = dm_e2e_jpath(dep, "metadata.labels");
    ck_assert_str_eq(json_string_value(json_object_get(labels, "app.kubernetes.io/managed-by")), "dermaga");
    ck_assert_str_eq(json_string_value(json_object_get(labels, "app.kubernetes.io/instance")), inst);
    ck_assert_str_eq(json_string_value(json_object_get(labels, "dermaga.io/installation")), owner);
    json_decref(dep);
    free(owner);
    free(tok);
}
END_TEST

START_TEST(stop_start_and_restart)
{
    char sub[37], inst[37], pod[128], pod2[128];
    char *tok = running("ops@example.id", sub, inst);
    dm_e2e_k8s_wait_pod(inst, NULL, pod, sizeof pod);

    json_decref(inst_op(tok, inst, "stop", "STOPPED"));
    ck_assert_int_eq(replicas(inst), 0);
    ck_assert_int_eq(dm_e2e_k8s_count("/api/v1/pods", inst), 0);

    json_decref(inst_op(tok, inst, "start", "RUNNING"));
    ck_assert_int_eq(replicas(inst), 1);
    dm_e2e_k8s_wait_pod(inst, NULL, pod2, sizeof pod2);

    json_t *d = inst_op(tok, inst, "restart", "RUNNING");
    char pod3[128];
    dm_e2e_k8s_wait_pod(inst, pod2, pod3, sizeof pod3);
    ck_assert_str_eq(dm_e2e_jstr(d, "unitName"), pod3);
    ck_assert_str_ne(pod3, pod2);
    json_decref(d);
    dm_e2e_k8s_expect_one_of_each(inst);
    free(tok);
}
END_TEST

START_TEST(logs_through_the_rest_route_and_the_live_stream)
{
    char sub[37], inst[37], pod[128], pod2[128];
    char *tok = running("logs@example.id", sub, inst);
    dm_e2e_k8s_wait_pod(inst, NULL, pod, sizeof pod);
    inject(pod, "k8s says hello");
    inject(pod, "and goodbye");
    const char *const texts[] = { "k8s says hello", "and goodbye", NULL };
    dm_e2e_logs_wait_logged(tok, inst, texts);

    char path[160];
    dm_e2e_logs_path(path, sizeof path, inst, "?tail=10");
    dm_e2e_conn c;
    dm_e2e_logs_open_ok(&c, path, tok, NULL);
    json_decref(dm_e2e_logs_wait_line(&c, inst, "and goodbye", DM_E2E_LOGS_EVENT_MS, NULL));
    inject_until_streamed(&c, inst, pod, "a live line");

    /* A restart: a new pod, and the same stream carries its lines. */
    json_decref(inst_op(tok, inst, "restart", "RUNNING"));
    dm_e2e_k8s_wait_pod(inst, pod, pod2, sizeof pod2);
    inject_until_streamed(&c, inst, pod2, "from the new pod");
    dm_e2e_close(&c);
    free(tok);
}
END_TEST

START_TEST(metrics_from_the_metrics_server)
{
    char sub[37], inst[37], pod[128], path[256];
    char *tok = running("metrics@example.id", sub, inst);
    dm_e2e_k8s_wait_pod(inst, NULL, pod, sizeof pod);
    snprintf(path, sizeof path, "/fake/metrics/" NS "/%s", pod);
    dm_e2e_k8s_send("PUT", path, "{\"containers\":{\"app\":{\"cpu\":\"125m\",\"memory\":\"48Mi\"}}}", 200);

    snprintf(path, sizeof path, "/api/subscriptions/%s/metrics", sub);
    json_t *m = api_get(tok, path);
    ck_assert_str_eq(dm_e2e_jstr(m, "instanceId"), inst);
    ck_assert_int_eq(dm_e2e_jint(m, "cpu.used"), 125);
    ck_assert_int_eq(dm_e2e_jint(m, "cpu.limit"), 250);
    ck_assert_int_eq(dm_e2e_jint(m, "cpu.percentage"), 50);
    /* Memory is MiB as a number with two decimals: 48Mi of a 64 MiB limit. */
    json_t *used = dm_e2e_jpath(m, "memory.used"), *limit = dm_e2e_jpath(m, "memory.limit");
    ck_assert_msg(json_is_number(used) && json_number_value(used) == 48.0, "memory.used is not 48 MiB");
    ck_assert_msg(json_is_number(limit) && json_number_value(limit) == 64.0, "memory.limit is not 64 MiB");
    ck_assert_int_eq(dm_e2e_jint(m, "memory.percentage"), 75);
    json_decref(m);

    /* No metrics-server: the documented 503, the cause in the log. */
    dm_e2e_k8s_send("PUT", "/fake/metrics-server", "{\"enabled\":false}", 200);
    dm_e2e_response res;
    dm_e2e_auth_call("GET", path, tok, NULL, &res);
    dm_e2e_auth_expect_error(&res, 503, "RUNTIME_UNAVAILABLE", "metrics without a metrics-server");
    dm_e2e_response_free(&res);
    ck_assert_msg(dm_e2e_server_wait_log(&dm_e2e_auth_srv, "metrics unavailable", 5000),
                  "the server log must say why");
    free(tok);
}
END_TEST

/* Whether the list holds an item whose field is value. */
static bool lists(const json_t *items, const char *field, const char *value)
{
    size_t i;
    const json_t *it;
    json_array_foreach(items, i, it) {
        const char *v = json_string_value(json_object_get(it, field));
        if (v != NULL && strcmp(v, value) == 0)
            return true;
    }
    return false;
}

START_TEST(the_admin_cluster_view)
{
    char sub[37], inst[37], pod[128], dep[64];
    char *tok = running("view@example.id", sub, inst);
    dm_e2e_k8s_wait_pod(inst, NULL, pod, sizeof pod);
    snprintf(dep, sizeof dep, "dm-%s", inst);
    char *admin = dm_e2e_auth_login(DM_E2E_ADMIN_EMAIL, DM_E2E_ADMIN_PASS);

    json_t *pods = api_get(admin, "/api/admin/runtime/pods?managed=true");
    ck_assert_msg(lists(pods, "name", pod) && lists(pods, "instance", inst), "the managed pods lack %s", pod);
    json_decref(pods);
    json_t *deps = api_get(admin, "/api/admin/runtime/deployments");
    ck_assert_msg(lists(deps, "name", dep), "deployments lack %s", dep);
    json_decref(deps);
    json_t *ing = dm_e2e_k8s_only("/apis/networking.k8s.io/v1/ingresses", inst);
    json_t *ings = api_get(admin, "/api/admin/runtime/ingresses?namespace=" NS);
    json_t *want = json_pack("[s]", dm_e2e_jstr(ing, "spec.rules.0.host"));
    bool host = false;
    size_t i;
    const json_t *it;
    json_array_foreach(ings, i, it)
        host = host || (json_equal(json_object_get(it, "name"), json_object_get(json_object_get(ing, "metadata"), "name")) &&
                        json_equal(json_object_get(it, "hosts"), want));
    ck_assert_msg(host, "no ingress lists the host %s", dm_e2e_jstr(ing, "spec.rules.0.host"));
    json_decref(want);
    json_decref(ings);
    json_decref(ing);
    json_t *nodes = api_get(admin, "/api/admin/runtime/nodes");
    ck_assert_msg(lists(nodes, "name", "fake-node-1") && lists(nodes, "name", "fake-node-2"), "nodes");
    json_decref(nodes);

    char path[256];
    snprintf(path, sizeof path, "/fake/metrics/" NS "/%s", pod);
    dm_e2e_k8s_send("PUT", path, "{\"containers\":{\"app\":{\"cpu\":\"75m\",\"memory\":\"32Mi\"}}}", 200);
    snprintf(path, sizeof path, "/api/admin/runtime/pods/" NS "/%s/metrics", pod);
    json_t *pm = api_get(admin, path);
    ck_assert_str_eq(dm_e2e_jstr(pm, "name"), pod);
    ck_assert_str_eq(dm_e2e_jstr(pm, "namespace"), NS);
    ck_assert_int_eq(dm_e2e_jint(pm, "cpuMillicores"), 75);
    ck_assert_msg(json_number_value(json_object_get(pm, "memoryMiB")) == 32.0, "memoryMiB");
    json_decref(pm);
    free(admin);
    free(tok);
}
END_TEST

START_TEST(a_cancel_leaves_nothing_behind)
{
    char sub[37], inst[37], path[160];
    char *tok = running("cancel@example.id", sub, inst);
    dm_e2e_k8s_expect_one_of_each(inst);
    snprintf(path, sizeof path, "/api/subscriptions/%s/cancel", sub);
    dm_e2e_instances_op("PUT", tok, path, NULL, 200);
    json_decref(dm_e2e_instances_wait(tok, inst, "TERMINATED"));
    expect_none_left(inst);
    free(tok);
}
END_TEST

/* ---- one namespace per user ----------------------------------------------------- */

/* The namespace of inst's one Deployment, into out. */
static void deployment_namespace(const char *inst, char *out, size_t cap)
{
    json_t *d = dm_e2e_k8s_only("/apis/apps/v1/deployments", inst);
    snprintf(out, cap, "%s", dm_e2e_jstr(d, "metadata.namespace"));
    json_decref(d);
}

/* With namespace_per_user the server tells the plugin each instance's
 * subscriber: two users' instances run in "dermaga-<their user id>", made
 * on demand; cancelling one removes its objects and leaves the other. */
START_TEST(each_user_runs_in_a_namespace_of_their_own)
{
    char sub_a[37], inst_a[37], sub_b[37], inst_b[37], ns[128], want[128], path[160];
    char *tok_a = running("first@example.id", sub_a, inst_a);
    char *tok_b = running("second@example.id", sub_b, inst_b);
    const struct { const char *sub, *inst; } users[] = { { sub_a, inst_a }, { sub_b, inst_b } };
    for (size_t i = 0; i < 2; i++) {
        char *user = dm_test_db_scalarf(db_url, "SELECT user_id FROM subscriptions WHERE id = '%s'", users[i].sub);
        snprintf(want, sizeof want, DM_E2E_K8S_NS "-%s", user);
        free(user);
        deployment_namespace(users[i].inst, ns, sizeof ns);
        ck_assert_str_eq(ns, want);
        snprintf(path, sizeof path, "/api/v1/namespaces/%s", want);
        json_decref(dm_e2e_k8s_get(path));
    }
    snprintf(path, sizeof path, "/api/subscriptions/%s/cancel", sub_a);
    dm_e2e_instances_op("PUT", tok_a, path, NULL, 200);
    json_decref(dm_e2e_instances_wait(tok_a, inst_a, "TERMINATED"));
    expect_none_left(inst_a);
    dm_e2e_k8s_expect_one_of_each(inst_b);
    free(tok_a);
    free(tok_b);
}
END_TEST

/* ---- errors ------------------------------------------------------------------- */

/* RBAC refuses to apply Deployments: ERROR naming the verb and the
 * resource; once allowed, retry-provision converges with one copy of each. */
START_TEST(a_forbidden_apply_is_an_error_naming_verb_and_resource)
{
    dm_e2e_k8s_send("PUT", "/fake/deny", "{\"rules\":[\"patch:deployments\"]}", 200);
    char sub[37], inst[37];
    char *tok = dm_e2e_instances_subscribe("denied@example.id", sub, inst);
    const char *const said[] = { "forbidden", "cannot patch resource \"deployments\"", "apps", NULL };
    dm_e2e_k8s_expect_error(tok, inst, said);
    ck_assert_int_eq(dm_e2e_k8s_count("/apis/apps/v1/deployments", inst), 0);

    dm_e2e_k8s_send("PUT", "/fake/deny", "{\"rules\":[]}", 200);
    dm_e2e_k8s_retry_provision(tok, sub);
    json_decref(dm_e2e_instances_wait(tok, inst, "RUNNING"));
    dm_e2e_k8s_expect_one_of_each(inst);
    free(tok);
}
END_TEST

/* RBAC refuses the scale subresource: the stop ends in ERROR naming it;
 * the Deployment still runs (nothing was changed), and once allowed,
 * retry-provision brings the instance back. */
START_TEST(a_forbidden_stop_is_an_error_naming_the_subresource)
{
    char sub[37], inst[37];
    char *tok = running("nostop@example.id", sub, inst);
    dm_e2e_k8s_send("PUT", "/fake/deny", "{\"rules\":[\"patch:deployments/scale\"]}", 200);
    char path[160];
    snprintf(path, sizeof path, "/api/instances/%s/stop", inst);
    dm_e2e_instances_op("PUT", tok, path, NULL, 202);
    const char *const said[] = { "forbidden", "cannot patch resource \"deployments/scale\"", NULL };
    dm_e2e_k8s_expect_error(tok, inst, said);
    ck_assert_int_eq(replicas(inst), 1);

    dm_e2e_k8s_send("PUT", "/fake/deny", "{\"rules\":[]}", 200);
    dm_e2e_k8s_retry_provision(tok, sub);
    json_decref(dm_e2e_instances_wait(tok, inst, "RUNNING"));
    dm_e2e_k8s_expect_one_of_each(inst);
    free(tok);
}
END_TEST

/* An admission policy (422): the API server's message in the ERROR. */
START_TEST(an_invalid_answer_shows_the_api_servers_message)
{
    dm_e2e_k8s_send("PUT", "/fake/admission-policy",
                    "{\"rules\":[\"patch:deployments\"],\"message\":\"too big\"}", 200);
    char sub[37], inst[37];
    char *tok = dm_e2e_instances_subscribe("invalid@example.id", sub, inst);
    char msg[256];
    snprintf(msg, sizeof msg, "Deployment.apps \"dm-%s\" is invalid: : ValidatingAdmissionPolicy 'fake-policy' "
             "with binding 'fake-binding' denied request: too big", inst);
    const char *const said[] = { "refused", msg, NULL };
    dm_e2e_k8s_expect_error(tok, inst, said);

    dm_e2e_k8s_send("PUT", "/fake/admission-policy", "{\"rules\":[]}", 200);
    dm_e2e_k8s_retry_provision(tok, sub);
    json_decref(dm_e2e_instances_wait(tok, inst, "RUNNING"));
    dm_e2e_k8s_expect_one_of_each(inst);
    free(tok);
}
END_TEST

/* The API server holds the Deployment's apply past the request timeout:
 * the attempt fails as timed out and is retried (the instance stays
 * PROVISIONING: an outage is not the workload's failure); once it
 * answers in time the provision converges, one copy of each. */
START_TEST(a_slow_api_server_is_retried_until_it_answers)
{
    dm_e2e_k8s_send("PUT", "/fake/delay", "{\"ms\":2500,\"rules\":[\"patch:deployments\"]}", 200);
    char sub[37], inst[37];
    char *tok = dm_e2e_instances_subscribe("slow@example.id", sub, inst);
    ck_assert_msg(dm_e2e_server_wait_log(&dm_e2e_auth_srv, "did not answer in time", WAIT_MS),
                  "no timed-out attempt was logged");
    DM_EXPECT_SQL(db_url, "PROVISIONING", "SELECT status FROM instances WHERE id = '%s'", inst);
    char *log = dm_e2e_server_log(&dm_e2e_auth_srv);
    ck_assert_msg(strstr(log, "runtime unavailable: runtime-kubernetes: API server") != NULL,
                  "the retry must say the API server timed out: %s", log);
    free(log);
    dm_e2e_k8s_send("PUT", "/fake/delay", "{\"ms\":0}", 200);
    json_decref(dm_e2e_instances_wait(tok, inst, "RUNNING"));
    dm_e2e_k8s_expect_one_of_each(inst);
    free(tok);
}
END_TEST

/* ---- reconciler ----------------------------------------------------------------- */

/* A labelled Deployment in the fake (made directly, as by someone else). */
static void foreign_deployment(const char *inst, const char *owner)
{
    char body[2048];
    snprintf(body, sizeof body,
             "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"dm-%s\",\"labels\":{"
             "\"app.kubernetes.io/managed-by\":\"dermaga\",\"app.kubernetes.io/instance\":\"%s\","
             "\"dermaga.io/installation\":\"%s\"}},\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{"
             "\"app.kubernetes.io/instance\":\"%s\"}},\"template\":{\"metadata\":{\"labels\":{"
             "\"app.kubernetes.io/instance\":\"%s\"}},\"spec\":{\"containers\":[{\"name\":\"app\","
             "\"image\":\"nginx:1.27\"}]}}}}",
             inst, inst, owner, inst, inst);
    dm_e2e_k8s_send("POST", "/apis/apps/v1/namespaces/" NS "/deployments", body, 201);
}

START_TEST(the_reconciler_removes_an_orphan_deployment)
{
    /* A live instance first: the namespace exists and it must stay. */
    char sub[37], inst[37];
    char *tok = running("live@example.id", sub, inst);
    char *owner = dm_test_db_scalarf(db_url, "SELECT id FROM installation");
    char *orphan = dm_test_db_scalarf(db_url, "SELECT gen_random_uuid()");
    char *stranger = dm_test_db_scalarf(db_url, "SELECT gen_random_uuid()");
    foreign_deployment(orphan, owner);
    foreign_deployment(stranger, "0b5e7e7a-0000-4000-8000-00000000beef");

    size_t left = 1;
    for (long long end = dm_e2e_now_ms() + WAIT_MS; left != 0 && dm_e2e_now_ms() <= end; dm_e2e_nap_ms(100))
        left = dm_e2e_k8s_count("/apis/apps/v1/deployments", orphan);
    ck_assert_msg(left == 0, "the orphan Deployment dm-%s is still there", orphan);
    expect_none_left(orphan);
    ck_assert_int_eq(dm_e2e_k8s_count("/apis/apps/v1/deployments", stranger), 1);
    dm_e2e_k8s_expect_one_of_each(inst);
    DM_EXPECT_SQL(db_url, "RUNNING", "SELECT status FROM instances WHERE id = '%s'", inst);
    free(owner);
    free(orphan);
    free(stranger);
    free(tok);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("runtime_k8s_e2e");
    struct {
        const char *name;
        void (*setup)(void);
    } cases[] = { { "lifecycle", setup }, { "errors", setup_errors }, { "reconciler", setup_reconciler },
                  { "per-user namespaces", setup_per_user } };
    TCase *tc[4];
    for (size_t i = 0; i < 4; i++) {
        tc[i] = tcase_create(cases[i].name);
        tcase_add_unchecked_fixture(tc[i], suite_setup, suite_teardown);
        tcase_add_checked_fixture(tc[i], cases[i].setup, teardown);
        tcase_set_timeout(tc[i], 120);
        suite_add_tcase(s, tc[i]);
    }
    tcase_add_test(tc[0], a_subscription_runs_on_the_cluster);
    tcase_add_test(tc[0], stop_start_and_restart);
    tcase_add_test(tc[0], logs_through_the_rest_route_and_the_live_stream);
    tcase_add_test(tc[0], metrics_from_the_metrics_server);
    tcase_add_test(tc[0], the_admin_cluster_view);
    tcase_add_test(tc[0], a_cancel_leaves_nothing_behind);
    tcase_add_test(tc[1], a_forbidden_apply_is_an_error_naming_verb_and_resource);
    tcase_add_test(tc[1], a_forbidden_stop_is_an_error_naming_the_subresource);
    tcase_add_test(tc[1], an_invalid_answer_shows_the_api_servers_message);
    tcase_add_test(tc[1], a_slow_api_server_is_retried_until_it_answers);
    tcase_add_test(tc[2], the_reconciler_removes_an_orphan_deployment);
    tcase_add_test(tc[3], each_user_runs_in_a_namespace_of_their_own);
    return s;
}

DM_TEST_MAIN(make_suite)
