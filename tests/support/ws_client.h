/*
 * ws_client.h — a raw WebSocket client for tests against an in-process
 * server (inproc.h): it builds frames byte by byte (masked or not, any
 * opcode, any flags), sends them in pieces with the server's loop turned in
 * between, and reads the server's frames with a parser of its own, so a
 * test sees exactly the bytes on the wire. Failures fail the current test.
 */
#ifndef DM_WS_CLIENT_H
#define DM_WS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inproc.h"

#define DM_WSC_T_MS 5000 /* deadline of one expected event (sanitizer builds are slow) */

typedef struct dm_wsc {
    dm_inproc *srv;
    int        fd;
    uint8_t   *in;     /* bytes received, not yet consumed */
    size_t     in_len, in_cap;
    bool       eof;    /* the server closed (FIN or reset) */
} dm_wsc;

typedef struct dm_wsc_frame {
    bool     fin;
    int      rsv;      /* the three reserved bits */
    int      opcode;
    bool     masked;
    uint8_t *payload;  /* owned (NUL-terminated); free with dm_wsc_frame_free */
    size_t   len;
    size_t   header_len;
} dm_wsc_frame;

/* Connect to srv (TCP only); rcvbuf > 0 sets SO_RCVBUF first. */
void dm_wsc_open(dm_wsc *c, dm_inproc *srv, int rcvbuf);
void dm_wsc_close(dm_wsc *c);

/* Send every byte, turning the server's loop while the socket is full. */
void dm_wsc_send(dm_wsc *c, const void *data, size_t len);
/* The same, then turn the loop until the server has read all of it (or
 * closed): what follows arrives in another read. */
void dm_wsc_send_synced(dm_wsc *c, const void *data, size_t len);

/* Turn the loop until at least want bytes are buffered, the server closed
 * or timeout_ms passed; true when want bytes are there. */
bool dm_wsc_fill(dm_wsc *c, size_t want, int timeout_ms);
/* Drop the first n buffered bytes. */
void dm_wsc_consume(dm_wsc *c, size_t n);

/* Send request (all of it) and return the response head (new string, up
 * to and without the blank line), consumed from the buffer; NULL when the
 * server closed or said nothing in time. */
char *dm_wsc_request(dm_wsc *c, const char *request);
/* An opening handshake for path with the RFC 6455 example key and extra
 * header lines (each ending in \r\n; NULL for none), as text (new string). */
char *dm_wsc_handshake_text(const char *path, const char *extra);
/* A handshake that must succeed: 101 with the right accept value. */
void dm_wsc_handshake(dm_wsc *c, const char *path);

/* Write a frame into out (room for len + 14 bytes); returns its size.
 * first_byte is FIN|RSV|opcode as sent; masked uses a fixed mask. */
size_t dm_wsc_build(uint8_t *out, uint8_t first_byte, bool masked, const void *payload, size_t len);
/* Build and send one masked frame with fin and opcode. */
void dm_wsc_send_frame(dm_wsc *c, bool fin, int opcode, const void *payload, size_t len);

/* Read one whole server frame within timeout_ms: true and *f filled, or
 * false when the server closed or nothing came. */
bool dm_wsc_read_frame(dm_wsc *c, dm_wsc_frame *f, int timeout_ms);
void dm_wsc_frame_free(dm_wsc_frame *f);
/* The next frame must be a data frame of opcode with exactly this payload. */
void dm_wsc_expect_message(dm_wsc *c, int opcode, const void *payload, size_t len);
/* The next frame must be a close with code (and reason, when not NULL). */
void dm_wsc_expect_close(dm_wsc *c, int code, const char *reason);
/* Wait until the server closes; true when it did within timeout_ms. */
bool dm_wsc_wait_eof(dm_wsc *c, int timeout_ms);

#endif
