/*
 * test_wallet_midtrans.c — top-ups through the payment-midtrans plugin
 * against the Midtrans simulator (tests/fakes/midtrans_sim.h), through the
 * real binary: the whole flow, and every webhook case — duplicates, late
 * and out-of-order deliveries, forged and unsigned notifications,
 * malformed bodies, unknown orders, a gateway that lies about the amount
 * or has not settled, a database failure (503, then the retry applies),
 * 50 concurrent deliveries of one settlement — plus the status re-read,
 * cancel at the gateway, a gateway outage at create, and expiry that asks
 * the gateway first. After every test the ledger invariant holds.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"
#include "e2e.h"
#include "e2e_auth.h"
#include "midtrans_sim.h"
#include "testdb.h"

#define srv dm_e2e_auth_srv
#define db_url dm_e2e_auth_db_url
#define call dm_e2e_auth_call
#define ok_data dm_e2e_auth_ok_data
#define expect_error dm_e2e_auth_expect_error

#define SERVER_KEY "SB-Mid-server-e2e-wallet"
#define HOOK "/api/wallet/webhooks/midtrans"
#define TOPUP_MT "{\"amount\":50000,\"paymentMethod\":\"bca_va\",\"gateway\":\"midtrans\"}"

static dm_midtrans_sim *sim;
static char *tok;
static char uid[37];

static void sweep_setup(void) { dm_e2e_auth_sweep_setup("mte2e"); }
static void sweep_teardown(void) { dm_e2e_auth_sweep_teardown(); }

static void setup(void)
{
    sim = dm_midtrans_sim_start(SERVER_KEY);
    ck_assert_msg(sim != NULL, "simulator did not start");
    /* Room in the queue for 50 deliveries at once (a full queue answers
     * 503, which a gateway retries; here every one must get in). */
    /* Bodies up to 2 MiB, past what payment_notifications keeps whole. */
    json_t *extra = json_pack("{s:{s:[{s:s},{s:s},{s:s,s:{s:s,s:s,s:s,s:i}}]},s:{s:i},s:{s:i,s:i},s:{s:i}}",
                              "plugins", "enabled", "name", "auth-local", "name", "payment-manual", "name",
                              "payment-midtrans", "config", "server_key", SERVER_KEY, "snap_base_url",
                              dm_midtrans_sim_snap_base(sim), "api_base_url", dm_midtrans_sim_api_base(sim),
                              "timeout_ms", 3000, "wallet", "expireEveryS", 1, "database", "workers", 4,
                              "queueDepth", 128, "server", "maxBodyBytes", 2 * 1024 * 1024);
    dm_e2e_auth_setup_with(extra);
    tok = dm_e2e_auth_register("payer@example.id", uid);
}

static void teardown(void)
{
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM ledger_violations()");
    free(tok);
    tok = NULL;
    dm_e2e_auth_teardown();
    dm_midtrans_sim_stop(sim);
    sim = NULL;
}

/* A Midtrans top-up of 50 000; its customId into cid. */
static void topup(char cid[32])
{
    dm_e2e_response res;
    call("POST", "/api/wallet/topup", tok, TOPUP_MT, &res);
    json_t *d = ok_data(&res, 201, "midtrans topup");
    dm_e2e_response_free(&res);
    const char *c = json_string_value(json_object_get(json_object_get(d, "transaction"), "customId"));
    ck_assert_msg(c != NULL, "customId");
    snprintf(cid, 32, "%s", c);
    json_decref(d);
}

static int notify(const char *cid, const char *status, unsigned flags)
{
    int http = 0;
    ck_assert_msg(dm_midtrans_sim_notify(sim, srv.port, HOOK, cid, status, flags, &http) == 0, "notify %s", status);
    return http;
}

static void expect_balance(const char *want)
{
    DM_EXPECT_SQL(db_url, want, "SELECT credit_balance FROM users WHERE id = '%s'", uid);
}

static void expect_status(const char *cid, const char *want)
{
    DM_EXPECT_SQL(db_url, want, "SELECT status FROM transactions WHERE custom_id = '%s'", cid);
}

