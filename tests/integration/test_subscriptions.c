/*
 * test_subscriptions.c — the user's subscription operations
 * (subscriptions.h) against a real PostgreSQL with chosen times: subscribe
 * and each of its refusals leaving nothing behind, the price copied, the
 * provision job; upgrades charged by the remaining time and refused
 * sideways or down; cancel with and without refunds, twice; renewals of
 * active and suspended subscriptions; auto-renew; the list. The races are
 * in test_subscription_races.c. After every test the ledger and quota
 * invariants hold.
 */
#include "subs_fixture.h"

#include "subscriptions/sub_admin.h"

START_TEST(subscribe_takes_slot_money_and_queues_provision)
{
    char svc[37], pl[37], uid[37];
    service("redis", svc);
    plan(svc, "basic", 100000, 30, 5, pl);
    user("a@example.id", uid);
    credit(uid, 250000);
    outcome o = subscribe_at(uid, pl, T0);
    ck_assert_msg(o.rc == 0, "subscribe: %d %s", o.rc, o.code);
    ck_assert_str_eq(str(o.sub, "status"), "ACTIVE");
    ck_assert_int_eq(json_integer_value(json_object_get(o.sub, "price")), 100000);
    ck_assert_str_eq(str(o.sub, "startDate"), "2026-01-01T00:00:00.000Z");
    ck_assert_str_eq(str(o.sub, "endDate"), "2026-01-31T00:00:00.000Z");
    ck_assert_msg(json_is_true(json_object_get(o.sub, "autoRenew")), "autoRenew defaults on");
    ck_assert_str_eq(str(json_object_get(o.sub, "instance"), "status"), "PENDING");
    ck_assert_str_eq(str(json_object_get(o.sub, "plan"), "id"), pl);
    ck_assert_str_eq(str(json_object_get(o.sub, "service"), "slug"), "redis");
    ck_assert_int_eq(balance(uid), 150000);
    DM_EXPECT_SQL(url, "1", "SELECT used_quota FROM plans WHERE id = '%s'", pl);
    DM_EXPECT_SQL(url, "SUBSCRIPTION|-100000", "SELECT type || '|' || amount FROM transactions "
                                               "WHERE subscription_id = '%s'", o.id);
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM jobs j JOIN instances i ON i.id::text = j.payload->>'instanceId' "
                            "WHERE j.kind = 'instance.provision' AND i.subscription_id = '%s' "
                            "AND j.payload->>'subscriptionId' = '%s'", o.id, o.id);
    json_decref(o.sub);
}
END_TEST

START_TEST(the_price_is_copied_and_not_repriced)
{
    char svc[37], pl[37], uid[37], sid[37];
    service("pg", svc);
    plan(svc, "basic", 100000, 30, 5, pl);
    user("b@example.id", uid);
    credit(uid, 300000);
    subscribed(uid, pl, T0, sid);
    char *v = dm_test_db_scalarf(url, "UPDATE plans SET price = 999999 WHERE id = '%s' RETURNING price", pl);
    free(v);
    DM_EXPECT_SQL(url, "100000", "SELECT price FROM subscriptions WHERE id = '%s'", sid);
    /* Renewal charges the price as bought, not the new catalog price. */
    outcome o = renew_at(uid, sid, T0 + DAY_MS);
    ck_assert_msg(o.rc == 0, "renew: %d %s", o.rc, o.code);
    ck_assert_int_eq(json_integer_value(json_object_get(o.sub, "price")), 100000);
    ck_assert_int_eq(balance(uid), 100000);
    json_decref(o.sub);
}
END_TEST

START_TEST(subscribe_refusals_leave_nothing_behind)
{
    char svc[37], svc_off[37], basic[37], pro[37], off[37], off_svc[37], full[37], uid[37], poor[37], sid[37];
    service("web", svc);
    service("gone", svc_off);
    plan(svc, "basic", 100000, 30, 5, basic);
    plan(svc, "pro", 200000, 30, 5, pro);
    plan(svc, "old", 50000, 30, 5, off);
    plan(svc_off, "any", 50000, 30, 5, off_svc);
    free(dm_test_db_scalarf(url, "UPDATE plans SET is_active = false WHERE id = '%s' RETURNING 1", off));
    free(dm_test_db_scalarf(url, "UPDATE services SET is_active = false WHERE id = '%s' RETURNING 1", svc_off));
    char svc2[37];
    service("full", svc2);
    plan(svc2, "zero", 1000, 30, 0, full);
    user("c@example.id", uid);
    user("poor@example.id", poor);
    credit(uid, 1000000);
    credit(poor, 99999);
    subscribed(uid, basic, T0, sid);
    char *before = snapshot();
    expect_refused(subscribe_at(uid, off, T0), DM_EINVAL, "VALIDATION_ERROR", "inactive plan");
    expect_refused(subscribe_at(uid, off_svc, T0), DM_EINVAL, "VALIDATION_ERROR", "plan of an inactive service");
    expect_refused(subscribe_at(uid, "6f1c2a7e-3b0d-4c8e-9a51-2d4e6f8a0b1c", T0), DM_EINVAL, "VALIDATION_ERROR",
                   "unknown plan");
    expect_refused(subscribe_at(uid, "not-a-uuid", T0), DM_EINVAL, "VALIDATION_ERROR", "malformed plan id");
    expect_refused(subscribe_at(uid, pro, T0), DM_ECONFLICT, "ALREADY_SUBSCRIBED", "same service, other plan");
    expect_refused(subscribe_at(uid, basic, T0), DM_ECONFLICT, "ALREADY_SUBSCRIBED", "same plan again");
    expect_refused(subscribe_at(uid, full, T0), DM_ECONFLICT, "QUOTA_EXHAUSTED", "no slot");
    expect_refused(subscribe_at(poor, basic, T0), DM_ECONFLICT, "INSUFFICIENT_CREDITS", "one rupiah short");
    char *after = snapshot();
    ck_assert_msg(strcmp(before, after) == 0, "refusals changed something:\n%s\n%s", before, after);
    free(before);
    free(after);
    /* Once the first one ends, subscribing to the service again works. */
    outcome c = cancel_at(uid, sid, "none", T0 + DAY_MS);
    ck_assert_int_eq(c.rc, 0);
    json_decref(c.sub);
    outcome again = subscribe_at(uid, pro, T0 + DAY_MS);
    ck_assert_msg(again.rc == 0, "subscribe after cancel: %d %s", again.rc, again.code);
    json_decref(again.sub);
}
END_TEST

