/*
 * policy.c — the lock-order check, the status table and its one writer
 * (dm__sub_apply), and what the period end does next (policy.h). Periods,
 * prices, refunds, renewal and upgrade are policy_billing.c.
 */
#include "subscriptions/policy.h"

#include <stdio.h>
#include <string.h>

#include "instances/instance_job.h"
#include "util/log.h"

/* ---- the lock order ----------------------------------------------------- */

static const char *rank_name(int rank)
{
    static const char *const names[] = { "nothing", "the subscription row", "plan rows", "the balance row" };
    return rank >= 0 && rank < (int)(sizeof names / sizeof names[0]) ? names[rank] : "?";
}

int dm__sub_lock_step(dm_db *db, dm_sub_lock_rank rank, dm_err_t *err)
{
    if (!db->in_tx)
        return 0;
    if (db->lock_rank > (int)rank) {
        DM_LOG_E("lock order broken: %s after %s (subscriptions/policy.h)", rank_name((int)rank),
                 rank_name(db->lock_rank));
        return dm_err_set(err, DM_EIO, "lock order broken: %s after %s", rank_name((int)rank),
                          rank_name(db->lock_rank));
    }
    db->lock_rank = (int)rank;
    return 0;
}

/* ---- the status table --------------------------------------------------- */

enum { S_NONE, S_ACTIVE, S_SUSPENDED, S_EXPIRED, S_CANCELLED, S_COUNT };

const char *const dm__sub_statuses[DM_SUB_NSTATUS] = { "ACTIVE", "SUSPENDED", "EXPIRED", "CANCELLED" };

#define B(s) (1u << (s))
#define LIVE (B(S_ACTIVE) | B(S_SUSPENDED))
#define SAME (-1) /* the status stays */

/*
 * The allowed transitions; every other (status, operation) pair is refused.
 * "(none)" is a subscription that does not exist yet; "=" keeps the status.
 *   subscribe        (none)             → ACTIVE     user, or an administrator's bonus
 *   renew            ACTIVE, SUSPENDED  → ACTIVE     the user pays one more period
 *   period-renew     ACTIVE             → ACTIVE     auto-renew at the period end
 *   suspend          ACTIVE             → SUSPENDED  period over, unpaid: grace
 *   grace-expire     ACTIVE, SUSPENDED  → EXPIRED    grace over (from ACTIVE when it was
 *                                                    over before the job got to it)
 *   cancel           ACTIVE, SUSPENDED  → CANCELLED  the user
 *   force-cancel     ACTIVE, SUSPENDED  → CANCELLED  an administrator, now
 *   schedule-cancel  ACTIVE             → =          an administrator, at the period end
 *                                                    (a SUSPENDED one has no period left)
 *   period-cancel    ACTIVE             → CANCELLED  the period end applies it
 *   expire           ACTIVE, SUSPENDED  → EXPIRED    an administrator
 *   extend           ACTIVE, SUSPENDED  → =          free days; the end still past
 *   extend-resume    SUSPENDED          → ACTIVE     free days that end the suspension
 *   upgrade          ACTIVE             → =          the user
 *   admin-upgrade    ACTIVE, SUSPENDED  → =          an administrator
 *   auto-renew       ACTIVE, SUSPENDED  → =          on or off
 *   runtime          ACTIVE             → =          start, stop, restart of its instance
 * EXPIRED and CANCELLED are final: nothing leaves them (subscribe again).
 */
