/*
 * plugin.c — the payment template: a gateway plugin for "Example Pay", the
 * tiny gateway gateway-sim.mjs next to it simulates. It shows every part a
 * real gateway needs: the config (base URL, API key, webhook secret), HTTP
 * through the host's client, a payment addressed by the gateway's own id
 * (ABI 1.5: query_order and cancel_order get the gateway_ref create
 * returned), a notification checked by an HMAC-SHA256 signature compared
 * in constant time (the host's helpers), and the gateway's statuses mapped
 * to Dermaga's, an unknown one refused. README.md says what to change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dermaga/payment.h>

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "payment-example"
#endif

typedef struct gateway {
    dm_plugin_ctx_t *ctx;
    const dm_host_t *host;
    const char      *base_url;       /* borrowed from the config, valid until fini */
    const char      *api_key;
    const char      *webhook_secret;
    int              timeout_ms;
} gateway;

static int gw_init(dm_plugin_ctx_t *ctx, const dm_host_t *host, void **state, dm_err_t *err)
{
    if (!DM_HOST_HAS(host, equal_ct))
        return dm_err_set(err, DM_EUNSUPPORTED, "needs a host of ABI 1.5 (HMAC, constant-time compare)");
    gateway *g = calloc(1, sizeof *g);
    if (g == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    json_t *cfg = host->config(ctx);
    g->ctx = ctx;
    g->host = host;
    g->base_url = json_string_value(json_object_get(cfg, "base_url"));
    g->api_key = json_string_value(json_object_get(cfg, "api_key"));
    g->webhook_secret = json_string_value(json_object_get(cfg, "webhook_secret"));
    g->timeout_ms = (int)json_integer_value(json_object_get(cfg, "timeout_ms"));
    *state = g;
    return 0;
}

static void gw_fini(void *state)
{
    free(state);
}

/* method path with an optional JSON body; *out = the answer's JSON (new)
 * when its status is *want. Gateway trouble → DM_EUNAVAIL; 404 →
 * DM_ENOTFOUND; 409 → DM_ECONFLICT; other answers → DM_EIO. */
static int call(gateway *g, const char *method, const char *path, const json_t *body, long want,
                json_t **out, dm_err_t *err)
{
    char url[1024], auth[512];
    snprintf(url, sizeof url, "%s%s", g->base_url, path);
    snprintf(auth, sizeof auth, "Bearer %s", g->api_key);
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    const dm_http_header_t hdrs[] = { { "Authorization", auth }, { "Content-Type", "application/json" } };
    dm_http_request_t req = { .size = sizeof req, .method = method, .url = url, .headers = hdrs,
                              .n_headers = 2, .body = text, .body_len = text != NULL ? strlen(text) : 0,
                              .timeout_ms = (uint32_t)g->timeout_ms };
    dm_http_response_t *resp = NULL;
    dm_err_t he = { 0, "" };
    int rc = g->host->http_request(g->ctx, &req, &resp, &he);
    free(text);
    if (rc != 0)
        return dm_err_set(err, DM_EUNAVAIL, "Example Pay unreachable: %s", he.msg);
    long status = resp->status;
    *out = json_loadb(resp->body, resp->body_len, 0, NULL);
    g->host->http_response_free(resp);
    if (status == want && json_is_object(*out))
        return 0;
    const char *why = json_string_value(json_object_get(*out, "error"));
    json_decref(*out);
    *out = NULL;
    int code = status == 404 ? DM_ENOTFOUND : status == 409 ? DM_ECONFLICT
                                            : status >= 500 ? DM_EUNAVAIL : DM_EIO;
    return dm_err_set(err, code, "Example Pay answered %ld: %s", status, why != NULL ? why : "");
}

static int gw_methods(void *state, json_t **out, dm_err_t *err)
{
    *out = json_pack("[{s:s, s:s}, {s:s, s:s}]", "id", "card", "name", "Card", "id", "bank_transfer",
                     "name", "Bank transfer");
    return *out != NULL ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
}

/* The gateway's status words → Dermaga's; 0 for a word it does not know. */
static uint32_t map_status(const char *s)
{
    static const struct { const char *word; uint32_t status; } map[] = {
        { "pending", DM_PAYMENT_PENDING },     { "paid", DM_PAYMENT_SUCCESS },
        { "failed", DM_PAYMENT_FAILED },       { "cancelled", DM_PAYMENT_CANCELLED },
        { "expired", DM_PAYMENT_EXPIRED },     { "refunded", DM_PAYMENT_REFUNDED },
    };
    for (size_t i = 0; s != NULL && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(s, map[i].word) == 0)
            return map[i].status;
    return 0;
}

/* A payment object of the gateway → the event the host reads. Takes p. */
static int to_event(json_t *p, dm_payment_event_t *out, dm_err_t *err)
{
    const char *status = json_string_value(json_object_get(p, "status"));
    const char *ref = json_string_value(json_object_get(p, "reference"));
    const char *id = json_string_value(json_object_get(p, "id"));
    out->status = map_status(status);
    if (out->status == 0 || ref == NULL || id == NULL || !json_is_integer(json_object_get(p, "amount"))) {
        int rc = dm_err_set(err, DM_EINVAL, "Example Pay: unknown status \"%.40s\" or missing fields",
                            status != NULL ? status : "");
        json_decref(p);
        return rc;
    }
    snprintf(out->order_id, sizeof out->order_id, "%s", ref);
    snprintf(out->gateway_ref, sizeof out->gateway_ref, "%s", id);
    snprintf(out->method, sizeof out->method, "%s",
             json_string_value(json_object_get(p, "method")) != NULL
                 ? json_string_value(json_object_get(p, "method")) : "");
    out->amount = json_integer_value(json_object_get(p, "amount"));
    out->raw = p; /* kept by the host for audit */
    return 0;
}

static int gw_create(void *state, const dm_payment_request_t *req, dm_payment_created_t *out,
                     dm_err_t *err)
{
    json_t *body = json_pack("{s:s, s:I, s:s, s:I}", "reference", req->order_id, "amount",
                             (json_int_t)req->amount, "method", req->method, "expires_in",
                             (json_int_t)(req->expires_in_s > 0 ? req->expires_in_s : 86400));
    json_t *p = NULL;
    int rc = body != NULL ? call(state, "POST", "/v1/payments", body, 201, &p, err)
                          : dm_err_set(err, DM_ENOMEM, "out of memory");
    json_decref(body);
    if (rc != 0)
        return rc;
    const char *id = json_string_value(json_object_get(p, "id"));
    const char *checkout = json_string_value(json_object_get(p, "checkout_url"));
    if (id == NULL || strlen(id) >= sizeof out->gateway_ref) {
        json_decref(p);
        return dm_err_set(err, DM_EIO, "Example Pay: the answer has no payment id");
    }
    /* The gateway's id: the host stores it and hands it back (ABI 1.5). */
    snprintf(out->gateway_ref, sizeof out->gateway_ref, "%s", id);
    snprintf(out->redirect_url, sizeof out->redirect_url, "%s", checkout != NULL ? checkout : "");
    out->expires_at_ms = json_integer_value(json_object_get(p, "expires_at"));
    out->raw = p;
    return 0;
}

static int gw_query_order(void *state, const dm_payment_order_t *order, dm_payment_event_t *out,
                          dm_err_t *err)
{
    if (order->gateway_ref[0] == '\0')
        return dm_err_set(err, DM_ENOTFOUND, "no Example Pay id for order %s", order->order_id);
    char path[256];
    snprintf(path, sizeof path, "/v1/payments/%.200s", order->gateway_ref);
    json_t *p = NULL;
    int rc = call(state, "GET", path, NULL, 200, &p, err);
    return rc == 0 ? to_event(p, out, err) : rc;
}

static int gw_cancel_order(void *state, const dm_payment_order_t *order, dm_err_t *err)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/payments/%.200s/cancel", order->gateway_ref);
    json_t *p = NULL;
    int rc = call(state, "POST", path, NULL, 200, &p, err);
    json_decref(p);
    return rc;
}

