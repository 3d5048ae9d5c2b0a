/*
 * rbuf.c — shared immutable buffers (rbuf.h).
 */
#include "util/rbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

dm_rbuf *dm__rbuf_alloc(size_t len)
{
    if (len > SIZE_MAX - sizeof(dm_rbuf) - 1)
        return NULL;
    dm_rbuf *b = malloc(sizeof *b + len + 1);
    if (b == NULL)
        return NULL;
    atomic_init(&b->refs, 1);
    b->len = len;
    b->data[len] = '\0';
    return b;
}

dm_rbuf *dm__rbuf_new(const void *data, size_t len)
{
    dm_rbuf *b = dm__rbuf_alloc(len);
    if (b != NULL && len > 0)
        memcpy(b->data, data, len);
    return b;
}

dm_rbuf *dm__rbuf_ref(dm_rbuf *b)
{
    if (b != NULL)
        atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void dm__rbuf_unref(dm_rbuf *b)
{
    if (b != NULL && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        free(b);
}
