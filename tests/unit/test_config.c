/*
 * test_config.c — the configuration loader: defaults, file values, every
 * environment override, every refusal naming its key, secrets from files
 * (never echoed), the CORS allow-list, and that the example file and the
 * docs' key table stay in step with the key table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/config.h"
#include "app/config_internal.h"
#define TEST_SHARE DM_BUILD_DIR "/tests/../share/dermaga"

#include "dm_test.h"

/* ---- helpers ---- */

/* The injected environment: NULL-terminated "NAME", "value" pairs. */
static const char *const *g_env;

static const char *fake_env(const char *name)
{
    for (size_t i = 0; g_env != NULL && g_env[i] != NULL; i += 2) {
        if (strcmp(g_env[i], name) == 0) {
            return g_env[i + 1];
        }
    }
    return NULL;
}

#define SET_ENV(...) (g_env = (const char *const[]){ __VA_ARGS__, NULL })
#define NO_ENV() (g_env = NULL)

static int load(dm_config *cfg, const char *json, dm_err_t *err)
{
    return dm__config_load_text(cfg, json, fake_env, err);
}

/* Loads json (with the current fake env), expects DM_EINVAL and a message
 * containing want; returns nothing, frees everything. */
static void expect_refused(const char *json, const char *want)
{
    dm_config cfg;
    dm_err_t err;
    int rc = load(&cfg, json, &err);
    ck_assert_msg(rc == DM_EINVAL, "expected DM_EINVAL for %s, got %d (%s)", json ? json : "(no file)", rc,
                  err.msg);
    ck_assert_msg(strstr(err.msg, want) != NULL, "message \"%s\" should contain \"%s\"", err.msg, want);
    ck_assert_msg(strncmp(err.msg, "config: ", 8) == 0, "message \"%s\" should start with config:", err.msg);
    ck_assert_msg(cfg.listen == NULL && cfg.root == NULL && cfg.plugins == NULL,
                  "a failed load must leave cfg empty");
    dm__config_free(&cfg);
}

static void expect_loaded(dm_config *cfg, const char *json)
{
    dm_err_t err;
    int rc = load(cfg, json, &err);
    ck_assert_msg(rc == 0, "load of %s failed: %d %s", json ? json : "(no file)", rc, err.msg);
}

/* A temp file holding len bytes of content; returns a new path (free it
 * after unlink). */
static char *temp_file(const char *content, size_t len)
{
    const char *dir = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
    size_t n = strlen(dir) + sizeof "/dm_cfg_XXXXXX";
    char *path = malloc(n);
    ck_assert_ptr_nonnull(path);
    snprintf(path, n, "%s/dm_cfg_XXXXXX", dir);
    int fd = mkstemp(path);
    ck_assert_msg(fd >= 0, "mkstemp: %s", strerror(errno));
    ck_assert_msg(write(fd, content, len) == (ssize_t)len, "write temp file");
    close(fd);
    return path;
}

static void drop_file(char *path)
{
    unlink(path);
    free(path);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t cap = 0, len = 0, n;
    char chunk[4096];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (buf == NULL) {
        buf = calloc(1, 1);
        ck_assert_ptr_nonnull(buf);
    }
    buf[len] = '\0';
    return buf;
}

/* ---- defaults and file values ---- */

START_TEST(defaults_without_file_or_env)
{
    NO_ENV();
    dm_config cfg;
    expect_loaded(&cfg, NULL);
    ck_assert_str_eq(cfg.listen, "127.0.0.1");
    ck_assert_int_eq(cfg.port, 8080);
    ck_assert_int_eq(cfg.max_connections, 1024);
    ck_assert_uint_eq(cfg.max_body_bytes, 1024 * 1024);
    ck_assert_uint_eq(cfg.max_header_bytes, 16 * 1024);
    ck_assert_int_eq(cfg.max_headers, 100);
    ck_assert_int_eq(cfg.header_timeout_ms, 10000);
    ck_assert_int_eq(cfg.idle_timeout_ms, 60000);
    ck_assert_int_eq(cfg.shutdown_grace_ms, 10000);
    ck_assert_int_eq(cfg.max_pipeline, 16);
    ck_assert_uint_eq(cfg.n_cors_origins, 0);
    ck_assert_msg(cfg.n_trusted_proxies == 0, "server.trustedProxies must default to trusting nobody");
    ck_assert_str_eq(cfg.database_url, "");
    ck_assert_int_eq(cfg.workers, 8);
    ck_assert_int_eq(cfg.queue_depth, 256);
    ck_assert_int_eq(cfg.db_connect_timeout_s, 2);
    ck_assert_int_eq(cfg.db_statement_timeout_ms, 30000);
    ck_assert_int_eq(cfg.retry_after_s, 5);
    ck_assert(cfg.migrate_on_start);
    ck_assert_str_eq(cfg.migrations_dir, TEST_SHARE "/migrations");
    ck_assert_int_eq(cfg.job_workers, 4);
    ck_assert_int_eq(cfg.job_poll_ms, 500);
    ck_assert_int_eq(cfg.job_lease_s, 20);
    ck_assert_str_eq(cfg.openapi_path, TEST_SHARE "/openapi.yaml");
    ck_assert_str_eq(cfg.jwt_secret, "");
    ck_assert_str_eq(cfg.admin_email, "");
    ck_assert_str_eq(cfg.admin_password, "");
    ck_assert_str_eq(cfg.log_level, "info");
    ck_assert_str_eq(cfg.catalog_path, TEST_SHARE "/catalog.json");
    ck_assert_int_eq(cfg.topup_min, 10000);
    ck_assert_int_eq(cfg.topup_max, 10000000);
    ck_assert_int_eq(cfg.topup_expiry_min, 1440);
    ck_assert_int_eq(cfg.expire_every_s, 60);
    ck_assert_str_eq(cfg.default_gateway, "manual");
    ck_assert_str_eq(cfg.finish_url, "");
    ck_assert_str_eq(cfg.refund_policy, "prorated");
    ck_assert_int_eq(cfg.grace_days, 3);
    ck_assert_int_eq(cfg.period_check_every_s, 60);
    /* Sign-in and manual transfers work with no configuration at all. */
    ck_assert(json_is_array(cfg.plugins) && json_array_size(cfg.plugins) == 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(cfg.plugins, 0), "name")), "auth-local");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(cfg.plugins, 1), "name")), "payment-manual");
    dm__config_free(&cfg);
}
END_TEST

