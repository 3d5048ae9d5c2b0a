/*
 * midtrans.c — the payment-midtrans plugin: its descriptor and the payment
 * ops (methods, Snap create, notification verification, status query,
 * cancel, refund), each one blocking call through the host's HTTP client.
 * Configuration lives in midtrans_config.c, wire format in
 * midtrans_wire.c, crypto in midtrans_sign.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "midtrans.h"

#define MAX_ANSWER_BYTES (256u * 1024u) /* Midtrans answers are a few KiB */

/* One call to Midtrans. body may be NULL (GET, or a POST without one).
 * On success *resp is new (free with http_response_free), whatever its
 * status, and *answer is the body as a JSON object, or NULL when it is
 * not one. Transport trouble (timeout, refused, reset, oversized answer)
 * is DM_EUNAVAIL: to the host the gateway is simply down. */
static int call(const mt_state *st, const char *method, const char *url, const char *body,
                dm_http_response_t **resp, json_t **answer, dm_err_t *err)
{
    dm_http_header_t hdrs[] = {
        { "Accept", "application/json" },
        { "Content-Type", "application/json" },
        { "Authorization", st->auth_header },
    };
    dm_http_request_t req = {
        .size = sizeof req,
        .method = method,
        .url = url,
        .headers = hdrs,
        .n_headers = sizeof hdrs / sizeof hdrs[0],
        .body = body,
        .body_len = body != NULL ? strlen(body) : 0,
        .timeout_ms = st->timeout_ms,
        .connect_timeout_ms = st->timeout_ms,
        .max_response_bytes = MAX_ANSWER_BYTES,
    };
    *answer = NULL;
    dm_err_t herr;
    dm_err_clear(&herr);
    int rc = st->host->http_request(st->ctx, &req, resp, &herr);
    if (rc == DM_ENOMEM || rc == DM_EINVAL)
        return dm_err_set(err, rc, "payment-midtrans: %s", herr.msg);
    if (rc != 0)
        return dm_err_set(err, DM_EUNAVAIL, "payment-midtrans: Midtrans unreachable: %s",
                          herr.msg);
    json_t *v = json_loadb((*resp)->body, (*resp)->body_len, 0, NULL);
    if (json_is_object(v))
        *answer = v;
    else
        json_decref(v);
    return 0;
}

/* The code that decides a Core API answer: Midtrans usually answers HTTP
 * 200 and puts the real code in the body's status_code (sometimes it
 * mirrors it into the HTTP status too). A 401 or 5xx at the HTTP level
 * wins: that is the front door talking, not the transaction. */
static long effective_code(const dm_http_response_t *resp, const json_t *answer)
{
    if (resp->status == 401 || resp->status >= 500 || resp->status < 200)
        return resp->status;
    return mt_body_status(answer, resp->status);
}

/* The error for a Midtrans refusal with effective status code `code`
 * (HTTP status, or the status_code in the body where Midtrans puts it). */
static int refusal(long code, const json_t *answer, const char *what, dm_err_t *err)
{
    char why[160];
    mt_error_text(answer, why, sizeof why);
    if (code == 401)
        return dm_err_set(err, DM_EPERM, "payment-midtrans: %s: server key refused by Midtrans",
                          what);
    if (code == 404 && strcmp(what, "create") == 0)
        return dm_err_set(err, DM_EIO, "payment-midtrans: create: Snap endpoint not found "
                                       "(check snap_base_url)");
    if (code == 404)
        return dm_err_set(err, DM_ENOTFOUND, "payment-midtrans: %s: order not found at Midtrans",
                          what);
    if (code == 406 || code == 412)
        return dm_err_set(err, DM_ECONFLICT, "payment-midtrans: %s: %ld %s", what, code, why);
    if (code >= 500 && code <= 599)
        return dm_err_set(err, DM_EUNAVAIL, "payment-midtrans: %s: Midtrans answered %ld: %s",
                          what, code, why);
    if (code >= 400 && code <= 499)
        return dm_err_set(err, DM_EINVAL, "payment-midtrans: %s: Midtrans refused (%ld): %s",
                          what, code, why);
    return dm_err_set(err, DM_EIO, "payment-midtrans: %s: unexpected answer %ld: %s", what, code,
                      why);
}

