/*
 * bench/lines.c — the container of bench/logs.sh: a log line generator.
 * It is quiet until told to print, so that idle subscribers can be measured
 * and Podman's log file does not grow between measurements. It listens on
 * TCP port $CONTROL_PORT (default 8080, the port the bench template
 * publishes); a connection that sends "burst RATE SECONDS\n" is answered
 * "ok\n" and closed, then the program prints for SECONDS at RATE lines/s
 * (0: as fast as it can) and goes quiet again. Any other connection (the
 * server's TCP health probe) is closed. Each line carries the time it was
 * printed, so a receiver on the same machine can measure its lag:
 *   t=<CLOCK_REALTIME ns> seq=<n> xxxx…      (LINE_BYTES long, default 100)
 * and the burst ends with "t=<ns> seq=<n> end lines=<n>".
 * Static, so that the image needs nothing but this file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH_BYTES 16384 /* lines gathered into one write when unlimited */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long env_long(const char *name, long dflt, long lo, long hi)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return dflt;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return errno == 0 && *end == '\0' && v >= lo && v <= hi ? v : dflt;
}

/* All of buf to stdout; a pipe that is full blocks us, which is the point. */
static void put(const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            exit(1);
        buf += w;
        n -= (size_t)w;
    }
}

/* One line into dst (room for line_bytes + 1): its time, number, padding. */
static size_t format_line(char *dst, size_t line_bytes, uint64_t seq)
{
    int n = snprintf(dst, line_bytes + 1, "t=%lld seq=%llu ", (long long)now_ns(), (unsigned long long)seq);
    size_t len = n > 0 ? (size_t)n : 0;
    if (len < line_bytes) {
        memset(dst + len, 'x', line_bytes - len);
        len = line_bytes;
    }
    dst[len++] = '\n';
    return len;
}

static void burst(long rate, long seconds, size_t line_bytes)
{
    static char buf[BATCH_BYTES + 1024];
    uint64_t seq = 0;
    int64_t start = now_ns(), end = start + (int64_t)seconds * 1000000000;
    for (int64_t t = start; t < end; t = now_ns()) {
        /* Unlimited: a batch. Limited: the lines due by now, written at
         * once every millisecond, so a line's lag is not our pacing. */
        uint64_t due = rate == 0 ? seq + BATCH_BYTES / (line_bytes + 1)
                                 : (uint64_t)((__int128)(t - start) * rate / 1000000000);
        size_t used = 0;
        while (seq < due) {
            if (used + line_bytes + 1 > BATCH_BYTES) {
                put(buf, used);
                used = 0;
            }
            used += format_line(buf + used, line_bytes, ++seq);
        }
        put(buf, used);
        if (rate != 0) {
            struct timespec ms = { 0, 1000000 };
            nanosleep(&ms, NULL);
        }
    }
    int n = snprintf(buf, sizeof buf, "t=%lld seq=%llu end lines=%llu\n", (long long)now_ns(),
                     (unsigned long long)seq + 1, (unsigned long long)seq);
    put(buf, n > 0 ? (size_t)n : 0);
}

/* "burst RATE SECONDS": true and the two numbers when well formed. */
static int parse_command(const char *s, long *rate, long *seconds)
{
    if (strncmp(s, "burst ", 6) != 0)
        return 0;
    char *end;
    errno = 0;
    *rate = strtol(s + 6, &end, 10);
    if (errno != 0 || end == s + 6 || *end != ' ' || *rate < 0 || *rate > 100000000)
        return 0;
    const char *p = end + 1;
    *seconds = strtol(p, &end, 10);
    return errno == 0 && end != p && (*end == '\n' || *end == '\r' || *end == '\0') && *seconds > 0
           && *seconds <= 3600;
}

int main(void)
{
    long port = env_long("CONTROL_PORT", 8080, 1, 65535);
    size_t line_bytes = (size_t)env_long("LINE_BYTES", 100, 40, 8192);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_ANY) };
    if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0
        || bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 16) != 0) {
        perror("lines: control socket");
        return 1;
    }
    char hello[128];
    int n = snprintf(hello, sizeof hello, "t=%lld seq=0 ready: control port %ld, %zu-byte lines\n",
                     (long long)now_ns(), port, line_bytes);
    put(hello, n > 0 ? (size_t)n : 0);
    for (;;) {
        int c = accept(ls, NULL, NULL);
        if (c < 0)
            continue;
        char cmd[64] = { 0 };
        size_t got = 0;
        while (got < sizeof cmd - 1 && memchr(cmd, '\n', got) == NULL) {
            ssize_t r = read(c, cmd + got, sizeof cmd - 1 - got);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        long rate, seconds;
        int ok = parse_command(cmd, &rate, &seconds);
        if (ok && write(c, "ok\n", 3) != 3)
            ok = 0;
        close(c);
        if (ok)
            burst(rate, seconds, line_bytes);
    }
}
