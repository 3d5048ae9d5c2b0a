/*
 * doctor.c — `dermaga doctor` (cli/cli.h): check's items, then whether
 * what the configuration points at answers from this machine: the
 * database (a connection with database.url and database.connectTimeoutS),
 * its migrations (db/migrate.h's status: nothing applied, nothing
 * locked), each loaded runtime plugin's engine and each payment plugin's
 * gateway, through ops they already have (no probe op in the ABI): a
 * runtime lists the workloads of an owner that owns none (the read the
 * reconciler makes), a gateway is asked for an order it does not know.
 * Read-only everywhere; never prints a secret (the database is named by
 * host, port, user and database, never by its URL).
 */
#include "cli/cli.h"

#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "cli/report.h"
#include "db/migrate.h"
#include "plugin/call.h"

/* No installation id looks like this one, so no workload is its. */
#define PROBE_OWNER "00000000-0000-0000-0000-000000000000"
#define PROBE_ORDER "dermaga-doctor-probe"
/* A probe waits at most this long, whatever plugins.*TimeoutMs say. */
#define PROBE_TIMEOUT_MS 10000

/* "user@host:port/dbname" of a conninfo or URL, without its password;
 * "(unparsable database.url)" when libpq cannot read it. */
static void describe_db(const char *conninfo, char *out, size_t cap)
{
    char *why = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &why);
    PQfreemem(why);
    if (opts == NULL) {
        snprintf(out, cap, "(unparsable database.url)");
        return;
    }
    const char *host = NULL, *port = NULL, *user = NULL, *db = NULL;
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (strcmp(o->keyword, "hostaddr") == 0 && host == NULL)
            host = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            port = o->val;
        else if (strcmp(o->keyword, "user") == 0)
            user = o->val;
        else if (strcmp(o->keyword, "dbname") == 0)
            db = o->val;
    }
    snprintf(out, cap, "%s%s%s:%s/%s", user != NULL ? user : "", user != NULL ? "@" : "",
             host != NULL ? host : "(default socket)", port != NULL ? port : "5432", db != NULL ? db : "");
    PQconninfoFree(opts);
}

/* A connection of our own: dm__db_ensure logs libpq's reason but returns
 * only "unavailable", and the reason is what the operator needs. true
 * when it answered. */
static bool check_database(dm_cli_report *r, const dm_config *cfg)
{
    char where[256];
    describe_db(cfg->database_url, where, sizeof where);
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d", cfg->db_connect_timeout_s);
    const char *keys[] = { "dbname", "connect_timeout", "application_name", NULL };
    const char *vals[] = { cfg->database_url, timeout, "dermaga-doctor", NULL };
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    bool ok = c != NULL && PQstatus(c) == CONNECTION_OK;
    if (ok) {
        int v = PQserverVersion(c);
        dm__cli_ok(r, "database", "%s answered (PostgreSQL %d.%d)", where, v / 10000, v % 10000);
    } else {
        const char *why = c != NULL ? PQerrorMessage(c) : "out of memory";
        /* libpq's message names host and port, never the password. */
        dm__cli_fail(r, "database", "unreachable at %s: %.*s; is PostgreSQL running and reachable from "
                                    "here? check database.url (and database.connectTimeoutS, %d s)",
                     where, (int)strcspn(why, "\n"), why, cfg->db_connect_timeout_s);
    }
    PQfinish(c);
    return ok;
}

static void check_migrations(dm_cli_report *r, const dm_config *cfg)
{
    dm_migrate_status_report rep;
    dm_err_t err = { 0, "" };
    memset(&rep, 0, sizeof rep);
    if (dm__migrate_status(cfg->database_url, cfg->migrations_dir, &rep, &err) != 0)
        dm__cli_fail(r, "migrations", "%s (database.migrationsDir is %s)", err.msg, cfg->migrations_dir);
    else if (rep.changed > 0)
        dm__cli_fail(r, "migrations", "%d applied migration file(s) changed since they were applied; restore "
                                      "them (`dermaga migrate status` lists them)", rep.changed);
    else if (rep.missing > 0)
        dm__cli_fail(r, "migrations", "the database has %d migration(s) this build does not know (a newer "
                                      "dermaga migrated it?); run the newer version here", rep.missing);
    else if (rep.pending > 0)
        dm__cli_fail(r, "migrations", "%d of %d pending; run `dermaga migrate` (serve applies them at start "
                                      "unless database.migrateOnStart is false)", rep.pending, rep.n);
    else
        dm__cli_ok(r, "migrations", "%d applied, none pending", rep.n);
    dm__migrate_status_free(&rep);
}

