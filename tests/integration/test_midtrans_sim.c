/*
 * test_midtrans_sim.c — the Midtrans simulator (tests/fakes/midtrans_sim.h)
 * checked over raw HTTP, so other tests can trust it: Basic auth (401),
 * Snap create validation (400 on a non-integer gross_amount, 406 on a
 * reused order_id), status / cancel / refund answers with Midtrans's
 * status codes and signature, failure injection, hangs released at stop,
 * and the notifier.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"
#include "e2e.h"
#include "midtrans_sim.h"

#define GOOD_AUTH "Basic azE6" /* base64("k1:") */

/* A raw request to the sim; auth NULL = none. */
static void sim_request(dm_midtrans_sim *sim, const char *method, const char *path,
                        const char *auth, const char *body, dm_e2e_response *res)
{
    char req[4096];
    size_t blen = body != NULL ? strlen(body) : 0;
    snprintf(req, sizeof req,
             "%s %s HTTP/1.1\r\nHost: x\r\n%s%s%sContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             method, path, auth != NULL ? "Authorization: " : "", auth != NULL ? auth : "",
             auth != NULL ? "\r\n" : "", blen, body != NULL ? body : "");
    dm_e2e_roundtrip_ok(dm_midtrans_sim_port(sim), req, res);
}

START_TEST(simulator_wire_behaviour)
{
    dm_midtrans_sim *sim = dm_midtrans_sim_start("k1");
    ck_assert_msg(sim != NULL, "simulator did not start");
    const char *good = GOOD_AUTH;
    const char *body = "{\"transaction_details\":{\"order_id\":\"A-1\",\"gross_amount\":10000}}";
    dm_e2e_response res;

    sim_request(sim, "POST", "/snap/v1/transactions", "Basic d3Jvbmc6", body, &res);
    ck_assert_int_eq(res.status, 401);
    json_t *j = dm_e2e_json(&res);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status_code")), "401");
    ck_assert_msg(json_array_size(json_object_get(j, "error_messages")) > 0, "no error_messages");
    json_decref(j);
    dm_e2e_response_free(&res);
    sim_request(sim, "GET", "/v2/A-1/status", NULL, NULL, &res);
    ck_assert_int_eq(res.status, 401);
    dm_e2e_response_free(&res);
    ck_assert_int_eq(dm_midtrans_sim_counters(sim).auth_failures, 2);

    sim_request(sim, "POST", "/snap/v1/transactions", good,
                "{\"transaction_details\":{\"order_id\":\"A-2\",\"gross_amount\":10000.5}}", &res);
    ck_assert_msg(res.status == 400 && strstr(res.body, "gross_amount") != NULL,
                  "fractional gross_amount: %d %s", res.status, res.body);
    dm_e2e_response_free(&res);
    sim_request(sim, "POST", "/snap/v1/transactions", good,
                "{\"transaction_details\":{\"order_id\":\"A-2\",\"gross_amount\":\"10000\"}}",
                &res);
    ck_assert_msg(res.status == 400, "string gross_amount: %d %s", res.status, res.body);
    dm_e2e_response_free(&res);
    sim_request(sim, "POST", "/snap/v1/transactions", good,
                "{\"transaction_details\":{\"order_id\":\"A-2\"}}", &res);
    ck_assert_msg(res.status == 400, "missing gross_amount: %d %s", res.status, res.body);
    dm_e2e_response_free(&res);

    sim_request(sim, "POST", "/snap/v1/transactions", good, body, &res);
    ck_assert_msg(res.status == 201, "create: %d %s", res.status, res.body);
    j = dm_e2e_json(&res);
    ck_assert_msg(json_is_string(json_object_get(j, "token")) &&
                      json_is_string(json_object_get(j, "redirect_url")),
                  "201 without token/redirect_url: %s", res.body);
    json_decref(j);
    dm_e2e_response_free(&res);
    sim_request(sim, "POST", "/snap/v1/transactions", good, body, &res);
    ck_assert_msg(res.status == 406, "reused order_id: %d %s", res.status, res.body);
    dm_e2e_response_free(&res);

    sim_request(sim, "GET", "/v2/A-1/status", good, NULL, &res);
    ck_assert_int_eq(res.status, 200);
    j = dm_e2e_json(&res);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status_code")), "201");
    ck_assert_str_eq(json_string_value(json_object_get(j, "transaction_status")), "pending");
    ck_assert_str_eq(json_string_value(json_object_get(j, "gross_amount")), "10000.00");
    char *sig = dm_midtrans_sim_signature("A-1", "201", "10000.00", "k1");
    ck_assert_str_eq(json_string_value(json_object_get(j, "signature_key")), sig);
    free(sig);
    json_decref(j);
    dm_e2e_response_free(&res);
    sim_request(sim, "GET", "/v2/B-9/status", good, NULL, &res);
    j = dm_e2e_json(&res);
    ck_assert_msg(res.status == 200 &&
                      strcmp(json_string_value(json_object_get(j, "status_code")), "404") == 0,
                  "unknown order: %d %s", res.status, res.body);
    json_decref(j);
    dm_e2e_response_free(&res);

    /* The notifier reaches a server and reports its status (here the sim
     * itself, which wants auth: 401). */
    int status = 0;
    ck_assert_int_eq(dm_midtrans_sim_notify(sim, dm_midtrans_sim_port(sim), "/api/wallet/webhooks/midtrans", "A-1",
                                            "settlement", 0, &status), 0);
    ck_assert_int_eq(status, 401);
    dm_midtrans_sim_order_t o;
    ck_assert_msg(dm_midtrans_sim_order(sim, "A-1", &o), "order A-1 gone");
    ck_assert_str_eq(o.transaction_status, "settlement");
    ck_assert_int_eq(dm_midtrans_sim_counters(sim).notifications, 1);
    char *forged = dm_midtrans_sim_notification(sim, "A-1", "expire", DM_MIDTRANS_FORGED);
    dm_midtrans_sim_order(sim, "A-1", &o);
    ck_assert_msg(strcmp(o.transaction_status, "settlement") == 0,
                  "a forged notification must not change the gateway's state");
    free(forged);
    dm_midtrans_sim_stop(sim);
}
END_TEST


