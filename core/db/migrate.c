/*
 * migrate.c — reads migrations/NNNN_name.sql, checks names, order and
 * checksums, and applies what the database has not seen yet: one advisory
 * lock for the whole run, one transaction per file, one schema_migrations row
 * per applied file. Errors are returned, not logged; progress is logged.
 */
#include "db/migrate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "db/pg.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/sha256.h"

#define LOG_SRC "migrate"

/* ---- pure helpers: names, checksums, the lock key ---- */

int64_t dm__migrate_lock_key(void)
{
    static const char seed[] = "dermaga.migrate";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    uint64_t k = 0;
    /* SHA-256 cannot fail on a constant in practice; a zero key still works
     * as long as every node computes the same one. */
    if (EVP_Digest(seed, sizeof seed - 1, md, &md_len, EVP_sha256(), NULL) == 1) {
        for (int i = 0; i < 8; i++)
            k = (k << 8) | md[i];
    }
    int64_t key;
    memcpy(&key, &k, sizeof key); /* reinterpret, no implementation-defined cast */
    return key;
}

/* Case-insensitive, so "0001_x.SQL" is refused as misnamed, not ignored. */
static bool ends_with_sql(const char *s)
{
    size_t n = strlen(s);
    return n >= 4 && strcasecmp(s + n - 4, ".sql") == 0;
}

int dm__migrate_parse_name(const char *filename, int *version, char *name,
                           size_t name_len, dm_err_t *err)
{
    if (!ends_with_sql(filename))
        return DM_ENOTFOUND;
    size_t len = strlen(filename);
    size_t stem = len - 4; /* without ".sql" */
    bool ok = stem >= 6 && filename[4] == '_' && strcmp(filename + stem, ".sql") == 0;
    for (size_t i = 0; ok && i < 4; i++)
        ok = filename[i] >= '0' && filename[i] <= '9';
    for (size_t i = 5; ok && i < stem; i++) {
        char c = filename[i];
        ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    }
    if (!ok || stem - 5 > DM_MIGRATE_NAME_MAX) {
        return dm_err_set(err, DM_EINVAL,
                          "migration file \"%.80s\" is not named NNNN_name.sql (4 digits, '_', "
                          "then 1-%d of a-z 0-9 _); rename it or move it out of the directory",
                          filename, DM_MIGRATE_NAME_MAX);
    }
    int v = (filename[0] - '0') * 1000 + (filename[1] - '0') * 100 + (filename[2] - '0') * 10
            + (filename[3] - '0');
    if (v == 0)
        return dm_err_set(err, DM_EINVAL, "migration file \"%.80s\": versions start at 0001",
                          filename);
    if (stem - 5 + 1 > name_len)
        return dm_err_set(err, DM_EINVAL, "migration name buffer too small");
    memcpy(name, filename + 5, stem - 5);
    name[stem - 5] = '\0';
    *version = v;
    return 0;
}

/* ---- reading the directory ---- */

void dm__migrate_list_free(dm_migration_list *list)
{
    if (list == NULL)
        return;
    for (int i = 0; i < list->n; i++)
        free(list->items[i].sql);
    free(list->items);
    list->items = NULL;
    list->n = 0;
}

/* Read a whole regular file into m->sql; reject oversize files and NUL bytes
 * (PQexec takes a C string, so a NUL would silently cut the migration). */
