/*
 * periodic.c — periodic tasks as ordinary jobs with the unique key
 * "periodic:<name>": the partial unique index on jobs lets at most one be
 * queued or running across every node, and each run queues its successor
 * in the transaction that finishes it.
 */
#include "jobs/jobs.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void dm__job_periodic_key(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "periodic:%s", name);
}

static int enqueue_run(dm_db *db, const char *name, int64_t delay_ms, dm_err_t *err)
{
    char key[DM_JOB_KEY_MAX + 1];
    dm__job_periodic_key(name, key, sizeof key);
    /* One attempt: a failed run is not retried, the next period is. */
    dm_job_opts o = { .delay_ms = delay_ms, .unique_key = key, .max_attempts = 1 };
    int rc = dm__job_enqueue(db, name, NULL, &o, NULL, err);
    if (rc == DM_ECONFLICT) {
        dm_err_clear(err);
        return 0; /* a run is already queued or running: nothing to do */
    }
    return rc;
}

int dm__job_periodic_ensure(dm_db *db, const char *name, dm_err_t *err)
{
    return enqueue_run(db, name, 0, err);
}

int dm__job_periodic_finish(dm_db *db, const dm_job *job, int interval_s, const char *error,
                            dm_err_t *err)
{
    if (interval_s < 1)
        return dm_err_set(err, DM_EINVAL, "periodic interval must be >= 1 s");
    int rc = dm__db_begin(db, err);
    if (rc != 0)
        return rc;
    if (error == NULL)
        rc = dm__job_complete(db, job, err);
    else
        rc = dm__job_fail(db, job, error, -1, NULL, err);
    if (rc == 0)
        rc = enqueue_run(db, job->kind, (int64_t)interval_s * 1000, err);
    if (rc == 0)
        rc = dm__db_commit(db, err);
    if (rc != 0)
        dm__db_rollback(db);
    return rc;
}
