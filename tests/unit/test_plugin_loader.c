/*
 * test_plugin_loader.c — the plugin loader and registry: every refusal
 * (each with the fixture from tests/plugins/ that provokes it, checking the
 * recorded reason and the log line), and the good path: loaded, ops copied
 * and zero-extended, lookups, the admin listing, fini on free.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dm_test.h"
#include "../plugins/fixtures.h"

#include "plugin/host_api.h"
#include "plugin/registry.h"

/* ---- helpers ---- */

typedef struct loaded {
    char           dir[512];
    dm_plugin_set *set;
    char          *log;
} loaded;

/* Load `config_text` (a plugins array) from l->dir, capturing the log. */
static void load(loaded *l, const char *config_text)
{
    json_t *plugins = fx_json(config_text);
    l->set = dm__plugins_new();
    ck_assert_msg(l->set != NULL, "dm__plugins_new failed");
    fx_capture cap;
    fx_capture_start(&cap);
    dm_err_t err;
    dm_err_clear(&err);
    int rc = dm__plugins_load(l->set, l->dir, plugins, &err);
    l->log = fx_capture_end(&cap);
    json_decref(plugins);
    ck_assert_msg(rc == 0, "dm__plugins_load returned %d (%s); refusals must not fail the load",
                  rc, err.msg);
}

static void unload(loaded *l)
{
    dm__plugins_free(l->set);
    free(l->log);
    fx_rmdir(l->dir);
}

static const char *refusal_field(const loaded *l, size_t i, const char *field)
{
    return json_string_value(json_object_get(json_array_get(dm__plugins_refusals(l->set), i), field));
}

/* The i-th refusal names <dir>/<file>.so and a reason containing `reason`,
 * and the log has "refused <dir>/<file>.so: <reason…>". */
static void check_refusal(const loaded *l, size_t i, const char *file, const char *reason)
{
    char path[1024], line[2048];
    snprintf(path, sizeof path, "%s/%s.so", l->dir, file);
    const char *why = refusal_field(l, i, "reason");
    const char *rfile = refusal_field(l, i, "file");
    ck_assert_msg(why != NULL && strstr(why, reason) != NULL,
                  "refusal %zu of %s: reason \"%s\", want it to contain \"%s\"", i, file,
                  why != NULL ? why : "(none)", reason);
    ck_assert_msg(rfile != NULL && strcmp(rfile, path) == 0, "refusal %zu names file %s, want %s", i,
                  rfile != NULL ? rfile : "(none)", path);
    snprintf(line, sizeof line, "refused %s: %s", path, reason);
    ck_assert_msg(fx_log_has(l->log, "plugin", line), "no log line containing \"%s\" in:\n%s", line,
                  l->log);
}

/* Install `fixture` alone, enable it with `config` (JSON text or NULL),
 * and expect exactly one refusal whose reason contains `reason`. */
static void expect_refused(const char *fixture, const char *config, const char *reason)
{
    loaded l;
    fx_mkdtemp(l.dir, sizeof l.dir);
    fx_install(l.dir, fixture);
    char text[1024];
    snprintf(text, sizeof text, "[{\"name\":\"%s\",\"enabled\":true,\"config\":%s}]", fixture,
             config != NULL ? config : "{}");
    load(&l, text);
    ck_assert_msg(dm__plugins_count(l.set) == 0, "%s was loaded but must be refused", fixture);
    ck_assert_msg(json_array_size(dm__plugins_refusals(l.set)) == 1, "%s: want 1 refusal, got %zu",
                  fixture, json_array_size(dm__plugins_refusals(l.set)));
    check_refusal(&l, 0, fixture, reason);
    unload(&l);
}

/* Install `fixture` alone, enable it, and expect it loaded. */
static void expect_loaded(const char *fixture)
{
    loaded l;
    fx_mkdtemp(l.dir, sizeof l.dir);
    fx_install(l.dir, fixture);
    char text[256];
    snprintf(text, sizeof text, "[{\"name\":\"%s\"}]", fixture);
    load(&l, text);
    ck_assert_msg(dm__plugins_count(l.set) == 1, "%s refused: %s", fixture, refusal_field(&l, 0, "reason"));
    unload(&l);
}

