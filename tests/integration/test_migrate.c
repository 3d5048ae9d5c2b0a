/*
 * test_migrate.c — the migrator against a real PostgreSQL: order, idempotence,
 * checksums of applied files, rollback of a failing file, refusals, and two
 * migrators racing for the advisory lock. Each test gets a fresh database
 * and a fresh migrations directory.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "dm_test.h"
#include "testdb.h"
#include "db/migrate.h"
#include "util/sha256.h"
#include "util/clock.h"

static char *url;
static char dir[64];

static void setup(void)
{
    url = dm_test_db_create("mig");
    snprintf(dir, sizeof dir, "/tmp/dm_mig_XXXXXX");
    ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
}

static void teardown(void)
{
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char p[512];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (e->d_name[0] != '.')
                unlink(p);
        }
        closedir(d);
        rmdir(dir);
    }
    dm_test_db_drop(url);
    free(url);
    url = NULL;
}

static void put(const char *name, const char *sql)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", p);
    fputs(sql, f);
    fclose(f);
}

static void drop_file(const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    ck_assert_msg(unlink(p) == 0, "unlink %s", p);
}

/* The first column of the first row, compared as a string; "" for no row
 * or NULL. */
static void expect_sql(const char *sql, const char *want)
{
    char *got = dm_test_db_scalar(url, sql);
    ck_assert_msg(strcmp(got != NULL ? got : "", want) == 0, "%s: got \"%s\", want \"%s\"", sql,
                  got != NULL ? got : "(no row)", want);
    free(got);
}

static int migrate(dm_migrate_report *rep, dm_err_t *err)
{
    dm_err_clear(err);
    return dm__migrate_run(url, dir, rep, err);
}

static void three_files(void)
{
    put("0001_create.sql", "CREATE TABLE t (a integer NOT NULL);\n");
    put("0002_add_column.sql", "ALTER TABLE t ADD COLUMN b integer;\n");
    put("0010_fill.sql", "INSERT INTO t (a, b) VALUES (1, 2);\n-- a comment at the end\n");
}

START_TEST(applies_files_in_order_and_records_them)
{
    three_files();
    dm_migrate_report rep;
    dm_err_t err;
    ck_assert_msg(migrate(&rep, &err) == 0, "migrate failed: %s", err.msg);
    ck_assert_int_eq(rep.found, 3);
    ck_assert_int_eq(rep.applied, 3);
    ck_assert_int_eq(rep.already, 0);
    ck_assert_int_eq(rep.last_version, 10);
    expect_sql("SELECT a || ',' || b FROM t", "1,2");
    expect_sql("SELECT string_agg(version || ':' || name, ' ' ORDER BY version) "
               "FROM schema_migrations", "1:create 2:add_column 10:fill");
    char sum[65];
    const char *text = "ALTER TABLE t ADD COLUMN b integer;\n";
    dm__sha256_hex(text, strlen(text), sum);
    expect_sql("SELECT checksum FROM schema_migrations WHERE version = 2", sum);
    expect_sql("SELECT count(*) FROM schema_migrations WHERE applied_at <= now()", "3");
}
END_TEST

START_TEST(second_run_applies_nothing)
{
    three_files();
    dm_migrate_report rep;
    dm_err_t err;
    ck_assert_msg(migrate(&rep, &err) == 0, "first run: %s", err.msg);
    ck_assert_msg(migrate(&rep, &err) == 0, "second run: %s", err.msg);
    ck_assert_int_eq(rep.applied, 0);
    ck_assert_int_eq(rep.already, 3);
    ck_assert_int_eq(rep.last_version, 10);
    expect_sql("SELECT count(*) FROM t", "1");
    expect_sql("SELECT count(*) FROM schema_migrations", "3");
}
END_TEST

