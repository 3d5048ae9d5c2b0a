/*
 * fuzz_support.h — what every fuzz harness shares: the libFuzzer entry point
 * prototype and FUZZ_CHECK, which turns a broken invariant into an abort so
 * libFuzzer (or the corpus replay under ctest) reports it as a crash.
 */
#ifndef DM_FUZZ_SUPPORT_H
#define DM_FUZZ_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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

#endif
