/*
 * k8s_config.c — runtime-kubernetes's configuration: the declared keys and
 * init/fini, which check them (refusing with the key and what is wrong),
 * load the connection from a kubeconfig or the in-cluster service account,
 * and build the k8s_state. No API call here: a cluster that is down at
 * start must not refuse the plugin; each op says DM_EUNAVAIL instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s.h"

/* Overridable only at compile time: the unit test builds this file with a
 * folder of its own to check the in-cluster path. */
#ifndef SA_DIR
#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#endif

/* Keys are snake_case: the plugin loader accepts only [a-z0-9_]+. */
const dm_plugin_conf_key_t k8s_conf_keys[] = {
    { "kubeconfig", DM_CONF_STRING, 0, "\"\"",
      "path of a kubeconfig file (token or client-certificate users); or set in_cluster" },
    { "context", DM_CONF_STRING, 0, "\"\"",
      "kubeconfig context to use; empty: its current-context" },
    { "in_cluster", DM_CONF_BOOL, 0, "false",
      "use the pod's service account (" SA_DIR "), token re-read when it rotates" },
    { "namespace", DM_CONF_STRING, 0, "\"\"",
      "namespace of every workload; empty: the in-cluster or context namespace, else dermaga" },
    { "namespace_per_user", DM_CONF_BOOL, 0, "false",
      "one namespace per user, <namespace>-<user id>, created on demand" },
    { "storage_class", DM_CONF_STRING, 0, "\"\"",
      "storageClassName of volume claims; empty: the cluster's default class" },
    { "ingress_class", DM_CONF_STRING, 0, "\"traefik\"", "ingressClassName of Ingresses" },
    { "base_domain", DM_CONF_STRING, 0, "\"\"",
      "Ingress hosts are <service>-<short id>.<base_domain>; empty: no Ingress" },
    { "tls_secret", DM_CONF_STRING, 0, "\"\"",
      "TLS Secret (e.g. a wildcard certificate) for every Ingress" },
    { "cert_manager_issuer", DM_CONF_STRING, 0, "\"\"",
      "cert-manager ClusterIssuer that makes each Ingress a certificate" },
    { "insecure_skip_tls_verify", DM_CONF_BOOL, 0, "false",
      "do not verify the API server's certificate (tests only; logged as a warning)" },
    { "request_timeout_ms", DM_CONF_INT, 0, "30000",
      "overall timeout of one API request (not a followed log); 1000..600000" },
    { "run_as_non_root", DM_CONF_BOOL, 0, "true",
      "pods must run as a non-root user (false for images that start as root)" },
    DM_CONF_END
};

/* A DNS-1123 label: 1..63 of [a-z0-9-], alnum at both ends. */
static bool dns_label(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    }
    return true;
}

/* A DNS-1123 subdomain: dot-separated labels, at most 253. */
static bool dns_subdomain(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    char buf[254];
    memcpy(buf, s, n + 1);
    char *save = NULL;
    size_t parts = 0;
    for (char *p = strtok_r(buf, ".", &save); p != NULL; p = strtok_r(NULL, ".", &save)) {
        if (!dns_label(p))
            return false;
        parts++;
    }
    return parts > 0 && s[0] != '.' && s[n - 1] != '.' && strstr(s, "..") == NULL;
}

static const char *cfg_str(const json_t *cfg, const char *key)
{
    const char *s = json_string_value(json_object_get(cfg, key));
    return s != NULL ? s : "";
}

/* Copy an optional DNS name key into out; "" is fine. */
static int dns_key(const json_t *cfg, const char *key, bool label, char *out, size_t cap,
                   dm_err_t *err)
{
    const char *v = cfg_str(cfg, key);
    if (v[0] != '\0' && (strlen(v) >= cap || !(label ? dns_label(v) : dns_subdomain(v))))
        return dm_err_set(err, DM_EINVAL, "config: %s \"%.80s\" must be a DNS-1123 %s", key, v,
                          label ? "label (a-z 0-9 -, at most 63)" : "name (a-z 0-9 - .)");
    snprintf(out, cap, "%s", v);
    return 0;
}

