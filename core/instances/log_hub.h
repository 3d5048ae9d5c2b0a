/*
 * log_hub.h — live logs fanned out: one runtime follow per instance,
 * shared by every subscriber of that instance (Server-Sent Event streams,
 * Socket.IO sockets), started with the first and stopped after the last
 * leaves; a bounded buffer of each instance's recent lines, from which a
 * late subscriber gets its tail and a reconnecting one resumes; and
 * back-pressure per subscriber, so that a slow consumer costs a bounded
 * amount of memory and gets one "lines dropped: N" notice instead.
 *
 * Threads: the hub lives on the loop thread; each follow runs the runtime
 * plugin's logs op (follow = true, through plugin/call.h) on a thread of
 * its own, which cleans and encodes every line once (log_line.h) and hands
 * it to the loop through one uv_async; the loop numbers the lines, keeps
 * them in the instance's buffer and offers them to the subscribers.
 * docs/logs.md has the rules; log_hub.c the loop side, log_follow.c the
 * follow threads.
 */
#ifndef DM_LOG_HUB_H
#define DM_LOG_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include <dermaga/error.h>

#include "plugin/registry.h"
#include "util/buf.h"
#include "util/rbuf.h"

typedef struct dm_log_hub dm_log_hub; /* one per process; lives in dm_app */
typedef struct dm_log_sub dm_log_sub; /* one subscriber */

/* One published line, immutable, shared: id increases per instance (1, 2,
 * …, never reused while the process runs); json is the event object
 * {"instanceId","line","stream","timestamp"} as text. A "lines dropped: N"
 * notice is a line with id 0 whose json has line "lines dropped: N". */
typedef struct dm_log_line {
    uint64_t id;
    dm_rbuf *json;
    /* A transport's own encodings of the event (loop thread): made by the
     * first subscriber that sends the line, kept with the line and
     * released with it, so every subscriber of that transport shares one
     * copy however far apart their cursors are. logs_socket_routes.c
     * keeps the Socket.IO packet and its WebSocket frame here. */
    dm_rbuf *forms[2];
} dm_log_line;

typedef struct dm_log_sink {
    void *ctx;
    /* Loop thread: lines for this subscriber, oldest first (the array and
     * lines are valid during the call; take dm__rbuf_ref to keep bytes).
     * Returns how many it took: fewer than n means its buffer is full — the
     * hub counts the rest as dropped and offers nothing more until
     * dm__log_hub_drained(), then first a "lines dropped: N" line, then
     * from the newest lines. */
    size_t (*lines)(void *ctx, dm_log_line *const *lines, size_t n);
    /* Loop thread: the follow is over for this subscriber: event
     * "logs-error" with json {"message":…} (then "logs-ended" follows) or
     * "logs-ended" with {"instanceId":…}. json borrowed. After logs-ended
     * the sink is not called again; the subscriber must still unsubscribe. */
    void (*notice)(void *ctx, const char *event, const char *json);
} dm_log_sink;

/* Sink calls never happen inside dm__log_hub_subscribe, _unsubscribe or
 * _drained: they come from the hub's own loop callbacks, so a sink may
 * call any hub function (unsubscribe included) from inside a sink call. */

/* What the hub is built with (config keys instances.log*). */
typedef struct dm_log_hub_cfg {
    uint32_t buffer_lines; /* instances.logBufferLines: lines kept per instance */
    size_t   buffer_bytes; /* instances.logBufferBytes: bytes of events kept per instance */
    size_t   line_max;     /* instances.logLineMaxBytes: longest line text (log_line.h) */
    int      linger_ms;    /* instances.logFollowLingerMs: how long a follow outlives its
                            * last subscriber (a reconnect within it resumes) */
} dm_log_hub_cfg;

/* A hub on loop (cfg copied). Main thread, before the loop runs. New, or
 * NULL with err: DM_EINVAL for a value out of range, DM_ENOMEM. */
dm_log_hub *dm__log_hub_new(uv_loop_t *loop, const dm_log_hub_cfg *cfg, dm_err_t *err);

/*
 * Loop thread. Subscribe sink (copied; ctx borrowed until unsubscribe) to
 * instance_id's log (borrowed; a UUID) through runtime plugin rt (NULL
 * when none is loaded; borrowed, plugins outlive the hub's follows) —
 * has_workload false (PENDING, TERMINATED) makes it say there is nothing
 * to read (logs-error then logs-ended). First the recent lines: the last
 * `tail` of them, or, when after_id > 0 and the buffer still holds every
 * line after after_id, every line after after_id; then live lines. NULL
 * when out of memory.
 */
dm_log_sub *dm__log_hub_subscribe(dm_log_hub *h, const dm_plugin *rt, const char *instance_id, bool has_workload,
                                  uint32_t tail, uint64_t after_id, const dm_log_sink *sink);

/* Loop thread. No sink call after it returns. The instance's follow stops
 * when its last subscriber leaves (after instances.logFollowLingerMs). s
 * is freed; NULL-safe. */
void dm__log_hub_unsubscribe(dm_log_sub *s);

/* Loop thread. The subscriber has room again (see lines()). */
void dm__log_hub_drained(dm_log_sub *s);

/* What the hub holds now (loop thread, or any thread once the loop has
 * stopped). */
typedef struct dm_log_hub_stats {
    int      follows;        /* follow threads running */
    int      subscribers;    /* subscribed, not yet unsubscribed */
    size_t   buffered_bytes; /* bytes of events in the instances' buffers */
    uint64_t lines;          /* lines published since start */
    uint64_t dropped;        /* lines subscribers missed for want of room */
} dm_log_hub_stats;
void dm__log_hub_stats(const dm_log_hub *h, dm_log_hub_stats *out);

/* The stats above in Prometheus text (dermaga_log_follows,
 * dermaga_log_subscribers, dermaga_log_buffered_bytes,
 * dermaga_log_lines_total, dermaga_log_lines_dropped_total): a metrics
 * source (ops/metrics.h) whose ctx is the hub; loop thread. */
int dm__log_hub_render_metrics(void *hub, dm_buf *out);

/*
 * At shutdown, after the loop has stopped (main thread): stop every follow
 * and wait up to timeout_ms for their threads to leave the runtime plugin
 * (a plugin polls its sink at least once a second). 0 when none is left
 * (plugins may be unloaded), DM_ETIMEDOUT otherwise (main must not unload
 * them). No follow starts after it.
 */
int dm__log_hub_stop(dm_log_hub *h, int timeout_ms);

/*
 * Free the hub, everything it buffers and any subscriber still subscribed
 * (their owners must not use them afterwards). Main thread, after
 * dm__log_hub_stop returned 0, before the loop is closed: the hub closes
 * its handles and its last memory goes when the loop runs their close
 * callbacks. NULL-safe.
 */
void dm__log_hub_free(dm_log_hub *h);

#endif
