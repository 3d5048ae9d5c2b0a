/*
 * test_pg_review.c — regressions found in the review of db/pg.c, against a
 * real PostgreSQL: a COMMIT that PostgreSQL turned into a ROLLBACK is a
 * failure, and a connection lost inside a transaction is never silently
 * replaced by a fresh one that runs the rest of the statements in
 * autocommit.
 */
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
    url = dm_test_db_create("pgreview");
    dm_err_t err;
    ck_assert_msg(dm__db_init(&db, url, 2, 10000, &err) == 0, "db init: %s", err.msg);
    ck_assert_msg(dm__db_run(&db, "mk", "CREATE TABLE t (x int)", 0, NULL, &err) == 0,
                  "create table: %s", err.msg);
}

static void teardown(void)
{
    dm__db_fini(&db);
    dm_test_db_drop(url);
    free(url);
}

static void expect_rows(const char *want, const char *what)
{
    char *got = dm_test_db_scalarf(url, "SELECT count(*) FROM t");
    ck_assert_msg(strcmp(got, want) == 0, "%s: %s row(s) in t, want %s", what, got, want);
    free(got);
}

/* A statement fails inside the transaction; the handler (wrongly) goes on
 * and commits. PostgreSQL answers the COMMIT with ROLLBACK: that must not
 * read as success, or the caller reports data as saved that is not. */
START_TEST(commit_of_an_aborted_transaction_fails)
{
    dm_err_t err;
    ck_assert_msg(dm__db_begin(&db, &err) == 0, "begin: %s", err.msg);
    ck_assert_msg(dm__db_run(&db, "ins", "INSERT INTO t VALUES (1)", 0, NULL, &err) == 0,
                  "insert: %s", err.msg);
    int rc = dm__db_run(&db, "boom", "SELECT 1/0", 0, NULL, &err);
    ck_assert_msg(rc == DM_EIO, "division by zero: rc %d, want DM_EIO", rc);
    rc = dm__db_commit(&db, &err);
    ck_assert_msg(rc != 0, "COMMIT of an aborted transaction returned 0 (PostgreSQL rolled it back)");
    ck_assert_msg(!db.in_tx, "still marked in a transaction after COMMIT");
    expect_rows("0", "after the rolled-back COMMIT");
    /* The connection is fine for the next request. */
    ck_assert_msg(dm__db_run(&db, "ins", "INSERT INTO t VALUES (2)", 0, NULL, &err) == 0,
                  "insert after: %s", err.msg);
    expect_rows("1", "after an autocommit insert");
}
END_TEST

/* The connection dies in the middle of a transaction. Later statements of
 * the same transaction must fail rather than reconnect and autocommit, and
 * so must COMMIT; after the rollback the connection heals. */
START_TEST(no_silent_reconnect_inside_a_transaction)
{
    dm_err_t err;
    ck_assert_msg(dm__db_begin(&db, &err) == 0, "begin: %s", err.msg);
    ck_assert_msg(dm__db_run(&db, "ins", "INSERT INTO t VALUES (1)", 0, NULL, &err) == 0,
                  "insert 1: %s", err.msg);
    int rc = dm__db_run(&db, "kill", "SELECT pg_terminate_backend(pg_backend_pid())", 0, NULL, &err);
    ck_assert_msg(rc == DM_EUNAVAIL, "terminating our own backend: rc %d, want DM_EUNAVAIL", rc);
    rc = dm__db_run(&db, "ins2", "INSERT INTO t VALUES (2)", 0, NULL, &err);
    ck_assert_msg(rc == DM_EUNAVAIL,
                  "a statement after the transaction's connection was lost: rc %d, want DM_EUNAVAIL "
                  "(it must not run on a new connection outside the transaction)", rc);
    rc = dm__db_commit(&db, &err);
    ck_assert_msg(rc != 0, "COMMIT after the transaction's connection was lost returned 0");
    dm__db_rollback(&db);
    ck_assert_msg(!db.in_tx, "still marked in a transaction after rollback");
    expect_rows("0", "after the lost transaction");
    ck_assert_msg(dm__db_run(&db, "ins", "INSERT INTO t VALUES (3)", 0, NULL, &err) == 0,
                  "the connection did not heal after the rollback: %s", err.msg);
    expect_rows("1", "after the connection healed");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("integration_pg_review");
    TCase *tc = tcase_create("transactions");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, commit_of_an_aborted_transaction_fails);
    tcase_add_test(tc, no_silent_reconnect_inside_a_transaction);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
