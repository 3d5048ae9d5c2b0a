/*
 * test_k8s_config.c — runtime-kubernetes's init with the in-cluster
 * service account (plugins/runtime-kubernetes/k8s_config.c compiled in
 * here with SA_DIR pointing at a folder this test fills, and a host table
 * of its own): the server from KUBERNETES_SERVICE_HOST/PORT (IPv6
 * bracketed), the namespace from the namespace file, the token read at
 * start and refused when missing, and the CA file handed to libcurl.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dm_test.h"

/* In the build tree: a fixed /tmp name would collide between checkouts. */
#define SA_DIR DM_BUILD_DIR "/k8s-sa-test"
#include "../../plugins/runtime-kubernetes/k8s_config.c"
#include "../../plugins/runtime-kubernetes/k8s_kubeconfig.c"
#include "../../plugins/runtime-kubernetes/k8s_token.c"

static json_t *g_config;
static char g_log[4096];

static json_t *fake_config(dm_plugin_ctx_t *ctx)
{
    (void)ctx;
    return g_config;
}

static void fake_log(dm_plugin_ctx_t *ctx, int level, const char *fmt, ...)
{
    (void)ctx, (void)level;
    va_list ap;
    va_start(ap, fmt);
    size_t n = strlen(g_log);
    vsnprintf(g_log + n, sizeof g_log - n, fmt, ap);
    va_end(ap);
}

static const dm_host_t HOST = { .size = sizeof(dm_host_t), .log = fake_log,
                                .config = fake_config };

static void put(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, SA_DIR "/%s", name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void setup(void)
{
    mkdir(SA_DIR, 0700);
    put("token", "sa-token\n");
    put("ca.crt", "-----BEGIN CERTIFICATE-----\n");
    put("namespace", "tenant-a\n");
    g_log[0] = '\0';
    g_config = json_pack("{s:s, s:s, s:b, s:s, s:b, s:s, s:s, s:s, s:s, s:s, s:b, s:i, s:b}",
                         "kubeconfig", "", "context", "", "in_cluster", 1, "namespace", "",
                         "namespace_per_user", 0, "storage_class", "", "ingress_class",
                         "traefik", "base_domain", "", "tls_secret", "", "cert_manager_issuer",
                         "", "insecure_skip_tls_verify", 0, "request_timeout_ms", 30000,
                         "run_as_non_root", 1);
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
}

static void teardown(void)
{
    json_decref(g_config);
    const char *files[] = { "token", "ca.crt", "namespace" };
    for (size_t i = 0; i < 3; i++) {
        char p[256];
        snprintf(p, sizeof p, SA_DIR "/%s", files[i]);
        unlink(p);
    }
    rmdir(SA_DIR);
}

START_TEST(in_cluster_reads_the_service_account)
{
    void *state = NULL;
    dm_err_t err = { 0 };
    int rc = k8s_init(NULL, &HOST, &state, &err);
    ck_assert_msg(rc == 0, "init: %s", err.msg);
    k8s_state *st = state;
    ck_assert_str_eq(st->conn.server, "https://10.96.0.1:443");
    ck_assert_msg(st->conn.ca.len == strlen("-----BEGIN CERTIFICATE-----\n") &&
                      memcmp(st->conn.ca.data, "-----BEGIN CERTIFICATE-----\n", st->conn.ca.len) == 0,
                  "the CA file's bytes are kept");
    ck_assert_str_eq(st->obj.ns, "tenant-a");
    ck_assert(st->has_token_file);
    char tok[64];
    ck_assert_int_eq(k8s_token_file_get(&st->token_file, 0, tok, sizeof tok, &err), 0);
    ck_assert_str_eq(tok, "sa-token");
    ck_assert_msg(strstr(g_log, "sa-token") == NULL, "token in the log: %s", g_log);
    k8s_fini(state);

    /* IPv6 service address; an explicit namespace wins over the file. */
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    json_object_set_new(g_config, "namespace", json_string("shared"));
    ck_assert_int_eq(k8s_init(NULL, &HOST, &state, &err), 0);
    st = state;
    ck_assert_str_eq(st->conn.server, "https://[fd00::1]:443");
    ck_assert_str_eq(st->obj.ns, "shared");
    k8s_fini(state);
}
END_TEST

START_TEST(in_cluster_refusals)
{
    void *state = NULL;
    dm_err_t err = { 0 };
    unsetenv("KUBERNETES_SERVICE_HOST");
    ck_assert_int_eq(k8s_init(NULL, &HOST, &state, &err), DM_EINVAL);
    ck_assert_str_eq(err.msg, "config: in_cluster is true but KUBERNETES_SERVICE_HOST is not set "
                              "(not in a pod?)");
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    unlink(SA_DIR "/token");
    ck_assert_int_eq(k8s_init(NULL, &HOST, &state, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "no token could be read from " SA_DIR "/token") != NULL, "%s",
                  err.msg);
    put("token", "t");
    json_object_set_new(g_config, "context", json_string("x"));
    ck_assert_int_eq(k8s_init(NULL, &HOST, &state, &err), DM_EINVAL);
    ck_assert_str_eq(err.msg, "config: context needs kubeconfig, not in_cluster");
    json_object_set_new(g_config, "context", json_string(""));
    json_object_set_new(g_config, "insecure_skip_tls_verify", json_true());
    ck_assert_int_eq(k8s_init(NULL, &HOST, &state, &err), 0);
    ck_assert_msg(strstr(g_log, "TLS verification of the API server https://10.96.0.1:443 is OFF")
                  != NULL, "%s", g_log);
    k8s_fini(state);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("k8s_config");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, in_cluster_reads_the_service_account);
    tcase_add_test(tc, in_cluster_refusals);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
