/*
 * instance_job.h — the one owner of an instance job's kind and payload.
 * Whoever wants work done on an instance (a subscription operation, a
 * user's runtime request, the reconciler) queues it here; the job
 * handlers (instance_jobs.c) read it back here; and the SQL that asks
 * "is work queued or running for this instance?" is spelled here.
 *
 * A job's kind is "instance.<verb>"; its payload is
 *   {"instanceId": uuid, "subscriptionId": uuid?, "reason": text?,
 *    "deferred": n?}
 * where deferred counts how often a handler put the job back because the
 * instance was busy.
 */
#ifndef DM_INSTANCE_JOB_H
#define DM_INSTANCE_JOB_H

#include <dermaga/error.h>

#include "db/pg.h"
#include "jobs/jobs.h"

typedef enum dm_instance_job_kind {
    DM_INSTANCE_JOB_PROVISION = 0, /* create the workload (also retry-provision) */
    DM_INSTANCE_JOB_UPDATE,        /* recreate it with its plan's new limits */
    DM_INSTANCE_JOB_STOP,
    DM_INSTANCE_JOB_START,
    DM_INSTANCE_JOB_RESTART,
    DM_INSTANCE_JOB_TERMINATE,
    DM_INSTANCE_JOB_NKINDS
} dm_instance_job_kind;

/* The job kind string of k ("instance.provision", …). Static. */
const char *dm__instance_job_kind_name(dm_instance_job_kind k);

/* The verb of a runtime operation that queues a job ("start", "stop",
 * "restart", "retry-provision" → provision), into *out. 0 or DM_EINVAL. */
int dm__instance_job_kind_of_op(const char *op, dm_instance_job_kind *out);

/* What a job says about its instance. */
typedef struct dm_instance_job_args {
    char instance_id[37];
    char subscription_id[37]; /* "" when the payload names none */
    const char *reason;       /* borrowed from the job: the payload's, or
                                 the kind when it names none */
    int  deferred;            /* times put back while the instance was busy */
} dm_instance_job_args;

/* Queue job k for instance_id inside the caller's transaction (the change
 * that needs it commits with it). subscription_id and reason may be NULL;
 * deferred is 0 for new work; opts may be NULL. 0 or the job queue's
 * codes. */
int dm__instance_job_enqueue(dm_db *db, dm_instance_job_kind k, const char *instance_id,
                             const char *subscription_id, const char *reason, int deferred,
                             const dm_job_opts *opts, dm_err_t *err);

/* Read a claimed job's payload into *out. 0; DM_EINVAL when it names no
 * valid instance (the job then fails for good). */
int dm__instance_job_parse(const dm_job *job, dm_instance_job_args *out, dm_err_t *err);

/* SQL: true when an instance job is queued or running for the instance
 * whose id column is `id_sql` (e.g. "i.id"). */
#define DM_INSTANCE_JOB_LIVE_SQL(id_sql)                                                              \
    "EXISTS (SELECT 1 FROM jobs j WHERE j.status IN ('queued', 'running') AND j.kind LIKE 'instance.%' " \
    "  AND j.payload ->> 'instanceId' = (" id_sql ")::text)"

#endif