/* ---- upgrade ----------------------------------------------------------- */

/* Upgrade basic (100 000) to pro (160 000) at T0 + offset; the UPGRADE
 * amount charged. */
static long long upgrade_charge(const char *tag, int64_t offset_ms)
{
    char svc[37], basic[37], pro[37], uid[37], sid[37], email[64], slug[32];
    snprintf(slug, sizeof slug, "svc-%s", tag);
    snprintf(email, sizeof email, "%s@example.id", tag);
    service(slug, svc);
    plan(svc, "basic", 100000, 30, 5, basic);
    plan(svc, "pro", 160000, 30, 5, pro);
    user(email, uid);
    credit(uid, 200000);
    subscribed(uid, basic, T0, sid);
    outcome o = upgrade_at(uid, sid, pro, T0 + offset_ms);
    ck_assert_msg(o.rc == 0, "%s: upgrade rc %d %s", tag, o.rc, o.code);
    ck_assert_str_eq(str(json_object_get(o.sub, "plan"), "id"), pro);
    ck_assert_int_eq(json_integer_value(json_object_get(o.sub, "price")), 160000);
    ck_assert_msg(strcmp(str(o.sub, "endDate"), "2026-01-31T00:00:00.000Z") == 0, "%s: period end moved: %s", tag,
                  str(o.sub, "endDate"));
    json_decref(o.sub);
    DM_EXPECT_SQL(url, "0|1", "SELECT (SELECT used_quota FROM plans WHERE id = '%s') || '|' || "
                              "(SELECT used_quota FROM plans WHERE id = '%s')", basic, pro);
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM jobs WHERE kind = 'instance.update' "
                            "AND payload->>'subscriptionId' = '%s'", sid);
    char *v = dm_test_db_scalarf(url, "SELECT -amount FROM transactions WHERE subscription_id = '%s' "
                                      "AND type = 'UPGRADE'", sid);
    long long charged = strtoll(v, NULL, 10);
    free(v);
    ck_assert_int_eq(balance(uid), 100000 - charged);
    return charged;
}

START_TEST(upgrade_charges_the_remaining_time_rounded_up)
{
    ck_assert_int_eq(upgrade_charge("start", 0), 60000);
    ck_assert_int_eq(upgrade_charge("middle", 15 * DAY_MS), 30000);
    /* 20 days left of 30: 60 000 × 2/3 = 40 000 exactly; 10 days + 1 s
     * in: ceil(60 000 × 1 727 999 ÷ 2 592 000) = ceil(39 999.97…). */
    ck_assert_int_eq(upgrade_charge("third", 10 * DAY_MS + 1000), 40000);
    ck_assert_int_eq(upgrade_charge("lastsec", 30 * DAY_MS - 1000), 1);
    ck_assert_int_eq(upgrade_charge("end", 30 * DAY_MS), 0);
}
END_TEST

