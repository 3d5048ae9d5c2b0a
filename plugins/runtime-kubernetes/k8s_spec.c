/*
 * k8s_spec.c — the workload spec (dermaga/service.h) checked into k8s_spec:
 * image, command, env, ports, volumes (with their size), health, resources
 * and the owner label. Everything that ends up in an object name, a label
 * or a path is checked here, so the builders of k8s_objects.c never meet a
 * value the API server would refuse for its shape.
 */
#include <stdio.h>
#include <string.h>

#include "k8s.h"

static bool alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool k8s_id_ok(const char *id)
{
    size_t n = id != NULL ? strlen(id) : 0;
    if (n == 0 || n > 63 || !alnum(id[0]) || !alnum(id[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!alnum(id[i]) && id[i] != '-' && id[i] != '_' && id[i] != '.')
            return false;
    }
    return true;
}

/* [a-z][a-z0-9-]* of at most max bytes, not ending in '-'. */
static bool dns_label_ok(const char *s, size_t max)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > max || !(s[0] >= 'a' && s[0] <= 'z') || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

static int get_int(const json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out,
                   const char *where, dm_err_t *err)
{
    const json_t *v = json_object_get(o, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return dm_err_set(err, DM_EINVAL, "%s.%s must be an integer %lld..%lld", where, key,
                          (long long)lo, (long long)hi);
    *out = (int64_t)json_integer_value(v);
    return 0;
}

static int parse_strings(const json_t *spec, k8s_spec *out, dm_err_t *err)
{
    out->image = json_string_value(json_object_get(spec, "image"));
    if (out->image == NULL || out->image[0] == '\0' || strlen(out->image) > 512)
        return dm_err_set(err, DM_EINVAL, "spec.image must be a non-empty string");
    const json_t *cmd = json_object_get(spec, "command");
    if (cmd != NULL && !json_is_null(cmd)) {
        size_t i;
        const json_t *v;
        if (!json_is_array(cmd) || json_array_size(cmd) == 0)
            return dm_err_set(err, DM_EINVAL, "spec.command must be a non-empty array of strings");
        json_array_foreach(cmd, i, v) {
            if (!json_is_string(v))
                return dm_err_set(err, DM_EINVAL, "spec.command[%zu] must be a string", i);
        }
        out->command = cmd;
    }
    const json_t *env = json_object_get(spec, "env");
    if (env != NULL && !json_is_null(env)) {
        if (!json_is_object(env))
            return dm_err_set(err, DM_EINVAL, "spec.env must be an object of strings");
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)env, k, v) {
            /* A Secret key: [-._a-zA-Z0-9]+, at most 253. */
            bool ok = k[0] != '\0' && strlen(k) <= 253 && json_is_string(v);
            for (const char *p = k; ok && *p != '\0'; p++)
                ok = alnum(*p) || *p == '-' || *p == '_' || *p == '.';
            if (!ok)
                return dm_err_set(err, DM_EINVAL, "spec.env.%.60s must be a string named by "
                                                  "A-Z a-z 0-9 - _ .", k);
        }
        out->env = env;
    }
    const char *owner = json_string_value(json_object_get(spec, "owner"));
    if (owner != NULL && !k8s_id_ok(owner))
        return dm_err_set(err, DM_EINVAL, "spec.owner must be a label value (1..63 of A-Z a-z "
                                          "0-9 - _ ., alnum at both ends)");
    snprintf(out->owner, sizeof out->owner, "%s", owner != NULL ? owner : "");
    const char *user = json_string_value(json_object_get(spec, "user"));
    if (user != NULL && !k8s_id_ok(user))
        return dm_err_set(err, DM_EINVAL, "spec.user must be a label value (1..63 of A-Z a-z "
                                          "0-9 - _ ., alnum at both ends)");
    snprintf(out->user, sizeof out->user, "%s", user != NULL ? user : "");
    return 0;
}

