/*
 * test_ledger.c — core/domain/ledger.c against a real PostgreSQL: posts
 * with their balances, the guards (never below zero, signs by type,
 * unknown users), top-ups settled forward-only (SUCCESS credits once,
 * nothing moves back), concurrent debits and concurrent settlements from
 * separate connections, the TXMP numbering, and the ledger invariant
 * (ledger_violations()) after every test — including that it does catch a
 * balance changed behind the ledger's back.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "wallet/ledger.h"
#include "accounts/users.h"
#include "dm_test.h"
#include "testdb.h"

static char *url;
static dm_db db;
static char uid[37];

static void setup(void)
{
    url = dm_test_db_create_migrated("ledger");
    dm_err_t err = { 0 };
    ck_assert_msg(dm__db_init(&db, url, 2, 10000, &err) == 0, "db init: %s", err.msg);
    dm_user u;
    ck_assert_msg(dm__users_create(&db, "payer@example.id", "Payer", NULL, NULL, "$argon2id$x", &u, &err) == 0,
                  "user: %s", err.msg);
    memcpy(uid, u.id, sizeof uid);
}

static void teardown(void)
{
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM ledger_violations()");
    dm__db_fini(&db);
    dm_test_db_drop(url);
    free(url);
}

static int post(dm_db *d, const char *type, int64_t amount, json_t **out)
{
    dm_ledger_post p = { uid, type, amount, "test", NULL };
    dm_err_t err = { 0 };
    return dm__ledger_post(d, &p, out, &err);
}

START_TEST(posts_record_balances_and_refuse_going_below_zero)
{
    json_t *tx = NULL;
    ck_assert_int_eq(post(&db, "ADJUSTMENT", 30000, &tx), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(tx, "balanceBefore")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(tx, "balanceAfter")), 30000);
    ck_assert_str_eq(json_string_value(json_object_get(tx, "status")), "SUCCESS");
    json_decref(tx);
    ck_assert_int_eq(post(&db, "SUBSCRIPTION", -20000, NULL), 0);
    ck_assert_int_eq(post(&db, "SUBSCRIPTION", -20000, NULL), DM_ECONFLICT);
    ck_assert_int_eq(post(&db, "ADJUSTMENT", -10001, NULL), DM_ECONFLICT);
    ck_assert_int_eq(post(&db, "ADJUSTMENT", -10000, NULL), 0);
    DM_EXPECT_SQL(url, "0", "SELECT credit_balance FROM users WHERE id = '%s'", uid);
    DM_EXPECT_SQL(url, "3", "SELECT count(*) FROM transactions");
}
END_TEST

START_TEST(signs_types_and_users_are_checked)
{
    ck_assert_int_eq(post(&db, "SUBSCRIPTION", 5000, NULL), DM_EINVAL);
    ck_assert_int_eq(post(&db, "REFUND", -5000, NULL), DM_EINVAL);
    ck_assert_int_eq(post(&db, "ADJUSTMENT", 0, NULL), DM_EINVAL);
    ck_assert_int_eq(post(&db, "TOPUP", 5000, NULL), DM_EINVAL); /* top-ups go through a gateway */
    ck_assert_int_eq(post(&db, "GIFT", 5000, NULL), DM_EINVAL);
    ck_assert_int_eq(post(&db, "BONUS", 0, NULL), 0);
    dm_ledger_post p = { "00000000-0000-4000-8000-000000000000", "ADJUSTMENT", 5, NULL, NULL };
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__ledger_post(&db, &p, NULL, &err), DM_ENOTFOUND);
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM transactions");
}
END_TEST

static void open_topup(dm_ledger_tx *tx, int64_t amount)
{
    dm_ledger_topup t = { uid, amount, "manual", "bank_transfer", NULL, 3600 };
    dm_err_t err = { 0 };
    ck_assert_msg(dm__ledger_topup_open(&db, &t, tx, &err) == 0, "open: %s", err.msg);
}

static dm_settle_result settle(dm_db *d, const char *id, const char *status)
{
    dm_settle_result res = 0;
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__db_begin(d, &err), 0);
    ck_assert_msg(dm__ledger_settle(d, id, status, NULL, &res, &err) == 0, "settle: %s", err.msg);
    ck_assert_int_eq(dm__db_commit(d, &err), 0);
    return res;
}

START_TEST(topups_settle_forward_only_and_credit_once)
{
    dm_ledger_tx a, b;
    open_topup(&a, 50000);
    open_topup(&b, 70000);
    ck_assert_msg(strncmp(a.custom_id, "TXMP-", 5) == 0 && strtol(a.custom_id + 5, NULL, 10) >= 101, "%s",
                  a.custom_id);
    ck_assert_int_eq(strtol(b.custom_id + 5, NULL, 10), strtol(a.custom_id + 5, NULL, 10) + 1);
    DM_EXPECT_SQL(url, "0", "SELECT credit_balance FROM users WHERE id = '%s'", uid);
    ck_assert_int_eq(settle(&db, a.id, "PENDING"), DM_SETTLE_SAME);
    ck_assert_int_eq(settle(&db, a.id, "SUCCESS"), DM_SETTLE_APPLIED);
    ck_assert_int_eq(settle(&db, a.id, "SUCCESS"), DM_SETTLE_SAME);
    ck_assert_int_eq(settle(&db, a.id, "PENDING"), DM_SETTLE_STALE);
    ck_assert_int_eq(settle(&db, a.id, "FAILED"), DM_SETTLE_STALE);
    ck_assert_int_eq(settle(&db, b.id, "EXPIRED"), DM_SETTLE_APPLIED);
    ck_assert_int_eq(settle(&db, b.id, "SUCCESS"), DM_SETTLE_STALE);
    DM_EXPECT_SQL(url, "50000", "SELECT credit_balance FROM users WHERE id = '%s'", uid);
    DM_EXPECT_SQL(url, "SUCCESS|0|50000", "SELECT status || '|' || balance_before || '|' || balance_after "
                                          "FROM transactions WHERE id = '%s'", a.id);
    DM_EXPECT_SQL(url, "EXPIRED|", "SELECT status || '|' || coalesce(balance_after::text, '') "
                                   "FROM transactions WHERE id = '%s'", b.id);
    dm_ledger_tx f;
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__ledger_find(&db, a.custom_id, uid, false, &f, &err), 0);
    ck_assert_str_eq(f.id, a.id);
    ck_assert_int_eq(dm__ledger_find(&db, a.id, "00000000-0000-4000-8000-000000000000", false, &f, &err),
                     DM_ENOTFOUND);
}
END_TEST

