/*
 * wallet_admin.c — the administrators' money operations (wallet_admin.h):
 * signed credit adjustments and the settlement of manual transfers, each
 * with its audit row in one transaction.
 */
#include "wallet/wallet_admin.h"

#include <string.h>

#include "accounts/users.h"
#include "wallet/ledger.h"

/* Who made a change, as the ledger row's metadata says it: the user sees
 * that row, so it names the role and not the person (the audit row, which
 * only administrators read, names them). New reference, NULL only when out
 * of memory. */
static json_t *by_administrator(void)
{
    return json_pack("{s:s}", "role", "ADMINISTRATOR");
}

int dm__wallet_adjust(dm_db *db, const dm_actor *actor, const char *user_id, int64_t amount, const char *reason,
                      json_t **tx, dm_err_t *err)
{
    dm_user who;
    *tx = NULL;
    int rc = dm__users_get(db, actor->user_id, &who, err);
    if (rc == 0)
        rc = dm__db_begin(db, err);
    if (rc != 0)
        return rc;
    json_t *meta = json_pack("{s:s,s:o}", "reason", reason, "by", by_administrator());
    dm_ledger_post p = { .user_id = user_id, .type = "ADJUSTMENT", .amount = amount, .description = reason,
                         .metadata = meta };
    rc = meta != NULL ? dm__ledger_post(db, &p, tx, err) : dm_err_set(err, DM_ENOMEM, "out of memory");
    json_decref(meta);
    if (rc == 0) {
        json_t *b = json_pack("{s:O}", "creditBalance", json_object_get(*tx, "balanceBefore"));
        json_t *a = json_pack("{s:O,s:O}", "creditBalance", json_object_get(*tx, "balanceAfter"), "transaction",
                              *tx);
        dm_audit_entry e = { .actor_id = who.id, .actor = who.email, .action = "wallet.adjust",
                             .target_type = "user", .target_id = user_id, .reason = reason,
                             .request_id = actor->request_id, .ip = actor->ip, .before = b, .after = a };
        rc = b != NULL && a != NULL ? dm__audit_write(db, &e, NULL, err)
                                    : dm_err_set(err, DM_ENOMEM, "out of memory");
        json_decref(b);
        json_decref(a);
    }
    rc = dm__db_end(db, rc, err);
    if (rc != 0) {
        if (*tx != NULL) {
            json_decref(*tx);
            *tx = NULL;
        }
    }
    return rc;
}

/* A manual top-up an administrator may settle, or 409 INVALID_STATE with
 * why not. 0; DM_ECONFLICT with the reason in err. */
static int settleable(const dm_ledger_tx *tx, dm_err_t *err)
{
    if (strcmp(tx->type, "TOPUP") != 0)
        return dm_err_set(err, DM_ECONFLICT, "only top-ups are confirmed or rejected; this is a %s", tx->type);
    if (strcmp(tx->gateway, "manual") != 0)
        return dm_err_set(err, DM_ECONFLICT, "the %s gateway confirms this top-up, not an administrator",
                          tx->gateway);
    if (strcmp(tx->status, "PENDING") != 0)
        return dm_err_set(err, DM_ECONFLICT, "the top-up is %s, not PENDING", tx->status);
    return 0;
}

int dm__wallet_settle_manual(dm_db *db, const dm_actor *actor, const char *ref, const char *status,
                             const char *reason, json_t **after, dm_err_t *err)
{
    dm_user who;
    dm_ledger_tx tx;
    json_t *before = NULL;
    *after = NULL;
    int rc = dm__users_get(db, actor->user_id, &who, err);
    if (rc == 0)
        rc = dm__db_begin(db, err);
    if (rc != 0)
        return rc;
    rc = dm__ledger_find(db, ref, NULL, true, &tx, err);
    rc = rc != 0 ? rc : settleable(&tx, err);
    rc = rc != 0 ? rc : dm__ledger_json(db, tx.id, &before, err);
    if (rc == 0) {
        json_t *note = json_pack("{s:o,s:s?}", "by", by_administrator(), "reason", reason);
        dm_settle_result res = 0;
        rc = note != NULL ? dm__ledger_settle(db, tx.id, status, note, &res, err)
                          : dm_err_set(err, DM_ENOMEM, "out of memory");
        json_decref(note);
        /* The row is locked and was PENDING, so anything else is a bug. */
        if (rc == 0 && res != DM_SETTLE_APPLIED)
            rc = dm_err_set(err, DM_EIO, "settle of a locked pending top-up did not apply (%d)", (int)res);
    }
    rc = rc != 0 ? rc : dm__ledger_json(db, tx.id, after, err);
    if (rc == 0) {
        bool ok = strcmp(status, "SUCCESS") == 0;
        dm_audit_entry e = { .actor_id = who.id, .actor = who.email,
                             .action = ok ? "wallet.topup.confirm" : "wallet.topup.reject",
                             .target_type = "transaction", .target_id = tx.id, .reason = reason,
                             .request_id = actor->request_id, .ip = actor->ip, .before = before, .after = *after };
        rc = dm__audit_write(db, &e, NULL, err);
    }
    json_decref(before);
    rc = dm__db_end(db, rc, err);
    if (rc != 0) {
        json_decref(*after);
        *after = NULL;
    }
    return rc;
}

