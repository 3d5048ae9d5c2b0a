/*
 * ledger.c — SQL for the ledger (ledger.h): guarded balance changes with
 * their rows, top-ups that wait for a gateway, forward-only settlement,
 * and reading rows back in the API shape. PostgreSQL builds the JSON
 * (TX_JSON) so every route shows a row the same way.
 */
#include "db/sql_time.h"
#include "wallet/ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/users.h"


/* One row as the API shows it; `t` is the transactions alias. */
#define TX_JSON                                                                                    \
    "json_build_object('id', t.id, 'customId', t.custom_id, 'userId', t.user_id, 'type', t.type, " \
    "'status', t.status, 'amount', t.amount, 'balanceBefore', t.balance_before, "                  \
    "'balanceAfter', t.balance_after, 'gateway', t.gateway, 'gatewayRef', t.gateway_ref, "        \
    "'paymentMethod', t.payment_method, 'description', t.description, 'metadata', t.metadata, "   \
    "'payment', t.payment, 'expiresAt', " DM_SQL_TS("t.expires_at") ", 'settledAt', " DM_SQL_TS("t.settled_at") \
    ", 'createdAt', " DM_SQL_TS("t.created_at") ", 'updatedAt', " DM_SQL_TS("t.updated_at") ")::text"

/* The optional filters of dm__ledger_list, $2..$6 (type, status, gateway,
 * from, to); the user is $1 in each statement's own spelling. */
#define LEDGER_FILTER                                                                         \
    "($2::text IS NULL OR t.type = $2) AND ($3::text IS NULL OR t.status = $3) "              \
    "AND ($4::text IS NULL OR t.gateway = $4) "                                                \
    "AND ($5::timestamptz IS NULL OR t.created_at >= $5::timestamptz) "                        \
    "AND ($6::timestamptz IS NULL OR t.created_at < $6::timestamptz)"

/* The fields dm_ledger_tx holds, in read_tx's order. */
#define TX_COLS "t.id, t.custom_id, t.user_id, t.type, t.status, coalesce(t.gateway, ''), " \
                "coalesce(t.gateway_ref, ''), t.amount"

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src != NULL ? src : "");
}

static void read_tx(const PGresult *r, int row, dm_ledger_tx *out)
{
    memset(out, 0, sizeof *out);
    copy(out->id, sizeof out->id, PQgetvalue(r, row, 0));
    copy(out->custom_id, sizeof out->custom_id, PQgetvalue(r, row, 1));
    copy(out->user_id, sizeof out->user_id, PQgetvalue(r, row, 2));
    copy(out->type, sizeof out->type, PQgetvalue(r, row, 3));
    copy(out->status, sizeof out->status, PQgetvalue(r, row, 4));
    copy(out->gateway, sizeof out->gateway, PQgetvalue(r, row, 5));
    copy(out->gateway_ref, sizeof out->gateway_ref, PQgetvalue(r, row, 6));
    out->amount = strtoll(PQgetvalue(r, row, 7), NULL, 10);
}

/* Parse a JSON text column; DM_EIO when PostgreSQL sent something odd. */
static int parse_json(const char *text, json_t **out, dm_err_t *err)
{
    *out = json_loads(text, 0, NULL);
    return *out != NULL ? 0 : dm_err_set(err, DM_EIO, "ledger: unreadable row JSON");
}

/* The error code of a failed exec (err already filled by pg.c). */
static int failed(dm_db *db, dm_err_t *err)
{
    if (strcmp(db->sqlstate, "23514") == 0)
        return dm_err_set(err, DM_EINVAL, "value refused by the ledger's checks");
    return dm__db_failed(err);
}

static bool valid_type(const char *t)
{
    static const char *const types[] = { "TOPUP", "SUBSCRIPTION", "UPGRADE", "RENEWAL",
                                         "REFUND", "ADJUSTMENT", "BONUS", NULL };
    for (int i = 0; t != NULL && types[i] != NULL; i++)
        if (strcmp(t, types[i]) == 0)
            return true;
    return false;
}

