/*
 * rbuf.h — an immutable byte buffer with an atomic reference count, for
 * bytes written to many connections at once (one log line's encoded event
 * fanned out to every subscriber) without a copy per connection.
 */
#ifndef DM_RBUF_H
#define DM_RBUF_H

#include <stdatomic.h>
#include <stddef.h>

typedef struct dm_rbuf {
    atomic_int refs;
    size_t     len;
    char       data[]; /* len bytes and a NUL after them */
} dm_rbuf;

/* A new buffer holding a copy of len bytes of data (a NUL is added after
 * them), with one reference (the caller's). NULL when out of memory. */
dm_rbuf *dm__rbuf_new(const void *data, size_t len);

/* A new buffer of len bytes to fill before sharing it (data[len] is NUL),
 * one reference. NULL when out of memory. */
dm_rbuf *dm__rbuf_alloc(size_t len);

/* Take one more reference (any thread); returns b. NULL-safe. */
dm_rbuf *dm__rbuf_ref(dm_rbuf *b);

/* Drop one reference; the last frees it (any thread). NULL-safe. */
void dm__rbuf_unref(dm_rbuf *b);

#endif
