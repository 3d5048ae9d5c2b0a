/*
 * webhook.c — gateway notifications (wallet.h). A notification is
 * believed only after its signature checks out AND the gateway, asked
 * again, says the same about the same order and amount; it is applied
 * forward-only in one transaction with its stored copy, so duplicates,
 * retries and late or out-of-order deliveries move money at most once.
 * Every notification is stored with its verdict.
 */
#include "wallet/wallet.h"

#include <stdio.h>
#include <string.h>

#include "plugin/call.h"
#include "util/log.h"
#include "wallet/ledger.h"
#include "wallet/wallet_gateway.h"

static int outcome(dm_webhook_result *out, dm_webhook_outcome o)
{
    out->outcome = o;
    return 0;
}

/* Nothing changed and the gateway should try again. */
static int retry(dm_webhook_result *out, const char *message)
{
    out->message = message;
    return outcome(out, DM_WEBHOOK_RETRY);
}

/* 200 with the row's status and the verdict. */
static int answered(dm_webhook_result *out, const char *status, const char *verdict)
{
    snprintf(out->status, sizeof out->status, "%s", status);
    out->verdict = verdict;
    return outcome(out, DM_WEBHOOK_APPLIED);
}

/* Store a notification that changes nothing. False (a retry answered)
 * when the database cannot take it. */
static bool record(dm_db *db, dm_wallet_notice *n, const char *verdict, const char *detail, dm_webhook_result *out)
{
    dm_err_t err = { 0 };
    n->verdict = verdict;
    n->detail = detail;
    if (dm__wallet_notice_store(db, n, &err) != 0) {
        DM_LOG_W("webhook %s: cannot store notification: %s", n->gateway, err.msg);
        retry(out, "cannot record the notification; retry");
        return false;
    }
    DM_LOG_W("webhook %s: %s (%s)", n->gateway, verdict, detail != NULL ? detail : "");
    return true;
}

/* Record, then refuse with o. */
static int reject(dm_db *db, dm_wallet_notice *n, const char *verdict, const char *detail, dm_webhook_outcome o,
                  dm_webhook_result *out)
{
    if (record(db, n, verdict, detail, out))
        outcome(out, o);
    return 0;
}

/* Apply status (the gateway's re-read) to tx with the stored notice. */
static int apply(dm_db *db, const dm_ledger_tx *tx, const char *status, const json_t *note, dm_wallet_notice *n,
                 dm_webhook_result *out)
{
    dm_settle_result res;
    dm_err_t err = { 0 };
    if (dm__wallet_apply(db, tx, status, note, n, &res, &err) != 0) {
        DM_LOG_W("webhook %s: cannot apply %s: %s", n->gateway, tx->custom_id, err.msg);
        return retry(out, "cannot apply the notification; retry");
    }
    if (res == DM_SETTLE_STALE && strcmp(status, "SUCCESS") == 0)
        /* Money the gateway holds for a row already closed here (a user
         * cancel the gateway did not know about): forward-only keeps it
         * uncredited, so a person has to look. */
        DM_LOG_E("webhook %s: %s paid at the gateway but already %s here: needs a refund or manual credit",
                 n->gateway, tx->custom_id, tx->status);
    return answered(out, res == DM_SETTLE_STALE ? tx->status : status, n->verdict);
}

/* Ask the gateway again about the verified order and apply its word. */
static int confirm(dm_db *db, const dm_plugin *p, const dm_ledger_tx *tx, dm_wallet_notice *n,
                   const dm_payment_event_t *ev, dm_webhook_result *out)
{
    dm_payment_event_t q;
    dm_err_t err = { 0 };
    int rc = dm__wallet_query(p, tx, &q, &err);
    const char *status = rc == 0 ? dm__wallet_status_name(q.status) : NULL;
    json_t *note = json_pack("{s:s,s:s,s:s}", "source", "notification", "gatewayRef",
                             q.gateway_ref[0] != '\0' ? q.gateway_ref : ev->gateway_ref, "method",
                             q.method[0] != '\0' ? q.method : ev->method);
    json_decref(q.raw);
    if (rc == DM_EINVAL)
        reject(db, n, "amount_mismatch", err.msg, DM_WEBHOOK_RECORD_MISMATCH, out);
    else if (rc == DM_ENOTFOUND)
        reject(db, n, "unknown_order", "the gateway does not know the order", DM_WEBHOOK_UNKNOWN_ORDER, out);
    else if (rc != 0) { /* a timeout included: the gateway retries, nothing changed */
        if (record(db, n, "gateway_error", err.msg, out))
            retry(out, "cannot confirm with the gateway; retry");
    } else if (status == NULL) {
        if (record(db, n, "stale", "a refund status is not applied to a top-up", out))
            answered(out, tx->status, "stale");
    } else {
        apply(db, tx, status, note, n, out);
    }
    json_decref(note);
    return 0;
}

