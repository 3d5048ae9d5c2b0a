/*
 * sub_core.c — shared subscription primitives (sub_core.h): row locks,
 * quota slots, ledger moves linked to a subscription, creating one, plan
 * moves, what it paid in, and the subscription's JSON built by PostgreSQL.
 * Each lock it takes declares its step of the lock order (policy.h).
 */
#include "db/sql_time.h"
#include "subscriptions/sub_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/users.h"
#include "instances/instance_job.h"
#include "subscriptions/policy.h"
#include "util/buf.h"
#include "wallet/ledger.h"


static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src != NULL ? src : "");
}

int dm__sub_lock(dm_db *db, const char *id, const char *user_id, dm_sub *out, dm_err_t *err)
{
    if (!dm__users_valid_id(id) || (user_id != NULL && !dm__users_valid_id(user_id)))
        return dm_err_set(err, DM_ENOTFOUND, "no such subscription");
    int rc = dm__sub_lock_step(db, DM_SUB_LOCK_SUBSCRIPTION, err);
    if (rc != 0)
        return rc;
    const char *p[] = { id, user_id };
    PGresult *r = dm__db_exec(
        db, "sub_lock",
        "SELECT s.id, s.user_id, s.plan_id, s.service_id, coalesce(i.id::text, ''), s.status, s.price, "
        "  s.billing_period_days, " DM_SUB_SQL_US("s.current_period_start") ", " DM_SUB_SQL_US("s.current_period_end")
        ", coalesce(" DM_SUB_SQL_US("s.grace_until") ", 0), s.auto_renew, s.is_bonus, s.cancel_at_period_end, "
        "  " DM_SUB_SQL_US("s.start_date") " "
        "FROM subscriptions s LEFT JOIN instances i ON i.subscription_id = s.id "
        "WHERE s.id = $1::uuid AND ($2::uuid IS NULL OR s.user_id = $2::uuid) FOR UPDATE OF s",
        2, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    if (PQntuples(r) == 0) {
        rc = dm_err_set(err, DM_ENOTFOUND, "no such subscription");
    } else {
        memset(out, 0, sizeof *out);
        copy(out->id, sizeof out->id, PQgetvalue(r, 0, 0));
        copy(out->user_id, sizeof out->user_id, PQgetvalue(r, 0, 1));
        copy(out->plan_id, sizeof out->plan_id, PQgetvalue(r, 0, 2));
        copy(out->service_id, sizeof out->service_id, PQgetvalue(r, 0, 3));
        copy(out->instance_id, sizeof out->instance_id, PQgetvalue(r, 0, 4));
        copy(out->status, sizeof out->status, PQgetvalue(r, 0, 5));
        out->price = strtoll(PQgetvalue(r, 0, 6), NULL, 10);
        out->period_days = (int)strtol(PQgetvalue(r, 0, 7), NULL, 10);
        out->period_start_us = strtoll(PQgetvalue(r, 0, 8), NULL, 10);
        out->period_end_us = strtoll(PQgetvalue(r, 0, 9), NULL, 10);
        out->grace_until_us = strtoll(PQgetvalue(r, 0, 10), NULL, 10);
        out->auto_renew = strcmp(PQgetvalue(r, 0, 11), "t") == 0;
        out->is_bonus = strcmp(PQgetvalue(r, 0, 12), "t") == 0;
        out->cancel_at_period_end = strcmp(PQgetvalue(r, 0, 13), "t") == 0;
        out->start_us = strtoll(PQgetvalue(r, 0, 14), NULL, 10);
        out->period_start_ms = dm__sub_ms(out->period_start_us);
        out->period_end_ms = dm__sub_ms(out->period_end_us);
        out->grace_until_ms = dm__sub_ms(out->grace_until_us);
    }
    PQclear(r);
    return rc;
}

int dm__sub_plan_get(dm_db *db, const char *id, dm_sub_plan *out, dm_err_t *err)
{
    if (!dm__users_valid_id(id))
        return dm_err_set(err, DM_ENOTFOUND, "no such plan");
    const char *p[] = { id };
    PGresult *r = dm__db_exec(db, "sub_plan_get",
                              "SELECT p.id, p.service_id, p.price, p.billing_period_days, "
                              "  p.is_active AND s.is_active AND c.is_active "
                              "FROM plans p JOIN services s ON s.id = p.service_id "
                              "JOIN categories c ON c.id = s.category_id WHERE p.id = $1::uuid",
                              1, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    int rc = 0;
    if (PQntuples(r) == 0) {
        rc = dm_err_set(err, DM_ENOTFOUND, "no such plan");
    } else {
        memset(out, 0, sizeof *out);
        copy(out->id, sizeof out->id, PQgetvalue(r, 0, 0));
        copy(out->service_id, sizeof out->service_id, PQgetvalue(r, 0, 1));
        out->price = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
        out->period_days = (int)strtol(PQgetvalue(r, 0, 3), NULL, 10);
        out->active = strcmp(PQgetvalue(r, 0, 4), "t") == 0;
    }
    PQclear(r);
    return rc;
}

/* One guarded UPDATE of used_quota; changed = whether a row matched. */
static int slot_update(dm_db *db, const char *name, const char *sql, const char *plan_id, bool *changed,
                       dm_err_t *err)
{
    int rc = dm__sub_lock_step(db, DM_SUB_LOCK_PLANS, err);
    if (rc != 0)
        return rc;
    const char *p[] = { plan_id };
    PGresult *r = dm__db_exec(db, name, sql, 1, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    *changed = PQntuples(r) == 1;
    PQclear(r);
    return 0;
}

int dm__sub_slot_take(dm_db *db, const char *plan_id, dm_err_t *err)
{
    bool ok = false;
    int rc = slot_update(db, "sub_slot_take",
                         "UPDATE plans SET used_quota = used_quota + 1, updated_at = now() "
                         "WHERE id = $1::uuid AND used_quota < total_quota RETURNING id",
                         plan_id, &ok, err);
    if (rc == 0 && !ok)
        rc = dm_err_set(err, DM_ECONFLICT, "this plan has no free slot");
    return rc;
}

int dm__sub_slot_free(dm_db *db, const char *plan_id, dm_err_t *err)
{
    bool ok = false;
    int rc = slot_update(db, "sub_slot_free",
                         "UPDATE plans SET used_quota = used_quota - 1, updated_at = now() "
                         "WHERE id = $1::uuid AND used_quota > 0 RETURNING id",
                         plan_id, &ok, err);
    if (rc == 0 && !ok)
        rc = dm_err_set(err, DM_EIO, "plan %s: no used slot to free", plan_id);
    return rc;
}

int dm__sub_money(dm_db *db, const char *user_id, const char *sub_id, const char *type, int64_t amount,
                  const char *description, json_t **tx_json, dm_err_t *err)
{
    const int rank = db->lock_rank;
    int rc = dm__sub_lock_step(db, DM_SUB_LOCK_BALANCE, err);
    if (rc != 0)
        return rc;
    json_t *meta = json_pack("{s:s}", "subscriptionId", sub_id);
    json_t *row = NULL;
    dm_ledger_post post = { user_id, type, amount, description, meta };
    rc = meta != NULL ? dm__ledger_post(db, &post, &row, err) : dm_err_set(err, DM_ENOMEM, "out of memory");
    json_decref(meta);
    /* A refused charge took no lock (the guarded UPDATE matched no row):
     * the transaction may still go on at the rank it had (the period end
     * suspends, or expires and frees the slot). */
    if (rc == DM_ECONFLICT)
        db->lock_rank = rank;
    if (rc != 0)
        return rc;
    /* The link as a column too, for queries by subscription. */
    const char *p[] = { json_string_value(json_object_get(row, "id")), sub_id };
    rc = dm__db_run(db, "sub_money_link", "UPDATE transactions SET subscription_id = $2::uuid WHERE id = $1::uuid",
                    2, p, err);
    if (rc == 0 && tx_json != NULL)
        *tx_json = json_incref(row);
    json_decref(row);
    return rc;
}

/* The API shape of one subscription row s (with its plan p, service v and
 * instance i), shared by the single read and the page read. */
#define SUB_JSON_FROM                                                                                         \
    "SELECT json_build_object('id', s.id, 'userId', s.user_id, 'status', s.status, "                         \
    "  'plan', json_build_object('id', p.id, 'slug', p.slug, 'name', p.name, 'price', p.price, "             \
    "    'billingPeriodDays', p.billing_period_days, 'cpuMillicores', p.cpu_millicores, "                      \
    "    'memoryMb', p.memory_mb, 'storageGb', p.storage_gb, 'features', p.features), "                        \
    "  'service', json_build_object('id', v.id, 'slug', v.slug, 'name', v.name), "                           \
    "  'price', s.price, 'billingPeriodDays', s.billing_period_days, "                                        \
    "  'startDate', " DM_SQL_TS("s.start_date") ", 'currentPeriodStart', " DM_SQL_TS("s.current_period_start") ", " \
    "  'endDate', " DM_SQL_TS("s.current_period_end") ", 'autoRenew', s.auto_renew, 'isBonus', s.is_bonus, "  \
    "  'graceUntil', " DM_SQL_TS("s.grace_until") ", 'cancelAtPeriodEnd', s.cancel_at_period_end, "          \
    "  'endedAt', " DM_SQL_TS("s.ended_at") ", 'endReason', s.end_reason, "                                  \
    "  'instance', CASE WHEN i.id IS NULL THEN NULL ELSE json_build_object('id', i.id, "                      \
    "    'status', i.status, 'urls', i.urls, 'healthStatus', i.health_status) END, "                           \
    "  'createdAt', " DM_SQL_TS("s.created_at") ", 'updatedAt', " DM_SQL_TS("s.updated_at") ")::text "        \
    "FROM subscriptions s JOIN plans p ON p.id = s.plan_id JOIN services v ON v.id = s.service_id "          \
    "LEFT JOIN instances i ON i.subscription_id = s.id "

int dm__sub_json(dm_db *db, const char *id, json_t **out, dm_err_t *err)
{
    if (!dm__users_valid_id(id))
        return dm_err_set(err, DM_ENOTFOUND, "no such subscription");
    const char *p[] = { id };
    PGresult *r = dm__db_exec(db, "sub_json", SUB_JSON_FROM "WHERE s.id = $1::uuid", 1, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    int rc = 0;
    if (PQntuples(r) == 0)
        rc = dm_err_set(err, DM_ENOTFOUND, "no such subscription");
    else if ((*out = json_loads(PQgetvalue(r, 0, 0), 0, NULL)) == NULL)
        rc = dm_err_set(err, DM_EIO, "subscription: unreadable row JSON");
    PQclear(r);
    return rc;
}

int dm__sub_json_page(dm_db *db, PGresult *ids, json_t **items, dm_err_t *err)
{
    *items = json_array();
    dm_buf list;
    dm__buf_init(&list, 0);
    int rc = *items != NULL && dm__buf_puts(&list, "{") == 0 ? 0 : dm_err_set(err, DM_ENOMEM, "out of memory");
    for (int i = 0; rc == 0 && i < PQntuples(ids); i++)
        if (dm__buf_printf(&list, "%s%s", i > 0 ? "," : "", PQgetvalue(ids, i, 0)) != 0)
            rc = dm_err_set(err, DM_ENOMEM, "out of memory");
    if (rc == 0 && dm__buf_puts(&list, "}") != 0)
        rc = dm_err_set(err, DM_ENOMEM, "out of memory");
    PGresult *r = NULL;
    if (rc == 0 && PQntuples(ids) > 0) {
        /* One statement for the page, in the order the ids came. */
        const char *p[] = { list.data };
        r = dm__db_exec(db, "sub_json_page",
                        SUB_JSON_FROM "WHERE s.id = ANY($1::uuid[]) ORDER BY array_position($1::uuid[], s.id)", 1,
                        p, err);
        if (r == NULL)
            rc = dm__db_failed(err);
    }
    for (int i = 0; rc == 0 && r != NULL && i < PQntuples(r); i++) {
        json_t *one = json_loads(PQgetvalue(r, i, 0), 0, NULL);
        if (one == NULL || json_array_append_new(*items, one) != 0)
            rc = dm_err_set(err, DM_EIO, "subscription: unreadable row JSON");
    }
    PQclear(r);
    dm__buf_free(&list);
    if (rc != 0) {
        json_decref(*items);
        *items = NULL;
    }
    return rc;
}

/* The INSERT of n's row with status and its first period [start, end);
 * id "" when a live subscription of the user to the service exists. */
static int insert_row(dm_db *db, const dm_sub_new *n, const char *status, int64_t start_us, int64_t end_us,
                      char id[37], dm_err_t *err)
{
    char start[24], end[24], days[16], price[24];
    snprintf(start, sizeof start, "%lld", (long long)start_us);
    snprintf(end, sizeof end, "%lld", (long long)end_us);
    snprintf(days, sizeof days, "%d", n->period_days);
    snprintf(price, sizeof price, "%lld", (long long)n->price);
    const char *p[] = { n->user_id, n->plan->id, n->plan->service_id, price, days, start, end,
                        n->auto_renew ? "t" : "f", n->is_bonus ? "t" : "f", status };
    /* ON CONFLICT on the one-live-per-service index: a concurrent twin
     * waits for the first to commit and then finds it, rather than failing
     * the transaction with a unique violation. */
    PGresult *r = dm__db_exec(
        db, "sub_create",
        "INSERT INTO subscriptions (user_id, plan_id, service_id, status, price, billing_period_days, start_date, "
        "  current_period_start, current_period_end, auto_renew, is_bonus) "
        "VALUES ($1::uuid, $2::uuid, $3::uuid, $10, $4::bigint, $5::int, " DM_SUB_SQL_TIME("$6") ", "
        "  " DM_SUB_SQL_TIME("$6") ", " DM_SUB_SQL_TIME("$7") ", $8::boolean, $9::boolean) "
        "ON CONFLICT (user_id, service_id) WHERE status IN ('ACTIVE', 'SUSPENDED') DO NOTHING RETURNING id",
        10, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    id[0] = '\0';
    if (PQntuples(r) == 1)
        copy(id, 37, PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int dm__sub_create(dm_db *db, const dm_sub_new *n, int64_t now_ms, dm_sub *out, dm_sub_refusal *refusal,
                   dm_err_t *err)
{
    *refusal = DM_SUB_REFUSED_NONE;
    const char *status = NULL;
    if (dm__sub_next(NULL, DM_SUB_OP_SUBSCRIBE, &status) != 0)
        return dm_err_set(err, DM_EIO, "the status table has no subscribe");
    /* The new row comes first (lock step 1), then its slot (step 2). */
    char id[37];
    int rc = dm__sub_lock_step(db, DM_SUB_LOCK_SUBSCRIPTION, err);
    if (rc == 0)
        rc = insert_row(db, n, status, now_ms * 1000, dm__sub_plus_days(now_ms * 1000, n->period_days), id, err);
    if (rc == 0 && id[0] == '\0') {
        *refusal = DM_SUB_ALREADY_SUBSCRIBED;
        return dm_err_set(err, DM_ECONFLICT, "already subscribed to this service");
    }
    const char *ip[] = { id, n->user_id };
    if (rc == 0)
        rc = dm__db_run(db, "sub_instance_new",
                        "INSERT INTO instances (subscription_id, user_id, status) VALUES ($1::uuid, $2::uuid, 'PENDING')",
                        2, ip, err);
    if (rc == 0)
        rc = dm__sub_lock(db, id, NULL, out, err);
    if (rc == 0 && (rc = dm__sub_slot_take(db, n->plan->id, err)) == DM_ECONFLICT)
        *refusal = DM_SUB_QUOTA_EXHAUSTED;
    if (rc == 0)
        rc = dm__instance_job_enqueue(db, DM_INSTANCE_JOB_PROVISION, out->instance_id, out->id, "subscribed", 0, NULL,
                                      err);
    return rc;
}

int dm__sub_change_plan(dm_db *db, dm_sub *sub, const dm_sub_plan *to, int64_t price, const char *reason,
                        dm_sub_refusal *refusal, dm_err_t *err)
{
    *refusal = DM_SUB_REFUSED_NONE;
    /* Both plan rows get locked: always in id order, so that a move A → B
     * and a concurrent move B → A cannot deadlock. */
    int rc = 0;
    const bool free_first = strcmp(sub->plan_id, to->id) < 0;
    if (free_first)
        rc = dm__sub_slot_free(db, sub->plan_id, err);
    if (rc == 0)
        rc = dm__sub_slot_take(db, to->id, err);
    if (rc == DM_ECONFLICT)
        *refusal = DM_SUB_QUOTA_EXHAUSTED;
    if (rc == 0 && !free_first)
        rc = dm__sub_slot_free(db, sub->plan_id, err);
    char pr[24];
    snprintf(pr, sizeof pr, "%lld", (long long)price);
    const char *p[] = { sub->id, to->id, pr };
    if (rc == 0)
        rc = dm__db_run(db, "sub_change_plan",
                        "UPDATE subscriptions SET plan_id = $2::uuid, price = $3::bigint, updated_at = now() "
                        "WHERE id = $1::uuid",
                        3, p, err);
    if (rc == 0 && sub->instance_id[0] != '\0')
        rc = dm__instance_job_enqueue(db, DM_INSTANCE_JOB_UPDATE, sub->instance_id, sub->id, reason, 0, NULL, err);
    if (rc == 0) {
        copy(sub->plan_id, sizeof sub->plan_id, to->id);
        sub->price = price;
    }
    return rc;
}

int dm__sub_paid(dm_db *db, const char *id, int64_t *net_paid, bool *refunded, dm_err_t *err)
{
    const char *p[] = { id };
    PGresult *r = dm__db_exec(db, "sub_paid",
                              "SELECT greatest(0, -coalesce(sum(amount), 0))::bigint, "
                              "  coalesce(bool_or(type = 'REFUND'), false) "
                              "FROM transactions WHERE subscription_id = $1::uuid AND status = 'SUCCESS' "
                              "  AND type IN ('SUBSCRIPTION', 'UPGRADE', 'RENEWAL', 'REFUND')",
                              1, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    *net_paid = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    if (refunded != NULL)
        *refunded = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    PQclear(r);
    return 0;
}

int dm__sub_instance_ran(dm_db *db, const char *id, bool *ran, dm_err_t *err)
{
    const char *p[] = { id };
    PGresult *r = dm__db_exec(db, "sub_instance_ran",
                              "SELECT EXISTS (SELECT 1 FROM instances i JOIN instance_events e ON e.instance_id = i.id "
                              "  WHERE i.subscription_id = $1::uuid AND e.to_status = 'RUNNING')",
                              1, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    *ran = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return 0;
}

int dm__sub_answer(int rc, dm_sub_refusal why, const dm_sub_answer *answers, size_t n, const char *const *words,
                   const char **code, dm_err_t *err)
{
    if (rc != DM_ECONFLICT || why == DM_SUB_REFUSED_NONE)
        return rc;
    const size_t i = (size_t)why;
    if (i >= n || answers[i].code == NULL)
        return dm_err_set(err, DM_EIO, "subscription: unexpected refusal %d", (int)why);
    const char *msg = words != NULL && words[i] != NULL ? words[i] : answers[i].msg;
    *code = answers[i].code;
    return dm_err_set(err, answers[i].rc, "%s", msg);
}
