/*
 * fuzz_support.h — what every fuzz harness shares: the libFuzzer entry point
 * prototype, FUZZ_CHECK, which turns a broken invariant into an abort so
 * libFuzzer (or the corpus replay under ctest) reports it as a crash, and
 * the cuts that make an input arrive in several reads.
 */
#ifndef DM_FUZZ_SUPPORT_H
#define DM_FUZZ_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property every input must keep; the message says which one broke. */
#define FUZZ_CHECK(cond, ...)                                               \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: invariant broken: %s: ", __FILE__,      \
                    __LINE__, #cond);                                       \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
            abort();                                                        \
        }                                                                   \
    } while (0)

/* FNV-1a of n bytes. */
static inline uint64_t fuzz_hash(const void *p, size_t n)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const uint8_t *)p)[i]) * 1099511628211u;
    return h;
}

#define FUZZ_MAX_CUTS 16

/* Where to split an input into separate writes, so that framing also
 * arrives cut across reads. Derived from a hash of the input, so an input
 * always replays with the same cuts; a quarter of inputs go out in one
 * write. Returns the number of cuts (sorted, unique, each in 1..size-1). */
static inline size_t fuzz_plan_cuts(const uint8_t *data, size_t size, size_t cuts[FUZZ_MAX_CUTS])
{
    uint64_t h = fuzz_hash(data, size);
    if (size < 2 || (h & 3u) == 0)
        return 0;
    size_t want = 1 + (size_t)((h >> 2) % FUZZ_MAX_CUTS), n = 0;
    uint64_t x = h | 1u;
    for (size_t i = 0; i < want; i++) {
        x ^= x << 13; /* xorshift64 */
        x ^= x >> 7;
        x ^= x << 17;
        size_t c = 1 + (size_t)(x % (size - 1)), j = n;
        while (j > 0 && cuts[j - 1] > c) /* insertion sort, dropping repeats */
            j--;
        if (j > 0 && cuts[j - 1] == c)
            continue;
        memmove(&cuts[j + 1], &cuts[j], (n - j) * sizeof cuts[0]);
        cuts[j] = c;
        n++;
    }
    return n;
}

#endif