/* A path for a fini marker file that does not exist yet. */
static void temp_marker(char *out, size_t len)
{
    snprintf(out, len, "/tmp/dm-fini-XXXXXX");
    int fd = mkstemp(out);
    ck_assert_msg(fd >= 0, "mkstemp failed");
    close(fd);
    unlink(out);
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* ---- one refusal per fixture ---- */

START_TEST(refuses_missing_entry_symbol)
{
    expect_refused("no_entry", NULL, "no entry symbol dermaga_plugin_entry");
}
END_TEST

START_TEST(refuses_entry_returning_null)
{
    expect_refused("entry_null", NULL, "dermaga_plugin_entry returned NULL");
}
END_TEST

START_TEST(refuses_bad_magic)
{
    expect_refused("bad_magic", NULL, "bad magic 0xdeadbeef (expected 0x4c504d44)");
}
END_TEST

START_TEST(refuses_abi_major_mismatch)
{
    char want[128];
    snprintf(want, sizeof want, "ABI major %d, host speaks %d", DM_PLUGIN_ABI_MAJOR + 1,
             DM_PLUGIN_ABI_MAJOR);
    expect_refused("abi_major", NULL, want);
}
END_TEST

START_TEST(refuses_newer_abi_minor)
{
    char want[128];
    snprintf(want, sizeof want, "ABI minor: plugin needs %d.%d, newer than the host's %d.%d",
             DM_PLUGIN_ABI_MAJOR, DM_PLUGIN_ABI_MINOR + 1, DM_PLUGIN_ABI_MAJOR, DM_PLUGIN_ABI_MINOR);
    expect_refused("abi_minor_newer", NULL, want);
}
END_TEST

START_TEST(refuses_small_descriptor)
{
    char want[128];
    snprintf(want, sizeof want, "descriptor is 16 bytes, ABI %d.0 needs at least %zu",
             DM_PLUGIN_ABI_MAJOR, (size_t)DM_PLUGIN_INFO_SIZE_1_0);
    expect_refused("small_descriptor", NULL, want);
}
END_TEST

START_TEST(refuses_build_signature_mismatch)
{
    expect_refused("bad_signature", NULL,
                   "build signature \"not-the-host\" does not match the host's \"" DM_PLUGIN_BUILD_SIGNATURE "\"");
}
END_TEST

START_TEST(refuses_missing_build_signature)
{
    expect_refused("no_signature", NULL, "no build signature");
}
END_TEST

START_TEST(refuses_invalid_name)
{
    expect_refused("bad_name", NULL, "invalid name \"Bad/Name\"");
}
END_TEST

START_TEST(refuses_missing_version)
{
    expect_refused("no_version", NULL, "missing or invalid version");
}
END_TEST

START_TEST(refuses_unknown_kind)
{
    expect_refused("bad_kind", NULL, "unknown kind 9");
}
END_TEST

START_TEST(refuses_missing_ops_table)
{
    expect_refused("no_ops", NULL, "no ops table");
}
END_TEST

START_TEST(refuses_small_ops_table)
{
    char want[128];
    snprintf(want, sizeof want, "ops table is 8 bytes, a payment plugin needs at least %zu",
             (size_t)DM_PAYMENT_OPS_MIN_SIZE);
    expect_refused("small_ops", NULL, want);
}
END_TEST

START_TEST(refuses_ops_table_larger_than_host)
{
    char want[160];
    snprintf(want, sizeof want, "ops table is %zu bytes, more than the %zu of a payment table",
             sizeof(dm_payment_ops_t) + 8, sizeof(dm_payment_ops_t));
    expect_refused("big_ops", NULL, want);
}
END_TEST

START_TEST(refuses_null_required_op)
{
    expect_refused("null_required_op", NULL, "required payment op 'create' is NULL");
}
END_TEST

START_TEST(refuses_broken_config_table)
{
    expect_refused("bad_conf_table", NULL, "config table: default of key 'port' is not of type int");
}
END_TEST

START_TEST(refuses_init_failure)
{
    expect_refused("init_fails", NULL, "init failed: fixture init refuses on purpose (code -6)");
}
END_TEST

START_TEST(refuses_unknown_config_key_before_init)
{
    expect_refused("payment-good", "{\"server_key\":\"sk\",\"bogus\":1}", "config: unknown key 'bogus'");
}
END_TEST

START_TEST(refuses_wrong_config_type)
{
    expect_refused("payment-good", "{\"server_key\":\"sk\",\"timeout_ms\":\"5\"}",
                   "config: key 'timeout_ms' must be int, got string");
}
END_TEST

START_TEST(refuses_missing_required_config_key)
{
    expect_refused("payment-good", "{}", "config: missing required key 'server_key' (secret)");
}
END_TEST

START_TEST(refuses_config_that_is_not_an_object)
{
    expect_refused("payment-good", "[1]", "config: must be a JSON object, got array");
}
END_TEST

START_TEST(bad_config_never_reaches_init)
{
    loaded l;
    fx_mkdtemp(l.dir, sizeof l.dir);
    fx_install(l.dir, "payment-good");
    load(&l, "[{\"name\":\"payment-good\",\"config\":{\"server_key\":\"sk\",\"bogus\":true}}]");
    ck_assert_msg(dm__plugins_count(l.set) == 0, "plugin with an unknown key was loaded");
    ck_assert_msg(strstr(l.log, "ready in") == NULL, "init ran despite a bad config:\n%s", l.log);
    unload(&l);
}
END_TEST

START_TEST(refuses_missing_file)
{
    loaded l;
    fx_mkdtemp(l.dir, sizeof l.dir);
    load(&l, "[{\"name\":\"absent\"}]");
    check_refusal(&l, 0, "absent", "file not found");
    unload(&l);
}
END_TEST

START_TEST(refuses_file_dlopen_cannot_load)
{
    loaded l;
    fx_mkdtemp(l.dir, sizeof l.dir);
    char p[1024];
    snprintf(p, sizeof p, "%s/garbage.so", l.dir);
    FILE *f = fopen(p, "w");
    ck_assert_msg(f != NULL, "cannot create %s", p);
    fputs("not an ELF file\n", f);
    fclose(f);
    chmod(p, 0755);
    load(&l, "[{\"name\":\"garbage\"}]");
    ck_assert_msg(dm__plugins_count(l.set) == 0, "garbage was loaded");
    check_refusal(&l, 0, "garbage", "dlopen failed: ");
    unload(&l);
}
END_TEST

/* ---- duplicates ---- */

START_TEST(refuses_second_plugin_claiming_a_name)
{
    loaded l;
    fx_mkdtemp(l.dir, sizeof l.dir);
    fx_install(l.dir, "dup_a");
    fx_install(l.dir, "dup_b");
    load(&l, "[{\"name\":\"dup_a\"},{\"name\":\"dup_b\"}]");
    ck_assert_msg(dm__plugins_count(l.set) == 1, "want dup_a loaded alone, got %zu",
                  dm__plugins_count(l.set));
    char first[1024];
    snprintf(first, sizeof first, "%s/dup_a.so", l.dir);
    ck_assert_str_eq(dm__plugins_at(l.set, 0)->name, "payment-dup");
    ck_assert_str_eq(dm__plugins_at(l.set, 0)->file, first);
    char want[1024];
    snprintf(want, sizeof want, "duplicate name 'payment-dup' (already loaded from %s/dup_a.so)", l.dir);
    check_refusal(&l, 0, "dup_b", want);
    unload(&l);
}
END_TEST

START_TEST(refuses_same_entry_listed_twice)
{
    loaded l;
    fx_mkdtemp(l.dir, sizeof l.dir);
    fx_install(l.dir, "variant_ok");
    load(&l, "[{\"name\":\"variant_ok\"},{\"name\":\"variant_ok\"}]");
    ck_assert_msg(dm__plugins_count(l.set) == 1, "want one copy loaded, got %zu",
                  dm__plugins_count(l.set));
    check_refusal(&l, 0, "variant_ok", "duplicate name 'payment-variant_ok'");
    unload(&l);
}
END_TEST

/* ---- permissions ---- */

static void expect_mode_refused(mode_t file_mode, mode_t dir_mode, const char *reason)
{
    loaded l;
    fx_mkdtemp(l.dir, sizeof l.dir);
    fx_install(l.dir, "variant_ok");
    char p[1024];
    snprintf(p, sizeof p, "%s/variant_ok.so", l.dir);
    ck_assert_msg(chmod(p, file_mode) == 0 && chmod(l.dir, dir_mode) == 0, "chmod failed");
    load(&l, "[{\"name\":\"variant_ok\"}]");
    ck_assert_msg(dm__plugins_count(l.set) == 0, "loaded despite file %04o dir %04o",
                  (unsigned)file_mode, (unsigned)dir_mode);
    check_refusal(&l, 0, "variant_ok", reason);
    unload(&l);
}

START_TEST(refuses_group_writable_file)
{
    expect_mode_refused(0775, 0700, "file is writable by group or others (mode 0775)");
}
END_TEST

START_TEST(refuses_other_writable_file)
{
    expect_mode_refused(0757, 0700, "file is writable by group or others (mode 0757)");
}
END_TEST

START_TEST(refuses_group_writable_directory)
{
    expect_mode_refused(0755, 0770, "plugin directory is writable by group or others (mode 0770)");
}
END_TEST

START_TEST(refuses_other_writable_directory)
{
    expect_mode_refused(0755, 01777, "plugin directory is writable by group or others (mode 1777)");
}
END_TEST

START_TEST(same_fixture_loads_with_safe_modes)
{
    /* The control for the permission tests: 0755 file in a 0700 dir loads. */
    expect_loaded("variant_ok");
}
END_TEST

START_TEST(refuses_symlinked_file)
{
    loaded l;
    fx_mkdtemp(l.dir, sizeof l.dir);
    fx_install(l.dir, "variant_ok");
    char target[1024], link_path[1024];
    snprintf(target, sizeof target, "%s/variant_ok.so", l.dir);
    snprintf(link_path, sizeof link_path, "%s/linked.so", l.dir);
    ck_assert_msg(symlink(target, link_path) == 0, "symlink failed: %s", strerror(errno));
    load(&l, "[{\"name\":\"linked\"}]");
    ck_assert_msg(dm__plugins_count(l.set) == 0, "a symlinked plugin was loaded");
    check_refusal(&l, 0, "linked", "file is a symbolic link");
    unload(&l);
}
END_TEST

START_TEST(refuses_file_owned_by_someone_else)
{
    if (geteuid() != 0)
        return; /* only root can give a file away; CI runs this as root */
    loaded l;
    fx_mkdtemp(l.dir, sizeof l.dir);
    fx_install(l.dir, "variant_ok");
    char p[1024];
    snprintf(p, sizeof p, "%s/variant_ok.so", l.dir);
    ck_assert_msg(chown(p, 65534, 65534) == 0, "chown failed: %s", strerror(errno));
    load(&l, "[{\"name\":\"variant_ok\"}]");
    ck_assert_msg(dm__plugins_count(l.set) == 0, "a file owned by uid 65534 was loaded");
    check_refusal(&l, 0, "variant_ok", "file is owned by uid 65534, neither root nor uid 0");
    unload(&l);
}
END_TEST

START_TEST(refuses_everything_in_a_missing_directory)
{
    loaded l;
    fx_mkdtemp(l.dir, sizeof l.dir);
    fx_rmdir(l.dir);
    load(&l, "[{\"name\":\"variant_ok\"}]");
    check_refusal(&l, 0, "variant_ok", "plugin directory does not exist");
    unload(&l);
}
END_TEST

/* ---- config entries ---- */

START_TEST(refuses_malformed_config_entries)
{
    loaded l;
    fx_mkdtemp(l.dir, sizeof l.dir);
    fx_install(l.dir, "variant_ok");
    load(&l, "[42, {\"enabled\":true}, {\"name\":\"../variant_ok\"},"
             " {\"name\":\"variant_ok\",\"enabled\":\"yes\"}]");
    ck_assert_msg(dm__plugins_count(l.set) == 0, "a malformed entry loaded a plugin");
    ck_assert_msg(json_array_size(dm__plugins_refusals(l.set)) == 4, "want 4 refusals, got %zu",
                  json_array_size(dm__plugins_refusals(l.set)));
    ck_assert_msg(strstr(refusal_field(&l, 0, "reason"), "not an object") != NULL, "entry 0: %s",
                  refusal_field(&l, 0, "reason"));
    ck_assert_msg(fx_log_has(l.log, "plugin", "refused plugins[2]: config entry has no valid \"name\""),
                  "no log line for the path-traversal name:\n%s", l.log);
    ck_assert_msg(strstr(refusal_field(&l, 3, "reason"), "\"enabled\" is not a boolean") != NULL,
                  "entry 3: %s", refusal_field(&l, 3, "reason"));
    unload(&l);
}
END_TEST

START_TEST(skips_disabled_and_defaults_enabled_to_true)
{
    loaded l;
    fx_mkdtemp(l.dir, sizeof l.dir);
    fx_install(l.dir, "variant_ok");
    fx_install(l.dir, "good_auth");
    load(&l, "[{\"name\":\"variant_ok\",\"enabled\":false},{\"name\":\"good_auth\"}]");
    ck_assert_msg(dm__plugins_count(l.set) == 1, "want only good_auth, got %zu",
                  dm__plugins_count(l.set));
    ck_assert_str_eq(dm__plugins_at(l.set, 0)->name, "good_auth");
    ck_assert_msg(json_array_size(dm__plugins_refusals(l.set)) == 0, "a disabled plugin was refused");
    unload(&l);
}
END_TEST

START_TEST(rejects_plugins_that_is_not_an_array)
{
    dm_plugin_set *set = dm__plugins_new();
    json_t *obj = json_object();
    dm_err_t err;
    ck_assert_int_eq(dm__plugins_load(set, "/nonexistent", obj, &err), DM_EINVAL);
    ck_assert_msg(strstr(err.msg, "must be an array") != NULL, "message: %s", err.msg);
    ck_assert_int_eq(dm__plugins_load(set, "/nonexistent", NULL, &err), 0);
    ck_assert_uint_eq(dm__plugins_count(set), 0);
    json_decref(obj);
    dm__plugins_free(set);
    dm__plugins_free(NULL);
}
END_TEST

START_TEST(carries_on_after_refusals)
{
    loaded l;
    fx_mkdtemp(l.dir, sizeof l.dir);
    fx_install(l.dir, "bad_magic");
    fx_install(l.dir, "good_auth");
    fx_install(l.dir, "abi_major");
    fx_install(l.dir, "good_runtime");
    load(&l, "[{\"name\":\"bad_magic\"},{\"name\":\"good_auth\"},{\"name\":\"abi_major\"},"
             "{\"name\":\"good_runtime\"}]");
    ck_assert_msg(dm__plugins_count(l.set) == 2, "want 2 loaded, got %zu", dm__plugins_count(l.set));
    ck_assert_str_eq(dm__plugins_at(l.set, 0)->name, "good_auth");
    ck_assert_str_eq(dm__plugins_at(l.set, 1)->name, "good_runtime");
    check_refusal(&l, 0, "bad_magic", "bad magic");
    check_refusal(&l, 1, "abi_major", "ABI major");
    unload(&l);
}
END_TEST

/* ---- the good path ---- */

static void load_good_payment(loaded *l, const char *marker)
{
    fx_mkdtemp(l->dir, sizeof l->dir);
    fx_install(l->dir, "payment-good");
    char text[2048];
    snprintf(text, sizeof text,
             "[{\"name\":\"payment-good\",\"enabled\":true,"
             "\"config\":{\"server_key\":\"sk-test\",\"fini_marker\":\"%s\"}}]",
             marker != NULL ? marker : "");
    load(l, text);
    ck_assert_msg(dm__plugins_count(l->set) == 1, "payment-good refused: %s",
                  refusal_field(l, 0, "reason"));
}

START_TEST(loads_good_plugin_and_copies_ops)
{
    loaded l;
    load_good_payment(&l, NULL);
    const dm_plugin *p = dm__plugins_find(l.set, DM_PLUGIN_PAYMENT, "payment-good");
    ck_assert_msg(p != NULL, "payment-good not found by kind and name");
    ck_assert_str_eq(p->version, "1.0.0");
    ck_assert_uint_eq(p->abi_major, DM_PLUGIN_ABI_MAJOR);
    ck_assert_uint_eq(p->abi_minor, DM_PLUGIN_ABI_MINOR);
    const dm_payment_ops_t *ops = dm__plugin_payment_ops(p);
    const dm_payment_ops_t *theirs = p->info->ops;
    ck_assert_msg(ops != NULL && (const void *)ops != (const void *)theirs,
                  "the host must use its own copy of the ops table");
    ck_assert_msg(ops->create == theirs->create && ops->cancel == theirs->cancel,
                  "copied ops differ from the plugin's");
    ck_assert_msg(ops->refund == NULL, "an op the plugin left NULL must stay NULL");
    ck_assert_msg(dm__plugin_runtime_ops(p) == NULL, "typed accessor ignored the kind");

    dm_err_t err;
    dm_payment_request_t req = { .order_id = "TXMP-101", .amount = 50000, .method = "qris" };
    dm_payment_created_t out = { 0 };
    ck_assert_int_eq(ops->create(p->state, &req, &out, &err), 0);
    ck_assert_str_eq(out.token, "tok-TXMP-101");
    ck_assert_str_eq(out.redirect_url, "http://127.0.0.1:9/pay/TXMP-101");
    ck_assert_msg(strlen(out.gateway_ref) == 16, "gateway_ref from random bytes: \"%s\"", out.gateway_ref);
    ck_assert_msg(out.expires_at_ms > 0, "expiry from the host clock");
    unload(&l);
}
END_TEST

START_TEST(plugin_logs_under_its_name_and_load_is_logged)
{
    loaded l;
    load_good_payment(&l, NULL);
    ck_assert_msg(fx_log_has(l.log, "plugin", "ready in sandbox mode, timeout 5000 ms"),
                  "the plugin's init log line is missing:\n%s", l.log);
    ck_assert_msg(strstr(l.log, "\"plugin\":\"payment-good\"") != NULL,
                  "the plugin's log line does not carry its name:\n%s", l.log);
    char want[1024];
    snprintf(want, sizeof want, "loaded %s/payment-good.so: payment-good 1.0.0 (payment, ABI %d.%d)",
             l.dir, DM_PLUGIN_ABI_MAJOR, DM_PLUGIN_ABI_MINOR);
    ck_assert_msg(fx_log_has(l.log, "plugin", want), "no \"%s\" in:\n%s", want, l.log);
    unload(&l);
}
END_TEST

START_TEST(plugin_config_has_defaults_filled)
{
    loaded l;
    load_good_payment(&l, NULL);
    const dm_plugin *p = dm__plugins_at(l.set, 0);
    json_t *cfg = dm__plugin_host()->config(p->ctx);
    ck_assert_str_eq(json_string_value(json_object_get(cfg, "server_key")), "sk-test");
    ck_assert_str_eq(json_string_value(json_object_get(cfg, "mode")), "sandbox");
    ck_assert_int_eq(json_integer_value(json_object_get(cfg, "timeout_ms")), 5000);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(cfg, "methods"), 0)), "qris");
    unload(&l);
}
END_TEST