/* Whether amount has the sign type allows (mirrors transactions_amount_sign,
 * so a bad call is refused before the database sees it). */
static bool sign_ok(const char *type, int64_t amount)
{
    if (strcmp(type, "TOPUP") == 0 || strcmp(type, "REFUND") == 0)
        return amount > 0;
    if (strcmp(type, "BONUS") == 0)
        return amount >= 0;
    if (strcmp(type, "ADJUSTMENT") == 0)
        return amount != 0;
    return amount <= 0;
}

int dm__ledger_post(dm_db *db, const dm_ledger_post *p, json_t **tx_json, dm_err_t *err)
{
    if (!dm__users_valid_id(p->user_id))
        return dm_err_set(err, DM_ENOTFOUND, "no such user");
    if (!valid_type(p->type) || strcmp(p->type, "TOPUP") == 0 || !sign_ok(p->type, p->amount))
        return dm_err_set(err, DM_EINVAL, "ledger: amount %lld does not suit type %s", (long long)p->amount,
                          p->type != NULL ? p->type : "(none)");
    char amount[24];
    snprintf(amount, sizeof amount, "%lld", (long long)p->amount);
    char *meta = p->metadata != NULL ? json_dumps(p->metadata, JSON_COMPACT) : NULL;
    const char *params[] = { p->user_id, amount, p->type, p->description != NULL ? p->description : "",
                             meta != NULL ? meta : "{}" };
    /* One statement: the guarded UPDATE finds the row only when the balance
     * stays >= 0, and the INSERT takes its before/after from what the
     * UPDATE returned, so no other transaction can slip in between. */
    PGresult *r = dm__db_exec(
        db, "ledger_post",
        "WITH u AS (UPDATE users SET credit_balance = credit_balance + $2::bigint, updated_at = now() "
        "           WHERE id = $1::uuid AND credit_balance + $2::bigint >= 0 "
        "           RETURNING credit_balance) "
        "INSERT INTO transactions AS t (user_id, type, status, amount, balance_before, balance_after, "
        "                          description, metadata, settled_at) "
        "SELECT $1::uuid, $3, 'SUCCESS', $2::bigint, u.credit_balance - $2::bigint, u.credit_balance, $4, "
        "       $5::jsonb, now() FROM u "
        "RETURNING " TX_JSON,
        5, params, err);
    free(meta);
    if (r == NULL)
        return failed(db, err);
    int rc = 0;
    if (PQntuples(r) == 0) {
        PQclear(r);
        /* Which guard stopped it: a missing user, or the balance. */
        const char *q[] = { p->user_id };
        r = dm__db_exec(db, "ledger_user_exists", "SELECT 1 FROM users WHERE id = $1::uuid", 1, q, err);
        if (r == NULL)
            return failed(db, err);
        rc = PQntuples(r) == 0 ? dm_err_set(err, DM_ENOTFOUND, "no such user")
                               : dm_err_set(err, DM_ECONFLICT, "insufficient credits");
    } else if (tx_json != NULL) {
        rc = parse_json(PQgetvalue(r, 0, 0), tx_json, err);
    }
    PQclear(r);
    return rc;
}

int dm__ledger_topup_open(dm_db *db, const dm_ledger_topup *t, dm_ledger_tx *out, dm_err_t *err)
{
    if (!dm__users_valid_id(t->user_id) || t->amount <= 0 || t->gateway == NULL || t->expires_in_s <= 0)
        return dm_err_set(err, DM_EINVAL, "ledger: bad top-up");
    char amount[24], ttl[16];
    snprintf(amount, sizeof amount, "%lld", (long long)t->amount);
    snprintf(ttl, sizeof ttl, "%d", t->expires_in_s);
    const char *params[] = { t->user_id, amount, t->gateway, t->method, t->description != NULL ? t->description : "",
                             ttl };
    PGresult *r = dm__db_exec(
        db, "ledger_topup_open",
        "INSERT INTO transactions AS t (user_id, type, status, amount, gateway, payment_method, description, "
        "                          expires_at) "
        "VALUES ($1::uuid, 'TOPUP', 'PENDING', $2::bigint, $3, $4, $5, now() + make_interval(secs => $6::int)) "
        "RETURNING " TX_COLS,
        6, params, err);
    if (r == NULL)
        return strcmp(db->sqlstate, "23503") == 0 ? dm_err_set(err, DM_ENOTFOUND, "no such user") : failed(db, err);
    read_tx(r, 0, out);
    PQclear(r);
    return 0;
}

