/*
 * test_tokens.c — refresh tokens: shape of new tokens, their hashes,
 * uniqueness, the shape check that refuses garbage before hashing, and the
 * constant-time hash comparison.
 */
#include <string.h>

#include "dm_test.h"
#include <dermaga/error.h>

#include "accounts/tokens.h"

static int is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

START_TEST(new_token_has_the_documented_shape)
{
    char tok[44], hash[65], again[65];
    dm_err_t err = { 0 };
    ck_assert_msg(dm__refresh_token_new(tok, hash, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(strlen(tok), 43);
    for (size_t i = 0; i < 43; i++)
        ck_assert_msg(is_b64url(tok[i]), "char %zu '%c' is not base64url", i, tok[i]);
    ck_assert_uint_eq(strlen(hash), 64);
    for (size_t i = 0; i < 64; i++)
        ck_assert_msg((hash[i] >= '0' && hash[i] <= '9') || (hash[i] >= 'a' && hash[i] <= 'f'),
                      "hash char %zu '%c' is not lowercase hex", i, hash[i]);
    ck_assert_int_eq(dm__refresh_token_hash(tok, again), 0);
    ck_assert_msg(strcmp(hash, again) == 0, "stored hash %s differs from rehash %s", hash, again);
    ck_assert_int_eq(dm__refresh_token_check(tok), 0);
}
END_TEST

START_TEST(new_tokens_differ_and_pass_the_check)
{
    char prev[44] = "", prev_hash[65] = "";
    for (int i = 0; i < 1000; i++) {
        char tok[44], hash[65];
        ck_assert_int_eq(dm__refresh_token_new(tok, hash, NULL), 0);
        ck_assert_msg(dm__refresh_token_check(tok) == 0, "our own token %s fails the check", tok);
        ck_assert_msg(strcmp(tok, prev) != 0, "two tokens in a row are equal: %s", tok);
        ck_assert_msg(strcmp(hash, prev_hash) != 0, "two hashes in a row are equal");
        memcpy(prev, tok, sizeof prev);
        memcpy(prev_hash, hash, sizeof prev_hash);
    }
}
END_TEST

START_TEST(hash_is_sha256_hex)
{
    char h[65];
    ck_assert_int_eq(dm__refresh_token_hash("abc", h), 0);
    ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ck_assert_int_eq(dm__refresh_token_hash("", h), 0);
    ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ck_assert_int_eq(dm__refresh_token_hash(NULL, h), DM_EINVAL);
    ck_assert_str_eq(h, "");
}
END_TEST

START_TEST(check_accepts_canonical_tokens)
{
    ck_assert_int_eq(dm__refresh_token_check("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), 0);
    ck_assert_int_eq(dm__refresh_token_check("___________________________________________w"), DM_EINVAL);
    ck_assert_int_eq(dm__refresh_token_check("__________________________________________w"), 0);
    ck_assert_int_eq(dm__refresh_token_check("abcdefghijklmnopqrstuvwxyz-_0123456789ABCDE"), 0);
}
END_TEST

START_TEST(check_refuses_garbage)
{
    const char *bad[] = {
        "",
        "short",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",   /* 42 */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 44 */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  /* padding */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+/A",  /* standard alphabet */
        "AAAAAAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAA",  /* space */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",  /* non-canonical end */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(dm__refresh_token_check(bad[i]) == DM_EINVAL, "'%s' was accepted", bad[i]);
    ck_assert_int_eq(dm__refresh_token_check(NULL), DM_EINVAL);
    char big[10000];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_msg(dm__refresh_token_check(big) == DM_EINVAL, "a 10 KB string was accepted");
}
END_TEST

START_TEST(hash_eq_compares_exactly)
{
    char a[65], b[65];
    ck_assert_int_eq(dm__refresh_token_hash("token-a", a), 0);
    ck_assert_int_eq(dm__refresh_token_hash("token-a", b), 0);
    ck_assert_int_eq(dm__refresh_hash_eq(a, b), 1);
    b[63] = b[63] == '0' ? '1' : '0';
    ck_assert_int_eq(dm__refresh_hash_eq(a, b), 0);
    ck_assert_int_eq(dm__refresh_hash_eq(a, "abc"), 0);
    ck_assert_int_eq(dm__refresh_hash_eq(a, NULL), 0);
    ck_assert_int_eq(dm__refresh_hash_eq(NULL, NULL), 0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("tokens");
    TCase *tc = tcase_create("refresh");
    tcase_add_test(tc, new_token_has_the_documented_shape);
    tcase_add_test(tc, new_tokens_differ_and_pass_the_check);
    tcase_add_test(tc, hash_is_sha256_hex);
    tcase_add_test(tc, check_accepts_canonical_tokens);
    tcase_add_test(tc, check_refuses_garbage);
    tcase_add_test(tc, hash_eq_compares_exactly);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
