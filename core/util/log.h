/*
 * log.h — structured logging to stderr, one line per event.
 * Thread-safe: each line is formatted into a local buffer and written with
 * one write(2), so lines from the loop and worker threads never interleave.
 */
#ifndef DM_LOG_H
#define DM_LOG_H

#include <jansson.h>

typedef enum { DM_LOG_DEBUG = 0, DM_LOG_INFO, DM_LOG_WARN, DM_LOG_ERROR } dm_log_level_t;

/* Set the minimum level that is written; default INFO. */
void dm__log_set_level(dm_log_level_t level);
dm_log_level_t dm__log_get_level(void);

/* Parse "debug" | "info" | "warn" | "error"; returns 0 or DM_EINVAL. */
int dm__log_parse_level(const char *s, dm_log_level_t *out);

/* Log a plain message: {"ts":…,"level":…,"src":src,"msg":…}. */
void dm__log(dm_log_level_t level, const char *src, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Log a JSON object as one line, adding ts and level. Steals obj. */
void dm__log_json(dm_log_level_t level, json_t *obj);

#define DM_LOG_D(...) dm__log(DM_LOG_DEBUG, "core", __VA_ARGS__)
#define DM_LOG_I(...) dm__log(DM_LOG_INFO, "core", __VA_ARGS__)
#define DM_LOG_W(...) dm__log(DM_LOG_WARN, "core", __VA_ARGS__)
#define DM_LOG_E(...) dm__log(DM_LOG_ERROR, "core", __VA_ARGS__)

#endif
