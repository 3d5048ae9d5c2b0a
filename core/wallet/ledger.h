/*
 * ledger.h — the only code that changes a wallet balance. Every change is
 * one `transactions` row written in the same SQL transaction as a guarded
 * UPDATE of users.credit_balance, so the balance always equals the sum of
 * the user's SUCCESS amounts (ledger_violations() in 0004_wallet.sql checks
 * it). Amounts are signed Rupiah: what the row does to the balance.
 *
 * Unless a function says otherwise it runs inside the caller's open
 * transaction (dm__db_begin … dm__db_commit) and, on DM_EIO / DM_EUNAVAIL,
 * the caller must roll back.
 */
#ifndef DM_LEDGER_H
#define DM_LEDGER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <dermaga/error.h>

#include "db/pg.h"

/* A row's fields the domain code decides with. Strings are NUL-terminated. */
typedef struct dm_ledger_tx {
    char    id[37];
    char    custom_id[32];   /* "TXMP-101" */
    char    user_id[37];
    char    type[16];        /* TOPUP, SUBSCRIPTION, … */
    char    status[12];      /* PENDING, SUCCESS, … */
    char    gateway[65];     /* "" when none */
    char    gateway_ref[129];
    int64_t amount;
} dm_ledger_tx;

/* A balance change applied at once (SUCCESS): everything but top-ups. */
typedef struct dm_ledger_post {
    const char   *user_id;     /* required */
    const char   *type;        /* required: SUBSCRIPTION, UPGRADE, RENEWAL, REFUND, ADJUSTMENT, BONUS */
    int64_t       amount;      /* signed; must suit the type (the table's CHECK) */
    const char   *description; /* may be NULL */
    const json_t *metadata;    /* may be NULL: an object stored as it is */
} dm_ledger_post;

/*
 * Apply p: UPDATE … SET credit_balance = credit_balance + amount WHERE id =
 * user AND credit_balance + amount >= 0, and the SUCCESS row with the
 * balance before and after. *tx_json (may be NULL) gets the row as
 * dm__ledger_json shapes it (new reference).
 * Returns 0; DM_ECONFLICT when the balance would go below zero (nothing
 * written; the transaction stays usable); DM_ENOTFOUND when the user does
 * not exist; DM_EINVAL when the amount does not suit the type; DM_EIO /
 * DM_EUNAVAIL.
 */
int dm__ledger_post(dm_db *db, const dm_ledger_post *p, json_t **tx_json, dm_err_t *err);

/* A top-up waiting for its gateway. */
typedef struct dm_ledger_topup {
    const char *user_id;
    int64_t     amount;      /* > 0 */
    const char *gateway;     /* "manual", "midtrans", … */
    const char *method;      /* the payment method id */
    const char *description; /* may be NULL */
    int         expires_in_s;
} dm_ledger_topup;

/* Insert a PENDING TOPUP row (its own statement; no transaction needed)
 * and fill *out (its custom_id is the gateway's order id). 0, DM_EINVAL,
 * DM_EIO / DM_EUNAVAIL. */
int dm__ledger_topup_open(dm_db *db, const dm_ledger_topup *t, dm_ledger_tx *out, dm_err_t *err);

/* Record what the gateway gave for a PENDING top-up: gateway_ref (may be
 * NULL or ""), payment (borrowed object {token, redirectUrl, instructions,
 * expiresAt}) and the gateway's expiry (ms since the epoch; 0 keeps ours).
 * Its own statement. 0, DM_ENOTFOUND (no longer pending), DM_EIO /
 * DM_EUNAVAIL. */
int dm__ledger_topup_attach(dm_db *db, const char *tx_id, const char *gateway_ref,
                            const json_t *payment, int64_t expires_at_ms, dm_err_t *err);

/* Find a row by uuid or "TXMP-<n>" (ref, borrowed). With user_id (may be
 * NULL) only that user's rows match. With lock, SELECT … FOR UPDATE (inside
 * a transaction). 0 and *out; DM_ENOTFOUND (also for a malformed ref);
 * DM_EIO / DM_EUNAVAIL. */
int dm__ledger_find(dm_db *db, const char *ref, const char *user_id, bool lock, dm_ledger_tx *out,
                    dm_err_t *err);

/* What dm__ledger_settle did. */
typedef enum dm_settle_result {
    DM_SETTLE_APPLIED = 1,  /* PENDING moved to the new status (credited on SUCCESS) */
    DM_SETTLE_SAME    = 2,  /* the row already had that status: a duplicate */
    DM_SETTLE_STALE   = 3   /* the row is final with another status, or the new
                               status is PENDING: nothing moves backwards */
} dm_settle_result;

/*
 * Move a TOPUP forward-only: lock the row, and if it is PENDING and status
 * is final (SUCCESS, FAILED, CANCELLED, EXPIRED) write the status, and on
 * SUCCESS credit the amount with its balances — so a SUCCESS credits
 * exactly once whatever arrives concurrently or twice. note (may be NULL)
 * is merged into metadata under "settlement". Returns 0 with *result;
 * DM_ENOTFOUND; DM_EINVAL (not a top-up, or status unknown); DM_EIO /
 * DM_EUNAVAIL. Runs in the caller's transaction.
 */
int dm__ledger_settle(dm_db *db, const char *tx_id, const char *status, const json_t *note,
                      dm_settle_result *result, dm_err_t *err);

/* The row in the API shape {id, customId, userId, type, status, amount,
 * balanceBefore, balanceAfter, gateway, gatewayRef, paymentMethod,
 * description, metadata, payment, expiresAt, settledAt, createdAt,
 * updatedAt}: *out a new reference. 0, DM_ENOTFOUND, DM_EIO / DM_EUNAVAIL. */
int dm__ledger_json(dm_db *db, const char *tx_id, json_t **out, dm_err_t *err);

/* Filters for dm__ledger_list; NULL or "" means any. */
typedef struct dm_ledger_filter {
    const char *user_id;
    const char *type;
    const char *status;
    const char *gateway;
    const char *from;    /* created_at >= (RFC 3339) */
    const char *to;      /* created_at < */
} dm_ledger_filter;

/* One page, newest first: *items a new array of dm__ledger_json objects,
 * *total the matches. DM_EINVAL for a malformed filter value (the message
 * names it), DM_EIO / DM_EUNAVAIL. */
int dm__ledger_list(dm_db *db, const dm_ledger_filter *f, long page, long limit, json_t **items,
                    long *total, dm_err_t *err);

/* Up to max PENDING top-ups whose expiry has passed, least recently
 * touched first, into out[0..*n). The caller asks their gateway and
 * settles each (EXPIRED when the gateway has nothing better), or touches
 * the ones it must keep (dm__ledger_touch) so that they go to the back of
 * the line and cannot starve the rest. 0, DM_EIO / DM_EUNAVAIL. */
int dm__ledger_pending_due(dm_db *db, dm_ledger_tx *out, int max, int *n, dm_err_t *err);

/* Set updated_at of a PENDING row to now (its own statement). 0, DM_EIO /
 * DM_EUNAVAIL. */
int dm__ledger_touch(dm_db *db, const char *tx_id, dm_err_t *err);

#endif