START_TEST(older_smaller_ops_table_is_zero_extended)
{
    loaded l;
    fx_mkdtemp(l.dir, sizeof l.dir);
    fx_install(l.dir, "old_ops");
    load(&l, "[{\"name\":\"old_ops\"}]");
    const dm_plugin *p = dm__plugins_find(l.set, DM_PLUGIN_PAYMENT, "payment-old_ops");
    ck_assert_msg(p != NULL, "old_ops refused: %s", refusal_field(&l, 0, "reason"));
    ck_assert_uint_eq(p->ops_size, DM_PAYMENT_OPS_MIN_SIZE);
    const dm_payment_ops_t *ops = dm__plugin_payment_ops(p);
    const dm_payment_ops_t *theirs = p->info->ops;
    ck_assert_msg(theirs->cancel != NULL, "fixture should set cancel beyond its declared size");
    ck_assert_msg(ops->cancel == NULL && ops->refund == NULL,
                  "ops past the plugin's ops_size must read as NULL");
    ck_assert_msg(ops->create == theirs->create, "ops within ops_size must be copied");
    json_t *methods = NULL;
    dm_err_t err;
    ck_assert_int_eq(ops->methods(p->state, &methods, &err), 0);
    ck_assert_uint_eq(json_array_size(methods), 1);
    json_decref(methods);
    unload(&l);
}
END_TEST

