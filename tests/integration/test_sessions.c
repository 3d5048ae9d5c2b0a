/*
 * test_sessions.c — refresh-token families against a real PostgreSQL:
 * rotation, reuse revoking the whole family (the newer token too), expiry,
 * unknown tokens, logout, "all other sessions", deactivated owners, and two
 * concurrent refreshes of one token (exactly one succeeds).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/sessions.h"
#include "accounts/users.h"
#include "dm_test.h"
#include "testdb.h"

static char *url;
static dm_db db;
static dm_user user;

static void setup(void)
{
    url = dm_test_db_create_migrated("sessions");
    dm_err_t err;
    ck_assert_msg(dm__db_init(&db, url, 2, 10000, &err) == 0, "db init: %s", err.msg);
    ck_assert_int_eq(dm__users_create(&db, "s@example.id", "S", NULL, NULL, "h", &user, &err), 0);
}

static void teardown(void)
{
    dm__db_fini(&db);
    dm_test_db_drop(url);
    free(url);
}

/* A distinct, well-formed 64-hex-digit hash per letter. */
static const char *H(char c)
{
    static char bufs[26][65];
    char *b = bufs[(c - 'a') % 26];
    memset(b, c, 64);
    b[64] = '\0';
    return b;
}

static int rotate(const char *from, const char *to)
{
    char owner[37];
    dm_err_t err;
    dm_err_clear(&err);
    return dm__sessions_rotate(&db, from, to, 3600, NULL, owner, NULL, &err);
}

START_TEST(rotation_spends_the_old_token)
{
    char fam[37];
    dm_session_meta meta = { "127.0.0.1", "test-agent" };
    ck_assert_int_eq(dm__sessions_start(&db, user.id, H('a'), 3600, &meta, fam, NULL), 0);
    char owner[37];
    ck_assert_int_eq(dm__sessions_rotate(&db, H('a'), H('b'), 3600, &meta, owner, NULL, NULL), 0);
    ck_assert_str_eq(owner, user.id);
    DM_EXPECT_SQL(url, "2", "SELECT count(*) FROM refresh_tokens WHERE family_id = '%s'", fam);
    DM_EXPECT_SQL(url, "t", "SELECT spent_at IS NOT NULL FROM refresh_tokens WHERE token_hash = '%s'", H('a'));
    ck_assert_int_eq(rotate(H('b'), H('c')), 0);
}
END_TEST

START_TEST(reuse_revokes_the_whole_family)
{
    ck_assert_int_eq(dm__sessions_start(&db, user.id, H('a'), 3600, NULL, NULL, NULL), 0);
    ck_assert_int_eq(rotate(H('a'), H('b')), 0);
    ck_assert_int_eq(rotate(H('a'), H('c')), DM_EPERM);  /* reuse */
    ck_assert_int_eq(rotate(H('b'), H('d')), DM_EPERM);  /* the newer token died with it */
    DM_EXPECT_SQL(url, "2", "SELECT count(*) FROM refresh_tokens WHERE revoked_reason = 'reuse'");
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM refresh_tokens WHERE token_hash IN ('%s', '%s')",
                  H('c'), H('d'));
}
END_TEST

START_TEST(unknown_expired_and_revoked_tokens_are_refused)
{
    ck_assert_int_eq(rotate(H('z'), H('y')), DM_EPERM);
    ck_assert_int_eq(dm__sessions_start(&db, user.id, H('a'), 3600, NULL, NULL, NULL), 0);
    free(dm_test_db_scalarf(url, "UPDATE refresh_tokens SET created_at = now() - interval '2 hours', "
                                 "expires_at = now() - interval '1 second' RETURNING 1"));
    ck_assert_int_eq(rotate(H('a'), H('b')), DM_EPERM);
    DM_EXPECT_SQL(url, "0", "SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NOT NULL");
    ck_assert_int_eq(dm__sessions_start(&db, user.id, H('c'), 3600, NULL, NULL, NULL), 0);
    ck_assert_int_eq(dm__sessions_logout(&db, H('c'), NULL), 0);
    ck_assert_int_eq(rotate(H('c'), H('d')), DM_EPERM);
}
END_TEST

