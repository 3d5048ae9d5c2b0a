/*
 * test_runtime_docker.c — the runtime-docker plugin on the real engine: the
 * built plugins/runtime-docker.so loaded through the core loader with
 * `host` set to the private Podman of scripts/test.sh
 * ($DERMAGA_TEST_DOCKER_HOST). Provision (and adopt on retry, recreate on a
 * changed spec), status and endpoints, stop/start/restart, logs (tail and a
 * cancelled follow), usage, inventory, terminate with volumes, refusals of
 * bad specs and config, and an unreachable engine.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "docker_api.h"
#include "dm_test.h"
#include "../plugins/fixtures.h"

#include "plugin/registry.h"

#define PLUGIN_SO DM_BUILD_DIR "/plugins/runtime-docker.so"
#define API "/" DM_DOCKER_API
#define MEM_MB 64

static dm_docker_host engine;
static char run_id[48];
/* The instance tags the tests use; teardown removes dm-rtd-<run>-<tag>. */
static const char *const tags[] = { "life", "resize", "race", "again", "auto" };

static void instance_id(const char *tag, char *out, size_t len)
{
    snprintf(out, len, "rtd-%s-%s", run_id, tag);
}

/* ---- loading ---- */

typedef struct plug {
    fx_plugin               f;   /* dir, set, p (NULL when refused), log */
    const dm_runtime_ops_t *ops;
    void                   *state;
} plug;

/* Load runtime-docker with config (stolen); pl->f.p NULL when refused. */
static void try_open(plug *pl, json_t *config)
{
    fx_plugin_open(&pl->f, PLUGIN_SO, "runtime-docker", DM_PLUGIN_RUNTIME, config);
    pl->ops = dm__plugin_runtime_ops(pl->f.p);
    pl->state = pl->f.p != NULL ? pl->f.p->state : NULL;
}

static const char *refusal(const plug *pl)
{
    const char *r = json_string_value(
        json_object_get(json_array_get(dm__plugins_refusals(pl->f.set), 0), "reason"));
    return r != NULL ? r : "(no refusal)";
}

static void open_engine(plug *pl)
{
    try_open(pl, json_pack("{s:s, s:i}", "host", dm_docker_test_host(), "stop_timeout_s", 5));
    ck_assert_msg(pl->f.p != NULL, "runtime-docker was refused: %s\nlog:\n%s", refusal(pl), pl->f.log);
    ck_assert_msg(pl->ops->logs != NULL && pl->ops->usage != NULL && pl->ops->inventory != NULL,
                  "optional ops missing");
}

static void close_plugin(plug *pl)
{
    fx_plugin_close(&pl->f);
}

/* ---- engine side ---- */

static void setup_engine(void)
{
    const char *h = dm_docker_test_host();
    ck_assert_msg(h != NULL && dm_docker_host_parse(h, &engine) == 0, "%s is not a Docker host",
                  DM_DOCKER_TEST_HOST_ENV);
    snprintf(run_id, sizeof run_id, "%ld%ld", (long)getpid(), (long)time(NULL) % 100000);
}

/* Unchecked: runs in the parent, so also after a failed test. */
static void teardown_engine(void)
{
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        char id[96], label[128];
        instance_id(tags[i], id, sizeof id);
        snprintf(label, sizeof label, "dermaga.instance=%s", id);
        dm_docker_remove_labelled(&engine, label);
        dm_docker_resp r = { 0 };
        dm_docker_requestf(&engine, "DELETE", NULL, 10000, &r, API "/volumes/dm-%s-data?force=1", id);
        dm_docker_resp_free(&r);
    }
}

/* Inspect dm-<id>; the answer stays in r. */
static json_t *inspect(const char *id, dm_docker_resp *r)
{
    int rc = dm_docker_requestf(&engine, "GET", NULL, 10000, r, API "/containers/dm-%s/json", id);
    ck_assert_msg(rc == 0 && r->status == 200 && json_is_object(r->json),
                  "inspect dm-%s: HTTP %ld %s %s", id, r->status, r->body, r->error);
    return r->json;
}

