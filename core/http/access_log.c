/*
 * access_log.c — the request log. Every value written is either ours (route
 * pattern, method name, numbers) or validated (request id; the client's
 * address, which dm__req_client_ip gives as inet_ntop text), so the line is
 * built with snprintf and needs no JSON escaping. The request's target is
 * never written, only its route pattern: a path names ids and a query may
 * carry a secret (a live log's ?ticket=, docs/logs.md), and neither belongs
 * in a log.
 */
#include "http/access_log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

static dm_buf pending;
static uv_check_t flusher;
static bool started;

static void flush_now(void)
{
    size_t off = 0;
    while (off < pending.len) {
        ssize_t w = write(STDERR_FILENO, pending.data + off, pending.len - off);
        if (w <= 0)
            break; /* stderr gone: drop the batch rather than block the loop */
        off += (size_t)w;
    }
    dm__buf_reset(&pending);
}

static void on_check(uv_check_t *h)
{
    (void)h;
    if (pending.len > 0)
        flush_now();
}

int dm__access_log_start(uv_loop_t *loop)
{
    dm__buf_init(&pending, 4u * 1024u * 1024u);
    int rc = uv_check_init(loop, &flusher);
    if (rc == 0)
        rc = uv_check_start(&flusher, on_check);
    if (rc == 0) {
        uv_unref((uv_handle_t *)&flusher);
        started = true;
    }
    return rc;
}

void dm__access_log_stop(void)
{
    if (!started)
        return;
    flush_now();
    uv_check_stop(&flusher);
    uv_close((uv_handle_t *)&flusher, NULL);
    dm__buf_free(&pending);
    started = false;
}

void dm__access_log(dm_server *s, const dm_request *r, uint64_t duration_ns)
{
    (void)s;
    if (dm__log_get_level() > DM_LOG_INFO)
        return;
    char ts[40];
    dm__clock_rfc3339(dm__clock_wall_ms(), ts, sizeof ts);
    char line[512];
    int n = snprintf(line, sizeof line,
                     "{\"ts\":\"%s\",\"level\":\"info\",\"src\":\"http\",\"method\":\"%s\","
                     "\"path\":\"%s\",\"status\":%d,\"durationMs\":%.3f,\"requestId\":\"%s\",\"client\":\"%s\"}\n",
                     ts, r->method, r->pattern, r->res.status, (double)duration_ns / 1e6,
                     r->request_id, dm__req_client_ip(r));
    if (n <= 0 || (size_t)n >= sizeof line)
        return;
    if (!started) {
        ssize_t w = write(STDERR_FILENO, line, (size_t)n);
        (void)w;
        return;
    }
    if (dm__buf_append(&pending, line, (size_t)n) != 0) {
        flush_now();
        dm__buf_append(&pending, line, (size_t)n);
    }
}