static int load_in_cluster(k8s_state *st, dm_err_t *err)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (host == NULL || host[0] == '\0')
        return dm_err_set(err, DM_EINVAL, "config: in_cluster is true but "
                                          "KUBERNETES_SERVICE_HOST is not set (not in a pod?)");
    bool v6 = strchr(host, ':') != NULL;
    int n = snprintf(st->conn.server, sizeof st->conn.server, "https://%s%s%s:%s", v6 ? "[" : "",
                     host, v6 ? "]" : "", port != NULL && port[0] != '\0' ? port : "443");
    if (n < 0 || (size_t)n >= sizeof st->conn.server)
        return dm_err_set(err, DM_EINVAL, "config: in_cluster: KUBERNETES_SERVICE_HOST too long");
    /* Read once: the host's HTTP client takes the CA as PEM bytes. */
    dm_err_t e;
    if (k8s_read_file(SA_DIR "/ca.crt", 1024 * 1024, &st->conn.ca, &e) != 0)
        return dm_err_set(err, DM_EINVAL, "config: in_cluster: %s", e.msg);
    snprintf(st->conn.token_path, sizeof st->conn.token_path, "%s", SA_DIR "/token");
    k8s_blob ns = { 0 };
    if (k8s_read_file(SA_DIR "/namespace", 256, &ns, NULL) == 0) {
        size_t len = strcspn((const char *)ns.data, "\r\n ");
        if (len > 0 && len < sizeof st->conn.ns)
            snprintf(st->conn.ns, sizeof st->conn.ns, "%.*s", (int)len, (const char *)ns.data);
        free(ns.data);
    }
    return 0;
}

