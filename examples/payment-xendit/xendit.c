/*
 * xendit.c — payment-xendit: Xendit's Invoice API as a Dermaga payment
 * gateway, built out of tree against the installed SDK (ABI 1.5).
 * create = POST /v2/invoices (gateway_ref = the invoice id, redirect_url =
 * invoice_url); query_order = GET /v2/invoices/{id}; cancel_order = POST
 * /invoices/{id}/expire!. Every call authenticates with HTTP Basic: the
 * secret key as user, an empty password. A callback carries the account's
 * verification token in x-callback-token (compared in constant time); it
 * signs nothing, so the invoice is read back from Xendit and the callback is
 * believed only when Xendit states the same status, external_id and amount.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <dermaga/payment.h>

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "payment-xendit"
#endif

typedef struct xendit {
    dm_plugin_ctx_t *ctx;
    const dm_host_t *host;
    const char      *base_url;       /* borrowed from the config until fini */
    const char      *callback_token;
    char             auth[512];      /* "Basic base64(secret_key:)" */
    int              timeout_ms;
    json_int_t       duration_s;
} xendit;

static int xe_init(dm_plugin_ctx_t *ctx, const dm_host_t *host, void **state, dm_err_t *err)
{
    if (!DM_HOST_HAS(host, equal_ct))
        return dm_err_set(err, DM_EUNSUPPORTED, "needs a host of ABI 1.5 (base64, constant-time compare)");
    json_t *cfg = host->config(ctx);
    const char *key = json_string_value(json_object_get(cfg, "secret_key"));
    const char *tok = json_string_value(json_object_get(cfg, "callback_token"));
    if (key == NULL || key[0] == '\0' || tok == NULL || tok[0] == '\0')
        return dm_err_set(err, DM_EINVAL, "secret_key and callback_token must not be empty");
    xendit *x = calloc(1, sizeof *x);
    if (x == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    x->ctx = ctx;
    x->host = host;
    x->base_url = json_string_value(json_object_get(cfg, "api_base_url"));
    x->callback_token = tok;
    x->timeout_ms = (int)json_integer_value(json_object_get(cfg, "timeout_ms"));
    x->duration_s = json_integer_value(json_object_get(cfg, "invoice_duration_s"));
    char user[256];
    int n = snprintf(user, sizeof user, "%s:", key);
    memcpy(x->auth, "Basic ", 6);
    int64_t m = n > 0 && (size_t)n < sizeof user
                    ? host->base64_encode(0, user, (size_t)n, x->auth + 6, sizeof x->auth - 6) : -1;
    memset(user, 0, sizeof user);
    if (m <= 0 || (size_t)m >= sizeof x->auth - 6 || x->base_url == NULL) {
        free(x);
        return dm_err_set(err, DM_EINVAL, "secret_key too long (at most 250 bytes) or no api_base_url");
    }
    *state = x;
    return 0;
}

static void xe_fini(void *state)
{
    xendit *x = state;
    memset(x->auth, 0, sizeof x->auth);
    free(x);
}

/* method path, optional JSON body: *out = the answer (new) on a 2xx.
 * Unreachable or 5xx → DM_EUNAVAIL, 401/403 → DM_EPERM, 404 → DM_ENOTFOUND,
 * other answers → DM_EIO (with Xendit's error_code, never the key). */
static int call(xendit *x, const char *method, const char *path, const json_t *body, json_t **out,
                dm_err_t *err)
{
    char url[1024];
    size_t n = strlen(x->base_url);
    n -= n > 0 && x->base_url[n - 1] == '/'; /* "https://api.xendit.co/" too */
    if ((size_t)snprintf(url, sizeof url, "%.*s%s", (int)n, x->base_url, path) >= sizeof url)
        return dm_err_set(err, DM_EINVAL, "api_base_url too long");
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    const dm_http_header_t hdrs[] = { { "Authorization", x->auth }, { "Content-Type", "application/json" },
                                      { "Accept", "application/json" } };
    dm_http_request_t req = { .size = sizeof req, .method = method, .url = url, .headers = hdrs,
                              .n_headers = 3, .body = text, .body_len = text != NULL ? strlen(text) : 0,
                              .timeout_ms = (uint32_t)x->timeout_ms };
    dm_http_response_t *resp = NULL;
    dm_err_t he = { 0, "" };
    int rc = x->host->http_request(x->ctx, &req, &resp, &he);
    free(text);
    if (rc != 0)
        return dm_err_set(err, DM_EUNAVAIL, "Xendit unreachable: %s", he.msg);
    long status = resp->status;
    *out = json_loadb(resp->body, resp->body_len, 0, NULL);
    x->host->http_response_free(resp);
    if (status >= 200 && status < 300 && json_is_object(*out))
        return 0;
    const char *why = json_string_value(json_object_get(*out, "error_code"));
    int code = status == 401 || status == 403 ? DM_EPERM : status == 404 ? DM_ENOTFOUND
                                                         : status >= 500 ? DM_EUNAVAIL : DM_EIO;
    rc = dm_err_set(err, code, "Xendit answered %ld %.60s", status, why != NULL ? why : "");
    json_decref(*out);
    *out = NULL;
    return rc;
}

static int xe_methods(void *state, json_t **out, dm_err_t *err)
{
    *out = json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "id", "invoice", "name",
                     "Any method on Xendit's page", "id", "BCA", "name", "BCA Virtual Account", "id", "QRIS",
                     "name", "QRIS", "id", "OVO", "name", "OVO");
    return *out != NULL ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
}

