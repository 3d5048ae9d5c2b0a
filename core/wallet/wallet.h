/*
 * wallet.h — the caller's wallet and the gateways' notifications, without
 * HTTP (docs/openapi.yaml, Wallet): starting a top-up at a payment gateway,
 * cancelling one, re-reading one at its gateway, a row of the caller's,
 * the methods on offer and the summary (wallet.c); a gateway's
 * notification checked and applied (webhook.c). wallet_routes.c and
 * webhook_routes.c are the HTTP side. Worker threads only; every function
 * runs its own statements (no transaction may be open) and calls gateways
 * through plugin/call.h, so each gateway wait is bounded by
 * plugins.paymentTimeoutMs.
 */
#ifndef DM_WALLET_H
#define DM_WALLET_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <dermaga/error.h>
#include <dermaga/plugin.h>

#include "app/app.h"
#include "db/pg.h"

/* Why a wallet call was refused (the functions return DM_ECONFLICT then). */
typedef enum dm_wallet_refusal {
    DM_WALLET_OK = 0,
    DM_WALLET_BAD_FIELD,       /* field refused (400 VALIDATION_ERROR): message says why */
    DM_WALLET_NOT_FOUND,       /* no such transaction of the caller's (404) */
    DM_WALLET_INVALID_STATE,   /* the row's state forbids it (409 INVALID_STATE): message says why */
    DM_WALLET_REJECTED,        /* the gateway refused the payment (400 PAYMENT_REJECTED); the row is FAILED */
    DM_WALLET_GATEWAY_ERROR,   /* the gateway failed (502 PAYMENT_GATEWAY_ERROR); a top-up's row is FAILED */
    DM_WALLET_GATEWAY_TIMEOUT  /* the gateway did not answer in time (504 GATEWAY_TIMEOUT); the row
                                  stays PENDING, for the status check and the expiry job to settle */
} dm_wallet_refusal;

typedef struct dm_wallet_no {
    dm_wallet_refusal why;
    const char       *field;   /* DM_WALLET_BAD_FIELD: "gateway", "paymentMethod" (static) */
    const char       *message; /* safe to show (static) */
} dm_wallet_no;

/* A top-up to start; every field borrowed. The amount is already within
 * wallet.topupMin .. topupMax (the body's rule, checked by the route). */
typedef struct dm_wallet_topup {
    const char *user_id;
    int64_t     amount;
    const char *method;  /* a method id of the gateway's */
    const char *gateway; /* "manual" → the plugin payment-manual */
    /* Called (when not NULL) once the PENDING row is written and before the
     * gateway hears of it, with durable_ctx: the caller's chance to commit
     * what it holds open (an Idempotency-Key's unit of work), so the row
     * is durable before the payment exists. Non-zero stops the top-up
     * with that failure. */
    int       (*durable)(void *durable_ctx, dm_err_t *err);
    void       *durable_ctx;
} dm_wallet_topup;

/* Each returns 0 and *out (a new reference); DM_ECONFLICT with *no filled
 * for a refusal; or a failure (err says why; DM_EUNAVAIL when the
 * database is down). */

/* Write the PENDING row, then ask the gateway to create the payment:
 * *out = {transaction, payment:{token, redirectUrl, instructions,
 * expiresAt}}. Refusals: BAD_FIELD (gateway not enabled, method not
 * offered; nothing written), REJECTED / GATEWAY_ERROR (row FAILED, the
 * gateway's words logged only), GATEWAY_TIMEOUT (row PENDING: the gateway
 * may have created the payment). */
int dm__wallet_topup(const dm_app *app, dm_db *db, const dm_wallet_topup *t, json_t **out, dm_wallet_no *no,
                     dm_err_t *err);

/* The caller's row named by ref (uuid or TXMP id): *out as the API shows
 * it. NOT_FOUND for another user's or an unknown row. */