START_TEST(topup_bounds_must_be_ordered)
{
    NO_ENV();
    expect_refused("{\"wallet\":{\"topupMin\":50000,\"topupMax\":40000}}", "wallet.topupMin (50000) is above wallet.topupMax");
    expect_refused("{\"subscriptions\":{\"refundPolicy\":\"full\"}}", "must be none or prorated");
    dm_config cfg;
    expect_loaded(&cfg, "{\"wallet\":{\"topupMin\":40000,\"topupMax\":40000}}");
    ck_assert_int_eq(cfg.topup_max, 40000);
    dm__config_free(&cfg);
}
END_TEST

/* plugins.optional names enabled plugins only: a name with no entry, or
 * with "enabled": false, is refused naming the index; from the
 * environment too. */
START_TEST(optional_plugins_must_be_enabled)
{
    NO_ENV();
    expect_refused("{\"plugins\":{\"optional\":[\"payment-x\"]}}",
                   "\"plugins.optional[0]\": \"payment-x\" is not an enabled plugin");
    expect_refused("{\"plugins\":{\"enabled\":[{\"name\":\"auth-local\"},{\"name\":\"payment-x\",\"enabled\":false}],"
                   "\"optional\":[\"auth-local\",\"payment-x\"]}}",
                   "\"plugins.optional[1]\": \"payment-x\" is not an enabled plugin");
    expect_refused("{\"plugins\":{\"optional\":[\"Bad/Name\"]}}", "plugins.optional[0]");
    SET_ENV("DERMAGA_PLUGINS_OPTIONAL", "payment-manual,payment-nope");
    expect_refused(NULL, "\"plugins.optional[1]\": \"payment-nope\"");
    SET_ENV("DERMAGA_PLUGINS_OPTIONAL", "payment-manual");
    dm_config cfg;
    expect_loaded(&cfg, NULL);
    ck_assert(dm__config_plugin_optional(&cfg, "payment-manual"));
    ck_assert(!dm__config_plugin_optional(&cfg, "auth-local"));
    ck_assert(!dm__config_plugin_optional(&cfg, NULL));
    dm__config_free(&cfg);
    NO_ENV();
}
END_TEST

/* The defaults of files the server reads are relative to the running
 * binary (app/install_paths.h): this test binary lies in <build>/tests,
 * which has no share/dermaga, so the installed layout's ../share/dermaga
 * is taken: <build>/share/dermaga, which CMake stages. */
START_TEST(default_plugin_dir_is_next_to_executable)
{
    NO_ENV();
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    ck_assert_int_gt(n, 0);
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';
    char want[4200];
    snprintf(want, sizeof want, "%s/plugins", exe);
    dm_config cfg;
    expect_loaded(&cfg, NULL);
    ck_assert_str_eq(cfg.plugin_dir, want);
    dm__config_free(&cfg);
}
END_TEST

START_TEST(file_values_are_applied)
{
    NO_ENV();
    dm_config cfg;
    expect_loaded(&cfg,
                  "{\"server\": {\"listen\": \"::1\", \"port\": 9000, \"maxConnections\": 5,"
                  " \"maxBodyBytes\": 2048, \"maxHeaderBytes\": 4096, \"maxHeaders\": 7,"
                  " \"headerTimeoutMs\": 1000, \"idleTimeoutMs\": 2000, \"shutdownGraceMs\": 0,"
                  " \"maxPipeline\": 2, \"corsOrigins\": [\"https://app.example.com\", \"http://localhost:3000\"]},"
                  " \"database\": {\"url\": \"postgresql://u@h/db\", \"workers\": 3, \"queueDepth\": 9,"
                  " \"connectTimeoutS\": 4, \"statementTimeoutMs\": 0, \"retryAfterS\": 7,"
                  " \"migrateOnStart\": false, \"migrationsDir\": \"/m\"},"
                  " \"jobs\": {\"workers\": 3, \"pollMs\": 100, \"leaseS\": 30},"
                  " \"openapiPath\": \"/o.yaml\", \"logLevel\": \"debug\","
                  " \"auth\": {\"jwtSecret\": \"j\", \"adminEmail\": \"a@b.c\", \"adminPassword\": \"p\"},"
                  " \"plugins\": {\"dir\": \"/p\", \"enabled\": [{\"name\": \"payment-manual\"}]}}");
    ck_assert_str_eq(cfg.listen, "::1");
    ck_assert_int_eq(cfg.port, 9000);
    ck_assert_int_eq(cfg.max_connections, 5);
    ck_assert_uint_eq(cfg.max_body_bytes, 2048);
    ck_assert_uint_eq(cfg.max_header_bytes, 4096);
    ck_assert_int_eq(cfg.max_headers, 7);
    ck_assert_int_eq(cfg.header_timeout_ms, 1000);
    ck_assert_int_eq(cfg.idle_timeout_ms, 2000);
    ck_assert_int_eq(cfg.shutdown_grace_ms, 0);
    ck_assert_int_eq(cfg.max_pipeline, 2);
    ck_assert_uint_eq(cfg.n_cors_origins, 2);
    ck_assert_str_eq(cfg.cors_origins[0], "https://app.example.com");
    ck_assert_str_eq(cfg.cors_origins[1], "http://localhost:3000");
    ck_assert_str_eq(cfg.database_url, "postgresql://u@h/db");
    ck_assert_int_eq(cfg.workers, 3);
    ck_assert_int_eq(cfg.queue_depth, 9);
    ck_assert_int_eq(cfg.db_connect_timeout_s, 4);
    ck_assert_int_eq(cfg.db_statement_timeout_ms, 0);
    ck_assert_int_eq(cfg.retry_after_s, 7);
    ck_assert(!cfg.migrate_on_start);
    ck_assert_str_eq(cfg.migrations_dir, "/m");
    ck_assert_int_eq(cfg.job_workers, 3);
    ck_assert_int_eq(cfg.job_poll_ms, 100);
    ck_assert_int_eq(cfg.job_lease_s, 30);
    ck_assert_str_eq(cfg.openapi_path, "/o.yaml");
    ck_assert_str_eq(cfg.log_level, "debug");
    ck_assert_str_eq(cfg.jwt_secret, "j");
    ck_assert_str_eq(cfg.admin_email, "a@b.c");
    ck_assert_str_eq(cfg.admin_password, "p");
    ck_assert_str_eq(cfg.plugin_dir, "/p");
    ck_assert_uint_eq(json_array_size(cfg.plugins), 1);
    dm__config_free(&cfg);
}
END_TEST