/* Xendit's invoice statuses → Dermaga's; 0 for a word it does not know. */
static uint32_t map_status(const char *s)
{
    if (s == NULL)
        return 0;
    if (strcmp(s, "PAID") == 0 || strcmp(s, "SETTLED") == 0)
        return DM_PAYMENT_SUCCESS;
    if (strcmp(s, "EXPIRED") == 0)
        return DM_PAYMENT_EXPIRED;
    if (strcmp(s, "PENDING") == 0)
        return DM_PAYMENT_PENDING;
    return 0;
}

/* An invoice or callback object → the event. Takes p. */
static int to_event(json_t *p, dm_payment_event_t *out, dm_err_t *err)
{
    const char *status = json_string_value(json_object_get(p, "status"));
    const char *ext = json_string_value(json_object_get(p, "external_id"));
    const char *id = json_string_value(json_object_get(p, "id"));
    const char *pm = json_string_value(json_object_get(p, "payment_method"));
    json_t *amount = json_object_get(p, "paid_amount");
    if (!json_is_number(amount))
        amount = json_object_get(p, "amount");
    out->status = map_status(status);
    if (out->status == 0 || ext == NULL || id == NULL || !json_is_number(amount) ||
        strlen(ext) >= sizeof out->order_id || strlen(id) >= sizeof out->gateway_ref) {
        int rc = dm_err_set(err, DM_EINVAL, "Xendit: unknown status \"%.40s\" or missing fields",
                            status != NULL ? status : "");
        json_decref(p);
        return rc;
    }
    snprintf(out->order_id, sizeof out->order_id, "%s", ext);
    snprintf(out->gateway_ref, sizeof out->gateway_ref, "%s", id);
    snprintf(out->method, sizeof out->method, "%s", pm != NULL ? pm : "");
    out->amount = (int64_t)json_number_value(amount);
    out->raw = p;
    return 0;
}

