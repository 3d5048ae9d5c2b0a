/*
 * ws_frame.c — the WebSocket wire format (ws_frame.h): a byte-driven parser
 * of client frames whose every check fires on the first byte that breaks a
 * rule, so a frame cut anywhere across reads is judged the same as a whole
 * one; and the builders of the (never masked) server frames.
 */
#include "http/ws_frame.h"

#include <stdlib.h>
#include <string.h>

#define MSG_FIRST_CAP (4u * 1024u)   /* first allocation for a message */
#define MSG_KEEP_CAP  (64u * 1024u)  /* a larger buffer is freed after its message */

/* ---- UTF-8 ----------------------------------------------------------- */

bool dm__ws_utf8_feed(dm_ws_utf8 *u, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t b = s[i];
        if (u->need > 0) {
            if (b < u->lo || b > u->hi)
                return false;
            u->need--;
            u->lo = 0x80;
            u->hi = 0xBF;
            continue;
        }
        if (b < 0x80)
            continue;
        /* A lead byte: how many continuation bytes follow, and the range of
         * the first of them, which excludes overlong forms (E0, F0),
         * surrogates (ED) and code points past U+10FFFF (F4). */
        u->lo = 0x80;
        u->hi = 0xBF;
        if (b < 0xC2) {
            return false; /* a stray continuation byte, or an overlong C0/C1 */
        } else if (b < 0xE0) {
            u->need = 1;
        } else if (b < 0xF0) {
            u->need = 2;
            if (b == 0xE0)
                u->lo = 0xA0;
            else if (b == 0xED)
                u->hi = 0x9F;
        } else if (b < 0xF5) {
            u->need = 3;
            if (b == 0xF0)
                u->lo = 0x90;
            else if (b == 0xF4)
                u->hi = 0x8F;
        } else {
            return false;
        }
    }
    return true;
}

