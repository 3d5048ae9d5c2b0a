/*
 * call_pool.c — the call threads behind bounded plugin calls (call.h):
 * a FIFO of call records, threads started on demand up to a cap and
 * leaving after a while idle, callers that wait with a deadline and
 * abandon the call when it passes, and the stop that waits for calls
 * still inside plugins. Its state is static so that a detached thread
 * leaving never touches freed memory.
 */
#include "plugin/call_internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <time.h>

#include <openssl/crypto.h>

#include "util/clock.h"
#include "util/log.h"

/* A call thread with nothing to do for this long leaves. */
#define IDLE_EXIT_MS 10000

static struct {
    pthread_mutex_t mu;
    pthread_cond_t  work_cv;  /* work queued, or stopping */
    pthread_cond_t  exit_cv;  /* a thread left (monotonic clock) */
    bool            started;
    bool            stopping;
    int             max_threads;
    int             threads;  /* alive */
    int             idle;     /* waiting for work */
    int             running;  /* inside a plugin */
    dm_call        *head, *tail;
    int             queued;
} pool = { .mu = PTHREAD_MUTEX_INITIALIZER };

static atomic_int abandoned; /* calls given up on and not yet released */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_condattr_t mono; /* condvars that wait against CLOCK_MONOTONIC */

static void init_once(void)
{
    pthread_condattr_init(&mono);
    pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);
    pthread_cond_init(&pool.work_cv, &mono);
    pthread_cond_init(&pool.exit_cv, &mono);
}

/* The record's synchronisation is no longer needed: its owner is about to
 * release it. */
static void forget(dm_call *c)
{
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}

/* Call thread: run one record, then hand it back or free it. */
static void run_one(dm_call *c)
{
    pthread_mutex_lock(&c->mu);
    bool skip = c->abandoned; /* its caller gave up while it was queued */
    pthread_mutex_unlock(&c->mu);
    if (!skip) {
        uint64_t t0 = dm__clock_mono_ns();
        c->rc = c->run(c);
        dm__call_metrics_observe(c->p->name, c->op, dm__clock_mono_ns() - t0);
    }
    pthread_mutex_lock(&c->mu);
    if (c->abandoned) {
        pthread_mutex_unlock(&c->mu);
        forget(c);
        c->release(c);
        atomic_fetch_sub(&abandoned, 1);
        return;
    }
    c->done = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu); /* c is the caller's from here */
}

static void *call_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        bool idle_too_long = false;
        while (pool.head == NULL && !pool.stopping && !idle_too_long) {
            struct timespec until;
            dm__clock_deadline(CLOCK_MONOTONIC, IDLE_EXIT_MS, &until);
            pool.idle++;
            idle_too_long = pthread_cond_timedwait(&pool.work_cv, &pool.mu, &until) == ETIMEDOUT;
            pool.idle--;
        }
        if (pool.head == NULL) /* stopping, or idle too long */
            break;
        dm_call *c = pool.head;
        pool.head = c->next;
        if (pool.head == NULL)
            pool.tail = NULL;
        pool.queued--;
        pool.running++;
        pthread_mutex_unlock(&pool.mu);
        run_one(c);
        pthread_mutex_lock(&pool.mu);
        pool.running--;
    }
    /* Free this thread's OpenSSL state (a plugin's TLS calls made it) before
     * it counts as gone: a stop that sees no thread left lets the process
     * exit, and OpenSSL's exit cleanup would not free the state of a
     * detached thread still on its way out (a leak at exit). */
    pthread_mutex_unlock(&pool.mu);
    OPENSSL_thread_stop();
    pthread_mutex_lock(&pool.mu);
    pool.threads--;
    pthread_cond_broadcast(&pool.exit_cv);
    pthread_mutex_unlock(&pool.mu);
    return NULL;
}

/* Under pool.mu: one more thread when the queue outgrows the idle ones.
 * False when none could be started. */
static bool grow(void)
{
    if (pool.queued <= pool.idle || pool.threads >= pool.max_threads)
        return true;
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, call_thread, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        DM_LOG_W("plugin calls: cannot start a call thread (%d running)", pool.threads);
        return false;
    }
    pool.threads++;
    return true;
}