static long volume_status(const char *id)
{
    dm_docker_resp r = { 0 };
    int rc = dm_docker_requestf(&engine, "GET", NULL, 10000, &r, API "/volumes/dm-%s-data", id);
    ck_assert_msg(rc == 0, "volume inspect: %s", r.error);
    long s = r.status;
    dm_docker_resp_free(&r);
    return s;
}

/* The static-site spec: public http 8080, a data volume, 64 MB, cpu. */
static json_t *site_spec(int memory_mb, int millicores)
{
    json_t *s = json_pack("{s:s, s:{s:s}, s:[{s:s, s:i, s:s, s:b}], s:[{s:s, s:s}], s:{s:i, s:i}}",
                          "image", DM_DOCKER_TEST_STATIC_SITE_IMAGE,
                          "env", "DERMAGA_TEST", "1",
                          "ports", "name", "http", "port", DM_DOCKER_TEST_STATIC_SITE_PORT,
                          "protocol", "tcp", "public", 1,
                          "volumes", "name", "data", "mountPath", "/data",
                          "resources", "memoryMb", memory_mb, "cpuMillicores", millicores);
    ck_assert_msg(s != NULL, "json_pack failed");
    return s;
}

static void status_of(const plug *pl, const char *id, dm_runtime_status_t *st)
{
    json_decref(st->endpoints);
    memset(st, 0, sizeof *st);
    dm_err_t err;
    dm_err_clear(&err);
    int rc = pl->ops->status(pl->state, id, st, &err);
    ck_assert_msg(rc == 0, "status %s: %d %s", id, rc, err.msg);
}

/* Poll status (at most 15 s) until phase; fails with the last state. */
static void wait_phase(const plug *pl, const char *id, uint32_t phase, dm_runtime_status_t *st)
{
    for (int i = 0; i < 300; i++) {
        status_of(pl, id, st);
        if (st->phase == phase)
            return;
        usleep(50000);
    }
    ck_abort_msg("%s never reached phase %u: phase %u, message '%s'", id, phase, st->phase,
                 st->message);
}

static void provision(const plug *pl, const char *id, json_t *spec, dm_runtime_status_t *st)
{
    json_decref(st->endpoints);
    memset(st, 0, sizeof *st);
    dm_err_t err;
    dm_err_clear(&err);
    int rc = pl->ops->provision(pl->state, id, spec, st, &err);
    json_decref(spec);
    ck_assert_msg(rc == 0, "provision %s: %d %s", id, rc, err.msg);
}

/* The http endpoint's URL from a status, checked to be on 127.0.0.1. */
static void endpoint_url(const dm_runtime_status_t *st, char *url, size_t len, int *port)
{
    json_t *http = json_object_get(st->endpoints, "http");
    const char *h = json_string_value(json_object_get(http, "host"));
    json_int_t p = json_integer_value(json_object_get(http, "port"));
    char *dump = st->endpoints != NULL ? json_dumps(st->endpoints, JSON_COMPACT) : NULL;
    ck_assert_msg(h != NULL && strcmp(h, "127.0.0.1") == 0 && p >= 20000 && p <= 29999,
                  "endpoints %s: want http on 127.0.0.1 in 20000..29999", dump ? dump : "NULL");
    free(dump);
    snprintf(url, len, "http://%s:%lld/", h, (long long)p);
    *port = (int)p;
}

static void expect_page(const char *url)
{
    dm_docker_resp r = { 0 };
    ck_assert_msg(dm_docker_wait_http(url, DM_DOCKER_TEST_STATIC_SITE_MARKER, 15000, &r),
                  "GET %s never served the page: HTTP %ld '%.200s' %s", url, r.status, r.body, r.error);
    dm_docker_resp_free(&r);
}

