/*
 * test_service_choice.c — which service plugin renders a service, through
 * the real binary with two service plugins loaded at once: service-template
 * and the service-whoami fixture (tests/plugins/service_whoami.c), on the
 * private Podman. A service's serviceType names its plugin: the static
 * site (service-template) and a whoami service (no template) each reach
 * RUNNING through their own plugin. The admin routes and `dermaga seed`
 * refuse a service naming a service plugin that is not loaded, and a
 * service-template service without a template. `dermaga plugins` runs the
 * plugins' init, so a bad template or template folder shows there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"
#include "e2e_instances.h"
#include "testdb.h"
#include "../plugins/fixtures.h"

#define db_url dm_e2e_auth_db_url

static char plugin_dir[256];

static void suite_setup(void) { dm_e2e_instances_setup("svcchoice"); }
static void suite_teardown(void) { dm_e2e_instances_teardown(); }

static void setup(void)
{
    dm_e2e_instances_plugin_dir(plugin_dir, sizeof plugin_dir);
    fx_install(plugin_dir, "service-whoami");
    char src[512], dst[512];
    snprintf(src, sizeof src, "%s/runtime-docker.so", getenv("DERMAGA_TEST_PLUGIN_DIR"));
    snprintf(dst, sizeof dst, "%s/runtime-docker.so", plugin_dir);
    fx_copy_file(src, dst, "was the build done?");
    char services[512];
    const char *s = getenv("DERMAGA_TEST_SOURCE_DIR");
    snprintf(services, sizeof services, "%s/config/services", s != NULL && s[0] ? s : DM_SOURCE_DIR);
    const char *host = dm_docker_test_host() != NULL ? dm_docker_test_host() : "unix:///nonexistent";
    json_t *enabled = json_pack("[{s:s},{s:s},{s:s,s:{s:s,s:{s:s}}},{s:s,s:{s:s}},{s:s,s:{s:s,s:i}}]",
                                "name", "auth-local", "name", "payment-manual",
                                "name", "service-template", "config", "dir", services, "image_map",
                                "docker.io/joseluisq/static-web-server:2", DM_DOCKER_TEST_STATIC_SITE_IMAGE,
                                "name", "service-whoami", "config", "image", DM_DOCKER_TEST_STATIC_SITE_IMAGE,
                                "name", "runtime-docker", "config", "host", host, "stop_timeout_s", 5);
    json_t *extra = json_pack("{s:{s:s,s:o}}", "plugins", "dir", plugin_dir, "enabled", enabled);
    dm_e2e_instances_opts o = { .with_service = true, .extra = extra };
    dm_e2e_instances_start(&o);
}

static void teardown(void)
{
    dm_e2e_instances_stop();
    fx_rmdir(plugin_dir);
}

static char *admin_token(void) { return dm_e2e_auth_login(DM_E2E_ADMIN_EMAIL, DM_E2E_ADMIN_PASS); }

/* An admin call expecting status; its data (new) when 2xx, else NULL. */
static json_t *admin_call(const char *method, const char *path, const char *body, int status)
{
    char *tok = admin_token();
    dm_e2e_response res;
    dm_e2e_auth_call(method, path, tok, body, &res);
    free(tok);
    ck_assert_msg(res.status == status, "%s %s %s: %d, want %d: %s", method, path, body != NULL ? body : "",
                  res.status, status, res.body);
    json_t *d = status < 300 ? dm_e2e_auth_ok_data(&res, status, path) : NULL;
    dm_e2e_response_free(&res);
    return d;
}