bool dm__ws_close_code_valid(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/* ---- the parser ------------------------------------------------------- */

void dm__ws_parser_init(dm_ws_parser *p, size_t max_message)
{
    memset(p, 0, sizeof *p);
    p->max_message = max_message;
}

void dm__ws_parser_fini(dm_ws_parser *p)
{
    free(p->msg);
    memset(p, 0, sizeof *p);
}

static bool is_control(uint8_t op)
{
    return (op & 0x8) != 0;
}

static void fail(dm_ws_parser *p, dm_ws_event *ev, int code, const char *why)
{
    p->failed = true;
    p->fail_code = code;
    p->fail_why = why;
    ev->type = DM_WS_EV_ERROR;
    ev->code = code;
    ev->why = why;
}

/* The rules the first byte alone decides (all 1002). */
static const char *check_first(const dm_ws_parser *p, uint8_t b0)
{
    uint8_t op = b0 & 0x0F;
    bool fin = (b0 & 0x80) != 0;
    if ((b0 & 0x70) != 0)
        return "reserved bits set without an extension";
    if (is_control(op)) {
        if (op > DM_WS_OP_PONG)
            return "unknown opcode";
        return fin ? NULL : "fragmented control frame";
    }
    if (op > DM_WS_OP_BINARY)
        return "unknown opcode";
    if (op == DM_WS_OP_CONT && p->msg_op == 0)
        return "continuation frame without a message";
    if (op != DM_WS_OP_CONT && p->msg_op != 0)
        return "new message inside a fragmented one";
    return NULL;
}

/* The rules the second byte decides (all 1002). */
static const char *check_second(uint8_t b0, uint8_t b1)
{
    if ((b1 & 0x80) == 0)
        return "unmasked client frame";
    if (is_control(b0 & 0x0F) && (b1 & 0x7F) > DM_WS_CONTROL_MAX)
        return "control frame over 125 bytes";
    return NULL;
}

/* Header bytes the frame needs, known once its first two are in. */
static size_t header_need(const uint8_t *h)
{
    uint8_t l = h[1] & 0x7F;
    return 2 + (l == 126 ? 2 : l == 127 ? 8 : 0) + ((h[1] & 0x80) ? 4 : 0);
}

/* The header is whole: check the length and start the payload. */
static void start_frame(dm_ws_parser *p, dm_ws_event *ev)
{
    const uint8_t *h = p->hdr;
    uint8_t l = h[1] & 0x7F;
    uint64_t len = l;
    size_t at = 2;
    if (l == 126) {
        len = ((uint64_t)h[2] << 8) | h[3];
        at = 4;
    } else if (l == 127) {
        if (h[2] & 0x80) {
            fail(p, ev, DM_WS_CLOSE_PROTOCOL, "frame length has its top bit set");
            return;
        }
        len = 0;
        for (int i = 0; i < 8; i++)
            len = (len << 8) | h[2 + i];
        at = 10;
    }
    memcpy(p->mask, h + at, 4);
    p->hdr_len = 0;
    p->fin = (h[0] & 0x80) != 0;
    p->opcode = h[0] & 0x0F;
    if (!is_control(p->opcode)) {
        /* Checked on the declared length, before a byte is buffered. */
        if (len > (uint64_t)(p->max_message - p->msg_len)) {
            fail(p, ev, DM_WS_CLOSE_TOO_BIG, "message too big");
            return;
        }
        if (p->opcode != DM_WS_OP_CONT) {
            p->msg_op = p->opcode;
            memset(&p->utf8, 0, sizeof p->utf8);
        }
        p->frame_end = p->msg_len + (size_t)len;
    } else {
        p->ctl_len = 0;
    }
    p->left = len;
    p->mask_at = 0;
    p->in_payload = true;
}

/* Read header bytes; may complete the header (then in_payload is set) or
 * fail. Returns the bytes used. */
static size_t read_header(dm_ws_parser *p, const uint8_t *s, size_t n, dm_ws_event *ev)
{
    size_t used = 0;
    while (used < n) {
        p->hdr[p->hdr_len++] = s[used++];
        const char *why = NULL;
        if (p->hdr_len == 1)
            why = check_first(p, p->hdr[0]);
        else if (p->hdr_len == 2)
            why = check_second(p->hdr[0], p->hdr[1]);
        if (why != NULL) {
            fail(p, ev, DM_WS_CLOSE_PROTOCOL, why);
            return used;
        }
        if (p->hdr_len >= 2 && p->hdr_len == header_need(p->hdr)) {
            start_frame(p, ev);
            return used;
        }
    }
    return used;
}

/* Room for need bytes of message; grows with what has arrived (never
 * straight to a declared length that may never come), up to limit. */
static bool reserve(dm_ws_parser *p, size_t need, size_t limit)
{
    if (need <= p->msg_cap)
        return true;
    size_t cap = p->msg_cap > 0 ? p->msg_cap * 2 : MSG_FIRST_CAP;
    if (cap < need)
        cap = need;
    if (cap > limit)
        cap = limit; /* limit >= need */
    char *m = realloc(p->msg, cap);
    if (m == NULL)
        return false;
    p->msg = m;
    p->msg_cap = cap;
    return true;
}

static void unmask_into(dm_ws_parser *p, char *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)(src[i] ^ p->mask[(p->mask_at + i) & 3]);
    p->mask_at = (p->mask_at + n) & 3;
}

/* Read payload bytes of the current frame. Returns the bytes used. */
static size_t read_payload(dm_ws_parser *p, const uint8_t *s, size_t n, dm_ws_event *ev)
{
    size_t take = p->left < n ? (size_t)p->left : n;
    if (is_control(p->opcode)) {
        unmask_into(p, p->ctl + p->ctl_len, s, take);
        p->ctl_len += take;
    } else {
        if (!reserve(p, p->msg_len + take, p->frame_end)) {
            fail(p, ev, DM_WS_CLOSE_INTERNAL, "out of memory");
            return take;
        }
        char *dst = p->msg + p->msg_len;
        unmask_into(p, dst, s, take);
        p->msg_len += take;
        if (p->msg_op == DM_WS_OP_TEXT && !dm__ws_utf8_feed(&p->utf8, (const unsigned char *)dst, take)) {
            fail(p, ev, DM_WS_CLOSE_INVALID_DATA, "invalid UTF-8 in a text message");
            return take;
        }
    }
    p->left -= take;
    return take;
}

/* A close frame's payload: nothing, or a valid code and a UTF-8 reason. */
static void close_event(dm_ws_parser *p, dm_ws_event *ev)
{
    if (p->ctl_len == 0) {
        ev->type = DM_WS_EV_CLOSE;
        ev->code = DM_WS_CLOSE_NO_STATUS;
        return;
    }
    if (p->ctl_len == 1) {
        fail(p, ev, DM_WS_CLOSE_PROTOCOL, "close frame of one byte");
        return;
    }
    int code = ((uint8_t)p->ctl[0] << 8) | (uint8_t)p->ctl[1];
    dm_ws_utf8 u = { 0 };
    if (!dm__ws_close_code_valid(code)) {
        fail(p, ev, DM_WS_CLOSE_PROTOCOL, "invalid close code");
        return;
    }
    if (!dm__ws_utf8_feed(&u, (const unsigned char *)p->ctl + 2, p->ctl_len - 2) || u.need != 0) {
        fail(p, ev, DM_WS_CLOSE_PROTOCOL, "close reason is not UTF-8");
        return;
    }
    ev->type = DM_WS_EV_CLOSE;
    ev->code = code;
    ev->data = p->ctl + 2;
    ev->len = p->ctl_len - 2;
}