START_TEST(upgrade_refusals_change_nothing)
{
    char svc[37], other[37], basic[37], cheap[37], same[37], pro[37], off[37], full[37], foreign[37];
    char uid[37], eve[37], sid[37];
    service("app", svc);
    service("other", other);
    plan(svc, "basic", 100000, 30, 5, basic);
    plan(svc, "cheap", 50000, 30, 5, cheap);
    plan(svc, "same", 100000, 30, 5, same);
    plan(svc, "pro", 500000, 30, 5, pro);
    plan(svc, "off", 300000, 30, 5, off);
    plan(svc, "full", 200000, 30, 0, full);
    plan(other, "big", 900000, 30, 5, foreign);
    free(dm_test_db_scalarf(url, "UPDATE plans SET is_active = false WHERE id = '%s' RETURNING 1", off));
    user("u@example.id", uid);
    user("eve@example.id", eve);
    credit(uid, 150000);
    credit(eve, 10000000);
    subscribed(uid, basic, T0, sid);
    char *before = snapshot();
    expect_refused(upgrade_at(uid, sid, cheap, T0), DM_EINVAL, "VALIDATION_ERROR", "downgrade");
    expect_refused(upgrade_at(uid, sid, same, T0), DM_EINVAL, "VALIDATION_ERROR", "same price");
    expect_refused(upgrade_at(uid, sid, basic, T0), DM_EINVAL, "VALIDATION_ERROR", "the current plan");
    expect_refused(upgrade_at(uid, sid, foreign, T0), DM_EINVAL, "VALIDATION_ERROR", "other service");
    expect_refused(upgrade_at(uid, sid, off, T0), DM_EINVAL, "VALIDATION_ERROR", "inactive plan");
    expect_refused(upgrade_at(uid, sid, "nope", T0), DM_EINVAL, "VALIDATION_ERROR", "malformed plan");
    expect_refused(upgrade_at(uid, sid, full, T0), DM_ECONFLICT, "QUOTA_EXHAUSTED", "no slot on the new plan");
    expect_refused(upgrade_at(uid, sid, pro, T0), DM_ECONFLICT, "INSUFFICIENT_CREDITS", "400 000 > 50 000 left");
    expect_refused(upgrade_at(eve, sid, pro, T0), DM_ENOTFOUND, "NOT_FOUND", "another user's subscription");
    char *after = snapshot();
    ck_assert_msg(strcmp(before, after) == 0, "refusals changed something:\n%s\n%s", before, after);
    free(before);
    free(after);
    /* A suspended subscription is live but not upgradable. */
    free(dm_test_db_scalarf(url, "UPDATE subscriptions SET status = 'SUSPENDED', grace_until = now() "
                                 "WHERE id = '%s' RETURNING 1", sid));
    expect_refused(upgrade_at(uid, sid, pro, T0), DM_ECONFLICT, "INVALID_STATE", "suspended");
    outcome c = cancel_at(uid, sid, "none", T0);
    ck_assert_int_eq(c.rc, 0);
    json_decref(c.sub);
    expect_refused(upgrade_at(uid, sid, pro, T0), DM_ECONFLICT, "INVALID_STATE", "cancelled");
}
END_TEST

/* ---- cancel ------------------------------------------------------------ */

START_TEST(cancel_refunds_the_rest_rounded_down_once)
{
    char svc[37], pl[37], uid[37], eve[37], sid[37];
    service("cancel", svc);
    plan(svc, "basic", 100000, 30, 5, pl);
    user("d@example.id", uid);
    user("eve@example.id", eve);
    credit(uid, 100000);
    subscribed(uid, pl, T0, sid);
    instance_ran(sid);
    expect_refused(cancel_at(eve, sid, "prorated", T0), DM_ENOTFOUND, "NOT_FOUND", "another user's");
    /* 20 days left of 30 minus one second: floor(66 666.62…). */
    outcome o = cancel_at(uid, sid, "prorated", T0 + 10 * DAY_MS + 1000);
    ck_assert_msg(o.rc == 0, "cancel: %d %s", o.rc, o.code);
    ck_assert_str_eq(str(o.sub, "status"), "CANCELLED");
    ck_assert_str_eq(str(o.sub, "endReason"), "testing");
    json_decref(o.sub);
    DM_EXPECT_SQL(url, "66666", "SELECT amount FROM transactions WHERE subscription_id = '%s' AND type = 'REFUND'",
                  sid);
    ck_assert_int_eq(balance(uid), 66666);
    DM_EXPECT_SQL(url, "0", "SELECT used_quota FROM plans WHERE id = '%s'", pl);
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM jobs WHERE kind = 'instance.terminate' "
                            "AND payload->>'subscriptionId' = '%s'", sid);
    expect_refused(cancel_at(uid, sid, "prorated", T0 + 11 * DAY_MS), DM_ECONFLICT, "INVALID_STATE", "twice");
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM transactions WHERE type = 'REFUND'");
    ck_assert_int_eq(balance(uid), 66666);
}
END_TEST

/* An instance that never reached RUNNING delivered nothing: a prorated
 * cancel, the user's or an administrator's, gives back all that was paid;
 * one that ran (even if it failed after) is still prorated. */
static outcome force_cancel_at(const char *admin, const char *sid, int64_t now)
{
    const dm_actor actor = { admin, "refund-test", "127.0.0.1" };
    dm_sub_admin_change c = { .sub_id = sid, .reason = "testing", .refund = DM_SUB_REFUND_PRORATED,
                              .immediate = true };
    outcome o;
    json_t *out = NULL;
    const char *code = NULL;
    dm_err_t err = { 0 };
    int rc = dm__sub_admin_force_cancel(&db, &actor, &c, now, &out, &code, &err);
    keep(&o, rc, code, out); /* the subscription, with "refund" */
    return o;
}

