/*
 * cli.h — `dermaga check` and `dermaga doctor`: the operator's answer to
 * "would this configuration start, and would it work here?" without
 * starting anything. check (like `nginx -t`) judges the configuration and
 * loads, inits and unloads every enabled plugin; doctor does that and
 * then asks the outside world: the database, its migrations, each runtime
 * engine and payment gateway. Neither binds a port, starts a job worker
 * or changes the database.
 *
 * Both print one line per item to stdout ("ok", "WARN" or "FAIL", what,
 * and for a failure what to fix) and a last summary line, and return the
 * exit status: 0 when nothing failed, 1 otherwise. Main thread only.
 */
#ifndef DM_CLI_H
#define DM_CLI_H

#include "app/config.h"

/* config_path: the file the configuration came from, or NULL. */
int dm__cli_check(const dm_config *cfg, const char *config_path);
int dm__cli_doctor(const dm_config *cfg, const char *config_path);

#endif
