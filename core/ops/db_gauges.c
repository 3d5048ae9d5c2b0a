/*
 * db_gauges.c — the database snapshot behind the business gauges of
 * /metrics: one statement, one thread, one connection; the scrape (loop
 * thread) copies the snapshot under the mutex.
 */
#include "ops/db_gauges.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/pg.h"
#include "util/clock.h"
#include "util/log.h"

#define LOG_SRC "metrics"
/* The statement is three index-friendly counts; if it takes longer than
 * this the database is in trouble and the last values stand. */
#define GAUGES_STATEMENT_TIMEOUT_MS 5000

/* The statuses the schema allows (migrations 0005): every one is exported,
 * 0 included, so a status that empties does not vanish from the graph. */
static const char *const instance_statuses[] = { "PENDING", "PROVISIONING", "RUNNING", "STOPPING",
                                                 "STOPPED", "STARTING", "RESTARTING", "ERROR",
                                                 "TERMINATING", "TERMINATED" };
static const char *const subscription_statuses[] = { "ACTIVE", "SUSPENDED", "EXPIRED", "CANCELLED" };
#define N_INST (sizeof instance_statuses / sizeof instance_statuses[0])
#define N_SUBS (sizeof subscription_statuses / sizeof subscription_statuses[0])

typedef struct snapshot {
    int64_t instances[N_INST];
    int64_t subscriptions[N_SUBS];
    int64_t topups_pending;
    int64_t topups_pending_amount; /* Rupiah */
    bool    valid;                 /* false until the first good read */
    int64_t as_of_ms;              /* wall clock of that read */
} snapshot;

struct dm_db_gauges {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    pthread_t       thread;
    atomic_bool     stopping;
    dm_db           db;
    int             refresh_s;
    snapshot        snap;     /* under mu */
    uint64_t        failures; /* under mu */
};

static const char gauges_sql[] =
    "SELECT 'i', status, count(*), 0::bigint FROM instances GROUP BY status "
    "UNION ALL SELECT 's', status, count(*), 0::bigint FROM subscriptions GROUP BY status "
    "UNION ALL SELECT 't', 'PENDING', count(*), coalesce(sum(amount), 0)::bigint "
    "FROM transactions WHERE status = 'PENDING'";

static int index_of(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], s) == 0)
            return (int)i;
    }
    return -1;
}

/* One read into *out; 0, or the dm__db_exec codes with err set. */
static int read_snapshot(dm_db *db, snapshot *out, dm_err_t *err)
{
    PGresult *res = dm__db_exec(db, "metrics_gauges", gauges_sql, 0, NULL, err);
    if (res == NULL)
        return DM_EUNAVAIL;
    memset(out, 0, sizeof *out);
    for (int row = 0; row < PQntuples(res); row++) {
        const char *kind = PQgetvalue(res, row, 0);
        const char *status = PQgetvalue(res, row, 1);
        int64_t count = strtoll(PQgetvalue(res, row, 2), NULL, 10);
        int i;
        if (kind[0] == 'i' && (i = index_of(instance_statuses, N_INST, status)) >= 0)
            out->instances[i] = count;
        else if (kind[0] == 's' && (i = index_of(subscription_statuses, N_SUBS, status)) >= 0)
            out->subscriptions[i] = count;
        else if (kind[0] == 't') {
            out->topups_pending = count;
            out->topups_pending_amount = strtoll(PQgetvalue(res, row, 3), NULL, 10);
        }
    }
    PQclear(res);
    out->valid = true;
    out->as_of_ms = dm__clock_wall_ms();
    return 0;
}

static void *refresher_main(void *arg)
{
    dm_db_gauges *g = arg;
    bool failing = false;
    while (!atomic_load(&g->stopping)) {
        snapshot s;
        dm_err_t err;
        dm_err_clear(&err);
        int rc = read_snapshot(&g->db, &s, &err);
        pthread_mutex_lock(&g->mu);
        if (rc == 0)
            g->snap = s;
        else
            g->failures++;
        pthread_mutex_unlock(&g->mu);
        /* Log the first failure of a run and the recovery, not every try. */
        if (rc != 0 && !failing)
            dm__log(DM_LOG_WARN, LOG_SRC, "business gauges: cannot read the database (%s); /metrics keeps "
                    "the last values", err.msg);
        else if (rc == 0 && failing)
            dm__log(DM_LOG_INFO, LOG_SRC, "business gauges: reading the database again");
        failing = rc != 0;
        struct timespec ts;
        dm__clock_deadline(CLOCK_MONOTONIC, g->refresh_s * 1000, &ts);
        pthread_mutex_lock(&g->mu);
        while (!atomic_load(&g->stopping)) {
            if (pthread_cond_timedwait(&g->cv, &g->mu, &ts) != 0)
                break; /* ETIMEDOUT: time for the next read */
        }
        pthread_mutex_unlock(&g->mu);
    }
    return NULL;
}

