/*
 * test_plugin_dirs.c — plugins.dirs: several plugin folders in order, a
 * later one adding plugins and overriding an earlier one's file of the
 * same name (logged naming both paths), a folder that fails its checks
 * not searched; the loader and `dermaga plugins`'s report agree.
 */
#include <string.h>
#include <sys/stat.h>

#include "dm_test.h"
#include "../plugins/fixtures.h"

#include "plugin/registry.h"

static char a[256], b[256];

static void setup(void)
{
    fx_mkdtemp(a, sizeof a);
    fx_mkdtemp(b, sizeof b);
    fx_install(a, "good_service");
    fx_install(a, "rt_alpha");
    fx_install(b, "good_service");
    fx_install(b, "good_auth");
}

static void teardown(void)
{
    fx_rmdir(a);
    fx_rmdir(b);
}

static const char *enabled = "[{\"name\":\"good_service\"},{\"name\":\"rt_alpha\",\"config\":{\"dir\":\"/tmp\"}},"
                             "{\"name\":\"good_auth\"},{\"name\":\"absent\"}]";

/* Load enabled from dirs; the set (free it) and the log (free it). */
static dm_plugin_set *load(const char *const *dirs, size_t n, char **log)
{
    json_t *plugins = json_loads(enabled, 0, NULL);
    dm_plugin_set *set = dm__plugins_new();
    fx_capture cap;
    fx_capture_start(&cap);
    dm_err_t err = { 0, "" };
    int rc = dm__plugins_load_dirs(set, dirs, n, plugins, &err);
    *log = fx_capture_end(&cap);
    json_decref(plugins);
    ck_assert_int_eq(rc, 0);
    return set;
}

static const char *file_of(const dm_plugin_set *set, const char *name)
{
    for (size_t i = 0; i < dm__plugins_count(set); i++)
        if (strcmp(dm__plugins_at(set, i)->name, name) == 0)
            return dm__plugins_at(set, i)->file;
    ck_abort_msg("%s was not loaded", name);
    return NULL;
}

START_TEST(a_later_folder_adds_and_overrides)
{
    const char *const dirs[] = { a, b };
    char *log;
    dm_plugin_set *set = load(dirs, 2, &log);
    ck_assert_uint_eq(dm__plugins_count(set), 3);
    char want[512], line[1200];
    snprintf(want, sizeof want, "%s/good_service.so", b);
    ck_assert_str_eq(file_of(set, "good_service"), want);
    snprintf(want, sizeof want, "%s/rt_alpha.so", a);
    ck_assert_str_eq(file_of(set, "rt_alpha"), want);
    snprintf(want, sizeof want, "%s/good_auth.so", b);
    ck_assert_str_eq(file_of(set, "good_auth"), want);
    snprintf(line, sizeof line, "plugin good_service: %s/good_service.so overrides %s/good_service.so", b, a);
    ck_assert_msg(strstr(log, line) != NULL, "the override must be logged naming both paths:\n%s", log);
    /* Found in no folder: refused where it was looked for last. */
    const json_t *r = json_array_get(dm__plugins_refusals(set), 0);
    snprintf(want, sizeof want, "%s/absent.so", b);
    ck_assert_str_eq(json_string_value(json_object_get(r, "file")), want);
    ck_assert_str_eq(json_string_value(json_object_get(r, "reason")), "file not found");
    dm__plugins_free(set);
    free(log);
}
END_TEST

START_TEST(a_folder_that_fails_its_checks_is_not_searched)
{
    ck_assert_int_eq(chmod(b, 0770), 0);
    const char *const dirs[] = { a, b };
    char *log;
    dm_plugin_set *set = load(dirs, 2, &log);
    char want[512];
    snprintf(want, sizeof want, "%s/good_service.so", a);
    ck_assert_str_eq(file_of(set, "good_service"), want);
    ck_assert_msg(strstr(log, "is not searched: plugin directory is writable by group or others") != NULL,
                  "the bad folder must be logged:\n%s", log);
    /* good_auth is only in the bad folder: refused with its reason. */
    const json_t *r = json_array_get(dm__plugins_refusals(set), 0);
    ck_assert_str_eq(json_string_value(json_object_get(r, "name")), "good_auth");
    ck_assert_msg(strstr(json_string_value(json_object_get(r, "reason")), "writable by group") != NULL,
                  "reason: %s", json_string_value(json_object_get(r, "reason")));
    dm__plugins_free(set);
    free(log);
    chmod(b, 0700);
}
END_TEST

START_TEST(the_report_finds_the_same_files)
{
    const char *const dirs[] = { a, b };
    json_t *plugins = json_loads(enabled, 0, NULL);
    fx_capture cap;
    fx_capture_start(&cap);
    json_t *rep = dm__plugins_report_dirs(dirs, 2, plugins);
    free(fx_capture_end(&cap));
    ck_assert_ptr_nonnull(rep);
    char want[512];
    snprintf(want, sizeof want, "%s/good_service.so", b);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(rep, 0), "file")), want);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(rep, 0), "status")), "ok");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(rep, 3), "reason")), "file not found");
    ck_assert_uint_eq(json_array_size(rep), 4); /* every file is an enabled entry's */
    json_decref(rep);
    json_decref(plugins);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("plugin_dirs");
    TCase *tc = tcase_create("dirs");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_later_folder_adds_and_overrides);
    tcase_add_test(tc, a_folder_that_fails_its_checks_is_not_searched);
    tcase_add_test(tc, the_report_finds_the_same_files);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
