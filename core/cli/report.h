/*
 * report.h — the lines check and doctor print (cli/cli.h): one per item,
 * "ok", "WARN" or "FAIL", counted so the summary and the exit status
 * follow from what was printed. Internal to core/cli.
 */
#ifndef DM_CLI_REPORT_H
#define DM_CLI_REPORT_H

#include <stdio.h>

#include "app/config.h"
#include "plugin/registry.h"

typedef struct dm_cli_report {
    FILE *out;
    int   failed;
    int   warned;
} dm_cli_report;

typedef enum { DM_CLI_OK, DM_CLI_WARN, DM_CLI_FAIL } dm_cli_status;

/* One line: "ok    what: …", "WARN  what: …" or "FAIL  what: …". */
void dm__cli_item(dm_cli_report *r, dm_cli_status st, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define dm__cli_ok(r, ...)   dm__cli_item((r), DM_CLI_OK, __VA_ARGS__)
#define dm__cli_warn(r, ...) dm__cli_item((r), DM_CLI_WARN, __VA_ARGS__)
#define dm__cli_fail(r, ...) dm__cli_item((r), DM_CLI_FAIL, __VA_ARGS__)

/* The last line ("<command>: ok" or "<command>: N problem(s)") and the
 * exit status: 0 when nothing failed, 1 otherwise. */
int dm__cli_summary(dm_cli_report *r, const char *command);

/*
 * What check judges, in order: the configuration (its source, what serve
 * refuses before it binds: database.url, auth.jwtSecret), then every
 * enabled plugin loaded and initialised as serve would (quietly: the
 * lines here say it), then what the loaded set means for a start
 * (app/app.h: a refused plugin not in plugins.optional, the default
 * runtime). Returns the loaded set (new; dm__plugins_free) for doctor's
 * probes, or NULL when it could not be built (already reported).
 */
dm_plugin_set *dm__cli_check_items(dm_cli_report *r, const dm_config *cfg, const char *config_path);

#endif
