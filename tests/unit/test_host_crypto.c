/*
 * test_host_crypto.c — the ABI 1.5 encoding and crypto helpers of dm_host,
 * called through the table exactly as a plugin receives it: RFC 4648 base64
 * and base64url vectors both ways, strict refusal of bad text (an error,
 * never a crash or a write), RFC 4231 HMAC-SHA256/512 vectors (cases 1-4,
 * 6, 7), FIPS 180 "abc" digests, parts hashed as their concatenation, the
 * buffer contract (the needed size, nothing written past out_len), and
 * the constant-time compare.
 */
#include <string.h>

#include "dm_test.h"
#include "plugin/host_api.h"

static const dm_host_t *H;

static void setup(void)
{
    H = dm__plugin_host();
    ck_assert_msg(DM_HOST_HAS(H, equal_ct), "the host table has the 1.5 helpers");
}

/* hex of n bytes into out (2n + 1). */
static void hex(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static size_t unhex(const char *h, unsigned char *out)
{
    size_t n = strlen(h) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
    return n;
}

/* ---- base64 ---- */

static const struct { const char *plain, *b64, *b64_nopad; } rfc4648[] = {
    { "", "", "" },
    { "f", "Zg==", "Zg" },
    { "fo", "Zm8=", "Zm8" },
    { "foo", "Zm9v", "Zm9v" },
    { "foob", "Zm9vYg==", "Zm9vYg" },
    { "fooba", "Zm9vYmE=", "Zm9vYmE" },
    { "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};

START_TEST(base64_rfc4648_vectors_both_ways)
{
    for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
        const char *p = rfc4648[i].plain;
        char text[32];
        int64_t n = H->base64_encode(0, p, strlen(p), text, sizeof text);
        ck_assert_msg(n == (int64_t)strlen(rfc4648[i].b64) && strcmp(text, rfc4648[i].b64) == 0,
                      "encode \"%s\": %lld \"%s\"", p, (long long)n, text);
        ck_assert_int_eq(n, DM_BASE64_ENCODED_LEN(strlen(p), 0));
        n = H->base64_encode(DM_BASE64_NOPAD, p, strlen(p), text, sizeof text);
        ck_assert_str_eq(text, rfc4648[i].b64_nopad);
        ck_assert_int_eq(n, DM_BASE64_ENCODED_LEN(strlen(p), DM_BASE64_NOPAD));
        for (int padded = 0; padded < 2; padded++) {
            const char *t = padded ? rfc4648[i].b64 : rfc4648[i].b64_nopad;
            char back[32] = "";
            n = H->base64_decode(0, t, strlen(t), back, sizeof back);
            ck_assert_msg(n == (int64_t)strlen(p) && memcmp(back, p, strlen(p)) == 0, "decode \"%s\": %lld", t,
                          (long long)n);
            ck_assert_int_le(n, DM_BASE64_DECODED_MAX(strlen(t)));
        }
    }
}
END_TEST

START_TEST(base64url_uses_its_own_alphabet)
{
    const unsigned char bytes[] = { 0xfb, 0xff, 0xfe };
    char text[16];
    ck_assert_int_eq(H->base64_encode(0, bytes, 2, text, sizeof text), 4);
    ck_assert_str_eq(text, "+/8=");
    ck_assert_int_eq(H->base64_encode(DM_BASE64_URL | DM_BASE64_NOPAD, bytes, 2, text, sizeof text), 3);
    ck_assert_str_eq(text, "-_8");
    ck_assert_int_eq(H->base64_encode(DM_BASE64_URL, bytes, 3, text, sizeof text), 4);
    ck_assert_str_eq(text, "-__-");
    unsigned char out[4];
    ck_assert_int_eq(H->base64_decode(DM_BASE64_URL, "-_8", 3, out, sizeof out), 2);
    ck_assert_msg(out[0] == 0xfb && out[1] == 0xff, "url decode");
    ck_assert_int_eq(H->base64_decode(DM_BASE64_URL, "+/8=", 4, out, sizeof out), DM_EINVAL);
    ck_assert_int_eq(H->base64_decode(0, "-_8=", 4, out, sizeof out), DM_EINVAL);
}
END_TEST

START_TEST(bad_base64_is_an_error_and_writes_nothing)
{
    static const char *const bad[] = {
        "Zg=",     /* padding that does not end a quantum */
        "Zg===",   /* too much padding */
        "Z",       /* a lone symbol: 6 bits */
        "Zm9v Yg", /* whitespace */
        "Zm9v\nYg==",
        "Zh==",    /* unused low bits set: not canonical */
        "Zm8+",    /* fine in base64, not in base64url (decoded below) */
        "Zg==Zg==", /* padding in the middle */
        "====",
        "Zm9\x80",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned char out[16];
        memset(out, 0xAA, sizeof out);
        int64_t n = H->base64_decode(DM_BASE64_URL, bad[i], strlen(bad[i]), out, sizeof out);
        ck_assert_msg(n == DM_EINVAL, "\"%s\" decoded to %lld", bad[i], (long long)n);
        ck_assert_msg(out[0] == 0xAA, "nothing written for \"%s\"", bad[i]);
    }
    ck_assert_int_eq(H->base64_decode(0, "Zm8+", 4, NULL, 0), 3);
    ck_assert_int_eq(H->base64_decode(0, "Zm9v", 4, NULL, 0), 3);
    ck_assert_int_eq(H->base64_decode(0, NULL, 0, NULL, 0), 0);
    ck_assert_int_eq(H->base64_decode(0, NULL, 4, NULL, 0), DM_EINVAL);
    ck_assert_int_eq(H->base64_decode(0x80, "Zm9v", 4, NULL, 0), DM_EINVAL);
    ck_assert_int_eq(H->base64_encode(0x80, "x", 1, NULL, 0), DM_EINVAL);
    ck_assert_int_eq(H->base64_encode(0, NULL, 1, NULL, 0), DM_EINVAL);
}
END_TEST

START_TEST(a_buffer_too_small_is_told_the_size_and_not_written_past)
{
    char text[9];
    memset(text, 'x', sizeof text);
    /* "foobar" needs 8 characters and a NUL: 8 bytes are too few. */
    ck_assert_int_eq(H->base64_encode(0, "foobar", 6, text, 8), 8);
    ck_assert_msg(text[0] == '\0' && text[1] == 'x' && text[8] == 'x', "only an empty string was written");
    ck_assert_int_eq(H->base64_encode(0, "foobar", 6, NULL, 0), 8);
    ck_assert_int_eq(H->base64_encode(0, "foobar", 6, text, 9), 8);
    ck_assert_str_eq(text, "Zm9vYmFy");
    unsigned char out[6];
    memset(out, 0xAA, sizeof out);
    ck_assert_int_eq(H->base64_decode(0, "Zm9vYmFy", 8, out, 5), 6);
    ck_assert_msg(out[0] == 0xAA && out[5] == 0xAA, "a decode that does not fit writes nothing");
    unsigned char md[DM_HOST_SHA512_LEN];
    memset(md, 0xAA, sizeof md);
    dm_host_bytes_t abc = { "abc", 3 };
    ck_assert_int_eq(H->digest(DM_HOST_SHA512, &abc, 1, md, 63), DM_HOST_SHA512_LEN);
    ck_assert_msg(md[0] == 0xAA && md[62] == 0xAA, "a digest that does not fit writes nothing");
    ck_assert_int_eq(H->hmac(DM_HOST_SHA256, "k", 1, &abc, 1, NULL, 0), DM_HOST_SHA256_LEN);
}
END_TEST

/* ---- digests and HMAC ---- */

START_TEST(sha256_and_sha512_of_parts_are_those_of_their_concatenation)
{
    unsigned char md[DM_HOST_SHA512_LEN];
    char h[2 * DM_HOST_SHA512_LEN + 1];
    dm_host_bytes_t parts[] = { { "a", 1 }, { NULL, 0 }, { "bc", 2 } };
    ck_assert_int_eq(H->digest(DM_HOST_SHA256, parts, 3, md, sizeof md), 32);
    hex(md, 32, h);
    ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ck_assert_int_eq(H->digest(DM_HOST_SHA512, parts, 3, md, sizeof md), 64);
    hex(md, 64, h);
    ck_assert_str_eq(h, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    ck_assert_int_eq(H->digest(DM_HOST_SHA256, NULL, 0, md, sizeof md), 32);
    hex(md, 32, h);
    ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    dm_host_bytes_t broken = { NULL, 3 };
    ck_assert_int_eq(H->digest(DM_HOST_SHA256, &broken, 1, md, sizeof md), DM_EINVAL);
    ck_assert_int_eq(H->digest(3, parts, 1, md, sizeof md), DM_EINVAL);
}
END_TEST

static const struct { const char *key, *data, *sha256, *sha512; } rfc4231[] = {
    { "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
      "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
      "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854" },
    { "4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
      "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
      "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737" },
    { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
      "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
      "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39"
      "bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb" },
    { "0102030405060708090a0b0c0d0e0f10111213141516171819",
      "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
      "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
      "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db"
      "a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd" },
    { NULL, "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d2048617368204b6579204669727374",
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
      "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
      "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598" },
    { NULL,
      "5468697320697320612074657374207573696e672061206c6172676572207468616e20626c6f636b2d73697a65206b6579"
      "20616e642061206c6172676572207468616e20626c6f636b2d73697a6520646174612e20546865206b6579206e6565"
      "647320746f20626520686173686564206265666f7265206265696e6720757365642062792074686520484d414320616c"
      "676f726974686d2e",
      "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
      "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944"
      "b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58" },
};

START_TEST(hmac_rfc4231_vectors)
{
    for (size_t i = 0; i < sizeof rfc4231 / sizeof rfc4231[0]; i++) {
        unsigned char key[131], data[256], md[DM_HOST_SHA512_LEN];
        size_t klen = 131;
        if (rfc4231[i].key != NULL)
            klen = unhex(rfc4231[i].key, key);
        else
            memset(key, 0xaa, sizeof key); /* cases 6 and 7: 131 bytes of 0xaa */
        size_t dlen = unhex(rfc4231[i].data, data);
        /* The data in two parts: HMAC of the concatenation. */
        dm_host_bytes_t parts[] = { { data, dlen / 2 }, { data + dlen / 2, dlen - dlen / 2 } };
        char h[2 * DM_HOST_SHA512_LEN + 1];
        ck_assert_int_eq(H->hmac(DM_HOST_SHA256, key, klen, parts, 2, md, sizeof md), 32);
        hex(md, 32, h);
        ck_assert_msg(strcmp(h, rfc4231[i].sha256) == 0, "case %zu SHA-256: %s", i, h);
        ck_assert_int_eq(H->hmac(DM_HOST_SHA512, key, klen, parts, 2, md, sizeof md), 64);
        hex(md, 64, h);
        ck_assert_msg(strcmp(h, rfc4231[i].sha512) == 0, "case %zu SHA-512: %s", i, h);
    }
}
END_TEST

START_TEST(hmac_with_an_empty_key_and_bad_arguments)
{
    unsigned char md[32];
    char h[65];
    ck_assert_int_eq(H->hmac(DM_HOST_SHA256, NULL, 0, NULL, 0, md, sizeof md), 32);
    hex(md, 32, h);
    ck_assert_str_eq(h, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    ck_assert_int_eq(H->hmac(DM_HOST_SHA256, NULL, 4, NULL, 0, md, sizeof md), DM_EINVAL);
    ck_assert_int_eq(H->hmac(0, "k", 1, NULL, 0, md, sizeof md), DM_EINVAL);
}
END_TEST

START_TEST(equal_ct_compares_bytes)
{
    ck_assert_int_eq(H->equal_ct("abcdef", "abcdef", 6), 1);
    ck_assert_int_eq(H->equal_ct("abcdef", "abcdeg", 6), 0);
    ck_assert_int_eq(H->equal_ct("xbcdef", "abcdef", 6), 0);
    ck_assert_int_eq(H->equal_ct(NULL, NULL, 0), 1);
    ck_assert_int_eq(H->equal_ct(NULL, "a", 1), 0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("host_crypto");
    TCase *t = tcase_create("helpers");
    tcase_add_checked_fixture(t, setup, NULL);
    tcase_add_test(t, base64_rfc4648_vectors_both_ways);
    tcase_add_test(t, base64url_uses_its_own_alphabet);
    tcase_add_test(t, bad_base64_is_an_error_and_writes_nothing);
    tcase_add_test(t, a_buffer_too_small_is_told_the_size_and_not_written_past);
    tcase_add_test(t, sha256_and_sha512_of_parts_are_those_of_their_concatenation);
    tcase_add_test(t, hmac_rfc4231_vectors);
    tcase_add_test(t, hmac_with_an_empty_key_and_bad_arguments);
    tcase_add_test(t, equal_ct_compares_bytes);
    suite_add_tcase(s, t);
    return s;
}

DM_TEST_MAIN(make_suite)
