/*
 * test_plugin_config.c — a plugin's declared config keys: the table's own
 * checks, and validation of an operator's config block against it (unknown
 * keys, wrong types, missing required keys, defaults filled, values never
 * echoed in messages).
 */
#include <string.h>

#include "dm_test.h"

#include "plugin/config_check.h"

static const dm_plugin_conf_key_t keys[] = {
    { "server_key", DM_CONF_SECRET, DM_CONF_REQUIRED, NULL, "gateway key" },
    { "mode", DM_CONF_STRING, 0, "\"sandbox\"", "sandbox or production" },
    { "timeout_ms", DM_CONF_INT, 0, "5000", "HTTP timeout" },
    { "verbose", DM_CONF_BOOL, 0, "false", "log more" },
    { "labels", DM_CONF_OBJECT, 0, "{\"team\":\"ops\"}", "extra labels" },
    { "methods", DM_CONF_ARRAY, 0, "[\"qris\"]", "methods offered" },
    { "note", DM_CONF_STRING, 0, NULL, "optional, no default" },
    DM_CONF_END
};

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    ck_assert_msg(j != NULL, "bad test JSON: %s", e.text);
    return j;
}

/* Apply keys to `text`; expect a refusal whose message contains `want`. */
static void expect_refused(const char *text, const char *want)
{
    json_t *given = parse(text);
    json_t *out = (json_t *)1;
    dm_err_t err;
    dm_err_clear(&err);
    int rc = dm__plugin_conf_apply(keys, given, &out, &err);
    ck_assert_msg(rc == DM_EINVAL, "%s: want DM_EINVAL, got %d", text, rc);
    ck_assert_msg(out == NULL, "%s: *out must be NULL on refusal", text);
    ck_assert_msg(strstr(err.msg, want) != NULL, "%s: message \"%s\", want \"%s\"", text, err.msg, want);
    json_decref(given);
}

static json_t *expect_ok(const dm_plugin_conf_key_t *k, const char *text)
{
    json_t *given = text != NULL ? parse(text) : NULL;
    json_t *out = NULL;
    dm_err_t err;
    dm_err_clear(&err);
    int rc = dm__plugin_conf_apply(k, given, &out, &err);
    ck_assert_msg(rc == 0, "%s: refused: %s", text != NULL ? text : "(null)", err.msg);
    ck_assert_msg(json_is_object(out), "result must be an object");
    json_decref(given);
    return out;
}

/* ---- validating a config block ---- */

START_TEST(fills_defaults_of_every_type)
{
    json_t *out = expect_ok(keys, "{\"server_key\":\"sk\"}");
    ck_assert_str_eq(json_string_value(json_object_get(out, "server_key")), "sk");
    ck_assert_str_eq(json_string_value(json_object_get(out, "mode")), "sandbox");
    ck_assert_int_eq(json_integer_value(json_object_get(out, "timeout_ms")), 5000);
    ck_assert_msg(json_is_false(json_object_get(out, "verbose")), "bool default");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "labels"), "team")), "ops");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(out, "methods"), 0)), "qris");
    ck_assert_msg(json_object_get(out, "note") == NULL, "a key without default stays absent");
    json_decref(out);
}
END_TEST

START_TEST(keeps_given_values_over_defaults)
{
    json_t *out = expect_ok(keys, "{\"server_key\":\"sk\",\"mode\":\"production\",\"timeout_ms\":10,"
                                  "\"verbose\":true,\"labels\":{},\"methods\":[],\"note\":\"n\"}");
    ck_assert_str_eq(json_string_value(json_object_get(out, "mode")), "production");
    ck_assert_int_eq(json_integer_value(json_object_get(out, "timeout_ms")), 10);
    ck_assert_msg(json_is_true(json_object_get(out, "verbose")), "given bool kept");
    ck_assert_uint_eq(json_object_size(json_object_get(out, "labels")), 0);
    ck_assert_uint_eq(json_array_size(json_object_get(out, "methods")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(out, "note")), "n");
    json_decref(out);
}
END_TEST

START_TEST(result_is_a_copy)
{
    json_t *given = parse("{\"server_key\":\"sk\"}");
    json_t *out = NULL;
    ck_assert_int_eq(dm__plugin_conf_apply(keys, given, &out, NULL), 0);
    ck_assert_msg(out != given, "the caller's object must not be returned");
    ck_assert_msg(json_object_get(given, "mode") == NULL, "defaults must not be written into the input");
    json_decref(given);
    json_decref(out);
}
END_TEST

