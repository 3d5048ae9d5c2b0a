/*
 * log.c — JSON-lines logger. The level is an atomic so the loop and the
 * workers can read it without a lock; each line goes out in one write(2).
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dermaga/error.h>

static _Atomic int current_level = DM_LOG_INFO;

static const char *level_names[] = { "debug", "info", "warn", "error" };

void dm__log_set_level(dm_log_level_t level) { atomic_store(&current_level, (int)level); }
dm_log_level_t dm__log_get_level(void) { return (dm_log_level_t)atomic_load(&current_level); }

int dm__log_parse_level(const char *s, dm_log_level_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (s != NULL && strcmp(s, level_names[i]) == 0) {
            *out = (dm_log_level_t)i;
            return 0;
        }
    }
    return DM_EINVAL;
}

static void now_rfc3339(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void write_line(json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s == NULL)
        return;
    size_t n = strlen(s);
    char *line = s;
    /* json_dumps never emits a newline in compact mode; add one and write once. */
    char stackbuf[4096];
    if (n + 1 <= sizeof stackbuf) {
        memcpy(stackbuf, s, n);
        stackbuf[n] = '\n';
        line = stackbuf;
        n += 1;
        ssize_t w = write(STDERR_FILENO, line, n);
        (void)w;
    } else {
        ssize_t w = write(STDERR_FILENO, s, n);
        w = write(STDERR_FILENO, "\n", 1);
        (void)w;
    }
    free(s);
}

void dm__log_json(dm_log_level_t level, json_t *obj)
{
    if (obj == NULL)
        return;
    if ((int)level < atomic_load(&current_level)) {
        json_decref(obj);
        return;
    }
    char ts[40];
    now_rfc3339(ts, sizeof ts);
    json_t *line = json_object();
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(level_names[level]));
    json_object_update(line, obj);
    json_decref(obj);
    write_line(line);
    json_decref(line);
}

void dm__log(dm_log_level_t level, const char *src, const char *fmt, ...)
{
    if ((int)level < atomic_load(&current_level))
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *obj = json_object();
    json_object_set_new(obj, "src", json_string(src != NULL ? src : "core"));
    /* json_string rejects invalid UTF-8; fall back to a lossy copy. */
    json_t *m = json_string(msg);
    if (m == NULL)
        m = json_string("(message was not valid UTF-8)");
    json_object_set_new(obj, "msg", m);
    dm__log_json(level, obj);
}
