/*
 * e2e_run.h — run the dermaga binary as a command (not a server) and keep
 * what it printed: the CLI tests' one way to call it.
 */
#ifndef DM_E2E_RUN_H
#define DM_E2E_RUN_H

/* The binary under test: $DERMAGA_TEST_BIN, else DM_BUILD_DIR/dermaga. */
const char *dm_e2e_binary(void);

/* Run `dermaga args…` (args NULL-ended, at most 30) with PATH, ASAN_OPTIONS
 * and the given "NAME=value" variables only (env NULL-ended, or NULL);
 * stdout and stderr together into *out (new, caller frees). The exit
 * status, or -1 when it did not exit normally. */
int dm_e2e_run(char **out, const char *const env[], const char *const args[]);

#endif /* DM_E2E_RUN_H */
