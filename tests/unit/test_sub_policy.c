/*
 * test_sub_policy.c — the subscription rules of policy.h that need no
 * database: every (status, operation) pair of the status table against the
 * explicit matrix below, the refusals of unknown statuses and operations,
 * what the period end does next in each case, and the period arithmetic
 * (whole days of 24 hours, in µs, and its ms view).
 */
#include <stdio.h>
#include <string.h>

#include "dm_test.h"
#include "subscriptions/policy.h"

/* Rows: the current status (NULL: no subscription yet); columns: the
 * operations in dm_sub_op order; "-" = forbidden. */
static const char *const statuses[5] = { NULL, "ACTIVE", "SUSPENDED", "EXPIRED", "CANCELLED" };
static const char *const ops[DM_SUB_NOPS] = {
    "subscribe", "renew", "period-renew", "suspend", "grace-expire", "cancel", "force-cancel", "schedule-cancel",
    "period-cancel", "expire", "extend", "extend-resume", "upgrade", "admin-upgrade", "auto-renew", "runtime",
};
#define A "ACTIVE"
#define S "SUSPENDED"
#define E "EXPIRED"
#define C "CANCELLED"
#define X "-"
static const char *const expected[5][DM_SUB_NOPS] = {
    /*           subs renew prenew susp grace cancel force sched pcancel expire ext ext-res upg aupg auto rt */
    /* (none)    */ { A, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X },
    /* ACTIVE    */ { X, A, A, S, E, C, C, A, C, E, A, X, A, A, A, A },
    /* SUSPENDED */ { X, A, X, X, E, C, C, X, X, E, S, A, X, S, S, X },
    /* EXPIRED   */ { X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X },
    /* CANCELLED */ { X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X },
};

START_TEST(every_pair_matches_the_matrix)
{
    int allowed = 0;
    for (int s = 0; s < 5; s++) {
        for (int o = 0; o < DM_SUB_NOPS; o++) {
            const char *to = NULL;
            const char *from = statuses[s] != NULL ? statuses[s] : "(none)";
            int rc = dm__sub_next(statuses[s], (dm_sub_op)o, &to);
            if (strcmp(expected[s][o], X) == 0) {
                ck_assert_msg(rc == DM_ECONFLICT, "%s from %s: want forbidden (DM_ECONFLICT), got rc %d to %s",
                              ops[o], from, rc, to ? to : "(none)");
                ck_assert_msg(to == NULL, "%s from %s: a refusal set *to", ops[o], from);
            } else {
                allowed++;
                ck_assert_msg(rc == 0, "%s from %s: want %s, got rc %d", ops[o], from, expected[s][o], rc);
                ck_assert_msg(to != NULL && strcmp(to, expected[s][o]) == 0, "%s from %s: want %s, got %s", ops[o],
                              from, expected[s][o], to ? to : "(null)");
            }
        }
    }
    ck_assert_msg(allowed == 24, "the matrix allows 24 pairs, counted %d", allowed);
}
END_TEST

START_TEST(the_published_names_match)
{
    for (int o = 0; o < DM_SUB_NOPS; o++)
        ck_assert_msg(strcmp(dm__sub_op_name((dm_sub_op)o), ops[o]) == 0, "op %d: %s, want %s", o,
                      dm__sub_op_name((dm_sub_op)o), ops[o]);
    ck_assert_str_eq(dm__sub_op_name(DM_SUB_NOPS), "?");
    ck_assert_int_eq(DM_SUB_NSTATUS, 4);
    for (int i = 0; i < DM_SUB_NSTATUS; i++) {
        ck_assert_str_eq(dm__sub_statuses[i], statuses[i + 1]);
        ck_assert_msg(dm__sub_status_valid(statuses[i + 1]), "%s is valid", statuses[i + 1]);
    }
}
END_TEST

START_TEST(unknown_status_or_op_is_einval)
{
    const char *to = "untouched";
    ck_assert_int_eq(dm__sub_next("active", DM_SUB_OP_RENEW, &to), DM_EINVAL);
    ck_assert_int_eq(dm__sub_next("RUNNING", DM_SUB_OP_RENEW, &to), DM_EINVAL);
    ck_assert_int_eq(dm__sub_next("", DM_SUB_OP_SUBSCRIBE, &to), DM_EINVAL);
    ck_assert_int_eq(dm__sub_next("ACTIVE", DM_SUB_NOPS, &to), DM_EINVAL);
    ck_assert_int_eq(dm__sub_next("ACTIVE", (dm_sub_op)-1, &to), DM_EINVAL);
    ck_assert_str_eq(to, "untouched");
    ck_assert_msg(!dm__sub_status_valid("PAID"), "PAID is no status");
    ck_assert_msg(!dm__sub_status_valid(NULL), "NULL is no status");
    ck_assert_msg(!dm__sub_status_valid(""), "\"\" is no status");
}
END_TEST

/* ---- what the period end does next ------------------------------------- */

#define DAY_MS 86400000LL
#define NOW 1767225600000LL /* 2026-01-01T00:00:00Z */

static dm_sub sub_at(const char *status, int64_t end_ms, int64_t grace_ms, bool auto_renew, bool cancel)
{
    dm_sub s;
    memset(&s, 0, sizeof s);
    snprintf(s.status, sizeof s.status, "%s", status);
    s.period_days = 30;
    s.period_end_ms = end_ms;
    s.period_end_us = end_ms * 1000;
    s.grace_until_ms = grace_ms;
    s.grace_until_us = grace_ms * 1000;
    s.auto_renew = auto_renew;
    s.cancel_at_period_end = cancel;
    return s;
}

