/*
 * test_k8s_status.c — the pure readers of runtime-kubernetes
 * (plugins/runtime-kubernetes/k8s_status.c, k8s_parse.c and k8s_errors.c,
 * compiled in here): status from a Deployment and its pods (newest pod,
 * scaled to zero, crash loops, image pulls, OOMKilled, unschedulable,
 * absent), CPU and memory quantities, RFC 3339 times, and API Status
 * answers as dm_err codes and messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"

#include "../../plugins/runtime-kubernetes/k8s_status.c"
#include "../../plugins/runtime-kubernetes/k8s_parse.c"
#include "../../plugins/runtime-kubernetes/k8s_errors.c"

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    ck_assert_msg(j != NULL, "fixture: %s", je.text);
    return j;
}

#define DEPLOY(replicas) "{\"spec\":{\"replicas\":" #replicas "},\"status\":{}}"

/* A PodList of one pod named name created at ts with the given status. */
static json_t *pods1(const char *name, const char *ts, const char *status)
{
    char buf[2048];
    snprintf(buf, sizeof buf, "{\"items\":[{\"metadata\":{\"name\":\"%s\","
                              "\"creationTimestamp\":\"%s\"},\"status\":%s}]}", name, ts, status);
    return load(buf);
}

static void status_of(const char *deploy, json_t *pods, dm_runtime_status_t *out)
{
    memset(out, 0, sizeof *out);
    json_t *d = deploy != NULL ? load(deploy) : NULL;
    k8s_status_from("dm-x", d, pods, out);
    json_decref(d);
    json_decref(pods);
}

START_TEST(running_ready_newest)
{
    json_t *pods = load(
        "{\"items\":["
        "{\"metadata\":{\"name\":\"old\",\"creationTimestamp\":\"2024-05-01T10:00:00Z\"},"
        " \"status\":{\"phase\":\"Failed\",\"reason\":\"Evicted\"}},"
        "{\"metadata\":{\"name\":\"new\",\"creationTimestamp\":\"2024-05-01T11:00:00Z\"},"
        " \"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],"
        "  \"containerStatuses\":[{\"restartCount\":2,\"state\":{\"running\":{}}}]}}]}");
    dm_runtime_status_t st;
    status_of(DEPLOY(1), pods, &st);
    ck_assert_int_eq(st.phase, DM_RUNTIME_RUNNING);
    ck_assert(st.ready);
    ck_assert_uint_eq(st.restarts, 2);
    ck_assert_str_eq(st.unit_name, "new");
}
END_TEST

START_TEST(failures)
{
    dm_runtime_status_t st;
    status_of(DEPLOY(1), pods1("p", "2024-05-01T10:00:00Z",
        "{\"phase\":\"Running\",\"containerStatuses\":[{\"restartCount\":5,"
        "\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\",\"message\":\"back-off 5m\"}},"
        "\"lastState\":{\"terminated\":{\"reason\":\"Error\"}}}]}"), &st);
    ck_assert_int_eq(st.phase, DM_RUNTIME_FAILED);
    ck_assert_uint_eq(st.restarts, 5);
    ck_assert_str_eq(st.message, "CrashLoopBackOff, last exit: Error: back-off 5m");

    status_of(DEPLOY(1), pods1("p", "2024-05-01T10:00:00Z",
        "{\"phase\":\"Pending\",\"containerStatuses\":[{\"restartCount\":0,"
        "\"state\":{\"waiting\":{\"reason\":\"ImagePullBackOff\",\"message\":\"no such image\"}}}]}"),
        &st);
    ck_assert_int_eq(st.phase, DM_RUNTIME_FAILED);
    ck_assert_msg(strstr(st.message, "ImagePullBackOff") != NULL, "%s", st.message);

    status_of(DEPLOY(1), pods1("p", "2024-05-01T10:00:00Z",
        "{\"phase\":\"Running\",\"containerStatuses\":[{\"restartCount\":1,"
        "\"state\":{\"running\":{}},\"lastState\":{\"terminated\":{\"reason\":\"OOMKilled\"}}}]}"),
        &st);
    ck_assert_int_eq(st.phase, DM_RUNTIME_FAILED);
    ck_assert_msg(strstr(st.message, "OOMKilled") != NULL, "%s", st.message);

    /* OOMKilled before, but back and ready: running. */
    status_of(DEPLOY(1), pods1("p", "2024-05-01T10:00:00Z",
        "{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],"
        "\"containerStatuses\":[{\"restartCount\":1,\"state\":{\"running\":{}},"
        "\"lastState\":{\"terminated\":{\"reason\":\"OOMKilled\"}}}]}"), &st);
    ck_assert_int_eq(st.phase, DM_RUNTIME_RUNNING);
}
END_TEST