START_TEST(whole_topup_flow_credits_once)
{
    dm_e2e_response res;
    call("POST", "/api/wallet/topup", tok, TOPUP_MT, &res);
    json_t *d = ok_data(&res, 201, "topup");
    dm_e2e_response_free(&res);
    json_t *pay = json_object_get(d, "payment");
    ck_assert_msg(json_string_length(json_object_get(pay, "token")) > 0, "token");
    ck_assert_msg(json_string_length(json_object_get(pay, "redirectUrl")) > 0, "redirectUrl");
    const char *cid = json_string_value(json_object_get(json_object_get(d, "transaction"), "customId"));
    /* What the gateway received. */
    json_t *sent = dm_midtrans_sim_last_create(sim);
    json_t *td = json_object_get(sent, "transaction_details");
    ck_assert_str_eq(json_string_value(json_object_get(td, "order_id")), cid);
    ck_assert_msg(json_is_integer(json_object_get(td, "gross_amount"))
                      && json_integer_value(json_object_get(td, "gross_amount")) == 50000,
                  "integer gross_amount");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(sent, "enabled_payments"), 0)), "bca_va");
    json_decref(sent);
    expect_balance("0");
    ck_assert_int_eq(notify(cid, "settlement", 0), 200);
    expect_balance("50000");
    expect_status(cid, "SUCCESS");
    DM_EXPECT_SQL(db_url, "0|50000", "SELECT balance_before || '|' || balance_after FROM transactions "
                                     "WHERE custom_id = '%s'", cid);
    DM_EXPECT_SQL(db_url, "applied", "SELECT string_agg(verdict, ',') FROM payment_notifications");
    /* The user sees it. */
    call("GET", "/api/wallet", tok, NULL, &res);
    json_t *w = ok_data(&res, 200, "wallet");
    ck_assert_int_eq(json_integer_value(json_object_get(w, "balance")), 50000);
    json_decref(w);
    dm_e2e_response_free(&res);
    json_decref(d);
}
END_TEST

START_TEST(duplicates_and_late_notifications_change_nothing)
{
    char cid[32];
    topup(cid);
    char *body = dm_midtrans_sim_notification(sim, cid, "settlement", 0);
    int http = 0;
    for (int i = 0; i < 3; i++) {
        ck_assert(dm_midtrans_sim_post(srv.port, HOOK, body, strlen(body), &http, NULL) == 0);
        ck_assert_msg(http == 200, "delivery %d: %d", i, http);
    }
    free(body);
    expect_balance("50000");
    /* Late and out-of-order news from before the settlement. */
    ck_assert_int_eq(notify(cid, "pending", DM_MIDTRANS_KEEP_STATUS), 200);
    ck_assert_int_eq(notify(cid, "expire", DM_MIDTRANS_KEEP_STATUS), 200);
    expect_status(cid, "SUCCESS");
    expect_balance("50000");
    DM_EXPECT_SQL(db_url, "1", "SELECT count(*) FROM payment_notifications WHERE verdict = 'applied'");
    DM_EXPECT_SQL(db_url, "5", "SELECT count(*) FROM payment_notifications");
    /* Even a real cancel at the gateway after settlement moves nothing back. */
    ck_assert_int_eq(notify(cid, "cancel", 0), 200);
    expect_status(cid, "SUCCESS");
    expect_balance("50000");
}
END_TEST

START_TEST(forged_unsigned_and_malformed_notifications_are_refused)
{
    char cid[32];
    topup(cid);
    ck_assert_int_eq(notify(cid, "settlement", DM_MIDTRANS_FORGED), 401);
    ck_assert_int_eq(notify(cid, "settlement", DM_MIDTRANS_UNSIGNED), 400);
    int http = 0;
    const char *junk = "{not json";
    ck_assert(dm_midtrans_sim_post(srv.port, HOOK, junk, strlen(junk), &http, NULL) == 0);
    ck_assert_int_eq(http, 400);
    expect_status(cid, "PENDING");
    expect_balance("0");
    DM_EXPECT_SQL(db_url, "bad_signature,malformed,malformed",
                  "SELECT string_agg(verdict, ',' ORDER BY id) FROM payment_notifications");
    /* The forged one did not spoil the real one that follows. */
    ck_assert_int_eq(notify(cid, "settlement", 0), 200);
    expect_balance("50000");
}
END_TEST

