/*
 * arena.c — chunked bump allocator for request lifetimes.
 */
#include "arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK 4096

struct dm_arena_chunk {
    dm_arena_chunk *next;
    size_t          used;
    size_t          cap;
    _Alignas(16) unsigned char data[];
};

void dm__arena_init(dm_arena *a)
{
    a->head = NULL;
    a->total = 0;
}

void dm__arena_free(dm_arena *a)
{
    dm_arena_chunk *c = a->head;
    while (c != NULL) {
        dm_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->total = 0;
}

void *dm__arena_alloc(dm_arena *a, size_t size)
{
    size_t need = (size + 15u) & ~(size_t)15u;
    if (need < size)
        return NULL;
    dm_arena_chunk *c = a->head;
    if (c == NULL || c->cap - c->used < need) {
        size_t cap = need > ARENA_CHUNK ? need : ARENA_CHUNK;
        c = malloc(sizeof *c + cap);
        if (c == NULL)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += need;
    a->total += need;
    memset(p, 0, size);
    return p;
}

char *dm__arena_strndup(dm_arena *a, const char *s, size_t n)
{
    char *p = dm__arena_alloc(a, n + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *dm__arena_strdup(dm_arena *a, const char *s)
{
    return dm__arena_strndup(a, s, strlen(s));
}

char *dm__arena_printf(dm_arena *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return NULL;
    }
    char *p = dm__arena_alloc(a, (size_t)n + 1);
    if (p != NULL)
        vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}
