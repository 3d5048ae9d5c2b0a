/*
 * check_payment.c — the payment contract. Without a gateway: methods()
 * lists {id, name} objects, and a notification nobody signed is refused
 * (DM_EPERM or DM_EINVAL; a gateway without notifications answers
 * DM_EUNSUPPORTED: skipped). With the gateway the plugin's config names
 * (point it at a simulator): create makes a payment for a fresh order,
 * query finds it pending with the same order id and amount, cancel (when
 * offered) makes it cancelled — both given the gateway reference create
 * returned (ABI 1.5). With --against, the simulator's signed notifications
 * (POST <url>/__dermaga/notification {"reference","status"} answers
 * {"headers":{…},"body":"…"}, the notification the gateway would send): a
 * "paid" one maps to SUCCESS for the right order and amount, the same one
 * tampered with is refused, an unknown status is never taken as paid.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/call.h"
#include "plugin/host_api.h"
#include "plugincheck/check.h"
#include "util/clock.h"

#define AMOUNT 10000
#define MAX_SIM_HEADERS 16

static void forged_notification(dm_check *c, const dm_plugin *p)
{
    const char *forged = "{\"order_id\":\"PLUGIN-CHECK-FORGED\",\"transaction_status\":\"settlement\","
                         "\"status\":\"PAID\",\"gross_amount\":\"10000.00\",\"amount\":10000}";
    const dm_http_header_t hdrs[] = { { "Content-Type", "application/json" } };
    dm_payment_event_t ev;
    memset(&ev, 0, sizeof ev);
    dm_err_t err = { 0, "" };
    int rc = dm__payment_verify_notification(p, hdrs, 1, forged, strlen(forged), &ev, &err);
    json_decref(ev.raw);
    if (rc == DM_EUNSUPPORTED)
        dm__check_skip(c, "payment forged notification refused", "no notifications: %s", err.msg);
    else
        dm__check_expect(c, rc == DM_EPERM || rc == DM_EINVAL, "payment forged notification refused",
                         "%s", rc == 0 ? "accepted a notification nobody signed" : err.msg);
}

/* Create a payment for a fresh order; its id into order and the created
 * result into made. False when create failed (reported). */
static bool create(dm_check *c, const dm_plugin *p, const char *method, char *order, size_t cap,
                   dm_payment_created_t *made)
{
    snprintf(order, cap, "PLUGIN-CHECK-%llu", (unsigned long long)(dm__clock_mono_ns() / 1000u));
    dm_payment_request_t req = { order, AMOUNT, method, "Plugin Check", "check@example.com", 600, NULL };
    memset(made, 0, sizeof *made);
    dm_err_t err = { 0, "" };
    int rc = dm__payment_create(p, &req, made, &err);
    dm__check_expect(c, rc == 0, "payment create", "%s", rc == 0 ? made->gateway_ref : err.msg);
    json_decref(made->raw);
    json_decref(made->instructions);
    made->raw = made->instructions = NULL;
    return rc == 0;
}

/* Query order (by its gateway ref): want, or a skip when there is no one
 * to ask. False when the query could not be made. */
static bool expect_status(dm_check *c, const dm_plugin *p, const char *order, const char *ref,
                          uint32_t want, uint32_t also, const char *what)
{
    dm_payment_event_t ev;
    memset(&ev, 0, sizeof ev);
    dm_err_t err = { 0, "" };
    int rc = dm__payment_query_status(p, order, ref, &ev, &err);
    json_decref(ev.raw);
    if (rc == DM_EUNSUPPORTED) {
        dm__check_skip(c, what, "no one to ask: %s", err.msg);
        return false;
    }
    bool ok = rc == 0 && (ev.status == want || ev.status == also) && strcmp(ev.order_id, order) == 0 &&
              ev.amount == AMOUNT;
    dm__check_expect(c, ok, what, "%s", rc != 0 ? err.msg : ok ? "status, order id and amount as expected"
                                                               : "wrong status, order id or amount");
    return rc == 0;
}

static void status_and_cancel(dm_check *c, const dm_plugin *p, const char *method)
{
    char order[64];
    dm_payment_created_t made;
    if (!create(c, p, method, order, sizeof order, &made))
        return;
    bool can_ask = expect_status(c, p, order, made.gateway_ref, DM_PAYMENT_PENDING, DM_PAYMENT_PENDING,
                                 "payment status of the new order");
    dm_err_t err = { 0, "" };
    int rc = dm__payment_cancel(p, order, made.gateway_ref, &err);
    if (rc == DM_EUNSUPPORTED)
        dm__check_skip(c, "payment cancel", "not supported");
    else if (dm__check_expect(c, rc == 0, "payment cancel", "%s", rc == 0 ? "accepted" : err.msg) && can_ask)
        expect_status(c, p, order, made.gateway_ref, DM_PAYMENT_CANCELLED, DM_PAYMENT_EXPIRED,
                      "payment status after cancel");
}

/* The simulator's notification for order with status: *out = {"headers",
 * "body"} (new), or NULL with the reason in why. */