/* A 400 VALIDATION_ERROR naming field, whose message holds want. */
static void refused(const char *method, const char *path, const char *body, const char *field, const char *want)
{
    char *tok = admin_token();
    dm_e2e_response res;
    dm_e2e_auth_call(method, path, tok, body, &res);
    free(tok);
    ck_assert_msg(res.status == 400, "%s %s %s: %d, want 400: %s", method, path, body, res.status, res.body);
    json_error_t je;
    json_t *doc = json_loads(res.body, 0, &je);
    ck_assert_msg(doc != NULL, "not JSON: %s", res.body);
    ck_assert_str_eq(dm_e2e_jstr(doc, "error.code"), "VALIDATION_ERROR");
    ck_assert_str_eq(dm_e2e_jstr(doc, "error.details.0.field"), field);
    ck_assert_msg(strstr(dm_e2e_jstr(doc, "error.details.0.message"), want) != NULL, "message: %s", res.body);
    json_decref(doc);
    dm_e2e_response_free(&res);
}

/* A category for the services these tests make; its id into id. */
static void category(char id[37])
{
    json_t *d = admin_call("POST", "/api/admin/categories", "{\"slug\":\"choice\",\"name\":\"Choice\"}", 201);
    snprintf(id, 37, "%s", dm_e2e_jstr(d, "id"));
    json_decref(d);
}

/* A service of cat made through the admin API (body's members after
 * categoryId), its id into id. */
static void service(const char *cat, const char *members, char id[37])
{
    char body[512];
    snprintf(body, sizeof body, "{\"categoryId\":\"%s\",%s}", cat, members);
    json_t *d = admin_call("POST", "/api/admin/services", body, 201);
    snprintf(id, 37, "%s", dm_e2e_jstr(d, "id"));
    json_decref(d);
}

/* Subscribe a new user email to a new plan of service svc; its
 * subscription and instance ids; the user's token (new). */