START_TEST(fini_runs_on_free_and_not_before)
{
    loaded l;
    char marker[64];
    temp_marker(marker, sizeof marker);
    load_good_payment(&l, marker);
    ck_assert_msg(!file_exists(marker), "fini ran before dm__plugins_free");
    dm__plugins_free(l.set);
    l.set = NULL;
    FILE *f = fopen(marker, "r");
    ck_assert_msg(f != NULL, "fini did not run on dm__plugins_free");
    char line[64] = "";
    ck_assert_msg(fgets(line, sizeof line, f) != NULL, "marker empty");
    fclose(f);
    unlink(marker);
    ck_assert_str_eq(line, "fini payment-good\n");
    unload(&l);
}
END_TEST

START_TEST(fini_not_called_when_init_fails)
{
    loaded l;
    char marker[64], text[2048];
    temp_marker(marker, sizeof marker);
    fx_mkdtemp(l.dir, sizeof l.dir);
    fx_install(l.dir, "init_fails");
    snprintf(text, sizeof text, "[{\"name\":\"init_fails\",\"config\":{\"fini_marker\":\"%s\"}}]", marker);
    load(&l, text);
    dm__plugins_free(l.set);
    l.set = NULL;
    ck_assert_msg(!file_exists(marker), "fini ran for a plugin whose init failed");
    unload(&l);
}
END_TEST

