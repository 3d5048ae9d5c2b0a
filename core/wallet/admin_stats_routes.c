/*
 * admin_stats_routes.c — GET /api/admin/stats?period=day|week|month&from&to:
 * the query checked (strict RFC 3339, at most MAX_BUCKETS periods), then
 * wallet_stats.c builds the answer.
 */
#include "wallet/wallet_routes.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http/body_fields.h"
#include "http/response.h"
#include "http/router.h"
#include "util/rfc3339.h"
#include "wallet/wallet_admin.h"

/* At most this many revenue rows: a day-by-day chart of a bit more than a
 * year. Longer ranges should ask for weeks or months. */
#define MAX_BUCKETS 400

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
    if (t != NULL && t[0] != '\0' && !dm__rfc3339_parse(t, to_ms)) {
        dm__body_invalid(r, "to", "must be an RFC 3339 date or date-time");
        return false;
    }
    *from_ms = *to_ms - (*period)->default_range_s * 1000;
    if (f != NULL && f[0] != '\0' && !dm__rfc3339_parse(f, from_ms)) {
        dm__body_invalid(r, "from", "must be an RFC 3339 date or date-time");
        return false;
    }
    int64_t year1;
    if (dm__rfc3339_parse("0001-01-01", &year1) && *from_ms < year1) {
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
    json_t *data = NULL;
    dm_err_t err = { 0 };
    if (dm__wallet_stats(r->db, period->name, from_ms, to_ms, &data, &err) != 0)
        dm__res_failure(r, &err, "admin stats");
    else
        dm__res_ok(r, 200, data);
}
