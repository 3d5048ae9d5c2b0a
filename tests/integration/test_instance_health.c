/*
 * test_instance_health.c — the "instances.health" checks (core/jobs/
 * instance_health.c) against a real PostgreSQL and, for the probes, the real
 * runtime-docker plugin on the private Podman ($DERMAGA_TEST_DOCKER_HOST):
 * verdicts, the history rows, the stale-verdict guard, the batch order and
 * the periodic registration. Instance rows are written by SQL.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include "subs_fixture.h"

#include "docker_api.h"
#include "../plugins/fixtures.h"

#include "instances/instance_health.h"
#include "jobs/jobs.h"
#include "plugin/registry.h"

#define PLUGIN_SO DM_BUILD_DIR "/plugins/runtime-docker.so"
#define NO_ENGINE "unix:///tmp/dermaga-no-such-dir/docker.sock"
/* What instance rows are created with, so that a change would show. */
#define OLD_UPDATED_AT "2026-01-01 00:00:00+00"

static dm_docker_host engine;
static char owner[64];  /* dermaga.owner label of every container made here */
static fx_plugin rt;    /* runtime-docker (on the engine, or on NO_ENGINE) */
static char service_id[37], plan_id[37];

/* ---- fixtures ---- */

static void open_runtime(const char *host)
{
    fx_plugin_open(&rt, PLUGIN_SO, "runtime-docker", DM_PLUGIN_RUNTIME,
                   json_pack("{s:s, s:i}", "host", host, "stop_timeout_s", 1));
    ck_assert_msg(rt.p != NULL, "runtime-docker was refused; log:\n%s", rt.log);
}

static void setup_catalog(void)
{
    setup();
    service("site", service_id);
    plan(service_id, "basic", 0, 30, 1000, plan_id);
}

/* Checked (child): a fresh database, and runtime-docker on the engine. */
static void setup_engine_test(void)
{
    setup_catalog();
    open_runtime(dm_docker_test_host());
}

/* Checked: a fresh database, and runtime-docker on an engine that is down. */
static void setup_db_test(void)
{
    setup_catalog();
    open_runtime(NO_ENGINE);
}

static void teardown_test(void)
{
    fx_plugin_close(&rt);
    teardown();
}

/* Unchecked (parent): the owner label, and removal of what it labels even
 * after a failed test. */
static void setup_engine(void)
{
    const char *h = dm_docker_test_host();
    ck_assert_msg(h != NULL && dm_docker_host_parse(h, &engine) == 0, "%s is not a Docker host",
                  DM_DOCKER_TEST_HOST_ENV);
    snprintf(owner, sizeof owner, "dmhealth-%ld-%ld", (long)getpid(), (long)(time(NULL) % 100000));
}

static void teardown_engine(void)
{
    char label[96];
    snprintf(label, sizeof label, "dermaga.owner=%s", owner);
    dm_docker_remove_labelled(&engine, label);
}

/* n instances in status, each with its own user and subscription (one live
 * subscription per user and service); the plan's quota counts them. The
 * id of the last one into out (may be NULL). */
static void instances(int n, const char *status, char out[37])
{
    char *v = dm_test_db_scalarf(
        url,
        "WITH u AS (INSERT INTO users (email, name) SELECT 'h' || gen_random_uuid() || '@example.com', 'H' "
        "  FROM generate_series(1, %d) RETURNING id), "
        "s AS (INSERT INTO subscriptions (user_id, plan_id, service_id, status, price, billing_period_days, "
        "  start_date, current_period_start, current_period_end) SELECT u.id, '%s', '%s', 'ACTIVE', 0, 30, "
        "  now(), now(), now() + interval '30 days' FROM u RETURNING id, user_id), "
        "q AS (UPDATE plans SET used_quota = used_quota + %d WHERE id = '%s' RETURNING id), "
        "i AS (INSERT INTO instances (subscription_id, user_id, status, runtime, updated_at) "
        "  SELECT s.id, s.user_id, '%s', 'runtime-docker', '" OLD_UPDATED_AT "' FROM s, q RETURNING id) "
        "SELECT max(id::text) FROM i",
        n, plan_id, service_id, n, plan_id, status);
    ck_assert_msg(strlen(v) == 36, "creating %d %s instances: got '%s'", n, status, v);
    if (out != NULL)
        memcpy(out, v, 37);
    free(v);
}

