/*
 * test_k8s_plugin.c — runtime-kubernetes as the server sees it: the built
 * plugins/runtime-kubernetes.so loaded through the real loader with a
 * kubeconfig that points at http://127.0.0.1:PORT and a bearer token (the
 * shape the lifecycle tests against tests/fakes/k8s will use). Config
 * refusals with their exact reasons, the insecure warning, errors when the
 * API server is unreachable (and no token in them), and the wire form of
 * provision, stop and terminate against a scripted loopback responder
 * (this file's, not the fake API server: it checks the requests, not the
 * cluster's behaviour).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dm_test.h"
#include "k8s_kubeconfig.h"
#include "../plugins/fixtures.h"

#include "plugin/registry.h"

#define PLUGIN_SO DM_BUILD_DIR "/plugins/runtime-kubernetes.so"
#define TOKEN "sekret-token-123"
#define ID "3f2a9c1e-7b4d-4e21-9a0f-5c6d7e8f9a0b"

/* ---- a scripted loopback HTTP responder ---------------------------------- */

#define MAX_REQS 32

typedef struct responder {
    int       fd;
    int       port;
    pthread_t thread;
    int       n;                    /* requests seen */
    bool      replace_pod;          /* the follow script below instead of answer_for */
    int       logs_served;
    char      reqs[MAX_REQS][2048]; /* request line, headers and body of each */
} responder;

/* The canned answer for one request: the GETs of status find a Deployment
 * and one running pod; everything else succeeds with an empty object. */
static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static const char *answer_for(const char *req, int *status)
{
    /* An API that refuses a collection delete of services (older
     * clusters): terminate lists them and deletes each. */
    if (starts(req, "DELETE /api/v1/namespaces/dermaga/services?")) {
        *status = 405;
        return "{\"kind\":\"Status\",\"code\":405}";
    }
    if (starts(req, "GET /api/v1/namespaces/dermaga/services?"))
        return "{\"items\":[{\"metadata\":{\"name\":\"dm-svc\"}}]}";
    if (starts(req, "GET /apis/apps/v1/namespaces/dermaga/deployments/dm-"))
        return "{\"kind\":\"Deployment\",\"spec\":{\"replicas\":1},\"status\":{}}";
    if (starts(req, "GET /api/v1/namespaces/dermaga/pods?"))
        return "{\"kind\":\"PodList\",\"items\":[{\"metadata\":{\"name\":\"dm-x-abc\","
               "\"creationTimestamp\":\"2024-05-01T10:00:00Z\"},\"status\":{\"phase\":\"Running\","
               "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],"
               "\"containerStatuses\":[{\"restartCount\":0}]}}]}";
    if (starts(req, "GET /api/v1/namespaces/dermaga/pods/dm-x-abc/log?"))
        return "2024-05-01T10:00:00.5Z hello\n2024-05-01T10:00:01Z world\nno time here";
    if (starts(req, "GET /apis/metrics.k8s.io/v1beta1/namespaces/dermaga/pods/dm-x-abc "))
        return "{\"containers\":[{\"usage\":{\"cpu\":\"12345678n\",\"memory\":\"123456Ki\"}}]}";
    if (starts(req, "GET /api/v1/nodes "))
        return "{\"items\":[{\"metadata\":{\"name\":\"n1\",\"creationTimestamp\":\"2024-01-01T00:00:00Z\"},"
               "\"status\":{\"capacity\":{\"cpu\":\"4\",\"memory\":\"8Gi\"},"
               "\"allocatable\":{\"cpu\":\"3800m\",\"memory\":\"7Gi\"},"
               "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}]}";
    if (starts(req, "GET /apis/apps/v1/namespaces/dermaga/deployments?") ||
        starts(req, "GET /api/v1/namespaces/dermaga/persistentvolumeclaims?") ||
        starts(req, "GET /api/v1/namespaces/dermaga/secrets?"))
        return "{\"items\":[{\"metadata\":{\"labels\":{\"app.kubernetes.io/instance\":\"i-1\"}}},"
               "{\"metadata\":{\"labels\":{\"app.kubernetes.io/instance\":\"i-2\"}}}]}";
    return "{}";
}

