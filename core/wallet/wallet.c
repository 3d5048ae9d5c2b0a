/*
 * wallet.c — the caller's wallet (wallet.h): top-ups through a payment
 * gateway, one of the caller's rows, re-reading and cancelling a pending
 * top-up at its gateway, the methods on offer, the summary. A top-up's
 * row exists before the gateway hears of it; a gateway that refuses or
 * fails makes it FAILED, one that does not answer in time leaves it
 * PENDING, since the payment may exist there.
 */
#include "wallet/wallet.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "accounts/users.h"
#include "plugin/call.h"
#include "util/log.h"
#include "wallet/ledger.h"
#include "wallet/wallet_gateway.h"

static int refuse(dm_wallet_no *no, dm_wallet_refusal why, const char *field, const char *message)
{
    no->why = why;
    no->field = field;
    no->message = message;
    return DM_ECONFLICT;
}

/* ---- top-ups -------------------------------------------------------------- */

/* True when the plugin offers method (an "id" of its methods()). */
static bool offers(const dm_plugin *p, const char *method)
{
    json_t *list = NULL;
    dm_err_t err = { 0 };
    if (dm__payment_methods(p, &list, &err) != 0)
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

/* {token, redirectUrl, instructions, expiresAt} as stored and answered.
 * New object, or NULL when out of memory. */
static json_t *payment_json(const dm_payment_created_t *c)
{
    json_t *p = json_object();
    if (p == NULL)
        return NULL;
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

/* The gateway's create failed with rc. A timeout says nothing about
 * whether the payment exists, so the row stays PENDING (the status check
 * or the expiry job asks the gateway later). A refusal or a failure makes
 * it FAILED with only whose fault it was in its metadata, which its owner
 * reads; the gateway's own words (error bodies, URLs) go to the log. */
static int create_failed(dm_db *db, const dm_ledger_tx *tx, int rc, const dm_err_t *gw, dm_wallet_no *no)
{
    if (rc == DM_ETIMEDOUT) {
        DM_LOG_W("top-up %s: gateway %s did not answer in time (%s); left PENDING", tx->custom_id, tx->gateway,
                 gw->msg);
        return refuse(no, DM_WALLET_GATEWAY_TIMEOUT, NULL,
                      "the payment gateway did not answer in time; check the transaction's status later");
    }
    dm_err_t err = { 0 };
    dm_settle_result res;
    json_t *note = json_pack("{s:s,s:s}", "source", "create", "error",
                             rc == DM_EINVAL ? "PAYMENT_REJECTED" : "PAYMENT_GATEWAY_ERROR");
    if (dm__wallet_apply(db, tx, "FAILED", note, NULL, &res, &err) != 0)
        DM_LOG_E("top-up %s: cannot mark failed: %s", tx->custom_id, err.msg);
    json_decref(note);
    DM_LOG_W("top-up %s: gateway %s refused create: %s", tx->custom_id, tx->gateway, gw->msg);
    if (rc == DM_EINVAL)
        return refuse(no, DM_WALLET_REJECTED, NULL, "the payment gateway refused this payment");
    return refuse(no, DM_WALLET_GATEWAY_ERROR, NULL, "the payment gateway is not available; try again later");
}

/* Keep what the gateway gave on the row and answer {transaction, payment}. */
static int record_created(dm_db *db, const dm_ledger_tx *tx, const dm_payment_created_t *c, json_t **out,
                          dm_err_t *err)
{
    json_t *pay = payment_json(c), *txj = NULL;
    int rc = pay == NULL ? dm_err_set(err, DM_ENOMEM, "out of memory") : 0;
    if (rc == 0)
        rc = dm__ledger_topup_attach(db, tx->id, c->gateway_ref, pay, c->expires_at_ms, err);
    if (rc == 0)
        rc = dm__ledger_json(db, tx->id, &txj, err);
    if (rc == 0 && (*out = json_pack("{s:o,s:O}", "transaction", txj, "payment", pay)) == NULL)
        rc = dm_err_set(err, DM_ENOMEM, "out of memory");
    json_decref(pay);
    return rc;
}

int dm__wallet_topup(const dm_app *app, dm_db *db, const dm_wallet_topup *t, json_t **out, dm_wallet_no *no,
                     dm_err_t *err)
{
    *out = NULL;
    memset(no, 0, sizeof *no);
    const dm_plugin *p = dm__wallet_gateway(app->plugins, t->gateway);
    if (p == NULL)
        return refuse(no, DM_WALLET_BAD_FIELD, "gateway",
                      "is not an enabled payment gateway (see /api/wallet/payment-methods)");
    if (!offers(p, t->method))
        return refuse(no, DM_WALLET_BAD_FIELD, "paymentMethod",
                      "is not offered by this gateway (see /api/wallet/payment-methods)");
    dm_user u;
    dm_ledger_tx tx;
    const int ttl_s = app->cfg->topup_expiry_min * 60;
    dm_ledger_topup open = { t->user_id, t->amount, t->gateway, t->method, "Wallet top-up", ttl_s };
    int rc = dm__users_get(db, t->user_id, &u, err);
    if (rc == 0)
        rc = dm__ledger_topup_open(db, &open, &tx, err);
    /* The row exists (and is durable) before the gateway hears of it, so
     * no payment the gateway knows can be missing from the ledger. */
    if (rc == 0 && t->durable != NULL)
        rc = t->durable(t->durable_ctx, err);
    if (rc != 0)
        return rc;
    const char *finish = app->cfg->finish_url;
    dm_payment_request_t req = { tx.custom_id, t->amount, t->method, u.name[0] != '\0' ? u.name : NULL, u.email,
                                 ttl_s, finish[0] != '\0' ? finish : NULL };
    dm_payment_created_t created;
    dm_err_t gw = { 0 };
    rc = dm__payment_create(p, &req, &created, &gw);
    if (rc != 0)
        return create_failed(db, &tx, rc, &gw, no);
    rc = record_created(db, &tx, &created, out, err);
    json_decref(created.raw);
    json_decref(created.instructions);
    return rc;
}

/* ---- one row ---------------------------------------------------------------- */

/* The caller's row named by ref into *tx. */
static int own_tx(dm_db *db, const char *user_id, const char *ref, dm_ledger_tx *tx, dm_wallet_no *no,
                  dm_err_t *err)
{
    memset(no, 0, sizeof *no);
    int rc = dm__ledger_find(db, ref, user_id, false, tx, err);
    if (rc == DM_ENOTFOUND)
        return refuse(no, DM_WALLET_NOT_FOUND, NULL, "no such transaction");
    return rc;
}

int dm__wallet_transaction(dm_db *db, const char *user_id, const char *ref, json_t **out, dm_wallet_no *no,
                           dm_err_t *err)
{
    *out = NULL;
    dm_ledger_tx tx;
    int rc = own_tx(db, user_id, ref, &tx, no, err);
    return rc != 0 ? rc : dm__ledger_json(db, tx.id, out, err);
}

static bool pending_topup(const dm_ledger_tx *tx)
{
    return strcmp(tx->type, "TOPUP") == 0 && strcmp(tx->status, "PENDING") == 0;
}

/* Ask the gateway about a pending top-up and apply what it says. Gateway
 * trouble is logged and leaves the row as it is (the expiry job and
 * notifications keep trying). */
static void refresh_from_gateway(const dm_app *app, dm_db *db, const dm_ledger_tx *tx)
{
    const dm_plugin *p = dm__wallet_gateway(app->plugins, tx->gateway);
    dm_payment_event_t ev;
    dm_err_t err = { 0 };
    int rc = dm__wallet_query(p, tx, &ev, &err);
    if (rc == 0) {
        const char *status = dm__wallet_status_name(ev.status);
        json_t *note = json_pack("{s:s,s:s}", "source", "status-query", "gatewayRef", ev.gateway_ref);
        dm_settle_result res;
        if (status != NULL && dm__wallet_apply(db, tx, status, note, NULL, &res, &err) != 0)
            DM_LOG_W("top-up %s: cannot apply gateway status: %s", tx->custom_id, err.msg);
        json_decref(note);
    } else if (rc != DM_EUNSUPPORTED && rc != DM_ENOTFOUND) {
        /* (Snap answers "not found" until the user picks a payment method:
         * nothing to apply yet, nothing wrong.) */
        DM_LOG_W("top-up %s: gateway status query failed: %s", tx->custom_id, err.msg);
    }
    json_decref(ev.raw);
}

int dm__wallet_refresh(const dm_app *app, dm_db *db, const char *user_id, const char *ref, json_t **out,
                       dm_wallet_no *no, dm_err_t *err)
{
    *out = NULL;
    dm_ledger_tx tx;
    int rc = own_tx(db, user_id, ref, &tx, no, err);
    if (rc != 0)
        return rc;
    if (pending_topup(&tx))
        refresh_from_gateway(app, db, &tx);
    return dm__ledger_json(db, tx.id, out, err);
}

/* What the gateway's answer to a cancel means for the row; 0 to go on. */
static int cancel_refused(const dm_app *app, dm_db *db, const dm_ledger_tx *tx, int rc, const dm_err_t *gw,
                          dm_wallet_no *no)
{
    if (rc == DM_ECONFLICT) { /* past cancelling: the gateway's own status decides the row */
        refresh_from_gateway(app, db, tx);
        return refuse(no, DM_WALLET_INVALID_STATE, NULL, "the payment can no longer be cancelled");
    }
    if (rc == DM_ENOTFOUND)
        /* The gateway has no payment to cancel yet (Snap: the customer has
         * not picked a method), so its payment page still takes money until
         * it expires. Calling the row CANCELLED now would leave such a
         * payment uncredited for good (forward-only): refuse instead; the
         * expiry job closes the row with the page. */
        return refuse(no, DM_WALLET_INVALID_STATE, NULL,
                      "the payment cannot be cancelled at the gateway yet; it expires on its own");
    DM_LOG_W("top-up %s: gateway cancel failed: %s", tx->custom_id, gw->msg);
    if (rc == DM_ETIMEDOUT) /* it may or may not have cancelled: the row stays open */
        return refuse(no, DM_WALLET_GATEWAY_TIMEOUT, NULL, "the payment gateway did not answer in time; try again later");
    return refuse(no, DM_WALLET_GATEWAY_ERROR, NULL, "the payment gateway is not available; try again later");
}

int dm__wallet_cancel(const dm_app *app, dm_db *db, const char *user_id, const char *ref, json_t **out,
                      dm_wallet_no *no, dm_err_t *err)
{
    static const char *const not_pending = "only a pending top-up can be cancelled";
    *out = NULL;
    dm_ledger_tx tx;
    int rc = own_tx(db, user_id, ref, &tx, no, err);
    if (rc != 0)
        return rc;
    if (!pending_topup(&tx))
        return refuse(no, DM_WALLET_INVALID_STATE, NULL, not_pending);
    /* The gateway first: once it has cancelled, no payment can arrive for a
     * row we call CANCELLED. */
    dm_err_t gw = { 0 };
    rc = dm__wallet_cancel_at_gateway(dm__wallet_gateway(app->plugins, tx.gateway), &tx, &gw);
    if (rc != 0)
        return cancel_refused(app, db, &tx, rc, &gw, no);
    json_t *note = json_pack("{s:s,s:s}", "source", "user-cancel", "by", user_id);
    dm_settle_result res;
    rc = dm__wallet_apply(db, &tx, "CANCELLED", note, NULL, &res, err);
    json_decref(note);
    if (rc != 0)
        return rc;
    if (res != DM_SETTLE_APPLIED) /* settled by a notification meanwhile */
        return refuse(no, DM_WALLET_INVALID_STATE, NULL, not_pending);
    return dm__ledger_json(db, tx.id, out, err);
}

/* ---- methods and summary ------------------------------------------------------ */

/* p's methods, each tagged with its gateway, appended to out. */
static void append_methods(const dm_app *app, const dm_plugin *p, json_t *out)
{
    json_t *list = NULL;
    dm_err_t err = { 0 };
    if (dm__payment_methods(p, &list, &err) != 0) {
        DM_LOG_W("%s: methods: %s", p->name, err.msg);
        return;
    }
    const char *gateway = p->name + 8; /* after "payment-" */
    size_t j;
    json_t *m;
    json_array_foreach(list, j, m) {
        json_t *e = json_deep_copy(m);
        json_object_set_new(e, "gateway", json_string(gateway));
        json_object_set_new(e, "default", json_boolean(strcmp(gateway, app->cfg->default_gateway) == 0));
        json_array_append_new(out, e);
    }
    json_decref(list);
}

json_t *dm__wallet_payment_methods(const dm_app *app)
{
    json_t *out = json_array();
    size_t n = app->plugins != NULL ? dm__plugins_count(app->plugins) : 0;
    for (size_t i = 0; out != NULL && i < n; i++) {
        const dm_plugin *p = dm__plugins_at(app->plugins, i);
        if (p->kind == DM_PLUGIN_PAYMENT && strncmp(p->name, "payment-", 8) == 0)
            append_methods(app, p, out);
    }
    return out;
}

int dm__wallet_summary(dm_db *db, const char *user_id, json_t **out, dm_err_t *err)
{
    *out = NULL;
    const char *p[] = { user_id };
    PGresult *res = dm__db_exec(
        db, "wallet_summary",
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
        1, p, err);
    if (res == NULL)
        return dm__db_failed(err);
    int rc = PQntuples(res) == 1 ? 0 : dm_err_set(err, DM_ENOTFOUND, "no such user");
    if (rc == 0 && (*out = json_loads(PQgetvalue(res, 0, 0), 0, NULL)) == NULL)
        rc = dm_err_set(err, DM_EIO, "wallet summary: unreadable row JSON");
    PQclear(res);
    return rc;
}
