/*
 * test_accounts_schema.c — what migration 0002 guarantees on its own, so
 * that no code path can store a bad account: normalised unique emails,
 * known roles, non-negative balances, refresh tokens kept only as SHA-256
 * hex with a reason whenever revoked.
 */
#include <stdlib.h>
#include <string.h>

#include "db/pg.h"
#include "dm_test.h"
#include "testdb.h"

static char *url;
static dm_db db;

static void setup(void)
{
    url = dm_test_db_create_migrated("accounts");
    dm_err_t err;
    ck_assert_msg(dm__db_init(&db, url, 2, 10000, &err) == 0, "db init: %s", err.msg);
}

static void teardown(void)
{
    dm__db_fini(&db);
    dm_test_db_drop(url);
    free(url);
}

/* Run sql; "" when it succeeds, else its SQLSTATE (borrowed from db). */
static const char *state_of(const char *sql)
{
    PGresult *r = dm__db_exec_once(&db, sql, 0, NULL, NULL);
    if (r != NULL) {
        PQclear(r);
        return "";
    }
    return db.sqlstate;
}

#define CHECK_VIOLATION "23514"
#define UNIQUE_VIOLATION "23505"
#define FK_VIOLATION "23503"

static const char *add_user(const char *email)
{
    static char sql[512];
    snprintf(sql, sizeof sql, "INSERT INTO users (email) VALUES ('%s')", email);
    return state_of(sql);
}

START_TEST(normalised_email_is_accepted_once)
{
    ck_assert_str_eq(add_user("ani@example.id"), "");
    ck_assert_str_eq(add_user("ani@example.id"), UNIQUE_VIOLATION);
    DM_EXPECT_SQL(url, "USER", "SELECT role FROM users WHERE email = 'ani@example.id'");
    DM_EXPECT_SQL(url, "0", "SELECT credit_balance FROM users WHERE email = 'ani@example.id'");
    DM_EXPECT_SQL(url, "t", "SELECT is_active FROM users WHERE email = 'ani@example.id'");
}
END_TEST

START_TEST(unnormalised_or_malformed_email_is_refused)
{
    ck_assert_str_eq(add_user("Ani@Example.id"), CHECK_VIOLATION);
    ck_assert_str_eq(add_user(" ani@example.id"), CHECK_VIOLATION);
    ck_assert_str_eq(add_user("no-at-sign"), CHECK_VIOLATION);
    ck_assert_str_eq(add_user("two@@example.id"), CHECK_VIOLATION);
    ck_assert_str_eq(add_user("sp ace@example.id"), CHECK_VIOLATION);
    ck_assert_str_eq(add_user("@example.id"), CHECK_VIOLATION);
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM users");
}
END_TEST

START_TEST(role_and_balance_are_guarded)
{
    ck_assert_str_eq(state_of("INSERT INTO users (email, role) VALUES ('a@b.c', 'ROOT')"), CHECK_VIOLATION);
    ck_assert_str_eq(state_of("INSERT INTO users (email, role) VALUES ('a@b.c', 'ADMINISTRATOR')"), "");
    ck_assert_str_eq(state_of("UPDATE users SET credit_balance = -1"), CHECK_VIOLATION);
    DM_EXPECT_SQL(url, "0", "SELECT credit_balance FROM users");
}
END_TEST

static void add_token(const char *hash, const char *extra_cols, const char *extra_vals, const char *want)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at%s) "
             "SELECT id, gen_random_uuid(), '%s', now() + interval '1 day'%s FROM users",
             extra_cols, hash, extra_vals);
    ck_assert_msg(strcmp(state_of(sql), want) == 0, "%s: got SQLSTATE \"%s\", want \"%s\"", sql,
                  db.sqlstate, want);
}

START_TEST(refresh_tokens_are_hashes_with_reasons)
{
    ck_assert_str_eq(add_user("t@example.id"), "");
    char hex[65];
    memset(hex, 'a', 64);
    hex[64] = '\0';
    add_token(hex, "", "", "");
    add_token(hex, "", "", UNIQUE_VIOLATION);
    add_token("not-a-hash", "", "", CHECK_VIOLATION);
    hex[0] = 'A'; /* upper-case hex is not what the server writes */
    add_token(hex, "", "", CHECK_VIOLATION);
    hex[0] = 'b';
    add_token(hex, ", revoked_at", ", now()", CHECK_VIOLATION);           /* revoked without a reason */
    add_token(hex, ", revoked_reason", ", 'logout'", CHECK_VIOLATION);    /* a reason without revocation */
    add_token(hex, ", revoked_at, revoked_reason", ", now(), 'stolen'", CHECK_VIOLATION);
    add_token(hex, ", revoked_at, revoked_reason", ", now(), 'reuse'", "");
    ck_assert_str_eq(state_of("INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at) "
                              "VALUES (gen_random_uuid(), gen_random_uuid(), repeat('c', 64), now() + interval '1 day')"),
                     FK_VIOLATION);
    /* Deleting a user takes their tokens with them. */
    ck_assert_str_eq(state_of("DELETE FROM users"), "");
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM refresh_tokens");
}
END_TEST

START_TEST(auth_failures_have_a_known_scope)
{
    ck_assert_str_eq(state_of("INSERT INTO auth_failures (scope, key) VALUES ('ip', '127.0.0.1')"), "");
    ck_assert_str_eq(state_of("INSERT INTO auth_failures (scope, key) VALUES ('device', 'x')"), CHECK_VIOLATION);
    ck_assert_str_eq(state_of("INSERT INTO auth_failures (scope, key) VALUES ('account', '')"), CHECK_VIOLATION);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("accounts_schema");
    TCase *tc = tcase_create("schema");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, normalised_email_is_accepted_once);
    tcase_add_test(tc, unnormalised_or_malformed_email_is_refused);
    tcase_add_test(tc, role_and_balance_are_guarded);
    tcase_add_test(tc, refresh_tokens_are_hashes_with_reasons);
    tcase_add_test(tc, auth_failures_have_a_known_scope);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