START_TEST(lookup_by_kind_and_name)
{
    loaded l;
    load_good_payment(&l, NULL);
    ck_assert_msg(dm__plugins_find(l.set, DM_PLUGIN_PAYMENT, NULL) == dm__plugins_at(l.set, 0),
                  "NULL name must find the first plugin of the kind");
    ck_assert_msg(dm__plugins_find(l.set, DM_PLUGIN_AUTH, "payment-good") == NULL, "wrong kind matched");
    ck_assert_msg(dm__plugins_find(l.set, DM_PLUGIN_PAYMENT, "other") == NULL, "wrong name matched");
    ck_assert_msg(dm__plugins_at(l.set, 1) == NULL, "at() past the end");
    unload(&l);
}
END_TEST

START_TEST(lists_plugins_for_admin_api)
{
    loaded l;
    load_good_payment(&l, NULL);
    json_t *list = dm__plugins_list_json(l.set);
    ck_assert_msg(json_array_size(list) == 1, "want 1 entry");
    json_t *e = json_array_get(list, 0);
    char file[1024];
    snprintf(file, sizeof file, "%s/payment-good.so", l.dir);
    ck_assert_str_eq(json_string_value(json_object_get(e, "name")), "payment-good");
    ck_assert_str_eq(json_string_value(json_object_get(e, "kind")), "payment");
    ck_assert_str_eq(json_string_value(json_object_get(e, "version")), "1.0.0");
    char abi[16]; /* fixtures are built with this tree's SDK headers */
    snprintf(abi, sizeof abi, "%d.%d", DM_PLUGIN_ABI_MAJOR, DM_PLUGIN_ABI_MINOR);
    ck_assert_str_eq(json_string_value(json_object_get(e, "abi")), abi);
    ck_assert_str_eq(json_string_value(json_object_get(e, "file")), file);
    json_decref(list);
    unload(&l);
}
END_TEST