#define POD(name, ts) "{\"metadata\":{\"name\":\"" name "\",\"creationTimestamp\":\"" ts "\"}}"

/* A followed log across a pod replacement: pod p1's log ends after two
 * lines, p2 (newer) appears with one line, then the Deployment is gone. */
static const char *follow_script(responder *r, const char *req, int *status)
{
    if (starts(req, "GET /api/v1/namespaces/dermaga/pods?"))
        return r->logs_served == 0
                   ? "{\"items\":[" POD("p1", "2024-05-01T10:00:00Z") "]}"
                   : "{\"items\":[" POD("p1", "2024-05-01T10:00:00Z") ","
                     POD("p2", "2024-05-01T10:05:00Z") "]}";
    if (starts(req, "GET /api/v1/namespaces/dermaga/pods/p1/log?")) {
        r->logs_served++;
        return "2024-05-01T10:00:01Z one\n2024-05-01T10:00:02Z two\n";
    }
    if (starts(req, "GET /api/v1/namespaces/dermaga/pods/p2/log?")) {
        r->logs_served++;
        return "2024-05-01T10:05:01Z three\n";
    }
    if (starts(req, "GET /apis/apps/v1/namespaces/dermaga/deployments/") && r->logs_served >= 2) {
        *status = 404;
        return "{\"kind\":\"Status\",\"code\":404}";
    }
    return answer_for(req, status);
}

