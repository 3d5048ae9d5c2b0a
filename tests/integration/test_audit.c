/*
 * test_audit.c — audit_log rows written through dm__audit_write against a
 * real PostgreSQL: every field stored, optional fields NULL, refusals named
 * by field without spoiling the caller's transaction, and the row following
 * the caller's commit or rollback.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"
#include "testdb.h"
#include "audit/audit.h"

static char *url;
static dm_db db;

static void setup(void)
{
    url = dm_test_db_create_migrated("audit");
    dm_err_t err;
    ck_assert_msg(dm__db_init(&db, url, 2, 10000, &err) == 0, "db init: %s", err.msg);
}

static void teardown(void)
{
    dm__db_fini(&db);
    dm_test_db_drop(url);
    free(url);
}

#define EXPECT_SQL(want, ...) DM_EXPECT_SQL(url, (want), __VA_ARGS__)

static const char *ADMIN = "6f1c2a7e-3b0d-4c8e-9a51-2d4e6f8a0b1c";

START_TEST(full_entry_is_stored)
{
    json_t *before = json_pack("{s:i, s:s}", "balance", 1000, "role", "USER");
    json_t *after = json_pack("{s:i, s:s}", "balance", 6000, "role", "USER");
    dm_audit_entry e = { .actor_id = ADMIN, .actor = "admin@example.com",
                         .action = "user.credit_adjust", .target_type = "user",
                         .target_id = "u-42", .reason = "goodwill credit after outage",
                         .request_id = "req-abc", .ip = "203.0.113.7",
                         .before = before, .after = after };
    char id[37] = "";
    dm_err_t err;
    dm_err_clear(&err);
    ck_assert_msg(dm__audit_write(&db, &e, id, &err) == 0, "audit: %s", err.msg);
    ck_assert_uint_eq(strlen(id), 36);
    EXPECT_SQL("6f1c2a7e-3b0d-4c8e-9a51-2d4e6f8a0b1c|admin@example.com|user.credit_adjust|user|"
               "u-42|goodwill credit after outage|req-abc|203.0.113.7|1000|6000",
               "SELECT concat_ws('|', actor_id, actor, action, target_type, target_id, reason, "
               "request_id, host(ip), before->>'balance', after->>'balance') FROM audit_log "
               "WHERE id = '%s'", id);
    EXPECT_SQL("t", "SELECT created_at BETWEEN now() - interval '1 minute' AND now() "
               "FROM audit_log WHERE id = '%s'", id);
    json_decref(before);
    json_decref(after);
}
END_TEST

START_TEST(optional_fields_are_null)
{
    dm_audit_entry e = { .actor = "system", .action = "subscription.expire",
                         .target_type = "subscription" };
    char id[37];
    dm_err_t err;
    ck_assert_msg(dm__audit_write(&db, &e, id, &err) == 0, "%s", err.msg);
    EXPECT_SQL("t", "SELECT actor_id IS NULL AND target_id IS NULL AND reason IS NULL AND "
               "request_id IS NULL AND ip IS NULL AND before IS NULL AND after IS NULL "
               "FROM audit_log WHERE id = '%s'", id);
    ck_assert_int_eq(dm__audit_write(&db, &e, NULL, &err), 0); /* out_id optional */
    EXPECT_SQL("2", "SELECT count(*) FROM audit_log");
}
END_TEST

START_TEST(ipv6_and_non_object_json_are_accepted)
{
    json_t *after = json_integer(5);
    dm_audit_entry e = { .actor = "system", .action = "plan.update", .target_type = "plan",
                         .ip = "2001:db8::1", .after = after };
    char id[37];
    dm_err_t err;
    ck_assert_msg(dm__audit_write(&db, &e, id, &err) == 0, "%s", err.msg);
    EXPECT_SQL("2001:db8::1 5", "SELECT host(ip) || ' ' || after::text FROM audit_log "
               "WHERE id = '%s'", id);
    json_decref(after);
}
END_TEST

START_TEST(invalid_entries_are_refused_by_field)
{
    char long_reason[2100];
    memset(long_reason, 'r', sizeof long_reason - 1);
    long_reason[sizeof long_reason - 1] = '\0';
    struct {
        dm_audit_entry e;
        const char    *field;
    } bad[] = {
        { { .action = "a", .target_type = "t" }, "actor" },
        { { .actor = "", .action = "a", .target_type = "t" }, "actor" },
        { { .actor = "x", .target_type = "t" }, "action" },
        { { .actor = "x", .action = "User.Update", .target_type = "t" }, "action" },
        { { .actor = "x", .action = "a", .target_type = "bad-type" }, "target_type" },
        { { .actor = "x", .action = "a", .target_type = "t", .actor_id = "42" }, "actor_id" },
        { { .actor = "x", .action = "a", .target_type = "t", .ip = "999.1.1.1" }, "ip" },
        { { .actor = "x", .action = "a", .target_type = "t", .target_id = "" }, "target_id" },
        { { .actor = "x", .action = "a", .target_type = "t", .reason = long_reason }, "reason" },
        { { .actor = "x", .action = "a", .target_type = "t", .request_id = "" }, "request_id" },
    };
    dm_err_t err;
    ck_assert_int_eq(dm__db_begin(&db, &err), 0);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        dm_err_clear(&err);
        int rc = dm__audit_write(&db, &bad[i].e, NULL, &err);
        ck_assert_msg(rc == DM_EINVAL, "case %zu (%s): expected DM_EINVAL, got %d", i,
                      bad[i].field, rc);
        ck_assert_msg(strstr(err.msg, bad[i].field) != NULL, "case %zu should name %s: %s", i,
                      bad[i].field, err.msg);
    }
    /* None of that reached the database, so the transaction still works. */
    dm_audit_entry ok = { .actor = "x", .action = "a", .target_type = "t" };
    ck_assert_msg(dm__audit_write(&db, &ok, NULL, &err) == 0, "%s", err.msg);
    ck_assert_msg(dm__db_commit(&db, &err) == 0, "%s", err.msg);
    EXPECT_SQL("1", "SELECT count(*) FROM audit_log");
}
END_TEST

START_TEST(row_follows_the_callers_transaction)
{
    dm_audit_entry e = { .actor = "admin@example.com", .action = "user.update",
                         .target_type = "user", .target_id = "u-1", .reason = "test" };
    dm_err_t err;
    ck_assert_int_eq(dm__db_begin(&db, &err), 0);
    ck_assert_int_eq(dm__audit_write(&db, &e, NULL, &err), 0);
    dm__db_rollback(&db);
    EXPECT_SQL("0", "SELECT count(*) FROM audit_log");
    ck_assert_int_eq(dm__db_begin(&db, &err), 0);
    ck_assert_int_eq(dm__audit_write(&db, &e, NULL, &err), 0);
    ck_assert_int_eq(dm__db_commit(&db, &err), 0);
    EXPECT_SQL("1", "SELECT count(*) FROM audit_log");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("audit");
    TCase *tc = tcase_create("audit");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, full_entry_is_stored);
    tcase_add_test(tc, optional_fields_are_null);
    tcase_add_test(tc, ipv6_and_non_object_json_are_accepted);
    tcase_add_test(tc, invalid_entries_are_refused_by_field);
    tcase_add_test(tc, row_follows_the_callers_transaction);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
