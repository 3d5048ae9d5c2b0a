/*
 * app.h — the application context: what every feature needs from the
 * running server and nothing about HTTP. main builds one at start and it
 * is read-only while serving; handlers reach it as req->app, job handlers
 * through their registration context, so the transport (http/server.h)
 * never doubles as the application.
 */
#ifndef DM_APP_H
#define DM_APP_H

#include <stdint.h>

#include <jansson.h>

#include "app/config.h"

typedef struct dm_plugin_set dm_plugin_set;   /* plugin/registry.h */
typedef struct dm_jwt_keys dm_jwt_keys;       /* accounts/jwt.h */
typedef struct dm_jobs_runner dm_jobs_runner; /* jobs/jobs.h */
typedef struct dm_log_hub dm_log_hub;         /* instances/log_hub.h */

typedef struct dm_app {
    const dm_config   *cfg;     /* borrowed: the configuration, read-only */
    dm_plugin_set     *plugins; /* borrowed; NULL when none are loaded */
    const dm_jwt_keys *jwt;     /* borrowed: session signing keys */
    dm_jobs_runner    *jobs;    /* borrowed; NULL before the runner starts */
    dm_log_hub        *logs;    /* borrowed: live logs' fan-out, loop thread only (log_hub.h);
                                   NULL before the server starts */
} dm_app;

/* Wake this node's job runner after a commit that queued jobs, so the work
 * starts now rather than at the next poll (other nodes find it at theirs).
 * NULL-safe on both the app and its runner. Any thread. */
void dm__app_wake_jobs(const dm_app *app);

/*
 * What stops a start once the plugins are loaded (set borrowed, read-only):
 * every refused enabled plugin that plugins.optional does not list, and an
 * instances.defaultRuntime that names no loaded runtime plugin. New array
 * of {"name", "reason"} (the configured name; the reason is a whole
 * sentence naming the plugin or key and saying what to do),
 * empty when the start may go on; NULL when out of memory. `serve` stops
 * before it binds when it is not empty; `check` and `doctor` report it.
 */
json_t *dm__app_plugin_blockers(const dm_config *cfg, const dm_plugin_set *set);

#endif
