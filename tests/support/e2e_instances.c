/*
 * e2e_instances.c — the shared fixture of the suites that run real
 * workloads on the test engine (e2e_instances.h).
 */
#include "e2e_instances.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dm_test.h"
#include "testdb.h"
#include "../plugins/fixtures.h"

#define API "/" DM_DOCKER_API

dm_docker_host dm_e2e_engine;
/* The runner process (set by the unchecked setup, inherited by the forked
 * tests; the same process under CK_FORK=no): it names the ids file. */
static long runner_pid;

void dm_e2e_nap_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* The instances a run made, one id a line, for the runner's clean-up. */
static void ids_file(char *out, size_t n, long pid)
{
    snprintf(out, n, "/tmp/dm-instances-%ld.ids", pid);
}

void dm_e2e_instances_remember(const char *inst_id)
{
    char f[96];
    ids_file(f, sizeof f, runner_pid);
    FILE *fp = fopen(f, "a");
    ck_assert_msg(fp != NULL, "cannot write %s", f);
    fprintf(fp, "%s\n", inst_id);
    fclose(fp);
}

void dm_e2e_instances_setup(const char *base)
{
    dm_e2e_auth_sweep_setup(base);
    runner_pid = (long)getpid();
    const char *h = dm_docker_test_host();
    if (h != NULL && dm_docker_host_parse(h, &dm_e2e_engine) != 0)
        fprintf(stderr, "e2e_instances: %s is not a Docker host\n", h);
}

/* Unchecked: runs in the runner, also after a failed test. */
void dm_e2e_instances_teardown(void)
{
    char f[96], line[64];
    ids_file(f, sizeof f, runner_pid);
    FILE *fp = fopen(f, "r");
    while (fp != NULL && fgets(line, sizeof line, fp) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char label[128];
        snprintf(label, sizeof label, "dermaga.instance=%s", line);
        dm_docker_remove_labelled(&dm_e2e_engine, label);
        dm_docker_resp r = { 0 };
        dm_docker_requestf(&dm_e2e_engine, "DELETE", NULL, 10000, &r, API "/volumes/dm-%s-www?force=1", line);
        dm_docker_resp_free(&r);
    }
    if (fp != NULL)
        fclose(fp);
    unlink(f);
    dm_e2e_auth_sweep_teardown();
}

void dm_e2e_instances_plugin_dir(char *dir, size_t n)
{
    fx_mkdtemp(dir, n);
    const char *real = getenv("DERMAGA_TEST_PLUGIN_DIR");
    ck_assert_msg(real != NULL && real[0] != '\0', "DERMAGA_TEST_PLUGIN_DIR is not set");
    const char *const names[] = { "auth-local", "payment-manual", "service-template" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char src[512], dst[512];
        snprintf(src, sizeof src, "%s/%s.so", real, names[i]);
        snprintf(dst, sizeof dst, "%s/%s.so", dir, names[i]);
        fx_copy_file(src, dst, "was the build done?");
    }
}

void dm_e2e_instances_start(const dm_e2e_instances_opts *o)
{
    char dir[512];
    const char *src = getenv("DERMAGA_TEST_SOURCE_DIR");
    snprintf(dir, sizeof dir, "%s/config/services", src != NULL && src[0] ? src : DM_SOURCE_DIR);
    json_t *enabled = json_pack("[{s:s},{s:s}]", "name", "auth-local", "name", "payment-manual");
    if (o->with_service)
        json_array_append_new(enabled,
                              json_pack("{s:s,s:{s:s,s:{s:s}}}", "name", "service-template", "config", "dir", dir,
                                        "image_map", "docker.io/joseluisq/static-web-server:2",
                                        o->site_image != NULL ? o->site_image : DM_DOCKER_TEST_STATIC_SITE_IMAGE));
    json_array_append_new(enabled, json_pack("{s:s,s:{s:s,s:i}}", "name", "runtime-docker", "config", "host",
                                             dm_docker_test_host(), "stop_timeout_s", 5));
    json_t *cfg = json_pack("{s:{s:s,s:s},s:{s:o},s:{s:i}}", "auth", "adminEmail", DM_E2E_ADMIN_EMAIL,
                            "adminPassword", DM_E2E_ADMIN_PASS, "plugins", "enabled", enabled, "jobs", "pollMs",
                            100);
    ck_assert_msg(cfg != NULL, "cannot build the config");
    if (o->extra != NULL) {
        ck_assert_msg(json_object_update_recursive(cfg, o->extra) == 0, "cannot merge the config");
        json_decref(o->extra);
    }
    dm_e2e_auth_setup_with(cfg);
}

