/*
 * observe.h — the read-only views of a running instance (API.md,
 * Subscriptions, Instances and Admin): resource use against the plan
 * (metrics), recent log lines, the health history, and the runtime's
 * inventory for administrators. Nothing here changes state; every view
 * asks the runtime plugin directly and bounds what it keeps.
 */
#ifndef DM_INSTANCE_OBSERVE_H
#define DM_INSTANCE_OBSERVE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <dermaga/error.h>
#include <dermaga/runtime.h>

/* ?tail= of the logs routes: default and largest value. */
#define DM_OBSERVE_TAIL_DEFAULT 100
#define DM_OBSERVE_TAIL_MAX     1000
/* Bytes of line text one logs answer may hold (1 MiB). */
#define DM_OBSERVE_LOG_BYTES    ((size_t)1 << 20)

/*
 * Read the last `tail` lines (1..DM_OBSERVE_TAIL_MAX) of instance_id's
 * workload through ops->logs (follow false) into *out: a new array of
 * {"timestamp": RFC 3339 UTC or null, "stream": "stdout"|"stderr",
 * "line": text}, oldest first. At most max_bytes of line text are kept in
 * all: the oldest lines are dropped to make room for newer ones, a single
 * longer line keeps its first max_bytes, and reading stops after 4 ×
 * max_bytes (a runtime that ignores the tail). Every line is made valid
 * UTF-8 (a malformed sequence or a NUL byte becomes U+FFFD). ops and
 * state are borrowed (ops may be NULL).
 * 0; DM_EUNSUPPORTED (no runtime, or no logs op); DM_ENOTFOUND (the
 * runtime has no workload for the instance); the runtime's own codes
 * (DM_EUNAVAIL, DM_EIO, …); DM_ENOMEM. *out is NULL on failure.
 * (log_tail.c)
 */
int dm__instance_logs_read(const dm_runtime_ops_t *ops, void *state, const char *instance_id, uint32_t tail,
                           size_t max_bytes, json_t **out, dm_err_t *err);

/*
 * A copy of s[0..len) that is valid UTF-8: each byte that does not start a
 * well-formed sequence (stray continuation, overlong form, surrogate,
 * beyond U+10FFFF, cut short) and each NUL becomes U+FFFD. New string
 * (caller frees) with its length in *out_len (may be NULL); NULL when out
 * of memory. s is borrowed. (log_tail.c)
 */
char *dm__instance_logs_utf8(const char *s, size_t len, size_t *out_len);

/* One log line as the API shows it, {timestamp (RFC 3339 or null), stream
 * ("stdout"|"stderr"), line}: text is n bytes of valid UTF-8 (borrowed).
 * New object, or NULL when out of memory. */
json_t *dm__instance_log_line(const char *text, size_t n, uint32_t stream, int64_t ts_ms);

/*
 * Where a live log's events go — a Server-Sent Event stream today — kept
 * apart from any transport: send one event ("event: <event>" when event is
 * not NULL, then data, one line of JSON) and say whether the consumer has
 * gone. send returns 0, or non-zero when the stream is over. Borrowed for
 * the follow; called on the follow's thread.
 */
typedef struct dm_event_out {
    void *ctx;
    int  (*send)(void *ctx, const char *event, const char *data);
    bool (*cancelled)(void *ctx);
} dm_event_out;

/*
 * The live log of an instance (log_follow.c). A follow of instance_id's
 * log from `tail` lines back through ops (borrowed; NULL when no runtime
 * plugin is loaded); has_workload false (PENDING, TERMINATED) makes the
 * follow say there is nothing to read. New, or NULL when out of memory;
 * freed by dm__instance_follow_free.
 */
typedef struct dm_instance_follow dm_instance_follow;
dm_instance_follow *dm__instance_follow_new(const dm_runtime_ops_t *ops, void *state, bool has_workload,
                                            const char *instance_id, uint32_t tail);
void dm__instance_follow_free(void *follow);

/* Run the follow into out until the log ends or out is cancelled: every
 * line as a data event {instanceId, line, stream, timestamp} (the fields of
 * the Socket.IO `log` event), then `logs-error` {message} when it failed
 * and `logs-ended` {instanceId}. Blocks: runs on a thread of its own. */
void dm__instance_follow_run(dm_instance_follow *f, const dm_event_out *out);

#endif
