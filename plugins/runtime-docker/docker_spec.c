/*
 * docker_spec.c — the mapping between Dermaga and the engine's objects:
 * the workload spec (dermaga/service.h) checked into dk_spec, the create
 * body with our labels and limits, whether an existing container still
 * matches a spec, and an inspect answer read back as dm_runtime_status_t.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker.h"

#define PORT_LABEL "dermaga.port."

bool dk_id_ok(const char *id)
{
    size_t n = id != NULL ? strlen(id) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '-' && c != '_' && c != '.')))
            return false;
    }
    return true;
}

/* [a-z0-9][a-z0-9_.-]{0,62}: usable inside a volume name and a label key. */
static bool short_name_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  (i > 0 && (c == '-' || c == '_' || c == '.'));
        if (!ok)
            return false;
    }
    return true;
}

static int parse_resources(const json_t *spec, dk_spec *out, dm_err_t *err)
{
    const json_t *r = json_object_get(spec, "resources");
    if (r == NULL || json_is_null(r))
        return 0;
    if (!json_is_object(r))
        return dm_err_set(err, DM_EINVAL, "spec.resources must be an object");
    const json_t *mem = json_object_get(r, "memoryMb");
    const json_t *cpu = json_object_get(r, "cpuMillicores");
    if (mem != NULL && (!json_is_integer(mem) || json_integer_value(mem) < 0 ||
                        json_integer_value(mem) > 4 * 1024 * 1024 ||
                        (json_integer_value(mem) > 0 && json_integer_value(mem) < 6)))
        return dm_err_set(err, DM_EINVAL, "spec.resources.memoryMb must be 0 or 6..4194304");
    if (cpu != NULL && (!json_is_integer(cpu) || json_integer_value(cpu) < 0 ||
                        json_integer_value(cpu) > 1024 * 1000))
        return dm_err_set(err, DM_EINVAL, "spec.resources.cpuMillicores must be 0..1024000");
    out->memory_bytes = (int64_t)json_integer_value(mem) * 1024 * 1024;
    out->nano_cpus = (int64_t)json_integer_value(cpu) * 1000000;
    return 0;
}

/* spec.<key>: absent or null (*out NULL), else a non-empty array of strings. */
static int parse_argv(const json_t *spec, const char *key, const json_t **out, dm_err_t *err)
{
    const json_t *cmd = json_object_get(spec, key);
    if (cmd == NULL || json_is_null(cmd))
        return 0;
    if (!json_is_array(cmd) || json_array_size(cmd) == 0)
        return dm_err_set(err, DM_EINVAL, "spec.%s must be a non-empty array of strings", key);
    size_t i;
    const json_t *v;
    json_array_foreach(cmd, i, v) {
        if (!json_is_string(v))
            return dm_err_set(err, DM_EINVAL, "spec.%s[%zu] must be a string", key, i);
    }
    *out = cmd;
    return 0;
}

static int parse_command_env(const json_t *spec, dk_spec *out, dm_err_t *err)
{
    int rc = parse_argv(spec, "command", &out->command, err);
    if (rc == 0)
        rc = parse_argv(spec, "entrypoint", &out->entrypoint, err);
    if (rc != 0)
        return rc;
    const json_t *env = json_object_get(spec, "env");
    if (env != NULL && !json_is_null(env)) {
        if (!json_is_object(env))
            return dm_err_set(err, DM_EINVAL, "spec.env must be an object of strings");
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)env, k, v) {
            if (k[0] == '\0' || strchr(k, '=') != NULL || !json_is_string(v))
                return dm_err_set(err, DM_EINVAL, "spec.env.%.60s must be a string (and its "
                                                  "name non-empty without '=')", k);
        }
        out->env = env;
    }
    return 0;
}

static int parse_port(const json_t *p, size_t i, dk_port *out, dm_err_t *err)
{
    const char *name = json_string_value(json_object_get(p, "name"));
    json_int_t port = json_integer_value(json_object_get(p, "port"));
    const char *proto = json_string_value(json_object_get(p, "protocol"));
    const json_t *pub = json_object_get(p, "public");
    if (!short_name_ok(name))
        return dm_err_set(err, DM_EINVAL, "spec.ports[%zu].name must be 1..63 of a-z 0-9 _ . -", i);
    if (!json_is_integer(json_object_get(p, "port")) || port < 1 || port > 65535)
        return dm_err_set(err, DM_EINVAL, "spec.ports[%zu].port must be 1..65535", i);
    if (proto != NULL && strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0)
        return dm_err_set(err, DM_EINVAL, "spec.ports[%zu].protocol must be tcp or udp", i);
    if (pub != NULL && !json_is_boolean(pub))
        return dm_err_set(err, DM_EINVAL, "spec.ports[%zu].public must be a boolean", i);
    snprintf(out->name, sizeof out->name, "%s", name);
    snprintf(out->proto, sizeof out->proto, "%s", proto != NULL ? proto : "tcp");
    out->port = (int)port;
    out->is_public = json_is_true(pub);
    return 0;
}

