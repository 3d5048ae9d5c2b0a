/*
 * main.c — the dermaga command: `serve` (default), `migrate`,
 * `migrate status`, `seed`, `plugins`, `version`. Owns the start-up order
 * and the shutdown order.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "accounts/bootstrap.h"
#include "accounts/jwt.h"
#include "accounts/session_guard.h"
#include "accounts/throttle.h"
#include "app/app.h"
#include "app/config.h"
#include "app/routes.h"
#include "catalog/catalog.h"
#include "cli/cli.h"
#include "db/migrate.h"
#include "db/pool.h"
#include "http/access_log.h"
#include "http/server.h"
#include "http/sse.h"
#include "instances/instance_health.h"
#include "instances/instance_jobs.h"
#include "instances/log_hub.h"
#include "instances/logs_socket.h"
#include "instances/reconciler.h"
#include "jobs/jobs.h"
#include "ops/db_gauges.h"
#include "ops/openapi.h"
#include "plugin/call.h"
#include "plugin/registry.h"
#include "plugincheck/check.h"
#include "subscriptions/period_end.h"
#include "util/build_info.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/log_file.h"
#include "wallet/wallet_jobs.h"
#include "web/web_files.h"

/* `dermaga migrate status` when some migrations are not applied yet. */
#define DM_EXIT_PENDING 3

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dermaga [command] [--config FILE | --config=FILE]\n"
            "commands:\n"
            "  serve     migrate (unless database.migrateOnStart is false) and serve HTTP (default);\n"
            "            SIGTERM/SIGINT drain and exit, SIGHUP is logged and changes nothing\n"
            "  migrate   apply pending migrations and exit\n"
            "  migrate status  list each migration as applied (with when) or pending, applying\n"
            "            nothing; exit 0 when none is pending, 3 when some are, 1 on errors\n"
            "  seed [FILE]  migrate, then load the catalog (default catalogPath) by slug\n"
            "  plugins   list the plugins in the plugin directory and whether each would load\n"
            "  plugin-check FILE.so [options]  load one plugin as the server would and run the\n"
            "            contract tests of its kind (dermaga plugin-check --help)\n"
            "  check     validate the configuration and load, init and unload every enabled plugin,\n"
            "            binding nothing (like nginx -t); exit 0 when all is well, 1 otherwise\n"
            "  doctor    check, then reach the database, its migrations, each runtime engine and\n"
            "            payment gateway, saying what to fix; exit 0 when all is well, 1 otherwise\n"
            "  version   print the version and the commit it was built from (also --version)\n"
            "The configuration file may also be given with DERMAGA_CONFIG.\n");
}