static void set_supervision(const char *id, const char *supervision)
{
    DM_EXPECT_SQL(url, id, "UPDATE instances SET supervision = '%s'::jsonb WHERE id = '%s' RETURNING id",
                  supervision, id);
}

/* The newest history row of id: "STATUS|message". New. */
static char *last_history(const char *id)
{
    return dm_test_db_scalarf(url,
                              "SELECT status || '|' || coalesce(message, '') FROM instance_health "
                              "WHERE instance_id = '%s' ORDER BY id DESC LIMIT 1",
                              id);
}

static void expect_rows(const char *id, const char *n)
{
    DM_EXPECT_SQL(url, n, "SELECT count(*) FROM instance_health WHERE instance_id = '%s'", id);
}

/* Check id now; the verdict must be want, and so must the row. */
static void expect_check(const char *id, const char *want)
{
    char got[16] = "";
    dm_err_t err = { 0 };
    int rc = dm__instance_health_check(&db, rt.set, id, got, &err);
    ck_assert_msg(rc == 0, "check %s: rc %d (%s)", id, rc, err.msg);
    char *h = last_history(id);
    ck_assert_msg(strcmp(got, want) == 0, "check %s: %s, want %s (history: %s)", id, got, want, h);
    free(h);
    DM_EXPECT_SQL(url, want, "SELECT health_status FROM instances WHERE id = '%s'", id);
}

static void expect_last(const char *id, const char *want)
{
    char *h = last_history(id);
    ck_assert_msg(strcmp(h, want) == 0, "history of %s: '%s', want '%s'", id, h, want);
    free(h);
}

/* Only the health columns moved: status and updated_at are as created. */
static void expect_untouched(const char *id, const char *status)
{
    DM_EXPECT_SQL(url, status, "SELECT status FROM instances WHERE id = '%s'", id);
    DM_EXPECT_SQL(url, "t", "SELECT updated_at = '" OLD_UPDATED_AT "' FROM instances WHERE id = '%s'", id);
}

/* ---- the workload ---- */

static const dm_runtime_ops_t *ops(void)
{
    return dm__plugin_runtime_ops(rt.p);
}

/* Poll the runtime (at most 20 s) until id is in phase. */
static void wait_phase(const char *id, uint32_t phase)
{
    dm_runtime_status_t st = { 0 };
    for (int i = 0; i < 400; i++) {
        json_decref(st.endpoints);
        memset(&st, 0, sizeof st);
        dm_err_t err = { 0 };
        int rc = ops()->status(rt.p->state, id, &st, &err);
        ck_assert_msg(rc == 0, "status %s: %d %s", id, rc, err.msg);
        if (st.phase == phase && (phase != DM_RUNTIME_RUNNING || st.ready)) {
            json_decref(st.endpoints);
            return;
        }
        usleep(50000);
    }
    json_decref(st.endpoints);
    ck_abort_msg("%s never reached phase %u: phase %u '%s'", id, phase, st.phase, st.message);
}

/*
 * Run the static site for RUNNING instance id through the plugin, wait
 * until it serves its page, and record its endpoints as the instance jobs
 * do; the http endpoint's port into *port.
 */
