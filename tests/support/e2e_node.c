/*
 * e2e_node.c — node scripts as child processes of a C test (e2e_node.h):
 * spawned with a pipe for stdout and a file for stderr, read line by line
 * with poll(2) deadlines, stopped by SIGTERM then SIGKILL.
 */
#include "e2e_node.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"

#define MAX_ARGS 32

static const char *source_dir(void)
{
    const char *s = getenv("DERMAGA_TEST_SOURCE_DIR");
    return s != NULL && s[0] != '\0' ? s : DM_SOURCE_DIR;
}

void dm_e2e_node_artifacts(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/Testing/browser/%s-%d", DM_BUILD_DIR, name, (int)getpid());
}

void dm_e2e_node_start(dm_e2e_node *n, const char *script, const char *const args[])
{
    memset(n, 0, sizeof *n);
    n->out_fd = -1;
    snprintf(n->script, sizeof n->script, "%s", script);
    char dir[512], path[640], probe[640];
    snprintf(dir, sizeof dir, "%s/tests/node", source_dir());
    snprintf(path, sizeof path, "%s/%s", dir, script);
    snprintf(probe, sizeof probe, "%s/node_modules/playwright-core/package.json", dir);
    ck_assert_msg(access(probe, R_OK) == 0,
                  "%s is missing: the node tests need `npm ci` in tests/node (scripts/test.sh runs it)", probe);
    const char *tmp = getenv("DERMAGA_TEST_TMPDIR");
    snprintf(n->err_path, sizeof n->err_path, "%s/dm-node-XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    int errfd = mkstemp(n->err_path);
    ck_assert_msg(errfd >= 0, "mkstemp %s: %s", n->err_path, strerror(errno));
    int fds[2], in[2];
    ck_assert_msg(pipe2(fds, O_CLOEXEC) == 0 && pipe2(in, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));

    char *argv[MAX_ARGS + 3];
    int argc = 0;
    argv[argc++] = "node";
    argv[argc++] = path;
    for (int i = 0; args != NULL && args[i] != NULL; i++) {
        ck_assert_msg(argc < MAX_ARGS + 2, "more than %d arguments for %s", MAX_ARGS, script);
        argv[argc++] = (char *)args[i];
    }
    argv[argc] = NULL;
    pid_t parent = getpid();
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (dup2(in[0], 0) < 0 || dup2(fds[1], 1) < 0 || dup2(errfd, 2) < 0 || chdir(dir) != 0)
            _exit(127);
        execvp("node", argv);
        dprintf(2, "cannot run node: %s (Node.js 20 with npm is needed for the browser tests)\n", strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    close(in[0]);
    close(errfd);
    n->pid = pid;
    n->out_fd = fds[0];
    n->in_fd = in[1];
}

/* Move one complete line out of n->buf into line; true when there was one. */
static bool take_line(dm_e2e_node *n, char *line, size_t cap)
{
    char *nl = memchr(n->buf, '\n', n->len);
    if (nl == NULL && !(n->eof && n->len > 0) && n->len < sizeof n->buf)
        return false;
    size_t len = nl != NULL ? (size_t)(nl - n->buf) : n->len;
    snprintf(line, cap, "%.*s", (int)len, n->buf);
    size_t used = nl != NULL ? len + 1 : len;
    memmove(n->buf, n->buf + used, n->len - used);
    n->len -= used;
    size_t have = strlen(n->lines);
    snprintf(n->lines + have, sizeof n->lines - have, "  %s\n", line);
    return true;
}

int dm_e2e_node_line(dm_e2e_node *n, char *line, size_t cap, int timeout_ms)
{
    long long deadline = dm_e2e_now_ms() + timeout_ms;
    for (;;) {
        if (take_line(n, line, cap))
            return 0;
        if (n->eof)
            return DM_E2E_CLOSED;
        long long left = deadline - dm_e2e_now_ms();
        if (left <= 0)
            return DM_E2E_TIMEOUT;
        struct pollfd p = { .fd = n->out_fd, .events = POLLIN };
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        ssize_t got = read(n->out_fd, n->buf + n->len, sizeof n->buf - n->len);
        if (got > 0) {
            n->len += (size_t)got;
        } else if (got == 0 || errno != EINTR) {
            n->eof = true;
        }
    }
}

void dm_e2e_node_send(dm_e2e_node *n, const char *line)
{
    ck_assert_msg(n->in_fd > 0, "%s has no stdin", n->script);
    signal(SIGPIPE, SIG_IGN); /* a script that has gone is an error here, not the end of the test */
    int rc = dprintf(n->in_fd, "%s\n", line);
    ck_assert_msg(rc > 0, "writing to %s: %s", n->script, strerror(errno));
}

char *dm_e2e_node_stderr(const dm_e2e_node *n)
{
    FILE *f = fopen(n->err_path, "re");
    char *out = calloc(1, 16384);
    ck_assert_msg(out != NULL, "out of memory");
    if (f != NULL) {
        size_t got = fread(out, 1, 16383, f);
        out[got] = '\0';
        fclose(f);
    }
    return out;
}

void dm_e2e_node_expect(dm_e2e_node *n, const char *prefix, char *line, size_t cap, int timeout_ms,
                        const char *what)
{
    long long deadline = dm_e2e_now_ms() + timeout_ms;
    int rc;
    for (;;) {
        long long left = deadline - dm_e2e_now_ms();
        rc = dm_e2e_node_line(n, line, cap, left > 0 ? (int)left : 0);
        if (rc != 0 || strncmp(line, prefix, strlen(prefix)) == 0 || strncmp(line, "FAIL", 4) == 0)
            break;
    }
    if (rc == 0 && strncmp(line, prefix, strlen(prefix)) == 0)
        return;
    /* The script's own account of a failure follows its FAIL line. */
    if (rc == 0) {
        char more[512];
        while (dm_e2e_node_line(n, more, sizeof more, 15000) == 0)
            ;
    }
    dm_e2e_node_stop(n, 2000);
    char *err = dm_e2e_node_stderr(n);
    size_t elen = strlen(err);
    ck_abort_msg("%s: %s waiting for \"%s\" from %s (%s); it printed:\n%s--- its stderr (last 6000 bytes):\n%s", what,
                 rc == 0 ? "a failure" : dm_e2e_strerror(rc), prefix, n->script,
                 dm_e2e_describe_status(n->wait_status), n->lines, elen > 6000 ? err + elen - 6000 : err);
    free(err);
}

int dm_e2e_node_stop(dm_e2e_node *n, int timeout_ms)
{
    if (n->in_fd > 0) { /* end of its input: a script reading commands may end on it */
        close(n->in_fd);
        n->in_fd = 0;
    }
    if (n->pid > 0) {
        static const int sigs[] = { 0, SIGTERM, SIGKILL };
        int waits[] = { timeout_ms, 10000, 5000 };
        for (size_t i = 0; i < 3 && n->pid > 0; i++) {
            if (sigs[i] != 0)
                kill(n->pid, sigs[i]);
            long long deadline = dm_e2e_now_ms() + waits[i];
            int st;
            for (;;) {
                pid_t r = waitpid(n->pid, &st, WNOHANG);
                if (r == n->pid || (r < 0 && errno != EINTR)) {
                    n->wait_status = r == n->pid && i == 0 ? st : -1;
                    n->pid = 0;
                    break;
                }
                if (dm_e2e_now_ms() > deadline)
                    break;
                poll(NULL, 0, 10);
            }
        }
    }
    if (n->out_fd >= 0) {
        close(n->out_fd);
        n->out_fd = -1;
    }
    return n->wait_status;
}

void dm_e2e_node_run_ok(const char *script, const char *const args[], int timeout_ms)
{
    dm_e2e_node n;
    char line[1024];
    dm_e2e_node_start(&n, script, args);
    dm_e2e_node_expect(&n, "OK", line, sizeof line, timeout_ms, script);
    int st = dm_e2e_node_stop(&n, 15000);
    ck_assert_msg(dm_e2e_exited_0(st), "%s printed OK but then %s", script, dm_e2e_describe_status(st));
    unlink(n.err_path);
}
