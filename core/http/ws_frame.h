/*
 * ws_frame.h — the WebSocket (RFC 6455) wire format without any I/O: an
 * incremental parser of client frames that reassembles messages and
 * enforces every protocol rule (masking, reserved bits, opcodes, control
 * frame size and fragmentation, continuation order, message size, UTF-8 of
 * text across fragments, close payloads), and the builder of server frames.
 * Used by ws.c on the loop thread; pure, so tests and the fuzzer drive it.
 */
#ifndef DM_WS_FRAME_H
#define DM_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/rbuf.h"

/* Opcodes (RFC 6455 5.2). */
enum {
    DM_WS_OP_CONT = 0x0,
    DM_WS_OP_TEXT = 0x1,
    DM_WS_OP_BINARY = 0x2,
    DM_WS_OP_CLOSE = 0x8,
    DM_WS_OP_PING = 0x9,
    DM_WS_OP_PONG = 0xA,
};

/* Close codes the core sends or reports (RFC 6455 7.4.1). */
enum {
    DM_WS_CLOSE_NORMAL = 1000,
    DM_WS_CLOSE_GOING_AWAY = 1001,
    DM_WS_CLOSE_PROTOCOL = 1002,
    DM_WS_CLOSE_NO_STATUS = 1005,   /* reported only: a close frame without a code */
    DM_WS_CLOSE_ABNORMAL = 1006,    /* reported only: no close frame at all */
    DM_WS_CLOSE_INVALID_DATA = 1007,
    DM_WS_CLOSE_POLICY = 1008,
    DM_WS_CLOSE_TOO_BIG = 1009,
    DM_WS_CLOSE_INTERNAL = 1011,
};

#define DM_WS_CONTROL_MAX 125 /* payload of a control frame */
#define DM_WS_REASON_MAX 123  /* a close reason: the control payload less the code */

typedef enum {
    DM_WS_EV_NONE,   /* the input is used up; nothing complete yet */
    DM_WS_EV_TEXT,   /* a whole text message, valid UTF-8 */
    DM_WS_EV_BINARY, /* a whole binary message */
    DM_WS_EV_PING,
    DM_WS_EV_PONG,
    DM_WS_EV_CLOSE,  /* the peer's close frame, checked */
    DM_WS_EV_ERROR,  /* a protocol error: close with code; the parser is done */
} dm_ws_ev_type;

typedef struct dm_ws_event {
    dm_ws_ev_type type;
    const char   *data; /* message or control payload; borrowed until the next call */
    size_t        len;
    int           code; /* CLOSE: the peer's code (1005 when it sent none);
                           ERROR: the code to close with (1002, 1007, 1009,
                           1011 when out of memory) */
    const char   *why;  /* ERROR: what was wrong (static text, fits a close reason) */
} dm_ws_event;

/* Incremental UTF-8 check that accepts a sequence cut anywhere: need is the
 * count of continuation bytes still owed, lo..hi the range of the next. */
typedef struct dm_ws_utf8 {
    uint8_t need, lo, hi;
} dm_ws_utf8;

typedef struct dm_ws_parser {
    size_t   max_message;  /* bytes of one reassembled message */
    bool     failed;       /* an error was returned; nothing more is parsed */
    int      fail_code;    /* and its close code and text */
    const char *fail_why;
    /* the frame header being read */
    uint8_t  hdr[14];
    size_t   hdr_len;
    /* the frame whose payload is being read */
    bool     in_payload;
    bool     fin;
    uint8_t  opcode;
    uint8_t  mask[4];
    uint64_t left;         /* payload bytes still to come */
    uint64_t frame_end;    /* msg_len once this data frame is whole */
    size_t   mask_at;      /* payload bytes unmasked so far, mod 4 */
    /* the data message being reassembled (msg_op 0: none open) */
    uint8_t  msg_op;
    char    *msg;          /* owned */
    size_t   msg_len, msg_cap;
    dm_ws_utf8 utf8;
    bool     delivered;    /* msg was handed out: reset at the next call */
    /* the control frame being read */
    char     ctl[DM_WS_CONTROL_MAX];
    size_t   ctl_len;
} dm_ws_parser;

/* Ready a parser for client frames (masked) of messages up to max_message. */
void dm__ws_parser_init(dm_ws_parser *p, size_t max_message);
/* Release what the parser holds; it may be initialised again. */
void dm__ws_parser_fini(dm_ws_parser *p);

/*
 * Parse up to len bytes of in. Returns how many were used and fills *ev:
 * parsing stops after each complete message, control frame or error, so the
 * caller handles the event and calls again with the rest. ev->type NONE
 * means every byte was used without completing anything. After an ERROR
 * the parser returns the same error again and uses nothing. Errors are
 * found as soon as the offending byte is seen (a frame need not be whole).
 */
size_t dm__ws_parse(dm_ws_parser *p, const char *in, size_t len, dm_ws_event *ev);

/* Feed bytes to an incremental UTF-8 check; false at the first byte that
 * cannot be part of well-formed UTF-8 (U+0000 is well-formed here). A text
 * is complete and valid when every call returned true and u->need is 0. */
bool dm__ws_utf8_feed(dm_ws_utf8 *u, const unsigned char *s, size_t n);

/* True for a close code a peer may send (1000-1003, 1007-1014, 3000-4999). */
bool dm__ws_close_code_valid(int code);

/* Size of the header of an unmasked server frame with len payload bytes. */
size_t dm__ws_header_len(uint64_t len);
/* Write that header (fin set) for opcode into out (14 bytes are enough);
 * returns its size. */
size_t dm__ws_header_write(uint8_t *out, int opcode, uint64_t len);

/* A whole server frame (header + payload) in a shared buffer: new, one
 * reference; NULL when out of memory. Any thread. */
dm_rbuf *dm__ws_frame(int opcode, const char *data, size_t len);
/* A close frame with code and reason (cut to DM_WS_REASON_MAX bytes at a
 * UTF-8 boundary; NULL = none). New, one reference; NULL when out of memory. */
dm_rbuf *dm__ws_frame_close(int code, const char *reason);

#endif