static int parse_port(const json_t *p, size_t i, k8s_port *out, dm_err_t *err)
{
    const char *name = json_string_value(json_object_get(p, "name"));
    const json_t *port = json_object_get(p, "port");
    const char *proto = json_string_value(json_object_get(p, "protocol"));
    const json_t *pub = json_object_get(p, "public");
    if (name == NULL || name[0] == '\0' || strlen(name) >= sizeof out->name)
        return dm_err_set(err, DM_EINVAL, "spec.ports[%zu].name must be 1..63 bytes", i);
    if (!json_is_integer(port) || json_integer_value(port) < 1 || json_integer_value(port) > 65535)
        return dm_err_set(err, DM_EINVAL, "spec.ports[%zu].port must be 1..65535", i);
    if (proto != NULL && strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0)
        return dm_err_set(err, DM_EINVAL, "spec.ports[%zu].protocol must be tcp or udp", i);
    if (pub != NULL && !json_is_boolean(pub))
        return dm_err_set(err, DM_EINVAL, "spec.ports[%zu].public must be a boolean", i);
    snprintf(out->name, sizeof out->name, "%s", name);
    out->port = (int)json_integer_value(port);
    out->udp = proto != NULL && strcmp(proto, "udp") == 0;
    out->is_public = json_is_true(pub);
    return 0;
}

static int parse_volume(const json_t *v, size_t i, int64_t storage_gb, k8s_volume *out,
                        dm_err_t *err)
{
    const char *name = json_string_value(json_object_get(v, "name"));
    const char *mount = json_string_value(json_object_get(v, "mountPath"));
    if (!dns_label_ok(name, sizeof out->name - 1))
        return dm_err_set(err, DM_EINVAL, "spec.volumes[%zu].name must be [a-z][a-z0-9-]* of at "
                                          "most 31 bytes", i);
    if (mount == NULL || mount[0] != '/' || strlen(mount) >= sizeof out->mount)
        return dm_err_set(err, DM_EINVAL, "spec.volumes[%zu].mountPath must be an absolute path", i);
    int64_t size = storage_gb;
    char where[48];
    snprintf(where, sizeof where, "spec.volumes[%zu]", i);
    int rc = get_int(v, "sizeGb", 0, 65536, &size, where, err);
    if (rc != 0)
        return rc;
    snprintf(out->name, sizeof out->name, "%s", name);
    snprintf(out->mount, sizeof out->mount, "%s", mount);
    /* A claim of 0 bytes is refused by the API server; a plan with
     * storageGb 0 still gets the smallest volume. */
    out->size_gb = size > 0 ? (int)size : 1;
    return 0;
}

static int parse_lists(const json_t *spec, k8s_spec *out, dm_err_t *err)
{
    const json_t *ports = json_object_get(spec, "ports");
    const json_t *vols = json_object_get(spec, "volumes");
    if (ports != NULL && !json_is_null(ports) &&
        (!json_is_array(ports) || json_array_size(ports) > K8S_MAX_PORTS))
        return dm_err_set(err, DM_EINVAL, "spec.ports must be an array of at most %d",
                          K8S_MAX_PORTS);
    if (vols != NULL && !json_is_null(vols) &&
        (!json_is_array(vols) || json_array_size(vols) > K8S_MAX_VOLUMES))
        return dm_err_set(err, DM_EINVAL, "spec.volumes must be an array of at most %d",
                          K8S_MAX_VOLUMES);
    size_t i;
    const json_t *v;
    json_array_foreach(ports, i, v) {
        int rc = parse_port(v, i, &out->ports[i], err);
        if (rc != 0)
            return rc;
        out->n_ports = i + 1;
    }
    json_array_foreach(vols, i, v) {
        int rc = parse_volume(v, i, out->storage_gb, &out->volumes[i], err);
        for (size_t j = 0; rc == 0 && j < i; j++) {
            if (strcmp(out->volumes[j].name, out->volumes[i].name) == 0)
                rc = dm_err_set(err, DM_EINVAL, "spec.volumes[%zu] repeats a name", i);
        }
        if (rc != 0)
            return rc;
        out->n_volumes = i + 1;
    }
    return 0;
}

