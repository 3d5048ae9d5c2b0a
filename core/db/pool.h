/*
 * pool.h — the fixed worker pool. Each worker thread owns one dm_db
 * connection. Work is queued from the loop thread, runs on a worker, and its
 * completion runs back on the loop thread through one uv_async.
 * The loop thread never calls libpq or a plugin; this is how it avoids it.
 * A worker's connection that died while it sat idle (a database restart)
 * is found and replaced by the first statement of the next work (db/pg.h),
 * so work never gets a stale connection's error.
 */
#ifndef DM_POOL_H
#define DM_POOL_H

#include <stddef.h>

#include <uv.h>

#include <dermaga/error.h>

#include "app/config.h"
#include "db/pg.h"

typedef struct dm_pool dm_pool;

/* Runs on a worker thread; db is that worker's connection (not yet opened). */
typedef void (*dm_pool_work_fn)(dm_db *db, void *arg);
/* Runs on the loop thread once work has finished. */
typedef void (*dm_pool_done_fn)(void *arg);

/* Start `workers` threads with a queue of at most `depth` waiting items;
 * their connections use cfg's database settings. Returns NULL and fills
 * err on failure. */
dm_pool *dm__pool_new(uv_loop_t *loop, const dm_config *cfg, int workers, int depth, dm_err_t *err);

/*
 * Queue work (loop thread only). 0, or DM_EBUSY when the queue holds
 * cfg->queue_depth items already (the caller answers 503), or DM_ECONFLICT
 * when the pool is stopping. On failure neither callback is ever called.
 */
int dm__pool_submit(dm_pool *p, dm_pool_work_fn work, dm_pool_done_fn done, void *arg);

/* Stop taking work, finish what is queued, join the threads, run the last
 * completions, and close the async handle. Loop thread only.
 * Waits at most timeout_ms (< 0: forever) for the workers to finish; on
 * DM_ETIMEDOUT some worker is stuck in a call (a hung database) and the pool
 * is left as it is: the caller is expected to exit the process. */
int dm__pool_stop(dm_pool *p, int timeout_ms);
/* Free after dm__pool_stop and after the loop has closed the handle. */
void dm__pool_free(dm_pool *p);

typedef struct dm_pool_stats {
    int queued;      /* waiting for a worker */
    int busy;        /* workers running work */
    int idle;        /* workers waiting */
    int db_open;     /* workers whose connection was open after their last
                        work (one that died idle counts until next used) */
    int workers;
} dm_pool_stats;

/* Snapshot for /metrics (any thread). */
void dm__pool_stats(dm_pool *p, dm_pool_stats *out);

#endif
