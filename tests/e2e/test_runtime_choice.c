/*
 * test_runtime_choice.c — which runtime runs an instance, through the real
 * binary with two runtime plugins loaded at once: the rt_alpha and rt_beta
 * fixtures (tests/plugins/routed_runtime.c), whose workloads are files in
 * a shared folder and which log every call they get, so a test reads
 * which runtime was asked about which instance.
 *
 * An instance records the runtime it is created on (the service's catalog
 * runtime, else instances.defaultRuntime, else the first runtime plugin);
 * after a restart with another default, stop, start, logs and the health
 * checks still go to it; with its runtime not enabled they fail saying so
 * (recent logs, the SSE stream and a Socket.IO subscription included) and
 * no other runtime is asked; the orphan sweep asks every runtime; a
 * default naming no enabled runtime stops the start.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dm_test.h"
#include "e2e_instances.h"
#include "e2e_logs.h"
#include "testdb.h"
#include "../plugins/fixtures.h"

#define db_url dm_e2e_auth_db_url
#define WAIT_MS 30000

static char plugin_dir[256]; /* the .so files this suite loads */
static char state_dir[256];  /* the fixtures' workloads and call logs */

static void suite_setup(void) { dm_e2e_instances_setup("rtchoice"); }
static void suite_teardown(void) { dm_e2e_instances_teardown(); }

/* The enabled plugins: the real auth, payment and service plugins, then
 * the runtimes named (each a fixture with the shared state folder). */
static json_t *enabled(const char *const runtimes[])
{
    char services[512];
    const char *src = getenv("DERMAGA_TEST_SOURCE_DIR");
    snprintf(services, sizeof services, "%s/config/services", src != NULL && src[0] ? src : DM_SOURCE_DIR);
    json_t *e = json_pack("[{s:s},{s:s},{s:s,s:{s:s}}]", "name", "auth-local", "name", "payment-manual", "name",
                          "service-template", "config", "dir", services);
    for (size_t i = 0; runtimes[i] != NULL; i++)
        json_array_append_new(e, json_pack("{s:s,s:{s:s}}", "name", runtimes[i], "config", "dir", state_dir));
    ck_assert_ptr_nonnull(e);
    return e;
}

static void setup(void)
{
    dm_e2e_instances_plugin_dir(plugin_dir, sizeof plugin_dir);
    fx_mkdtemp(state_dir, sizeof state_dir);
    fx_install(plugin_dir, "rt_alpha");
    fx_install(plugin_dir, "rt_beta");
    const char *const both[] = { "rt_alpha", "rt_beta", NULL };
    /* The health checks and the reconciler every second, so their calls
     * show up within a test. */
    json_t *extra = json_pack("{s:{s:s,s:o},s:{s:s,s:i,s:i}}", "plugins", "dir", plugin_dir, "enabled",
                              enabled(both), "instances", "defaultRuntime", "rt_alpha", "healthEveryS", 1,
                              "reconcileEveryS", 1);
    dm_e2e_instances_opts o = { .with_service = true, .extra = extra };
    dm_e2e_instances_start(&o);
}

static void teardown(void)
{
    dm_e2e_instances_stop();
    fx_rmdir(plugin_dir);
    fx_rmdir(state_dir);
}

/* Restart the server with instances.defaultRuntime set to def and only the
 * runtimes named enabled. */
static void restart_with(const char *def, const char *const runtimes[])
{
    json_error_t je;
    json_t *cfg = json_load_file(dm_e2e_auth_srv.config_path, 0, &je);
    ck_assert_msg(cfg != NULL, "cannot read %s: %s", dm_e2e_auth_srv.config_path, je.text);
    json_object_set_new(json_object_get(cfg, "instances"), "defaultRuntime", json_string(def));
    json_object_set_new(json_object_get(cfg, "plugins"), "enabled", enabled(runtimes));
    int st = dm_e2e_server_stop(&dm_e2e_auth_srv, SIGTERM, 15000);
    ck_assert_msg(dm_e2e_exited_0(st), "the server must stop cleanly: %s", dm_e2e_describe_status(st));
    dm_e2e_server_free(&dm_e2e_auth_srv);
    dm_e2e_server_start(&dm_e2e_auth_srv, cfg);
}

