/*
 * observe.h — the read-only views of a running instance (docs/openapi.yaml,
 * Subscriptions, Instances and Admin), without HTTP: which instance a
 * caller may look at, its resource use against the plan (metrics), recent
 * log lines, the health history, and the runtime's inventory for
 * administrators (observe.c, log_tail.c; the live log is log_hub.h).
 * Nothing here changes state; every view asks the runtime plugin through
 * plugin/call.h, bounded by plugins.runtimeTimeoutMs, and bounds what it
 * keeps.
 * observe_routes.c is the HTTP side.
 */
#ifndef DM_INSTANCE_OBSERVE_H
#define DM_INSTANCE_OBSERVE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <dermaga/error.h>
#include <dermaga/runtime.h>

#include "db/pg.h"
#include "plugin/registry.h"

/* ?tail= of the logs routes: default and largest value. */
#define DM_OBSERVE_TAIL_DEFAULT 100
#define DM_OBSERVE_TAIL_MAX     1000
/* Bytes of line text one logs answer may hold (1 MiB). */
#define DM_OBSERVE_LOG_BYTES    ((size_t)1 << 20)

/* ---- which instance (observe.c) ----------------------------------------- */

/* What a view knows about its instance. */
typedef struct dm_observed {
    char      id[37];
    char      status[16];
    long long cpu_limit; /* the plan's, millicores */
    long long mem_limit; /* the plan's, MB */
    json_t   *urls;      /* owned: {"public","admin"}, each a string or null */
    char      runtime[65]; /* the runtime plugin it records; "" before its first provision */
} dm_observed;

/* The instance id names (a subscription's when by_sub) if user_id may see
 * it (NULL: an administrator, who sees any). 0 and *o (release with
 * dm__observed_clear); DM_ENOTFOUND with a message fit for the client
 * (unknown, malformed, another user's, or a subscription without an
 * instance); the database codes. */
int dm__observe_find(dm_db *db, const char *id, bool by_sub, const char *user_id, dm_observed *o, dm_err_t *err);
void dm__observed_clear(dm_observed *o);

/* PENDING has no workload yet and TERMINATED none any more: nothing to
 * ask. Any other status may have a container with a log, even ERROR. */
bool dm__observe_has_workload(const char *status);

/* The runtime plugin that runs o (dm__instance_runtime: the one it
 * records), borrowed from set. 0; DM_EUNSUPPORTED with "runtime X is not
 * enabled" (or "no runtime plugin enabled"), *rt NULL: no other runtime is
 * asked in its place. */
int dm__observe_runtime(const dm_plugin_set *set, const dm_observed *o, const dm_plugin **rt, dm_err_t *err);

/* ---- the views (observe.c) ----------------------------------------------- */

/* {instanceId, status, cpu:{used, limit, percentage}, memory:{…}, urls,
 * timestamp} of o (CPU in millicores, memory in MiB with two decimals;
 * o->urls is taken).
 * Only a RUNNING instance's runtime is asked; a workload that is gone or
 * not running uses nothing. 0 and *out (new); the runtime's codes
 * (DM_EUNSUPPORTED: no runtime plugin or no usage op; DM_ETIMEDOUT,
 * DM_EUNAVAIL, DM_EIO …); DM_ENOMEM. */
int dm__observe_metrics(const dm_plugin_set *set, dm_observed *o, json_t **out, dm_err_t *err);

/* bytes as MiB rounded to two decimals (1433600 → 1.37): the unit of
 * memory.used, so a small workload does not read 0. */
double dm__observe_mib(uint64_t bytes);

/* {instanceId, lines} with the last tail lines of o's workload
 * (dm__instance_logs_read, lines of at most line_max bytes); none without
 * a workload, or when the runtime has none. 0 and *out (new); DM_EUNSUPPORTED (no runtime plugin, or no
 * logs op); the runtime's codes; DM_ENOMEM. */
int dm__observe_logs(const dm_plugin_set *set, const dm_observed *o, uint32_t tail, size_t line_max, json_t **out,
                     dm_err_t *err);

/* One page (1-based) of instance_id's health checks, newest first:
 * *items a new array of {status, message, checkedAt}, *total all of them.
 * 0, DM_EIO / DM_EUNAVAIL. */
int dm__observe_health(dm_db *db, const char *instance_id, long page, long limit, json_t **items, long *total,
                       dm_err_t *err);

/* A runtime plugin's inventory of `what` (in namespace ns, may be NULL; an
 * administrator's view of the backend, not of an instance): *out a new
 * array. The plugin is the one named `runtime`, else default_rt
 * (instances.defaultRuntime), else the first loaded (dm__instance_runtime);
 * its name goes to rt_name. DM_ENOTFOUND, with a message fit for the
 * caller, when that runtime is not enabled or has none of that kind (no
 * inventory op, or a kind it does not know); DM_ENOMEM; the runtime's
 * codes. */
int dm__observe_inventory(const dm_plugin_set *set, const char *runtime, const char *default_rt, const char *what,
                          const char *ns, json_t **out, char *rt_name, size_t rt_len, dm_err_t *err);

/* One page of an inventory array `all` (not consumed): the items kept by
 * the managed filter (managed < 0: all; else those whose boolean "managed"
 * equals it; an item without one counts as not managed), page `page` of
 * `limit` into *items (a new array), the kept count into *total. */
int dm__observe_inventory_page(const json_t *all, int managed, long page, long limit, json_t **items, long *total,
                               dm_err_t *err);

/* ---- the recent log (log_tail.c) ---------------------------------------- */

/*
 * Read the last `tail` lines (1..DM_OBSERVE_TAIL_MAX) of instance_id's
 * workload through the runtime p's logs op (follow false; bounded by
 * plugins.runtimeTimeoutMs) into *out: a new array of
 * {"timestamp": RFC 3339 UTC or null, "stream": "stdout"|"stderr",
 * "line": text}, oldest first. Every line follows the line rules of
 * log_line.h with line_max (instances.logLineMaxBytes, at least
 * DM_LOG_LINE_MIN_BYTES). At most max_bytes of line text are kept in
 * all: the oldest lines are dropped to make room for newer ones, and
 * reading stops after 4 × max_bytes (a runtime that ignores the tail). p
 * is borrowed (may be NULL).
 * 0; DM_EUNSUPPORTED (no runtime, or no logs op); DM_ENOTFOUND (the
 * runtime has no workload for the instance); the runtime's own codes
 * (DM_EUNAVAIL, DM_EIO, DM_ETIMEDOUT …); DM_ENOMEM. *out is NULL on
 * failure. (log_tail.c)
 */
int dm__instance_logs_read(const dm_plugin *p, const char *instance_id, uint32_t tail, size_t line_max,
                           size_t max_bytes, json_t **out, dm_err_t *err);

/* One log line as the API shows it, {timestamp (RFC 3339 or null), stream
 * ("stdout"|"stderr"), line}: text is n bytes of valid UTF-8 (borrowed).
 * New object, or NULL when out of memory. */
json_t *dm__instance_log_line(const char *text, size_t n, uint32_t stream, int64_t ts_ms);

#endif
