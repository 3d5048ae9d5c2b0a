/*
 * midtrans_sim_net.c — sockets for the Midtrans simulator: a loopback
 * HTTP/1.1 server (accept thread + one thread per connection, blocking
 * sockets with poll, one request per connection, Connection: close) and
 * the one-shot client that delivers notifications.
 */
#include "midtrans_sim_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define HEAD_MAX      (64 * 1024)
#define BODY_MAX      (1024 * 1024)
#define READ_TIMEOUT  10000 /* ms a client may take to send its request */

struct sim_http {
    int             lfd;
    int             wake[2];   /* written once at stop; never drained */
    pthread_t       acceptor;
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    int             live;      /* connection threads running */
    sim_handler_fn  fn;
    void           *ud;
};

typedef struct conn {
    sim_http *h;
    int       fd;
} conn;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is readable or the simulator stops. 1 readable, 0 timeout
 * or stop, -1 error. */
static int wait_readable(const sim_http *h, int fd, int timeout_ms)
{
    struct pollfd p[2] = { { fd, POLLIN, 0 }, { h != NULL ? h->wake[0] : -1, POLLIN, 0 } };
    int n = poll(p, h != NULL ? 2 : 1, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    if (h != NULL && (p[1].revents & POLLIN))
        return 0;
    return n > 0 ? 1 : 0;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Strict Content-Length: digits only, bounded. */
static int parse_length(const char *v, size_t *out)
{
    size_t n = 0;
    if (*v == '\0')
        return -1;
    for (; *v != '\0'; v++) {
        if (*v < '0' || *v > '9' || n > BODY_MAX)
            return -1;
        n = n * 10 + (size_t)(*v - '0');
    }
    *out = n;
    return n <= BODY_MAX ? 0 : -1;
}

/* Parse the head (NUL-terminated, ends before the blank line) into req;
 * the Authorization value is copied into auth. 0, or an HTTP status. */
static int parse_head(char *head, sim_req *req, char *auth, size_t auth_len, size_t *clen)
{
    char *save = NULL;
    char *line = strtok_r(head, "\r\n", &save);
    char version[16];
    if (line == NULL || sscanf(line, "%15s %511s %15s", req->method, req->path, version) != 3 ||
        strncmp(version, "HTTP/1.", 7) != 0)
        return 400;
    *clen = 0;
    bool chunked = false;
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
        char *colon = strchr(line, ':');
        if (colon == NULL)
            return 400;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t vl = strlen(v);
        while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            v[--vl] = '\0';
        if (strcasecmp(line, "Content-Length") == 0 && parse_length(v, clen) != 0)
            return 400;
        if (strcasecmp(line, "Transfer-Encoding") == 0)
            chunked = true;
        if (strcasecmp(line, "Authorization") == 0)
            snprintf(auth, auth_len, "%s", v);
    }
    req->auth = auth[0] != '\0' ? auth : NULL;
    return chunked ? 501 : 0; /* neither libcurl nor Midtrans chunks these */
}

/* Read one request from fd into *buf (head + body). 0 with req filled,
 * or an HTTP status to answer, or -1 to just close. */
static int read_request(sim_http *h, int fd, char **buf, sim_req *req, char *auth,
                        size_t auth_len)
{
    size_t cap = 4096, len = 0, head_end = 0, clen = 0;
    char *b = malloc(cap);
    if (b == NULL)
        return -1;
    *buf = b;
    long long deadline = now_ms() + READ_TIMEOUT;
    int parsed = -1;
    for (;;) {
        if (parsed == 0 && len >= head_end + clen)
            break;
        long long left = deadline - now_ms();
        if (left <= 0 || wait_readable(h, fd, (int)left) != 1)
            return -1;
        if (len + 4096 + 1 > cap) {
            char *nb = realloc(b, cap * 2);
            if (nb == NULL)
                return -1;
            *buf = b = nb;
            cap *= 2;
        }
        ssize_t r = recv(fd, b + len, cap - len - 1, 0);
        if (r <= 0)
            return -1;
        len += (size_t)r;
        b[len] = '\0';
        if (parsed == -1) {
            char *end = strstr(b, "\r\n\r\n");
            if (end == NULL) {
                if (len > HEAD_MAX)
                    return 431;
                continue;
            }
            head_end = (size_t)(end - b) + 4;
            end[2] = '\0'; /* keep the last header's CRLF for strtok */
            parsed = parse_head(b, req, auth, auth_len, &clen);
            if (parsed != 0)
                return parsed;
        }
    }
    req->body = b + head_end;
    req->body_len = clen;
    b[head_end + clen] = '\0';
    return 0;
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 406: return "Not Acceptable";
    case 412: return "Precondition Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default:  return "Status";
    }
}