static void run_site(const char *id, int *port)
{
    json_t *spec = json_pack("{s:s, s:s, s:[{s:s, s:i, s:s, s:b}], s:{s:i, s:i}}", "image",
                             DM_DOCKER_TEST_STATIC_SITE_IMAGE, "owner", owner, "ports", "name", "http", "port",
                             DM_DOCKER_TEST_STATIC_SITE_PORT, "protocol", "tcp", "public", 1, "resources",
                             "memoryMb", 64, "cpuMillicores", 250);
    ck_assert_msg(spec != NULL, "json_pack failed");
    dm_runtime_status_t st = { 0 };
    dm_err_t err = { 0 };
    int rc = ops()->provision(rt.p->state, id, spec, &st, &err);
    json_decref(spec);
    ck_assert_msg(rc == 0, "provision %s: %d %s", id, rc, err.msg);
    json_t *http = json_object_get(st.endpoints, "http");
    const char *host = json_string_value(json_object_get(http, "host"));
    *port = (int)json_integer_value(json_object_get(http, "port"));
    ck_assert_msg(host != NULL && *port > 0, "provision gave no http endpoint");
    char page[128];
    snprintf(page, sizeof page, "http://%s:%d/", host, *port);
    dm_docker_resp r = { 0 };
    ck_assert_msg(dm_docker_wait_http(page, DM_DOCKER_TEST_STATIC_SITE_MARKER, 20000, &r),
                  "GET %s never served the page: HTTP %ld %s", page, r.status, r.error);
    dm_docker_resp_free(&r);
    wait_phase(id, DM_RUNTIME_RUNNING);
    char *ep = json_dumps(st.endpoints, JSON_COMPACT);
    json_decref(st.endpoints);
    ck_assert_msg(ep != NULL, "json_dumps failed");
    DM_EXPECT_SQL(url, id, "UPDATE instances SET endpoints = '%s'::jsonb WHERE id = '%s' RETURNING id", ep, id);
    free(ep);
}

static void remove_site(const char *id)
{
    dm_err_t err = { 0 };
    int rc = ops()->terminate(rt.p->state, id, &err);
    ck_assert_msg(rc == 0 || rc == DM_ENOTFOUND, "terminate %s: %d %s", id, rc, err.msg);
}

/* A loopback port nothing listens on (bound, read, closed). */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_msg(fd >= 0, "socket failed");
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ck_assert_msg(bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
                      getsockname(fd, (struct sockaddr *)&a, &len) == 0,
                  "bind failed");
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- on the engine ---- */

/* A healthy site: HEALTHY with one history row; checking again keeps one
 * row and moves last_health_check on; status and updated_at untouched. */
START_TEST(http_probe_healthy_records_one_row)
{
    char id[37];
    int port = 0;
    instances(1, "RUNNING", id);
    run_site(id, &port);
    set_supervision(id, "{\"probe\": {\"type\": \"http\", \"port\": \"http\", \"path\": \"/\"}}");
    DM_EXPECT_SQL(url, "", "SELECT last_health_check FROM instances WHERE id = '%s'", id);
    expect_check(id, "HEALTHY");
    expect_rows(id, "1");
    expect_last(id, "HEALTHY|probe GET / answered 200");
    char *first = dm_test_db_scalarf(url, "SELECT last_health_check FROM instances WHERE id = '%s'", id);
    ck_assert_msg(first[0] != '\0', "last_health_check was not set");
    expect_check(id, "HEALTHY");
    expect_rows(id, "1");
    DM_EXPECT_SQL(url, "t", "SELECT last_health_check > '%s' FROM instances WHERE id = '%s'", first, id);
    free(first);
    expect_untouched(id, "RUNNING");
    remove_site(id);
}
END_TEST

/* A probe path that 404s: UNHEALTHY, and the change is a second row. */
START_TEST(probe_404_is_unhealthy)
{
    char id[37];
    int port = 0;
    instances(1, "RUNNING", id);
    run_site(id, &port);
    set_supervision(id, "{\"probe\": {\"type\": \"http\", \"port\": \"http\"}}"); /* path defaults to / */
    expect_check(id, "HEALTHY");
    set_supervision(id, "{\"probe\": {\"type\": \"http\", \"port\": \"http\", \"path\": \"/no-such-page\"}}");
    expect_check(id, "UNHEALTHY");
    expect_rows(id, "2");
    expect_last(id, "UNHEALTHY|probe GET /no-such-page answered 404");
    expect_check(id, "UNHEALTHY");
    expect_rows(id, "2");
    expect_untouched(id, "RUNNING");
    remove_site(id);
}
END_TEST

/* The container stopped behind Dermaga's back: UNHEALTHY from the runtime's
 * status, saying how it ended (the probe is not what decides). */
