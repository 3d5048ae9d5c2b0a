/*
 * payment_manual.c — the manual bank-transfer gateway. There is no outside
 * party: create() answers with the transfer instructions the user follows,
 * and an administrator confirms or rejects the transfer through
 * /api/admin/transactions/:id/confirm|reject (the host's code, not this
 * plugin's). So notifications and status queries are unsupported, and
 * cancelling has nothing to tell anyone.
 */
#include <stdlib.h>
#include <string.h>

#include <dermaga/payment.h>
#include <dermaga/plugin.h>

#define METHOD_ID "bank_transfer"

typedef struct manual_state {
    dm_plugin_ctx_t *ctx;
    const dm_host_t *host;
    json_t          *cfg; /* borrowed from the host until fini */
} manual_state;

static const dm_plugin_conf_key_t keys[] = {
    { "bank_name", DM_CONF_STRING, 0, "\"Bank transfer\"", "Bank shown in the instructions." },
    { "account_number", DM_CONF_STRING, 0, "\"\"", "Account the user transfers to." },
    { "account_holder", DM_CONF_STRING, 0, "\"\"", "Name on that account." },
    { "note", DM_CONF_STRING, 0,
      "\"Transfer the exact amount and quote the reference; an administrator credits your wallet once it arrives.\"",
      "Extra text shown with the instructions." },
    DM_CONF_END
};

static int manual_init(dm_plugin_ctx_t *ctx, const dm_host_t *host, void **state, dm_err_t *err)
{
    manual_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return dm_err_set(err, DM_ENOMEM, "payment-manual: out of memory");
    s->ctx = ctx;
    s->host = host;
    s->cfg = host->config(ctx);
    const char *acct = json_string_value(json_object_get(s->cfg, "account_number"));
    if (acct == NULL || acct[0] == '\0')
        host->log(ctx, DM_HOST_LOG_WARN, "no account_number configured: users are told to ask the operator for it");
    *state = s;
    return 0;
}

static void manual_fini(void *state)
{
    free(state);
}

static int manual_methods(void *state, json_t **out, dm_err_t *err)
{
    (void)state;
    *out = json_pack("[{s:s,s:s}]", "id", METHOD_ID, "name", "Manual bank transfer");
    return *out != NULL ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
}

static const char *conf(const manual_state *s, const char *key)
{
    const char *v = json_string_value(json_object_get(s->cfg, key));
    return v != NULL ? v : "";
}

/* Instructions only: nothing leaves this process. The transfer is pending
 * until an administrator sees the money arrive. */
static int manual_create(void *state, const dm_payment_request_t *req, dm_payment_created_t *out,
                         dm_err_t *err)
{
    manual_state *s = state;
    if (req->method != NULL && strcmp(req->method, METHOD_ID) != 0)
        return dm_err_set(err, DM_EINVAL, "unknown payment method \"%.64s\" (offered: " METHOD_ID ")",
                          req->method);
    size_t n = strlen(req->order_id);
    if (n == 0 || n >= sizeof out->gateway_ref)
        return dm_err_set(err, DM_EINVAL, "order id must be 1 to %zu bytes", sizeof out->gateway_ref - 1);
    memcpy(out->gateway_ref, req->order_id, n + 1);
    int64_t ttl_ms = (req->expires_in_s > 0 ? req->expires_in_s : 24 * 3600) * 1000;
    out->expires_at_ms = s->host->clock_wall_ms() + ttl_ms;
    out->instructions = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s}", "method", METHOD_ID, "bankName",
                                  conf(s, "bank_name"), "accountNumber", conf(s, "account_number"),
                                  "accountHolder", conf(s, "account_holder"), "amount",
                                  (json_int_t)req->amount, "reference", req->order_id, "note",
                                  conf(s, "note"));
    return out->instructions != NULL ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
}

static int manual_verify(void *state, const dm_http_header_t *headers, size_t n_headers, const char *body,
                         size_t body_len, dm_payment_event_t *out, dm_err_t *err)
{
    (void)state, (void)headers, (void)n_headers, (void)body, (void)body_len, (void)out;
    return dm_err_set(err, DM_EUNSUPPORTED, "manual transfers have no notifications: an administrator confirms them");
}

/* The ABI 1.5 ops (payment.h): the order's reference is the order id
 * itself (create copies it), and nobody outside needs either. */
static int manual_query(void *state, const dm_payment_order_t *order, dm_payment_event_t *out, dm_err_t *err)
{
    (void)state, (void)order, (void)out;
    return dm_err_set(err, DM_EUNSUPPORTED, "manual transfers have no gateway to ask");
}

static int manual_cancel(void *state, const dm_payment_order_t *order, dm_err_t *err)
{
    (void)state, (void)order, (void)err;
    return 0; /* nobody outside to tell */
}

static const dm_payment_ops_t ops = {
    .methods = manual_methods,
    .create = manual_create,
    .verify_notification = manual_verify,
    .query_order = manual_query,
    .cancel_order = manual_cancel,
    .refund_order = NULL,
};

static const dm_plugin_info_t info = {
    DM_PLUGIN_HEADER,
    .name = "payment-manual",
    .version = "1.0.0",
    .kind = DM_PLUGIN_PAYMENT,
    .init = manual_init,
    .fini = manual_fini,
    DM_PLUGIN_OPS(ops),
    .config_keys = keys,
    .description = "manual bank transfer, confirmed by an administrator",
};

DM_PLUGIN_ENTRY(info)
