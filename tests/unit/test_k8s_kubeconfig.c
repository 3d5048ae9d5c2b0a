/*
 * test_k8s_kubeconfig.c — runtime-kubernetes's connection settings
 * (plugins/runtime-kubernetes/k8s_kubeconfig.c and k8s_token.c, compiled in
 * here: they do no network I/O): YAML to JSON, kubeconfig contexts
 * (current-context and a chosen one), certificates given as -data and as
 * files relative to the kubeconfig, tokens and tokenFile, the exact
 * refusals, base64 both ways, and the token file re-read on rotation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include "dm_test.h"

#include "../../plugins/runtime-kubernetes/k8s_kubeconfig.c"
#include "../../plugins/runtime-kubernetes/k8s_token.c"

/* "-----BEGIN CERTIFICATE-----\nCA\n" and "CLIENT" / "KEY" in base64. */
#define CA_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCg=="
#define CA_PEM "-----BEGIN CERTIFICATE-----\nCA\n"

static const char *KC =
    "apiVersion: v1\n"
    "kind: Config\n"
    "current-context: dev\n"
    "clusters:\n"
    "- name: dev-cluster\n"
    "  cluster:\n"
    "    server: https://10.0.0.1:6443/\n"
    "    certificate-authority-data: " CA_B64 "\n"
    "- name: fake\n"
    "  cluster:\n"
    "    server: http://127.0.0.1:18080\n"
    "    insecure-skip-tls-verify: true\n"
    "- name: filecluster\n"
    "  cluster:\n"
    "    server: https://k8s.example:443\n"
    "    certificate-authority: ca.pem\n"
    "users:\n"
    "- name: dev-user\n"
    "  user:\n"
    "    client-certificate-data: Q0xJRU5U\n"
    "    client-key-data: S0VZ\n"
    "- name: tok\n"
    "  user:\n"
    "    token: \"abc.def\"\n"
    "- name: tokfile\n"
    "  user:\n"
    "    tokenFile: token.txt\n"
    "- name: half\n"
    "  user:\n"
    "    client-certificate-data: Q0xJRU5U\n"
    "- name: execuser\n"
    "  user:\n"
    "    exec: {command: aws}\n"
    "contexts:\n"
    "- name: dev\n"
    "  context: {cluster: dev-cluster, user: dev-user, namespace: team-a}\n"
    "- name: fake\n"
    "  context: {cluster: fake, user: tok}\n"
    "- name: files\n"
    "  context: {cluster: filecluster, user: tokfile}\n"
    "- name: halfctx\n"
    "  context: {cluster: fake, user: half}\n"
    "- name: execctx\n"
    "  context: {cluster: fake, user: execuser}\n"
    "- name: nocluster\n"
    "  context: {cluster: missing, user: tok}\n";

static json_t *parse(const char *text)
{
    json_t *j = NULL;
    dm_err_t e = { 0 };
    int rc = k8s_yaml_to_json(text, strlen(text), &j, &e);
    ck_assert_msg(rc == 0, "yaml: %s", e.msg);
    return j;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(yaml_shapes)
{
    json_t *j = parse("a: 1\nb: [x, 'true', true]\nc: {d: null}\ne: \"q\"\n");
    ck_assert_str_eq(json_string_value(json_object_get(j, "a")), "1");
    ck_assert(json_is_true(json_array_get(json_object_get(j, "b"), 2)));
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "b"), 1)), "true");
    ck_assert(json_is_null(json_object_get(json_object_get(j, "c"), "d")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "e")), "q");
    json_decref(j);
    dm_err_t e = { 0 };
    ck_assert_int_eq(k8s_yaml_to_json("a: [1,\n", 7, &j, &e), DM_EINVAL);
    ck_assert_msg(strstr(e.msg, "line") != NULL, "%s", e.msg);
}
END_TEST

