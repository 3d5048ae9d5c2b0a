/*
 * docker_frames.h — the parser of the Docker log stream: the 8-byte
 * multiplexed framing (stream byte, three zero bytes, big-endian length,
 * then that many bytes) or a raw stream (TTY containers), cut into lines per
 * stream, plus the RFC 3339 timestamp that timestamps=1 puts before each
 * line. Pure C with no I/O, so tests feed it fixed byte strings.
 */
#ifndef DM_DOCKER_FRAMES_H
#define DM_DOCKER_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A line longer than this is delivered in pieces of this size. */
#define DK_LINE_MAX 16384

/* One complete line (no newline; borrowed for the call). stream is 1
 * stdout or 2 stderr. Non-zero: stop parsing (feed returns 1). */
typedef int (*dk_line_fn)(void *opaque, uint32_t stream, const char *line, size_t len);

typedef struct dk_frames {
    dk_line_fn    emit;
    void         *opaque;
    bool          raw;        /* no framing: everything is stdout */
    bool          truncated;  /* finish found the stream ended inside a frame */
    unsigned char hdr[8];
    size_t        hdr_len;
    uint32_t      stream;     /* of the frame being read */
    uint64_t      remaining;  /* payload bytes of that frame still to come */
    char         *buf[2];     /* partial line of stdout, stderr */
    size_t        len[2];
} dk_frames;

/* Start a parser (no allocation yet). */
void dk_frames_init(dk_frames *f, bool raw, dk_line_fn emit, void *opaque);

/* Feed len bytes (borrowed; any split across calls). 0 go on, 1 emit asked
 * to stop, -3 (DM_EIO) a malformed header (garbage), -2 (DM_ENOMEM). After
 * a non-zero return feed no more. */
int dk_frames_feed(dk_frames *f, const char *data, size_t len);

/* The stream ended: deliver partial lines. 0, or 1 when emit asked to stop.
 * Sets truncated when it ended inside a header or a frame. */
int dk_frames_finish(dk_frames *f);

/* Free the buffers; idempotent. */
void dk_frames_free(dk_frames *f);

/* If line starts with an RFC 3339 timestamp ("2024-05-01T10:00:00.123456789Z"
 * or with a +hh:mm offset) and a space, store it as Unix ms in *ts_ms and
 * return how many bytes it takes (with the space); else return 0. */
size_t dk_log_timestamp(const char *line, size_t len, int64_t *ts_ms);

#endif /* DM_DOCKER_FRAMES_H */
