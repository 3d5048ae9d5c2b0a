/*
 * test_podman_engine.c — the container engine the tests and run.sh start
 * (scripts/podman.sh: a private Podman serving the Docker Engine API v1.41
 * on a unix socket) does what the runtime-docker plugin will rely on:
 * version, image lookup, create with a label, a memory limit and a published
 * port, start, inspect, serving the locally built static-site image, stop
 * with a timeout, delete with volumes, and 404 for what does not exist.
 */
#include "docker_api.h"
#include "dm_test.h"
#include "e2e.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define API "/" DM_DOCKER_API
#define MEMORY_LIMIT (64LL * 1024 * 1024)

static dm_docker_host host;
/* Every container this run makes carries dermaga.test.run=<run_id>, so the
 * clean-up removes ours and never another run's. */
static char run_id[64];
static char run_label[96];

static void setup_engine(void)
{
    const char *h = dm_docker_test_host();
    ck_assert_msg(h != NULL, "%s is not set", DM_DOCKER_TEST_HOST_ENV);
    ck_assert_msg(dm_docker_host_parse(h, &host) == 0, "%s=%s is not a Docker host URL",
                  DM_DOCKER_TEST_HOST_ENV, h);
    snprintf(run_id, sizeof run_id, "%ld-%ld", (long)getpid(), (long)time(NULL));
    snprintf(run_label, sizeof run_label, "dermaga.test.run=%s", run_id);
}

/* Unchecked: runs in the parent, so it also runs after a failed test. */
static void teardown_engine(void)
{
    if (run_label[0] != '\0')
        dm_docker_remove_labelled(&host, run_label);
}

static json_t *inspect(const char *id, dm_docker_resp *r)
{
    int rc = dm_docker_requestf(&host, "GET", NULL, 10000, r, API "/containers/%s/json", id);
    ck_assert_msg(rc == 0, "inspect %s: %s", id, r->error);
    ck_assert_msg(r->status == 200, "inspect %s: HTTP %ld: %s", id, r->status, r->body);
    ck_assert_msg(json_is_object(r->json), "inspect %s: not a JSON object: %s", id, r->body);
    return r->json;
}

/* The create body: the static-site image, our labels, 64 MiB and its port
 * published on 127.0.0.1:host_port. New reference (caller decrefs). */
