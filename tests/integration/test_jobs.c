/*
 * test_jobs.c — the durable job queue's SQL against a real PostgreSQL:
 * enqueue, claim, SKIP LOCKED, leases, takeover and fencing, retry with
 * backoff, giving up, unique keys, counts, pruning. Time is moved by
 * rewriting run_at / lease_expires_at, never by sleeping.
 * The runner and periodic tasks are in test_jobs_runner.c.
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
    url = dm_test_db_create_migrated("jobs");
    dm_err_t err;
    ck_assert_msg(dm__db_init(&db, url, 2, 10000, &err) == 0, "db init: %s", err.msg);
}

static void teardown(void)
{
    dm__db_fini(&db);
    dm_test_db_drop(url);
    free(url);
}

/* ---- helpers ---- */

#define q(...) dm_test_db_scalarf(url, __VA_ARGS__)

#define EXPECT_SQL(want, ...) DM_EXPECT_SQL(url, (want), __VA_ARGS__)

static void exec_sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void exec_sql(const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
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

static void claim_ok(const char *owner, dm_job *job)
{
    dm_err_t err;
    dm_err_clear(&err);
    int rc = dm__job_claim(&db, owner, NULL, 0, 60, job, &err);
    ck_assert_msg(rc == 0, "claim by %s: %d %s", owner, rc, err.msg);
}

static void claim_none(const char *owner)
{
    dm_job job;
    dm_err_t err;
    dm_err_clear(&err);
    int rc = dm__job_claim(&db, owner, NULL, 0, 60, &job, &err);
    ck_assert_msg(rc == DM_ENOTFOUND, "claim by %s should find nothing, got %d (%s) job %s",
                  owner, rc, err.msg, rc == 0 ? job.id : "-");
}

static void make_due(const char *id)
{
    exec_sql("UPDATE jobs SET run_at = now() - interval '1 second' WHERE id = '%s'", id);
}

static void expire_lease(const char *id)
{
    exec_sql("UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = '%s'",
             id);
}

/* ---- enqueue and claim ---- */

START_TEST(enqueue_claim_complete)
{
    char id[37];
    enqueue("test.a", NULL, id);
    EXPECT_SQL("queued 0 5", "SELECT status || ' ' || attempts || ' ' || max_attempts "
               "FROM jobs WHERE id = '%s'", id);
    dm_job job;
    claim_ok("n1/w0", &job);
    ck_assert_str_eq(job.id, id);
    ck_assert_str_eq(job.kind, "test.a");
    ck_assert_int_eq(job.attempts, 1);
    ck_assert_int_eq(job.max_attempts, 5);
    ck_assert_str_eq(json_string_value(json_object_get(job.payload, "kind")), "test.a");
    ck_assert_ptr_null(job.last_error);
    EXPECT_SQL("running n1/w0 true", "SELECT status || ' ' || lease_owner || ' ' || "
               "(lease_expires_at > now() + interval '50 seconds') FROM jobs WHERE id = '%s'", id);
    claim_none("n2/w0");
    dm_err_t err;
    ck_assert_msg(dm__job_complete(&db, &job, &err) == 0, "complete: %s", err.msg);
    EXPECT_SQL("succeeded true true", "SELECT status || ' ' || (finished_at IS NOT NULL) || ' ' || "
               "(lease_expires_at IS NULL) FROM jobs WHERE id = '%s'", id);
    ck_assert_int_eq(dm__job_complete(&db, &job, &err), DM_ECONFLICT);
    dm__job_clear(&job);
    claim_none("n1/w0");
}
END_TEST

START_TEST(enqueue_refuses_bad_input)
{
    dm_err_t err;
    json_t *arr = json_array();
    ck_assert_int_eq(dm__job_enqueue(&db, "Bad", NULL, NULL, NULL, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "Bad"), "%s", err.msg);
    ck_assert_int_eq(dm__job_enqueue(&db, "", NULL, NULL, NULL, &err), DM_EINVAL);
    ck_assert_int_eq(dm__job_enqueue(&db, NULL, NULL, NULL, NULL, &err), DM_EINVAL);
    ck_assert_int_eq(dm__job_enqueue(&db, "ok", arr, NULL, NULL, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "object"), "%s", err.msg);
    dm_job_opts o = { .max_attempts = 101 };
    ck_assert_int_eq(dm__job_enqueue(&db, "ok", NULL, &o, NULL, &err), DM_EINVAL);
    dm_job_opts neg = { .delay_ms = -1 };
    ck_assert_int_eq(dm__job_enqueue(&db, "ok", NULL, &neg, NULL, &err), DM_EINVAL);
    dm_job_opts key = { .unique_key = "" };
    ck_assert_int_eq(dm__job_enqueue(&db, "ok", NULL, &key, NULL, &err), DM_EINVAL);
    json_decref(arr);
    EXPECT_SQL("0", "SELECT count(*) FROM jobs");
}
END_TEST

START_TEST(enqueue_follows_the_callers_transaction)
{
    dm_err_t err;
    ck_assert_int_eq(dm__db_begin(&db, &err), 0);
    ck_assert_int_eq(dm__job_enqueue(&db, "test.tx", NULL, NULL, NULL, &err), 0);
    dm__db_rollback(&db);
    EXPECT_SQL("0", "SELECT count(*) FROM jobs");
    ck_assert_int_eq(dm__db_begin(&db, &err), 0);
    ck_assert_int_eq(dm__job_enqueue(&db, "test.tx", NULL, NULL, NULL, &err), 0);
    ck_assert_int_eq(dm__db_commit(&db, &err), 0);
    EXPECT_SQL("1", "SELECT count(*) FROM jobs");
}
END_TEST

START_TEST(delayed_job_waits_for_run_at)
{
    char id[37];
    dm_job_opts o = { .delay_ms = 60000 };
    enqueue("test.later", &o, id);
    EXPECT_SQL("t", "SELECT run_at BETWEEN now() + interval '55 s' AND now() + interval '65 s' "
               "FROM jobs WHERE id = '%s'", id);
    claim_none("n1/w0");
    make_due(id);
    dm_job job;
    claim_ok("n1/w0", &job);
    ck_assert_str_eq(job.id, id);
    dm__job_clear(&job);
}
END_TEST

START_TEST(claim_takes_only_the_given_kinds)
{
    enqueue("other.kind", NULL, NULL);
    const char *mine[] = { "test.a", "test.b" };
    dm_job job;
    dm_err_t err;
    ck_assert_int_eq(dm__job_claim(&db, "n1/w0", mine, 2, 60, &job, &err), DM_ENOTFOUND);
    const char *other[] = { "test.a", "other.kind" };
    ck_assert_int_eq(dm__job_claim(&db, "n1/w0", other, 2, 60, &job, &err), 0);
    ck_assert_str_eq(job.kind, "other.kind");
    dm__job_clear(&job);
    const char *bad[] = { "x\",y" };
    ck_assert_int_eq(dm__job_claim(&db, "n1/w0", bad, 1, 60, &job, &err), DM_EINVAL);
}
END_TEST

START_TEST(claim_skips_rows_locked_by_another_claimer)
{
    char first[37], second[37];
    enqueue("test.a", NULL, first);
    exec_sql("UPDATE jobs SET run_at = now() - interval '1 minute' WHERE id = '%s'", first);
    enqueue("test.a", NULL, second);
    /* Another session holds the oldest row mid-claim. */
    PGconn *other = PQconnectdb(url);
    ck_assert_msg(PQstatus(other) == CONNECTION_OK, "%s", PQerrorMessage(other));
    PGresult *r = PQexec(other, "BEGIN");
    PQclear(r);
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT id FROM jobs WHERE id = '%s' FOR UPDATE", first);
    r = PQexec(other, sql);
    ck_assert_int_eq(PQntuples(r), 1);
    PQclear(r);
    /* A blocked claim would hit this statement timeout and fail. */
    dm_db quick;
    dm_err_t err;
    dm__db_init(&quick, url, 2, 3000, &err);
    dm_job job;
    int rc = dm__job_claim(&quick, "n2/w0", NULL, 0, 60, &job, &err);
    ck_assert_msg(rc == 0, "claim must not wait for the locked row: %d %s", rc, err.msg);
    ck_assert_msg(strcmp(job.id, second) == 0, "got the locked job %s", job.id);
    dm__job_clear(&job);
    ck_assert_int_eq(dm__job_claim(&quick, "n2/w0", NULL, 0, 60, &job, &err), DM_ENOTFOUND);
    r = PQexec(other, "ROLLBACK");
    PQclear(r);
    PQfinish(other);
    ck_assert_int_eq(dm__job_claim(&quick, "n2/w0", NULL, 0, 60, &job, &err), 0);
    ck_assert_str_eq(job.id, first);
    dm__job_clear(&job);
    dm__db_fini(&quick);
}
END_TEST

#define RACE_JOBS 60
#define RACERS 4

typedef struct claimer {
    pthread_t tid;
    int       idx;
    int       n;
    char      ids[RACE_JOBS][37];
    char      error[DM_ERR_MSG_MAX + 16];
} claimer;

static void *claim_loop(void *arg)
{
    claimer *c = arg;
    dm_db mine;
    dm_err_t err;
    dm__db_init(&mine, url, 2, 10000, &err);
    char owner[32];
    snprintf(owner, sizeof owner, "racer/w%d", c->idx);
    for (;;) {
        dm_job job;
        int rc = dm__job_claim(&mine, owner, NULL, 0, 60, &job, &err);
        if (rc == DM_ENOTFOUND)
            break;
        if (rc != 0) {
            snprintf(c->error, sizeof c->error, "claim: %s", err.msg);
            break;
        }
        if (c->n < RACE_JOBS)
            memcpy(c->ids[c->n], job.id, 37);
        c->n++;
        rc = dm__job_complete(&mine, &job, &err);
        dm__job_clear(&job);
        if (rc != 0) {
            snprintf(c->error, sizeof c->error, "complete: %s", err.msg);
            break;
        }
    }
    dm__db_fini(&mine);
    return NULL;
}

START_TEST(concurrent_claimers_never_share_a_job)
{
    for (int i = 0; i < RACE_JOBS; i++)
        enqueue("test.race", NULL, NULL);
    static claimer cs[RACERS];
    memset(cs, 0, sizeof cs);
    for (int i = 0; i < RACERS; i++) {
        cs[i].idx = i;
        ck_assert_int_eq(pthread_create(&cs[i].tid, NULL, claim_loop, &cs[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(cs[i].tid, NULL);
        ck_assert_msg(cs[i].error[0] == '\0', "racer %d: %s", i, cs[i].error);
        total += cs[i].n;
    }
    ck_assert_int_eq(total, RACE_JOBS);
    for (int a = 0; a < RACERS; a++)
        for (int i = 0; i < cs[a].n; i++)
            for (int b = 0; b < RACERS; b++)
                for (int j = 0; j < cs[b].n; j++)
                    ck_assert_msg((a == b && i == j) || strcmp(cs[a].ids[i], cs[b].ids[j]) != 0,
                                  "job %s was claimed twice", cs[a].ids[i]);
    EXPECT_SQL("60 60", "SELECT count(*) || ' ' || sum(attempts) FROM jobs WHERE status = "
               "'succeeded'");
}
END_TEST

START_TEST(unreadable_payload_fails_and_claim_moves_on)
{
    exec_sql("INSERT INTO jobs (kind, payload, run_at) VALUES ('test.a', "
             "'{\"n\": 123456789012345678901234567890}', now() - interval '1 minute')");
    char good[37];
    enqueue("test.a", NULL, good);
    dm_job job;
    claim_ok("n1/w0", &job);
    ck_assert_str_eq(job.id, good);
    dm__job_clear(&job);
    EXPECT_SQL("failed true", "SELECT status || ' ' || (last_error LIKE 'payload cannot be parsed%%')"
               " FROM jobs WHERE id <> '%s'", good);
}
END_TEST

/* ---- leases ---- */

START_TEST(expired_lease_is_taken_over_and_old_owner_is_fenced_out)
{
    char id[37];
    enqueue("test.a", NULL, id);
    dm_job a, b;
    claim_ok("node-a/w0", &a);
    claim_none("node-b/w0"); /* a live lease is respected */
    expire_lease(id);
    claim_ok("node-b/w0", &b);
    ck_assert_str_eq(b.id, id);
    ck_assert_int_eq(b.attempts, 2);
    dm_err_t err;
    dm_err_clear(&err);
    ck_assert_int_eq(dm__job_complete(&db, &a, &err), DM_ECONFLICT);
    ck_assert_msg(strstr(err.msg, "no longer leased") && strstr(err.msg, "node-a/w0"), "%s",
                  err.msg);
    ck_assert_int_eq(dm__job_fail(&db, &a, "late", 0, NULL, &err), DM_ECONFLICT);
    ck_assert_int_eq(dm__job_extend_lease(&db, &a, 60, &err), DM_ECONFLICT);
    EXPECT_SQL("running node-b/w0 2", "SELECT status || ' ' || lease_owner || ' ' || attempts "
               "FROM jobs WHERE id = '%s'", id);
    ck_assert_msg(dm__job_complete(&db, &b, &err) == 0, "%s", err.msg);
    dm__job_clear(&a);
    dm__job_clear(&b);
}
END_TEST

START_TEST(same_owner_name_with_an_older_attempt_is_fenced_out)
{
    char id[37];
    enqueue("test.a", NULL, id);
    dm_job first, second;
    claim_ok("node-a/w0", &first);
    expire_lease(id);
    claim_ok("node-a/w0", &second); /* e.g. the same node restarted */
    dm_err_t err;
    ck_assert_int_eq(dm__job_complete(&db, &first, &err), DM_ECONFLICT);
    ck_assert_int_eq(dm__job_complete(&db, &second, &err), 0);
    dm__job_clear(&first);
    dm__job_clear(&second);
}
END_TEST

START_TEST(extend_lease_pushes_expiry_out)
{
    char id[37];
    enqueue("test.a", NULL, id);
    dm_job job;
    claim_ok("n1/w0", &job);
    exec_sql("UPDATE jobs SET lease_expires_at = now() + interval '1 second' WHERE id = '%s'", id);
    dm_err_t err;
    ck_assert_msg(dm__job_extend_lease(&db, &job, 600, &err) == 0, "%s", err.msg);
    EXPECT_SQL("t", "SELECT lease_expires_at > now() + interval '500 seconds' FROM jobs "
               "WHERE id = '%s'", id);
    ck_assert_int_eq(dm__job_extend_lease(&db, &job, 0, &err), DM_EINVAL);
    dm__job_clear(&job);
}
END_TEST

START_TEST(hold_lease_fences_a_handlers_transaction)
{
    char id[37];
    enqueue("test.a", NULL, id);
    dm_job job;
    claim_ok("n1/w0", &job);
    dm_err_t err;
    ck_assert_int_eq(dm__job_hold_lease(&db, &job, &err), DM_EINVAL); /* no transaction */
    expire_lease(id); /* expired but not yet taken: still ours */
    ck_assert_int_eq(dm__db_begin(&db, &err), 0);
    ck_assert_msg(dm__job_hold_lease(&db, &job, &err) == 0, "%s", err.msg);
    /* While held, the expired lease cannot be taken over ... */
    dm_db other;
    dm__db_init(&other, url, 2, 3000, &err);
    dm_job thief;
    ck_assert_int_eq(dm__job_claim(&other, "n2/w0", NULL, 0, 60, &thief, &err), DM_ENOTFOUND);
    /* ... and the heartbeat's renewal does not wait behind it. */
    dm_job copy = job;
    copy.payload = NULL;
    copy.unique_key = NULL;
    copy.last_error = NULL;
    ck_assert_int_eq(dm__job_extend_lease(&other, &copy, 60, &err), DM_EBUSY);
    ck_assert_int_eq(dm__db_commit(&db, &err), 0);
    /* Once released, the expired lease is taken, and the fence now refuses. */
    ck_assert_int_eq(dm__job_claim(&other, "n2/w0", NULL, 0, 60, &thief, &err), 0);
    ck_assert_int_eq(dm__db_begin(&db, &err), 0);
    ck_assert_int_eq(dm__job_hold_lease(&db, &job, &err), DM_ECONFLICT);
    dm__db_rollback(&db);
    dm__job_clear(&thief);
    dm__job_clear(&job);
    dm__db_fini(&other);
}
END_TEST

START_TEST(expired_last_attempt_is_reaped_as_failed)
{
    char id[37];
    dm_job_opts o = { .max_attempts = 1 };
    enqueue("test.a", &o, id);
    dm_job job;
    claim_ok("dead-node/w0", &job);
    expire_lease(id);
    claim_none("n2/w0"); /* no attempts left to take over */
    int n = 0;
    dm_err_t err;
    ck_assert_msg(dm__jobs_reap_expired(&db, &n, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(n, 1);
    EXPECT_SQL("failed true", "SELECT status || ' ' || (finished_at IS NOT NULL) FROM jobs "
               "WHERE id = '%s'", id);
    EXPECT_SQL("t", "SELECT last_error LIKE 'lease of dead-node/w0 expired during the last "
               "attempt (1 of 1)%%' FROM jobs WHERE id = '%s'", id);
    ck_assert_int_eq(dm__jobs_reap_expired(&db, &n, &err), 0);
    ck_assert_int_eq(n, 0);
    dm__job_clear(&job);
}
END_TEST

/* ---- failures ---- */

START_TEST(failure_is_retried_after_the_backoff)
{
    char id[37];
    dm_job_opts o = { .max_attempts = 3 };
    enqueue("test.a", &o, id);
    dm_job job;
    claim_ok("n1/w0", &job);
    bool final = true;
    dm_err_t err;
    ck_assert_msg(dm__job_fail(&db, &job, "gateway said no", 60000, &final, &err) == 0, "%s",
                  err.msg);
    ck_assert_msg(!final, "attempt 1 of 3 is not final");
    EXPECT_SQL("queued 1 gateway said no true true",
               "SELECT status || ' ' || attempts || ' ' || last_error || ' ' || "
               "(run_at BETWEEN now() + interval '55 s' AND now() + interval '65 s') || ' ' || "
               "(lease_expires_at IS NULL) FROM jobs WHERE id = '%s'", id);
    dm__job_clear(&job);
    claim_none("n1/w0");
    make_due(id);
    claim_ok("n1/w0", &job);
    ck_assert_int_eq(job.attempts, 2);
    ck_assert_str_eq(job.last_error, "gateway said no");
    dm__job_clear(&job);
}
END_TEST

START_TEST(job_fails_for_good_after_max_attempts)
{
    char id[37];
    dm_job_opts o = { .max_attempts = 2 };
    enqueue("test.a", &o, id);
    dm_job job;
    bool final = true;
    dm_err_t err;
    claim_ok("n1/w0", &job);
    ck_assert_int_eq(dm__job_fail(&db, &job, "first", 0, &final, &err), 0);
    ck_assert(!final);
    dm__job_clear(&job);
    claim_ok("n1/w0", &job);
    ck_assert_int_eq(dm__job_fail(&db, &job, "second", 0, &final, &err), 0);
    ck_assert_msg(final, "attempt 2 of 2 is final");
    dm__job_clear(&job);
    EXPECT_SQL("failed 2 second true", "SELECT status || ' ' || attempts || ' ' || last_error || "
               "' ' || (finished_at IS NOT NULL) FROM jobs WHERE id = '%s'", id);
    claim_none("n1/w0");
}
END_TEST

START_TEST(permanent_failure_is_not_retried)
{
    char id[37];
    enqueue("test.a", NULL, id);
    dm_job job;
    claim_ok("n1/w0", &job);
    bool final = false;
    dm_err_t err;
    ck_assert_int_eq(dm__job_fail(&db, &job, "bad payload", -1, &final, &err), 0);
    ck_assert(final);
    EXPECT_SQL("failed 1", "SELECT status || ' ' || attempts FROM jobs WHERE id = '%s'", id);
    dm__job_clear(&job);
}
END_TEST

START_TEST(error_text_is_cleaned_and_bounded)
{
    char id[37];
    enqueue("test.a", NULL, id);
    dm_job job;
    claim_ok("n1/w0", &job);
    char big[5000];
    memset(big, 'x', sizeof big);
    memcpy(big, "bad \xff byte\nline \xc3\xa9", 18);
    big[sizeof big - 1] = '\0';
    dm_err_t err;
    ck_assert_msg(dm__job_fail(&db, &job, big, 0, NULL, &err) == 0, "%s", err.msg);
    EXPECT_SQL("true true", "SELECT (last_error LIKE 'bad ? byte line \xc3\xa9x%%') || ' ' || "
               "(octet_length(last_error) <= 2000) FROM jobs WHERE id = '%s'", id);
    dm__job_clear(&job);
    claim_ok("n1/w0", &job);
    ck_assert_int_eq(dm__job_fail(&db, &job, NULL, -1, NULL, &err), 0);
    EXPECT_SQL("failed without a message", "SELECT last_error FROM jobs WHERE id = '%s'", id);
    dm__job_clear(&job);
}
END_TEST

START_TEST(backoff_doubles_up_to_the_cap_with_bounded_jitter)
{
    ck_assert_int_eq(dm__job_backoff_ms(1, 1000, 60000, 0), 1000);
    ck_assert_int_eq(dm__job_backoff_ms(2, 1000, 60000, 0), 2000);
    ck_assert_int_eq(dm__job_backoff_ms(3, 1000, 60000, 0), 4000);
    ck_assert_int_eq(dm__job_backoff_ms(7, 1000, 60000, 0), 60000);
    ck_assert_int_eq(dm__job_backoff_ms(1000, 1000, 60000, 0), 60000);
    ck_assert_int_eq(dm__job_backoff_ms(100, INT64_MAX / 2, INT64_MAX / 2, 0), INT64_MAX / 2);
    for (uint32_t r = 0; r < 5000; r += 7) {
        int64_t d = dm__job_backoff_ms(2, 1000, 60000, r * 2654435761u);
        ck_assert_msg(d >= 2000 && d <= 2500, "jitter keeps 2000..2500, got %lld", (long long)d);
    }
}
END_TEST

/* ---- unique keys ---- */

START_TEST(unique_key_allows_one_live_job)
{
    dm_job_opts o = { .unique_key = "renew:sub-1" };
    char id[37];
    enqueue("test.a", &o, id);
    dm_err_t err;
    dm_err_clear(&err);
    ck_assert_int_eq(dm__job_enqueue(&db, "test.a", NULL, &o, NULL, &err), DM_ECONFLICT);
    ck_assert_msg(strstr(err.msg, "renew:sub-1"), "%s", err.msg);
    /* The refusal leaves the caller's transaction usable. */
    ck_assert_int_eq(dm__db_begin(&db, &err), 0);
    ck_assert_int_eq(dm__job_enqueue(&db, "test.a", NULL, &o, NULL, &err), DM_ECONFLICT);
    ck_assert_msg(dm__job_enqueue(&db, "test.b", NULL, NULL, NULL, &err) == 0, "%s", err.msg);
    ck_assert_msg(dm__db_commit(&db, &err) == 0, "%s", err.msg);
    EXPECT_SQL("2", "SELECT count(*) FROM jobs");
    /* Running still counts as live; finished frees the key. */
    const char *kinds[] = { "test.a" };
    dm_job job;
    ck_assert_int_eq(dm__job_claim(&db, "n1/w0", kinds, 1, 60, &job, &err), 0);
    ck_assert_int_eq(dm__job_enqueue(&db, "test.a", NULL, &o, NULL, &err), DM_ECONFLICT);
    ck_assert_int_eq(dm__job_complete(&db, &job, &err), 0);
    dm__job_clear(&job);
    char again[37];
    enqueue("test.a", &o, again);
    ck_assert_str_ne(again, id);
}
END_TEST

/* ---- counts and pruning ---- */

START_TEST(counts_by_status)
{
    char a[37], b[37];
    enqueue("test.a", NULL, a);
    enqueue("test.a", NULL, b);
    enqueue("test.a", NULL, NULL);
    enqueue("test.a", NULL, NULL);
    exec_sql("UPDATE jobs SET run_at = now() - interval '1 hour' WHERE id IN ('%s', '%s')", a, b);
    dm_job j1, j2;
    claim_ok("n1/w0", &j1);
    claim_ok("n1/w0", &j2);
    dm_err_t err;
    ck_assert_int_eq(dm__job_complete(&db, &j1, &err), 0);
    dm_job_counts c;
    memset(&c, 0xff, sizeof c);
    ck_assert_msg(dm__jobs_count(&db, &c, &err) == 0, "%s", err.msg);
    ck_assert(c.valid);
    ck_assert_int_eq(c.queued, 2);
    ck_assert_int_eq(c.running, 1);
    ck_assert_int_eq(c.succeeded, 1);
    ck_assert_int_eq(c.failed, 0);
    ck_assert_int_eq(dm__job_fail(&db, &j2, "x", -1, NULL, &err), 0);
    ck_assert_int_eq(dm__jobs_count(&db, &c, &err), 0);
    ck_assert_int_eq(c.running, 0);
    ck_assert_int_eq(c.failed, 1);
    dm__job_clear(&j1);
    dm__job_clear(&j2);
}
END_TEST

START_TEST(prune_deletes_old_finished_jobs_only)
{
    char old_ok[37], old_bad[37], new_ok[37], queued[37];
    enqueue("test.a", NULL, old_ok);
    enqueue("test.a", NULL, old_bad);
    enqueue("test.a", NULL, new_ok);
    enqueue("test.a", NULL, queued);
    exec_sql("UPDATE jobs SET status = 'succeeded', finished_at = now() - interval '2 days' "
             "WHERE id = '%s'", old_ok);
    exec_sql("UPDATE jobs SET status = 'failed', last_error = 'x', finished_at = now() - "
             "interval '2 days' WHERE id = '%s'", old_bad); /* failed: kept 4x longer */
    exec_sql("UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE id = '%s'", new_ok);
    int64_t n = -1;
    dm_err_t err;
    ck_assert_msg(dm__jobs_prune(&db, 86400, &n, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(n, 1);
    EXPECT_SQL("3", "SELECT count(*) FROM jobs");
    EXPECT_SQL("0", "SELECT count(*) FROM jobs WHERE id = '%s'", old_ok);
    ck_assert_int_eq(dm__jobs_prune(&db, 3600, &n, &err), 0);
    ck_assert_int_eq(n, 1); /* the failed one is older than 4 hours */
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("jobs");
    TCase *tc = tcase_create("queue");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, enqueue_claim_complete);
    tcase_add_test(tc, enqueue_refuses_bad_input);
    tcase_add_test(tc, enqueue_follows_the_callers_transaction);
    tcase_add_test(tc, delayed_job_waits_for_run_at);
    tcase_add_test(tc, claim_takes_only_the_given_kinds);
    tcase_add_test(tc, claim_skips_rows_locked_by_another_claimer);
    tcase_add_test(tc, concurrent_claimers_never_share_a_job);
    tcase_add_test(tc, unreadable_payload_fails_and_claim_moves_on);
    tcase_add_test(tc, expired_lease_is_taken_over_and_old_owner_is_fenced_out);
    tcase_add_test(tc, same_owner_name_with_an_older_attempt_is_fenced_out);
    tcase_add_test(tc, extend_lease_pushes_expiry_out);
    tcase_add_test(tc, hold_lease_fences_a_handlers_transaction);
    tcase_add_test(tc, expired_last_attempt_is_reaped_as_failed);
    tcase_add_test(tc, failure_is_retried_after_the_backoff);
    tcase_add_test(tc, job_fails_for_good_after_max_attempts);
    tcase_add_test(tc, permanent_failure_is_not_retried);
    tcase_add_test(tc, error_text_is_cleaned_and_bounded);
    tcase_add_test(tc, unique_key_allows_one_live_job);
    tcase_add_test(tc, counts_by_status);
    tcase_add_test(tc, prune_deletes_old_finished_jobs_only);
    suite_add_tcase(s, tc);

    TCase *pure = tcase_create("pure");
    tcase_add_test(pure, backoff_doubles_up_to_the_cap_with_bounded_jitter);
    suite_add_tcase(s, pure);
    return s;
}

DM_TEST_MAIN(make_suite)
