/*
 * migrate_status.c — `dermaga migrate status`: which migration files the
 * database has applied (and when) and which are pending. Read-only: no
 * advisory lock and no CREATE TABLE, so it is safe against a live cluster
 * and leaves a fresh database untouched.
 */
#include "db/migrate.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/pg.h"

void dm__migrate_status_free(dm_migrate_status_report *rep)
{
    if (rep == NULL)
        return;
    free(rep->items);
    memset(rep, 0, sizeof *rep);
}

static int cmp_status(const void *a, const void *b)
{
    const dm_migration_status *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

/* Every file starts pending; room is left for `extra` recorded versions
 * whose file is missing. */
static int from_files(const dm_migration_list *list, int extra, dm_migrate_status_report *out,
                      dm_err_t *err)
{
    out->items = calloc((size_t)list->n + (size_t)extra + 1, sizeof *out->items);
    if (out->items == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    for (int i = 0; i < list->n; i++) {
        dm_migration_status *st = &out->items[i];
        st->version = list->items[i].version;
        snprintf(st->file, sizeof st->file, "%s", list->items[i].file);
        st->state = DM_MIGRATION_PENDING;
    }
    out->n = list->n;
    return 0;
}

static dm_migration_status *find_status(dm_migrate_status_report *out, int n_files, int version)
{
    dm_migration_status key;
    key.version = version;
    return bsearch(&key, out->items, (size_t)n_files, sizeof *out->items, cmp_status);
}

/* One schema_migrations row (version, name, checksum, applied_at) onto the
 * files (the first n_files items, sorted); an unknown version is appended. */
static void apply_row(const dm_migration_list *list, PGresult *res, int r,
                      dm_migrate_status_report *out)
{
    int version = (int)strtol(PQgetvalue(res, r, 0), NULL, 10);
    dm_migration_status *st = find_status(out, list->n, version);
    if (st == NULL) {
        st = &out->items[out->n++];
        st->version = version;
        snprintf(st->file, sizeof st->file, "%04d_%.64s.sql", version, PQgetvalue(res, r, 1));
        st->state = DM_MIGRATION_FILE_MISSING;
    } else {
        const dm_migration *m = &list->items[st - out->items];
        st->state = strcmp(m->checksum, PQgetvalue(res, r, 2)) == 0 ? DM_MIGRATION_APPLIED
                                                                     : DM_MIGRATION_CHANGED;
    }
    snprintf(st->applied_at, sizeof st->applied_at, "%s", PQgetvalue(res, r, 3));
}

/* Does schema_migrations exist (in the search path, where the migrator
 * creates it)? 0 with *exists set, or a DM_E code with err set. */
static int table_exists(dm_db *db, bool *exists, dm_err_t *err)
{
    PGresult *res = dm__db_exec_once(db, "SELECT to_regclass('schema_migrations') IS NOT NULL", 0,
                                     NULL, err);
    if (res == NULL)
        return dm__db_failed(err);
    *exists = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return 0;
}

static int read_applied(dm_db *db, const dm_migration_list *list, dm_migrate_status_report *out,
                        dm_err_t *err)
{
    PGresult *res = dm__db_exec_once(
        db,
        "SELECT version, name, checksum,"
        " to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
        " FROM schema_migrations ORDER BY version",
        0, NULL, err);
    if (res == NULL)
        return dm__db_failed(err);
    int rc = from_files(list, PQntuples(res), out, err);
    for (int r = 0; rc == 0 && r < PQntuples(res); r++)
        apply_row(list, res, r, out);
    PQclear(res);
    return rc;
}

static void count_states(dm_migrate_status_report *out)
{
    if (out->n > 1)
        qsort(out->items, (size_t)out->n, sizeof *out->items, cmp_status);
    for (int i = 0; i < out->n; i++) {
        out->pending += out->items[i].state == DM_MIGRATION_PENDING;
        out->changed += out->items[i].state == DM_MIGRATION_CHANGED;
        out->missing += out->items[i].state == DM_MIGRATION_FILE_MISSING;
    }
}

int dm__migrate_status(const char *conninfo, const char *dir, dm_migrate_status_report *out,
                       dm_err_t *err)
{
    memset(out, 0, sizeof *out);
    dm_migration_list list;
    int rc = dm__migrate_scan(dir, &list, err);
    dm_db db;
    bool db_open = false;
    if (rc == 0) {
        rc = dm__db_init(&db, conninfo, 5, 0, err);
        db_open = rc == 0;
    }
    if (rc == 0)
        rc = dm__db_ensure(&db, err);
    bool exists = false;
    if (rc == 0)
        rc = table_exists(&db, &exists, err);
    if (rc == 0)
        rc = exists ? read_applied(&db, &list, out, err) : from_files(&list, 0, out, err);
    if (rc == 0)
        count_states(out);
    if (db_open)
        dm__db_fini(&db);
    dm__migrate_list_free(&list);
    return rc;
}
