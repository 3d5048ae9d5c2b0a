/*
 * docker.c — the runtime-docker plugin: its descriptor and the lifecycle
 * ops (provision by a deterministic name, status, stop, start, restart,
 * terminate with volumes), each a few blocking calls to the engine through
 * docker_http.c. Spec mapping: docker_spec.c; logs and usage:
 * docker_logs.c; inventory: docker_inventory.c; config: docker_config.c.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "docker.h"

#define HOSTPORT_LABEL "dermaga.hostport."

/* The error for an engine answer that is not what `what` wanted. */
static int refusal(const dk_resp *r, const char *what, const char *id, dm_err_t *err)
{
    char why[200];
    dk_engine_message(r, why, sizeof why);
    int code = r->status == 404 ? DM_ENOTFOUND
             : r->status == 409 ? DM_ECONFLICT
             : r->status == 400 ? DM_EINVAL : DM_EIO;
    return dm_err_set(err, code, "runtime-docker: %s %.64s: engine answered %ld: %s", what, id,
                      r->status, why);
}

static int check_id(const char *id, dm_err_t *err)
{
    return dk_id_ok(id) ? 0 : dm_err_set(err, DM_EINVAL, "runtime-docker: instance id must be "
                                                         "1..64 of A-Z a-z 0-9 _ . -");
}

/* GET /containers/dm-<id>/json: 0 with r->json the container,
 * DM_ENOTFOUND when there is none, else an error. */
static int inspect(const dk_state *st, const char *id, dk_resp *r, dm_err_t *err)
{
    char path[128];
    snprintf(path, sizeof path, "/containers/dm-%s/json", id);
    int rc = dk_call(st, "GET", path, NULL, 0, r, err);
    if (rc == 0 && r->status == 404)
        return DM_ENOTFOUND;
    if (rc == 0 && (r->status != 200 || !json_is_object(r->json)))
        return refusal(r, "inspect", id, err);
    return rc;
}

/* ---- host ports ---------------------------------------------------------- */

/* Mark the host ports Dermaga's containers hold (running or not) in used. */
static int used_ports(const dk_state *st, unsigned char *used, dm_err_t *err)
{
    char *f = dk_escape("{\"label\":[\"dermaga.managed=true\"]}");
    if (f == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    char path[256];
    snprintf(path, sizeof path, "/containers/json?all=1&filters=%s", f);
    free(f);
    dk_resp r = { 0 };
    int rc = dk_call(st, "GET", path, NULL, 0, &r, err);
    if (rc == 0 && (r.status != 200 || !json_is_array(r.json)))
        rc = refusal(&r, "list", "containers", err);
    size_t i;
    json_t *c;
    json_array_foreach(rc == 0 ? r.json : NULL, i, c) {
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(c, "Labels"), k, v) {
            long p = strncmp(k, HOSTPORT_LABEL, strlen(HOSTPORT_LABEL)) == 0 && json_is_string(v)
                         ? strtol(json_string_value(v), NULL, 10) : 0;
            if (p > 0 && p < 65536)
                used[p / 8] |= (unsigned char)(1u << (p % 8));
        }
    }
    dk_resp_free(&r);
    return rc;
}