typedef struct sink_state {
    int  lines;
    char last[32];
} sink_state;

static int sink_line(void *opaque, const char *line, size_t len, uint32_t stream, int64_t ts)
{
    sink_state *s = opaque;
    s->lines++;
    snprintf(s->last, sizeof s->last, "%.*s", (int)len, line);
    return 0;
}

START_TEST(loads_one_plugin_of_each_kind_and_the_template)
{
    loaded l;
    fx_mkdtemp(l.dir, sizeof l.dir);
    const char *all[] = { "payment-good", "good_runtime", "good_service", "good_auth", "example" };
    for (size_t i = 0; i < 5; i++)
        fx_install(l.dir, all[i]);
    load(&l, "[{\"name\":\"payment-good\",\"config\":{\"server_key\":\"k\"}},{\"name\":\"good_runtime\"},"
             "{\"name\":\"good_service\"},{\"name\":\"good_auth\"},{\"name\":\"example\"}]");
    ck_assert_msg(dm__plugins_count(l.set) == 5, "want 5 loaded, got %zu (first refusal: %s)",
                  dm__plugins_count(l.set), refusal_field(&l, 0, "reason"));
    dm_err_t err;

    const dm_plugin *rt = dm__plugins_find(l.set, DM_PLUGIN_RUNTIME, NULL);
    dm_runtime_status_t st = { 0 };
    ck_assert_int_eq(dm__plugin_runtime_ops(rt)->status(rt->state, "i1", &st, &err), 0);
    ck_assert_str_eq(st.unit_name, "fake-i1");
    ck_assert_msg(dm__plugin_runtime_ops(rt)->usage == NULL, "unset optional op must be NULL");
    sink_state ss = { 0 };
    dm_runtime_log_sink_t sink = { .opaque = &ss, .line = sink_line };
    dm_runtime_log_opts_t lo = { .tail_lines = 10 };
    ck_assert_int_eq(dm__plugin_runtime_ops(rt)->logs(rt->state, "i1", &lo, &sink, &err), 0);
    ck_assert_int_eq(ss.lines, 3);
    ck_assert_str_eq(ss.last, "three");

    const dm_plugin *sv = dm__plugins_find(l.set, DM_PLUGIN_SERVICE, "good_service");
    dm_service_request_t sreq = { .service_slug = "redis" };
    json_t *spec = NULL;
    ck_assert_int_eq(dm__plugin_service_ops(sv)->workload(sv->state, &sreq, &spec, &err), 0);
    ck_assert_str_eq(json_string_value(json_object_get(spec, "image")), "redis:7");
    json_decref(spec);

    const dm_plugin *au = dm__plugins_find(l.set, DM_PLUGIN_AUTH, "good_auth");
    dm_auth_credentials_t good = { .identifier = "alice@example.com", .secret = "s3cret" };
    dm_auth_credentials_t bad = { .identifier = "alice@example.com", .secret = "nope" };
    dm_auth_identity_t id = { 0 };
    ck_assert_int_eq(dm__plugin_auth_ops(au)->authenticate(au->state, &good, &id, &err), 0);
    ck_assert_str_eq(id.subject, "alice");
    ck_assert_int_eq(dm__plugin_auth_ops(au)->authenticate(au->state, &bad, &id, &err), DM_EPERM);

    const dm_plugin *ex = dm__plugins_find(l.set, DM_PLUGIN_SERVICE, "example");
    dm_service_request_t ereq = { .service_slug = "static-site" };
    ck_assert_int_eq(dm__plugin_service_ops(ex)->workload(ex->state, &ereq, &spec, &err), 0);
    ck_assert_str_eq(json_string_value(json_object_get(spec, "image")), "nginx:alpine");
    json_decref(spec);
    unload(&l);
}
END_TEST