START_TEST(unknown_orders_and_wrong_amounts_are_refused)
{
    char cid[32];
    topup(cid);
    ck_assert_int_eq(notify("TXMP-999999", "settlement", 0), 404);
    ck_assert_int_eq(notify(cid, "settlement", DM_MIDTRANS_WRONG_AMOUNT), 400);
    expect_balance("0");
    expect_status(cid, "PENDING");
    DM_EXPECT_SQL(db_url, "unknown_order,amount_mismatch",
                  "SELECT string_agg(verdict, ',' ORDER BY id) FROM payment_notifications");
}
END_TEST

START_TEST(a_notification_is_believed_only_when_the_gateway_agrees)
{
    char cid[32];
    topup(cid);
    /* Correctly signed "settlement", but the gateway still says pending. */
    ck_assert_int_eq(notify(cid, "settlement", DM_MIDTRANS_KEEP_STATUS), 200);
    expect_status(cid, "PENDING");
    expect_balance("0");
    ck_assert_msg(dm_midtrans_sim_counters(sim).status_queries >= 1, "the gateway was asked");
    /* The gateway cannot be asked: 503 so it retries, nothing applied. */
    dm_midtrans_sim_fail_next(sim, 1, 500);
    ck_assert_int_eq(notify(cid, "settlement", 0), 503);
    expect_status(cid, "PENDING");
    ck_assert_int_eq(notify(cid, "settlement", 0), 200);
    expect_balance("50000");
}
END_TEST

START_TEST(a_database_failure_answers_503_and_the_retry_applies)
{
    char cid[32];
    topup(cid);
    char *body = dm_midtrans_sim_notification(sim, cid, "settlement", 0);
    free(dm_test_db_scalarf(db_url, "ALTER TABLE payment_notifications RENAME TO pn_away"));
    int http = 0;
    ck_assert(dm_midtrans_sim_post(srv.port, HOOK, body, strlen(body), &http, NULL) == 0);
    ck_assert_int_eq(http, 503);
    expect_status(cid, "PENDING");
    expect_balance("0");
    free(dm_test_db_scalarf(db_url, "ALTER TABLE pn_away RENAME TO payment_notifications"));
    ck_assert(dm_midtrans_sim_post(srv.port, HOOK, body, strlen(body), &http, NULL) == 0);
    ck_assert_int_eq(http, 200);
    expect_balance("50000");
    free(body);
}
END_TEST

typedef struct delivery {
    const char *body;
    int status;
} delivery;

static void *deliver(void *arg)
{
    delivery *d = arg;
    if (dm_midtrans_sim_post(srv.port, HOOK, d->body, strlen(d->body), &d->status, NULL) != 0)
        d->status = -1;
    return NULL;
}

