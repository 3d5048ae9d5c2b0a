/*
 * audit.c — writes audit_log rows. Fields are validated here, before the
 * INSERT, so a bad entry is a clear DM_EINVAL rather than an aborted
 * transaction in the middle of the caller's change.
 */
#include "audit/audit.h"
#include "db/sql_time.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Characters (not bytes) in UTF-8 text, as char_length() counts them. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        n += (*p & 0xc0) != 0x80;
    return n;
}

static bool ident_ok(const char *s, size_t max, bool dots)
{
    if (s == NULL || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || (dots && c == '.')))
            return false;
    }
    return n <= max;
}

static bool uuid_ok(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (dash ? c != '-' : !hex)
            return false;
    }
    return true;
}

static bool ip_ok(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* Optional text: NULL, or 1..max characters. */
static bool opt_len_ok(const char *s, size_t max, bool empty_ok)
{
    return s == NULL || ((empty_ok || s[0] != '\0') && utf8_chars(s) <= max);
}

static int validate(const dm_audit_entry *e, dm_err_t *err)
{
    if (e->actor == NULL || e->actor[0] == '\0' || utf8_chars(e->actor) > 320)
        return dm_err_set(err, DM_EINVAL, "audit: actor is required (1-320 characters)");
    if (!ident_ok(e->action, 64, true))
        return dm_err_set(err, DM_EINVAL, "audit: action \"%.80s\" must match "
                          "^[a-z][a-z0-9_.]{0,63}$", e->action ? e->action : "(null)");
    if (!ident_ok(e->target_type, 32, false))
        return dm_err_set(err, DM_EINVAL, "audit: target_type \"%.80s\" must match "
                          "^[a-z][a-z0-9_]{0,31}$", e->target_type ? e->target_type : "(null)");
    if (e->actor_id != NULL && !uuid_ok(e->actor_id))
        return dm_err_set(err, DM_EINVAL, "audit: actor_id \"%.40s\" is not a uuid", e->actor_id);
    if (e->ip != NULL && !ip_ok(e->ip))
        return dm_err_set(err, DM_EINVAL, "audit: ip \"%.60s\" is not an IPv4 or IPv6 address",
                          e->ip);
    if (!opt_len_ok(e->target_id, 200, false))
        return dm_err_set(err, DM_EINVAL, "audit: target_id must be 1-200 characters");
    if (!opt_len_ok(e->reason, 2000, true))
        return dm_err_set(err, DM_EINVAL, "audit: reason must be at most 2000 characters");
    if (!opt_len_ok(e->request_id, 128, false))
        return dm_err_set(err, DM_EINVAL, "audit: request_id must be 1-128 characters");
    return 0;
}

static const char SQL_AUDIT[] =
    "INSERT INTO audit_log (actor_id, actor, action, target_type, target_id, reason, "
    " request_id, ip, before, after) "
    "VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8::inet, $9::jsonb, $10::jsonb) RETURNING id";

int dm__audit_write(dm_db *db, const dm_audit_entry *e, char out_id[37], dm_err_t *err)
{
    dm_err_t local;
    if (err == NULL)
        err = &local;
    dm_err_clear(err);
    int rc = validate(e, err);
    if (rc != 0)
        return rc;
    char *before = e->before != NULL ? json_dumps(e->before, JSON_COMPACT | JSON_ENCODE_ANY)
                                     : NULL;
    char *after = e->after != NULL ? json_dumps(e->after, JSON_COMPACT | JSON_ENCODE_ANY)
                                   : NULL;
    if ((e->before != NULL && before == NULL) || (e->after != NULL && after == NULL)) {
        free(before);
        free(after);
        return dm_err_set(err, DM_EINVAL, "audit: before/after cannot be serialised");
    }
    const char *params[] = { e->actor_id, e->actor, e->action, e->target_type, e->target_id,
                             e->reason, e->request_id, e->ip, before, after };
    PGresult *res = dm__db_exec(db, "audit_write", SQL_AUDIT, 10, params, err);
    free(before);
    free(after);
    if (res == NULL)
        return dm__db_failed(err);
    if (out_id != NULL)
        snprintf(out_id, 37, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* ---- reading ------------------------------------------------------------ */

#define AUDIT_MATCH                                                                   \
    "($1 = '' OR actor_id::text = $1) AND ($2 = '' OR action = $2) "                  \
    "AND ($3 = '' OR target_type = $3) AND ($4 = '' OR target_id = $4)"

static const char *or_empty(const char *s)
{
    return s != NULL ? s : "";
}

int dm__audit_list(dm_db *db, const dm_audit_filter *f, long page, long limit, json_t **items,
                   long *total, dm_err_t *err)
{
    if (page < 1 || limit < 1 || limit > 100)
        return dm_err_set(err, DM_EINVAL, "page must be >= 1 and limit between 1 and 100");
    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%ld", limit);
    snprintf(off, sizeof off, "%ld", (page - 1) * limit);
    const char *p[] = { or_empty(f->actor_id), or_empty(f->action), or_empty(f->target_type),
                        or_empty(f->target_id), lim, off };
    PGresult *c = dm__db_exec(db, "audit_count", "SELECT count(*) FROM audit_log WHERE " AUDIT_MATCH, 4,
                              p, err);
    if (c == NULL)
        return dm__db_failed(err);
    *total = strtol(PQgetvalue(c, 0, 0), NULL, 10);
    PQclear(c);
    /* PostgreSQL builds each row's JSON, so types (jsonb before/after,
     * inet ip) come out right without decoding them here. */
    PGresult *r = dm__db_exec(db, "audit_page",
                              "SELECT json_build_object('id', id, 'actorId', actor_id, 'actor', actor, "
                              "'action', action, 'targetType', target_type, 'targetId', target_id, "
                              "'reason', reason, 'requestId', request_id, 'ip', host(ip), "
                              "'before', before, 'after', after, 'createdAt', "
                              DM_SQL_TS("created_at") ")::text "
                              "FROM audit_log WHERE " AUDIT_MATCH
                              " ORDER BY created_at DESC, id LIMIT $5::int OFFSET $6::bigint",
                              6, p, err);
    if (r == NULL)
        return dm__db_failed(err);
    *items = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *row = json_loads(PQgetvalue(r, i, 0), 0, NULL);
        if (row != NULL)
            json_array_append_new(*items, row);
    }
    PQclear(r);
    return 0;
}
