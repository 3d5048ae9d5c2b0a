/*
 * test_instance_state.c — the instance lifecycle table (instance_state.h):
 * every (status, operation) pair against the explicit matrix below, and the
 * refusals of unknown statuses and operations. No database.
 */
#include <string.h>

#include "dm_test.h"
#include "instances/instance_state.h"

/* Rows: the current status; columns: the operation; "-" = forbidden. */
static const char *const statuses[10] = {
    "PENDING", "PROVISIONING", "RUNNING", "STOPPING", "STOPPED",
    "STARTING", "RESTARTING", "ERROR", "TERMINATING", "TERMINATED",
};
static const char *const ops[11] = {
    "provision", "start", "stop", "restart", "terminate", "retry-provision",
    "running", "stopped", "error", "terminated", "exited",
};
#define P "PROVISIONING"
#define SG "STARTING"
#define SP "STOPPING"
#define RS "RESTARTING"
#define TG "TERMINATING"
#define PD "PENDING"
#define R "RUNNING"
#define SD "STOPPED"
#define E "ERROR"
#define TD "TERMINATED"
static const char *const expected[10][11] = {
    /*              provision start stop restart terminate retry running stopped error terminated exited */
    /* PENDING      */ { P, "-", "-", "-", TG, "-", R, "-", E, "-", "-" },
    /* PROVISIONING */ { "-", "-", "-", "-", TG, "-", R, "-", E, "-", "-" },
    /* RUNNING      */ { "-", "-", SP, RS, TG, "-", "-", "-", E, "-", SD },
    /* STOPPING     */ { "-", "-", "-", "-", TG, "-", "-", SD, E, "-", "-" },
    /* STOPPED      */ { "-", SG, "-", "-", TG, "-", "-", "-", E, "-", "-" },
    /* STARTING     */ { "-", "-", "-", "-", TG, "-", R, "-", E, "-", "-" },
    /* RESTARTING   */ { "-", "-", "-", "-", TG, "-", R, "-", E, "-", "-" },
    /* ERROR        */ { "-", "-", SP, RS, TG, PD, "-", "-", "-", "-", "-" },
    /* TERMINATING  */ { "-", "-", "-", "-", "-", "-", "-", "-", E, TD, "-" },
    /* TERMINATED   */ { "-", "-", "-", "-", "-", PD, "-", "-", "-", "-", "-" },
};

START_TEST(every_pair_matches_the_matrix)
{
    int allowed = 0;
    for (int s = 0; s < 10; s++) {
        for (int o = 0; o < 11; o++) {
            const char *to = NULL;
            int rc = dm__instance_next(statuses[s], ops[o], &to);
            if (strcmp(expected[s][o], "-") == 0) {
                ck_assert_msg(rc == DM_ECONFLICT, "%s from %s: want forbidden (DM_ECONFLICT), got rc %d to %s",
                              ops[o], statuses[s], rc, to ? to : "(none)");
            } else {
                allowed++;
                ck_assert_msg(rc == 0, "%s from %s: want %s, got rc %d", ops[o], statuses[s], expected[s][o], rc);
                ck_assert_msg(to != NULL && strcmp(to, expected[s][o]) == 0, "%s from %s: want %s, got %s",
                              ops[o], statuses[s], expected[s][o], to ? to : "(null)");
            }
        }
    }
    ck_assert_msg(allowed == 31, "the matrix allows 31 pairs, counted %d", allowed);
}
END_TEST

START_TEST(the_published_lists_match)
{
    for (int i = 0; i < 10; i++) {
        ck_assert_msg(strcmp(dm__instance_statuses[i], statuses[i]) == 0, "status %d: %s", i,
                      dm__instance_statuses[i]);
        ck_assert_msg(dm__instance_status_valid(statuses[i]), "%s is valid", statuses[i]);
    }
    for (int i = 0; i < 11; i++)
        ck_assert_msg(strcmp(dm__instance_ops[i], ops[i]) == 0, "op %d: %s", i, dm__instance_ops[i]);
}
END_TEST

START_TEST(unknown_status_or_op_is_einval)
{
    const char *to = "untouched";
    ck_assert_int_eq(dm__instance_next("RUNNING", "reboot", &to), DM_EINVAL);
    ck_assert_int_eq(dm__instance_next("running", "stop", &to), DM_EINVAL);
    ck_assert_int_eq(dm__instance_next("ACTIVE", "stop", &to), DM_EINVAL);
    ck_assert_int_eq(dm__instance_next(NULL, "stop", &to), DM_EINVAL);
    ck_assert_int_eq(dm__instance_next("RUNNING", NULL, &to), DM_EINVAL);
    ck_assert_str_eq(to, "untouched");
    ck_assert_msg(!dm__instance_status_valid("ACTIVE"), "ACTIVE is no instance status");
    ck_assert_msg(!dm__instance_status_valid(NULL), "NULL is no status");
    /* A forbidden pair leaves *to alone too. */
    ck_assert_int_eq(dm__instance_next("STOPPED", "stop", &to), DM_ECONFLICT);
    ck_assert_str_eq(to, "untouched");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("instance_state");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, every_pair_matches_the_matrix);
    tcase_add_test(tc, the_published_lists_match);
    tcase_add_test(tc, unknown_status_or_op_is_einval);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
