/*
 * wallet_gateway.c — gateway lookups, status re-reads and the one place a
 * gateway's word is turned into a ledger change (wallet_gateway.h).
 */
#include "wallet/wallet_gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/call.h"
#include "util/sha256.h"

const dm_plugin *dm__wallet_gateway(const dm_plugin_set *set, const char *name)
{
    if (set == NULL || name == NULL || name[0] == '\0' || strlen(name) > 48)
        return NULL;
    char plugin[64];
    snprintf(plugin, sizeof plugin, "payment-%s", name);
    return dm__plugins_find(set, DM_PLUGIN_PAYMENT, plugin);
}

const char *dm__wallet_status_name(uint32_t status)
{
    switch (status) {
    case DM_PAYMENT_PENDING:   return "PENDING";
    case DM_PAYMENT_SUCCESS:   return "SUCCESS";
    case DM_PAYMENT_FAILED:    return "FAILED";
    case DM_PAYMENT_CANCELLED: return "CANCELLED";
    case DM_PAYMENT_EXPIRED:   return "EXPIRED";
    default:                   return NULL; /* REFUNDED: refunds are ledger rows of their own */
    }
}

int dm__wallet_query(const dm_plugin *p, const dm_ledger_tx *tx, dm_payment_event_t *ev, dm_err_t *err)
{
    memset(ev, 0, sizeof *ev);
    if (p == NULL)
        return dm_err_set(err, DM_EUNSUPPORTED, "gateway %s is not enabled", tx->gateway);
    int rc = dm__payment_query_status(p, tx->custom_id, tx->gateway_ref, ev, err);
    if (rc != 0) {
        /* DM_EINVAL is ours to say (a record that does not match); the
         * plugin's own (it could not build the request) is a failure to
         * ask, so a notification is retried rather than refused. */
        if (rc == DM_EINVAL && err != NULL)
            err->code = DM_EIO;
        return rc == DM_EINVAL ? DM_EIO : rc;
    }
    /* A gateway answer about another order, or with another amount, is not
     * evidence about this one — nor is one that leaves either out: an
     * amount of 0 ("0.00") or a missing order id must not skip the check. */
    if (strcmp(ev->order_id, tx->custom_id) != 0 || ev->amount != tx->amount)
        return dm_err_set(err, DM_EINVAL, "gateway reports order %.64s for %lld, the ledger has %s for %lld",
                          ev->order_id, (long long)ev->amount, tx->custom_id, (long long)tx->amount);
    return 0;
}

int dm__wallet_cancel_at_gateway(const dm_plugin *p, const dm_ledger_tx *tx, dm_err_t *err)
{
    int rc = dm__payment_cancel(p, tx->custom_id, tx->gateway_ref, err);
    return rc == DM_EUNSUPPORTED ? 0 : rc;
}

/* Most of a notification body stored: real ones are a few KiB, and anyone
 * can post to the webhook, so the table must not take whatever
 * server.maxBodyBytes lets in (nor refuse it: that would be a 503). */
#define BODY_KEEP (64u * 1024u)

/* The body as text PostgreSQL accepts: itself when it is UTF-8 without
 * NUL bytes (what gateways send), cut after BODY_KEEP bytes (at a
 * character boundary) behind a marker, else a marker with the hex of its
 * first 4 KiB (the stored hash still identifies the original bytes). New
 * string. */
