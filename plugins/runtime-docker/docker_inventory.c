/*
 * docker_inventory.c — runtime-docker's inventory for administrators:
 * Dermaga's containers, images, volumes, networks and engine info, each
 * reduced to the few fields an admin page shows (never the engine's whole
 * answer). ns is ignored: the Docker engine has no namespaces. Also the
 * workloads op: which instances an owner has containers or volumes for.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker.h"

/* GET path expecting 200; *out = the parsed answer (new). */
static int get(const dk_state *st, const char *path, json_t **out, dm_err_t *err)
{
    dk_resp r = { 0 };
    int rc = dk_call(st, "GET", path, NULL, 0, &r, err);
    if (rc == 0 && (r.status != 200 || r.json == NULL)) {
        char why[200];
        dk_engine_message(&r, why, sizeof why);
        rc = dm_err_set(err, DM_EIO, "runtime-docker: GET %.60s: engine answered %ld: %s", path,
                        r.status, why);
    }
    *out = rc == 0 ? json_incref(r.json) : NULL;
    dk_resp_free(&r);
    return rc;
}

static json_t *str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

/* What the host's ?managed= filter reads: the label Dermaga puts on the
 * containers and volumes it creates. */
static bool is_managed(const json_t *labels)
{
    const char *v = json_string_value(json_object_get(labels, "dermaga.managed"));
    return v != NULL && strcmp(v, "true") == 0;
}

static json_t *container_item(const json_t *c)
{
    const json_t *labels = json_object_get(c, "Labels");
    const char *name = json_string_value(json_array_get(json_object_get(c, "Names"), 0));
    if (name != NULL && name[0] == '/')
        name++;
    json_t *ports = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(c, "Ports"), i, p) {
        json_array_append_new(ports, json_pack("{s:I, s:I, s:o, s:o}", "private",
                                               json_integer_value(json_object_get(p, "PrivatePort")),
                                               "public",
                                               json_integer_value(json_object_get(p, "PublicPort")),
                                               "ip", str_or_null(json_string_value(json_object_get(p, "IP"))),
                                               "type", str_or_null(json_string_value(json_object_get(p, "Type")))));
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:b}",
                     "name", str_or_null(name),
                     "id", str_or_null(json_string_value(json_object_get(c, "Id"))),
                     "instance", str_or_null(json_string_value(json_object_get(labels, "dermaga.instance"))),
                     "state", str_or_null(json_string_value(json_object_get(c, "State"))),
                     "status", str_or_null(json_string_value(json_object_get(c, "Status"))),
                     "image", str_or_null(json_string_value(json_object_get(c, "Image"))),
                     "ports", ports,
                     "created", json_integer_value(json_object_get(c, "Created")),
                     "managed", is_managed(labels));
}

static json_t *image_item(const json_t *im)
{
    json_t *tags = json_object_get(im, "RepoTags");
    return json_pack("{s:o, s:o, s:I, s:I}",
                     "id", str_or_null(json_string_value(json_object_get(im, "Id"))),
                     "tags", json_is_array(tags) ? json_incref(tags) : json_array(),
                     "size", json_integer_value(json_object_get(im, "Size")),
                     "created", json_integer_value(json_object_get(im, "Created")));
}

static json_t *volume_item(const json_t *v)
{
    const json_t *labels = json_object_get(v, "Labels");
    return json_pack("{s:o, s:o, s:o, s:o, s:b}",
                     "name", str_or_null(json_string_value(json_object_get(v, "Name"))),
                     "driver", str_or_null(json_string_value(json_object_get(v, "Driver"))),
                     "instance", str_or_null(json_string_value(json_object_get(labels, "dermaga.instance"))),
                     "created", str_or_null(json_string_value(json_object_get(v, "CreatedAt"))),
                     "managed", is_managed(labels));
}

static json_t *network_item(const json_t *n)
{
    return json_pack("{s:o, s:o, s:o, s:o}",
                     "name", str_or_null(json_string_value(json_object_get(n, "Name"))),
                     "id", str_or_null(json_string_value(json_object_get(n, "Id"))),
                     "driver", str_or_null(json_string_value(json_object_get(n, "Driver"))),
                     "scope", str_or_null(json_string_value(json_object_get(n, "Scope"))));
}

/* Map each element of list through fn into a new array. */
static int map(const json_t *list, json_t *(*fn)(const json_t *), json_t **out, dm_err_t *err)
{
    if (!json_is_array(list))
        return dm_err_set(err, DM_EIO, "runtime-docker: engine list is not an array");
    *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        json_t *item = fn(v);
        if (*out == NULL || item == NULL || json_array_append_new(*out, item) != 0) {
            json_decref(*out);
            *out = NULL;
            return dm_err_set(err, DM_ENOMEM, "out of memory");
        }
    }
    return 0;
}