static int read_file(const char *dir, dm_migration *m, dm_err_t *err)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", dir, m->file);
    if (n < 0 || (size_t)n >= sizeof path)
        return dm_err_set(err, DM_EINVAL, "migration path too long: %.200s", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dm_err_set(err, DM_EIO, "cannot open migration %s: %s", m->file, strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = dm_err_set(err, DM_EINVAL, "migration %s is not a regular file", m->file);
    } else if ((uintmax_t)st.st_size > DM_MIGRATE_FILE_MAX) {
        rc = dm_err_set(err, DM_EINVAL, "migration %s is larger than %u bytes", m->file,
                        DM_MIGRATE_FILE_MAX);
    } else if ((m->sql = malloc((size_t)st.st_size + 1)) == NULL) {
        rc = dm_err_set(err, DM_ENOMEM, "out of memory reading %s", m->file);
    } else {
        size_t want = (size_t)st.st_size, got = 0;
        while (rc == 0 && got < want) {
            ssize_t r = read(fd, m->sql + got, want - got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                rc = dm_err_set(err, DM_EIO, "cannot read migration %s: %s", m->file,
                                r < 0 ? strerror(errno) : "file shrank while reading");
            else
                got += (size_t)r;
        }
        m->sql[got] = '\0';
        m->sql_len = got;
        if (rc == 0 && memchr(m->sql, '\0', got) != NULL)
            rc = dm_err_set(err, DM_EINVAL, "migration %s contains a NUL byte", m->file);
        if (rc == 0 && dm__sha256_hex(m->sql, got, m->checksum) != 0)
            rc = dm_err_set(err, DM_EIO, "cannot checksum migration %s", m->file);
    }
    close(fd);
    return rc;
}

static int cmp_version(const void *a, const void *b)
{
    const dm_migration *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

/* Collect matching names; the files themselves are read afterwards. */
static int collect_names(const char *dir, dm_migration_list *out, dm_err_t *err)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        int code = errno == ENOENT ? DM_ENOTFOUND : DM_EIO;
        return dm_err_set(err, code, "migrations directory %.200s: %s", dir, strerror(errno));
    }
    int cap = 0, rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        dm_migration m;
        memset(&m, 0, sizeof m);
        int prc = dm__migrate_parse_name(e->d_name, &m.version, m.name, sizeof m.name, err);
        if (prc == DM_ENOTFOUND)
            continue; /* not a .sql file: READMEs and the like may live here */
        if (prc != 0) {
            rc = prc;
            break;
        }
        snprintf(m.file, sizeof m.file, "%04d_%s.sql", m.version, m.name);
        if (out->n == cap) {
            int ncap = cap == 0 ? 16 : cap * 2;
            dm_migration *grown = realloc(out->items, (size_t)ncap * sizeof *grown);
            if (grown == NULL) {
                rc = dm_err_set(err, DM_ENOMEM, "out of memory listing %.200s", dir);
                break;
            }
            out->items = grown;
            cap = ncap;
        }
        out->items[out->n++] = m;
    }
    closedir(d);
    return rc;
}

