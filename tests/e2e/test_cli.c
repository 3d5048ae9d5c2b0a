/*
 * test_cli.c — the dermaga command as operators use it: `migrate`,
 * `migrate status`, `serve` applying migrations at start (or not), `plugins`,
 * `version`, --config in both spellings, SIGHUP, and the refusal of a bad
 * configuration, each through the real binary.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "dm_test.h"
#include "e2e.h"
#include "e2e_run.h"
#include "testdb.h"
#include "util/build_info.h"

/* `dermaga a1 a2 a3` (trailing NULLs end the list): dm_e2e_run. */
static int run(char **out, const char *const env[], const char *a1, const char *a2, const char *a3)
{
    const char *const args[] = { a1, a2, a3, NULL };
    return dm_e2e_run(out, env, args);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static char *env_kv(const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 2;
    char *s = malloc(n);
    ck_assert_ptr_nonnull(s);
    snprintf(s, n, "%s=%s", name, value);
    return s;
}

START_TEST(migrate_applies_then_refuses_an_edited_file)
{
    char *url = dm_test_db_create("cli_migrate");
    char *dir = dm_test_mkdtemp("dm-cli-mig");
    char file[PATH_MAX];
    snprintf(file, sizeof file, "%s/0001_first.sql", dir);
    write_file(file, "CREATE TABLE cli_first (id int);\n");
    char *e_url = env_kv("DERMAGA_DATABASE_URL", url);
    char *e_dir = env_kv("DERMAGA_MIGRATIONS_DIR", dir);
    const char *env[] = { e_url, e_dir, NULL };

    char *out = NULL;
    int rc = run(&out, env, "migrate", NULL, NULL);
    ck_assert_msg(rc == 0, "first migrate exited %d: %s", rc, out);
    free(out);
    char *n = dm_test_db_scalar(url, "SELECT count(*) FROM schema_migrations");
    ck_assert_str_eq(n, "1");
    free(n);

    rc = run(&out, env, "migrate", NULL, NULL);
    ck_assert_msg(rc == 0, "second migrate exited %d: %s", rc, out);
    ck_assert_msg(strstr(out, "0 applied") != NULL, "second run should apply nothing: %s", out);
    free(out);

    write_file(file, "CREATE TABLE cli_first (id bigint);\n");
    rc = run(&out, env, "migrate", NULL, NULL);
    ck_assert_msg(rc == 1, "edited migration must be refused, exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "0001_first.sql") != NULL, "message must name the file: %s", out);
    free(out);

    unlink(file);
    rmdir(dir);
    free(dir);
    free(e_url);
    free(e_dir);
    dm_test_db_drop(url);
    free(url);
}
END_TEST

START_TEST(migrate_without_database_url_is_refused)
{
    char *out = NULL;
    const char *env[] = { NULL };
    int rc = run(&out, env, "migrate", NULL, NULL);
    ck_assert_msg(rc != 0, "migrate without a URL must fail: %s", out);
    ck_assert_msg(strstr(out, "database.url") != NULL, "message must name database.url: %s", out);
    free(out);
}
END_TEST

START_TEST(bad_config_value_stops_the_start_naming_the_key)
{
    char *out = NULL;
    const char *env[] = { "DERMAGA_PORT=http", NULL };
    int rc = run(&out, env, "serve", NULL, NULL);
    ck_assert_msg(rc == 2, "bad DERMAGA_PORT must stop the start with 2, got %d: %s", rc, out);
    ck_assert_msg(strstr(out, "DERMAGA_PORT") != NULL, "message must name the variable: %s", out);
    free(out);
}
END_TEST

START_TEST(serve_refuses_a_short_jwt_secret)
{
    char *out = NULL;
    const char *env[] = { "DERMAGA_DATABASE_URL=postgresql://127.0.0.1:1/x",
                          "DERMAGA_JWT_SECRET=only-31-bytes-long-0123456789ab", NULL };
    int rc = run(&out, env, "serve", NULL, NULL);
    ck_assert_msg(rc == 1, "a 31-byte secret must stop the start, got %d: %s", rc, out);
    ck_assert_msg(strstr(out, "auth.jwtSecret") != NULL && strstr(out, "at least 32 bytes") != NULL,
                  "message must name the key and the rule: %s", out);
    ck_assert_msg(strstr(out, "only-31-bytes") == NULL, "the secret must not be printed: %s", out);
    free(out);
    /* Long enough but 32 zeros: refused for its 1 distinct byte. */
    const char *zeros[] = { "DERMAGA_DATABASE_URL=postgresql://127.0.0.1:1/x",
                            "DERMAGA_JWT_SECRET=00000000000000000000000000000000", NULL };
    rc = run(&out, zeros, "serve", NULL, NULL);
    ck_assert_msg(rc == 1 && strstr(out, "only 1 distinct bytes; use at least 16") != NULL,
                  "a secret of 32 zeros must stop the start, got %d: %s", rc, out);
    free(out);
    const char *none[] = { "DERMAGA_DATABASE_URL=postgresql://127.0.0.1:1/x", NULL };
    rc = run(&out, none, "serve", NULL, NULL);
    ck_assert_msg(rc == 1 && strstr(out, "auth.jwtSecret") != NULL,
                  "no secret at all must stop the start too, got %d: %s", rc, out);
    free(out);
}
END_TEST

/* serve with migrateOnStart applies the real migrations; without it the
 * database is left alone. */
static void serve_against_fresh_db(bool migrate, const char *want_tables)
{
    char *url = dm_test_db_create(migrate ? "cli_serve_mig" : "cli_serve_nomig");
    json_t *o = json_pack("{s:{s:s,s:b,s:s}}", "database", "url", url, "migrateOnStart", migrate,
                          "migrationsDir", DM_SOURCE_DIR "/migrations");
    dm_e2e_server s;
    dm_e2e_server_start(&s, o);
    char *n = dm_test_db_scalar(url, "SELECT count(*) FROM information_schema.tables "
                                     "WHERE table_name IN ('schema_migrations','jobs','audit_log')");
    ck_assert_msg(strcmp(n, want_tables) == 0, "expected %s migration tables, found %s", want_tables, n);
    free(n);
    dm_e2e_server_finish(&s);
    dm_e2e_server_free(&s);
    dm_test_db_drop(url);
    free(url);
}

START_TEST(serve_migrates_at_start)
{
    serve_against_fresh_db(true, "3");
}
END_TEST

START_TEST(serve_skips_migrations_when_configured)
{
    serve_against_fresh_db(false, "0");
}
END_TEST

/* A directory with one good and one ABI-mismatched plugin, mode 0755, so
 * the loader's permission check passes and only the ABI check refuses. */
static char *plugin_dir(void)
{
    char *dir = dm_test_mkdtemp("dm-cli-plug");
    chmod(dir, 0755);
    const char *names[] = { "good_auth", "abi_major" };
    for (int i = 0; i < 2; i++) {
        char src[PATH_MAX], dst[PATH_MAX], cmd[3 * PATH_MAX + 64];
        snprintf(src, sizeof src, "%s/%s.so", DM_TEST_PLUGIN_DIR, names[i]);
        snprintf(dst, sizeof dst, "%s/%s.so", dir, names[i]);
        snprintf(cmd, sizeof cmd, "cp '%s' '%s' && chmod 0755 '%s'", src, dst, dst);
        ck_assert_msg(system(cmd) == 0, "cannot copy fixture %s (built in %s?)", names[i], DM_TEST_PLUGIN_DIR);
    }
    return dir;
}

static void remove_plugin_dir(char *dir)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}

START_TEST(serve_loads_good_plugins_and_reports_refusals)
{
    char *dir = plugin_dir();
    char *url = dm_test_db_create("cli_plugins");
    /* abi_major is optional: listed there, its refusal lets the server start. */
    json_t *o = json_pack("{s:{s:s,s:[{s:s},{s:s}],s:[s]},s:{s:s}}", "plugins", "dir", dir, "enabled",
                          "name", "good_auth", "name", "abi_major", "optional", "abi_major", "database", "url", url);
    dm_e2e_server s;
    dm_e2e_server_start(&s, o);
    dm_e2e_response res;
    dm_e2e_roundtrip_ok(s.port, "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n", &res);
    ck_assert_int_eq(res.status, 200);
    json_t *doc = dm_e2e_json(&res);
    json_t *data = json_object_get(doc, "data");
    ck_assert_int_eq(json_integer_value(json_object_get(data, "plugins")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(data, "pluginsRefused")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(data, "status")), "degraded");
    json_decref(doc);
    dm_e2e_response_free(&res);
    char *log = dm_e2e_server_log(&s);
    ck_assert_msg(strstr(log, "abi_major.so") != NULL && strstr(log, "ABI major") != NULL,
                  "the refusal must name the file and the reason: %s", log);
    free(log);
    dm_e2e_server_finish(&s);
    dm_e2e_server_free(&s);
    dm_test_db_drop(url);
    free(url);
    remove_plugin_dir(dir);
}
END_TEST

START_TEST(plugins_command_lists_and_fails_on_refused_enabled)
{
    char *dir = plugin_dir();
    char cfgpath[PATH_MAX];
    snprintf(cfgpath, sizeof cfgpath, "%s/../dm-cli-plugins-%d.json", dir, (int)getpid());
    char text[2 * PATH_MAX];
    snprintf(text, sizeof text,
             "{\"plugins\":{\"dir\":\"%s\",\"enabled\":[{\"name\":\"good_auth\"},{\"name\":\"abi_major\"}]}}",
             dir);
    write_file(cfgpath, text);
    char *out = NULL;
    const char *env[] = { NULL };
    int rc = run(&out, env, "plugins", "--config", cfgpath);
    ck_assert_msg(rc == 1, "a refused enabled plugin must make `plugins` exit 1, got %d: %s", rc, out);
    ck_assert_msg(strstr(out, "good_auth") != NULL, "good plugin must be listed: %s", out);
    ck_assert_msg(strstr(out, "ABI major") != NULL, "refusal reason must be shown: %s", out);
    free(out);

    snprintf(text, sizeof text, "{\"plugins\":{\"dir\":\"%s\",\"enabled\":[{\"name\":\"good_auth\"}]}}", dir);
    write_file(cfgpath, text);
    rc = run(&out, env, "plugins", "--config", cfgpath);
    ck_assert_msg(rc == 0, "only good plugins enabled: exit 0 expected, got %d: %s", rc, out);
    free(out);
    unlink(cfgpath);
    remove_plugin_dir(dir);
}
END_TEST

/* ---- version ---------------------------------------------------------- */

/* "dermaga <version> (<commit>)\n" with the commit 12 lowercase hex digits
 * or "unknown", and the values this build was configured with. */
static void expect_version_line(const char *out, const char *how)
{
    const char *open = strchr(out, '(');
    const char *close = open != NULL ? strchr(open, ')') : NULL;
    ck_assert_msg(open != NULL && close != NULL && strcmp(close, ")\n") == 0,
                  "%s: want one line \"dermaga V (COMMIT)\", got \"%s\"", how, out);
    size_t len = (size_t)(close - open - 1);
    bool hex = len == 12;
    for (size_t i = 0; hex && i < len; i++)
        hex = isxdigit((unsigned char)open[1 + i]) && !isupper((unsigned char)open[1 + i]);
    ck_assert_msg(hex || (len == 7 && strncmp(open + 1, "unknown", 7) == 0),
                  "%s: the commit must be 12 hex digits or \"unknown\": \"%s\"", how, out);
    char want[128];
    snprintf(want, sizeof want, "dermaga %s (%s)\n", DM_VERSION, dm__build_commit());
    ck_assert_msg(strcmp(out, want) == 0, "%s: want \"%s\", got \"%s\"", how, want, out);
}

START_TEST(version_prints_version_and_commit)
{
    const char *env[] = { NULL };
    const char *forms[][3] = { { "--version", NULL, NULL }, { "version", NULL, NULL },
                               { "serve", "--version", NULL }, { "version", "--config=/nonexistent.json", NULL } };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        char *out = NULL;
        int rc = run(&out, env, forms[i][0], forms[i][1], forms[i][2]);
        ck_assert_msg(rc == 0, "dermaga %s %s exited %d: %s", forms[i][0], forms[i][1] ?: "", rc, out);
        expect_version_line(out, forms[i][0]);
        free(out);
    }
}
END_TEST

