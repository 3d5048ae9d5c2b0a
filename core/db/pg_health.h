/*
 * pg_health.h — what db/pg.c needs to know about liveness, kept apart from
 * the statement code: a cheap check that an idle connection is still alive
 * (no round trip), and the process-wide reachability state that keeps the
 * log short during an outage — one warning when the database goes away,
 * a reminder at most every 30 s, one info line when it is back — however
 * many connections fail in between. Any thread.
 */
#ifndef DM_PG_HEALTH_H
#define DM_PG_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

/*
 * Is c, which has no command in progress, still alive as far as can be told
 * without a round trip? It reads whatever the server sent while it sat idle:
 * a server that restarted or terminated the backend sent FATAL and closed,
 * so the read finds the end of the stream and libpq marks c bad. False with
 * the first line of libpq's reason in why (cap > 0) when c is dead.
 */
bool dm__pg_idle_alive(PGconn *c, char *why, size_t cap);

/* A connect failed (why: one line, no secrets). Logs the first failure of
 * an outage and then a count at most every 30 s. */
void dm__pg_note_connect_failed(const char *why);

/* A connect succeeded: after failures, logs once that the database is
 * reachable again. */
void dm__pg_note_connected(void);

#endif
