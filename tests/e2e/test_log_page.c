/*
 * test_log_page.c — the log page follows a real container: a user with a
 * RUNNING static-site instance on the private Podman signs in to
 * /test-logs.html in headless Chromium (tests/node/log_page.mjs), follows
 * the instance through the Socket.IO namespace /k8s-logs, and once the page
 * says it is subscribed, the container is made to print a marker line,
 * which must appear in the page.
 *
 * The namespace is Dermaga's own (issue 12). Until it is on main, ctest
 * registers this test DISABLED (tests/CMakeLists.txt says what enables it).
 * With DERMAGA_TEST_LOG_PAGE_STANDIN=1, tests/node/standin.mjs stands in
 * front of the server: its npm `socket.io` namespace relays Dermaga's SSE
 * log stream, and every other request goes to Dermaga.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dm_test.h"
#include "e2e.h"
#include "e2e_auth.h"
#include "e2e_instances.h"
#include "e2e_node.h"
#include "e2e_workload.h"

#define EMAIL "page@example.id"

static void sweep_setup(void) { dm_e2e_instances_setup("logpagee2e"); }
static void sweep_teardown(void) { dm_e2e_instances_teardown(); }

/* Health checks make the site log a line each: once an hour keeps them out. */
static void setup(void)
{
    dm_e2e_instances_opts o = { .with_service = true,
                                .extra = json_pack("{s:{s:i}}", "instances", "healthEveryS", 3600) };
    dm_e2e_instances_start(&o);
}

static void teardown(void)
{
    dm_e2e_instances_stop();
}

static bool use_standin(void)
{
    const char *v = getenv("DERMAGA_TEST_LOG_PAGE_STANDIN");
    return v != NULL && strcmp(v, "1") == 0;
}

/* Start the stand-in in front of the test's server; the port it listens on. */
static int start_standin(dm_e2e_node *standin)
{
    char upstream[64], line[128];
    snprintf(upstream, sizeof upstream, "http://127.0.0.1:%d", dm_e2e_auth_srv.port);
    const char *const args[] = { "--upstream", upstream, NULL };
    dm_e2e_node_start(standin, "standin.mjs", args);
    dm_e2e_node_expect(standin, "LISTENING ", line, sizeof line, 30000, "the Socket.IO stand-in");
    char *end = NULL;
    long port = strtol(line + strlen("LISTENING "), &end, 10);
    ck_assert_msg(*end == '\0' && port > 0 && port < 65536, "the stand-in said \"%s\"", line);
    return (int)port;
}

START_TEST(the_page_shows_a_line_printed_after_it_subscribed)
{
    char sub[37], inst[37];
    char *tok = dm_e2e_instances_subscribe(EMAIL, sub, inst);
    json_decref(dm_e2e_instances_wait(tok, inst, "RUNNING"));
    free(tok);

    dm_e2e_node standin = { .pid = 0, .out_fd = -1 };
    int port = use_standin() ? start_standin(&standin) : dm_e2e_auth_srv.port;
    char base[64], marker[64], artifacts[512], line[256], script[128];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    snprintf(marker, sizeof marker, "page-marker-%d-%lld", (int)getpid(), dm_e2e_now_ms());
    dm_e2e_node_artifacts("log_page", artifacts, sizeof artifacts);
    const char *const args[] = { "--base", base, "--email", EMAIL, "--password", DM_E2E_AUTH_PASSWORD, "--instance",
                                 inst, "--marker", marker, "--artifacts", artifacts, NULL };
    dm_e2e_node page;
    dm_e2e_node_start(&page, "log_page.mjs", args);
    dm_e2e_node_expect(&page, "SUBSCRIBED", line, sizeof line, 120000, "the page following the instance");

    /* Only now does the container print the marker. */
    snprintf(script, sizeof script, "echo %s >/proc/1/fd/1", marker);
    dm_e2e_exec_in_container(inst, script);
    dm_e2e_node_expect(&page, "SEEN ", line, sizeof line, 60000, "the marker line in the page");
    ck_assert_str_eq(line + strlen("SEEN "), marker);
    dm_e2e_node_expect(&page, "OK", line, sizeof line, 30000, "the end of log_page.mjs");
    int st = dm_e2e_node_stop(&page, 15000);
    ck_assert_msg(dm_e2e_exited_0(st), "log_page.mjs %s", dm_e2e_describe_status(st));
    unlink(page.err_path);
    if (standin.pid > 0) {
        dm_e2e_node_stop(&standin, 0);
        unlink(standin.err_path);
    }
}
END_TEST

START_TEST(no_engine_configured)
{
    dm_docker_test_engine_off("test_log_page");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("log_page");
    TCase *tc = tcase_create("browser");
    if (dm_docker_test_host() == NULL) {
        tcase_add_test(tc, no_engine_configured);
        suite_add_tcase(s, tc);
        return s;
    }
    tcase_add_unchecked_fixture(tc, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 280);
    tcase_add_test(tc, the_page_shows_a_line_printed_after_it_subscribed);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
