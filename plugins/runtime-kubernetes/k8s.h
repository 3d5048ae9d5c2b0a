/*
 * k8s.h — what the files of the runtime-kubernetes plugin share: the
 * connection (k8s_kubeconfig.c, k8s_token.c), the plugin state
 * (k8s_config.c), the transport (k8s_http.c), the pure mapping between a
 * workload spec and Kubernetes objects (k8s_spec.c, k8s_objects.c,
 * k8s_status.c), the parsers of quantities and timestamps (k8s_parse.c),
 * the error mapping (k8s_errors.c) and the ops (k8s.c, k8s_logs.c,
 * k8s_inventory.c). Internal.
 */
#ifndef DM_RUNTIME_K8S_H
#define DM_RUNTIME_K8S_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include <dermaga/runtime.h>

#define K8S_FIELD_MAX 254    /* a DNS-1123 subdomain plus its NUL */
#define K8S_LABEL_MAX 64     /* a DNS-1123 label (63) plus its NUL */
#define K8S_URL_MAX 512
#define K8S_MAX_PORTS 16
#define K8S_MAX_VOLUMES 16
#define K8S_CONTAINER "app" /* the one container of every pod we make */
#define K8S_MANAGER "dermaga" /* fieldManager of every apply */

#define K8S_LBL_MANAGED "app.kubernetes.io/managed-by"
#define K8S_LBL_INSTANCE "app.kubernetes.io/instance"
#define K8S_LBL_OWNER "dermaga.io/installation"
#define K8S_LBL_USER "dermaga.io/user" /* on a per-user namespace: whose it is */
#define K8S_ANN_PORT "dermaga.io/port" /* on an Ingress: the spec port it serves */

/* ---- k8s_token.c ------------------------------------------------------- */

/*
 * A bearer token read from a file (the in-cluster service account's, or a
 * kubeconfig user's tokenFile) and read again when the file's mtime changes
 * or K8S_TOKEN_REREAD_MS passed, so a rotated token is picked up without a
 * restart. Guarded by its own mutex: ops run on several threads.
 */
#define K8S_TOKEN_REREAD_MS 60000
#define K8S_TOKEN_MAX 8192

typedef struct k8s_token_file {
    char            path[K8S_URL_MAX];
    pthread_mutex_t lock;
    char           *token;    /* last good read; NULL before the first */
    time_t          mtime;
    int64_t         read_ms;  /* when it was last read (monotonic ms) */
} k8s_token_file;

/* 0, or DM_EINVAL when path is too long / DM_ENOMEM. Reads nothing yet. */
int  k8s_token_file_init(k8s_token_file *tf, const char *path, dm_err_t *err);
void k8s_token_file_free(k8s_token_file *tf);
/* The current token copied into buf (cap bytes): re-read when now_ms is
 * K8S_TOKEN_REREAD_MS past the last read or the mtime moved. A failed
 * re-read keeps the last good token. DM_EIO when no token could ever be
 * read, DM_EINVAL when it does not fit. The message never holds the token. */
int  k8s_token_file_get(k8s_token_file *tf, int64_t now_ms, char *buf, size_t cap, dm_err_t *err);

/* ---- k8s_kubeconfig.c -------------------------------------------------- */

typedef struct k8s_blob {
    unsigned char *data; /* owned; NULL when absent */
    size_t         len;
} k8s_blob;

/* Where the API server is and how to authenticate: from a kubeconfig
 * context or from the in-cluster files. Owned by the state. */
typedef struct k8s_conn {
    char     server[K8S_URL_MAX]; /* scheme://host[:port][/path], no trailing '/' */
    k8s_blob ca;                  /* PEM bundle (decoded -data, or a file's bytes) */
    k8s_blob client_cert;         /* PEM */
    k8s_blob client_key;          /* PEM */
    char    *token;               /* static bearer token, or NULL */
    char     token_path[K8S_URL_MAX]; /* token read from this file (re-read), or "" */
    char     ns[K8S_LABEL_MAX];   /* the context's namespace, or "" */
    bool     insecure;            /* the cluster's insecure-skip-tls-verify */
} k8s_conn;

