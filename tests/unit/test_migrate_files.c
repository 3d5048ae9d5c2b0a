/*
 * test_migrate_files.c — the pure half of the migrator: file-name rules,
 * directory scanning (order, duplicates, refusals), checksums and the
 * advisory-lock key. No database.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "dm_test.h"
#include "db/migrate.h"
#include "util/sha256.h"

static char tmpdir[64];

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dm_migfiles_XXXXXX");
    ck_assert_msg(mkdtemp(tmpdir) != NULL, "mkdtemp: %s", strerror(errno));
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p) != 0)
            remove_tree(p);
    }
    closedir(d);
    rmdir(dir);
}

static void teardown(void)
{
    remove_tree(tmpdir);
}

static void put(const char *name, const char *content, size_t len)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", p);
    ck_assert_msg(fwrite(content, 1, len, f) == len, "short write to %s", p);
    fclose(f);
}

static void put_s(const char *name, const char *content)
{
    put(name, content, strlen(content));
}

/* ---- names ---- */

START_TEST(parse_accepts_well_formed_names)
{
    int v = 0;
    char name[DM_MIGRATE_NAME_MAX + 1];
    dm_err_t err;
    ck_assert_int_eq(dm__migrate_parse_name("0001_jobs_and_audit.sql", &v, name, sizeof name,
                                            &err), 0);
    ck_assert_int_eq(v, 1);
    ck_assert_str_eq(name, "jobs_and_audit");
    ck_assert_int_eq(dm__migrate_parse_name("9999_z9.sql", &v, name, sizeof name, &err), 0);
    ck_assert_int_eq(v, 9999);
    ck_assert_str_eq(name, "z9");
}
END_TEST

START_TEST(parse_ignores_files_that_are_not_sql)
{
    int v = 0;
    char name[DM_MIGRATE_NAME_MAX + 1];
    const char *ignored[] = { "README.md", "0001_x.sql~", "0001_x.sql.bak", "." };
    for (size_t i = 0; i < sizeof ignored / sizeof *ignored; i++)
        ck_assert_msg(dm__migrate_parse_name(ignored[i], &v, name, sizeof name, NULL)
                      == DM_ENOTFOUND, "%s should be ignored as not a migration", ignored[i]);
}
END_TEST

START_TEST(parse_refuses_sql_files_with_bad_names)
{
    char long_name[128];
    memset(long_name, 'a', sizeof long_name);
    memcpy(long_name, "0001_", 5);
    memcpy(long_name + 5 + DM_MIGRATE_NAME_MAX + 1, ".sql", 5); /* name of 65 chars */
    const char *bad[] = { "1_foo.sql", "001_foo.sql", "0001-foo.sql", "0001_Foo.sql",
                          "0001_.sql", "abcd_foo.sql", ".sql", "0001_foo bar.sql",
                          "0001_foo-bar.sql", ".0001_hidden.sql", "00001_foo.sql",
                          "0000_zero.sql", "0001_x.SQL", long_name };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int v = 0;
        char name[DM_MIGRATE_NAME_MAX + 1];
        dm_err_t err;
        dm_err_clear(&err);
        int rc = dm__migrate_parse_name(bad[i], &v, name, sizeof name, &err);
        ck_assert_msg(rc == DM_EINVAL, "%s: expected DM_EINVAL, got %d", bad[i], rc);
        char head[16];
        snprintf(head, sizeof head, "%.12s", bad[i]);
        ck_assert_msg(strstr(err.msg, head) != NULL, "message should name %s: %s", bad[i],
                      err.msg);
    }
}
END_TEST

START_TEST(parse_accepts_name_of_exactly_max_length)
{
    char fname[128];
    memset(fname, 'b', sizeof fname);
    memcpy(fname, "0042_", 5);
    memcpy(fname + 5 + DM_MIGRATE_NAME_MAX, ".sql", 5);
    int v = 0;
    char name[DM_MIGRATE_NAME_MAX + 1];
    ck_assert_int_eq(dm__migrate_parse_name(fname, &v, name, sizeof name, NULL), 0);
    ck_assert_int_eq(v, 42);
    ck_assert_uint_eq(strlen(name), DM_MIGRATE_NAME_MAX);
}
END_TEST

/* ---- checksums and the lock key ---- */