START_TEST(null_keeps_default)
{
    NO_ENV();
    dm_config cfg;
    expect_loaded(&cfg, "{\"server\": {\"port\": null}, \"database\": {\"migrationsDir\": null}}");
    ck_assert_int_eq(cfg.port, 8080);
    ck_assert_str_eq(cfg.migrations_dir, TEST_SHARE "/migrations");
    dm__config_free(&cfg);
}
END_TEST

START_TEST(root_holds_effective_values_without_secrets)
{
    SET_ENV("DERMAGA_PORT", "9100", "DERMAGA_JWT_SECRET", "rootsecret-jwt");
    dm_config cfg;
    expect_loaded(&cfg, "{\"auth\": {\"adminPassword\": \"rootsecret-admin\"},"
                        " \"database\": {\"url\": \"postgresql://u:rootsecret-db@h/x\"}}");
    json_t *port = json_object_get(json_object_get(cfg.root, "server"), "port");
    ck_assert_msg(json_integer_value(port) == 9100, "root should show the env override");
    ck_assert_ptr_nonnull(json_object_get(json_object_get(cfg.root, "jobs"), "leaseS"));
    char *dump = json_dumps(cfg.root, 0);
    ck_assert_ptr_nonnull(dump);
    ck_assert_msg(strstr(dump, "rootsecret") == NULL, "root must not hold secrets: %s", dump);
    free(dump);
    dm__config_free(&cfg);
}
END_TEST

/* ---- environment overrides ---- */

typedef struct env_case {
    const char *name;
    const char *value;
    bool (*applied)(const dm_config *cfg);
} env_case;

static bool port_9100(const dm_config *c) { return c->port == 9100; }
static bool listen_any(const dm_config *c) { return strcmp(c->listen, "0.0.0.0") == 0; }
static bool db_url(const dm_config *c) { return strcmp(c->database_url, "postgresql:///envdb") == 0; }
static bool jwt(const dm_config *c) { return strcmp(c->jwt_secret, "env-jwt") == 0; }
static bool email(const dm_config *c) { return strcmp(c->admin_email, "ops@example.com") == 0; }
static bool password(const dm_config *c) { return strcmp(c->admin_password, "env-pw") == 0; }
static bool log_warn(const dm_config *c) { return strcmp(c->log_level, "warn") == 0; }
static bool plugins_dir(const dm_config *c) { return strcmp(c->plugin_dir, "/opt/dm/plugins") == 0; }
static bool migrations(const dm_config *c) { return strcmp(c->migrations_dir, "/opt/dm/mig") == 0; }
static bool openapi(const dm_config *c) { return strcmp(c->openapi_path, "/opt/dm/o.yaml") == 0; }
static bool no_migrate(const dm_config *c) { return !c->migrate_on_start; }
static bool cors_two(const dm_config *c)
{
    return c->n_cors_origins == 2 && strcmp(c->cors_origins[0], "https://a.example") == 0 &&
           strcmp(c->cors_origins[1], "http://localhost:5173") == 0;
}

static bool trusted_two(const dm_config *c)
{
    dm_ip ip;
    return c->n_trusted_proxies == 2 && strcmp(c->trusted_proxies[1], "fd00::/8") == 0 &&
           dm__ip_parse("fd12::1", 7, &ip) == 0 && dm__cidr_match(&c->trusted_cidrs[1], &ip);
}

static const env_case env_cases[] = {
    { "DERMAGA_PORT", "9100", port_9100 },
    { "DERMAGA_LISTEN", "0.0.0.0", listen_any },
    { "DERMAGA_DATABASE_URL", "postgresql:///envdb", db_url },
    { "DERMAGA_JWT_SECRET", "env-jwt", jwt },
    { "DERMAGA_ADMIN_EMAIL", "ops@example.com", email },
    { "DERMAGA_ADMIN_PASSWORD", "env-pw", password },
    { "DERMAGA_LOG_LEVEL", "warn", log_warn },
    { "DERMAGA_PLUGINS_DIR", "/opt/dm/plugins", plugins_dir },
    { "DERMAGA_MIGRATIONS_DIR", "/opt/dm/mig", migrations },
    { "DERMAGA_OPENAPI_PATH", "/opt/dm/o.yaml", openapi },
    { "DERMAGA_MIGRATE_ON_START", "false", no_migrate },
    { "DERMAGA_MIGRATE_ON_START", "0", no_migrate },
    { "DERMAGA_CORS_ORIGINS", " https://a.example ,http://localhost:5173,", cors_two },
    { "DERMAGA_TRUSTED_PROXIES", "127.0.0.1, fd00::/8", trusted_two },
};

START_TEST(env_override_applies)
{
    const env_case *c = &env_cases[_i];
    SET_ENV(c->name, c->value);
    dm_config cfg;
    expect_loaded(&cfg, NULL);
    ck_assert_msg(c->applied(&cfg), "%s=%s was not applied", c->name, c->value);
    dm__config_free(&cfg);
    /* and it beats the file */
    expect_loaded(&cfg, "{\"server\": {\"port\": 1234, \"listen\": \"::\"}, \"logLevel\": \"error\","
                        " \"database\": {\"migrateOnStart\": true, \"url\": \"x\"}}");
    ck_assert_msg(c->applied(&cfg), "%s=%s did not override the file", c->name, c->value);
    dm__config_free(&cfg);
}
END_TEST

