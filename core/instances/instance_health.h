/*
 * instance_health.h — the periodic health checks of instances (the task
 * "instances.health"): the runtime's status and then the template's probe
 * (HTTP GET or TCP connect against the recorded endpoint) give
 * instances.health_status HEALTHY / UNHEALTHY / UNKNOWN, with one
 * instance_health row per change. Status itself is the reconciler's job.
 */
#ifndef DM_INSTANCE_HEALTH_H
#define DM_INSTANCE_HEALTH_H

#include <dermaga/error.h>

#include "jobs/jobs.h"
#include "plugin/registry.h"

#define DM_INSTANCE_HEALTH_TASK     "instances.health"
/* Instances checked per run, least recently checked first. */
#define DM_INSTANCE_HEALTH_BATCH    100
/* Connect + total time of one probe. */
#define DM_INSTANCE_HEALTH_PROBE_MS 2000
/* A run stops starting new checks after this long, so a batch of slow
 * probes cannot outlive its lease; the rest are first in the next run. */
#define DM_INSTANCE_HEALTH_BUDGET_MS 45000
/* Longest message kept with a verdict (instance_health.message allows 2000). */
#define DM_INSTANCE_HEALTH_MSG_MAX  300

/*
 * Register the periodic task "instances.health" on r (before
 * dm__jobs_runner_start), running every every_s seconds with plugins
 * (borrowed; must outlive the runner) as its ctx. With no runtime plugin
 * loaded nothing is registered (logged): there is nothing to ask.
 * 0, DM_EINVAL (every_s < 1), or the codes of dm__jobs_register_periodic.
 */
int dm__instance_health_register(dm_jobs_runner *r, dm_plugin_set *plugins, int every_s, dm_err_t *err);

/*
 * The handler (dm_job_fn; ctx is the dm_plugin_set, borrowed). Marks every
 * live instance that is not RUNNING UNKNOWN (one statement, a history row
 * where that changed it), then reads up to DM_INSTANCE_HEALTH_BATCH RUNNING
 * instances, oldest last_health_check first, checks each with no transaction open, and
 * records each verdict in a short transaction of its own. Returns 0, or
 * DM_EUNAVAIL / DM_EIO when the database failed (the next period retries).
 */
int dm__instance_health_run(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err);

/*
 * Check one instance now, exactly as a run does, and record the verdict.
 * plugins and instance_id are borrowed. out_status (may be NULL) receives
 * the recorded health_status ("HEALTHY", "UNHEALTHY" or "UNKNOWN").
 * Returns 0; DM_ENOTFOUND when there is no such instance or it is
 * TERMINATED (nothing written); DM_EINVAL for a malformed id; the SQL codes.
 */
int dm__instance_health_check(dm_db *db, const dm_plugin_set *plugins, const char *instance_id,
                              char out_status[16], dm_err_t *err);

#endif
