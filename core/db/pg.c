/*
 * pg.c — a lazily opened, self-healing libpq connection with a prepared
 * statement cache. Owned by exactly one thread at a time.
 */
#include "db/pg.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/log.h"

/* After a failed connect, answer DM_EUNAVAIL without retrying for this long,
 * so a down database costs callers microseconds rather than a timeout each. */
#define RECONNECT_BACKOFF_NS (500ull * 1000000ull)
/* How much longer than statement_timeout we wait for a reply. The server
 * enforces statement_timeout itself, so a reply later than this means the
 * server or the network stopped answering: without a limit here a worker
 * would wait for TCP to give up (many minutes) or forever. */
#define REPLY_MARGIN_MS 2000u

int dm__db_init(dm_db *db, const char *conninfo, int connect_timeout_s,
                int statement_timeout_ms, dm_err_t *err)
{
    memset(db, 0, sizeof *db);
    db->conninfo = strdup(conninfo != NULL ? conninfo : "");
    if (db->conninfo == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    db->connect_timeout_s = connect_timeout_s > 0 ? connect_timeout_s : 2;
    db->statement_timeout_ms = statement_timeout_ms;
    return 0;
}

/* in_tx survives the drop on purpose: the transaction died with the
 * connection, and dm__db_ensure refuses to reconnect under it. */
static void drop_connection(dm_db *db)
{
    if (db->conn != NULL)
        PQfinish(db->conn);
    db->conn = NULL;
    for (int i = 0; i < db->n_prepared; i++)
        free(db->prepared[i]);
    db->n_prepared = 0;
}

void dm__db_fini(dm_db *db)
{
    drop_connection(db);
    db->in_tx = false;
    db->tx_depth = 0;
    free(db->conninfo);
    db->conninfo = NULL;
}

bool dm__db_connected(const dm_db *db)
{
    return db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK;
}

int dm__db_ensure(dm_db *db, dm_err_t *err)
{
    if (dm__db_connected(db))
        return 0;
    drop_connection(db);
    if (db->in_tx) {
        /* A new connection would run the rest of the transaction's
         * statements in autocommit: fail them until the caller rolls back. */
        return dm_err_set(err, DM_EUNAVAIL, "database connection lost inside a transaction");
    }
    uint64_t now = dm__clock_mono_ns();
    if (now < db->retry_at_ns)
        return dm_err_set(err, DM_EUNAVAIL, "database unavailable");

    char timeout[16], stmt[64];
    snprintf(timeout, sizeof timeout, "%d", db->connect_timeout_s);
    snprintf(stmt, sizeof stmt, "-c statement_timeout=%d", db->statement_timeout_ms);
    const char *keys[] = { "dbname", "connect_timeout", "options", "application_name", NULL };
    const char *vals[] = { db->conninfo, timeout, stmt, "dermaga", NULL };
    /* expand_dbname=1: the conninfo string or URL in "dbname" is expanded,
     * and later keys override it only where it leaves them unset. */
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        const char *why = c != NULL ? PQerrorMessage(c) : "out of memory";
        DM_LOG_W("database connect failed: %.*s", (int)strcspn(why, "\n"), why);
        if (c != NULL)
            PQfinish(c);
        db->retry_at_ns = now + RECONNECT_BACKOFF_NS;
        return dm_err_set(err, DM_EUNAVAIL, "database unavailable");
    }
    db->conn = c;
    db->retry_at_ns = 0;
    return 0;
}

/* Classify a failed result: a broken connection becomes DM_EUNAVAIL and is
 * dropped; anything else is a statement error with its SQLSTATE kept. */
static PGresult *fail(dm_db *db, PGresult *res, dm_err_t *err)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(db->sqlstate, sizeof db->sqlstate, "%s", state != NULL ? state : "");
    int code = DM_EIO;
    /* Class 08 is a connection exception, except 08P01 (protocol violation),
     * which is our bug and must not look like an outage; 57P0x is a shutdown. */
    bool conn_class = state != NULL && strncmp(state, "08", 2) == 0 && strcmp(state, "08P01") != 0;
    bool shutdown = state != NULL && strncmp(state, "57P", 3) == 0;
    if (PQstatus(db->conn) != CONNECTION_OK || conn_class || shutdown) {
        code = DM_EUNAVAIL;
    }
    if (code == DM_EUNAVAIL) {
        dm_err_set(err, code, "database unavailable");
        drop_connection(db);
    } else {
        const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        dm_err_set(err, code, "database error %s: %s", db->sqlstate,
                   msg != NULL ? msg : PQerrorMessage(db->conn));
    }
    if (res != NULL)
        PQclear(res);
    return NULL;
}