/* ---- ABI 1.5: query_order may stand in for query_status ---- */

START_TEST(loads_1_5_table_with_query_order_only)
{
    expect_loaded("order_only");
}
END_TEST

START_TEST(refuses_1_5_table_without_query_status_or_query_order)
{
    expect_refused("no_query_at_all", NULL, "required payment op 'query_order' (or 'query_status') is NULL");
}
END_TEST

START_TEST(refuses_query_order_standing_in_before_1_5)
{
    expect_refused("order_only_1_4", NULL, "required payment op 'query_status' is NULL");
}
END_TEST

/* ---- ABI 1.5: the kind tag ---- */

START_TEST(refuses_ops_table_of_another_kind)
{
    expect_refused("kind_tag_runtime", NULL, "ops table is a payment table, descriptor says runtime");
}
END_TEST

START_TEST(refuses_ops_table_of_another_kind_whatever_its_size)
{
    /* 8 bytes would be "ops table is 8 bytes …": the tag is judged first. */
    expect_refused("kind_tag_small", NULL, "ops table is a payment table, descriptor says auth");
}
END_TEST

START_TEST(refuses_1_5_descriptor_without_ops_kind)
{
    expect_refused("kind_tag_missing", NULL,
                   "descriptor says payment but has no ops_kind (fill .ops with DM_PLUGIN_OPS)");
}
END_TEST

START_TEST(refuses_unknown_ops_kind)
{
    expect_refused("kind_tag_unknown", NULL, "ops table is of unknown kind 9, descriptor says payment");
}
END_TEST

START_TEST(refuses_1_5_descriptor_too_short_for_ops_kind)
{
    char want[160];
    snprintf(want, sizeof want, "descriptor is %zu bytes, ABI %d.%d needs at least %zu (with ops_kind)",
             (size_t)DM_PLUGIN_INFO_SIZE_1_0, DM_PLUGIN_ABI_MAJOR, DM_PLUGIN_ABI_MINOR,
             (size_t)DM_PLUGIN_INFO_SIZE_1_5);
    expect_refused("kind_tag_no_room", NULL, want);
}
END_TEST

START_TEST(a_1_4_descriptor_keeps_the_checks_it_had)
{
    expect_loaded("kind_tag_1_4");
}
END_TEST