/* The signature is hex HMAC-SHA256 of the raw body with the webhook
 * secret, in X-Signature; compared in constant time. */
static int gw_verify(void *state, const dm_http_header_t *headers, size_t n_headers, const char *body,
                     size_t body_len, dm_payment_event_t *out, dm_err_t *err)
{
    gateway *g = state;
    const char *sig = NULL;
    for (size_t i = 0; i < n_headers; i++)
        if (strcasecmp(headers[i].name, "X-Signature") == 0)
            sig = headers[i].value;
    unsigned char mac[DM_HOST_SHA256_LEN];
    dm_host_bytes_t msg = { body, body_len };
    if (g->host->hmac(DM_HOST_SHA256, g->webhook_secret, strlen(g->webhook_secret), &msg, 1, mac,
                      sizeof mac) != DM_HOST_SHA256_LEN)
        return dm_err_set(err, DM_EIO, "HMAC failed");
    char want[2 * DM_HOST_SHA256_LEN + 1];
    for (size_t i = 0; i < sizeof mac; i++)
        snprintf(want + 2 * i, 3, "%02x", mac[i]);
    if (sig == NULL || strlen(sig) != 2 * DM_HOST_SHA256_LEN ||
        !g->host->equal_ct(sig, want, 2 * DM_HOST_SHA256_LEN))
        return dm_err_set(err, DM_EPERM, "bad or missing X-Signature");
    json_t *p = json_loadb(body, body_len, 0, NULL);
    if (!json_is_object(p)) {
        json_decref(p);
        return dm_err_set(err, DM_EINVAL, "the notification is not a JSON object");
    }
    return to_event(p, out, err);
}

static const dm_payment_ops_t gw_ops = {
    .methods = gw_methods,
    .create = gw_create,
    .verify_notification = gw_verify,
    .query_order = gw_query_order,   /* ABI 1.5: given the gateway's id */
    .cancel_order = gw_cancel_order,
    /* refund_order: optional; add it when the gateway refunds. */
};

static const dm_plugin_conf_key_t gw_keys[] = {
    { "base_url", DM_CONF_STRING, DM_CONF_REQUIRED, NULL, "the gateway's API, e.g. http://127.0.0.1:4010" },
    { "api_key", DM_CONF_SECRET, DM_CONF_REQUIRED, NULL, "sent as a bearer token" },
    { "webhook_secret", DM_CONF_SECRET, DM_CONF_REQUIRED, NULL, "the HMAC key of notifications" },
    { "timeout_ms", DM_CONF_INT, 0, "10000", "per HTTP call" },
    DM_CONF_END
};

static const dm_plugin_info_t gw_info = {
    DM_PLUGIN_HEADER,
    .name = PLUGIN_NAME,
    .version = "0.1.0",
    .kind = DM_PLUGIN_PAYMENT,
    .init = gw_init,
    .fini = gw_fini,
    DM_PLUGIN_OPS(gw_ops),
    .config_keys = gw_keys,
    .description = "template: Example Pay (gateway-sim.mjs)",
};

DM_PLUGIN_ENTRY(gw_info)
