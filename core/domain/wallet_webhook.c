/*
 * wallet_webhook.c — gateway notifications (POST /api/wallet/webhooks/
 * :gateway, public) and the periodic expiry of unpaid top-ups. A
 * notification is believed only after its signature checks out AND the
 * gateway, asked again, says the same about the same order and amount;
 * it is applied forward-only in one transaction with its stored copy, so
 * duplicates, retries and late or out-of-order deliveries move money at
 * most once. Every notification is stored with its verdict.
 */
#include "domain/wallet.h"

#include <string.h>

#include "domain/wallet_gateway.h"
#include "http/idempotency.h"
#include "http/response.h"
#include "http/server.h"
#include "util/log.h"

/* The request's headers in the SDK's shape (arena memory). */
static dm_http_header_t *sdk_headers(dm_request *r)
{
    dm_http_header_t *h = dm__arena_alloc(&r->arena, sizeof *h * (size_t)(r->n_headers + 1));
    for (int i = 0; h != NULL && i < r->n_headers; i++) {
        h[i].name = r->headers[i].name;
        h[i].value = r->headers[i].value;
    }
    return h;
}

/* Store a notification that changes nothing. False (503 set, so the
 * gateway retries) when the database cannot take it. */
static bool record(dm_request *r, dm_wallet_notice *n, const char *verdict, const char *detail)
{
    dm_err_t err = { 0 };
    n->verdict = verdict;
    n->detail = detail;
    if (dm__wallet_notice_store(r->db, n, &err) != 0) {
        DM_LOG_W("webhook %s: cannot store notification: %s", n->gateway, err.msg);
        dm__res_unavailable(r, "cannot record the notification; retry");
        return false;
    }
    DM_LOG_W("webhook %s: %s (%s)", n->gateway, verdict, detail != NULL ? detail : "");
    return true;
}

/* Record, then refuse with status and code. */
static void reject(dm_request *r, dm_wallet_notice *n, const char *verdict, const char *detail, int status,
                   const char *code, const char *message)
{
    if (record(r, n, verdict, detail))
        dm__res_error(r, status, code, message, NULL);
}

static void answer(dm_request *r, const char *status, const char *verdict)
{
    dm__res_ok(r, 200, json_pack("{s:s,s:s}", "status", status, "verdict", verdict));
}

/* The notification verified; check it against the ledger and the gateway
 * and apply it. */
static void apply_verified(dm_request *r, const dm_plugin *p, dm_wallet_notice *n, const dm_payment_event_t *ev)
{
    dm_ledger_tx tx;
    dm_err_t err = { 0 };
    int rc = dm__ledger_find(r->db, ev->order_id, NULL, false, &tx, &err);
    if (rc == 0 && strcmp(tx.gateway, n->gateway) != 0)
        rc = DM_ENOTFOUND; /* one gateway cannot settle another's order */
    if (rc == DM_ENOTFOUND) {
        reject(r, n, "unknown_order", NULL, 404, "NOT_FOUND", "no such order");
        return;
    }
    if (rc != 0) {
        dm__res_unavailable(r, "cannot read the ledger; retry");
        return;
    }
    n->tx_id = tx.id;
    if (ev->amount != tx.amount) {
        reject(r, n, "amount_mismatch", "notification amount differs from the ledger", 400, "AMOUNT_MISMATCH",
               "the amount does not match the order");
        return;
    }
    /* Never on the notification's word alone: ask the gateway. */
    dm_payment_event_t q;
    rc = dm__wallet_query(p, &tx, &q, &err);
    const char *status = rc == 0 ? dm__wallet_status_name(q.status) : NULL;
    json_t *note = json_pack("{s:s,s:s,s:s}", "source", "notification", "gatewayRef",
                             q.gateway_ref[0] != '\0' ? q.gateway_ref : ev->gateway_ref, "method",
                             q.method[0] != '\0' ? q.method : ev->method);
    json_decref(q.raw);
    dm_settle_result res;
    if (rc == DM_EINVAL) {
        reject(r, n, "amount_mismatch", err.msg, 400, "AMOUNT_MISMATCH", "the gateway's record does not match the order");
    } else if (rc == DM_ENOTFOUND) {
        reject(r, n, "unknown_order", "the gateway does not know the order", 404, "NOT_FOUND", "no such order");
    } else if (rc != 0) {
        if (record(r, n, "gateway_error", err.msg))
            dm__res_unavailable(r, "cannot confirm with the gateway; retry");
    } else if (status == NULL) {
        if (record(r, n, "stale", "a refund status is not applied to a top-up"))
            answer(r, tx.status, "stale");
    } else if (dm__wallet_apply(r->db, &tx, status, note, n, &res, &err) != 0) {
        DM_LOG_W("webhook %s: cannot apply %s: %s", n->gateway, tx.custom_id, err.msg);
        dm__res_unavailable(r, "cannot apply the notification; retry");
    } else {
        if (res == DM_SETTLE_STALE && strcmp(status, "SUCCESS") == 0)
            /* Money the gateway holds for a row already closed here (a
             * user cancel the gateway did not know about): forward-only
             * keeps it uncredited, so a person has to look. */
            DM_LOG_E("webhook %s: %s paid at the gateway but already %s here: needs a refund or "
                     "manual credit", n->gateway, tx.custom_id, tx.status);
        answer(r, res == DM_SETTLE_STALE ? tx.status : status, n->verdict);
    }
    json_decref(note);
}

