/*
 * host_api.c — the dm_host table given to plugins: logging under the
 * plugin's name, its validated config, clocks and randomness; the HTTP
 * client lives in host_http.c, encoding and crypto in host_crypto.c. Also the per-plugin ctx that identifies the
 * caller. Everything here is safe to call from any thread.
 */
#include "host_api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dermaga/plugin.h>

#include "util/clock.h"
#include "util/log.h"

dm_plugin_ctx_t *dm__plugin_ctx_new(const char *name, json_t *config)
{
    dm_plugin_ctx_t *ctx = calloc(1, sizeof *ctx);
    char *copy = strdup(name);
    if (ctx == NULL || copy == NULL) {
        free(ctx);
        free(copy);
        json_decref(config);
        return NULL;
    }
    ctx->magic = DM_PLUGIN_CTX_MAGIC;
    ctx->name = copy;
    ctx->config = config;
    return ctx;
}

void dm__plugin_ctx_free(dm_plugin_ctx_t *ctx)
{
    if (ctx == NULL)
        return;
    ctx->magic = 0;
    free(ctx->name);
    json_decref(ctx->config);
    free(ctx);
}

const char *dm__plugin_ctx_name(const dm_plugin_ctx_t *ctx)
{
    if (ctx == NULL || ctx->magic != DM_PLUGIN_CTX_MAGIC)
        return NULL;
    return ctx->name;
}

static dm_log_level_t map_level(int level)
{
    if (level <= DM_HOST_LOG_DEBUG)
        return DM_LOG_DEBUG;
    if (level == DM_HOST_LOG_INFO)
        return DM_LOG_INFO;
    if (level == DM_HOST_LOG_WARN)
        return DM_LOG_WARN;
    return DM_LOG_ERROR;
}

static void host_log(dm_plugin_ctx_t *ctx, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void host_log(dm_plugin_ctx_t *ctx, int level, const char *fmt, ...)
{
    dm_log_level_t lv = map_level(level);
    if (lv < dm__log_get_level())
        return;
    const char *name = dm__plugin_ctx_name(ctx);
    if (name == NULL) {
        dm__log(DM_LOG_ERROR, "plugin", "a plugin called log with an invalid ctx");
        return;
    }
    char msg[2048];
    if (fmt == NULL) {
        snprintf(msg, sizeof msg, "(null)");
    } else {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    }
    json_t *m = json_string(msg);
    if (m == NULL)
        m = json_string("(message was not valid UTF-8)");
    json_t *obj = json_object();
    if (obj == NULL) {
        json_decref(m);
        return;
    }
    json_object_set_new(obj, "src", json_string("plugin"));
    json_object_set_new(obj, "plugin", json_string(name));
    json_object_set_new(obj, "msg", m);
    dm__log_json(lv, obj);
}

static json_t *host_config(dm_plugin_ctx_t *ctx)
{
    if (dm__plugin_ctx_name(ctx) == NULL) {
        dm__log(DM_LOG_ERROR, "plugin", "a plugin called config with an invalid ctx");
        return NULL;
    }
    return ctx->config;
}

static int64_t host_wall_ms(void) { return dm__clock_wall_ms(); }
static uint64_t host_mono_ns(void) { return dm__clock_mono_ns(); }
static int host_random_bytes(void *buf, size_t n) { return dm__random_bytes(buf, n); }

static const dm_host_t host_table = {
    .size = sizeof(dm_host_t),
    .abi_major = DM_PLUGIN_ABI_MAJOR,
    .abi_minor = DM_PLUGIN_ABI_MINOR,
    .log = host_log,
    .config = host_config,
    .http_request = dm__host_http_request,
    .http_response_free = dm__host_http_response_free,
    .clock_wall_ms = host_wall_ms,
    .clock_mono_ns = host_mono_ns,
    .random_bytes = host_random_bytes,
    .base64_encode = dm__host_base64_encode,
    .base64_decode = dm__host_base64_decode,
    .digest = dm__host_digest,
    .hmac = dm__host_hmac,
    .equal_ct = dm__host_equal_ct,
};

const dm_host_t *dm__plugin_host(void)
{
    return &host_table;
}