static char *subscribe(const char *email, const char *svc, char sub[37], char inst[37])
{
    char body[512];
    snprintf(body, sizeof body, "{\"serviceId\":\"%s\",\"name\":\"Small\",\"price\":10000,\"cpuMillicores\":250,"
             "\"memoryMb\":64,\"totalQuota\":5}", svc);
    json_t *plan = admin_call("POST", "/api/admin/plans", body, 201);
    char *tok = dm_e2e_instances_subscribe_plan(email, dm_e2e_jstr(plan, "id"), sub, inst);
    json_decref(plan);
    return tok;
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(each_service_runs_through_the_plugin_it_names)
{
    char sub[37], inst[37], cat[37], svc[37];
    /* service-template: the static site, restarted on failure, with its volume. */
    char *tok = dm_e2e_instances_subscribe("site@example.id", sub, inst);
    json_t *d = dm_e2e_instances_wait(tok, inst, "RUNNING");
    dm_e2e_expect_page(d);
    json_decref(d);
    free(tok);
    DM_EXPECT_SQL(db_url, "on-failure", "SELECT supervision->>'restart' FROM instances WHERE id = '%s'", inst);
    /* service-whoami: no template; the plugin's own spec (restart never). */
    category(cat);
    service(cat, "\"slug\":\"whoami\",\"name\":\"Who am I\",\"serviceType\":\"service-whoami\"", svc);
    DM_EXPECT_SQL(db_url, "service-whoami null", "SELECT service_type || ' ' || coalesce(template, 'null') "
                  "FROM services WHERE id = '%s'", svc);
    char inst2[37];
    tok = subscribe("whoami@example.id", svc, sub, inst2);
    d = dm_e2e_instances_wait(tok, inst2, "RUNNING");
    ck_assert_str_eq(dm_e2e_jstr(d, "runtime"), "runtime-docker");
    /* Its page, written by the entrypoint it replaced (runtime-docker
     * passes the spec's entrypoint as Entrypoint), naming the service's
     * slug (the plugin's slug when there is no template). */
    dm_docker_resp last = { 0 };
    bool ok = dm_docker_wait_http(dm_e2e_jstr(d, "urls.public"), "whoami-page-ok whoami", 20000, &last);
    ck_assert_msg(ok, "the whoami page: %ld %s %s", last.status, last.error, last.body != NULL ? last.body : "");
    dm_docker_resp_free(&last);
    json_decref(d);
    free(tok);
    dm_e2e_expect_container(inst2, "running");
    DM_EXPECT_SQL(db_url, "never", "SELECT supervision->>'restart' FROM instances WHERE id = '%s'", inst2);
}
END_TEST

START_TEST(admin_refuses_a_service_plugin_that_is_not_loaded)
{
    char cat[37], svc[37], body[512], path[128];
    category(cat);
    snprintf(body, sizeof body, "{\"categoryId\":\"%s\",\"name\":\"Nope\",\"serviceType\":\"service-nope\","
             "\"template\":\"redis\"}", cat);
    refused("POST", "/api/admin/services", body, "serviceType", "service plugin service-nope is not enabled");
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM services WHERE name = 'Nope'");
    /* A runtime is not a service plugin. */
    snprintf(body, sizeof body, "{\"categoryId\":\"%s\",\"name\":\"Nope\",\"serviceType\":\"runtime-docker\","
             "\"template\":\"redis\"}", cat);
    refused("POST", "/api/admin/services", body, "serviceType", "service plugin runtime-docker is not enabled");
    service(cat, "\"name\":\"Kept\",\"serviceType\":\"service-whoami\"", svc);
    snprintf(path, sizeof path, "/api/admin/services/%s", svc);
    refused("PUT", path, "{\"serviceType\":\"service-nope\"}", "serviceType", "is not enabled");
    DM_EXPECT_SQL(db_url, "service-whoami", "SELECT service_type FROM services WHERE id = '%s'", svc);
    /* Other fields of a service can still change. */
    json_decref(admin_call("PUT", path, "{\"name\":\"Kept too\"}", 200));
}
END_TEST

START_TEST(admin_wants_a_template_for_service_template_only)
{
    char cat[37], svc[37], body[512], path[128];
    category(cat);
    snprintf(body, sizeof body, "{\"categoryId\":\"%s\",\"name\":\"No Tpl\",\"serviceType\":\"service-template\"}",
             cat);
    refused("POST", "/api/admin/services", body, "template", "is required for a service-template service");
    service(cat, "\"name\":\"Plain\",\"serviceType\":\"service-whoami\"", svc);
    snprintf(path, sizeof path, "/api/admin/services/%s", svc);
    /* Moving it to service-template needs a template, kept or given. */
    refused("PUT", path, "{\"serviceType\":\"service-template\"}", "template", "is required");
    json_t *d = admin_call("PUT", path, "{\"serviceType\":\"service-template\",\"template\":\"redis\"}", 200);
    ck_assert_str_eq(dm_e2e_jstr(d, "template"), "redis");
    json_decref(d);
}
END_TEST

static int seed(const char *file, char **out)
{
    return dm_e2e_run_command(dm_e2e_auth_srv.config_path, "seed", file, out);
}

/* A catalog file with one service of the given members; its path (static). */
static const char *catalog_with(const char *members)
{
    static char path[300];
    snprintf(path, sizeof path, "%s/seed-catalog.json", plugin_dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"categories\":[{\"slug\":\"seeded\",\"name\":\"Seeded\",\"services\":[{\"slug\":\"seeded-svc\","
            "\"name\":\"Seeded\",%s,\"plans\":[{\"name\":\"Basic\",\"price\":1,\"cpuMillicores\":100,"
            "\"memoryMb\":64,\"totalQuota\":1}]}]}]}", members);
    fclose(f);
    return path;
}

START_TEST(seed_refuses_a_service_plugin_that_is_not_loaded)
{
    char *out = NULL;
    int rc = seed(catalog_with("\"serviceType\":\"service-nope\",\"template\":\"redis\""), &out);
    ck_assert_msg(rc == 1, "seed exited %d: %s", rc, out);
    ck_assert_msg(strstr(out, "services[0]: serviceType: names no enabled service plugin: service plugin "
                              "service-nope is not enabled") != NULL, "output: %s", out);
    free(out);
    rc = seed(catalog_with("\"serviceType\":\"service-template\""), &out);
    ck_assert_msg(rc == 1 && strstr(out, "services[0]: template: is required for a service-template service"),
                  "seed exited %d: %s", rc, out);
    free(out);
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM services WHERE slug = 'seeded-svc'");
    /* Both plugins are loaded: either kind of service is seeded. */
    rc = seed(catalog_with("\"serviceType\":\"service-whoami\""), &out);
    ck_assert_msg(rc == 0, "seed exited %d: %s", rc, out);
    free(out);
    DM_EXPECT_SQL(db_url, "service-whoami", "SELECT service_type FROM services WHERE slug = 'seeded-svc'");
}
END_TEST

/* The server's config with service-template's config replaced by tpl
 * (new, stolen), written next to the plugins; its path (static). */
static const char *config_with_templates(json_t *tpl)
{
    static char path[300];
    json_error_t je;
    json_t *cfg = json_load_file(dm_e2e_auth_srv.config_path, 0, &je);
    ck_assert_msg(cfg != NULL, "cannot read %s: %s", dm_e2e_auth_srv.config_path, je.text);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(json_object_get(cfg, "plugins"), "enabled"), i, e) {
        if (strcmp(json_string_value(json_object_get(e, "name")), "service-template") == 0)
            json_object_set(e, "config", tpl);
    }
    json_decref(tpl);
    snprintf(path, sizeof path, "%s/plugins-config.json", plugin_dir);
    ck_assert_int_eq(json_dump_file(cfg, path, 0), 0);
    json_decref(cfg);
    return path;
}

