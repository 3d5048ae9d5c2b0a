/*
 * log_tail.c — reading a workload's recent log through the runtime's
 * logs op (plugin/call.h) into a bounded sink (observe.h): at most
 * `tail` lines and a byte cap, every line shown by the line rules of
 * log_line.h (the live log's too) so that a workload printing binary or
 * colours can never break the JSON answer.
 */
#include "instances/observe.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "instances/log_line.h"
#include "plugin/call.h"
#include "util/clock.h"

/* How long a non-following read may take before the sink asks the runtime
 * to stop (runtimes only poll cancelled() while following, but a runtime
 * that does poll gets a bound). */
#define READ_DEADLINE_MS 30000

/* What the sink keeps while the runtime reads. The newest lines are what
 * a reader of a tail wants, so the caps drop the oldest: at most `tail`
 * lines and `cap` bytes of text are held at any time. Reading stops once
 * READ_FACTOR × cap bytes went by, which bounds the work for a runtime
 * that sends more than the tail it was asked for. */
#define READ_FACTOR 4

typedef struct collect {
    json_t  *lines;    /* owned array, oldest first */
    char    *text;     /* line_max + 1 bytes: one line's shown text */
    size_t   line_max; /* instances.logLineMaxBytes */
    uint32_t tail;     /* keep at most this many (the newest) */
    size_t   kept;     /* bytes of line text in lines */
    size_t   cap;      /* most bytes of line text to keep */
    size_t   seen;     /* bytes the runtime sent */
    bool     full;     /* READ_FACTOR × cap seen: stop */
    bool     oom;
    uint64_t deadline_ns;
} collect;

/* Drop the oldest line. */
static void drop_oldest(collect *c)
{
    const char *old = json_string_value(json_object_get(json_array_get(c->lines, 0), "line"));
    c->kept -= old != NULL ? strlen(old) : 0;
    json_array_remove(c->lines, 0);
}

json_t *dm__instance_log_line(const char *text, size_t n, uint32_t stream, int64_t ts_ms)
{
    char ts[40];
    if (ts_ms > 0)
        dm__clock_rfc3339(ts_ms, ts, sizeof ts);
    return json_pack("{s:o, s:s, s:s%}", "timestamp", ts_ms > 0 ? json_string(ts) : json_null(), "stream",
                     stream == DM_RUNTIME_STDERR ? "stderr" : "stdout", "line", text, n);
}

static int on_line(void *opaque, const char *line, size_t len, uint32_t stream, int64_t ts_ms)
{
    collect *c = opaque;
    if (c->full || c->oom)
        return 1;
    size_t n = dm__log_line_clean(line, len, c->line_max, c->text);
    json_t *item = dm__instance_log_line(c->text, n, stream, ts_ms);
    if (item == NULL || json_array_append_new(c->lines, item) != 0) {
        c->oom = true;
        return 1;
    }
    c->kept += n;
    while (json_array_size(c->lines) > c->tail || c->kept > c->cap)
        drop_oldest(c);
    c->seen += len;
    c->full = c->seen / READ_FACTOR >= c->cap;
    return c->full ? 1 : 0;
}

static bool on_cancelled(void *opaque)
{
    const collect *c = opaque;
    return c->full || c->oom || dm__clock_mono_ns() > c->deadline_ns;
}

int dm__instance_logs_read(const dm_plugin *p, const char *instance_id, uint32_t tail, size_t line_max,
                           size_t max_bytes, json_t **out, dm_err_t *err)
{
    *out = NULL;
    if (tail < 1 || tail > DM_OBSERVE_TAIL_MAX)
        return dm_err_set(err, DM_EINVAL, "tail %u out of range", tail);
    if (line_max < DM_LOG_LINE_MIN_BYTES)
        line_max = DM_LOG_LINE_MIN_BYTES;
    if (line_max > max_bytes) /* one line always fits the answer */
        line_max = max_bytes;
    collect c = { .lines = json_array(), .tail = tail, .cap = max_bytes, .line_max = line_max,
                  .text = malloc(line_max + 1),
                  .deadline_ns = dm__clock_mono_ns() + (uint64_t)READ_DEADLINE_MS * 1000000u };
    if (c.lines == NULL || c.text == NULL) {
        json_decref(c.lines);
        free(c.text);
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    }
    dm_runtime_log_opts_t opts = { .tail_lines = tail, .follow = false };
    dm_runtime_log_sink_t sink = { .opaque = &c, .line = on_line, .cancelled = on_cancelled };
    int rc = dm__runtime_logs(p, instance_id, &opts, &sink, err);
    free(c.text);
    if (rc == 0 && c.oom)
        rc = dm_err_set(err, DM_ENOMEM, "out of memory");
    if (rc != 0) {
        json_decref(c.lines);
        return rc;
    }
    *out = c.lines;
    return 0;
}
