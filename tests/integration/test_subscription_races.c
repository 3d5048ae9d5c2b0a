/*
 * test_subscription_races.c — subscription operations racing each other
 * from separate connections against a real PostgreSQL: 30 users for 5
 * slots, one user with credit for 3 of 20 services, one user racing
 * itself, an upgrade racing a cancel, and plan rows locked in one order so
 * opposite plan moves cannot deadlock. After every test the ledger and
 * quota invariants hold.
 */
#include "subs_fixture.h"

/* ---- races, each thread on its own connection --------------------------- */

typedef struct racer {
    pthread_barrier_t *go;
    const char *op; /* "subscribe", "upgrade", "cancel" */
    char uid[37], plan_id[37], sub_id[37];
    int rc;
    const char *code;
} racer;

static void *race(void *arg)
{
    racer *w = arg;
    dm_db d;
    dm_err_t err = { 0 };
    w->rc = dm__db_init(&d, url, 5, 20000, &err);
    if (w->rc == 0)
        w->rc = dm__db_ensure(&d, &err);
    pthread_barrier_wait(w->go);
    json_t *sub = NULL;
    if (w->rc != 0)
        w->code = "connect failed";
    else if (strcmp(w->op, "subscribe") == 0)
        w->rc = dm__subs_subscribe(&d, w->uid, w->plan_id, true, T0, &sub, &w->code, &err);
    else if (strcmp(w->op, "upgrade") == 0)
        w->rc = dm__subs_upgrade(&d, w->uid, w->sub_id, w->plan_id, T0 + DAY_MS, &sub, &w->code, &err);
    else
        w->rc = dm__subs_cancel(&d, w->uid, w->sub_id, NULL, "prorated", T0 + DAY_MS, &sub, &w->code, &err);
    if (w->code == NULL)
        w->code = w->rc == 0 ? "" : "internal";
    json_decref(sub);
    dm__db_fini(&d);
    return NULL;
}

static void run_race(racer *w, int n)
{
    pthread_barrier_t go;
    pthread_t t[32];
    ck_assert(n <= 32);
    ck_assert_int_eq(pthread_barrier_init(&go, NULL, (unsigned)n), 0);
    for (int i = 0; i < n; i++) {
        w[i].go = &go;
        ck_assert_int_eq(pthread_create(&t[i], NULL, race, &w[i]), 0);
    }
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
}

START_TEST(thirty_users_race_for_five_slots)
{
    char svc[37], pl[37];
    service("scarce", svc);
    plan(svc, "basic", 1000, 30, 5, pl);
    racer w[30];
    memset(w, 0, sizeof w);
    for (int i = 0; i < 30; i++) {
        char email[64];
        snprintf(email, sizeof email, "racer%d@example.id", i);
        user(email, w[i].uid);
        credit(w[i].uid, 1000);
        w[i].op = "subscribe";
        memcpy(w[i].plan_id, pl, 37);
    }
    run_race(w, 30);
    int won = 0, exhausted = 0;
    for (int i = 0; i < 30; i++) {
        won += w[i].rc == 0;
        exhausted += w[i].rc == DM_ECONFLICT && strcmp(w[i].code, "QUOTA_EXHAUSTED") == 0;
        ck_assert_msg(w[i].rc == 0 || strcmp(w[i].code, "QUOTA_EXHAUSTED") == 0, "racer %d: rc %d %s", i, w[i].rc,
                      w[i].code);
    }
    ck_assert_int_eq(won, 5);
    ck_assert_int_eq(exhausted, 25);
    DM_EXPECT_SQL(url, "5", "SELECT used_quota FROM plans WHERE id = '%s'", pl);
    DM_EXPECT_SQL(url, "5", "SELECT count(*) FROM subscriptions");
    DM_EXPECT_SQL(url, "5", "SELECT count(*) FROM transactions WHERE type = 'SUBSCRIPTION'");
    DM_EXPECT_SQL(url, "5", "SELECT count(*) FROM jobs WHERE kind = 'instance.provision'");
    DM_EXPECT_SQL(url, "25", "SELECT count(*) FROM users WHERE credit_balance = 1000");
}
END_TEST

