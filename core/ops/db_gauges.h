/*
 * db_gauges.h — business figures for /metrics read from the database
 * (instances and subscriptions by status, pending top-ups). A thread of its
 * own, with a connection of its own, refreshes a snapshot every refresh_s
 * seconds; a scrape only copies the snapshot, so it never waits on the
 * database, and while the database is down it keeps serving the last
 * values (their age is exported).
 */
#ifndef DM_DB_GAUGES_H
#define DM_DB_GAUGES_H

#include <dermaga/error.h>

#include "util/buf.h"

typedef struct dm_db_gauges dm_db_gauges;

/* Start the refresher: the first read runs at once, then one every
 * refresh_s seconds (>= 1). conninfo is copied. New (free with
 * dm__db_gauges_free), or NULL with err set. */
dm_db_gauges *dm__db_gauges_start(const char *conninfo, int connect_timeout_s, int refresh_s, dm_err_t *err);

/* A dm_metrics_source_fn (ctx is the dm_db_gauges): dermaga_instances,
 * dermaga_subscriptions, dermaga_topups_pending(_amount) from the last good
 * read (left out until there is one), their refresh time and the failed
 * reads. Never blocks on the database. 0 or the dm_buf error. */
int dm__db_gauges_render(void *ctx, dm_buf *out);

/* Stop the thread (a read in progress ends within the statement timeout)
 * and free. NULL is fine. */
void dm__db_gauges_free(dm_db_gauges *g);

#endif