/* An invoice id is safe in a URL path: [A-Za-z0-9_-], 1..100 bytes. */
static int check_ref(const char *ref, dm_err_t *err)
{
    size_t n = ref != NULL ? strlen(ref) : 0;
    if (n == 0 || n > 100 || strspn(ref, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != n)
        return dm_err_set(err, n == 0 ? DM_ENOTFOUND : DM_EINVAL, "no usable Xendit invoice id");
    return 0;
}

static int xe_create(void *state, const dm_payment_request_t *req, dm_payment_created_t *out, dm_err_t *err)
{
    xendit *x = state;
    json_int_t dur = req->expires_in_s > 0 ? (json_int_t)req->expires_in_s : x->duration_s;
    json_t *body = json_pack("{s:s, s:I, s:s, s:I}", "external_id", req->order_id, "amount",
                             (json_int_t)req->amount, "description", "Dermaga wallet top-up",
                             "invoice_duration", dur);
    if (body != NULL && req->finish_url != NULL)
        json_object_set_new(body, "success_redirect_url", json_string(req->finish_url));
    if (body != NULL && req->customer_email != NULL)
        json_object_set_new(body, "payer_email", json_string(req->customer_email));
    if (body != NULL && req->method != NULL && strcmp(req->method, "invoice") != 0)
        json_object_set_new(body, "payment_methods", json_pack("[s]", req->method));
    json_t *p = NULL;
    int rc = body != NULL ? call(x, "POST", "/v2/invoices", body, &p, err)
                          : dm_err_set(err, DM_ENOMEM, "out of memory");
    json_decref(body);
    if (rc != 0)
        return rc;
    const char *id = json_string_value(json_object_get(p, "id"));
    const char *page = json_string_value(json_object_get(p, "invoice_url"));
    if (check_ref(id, err) != 0 || page == NULL || strlen(page) >= sizeof out->redirect_url) {
        json_decref(p);
        return dm_err_set(err, DM_EIO, "Xendit: the answer has no usable id or invoice_url");
    }
    snprintf(out->gateway_ref, sizeof out->gateway_ref, "%s", id);
    snprintf(out->redirect_url, sizeof out->redirect_url, "%s", page);
    out->raw = p;
    return 0;
}

static int xe_query_order(void *state, const dm_payment_order_t *order, dm_payment_event_t *out, dm_err_t *err)
{
    if (check_ref(order->gateway_ref, err) != 0)
        return err->code;
    char path[160];
    snprintf(path, sizeof path, "/v2/invoices/%s", order->gateway_ref);
    json_t *p = NULL;
    int rc = call(state, "GET", path, NULL, &p, err);
    return rc == 0 ? to_event(p, out, err) : rc;
}

static int xe_cancel_order(void *state, const dm_payment_order_t *order, dm_err_t *err)
{
    if (check_ref(order->gateway_ref, err) != 0)
        return err->code;
    char path[160];
    snprintf(path, sizeof path, "/invoices/%s/expire!", order->gateway_ref);
    json_t *p = NULL;
    int rc = call(state, "POST", path, NULL, &p, err);
    json_decref(p);
    return rc;
}

/* The member key of a and b: both absent, or equal. */
static int same(const json_t *a, const json_t *b, const char *key)
{
    json_t *x = json_object_get(a, key), *y = json_object_get(b, key);
    return (x == NULL && y == NULL) || (x != NULL && y != NULL && json_equal(x, y));
}

static int xe_verify(void *state, const dm_http_header_t *headers, size_t n_headers, const char *body,
                     size_t body_len, dm_payment_event_t *out, dm_err_t *err)
{
    xendit *x = state;
    const char *tok = NULL;
    for (size_t i = 0; i < n_headers; i++)
        if (strcasecmp(headers[i].name, "x-callback-token") == 0)
            tok = headers[i].value;
    /* Compare SHA-256 digests of both tokens: same length, constant time. */
    unsigned char a[DM_HOST_SHA256_LEN], b[DM_HOST_SHA256_LEN];
    dm_host_bytes_t got = { tok != NULL ? tok : "", tok != NULL ? strlen(tok) : 0 };
    dm_host_bytes_t want = { x->callback_token, strlen(x->callback_token) };
    if (x->host->digest(DM_HOST_SHA256, &got, 1, a, sizeof a) != DM_HOST_SHA256_LEN ||
        x->host->digest(DM_HOST_SHA256, &want, 1, b, sizeof b) != DM_HOST_SHA256_LEN)
        return dm_err_set(err, DM_EIO, "SHA-256 failed");
    if (tok == NULL || !x->host->equal_ct(a, b, sizeof a))
        return dm_err_set(err, DM_EPERM, "bad or missing x-callback-token");
    json_t *p = json_loadb(body, body_len, 0, NULL);
    if (!json_is_object(p)) {
        json_decref(p);
        return dm_err_set(err, DM_EINVAL, "the callback is not a JSON object");
    }
    int rc = to_event(p, out, err);
    if (rc != 0)
        return rc;
    /* The token signs nothing: believe the callback only as Xendit states it. */
    dm_payment_order_t o = { .order_id = out->order_id, .gateway_ref = out->gateway_ref };
    dm_payment_event_t now;
    memset(&now, 0, sizeof now);
    rc = xe_query_order(state, &o, &now, err);
    if (rc == DM_ENOTFOUND)
        rc = dm_err_set(err, DM_EINVAL, "the callback names an invoice Xendit does not know");
    else if (rc == 0 && (now.status != out->status || now.amount != out->amount ||
                         strcmp(now.order_id, out->order_id) != 0 || !same(now.raw, out->raw, "amount") ||
                         !same(now.raw, out->raw, "paid_amount")))
        rc = dm_err_set(err, DM_EINVAL, "the callback differs from the invoice at Xendit");
    json_decref(now.raw);
    if (rc != 0) {
        json_decref(out->raw);
        out->raw = NULL;
    }
    return rc;
}

static const dm_payment_ops_t xe_ops = {
    .methods = xe_methods,
    .create = xe_create,
    .verify_notification = xe_verify,
    .query_order = xe_query_order,
    .cancel_order = xe_cancel_order,
};

static const dm_plugin_conf_key_t xe_keys[] = {
    { "secret_key", DM_CONF_SECRET, DM_CONF_REQUIRED, NULL, "Xendit secret API key (HTTP Basic user)" },
    { "callback_token", DM_CONF_SECRET, DM_CONF_REQUIRED, NULL, "the callback verification token" },
    { "api_base_url", DM_CONF_STRING, 0, "\"https://api.xendit.co\"", "Xendit's API" },
    { "invoice_duration_s", DM_CONF_INT, 0, "86400", "invoice lifetime when the host gives none" },
    { "timeout_ms", DM_CONF_INT, 0, "10000", "per HTTP call" },
    DM_CONF_END
};

static const dm_plugin_info_t xe_info = {
    DM_PLUGIN_HEADER,
    .name = PLUGIN_NAME,
    .version = "0.1.0",
    .kind = DM_PLUGIN_PAYMENT,
    .init = xe_init,
    .fini = xe_fini,
    DM_PLUGIN_OPS(xe_ops),
    .config_keys = xe_keys,
    .description = "Xendit Invoice API",
};

DM_PLUGIN_ENTRY(xe_info)
