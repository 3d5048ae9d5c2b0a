/*
 * test_pool.c — the worker pool: work runs off the loop thread, completions
 * run on it, a full queue refuses with DM_EBUSY, stop drains what is queued.
 * No database is touched: the work functions never use their connection.
 */
#include <pthread.h>
#include <string.h>

#include "db/pool.h"
#include "dm_test.h"

typedef struct job {
    pthread_t        worker_thread;
    pthread_t        done_thread;
    int              ran;
    int              completed;
    pthread_mutex_t *gate; /* when set, work blocks until it is unlocked */
} job;

static void work(dm_db *db, void *arg)
{
    (void)db;
    job *j = arg;
    if (j->gate != NULL) {
        pthread_mutex_lock(j->gate);
        pthread_mutex_unlock(j->gate);
    }
    j->worker_thread = pthread_self();
    j->ran++;
}

static int completions;
static void done(void *arg)
{
    job *j = arg;
    j->done_thread = pthread_self();
    j->completed++;
    completions++;
}

static dm_config make_cfg(int workers, int depth)
{
    dm_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.workers = workers;
    cfg.queue_depth = depth;
    cfg.database_url = "postgresql://127.0.0.1:1/none";
    cfg.db_connect_timeout_s = 1;
    return cfg;
}

static void run_until(uv_loop_t *loop, int want)
{
    /* Each completion batch wakes the loop through the async handle; the
     * loop blocks in poll until then, so this is event-driven, not timed. */
    while (completions < want)
        uv_run(loop, UV_RUN_ONCE);
}

static uv_loop_t loop;

static dm_pool *start_pool(int workers, int depth)
{
    uv_loop_init(&loop);
    dm_config cfg = make_cfg(workers, depth);
    dm_err_t err;
    dm_pool *p = dm__pool_new(&loop, &cfg, workers, depth, &err);
    ck_assert_msg(p != NULL, "pool: %s", err.msg);
    completions = 0;
    return p;
}

/* The pool is already stopped; close its handle and the loop. */
static void finish_pool(dm_pool *p)
{
    uv_run(&loop, UV_RUN_DEFAULT);
    dm__pool_free(p);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}

static void wait_busy(dm_pool *p, int n)
{
    dm_pool_stats st;
    do {
        dm__pool_stats(p, &st);
    } while (st.busy != n);
}

START_TEST(work_runs_on_worker_and_completes_on_loop)
{
    dm_pool *p = start_pool(2, 8);
    job j[4];
    memset(j, 0, sizeof j);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(dm__pool_submit(p, work, done, &j[i]), 0);
    run_until(&loop, 4);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(j[i].ran, 1);
        ck_assert_int_eq(j[i].completed, 1);
        ck_assert_msg(!pthread_equal(j[i].worker_thread, pthread_self()), "work ran on the loop thread");
        ck_assert_msg(pthread_equal(j[i].done_thread, pthread_self()), "completion ran off the loop thread");
    }
    ck_assert_int_eq(dm__pool_stop(p, -1), 0);
    finish_pool(p);
}
END_TEST

START_TEST(full_queue_is_refused_then_recovers)
{
    dm_pool *p = start_pool(1, 2);
    pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&gate);
    job j[5];
    memset(j, 0, sizeof j);
    for (int i = 0; i < 5; i++)
        j[i].gate = &gate;
    /* One blocks the only worker; wait until it has been taken off the queue. */
    ck_assert_int_eq(dm__pool_submit(p, work, done, &j[0]), 0);
    wait_busy(p, 1);
    ck_assert_int_eq(dm__pool_submit(p, work, done, &j[1]), 0);
    ck_assert_int_eq(dm__pool_submit(p, work, done, &j[2]), 0);
    dm_pool_stats st;
    dm__pool_stats(p, &st);
    ck_assert_int_eq(st.queued, 2);
    ck_assert_int_eq(dm__pool_submit(p, work, done, &j[3]), DM_EBUSY);
    ck_assert_int_eq(j[3].ran, 0);
    pthread_mutex_unlock(&gate);
    run_until(&loop, 3);
    ck_assert_int_eq(dm__pool_submit(p, work, done, &j[4]), 0);
    run_until(&loop, 4);
    ck_assert_int_eq(j[3].completed, 0);
    ck_assert_int_eq(dm__pool_stop(p, -1), 0);
    finish_pool(p);
}
END_TEST

START_TEST(stop_finishes_queued_work_and_refuses_new)
{
    dm_pool *p = start_pool(1, 16);
    job j[6];
    memset(j, 0, sizeof j);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(dm__pool_submit(p, work, done, &j[i]), 0);
    ck_assert_int_eq(dm__pool_stop(p, -1), 0);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(j[i].ran, 1);
        ck_assert_int_eq(j[i].completed, 1);
    }
    ck_assert_int_eq(dm__pool_submit(p, work, done, &j[5]), DM_ECONFLICT);
    finish_pool(p);
}
END_TEST

START_TEST(stop_gives_up_on_a_stuck_worker_after_the_timeout)
{
    dm_pool *p = start_pool(1, 4);
    pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&gate);
    job j;
    memset(&j, 0, sizeof j);
    j.gate = &gate;
    ck_assert_int_eq(dm__pool_submit(p, work, done, &j), 0);
    wait_busy(p, 1);
    ck_assert_int_eq(dm__pool_stop(p, 50), DM_ETIMEDOUT);
    ck_assert_int_eq(j.ran, 0);
    pthread_mutex_unlock(&gate);
    ck_assert_int_eq(dm__pool_stop(p, -1), 0);
    ck_assert_int_eq(j.completed, 1);
    finish_pool(p);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("pool");
    tcase_add_test(tc, work_runs_on_worker_and_completes_on_loop);
    tcase_add_test(tc, full_queue_is_refused_then_recovers);
    tcase_add_test(tc, stop_finishes_queued_work_and_refuses_new);
    tcase_add_test(tc, stop_gives_up_on_a_stuck_worker_after_the_timeout);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
