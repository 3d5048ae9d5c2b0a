/*
 * e2e.c — the processes behind end-to-end tests: the dermaga server (spawned
 * with a generated config, output captured to a file, stopped by signal) and
 * a private PostgreSQL cluster driven through scripts/pg.sh. Everything lives
 * under one temp dir per test executable, removed when it exits; a server
 * dies with the test process that started it (PR_SET_PDEATHSIG).
 */
#include "e2e.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* A database URL that is refused at once: tests that do not use the
 * database must not reach one by accident (libpq's defaults would). */
#define REFUSED_DB_URL "postgresql://postgres@127.0.0.1:1/postgres"
#define READY_DEADLINE_MS 20000 /* sanitizer builds start slowly on busy CI */

/* ---- time ------------------------------------------------------------- */

long long dm_e2e_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A short pause inside loops that wait for another process to change
 * something we cannot be notified about (a log line, an exit). */
static void nap_ms(int ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- files ------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *dir)
{
    if (dir[0] != '\0')
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Whole file as a new NUL-terminated string; "" when unreadable. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    char *out = NULL;
    size_t len = 0;
    if (f != NULL) {
        char chunk[8192];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
            char *grown = realloc(out, len + n + 1);
            if (grown == NULL)
                break;
            out = grown;
            memcpy(out + len, chunk, n);
            len += n;
        }
        fclose(f);
    }
    if (out == NULL) {
        out = malloc(1);
        ck_assert_msg(out != NULL, "out of memory");
        len = 0;
    }
    out[len] = '\0';
    return out;
}

/* ---- cleanup at exit -------------------------------------------------- */

/* Check runs each test in a forked child that leaves with _exit() when an
 * assert fails, so a child's atexit handlers cannot be relied on. The
 * runner process (which never runs tests itself) makes one root dir before
 * main(), every child puts its files under it, and the runner removes it. */
static char root_dir[64]; /* "" when it could not be made: then /tmp */
static pid_t root_pid;

static void remove_root(void)
{
    if (getpid() == root_pid && root_dir[0] != '\0')
        rm_tree(root_dir);
}

__attribute__((constructor)) static void make_root(void)
{
    /* scripts/test.sh gives a scratch dir the postgres user can enter. */
    const char *base = getenv("DERMAGA_TEST_TMPDIR");
    if (base == NULL || base[0] == '\0' || strlen(base) > 40)
        base = "/tmp";
    snprintf(root_dir, sizeof root_dir, "%s/dm-e2e-XXXXXX", base);
    /* 755: the postgres user must traverse it to reach a test cluster. */
    if (mkdtemp(root_dir) == NULL || chmod(root_dir, 0755) != 0) {
        root_dir[0] = '\0';
        return;
    }
    root_pid = getpid();
    atexit(remove_root);
}

/* A new private dir under the root (or /tmp) in dst. 0 or -1. */
static int make_temp_dir(char *dst, size_t len, const char *prefix)
{
    snprintf(dst, len, "%s/%s-XXXXXX", root_dir[0] != '\0' ? root_dir : "/tmp", prefix);
    return mkdtemp(dst) != NULL ? 0 : -1;
}

#define MAX_LIVE 16
static struct live_entry {
    pid_t owner;     /* the process that created it: forked test children
                      * inherit this table and must not clean up for it */
    pid_t pid;       /* server to kill, or 0 */
    char  dir[160];  /* temp dir to remove, or "" */
    char  pg[160];   /* pg cluster to stop, or "" */
} live[MAX_LIVE];
static bool atexit_done;

static const char *pg_sh_path(void);
static int run_pg_sh(const char *log_path, const char *out_path, char *const argv_tail[]);

