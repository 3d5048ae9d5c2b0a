/*
 * dermaga/error.h — the one error vocabulary shared by the core and plugins.
 * Functions return 0 or a negative DM_E* code and, when given one, fill a
 * caller-owned dm_err_t with a human message. No global error state.
 * Part of SDK ABI v1 (see the changelog in plugin.h); codes are frozen.
 */
#ifndef DERMAGA_ERROR_H
#define DERMAGA_ERROR_H

#include <stdarg.h>
#include <stdio.h>

#define DM_OK            0
#define DM_EINVAL       -1  /* bad argument or input */
#define DM_ENOMEM       -2  /* allocation failed */
#define DM_EIO          -3  /* I/O or remote call failed */
#define DM_ENOTFOUND    -4  /* no such thing */
#define DM_EBUSY        -5  /* queue or resource full, try later */
#define DM_EUNAVAIL     -6  /* a dependency (database, gateway) is down */
#define DM_ECONFLICT    -7  /* state forbids the operation */
#define DM_ETIMEDOUT    -8  /* gave up waiting */
#define DM_EPERM        -9  /* not allowed */
#define DM_EUNSUPPORTED -10 /* the plugin or backend does not do this */
#define DM_EABI         -11 /* plugin ABI mismatch */

#define DM_ERR_MSG_MAX 256

/* Caller-owned error slot; msg is always NUL-terminated after dm_err_set. */
typedef struct dm_err {
    int  code;
    char msg[DM_ERR_MSG_MAX];
} dm_err_t;

/* Fill err (may be NULL) and return code, so callers can write
 * `return dm_err_set(err, DM_EINVAL, "port %d out of range", p);`. */
static inline int dm_err_set(dm_err_t *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static inline int dm_err_set(dm_err_t *err, int code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Reset an error slot before reuse. */
static inline void dm_err_clear(dm_err_t *err)
{
    if (err != NULL) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

#endif /* DERMAGA_ERROR_H */
