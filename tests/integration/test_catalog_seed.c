/*
 * test_catalog_seed.c — dm__catalog_seed_file against a real PostgreSQL:
 * the shipped config/catalog.json loads, a second run changes nothing, a
 * malformed file (bad JSON, a bad field deep inside, a duplicate slug)
 * writes nothing and names the file, entry and field, and a re-seed never
 * touches used_quota while it updates what the file changed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dm_test.h"
#include "catalog/catalog.h"
#include "testdb.h"

#define SHIPPED DM_SOURCE_DIR "/config/catalog.json"

static char *url;
static dm_db db;
static char *dir;

static void setup(void)
{
    url = dm_test_db_create_migrated("catalog_seed");
    dm_err_t err;
    ck_assert_msg(dm__db_init(&db, url, 2, 10000, &err) == 0, "db init: %s", err.msg);
    dir = dm_test_mkdtemp("dm-cat-seed");
}

static void teardown(void)
{
    dm__db_fini(&db);
    dm_test_db_drop(url);
    free(url);
    free(dir);
}

/* Write text to <dir>/name and return the path (static buffer). */
static const char *file_with(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
    return path;
}

static dm_catalog_seed_report seed_ok(const char *path)
{
    dm_catalog_seed_report rep;
    dm_err_t err = { 0 };
    int rc = dm__catalog_seed_file(&db, path, &rep, &err);
    ck_assert_msg(rc == 0, "seed %s: %d %s", path, rc, err.msg);
    return rep;
}

/* The whole catalog as one text, to compare runs. */
#define SNAPSHOT_SQL                                                                               \
    "SELECT md5(string_agg(x, '|' ORDER BY x)) FROM ("                                           \
    "SELECT c.slug || c.name || c.description || c.sort_order || c.is_active || c.updated_at AS x " \
    "FROM categories c UNION ALL SELECT s.slug || s.category_id || s.name || s.service_type || "   \
    "s.template || coalesce(s.icon_url, '') || s.updated_at FROM services s UNION ALL SELECT "     \
    "p.slug || p.service_id || p.price || p.total_quota || p.used_quota || p.features::text || "   \
    "p.updated_at FROM plans p) t"

START_TEST(shipped_catalog_loads_then_a_second_run_changes_nothing)
{
    dm_catalog_seed_report rep = seed_ok(SHIPPED);
    ck_assert_msg(rep.categories == 5 && rep.services == 5 && rep.plans == 15,
                  "first run: %d categories, %d services, %d plans", rep.categories, rep.services, rep.plans);
    DM_EXPECT_SQL(url, "5 5 15", "SELECT (SELECT count(*) FROM categories) || ' ' || "
                                 "(SELECT count(*) FROM services) || ' ' || (SELECT count(*) FROM plans)");
    DM_EXPECT_SQL(url, "caches", "SELECT c.slug FROM services s JOIN categories c ON c.id = s.category_id "
                                 "WHERE s.slug = 'redis'");
    DM_EXPECT_SQL(url, "service-template n8n", "SELECT service_type || ' ' || template FROM services WHERE slug = 'n8n'");
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM plans WHERE billing_period_days <> 30 OR price < 15000 "
                            "OR price > 350000 OR used_quota <> 0 OR jsonb_array_length(features) = 0");
    DM_EXPECT_SQL(url, "basic standard pro", "SELECT string_agg(p.slug, ' ' ORDER BY p.sort_order) FROM plans p "
                                             "JOIN services s ON s.id = p.service_id WHERE s.slug = 'postgresql'");
    char *before = dm_test_db_scalar(url, SNAPSHOT_SQL);
    rep = seed_ok(SHIPPED);
    ck_assert_msg(rep.categories == 0 && rep.services == 0 && rep.plans == 0,
                  "second run must change nothing: %d/%d/%d", rep.categories, rep.services, rep.plans);
    char *after = dm_test_db_scalar(url, SNAPSHOT_SQL);
    ck_assert_msg(strcmp(before, after) == 0, "rows (or updated_at) changed on the second run");
    DM_EXPECT_SQL(url, "5 5 15", "SELECT (SELECT count(*) FROM categories) || ' ' || "
                                 "(SELECT count(*) FROM services) || ' ' || (SELECT count(*) FROM plans)");
    free(before);
    free(after);
}
END_TEST

