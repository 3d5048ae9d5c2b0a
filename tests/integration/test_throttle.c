/*
 * test_throttle.c — failed-login throttling: the limit per account and per
 * address, a Retry-After that tells when the oldest failure ages out, and
 * pruning. Time is moved by rewriting failed_at, never by sleeping.
 */
#include <stdlib.h>
#include <string.h>

#include "accounts/throttle.h"
#include "dm_test.h"
#include "testdb.h"

static char *url;
static dm_db db;

static void setup(void)
{
    url = dm_test_db_create_migrated("throttle");
    dm_err_t err;
    ck_assert_msg(dm__db_init(&db, url, 2, 10000, &err) == 0, "db init: %s", err.msg);
}

static void teardown(void)
{
    dm__db_fini(&db);
    dm_test_db_drop(url);
    free(url);
}

static void fail_n(const char *ip, const char *acct, int n)
{
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(dm__throttle_failed(&db, ip, acct, NULL), 0);
}

static int check(const char *ip, const char *acct, int *wait)
{
    *wait = -1;
    dm_err_t err;
    dm_err_clear(&err);
    return dm__throttle_check(&db, ip, acct, wait, &err);
}

START_TEST(account_limit_then_retry_after)
{
    int wait;
    fail_n("10.0.0.1", "ani@example.id", DM_THROTTLE_MAX_PER_ACCOUNT - 1);
    ck_assert_int_eq(check("10.0.0.2", "ani@example.id", &wait), 0);
    fail_n("10.0.0.3", "ani@example.id", 1);
    ck_assert_int_eq(check("10.0.0.4", "ani@example.id", &wait), DM_EBUSY);
    ck_assert_msg(wait > DM_THROTTLE_WINDOW_S - 30 && wait <= DM_THROTTLE_WINDOW_S,
                  "retry after about the window, got %d", wait);
    /* Other accounts from a fresh address are not affected. */
    ck_assert_int_eq(check("10.0.0.5", "budi@example.id", &wait), 0);
}
END_TEST

START_TEST(retry_after_follows_the_oldest_failure_in_the_window)
{
    int wait;
    fail_n(NULL, "ani@example.id", DM_THROTTLE_MAX_PER_ACCOUNT);
    /* Age all failures so the oldest leaves the window in ~100 s. */
    free(dm_test_db_scalarf(url, "UPDATE auth_failures SET failed_at = now() - interval '%d seconds' "
                                 "RETURNING 1", DM_THROTTLE_WINDOW_S - 100));
    ck_assert_int_eq(check(NULL, "ani@example.id", &wait), DM_EBUSY);
    ck_assert_msg(wait >= 99 && wait <= 101, "retry after ~100 s, got %d", wait);
    free(dm_test_db_scalarf(url, "UPDATE auth_failures SET failed_at = now() - interval '%d seconds' "
                                 "RETURNING 1", DM_THROTTLE_WINDOW_S + 1));
    ck_assert_int_eq(check(NULL, "ani@example.id", &wait), 0);
}
END_TEST

START_TEST(address_limit_covers_many_accounts)
{
    int wait;
    char acct[64];
    for (int i = 0; i < DM_THROTTLE_MAX_PER_IP; i++) {
        snprintf(acct, sizeof acct, "user%d@example.id", i);
        fail_n("192.0.2.7", acct, 1);
    }
    ck_assert_int_eq(check("192.0.2.7", "new@example.id", &wait), DM_EBUSY);
    ck_assert_int_gt(wait, 0);
    ck_assert_int_eq(check("192.0.2.8", "new@example.id", &wait), 0);
}
END_TEST

START_TEST(prune_removes_only_old_failures)
{
    fail_n("10.0.0.1", "ani@example.id", 2);
    free(dm_test_db_scalarf(url, "UPDATE auth_failures SET failed_at = now() - interval '1 day' "
                                 "WHERE scope = 'ip' RETURNING 1"));
    long n = -1;
    ck_assert_int_eq(dm__throttle_prune(&db, &n, NULL), 0);
    ck_assert_int_eq(n, 2);
    DM_EXPECT_SQL(url, "2", "SELECT count(*) FROM auth_failures WHERE scope = 'account'");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("throttle");
    TCase *tc = tcase_create("throttle");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, account_limit_then_retry_after);
    tcase_add_test(tc, retry_after_follows_the_oldest_failure_in_the_window);
    tcase_add_test(tc, address_limit_covers_many_accounts);
    tcase_add_test(tc, prune_removes_only_old_failures);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