static void probe_runtime(dm_cli_report *r, const dm_plugin *p, const char *what)
{
    json_t *ids = NULL;
    dm_err_t err = { 0, "" };
    int rc = dm__runtime_workloads(p, PROBE_OWNER, &ids, &err);
    json_decref(ids);
    if (rc == 0)
        dm__cli_ok(r, what, "the engine answered (listed workloads)");
    else if (rc == DM_EUNSUPPORTED)
        dm__cli_warn(r, what, "not probed: the plugin (ABI %u.%u) has no workloads op", p->abi_major,
                     p->abi_minor);
    else
        dm__cli_fail(r, what, "the engine did not answer: %s; is it running and reachable from here? check "
                              "this plugin's config in plugins.enabled (host, kubeconfig, namespace, "
                              "credentials)", err.msg);
}

static void probe_payment(dm_cli_report *r, const dm_plugin *p, const char *what)
{
    dm_payment_event_t ev;
    dm_err_t err = { 0, "" };
    memset(&ev, 0, sizeof ev);
    int rc = dm__payment_query_status(p, PROBE_ORDER, NULL, &ev, &err);
    json_decref(ev.raw);
    if (rc == 0 || rc == DM_ENOTFOUND)
        dm__cli_ok(r, what, "the gateway answered (asked for an order it does not know)");
    else if (rc == DM_EUNSUPPORTED)
        dm__cli_ok(r, what, "no gateway to reach (%s)", err.msg);
    else if (rc == DM_EPERM)
        dm__cli_fail(r, what, "the gateway answered but refused our credentials: %s; check the key in this "
                              "plugin's config", err.msg);
    else
        dm__cli_fail(r, what, "the gateway did not answer: %s; check the network from here and the base URL "
                              "in this plugin's config", err.msg);
}

/* Each runtime and payment plugin, through the call layer with short bounds. */
static void probe_plugins(dm_cli_report *r, const dm_config *cfg, const dm_plugin_set *set)
{
    dm_plugin_calls_cfg cc = { cfg->payment_timeout_ms < PROBE_TIMEOUT_MS ? cfg->payment_timeout_ms : PROBE_TIMEOUT_MS,
                               cfg->runtime_timeout_ms < PROBE_TIMEOUT_MS ? cfg->runtime_timeout_ms : PROBE_TIMEOUT_MS,
                               4 };
    dm_err_t err = { 0, "" };
    if (dm__plugin_calls_start(&cc, &err) != 0) {
        dm__cli_fail(r, "plugins", "%s", err.msg);
        return;
    }
    for (size_t i = 0; i < dm__plugins_count(set); i++) {
        const dm_plugin *p = dm__plugins_at(set, i);
        char what[96];
        snprintf(what, sizeof what, "reach %s", p->name);
        if (p->kind == DM_PLUGIN_RUNTIME)
            probe_runtime(r, p, what);
        else if (p->kind == DM_PLUGIN_PAYMENT)
            probe_payment(r, p, what);
    }
    if (dm__plugin_calls_stop(PROBE_TIMEOUT_MS) != 0) {
        /* A plugin still inside a call cannot be unloaded under it. */
        dm__cli_fail(r, "plugins", "a probe is still inside its plugin after %d ms; leaving without unloading",
                     PROBE_TIMEOUT_MS);
        dm__cli_summary(r, "doctor");
        _exit(1);
    }
}

int dm__cli_doctor(const dm_config *cfg, const char *config_path)
{
    dm_cli_report r = { stdout, 0, 0 };
    dm_plugin_set *set = dm__cli_check_items(&r, cfg, config_path);
    if (cfg->database_url != NULL && cfg->database_url[0] != '\0' && check_database(&r, cfg))
        check_migrations(&r, cfg);
    if (set != NULL)
        probe_plugins(&r, cfg, set);
    dm__plugins_free(set);
    return dm__cli_summary(&r, "doctor");
}
