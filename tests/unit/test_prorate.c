/*
 * test_prorate.c — proration arithmetic: dm__prorate (policy_billing.c)
 * over a table of cases (start, middle and last second of a period; ceil
 * against floor; amounts up to 10^12 over long periods without overflow;
 * clamping; zeros), and dm__sub_value (policy_billing.c), which values the
 * remaining time per billing period, including time paid ahead.
 */
#include <stdint.h>

#include "subscriptions/policy.h"
#include "dm_test.h"

#define DAY 86400LL
#define MONTH (30 * DAY)

typedef struct prorate_case {
    const char *name;
    int64_t amount, part, whole;
    int64_t up, down; /* want with round_up true / false */
} prorate_case;

static const prorate_case cases[] = {
    /* A 30-day period of 100 000 (2 592 000 s). */
    { "start of the period", 100000, MONTH, MONTH, 100000, 100000 },
    { "half way", 100000, MONTH / 2, MONTH, 50000, 50000 },
    { "one day left", 100000, DAY, MONTH, 3334, 3333 },
    { "last second", 100000, 1, MONTH, 1, 0 },
    { "one second in", 100000, MONTH - 1, MONTH, 100000, 99999 },
    { "exact division has no rounding", 90000, 10 * DAY, MONTH, 30000, 30000 },
    { "a third, ceil vs floor", 100, 1, 3, 34, 33 },
    /* Large: 10^12 × 3660 days of seconds overflows 64 bits in between. */
    { "10^12 over 3660 days, all", 1000000000000LL, 3660 * DAY, 3660 * DAY, 1000000000000LL, 1000000000000LL },
    { "10^12 over 3660 days, half", 1000000000000LL, 1830 * DAY, 3660 * DAY, 500000000000LL, 500000000000LL },
    { "10^12 over 3660 days, last second", 1000000000000LL, 1, 3660 * DAY, 3163, 3162 },
    { "10^12 over 3660 days, one second in", 1000000000000LL, 3660 * DAY - 1, 3660 * DAY, 999999996838LL,
      999999996837LL },
    /* Clamps and zeros. */
    { "part beyond whole clamps", 100000, 2 * MONTH, MONTH, 100000, 100000 },
    { "nothing left", 100000, 0, MONTH, 0, 0 },
    { "negative part", 100000, -5, MONTH, 0, 0 },
    { "zero amount", 0, DAY, MONTH, 0, 0 },
    { "zero whole", 100000, DAY, 0, 0, 0 },
    { "negative whole", 100000, DAY, -1, 0, 0 },
};

START_TEST(prorate_table)
{
    const prorate_case *c = &cases[_i];
    int64_t up = dm__prorate(c->amount, c->part, c->whole, true);
    int64_t down = dm__prorate(c->amount, c->part, c->whole, false);
    ck_assert_msg(up == c->up, "%s: ceil(%lld × %lld ÷ %lld) = %lld, want %lld", c->name, (long long)c->amount,
                  (long long)c->part, (long long)c->whole, (long long)up, (long long)c->up);
    ck_assert_msg(down == c->down, "%s: floor(%lld × %lld ÷ %lld) = %lld, want %lld", c->name,
                  (long long)c->amount, (long long)c->part, (long long)c->whole, (long long)down,
                  (long long)c->down);
    ck_assert_msg(down <= up && up - down <= 1, "%s: ceil and floor differ by at most one", c->name);
}
END_TEST

START_TEST(subs_prorate_matches_within_one_period)
{
    /* Within one period it is dm__prorate with whole = period_days days. */
    const int64_t parts[] = { 0, 1, DAY, MONTH / 2, MONTH - 1, MONTH };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        for (int up = 0; up < 2; up++)
            ck_assert_msg(dm__sub_value(100000, parts[i], 30, up) == dm__prorate(100000, parts[i], MONTH, up),
                          "part %lld round_up %d", (long long)parts[i], up);
}
END_TEST

START_TEST(subs_prorate_counts_periods_paid_ahead)
{
    /* After a renewal paid early, a period and a half left is worth 1.5 prices. */
    ck_assert_int_eq(dm__sub_value(100000, MONTH + MONTH / 2, 30, false), 150000);
    ck_assert_int_eq(dm__sub_value(100000, 2 * MONTH, 30, false), 200000);
    ck_assert_int_eq(dm__sub_value(100000, 2 * MONTH + 1, 30, true), 200001);
    ck_assert_int_eq(dm__sub_value(100000, 2 * MONTH + 1, 30, false), 200000);
    /* Zeros and the saturating edge. */
    ck_assert_int_eq(dm__sub_value(0, MONTH, 30, true), 0);
    ck_assert_int_eq(dm__sub_value(100000, 0, 30, true), 0);
    ck_assert_int_eq(dm__sub_value(100000, MONTH, 0, true), 0);
    ck_assert_int_eq(dm__sub_value(-5, MONTH, 30, true), 0);
    ck_assert_msg(dm__sub_value(1000000000000LL, INT64_MAX, 1, true) == INT64_MAX, "saturates, no overflow");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("prorate");
    TCase *tc = tcase_create("prorate");
    tcase_add_loop_test(tc, prorate_table, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, subs_prorate_matches_within_one_period);
    tcase_add_test(tc, subs_prorate_counts_periods_paid_ahead);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
