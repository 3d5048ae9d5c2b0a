/*
 * e2e_auth.h — what the account e2e suites share: a server with the
 * auth-local plugin on a fresh migrated database per test, databases swept
 * per run (a failed assert skips a test's own teardown), and JSON requests
 * with an optional Bearer token.
 */
#ifndef DM_E2E_AUTH_H
#define DM_E2E_AUTH_H

#include <stdbool.h>

#include <jansson.h>

#include "e2e.h"

#define DM_E2E_AUTH_SECRET "e2e-test-secret-of-more-than-32-bytes"
#define DM_E2E_AUTH_PASSWORD "correct horse battery"

/* The server and database of the running test (set by dm_e2e_auth_setup). */
extern dm_e2e_server dm_e2e_auth_srv;
extern char *dm_e2e_auth_db_url;

/* Unchecked fixture (runner process): name this run's databases
 * "<base>_<pid>_…" / drop every one of them afterwards. */
void dm_e2e_auth_sweep_setup(const char *base);
void dm_e2e_auth_sweep_teardown(void);

/* Checked fixture: a fresh migrated database and a server using it with
 * auth-local enabled and DM_E2E_AUTH_SECRET / stop both. */
void dm_e2e_auth_setup(void);
/* The same with extra config merged over the fixture's (recursively; an
 * array such as plugins.enabled is replaced). extra is stolen. plugins.dir
 * is $DERMAGA_TEST_PLUGIN_DIR unless extra names one. */
void dm_e2e_auth_setup_with(json_t *extra);
void dm_e2e_auth_teardown(void);

/* One request on a new connection to the test's server. authz is the whole
 * Authorization value (NULL for none); body NULL sends no body. */
void dm_e2e_auth_call_raw(const char *method, const char *path, const char *authz,
                          const char *ctype, const char *body, dm_e2e_response *res);

/* A JSON request; token (may be NULL) goes as a Bearer token. */
void dm_e2e_auth_call(const char *method, const char *path, const char *token, const char *body,
                      dm_e2e_response *res);

/* The bytes of such a request, for tests that send them themselves. New
 * string (caller frees). */
char *dm_e2e_auth_request(const char *method, const char *path, const char *token, const char *body);

/* A request like dm_e2e_auth_call with an "Idempotency-Key: key" header
 * (key borrowed, sent as it is). */
void dm_e2e_auth_call_keyed(const char *method, const char *path, const char *token, const char *key,
                            const char *body, dm_e2e_response *res);

/* dm_e2e_auth_call with body serialised from JSON (stolen; NULL for none). */
void dm_e2e_auth_call_json(const char *method, const char *path, const char *token, json_t *body,
                           dm_e2e_response *res);

/* Register email with DM_E2E_AUTH_PASSWORD on the test's server; the
 * access token (new string, caller frees), the user id into id (may be
 * NULL). Fails the test otherwise. */
char *dm_e2e_auth_register(const char *email, char id[37]);

/* Log in; the access token (new string, caller frees). */
char *dm_e2e_auth_login(const char *email, const char *password);

/* For suites with their own server: one JSON request to port (token may
 * be NULL, body NULL sends none); the status, and the parsed body into
 * *json_out (may be NULL; NULL when the body is empty). */
int dm_e2e_call_port(int port, const char *method, const char *path, const char *token, const char *body,
                     json_t **json_out);

/* Register (name "Tester") or log in at port; the access token (new
 * string, caller frees), the user id into id (may be NULL). Fails the test
 * otherwise. */
char *dm_e2e_session_port(int port, const char *email, const char *password, bool do_register, char id[37]);

/* A member of doc by a dotted path ("data.plan.id"; digits index arrays):
 * borrowed, NULL when absent. */
json_t *dm_e2e_jpath(json_t *doc, const char *path);
/* The integer / string at path; fails the test when it is not one. The
 * string is borrowed from doc. */
long long dm_e2e_jint(json_t *doc, const char *path);
const char *dm_e2e_jstr(json_t *doc, const char *path);

/* Expect the error envelope with status and error.code. */
void dm_e2e_auth_expect_error(const dm_e2e_response *res, int status, const char *code,
                              const char *what);

/* Expect a success envelope with status; return its data (new reference). */
json_t *dm_e2e_auth_ok_data(const dm_e2e_response *res, int status, const char *what);

#endif