static char *storable_body(const char *body, size_t len)
{
    json_t *probe = memchr(body, '\0', len) == NULL ? json_stringn(body, len) : NULL;
    if (probe != NULL && len <= BODY_KEEP) {
        json_decref(probe);
        return strndup(body, len);
    }
    if (probe != NULL) {
        json_decref(probe);
        size_t keep = BODY_KEEP;
        while (keep > 0 && ((unsigned char)body[keep] & 0xC0) == 0x80)
            keep--; /* body[keep] starts the first character left out */
        size_t cap = 96 + keep;
        char *out = malloc(cap);
        if (out == NULL)
            return NULL;
        snprintf(out, cap, "(%zu bytes; the first %zu follow) %.*s", len, keep, (int)keep, body);
        return out;
    }
    size_t n = len < 4096 ? len : 4096, cap = 64 + 2 * n;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    int at = snprintf(out, cap, "(not UTF-8 text: %zu bytes; hex of the first %zu) ", len, n);
    for (size_t i = 0; i < n && at > 0 && (size_t)at + 3 <= cap; i++)
        at += snprintf(out + at, cap - (size_t)at, "%02x", (unsigned char)body[i]);
    return out;
}

/* n's body hash, computed on first use only: a body may be up to the
 * server's body limit and is looked up and stored under the same hash. */
static int body_hash(dm_wallet_notice *n, dm_err_t *err)
{
    if (n->body_sha256[0] != '\0')
        return 0;
    if (dm__sha256_hex(n->body, n->body_len, n->body_sha256) != 0)
        return dm_err_set(err, DM_EIO, "cannot hash notification");
    return 0;
}

int dm__wallet_notice_store(dm_db *db, dm_wallet_notice *n, dm_err_t *err)
{
    int hrc = body_hash(n, err);
    if (hrc != 0)
        return hrc;
    char *body = storable_body(n->body, n->body_len);
    if (body == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    const char *p[] = { n->gateway, n->order_id, n->tx_id, n->gateway_status, body, n->body_sha256, n->verdict,
                        n->detail };
    int rc = dm__db_run(db, "wallet_notice_store",
                        "INSERT INTO payment_notifications (gateway, order_id, transaction_id, gateway_status, body, "
                        "  body_sha256, verdict, detail) "
                        "VALUES ($1, left($2, 128), $3::uuid, left($4, 64), $5, $6, $7, left($8, 1000))",
                        8, p, err);
    free(body);
    return rc;
}

int dm__wallet_notice_seen(dm_db *db, dm_wallet_notice *n, bool *seen, dm_err_t *err)
{
    int hrc = body_hash(n, err);
    if (hrc != 0)
        return hrc;
    const char *p[] = { n->gateway, n->body_sha256 };
    PGresult *r = dm__db_exec(db, "wallet_notice_seen",
                              "SELECT 1 FROM payment_notifications WHERE gateway = $1 AND body_sha256 = $2 "
                              "AND verdict IN ('applied', 'duplicate') LIMIT 1",
                              2, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    *seen = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}

int dm__wallet_apply(dm_db *db, const dm_ledger_tx *tx, const char *status, const json_t *note,
                     dm_wallet_notice *notice, dm_settle_result *res, dm_err_t *err)
{
    int rc = dm__db_begin(db, err);
    if (rc != 0)
        return rc;
    rc = dm__ledger_settle(db, tx->id, status, note, res, err);
    if (rc == 0 && notice != NULL) {
        /* "duplicate" only for news already acted on: a notification that
         * found the payment still pending is looked at again if resent. */
        if (*res == DM_SETTLE_APPLIED)
            notice->verdict = "applied";
        else if (*res == DM_SETTLE_SAME && strcmp(status, "PENDING") != 0)
            notice->verdict = "duplicate";
        else
            notice->verdict = "stale";
        rc = dm__wallet_notice_store(db, notice, err);
    }
    rc = dm__db_end(db, rc, err);
    return rc;
}

int dm__wallet_notice_prune(dm_db *db, int keep_days, long *n, dm_err_t *err)
{
    char days[16];
    snprintf(days, sizeof days, "%d", keep_days);
    const char *p[] = { days };
    PGresult *r = dm__db_exec(db, "wallet_notice_prune",
                              "DELETE FROM payment_notifications WHERE transaction_id IS NULL "
                              "AND verdict IN ('bad_signature', 'malformed', 'unknown_order') "
                              "AND received_at < now() - make_interval(days => $1::int)",
                              1, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    if (n != NULL)
        *n = strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 0;
}