/* ---- the lifecycle on the engine ---- */

/* provision → RUNNING with an endpoint that serves the page; a second
 * provision adopts the same container; labels and limits are set. */
static void check_provision(const plug *pl, const char *id, char *url, size_t url_len)
{
    dm_runtime_status_t st = { 0 };
    provision(pl, id, site_spec(MEM_MB, 250), &st);
    ck_assert_msg(st.phase == DM_RUNTIME_RUNNING, "after provision: phase %u '%s'", st.phase,
                  st.message);
    char want_unit[128];
    snprintf(want_unit, sizeof want_unit, "dm-%s", id);
    ck_assert_msg(strcmp(st.unit_name, want_unit) == 0, "unit_name '%s', want '%s'", st.unit_name,
                  want_unit);
    int port = 0;
    endpoint_url(&st, url, url_len, &port);
    expect_page(url);

    dm_docker_resp r = { 0 };
    json_t *c = inspect(id, &r);
    char first_id[80];
    snprintf(first_id, sizeof first_id, "%s", json_string_value(json_object_get(c, "Id")));
    json_t *labels = json_object_get(json_object_get(c, "Config"), "Labels");
    const char *inst = json_string_value(json_object_get(labels, "dermaga.instance"));
    const char *managed = json_string_value(json_object_get(labels, "dermaga.managed"));
    ck_assert_msg(inst != NULL && strcmp(inst, id) == 0, "label dermaga.instance is %s", inst);
    ck_assert_msg(managed != NULL && strcmp(managed, "true") == 0, "label dermaga.managed is %s",
                  managed);
    json_t *hc = json_object_get(c, "HostConfig");
    ck_assert_msg(json_integer_value(json_object_get(hc, "Memory")) == MEM_MB * 1024LL * 1024,
                  "Memory %lld", (long long)json_integer_value(json_object_get(hc, "Memory")));
    ck_assert_msg(json_integer_value(json_object_get(hc, "NanoCpus")) == 250000000LL,
                  "NanoCpus %lld, want 250000000",
                  (long long)json_integer_value(json_object_get(hc, "NanoCpus")));
    ck_assert_msg(volume_status(id) == 200, "volume dm-%s-data missing", id);

    provision(pl, id, site_spec(MEM_MB, 250), &st);
    c = inspect(id, &r);
    ck_assert_msg(strcmp(json_string_value(json_object_get(c, "Id")), first_id) == 0,
                  "a second provision made another container");
    ck_assert_msg(st.phase == DM_RUNTIME_RUNNING, "after re-provision: phase %u", st.phase);
    json_decref(st.endpoints);
    dm_docker_resp_free(&r);
}

static void op_ok(int rc, const dm_err_t *err, const char *what)
{
    ck_assert_msg(rc == 0, "%s: %d %s", what, rc, err->msg);
}

static void check_stop_start_restart(const plug *pl, const char *id, const char *url)
{
    dm_err_t err;
    dm_err_clear(&err);
    dm_runtime_status_t st = { 0 };
    op_ok(pl->ops->stop(pl->state, id, &err), &err, "stop");
    status_of(pl, id, &st);
    ck_assert_msg(st.phase == DM_RUNTIME_STOPPED, "after stop: phase %u '%s'", st.phase, st.message);
    ck_assert_msg(json_object_get(st.endpoints, "http") != NULL, "a stopped container lost its endpoint");

    op_ok(pl->ops->start(pl->state, id, &err), &err, "start");
    wait_phase(pl, id, DM_RUNTIME_RUNNING, &st);
    expect_page(url);

    dm_docker_resp r = { 0 };
    char before[64];
    snprintf(before, sizeof before, "%s",
             json_string_value(json_object_get(json_object_get(inspect(id, &r), "State"), "StartedAt")));
    op_ok(pl->ops->restart(pl->state, id, &err), &err, "restart");
    wait_phase(pl, id, DM_RUNTIME_RUNNING, &st);
    const char *after = json_string_value(json_object_get(json_object_get(inspect(id, &r), "State"),
                                                          "StartedAt"));
    ck_assert_msg(after != NULL && strcmp(after, before) != 0,
                  "restart did not restart: StartedAt still %s", before);
    expect_page(url);
    dm_docker_resp_free(&r);
    json_decref(st.endpoints);
}

