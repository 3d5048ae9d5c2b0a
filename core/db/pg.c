/*
 * pg.c — a lazily opened, self-healing libpq connection with a prepared
 * statement cache. Owned by exactly one thread at a time.
 *
 * Broken connections (the rule is also in pg.h and docs/architecture.md):
 * outside a transaction a connection is checked before each statement
 * (dm__pg_idle_alive: no round trip) and a dead one is replaced then; a
 * statement whose connection broke before it was sent is run again on the
 * new one; one whose connection broke after it was sent may have run, so
 * it is run again only inside BEGIN READ ONLY, where PostgreSQL refuses it
 * if it writes. Inside a transaction nothing is replaced or run again.
 */
#include "db/pg.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "db/pg_health.h"
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
    db->lost_why[0] = '\0';
}

/* A connection found broken: say so (one line per connection, with the
 * reason) and drop it. Whether it is replaced depends on the state. */
static void lose_connection(dm_db *db, const char *why)
{
    if (db->lost_why[0] != '\0')
        why = db->lost_why; /* what the server said before it closed */
    if (db->in_tx)
        DM_LOG_W("database connection lost inside a transaction: %s; its statements fail until "
                 "it is rolled back", why);
    else if (db->pinned)
        DM_LOG_W("database connection lost: %s; not replaced (its session held state)", why);
    else
        DM_LOG_W("replacing a broken database connection: %s", why);
    drop_connection(db);
}

/* The first line of libpq's last error on db's connection, into buf. */
static const char *conn_error(const dm_db *db, char *buf, size_t cap)
{
    const char *msg = db->conn != NULL ? PQerrorMessage(db->conn) : "";
    size_t len = strcspn(msg, "\n");
    snprintf(buf, cap, "%.*s", (int)len, len > 0 ? msg : "connection closed");
    return buf;
}

/* Every connection's notice receiver (db must not move while it holds a
 * connection). Notices go to the debug log, never raw to stderr as libpq
 * would; a FATAL one arriving while the connection is idle is the server
 * saying why it is about to close it, kept as the reason to log. */
static void on_notice(void *arg, const PGresult *res)
{
    dm_db *db = arg;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (msg == NULL)
        msg = PQresultErrorMessage(res);
    if (sev != NULL && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0)) {
        snprintf(db->lost_why, sizeof db->lost_why, "%s", msg);
        return;
    }
    DM_LOG_D("server notice: %.*s", (int)strcspn(msg, "\n"), msg);
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

/* Is the open connection usable for the next statement? Outside a
 * transaction this reads what arrived while it sat idle (a restart's
 * FATAL and close); inside one the statements come back to back and a
 * dead connection cannot be replaced anyway, so libpq's state suffices. */
static bool usable(dm_db *db, char *why, size_t cap)
{
    if (db->in_tx) {
        if (PQstatus(db->conn) == CONNECTION_OK)
            return true;
        conn_error(db, why, cap);
        return false;
    }
    return dm__pg_idle_alive(db->conn, why, cap);
}

int dm__db_ensure(dm_db *db, dm_err_t *err)
{
    if (db->conn != NULL) {
        char why[160];
        if (usable(db, why, sizeof why))
            return 0;
        lose_connection(db, why);
        if (db->pinned && !db->in_tx)
            return dm_err_set(err, DM_EUNAVAIL, "database connection lost");
    }
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
        char line[256];
        snprintf(line, sizeof line, "%.*s", (int)strcspn(why, "\n"), why);
        dm__pg_note_connect_failed(line);
        if (c != NULL)
            PQfinish(c);
        db->retry_at_ns = now + RECONNECT_BACKOFF_NS;
        return dm_err_set(err, DM_EUNAVAIL, "database unavailable");
    }
    PQsetNoticeReceiver(c, on_notice, db);
    db->conn = c;
    db->retry_at_ns = 0;
    dm__pg_note_connected();
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
        const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        char why[160];
        lose_connection(db, msg != NULL ? msg : conn_error(db, why, sizeof why));
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

/* How long to wait for a reply: statement_timeout plus a margin, or 0 (no
 * limit) when the timeout is 0. */
static int reply_wait_ms(const dm_db *db)
{
    return db->statement_timeout_ms > 0 ? db->statement_timeout_ms + (int)REPLY_MARGIN_MS : 0;
}