START_TEST(fifty_concurrent_deliveries_credit_exactly_once)
{
    char cid[32];
    topup(cid);
    char *body = dm_midtrans_sim_notification(sim, cid, "settlement", 0);
    enum { N = 50 };
    delivery ds[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        ds[i] = (delivery){ .body = body };
        ck_assert(pthread_create(&th[i], NULL, deliver, &ds[i]) == 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++)
        ck_assert_msg(ds[i].status == 200, "delivery %d: %d", i, ds[i].status);
    free(body);
    expect_balance("50000");
    DM_EXPECT_SQL(db_url, "1", "SELECT count(*) FROM payment_notifications WHERE verdict = 'applied'");
    DM_EXPECT_SQL(db_url, "50", "SELECT count(*) FROM payment_notifications");
    DM_EXPECT_SQL(db_url, "1", "SELECT count(*) FROM transactions WHERE status = 'SUCCESS'");
}
END_TEST

START_TEST(status_route_rereads_the_gateway)
{
    char cid[32];
    topup(cid);
    ck_assert(dm_midtrans_sim_set_status(sim, cid, "settlement", "accept") == 0);
    char path[96];
    snprintf(path, sizeof path, "/api/wallet/transactions/%s/status", cid);
    dm_e2e_response res;
    call("GET", path, tok, NULL, &res);
    json_t *t = ok_data(&res, 200, "status");
    ck_assert_str_eq(json_string_value(json_object_get(t, "status")), "SUCCESS");
    json_decref(t);
    dm_e2e_response_free(&res);
    expect_balance("50000");
    /* Asking again changes nothing. */
    call("GET", path, tok, NULL, &res);
    ck_assert_int_eq(res.status, 200);
    dm_e2e_response_free(&res);
    expect_balance("50000");
}
END_TEST

START_TEST(cancel_goes_to_the_gateway_first)
{
    char a[32], b[32], path[96];
    topup(a);
    snprintf(path, sizeof path, "/api/wallet/transactions/%s/cancel", a);
    dm_e2e_response res;
    call("POST", path, tok, NULL, &res);
    ck_assert_msg(res.status == 200, "cancel: %d %s", res.status, res.body);
    dm_e2e_response_free(&res);
    expect_status(a, "CANCELLED");
    dm_midtrans_sim_order_t o;
    ck_assert(dm_midtrans_sim_order(sim, a, &o));
    ck_assert_str_eq(o.transaction_status, "cancel");
    /* Paid at the gateway before the cancel arrived: the gateway refuses,
     * and its status decides the row. */
    topup(b);
    ck_assert(dm_midtrans_sim_set_status(sim, b, "settlement", "accept") == 0);
    snprintf(path, sizeof path, "/api/wallet/transactions/%s/cancel", b);
    call("POST", path, tok, NULL, &res);
    expect_error(&res, 409, "INVALID_STATE", "cancel a settled payment");
    dm_e2e_response_free(&res);
    expect_status(b, "SUCCESS");
    expect_balance("50000");
}
END_TEST

START_TEST(gateway_outage_at_create_fails_the_topup_cleanly)
{
    dm_midtrans_sim_fail_next(sim, 1, 500);
    dm_e2e_response res;
    call("POST", "/api/wallet/topup", tok, TOPUP_MT, &res);
    expect_error(&res, 502, "PAYMENT_GATEWAY_ERROR", "gateway 500");
    ck_assert_msg(strstr(res.body, "500") == NULL && strstr(res.body, "snap") == NULL,
                  "no gateway internals leak: %s", res.body);
    dm_e2e_response_free(&res);
    DM_EXPECT_SQL(db_url, "FAILED", "SELECT string_agg(status, ',') FROM transactions");
    expect_balance("0");
}
END_TEST

START_TEST(expiry_asks_the_gateway_first)
{
    char paid[32], unpaid[32];
    topup(paid);
    topup(unpaid);
    ck_assert(dm_midtrans_sim_set_status(sim, paid, "settlement", "accept") == 0);
    free(dm_test_db_scalarf(db_url, "UPDATE transactions SET expires_at = now() - interval '1 second'"));
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT status FROM transactions WHERE custom_id = '%s'", unpaid);
    dm_test_db_wait(db_url, "EXPIRED", 20, sql);
    expect_status(paid, "SUCCESS");
    expect_balance("50000");
    dm_midtrans_sim_order_t o;
    ck_assert(dm_midtrans_sim_order(sim, unpaid, &o));
    ck_assert_msg(strcmp(o.transaction_status, "cancel") == 0, "expired top-up is cancelled at the gateway: %s",
                  o.transaction_status);
}
END_TEST

/* The gateway said "pending", then the customer paid before our cancel
 * reached it (412): the row must follow the gateway, not become EXPIRED
 * with the money uncredited. */
START_TEST(expiry_racing_a_payment_credits_it)
{
    char cid[32];
    topup(cid);
    dm_midtrans_sim_pay_before_cancel(sim, true);
    free(dm_test_db_scalarf(db_url, "UPDATE transactions SET expires_at = now() - interval '1 second'"));
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT status FROM transactions WHERE custom_id = '%s' AND status <> 'PENDING'",
             cid);
    dm_test_db_wait(db_url, "SUCCESS", 20, sql);
    expect_balance("50000");
    dm_midtrans_sim_order_t o;
    ck_assert(dm_midtrans_sim_order(sim, cid, &o));
    ck_assert_str_eq(o.transaction_status, "settlement");
}
END_TEST

/* A re-read that states gross_amount "0.00" is not the gateway agreeing on
 * the amount: nothing is credited until it states the ledger's amount. */