typedef struct lines {
    size_t n;
    bool   saw_stamp;
    bool   saw_get;
    size_t stop_after;
    int    polls;
    int    cancel_after_polls;
} lines;

static int line_cb(void *opaque, const char *line, size_t len, uint32_t stream, int64_t ts_ms)
{
    lines *l = opaque;
    ck_assert_msg(stream == DM_RUNTIME_STDOUT || stream == DM_RUNTIME_STDERR, "stream %u", stream);
    l->n++;
    if (ts_ms > 1600000000000LL)
        l->saw_stamp = true;
    if (len >= 9 && memmem(line, len, "response:", 9) != NULL)
        l->saw_get = true;
    return l->stop_after != 0 && l->n >= l->stop_after ? 1 : 0;
}

static bool cancelled_cb(void *opaque)
{
    lines *l = opaque;
    l->polls++;
    return l->cancel_after_polls > 0 && l->polls >= l->cancel_after_polls;
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void check_logs(const plug *pl, const char *id)
{
    lines l = { 0 };
    dm_runtime_log_sink_t sink = { .opaque = &l, .line = line_cb, .cancelled = cancelled_cb };
    dm_runtime_log_opts_t opts = { .tail_lines = 50 };
    dm_err_t err;
    dm_err_clear(&err);
    op_ok(pl->ops->logs(pl->state, id, &opts, &sink, &err), &err, "logs");
    ck_assert_msg(l.n > 0, "logs tail=50 gave no line (httpd -v logs each request)");
    ck_assert_msg(l.saw_stamp, "no line carried a parsed timestamp");
    ck_assert_msg(l.saw_get, "no line shows the requests the test made (httpd -v: \"response:200\")");

    /* the sink stops after one line */
    lines one = { .stop_after = 1 };
    sink.opaque = &one;
    op_ok(pl->ops->logs(pl->state, id, &opts, &sink, &err), &err, "logs stopped by the sink");
    ck_assert_msg(one.n == 1, "sink asked to stop after 1 line, got %zu", one.n);

    /* following never ends by itself: the cancelled sink ends it */
    lines fol = { .cancel_after_polls = 3 };
    sink.opaque = &fol;
    opts.follow = true;
    long long t0 = mono_ms();
    op_ok(pl->ops->logs(pl->state, id, &opts, &sink, &err), &err, "logs follow");
    long long took = mono_ms() - t0;
    ck_assert_msg(fol.polls >= 3 && took < 8000, "follow: %d polls in %lld ms", fol.polls, took);
}

static void check_usage_inventory(const plug *pl, const char *id)
{
    dm_runtime_usage_t u = { 0 };
    dm_err_t err;
    dm_err_clear(&err);
    op_ok(pl->ops->usage(pl->state, id, &u, &err), &err, "usage");
    ck_assert_msg(u.memory_bytes > 0 && u.memory_bytes <= MEM_MB * 1024LL * 1024,
                  "usage memory %lld bytes, want 0 < x <= %d MB", (long long)u.memory_bytes, MEM_MB);
    ck_assert_msg(u.cpu_millicores >= 0 && u.cpu_millicores <= 1000,
                  "usage cpu %lld millicores for an idle httpd limited to 250",
                  (long long)u.cpu_millicores);

    json_t *inv = NULL;
    op_ok(pl->ops->inventory(pl->state, "containers", NULL, &inv, &err), &err, "inventory containers");
    bool found = false;
    size_t i;
    json_t *c;
    char name[128];
    snprintf(name, sizeof name, "dm-%s", id);
    json_array_foreach(inv, i, c) {
        const char *n = json_string_value(json_object_get(c, "name"));
        const char *inst = json_string_value(json_object_get(c, "instance"));
        if (n != NULL && strcmp(n, name) == 0) {
            found = true;
            ck_assert_msg(inst != NULL && strcmp(inst, id) == 0, "inventory instance %s", inst);
            ck_assert_msg(json_array_size(json_object_get(c, "ports")) >= 1, "inventory: no ports");
            ck_assert_str_eq(json_string_value(json_object_get(c, "state")), "running");
        }
    }
    ck_assert_msg(found, "inventory containers does not list %s", name);
    json_decref(inv);
    static const char *const kinds[] = { "images", "volumes", "networks", "info" };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        op_ok(pl->ops->inventory(pl->state, kinds[k], NULL, &inv, &err), &err, kinds[k]);
        ck_assert_msg(json_array_size(inv) > 0, "inventory %s is empty", kinds[k]);
        json_decref(inv);
    }
    op_ok(pl->ops->inventory(pl->state, "info", NULL, &inv, &err), &err, "info");
    ck_assert_msg(json_string_value(json_object_get(json_array_get(inv, 0), "engine")) != NULL,
                  "info has no engine version");
    json_decref(inv);
    int rc = pl->ops->inventory(pl->state, "pods", NULL, &inv, &err);
    ck_assert_msg(rc == DM_EUNSUPPORTED && inv == NULL, "inventory pods: %d, want DM_EUNSUPPORTED", rc);
}

