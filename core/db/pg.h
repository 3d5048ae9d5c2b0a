/*
 * pg.h — one libpq connection owned by one thread (a pool worker, a job
 * runner, or the migrator). Opened lazily, reopened after a failure, with a
 * per-connection cache of prepared statements. Never used on the loop thread.
 * A dm_db must not move in memory while it holds a connection (libpq's
 * notice receiver points at it).
 *
 * Broken connections. A connection can die while it sits idle (PostgreSQL
 * restarted, an administrator terminated the backend): outside a
 * transaction each statement first checks, without a round trip, that the
 * connection is alive, and replaces a dead one (one warning line each).
 * When a statement's connection breaks under it, outside a transaction:
 *   - before the statement was sent (or while preparing it): it cannot have
 *     run, so it runs again, once, on a new connection;
 *   - after it was sent: it may have run. It runs again, once, on a new
 *     connection inside BEGIN READ ONLY, so a read gets its answer and a
 *     write is refused by PostgreSQL and never runs twice; the caller gets
 *     DM_EUNAVAIL for it, as before.
 * Inside a transaction nothing is replaced or run again: the transaction
 * died with its connection (its writes with it), every later statement and
 * the COMMIT fail with DM_EUNAVAIL until the caller rolls back, and the
 * caller reports an error; a whole transaction is never re-run behind its
 * back. A lost reply to COMMIT is reported as DM_EUNAVAIL (the outcome is
 * unknown), never retried. No reply within the wait is not retried either
 * (a hung database would double the wait).
 */
#ifndef DM_PG_H
#define DM_PG_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include <dermaga/error.h>

#define DM_DB_MAX_PREPARED 256

typedef struct dm_db {
    PGconn   *conn;              /* NULL until first use or after a failure */
    char     *conninfo;          /* owned */
    int       connect_timeout_s;
    int       statement_timeout_ms;
    char     *prepared[DM_DB_MAX_PREPARED]; /* names prepared on conn; owned */
    int       n_prepared;
    uint64_t  retry_at_ns;       /* after a failed connect, fail fast until then */
    char      sqlstate[6];       /* of the last failed statement, or "" */
    bool      in_tx;             /* between dm__db_begin and commit/rollback */
    int       tx_depth;          /* 0 outside; 1 in a transaction; more inside
                                    nested ones (savepoints) */
    bool      pinned;            /* the session holds state a new connection would lack
                                    (the migrator's advisory lock): a broken connection
                                    fails the call instead of being replaced in it */
    char      lost_why[128];     /* a FATAL notice the server sent before closing */
    int       lock_rank;         /* the highest lock rank taken in the open transaction
                                    (subscriptions/policy.h: the lock order); 0 outside
                                    one. Kept across nested levels: PostgreSQL holds
                                    their locks until the outermost transaction ends */
} dm_db;

/* Initialise without connecting. conninfo is copied. */
int  dm__db_init(dm_db *db, const char *conninfo, int connect_timeout_s,
                 int statement_timeout_ms, dm_err_t *err);
/* Close the connection and free everything. */
void dm__db_fini(dm_db *db);
/* Connect if needed. 0, or DM_EUNAVAIL with a message (no secrets in it). */
int  dm__db_ensure(dm_db *db, dm_err_t *err);
/* True when a connection is open and healthy (no round trip). */
bool dm__db_connected(const dm_db *db);

/*
 * Run `sql` as the prepared statement `name` (prepared once per connection
 * and cached; the same name must always carry the same SQL). Parameters are
 * text, NULL for SQL NULL. Returns a new PGresult (caller PQclear()s) whose
 * status is COMMAND_OK or TUPLES_OK, or NULL with err set:
 *   DM_EUNAVAIL — connection lost (and the statement could not safely be
 *                 run again: see the top of this file), database down, or no
 *                 reply within statement_timeout + 2 s (the connection is
 *                 dropped and reopened by the next call outside a
 *                 transaction; inside one, every call fails until
 *                 dm__db_rollback); DM_EIO — the statement failed
 *                 (db->sqlstate holds the SQLSTATE, e.g. "23505").
 */
PGresult *dm__db_exec(dm_db *db, const char *name, const char *sql,
                      int nparams, const char *const *params, dm_err_t *err);

/* Same without preparing (for one-off statements such as DDL). */
PGresult *dm__db_exec_once(dm_db *db, const char *sql, int nparams,
                           const char *const *params, dm_err_t *err);

/* A readiness probe outside a transaction: SELECT 1 on a live connection
 * (a dead one is replaced first), waiting at most connect_timeout_s + 2 s
 * (and no longer than statement_timeout + 2 s) for the reply. 0 or
 * DM_EUNAVAIL. */
int  dm__db_ping(dm_db *db, dm_err_t *err);

/* Run a statement and discard its result; 0 or the codes above. */
int  dm__db_run(dm_db *db, const char *name, const char *sql, int nparams,
                const char *const *params, dm_err_t *err);

/*
 * Transactions nest. The outermost dm__db_begin is BEGIN and its commit is
 * COMMIT; inside it, begin is a SAVEPOINT, commit releases it and rollback
 * undoes only what came after it. So a piece of code that is one
 * transaction on its own (BEGIN … COMMIT) becomes part of a larger unit of
 * work when a caller already holds one open — this is how an
 * Idempotency-Key claim and its stored answer commit with the handler's
 * change (http/idempotency.c) — and nothing it wrote is saved before that
 * caller's COMMIT.
 */
int  dm__db_begin(dm_db *db, dm_err_t *err);
/* DM_EIO when PostgreSQL rolled the transaction back instead (an earlier
 * statement in it failed): nothing was saved. Inside a nested transaction
 * a failed release undoes the nested part and leaves the outer one
 * usable. */
int  dm__db_commit(dm_db *db, dm_err_t *err);
/* Best effort; never fails the caller. Inside a nested transaction, undoes
 * only the nested part. */
void dm__db_rollback(dm_db *db);

/* The code to return after a failed call that filled err (NULL-safe):
 * its code, or DM_EIO when it left none. */
static inline int dm__db_failed(const dm_err_t *err)
{
    return err != NULL && err->code != 0 ? err->code : DM_EIO;
}

/* End the open transaction by how the work in it went: commit when rc is
 * 0 (returning the commit's code), else roll back and return rc. */
int  dm__db_end(dm_db *db, int rc, dm_err_t *err);

#endif
