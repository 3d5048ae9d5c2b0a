/*
 * jobs.h — the durable job queue (rows in the `jobs` table) and the runner
 * that executes them. queue.c: the SQL (enqueue, claim with FOR UPDATE SKIP
 * LOCKED and a lease, complete, fail with backoff, leases, counts, pruning).
 * runner.c: kind registry, worker threads, lease heartbeat, counts snapshot.
 * periodic.c: periodic tasks as jobs with a unique key.
 *
 * Delivery is at least once: a job whose node dies mid-run is run again
 * after its lease expires, so handlers must be idempotent. A handler that
 * must not commit after losing its lease calls dm__job_hold_lease inside its
 * own transaction (a fence: the row stays locked until that commit).
 */
#ifndef DM_JOBS_H
#define DM_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <dermaga/error.h>

#include "db/pg.h"

#define DM_JOB_KIND_MAX     64   /* ^[a-z][a-z0-9_.]{0,63}$ */
#define DM_JOB_OWNER_MAX    200
#define DM_JOB_KEY_MAX      200
#define DM_JOB_ERROR_MAX    2000 /* bytes of last_error kept */
#define DM_JOB_DEFAULT_MAX_ATTEMPTS 5
#define DM_JOBS_MAX_THREADS 64

/* ------------------------------------------------------------------ */
/* Queue primitives (queue.c). Any thread with its own dm_db.          */
/* ------------------------------------------------------------------ */

/* A claimed job. Filled by dm__job_claim; released with dm__job_clear. */
typedef struct dm_job {
    char    id[37];
    char    kind[DM_JOB_KIND_MAX + 1];
    json_t *payload;                  /* owned (one reference); a JSON object */
    char   *unique_key;               /* owned, or NULL */
    char   *last_error;               /* owned: the previous attempt's error, or NULL */
    char    lease_owner[DM_JOB_OWNER_MAX + 1];
    int     attempts;                 /* this attempt, counting from 1 */
    int     max_attempts;
} dm_job;

/* Enqueue options; a NULL pointer means all defaults. */
typedef struct dm_job_opts {
    int64_t     delay_ms;     /* run no earlier than now + delay (0: now) */
    const char *unique_key;   /* borrowed; NULL = none. At most one queued or
                               * running job per key ("periodic:" is reserved) */
    int         max_attempts; /* 0 = DM_JOB_DEFAULT_MAX_ATTEMPTS; 1..100 */
} dm_job_opts;

/*
 * Insert a queued job. Works inside the caller's open transaction, so a job
 * and the domain change that needs it commit (or roll back) together.
 * kind and payload are borrowed (payload may be NULL = {}, else an object).
 * out_id (may be NULL) receives the new id.
 * Returns 0; DM_EINVAL (bad kind, payload, key or options); DM_ECONFLICT
 * when a queued or running job already has this unique_key — nothing is
 * written and the caller's transaction is still usable (ON CONFLICT DO
 * NOTHING, no error raised in the database); DM_EIO / DM_EUNAVAIL from SQL.
 */
int dm__job_enqueue(dm_db *db, const char *kind, const json_t *payload,
                    const dm_job_opts *opts, char out_id[37], dm_err_t *err);

/*
 * Claim the next due job, if any: a queued job whose run_at has passed, or a
 * running job whose lease expired (its node is gone) and that has attempts
 * left. Sets status running, lease_owner = owner, lease = now + lease_s, and
 * attempts + 1, skipping rows other claimers hold (FOR UPDATE SKIP LOCKED).
 * kinds (borrowed) limits the claim to n_kinds kinds; kinds == NULL claims
 * any kind (tests and tools only). Autocommit: call outside a transaction.
 * A due job whose payload this server cannot parse (e.g. an integer beyond
 * int64) is failed for good, logged, and skipped for the next one.
 * Returns 0 with *out filled (caller calls dm__job_clear), DM_ENOTFOUND
 * when nothing is due, DM_EINVAL, or the SQL codes.
 */
int dm__job_claim(dm_db *db, const char *owner, const char *const *kinds, int n_kinds,
                  int lease_s, dm_job *out, dm_err_t *err);

/* Free what a claimed job owns and zero it; safe on a zeroed job. */
void dm__job_clear(dm_job *job);

/*
 * Mark a claimed job succeeded. Only the current lease holder can: the row
 * must still be running with this job's lease_owner and attempt number.
 * Returns 0, DM_ECONFLICT when the lease was lost (taken over after expiry
 * or already finished), or the SQL codes. May run inside a transaction.
 */
int dm__job_complete(dm_db *db, const dm_job *job, dm_err_t *err);