START_TEST(cancel_refunds_in_full_when_the_instance_never_ran)
{
    static const char *const failed[] = { "provision", "error", NULL };
    static const char *const ran_then_failed[] = { "provision", "running", "error", NULL };
    char svc[4][37], pl[4][37], uid[37], admin[37], never[37], never_adm[37], ran[37], ran_adm[37];
    static const char *const slugs[] = { "never-ran", "never-ran-adm", "ran", "ran-adm" };
    for (int i = 0; i < 4; i++) { /* one subscription per service and user */
        service(slugs[i], svc[i]);
        plan(svc[i], "basic", 100000, 30, 5, pl[i]);
    }
    user("d@example.id", uid);
    user("root@example.id", admin);
    credit(uid, 400000);
    subscribed(uid, pl[0], T0, never);
    subscribed(uid, pl[1], T0, never_adm);
    subscribed(uid, pl[2], T0, ran);
    subscribed(uid, pl[3], T0, ran_adm);
    instance_through(never, failed);
    instance_through(never_adm, failed);
    instance_through(ran, ran_then_failed);
    instance_through(ran_adm, ran_then_failed);
    const int64_t at = T0 + 10 * DAY_MS + 1000; /* 20 days left of 30 minus one second */

    /* PROVISIONING → ERROR, never RUNNING: the full price, by the user… */
    outcome o = cancel_at(uid, never, "prorated", at);
    ck_assert_msg(o.rc == 0, "cancel: %d %s", o.rc, o.code);
    json_decref(o.sub);
    DM_EXPECT_SQL(url, "100000", "SELECT amount FROM transactions WHERE subscription_id = '%s' AND type = 'REFUND'",
                  never);
    /* …and by an administrator's prorated force-cancel. */
    o = force_cancel_at(admin, never_adm, at);
    ck_assert_msg(o.rc == 0, "force-cancel: %d %s", o.rc, o.code);
    json_decref(o.sub);
    DM_EXPECT_SQL(url, "100000", "SELECT amount FROM transactions WHERE subscription_id = '%s' AND type = 'REFUND'",
                  never_adm);
    /* It ran, then failed: prorated as before, floor(66 666.62…), both ways. */
    o = cancel_at(uid, ran, "prorated", at);
    ck_assert_msg(o.rc == 0, "cancel: %d %s", o.rc, o.code);
    json_decref(o.sub);
    DM_EXPECT_SQL(url, "66666", "SELECT amount FROM transactions WHERE subscription_id = '%s' AND type = 'REFUND'",
                  ran);
    o = force_cancel_at(admin, ran_adm, at);
    ck_assert_msg(o.rc == 0, "force-cancel: %d %s", o.rc, o.code);
    json_decref(o.sub);
    DM_EXPECT_SQL(url, "66666", "SELECT amount FROM transactions WHERE subscription_id = '%s' AND type = 'REFUND'",
                  ran_adm);
    ck_assert_int_eq(balance(uid), 2 * 100000 + 2 * 66666);
    DM_EXPECT_SQL(url, "0", "SELECT sum(used_quota) FROM plans");
}
END_TEST

/* Never ran and renewed ahead: everything paid comes back, not one price;
 * a policy of none still gives nothing. */
START_TEST(never_ran_refunds_all_that_was_paid_and_none_stays_none)
{
    char svc[37], svc2[37], pl[37], pl2[37], uid[37], ahead[37], none[37];
    service("never-ran-ahead", svc);
    service("never-ran-none", svc2);
    plan(svc, "basic", 100000, 30, 5, pl);
    plan(svc2, "basic", 100000, 30, 5, pl2);
    user("d@example.id", uid);
    credit(uid, 300000);
    subscribed(uid, pl, T0, ahead);
    outcome o = renew_at(uid, ahead, T0 + DAY_MS);
    ck_assert_msg(o.rc == 0, "renew: %d %s", o.rc, o.code);
    json_decref(o.sub);
    subscribed(uid, pl2, T0, none);
    o = cancel_at(uid, ahead, "prorated", T0 + 2 * DAY_MS);
    ck_assert_msg(o.rc == 0, "cancel: %d %s", o.rc, o.code);
    json_decref(o.sub);
    DM_EXPECT_SQL(url, "200000", "SELECT amount FROM transactions WHERE subscription_id = '%s' AND type = 'REFUND'",
                  ahead);
    o = cancel_at(uid, none, "none", T0 + 2 * DAY_MS);
    ck_assert_msg(o.rc == 0, "cancel: %d %s", o.rc, o.code);
    json_decref(o.sub);
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM transactions WHERE subscription_id = '%s' AND type = 'REFUND'",
                  none);
    ck_assert_int_eq(balance(uid), 200000);
}
END_TEST