START_TEST(reseed_updates_changed_rows_and_keeps_used_quota)
{
    seed_ok(SHIPPED);
    char *run = dm_test_db_scalar(url, "UPDATE plans SET used_quota = 7 FROM services s WHERE "
                                       "s.id = plans.service_id AND s.slug = 'redis' AND plans.slug = 'basic' "
                                       "RETURNING used_quota");
    free(run);
    const char *path = file_with("change.json",
        "{\"categories\":[{\"slug\":\"caches\",\"name\":\"Caches\",\"services\":[{\"slug\":\"redis\","
        "\"name\":\"Redis\",\"serviceType\":\"service-template\",\"template\":\"redis\",\"plans\":["
        "{\"slug\":\"basic\",\"name\":\"Basic\",\"price\":27500,\"cpuMillicores\":250,\"memoryMb\":256,"
        "\"totalQuota\":60}]}]}]}");
    dm_catalog_seed_report rep = seed_ok(path);
    ck_assert_msg(rep.categories == 0 && rep.services == 0 && rep.plans == 1,
                  "only the plan changed: %d/%d/%d", rep.categories, rep.services, rep.plans);
    DM_EXPECT_SQL(url, "27500 60 7", "SELECT p.price || ' ' || p.total_quota || ' ' || p.used_quota FROM plans p "
                                     "JOIN services s ON s.id = p.service_id WHERE s.slug = 'redis' AND p.slug = 'basic'");
    /* Fields the file leaves out keep their stored values. */
    DM_EXPECT_SQL(url, "5 10", "SELECT jsonb_array_length(p.features) || ' ' || p.sort_order FROM plans p "
                               "JOIN services s ON s.id = p.service_id WHERE s.slug = 'redis' AND p.slug = 'basic'");
    DM_EXPECT_SQL(url, "/icons/redis.svg", "SELECT icon_url FROM services WHERE slug = 'redis'");
    /* A total below what is in use is refused, naming the field; nothing changes. */
    path = file_with("low.json",
        "{\"categories\":[{\"slug\":\"caches\",\"name\":\"Caches\",\"services\":[{\"slug\":\"redis\","
        "\"name\":\"Redis\",\"serviceType\":\"service-template\",\"template\":\"redis\",\"plans\":["
        "{\"slug\":\"basic\",\"name\":\"Basic\",\"price\":1,\"cpuMillicores\":250,\"memoryMb\":256,"
        "\"totalQuota\":5}]}]}]}");
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__catalog_seed_file(&db, path, NULL, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "totalQuota") != NULL, "message: %s", err.msg);
    DM_EXPECT_SQL(url, "27500 60 7", "SELECT p.price || ' ' || p.total_quota || ' ' || p.used_quota FROM plans p "
                                     "JOIN services s ON s.id = p.service_id WHERE s.slug = 'redis' AND p.slug = 'basic'");
}
END_TEST

/* Seed path, expect DM_EINVAL with every needle in the message, and an
 * empty catalog afterwards. */
static void expect_refused(const char *path, const char *n1, const char *n2)
{
    dm_err_t err = { 0 };
    dm_catalog_seed_report rep = { 9, 9, 9 };
    int rc = dm__catalog_seed_file(&db, path, &rep, &err);
    ck_assert_msg(rc == DM_EINVAL, "%s: want DM_EINVAL, got %d (%s)", path, rc, err.msg);
    ck_assert_msg(strstr(err.msg, path) != NULL, "message must name the file: %s", err.msg);
    ck_assert_msg(n1 == NULL || strstr(err.msg, n1) != NULL, "message must name %s: %s", n1, err.msg);
    ck_assert_msg(n2 == NULL || strstr(err.msg, n2) != NULL, "message must name %s: %s", n2, err.msg);
    ck_assert_msg(rep.categories == 0 && rep.plans == 0, "a refused file reports nothing");
    DM_EXPECT_SQL(url, "0 0 0", "SELECT (SELECT count(*) FROM categories) || ' ' || "
                                "(SELECT count(*) FROM services) || ' ' || (SELECT count(*) FROM plans)");
}

/* A valid first category then a bad plan in the second: nothing is written. */
#define GOOD_CATEGORY                                                                            \
    "{\"slug\":\"a\",\"name\":\"A\",\"services\":[{\"slug\":\"s1\",\"name\":\"S1\",\"serviceType\":" \
    "\"service-template\",\"template\":\"s1\",\"plans\":[{\"name\":\"Basic\",\"price\":1000,"      \
    "\"cpuMillicores\":100,\"memoryMb\":128,\"totalQuota\":5}]}]}"

