/*
 * test_wallet.c — the /api/wallet routes through the real binary with the
 * manual-transfer gateway (the default one): balance, top-up shape and
 * every refusal, one user never seeing another's rows, cancel, the
 * Idempotency-Key rules (replay, 422, 409, concurrent claims), expiry by
 * the periodic job, payment methods and summary. After every test the
 * ledger invariant holds.
 */
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "dm_test.h"
#include "e2e.h"
#include "e2e_auth.h"
#include "testdb.h"

#define srv dm_e2e_auth_srv
#define db_url dm_e2e_auth_db_url
#define call dm_e2e_auth_call
#define ok_data dm_e2e_auth_ok_data
#define expect_error dm_e2e_auth_expect_error

#define TOPUP_50K "{\"amount\":50000,\"paymentMethod\":\"bank_transfer\"}"

static void sweep_setup(void) { dm_e2e_auth_sweep_setup("wallete2e"); }
static void sweep_teardown(void) { dm_e2e_auth_sweep_teardown(); }

static void setup(void)
{
    /* The expiry job every second so expiry is observable quickly. */
    dm_e2e_auth_setup_with(json_pack("{s:{s:[{s:s},{s:s}]},s:{s:i}}", "plugins", "enabled", "name", "auth-local",
                                     "name", "payment-manual", "wallet", "expireEveryS", 1));
}

static void teardown(void)
{
    /* The invariant: every balance equals its SUCCESS ledger rows. */
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM ledger_violations()");
    dm_e2e_auth_teardown();
}

/* POST /api/wallet/topup with body; the response's data (status want). */
static json_t *topup_ok(const char *token, const char *body)
{
    dm_e2e_response res;
    call("POST", "/api/wallet/topup", token, body, &res);
    json_t *d = ok_data(&res, 201, "topup");
    dm_e2e_response_free(&res);
    return d;
}

static const char *tx_field(const json_t *data, const char *f)
{
    return json_string_value(json_object_get(json_object_get(data, "transaction"), f));
}

static void expect_invalid(const char *token, const char *body, const char *field)
{
    dm_e2e_response res;
    call("POST", "/api/wallet/topup", token, body, &res);
    expect_error(&res, 400, "VALIDATION_ERROR", body);
    ck_assert_msg(strstr(res.body, field) != NULL, "%s: details do not name %s: %s", body, field, res.body);
    dm_e2e_response_free(&res);
}

START_TEST(balance_starts_at_zero_and_needs_a_token)
{
    char *tok = dm_e2e_auth_register("w1@example.id", NULL);
    dm_e2e_response res;
    call("GET", "/api/wallet", tok, NULL, &res);
    json_t *d = ok_data(&res, 200, "wallet");
    ck_assert_int_eq(json_integer_value(json_object_get(d, "balance")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(d, "currency")), "IDR");
    json_decref(d);
    dm_e2e_response_free(&res);
    call("GET", "/api/wallet", NULL, NULL, &res);
    expect_error(&res, 401, "UNAUTHORIZED", "no token");
    dm_e2e_response_free(&res);
    free(tok);
}
END_TEST

START_TEST(manual_topup_is_pending_with_instructions)
{
    char uid[37];
    char *tok = dm_e2e_auth_register("w2@example.id", uid);
    json_t *d = topup_ok(tok, TOPUP_50K);
    const char *cid = tx_field(d, "customId");
    regex_t re;
    ck_assert(regcomp(&re, "^TXMP-[0-9]+$", REG_EXTENDED) == 0);
    ck_assert_msg(cid != NULL && regexec(&re, cid, 0, NULL, 0) == 0, "customId %s", cid ? cid : "(none)");
    regfree(&re);
    ck_assert_msg(strtol(cid + 5, NULL, 10) >= 101, "TXMP numbering starts at 101: %s", cid);
    ck_assert_str_eq(tx_field(d, "status"), "PENDING");
    ck_assert_str_eq(tx_field(d, "type"), "TOPUP");
    ck_assert_str_eq(tx_field(d, "gateway"), "manual");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(d, "transaction"), "amount")), 50000);
    json_t *ins = json_object_get(json_object_get(d, "payment"), "instructions");
    ck_assert_msg(json_is_object(ins), "manual top-ups carry instructions");
    ck_assert_str_eq(json_string_value(json_object_get(ins, "reference")), cid);
    ck_assert_int_eq(json_integer_value(json_object_get(ins, "amount")), 50000);
    ck_assert_msg(json_is_string(json_object_get(json_object_get(d, "payment"), "expiresAt")), "expiresAt");
    /* Nothing is credited before an administrator confirms. */
    DM_EXPECT_SQL(db_url, "0", "SELECT credit_balance FROM users WHERE id = '%s'", uid);
    DM_EXPECT_SQL(db_url, "PENDING", "SELECT status FROM transactions WHERE custom_id = '%s'", cid);
    json_decref(d);
    free(tok);
}
END_TEST

