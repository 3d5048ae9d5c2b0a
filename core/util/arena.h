/*
 * arena.h — per-request bump allocator. Everything a request allocates comes
 * from its arena and is released at once by dm__arena_free(); nothing in an
 * arena is freed individually.
 */
#ifndef DM_ARENA_H
#define DM_ARENA_H

#include <stddef.h>

typedef struct dm_arena_chunk dm_arena_chunk;

typedef struct dm_arena {
    dm_arena_chunk *head;
    size_t          total; /* bytes handed out, for limits and tests */
} dm_arena;

void  dm__arena_init(dm_arena *a);
/* Release every chunk; the arena may be reused after this. */
void  dm__arena_free(dm_arena *a);
/* Zeroed memory, aligned for any type; NULL only when malloc fails. */
void *dm__arena_alloc(dm_arena *a, size_t size);
/* Copy of s[0..n) plus NUL, owned by the arena. */
char *dm__arena_strndup(dm_arena *a, const char *s, size_t n);
char *dm__arena_strdup(dm_arena *a, const char *s);
/* printf into arena memory. */
char *dm__arena_printf(dm_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