START_TEST(malformed_files_write_nothing_and_say_where)
{
    expect_refused(file_with("syntax.json", "{\"categories\": [ {\"slug\": \"x\", } ]}"), "line 1", NULL);
    expect_refused(file_with("top.json", "{\"categories\": [], \"extra\": 1}"), "extra", NULL);
    expect_refused(file_with("deep.json",
        "{\"categories\":[" GOOD_CATEGORY ",{\"slug\":\"b\",\"name\":\"B\",\"services\":[{\"slug\":\"s2\","
        "\"name\":\"S2\",\"serviceType\":\"service-template\",\"template\":\"s2\",\"plans\":[{\"name\":"
        "\"Pro\",\"price\":-5,\"cpuMillicores\":100,\"memoryMb\":128,\"totalQuota\":5}]}]}]}"),
        "categories[1].services[0].plans[0]", "price");
    expect_refused(file_with("dup.json", "{\"categories\":[" GOOD_CATEGORY "," GOOD_CATEGORY "]}"),
                   "categories[1]", "used twice");
    expect_refused(file_with("slug.json", "{\"categories\":[{\"slug\":\"Bad Slug\",\"name\":\"X\"}]}"),
                   "categories[0]", "slug");
    expect_refused(file_with("unknown.json", "{\"categories\":[{\"name\":\"X\",\"colour\":\"red\"}]}"),
                   "categories[0]", "colour");
    expect_refused(file_with("ref.json",
        "{\"categories\":[{\"name\":\"X\",\"services\":[{\"categoryId\":\"6f1c2a7e-3b0d-4c8e-9a51-2d4e6f8a0b1c\","
        "\"name\":\"S\",\"serviceType\":\"t\",\"template\":\"t\"}]}]}"),
        "categories[0].services[0]", "categoryId");
    expect_refused(file_with("plans.json",
        "{\"categories\":[{\"name\":\"X\",\"services\":[{\"name\":\"S\",\"serviceType\":\"t\",\"template\":"
        "\"t\",\"plans\":{}}]}]}"), "categories[0].services[0]", "plans");
    expect_refused(file_with("features.json",
        "{\"categories\":[{\"name\":\"X\",\"services\":[{\"name\":\"S\",\"serviceType\":\"t\",\"template\":"
        "\"t\",\"plans\":[{\"name\":\"P\",\"price\":1,\"cpuMillicores\":1,\"memoryMb\":1,\"totalQuota\":1,"
        "\"features\":[\"ok\",7]}]}]}]}"), "plans[0]", "features");
    /* Unchecked for plugins (no plugin set), the table's CHECK still
     * wants a template for service-template, and says which field. */
    expect_refused(file_with("notpl.json",
        "{\"categories\":[{\"name\":\"X\",\"services\":[{\"name\":\"S\",\"serviceType\":\"service-template\"}]}]}"),
        "categories[0].services[0]", "template: is required");
    char missing[600];
    snprintf(missing, sizeof missing, "%s/absent.json", dir);
    expect_refused(missing, NULL, NULL);
}
END_TEST

START_TEST(slugs_default_to_the_name)
{
    const char *path = file_with("names.json",
        "{\"categories\":[{\"name\":\"Web  Hosting!\",\"services\":[{\"name\":\"Uptime Kuma (v2)\","
        "\"serviceType\":\"service-template\",\"template\":\"uptime-kuma\",\"plans\":[{\"name\":\"Pro Max\","
        "\"price\":0,\"cpuMillicores\":1,\"memoryMb\":1,\"totalQuota\":0}]}]}]}");
    dm_catalog_seed_report rep = seed_ok(path);
    ck_assert_int_eq(rep.plans, 1);
    DM_EXPECT_SQL(url, "web-hosting", "SELECT slug FROM categories");
    DM_EXPECT_SQL(url, "uptime-kuma-v2", "SELECT slug FROM services");
    DM_EXPECT_SQL(url, "pro-max 30 0", "SELECT slug || ' ' || billing_period_days || ' ' || storage_gb FROM plans");
}
END_TEST

/* A service's runtime: set by the file, kept when the file leaves it out,
 * cleared by null; a malformed name is refused naming the field. */
#define RT_FILE(rt)                                                                               \
    "{\"categories\":[{\"slug\":\"a\",\"name\":\"A\",\"services\":[{\"slug\":\"s1\",\"name\":\"S1\"," \
    "\"serviceType\":\"service-template\",\"template\":\"s1\"" rt ",\"plans\":[{\"name\":\"Basic\","  \
    "\"price\":1000,\"cpuMillicores\":100,\"memoryMb\":128,\"totalQuota\":5}]}]}]}"

START_TEST(a_service_runtime_is_seeded_kept_and_cleared)
{
    dm_catalog_seed_report rep = seed_ok(file_with("rt.json", RT_FILE(",\"runtime\":\"runtime-kubernetes\"")));
    ck_assert_int_eq(rep.services, 1);
    DM_EXPECT_SQL(url, "runtime-kubernetes", "SELECT runtime FROM services WHERE slug = 's1'");
    rep = seed_ok(file_with("rt-absent.json", RT_FILE("")));
    ck_assert_msg(rep.services == 0, "leaving runtime out changes nothing");
    DM_EXPECT_SQL(url, "runtime-kubernetes", "SELECT runtime FROM services WHERE slug = 's1'");
    rep = seed_ok(file_with("rt-null.json", RT_FILE(",\"runtime\":null")));
    ck_assert_int_eq(rep.services, 1);
    DM_EXPECT_SQL(url, "t", "SELECT runtime IS NULL FROM services WHERE slug = 's1'");
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__catalog_seed_file(&db, file_with("rt-bad.json", RT_FILE(",\"runtime\":\"Docker!\"")),
                                           NULL, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "runtime") != NULL, "message: %s", err.msg);
    DM_EXPECT_SQL(url, "t", "SELECT runtime IS NULL FROM services WHERE slug = 's1'");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("catalog_seed");
    TCase *tc = tcase_create("seed");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, shipped_catalog_loads_then_a_second_run_changes_nothing);
    tcase_add_test(tc, reseed_updates_changed_rows_and_keeps_used_quota);
    tcase_add_test(tc, malformed_files_write_nothing_and_say_where);
    tcase_add_test(tc, slugs_default_to_the_name);
    tcase_add_test(tc, a_service_runtime_is_seeded_kept_and_cleared);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
