/*
 * sdk10_payment.c — a payment plugin compiled against the SDK headers as
 * ABI 1.0 shipped them (tests/fixtures/sdk-1.0/include, taken from the
 * commit that introduced the SDK), not against sdk/include: the proof
 * that a plugin built for the first ABI still loads and runs in this host
 * (tests/unit/test_plugin_abi_compat.c). Its ops echo what they were
 * given, so the test sees what reached it through the 1.0 slots.
 */
#include <stdio.h>
#include <string.h>

#include <dermaga/payment.h>

#if DM_PLUGIN_ABI_MINOR != 0
#error "sdk10_payment must be built against the ABI 1.0 headers"
#endif

static int methods(void *state, json_t **out, dm_err_t *err)
{
    *out = json_pack("[{s:s, s:s}]", "id", "sdk10", "name", "built against ABI 1.0");
    return *out != NULL ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
}

static int create(void *state, const dm_payment_request_t *req, dm_payment_created_t *out, dm_err_t *err)
{
    snprintf(out->gateway_ref, sizeof out->gateway_ref, "sdk10-%s", req->order_id);
    snprintf(out->token, sizeof out->token, "%lld", (long long)req->amount);
    return 0;
}

static int verify(void *state, const dm_http_header_t *headers, size_t n_headers, const char *body,
                  size_t body_len, dm_payment_event_t *out, dm_err_t *err)
{
    return dm_err_set(err, DM_EPERM, "sdk10 verifies nothing");
}

static int query(void *state, const char *order_id, dm_payment_event_t *out, dm_err_t *err)
{
    snprintf(out->order_id, sizeof out->order_id, "%s", order_id);
    snprintf(out->gateway_ref, sizeof out->gateway_ref, "queried %s", order_id);
    out->status = DM_PAYMENT_SUCCESS;
    out->amount = 1500;
    return 0;
}

static int cancel(void *state, const char *order_id, dm_err_t *err)
{
    return strcmp(order_id, "TXMP-1") == 0 ? 0 : dm_err_set(err, DM_ECONFLICT, "sdk10 cancel got %.60s", order_id);
}

static int refund(void *state, const char *order_id, int64_t amount, const char *reason, dm_err_t *err)
{
    return dm_err_set(err, DM_ECONFLICT, "sdk10 refund got %.40s %lld %.40s", order_id, (long long)amount,
                      reason != NULL ? reason : "(null)");
}

static const dm_payment_ops_t ops = {
    .methods = methods,
    .create = create,
    .verify_notification = verify,
    .query_status = query,
    .cancel = cancel,
    .refund = refund,
};

static const dm_plugin_info_t info = {
    DM_PLUGIN_HEADER,
    .name = "payment-sdk10", /* a payment plugin is payment-<gateway> */
    .version = "1.0.0",
    .kind = DM_PLUGIN_PAYMENT,
    DM_PLUGIN_OPS(ops),
    .description = "a payment plugin built against the ABI 1.0 headers",
};

DM_PLUGIN_ENTRY(info)
