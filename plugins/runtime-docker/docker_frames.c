/*
 * docker_frames.c — the Docker log stream parser of docker_frames.h: a
 * byte-at-a-time state machine over the 8-byte frame headers (so frames and
 * headers may split anywhere across reads), per-stream line assembly, and
 * the timestamp prefix. No I/O and no engine knowledge.
 */
#include "docker_frames.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void dk_frames_init(dk_frames *f, bool raw, dk_line_fn emit, void *opaque)
{
    memset(f, 0, sizeof *f);
    f->raw = raw;
    f->emit = emit;
    f->opaque = opaque;
}

void dk_frames_free(dk_frames *f)
{
    for (int i = 0; i < 2; i++) {
        free(f->buf[i]);
        f->buf[i] = NULL;
        f->len[i] = 0;
    }
}

/* Deliver stream s's pending line; a trailing '\r' is dropped. */
static int flush_line(dk_frames *f, int s)
{
    size_t n = f->len[s];
    f->len[s] = 0;
    if (n > 0 && f->buf[s][n - 1] == '\r')
        n--;
    return f->emit(f->opaque, (uint32_t)s + 1, f->buf[s] != NULL ? f->buf[s] : "", n) != 0 ? 1 : 0;
}

/* Payload bytes of stream s (0 stdout, 1 stderr) into lines. */
static int payload(dk_frames *f, int s, const char *data, size_t len)
{
    if (f->buf[s] == NULL && (f->buf[s] = malloc(DK_LINE_MAX)) == NULL)
        return -2;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t take = nl != NULL ? (size_t)(nl - (data + i)) : len - i;
        size_t room = DK_LINE_MAX - f->len[s];
        bool split = take > room;
        if (split)
            take = room;
        memcpy(f->buf[s] + f->len[s], data + i, take);
        f->len[s] += take;
        i += take;
        if (nl != NULL && !split) {
            i++; /* the newline */
            if (flush_line(f, s) != 0)
                return 1;
        } else if (f->len[s] == DK_LINE_MAX && flush_line(f, s) != 0) {
            return 1;
        }
    }
    return 0;
}

/* A complete header in f->hdr: check and start its frame. Stream 0
 * (stdin, echoed for attach) is shown as stdout. */
static int header(dk_frames *f)
{
    if (f->hdr[0] > 2 || f->hdr[1] != 0 || f->hdr[2] != 0 || f->hdr[3] != 0)
        return -3;
    f->stream = f->hdr[0] == 2 ? 1 : 0;
    f->remaining = ((uint64_t)f->hdr[4] << 24) | ((uint64_t)f->hdr[5] << 16) |
                   ((uint64_t)f->hdr[6] << 8) | (uint64_t)f->hdr[7];
    f->hdr_len = 0;
    return 0;
}

int dk_frames_feed(dk_frames *f, const char *data, size_t len)
{
    if (f->raw)
        return payload(f, 0, data, len);
    size_t i = 0;
    while (i < len) {
        if (f->remaining == 0) {
            f->hdr[f->hdr_len++] = (unsigned char)data[i++];
            if (f->hdr_len == sizeof f->hdr) {
                int rc = header(f);
                if (rc != 0)
                    return rc;
            }
            continue;
        }
        size_t take = len - i;
        if ((uint64_t)take > f->remaining)
            take = (size_t)f->remaining;
        int rc = payload(f, (int)f->stream, data + i, take);
        if (rc != 0)
            return rc;
        f->remaining -= take;
        i += take;
    }
    return 0;
}

int dk_frames_finish(dk_frames *f)
{
    f->truncated = !f->raw && (f->hdr_len != 0 || f->remaining != 0);
    for (int s = 0; s < 2; s++) {
        if (f->len[s] > 0 && flush_line(f, s) != 0)
            return 1;
    }
    return 0;
}

/* n digits at p as a number, or -1. */
static int digits(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* The zone at p (len bytes left): 'Z' or ±hh:mm. Bytes used, 0 if none;
 * *off_s gets the offset east of UTC. */
static size_t zone(const char *p, size_t len, long *off_s)
{
    *off_s = 0;
    if (len >= 1 && p[0] == 'Z')
        return 1;
    if (len < 6 || (p[0] != '+' && p[0] != '-') || p[3] != ':')
        return 0;
    int hh = digits(p + 1, 2), mm = digits(p + 4, 2);
    if (hh < 0 || mm < 0 || hh > 23 || mm > 59)
        return 0;
    *off_s = (p[0] == '-' ? -1L : 1L) * (hh * 3600L + mm * 60L);
    return 6;
}

size_t dk_log_timestamp(const char *line, size_t len, int64_t *ts_ms)
{
    /* YYYY-MM-DDTHH:MM:SS is 19 bytes. */
    if (len < 21 || line[4] != '-' || line[7] != '-' || line[10] != 'T' || line[13] != ':' ||
        line[16] != ':')
        return 0;
    int y = digits(line, 4), mo = digits(line + 5, 2), d = digits(line + 8, 2);
    int h = digits(line + 11, 2), mi = digits(line + 14, 2), s = digits(line + 17, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 ||
        mi > 59 || s < 0 || s > 60)
        return 0;
    size_t i = 19;
    long ms = 0;
    if (line[i] == '.') {
        int scale = 100;
        for (i++; i < len && line[i] >= '0' && line[i] <= '9'; i++) {
            ms += (line[i] - '0') * scale;
            scale /= 10;
        }
    }
    long off = 0;
    size_t z = zone(line + i, len - i, &off);
    if (z == 0)
        return 0;
    i += z;
    if (i >= len || line[i] != ' ')
        return 0;
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                     .tm_min = mi, .tm_sec = s };
    time_t t = timegm(&tm);
    *ts_ms = ((int64_t)t - off) * 1000 + ms;
    return i + 1;
}
