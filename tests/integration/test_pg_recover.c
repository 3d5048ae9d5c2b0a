/*
 * test_pg_recover.c — db/pg.c against connections that die (issue 15): the
 * server terminates the backend with pg_terminate_backend, as a restart
 * does to every connection. A connection that died while idle is replaced
 * before the next statement, which then runs; a statement whose connection
 * died while it ran is answered again when it only reads, and is never run
 * twice when it writes — outside a transaction (even when its SQL reads
 * like a SELECT) or inside one, where the whole transaction fails instead.
 * And /readyz's probe gives up on a backend that stopped answering (SIGSTOP)
 * after connect_timeout + 2 s, not after statement_timeout.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/pg.h"
#include "util/clock.h"
#include "dm_test.h"
#include "testdb.h"

static char *url;
static dm_db db;

static void setup(void)
{
    url = dm_test_db_create("pgrecover");
    dm_err_t err;
    /* statement_timeout 20 s: a kill that never comes ends the statement. */
    ck_assert_msg(dm__db_init(&db, url, 2, 20000, &err) == 0, "db init: %s", err.msg);
    ck_assert_msg(dm__db_run(&db, "mk", "CREATE TABLE t (x int)", 0, NULL, &err) == 0, "create table: %s",
                  err.msg);
    ck_assert_msg(dm__db_run(&db, "mks", "CREATE SEQUENCE s", 0, NULL, &err) == 0, "create sequence: %s",
                  err.msg);
}

static void teardown(void)
{
    dm__db_fini(&db);
    dm_test_db_drop(url);
    free(url);
}

/* The rows in t, as committed (seen from another connection). */
#define EXPECT_ROWS(want) DM_EXPECT_SQL(url, want, "SELECT count(*) FROM t")

/* The backend of db's open connection. */
static int backend(void)
{
    ck_assert_msg(db.conn != NULL, "no open connection");
    return PQbackendPID(db.conn);
}

/* Terminate backend pid from another connection and wait until it is gone. */
static void terminate(int pid)
{
    char *ok = dm_test_db_scalarf(url, "SELECT pg_terminate_backend(%d)", pid);
    ck_assert_msg(strcmp(ok, "t") == 0, "pg_terminate_backend(%d): %s", pid, ok);
    free(ok);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE pid = %d", pid);
    dm_test_db_wait(url, "0", 10, sql);
}

/* A thread that terminates backend pid once it is running a statement that
 * sleeps (its connection dies mid-statement). */
static void *terminate_when_sleeping(void *arg)
{
    int pid = *(int *)arg;
    char sql[192];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_stat_activity WHERE pid = %d AND state = 'active' "
             "AND query LIKE '%%pg_sleep%%'", pid);
    dm_test_db_wait(url, "1", 15, sql);
    terminate(pid);
    return NULL;
}

/* Run sql (its one parameter $1: the backend's pid) while another thread
 * terminates that backend mid-statement. Returns dm__db_exec's result;
 * err filled. */
static PGresult *exec_killed(const char *name, const char *sql, dm_err_t *err)
{
    int pid = backend();
    char arg[16];
    snprintf(arg, sizeof arg, "%d", pid);
    const char *params[] = { arg };
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, terminate_when_sleeping, &pid), 0);
    PGresult *res = dm__db_exec(&db, name, sql, 1, params, err);
    pthread_join(th, NULL);
    return res;
}

/* A write whose connection died under it: DM_EUNAVAIL, not run again. */
static void expect_lost(PGresult *res, const dm_err_t *err, const char *what)
{
    ck_assert_msg(res == NULL, "%s: it was run again on a new connection and succeeded", what);
    ck_assert_msg(err->code == DM_EUNAVAIL, "%s: code %d (%s), want DM_EUNAVAIL", what, err->code, err->msg);
}

static void open_connection(void)
{
    dm_err_t err;
    ck_assert_msg(dm__db_run(&db, "one", "SELECT 1", 0, NULL, &err) == 0, "SELECT 1: %s", err.msg);
}

/* ---- a connection that died while idle ---------------------------------- */

START_TEST(an_idle_dead_connection_is_replaced_before_a_write)
{
    open_connection();
    int old = backend();
    terminate(old);
    dm_err_t err;
    int rc = dm__db_run(&db, "ins", "INSERT INTO t VALUES (1)", 0, NULL, &err);
    ck_assert_msg(rc == 0, "the first statement after the connection died: rc %d (%s); the dead "
                           "connection must be found and replaced before it is used", rc, err.msg);
    ck_assert_msg(backend() != old, "still on the terminated backend");
    EXPECT_ROWS("1"); /* after the insert */
}
END_TEST

