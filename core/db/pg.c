/*
 * pg.c — a lazily opened, self-healing libpq connection with a prepared
 * statement cache. Owned by exactly one thread at a time.
 */
#include "db/pg.h"

#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/log.h"

/* After a failed connect, answer DM_EUNAVAIL without retrying for this long,
 * so a down database costs callers microseconds rather than a timeout each. */
#define RECONNECT_BACKOFF_NS (500ull * 1000000ull)

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

static void drop_connection(dm_db *db)
{
    if (db->conn != NULL)
        PQfinish(db->conn);
    db->conn = NULL;
    for (int i = 0; i < db->n_prepared; i++)
        free(db->prepared[i]);
    db->n_prepared = 0;
    db->in_tx = false;
}

void dm__db_fini(dm_db *db)
{
    drop_connection(db);
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
        PGresult *pr = PQprepare(db->conn, name, sql, nparams, NULL);
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
    PGresult *res = PQexecPrepared(db->conn, name, nparams, params, NULL, NULL, 0);
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
    PGresult *res = PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
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
        return err->code != 0 ? err->code : DM_EIO;
    PQclear(res);
    return 0;
}

int dm__db_begin(dm_db *db, dm_err_t *err)
{
    dm_err_t local;
    if (err == NULL)
        err = &local;
    dm_err_clear(err);
    PGresult *res = dm__db_exec_once(db, "BEGIN", 0, NULL, err);
    if (res == NULL)
        return err->code != 0 ? err->code : DM_EIO;
    PQclear(res);
    db->in_tx = true;
    return 0;
}

int dm__db_commit(dm_db *db, dm_err_t *err)
{
    dm_err_t local;
    if (err == NULL)
        err = &local;
    dm_err_clear(err);
    PGresult *res = dm__db_exec_once(db, "COMMIT", 0, NULL, err);
    db->in_tx = false;
    if (res == NULL)
        return err->code != 0 ? err->code : DM_EIO;
    PQclear(res);
    return 0;
}

void dm__db_rollback(dm_db *db)
{
    if (db->conn == NULL)
        return;
    PGresult *res = PQexec(db->conn, "ROLLBACK");
    if (res != NULL)
        PQclear(res);
    db->in_tx = false;
}
