/*
 * fuzz_sio.c — what a Socket.IO client sends, decoded as the server does:
 * the input is an Engine.IO polling payload (packets separated by 0x1E);
 * every message packet ("4…") goes through dm__sio_decode. Properties:
 * decoding never crashes or leaks; a decoded packet re-encodes
 * (dm__sio_encode) to a packet that decodes to the same type, namespace,
 * ack id and JSON; and an event packet built for fan-out
 * (dm__sio_event_packet) from any name and JSON argument decodes back to
 * that name and argument.
 */
#include <string.h>

#include <jansson.h>

#include <dermaga/error.h>

#include "fuzz_support.h"
#include "http/socketio.h"
#include "util/rbuf.h"

#define FUZZ_MAX_INPUT (64u * 1024u)

/* decode(encode(p)) is p. */
static void check_roundtrip(const dm_sio_packet *p)
{
    dm_rbuf *b = dm__sio_encode(p);
    if (b == NULL) /* only a namespace the format cannot carry */
        return;
    FUZZ_CHECK(b->len >= 2 && b->data[0] == '4', "an encoded packet is an Engine.IO message: %.40s", b->data);
    dm_sio_packet q;
    int rc = dm__sio_decode(b->data + 1, b->len - 1, &q);
    FUZZ_CHECK(rc == 0, "the re-encoded packet decodes: %.80s", b->data);
    FUZZ_CHECK(q.type == p->type && q.ack == p->ack && strcmp(q.ns, p->ns) == 0, "type/ack/ns survive: %.80s",
               b->data);
    FUZZ_CHECK((q.data == NULL) == (p->data == NULL) && (p->data == NULL || json_equal(q.data, p->data)),
               "the payload survives: %.80s", b->data);
    json_decref(q.data);
    dm__rbuf_unref(b);
}

/* An event of a fan-out, whatever its name and argument, decodes back. */
static void check_event(const char *name, const json_t *arg)
{
    char *text = json_dumps(arg, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL)
        return;
    dm_rbuf *b = dm__sio_event_packet("/k8s-logs", name, text, strlen(text));
    FUZZ_CHECK(b != NULL, "an event packet is built");
    dm_sio_packet q;
    FUZZ_CHECK(dm__sio_decode(b->data + 1, b->len - 1, &q) == 0, "an event packet decodes: %.80s", b->data);
    FUZZ_CHECK(q.type == DM_SIO_EVENT && strcmp(q.ns, "/k8s-logs") == 0, "an event of the namespace");
    FUZZ_CHECK(json_is_array(q.data) && json_array_size(q.data) == 2, "[name, arg]");
    FUZZ_CHECK(strcmp(json_string_value(json_array_get(q.data, 0)), name) == 0, "the name survives");
    FUZZ_CHECK(json_equal(json_array_get(q.data, 1), arg), "the argument survives");
    json_decref(q.data);
    dm__rbuf_unref(b);
    free(text);
}

static void one_packet(const char *p, size_t len)
{
    if (len == 0 || p[0] != '4')
        return;
    dm_sio_packet pk;
    int rc = dm__sio_decode(p + 1, len - 1, &pk);
    FUZZ_CHECK(rc == 0 || (rc == DM_EINVAL && pk.data == NULL), "a refusal holds nothing: %d", rc);
    if (rc != 0)
        return;
    FUZZ_CHECK(pk.type >= DM_SIO_CONNECT && pk.type <= DM_SIO_CONNECT_ERROR, "type %d", pk.type);
    FUZZ_CHECK(pk.ns[0] == '/' && strlen(pk.ns) < DM_SIO_NS_MAX, "namespace %s", pk.ns);
    FUZZ_CHECK(pk.ack >= -1, "ack %ld", pk.ack);
    check_roundtrip(&pk);
    /* An event's name, with its first argument, as the fan-out would send it. */
    const char *name = json_string_value(json_array_get(pk.data, 0));
    if (pk.type == DM_SIO_EVENT && name != NULL)
        check_event(name, json_array_size(pk.data) > 1 ? json_array_get(pk.data, 1) : json_null());
    json_decref(pk.data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return 0;
    const char *p = (const char *)data, *end = p + size;
    while (p <= end) {
        const char *sep = memchr(p, 0x1e, (size_t)(end - p));
        const char *stop = sep != NULL ? sep : end;
        one_packet(p, (size_t)(stop - p));
        if (sep == NULL)
            break;
        p = sep + 1;
    }
    return 0;
}
