/*
 * test_plugin_report.c — `dermaga plugins`: for a directory and a config,
 * what would load and the exact reason for what would not, without
 * running any plugin's init and without logging; and its text form.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "dm_test.h"
#include "../plugins/fixtures.h"

#include "plugin/registry.h"

/* The report entry whose file ends in "/<stem>.so" (or configName is stem). */
static json_t *entry_for(json_t *report, const char *stem)
{
    size_t i;
    json_t *e;
    char tail[256];
    snprintf(tail, sizeof tail, "/%s.so", stem);
    json_array_foreach(report, i, e) {
        const char *f = json_string_value(json_object_get(e, "file"));
        if (f != NULL && strlen(f) >= strlen(tail) && strcmp(f + strlen(f) - strlen(tail), tail) == 0)
            return e;
    }
    ck_abort_msg("no report entry for %s", stem);
    return NULL;
}

static void expect_status(json_t *report, const char *stem, const char *status, const char *reason)
{
    json_t *e = entry_for(report, stem);
    const char *st = json_string_value(json_object_get(e, "status"));
    const char *why = json_string_value(json_object_get(e, "reason"));
    ck_assert_msg(st != NULL && strcmp(st, status) == 0, "%s: status %s, want %s (reason: %s)", stem,
                  st, status, why != NULL ? why : "none");
    ck_assert_msg(json_is_true(json_object_get(e, "wouldLoad")) == (strcmp(status, "ok") == 0),
                  "%s: wouldLoad disagrees with status %s", stem, status);
    if (reason != NULL)
        ck_assert_msg(why != NULL && strstr(why, reason) != NULL, "%s: reason \"%s\", want \"%s\"",
                      stem, why != NULL ? why : "(none)", reason);
}

typedef struct scene {
    char    dir[512];
    json_t *report;
    char   *log;
} scene;

static void run_report(scene *s, const char *config_text)
{
    json_t *plugins = config_text != NULL ? fx_json(config_text) : NULL;
    fx_capture cap;
    fx_capture_start(&cap);
    s->report = dm__plugins_report(s->dir, plugins);
    s->log = fx_capture_end(&cap);
    json_decref(plugins);
    ck_assert_msg(json_is_array(s->report), "report is not an array");
}

static void end_scene(scene *s)
{
    json_decref(s->report);
    free(s->log);
    fx_rmdir(s->dir);
}

static const char *mixed_config =
    "[{\"name\":\"payment-good\",\"config\":{\"server_key\":\"sk\"}},"
    " {\"name\":\"dup_a\"}, {\"name\":\"dup_b\"},"
    " {\"name\":\"init_fails\"},"
    " {\"name\":\"good_service\",\"config\":{\"nope\":1}},"
    " {\"name\":\"absent\"},"
    " {\"name\":\"good_auth\",\"enabled\":false}]";

