/*
 * wallet_stats.c — the administrators' statistics (wallet_admin.h): one
 * read-only statement that PostgreSQL turns into the whole answer (users,
 * the sum of all balances, revenue per day/week/month in UTC and top-ups
 * by status).
 */
#include "wallet/wallet_admin.h"

#include <stdio.h>

#include "db/sql_time.h"


/* Revenue is grouped by settled_at (when the money moved) and top-up
 * requests by created_at; both within [from, to). Buckets are the
 * date_trunc periods of UTC time that overlap the range, each listed even
 * when nothing happened in it, so a chart needs no gap filling. */
static const char SQL_STATS[] =
    "WITH r AS (SELECT $1::text AS p, to_timestamp($2::bigint / 1000.0) AS f, "
    "                  to_timestamp($3::bigint / 1000.0) AS t), "
    "b AS (SELECT g AS start FROM r, generate_series(date_trunc(r.p, r.f AT TIME ZONE 'UTC'), "
    "          (r.t AT TIME ZONE 'UTC') - interval '1 millisecond', ('1 ' || r.p)::interval) g), "
    "a AS (SELECT date_trunc(r.p, x.settled_at AT TIME ZONE 'UTC') AS start, "
    "          sum(x.amount) FILTER (WHERE x.type = 'TOPUP') AS topups, "
    "          -sum(x.amount) FILTER (WHERE x.type IN ('SUBSCRIPTION', 'UPGRADE', 'RENEWAL')) AS spent, "
    "          sum(x.amount) FILTER (WHERE x.type = 'REFUND') AS refunds, "
    "          sum(x.amount) FILTER (WHERE x.type = 'ADJUSTMENT') AS adjustments, "
    "          sum(x.amount) FILTER (WHERE x.type = 'BONUS') AS bonuses "
    "        FROM transactions x, r "
    "       WHERE x.status = 'SUCCESS' AND x.settled_at >= r.f AND x.settled_at < r.t GROUP BY 1), "
    "s AS (SELECT x.status, count(*) AS n, sum(x.amount) AS amt FROM transactions x, r "
    "       WHERE x.type = 'TOPUP' AND x.created_at >= r.f AND x.created_at < r.t GROUP BY x.status) "
    "SELECT json_build_object("
    "  'period', r.p, 'from', " DM_SQL_TS("r.f") ", 'to', " DM_SQL_TS("r.t") ", "
    "  'users', (SELECT json_build_object('total', count(*), 'active', count(*) FILTER (WHERE u.is_active), "
    "                   'administrators', count(*) FILTER (WHERE u.role = 'ADMINISTRATOR'), "
    "                   'newInPeriod', count(*) FILTER (WHERE u.created_at >= r.f AND u.created_at < r.t)) "
    "              FROM users u), "
    "  'wallet', (SELECT json_build_object('totalBalance', coalesce(sum(u.credit_balance), 0)::bigint) "
    "               FROM users u), "
    "  'revenue', (SELECT coalesce(json_agg(json_build_object("
    "                  'period', to_char(b.start, 'YYYY-MM-DD'), "
    "                  'topups', coalesce(a.topups, 0)::bigint, 'spent', coalesce(a.spent, 0)::bigint, "
    "                  'refunds', coalesce(a.refunds, 0)::bigint, "
    "                  'adjustments', coalesce(a.adjustments, 0)::bigint, "
    "                  'bonuses', coalesce(a.bonuses, 0)::bigint) ORDER BY b.start), '[]'::json) "
    "                FROM b LEFT JOIN a USING (start)), "
    "  'topups', json_build_object('byStatus', (SELECT json_object_agg(k.status, json_build_object("
    "                  'count', coalesce(s.n, 0), 'amount', coalesce(s.amt, 0)::bigint) ORDER BY k.ord) "
    "                FROM unnest(ARRAY['PENDING', 'SUCCESS', 'FAILED', 'CANCELLED', 'EXPIRED']) "
    "                     WITH ORDINALITY AS k(status, ord) LEFT JOIN s USING (status)))"
    ")::text FROM r";

int dm__wallet_stats(dm_db *db, const char *period, int64_t from_ms, int64_t to_ms, json_t **out, dm_err_t *err)
{
    char f[24], t[24];
    snprintf(f, sizeof f, "%lld", (long long)from_ms);
    snprintf(t, sizeof t, "%lld", (long long)to_ms);
    const char *params[] = { period, f, t };
    PGresult *res = dm__db_exec(db, "admin_wallet_stats", SQL_STATS, 3, params, err);
    if (res == NULL)
        return dm__db_failed(err);
    *out = PQntuples(res) == 1 ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;
    PQclear(res);
    return *out != NULL ? 0 : dm_err_set(err, DM_EIO, "unreadable statistics row");
}
