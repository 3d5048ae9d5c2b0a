/*
 * test_users.c — the users module against a real PostgreSQL: create and
 * read, taken emails, name and password changes, the admin update with its
 * last-administrator guard (also under two concurrent demotions), listing
 * with search and pagination, and the JSON shape docs/openapi.yaml gives a user.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/users.h"
#include "dm_test.h"
#include "testdb.h"

static char *url;
static dm_db db;

static void setup(void)
{
    url = dm_test_db_create_migrated("users");
    dm_err_t err;
    ck_assert_msg(dm__db_init(&db, url, 2, 10000, &err) == 0, "db init: %s", err.msg);
}

static void teardown(void)
{
    dm__db_fini(&db);
    dm_test_db_drop(url);
    free(url);
}

static dm_user make(const char *email, const char *role)
{
    dm_user u;
    dm_err_t err;
    dm_err_clear(&err);
    int rc = dm__users_create(&db, email, "Name", role, NULL, "$argon2id$fake", &u, &err);
    ck_assert_msg(rc == 0, "create %s: %d %s", email, rc, err.msg);
    return u;
}

START_TEST(create_then_read_by_id_and_email)
{
    dm_user u = make("ani@example.id", NULL);
    ck_assert(dm__users_valid_id(u.id));
    ck_assert_str_eq(u.role, "USER");
    ck_assert(u.is_active);
    ck_assert_int_eq(u.credit_balance, 0);
    ck_assert_str_eq(u.password_hash, "$argon2id$fake");
    ck_assert_msg(strcmp(u.created_at, u.updated_at) == 0, "a new row was never updated");
    ck_assert_msg(strlen(u.created_at) == 24 && u.created_at[23] == 'Z', "RFC 3339: %s", u.created_at);
    dm_user a, b;
    ck_assert_int_eq(dm__users_get(&db, u.id, &a, NULL), 0);
    ck_assert_int_eq(dm__users_get_by_email(&db, "ani@example.id", &b, NULL), 0);
    ck_assert_str_eq(a.id, b.id);
}
END_TEST

START_TEST(taken_email_and_bad_values_are_refused)
{
    make("ani@example.id", NULL);
    dm_err_t err;
    ck_assert_int_eq(dm__users_create(&db, "ani@example.id", "x", NULL, NULL, NULL, NULL, &err), DM_ECONFLICT);
    ck_assert_int_eq(dm__users_create(&db, "Not@Normalised", "x", NULL, NULL, NULL, NULL, &err), DM_EINVAL);
    ck_assert_int_eq(dm__users_create(&db, "b@example.id", "x", "ROOT", NULL, NULL, NULL, &err), DM_EINVAL);
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM users");
}
END_TEST

START_TEST(unknown_or_malformed_ids_are_not_found)
{
    dm_user u;
    dm_err_t err;
    ck_assert_int_eq(dm__users_get(&db, "6f1c2a7e-3b0d-4c8e-9a51-2d4e6f8a0b1c", &u, &err), DM_ENOTFOUND);
    ck_assert_int_eq(dm__users_get(&db, "not-a-uuid", &u, &err), DM_ENOTFOUND);
    ck_assert_int_eq(dm__users_get(&db, "6F1C2A7E-3B0D-4C8E-9A51-2D4E6F8A0B1C", &u, &err), DM_ENOTFOUND);
    ck_assert_int_eq(dm__users_get(&db, "'; DROP TABLE users; --", &u, &err), DM_ENOTFOUND);
    ck_assert_int_eq(dm__users_get_by_email(&db, "nobody@example.id", &u, &err), DM_ENOTFOUND);
}
END_TEST

START_TEST(name_and_password_changes)
{
    dm_user u = make("ani@example.id", NULL), after;
    ck_assert_int_eq(dm__users_set_name(&db, u.id, "Ani Rahma", &after, NULL), 0);
    ck_assert_str_eq(after.name, "Ani Rahma");
    char longname[150];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    dm_err_t err;
    ck_assert_int_eq(dm__users_set_name(&db, u.id, longname, &after, &err), DM_EINVAL);

    ck_assert_int_eq(dm__users_set_password_hash(&db, u.id, "$argon2id$new", NULL), 0);
    ck_assert_int_eq(dm__users_get(&db, u.id, &after, NULL), 0);
    ck_assert_str_eq(after.password_hash, "$argon2id$new");
    ck_assert_int_eq(dm__users_set_password_hash(&db, "6f1c2a7e-3b0d-4c8e-9a51-2d4e6f8a0b1c", "$argon2id$x", &err),
                     DM_ENOTFOUND);
}
END_TEST

START_TEST(last_active_administrator_is_kept)
{
    dm_user admin = make("root@example.id", "ADMINISTRATOR");
    dm_user user = make("u@example.id", NULL);
    dm_err_t err;
    ck_assert_int_eq(dm__db_begin(&db, NULL), 0);
    ck_assert_int_eq(dm__users_admin_update(&db, admin.id, "USER", -1, NULL, NULL, &err), DM_ECONFLICT);
    dm__db_rollback(&db);
    ck_assert_int_eq(dm__db_begin(&db, NULL), 0);
    ck_assert_int_eq(dm__users_admin_update(&db, admin.id, NULL, 0, NULL, NULL, &err), DM_ECONFLICT);
    dm__db_rollback(&db);
    /* With a second administrator the first may step down. */
    dm_user before, after;
    ck_assert_int_eq(dm__db_begin(&db, NULL), 0);
    ck_assert_int_eq(dm__users_admin_update(&db, user.id, "ADMINISTRATOR", -1, &before, &after, &err), 0);
    ck_assert_str_eq(before.role, "USER");
    ck_assert_str_eq(after.role, "ADMINISTRATOR");
    ck_assert_msg(strcmp(after.updated_at, before.updated_at) >= 0, "updated_at moves with the change");
    ck_assert_int_eq(dm__users_admin_update(&db, admin.id, NULL, 0, NULL, &after, &err), 0);
    ck_assert(!after.is_active);
    ck_assert_int_eq(dm__db_commit(&db, NULL), 0);
    /* The text forms above may tie within a millisecond: the columns do not. */
    DM_EXPECT_SQL(url, "t", "SELECT updated_at > created_at FROM users WHERE id = '%s'", user.id);
    ck_assert_int_eq(dm__db_begin(&db, NULL), 0);
    ck_assert_int_eq(dm__users_admin_update(&db, user.id, "SUPER", -1, NULL, NULL, &err), DM_EINVAL);
    dm__db_rollback(&db);
}
END_TEST