START_TEST(pending_stopped_absent)
{
    dm_runtime_status_t st;
    status_of(DEPLOY(1), pods1("p", "2024-05-01T10:00:00Z",
        "{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"False\","
        "\"message\":\"0/3 nodes are available\"}]}"), &st);
    ck_assert_int_eq(st.phase, DM_RUNTIME_PENDING);
    ck_assert_str_eq(st.message, "unschedulable: 0/3 nodes are available");

    status_of(DEPLOY(0), load("{\"items\":[]}"), &st);
    ck_assert_int_eq(st.phase, DM_RUNTIME_STOPPED);
    ck_assert_str_eq(st.unit_name, "dm-x");

    /* Every container exited 0: a clean exit, worded as the reconciler
     * expects one (reconciler.h, DM_RECONCILE_CLEAN_EXIT). */
    status_of(DEPLOY(1), pods1("p", "2024-05-01T10:00:00Z", "{\"phase\":\"Succeeded\"}"), &st);
    ck_assert_int_eq(st.phase, DM_RUNTIME_STOPPED);
    ck_assert_str_eq(st.message, "exited with code 0");

    status_of(DEPLOY(1), load("{\"items\":[]}"), &st);
    ck_assert_int_eq(st.phase, DM_RUNTIME_PENDING);

    status_of("{\"spec\":{\"replicas\":1},\"status\":{\"conditions\":[{\"type\":\"Progressing\","
              "\"status\":\"False\",\"reason\":\"ProgressDeadlineExceeded\",\"message\":\"slow\"}]}}",
              load("{\"items\":[]}"), &st);
    ck_assert_int_eq(st.phase, DM_RUNTIME_FAILED);
    ck_assert_str_eq(st.message, "ProgressDeadlineExceeded: slow");

    status_of(NULL, NULL, &st);
    ck_assert_int_eq(st.phase, DM_RUNTIME_ABSENT);
    ck_assert(!st.ready);
}
END_TEST

START_TEST(quantities)
{
    ck_assert_int_eq(k8s_cpu_millicores("12345678n"), 13); /* rounded up */
    ck_assert_int_eq(k8s_cpu_millicores("250m"), 250);
    ck_assert_int_eq(k8s_cpu_millicores("1"), 1000);
    ck_assert_int_eq(k8s_cpu_millicores("0.5"), 500);
    ck_assert_int_eq(k8s_cpu_millicores("1500u"), 2);
    ck_assert_int_eq(k8s_cpu_millicores("0"), 0);
    ck_assert_int_eq(k8s_cpu_millicores("abc"), -1);
    ck_assert_int_eq(k8s_cpu_millicores("5Q"), -1);
    ck_assert_int_eq(k8s_cpu_millicores(NULL), -1);
    ck_assert_int_eq(k8s_memory_bytes("123456Ki"), 123456LL * 1024);
    ck_assert_int_eq(k8s_memory_bytes("12Mi"), 12LL * 1048576);
    ck_assert_int_eq(k8s_memory_bytes("2Gi"), 2LL * 1073741824);
    ck_assert_int_eq(k8s_memory_bytes("1G"), 1000000000LL);
    ck_assert_int_eq(k8s_memory_bytes("500"), 500);
    ck_assert_int_eq(k8s_memory_bytes("1e3"), 1000);
    ck_assert_int_eq(k8s_memory_bytes("1.5Ki"), 1536);
    ck_assert_int_eq(k8s_memory_bytes("12Xi"), -1);
    ck_assert_int_eq(k8s_memory_bytes(""), -1);
}
END_TEST

