/*
 * test_plugin_check.c — `dermaga plugin-check`, the integrators'
 * conformance kit, through the real binary:
 *
 *  - every bundled plugin passes it: service-template (the shipped
 *    templates and demo catalog), auth-local, payment-manual,
 *    payment-midtrans (against the Midtrans simulator), runtime-docker
 *    (against the private Podman) and runtime-kubernetes (against the fake
 *    API server);
 *  - it fails what breaks a contract, naming the check: an auth plugin that
 *    takes any secret, a service that asks more than the plan allows, a
 *    runtime that never becomes ready; and a refused plugin (a bad config
 *    key, a file that is no plugin) fails at load with the loader's reason;
 *  - exit status 0 only when nothing failed, 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dm_test.h"
#include "e2e_run.h"
#include "k8s_fake.h"
#include "k8s_kubeconfig.h"
#include "midtrans_sim.h"

#define PLUGINS DM_BUILD_DIR "/plugins"
#define FIXTURES DM_TEST_PLUGIN_DIR

static char dir[512];

static void setup(void)
{
    char *d = dm_test_mkdtemp("plugin-check");
    snprintf(dir, sizeof dir, "%s", d);
    free(d);
}

static void teardown(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* dir/name holding text; the path into out. */
static void write_file(const char *name, const char *text, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", dir, name);
    FILE *f = fopen(out, "w");
    ck_assert_msg(f != NULL, "cannot write %s", out);
    fputs(text, f);
    fclose(f);
}