void k8s_conn_free(k8s_conn *c);

/* YAML text (one document) as JSON: mappings to objects, sequences to
 * arrays, every scalar a string except unquoted true/false. *out new.
 * DM_EINVAL with the line of a syntax error. */
int k8s_yaml_to_json(const char *text, size_t len, json_t **out, dm_err_t *err);

/* Fill c from a parsed kubeconfig: the context named `context` (NULL or
 * "": current-context). Relative file names are taken from base_dir (the
 * kubeconfig's folder). DM_EINVAL naming the entry and field at fault. */
int k8s_kubeconfig_load(const json_t *kc, const char *context, const char *base_dir,
                        k8s_conn *c, dm_err_t *err);

/* Read a whole (small) file: new buffer with a NUL after len bytes. */
int k8s_read_file(const char *path, size_t max, k8s_blob *out, dm_err_t *err);

/* Standard base64 (padding optional, whitespace skipped) into a new blob. */
int k8s_base64_decode(const char *in, k8s_blob *out);
/* Standard base64 with padding: new string, NULL when out of memory. */
char *k8s_base64_encode(const unsigned char *in, size_t len);

/* ---- k8s_spec.c -------------------------------------------------------- */

typedef struct k8s_port {
    char name[64];
    int  port;
    bool udp;
    bool is_public;
} k8s_port;

typedef struct k8s_volume {
    char name[32];
    char mount[256];
    int  size_gb;
} k8s_volume;

/* The validated parts of a workload spec (dermaga/service.h). Strings and
 * json pointers are borrowed from the spec. */
typedef struct k8s_spec {
    const char   *image;
    const json_t *command;  /* array or NULL: the container's args (Docker's Cmd) */
    const json_t *entrypoint; /* array or NULL: the container's command (Docker's Entrypoint) */
    const json_t *env;      /* object or NULL */
    const json_t *health;   /* object or NULL */
    int64_t       cpu_millicores; /* 0: no limit */
    int64_t       memory_mb;      /* 0: no limit */
    int64_t       storage_gb;
    k8s_port      ports[K8S_MAX_PORTS];
    size_t        n_ports;
    k8s_volume    volumes[K8S_MAX_VOLUMES];
    size_t        n_volumes;
    char          owner[K8S_LABEL_MAX];   /* "" when the host sent none */
    char          user[K8S_LABEL_MAX];    /* the subscriber (ABI 1.5); "" when none */
    char          service[K8S_LABEL_MAX]; /* for the ingress host */
} k8s_spec;

/* True for an instance id usable as a label value and in URL paths:
 * 1..63 of [A-Za-z0-9_.-], alnum at both ends. */
bool k8s_id_ok(const char *id);
int  k8s_spec_parse(const json_t *spec, k8s_spec *out, dm_err_t *err);

/* ---- k8s_objects.c ----------------------------------------------------- */

/* The settings the object builders read (a part of the config). */
typedef struct k8s_objcfg {
    char ns[K8S_LABEL_MAX];
    char storage_class[K8S_FIELD_MAX];
    char ingress_class[K8S_FIELD_MAX];
    char base_domain[K8S_FIELD_MAX];
    char tls_secret[K8S_FIELD_MAX];
    char issuer[K8S_FIELD_MAX];
    bool run_as_non_root;
} k8s_objcfg;

/* The name of every object of instance id: "dm-" + the id lowercased,
 * other characters as '-'; when that changed or cut the id, "-<8 hex of
 * its hash>" keeps different ids apart. At most 63 bytes. */
void k8s_object_name(const char *id, char *out, size_t cap);
/* "<spec service>-<first 8 of the name part>.<base_domain>", or "" when
 * base_domain is empty. */
void k8s_ingress_host(const k8s_objcfg *cfg, const char *id, const k8s_spec *spec, char *out,
                      size_t cap);
/* labelSelector text for instance id (its label and managed-by). */
void k8s_instance_selector(const char *id, char *out, size_t cap);