/* ---- --config=FILE ------------------------------------------------------ */

/* A file with a bad server.port: every command that reads the
 * configuration must refuse it, naming the key, in both spellings. */
START_TEST(config_equals_file_is_read_by_every_command)
{
    char *dir = dm_test_mkdtemp("dm-cli-cfg");
    char path[PATH_MAX], eq[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/bad.json", dir);
    snprintf(eq, sizeof eq, "--config=%s", path);
    write_file(path, "{\"server\":{\"port\":\"http\"}}\n");
    const char *env[] = { NULL };
    const char *commands[] = { "serve", "migrate", "seed", "plugins" };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        char *out = NULL;
        int rc = run(&out, env, commands[i], eq, NULL);
        ck_assert_msg(rc == 2 && strstr(out, "\"server.port\"") != NULL,
                      "%s --config=FILE must report the file's bad server.port (exit 2), got %d: %s",
                      commands[i], rc, out);
        free(out);
        rc = run(&out, env, eq, commands[i], NULL); /* before the command */
        ck_assert_msg(rc == 2 && strstr(out, "\"server.port\"") != NULL,
                      "--config=FILE %s: exit 2 and server.port expected, got %d: %s", commands[i], rc, out);
        free(out);
    }
    char *out = NULL;
    int rc = run(&out, env, "migrate", "status", eq);
    ck_assert_msg(rc == 2 && strstr(out, "\"server.port\"") != NULL,
                  "migrate status --config=FILE: exit 2 and server.port expected, got %d: %s", rc, out);
    free(out);
    rc = run(&out, env, "plugins", "--config=", NULL);
    ck_assert_msg(rc == 2 && strstr(out, "usage:") != NULL, "an empty --config= is a usage error, got %d: %s",
                  rc, out);
    free(out);
    unlink(path);
    rmdir(dir);
    free(dir);
}
END_TEST

