/*
 * instance_jobs.h — the job kinds that make a subscription's instance run:
 * instance.provision|start|stop|restart|update|terminate. Each drives the
 * instance's runtime plugin (dm__instance_runtime: the one it records; a
 * provision chooses and records it before its first runtime call) and, to
 * build the workload, the first loaded service plugin; waits for the
 * outcome and records it as an instance status transition with actor
 * "system".
 */
#ifndef DM_INSTANCE_JOBS_H
#define DM_INSTANCE_JOBS_H

#include <dermaga/error.h>

#include "jobs/jobs.h"
#include "plugin/registry.h"

/* How long stop, start, restart and terminate wait for the runtime. */
#define DM_INSTANCE_LIFECYCLE_WAIT_MS 60000
/* A handler running longer than this loses its lease (see dm_job_kind);
 * the provision wait (instances.provisionTimeoutS) stays below it. */
#define DM_INSTANCE_JOB_TIMEOUT_S 600

/* What the handlers run with: borrowed, and must outlive the runner. */
typedef struct dm_instance_jobs_ctx {
    dm_plugin_set *plugins;
    int            provision_wait_ms; /* provision and update wait this long
                                       * for ready (instances.provisionTimeoutS) */
    const char    *default_runtime;   /* instances.defaultRuntime ("" or NULL: the
                                       * first runtime plugin); checked at start */
} dm_instance_jobs_ctx;

/*
 * Register the six instance.* kinds on r (before dm__jobs_runner_start),
 * each with ctx (borrowed; must outlive the runner) as its context. With no
 * runtime plugin loaded nothing is registered (a warning is logged): the
 * jobs stay queued for a node that can run them.
 * 0, or the codes of dm__jobs_register.
 */
int dm__instance_jobs_register(dm_jobs_runner *r, dm_instance_jobs_ctx *ctx, dm_err_t *err);

/*
 * The handlers (dm_job_fn; ctx is a dm_instance_jobs_ctx). Idempotent: a job run
 * twice finds the instance in its intermediate status and carries on, or
 * past it and does nothing. They return 0 when the instance status carries
 * the outcome (RUNNING, STOPPED, TERMINATED or ERROR with the runtime's
 * message); DM_EUNAVAIL / DM_EIO when the database or the engine is down
 * and attempts remain (the job is retried); DM_EINVAL for a bad payload.
 */
int dm__instance_job_provision(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err);
int dm__instance_job_update(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err);
int dm__instance_job_stop(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err);
int dm__instance_job_start(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err);
int dm__instance_job_restart(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err);
int dm__instance_job_terminate(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err);

#endif