START_TEST(the_period_end_does_what_is_due)
{
    const struct {
        const char *what;
        dm_sub      s;
        dm_sub_op   want;
    } cases[] = {
        { "active, a second to go", sub_at("ACTIVE", NOW + 1000, 0, true, false), DM_SUB_NOPS },
        { "active, cancel scheduled", sub_at("ACTIVE", NOW, 0, true, true), DM_SUB_OP_PERIOD_CANCEL },
        { "active, auto-renew", sub_at("ACTIVE", NOW, 0, true, false), DM_SUB_OP_PERIOD_RENEW },
        { "active, no auto-renew", sub_at("ACTIVE", NOW, 0, false, false), DM_SUB_OP_SUSPEND },
        { "active, grace over too", sub_at("ACTIVE", NOW - 3 * DAY_MS, 0, false, false), DM_SUB_OP_GRACE_EXPIRE },
        { "suspended, in its grace", sub_at("SUSPENDED", NOW - DAY_MS, NOW + 1, true, false), DM_SUB_NOPS },
        { "suspended, grace over", sub_at("SUSPENDED", NOW - DAY_MS, NOW, true, false), DM_SUB_OP_GRACE_EXPIRE },
        { "expired", sub_at("EXPIRED", NOW - DAY_MS, 0, true, false), DM_SUB_NOPS },
        { "cancelled", sub_at("CANCELLED", NOW - DAY_MS, 0, true, true), DM_SUB_NOPS },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dm_sub_op got = dm__sub_due(&cases[i].s, NOW, 3);
        ck_assert_msg(got == cases[i].want, "%s: %s, want %s", cases[i].what, dm__sub_op_name(got),
                      dm__sub_op_name(cases[i].want));
    }
    /* A refused auto-renewal: grace from the period end. */
    dm_sub s = sub_at("ACTIVE", NOW - 3 * DAY_MS + 1, 0, true, false);
    ck_assert_int_eq(dm__sub_unpaid(&s, NOW, 3), DM_SUB_OP_SUSPEND);
    ck_assert_int_eq(dm__sub_grace_end(&s, 3), (NOW + 1) * 1000);
    s.period_end_us -= 1000;
    ck_assert_int_eq(dm__sub_unpaid(&s, NOW, 3), DM_SUB_OP_GRACE_EXPIRE);
    dm_sub g = sub_at("SUSPENDED", NOW - DAY_MS, NOW + 5, true, false);
    ck_assert_int_eq(dm__sub_grace_end(&g, 3), (NOW + 5) * 1000);
}
END_TEST

/* ---- periods and prices -------------------------------------------------- */

START_TEST(a_day_is_86400_seconds_in_microseconds)
{
    ck_assert_int_eq(dm__sub_plus_days(0, 1), 86400LL * 1000000);
    ck_assert_int_eq(dm__sub_plus_days(NOW * 1000, 30), (NOW + 30 * DAY_MS) * 1000);
    /* Whatever digits a time has, whole days keep them. */
    ck_assert_int_eq(dm__sub_plus_days(1767225600123457LL, 3660), 1767225600123457LL + 3660LL * 86400 * 1000000);
    ck_assert_int_eq(dm__sub_plus_days(5, 0), 5);
    ck_assert_int_eq(dm__sub_ms(1499), 1);
    ck_assert_int_eq(dm__sub_ms(1500), 2);
    ck_assert_int_eq(dm__sub_ms(-1500), -2);
    ck_assert_int_eq(dm__sub_ms(NOW * 1000), NOW);
}
END_TEST

START_TEST(an_upgrade_charges_the_difference_for_the_time_left)
{
    dm_sub s = sub_at("ACTIVE", NOW + 15 * DAY_MS, 0, true, false);
    s.price = 100000;
    ck_assert_int_eq(dm__sub_remaining_s(&s, NOW), 15 * 86400);
    ck_assert_int_eq(dm__sub_upgrade_charge(&s, 160000, NOW), 30000);
    /* 10 days and 1 s left of 30: ceil(60 000 × 864 001 ÷ 2 592 000). */
    s.period_end_ms = NOW + 10 * DAY_MS + 1000;
    ck_assert_int_eq(dm__sub_upgrade_charge(&s, 160000, NOW), 20001);
    ck_assert_int_eq(dm__sub_upgrade_charge(&s, 100000, NOW), 0);
    ck_assert_int_eq(dm__sub_upgrade_charge(&s, 50000, NOW), 0);
    s.period_end_ms = NOW - 1;
    ck_assert_int_eq(dm__sub_remaining_s(&s, NOW), 0);
    ck_assert_int_eq(dm__sub_upgrade_charge(&s, 160000, NOW), 0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("sub_policy");
    TCase *table = tcase_create("status_table");
    tcase_add_test(table, every_pair_matches_the_matrix);
    tcase_add_test(table, the_published_names_match);
    tcase_add_test(table, unknown_status_or_op_is_einval);
    suite_add_tcase(s, table);
    TCase *rules = tcase_create("rules");
    tcase_add_test(rules, the_period_end_does_what_is_due);
    tcase_add_test(rules, a_day_is_86400_seconds_in_microseconds);
    tcase_add_test(rules, an_upgrade_charges_the_difference_for_the_time_left);
    suite_add_tcase(s, rules);
    return s;
}

DM_TEST_MAIN(make_suite)