static void *serve(void *opaque)
{
    responder *r = opaque;
    for (;;) {
        int c = accept(r->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        /* One request per connection is enough: read until the headers
         * and the Content-Length body are in. */
        char buf[8192];
        size_t len = 0;
        for (;;) {
            ssize_t got = recv(c, buf + len, sizeof buf - 1 - len, 0);
            if (got <= 0)
                break;
            len += (size_t)got;
            buf[len] = '\0';
            char *end = strstr(buf, "\r\n\r\n");
            const char *cl = strcasestr(buf, "Content-Length:");
            long body = cl != NULL ? strtol(cl + 15, NULL, 10) : 0;
            if (end != NULL && (long)(len - (size_t)(end + 4 - buf)) >= body)
                break;
        }
        buf[len] = '\0';
        if (r->n < MAX_REQS)
            snprintf(r->reqs[r->n++], sizeof r->reqs[0], "%.2040s", buf);
        int status = 200;
        const char *body = r->replace_pod ? follow_script(r, buf, &status)
                                         : answer_for(buf, &status);
        char resp[4096];
        int n = snprintf(resp, sizeof resp, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                                            "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                         status, strlen(body), body);
        ck_assert(send(c, resp, (size_t)n, 0) == n);
        close(c);
    }
}

/* replace_pod is set before the thread starts, which then owns r's fields
 * until responder_stop (the test reads reqs only after the ops returned). */
static void responder_start(responder *r, bool replace_pod)
{
    memset(r, 0, sizeof *r);
    r->replace_pod = replace_pod;
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    ck_assert(bind(r->fd, (struct sockaddr *)&a, sizeof a) == 0);
    ck_assert(listen(r->fd, 16) == 0);
    ck_assert(getsockname(r->fd, (struct sockaddr *)&a, &al) == 0);
    r->port = ntohs(a.sin_port);
    ck_assert(pthread_create(&r->thread, NULL, serve, r) == 0);
}

static void responder_stop(responder *r)
{
    shutdown(r->fd, SHUT_RDWR);
    close(r->fd);
    pthread_join(r->thread, NULL);
}

/* ---- loading ------------------------------------------------------------- */

typedef struct plug {
    fx_plugin               f;
    const dm_runtime_ops_t *ops;
    char                    dir[512]; /* holds the kubeconfig */
} plug;

/* Load with config text where "@KC@" stands for the kubeconfig path. */
static void try_open(plug *pl, int port, const char *config)
{
    memset(pl, 0, sizeof *pl);
    fx_mkdtemp(pl->dir, sizeof pl->dir);
    char text[2048], kc[600], server[64];
    snprintf(server, sizeof server, "http://127.0.0.1:%d", port);
    dm_k8s_write_kubeconfig(pl->dir, server, TOKEN, NULL, kc, sizeof kc);
    const char *at = strstr(config, "@KC@");
    if (at != NULL)
        snprintf(text, sizeof text, "%.*s%s%s", (int)(at - config), config, kc, at + 4);
    else
        snprintf(text, sizeof text, "%s", config);
    fx_plugin_open(&pl->f, PLUGIN_SO, "runtime-kubernetes", DM_PLUGIN_RUNTIME, fx_json(text));
    pl->ops = dm__plugin_runtime_ops(pl->f.p);
}

static void close_plugin(plug *pl)
{
    fx_plugin_close(&pl->f);
    fx_rmdir(pl->dir);
}

static const char *refusal(const plug *pl)
{
    const char *r = json_string_value(
        json_object_get(json_array_get(dm__plugins_refusals(pl->f.set), 0), "reason"));
    return r != NULL ? r : "(no refusal)";
}

static void expect_refused(const char *config, const char *why)
{
    plug pl;
    try_open(&pl, 1, config);
    ck_assert_msg(pl.f.p == NULL, "config %s must refuse the plugin", config);
    ck_assert_msg(strstr(refusal(&pl), why) != NULL, "config %s: reason \"%s\" should say \"%s\"",
                  config, refusal(&pl), why);
    ck_assert_msg(strstr(pl.f.log, TOKEN) == NULL, "the token leaked into the log");
    close_plugin(&pl);
}

START_TEST(bad_config_is_refused_with_the_reason)
{
    expect_refused("{}", "config: set exactly one of kubeconfig (a path) and in_cluster (true)");
    expect_refused("{\"kubeconfig\":\"@KC@\",\"in_cluster\":true}", "set exactly one of");
    expect_refused("{\"kubeconfig\":\"/nonexistent/kc\"}", "config: kubeconfig: cannot open "
                                                          "/nonexistent/kc");
    expect_refused("{\"kubeconfig\":\"@KC@\",\"context\":\"prod\"}",
                   "config: kubeconfig: context \"prod\" not found in contexts");
    expect_refused("{\"kubeconfig\":\"@KC@\",\"namespace\":\"Bad_NS\"}",
                   "config: namespace \"Bad_NS\" must be a DNS-1123 label");
    expect_refused("{\"kubeconfig\":\"@KC@\",\"namespace_per_user\":true,"
                   "\"namespace\":\"a-prefix-much-too-long-for-a-uuid\"}",
                   "config: with namespace_per_user, namespace is a prefix of at most 26 bytes");
    expect_refused("{\"kubeconfig\":\"@KC@\",\"tls_secret\":\"a\",\"cert_manager_issuer\":\"b\"}",
                   "config: set tls_secret or cert_manager_issuer, not both");
    expect_refused("{\"kubeconfig\":\"@KC@\",\"request_timeout_ms\":10}",
                   "config: request_timeout_ms must be 1000..600000");
    expect_refused("{\"kubeconfig\":\"@KC@\",\"base_domain\":\"-x.example\"}",
                   "config: base_domain \"-x.example\" must be a DNS-1123 name");
    expect_refused("{\"kubeconfig\":\"@KC@\",\"inCluster\":true}", "unknown key 'inCluster'");
}
END_TEST

START_TEST(loads_and_warns_when_insecure)
{
    plug pl;
    try_open(&pl, 1, "{\"kubeconfig\":\"@KC@\",\"insecure_skip_tls_verify\":true,"
                     "\"base_domain\":\"apps.example.com\"}");
    ck_assert_msg(pl.f.p != NULL, "refused: %s\n%s", refusal(&pl), pl.f.log);
    ck_assert_msg(fx_log_has(pl.f.log, "plugin", "TLS verification of the API server"), "%s",
                  pl.f.log);
    ck_assert_msg(fx_log_has(pl.f.log, "plugin", "namespace dermaga"), "%s", pl.f.log);
    ck_assert_msg(strstr(pl.f.log, TOKEN) == NULL, "the token leaked into the log");
    close_plugin(&pl);
}
END_TEST

START_TEST(unreachable_server_is_unavailable)
{
    plug pl;
    try_open(&pl, 1, "{\"kubeconfig\":\"@KC@\",\"request_timeout_ms\":2000}");
    ck_assert_msg(pl.f.p != NULL, "refused: %s", refusal(&pl));
    dm_runtime_status_t st;
    memset(&st, 0, sizeof st);
    dm_err_t err = { 0 };
    int rc = pl.ops->status(pl.f.p->state, ID, &st, &err);
    ck_assert_int_eq(rc, DM_EUNAVAIL);
    ck_assert_msg(strstr(err.msg, "unreachable") != NULL, "%s", err.msg);
    ck_assert(strstr(err.msg, TOKEN) == NULL);
    /* Refused before any request. */
    json_t *bad = fx_json("{\"command\":[\"x\"]}");
    ck_assert_int_eq(pl.ops->provision(pl.f.p->state, ID, bad, &st, &err), DM_EINVAL);
    ck_assert_str_eq(err.msg, "spec.image must be a non-empty string");
    json_decref(bad);
    json_t *out = NULL;
    ck_assert_int_eq(pl.ops->inventory(pl.f.p->state, "widgets", NULL, &out, &err),
                     DM_EUNSUPPORTED);
    ck_assert_int_eq(pl.ops->status(pl.f.p->state, "../etc", &st, &err), DM_EINVAL);
    close_plugin(&pl);
}
END_TEST

/* The request among r's that starts with prefix, or NULL. */
static const char *find_req(const responder *r, const char *prefix)
{
    for (int i = 0; i < r->n; i++) {
        if (strncmp(r->reqs[i], prefix, strlen(prefix)) == 0)
            return r->reqs[i];
    }
    return NULL;
}

/* Start a responder and load the plugin against it (config as try_open). */
static void open_on(responder *r, bool replace_pod, plug *pl, const char *config)
{
    responder_start(r, replace_pod);
    try_open(pl, r->port, config);
    ck_assert_msg(pl->f.p != NULL, "refused: %s", refusal(pl));
}

static void close_both(plug *pl, responder *r)
{
    close_plugin(pl);
    responder_stop(r);
}

START_TEST(provision_stop_terminate_on_the_wire)
{
    responder r;
    plug pl;
    open_on(&r, false, &pl, "{\"kubeconfig\":\"@KC@\",\"base_domain\":\"apps.example.com\"}");
    json_t *spec = fx_json(
        "{\"image\":\"redis:7\",\"env\":{\"PW\":\"x\"},\"owner\":\"inst-1\","
        "\"ports\":[{\"name\":\"http\",\"port\":80,\"public\":true}],"
        "\"volumes\":[{\"name\":\"data\",\"mountPath\":\"/data\",\"sizeGb\":1}]}");
    dm_runtime_status_t st;
    memset(&st, 0, sizeof st);
    dm_err_t err = { 0 };
    int rc = pl.ops->provision(pl.f.p->state, ID, spec, &st, &err);
    ck_assert_msg(rc == 0, "provision: %d %s", rc, err.msg);
    json_decref(spec);
    ck_assert_int_eq(st.phase, DM_RUNTIME_RUNNING);
    ck_assert(st.ready);
    ck_assert_str_eq(st.unit_name, "dm-x-abc");
    const char *apply_paths[] = {
        "PATCH /api/v1/namespaces/dermaga?fieldManager=dermaga&force=true ",
        "PATCH /api/v1/namespaces/dermaga/secrets/dm-" ID "?fieldManager=dermaga&force=true ",
        "PATCH /api/v1/namespaces/dermaga/persistentvolumeclaims/dm-" ID "-data?fieldManager=",
        "PATCH /apis/apps/v1/namespaces/dermaga/deployments/dm-" ID "?fieldManager=",
        "PATCH /api/v1/namespaces/dermaga/services/dm-" ID "?fieldManager=",
        "PATCH /apis/networking.k8s.io/v1/namespaces/dermaga/ingresses/dm-" ID "?fieldManager=",
    };
    for (size_t i = 0; i < sizeof apply_paths / sizeof apply_paths[0]; i++) {
        const char *q = find_req(&r, apply_paths[i]);
        ck_assert_msg(q != NULL, "no request %s", apply_paths[i]);
        ck_assert_msg(strcasestr(q, "Content-Type: application/apply-patch+yaml") != NULL, "%s", q);
        ck_assert_msg(strstr(q, "Authorization: Bearer " TOKEN) != NULL, "%s", q);
    }
    ck_assert(find_req(&r, "GET /api/v1/namespaces/dermaga/pods?labelSelector=app.kubernetes.io"
                           "%2Fmanaged-by%3Ddermaga%2Capp.kubernetes.io%2Finstance%3D" ID) != NULL);

    rc = pl.ops->stop(pl.f.p->state, ID, &err);
    ck_assert_msg(rc == 0, "stop: %s", err.msg);
    const char *q = find_req(&r, "PATCH /apis/apps/v1/namespaces/dermaga/deployments/dm-" ID
                                 "/scale ");
    ck_assert_ptr_nonnull(q);
    ck_assert(strcasestr(q, "Content-Type: application/merge-patch+json") != NULL);
    ck_assert(strstr(q, "{\"spec\":{\"replicas\":0}}") != NULL);

    rc = pl.ops->restart(pl.f.p->state, ID, &err);
    ck_assert_msg(rc == 0, "restart: %s", err.msg);
    q = find_req(&r, "PATCH /apis/apps/v1/namespaces/dermaga/deployments/dm-" ID " ");
    ck_assert_ptr_nonnull(q);
    ck_assert(strstr(q, "kubectl.kubernetes.io/restartedAt") != NULL);

    rc = pl.ops->terminate(pl.f.p->state, ID, &err);
    ck_assert_msg(rc == 0, "terminate: %s", err.msg);
    ck_assert(find_req(&r, "DELETE /apis/apps/v1/namespaces/dermaga/deployments?labelSelector="
                           "app.kubernetes.io%2Fmanaged-by%3Ddermaga%2Capp.kubernetes.io%2Finstance%3D" ID
                           "&propagationPolicy=Foreground")
              != NULL);
    ck_assert(find_req(&r, "DELETE /api/v1/namespaces/dermaga/persistentvolumeclaims?"
                           "labelSelector=") != NULL);
    ck_assert(find_req(&r, "DELETE /api/v1/namespaces/dermaga/services/dm-svc?"
                           "propagationPolicy=Foreground ") != NULL);
    close_both(&pl, &r);
}
END_TEST

typedef struct lines {
    char    text[8][64];
    int64_t ts[8];
    int     n;
} lines;

static int on_line(void *opaque, const char *line, size_t len, uint32_t stream, int64_t ts_ms)
{
    lines *l = opaque;
    ck_assert_uint_eq(stream, DM_RUNTIME_STDOUT);
    ck_assert_int_lt(l->n, 8);
    snprintf(l->text[l->n], sizeof l->text[0], "%.*s", (int)len, line);
    l->ts[l->n++] = ts_ms;
    return 0;
}

START_TEST(logs_usage_inventory_workloads)
{
    responder r;
    plug pl;
    open_on(&r, false, &pl, "{\"kubeconfig\":\"@KC@\"}");
    dm_err_t err = { 0 };
    lines l = { .n = 0 };
    dm_runtime_log_sink_t sink = { .opaque = &l, .line = on_line };
    dm_runtime_log_opts_t opts = { .tail_lines = 50 };
    int rc = pl.ops->logs(pl.f.p->state, ID, &opts, &sink, &err);
    ck_assert_msg(rc == 0, "logs: %s", err.msg);
    ck_assert_msg(l.n == 3, "%d lines: [%s] [%s]", l.n, l.text[0], l.text[1]);
    ck_assert_str_eq(l.text[0], "hello");
    ck_assert_int_eq(l.ts[0], 1714557600500LL);
    ck_assert_str_eq(l.text[1], "world");
    ck_assert_str_eq(l.text[2], "no time here"); /* kept whole, ts 0 */
    ck_assert_int_eq(l.ts[2], 0);
    ck_assert(find_req(&r, "GET /api/v1/namespaces/dermaga/pods/dm-x-abc/log?container=app"
                           "&timestamps=true&tailLines=50 ") != NULL);

    dm_runtime_usage_t u = { 0 };
    rc = pl.ops->usage(pl.f.p->state, ID, &u, &err);
    ck_assert_msg(rc == 0, "usage: %s", err.msg);
    ck_assert_int_eq(u.cpu_millicores, 13);
    ck_assert_int_eq(u.memory_bytes, 123456LL * 1024);

    json_t *out = NULL;
    rc = pl.ops->inventory(pl.f.p->state, "nodes", NULL, &out, &err);
    ck_assert_msg(rc == 0, "inventory: %s", err.msg);
    json_t *n = json_array_get(out, 0);
    ck_assert_str_eq(json_string_value(json_object_get(n, "name")), "n1");
    ck_assert(json_is_true(json_object_get(n, "ready")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(n, "allocatable"),
                                                        "cpuMillicores")), 3800);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(n, "capacity"),
                                                        "memoryBytes")), 8LL << 30);
    json_decref(out);

    rc = pl.ops->workloads(pl.f.p->state, "inst-1", &out, &err);
    ck_assert_msg(rc == 0, "workloads: %s", err.msg);
    ck_assert_uint_eq(json_array_size(out), 2); /* each id once */
    ck_assert_str_eq(json_string_value(json_array_get(out, 1)), "i-2");
    ck_assert(find_req(&r, "GET /apis/apps/v1/namespaces/dermaga/deployments?labelSelector="
                           "app.kubernetes.io%2Fmanaged-by%3Ddermaga%2Cdermaga.io%2Finstallation"
                           "%3Dinst-1 ") != NULL);
    ck_assert(find_req(&r, "GET /api/v1/namespaces/dermaga/secrets?labelSelector="
                           "app.kubernetes.io%2Fmanaged-by%3Ddermaga%2Cdermaga.io%2Finstallation"
                           "%3Dinst-1 ") != NULL);
    json_decref(out);
    close_both(&pl, &r);
}
END_TEST