static void mixed_scene(scene *s)
{
    fx_mkdtemp(s->dir, sizeof s->dir);
    const char *files[] = { "payment-good", "variant_ok", "bad_magic", "dup_a", "dup_b",
                            "init_fails", "good_service", "good_auth" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        fx_install(s->dir, files[i]);
    fx_install_as(s->dir, "variant_ok", "Bad Name");
    run_report(s, mixed_config);
}

START_TEST(reports_each_file_with_its_fate)
{
    scene s;
    mixed_scene(&s);
    expect_status(s.report, "payment-good", "ok", NULL);
    expect_status(s.report, "dup_a", "ok", NULL);
    expect_status(s.report, "dup_b", "refused", "duplicate name 'payment-dup' (already loaded from");
    /* init runs as a start would run it, so a plugin whose init fails says so */
    expect_status(s.report, "init_fails", "refused", "init failed: ");
    expect_status(s.report, "good_service", "refused", "config: unknown key 'nope'");
    expect_status(s.report, "absent", "refused", "file not found");
    expect_status(s.report, "good_auth", "disabled", "not enabled in the config");
    expect_status(s.report, "variant_ok", "disabled", NULL);
    expect_status(s.report, "bad_magic", "refused", "bad magic 0xdeadbeef");
    expect_status(s.report, "Bad Name", "refused", "file name is not a plugin name");
    ck_assert_uint_eq(json_array_size(s.report), 10);
    end_scene(&s);
}
END_TEST

START_TEST(enabled_entries_come_first_in_config_order)
{
    scene s;
    mixed_scene(&s);
    const char *want[] = { "payment-good", "dup_a", "dup_b", "init_fails", "good_service", "absent",
                           /* then the rest by file name (C locale) */
                           "Bad Name", "bad_magic", "good_auth", "variant_ok" };
    for (size_t i = 0; i < 10; i++) {
        const char *cn = json_string_value(json_object_get(json_array_get(s.report, i), "configName"));
        ck_assert_msg(cn != NULL && strcmp(cn, want[i]) == 0, "entry %zu is %s, want %s", i, cn, want[i]);
    }
    end_scene(&s);
}
END_TEST

START_TEST(describes_plugins_and_their_config_keys)
{
    scene s;
    mixed_scene(&s);
    json_t *e = entry_for(s.report, "payment-good");
    ck_assert_str_eq(json_string_value(json_object_get(e, "name")), "payment-good");
    ck_assert_str_eq(json_string_value(json_object_get(e, "kind")), "payment");
    ck_assert_str_eq(json_string_value(json_object_get(e, "version")), "1.0.0");
    char abi[16]; /* fixtures are built with this tree's SDK headers */
    snprintf(abi, sizeof abi, "%d.%d", DM_PLUGIN_ABI_MAJOR, DM_PLUGIN_ABI_MINOR);
    ck_assert_str_eq(json_string_value(json_object_get(e, "abi")), abi);
    ck_assert_msg(json_is_true(json_object_get(e, "enabled")), "enabled flag");
    json_t *k0 = json_array_get(json_object_get(e, "config"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(k0, "key")), "server_key");
    ck_assert_str_eq(json_string_value(json_object_get(k0, "type")), "secret");
    ck_assert_msg(json_object_get(entry_for(s.report, "bad_magic"), "name") == NULL,
                  "a refused descriptor must not be described");
    end_scene(&s);
}
END_TEST

START_TEST(runs_init_of_enabled_plugins_and_logs_no_refusal)
{
    scene s;
    mixed_scene(&s);
    ck_assert_msg(strstr(s.log, "ready in") != NULL, "payment-good's init did not run:\n%s", s.log);
    ck_assert_msg(strstr(s.log, "refused") == NULL, "the report logged a refusal:\n%s", s.log);
    end_scene(&s);
}
END_TEST

START_TEST(unsafe_directory_refuses_everything)
{
    scene s;
    fx_mkdtemp(s.dir, sizeof s.dir);
    fx_install(s.dir, "variant_ok");
    ck_assert_msg(chmod(s.dir, 0770) == 0, "chmod failed");
    run_report(&s, "[{\"name\":\"variant_ok\"}]");
    ck_assert_uint_eq(json_array_size(s.report), 1);
    expect_status(s.report, "variant_ok", "refused",
                  "plugin directory is writable by group or others (mode 0770)");
    end_scene(&s);
}
END_TEST

START_TEST(no_config_lists_everything_as_disabled)
{
    scene s;
    fx_mkdtemp(s.dir, sizeof s.dir);
    fx_install(s.dir, "variant_ok");
    fx_install(s.dir, "good_auth");
    run_report(&s, NULL);
    ck_assert_uint_eq(json_array_size(s.report), 2);
    expect_status(s.report, "variant_ok", "disabled", NULL);
    expect_status(s.report, "good_auth", "disabled", NULL);
    end_scene(&s);
}
END_TEST

START_TEST(writes_a_readable_report)
{
    scene s;
    mixed_scene(&s);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_msg(f != NULL, "open_memstream failed");
    ck_assert_int_eq(dm__plugins_report_write(f, s.report), 0);
    fclose(f);
    char abi[64];
    snprintf(abi, sizeof abi, "payment-good 1.0.0 (payment, ABI %d.%d)", DM_PLUGIN_ABI_MAJOR,
             DM_PLUGIN_ABI_MINOR);
    const char *want[] = { abi, "would load",
                           "REFUSED: bad magic 0xdeadbeef", "not loaded: not enabled in the config",
                           "config server_key: secret, required — server key from the gateway dashboard",
                           "config timeout_ms: int, default 5000", "DM_BUILD_SIGNATURE_STR" };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(text, want[i]) != NULL, "no \"%s\" in:\n%s", want[i], text);
    free(text);
    end_scene(&s);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("plugin_report");
    TCase *t = tcase_create("report");
    tcase_add_test(t, reports_each_file_with_its_fate);
    tcase_add_test(t, enabled_entries_come_first_in_config_order);
    tcase_add_test(t, describes_plugins_and_their_config_keys);
    tcase_add_test(t, runs_init_of_enabled_plugins_and_logs_no_refusal);
    tcase_add_test(t, unsafe_directory_refuses_everything);
    tcase_add_test(t, no_config_lists_everything_as_disabled);
    tcase_add_test(t, writes_a_readable_report);
    suite_add_tcase(s, t);
    return s;
}

DM_TEST_MAIN(make_suite)
