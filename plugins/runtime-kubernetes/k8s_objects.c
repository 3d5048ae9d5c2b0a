/*
 * k8s_objects.c — the Kubernetes objects of one instance, built from its
 * spec as JSON for server-side apply: Namespace, Secret (the env, which
 * holds the generated credentials), one PersistentVolumeClaim per volume,
 * Deployment, Service and Ingress. Pure: no I/O, so tests check them
 * field by field. Every object carries the three labels that let status,
 * terminate and workloads find it again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s.h"

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

void k8s_object_name(const char *id, char *out, size_t cap)
{
    /* 63 is the limit of a DNS-1123 label (Service names, and the pod host
     * name a Deployment's pods derive from theirs). */
    char buf[64] = "dm-";
    size_t o = 3;
    bool changed = false;
    for (const char *p = id; *p != '\0'; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
            changed = true;
        } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            c = '-';
            changed = true;
        }
        if (o >= 63 - 9) { /* keep room for "-<8 hex>" */
            changed = true;
            break;
        }
        buf[o++] = c;
    }
    while (o > 3 && buf[o - 1] == '-')
        o--;
    buf[o] = '\0';
    if (changed)
        snprintf(buf + o, sizeof buf - o, "-%08x", fnv1a(id));
    snprintf(out, cap, "%s", buf);
}

void k8s_ingress_host(const k8s_objcfg *cfg, const char *id, const k8s_spec *spec, char *out,
                      size_t cap)
{
    if (cfg->base_domain[0] == '\0') {
        snprintf(out, cap, "%s", "");
        return;
    }
    char name[64];
    k8s_object_name(id, name, sizeof name);
    /* The short id: 8 characters after "dm-", enough to tell instances of
     * one service apart in a URL; the full name stays in the objects. */
    char shortid[9];
    snprintf(shortid, sizeof shortid, "%s", name + 3);
    size_t n = strlen(shortid);
    while (n > 0 && shortid[n - 1] == '-')
        shortid[--n] = '\0';
    snprintf(out, cap, "%s-%s.%s", spec->service, shortid, cfg->base_domain);
}

void k8s_instance_selector(const char *id, char *out, size_t cap)
{
    snprintf(out, cap, K8S_LBL_MANAGED "=dermaga," K8S_LBL_INSTANCE "=%s", id);
}

/* obj with "spec": sp; both released and NULL when either is NULL (out of
 * memory). */
static json_t *with_spec(json_t *obj, json_t *sp)
{
    if (obj == NULL || sp == NULL || json_object_set_new(obj, "spec", sp) != 0) {
        json_decref(obj);
        json_decref(sp);
        return NULL;
    }
    return obj;
}

static json_t *labels(const char *id, const k8s_spec *spec)
{
    json_t *l = json_pack("{s:s, s:s}", K8S_LBL_MANAGED, "dermaga", K8S_LBL_INSTANCE, id);
    if (l != NULL && spec->owner[0] != '\0')
        json_object_set_new(l, K8S_LBL_OWNER, json_string(spec->owner));
    return l;
}

/* {"apiVersion","kind","metadata":{"name","namespace","labels"}}. */
static json_t *object(const k8s_objcfg *cfg, const char *api, const char *kind,
                      const char *name, const char *id, const k8s_spec *spec)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:o*}}", "apiVersion", api, "kind", kind,
                     "metadata", "name", name, "namespace", cfg->ns, "labels",
                     labels(id, spec));
}

json_t *k8s_namespace_object(const char *ns, const char *user)
{
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}}", "apiVersion", "v1", "kind",
                          "Namespace", "metadata", "name", ns, "labels", K8S_LBL_MANAGED,
                          "dermaga");
    json_t *labels = json_object_get(json_object_get(o, "metadata"), "labels");
    if (o != NULL && user != NULL && json_object_set_new(labels, K8S_LBL_USER,
                                                         json_string(user)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *k8s_secret_object(const k8s_objcfg *cfg, const char *id, const k8s_spec *spec)
{
    char name[64];
    k8s_object_name(id, name, sizeof name);
    json_t *s = object(cfg, "v1", "Secret", name, id, spec);
    json_t *data = json_object();
    if (s == NULL || data == NULL || json_object_set_new(s, "data", data) != 0) {
        json_decref(s);
        return NULL;
    }
    json_object_set_new(s, "type", json_string("Opaque"));
    /* data (base64) rather than stringData: an apply owns what it sends,
     * and stringData is never stored, so a key dropped from the spec would
     * otherwise linger. */
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)spec->env, k, v) {
        const char *text = json_string_value(v);
        char *b64 = k8s_base64_encode((const unsigned char *)text, strlen(text));
        if (b64 == NULL || json_object_set_new(data, k, json_string(b64)) != 0) {
            free(b64);
            json_decref(s);
            return NULL;
        }
        free(b64);
    }
    return s;
}