int dm__ledger_topup_attach(dm_db *db, const char *tx_id, const char *gateway_ref, const json_t *payment,
                            int64_t expires_at_ms, dm_err_t *err)
{
    char *pay = json_dumps(payment, JSON_COMPACT);
    char exp[24];
    snprintf(exp, sizeof exp, "%lld", (long long)expires_at_ms);
    const char *params[] = { tx_id, gateway_ref != NULL && gateway_ref[0] != '\0' ? gateway_ref : NULL,
                             pay != NULL ? pay : "{}", exp };
    PGresult *r = dm__db_exec(
        db, "ledger_topup_attach",
        "UPDATE transactions SET gateway_ref = coalesce($2, gateway_ref), payment = $3::jsonb, "
        "  expires_at = CASE WHEN $4::bigint > 0 THEN to_timestamp($4::bigint / 1000.0) ELSE expires_at END, "
        "  updated_at = now() "
        "WHERE id = $1::uuid AND status = 'PENDING' RETURNING id",
        4, params, err);
    free(pay);
    if (r == NULL)
        return failed(db, err);
    int rc = PQntuples(r) == 1 ? 0 : dm_err_set(err, DM_ENOTFOUND, "top-up is no longer pending");
    PQclear(r);
    return rc;
}

/* "TXMP-" followed by 1 to 18 digits. */
static bool is_custom_id(const char *ref)
{
    if (strncmp(ref, "TXMP-", 5) != 0)
        return false;
    size_t n = strlen(ref + 5);
    if (n == 0 || n > 18)
        return false;
    for (size_t i = 0; i < n; i++)
        if (ref[5 + i] < '0' || ref[5 + i] > '9')
            return false;
    return true;
}

int dm__ledger_find(dm_db *db, const char *ref, const char *user_id, bool lock, dm_ledger_tx *out,
                    dm_err_t *err)
{
    bool by_uuid = ref != NULL && dm__users_valid_id(ref);
    if (ref == NULL || (!by_uuid && !is_custom_id(ref)) || (user_id != NULL && !dm__users_valid_id(user_id)))
        return dm_err_set(err, DM_ENOTFOUND, "no such transaction");
    const char *params[] = { by_uuid ? ref : NULL, by_uuid ? NULL : ref, user_id };
    static const char *const names[] = { "ledger_find", "ledger_find_lock" };
    static const char *const sql[] = {
        "SELECT " TX_COLS " FROM transactions t WHERE (t.id = $1::uuid OR t.custom_id = $2) "
        "AND ($3::uuid IS NULL OR t.user_id = $3::uuid)",
        "SELECT " TX_COLS " FROM transactions t WHERE (t.id = $1::uuid OR t.custom_id = $2) "
        "AND ($3::uuid IS NULL OR t.user_id = $3::uuid) FOR UPDATE",
    };
    PGresult *r = dm__db_exec(db, names[lock], sql[lock], 3, params, err);
    if (r == NULL)
        return failed(db, err);
    int rc = 0;
    if (PQntuples(r) == 0)
        rc = dm_err_set(err, DM_ENOTFOUND, "no such transaction");
    else
        read_tx(r, 0, out);
    PQclear(r);
    return rc;
}

static bool final_status(const char *s)
{
    return strcmp(s, "SUCCESS") == 0 || strcmp(s, "FAILED") == 0 || strcmp(s, "CANCELLED") == 0
           || strcmp(s, "EXPIRED") == 0;
}

/* PENDING → status for the locked row tx; credits on SUCCESS with the same
 * guarded UPDATE as dm__ledger_post. */