static void webhook(dm_request *r)
{
    const char *gateway = dm__req_param(r, "gateway");
    const dm_plugin *p = dm__wallet_gateway(r->server->plugins, gateway);
    if (p == NULL) {
        dm__res_error(r, 404, "NOT_FOUND", "no such payment gateway", NULL);
        return;
    }
    const char *body = r->body != NULL ? r->body : "";
    dm_wallet_notice n = { .gateway = gateway, .body = body, .body_len = r->body_len };
    dm_payment_event_t ev;
    memset(&ev, 0, sizeof ev);
    dm_err_t err = { 0 };
    const dm_http_header_t *h = sdk_headers(r);
    int rc = h == NULL ? DM_ENOMEM
                       : dm__plugin_payment_ops(p)->verify_notification(p->state, h, (size_t)r->n_headers, body,
                                                                        r->body_len, &ev, &err);
    json_decref(ev.raw);
    n.order_id = ev.order_id[0] != '\0' ? ev.order_id : NULL;
    if (rc == DM_EUNSUPPORTED) {
        dm__res_error(r, 404, "NOT_FOUND", "this gateway sends no notifications", NULL);
        return;
    }
    if (rc == DM_EPERM) {
        reject(r, &n, "bad_signature", err.msg, 401, "INVALID_SIGNATURE", "the notification's signature is not valid");
        return;
    }
    if (rc == DM_EINVAL) {
        reject(r, &n, "malformed", err.msg, 400, "INVALID_NOTIFICATION", "the notification is malformed");
        return;
    }
    if (rc != 0) {
        DM_LOG_E("webhook %s: verify: %s", gateway, err.msg);
        dm__res_unavailable(r, "cannot process the notification now; retry");
        return;
    }
    n.gateway_status = dm__wallet_status_name(ev.status);
    bool seen = false;
    if (dm__wallet_notice_seen(r->db, &n, &seen, &err) != 0) {
        dm__res_unavailable(r, "cannot read notifications; retry");
        return;
    }
    if (seen) { /* the very same bytes were applied before: a redelivery */
        dm_ledger_tx tx;
        if (dm__ledger_find(r->db, ev.order_id, NULL, false, &tx, &err) == 0)
            n.tx_id = tx.id;
        n.verdict = "duplicate";
        if (dm__wallet_notice_store(r->db, &n, &err) != 0) {
            dm__res_unavailable(r, "cannot record the notification; retry");
            return;
        }
        answer(r, n.tx_id != NULL ? tx.status : "UNKNOWN", "duplicate");
        return;
    }
    apply_verified(r, p, &n, &ev);
}