/* A Namespace; user (may be NULL) labels a per-user one. */
json_t *k8s_namespace_object(const char *ns, const char *user);
json_t *k8s_secret_object(const k8s_objcfg *cfg, const char *id, const k8s_spec *spec);
/* PVC i of the spec's volumes. */
json_t *k8s_pvc_object(const k8s_objcfg *cfg, const char *id, const k8s_spec *spec, size_t i);
json_t *k8s_deployment_object(const k8s_objcfg *cfg, const char *id, const k8s_spec *spec);
/* NULL when the spec has no port (no Service needed). */
json_t *k8s_service_object(const k8s_objcfg *cfg, const char *id, const k8s_spec *spec);
/* NULL when there is no public TCP port or no base_domain. */
json_t *k8s_ingress_object(const k8s_objcfg *cfg, const char *id, const k8s_spec *spec);

/* ---- k8s_parse.c ------------------------------------------------------- */

/* A CPU quantity ("250m", "1", "0.5", "12345678n", "100u") in millicores,
 * rounded up. -1 when malformed. */
int64_t k8s_cpu_millicores(const char *q);
/* A memory quantity ("123456Ki", "12Mi", "1G", "1e3", "500") in bytes. -1
 * when malformed. */
int64_t k8s_memory_bytes(const char *q);
/* An RFC 3339 time ("2024-05-01T10:00:00Z", fraction and offset allowed)
 * in ms since the epoch; bytes consumed, 0 when s does not start with one. */
size_t  k8s_parse_time(const char *s, size_t len, int64_t *ms);
/* now as RFC 3339 UTC ("2024-05-01T10:00:00Z") into out. */
void    k8s_format_time(int64_t ms, char *out, size_t cap);

/* ---- k8s_errors.c ------------------------------------------------------ */

/* The dm_err for an API answer that is not a success: status and the
 * body's Status message (body may be NULL). verb/resource say what was
 * tried ("patch", "deployments/dm-x"). Returns the code. */
int k8s_api_error(long status, const json_t *body, const char *verb, const char *resource,
                  dm_err_t *err);

/* ---- k8s_status.c ------------------------------------------------------ */

/* The newest pod of a PodList (borrowed), by creationTimestamp; NULL. */
const json_t *k8s_newest_pod(const json_t *pod_list);
/* The endpoints of an instance's Ingress (borrowed): {"<spec port name>":
 * {"host": <rule host>, "port": 443 with TLS, else 80}}; new, or NULL when
 * the Ingress says nothing usable. */
json_t *k8s_endpoints_from_ingress(const json_t *ingress);
/* Fill out from the Deployment (NULL: none) and the instance's PodList. */
void k8s_status_from(const char *name, const json_t *deploy, const json_t *pod_list,
                     dm_runtime_status_t *out);

/* ---- k8s_config.c ------------------------------------------------------ */

typedef struct k8s_ns_entry {
    char id[K8S_LABEL_MAX];
    char ns[K8S_LABEL_MAX];
} k8s_ns_entry;

typedef struct k8s_state {
    dm_plugin_ctx_t *ctx;
    const dm_host_t *host;
    k8s_conn         conn;
    k8s_token_file   token_file;  /* used when conn.token_path is set */
    bool             has_token_file;
    bool             insecure;    /* skip TLS verification */
    long             timeout_ms;
    k8s_objcfg       obj;         /* obj.ns: the namespace, or the per-user prefix */
    bool             per_user;    /* namespace_per_user (k8s_namespace.c) */
    pthread_mutex_t  ns_lock;     /* guards the instance -> namespace cache */
    k8s_ns_entry    *ns_cache;
    size_t           ns_len, ns_cap;
} k8s_state;

extern const dm_plugin_conf_key_t k8s_conf_keys[];
int  k8s_init(dm_plugin_ctx_t *ctx, const dm_host_t *host, void **state, dm_err_t *err);
void k8s_fini(void *state);

/* ---- k8s_http.c -------------------------------------------------------- */

