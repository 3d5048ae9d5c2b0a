/*
 * test_jobs_runner.c — the job runner against a real PostgreSQL: handlers
 * driven synchronously through dm__jobs_run_once (success, retry with
 * backoff, permanent failure, a leaked transaction), periodic tasks, and the
 * threaded runner end to end (execution, counts snapshot, lease heartbeat,
 * prompt and graceful stop). Where a runner thread must act, the test polls
 * a condition with a deadline instead of sleeping a fixed time.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dm_test.h"
#include "testdb.h"
#include "jobs/jobs.h"
#include "util/clock.h"

static char *url;
static dm_db db;

static void setup(void)
{
    url = dm_test_db_create_migrated("jobsrun");
    dm_err_t err;
    ck_assert_msg(dm__db_init(&db, url, 2, 10000, &err) == 0, "db init: %s", err.msg);
}

static void teardown(void)
{
    dm__db_fini(&db);
    dm_test_db_drop(url);
    free(url);
}

#define q(...) dm_test_db_scalarf(url, __VA_ARGS__)

#define EXPECT_SQL(want, ...) DM_EXPECT_SQL(url, (want), __VA_ARGS__)

#define wait_sql(want, sql) dm_test_db_wait(url, (want), 20, (sql))

static void exec_sql(const char *sql)
{
    free(dm_test_db_scalar(url, sql));
}

static void enqueue(const char *kind, const dm_job_opts *o, char id[37])
{
    dm_err_t err;
    dm_err_clear(&err);
    json_t *p = json_pack("{s:s}", "kind", kind);
    int rc = dm__job_enqueue(&db, kind, p, o, id, &err);
    json_decref(p);
    ck_assert_msg(rc == 0, "enqueue %s: %d %s", kind, rc, err.msg);
}

static void make_due(const char *id)
{
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE jobs SET run_at = now() - interval '1 second' "
             "WHERE id = '%s'", id);
    exec_sql(sql);
}

static void claim_ok(const char *owner, dm_job *job)
{
    dm_err_t err;
    dm_err_clear(&err);
    int rc = dm__job_claim(&db, owner, NULL, 0, 60, job, &err);
    ck_assert_msg(rc == 0, "claim by %s: %d %s", owner, rc, err.msg);
}

/* ---- the runner, driven synchronously ---- */

typedef struct probe {
    atomic_int calls;
    int        rc;            /* what the handler returns */
    bool       leave_tx_open;
    char       last_payload[128];
    /* blocking handler */
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    bool            release;
    atomic_int      entered;
} probe;

static void probe_init(probe *p, int rc)
{
    memset(p, 0, sizeof *p);
    p->rc = rc;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
}