static void cleanup_at_exit(void)
{
    for (int i = 0; i < MAX_LIVE; i++) {
        if (live[i].owner != getpid())
            continue;
        if (live[i].pid > 0) {
            kill(live[i].pid, SIGKILL);
            waitpid(live[i].pid, NULL, 0);
        }
        if (live[i].pg[0] != '\0') {
            char *argv[] = { "stop", live[i].pg, NULL };
            run_pg_sh("/dev/null", NULL, argv);
        }
        rm_tree(live[i].dir);
        memset(&live[i], 0, sizeof live[i]);
    }
}

static struct live_entry *live_add(void)
{
    if (!atexit_done) {
        atexit(cleanup_at_exit);
        atexit_done = true;
    }
    for (int i = 0; i < MAX_LIVE; i++) {
        /* Entries of another process (inherited over fork) are free here. */
        if (live[i].owner != getpid() || (live[i].pid == 0 && live[i].dir[0] == '\0')) {
            memset(&live[i], 0, sizeof live[i]);
            live[i].owner = getpid();
            return &live[i];
        }
    }
    ck_abort_msg("e2e: more than %d live servers/clusters in one test", MAX_LIVE);
    return NULL;
}

static struct live_entry *live_find(const char *dir)
{
    for (int i = 0; i < MAX_LIVE; i++) {
        if (live[i].owner == getpid() && dir[0] != '\0' && strcmp(live[i].dir, dir) == 0)
            return &live[i];
    }
    return NULL;
}

/* ---- sockets ---------------------------------------------------------- */

static int bound_socket(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0
        || getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

int dm_e2e_free_port(void)
{
    int port = 0;
    int fd = bound_socket(&port);
    ck_assert_msg(fd >= 0, "e2e: cannot bind a loopback socket: %s", strerror(errno));
    close(fd);
    return port;
}

int dm_e2e_blackhole_listen(int *port)
{
    int fd = bound_socket(port);
    if (fd < 0)
        return -1;
    if (listen(fd, 128) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- the server process ----------------------------------------------- */

static const char *server_bin(void)
{
    const char *b = getenv("DERMAGA_TEST_BIN");
    return b != NULL && b[0] != '\0' ? b : DM_BUILD_DIR "/dermaga";
}

static json_t *default_config(const dm_e2e_server *s)
{
    return json_pack("{s:{s:s,s:i,s:i,s:i,s:i},s:{s:s,s:i,s:i,s:i,s:b},s:s,s:{s:s}}",
                     "server", "listen", "127.0.0.1", "port", s->port, "headerTimeoutMs", 5000,
                     "idleTimeoutMs", 10000, "shutdownGraceMs", 5000,
                     "database", "url", REFUSED_DB_URL, "workers", 2, "queueDepth", 16,
                     "connectTimeoutS", 2, "migrateOnStart", 0,
                     "logLevel", "info",
                     "auth", "jwtSecret", "e2e-test-secret-of-more-than-32-bytes");
}

static void write_config(dm_e2e_server *s, json_t *overrides)
{
    json_t *cfg = default_config(s);
    ck_assert_msg(cfg != NULL, "e2e: cannot build the default config");
    if (overrides != NULL)
        ck_assert_msg(json_object_update_recursive(cfg, overrides) == 0,
                      "e2e: config overrides must be a JSON object");
    /* The port is ours to choose, whatever the overrides said. */
    json_object_set_new(json_object_get(cfg, "server"), "port", json_integer(s->port));
    ck_assert_msg(json_dump_file(cfg, s->config_path, JSON_INDENT(2)) == 0,
                  "e2e: cannot write %s", s->config_path);
    json_decref(cfg);
}

/* The parent's environment without DERMAGA_* (built before fork). */
static char **child_env(void)
{
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    char **env = calloc(n + 1, sizeof *env);
    ck_assert_msg(env != NULL, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], "DERMAGA_", 8) != 0)
            env[k++] = environ[i];
    }
    return env;
}

