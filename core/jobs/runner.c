/*
 * runner.c — executes jobs: a registry of kinds, N worker threads that each
 * own a dm_db and claim → run → complete/fail, and one maintenance thread
 * that renews the leases of running jobs, reaps expired last attempts, keeps
 * periodic tasks queued and refreshes the counts snapshot for /metrics.
 */
#include "jobs/jobs.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/log.h"

#define LOG_SRC "jobs"
#define NODE_ID_MAX 180 /* leaves room for "/w<n>" within DM_JOB_OWNER_MAX */

typedef struct kind_entry {
    char      name[DM_JOB_KIND_MAX + 1];
    dm_job_fn fn;
    void     *ctx;
    int64_t   base_ms, cap_ms;
    int       timeout_s;
    int       periodic_s; /* > 0: a periodic task with this interval */
} kind_entry;

/* One worker's in-flight job, seen by the heartbeat. `job` is a shallow
 * copy (id, kind, owner, attempts); its pointers are always NULL. */
typedef struct slot {
    bool     active;
    bool     timed_out; /* stopped renewing: past the kind's timeout */
    dm_job   job;
    uint64_t started_ns, renewed_ns;
    int      timeout_s;
} slot;

typedef struct worker {
    struct dm_jobs_runner *r;
    int        idx;
    pthread_t  tid;
} worker;

struct dm_jobs_runner {
    char   *conninfo;
    char    node_id[NODE_ID_MAX + 1];
    int     n_threads, poll_ms, lease_s, maintain_ms, connect_timeout_s, stmt_timeout_ms;
    int64_t prune_after_s;

    kind_entry  *kinds;
    int          n_kinds, cap_kinds;
    const char **kind_names; /* claim filter, pointing into kinds[]; built at start */

    pthread_mutex_t mu;      /* guards everything below */
    pthread_cond_t  cv;      /* CLOCK_MONOTONIC */
    bool            started, stopped;
    atomic_bool     stopping;
    uint64_t        wake_seq;
    slot           *slots;   /* n_threads */
    worker         *workers; /* n_threads */
    int             n_running_threads;
    pthread_t       maint_tid;
    bool            maint_running;
    dm_job_counts   counts;
};

/* ---- registry ---- */

static int prune_job(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err);

static int default_node_id(char *buf, size_t len)
{
    char host[128];
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "node");
    host[sizeof host - 1] = '\0';
    snprintf(buf, len, "%s-%ld", host, (long)getpid());
    return 0;
}

static int check_cfg(const dm_jobs_runner_cfg *c, dm_err_t *err)
{
    if (c->conninfo == NULL)
        return dm_err_set(err, DM_EINVAL, "jobs runner: conninfo is required");
    if (c->threads < 1 || c->threads > DM_JOBS_MAX_THREADS)
        return dm_err_set(err, DM_EINVAL, "jobs runner: threads %d out of range 1..%d",
                          c->threads, DM_JOBS_MAX_THREADS);
    if (c->poll_ms < 0 || c->lease_s < 0 || c->maintain_ms < 0 || c->prune_after_s < 0)
        return dm_err_set(err, DM_EINVAL, "jobs runner: negative poll, lease, maintain or prune");
    int lease_s = c->lease_s > 0 ? c->lease_s : 60;
    if (c->maintain_ms > 0 && (int64_t)c->maintain_ms * 3 > (int64_t)lease_s * 1000)
        return dm_err_set(err, DM_EINVAL, "jobs runner: maintain_ms %d must be at most a third "
                          "of the lease (%d s) so leases are renewed in time",
                          c->maintain_ms, lease_s);
    if (c->node_id != NULL && (c->node_id[0] == '\0' || strlen(c->node_id) > NODE_ID_MAX))
        return dm_err_set(err, DM_EINVAL, "jobs runner: node_id must be 1..%d bytes", NODE_ID_MAX);
    return 0;
}