static void write_reply(int fd, int status, const char *body)
{
    char head[256];
    size_t blen = body != NULL ? strlen(body) : 0;
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     status, reason(status), blen);
    if (send_all(fd, head, (size_t)n) == 0 && blen > 0)
        send_all(fd, body, blen);
}

/* Read and drop what the peer sends until it closes, timeout_ms pass
 * without a byte, or the simulator stops. */
static void drain(sim_http *h, int fd, int timeout_ms)
{
    char sink[512];
    while (wait_readable(h, fd, timeout_ms) == 1 && recv(fd, sink, sizeof sink, 0) > 0)
        ;
}

static void *serve(void *arg)
{
    conn *c = arg;
    sim_http *h = c->h;
    char *buf = NULL;
    char auth[1024] = "";
    sim_req req;
    memset(&req, 0, sizeof req);
    int rc = read_request(h, c->fd, &buf, &req, auth, sizeof auth);
    if (rc > 0) {
        write_reply(c->fd, rc, "{\"status_code\":\"400\",\"status_message\":\"bad request\"}");
    } else if (rc == 0) {
        sim_reply rep = { 500, NULL, false };
        h->fn(h->ud, &req, &rep);
        if (rep.hang)
            drain(h, c->fd, 600000); /* until the client gives up, or stop */
        else
            write_reply(c->fd, rep.status, rep.body);
        free(rep.body);
    }
    free(buf);
    /* Let the client read the answer before the close (no RST on unread
     * bytes): half-close, then drain briefly. */
    shutdown(c->fd, SHUT_WR);
    drain(h, c->fd, 1000);
    close(c->fd);
    free(c);
    /* Free OpenSSL's per-thread state (the signature digests) now: this
     * detached thread may still be exiting when stop returns and the test
     * process ends, and LeakSanitizer would report the state as leaked. */
    OPENSSL_thread_stop();
    pthread_mutex_lock(&h->mu);
    h->live--;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

static void start_conn(sim_http *h, int fd)
{
    conn *c = malloc(sizeof *c);
    pthread_t t;
    pthread_attr_t attr;
    if (c == NULL) {
        close(fd);
        return;
    }
    c->h = h;
    c->fd = fd;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&h->mu);
    h->live++;
    pthread_mutex_unlock(&h->mu);
    if (pthread_create(&t, &attr, serve, c) != 0) {
        pthread_mutex_lock(&h->mu);
        h->live--;
        pthread_mutex_unlock(&h->mu);
        close(fd);
        free(c);
    }
    pthread_attr_destroy(&attr);
}

static void *acceptor(void *arg)
{
    sim_http *h = arg;
    for (;;) {
        int r = wait_readable(h, h->lfd, 1000);
        if (r < 0)
            break;
        struct pollfd p = { h->wake[0], POLLIN, 0 };
        if (poll(&p, 1, 0) > 0)
            break; /* stopping */
        if (r == 0)
            continue;
        int fd = accept(h->lfd, NULL, NULL);
        if (fd >= 0)
            start_conn(h, fd);
    }
    return NULL;
}

static int listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 256) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