static bool ok_status(PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Wait, at most statement_timeout plus a margin (no limit when the timeout
 * is 0), for the reply to the command just sent (sent: what PQsend* gave).
 * Returns what PQexec would (the last result, or the first error; NULL when
 * nothing could be sent or read), or NULL with *late set when the reply did
 * not come in time; the connection is then mid-command and must be dropped. */
static PGresult *await_reply(dm_db *db, int sent, bool *late)
{
    *late = false;
    if (!sent)
        return NULL;
    PGconn *conn = db->conn;
    bool limited = db->statement_timeout_ms > 0;
    uint64_t deadline = dm__clock_mono_ns()
                        + ((uint64_t)db->statement_timeout_ms + REPLY_MARGIN_MS) * 1000000u;
    PGresult *keep = NULL;
    for (;;) {
        while (PQisBusy(conn) && PQstatus(conn) == CONNECTION_OK) {
            int wait_ms = -1;
            if (limited) {
                uint64_t now = dm__clock_mono_ns();
                if (now >= deadline) {
                    PQclear(keep);
                    *late = true;
                    return NULL;
                }
                wait_ms = (int)((deadline - now + 999999u) / 1000000u);
            }
            struct pollfd pfd = { .fd = PQsocket(conn), .events = POLLIN };
            if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR)
                break;
            if (!PQconsumeInput(conn))
                break; /* broken: PQgetResult reports it without waiting */
        }
        PGresult *res = PQgetResult(conn);
        if (res == NULL)
            return keep;
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
            PQclear(keep); /* as PQexec: a COPY result ends the wait */
            return res;
        }
        if (keep == NULL || ok_status(keep)) {
            PQclear(keep);
            keep = res;
        } else {
            PQclear(res);
        }
    }
}

static PGresult *too_late(dm_db *db, dm_err_t *err)
{
    DM_LOG_W("database did not answer within %d ms; dropping the connection",
             db->statement_timeout_ms + (int)REPLY_MARGIN_MS);
    db->sqlstate[0] = '\0';
    drop_connection(db);
    dm_err_set(err, DM_EUNAVAIL, "database unavailable");
    return NULL;
}

static int find_prepared(const dm_db *db, const char *name)
{
    for (int i = 0; i < db->n_prepared; i++)
        if (strcmp(db->prepared[i], name) == 0)
            return i;
    return -1;
}

PGresult *dm__db_exec(dm_db *db, const char *name, const char *sql,
                      int nparams, const char *const *params, dm_err_t *err)
{
    db->sqlstate[0] = '\0';
    if (dm__db_ensure(db, err) != 0)
        return NULL;
    if (find_prepared(db, name) < 0) {
        if (db->n_prepared >= DM_DB_MAX_PREPARED) {
            /* Cache full: run unprepared rather than grow without bound. */
            return dm__db_exec_once(db, sql, nparams, params, err);
        }
        bool late;
        PGresult *pr = await_reply(db, PQsendPrepare(db->conn, name, sql, nparams, NULL), &late);
        if (late)
            return too_late(db, err);
        if (pr == NULL || !ok_status(pr))
            return fail(db, pr, err);
        PQclear(pr);
        char *copy = strdup(name);
        if (copy == NULL) {
            dm_err_set(err, DM_ENOMEM, "out of memory");
            return NULL;
        }
        db->prepared[db->n_prepared++] = copy;
    }
    bool late;
    PGresult *res = await_reply(db, PQsendQueryPrepared(db->conn, name, nparams, params, NULL,
                                                        NULL, 0), &late);
    if (late)
        return too_late(db, err);
    if (res == NULL || !ok_status(res))
        return fail(db, res, err);
    return res;
}

PGresult *dm__db_exec_once(dm_db *db, const char *sql, int nparams,
                           const char *const *params, dm_err_t *err)
{
    db->sqlstate[0] = '\0';
    if (dm__db_ensure(db, err) != 0)
        return NULL;
    bool late;
    PGresult *res = await_reply(db, PQsendQueryParams(db->conn, sql, nparams, NULL, params, NULL,
                                                      NULL, 0), &late);
    if (late)
        return too_late(db, err);
    if (res == NULL || !ok_status(res))
        return fail(db, res, err);
    return res;
}