/* Whether runtime's call log has the line "<op> <id>". */
static bool was_called(const char *runtime, const char *op, const char *id)
{
    char path[512], want[128], line[256];
    snprintf(path, sizeof path, "%s/%s.calls", state_dir, runtime);
    snprintf(want, sizeof want, "%s %s\n", op, id);
    FILE *f = fopen(path, "r");
    bool found = false;
    while (f != NULL && !found && fgets(line, sizeof line, f) != NULL)
        found = strcmp(line, want) == 0;
    if (f != NULL)
        fclose(f);
    return found;
}

/* Whether runtime's call log mentions id at all. */
static bool ever_asked(const char *runtime, const char *id)
{
    char path[512], line[256];
    snprintf(path, sizeof path, "%s/%s.calls", state_dir, runtime);
    FILE *f = fopen(path, "r");
    bool found = false;
    while (f != NULL && !found && fgets(line, sizeof line, f) != NULL)
        found = strstr(line, id) != NULL;
    if (f != NULL)
        fclose(f);
    return found;
}

static void wait_called(const char *runtime, const char *op, const char *id)
{
    for (long long end = dm_e2e_now_ms() + WAIT_MS; dm_e2e_now_ms() <= end; dm_e2e_nap_ms(50))
        if (was_called(runtime, op, id))
            return;
    ck_abort_msg("%s was never asked to %s %s", runtime, op, id);
}

static void put_op(const char *tok, const char *inst, const char *op)
{
    char path[160];
    snprintf(path, sizeof path, "/api/instances/%s/%s", inst, op);
    dm_e2e_instances_op("PUT", tok, path, NULL, 202);
}

/* The recent log's first line. */
static char *first_log_line(const char *tok, const char *inst)
{
    char path[160];
    snprintf(path, sizeof path, "/api/instances/%s/logs", inst);
    dm_e2e_response res;
    dm_e2e_auth_call("GET", path, tok, NULL, &res);
    json_t *d = dm_e2e_auth_ok_data(&res, 200, "logs");
    char *line = strdup(dm_e2e_jstr(d, "lines.0.line"));
    json_decref(d);
    dm_e2e_response_free(&res);
    return line;
}

static char *admin_token(void) { return dm_e2e_auth_login(DM_E2E_ADMIN_EMAIL, DM_E2E_ADMIN_PASS); }

/* Set the static-site service's catalog runtime through the admin API
 * (value is JSON: "\"rt_beta\"" or "null"); the service is made first. */
static void set_service_runtime(const char *value)
{
    free(dm_e2e_instances_site_plan());
    char *id = dm_test_db_scalarf(db_url, "SELECT id FROM services WHERE slug = 'static-site'");
    char *admin = admin_token();
    char path[128], body[128];
    snprintf(path, sizeof path, "/api/admin/services/%s", id);
    snprintf(body, sizeof body, "{\"runtime\":%s}", value);
    dm_e2e_response res;
    dm_e2e_auth_call("PUT", path, admin, body, &res);
    json_t *d = dm_e2e_auth_ok_data(&res, 200, "service update");
    json_t *rt = json_object_get(d, "runtime");
    if (strcmp(value, "null") == 0)
        ck_assert_msg(json_is_null(rt), "runtime must be cleared: %s", res.body);
    else
        ck_assert_msg(json_is_string(rt) && strstr(value, json_string_value(rt)) != NULL, "runtime: %s", res.body);
    json_decref(d);
    dm_e2e_response_free(&res);
    free(admin);
    free(id);
}

/* Subscribe email; its instance must come up RUNNING on runtime, which
 * provisioned it, and other must never have been asked about it. The
 * token (new string). */
static char *running_on(const char *email, const char *runtime, const char *other, char sub[37], char inst[37])
{
    char *tok = dm_e2e_instances_subscribe(email, sub, inst);
    json_t *d = dm_e2e_instances_wait(tok, inst, "RUNNING");
    ck_assert_str_eq(dm_e2e_jstr(d, "runtime"), runtime);
    json_decref(d);
    ck_assert_msg(was_called(runtime, "provision", inst), "%s did not provision %s", runtime, inst);
    ck_assert_msg(!ever_asked(other, inst), "%s was asked about an instance of %s", other, runtime);
    return tok;
}

/* One Engine.IO long-polling request (sid NULL: the handshake); the body
 * (new string). */