/* *out = new array of {"id","name"}; a copy, so callers may keep it. */
static int mt_methods(void *state, json_t **out, dm_err_t *err)
{
    const mt_state *st = state;
    *out = json_deep_copy(st->methods);
    return *out != NULL ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
}

static bool method_offered(const mt_state *st, const char *id)
{
    size_t i;
    const json_t *m;
    json_array_foreach(st->methods, i, m) {
        if (strcmp(json_string_value(json_object_get(m, "id")), id) == 0)
            return true;
    }
    return false;
}

static int check_request(const mt_state *st, const dm_payment_request_t *req, long *minutes,
                         dm_err_t *err)
{
    if (!mt_order_id_ok(req->order_id))
        return dm_err_set(err, DM_EINVAL, "payment-midtrans: order id must be 1..50 of "
                                          "A-Z a-z 0-9 - _ . ~");
    if (req->amount <= 0 || req->amount > 999999999999LL)
        return dm_err_set(err, DM_EINVAL, "payment-midtrans: amount out of range");
    if (req->method != NULL && req->method[0] != '\0' && !method_offered(st, req->method))
        return dm_err_set(err, DM_EINVAL, "payment-midtrans: unknown payment method '%.40s'",
                          req->method);
    if (req->expires_in_s < 0 || req->expires_in_s > 366LL * 86400)
        return dm_err_set(err, DM_EINVAL, "payment-midtrans: expiry out of range");
    /* Snap counts whole minutes: round up so the user never gets less
     * time than the host promised. */
    *minutes = req->expires_in_s > 0 ? (long)((req->expires_in_s + 59) / 60) : st->expiry_minutes;
    return 0;
}

/* Fill out from a 201 answer; DM_EIO when it lacks what Snap promises. */
static int take_created(const mt_state *st, json_t *answer, long minutes, int64_t t0,
                        const char *order_id, dm_payment_created_t *out, dm_err_t *err)
{
    const char *token = json_string_value(json_object_get(answer, "token"));
    const char *url = json_string_value(json_object_get(answer, "redirect_url"));
    if (token == NULL || url == NULL || token[0] == '\0')
        return dm_err_set(err, DM_EIO, "payment-midtrans: Snap answered 201 without token and "
                                       "redirect_url");
    if (strlen(token) >= sizeof out->token || strlen(url) >= sizeof out->redirect_url)
        return dm_err_set(err, DM_EINVAL, "payment-midtrans: Snap token or redirect_url too long");
    memcpy(out->token, token, strlen(token) + 1);
    memcpy(out->redirect_url, url, strlen(url) + 1);
    snprintf(out->gateway_ref, sizeof out->gateway_ref, "%s", order_id); /* ≤ 50 bytes */
    out->expires_at_ms = t0 + (int64_t)minutes * 60000;
    if (st->client_key != NULL)
        json_object_set_new(answer, "client_key", json_string(st->client_key));
    out->raw = json_incref(answer);
    return 0;
}

/* Snap: POST {snap_base}/transactions; 201 {token, redirect_url}.
 * DM_EINVAL bad request or method, DM_EPERM key refused, DM_ECONFLICT
 * order id already used (Midtrans 406), DM_EUNAVAIL gateway down. */
static int mt_create(void *state, const dm_payment_request_t *req, dm_payment_created_t *out,
                     dm_err_t *err)
{
    const mt_state *st = state;
    long minutes = 0;
    int rc = check_request(st, req, &minutes, err);
    if (rc != 0)
        return rc;
    dm_err_t why;
    dm_err_clear(&why);
    json_t *body = mt_snap_body(req, minutes, &why);
    if (body == NULL)
        return dm_err_set(err, why.code, "%s", why.msg);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char url[2048];
    snprintf(url, sizeof url, "%s/transactions", st->snap_base);
    int64_t t0 = st->host->clock_wall_ms();
    dm_http_response_t *resp = NULL;
    json_t *answer = NULL;
    rc = text != NULL ? call(st, "POST", url, text, &resp, &answer, err)
                      : dm_err_set(err, DM_ENOMEM, "out of memory");
    free(text);
    /* Snap documents 201; a 200 carrying a token is taken as well. */
    if (rc == 0 && (resp->status == 201 || resp->status == 200) && answer != NULL)
        rc = take_created(st, answer, minutes, t0, req->order_id, out, err);
    else if (rc == 0)
        rc = refusal(resp->status, answer, "create", err);
    if (rc == DM_EPERM)
        st->host->log(st->ctx, DM_HOST_LOG_ERROR, "Snap refused the server key (HTTP 401)");
    json_decref(answer);
    st->host->http_response_free(resp);
    return rc;
}

