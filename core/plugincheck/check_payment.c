/*
 * check_payment.c — the payment contract, the part that needs no gateway:
 * methods() lists {id, name} objects, and a notification that is not the
 * gateway's (no signature, a body that is not the gateway's) is refused as
 * DM_EPERM or DM_EINVAL, never accepted (a gateway without notifications
 * answers DM_EUNSUPPORTED: skipped). create makes a payment for a fresh
 * order at the gateway the plugin's config names (point it at a simulator),
 * query_status finds it pending with the same order id and amount, and
 * cancel (when offered) makes it cancelled — both given the gateway's
 * reference that create returned.
 * --against is kept for the signed-notification round trip a gateway
 * simulator can offer (docs/plugins.md).
 */
#include <stdio.h>
#include <string.h>

#include "plugin/call.h"
#include "plugincheck/check.h"
#include "util/clock.h"

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

    const char *forged = "{\"order_id\":\"PLUGIN-CHECK-FORGED\",\"transaction_status\":\"settlement\","
                         "\"status\":\"PAID\",\"gross_amount\":\"10000.00\",\"amount\":10000}";
    const dm_http_header_t hdrs[] = { { "Content-Type", "application/json" } };
    dm_payment_event_t ev;
    memset(&ev, 0, sizeof ev);
    rc = dm__payment_verify_notification(p, hdrs, 1, forged, strlen(forged), &ev, &err);
    json_decref(ev.raw);
    if (rc == DM_EUNSUPPORTED)
        dm__check_skip(c, "payment forged notification refused", "no notifications: %s", err.msg);
    else
        dm__check_expect(c, rc == DM_EPERM || rc == DM_EINVAL, "payment forged notification refused",
                         "%s", rc == 0 ? "accepted a notification nobody signed" : err.msg);
    if (method == NULL) {
        json_decref(methods);
        return;
    }
    char order[64];
    snprintf(order, sizeof order, "PLUGIN-CHECK-%llu",
             (unsigned long long)(dm__clock_mono_ns() / 1000u));
    dm_payment_request_t req = { order, 10000, method, "Plugin Check", "check@example.com", 600,
                                 NULL };
    dm_payment_created_t made;
    memset(&made, 0, sizeof made);
    rc = dm__payment_create(p, &req, &made, &err);
    dm__check_expect(c, rc == 0, "payment create", "%s", rc == 0 ? made.gateway_ref : err.msg);
    json_decref(made.raw);
    json_decref(made.instructions);
    if (rc == 0) {
        /* status and cancel name the payment by the order id and the
         * gateway's reference from create (ABI 1.5). */
        memset(&ev, 0, sizeof ev);
        rc = dm__payment_query_status(p, order, made.gateway_ref, &ev, &err);
        if (rc == DM_EUNSUPPORTED)
            dm__check_skip(c, "payment status of the new order", "no one to ask: %s", err.msg);
        else
            dm__check_expect(c, rc == 0 && ev.status == DM_PAYMENT_PENDING && strcmp(ev.order_id, order) == 0 &&
                                    ev.amount == 10000,
                             "payment status of the new order", "%s",
                             rc != 0 ? err.msg : "pending, same order id and amount expected");
        json_decref(ev.raw);
        bool can_ask = rc == 0;
        rc = dm__payment_cancel(p, order, made.gateway_ref, &err);
        if (rc == DM_EUNSUPPORTED) {
            dm__check_skip(c, "payment cancel", "not supported");
        } else if (dm__check_expect(c, rc == 0, "payment cancel", "%s", rc == 0 ? "accepted" : err.msg) &&
                   can_ask) {
            memset(&ev, 0, sizeof ev);
            rc = dm__payment_query_status(p, order, made.gateway_ref, &ev, &err);
            dm__check_expect(c, rc == 0 && (ev.status == DM_PAYMENT_CANCELLED || ev.status == DM_PAYMENT_EXPIRED),
                             "payment status after cancel", "%s",
                             rc != 0 ? err.msg : "cancelled (or expired) expected");
            json_decref(ev.raw);
        }
    }
    json_decref(methods);
}
