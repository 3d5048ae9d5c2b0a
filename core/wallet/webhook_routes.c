/*
 * webhook_routes.c — gateway notifications (POST /api/wallet/webhooks/
 * :gateway, public) and the periodic expiry of unpaid top-ups. A
 * notification is believed only after its signature checks out AND the
 * gateway, asked again, says the same about the same order and amount;
 * it is applied forward-only in one transaction with its stored copy, so
 * duplicates, retries and late or out-of-order deliveries move money at
 * most once. Every notification is stored with its verdict. The expiry
 * of unpaid top-ups is wallet_jobs.c.
 */
#include "wallet/wallet_routes.h"

#include <string.h>

#include "app/app.h"
#include "http/response.h"
#include "http/router.h"
#include "util/log.h"
#include "wallet/wallet_gateway.h"

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
    const dm_plugin *p = dm__wallet_gateway(r->app->plugins, gateway);
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