START_TEST(stopped_container_is_unhealthy)
{
    char id[37];
    int port = 0;
    instances(1, "RUNNING", id);
    run_site(id, &port);
    set_supervision(id, "{\"probe\": {\"type\": \"http\", \"port\": \"http\", \"path\": \"/\"}}");
    expect_check(id, "HEALTHY");
    dm_err_t err = { 0 };
    int rc = ops()->stop(rt.p->state, id, &err);
    ck_assert_msg(rc == 0, "stop: %d %s", rc, err.msg);
    wait_phase(id, DM_RUNTIME_STOPPED);
    expect_check(id, "UNHEALTHY");
    expect_rows(id, "2");
    char *h = last_history(id);
    ck_assert_msg(strncmp(h, "UNHEALTHY|container stopped: exited with code ", 46) == 0,
                  "history says '%s', want the container's exit", h);
    free(h);
    expect_untouched(id, "RUNNING");
    remove_site(id);
}
END_TEST

/* tcp probes: the site's port accepts (HEALTHY); a closed loopback port is
 * refused, for tcp and for http alike (UNHEALTHY, naming the address). */
START_TEST(tcp_probe_to_closed_port_is_unhealthy)
{
    char id[37], sup[256], want[128];
    int port = 0;
    instances(1, "RUNNING", id);
    run_site(id, &port);
    set_supervision(id, "{\"probe\": {\"type\": \"tcp\", \"port\": \"http\"}}");
    expect_check(id, "HEALTHY");
    snprintf(want, sizeof want, "HEALTHY|accepts connections on 127.0.0.1:%d", port);
    expect_last(id, want);

    int closed = closed_port();
    DM_EXPECT_SQL(url, id,
                  "UPDATE instances SET endpoints = endpoints || jsonb_build_object('admin', "
                  "jsonb_build_object('host', '127.0.0.1', 'port', %d)) WHERE id = '%s' RETURNING id",
                  closed, id);
    set_supervision(id, "{\"probe\": {\"type\": \"tcp\", \"port\": \"admin\"}}");
    expect_check(id, "UNHEALTHY");
    snprintf(want, sizeof want, "UNHEALTHY|connection refused on 127.0.0.1:%d", closed);
    expect_last(id, want);

    snprintf(sup, sizeof sup, "{\"probe\": {\"type\": \"http\", \"port\": \"admin\", \"path\": \"/x\"}}");
    set_supervision(id, sup);
    expect_check(id, "UNHEALTHY");
    expect_rows(id, "2"); /* UNHEALTHY → UNHEALTHY is no change */
    remove_site(id);
}
END_TEST

typedef struct checker {
    const char *id;
    int         rc;
    char        got[16];
    char        msg[DM_ERR_MSG_MAX];
} checker;

static void *check_thread(void *arg)
{
    checker *c = arg;
    dm_err_t err = { 0 };
    c->rc = dm__instance_health_check(&db, rt.set, c->id, c->got, &err);
    memcpy(c->msg, err.msg, sizeof c->msg);
    return NULL;
}

/* The instance is stopped while its probe passes: the HEALTHY verdict is
 * stale and UNKNOWN is recorded instead. Another connection holds the row
 * until the check waits for it, then changes the status and commits. */
START_TEST(status_change_during_check_records_unknown)
{
    char id[37];
    int port = 0;
    instances(1, "RUNNING", id);
    run_site(id, &port);
    set_supervision(id, "{\"probe\": {\"type\": \"http\", \"port\": \"http\", \"path\": \"/\"}}");
    dm_db other;
    dm_err_t err = { 0 };
    ck_assert_msg(dm__db_init(&other, url, 2, 10000, &err) == 0, "db init: %s", err.msg);
    ck_assert_msg(dm__db_begin(&other, &err) == 0, "begin: %s", err.msg);
    const char *p[] = { id };
    ck_assert_msg(dm__db_run(&other, "lock", "SELECT 1 FROM instances WHERE id = $1::uuid FOR UPDATE", 1, p,
                             &err) == 0,
                  "lock: %s", err.msg);
    checker c = { .id = id };
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, check_thread, &c), 0);
    dm_test_db_wait(url, "1", 20,
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'");
    ck_assert_msg(dm__db_run(&other, "stop", "UPDATE instances SET status = 'STOPPING' WHERE id = $1::uuid", 1, p,
                             &err) == 0,
                  "update: %s", err.msg);
    ck_assert_msg(dm__db_commit(&other, &err) == 0, "commit: %s", err.msg);
    pthread_join(th, NULL);
    dm__db_fini(&other);
    ck_assert_msg(c.rc == 0, "check: %d %s", c.rc, c.msg);
    ck_assert_msg(strcmp(c.got, "UNKNOWN") == 0, "a check racing a stop recorded %s", c.got);
    expect_last(id, "UNKNOWN|instance is stopping");
    DM_EXPECT_SQL(url, "UNKNOWN", "SELECT health_status FROM instances WHERE id = '%s'", id);
    remove_site(id);
}
END_TEST