static char *eio(const char *method, const char *sid, const char *body)
{
    char path[160];
    snprintf(path, sizeof path, "/socket.io/?EIO=4&transport=polling%s%s", sid != NULL ? "&sid=" : "",
             sid != NULL ? sid : "");
    dm_e2e_response res;
    dm_e2e_auth_call_raw(method, path, NULL, "text/plain;charset=UTF-8", body, &res);
    ck_assert_msg(res.status == 200, "%s %s: %d %s", method, path, res.status, res.body);
    char *out = strdup(res.body);
    dm_e2e_response_free(&res);
    return out;
}

/* Poll sid until what has arrived holds needle; all of it (new string). */
static char *eio_until(const char *sid, const char *needle)
{
    char *all = strdup("");
    for (int round = 0; round < 8 && strstr(all, needle) == NULL; round++) {
        char *got = eio("GET", sid, NULL);
        size_t n = strlen(all) + strlen(got) + 2;
        char *more = malloc(n);
        ck_assert_ptr_nonnull(more);
        snprintf(more, n, "%s\n%s", all, got);
        free(all);
        free(got);
        all = more;
    }
    ck_assert_msg(strstr(all, needle) != NULL, "no %s arrived: %s", needle, all);
    return all;
}

/* A Socket.IO subscription to inst's live log on /k8s-logs, by tok: what
 * the server sent up to the subscription's ack (new string). */
static char *sio_subscribe(const char *tok, const char *inst)
{
    char *open = eio("GET", NULL, NULL);
    json_t *j = json_loads(open + 1, 0, NULL);
    char sid[32];
    snprintf(sid, sizeof sid, "%s", json_string_value(json_object_get(j, "sid")));
    json_decref(j);
    free(open);
    char body[1024];
    snprintf(body, sizeof body, "40/k8s-logs,{\"token\":\"%s\"}", tok);
    free(eio("POST", sid, body));
    free(eio_until(sid, "40/k8s-logs,"));
    snprintf(body, sizeof body, "42/k8s-logs,7[\"subscribe-logs\",{\"instanceId\":\"%s\"}]", inst);
    free(eio("POST", sid, body));
    return eio_until(sid, "43/k8s-logs,7");
}

/* ---- tests ------------------------------------------------------------- */

/* Created on the default (rt_alpha); the default becomes rt_beta and the
 * server restarts: stop, start, logs and the health checks still go to
 * rt_alpha, never to rt_beta; a new instance goes to rt_beta. */
START_TEST(an_instance_keeps_its_runtime_when_the_default_changes)
{
    char sub[37], inst[37];
    char *tok = running_on("keeps@example.id", "rt_alpha", "rt_beta", sub, inst);

    /* rt_beta also loads first now: "the first runtime" is no longer rt_alpha either. */
    const char *const both[] = { "rt_beta", "rt_alpha", NULL };
    restart_with("rt_beta", both);
    put_op(tok, inst, "stop");
    json_decref(dm_e2e_instances_wait(tok, inst, "STOPPED"));
    put_op(tok, inst, "start");
    json_decref(dm_e2e_instances_wait(tok, inst, "RUNNING"));
    char *line = first_log_line(tok, inst);
    ck_assert_str_eq(line, "rt_alpha says hello");
    free(line);
    /* The live log follows it on rt_alpha too. */
    char path[160];
    dm_e2e_logs_path(path, sizeof path, inst, "?tail=10");
    dm_e2e_conn c;
    dm_e2e_logs_open_ok(&c, path, tok, NULL);
    json_decref(dm_e2e_logs_wait_line(&c, inst, "rt_alpha says hello", DM_E2E_LOGS_EVENT_MS, NULL));
    dm_e2e_close(&c);
    ck_assert(was_called("rt_alpha", "follow", inst));
    wait_called("rt_alpha", "status", inst); /* the health checks ask too */
    ck_assert(was_called("rt_alpha", "stop", inst));
    ck_assert(was_called("rt_alpha", "start", inst));
    ck_assert(was_called("rt_alpha", "logs", inst));
    ck_assert_msg(!ever_asked("rt_beta", inst), "rt_beta was asked about an instance of rt_alpha");
    DM_EXPECT_SQL(db_url, "rt_alpha", "SELECT runtime FROM instances WHERE id = '%s'", inst);

    char sub2[37], inst2[37];
    char *tok2 = running_on("newer@example.id", "rt_beta", "rt_alpha", sub2, inst2);
    free(tok);
    free(tok2);
}
END_TEST