static void check_terminate(const plug *pl, const char *id)
{
    dm_err_t err;
    dm_err_clear(&err);
    dm_runtime_status_t st = { 0 };
    op_ok(pl->ops->terminate(pl->state, id, &err), &err, "terminate");
    status_of(pl, id, &st);
    ck_assert_msg(st.phase == DM_RUNTIME_ABSENT, "after terminate: phase %u", st.phase);
    ck_assert_msg(volume_status(id) == 404, "volume dm-%s-data survived terminate", id);
    op_ok(pl->ops->terminate(pl->state, id, &err), &err, "second terminate");
    json_decref(st.endpoints);
}

START_TEST(full_lifecycle)
{
    plug pl;
    open_engine(&pl);
    char id[96], url[64];
    instance_id("life", id, sizeof id);
    check_provision(&pl, id, url, sizeof url);
    check_stop_start_restart(&pl, id, url);
    check_logs(&pl, id);
    check_usage_inventory(&pl, id);
    check_terminate(&pl, id);
    close_plugin(&pl);
}
END_TEST

/* New limits: the container is replaced (keeping its host port and its
 * volume), and the new limits are what runs. */
START_TEST(changed_spec_recreates)
{
    plug pl;
    open_engine(&pl);
    char id[96], url[64];
    instance_id("resize", id, sizeof id);
    dm_runtime_status_t st = { 0 };
    provision(&pl, id, site_spec(MEM_MB, 250), &st);
    int port1 = 0, port2 = 0;
    endpoint_url(&st, url, sizeof url, &port1);
    dm_docker_resp r = { 0 };
    char first[80];
    snprintf(first, sizeof first, "%s", json_string_value(json_object_get(inspect(id, &r), "Id")));

    provision(&pl, id, site_spec(96, 500), &st);
    ck_assert_msg(st.phase == DM_RUNTIME_RUNNING, "after resize: phase %u '%s'", st.phase, st.message);
    endpoint_url(&st, url, sizeof url, &port2);
    ck_assert_msg(port1 == port2, "resize moved the host port %d -> %d", port1, port2);
    json_t *c = inspect(id, &r);
    ck_assert_msg(strcmp(json_string_value(json_object_get(c, "Id")), first) != 0,
                  "new limits kept the old container");
    json_t *hc = json_object_get(c, "HostConfig");
    ck_assert_msg(json_integer_value(json_object_get(hc, "Memory")) == 96LL * 1024 * 1024 &&
                  json_integer_value(json_object_get(hc, "NanoCpus")) == 500000000LL,
                  "resize: limits not applied");
    ck_assert_msg(volume_status(id) == 200, "resize lost the volume");
    expect_page(url);

    /* killed behind Dermaga's back: status says so, with the exit code */
    int rc = dm_docker_requestf(&engine, "POST", NULL, 10000, &r, API "/containers/dm-%s/kill?signal=KILL", id);
    ck_assert_msg(rc == 0 && r.status == 204, "kill: HTTP %ld %s", r.status, r.body);
    wait_phase(&pl, id, DM_RUNTIME_STOPPED, &st);
    ck_assert_msg(!st.ready && strstr(st.message, "exited with code 137") != NULL,
                  "killed container: ready %d, message '%s'", st.ready, st.message);
    dm_docker_resp_free(&r);
    dm_err_t err;
    dm_err_clear(&err);
    op_ok(pl.ops->terminate(pl.state, id, &err), &err, "terminate");
    json_decref(st.endpoints);
    close_plugin(&pl);
}
END_TEST

