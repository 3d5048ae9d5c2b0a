/*
 * e2e_instances.h — what the end-to-end suites that run real workloads
 * share: the test engine (the private Podman), a server with the
 * service-template and runtime-docker plugins on it, a user subscribed to a
 * static-site plan, waits on an instance's status, the container's state,
 * and a clean-up of every container and volume a suite made, also after a
 * failed test.
 */
#ifndef DM_E2E_INSTANCES_H
#define DM_E2E_INSTANCES_H

#include <stdbool.h>

#include <jansson.h>

#include "docker_api.h"
#include "e2e_auth.h"

#define DM_E2E_ADMIN_EMAIL "root@example.id"
#define DM_E2E_ADMIN_PASS  "admin-pass-123"
/* How long a wait on an instance may take before the test fails. */
#define DM_E2E_INSTANCE_WAIT_MS 60000

/* The engine of this run (parsed from DERMAGA_TEST_DOCKER_HOST). */
extern dm_docker_host dm_e2e_engine;

/* Unchecked fixture pair (runner process): sweep this run's databases
 * (named after base) and parse the engine / remove every container and
 * volume of the instances remembered by the run's tests. */
void dm_e2e_instances_setup(const char *base);
void dm_e2e_instances_teardown(void);

/* What a test server runs with. */
typedef struct dm_e2e_instances_opts {
    bool        with_service; /* load service-template (config/services) */
    const char *site_image;   /* the image static-site maps to; NULL = the
                               * test image DM_DOCKER_TEST_STATIC_SITE_IMAGE */
    json_t     *extra;        /* more config merged over it (stolen; may be NULL) */
} dm_e2e_instances_opts;

/* A new private plugin folder (into dir, n bytes) holding copies of the
 * real auth-local, payment-manual and service-template plugins from
 * $DERMAGA_TEST_PLUGIN_DIR, for a suite that adds runtime fixtures of its
 * own (fx_install) and names it as plugins.dir. Remove it with fx_rmdir. */
void dm_e2e_instances_plugin_dir(char *dir, size_t n);

/* Checked fixture: a fresh database and a server with auth-local,
 * payment-manual, (service-template) and runtime-docker on the engine;
 * jobs poll every 100 ms and the admin is DM_E2E_ADMIN_EMAIL. */
void dm_e2e_instances_start(const dm_e2e_instances_opts *o);
/* Checked teardown: the money and quota invariants hold; server stopped
 * (it must exit 0) and database dropped. */
void dm_e2e_instances_stop(void);

/* Kill the test's server with sig (SIGKILL for a crash) and start it again
 * on the same database and configuration. */
void dm_e2e_instances_restart(int sig);

/* Record inst_id for the run's clean-up (its container and volumes). */
void dm_e2e_instances_remember(const char *inst_id);

/* The static-site plan (250 millicores, 64 MB, quota 50), made on first
 * use; its id (new string). */
char *dm_e2e_instances_site_plan(void);

/* Register email, credit it 50 000 and subscribe it to a static-site plan
 * (created on first use); the access token (new string) and the
 * subscription and instance ids. */
char *dm_e2e_instances_subscribe(const char *email, char sub_id[37], char inst_id[37]);

/* The same for the plan plan_id (of any service). */
char *dm_e2e_instances_subscribe_plan(const char *email, const char *plan_id, char sub_id[37], char inst_id[37]);

/* Run `dermaga --config <config> <command> [operand]` (the binary of
 * DERMAGA_TEST_BIN) with a bare environment; its stdout and stderr
 * (new) in *out; the exit status, or -1 when it did not exit. */
int dm_e2e_run_command(const char *config, const char *command, const char *operand, char **out);

/* GET the instance until its status is want (bounded by
 * DM_E2E_INSTANCE_WAIT_MS); its detail (new reference). An unexpected
 * ERROR fails at once, with the instance's message. */
json_t *dm_e2e_instances_wait(const char *tok, const char *inst_id, const char *want);

/* The instance's status by SQL until it is want (bounded); fails otherwise. */
void dm_e2e_instances_wait_sql(const char *inst_id, const char *want);

/* The container's State.Status, or "absent"; new string. */
char *dm_e2e_container_state(const char *inst_id);
void  dm_e2e_expect_container(const char *inst_id, const char *want);

/* A request that must answer status with the envelope's data (dropped). */
void dm_e2e_instances_op(const char *method, const char *tok, const char *path, const char *body, int status);

/* The instance's urls.public must serve the test page (bounded). */
void dm_e2e_expect_page(json_t *detail);

void dm_e2e_nap_ms(int ms);

#endif