/* headers unused: Midtrans signs the body. DM_EINVAL malformed, DM_EPERM
 * signature mismatch. out->raw is the parsed body. */
static int mt_verify(void *state, const dm_http_header_t *headers, size_t n_headers,
                     const char *body, size_t body_len, dm_payment_event_t *out, dm_err_t *err)
{
    const mt_state *st = state;
    json_t *obj = NULL;
    int rc = mt_parse_object(body, body_len, &obj, err);
    if (rc != 0)
        return rc;
    static const char *const need[] = { "order_id", "status_code", "gross_amount",
                                        "signature_key", "transaction_status" };
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        if (!json_is_string(json_object_get(obj, need[i]))) {
            json_decref(obj);
            return dm_err_set(err, DM_EINVAL, "payment-midtrans: notification lacks %s", need[i]);
        }
    }
    char expected[MT_SIG_HEX_LEN + 1];
    /* The strings exactly as received: "150000.00" and "150000" sign
     * differently, and Midtrans signed the former. */
    rc = mt_signature(st->host, json_string_value(json_object_get(obj, "order_id")),
                      json_string_value(json_object_get(obj, "status_code")),
                      json_string_value(json_object_get(obj, "gross_amount")), st->server_key,
                      expected);
    if (rc != 0)
        rc = dm_err_set(err, rc, "payment-midtrans: cannot compute the signature");
    else if (!mt_signature_equal(st->host, expected,
                                 json_string_value(json_object_get(obj, "signature_key"))))
        rc = dm_err_set(err, DM_EPERM, "payment-midtrans: notification signature mismatch");
    else
        rc = mt_fill_event(obj, out, err);
    if (rc == 0)
        out->raw = obj;
    else
        json_decref(obj);
    return rc;
}

/* The answer of GET /v2/{id}/status into out. A signature in it is
 * checked too: an answer that fails it did not come from Midtrans. */
static int take_status(const mt_state *st, json_t *answer, const char *order_id,
                       dm_payment_event_t *out, dm_err_t *err)
{
    const char *sig = json_string_value(json_object_get(answer, "signature_key"));
    const char *code = json_string_value(json_object_get(answer, "status_code"));
    const char *gross = json_string_value(json_object_get(answer, "gross_amount"));
    if (sig != NULL && code != NULL && gross != NULL) {
        char expected[MT_SIG_HEX_LEN + 1];
        if (mt_signature(st->host, order_id, code, gross, st->server_key, expected) != 0)
            return dm_err_set(err, DM_EIO, "payment-midtrans: cannot compute the signature");
        if (!mt_signature_equal(st->host, expected, sig))
            return dm_err_set(err, DM_EIO, "payment-midtrans: status answer signature mismatch");
    }
    dm_err_t why;
    dm_err_clear(&why);
    int rc = mt_fill_event(answer, out, &why);
    if (rc != 0)
        return dm_err_set(err, rc == DM_EINVAL ? DM_EIO : rc,
                          "payment-midtrans: malformed status answer (%s)", why.msg);
    if (rc == 0 && strcmp(out->order_id, order_id) != 0)
        return dm_err_set(err, DM_EIO, "payment-midtrans: status answer is for another order");
    if (rc == 0)
        out->raw = json_incref(answer);
    return rc;
}

/* What the /v2 endpoints are asked about: the reference create returned
 * (or a host newer than 1.5 put there), since Midtrans takes a transaction
 * id as well as an order id in the path; the order id when there is none. */
static const char *v2_id(const dm_payment_order_t *order)
{
    return order->gateway_ref != NULL && order->gateway_ref[0] != '\0' ? order->gateway_ref : order->order_id;
}

