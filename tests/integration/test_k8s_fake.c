/*
 * test_k8s_fake.c — the fake Kubernetes API server started from C the way
 * the runtime-kubernetes tests start it (tests/fakes/k8s_fake.h): over
 * HTTPS with a throwaway CA that libcurl verifies, with a bearer token;
 * a server-side apply makes a running pod whose log carries the start line
 * and a line injected through /fake/, and the request log shows the apply.
 * The fake's own behaviour is tested in node (ctest fakes/k8s).
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"
#include "k8s_fake.h"

#define DEPLOY_PATH "/apis/apps/v1/namespaces/default/deployments/web"
#define DEPLOY_BODY                                                                    \
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"}," \
    "\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"        \
    "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},"                        \
    "\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":\"nginx:1.27\"}]}}}}"

/* The name of the first Running pod of app=web, within 5 s. */
static void running_pod(dm_k8s_fake *f, char name[128])
{
    for (int i = 0; i < 250; i++) {
        long code;
        char *body = dm_k8s_fake_call(f, "GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb",
                                      NULL, NULL, &code);
        const char *n = strstr(body, "\"name\":\"web-");
        if (code == 200 && n != NULL && strstr(body, "\"phase\":\"Running\"") != NULL) {
            sscanf(n + 8, "%127[^\"]", name);
            free(body);
            return;
        }
        free(body);
        poll(NULL, 0, 20);
    }
    ck_abort_msg("no Running pod of app=web within 5 s");
}

START_TEST(fake_over_https_with_token)
{
    dm_k8s_fake f;
    dm_k8s_fake_opts o = { .token = "c-test-token", .https = true };
    dm_k8s_fake_start(&f, &o);
    ck_assert_msg(strncmp(f.url, "https://127.0.0.1:", 18) == 0, "%s", f.url);

    long code;
    char *body = dm_k8s_fake_call(&f, "GET", "/version", NULL, NULL, &code);
    ck_assert_msg(code == 200 && strstr(body, "gitVersion") != NULL, "%ld %s", code, body);
    free(body);

    body = dm_k8s_fake_call(&f, "PATCH", DEPLOY_PATH "?fieldManager=dermaga&force=true",
                            "application/apply-patch+yaml", DEPLOY_BODY, &code);
    ck_assert_msg(code == 201, "apply: %ld %s", code, body);
    free(body);

    char pod[128] = "", path[256];
    running_pod(&f, pod);
    snprintf(path, sizeof path, "/fake/pods/default/%s/log", pod);
    body = dm_k8s_fake_call(&f, "POST", path, "text/plain", "hello from C\n", &code);
    ck_assert_msg(code == 200, "inject: %ld %s", code, body);
    free(body);
    snprintf(path, sizeof path, "/api/v1/namespaces/default/pods/%s/log", pod);
    body = dm_k8s_fake_call(&f, "GET", path, NULL, NULL, &code);
    ck_assert_msg(code == 200 && strcmp(body, "starting nginx:1.27\nhello from C\n") == 0, "log: %ld %s", code, body);
    free(body);

    body = dm_k8s_fake_call(&f, "GET", "/fake/requests", NULL, NULL, &code);
    ck_assert_msg(code == 200 && strstr(body, "\"contentType\":\"application/apply-patch+yaml\"") != NULL,
                  "request log: %s", body);
    free(body);
    dm_k8s_fake_stop(&f);
    dm_k8s_fake_stop(&f); /* idempotent */
}
END_TEST

START_TEST(fake_errors_are_status_objects)
{
    dm_k8s_fake f;
    static const char *const args[] = { "--deny", "create:secrets", NULL };
    dm_k8s_fake_opts o = { .token = "t", .args = args };
    dm_k8s_fake_start(&f, &o);
    long code;
    char *body = dm_k8s_fake_call(&f, "POST", "/api/v1/namespaces/default/secrets", "application/json",
                                  "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\"}}", &code);
    ck_assert_msg(code == 403 && strstr(body, "\"reason\":\"Forbidden\"") != NULL &&
                      strstr(body, "cannot create resource \\\"secrets\\\"") != NULL,
                  "%ld %s", code, body);
    free(body);
    body = dm_k8s_fake_call(&f, "GET", DEPLOY_PATH, NULL, NULL, &code);
    ck_assert_msg(code == 404 && strstr(body, "\"kind\":\"Status\"") != NULL, "%ld %s", code, body);
    free(body);
    dm_k8s_fake_stop(&f);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("k8s_fake");
    TCase *tc = tcase_create("from C");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fake_over_https_with_token);
    tcase_add_test(tc, fake_errors_are_status_objects);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
