/*
 * test_wallet_notices.c — the stored gateway notifications: refused ones
 * (bad signature, malformed, unknown order) are pruned after 30 days so
 * anonymous junk cannot pile up; notifications about real orders, and
 * recent refused ones, are kept.
 */
#include <stdlib.h>
#include <string.h>

#include "wallet/ledger.h"
#include "wallet/wallet_jobs.h"
#include "accounts/users.h"
#include "wallet/wallet_gateway.h"
#include "dm_test.h"
#include "testdb.h"

static char *url;
static dm_db db;

static void setup(void)
{
    url = dm_test_db_create_migrated("notices");
    dm_err_t err = { 0 };
    ck_assert_msg(dm__db_init(&db, url, 2, 10000, &err) == 0, "db init: %s", err.msg);
}

static void teardown(void)
{
    dm__db_fini(&db);
    dm_test_db_drop(url);
    free(url);
}

static void store(const char *verdict, const char *tx_id, const char *body)
{
    dm_wallet_notice n = { .gateway = "midtrans", .order_id = "TXMP-1", .tx_id = tx_id, .body = body,
                           .body_len = strlen(body), .verdict = verdict };
    dm_err_t err = { 0 };
    ck_assert_msg(dm__wallet_notice_store(&db, &n, &err) == 0, "store: %s", err.msg);
}

START_TEST(refused_notifications_are_pruned_after_30_days)
{
    dm_user u;
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__users_create(&db, "n@example.id", "N", NULL, NULL, "$argon2id$x", &u, &err), 0);
    dm_ledger_topup t = { u.id, 10000, "midtrans", "bca_va", NULL, 3600 };
    dm_ledger_tx tx;
    ck_assert_int_eq(dm__ledger_topup_open(&db, &t, &tx, &err), 0);
    store("bad_signature", NULL, "{\"old\":1}");
    store("malformed", NULL, "{old");
    store("unknown_order", NULL, "{\"old\":2}");
    store("amount_mismatch", tx.id, "{\"old\":3}"); /* about a real order: kept */
    store("bad_signature", NULL, "{\"new\":1}");
    free(dm_test_db_scalarf(url, "UPDATE payment_notifications SET received_at = now() - interval '31 days' "
                                 "WHERE body LIKE '%%old%%'"));
    long n = -1;
    ck_assert_int_eq(dm__wallet_notice_prune(&db, 30, &n, &err), 0);
    ck_assert_int_eq(n, 3);
    DM_EXPECT_SQL(url, "amount_mismatch,bad_signature",
                  "SELECT string_agg(verdict, ',' ORDER BY verdict) FROM payment_notifications");
    ck_assert_int_eq(dm__wallet_notice_prune(&db, 30, &n, &err), 0);
    ck_assert_int_eq(n, 0);
}
END_TEST

/* The daily task also drops Idempotency-Keys whose 24 h are over, but not
 * one that is live, nor one whose handler still runs. */
START_TEST(expired_idempotency_keys_are_pruned)
{
    dm_user u;
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__users_create(&db, "k@example.id", "K", NULL, NULL, "$argon2id$x", &u, &err), 0);
    DM_EXPECT_SQL(url, "3",
                  "WITH i AS (INSERT INTO idempotency_keys (user_id, key, request_hash, state, response_status, "
                  "  response_body, locked_until, expires_at) VALUES "
                  "  ('%s', 'old', repeat('a', 64), 'done', 201, '{}', now() - interval '2 days', now() - interval '1 day'), "
                  "  ('%s', 'live', repeat('a', 64), 'done', 201, '{}', now(), now() + interval '1 day'), "
                  "  ('%s', 'busy', repeat('a', 64), 'running', NULL, NULL, now() + interval '1 minute', "
                  "   now() - interval '1 second') RETURNING 1) SELECT count(*) FROM i",
                  u.id, u.id, u.id);
    dm_job job;
    memset(&job, 0, sizeof job);
    ck_assert_msg(dm__wallet_prune_job(&db, &job, NULL, &err) == 0, "prune: %s", err.msg);
    DM_EXPECT_SQL(url, "busy,live", "SELECT string_agg(key, ',' ORDER BY key) FROM idempotency_keys");
}
END_TEST

START_TEST(bodies_that_are_not_text_are_stored_as_hex)
{
    const char bin[] = { 'a', '\0', (char)0xff, 'b' };
    dm_wallet_notice n = { .gateway = "midtrans", .body = bin, .body_len = sizeof bin, .verdict = "malformed" };
    dm_err_t err = { 0 };
    ck_assert_msg(dm__wallet_notice_store(&db, &n, &err) == 0, "store: %s", err.msg);
    DM_EXPECT_SQL(url, "t", "SELECT body LIKE '%%6100ff62%%' FROM payment_notifications");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("wallet_notices");
    TCase *tc = tcase_create("notices");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, refused_notifications_are_pruned_after_30_days);
    tcase_add_test(tc, expired_idempotency_keys_are_pruned);
    tcase_add_test(tc, bodies_that_are_not_text_are_stored_as_hex);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
