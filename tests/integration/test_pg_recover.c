/*
 * test_pg_recover.c — db/pg.c against connections that die (issue 15): the
 * server terminates the backend with pg_terminate_backend, as a restart
 * does to every connection. A connection that died while idle is replaced
 * before the next statement, which then runs; a statement whose connection
 * died while it ran is answered again when it only reads, and is never run
 * twice when it writes — outside a transaction (even when its SQL reads
 * like a SELECT) or inside one, where the whole transaction fails instead.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/pg.h"
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
    return s;
}

DM_TEST_MAIN(make_suite)
