/*
 * check.c — `dermaga check` (cli/cli.h) and the report lines it shares
 * with doctor (cli/report.h).
 */
#include "cli/cli.h"

#include <stdarg.h>
#include <string.h>

#include "accounts/jwt.h"
#include "app/app.h"
#include "cli/report.h"
#include "plugin/kinds.h"

void dm__cli_item(dm_cli_report *r, dm_cli_status st, const char *what, const char *fmt, ...)
{
    static const char *const names[] = { [DM_CLI_OK] = "ok", [DM_CLI_WARN] = "WARN", [DM_CLI_FAIL] = "FAIL" };
    va_list ap;
    va_start(ap, fmt);
    fprintf(r->out, "%-4s  %s: ", names[st], what);
    vfprintf(r->out, fmt, ap);
    fputc('\n', r->out);
    va_end(ap);
    r->warned += st == DM_CLI_WARN;
    r->failed += st == DM_CLI_FAIL;
}

int dm__cli_summary(dm_cli_report *r, const char *command)
{
    if (r->failed == 0)
        fprintf(r->out, "%s: ok%s\n", command, r->warned > 0 ? " (with warnings)" : "");
    else
        fprintf(r->out, "%s: %d problem(s)\n", command, r->failed);
    fflush(r->out);
    return r->failed == 0 ? 0 : 1;
}

/* What serve refuses before it binds, beyond what loading the file checks. */
static void check_config(dm_cli_report *r, const dm_config *cfg, const char *config_path)
{
    if (config_path != NULL)
        dm__cli_ok(r, "config", "%s read and valid", config_path);
    else
        dm__cli_ok(r, "config", "no file (defaults and DERMAGA_* variables) valid");
    if (cfg->database_url == NULL || cfg->database_url[0] == '\0')
        dm__cli_fail(r, "database.url", "empty; set it in the file or with DERMAGA_DATABASE_URL");
    dm_jwt_keys keys;
    dm_err_t err = { 0, "" };
    memset(&keys, 0, sizeof keys);
    if (dm__jwt_keys_init(&keys, cfg->jwt_secret, cfg->jwt_issuer, cfg->access_token_ttl_s, &err) != 0)
        dm__cli_fail(r, "auth.jwtSecret", "%s (set DERMAGA_JWT_SECRET, DERMAGA_JWT_SECRET_FILE or "
                                          "auth.jwtSecretFile)", err.msg);
    dm__jwt_keys_fini(&keys);
}

/* One line per loaded plugin, one per optional refusal; the refusals that
 * stop a start come with the blockers. */
static void report_plugins(dm_cli_report *r, const dm_config *cfg, const dm_plugin_set *set)
{
    char what[96];
    for (size_t i = 0; i < dm__plugins_count(set); i++) {
        const dm_plugin *p = dm__plugins_at(set, i);
        snprintf(what, sizeof what, "plugin %s", p->name);
        dm__cli_ok(r, what, "%s %s, ABI %u.%u, init ok (%s)", dm__plugin_kind_name(p->kind), p->version,
                   p->abi_major, p->abi_minor, p->file);
    }
    size_t i;
    const json_t *e;
    json_array_foreach(dm__plugins_refusals(set), i, e) {
        const char *name = json_string_value(json_object_get(e, "name"));
        if (!dm__config_plugin_optional(cfg, name))
            continue;
        snprintf(what, sizeof what, "plugin %s", name);
        dm__cli_warn(r, what, "refused: %s (optional: serve starts without it and /readyz says degraded)",
                     json_string_value(json_object_get(e, "reason")) ?: "?");
    }
    json_t *blockers = dm__app_plugin_blockers(cfg, set);
    if (blockers == NULL) {
        dm__cli_fail(r, "plugins", "out of memory");
        return;
    }
    json_array_foreach(blockers, i, e) {
        snprintf(what, sizeof what, "plugin %s", json_string_value(json_object_get(e, "name")) ?: "?");
        dm__cli_fail(r, what, "%s", json_string_value(json_object_get(e, "reason")) ?: "?");
    }
    json_decref(blockers);
}

dm_plugin_set *dm__cli_check_items(dm_cli_report *r, const dm_config *cfg, const char *config_path)
{
    check_config(r, cfg, config_path);
    dm_plugin_set *set = dm__plugins_new();
    if (set == NULL) {
        dm__cli_fail(r, "plugins", "out of memory");
        return NULL;
    }
    dm__plugins_quiet(set);
    size_t n_dirs = 0;
    const char *const *dirs = dm__config_plugin_dirs(cfg, &n_dirs);
    dm_err_t err = { 0, "" };
    if (dm__plugins_load_dirs(set, dirs, n_dirs, cfg->plugins, &err) != 0) {
        dm__cli_fail(r, "plugins", "%s", err.msg);
        dm__plugins_free(set);
        return NULL;
    }
    report_plugins(r, cfg, set);
    return set;
}

int dm__cli_check(const dm_config *cfg, const char *config_path)
{
    dm_cli_report r = { stdout, 0, 0 };
    /* Unloading runs every plugin's fini: the shutdown serve would do. */
    dm__plugins_free(dm__cli_check_items(&r, cfg, config_path));
    return dm__cli_summary(&r, "check");
}
