/*
 * xendit_topup.c — run by tests/sdk/payment_xendit.sh, never alone: a
 * server (DERMAGA_TEST_BIN, the INSTALLED binary there) with
 * payment-xendit built out of tree from examples/payment-xendit
 * (XENDIT_PLUGIN_DIR) against xendit-sim.mjs (XENDIT_SIM_URL), and a wallet
 * top-up paid end to end: the simulator marks the invoice paid and hands
 * out its callback, which is delivered to POST /api/wallet/webhooks/xendit.
 * A wrong or missing x-callback-token is refused with 401 and credits
 * nothing; the real callback credits the amount exactly once, however
 * often it comes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"
#include "e2e.h"
#include "e2e_auth.h"
#include "testdb.h"

#define srv dm_e2e_auth_srv
#define db_url dm_e2e_auth_db_url
#define call dm_e2e_auth_call
#define ok_data dm_e2e_auth_ok_data

#define SECRET_KEY "xnd_development_e2e_secret"
#define CALLBACK_TOKEN "e2e-callback-token-of-the-account"
#define HOOK "/api/wallet/webhooks/xendit"
#define TOPUP "{\"amount\":50000,\"paymentMethod\":\"invoice\",\"gateway\":\"xendit\"}"

static char *tok;
static char uid[37];
static int sim_port;

static void sweep_setup(void) { dm_e2e_auth_sweep_setup("xnde2e"); }
static void sweep_teardown(void) { dm_e2e_auth_sweep_teardown(); }

static void setup(void)
{
    DM_TEST_REQUIRE_ENV("XENDIT_SIM_URL");
    DM_TEST_REQUIRE_ENV("XENDIT_PLUGIN_DIR");
    DM_TEST_REQUIRE_ENV("DERMAGA_TEST_PLUGIN_DIR");
    const char *sim = getenv("XENDIT_SIM_URL");
    ck_assert_msg(sscanf(sim, "http://127.0.0.1:%d", &sim_port) == 1 && sim_port > 0, "XENDIT_SIM_URL %s", sim);
    json_t *extra = json_pack("{s:{s:[s,s],s:[{s:s},{s:s,s:{s:s,s:s,s:s,s:i}}]}}", "plugins", "dirs",
                              getenv("DERMAGA_TEST_PLUGIN_DIR"), getenv("XENDIT_PLUGIN_DIR"), "enabled", "name",
                              "auth-local", "name", "payment-xendit", "config", "secret_key", SECRET_KEY,
                              "callback_token", CALLBACK_TOKEN, "api_base_url", sim, "timeout_ms", 5000);
    ck_assert_msg(extra != NULL, "config");
    dm_e2e_auth_setup_with(extra);
    tok = dm_e2e_auth_register("payer@example.id", uid);
}

static void teardown(void)
{
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM ledger_violations()");
    free(tok);
    tok = NULL;
    dm_e2e_auth_teardown();
}

/* The callback the simulator sends for cid with status (it applies it):
 * {"headers","body"} (new). */
