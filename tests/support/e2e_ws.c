/* e2e_ws.c — see e2e_ws.h. */
#include "e2e_ws.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws_client.h"

int dm_e2e_ws_open(dm_e2e_conn *c, const char *target)
{
    char *req = dm_wsc_handshake_text(target, NULL);
    dm_e2e_send_ok(c, req);
    free(req);
    dm_e2e_response res;
    dm_e2e_read_ok(c, &res, false, target);
    int status = res.status;
    dm_e2e_response_free(&res);
    return status;
}

void dm_e2e_ws_send_text(dm_e2e_conn *c, const char *text)
{
    size_t len = strlen(text);
    uint8_t *frame = malloc(len + 14);
    ck_assert_ptr_nonnull(frame);
    size_t n = dm_wsc_build(frame, 0x81, true, text, len);
    int rc = dm_e2e_send(c, frame, n);
    free(frame);
    ck_assert_msg(rc == 0, "sending a frame: %s", dm_e2e_strerror(rc));
}

/* The size of the frame at the start of the buffer, with its header size
 * and payload length, or 0 while it is incomplete. */
static size_t frame_size(const dm_e2e_conn *c, size_t *header, uint64_t *plen)
{
    const uint8_t *b = (const uint8_t *)c->buf;
    if (c->len < 2)
        return 0;
    ck_assert_msg((b[1] & 0x80) == 0, "the server masked a frame");
    uint64_t len = b[1] & 0x7f;
    size_t h = 2;
    if (len >= 126) {
        size_t extra = len == 126 ? 2 : 8;
        if (c->len < 2 + extra)
            return 0;
        len = 0;
        for (size_t i = 0; i < extra; i++)
            len = len << 8 | b[2 + i];
        h += extra;
    }
    ck_assert_msg(len < (64u << 20), "a frame of %llu bytes", (unsigned long long)len);
    *header = h;
    *plen = len;
    return c->len >= h + len ? h + (size_t)len : 0;
}

int dm_e2e_ws_read(dm_e2e_conn *c, int *opcode, char **payload, int timeout_ms)
{
    long long deadline = dm_e2e_now_ms() + timeout_ms;
    size_t header = 0, size;
    uint64_t plen = 0;
    while ((size = frame_size(c, &header, &plen)) == 0) {
        if (c->eof)
            return DM_E2E_CLOSED;
        int rc = dm_e2e_fill(c, deadline);
        if (rc != 0)
            return rc;
    }
    *opcode = (uint8_t)c->buf[0] & 0x0f;
    *payload = malloc((size_t)plen + 1);
    ck_assert_ptr_nonnull(*payload);
    memcpy(*payload, c->buf + header, (size_t)plen);
    (*payload)[plen] = '\0';
    dm_e2e_consume(c, size);
    return 0;
}

char *dm_e2e_ws_expect_text(dm_e2e_conn *c, const char *prefix, int timeout_ms, const char *what)
{
    int op;
    char *p = NULL;
    int rc = dm_e2e_ws_read(c, &op, &p, timeout_ms);
    ck_assert_msg(rc == 0, "%s: no frame (%s)", what, dm_e2e_strerror(rc));
    ck_assert_msg(op == 1 && strncmp(p, prefix, strlen(prefix)) == 0, "%s: opcode %d \"%s\", want text \"%s…\"",
                  what, op, p, prefix);
    return p;
}