/* Queue c; false when no thread is there to take it. */
static bool enqueue(dm_call *c)
{
    pthread_mutex_lock(&pool.mu);
    c->next = NULL;
    if (pool.tail != NULL)
        pool.tail->next = c;
    else
        pool.head = c;
    pool.tail = c;
    pool.queued++;
    if (!grow() && pool.threads == 0) {
        pool.head = pool.tail = NULL; /* c was alone: nobody will take it */
        pool.queued--;
        pthread_mutex_unlock(&pool.mu);
        return false;
    }
    pthread_cond_signal(&pool.work_cv);
    pthread_mutex_unlock(&pool.mu);
    return true;
}

/* Wait for c until timeout_ms from now. True when done (c is the
 * caller's); false when the caller gave up (c is the call thread's). */
static bool wait_done(dm_call *c, int timeout_ms)
{
    struct timespec deadline;
    dm__clock_deadline(CLOCK_MONOTONIC, timeout_ms, &deadline);
    pthread_mutex_lock(&c->mu);
    while (!c->done) {
        if (pthread_cond_timedwait(&c->cv, &c->mu, &deadline) == ETIMEDOUT && !c->done) {
            c->abandoned = true;
            atomic_fetch_add(&abandoned, 1); /* before the thread can see it */
            break;
        }
    }
    bool done = c->done;
    pthread_mutex_unlock(&c->mu);
    return done;
}

int dm__call_bounded(dm_call *c, int timeout_ms, dm_err_t *err)
{
    pthread_once(&once, init_once);
    const char *name = c->p->name; /* c may be freed by its thread once abandoned */
    const dm_call_op op = c->op;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, &mono);
    c->done = c->abandoned = false;
    pthread_mutex_lock(&pool.mu);
    bool bounded = pool.started && !pool.stopping;
    pthread_mutex_unlock(&pool.mu);
    if (!bounded) { /* not started: on this thread, unbounded */
        uint64_t t0 = dm__clock_mono_ns();
        c->rc = c->run(c);
        dm__call_metrics_observe(name, op, dm__clock_mono_ns() - t0);
    } else if (!enqueue(c)) {
        forget(c);
        return dm_err_set(err, DM_ENOMEM, "%s: %s: no call thread could be started", name, dm__call_op_name(op));
    } else if (!wait_done(c, timeout_ms)) {
        dm__call_metrics_timeout(name, op);
        return dm_err_set(err, DM_ETIMEDOUT, "%s: %s did not answer within %d ms", name, dm__call_op_name(op),
                          timeout_ms);
    }
    forget(c);
    return 0;
}

bool dm__call_lock_live(dm_call *c)
{
    pthread_mutex_lock(&c->mu);
    return !c->abandoned;
}

void dm__call_unlock(dm_call *c)
{
    pthread_mutex_unlock(&c->mu);
}

/* Called by dm__plugin_calls_start (call.c) once the bounds are set. */
int dm__call_pool_start(int max_threads, dm_err_t *err)
{
    pthread_once(&once, init_once);
    pthread_mutex_lock(&pool.mu);
    int rc = 0;
    if (pool.started)
        rc = dm_err_set(err, DM_ECONFLICT, "plugin calls: already started");
    else {
        pool.started = true;
        pool.stopping = false;
        pool.max_threads = max_threads;
    }
    pthread_mutex_unlock(&pool.mu);
    return rc;
}

int dm__plugin_calls_stop(int timeout_ms)
{
    pthread_once(&once, init_once);
    struct timespec deadline;
    dm__clock_deadline(CLOCK_MONOTONIC, timeout_ms > 0 ? timeout_ms : 0, &deadline);
    pthread_mutex_lock(&pool.mu);
    pool.stopping = true;
    pthread_cond_broadcast(&pool.work_cv);
    int rc = 0;
    while (pool.threads > 0 && rc == 0) {
        if (timeout_ms < 0)
            pthread_cond_wait(&pool.exit_cv, &pool.mu);
        else if (pthread_cond_timedwait(&pool.exit_cv, &pool.mu, &deadline) == ETIMEDOUT)
            rc = DM_ETIMEDOUT;
    }
    if (rc == 0) {
        pool.started = false;
        pool.stopping = false;
    }
    pthread_mutex_unlock(&pool.mu);
    return rc;
}

void dm__plugin_calls_stats(dm_plugin_calls_stats *out)
{
    pthread_mutex_lock(&pool.mu);
    out->threads = pool.threads;
    out->idle = pool.idle;
    out->queued = pool.queued;
    out->running = pool.running;
    pthread_mutex_unlock(&pool.mu);
    out->abandoned = atomic_load(&abandoned);
}