dm_db_gauges *dm__db_gauges_start(const char *conninfo, int connect_timeout_s, int refresh_s, dm_err_t *err)
{
    dm_db_gauges *g = calloc(1, sizeof *g);
    if (g == NULL) {
        dm_err_set(err, DM_ENOMEM, "business gauges: out of memory");
        return NULL;
    }
    g->refresh_s = refresh_s >= 1 ? refresh_s : 1;
    atomic_init(&g->stopping, false);
    pthread_condattr_t ca;
    bool ok = pthread_condattr_init(&ca) == 0;
    if (ok) {
        ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&g->cv, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!ok || pthread_mutex_init(&g->mu, NULL) != 0) {
        if (ok)
            pthread_cond_destroy(&g->cv);
        free(g);
        dm_err_set(err, DM_ENOMEM, "business gauges: cannot make the thread's lock");
        return NULL;
    }
    if (dm__db_init(&g->db, conninfo, connect_timeout_s, GAUGES_STATEMENT_TIMEOUT_MS, err) != 0
        || pthread_create(&g->thread, NULL, refresher_main, g) != 0) {
        if (g->db.conninfo != NULL)
            dm__db_fini(&g->db);
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mu);
        free(g);
        dm_err_set(err, DM_ENOMEM, "business gauges: cannot start the refresher");
        return NULL;
    }
    return g;
}

static int render_statuses(dm_buf *out, const char *name, const char *help, const char *const *names,
                           const int64_t *counts, size_t n)
{
    int rc = dm__buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = dm__buf_printf(out, "%s{status=\"%s\"} %lld\n", name, names[i], (long long)counts[i]);
    return rc;
}

int dm__db_gauges_render(void *ctx, dm_buf *out)
{
    dm_db_gauges *g = ctx;
    pthread_mutex_lock(&g->mu);
    snapshot s = g->snap;
    uint64_t failures = g->failures;
    pthread_mutex_unlock(&g->mu);
    int rc = dm__buf_printf(out,
                            "# HELP dermaga_db_gauges_refresh_failures_total Failed reads of the business gauges "
                            "(the last good values stay).\n"
                            "# TYPE dermaga_db_gauges_refresh_failures_total counter\n"
                            "dermaga_db_gauges_refresh_failures_total %llu\n",
                            (unsigned long long)failures);
    if (rc != 0 || !s.valid)
        return rc;
    rc = dm__buf_printf(out,
                        "# HELP dermaga_db_gauges_refresh_timestamp_seconds When the business gauges were "
                        "last read from the database.\n"
                        "# TYPE dermaga_db_gauges_refresh_timestamp_seconds gauge\n"
                        "dermaga_db_gauges_refresh_timestamp_seconds %.3f\n",
                        (double)s.as_of_ms / 1000.0);
    if (rc == 0)
        rc = render_statuses(out, "dermaga_instances", "Instances by status (database snapshot).",
                             instance_statuses, s.instances, N_INST);
    if (rc == 0)
        rc = render_statuses(out, "dermaga_subscriptions", "Subscriptions by status (database snapshot).",
                             subscription_statuses, s.subscriptions, N_SUBS);
    if (rc == 0)
        rc = dm__buf_printf(out,
                            "# HELP dermaga_topups_pending Top-ups waiting for the gateway (database snapshot).\n"
                            "# TYPE dermaga_topups_pending gauge\n"
                            "dermaga_topups_pending %lld\n"
                            "# HELP dermaga_topups_pending_amount_rupiah What the pending top-ups add up to, "
                            "in Rupiah (database snapshot).\n"
                            "# TYPE dermaga_topups_pending_amount_rupiah gauge\n"
                            "dermaga_topups_pending_amount_rupiah %lld\n",
                            (long long)s.topups_pending, (long long)s.topups_pending_amount);
    return rc;
}

void dm__db_gauges_free(dm_db_gauges *g)
{
    if (g == NULL)
        return;
    pthread_mutex_lock(&g->mu);
    atomic_store(&g->stopping, true);
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    dm__db_fini(&g->db);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
}
