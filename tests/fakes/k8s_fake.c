/*
 * k8s_fake.c — the fake Kubernetes API server as a child process
 * (k8s_fake.h): node with stdout on a pipe read until "LISTENING <port>",
 * stderr in a file for messages, libcurl for requests.
 */
#include "k8s_fake.h"

#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 10000
#define MAX_ARGS         40

static const char *source_dir(void)
{
    const char *s = getenv("DERMAGA_TEST_SOURCE_DIR");
    return s != NULL && s[0] != '\0' ? s : DM_SOURCE_DIR;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Its stderr so far, for failure messages: new string, never NULL. */
static char *read_stderr(const dm_k8s_fake *f)
{
    FILE *fp = fopen(f->err_path, "r");
    char *out = calloc(1, 4097);
    if (fp != NULL && out != NULL) {
        size_t n = fread(out, 1, 4096, fp);
        out[n] = '\0';
    }
    if (fp != NULL)
        fclose(fp);
    return out != NULL ? out : strdup("");
}

static void make_certs(dm_k8s_fake *f, const char *dir)
{
    const char *tmp = getenv("DERMAGA_TEST_TMPDIR");
    snprintf(f->cert_dir, sizeof f->cert_dir, "%s/dm-k8s-certs-XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    ck_assert_msg(mkdtemp(f->cert_dir) != NULL, "mkdtemp %s: %s", f->cert_dir, strerror(errno));
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "bash '%s/gen-certs.sh' '%s'", dir, f->cert_dir);
    int rc = system(cmd);
    ck_assert_msg(rc == 0, "%s failed (%d): is openssl installed?", cmd, rc);
    snprintf(f->ca_path, sizeof f->ca_path, "%s/ca.crt", f->cert_dir);
}

/* Read its stdout until "LISTENING <port>"; 0 on time out or end. */
static int wait_listening(int fd)
{
    char buf[512];
    size_t len = 0;
    long long deadline = now_ms() + START_TIMEOUT_MS;
    while (len < sizeof buf - 1) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t got = read(fd, buf + len, sizeof buf - 1 - len);
        if (got <= 0 && errno != EINTR)
            return 0;
        if (got > 0)
            len += (size_t)got;
        buf[len] = '\0';
        int port;
        if (strchr(buf, '\n') != NULL && sscanf(buf, "LISTENING %d", &port) == 1)
            return port;
    }
    return 0;
}