/* The service's catalog runtime wins over the default; clearing it gives
 * the default back to new instances only. */
START_TEST(the_service_runtime_wins_over_the_default)
{
    set_service_runtime("\"rt_beta\"");
    char sub[37], inst[37];
    char *tok = running_on("svc@example.id", "rt_beta", "rt_alpha", sub, inst);

    set_service_runtime("null");
    put_op(tok, inst, "restart");
    json_decref(dm_e2e_instances_wait(tok, inst, "RUNNING"));
    ck_assert(was_called("rt_beta", "restart", inst));
    ck_assert_msg(!ever_asked("rt_alpha", inst), "rt_alpha was asked after the service's runtime was cleared");

    /* A malformed name is refused with the field named. */
    char *id = dm_test_db_scalarf(db_url, "SELECT id FROM services WHERE slug = 'static-site'");
    char *admin = admin_token();
    char path[128];
    snprintf(path, sizeof path, "/api/admin/services/%s", id);
    dm_e2e_response res;
    dm_e2e_auth_call("PUT", path, admin, "{\"runtime\":\"Bad/Name\"}", &res);
    ck_assert_msg(res.status == 400 && strstr(res.body, "runtime") != NULL, "bad runtime: %d %s", res.status,
                  res.body);
    dm_e2e_response_free(&res);
    free(admin);
    free(id);
    free(tok);
}
END_TEST

/* rt_alpha is no longer enabled: its instance's logs answer 503 naming
 * it, its stop ends in ERROR saying so, its health is UNKNOWN saying so,
 * the reconciler leaves it alone, and rt_beta is never asked in its
 * place. A service naming a runtime that is not enabled fails its
 * provision the same way. */
START_TEST(an_instance_whose_runtime_is_not_enabled_says_so)
{
    char sub[37], inst[37];
    char *tok = running_on("gone@example.id", "rt_alpha", "rt_beta", sub, inst);

    const char *const beta[] = { "rt_beta", NULL };
    restart_with("", beta);
    char path[160];
    snprintf(path, sizeof path, "/api/instances/%s/logs", inst);
    dm_e2e_response res;
    dm_e2e_auth_call("GET", path, tok, NULL, &res);
    dm_e2e_auth_expect_error(&res, 503, "RUNTIME_UNAVAILABLE", "logs of an instance whose runtime is gone");
    ck_assert_msg(strstr(res.body, "runtime rt_alpha is not enabled") != NULL, "logs: %s", res.body);
    dm_e2e_response_free(&res);
    /* The live log is refused before it opens, for the same reason. */
    dm_e2e_logs_path(path, sizeof path, inst, "");
    dm_e2e_auth_call("GET", path, tok, NULL, &res);
    dm_e2e_auth_expect_error(&res, 503, "RUNTIME_UNAVAILABLE", "live log of an instance whose runtime is gone");
    ck_assert_msg(strstr(res.body, "runtime rt_alpha is not enabled") != NULL, "stream: %s", res.body);
    dm_e2e_response_free(&res);
    char *sio = sio_subscribe(tok, inst);
    ck_assert_msg(strstr(sio, "\"success\":false") != NULL && strstr(sio, "runtime rt_alpha is not enabled") != NULL,
                  "Socket.IO subscription: %s", sio);
    free(sio);
    /* The health checks (every second) say why; the reconciler (every
     * second too) does not take it for a vanished workload. A history row
     * is written when the health changes or there is none: the verdict
     * before the restart may have been UNKNOWN already (the fixture
     * reports no endpoints to probe), so start the history afresh. */
    free(dm_test_db_scalarf(db_url, "WITH d AS (DELETE FROM instance_health WHERE instance_id = '%s' RETURNING 1) "
                                    "SELECT count(*) FROM d", inst));
    for (long long end = dm_e2e_now_ms() + WAIT_MS; dm_e2e_now_ms() <= end; dm_e2e_nap_ms(100)) {
        char *n = dm_test_db_scalarf(db_url, "SELECT count(*) FROM instance_health WHERE instance_id = '%s' "
                                             "AND message = 'runtime rt_alpha is not enabled'", inst);
        bool seen = strcmp(n, "0") != 0;
        free(n);
        if (seen)
            break;
    }
    DM_EXPECT_SQL(db_url, "UNKNOWN|runtime rt_alpha is not enabled",
                  "SELECT status || '|' || message FROM instance_health WHERE instance_id = '%s' "
                  "ORDER BY id DESC LIMIT 1", inst);
    DM_EXPECT_SQL(db_url, "RUNNING", "SELECT status FROM instances WHERE id = '%s'", inst);

    put_op(tok, inst, "stop");
    dm_e2e_instances_wait_sql(inst, "ERROR");
    DM_EXPECT_SQL(db_url, "runtime rt_alpha is not enabled", "SELECT message FROM instances WHERE id = '%s'", inst);
    ck_assert_msg(!ever_asked("rt_beta", inst), "rt_beta was asked in the place of rt_alpha");

    set_service_runtime("\"rt_gamma\"");
    char sub2[37], inst2[37];
    char *tok2 = dm_e2e_instances_subscribe("gamma@example.id", sub2, inst2);
    dm_e2e_instances_wait_sql(inst2, "ERROR");
    DM_EXPECT_SQL(db_url, "runtime rt_gamma is not enabled", "SELECT message FROM instances WHERE id = '%s'", inst2);
    ck_assert_msg(!ever_asked("rt_beta", inst2), "rt_beta was asked in the place of rt_gamma");
    free(tok);
    free(tok2);
}
END_TEST

