/*
 * wallet_jobs.c — the wallet's periodic tasks (wallet_jobs.h): unpaid
 * top-ups past their expiry are settled with their gateway's final word or
 * EXPIRED, and refused notifications and expired Idempotency-Keys are
 * pruned.
 */
#include "wallet/wallet_jobs.h"

#include <string.h>

#include "app/idempotency.h"
#include "util/log.h"
#include "wallet/wallet_gateway.h"

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
    rc = dm__wallet_cancel_at_gateway(p, tx, &err);
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
