/*
 * admin_stats_routes.h — what admin_wallet_routes.c shares with its statistics
 * file: the GET /api/admin/stats handler and the strict RFC 3339 reading of
 * the from/to query parameters both admin money listings take.
 */
#ifndef DM_ADMIN_WALLET_STATS_H
#define DM_ADMIN_WALLET_STATS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct dm_request dm_request; /* http/request.h */

/* GET /api/admin/stats?period=day|week|month&from&to (a pool handler):
 * users, the total of all balances, revenue per period and top-ups by
 * status. Answers 200, 400 VALIDATION_ERROR naming the parameter, or a
 * failure. Reads only: no audit row. */
void dm__admin_wallet_stats(dm_request *r);

/* Read s (borrowed) as "YYYY-MM-DD" (midnight UTC) or an RFC 3339 date-time
 * "YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)" into milliseconds since the
 * epoch. False for anything else, including impossible dates (2026-02-30)
 * and instants outside years 0001..9999 UTC once the offset is applied. */
bool dm__admin_time_parse(const char *s, int64_t *ms);

/* ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (always NUL-terminated). */
void dm__admin_time_format(int64_t ms, char out[32]);

#endif