START_TEST(empty_env_value_is_ignored)
{
    SET_ENV("DERMAGA_PORT", "", "DERMAGA_LISTEN", "");
    dm_config cfg;
    expect_loaded(&cfg, "{\"server\": {\"port\": 9000}}");
    ck_assert_int_eq(cfg.port, 9000);
    ck_assert_str_eq(cfg.listen, "127.0.0.1");
    dm__config_free(&cfg);
}
END_TEST

START_TEST(real_getenv_and_config_path)
{
    for (size_t i = 0; i < dm__config_nkeys; i++) {
        if (dm__config_keys[i].env != NULL) {
            unsetenv(dm__config_keys[i].env);
        }
    }
    const char *json = "{\"server\": {\"maxHeaders\": 42}}";
    char *path = temp_file(json, strlen(json));
    setenv("DERMAGA_CONFIG", path, 1);
    setenv("DERMAGA_PORT", "9200", 1);
    dm_config cfg;
    dm_err_t err;
    int rc = dm__config_load(&cfg, NULL, &err);
    ck_assert_msg(rc == 0, "load: %s", err.msg);
    ck_assert_int_eq(cfg.max_headers, 42);
    ck_assert_int_eq(cfg.port, 9200);
    dm__config_free(&cfg);
    /* the text loader with env NULL also reads the real environment */
    rc = dm__config_load_text(&cfg, NULL, NULL, &err);
    ck_assert_msg(rc == 0 && cfg.port == 9200, "load_text(env NULL) should use getenv: %s", err.msg);
    dm__config_free(&cfg);
    unsetenv("DERMAGA_CONFIG");
    unsetenv("DERMAGA_PORT");
    drop_file(path);
}
END_TEST

START_TEST(explicit_path_missing_file)
{
    dm_config cfg;
    dm_err_t err;
    int rc = dm__config_load(&cfg, "/nonexistent/dermaga.json", &err);
    ck_assert_int_eq(rc, DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "/nonexistent/dermaga.json") != NULL, "message names the file: %s", err.msg);
}
END_TEST

/* ---- JSON syntax ---- */

START_TEST(syntax_error_names_line_and_column)
{
    NO_ENV();
    expect_refused("{\n  \"server\": {\n    \"port\": 80,,\n  }\n}", "<text>:3:");
    const char *bad = "{\n  \"logLevel\": \"info\"\n  \"openapiPath\": \"x\"\n}\n";
    char *path = temp_file(bad, strlen(bad));
    char want[512];
    snprintf(want, sizeof want, "%s:3:", path);
    dm_config cfg;
    dm_err_t err;
    int rc = dm__config_load(&cfg, path, &err);
    ck_assert_int_eq(rc, DM_EINVAL);
    ck_assert_msg(strstr(err.msg, want) != NULL, "message \"%s\" should contain \"%s\"", err.msg, want);
    drop_file(path);
}
END_TEST

START_TEST(duplicate_key_refused)
{
    NO_ENV();
    expect_refused("{\"logLevel\": \"info\", \"logLevel\": \"debug\"}", "duplicate");
}
END_TEST

START_TEST(top_level_must_be_object)
{
    NO_ENV();
    expect_refused("[1, 2]", "one JSON object");
}
END_TEST

/* ---- unknown keys ---- */

START_TEST(unknown_top_level_key)
{
    NO_ENV();
    expect_refused("{\"colour\": 1}", "unknown key \"colour\"");
}
END_TEST

START_TEST(unknown_nested_key_with_hint)
{
    NO_ENV();
    expect_refused("{\"server\": {\"prot\": 80}}", "unknown key \"server.prot\" (did you mean \"server.port\"?)");
    expect_refused("{\"server\": {\"tls\": {\"cert\": \"x\"}}}", "unknown key \"server.tls\"");
    expect_refused("{\"auth\": {\"jwtSecret\": \"x\", \"jwt\": 1}}", "unknown key \"auth.jwt\"");
}
END_TEST

START_TEST(dotted_key_is_not_a_path)
{
    NO_ENV();
    expect_refused("{\"server.port\": 80}", "unknown key \"server.port\"");
}
END_TEST

START_TEST(section_must_be_object)
{
    NO_ENV();
    expect_refused("{\"server\": 5}", "\"server\" must be an object");
}
END_TEST

START_TEST(plugin_config_keys_are_not_checked_here)
{
    NO_ENV();
    dm_config cfg;
    expect_loaded(&cfg, "{\"plugins\": {\"enabled\": [{\"name\": \"payment-manual\", \"enabled\": false,"
                        " \"config\": {\"anything\": {\"goes\": [1]}}}, {\"name\": \"runtime_k8s\"}]}}");
    ck_assert_uint_eq(json_array_size(cfg.plugins), 2);
    json_t *a = json_array_get(cfg.plugins, 0);
    json_t *b = json_array_get(cfg.plugins, 1);
    ck_assert_str_eq(json_string_value(json_object_get(a, "name")), "payment-manual");
    ck_assert(json_is_false(json_object_get(a, "enabled")));
    ck_assert_ptr_nonnull(json_object_get(json_object_get(a, "config"), "anything"));
    ck_assert_msg(json_is_true(json_object_get(b, "enabled")), "enabled defaults to true");
    ck_assert_msg(json_is_object(json_object_get(b, "config")) && json_object_size(json_object_get(b, "config")) == 0,
                  "config defaults to {}");
    dm__config_free(&cfg);
}
END_TEST

/* ---- wrong types and ranges: each refusal names its key ---- */

typedef struct bad_case {
    const char *json;
    const char *want; /* a part of the message, always including the key */
} bad_case;