START_TEST(logout_is_idempotent_and_family_wide)
{
    ck_assert_int_eq(dm__sessions_start(&db, user.id, H('a'), 3600, NULL, NULL, NULL), 0);
    ck_assert_int_eq(rotate(H('a'), H('b')), 0);
    ck_assert_int_eq(dm__sessions_logout(&db, H('b'), NULL), 0);
    ck_assert_int_eq(dm__sessions_logout(&db, H('b'), NULL), 0);
    ck_assert_int_eq(dm__sessions_logout(&db, H('q'), NULL), 0);
    DM_EXPECT_SQL(url, "2", "SELECT count(*) FROM refresh_tokens WHERE revoked_reason = 'logout'");
}
END_TEST

START_TEST(revoke_user_keeps_the_current_family)
{
    char keep[37];
    ck_assert_int_eq(dm__sessions_start(&db, user.id, H('a'), 3600, NULL, keep, NULL), 0);
    ck_assert_int_eq(dm__sessions_start(&db, user.id, H('b'), 3600, NULL, NULL, NULL), 0);
    ck_assert_int_eq(dm__sessions_start(&db, user.id, H('c'), 3600, NULL, NULL, NULL), 0);
    char fam[37];
    ck_assert_int_eq(dm__sessions_family_of(&db, H('a'), fam, NULL), 0);
    ck_assert_str_eq(fam, keep);
    long n = -1;
    ck_assert_int_eq(dm__sessions_revoke_user(&db, user.id, fam, "password_change", &n, NULL), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(rotate(H('a'), H('d')), 0);
    ck_assert_int_eq(rotate(H('b'), H('e')), DM_EPERM);
    ck_assert_int_eq(dm__sessions_family_of(&db, H('b'), fam, NULL), DM_EPERM);
    ck_assert_int_eq(dm__sessions_revoke_user(&db, user.id, NULL, "deactivated", &n, NULL), 0);
    ck_assert_int_eq(n, 2); /* the kept family's rows: a (spent) and d (live) */
    ck_assert_int_eq(rotate(H('d'), H('f')), DM_EPERM);
}
END_TEST

START_TEST(deactivated_owner_cannot_refresh)
{
    ck_assert_int_eq(dm__sessions_start(&db, user.id, H('a'), 3600, NULL, NULL, NULL), 0);
    free(dm_test_db_scalarf(url, "UPDATE users SET is_active = false RETURNING 1"));
    ck_assert_int_eq(rotate(H('a'), H('b')), DM_EPERM);
}
END_TEST

typedef struct racer {
    const char *to;
    int         rc;
    pthread_barrier_t *go;
} racer;

static void *race_rotate(void *arg)
{
    racer *r = arg;
    dm_db mine;
    dm__db_init(&mine, url, 2, 10000, NULL);
    dm_err_t err;
    dm__db_ensure(&mine, &err);
    char owner[37];
    pthread_barrier_wait(r->go);
    r->rc = dm__sessions_rotate(&mine, H('a'), r->to, 3600, NULL, owner, NULL, &err);
    dm__db_fini(&mine);
    return NULL;
}

START_TEST(concurrent_refreshes_of_one_token_one_wins)
{
    ck_assert_int_eq(dm__sessions_start(&db, user.id, H('a'), 3600, NULL, NULL, NULL), 0);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    racer x = { H('b'), -99, &go }, y = { H('c'), -99, &go };
    pthread_t tx, ty;
    pthread_create(&tx, NULL, race_rotate, &x);
    pthread_create(&ty, NULL, race_rotate, &y);
    pthread_join(tx, NULL);
    pthread_join(ty, NULL);
    pthread_barrier_destroy(&go);
    ck_assert_msg((x.rc == 0) != (y.rc == 0), "exactly one refresh may succeed: %d %d", x.rc, y.rc);
    ck_assert_int_eq(x.rc == 0 ? y.rc : x.rc, DM_EPERM);
    DM_EXPECT_SQL(url, "2", "SELECT count(*) FROM refresh_tokens");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("sessions");
    TCase *tc = tcase_create("sessions");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, rotation_spends_the_old_token);
    tcase_add_test(tc, reuse_revokes_the_whole_family);
    tcase_add_test(tc, unknown_expired_and_revoked_tokens_are_refused);
    tcase_add_test(tc, logout_is_idempotent_and_family_wide);
    tcase_add_test(tc, revoke_user_keeps_the_current_family);
    tcase_add_test(tc, deactivated_owner_cannot_refresh);
    tcase_add_test(tc, concurrent_refreshes_of_one_token_one_wins);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