static json_t *status_of(dm_midtrans_sim *sim, const char *id, int *http)
{
    char path[128];
    snprintf(path, sizeof path, "/v2/%s/status", id);
    dm_e2e_response res;
    sim_request(sim, "GET", path, GOOD_AUTH, NULL, &res);
    *http = res.status;
    json_t *j = dm_e2e_json(&res);
    dm_e2e_response_free(&res);
    ck_assert_msg(j != NULL, "status answer for %s is not JSON", id);
    return j;
}

static const char *field(const json_t *j, const char *k)
{
    const char *v = json_string_value(json_object_get(j, k));
    return v != NULL ? v : "(absent)";
}

START_TEST(simulator_cancel_refund_codes)
{
    dm_midtrans_sim *sim = dm_midtrans_sim_start("k1");
    ck_assert_msg(sim != NULL, "simulator did not start");
    ck_assert_int_eq(dm_midtrans_sim_add_order(sim, "C-1", 50000, "gopay"), 0);
    ck_assert_int_eq(dm_midtrans_sim_add_order(sim, "C-1", 50000, "gopay"), -1);
    dm_e2e_response res;
    sim_request(sim, "POST", "/v2/C-1/refund", GOOD_AUTH, "{\"amount\":100}", &res);
    json_t *j = dm_e2e_json(&res);
    ck_assert_msg(res.status == 200 && strcmp(field(j, "status_code"), "412") == 0,
                  "refund of a pending order: %d %s", res.status, res.body);
    json_decref(j);
    dm_e2e_response_free(&res);
    sim_request(sim, "POST", "/v2/C-1/cancel", GOOD_AUTH, NULL, &res);
    j = dm_e2e_json(&res);
    ck_assert_msg(strcmp(field(j, "status_code"), "200") == 0 &&
                      strcmp(field(j, "transaction_status"), "cancel") == 0,
                  "cancel pending: %s", res.body);
    json_decref(j);
    dm_e2e_response_free(&res);
    sim_request(sim, "POST", "/v2/C-1/cancel", GOOD_AUTH, NULL, &res);
    j = dm_e2e_json(&res);
    ck_assert_msg(strcmp(field(j, "status_code"), "412") == 0, "cancel twice: %s", res.body);
    json_decref(j);
    dm_e2e_response_free(&res);

    const struct { const char *ts, *fraud, *code; } codes[] = {
        { "settlement", "accept", "200" }, { "pending", "", "201" },
        { "capture", "challenge", "201" }, { "deny", "", "202" },
        { "expire", "", "407" },           { "cancel", "", "200" },
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        dm_midtrans_sim_set_status(sim, "C-1", codes[i].ts, codes[i].fraud);
        int http = 0;
        j = status_of(sim, "C-1", &http);
        ck_assert_msg(http == 200 && strcmp(field(j, "status_code"), codes[i].code) == 0 &&
                          strcmp(field(j, "transaction_status"), codes[i].ts) == 0,
                      "%s: HTTP %d status_code %s, want %s", codes[i].ts, http,
                      field(j, "status_code"), codes[i].code);
        json_decref(j);
    }
    dm_midtrans_sim_set_http_mirror(sim, true);
    int http = 0;
    j = status_of(sim, "nope", &http);
    ck_assert_msg(http == 404 && strcmp(field(j, "status_code"), "404") == 0,
                  "mirrored unknown order: HTTP %d", http);
    json_decref(j);
    dm_midtrans_sim_counters_t c = dm_midtrans_sim_counters(sim);
    ck_assert_int_eq(c.cancels, 2);
    ck_assert_int_eq(c.refunds, 1);
    ck_assert_int_eq(c.status_queries, 7);
    ck_assert_int_eq(dm_midtrans_sim_set_status(sim, "nope", "settlement", NULL), -1);
    dm_midtrans_sim_stop(sim);
}
END_TEST

