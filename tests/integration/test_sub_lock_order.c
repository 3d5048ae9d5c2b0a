/*
 * test_sub_lock_order.c — the one lock order of policy.h (subscription row
 * → plan rows → the user's balance row) against a real PostgreSQL: the rank
 * check refuses a step back; every path that takes a plan row and the
 * balance row (the user's subscribe, upgrade and cancel, an
 * administrator's bonus, upgrade and force-cancel) holds the plan row while
 * it waits for the balance; the period end never frees a slot after it
 * charged; and user and administrator operations racing on one
 * subscription and on its siblings (the same user's other subscriptions,
 * other users' subscriptions of the same plans), round after round, end
 * without an internal error or a deadlock, in the outcome each race
 * allows, with the ledger and quota invariants intact.
 */
#include "subs_fixture.h"

#include "subscriptions/period_end.h"
#include "subscriptions/policy.h"
#include "subscriptions/sub_admin.h"

#define NOW (T0 + DAY_MS)

static char admin_id[37];

/* ---- the rank check ----------------------------------------------------- */

START_TEST(a_lower_rank_after_a_higher_is_refused)
{
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__db_begin(&db, &err), 0);
    ck_assert_int_eq(dm__sub_lock_step(&db, DM_SUB_LOCK_SUBSCRIPTION, &err), 0);
    ck_assert_int_eq(dm__sub_lock_step(&db, DM_SUB_LOCK_PLANS, &err), 0);
    ck_assert_int_eq(dm__sub_lock_step(&db, DM_SUB_LOCK_PLANS, &err), 0); /* a second plan row */
    ck_assert_int_eq(dm__sub_lock_step(&db, DM_SUB_LOCK_BALANCE, &err), 0);
    ck_assert_int_eq(dm__sub_lock_step(&db, DM_SUB_LOCK_PLANS, &err), DM_EIO);
    ck_assert_msg(strstr(err.msg, "plan rows after the balance row") != NULL, "message: %s", err.msg);
    ck_assert_int_eq(dm__sub_lock_step(&db, DM_SUB_LOCK_SUBSCRIPTION, &err), DM_EIO);
    dm__db_rollback(&db);
    /* Every transaction starts from nothing, however the last one ended. */
    ck_assert_int_eq(dm__db_begin(&db, &err), 0);
    ck_assert_int_eq(dm__sub_lock_step(&db, DM_SUB_LOCK_SUBSCRIPTION, &err), 0);
    ck_assert_int_eq(dm__sub_lock_step(&db, DM_SUB_LOCK_BALANCE, &err), 0);
    ck_assert_int_eq(dm__db_commit(&db, &err), 0);
    ck_assert_int_eq(dm__db_begin(&db, &err), 0);
    ck_assert_int_eq(dm__sub_lock_step(&db, DM_SUB_LOCK_SUBSCRIPTION, &err), 0);
    ck_assert_int_eq(dm__db_commit(&db, &err), 0);
    /* Outside a transaction a statement holds nothing after itself. */
    ck_assert_int_eq(dm__sub_lock_step(&db, DM_SUB_LOCK_BALANCE, &err), 0);
    ck_assert_int_eq(dm__sub_lock_step(&db, DM_SUB_LOCK_SUBSCRIPTION, &err), 0);
}
END_TEST

/* ---- operations on their own connection --------------------------------- */

typedef enum op_kind {
    U_SUBSCRIBE, U_UPGRADE, U_CANCEL, U_RENEW, U_AUTO_RENEW_OFF,
    A_BONUS, A_UPGRADE, A_FORCE_CANCEL, A_SCHEDULE_CANCEL, A_EXTEND, A_EXPIRE
} op_kind;

typedef struct worker {
    pthread_barrier_t *go;
    op_kind op;
    char uid[37], sub_id[37], plan_id[37];
    bool may_find_it_ended; /* INVALID_STATE is an allowed outcome */
    int rc;
    const char *code;
} worker;

static int admin_op(dm_db *d, worker *w, json_t **out, dm_err_t *err)
{
    const dm_actor actor = { admin_id, "lock-order-test", "127.0.0.1" };
    dm_sub_admin_change c = { .sub_id = w->sub_id, .reason = "race", .plan_id = w->plan_id,
                              .refund = DM_SUB_REFUND_PRORATED, .immediate = true, .days = 5 };
    switch (w->op) {
    case A_BONUS: {
        dm_sub_bonus b = { w->uid, w->plan_id, 7, "race" };
        return dm__sub_admin_bonus(d, &actor, &b, NOW, out, &w->code, err);
    }
    case A_UPGRADE:
        return dm__sub_admin_upgrade(d, &actor, &c, NOW, out, &w->code, err);
    case A_SCHEDULE_CANCEL:
        c.refund = DM_SUB_REFUND_NONE;
        c.immediate = false;
        /* fall through */
    case A_FORCE_CANCEL:
        return dm__sub_admin_force_cancel(d, &actor, &c, NOW, out, &w->code, err);
    case A_EXTEND:
        return dm__sub_admin_extend(d, &actor, &c, NOW, out, &w->code, err);
    default:
        return dm__sub_admin_expire(d, &actor, &c, NOW, out, &w->code, err);
    }
}