static int move_forward(dm_db *db, const dm_ledger_tx *tx, const char *status, const json_t *note, dm_err_t *err)
{
    char *n = note != NULL ? json_dumps(note, JSON_COMPACT) : NULL;
    const char *params[] = { tx->id, status, n != NULL ? n : "null" };
    PGresult *r = dm__db_exec(
        db, "ledger_settle",
        "WITH u AS (UPDATE users SET credit_balance = credit_balance + t.amount, updated_at = now() "
        "           FROM transactions t WHERE t.id = $1::uuid AND users.id = t.user_id AND $2 = 'SUCCESS' "
        "             AND t.status = 'PENDING' "
        "           RETURNING users.credit_balance, t.amount) "
        "UPDATE transactions SET status = $2, settled_at = now(), updated_at = now(), "
        "  balance_before = (SELECT credit_balance - amount FROM u), "
        "  balance_after = (SELECT credit_balance FROM u), "
        "  metadata = CASE WHEN $3::jsonb = 'null'::jsonb THEN metadata "
        "                  ELSE metadata || jsonb_build_object('settlement', $3::jsonb) END "
        "WHERE id = $1::uuid AND status = 'PENDING' RETURNING id",
        3, params, err);
    free(n);
    if (r == NULL)
        return failed(db, err);
    int rc = PQntuples(r) == 1 ? 0 : dm_err_set(err, DM_EIO, "ledger: pending row changed under its lock");
    PQclear(r);
    return rc;
}

int dm__ledger_settle(dm_db *db, const char *tx_id, const char *status, const json_t *note,
                      dm_settle_result *result, dm_err_t *err)
{
    if (status == NULL || (!final_status(status) && strcmp(status, "PENDING") != 0))
        return dm_err_set(err, DM_EINVAL, "ledger: unknown status");
    dm_ledger_tx tx;
    int rc = dm__ledger_find(db, tx_id, NULL, true, &tx, err);
    if (rc != 0)
        return rc;
    if (strcmp(tx.type, "TOPUP") != 0)
        return dm_err_set(err, DM_EINVAL, "ledger: only top-ups are settled");
    if (strcmp(tx.status, status) == 0) {
        *result = DM_SETTLE_SAME;
        return 0;
    }
    if (strcmp(tx.status, "PENDING") != 0 || strcmp(status, "PENDING") == 0) {
        *result = DM_SETTLE_STALE;
        return 0;
    }
    rc = move_forward(db, &tx, status, note, err);
    if (rc == 0)
        *result = DM_SETTLE_APPLIED;
    return rc;
}

int dm__ledger_json(dm_db *db, const char *tx_id, json_t **out, dm_err_t *err)
{
    if (!dm__users_valid_id(tx_id))
        return dm_err_set(err, DM_ENOTFOUND, "no such transaction");
    const char *params[] = { tx_id };
    PGresult *r = dm__db_exec(db, "ledger_json", "SELECT " TX_JSON " FROM transactions t WHERE t.id = $1::uuid",
                              1, params, err);
    if (r == NULL)
        return failed(db, err);
    int rc = PQntuples(r) == 0 ? dm_err_set(err, DM_ENOTFOUND, "no such transaction")
                               : parse_json(PQgetvalue(r, 0, 0), out, err);
    PQclear(r);
    return rc;
}

static bool valid_status(const char *s)
{
    return strcmp(s, "PENDING") == 0 || final_status(s);
}

/* A filter value that must be valid before it reaches SQL; "" = unset. */
static const char *opt(const char *v)
{
    return v != NULL && v[0] != '\0' ? v : NULL;
}