/* The notification verified; check it against the ledger and the gateway
 * and apply it. */
static int apply_verified(dm_db *db, const dm_plugin *p, dm_wallet_notice *n, const dm_payment_event_t *ev,
                          dm_webhook_result *out)
{
    dm_ledger_tx tx;
    dm_err_t err = { 0 };
    int rc = dm__ledger_find(db, ev->order_id, NULL, false, &tx, &err);
    if (rc == 0 && strcmp(tx.gateway, n->gateway) != 0)
        rc = DM_ENOTFOUND; /* one gateway cannot settle another's order */
    if (rc == DM_ENOTFOUND)
        return reject(db, n, "unknown_order", NULL, DM_WEBHOOK_UNKNOWN_ORDER, out);
    if (rc != 0)
        return retry(out, "cannot read the ledger; retry");
    n->tx_id = tx.id;
    if (ev->amount != tx.amount)
        return reject(db, n, "amount_mismatch", "notification amount differs from the ledger",
                      DM_WEBHOOK_AMOUNT_MISMATCH, out);
    /* Never on the notification's word alone: ask the gateway. */
    return confirm(db, p, &tx, n, ev, out);
}

/* The very same bytes were applied before: a redelivery, recorded as one. */
static int redelivered(dm_db *db, dm_wallet_notice *n, const dm_payment_event_t *ev, dm_webhook_result *out)
{
    dm_ledger_tx tx;
    dm_err_t err = { 0 };
    if (dm__ledger_find(db, ev->order_id, NULL, false, &tx, &err) == 0)
        n->tx_id = tx.id;
    n->verdict = "duplicate";
    if (dm__wallet_notice_store(db, n, &err) != 0)
        return retry(out, "cannot record the notification; retry");
    return answered(out, n->tx_id != NULL ? tx.status : "UNKNOWN", "duplicate");
}

int dm__wallet_webhook(const dm_app *app, dm_db *db, const dm_wallet_delivery *d, dm_webhook_result *out)
{
    memset(out, 0, sizeof *out);
    const dm_plugin *p = dm__wallet_gateway(app->plugins, d->gateway);
    if (p == NULL)
        return outcome(out, DM_WEBHOOK_NO_GATEWAY);
    dm_wallet_notice n = { .gateway = d->gateway, .body = d->body, .body_len = d->body_len };
    dm_payment_event_t ev;
    dm_err_t err = { 0 };
    int rc = dm__payment_verify_notification(p, d->headers, d->n_headers, d->body, d->body_len, &ev, &err);
    json_decref(ev.raw);
    n.order_id = ev.order_id[0] != '\0' ? ev.order_id : NULL;
    if (rc == DM_EUNSUPPORTED)
        return outcome(out, DM_WEBHOOK_NO_NOTIFICATIONS);
    if (rc == DM_EPERM)
        return reject(db, &n, "bad_signature", err.msg, DM_WEBHOOK_BAD_SIGNATURE, out);
    if (rc == DM_EINVAL)
        return reject(db, &n, "malformed", err.msg, DM_WEBHOOK_MALFORMED, out);
    if (rc != 0) {
        DM_LOG_E("webhook %s: verify: %s", d->gateway, err.msg);
        return retry(out, "cannot process the notification now; retry");
    }
    n.gateway_status = dm__wallet_status_name(ev.status);
    bool seen = false;
    if (dm__wallet_notice_seen(db, &n, &seen, &err) != 0)
        return retry(out, "cannot read notifications; retry");
    if (seen)
        return redelivered(db, &n, &ev, out);
    return apply_verified(db, p, &n, &ev, out);
}
