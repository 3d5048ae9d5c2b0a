/*
 * call_metrics.c — how long plugin ops take, per (plugin, op): a histogram
 * of the time spent inside the op, and how often a caller gave up waiting.
 * Recorded from any thread under one short lock, rendered for /metrics.
 */
#include "plugin/call_internal.h"

#include <stdio.h>
#include <string.h>

/* Network calls take tens of milliseconds to tens of seconds; the bounds
 * reach past the default runtime timeout. */
#define BUCKETS 12
static const double bounds[BUCKETS] = { 0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120 };

/* Four kinds of a few ops each, for a handful of plugins: past this many
 * series, calls are counted only in the overflow. */
#define SERIES_MAX 128

typedef struct series {
    char       plugin[64];
    dm_call_op op;
    uint64_t   buckets[BUCKETS]; /* not cumulative */
    uint64_t   count;
    double     sum_s;
    uint64_t   timeouts;
} series;

static struct {
    pthread_mutex_t mu;
    series          s[SERIES_MAX];
    int             n;
    uint64_t        overflow;
} m = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* Under m.mu: the series of (plugin, op), made on first use; NULL past
 * the cap. */
static series *find(const char *plugin, dm_call_op op)
{
    for (int i = 0; i < m.n; i++) {
        if (m.s[i].op == op && strcmp(m.s[i].plugin, plugin) == 0)
            return &m.s[i];
    }
    if (m.n == SERIES_MAX) {
        m.overflow++;
        return NULL;
    }
    series *s = &m.s[m.n++];
    memset(s, 0, sizeof *s);
    snprintf(s->plugin, sizeof s->plugin, "%s", plugin);
    s->op = op;
    return s;
}

void dm__call_metrics_observe(const char *plugin, dm_call_op op, uint64_t ns)
{
    double secs = (double)ns / 1e9;
    pthread_mutex_lock(&m.mu);
    series *s = find(plugin, op);
    if (s != NULL) {
        s->count++;
        s->sum_s += secs;
        for (int i = 0; i < BUCKETS; i++) {
            if (secs <= bounds[i]) {
                s->buckets[i]++;
                break;
            }
        }
    }
    pthread_mutex_unlock(&m.mu);
}

void dm__call_metrics_timeout(const char *plugin, dm_call_op op)
{
    pthread_mutex_lock(&m.mu);
    series *s = find(plugin, op);
    if (s != NULL)
        s->timeouts++;
    pthread_mutex_unlock(&m.mu);
}

/* One series' _bucket, _sum and _count lines. */
static int render_histogram(const series *s, dm_buf *out)
{
    const char *op = dm__call_op_name(s->op);
    uint64_t cumulative = 0;
    int rc = 0;
    for (int i = 0; rc == 0 && i < BUCKETS; i++) {
        cumulative += s->buckets[i];
        rc = dm__buf_printf(out, "dermaga_plugin_call_seconds_bucket{plugin=\"%s\",op=\"%s\",le=\"%g\"} %llu\n",
                            s->plugin, op, bounds[i], (unsigned long long)cumulative);
    }
    if (rc == 0)
        rc = dm__buf_printf(out,
                            "dermaga_plugin_call_seconds_bucket{plugin=\"%s\",op=\"%s\",le=\"+Inf\"} %llu\n"
                            "dermaga_plugin_call_seconds_sum{plugin=\"%s\",op=\"%s\"} %.6f\n"
                            "dermaga_plugin_call_seconds_count{plugin=\"%s\",op=\"%s\"} %llu\n",
                            s->plugin, op, (unsigned long long)s->count, s->plugin, op, s->sum_s, s->plugin,
                            op, (unsigned long long)s->count);
    return rc;
}

int dm__call_metrics_render(dm_buf *out)
{
    /* Plugin names are [a-z0-9_-] (the loader's rule) and op names are
     * the SDK's: nothing in a label needs escaping. */
    pthread_mutex_lock(&m.mu);
    int rc = dm__buf_puts(out, "# HELP dermaga_plugin_call_seconds Time spent inside plugin ops, by plugin and op.\n"
                               "# TYPE dermaga_plugin_call_seconds histogram\n");
    for (int i = 0; rc == 0 && i < m.n; i++)
        rc = render_histogram(&m.s[i], out);
    if (rc == 0)
        rc = dm__buf_puts(out, "# HELP dermaga_plugin_call_timeouts_total Plugin calls whose caller stopped "
                               "waiting at the kind's timeout.\n"
                               "# TYPE dermaga_plugin_call_timeouts_total counter\n");
    for (int i = 0; rc == 0 && i < m.n; i++)
        rc = dm__buf_printf(out, "dermaga_plugin_call_timeouts_total{plugin=\"%s\",op=\"%s\"} %llu\n", m.s[i].plugin,
                            dm__call_op_name(m.s[i].op), (unsigned long long)m.s[i].timeouts);
    if (rc == 0)
        rc = dm__buf_printf(out,
                            "# HELP dermaga_plugin_calls_unlabelled_total Plugin calls past the series cap.\n"
                            "# TYPE dermaga_plugin_calls_unlabelled_total counter\n"
                            "dermaga_plugin_calls_unlabelled_total %llu\n",
                            (unsigned long long)m.overflow);
    pthread_mutex_unlock(&m.mu);
    return rc;
}
