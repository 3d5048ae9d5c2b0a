/*
 * midtrans_wire.c — Midtrans's wire format for payment-midtrans: the Snap
 * create body, parsing of answers and notifications into a
 * dm_payment_event_t, amounts ("150000.00" → 150000) and the mapping of
 * transaction_status / fraud_status onto dm_payment_status_t.
 */
#include <stdio.h>
#include <string.h>

#include "midtrans.h"

/* Largest amount accepted from the gateway: far above any top-up, far
 * below INT64_MAX, so arithmetic on it never overflows. */
#define MAX_AMOUNT 1000000000000000LL

bool mt_order_id_ok(const char *id)
{
    size_t n = id != NULL ? strlen(id) : 0;
    if (n == 0 || n > MT_ORDER_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.' || c == '~';
        if (!ok)
            return false;
    }
    /* "." and ".." would be path segments, not ids. */
    return strcmp(id, ".") != 0 && strcmp(id, "..") != 0;
}

/* Add key = s to obj when s is a non-empty string. */
static int set_opt_str(json_t *obj, const char *key, const char *s)
{
    if (s == NULL || s[0] == '\0')
        return 0;
    return json_object_set_new(obj, key, json_string(s));
}

json_t *mt_snap_body(const dm_payment_request_t *req, long minutes, dm_err_t *err)
{
    json_t *body = json_pack("{s:{s:s, s:I}, s:{s:s, s:i}}", "transaction_details", "order_id",
                             req->order_id, "gross_amount", (json_int_t)req->amount, "expiry",
                             "unit", "minute", "duration", (int)minutes);
    if (body == NULL) {
        dm_err_set(err, DM_ENOMEM, "out of memory");
        return NULL;
    }
    int bad = 0;
    bool has_customer = (req->customer_name != NULL && req->customer_name[0] != '\0') ||
                        (req->customer_email != NULL && req->customer_email[0] != '\0');
    if (has_customer) {
        json_t *cust = json_object();
        bad |= cust == NULL;
        bad |= cust != NULL && set_opt_str(cust, "first_name", req->customer_name) != 0;
        bad |= cust != NULL && set_opt_str(cust, "email", req->customer_email) != 0;
        bad |= json_object_set_new(body, "customer_details", cust) != 0;
    }
    if (req->method != NULL && req->method[0] != '\0')
        bad |= json_object_set_new(body, "enabled_payments",
                                   json_pack("[s]", req->method)) != 0;
    if (req->finish_url != NULL && req->finish_url[0] != '\0')
        bad |= json_object_set_new(body, "callbacks",
                                   json_pack("{s:s}", "finish", req->finish_url)) != 0;
    if (bad) {
        /* json_pack and json_string refuse invalid UTF-8 as well. */
        json_decref(body);
        dm_err_set(err, DM_EINVAL, "payment-midtrans: customer name, email, method or finish "
                                   "URL is not valid UTF-8 (or out of memory)");
        return NULL;
    }
    return body;
}

int mt_parse_amount(const char *s, int64_t *out)
{
    if (s == NULL || s[0] < '0' || s[0] > '9')
        return DM_EINVAL;
    int64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (*p - '0');
        if (v > MAX_AMOUNT)
            return DM_EINVAL;
    }
    if (*p == '.') {
        p++;
        if (*p == '\0')
            return DM_EINVAL; /* "150000." is not a number Midtrans writes */
        for (; *p == '0'; p++)
            ;
    }
    if (*p != '\0')
        return DM_EINVAL; /* junk, or fractional Rupiah */
    *out = v;
    return 0;
}

int mt_map_status(const char *ts, const char *fraud, uint32_t *out)
{
    if (ts == NULL)
        return DM_EINVAL;
    if (strcmp(ts, "settlement") == 0) {
        *out = DM_PAYMENT_SUCCESS;
    } else if (strcmp(ts, "capture") == 0) {
        /* A card capture is money received unless fraud detection holds it
         * ("challenge": a person decides) or refused it. */
        if (fraud == NULL || strcmp(fraud, "accept") == 0)
            *out = DM_PAYMENT_SUCCESS;
        else if (strcmp(fraud, "challenge") == 0)
            *out = DM_PAYMENT_PENDING;
        else if (strcmp(fraud, "deny") == 0)
            *out = DM_PAYMENT_FAILED;
        else
            return DM_EINVAL;
    } else if (strcmp(ts, "pending") == 0 || strcmp(ts, "authorize") == 0) {
        *out = DM_PAYMENT_PENDING;
    } else if (strcmp(ts, "deny") == 0 || strcmp(ts, "failure") == 0) {
        *out = DM_PAYMENT_FAILED;
    } else if (strcmp(ts, "cancel") == 0) {
        *out = DM_PAYMENT_CANCELLED;
    } else if (strcmp(ts, "expire") == 0) {
        *out = DM_PAYMENT_EXPIRED;
    } else if (strcmp(ts, "refund") == 0 || strcmp(ts, "partial_refund") == 0) {
        *out = DM_PAYMENT_REFUNDED;
    } else {
        return DM_EINVAL;
    }
    return 0;
}