static int load_kubeconfig(k8s_state *st, const char *path, const char *context, dm_err_t *err)
{
    k8s_blob text = { 0 };
    dm_err_t e;
    if (k8s_read_file(path, 4u * 1024u * 1024u, &text, &e) != 0)
        return dm_err_set(err, DM_EINVAL, "config: kubeconfig: %s", e.msg);
    json_t *kc = NULL;
    int rc = k8s_yaml_to_json((const char *)text.data, text.len, &kc, &e);
    free(text.data);
    if (rc != 0)
        return dm_err_set(err, DM_EINVAL, "config: kubeconfig %.200s: %s", path, e.msg);
    char dir[K8S_URL_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    rc = k8s_kubeconfig_load(kc, context, dir, &st->conn, &e);
    json_decref(kc);
    if (rc != 0)
        return dm_err_set(err, rc, "config: %s", e.msg);
    return 0;
}

static int read_config(k8s_state *st, dm_err_t *err)
{
    const json_t *cfg = st->host->config(st->ctx);
    const char *kubeconfig = cfg_str(cfg, "kubeconfig");
    bool in_cluster = json_is_true(json_object_get(cfg, "in_cluster"));
    if (in_cluster == (kubeconfig[0] != '\0'))
        return dm_err_set(err, DM_EINVAL, "config: set exactly one of kubeconfig (a path) and "
                                          "in_cluster (true)");
    if (in_cluster && cfg_str(cfg, "context")[0] != '\0')
        return dm_err_set(err, DM_EINVAL, "config: context needs kubeconfig, not in_cluster");
    st->per_user = json_is_true(json_object_get(cfg, "namespace_per_user"));
    json_int_t to = json_integer_value(json_object_get(cfg, "request_timeout_ms"));
    if (to < 1000 || to > 600000)
        return dm_err_set(err, DM_EINVAL, "config: request_timeout_ms must be 1000..600000");
    st->timeout_ms = (long)to;
    int rc = in_cluster ? load_in_cluster(st, err)
                        : load_kubeconfig(st, kubeconfig, cfg_str(cfg, "context"), err);
    if (rc != 0)
        return rc;
    rc = dns_key(cfg, "namespace", true, st->obj.ns, sizeof st->obj.ns, err);
    if (rc == 0 && st->obj.ns[0] == '\0')
        snprintf(st->obj.ns, sizeof st->obj.ns, "%s",
                 dns_label(st->conn.ns) ? st->conn.ns : "dermaga");
    /* "<namespace>-<uuid>" must stay a DNS label (63). */
    if (rc == 0 && st->per_user && strlen(st->obj.ns) > K8S_LABEL_MAX - 2 - 36)
        rc = dm_err_set(err, DM_EINVAL, "config: with namespace_per_user, namespace is a prefix "
                                        "of at most %d bytes", K8S_LABEL_MAX - 2 - 36);
    if (rc == 0)
        rc = dns_key(cfg, "storage_class", false, st->obj.storage_class,
                     sizeof st->obj.storage_class, err);
    if (rc == 0)
        rc = dns_key(cfg, "ingress_class", false, st->obj.ingress_class,
                     sizeof st->obj.ingress_class, err);
    if (rc == 0 && st->obj.ingress_class[0] == '\0')
        rc = dm_err_set(err, DM_EINVAL, "config: ingress_class must not be empty");
    if (rc == 0)
        rc = dns_key(cfg, "base_domain", false, st->obj.base_domain, sizeof st->obj.base_domain,
                     err);
    /* The host "<service>-<8>.<base_domain>" must stay within 253. */
    if (rc == 0 && strlen(st->obj.base_domain) > 200)
        rc = dm_err_set(err, DM_EINVAL, "config: base_domain must be at most 200 bytes");
    if (rc == 0)
        rc = dns_key(cfg, "tls_secret", false, st->obj.tls_secret, sizeof st->obj.tls_secret, err);
    if (rc == 0)
        rc = dns_key(cfg, "cert_manager_issuer", false, st->obj.issuer, sizeof st->obj.issuer,
                     err);
    if (rc == 0 && st->obj.tls_secret[0] != '\0' && st->obj.issuer[0] != '\0')
        rc = dm_err_set(err, DM_EINVAL, "config: set tls_secret or cert_manager_issuer, not both");
    if (rc != 0)
        return rc;
    st->obj.run_as_non_root = json_is_true(json_object_get(cfg, "run_as_non_root"));
    st->insecure = st->conn.insecure || json_is_true(json_object_get(cfg,
                                                                     "insecure_skip_tls_verify"));
    if (st->conn.token_path[0] != '\0') {
        rc = k8s_token_file_init(&st->token_file, st->conn.token_path, err);
        st->has_token_file = rc == 0;
        char probe[K8S_TOKEN_MAX];
        dm_err_t e;
        /* Read once now so a missing token refuses the plugin at start. */
        if (rc == 0 && k8s_token_file_get(&st->token_file, 0, probe, sizeof probe, &e) != 0)
            rc = dm_err_set(err, DM_EINVAL, "config: %s", e.msg);
        memset(probe, 0, sizeof probe);
    }
    return rc;
}

void k8s_fini(void *state)
{
    k8s_state *st = state;
    if (st == NULL)
        return;
    if (st->has_token_file)
        k8s_token_file_free(&st->token_file);
    k8s_conn_free(&st->conn);
    free(st->ns_cache); /* k8s_namespace.c's cache: plain entries */
    pthread_mutex_destroy(&st->ns_lock);
    free(st);
}

int k8s_init(dm_plugin_ctx_t *ctx, const dm_host_t *host, void **state, dm_err_t *err)
{
    k8s_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    st->ctx = ctx;
    st->host = host;
    pthread_mutex_init(&st->ns_lock, NULL);
    int rc = read_config(st, err);
    if (rc != 0) {
        k8s_fini(st);
        return rc;
    }
    if (st->insecure)
        host->log(ctx, DM_HOST_LOG_WARN, "TLS verification of the API server %s is OFF "
                                         "(insecure_skip_tls_verify): anyone on the path can "
                                         "impersonate it", st->conn.server);
    host->log(ctx, DM_HOST_LOG_INFO, "API server %s, namespace %s%s, ingress class %s%s%s",
              st->conn.server, st->obj.ns, st->per_user ? "-<user id>" : "", st->obj.ingress_class,
              st->obj.base_domain[0] != '\0' ? ", hosts under " : ", no Ingress (no base_domain)",
              st->obj.base_domain);
    *state = st;
    return 0;
}