static int parse_health(const json_t *spec, k8s_spec *out, dm_err_t *err)
{
    const json_t *h = json_object_get(spec, "health");
    if (h == NULL || json_is_null(h))
        return 0;
    const char *type = json_string_value(json_object_get(h, "type"));
    if (!json_is_object(h) || type == NULL)
        return dm_err_set(err, DM_EINVAL, "spec.health must be an object with a type");
    int64_t port = 0, tmp = 0;
    int rc = get_int(h, "port", 1, 65535, &port, "spec.health", err);
    if (rc == 0)
        rc = get_int(h, "initialDelayS", 0, 3600, &tmp, "spec.health", err);
    if (rc == 0)
        rc = get_int(h, "periodS", 1, 3600, &tmp, "spec.health", err);
    if (rc != 0)
        return rc;
    bool needs_port = strcmp(type, "http") == 0 || strcmp(type, "tcp") == 0;
    if (needs_port && port == 0)
        return dm_err_set(err, DM_EINVAL, "spec.health.port is required for type %s", type);
    if (!needs_port && strcmp(type, "exec") != 0)
        return dm_err_set(err, DM_EINVAL, "spec.health.type must be http, tcp or exec");
    if (strcmp(type, "exec") == 0 && !json_is_array(json_object_get(h, "command")))
        return dm_err_set(err, DM_EINVAL, "spec.health.command must be an array for type exec");
    const char *path = json_string_value(json_object_get(h, "path"));
    if (path != NULL && path[0] != '/')
        return dm_err_set(err, DM_EINVAL, "spec.health.path must start with '/'");
    out->health = h;
    return 0;
}

/* The ingress host's first part: spec "service" when the host sends one,
 * else the image's repository name ("docker.io/library/redis:7" → "redis"),
 * cut to a DNS label; "app" when nothing usable is left. */
static void service_name(const json_t *spec, const char *image, char *out, size_t cap)
{
    const char *s = json_string_value(json_object_get(spec, "service"));
    if (s == NULL) {
        const char *slash = strrchr(image, '/');
        s = slash != NULL ? slash + 1 : image;
    }
    size_t o = 0;
    for (const char *p = s; *p != '\0' && *p != ':' && *p != '@' && o + 1 < cap && o < 20; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            c = '-';
        if (o == 0 && !(c >= 'a' && c <= 'z'))
            continue;
        out[o++] = c;
    }
    while (o > 0 && out[o - 1] == '-')
        o--;
    out[o] = '\0';
    if (o == 0)
        snprintf(out, cap, "app");
}

int k8s_spec_parse(const json_t *spec, k8s_spec *out, dm_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(spec))
        return dm_err_set(err, DM_EINVAL, "spec must be an object");
    int rc = parse_strings(spec, out, err);
    const json_t *r = json_object_get(spec, "resources");
    if (rc == 0 && r != NULL && !json_is_null(r) && !json_is_object(r))
        rc = dm_err_set(err, DM_EINVAL, "spec.resources must be an object");
    if (rc == 0)
        rc = get_int(r, "cpuMillicores", 0, 1024000, &out->cpu_millicores, "spec.resources", err);
    if (rc == 0)
        rc = get_int(r, "memoryMb", 0, 4194304, &out->memory_mb, "spec.resources", err);
    if (rc == 0)
        rc = get_int(r, "storageGb", 0, 65536, &out->storage_gb, "spec.resources", err);
    if (rc == 0)
        rc = parse_lists(spec, out, err);
    if (rc == 0)
        rc = parse_health(spec, out, err);
    if (rc == 0)
        service_name(spec, out->image, out->service, sizeof out->service);
    return rc;
}
