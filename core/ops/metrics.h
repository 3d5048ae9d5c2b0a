/*
 * metrics.h — counters behind GET /metrics. Request counters and the
 * latency histogram are touched only on the loop thread (no locks); pool and
 * job figures are read from their owners at scrape time.
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

typedef struct dm_metrics {
    dm_metric_series series[DM_METRICS_MAX_SERIES];
    int              n_series;
    uint64_t         overflow;            /* requests past the series cap */
    uint64_t         latency_buckets[DM_METRICS_BUCKETS]; /* cumulative at scrape */
    uint64_t         latency_count;
    double           latency_sum_s;
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

/* Write the loop-side counters, then every source's, in Prometheus text
 * format. */
int dm__metrics_render(const dm_metrics *m, dm_buf *out);

#endif