static json_t *ask_simulator(const dm_plugin *p, const char *against, const char *order,
                             const char *status, char *why, size_t cap)
{
    char url[1024];
    snprintf(url, sizeof url, "%s/__dermaga/notification", against);
    json_t *q = json_pack("{s:s, s:s}", "reference", order, "status", status);
    char *body = json_dumps(q, JSON_COMPACT);
    json_decref(q);
    const dm_http_header_t hdrs[] = { { "Content-Type", "application/json" } };
    dm_http_request_t req = { .size = sizeof req, .method = "POST", .url = url, .headers = hdrs,
                              .n_headers = 1, .body = body, .body_len = body != NULL ? strlen(body) : 0,
                              .timeout_ms = 10000 };
    dm_http_response_t *resp = NULL;
    dm_err_t err = { 0, "" };
    const dm_host_t *host = dm__plugin_host();
    int rc = body != NULL ? host->http_request(p->ctx, &req, &resp, &err) : DM_ENOMEM;
    free(body);
    json_t *n = rc == 0 && resp->status == 200 ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    if (n == NULL || !json_is_object(json_object_get(n, "headers")) ||
        !json_is_string(json_object_get(n, "body"))) {
        snprintf(why, cap, "%s answered %s", url, rc != 0 ? err.msg : resp->status == 200 ? "no {headers, body}"
                                                                                          : "not 200");
        json_decref(n);
        n = NULL;
    }
    host->http_response_free(resp);
    return n;
}

/* Verify the simulator's notification n (body replaced by body when not
 * NULL); the event into ev (raw released). */
static int verify(const dm_plugin *p, const json_t *n, const char *body, dm_payment_event_t *ev,
                  dm_err_t *err)
{
    dm_http_header_t hdrs[MAX_SIM_HEADERS];
    size_t nh = 0;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)json_object_get(n, "headers"), k, v) {
        if (nh < MAX_SIM_HEADERS && json_is_string(v))
            hdrs[nh++] = (dm_http_header_t){ k, json_string_value(v) };
    }
    if (body == NULL)
        body = json_string_value(json_object_get(n, "body"));
    memset(ev, 0, sizeof *ev);
    int rc = dm__payment_verify_notification(p, hdrs, nh, body, strlen(body), ev, err);
    json_decref(ev->raw);
    ev->raw = NULL;
    return rc;
}

static void signed_notifications(dm_check *c, const dm_plugin *p, const char *method, const char *against)
{
    char order[64], why[1200];
    dm_payment_created_t made;
    if (!create(c, p, method, order, sizeof order, &made))
        return;
    json_t *n = ask_simulator(p, against, order, "paid", why, sizeof why);
    if (n == NULL) {
        dm__check_fail(c, "payment notification from the simulator", "%s", why);
        return;
    }
    dm_payment_event_t ev;
    dm_err_t err = { 0, "" };
    int rc = verify(p, n, NULL, &ev, &err);
    dm__check_expect(c, rc == 0 && ev.status == DM_PAYMENT_SUCCESS && strcmp(ev.order_id, order) == 0 &&
                            ev.amount == AMOUNT,
                     "payment signed notification mapped", "%s",
                     rc != 0 ? err.msg : ev.status == DM_PAYMENT_SUCCESS ? "paid, right order and amount"
                                                                         : "not mapped to SUCCESS");
    /* The same notification with the amount changed: its signature no
     * longer holds (or, where the amount is not signed, it is no longer
     * the gateway's word). */
    char tampered[8192];
    const char *b = json_string_value(json_object_get(n, "body"));
    const char *at = strstr(b, "10000");
    snprintf(tampered, sizeof tampered, "%s", b);
    if (at != NULL && strlen(b) < sizeof tampered)
        tampered[at - b] = '9';
    else if (strlen(tampered) > 0)
        tampered[strlen(tampered) - 1] ^= 1;
    rc = verify(p, n, tampered, &ev, &err);
    dm__check_expect(c, rc == DM_EPERM || rc == DM_EINVAL, "payment tampered notification refused", "%s",
                     rc == 0 ? "accepted" : err.msg);
    json_decref(n);
    n = ask_simulator(p, against, order, "no-such-status", why, sizeof why);
    if (n == NULL) {
        dm__check_fail(c, "payment notification from the simulator", "%s", why);
        return;
    }
    rc = verify(p, n, NULL, &ev, &err);
    dm__check_expect(c, rc == DM_EINVAL || (rc == 0 && ev.status != DM_PAYMENT_SUCCESS),
                     "payment unknown status handled", "%s",
                     rc == DM_EINVAL ? err.msg : rc == 0 ? "not taken as paid" : err.msg);
    json_decref(n);
}

void dm__check_payment(dm_check *c, const dm_plugin *p, const dm_check_opts *o)
{
    fprintf(c->out, "---- payment contract\n");
    dm_err_t err = { 0, "" };
    json_t *methods = NULL;
    int rc = dm__payment_methods(p, &methods, &err);
    size_t i;
    const json_t *m;
    bool ok = rc == 0 && json_is_array(methods) && json_array_size(methods) > 0;
    json_array_foreach(ok ? methods : NULL, i, m) ok = ok && json_is_string(json_object_get(m, "id")) &&
                                                   json_is_string(json_object_get(m, "name"));
    dm__check_expect(c, ok, "payment methods", "%s",
                     rc != 0 ? err.msg : ok ? "{id, name} each" : "not a non-empty array of {id, name}");
    const char *method = ok ? json_string_value(json_object_get(json_array_get(methods, 0), "id")) : NULL;
    forged_notification(c, p);
    if (method != NULL) {
        status_and_cancel(c, p, method);
        if (o->against != NULL)
            signed_notifications(c, p, method, o->against);
        else
            dm__check_skip(c, "payment signed notifications", "give --against URL: a simulator answering "
                                                              "POST /__dermaga/notification");
    }
    json_decref(methods);
}
