/*
 * docker_stats.c — the arithmetic of runtime-docker's usage: CPU
 * millicores from two cumulative CPU samples and memory in use from one
 * stats answer of the engine. Pure functions over JSON (no I/O), so tests
 * check them on fixed answers.
 */
#include "docker.h"

static int64_t num(const json_t *obj, const char *a, const char *b)
{
    const json_t *v = json_object_get(obj, a);
    if (b != NULL)
        v = json_object_get(v, b);
    return json_is_integer(v) ? (int64_t)json_integer_value(v)
         : json_is_real(v)    ? (int64_t)json_real_value(v) : 0;
}

/*
 * CPU millicores between two samples `pre` and `cpu` (cpu_stats objects),
 * as `docker stats` computes its percentage:
 *   cpu_delta    = cpu.cpu_usage.total_usage - pre.cpu_usage.total_usage
 *   system_delta = cpu.system_cpu_usage      - pre.system_cpu_usage
 *   millicores   = cpu_delta / system_delta * online_cpus * 1000
 * (system_cpu_usage is the host's CPU time summed over all CPUs, so the
 * ratio is the share of the whole host; times online_cpus, cores.) With no
 * earlier sample or no time between them: 0.
 */
int64_t dk_cpu_between(const json_t *pre, const json_t *cpu)
{
    int64_t cd = num(cpu, "cpu_usage", "total_usage") - num(pre, "cpu_usage", "total_usage");
    int64_t sd = num(cpu, "system_cpu_usage", NULL) - num(pre, "system_cpu_usage", NULL);
    int64_t online = num(cpu, "online_cpus", NULL);
    if (online <= 0)
        online = (int64_t)json_array_size(json_object_get(json_object_get(cpu, "cpu_usage"),
                                                          "percpu_usage"));
    if (online <= 0)
        online = 1;
    if (cd <= 0 || sd <= 0 || num(pre, "system_cpu_usage", NULL) == 0)
        return 0;
    return (int64_t)((double)cd / (double)sd * (double)online * 1000.0 + 0.5);
}

int64_t dk_cpu_millicores(const json_t *stats)
{
    return dk_cpu_between(json_object_get(stats, "precpu_stats"), json_object_get(stats, "cpu_stats"));
}

/* memory_stats.usage minus the page cache the kernel can drop, as the
 * docker CLI does: stats.total_inactive_file (cgroup v1),
 * stats.inactive_file (v2), else stats.cache when that is all there is. */
int64_t dk_memory_bytes(const json_t *stats)
{
    const json_t *mem = json_object_get(stats, "memory_stats");
    const json_t *s = json_object_get(mem, "stats");
    int64_t usage = num(mem, "usage", NULL);
    int64_t cache = 0;
    if (json_object_get(s, "total_inactive_file") != NULL)
        cache = num(s, "total_inactive_file", NULL);
    else if (json_object_get(s, "inactive_file") != NULL)
        cache = num(s, "inactive_file", NULL);
    else
        cache = num(s, "cache", NULL);
    return usage > cache ? usage - cache : usage;
}