static int run_op(dm_db *d, worker *w, dm_err_t *err)
{
    json_t *out = NULL;
    int rc;
    switch (w->op) {
    case U_SUBSCRIBE:
        rc = dm__subs_subscribe(d, w->uid, w->plan_id, true, NOW, &out, &w->code, err);
        break;
    case U_UPGRADE:
        rc = dm__subs_upgrade(d, w->uid, w->sub_id, w->plan_id, NOW, &out, &w->code, err);
        break;
    case U_CANCEL:
        rc = dm__subs_cancel(d, w->uid, w->sub_id, NULL, "prorated", NOW, &out, &w->code, err);
        break;
    case U_RENEW:
        rc = dm__subs_renew(d, w->uid, w->sub_id, NOW, &out, &w->code, err);
        break;
    case U_AUTO_RENEW_OFF:
        rc = dm__subs_auto_renew(d, w->uid, w->sub_id, false, &out, &w->code, err);
        break;
    default:
        rc = admin_op(d, w, &out, err);
    }
    json_decref(out);
    return rc;
}

/* The thread: its own connection, the barrier, one operation. No Check
 * asserts off the main thread: the outcome is recorded. */
static void *work(void *arg)
{
    worker *w = arg;
    dm_db d;
    dm_err_t err = { 0 };
    w->code = NULL;
    w->rc = dm__db_init(&d, url, 5, 20000, &err);
    if (w->rc == 0)
        w->rc = dm__db_ensure(&d, &err);
    pthread_barrier_wait(w->go);
    if (w->rc == 0)
        w->rc = run_op(&d, w, &err);
    else
        w->code = "connect failed";
    if (w->code == NULL)
        w->code = w->rc == 0 ? "" : "internal";
    dm__db_fini(&d);
    return NULL;
}

static void admin_user(void)
{
    user("root@example.id", admin_id);
}

/* ---- each path holds its plan row while it waits for the balance -------- */

/* Run w while another transaction holds w's user's balance row; once w
 * waits for a lock, whether it held plan_id then (*blocked: it waited). */
static bool plan_held_while_waiting_for_the_balance(worker *w, const char *plan_id, bool *blocked)
{
    dm_db d2;
    dm_err_t err = { 0 };
    const char *p[] = { w->uid };
    ck_assert_msg(dm__db_init(&d2, url, 2, 10000, &err) == 0 && dm__db_begin(&d2, &err) == 0, "d2: %s", err.msg);
    ck_assert_msg(dm__db_run(&d2, "test_hold_balance", "SELECT 1 FROM users WHERE id = $1::uuid FOR NO KEY UPDATE",
                             1, p, &err) == 0,
                  "hold the balance: %s", err.msg);
    pthread_barrier_t go;
    ck_assert_int_eq(pthread_barrier_init(&go, NULL, 2), 0);
    w->go = &go;
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, work, w), 0);
    pthread_barrier_wait(&go);
    *blocked = some_session_waits_for_a_lock();
    const bool held = *blocked && !plan_lockable(&d2, plan_id);
    dm__db_rollback(&d2);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&go);
    dm__db_fini(&d2);
    return held;
}

