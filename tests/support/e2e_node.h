/*
 * e2e_node.h — running the node scripts of tests/node/ from a C test: node
 * with its stdout on a pipe that the test reads line by line against
 * deadlines (the script and the test talk in those lines: "SUBSCRIBED",
 * "OK", "FAIL why", "SCREENSHOT path"), its stderr kept in a file for
 * failure messages, and a stop that leaves nothing running. Browser
 * artifacts (screenshots) go under <build>/Testing/browser/, which outlives
 * the run.
 */
#ifndef DM_E2E_NODE_H
#define DM_E2E_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct dm_e2e_node {
    pid_t  pid;          /* 0 once reaped */
    int    out_fd;       /* read end of its stdout; -1 once closed */
    int    in_fd;        /* write end of its stdin; 0 when none (fd 0 is never ours) */
    char   buf[8192];    /* stdout read but not yet returned as lines */
    size_t len;
    bool   eof;          /* its stdout is closed */
    int    wait_status;  /* waitpid status once reaped, -1 when killed */
    char   script[64];
    char   err_path[256];
    char   lines[4096];  /* every line returned so far, for messages */
} dm_e2e_node;

/*
 * Start `node <source>/tests/node/<script> args…` (args NULL-ended,
 * borrowed). The process gets SIGKILL if the test process dies. Fails the
 * current test when node is missing or the script's packages are not
 * installed (scripts/test.sh runs `npm ci` in tests/node/).
 */
void dm_e2e_node_start(dm_e2e_node *n, const char *script, const char *const args[]);

/* The next line of its stdout, without the newline, into line (cap bytes,
 * cut if longer), within timeout_ms. 0; DM_E2E_TIMEOUT; DM_E2E_CLOSED when
 * its stdout ended first. */
int dm_e2e_node_line(dm_e2e_node *n, char *line, size_t cap, int timeout_ms);

/* Read lines until one starts with prefix (within timeout_ms) and return
 * it in line; fails the current test otherwise, with every line it printed
 * and its stderr. what names the step. */
void dm_e2e_node_expect(dm_e2e_node *n, const char *prefix, char *line, size_t cap, int timeout_ms,
                        const char *what);

/* Write one line (a newline is added) to its stdin, for scripts that take
 * commands there (sio_logs.mjs). Fails the test when it has gone. */
void dm_e2e_node_send(dm_e2e_node *n, const char *line);

/* Its stderr so far: new string (caller frees), never NULL. */
char *dm_e2e_node_stderr(const dm_e2e_node *n);

/* Wait up to timeout_ms for it to exit; then SIGTERM (Playwright closes its
 * browser on it), and SIGKILL 10 s later. Returns the wait status, or -1 when
 * it had to be killed. Idempotent. */
int dm_e2e_node_stop(dm_e2e_node *n, int timeout_ms);

/* Run a script to its end (at most timeout_ms): it must print "OK" and exit
 * 0. Fails the current test otherwise, with what it printed (its "FAIL"
 * reason and screenshot path first) and its stderr. */
void dm_e2e_node_run_ok(const char *script, const char *const args[], int timeout_ms);

/* Where a browser script puts its artifacts (screenshots) when it fails:
 * <build>/Testing/browser/<name>-<pid> into out (the script makes it). */
void dm_e2e_node_artifacts(const char *name, char *out, size_t cap);

#endif
