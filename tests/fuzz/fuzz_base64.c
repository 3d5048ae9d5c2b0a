/*
 * fuzz_base64.c — the host's base64 helpers (dm_host base64_encode and
 * base64_decode, ABI 1.5) fed with arbitrary text. Input byte 0 picks the
 * flags (bit 0: base64url); the rest is decoded into a buffer of exactly
 * the size asked for (and one byte short, which must stay unwritten), and
 * whatever is accepted must encode back to the same text (one spelling
 * per byte string). The rest is also encoded and must decode back.
 */
#include <string.h>

#include "fuzz_support.h"
#include "plugin/host_api.h"

#define FUZZ_MAX_INPUT (16u * 1024u)

static void round_trip_text(const dm_host_t *h, uint32_t flags, const char *text, size_t n)
{
    int64_t need = h->base64_decode(flags, text, n, NULL, 0);
    if (need < 0) {
        FUZZ_CHECK(need == DM_EINVAL, "decode refused with %lld", (long long)need);
        return;
    }
    FUZZ_CHECK((size_t)need <= DM_BASE64_DECODED_MAX(n), "decoded %lld from %zu", (long long)need, n);
    unsigned char *bytes = malloc((size_t)need + 1);
    FUZZ_CHECK(bytes != NULL, "malloc");
    if (need > 0) {
        bytes[need - 1] = 0x5a;
        FUZZ_CHECK(h->base64_decode(flags, text, n, bytes, (size_t)need - 1) == need, "same size when short");
        FUZZ_CHECK(bytes[need - 1] == 0x5a, "a buffer one short is not written");
    }
    FUZZ_CHECK(h->base64_decode(flags, text, n, bytes, (size_t)need) == need, "decode into the exact size");
    /* Unpadded text has a length that is not a multiple of 4, unless it
     * needs no padding at all. */
    uint32_t enc = flags | (n % 4 != 0 ? DM_BASE64_NOPAD : 0);
    char *back = malloc(n + 1);
    FUZZ_CHECK(back != NULL, "malloc");
    FUZZ_CHECK(h->base64_encode(enc, bytes, (size_t)need, back, n + 1) == (int64_t)n, "re-encoded length");
    FUZZ_CHECK(memcmp(back, text, n) == 0 && back[n] == '\0', "canonical: one spelling per byte string");
    free(back);
    free(bytes);
}

static void round_trip_bytes(const dm_host_t *h, uint32_t flags, const uint8_t *data, size_t n)
{
    int64_t len = h->base64_encode(flags, data, n, NULL, 0);
    FUZZ_CHECK(len == (int64_t)DM_BASE64_ENCODED_LEN(n, flags), "encoded length %lld", (long long)len);
    char *text = malloc((size_t)len + 1);
    unsigned char *back = malloc(n + 1);
    FUZZ_CHECK(text != NULL && back != NULL, "malloc");
    FUZZ_CHECK(h->base64_encode(flags, data, n, text, (size_t)len + 1) == len, "encode");
    FUZZ_CHECK(h->base64_decode(flags, text, (size_t)len, back, n) == (int64_t)n, "decode what was encoded");
    FUZZ_CHECK(n == 0 || memcmp(back, data, n) == 0, "round trip");
    free(text);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FUZZ_MAX_INPUT)
        return 0;
    const dm_host_t *h = dm__plugin_host();
    uint32_t url = data[0] & 1u ? DM_BASE64_URL : 0;
    round_trip_text(h, url, (const char *)data + 1, size - 1);
    round_trip_bytes(h, url | (data[0] & 2u ? DM_BASE64_NOPAD : 0), data + 1, size - 1);
    return 0;
}
