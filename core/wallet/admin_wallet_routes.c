/*
 * admin_wallet_routes.c — the administrators' money routes (docs/openapi.yaml,
 * Admin): signed credit adjustments, the whole ledger with filters, and
 * confirming or rejecting manual bank transfers, over wallet_admin.h. The
 * statistics route lives in admin_stats_routes.c.
 */
#include "wallet/wallet_routes.h"

#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "http/body_fields.h"
#include "http/json_body.h"
#include "http/response.h"
#include "http/router.h"
#include "util/rfc3339.h"
#include "wallet/ledger.h"
#include "wallet/wallet_admin.h"

/* |amount| of one adjustment: a typo guard, far above any real correction. */
#define MAX_ADJUSTMENT 1000000000LL

static void post_credits(dm_request *r)
{
    static const char *const fields[] = { "amount", "reason", NULL };
    long long amount;
    const char *reason;
    if (!dm__body_only(r, fields) || !dm__body_int(r, "amount", -DM_WALLET_MAX_ADJUSTMENT, DM_WALLET_MAX_ADJUSTMENT, &amount)
        || !dm__body_reason(r, true, &reason))
        return;
    if (amount == 0) {
        dm__body_invalid(r, "amount", "must not be 0");
        return;
    }
    json_t *tx = NULL;
    dm_err_t err = { 0 };
    dm_actor actor = { r->principal.id, r->request_id, dm__req_client_ip(r) };
    int rc = dm__wallet_adjust(r->db, &actor, dm__req_param(r, "id"), amount, reason, &tx, &err);
    if (rc == DM_ENOTFOUND) {
        dm__res_error(r, 404, "NOT_FOUND", "no such user", NULL);
    } else if (rc == DM_ECONFLICT) {
        dm__res_error(r, 409, "INSUFFICIENT_CREDITS", "the adjustment would take the balance below zero", NULL);
    } else if (rc != 0) {
        dm__res_failure(r, &err, "credit adjustment");
    } else {
        json_t *balance = json_object_get(tx, "balanceAfter");
        dm__res_ok(r, 201, json_pack("{s:o,s:O}", "transaction", tx, "balance", balance));
    }
}

/* ---- GET /api/admin/transactions ---------------------------------------- */