static int probe_fn(dm_db *hdb, const dm_job *job, void *ctx, dm_err_t *err)
{
    probe *p = ctx;
    atomic_fetch_add(&p->calls, 1);
    char *s = json_dumps(job->payload, JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(p->last_payload, sizeof p->last_payload, "%s", s != NULL ? s : "");
    free(s);
    if (p->leave_tx_open)
        dm__db_begin(hdb, NULL);
    if (p->rc != 0)
        return dm_err_set(err, p->rc, "probe failed on attempt %d", job->attempts);
    return 0;
}

static int blocking_fn(dm_db *hdb, const dm_job *job, void *ctx, dm_err_t *err)
{
    probe *p = ctx;
    atomic_fetch_add(&p->entered, 1);
    pthread_mutex_lock(&p->mu);
    while (!p->release)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    atomic_fetch_add(&p->calls, 1);
    return 0;
}

static void probe_release(probe *p)
{
    pthread_mutex_lock(&p->mu);
    p->release = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void *release_thread(void *arg)
{
    probe_release(arg);
    return NULL;
}

static dm_jobs_runner *runner(int threads, int poll_ms, int lease_s, int maintain_ms)
{
    dm_jobs_runner_cfg cfg = { .conninfo = url, .node_id = "test-node", .threads = threads,
                               .poll_ms = poll_ms, .lease_s = lease_s,
                               .maintain_ms = maintain_ms };
    dm_err_t err;
    dm_err_clear(&err);
    dm_jobs_runner *r = dm__jobs_runner_new(&cfg, &err);
    ck_assert_msg(r != NULL, "runner_new: %s", err.msg);
    return r;
}

static void reg(dm_jobs_runner *r, const char *name, dm_job_fn fn, void *ctx, int64_t base_ms)
{
    dm_job_kind k = { .name = name, .fn = fn, .ctx = ctx, .backoff_base_ms = base_ms,
                      .backoff_cap_ms = base_ms * 100 };
    dm_err_t err;
    ck_assert_msg(dm__jobs_register(r, &k, &err) == 0, "register %s: %s", name, err.msg);
}

START_TEST(run_once_runs_a_registered_handler)
{
    probe p;
    probe_init(&p, 0);
    dm_jobs_runner *r = runner(1, 0, 0, 0);
    reg(r, "test.ok", probe_fn, &p, 1000);
    dm_err_t err;
    ck_assert_int_eq(dm__jobs_run_once(r, &db, "n1/w0", &err), DM_ENOTFOUND);
    char id[37];
    enqueue("test.ok", NULL, id);
    enqueue("test.unregistered", NULL, NULL);
    ck_assert_msg(dm__jobs_run_once(r, &db, "n1/w0", &err) == 0, "%s", err.msg);
    ck_assert_int_eq(atomic_load(&p.calls), 1);
    ck_assert_str_eq(p.last_payload, "{\"kind\":\"test.ok\"}");
    EXPECT_SQL("succeeded", "SELECT status FROM jobs WHERE id = '%s'", id);
    ck_assert_int_eq(dm__jobs_run_once(r, &db, "n1/w0", &err), DM_ENOTFOUND);
    EXPECT_SQL("queued", "SELECT status FROM jobs WHERE kind = 'test.unregistered'");
    dm__jobs_runner_free(r);
}
END_TEST

START_TEST(run_once_retries_a_failing_handler_with_backoff)
{
    probe p;
    probe_init(&p, DM_EUNAVAIL);
    dm_jobs_runner *r = runner(1, 0, 0, 0);
    reg(r, "test.flaky", probe_fn, &p, 60000);
    char id[37];
    dm_job_opts o = { .max_attempts = 2 };
    enqueue("test.flaky", &o, id);
    dm_err_t err;
    ck_assert_int_eq(dm__jobs_run_once(r, &db, "n1/w0", &err), 0);
    /* base 60 s for attempt 1, plus up to 25 % jitter */
    EXPECT_SQL("queued 1 probe failed on attempt 1 true",
               "SELECT status || ' ' || attempts || ' ' || last_error || ' ' || "
               "(run_at BETWEEN now() + interval '59 s' AND now() + interval '76 s') "
               "FROM jobs WHERE id = '%s'", id);
    ck_assert_int_eq(dm__jobs_run_once(r, &db, "n1/w0", &err), DM_ENOTFOUND);
    make_due(id);
    ck_assert_int_eq(dm__jobs_run_once(r, &db, "n1/w0", &err), 0);
    EXPECT_SQL("failed 2 probe failed on attempt 2", "SELECT status || ' ' || attempts || ' ' "
               "|| last_error FROM jobs WHERE id = '%s'", id);
    dm__jobs_runner_free(r);
}
END_TEST

START_TEST(run_once_fails_permanently_on_einval)
{
    probe p;
    probe_init(&p, DM_EINVAL);
    dm_jobs_runner *r = runner(1, 0, 0, 0);
    reg(r, "test.bad", probe_fn, &p, 1000);
    char id[37];
    enqueue("test.bad", NULL, id);
    ck_assert_int_eq(dm__jobs_run_once(r, &db, "n1/w0", NULL), 0);
    EXPECT_SQL("failed 1", "SELECT status || ' ' || attempts FROM jobs WHERE id = '%s'", id);
    dm__jobs_runner_free(r);
}
END_TEST

START_TEST(run_once_rolls_back_a_transaction_left_open)
{
    probe p;
    probe_init(&p, 0);
    p.leave_tx_open = true;
    dm_jobs_runner *r = runner(1, 0, 0, 0);
    reg(r, "test.leaky", probe_fn, &p, 1000);
    char id[37];
    enqueue("test.leaky", NULL, id);
    ck_assert_int_eq(dm__jobs_run_once(r, &db, "n1/w0", NULL), 0);
    ck_assert_msg(!db.in_tx, "the runner rolled the handler's transaction back");
    EXPECT_SQL("failed handler returned with a transaction still open (rolled back)",
               "SELECT status || ' ' || last_error FROM jobs WHERE id = '%s'", id);
    dm__jobs_runner_free(r);
}
END_TEST

START_TEST(registration_is_validated)
{
    probe p;
    probe_init(&p, 0);
    dm_jobs_runner *r = runner(1, 0, 0, 0);
    dm_err_t err;
    dm_job_kind bad = { .name = "Bad", .fn = probe_fn };
    ck_assert_int_eq(dm__jobs_register(r, &bad, &err), DM_EINVAL);
    dm_job_kind nofn = { .name = "ok" };
    ck_assert_int_eq(dm__jobs_register(r, &nofn, &err), DM_EINVAL);
    ck_assert_int_eq(dm__jobs_runner_start(r, &err), DM_EINVAL); /* no kinds */
    ck_assert_msg(strstr(err.msg, "no job kinds"), "%s", err.msg);
    reg(r, "test.ok", probe_fn, &p, 0);
    dm_job_kind dup = { .name = "test.ok", .fn = probe_fn };
    ck_assert_int_eq(dm__jobs_register(r, &dup, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "twice"), "%s", err.msg);
    ck_assert_int_eq(dm__jobs_register_periodic(r, "test.tick", 0, probe_fn, &p, &err),
                     DM_EINVAL);
    ck_assert_int_eq(dm__jobs_runner_start(r, &err), 0);
    dm_job_kind late = { .name = "test.late", .fn = probe_fn };
    ck_assert_int_eq(dm__jobs_register(r, &late, &err), DM_ECONFLICT);
    ck_assert_int_eq(dm__jobs_runner_start(r, &err), DM_ECONFLICT);
    dm__jobs_runner_free(r);

    dm_jobs_runner_cfg cfg = { .conninfo = url, .threads = 0 };
    ck_assert_ptr_null(dm__jobs_runner_new(&cfg, &err));
    ck_assert_msg(strstr(err.msg, "threads"), "%s", err.msg);
    dm_jobs_runner_cfg slow = { .conninfo = url, .threads = 1, .lease_s = 3, .maintain_ms = 2000 };
    ck_assert_ptr_null(dm__jobs_runner_new(&slow, &err));
    ck_assert_msg(strstr(err.msg, "maintain_ms"), "%s", err.msg);
}
END_TEST

/* ---- periodic tasks ---- */

START_TEST(periodic_task_runs_and_queues_its_next_run)
{
    probe p;
    probe_init(&p, 0);
    dm_jobs_runner *r = runner(1, 0, 0, 0);
    dm_err_t err;
    ck_assert_int_eq(dm__jobs_register_periodic(r, "test.tick", 3600, probe_fn, &p, &err), 0);
    ck_assert_msg(dm__jobs_periodic_ensure(r, &db, &err) == 0, "%s", err.msg);
    ck_assert_msg(dm__jobs_periodic_ensure(r, &db, &err) == 0, "%s", err.msg);
    EXPECT_SQL("1 periodic:test.tick 1", "SELECT count(*) || ' ' || min(unique_key) || ' ' || "
               "min(max_attempts) FROM jobs WHERE kind = 'test.tick'");
    ck_assert_msg(dm__jobs_run_once(r, &db, "n1/w0", &err) == 0, "%s", err.msg);
    ck_assert_int_eq(atomic_load(&p.calls), 1);
    EXPECT_SQL("succeeded:1 queued:1", "SELECT string_agg(status || ':' || n, ' ' ORDER BY "
               "status DESC) FROM (SELECT status, count(*) n FROM jobs GROUP BY status) s");
    EXPECT_SQL("t", "SELECT run_at > now() + interval '3500 s' FROM jobs WHERE status = 'queued'");
    ck_assert_int_eq(dm__jobs_run_once(r, &db, "n1/w0", &err), DM_ENOTFOUND);
    ck_assert_int_eq(dm__jobs_periodic_ensure(r, &db, &err), 0);
    EXPECT_SQL("1", "SELECT count(*) FROM jobs WHERE status = 'queued'");
    dm__jobs_runner_free(r);
}
END_TEST

START_TEST(failed_periodic_run_is_not_retried_but_the_next_is_queued)
{
    probe p;
    probe_init(&p, DM_EUNAVAIL);
    dm_jobs_runner *r = runner(1, 0, 0, 0);
    dm_err_t err;
    ck_assert_int_eq(dm__jobs_register_periodic(r, "test.tick", 60, probe_fn, &p, &err), 0);
    ck_assert_int_eq(dm__jobs_periodic_ensure(r, &db, &err), 0);
    ck_assert_int_eq(dm__jobs_run_once(r, &db, "n1/w0", &err), 0);
    EXPECT_SQL("failed:probe failed on attempt 1 queued:", "SELECT string_agg(status || ':' || "
               "coalesce(last_error, ''), ' ' ORDER BY status) FROM jobs");
    dm__jobs_runner_free(r);
}
END_TEST

START_TEST(periodic_task_lost_with_its_node_is_queued_again)
{
    probe p;
    probe_init(&p, 0);
    dm_jobs_runner *r = runner(1, 0, 0, 0);
    dm_err_t err;
    ck_assert_int_eq(dm__jobs_register_periodic(r, "test.tick", 60, probe_fn, &p, &err), 0);
    ck_assert_int_eq(dm__jobs_periodic_ensure(r, &db, &err), 0);
    dm_job job;
    claim_ok("crashed/w0", &job); /* the node dies mid-run */
    exec_sql("UPDATE jobs SET lease_expires_at = now() - interval '1 second'");
    ck_assert_int_eq(dm__jobs_run_once(r, &db, "n1/w0", &err), DM_ENOTFOUND);
    ck_assert_int_eq(dm__jobs_reap_expired(&db, NULL, &err), 0);
    ck_assert_int_eq(dm__jobs_periodic_ensure(r, &db, &err), 0);
    ck_assert_int_eq(dm__jobs_run_once(r, &db, "n1/w0", &err), 0);
    ck_assert_int_eq(atomic_load(&p.calls), 1);
    EXPECT_SQL("failed succeeded queued", "SELECT string_agg(status, ' ' ORDER BY created_at) "
               "FROM jobs");
    dm__job_clear(&job);
    dm__jobs_runner_free(r);
}
END_TEST

/* ---- the runner with threads ---- */

START_TEST(runner_threads_execute_jobs_and_stop_cleanly)
{
    probe p;
    probe_init(&p, 0);
    dm_jobs_runner *r = runner(3, 20, 3, 50);
    reg(r, "test.e2e", probe_fn, &p, 1000);
    dm_err_t err;
    ck_assert_msg(dm__jobs_runner_start(r, &err) == 0, "%s", err.msg);
    for (int i = 0; i < 10; i++)
        enqueue("test.e2e", NULL, NULL);
    dm__jobs_runner_wake(r);
    wait_sql("10", "SELECT count(*) FROM jobs WHERE status = 'succeeded'");
    ck_assert_int_eq(atomic_load(&p.calls), 10);
    EXPECT_SQL("t", "SELECT bool_and(lease_owner LIKE 'test-node/w%%') FROM jobs");
    /* The counts snapshot catches up within a few maintenance ticks. */
    uint64_t deadline = dm__clock_mono_ns() + 20ull * 1000000000ull;
    dm_job_counts c;
    do {
        dm__jobs_counts(r, &c);
        if (c.valid && c.succeeded == 10)
            break;
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep(&ts, NULL);
    } while (dm__clock_mono_ns() < deadline);
    ck_assert_msg(c.valid && c.succeeded == 10 && c.queued == 0 && c.running == 0,
                  "counts snapshot: valid %d succeeded %lld", c.valid, (long long)c.succeeded);
    uint64_t t0 = dm__clock_mono_ns();
    dm__jobs_runner_stop(r);
    dm__jobs_runner_stop(r); /* idempotent */
    ck_assert_msg(dm__clock_mono_ns() - t0 < 2000000000ull, "stop must not wait out a poll");
    dm__jobs_runner_free(r);
}
END_TEST

START_TEST(runner_stop_interrupts_a_long_poll)
{
    probe p;
    probe_init(&p, 0);
    dm_jobs_runner *r = runner(2, 600000, 60, 0); /* a ten-minute poll */
    reg(r, "test.idle", probe_fn, &p, 1000);
    dm_err_t err;
    ck_assert_int_eq(dm__jobs_runner_start(r, &err), 0);
    /* Both workers and the maintenance thread have connected and gone idle:
     * the workers are in (or entering) their ten-minute wait. */
    wait_sql("3", "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
             "AND application_name = 'dermaga' AND state = 'idle'");
    uint64_t t0 = dm__clock_mono_ns();
    dm__jobs_runner_stop(r);
    ck_assert_msg(dm__clock_mono_ns() - t0 < 3000000000ull, "stop took too long");
    dm__jobs_runner_free(r);
}
END_TEST

START_TEST(runner_heartbeat_renews_the_lease_of_a_long_job)
{
    probe p;
    probe_init(&p, 0);
    dm_jobs_runner *r = runner(1, 20, 3, 50); /* renew every ~1 s */
    reg(r, "test.long", blocking_fn, &p, 1000);
    char id[37];
    enqueue("test.long", NULL, id);
    dm_err_t err;
    ck_assert_int_eq(dm__jobs_runner_start(r, &err), 0);
    wait_sql("running", "SELECT status FROM jobs");
    char *first = q("SELECT lease_expires_at FROM jobs WHERE id = '%s'", id);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT lease_expires_at > '%s'::timestamptz FROM jobs", first);
    wait_sql("t", sql);
    free(first);
    ck_assert_int_eq(atomic_load(&p.entered), 1);
    probe_release(&p);
    wait_sql("succeeded", "SELECT status FROM jobs");
    dm__jobs_runner_free(r);
}
END_TEST

START_TEST(runner_stop_lets_a_running_job_finish)
{
    probe p;
    probe_init(&p, 0);
    dm_jobs_runner *r = runner(1, 20, 60, 0);
    reg(r, "test.long", blocking_fn, &p, 1000);
    enqueue("test.long", NULL, NULL);
    dm_err_t err;
    ck_assert_int_eq(dm__jobs_runner_start(r, &err), 0);
    wait_sql("running", "SELECT status FROM jobs");
    /* stop joins the worker, so release the handler from another thread
     * only after stop has begun: stop must wait for it, not abandon it. */
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, release_thread, &p), 0);
    dm__jobs_runner_stop(r);
    pthread_join(t, NULL);
    ck_assert_int_eq(atomic_load(&p.calls), 1);
    EXPECT_SQL("succeeded", "SELECT status FROM jobs");
    dm__jobs_runner_free(r);
}
END_TEST

