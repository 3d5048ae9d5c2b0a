/*
 * migrate.h — schema migrations: migrations/NNNN_name.sql files applied in
 * numeric order, each in its own transaction, under one session advisory
 * lock, each recorded with the SHA-256 of its bytes in schema_migrations.
 * Used by `dermaga migrate` and by `dermaga serve` at start.
 */
#ifndef DM_MIGRATE_H
#define DM_MIGRATE_H

#include <stddef.h>
#include <stdint.h>

#include <dermaga/error.h>

#define DM_MIGRATE_NAME_MAX 64                 /* the [a-z0-9_]+ part */
#define DM_MIGRATE_FILE_MAX (16u * 1024u * 1024u) /* one file's bytes */

/* One file found in the migrations directory. */
typedef struct dm_migration {
    int   version;                        /* NNNN, 1..9999 */
    char  name[DM_MIGRATE_NAME_MAX + 1];  /* "jobs_and_audit" */
    char  file[DM_MIGRATE_NAME_MAX + 10]; /* "0001_jobs_and_audit.sql" */
    char  checksum[65];                   /* SHA-256 of the bytes, lower hex */
    char *sql;                            /* the file's bytes + NUL; owned */
    size_t sql_len;
} dm_migration;

/* The directory's migrations, sorted by version. */
typedef struct dm_migration_list {
    dm_migration *items; /* owned */
    int           n;
} dm_migration_list;

/* What a run did; every field is a count except last_version. */
typedef struct dm_migrate_report {
    int found;        /* files in the directory */
    int applied;      /* applied by this run */
    int already;      /* applied by an earlier run (checksum verified) */
    int missing;      /* recorded as applied but no file here (warned) */
    int last_version; /* highest version recorded after the run, 0 if none */
} dm_migrate_report;

/*
 * Apply every migration in `dir` that schema_migrations does not list yet.
 * Order of work: read and check the directory (before connecting); connect;
 * take the advisory lock (waits while another node migrates); create
 * schema_migrations if needed; verify that every applied file is unchanged;
 * then apply the rest one transaction each. conninfo and dir are borrowed;
 * out (may be NULL) is filled on success and on failure as far as it got.
 * Returns 0, or:
 *   DM_EINVAL     — a bad file name, duplicate version, unreadable or
 *                   oversized file, or a NUL byte in a file;
 *   DM_ENOTFOUND  — the directory does not exist;
 *   DM_ECONFLICT  — an applied migration's file changed (message names the
 *                   file and both checksum prefixes), or a file ended the
 *                   transaction itself;
 *   DM_EIO        — a migration failed (rolled back; message names the file,
 *                   the line and PostgreSQL's message);
 *   DM_EUNAVAIL   — the database is unreachable.
 * An applied version whose file is missing is only a warning (logged and
 * counted in out->missing): during a rolling upgrade an older node meets a
 * newer schema, and refusing to start it would turn an upgrade into an outage.
 */
int dm__migrate_run(const char *conninfo, const char *dir, dm_migrate_report *out,
                    dm_err_t *err);

/*
 * Classify a directory entry name. Returns 0 and fills *version and name
 * (name_len bytes, NUL-terminated) when it is NNNN_name.sql with NNNN in
 * 0001..9999 and name in [a-z0-9_]{1,64}; DM_ENOTFOUND when it does not end
 * in ".sql" in any letter case (not a migration: ignored); DM_EINVAL with a
 * message naming the file when it does but breaks the pattern (refused,
 * never skipped: a misnamed migration silently not applied is worse).
 */
int dm__migrate_parse_name(const char *filename, int *version, char *name,
                           size_t name_len, dm_err_t *err);

/*
 * Read every migration in dir into out (sorted by version, checksummed).
 * dir is borrowed; out is filled with new memory the caller releases with
 * dm__migrate_list_free, also on failure. Errors as in dm__migrate_run
 * (DM_EINVAL, DM_ENOTFOUND, DM_EIO for a read error, DM_ENOMEM).
 */
int dm__migrate_scan(const char *dir, dm_migration_list *out, dm_err_t *err);

void dm__migrate_list_free(dm_migration_list *list);

/* One line of `dermaga migrate status`. */
typedef enum dm_migration_state {
    DM_MIGRATION_PENDING,      /* a file not recorded in schema_migrations */
    DM_MIGRATION_APPLIED,      /* recorded with the file's checksum */
    DM_MIGRATION_CHANGED,      /* recorded, but the file changed since */
    DM_MIGRATION_FILE_MISSING, /* recorded, no file here (a newer node's) */
} dm_migration_state;

typedef struct dm_migration_status {
    int                version;
    char               file[DM_MIGRATE_NAME_MAX + 10]; /* "0001_x.sql" */
    dm_migration_state state;
    char               applied_at[32]; /* UTC RFC 3339; "" when pending */
} dm_migration_status;

typedef struct dm_migrate_status_report {
    dm_migration_status *items; /* sorted by version; owned */
    int                  n;
    int                  pending, changed, missing; /* counts of those states */
} dm_migrate_status_report;

/*
 * Compare the directory with schema_migrations without changing anything:
 * no lock, no table created (a database never migrated has every file
 * pending). out is filled with new memory the caller releases with
 * dm__migrate_status_free, also on failure. 0, or the errors of
 * dm__migrate_scan (the directory), DM_EUNAVAIL (the database is
 * unreachable), DM_EIO (a query failed), DM_ENOMEM.
 */
int dm__migrate_status(const char *conninfo, const char *dir, dm_migrate_status_report *out,
                       dm_err_t *err);

void dm__migrate_status_free(dm_migrate_status_report *rep);

/* The pg_advisory_lock key every migrator takes: the first 8 bytes of
 * SHA-256("dermaga.migrate"), big-endian, as a signed 64-bit integer.
 * Exposed so tests can hold the lock and watch migrators wait for it. */
int64_t dm__migrate_lock_key(void);

#endif
