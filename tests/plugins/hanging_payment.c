/*
 * hanging_payment.c — a payment gateway that hangs, for the call layer's
 * end-to-end test (tests/e2e/test_gateway_hang.c). create remembers the
 * order and its amount, then blocks — as a gateway that took the payment
 * and never answered would — until the file named by release_file exists
 * or hold_ms have passed, and then succeeds. query_status answers SUCCESS
 * with the order id and amount create saw (DM_ENOTFOUND for an order it
 * never saw), so the status check can settle a top-up whose create timed
 * out. Installed as payment-hang.so (the gateway "hang").
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dermaga/payment.h>

#define ORDERS_MAX 64

typedef struct state {
    const dm_host_t *host;
    char             release_file[512];
    json_int_t       hold_ms;
    pthread_mutex_t  mu;
    struct {
        char    id[DM_PAYMENT_REF_MAX];
        int64_t amount;
    } orders[ORDERS_MAX];
    int n_orders;
} state;

static int init(dm_plugin_ctx_t *ctx, const dm_host_t *host, void **out, dm_err_t *err)
{
    state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    json_t *cfg = host->config(ctx);
    const char *release = json_string_value(json_object_get(cfg, "release_file"));
    snprintf(st->release_file, sizeof st->release_file, "%s", release != NULL ? release : "");
    st->hold_ms = json_integer_value(json_object_get(cfg, "hold_ms"));
    st->host = host;
    pthread_mutex_init(&st->mu, NULL);
    *out = st;
    return 0;
}

static void fini(void *p)
{
    state *st = p;
    pthread_mutex_destroy(&st->mu);
    free(st);
}

static int methods(void *p, json_t **out, dm_err_t *err)
{
    (void)p;
    *out = json_pack("[{s:s, s:s}]", "id", "qris", "name", "QRIS");
    return *out != NULL ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
}

/* Until the release file exists or hold_ms passed. */
static void hold(const state *st)
{
    const uint64_t until = st->host->clock_mono_ns() / 1000000 + (uint64_t)st->hold_ms;
    while (st->host->clock_mono_ns() / 1000000 < until
           && (st->release_file[0] == '\0' || access(st->release_file, F_OK) != 0)) {
        struct timespec nap = { 0, 10 * 1000000L };
        nanosleep(&nap, NULL);
    }
}

static int create(void *p, const dm_payment_request_t *req, dm_payment_created_t *out, dm_err_t *err)
{
    state *st = p;
    pthread_mutex_lock(&st->mu);
    int full = st->n_orders == ORDERS_MAX;
    if (!full) {
        snprintf(st->orders[st->n_orders].id, sizeof st->orders[0].id, "%s", req->order_id);
        st->orders[st->n_orders].amount = req->amount;
        st->n_orders++;
    }
    pthread_mutex_unlock(&st->mu);
    if (full)
        return dm_err_set(err, DM_EUNAVAIL, "too many orders");
    hold(st);
    snprintf(out->token, sizeof out->token, "tok-%s", req->order_id);
    snprintf(out->gateway_ref, sizeof out->gateway_ref, "hang-%s", req->order_id);
    /* Something to free for a caller that gave up long ago. */
    out->raw = json_pack("{s:s}", "order_id", req->order_id);
    return 0;
}

static int verify(void *p, const dm_http_header_t *headers, size_t n_headers, const char *body, size_t body_len,
                  dm_payment_event_t *out, dm_err_t *err)
{
    (void)p, (void)headers, (void)n_headers, (void)body, (void)body_len, (void)out;
    return dm_err_set(err, DM_EUNSUPPORTED, "this gateway sends no notifications");
}

static int query(void *p, const char *order_id, dm_payment_event_t *out, dm_err_t *err)
{
    state *st = p;
    int64_t amount = -1;
    pthread_mutex_lock(&st->mu);
    for (int i = 0; i < st->n_orders; i++) {
        if (strcmp(st->orders[i].id, order_id) == 0)
            amount = st->orders[i].amount;
    }
    pthread_mutex_unlock(&st->mu);
    if (amount < 0)
        return dm_err_set(err, DM_ENOTFOUND, "no such order %s", order_id);
    snprintf(out->order_id, sizeof out->order_id, "%s", order_id);
    snprintf(out->gateway_ref, sizeof out->gateway_ref, "hang-%s", order_id);
    snprintf(out->method, sizeof out->method, "qris");
    out->status = DM_PAYMENT_SUCCESS;
    out->amount = amount;
    out->raw = json_pack("{s:s, s:s}", "order_id", order_id, "status", "settlement");
    return 0;
}

static int cancel(void *p, const char *order_id, dm_err_t *err)
{
    (void)p, (void)order_id, (void)err;
    return 0;
}

static const dm_payment_ops_t ops = {
    .methods = methods,
    .create = create,
    .verify_notification = verify,
    .query_status = query,
    .cancel = cancel,
};

static const dm_plugin_conf_key_t keys[] = {
    { "release_file", DM_CONF_STRING, 0, "\"\"", "create returns once this file exists" },
    { "hold_ms", DM_CONF_INT, 0, "60000", "create returns after this long at the latest" },
    DM_CONF_END
};

static const dm_plugin_info_t info = {
    DM_PLUGIN_HEADER,
    .name = "payment-hang",
    .version = "1.0.0",
    .kind = DM_PLUGIN_PAYMENT,
    .init = init,
    .fini = fini,
    DM_PLUGIN_OPS(ops),
    .config_keys = keys,
    .description = "a payment gateway whose create hangs (tests)",
};

DM_PLUGIN_ENTRY(info)
