/*
 * service_template.c — the service-template plugin: its descriptor and
 * config keys, init (loads and validates every template of `dir` or
 * `dirs`, refusing a bad template alone; checks `image_map`) and the
 * service ops. Templates are read once, at init, and
 * are read-only afterwards, so the ops are safe on any worker thread.
 * Loading is in tpl_load.c, rendering in tpl_render.c.
 */
#include <stdlib.h>
#include <string.h>

#include <dermaga/plugin.h>
#include <dermaga/service.h>

#include "tpl.h"

typedef struct svc_state {
    dm_plugin_ctx_t *ctx;
    const dm_host_t *host;
    const json_t    *image_map; /* borrowed from the host's config until fini */
    tpl_set          set;
} svc_state;

static const dm_plugin_conf_key_t keys[] = {
    { "dir", DM_CONF_STRING, 0, NULL,
      "directory of service templates, one <slug>.json each (the project ships config/services); "
      "the one-directory form of dirs" },
    { "dirs", DM_CONF_ARRAY, 0, NULL,
      "directories of service templates, in order: a later one adds templates and overrides an "
      "earlier one's of the same slug (logged); set dir or dirs" },
    { "image_map", DM_CONF_OBJECT, 0, "{}",
      "image → replacement image, for hosts that cannot pull the templates' images" },
    DM_CONF_END
};

/* Every value of image_map must be a usable image reference. */
static int check_image_map(const json_t *map, dm_err_t *err)
{
    const char *from;
    json_t *to;
    json_object_foreach((json_t *)map, from, to) {
        const char *s = json_string_value(to);
        if (from[0] == '\0' || s == NULL || s[0] == '\0' || strlen(s) > 255 ||
            strpbrk(s, " \t\r\n$") != NULL)
            return dm_err_set(err, DM_EINVAL,
                              "config: image_map.%.100s: must be a non-empty image reference", from);
    }
    return 0;
}

#define MAX_DIRS 16

/* The template directories from dir or dirs (exactly one of them), into
 * out[] (borrowed from cfg); *n their count. */
static int template_dirs(const json_t *cfg, const char *out[MAX_DIRS], size_t *n, dm_err_t *err)
{
    const json_t *dir = json_object_get(cfg, "dir"), *dirs = json_object_get(cfg, "dirs");
    *n = 0;
    if (dir != NULL && dirs != NULL)
        return dm_err_set(err, DM_EINVAL, "config: dir and dirs are both set; use one (dirs for several)");
    if (dirs == NULL) {
        const char *d = json_string_value(dir);
        if (d == NULL || d[0] == '\0')
            return dm_err_set(err, DM_EINVAL, "config: dir (or dirs) must name the templates directory");
        out[(*n)++] = d;
        return 0;
    }
    if (json_array_size(dirs) == 0 || json_array_size(dirs) > MAX_DIRS)
        return dm_err_set(err, DM_EINVAL, "config: dirs must list 1 to %d template directories", MAX_DIRS);
    size_t i;
    const json_t *v;
    json_array_foreach(dirs, i, v) {
        const char *d = json_string_value(v);
        if (d == NULL || d[0] == '\0')
            return dm_err_set(err, DM_EINVAL, "config: dirs[%zu] must be a non-empty directory path", i);
        out[(*n)++] = d;
    }
    return 0;
}

/* Loading's notes (a refused template, an override) go to the host log. */
typedef struct note_ctx {
    dm_plugin_ctx_t *ctx;
    const dm_host_t *host;
} note_ctx;

static void note(void *ud, int level, const char *line)
{
    const note_ctx *n = ud;
    n->host->log(n->ctx, level, "%s", line);
}

static int svc_init(dm_plugin_ctx_t *ctx, const dm_host_t *host, void **state, dm_err_t *err)
{
    json_t *cfg = host->config(ctx);
    const json_t *map = json_object_get(cfg, "image_map");
    const char *dirs[MAX_DIRS];
    size_t n = 0;
    int rc = template_dirs(cfg, dirs, &n, err);
    if (rc == 0)
        rc = check_image_map(map, err);
    if (rc != 0)
        return rc;
    svc_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    s->ctx = ctx;
    s->host = host;
    s->image_map = map;
    note_ctx nc = { ctx, host };
    if ((rc = tpl_set_load_dirs(&s->set, dirs, n, note, &nc, err)) != 0) {
        free(s);
        return rc;
    }
    host->log(ctx, DM_HOST_LOG_INFO, "%zu service templates loaded from %s%s", s->set.n, dirs[0],
              n > 1 ? " and later directories" : "");
    *state = s;
    return 0;
}

static void svc_fini(void *state)
{
    svc_state *s = state;
    if (s == NULL)
        return;
    tpl_set_free(&s->set);
    free(s);
}

static int svc_catalog(void *state, json_t **out, dm_err_t *err)
{
    const svc_state *s = state;
    json_t *arr = json_array();
    if (arr == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->set.n; i++) {
        const json_t *d = s->set.items[i].doc;
        json_t *e = json_pack("{s:O,s:O,s:O,s:O}", "slug", json_object_get(d, "slug"), "name",
                              json_object_get(d, "name"), "category", json_object_get(d, "category"),
                              "description", json_object_get(d, "description"));
        if (e == NULL || json_array_append_new(arr, e) != 0) {
            json_decref(arr);
            return dm_err_set(err, DM_ENOMEM, "out of memory");
        }
    }
    *out = arr;
    return 0;
}

/* The template the request names, or DM_ENOTFOUND. */
static int find(const svc_state *s, const dm_service_request_t *req, const tpl **t, dm_err_t *err)
{
    *t = req != NULL ? tpl_set_find(&s->set, req->service_slug) : NULL;
    if (*t != NULL)
        return 0;
    return dm_err_set(err, DM_ENOTFOUND, "no service template \"%.64s\"",
                      req != NULL && req->service_slug != NULL ? req->service_slug : "(null)");
}

static int svc_workload(void *state, const dm_service_request_t *req, json_t **out, dm_err_t *err)
{
    const svc_state *s = state;
    const tpl *t;
    int rc = find(s, req, &t, err);
    if (rc != 0)
        return rc;
    if (!json_is_object(req->plan))
        return dm_err_set(err, DM_EINVAL, "%s: the request has no plan", t->slug);
    return tpl_render_workload(t, s->host, s->image_map, req, out, err);
}

static int svc_presentation(void *state, const dm_service_request_t *req, json_t **out, dm_err_t *err)
{
    const svc_state *s = state;
    const tpl *t;
    int rc = find(s, req, &t, err);
    if (rc != 0)
        return rc;
    return tpl_render_presentation(t, req, out, err);
}

static const dm_service_ops_t ops = {
    .catalog = svc_catalog,
    .workload = svc_workload,
    .presentation = svc_presentation,
};

static const dm_plugin_info_t info = {
    DM_PLUGIN_HEADER,
    .name = "service-template",
    .version = "1.0.0",
    .kind = DM_PLUGIN_SERVICE,
    .init = svc_init,
    .fini = svc_fini,
    DM_PLUGIN_OPS(ops),
    .config_keys = keys,
    .description = "services described by declarative JSON templates (image, env, secrets, ports, limits)",
};

DM_PLUGIN_ENTRY(info)