static const bad_case bad_cases[] = {
    { "{\"server\": {\"port\": \"abc\"}}",
      "config: \"server.port\" must be an integer between 1 and 65535, got \"abc\"" },
    { "{\"server\": {\"port\": 0}}", "\"server.port\" must be an integer between 1 and 65535, got 0" },
    { "{\"server\": {\"port\": 65536}}", "\"server.port\" must be an integer between 1 and 65535, got 65536" },
    { "{\"server\": {\"port\": 80.5}}", "\"server.port\" must be an integer" },
    { "{\"server\": {\"port\": true}}", "\"server.port\" must be an integer" },
    { "{\"server\": {\"listen\": \"localhost\"}}", "\"server.listen\" must be an IPv4 or IPv6 address literal" },
    { "{\"server\": {\"listen\": 127}}", "\"server.listen\" must be a string, got 127" },
    { "{\"server\": {\"maxBodyBytes\": 0}}", "\"server.maxBodyBytes\" must be an integer between 1 and 1073741824" },
    { "{\"server\": {\"maxBodyBytes\": 1073741825}}", "\"server.maxBodyBytes\" must be an integer between" },
    { "{\"server\": {\"maxConnections\": -1}}", "\"server.maxConnections\" must be an integer" },
    { "{\"server\": {\"corsOrigins\": \"*\"}}", "\"server.corsOrigins\" must be an array of at most 32 strings" },
    { "{\"server\": {\"corsOrigins\": [\"*\", 5]}}", "\"server.corsOrigins[1]\" must be a string" },
    { "{\"server\": {\"corsOrigins\": [\"https://a.example/\"]}}", "\"server.corsOrigins[0]\" must be \"*\" or an origin" },
    { "{\"server\": {\"corsOrigins\": [\"a.example\"]}}", "\"server.corsOrigins[0]\" must be" },
    { "{\"server\": {\"corsOrigins\": [\"https://A.example\"]}}", "\"server.corsOrigins[0]\" must be" },
    { "{\"server\": {\"corsOrigins\": [\"https://a.example:99999\"]}}", "\"server.corsOrigins[0]\" must be" },
    { "{\"server\": {\"corsOrigins\": [\"https://a.example/app\"]}}", "\"server.corsOrigins[0]\" must be" },
    { "{\"server\": {\"corsOrigins\": [\"https://\"]}}", "\"server.corsOrigins[0]\" must be" },
    { "{\"server\": {\"trustedProxies\": \"127.0.0.1\"}}",
      "\"server.trustedProxies\" must be an array of at most 32 strings" },
    { "{\"server\": {\"trustedProxies\": [\"10.0.0.0/8\", \"10.0.0.1/8\"]}}",
      "\"server.trustedProxies[1]\" must be an IPv4 or IPv6 address or CIDR range such as 10.0.0.0/8, 192.0.2.7 "
      "or fd00::/8 (no bits set below the prefix), got \"10.0.0.1/8\"" },
    { "{\"server\": {\"trustedProxies\": [\"proxy.internal\"]}}", "\"server.trustedProxies[0]\" must be an IPv4" },
    { "{\"server\": {\"trustedProxies\": [\"10.0.0.0/33\"]}}", "\"server.trustedProxies[0]\" must be an IPv4" },
    { "{\"server\": {\"trustedProxies\": [\"fe80::1%eth0\"]}}", "\"server.trustedProxies[0]\" must be an IPv4" },
    { "{\"server\": {\"trustedProxies\": [7]}}", "\"server.trustedProxies[0]\" must be a string" },
    { "{\"database\": {\"workers\": 0}}", "\"database.workers\" must be an integer between 1 and 256, got 0" },
    { "{\"database\": {\"workers\": 257}}", "\"database.workers\" must be an integer between 1 and 256" },
    { "{\"database\": {\"queueDepth\": 100001}}", "\"database.queueDepth\" must be an integer between 1 and 100000" },
    { "{\"database\": {\"migrateOnStart\": \"yes\"}}", "\"database.migrateOnStart\" must be true or false, got \"yes\"" },
    { "{\"database\": {\"migrationsDir\": \"\"}}", "\"database.migrationsDir\" must be a non-empty string" },
    { "{\"jobs\": {\"leaseS\": 0}}", "\"jobs.leaseS\" must be an integer" },
    { "{\"openapiPath\": 5}", "\"openapiPath\" must be a string, got 5" },
    { "{\"dataDir\": \"/d\"}", "\"dataDir\" was removed: nothing read it; delete it from the file" },
    { "{\"logLevel\": \"verbose\"}", "\"logLevel\" must be one of debug, info, warn, error, got \"verbose\"" },
    { "{\"auth\": {\"adminEmail\": \"nobody\"}}", "\"auth.adminEmail\" must be empty or an email address" },
    { "{\"auth\": {\"jwtSecretFile\": 5}}", "\"auth.jwtSecretFile\" must be a string (a file path)" },
    { "{\"plugins\": {\"dir\": \"\"}}", "\"plugins.dir\" must be a non-empty string" },
    { "{\"plugins\": {\"enabled\": {}}}", "\"plugins.enabled\" must be an array" },
    { "{\"plugins\": {\"enabled\": [5]}}", "\"plugins.enabled[0]\" must be an object" },
    { "{\"plugins\": {\"enabled\": [{\"enabled\": true}]}}", "\"plugins.enabled[0].name\" must be a string" },
    { "{\"plugins\": {\"enabled\": [{\"name\": \"../evil\"}]}}", "\"plugins.enabled[0].name\" must be 1 to 64" },
    { "{\"plugins\": {\"enabled\": [{\"name\": \"a\"}, {\"name\": \"a\"}]}}",
      "\"plugins.enabled[1].name\" names a plugin already listed" },
    { "{\"plugins\": {\"enabled\": [{\"name\": \"a\", \"enabled\": 1}]}}", "\"plugins.enabled[0].enabled\" must be true or false" },
    { "{\"plugins\": {\"enabled\": [{\"name\": \"a\", \"config\": []}]}}", "\"plugins.enabled[0].config\" must be an object" },
    { "{\"plugins\": {\"enabled\": [{\"name\": \"a\", \"cfg\": {}}]}}", "unknown key \"cfg\" in \"plugins.enabled[0]\"" },
};

START_TEST(bad_file_value_names_key)
{
    NO_ENV();
    expect_refused(bad_cases[_i].json, bad_cases[_i].want);
}
END_TEST