START_TEST(unknown_instance_is_absent)
{
    plug pl;
    open_engine(&pl);
    char id[96];
    instance_id("never-made", id, sizeof id);
    dm_runtime_status_t st = { 0 };
    status_of(&pl, id, &st);
    ck_assert_msg(st.phase == DM_RUNTIME_ABSENT, "unknown instance: phase %u", st.phase);
    dm_err_t err;
    dm_err_clear(&err);
    int rc = pl.ops->stop(pl.state, id, &err);
    ck_assert_msg(rc == DM_ENOTFOUND, "stop of an unknown instance: %d (%s)", rc, err.msg);
    dm_runtime_usage_t u;
    rc = pl.ops->usage(pl.state, id, &u, &err);
    ck_assert_msg(rc == DM_ENOTFOUND, "usage of an unknown instance: %d (%s)", rc, err.msg);
    op_ok(pl.ops->terminate(pl.state, id, &err), &err, "terminate of an unknown instance");
    json_decref(st.endpoints);
    close_plugin(&pl);
}
END_TEST

static void expect_einval(const plug *pl, const char *id, json_t *spec, const char *field)
{
    dm_runtime_status_t st = { 0 };
    dm_err_t err;
    dm_err_clear(&err);
    int rc = pl->ops->provision(pl->state, id, spec, &st, &err);
    json_decref(spec);
    ck_assert_msg(rc == DM_EINVAL, "bad %s: provision %d (%s), want DM_EINVAL", field, rc, err.msg);
    ck_assert_msg(strstr(err.msg, field) != NULL, "message '%s' does not name %s", err.msg, field);
    json_decref(st.endpoints);
}

START_TEST(bad_specs_and_ids_are_refused)
{
    plug pl;
    open_engine(&pl);
    char id[96];
    instance_id("again", id, sizeof id);
    expect_einval(&pl, id, json_pack("{s:i}", "image", 3), "spec.image");
    expect_einval(&pl, id, json_pack("{s:s, s:{s:s}}", "image", "x", "resources", "memoryMb", "64"),
                  "spec.resources.memoryMb");
    expect_einval(&pl, id, json_pack("{s:s, s:[{s:s, s:i}]}", "image", "x", "ports", "name", "http",
                                     "port", 0), "spec.ports[0].port");
    expect_einval(&pl, id, json_pack("{s:s, s:[{s:s, s:s}]}", "image", "x", "volumes", "name",
                                     "../x", "mountPath", "/d"), "spec.volumes[0].name");
    expect_einval(&pl, id, json_pack("{s:s, s:[i]}", "image", "x", "command", 1), "spec.command[0]");
    expect_einval(&pl, "../etc", json_pack("{s:s}", "image", "x"), "instance id");
    /* nothing was created by any of them */
    dm_runtime_status_t st = { 0 };
    status_of(&pl, id, &st);
    ck_assert_msg(st.phase == DM_RUNTIME_ABSENT, "a refused spec left a container");
    /* an image the engine lacks */
    dm_err_t err;
    dm_err_clear(&err);
    json_t *spec = json_pack("{s:s}", "image", "localhost/dermaga/no-such-image:test");
    int rc = pl.ops->provision(pl.state, id, spec, &st, &err);
    json_decref(spec);
    ck_assert_msg(rc == DM_ENOTFOUND && strstr(err.msg, "no-such-image") != NULL,
                  "missing image: %d '%s'", rc, err.msg);
    json_decref(st.endpoints);
    close_plugin(&pl);
}
END_TEST

