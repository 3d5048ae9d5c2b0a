/*
 * metrics.h — counters behind GET /metrics. Request counters and the
 * latency histograms are touched only on the loop thread (no locks); pool,
 * job, process and database figures are read from their owners at scrape
 * time. docs/metrics.md lists every family.
 */
#ifndef DM_METRICS_H
#define DM_METRICS_H

#include <stdint.h>

#include "util/buf.h"

#define DM_METRICS_MAX_SERIES 512
#define DM_METRICS_BUCKETS 12
#define DM_METRICS_WS_CODES 16 /* distinct close codes counted; the rest as "other" */
#define DM_METRICS_SOURCES 8   /* features that add figures of their own */

/* A feature's figures, written at scrape time on the loop thread. 0 or the
 * dm_buf error. */
typedef int (*dm_metrics_source_fn)(void *ctx, dm_buf *out);

typedef struct dm_metric_series {
    const char *pattern; /* route pattern (static, owned by router) or "unmatched" */
    const char *method;  /* static string */
    int         status;
    uint64_t    count;
} dm_metric_series;

/* One latency histogram: a route pattern, a method and a status class
 * (1 for 1xx … 5 for 5xx). Buckets hold per-bucket counts, made cumulative
 * when rendered. */
typedef struct dm_metric_hist {
    const char *pattern; /* as dm_metric_series */
    const char *method;
    int         status_class;
    uint64_t    buckets[DM_METRICS_BUCKETS];
    uint64_t    count;
    double      sum_s;
} dm_metric_hist;

typedef struct dm_metrics {
    dm_metric_series series[DM_METRICS_MAX_SERIES];
    int              n_series;
    uint64_t         overflow;            /* requests past the series cap */
    dm_metric_hist   hist[DM_METRICS_MAX_SERIES];
    int              n_hist;
    uint64_t         hist_overflow;       /* durations past the histogram cap */
    int64_t          open_connections;
    int64_t          inflight_requests;
    uint64_t         connections_total;
    uint64_t         connections_rejected; /* over the connection cap */
    uint64_t         pool_rejected;        /* 503 because the queue was full */
    int64_t          websockets_open;
    struct {
        int      code;
        uint64_t count;
    }                ws_closes[DM_METRICS_WS_CODES]; /* close frames sent, by code */
    int              n_ws_closes;
    uint64_t         ws_closes_other;      /* codes past the DM_METRICS_WS_CODES cap */
    uint64_t         ws_slow_drops;        /* WebSockets dropped for not reading */
    struct {
        dm_metrics_source_fn fn;
        void                *ctx;
    }                sources[DM_METRICS_SOURCES];
    int              n_sources;
} dm_metrics;

/* Record one finished request (loop thread). */
void dm__metrics_observe(dm_metrics *m, const char *method, const char *pattern,
                         int status, uint64_t duration_ns);

/* Count a close frame sent with code (loop thread). */
void dm__metrics_ws_close(dm_metrics *m, int code);

/* A feature adds its own figures to every scrape (main thread, before
 * serving; ctx borrowed for the server's life). 0, or DM_EBUSY past
 * DM_METRICS_SOURCES. */
int dm__metrics_add_source(dm_metrics *m, dm_metrics_source_fn fn, void *ctx);

/* Append v to out as a Prometheus label value: backslash, double quote and
 * newline escaped (the quotes around it are the caller's). 0 or the dm_buf
 * error. */
int dm__metrics_label_value(dm_buf *out, const char *v);

/* The status class label of an HTTP status: "1xx" … "5xx"; anything out of
 * range (never sent) counts as "5xx". Static string. */
const char *dm__metrics_status_class(int status);

/* Write the loop-side counters, then every source's, in Prometheus text
 * format. */
int dm__metrics_render(const dm_metrics *m, dm_buf *out);

#endif