static int info(const dk_state *st, json_t **out, dm_err_t *err)
{
    json_t *inf = NULL, *ver = NULL;
    int rc = get(st, "/info", &inf, err);
    if (rc == 0)
        rc = get(st, "/version", &ver, err);
    if (rc == 0) {
        *out = json_pack("[{s:o, s:o, s:o, s:o, s:I, s:I, s:I}]",
                         "engine", str_or_null(json_string_value(json_object_get(ver, "Version"))),
                         "apiVersion", str_or_null(json_string_value(json_object_get(ver, "ApiVersion"))),
                         "os", str_or_null(json_string_value(json_object_get(inf, "OperatingSystem"))),
                         "kernel", str_or_null(json_string_value(json_object_get(inf, "KernelVersion"))),
                         "containers", json_integer_value(json_object_get(inf, "Containers")),
                         "containersRunning", json_integer_value(json_object_get(inf, "ContainersRunning")),
                         "images", json_integer_value(json_object_get(inf, "Images")));
        if (*out == NULL)
            rc = dm_err_set(err, DM_ENOMEM, "out of memory");
    }
    json_decref(inf);
    json_decref(ver);
    return rc;
}

int dk_inventory(void *state, const char *what, const char *ns, json_t **out, dm_err_t *err)
{
    const dk_state *st = state;
    (void)ns;
    *out = NULL;
    json_t *raw = NULL;
    int rc;
    if (what != NULL && strcmp(what, "containers") == 0) {
        char *f = dk_escape("{\"label\":[\"dermaga.managed=true\"]}");
        if (f == NULL)
            return dm_err_set(err, DM_ENOMEM, "out of memory");
        char path[256];
        snprintf(path, sizeof path, "/containers/json?all=1&filters=%s", f);
        free(f);
        rc = get(st, path, &raw, err);
        if (rc == 0)
            rc = map(raw, container_item, out, err);
    } else if (what != NULL && strcmp(what, "images") == 0) {
        rc = get(st, "/images/json", &raw, err);
        if (rc == 0)
            rc = map(raw, image_item, out, err);
    } else if (what != NULL && strcmp(what, "volumes") == 0) {
        rc = get(st, "/volumes", &raw, err);
        if (rc == 0) {
            const json_t *v = json_object_get(raw, "Volumes");
            json_t *empty = json_array();
            rc = map(json_is_array(v) ? v : empty, volume_item, out, err);
            json_decref(empty);
        }
    } else if (what != NULL && strcmp(what, "networks") == 0) {
        rc = get(st, "/networks", &raw, err);
        if (rc == 0)
            rc = map(raw, network_item, out, err);
    } else if (what != NULL && strcmp(what, "info") == 0) {
        rc = info(st, out, err);
    } else {
        rc = dm_err_set(err, DM_EUNSUPPORTED, "runtime-docker: no inventory of \"%.40s\" "
                        "(containers, images, volumes, networks, info)", what != NULL ? what : "");
    }
    json_decref(raw);
    return rc;
}

/* Add the dermaga.instance label of each object in list to the set ids. */
static void collect_instances(const json_t *list, json_t *ids)
{
    size_t i;
    const json_t *o;
    json_array_foreach(list, i, o) {
        const char *id = json_string_value(json_object_get(json_object_get(o, "Labels"), "dermaga.instance"));
        if (id != NULL && dk_id_ok(id))
            json_object_set_new(ids, id, json_true());
    }
}

int dk_workloads(void *state, const char *owner, json_t **out, dm_err_t *err)
{
    const dk_state *st = state;
    *out = NULL;
    if (owner == NULL || owner[0] == '\0' || strlen(owner) > 63 || strpbrk(owner, "\"\\") != NULL)
        return dm_err_set(err, DM_EINVAL, "runtime-docker: workloads needs an owner label value");
    char filter[160];
    snprintf(filter, sizeof filter, "{\"label\":[\"dermaga.owner=%s\"]}", owner);
    char *f = dk_escape(filter);
    if (f == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    char path[512];
    json_t *containers = NULL, *volumes = NULL, *ids = json_object();
    snprintf(path, sizeof path, "/containers/json?all=1&filters=%s", f);
    int rc = ids != NULL ? get(st, path, &containers, err) : dm_err_set(err, DM_ENOMEM, "out of memory");
    if (rc == 0) {
        /* A volume outlives a container whose creation was interrupted. */
        snprintf(path, sizeof path, "/volumes?filters=%s", f);
        rc = get(st, path, &volumes, err);
    }
    free(f);
    if (rc == 0) {
        collect_instances(containers, ids);
        collect_instances(json_object_get(volumes, "Volumes"), ids);
        *out = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(ids, k, v) {
            if (*out == NULL || json_array_append_new(*out, json_string(k)) != 0) {
                rc = dm_err_set(err, DM_ENOMEM, "out of memory");
                break;
            }
        }
    }
    if (rc != 0) {
        json_decref(*out);
        *out = NULL;
    }
    json_decref(ids);
    json_decref(containers);
    json_decref(volumes);
    return rc;
}