START_TEST(topup_amount_bounds_and_types)
{
    char *tok = dm_e2e_auth_register("w3@example.id", NULL);
    expect_invalid(tok, "{\"amount\":9999,\"paymentMethod\":\"bank_transfer\"}", "amount");
    expect_invalid(tok, "{\"amount\":10000001,\"paymentMethod\":\"bank_transfer\"}", "amount");
    expect_invalid(tok, "{\"amount\":50000.5,\"paymentMethod\":\"bank_transfer\"}", "amount");
    expect_invalid(tok, "{\"amount\":\"50000\",\"paymentMethod\":\"bank_transfer\"}", "amount");
    expect_invalid(tok, "{\"paymentMethod\":\"bank_transfer\"}", "amount");
    expect_invalid(tok, "{\"amount\":-50000,\"paymentMethod\":\"bank_transfer\"}", "amount");
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM transactions");
    json_decref(topup_ok(tok, "{\"amount\":10000,\"paymentMethod\":\"bank_transfer\"}"));
    json_decref(topup_ok(tok, "{\"amount\":10000000,\"paymentMethod\":\"bank_transfer\"}"));
    DM_EXPECT_SQL(db_url, "2", "SELECT count(*) FROM transactions");
    free(tok);
}
END_TEST

START_TEST(topup_refuses_unknown_gateway_method_and_fields)
{
    char *tok = dm_e2e_auth_register("w4@example.id", NULL);
    expect_invalid(tok, "{\"amount\":50000,\"paymentMethod\":\"bank_transfer\",\"gateway\":\"nope\"}", "gateway");
    expect_invalid(tok, "{\"amount\":50000,\"paymentMethod\":\"gopay\"}", "paymentMethod");
    expect_invalid(tok, "{\"amount\":50000,\"paymentMethod\":\"bank_transfer\",\"userId\":\"x\"}", "userId");
    expect_invalid(tok, "{\"amount\":50000}", "paymentMethod");
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM transactions");
    free(tok);
}
END_TEST

START_TEST(rows_are_visible_only_to_their_owner)
{
    char a_id[37];
    char *a = dm_e2e_auth_register("owner@example.id", a_id);
    char *b = dm_e2e_auth_register("other@example.id", NULL);
    json_t *d = topup_ok(a, TOPUP_50K);
    char path[128];
    const char *refs[] = { tx_field(d, "id"), tx_field(d, "customId") };
    for (int i = 0; i < 2; i++) {
        dm_e2e_response res;
        snprintf(path, sizeof path, "/api/wallet/transactions/%s", refs[i]);
        call("GET", path, a, NULL, &res);
        json_t *t = ok_data(&res, 200, "own row");
        ck_assert_str_eq(json_string_value(json_object_get(t, "id")), refs[0]);
        json_decref(t);
        dm_e2e_response_free(&res);
        call("GET", path, b, NULL, &res);
        expect_error(&res, 404, "NOT_FOUND", "another user's row");
        dm_e2e_response_free(&res);
        snprintf(path, sizeof path, "/api/wallet/transactions/%s/cancel", refs[i]);
        call("POST", path, b, NULL, &res);
        expect_error(&res, 404, "NOT_FOUND", "cancel another user's row");
        dm_e2e_response_free(&res);
    }
    dm_e2e_response res;
    call("GET", "/api/wallet/transactions", b, NULL, &res);
    ck_assert_msg(strstr(res.body, "\"total\":0") != NULL, "B sees no rows: %s", res.body);
    dm_e2e_response_free(&res);
    call("GET", "/api/wallet/transactions?type=TOPUP&status=PENDING", a, NULL, &res);
    json_t *list = ok_data(&res, 200, "filtered list");
    ck_assert_int_eq(json_array_size(list), 1);
    json_decref(list);
    dm_e2e_response_free(&res);
    call("GET", "/api/wallet/transactions?status=PAID", a, NULL, &res);
    expect_error(&res, 400, "VALIDATION_ERROR", "bad status filter");
    dm_e2e_response_free(&res);
    call("GET", "/api/wallet/transactions/TXMP-abc", a, NULL, &res);
    expect_error(&res, 404, "NOT_FOUND", "malformed id");
    dm_e2e_response_free(&res);
    json_decref(d);
    free(a);
    free(b);
}
END_TEST