int dm__ledger_list(dm_db *db, const dm_ledger_filter *f, long page, long limit, json_t **items, long *total,
                    dm_err_t *err)
{
    const char *user = opt(f->user_id), *type = opt(f->type), *status = opt(f->status);
    if (user != NULL && !dm__users_valid_id(user))
        return dm_err_set(err, DM_EINVAL, "userId: must be a user id");
    if (type != NULL && !valid_type(type))
        return dm_err_set(err, DM_EINVAL, "type: must be one of TOPUP, SUBSCRIPTION, UPGRADE, RENEWAL, "
                                          "REFUND, ADJUSTMENT, BONUS");
    if (status != NULL && !valid_status(status))
        return dm_err_set(err, DM_EINVAL, "status: must be one of PENDING, SUCCESS, FAILED, CANCELLED, EXPIRED");
    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%ld", limit);
    snprintf(off, sizeof off, "%ld", (page - 1) * limit);
    const char *params[] = { user, type, status, opt(f->gateway), opt(f->from), opt(f->to), lim, off };
    /* Two statements, each in a per-user and an any-user spelling: the
     * user's own list (the common case) then always filters on user_id, so
     * even a generic prepared plan walks transactions_user_idx; and the
     * JSON is built only for the page, not for every match (a window
     * count over a user with 10 000 rows made the page 20 times slower;
     * bench/wallet.sh). from/to are cast by PostgreSQL: a malformed one
     * fails with 22007/22008. */
    bool mine = user != NULL;
    PGresult *c = dm__db_exec(db, mine ? "ledger_count_user" : "ledger_count",
                              mine ? "SELECT count(*) FROM transactions t WHERE t.user_id = $1::uuid AND " LEDGER_FILTER
                                   : "SELECT count(*) FROM transactions t WHERE $1::uuid IS NULL AND " LEDGER_FILTER,
                              6, params, err);
    if (c == NULL) {
        if (strncmp(db->sqlstate, "22", 2) == 0)
            return dm_err_set(err, DM_EINVAL, "from/to: must be RFC 3339 times");
        return failed(db, err);
    }
    *total = strtol(PQgetvalue(c, 0, 0), NULL, 10);
    PQclear(c);
    PGresult *r = dm__db_exec(
        db, mine ? "ledger_page_user" : "ledger_page",
        mine ? "SELECT " TX_JSON " FROM (SELECT * FROM transactions t WHERE t.user_id = $1::uuid AND " LEDGER_FILTER
               " ORDER BY t.created_at DESC, t.custom_id DESC LIMIT $7::int OFFSET $8::int) t "
               "ORDER BY t.created_at DESC, t.custom_id DESC"
             : "SELECT " TX_JSON " FROM (SELECT * FROM transactions t WHERE $1::uuid IS NULL AND " LEDGER_FILTER
               " ORDER BY t.created_at DESC, t.custom_id DESC LIMIT $7::int OFFSET $8::int) t "
               "ORDER BY t.created_at DESC, t.custom_id DESC",
        8, params, err);
    if (r == NULL)
        return failed(db, err);
    *items = json_array();
    int rc = *items != NULL ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        json_t *row;
        rc = parse_json(PQgetvalue(r, i, 0), &row, err);
        if (rc == 0)
            json_array_append_new(*items, row);
    }
    PQclear(r);
    if (rc != 0) {
        json_decref(*items);
        *items = NULL;
    }
    return rc;
}

int dm__ledger_pending_due(dm_db *db, dm_ledger_tx *out, int max, int *n, dm_err_t *err)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", max);
    const char *params[] = { lim };
    PGresult *r = dm__db_exec(db, "ledger_pending_due",
                              "SELECT " TX_COLS " FROM transactions t "
                              "WHERE t.status = 'PENDING' AND t.expires_at <= now() "
                              "ORDER BY t.updated_at LIMIT $1::int",
                              1, params, err);
    if (r == NULL)
        return failed(db, err);
    *n = PQntuples(r);
    for (int i = 0; i < *n; i++)
        read_tx(r, i, &out[i]);
    PQclear(r);
    return 0;
}

int dm__ledger_touch(dm_db *db, const char *tx_id, dm_err_t *err)
{
    const char *p[] = { tx_id };
    return dm__db_run(db, "ledger_touch",
                      "UPDATE transactions SET updated_at = now() WHERE id = $1::uuid AND status = 'PENDING'", 1, p,
                      err);
}