/* plugin-check's own --config (the plugin's block) takes '=' too. */
START_TEST(plugin_check_takes_option_equals_value)
{
    const char *env[] = { NULL };
    char *out = NULL;
    int rc = run(&out, env, "plugin-check", DM_TEST_PLUGIN_DIR "/good_auth.so", "--config=/nonexistent/dm-pc.json");
    ck_assert_msg(rc == 1 && strstr(out, "FAIL config: /nonexistent/dm-pc.json") != NULL,
                  "plugin-check --config=FILE must read FILE (and fail on a missing one), got %d: %s", rc, out);
    free(out);
    rc = run(&out, env, "plugin-check", DM_TEST_PLUGIN_DIR "/good_auth.so", "--bogus=1");
    ck_assert_msg(rc == 2 && strstr(out, "usage:") != NULL, "an unknown --opt=VALUE is a usage error, got %d: %s",
                  rc, out);
    free(out);
}
END_TEST

/* ---- SIGHUP --------------------------------------------------------------- */

static void expect_healthz(int port, const char *when)
{
    dm_e2e_response res;
    int rc = dm_e2e_roundtrip(port, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", &res, DM_E2E_T_MS);
    ck_assert_msg(rc == 0, "/healthz %s: %s", when, dm_e2e_strerror(rc));
    ck_assert_msg(res.status == 200, "/healthz %s answered %d", when, res.status);
    dm_e2e_response_free(&res);
}

/* How many times needle occurs in the server's output so far. */
static int log_count(const dm_e2e_server *s, const char *needle)
{
    char *log = dm_e2e_server_log(s);
    int n = 0;
    for (const char *p = strstr(log, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    free(log);
    return n;
}

/* Poll (bounded) until needle occurs at least n times in the output. */
static bool wait_log_count(const dm_e2e_server *s, const char *needle, int n, int timeout_ms)
{
    long long deadline = dm_e2e_now_ms() + timeout_ms;
    while (log_count(s, needle) < n) {
        if (dm_e2e_now_ms() > deadline)
            return false;
        poll(NULL, 0, 20); /* between polls of the log file */
    }
    return true;
}

#define SIGHUP_LINE "SIGHUP: nothing to reopen (logging to stderr); configuration changes need a restart"

START_TEST(sighup_is_logged_and_the_server_keeps_serving)
{
    dm_e2e_server s;
    dm_e2e_server_start(&s, NULL);
    expect_healthz(s.port, "before SIGHUP");
    for (int i = 1; i <= 2; i++) {
        ck_assert_int_eq(kill(s.pid, SIGHUP), 0);
        bool seen = wait_log_count(&s, SIGHUP_LINE, i, 10000);
        char *log = dm_e2e_server_log(&s);
        ck_assert_msg(seen, "SIGHUP #%d: the server must log \"%s\" (and stay up): %s", i, SIGHUP_LINE, log);
        free(log);
        expect_healthz(s.port, "after SIGHUP");
    }
    ck_assert_int_eq(log_count(&s, SIGHUP_LINE), 2); /* one line per SIGHUP */
    int st = dm_e2e_server_stop(&s, SIGTERM, 10000);
    char *log = dm_e2e_server_log(&s);
    ck_assert_msg(dm_e2e_exited_0(st), "SIGTERM after SIGHUP must drain and exit 0, got %s: %s",
                  dm_e2e_describe_status(st), log);
    ck_assert_msg(strstr(log, "draining") != NULL && strstr(log, "\"stopped\"") != NULL,
                  "SIGTERM must drain: %s", log);
    free(log);
    dm_e2e_server_free(&s);
}
END_TEST

/* ---- migrate status ------------------------------------------------------ */

/* The line of `migrate status` output naming file: new string, "" when absent. */
static char *status_line(const char *out, const char *file)
{
    const char *p = out;
    size_t n = strlen(file);
    while ((p = strstr(p, file)) != NULL && !(p == out || p[-1] == '\n'))
        p += n;
    if (p == NULL || p[n] != ' ')
        return strdup("");
    size_t len = strcspn(p, "\n");
    char *line = strndup(p, len);
    ck_assert_ptr_nonnull(line);
    return line;
}

/* Every line of `migrate status` for the project's migrations. */
static void expect_every_migration(const char *out, bool applied)
{
    DIR *d = opendir(DM_SOURCE_DIR "/migrations");
    ck_assert_ptr_nonnull(d);
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".sql") != 0)
            continue;
        files++;
        char *line = status_line(out, e->d_name);
        bool ok = applied ? strstr(line, "  applied  ") != NULL && line[strlen(line) - 1] == 'Z'
                          : strstr(line, "  pending") != NULL && strstr(line, "applied") == NULL;
        ck_assert_msg(ok, "%s must be listed as %s, line \"%s\" in: %s", e->d_name,
                      applied ? "applied with a time" : "pending", line, out);
        free(line);
    }
    closedir(d);
    ck_assert_int_gt(files, 0);
    char summary[96];
    snprintf(summary, sizeof summary, "%d migration(s): %d applied, %d pending\n", files, applied ? files : 0,
             applied ? 0 : files);
    ck_assert_msg(strstr(out, summary) != NULL, "want the summary \"%s\": %s", summary, out);
}