static pid_t spawn_server(const dm_e2e_server *s)
{
    const char *bin = server_bin();
    ck_assert_msg(access(bin, X_OK) == 0, "e2e: server binary %s is not executable: %s", bin,
                  strerror(errno));
    int logfd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    ck_assert_msg(logfd >= 0, "e2e: cannot create %s: %s", s->log_path, strerror(errno));
    char **env = child_env();
    pid_t parent = getpid();
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "e2e: fork: %s", strerror(errno));
    if (pid == 0) {
        /* Die with the test process, whatever way it ends. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        int nullfd = open("/dev/null", O_RDONLY);
        if (nullfd < 0 || dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
            _exit(127);
        char *argv[] = { (char *)bin, "serve", "--config", (char *)s->config_path, NULL };
        execve(bin, argv, env);
        _exit(127);
    }
    free(env);
    close(logfd);
    return pid;
}

/* Wait for the ready line. 0 ready; 1 exited (status in s); -1 timeout. */
static int wait_ready(dm_e2e_server *s)
{
    char needle[64];
    snprintf(needle, sizeof needle, "listening on http://127.0.0.1:%d", s->port);
    long long deadline = dm_e2e_now_ms() + READY_DEADLINE_MS;
    for (;;) {
        char *log = dm_e2e_server_log(s);
        bool ready = strstr(log, needle) != NULL;
        free(log);
        if (ready)
            return 0;
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->wait_status = st;
            s->pid = 0;
            return 1;
        }
        if (dm_e2e_now_ms() > deadline)
            return -1;
        nap_ms(5);
    }
}

void dm_e2e_server_start(dm_e2e_server *s, json_t *overrides)
{
    memset(s, 0, sizeof *s);
    ck_assert_msg(make_temp_dir(s->dir, sizeof s->dir, "srv") == 0, "e2e: mkdtemp: %s",
                  strerror(errno));
    struct live_entry *e = live_add();
    snprintf(e->dir, sizeof e->dir, "%s", s->dir);
    snprintf(s->config_path, sizeof s->config_path, "%s/config.json", s->dir);
    snprintf(s->log_path, sizeof s->log_path, "%s/server.log", s->dir);

    /* A free port can be taken by someone else before the server binds it
     * (tests run in parallel): try a few. */
    for (int attempt = 0;; attempt++) {
        s->port = dm_e2e_free_port();
        write_config(s, overrides);
        s->pid = spawn_server(s);
        e->pid = s->pid;
        int rc = wait_ready(s);
        if (rc == 0)
            break;
        char *log = dm_e2e_server_log(s);
        if (rc < 0) {
            dm_e2e_server_stop(s, SIGKILL, 2000);
            e->pid = 0;
            ck_abort_msg("e2e: %s did not log that it listens within %d ms; output:\n%s",
                         server_bin(), READY_DEADLINE_MS, log);
        }
        e->pid = 0;
        bool port_taken = strstr(log, "address already in use") != NULL;
        if (!port_taken || attempt == 3) {
            ck_abort_msg("e2e: %s exited during start-up (%s); output:\n%s", server_bin(),
                         dm_e2e_describe_status(s->wait_status), log);
        }
        free(log);
        ck_assert_msg(truncate(s->log_path, 0) == 0, "e2e: truncate %s: %s", s->log_path,
                      strerror(errno));
    }
    json_decref(overrides);
}

int dm_e2e_server_wait_exit(dm_e2e_server *s, int timeout_ms)
{
    if (s->pid == 0)
        return s->wait_status;
    long long deadline = dm_e2e_now_ms() + timeout_ms;
    int st = 0;
    for (;;) {
        pid_t r = waitpid(s->pid, &st, WNOHANG);
        if (r == s->pid)
            break;
        if (r < 0 && errno != EINTR) {
            st = -1;
            break;
        }
        if (dm_e2e_now_ms() > deadline) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
            st = -1;
            break;
        }
        nap_ms(2);
    }
    struct live_entry *e = live_find(s->dir);
    if (e != NULL)
        e->pid = 0;
    s->pid = 0;
    s->wait_status = st;
    return st;
}