json_t *k8s_pvc_object(const k8s_objcfg *cfg, const char *id, const k8s_spec *spec, size_t i)
{
    char base[64], name[K8S_FIELD_MAX], size[32];
    k8s_object_name(id, base, sizeof base);
    snprintf(name, sizeof name, "%s-%s", base, spec->volumes[i].name);
    snprintf(size, sizeof size, "%dGi", spec->volumes[i].size_gb);
    json_t *p = object(cfg, "v1", "PersistentVolumeClaim", name, id, spec);
    json_t *ps = json_pack("{s:[s], s:{s:{s:s}}}", "accessModes", "ReadWriteOnce", "resources",
                           "requests", "storage", size);
    if (ps != NULL && cfg->storage_class[0] != '\0')
        json_object_set_new(ps, "storageClassName", json_string(cfg->storage_class));
    return with_spec(p, ps);
}

/* IANA_SVC_NAME, what a port name must be: 1..15 of [a-z0-9-], a letter
 * somewhere, no '-' at an end or twice in a row. */
static bool port_name_ok(const char *s)
{
    size_t n = strlen(s);
    bool letter = false;
    if (n == 0 || n > 15 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'a' && c <= 'z')
            letter = true;
        else if (!((c >= '0' && c <= '9') || (c == '-' && s[i + 1] != '-')))
            return false;
    }
    return letter;
}

static void port_name(const k8s_port *p, char *out, size_t cap)
{
    if (port_name_ok(p->name))
        snprintf(out, cap, "%s", p->name);
    else
        snprintf(out, cap, "p%d", p->port);
}

static json_t *resources(const k8s_spec *spec)
{
    /* Requests equal to limits: the plan is what the user pays for, so the
     * pod gets it guaranteed (QoS Guaranteed) and no more. */
    json_t *lim = json_object();
    char q[32];
    if (spec->cpu_millicores > 0) {
        snprintf(q, sizeof q, "%lldm", (long long)spec->cpu_millicores);
        json_object_set_new(lim, "cpu", json_string(q));
    }
    if (spec->memory_mb > 0) {
        snprintf(q, sizeof q, "%lldMi", (long long)spec->memory_mb);
        json_object_set_new(lim, "memory", json_string(q));
    }
    return json_pack("{s:O, s:o}", "requests", lim, "limits", lim);
}

/* One probe from the template's health, or NULL. Liveness gives a slow
 * start three times the readiness allowance before it restarts the pod. */
static json_t *probe(const k8s_spec *spec, bool liveness)
{
    const json_t *h = spec->health;
    if (h == NULL)
        return NULL;
    const char *type = json_string_value(json_object_get(h, "type"));
    json_int_t port = json_integer_value(json_object_get(h, "port"));
    const json_t *d = json_object_get(h, "initialDelayS");
    const json_t *p = json_object_get(h, "periodS");
    json_t *pr = json_pack("{s:I, s:I, s:i}", "initialDelaySeconds",
                           d != NULL ? json_integer_value(d) : (json_int_t)5, "periodSeconds",
                           p != NULL ? json_integer_value(p) : (json_int_t)10,
                           "failureThreshold", liveness ? 9 : 3);
    if (pr == NULL)
        return NULL;
    if (strcmp(type, "http") == 0) {
        const char *path = json_string_value(json_object_get(h, "path"));
        json_object_set_new(pr, "httpGet", json_pack("{s:s, s:I}", "path",
                                                      path != NULL ? path : "/", "port", port));
    } else if (strcmp(type, "tcp") == 0) {
        json_object_set_new(pr, "tcpSocket", json_pack("{s:I}", "port", port));
    } else {
        json_object_set_new(pr, "exec", json_pack("{s:O}", "command",
                                                  json_object_get(h, "command")));
    }
    return pr;
}

static json_t *container(const k8s_objcfg *cfg, const char *name, const k8s_spec *spec)
{
    json_t *c = json_pack(
        "{s:s, s:s, s:o, s:{s:b, s:b, s:{s:[s]}, s:{s:s}}}", "name", K8S_CONTAINER, "image",
        spec->image, "resources", resources(spec), "securityContext", "allowPrivilegeEscalation",
        0, "runAsNonRoot", cfg->run_as_non_root, "capabilities", "drop", "ALL",
        "seccompProfile", "type", "RuntimeDefault");
    if (c == NULL)
        return NULL;
    if (!cfg->run_as_non_root)
        json_object_del(json_object_get(c, "securityContext"), "runAsNonRoot");
    if (spec->command != NULL)
        json_object_set(c, "command", (json_t *)spec->command);
    if (spec->env != NULL && json_object_size(spec->env) > 0)
        json_object_set_new(c, "envFrom", json_pack("[{s:{s:s}}]", "secretRef", "name", name));
    json_t *ports = json_array();
    for (size_t i = 0; i < spec->n_ports; i++) {
        char pn[16];
        port_name(&spec->ports[i], pn, sizeof pn);
        json_array_append_new(ports, json_pack("{s:s, s:i, s:s}", "name", pn, "containerPort",
                                               spec->ports[i].port, "protocol",
                                               spec->ports[i].udp ? "UDP" : "TCP"));
    }
    json_object_set_new(c, "ports", ports);
    json_t *mounts = json_array();
    for (size_t i = 0; i < spec->n_volumes; i++)
        json_array_append_new(mounts, json_pack("{s:s, s:s}", "name", spec->volumes[i].name,
                                                "mountPath", spec->volumes[i].mount));
    json_object_set_new(c, "volumeMounts", mounts);
    json_t *live = probe(spec, true), *ready = probe(spec, false);
    if (live != NULL)
        json_object_set_new(c, "livenessProbe", live);
    if (ready != NULL)
        json_object_set_new(c, "readinessProbe", ready);
    return c;
}