START_TEST(one_user_with_credit_for_three_of_twenty)
{
    char uid[37];
    user("greedy@example.id", uid);
    credit(uid, 3000);
    racer w[20];
    memset(w, 0, sizeof w);
    for (int i = 0; i < 20; i++) {
        char slug[32], svc[37];
        snprintf(slug, sizeof slug, "svc%d", i);
        service(slug, svc);
        plan(svc, "basic", 1000, 30, 5, w[i].plan_id);
        memcpy(w[i].uid, uid, 37);
        w[i].op = "subscribe";
    }
    run_race(w, 20);
    int won = 0;
    for (int i = 0; i < 20; i++) {
        won += w[i].rc == 0;
        ck_assert_msg(w[i].rc == 0 || strcmp(w[i].code, "INSUFFICIENT_CREDITS") == 0, "racer %d: rc %d %s", i,
                      w[i].rc, w[i].code);
    }
    ck_assert_int_eq(won, 3);
    ck_assert_int_eq(balance(uid), 0);
    DM_EXPECT_SQL(url, "3", "SELECT count(*) FROM subscriptions");
    DM_EXPECT_SQL(url, "3", "SELECT sum(used_quota) FROM plans");
    DM_EXPECT_SQL(url, "3", "SELECT count(*) FROM instances");
}
END_TEST

/* One user's parallel subscribes to one service (two plans, no
 * Idempotency-Key): the one-live-per-service index lets exactly one
 * through, and the others are ALREADY_SUBSCRIBED — never an internal
 * error from a unique violation, never a second charge or slot. */
START_TEST(one_user_racing_itself_on_one_service)
{
    char uid[37], svc[37], a[37], b[37];
    user("twin@example.id", uid);
    credit(uid, 100000);
    service("twin", svc);
    plan(svc, "a", 1000, 30, 20, a);
    plan(svc, "b", 2000, 30, 20, b);
    racer w[12];
    memset(w, 0, sizeof w);
    for (int i = 0; i < 12; i++) {
        memcpy(w[i].uid, uid, 37);
        memcpy(w[i].plan_id, i % 2 == 0 ? a : b, 37);
        w[i].op = "subscribe";
    }
    run_race(w, 12);
    int won = 0;
    for (int i = 0; i < 12; i++) {
        won += w[i].rc == 0;
        ck_assert_msg(w[i].rc == 0 || strcmp(w[i].code, "ALREADY_SUBSCRIBED") == 0, "racer %d: rc %d %s", i,
                      w[i].rc, w[i].code);
    }
    ck_assert_int_eq(won, 1);
    DM_EXPECT_SQL(url, "1|1|1|1", "SELECT (SELECT count(*) FROM subscriptions) || '|' || "
                                  "(SELECT sum(used_quota) FROM plans) || '|' || (SELECT count(*) FROM instances) "
                                  "|| '|' || (SELECT count(*) FROM transactions WHERE type = 'SUBSCRIPTION')");
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM users WHERE id = '%s' AND credit_balance + "
                            "(SELECT price FROM subscriptions) = 100000", uid);
}
END_TEST