START_TEST(too_many_cors_origins)
{
    NO_ENV();
    char json[2048] = "{\"server\": {\"corsOrigins\": [";
    size_t len = strlen(json);
    for (int i = 0; i < DM_CONFIG_MAX_CORS + 1; i++) {
        len += (size_t)snprintf(json + len, sizeof json - len, "%s\"*\"", i > 0 ? "," : "");
    }
    snprintf(json + len, sizeof json - len, "]}}");
    expect_refused(json, "\"server.corsOrigins\" must be an array of at most 32 strings");
}
END_TEST

typedef struct bad_env_case {
    const char *name;
    const char *value;
    const char *want;
} bad_env_case;

static const bad_env_case bad_env_cases[] = {
    { "DERMAGA_PORT", "abc", "config: DERMAGA_PORT (server.port) must be an integer between 1 and 65535, got \"abc\"" },
    { "DERMAGA_PORT", "80x", "DERMAGA_PORT (server.port) must be an integer" },
    { "DERMAGA_PORT", " 80", "DERMAGA_PORT (server.port) must be an integer" },
    { "DERMAGA_PORT", "99999999999999999999", "DERMAGA_PORT (server.port) must be an integer" },
    { "DERMAGA_PORT", "0", "DERMAGA_PORT (server.port) must be an integer between 1 and 65535, got \"0\"" },
    { "DERMAGA_LISTEN", "my-host", "DERMAGA_LISTEN (server.listen) must be an IPv4 or IPv6 address literal" },
    { "DERMAGA_LOG_LEVEL", "loud", "DERMAGA_LOG_LEVEL (logLevel) must be one of debug, info, warn, error" },
    { "DERMAGA_ADMIN_EMAIL", "a@b@c", "DERMAGA_ADMIN_EMAIL (auth.adminEmail) must be empty or an email" },
    { "DERMAGA_MIGRATE_ON_START", "maybe", "DERMAGA_MIGRATE_ON_START (database.migrateOnStart) must be true, false, 1 or 0" },
    { "DERMAGA_CORS_ORIGINS", "https://ok.example, https://bad.example/",
      "DERMAGA_CORS_ORIGINS (server.corsOrigins) item 2 must be \"*\" or an origin" },
    { "DERMAGA_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/33",
      "DERMAGA_TRUSTED_PROXIES (server.trustedProxies) item 2 must be an IPv4 or IPv6 address or CIDR range" },
    { "DERMAGA_OPENAPI_PATH", "\xff\xfe", "DERMAGA_OPENAPI_PATH (openapiPath) must be valid UTF-8" },
};

START_TEST(bad_env_value_names_variable)
{
    const bad_env_case *c = &bad_env_cases[_i];
    SET_ENV(c->name, c->value);
    expect_refused(NULL, c->want);
}
END_TEST

/* plugins.dirs: several folders in order; plugins.dir its one-folder
 * form; setting both (file, environment, or one in each) is refused. */
