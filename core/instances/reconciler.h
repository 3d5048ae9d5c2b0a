/*
 * reconciler.h — the periodic task "instances.reconcile": compare what the
 * database wants (instance statuses) with what the runtime reports and
 * repair the drift. Level-triggered: a missed run costs latency, never
 * correctness, and any node sharing the database may do the run.
 */
#ifndef DM_RECONCILER_H
#define DM_RECONCILER_H

#include <dermaga/error.h>

#include "jobs/jobs.h"
#include "plugin/registry.h"

/* The status message of a workload that exited by itself with code 0,
 * as runtime-docker words it (phase STOPPED; the phase alone also covers a
 * kill by the engine's stop, 137/143, which under restart "on-failure" is a
 * failure). A runtime that words it otherwise gets the old rule: ERROR. */
#define DM_RECONCILE_CLEAN_EXIT "exited with code 0"

/* Automatic redeploys of one instance (restart policy "on-failure") that
 * the reconciler makes per hour, at most: a workload that keeps dying ends
 * in ERROR instead of looping. */
#define DM_RECONCILE_RESTARTS_PER_HOUR 5
/* An instance in an intermediate status (PROVISIONING, STOPPING, …) with no
 * queued or running job is declared ERROR once its status is this old. */
#define DM_RECONCILE_LOST_AFTER_S 10
/* Instances looked at per run and kind of drift. */
#define DM_RECONCILE_BATCH 500

/*
 * Register "instances.reconcile" on r every every_s seconds, with plugins
 * (borrowed; must outlive the runner) as its context. With no runtime
 * plugin loaded nothing is registered. 0 or dm__jobs_register_periodic's
 * codes.
 */
int dm__reconciler_register(dm_jobs_runner *r, dm_plugin_set *plugins, int every_s, dm_err_t *err);

/*
 * One run (a dm_job_fn; ctx is the dm_plugin_set):
 *  - a RUNNING instance whose workload ended by itself with exit code 0
 *    (phase STOPPED, message DM_RECONCILE_CLEAN_EXIT) → STOPPED
 *    ("exited") with an event saying so; never redeployed, whatever the
 *    restart policy: nothing failed.
 *  - a RUNNING instance whose workload is absent, otherwise stopped (killed:
 *    137, 143) or failed → ERROR
 *    with an event saying what was seen; with supervision.restart
 *    "on-failure", an ACTIVE subscription, no other instance job queued
 *    (a suspension's stop, say) and fewer than
 *    DM_RECONCILE_RESTARTS_PER_HOUR automatic redeploys in the last hour →
 *    retry-provision and a provision job, in the same transaction. Its unit
 *    name is refreshed when it changed.
 *  - an instance in an intermediate status whose work was lost (no live
 *    instance.* job for it) → ERROR. Work a dead node held is not lost: its
 *    lease expires and another node takes the job over.
 *  - workloads the runtime holds for this installation (the workloads op,
 *    owner = installation.id) whose instance is TERMINATED or unknown →
 *    terminated, under the instance's row lock; whose instance is ERROR
 *    with an ended subscription → TERMINATING and a terminate job.
 * Each RUNNING instance is asked about on the runtime it records
 * (dm__instance_runtime); one whose runtime is not loaded here is skipped
 * with a warning. The orphan sweep runs on every loaded runtime plugin.
 * A runtime that is unreachable is not asked again in that run, its
 * orphans wait, and lost work waits too (nothing is marked ERROR for an
 * engine outage). 0, or the SQL codes.
 */
int dm__reconcile_run(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err);

#endif
