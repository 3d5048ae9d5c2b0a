/*
 * variant.c — one fake payment plugin, compiled once per loader refusal
 * with the -D that breaks exactly one thing (tests/plugins/CMakeLists.txt
 * lists them). Built with no -D it is a valid plugin (variant_ok), which
 * proves each refusal comes from its one change.
 */
#include <stdio.h>
#include <string.h>

#include <dermaga/payment.h>

#ifndef FIX_NAME
#error "FIX_NAME is set by CMakeLists.txt"
#endif
#ifndef FIX_MAGIC
#define FIX_MAGIC DM_PLUGIN_MAGIC
#endif
#ifndef FIX_MAJOR
#define FIX_MAJOR DM_PLUGIN_ABI_MAJOR
#endif
#ifndef FIX_MINOR
#define FIX_MINOR DM_PLUGIN_ABI_MINOR
#endif
#ifndef FIX_INFO_SIZE
#define FIX_INFO_SIZE sizeof(dm_plugin_info_t)
#endif
#ifndef FIX_SIGNATURE
#define FIX_SIGNATURE DM_PLUGIN_BUILD_SIGNATURE
#endif
#ifndef FIX_VERSION
#define FIX_VERSION "0.0.1"
#endif
#ifndef FIX_KIND
#define FIX_KIND DM_PLUGIN_PAYMENT
#endif
#ifndef FIX_OPS_SIZE
#define FIX_OPS_SIZE sizeof(dm_payment_ops_t)
#endif
#ifndef FIX_OPS_KIND
#define FIX_OPS_KIND DM_PLUGIN_PAYMENT /* what DM_PLUGIN_OPS would set */
#endif

/* Where fini leaves its mark (from config key fini_marker), kept outside
 * the state so a fini wrongly called after a failed init still shows. */
static char marker[512];

static int methods(void *state, json_t **out, dm_err_t *err)
{
    *out = json_pack("[{s:s, s:s}]", "id", "fixture", "name", FIX_NAME);
    return *out != NULL ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
}

/* unused when FIX_NULL_CREATE leaves the op out */
__attribute__((unused)) static int create(void *state, const dm_payment_request_t *req, dm_payment_created_t *out,
                  dm_err_t *err)
{
    snprintf(out->token, sizeof out->token, "variant-%s", req->order_id);
    return 0;
}

static int verify(void *state, const dm_http_header_t *headers, size_t n_headers,
                  const char *body, size_t body_len, dm_payment_event_t *out, dm_err_t *err)
{
    return dm_err_set(err, DM_EPERM, "fixture verifies nothing");
}

__attribute__((unused)) static int query(void *state, const char *order_id, dm_payment_event_t *out, dm_err_t *err)
{
    out->status = DM_PAYMENT_PENDING;
    return 0;
}

static int cancel(void *state, const char *order_id, dm_err_t *err) { return 0; }

/* unused unless FIX_ORDER_OPS sets the ABI 1.5 slot */
__attribute__((unused)) static int query_order(void *state, const dm_payment_order_t *order,
                                               dm_payment_event_t *out, dm_err_t *err)
{
    out->status = DM_PAYMENT_PENDING;
    return 0;
}

static int refund(void *state, const char *order_id, int64_t amount, const char *reason,
                  dm_err_t *err)
{
    return 0;
}

/* unused when FIX_NO_OPS leaves .ops NULL */
static const dm_payment_ops_t ops __attribute__((unused)) = {
    .methods = methods,
#ifndef FIX_NULL_CREATE
    .create = create,
#endif
    .verify_notification = verify,
#ifndef FIX_NULL_QUERY
    .query_status = query,
#endif
#ifdef FIX_ORDER_OPS
    .query_order = query_order,
#endif
    /* Set even when FIX_OPS_SIZE leaves them out: the host must not look
     * past the size the plugin declares. */
    .cancel = cancel,
    .refund = refund,
};

static int init(dm_plugin_ctx_t *ctx, const dm_host_t *host, void **state, dm_err_t *err)
{
    const char *m = json_string_value(json_object_get(host->config(ctx), "fini_marker"));
    snprintf(marker, sizeof marker, "%s", m != NULL ? m : "");
#ifdef FIX_INIT_FAILS
    return dm_err_set(err, DM_EUNAVAIL, "fixture init refuses on purpose");
#else
    *state = NULL;
    return 0;
#endif
}

static void fini(void *state)
{
    if (marker[0] == '\0')
        return;
    FILE *f = fopen(marker, "a");
    if (f != NULL) {
        fprintf(f, "fini %s\n", FIX_NAME);
        fclose(f);
    }
}

static const dm_plugin_conf_key_t keys[] = {
    { "fini_marker", DM_CONF_STRING, 0, "\"\"", "file fini appends to (tests)" },
#ifdef FIX_BAD_CONF_TABLE
    { "port", DM_CONF_INT, 0, "\"eighty\"", "a default of the wrong type" },
#endif
    DM_CONF_END
};

/* unused when FIX_ENTRY_NULL returns NULL instead */
static const dm_plugin_info_t info __attribute__((unused)) = {
    .magic = FIX_MAGIC,
    .abi_major = FIX_MAJOR,
    .abi_minor = FIX_MINOR,
    .info_size = (uint32_t)(FIX_INFO_SIZE),
    .build_signature = FIX_SIGNATURE,
    .name = FIX_NAME,
    .version = FIX_VERSION,
    .kind = FIX_KIND,
    .init = init,
    .fini = fini,
#ifndef FIX_NO_OPS
    .ops = &ops,
#endif
    .ops_size = FIX_OPS_SIZE,
    .ops_kind = FIX_OPS_KIND,
    .config_keys = keys,
    .description = "loader test fixture",
};

#if defined(FIX_NO_ENTRY)
/* Exports something, just not the entry point. */
DM_PLUGIN_EXPORT const dm_plugin_info_t *dermaga_plugin_entry_typo(void);
DM_PLUGIN_EXPORT const dm_plugin_info_t *dermaga_plugin_entry_typo(void) { return &info; }
#elif defined(FIX_ENTRY_NULL)
DM_PLUGIN_EXPORT const dm_plugin_info_t *dermaga_plugin_entry(void);
DM_PLUGIN_EXPORT const dm_plugin_info_t *dermaga_plugin_entry(void) { return NULL; }
#else
DM_PLUGIN_ENTRY(info)
#endif