START_TEST(current_context_with_data)
{
    json_t *kc = parse(KC);
    k8s_conn c;
    dm_err_t e = { 0 };
    ck_assert_int_eq(k8s_kubeconfig_load(kc, NULL, "/nowhere", &c, &e), 0);
    ck_assert_str_eq(c.server, "https://10.0.0.1:6443"); /* trailing '/' dropped */
    ck_assert_uint_eq(c.ca.len, strlen(CA_PEM));
    ck_assert(memcmp(c.ca.data, CA_PEM, c.ca.len) == 0);
    ck_assert_str_eq((const char *)c.client_cert.data, "CLIENT");
    ck_assert_str_eq((const char *)c.client_key.data, "KEY");
    ck_assert_ptr_null(c.token);
    ck_assert_str_eq(c.ns, "team-a");
    ck_assert(!c.insecure);
    k8s_conn_free(&c);
    json_decref(kc);
}
END_TEST

START_TEST(chosen_context_token)
{
    json_t *kc = parse(KC);
    k8s_conn c;
    dm_err_t e = { 0 };
    ck_assert_int_eq(k8s_kubeconfig_load(kc, "fake", "/nowhere", &c, &e), 0);
    ck_assert_str_eq(c.server, "http://127.0.0.1:18080");
    ck_assert_str_eq(c.token, "abc.def");
    ck_assert(c.insecure);
    ck_assert_ptr_null(c.ca.data);
    ck_assert_str_eq(c.ns, "");
    k8s_conn_free(&c);
    json_decref(kc);
}
END_TEST

START_TEST(file_forms_relative)
{
    char *dir = dm_test_mkdtemp("k8skc");
    char p[512];
    snprintf(p, sizeof p, "%s/ca.pem", dir);
    write_file(p, CA_PEM);
    json_t *kc = parse(KC);
    k8s_conn c;
    dm_err_t e = { 0 };
    ck_assert_int_eq(k8s_kubeconfig_load(kc, "files", dir, &c, &e), 0);
    ck_assert(memcmp(c.ca.data, CA_PEM, c.ca.len) == 0);
    snprintf(p, sizeof p, "%s/token.txt", dir);
    ck_assert_str_eq(c.token_path, p);
    k8s_conn_free(&c);
    /* The same context with the CA file missing: refused, naming it. */
    ck_assert_int_eq(k8s_kubeconfig_load(kc, "files", "/nowhere", &c, &e), DM_EINVAL);
    ck_assert_msg(strstr(e.msg, "cluster \"filecluster\" certificate-authority") != NULL, "%s",
                  e.msg);
    json_decref(kc);
    free(dir);
}
END_TEST

START_TEST(refusals)
{
    json_t *kc = parse(KC);
    k8s_conn c;
    dm_err_t e = { 0 };
    ck_assert_int_eq(k8s_kubeconfig_load(kc, "nope", NULL, &c, &e), DM_EINVAL);
    ck_assert_str_eq(e.msg, "kubeconfig: context \"nope\" not found in contexts");
    ck_assert_int_eq(k8s_kubeconfig_load(kc, "nocluster", NULL, &c, &e), DM_EINVAL);
    ck_assert_str_eq(e.msg, "kubeconfig: cluster \"missing\" not found in clusters");
    ck_assert_int_eq(k8s_kubeconfig_load(kc, "halfctx", NULL, &c, &e), DM_EINVAL);
    ck_assert_msg(strstr(e.msg, "needs both client-certificate and client-key") != NULL, "%s",
                  e.msg);
    ck_assert_int_eq(k8s_kubeconfig_load(kc, "execctx", NULL, &c, &e), DM_EINVAL);
    ck_assert_msg(strstr(e.msg, "exec/auth-provider") != NULL, "%s", e.msg);
    json_decref(kc);
    kc = parse("current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
               "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
               "users: [{name: u, user: {token: \"a\\r\\nX-Evil: 1\"}}]\n");
    ck_assert_int_eq(k8s_kubeconfig_load(kc, NULL, NULL, &c, &e), DM_EINVAL);
    ck_assert_str_eq(e.msg, "kubeconfig: user \"u\" token has a control character");
    json_decref(kc);
    kc = parse("clusters: []\n");
    ck_assert_int_eq(k8s_kubeconfig_load(kc, NULL, NULL, &c, &e), DM_EINVAL);
    ck_assert_msg(strstr(e.msg, "no current-context") != NULL, "%s", e.msg);
    json_decref(kc);
    kc = parse("current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
               "clusters: [{name: c, cluster: {server: 'ftp://x'}}]\n");
    ck_assert_int_eq(k8s_kubeconfig_load(kc, NULL, NULL, &c, &e), DM_EINVAL);
    ck_assert_msg(strstr(e.msg, "server must be an http(s):// URL") != NULL, "%s", e.msg);
    json_decref(kc);
    kc = parse("current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
               "clusters: [{name: c, cluster: {server: 'https://x', "
               "certificate-authority-data: '!!'}}]\nusers: [{name: u, user: {token: t}}]\n");
    ck_assert_int_eq(k8s_kubeconfig_load(kc, NULL, NULL, &c, &e), DM_EINVAL);
    ck_assert_msg(strstr(e.msg, "certificate-authority-data is not base64") != NULL, "%s", e.msg);
    json_decref(kc);
}
END_TEST