void dm_e2e_instances_stop(void)
{
    DM_EXPECT_SQL(dm_e2e_auth_db_url, "0", "SELECT count(*) FROM ledger_violations()");
    DM_EXPECT_SQL(dm_e2e_auth_db_url, "0", "SELECT count(*) FROM quota_violations()");
    dm_e2e_auth_teardown();
}

void dm_e2e_instances_restart(int sig)
{
    json_error_t je;
    json_t *cfg = json_load_file(dm_e2e_auth_srv.config_path, 0, &je);
    ck_assert_msg(cfg != NULL, "cannot read %s: %s", dm_e2e_auth_srv.config_path, je.text);
    dm_e2e_server_stop(&dm_e2e_auth_srv, sig, 15000);
    dm_e2e_server_free(&dm_e2e_auth_srv);
    dm_e2e_server_start(&dm_e2e_auth_srv, cfg);
}

void dm_e2e_instances_op(const char *method, const char *tok, const char *path, const char *body, int status)
{
    dm_e2e_response res;
    dm_e2e_auth_call(method, path, tok, body, &res);
    json_decref(dm_e2e_auth_ok_data(&res, status, path));
    dm_e2e_response_free(&res);
}

char *dm_e2e_instances_site_plan(void)
{
    char *plan = dm_test_db_scalarf(dm_e2e_auth_db_url,
                                    "WITH c AS (INSERT INTO categories (slug, name) VALUES ('web-hosting', 'Web') "
                                    "  ON CONFLICT (slug) DO UPDATE SET name = excluded.name RETURNING id), "
                                    "s AS (INSERT INTO services (category_id, slug, name, service_type, template) "
                                    "  SELECT id, 'static-site', 'Static Site', 'service-template', 'static-site' FROM c "
                                    "  ON CONFLICT (slug) DO UPDATE SET name = excluded.name RETURNING id), "
                                    "p AS (INSERT INTO plans (service_id, slug, name, price, billing_period_days, "
                                    "  cpu_millicores, memory_mb, storage_gb, total_quota) "
                                    "  SELECT id, 'small', 'Small', 10000, 30, 250, 64, 1, 50 FROM s "
                                    "  ON CONFLICT (service_id, slug) DO UPDATE SET name = excluded.name RETURNING id) "
                                    "SELECT id FROM p");
    ck_assert_msg(strlen(plan) == 36, "plan: \"%s\"", plan);
    return plan;
}

char *dm_e2e_instances_subscribe(const char *email, char sub_id[37], char inst_id[37])
{
    char *plan = dm_e2e_instances_site_plan();
    char *tok = dm_e2e_instances_subscribe_plan(email, plan, sub_id, inst_id);
    free(plan);
    return tok;
}

char *dm_e2e_instances_subscribe_plan(const char *email, const char *plan, char sub_id[37], char inst_id[37])
{
    char uid[37], path[128], body[96];
    char *tok = dm_e2e_auth_register(email, uid);
    char *admin = dm_e2e_auth_login(DM_E2E_ADMIN_EMAIL, DM_E2E_ADMIN_PASS);
    snprintf(path, sizeof path, "/api/admin/users/%s/credits", uid);
    dm_e2e_instances_op("POST", admin, path, "{\"amount\":50000,\"reason\":\"test credit\"}", 201);
    free(admin);
    snprintf(body, sizeof body, "{\"planId\":\"%s\"}", plan);
    dm_e2e_response res;
    dm_e2e_auth_call("POST", "/api/subscriptions", tok, body, &res);
    json_t *s = dm_e2e_auth_ok_data(&res, 201, "subscribe");
    dm_e2e_response_free(&res);
    snprintf(sub_id, 37, "%s", dm_e2e_jstr(s, "id"));
    snprintf(inst_id, 37, "%s", dm_e2e_jstr(s, "instance.id"));
    json_decref(s);
    dm_e2e_instances_remember(inst_id);
    return tok;
}