/* The gateway's reference from create is stored on the row and read back
 * with it: what the wallet hands payment plugins from ABI 1.5 (see
 * tests/unit/test_payment_order.c for the rest of the way). */
START_TEST(the_gateway_reference_from_create_is_kept_on_the_row)
{
    dm_ledger_tx a, f;
    open_topup(&a, 25000);
    ck_assert_str_eq(a.gateway_ref, "");
    json_t *pay = json_pack("{s:s}", "token", "tok");
    dm_err_t err = { 0 };
    ck_assert_msg(dm__ledger_topup_attach(&db, a.id, "gw-ref-25000", pay, 0, &err) == 0, "attach: %s", err.msg);
    ck_assert_int_eq(dm__ledger_find(&db, a.custom_id, uid, false, &f, &err), 0);
    ck_assert_str_eq(f.gateway_ref, "gw-ref-25000");
    /* An empty reference keeps the one stored. */
    ck_assert_msg(dm__ledger_topup_attach(&db, a.id, "", pay, 0, &err) == 0, "attach again: %s", err.msg);
    ck_assert_int_eq(dm__ledger_find(&db, a.id, NULL, false, &f, &err), 0);
    ck_assert_str_eq(f.gateway_ref, "gw-ref-25000");
    json_decref(pay);
}
END_TEST

typedef struct worker {
    const char *kind;   /* "debit" or "settle" */
    const char *tx_id;
    int rc;
    dm_settle_result res;
} worker;

static void *run(void *arg)
{
    worker *w = arg;
    dm_db d;
    dm_err_t err = { 0 };
    if (dm__db_init(&d, url, 2, 10000, &err) != 0) {
        w->rc = -100;
        return NULL;
    }
    if (strcmp(w->kind, "debit") == 0) {
        w->rc = post(&d, "SUBSCRIPTION", -10000, NULL);
    } else {
        w->rc = dm__db_begin(&d, &err);
        if (w->rc == 0)
            w->rc = dm__ledger_settle(&d, w->tx_id, "SUCCESS", NULL, &w->res, &err);
        if (w->rc == 0)
            w->rc = dm__db_commit(&d, &err);
        else
            dm__db_rollback(&d);
    }
    dm__db_fini(&d);
    return NULL;
}

START_TEST(concurrent_debits_never_overdraw)
{
    ck_assert_int_eq(post(&db, "ADJUSTMENT", 50000, NULL), 0);
    enum { N = 12 };
    worker ws[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        ws[i] = (worker){ .kind = "debit" };
        ck_assert(pthread_create(&th[i], NULL, run, &ws[i]) == 0);
    }
    int ok = 0, refused = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ok += ws[i].rc == 0;
        refused += ws[i].rc == DM_ECONFLICT;
    }
    ck_assert_int_eq(ok, 5);
    ck_assert_int_eq(refused, N - 5);
    DM_EXPECT_SQL(url, "0", "SELECT credit_balance FROM users WHERE id = '%s'", uid);
}
END_TEST

START_TEST(concurrent_settlements_credit_once)
{
    dm_ledger_tx t;
    open_topup(&t, 40000);
    enum { N = 10 };
    worker ws[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        ws[i] = (worker){ .kind = "settle", .tx_id = t.id };
        ck_assert(pthread_create(&th[i], NULL, run, &ws[i]) == 0);
    }
    int applied = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(ws[i].rc == 0, "settler %d: %d", i, ws[i].rc);
        applied += ws[i].res == DM_SETTLE_APPLIED;
    }
    ck_assert_int_eq(applied, 1);
    DM_EXPECT_SQL(url, "40000", "SELECT credit_balance FROM users WHERE id = '%s'", uid);
}
END_TEST

START_TEST(the_invariant_check_catches_a_balance_changed_behind_its_back)
{
    ck_assert_int_eq(post(&db, "ADJUSTMENT", 1000, NULL), 0);
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM ledger_violations()");
    free(dm_test_db_scalarf(url, "UPDATE users SET credit_balance = credit_balance + 1 WHERE id = '%s'", uid));
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM ledger_violations()");
    free(dm_test_db_scalarf(url, "UPDATE users SET credit_balance = credit_balance - 1 WHERE id = '%s'", uid));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("ledger");
    TCase *tc = tcase_create("ledger");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, posts_record_balances_and_refuse_going_below_zero);
    tcase_add_test(tc, signs_types_and_users_are_checked);
    tcase_add_test(tc, topups_settle_forward_only_and_credit_once);
    tcase_add_test(tc, the_gateway_reference_from_create_is_kept_on_the_row);
    tcase_add_test(tc, concurrent_debits_never_overdraw);
    tcase_add_test(tc, concurrent_settlements_credit_once);
    tcase_add_test(tc, the_invariant_check_catches_a_balance_changed_behind_its_back);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