void dm_k8s_fake_start(dm_k8s_fake *f, const dm_k8s_fake_opts *opts)
{
    static const dm_k8s_fake_opts none = { 0 };
    if (opts == NULL)
        opts = &none;
    memset(f, 0, sizeof *f);
    char dir[512], server[600], probe[640];
    snprintf(dir, sizeof dir, "%s/tests/fakes/k8s", source_dir());
    snprintf(server, sizeof server, "%s/server.mjs", dir);
    snprintf(probe, sizeof probe, "%s/node_modules/kubernetes-models/package.json", dir);
    ck_assert_msg(access(probe, R_OK) == 0,
                  "%s is missing: the fake Kubernetes API server needs `npm ci` in tests/fakes/k8s (scripts/test.sh runs it)", probe);
    if (opts->https)
        make_certs(f, dir);
    if (opts->token != NULL)
        snprintf(f->token, sizeof f->token, "%s", opts->token);

    char start_ms[16], cert[340], key[340];
    snprintf(start_ms, sizeof start_ms, "%d", opts->pod_start_ms > 0 ? opts->pod_start_ms : 50);
    const char *argv[MAX_ARGS + 12];
    int argc = 0;
    argv[argc++] = "node";
    argv[argc++] = server;
    argv[argc++] = "--pod-start-ms";
    argv[argc++] = start_ms;
    if (opts->token != NULL) {
        argv[argc++] = "--token";
        argv[argc++] = opts->token;
    }
    if (opts->https) {
        snprintf(cert, sizeof cert, "%s/server.crt", f->cert_dir);
        snprintf(key, sizeof key, "%s/server.key", f->cert_dir);
        argv[argc++] = "--https";
        argv[argc++] = "--cert";
        argv[argc++] = cert;
        argv[argc++] = "--key";
        argv[argc++] = key;
    }
    for (int i = 0; opts->args != NULL && opts->args[i] != NULL; i++) {
        ck_assert_msg(i < MAX_ARGS, "more than %d arguments for the fake", MAX_ARGS);
        argv[argc++] = opts->args[i];
    }
    argv[argc] = NULL;

    const char *tmp = getenv("DERMAGA_TEST_TMPDIR");
    snprintf(f->err_path, sizeof f->err_path, "%s/dm-k8s-fake-XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    int errfd = mkstemp(f->err_path);
    ck_assert_msg(errfd >= 0, "mkstemp %s: %s", f->err_path, strerror(errno));
    int out[2];
    ck_assert_msg(pipe2(out, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
    pid_t parent = getpid();
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int devnull = open("/dev/null", O_RDONLY);
        if (getppid() != parent || devnull < 0 || dup2(devnull, 0) < 0 || dup2(out[1], 1) < 0 || dup2(errfd, 2) < 0)
            _exit(127);
        execvp("node", (char *const *)argv);
        dprintf(2, "cannot run node: %s (Node.js 20 is needed for the fake Kubernetes API server)\n", strerror(errno));
        _exit(127);
    }
    close(out[1]);
    close(errfd);
    f->pid = pid;
    f->port = wait_listening(out[0]);
    close(out[0]); /* it prints nothing more; a later write would only get EPIPE */
    if (f->port <= 0) {
        char *err = read_stderr(f);
        dm_k8s_fake_stop(f);
        ck_abort_msg("the fake Kubernetes API server did not print LISTENING within %d ms; its stderr:\n%s",
                     START_TIMEOUT_MS, err);
    }
    snprintf(f->url, sizeof f->url, "%s://127.0.0.1:%d", opts->https ? "https" : "http", f->port);
}

typedef struct buf {
    char  *data;
    size_t len;
} buf;

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    buf *b = ud;
    char *grown = realloc(b->data, b->len + size * n + 1);
    if (grown == NULL)
        return 0;
    memcpy(grown + b->len, p, size * n);
    b->data = grown;
    b->len += size * n;
    b->data[b->len] = '\0';
    return size * n;
}

char *dm_k8s_fake_call(const dm_k8s_fake *f, const char *method, const char *path,
                       const char *content_type, const char *body, long *status)
{
    buf b = { calloc(1, 1), 0 };
    *status = 0;
    CURL *c = curl_easy_init();
    ck_assert_msg(c != NULL && b.data != NULL, "curl_easy_init");
    char url[1024], auth[200], type[160];
    snprintf(url, sizeof url, "%s%s", f->url, path);
    struct curl_slist *h = NULL;
    if (f->token[0] != '\0') {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", f->token);
        h = curl_slist_append(h, auth);
    }
    if (content_type != NULL) {
        snprintf(type, sizeof type, "Content-Type: %s", content_type);
        h = curl_slist_append(h, type);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (f->ca_path[0] != '\0')
        curl_easy_setopt(c, CURLOPT_CAINFO, f->ca_path);
    if (body != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return b.data;
}

void dm_k8s_fake_stop(dm_k8s_fake *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        long long deadline = now_ms() + 5000;
        while (waitpid(f->pid, NULL, WNOHANG) == 0) {
            if (now_ms() > deadline) {
                kill(f->pid, SIGKILL);
                waitpid(f->pid, NULL, 0);
                break;
            }
            poll(NULL, 0, 10);
        }
        f->pid = 0;
    }
    if (f->cert_dir[0] != '\0') {
        static const char *const files[] = { "ca.crt", "ca.key", "server.crt", "server.key" };
        char p[400];
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
            snprintf(p, sizeof p, "%s/%s", f->cert_dir, files[i]);
            unlink(p);
        }
        rmdir(f->cert_dir);
        f->cert_dir[0] = '\0';
    }
    if (f->err_path[0] != '\0') {
        unlink(f->err_path);
        f->err_path[0] = '\0';
    }
}

json_t *dm_k8s_fake_json(const dm_k8s_fake *f, const char *path)
{
    long code;
    char *body = dm_k8s_fake_call(f, "GET", path, NULL, NULL, &code);
    json_t *j = json_loads(body, 0, NULL);
    ck_assert_msg(code == 200 && j != NULL, "GET %s: %ld %.300s", path, code, body);
    free(body);
    return j;
}

void dm_k8s_fake_send(const dm_k8s_fake *f, const char *method, const char *path, const char *type,
                      const char *body)
{
    long code;
    char *resp = dm_k8s_fake_call(f, method, path, type, body, &code);
    ck_assert_msg(code == 200, "%s %s: %ld %.300s", method, path, code, resp);
    free(resp);
}

size_t dm_k8s_fake_count(const dm_k8s_fake *f, const char *path)
{
    json_t *j = dm_k8s_fake_json(f, path);
    size_t n = json_array_size(json_object_get(j, "items"));
    json_decref(j);
    return n;
}
