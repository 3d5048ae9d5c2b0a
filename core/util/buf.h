/*
 * buf.h — growable byte buffer with an explicit cap. Appends that would pass
 * the cap fail with DM_EBUSY instead of growing, so no buffer is unbounded.
 */
#ifndef DM_BUF_H
#define DM_BUF_H

#include <stddef.h>

typedef struct dm_buf {
    char  *data; /* owned; NUL-terminated when len > 0 */
    size_t len;
    size_t cap;
    size_t max;  /* 0 = DM_BUF_DEFAULT_MAX */
} dm_buf;

#define DM_BUF_DEFAULT_MAX (64u * 1024u * 1024u)

void dm__buf_init(dm_buf *b, size_t max);
void dm__buf_free(dm_buf *b);
void dm__buf_reset(dm_buf *b);
/* 0, DM_ENOMEM, or DM_EBUSY when the cap would be passed. */
int  dm__buf_append(dm_buf *b, const void *data, size_t len);
int  dm__buf_puts(dm_buf *b, const char *s);
int  dm__buf_printf(dm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand the storage to the caller (who frees it) and reset b. */
char *dm__buf_steal(dm_buf *b, size_t *len);

#endif
