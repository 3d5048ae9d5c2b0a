/*
 * webhook_routes.c — POST /api/wallet/webhooks/:gateway (public): a
 * gateway's notification handed to wallet.h's dm__wallet_webhook, its
 * outcome answered (docs/wallet.md has the table). It waits on the
 * gateway's status API, so it runs on the remote-call pool.
 */
#include "wallet/wallet_routes.h"

#include "app/app.h"
#include "http/response.h"
#include "http/router.h"
#include "wallet/wallet.h"

/* The request's headers in the SDK's shape (arena memory). */
static dm_http_header_t *sdk_headers(dm_request *r)
{
    dm_http_header_t *h = dm__arena_alloc(&r->arena, sizeof *h * (size_t)(r->n_headers + 1));
    for (int i = 0; h != NULL && i < r->n_headers; i++) {
        h[i].name = r->headers[i].name;
        h[i].value = r->headers[i].value;
    }
    return h;
}

/* The refusals: status, code and message by outcome. */
static const struct {
    int         status;
    const char *code;
    const char *message;
} refusals[] = {
    [DM_WEBHOOK_NO_GATEWAY] = { 404, "NOT_FOUND", "no such payment gateway" },
    [DM_WEBHOOK_NO_NOTIFICATIONS] = { 404, "NOT_FOUND", "this gateway sends no notifications" },
    [DM_WEBHOOK_BAD_SIGNATURE] = { 401, "INVALID_SIGNATURE", "the notification's signature is not valid" },
    [DM_WEBHOOK_MALFORMED] = { 400, "INVALID_NOTIFICATION", "the notification is malformed" },
    [DM_WEBHOOK_UNKNOWN_ORDER] = { 404, "NOT_FOUND", "no such order" },
    [DM_WEBHOOK_AMOUNT_MISMATCH] = { 400, "AMOUNT_MISMATCH", "the amount does not match the order" },
    [DM_WEBHOOK_RECORD_MISMATCH] = { 400, "AMOUNT_MISMATCH", "the gateway's record does not match the order" },
};

static void webhook(dm_request *r)
{
    const dm_http_header_t *h = sdk_headers(r);
    if (h == NULL) {
        dm__res_unavailable(r, "cannot process the notification now; retry");
        return;
    }
    dm_wallet_delivery d = { dm__req_param(r, "gateway"), h, (size_t)r->n_headers,
                             r->body != NULL ? r->body : "", r->body_len };
    dm_webhook_result res;
    dm__wallet_webhook(r->app, r->db, &d, &res);
    if (res.outcome == DM_WEBHOOK_APPLIED)
        dm__res_ok(r, 200, json_pack("{s:s,s:s}", "status", res.status, "verdict", res.verdict));
    else if (res.outcome == DM_WEBHOOK_RETRY)
        dm__res_unavailable(r, res.message);
    else
        dm__res_error(r, refusals[res.outcome].status, refusals[res.outcome].code, refusals[res.outcome].message,
                      NULL);
}

int dm__wallet_webhook_routes_add(dm_router *rt)
{
    return dm__router_add(rt, "POST", "/api/wallet/webhooks/:gateway", webhook, DM_ROUTE_POOL | DM_ROUTE_REMOTE);
}