json_t *dm_e2e_instances_wait(const char *tok, const char *inst_id, const char *want)
{
    char path[128];
    snprintf(path, sizeof path, "/api/instances/%s", inst_id);
    char last[16] = "";
    for (long long end = dm_e2e_now_ms() + DM_E2E_INSTANCE_WAIT_MS; dm_e2e_now_ms() <= end;) {
        dm_e2e_response res;
        dm_e2e_auth_call("GET", path, tok, NULL, &res);
        json_t *d = dm_e2e_auth_ok_data(&res, 200, "instance detail");
        dm_e2e_response_free(&res);
        snprintf(last, sizeof last, "%s", dm_e2e_jstr(d, "status"));
        if (strcmp(last, want) == 0)
            return d;
        json_decref(d);
        if (strcmp(last, "ERROR") == 0) {
            char *msg = dm_test_db_scalarf(dm_e2e_auth_db_url,
                                           "SELECT coalesce(message, '') FROM instances WHERE id = '%s'", inst_id);
            ck_abort_msg("instance %s is ERROR while waiting for %s: %s", inst_id, want, msg);
        }
        dm_e2e_nap_ms(100);
    }
    ck_abort_msg("instance %s still %s after %d ms, want %s", inst_id, last, DM_E2E_INSTANCE_WAIT_MS, want);
    return NULL;
}

void dm_e2e_instances_wait_sql(const char *inst_id, const char *want)
{
    char *st = NULL;
    for (long long end = dm_e2e_now_ms() + DM_E2E_INSTANCE_WAIT_MS; dm_e2e_now_ms() <= end;) {
        free(st);
        st = dm_test_db_scalarf(dm_e2e_auth_db_url, "SELECT status FROM instances WHERE id = '%s'", inst_id);
        if (strcmp(st, want) == 0)
            break;
        dm_e2e_nap_ms(100);
    }
    ck_assert_msg(strcmp(st, want) == 0, "instance %s is %s, want %s", inst_id, st, want);
    free(st);
}

char *dm_e2e_container_state(const char *inst_id)
{
    dm_docker_resp r = { 0 };
    int rc = dm_docker_requestf(&dm_e2e_engine, "GET", NULL, 10000, &r, API "/containers/dm-%s/json", inst_id);
    ck_assert_msg(rc == 0, "inspect: %s", r.error);
    const char *st = json_string_value(json_object_get(json_object_get(r.json, "State"), "Status"));
    char *s = strdup(r.status == 404 ? "absent" : st != NULL ? st : "?");
    dm_docker_resp_free(&r);
    ck_assert_msg(s != NULL, "out of memory");
    return s;
}

void dm_e2e_expect_container(const char *inst_id, const char *want)
{
    char *s = dm_e2e_container_state(inst_id);
    ck_assert_msg(strcmp(s, want) == 0, "container dm-%s is %s, want %s", inst_id, s, want);
    free(s);
}

void dm_e2e_expect_page(json_t *detail)
{
    const char *url = dm_e2e_jstr(detail, "urls.public");
    ck_assert_msg(strncmp(url, "http://127.0.0.1:", 17) == 0, "urls.public: %s", url);
    dm_docker_resp last = { 0 };
    bool ok = dm_docker_wait_http(url, DM_DOCKER_TEST_STATIC_SITE_MARKER, 20000, &last);
    ck_assert_msg(ok, "%s did not serve the page: %ld %s %s", url, last.status, last.error,
                  last.body != NULL ? last.body : "");
    dm_docker_resp_free(&last);
}

int dm_e2e_run_command(const char *config, const char *command, const char *operand, char **out)
{
    char path[] = "/tmp/dm-e2e-cmd-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_msg(fd >= 0, "mkstemp failed");
    const char *bin = getenv("DERMAGA_TEST_BIN");
    bin = bin != NULL && bin[0] != '\0' ? bin : DM_BUILD_DIR "/dermaga";
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork failed");
    if (pid == 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        char *argv[] = { (char *)bin, "--config", (char *)config, (char *)command, (char *)operand, NULL };
        char *envp[] = { "PATH=/usr/bin:/bin", NULL };
        execve(bin, argv, envp);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    struct stat st;
    fstat(fd, &st);
    *out = calloc(1, (size_t)st.st_size + 1);
    ck_assert_ptr_nonnull(*out);
    ck_assert_int_eq(pread(fd, *out, (size_t)st.st_size, 0), st.st_size);
    close(fd);
    unlink(path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
