/*
 * test_cli.c — the dermaga command as operators use it: `migrate`, `serve`
 * applying migrations at start (or not), `plugins`, and the refusal of a bad
 * configuration, each through the real binary.
 */
#include <fcntl.h>
#include <limits.h>
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
    json_t *o = json_pack("{s:{s:s,s:[{s:s},{s:s}]},s:{s:s}}", "plugins", "dir", dir, "enabled",
                          "name", "good_auth", "name", "abi_major", "database", "url", url);
    dm_e2e_server s;
    dm_e2e_server_start(&s, o);
    dm_e2e_response res;
    dm_e2e_roundtrip_ok(s.port, "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n", &res);
    ck_assert_int_eq(res.status, 200);
    json_t *doc = dm_e2e_json(&res);
    json_t *data = json_object_get(doc, "data");
    ck_assert_int_eq(json_integer_value(json_object_get(data, "plugins")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(data, "pluginsRefused")), 1);
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
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
