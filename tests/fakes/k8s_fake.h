/*
 * k8s_fake.h — the fake Kubernetes API server (tests/fakes/k8s, Node.js)
 * as a child process of a C test, and a small libcurl client for it and
 * its /fake/ control API. tests/fakes/k8s/README.md says what it serves.
 *
 * Typical use (a runtime-kubernetes test):
 *
 *     dm_k8s_fake f;
 *     dm_k8s_fake_opts o = { .token = "t", .https = true };
 *     dm_k8s_fake_start(&f, &o);
 *     // plugin config / kubeconfig: server f.url, CA file f.ca_path, token "t"
 *     ... the plugin applies a Deployment ...
 *     long code;
 *     char *reqs = dm_k8s_fake_call(&f, "GET", "/fake/requests", NULL, NULL, &code);
 *     free(reqs);
 *     dm_k8s_fake_stop(&f);
 */
#ifndef DM_K8S_FAKE_H
#define DM_K8S_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

typedef struct dm_k8s_fake_opts {
    const char        *token;      /* --token; NULL: no bearer check */
    bool               https;      /* a throwaway CA and certificate (gen-certs.sh) */
    int                pod_start_ms; /* --pod-start-ms; 0: 50 (fast tests) */
    const char *const *args;       /* more options (--deny …, --no-metrics), NULL-ended, or NULL */
} dm_k8s_fake_opts;

typedef struct dm_k8s_fake {
    pid_t pid;           /* 0 once stopped */
    int   port;
    char  url[64];       /* http(s)://127.0.0.1:PORT, no trailing slash */
    char  ca_path[320];  /* the CA to trust with https, else "" */
    char  token[128];    /* "" without one */
    char  cert_dir[256]; /* removed on stop; "" without https */
    char  err_path[256]; /* its stderr, for failure messages */
} dm_k8s_fake;

/*
 * Start `node tests/fakes/k8s/server.mjs` (opts may be NULL) and wait for
 * its "LISTENING <port>" (10 s). Fails the current test when node, the npm
 * packages (scripts/test.sh runs `npm ci` in tests/fakes/k8s) or openssl
 * are missing, or when it does not start; its stderr is in the message. The
 * process gets SIGKILL if the test process dies.
 */
void dm_k8s_fake_start(dm_k8s_fake *f, const dm_k8s_fake_opts *opts);

/*
 * One request to the fake with its token (and CA): method, path (with the
 * query), optional content type and body. Returns the response body (new
 * string, caller frees, never NULL) and sets *status (0 when no answer).
 */
char *dm_k8s_fake_call(const dm_k8s_fake *f, const char *method, const char *path,
                       const char *content_type, const char *body, long *status);

/* Checked calls for tests: GET path as JSON (new reference; fails unless
 * 200), a request that must answer 200, and the number of items a list
 * path answers. */
json_t *dm_k8s_fake_json(const dm_k8s_fake *f, const char *path);
void    dm_k8s_fake_send(const dm_k8s_fake *f, const char *method, const char *path,
                         const char *type, const char *body);
size_t  dm_k8s_fake_count(const dm_k8s_fake *f, const char *path);

/* SIGTERM, wait, remove the certificates and the stderr file. Idempotent. */
void dm_k8s_fake_stop(dm_k8s_fake *f);

#endif
