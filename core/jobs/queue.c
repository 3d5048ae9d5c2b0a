/*
 * queue.c — the SQL of the durable job queue: enqueue, claim (FOR UPDATE
 * SKIP LOCKED, with a lease), complete, fail with retry or for good, lease
 * renewal and fencing, reaping of expired last attempts, counts, pruning.
 * Every state change after a claim is guarded by (lease_owner, attempts), so
 * a node that lost its lease can never finish a job someone else now runs.
 */
#include "jobs/jobs.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/log.h"

/* Public functions accept err == NULL; SQL helpers need a slot to read the
 * code back from, so they get a local one. */
#define LOCAL_ERR(err)          \
    dm_err_t err##_local;       \
    if ((err) == NULL)          \
        (err) = &err##_local;   \
    dm_err_clear(err)

/* ---- validation and small helpers ---- */

bool dm__job_kind_valid(const char *s)
{
    if (s == NULL || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    size_t n = 1;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
            return false;
    }
    return n <= DM_JOB_KIND_MAX;
}

int64_t dm__job_backoff_ms(int attempts, int64_t base_ms, int64_t cap_ms, uint32_t rand)
{
    /* Bounds keep d + 25 % representable whatever the caller passes. */
    if (cap_ms > INT64_MAX / 2)
        cap_ms = INT64_MAX / 2;
    if (cap_ms < 1)
        cap_ms = 1;
    if (base_ms < 1)
        base_ms = 1;
    if (base_ms > cap_ms)
        base_ms = cap_ms;
    int64_t d = base_ms;
    /* Double until the cap, checking before doubling so it cannot overflow. */
    for (int i = 1; i < attempts && d < cap_ms; i++)
        d = d > cap_ms / 2 ? cap_ms : d * 2;
    /* Jitter spreads retries of jobs that failed together (e.g. while the
     * database or a gateway was down) so they do not return as one wave. */
    return d + (int64_t)((uint64_t)rand % ((uint64_t)(d / 4) + 1));
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0];
    size_t n;
    uint32_t cp, min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2; cp = c & 0x1f; min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3; cp = c & 0x0f; min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4; cp = c & 0x07; min = 0x10000;
    } else {
        return 0;
    }
    if (n > avail)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* Copy an error message for last_error: valid UTF-8 (PostgreSQL rejects
 * anything else, which would turn a handler's failure into a lost update),
 * control characters as spaces, at most DM_JOB_ERROR_MAX bytes. */
static void clean_error(const char *in, char *out, size_t out_len)
{
    const unsigned char *p = (const unsigned char *)(in != NULL ? in : "");
    size_t o = 0, avail = strlen((const char *)p);
    while (*p != '\0') {
        size_t n = utf8_seq(p, avail);
        if (n == 0) {
            if (o + 1 >= out_len)
                break;
            out[o++] = '?';
            p++, avail--;
            continue;
        }
        if (o + n >= out_len)
            break;
        if (n == 1 && (*p < 0x20 || *p == 0x7f))
            out[o++] = ' ';
        else
            memcpy(out + o, p, n), o += n;
        p += n;
        avail -= n;
    }
    out[o] = '\0';
    if (o == 0)
        snprintf(out, out_len, "failed without a message");
}

static int exec_count(dm_db *db, const char *name, const char *sql, int nparams,
                      const char *const *params, int *out_rows, dm_err_t *err)
{
    PGresult *res = dm__db_exec(db, name, sql, nparams, params, err);
    if (res == NULL)
        return dm__db_failed(err);
    const char *t = PQcmdTuples(res);
    *out_rows = (t != NULL && t[0] != '\0') ? (int)strtol(t, NULL, 10) : 0;
    PQclear(res);
    return 0;
}

/* ---- enqueue ---- */

static const char SQL_ENQUEUE[] =
    "INSERT INTO jobs (kind, payload, max_attempts, run_at, unique_key) "
    "VALUES ($1, $2::jsonb, $3::integer, now() + $4::bigint * interval '1 millisecond', $5) "
    "ON CONFLICT (unique_key) "
    "  WHERE unique_key IS NOT NULL AND status IN ('queued', 'running') DO NOTHING "
    "RETURNING id";

static int check_enqueue(const char *kind, const json_t *payload, const dm_job_opts *o,
                         dm_err_t *err)
{
    if (!dm__job_kind_valid(kind))
        return dm_err_set(err, DM_EINVAL, "invalid job kind \"%.80s\"", kind ? kind : "(null)");
    if (payload != NULL && !json_is_object(payload))
        return dm_err_set(err, DM_EINVAL, "job payload must be a JSON object");
    if (o->delay_ms < 0)
        return dm_err_set(err, DM_EINVAL, "job delay must not be negative");
    if (o->max_attempts < 0 || o->max_attempts > 100)
        return dm_err_set(err, DM_EINVAL, "max_attempts %d out of range 1..100", o->max_attempts);
    if (o->unique_key != NULL
        && (o->unique_key[0] == '\0' || strlen(o->unique_key) > DM_JOB_KEY_MAX))
        return dm_err_set(err, DM_EINVAL, "job unique_key must be 1..%d bytes", DM_JOB_KEY_MAX);
    return 0;
}

int dm__job_enqueue(dm_db *db, const char *kind, const json_t *payload,
                    const dm_job_opts *opts, char out_id[37], dm_err_t *err)
{
    LOCAL_ERR(err);
    dm_job_opts o = { 0 };
    if (opts != NULL)
        o = *opts;
    int rc = check_enqueue(kind, payload, &o, err);
    if (rc != 0)
        return rc;
    char *text = payload != NULL ? json_dumps(payload, JSON_COMPACT) : NULL;
    if (payload != NULL && text == NULL)
        return dm_err_set(err, DM_EINVAL, "job payload cannot be serialised");
    char max[16], delay[24];
    snprintf(max, sizeof max, "%d", o.max_attempts > 0 ? o.max_attempts
                                                        : DM_JOB_DEFAULT_MAX_ATTEMPTS);
    snprintf(delay, sizeof delay, "%" PRId64, o.delay_ms);
    const char *params[] = { kind, text != NULL ? text : "{}", max, delay, o.unique_key };
    PGresult *res = dm__db_exec(db, "jobs_enqueue", SQL_ENQUEUE, 5, params, err);
    free(text);
    if (res == NULL)
        return dm__db_failed(err);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return dm_err_set(err, DM_ECONFLICT, "a job with unique key \"%.100s\" is already "
                          "queued or running", o.unique_key);
    }
    if (out_id != NULL)
        snprintf(out_id, 37, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* ---- claim ---- */

#define CLAIM_HEAD                                                                  \
    "UPDATE jobs SET status = 'running', lease_owner = $1, "                        \
    "  lease_expires_at = now() + $2::integer * interval '1 second', "              \
    "  attempts = attempts + 1, updated_at = now() "                                \
    "WHERE id = (SELECT id FROM jobs WHERE "
#define CLAIM_TAIL                                                                  \
    "  ((status = 'queued' AND run_at <= now()) "                                   \
    "   OR (status = 'running' AND lease_expires_at < now() "                       \
    "       AND attempts < max_attempts)) "                                         \
    "  ORDER BY run_at LIMIT 1 FOR UPDATE SKIP LOCKED) "                            \
    "RETURNING id, kind, payload::text, unique_key, last_error, attempts, max_attempts"

static const char SQL_CLAIM_KINDS[] = CLAIM_HEAD "kind = ANY($3::text[]) AND" CLAIM_TAIL;
static const char SQL_CLAIM_ANY[] = CLAIM_HEAD CLAIM_TAIL;

/* '{"a","b"}' — kinds are validated, so they contain no quotes or commas. */
static char *kinds_literal(const char *const *kinds, int n, dm_err_t *err)
{
    size_t len = 3;
    for (int i = 0; i < n; i++) {
        if (!dm__job_kind_valid(kinds[i])) {
            dm_err_set(err, DM_EINVAL, "invalid job kind \"%.80s\"", kinds[i]);
            return NULL;
        }
        len += strlen(kinds[i]) + 3;
    }
    char *s = malloc(len);
    if (s == NULL) {
        dm_err_set(err, DM_ENOMEM, "out of memory");
        return NULL;
    }
    size_t o = 0;
    s[o++] = '{';
    for (int i = 0; i < n; i++) {
        size_t k = strlen(kinds[i]);
        if (i > 0)
            s[o++] = ',';
        s[o++] = '"';
        memcpy(s + o, kinds[i], k);
        o += k;
        s[o++] = '"';
    }
    s[o++] = '}';
    s[o] = '\0';
    return s;
}

static char *dup_or_null(PGresult *res, int col)
{
    return PQgetisnull(res, 0, col) ? NULL : strdup(PQgetvalue(res, 0, col));
}

/* Fill *out from a claim's row. DM_EINVAL when the payload does not parse
 * here (jsonb accepts numbers jansson cannot hold, e.g. beyond int64). */
static int fill_job(PGresult *res, dm_job *out, dm_err_t *err)
{
    snprintf(out->id, sizeof out->id, "%s", PQgetvalue(res, 0, 0));
    snprintf(out->kind, sizeof out->kind, "%s", PQgetvalue(res, 0, 1));
    out->unique_key = dup_or_null(res, 3);
    out->last_error = dup_or_null(res, 4);
    out->attempts = (int)strtol(PQgetvalue(res, 0, 5), NULL, 10);
    out->max_attempts = (int)strtol(PQgetvalue(res, 0, 6), NULL, 10);
    if ((!PQgetisnull(res, 0, 3) && out->unique_key == NULL)
        || (!PQgetisnull(res, 0, 4) && out->last_error == NULL))
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    json_error_t jerr;
    out->payload = json_loads(PQgetvalue(res, 0, 2), 0, &jerr);
    if (out->payload == NULL)
        return dm_err_set(err, DM_EINVAL, "payload cannot be parsed: %s", jerr.text);
    return 0;
}

/* A claimed job whose payload cannot be handed to a handler fails for good
 * (retrying cannot fix it) rather than reaching the handler as something
 * else. Best effort: if this fails too, the lease expiry retries it. */
static void fail_unreadable(dm_db *db, dm_job *job, const dm_err_t *why)
{
    dm_err_t err;
    dm_err_clear(&err);
    dm__log(DM_LOG_ERROR, "jobs", "job %s (%s) failed for good: %s", job->id, job->kind,
            why->msg);
    if (dm__job_fail(db, job, why->msg, -1, NULL, &err) != 0)
        dm__log(DM_LOG_WARN, "jobs", "job %s: %s", job->id, err.msg);
    dm__job_clear(job);
}

static int claim_row(dm_db *db, const char *owner, const char *kinds_lit, const char *lease,
                     dm_job *out, dm_err_t *err)
{
    PGresult *res;
    if (kinds_lit != NULL) {
        const char *params[] = { owner, lease, kinds_lit };
        res = dm__db_exec(db, "jobs_claim_kinds", SQL_CLAIM_KINDS, 3, params, err);
    } else {
        const char *params[] = { owner, lease };
        res = dm__db_exec(db, "jobs_claim_any", SQL_CLAIM_ANY, 2, params, err);
    }
    if (res == NULL)
        return dm__db_failed(err);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return DM_ENOTFOUND;
    }
    snprintf(out->lease_owner, sizeof out->lease_owner, "%s", owner);
    int rc = fill_job(res, out, err);
    PQclear(res);
    return rc;
}

int dm__job_claim(dm_db *db, const char *owner, const char *const *kinds, int n_kinds,
                  int lease_s, dm_job *out, dm_err_t *err)
{
    LOCAL_ERR(err);
    memset(out, 0, sizeof *out);
    if (owner == NULL || owner[0] == '\0' || strlen(owner) > DM_JOB_OWNER_MAX)
        return dm_err_set(err, DM_EINVAL, "lease owner must be 1..%d bytes", DM_JOB_OWNER_MAX);
    if (lease_s < 1 || (kinds != NULL && n_kinds < 1))
        return dm_err_set(err, DM_EINVAL, "claim needs a lease >= 1 s and at least one kind");
    char lease[16];
    snprintf(lease, sizeof lease, "%d", lease_s);
    char *lit = NULL;
    if (kinds != NULL && (lit = kinds_literal(kinds, n_kinds, err)) == NULL)
        return err->code;
    int rc;
    /* Loop past jobs failed for an unreadable payload to the next real one. */
    while ((rc = claim_row(db, owner, lit, lease, out, err)) == DM_EINVAL) {
        fail_unreadable(db, out, err);
        dm_err_clear(err);
    }
    free(lit);
    if (rc != 0)
        dm__job_clear(out);
    return rc;
}

void dm__job_clear(dm_job *job)
{
    if (job == NULL)
        return;
    json_decref(job->payload);
    free(job->unique_key);
    free(job->last_error);
    memset(job, 0, sizeof *job);
}

/* ---- after the claim: every statement is guarded by the lease ---- */

#define LEASE_GUARD "id = $1 AND status = 'running' AND lease_owner = $2 AND attempts = $3::integer"

static int lease_lost(const dm_job *job, dm_err_t *err)
{
    return dm_err_set(err, DM_ECONFLICT, "job %s (%s) is no longer leased to %s (attempt %d): "
                      "its lease expired and it was taken over, or it already finished",
                      job->id, job->kind, job->lease_owner, job->attempts);
}

int dm__job_complete(dm_db *db, const dm_job *job, dm_err_t *err)
{
    LOCAL_ERR(err);
    char att[16];
    snprintf(att, sizeof att, "%d", job->attempts);
    const char *params[] = { job->id, job->lease_owner, att };
    int rows = 0;
    int rc = exec_count(db, "jobs_complete",
                        "UPDATE jobs SET status = 'succeeded', lease_expires_at = NULL, "
                        "finished_at = now(), updated_at = now() WHERE " LEASE_GUARD,
                        3, params, &rows, err);
    if (rc != 0)
        return rc;
    return rows == 1 ? 0 : lease_lost(job, err);
}

static const char SQL_FAIL[] =
    "UPDATE jobs SET "
    " status = CASE WHEN $5::bigint < 0 OR attempts >= max_attempts"
    "          THEN 'failed' ELSE 'queued' END,"
    " run_at = CASE WHEN $5::bigint < 0 OR attempts >= max_attempts"
    "          THEN run_at ELSE now() + $5::bigint * interval '1 millisecond' END,"
    " finished_at = CASE WHEN $5::bigint < 0 OR attempts >= max_attempts"
    "          THEN now() END,"
    " lease_expires_at = NULL, last_error = $4, updated_at = now() "
    "WHERE " LEASE_GUARD " RETURNING status";

int dm__job_fail(dm_db *db, const dm_job *job, const char *error, int64_t retry_in_ms,
                 bool *out_final, dm_err_t *err)
{
    LOCAL_ERR(err);
    char att[16], retry[24], msg[DM_JOB_ERROR_MAX + 1];
    snprintf(att, sizeof att, "%d", job->attempts);
    snprintf(retry, sizeof retry, "%" PRId64, retry_in_ms < 0 ? (int64_t)-1 : retry_in_ms);
    clean_error(error, msg, sizeof msg);
    const char *params[] = { job->id, job->lease_owner, att, msg, retry };
    PGresult *res = dm__db_exec(db, "jobs_fail", SQL_FAIL, 5, params, err);
    if (res == NULL)
        return dm__db_failed(err);
    int rows = PQntuples(res);
    if (rows == 1 && out_final != NULL)
        *out_final = strcmp(PQgetvalue(res, 0, 0), "failed") == 0;
    PQclear(res);
    return rows == 1 ? 0 : lease_lost(job, err);
}

int dm__job_extend_lease(dm_db *db, const dm_job *job, int lease_s, dm_err_t *err)
{
    LOCAL_ERR(err);
    if (lease_s < 1)
        return dm_err_set(err, DM_EINVAL, "lease must be >= 1 s");
    char att[16], lease[16];
    snprintf(att, sizeof att, "%d", job->attempts);
    snprintf(lease, sizeof lease, "%d", lease_s);
    const char *params[] = { job->id, job->lease_owner, att, lease };
    int rows = 0;
    /* NOWAIT: when another session holds the row (the handler's own fence
     * from dm__job_hold_lease) the lease cannot be taken over anyway, and the
     * heartbeat must not stall behind a long handler transaction. */
    int rc = exec_count(db, "jobs_extend",
                        "UPDATE jobs SET lease_expires_at = now() + $4::integer * interval "
                        "'1 second', updated_at = now() WHERE id = (SELECT id FROM jobs "
                        "WHERE id = $1 FOR UPDATE NOWAIT) AND status = 'running' "
                        "AND lease_owner = $2 AND attempts = $3::integer",
                        4, params, &rows, err);
    if (rc == DM_EIO && strcmp(db->sqlstate, "55P03") == 0)
        return dm_err_set(err, DM_EBUSY, "job %s is locked by its handler's transaction",
                          job->id);
    if (rc != 0)
        return rc;
    return rows == 1 ? 0 : lease_lost(job, err);
}

int dm__job_hold_lease(dm_db *db, const dm_job *job, dm_err_t *err)
{
    LOCAL_ERR(err);
    if (!db->in_tx)
        return dm_err_set(err, DM_EINVAL, "dm__job_hold_lease needs an open transaction");
    char att[16];
    snprintf(att, sizeof att, "%d", job->attempts);
    const char *params[] = { job->id, job->lease_owner, att };
    PGresult *res = dm__db_exec(db, "jobs_hold", "SELECT 1 FROM jobs WHERE " LEASE_GUARD
                                " FOR UPDATE", 3, params, err);
    if (res == NULL)
        return dm__db_failed(err);
    int rows = PQntuples(res);
    PQclear(res);
    return rows == 1 ? 0 : lease_lost(job, err);
}

/* ---- housekeeping ---- */

int dm__jobs_reap_expired(dm_db *db, int *out_n, dm_err_t *err)
{
    LOCAL_ERR(err);
    int rows = 0;
    int rc = exec_count(
        db, "jobs_reap",
        "UPDATE jobs SET status = 'failed', lease_expires_at = NULL, finished_at = now(), "
        " updated_at = now(), last_error = left(format('lease of %s expired during the last "
        "attempt (%s of %s): its node stopped or the handler hung', lease_owner, attempts, "
        "max_attempts) || coalesce('; previous error: ' || last_error, ''), 4000) "
        "WHERE id IN (SELECT id FROM jobs WHERE status = 'running' AND lease_expires_at < now() "
        " AND attempts >= max_attempts FOR UPDATE SKIP LOCKED)",
        0, NULL, &rows, err);
    if (rc == 0 && out_n != NULL)
        *out_n = rows;
    return rc;
}

int dm__jobs_count(dm_db *db, dm_job_counts *out, dm_err_t *err)
{
    LOCAL_ERR(err);
    PGresult *res = dm__db_exec(db, "jobs_count",
                                "SELECT status, count(*) FROM jobs GROUP BY status", 0, NULL,
                                err);
    if (res == NULL)
        return dm__db_failed(err);
    dm_job_counts c = { 0 };
    for (int i = 0; i < PQntuples(res); i++) {
        const char *st = PQgetvalue(res, i, 0);
        int64_t n = strtoll(PQgetvalue(res, i, 1), NULL, 10);
        if (strcmp(st, "queued") == 0)
            c.queued = n;
        else if (strcmp(st, "running") == 0)
            c.running = n;
        else if (strcmp(st, "succeeded") == 0)
            c.succeeded = n;
        else if (strcmp(st, "failed") == 0)
            c.failed = n;
    }
    PQclear(res);
    c.valid = true;
    c.as_of_ms = dm__clock_wall_ms();
    *out = c;
    return 0;
}

int dm__jobs_prune(dm_db *db, int64_t older_than_s, int64_t *out_n, dm_err_t *err)
{
    LOCAL_ERR(err);
    if (older_than_s < 1)
        return dm_err_set(err, DM_EINVAL, "prune age must be >= 1 s");
    char age[24];
    snprintf(age, sizeof age, "%" PRId64, older_than_s);
    const char *params[] = { age };
    PGresult *res = dm__db_exec(
        db, "jobs_prune",
        "WITH gone AS (DELETE FROM jobs WHERE "
        " (status = 'succeeded' AND finished_at < now() - $1::bigint * interval '1 second') OR "
        " (status = 'failed' AND finished_at < now() - 4 * $1::bigint * interval '1 second') "
        " RETURNING 1) SELECT count(*) FROM gone",
        1, params, err);
    if (res == NULL)
        return dm__db_failed(err);
    if (out_n != NULL)
        *out_n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}