START_TEST(refuses_unknown_key)
{
    expect_refused("{\"server_key\":\"sk\",\"sever_key\":\"typo\"}", "config: unknown key 'sever_key'");
}
END_TEST

START_TEST(refuses_wrong_types)
{
    expect_refused("{\"server_key\":\"sk\",\"timeout_ms\":\"5000\"}", "key 'timeout_ms' must be int, got string");
    expect_refused("{\"server_key\":\"sk\",\"timeout_ms\":1.5}", "key 'timeout_ms' must be int, got real");
    expect_refused("{\"server_key\":\"sk\",\"verbose\":1}", "key 'verbose' must be bool, got int");
    expect_refused("{\"server_key\":\"sk\",\"mode\":7}", "key 'mode' must be string, got int");
    expect_refused("{\"server_key\":\"sk\",\"labels\":[]}", "key 'labels' must be object, got array");
    expect_refused("{\"server_key\":\"sk\",\"methods\":{}}", "key 'methods' must be array, got object");
    expect_refused("{\"server_key\":\"sk\",\"mode\":null}", "key 'mode' must be string, got null");
    expect_refused("{\"server_key\":42}", "key 'server_key' must be secret, got int");
}
END_TEST

START_TEST(refuses_missing_required_key)
{
    expect_refused("{\"mode\":\"sandbox\"}", "config: missing required key 'server_key' (secret)");
}
END_TEST

START_TEST(refuses_non_object)
{
    expect_refused("[]", "config: must be a JSON object, got array");
    expect_refused("\"x\"", "config: must be a JSON object, got string");
}
END_TEST

START_TEST(messages_never_echo_values)
{
    json_t *given = parse("{\"server_key\":\"hunter2-secret\",\"timeout_ms\":\"hunter3-value\"}");
    json_t *out = NULL;
    dm_err_t err;
    ck_assert_int_eq(dm__plugin_conf_apply(keys, given, &out, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "hunter") == NULL, "message leaks a value: %s", err.msg);
    json_decref(given);
}
END_TEST

START_TEST(null_config_means_empty_object)
{
    static const dm_plugin_conf_key_t opt[] = {
        { "image", DM_CONF_STRING, 0, "\"redis:7\"", NULL },
        DM_CONF_END
    };
    json_t *out = expect_ok(opt, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(out, "image")), "redis:7");
    json_decref(out);
}
END_TEST

START_TEST(no_table_accepts_no_keys)
{
    json_t *out = expect_ok(NULL, "{}");
    ck_assert_uint_eq(json_object_size(out), 0);
    json_decref(out);
    json_t *given = parse("{\"anything\":1}");
    dm_err_t err;
    ck_assert_int_eq(dm__plugin_conf_apply(NULL, given, &out, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "unknown key 'anything'") != NULL, "message: %s", err.msg);
    json_decref(given);
}
END_TEST

/* ---- checking the table itself ---- */

static void expect_bad_table(const dm_plugin_conf_key_t *t, const char *want)
{
    dm_err_t err;
    dm_err_clear(&err);
    ck_assert_int_eq(dm__plugin_conf_table_check(t, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, want) != NULL, "message \"%s\", want \"%s\"", err.msg, want);
}

START_TEST(accepts_good_tables)
{
    dm_err_t err;
    ck_assert_int_eq(dm__plugin_conf_table_check(keys, &err), 0);
    ck_assert_int_eq(dm__plugin_conf_table_check(NULL, &err), 0);
}
END_TEST

START_TEST(table_default_must_match_type)
{
    static const dm_plugin_conf_key_t t1[] = { { "port", DM_CONF_INT, 0, "\"80\"", NULL }, DM_CONF_END };
    static const dm_plugin_conf_key_t t2[] = { { "key", DM_CONF_SECRET, 0, "12", NULL }, DM_CONF_END };
    expect_bad_table(t1, "default of key 'port' is not of type int");
    expect_bad_table(t2, "default of key 'key' is not of type secret");
}
END_TEST

START_TEST(table_default_must_be_json)
{
    static const dm_plugin_conf_key_t t[] = { { "mode", DM_CONF_STRING, 0, "sandbox", NULL }, DM_CONF_END };
    expect_bad_table(t, "default of key 'mode' is not valid JSON");
}
END_TEST

START_TEST(table_required_key_has_no_default)
{
    static const dm_plugin_conf_key_t t[] = {
        { "k", DM_CONF_STRING, DM_CONF_REQUIRED, "\"x\"", NULL }, DM_CONF_END
    };
    expect_bad_table(t, "required key 'k' has a default");
}
END_TEST