static json_t *sim_callback(const char *cid, const char *status)
{
    char body[256], req[512];
    int n = snprintf(body, sizeof body, "{\"reference\":\"%s\",\"status\":\"%s\"}", cid, status);
    snprintf(req, sizeof req,
             "POST /__dermaga/notification HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             "Content-Length: %d\r\nConnection: close\r\n\r\n%s", n, body);
    dm_e2e_response res;
    dm_e2e_roundtrip_ok(sim_port, req, &res);
    ck_assert_msg(res.status == 200, "simulator: %d %s", res.status, res.body);
    json_t *cb = json_loads(res.body, 0, NULL);
    dm_e2e_response_free(&res);
    ck_assert_msg(json_is_string(json_object_get(cb, "body")), "the simulator's callback has a body");
    return cb;
}

/* POST body to the webhook with x-callback-token token (none when NULL);
 * the HTTP status. */
static int deliver(const char *token, const char *body)
{
    size_t cap = strlen(body) + 512;
    char *req = malloc(cap);
    ck_assert(req != NULL);
    char th[160] = "";
    if (token != NULL)
        snprintf(th, sizeof th, "x-callback-token: %s\r\n", token);
    snprintf(req, cap,
             "POST " HOOK " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n%s"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", th, strlen(body), body);
    dm_e2e_response res;
    dm_e2e_roundtrip_ok(srv.port, req, &res);
    free(req);
    int status = res.status;
    dm_e2e_response_free(&res);
    return status;
}

static void expect_balance(const char *want)
{
    DM_EXPECT_SQL(db_url, want, "SELECT credit_balance FROM users WHERE id = '%s'", uid);
}

START_TEST(a_xendit_topup_is_credited_once_and_a_bad_token_is_refused)
{
    dm_e2e_response res;
    call("POST", "/api/wallet/topup", tok, TOPUP, &res);
    json_t *d = ok_data(&res, 201, "xendit topup");
    dm_e2e_response_free(&res);
    const char *cid = json_string_value(json_object_get(json_object_get(d, "transaction"), "customId"));
    const char *page = json_string_value(json_object_get(json_object_get(d, "payment"), "redirectUrl"));
    ck_assert_msg(cid != NULL, "customId");
    ck_assert_msg(page != NULL && strstr(page, "/web/") != NULL, "redirectUrl is the invoice_url: %s",
                  page != NULL ? page : "(none)");
    /* The invoice id became the gateway reference. */
    char *ref = dm_test_db_scalarf(db_url, "SELECT gateway_ref FROM transactions WHERE custom_id = '%s'", cid);
    ck_assert_msg(ref != NULL && strlen(ref) == 24 && strstr(page, ref) != NULL, "gateway_ref %s",
                  ref != NULL ? ref : "(null)");
    free(ref);
    expect_balance("0");

    json_t *cb = sim_callback(cid, "paid");
    const char *body = json_string_value(json_object_get(cb, "body"));
    json_t *parsed = json_loads(body, 0, NULL);
    ck_assert_msg(json_is_string(json_object_get(parsed, "id")), "the callback names the invoice: %s", body);
    DM_EXPECT_SQL(db_url, json_string_value(json_object_get(parsed, "id")),
                  "SELECT gateway_ref FROM transactions WHERE custom_id = '%s'", cid);
    json_decref(parsed);
    const char *real = json_string_value(json_object_get(json_object_get(cb, "headers"), "x-callback-token"));
    ck_assert_msg(real != NULL && strcmp(real, CALLBACK_TOKEN) == 0, "the simulator sends the account's token");
    ck_assert_msg(strstr(body, "\"PAID\"") != NULL && strstr(body, cid) != NULL, "a PAID callback: %s", body);

    /* A wrong token, a token one byte short, and none: 401, nothing credited. */
    ck_assert_int_eq(deliver("e2e-callback-token-of-the-accounT", body), 401);
    ck_assert_int_eq(deliver("e2e-callback-token-of-the-accoun", body), 401);
    ck_assert_int_eq(deliver(NULL, body), 401);
    expect_balance("0");
    DM_EXPECT_SQL(db_url, "PENDING", "SELECT status FROM transactions WHERE custom_id = '%s'", cid);
    DM_EXPECT_SQL(db_url, "bad_signature,bad_signature,bad_signature",
                  "SELECT string_agg(verdict, ',' ORDER BY id) FROM payment_notifications");

    /* The real callback credits the amount; again, it changes nothing. */
    ck_assert_int_eq(deliver(real, body), 200);
    expect_balance("50000");
    DM_EXPECT_SQL(db_url, "SUCCESS", "SELECT status FROM transactions WHERE custom_id = '%s'", cid);
    ck_assert_int_eq(deliver(real, body), 200);
    ck_assert_int_eq(deliver("not-the-token", body), 401);
    expect_balance("50000");
    DM_EXPECT_SQL(db_url, "1", "SELECT count(*) FROM payment_notifications WHERE verdict = 'applied'");
    DM_EXPECT_SQL(db_url, "1", "SELECT count(*) FROM transactions WHERE status = 'SUCCESS'");
    json_decref(cb);

    call("GET", "/api/wallet", tok, NULL, &res);
    json_t *w = ok_data(&res, 200, "wallet");
    ck_assert_int_eq(json_integer_value(json_object_get(w, "balance")), 50000);
    json_decref(w);
    dm_e2e_response_free(&res);
    json_decref(d);
}
END_TEST

/* A callback whose body was changed (the amount) carries the right token
 * but is not what Xendit states: refused, nothing credited. */
START_TEST(a_callback_xendit_does_not_state_is_refused)
{
    dm_e2e_response res;
    call("POST", "/api/wallet/topup", tok, TOPUP, &res);
    json_t *d = ok_data(&res, 201, "xendit topup");
    dm_e2e_response_free(&res);
    const char *cid = json_string_value(json_object_get(json_object_get(d, "transaction"), "customId"));
    ck_assert_msg(cid != NULL, "customId");
    json_t *cb = sim_callback(cid, "pending");
    json_t *forged = json_loads(json_string_value(json_object_get(cb, "body")), 0, NULL);
    ck_assert_msg(json_is_string(json_object_get(forged, "id")), "the callback names the invoice");
    DM_EXPECT_SQL(db_url, json_string_value(json_object_get(forged, "id")),
                  "SELECT gateway_ref FROM transactions WHERE custom_id = '%s'", cid);
    json_object_set_new(forged, "status", json_string("PAID"));
    json_object_set_new(forged, "paid_amount", json_integer(50000));
    char *text = json_dumps(forged, JSON_COMPACT);
    int http = deliver(CALLBACK_TOKEN, text);
    ck_assert_msg(http == 400, "a PAID callback for an invoice Xendit says is PENDING answered %d", http);
    expect_balance("0");
    DM_EXPECT_SQL(db_url, "PENDING", "SELECT status FROM transactions WHERE custom_id = '%s'", cid);
    free(text);
    json_decref(forged);
    json_decref(cb);
    json_decref(d);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("payment_xendit_e2e");
    TCase *tc = tcase_create("xendit");
    tcase_add_unchecked_fixture(tc, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, a_xendit_topup_is_credited_once_and_a_bad_token_is_refused);
    tcase_add_test(tc, a_callback_xendit_does_not_state_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