START_TEST(migrate_status_lists_pending_then_applied)
{
    char *url = dm_test_db_create("cli_mig_status");
    char *e_url = env_kv("DERMAGA_DATABASE_URL", url);
    const char *env[] = { e_url, "DERMAGA_MIGRATIONS_DIR=" DM_SOURCE_DIR "/migrations", NULL };
    char *out = NULL;
    int rc = run(&out, env, "migrate", "status", NULL);
    ck_assert_msg(rc == 3, "a fresh database has every migration pending: exit 3, got %d: %s", rc, out);
    expect_every_migration(out, false);
    free(out);
    char *none = dm_test_db_scalar(url, "SELECT to_regclass('schema_migrations') IS NULL "
                                        "AND to_regclass('jobs') IS NULL");
    ck_assert_msg(strcmp(none, "t") == 0, "migrate status must apply nothing, not even create its table");
    free(none);

    rc = run(&out, env, "migrate", NULL, NULL);
    ck_assert_msg(rc == 0, "migrate exited %d: %s", rc, out);
    free(out);
    rc = run(&out, env, "migrate", "status", NULL);
    ck_assert_msg(rc == 0, "after migrate nothing is pending: exit 0, got %d: %s", rc, out);
    expect_every_migration(out, true);
    free(out);
    free(e_url);
    dm_test_db_drop(url);
    free(url);
}
END_TEST

