/*
 * process_metrics.h — the standard Prometheus process figures (CPU, memory,
 * file descriptors, start time) read from /proc at scrape time, and
 * dermaga_build_info. Stateless; any thread may call.
 */
#ifndef DM_PROCESS_METRICS_H
#define DM_PROCESS_METRICS_H

#include "util/buf.h"

/* What /proc/self/stat says, in Prometheus units. */
typedef struct dm_process_stat {
    double cpu_seconds;       /* user + system, all threads */
    double start_time_s;      /* seconds since the Unix epoch */
    double resident_bytes;
    double virtual_bytes;
} dm_process_stat;

/* Parse the text of /proc/self/stat (stat, borrowed) with the boot time
 * btime_s (seconds since the epoch), clock ticks per second and page size.
 * 0, or DM_EINVAL when the text is not a stat line. */
int dm__process_stat_parse(const char *stat, double btime_s, long ticks, long page, dm_process_stat *out);

/* Append process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_open_fds, process_max_fds,
 * process_start_time_seconds and dermaga_build_info. A figure /proc cannot
 * give (not Linux) is left out rather than failing the scrape. 0 or the
 * dm_buf error. */
int dm__process_metrics_render(dm_buf *out);

#endif
