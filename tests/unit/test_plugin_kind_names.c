/*
 * test_plugin_kind_names.c — a payment plugin's name is payment-<gateway>:
 * one named otherwise (the xendit fixture) would load, offer no method and
 * answer no webhook, so it is refused at load with the reason, and
 * `dermaga plugins` says the same; a prefixed one loads.
 */
#include <string.h>

#include "dm_test.h"
#include "../plugins/fixtures.h"

#include "plugin/kind_names.h"
#include "plugin/registry.h"

static char dir[256];

static void setup(void)
{
    fx_mkdtemp(dir, sizeof dir);
    fx_install(dir, "xendit");
    fx_install(dir, "payment-good");
}

static void teardown(void) { fx_rmdir(dir); }

static const char *const plugins_text =
    "[{\"name\":\"xendit\"},{\"name\":\"payment-good\",\"config\":{\"server_key\":\"sk\"}}]";

#define WANT "payment plugin name 'xendit' lacks the 'payment-' prefix"

START_TEST(a_payment_plugin_without_the_prefix_is_refused_at_load)
{
    json_t *plugins = json_loads(plugins_text, 0, NULL);
    dm_plugin_set *set = dm__plugins_new();
    fx_capture cap;
    fx_capture_start(&cap);
    dm_err_t err = { 0, "" };
    ck_assert_int_eq(dm__plugins_load(set, dir, plugins, &err), 0);
    char *log = fx_capture_end(&cap);
    ck_assert_uint_eq(dm__plugins_count(set), 1);
    ck_assert_str_eq(dm__plugins_at(set, 0)->name, "payment-good");
    const json_t *r = json_array_get(dm__plugins_refusals(set), 0);
    ck_assert_str_eq(json_string_value(json_object_get(r, "name")), "xendit");
    ck_assert_msg(strstr(json_string_value(json_object_get(r, "reason")), WANT) != NULL, "reason: %s",
                  json_string_value(json_object_get(r, "reason")));
    ck_assert_str_eq(json_string_value(json_object_get(r, "kind")), "payment");
    ck_assert_msg(strstr(log, "xendit.so: " WANT) != NULL, "the refusal must be logged:\n%s", log);
    free(log);
    dm__plugins_free(set);
    json_decref(plugins);
}
END_TEST

START_TEST(the_report_says_the_same)
{
    json_t *plugins = json_loads(plugins_text, 0, NULL);
    fx_capture cap;
    fx_capture_start(&cap);
    json_t *rep = dm__plugins_report(dir, plugins);
    free(fx_capture_end(&cap));
    const json_t *x = json_array_get(rep, 0);
    ck_assert_str_eq(json_string_value(json_object_get(x, "status")), "refused");
    ck_assert_msg(strstr(json_string_value(json_object_get(x, "reason")), WANT) != NULL, "reason: %s",
                  json_string_value(json_object_get(x, "reason")));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(rep, 1), "status")), "ok");
    json_decref(rep);
    json_decref(plugins);
}
END_TEST

START_TEST(the_rule)
{
    dm_err_t err = { 0, "" };
    ck_assert_int_eq(dm__plugin_name_fits_kind("payment-midtrans", DM_PLUGIN_PAYMENT, &err), 0);
    ck_assert_int_eq(dm__plugin_name_fits_kind("payment-", DM_PLUGIN_PAYMENT, &err), DM_EINVAL);
    ck_assert_int_eq(dm__plugin_name_fits_kind("midtrans", DM_PLUGIN_PAYMENT, &err), DM_EINVAL);
    ck_assert_int_eq(dm__plugin_name_fits_kind("xendit", DM_PLUGIN_RUNTIME, &err), 0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("plugin_kind_names");
    TCase *tc = tcase_create("payment");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_payment_plugin_without_the_prefix_is_refused_at_load);
    tcase_add_test(tc, the_report_says_the_same);
    tcase_add_test(tc, the_rule);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
