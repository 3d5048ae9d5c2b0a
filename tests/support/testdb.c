/*
 * testdb.c — creates and drops throwaway databases for integration tests,
 * and runs one-off queries for assertions. Database names are built only
 * from [a-z0-9_], so quoting them as identifiers is safe.
 */
#include "testdb.h"

#include <check.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "db/migrate.h"
#include "util/buf.h"
#include "util/clock.h"

#define ADMIN_ENV "DERMAGA_TEST_DATABASE_URL"

static atomic_uint db_counter;

static const char *admin_url(void)
{
    const char *u = getenv(ADMIN_ENV);
    if (u == NULL || u[0] == '\0')
        ck_abort_msg("environment variable %s is not set: integration tests need a PostgreSQL "
                     "superuser URL; run them through scripts/test.sh", ADMIN_ENV);
    return u;
}

static bool name_ok(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return n >= 1 && n <= max;
}

static void admin_exec(const char *sql)
{
    PGconn *c = PQconnectdb(admin_url());
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(c));
        PQfinish(c);
        ck_abort_msg("cannot connect to the test server (%s): %s", ADMIN_ENV, msg);
    }
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(c);
        ck_abort_msg("test server refused \"%s\": %s", sql, msg);
    }
    PQclear(r);
    PQfinish(c);
}

static void put_encoded(dm_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                     || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_'
                     || *p == '~';
        if (plain)
            dm__buf_append(b, p, 1);
        else
            dm__buf_printf(b, "%%%02X", *p);
    }
}

/* Rebuild the admin URL with another dbname: credentials, host and port
 * stay in the authority, everything else (sockets, sslmode, …) becomes a
 * query parameter. */
static char *url_with_dbname(const char *dbname)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(admin_url(), &perr);
    if (opts == NULL) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", perr != NULL ? perr : "out of memory");
        PQfreemem(perr);
        ck_abort_msg("cannot parse %s: %s", ADMIN_ENV, msg);
    }
    const char *user = NULL, *pass = NULL, *host = NULL, *port = NULL;
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL || o->val[0] == '\0')
            continue;
        if (strcmp(o->keyword, "user") == 0) user = o->val;
        else if (strcmp(o->keyword, "password") == 0) pass = o->val;
        else if (strcmp(o->keyword, "host") == 0) host = o->val;
        else if (strcmp(o->keyword, "port") == 0) port = o->val;
    }
    bool host_in_authority = host != NULL && strchr(host, '/') == NULL
                             && strchr(host, ',') == NULL && strchr(host, ':') == NULL;
    dm_buf b;
    dm__buf_init(&b, 0);
    dm__buf_puts(&b, "postgresql://");
    if (user != NULL) {
        put_encoded(&b, user);
        if (pass != NULL) {
            dm__buf_puts(&b, ":");
            put_encoded(&b, pass);
        }
        dm__buf_puts(&b, "@");
    }
    if (host_in_authority)
        put_encoded(&b, host);
    if (port != NULL && strchr(port, ',') == NULL) {
        dm__buf_puts(&b, ":");
        put_encoded(&b, port);
    }
    dm__buf_puts(&b, "/");
    dm__buf_puts(&b, dbname);
    char sep = '?';
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL || o->val[0] == '\0' || strcmp(o->keyword, "dbname") == 0
            || strcmp(o->keyword, "user") == 0 || strcmp(o->keyword, "password") == 0
            || (strcmp(o->keyword, "host") == 0 && host_in_authority)
            || (strcmp(o->keyword, "port") == 0 && strchr(o->val, ',') == NULL))
            continue;
        dm__buf_printf(&b, "%c%s=", sep, o->keyword);
        put_encoded(&b, o->val);
        sep = '&';
    }
    PQconninfoFree(opts);
    size_t len = 0;
    char *url = dm__buf_steal(&b, &len);
    ck_assert_msg(url != NULL, "out of memory building a test database URL");
    return url;
}

char *dm_test_db_create(const char *prefix)
{
    ck_assert_msg(prefix != NULL && name_ok(prefix, 30),
                  "test database prefix \"%s\" must be 1-30 of [a-z0-9_]", prefix);
    unsigned short rnd = 0;
    dm__random_bytes(&rnd, sizeof rnd);
    char name[64];
    snprintf(name, sizeof name, "%s_%ld_%u_%04x", prefix, (long)getpid(),
             atomic_fetch_add(&db_counter, 1u), (unsigned)rnd);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\"", name);
    admin_exec(sql);
    return url_with_dbname(name);
}

char *dm_test_db_create_migrated(const char *prefix)
{
    char *url = dm_test_db_create(prefix);
    dm_err_t err;
    dm_err_clear(&err);
    int rc = dm__migrate_run(url, DM_SOURCE_DIR "/migrations", NULL, &err);
    if (rc != 0) {
        dm_test_db_drop(url);
        free(url);
        ck_abort_msg("applying %s/migrations failed (%d): %s", DM_SOURCE_DIR, rc, err.msg);
    }
    return url;
}

void dm_test_db_drop(const char *url)
{
    if (url == NULL)
        return;
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    ck_assert_msg(opts != NULL, "cannot parse test database URL: %s", perr ? perr : "?");
    char name[64] = "";
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
        if (strcmp(o->keyword, "dbname") == 0 && o->val != NULL)
            snprintf(name, sizeof name, "%s", o->val);
    PQconninfoFree(opts);
    ck_assert_msg(name_ok(name, 63), "refusing to drop database \"%s\": not a test database",
                  name);
    char sql[160];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", name);
    admin_exec(sql);
}

char *dm_test_db_scalar(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "cannot connect to %s: %s", url,
                  PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(c);
        ck_abort_msg("query \"%s\" failed: %s", sql, msg);
    }
    char *out = NULL;
    if (st == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) {
        out = strdup(PQgetvalue(r, 0, 0));
        ck_assert_msg(out != NULL, "out of memory");
    }
    PQclear(r);
    PQfinish(c);
    return out;
}

char *dm_test_db_scalarf(const char *url, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    ck_assert_msg(n >= 0 && (size_t)n < sizeof sql, "test SQL too long");
    char *v = dm_test_db_scalar(url, sql);
    if (v == NULL) {
        v = strdup("");
        ck_assert_msg(v != NULL, "out of memory");
    }
    return v;
}

void dm_test_db_wait(const char *url, const char *want, int timeout_s, const char *sql)
{
    uint64_t deadline = dm__clock_mono_ns() + (uint64_t)timeout_s * 1000000000ull;
    char *got = NULL;
    for (;;) {
        free(got);
        got = dm_test_db_scalarf(url, "%s", sql);
        if (strcmp(got, want) == 0 || dm__clock_mono_ns() > deadline)
            break;
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep(&ts, NULL);
    }
    char last[256];
    snprintf(last, sizeof last, "%s", got);
    bool ok = strcmp(got, want) == 0;
    free(got);
    ck_assert_msg(ok, "waited %d s for [%s] = \"%s\"; last value \"%s\"", timeout_s, sql, want,
                  last);
}
