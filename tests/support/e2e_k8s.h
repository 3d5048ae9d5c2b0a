/*
 * e2e_k8s.h — end-to-end tests of the runtime-kubernetes plugin: the fake
 * Kubernetes API server (tests/fakes/k8s, HTTPS with its throwaway CA and a
 * token) and the real `dermaga` binary with runtime-kubernetes as its
 * default runtime against it (plus auth-local, payment-manual and
 * service-template, as e2e_instances.h), and a few checked reads and writes
 * of the fake's API and /fake/ control API, to look behind the server.
 */
#ifndef DM_E2E_K8S_H
#define DM_E2E_K8S_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "k8s_fake.h"

/* The namespace and the Ingress base domain the server is given. */
#define DM_E2E_K8S_NS     "dermaga"
#define DM_E2E_K8S_DOMAIN "apps.example.test"

/* The fake of the running test. */
extern dm_k8s_fake dm_e2e_k8s;

typedef struct dm_e2e_k8s_opts {
    int                request_timeout_ms; /* the plugin's; 0: 5000 */
    const char *const *fake_args;          /* more options for the fake (NULL-ended) or NULL */
    json_t            *extra;              /* more server config merged over it (stolen; may be NULL) */
    bool               per_user;           /* namespace_per_user: DM_E2E_K8S_NS-<user id> each */
} dm_e2e_k8s_opts;

/* Checked fixture: the fake (pods start in 50 ms), a kubeconfig for it, a
 * fresh database and the server (jobs poll every 100 ms, the admin is
 * DM_E2E_ADMIN_EMAIL). Stop: the money and quota invariants hold, the
 * server exits 0, the database is dropped, the fake stopped. */
void dm_e2e_k8s_start(const dm_e2e_k8s_opts *o);
void dm_e2e_k8s_stop(void);
/* The start for error cases: the plugin's shortest request timeout
 * (1000 ms) and the fake's schema errors as 422. */
void dm_e2e_k8s_start_for_errors(void);

/* GET path from the fake: its JSON (new reference); fails unless 200. */
json_t *dm_e2e_k8s_get(const char *path);
/* A request to the fake (body JSON or NULL) that must answer want. */
void dm_e2e_k8s_send(const char *method, const char *path, const char *body, long want);

/* The items of a kind (its cluster-wide list path, e.g.
 * "/apis/apps/v1/deployments") labelled app.kubernetes.io/instance=inst
 * (new reference: an array). */
json_t *dm_e2e_k8s_labelled(const char *list_path, const char *inst);
/* How many there are. */
size_t dm_e2e_k8s_count(const char *list_path, const char *inst);

/* The list paths of every kind the plugin makes, NULL-ended. */
extern const char *const dm_e2e_k8s_kinds[];

/* The one object of a kind labelled with inst (new reference); fails
 * unless there is exactly one. */
json_t *dm_e2e_k8s_only(const char *list_path, const char *inst);
/* Exactly one of each kind the plugin makes (pods: the one running). */
void dm_e2e_k8s_expect_one_of_each(const char *inst);

/* Through the REST API as tok: wait (bounded) until inst is ERROR; its
 * detail says ERROR and its newest event (to ERROR, by system) has a
 * reason holding every needle (NULL-ended). */
void dm_e2e_k8s_expect_error(const char *tok, const char *inst, const char *const needles[]);
/* POST /api/subscriptions/<sub>/retry-provision → 202. */
void dm_e2e_k8s_retry_provision(const char *tok, const char *sub);

/* The name of inst's running, ready pod other than not (may be NULL),
 * waited for (bounded); fails when there is none in time. Into out. */
void dm_e2e_k8s_wait_pod(const char *inst, const char *not, char *out, size_t cap);

#endif