START_TEST(runner_stop_within_gives_up_on_a_stuck_job)
{
    probe p;
    probe_init(&p, 0);
    dm_jobs_runner *r = runner(1, 20, 60, 0);
    reg(r, "test.stuck", blocking_fn, &p, 1000);
    enqueue("test.stuck", NULL, NULL);
    dm_err_t err;
    ck_assert_int_eq(dm__jobs_runner_start(r, &err), 0);
    wait_sql("running", "SELECT status FROM jobs");
    ck_assert_int_eq(dm__jobs_runner_stop_within(r, 50), DM_ETIMEDOUT);
    ck_assert_int_eq(atomic_load(&p.calls), 0);
    probe_release(&p);
    ck_assert_int_eq(dm__jobs_runner_stop_within(r, -1), 0);
    ck_assert_int_eq(atomic_load(&p.calls), 1);
    dm__jobs_runner_free(r);
}
END_TEST

START_TEST(runner_runs_periodic_tasks)
{
    probe p;
    probe_init(&p, 0);
    dm_jobs_runner *r = runner(1, 20, 3, 50);
    dm_err_t err;
    ck_assert_int_eq(dm__jobs_register_periodic(r, "test.tick", 3600, probe_fn, &p, &err), 0);
    ck_assert_int_eq(dm__jobs_runner_start(r, &err), 0);
    wait_sql("succeeded:1 queued:1", "SELECT string_agg(status || ':' || n, ' ' ORDER BY "
             "status DESC) FROM (SELECT status, count(*) n FROM jobs GROUP BY status) s");
    dm__jobs_runner_free(r);
    ck_assert_int_eq(atomic_load(&p.calls), 1);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("jobs_runner");
    TCase *once = tcase_create("run_once");
    tcase_set_timeout(once, 60);
    tcase_add_checked_fixture(once, setup, teardown);
    tcase_add_test(once, run_once_runs_a_registered_handler);
    tcase_add_test(once, run_once_retries_a_failing_handler_with_backoff);
    tcase_add_test(once, run_once_fails_permanently_on_einval);
    tcase_add_test(once, run_once_rolls_back_a_transaction_left_open);
    tcase_add_test(once, registration_is_validated);
    tcase_add_test(once, periodic_task_runs_and_queues_its_next_run);
    tcase_add_test(once, failed_periodic_run_is_not_retried_but_the_next_is_queued);
    tcase_add_test(once, periodic_task_lost_with_its_node_is_queued_again);
    suite_add_tcase(s, once);

    TCase *threads = tcase_create("threads");
    tcase_set_timeout(threads, 60);
    tcase_add_checked_fixture(threads, setup, teardown);
    tcase_add_test(threads, runner_threads_execute_jobs_and_stop_cleanly);
    tcase_add_test(threads, runner_stop_interrupts_a_long_poll);
    tcase_add_test(threads, runner_heartbeat_renews_the_lease_of_a_long_job);
    tcase_add_test(threads, runner_stop_lets_a_running_job_finish);
    tcase_add_test(threads, runner_stop_within_gives_up_on_a_stuck_job);
    tcase_add_test(threads, runner_runs_periodic_tasks);
    suite_add_tcase(s, threads);
    return s;
}

DM_TEST_MAIN(make_suite)