static const struct rule {
    const char *name;
    unsigned    from; /* bit s set: allowed from status s */
    int         to;   /* a status, or SAME */
} rules[DM_SUB_NOPS] = {
    [DM_SUB_OP_SUBSCRIBE] = { "subscribe", B(S_NONE), S_ACTIVE },
    [DM_SUB_OP_RENEW] = { "renew", LIVE, S_ACTIVE },
    [DM_SUB_OP_PERIOD_RENEW] = { "period-renew", B(S_ACTIVE), S_ACTIVE },
    [DM_SUB_OP_SUSPEND] = { "suspend", B(S_ACTIVE), S_SUSPENDED },
    [DM_SUB_OP_GRACE_EXPIRE] = { "grace-expire", LIVE, S_EXPIRED },
    [DM_SUB_OP_CANCEL] = { "cancel", LIVE, S_CANCELLED },
    [DM_SUB_OP_FORCE_CANCEL] = { "force-cancel", LIVE, S_CANCELLED },
    [DM_SUB_OP_SCHEDULE_CANCEL] = { "schedule-cancel", B(S_ACTIVE), SAME },
    [DM_SUB_OP_PERIOD_CANCEL] = { "period-cancel", B(S_ACTIVE), S_CANCELLED },
    [DM_SUB_OP_EXPIRE] = { "expire", LIVE, S_EXPIRED },
    [DM_SUB_OP_EXTEND] = { "extend", LIVE, SAME },
    [DM_SUB_OP_EXTEND_RESUME] = { "extend-resume", B(S_SUSPENDED), S_ACTIVE },
    [DM_SUB_OP_UPGRADE] = { "upgrade", B(S_ACTIVE), SAME },
    [DM_SUB_OP_ADMIN_UPGRADE] = { "admin-upgrade", LIVE, SAME },
    [DM_SUB_OP_AUTO_RENEW] = { "auto-renew", LIVE, SAME },
    [DM_SUB_OP_RUNTIME] = { "runtime", B(S_ACTIVE), SAME },
};

/* S_NONE for NULL, the status's index, or -1 when unknown. */
static int status_index(const char *s)
{
    if (s == NULL)
        return S_NONE;
    for (int i = 0; i < DM_SUB_NSTATUS; i++)
        if (strcmp(dm__sub_statuses[i], s) == 0)
            return S_ACTIVE + i;
    return -1;
}

const char *dm__sub_op_name(dm_sub_op op)
{
    return (int)op >= 0 && op < DM_SUB_NOPS ? rules[op].name : "?";
}

bool dm__sub_status_valid(const char *status)
{
    return status != NULL && status_index(status) > S_NONE;
}

int dm__sub_next(const char *from, dm_sub_op op, const char **to)
{
    int f = status_index(from);
    if (f < 0 || (int)op < 0 || op >= DM_SUB_NOPS)
        return DM_EINVAL;
    if ((rules[op].from & B(f)) == 0)
        return DM_ECONFLICT;
    if (to != NULL)
        *to = dm__sub_statuses[(rules[op].to == SAME ? f : rules[op].to) - S_ACTIVE];
    return 0;
}

/* ---- the one writer of a status ----------------------------------------- */

void dm__sub_move_init(dm_sub_move *m, const dm_sub *s)
{
    memset(m, 0, sizeof *m);
    m->period_start_us = s->period_start_us;
    m->period_end_us = s->period_end_us;
    m->grace_until_us = s->grace_until_us;
    m->cancel_at_period_end = s->cancel_at_period_end;
    m->auto_renew = s->auto_renew;
}

/* The instance job that follows the edge from status f to t, or -1. */
static int edge_job(int f, int t)
{
    if ((B(f) & LIVE) != 0 && (B(t) & LIVE) == 0)
        return DM_INSTANCE_JOB_TERMINATE;
    if (f == S_ACTIVE && t == S_SUSPENDED)
        return DM_INSTANCE_JOB_STOP;
    if (f == S_SUSPENDED && t == S_ACTIVE)
        return DM_INSTANCE_JOB_START;
    return -1;
}

/* ms as text in buf when it moved from was, else NULL: the column keeps
 * its value (and its precision). */
static const char *moved(char buf[24], int64_t ms, int64_t was)
{
    if (ms == was)
        return NULL;
    snprintf(buf, 24, "%lld", (long long)ms);
    return buf;
}

/* The UPDATE of s's row to status index t with m; ends: ended_at and
 * end_reason too. A grace is kept only while SUSPENDED ("0" clears it). */