/* `dermaga plugins` runs the enabled plugins' init: a bad template is
 * refused alone (its file and reason shown, the plugin would load), and a
 * template folder that cannot be read makes the plugin REFUSED and the
 * command exit 1. */
START_TEST(plugins_command_runs_init)
{
    char bad[256], line[600];
    fx_mkdtemp(bad, sizeof bad);
    snprintf(line, sizeof line, "%s/whoami.json", bad);
    FILE *f = fopen(line, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"slug\":\"whoami\",\"name\":\"W\",\"category\":\"x\",\"description\":\"d\"}", f);
    fclose(f);
    char services[512];
    const char *src = getenv("DERMAGA_TEST_SOURCE_DIR");
    snprintf(services, sizeof services, "%s/config/services", src != NULL && src[0] ? src : DM_SOURCE_DIR);
    char *out = NULL;
    int rc = dm_e2e_run_command(config_with_templates(json_pack("{s:[s,s]}", "dirs", services, bad)), "plugins",
                                NULL, &out);
    snprintf(line, sizeof line, "template refused: %s/whoami.json: image: is required", bad);
    ck_assert_msg(strstr(out, line) != NULL, "the bad template must be shown:\n%s", out);
    ck_assert_msg(rc == 0, "every enabled plugin would load, exit %d:\n%s", rc, out);
    free(out);
    rc = dm_e2e_run_command(config_with_templates(json_pack("{s:s}", "dir", "/nonexistent/templates")), "plugins",
                            NULL, &out);
    ck_assert_msg(rc == 1, "a plugin whose init fails must make `plugins` exit 1, got %d:\n%s", rc, out);
    ck_assert_msg(strstr(out, "REFUSED: init failed: config: dir \"/nonexistent/templates\" cannot be read") != NULL,
                  "output:\n%s", out);
    free(out);
    fx_rmdir(bad);
}
END_TEST

START_TEST(no_engine_configured)
{
    dm_docker_test_engine_off("test_service_choice");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("service_choice");
    TCase *tc = tcase_create("two_service_plugins");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, admin_refuses_a_service_plugin_that_is_not_loaded);
    tcase_add_test(tc, admin_wants_a_template_for_service_template_only);
    tcase_add_test(tc, seed_refuses_a_service_plugin_that_is_not_loaded);
    tcase_add_test(tc, plugins_command_runs_init);
    if (dm_docker_test_host() == NULL)
        tcase_add_test(tc, no_engine_configured);
    else
        tcase_add_test(tc, each_service_runs_through_the_plugin_it_names);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