typedef struct k8s_resp {
    long    status;
    char   *body;
    size_t  len;
    json_t *json; /* body parsed when it is JSON */
} k8s_resp;

void k8s_resp_free(k8s_resp *r);

/* method path (starting with '/', query included) with body text (may be
 * NULL) of content_type. 0 when any answer arrived (see out->status);
 * DM_EUNAVAIL unreachable, DM_ETIMEDOUT, DM_EIO too large, DM_ENOMEM. */
int k8s_call(k8s_state *st, const char *method, const char *path, const char *content_type,
             const char *body, k8s_resp *out, dm_err_t *err);

/* Streaming GET: chunks to on_data (non-zero stops), cancelled polled at
 * least once a second; no overall timeout when follow. *status = HTTP
 * status; a non-200 body is collected into errbody (may be NULL). */
int k8s_stream(k8s_state *st, const char *path, bool follow,
               int (*on_data)(void *opaque, const char *data, size_t len),
               bool (*cancelled)(void *opaque), void *opaque, long *status, k8s_resp *errbody,
               dm_err_t *err);

/* URL-escape s into out; false when it does not fit. */
bool k8s_escape(const char *s, char *out, size_t cap);

/* ---- k8s_api.c --------------------------------------------------------- */

/* The REST path of a kind's collection in ns ("" = all namespaces for
 * list calls), e.g. "/apis/apps/v1/namespaces/ns/deployments". */
int k8s_collection_path(const char *plural, const char *ns, char *out, size_t cap);
/* PATCH path: a 409 Conflict (another writer first) is retried up to
 * K8S_CONFLICT_RETRIES times, 100 ms doubling; r holds the last answer. */
#define K8S_CONFLICT_RETRIES 3
int k8s_patch(k8s_state *st, const char *path, const char *content_type, const char *body,
              k8s_resp *r, dm_err_t *err);
/* Server-side apply of obj (its kind and name decide the path). */
int k8s_apply(k8s_state *st, const json_t *obj, dm_err_t *err);
/* GET path into r: 0 (r->json an object), DM_ENOTFOUND on 404, or error. */
int k8s_get(k8s_state *st, const char *path, const char *what, k8s_resp *r, dm_err_t *err);
/* List plural in namespace ns ("": all namespaces) with a labelSelector
 * into r. */
int k8s_list(k8s_state *st, const char *ns, const char *plural, const char *selector,
             k8s_resp *r, dm_err_t *err);
/* DELETE path; 404 is success. */
int k8s_delete(k8s_state *st, const char *path, const char *what, dm_err_t *err);

/* ---- k8s_logs.c / k8s_inventory.c -------------------------------------- */

int k8s_logs(void *state, const char *instance_id, const dm_runtime_log_opts_t *opts,
             const dm_runtime_log_sink_t *sink, dm_err_t *err);
int k8s_usage(void *state, const char *instance_id, dm_runtime_usage_t *out, dm_err_t *err);
int k8s_inventory(void *state, const char *what, const char *ns, json_t **out, dm_err_t *err);
int k8s_workloads(void *state, const char *owner, json_t **out, dm_err_t *err);
/* Fill out with the instance's PodList in ns (label selector); 0 or error. */
int k8s_list_pods(k8s_state *st, const char *ns, const char *id, k8s_resp *out, dm_err_t *err);

/* ---- k8s_namespace.c --------------------------------------------------- */

/* "<namespace>-<user>" for a per-user namespace; DM_EINVAL when the user
 * id cannot be part of a DNS label. */
int  k8s_user_namespace(const k8s_state *st, const char *user, char *out, size_t cap,
                        dm_err_t *err);
/* The namespace holding instance id: the configured one, or (per user)
 * the cached or listed one; DM_ENOTFOUND when the cluster has nothing of
 * the instance. */
int  k8s_instance_ns(k8s_state *st, const char *id, char *out, size_t cap, dm_err_t *err);
void k8s_ns_remember(k8s_state *st, const char *id, const char *ns);
void k8s_ns_forget(k8s_state *st, const char *id);

#endif /* DM_RUNTIME_K8S_H */
