/*
 * rfc3339.h — strict RFC 3339 times as milliseconds since the epoch (UTC),
 * so a query value PostgreSQL would read differently never reaches it.
 */
#ifndef DM_RFC3339_H
#define DM_RFC3339_H

#include <stdbool.h>
#include <stdint.h>

/* Read s (borrowed) as "YYYY-MM-DD" (midnight UTC) or an RFC 3339 date-time
 * "YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)" into milliseconds since the
 * epoch. False for anything else, including impossible dates (2026-02-30)
 * and instants outside years 0001..9999 UTC once the offset is applied. */
bool dm__rfc3339_parse(const char *s, int64_t *ms);

/* ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (always NUL-terminated). */
void dm__rfc3339_format(int64_t ms, char out[32]);

#endif
