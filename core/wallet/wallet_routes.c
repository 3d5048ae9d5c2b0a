/*
 * wallet_routes.c — the caller's wallet under /api/wallet (docs/openapi.yaml, Wallet)
 * over wallet.h: balance, top-ups, the caller's ledger rows, cancelling a
 * pending top-up, re-reading one at its gateway, the payment methods on
 * offer and a summary. The webhook is webhook_routes.c. Every route is
 * authenticated and sees only the caller's own rows. Routes that wait on
 * a gateway run on the remote-call pool (DM_ROUTE_REMOTE).
 */
#include "wallet/wallet_routes.h"

#include <stdio.h>
#include <string.h>

#include "accounts/users.h"
#include "app/app.h"
#include "http/body_fields.h"
#include "http/idempotency.h"
#include "http/response.h"
#include "http/router.h"
#include "wallet/ledger.h"
#include "wallet/wallet.h"

/* How each refusal is answered (DM_WALLET_BAD_FIELD names its field). */
static const struct {
    int         status;
    const char *code;
} refusals[] = {
    [DM_WALLET_NOT_FOUND] = { 404, "NOT_FOUND" },
    [DM_WALLET_INVALID_STATE] = { 409, "INVALID_STATE" },
    [DM_WALLET_REJECTED] = { 400, "PAYMENT_REJECTED" },
    [DM_WALLET_GATEWAY_ERROR] = { 502, "PAYMENT_GATEWAY_ERROR" },
    [DM_WALLET_GATEWAY_TIMEOUT] = { 504, "GATEWAY_TIMEOUT" },
};

/* Answer a wallet operation: its data with status, a refusal, or a
 * failure of what (for the log). Steals data. */
static void answer(dm_request *r, int status, int rc, json_t *data, const dm_wallet_no *no, const dm_err_t *err,
                   const char *what)
{
    if (rc == 0) {
        dm__res_ok(r, status, data);
        return;
    }
    json_decref(data);
    if (rc != DM_ECONFLICT || no == NULL || no->why == DM_WALLET_OK)
        dm__res_failure(r, err, what);
    else if (no->why == DM_WALLET_BAD_FIELD)
        dm__body_invalid(r, no->field, no->message);
    else
        dm__res_error(r, refusals[no->why].status, refusals[no->why].code, no->message, NULL);
}

static void get_wallet(dm_request *r)
{
    dm_user u;
    dm_err_t err = { 0 };
    if (dm__users_get(r->db, r->principal.id, &u, &err) != 0) {
        dm__res_failure(r, &err, "wallet balance");
        return;
    }
    dm__res_ok(r, 200, json_pack("{s:I,s:s}", "balance", (json_int_t)u.credit_balance, "currency", "IDR"));
}

/* With an Idempotency-Key the PENDING row commits with the key's claim
 * (still "running") before the gateway is called (dm__idem_checkpoint). */
static int commit_claim(void *req, dm_err_t *err)
{
    return dm__idem_checkpoint(req, err);
}

/* POST /api/wallet/topup {amount, paymentMethod, gateway?}. */
static void topup(dm_request *r)
{
    static const char *const fields[] = { "amount", "paymentMethod", "gateway", NULL };
    const dm_config *cfg = r->app->cfg;
    long long amount;
    dm_wallet_topup t = { .user_id = r->principal.id, .gateway = cfg->default_gateway };
    if (!dm__body_only(r, fields) || !dm__body_int(r, "amount", cfg->topup_min, cfg->topup_max, &amount)
        || !dm__body_string(r, "paymentMethod", 1, 64, &t.method))
        return;
    if (json_object_get(r->json, "gateway") != NULL && !dm__body_string(r, "gateway", 1, 48, &t.gateway))
        return;
    t.amount = amount;
    json_t *out = NULL;
    dm_wallet_no no;
    dm_err_t err = { 0 };
    t.durable = commit_claim;
    t.durable_ctx = r;
    int rc = dm__wallet_topup(r->app, r->db, &t, &out, &no, &err);
    answer(r, 201, rc, out, &no, &err, "top-up");
}

static void list_transactions(dm_request *r)
{
    long page, limit, total = 0;
    if (!dm__query_paging(r, &page, &limit))
        return;
    dm_ledger_filter f = { .user_id = r->principal.id, .type = dm__req_query(r, "type"),
                           .status = dm__req_query(r, "status") };
    json_t *items = NULL;
    dm_err_t err = { 0 };
    int rc = dm__ledger_list(r->db, &f, page, limit, &items, &total, &err);
    if (rc == DM_EINVAL) {
        char field[16];
        snprintf(field, sizeof field, "%.*s", (int)strcspn(err.msg, ":"), err.msg);
        dm__body_invalid(r, field, err.msg);
    } else if (rc != 0) {
        dm__res_failure(r, &err, "list transactions");
    } else {
        dm__res_list(r, items, page, limit, total);
    }
}

static void get_transaction(dm_request *r)
{
    json_t *out = NULL;
    dm_wallet_no no;
    dm_err_t err = { 0 };
    int rc = dm__wallet_transaction(r->db, r->principal.id, dm__req_param(r, "id"), &out, &no, &err);
    answer(r, 200, rc, out, &no, &err, "read transaction");
}

static void transaction_status(dm_request *r)
{
    json_t *out = NULL;
    dm_wallet_no no;
    dm_err_t err = { 0 };
    int rc = dm__wallet_refresh(r->app, r->db, r->principal.id, dm__req_param(r, "id"), &out, &no, &err);
    answer(r, 200, rc, out, &no, &err, "transaction status");
}

static void cancel_transaction(dm_request *r)
{
    json_t *out = NULL;
    dm_wallet_no no;
    dm_err_t err = { 0 };
    int rc = dm__wallet_cancel(r->app, r->db, r->principal.id, dm__req_param(r, "id"), &out, &no, &err);
    answer(r, 200, rc, out, &no, &err, "cancel top-up");
}

static void payment_methods(dm_request *r)
{
    json_t *out = dm__wallet_payment_methods(r->app);
    dm_err_t err = { DM_ENOMEM, "out of memory" };
    answer(r, 200, out != NULL ? 0 : DM_ENOMEM, out, NULL, &err, "payment methods");
}

static void summary(dm_request *r)
{
    json_t *out = NULL;
    dm_err_t err = { 0 };
    int rc = dm__wallet_summary(r->db, r->principal.id, &out, &err);
    answer(r, 200, rc, out, NULL, &err, "wallet summary");
}

int dm__wallet_routes_add(dm_router *rt)
{
    const unsigned user = DM_ROUTE_POOL | DM_ROUTE_AUTH;
    const unsigned remote = user | DM_ROUTE_REMOTE; /* waits on a gateway */
    int rc = 0;
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/wallet", get_wallet, user);
    rc = rc ? rc : dm__router_add(rt, "POST", "/api/wallet/topup", topup, remote | DM_ROUTE_JSON | DM_ROUTE_IDEMPOTENT);
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/wallet/transactions", list_transactions, user);
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/wallet/transactions/:id", get_transaction, user);
    rc = rc ? rc : dm__router_add(rt, "POST", "/api/wallet/transactions/:id/cancel", cancel_transaction, remote);
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/wallet/transactions/:id/status", transaction_status, remote);
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/wallet/payment-methods", payment_methods, remote);
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/wallet/summary", summary, user);
    rc = rc ? rc : dm__wallet_webhook_routes_add(rt);
    return rc;
}