static int write_row(dm_db *db, const dm_sub *s, int t, const dm_sub_move *m, bool ends, dm_err_t *err)
{
    char start[24], end[24], grace[24], at[24];
    snprintf(at, sizeof at, "%lld", (long long)m->at_us);
    const char *p[] = { s->id, dm__sub_statuses[t - S_ACTIVE],
                        moved(start, m->period_start_us, s->period_start_us),
                        moved(end, m->period_end_us, s->period_end_us),
                        t == S_SUSPENDED ? moved(grace, m->grace_until_us, s->grace_until_us) : "0",
                        m->cancel_at_period_end ? "t" : "f", m->auto_renew ? "t" : "f", ends ? at : NULL,
                        m->reason };
    return dm__db_run(db, "sub_apply",
                      "UPDATE subscriptions SET status = $2, "
                      "  current_period_start = coalesce(" DM_SUB_SQL_TIME("$3") ", current_period_start), "
                      "  current_period_end = coalesce(" DM_SUB_SQL_TIME("$4") ", current_period_end), "
                      "  grace_until = CASE WHEN $5::bigint IS NULL THEN grace_until WHEN $5::bigint = 0 THEN NULL "
                      "    ELSE " DM_SUB_SQL_TIME("$5") " END, "
                      "  cancel_at_period_end = $6::boolean, auto_renew = $7::boolean, "
                      "  ended_at = coalesce(" DM_SUB_SQL_TIME("$8") ", ended_at), "
                      "  end_reason = CASE WHEN $8::bigint IS NULL THEN end_reason ELSE $9::text END, "
                      "  updated_at = now() WHERE id = $1::uuid",
                      9, p, err);
}

int dm__sub_apply(dm_db *db, dm_sub *s, dm_sub_op op, const dm_sub_move *m, dm_err_t *err)
{
    const char *to = NULL;
    int rc = dm__sub_next(s->status, op, &to);
    if (rc == DM_ECONFLICT)
        return dm_err_set(err, rc, "the subscription is %s: %s is not allowed", s->status, dm__sub_op_name(op));
    if (rc != 0 || status_index(s->status) == S_NONE)
        return dm_err_set(err, DM_EIO, "subscription %s: status %s, operation %d", s->id, s->status, (int)op);
    const int f = status_index(s->status), t = status_index(to);
    const int job = edge_job(f, t);
    const bool ends = job == DM_INSTANCE_JOB_TERMINATE;
    rc = write_row(db, s, t, m, ends, err);
    if (rc == 0 && ends)
        rc = dm__sub_slot_free(db, s->plan_id, err);
    if (rc == 0 && job >= 0 && s->instance_id[0] != '\0')
        rc = dm__instance_job_enqueue(db, (dm_instance_job_kind)job, s->instance_id, s->id, m->reason, 0, NULL, err);
    if (rc != 0)
        return rc;
    snprintf(s->status, sizeof s->status, "%s", to);
    s->period_start_us = m->period_start_us;
    s->period_end_us = m->period_end_us;
    s->grace_until_us = t == S_SUSPENDED ? m->grace_until_us : 0;
    s->period_start_ms = dm__sub_ms(s->period_start_us);
    s->period_end_ms = dm__sub_ms(s->period_end_us);
    s->grace_until_ms = dm__sub_ms(s->grace_until_us);
    s->cancel_at_period_end = m->cancel_at_period_end;
    s->auto_renew = m->auto_renew;
    return 0;
}

/* ---- the period end ----------------------------------------------------- */

int64_t dm__sub_grace_end(const dm_sub *s, int grace_days)
{
    if (status_index(s->status) == S_SUSPENDED)
        return s->grace_until_us;
    return dm__sub_plus_days(s->period_end_us, grace_days);
}

dm_sub_op dm__sub_unpaid(const dm_sub *s, int64_t now_ms, int grace_days)
{
    return dm__sub_ms(dm__sub_grace_end(s, grace_days)) <= now_ms ? DM_SUB_OP_GRACE_EXPIRE : DM_SUB_OP_SUSPEND;
}

dm_sub_op dm__sub_due(const dm_sub *s, int64_t now_ms, int grace_days)
{
    switch (status_index(s->status)) {
    case S_SUSPENDED:
        return s->grace_until_ms <= now_ms ? DM_SUB_OP_GRACE_EXPIRE : DM_SUB_NOPS;
    case S_ACTIVE:
        if (s->period_end_ms > now_ms)
            return DM_SUB_NOPS;
        if (s->cancel_at_period_end)
            return DM_SUB_OP_PERIOD_CANCEL;
        /* A bonus with auto-renew on is refused by dm__sub_renewal, which
         * owns that rule, and then goes the unpaid way. */
        return s->auto_renew ? DM_SUB_OP_PERIOD_RENEW : dm__sub_unpaid(s, now_ms, grace_days);
    default:
        return DM_SUB_NOPS;
    }
}