int dm_e2e_server_stop(dm_e2e_server *s, int sig, int timeout_ms)
{
    if (s->pid == 0)
        return s->wait_status;
    kill(s->pid, sig);
    return dm_e2e_server_wait_exit(s, timeout_ms);
}

void dm_e2e_server_free(dm_e2e_server *s)
{
    if (s->pid != 0)
        dm_e2e_server_stop(s, SIGKILL, 5000);
    struct live_entry *e = live_find(s->dir);
    rm_tree(s->dir);
    if (e != NULL)
        memset(e, 0, sizeof *e);
    s->dir[0] = '\0';
}

void dm_e2e_server_finish(dm_e2e_server *s)
{
    if (s->dir[0] == '\0')
        return;
    bool was_running = s->pid != 0;
    int st = dm_e2e_server_stop(s, SIGTERM, 10000);
    char *log = dm_e2e_server_log(s);
    size_t len = strlen(log);
    bool ok = was_running && dm_e2e_exited_0(st);
    char tail[4096];
    snprintf(tail, sizeof tail, "%s", len > 3000 ? log + len - 3000 : log);
    free(log);
    dm_e2e_server_free(s);
    ck_assert_msg(ok, "the server %s (%s); last output:\n%s",
                  was_running ? "did not exit 0 on SIGTERM" : "had already exited",
                  dm_e2e_describe_status(st), tail);
}

char *dm_e2e_server_log(const dm_e2e_server *s)
{
    return slurp(s->log_path);
}

bool dm_e2e_server_wait_log(const dm_e2e_server *s, const char *needle, int timeout_ms)
{
    long long deadline = dm_e2e_now_ms() + timeout_ms;
    for (;;) {
        char *log = dm_e2e_server_log(s);
        bool found = strstr(log, needle) != NULL;
        free(log);
        if (found)
            return true;
        if (dm_e2e_now_ms() > deadline)
            return false;
        nap_ms(5);
    }
}

const char *dm_e2e_describe_status(int status)
{
    static char buf[64];
    if (status == -1)
        snprintf(buf, sizeof buf, "did not exit in time (killed)");
    else if (WIFEXITED(status))
        snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, sizeof buf, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, sizeof buf, "wait status 0x%x", (unsigned)status);
    return buf;
}

