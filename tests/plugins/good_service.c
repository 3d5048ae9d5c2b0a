/*
 * good_service.c — a minimal service plugin: one catalog entry and its
 * workload, with the image taken from config.
 */
#include <stdlib.h>

#include <dermaga/service.h>

typedef struct state {
    const dm_host_t *host;
    dm_plugin_ctx_t *ctx;
} state;

static int init(dm_plugin_ctx_t *ctx, const dm_host_t *host, void **out, dm_err_t *err)
{
    state *st = malloc(sizeof *st);
    if (st == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    st->host = host;
    st->ctx = ctx;
    *out = st;
    return 0;
}

static void fini(void *st) { free(st); }

static int catalog(void *p, json_t **out, dm_err_t *err)
{
    *out = json_pack("[{s:s, s:s, s:s, s:s}]", "slug", "redis", "name", "Redis",
                     "category", "database", "description", "in-memory store");
    return *out != NULL ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
}

static int workload(void *p, const dm_service_request_t *req, json_t **out, dm_err_t *err)
{
    state *st = p;
    json_t *cfg = st->host->config(st->ctx);
    *out = json_pack("{s:O, s:[{s:s, s:i}]}", "image", json_object_get(cfg, "image"),
                     "ports", "name", "redis", "port", 6379);
#ifdef FIX_OVER_PLAN /* greedy_service: more memory than any plan, for plugin-check's test */
    json_object_set_new(*out, "resources", json_pack("{s:i}", "memoryMb", 1 << 20));
#endif
    return *out != NULL ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
}

static const dm_service_ops_t ops = { .catalog = catalog, .workload = workload };

static const dm_plugin_conf_key_t keys[] = {
    { "image", DM_CONF_STRING, 0, "\"redis:7\"", "container image" },
    DM_CONF_END
};

static const dm_plugin_info_t info = {
    DM_PLUGIN_HEADER,
    .name = "good_service",
    .version = "2.0.0",
    .kind = DM_PLUGIN_SERVICE,
    .init = init,
    .fini = fini,
    DM_PLUGIN_OPS(ops),
    .config_keys = keys,
};

DM_PLUGIN_ENTRY(info)