/* ^[a-z0-9][a-z0-9_-]{0,63}$, as the transactions.gateway CHECK. */
static bool gateway_name_ok(const char *g)
{
    size_t n = strlen(g);
    if (n == 0 || n > 64 || g[0] == '_' || g[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((g[i] >= 'a' && g[i] <= 'z') || (g[i] >= '0' && g[i] <= '9') || g[i] == '_' || g[i] == '-'))
            return false;
    return true;
}

/* ?name as a normalised RFC 3339 time in out (out[0] '\0' when absent);
 * false (400 set) when malformed. Normalising means PostgreSQL never sees
 * a spelling it would read differently. */
static bool query_time(dm_request *r, const char *name, char out[32])
{
    const char *v = dm__req_query(r, name);
    int64_t ms;
    out[0] = '\0';
    if (v == NULL || v[0] == '\0')
        return true;
    if (!dm__rfc3339_parse(v, &ms)) {
        dm__body_invalid(r, name, "must be an RFC 3339 date or date-time");
        return false;
    }
    dm__rfc3339_format(ms, out);
    return true;
}

/* 400 for a DM_EINVAL whose message reads "field: what is wrong". */
static void invalid_from_err(dm_request *r, const dm_err_t *err)
{
    const char *colon = strchr(err->msg, ':');
    char field[64];
    if (colon == NULL || (size_t)(colon - err->msg) >= sizeof field) {
        dm__body_invalid(r, "query", err->msg);
        return;
    }
    snprintf(field, sizeof field, "%.*s", (int)(colon - err->msg), err->msg);
    dm__body_invalid(r, field, colon[1] == ' ' ? colon + 2 : colon + 1);
}

static void list_transactions(dm_request *r)
{
    long page, limit, total = 0;
    char from[32], to[32];
    if (!dm__query_paging(r, &page, &limit) || !query_time(r, "from", from) || !query_time(r, "to", to))
        return;
    dm_ledger_filter f = { dm__req_query(r, "userId"), dm__req_query(r, "type"), dm__req_query(r, "status"),
                           dm__req_query(r, "gateway"), from, to };
    if (f.gateway != NULL && f.gateway[0] != '\0' && !gateway_name_ok(f.gateway)) {
        dm__body_invalid(r, "gateway", "must be a gateway name ([a-z0-9_-], up to 64)");
        return;
    }
    json_t *items = NULL;
    dm_err_t err = { 0 };
    int rc = dm__ledger_list(r->db, &f, page, limit, &items, &total, &err);
    if (rc == DM_EINVAL)
        invalid_from_err(r, &err);
    else if (rc != 0)
        dm__res_failure(r, &err, "list transactions");
    else
        dm__res_list(r, items, page, limit, total);
}

/* ---- POST /api/admin/transactions/:id/confirm|reject -------------------- */

/* The body {reason} of confirm (optional, and so is the body) or reject
 * (required). False (400/415 set) when malformed. */
static bool settle_body(dm_request *r, bool reason_required, const char **reason)
{
    static const char *const fields[] = { "reason", NULL };
    *reason = NULL;
    bool has_body = r->body != NULL && r->body_len > 0;
    if (!has_body && !reason_required)
        return true;
    if (!has_body) {
        dm__body_invalid(r, "reason", "is required");
        return false;
    }
    return dm__json_body_parse(r) && dm__body_only(r, fields) && dm__body_reason(r, reason_required, reason);
}

static void settle_route(dm_request *r, bool confirm)
{
    const char *reason;
    if (!settle_body(r, !confirm, &reason))
        return;
    json_t *tx = NULL;
    dm_err_t err = { 0 };
    dm_actor actor = { r->principal.id, r->request_id, dm__req_client_ip(r) };
    int rc = dm__wallet_settle_manual(r->db, &actor, dm__req_param(r, "id"), confirm ? "SUCCESS" : "FAILED", reason,
                                      &tx, &err);
    if (rc == DM_ENOTFOUND)
        dm__res_error(r, 404, "NOT_FOUND", "no such transaction", NULL);
    else if (rc == DM_ECONFLICT)
        dm__res_error(r, 409, "INVALID_STATE", err.msg, NULL);
    else if (rc != 0)
        dm__res_failure(r, &err, confirm ? "confirm top-up" : "reject top-up");
    else
        dm__res_ok(r, 200, tx);
}

static void confirm_topup(dm_request *r)
{
    settle_route(r, true);
}

static void reject_topup(dm_request *r)
{
    settle_route(r, false);
}

int dm__admin_wallet_routes_add(dm_router *rt)
{
    const unsigned admin = DM_ROUTE_POOL | DM_ROUTE_ADMIN;
    /* Routes that move money honour Idempotency-Key: a retried adjustment
     * or confirmation replays the first answer instead of applying twice. */
    const unsigned money = admin | DM_ROUTE_IDEMPOTENT;
    int rc = 0;
    rc = rc ? rc : dm__router_add(rt, "POST", "/api/admin/users/:id/credits", post_credits, money | DM_ROUTE_JSON);
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/admin/transactions", list_transactions, admin);
    rc = rc ? rc : dm__router_add(rt, "GET", "/api/admin/stats", dm__admin_wallet_stats, admin);
    /* No DM_ROUTE_JSON: a confirmation needs no body; settle_body parses
     * one when it is there. */
    rc = rc ? rc : dm__router_add(rt, "POST", "/api/admin/transactions/:id/confirm", confirm_topup, money);
    rc = rc ? rc : dm__router_add(rt, "POST", "/api/admin/transactions/:id/reject", reject_topup, admin);
    return rc;
}
