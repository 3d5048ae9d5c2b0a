/*
 * metrics.c — request counters and the latency histogram (loop thread only),
 * rendered in the Prometheus text exposition format 0.0.4.
 */
#include "ops/metrics.h"

#include <string.h>

#include <dermaga/error.h>

#include "http/sse.h"

static const double bucket_bounds[DM_METRICS_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5
};

void dm__metrics_observe(dm_metrics *m, const char *method, const char *pattern, int status,
                         uint64_t duration_ns)
{
    double secs = (double)duration_ns / 1e9;
    m->latency_count++;
    m->latency_sum_s += secs;
    for (int i = 0; i < DM_METRICS_BUCKETS; i++) {
        if (secs <= bucket_bounds[i]) {
            m->latency_buckets[i]++;
            break;
        }
    }
    /* Patterns and methods are static strings, so pointers identify series;
     * strcmp covers the rare case of equal text at two addresses. */
    for (int i = 0; i < m->n_series; i++) {
        dm_metric_series *s = &m->series[i];
        if (s->status == status && (s->pattern == pattern || strcmp(s->pattern, pattern) == 0)
            && (s->method == method || strcmp(s->method, method) == 0)) {
            s->count++;
            return;
        }
    }
    if (m->n_series == DM_METRICS_MAX_SERIES) {
        m->overflow++;
        return;
    }
    dm_metric_series *s = &m->series[m->n_series++];
    s->pattern = pattern;
    s->method = method;
    s->status = status;
    s->count = 1;
}

void dm__metrics_ws_close(dm_metrics *m, int code)
{
    for (int i = 0; i < m->n_ws_closes; i++) {
        if (m->ws_closes[i].code == code) {
            m->ws_closes[i].count++;
            return;
        }
    }
    /* A peer's own codes (3000-4999) are echoed back: bound the series. */
    if (m->n_ws_closes == DM_METRICS_WS_CODES) {
        m->ws_closes_other++;
        return;
    }
    m->ws_closes[m->n_ws_closes].code = code;
    m->ws_closes[m->n_ws_closes].count = 1;
    m->n_ws_closes++;
}

static int render_ws(const dm_metrics *m, dm_buf *out)
{
    int rc = dm__buf_printf(out,
                            "# HELP dermaga_websockets_open Open WebSocket connections.\n"
                            "# TYPE dermaga_websockets_open gauge\n"
                            "dermaga_websockets_open %lld\n"
                            "# HELP dermaga_websocket_slow_drops_total WebSockets dropped because the client did not read.\n"
                            "# TYPE dermaga_websocket_slow_drops_total counter\n"
                            "dermaga_websocket_slow_drops_total %llu\n"
                            "# HELP dermaga_websocket_closes_total Close frames the server sent, by close code.\n"
                            "# TYPE dermaga_websocket_closes_total counter\n",
                            (long long)m->websockets_open, (unsigned long long)m->ws_slow_drops);
    for (int i = 0; rc == 0 && i < m->n_ws_closes; i++)
        rc = dm__buf_printf(out, "dermaga_websocket_closes_total{code=\"%d\"} %llu\n", m->ws_closes[i].code,
                            (unsigned long long)m->ws_closes[i].count);
    if (rc == 0 && m->ws_closes_other > 0)
        rc = dm__buf_printf(out, "dermaga_websocket_closes_total{code=\"other\"} %llu\n",
                            (unsigned long long)m->ws_closes_other);
    return rc;
}

int dm__metrics_add_source(dm_metrics *m, dm_metrics_source_fn fn, void *ctx)
{
    if (m->n_sources == DM_METRICS_SOURCES)
        return DM_EBUSY;
    m->sources[m->n_sources].fn = fn;
    m->sources[m->n_sources].ctx = ctx;
    m->n_sources++;
    return 0;
}

int dm__metrics_render(const dm_metrics *m, dm_buf *out)
{
    int rc = dm__buf_puts(out,
                          "# HELP dermaga_http_requests_total HTTP requests by method, route pattern and status.\n"
                          "# TYPE dermaga_http_requests_total counter\n");
    for (int i = 0; rc == 0 && i < m->n_series; i++) {
        const dm_metric_series *s = &m->series[i];
        rc = dm__buf_printf(out, "dermaga_http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %llu\n",
                            s->method, s->pattern, s->status, (unsigned long long)s->count);
    }
    if (rc == 0)
        rc = dm__buf_printf(out,
                            "# HELP dermaga_http_requests_unlabelled_total Requests past the series cap.\n"
                            "# TYPE dermaga_http_requests_unlabelled_total counter\n"
                            "dermaga_http_requests_unlabelled_total %llu\n"
                            "# HELP dermaga_http_request_duration_seconds Time from first byte to response ready.\n"
                            "# TYPE dermaga_http_request_duration_seconds histogram\n",
                            (unsigned long long)m->overflow);
    uint64_t cumulative = 0;
    for (int i = 0; rc == 0 && i < DM_METRICS_BUCKETS; i++) {
        cumulative += m->latency_buckets[i];
        rc = dm__buf_printf(out, "dermaga_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                            bucket_bounds[i], (unsigned long long)cumulative);
    }
    if (rc == 0)
        rc = dm__buf_printf(out,
                            "dermaga_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                            "dermaga_http_request_duration_seconds_sum %.6f\n"
                            "dermaga_http_request_duration_seconds_count %llu\n"
                            "# HELP dermaga_http_open_connections Open client connections.\n"
                            "# TYPE dermaga_http_open_connections gauge\n"
                            "dermaga_http_open_connections %lld\n"
                            "# HELP dermaga_http_inflight_requests Requests running on the worker pool.\n"
                            "# TYPE dermaga_http_inflight_requests gauge\n"
                            "dermaga_http_inflight_requests %lld\n"
                            "# HELP dermaga_http_connections_total Connections accepted.\n"
                            "# TYPE dermaga_http_connections_total counter\n"
                            "dermaga_http_connections_total %llu\n"
                            "# HELP dermaga_http_connections_rejected_total Connections closed at once because the cap was reached.\n"
                            "# TYPE dermaga_http_connections_rejected_total counter\n"
                            "dermaga_http_connections_rejected_total %llu\n"
                            "# HELP dermaga_pool_rejected_total Requests answered 503 because the worker queue was full.\n"
                            "# TYPE dermaga_pool_rejected_total counter\n"
                            "dermaga_pool_rejected_total %llu\n",
                            (unsigned long long)m->latency_count, m->latency_sum_s,
                            (unsigned long long)m->latency_count, (long long)m->open_connections,
                            (long long)m->inflight_requests, (unsigned long long)m->connections_total,
                            (unsigned long long)m->connections_rejected,
                            (unsigned long long)m->pool_rejected);
    if (rc == 0)
        rc = dm__buf_printf(out,
                            "# HELP dermaga_log_streams_open Live log streams open (Server-Sent Events).\n"
                            "# TYPE dermaga_log_streams_open gauge\n"
                            "dermaga_log_streams_open %d\n",
                            dm__sse_open_count());
    if (rc == 0)
        rc = render_ws(m, out);
    for (int i = 0; rc == 0 && i < m->n_sources; i++)
        rc = m->sources[i].fn(m->sources[i].ctx, out);
    return rc;
}