/* ---- without an engine ---- */

/* Instances that are not RUNNING are UNKNOWN without asking anyone. */
START_TEST(stopped_instance_is_unknown)
{
    char id[37], pending[37];
    instances(1, "STOPPED", id);
    set_supervision(id, "{\"probe\": {\"type\": \"tcp\", \"port\": \"http\"}}");
    expect_check(id, "UNKNOWN");
    expect_rows(id, "1"); /* the first check is recorded even without a change */
    expect_last(id, "UNKNOWN|instance is stopped");
    expect_check(id, "UNKNOWN");
    expect_rows(id, "1");
    expect_untouched(id, "STOPPED");
    instances(1, "PENDING", pending);
    expect_check(pending, "UNKNOWN");
    expect_last(pending, "UNKNOWN|instance is pending");
}
END_TEST

/* A runtime that is down: UNKNOWN "runtime unavailable", quickly. */
START_TEST(runtime_down_is_unknown)
{
    char id[37];
    instances(1, "RUNNING", id);
    set_supervision(id, "{\"probe\": {\"type\": \"tcp\", \"port\": \"http\"}}");
    expect_check(id, "UNKNOWN");
    expect_last(id, "UNKNOWN|runtime unavailable");
    /* and after a HEALTHY verdict, the change is a row */
    DM_EXPECT_SQL(url, id, "UPDATE instances SET health_status = 'HEALTHY' WHERE id = '%s' RETURNING id", id);
    expect_check(id, "UNKNOWN");
    expect_rows(id, "2");
    expect_untouched(id, "RUNNING");
}
END_TEST

/* Refusals: a malformed id, an unknown one, a TERMINATED one (untouched). */
START_TEST(check_refuses_bad_and_terminated_ids)
{
    char dead[37], got[16] = "";
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__instance_health_check(&db, rt.set, "not-a-uuid", got, &err), DM_EINVAL);
    ck_assert_int_eq(dm__instance_health_check(&db, rt.set, "00000000-0000-4000-8000-000000000000", got, &err),
                     DM_ENOTFOUND);
    instances(1, "TERMINATED", dead);
    ck_assert_int_eq(dm__instance_health_check(&db, rt.set, dead, got, &err), DM_ENOTFOUND);
    DM_EXPECT_SQL(url, "", "SELECT last_health_check FROM instances WHERE id = '%s'", dead);
    expect_rows(dead, "0");
}
END_TEST

static dm_jobs_runner *runner(void)
{
    dm_jobs_runner_cfg cfg = { .conninfo = url, .threads = 1 };
    dm_err_t err = { 0 };
    dm_jobs_runner *r = dm__jobs_runner_new(&cfg, &err);
    ck_assert_msg(r != NULL, "runner: %s", err.msg);
    return r;
}

/* The periodic task turns every live instance that is not RUNNING UNKNOWN
 * at once, then probes a batch of 100 RUNNING ones, never-checked first,
 * skipping TERMINATED; the next run takes the rest; a run queues the next. */