int dm__wallet_transaction(dm_db *db, const char *user_id, const char *ref, json_t **out, dm_wallet_no *no,
                           dm_err_t *err);

/* The same after asking the gateway about a PENDING top-up and applying
 * its answer forward-only. Gateway trouble (a timeout included) is logged
 * and leaves the row as it is. */
int dm__wallet_refresh(const dm_app *app, dm_db *db, const char *user_id, const char *ref, json_t **out,
                       dm_wallet_no *no, dm_err_t *err);

/* Cancel the caller's PENDING top-up, at the gateway first: *out is the
 * CANCELLED row. INVALID_STATE for anything else, when the gateway says it
 * is past cancelling (its status is applied), or does not know it yet;
 * GATEWAY_ERROR / GATEWAY_TIMEOUT leave the row PENDING. The row's
 * metadata keeps user_id as who cancelled. */
int dm__wallet_cancel(const dm_app *app, dm_db *db, const char *user_id, const char *ref, json_t **out,
                      dm_wallet_no *no, dm_err_t *err);

/* The methods of every enabled payment gateway, [{id, name, gateway,
 * default}]: a new array (a gateway that fails is logged and left out);
 * NULL when out of memory. */
json_t *dm__wallet_payment_methods(const dm_app *app);

/* {balance, currency, totalTopup, totalSpent, totalRefunded,
 * pendingTopups, thisMonth:{topup, spent, refunded, transactions}} of
 * user_id into *out (new). 0, DM_ENOTFOUND, DM_EIO / DM_EUNAVAIL. */
int dm__wallet_summary(dm_db *db, const char *user_id, json_t **out, dm_err_t *err);

/* ---- notifications (webhook.c) ------------------------------------------- */

/* One delivery to POST /api/wallet/webhooks/:gateway; borrowed. */
typedef struct dm_wallet_delivery {
    const char             *gateway;  /* the path's name */
    const dm_http_header_t *headers;
    size_t                  n_headers;
    const char             *body;     /* body_len bytes, not NUL-terminated */
    size_t                  body_len;
} dm_wallet_delivery;

/* What the webhook answers. */
typedef enum dm_webhook_outcome {
    DM_WEBHOOK_APPLIED = 0,       /* 200 {status, verdict}: applied, a duplicate or stale news */
    DM_WEBHOOK_NO_GATEWAY,        /* 404: no such payment gateway */
    DM_WEBHOOK_NO_NOTIFICATIONS,  /* 404: the gateway sends none */
    DM_WEBHOOK_BAD_SIGNATURE,     /* 401 INVALID_SIGNATURE */
    DM_WEBHOOK_MALFORMED,         /* 400 INVALID_NOTIFICATION */
    DM_WEBHOOK_UNKNOWN_ORDER,     /* 404: no such order (or the gateway does not know it) */
    DM_WEBHOOK_AMOUNT_MISMATCH,   /* 400 AMOUNT_MISMATCH: the notification's amount */
    DM_WEBHOOK_RECORD_MISMATCH,   /* 400 AMOUNT_MISMATCH: the gateway's re-read */
    DM_WEBHOOK_RETRY              /* 503: nothing changed, the gateway should retry (message says why) */
} dm_webhook_outcome;

typedef struct dm_webhook_result {
    dm_webhook_outcome outcome;
    char               status[16]; /* APPLIED: the row's status now, or UNKNOWN */
    const char        *verdict;    /* APPLIED: applied, duplicate or stale (static) */
    const char        *message;    /* RETRY: safe to show (static) */
} dm_webhook_result;

/* Check d with its gateway's plugin (signature), against the ledger
 * (order, amount) and the gateway again (query_status), and apply it
 * forward-only in one transaction with its stored copy; every delivery is
 * stored with its verdict (docs/wallet.md has the table). Always fills
 * *out; returns 0. */
int dm__wallet_webhook(const dm_app *app, dm_db *db, const dm_wallet_delivery *d, dm_webhook_result *out);

#endif
