/*
 * test_admin_plugins.c — GET /api/admin/plugins through the real binary:
 * every enabled plugin, loaded ones with kind, version, ABI and file (a
 * payment plugin with its methods), refused ones with the loader's reason;
 * administrators only (401 without a token, 403 for a user). And
 * plugins.dirs as the server uses it: a later folder overrides an earlier
 * one's file (logged naming both), which the listing shows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"
#include "e2e_instances.h"
#include "testdb.h"
#include "../plugins/fixtures.h"

static void sweep_setup(void) { dm_e2e_auth_sweep_setup("admplugins"); }
static void sweep_teardown(void) { dm_e2e_auth_sweep_teardown(); }

static void setup(void)
{
    /* payment-absent has no file: refused, and listed as such (optional,
     * or the server would not start). */
    json_t *extra = json_pack("{s:{s:s,s:s},s:{s:[{s:s},{s:s},{s:s}],s:[s]}}", "auth", "adminEmail",
                              DM_E2E_ADMIN_EMAIL, "adminPassword", DM_E2E_ADMIN_PASS, "plugins", "enabled", "name",
                              "auth-local", "name", "payment-manual", "name", "payment-absent", "optional",
                              "payment-absent");
    dm_e2e_auth_setup_with(extra);
}

static void teardown(void) { dm_e2e_auth_teardown(); }

/* The entry of list named name; fails when there is none. Borrowed. */
static json_t *entry(json_t *list, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        if (strcmp(dm_e2e_jstr(e, "name"), name) == 0)
            return e;
    }
    ck_abort_msg("no plugin %s listed", name);
    return NULL;
}

START_TEST(admins_see_every_enabled_plugin)
{
    char *tok = dm_e2e_auth_login(DM_E2E_ADMIN_EMAIL, DM_E2E_ADMIN_PASS);
    dm_e2e_response res;
    dm_e2e_auth_call("GET", "/api/admin/plugins", tok, NULL, &res);
    json_t *d = dm_e2e_auth_ok_data(&res, 200, "plugins");
    ck_assert_msg(json_array_size(d) == 3, "three enabled: %s", res.body);
    json_t *pay = entry(d, "payment-manual");
    ck_assert_str_eq(dm_e2e_jstr(pay, "state"), "loaded");
    ck_assert_str_eq(dm_e2e_jstr(pay, "kind"), "payment");
    ck_assert_msg(strstr(dm_e2e_jstr(pay, "file"), "/payment-manual.so") != NULL, "file: %s", res.body);
    ck_assert_msg(dm_e2e_jstr(pay, "version")[0] != '\0' && strchr(dm_e2e_jstr(pay, "abi"), '.') != NULL,
                  "version and ABI: %s", res.body);
    ck_assert_str_eq(dm_e2e_jstr(pay, "methods.0.id"), "bank_transfer");
    json_t *auth = entry(d, "auth-local");
    ck_assert_str_eq(dm_e2e_jstr(auth, "kind"), "auth");
    ck_assert_ptr_null(json_object_get(auth, "methods"));
    json_t *gone = entry(d, "payment-absent");
    ck_assert_str_eq(dm_e2e_jstr(gone, "state"), "refused");
    ck_assert_str_eq(dm_e2e_jstr(gone, "reason"), "file not found");
    json_decref(d);
    dm_e2e_response_free(&res);
    free(tok);
}
END_TEST

START_TEST(administrators_only)
{
    dm_e2e_response res;
    dm_e2e_auth_call("GET", "/api/admin/plugins", NULL, NULL, &res);
    dm_e2e_auth_expect_error(&res, 401, "UNAUTHORIZED", "no token");
    dm_e2e_response_free(&res);
    char uid[37];
    char *tok = dm_e2e_auth_register("plain@example.id", uid);
    dm_e2e_auth_call("GET", "/api/admin/plugins", tok, NULL, &res);
    dm_e2e_auth_expect_error(&res, 403, "FORBIDDEN", "a user");
    dm_e2e_response_free(&res);
    free(tok);
}
END_TEST

/* plugins.dirs: the build's plugin folder, then one holding its own copy
 * of payment-manual, which wins. */
static char later[256];

static void setup_dirs(void)
{
    fx_mkdtemp(later, sizeof later);
    char src[512], dst[512];
    snprintf(src, sizeof src, "%s/payment-manual.so", getenv("DERMAGA_TEST_PLUGIN_DIR"));
    snprintf(dst, sizeof dst, "%s/payment-manual.so", later);
    fx_copy_file(src, dst, "was the build done?");
    json_t *extra = json_pack("{s:{s:s,s:s},s:{s:[s,s],s:[{s:s},{s:s}]}}", "auth", "adminEmail",
                              DM_E2E_ADMIN_EMAIL, "adminPassword", DM_E2E_ADMIN_PASS, "plugins", "dirs",
                              getenv("DERMAGA_TEST_PLUGIN_DIR"), later, "enabled", "name", "auth-local", "name",
                              "payment-manual");
    dm_e2e_auth_setup_with(extra);
}

static void teardown_dirs(void)
{
    dm_e2e_auth_teardown();
    fx_rmdir(later);
}

START_TEST(a_later_plugin_folder_wins)
{
    char *tok = dm_e2e_auth_login(DM_E2E_ADMIN_EMAIL, DM_E2E_ADMIN_PASS);
    dm_e2e_response res;
    dm_e2e_auth_call("GET", "/api/admin/plugins", tok, NULL, &res);
    json_t *d = dm_e2e_auth_ok_data(&res, 200, "plugins");
    char want[512];
    snprintf(want, sizeof want, "%s/payment-manual.so", later);
    ck_assert_str_eq(dm_e2e_jstr(entry(d, "payment-manual"), "file"), want);
    ck_assert_str_eq(dm_e2e_jstr(entry(d, "payment-manual"), "state"), "loaded");
    ck_assert_str_eq(dm_e2e_jstr(entry(d, "auth-local"), "state"), "loaded");
    json_decref(d);
    dm_e2e_response_free(&res);
    free(tok);
    char *log = dm_e2e_server_log(&dm_e2e_auth_srv);
    char line[1200];
    snprintf(line, sizeof line, "plugin payment-manual: %s/payment-manual.so overrides %s/payment-manual.so", later,
             getenv("DERMAGA_TEST_PLUGIN_DIR"));
    ck_assert_msg(strstr(log, line) != NULL, "the override must be logged naming both paths:\n%s", log);
    free(log);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("admin_plugins");
    TCase *tc = tcase_create("listing");
    tcase_add_unchecked_fixture(tc, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, admins_see_every_enabled_plugin);
    tcase_add_test(tc, administrators_only);
    suite_add_tcase(s, tc);
    TCase *dirs = tcase_create("dirs");
    tcase_add_unchecked_fixture(dirs, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(dirs, setup_dirs, teardown_dirs);
    tcase_set_timeout(dirs, 60);
    tcase_add_test(dirs, a_later_plugin_folder_wins);
    suite_add_tcase(s, dirs);
    return s;
}

DM_TEST_MAIN(make_suite)