START_TEST(cancel_without_refund_policy_or_for_a_bonus)
{
    char svc[37], svc2[37], pl[37], pl2[37], uid[37], sid[37];
    service("norefund", svc);
    service("bonus", svc2);
    plan(svc, "basic", 100000, 30, 5, pl);
    plan(svc2, "basic", 100000, 30, 5, pl2);
    user("e@example.id", uid);
    credit(uid, 100000);
    subscribed(uid, pl, T0, sid);
    outcome o = cancel_at(uid, sid, "none", T0 + DAY_MS);
    ck_assert_int_eq(o.rc, 0);
    json_decref(o.sub);
    ck_assert_int_eq(balance(uid), 0);
    /* A bonus subscription (as an administrator makes one) refunds nothing. */
    dm_sub_plan p;
    dm_sub s;
    dm_sub_refusal why;
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__sub_plan_get(&db, pl2, &p, &err), 0);
    dm_sub_new n = { uid, &p, 0, 30, false, true };
    ck_assert_int_eq(dm__db_begin(&db, &err), 0);
    ck_assert_msg(dm__sub_create(&db, &n, T0, &s, &why, &err) == 0, "bonus: %s", err.msg);
    ck_assert_msg(dm__sub_money(&db, uid, s.id, "BONUS", 0, "bonus", NULL, &err) == 0, "bonus row: %s", err.msg);
    ck_assert_int_eq(dm__db_commit(&db, &err), 0);
    o = cancel_at(uid, s.id, "prorated", T0 + DAY_MS);
    ck_assert_int_eq(o.rc, 0);
    json_decref(o.sub);
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM transactions WHERE type = 'REFUND'");
    ck_assert_int_eq(balance(uid), 0);
}
END_TEST

/* ---- renew and auto-renew ---------------------------------------------- */

START_TEST(renew_extends_one_period_and_charges_now)
{
    char svc[37], pl[37], uid[37], sid[37];
    service("renew", svc);
    plan(svc, "basic", 100000, 30, 5, pl);
    user("f@example.id", uid);
    credit(uid, 200000);
    subscribed(uid, pl, T0, sid);
    instance_ran(sid);
    outcome o = renew_at(uid, sid, T0 + 5 * DAY_MS);
    ck_assert_msg(o.rc == 0, "renew: %d %s", o.rc, o.code);
    ck_assert_str_eq(str(o.sub, "endDate"), "2026-03-02T00:00:00.000Z");
    ck_assert_str_eq(str(o.sub, "currentPeriodStart"), "2026-01-01T00:00:00.000Z");
    json_decref(o.sub);
    ck_assert_int_eq(balance(uid), 0);
    DM_EXPECT_SQL(url, "-100000", "SELECT amount FROM transactions WHERE subscription_id = '%s' "
                                  "AND type = 'RENEWAL'", sid);
    char *before = snapshot();
    expect_refused(renew_at(uid, sid, T0 + 6 * DAY_MS), DM_ECONFLICT, "INSUFFICIENT_CREDITS", "no money left");
    char *after = snapshot();
    ck_assert_msg(strcmp(before, after) == 0, "a refused renewal changed something:\n%s\n%s", before, after);
    free(before);
    free(after);
    /* The time paid ahead counts in a refund: 55 days left of 30-day
     * periods at 100 000 = floor(183 333.3…). */
    o = cancel_at(uid, sid, "prorated", T0 + 5 * DAY_MS);
    ck_assert_int_eq(o.rc, 0);
    json_decref(o.sub);
    ck_assert_int_eq(balance(uid), 183333);
    expect_refused(renew_at(uid, sid, T0 + 6 * DAY_MS), DM_ECONFLICT, "INVALID_STATE", "cancelled");
}
END_TEST

/* docs/openapi.yaml: deactivating a plan, its service or its category hides them
 * from the catalog; live subscriptions keep working: renew and a refunded
 * cancel still go through. */
START_TEST(a_deactivated_plan_keeps_live_subscriptions_working)
{
    char svc[37], pl[37], uid[37], sid[37];
    service("retired", svc);
    plan(svc, "basic", 100000, 30, 5, pl);
    user("retired@example.id", uid);
    credit(uid, 200000);
    subscribed(uid, pl, T0, sid);
    DM_EXPECT_SQL(url, "1", "WITH p AS (UPDATE plans SET is_active = false WHERE id = '%s' RETURNING 1), "
                  "s AS (UPDATE services SET is_active = false WHERE id = '%s' RETURNING category_id), "
                  "c AS (UPDATE categories SET is_active = false WHERE id IN (SELECT category_id FROM s) "
                  "  RETURNING 1) SELECT count(*) FROM p, c",
                  pl, svc);
    outcome o = renew_at(uid, sid, T0 + DAY_MS);
    ck_assert_msg(o.rc == 0, "renew on a deactivated plan: %d %s", o.rc, o.code);
    json_decref(o.sub);
    o = cancel_at(uid, sid, "prorated", T0 + DAY_MS);
    ck_assert_msg(o.rc == 0, "cancel on a deactivated plan: %d %s", o.rc, o.code);
    json_decref(o.sub);
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM transactions WHERE subscription_id = '%s' AND type = 'REFUND'",
                  sid);
}
END_TEST