START_TEST(table_rejects_duplicates_bad_names_types_flags)
{
    static const dm_plugin_conf_key_t dup[] = {
        { "a", DM_CONF_STRING, 0, NULL, NULL }, { "a", DM_CONF_INT, 0, NULL, NULL }, DM_CONF_END
    };
    static const dm_plugin_conf_key_t name[] = { { "Bad-Key", DM_CONF_STRING, 0, NULL, NULL }, DM_CONF_END };
    static const dm_plugin_conf_key_t empty[] = { { "", DM_CONF_STRING, 0, NULL, NULL }, DM_CONF_END };
    static const dm_plugin_conf_key_t type[] = { { "a", 99, 0, NULL, NULL }, DM_CONF_END };
    static const dm_plugin_conf_key_t flags[] = { { "a", DM_CONF_STRING, 0x80, NULL, NULL }, DM_CONF_END };
    static const dm_plugin_conf_key_t doc[] = { { "a", DM_CONF_STRING, 0, NULL, "bad \xff utf8" }, DM_CONF_END };
    expect_bad_table(dup, "key 'a' is declared twice");
    expect_bad_table(name, "entry 0 has an invalid key name");
    expect_bad_table(empty, "entry 0 has an invalid key name");
    expect_bad_table(type, "key 'a' has unknown type 99");
    expect_bad_table(flags, "key 'a' has unknown flags 0x80");
    expect_bad_table(doc, "doc of key 'a' is not valid UTF-8");
}
END_TEST

START_TEST(table_must_be_terminated)
{
    static dm_plugin_conf_key_t t[DM_PLUGIN_CONF_MAX_KEYS + 1];
    static char names[DM_PLUGIN_CONF_MAX_KEYS + 1][8];
    for (size_t i = 0; i <= DM_PLUGIN_CONF_MAX_KEYS; i++) {
        snprintf(names[i], sizeof names[i], "k%zu", i);
        t[i] = (dm_plugin_conf_key_t){ names[i], DM_CONF_STRING, 0, NULL, NULL };
    }
    expect_bad_table(t, "no DM_CONF_END within 256 entries");
    /* The same table ended one entry earlier is fine: the limit is the
     * terminator's position, not a cap on real tables. */
    t[DM_PLUGIN_CONF_MAX_KEYS - 1].key = NULL;
    dm_err_t err;
    ck_assert_msg(dm__plugin_conf_table_check(t, &err) == 0, "255 keys refused: %s", err.msg);
}
END_TEST

START_TEST(table_as_json_for_operators)
{
    json_t *j = dm__plugin_conf_table_json(keys);
    ck_assert_uint_eq(json_array_size(j), 7);
    json_t *k0 = json_array_get(j, 0);
    ck_assert_str_eq(json_string_value(json_object_get(k0, "key")), "server_key");
    ck_assert_str_eq(json_string_value(json_object_get(k0, "type")), "secret");
    ck_assert_msg(json_is_true(json_object_get(k0, "required")), "required flag");
    ck_assert_msg(json_object_get(k0, "default") == NULL, "no default shown for a required key");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(j, 2), "default")), 5000);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 1), "default")), "sandbox");
    json_decref(j);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("plugin_config");
    TCase *a = tcase_create("apply");
    tcase_add_test(a, fills_defaults_of_every_type);
    tcase_add_test(a, keeps_given_values_over_defaults);
    tcase_add_test(a, result_is_a_copy);
    tcase_add_test(a, refuses_unknown_key);
    tcase_add_test(a, refuses_wrong_types);
    tcase_add_test(a, refuses_missing_required_key);
    tcase_add_test(a, refuses_non_object);
    tcase_add_test(a, messages_never_echo_values);
    tcase_add_test(a, null_config_means_empty_object);
    tcase_add_test(a, no_table_accepts_no_keys);
    suite_add_tcase(s, a);
    TCase *t = tcase_create("table");
    tcase_add_test(t, accepts_good_tables);
    tcase_add_test(t, table_default_must_match_type);
    tcase_add_test(t, table_default_must_be_json);
    tcase_add_test(t, table_required_key_has_no_default);
    tcase_add_test(t, table_rejects_duplicates_bad_names_types_flags);
    tcase_add_test(t, table_must_be_terminated);
    tcase_add_test(t, table_as_json_for_operators);
    suite_add_tcase(s, t);
    return s;
}

DM_TEST_MAIN(make_suite)