static json_t *create_body(int host_port)
{
    char port[16];
    snprintf(port, sizeof port, "%d", host_port);
    char exposed[32];
    snprintf(exposed, sizeof exposed, "%d/tcp", DM_DOCKER_TEST_STATIC_SITE_PORT);
    json_t *b = json_pack("{s:s, s:{s:s, s:s}, s:{s:{}}, s:{s:I, s:{s:[{s:s, s:s}]}}}",
                          "Image", DM_DOCKER_TEST_STATIC_SITE_IMAGE,
                          "Labels", "dermaga.test", "1", "dermaga.test.run", run_id,
                          "ExposedPorts", exposed,
                          "HostConfig", "Memory", (json_int_t)MEMORY_LIMIT,
                          "PortBindings", exposed, "HostIp", "127.0.0.1", "HostPort", port);
    ck_assert_msg(b != NULL, "cannot build the create body");
    return b;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(engine_answers_ping_and_version)
{
    dm_docker_resp r = { 0 };
    ck_assert_msg(dm_docker_request(&host, "GET", "/_ping", NULL, 5000, &r) == 0, "ping: %s", r.error);
    ck_assert_msg(r.status == 200 && strcmp(r.body, "OK") == 0, "ping: HTTP %ld '%s'", r.status, r.body);

    ck_assert_msg(dm_docker_request(&host, "GET", API "/version", NULL, 5000, &r) == 0, "version: %s", r.error);
    ck_assert_msg(r.status == 200, "version: HTTP %ld: %s", r.status, r.body);
    const char *api = json_string_value(json_object_get(r.json, "ApiVersion"));
    ck_assert_msg(api != NULL, "version: no ApiVersion in %s", r.body);
    /* The engine must speak at least v1.41, the version every path uses. */
    int major = 0, minor = 0;
    ck_assert_msg(sscanf(api, "%d.%d", &major, &minor) == 2, "version: ApiVersion '%s' is not N.N", api);
    ck_assert_msg(major > 1 || (major == 1 && minor >= 41), "version: ApiVersion %s is older than 1.41", api);
    dm_docker_resp_free(&r);
}
END_TEST

START_TEST(locally_built_image_is_present)
{
    dm_docker_resp r = { 0 };
    int rc = dm_docker_request(&host, "GET", API "/images/" DM_DOCKER_TEST_STATIC_SITE_IMAGE "/json",
                               NULL, 5000, &r);
    ck_assert_msg(rc == 0, "image inspect: %s", r.error);
    ck_assert_msg(r.status == 200, "image %s is missing (HTTP %ld: %s); scripts/podman.sh image builds it",
                  DM_DOCKER_TEST_STATIC_SITE_IMAGE, r.status, r.body);
    const char *label = json_string_value(
        json_object_get(json_object_get(json_object_get(r.json, "Config"), "Labels"), "dermaga.source-hash"));
    ck_assert_msg(label != NULL && label[0] != '\0', "image has no dermaga.source-hash label: %s", r.body);
    dm_docker_resp_free(&r);
}
END_TEST

/* Create and start a static-site container published on 127.0.0.1:port;
 * its id goes to id (80 bytes). Fails the test on any refusal. */
static void run_static_site(int port, char *id)
{
    json_t *body = create_body(port);
    dm_docker_resp r = { 0 };
    int rc = dm_docker_requestf(&host, "POST", body, 30000, &r,
                                API "/containers/create?name=dermaga-test-%s-%d", run_id, port);
    json_decref(body);
    ck_assert_msg(rc == 0, "create: %s", r.error);
    ck_assert_msg(r.status == 201, "create: HTTP %ld: %s", r.status, r.body);
    const char *rid = json_string_value(json_object_get(r.json, "Id"));
    ck_assert_msg(rid != NULL && strlen(rid) == 64, "create: no 64-hex Id in %s", r.body);
    snprintf(id, 80, "%s", rid);

    rc = dm_docker_requestf(&host, "POST", NULL, 30000, &r, API "/containers/%s/start", id);
    ck_assert_msg(rc == 0 && r.status == 204, "start: HTTP %ld: %s %s", r.status, r.body, r.error);
    dm_docker_resp_free(&r);
}

/* Wait (at most 15 s) until the container's page answers on port. */
static void expect_page(int port, char *url, size_t url_cap)
{
    snprintf(url, url_cap, "http://127.0.0.1:%d/", port);
    dm_docker_resp r = { 0 };
    ck_assert_msg(dm_docker_wait_http(url, DM_DOCKER_TEST_STATIC_SITE_MARKER, 15000, &r),
                  "GET %s never served the page in 15 s: HTTP %ld '%.200s' %s", url, r.status, r.body, r.error);
    dm_docker_resp_free(&r);
}

/* DELETE with v=1 (and force=1 when asked) answers 204, and the container
 * is gone (404) after. */
static void remove_container(const char *id, bool force)
{
    dm_docker_resp r = { 0 };
    int rc = dm_docker_requestf(&host, "DELETE", NULL, 30000, &r, API "/containers/%s?v=1%s", id,
                                force ? "&force=1" : "");
    ck_assert_msg(rc == 0 && r.status == 204, "delete: HTTP %ld: %s %s", r.status, r.body, r.error);
    rc = dm_docker_requestf(&host, "GET", NULL, 10000, &r, API "/containers/%s/json", id);
    ck_assert_msg(rc == 0 && r.status == 404, "inspect after delete: HTTP %ld, want 404: %s", r.status, r.body);
    dm_docker_resp_free(&r);
}

/* What create asked for is what runs: state, memory limit, label, port. */
START_TEST(container_runs_with_label_limit_and_port)
{
    int port = dm_e2e_free_port();
    char id[80], url[64];
    run_static_site(port, id);

    dm_docker_resp r = { 0 };
    json_t *c = inspect(id, &r);
    ck_assert_msg(json_is_true(json_object_get(json_object_get(c, "State"), "Running")),
                  "inspect: not running: %s", r.body);
    json_int_t mem = json_integer_value(json_object_get(json_object_get(c, "HostConfig"), "Memory"));
    ck_assert_msg(mem == MEMORY_LIMIT, "inspect: memory limit %lld, want %lld", (long long)mem, MEMORY_LIMIT);
    const char *lbl = json_string_value(json_object_get(json_object_get(json_object_get(c, "Config"), "Labels"),
                                                        "dermaga.test"));
    ck_assert_msg(lbl != NULL && strcmp(lbl, "1") == 0, "inspect: label dermaga.test is %s", lbl ? lbl : "missing");
    char exposed[32], want[16];
    snprintf(exposed, sizeof exposed, "%d/tcp", DM_DOCKER_TEST_STATIC_SITE_PORT);
    snprintf(want, sizeof want, "%d", port);
    json_t *ports = json_object_get(json_object_get(c, "NetworkSettings"), "Ports");
    const char *hp = json_string_value(json_object_get(json_array_get(json_object_get(ports, exposed), 0),
                                                       "HostPort"));
    ck_assert_msg(hp != NULL && strcmp(hp, want) == 0, "inspect: %s published on %s, want %s",
                  exposed, hp ? hp : "nothing", want);
    dm_docker_resp_free(&r);

    expect_page(port, url, sizeof url);

    /* A running container is not removed without force: Docker answers
     * 409, Podman 4.3 500 ("container state improper"), and it still runs. */
    int rc = dm_docker_requestf(&host, "DELETE", NULL, 30000, &r, API "/containers/%s?v=1", id);
    ck_assert_msg(rc == 0 && (r.status == 409 || r.status == 500),
                  "delete while running: HTTP %ld, want 409 or 500: %s %s", r.status, r.body, r.error);
    ck_assert_msg(json_is_true(json_object_get(json_object_get(inspect(id, &r), "State"), "Running")),
                  "a refused delete stopped the container: %s", r.body);
    dm_docker_resp_free(&r);
    remove_container(id, true);
}
END_TEST

/* Stop within its timeout (the image ends on SIGTERM), then it is stopped,
 * serves nothing, a second stop is 304, and delete removes it. */
START_TEST(stop_honours_sigterm_and_delete_removes)
{
    int port = dm_e2e_free_port();
    char id[80], url[64];
    run_static_site(port, id);
    expect_page(port, url, sizeof url);

    dm_docker_resp r = { 0 };
    long long t0 = now_ms();
    int rc = dm_docker_requestf(&host, "POST", NULL, 30000, &r, API "/containers/%s/stop?t=10", id);
    long long took = now_ms() - t0;
    ck_assert_msg(rc == 0 && r.status == 204, "stop: HTTP %ld: %s %s", r.status, r.body, r.error);
    ck_assert_msg(took < 9000, "stop took %lld ms: SIGTERM was not honoured", took);
    json_t *state = json_object_get(inspect(id, &r), "State");
    ck_assert_msg(json_is_false(json_object_get(state, "Running")), "inspect after stop: still running: %s", r.body);
    json_int_t code = json_integer_value(json_object_get(state, "ExitCode"));
    ck_assert_msg(code == 0, "inspect after stop: exit code %lld, want 0", (long long)code);
    ck_assert_msg(dm_docker_http_get(url, 2000, &r) != 0 || r.status != 200, "GET %s still answers after stop", url);

    rc = dm_docker_requestf(&host, "POST", NULL, 30000, &r, API "/containers/%s/stop?t=1", id);
    ck_assert_msg(rc == 0 && r.status == 304, "second stop: HTTP %ld, want 304: %s", r.status, r.body);
    dm_docker_resp_free(&r);
    remove_container(id, false);
}
END_TEST

START_TEST(missing_container_and_image_are_404)
{
    dm_docker_resp r = { 0 };
    static const struct { const char *method, *path; } calls[] = {
        { "GET", API "/containers/dermaga-test-no-such-container/json" },
        { "POST", API "/containers/dermaga-test-no-such-container/start" },
        { "POST", API "/containers/dermaga-test-no-such-container/stop?t=1" },
        { "DELETE", API "/containers/dermaga-test-no-such-container?v=1" },
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        int rc = dm_docker_request(&host, calls[i].method, calls[i].path, NULL, 10000, &r);
        ck_assert_msg(rc == 0, "%s %s: %s", calls[i].method, calls[i].path, r.error);
        ck_assert_msg(r.status == 404, "%s %s: HTTP %ld, want 404: %s", calls[i].method, calls[i].path,
                      r.status, r.body);
        ck_assert_msg(json_string_value(json_object_get(r.json, "message")) != NULL,
                      "%s %s: no error message in %s", calls[i].method, calls[i].path, r.body);
    }
    /* No registry is reachable: an image that was not built is refused at
     * once, not pulled. */
    json_t *body = json_pack("{s:s, s:{s:s}}", "Image", "localhost/dermaga/no-such-image:test",
                             "Labels", "dermaga.test.run", run_id);
    int rc = dm_docker_request(&host, "POST", API "/containers/create", body, 30000, &r);
    json_decref(body);
    ck_assert_msg(rc == 0 && r.status == 404, "create of a missing image: HTTP %ld, want 404: %s %s", r.status,
                  r.body, r.error);
    dm_docker_resp_free(&r);
}
END_TEST

START_TEST(host_urls_parse_and_refuse)
{
    dm_docker_host h;
    ck_assert_int_eq(dm_docker_host_parse("unix:///run/x/podman.sock", &h), 0);
    ck_assert_str_eq(h.socket_path, "/run/x/podman.sock");
    ck_assert_int_eq(dm_docker_host_parse("tcp://127.0.0.1:2375/", &h), 0);
    ck_assert_str_eq(h.base_url, "http://127.0.0.1:2375");
    ck_assert_str_eq(h.socket_path, "");
    ck_assert_msg(dm_docker_host_parse("unix://relative.sock", &h) != 0, "relative socket path accepted");
    ck_assert_msg(dm_docker_host_parse("ssh://host", &h) != 0, "ssh:// accepted");
    ck_assert_msg(dm_docker_host_parse("", &h) != 0, "empty host accepted");
    char longp[200];
    memset(longp, 'a', sizeof longp);
    memcpy(longp, "unix:///", 8);
    longp[sizeof longp - 1] = '\0';
    ck_assert_msg(dm_docker_host_parse(longp, &h) != 0, "over-long socket path accepted");
}
END_TEST

/* Without an engine there is nothing to test. That passes only when the
 * engine was turned off on purpose (DERMAGA_TEST_PODMAN=0); otherwise a
 * missing engine must not look like a green run. */
START_TEST(no_engine_configured)
{
    dm_docker_test_engine_off("test_podman_engine");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("podman_engine");
    TCase *unit = tcase_create("host_urls");
    tcase_add_test(unit, host_urls_parse_and_refuse);
    suite_add_tcase(s, unit);
    TCase *tc = tcase_create("engine");
    if (dm_docker_test_host() == NULL) {
        tcase_add_test(tc, no_engine_configured);
    } else {
        tcase_add_unchecked_fixture(tc, setup_engine, teardown_engine);
        tcase_set_timeout(tc, 90);
        tcase_add_test(tc, engine_answers_ping_and_version);
        tcase_add_test(tc, locally_built_image_is_present);
        tcase_add_test(tc, container_runs_with_label_limit_and_port);
        tcase_add_test(tc, stop_honours_sigterm_and_delete_removes);
        tcase_add_test(tc, missing_container_and_image_are_404);
    }
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
