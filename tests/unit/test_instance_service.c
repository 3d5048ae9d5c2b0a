/*
 * test_instance_service.c — dm__instance_service, the one owner of which
 * service plugin renders a service: the service's serviceType names it
 * (NULL or "" the default, service-template); a name that is not a loaded
 * service plugin is an error, never replaced by another; only
 * service-template wants a template. Loaded for real: a payment plugin and
 * two service plugins; and dm__plugins_only, with which `dermaga seed`
 * loads the service plugins alone.
 */
#include <string.h>

#include "dm_test.h"
#include "../plugins/fixtures.h"

#include "instances/instance_service.h"
#include "plugin/registry.h"

static char dir[256];
static dm_plugin_set *set;

static json_t *enabled(void)
{
    return json_pack("[{s:s,s:{s:s}},{s:s},{s:s}]", "name", "payment-good", "config", "server_key", "k",
                     "name", "good_service", "name", "service-whoami");
}

static dm_plugin_set *load(bool services_only)
{
    dm_plugin_set *s = dm__plugins_new();
    ck_assert_ptr_nonnull(s);
    if (services_only)
        dm__plugins_only(s, DM_PLUGIN_SERVICE);
    json_t *plugins = enabled();
    fx_capture cap;
    fx_capture_start(&cap);
    dm_err_t err = { 0, "" };
    int rc = dm__plugins_load(s, dir, plugins, &err);
    char *log = fx_capture_end(&cap);
    json_decref(plugins);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(json_array_size(dm__plugins_refusals(s)) == 0, "refused: %s", log);
    free(log);
    return s;
}

static void setup(void)
{
    fx_mkdtemp(dir, sizeof dir);
    fx_install(dir, "payment-good");
    fx_install(dir, "good_service");
    fx_install(dir, "service-whoami");
    set = load(false);
    ck_assert_int_eq(dm__plugins_count(set), 3);
}

static void teardown(void)
{
    dm__plugins_free(set);
    set = NULL;
    fx_rmdir(dir);
}

/* The plugin chosen for type, or NULL with the error in err. */
static const char *choose(const char *type, dm_err_t *err)
{
    const dm_plugin *p = (const dm_plugin *)1;
    if (dm__instance_service(set, type, &p, err) != 0) {
        ck_assert_ptr_null(p);
        return NULL;
    }
    ck_assert_int_eq(p->kind, DM_PLUGIN_SERVICE);
    return p->name;
}

START_TEST(the_service_type_names_the_plugin)
{
    dm_err_t err = { 0, "" };
    /* Not the first loaded service plugin: the one named. */
    ck_assert_str_eq(choose("service-whoami", &err), "service-whoami");
    ck_assert_str_eq(choose("good_service", &err), "good_service");
}
END_TEST

START_TEST(a_plugin_that_is_not_loaded_is_an_error)
{
    dm_err_t err = { 0, "" };
    ck_assert_ptr_null(choose("service-nope", &err));
    ck_assert_str_eq(err.msg, "service plugin service-nope is not enabled");
    /* Nothing named: the default, which is not loaded here; never the first. */
    ck_assert_ptr_null(choose(NULL, &err));
    ck_assert_str_eq(err.msg, "service plugin service-template is not enabled");
    ck_assert_ptr_null(choose("", &err));
    /* A loaded plugin of another kind is not a service plugin. */
    ck_assert_ptr_null(choose("payment-good", &err));
    ck_assert_str_eq(err.msg, "service plugin payment-good is not enabled");
    const dm_plugin *p = NULL;
    ck_assert_int_eq(dm__instance_service(NULL, "good_service", &p, &err), DM_EUNSUPPORTED);
}
END_TEST

START_TEST(the_catalog_check)
{
    const char *field = NULL;
    char msg[160];
    ck_assert_int_eq(dm__instance_service_check(set, "service-whoami", NULL, &field, msg, sizeof msg), 0);
    ck_assert_int_eq(dm__instance_service_check(set, "good_service", "", &field, msg, sizeof msg), 0);
    ck_assert_int_eq(dm__instance_service_check(set, "service-nope", "redis", &field, msg, sizeof msg), DM_EINVAL);
    ck_assert_str_eq(field, "serviceType");
    ck_assert_str_eq(msg, "names no enabled service plugin: service plugin service-nope is not enabled");
}
END_TEST

START_TEST(loading_the_service_plugins_alone)
{
    dm_plugin_set *only = load(true);
    ck_assert_int_eq(dm__plugins_count(only), 2);
    ck_assert_ptr_null(dm__plugins_find(only, DM_PLUGIN_PAYMENT, NULL));
    ck_assert_ptr_nonnull(dm__plugins_find(only, DM_PLUGIN_SERVICE, "service-whoami"));
    dm__plugins_free(only);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("instance_service");
    TCase *tc = tcase_create("choice");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, the_service_type_names_the_plugin);
    tcase_add_test(tc, a_plugin_that_is_not_loaded_is_an_error);
    tcase_add_test(tc, the_catalog_check);
    tcase_add_test(tc, loading_the_service_plugins_alone);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