static int parse_ports_volumes(const json_t *spec, dk_spec *out, dm_err_t *err)
{
    const json_t *ports = json_object_get(spec, "ports");
    const json_t *vols = json_object_get(spec, "volumes");
    if (ports != NULL && !json_is_null(ports) &&
        (!json_is_array(ports) || json_array_size(ports) > DK_MAX_PORTS))
        return dm_err_set(err, DM_EINVAL, "spec.ports must be an array of at most %d", DK_MAX_PORTS);
    if (vols != NULL && !json_is_null(vols) &&
        (!json_is_array(vols) || json_array_size(vols) > DK_MAX_VOLUMES))
        return dm_err_set(err, DM_EINVAL, "spec.volumes must be an array of at most %d",
                          DK_MAX_VOLUMES);
    size_t i;
    const json_t *v;
    json_array_foreach(ports, i, v) {
        int rc = parse_port(v, i, &out->ports[i], err);
        for (size_t j = 0; rc == 0 && j < i; j++) {
            if (strcmp(out->ports[j].name, out->ports[i].name) == 0 ||
                (out->ports[j].port == out->ports[i].port &&
                 strcmp(out->ports[j].proto, out->ports[i].proto) == 0))
                rc = dm_err_set(err, DM_EINVAL, "spec.ports[%zu] repeats a name or port", i);
        }
        if (rc != 0)
            return rc;
        out->n_ports = i + 1;
    }
    json_array_foreach(vols, i, v) {
        const char *name = json_string_value(json_object_get(v, "name"));
        const char *mount = json_string_value(json_object_get(v, "mountPath"));
        if (!short_name_ok(name))
            return dm_err_set(err, DM_EINVAL, "spec.volumes[%zu].name must be 1..63 of a-z 0-9 _ . -", i);
        if (mount == NULL || mount[0] != '/' || strlen(mount) >= sizeof out->volumes[i].mount ||
            strchr(mount, ':') != NULL)
            return dm_err_set(err, DM_EINVAL, "spec.volumes[%zu].mountPath must be an absolute "
                                              "path without ':'", i);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(out->volumes[j].name, name) == 0)
                return dm_err_set(err, DM_EINVAL, "spec.volumes[%zu] repeats name %s", i, name);
        }
        snprintf(out->volumes[i].name, sizeof out->volumes[i].name, "%s", name);
        snprintf(out->volumes[i].mount, sizeof out->volumes[i].mount, "%s", mount);
        out->n_volumes = i + 1;
    }
    return 0;
}

/* FNV-1a 64 of what shapes the container, so a changed spec is noticed
 * even where inspect does not show it plainly (env, command, mounts). */
static int spec_hash(const json_t *spec, char out[17])
{
    static const char *const keys[] = { "image", "command", "entrypoint", "env", "ports", "volumes", "resources" };
    json_t *sub = json_object();
    for (size_t i = 0; sub != NULL && i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(spec, keys[i]);
        if (v != NULL)
            json_object_set(sub, keys[i], v);
    }
    char *text = sub != NULL ? json_dumps(sub, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(sub);
    if (text == NULL)
        return DM_ENOMEM;
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++)
        h = (h ^ *p) * 1099511628211ULL;
    free(text);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    return 0;
}

int dk_spec_parse(const json_t *spec, dk_spec *out, dm_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(spec))
        return dm_err_set(err, DM_EINVAL, "spec must be a JSON object");
    out->image = json_string_value(json_object_get(spec, "image"));
    if (out->image == NULL || out->image[0] == '\0' || strlen(out->image) > 255 ||
        strpbrk(out->image, " \t\r\n") != NULL)
        return dm_err_set(err, DM_EINVAL, "spec.image must be an image reference");
    const json_t *owner = json_object_get(spec, "owner");
    if (owner != NULL && !json_is_null(owner)) {
        if (!short_name_ok(json_string_value(owner)))
            return dm_err_set(err, DM_EINVAL, "spec.owner must be 1..63 of [a-z0-9_.-]");
        snprintf(out->owner, sizeof out->owner, "%s", json_string_value(owner));
    }
    int rc = parse_resources(spec, out, err);
    if (rc == 0)
        rc = parse_command_env(spec, out, err);
    if (rc == 0)
        rc = parse_ports_volumes(spec, out, err);
    if (rc == 0 && spec_hash(spec, out->hash) != 0)
        rc = dm_err_set(err, DM_ENOMEM, "out of memory");
    return rc;
}

