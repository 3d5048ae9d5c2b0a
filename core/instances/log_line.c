/*
 * log_line.c — the line rules and the event encoding of log_line.h. One
 * pass over the raw bytes writes the shown text into a buffer the caller
 * sized for the cap, so a very long line costs no more than the cap; the
 * event is then sized exactly and written once.
 */
#include "instances/log_line.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <dermaga/runtime.h>

#include "util/clock.h"
#include "util/utf8.h"

#define ESC 0x1b
#define BEL 0x07

/* U+FFFD REPLACEMENT CHARACTER in UTF-8. */
static const char REPLACEMENT[] = "\xef\xbf\xbd";

/* ---- escape sequences ------------------------------------------------------ */

/* Past a string sequence (OSC, DCS, SOS, PM, APC) whose body starts at i:
 * it ends with BEL or ST (ESC \); unterminated, it runs to the end. */
static size_t skip_string(const unsigned char *p, size_t i, size_t len)
{
    for (; i < len; i++) {
        if (p[i] == BEL)
            return i + 1;
        if (p[i] == ESC && i + 1 < len && p[i + 1] == '\\')
            return i + 2;
    }
    return len;
}

/* Past the escape sequence whose ESC is at i (ECMA-48): CSI (ESC [,
 * parameter and intermediate bytes, one final byte), the string sequences,
 * ESC with intermediates and a final byte, and two-byte ESC x. A sequence
 * broken off by another byte ends before it; a lone ESC is one byte. */
static size_t skip_escape(const unsigned char *p, size_t i, size_t len)
{
    if (i + 1 >= len)
        return len;
    unsigned char b = p[i + 1];
    size_t j = i + 2;
    if (b == '[') {
        while (j < len && p[j] >= 0x30 && p[j] <= 0x3f) /* parameters */
            j++;
        while (j < len && p[j] >= 0x20 && p[j] <= 0x2f) /* intermediates */
            j++;
        return j < len && p[j] >= 0x40 && p[j] <= 0x7e ? j + 1 : j;
    }
    if (b == ']' || b == 'P' || b == 'X' || b == '^' || b == '_')
        return skip_string(p, j, len);
    if (b >= 0x20 && b <= 0x2f) {
        while (j < len && p[j] >= 0x20 && p[j] <= 0x2f)
            j++;
        return j < len && p[j] >= 0x30 && p[j] <= 0x7e ? j + 1 : j;
    }
    if (b >= 0x30 && b <= 0x7e)
        return i + 2;
    return i + 1;
}

/* ---- cleaning -------------------------------------------------------------- */

typedef struct out_text {
    char  *out;
    size_t n;
    size_t max;
    bool   cut; /* something did not fit */
} out_text;

/* Append k bytes (one character); false when they do not fit. */
static bool put(out_text *o, const void *bytes, size_t k)
{
    if (o->n + k > o->max) {
        o->cut = true;
        return false;
    }
    memcpy(o->out + o->n, bytes, k);
    o->n += k;
    return true;
}

/* Make room for the cut mark by dropping whole characters from the end
 * (the text is valid UTF-8, so a character starts at a non-continuation
 * byte), then add the mark. */
static void mark_cut(out_text *o)
{
    const size_t mark = sizeof DM_LOG_LINE_CUT_MARK - 1;
    while (o->n > o->max - mark) {
        do
            o->n--;
        while (o->n > 0 && ((unsigned char)o->out[o->n] & 0xc0) == 0x80);
    }
    memcpy(o->out + o->n, DM_LOG_LINE_CUT_MARK, mark);
    o->n += mark;
}

/* Where the shown text starts and ends: trailing carriage returns go, and
 * of what is left only what follows the last carriage return shows (the
 * line a terminal shows after a progress bar redrew itself). */
static void visible_span(const char *s, size_t len, size_t *from, size_t *to)
{
    while (len > 0 && s[len - 1] == '\r')
        len--;
    const char *cr = len > 0 ? memrchr(s, '\r', len) : NULL;
    *from = cr != NULL ? (size_t)(cr - s) + 1 : 0;
    *to = len;
}

