/*
 * test_instance_runtime.c — dm__instance_runtime, the one owner of which
 * runtime plugin runs an instance: the recorded runtime wins over the
 * service's and the default, which win in that order over the first
 * loaded runtime plugin; a named runtime that is not loaded (or is not a
 * runtime) is an error, never replaced by another. Loaded for real: two
 * runtime fixtures (rt_beta first, so "first" means load order) after a
 * payment plugin.
 */
#include <string.h>

#include "dm_test.h"
#include "../plugins/fixtures.h"

#include "instances/instance_runtime.h"
#include "plugin/registry.h"

static char dir[256];
static dm_plugin_set *set;

static void setup(void)
{
    fx_mkdtemp(dir, sizeof dir);
    fx_install(dir, "payment-good");
    fx_install(dir, "rt_beta");
    fx_install(dir, "rt_alpha");
    json_t *plugins = json_pack("[{s:s,s:{s:s}},{s:s,s:{s:s}},{s:s,s:{s:s}}]", "name", "payment-good", "config",
                                "server_key", "test-key", "name", "rt_beta",
                                "config", "dir", dir, "name", "rt_alpha", "config", "dir", dir);
    set = dm__plugins_new();
    ck_assert_ptr_nonnull(set);
    fx_capture cap;
    fx_capture_start(&cap);
    dm_err_t err = { 0, "" };
    int rc = dm__plugins_load(set, dir, plugins, &err);
    char *log = fx_capture_end(&cap);
    json_decref(plugins);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(dm__plugins_count(set) == 3, "not all loaded: %s", log);
    free(log);
}

static void teardown(void)
{
    dm__plugins_free(set);
    set = NULL;
    fx_rmdir(dir);
}

/* The name chosen for (recorded, service, default), or the error. */
static const char *choose(const char *recorded, const char *service, const char *def, dm_err_t *err)
{
    const dm_plugin *p = (const dm_plugin *)1;
    int rc = dm__instance_runtime(set, recorded, service, def, &p, err);
    if (rc != 0) {
        ck_assert_int_eq(rc, DM_EUNSUPPORTED);
        ck_assert_ptr_null(p);
        return NULL;
    }
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->kind, DM_PLUGIN_RUNTIME);
    return p->name;
}

START_TEST(the_recorded_runtime_wins)
{
    dm_err_t err = { 0, "" };
    ck_assert_str_eq(choose("rt_alpha", "rt_beta", "rt_beta", &err), "rt_alpha");
    ck_assert_str_eq(choose("rt_beta", "rt_alpha", "rt_alpha", &err), "rt_beta");
    ck_assert_str_eq(choose("rt_alpha", NULL, NULL, &err), "rt_alpha");
}
END_TEST

START_TEST(then_the_service_then_the_default_then_the_first)
{
    dm_err_t err = { 0, "" };
    ck_assert_str_eq(choose(NULL, "rt_alpha", "rt_beta", &err), "rt_alpha");
    ck_assert_str_eq(choose("", "rt_alpha", "rt_beta", &err), "rt_alpha");
    ck_assert_str_eq(choose("", "", "rt_alpha", &err), "rt_alpha");
    ck_assert_str_eq(choose(NULL, NULL, "rt_alpha", &err), "rt_alpha");
    /* Nothing named: the first loaded runtime plugin (load order). */
    ck_assert_str_eq(choose(NULL, NULL, NULL, &err), "rt_beta");
    ck_assert_str_eq(choose("", "", "", &err), "rt_beta");
}
END_TEST

START_TEST(a_named_runtime_that_is_not_loaded_is_an_error)
{
    dm_err_t err = { 0, "" };
    /* Never another runtime in its place, though others are named. */
    ck_assert_ptr_null(choose("rt_gamma", "rt_alpha", "rt_beta", &err));
    ck_assert_str_eq(err.msg, "runtime rt_gamma is not enabled");
    ck_assert_ptr_null(choose(NULL, "rt_gamma", "rt_alpha", &err));
    ck_assert_str_eq(err.msg, "runtime rt_gamma is not enabled");
    ck_assert_ptr_null(choose(NULL, NULL, "rt_gamma", &err));
    ck_assert_str_eq(err.msg, "runtime rt_gamma is not enabled");
    /* A loaded plugin of another kind is not a runtime. */
    ck_assert_ptr_null(choose("payment-good", NULL, NULL, &err));
    ck_assert_str_eq(err.msg, "runtime payment-good is not enabled");
}
END_TEST

START_TEST(no_runtime_loaded)
{
    dm_plugin_set *empty = dm__plugins_new();
    const dm_plugin *p = NULL;
    dm_err_t err = { 0, "" };
    ck_assert_int_eq(dm__instance_runtime(empty, NULL, NULL, NULL, &p, &err), DM_EUNSUPPORTED);
    ck_assert_str_eq(err.msg, "no runtime plugin enabled");
    ck_assert_int_eq(dm__instance_runtime(empty, "rt_alpha", NULL, NULL, &p, &err), DM_EUNSUPPORTED);
    ck_assert_str_eq(err.msg, "runtime rt_alpha is not enabled");
    ck_assert_int_eq(dm__instance_runtime(NULL, NULL, NULL, NULL, &p, &err), DM_EUNSUPPORTED);
    ck_assert_ptr_null(p);
    dm__plugins_free(empty);
}
END_TEST

START_TEST(name_form)
{
    ck_assert(dm__instance_runtime_name_ok("runtime-docker"));
    ck_assert(dm__instance_runtime_name_ok("rt_alpha"));
    ck_assert(dm__instance_runtime_name_ok("0k"));
    char longest[65];
    memset(longest, 'a', 64);
    longest[64] = '\0';
    ck_assert(dm__instance_runtime_name_ok(longest));
    char too_long[66];
    memset(too_long, 'a', 65);
    too_long[65] = '\0';
    ck_assert(!dm__instance_runtime_name_ok(too_long));
    ck_assert(!dm__instance_runtime_name_ok(""));
    ck_assert(!dm__instance_runtime_name_ok(NULL));
    ck_assert(!dm__instance_runtime_name_ok("-docker"));
    ck_assert(!dm__instance_runtime_name_ok("_docker"));
    ck_assert(!dm__instance_runtime_name_ok("Runtime"));
    ck_assert(!dm__instance_runtime_name_ok("../x"));
    ck_assert(!dm__instance_runtime_name_ok("a b"));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("instance_runtime");
    TCase *tc = tcase_create("choice");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, the_recorded_runtime_wins);
    tcase_add_test(tc, then_the_service_then_the_default_then_the_first);
    tcase_add_test(tc, a_named_runtime_that_is_not_loaded_is_an_error);
    tcase_add_test(tc, no_runtime_loaded);
    tcase_add_test(tc, name_form);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