bool dm_e2e_exited_0(int status)
{
    return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* ---- PostgreSQL through pg.sh ----------------------------------------- */

static const char *pg_sh_path(void)
{
    const char *p = getenv("DERMAGA_TEST_PG_SH");
    return p != NULL && p[0] != '\0' ? p : DM_SOURCE_DIR "/scripts/pg.sh";
}

/* Run pg.sh with argv_tail; stderr appended to log_path, stdout to out_path
 * (or also the log). Returns its exit code, or -1. */
static int run_pg_sh(const char *log_path, const char *out_path, char *const argv_tail[])
{
    char *argv[8];
    int n = 0;
    argv[n++] = (char *)pg_sh_path();
    for (int i = 0; argv_tail[i] != NULL && n < 7; i++)
        argv[n++] = argv_tail[i];
    argv[n] = NULL;
    int logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int outfd = out_path != NULL ? open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)
                                 : logfd;
    if (logfd < 0 || outfd < 0) {
        if (logfd >= 0)
            close(logfd);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        int nullfd = open("/dev/null", O_RDONLY);
        if (nullfd < 0 || dup2(nullfd, 0) < 0 || dup2(outfd, 1) < 0 || dup2(logfd, 2) < 0)
            _exit(127);
        setenv("DERMAGA_PG_FAST", "1", 1);
        execv(argv[0], argv);
        _exit(127);
    }
    close(logfd);
    if (outfd != logfd)
        close(outfd);
    if (pid < 0)
        return -1;
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int pg_fail(dm_e2e_pg *pg, char *why, size_t why_len, const char *what)
{
    char log_path[200];
    snprintf(log_path, sizeof log_path, "%s/pgsh.log", pg->dir);
    char *log = slurp(log_path);
    size_t len = strlen(log);
    const char *tail = len > 1500 ? log + len - 1500 : log;
    snprintf(why, why_len, "%s %s failed; its output:\n%s", pg_sh_path(), what, tail);
    free(log);
    return -1;
}

static int pg_run(dm_e2e_pg *pg, char *why, size_t why_len, const char *out, char *const argv[])
{
    char log_path[200];
    snprintf(log_path, sizeof log_path, "%s/pgsh.log", pg->dir);
    if (run_pg_sh(log_path, out, argv) != 0)
        return pg_fail(pg, why, why_len, argv[0]);
    return 0;
}

/* Read the first line of path as a string into dst. */
static int read_line(const char *path, char *dst, size_t len)
{
    char *s = slurp(path);
    s[strcspn(s, "\r\n")] = '\0';
    int rc = s[0] != '\0' && strlen(s) < len ? 0 : -1;
    if (rc == 0)
        memcpy(dst, s, strlen(s) + 1);
    free(s);
    return rc;
}

int dm_e2e_pg_create(dm_e2e_pg *pg, char *why, size_t why_len)
{
    memset(pg, 0, sizeof *pg);
    if (make_temp_dir(pg->dir, sizeof pg->dir, "pg") != 0 || chmod(pg->dir, 0755) != 0) {
        snprintf(why, why_len, "mkdtemp/chmod: %s", strerror(errno));
        return -1;
    }
    struct live_entry *e = live_add();
    snprintf(e->dir, sizeof e->dir, "%s", pg->dir);
    snprintf(pg->cluster, sizeof pg->cluster, "%s/pg", pg->dir);

    char out[200], port[16];
    snprintf(out, sizeof out, "%s/out.txt", pg->dir);
    char *freeport[] = { "freeport", NULL };
    if (pg_run(pg, why, why_len, out, freeport) != 0)
        return -1;
    char *end = NULL;
    if (read_line(out, port, sizeof port) != 0 || (pg->port = (int)strtol(port, &end, 10)) <= 0
        || *end != '\0') {
        snprintf(why, why_len, "pg.sh freeport printed no port");
        return -1;
    }
    char *init[] = { "init", pg->cluster, port, NULL };
    if (pg_run(pg, why, why_len, NULL, init) != 0)
        return -1;
    snprintf(e->pg, sizeof e->pg, "%s", pg->cluster);
    if (dm_e2e_pg_start(pg, why, why_len) != 0)
        return -1;
    char *url[] = { "url", pg->cluster, port, "postgres", NULL };
    if (pg_run(pg, why, why_len, out, url) != 0 || read_line(out, pg->url, sizeof pg->url) != 0)
        return pg_fail(pg, why, why_len, "url");
    return 0;
}

int dm_e2e_pg_start(dm_e2e_pg *pg, char *why, size_t why_len)
{
    char port[16];
    snprintf(port, sizeof port, "%d", pg->port);
    char *argv[] = { "start", pg->cluster, port, NULL };
    if (pg_run(pg, why, why_len, NULL, argv) != 0)
        return -1;
    pg->running = true;
    return 0;
}

int dm_e2e_pg_stop(dm_e2e_pg *pg, char *why, size_t why_len)
{
    char *argv[] = { "stop", pg->cluster, NULL };
    if (pg_run(pg, why, why_len, NULL, argv) != 0)
        return -1;
    pg->running = false;
    return 0;
}

void dm_e2e_pg_destroy(dm_e2e_pg *pg)
{
    if (pg->dir[0] == '\0')
        return;
    char why[64];
    dm_e2e_pg_stop(pg, why, sizeof why);
    struct live_entry *e = live_find(pg->dir);
    if (e != NULL)
        memset(e, 0, sizeof *e);
    rm_tree(pg->dir);
    pg->dir[0] = '\0';
}