/* The current frame's payload is complete. */
static void finish_frame(dm_ws_parser *p, dm_ws_event *ev)
{
    p->in_payload = false;
    switch (p->opcode) {
    case DM_WS_OP_PING:
    case DM_WS_OP_PONG:
        ev->type = p->opcode == DM_WS_OP_PING ? DM_WS_EV_PING : DM_WS_EV_PONG;
        ev->data = p->ctl;
        ev->len = p->ctl_len;
        return;
    case DM_WS_OP_CLOSE:
        close_event(p, ev);
        return;
    default:
        break;
    }
    if (!p->fin)
        return;
    if (p->msg_op == DM_WS_OP_TEXT && p->utf8.need != 0) {
        fail(p, ev, DM_WS_CLOSE_INVALID_DATA, "text message ends inside a UTF-8 sequence");
        return;
    }
    ev->type = p->msg_op == DM_WS_OP_TEXT ? DM_WS_EV_TEXT : DM_WS_EV_BINARY;
    ev->data = p->msg_len > 0 ? p->msg : "";
    ev->len = p->msg_len;
    p->msg_op = 0;
    p->delivered = true;
}

size_t dm__ws_parse(dm_ws_parser *p, const char *in, size_t len, dm_ws_event *ev)
{
    memset(ev, 0, sizeof *ev);
    if (p->failed) {
        ev->type = DM_WS_EV_ERROR;
        ev->code = p->fail_code;
        ev->why = p->fail_why;
        return 0;
    }
    if (p->delivered) { /* the last message was handed out: its bytes may go */
        p->delivered = false;
        p->msg_len = 0;
        if (p->msg_cap > MSG_KEEP_CAP) {
            free(p->msg);
            p->msg = NULL;
            p->msg_cap = 0;
        }
    }
    const uint8_t *s = (const uint8_t *)in;
    size_t used = 0;
    while (used < len) {
        if (p->in_payload)
            used += read_payload(p, s + used, len - used, ev);
        else
            used += read_header(p, s + used, len - used, ev);
        if (ev->type != DM_WS_EV_NONE)
            return used;
        if (p->in_payload && p->left == 0) {
            finish_frame(p, ev);
            if (ev->type != DM_WS_EV_NONE)
                return used;
        }
    }
    return used;
}

/* ---- server frames ---------------------------------------------------- */

size_t dm__ws_header_len(uint64_t len)
{
    return len < 126 ? 2 : len <= 0xFFFF ? 4 : 10;
}

size_t dm__ws_header_write(uint8_t *out, int opcode, uint64_t len)
{
    out[0] = (uint8_t)(0x80 | (opcode & 0x0F));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

dm_rbuf *dm__ws_frame(int opcode, const char *data, size_t len)
{
    size_t h = dm__ws_header_len(len);
    if (len > SIZE_MAX - h)
        return NULL;
    dm_rbuf *b = dm__rbuf_alloc(h + len);
    if (b == NULL)
        return NULL;
    dm__ws_header_write((uint8_t *)b->data, opcode, len);
    if (len > 0)
        memcpy(b->data + h, data, len);
    return b;
}

dm_rbuf *dm__ws_frame_close(int code, const char *reason)
{
    char payload[2 + DM_WS_REASON_MAX];
    payload[0] = (char)(code >> 8);
    payload[1] = (char)(code & 0xFF);
    size_t n = reason != NULL ? strlen(reason) : 0;
    if (n > DM_WS_REASON_MAX) {
        n = DM_WS_REASON_MAX;
        /* Drop the whole sequence the cut falls in, so the reason stays UTF-8. */
        while (n > 0 && ((unsigned char)reason[n] & 0xC0) == 0x80)
            n--;
    }
    if (n > 0)
        memcpy(payload + 2, reason, n);
    return dm__ws_frame(DM_WS_OP_CLOSE, payload, 2 + n);
}