int dm__migrate_scan(const char *dir, dm_migration_list *out, dm_err_t *err)
{
    out->items = NULL;
    out->n = 0;
    int rc = collect_names(dir, out, err);
    if (rc != 0)
        return rc;
    if (out->n > 1)
        qsort(out->items, (size_t)out->n, sizeof *out->items, cmp_version);
    for (int i = 1; i < out->n; i++) {
        if (out->items[i].version == out->items[i - 1].version)
            return dm_err_set(err, DM_EINVAL, "duplicate migration version %04d: %s and %s",
                              out->items[i].version, out->items[i - 1].file,
                              out->items[i].file);
    }
    for (int i = 0; i < out->n; i++) {
        rc = read_file(dir, &out->items[i], err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- talking to the database ---- */

static int run_sql(dm_db *db, const char *sql, int nparams, const char *const *params,
                   dm_err_t *err)
{
    dm_err_t local;
    if (err == NULL)
        err = &local;
    PGresult *res = dm__db_exec_once(db, sql, nparams, params, err);
    if (res == NULL)
        return dm__db_failed(err);
    PQclear(res);
    return 0;
}

static int take_lock(dm_db *db, const char *key, dm_err_t *err)
{
    const char *params[] = { key };
    PGresult *res = dm__db_exec_once(db, "SELECT pg_try_advisory_lock($1::bigint)", 1,
                                     params, err);
    if (res == NULL)
        return err->code;
    bool got = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (got)
        return 0;
    dm__log(DM_LOG_INFO, LOG_SRC, "another node is migrating this database; waiting for it");
    return run_sql(db, "SELECT pg_advisory_lock($1::bigint)", 1, params, err);
}

static const char BOOTSTRAP_SQL[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY CHECK (version BETWEEN 1 AND 9999),"
    " name text NOT NULL CHECK (name ~ '^[a-z0-9_]{1,64}$'),"
    " checksum text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),"
    " applied_at timestamptz NOT NULL DEFAULT now())";

static const dm_migration *find_version(const dm_migration_list *list, int version)
{
    dm_migration key;
    key.version = version;
    return bsearch(&key, list->items, (size_t)list->n, sizeof *list->items, cmp_version);
}

/*
 * Compare schema_migrations with the files. A changed applied file is
 * refused before anything is applied: the database was built from the old
 * text, and running newer files on top of an unknown base is how schemas rot.
 * Marks applied files by setting done[i].
 */
static int verify_applied(dm_db *db, const dm_migration_list *list, bool *done,
                          dm_migrate_report *rep, dm_err_t *err)
{
    PGresult *res = dm__db_exec_once(
        db, "SELECT version, name, checksum FROM schema_migrations ORDER BY version", 0, NULL,
        err);
    if (res == NULL)
        return err->code;
    int rc = 0;
    for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
        int version = (int)strtol(PQgetvalue(res, r, 0), NULL, 10);
        const char *name = PQgetvalue(res, r, 1);
        const char *sum = PQgetvalue(res, r, 2);
        if (version > rep->last_version)
            rep->last_version = version;
        const dm_migration *m = find_version(list, version);
        if (m == NULL) {
            dm__log(DM_LOG_WARN, LOG_SRC,
                    "migration %04d_%s.sql is recorded as applied but its file is missing "
                    "(is this node older than the database?)", version, name);
            rep->missing++;
            continue;
        }
        if (strcmp(m->checksum, sum) != 0) {
            rc = dm_err_set(err, DM_ECONFLICT,
                            "migration %s was changed after it was applied (recorded sha256 "
                            "%.12s, file now %.12s); do not edit applied migrations: restore "
                            "the file and add a new one", m->file, sum, m->checksum);
            break;
        }
        if (strcmp(m->name, name) != 0)
            dm__log(DM_LOG_WARN, LOG_SRC, "migration %04d was applied as \"%s\", file is now %s",
                    version, name, m->file);
        done[m - list->items] = true;
        rep->already++;
    }
    PQclear(res);
    return rc;
}

/* Line (1-based) of the character position PostgreSQL reported; positions
 * count characters, so UTF-8 continuation bytes are skipped. */
static int position_to_line(const char *sql, const char *pos_text)
{
    if (pos_text == NULL)
        return 0;
    long pos = strtol(pos_text, NULL, 10);
    int line = 1;
    long ch = 0;
    for (const unsigned char *p = (const unsigned char *)sql; *p != '\0'; p++) {
        if ((*p & 0xc0) == 0x80)
            continue;
        if (++ch >= pos)
            break;
        if (*p == '\n')
            line++;
    }
    return line;
}

static int exec_file(dm_db *db, const dm_migration *m, dm_err_t *err)
{
    PGresult *res = PQexec(db->conn, m->sql);
    ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
        PQclear(res);
        return 0;
    }
    if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
        /* Leave COPY mode so the rollback that follows can run. */
        PQclear(res);
        if (st != PGRES_COPY_OUT)
            PQputCopyEnd(db->conn, "COPY is not supported in migrations");
        while ((res = PQgetResult(db->conn)) != NULL)
            PQclear(res);
        return dm_err_set(err, DM_EIO, "migration %s failed: COPY to or from the client is "
                          "not supported in migration files", m->file);
    }
    bool lost = PQstatus(db->conn) != CONNECTION_OK;
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    int line = position_to_line(m->sql, res != NULL
                                ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL);
    char where[32] = "";
    if (line > 0)
        snprintf(where, sizeof where, " at line %d", line);
    int code = dm_err_set(err, lost ? DM_EUNAVAIL : DM_EIO,
                          "migration %s failed%s: %s (SQLSTATE %s)", m->file, where,
                          msg != NULL ? msg : PQerrorMessage(db->conn),
                          state != NULL ? state : "?");
    if (res != NULL)
        PQclear(res);
    return code;
}

/* BEGIN; the file; the schema_migrations row; COMMIT — or roll all back. */
static int apply_one(dm_db *db, const dm_migration *m, dm_err_t *err)
{
    int rc = dm__db_begin(db, err);
    if (rc != 0)
        return rc;
    rc = exec_file(db, m, err);
    if (rc == 0 && PQtransactionStatus(db->conn) != PQTRANS_INTRANS) {
        /* The file ran COMMIT or ROLLBACK itself: whatever it did before that
         * is now outside our control, so stop loudly. */
        rc = dm_err_set(err, DM_ECONFLICT,
                        "migration %s ended the transaction itself (BEGIN/COMMIT/ROLLBACK are "
                        "not allowed in migration files); it was not recorded", m->file);
    }
    if (rc == 0) {
        char version[8];
        snprintf(version, sizeof version, "%d", m->version);
        const char *params[] = { version, m->name, m->checksum };
        rc = run_sql(db, "INSERT INTO schema_migrations (version, name, checksum) "
                     "VALUES ($1::integer, $2, $3)", 3, params, err);
    }
    if (rc == 0)
        rc = dm__db_commit(db, err);
    if (rc != 0)
        dm__db_rollback(db);
    return rc;
}

static int migrate_locked(dm_db *db, const dm_migration_list *list, dm_migrate_report *rep,
                          dm_err_t *err)
{
    int rc = run_sql(db, BOOTSTRAP_SQL, 0, NULL, err);
    if (rc != 0)
        return rc;
    bool *done = calloc((size_t)list->n + 1, sizeof *done);
    if (done == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    rc = verify_applied(db, list, done, rep, err);
    for (int i = 0; rc == 0 && i < list->n; i++) {
        if (done[i])
            continue;
        const dm_migration *m = &list->items[i];
        uint64_t t0 = dm__clock_mono_ns();
        rc = apply_one(db, m, err);
        if (rc == 0) {
            rep->applied++;
            if (m->version > rep->last_version)
                rep->last_version = m->version;
            dm__log(DM_LOG_INFO, LOG_SRC, "applied %s in %" PRIu64 " ms (sha256 %.12s)",
                    m->file, (dm__clock_mono_ns() - t0) / 1000000u, m->checksum);
        }
    }
    free(done);
    return rc;
}

int dm__migrate_run(const char *conninfo, const char *dir, dm_migrate_report *out,
                    dm_err_t *err)
{
    dm_migrate_report local_rep;
    dm_migrate_report *rep = out != NULL ? out : &local_rep;
    memset(rep, 0, sizeof *rep);
    dm_err_t local_err;
    if (err == NULL)
        err = &local_err;
    dm_err_clear(err);

    dm_migration_list list;
    int rc = dm__migrate_scan(dir, &list, err);
    if (rc != 0) {
        dm__migrate_list_free(&list);
        return rc;
    }
    rep->found = list.n;

    dm_db db;
    /* statement_timeout 0: a migration may legitimately run for minutes, and
     * waiting for another node's lock must not time out either. */
    rc = dm__db_init(&db, conninfo, 5, 0, err);
    if (rc == 0)
        rc = dm__db_ensure(&db, err);
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, dm__migrate_lock_key());
    bool locked = false;
    /* The lock lives in this session: a connection lost from here on must
     * fail the run, not be replaced by one that does not hold it. (pg.c
     * sends server notices such as "already exists, skipping" to the debug
     * log.) */
    db.pinned = true;
    if (rc == 0) {
        rc = take_lock(&db, key, err);
        locked = rc == 0;
    }
    if (rc == 0)
        rc = migrate_locked(&db, &list, rep, err);
    if (locked && dm__db_connected(&db)) {
        const char *params[] = { key };
        run_sql(&db, "SELECT pg_advisory_unlock($1::bigint)", 1, params, NULL);
    }
    dm__db_fini(&db); /* closing the session would release the lock anyway */
    dm__migrate_list_free(&list);
    return rc;
}