START_TEST(an_idle_dead_connection_is_replaced_before_begin)
{
    open_connection();
    terminate(backend());
    dm_err_t err;
    ck_assert_msg(dm__db_begin(&db, &err) == 0, "BEGIN after the connection died: %s", err.msg);
    ck_assert_msg(dm__db_run(&db, "ins", "INSERT INTO t VALUES (1)", 0, NULL, &err) == 0, "insert: %s",
                  err.msg);
    ck_assert_msg(dm__db_commit(&db, &err) == 0, "commit: %s", err.msg);
    EXPECT_ROWS("1"); /* after the transaction */
}
END_TEST

START_TEST(a_probe_answers_on_a_new_connection)
{
    open_connection();
    terminate(backend());
    dm_err_t err;
    ck_assert_msg(dm__db_ping(&db, &err) == 0, "ping after the connection died: %s", err.msg);
}
END_TEST

/* The migrator's session holds its lock: a new connection would not. */
START_TEST(a_pinned_connection_is_not_replaced)
{
    open_connection();
    db.pinned = true;
    terminate(backend());
    dm_err_t err;
    int rc = dm__db_run(&db, "ins", "INSERT INTO t VALUES (1)", 0, NULL, &err);
    ck_assert_msg(rc == DM_EUNAVAIL, "a pinned session's lost connection: rc %d, want DM_EUNAVAIL", rc);
    EXPECT_ROWS("0"); /* nothing ran on a replacement */
}
END_TEST

/* ---- a connection that died mid-statement --------------------------------- */

/* Sleeps on the original backend ($1) only, so that a statement run again
 * on a new one finishes at once (and a wrongly repeated write shows). */
#define SLEEP_ON_FIRST "pg_sleep(CASE WHEN pg_backend_pid() = $1::int THEN 30 ELSE 0 END)"

START_TEST(a_read_is_answered_again)
{
    open_connection();
    dm_err_t err;
    PGresult *res = exec_killed("rd", "SELECT 42 FROM " SLEEP_ON_FIRST, &err);
    ck_assert_msg(res != NULL, "a read whose connection died mid-statement: %s (code %d)", err.msg, err.code);
    ck_assert_str_eq(PQgetvalue(res, 0, 0), "42");
    PQclear(res);
}
END_TEST

START_TEST(an_interrupted_insert_is_not_run_again)
{
    open_connection();
    dm_err_t err;
    PGresult *res = exec_killed("wr", "INSERT INTO t SELECT 1 FROM " SLEEP_ON_FIRST, &err);
    expect_lost(res, &err, "the insert whose connection died");
    EXPECT_ROWS("0"); /* the terminated insert rolled back and was not run again */
}
END_TEST

/* Reads like a SELECT, writes through a CTE. */
START_TEST(a_select_that_writes_is_not_run_again)
{
    open_connection();
    dm_err_t err;
    PGresult *res = exec_killed("cte", "WITH w AS (INSERT INTO t VALUES (1) RETURNING x) "
                                       "SELECT x FROM w, " SLEEP_ON_FIRST, &err);
    expect_lost(res, &err, "the CTE insert whose connection died");
    EXPECT_ROWS("0"); /* the CTE insert was not run again */
}
END_TEST

/* nextval is not undone when its statement dies: the statement took effect
 * on the lost connection, and running it again would take a second value. */
START_TEST(a_statement_that_took_effect_is_not_run_again)
{
    open_connection();
    dm_err_t err;
    PGresult *res = exec_killed("nv", "SELECT " SLEEP_ON_FIRST " FROM (SELECT nextval('s')) AS v", &err);
    expect_lost(res, &err, "the nextval whose connection died");
    DM_EXPECT_SQL(url, "1", "SELECT last_value FROM s");
}
END_TEST

/* Inside a transaction: the insert dies with the connection, the rest of
 * the transaction and its COMMIT fail, nothing is saved, nothing runs on a
 * new connection; after the rollback the next write runs once. */
START_TEST(a_transaction_that_lost_its_connection_fails_whole)
{
    open_connection();
    dm_err_t err;
    ck_assert_msg(dm__db_begin(&db, &err) == 0, "begin: %s", err.msg);
    ck_assert_msg(dm__db_run(&db, "ins", "INSERT INTO t VALUES (1)", 0, NULL, &err) == 0, "insert: %s",
                  err.msg);
    PGresult *res = exec_killed("wr", "INSERT INTO t SELECT 2 FROM " SLEEP_ON_FIRST, &err);
    expect_lost(res, &err, "the insert in the transaction");
    int rc = dm__db_commit(&db, &err);
    ck_assert_msg(rc == DM_EUNAVAIL, "COMMIT after the transaction's connection died: rc %d", rc);
    dm__db_rollback(&db);
    EXPECT_ROWS("0"); /* after the lost transaction */
    ck_assert_msg(dm__db_run(&db, "ins", "INSERT INTO t VALUES (3)", 0, NULL, &err) == 0, "insert after: %s",
                  err.msg);
    EXPECT_ROWS("1"); /* one insert after the rollback, run once */
}
END_TEST