/* A workload of this installation on rt_beta whose instance does not
 * exist is removed, though every instance runs on rt_alpha: the orphan
 * sweep asks every runtime plugin. */
START_TEST(the_orphan_sweep_asks_every_runtime)
{
    char *owner = dm_test_db_scalarf(db_url, "SELECT id FROM installation");
    const char *orphan = "0b5e7e7a-0000-4000-8000-00000000beef";
    char path[512];
    snprintf(path, sizeof path, "%s/rt_beta.%s", state_dir, orphan);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "running %s\n", owner);
    fclose(f);
    wait_called("rt_beta", "terminate", orphan);
    ck_assert(was_called("rt_alpha", "workloads", owner));
    ck_assert_msg(access(path, F_OK) != 0, "the orphan is still there");
    free(owner);
}
END_TEST

/* instances.defaultRuntime naming a runtime that is not enabled stops the
 * start with a message naming the key and the runtime. */
START_TEST(a_default_runtime_that_is_not_enabled_stops_the_start)
{
    json_error_t je;
    json_t *cfg = json_load_file(dm_e2e_auth_srv.config_path, 0, &je);
    ck_assert_ptr_nonnull(cfg);
    json_object_set_new(json_object_get(cfg, "instances"), "defaultRuntime", json_string("rt_gamma"));
    char conf[512], log[512];
    snprintf(conf, sizeof conf, "%s/bad.json", state_dir);
    snprintf(log, sizeof log, "%s/bad.log", state_dir);
    ck_assert_int_eq(json_dump_file(cfg, conf, JSON_INDENT(1)), 0);
    json_decref(cfg);
    const char *bin = getenv("DERMAGA_TEST_BIN");
    if (bin == NULL || bin[0] == '\0')
        bin = DM_BUILD_DIR "/dermaga";
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execl(bin, bin, "serve", "--config", conf, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    for (long long end = dm_e2e_now_ms() + WAIT_MS; dm_e2e_now_ms() <= end; dm_e2e_nap_ms(50))
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
    if (kill(pid, 0) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ck_abort_msg("the server started with a default runtime that is not enabled");
    }
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0, "exit status %d", status);
    FILE *f = fopen(log, "r");
    ck_assert_ptr_nonnull(f);
    char buf[8192] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    ck_assert_msg(strstr(buf, "instances.defaultRuntime: rt_gamma is not an enabled runtime plugin") != NULL,
                  "the message must name the key and the runtime: %s", buf);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("runtime_choice");
    TCase *tc = tcase_create("two_runtimes");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, an_instance_keeps_its_runtime_when_the_default_changes);
    tcase_add_test(tc, the_service_runtime_wins_over_the_default);
    tcase_add_test(tc, an_instance_whose_runtime_is_not_enabled_says_so);
    tcase_add_test(tc, the_orphan_sweep_asks_every_runtime);
    tcase_add_test(tc, a_default_runtime_that_is_not_enabled_stops_the_start);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
