/*
 * log_line.h — one workload log line as Dermaga shows it, the one owner of
 * the line rules of docs/logs.md: carriage returns, ANSI escape sequences,
 * control characters, invalid UTF-8 and the longest line, applied alike to
 * the recent log (log_tail.c) and the live one (log_hub.c); and the event
 * {"instanceId","line","stream","timestamp"} encoded once as compact JSON
 * into a shared buffer (util/rbuf.h) that every subscriber writes as is.
 */
#ifndef DM_LOG_LINE_H
#define DM_LOG_LINE_H

#include <stddef.h>
#include <stdint.h>

#include "util/rbuf.h"

/* The smallest line cap: room for some text and the cut mark. */
#define DM_LOG_LINE_MIN_BYTES 64
/* What a cut line ends with: U+2026 HORIZONTAL ELLIPSIS. */
#define DM_LOG_LINE_CUT_MARK "\xe2\x80\xa6"

/*
 * The text of the raw line s[0..len) (one line from the runtime, without
 * its newline; borrowed, any bytes) as shown, into out, which must hold
 * max + 1 bytes (max >= DM_LOG_LINE_MIN_BYTES): trailing carriage returns
 * dropped, then only the text after the last remaining carriage return;
 * ANSI escape sequences removed; control characters other than tab
 * removed, a NUL made U+FFFD; each byte that does not begin a well-formed
 * UTF-8 sequence made U+FFFD; and, when the result would be longer than
 * max bytes, its longest beginning that leaves room for
 * DM_LOG_LINE_CUT_MARK, never splitting a character, followed by the mark.
 * The result is valid UTF-8, NUL-terminated; its length is returned.
 */
size_t dm__log_line_clean(const char *s, size_t len, size_t max, char *out);

/*
 * The event of one cleaned line text[0..n) (valid UTF-8, borrowed) of
 * instance_id (borrowed) as compact JSON in this key order:
 * {"instanceId":"…","line":"…","stream":"stdout"|"stderr","timestamp":RFC 3339 UTC with
 * milliseconds, or null when ts_ms <= 0}. New buffer (one reference, the
 * caller's), or NULL when out of memory.
 */
dm_rbuf *dm__log_event_new(const char *instance_id, const char *text, size_t n, uint32_t stream, int64_t ts_ms);

/* The notice a subscriber gets after falling behind: the event of the line
 * "lines dropped: <dropped>" on stderr at now_ms. New buffer or NULL. */
dm_rbuf *dm__log_dropped_new(const char *instance_id, uint64_t dropped, int64_t now_ms);

#endif
