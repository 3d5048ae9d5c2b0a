/*
 * test_pg_review.c — db/pg.c's transactions against a real PostgreSQL:
 * regressions found in its review (a COMMIT that PostgreSQL turned into a
 * ROLLBACK is a failure; a connection lost inside a transaction is never
 * silently replaced by a fresh one that runs the rest of the statements in
 * autocommit), and nesting: inside an open transaction, begin is a
 * savepoint, commit releases it and rollback undoes only what came after
 * it; nothing a nested part commits is saved before the outermost COMMIT
 * (what lets an Idempotency-Key commit with the handler's own transaction).
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
    ck_assert_msg(dm__db_run(&db, "mkn", "CREATE TABLE n (x int PRIMARY KEY)", 0, NULL, &err) == 0,
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

/* The rows of n in order, as "1,2" ("" when none), seen from another
 * connection: what is committed. */
static void expect_list(const char *want, const char *what)
{
    char *got = dm_test_db_scalarf(url, "SELECT coalesce(string_agg(x::text, ',' ORDER BY x), '') FROM n");
    ck_assert_msg(strcmp(got, want) == 0, "%s: n holds \"%s\", want \"%s\"", what, got, want);
    free(got);
}

/* ---- nesting: inside an open transaction, begin is a savepoint ---------- */

static void insert(int x)
{
    char v[16];
    snprintf(v, sizeof v, "%d", x);
    const char *p[] = { v };
    dm_err_t err;
    ck_assert_msg(dm__db_run(&db, "ins_n", "INSERT INTO n VALUES ($1::int)", 1, p, &err) == 0, "insert %d: %s", x,
                  err.msg);
}

static void begin(void)
{
    dm_err_t err;
    ck_assert_msg(dm__db_begin(&db, &err) == 0, "begin: %s", err.msg);
}

START_TEST(a_nested_commit_is_saved_only_with_the_outer_one)
{
    begin();
    insert(1);
    begin();
    ck_assert_int_eq(db.tx_depth, 2);
    insert(2);
    dm_err_t err;
    ck_assert_msg(dm__db_commit(&db, &err) == 0, "nested commit: %s", err.msg);
    ck_assert_msg(db.in_tx && db.tx_depth == 1, "still inside the outer transaction");
    expect_list("", "after the nested commit, before the outer one");
    ck_assert_msg(dm__db_commit(&db, &err) == 0, "outer commit: %s", err.msg);
    ck_assert_msg(!db.in_tx && db.tx_depth == 0, "outside every transaction");
    expect_list("1,2", "after the outer commit");
}
END_TEST

START_TEST(an_outer_rollback_undoes_what_a_nested_part_committed)
{
    begin();
    begin();
    insert(1);
    dm_err_t err;
    ck_assert_msg(dm__db_commit(&db, &err) == 0, "nested commit: %s", err.msg);
    dm__db_rollback(&db);
    ck_assert_msg(!db.in_tx, "the outer rollback ends the transaction");
    expect_list("", "after the outer rollback");
}
END_TEST

START_TEST(a_nested_rollback_undoes_only_the_nested_part)
{
    begin();
    insert(1);
    begin();
    insert(2);
    dm__db_rollback(&db);
    ck_assert_msg(db.in_tx && db.tx_depth == 1, "the outer transaction goes on");
    insert(3);
    dm_err_t err;
    ck_assert_msg(dm__db_commit(&db, &err) == 0, "outer commit: %s", err.msg);
    expect_list("1,3", "the nested insert is gone, the others stay");
}
END_TEST

/* A failed statement aborts the whole PostgreSQL transaction; undoing the
 * nested part makes the outer one usable again. */
START_TEST(a_failed_statement_inside_a_nested_part_spares_the_outer_one)
{
    begin();
    insert(1);
    begin();
    dm_err_t err;
    const char *p[] = { "1" };
    int rc = dm__db_run(&db, "ins_n", "INSERT INTO n VALUES ($1::int)", 1, p, &err);
    ck_assert_msg(rc == DM_EIO && strcmp(db.sqlstate, "23505") == 0, "duplicate key: rc %d, sqlstate %s", rc,
                  db.sqlstate);
    /* The code that failed ends its part with dm__db_end. */
    ck_assert_int_eq(dm__db_end(&db, rc, &err), DM_EIO);
    insert(2);
    ck_assert_msg(dm__db_commit(&db, &err) == 0, "outer commit: %s", err.msg);
    expect_list("1,2", "the outer transaction survived the nested failure");
}
END_TEST

/* Code that (wrongly) commits its part after a failed statement gets an
 * error, and its part is undone so the outer transaction can go on. */
START_TEST(releasing_a_failed_nested_part_fails_and_undoes_it)
{
    begin();
    insert(1);
    begin();
    insert(2);
    dm_err_t err;
    ck_assert_int_eq(dm__db_run(&db, "boom", "SELECT 1/0", 0, NULL, &err), DM_EIO);
    ck_assert_msg(dm__db_commit(&db, &err) != 0, "the release of an aborted part must fail");
    ck_assert_msg(db.in_tx && db.tx_depth == 1, "back in the outer transaction");
    insert(3);
    ck_assert_msg(dm__db_commit(&db, &err) == 0, "outer commit: %s", err.msg);
    expect_list("1,3", "the failed part is undone, the outer one saved");
}
END_TEST

START_TEST(three_levels_unwind_in_order)
{
    begin();
    insert(1);
    begin();
    insert(2);
    begin();
    insert(3);
    ck_assert_int_eq(db.tx_depth, 3);
    dm__db_rollback(&db);
    dm_err_t err;
    ck_assert_msg(dm__db_commit(&db, &err) == 0, "middle commit: %s", err.msg);
    ck_assert_msg(dm__db_commit(&db, &err) == 0, "outer commit: %s", err.msg);
    expect_list("1,2", "the innermost part alone is undone");
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
    TCase *nest = tcase_create("nesting");
    tcase_add_checked_fixture(nest, setup, teardown);
    tcase_add_test(nest, a_nested_commit_is_saved_only_with_the_outer_one);
    tcase_add_test(nest, an_outer_rollback_undoes_what_a_nested_part_committed);
    tcase_add_test(nest, a_nested_rollback_undoes_only_the_nested_part);
    tcase_add_test(nest, a_failed_statement_inside_a_nested_part_spares_the_outer_one);
    tcase_add_test(nest, releasing_a_failed_nested_part_fails_and_undoes_it);
    tcase_add_test(nest, three_levels_unwind_in_order);
    suite_add_tcase(s, nest);
    return s;
}

DM_TEST_MAIN(make_suite)
