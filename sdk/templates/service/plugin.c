/*
 * plugin.c — the service template: the smallest useful service plugin, to
 * copy and fill in. It offers one static site. It shows the descriptor, a
 * config key table, init/fini with state, and ops that follow the
 * ownership rules. README.md next to it says what to change.
 */
#include <stdlib.h>
#include <string.h>

#include <dermaga/service.h>

/* The plugin's name: the build passes its CMake project name (the .so is
 * <name>.so, and operators enable it by this name). */
#ifndef PLUGIN_NAME
#define PLUGIN_NAME "service-example"
#endif

/* Everything the ops need, made in init and freed in fini. Ops may run on
 * several worker threads at once: keep this read-only after init, or lock. */
typedef struct example {
    dm_plugin_ctx_t *ctx;  /* the host's handle for us; valid until fini */
    const dm_host_t *host; /* the host table; valid until fini */
    json_t          *cfg;  /* borrowed from the host; valid until fini */
} example;

static int example_init(dm_plugin_ctx_t *ctx, const dm_host_t *host, void **state, dm_err_t *err)
{
    example *ex = calloc(1, sizeof *ex);
    if (ex == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    ex->ctx = ctx;
    ex->host = host;
    /* Already checked against config_keys below, defaults filled in. */
    ex->cfg = host->config(ctx);
    host->log(ctx, DM_HOST_LOG_INFO, "serving image %s",
              json_string_value(json_object_get(ex->cfg, "image")));
    *state = ex;
    return 0;
}

static void example_fini(void *state)
{
    free(state);
}

/* *out is a new reference; the host decrefs it. */
static int example_catalog(void *state, json_t **out, dm_err_t *err)
{
    *out = json_pack("[{s:s, s:s, s:s, s:s}]", "slug", "static-site", "name", "Static site",
                     "category", "web", "description", "Serve a folder of HTML");
    return *out != NULL ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
}

/* req is borrowed for the call; *out is a new reference. */
static int example_workload(void *state, const dm_service_request_t *req, json_t **out,
                            dm_err_t *err)
{
    example *ex = state;
    if (req->service_slug == NULL || strcmp(req->service_slug, "static-site") != 0)
        return dm_err_set(err, DM_ENOTFOUND, "no service '%s' here",
                          req->service_slug != NULL ? req->service_slug : "");
    *out = json_pack("{s:O, s:[{s:s, s:i, s:s, s:b}]}",
                     "image", json_object_get(ex->cfg, "image"),
                     "ports", "name", "http", "port", 80, "protocol", "tcp", "public", 1);
    return *out != NULL ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
}

static const dm_service_ops_t example_ops = {
    .catalog = example_catalog,
    .workload = example_workload,
    .presentation = NULL, /* optional ops may stay NULL */
};

/* Every key an operator may set in this plugin's "config" block. */
static const dm_plugin_conf_key_t example_keys[] = {
    { "image", DM_CONF_STRING, 0, "\"nginx:alpine\"", "container image serving the site" },
    DM_CONF_END
};

static const dm_plugin_info_t example_info = {
    DM_PLUGIN_HEADER, /* magic, ABI version, sizes, build signature */
    .name = PLUGIN_NAME,
    .version = "0.1.0",
    .kind = DM_PLUGIN_SERVICE,
    .init = example_init,
    .fini = example_fini,
    DM_PLUGIN_OPS(example_ops),
    .config_keys = example_keys,
    .description = "template: one static site",
};

DM_PLUGIN_ENTRY(example_info)