START_TEST(bad_config_is_refused)
{
    static const char *const cfgs[] = {
        "{\"host\":\"ssh://somewhere\"}",
        "{\"host\":\"unix://relative.sock\"}",
        "{\"port_min\":30000,\"port_max\":20000}",
        "{\"publish_address\":\"localhost\"}",
        "{\"stop_timeout_s\":-1}",
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        plug pl;
        try_open(&pl, fx_json(cfgs[i]));
        ck_assert_msg(pl.f.p == NULL, "config %s was accepted", cfgs[i]);
        ck_assert_msg(strstr(refusal(&pl), "config:") != NULL, "config %s refused without a "
                      "reason: %s", cfgs[i], refusal(&pl));
        close_plugin(&pl);
    }
}
END_TEST

START_TEST(unreachable_engine_is_unavailable)
{
    plug pl;
    try_open(&pl, json_pack("{s:s}", "host", "unix:///tmp/dermaga-no-such-dir/docker.sock"));
    ck_assert_msg(pl.f.p != NULL, "an engine that is down refused the plugin: %s", refusal(&pl));
    dm_runtime_status_t st = { 0 };
    dm_err_t err;
    dm_err_clear(&err);
    long long t0 = mono_ms();
    int rc = pl.ops->status(pl.state, "abc", &st, &err);
    ck_assert_msg(rc == DM_EUNAVAIL, "status: %d (%s), want DM_EUNAVAIL", rc, err.msg);
    ck_assert_msg(strstr(err.msg, "unreachable") != NULL && strstr(err.msg, "docker.sock") != NULL,
                  "message '%s' does not say which engine is unreachable", err.msg);
    json_t *spec = json_pack("{s:s}", "image", "x");
    rc = pl.ops->provision(pl.state, "abc", spec, &st, &err);
    json_decref(spec);
    ck_assert_msg(rc == DM_EUNAVAIL, "provision: %d (%s)", rc, err.msg);
    rc = pl.ops->terminate(pl.state, "abc", &err);
    ck_assert_msg(rc == DM_EUNAVAIL, "terminate: %d (%s)", rc, err.msg);
    ck_assert_msg(mono_ms() - t0 < 3000, "failing took %lld ms", mono_ms() - t0);
    close_plugin(&pl);

    /* TCP: a port nothing listens on */
    try_open(&pl, json_pack("{s:s}", "host", "tcp://127.0.0.1:1"));
    ck_assert_msg(pl.f.p != NULL, "refused: %s", refusal(&pl));
    rc = pl.ops->status(pl.state, "abc", &st, &err);
    ck_assert_msg(rc == DM_EUNAVAIL, "tcp status: %d (%s)", rc, err.msg);
    close_plugin(&pl);
}
END_TEST

typedef struct racer {
    const plug *pl;
    const char *id;
    int         rc;
    char        msg[256];
} racer;