/* Run plugin-check with args (NULL-ended); its output into *out. */
static int check(char **out, const char *const args[])
{
    const char *argv[32] = { "plugin-check" };
    size_t n = 1;
    for (size_t i = 0; args[i] != NULL && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return dm_e2e_run(out, NULL, argv);
}

/* Exit 0, a PASS summary and not one FAIL line. */
static void passes(const char *what, const char *const args[])
{
    char *out = NULL;
    int rc = check(&out, args);
    ck_assert_msg(rc == 0 && strstr(out, "\nFAIL") == NULL && strncmp(out, "FAIL", 4) != 0 &&
                      strstr(out, "PASS: ") != NULL,
                  "%s: plugin-check exit %d:\n%s", what, rc, out);
    free(out);
}

/* Exit 1 with the line "FAIL <line>…". */
static void fails(const char *what, const char *const args[], const char *line)
{
    char *out = NULL;
    int rc = check(&out, args);
    char want[300];
    snprintf(want, sizeof want, "FAIL %s", line);
    ck_assert_msg(rc == 1 && strstr(out, want) != NULL, "%s: exit %d, want 1 and \"%s\":\n%s", what,
                  rc, want, out);
    free(out);
}

START_TEST(service_template_auth_local_and_payment_manual_pass)
{
    char cfg[600], json[700];
    snprintf(json, sizeof json, "{\"dir\": \"%s/config/services\"}",
             getenv("DERMAGA_TEST_SOURCE_DIR") != NULL ? getenv("DERMAGA_TEST_SOURCE_DIR")
                                                       : DM_SOURCE_DIR);
    write_file("templates.json", json, cfg, sizeof cfg);
    passes("service-template", (const char *[]){ PLUGINS "/service-template.so", "--config", cfg, NULL });
    passes("auth-local", (const char *[]){ PLUGINS "/auth-local.so", "--identity", "kit@example.com",
                                           "--secret", "correct horse battery", NULL });
    passes("payment-manual", (const char *[]){ PLUGINS "/payment-manual.so", NULL });
}
END_TEST

START_TEST(payment_midtrans_passes_against_the_simulator)
{
    dm_midtrans_sim *sim = dm_midtrans_sim_start("SB-Mid-server-kit");
    ck_assert_ptr_nonnull(sim);
    char json[800], cfg[600];
    snprintf(json, sizeof json,
             "{\"server_key\": \"SB-Mid-server-kit\", \"snap_base_url\": \"%s\", "
             "\"api_base_url\": \"%s\", \"timeout_ms\": 3000}",
             dm_midtrans_sim_snap_base(sim), dm_midtrans_sim_api_base(sim));
    write_file("midtrans.json", json, cfg, sizeof cfg);
    passes("payment-midtrans", (const char *[]){ PLUGINS "/payment-midtrans.so", "--config", cfg, NULL });
    dm_midtrans_sim_stop(sim);
}
END_TEST

static void write_spec(char *out, size_t cap)
{
    write_file("spec.json",
               "{\"image\": \"localhost/dermaga/static-site:test\", \"ports\": [{\"name\": \"http\", "
               "\"port\": 8080, \"protocol\": \"tcp\", \"public\": true}], \"resources\": "
               "{\"cpuMillicores\": 250, \"memoryMb\": 64, \"storageGb\": 1}}",
               out, cap);
}

START_TEST(runtime_docker_passes_against_podman)
{
    const char *host = getenv("DERMAGA_TEST_DOCKER_HOST");
    ck_assert_msg(host != NULL && host[0] != '\0', "DERMAGA_TEST_DOCKER_HOST is not set (scripts/test.sh sets it)");
    char json[600], cfg[600], spec[600];
    snprintf(json, sizeof json, "{\"host\": \"%s\", \"port_min\": 22000, \"port_max\": 22999}", host);
    write_file("docker.json", json, cfg, sizeof cfg);
    write_spec(spec, sizeof spec);
    passes("runtime-docker", (const char *[]){ PLUGINS "/runtime-docker.so", "--config", cfg,
                                               "--spec", spec, NULL });
}
END_TEST

START_TEST(runtime_kubernetes_passes_against_the_fake)
{
    dm_k8s_fake f;
    dm_k8s_fake_opts o = { .token = "kit-token", .https = true };
    dm_k8s_fake_start(&f, &o);
    char kc[600], json[900], cfg[600], spec[600];
    dm_k8s_write_kubeconfig(dir, f.url, "kit-token", f.ca_path, kc, sizeof kc);
    snprintf(json, sizeof json, "{\"kubeconfig\": \"%s\", \"base_domain\": \"apps.example.com\"}", kc);
    write_file("k8s.json", json, cfg, sizeof cfg);
    write_spec(spec, sizeof spec);
    passes("runtime-kubernetes", (const char *[]){ PLUGINS "/runtime-kubernetes.so", "--config", cfg,
                                                   "--spec", spec, "--wait", "20", NULL });
    dm_k8s_fake_stop(&f);
}
END_TEST

START_TEST(contract_breakers_fail_naming_the_check)
{
    fails("lax auth", (const char *[]){ FIXTURES "/lax_auth.so", "--identity", "alice@example.com",
                                        "--secret", "s3cret", NULL },
          "auth wrong secret refused: accepted");
    fails("greedy service", (const char *[]){ FIXTURES "/greedy_service.so", NULL },
          "service redis, plan plugin-check default: resources.memoryMb 1048576 exceeds the plan's 512");
    fails("never-ready runtime", (const char *[]){ FIXTURES "/never_ready_runtime.so", "--wait", "2", NULL },
          "runtime provision reaches RUNNING: PENDING");
    fails("auth without credentials", (const char *[]){ FIXTURES "/good_auth.so", NULL },
          "auth good credentials: give --identity and --secret");
}
END_TEST

START_TEST(a_refused_plugin_fails_at_load_and_usage_is_2)
{
    char cfg[600];
    write_file("bad.json", "{\"no_such_key\": 1}", cfg, sizeof cfg);
    fails("unknown config key", (const char *[]){ PLUGINS "/payment-manual.so", "--config", cfg, NULL },
          "configure: config: unknown key 'no_such_key'");
    char notso[600];
    write_file("not-a-plugin.so", "text", notso, sizeof notso);
    chmod(notso, 0644);
    fails("not a plugin", (const char *[]){ notso, NULL }, "load: ");
    char *out = NULL;
    ck_assert_int_eq(check(&out, (const char *[]){ NULL }), 2);
    ck_assert_msg(strstr(out, "usage: dermaga plugin-check") != NULL, "%s", out);
    free(out);
    ck_assert_int_eq(check(&out, (const char *[]){ PLUGINS "/payment-manual.so", "--wait", "x", NULL }), 2);
    free(out);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("plugin_check");
    TCase *tc = tcase_create("plugin-check");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, service_template_auth_local_and_payment_manual_pass);
    tcase_add_test(tc, payment_midtrans_passes_against_the_simulator);
    tcase_add_test(tc, runtime_docker_passes_against_podman);
    tcase_add_test(tc, runtime_kubernetes_passes_against_the_fake);
    tcase_add_test(tc, contract_breakers_fail_naming_the_check);
    tcase_add_test(tc, a_refused_plugin_fails_at_load_and_usage_is_2);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