/* GET {api_base}/v2/{ref}/status. DM_EINVAL reference not path-safe,
 * DM_ENOTFOUND unknown order, DM_EPERM key refused, DM_EUNAVAIL gateway
 * down, DM_EIO an answer that makes no sense (about another order too). */
static int mt_query(void *state, const dm_payment_order_t *order, dm_payment_event_t *out, dm_err_t *err)
{
    const mt_state *st = state;
    const char *id = v2_id(order);
    if (!mt_order_id_ok(id) || !mt_order_id_ok(order->order_id))
        return dm_err_set(err, DM_EINVAL, "payment-midtrans: invalid order id or reference");
    char url[2048];
    snprintf(url, sizeof url, "%s/v2/%s/status", st->api_base, id);
    dm_http_response_t *resp = NULL;
    json_t *answer = NULL;
    int rc = call(st, "GET", url, NULL, &resp, &answer, err);
    if (rc != 0)
        return rc;
    long code = effective_code(resp, answer);
    /* 407 is "expired": still an answer about the transaction. */
    if (answer != NULL && ((code >= 200 && code <= 299) || code == 407))
        rc = take_status(st, answer, order->order_id, out, err);
    else
        rc = refusal(code, answer, "status", err);
    json_decref(answer);
    st->host->http_response_free(resp);
    return rc;
}

/* POST {api_base}/v2/{ref}/<verb> with body (may be NULL); 0 when the
 * body's status_code is 200. */
static int post_v2(const mt_state *st, const dm_payment_order_t *order, const char *verb, const char *body,
                   dm_err_t *err)
{
    const char *id = v2_id(order);
    if (!mt_order_id_ok(id))
        return dm_err_set(err, DM_EINVAL, "payment-midtrans: invalid order id or reference");
    char url[2048];
    snprintf(url, sizeof url, "%s/v2/%s/%s", st->api_base, id, verb);
    dm_http_response_t *resp = NULL;
    json_t *answer = NULL;
    int rc = call(st, "POST", url, body, &resp, &answer, err);
    if (rc != 0)
        return rc;
    long code = effective_code(resp, answer);
    if (code != 200)
        rc = refusal(code, answer, verb, err);
    json_decref(answer);
    st->host->http_response_free(resp);
    return rc;
}

/* Cancel a pending payment. DM_ECONFLICT when Midtrans says it can no
 * longer change (412: settled, expired, already cancelled). */
static int mt_cancel(void *state, const dm_payment_order_t *order, dm_err_t *err)
{
    return post_v2(state, order, "cancel", NULL, err);
}

/* Refund amount Rupiah of a settled payment (POST /v2/{id}/refund).
 * DM_ECONFLICT when not refundable (412), DM_EINVAL bad amount. */
static int mt_refund(void *state, const dm_payment_order_t *order, int64_t amount, const char *reason,
                     dm_err_t *err)
{
    if (amount <= 0)
        return dm_err_set(err, DM_EINVAL, "payment-midtrans: refund amount must be positive");
    json_t *body = json_pack("{s:I}", "amount", (json_int_t)amount);
    if (body != NULL && reason != NULL && reason[0] != '\0' &&
        json_object_set_new(body, "reason", json_string(reason)) != 0) {
        json_decref(body);
        return dm_err_set(err, DM_EINVAL, "payment-midtrans: refund reason is not UTF-8");
    }
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    int rc = post_v2(state, order, "refund", text, err);
    free(text);
    return rc;
}

static const dm_payment_ops_t ops = {
    .methods = mt_methods,
    .create = mt_create,
    .verify_notification = mt_verify,
    .query_order = mt_query,
    .cancel_order = mt_cancel,
    .refund_order = mt_refund,
};

static const dm_plugin_info_t info = {
    DM_PLUGIN_HEADER,
    .name = "payment-midtrans",
    .version = "1.0.0",
    .kind = DM_PLUGIN_PAYMENT,
    .init = mt_init,
    .fini = mt_fini,
    DM_PLUGIN_OPS(ops),
    .config_keys = mt_conf_keys,
    .description = "Midtrans Snap: QRIS, e-wallets, virtual accounts (signed notifications)",
};

DM_PLUGIN_ENTRY(info)