START_TEST(periodic_run_checks_a_batch_oldest_first)
{
    char dead[37], old[37], stopped[37];
    instances(DM_INSTANCE_HEALTH_BATCH, "RUNNING", NULL);
    instances(1, "TERMINATED", dead);
    instances(1, "RUNNING", old);
    instances(1, "STOPPED", stopped);
    DM_EXPECT_SQL(url, old, "UPDATE instances SET last_health_check = now() - interval '1 day' WHERE id = '%s' "
                  "RETURNING id", old);
    DM_EXPECT_SQL(url, stopped, "UPDATE instances SET health_status = 'HEALTHY' WHERE id = '%s' RETURNING id",
                  stopped);
    dm_jobs_runner *r = runner();
    dm_err_t err = { 0 };
    ck_assert_msg(dm__instance_health_register(r, rt.set, 60, &err) == 0, "register: %s", err.msg);
    ck_assert_msg(dm__jobs_periodic_ensure(r, &db, &err) == 0, "ensure: %s", err.msg);
    ck_assert_msg(dm__jobs_run_once(r, &db, "test-node", &err) == 0, "run: %s", err.msg);
    DM_EXPECT_SQL(url, "succeeded|1", "SELECT string_agg(status || '|' || attempts, ',') FROM jobs "
                  "WHERE kind = '" DM_INSTANCE_HEALTH_TASK "' AND status <> 'queued'");
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM jobs WHERE kind = '" DM_INSTANCE_HEALTH_TASK "' "
                  "AND status = 'queued' AND run_at > now() + interval '50 s'");
    /* the never-checked hundred went first; the one checked yesterday waits */
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM instances WHERE status = 'RUNNING' AND last_health_check IS NULL");
    DM_EXPECT_SQL(url, "t", "SELECT last_health_check < now() - interval '1 hour' FROM instances WHERE id = '%s'",
                  old);
    /* the stopped one is UNKNOWN without taking a place in the batch */
    expect_last(stopped, "UNKNOWN|instance is stopped");
    DM_EXPECT_SQL(url, "101", "SELECT count(*) FROM instance_health");

    dm_job job;
    memset(&job, 0, sizeof job);
    ck_assert_msg(dm__instance_health_run(&db, &job, rt.set, &err) == 0, "second run: %s", err.msg);
    DM_EXPECT_SQL(url, "t", "SELECT last_health_check > now() - interval '1 hour' FROM instances WHERE id = '%s'",
                  old);
    expect_rows(old, "1");
    DM_EXPECT_SQL(url, "", "SELECT last_health_check FROM instances WHERE id = '%s'", dead);
    expect_rows(dead, "0");
    dm__jobs_runner_free(r);
}
END_TEST

/* No runtime plugin: nothing registered, nothing queued; a bad interval
 * is refused. */
START_TEST(register_needs_a_runtime_and_an_interval)
{
    dm_jobs_runner *r = runner();
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__instance_health_register(r, rt.set, 0, &err), DM_EINVAL);
    dm_plugin_set *none = dm__plugins_new();
    ck_assert_msg(none != NULL, "dm__plugins_new failed");
    ck_assert_msg(dm__instance_health_register(r, none, 30, &err) == 0, "register: %s", err.msg);
    ck_assert_msg(dm__jobs_periodic_ensure(r, &db, &err) == 0, "ensure: %s", err.msg);
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM jobs");
    dm__plugins_free(none);
    dm__jobs_runner_free(r);
}
END_TEST

/* Without an engine there is nothing to probe: passes only when the engine
 * was turned off on purpose (DERMAGA_TEST_PODMAN=0). */
START_TEST(no_engine_configured)
{
    dm_docker_test_engine_off("test_instance_health");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("instance_health");
    TCase *dbc = tcase_create("database");
    tcase_add_checked_fixture(dbc, setup_db_test, teardown_test);
    tcase_set_timeout(dbc, 60);
    tcase_add_test(dbc, stopped_instance_is_unknown);
    tcase_add_test(dbc, runtime_down_is_unknown);
    tcase_add_test(dbc, check_refuses_bad_and_terminated_ids);
    tcase_add_test(dbc, periodic_run_checks_a_batch_oldest_first);
    tcase_add_test(dbc, register_needs_a_runtime_and_an_interval);
    suite_add_tcase(s, dbc);
    TCase *tc = tcase_create("engine");
    if (dm_docker_test_host() == NULL) {
        tcase_add_test(tc, no_engine_configured);
    } else {
        tcase_add_unchecked_fixture(tc, setup_engine, teardown_engine);
        tcase_add_checked_fixture(tc, setup_engine_test, teardown_test);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, http_probe_healthy_records_one_row);
        tcase_add_test(tc, probe_404_is_unhealthy);
        tcase_add_test(tc, stopped_container_is_unhealthy);
        tcase_add_test(tc, tcp_probe_to_closed_port_is_unhealthy);
        tcase_add_test(tc, status_change_during_check_records_unknown);
    }
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