START_TEST(cancel_a_pending_topup_once)
{
    char *tok = dm_e2e_auth_register("cancel@example.id", NULL);
    json_t *d = topup_ok(tok, TOPUP_50K);
    char path[128];
    snprintf(path, sizeof path, "/api/wallet/transactions/%s/cancel", tx_field(d, "customId"));
    dm_e2e_response res;
    call("POST", path, tok, NULL, &res);
    json_t *t = ok_data(&res, 200, "cancel");
    ck_assert_str_eq(json_string_value(json_object_get(t, "status")), "CANCELLED");
    json_decref(t);
    dm_e2e_response_free(&res);
    call("POST", path, tok, NULL, &res);
    expect_error(&res, 409, "INVALID_STATE", "cancel twice");
    dm_e2e_response_free(&res);
    json_decref(d);
    free(tok);
}
END_TEST

START_TEST(idempotency_key_replays_the_first_response)
{
    char *tok = dm_e2e_auth_register("idem@example.id", NULL);
    dm_e2e_response r1, r2, r3;
    dm_e2e_auth_call_keyed("POST", "/api/wallet/topup", tok, "key-1", TOPUP_50K, &r1);
    dm_e2e_auth_call_keyed("POST", "/api/wallet/topup", tok, "key-1", TOPUP_50K, &r2);
    ck_assert_int_eq(r1.status, 201);
    ck_assert_int_eq(r2.status, 201);
    ck_assert_msg(strcmp(r1.body, r2.body) == 0, "replay differs:\n%s\n%s", r1.body, r2.body);
    ck_assert_msg(dm_e2e_header(&r2, "Idempotent-Replayed") != NULL, "replay is marked");
    ck_assert_msg(dm_e2e_header(&r1, "Idempotent-Replayed") == NULL, "first is not marked");
    DM_EXPECT_SQL(db_url, "1", "SELECT count(*) FROM transactions");
    /* The same key with another body is a client bug: 422, nothing made. */
    dm_e2e_auth_call_keyed("POST", "/api/wallet/topup", tok, "key-1",
                           "{\"amount\":60000,\"paymentMethod\":\"bank_transfer\"}", &r3);
    expect_error(&r3, 422, "IDEMPOTENCY_KEY_REUSED", "same key, other body");
    DM_EXPECT_SQL(db_url, "1", "SELECT count(*) FROM transactions");
    dm_e2e_response_free(&r1);
    dm_e2e_response_free(&r2);
    dm_e2e_response_free(&r3);
    /* Keys are per user: another user's "key-1" is a new request. */
    char *other = dm_e2e_auth_register("idem2@example.id", NULL);
    dm_e2e_auth_call_keyed("POST", "/api/wallet/topup", other, "key-1", TOPUP_50K, &r1);
    ck_assert_int_eq(r1.status, 201);
    DM_EXPECT_SQL(db_url, "2", "SELECT count(*) FROM transactions");
    dm_e2e_response_free(&r1);
    /* A malformed key is refused. */
    dm_e2e_auth_call_keyed("POST", "/api/wallet/topup", other, "bad key", TOPUP_50K, &r1);
    expect_error(&r1, 400, "VALIDATION_ERROR", "key with a space");
    dm_e2e_response_free(&r1);
    free(tok);
    free(other);
}
END_TEST