START_TEST(plugin_dirs_and_the_one_folder_form)
{
    NO_ENV();
    dm_config cfg;
    size_t n = 0;
    expect_loaded(&cfg, "{\"plugins\": {\"dirs\": [\"/opt/a\", \"/opt/b\"]}}");
    const char *const *d = dm__config_plugin_dirs(&cfg, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(d[0], "/opt/a");
    ck_assert_str_eq(d[1], "/opt/b");
    dm__config_free(&cfg);
    expect_loaded(&cfg, "{\"plugins\": {\"dir\": \"/opt/one\"}}");
    d = dm__config_plugin_dirs(&cfg, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(d[0], "/opt/one");
    dm__config_free(&cfg);
    SET_ENV("DERMAGA_PLUGINS_DIRS", "/e/a,/e/b");
    expect_loaded(&cfg, NULL);
    d = dm__config_plugin_dirs(&cfg, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(d[1], "/e/b");
    dm__config_free(&cfg);
    const char *both = "config: plugins.dir and plugins.dirs (or DERMAGA_PLUGINS_DIR and DERMAGA_PLUGINS_DIRS) "
                       "are both set; use one";
    NO_ENV();
    expect_refused("{\"plugins\": {\"dir\": \"/opt/one\", \"dirs\": [\"/opt/a\"]}}", both);
    SET_ENV("DERMAGA_PLUGINS_DIRS", "/e/a");
    expect_refused("{\"plugins\": {\"dir\": \"/opt/one\"}}", both);
    SET_ENV("DERMAGA_PLUGINS_DIR", "/e/one", "DERMAGA_PLUGINS_DIRS", "/e/a");
    expect_refused(NULL, both);
    NO_ENV();
    expect_refused("{\"plugins\": {\"dirs\": [\"\"]}}", "\"plugins.dirs[0]\" must be a non-empty folder path");
}
END_TEST

START_TEST(too_many_cors_origins_from_env)
{
    char list[1024] = "";
    size_t len = 0;
    for (int i = 0; i < DM_CONFIG_MAX_CORS + 1; i++) {
        len += (size_t)snprintf(list + len, sizeof list - len, "%shttps://h%d.example", i > 0 ? "," : "", i);
    }
    SET_ENV("DERMAGA_CORS_ORIGINS", list);
    expect_refused(NULL, "DERMAGA_CORS_ORIGINS (server.corsOrigins) item 33 is one too many");
}
END_TEST

/* ---- secrets ---- */

START_TEST(secret_from_file_strips_one_newline)
{
    char *jwt = temp_file("file-jwt\n\n", 10);
    char *pw = temp_file("file-pw\r\n", 9);
    char json[1024];
    snprintf(json, sizeof json, "{\"auth\": {\"jwtSecretFile\": \"%s\", \"adminPasswordFile\": \"%s\"}}", jwt, pw);
    NO_ENV();
    dm_config cfg;
    expect_loaded(&cfg, json);
    ck_assert_str_eq(cfg.jwt_secret, "file-jwt\n");
    ck_assert_str_eq(cfg.admin_password, "file-pw");
    dm__config_free(&cfg);
    drop_file(jwt);
    drop_file(pw);
}
END_TEST

START_TEST(secret_file_from_env)
{
    char *jwt = temp_file("env-file-jwt", 12);
    char *pw = temp_file("env-file-pw\n", 12);
    SET_ENV("DERMAGA_JWT_SECRET_FILE", jwt, "DERMAGA_ADMIN_PASSWORD_FILE", pw);
    dm_config cfg;
    /* the environment's file beats the file's value */
    expect_loaded(&cfg, "{\"auth\": {\"jwtSecret\": \"from-config\"}}");
    ck_assert_str_eq(cfg.jwt_secret, "env-file-jwt");
    ck_assert_str_eq(cfg.admin_password, "env-file-pw");
    dm__config_free(&cfg);
    drop_file(jwt);
    drop_file(pw);
}
END_TEST

START_TEST(secret_file_missing)
{
    NO_ENV();
    expect_refused("{\"auth\": {\"jwtSecretFile\": \"/nonexistent/jwt\"}}",
                   "\"auth.jwtSecretFile\": cannot read /nonexistent/jwt");
    SET_ENV("DERMAGA_ADMIN_PASSWORD_FILE", "/nonexistent/pw");
    expect_refused(NULL, "DERMAGA_ADMIN_PASSWORD_FILE (auth.adminPasswordFile): cannot read /nonexistent/pw");
}
END_TEST

START_TEST(secret_file_empty)
{
    char *empty = temp_file("", 0);
    char *newline = temp_file("\n", 1);
    char json[512];
    NO_ENV();
    snprintf(json, sizeof json, "{\"auth\": {\"jwtSecretFile\": \"%s\"}}", empty);
    expect_refused(json, "\"auth.jwtSecretFile\"");
    expect_refused(json, "is empty");
    snprintf(json, sizeof json, "{\"auth\": {\"adminPasswordFile\": \"%s\"}}", newline);
    expect_refused(json, "\"auth.adminPasswordFile\"");
    expect_refused(json, "is empty");
    drop_file(empty);
    drop_file(newline);
}
END_TEST

START_TEST(secret_file_must_be_regular)
{
    NO_ENV();
    expect_refused("{\"auth\": {\"jwtSecretFile\": \"/\"}}", "\"auth.jwtSecretFile\": / must be a regular file");
}
END_TEST

START_TEST(secret_and_file_together_refused)
{
    char *f = temp_file("x", 1);
    char json[512];
    snprintf(json, sizeof json, "{\"auth\": {\"jwtSecret\": \"v\", \"jwtSecretFile\": \"%s\"}}", f);
    NO_ENV();
    expect_refused(json, "\"auth.jwtSecret\" and \"auth.jwtSecretFile\" are both set");
    SET_ENV("DERMAGA_ADMIN_PASSWORD", "v", "DERMAGA_ADMIN_PASSWORD_FILE", f);
    expect_refused(NULL, "DERMAGA_ADMIN_PASSWORD and DERMAGA_ADMIN_PASSWORD_FILE are both set");
    drop_file(f);
}
END_TEST

static const char *const bad_utf8_secret[] = { "DERMAGA_JWT_SECRET", "hunter2-TOPSECRET\xff", NULL };

START_TEST(secret_never_in_messages)
{
    NO_ENV();
    const char *hidden = "hunter2-TOPSECRET";
    expect_refused("{\"auth\": {\"jwtSecret\": [\"hunter2-TOPSECRET\"]}}", "\"auth.jwtSecret\" must be a string");
    expect_refused("{\"auth\": {\"adminPassword\": {\"v\": \"hunter2-TOPSECRET\"}}}", "\"auth.adminPassword\"");
    expect_refused("{\"database\": {\"url\": [\"postgresql://u:hunter2-TOPSECRET@h/db\"]}}", "\"database.url\"");
    SET_ENV("DERMAGA_JWT_SECRET", "hunter2-TOPSECRET\xff");
    expect_refused(NULL, "DERMAGA_JWT_SECRET (auth.jwtSecret) must be valid UTF-8");
    /* and check the whole messages, not just a part */
    const char *jsons[] = {
        "{\"auth\": {\"jwtSecret\": [\"hunter2-TOPSECRET\"]}}",
        "{\"auth\": {\"adminPassword\": {\"v\": \"hunter2-TOPSECRET\"}}}",
        "{\"database\": {\"url\": [\"postgresql://u:hunter2-TOPSECRET@h/db\"]}}",
        NULL,
    };
    for (size_t i = 0; i < 4; i++) {
        dm_config cfg;
        dm_err_t err;
        if (i < 3) {
            NO_ENV();
        } else {
            g_env = bad_utf8_secret; /* a compound literal here would die with the block */
        }
        ck_assert_int_eq(load(&cfg, jsons[i], &err), DM_EINVAL);
        ck_assert_msg(strstr(err.msg, hidden) == NULL, "secret leaked into: %s", err.msg);
    }
    char *f = temp_file("hunter2-TOPSECRET\0tail", 22);
    char json[512];
    snprintf(json, sizeof json, "{\"auth\": {\"jwtSecretFile\": \"%s\"}}", f);
    NO_ENV();
    dm_config cfg;
    dm_err_t err;
    ck_assert_int_eq(load(&cfg, json, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "NUL") != NULL, "NUL byte refused: %s", err.msg);
    ck_assert_msg(strstr(err.msg, hidden) == NULL, "secret leaked into: %s", err.msg);
    drop_file(f);
}
END_TEST

/* ---- CORS ---- */

START_TEST(cors_exact_match)
{
    NO_ENV();
    dm_config cfg;
    expect_loaded(&cfg, "{\"server\": {\"corsOrigins\": [\"https://app.example.com\", \"https://[::1]:8443\"]}}");
    ck_assert(dm__config_cors_allowed(&cfg, "https://app.example.com"));
    ck_assert(dm__config_cors_allowed(&cfg, "https://[::1]:8443"));
    ck_assert_msg(!dm__config_cors_allowed(&cfg, "https://app.example.com:443"), "no normalisation: exact only");
    ck_assert(!dm__config_cors_allowed(&cfg, "http://app.example.com"));
    ck_assert(!dm__config_cors_allowed(&cfg, "https://evil.example.com"));
    ck_assert(!dm__config_cors_allowed(&cfg, NULL));
    dm__config_free(&cfg);
}
END_TEST

START_TEST(cors_star_and_empty)
{
    NO_ENV();
    dm_config cfg;
    expect_loaded(&cfg, "{\"server\": {\"corsOrigins\": [\"*\"]}}");
    ck_assert(dm__config_cors_allowed(&cfg, "https://anything.example"));
    dm__config_free(&cfg);
    expect_loaded(&cfg, NULL);
    ck_assert_msg(!dm__config_cors_allowed(&cfg, "https://anything.example"), "empty list allows none");
    dm__config_free(&cfg);
}
END_TEST

/* ---- lifecycle ---- */

START_TEST(free_is_safe_twice_and_on_zeroed)
{
    dm_config cfg;
    memset(&cfg, 0, sizeof cfg);
    dm__config_free(&cfg);
    NO_ENV();
    expect_loaded(&cfg, NULL);
    dm__config_free(&cfg);
    dm__config_free(&cfg);
    dm__config_free(NULL);
}
END_TEST

/* ---- the example file and the docs follow the table ---- */

START_TEST(example_file_loads_to_defaults)
{
    NO_ENV();
    char *text = read_all(DM_SOURCE_DIR "/config/dermaga.example.json");
    dm_config ex, def;
    expect_loaded(&ex, text);
    expect_loaded(&def, NULL);
    char *a = json_dumps(ex.root, JSON_SORT_KEYS);
    char *b = json_dumps(def.root, JSON_SORT_KEYS);
    ck_assert_msg(json_equal(ex.root, def.root), "the example should hold the defaults:\n%s\nvs\n%s", a, b);
    free(a);
    free(b);
    json_t *tree = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(tree);
    for (size_t i = 0; i < dm__config_nkeys; i++) {
        const char *path = dm__config_keys[i].path;
        json_t *node = tree;
        char part[64];
        const char *p = path, *dot;
        while (node != NULL && (dot = strchr(p, '.')) != NULL) {
            snprintf(part, sizeof part, "%.*s", (int)(dot - p), p);
            node = json_object_get(node, part);
            p = dot + 1;
        }
        ck_assert_msg(node != NULL && json_object_get(node, p) != NULL,
                      "config/dermaga.example.json lacks \"%s\"", path);
    }
    json_decref(tree);
    free(text);
    dm__config_free(&ex);
    dm__config_free(&def);
}
END_TEST

START_TEST(docs_key_table_is_current)
{
    static const char begin[] = "<!-- BEGIN GENERATED KEY TABLE -->\n";
    static const char end[] = "<!-- END GENERATED KEY TABLE -->";
    char *doc = read_all(DM_SOURCE_DIR "/docs/configuration.md");
    char *table = dm__config_describe();
    ck_assert_ptr_nonnull(table);
    char *b = strstr(doc, begin);
    char *e = b != NULL ? strstr(b, end) : NULL;
    ck_assert_msg(b != NULL && e != NULL, "docs/configuration.md lacks the generated-table markers");
    b += strlen(begin);
    *e = '\0';
    if (strcmp(b, table) != 0) {
        FILE *f = fopen(DM_BUILD_DIR "/config-key-table.md", "w");
        if (f != NULL) {
            fputs(table, f);
            fclose(f);
        }
        ck_abort_msg("docs/configuration.md key table is stale: replace the text between the markers with "
                     DM_BUILD_DIR "/config-key-table.md");
    }
    for (size_t i = 0; i < dm__config_nkeys; i++) {
        if (dm__config_keys[i].env != NULL) {
            ck_assert_msg(strstr(table, dm__config_keys[i].env) != NULL, "%s missing", dm__config_keys[i].env);
        }
    }
    free(table);
    free(doc);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("config");
    TCase *t = tcase_create("load");
    tcase_add_test(t, defaults_without_file_or_env);
    tcase_add_test(t, topup_bounds_must_be_ordered);
    tcase_add_test(t, default_plugin_dir_is_next_to_executable);
    tcase_add_test(t, file_values_are_applied);
    tcase_add_test(t, null_keeps_default);
    tcase_add_test(t, root_holds_effective_values_without_secrets);
    tcase_add_loop_test(t, env_override_applies, 0, (int)(sizeof env_cases / sizeof env_cases[0]));
    tcase_add_test(t, empty_env_value_is_ignored);
    tcase_add_test(t, real_getenv_and_config_path);
    tcase_add_test(t, explicit_path_missing_file);
    tcase_add_test(t, syntax_error_names_line_and_column);
    tcase_add_test(t, duplicate_key_refused);
    tcase_add_test(t, top_level_must_be_object);
    tcase_add_test(t, unknown_top_level_key);
    tcase_add_test(t, unknown_nested_key_with_hint);
    tcase_add_test(t, dotted_key_is_not_a_path);
    tcase_add_test(t, section_must_be_object);
    tcase_add_test(t, plugin_config_keys_are_not_checked_here);
    tcase_add_loop_test(t, bad_file_value_names_key, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(t, too_many_cors_origins);
    tcase_add_loop_test(t, bad_env_value_names_variable, 0, (int)(sizeof bad_env_cases / sizeof bad_env_cases[0]));
    tcase_add_test(t, plugin_dirs_and_the_one_folder_form);
    tcase_add_test(t, too_many_cors_origins_from_env);
    tcase_add_test(t, secret_from_file_strips_one_newline);
    tcase_add_test(t, secret_file_from_env);
    tcase_add_test(t, secret_file_missing);
    tcase_add_test(t, secret_file_empty);
    tcase_add_test(t, secret_file_must_be_regular);
    tcase_add_test(t, secret_and_file_together_refused);
    tcase_add_test(t, secret_never_in_messages);
    tcase_add_test(t, cors_exact_match);
    tcase_add_test(t, cors_star_and_empty);
    tcase_add_test(t, free_is_safe_twice_and_on_zeroed);
    tcase_add_test(t, example_file_loads_to_defaults);
    tcase_add_test(t, docs_key_table_is_current);
    tcase_add_test(t, optional_plugins_must_be_enabled);
    suite_add_tcase(s, t);
    return s;
}

DM_TEST_MAIN(make_suite)