int mt_parse_object(const char *body, size_t body_len, json_t **out, dm_err_t *err)
{
    json_error_t je;
    *out = NULL;
    if (body == NULL || body_len == 0)
        return dm_err_set(err, DM_EINVAL, "payment-midtrans: empty body");
    /* Duplicate keys are refused: the signature covers the first
     * order_id, and nobody may slip a second one past it. */
    json_t *v = json_loadb(body, body_len, JSON_REJECT_DUPLICATES, &je);
    if (v == NULL)
        return dm_err_set(err, DM_EINVAL, "payment-midtrans: body is not JSON: %s", je.text);
    if (!json_is_object(v)) {
        json_decref(v);
        return dm_err_set(err, DM_EINVAL, "payment-midtrans: body is not a JSON object");
    }
    *out = v;
    return 0;
}

/* Copy the optional string field key of obj into dst (size len). */
static int copy_opt(const json_t *obj, const char *key, char *dst, size_t len, dm_err_t *err)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return dm_err_set(err, DM_EINVAL, "payment-midtrans: %s is not a string", key);
    if (json_string_length(v) >= len)
        return dm_err_set(err, DM_EINVAL, "payment-midtrans: %s is longer than %zu bytes", key,
                          len - 1);
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

int mt_fill_event(const json_t *obj, dm_payment_event_t *ev, dm_err_t *err)
{
    const char *order_id = json_string_value(json_object_get(obj, "order_id"));
    const char *ts = json_string_value(json_object_get(obj, "transaction_status"));
    const char *gross = json_string_value(json_object_get(obj, "gross_amount"));
    const json_t *fraud_v = json_object_get(obj, "fraud_status");
    if (order_id == NULL || !mt_order_id_ok(order_id))
        return dm_err_set(err, DM_EINVAL, "payment-midtrans: order_id missing or invalid");
    if (ts == NULL)
        return dm_err_set(err, DM_EINVAL, "payment-midtrans: transaction_status missing");
    if (fraud_v != NULL && !json_is_null(fraud_v) && !json_is_string(fraud_v))
        return dm_err_set(err, DM_EINVAL, "payment-midtrans: fraud_status is not a string");
    if (mt_parse_amount(gross, &ev->amount) != 0)
        return dm_err_set(err, DM_EINVAL,
                          "payment-midtrans: gross_amount missing or not whole Rupiah");
    if (mt_map_status(ts, json_string_value(fraud_v), &ev->status) != 0)
        return dm_err_set(err, DM_EINVAL,
                          "payment-midtrans: unknown transaction_status '%.40s' (fraud_status "
                          "'%.20s')",
                          ts, json_is_string(fraud_v) ? json_string_value(fraud_v) : "");
    snprintf(ev->order_id, sizeof ev->order_id, "%s", order_id); /* ≤ 50 bytes: fits */
    int rc = copy_opt(obj, "transaction_id", ev->gateway_ref, sizeof ev->gateway_ref, err);
    if (rc == 0)
        rc = copy_opt(obj, "payment_type", ev->method, sizeof ev->method, err);
    return rc;
}

void mt_error_text(const json_t *answer, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    const json_t *msgs = json_object_get(answer, "error_messages");
    size_t i;
    const json_t *m;
    json_array_foreach(msgs, i, m) {
        if (!json_is_string(m) || used >= len)
            continue;
        int n = snprintf(buf + used, len - used, "%s%s", used > 0 ? "; " : "",
                         json_string_value(m));
        used += n > 0 ? (size_t)n : 0;
    }
    if (used == 0) {
        const char *sm = json_string_value(json_object_get(answer, "status_message"));
        snprintf(buf, len, "%s", sm != NULL ? sm : "(no message)");
    }
}

long mt_body_status(const json_t *answer, long fallback)
{
    const char *s = json_string_value(json_object_get(answer, "status_code"));
    if (s == NULL || strlen(s) != 3)
        return fallback;
    long v = 0;
    for (int i = 0; i < 3; i++) {
        if (s[i] < '0' || s[i] > '9')
            return fallback;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}