START_TEST(a_new_file_is_applied_by_a_later_run)
{
    put("0001_create.sql", "CREATE TABLE t (a integer);");
    dm_migrate_report rep;
    dm_err_t err;
    ck_assert_msg(migrate(&rep, &err) == 0, "%s", err.msg);
    put("0002_more.sql", "CREATE TABLE u (a integer);");
    ck_assert_msg(migrate(&rep, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(rep.applied, 1);
    ck_assert_int_eq(rep.already, 1);
    expect_sql("SELECT to_regclass('u') IS NOT NULL", "t");
}
END_TEST

START_TEST(changed_applied_file_is_refused)
{
    const char *v1 = "CREATE TABLE t (a integer);";
    put("0001_create.sql", v1);
    dm_migrate_report rep;
    dm_err_t err;
    ck_assert_msg(migrate(&rep, &err) == 0, "%s", err.msg);
    const char *v2 = "CREATE TABLE t (a bigint);";
    put("0001_create.sql", v2);
    put("0002_next.sql", "CREATE TABLE u (a integer);");
    ck_assert_int_eq(migrate(&rep, &err), DM_ECONFLICT);
    char s1[65], s2[65], p1[13], p2[13];
    dm__sha256_hex(v1, strlen(v1), s1);
    dm__sha256_hex(v2, strlen(v2), s2);
    snprintf(p1, sizeof p1, "%.12s", s1);
    snprintf(p2, sizeof p2, "%.12s", s2);
    ck_assert_msg(strstr(err.msg, "0001_create.sql") != NULL, "names the file: %s", err.msg);
    ck_assert_msg(strstr(err.msg, p1) && strstr(err.msg, p2), "both checksums: %s", err.msg);
    ck_assert_msg(strstr(err.msg, "do not edit applied migrations"), "advice: %s", err.msg);
    /* Refused before anything else ran. */
    expect_sql("SELECT to_regclass('u') IS NULL", "t");
    expect_sql("SELECT count(*) FROM schema_migrations", "1");
}
END_TEST

START_TEST(failing_migration_rolls_back_and_names_file_and_line)
{
    put("0001_ok.sql", "CREATE TABLE t (a integer);");
    put("0002_bad.sql", "CREATE TABLE t2 (x integer);\n"
                        "INSERT INTO t2 VALUES (1);\n"
                        "INSERT INTO nope VALUES (1);\n");
    put("0003_after.sql", "CREATE TABLE t3 (x integer);");
    dm_migrate_report rep;
    dm_err_t err;
    ck_assert_int_eq(migrate(&rep, &err), DM_EIO);
    ck_assert_msg(strstr(err.msg, "0002_bad.sql"), "names the file: %s", err.msg);
    ck_assert_msg(strstr(err.msg, "line 3"), "names the line: %s", err.msg);
    ck_assert_msg(strstr(err.msg, "relation \"nope\" does not exist"), "PG message: %s",
                  err.msg);
    ck_assert_int_eq(rep.applied, 1);
    expect_sql("SELECT to_regclass('t') IS NOT NULL", "t");
    expect_sql("SELECT to_regclass('t2') IS NULL", "t");
    expect_sql("SELECT to_regclass('t3') IS NULL", "t");
    expect_sql("SELECT string_agg(version::text, ',') FROM schema_migrations", "1");
}
END_TEST

START_TEST(bad_file_name_is_refused_before_touching_the_database)
{
    put("0001_ok.sql", "CREATE TABLE t (a integer);");
    put("2_bad.sql", "CREATE TABLE u (a integer);");
    dm_migrate_report rep;
    dm_err_t err;
    ck_assert_int_eq(migrate(&rep, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "2_bad.sql"), "names the file: %s", err.msg);
    expect_sql("SELECT to_regclass('schema_migrations') IS NULL AND to_regclass('t') IS NULL",
               "t");
}
END_TEST

START_TEST(duplicate_versions_are_refused)
{
    put("0001_a.sql", "CREATE TABLE a (x integer);");
    put("0001_b.sql", "CREATE TABLE b (x integer);");
    dm_migrate_report rep;
    dm_err_t err;
    ck_assert_int_eq(migrate(&rep, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "duplicate"), "%s", err.msg);
    expect_sql("SELECT to_regclass('a') IS NULL AND to_regclass('b') IS NULL", "t");
}
END_TEST

START_TEST(missing_applied_file_is_only_a_warning)
{
    put("0001_a.sql", "CREATE TABLE a (x integer);");
    put("0002_b.sql", "CREATE TABLE b (x integer);");
    dm_migrate_report rep;
    dm_err_t err;
    ck_assert_msg(migrate(&rep, &err) == 0, "%s", err.msg);
    drop_file("0002_b.sql");
    ck_assert_msg(migrate(&rep, &err) == 0, "an older node must still start: %s", err.msg);
    ck_assert_int_eq(rep.missing, 1);
    ck_assert_int_eq(rep.already, 1);
    ck_assert_int_eq(rep.last_version, 2);
}
END_TEST

START_TEST(file_that_commits_by_itself_is_refused)
{
    put("0001_sneaky.sql", "CREATE TABLE s (x integer);\nCOMMIT;\n");
    dm_migrate_report rep;
    dm_err_t err;
    ck_assert_int_eq(migrate(&rep, &err), DM_ECONFLICT);
    ck_assert_msg(strstr(err.msg, "0001_sneaky.sql") && strstr(err.msg, "ended the transaction"),
                  "%s", err.msg);
    expect_sql("SELECT count(*) FROM schema_migrations", "0");
}
END_TEST

START_TEST(missing_directory_and_unreachable_database_are_reported)
{
    dm_err_t err;
    dm_err_clear(&err);
    ck_assert_int_eq(dm__migrate_run(url, "/nonexistent/dm/migrations", NULL, &err),
                     DM_ENOTFOUND);
    put("0001_a.sql", "SELECT 1;");
    dm_err_clear(&err);
    ck_assert_int_eq(dm__migrate_run("postgresql://postgres@127.0.0.1:1/none", dir, NULL, &err),
                     DM_EUNAVAIL);
}
END_TEST

/* ---- two migrators at once ---- */

typedef struct racer {
    pthread_t         tid;
    int               rc;
    dm_migrate_report rep;
    dm_err_t          err;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    dm_err_clear(&r->err);
    r->rc = dm__migrate_run(url, dir, &r->rep, &r->err);
    return NULL;
}

static PGconn *connect_or_fail(void)
{
    PGconn *c = PQconnectdb(url);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
    return c;
}

static long query_long(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
    long v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

START_TEST(concurrent_migrators_wait_for_the_lock_and_apply_once)
{
    three_files();
    /* Hold the migration lock ourselves so both migrators must queue behind
     * it; then we can see them waiting instead of hoping they overlapped. */
    PGconn *holder = connect_or_fail();
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%" PRId64 ")", dm__migrate_lock_key());
    PGresult *r = PQexec(holder, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "lock: %s", PQresultErrorMessage(r));
    PQclear(r);

    racer a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    ck_assert_int_eq(pthread_create(&a.tid, NULL, race, &a), 0);
    ck_assert_int_eq(pthread_create(&b.tid, NULL, race, &b), 0);

    PGconn *watch = connect_or_fail();
    uint64_t deadline = dm__clock_mono_ns() + 20ull * 1000000000ull;
    long waiting = 0;
    while ((waiting = query_long(watch, "SELECT count(*) FROM pg_locks WHERE locktype = "
                                        "'advisory' AND NOT granted AND database = (SELECT oid "
                                        "FROM pg_database WHERE datname = current_database())"))
               < 2
           && dm__clock_mono_ns() < deadline) {
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep(&ts, NULL); /* polling a condition with a deadline */
    }
    ck_assert_msg(waiting == 2, "both migrators should wait on the lock, saw %ld", waiting);
    ck_assert_msg(query_long(watch, "SELECT count(*) FROM pg_class WHERE relname = 't'") == 0,
                  "nothing may be applied while the lock is held");
    PQfinish(watch);

    snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%" PRId64 ")", dm__migrate_lock_key());
    r = PQexec(holder, sql);
    PQclear(r);
    PQfinish(holder);
    pthread_join(a.tid, NULL);
    pthread_join(b.tid, NULL);
    ck_assert_msg(a.rc == 0, "migrator a: %s", a.err.msg);
    ck_assert_msg(b.rc == 0, "migrator b: %s", b.err.msg);
    ck_assert_int_eq(a.rep.applied + b.rep.applied, 3);
    ck_assert_msg((a.rep.applied == 3 && b.rep.already == 3)
                  || (b.rep.applied == 3 && a.rep.already == 3),
                  "one applies all, the other finds all applied (a %d/%d, b %d/%d)",
                  a.rep.applied, a.rep.already, b.rep.applied, b.rep.already);
    expect_sql("SELECT count(*) FROM schema_migrations", "3");
    expect_sql("SELECT count(*) FROM t", "1");
}
END_TEST

/* ---- the project's own migrations ---- */

START_TEST(project_migrations_apply_and_are_idempotent)
{
    dm_migrate_report rep;
    dm_err_t err;
    dm_err_clear(&err);
    ck_assert_msg(dm__migrate_run(url, DM_SOURCE_DIR "/migrations", &rep, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(rep.applied, rep.found);
    ck_assert_msg(dm__migrate_run(url, DM_SOURCE_DIR "/migrations", &rep, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(rep.applied, 0);
    ck_assert_int_eq(rep.already, rep.found);
    expect_sql("SELECT to_regclass('jobs') IS NOT NULL AND to_regclass('audit_log') IS NOT NULL",
               "t");
}
END_TEST

/* A CHECK constraint refusal, as SQLSTATE; "" when the statement passed. */
static char *try_insert(const char *sql)
{
    PGconn *c = PQconnectdb(url);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    char *out = strdup(st != NULL ? st : "");
    PQclear(r);
    PQfinish(c);
    return out;
}

START_TEST(jobs_table_constraints_are_tight)
{
    dm_err_t err;
    dm_err_clear(&err);
    ck_assert_msg(dm__migrate_run(url, DM_SOURCE_DIR "/migrations", NULL, &err) == 0, "%s",
                  err.msg);
    const char *refused[] = {
        "INSERT INTO jobs (kind, status) VALUES ('x', 'bogus')",
        "INSERT INTO jobs (kind) VALUES ('Bad Kind')",
        "INSERT INTO jobs (kind, payload) VALUES ('x', '[1]')",
        "INSERT INTO jobs (kind, status) VALUES ('x', 'running')", /* no lease */
        "INSERT INTO jobs (kind, status, finished_at) VALUES ('x', 'succeeded', NULL)",
        "INSERT INTO jobs (kind, status, finished_at) VALUES ('x', 'failed', now())",
        "INSERT INTO jobs (kind, attempts, max_attempts) VALUES ('x', 3, 2)",
        "INSERT INTO jobs (kind, max_attempts) VALUES ('x', 0)",
        "INSERT INTO audit_log (actor, action, target_type) VALUES ('', 'a', 'b')",
        "INSERT INTO audit_log (actor, action, target_type) VALUES ('me', 'Bad', 'b')",
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        char *st = try_insert(refused[i]);
        ck_assert_msg(strcmp(st, "23514") == 0, "%s should violate a CHECK, got \"%s\"",
                      refused[i], st);
        free(st);
    }
    char *ok = try_insert("INSERT INTO jobs (kind, unique_key) VALUES ('x', 'k')");
    ck_assert_msg(ok[0] == '\0', "a plain job is accepted, got %s", ok);
    free(ok);
    char *dup = try_insert("INSERT INTO jobs (kind, unique_key) VALUES ('y', 'k')");
    ck_assert_msg(strcmp(dup, "23505") == 0, "a second live job with the key is refused: %s", dup);
    free(dup);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("migrate");
    TCase *tc = tcase_create("migrate");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, applies_files_in_order_and_records_them);
    tcase_add_test(tc, second_run_applies_nothing);
    tcase_add_test(tc, a_new_file_is_applied_by_a_later_run);
    tcase_add_test(tc, changed_applied_file_is_refused);
    tcase_add_test(tc, failing_migration_rolls_back_and_names_file_and_line);
    tcase_add_test(tc, bad_file_name_is_refused_before_touching_the_database);
    tcase_add_test(tc, duplicate_versions_are_refused);
    tcase_add_test(tc, missing_applied_file_is_only_a_warning);
    tcase_add_test(tc, file_that_commits_by_itself_is_refused);
    tcase_add_test(tc, missing_directory_and_unreachable_database_are_reported);
    tcase_add_test(tc, concurrent_migrators_wait_for_the_lock_and_apply_once);
    tcase_add_test(tc, project_migrations_apply_and_are_idempotent);
    tcase_add_test(tc, jobs_table_constraints_are_tight);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