static bool never(void *opaque)
{
    (void)opaque;
    return false;
}

START_TEST(followed_log_moves_to_the_new_pod)
{
    responder r;
    plug pl;
    open_on(&r, true, &pl, "{\"kubeconfig\":\"@KC@\"}");
    dm_err_t err = { 0 };
    lines l = { .n = 0 };
    dm_runtime_log_sink_t sink = { .opaque = &l, .line = on_line, .cancelled = never };
    dm_runtime_log_opts_t opts = { .tail_lines = 10, .follow = true };
    int rc = pl.ops->logs(pl.f.p->state, ID, &opts, &sink, &err);
    ck_assert_msg(rc == 0, "logs: %s", err.msg);
    ck_assert_msg(l.n == 3, "%d lines", l.n);
    ck_assert_str_eq(l.text[0], "one");
    ck_assert_str_eq(l.text[1], "two");
    ck_assert_str_eq(l.text[2], "three");
    /* The first pod from its tail, the new one from its start. */
    ck_assert(find_req(&r, "GET /api/v1/namespaces/dermaga/pods/p1/log?container=app"
                           "&timestamps=true&tailLines=10&follow=true ") != NULL);
    ck_assert(find_req(&r, "GET /api/v1/namespaces/dermaga/pods/p2/log?container=app"
                           "&timestamps=true&follow=true ") != NULL);
    close_both(&pl, &r);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("k8s_plugin");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, bad_config_is_refused_with_the_reason);
    tcase_add_test(tc, loads_and_warns_when_insecure);
    tcase_add_test(tc, unreachable_server_is_unavailable);
    tcase_add_test(tc, provision_stop_terminate_on_the_wire);
    tcase_add_test(tc, logs_usage_inventory_workloads);
    tcase_add_test(tc, followed_log_moves_to_the_new_pod);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
