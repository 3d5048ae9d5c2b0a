/*
 * wallet_gateway.h — what the wallet routes, the webhook and the expiry
 * job share about payment gateways: finding the plugin of a gateway name,
 * re-reading a payment at its gateway (and refusing an answer about
 * another order or amount), applying a gateway status to the ledger
 * forward-only, and recording notifications. Worker threads only.
 */
#ifndef DM_WALLET_GATEWAY_H
#define DM_WALLET_GATEWAY_H

#include <stddef.h>

#include <jansson.h>

#include <dermaga/payment.h>

#include "db/pg.h"
#include "plugin/registry.h"
#include "wallet/ledger.h"

/* The payment plugin serving gateway `name` ("midtrans" → the plugin
 * "payment-midtrans"), or NULL when none is loaded. Borrowed. */
const dm_plugin *dm__wallet_gateway(const dm_plugin_set *set, const char *name);

/* The ledger status for a gateway status, or NULL for one the ledger has
 * no use for (REFUNDED). Static string. */
const char *dm__wallet_status_name(uint32_t status);

/*
 * Ask the gateway of tx (p; NULL when it is not enabled) for its current
 * state (query_status, bounded by plugins.paymentTimeoutMs; told the
 * order id and the stored gateway_ref), into *ev
 * (ev->raw is a new reference the caller decrefs; *ev is zeroed first,
 * whatever the outcome). The answer must name tx's order and state tx's
 * amount: otherwise (another order or amount, or none stated) DM_EINVAL. DM_EUNSUPPORTED when the gateway cannot be asked
 * (manual transfers), DM_ENOTFOUND when it does not know the order, else
 * the plugin's code (DM_EUNAVAIL, DM_EIO, DM_ETIMEDOUT …).
 */
int dm__wallet_query(const dm_plugin *p, const dm_ledger_tx *tx, dm_payment_event_t *ev, dm_err_t *err);

/* Cancel tx's order at gateway p (may be NULL) before the row is closed
 * (the plugin receives the order id and, from ABI 1.5, the gateway_ref create
 * gave).
 * 0 when the gateway cancelled it, or has nothing to cancel (no plugin
 * enabled, no cancel op: manual transfers); else the plugin's code
 * (DM_ECONFLICT past cancelling, DM_ENOTFOUND unknown to it yet,
 * DM_ETIMEDOUT no answer in time, DM_EUNAVAIL / DM_EIO …). */
int dm__wallet_cancel_at_gateway(const dm_plugin *p, const dm_ledger_tx *tx, dm_err_t *err);

/* One received notification, for payment_notifications. Borrowed. */
typedef struct dm_wallet_notice {
    const char *gateway;
    const char *order_id;       /* may be NULL (unparseable body) */
    const char *tx_id;          /* may be NULL (unknown order) */
    const char *gateway_status; /* may be NULL */
    const char *body;           /* raw, body_len bytes */
    size_t      body_len;
    const char *verdict;        /* one of the table's verdicts */
    const char *detail;         /* may be NULL */
    char        body_sha256[65]; /* "" until hashed; filled once by the first
                                    function that needs it */
} dm_wallet_notice;

/* Insert n as its own statement (or inside the caller's transaction). 0,
 * DM_EIO / DM_EUNAVAIL. */
int dm__wallet_notice_store(dm_db *db, dm_wallet_notice *n, dm_err_t *err);

/* Delete stored notifications that changed nothing and point at no
 * transaction (bad_signature, malformed, unknown_order) once older than
 * keep_days: anyone can send those, so they must not pile up forever.
 * Notifications about real orders are kept. *n (may be NULL) gets how
 * many went. 0, DM_EIO / DM_EUNAVAIL. */
int dm__wallet_notice_prune(dm_db *db, int keep_days, long *n, dm_err_t *err);

/* True when a notification with exactly n's bytes was already applied
 * or recognised as a duplicate for its gateway: nothing more to do. */
int dm__wallet_notice_seen(dm_db *db, dm_wallet_notice *n, bool *seen, dm_err_t *err);

/*
 * In one transaction: settle tx with status (forward-only, crediting a
 * SUCCESS once) and, when notice is given, record it with the verdict the
 * settlement produced ("applied", "duplicate" or "stale"). 0 and *res,
 * or the ledger's codes (rolled back).
 */
int dm__wallet_apply(dm_db *db, const dm_ledger_tx *tx, const char *status, const json_t *note,
                     dm_wallet_notice *notice, dm_settle_result *res, dm_err_t *err);

#endif