START_TEST(renew_brings_a_suspended_subscription_back)
{
    char svc[37], pl[37], uid[37], sid[37];
    service("susp", svc);
    plan(svc, "basic", 100000, 30, 5, pl);
    user("g@example.id", uid);
    credit(uid, 200000);
    subscribed(uid, pl, T0, sid);
    /* As the period-end job leaves it: suspended with grace. */
    free(dm_test_db_scalarf(url, "UPDATE subscriptions SET status = 'SUSPENDED', "
                                 "grace_until = current_period_end + interval '3 days' WHERE id = '%s' RETURNING 1",
                            sid));
    const int64_t now = T0 + 31 * DAY_MS;
    outcome o = renew_at(uid, sid, now);
    ck_assert_msg(o.rc == 0, "renew: %d %s", o.rc, o.code);
    ck_assert_str_eq(str(o.sub, "status"), "ACTIVE");
    ck_assert_msg(json_is_null(json_object_get(o.sub, "graceUntil")), "grace cleared");
    ck_assert_str_eq(str(o.sub, "currentPeriodStart"), "2026-02-01T00:00:00.000Z");
    ck_assert_str_eq(str(o.sub, "endDate"), "2026-03-03T00:00:00.000Z");
    json_decref(o.sub);
    ck_assert_int_eq(balance(uid), 0);
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM jobs WHERE kind = 'instance.start' "
                            "AND payload->>'subscriptionId' = '%s'", sid);
    DM_EXPECT_SQL(url, "1", "SELECT used_quota FROM plans WHERE id = '%s'", pl);
}
END_TEST

START_TEST(bonus_subscriptions_are_not_renewed_or_upgraded_by_their_user)
{
    char svc[37], pl[37], uid[37];
    service("bonusrenew", svc);
    plan(svc, "basic", 100000, 30, 5, pl);
    user("h@example.id", uid);
    credit(uid, 200000);
    dm_sub_plan p;
    dm_sub s;
    dm_sub_refusal why;
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__sub_plan_get(&db, pl, &p, &err), 0);
    dm_sub_new n = { uid, &p, 0, 7, false, true };
    ck_assert_int_eq(dm__db_begin(&db, &err), 0);
    ck_assert_msg(dm__sub_create(&db, &n, T0, &s, &why, &err) == 0, "bonus: %s", err.msg);
    ck_assert_int_eq(dm__db_commit(&db, &err), 0);
    expect_refused(renew_at(uid, s.id, T0), DM_ECONFLICT, "INVALID_STATE", "bonus renew");
    char pro[37];
    plan(svc, "pro", 300000, 30, 5, pro);
    expect_refused(upgrade_at(uid, s.id, pro, T0), DM_ECONFLICT, "INVALID_STATE", "bonus upgrade");
    ck_assert_int_eq(balance(uid), 200000);
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM transactions WHERE type IN ('RENEWAL', 'UPGRADE')");
}
END_TEST

START_TEST(auto_renew_toggles_only_live_own_subscriptions)
{
    char svc[37], pl[37], uid[37], eve[37], sid[37];
    service("auto", svc);
    plan(svc, "basic", 100000, 30, 5, pl);
    user("i@example.id", uid);
    user("eve@example.id", eve);
    credit(uid, 100000);
    subscribed(uid, pl, T0, sid);
    json_t *sub = NULL;
    const char *code = NULL;
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__subs_auto_renew(&db, uid, sid, false, &sub, &code, &err), 0);
    ck_assert_msg(json_is_false(json_object_get(sub, "autoRenew")), "turned off");
    json_decref(sub);
    DM_EXPECT_SQL(url, "f", "SELECT auto_renew FROM subscriptions WHERE id = '%s'", sid);
    ck_assert_int_eq(dm__subs_auto_renew(&db, eve, sid, true, &sub, &code, &err), DM_ENOTFOUND);
    ck_assert_str_eq(code, "NOT_FOUND");
    DM_EXPECT_SQL(url, "f", "SELECT auto_renew FROM subscriptions WHERE id = '%s'", sid);
    ck_assert_int_eq(dm__subs_auto_renew(&db, uid, sid, true, &sub, &code, &err), 0);
    json_decref(sub);
    DM_EXPECT_SQL(url, "t", "SELECT auto_renew FROM subscriptions WHERE id = '%s'", sid);
    outcome c = cancel_at(uid, sid, "none", T0);
    json_decref(c.sub);
    ck_assert_int_eq(dm__subs_auto_renew(&db, uid, sid, false, &sub, &code, &err), DM_ECONFLICT);
    ck_assert_str_eq(code, "INVALID_STATE");
}
END_TEST

START_TEST(list_shows_own_subscriptions_newest_first)
{
    char s1[37], s2[37], p1[37], p2[37], uid[37], eve[37], a[37], b[37];
    service("one", s1);
    service("two", s2);
    plan(s1, "basic", 1000, 30, 5, p1);
    plan(s2, "basic", 1000, 30, 5, p2);
    user("j@example.id", uid);
    user("eve@example.id", eve);
    credit(uid, 10000);
    subscribed(uid, p1, T0, a);
    subscribed(uid, p2, T0, b);
    outcome c = cancel_at(uid, a, "none", T0);
    json_decref(c.sub);
    json_t *items = NULL;
    long total = 0;
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__subs_list(&db, uid, NULL, 1, 20, &items, &total, &err), 0);
    ck_assert_int_eq(total, 2);
    ck_assert_str_eq(str(json_array_get(items, 0), "id"), b);
    ck_assert_str_eq(str(json_array_get(items, 1), "id"), a);
    json_decref(items);
    ck_assert_int_eq(dm__subs_list(&db, uid, "CANCELLED", 1, 20, &items, &total, &err), 0);
    ck_assert_int_eq(total, 1);
    ck_assert_str_eq(str(json_array_get(items, 0), "id"), a);
    json_decref(items);
    ck_assert_int_eq(dm__subs_list(&db, uid, NULL, 2, 1, &items, &total, &err), 0);
    ck_assert_int_eq(total, 2);
    ck_assert_int_eq(json_array_size(items), 1);
    json_decref(items);
    ck_assert_int_eq(dm__subs_list(&db, uid, NULL, 5, 1, &items, &total, &err), 0);
    ck_assert_msg(total == 2 && json_array_size(items) == 0, "past the end: total %ld", total);
    json_decref(items);
    ck_assert_int_eq(dm__subs_list(&db, eve, NULL, 1, 20, &items, &total, &err), 0);
    ck_assert_int_eq(total, 0);
    json_decref(items);
    ck_assert_int_eq(dm__subs_list(&db, uid, "PAID", 1, 20, &items, &total, &err), DM_EINVAL);
}
END_TEST

