/*
 * e2e_workload.h — acting on an instance from behind the server, for the
 * end-to-end suites of e2e_instances.h: run a shell command inside an
 * instance's container through the engine's exec API (e.g. to make it print
 * known lines to its log), and write an instance and its subscription
 * straight into the database when a test needs one without a workload.
 */
#ifndef DM_E2E_WORKLOAD_H
#define DM_E2E_WORKLOAD_H

/*
 * Run `sh -c script` in the container dm-<inst_id> on dm_e2e_engine,
 * detached: returns once the engine has started it, not when it ends.
 * What the script writes to /proc/1/fd/1 and /proc/1/fd/2 (the main
 * process's stdout and stderr) becomes the container's log. Fails the
 * current test when the engine refuses. Borrows both strings.
 */
void dm_e2e_exec_in_container(const char *inst_id, const char *script);

/* The same, then wait (bounded by timeout_ms; the test fails past it)
 * until the command has exited, calling meanwhile(arg) (may be NULL)
 * about every 100 ms. */
void dm_e2e_exec_wait(const char *inst_id, const char *script, int timeout_ms, void (*meanwhile)(void *), void *arg);

/*
 * Register email (with DM_E2E_AUTH_PASSWORD) on the test's server and give
 * it, by SQL on dm_e2e_auth_db_url, an ACTIVE subscription to the
 * static-site plan (made on first use, with the same limits as
 * e2e_instances.c's: 250 millicores, 64 MB) and an instance in `status`
 * whose urls.public is public_url. The plan's used quota counts it. Fills
 * sub_id and inst_id; returns the user's access token (new string, caller
 * frees). Fails the current test on any error.
 */
char *dm_e2e_sql_instance(const char *email, const char *status, const char *public_url, char sub_id[37],
                          char inst_id[37]);

#endif
