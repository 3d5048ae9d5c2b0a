/*
 * admin_stats_routes.c — GET /api/admin/stats: one read-only statement that
 * PostgreSQL turns into the whole answer (users, the sum of all balances,
 * revenue per day/week/month in UTC and top-ups by status), plus the strict
 * RFC 3339 parsing the admin money routes use for from/to.
 */
#include "db/sql_time.h"
#include "wallet/admin_stats_routes.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "db/pg.h"
#include "http/body_fields.h"
#include "http/response.h"
#include "http/router.h"

/* At most this many revenue rows: a day-by-day chart of a bit more than a
 * year. Longer ranges should ask for weeks or months. */
#define MAX_BUCKETS 400


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

/* ---- RFC 3339 ----------------------------------------------------------- */

/* n decimal digits at p into *out; false if any is not a digit. */
static bool digits(const char *p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (the
 * civil-from-days algorithm run backwards: eras of 400 years). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "HH:MM:SS[.frac](Z|±HH:MM)" at p: seconds of the day minus the offset,
 * and the milliseconds of the fraction. */
static bool parse_clock(const char *p, int64_t *secs, int *millis)
{
    int hh, mi, ss;
    if (!digits(p, 2, &hh) || p[2] != ':' || !digits(p + 3, 2, &mi) || p[5] != ':' || !digits(p + 6, 2, &ss)
        || hh > 23 || mi > 59 || ss > 59)
        return false;
    p += 8;
    *millis = 0;
    if (*p == '.') {
        int n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 3)
                *millis = *millis * 10 + (*p - '0');
        if (n == 0 || n > 9)
            return false;
        for (; n < 3; n++)
            *millis *= 10;
    }
    int64_t offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        offset = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return false;
    }
    *secs = hh * 3600 + mi * 60 + ss - offset;
    return *p == '\0';
}

bool dm__admin_time_parse(const char *s, int64_t *ms)
{
    int y, m, d;
    if (s == NULL || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &m) || s[7] != '-'
        || !digits(s + 8, 2, &d) || y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return false;
    int64_t secs = 0;
    int millis = 0;
    if (s[10] != '\0' && ((s[10] != 'T' && s[10] != 't') || !parse_clock(s + 11, &secs, &millis)))
        return false;
    int64_t t = (days_from_civil(y, m, d) * 86400 + secs) * 1000 + millis;
    /* An offset can carry 0001-01-01 into year 0 or 9999-12-31 into 10000:
     * neither prints as a four-digit RFC 3339 year (strftime writes "0"),
     * so the normalised text would be refused or misread downstream. */
    if (t < days_from_civil(1, 1, 1) * 86400000 || t >= days_from_civil(10000, 1, 1) * 86400000)
        return false;
    *ms = t;
    return true;
}

void dm__admin_time_format(int64_t ms, char out[32])
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL) {
        snprintf(out, 32, "1970-01-01T00:00:00.000Z");
        return;
    }
    /* strftime bounds the date part; the remainder is 0..999 by construction. */
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    if (n == 0 || n > 26) {
        snprintf(out, 32, "1970-01-01T00:00:00.000Z");
        return;
    }
    snprintf(out + n, 32 - n, ".%03uZ", (unsigned)((uint64_t)(ms - (int64_t)secs * 1000) % 1000u));
}

/* ---- the route ---------------------------------------------------------- */

/* The period's name, the default range and a lower bound of its length in
 * seconds (a month is at least 28 days), for the bucket cap. */
typedef struct period_info {
    const char *name;
    int64_t     default_range_s;
    int64_t     min_len_s;
} period_info;

static const period_info PERIODS[] = {
    { "day", 30LL * 86400, 86400 },
    { "week", 12LL * 7 * 86400, 7 * 86400 },
    { "month", 365LL * 86400, 28 * 86400 },
};

/* ?period&from&to into a period and [from_ms, to_ms); false (400 set). */
static bool stats_query(dm_request *r, const period_info **period, int64_t *from_ms, int64_t *to_ms)
{
    const char *p = dm__req_query(r, "period");
    *period = NULL;
    for (size_t i = 0; i < sizeof PERIODS / sizeof PERIODS[0]; i++)
        if (p == NULL || p[0] == '\0' ? i == 0 : strcmp(p, PERIODS[i].name) == 0)
            *period = &PERIODS[i];
    if (*period == NULL) {
        dm__body_invalid(r, "period", "must be day, week or month");
        return false;
    }
    const char *f = dm__req_query(r, "from"), *t = dm__req_query(r, "to");
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    *to_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    if (t != NULL && t[0] != '\0' && !dm__admin_time_parse(t, to_ms)) {
        dm__body_invalid(r, "to", "must be an RFC 3339 date or date-time");
        return false;
    }
    *from_ms = *to_ms - (*period)->default_range_s * 1000;
    if (f != NULL && f[0] != '\0' && !dm__admin_time_parse(f, from_ms)) {
        dm__body_invalid(r, "from", "must be an RFC 3339 date or date-time");
        return false;
    }
    int64_t year1;
    if (dm__admin_time_parse("0001-01-01", &year1) && *from_ms < year1) {
        /* The default range reaching back from an early "to": year 0 would
         * print without its BC marker. */
        dm__body_invalid(r, "from", "must not be before 0001-01-01");
        return false;
    }
    if (*from_ms >= *to_ms) {
        dm__body_invalid(r, "to", "must be after from");
        return false;
    }
    if ((*to_ms - *from_ms) / 1000 / (*period)->min_len_s >= MAX_BUCKETS) {
        dm__body_invalid(r, "from", "the range holds too many periods: narrow it or use a longer period");
        return false;
    }
    return true;
}

void dm__admin_wallet_stats(dm_request *r)
{
    const period_info *period;
    int64_t from_ms, to_ms;
    if (!stats_query(r, &period, &from_ms, &to_ms))
        return;
    char f[24], t[24];
    snprintf(f, sizeof f, "%lld", (long long)from_ms);
    snprintf(t, sizeof t, "%lld", (long long)to_ms);
    const char *params[] = { period->name, f, t };
    dm_err_t err = { 0 };
    PGresult *res = dm__db_exec(r->db, "admin_wallet_stats", SQL_STATS, 3, params, &err);
    if (res == NULL) {
        dm__res_failure(r, &err, "admin stats");
        return;
    }
    json_t *data = PQntuples(res) == 1 ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;
    PQclear(res);
    if (data == NULL) {
        dm_err_set(&err, DM_EIO, "unreadable statistics row");
        dm__res_failure(r, &err, "admin stats");
        return;
    }
    dm__res_ok(r, 200, data);
}