json_t *k8s_deployment_object(const k8s_objcfg *cfg, const char *id, const k8s_spec *spec)
{
    char name[64];
    k8s_object_name(id, name, sizeof name);
    json_t *d = object(cfg, "apps/v1", "Deployment", name, id, spec);
    json_t *vols = json_array();
    for (size_t i = 0; vols != NULL && i < spec->n_volumes; i++) {
        char claim[K8S_FIELD_MAX];
        snprintf(claim, sizeof claim, "%s-%s", name, spec->volumes[i].name);
        json_array_append_new(vols, json_pack("{s:s, s:{s:s}}", "name", spec->volumes[i].name,
                                              "persistentVolumeClaim", "claimName", claim));
    }
    /* Recreate when a volume is mounted: a ReadWriteOnce claim cannot be
     * attached to the old and the new pod at once, so a rolling update
     * would hang with the new pod Pending. */
    json_t *sp = json_pack(
        "{s:i, s:{s:o}, s:{s:s}, s:{s:{s:o}, s:{s:b, s:{s:{s:s}}, s:[o], s:o}}}", "replicas", 1,
        "selector", "matchLabels", json_pack("{s:s}", K8S_LBL_INSTANCE, id), "strategy", "type",
        spec->n_volumes > 0 ? "Recreate" : "RollingUpdate", "template", "metadata", "labels",
        labels(id, spec), "spec", "automountServiceAccountToken", 0, "securityContext",
        "seccompProfile", "type", "RuntimeDefault", "containers", container(cfg, name, spec),
        "volumes", vols);
    return with_spec(d, sp);
}

json_t *k8s_service_object(const k8s_objcfg *cfg, const char *id, const k8s_spec *spec)
{
    if (spec->n_ports == 0)
        return NULL;
    char name[64];
    k8s_object_name(id, name, sizeof name);
    json_t *s = object(cfg, "v1", "Service", name, id, spec);
    json_t *ports = json_array();
    for (size_t i = 0; i < spec->n_ports; i++) {
        char pn[16];
        port_name(&spec->ports[i], pn, sizeof pn);
        json_array_append_new(ports, json_pack("{s:s, s:i, s:s, s:s}", "name", pn, "port",
                                               spec->ports[i].port, "targetPort", pn,
                                               "protocol", spec->ports[i].udp ? "UDP" : "TCP"));
    }
    json_t *sp = json_pack("{s:s, s:{s:s}, s:o}", "type", "ClusterIP", "selector",
                           K8S_LBL_INSTANCE, id, "ports", ports);
    return with_spec(s, sp);
}

json_t *k8s_ingress_object(const k8s_objcfg *cfg, const char *id, const k8s_spec *spec)
{
    const k8s_port *pub = NULL;
    for (size_t i = 0; pub == NULL && i < spec->n_ports; i++) {
        if (spec->ports[i].is_public && !spec->ports[i].udp)
            pub = &spec->ports[i];
    }
    if (pub == NULL || cfg->base_domain[0] == '\0')
        return NULL;
    char name[64], host[K8S_FIELD_MAX + 80];
    k8s_object_name(id, name, sizeof name);
    k8s_ingress_host(cfg, id, spec, host, sizeof host);
    json_t *ing = object(cfg, "networking.k8s.io/v1", "Ingress", name, id, spec);
    json_t *sp = json_pack(
        "{s:s, s:[{s:s, s:{s:[{s:s, s:s, s:{s:{s:s, s:{s:i}}}}]}}]}", "ingressClassName",
        cfg->ingress_class, "rules", "host", host, "http", "paths", "path", "/", "pathType",
        "Prefix", "backend", "service", "name", name, "port", "number", pub->port);
    if (ing == NULL || sp == NULL)
        return with_spec(ing, sp); /* releases both */
    /* The spec's port name, which status reports the endpoint under (the
     * Service's port may carry another: see port_name). */
    json_t *ann = json_pack("{s:s}", K8S_ANN_PORT, pub->name);
    json_object_set_new(json_object_get(ing, "metadata"), "annotations", ann);
    const char *secret = cfg->tls_secret;
    char issued[80];
    if (cfg->issuer[0] != '\0') {
        /* cert-manager makes the certificate into this Secret. */
        json_object_set_new(ann, "cert-manager.io/cluster-issuer", json_string(cfg->issuer));
        snprintf(issued, sizeof issued, "%s-tls", name);
        secret = issued;
    }
    if (secret[0] != '\0')
        json_object_set_new(sp, "tls", json_pack("[{s:[s], s:s}]", "hosts", host, "secretName",
                                                 secret));
    return with_spec(ing, sp);
}