static void apply_cfg(dm_jobs_runner *r, const dm_jobs_runner_cfg *c)
{
    r->n_threads = c->threads;
    r->poll_ms = c->poll_ms > 0 ? c->poll_ms : 500;
    r->lease_s = c->lease_s > 0 ? c->lease_s : 60;
    r->maintain_ms = c->maintain_ms > 0 ? c->maintain_ms : 5000;
    if ((int64_t)r->maintain_ms * 3 > (int64_t)r->lease_s * 1000)
        r->maintain_ms = r->lease_s * 1000 / 3;
    r->connect_timeout_s = c->db_connect_timeout_s > 0 ? c->db_connect_timeout_s : 2;
    r->stmt_timeout_ms = c->db_statement_timeout_ms > 0 ? c->db_statement_timeout_ms : 30000;
    r->prune_after_s = c->prune_after_s;
    if (c->node_id != NULL)
        snprintf(r->node_id, sizeof r->node_id, "%s", c->node_id);
    else
        default_node_id(r->node_id, sizeof r->node_id);
}

dm_jobs_runner *dm__jobs_runner_new(const dm_jobs_runner_cfg *cfg, dm_err_t *err)
{
    if (check_cfg(cfg, err) != 0)
        return NULL;
    dm_jobs_runner *r = calloc(1, sizeof *r);
    if (r == NULL) {
        dm_err_set(err, DM_ENOMEM, "out of memory");
        return NULL;
    }
    apply_cfg(r, cfg);
    r->conninfo = strdup(cfg->conninfo);
    r->slots = calloc((size_t)r->n_threads, sizeof *r->slots);
    r->workers = calloc((size_t)r->n_threads, sizeof *r->workers);
    pthread_condattr_t ca;
    bool sync_ok = pthread_condattr_init(&ca) == 0;
    if (sync_ok) {
        sync_ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0
                  && pthread_cond_init(&r->cv, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (sync_ok && pthread_mutex_init(&r->mu, NULL) != 0) {
        pthread_cond_destroy(&r->cv);
        sync_ok = false;
    }
    if (!sync_ok || r->conninfo == NULL || r->slots == NULL || r->workers == NULL) {
        free(r->conninfo);
        free(r->slots);
        free(r->workers);
        free(r);
        dm_err_set(err, DM_ENOMEM, "out of memory creating the jobs runner");
        return NULL;
    }
    atomic_init(&r->stopping, false);
    if (r->prune_after_s > 0
        && dm__jobs_register_periodic(r, "jobs.prune", 3600, prune_job, r, err) != 0) {
        dm__jobs_runner_free(r);
        return NULL;
    }
    return r;
}

static kind_entry *find_kind(dm_jobs_runner *r, const char *name)
{
    for (int i = 0; i < r->n_kinds; i++)
        if (strcmp(r->kinds[i].name, name) == 0)
            return &r->kinds[i];
    return NULL;
}

static int add_kind(dm_jobs_runner *r, const dm_job_kind *k, int periodic_s, dm_err_t *err)
{
    if (r->started)
        return dm_err_set(err, DM_ECONFLICT, "jobs runner already started; register kinds first");
    if (!dm__job_kind_valid(k->name))
        return dm_err_set(err, DM_EINVAL, "invalid job kind \"%.80s\"", k->name ? k->name : "");
    if (k->fn == NULL)
        return dm_err_set(err, DM_EINVAL, "job kind %s has no handler", k->name);
    if (k->backoff_base_ms < 0 || k->backoff_cap_ms < 0 || k->timeout_s < 0)
        return dm_err_set(err, DM_EINVAL, "job kind %s: negative backoff or timeout", k->name);
    if (find_kind(r, k->name) != NULL)
        return dm_err_set(err, DM_EINVAL, "job kind %s is registered twice", k->name);
    if (r->n_kinds == r->cap_kinds) {
        int ncap = r->cap_kinds == 0 ? 8 : r->cap_kinds * 2;
        kind_entry *grown = realloc(r->kinds, (size_t)ncap * sizeof *grown);
        if (grown == NULL)
            return dm_err_set(err, DM_ENOMEM, "out of memory");
        r->kinds = grown;
        r->cap_kinds = ncap;
    }
    kind_entry *e = &r->kinds[r->n_kinds++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", k->name);
    e->fn = k->fn;
    e->ctx = k->ctx;
    e->base_ms = k->backoff_base_ms > 0 ? k->backoff_base_ms : 5000;
    e->cap_ms = k->backoff_cap_ms > 0 ? k->backoff_cap_ms : 900000;
    e->timeout_s = k->timeout_s;
    e->periodic_s = periodic_s;
    return 0;
}

int dm__jobs_register(dm_jobs_runner *r, const dm_job_kind *kind, dm_err_t *err)
{
    return add_kind(r, kind, 0, err);
}

int dm__jobs_register_periodic(dm_jobs_runner *r, const char *name, int interval_s,
                               dm_job_fn fn, void *ctx, dm_err_t *err)
{
    if (interval_s < 1)
        return dm_err_set(err, DM_EINVAL, "periodic task %.80s: interval must be >= 1 s",
                          name ? name : "");
    dm_job_kind k = { .name = name, .fn = fn, .ctx = ctx };
    return add_kind(r, &k, interval_s, err);
}

const char *dm__jobs_runner_node_id(const dm_jobs_runner *r)
{
    return r->node_id;
}

/* ---- running one job ---- */

static void slot_set(dm_jobs_runner *r, slot *s, const dm_job *job, const kind_entry *k)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    memset(s, 0, sizeof *s);
    if (job != NULL) {
        s->active = true;
        memcpy(s->job.id, job->id, sizeof s->job.id);
        memcpy(s->job.kind, job->kind, sizeof s->job.kind);
        memcpy(s->job.lease_owner, job->lease_owner, sizeof s->job.lease_owner);
        s->job.attempts = job->attempts;
        s->started_ns = s->renewed_ns = dm__clock_mono_ns();
        s->timeout_s = k != NULL ? k->timeout_s : 0;
    }
    pthread_mutex_unlock(&r->mu);
}

/* Call the handler and normalise what it leaves behind. */
static int call_handler(dm_db *db, const kind_entry *k, const dm_job *job, dm_err_t *herr)
{
    int rc;
    if (k == NULL)
        rc = dm_err_set(herr, DM_EUNSUPPORTED, "no handler for kind %s", job->kind);
    else
        rc = k->fn(db, job, k->ctx, herr);
    if (rc > 0)
        rc = DM_EIO; /* not a DM_E* code: treat as a retryable failure */
    if (db->in_tx) {
        dm__db_rollback(db);
        if (rc == 0) {
            /* A programming error, not bad luck: retrying repeats it. */
            rc = dm_err_set(herr, DM_EINVAL, "handler returned with a transaction still open "
                            "(rolled back)");
        }
    }
    if (rc != 0 && herr->msg[0] == '\0')
        dm_err_set(herr, rc, "handler failed with code %d", rc);
    return rc;
}

static void finish_periodic(dm_db *db, const kind_entry *k, const dm_job *job, int hrc,
                            const dm_err_t *herr)
{
    dm_err_t err;
    dm_err_clear(&err);
    if (hrc != 0)
        dm__log(DM_LOG_WARN, LOG_SRC, "periodic task %s failed: %s; next run in %d s",
                job->kind, herr->msg, k->periodic_s);
    int rc = dm__job_periodic_finish(db, job, k->periodic_s, hrc == 0 ? NULL : herr->msg, &err);
    if (rc != 0)
        dm__log(DM_LOG_WARN, LOG_SRC, "periodic task %s (job %s): could not record the run: %s",
                job->kind, job->id, err.msg);
}

static void finish_job(dm_db *db, const kind_entry *k, const dm_job *job, int hrc,
                       const dm_err_t *herr, uint64_t took_ms)
{
    dm_err_t err;
    dm_err_clear(&err);
    if (k != NULL && k->periodic_s > 0) {
        finish_periodic(db, k, job, hrc, herr);
        return;
    }
    int rc;
    bool final = false;
    int64_t delay = -1;
    if (hrc == 0) {
        rc = dm__job_complete(db, job, &err);
    } else {
        if (hrc != DM_EINVAL && hrc != DM_EUNSUPPORTED && k != NULL) {
            uint32_t rnd = 0;
            dm__random_bytes(&rnd, sizeof rnd);
            delay = dm__job_backoff_ms(job->attempts, k->base_ms, k->cap_ms, rnd);
        }
        rc = dm__job_fail(db, job, herr->msg, delay, &final, &err);
    }
    if (rc == DM_ECONFLICT) {
        dm__log(DM_LOG_WARN, LOG_SRC, "job %s (%s) ended after its lease was lost; its result "
                "is discarded (%s)", job->id, job->kind, hrc == 0 ? "succeeded" : herr->msg);
    } else if (rc != 0) {
        dm__log(DM_LOG_ERROR, LOG_SRC, "job %s (%s): could not record the outcome: %s; it will "
                "run again when its lease expires", job->id, job->kind, err.msg);
    } else if (hrc == 0) {
        dm__log(DM_LOG_DEBUG, LOG_SRC, "job %s (%s) succeeded in %" PRIu64 " ms", job->id,
                job->kind, took_ms);
    } else if (final) {
        dm__log(DM_LOG_ERROR, LOG_SRC, "job %s (%s) failed for good on attempt %d of %d: %s",
                job->id, job->kind, job->attempts, job->max_attempts, herr->msg);
    } else {
        dm__log(DM_LOG_WARN, LOG_SRC, "job %s (%s) attempt %d of %d failed: %s; retry in %"
                PRId64 " ms", job->id, job->kind, job->attempts, job->max_attempts, herr->msg,
                delay);
    }
}

static int run_one(dm_jobs_runner *r, dm_db *db, const char *owner, slot *s, dm_err_t *err)
{
    dm_job job;
    int rc = dm__job_claim(db, owner, r->kind_names, r->n_kinds, r->lease_s, &job, err);
    if (rc != 0)
        return rc;
    const kind_entry *k = find_kind(r, job.kind);
    slot_set(r, s, &job, k);
    dm_err_t herr;
    dm_err_clear(&herr);
    uint64_t t0 = dm__clock_mono_ns();
    int hrc = call_handler(db, k, &job, &herr);
    uint64_t took_ms = (dm__clock_mono_ns() - t0) / 1000000u;
    slot_set(r, s, NULL, NULL);
    finish_job(db, k, &job, hrc, &herr, took_ms);
    dm__job_clear(&job);
    return 0;
}

/* The claim filter points into kinds[], which stops growing at start. */
static int build_kind_names(dm_jobs_runner *r, dm_err_t *err)
{
    free(r->kind_names);
    r->kind_names = calloc((size_t)r->n_kinds + 1, sizeof *r->kind_names);
    if (r->kind_names == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    for (int i = 0; i < r->n_kinds; i++)
        r->kind_names[i] = r->kinds[i].name;
    return 0;
}

int dm__jobs_run_once(dm_jobs_runner *r, dm_db *db, const char *owner, dm_err_t *err)
{
    dm_err_t local;
    if (err == NULL)
        err = &local;
    dm_err_clear(err);
    if (r->n_kinds == 0)
        return DM_ENOTFOUND;
    if (!r->started) {
        int rc = build_kind_names(r, err);
        if (rc != 0)
            return rc;
    }
    return run_one(r, db, owner, NULL, err);
}

int dm__jobs_periodic_ensure(dm_jobs_runner *r, dm_db *db, dm_err_t *err)
{
    for (int i = 0; i < r->n_kinds; i++) {
        if (r->kinds[i].periodic_s <= 0)
            continue;
        int rc = dm__job_periodic_ensure(db, r->kinds[i].name, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int prune_job(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err)
{
    dm_jobs_runner *r = ctx;
    int64_t n = 0;
    int rc = dm__jobs_prune(db, r->prune_after_s, &n, err);
    if (rc == 0 && n > 0)
        dm__log(DM_LOG_INFO, LOG_SRC, "pruned %" PRId64 " finished jobs", n);
    return rc;
}

/* ---- threads ---- */

/* Wait up to ms, or until stop (and, for workers, a wake). */
static void wait_ms(dm_jobs_runner *r, int ms, bool wake_too)
{
    struct timespec ts;
    dm__clock_deadline(CLOCK_MONOTONIC, ms, &ts);
    pthread_mutex_lock(&r->mu);
    uint64_t seq = r->wake_seq;
    while (!atomic_load(&r->stopping) && (!wake_too || seq == r->wake_seq)) {
        if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) != 0)
            break; /* ETIMEDOUT */
    }
    pthread_mutex_unlock(&r->mu);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    dm_jobs_runner *r = w->r;
    char owner[DM_JOB_OWNER_MAX + 1];
    snprintf(owner, sizeof owner, "%s/w%d", r->node_id, w->idx);
    dm_db db;
    if (dm__db_init(&db, r->conninfo, r->connect_timeout_s, r->stmt_timeout_ms, NULL) != 0) {
        dm__log(DM_LOG_ERROR, LOG_SRC, "job worker %s: out of memory", owner);
        return NULL;
    }
    bool failing = false;
    while (!atomic_load(&r->stopping)) {
        dm_err_t err;
        dm_err_clear(&err);
        int rc = run_one(r, &db, owner, &r->slots[w->idx], &err);
        if (rc == 0) {
            failing = false;
            continue; /* more may be due: claim again before sleeping */
        }
        if (rc == DM_ENOTFOUND) {
            failing = false;
            wait_ms(r, r->poll_ms, true);
            continue;
        }
        /* Database trouble: log the first failure of a streak, not every poll. */
        if (!failing)
            dm__log(DM_LOG_WARN, LOG_SRC, "job worker %s: claim failed: %s", owner, err.msg);
        failing = true;
        wait_ms(r, r->poll_ms, false);
    }
    dm__db_fini(&db);
    return NULL;
}

/* Renew the leases of running jobs whose last renewal is a third of a lease
 * old, except those past their kind's timeout. */
static void heartbeat(dm_jobs_runner *r, dm_db *db)
{
    uint64_t now = dm__clock_mono_ns();
    uint64_t every = (uint64_t)r->lease_s * 1000000000ull / 3;
    for (int i = 0; i < r->n_threads; i++) {
        pthread_mutex_lock(&r->mu);
        slot s = r->slots[i];
        bool due = s.active && !s.timed_out && now - s.renewed_ns >= every;
        bool over = due && s.timeout_s > 0
                    && now - s.started_ns >= (uint64_t)s.timeout_s * 1000000000ull;
        if (over)
            r->slots[i].timed_out = true;
        pthread_mutex_unlock(&r->mu);
        if (over) {
            dm__log(DM_LOG_WARN, LOG_SRC, "job %s (%s) has run past its %d s timeout; its lease "
                    "is no longer renewed and it will be retried elsewhere when it expires",
                    s.job.id, s.job.kind, s.timeout_s);
            continue;
        }
        if (!due)
            continue;
        dm_err_t err;
        dm_err_clear(&err);
        int rc = dm__job_extend_lease(db, &s.job, r->lease_s, &err);
        pthread_mutex_lock(&r->mu);
        slot *cur = &r->slots[i];
        bool same = cur->active && strcmp(cur->job.id, s.job.id) == 0
                    && cur->job.attempts == s.job.attempts;
        if (rc == 0 && same)
            cur->renewed_ns = now;
        pthread_mutex_unlock(&r->mu);
        /* A job that finished since the slot was read is no longer running:
         * that refusal is expected, not worth a warning. */
        if (rc != 0 && rc != DM_EBUSY && same)
            dm__log(DM_LOG_WARN, LOG_SRC, "job %s: lease renewal failed: %s", s.job.id, err.msg);
    }
}

static void maintain(dm_jobs_runner *r, dm_db *db)
{
    dm_err_t err;
    dm_err_clear(&err);
    int reaped = 0;
    if (dm__jobs_reap_expired(db, &reaped, &err) != 0)
        dm__log(DM_LOG_WARN, LOG_SRC, "reaping expired jobs failed: %s", err.msg);
    else if (reaped > 0)
        dm__log(DM_LOG_WARN, LOG_SRC, "%d job(s) failed: their lease expired on the last "
                "attempt", reaped);
    dm_err_clear(&err);
    if (dm__jobs_periodic_ensure(r, db, &err) != 0)
        dm__log(DM_LOG_WARN, LOG_SRC, "queueing periodic tasks failed: %s", err.msg);
    heartbeat(r, db);
    dm_job_counts c;
    if (dm__jobs_count(db, &c, NULL) == 0) {
        pthread_mutex_lock(&r->mu);
        r->counts = c;
        pthread_mutex_unlock(&r->mu);
    }
}

static void *maint_main(void *arg)
{
    dm_jobs_runner *r = arg;
    dm_db db;
    if (dm__db_init(&db, r->conninfo, r->connect_timeout_s, r->stmt_timeout_ms, NULL) != 0) {
        dm__log(DM_LOG_ERROR, LOG_SRC, "jobs maintenance: out of memory");
        return NULL;
    }
    while (!atomic_load(&r->stopping)) {
        maintain(r, &db);
        wait_ms(r, r->maintain_ms, false);
    }
    dm__db_fini(&db);
    return NULL;
}

int dm__jobs_runner_start(dm_jobs_runner *r, dm_err_t *err)
{
    if (r->started)
        return dm_err_set(err, DM_ECONFLICT, "jobs runner already started");
    if (r->n_kinds == 0)
        return dm_err_set(err, DM_EINVAL, "jobs runner: no job kinds registered");
    int rc = build_kind_names(r, err);
    if (rc != 0)
        return rc;
    r->started = true;
    if (pthread_create(&r->maint_tid, NULL, maint_main, r) != 0) {
        dm__jobs_runner_stop(r);
        return dm_err_set(err, DM_EIO, "jobs runner: cannot start the maintenance thread");
    }
    r->maint_running = true;
    for (int i = 0; i < r->n_threads; i++) {
        r->workers[i].r = r;
        r->workers[i].idx = i;
        if (pthread_create(&r->workers[i].tid, NULL, worker_main, &r->workers[i]) != 0) {
            dm__jobs_runner_stop(r);
            return dm_err_set(err, DM_EIO, "jobs runner: cannot start worker %d", i);
        }
        r->n_running_threads++;
    }
    dm__log(DM_LOG_INFO, LOG_SRC, "jobs runner %s started: %d worker(s), %d kind(s), lease %d s",
            r->node_id, r->n_threads, r->n_kinds, r->lease_s);
    return 0;
}

void dm__jobs_runner_wake(dm_jobs_runner *r)
{
    pthread_mutex_lock(&r->mu);
    r->wake_seq++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* Join t, waiting at most until deadline (CLOCK_REALTIME, as
 * pthread_timedjoin_np wants) when one is given. */
static int join_by(pthread_t t, const struct timespec *deadline)
{
    if (deadline == NULL)
        return pthread_join(t, NULL) == 0 ? 0 : DM_EIO;
    int rc = pthread_timedjoin_np(t, NULL, deadline);
    return rc == 0 ? 0 : rc == ETIMEDOUT ? DM_ETIMEDOUT : DM_EIO;
}

int dm__jobs_runner_stop_within(dm_jobs_runner *r, int timeout_ms)
{
    if (r == NULL || !r->started || r->stopped)
        return 0;
    pthread_mutex_lock(&r->mu);
    atomic_store(&r->stopping, true);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    struct timespec deadline;
    dm__clock_deadline(CLOCK_REALTIME, timeout_ms > 0 ? timeout_ms : 0, &deadline);
    const struct timespec *by = timeout_ms < 0 ? NULL : &deadline;
    /* Join from the end so a timeout leaves [0, n_running_threads) to join
     * on a later call. */
    while (r->n_running_threads > 0) {
        int rc = join_by(r->workers[r->n_running_threads - 1].tid, by);
        if (rc == DM_ETIMEDOUT)
            return rc;
        r->n_running_threads--;
    }
    if (r->maint_running) {
        int rc = join_by(r->maint_tid, by);
        if (rc == DM_ETIMEDOUT)
            return rc;
    }
    r->maint_running = false;
    r->stopped = true;
    return 0;
}

void dm__jobs_runner_stop(dm_jobs_runner *r)
{
    dm__jobs_runner_stop_within(r, -1);
}

void dm__jobs_runner_free(dm_jobs_runner *r)
{
    if (r == NULL)
        return;
    dm__jobs_runner_stop(r);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r->kind_names);
    free(r->kinds);
    free(r->slots);
    free(r->workers);
    free(r->conninfo);
    free(r);
}

void dm__jobs_counts(dm_jobs_runner *r, dm_job_counts *out)
{
    pthread_mutex_lock(&r->mu);
    *out = r->counts;
    pthread_mutex_unlock(&r->mu);
}