/*
 * Record a failed attempt. error (borrowed, may be NULL) becomes last_error
 * (truncated, made valid UTF-8). With retry_in_ms >= 0 and attempts left the
 * job goes back to queued with run_at = now + retry_in_ms; otherwise (no
 * attempts left, or retry_in_ms < 0 for a permanent failure) it becomes
 * failed. *out_final (may be NULL) tells which. Same lease rule and codes
 * as dm__job_complete.
 */
int dm__job_fail(dm_db *db, const dm_job *job, const char *error, int64_t retry_in_ms,
                 bool *out_final, dm_err_t *err);

/* Push the lease out to now + lease_s. Same lease rule and codes. */
int dm__job_extend_lease(dm_db *db, const dm_job *job, int lease_s, dm_err_t *err);

/*
 * Fence for handlers: inside the caller's open transaction, lock the job row
 * if this job still holds its lease. While the transaction lasts no one can
 * take the job over, so the handler's writes commit only if it still owned
 * the job. Returns 0, DM_ECONFLICT (lease lost: roll back), DM_EINVAL when
 * no transaction is open, or the SQL codes.
 */
int dm__job_hold_lease(dm_db *db, const dm_job *job, dm_err_t *err);

/*
 * Fail running jobs whose lease expired on their last attempt (nobody may
 * claim them again, so without this they would stay running forever).
 * *out_n (may be NULL) receives how many. 0 or the SQL codes.
 */
int dm__jobs_reap_expired(dm_db *db, int *out_n, dm_err_t *err);

/* Jobs by status, for /metrics. */
typedef struct dm_job_counts {
    int64_t queued;
    int64_t running;
    int64_t succeeded;
    int64_t failed;
    bool    valid;        /* false until the first successful count */
    int64_t as_of_ms;     /* wall clock of that count */
} dm_job_counts;

/* Count jobs by status now (one query). 0 or the SQL codes. */
int dm__jobs_count(dm_db *db, dm_job_counts *out, dm_err_t *err);

/* Delete succeeded jobs finished more than older_than_s ago, and failed
 * ones finished more than 4 × that ago (kept longer for diagnosis).
 * *out_n (may be NULL) receives how many. 0 or the SQL codes. */
int dm__jobs_prune(dm_db *db, int64_t older_than_s, int64_t *out_n, dm_err_t *err);

/* Backoff before retry number `attempts` (the attempt that just failed,
 * from 1): min(base_ms × 2^(attempts-1), cap_ms) plus up to 25 % jitter
 * taken from `rand`. Pure. */
int64_t dm__job_backoff_ms(int attempts, int64_t base_ms, int64_t cap_ms, uint32_t rand);

/* True when s is a valid job kind (^[a-z][a-z0-9_.]{0,63}$). */
bool dm__job_kind_valid(const char *s);

/* ---- periodic-task SQL (periodic.c); the runner drives these ---- */

/* The unique_key of periodic task `name`: "periodic:<name>". */
void dm__job_periodic_key(const char *name, char *buf, size_t len);

/*
 * Queue the first run of periodic task `name` (borrowed) at now, unless one
 * is already queued or running. 0 either way, DM_EINVAL, or the SQL codes.
 */
int dm__job_periodic_ensure(dm_db *db, const char *name, dm_err_t *err);

/*
 * End one run of a periodic task in one transaction: mark the job succeeded
 * (error == NULL) or failed with error (borrowed; no retry), and queue the
 * next run at now + interval_s. Doing both atomically is what keeps exactly
 * one run queued: there is no moment without one for another node to fill.
 * Returns 0, DM_ECONFLICT when the lease was lost (nothing written; the
 * new owner will queue the next run), or the SQL codes. No transaction may
 * be open on db.
 */
int dm__job_periodic_finish(dm_db *db, const dm_job *job, int interval_s, const char *error,
                            dm_err_t *err);

/* ------------------------------------------------------------------ */
/* Runner (runner.c, periodic.c).                                      */
/* ------------------------------------------------------------------ */

/*
 * A job handler. Runs on a runner thread with that thread's connection (no
 * transaction open; the handler opens and closes its own). job and its
 * fields are borrowed for the call. ctx is the pointer given at
 * registration. Return 0 when done (the job succeeds); any DM_E* fails the
 * attempt with err's message as last_error: DM_EINVAL and DM_EUNSUPPORTED
 * are permanent (retrying cannot help: the job fails now), everything else
 * is retried with backoff until max_attempts.
 */
typedef int (*dm_job_fn)(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err);

typedef struct dm_job_kind {
    const char *name;            /* copied at registration */
    dm_job_fn   fn;
    void       *ctx;             /* borrowed; must outlive the runner */
    int64_t     backoff_base_ms; /* 0 = 5000 */
    int64_t     backoff_cap_ms;  /* 0 = 900000 (15 min) */
    int         timeout_s;       /* 0 = none. The heartbeat stops renewing the
                                  * lease after this long, so a hung handler's
                                  * job is retried elsewhere once it expires */
} dm_job_kind;