/* ---- a database that stops answering ------------------------------------ */

static int guard_fd = -1; /* write end held while a backend is stopped */
static pid_t guard_pid;

/* A stopped backend left behind would hold up the server's shutdown, and a
 * failed assert ends the test process without its teardown. So a guard
 * process resumes the backend once the test process ends (the pipe reads
 * EOF), or after 30 s at the latest. */
static void start_guard(int backend_pid)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    guard_pid = fork();
    ck_assert_msg(guard_pid >= 0, "fork");
    if (guard_pid == 0) {
        close(fds[1]);
        struct pollfd p = { .fd = fds[0], .events = POLLIN };
        poll(&p, 1, 30000);
        kill(backend_pid, SIGCONT);
        _exit(0);
    }
    close(fds[0]);
    guard_fd = fds[1];
}

static void resume_teardown(void)
{
    if (guard_fd >= 0) {
        close(guard_fd); /* the guard resumes the backend and exits */
        waitpid(guard_pid, NULL, 0);
        guard_fd = -1;
    }
    teardown();
}

/* Stop (SIGSTOP) the local backend pid, after checking that it is the
 * backend of this test's database (its title names the database). */
static void stop_backend(int pid)
{
    char path[64], title[512] = "";
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    FILE *f = fopen(path, "r");
    size_t n = f != NULL ? fread(title, 1, sizeof title - 1, f) : 0;
    if (f != NULL)
        fclose(f);
    title[n] = '\0';
    const char *dbname = strrchr(url, '/');
    ck_assert_msg(dbname != NULL && strstr(title, dbname + 1) != NULL,
                  "backend %d is not this test's (\"%s\"): the test database must run on this machine", pid,
                  title);
    start_guard(pid);
    ck_assert_int_eq(kill(pid, SIGSTOP), 0);
}

/* statement_timeout is 20 s, so a statement would wait 22 s; the probe
 * gives up after connect_timeout (2 s) + 2 s. */
START_TEST(a_probe_of_a_stalled_database_is_bounded)
{
    open_connection();
    stop_backend(backend());
    dm_err_t err;
    uint64_t t0 = dm__clock_mono_ns();
    int rc = dm__db_ping(&db, &err);
    uint64_t took_ms = (dm__clock_mono_ns() - t0) / 1000000u;
    ck_assert_msg(rc == DM_EUNAVAIL, "ping of a stalled backend: rc %d, want DM_EUNAVAIL", rc);
    ck_assert_msg(took_ms >= 3500 && took_ms < 8000, "ping of a stalled backend took %llu ms, want about 4000",
                  (unsigned long long)took_ms);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("integration_pg_recover");
    TCase *idle = tcase_create("idle");
    tcase_add_checked_fixture(idle, setup, teardown);
    tcase_set_timeout(idle, 60);
    tcase_add_test(idle, an_idle_dead_connection_is_replaced_before_a_write);
    tcase_add_test(idle, an_idle_dead_connection_is_replaced_before_begin);
    tcase_add_test(idle, a_probe_answers_on_a_new_connection);
    tcase_add_test(idle, a_pinned_connection_is_not_replaced);
    suite_add_tcase(s, idle);
    TCase *mid = tcase_create("mid");
    tcase_add_checked_fixture(mid, setup, teardown);
    tcase_set_timeout(mid, 60);
    tcase_add_test(mid, a_read_is_answered_again);
    tcase_add_test(mid, an_interrupted_insert_is_not_run_again);
    tcase_add_test(mid, a_select_that_writes_is_not_run_again);
    tcase_add_test(mid, a_statement_that_took_effect_is_not_run_again);
    tcase_add_test(mid, a_transaction_that_lost_its_connection_fails_whole);
    suite_add_tcase(s, mid);
    TCase *stall = tcase_create("stall");
    tcase_add_checked_fixture(stall, setup, resume_teardown);
    tcase_set_timeout(stall, 60);
    tcase_add_test(stall, a_probe_of_a_stalled_database_is_bounded);
    suite_add_tcase(s, stall);
    return s;
}

DM_TEST_MAIN(make_suite)