/* ---- review fixes: periods, refunds, plan moves -------------------------- */

#define TOCT 1792022400000LL /* 2026-10-15T00:00:00Z, ten days before CET returns */

/* A period is days × 24 hours whatever the session's TimeZone: across a
 * DST change a calendar month is an hour longer, and the prorated value of
 * the time left would then exceed the price paid. */
START_TEST(periods_are_exact_days_in_any_time_zone)
{
    char svc[37], pl[37], uid[37], sid[37];
    dm_err_t err = { 0 };
    ck_assert_msg(dm__db_run(&db, "test_tz", "SELECT set_config('TimeZone', 'Europe/Berlin', false)", 0, NULL,
                             &err) == 0,
                  "set TimeZone: %s", err.msg);
    service("tz", svc);
    plan(svc, "basic", 100000, 30, 5, pl);
    user("tz@example.id", uid);
    credit(uid, 200000);
    subscribed(uid, pl, TOCT, sid);
    DM_EXPECT_SQL(url, "2592000", "SELECT extract(epoch FROM current_period_end - current_period_start)::bigint "
                                  "FROM subscriptions WHERE id = '%s'", sid);
    outcome o = renew_at(uid, sid, TOCT);
    ck_assert_msg(o.rc == 0, "renew: rc %d %s", o.rc, o.code);
    json_decref(o.sub);
    DM_EXPECT_SQL(url, "5184000", "SELECT extract(epoch FROM current_period_end - current_period_start)::bigint "
                                  "FROM subscriptions WHERE id = '%s'", sid);
    /* Two periods paid, cancelled at once: exactly the two back, not more. */
    o = cancel_at(uid, sid, "prorated", TOCT);
    ck_assert_msg(o.rc == 0, "cancel: rc %d %s", o.rc, o.code);
    json_decref(o.sub);
    DM_EXPECT_SQL(url, "200000", "SELECT amount FROM transactions WHERE subscription_id = '%s' AND type = 'REFUND'",
                  sid);
    ck_assert_msg(balance(uid) == 200000, "a refund larger than what was paid: balance %lld", balance(uid));
}
END_TEST

/* An upgrade keeps the subscription's period, so a plan billed over another
 * length is refused: its price would otherwise be charged per the old
 * period (a yearly price every month). */
START_TEST(upgrade_to_another_billing_period_is_refused)
{
    char svc[37], monthly[37], yearly[37], uid[37], sid[37];
    service("periods", svc);
    plan(svc, "monthly", 100000, 30, 5, monthly);
    plan(svc, "yearly", 1000000, 365, 5, yearly);
    user("per@example.id", uid);
    credit(uid, 5000000);
    subscribed(uid, monthly, T0, sid);
    char *before = snapshot();
    expect_refused(upgrade_at(uid, sid, yearly, T0 + DAY_MS), DM_EINVAL, "VALIDATION_ERROR",
                   "a plan with another billing period");
    char *after = snapshot();
    ck_assert_msg(strcmp(before, after) == 0, "the refusal changed something:\n%s\n%s", before, after);
    free(before);
    free(after);
    DM_EXPECT_SQL(url, "100000|30", "SELECT price || '|' || billing_period_days FROM subscriptions WHERE id = '%s'",
                  sid);
}
END_TEST

/* An administrator's force-cancel at the period end with refund "full"
 * pays the period back and leaves the subscription live; the user's own
 * cancel after it must not refund that period a second time. */
START_TEST(cancel_after_a_full_refund_refunds_nothing_more)
{
    char svc[37], pl[37], uid[37], sid[37];
    service("refunded", svc);
    plan(svc, "basic", 100000, 30, 5, pl);
    user("ref@example.id", uid);
    credit(uid, 100000);
    subscribed(uid, pl, T0, sid);
    /* What admin force-cancel {refund: full, immediate: false} writes. */
    dm_err_t err = { 0 };
    ck_assert_int_eq(dm__db_begin(&db, &err), 0);
    ck_assert_msg(dm__sub_money(&db, uid, sid, "REFUND", 100000, "admin: full", NULL, &err) == 0, "refund: %s",
                  err.msg);
    const char *p[] = { sid };
    ck_assert_msg(dm__db_run(&db, "test_cape", "UPDATE subscriptions SET cancel_at_period_end = true "
                                               "WHERE id = $1::uuid", 1, p, &err) == 0, "flag: %s", err.msg);
    ck_assert_int_eq(dm__db_commit(&db, &err), 0);
    ck_assert_int_eq(balance(uid), 100000);
    outcome o = cancel_at(uid, sid, "prorated", T0 + 10 * DAY_MS);
    ck_assert_msg(o.rc == 0, "cancel: rc %d %s", o.rc, o.code);
    ck_assert_str_eq(str(o.sub, "status"), "CANCELLED");
    json_decref(o.sub);
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM transactions WHERE subscription_id = '%s' AND type = 'REFUND'",
                  sid);
    ck_assert_msg(balance(uid) == 100000, "refunded twice: balance %lld, want 100000", balance(uid));
    DM_EXPECT_SQL(url, "0", "SELECT used_quota FROM plans WHERE id = '%s'", pl);
}
END_TEST