START_TEST(parallel_upgrade_and_cancel_stay_consistent)
{
    char svc[37], basic[37], pro[37];
    service("duel", svc);
    plan(svc, "basic", 30000, 30, 20, basic);
    plan(svc, "pro", 90000, 30, 20, pro);
    for (int round = 0; round < 8; round++) {
        char email[64], uid[37], sid[37];
        snprintf(email, sizeof email, "duel%d@example.id", round);
        user(email, uid);
        credit(uid, 200000);
        subscribed(uid, basic, T0, sid);
        instance_ran(sid); /* prorated, not the full refund of one that never ran */
        racer w[2];
        memset(w, 0, sizeof w);
        for (int i = 0; i < 2; i++) {
            memcpy(w[i].uid, uid, 37);
            memcpy(w[i].sub_id, sid, 37);
        }
        w[0].op = "upgrade";
        memcpy(w[0].plan_id, pro, 37);
        w[1].op = "cancel";
        run_race(w, 2);
        /* Cancel always wins its row; the upgrade either ran first or
         * found the subscription ended. */
        ck_assert_msg(w[1].rc == 0, "round %d: cancel rc %d %s", round, w[1].rc, w[1].code);
        ck_assert_msg(w[0].rc == 0 || strcmp(w[0].code, "INVALID_STATE") == 0, "round %d: upgrade rc %d %s", round,
                      w[0].rc, w[0].code);
        DM_EXPECT_SQL(url, "CANCELLED", "SELECT status FROM subscriptions WHERE id = '%s'", sid);
        /* 29 days left of 30: the upgrade costs ceil(60 000 × 29/30) =
         * 58 000 and the refund is floor(price × 29/30) of the price then. */
        const bool upgraded = w[0].rc == 0;
        DM_EXPECT_SQL(url, upgraded ? pro : basic, "SELECT plan_id FROM subscriptions WHERE id = '%s'", sid);
        DM_EXPECT_SQL(url, upgraded ? "1" : "0", "SELECT count(*) FROM transactions WHERE subscription_id = '%s' "
                                                 "AND type = 'UPGRADE'", sid);
        DM_EXPECT_SQL(url, upgraded ? "87000" : "29000",
                      "SELECT amount FROM transactions WHERE subscription_id = '%s' AND type = 'REFUND'", sid);
        ck_assert_int_eq(balance(uid), upgraded ? 200000 - 30000 - 58000 + 87000 : 200000 - 30000 + 29000);
    }
    DM_EXPECT_SQL(url, "0|0", "SELECT string_agg(used_quota::text, '|' ORDER BY slug) FROM plans");
}
END_TEST

/* An upgrade locks both plan rows, always the lower id first, so that a
 * move A → B and a concurrent move B → A cannot deadlock: while the lower
 * plan is held elsewhere, the waiting upgrade holds no lock on the other. */
START_TEST(upgrade_locks_plans_in_id_order)
{
    char svc[37], a[37], b[37], uid[37], sid[37];
    service("order", svc);
    plan(svc, "a", 1000, 30, 5, a);
    plan(svc, "b", 1000, 30, 5, b);
    const char *lo = strcmp(a, b) < 0 ? a : b, *hi = lo == a ? b : a;
    free(dm_test_db_scalarf(url, "UPDATE plans SET price = 2000 WHERE id = '%s' RETURNING 1", hi));
    user("order@example.id", uid);
    credit(uid, 100000);
    subscribed(uid, lo, T0, sid);
    dm_db d2;
    dm_err_t err = { 0 };
    ck_assert_msg(dm__db_init(&d2, url, 2, 10000, &err) == 0 && dm__db_begin(&d2, &err) == 0, "d2: %s", err.msg);
    ck_assert_msg(plan_lockable(&d2, lo), "lock the lower plan");
    pthread_barrier_t go;
    ck_assert_int_eq(pthread_barrier_init(&go, NULL, 2), 0);
    racer w;
    memset(&w, 0, sizeof w);
    w.go = &go;
    w.op = "upgrade";
    memcpy(w.uid, uid, 37);
    memcpy(w.sub_id, sid, 37);
    memcpy(w.plan_id, hi, 37);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, race, &w), 0);
    pthread_barrier_wait(&go);
    /* Wait (bounded) until the upgrade is blocked on a row lock. */
    const bool blocked = some_session_waits_for_a_lock();
    const bool hi_free = plan_lockable(&d2, hi);
    dm__db_rollback(&d2);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&go);
    dm__db_fini(&d2);
    ck_assert_msg(blocked, "the upgrade never waited for the lower plan's row");
    ck_assert_msg(hi_free, "the upgrade held the higher plan while waiting for the lower: lock order");
    ck_assert_msg(w.rc == 0, "upgrade after the wait: rc %d %s", w.rc, w.code);
    DM_EXPECT_SQL(url, hi, "SELECT plan_id FROM subscriptions WHERE id = '%s'", sid);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("subscription_races");
    TCase *tc = tcase_create("races");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, thirty_users_race_for_five_slots);
    tcase_add_test(tc, one_user_with_credit_for_three_of_twenty);
    tcase_add_test(tc, one_user_racing_itself_on_one_service);
    tcase_add_test(tc, parallel_upgrade_and_cancel_stay_consistent);
    tcase_add_test(tc, upgrade_locks_plans_in_id_order);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