int dm__db_run(dm_db *db, const char *name, const char *sql, int nparams,
               const char *const *params, dm_err_t *err)
{
    dm_err_t local;
    if (err == NULL)
        err = &local;
    dm_err_clear(err);
    PGresult *res = dm__db_exec(db, name, sql, nparams, params, err);
    if (res == NULL)
        return dm__db_failed(err);
    PQclear(res);
    return 0;
}

/* The statement a nesting level uses: "SAVEPOINT dm_sp<level>" and its
 * release and undo. */
static void savepoint_sql(char *buf, size_t cap, const char *verb, int level)
{
    snprintf(buf, cap, "%s dm_sp%d", verb, level);
}

/* Run one command outside the prepared-statement cache; 0 or its code. */
static int command(dm_db *db, const char *sql, dm_err_t *err)
{
    PGresult *res = dm__db_exec_once(db, sql, 0, NULL, err);
    if (res == NULL)
        return dm__db_failed(err);
    PQclear(res);
    return 0;
}

int dm__db_begin(dm_db *db, dm_err_t *err)
{
    dm_err_t local;
    if (err == NULL)
        err = &local;
    dm_err_clear(err);
    char sql[48]; /* the longest verb, " dm_sp" and any int */
    if (db->tx_depth > 0)
        savepoint_sql(sql, sizeof sql, "SAVEPOINT", db->tx_depth);
    int rc = command(db, db->tx_depth > 0 ? sql : "BEGIN", err);
    if (rc != 0)
        return rc;
    if (db->tx_depth == 0)
        db->lock_rank = 0;
    db->tx_depth++;
    db->in_tx = true;
    return 0;
}

/* Leave one nesting level: release its savepoint, or undo it when the
 * release fails (a statement in it failed), so the outer transaction
 * stays usable either way. */
static int release_nested(dm_db *db, dm_err_t *err)
{
    char sql[48]; /* the longest verb, " dm_sp" and any int */
    savepoint_sql(sql, sizeof sql, "RELEASE SAVEPOINT", db->tx_depth - 1);
    int rc = command(db, sql, err);
    if (rc != 0)
        dm__db_rollback(db); /* drops the level */
    else
        db->tx_depth--;
    return rc;
}

int dm__db_commit(dm_db *db, dm_err_t *err)
{
    dm_err_t local;
    if (err == NULL)
        err = &local;
    dm_err_clear(err);
    if (db->tx_depth > 1)
        return release_nested(db, err);
    PGresult *res = dm__db_exec_once(db, "COMMIT", 0, NULL, err);
    db->in_tx = false;
    db->tx_depth = 0;
    db->lock_rank = 0;
    if (res == NULL)
        return dm__db_failed(err);
    /* COMMIT of a transaction in which a statement failed succeeds as a
     * command but rolls back: that is not a commit. */
    bool rolled_back = strcmp(PQcmdStatus(res), "ROLLBACK") == 0;
    PQclear(res);
    if (rolled_back)
        return dm_err_set(err, DM_EIO, "transaction was aborted by an earlier error and rolled back");
    return 0;
}

void dm__db_rollback(dm_db *db)
{
    const bool nested = db->tx_depth > 1;
    if (db->tx_depth > 0)
        db->tx_depth--;
    if (!nested) {
        db->tx_depth = 0;
        db->lock_rank = 0;
    }
    db->in_tx = db->tx_depth > 0;
    if (db->conn == NULL)
        return; /* it died with its connection */
    char sql[96];
    if (nested) {
        char release[48];
        savepoint_sql(sql, sizeof sql, "ROLLBACK TO SAVEPOINT", db->tx_depth);
        savepoint_sql(release, sizeof release, "; RELEASE SAVEPOINT", db->tx_depth);
        snprintf(sql + strlen(sql), sizeof sql - strlen(sql), "%s", release);
    }
    bool late;
    PGresult *res = await_reply(db, PQsendQuery(db->conn, nested ? sql : "ROLLBACK"), &late);
    if (late)
        too_late(db, NULL);
    if (res != NULL) /* await_reply read every result of the two statements */
        PQclear(res);
}

int dm__db_end(dm_db *db, int rc, dm_err_t *err)
{
    if (rc == 0)
        return dm__db_commit(db, err);
    dm__db_rollback(db);
    return rc;
}