START_TEST(sha256_matches_known_vectors)
{
    char hex[65];
    ck_assert_int_eq(dm__sha256_hex("", 0, hex), 0);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ck_assert_int_eq(dm__sha256_hex("abc", 3, hex), 0);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(lock_key_is_derived_from_the_fixed_name)
{
    char hex[65];
    ck_assert_int_eq(dm__sha256_hex("dermaga.migrate", 15, hex), 0);
    char first16[17];
    memcpy(first16, hex, 16);
    first16[16] = '\0';
    uint64_t expect = strtoull(first16, NULL, 16);
    int64_t key = dm__migrate_lock_key();
    uint64_t got;
    memcpy(&got, &key, sizeof got);
    ck_assert_msg(got == expect, "lock key %016llx, expected %016llx from sha256",
                  (unsigned long long)got, (unsigned long long)expect);
    ck_assert_msg(dm__migrate_lock_key() == key, "lock key must be stable");
}
END_TEST

/* ---- scanning ---- */

START_TEST(scan_sorts_by_version_and_ignores_other_files)
{
    put_s("0010_c.sql", "SELECT 10;");
    put_s("0002_b.sql", "SELECT 2;");
    put_s("0001_a.sql", "SELECT 1;");
    put_s("README.md", "notes");
    dm_migration_list l;
    dm_err_t err;
    dm_err_clear(&err);
    ck_assert_msg(dm__migrate_scan(tmpdir, &l, &err) == 0, "scan failed: %s", err.msg);
    ck_assert_int_eq(l.n, 3);
    ck_assert_int_eq(l.items[0].version, 1);
    ck_assert_int_eq(l.items[1].version, 2);
    ck_assert_int_eq(l.items[2].version, 10);
    ck_assert_str_eq(l.items[2].file, "0010_c.sql");
    ck_assert_str_eq(l.items[2].name, "c");
    ck_assert_str_eq(l.items[1].sql, "SELECT 2;");
    char hex[65];
    dm__sha256_hex("SELECT 10;", 10, hex);
    ck_assert_str_eq(l.items[2].checksum, hex);
    dm__migrate_list_free(&l);
}
END_TEST

START_TEST(scan_of_empty_directory_finds_nothing)
{
    dm_migration_list l;
    ck_assert_int_eq(dm__migrate_scan(tmpdir, &l, NULL), 0);
    ck_assert_int_eq(l.n, 0);
    dm__migrate_list_free(&l);
}
END_TEST

START_TEST(scan_refuses_duplicate_versions)
{
    put_s("0001_a.sql", "SELECT 1;");
    put_s("0001_b.sql", "SELECT 1;");
    dm_migration_list l;
    dm_err_t err;
    dm_err_clear(&err);
    ck_assert_int_eq(dm__migrate_scan(tmpdir, &l, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "duplicate migration version 0001") != NULL, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "0001_a.sql") && strstr(err.msg, "0001_b.sql"),
                  "both files should be named: %s", err.msg);
    dm__migrate_list_free(&l);
}
END_TEST

START_TEST(scan_refuses_a_bad_name_instead_of_skipping_it)
{
    put_s("0001_a.sql", "SELECT 1;");
    put_s("2_b.sql", "SELECT 2;");
    dm_migration_list l;
    dm_err_t err;
    dm_err_clear(&err);
    ck_assert_int_eq(dm__migrate_scan(tmpdir, &l, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "2_b.sql") != NULL, "%s", err.msg);
    dm__migrate_list_free(&l);
}
END_TEST

START_TEST(scan_refuses_nul_bytes)
{
    put("0001_a.sql", "SELECT 1;\0DROP TABLE x;", 23);
    dm_migration_list l;
    dm_err_t err;
    dm_err_clear(&err);
    ck_assert_int_eq(dm__migrate_scan(tmpdir, &l, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "NUL") && strstr(err.msg, "0001_a.sql"), "%s", err.msg);
    dm__migrate_list_free(&l);
}
END_TEST

START_TEST(scan_refuses_a_directory_named_like_a_migration)
{
    char p[512];
    snprintf(p, sizeof p, "%s/0003_dir.sql", tmpdir);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    dm_migration_list l;
    dm_err_t err;
    dm_err_clear(&err);
    ck_assert_int_eq(dm__migrate_scan(tmpdir, &l, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "not a regular file"), "%s", err.msg);
    dm__migrate_list_free(&l);
}
END_TEST

START_TEST(scan_reports_a_missing_directory)
{
    dm_migration_list l;
    dm_err_t err;
    dm_err_clear(&err);
    ck_assert_int_eq(dm__migrate_scan("/nonexistent/dermaga/migrations", &l, &err),
                     DM_ENOTFOUND);
    ck_assert_msg(strstr(err.msg, "/nonexistent/dermaga/migrations"), "%s", err.msg);
    dm__migrate_list_free(&l);
}
END_TEST

START_TEST(project_migrations_scan_cleanly)
{
    dm_migration_list l;
    dm_err_t err;
    dm_err_clear(&err);
    ck_assert_msg(dm__migrate_scan(DM_SOURCE_DIR "/migrations", &l, &err) == 0, "%s", err.msg);
    ck_assert_msg(l.n >= 1, "the project has at least one migration");
    ck_assert_str_eq(l.items[0].file, "0001_jobs_and_audit.sql");
    for (int i = 0; i < l.n; i++)
        ck_assert_msg(l.items[i].version == i + 1, "migrations are numbered without gaps: %s",
                      l.items[i].file);
    dm__migrate_list_free(&l);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("migrate_files");
    TCase *names = tcase_create("names");
    tcase_add_test(names, parse_accepts_well_formed_names);
    tcase_add_test(names, parse_ignores_files_that_are_not_sql);
    tcase_add_test(names, parse_refuses_sql_files_with_bad_names);
    tcase_add_test(names, parse_accepts_name_of_exactly_max_length);
    tcase_add_test(names, sha256_matches_known_vectors);
    tcase_add_test(names, lock_key_is_derived_from_the_fixed_name);
    suite_add_tcase(s, names);
    TCase *scan = tcase_create("scan");
    tcase_add_checked_fixture(scan, setup, teardown);
    tcase_add_test(scan, scan_sorts_by_version_and_ignores_other_files);
    tcase_add_test(scan, scan_of_empty_directory_finds_nothing);
    tcase_add_test(scan, scan_refuses_duplicate_versions);
    tcase_add_test(scan, scan_refuses_a_bad_name_instead_of_skipping_it);
    tcase_add_test(scan, scan_refuses_nul_bytes);
    tcase_add_test(scan, scan_refuses_a_directory_named_like_a_migration);
    tcase_add_test(scan, scan_reports_a_missing_directory);
    tcase_add_test(scan, project_migrations_scan_cleanly);
    suite_add_tcase(s, scan);
    return s;
}

DM_TEST_MAIN(make_suite)