static void *race_provision(void *arg)
{
    racer *r = arg;
    dm_runtime_status_t st = { 0 };
    dm_err_t err;
    dm_err_clear(&err);
    json_t *spec = site_spec(MEM_MB, 250);
    r->rc = r->pl->ops->provision(r->pl->state, r->id, spec, &st, &err);
    json_decref(spec);
    json_decref(st.endpoints);
    snprintf(r->msg, sizeof r->msg, "%s", err.msg);
    return NULL;
}

/* Three provisions of one instance at once: all succeed, one container. */
START_TEST(concurrent_provisions_make_one_container)
{
    plug pl;
    open_engine(&pl);
    char id[96];
    instance_id("race", id, sizeof id);
    racer rs[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        rs[i] = (racer){ .pl = &pl, .id = id };
        ck_assert_int_eq(pthread_create(&th[i], NULL, race_provision, &rs[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(rs[i].rc == 0, "provision %d: %d %s", i, rs[i].rc, rs[i].msg);
    }
    char label[128];
    snprintf(label, sizeof label, "dermaga.instance=%s", id);
    json_t *filters = json_pack("{s:[s]}", "label", label);
    char *f = json_dumps(filters, JSON_COMPACT);
    json_decref(filters);
    char *enc = curl_easy_escape(NULL, f, 0);
    free(f);
    dm_docker_resp r = { 0 };
    int rc = dm_docker_requestf(&engine, "GET", NULL, 10000, &r, API "/containers/json?all=1&filters=%s", enc);
    curl_free(enc);
    ck_assert_msg(rc == 0 && json_array_size(r.json) == 1, "%zu containers for one instance: %s",
                  json_array_size(r.json), r.body);
    dm_docker_resp_free(&r);
    dm_err_t err;
    dm_err_clear(&err);
    op_ok(pl.ops->terminate(pl.state, id, &err), &err, "terminate");
    close_plugin(&pl);
}
END_TEST

/* port_min = port_max = 0: the engine picks the host port and status
 * reads it back. */
START_TEST(engine_picked_port_is_read_back)
{
    plug pl;
    try_open(&pl, json_pack("{s:s, s:i, s:i}", "host", dm_docker_test_host(), "port_min", 0,
                            "port_max", 0));
    ck_assert_msg(pl.f.p != NULL, "refused: %s", refusal(&pl));
    char id[96];
    instance_id("auto", id, sizeof id);
    dm_runtime_status_t st = { 0 };
    provision(&pl, id, site_spec(MEM_MB, 250), &st);
    json_t *http = json_object_get(st.endpoints, "http");
    json_int_t port = json_integer_value(json_object_get(http, "port"));
    ck_assert_msg(port > 0 && port < 65536, "no host port read back");
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%lld/", (long long)port);
    expect_page(url);
    dm_err_t err;
    dm_err_clear(&err);
    op_ok(pl.ops->terminate(pl.state, id, &err), &err, "terminate");
    json_decref(st.endpoints);
    close_plugin(&pl);
}
END_TEST

/* Without an engine there is nothing to test: passes only when the engine
 * was turned off on purpose (DERMAGA_TEST_PODMAN=0). */
START_TEST(no_engine_configured)
{
    dm_docker_test_engine_off("test_runtime_docker");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("runtime_docker");
    TCase *off = tcase_create("no_engine");
    tcase_add_test(off, bad_config_is_refused);
    tcase_add_test(off, unreachable_engine_is_unavailable);
    suite_add_tcase(s, off);
    TCase *tc = tcase_create("engine");
    if (dm_docker_test_host() == NULL) {
        tcase_add_test(tc, no_engine_configured);
    } else {
        tcase_add_unchecked_fixture(tc, setup_engine, teardown_engine);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, full_lifecycle);
        tcase_add_test(tc, changed_spec_recreates);
        tcase_add_test(tc, unknown_instance_is_absent);
        tcase_add_test(tc, bad_specs_and_ids_are_refused);
        tcase_add_test(tc, concurrent_provisions_make_one_container);
        tcase_add_test(tc, engine_picked_port_is_read_back);
    }
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