START_TEST(a_reread_without_the_amount_is_not_believed)
{
    char cid[32];
    topup(cid);
    char *body = dm_midtrans_sim_notification(sim, cid, "settlement", 0);
    dm_midtrans_sim_set_status_amount(sim, 0);
    int http = 0;
    ck_assert(dm_midtrans_sim_post(srv.port, HOOK, body, strlen(body), &http, NULL) == 0);
    ck_assert_msg(http == 400, "re-read with amount 0 answered %d", http);
    expect_status(cid, "PENDING");
    expect_balance("0");
    DM_EXPECT_SQL(db_url, "amount_mismatch", "SELECT string_agg(verdict, ',') FROM payment_notifications");
    /* The status route does not believe it either. */
    char path[96];
    snprintf(path, sizeof path, "/api/wallet/transactions/%s/status", cid);
    dm_e2e_response res;
    call("GET", path, tok, NULL, &res);
    ck_assert_int_eq(res.status, 200);
    dm_e2e_response_free(&res);
    expect_balance("0");
    dm_midtrans_sim_set_status_amount(sim, -1);
    ck_assert(dm_midtrans_sim_post(srv.port, HOOK, body, strlen(body), &http, NULL) == 0);
    ck_assert_int_eq(http, 200);
    expect_balance("50000");
    free(body);
}
END_TEST

/* The gateway's refusal text stays in the log: neither the answer nor the
 * row the user can read carries it. */
