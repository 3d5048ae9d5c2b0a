/*
 * wallet_routes.c — the caller's wallet under /api/wallet (API.md, Wallet):
 * balance, top-ups through a payment plugin, the caller's ledger rows,
 * cancelling a pending top-up, re-reading one at its gateway, the payment
 * methods on offer and a summary. The webhook and the expiry job live in
 * webhook_routes.c. Every route is authenticated and sees only the
 * caller's own rows.
 */
#include "wallet/wallet_routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounts/users.h"
#include "app/app.h"
#include "http/body_fields.h"
#include "http/idempotency.h"
#include "http/response.h"
#include "http/router.h"
#include "util/log.h"
#include "wallet/ledger.h"
#include "wallet/wallet_gateway.h"

static const dm_plugin_set *plugins(const dm_request *r)
{
    return r->app->plugins;
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

/* True when the plugin offers method (an "id" of its methods()). */
static bool offers(const dm_plugin *p, const char *method)
{
    json_t *list = NULL;
    dm_err_t err = { 0 };
    const dm_payment_ops_t *ops = dm__plugin_payment_ops(p);
    if (ops->methods(p->state, &list, &err) != 0)
        return false;
    bool found = false;
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m) {
        const char *id = json_string_value(json_object_get(m, "id"));
        if (id != NULL && strcmp(id, method) == 0)
            found = true;
    }
    json_decref(list);
    return found;
}

/* Read and check {amount, paymentMethod, gateway?}; false when answered. */
static bool topup_body(dm_request *r, long long *amount, const char **method, const char **gateway,
                       const dm_plugin **plugin)
{
    static const char *const fields[] = { "amount", "paymentMethod", "gateway", NULL };
    const dm_config *cfg = r->app->cfg;
    if (!dm__body_only(r, fields) || !dm__body_int(r, "amount", cfg->topup_min, cfg->topup_max, amount)
        || !dm__body_string(r, "paymentMethod", 1, 64, method))
        return false;
    *gateway = cfg->default_gateway;
    if (json_object_get(r->json, "gateway") != NULL && !dm__body_string(r, "gateway", 1, 48, gateway))
        return false;
    *plugin = dm__wallet_gateway(plugins(r), *gateway);
    if (*plugin == NULL) {
        dm__body_invalid(r, "gateway", "is not an enabled payment gateway (see /api/wallet/payment-methods)");
        return false;
    }
    if (!offers(*plugin, *method)) {
        dm__body_invalid(r, "paymentMethod", "is not offered by this gateway (see /api/wallet/payment-methods)");
        return false;
    }
    return true;
}

/* The gateway refused or failed: the PENDING row becomes FAILED with the
 * reason kept in its metadata, and the client gets an answer that says
 * whose fault it was without the gateway's internals. */
static void topup_failed(dm_request *r, const dm_ledger_tx *tx, int rc, const dm_err_t *gw)
{
    dm_err_t err = { 0 };
    dm_settle_result res;
    /* The row's metadata is shown to its owner (GET /api/wallet/transactions/
     * :id), so it keeps only whose fault it was; the gateway's own words
     * (its error bodies, URLs) go to the log below. */
    json_t *note = json_pack("{s:s,s:s}", "source", "create", "error",
                             rc == DM_EINVAL ? "PAYMENT_REJECTED" : "PAYMENT_GATEWAY_ERROR");
    if (dm__wallet_apply(r->db, tx, "FAILED", note, NULL, &res, &err) != 0)
        DM_LOG_E("top-up %s: cannot mark failed: %s", tx->custom_id, err.msg);
    json_decref(note);
    DM_LOG_W("top-up %s: gateway %s refused create: %s", tx->custom_id, tx->gateway, gw->msg);
    if (rc == DM_EINVAL)
        dm__res_error(r, 400, "PAYMENT_REJECTED", "the payment gateway refused this payment", NULL);
    else
        dm__res_error(r, 502, "PAYMENT_GATEWAY_ERROR", "the payment gateway is not available; try again later",
                      NULL);
}