static json_t *labels(const char *id, const dk_spec *spec)
{
    json_t *l = json_pack("{s:s, s:s, s:s}", "dermaga.instance", id, "dermaga.managed", "true",
                          "dermaga.spec-hash", spec->hash);
    if (l != NULL && spec->owner[0] != '\0')
        json_object_set_new(l, "dermaga.owner", json_string(spec->owner));
    for (size_t i = 0; l != NULL && i < spec->n_ports; i++) {
        if (!spec->ports[i].is_public)
            continue;
        char key[96], val[24];
        snprintf(key, sizeof key, PORT_LABEL "%s", spec->ports[i].name);
        snprintf(val, sizeof val, "%d/%s", spec->ports[i].port, spec->ports[i].proto);
        json_object_set_new(l, key, json_string(val));
    }
    return l;
}

/* ExposedPorts and PortBindings into body and hc. */
static void add_ports(const dk_state *st, const dk_spec *spec, json_t *body, json_t *hc)
{
    json_t *exposed = json_object(), *bindings = json_object();
    for (size_t i = 0; i < spec->n_ports; i++) {
        const dk_port *p = &spec->ports[i];
        char key[24], hp[16] = "";
        snprintf(key, sizeof key, "%d/%s", p->port, p->proto);
        json_object_set_new(exposed, key, json_object());
        if (!p->is_public)
            continue;
        if (p->host_port > 0)
            snprintf(hp, sizeof hp, "%d", p->host_port);
        json_object_set_new(bindings, key, json_pack("[{s:s, s:s}]", "HostIp",
                                                     st->publish_address, "HostPort", hp));
    }
    json_object_set_new(body, "ExposedPorts", exposed);
    json_object_set_new(hc, "PortBindings", bindings);
}

json_t *dk_create_body(const dk_state *st, const char *id, const dk_spec *spec)
{
    json_t *env = json_array(), *binds = json_array();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)spec->env, k, v) {
        char *kv = NULL;
        if (asprintf(&kv, "%s=%s", k, json_string_value(v)) < 0)
            kv = NULL;
        json_array_append_new(env, kv != NULL ? json_string(kv) : NULL);
        free(kv);
    }
    for (size_t i = 0; i < spec->n_volumes; i++) {
        char b[DK_NAME_MAX + 300];
        snprintf(b, sizeof b, "dm-%s-%s:%s", id, spec->volumes[i].name, spec->volumes[i].mount);
        json_array_append_new(binds, json_string(b));
    }
    /* RestartPolicy "no": the reconciler decides what a dead container
     * means, not the engine. */
    json_t *hc = json_pack("{s:I, s:I, s:o, s:{s:s}}", "Memory", (json_int_t)spec->memory_bytes,
                           "NanoCpus", (json_int_t)spec->nano_cpus, "Binds", binds,
                           "RestartPolicy", "Name", "no");
    json_t *body = json_pack("{s:s, s:o, s:o}", "Image", spec->image, "Env", env, "Labels",
                             labels(id, spec));
    if (hc == NULL || body == NULL || json_array_size(env) != json_object_size(spec->env)) {
        json_decref(hc);
        json_decref(body);
        return NULL;
    }
    if (spec->command != NULL)
        json_object_set(body, "Cmd", (json_t *)spec->command);
    if (spec->entrypoint != NULL)
        json_object_set(body, "Entrypoint", (json_t *)spec->entrypoint);
    add_ports(st, spec, body, hc);
    json_object_set_new(body, "HostConfig", hc);
    return body;
}

bool dk_container_matches(const json_t *inspect, const dk_spec *spec)
{
    const json_t *cfg = json_object_get(inspect, "Config");
    const json_t *hc = json_object_get(inspect, "HostConfig");
    const char *hash = json_string_value(
        json_object_get(json_object_get(cfg, "Labels"), "dermaga.spec-hash"));
    const char *image = json_string_value(json_object_get(cfg, "Image"));
    return hash != NULL && strcmp(hash, spec->hash) == 0 && image != NULL &&
           strcmp(image, spec->image) == 0 &&
           json_integer_value(json_object_get(hc, "Memory")) == spec->memory_bytes &&
           json_integer_value(json_object_get(hc, "NanoCpus")) == spec->nano_cpus;
}

/* {"host","port"} of the first binding of key ("8080/tcp"), from the
 * running container's ports, else from what was asked at create. */