START_TEST(gateway_refusal_text_is_not_shown_to_the_user)
{
    dm_midtrans_sim_fail_next(sim, 1, 400);
    dm_e2e_response res;
    call("POST", "/api/wallet/topup", tok, TOPUP_MT, &res);
    expect_error(&res, 400, "PAYMENT_REJECTED", "gateway 400");
    dm_e2e_response_free(&res);
    call("GET", "/api/wallet/transactions", tok, NULL, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_msg(strstr(res.body, "FAILED") != NULL, "the failed row is listed: %s", res.body);
    ck_assert_msg(strstr(res.body, "Sorry") == NULL && strstr(res.body, "midtrans:") == NULL
                      && strstr(res.body, "Midtrans") == NULL,
                  "gateway internals leak into the user's rows: %s", res.body);
    dm_e2e_response_free(&res);
}
END_TEST

/* A top-up whose gateway is no longer enabled: the status route answers
 * with the row as it is. */
START_TEST(status_of_a_topup_whose_gateway_is_gone)
{
    char *cid = dm_test_db_scalarf(db_url,
                                   "INSERT INTO transactions (user_id, type, status, amount, gateway, expires_at) "
                                   "VALUES ('%s', 'TOPUP', 'PENDING', 20000, 'gone', now() + interval '1 hour') "
                                   "RETURNING custom_id",
                                   uid);
    ck_assert_msg(cid != NULL, "row inserted");
    char path[96];
    snprintf(path, sizeof path, "/api/wallet/transactions/%s/status", cid);
    dm_e2e_response res;
    call("GET", path, tok, NULL, &res);
    json_t *t = ok_data(&res, 200, "status without a plugin");
    ck_assert_str_eq(json_string_value(json_object_get(t, "status")), "PENDING");
    json_decref(t);
    dm_e2e_response_free(&res);
    free(cid);
}
END_TEST

/* Anyone can post to the webhook: a body larger than the table keeps is
 * still answered (400 here) and stored cut short, not refused with 503. */
START_TEST(a_huge_webhook_body_is_stored_cut_short)
{
    size_t n = 1536 * 1024;
    char *body = malloc(n + 1);
    ck_assert(body != NULL);
    memcpy(body, "{\"pad\":\"", 8);
    memset(body + 8, 'a', n - 10);
    memcpy(body + n - 2, "\"}", 2);
    body[n] = '\0';
    int http = 0;
    ck_assert(dm_midtrans_sim_post(srv.port, HOOK, body, n, &http, NULL) == 0);
    ck_assert_msg(http == 400, "huge malformed notification answered %d", http);
    free(body);
    DM_EXPECT_SQL(db_url, "malformed|true", "SELECT verdict || '|' || (octet_length(body) < 70000)::text "
                                         "FROM payment_notifications");
}
END_TEST

/* A midtrans top-up carrying an Idempotency-Key. */
static void keyed_topup(const char *key, dm_e2e_response *res)
{
    dm_e2e_auth_call_keyed("POST", "/api/wallet/topup", tok, key, TOPUP_MT, res);
}

/* A 502 is not stored under the key: the retry runs again and its 201 is
 * what later replays get. */
START_TEST(idempotency_key_is_released_by_a_gateway_failure)
{
    dm_midtrans_sim_fail_next(sim, 1, 500);
    dm_e2e_response r1, r2, r3;
    keyed_topup("retry-me", &r1);
    expect_error(&r1, 502, "PAYMENT_GATEWAY_ERROR", "first attempt");
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM idempotency_keys");
    keyed_topup("retry-me", &r2);
    ck_assert_msg(r2.status == 201, "retry after a 502: %d %s", r2.status, r2.body);
    ck_assert_msg(dm_e2e_header(&r2, "Idempotent-Replayed") == NULL, "the retry ran, it was not replayed");
    keyed_topup("retry-me", &r3);
    ck_assert_int_eq(r3.status, 201);
    ck_assert_msg(strcmp(r2.body, r3.body) == 0, "replay differs:\n%s\n%s", r2.body, r3.body);
    DM_EXPECT_SQL(db_url, "FAILED,PENDING", "SELECT string_agg(status, ',' ORDER BY custom_id) FROM transactions");
    dm_e2e_response_free(&r1);
    dm_e2e_response_free(&r2);
    dm_e2e_response_free(&r3);
}
END_TEST

/* Snap does not know a payment until its customer picks a method, yet its
 * page takes money until it expires: a cancel the gateway cannot carry out
 * must not close the row, or that money would never be credited. */
START_TEST(cancel_the_gateway_cannot_carry_out_keeps_the_row_open)
{
    char cid[32], path[96];
    topup(cid);
    ck_assert(dm_midtrans_sim_forget(sim, cid) == 0);
    snprintf(path, sizeof path, "/api/wallet/transactions/%s/cancel", cid);
    dm_e2e_response res;
    call("POST", path, tok, NULL, &res);
    expect_error(&res, 409, "INVALID_STATE", "cancel of an order the gateway does not know yet");
    dm_e2e_response_free(&res);
    expect_status(cid, "PENDING");
    /* The customer pays on the still-open page: credited. */
    ck_assert(dm_midtrans_sim_add_order(sim, cid, 50000, "bank_transfer") == 0);
    ck_assert_int_eq(notify(cid, "settlement", 0), 200);
    expect_status(cid, "SUCCESS");
    expect_balance("50000");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("wallet_midtrans_e2e");
    TCase *tc = tcase_create("midtrans");
    tcase_add_unchecked_fixture(tc, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, whole_topup_flow_credits_once);
    tcase_add_test(tc, duplicates_and_late_notifications_change_nothing);
    tcase_add_test(tc, forged_unsigned_and_malformed_notifications_are_refused);
    tcase_add_test(tc, unknown_orders_and_wrong_amounts_are_refused);
    tcase_add_test(tc, a_notification_is_believed_only_when_the_gateway_agrees);
    tcase_add_test(tc, a_database_failure_answers_503_and_the_retry_applies);
    tcase_add_test(tc, fifty_concurrent_deliveries_credit_exactly_once);
    tcase_add_test(tc, status_route_rereads_the_gateway);
    tcase_add_test(tc, cancel_goes_to_the_gateway_first);
    tcase_add_test(tc, gateway_outage_at_create_fails_the_topup_cleanly);
    tcase_add_test(tc, expiry_asks_the_gateway_first);
    tcase_add_test(tc, expiry_racing_a_payment_credits_it);
    tcase_add_test(tc, a_reread_without_the_amount_is_not_believed);
    tcase_add_test(tc, gateway_refusal_text_is_not_shown_to_the_user);
    tcase_add_test(tc, status_of_a_topup_whose_gateway_is_gone);
    tcase_add_test(tc, a_huge_webhook_body_is_stored_cut_short);
    tcase_add_test(tc, idempotency_key_is_released_by_a_gateway_failure);
    tcase_add_test(tc, cancel_the_gateway_cannot_carry_out_keeps_the_row_open);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