static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    ck_assert(EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL) == 1 && n == 32);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

START_TEST(idempotency_key_in_progress_is_409_until_its_lock_lapses)
{
    char uid[37];
    char *tok = dm_e2e_auth_register("busy@example.id", uid);
    char hash[65];
    sha256_hex("POST /api/wallet/topup\n" TOPUP_50K, hash);
    /* A claim as a request still running on some node leaves it. */
    free(dm_test_db_scalarf(db_url,
                            "INSERT INTO idempotency_keys (user_id, key, request_hash, state, locked_until, expires_at) "
                            "VALUES ('%s', 'k-run', '%s', 'running', now() + interval '1 minute', "
                            "now() + interval '1 day')", uid, hash));
    dm_e2e_response res;
    dm_e2e_auth_call_keyed("POST", "/api/wallet/topup", tok, "k-run", TOPUP_50K, &res);
    expect_error(&res, 409, "IDEMPOTENCY_KEY_IN_USE", "running claim");
    dm_e2e_response_free(&res);
    DM_EXPECT_SQL(db_url, "0", "SELECT count(*) FROM transactions");
    /* The node died: once the lock lapses the key is taken over. */
    free(dm_test_db_scalarf(db_url, "UPDATE idempotency_keys SET locked_until = now() - interval '1 second'"));
    dm_e2e_auth_call_keyed("POST", "/api/wallet/topup", tok, "k-run", TOPUP_50K, &res);
    ck_assert_msg(res.status == 201, "taken over: %d %s", res.status, res.body);
    dm_e2e_response_free(&res);
    DM_EXPECT_SQL(db_url, "done", "SELECT state FROM idempotency_keys WHERE key = 'k-run'");
    free(tok);
}
END_TEST

typedef struct racer {
    const char *token;
    int status;
    char tx_id[40];
} racer;

static void *race_topup(void *arg)
{
    racer *rc = arg;
    dm_e2e_response res;
    dm_e2e_auth_call_keyed("POST", "/api/wallet/topup", rc->token, "race-key", TOPUP_50K, &res);
    rc->status = res.status;
    json_t *doc = dm_e2e_json(&res);
    const char *id = json_string_value(json_object_get(json_object_get(json_object_get(doc, "data"), "transaction"), "id"));
    snprintf(rc->tx_id, sizeof rc->tx_id, "%s", id != NULL ? id : "");
    json_decref(doc);
    dm_e2e_response_free(&res);
    return NULL;
}