typedef struct dm_jobs_runner_cfg {
    const char *conninfo;        /* copied */
    const char *node_id;         /* copied; NULL = "<hostname>-<pid>" */
    int threads;                 /* 1..DM_JOBS_MAX_THREADS */
    int poll_ms;                 /* idle wait between claims; 0 = 500 */
    int lease_s;                 /* 0 = 60; renewed by the heartbeat */
    int maintain_ms;             /* counts, reaping, heartbeat, periodic
                                  * upkeep; 0 = 5000, at most lease_s×1000/3 */
    int db_connect_timeout_s;    /* 0 = 2 */
    int db_statement_timeout_ms; /* 0 = 30000 */
    int64_t prune_after_s;       /* > 0: register the periodic task
                                  * "jobs.prune" (hourly); 0 = keep forever */
} dm_jobs_runner_cfg;

typedef struct dm_jobs_runner dm_jobs_runner;

/* A runner with no kinds and no threads yet. cfg and its strings are
 * borrowed for the call. Returns new (dm__jobs_runner_free), or NULL with
 * err set (DM_EINVAL for a bad value, naming it; DM_ENOMEM). */
dm_jobs_runner *dm__jobs_runner_new(const dm_jobs_runner_cfg *cfg, dm_err_t *err);

/* Register a kind before dm__jobs_runner_start. kind is borrowed (name is
 * copied). 0, DM_EINVAL (bad name, NULL fn, duplicate, bad backoff),
 * DM_ECONFLICT (already started), DM_ENOMEM. */
int dm__jobs_register(dm_jobs_runner *r, const dm_job_kind *kind, dm_err_t *err);

/*
 * Register a periodic task: a kind `name` that runs every interval_s
 * seconds across all nodes sharing the database. Exactly one job per task
 * is queued or running at a time (unique_key "periodic:<name>"); when a run
 * ends — success or failure — the next is queued at now + interval_s in the
 * same transaction. Failed runs are not retried (the next period is the
 * retry). The first run is queued at start if none exists. Same codes as
 * dm__jobs_register.
 */
int dm__jobs_register_periodic(dm_jobs_runner *r, const char *name, int interval_s,
                               dm_job_fn fn, void *ctx, dm_err_t *err);

/* Start the worker threads and the maintenance thread. 0, DM_ECONFLICT
 * (already started), DM_EINVAL (no kinds registered), DM_ENOMEM/DM_EIO. */
int dm__jobs_runner_start(dm_jobs_runner *r, dm_err_t *err);

/* Wake idle workers now (e.g. after enqueueing on this node) instead of at
 * the next poll. Any thread. */
void dm__jobs_runner_wake(dm_jobs_runner *r);

/* Stop claiming, let running handlers finish, join every thread. Any
 * thread but a runner thread; idempotent; returns when all have exited. */
void dm__jobs_runner_stop(dm_jobs_runner *r);

/* The same, waiting at most timeout_ms (< 0: forever). DM_ETIMEDOUT when a
 * handler is still running: the runner is left as it is, its lease will
 * expire and another node takes the job over; the caller is expected to
 * exit the process (a later call may wait again). 0 when all have exited. */
int dm__jobs_runner_stop_within(dm_jobs_runner *r, int timeout_ms);

/* Stop if needed and free. NULL is fine. */
void dm__jobs_runner_free(dm_jobs_runner *r);

/* The latest counts snapshot (refreshed every maintain_ms by the
 * maintenance thread; out->valid false until the first). Any thread. */
void dm__jobs_counts(dm_jobs_runner *r, dm_job_counts *out);

/* The node id in use, e.g. for logs (borrowed, lives as long as r). */
const char *dm__jobs_runner_node_id(const dm_jobs_runner *r);

/*
 * Claim and run one job of a registered kind on db as `owner` (borrowed),
 * exactly as a worker thread would: handler, then complete or fail with
 * backoff, periodic follow-up. For tests and tools; works on a runner that
 * was never started. Returns 0 when a job ran (whatever its outcome),
 * DM_ENOTFOUND when none was due, or the SQL codes.
 */
int dm__jobs_run_once(dm_jobs_runner *r, dm_db *db, const char *owner, dm_err_t *err);

/* Queue the first run of every periodic task that has none queued or
 * running (done by the maintenance thread; exposed for tests).
 * 0 or the SQL codes. */
int dm__jobs_periodic_ensure(dm_jobs_runner *r, dm_db *db, dm_err_t *err);

#endif
