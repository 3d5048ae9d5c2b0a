/*
 * test_cidr.c — util/cidr: address and range parsing (what server.trustedProxies
 * accepts and refuses), IPv4-mapped peers against IPv4 ranges, prefix
 * matching at byte and bit boundaries, and the normalised text.
 */
#include <string.h>

#include "dm_test.h"

#include "util/cidr.h"

static dm_ip ip_of(const char *s)
{
    dm_ip ip;
    ck_assert_msg(dm__ip_parse(s, strlen(s), &ip) == 0, "%s should parse as an address", s);
    return ip;
}

static bool in(const char *cidr, const char *addr)
{
    dm_cidr c;
    ck_assert_msg(dm__cidr_parse(cidr, &c) == 0, "%s should parse as a range", cidr);
    dm_ip ip = ip_of(addr);
    return dm__cidr_match(&c, &ip);
}

static const char *const good_ranges[] = {
    "10.0.0.0/8", "127.0.0.1", "127.0.0.1/32", "0.0.0.0/0", "192.168.1.128/25", "::1", "::1/128",
    "fd00::/8", "2001:db8::/32", "::/0", "::ffff:10.0.0.0/104", "172.16.0.0/12",
};

START_TEST(accepts_ranges_and_single_addresses)
{
    dm_cidr c;
    ck_assert_msg(dm__cidr_parse(good_ranges[_i], &c) == 0, "%s refused", good_ranges[_i]);
}
END_TEST

static const char *const bad_ranges[] = {
    "", "10.0.0.0/33", "::/129", "10.0.0.1/8", "10.0.0.0/", "/8", "10.0.0/8", "10.0.0.0/8x", "10.0.0.0/-1",
    "10.0.0.0/+8", "10.0.0.0/0008", "localhost", "fe80::1%eth0", "[::1]", "::1/64/1", " 10.0.0.0/8",
    "10.0.0.0/8 ", "010.0.0.1", "1.2.3.256", "2001:db8::/16", "::g",
};

START_TEST(refuses_malformed_ranges)
{
    dm_cidr c;
    ck_assert_msg(dm__cidr_parse(bad_ranges[_i], &c) != 0, "\"%s\" accepted", bad_ranges[_i]);
}
END_TEST

START_TEST(single_address_is_exact)
{
    ck_assert(in("127.0.0.1", "127.0.0.1"));
    ck_assert_msg(!in("127.0.0.1", "127.0.0.2"), "127.0.0.1 must be /32");
    ck_assert(in("::1", "::1"));
    ck_assert_msg(!in("::1", "::2"), "::1 must be /128");
}
END_TEST

START_TEST(ipv4_prefixes_match_at_bit_boundaries)
{
    ck_assert(in("10.0.0.0/8", "10.255.3.4"));
    ck_assert(!in("10.0.0.0/8", "11.0.0.0"));
    ck_assert(in("192.168.1.128/25", "192.168.1.255"));
    ck_assert(!in("192.168.1.128/25", "192.168.1.127"));
    ck_assert(in("172.16.0.0/12", "172.31.255.255"));
    ck_assert(!in("172.16.0.0/12", "172.32.0.0"));
    ck_assert(in("0.0.0.0/0", "203.0.113.7"));
}
END_TEST

START_TEST(ipv6_prefixes_match)
{
    ck_assert(in("2001:db8::/32", "2001:db8:ffff::1"));
    ck_assert(!in("2001:db8::/32", "2001:db9::1"));
    ck_assert(in("fd00::/8", "fdab::1"));
    ck_assert(!in("fd00::/8", "fe00::1"));
}
END_TEST

START_TEST(mapped_peer_matches_ipv4_range)
{
    /* A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d. */
    ck_assert_msg(in("10.0.0.0/8", "::ffff:10.1.2.3"), "mapped peer must match its IPv4 range");
    ck_assert_msg(in("127.0.0.1/32", "::ffff:127.0.0.1"), "mapped loopback must match 127.0.0.1/32");
    ck_assert(!in("10.0.0.0/8", "::ffff:11.1.2.3"));
    ck_assert_msg(!in("10.0.0.0/8", "::a01:203"), "an IPv4-compatible (not mapped) address is IPv6");
    ck_assert(in("::ffff:10.0.0.0/104", "10.9.9.9"));
}
END_TEST

START_TEST(ipv4_range_does_not_match_ipv6)
{
    ck_assert(!in("0.0.0.0/0", "::1"));
    ck_assert(!in("0.0.0.0/0", "2001:db8::1"));
}
END_TEST

START_TEST(any_checks_every_range)
{
    dm_cidr set[2];
    ck_assert_int_eq(dm__cidr_parse("10.0.0.0/8", &set[0]), 0);
    ck_assert_int_eq(dm__cidr_parse("fd00::/8", &set[1]), 0);
    dm_ip a = ip_of("fd12::1"), b = ip_of("192.0.2.1");
    ck_assert(dm__cidr_any(set, 2, &a));
    ck_assert(!dm__cidr_any(set, 2, &b));
    ck_assert_msg(!dm__cidr_any(set, 0, &a), "an empty set trusts nothing");
}
END_TEST

START_TEST(format_normalises)
{
    char out[DM_IP_TEXT_MAX];
    dm_ip ip = ip_of("::ffff:203.0.113.7");
    dm__ip_format(&ip, out);
    ck_assert_str_eq(out, "203.0.113.7");
    ip = ip_of("2001:DB8:0:0::1");
    dm__ip_format(&ip, out);
    ck_assert_str_eq(out, "2001:db8::1");
    ip = ip_of("198.51.100.9");
    dm__ip_format(&ip, out);
    ck_assert_str_eq(out, "198.51.100.9");
}
END_TEST

START_TEST(parse_reads_only_n_bytes)
{
    dm_ip ip;
    ck_assert_int_eq(dm__ip_parse("10.0.0.1:8080", 8, &ip), 0);
    ck_assert_int_ne(dm__ip_parse("10.0.0.1", 0, &ip), 0);
    char longer[80];
    memset(longer, '1', sizeof longer);
    ck_assert_msg(dm__ip_parse(longer, sizeof longer, &ip) != 0, "80 bytes are no address");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("cidr");
    TCase *tc = tcase_create("cidr");
    tcase_add_loop_test(tc, accepts_ranges_and_single_addresses, 0,
                        (int)(sizeof good_ranges / sizeof good_ranges[0]));
    tcase_add_loop_test(tc, refuses_malformed_ranges, 0, (int)(sizeof bad_ranges / sizeof bad_ranges[0]));
    tcase_add_test(tc, single_address_is_exact);
    tcase_add_test(tc, ipv4_prefixes_match_at_bit_boundaries);
    tcase_add_test(tc, ipv6_prefixes_match);
    tcase_add_test(tc, mapped_peer_matches_ipv4_range);
    tcase_add_test(tc, ipv4_range_does_not_match_ipv6);
    tcase_add_test(tc, any_checks_every_range);
    tcase_add_test(tc, format_normalises);
    tcase_add_test(tc, parse_reads_only_n_bytes);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