sim_http *sim_http_start(sim_handler_fn fn, void *ud, int *port)
{
    sim_http *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    h->fn = fn;
    h->ud = ud;
    h->lfd = listen_loopback(port);
    if (h->lfd < 0 || pipe2(h->wake, O_CLOEXEC) != 0) {
        if (h->lfd >= 0)
            close(h->lfd);
        free(h);
        return NULL;
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    if (pthread_create(&h->acceptor, NULL, acceptor, h) != 0) {
        close(h->lfd);
        close(h->wake[0]);
        close(h->wake[1]);
        free(h);
        return NULL;
    }
    return h;
}

void sim_http_stop(sim_http *h)
{
    if (h == NULL)
        return;
    ssize_t w;
    do
        w = write(h->wake[1], "x", 1);
    while (w < 0 && errno == EINTR);
    pthread_join(h->acceptor, NULL);
    close(h->lfd);
    pthread_mutex_lock(&h->mu);
    while (h->live > 0)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
    close(h->wake[0]);
    close(h->wake[1]);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
}

/* ---- client --------------------------------------------------------- */

static int connect_loopback(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Parse a complete response in b (len bytes): 1 done, 0 need more, -1 bad. */
static int parse_response(const char *b, size_t len, bool eof, int *status, size_t *body_off,
                          size_t *body_len)
{
    const char *end = memmem(b, len, "\r\n\r\n", 4);
    if (end == NULL)
        return eof ? -1 : 0;
    int minor = 0;
    if (sscanf(b, "HTTP/1.%d %d", &minor, status) != 2)
        return -1;
    *body_off = (size_t)(end - b) + 4;
    const char *cl = NULL;
    for (const char *p = b; p < end; p = strstr(p, "\r\n") + 2) {
        if (strncasecmp(p, "Content-Length:", 15) == 0) {
            cl = p + 15;
            break;
        }
    }
    if (cl == NULL) {
        *body_len = len - *body_off;
        return eof ? 1 : 0;
    }
    size_t want = strtoul(cl, NULL, 10);
    if (len - *body_off >= want) {
        *body_len = want;
        return 1;
    }
    return eof ? -1 : 0;
}

static int read_response(int fd, int *status, char **body_out)
{
    size_t cap = 8192, len = 0, off = 0, blen = 0;
    char *b = malloc(cap);
    long long deadline = now_ms() + 10000;
    int rc = b != NULL ? 0 : -1;
    bool eof = false;
    while (rc == 0) {
        int done = parse_response(b, len, eof, status, &off, &blen);
        if (done != 0) {
            rc = done == 1 ? 1 : -1;
            break;
        }
        long long left = deadline - now_ms();
        if (left <= 0 || wait_readable(NULL, fd, (int)left) != 1) {
            rc = -1;
            break;
        }
        if (len + 1024 >= cap) {
            char *nb = cap <= BODY_MAX ? realloc(b, cap * 2) : NULL;
            if (nb == NULL) {
                rc = -1;
                break;
            }
            b = nb;
            cap *= 2;
        }
        ssize_t r = recv(fd, b + len, cap - len - 1, 0);
        if (r < 0 && errno == EINTR)
            continue;
        eof = r <= 0;
        len += r > 0 ? (size_t)r : 0;
        b[len] = '\0';
    }
    if (rc == 1 && body_out != NULL) {
        *body_out = strndup(b + off, blen);
        rc = *body_out != NULL ? 1 : -1;
    }
    free(b);
    return rc == 1 ? 0 : -1;
}

int sim_http_post(int port, const char *path, const char *body, size_t len, int *status,
                  char **body_out)
{
    if (body_out != NULL)
        *body_out = NULL;
    int fd = connect_loopback(port);
    if (fd < 0)
        return -1;
    char head[1024];
    /* The header set Midtrans's notifier sends (plus the framing). */
    int n = snprintf(head, sizeof head,
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: application/json\r\n"
                     "Content-Type: application/json\r\nUser-Agent: Veritrans\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     path, port, len);
    int rc = -1;
    if (n > 0 && (size_t)n < sizeof head && send_all(fd, head, (size_t)n) == 0 &&
        (len == 0 || send_all(fd, body, len) == 0))
        rc = read_response(fd, status, body_out);
    close(fd);
    return rc;
}
