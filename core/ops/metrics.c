/*
 * metrics.c — request counters and the latency histograms (loop thread only),
 * rendered in the Prometheus text exposition format 0.0.4.
 */
#include "ops/metrics.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <dermaga/error.h>

#include "http/sse.h"

static const double bucket_bounds[DM_METRICS_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5
};

static int class_of(int status)
{
    return status >= 100 && status <= 599 ? status / 100 : 5;
}

const char *dm__metrics_status_class(int status)
{
    static const char *const names[] = { "", "1xx", "2xx", "3xx", "4xx", "5xx" };
    return names[class_of(status)];
}

static bool same_route(const char *pa, const char *ma, const char *pb, const char *mb)
{
    /* Patterns and methods are static strings, so pointers identify series;
     * strcmp covers the rare case of equal text at two addresses. */
    return (pa == pb || strcmp(pa, pb) == 0) && (ma == mb || strcmp(ma, mb) == 0);
}

/* The duration goes to the (method, pattern, status class) histogram. The
 * labels come from the route table (or "unmatched"/"preflight") and the
 * parser's method names, so the series are bounded; the cap is a guard. */
static void observe_duration(dm_metrics *m, const char *method, const char *pattern, int status,
                             double secs)
{
    int cls = class_of(status);
    dm_metric_hist *h = NULL;
    for (int i = 0; i < m->n_hist && h == NULL; i++) {
        if (m->hist[i].status_class == cls
            && same_route(m->hist[i].pattern, m->hist[i].method, pattern, method))
            h = &m->hist[i];
    }
    if (h == NULL) {
        if (m->n_hist == DM_METRICS_MAX_SERIES) {
            m->hist_overflow++;
            return;
        }
        h = &m->hist[m->n_hist++];
        h->pattern = pattern;
        h->method = method;
        h->status_class = cls;
    }
    h->count++;
    h->sum_s += secs;
    for (int i = 0; i < DM_METRICS_BUCKETS; i++) {
        if (secs <= bucket_bounds[i]) {
            h->buckets[i]++;
            break;
        }
    }
}

void dm__metrics_observe(dm_metrics *m, const char *method, const char *pattern, int status,
                         uint64_t duration_ns)
{
    observe_duration(m, method, pattern, status, (double)duration_ns / 1e9);
    for (int i = 0; i < m->n_series; i++) {
        dm_metric_series *s = &m->series[i];
        if (s->status == status && same_route(s->pattern, s->method, pattern, method)) {
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

int dm__metrics_label_value(dm_buf *out, const char *v)
{
    int rc = 0;
    for (const char *p = v; rc == 0 && *p != '\0'; p++) {
        if (*p == '\\')
            rc = dm__buf_puts(out, "\\\\");
        else if (*p == '"')
            rc = dm__buf_puts(out, "\\\"");
        else if (*p == '\n')
            rc = dm__buf_puts(out, "\\n");
        else
            rc = dm__buf_append(out, p, 1);
    }
    return rc;
}

/* method="…",route="…" with both values escaped. */
static int put_route_labels(dm_buf *out, const char *method, const char *pattern)
{
    int rc = dm__buf_puts(out, "method=\"");
    if (rc == 0)
        rc = dm__metrics_label_value(out, method);
    if (rc == 0)
        rc = dm__buf_puts(out, "\",route=\"");
    if (rc == 0)
        rc = dm__metrics_label_value(out, pattern);
    if (rc == 0)
        rc = dm__buf_puts(out, "\"");
    return rc;
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

/* One histogram's _bucket lines (le including +Inf), _sum and _count. */
static int render_hist(const dm_metric_hist *h, dm_buf *out)
{
    static const char name[] = "dermaga_http_request_duration_seconds";
    const char *cls = dm__metrics_status_class(h->status_class * 100);
    uint64_t cumulative = 0;
    int rc = 0;
    for (int i = 0; rc == 0 && i <= DM_METRICS_BUCKETS; i++) {
        char le[32];
        if (i < DM_METRICS_BUCKETS) {
            cumulative += h->buckets[i];
            snprintf(le, sizeof le, "%g", bucket_bounds[i]);
        } else {
            cumulative = h->count;
            snprintf(le, sizeof le, "+Inf");
        }
        rc = dm__buf_printf(out, "%s_bucket{", name);
        if (rc == 0)
            rc = put_route_labels(out, h->method, h->pattern);
        if (rc == 0)
            rc = dm__buf_printf(out, ",status=\"%s\",le=\"%s\"} %llu\n", cls, le,
                                (unsigned long long)cumulative);
    }
    const char *suffix[2] = { "sum", "count" };
    for (int i = 0; rc == 0 && i < 2; i++) {
        rc = dm__buf_printf(out, "%s_%s{", name, suffix[i]);
        if (rc == 0)
            rc = put_route_labels(out, h->method, h->pattern);
        if (rc == 0 && i == 0)
            rc = dm__buf_printf(out, ",status=\"%s\"} %.6f\n", cls, h->sum_s);
        else if (rc == 0)
            rc = dm__buf_printf(out, ",status=\"%s\"} %llu\n", cls, (unsigned long long)h->count);
    }
    return rc;
}

static int render_requests(const dm_metrics *m, dm_buf *out)
{
    int rc = dm__buf_puts(out,
                          "# HELP dermaga_http_requests_total HTTP requests by method, route pattern and status.\n"
                          "# TYPE dermaga_http_requests_total counter\n");
    for (int i = 0; rc == 0 && i < m->n_series; i++) {
        const dm_metric_series *s = &m->series[i];
        rc = dm__buf_puts(out, "dermaga_http_requests_total{");
        if (rc == 0)
            rc = put_route_labels(out, s->method, s->pattern);
        if (rc == 0)
            rc = dm__buf_printf(out, ",status=\"%d\"} %llu\n", s->status, (unsigned long long)s->count);
    }
    if (rc == 0)
        rc = dm__buf_printf(out,
                            "# HELP dermaga_http_requests_unlabelled_total Requests past the series cap.\n"
                            "# TYPE dermaga_http_requests_unlabelled_total counter\n"
                            "dermaga_http_requests_unlabelled_total %llu\n"
                            "# HELP dermaga_http_request_durations_unlabelled_total Requests past the histogram cap.\n"
                            "# TYPE dermaga_http_request_durations_unlabelled_total counter\n"
                            "dermaga_http_request_durations_unlabelled_total %llu\n"
                            "# HELP dermaga_http_request_duration_seconds Time from first byte to response ready, "
                            "by method, route pattern and status class.\n"
                            "# TYPE dermaga_http_request_duration_seconds histogram\n",
                            (unsigned long long)m->overflow, (unsigned long long)m->hist_overflow);
    for (int i = 0; rc == 0 && i < m->n_hist; i++)
        rc = render_hist(&m->hist[i], out);
    return rc;
}

int dm__metrics_render(const dm_metrics *m, dm_buf *out)
{
    int rc = render_requests(m, out);
    if (rc == 0)
        rc = dm__buf_printf(out,
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
                            (long long)m->open_connections, (long long)m->inflight_requests,
                            (unsigned long long)m->connections_total,
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