/* A new file after a migrate: it alone is pending, and stays unapplied. */
START_TEST(migrate_status_shows_a_new_file_pending)
{
    char *url = dm_test_db_create("cli_mig_new");
    char *dir = dm_test_mkdtemp("dm-cli-mig-new");
    char first[PATH_MAX], second[PATH_MAX];
    snprintf(first, sizeof first, "%s/0001_first.sql", dir);
    snprintf(second, sizeof second, "%s/0002_second.sql", dir);
    write_file(first, "CREATE TABLE cli_first (id int);\n");
    char *e_url = env_kv("DERMAGA_DATABASE_URL", url);
    char *e_dir = env_kv("DERMAGA_MIGRATIONS_DIR", dir);
    const char *env[] = { e_url, e_dir, NULL };
    char *out = NULL;
    int rc = run(&out, env, "migrate", NULL, NULL);
    ck_assert_msg(rc == 0, "migrate exited %d: %s", rc, out);
    free(out);
    write_file(second, "CREATE TABLE cli_second (id int);\n");
    rc = run(&out, env, "migrate", "status", NULL);
    ck_assert_msg(rc == 3, "one pending: exit 3, got %d: %s", rc, out);
    char *l1 = status_line(out, "0001_first.sql"), *l2 = status_line(out, "0002_second.sql");
    ck_assert_msg(strstr(l1, " applied ") != NULL, "0001 must be applied: %s", out);
    ck_assert_msg(strstr(l2, " pending") != NULL, "0002 must be pending: %s", out);
    ck_assert_msg(strstr(out, "2 migration(s): 1 applied, 1 pending\n") != NULL, "summary: %s", out);
    free(l1);
    free(l2);
    free(out);
    DM_EXPECT_SQL(url, "t", "SELECT to_regclass('cli_second') IS NULL");
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM schema_migrations");
    unlink(first);
    unlink(second);
    rmdir(dir);
    free(dir);
    free(e_url);
    free(e_dir);
    dm_test_db_drop(url);
    free(url);
}
END_TEST