int dm__wallet_webhook_routes_add(dm_router *rt)
{
    return dm__router_add(rt, "POST", "/api/wallet/webhooks/:gateway", webhook, DM_ROUTE_POOL);
}

/* ---- the expiry job ------------------------------------------------------ */

/* What a due top-up becomes: the gateway's final word when it has one,
 * else EXPIRED. NULL when the gateway could not be asked now (try again
 * on the next run rather than expire a payment that may have arrived). */
static const char *due_status(const dm_plugin_set *set, const dm_ledger_tx *tx)
{
    const dm_plugin *p = dm__wallet_gateway(set, tx->gateway);
    if (p == NULL)
        return "EXPIRED";
    dm_payment_event_t q;
    dm_err_t err = { 0 };
    int rc = dm__wallet_query(p, tx, &q, &err);
    json_decref(q.raw);
    if (rc == DM_EUNSUPPORTED || rc == DM_ENOTFOUND)
        return "EXPIRED";
    if (rc != 0) {
        DM_LOG_W("expiry: %s: gateway unavailable, kept pending: %s", tx->custom_id, err.msg);
        return NULL;
    }
    const char *s = dm__wallet_status_name(q.status);
    if (s != NULL && strcmp(s, "PENDING") != 0)
        return s;
    /* Still pending there after our deadline: stop it there too. Only a
     * cancel the gateway accepted (or an order it does not know) makes the
     * row EXPIRED: a refusal means the payment moved on between the read
     * and the cancel (paid a moment ago), and expiring it then would lose
     * money the user sent. */
    const dm_payment_ops_t *ops = dm__plugin_payment_ops(p);
    rc = ops->cancel != NULL ? ops->cancel(p->state, tx->custom_id, &err) : 0;
    if (rc == 0 || rc == DM_ENOTFOUND)
        return "EXPIRED";
    DM_LOG_W("expiry: %s: gateway cancel failed, kept pending: %s", tx->custom_id, err.msg);
    if (rc != DM_ECONFLICT)
        return NULL;
    /* Too late to cancel: the gateway's final word decides, now. */
    rc = dm__wallet_query(p, tx, &q, &err);
    json_decref(q.raw);
    s = rc == 0 ? dm__wallet_status_name(q.status) : NULL;
    return s != NULL && strcmp(s, "PENDING") != 0 ? s : NULL;
}

int dm__wallet_expire_job(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err)
{
    (void)job;
    const dm_plugin_set *set = ctx;
    dm_ledger_tx due[50];
    int n = 0;
    int rc = dm__ledger_pending_due(db, due, (int)(sizeof due / sizeof due[0]), &n, err);
    for (int i = 0; rc == 0 && i < n; i++) {
        const char *status = due_status(set, &due[i]);
        if (status == NULL) { /* kept pending: to the back of the line */
            rc = dm__ledger_touch(db, due[i].id, err);
            continue;
        }
        json_t *note = json_pack("{s:s}", "source", "expiry");
        dm_settle_result res;
        rc = dm__wallet_apply(db, &due[i], status, note, NULL, &res, err);
        json_decref(note);
        if (rc == 0 && res == DM_SETTLE_APPLIED)
            DM_LOG_I("top-up %s: %s at expiry", due[i].custom_id, status);
    }
    return rc;
}

int dm__wallet_prune_job(dm_db *db, const dm_job *job, void *ctx, dm_err_t *err)
{
    (void)job, (void)ctx;
    long n = 0;
    int rc = dm__wallet_notice_prune(db, 30, &n, err);
    if (rc == 0 && n > 0)
        DM_LOG_I("pruned %ld refused payment notifications older than 30 days", n);
    if (rc == 0)
        rc = dm__idem_prune(db, &n, err);
    if (rc == 0 && n > 0)
        DM_LOG_I("pruned %ld expired idempotency keys", n);
    return rc;
}
