/*
 * service_template.c — the service-template plugin: its descriptor and
 * config keys, init (loads and validates every template of `dir`, checks
 * `image_map`) and the service ops. Templates are read once, at init, and
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
    { "dir", DM_CONF_STRING, DM_CONF_REQUIRED, NULL,
      "directory of service templates, one <slug>.json each (the project ships config/services)" },
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

static int svc_init(dm_plugin_ctx_t *ctx, const dm_host_t *host, void **state, dm_err_t *err)
{
    json_t *cfg = host->config(ctx);
    const char *dir = json_string_value(json_object_get(cfg, "dir"));
    const json_t *map = json_object_get(cfg, "image_map");
    if (dir == NULL || dir[0] == '\0')
        return dm_err_set(err, DM_EINVAL, "config: dir must name the templates directory");
    int rc = check_image_map(map, err);
    if (rc != 0)
        return rc;
    svc_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    s->ctx = ctx;
    s->host = host;
    s->image_map = map;
    if ((rc = tpl_set_load(&s->set, dir, err)) != 0) {
        free(s);
        return rc;
    }
    host->log(ctx, DM_HOST_LOG_INFO, "%zu service templates loaded from %s", s->set.n, dir);
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
