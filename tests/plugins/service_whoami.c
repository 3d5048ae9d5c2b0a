/*
 * service_whoami.c — a second service plugin, "service-whoami", for the
 * tests of which service plugin renders a service: whatever the service,
 * it returns one web workload (the image from config, by default the
 * locally built BusyBox test image) whose entrypoint is replaced by a
 * shell that writes its own page, WHOAMI_MARKER and the service's slug,
 * and serves it on 8080; and shows its public URL. It remembers nothing
 * and generates no secrets.
 */
#include <stdio.h>
#include <stdlib.h>

#include <dermaga/service.h>

#define WHOAMI_MARKER "whoami-page-ok"

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
    (void)p;
    *out = json_pack("[{s:s, s:s, s:s, s:s}]", "slug", "whoami", "name", "Who am I",
                     "category", "web-hosting", "description", "one static page");
    return *out != NULL ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
}

static int workload(void *p, const dm_service_request_t *req, json_t **out, dm_err_t *err)
{
    state *st = p;
    json_t *cfg = st->host->config(st->ctx);
    const json_t *plan = req->plan;
    char script[512];
    /* The slug is the catalog's [a-z0-9-]: safe inside single quotes. */
    snprintf(script, sizeof script,
             "mkdir -p /tmp/w && echo '" WHOAMI_MARKER " %.63s' > /tmp/w/index.html && "
             "exec httpd -f -p 8080 -h /tmp/w", req->service_slug);
    *out = json_pack("{s:O, s:[s,s], s:[s], s:[{s:s, s:i, s:s, s:b}],"
                     " s:{s:s, s:i, s:s, s:i, s:i}, s:{s:O, s:O}, s:s}",
                     "image", json_object_get(cfg, "image"),
                     "entrypoint", "/bin/sh", "-c", "command", script,
                     "ports", "name", "http", "port", 8080, "protocol", "tcp", "public", 1,
                     "health", "type", "http", "port", 8080, "path", "/", "initialDelayS", 1, "periodS", 10,
                     "resources", "cpuMillicores", json_object_get(plan, "cpuMillicores"),
                     "memoryMb", json_object_get(plan, "memoryMb"),
                     "restart", "never");
    return *out != NULL ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
}

/* urls.public from the runtime's endpoint of port "http" ({host, port}). */
static int presentation(void *p, const dm_service_request_t *req, json_t **out, dm_err_t *err)
{
    (void)p;
    const json_t *ep = json_object_get(json_object_get(req->stored, "endpoints"), "http");
    const char *host = json_string_value(json_object_get(ep, "host"));
    const json_t *port = json_object_get(ep, "port");
    char url[300];
    snprintf(url, sizeof url, "http://%s:%" JSON_INTEGER_FORMAT, host != NULL ? host : "",
             json_integer_value(port));
    *out = host != NULL && json_is_integer(port) ? json_pack("{s:{s:s}}", "urls", "public", url)
                                                 : json_pack("{s:{}}", "urls");
    return *out != NULL ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
}

static const dm_service_ops_t ops = { .catalog = catalog, .workload = workload, .presentation = presentation };

static const dm_plugin_conf_key_t keys[] = {
    { "image", DM_CONF_STRING, 0, "\"localhost/dermaga/static-site:test\"", "container image" },
    DM_CONF_END
};

static const dm_plugin_info_t info = {
    DM_PLUGIN_HEADER,
    .name = "service-whoami",
    .version = "1.0.0",
    .kind = DM_PLUGIN_SERVICE,
    .init = init,
    .fini = fini,
    DM_PLUGIN_OPS(ops),
    .config_keys = keys,
    .description = "test fixture: one static page for any service",
};

DM_PLUGIN_ENTRY(info)