/* {token, redirectUrl, instructions, expiresAt} as stored and answered. */
static json_t *payment_json(const dm_payment_created_t *c)
{
    json_t *p = json_object();
    json_object_set_new(p, "token", c->token[0] != '\0' ? json_string(c->token) : json_null());
    json_object_set_new(p, "redirectUrl", c->redirect_url[0] != '\0' ? json_string(c->redirect_url) : json_null());
    json_object_set(p, "instructions", c->instructions != NULL ? c->instructions : json_null());
    if (c->expires_at_ms > 0) {
        char ts[40];
        time_t secs = (time_t)(c->expires_at_ms / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_object_set_new(p, "expiresAt", json_string(ts));
    } else {
        json_object_set_new(p, "expiresAt", json_null());
    }
    return p;
}

static void topup(dm_request *r)
{
    long long amount;
    const char *method, *gateway;
    const dm_plugin *p;
    if (!topup_body(r, &amount, &method, &gateway, &p))
        return;
    dm_user u;
    dm_ledger_tx tx;
    dm_err_t err = { 0 };
    const int ttl_s = r->app->cfg->topup_expiry_min * 60;
    dm_ledger_topup t = { r->principal.id, amount, gateway, method, "Wallet top-up", ttl_s };
    if (dm__users_get(r->db, r->principal.id, &u, &err) != 0 || dm__ledger_topup_open(r->db, &t, &tx, &err) != 0) {
        dm__res_failure(r, &err, "open top-up");
        return;
    }
    /* The row exists before the gateway hears of it, so no payment the
     * gateway knows can be missing from the ledger: with an
     * Idempotency-Key it commits here, the key still "running". */
    if (dm__idem_checkpoint(r, &err) != 0) {
        dm__res_failure(r, &err, "open top-up");
        return;
    }
    const char *finish = r->app->cfg->finish_url;
    dm_payment_request_t req = { tx.custom_id, amount, method, u.name[0] != '\0' ? u.name : NULL, u.email, ttl_s,
                                 finish[0] != '\0' ? finish : NULL };
    dm_payment_created_t created;
    memset(&created, 0, sizeof created);
    dm_err_t gw = { 0 };
    int rc = dm__plugin_payment_ops(p)->create(p->state, &req, &created, &gw);
    json_t *pay = NULL, *txj = NULL;
    if (rc != 0) {
        topup_failed(r, &tx, rc, &gw);
    } else if ((pay = payment_json(&created)) == NULL
               || dm__ledger_topup_attach(r->db, tx.id, created.gateway_ref, pay, created.expires_at_ms, &err) != 0
               || dm__ledger_json(r->db, tx.id, &txj, &err) != 0) {
        dm__res_failure(r, &err, "record top-up");
    } else {
        dm__res_ok(r, 201, json_pack("{s:o,s:O}", "transaction", txj, "payment", pay));
    }
    json_decref(pay);
    json_decref(created.raw);
    json_decref(created.instructions);
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

/* The caller's row named by :id (uuid or TXMP id); false when answered. */
static bool own_tx(dm_request *r, dm_ledger_tx *tx)
{
    dm_err_t err = { 0 };
    int rc = dm__ledger_find(r->db, dm__req_param(r, "id"), r->principal.id, false, tx, &err);
    if (rc == DM_ENOTFOUND)
        dm__res_error(r, 404, "NOT_FOUND", "no such transaction", NULL);
    else if (rc != 0)
        dm__res_failure(r, &err, "find transaction");
    return rc == 0;
}

static void answer_tx(dm_request *r, int status, const char *id)
{
    json_t *j = NULL;
    dm_err_t err = { 0 };
    if (dm__ledger_json(r->db, id, &j, &err) != 0)
        dm__res_failure(r, &err, "read transaction");
    else
        dm__res_ok(r, status, j);
}

static void get_transaction(dm_request *r)
{
    dm_ledger_tx tx;
    if (own_tx(r, &tx))
        answer_tx(r, 200, tx.id);
}

/* Ask the gateway about a pending top-up and apply what it says. Gateway
 * trouble is logged and leaves the row as it is (the caller still gets
 * the row; the expiry job and notifications keep trying). */
static void refresh_from_gateway(dm_request *r, const dm_ledger_tx *tx)
{
    const dm_plugin *p = dm__wallet_gateway(plugins(r), tx->gateway);
    dm_payment_event_t ev;
    memset(&ev, 0, sizeof ev); /* without a plugin nothing fills it, and ev.raw is decref'd */
    dm_err_t err = { 0 };
    int rc = p != NULL ? dm__wallet_query(p, tx, &ev, &err) : DM_EUNSUPPORTED;
    if (rc == 0) {
        const char *status = dm__wallet_status_name(ev.status);
        json_t *note = json_pack("{s:s,s:s}", "source", "status-query", "gatewayRef", ev.gateway_ref);
        dm_settle_result res;
        if (status != NULL && dm__wallet_apply(r->db, tx, status, note, NULL, &res, &err) != 0)
            DM_LOG_W("top-up %s: cannot apply gateway status: %s", tx->custom_id, err.msg);
        json_decref(note);
    } else if (rc != DM_EUNSUPPORTED && rc != DM_ENOTFOUND) {
        /* (Snap answers "not found" until the user picks a payment method:
         * nothing to apply yet, nothing wrong.) */
        DM_LOG_W("top-up %s: gateway status query failed: %s", tx->custom_id, err.msg);
    }
    json_decref(ev.raw);
}

static void transaction_status(dm_request *r)
{
    dm_ledger_tx tx;
    if (!own_tx(r, &tx))
        return;
    if (strcmp(tx.type, "TOPUP") == 0 && strcmp(tx.status, "PENDING") == 0)
        refresh_from_gateway(r, &tx);
    answer_tx(r, 200, tx.id);
}

static void cancel_transaction(dm_request *r)
{
    dm_ledger_tx tx;
    if (!own_tx(r, &tx))
        return;
    if (strcmp(tx.type, "TOPUP") != 0 || strcmp(tx.status, "PENDING") != 0) {
        dm__res_error(r, 409, "INVALID_STATE", "only a pending top-up can be cancelled", NULL);
        return;
    }
    /* The gateway first: once it has cancelled, no payment can arrive for a
     * row we call CANCELLED. If it says the payment is past cancelling, the
     * gateway's own status decides the row instead. */
    const dm_plugin *p = dm__wallet_gateway(plugins(r), tx.gateway);
    const dm_payment_ops_t *ops = dm__plugin_payment_ops(p);
    dm_err_t err = { 0 };
    int rc = ops != NULL && ops->cancel != NULL ? ops->cancel(p->state, tx.custom_id, &err) : 0;
    if (rc == DM_ECONFLICT) {
        refresh_from_gateway(r, &tx);
        dm__res_error(r, 409, "INVALID_STATE", "the payment can no longer be cancelled", NULL);
        return;
    }
    if (rc == DM_ENOTFOUND) {
        /* The gateway has no payment to cancel yet (Snap: the customer has
         * not picked a method), so its payment page still takes money until
         * it expires. Calling the row CANCELLED now would leave such a
         * payment uncredited for good (forward-only): refuse instead; the
         * expiry job closes the row with the page. */
        dm__res_error(r, 409, "INVALID_STATE",
                      "the payment cannot be cancelled at the gateway yet; it expires on its own", NULL);
        return;
    }
    if (rc != 0) {
        DM_LOG_W("top-up %s: gateway cancel failed: %s", tx.custom_id, err.msg);
        dm__res_error(r, 502, "PAYMENT_GATEWAY_ERROR", "the payment gateway is not available; try again later", NULL);
        return;
    }
    json_t *note = json_pack("{s:s,s:s}", "source", "user-cancel", "by", r->principal.id);
    dm_settle_result res;
    rc = dm__wallet_apply(r->db, &tx, "CANCELLED", note, NULL, &res, &err);
    json_decref(note);
    if (rc != 0)
        dm__res_failure(r, &err, "cancel top-up");
    else if (res != DM_SETTLE_APPLIED) /* settled by a notification meanwhile */
        dm__res_error(r, 409, "INVALID_STATE", "only a pending top-up can be cancelled", NULL);
    else
        answer_tx(r, 200, tx.id);
}

/* Every enabled payment plugin's methods, tagged with their gateway. */
static void payment_methods(dm_request *r)
{
    json_t *out = json_array();
    const dm_plugin_set *set = plugins(r);
    for (size_t i = 0; out != NULL && i < dm__plugins_count(set); i++) {
        const dm_plugin *p = dm__plugins_at(set, i);
        const dm_payment_ops_t *ops = dm__plugin_payment_ops(p);
        json_t *list = NULL;
        dm_err_t err = { 0 };
        if (ops == NULL || strncmp(p->name, "payment-", 8) != 0)
            continue;
        if (ops->methods(p->state, &list, &err) != 0) {
            DM_LOG_W("%s: methods: %s", p->name, err.msg);
            continue;
        }
        size_t j;
        json_t *m;
        json_array_foreach(list, j, m) {
            json_t *e = json_deep_copy(m);
            json_object_set_new(e, "gateway", json_string(p->name + 8));
            json_object_set_new(e, "default", json_boolean(strcmp(p->name + 8, r->app->cfg->default_gateway) == 0));
            json_array_append_new(out, e);
        }
        json_decref(list);
    }
    dm__res_ok(r, 200, out);
}

static void summary(dm_request *r)
{
    dm_err_t err = { 0 };
    const char *p[] = { r->principal.id };
    PGresult *res = dm__db_exec(
        r->db, "wallet_summary",
        "SELECT json_build_object("
        "  'balance', u.credit_balance, 'currency', 'IDR',"
        "  'totalTopup', coalesce(sum(t.amount) FILTER (WHERE t.status = 'SUCCESS' AND t.type = 'TOPUP'), 0),"
        "  'totalSpent', coalesce(-sum(t.amount) FILTER (WHERE t.status = 'SUCCESS' AND t.type IN "
        "                ('SUBSCRIPTION', 'UPGRADE', 'RENEWAL')), 0),"
        "  'totalRefunded', coalesce(sum(t.amount) FILTER (WHERE t.status = 'SUCCESS' AND t.type = 'REFUND'), 0),"
        "  'pendingTopups', count(t.id) FILTER (WHERE t.status = 'PENDING'),"
        "  'thisMonth', json_build_object("
        "    'topup', coalesce(sum(t.amount) FILTER (WHERE t.status = 'SUCCESS' AND t.type = 'TOPUP' AND m), 0),"
        "    'spent', coalesce(-sum(t.amount) FILTER (WHERE t.status = 'SUCCESS' AND t.type IN "
        "             ('SUBSCRIPTION', 'UPGRADE', 'RENEWAL') AND m), 0),"
        "    'refunded', coalesce(sum(t.amount) FILTER (WHERE t.status = 'SUCCESS' AND t.type = 'REFUND' AND m), 0),"
        "    'transactions', count(t.id) FILTER (WHERE m)))::text "
        "FROM users u LEFT JOIN LATERAL (SELECT x.*, x.created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') "
        "  AT TIME ZONE 'UTC' AS m FROM transactions x WHERE x.user_id = u.id) t ON true "
        "WHERE u.id = $1::uuid GROUP BY u.id",
        1, p, &err);
    if (res == NULL) {
        dm__res_failure(r, &err, "wallet summary");
        return;
    }
    json_t *j = PQntuples(res) == 1 ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;
    PQclear(res);
    if (j == NULL)
        dm__res_error(r, 500, "INTERNAL", "internal error", NULL);
    else
        dm__res_ok(r, 200, j);
}

int dm__wallet_routes_add(dm_router *rt)
{
    const unsigned user = DM_ROUTE_POOL | DM_ROUTE_AUTH;
    int rc = 0;
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/wallet", get_wallet, user);
    rc = rc ? rc : dm__router_add(rt, "POST", "/api/wallet/topup", topup, user | DM_ROUTE_JSON | DM_ROUTE_IDEMPOTENT);
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/wallet/transactions", list_transactions, user);
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/wallet/transactions/:id", get_transaction, user);
    rc = rc ? rc : dm__router_add(rt, "POST", "/api/wallet/transactions/:id/cancel", cancel_transaction, user);
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/wallet/transactions/:id/status", transaction_status, user);
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/wallet/payment-methods", payment_methods, user);
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/wallet/summary", summary, user);
    rc = rc ? rc : dm__wallet_webhook_routes_add(rt);
    return rc;
}