static json_t *endpoint(const dk_state *st, const json_t *inspect, const char *key)
{
    const json_t *b = json_array_get(
        json_object_get(json_object_get(json_object_get(inspect, "NetworkSettings"), "Ports"), key), 0);
    const char *hp = json_string_value(json_object_get(b, "HostPort"));
    if (hp == NULL || hp[0] == '\0') {
        b = json_array_get(json_object_get(json_object_get(json_object_get(inspect, "HostConfig"),
                                                           "PortBindings"), key), 0);
        hp = json_string_value(json_object_get(b, "HostPort"));
    }
    char *end = NULL;
    long port = hp != NULL ? strtol(hp, &end, 10) : 0;
    if (hp == NULL || end == hp || *end != '\0' || port < 1 || port > 65535)
        return NULL;
    const char *ip = json_string_value(json_object_get(b, "HostIp"));
    if (ip == NULL || ip[0] == '\0' || strcmp(ip, "0.0.0.0") == 0)
        ip = strcmp(st->publish_address, "0.0.0.0") == 0 ? "127.0.0.1" : st->publish_address;
    return json_pack("{s:s, s:i}", "host", ip, "port", (int)port);
}

static json_t *endpoints(const dk_state *st, const json_t *inspect)
{
    const json_t *lbl = json_object_get(json_object_get(inspect, "Config"), "Labels");
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)lbl, k, v) {
        if (out == NULL || strncmp(k, PORT_LABEL, strlen(PORT_LABEL)) != 0 || !json_is_string(v))
            continue;
        json_t *e = endpoint(st, inspect, json_string_value(v));
        if (e != NULL)
            json_object_set_new(out, k + strlen(PORT_LABEL), e);
    }
    return out;
}

/* An exit the engine causes by stopping (0, SIGKILL 137, SIGTERM 143) is
 * STOPPED; any other exit, an OOM kill or an engine error is FAILED. */
static uint32_t phase_of(const json_t *state, const char **why)
{
    const char *s = json_string_value(json_object_get(state, "Status"));
    json_int_t code = json_integer_value(json_object_get(state, "ExitCode"));
    const char *error = json_string_value(json_object_get(state, "Error"));
    *why = error != NULL && error[0] != '\0' ? error : NULL;
    if (s == NULL)
        return DM_RUNTIME_UNKNOWN;
    if (strcmp(s, "running") == 0)
        return DM_RUNTIME_RUNNING;
    if (strcmp(s, "created") == 0 || strcmp(s, "restarting") == 0 || strcmp(s, "configured") == 0)
        return *why != NULL ? DM_RUNTIME_FAILED : DM_RUNTIME_PENDING;
    if (strcmp(s, "dead") == 0 || json_is_true(json_object_get(state, "OOMKilled")) || *why != NULL)
        return DM_RUNTIME_FAILED;
    if (strcmp(s, "exited") == 0 || strcmp(s, "stopped") == 0)
        return code == 0 || code == 137 || code == 143 ? DM_RUNTIME_STOPPED : DM_RUNTIME_FAILED;
    return DM_RUNTIME_STOPPED; /* paused, removing */
}

void dk_status_from_inspect(const dk_state *st, const json_t *inspect, dm_runtime_status_t *out)
{
    const json_t *state = json_object_get(inspect, "State");
    const char *why = NULL;
    out->phase = phase_of(state, &why);
    out->restarts = (uint32_t)json_integer_value(json_object_get(inspect, "RestartCount"));
    const char *health = json_string_value(
        json_object_get(json_object_get(state, "Health"), "Status"));
    out->ready = out->phase == DM_RUNTIME_RUNNING &&
                 (health == NULL || health[0] == '\0' || strcmp(health, "healthy") == 0);
    const char *name = json_string_value(json_object_get(inspect, "Name"));
    if (name != NULL && name[0] == '/')
        name++;
    snprintf(out->unit_name, sizeof out->unit_name, "%s", name != NULL ? name : "");
    json_int_t code = json_integer_value(json_object_get(state, "ExitCode"));
    if (why != NULL)
        snprintf(out->message, sizeof out->message, "%.300s", why);
    else if (json_is_true(json_object_get(state, "OOMKilled")))
        snprintf(out->message, sizeof out->message, "killed: out of memory");
    else if (out->phase == DM_RUNTIME_STOPPED || out->phase == DM_RUNTIME_FAILED)
        snprintf(out->message, sizeof out->message, "exited with code %lld", (long long)code);
    else if (out->phase == DM_RUNTIME_RUNNING && !out->ready)
        snprintf(out->message, sizeof out->message, "health check: %s", health);
    else
        out->message[0] = '\0';
    json_decref(out->endpoints);
    out->endpoints = endpoints(st, inspect);
}