START_TEST(concurrent_requests_with_one_key_create_one_topup)
{
    char *tok = dm_e2e_auth_register("racer@example.id", NULL);
    enum { N = 10 };
    racer rs[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        rs[i] = (racer){ .token = tok };
        ck_assert(pthread_create(&th[i], NULL, race_topup, &rs[i]) == 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    /* Every racer got the one top-up (first or replayed) or 409 while it
     * was being made; never a second top-up. */
    const char *first = NULL;
    for (int i = 0; i < N; i++) {
        ck_assert_msg(rs[i].status == 201 || rs[i].status == 409, "racer %d: %d", i, rs[i].status);
        if (rs[i].status != 201)
            continue;
        if (first == NULL)
            first = rs[i].tx_id;
        ck_assert_msg(strcmp(rs[i].tx_id, first) == 0, "racer %d got %s, another %s", i, rs[i].tx_id, first);
    }
    ck_assert_msg(first != NULL, "at least one racer got the answer");
    DM_EXPECT_SQL(db_url, "1", "SELECT count(*) FROM transactions");
    free(tok);
}
END_TEST

START_TEST(unpaid_topups_expire_through_the_periodic_job)
{
    char *tok = dm_e2e_auth_register("late@example.id", NULL);
    json_t *d = topup_ok(tok, TOPUP_50K);
    json_t *keep = topup_ok(tok, TOPUP_50K);
    /* Move one top-up's deadline into the past instead of waiting a day. */
    free(dm_test_db_scalarf(db_url, "UPDATE transactions SET expires_at = now() - interval '1 second' "
                                    "WHERE id = '%s'", tx_field(d, "id")));
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT status FROM transactions WHERE id = '%s'", tx_field(d, "id"));
    dm_test_db_wait(db_url, "EXPIRED", 20, sql);
    DM_EXPECT_SQL(db_url, "PENDING", "SELECT status FROM transactions WHERE id = '%s'", tx_field(keep, "id"));
    /* And a late confirmation cannot revive it. */
    char path[128];
    snprintf(path, sizeof path, "/api/wallet/transactions/%s/cancel", tx_field(d, "id"));
    dm_e2e_response res;
    call("POST", path, tok, NULL, &res);
    expect_error(&res, 409, "INVALID_STATE", "cancel an expired top-up");
    dm_e2e_response_free(&res);
    json_decref(d);
    json_decref(keep);
    free(tok);
}
END_TEST

START_TEST(payment_methods_summary_and_status)
{
    char *tok = dm_e2e_auth_register("sum@example.id", NULL);
    dm_e2e_response res;
    call("GET", "/api/wallet/payment-methods", tok, NULL, &res);
    json_t *m = ok_data(&res, 200, "methods");
    ck_assert_msg(json_array_size(m) == 1, "one method: %s", res.body);
    json_t *e = json_array_get(m, 0);
    ck_assert_str_eq(json_string_value(json_object_get(e, "gateway")), "manual");
    ck_assert_str_eq(json_string_value(json_object_get(e, "id")), "bank_transfer");
    ck_assert_msg(json_is_true(json_object_get(e, "default")), "manual is the default gateway");
    json_decref(m);
    dm_e2e_response_free(&res);

    json_t *d = topup_ok(tok, TOPUP_50K);
    call("GET", "/api/wallet/summary", tok, NULL, &res);
    json_t *s = ok_data(&res, 200, "summary");
    ck_assert_int_eq(json_integer_value(json_object_get(s, "balance")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(s, "pendingTopups")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(s, "totalTopup")), 0);
    ck_assert_msg(json_is_object(json_object_get(s, "thisMonth")), "thisMonth: %s", res.body);
    json_decref(s);
    dm_e2e_response_free(&res);

    char path[128];
    snprintf(path, sizeof path, "/api/wallet/transactions/%s/status", tx_field(d, "customId"));
    call("GET", path, tok, NULL, &res);
    json_t *t = ok_data(&res, 200, "status of a manual top-up");
    ck_assert_str_eq(json_string_value(json_object_get(t, "status")), "PENDING");
    json_decref(t);
    dm_e2e_response_free(&res);

    /* Manual transfers have no webhook; unknown gateways neither. */
    call("POST", "/api/wallet/webhooks/manual", NULL, "{}", &res);
    expect_error(&res, 404, "NOT_FOUND", "manual webhook");
    dm_e2e_response_free(&res);
    call("POST", "/api/wallet/webhooks/paypal", NULL, "{}", &res);
    expect_error(&res, 404, "NOT_FOUND", "unknown gateway webhook");
    dm_e2e_response_free(&res);
    json_decref(d);
    free(tok);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("wallet_e2e");
    TCase *tc = tcase_create("wallet");
    tcase_add_unchecked_fixture(tc, sweep_setup, sweep_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, balance_starts_at_zero_and_needs_a_token);
    tcase_add_test(tc, manual_topup_is_pending_with_instructions);
    tcase_add_test(tc, topup_amount_bounds_and_types);
    tcase_add_test(tc, topup_refuses_unknown_gateway_method_and_fields);
    tcase_add_test(tc, rows_are_visible_only_to_their_owner);
    tcase_add_test(tc, cancel_a_pending_topup_once);
    tcase_add_test(tc, idempotency_key_replays_the_first_response);
    tcase_add_test(tc, idempotency_key_in_progress_is_409_until_its_lock_lapses);
    tcase_add_test(tc, concurrent_requests_with_one_key_create_one_topup);
    tcase_add_test(tc, unpaid_topups_expire_through_the_periodic_job);
    tcase_add_test(tc, payment_methods_summary_and_status);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