START_TEST(simulator_injected_failures)
{
    dm_midtrans_sim *sim = dm_midtrans_sim_start("k1");
    ck_assert_msg(sim != NULL, "simulator did not start");
    dm_midtrans_sim_fail_next(sim, 2, 503);
    dm_e2e_response res;
    for (int i = 0; i < 2; i++) {
        sim_request(sim, "GET", "/v2/X/status", GOOD_AUTH, NULL, &res);
        ck_assert_msg(res.status == 503, "injected failure %d: %d", i, res.status);
        dm_e2e_response_free(&res);
    }
    sim_request(sim, "GET", "/v2/X/status", GOOD_AUTH, NULL, &res);
    ck_assert_msg(res.status == 200, "after the injected failures: %d", res.status);
    dm_e2e_response_free(&res);

    /* A hung request gets nothing; stop releases it promptly. */
    dm_midtrans_sim_hang_next(sim, 1);
    dm_e2e_conn c;
    ck_assert_int_eq(dm_e2e_connect(&c, dm_midtrans_sim_port(sim)), 0);
    dm_e2e_send_ok(&c, "GET /v2/X/status HTTP/1.1\r\nHost: x\r\n\r\n");
    ck_assert_msg(!dm_e2e_readable(&c, 300), "a hung request was answered");
    ck_assert_int_eq(dm_midtrans_sim_counters(sim).injected, 3);
    long long t0 = dm_e2e_now_ms();
    dm_midtrans_sim_stop(sim);
    ck_assert_msg(dm_e2e_now_ms() - t0 < 3000, "stop waited %lld ms on a hung request",
                  dm_e2e_now_ms() - t0);
    ck_assert_int_eq(dm_e2e_wait_closed(&c, 2000), 0);
    dm_e2e_close(&c);
}
END_TEST