static int print_version(void)
{
    printf("dermaga %s (%s)\n", DM_VERSION, dm__build_commit());
    return 0;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static int require_database(const dm_config *cfg)
{
    if (cfg->database_url == NULL || cfg->database_url[0] == '\0') {
        fprintf(stderr, "dermaga: config: \"database.url\" is required "
                        "(set it in the file or with DERMAGA_DATABASE_URL)\n");
        return -1;
    }
    return 0;
}

/* Apply pending migrations; logs the outcome. 0 or a DM_E code. */
static int migrate(const dm_config *cfg)
{
    dm_err_t err = { 0 };
    dm_migrate_report rep;
    memset(&rep, 0, sizeof rep);
    int rc = dm__migrate_run(cfg->database_url, cfg->migrations_dir, &rep, &err);
    if (rc != 0) {
        DM_LOG_E("migrate: %s", err.msg);
        return rc;
    }
    DM_LOG_I("migrate: %d applied, %d already applied, schema version %d", rep.applied,
             rep.already, rep.last_version);
    return 0;
}

static void print_status(const dm_migrate_status_report *rep)
{
    static const char *const states[] = {
        [DM_MIGRATION_PENDING] = "pending",
        [DM_MIGRATION_APPLIED] = "applied",
        [DM_MIGRATION_CHANGED] = "applied, file changed since",
        [DM_MIGRATION_FILE_MISSING] = "applied, file missing",
    };
    int width = 0;
    for (int i = 0; i < rep->n; i++) {
        int len = (int)strlen(rep->items[i].file);
        width = len > width ? len : width;
    }
    for (int i = 0; i < rep->n; i++) {
        const dm_migration_status *m = &rep->items[i];
        printf("%-*s  %-7s%s%s\n", width, m->file, states[m->state], m->applied_at[0] != '\0' ? "  " : "",
               m->applied_at);
    }
    printf("%d migration(s): %d applied, %d pending\n", rep->n, rep->n - rep->pending, rep->pending);
}

/* `dermaga migrate status`: applies nothing. 0 when none is pending,
 * DM_EXIT_PENDING when some are, 1 on errors (no database, an unreadable
 * directory, an applied file changed since). */
static int migrate_status(const dm_config *cfg)
{
    if (require_database(cfg) != 0)
        return 1;
    dm_err_t err = { 0 };
    dm_migrate_status_report rep;
    int rc = dm__migrate_status(cfg->database_url, cfg->migrations_dir, &rep, &err);
    if (rc != 0) {
        fprintf(stderr, "dermaga: migrate status: %s\n", err.msg);
        dm__migrate_status_free(&rep);
        return 1;
    }
    print_status(&rep);
    rc = rep.pending > 0 ? DM_EXIT_PENDING : 0;
    if (rep.changed > 0) {
        fprintf(stderr, "dermaga: migrate status: %d applied migration file(s) changed since; "
                        "`dermaga migrate` will refuse to run until they are restored\n", rep.changed);
        rc = 1;
    }
    dm__migrate_status_free(&rep);
    return rc;
}

/* Periodic: drop failed-login records older than the throttling window. */
static int prune_auth_failures(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err)
{
    (void)job;
    (void)ctx;
    return dm__throttle_prune(db, NULL, err);
}

/* The job runner: threads with their own connections, started after the
 * schema is in place. Later issues register their kinds here. */
static dm_jobs_runner *start_jobs(const dm_config *cfg, dm_plugin_set *plugins, dm_err_t *err)
{
    dm_jobs_runner_cfg jc;
    memset(&jc, 0, sizeof jc);
    jc.conninfo = cfg->database_url;
    jc.threads = cfg->job_workers;
    jc.poll_ms = cfg->job_poll_ms;
    jc.lease_s = cfg->job_lease_s;
    jc.db_connect_timeout_s = cfg->db_connect_timeout_s;
    jc.db_statement_timeout_ms = cfg->db_statement_timeout_ms;
    jc.prune_after_s = 7 * 24 * 3600; /* finished jobs are kept a week */
    /* Lives as long as the process: the runner's handlers borrow it. */
    static dm_instance_jobs_ctx instance_jobs;
    instance_jobs.plugins = plugins;
    instance_jobs.provision_wait_ms = cfg->provision_timeout_s * 1000;
    instance_jobs.default_runtime = cfg->default_runtime;
    dm_jobs_runner *r = dm__jobs_runner_new(&jc, err);
    if (r != NULL && (dm__jobs_register_periodic(r, "auth.prune_failures", 3600, prune_auth_failures, NULL, err) != 0
                      || dm__jobs_register_periodic(r, "wallet.expire_topups", cfg->expire_every_s,
                                                    dm__wallet_expire_job, plugins, err) != 0
                      || dm__jobs_register_periodic(r, "wallet.prune_notifications", 86400, dm__wallet_prune_job,
                                                    NULL, err) != 0
                      || dm__jobs_register_periodic(r, "subscriptions.period_end", cfg->period_check_every_s,
                                                    dm__sub_period_job, (void *)cfg, err) != 0
                      || dm__instance_jobs_register(r, &instance_jobs, err) != 0
                      || dm__reconciler_register(r, plugins, cfg->reconcile_every_s, err) != 0
                      || dm__instance_health_register(r, plugins, cfg->health_every_s, err) != 0
                      || dm__jobs_runner_start(r, err) != 0)) {
        dm__jobs_runner_free(r);
        r = NULL;
    }
    return r;
}

/* What is left of the shutdown grace period; no limit when not draining
 * (a failed start has nothing in flight). */
static int grace_left_ms(const dm_server *s)
{
    if (!s->draining)
        return -1;
    uint64_t spent_ms = (dm__clock_mono_ns() - s->drain_started_ns) / 1000000u;
    long left = (long)s->cfg->shutdown_grace_ms - (long)spent_ms;
    return left > 0 ? (int)left : 0;
}

/* The layer every plugin call goes through (plugin/call.h), with the
 * bounds of plugins.* */
static int start_calls(const dm_config *cfg, dm_err_t *err)
{
    dm_plugin_calls_cfg cc = { cfg->payment_timeout_ms, cfg->runtime_timeout_ms, cfg->call_threads_max };
    return dm__plugin_calls_start(&cc, err);
}

/* Calls whose callers timed out may still be inside plugins (a gateway
 * that hangs): they must be out before the plugins are unloaded. Within
 * what is left of the grace period, at least long enough for idle call
 * threads to leave. 0, or DM_ETIMEDOUT. */
static int stop_calls(int grace_ms)
{
    return dm__plugin_calls_stop(grace_ms < 0 ? 5000 : grace_ms < 200 ? 200 : grace_ms);
}

/* The request pools: database routes, password hashing, and routes that
 * wait on a gateway or the runtime. 0, or a DM_E code with err set. */
static int start_pools(dm_server *s, const dm_config *cfg, dm_err_t *err)
{
    s->pool = dm__pool_new(s->loop, cfg, cfg->workers, cfg->queue_depth, err);
    if (s->pool != NULL)
        s->hash_pool = dm__pool_new(s->loop, cfg, cfg->hash_workers, cfg->hash_queue_depth, err);
    if (s->hash_pool != NULL)
        s->remote_pool = dm__pool_new(s->loop, cfg, cfg->remote_workers, cfg->remote_queue_depth, err);
    return s->remote_pool != NULL ? 0 : DM_ENOMEM;
}

/* Something is still busy past the grace period (a hung database, engine
 * or gateway): leave without it rather than hang the shutdown. */
static void leave_without(const char *what)
{
    DM_LOG_W("grace period over with %s; exiting without them", what);
    dm__access_log_stop();
    _exit(0);
}

/* Stop, within the grace period, every thread that may be inside the
 * database or a plugin, in an order in which none waits on one already
 * stopped: the request pools finish their queues, the live logs' follow
 * threads leave their runtime plugin, running jobs finish (past the grace their
 * leases lapse and another node takes them over), and calls whose callers
 * timed out return from their plugins. Past the grace, _exit. */
static void stop_threads(dm_server *s, dm_log_hub *logs, dm_jobs_runner *jobs, bool calls)
{
    if ((s->pool != NULL && dm__pool_stop(s->pool, grace_left_ms(s)) != 0)
        || (s->hash_pool != NULL && dm__pool_stop(s->hash_pool, grace_left_ms(s)) != 0)
        || (s->remote_pool != NULL && dm__pool_stop(s->remote_pool, grace_left_ms(s)) != 0))
        leave_without("workers still busy");
    int follow_wait = grace_left_ms(s);
    /* A runtime notices a cancelled follow within a second: give it that
     * at least. */
    if (dm__log_hub_stop(logs, follow_wait < 1000 ? (follow_wait < 0 ? 5000 : 1000) : follow_wait) != 0)
        leave_without("log follows still reading");
    if (jobs != NULL) {
        if (dm__jobs_runner_stop_within(jobs, grace_left_ms(s)) != 0)
            leave_without("jobs still running");
        dm__jobs_runner_free(jobs);
    }
    if (calls && stop_calls(grace_left_ms(s)) != 0)
        leave_without("calls still inside plugins");
}

/* The live logs' hub (instances/log_hub.h) with the instances.log* limits,
 * and the loop-side flushing of event streams. NULL with err on failure. */
static dm_log_hub *start_logs(uv_loop_t *loop, const dm_config *cfg, dm_err_t *err)
{
    dm_log_hub_cfg hc = { (uint32_t)cfg->log_buffer_lines, cfg->log_buffer_bytes, cfg->log_line_max_bytes,
                          cfg->log_follow_linger_ms };
    if (dm__sse_start(loop) != 0) {
        dm_err_set(err, DM_EIO, "cannot start the event streams' flusher");
        return NULL;
    }
    return dm__log_hub_new(loop, &hc, err);
}

/* Sessions are signed with auth.jwtSecret: a short one can be guessed, so
 * the server refuses to start without a usable one. */
static int session_keys(const dm_config *cfg, dm_jwt_keys *keys)
{
    dm_err_t err = { 0 };
    if (dm__jwt_keys_init(keys, cfg->jwt_secret, cfg->jwt_issuer, cfg->access_token_ttl_s, &err) != 0) {
        fprintf(stderr, "dermaga: config: \"auth.jwtSecret\" (DERMAGA_JWT_SECRET, "
                        "DERMAGA_JWT_SECRET_FILE or auth.jwtSecretFile): %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* A refused enabled plugin that plugins.optional does not list (or a
 * default runtime that is not loaded) stops the start before the port is
 * bound: a node serving without its gateway or runtime would answer every
 * call that needs it with 503 while /readyz said ready. 0 to go on. */
static int refuse_blocked_start(const dm_config *cfg, const dm_plugin_set *plugins)
{
    json_t *blockers = dm__app_plugin_blockers(cfg, plugins);
    if (blockers == NULL) {
        DM_LOG_E("plugins: out of memory");
        return -1;
    }
    size_t i;
    const json_t *b;
    json_array_foreach(blockers, i, b) {
        dm__log(DM_LOG_ERROR, "plugin", "%s; not starting",
                json_string_value(json_object_get(b, "reason")) ?: "?");
    }
    size_t n = json_array_size(blockers);
    json_decref(blockers);
    return n == 0 ? 0 : -1;
}

static int serve(dm_config *cfg)
{
    dm_err_t err = { 0 };
    uv_loop_t *loop = uv_default_loop();
    dm_server s;
    dm_app app;
    dm_jwt_keys jwt;
    memset(&s, 0, sizeof s);
    memset(&app, 0, sizeof app);
    memset(&jwt, 0, sizeof jwt);
    app.cfg = cfg;
    app.jwt = &jwt;
    s.loop = loop;
    s.cfg = cfg;
    s.app = &app;
    dm__router_init(&s.router);
    int rc = 1;
    dm_jobs_runner *jobs = NULL;
    dm_db_gauges *gauges = NULL; /* /metrics' database figures */
    bool calls = false; /* the plugin call layer runs */
    if (cfg->log_file[0] != '\0' && dm__log_file_open(cfg->log_file, &err) != 0) {
        fprintf(stderr, "dermaga: %s\n", err.msg);
        goto out;
    }
    if (require_database(cfg) != 0 || session_keys(cfg, &jwt) != 0)
        goto out;
    if (cfg->migrate_on_start && migrate(cfg) != 0)
        goto out;
    s.authenticate = dm__session_guard;
    if (dm__logs_socket_start(&s, &app, &err) != 0) {
        DM_LOG_E("%s", err.msg);
        goto out;
    }
    if (dm__routes_add_all(&s.router) != 0) {
        DM_LOG_E("cannot register routes");
        goto out;
    }
    if (dm__openapi_load(cfg->openapi_path, &s.openapi_json, &s.openapi_len, &err) != 0)
        DM_LOG_E("openapi: %s; /openapi.json will answer 404", err.msg);
    dm__web_files_load(cfg->web_dir); /* logs what is missing; never fatal */
    app.plugins = dm__plugins_new();
    size_t n_dirs = 0;
    const char *const *dirs = dm__config_plugin_dirs(cfg, &n_dirs);
    if (app.plugins == NULL || dm__plugins_load_dirs(app.plugins, dirs, n_dirs, cfg->plugins, &err) != 0) {
        DM_LOG_E("plugins: %s", app.plugins == NULL ? "out of memory" : err.msg);
        goto out;
    }
    if (refuse_blocked_start(cfg, app.plugins) != 0)
        goto out;
    if (start_calls(cfg, &err) != 0) {
        DM_LOG_E("%s", err.msg);
        goto out;
    }
    calls = true;
    if (dm__bootstrap_admin(cfg, app.plugins, &err) != 0) {
        DM_LOG_E("bootstrap administrator: %s", err.msg);
        goto out;
    }
    if (start_pools(&s, cfg, &err) != 0) {
        DM_LOG_E("%s", err.msg);
        goto out;
    }
    jobs = start_jobs(cfg, app.plugins, &err);
    if (jobs == NULL) {
        DM_LOG_E("jobs: %s", err.msg);
        goto out;
    }
    app.jobs = jobs;
    gauges = dm__db_gauges_start(cfg->database_url, cfg->db_connect_timeout_s, cfg->metrics_refresh_s, &err);
    if (gauges == NULL || dm__metrics_add_source(&s.metrics, dm__db_gauges_render, gauges) != 0) {
        DM_LOG_E("metrics: %s", gauges == NULL ? err.msg : "cannot add the business gauges to /metrics");
        goto out;
    }
    app.logs = start_logs(loop, cfg, &err);
    if (app.logs != NULL && dm__metrics_add_source(&s.metrics, dm__log_hub_render_metrics, app.logs) != 0) {
        DM_LOG_E("cannot add the live logs' figures to /metrics");
        goto out;
    }
    if (app.logs == NULL || dm__server_start(&s, &err) != 0) {
        DM_LOG_E("%s", err.msg);
        goto out;
    }
    dm__access_log_start(loop);
    dm__log(DM_LOG_INFO, "core", "listening on http://%s:%d", cfg->listen, cfg->port);

    uv_run(loop, UV_RUN_DEFAULT);
    rc = 0;
    DM_LOG_I("stopped");

out:
    /* Drained (or forced, or failed to start): stop every thread, then
     * close every handle so the loop can be closed cleanly. */
    stop_threads(&s, app.logs, jobs, calls);
    dm__db_gauges_free(gauges); /* after the loop's last scrape */
    dm__log_hub_free(app.logs);
    dm__sse_stop();
    dm__access_log_stop();
    uv_walk(loop, close_walk, NULL);
    signal(SIGHUP, SIG_IGN); /* closing the handle gave it back to SIG_DFL */
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    dm__logs_socket_free();
    dm__pool_free(s.pool);
    dm__pool_free(s.hash_pool);
    dm__pool_free(s.remote_pool);
    /* Plugins go after the pools and the call layer: no thread can be
     * inside a plugin now. */
    dm__plugins_free(app.plugins);
    dm__router_free(&s.router);
    free(s.openapi_json);
    dm__web_files_free();
    dm__jwt_keys_fini(&jwt);
    if (rc != 0 && dm__log_file_path() != NULL)
        dprintf(dm__log_console_fd(), "dermaga: serve: the start failed; the reason is logged in %s\n",
                dm__log_file_path());
    return rc;
}

/* `dermaga seed [file]`: bring the schema up to date, then upsert the
 * catalog file (default: catalogPath). Safe to run again and again. */
static int seed(const dm_config *cfg, const char *file)
{
    if (require_database(cfg) != 0 || migrate(cfg) != 0)
        return 1;
    dm_db db;
    dm_err_t err = { 0 };
    if (dm__db_init(&db, cfg->database_url, cfg->db_connect_timeout_s, 0, &err) != 0) {
        fprintf(stderr, "dermaga: seed: %s\n", err.msg);
        return 1;
    }
    const char *path = file != NULL ? file : cfg->catalog_path;
    dm_catalog_seed_report rep = { 0 };
    /* The service plugins alone, initialised as the server would: a
     * service naming one that is not loaded is refused. */
    size_t n_dirs = 0;
    const char *const *dirs = dm__config_plugin_dirs(cfg, &n_dirs);
    dm_plugin_set *services = dm__plugins_new();
    int rc = services != NULL ? 0 : dm_err_set(&err, DM_ENOMEM, "out of memory");
    dm__plugins_only(services, DM_PLUGIN_SERVICE);
    if (rc == 0)
        rc = dm__plugins_load_dirs(services, dirs, n_dirs, cfg->plugins, &err);
    if (rc == 0)
        rc = dm__catalog_seed_file_for(&db, path, services, &rep, &err);
    dm__plugins_free(services);
    dm__db_fini(&db);
    if (rc != 0) {
        fprintf(stderr, "dermaga: seed: %s\n", err.msg);
        return 1;
    }
    printf("seeded %s: %d categories, %d services, %d plans\n", path, rep.categories, rep.services,
           rep.plans);
    return 0;
}

/* `dermaga plugins`: what would load and why not, running the enabled
 * plugins' init as a start would. Exits 1 when an enabled plugin would be
 * refused. */
static int list_plugins(const dm_config *cfg)
{
    size_t n_dirs = 0;
    const char *const *dirs = dm__config_plugin_dirs(cfg, &n_dirs);
    json_t *report = dm__plugins_report_dirs(dirs, n_dirs, cfg->plugins);
    if (report == NULL) {
        fprintf(stderr, "dermaga: cannot read the plugin directories (out of memory)\n");
        return 1;
    }
    dm__plugins_report_write(stdout, report);
    int rc = 0;
    size_t i;
    json_t *entry;
    json_array_foreach(report, i, entry) {
        if (json_is_true(json_object_get(entry, "enabled"))
            && strcmp(json_string_value(json_object_get(entry, "status")) ?: "", "refused") == 0)
            rc = 1;
    }
    json_decref(report);
    return rc;
}

/* The command line, after the options. */
typedef struct dm_cli {
    const char *command;     /* NULL: serve */
    const char *operand;     /* seed's FILE, migrate's "status" */
    const char *config_path; /* --config FILE or --config=FILE */
} dm_cli;

/* -1 to go on with cli filled; otherwise the exit status (help, version,
 * or a usage error, already printed). */
static int parse_args(int argc, char **argv, dm_cli *cli)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--config") == 0 && i + 1 < argc) {
            cli->config_path = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0 && a[9] != '\0') {
            cli->config_path = a + 9;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            return print_version();
        } else if (a[0] != '-' && cli->command == NULL) {
            cli->command = a;
        } else if (a[0] != '-' && cli->operand == NULL
                   && (strcmp(cli->command, "seed") == 0 || strcmp(cli->command, "migrate") == 0)) {
            cli->operand = a;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (cli->command != NULL && strcmp(cli->command, "migrate") == 0 && cli->operand != NULL
        && strcmp(cli->operand, "status") != 0) {
        fprintf(stderr, "dermaga: migrate: unknown subcommand \"%s\"\n", cli->operand);
        usage(stderr);
        return 2;
    }
    return -1;
}

int main(int argc, char **argv)
{
    /* The conformance kit has options of its own and needs no server config. */
    if (argc >= 2 && strcmp(argv[1], "plugin-check") == 0) {
        signal(SIGPIPE, SIG_IGN);
        return dm__plugin_check_main(argc - 2, argv + 2);
    }
    dm_cli cli = { NULL, NULL, NULL };
    int parsed = parse_args(argc, argv, &cli);
    if (parsed >= 0)
        return parsed;
    const char *command = cli.command != NULL ? cli.command : "serve";
    const char *operand = cli.operand;
    const char *config_path = cli.config_path;
    if (config_path == NULL && getenv("DERMAGA_CONFIG") != NULL && getenv("DERMAGA_CONFIG")[0] != '\0')
        config_path = getenv("DERMAGA_CONFIG"); /* only to name it: the load reads it anyway */
    if (strcmp(command, "version") == 0)
        return print_version();
    signal(SIGPIPE, SIG_IGN);
    /* SIGHUP must not kill the server: ignored from here until the loop
     * takes it (http/server.c logs it), and again once that handle closes. */
    if (strcmp(command, "serve") == 0)
        signal(SIGHUP, SIG_IGN);

    dm_config cfg;
    dm_err_t err = { 0 };
    if (dm__config_load(&cfg, config_path, &err) != 0) {
        if (strcmp(command, "check") == 0 || strcmp(command, "doctor") == 0)
            printf("FAIL  %s\n%s: 1 problem(s)\n", err.msg, command);
        fprintf(stderr, "dermaga: %s\n", err.msg);
        dm__config_free(&cfg);
        return 2;
    }
    dm_log_level_t level;
    if (dm__log_parse_level(cfg.log_level, &level) == 0)
        dm__log_set_level(level);
    /* check and doctor report on stdout; their stderr keeps only warnings
     * and errors (plugins' init chatter would bury the report). */
    if ((strcmp(command, "check") == 0 || strcmp(command, "doctor") == 0) && dm__log_get_level() == DM_LOG_INFO)
        dm__log_set_level(DM_LOG_WARN);

    int rc;
    if (dm__plugins_global_init() != 0) {
        fprintf(stderr, "dermaga: cannot initialise libcurl\n");
        dm__config_free(&cfg);
        return 1;
    }
    if (strcmp(command, "serve") == 0) {
        rc = serve(&cfg);
    } else if (strcmp(command, "migrate") == 0) {
        rc = operand != NULL ? migrate_status(&cfg)
                             : require_database(&cfg) == 0 && migrate(&cfg) == 0 ? 0 : 1;
    } else if (strcmp(command, "seed") == 0) {
        rc = seed(&cfg, operand);
    } else if (strcmp(command, "plugins") == 0) {
        rc = list_plugins(&cfg);
    } else if (strcmp(command, "check") == 0) {
        rc = dm__cli_check(&cfg, config_path);
    } else if (strcmp(command, "doctor") == 0) {
        rc = dm__cli_doctor(&cfg, config_path);
    } else {
        fprintf(stderr, "dermaga: unknown command \"%s\"\n", command);
        usage(stderr);
        rc = 2;
    }
    dm__plugins_global_cleanup();
    dm__config_free(&cfg);
    return rc;
}
