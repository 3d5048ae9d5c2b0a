/*
 * dm_test.h — the shared shape of a Dermaga test executable: one Check suite
 * per file, run by DM_TEST_MAIN, exit status non-zero on any failure.
 */
#ifndef DM_TEST_H
#define DM_TEST_H

#include <check.h>
#include <stdlib.h>

/* Each test file defines `static Suite *make_suite(void)` and ends with
 * DM_TEST_MAIN(make_suite). CK_FORK follows the environment (default fork),
 * so one crashing test fails alone. A TCase that sets no timeout gets 30 s
 * (CK_DEFAULT_TIMEOUT, unless the environment says otherwise), not Check's
 * 4 s: a fixture that makes a fresh database can take longer than that on
 * a loaded CI machine, and a hang still fails. */
#define DM_TEST_MAIN(make_suite_fn)                                   \
    int main(void)                                                    \
    {                                                                 \
        setenv("CK_DEFAULT_TIMEOUT", "30", 0);                        \
        SRunner *sr = srunner_create(make_suite_fn());                \
        srunner_run_all(sr, CK_NORMAL);                               \
        int failed = srunner_ntests_failed(sr);                       \
        srunner_free(sr);                                             \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;             \
    }

/* Fail a test with a clear message when a precondition such as a database
 * URL is missing; scripts/test.sh always provides them. */
#define DM_TEST_REQUIRE_ENV(var)                                      \
    do {                                                              \
        if (getenv(var) == NULL || getenv(var)[0] == '\0') {          \
            ck_abort_msg("environment variable %s is not set; run through scripts/test.sh", var); \
        }                                                             \
    } while (0)

/* A new directory under /tmp (caller frees the returned path). */
char *dm_test_mkdtemp(const char *prefix);

#endif