/* Wait, at most wait_ms (0: no limit), for the reply to the command just
 * sent (sent: what PQsend* gave).
 * Returns what PQexec would (the last result, or the first error; NULL when
 * nothing could be sent or read), or NULL with *late set when the reply did
 * not come in time; the connection is then mid-command and must be dropped. */
static PGresult *await_reply(dm_db *db, int sent, int wait_ms, bool *late)
{
    *late = false;
    if (!sent)
        return NULL;
    PGconn *conn = db->conn;
    bool limited = wait_ms > 0;
    uint64_t deadline = dm__clock_mono_ns() + (uint64_t)(limited ? wait_ms : 0) * 1000000u;
    PGresult *keep = NULL;
    for (;;) {
        while (PQisBusy(conn) && PQstatus(conn) == CONNECTION_OK) {
            int poll_ms = -1;
            if (limited) {
                uint64_t now = dm__clock_mono_ns();
                if (now >= deadline) {
                    PQclear(keep);
                    *late = true;
                    return NULL;
                }
                poll_ms = (int)((deadline - now + 999999u) / 1000000u);
            }
            struct pollfd pfd = { .fd = PQsocket(conn), .events = POLLIN };
            if (poll(&pfd, 1, poll_ms) < 0 && errno != EINTR)
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

static PGresult *too_late(dm_db *db, int wait_ms, dm_err_t *err)
{
    DM_LOG_W("database did not answer within %d ms; dropping the connection", wait_ms);
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

/* One statement to run: prepared as `name`, or unprepared when name is NULL. */
typedef struct call {
    const char        *name;
    const char        *sql;
    int                nparams;
    const char *const *params;
    int                wait_ms;    /* for the reply; 0: no limit */
    bool               changes_nothing; /* BEGIN, SELECT 1: may simply run again */
} call;

/* How one try ended, for deciding whether to try again. */
typedef enum {
    TRY_DONE,        /* a result, or a failure not to retry (SQL error, no
                        connection to be had, no reply in time) */
    TRY_LOST_UNSENT, /* the connection broke before the statement was sent:
                        it cannot have run */
    TRY_LOST_SENT,   /* it broke after the statement was sent: it may have run */
} try_end;

/* One try on the connection (made or replaced first by dm__db_ensure). */
static PGresult *try_once(dm_db *db, const call *c, try_end *end, dm_err_t *err)
{
    *end = TRY_DONE;
    dm_err_clear(err);
    db->sqlstate[0] = '\0';
    if (dm__db_ensure(db, err) != 0)
        return NULL;
    const char *name = c->name;
    bool late;
    if (name != NULL && find_prepared(db, name) < 0) {
        if (db->n_prepared >= DM_DB_MAX_PREPARED) {
            name = NULL; /* cache full: run unprepared rather than grow without bound */
        } else {
            PGresult *pr = await_reply(db, PQsendPrepare(db->conn, name, c->sql, c->nparams, NULL),
                                       c->wait_ms, &late);
            if (late)
                return too_late(db, c->wait_ms, err);
            if (pr == NULL || !ok_status(pr)) {
                fail(db, pr, err);
                if (err->code == DM_EUNAVAIL)
                    *end = TRY_LOST_UNSENT; /* preparing runs nothing */
                return NULL;
            }
            PQclear(pr);
            char *copy = strdup(name);
            if (copy == NULL) {
                dm_err_set(err, DM_ENOMEM, "out of memory");
                return NULL;
            }
            db->prepared[db->n_prepared++] = copy;
        }
    }
    int sent = name != NULL
                   ? PQsendQueryPrepared(db->conn, name, c->nparams, c->params, NULL, NULL, 0)
                   : PQsendQueryParams(db->conn, c->sql, c->nparams, NULL, c->params, NULL, NULL, 0);
    PGresult *res = await_reply(db, sent, c->wait_ms, &late);
    if (late)
        return too_late(db, c->wait_ms, err);
    if (res != NULL && ok_status(res))
        return res;
    fail(db, res, err);
    if (err->code == DM_EUNAVAIL)
        *end = sent ? TRY_LOST_SENT : TRY_LOST_UNSENT;
    return NULL;
}

/*
 * The statement was sent and its connection broke before the reply, so it
 * may have run. Run it once more on a new connection inside BEGIN READ
 * ONLY: a read gets its answer, and anything that writes — whatever its SQL
 * looks like (a function with side effects, a CTE that inserts, nextval) —
 * is refused by PostgreSQL itself (SQLSTATE 25006) before it changes
 * anything, so a write is never run twice. lost is the first failure: what
 * the caller gets for a write.
 */
static PGresult *again_read_only(dm_db *db, const call *c, const dm_err_t *lost, dm_err_t *err)
{
    static const call begin_ro = { .sql = "BEGIN READ ONLY", .changes_nothing = true };
    try_end end;
    PGresult *res = try_once(db, &begin_ro, &end, err);
    if (res == NULL)
        return NULL;
    PQclear(res);
    /* Inside the transaction now: should this connection break too, the
     * statement must fail, never run on yet another connection outside it. */
    db->in_tx = true;
    db->tx_depth = 1;
    res = try_once(db, c, &end, err);
    /* Class 25: 25006 it writes, 25001 it cannot run in a transaction at
     * all (VACUUM, CREATE DATABASE): either way not a read. */
    bool wrote = res == NULL && strncmp(db->sqlstate, "25", 2) == 0;
    char state[sizeof db->sqlstate];
    memcpy(state, db->sqlstate, sizeof state);
    dm__db_rollback(db); /* read only: nothing to keep; ends the transaction */
    if (wrote) {
        DM_LOG_W("a statement that writes lost its connection before its reply; not run again "
                 "(it may or may not have been applied): SQLSTATE %s on a read-only retry", state);
        *err = *lost;
        db->sqlstate[0] = '\0';
    }
    return res;
}

/* Run c, replacing a broken connection and trying once more when that is
 * safe (see the rule at the top of this file). */
static PGresult *run(dm_db *db, const call *c, dm_err_t *err)
{
    dm_err_t local;
    if (err == NULL)
        err = &local;
    try_end end;
    PGresult *res = try_once(db, c, &end, err);
    if (res != NULL || end == TRY_DONE || db->in_tx || db->pinned)
        return res;
    if (end == TRY_LOST_UNSENT || c->changes_nothing)
        return try_once(db, c, &end, err);
    dm_err_t lost = *err;
    return again_read_only(db, c, &lost, err);
}

PGresult *dm__db_exec(dm_db *db, const char *name, const char *sql,
                      int nparams, const char *const *params, dm_err_t *err)
{
    call c = { .name = name, .sql = sql, .nparams = nparams, .params = params,
               .wait_ms = reply_wait_ms(db) };
    return run(db, &c, err);
}

PGresult *dm__db_exec_once(dm_db *db, const char *sql, int nparams,
                           const char *const *params, dm_err_t *err)
{
    call c = { .sql = sql, .nparams = nparams, .params = params, .wait_ms = reply_wait_ms(db) };
    return run(db, &c, err);
}

int dm__db_ping(dm_db *db, dm_err_t *err)
{
    /* As long as a connect may take, plus the margin: a busy server still
     * answers SELECT 1 well within it; one that cannot is not ready. */
    int wait_ms = db->connect_timeout_s * 1000 + (int)REPLY_MARGIN_MS;
    if (reply_wait_ms(db) > 0 && reply_wait_ms(db) < wait_ms)
        wait_ms = reply_wait_ms(db);
    call c = { .name = "dm_ping", .sql = "SELECT 1", .wait_ms = wait_ms, .changes_nothing = true };
    PGresult *res = run(db, &c, err);
    if (res == NULL)
        return dm__db_failed(err);
    PQclear(res);
    return 0;
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

/* Run one command outside the prepared-statement cache; 0 or its code.
 * BEGIN changes nothing by itself, so it may simply run again on a new
 * connection; the others run inside a transaction, where nothing does. */
static int command(dm_db *db, const char *sql, dm_err_t *err)
{
    call c = { .sql = sql, .wait_ms = reply_wait_ms(db), .changes_nothing = strcmp(sql, "BEGIN") == 0 };
    PGresult *res = run(db, &c, err);
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
    PGresult *res = await_reply(db, PQsendQuery(db->conn, nested ? sql : "ROLLBACK"),
                                reply_wait_ms(db), &late);
    if (late)
        too_late(db, reply_wait_ms(db), NULL);
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