START_TEST(migrate_status_errors_exit_1)
{
    char *out = NULL;
    const char *no_url[] = { "DERMAGA_MIGRATIONS_DIR=" DM_SOURCE_DIR "/migrations", NULL };
    int rc = run(&out, no_url, "migrate", "status", NULL);
    ck_assert_msg(rc == 1 && strstr(out, "database.url") != NULL, "no database: exit 1 naming database.url, "
                  "got %d: %s", rc, out);
    free(out);
    const char *no_dir[] = { "DERMAGA_DATABASE_URL=postgresql://127.0.0.1:1/x",
                             "DERMAGA_MIGRATIONS_DIR=/nonexistent/dm-migrations", NULL };
    rc = run(&out, no_dir, "migrate", "status", NULL);
    ck_assert_msg(rc == 1 && strstr(out, "/nonexistent/dm-migrations") != NULL,
                  "a missing folder: exit 1 naming it, got %d: %s", rc, out);
    free(out);
    const char *no_db[] = { "DERMAGA_DATABASE_URL=postgresql://127.0.0.1:1/x",
                            "DERMAGA_MIGRATIONS_DIR=" DM_SOURCE_DIR "/migrations", NULL };
    rc = run(&out, no_db, "migrate", "status", NULL);
    ck_assert_msg(rc == 1 && strstr(out, "migrate status") != NULL, "an unreachable database: exit 1, "
                  "got %d: %s", rc, out);
    free(out);
    rc = run(&out, no_db, "migrate", "statuz", NULL);
    ck_assert_msg(rc == 2 && strstr(out, "statuz") != NULL, "an unknown subcommand: exit 2, got %d: %s", rc, out);
    free(out);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, migrate_applies_then_refuses_an_edited_file);
    tcase_add_test(tc, migrate_without_database_url_is_refused);
    tcase_add_test(tc, bad_config_value_stops_the_start_naming_the_key);
    tcase_add_test(tc, serve_refuses_a_short_jwt_secret);
    tcase_add_test(tc, serve_migrates_at_start);
    tcase_add_test(tc, serve_skips_migrations_when_configured);
    tcase_add_test(tc, serve_loads_good_plugins_and_reports_refusals);
    tcase_add_test(tc, plugins_command_lists_and_fails_on_refused_enabled);
    tcase_add_test(tc, version_prints_version_and_commit);
    tcase_add_test(tc, config_equals_file_is_read_by_every_command);
    tcase_add_test(tc, plugin_check_takes_option_equals_value);
    tcase_add_test(tc, sighup_is_logged_and_the_server_keeps_serving);
    tcase_add_test(tc, migrate_status_lists_pending_then_applied);
    tcase_add_test(tc, migrate_status_shows_a_new_file_pending);
    tcase_add_test(tc, migrate_status_errors_exit_1);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
