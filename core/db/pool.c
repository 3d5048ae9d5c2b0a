/*
 * pool.c — fixed worker threads, each with its own database connection.
 * A bounded FIFO feeds the workers; finished items go on a done list that
 * the loop drains in one uv_async callback. The loop never waits on a worker.
 */
#include "db/pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/log.h"

typedef struct item {
    dm_pool_work_fn work;
    dm_pool_done_fn done;
    void           *arg;
    struct item    *next;
} item;

typedef struct worker {
    dm_pool  *pool;
    pthread_t thread;
    dm_db     db;
    bool      started;
    bool      db_open;   /* mirror of db.conn != NULL, guarded by pool->mu */
} worker;

struct dm_pool {
    uv_loop_t      *loop;
    uv_async_t      async;         /* wakes the loop to run completions */
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    pthread_cond_t  exit_cv;       /* signalled as each worker exits */
    int             exited;
    item           *head, *tail;   /* waiting work */
    item           *done_head, *done_tail; /* finished, completions pending */
    int             queued;
    int             busy;
    int             max_queue;
    bool            stopping;
    worker         *workers;
    int             n_workers;
};

static void *worker_main(void *arg)
{
    worker *w = arg;
    dm_pool *p = w->pool;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->head == NULL && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->head == NULL) { /* stopping and drained */
            p->exited++;
            pthread_cond_signal(&p->exit_cv);
            break;
        }
        item *it = p->head;
        p->head = it->next;
        if (p->head == NULL)
            p->tail = NULL;
        p->queued--;
        p->busy++;
        pthread_mutex_unlock(&p->mu);

        it->work(&w->db, it->arg);
        if (w->db.in_tx) {
            /* A handler that returned inside a transaction is a bug; never
             * let the next request inherit it. */
            DM_LOG_E("worker: work returned with an open transaction; rolled back");
            dm__db_rollback(&w->db);
        }

        pthread_mutex_lock(&p->mu);
        w->db_open = dm__db_connected(&w->db);
        p->busy--;
        it->next = NULL;
        if (p->done_tail != NULL)
            p->done_tail->next = it;
        else
            p->done_head = it;
        p->done_tail = it;
        uv_async_send(&p->async);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void run_completions(uv_async_t *h)
{
    dm_pool *p = h->data;
    pthread_mutex_lock(&p->mu);
    item *it = p->done_head;
    p->done_head = p->done_tail = NULL;
    pthread_mutex_unlock(&p->mu);
    while (it != NULL) {
        item *next = it->next;
        if (it->done != NULL)
            it->done(it->arg);
        free(it);
        it = next;
    }
}

dm_pool *dm__pool_new(uv_loop_t *loop, const dm_config *cfg, int workers, int depth, dm_err_t *err)
{
    dm_pool *p = calloc(1, sizeof *p);
    if (p == NULL) {
        dm_err_set(err, DM_ENOMEM, "out of memory");
        return NULL;
    }
    p->loop = loop;
    p->max_queue = depth;
    p->n_workers = workers;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_condattr_t attr; /* exit_cv waits against the monotonic clock */
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&p->exit_cv, &attr);
    pthread_condattr_destroy(&attr);
    p->workers = calloc((size_t)p->n_workers, sizeof *p->workers);
    if (p->workers == NULL || uv_async_init(loop, &p->async, run_completions) != 0) {
        free(p->workers);
        free(p);
        dm_err_set(err, DM_ENOMEM, "cannot set up the worker pool");
        return NULL;
    }
    p->async.data = p;
    for (int i = 0; i < p->n_workers; i++) {
        worker *w = &p->workers[i];
        w->pool = p;
        if (dm__db_init(&w->db, cfg->database_url, cfg->db_connect_timeout_s,
                        cfg->db_statement_timeout_ms, err) != 0)
            break;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            dm__db_fini(&w->db);
            dm_err_set(err, DM_ENOMEM, "cannot start worker thread %d", i);
            break;
        }
        w->started = true;
    }
    if (!p->workers[p->n_workers - 1].started) {
        dm__pool_stop(p, -1);
        /* The caller cannot free a half-built pool after the loop closes the
         * async handle, so report failure and leak nothing but the shell. */
        return NULL;
    }
    return p;
}

int dm__pool_submit(dm_pool *p, dm_pool_work_fn work, dm_pool_done_fn done, void *arg)
{
    item *it = malloc(sizeof *it);
    if (it == NULL)
        return DM_ENOMEM;
    it->work = work;
    it->done = done;
    it->arg = arg;
    it->next = NULL;
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    if (p->stopping)
        rc = DM_ECONFLICT;
    else if (p->queued >= p->max_queue)
        rc = DM_EBUSY;
    if (rc != 0) {
        pthread_mutex_unlock(&p->mu);
        free(it);
        return rc;
    }
    if (p->tail != NULL)
        p->tail->next = it;
    else
        p->head = it;
    p->tail = it;
    p->queued++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

int dm__pool_stop(dm_pool *p, int timeout_ms)
{
    int started = 0;
    for (int i = 0; i < p->n_workers; i++)
        started += p->workers[i].started;
    struct timespec deadline;
    dm__clock_deadline(CLOCK_MONOTONIC, timeout_ms > 0 ? timeout_ms : 0, &deadline);
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    int rc = 0;
    while (p->exited < started && rc == 0) {
        if (timeout_ms < 0)
            pthread_cond_wait(&p->exit_cv, &p->mu);
        else if (pthread_cond_timedwait(&p->exit_cv, &p->mu, &deadline) != 0)
            rc = DM_ETIMEDOUT;
    }
    pthread_mutex_unlock(&p->mu);
    if (rc != 0)
        return rc; /* workers are stuck in a call; the caller exits without them */
    for (int i = 0; i < p->n_workers; i++) {
        if (p->workers[i].started) {
            pthread_join(p->workers[i].thread, NULL);
            p->workers[i].started = false;
            dm__db_fini(&p->workers[i].db);
        }
    }
    run_completions(&p->async);
    uv_close((uv_handle_t *)&p->async, NULL);
    return 0;
}

void dm__pool_free(dm_pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->exit_cv);
    free(p->workers);
    free(p);
}

void dm__pool_stats(dm_pool *p, dm_pool_stats *out)
{
    pthread_mutex_lock(&p->mu);
    out->queued = p->queued;
    out->busy = p->busy;
    out->workers = p->n_workers;
    out->idle = p->n_workers - p->busy;
    int open = 0;
    for (int i = 0; i < p->n_workers; i++)
        open += p->workers[i].db_open;
    out->db_open = open;
    pthread_mutex_unlock(&p->mu);
}