START_TEST(simulator_wrong_amount_and_unknown_notifications)
{
    dm_midtrans_sim *sim = dm_midtrans_sim_start("k1");
    ck_assert_msg(sim != NULL, "simulator did not start");
    ck_assert_int_eq(dm_midtrans_sim_add_order(sim, "N-1", 75000, NULL), 0);
    char *s = dm_midtrans_sim_notification(sim, "N-1", "settlement",
                                           DM_MIDTRANS_WRONG_AMOUNT | DM_MIDTRANS_KEEP_STATUS);
    json_t *j = json_loads(s, 0, NULL);
    ck_assert_str_eq(field(j, "gross_amount"), "76000.00");
    char *sig = dm_midtrans_sim_signature("N-1", "200", "76000.00", "k1");
    ck_assert_str_eq(field(j, "signature_key"), sig);
    free(sig);
    dm_midtrans_sim_order_t o;
    dm_midtrans_sim_order(sim, "N-1", &o);
    ck_assert_msg(strcmp(o.transaction_status, "pending") == 0, "KEEP_STATUS changed the order");
    json_decref(j);
    free(s);
    s = dm_midtrans_sim_notification(sim, "N-1", "settlement", DM_MIDTRANS_UNSIGNED);
    j = json_loads(s, 0, NULL);
    ck_assert_msg(json_object_get(j, "signature_key") == NULL, "UNSIGNED has a signature");
    json_decref(j);
    free(s);
    s = dm_midtrans_sim_notification(sim, "GHOST-1", "settlement", 0);
    j = json_loads(s, 0, NULL);
    ck_assert_str_eq(field(j, "gross_amount"), "10000.00");
    ck_assert_msg(!dm_midtrans_sim_order(sim, "GHOST-1", &o), "an unknown order was created");
    json_decref(j);
    free(s);
    dm_midtrans_sim_stop(sim);
}
END_TEST

/* The steering used by the expiry and re-read tests of the wallet. */
START_TEST(simulator_pay_before_cancel_and_status_amount)
{
    dm_midtrans_sim *sim = dm_midtrans_sim_start("k1");
    ck_assert_msg(sim != NULL, "simulator did not start");
    ck_assert_int_eq(dm_midtrans_sim_add_order(sim, "B-1", 25000, "bank_transfer"), 0);
    dm_midtrans_sim_set_status_amount(sim, 0);
    dm_e2e_response res;
    sim_request(sim, "GET", "/v2/B-1/status", GOOD_AUTH, NULL, &res);
    json_t *j = dm_e2e_json(&res);
    ck_assert_str_eq(json_string_value(json_object_get(j, "gross_amount")), "0.00");
    char *sig = dm_midtrans_sim_signature("B-1", json_string_value(json_object_get(j, "status_code")), "0.00",
                                          "k1");
    ck_assert_str_eq(json_string_value(json_object_get(j, "signature_key")), sig);
    free(sig);
    json_decref(j);
    dm_e2e_response_free(&res);
    dm_midtrans_sim_set_status_amount(sim, -1);
    sim_request(sim, "GET", "/v2/B-1/status", GOOD_AUTH, NULL, &res);
    ck_assert_msg(strstr(res.body, "\"25000.00\"") != NULL, "the order's own amount again: %s", res.body);
    dm_e2e_response_free(&res);

    dm_midtrans_sim_pay_before_cancel(sim, true);
    sim_request(sim, "POST", "/v2/B-1/cancel", GOOD_AUTH, NULL, &res);
    ck_assert_msg(strstr(res.body, "\"412\"") != NULL, "cancel after paying: %s", res.body);
    dm_e2e_response_free(&res);
    dm_midtrans_sim_order_t o;
    ck_assert(dm_midtrans_sim_order(sim, "B-1", &o));
    ck_assert_str_eq(o.transaction_status, "settlement");
    dm_midtrans_sim_stop(sim);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("midtrans_sim");
    TCase *tc = tcase_create("wire");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, simulator_wire_behaviour);
    tcase_add_test(tc, simulator_cancel_refund_codes);
    tcase_add_test(tc, simulator_injected_failures);
    tcase_add_test(tc, simulator_wrong_amount_and_unknown_notifications);
    tcase_add_test(tc, simulator_pay_before_cancel_and_status_amount);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
