/*
 * process_metrics.c — process_* families with the semantics of the official
 * Prometheus clients' process collector, from /proc/self/stat, /proc/stat
 * (boot time) and /proc/self/fd; plus dermaga_build_info.
 */
#include "ops/process_metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <dermaga/error.h>

#include "ops/metrics.h"
#include "util/build_info.h"

int dm__process_stat_parse(const char *stat, double btime_s, long ticks, long page, dm_process_stat *out)
{
    /* The command name (field 2) is in parentheses and may hold spaces
     * or ')': the fields that follow start after the last ')'. */
    const char *p = strrchr(stat, ')');
    if (p == NULL || ticks <= 0 || page <= 0)
        return DM_EINVAL;
    p++;
    /* Field 3 (state) is token 0: utime is field 14, stime 15, starttime
     * 22, vsize 23, rss 24. */
    double tok[22];
    int n = 0;
    while (n < 22) {
        while (*p == ' ')
            p++;
        if (*p == '\0' || *p == '\n')
            break;
        char *end = NULL;
        tok[n] = n == 0 ? 0 : strtod(p, &end);
        if (n > 0 && end == p)
            return DM_EINVAL;
        n++;
        while (*p != ' ' && *p != '\0' && *p != '\n')
            p++;
    }
    if (n < 22)
        return DM_EINVAL;
    out->cpu_seconds = (tok[11] + tok[12]) / (double)ticks;
    out->start_time_s = btime_s + tok[19] / (double)ticks;
    out->virtual_bytes = tok[20];
    out->resident_bytes = tok[21] * (double)page;
    return 0;
}

/* Up to cap-1 bytes of path into buf; bytes read, or -1. */
static long read_small(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (long)n;
}

/* The btime line of /proc/stat. Read line by line: the intr line before
 * it runs to many kilobytes on a large machine. */
static int boot_time(double *out)
{
    FILE *f = fopen("/proc/stat", "re");
    if (f == NULL)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    int rc = -1;
    while (rc != 0 && getline(&line, &cap, f) > 0) {
        if (strncmp(line, "btime ", 6) == 0) {
            *out = strtod(line + 6, NULL);
            rc = 0;
        }
    }
    free(line);
    fclose(f);
    return rc;
}

/* Descriptors open now, not counting the one that reads the folder. */
static long open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    long n = 0;
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strtol(e->d_name, NULL, 10) == self)
            continue;
        n++;
    }
    closedir(d);
    return n;
}

static int render_stat(dm_buf *out)
{
    char buf[2048];
    double btime = 0;
    dm_process_stat st;
    if (read_small("/proc/self/stat", buf, sizeof buf) < 0 || boot_time(&btime) != 0
        || dm__process_stat_parse(buf, btime, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), &st) != 0)
        return 0;
    return dm__buf_printf(out,
                          "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
                          "# TYPE process_cpu_seconds_total counter\n"
                          "process_cpu_seconds_total %.2f\n"
                          "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                          "# TYPE process_resident_memory_bytes gauge\n"
                          "process_resident_memory_bytes %.0f\n"
                          "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
                          "# TYPE process_virtual_memory_bytes gauge\n"
                          "process_virtual_memory_bytes %.0f\n"
                          "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
                          "# TYPE process_start_time_seconds gauge\n"
                          "process_start_time_seconds %.2f\n",
                          st.cpu_seconds, st.resident_bytes, st.virtual_bytes, st.start_time_s);
}

static int render_fds(dm_buf *out)
{
    long n = open_fds();
    int rc = 0;
    if (n >= 0)
        rc = dm__buf_printf(out,
                            "# HELP process_open_fds Number of open file descriptors.\n"
                            "# TYPE process_open_fds gauge\n"
                            "process_open_fds %ld\n",
                            n);
    struct rlimit rl;
    if (rc == 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        rc = dm__buf_printf(out,
                            "# HELP process_max_fds Maximum number of open file descriptors.\n"
                            "# TYPE process_max_fds gauge\n"
                            "process_max_fds %llu\n",
                            (unsigned long long)rl.rlim_cur);
    return rc;
}

static int render_build_info(dm_buf *out)
{
    int rc = dm__buf_puts(out,
                          "# HELP dermaga_build_info The version and commit this binary was built from.\n"
                          "# TYPE dermaga_build_info gauge\n"
                          "dermaga_build_info{version=\"");
    if (rc == 0)
        rc = dm__metrics_label_value(out, DM_VERSION);
    if (rc == 0)
        rc = dm__buf_puts(out, "\",commit=\"");
    if (rc == 0)
        rc = dm__metrics_label_value(out, dm__build_commit());
    if (rc == 0)
        rc = dm__buf_puts(out, "\"} 1\n");
    return rc;
}

int dm__process_metrics_render(dm_buf *out)
{
    int rc = render_stat(out);
    if (rc == 0)
        rc = render_fds(out);
    if (rc == 0)
        rc = render_build_info(out);
    return rc;
}
