/*
 * test_start_checks.c — what the binary makes of its configuration before
 * it serves, through the real binary: a refused enabled plugin stops
 * `serve` before it binds unless plugins.optional lists it (then /readyz
 * says "degraded" and names it); plugins.optional naming no enabled plugin
 * is a configuration error; `dermaga check` and `dermaga doctor` report and
 * exit as documented (docs/cli.md); SIGHUP reopens logFile after a
 * rotation and never stops the server.
 */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "dm_test.h"
#include "docker_api.h"
#include "e2e.h"
#include "e2e_run.h"
#include "k8s_fake.h"
#include "k8s_kubeconfig.h"
#include "midtrans_sim.h"
#include "testdb.h"

#define SECRET "e2e-test-secret-of-more-than-32-bytes"
#define REFUSED_DB "postgresql://postgres@127.0.0.1:1/postgres"

extern char **environ;

/* A configuration for port: loopback, the database url, the plugins
 * (stolen), and what extra holds (stolen, may be NULL) merged over it. */
static json_t *config(int port, const char *url, json_t *enabled, json_t *extra)
{
    json_t *c = json_pack("{s:{s:s,s:i,s:i},s:{s:s,s:i,s:b,s:s},s:{s:s},s:{s:o}}", "server", "listen",
                          "127.0.0.1", "port", port, "shutdownGraceMs", 5000, "database", "url", url,
                          "connectTimeoutS", 2, "migrateOnStart", 0, "migrationsDir", DM_SOURCE_DIR "/migrations",
                          "auth", "jwtSecret", SECRET, "plugins", "enabled", enabled);
    ck_assert_ptr_nonnull(c);
    if (extra != NULL) {
        ck_assert_int_eq(json_object_update_recursive(c, extra), 0);
        json_decref(extra);
    }
    return c;
}

/* auth-local, payment-manual and, when given, one more plugin entry. */
static json_t *enabled(json_t *more)
{
    json_t *e = json_pack("[{s:s},{s:s}]", "name", "auth-local", "name", "payment-manual");
    if (more != NULL)
        json_array_append_new(e, more);
    return e;
}

static void write_config(const char *path, json_t *cfg)
{
    ck_assert_msg(json_dump_file(cfg, path, JSON_INDENT(1)) == 0, "cannot write %s", path);
    json_decref(cfg);
}

/* `dermaga serve --config conf` with stdout and stderr into console, as s
 * (whose output helpers read s->log_path: log), so e2e.h stops and waits
 * for it. DERMAGA_* variables are dropped so the file alone decides. */
