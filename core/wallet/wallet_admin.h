/*
 * wallet_admin.h — the administrators' money operations, without HTTP:
 * signed credit adjustments, settling manual bank transfers, and the
 * statistics. Every change commits in one transaction with its audit row;
 * balances move only through ledger.h.
 */
#ifndef DM_WALLET_ADMIN_H
#define DM_WALLET_ADMIN_H

#include <stdint.h>

#include <jansson.h>

#include <dermaga/error.h>

#include "audit/audit.h"
#include "db/pg.h"

/* |amount| of one adjustment: a typo guard, far above any real correction. */
#define DM_WALLET_MAX_ADJUSTMENT 1000000000LL

/*
 * Move user_id's balance by amount (signed, not 0) as an ADJUSTMENT with
 * reason, audited as wallet.adjust by actor, in one transaction (nested in
 * the caller's unit of work when one is open). *tx the new ledger row
 * (new reference). 0; DM_ECONFLICT when the balance would go below zero;
 * DM_ENOTFOUND (no such user); the SQL codes. Nothing is written unless 0.
 */
int dm__wallet_adjust(dm_db *db, const dm_actor *actor, const char *user_id, int64_t amount, const char *reason,
                      json_t **tx, dm_err_t *err);

/*
 * Settle the manual top-up ref (uuid or TXMP id) as status (SUCCESS to
 * confirm and credit, FAILED to reject), with reason (may be NULL for a
 * confirmation), audited by actor, in one transaction. *after the settled
 * row (new reference). 0; DM_ENOTFOUND; DM_ECONFLICT when it is not a
 * pending manual top-up (err says why, for the client); the SQL codes.
 */
int dm__wallet_settle_manual(dm_db *db, const dm_actor *actor, const char *ref, const char *status,
                             const char *reason, json_t **after, dm_err_t *err);

/* Statistics over [from_ms, to_ms) by period "day", "week" or "month"
 * (wallet_stats.c; the caller checked the range): *out a new object
 * {period, from, to, users, wallet, revenue, topups}. 0, DM_EIO /
 * DM_EUNAVAIL. */
int dm__wallet_stats(dm_db *db, const char *period, int64_t from_ms, int64_t to_ms, json_t **out, dm_err_t *err);

#endif
