/*
 * test_inventory_page.c — dm__observe_inventory_page, the host's paging and
 * ?managed= filter over a runtime plugin's inventory array (the cluster
 * view): the total counts the kept items, not the page; a page past the
 * end is empty; an item without a boolean "managed" is not managed; the
 * input array is left as it was.
 */
#include "dm_test.h"

#include "instances/observe.h"

/* Five items: a, c, e managed; b not; d without the field. */
static json_t *five(void)
{
    return json_pack("[{s:s,s:b},{s:s,s:b},{s:s,s:b},{s:s},{s:s,s:b}]", "name", "a", "managed", 1, "name", "b",
                     "managed", 0, "name", "c", "managed", 1, "name", "d", "name", "e", "managed", 1);
}

static const char *name_at(const json_t *a, size_t i)
{
    return json_string_value(json_object_get(json_array_get(a, i), "name"));
}

START_TEST(pages_of_all)
{
    json_t *all = five(), *items = NULL;
    long total = 0;
    dm_err_t err = { 0, "" };
    ck_assert_int_eq(dm__observe_inventory_page(all, -1, 2, 2, &items, &total, &err), 0);
    ck_assert_int_eq(total, 5);
    ck_assert_uint_eq(json_array_size(items), 2);
    ck_assert_str_eq(name_at(items, 0), "c");
    ck_assert_str_eq(name_at(items, 1), "d");
    json_decref(items);
    ck_assert_int_eq(dm__observe_inventory_page(all, -1, 3, 2, &items, &total, &err), 0);
    ck_assert_uint_eq(json_array_size(items), 1);
    ck_assert_str_eq(name_at(items, 0), "e");
    json_decref(items);
    ck_assert_int_eq(dm__observe_inventory_page(all, -1, 4, 2, &items, &total, &err), 0);
    ck_assert_int_eq(total, 5);
    ck_assert_uint_eq(json_array_size(items), 0);
    json_decref(items);
    ck_assert_uint_eq(json_array_size(all), 5);
    json_decref(all);
}
END_TEST

START_TEST(managed_filter)
{
    json_t *all = five(), *items = NULL;
    long total = 0;
    dm_err_t err = { 0, "" };
    ck_assert_int_eq(dm__observe_inventory_page(all, 1, 1, 2, &items, &total, &err), 0);
    ck_assert_int_eq(total, 3);
    ck_assert_str_eq(name_at(items, 0), "a");
    ck_assert_str_eq(name_at(items, 1), "c");
    json_decref(items);
    ck_assert_int_eq(dm__observe_inventory_page(all, 1, 2, 2, &items, &total, &err), 0);
    ck_assert_uint_eq(json_array_size(items), 1);
    ck_assert_str_eq(name_at(items, 0), "e");
    json_decref(items);
    ck_assert_int_eq(dm__observe_inventory_page(all, 0, 1, 20, &items, &total, &err), 0);
    ck_assert_int_eq(total, 2);
    ck_assert_str_eq(name_at(items, 0), "b");
    ck_assert_str_eq(name_at(items, 1), "d");
    json_decref(items);
    json_decref(all);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("inventory_page");
    TCase *tc = tcase_create("page");
    tcase_add_test(tc, pages_of_all);
    tcase_add_test(tc, managed_filter);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