static void spawn_serve(dm_e2e_server *s, const char *dir, const char *conf, const char *console, const char *log,
                        int port)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    snprintf(s->config_path, sizeof s->config_path, "%s", conf);
    snprintf(s->log_path, sizeof s->log_path, "%s", log);
    s->port = port;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        for (size_t i = 0; environ[i] != NULL;) {
            char name[128];
            size_t n = strcspn(environ[i], "=");
            snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), environ[i]);
            if (strncmp(name, "DERMAGA_", 8) == 0 && strncmp(name, "DERMAGA_TEST_", 13) != 0)
                unsetenv(name);
            else
                i++;
        }
        int fd = open(console, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execl(dm_e2e_binary(), dm_e2e_binary(), "serve", "--config", conf, (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
}

/* The last 1500 bytes of s: enough for an assert message (Check refuses
 * longer ones). */
static const char *tail(const char *s)
{
    size_t n = strlen(s);
    return n > 1500 ? s + n - 1500 : s;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return strdup("");
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strdup(buf);
}

/* ---- a refused enabled plugin ------------------------------------------- */

/* payment-absent has no file: the start stops before the port is bound
 * (the server never logs that it listens, and the port refuses), naming
 * the plugin, the reason and plugins.optional. */
START_TEST(a_refused_enabled_plugin_stops_the_start_before_binding)
{
    char *dir = dm_test_mkdtemp("dm-start-refused");
    char conf[PATH_MAX], console[PATH_MAX];
    snprintf(conf, sizeof conf, "%s/config.json", dir);
    snprintf(console, sizeof console, "%s/console.log", dir);
    int port = dm_e2e_free_port();
    write_config(conf, config(port, REFUSED_DB, enabled(json_pack("{s:s}", "name", "payment-absent")), NULL));
    dm_e2e_server s;
    spawn_serve(&s, dir, conf, console, console, port);
    int st = dm_e2e_server_wait_exit(&s, 30000);
    char *out = read_text(console);
    ck_assert_msg(st != -1, "the server must not start with a refused enabled plugin: %s", tail(out));
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "exit 1 expected, got %s: %s", dm_e2e_describe_status(st),
                  tail(out));
    ck_assert_msg(strstr(out, "plugin payment-absent refused: file not found") != NULL
                      && strstr(out, "plugins.optional") != NULL && strstr(out, "not starting") != NULL,
                  "the reason must name the plugin, why and the way out: %s", tail(out));
    ck_assert_msg(strstr(out, "listening on") == NULL, "the port must never have been bound: %s", tail(out));
    dm_e2e_conn c;
    ck_assert_msg(dm_e2e_connect(&c, port) != 0, "nothing may listen on %d", port);
    free(out);
    dm_e2e_server_free(&s);
    free(dir);
}
END_TEST

/* The same plugin listed in plugins.optional: the server serves, and
 * /readyz answers 200 "degraded" naming it and why. */
START_TEST(an_optional_refused_plugin_serves_degraded)
{
    char *url = dm_test_db_create("start_degraded");
    json_t *extra = json_pack("{s:{s:s},s:{s:o,s:[s]}}", "database", "url", url, "plugins", "enabled",
                              enabled(json_pack("{s:s}", "name", "payment-absent")), "optional", "payment-absent");
    dm_e2e_server s;
    dm_e2e_server_start(&s, extra);
    dm_e2e_response res;
    dm_e2e_roundtrip_ok(s.port, "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n", &res);
    ck_assert_msg(res.status == 200, "/readyz: %d %s", res.status, res.body);
    json_t *doc = dm_e2e_json(&res);
    json_t *data = json_object_get(doc, "data");
    ck_assert_str_eq(json_string_value(json_object_get(data, "status")), "degraded");
    ck_assert_str_eq(json_string_value(json_object_get(data, "database")), "ok");
    ck_assert_int_eq(json_integer_value(json_object_get(data, "plugins")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(data, "pluginsRefused")), 1);
    json_t *r0 = json_array_get(json_object_get(data, "refused"), 0);
    ck_assert_msg(json_array_size(json_object_get(data, "refused")) == 1, "one refused: %s", res.body);
    ck_assert_str_eq(json_string_value(json_object_get(r0, "name")), "payment-absent");
    ck_assert_str_eq(json_string_value(json_object_get(r0, "reason")), "file not found");
    json_decref(doc);
    dm_e2e_response_free(&res);
    dm_e2e_server_finish(&s);
    dm_e2e_server_free(&s);
    dm_test_db_drop(url);
    free(url);
}
END_TEST

/* ---- check ------------------------------------------------------------- */

/* `dermaga <command> --config <dir>/config.json` with cfg written there. */
static int run_with(const char *command, json_t *cfg, char **out)
{
    char *dir = dm_test_mkdtemp("dm-check");
    char conf[PATH_MAX];
    snprintf(conf, sizeof conf, "%s/config.json", dir);
    write_config(conf, cfg);
    const char *const args[] = { command, "--config", conf, NULL };
    const char *const env[] = { NULL };
    int rc = dm_e2e_run(out, env, args);
    unlink(conf);
    rmdir(dir);
    free(dir);
    return rc;
}

/* Needs no database (it points at a closed port) and binds nothing. */
START_TEST(check_passes_a_good_configuration)
{
    char *out = NULL;
    int port = dm_e2e_free_port();
    int rc = run_with("check", config(port, REFUSED_DB, enabled(NULL), NULL), &out);
    ck_assert_msg(rc == 0, "check of a good configuration: exit 0 expected, got %d: %s", rc, tail(out));
    ck_assert_msg(strstr(out, "ok    config: ") != NULL && strstr(out, "ok    plugin auth-local: auth") != NULL
                      && strstr(out, "ok    plugin payment-manual: payment") != NULL
                      && strstr(out, "init ok") != NULL && strstr(out, "check: ok\n") != NULL,
                  "one line per item and the summary: %s", tail(out));
    ck_assert_msg(strstr(out, "FAIL") == NULL && strstr(out, "listening on") == NULL, "%s", tail(out));
    free(out);
}
END_TEST

/* A plugin config key the plugin does not declare: check fails naming
 * the plugin and the key; so does a missing plugin file, and optional
 * turns it into a warning. */
START_TEST(check_names_a_bad_plugin_config_key)
{
    char *out = NULL;
    json_t *bad = json_pack("[{s:s},{s:s,s:{s:i}}]", "name", "auth-local", "name", "payment-manual", "config",
                            "bogus_key", 1);
    int rc = run_with("check", config(dm_e2e_free_port(), REFUSED_DB, bad, NULL), &out);
    ck_assert_msg(rc == 1, "a bad plugin config key: exit 1 expected, got %d: %s", rc, tail(out));
    ck_assert_msg(strstr(out, "FAIL  plugin payment-manual: plugin payment-manual refused:") != NULL
                      && strstr(out, "bogus_key") != NULL && strstr(out, "check: 1 problem(s)") != NULL,
                  "the line must name the plugin and the key: %s", tail(out));
    ck_assert_msg(strstr(out, "ok    plugin auth-local") != NULL, "the good plugin is still reported: %s", tail(out));
    free(out);

    json_t *opt = json_pack("{s:{s:[s]}}", "plugins", "optional", "payment-absent");
    rc = run_with("check", config(dm_e2e_free_port(), REFUSED_DB,
                                  enabled(json_pack("{s:s}", "name", "payment-absent")), opt), &out);
    ck_assert_msg(rc == 0 && strstr(out, "WARN  plugin payment-absent: refused: file not found (optional") != NULL
                      && strstr(out, "check: ok (with warnings)") != NULL,
                  "an optional refused plugin is a warning: exit 0, got %d: %s", rc, tail(out));
    free(out);
}
END_TEST

/* plugins.optional naming a plugin that is not enabled is refused like
 * any bad key: exit 2 naming the entry, by check and by serve. */
START_TEST(optional_must_name_an_enabled_plugin)
{
    const char *commands[] = { "check", "serve" };
    for (size_t i = 0; i < 2; i++) {
        char *out = NULL;
        json_t *opt = json_pack("{s:{s:[s]}}", "plugins", "optional", "payment-nope");
        int rc = run_with(commands[i], config(dm_e2e_free_port(), REFUSED_DB, enabled(NULL), opt), &out);
        ck_assert_msg(rc == 2 && strstr(out, "\"plugins.optional[0]\": \"payment-nope\" is not an enabled plugin")
                                     != NULL,
                      "%s: exit 2 naming plugins.optional[0], got %d: %s", commands[i], rc, tail(out));
        free(out);
    }
}
END_TEST

/* ---- doctor ------------------------------------------------------------ */

/* The database on a closed port: doctor names it, says what to check,
 * and never prints the password in the URL. A runtime engine that is not
 * there fails its own line. */
START_TEST(doctor_names_an_unreachable_database_and_engine)
{
    char *out = NULL;
    json_t *rt = json_pack("{s:s,s:{s:s}}", "name", "runtime-docker", "config", "host", "unix:///nonexistent/d.sock");
    int rc = run_with("doctor", config(dm_e2e_free_port(), "postgresql://dmuser:s3cret-pw@127.0.0.1:1/dmdb",
                                       enabled(rt), NULL), &out);
    ck_assert_msg(rc == 1, "doctor with the database down: exit 1 expected, got %d: %s", rc, tail(out));
    ck_assert_msg(strstr(out, "FAIL  database: unreachable at dmuser@127.0.0.1:1/dmdb") != NULL
                      && strstr(out, "is PostgreSQL running") != NULL && strstr(out, "check database.url") != NULL,
                  "the database line must say where and what to check: %s", tail(out));
    ck_assert_msg(strstr(out, "FAIL  reach runtime-docker: the engine did not answer") != NULL,
                  "the engine's line: %s", tail(out));
    ck_assert_msg(strstr(out, "s3cret-pw") == NULL, "the password must never be printed: %s", tail(out));
    ck_assert_msg(strstr(out, "doctor: 2 problem(s)") != NULL, "summary: %s", tail(out));
    free(out);
}
END_TEST

/* PostgreSQL migrated, Podman answering: everything ok, exit 0. */
START_TEST(doctor_passes_when_everything_answers)
{
    const char *host = dm_docker_test_host();
    ck_assert_msg(host != NULL, "no container engine for the test (source /work/devenv.sh)");
    char *url = dm_test_db_create_migrated("doctor_ok");
    char *out = NULL;
    json_t *rt = json_pack("{s:s,s:{s:s}}", "name", "runtime-docker", "config", "host", host);
    int rc = run_with("doctor", config(dm_e2e_free_port(), url, enabled(rt), NULL), &out);
    ck_assert_msg(rc == 0, "doctor with everything up: exit 0 expected, got %d: %s", rc, tail(out));
    ck_assert_msg(strstr(out, "ok    database: ") != NULL && strstr(out, "ok    migrations: ") != NULL
                      && strstr(out, "none pending") != NULL
                      && strstr(out, "ok    reach runtime-docker: the engine answered") != NULL
                      && strstr(out, "ok    reach payment-manual: no gateway to reach") != NULL
                      && strstr(out, "doctor: ok\n") != NULL,
                  "every item ok: %s", tail(out));
    free(out);
    /* A fresh database: every migration pending. */
    dm_test_db_drop(url);
    free(url);
    url = dm_test_db_create("doctor_pending");
    rt = json_pack("{s:s,s:{s:s}}", "name", "runtime-docker", "config", "host", host);
    rc = run_with("doctor", config(dm_e2e_free_port(), url, enabled(rt), NULL), &out);
    ck_assert_msg(rc == 1 && strstr(out, "FAIL  migrations: ") != NULL && strstr(out, "pending; run `dermaga migrate`")
                                 != NULL,
                  "a fresh database has every migration pending: exit 1, got %d: %s", rc, tail(out));
    free(out);
    dm_test_db_drop(url);
    free(url);
}
END_TEST

/* payment-midtrans against the simulator: asked for an order it does not
 * know, the gateway answers (ok); with a key it refuses, the line says to
 * check the key, which is never printed. */
START_TEST(doctor_reaches_the_payment_gateway)
{
    dm_midtrans_sim *sim = dm_midtrans_sim_start("SB-Mid-server-doctor-key");
    ck_assert_ptr_nonnull(sim);
    const char *keys[] = { "SB-Mid-server-doctor-key", "SB-Mid-server-wrong-key" };
    for (int i = 0; i < 2; i++) {
        json_t *mt = json_pack("{s:s,s:{s:s,s:s,s:s}}", "name", "payment-midtrans", "config", "server_key", keys[i],
                               "snap_base_url", dm_midtrans_sim_snap_base(sim), "api_base_url",
                               dm_midtrans_sim_api_base(sim));
        char *out = NULL;
        int rc = run_with("doctor", config(dm_e2e_free_port(), REFUSED_DB, enabled(mt), NULL), &out);
        ck_assert_int_eq(rc, 1); /* the database is down either way */
        if (i == 0)
            ck_assert_msg(strstr(out, "ok    reach payment-midtrans: the gateway answered") != NULL, "%s", tail(out));
        else
            ck_assert_msg(strstr(out, "FAIL  reach payment-midtrans: the gateway answered but refused our "
                                      "credentials") != NULL && strstr(out, "check the key") != NULL,
                          "%s", tail(out));
        ck_assert_msg(strstr(out, keys[i]) == NULL, "the server key must never be printed: %s", tail(out));
        free(out);
    }
    dm_midtrans_sim_stop(sim);
}
END_TEST

/* runtime-kubernetes against the fake API server: listing its namespace's
 * workloads answers (ok); with a token the API server refuses, the line
 * fails with the plugin's reason. */
START_TEST(doctor_reaches_the_kubernetes_api)
{
    dm_k8s_fake f;
    dm_k8s_fake_opts fo = { .token = "doctor-token", .https = true };
    dm_k8s_fake_start(&f, &fo);
    char *dir = dm_test_mkdtemp("dm-doctor-k8s");
    const char *tokens[] = { "doctor-token", "wrong-token" };
    for (int i = 0; i < 2; i++) {
        char kc[600];
        dm_k8s_write_kubeconfig(dir, f.url, tokens[i], f.ca_path, kc, sizeof kc);
        json_t *rt = json_pack("{s:s,s:{s:s,s:s,s:s}}", "name", "runtime-kubernetes", "config", "kubeconfig", kc,
                               "namespace", "dermaga", "base_domain", "apps.example.test");
        char *out = NULL;
        int rc = run_with("doctor", config(dm_e2e_free_port(), REFUSED_DB, enabled(rt), NULL), &out);
        ck_assert_int_eq(rc, 1); /* the database is down either way */
        if (i == 0)
            ck_assert_msg(strstr(out, "ok    reach runtime-kubernetes: the engine answered") != NULL, "%s",
                          tail(out));
        else
            ck_assert_msg(strstr(out, "FAIL  reach runtime-kubernetes: the engine did not answer") != NULL, "%s",
                          tail(out));
        ck_assert_msg(strstr(out, tokens[i]) == NULL, "the token must never be printed: %s", tail(out));
        free(out);
    }
    dm_k8s_fake_stop(&f);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}
END_TEST

/* ---- SIGHUP and logFile --------------------------------------------------- */

#define HEALTHZ "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"

/* logrotate's move-then-SIGHUP: lines after the signal go to a new file
 * at the configured path, the moved one keeps what came before, and the
 * server keeps serving. */
START_TEST(sighup_reopens_the_log_file_and_keeps_serving)
{
    char *dir = dm_test_mkdtemp("dm-start-logfile");
    chmod(dir, 0755);
    char conf[PATH_MAX], console[PATH_MAX], logf[PATH_MAX], moved[PATH_MAX];
    snprintf(conf, sizeof conf, "%s/config.json", dir);
    snprintf(console, sizeof console, "%s/console.log", dir);
    snprintf(logf, sizeof logf, "%s/dermaga.log", dir);
    snprintf(moved, sizeof moved, "%s/dermaga.log.1", dir);
    int port = dm_e2e_free_port();
    write_config(conf, config(port, REFUSED_DB, enabled(NULL), json_pack("{s:s}", "logFile", logf)));
    dm_e2e_server s;
    spawn_serve(&s, dir, conf, console, logf, port);
    char *c = NULL;
    ck_assert_msg(dm_e2e_server_wait_log(&s, "listening on", 20000), "no \"listening on\" in %s; console: %s", logf,
                  tail(c = read_text(console)));
    dm_e2e_expect_status(port, HEALTHZ, 200, "/healthz before SIGHUP");
    ck_assert_int_eq(rename(logf, moved), 0);
    ck_assert_int_eq(kill(s.pid, SIGHUP), 0);
    ck_assert_msg(dm_e2e_server_wait_log(&s, "SIGHUP: reopened the log file", 10000),
                  "after SIGHUP a new %s must get the server's lines", logf);
    dm_e2e_expect_status(port, HEALTHZ, 200, "/healthz after SIGHUP");
    ck_assert_msg(dm_e2e_server_wait_log(&s, "\"/healthz\"", 10000), "the access log line goes to the new file");
    char *old = read_text(moved);
    ck_assert_msg(strstr(old, "listening on") != NULL && strstr(old, "reopened") == NULL,
                  "the moved file keeps what came before the signal only: %s", old);
    free(old);
    int st = dm_e2e_server_stop(&s, SIGTERM, 10000);
    ck_assert_msg(dm_e2e_exited_0(st), "SIGTERM after SIGHUP must drain and exit 0: %s", dm_e2e_describe_status(st));
    free(c);
    dm_e2e_server_free(&s);
    free(dir);
}
END_TEST

/* A logFile that cannot be opened stops the start, saying why on stderr. */
START_TEST(a_log_file_that_cannot_be_opened_stops_the_start)
{
    char *out = NULL;
    json_t *extra = json_pack("{s:s}", "logFile", "/nonexistent/dm-logs/dermaga.log");
    int rc = run_with("serve", config(dm_e2e_free_port(), REFUSED_DB, enabled(NULL), extra), &out);
    ck_assert_msg(rc == 1 && strstr(out, "logFile /nonexistent/dm-logs/dermaga.log: No such file or directory")
                                 != NULL && strstr(out, "listening on") == NULL,
                  "exit 1 naming the file, got %d: %s", rc, tail(out));
    free(out);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("start_checks");
    TCase *tc = tcase_create("start_checks");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, a_refused_enabled_plugin_stops_the_start_before_binding);
    tcase_add_test(tc, an_optional_refused_plugin_serves_degraded);
    tcase_add_test(tc, check_passes_a_good_configuration);
    tcase_add_test(tc, check_names_a_bad_plugin_config_key);
    tcase_add_test(tc, optional_must_name_an_enabled_plugin);
    tcase_add_test(tc, doctor_names_an_unreachable_database_and_engine);
    tcase_add_test(tc, doctor_passes_when_everything_answers);
    tcase_add_test(tc, doctor_reaches_the_payment_gateway);
    tcase_add_test(tc, doctor_reaches_the_kubernetes_api);
    tcase_add_test(tc, sighup_reopens_the_log_file_and_keeps_serving);
    tcase_add_test(tc, a_log_file_that_cannot_be_opened_stops_the_start);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