START_TEST(the_sdk_macro_tags_every_kind)
{
    static const dm_payment_ops_t pay;
    static const dm_runtime_ops_t rt;
    static dm_service_ops_t svc; /* not const: both qualifications are tagged */
    static const dm_auth_ops_t au;
    ck_assert_int_eq(DM_PLUGIN_OPS_KIND(pay), DM_PLUGIN_PAYMENT);
    ck_assert_int_eq(DM_PLUGIN_OPS_KIND(rt), DM_PLUGIN_RUNTIME);
    ck_assert_int_eq(DM_PLUGIN_OPS_KIND(svc), DM_PLUGIN_SERVICE);
    ck_assert_int_eq(DM_PLUGIN_OPS_KIND(au), DM_PLUGIN_AUTH);
    static const dm_plugin_info_t info = { DM_PLUGIN_HEADER, .kind = DM_PLUGIN_RUNTIME, DM_PLUGIN_OPS(rt) };
    ck_assert_uint_eq(info.ops_kind, DM_PLUGIN_RUNTIME);
    ck_assert_uint_eq(info.info_size, DM_PLUGIN_INFO_SIZE_1_5);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("plugin_loader");
    TCase *r = tcase_create("refusals");
    tcase_add_test(r, refuses_missing_entry_symbol);
    tcase_add_test(r, refuses_entry_returning_null);
    tcase_add_test(r, refuses_bad_magic);
    tcase_add_test(r, refuses_abi_major_mismatch);
    tcase_add_test(r, refuses_newer_abi_minor);
    tcase_add_test(r, refuses_small_descriptor);
    tcase_add_test(r, refuses_build_signature_mismatch);
    tcase_add_test(r, refuses_missing_build_signature);
    tcase_add_test(r, refuses_invalid_name);
    tcase_add_test(r, refuses_missing_version);
    tcase_add_test(r, refuses_unknown_kind);
    tcase_add_test(r, refuses_missing_ops_table);
    tcase_add_test(r, refuses_small_ops_table);
    tcase_add_test(r, refuses_ops_table_larger_than_host);
    tcase_add_test(r, refuses_null_required_op);
    tcase_add_test(r, refuses_broken_config_table);
    tcase_add_test(r, refuses_init_failure);
    tcase_add_test(r, refuses_unknown_config_key_before_init);
    tcase_add_test(r, refuses_wrong_config_type);
    tcase_add_test(r, refuses_missing_required_config_key);
    tcase_add_test(r, refuses_config_that_is_not_an_object);
    tcase_add_test(r, bad_config_never_reaches_init);
    tcase_add_test(r, refuses_missing_file);
    tcase_add_test(r, refuses_file_dlopen_cannot_load);
    tcase_add_test(r, refuses_second_plugin_claiming_a_name);
    tcase_add_test(r, refuses_same_entry_listed_twice);
    suite_add_tcase(s, r);

    TCase *a = tcase_create("abi_1_5");
    tcase_add_test(a, loads_1_5_table_with_query_order_only);
    tcase_add_test(a, refuses_1_5_table_without_query_status_or_query_order);
    tcase_add_test(a, refuses_query_order_standing_in_before_1_5);
    tcase_add_test(a, refuses_ops_table_of_another_kind);
    tcase_add_test(a, refuses_ops_table_of_another_kind_whatever_its_size);
    tcase_add_test(a, refuses_1_5_descriptor_without_ops_kind);
    tcase_add_test(a, refuses_unknown_ops_kind);
    tcase_add_test(a, refuses_1_5_descriptor_too_short_for_ops_kind);
    tcase_add_test(a, a_1_4_descriptor_keeps_the_checks_it_had);
    tcase_add_test(a, the_sdk_macro_tags_every_kind);
    suite_add_tcase(s, a);

    TCase *p = tcase_create("permissions");
    tcase_add_test(p, refuses_group_writable_file);
    tcase_add_test(p, refuses_other_writable_file);
    tcase_add_test(p, refuses_group_writable_directory);
    tcase_add_test(p, refuses_other_writable_directory);
    tcase_add_test(p, same_fixture_loads_with_safe_modes);
    tcase_add_test(p, refuses_symlinked_file);
    tcase_add_test(p, refuses_file_owned_by_someone_else);
    tcase_add_test(p, refuses_everything_in_a_missing_directory);
    suite_add_tcase(s, p);

    TCase *c = tcase_create("config_entries");
    tcase_add_test(c, refuses_malformed_config_entries);
    tcase_add_test(c, skips_disabled_and_defaults_enabled_to_true);
    tcase_add_test(c, rejects_plugins_that_is_not_an_array);
    tcase_add_test(c, carries_on_after_refusals);
    suite_add_tcase(s, c);

    TCase *g = tcase_create("good_path");
    tcase_add_test(g, loads_good_plugin_and_copies_ops);
    tcase_add_test(g, plugin_logs_under_its_name_and_load_is_logged);
    tcase_add_test(g, plugin_config_has_defaults_filled);
    tcase_add_test(g, older_smaller_ops_table_is_zero_extended);
    tcase_add_test(g, fini_runs_on_free_and_not_before);
    tcase_add_test(g, fini_not_called_when_init_fails);
    tcase_add_test(g, lookup_by_kind_and_name);
    tcase_add_test(g, lists_plugins_for_admin_api);
    tcase_add_test(g, loads_one_plugin_of_each_kind_and_the_template);
    suite_add_tcase(s, g);
    return s;
}

DM_TEST_MAIN(make_suite)
