/*
 * testdb.h — a fresh PostgreSQL database per integration test. The server
 * is DERMAGA_TEST_DATABASE_URL (a superuser URL that scripts/test.sh sets);
 * each helper fails the running test with a clear message when it cannot
 * do its job, so callers need no error handling.
 */
#ifndef DM_TESTDB_H
#define DM_TESTDB_H

#include <stdlib.h>
#include <string.h>

#include <check.h>

/*
 * CREATE DATABASE <prefix>_<pid>_<counter>_<random> on the test server and
 * return a libpq URL for it: new, the caller frees it (after
 * dm_test_db_drop). prefix: 1-30 characters of [a-z0-9_].
 */
char *dm_test_db_create(const char *prefix);

/* Same, then apply the project's migrations (DM_SOURCE_DIR/migrations). */
char *dm_test_db_create_migrated(const char *prefix);

/* DROP DATABASE … WITH (FORCE) for a URL from dm_test_db_create (borrowed).
 * NULL is ignored. */
void dm_test_db_drop(const char *url);

/* Run one SQL statement on url and return the first column of the first
 * row as a new string (caller frees), or NULL when the result has no rows.
 * For assertions in tests only: the SQL is trusted test text. */
char *dm_test_db_scalar(const char *url, const char *sql);

/* dm_test_db_scalar with printf formatting; never NULL ("" for no row or
 * NULL), caller frees. */
char *dm_test_db_scalarf(const char *url, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Fail the test unless the first column of the first row of the formatted
 * query on url equals want (""  for no row or NULL). */
#define DM_EXPECT_SQL(url, want, ...)                                               \
    do {                                                                            \
        char *got_ = dm_test_db_scalarf((url), __VA_ARGS__);                        \
        ck_assert_msg(strcmp(got_, (want)) == 0, "%s: got \"%s\", want \"%s\"",      \
                      #__VA_ARGS__, got_, (want));                                  \
        free(got_);                                                                 \
    } while (0)

/* Poll `sql` (its first column) until it equals want, up to timeout_s
 * seconds; fail the test with the last value seen otherwise. For waiting on
 * another thread's work without sleeping a fixed time. */
void dm_test_db_wait(const char *url, const char *want, int timeout_s, const char *sql);

#endif