size_t dm__log_line_clean(const char *s, size_t len, size_t max, char *out)
{
    const unsigned char *p = (const unsigned char *)s;
    out_text o = { .out = out, .max = max };
    size_t i, end;
    visible_span(s, len, &i, &end);
    while (i < end) {
        unsigned char c = p[i];
        if (c == ESC) {
            i = skip_escape(p, i, end);
            continue;
        }
        size_t k = c == 0 ? 0 : dm__utf8_seq_len(p + i, end - i);
        bool ok = true;
        if (k == 0)
            ok = put(&o, REPLACEMENT, 3); /* NUL, or not the start of a sequence */
        else if (k == 1 && ((c < 0x20 && c != '\t') || c == 0x7f))
            ; /* a C0 control or DEL: removed */
        else if (k == 2 && c == 0xc2 && p[i + 1] < 0xa0)
            ; /* a C1 control (U+0080..U+009F): removed */
        else
            ok = put(&o, p + i, k);
        if (!ok)
            break;
        i += k == 0 ? 1 : k;
    }
    if (o.cut)
        mark_cut(&o);
    out[o.n] = '\0';
    return o.n;
}

/* ---- the event ------------------------------------------------------------- */

/* The JSON escape of byte c, or NULL when it goes as it is; *buf receives
 * \u00XX forms. Text is valid UTF-8, so bytes >= 0x80 go unchanged. */
static const char *json_escape(unsigned char c, char buf[7])
{
    switch (c) {
    case '"':  return "\\\"";
    case '\\': return "\\\\";
    case '\t': return "\\t";
    case '\n': return "\\n";
    case '\r': return "\\r";
    default:
        if (c >= 0x20)
            return NULL;
        snprintf(buf, 7, "\\u%04x", c);
        return buf;
    }
}

/* Write the JSON string body of text[0..n) at out (when not NULL); its
 * length either way. */
static size_t json_body(const char *text, size_t n, char *out)
{
    size_t len = 0;
    char buf[7];
    for (size_t i = 0; i < n; i++) {
        const char *e = json_escape((unsigned char)text[i], buf);
        size_t k = e != NULL ? strlen(e) : 1;
        if (out != NULL)
            memcpy(out + len, e != NULL ? e : text + i, k);
        len += k;
    }
    return len;
}

dm_rbuf *dm__log_event_new(const char *instance_id, const char *text, size_t n, uint32_t stream, int64_t ts_ms)
{
    char ts[48] = "null";
    if (ts_ms > 0) {
        char t[40];
        dm__clock_rfc3339(ts_ms, t, sizeof t);
        snprintf(ts, sizeof ts, "\"%s\"", t);
    }
    /* Everything but the line's text; the instance id is a UUID we
     * checked, so it needs no escaping. */
    char head[96], tail[96];
    int hn = snprintf(head, sizeof head, "{\"instanceId\":\"%s\",\"line\":\"", instance_id);
    int tn = snprintf(tail, sizeof tail, "\",\"stream\":\"%s\",\"timestamp\":%s}",
                      stream == DM_RUNTIME_STDERR ? "stderr" : "stdout", ts);
    if (hn < 0 || (size_t)hn >= sizeof head || tn < 0 || (size_t)tn >= sizeof tail)
        return NULL;
    size_t body = json_body(text, n, NULL);
    dm_rbuf *b = dm__rbuf_alloc((size_t)hn + body + (size_t)tn);
    if (b == NULL)
        return NULL;
    memcpy(b->data, head, (size_t)hn);
    json_body(text, n, b->data + hn);
    memcpy(b->data + (size_t)hn + body, tail, (size_t)tn);
    return b;
}

dm_rbuf *dm__log_dropped_new(const char *instance_id, uint64_t dropped, int64_t now_ms)
{
    char text[48];
    int n = snprintf(text, sizeof text, "lines dropped: %llu", (unsigned long long)dropped);
    return dm__log_event_new(instance_id, text, (size_t)n, DM_RUNTIME_STDERR, now_ms);
}