START_TEST(every_path_takes_its_plan_row_before_the_balance)
{
    char svc[37], other[37], third[37], basic[37], pro[37], o_plan[37], t_plan[37];
    service("order", svc);
    service("order-other", other);
    service("order-third", third);
    plan(svc, "basic", 30000, 30, 50, basic);
    plan(svc, "pro", 90000, 30, 50, pro);
    plan(other, "other", 20000, 30, 50, o_plan);
    plan(third, "third", 20000, 30, 50, t_plan);
    admin_user();
    const struct {
        const char *what;
        op_kind     op;
        bool        subscribed; /* on basic first */
        const char *plan_id;    /* the operation's plan */
        const char *held;       /* the plan row it must hold while waiting */
    } cases[] = {
        { "user subscribe", U_SUBSCRIBE, false, o_plan, o_plan },
        { "user upgrade", U_UPGRADE, true, pro, pro },
        { "user cancel", U_CANCEL, true, NULL, basic },
        { "admin bonus", A_BONUS, false, t_plan, t_plan },
        { "admin upgrade", A_UPGRADE, true, pro, pro },
        { "admin force-cancel", A_FORCE_CANCEL, true, NULL, basic },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        worker w;
        memset(&w, 0, sizeof w);
        char email[64];
        snprintf(email, sizeof email, "order%zu@example.id", i);
        user(email, w.uid);
        credit(w.uid, 1000000);
        if (cases[i].subscribed)
            subscribed(w.uid, basic, T0, w.sub_id);
        w.op = cases[i].op;
        if (cases[i].plan_id != NULL)
            memcpy(w.plan_id, cases[i].plan_id, 37);
        bool blocked = false;
        const bool held = plan_held_while_waiting_for_the_balance(&w, cases[i].held, &blocked);
        ck_assert_msg(blocked, "%s never waited for the balance row", cases[i].what);
        ck_assert_msg(held, "%s waited for the balance without holding its plan row: lock order", cases[i].what);
        ck_assert_msg(w.rc == 0, "%s after the wait: rc %d %s", cases[i].what, w.rc, w.code);
    }
}
END_TEST

/* ---- the period end ----------------------------------------------------- */

/* Credit for one renewal, the job away for two periods and the grace: the
 * renewal is charged, and the expiry that follows (which frees the slot)
 * is a transaction of its own in the same run — in the charging one it
 * would take a plan row after the balance row. */
START_TEST(the_period_end_frees_no_slot_after_charging)
{
    char svc[37], pl[37], uid[37], sid[37];
    service("lapse", svc);
    plan(svc, "basic", 30000, 30, 5, pl);
    user("lapse@example.id", uid);
    credit(uid, 60000);
    subscribed(uid, pl, T0, sid);
    dm_sub_period_report rep;
    dm_err_t err = { 0 };
    ck_assert_msg(dm__sub_period_end(&db, T0 + 64 * DAY_MS, 3, 100, &rep, &err) == 0, "run: %s", err.msg);
    ck_assert_msg(rep.failed == 0, "%d subscriptions failed", rep.failed);
    ck_assert_int_eq(rep.renewed, 1);
    ck_assert_int_eq(rep.expired, 1);
    ck_assert_int_eq(rep.suspended, 0);
    ck_assert_msg(rep.subscriptions == 2, "one transaction charged, the next ended it: %d", rep.subscriptions);
    DM_EXPECT_SQL(url, "EXPIRED|grace period over|2026-03-05T00:00:00.000Z",
                  "SELECT status || '|' || end_reason || '|' || to_char(ended_at AT TIME ZONE 'UTC', "
                  "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM subscriptions WHERE id = '%s'", sid);
    ck_assert_int_eq(balance(uid), 0);
    DM_EXPECT_SQL(url, "0", "SELECT used_quota FROM plans WHERE id = '%s'", pl);
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM jobs WHERE kind = 'instance.terminate' "
                            "AND payload->>'subscriptionId' = '%s'", sid);
}
END_TEST

/* ---- user and administrator operations racing --------------------------- */

enum { W = 12, ROUNDS = 20 };

/* One round's subscriptions: u1, u2, u3 of user U, v1, v2, v3 of user V on
 * services s1, s2, s3 (u3 is subscribed by the round itself). */
typedef struct round_subs {
    char u[37], v[37], u1[37], u2[37], v1[37], v2[37], v3[37];
} round_subs;

typedef struct catalog {
    char s1a[37], s1b[37], s2a[37], s2b[37], s3[37];
} catalog;

static void set(worker *w, op_kind op, const char *uid, const char *sub_id, const char *plan_id, bool ended)
{
    memset(w, 0, sizeof *w);
    w->op = op;
    memcpy(w->uid, uid, 37);
    if (sub_id != NULL)
        memcpy(w->sub_id, sub_id, 37);
    if (plan_id != NULL)
        memcpy(w->plan_id, plan_id, 37);
    w->may_find_it_ended = ended;
}

/* The round's workers: on one subscription several at once (u1: upgrade,
 * extend, cancel; u2: admin upgrade, renew, cancel at the period end; v2:
 * upgrade, force-cancel; v1: admin upgrade, auto-renew), sharing the user's
 * balance between siblings and the plans between users. */