START_TEST(base64_both_ways)
{
    const char *cases[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    const char *want[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
    for (size_t i = 0; i < 7; i++) {
        char *enc = k8s_base64_encode((const unsigned char *)cases[i], strlen(cases[i]));
        ck_assert_str_eq(enc, want[i]);
        k8s_blob b;
        ck_assert_int_eq(k8s_base64_decode(enc, &b), 0);
        ck_assert_uint_eq(b.len, strlen(cases[i]));
        ck_assert(memcmp(b.data, cases[i], b.len) == 0);
        free(b.data);
        free(enc);
    }
    k8s_blob b;
    ck_assert_int_eq(k8s_base64_decode("Zm9v\nYmFy", &b), 0); /* line breaks as in PEM */
    ck_assert_str_eq((const char *)b.data, "foobar");
    free(b.data);
    ck_assert_int_eq(k8s_base64_decode("Zm=9v", &b), DM_EINVAL);
}
END_TEST

START_TEST(token_file_rotation)
{
    char *dir = dm_test_mkdtemp("k8stok");
    char p[512], buf[64];
    snprintf(p, sizeof p, "%s/token", dir);
    write_file(p, "first\n");
    k8s_token_file tf;
    dm_err_t e = { 0 };
    ck_assert_int_eq(k8s_token_file_init(&tf, p, &e), 0);
    ck_assert_int_eq(k8s_token_file_get(&tf, 1000, buf, sizeof buf, &e), 0);
    ck_assert_str_eq(buf, "first"); /* newline trimmed */
    /* Rotated with an mtime that moved: read at once. */
    write_file(p, "second");
    struct utimbuf t = { .actime = 1000000, .modtime = 1000000 };
    utime(p, &t);
    ck_assert_int_eq(k8s_token_file_get(&tf, 1001, buf, sizeof buf, &e), 0);
    ck_assert_str_eq(buf, "second");
    /* Rotated with the same mtime: only after the re-read interval. */
    write_file(p, "third");
    utime(p, &t);
    ck_assert_int_eq(k8s_token_file_get(&tf, 2000, buf, sizeof buf, &e), 0);
    ck_assert_str_eq(buf, "second");
    ck_assert_int_eq(k8s_token_file_get(&tf, 1001 + K8S_TOKEN_REREAD_MS, buf, sizeof buf, &e), 0);
    ck_assert_str_eq(buf, "third");
    /* Gone: the last good token stays. */
    remove(p);
    ck_assert_int_eq(k8s_token_file_get(&tf, 10 * K8S_TOKEN_REREAD_MS, buf, sizeof buf, &e), 0);
    ck_assert_str_eq(buf, "third");
    k8s_token_file_free(&tf);
    /* Never readable: an error that names the file, not a token. */
    ck_assert_int_eq(k8s_token_file_init(&tf, p, &e), 0);
    ck_assert_int_eq(k8s_token_file_get(&tf, 0, buf, sizeof buf, &e), DM_EIO);
    ck_assert_msg(strstr(e.msg, "no token could be read") != NULL, "%s", e.msg);
    k8s_token_file_free(&tf);
    rmdir(dir);
    free(dir);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("k8s_kubeconfig");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, yaml_shapes);
    tcase_add_test(tc, current_context_with_data);
    tcase_add_test(tc, chosen_context_token);
    tcase_add_test(tc, file_forms_relative);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, base64_both_ways);
    tcase_add_test(tc, token_file_rotation);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