START_TEST(times)
{
    int64_t ms = 0;
    const char *line = "2024-05-01T10:00:00.123456789Z hello";
    ck_assert_uint_eq(k8s_parse_time(line, strlen(line), &ms), 30);
    ck_assert_int_eq(ms, 1714557600123LL);
    ck_assert_uint_eq(k8s_parse_time("2024-05-01T10:00:00Z", 20, &ms), 20);
    ck_assert_int_eq(ms, 1714557600000LL);
    ck_assert_uint_eq(k8s_parse_time("2024-05-01T12:00:00+02:00", 25, &ms), 25);
    ck_assert_int_eq(ms, 1714557600000LL);
    ck_assert_uint_eq(k8s_parse_time("hello world, no time here", 25, &ms), 0);
    ck_assert_uint_eq(k8s_parse_time("2024-05-01T10:00", 16, &ms), 0);
    ck_assert_uint_eq(k8s_parse_time("2024-13-01T10:00:00Z", 20, &ms), 0);
    char out[40];
    k8s_format_time(1714557600123LL, out, sizeof out);
    ck_assert_str_eq(out, "2024-05-01T10:00:00Z");
}
END_TEST

START_TEST(errors)
{
    dm_err_t e = { 0 };
    json_t *forbidden = load("{\"kind\":\"Status\",\"message\":\"deployments.apps is forbidden: "
                             "User \\\"system:serviceaccount:d:d\\\" cannot patch resource\","
                             "\"code\":403}");
    ck_assert_int_eq(k8s_api_error(403, forbidden, "patch", "deployments/dm-x", &e), DM_EPERM);
    ck_assert_msg(strncmp(e.msg, "runtime-kubernetes: forbidden: patch deployments/dm-x: "
                                 "deployments.apps is forbidden", 84) == 0, "%s", e.msg);
    json_decref(forbidden);
    ck_assert_int_eq(k8s_api_error(401, NULL, "get", "pods", &e), DM_EPERM);
    ck_assert_msg(strstr(e.msg, "unauthorized: get pods") != NULL, "%s", e.msg);
    ck_assert_int_eq(k8s_api_error(404, NULL, "get", "pods/p", &e), DM_ENOTFOUND);
    json_t *inv = load("{\"message\":\"Deployment.apps \\\"x\\\" is invalid: spec.replicas: "
                       "Invalid value: -1\\nmore\"}");
    ck_assert_int_eq(k8s_api_error(422, inv, "apply", "deployments/x", &e), DM_EINVAL);
    ck_assert_msg(strstr(e.msg, "refused: Deployment.apps \"x\" is invalid") != NULL, "%s", e.msg);
    ck_assert(strchr(e.msg, '\n') == NULL);
    json_decref(inv);
    ck_assert_int_eq(k8s_api_error(409, NULL, "put", "x", &e), DM_ECONFLICT);
    ck_assert_int_eq(k8s_api_error(503, NULL, "get", "x", &e), DM_EUNAVAIL);
    ck_assert_msg(strstr(e.msg, "answered 503") != NULL, "%s", e.msg);
    ck_assert_int_eq(k8s_api_error(418, NULL, "get", "x", &e), DM_EIO);
}
END_TEST

START_TEST(endpoints_from_ingress)
{
    json_t *ing = load("{\"metadata\":{\"annotations\":{\"dermaga.io/port\":\"http\"}},"
                       "\"spec\":{\"rules\":[{\"host\":\"n8n-3f2a9c1e.apps.example.com\"}]}}");
    json_t *ep = k8s_endpoints_from_ingress(ing);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ep, "http"), "host")),
                     "n8n-3f2a9c1e.apps.example.com");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(ep, "http"), "port")), 80);
    json_decref(ep);
    json_object_set_new(json_object_get(ing, "spec"), "tls", json_pack("[{s:s}]", "secretName",
                                                                       "t"));
    ep = k8s_endpoints_from_ingress(ing);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(ep, "http"), "port")), 443);
    json_decref(ep);
    json_decref(ing);
    /* Not ours (no port annotation): nothing. */
    ing = load("{\"spec\":{\"rules\":[{\"host\":\"x\"}]}}");
    ck_assert_ptr_null(k8s_endpoints_from_ingress(ing));
    json_decref(ing);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("k8s_status");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, running_ready_newest);
    tcase_add_test(tc, failures);
    tcase_add_test(tc, pending_stopped_absent);
    tcase_add_test(tc, quantities);
    tcase_add_test(tc, times);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, endpoints_from_ingress);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
