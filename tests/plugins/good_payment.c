/*
 * good_payment.c — a well-formed payment plugin that uses the host table
 * the way a real gateway plugin would: reads its validated config in init,
 * logs under its own name, calls HTTP through the host in query_status,
 * uses the clock and random bytes in create, and marks a file in fini.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dermaga/payment.h>

typedef struct state {
    dm_plugin_ctx_t *ctx;
    const dm_host_t *host;
    char             mode[32];
    char             base_url[256];
    char             server_key[128];
    char             marker[512];
    json_int_t       timeout_ms;
} state;

static const char *cfg_str(json_t *cfg, const char *key)
{
    const char *s = json_string_value(json_object_get(cfg, key));
    return s != NULL ? s : "";
}

static int init(dm_plugin_ctx_t *ctx, const dm_host_t *host, void **out, dm_err_t *err)
{
    if (!DM_HOST_HAS(host, random_bytes))
        return dm_err_set(err, DM_EUNSUPPORTED, "host too old");
    state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    json_t *cfg = host->config(ctx);
    st->ctx = ctx;
    st->host = host;
    snprintf(st->mode, sizeof st->mode, "%s", cfg_str(cfg, "mode"));
    snprintf(st->base_url, sizeof st->base_url, "%s", cfg_str(cfg, "base_url"));
    snprintf(st->server_key, sizeof st->server_key, "%s", cfg_str(cfg, "server_key"));
    snprintf(st->marker, sizeof st->marker, "%s", cfg_str(cfg, "fini_marker"));
    st->timeout_ms = json_integer_value(json_object_get(cfg, "timeout_ms"));
    host->log(ctx, DM_HOST_LOG_INFO, "ready in %s mode, timeout %lld ms", st->mode,
              (long long)st->timeout_ms);
    *out = st;
    return 0;
}

static void fini(void *p)
{
    state *st = p;
    if (st->marker[0] != '\0') {
        FILE *f = fopen(st->marker, "a");
        if (f != NULL) {
            fprintf(f, "fini payment-good\n");
            fclose(f);
        }
    }
    free(st);
}

static int methods(void *p, json_t **out, dm_err_t *err)
{
    *out = json_pack("[{s:s, s:s}, {s:s, s:s}]", "id", "qris", "name", "QRIS",
                     "id", "bank_transfer", "name", "Bank transfer");
    return *out != NULL ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
}

static int create(void *p, const dm_payment_request_t *req, dm_payment_created_t *out,
                  dm_err_t *err)
{
    state *st = p;
    unsigned char rnd[8];
    if (req->amount <= 0)
        return dm_err_set(err, DM_EINVAL, "amount must be positive");
    if (st->host->random_bytes(rnd, sizeof rnd) != 0)
        return dm_err_set(err, DM_EIO, "no randomness");
    snprintf(out->token, sizeof out->token, "tok-%s", req->order_id);
    if (snprintf(out->redirect_url, sizeof out->redirect_url, "%s/pay/%s", st->base_url,
                 req->order_id) >= (int)sizeof out->redirect_url)
        return dm_err_set(err, DM_EINVAL, "redirect URL too long");
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(out->gateway_ref + 2 * i, 3, "%02x", rnd[i]);
    out->expires_at_ms = st->host->clock_wall_ms() + (req->expires_in_s != 0 ? req->expires_in_s : 900) * 1000;
    return 0;
}

static int verify(void *p, const dm_http_header_t *headers, size_t n_headers, const char *body,
                  size_t body_len, dm_payment_event_t *out, dm_err_t *err)
{
    state *st = p;
    const char *sig = NULL;
    for (size_t i = 0; i < n_headers; i++) {
        if (strcmp(headers[i].name, "X-Signature") == 0)
            sig = headers[i].value;
    }
    if (sig == NULL || strcmp(sig, st->server_key) != 0)
        return dm_err_set(err, DM_EPERM, "bad signature");
    json_t *j = json_loadb(body, body_len, 0, NULL);
    const char *order = json_string_value(json_object_get(j, "order_id"));
    if (order == NULL) {
        json_decref(j);
        return dm_err_set(err, DM_EINVAL, "no order_id");
    }
    snprintf(out->order_id, sizeof out->order_id, "%s", order);
    out->amount = json_integer_value(json_object_get(j, "amount"));
    out->status = DM_PAYMENT_SUCCESS;
    out->raw = j;
    return 0;
}

/* GET <base_url>/v2/<order>/status through the host's HTTP client. */
static int query(void *p, const char *order_id, dm_payment_event_t *out, dm_err_t *err)
{
    state *st = p;
    char url[512];
    snprintf(url, sizeof url, "%s/v2/%s/status", st->base_url, order_id);
    const dm_http_header_t hdrs[] = { { "Accept", "application/json" } };
    dm_http_request_t req = { .size = sizeof req, .method = "GET", .url = url,
                              .headers = hdrs, .n_headers = 1,
                              .timeout_ms = (uint32_t)st->timeout_ms };
    dm_http_response_t *resp = NULL;
    int rc = st->host->http_request(st->ctx, &req, &resp, err);
    if (rc != 0)
        return rc;
    json_t *j = resp->status == 200 ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    st->host->http_response_free(resp);
    if (j == NULL)
        return dm_err_set(err, DM_EIO, "gateway answered badly");
    const char *s = json_string_value(json_object_get(j, "status"));
    out->status = s != NULL && strcmp(s, "settlement") == 0 ? DM_PAYMENT_SUCCESS : DM_PAYMENT_PENDING;
    out->amount = json_integer_value(json_object_get(j, "amount"));
    snprintf(out->order_id, sizeof out->order_id, "%s", order_id);
    out->raw = j;
    return 0;
}

static int cancel(void *p, const char *order_id, dm_err_t *err) { return 0; }

static const dm_payment_ops_t ops = {
    .methods = methods,
    .create = create,
    .verify_notification = verify,
    .query_status = query,
    .cancel = cancel,
    .refund = NULL, /* this gateway cannot refund */
};

static const dm_plugin_conf_key_t keys[] = {
    { "server_key", DM_CONF_SECRET, DM_CONF_REQUIRED, NULL, "server key from the gateway dashboard" },
    { "mode", DM_CONF_STRING, 0, "\"sandbox\"", "sandbox or production" },
    { "base_url", DM_CONF_STRING, 0, "\"http://127.0.0.1:9\"", "gateway API base URL" },
    { "timeout_ms", DM_CONF_INT, 0, "5000", "HTTP timeout" },
    { "methods", DM_CONF_ARRAY, 0, "[\"qris\"]", "methods to offer" },
    { "fini_marker", DM_CONF_STRING, 0, "\"\"", "file fini appends to (tests)" },
    DM_CONF_END
};

static const dm_plugin_info_t info = {
    DM_PLUGIN_HEADER,
    .name = "payment-good",
    .version = "1.0.0",
    .kind = DM_PLUGIN_PAYMENT,
    .init = init,
    .fini = fini,
    DM_PLUGIN_OPS(ops),
    .config_keys = keys,
    .description = "a payment plugin for the loader tests",
};

DM_PLUGIN_ENTRY(info)