/* True when nothing on this machine holds port on the publish address. */
static bool port_free(const dk_state *st, int port, const char *proto)
{
    int fd = socket(AF_INET, strcmp(proto, "udp") == 0 ? SOCK_DGRAM : SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, st->publish_address, &a.sin_addr);
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Give each public port without a host port one from the range; start at
 * a place derived from the id so neighbours do not all probe the same. */
static int pick_ports(const dk_state *st, const char *id, dk_spec *spec, dm_err_t *err)
{
    if (st->port_min == 0)
        return 0; /* the engine picks; status reads it back */
    unsigned char used[8192] = { 0 };
    int rc = used_ports(st, used, err);
    if (rc != 0)
        return rc;
    uint32_t h = 2166136261u;
    for (const char *p = id; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    int span = st->port_max - st->port_min + 1;
    for (size_t i = 0; i < spec->n_ports; i++) {
        dk_port *p = &spec->ports[i];
        if (!p->is_public || p->host_port > 0)
            continue;
        for (int k = 0; k < span && p->host_port == 0; k++) {
            int cand = st->port_min + (int)((h + (uint32_t)k) % (uint32_t)span);
            if (!(used[cand / 8] & (1u << (cand % 8))) && port_free(st, cand, p->proto)) {
                p->host_port = cand;
                used[cand / 8] |= (unsigned char)(1u << (cand % 8));
            }
        }
        if (p->host_port == 0)
            return dm_err_set(err, DM_EBUSY, "runtime-docker: no free host port in %d..%d",
                              st->port_min, st->port_max);
    }
    return 0;
}

/* ---- provision ----------------------------------------------------------- */

/* Create dm-<id>-<name> for each spec volume unless it exists. */
static int ensure_volumes(const dk_state *st, const char *id, const dk_spec *spec, dm_err_t *err)
{
    for (size_t i = 0; i < spec->n_volumes; i++) {
        char name[DK_NAME_MAX], path[DK_NAME_MAX + 32];
        snprintf(name, sizeof name, "dm-%s-%s", id, spec->volumes[i].name);
        snprintf(path, sizeof path, "/volumes/%s", name);
        dk_resp r = { 0 };
        int rc = dk_call(st, "GET", path, NULL, 0, &r, err);
        if (rc == 0 && r.status == 404) {
            json_t *b = json_pack("{s:s, s:{s:s, s:s}}", "Name", name, "Labels",
                                  "dermaga.instance", id, "dermaga.managed", "true");
            if (b != NULL && spec->owner[0] != '\0')
                json_object_set_new(json_object_get(b, "Labels"), "dermaga.owner", json_string(spec->owner));
            rc = b != NULL ? dk_call(st, "POST", "/volumes/create", b, 0, &r, err)
                           : dm_err_set(err, DM_ENOMEM, "out of memory");
            json_decref(b);
            /* Docker answers 201 for a volume that exists; Podman 4.3
             * 500 "volume already exists" (a concurrent provision won). */
            bool exists = r.status == 409 ||
                          (r.status == 500 && r.body != NULL && strstr(r.body, "already exists"));
            if (rc == 0 && r.status != 201 && r.status != 200 && !exists)
                rc = refusal(&r, "create volume", name, err);
        } else if (rc == 0 && r.status != 200) {
            rc = refusal(&r, "inspect volume", name, err);
        }
        dk_resp_free(&r);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Labels recording the chosen host ports, for used_ports. */
static void label_host_ports(json_t *body, const dk_spec *spec)
{
    json_t *l = json_object_get(body, "Labels");
    for (size_t i = 0; i < spec->n_ports; i++) {
        if (spec->ports[i].host_port <= 0)
            continue;
        char k[96], v[16];
        snprintf(k, sizeof k, HOSTPORT_LABEL "%s", spec->ports[i].name);
        snprintf(v, sizeof v, "%d", spec->ports[i].host_port);
        json_object_set_new(l, k, json_string(v));
    }
}

/* POST /containers/create?name=dm-<id>. A name already taken (a concurrent
 * provision won) is success: the caller inspects and adopts it. */
static int create(dk_state *st, const char *id, dk_spec *spec, dm_err_t *err)
{
    int rc = ensure_volumes(st, id, spec, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&st->port_lock);
    rc = pick_ports(st, id, spec, err);
    json_t *body = rc == 0 ? dk_create_body(st, id, spec) : NULL;
    if (rc == 0 && body == NULL)
        rc = dm_err_set(err, DM_ENOMEM, "out of memory");
    dk_resp r = { 0 };
    if (rc == 0) {
        label_host_ports(body, spec);
        char path[128];
        snprintf(path, sizeof path, "/containers/create?name=dm-%s", id);
        rc = dk_call(st, "POST", path, body, 0, &r, err);
    }
    pthread_mutex_unlock(&st->port_lock);
    json_decref(body);
    if (rc == 0 && r.status == 404)
        rc = dm_err_set(err, DM_ENOTFOUND, "runtime-docker: image %.200s is not on the engine",
                        spec->image);
    else if (rc == 0 && r.status != 201 && !(r.status == 409 || (r.status == 500 && r.body != NULL &&
                                                              strstr(r.body, "already in use"))))
        rc = refusal(&r, "create", id, err);
    dk_resp_free(&r);
    return rc;
}

/* Host ports the old container had, kept for the same ports on recreate
 * (so a resize does not move the user's URL). */
static void keep_host_ports(const json_t *old, dk_spec *spec)
{
    const json_t *lbl = json_object_get(json_object_get(old, "Config"), "Labels");
    for (size_t i = 0; i < spec->n_ports; i++) {
        char k[96];
        snprintf(k, sizeof k, HOSTPORT_LABEL "%s", spec->ports[i].name);
        const char *v = json_string_value(json_object_get(lbl, k));
        long p = v != NULL ? strtol(v, NULL, 10) : 0;
        if (spec->ports[i].is_public && p > 0 && p < 65536)
            spec->ports[i].host_port = (int)p;
    }
}

static int post_simple(const dk_state *st, const char *id, const char *verb, const char *query,
                       long extra_ms, dm_err_t *err)
{
    char path[192];
    snprintf(path, sizeof path, "/containers/dm-%s/%s%s", id, verb, query);
    dk_resp r = { 0 };
    int rc = dk_call(st, "POST", path, NULL, st->timeout_ms + extra_ms, &r, err);
    if (rc == 0 && r.status != 204 && r.status != 304)
        rc = refusal(&r, verb, id, err);
    dk_resp_free(&r);
    return rc;
}

static int remove_container(const dk_state *st, const char *id, bool volumes, dm_err_t *err)
{
    char path[128];
    snprintf(path, sizeof path, "/containers/dm-%s?force=1%s", id, volumes ? "&v=1" : "");
    dk_resp r = { 0 };
    int rc = dk_call(st, "DELETE", path, NULL, st->timeout_ms + st->stop_timeout_s * 1000L, &r, err);
    if (rc == 0 && r.status != 204 && r.status != 404)
        rc = refusal(&r, "remove", id, err);
    dk_resp_free(&r);
    return rc;
}

/* Create (or keep, or replace when it no longer matches) then start. */
static int converge(dk_state *st, const char *id, dk_spec *spec, dm_err_t *err)
{
    dk_resp r = { 0 };
    int rc = inspect(st, id, &r, err);
    if (rc == 0 && !dk_container_matches(r.json, spec)) {
        st->host->log(st->ctx, DM_HOST_LOG_INFO, "dm-%s no longer matches its spec: recreating", id);
        keep_host_ports(r.json, spec);
        rc = remove_container(st, id, false, err); /* named volumes stay */
        if (rc == 0)
            rc = DM_ENOTFOUND;
    }
    if (rc == DM_ENOTFOUND) {
        dm_err_clear(err);
        rc = create(st, id, spec, err);
        if (rc == 0)
            rc = inspect(st, id, &r, err);
    }
    const char *s = rc == 0 ? json_string_value(json_object_get(json_object_get(r.json, "State"),
                                                                "Status")) : NULL;
    if (rc == 0 && (s == NULL || strcmp(s, "running") != 0))
        rc = post_simple(st, id, "start", "", 0, err);
    dk_resp_free(&r);
    return rc;
}

static int dk_status(void *state, const char *id, dm_runtime_status_t *out, dm_err_t *err);

static int dk_provision(void *state, const char *id, const json_t *spec_json,
                        dm_runtime_status_t *out, dm_err_t *err)
{
    int rc = check_id(id, err);
    dk_spec spec;
    if (rc == 0)
        rc = dk_spec_parse(spec_json, &spec, err);
    if (rc == 0)
        rc = converge(state, id, &spec, err);
    if (rc == 0)
        rc = dk_status(state, id, out, err);
    return rc;
}

/* ---- the other lifecycle ops ------------------------------------------- */

static int dk_status(void *state, const char *id, dm_runtime_status_t *out, dm_err_t *err)
{
    const dk_state *st = state;
    int rc = check_id(id, err);
    dk_resp r = { 0 };
    if (rc == 0)
        rc = inspect(st, id, &r, err);
    if (rc == 0) {
        dk_status_from_inspect(st, r.json, out);
    } else if (rc == DM_ENOTFOUND) {
        dm_err_clear(err);
        out->phase = DM_RUNTIME_ABSENT;
        out->ready = false;
        snprintf(out->unit_name, sizeof out->unit_name, "dm-%s", id);
        snprintf(out->message, sizeof out->message, "no container dm-%s", id);
        rc = 0;
    }
    dk_resp_free(&r);
    return rc;
}

static int dk_stop(void *state, const char *id, dm_err_t *err)
{
    const dk_state *st = state;
    char q[32];
    snprintf(q, sizeof q, "?t=%d", st->stop_timeout_s);
    int rc = check_id(id, err);
    return rc != 0 ? rc : post_simple(st, id, "stop", q, st->stop_timeout_s * 1000L, err);
}

static int dk_start(void *state, const char *id, dm_err_t *err)
{
    int rc = check_id(id, err);
    return rc != 0 ? rc : post_simple(state, id, "start", "", 0, err);
}

static int dk_restart(void *state, const char *id, dm_err_t *err)
{
    const dk_state *st = state;
    char q[32];
    snprintf(q, sizeof q, "?t=%d", st->stop_timeout_s);
    int rc = check_id(id, err);
    return rc != 0 ? rc : post_simple(st, id, "restart", q, st->stop_timeout_s * 1000L, err);
}

/* Remove the volumes labelled dermaga.instance=<id>. */
static int remove_volumes(const dk_state *st, const char *id, dm_err_t *err)
{
    char filter[160];
    snprintf(filter, sizeof filter, "{\"label\":[\"dermaga.instance=%s\"]}", id);
    char *f = dk_escape(filter);
    if (f == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    char path[512];
    snprintf(path, sizeof path, "/volumes?filters=%s", f);
    free(f);
    dk_resp r = { 0 }, d = { 0 };
    int rc = dk_call(st, "GET", path, NULL, 0, &r, err);
    if (rc == 0 && (r.status != 200 || !json_is_object(r.json)))
        rc = refusal(&r, "list volumes of", id, err);
    size_t i;
    json_t *v;
    json_array_foreach(rc == 0 ? json_object_get(r.json, "Volumes") : NULL, i, v) {
        const char *name = json_string_value(json_object_get(v, "Name"));
        if (name == NULL || strlen(name) > DK_NAME_MAX)
            continue;
        snprintf(path, sizeof path, "/volumes/%s?force=1", name);
        rc = dk_call(st, "DELETE", path, NULL, 0, &d, err);
        if (rc == 0 && d.status != 204 && d.status != 404)
            rc = refusal(&d, "remove volume", name, err);
        if (rc != 0)
            break;
    }
    dk_resp_free(&r);
    dk_resp_free(&d);
    return rc;
}

static int dk_terminate(void *state, const char *id, dm_err_t *err)
{
    int rc = check_id(id, err);
    if (rc == 0)
        rc = remove_container(state, id, true, err);
    if (rc == 0)
        rc = remove_volumes(state, id, err);
    return rc;
}

static const dm_runtime_ops_t ops = {
    .provision = dk_provision,
    .status = dk_status,
    .stop = dk_stop,
    .start = dk_start,
    .restart = dk_restart,
    .terminate = dk_terminate,
    .logs = dk_logs,
    .usage = dk_usage,
    .inventory = dk_inventory,
    .workloads = dk_workloads,
};

static const dm_plugin_info_t info = {
    DM_PLUGIN_HEADER,
    .name = "runtime-docker",
    .version = "1.0.0",
    .kind = DM_PLUGIN_RUNTIME,
    .init = dk_init,
    .fini = dk_fini,
    DM_PLUGIN_OPS(ops),
    .config_keys = dk_conf_keys,
    .description = "containers on the Docker Engine API v1.41 (Docker or Podman)",
};

DM_PLUGIN_ENTRY(info)