static void round_workers(worker w[W], const round_subs *r, const catalog *c)
{
    set(&w[0], U_UPGRADE, r->u, r->u1, c->s1b, true);
    set(&w[1], A_EXTEND, r->u, r->u1, NULL, true);
    set(&w[2], U_CANCEL, r->u, r->u1, NULL, false);
    set(&w[3], A_UPGRADE, r->u, r->u2, c->s2b, false);
    set(&w[4], U_RENEW, r->u, r->u2, NULL, false);
    set(&w[5], A_SCHEDULE_CANCEL, r->u, r->u2, NULL, false);
    set(&w[6], U_UPGRADE, r->v, r->v2, c->s2b, true);
    set(&w[7], A_FORCE_CANCEL, r->v, r->v2, NULL, false);
    set(&w[8], A_UPGRADE, r->v, r->v1, c->s1b, false);
    set(&w[9], U_AUTO_RENEW_OFF, r->v, r->v1, NULL, false);
    set(&w[10], U_SUBSCRIBE, r->u, NULL, c->s3, false);
    set(&w[11], A_EXPIRE, r->v, r->v3, NULL, false);
}

static void one_round(int n, const catalog *c)
{
    round_subs r;
    char email[64];
    snprintf(email, sizeof email, "u%d@example.id", n);
    user(email, r.u);
    snprintf(email, sizeof email, "v%d@example.id", n);
    user(email, r.v);
    credit(r.u, 10000000);
    credit(r.v, 10000000);
    subscribed(r.u, c->s1a, T0, r.u1);
    subscribed(r.u, c->s2a, T0, r.u2);
    subscribed(r.v, c->s1a, T0, r.v1);
    subscribed(r.v, c->s2a, T0, r.v2);
    subscribed(r.v, c->s3, T0, r.v3);
    worker w[W];
    round_workers(w, &r, c);
    pthread_barrier_t go;
    pthread_t t[W];
    ck_assert_int_eq(pthread_barrier_init(&go, NULL, W), 0);
    for (int i = 0; i < W; i++) {
        w[i].go = &go;
        ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < W; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
    for (int i = 0; i < W; i++)
        ck_assert_msg(w[i].rc == 0 || (w[i].may_find_it_ended && strcmp(w[i].code, "INVALID_STATE") == 0),
                      "round %d, worker %d (op %d): rc %d %s", n, i, (int)w[i].op, w[i].rc, w[i].code);
    DM_EXPECT_SQL(url, "CANCELLED|ACTIVE|ACTIVE|CANCELLED|EXPIRED",
                  "SELECT string_agg(status, '|' ORDER BY array_position(ARRAY['%s', '%s', '%s', '%s', '%s']::uuid[], "
                  "id)) FROM subscriptions WHERE id IN ('%s', '%s', '%s', '%s', '%s')",
                  r.u1, r.u2, r.v1, r.v2, r.v3, r.u1, r.u2, r.v1, r.v2, r.v3);
    DM_EXPECT_SQL(url, "2|1", "SELECT (SELECT count(*) FROM subscriptions WHERE id IN ('%s', '%s') AND plan_id IN "
                              "('%s', '%s')) || '|' || (SELECT count(*) FROM subscriptions WHERE user_id = '%s' AND "
                              "plan_id = '%s' AND status = 'ACTIVE')",
                  r.u2, r.v1, c->s2b, c->s1b, r.u, c->s3);
    DM_EXPECT_SQL(url, "0|0", "SELECT (SELECT count(*) FROM ledger_violations()) || '|' || "
                              "(SELECT count(*) FROM quota_violations())");
}

START_TEST(user_and_admin_operations_race_without_deadlock)
{
    catalog c;
    char s1[37], s2[37], s3[37];
    service("race-one", s1);
    service("race-two", s2);
    service("race-three", s3);
    plan(s1, "one-a", 30000, 30, 1000, c.s1a);
    plan(s1, "one-b", 60000, 30, 1000, c.s1b);
    plan(s2, "two-a", 30000, 30, 1000, c.s2a);
    plan(s2, "two-b", 90000, 30, 1000, c.s2b);
    plan(s3, "three", 20000, 30, 1000, c.s3);
    admin_user();
    for (int n = 0; n < ROUNDS; n++)
        one_round(n, &c);
    /* Every round's two administrator upgrades, each with its audit row. */
    DM_EXPECT_SQL(url, "40", "SELECT count(*) FROM audit_log WHERE action = 'subscription.upgrade'");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("sub_lock_order");
    TCase *tc = tcase_create("lock_order");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, a_lower_rank_after_a_higher_is_refused);
    tcase_add_test(tc, every_path_takes_its_plan_row_before_the_balance);
    tcase_add_test(tc, the_period_end_frees_no_slot_after_charging);
    tcase_add_test(tc, user_and_admin_operations_race_without_deadlock);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