/* Two administrators demote each other at once: exactly one may win. */
typedef struct race {
    const char *url;
    const char *target;
    int         rc;
    pthread_barrier_t *go;
} race;

static void *demote(void *arg)
{
    race *r = arg;
    dm_db mine;
    dm_err_t err;
    dm__db_init(&mine, r->url, 2, 10000, &err);
    pthread_barrier_wait(r->go);
    r->rc = dm__db_begin(&mine, &err);
    if (r->rc == 0)
        r->rc = dm__users_admin_update(&mine, r->target, "USER", -1, NULL, NULL, &err);
    if (r->rc == 0)
        r->rc = dm__db_commit(&mine, &err);
    else
        dm__db_rollback(&mine);
    dm__db_fini(&mine);
    return NULL;
}

START_TEST(concurrent_demotions_leave_one_administrator)
{
    dm_user a = make("a@example.id", "ADMINISTRATOR");
    dm_user b = make("b@example.id", "ADMINISTRATOR");
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    race ra = { url, a.id, -99, &go }, rb = { url, b.id, -99, &go };
    pthread_t ta, tb;
    pthread_create(&ta, NULL, demote, &ra);
    pthread_create(&tb, NULL, demote, &rb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&go);
    ck_assert_msg((ra.rc == 0) != (rb.rc == 0), "exactly one demotion may succeed: %d %d", ra.rc, rb.rc);
    ck_assert_int_eq(ra.rc == 0 ? rb.rc : ra.rc, DM_ECONFLICT);
    DM_EXPECT_SQL(url, "1", "SELECT count(*) FROM users WHERE role = 'ADMINISTRATOR' AND is_active");
}
END_TEST

START_TEST(list_searches_and_paginates)
{
    make("ani@example.id", NULL);
    make("budi@example.id", NULL);
    make("citra@sample.id", NULL);
    dm_err_t err;
    json_t *items = NULL;
    long total = 0;
    ck_assert_int_eq(dm__users_list(&db, "EXAMPLE", 1, 1, &items, &total, &err), 0);
    ck_assert_int_eq(total, 2);
    ck_assert_int_eq(json_array_size(items), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "email")), "budi@example.id");
    json_decref(items);
    ck_assert_int_eq(dm__users_list(&db, "example", 2, 1, &items, &total, &err), 0);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "email")), "ani@example.id");
    json_decref(items);
    ck_assert_int_eq(dm__users_list(&db, "%", 1, 20, &items, &total, &err), 0);
    ck_assert_msg(total == 0, "%% is matched literally, not as a pattern: %ld", total);
    json_decref(items);
    ck_assert_int_eq(dm__users_list(&db, NULL, 1, 20, &items, &total, &err), 0);
    ck_assert_int_eq(total, 3);
    json_decref(items);
    ck_assert_int_eq(dm__users_list(&db, NULL, 0, 20, &items, &total, &err), DM_EINVAL);
    ck_assert_int_eq(dm__users_list(&db, NULL, 1, 101, &items, &total, &err), DM_EINVAL);
}
END_TEST

START_TEST(json_shape_follows_the_api)
{
    dm_user u = make("ani@example.id", NULL);
    json_t *pub = dm__user_json(&u, false);
    const char *keys[] = { "id", "email", "name", "role", "creditBalance", "createdAt" };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        ck_assert_msg(json_object_get(pub, keys[i]) != NULL, "missing %s", keys[i]);
    ck_assert_msg(json_object_get(pub, "isActive") == NULL, "isActive is for administrators");
    ck_assert_msg(json_object_get(pub, "passwordHash") == NULL && json_object_size(pub) == 6,
                  "nothing else leaks into the public shape");
    json_t *adm = dm__user_json(&u, true);
    ck_assert(json_is_true(json_object_get(adm, "isActive")));
    json_decref(pub);
    json_decref(adm);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("users");
    TCase *tc = tcase_create("users");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, create_then_read_by_id_and_email);
    tcase_add_test(tc, taken_email_and_bad_values_are_refused);
    tcase_add_test(tc, unknown_or_malformed_ids_are_not_found);
    tcase_add_test(tc, name_and_password_changes);
    tcase_add_test(tc, last_active_administrator_is_kept);
    tcase_add_test(tc, concurrent_demotions_leave_one_administrator);
    tcase_add_test(tc, list_searches_and_paginates);
    tcase_add_test(tc, json_shape_follows_the_api);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
