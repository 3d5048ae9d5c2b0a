/*
 * sql_time.h — how SQL text turns a timestamptz column into what the API
 * shows: RFC 3339 UTC with milliseconds ("2026-11-25T22:31:02.123Z"), the
 * one spelling every JSON-building query uses, or milliseconds since the
 * epoch for code that computes with times.
 */
#ifndef DM_SQL_TIME_H
#define DM_SQL_TIME_H

/* A text expression for col in RFC 3339 UTC (NULL stays NULL). */
#define DM_SQL_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* A bigint expression for col in milliseconds since the epoch. */
#define DM_SQL_MS(col) "(extract(epoch FROM " col ") * 1000)::bigint"

#endif