START_TEST(refund_never_exceeds_what_was_paid_in)
{
    char svc[37], basic[37], pro[37], uid[37], up[37], ext[37];
    service("capped", svc);
    plan(svc, "basic", 100000, 30, 5, basic);
    plan(svc, "pro", 500000, 30, 5, pro);
    user("cap@example.id", uid);
    credit(uid, 200000);
    /* Free upgrade (what admin upgrade {bonus: true} does), cancelled half way:
     * the time left is worth 250 000 at the new price, only 100 000 was paid. */
    subscribed(uid, basic, T0, up);
    dm_err_t err = { 0 };
    dm_sub s;
    dm_sub_plan to;
    dm_sub_refusal why;
    ck_assert_int_eq(dm__db_begin(&db, &err), 0);
    ck_assert_msg(dm__sub_lock(&db, up, NULL, &s, &err) == 0 && dm__sub_plan_get(&db, pro, &to, &err) == 0
                      && dm__sub_change_plan(&db, &s, &to, to.price, "free upgrade", &why, &err) == 0,
                  "free upgrade: %s", err.msg);
    ck_assert_int_eq(dm__db_commit(&db, &err), 0);
    outcome o = cancel_at(uid, up, "prorated", T0 + 15 * DAY_MS);
    ck_assert_msg(o.rc == 0, "cancel: rc %d %s", o.rc, o.code);
    json_decref(o.sub);
    DM_EXPECT_SQL(url, "100000", "SELECT amount FROM transactions WHERE subscription_id = '%s' AND type = 'REFUND'",
                  up);
    ck_assert_msg(balance(uid) == 200000, "paid out more than paid in: balance %lld", balance(uid));
    /* 30 free days added (what admin extend does), cancelled at once: two
     * periods left, one paid. */
    service("capped2", svc);
    plan(svc, "basic", 100000, 30, 5, basic);
    subscribed(uid, basic, T0, ext);
    free(dm_test_db_scalarf(url, "UPDATE subscriptions SET current_period_end = current_period_end + "
                                 "interval '720 hours' WHERE id = '%s' RETURNING 1", ext));
    o = cancel_at(uid, ext, "prorated", T0);
    ck_assert_msg(o.rc == 0, "cancel: rc %d %s", o.rc, o.code);
    json_decref(o.sub);
    DM_EXPECT_SQL(url, "100000", "SELECT amount FROM transactions WHERE subscription_id = '%s' AND type = 'REFUND'",
                  ext);
    ck_assert_msg(balance(uid) == 200000, "paid out more than paid in: balance %lld", balance(uid));
}
END_TEST

/* Whether the open transaction on d can lock plan id at once (NOWAIT). */
static Suite *make_suite(void)
{
    Suite *s = suite_create("subscriptions");
    TCase *tc = tcase_create("subscriptions");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, subscribe_takes_slot_money_and_queues_provision);
    tcase_add_test(tc, the_price_is_copied_and_not_repriced);
    tcase_add_test(tc, subscribe_refusals_leave_nothing_behind);
    tcase_add_test(tc, upgrade_charges_the_remaining_time_rounded_up);
    tcase_add_test(tc, upgrade_refusals_change_nothing);
    tcase_add_test(tc, cancel_refunds_the_rest_rounded_down_once);
    tcase_add_test(tc, cancel_refunds_in_full_when_the_instance_never_ran);
    tcase_add_test(tc, never_ran_refunds_all_that_was_paid_and_none_stays_none);
    tcase_add_test(tc, cancel_without_refund_policy_or_for_a_bonus);
    tcase_add_test(tc, renew_extends_one_period_and_charges_now);
    tcase_add_test(tc, a_deactivated_plan_keeps_live_subscriptions_working);
    tcase_add_test(tc, renew_brings_a_suspended_subscription_back);
    tcase_add_test(tc, bonus_subscriptions_are_not_renewed_or_upgraded_by_their_user);
    tcase_add_test(tc, auto_renew_toggles_only_live_own_subscriptions);
    tcase_add_test(tc, list_shows_own_subscriptions_newest_first);
    tcase_add_test(tc, periods_are_exact_days_in_any_time_zone);
    tcase_add_test(tc, upgrade_to_another_billing_period_is_refused);
    tcase_add_test(tc, cancel_after_a_full_refund_refunds_nothing_more);
    tcase_add_test(tc, refund_never_exceeds_what_was_paid_in);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
