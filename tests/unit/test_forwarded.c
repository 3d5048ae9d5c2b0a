/*
 * test_forwarded.c — http/forwarded: who the client is behind trusted
 * proxies. X-Forwarded-For and Forwarded (quoted IPv6, ports, unknown and
 * obfuscated nodes), many hops, all trusted, spaces, several header lines,
 * malformed values, the scheme, and an untrusted peer whose headers change
 * nothing.
 */
#include <stdio.h>
#include <string.h>

#include "dm_test.h"

#include "http/forwarded.h"

#define MAXH 8

/* trusted: comma-separated ranges ("" for none); then up to MAXH
 * "Name: value" header lines, NULL-terminated. */
static dm_forwarded resolve_v(const char *peer, const char *trusted, const char *const *lines)
{
    static char names[MAXH][32], values[MAXH][4096];
    dm_header h[MAXH];
    int n = 0;
    for (; lines[n] != NULL; n++) {
        ck_assert_int_lt(n, MAXH);
        const char *colon = strchr(lines[n], ':');
        ck_assert_ptr_nonnull(colon);
        snprintf(names[n], sizeof names[n], "%.*s", (int)(colon - lines[n]), lines[n]);
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        snprintf(values[n], sizeof values[n], "%s", v);
        h[n].name = names[n];
        h[n].value = values[n];
    }
    dm_cidr set[8];
    size_t ns = 0;
    char copy[256];
    snprintf(copy, sizeof copy, "%s", trusted);
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        ck_assert_msg(dm__cidr_parse(t, &set[ns]) == 0, "range %s", t);
        ns++;
    }
    dm_forwarded out;
    memset(&out, 'x', sizeof out); /* whatever was there must be overwritten */
    dm__forwarded_resolve(peer, h, n, set, ns, &out);
    return out;
}

#define RESOLVE(peer, trusted, ...) resolve_v(peer, trusted, (const char *const[]){ __VA_ARGS__, NULL })
#define CLIENT(peer, trusted, ...) (RESOLVE(peer, trusted, __VA_ARGS__).client)

#define PROXY "127.0.0.1/32"

/* ---- who decides ----------------------------------------------------- */

START_TEST(untrusted_peer_is_the_client)
{
    ck_assert_str_eq(CLIENT("127.0.0.1", "", "X-Forwarded-For: 203.0.113.7"), "127.0.0.1");
    ck_assert_str_eq(CLIENT("192.0.2.1", PROXY, "X-Forwarded-For: 203.0.113.7"), "192.0.2.1");
    ck_assert_str_eq(CLIENT("192.0.2.1", PROXY, "Forwarded: for=203.0.113.7"), "192.0.2.1");
    dm_forwarded f = RESOLVE("192.0.2.1", PROXY, "X-Forwarded-Proto: https");
    ck_assert_msg(f.proto[0] == '\0', "an untrusted peer's X-Forwarded-Proto was believed: %s", f.proto);
}
END_TEST

START_TEST(trusted_peer_without_headers_is_the_client)
{
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "Host: a"), "127.0.0.1");
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "X-Forwarded-For: "), "127.0.0.1");
}
END_TEST

START_TEST(mapped_peer_is_trusted_and_normalised)
{
    ck_assert_str_eq(CLIENT("::ffff:127.0.0.1", PROXY, "X-Forwarded-For: 203.0.113.7"), "203.0.113.7");
    ck_assert_str_eq(CLIENT("::ffff:192.0.2.1", PROXY, "Host: a"), "192.0.2.1");
}
END_TEST

START_TEST(peer_text_that_is_no_address_is_kept)
{
    ck_assert_str_eq(CLIENT("", PROXY, "X-Forwarded-For: 203.0.113.7"), "");
    ck_assert_str_eq(CLIENT(NULL, PROXY, "X-Forwarded-For: 203.0.113.7"), "");
}
END_TEST

/* ---- X-Forwarded-For --------------------------------------------------- */

START_TEST(xff_single_and_ipv6)
{
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "X-Forwarded-For: 203.0.113.7"), "203.0.113.7");
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "X-Forwarded-For: 2001:DB8::1"), "2001:db8::1");
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "x-forwarded-for: 203.0.113.7"), "203.0.113.7");
}
END_TEST

START_TEST(xff_rightmost_untrusted_wins)
{
    /* The client may prepend anything; only what trusted hops wrote counts. */
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "X-Forwarded-For: 1.1.1.1, 203.0.113.7"), "203.0.113.7");
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY ",10.0.0.0/8", "X-Forwarded-For: 1.1.1.1, 203.0.113.7, 10.0.0.2, 10.0.0.3"),
                     "203.0.113.7");
}
END_TEST

START_TEST(xff_all_trusted_gives_leftmost)
{
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY ",10.0.0.0/8", "X-Forwarded-For: 10.0.0.9, 10.0.0.2"), "10.0.0.9");
}
END_TEST

START_TEST(xff_spaces_and_empty_members)
{
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "X-Forwarded-For: \t 1.1.1.1 ,\t203.0.113.7\t "), "203.0.113.7");
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "X-Forwarded-For: 203.0.113.7,,"), "203.0.113.7");
}
END_TEST

START_TEST(xff_ports)
{
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "X-Forwarded-For: 203.0.113.7:54321"), "203.0.113.7");
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "X-Forwarded-For: [2001:db8::7]:443"), "2001:db8::7");
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "X-Forwarded-For: [2001:db8::7]"), "2001:db8::7");
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "X-Forwarded-For: 203.0.113.7:99999"), "127.0.0.1");
}
END_TEST

START_TEST(xff_several_lines_in_order)
{
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY ",10.0.0.0/8", "X-Forwarded-For: 198.51.100.1", "Host: a",
                            "X-Forwarded-For: 203.0.113.7, 10.0.0.2"),
                     "203.0.113.7");
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY ",10.0.0.0/8", "X-Forwarded-For: 203.0.113.7, 10.0.0.2",
                            "X-Forwarded-For: 10.0.0.3"),
                     "203.0.113.7");
}
END_TEST

START_TEST(xff_many_hops)
{
    /* 200 client-written hops before the one the proxy appended. */
    static char line[4096];
    size_t len = (size_t)snprintf(line, sizeof line, "X-Forwarded-For: ");
    for (int i = 0; i < 200; i++)
        len += (size_t)snprintf(line + len, sizeof line - len, "10.0.%d.%d, ", i / 250, i % 250);
    snprintf(line + len, sizeof line - len, "203.0.113.7");
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, line), "203.0.113.7");
    /* 40 trusted hops behind the client: more than the walk keeps, so the
     * leftmost it kept (a trusted one) is the answer, never a forged one. */
    len = (size_t)snprintf(line, sizeof line, "X-Forwarded-For: 203.0.113.7");
    for (int i = 0; i < 40; i++)
        len += (size_t)snprintf(line + len, sizeof line - len, ", 10.0.0.%d", i + 1);
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY ",10.0.0.0/8", line), "10.0.0.9");
}
END_TEST

START_TEST(xff_malformed_reached_gives_peer)
{
    static const char *const bad[] = {
        "X-Forwarded-For: not-an-ip",      "X-Forwarded-For: 203.0.113.7 x",  "X-Forwarded-For: 203.0.113",
        "X-Forwarded-For: 2001:db8::1::80", "X-Forwarded-For: [203.0.113.7]", "X-Forwarded-For: [2001:db8::1",
        "X-Forwarded-For: \"203.0.113.7\"", "X-Forwarded-For: 203.0.113.7:",  "X-Forwarded-For: _hidden!",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dm_forwarded f = RESOLVE("127.0.0.1", PROXY, bad[i], "X-Forwarded-Proto: https");
        ck_assert_msg(strcmp(f.client, "127.0.0.1") == 0, "%s gave %s, expected the peer", bad[i], f.client);
        ck_assert_msg(f.proto[0] == '\0', "%s: proto %s believed", bad[i], f.proto);
    }
}
END_TEST

START_TEST(xff_garbage_left_of_client_is_never_read)
{
    /* Otherwise any client could make itself the proxy (everyone's address). */
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "X-Forwarded-For: garbage, 203.0.113.7"), "203.0.113.7");
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "X-Forwarded-For: garbage", "X-Forwarded-For: 203.0.113.7"),
                     "203.0.113.7");
}
END_TEST

START_TEST(xff_unknown_stops_at_the_hop_that_said_it)
{
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "X-Forwarded-For: 203.0.113.7, unknown"), "127.0.0.1");
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY ",10.0.0.0/8", "X-Forwarded-For: 203.0.113.7, unknown, 10.0.0.2"),
                     "10.0.0.2");
}
END_TEST

START_TEST(xff_proto)
{
    dm_forwarded f = RESOLVE("127.0.0.1", PROXY, "X-Forwarded-For: 203.0.113.7", "X-Forwarded-Proto: HTTPS");
    ck_assert_str_eq(f.proto, "https");
    f = RESOLVE("127.0.0.1", PROXY, "X-Forwarded-Proto: http");
    ck_assert_str_eq(f.proto, "http");
    f = RESOLVE("127.0.0.1", PROXY, "X-Forwarded-For: 203.0.113.7", "X-Forwarded-Proto: gopher");
    ck_assert_msg(f.proto[0] == '\0', "gopher believed");
    /* One value per hop: the client's hop's. */
    f = RESOLVE("127.0.0.1", PROXY ",10.0.0.0/8", "X-Forwarded-For: 203.0.113.7, 10.0.0.2",
                "X-Forwarded-Proto: https, http");
    ck_assert_str_eq(f.client, "203.0.113.7");
    ck_assert_str_eq(f.proto, "https");
    /* Counts that do not line up say nothing. */
    f = RESOLVE("127.0.0.1", PROXY, "X-Forwarded-For: 203.0.113.7", "X-Forwarded-Proto: https, http");
    ck_assert_msg(f.proto[0] == '\0', "misaligned proto list believed: %s", f.proto);
}
END_TEST

/* ---- Forwarded ----------------------------------------------------------- */

START_TEST(forwarded_basic_and_case)
{
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "Forwarded: for=203.0.113.7"), "203.0.113.7");
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "Forwarded: For=\"203.0.113.7\";proto=https;by=127.0.0.1"),
                     "203.0.113.7");
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "forwarded: by=_proxy ; for=203.0.113.7"), "203.0.113.7");
}
END_TEST

START_TEST(forwarded_ipv6_and_ports)
{
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "Forwarded: for=\"[2001:db8:cafe::17]\""), "2001:db8:cafe::17");
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "Forwarded: for=\"[2001:db8:cafe::17]:4711\""), "2001:db8:cafe::17");
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "Forwarded: for=\"203.0.113.7:4711\""), "203.0.113.7");
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "Forwarded: for=\"203.0.113.7:_port\""), "203.0.113.7");
    ck_assert_str_eq(CLIENT("::1", "::1", "Forwarded: for=\"[::ffff:203.0.113.7]\""), "203.0.113.7");
}
END_TEST

START_TEST(forwarded_hops_from_the_right)
{
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY ",10.0.0.0/8",
                            "Forwarded: for=1.1.1.1, for=203.0.113.7;proto=https, for=10.0.0.2"),
                     "203.0.113.7");
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY ",10.0.0.0/8", "Forwarded: for=10.0.0.5", "Forwarded: for=10.0.0.2"),
                     "10.0.0.5");
}
END_TEST

START_TEST(forwarded_wins_over_xff)
{
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "X-Forwarded-For: 198.51.100.9", "Forwarded: for=203.0.113.7"),
                     "203.0.113.7");
}
END_TEST

START_TEST(forwarded_unknown_and_obfuscated_stop)
{
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "Forwarded: for=unknown"), "127.0.0.1");
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "Forwarded: for=_hidden"), "127.0.0.1");
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "Forwarded: for=203.0.113.7, for=_hidden"), "127.0.0.1");
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY ",10.0.0.0/8", "Forwarded: for=203.0.113.7, for=_x, for=10.0.0.2"),
                     "10.0.0.2");
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "Forwarded: proto=https"), "127.0.0.1");
}
END_TEST

START_TEST(forwarded_malformed_reached_gives_peer)
{
    static const char *const bad[] = {
        "Forwarded: for=\"203.0.113.7",        "Forwarded: for=[2001:db8::1]:x",     "Forwarded: for=203.0.113.7;for=1.1.1.1",
        "Forwarded: for",                       "Forwarded: =203.0.113.7",            "Forwarded: for=",
        "Forwarded: for=\"[203.0.113.7]\"",    "Forwarded: for=203.0.113.7 junk",    "Forwarded: for=\"2001:db8::1:80\":1",
        "Forwarded: for=_bad!",                 "Forwarded: for=\"\"",                "Forwarded: proto=https;for=no",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dm_forwarded f = RESOLVE("127.0.0.1", PROXY, bad[i]);
        ck_assert_msg(strcmp(f.client, "127.0.0.1") == 0, "%s gave %s, expected the peer", bad[i], f.client);
        ck_assert_msg(f.proto[0] == '\0', "%s: proto %s believed", bad[i], f.proto);
    }
}
END_TEST

START_TEST(forwarded_broken_quote_left_of_client_is_never_read)
{
    ck_assert_str_eq(CLIENT("127.0.0.1", PROXY, "Forwarded: for=\"oops, for=203.0.113.7"), "203.0.113.7");
}
END_TEST

START_TEST(forwarded_proto_of_the_client_hop)
{
    dm_forwarded f = RESOLVE("127.0.0.1", PROXY ",10.0.0.0/8",
                             "Forwarded: for=203.0.113.7;proto=https, for=10.0.0.2;proto=http");
    ck_assert_str_eq(f.client, "203.0.113.7");
    ck_assert_str_eq(f.proto, "https");
    f = RESOLVE("127.0.0.1", PROXY, "Forwarded: for=203.0.113.7", "X-Forwarded-Proto: https");
    ck_assert_msg(f.proto[0] == '\0', "X-Forwarded-Proto believed beside Forwarded: %s", f.proto);
    f = RESOLVE("127.0.0.1", PROXY, "Forwarded: for=203.0.113.7;proto=\"HTTPS\"");
    ck_assert_str_eq(f.proto, "https");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("forwarded");
    TCase *who = tcase_create("who");
    tcase_add_test(who, untrusted_peer_is_the_client);
    tcase_add_test(who, trusted_peer_without_headers_is_the_client);
    tcase_add_test(who, mapped_peer_is_trusted_and_normalised);
    tcase_add_test(who, peer_text_that_is_no_address_is_kept);
    suite_add_tcase(s, who);

    TCase *xff = tcase_create("xff");
    tcase_add_test(xff, xff_single_and_ipv6);
    tcase_add_test(xff, xff_rightmost_untrusted_wins);
    tcase_add_test(xff, xff_all_trusted_gives_leftmost);
    tcase_add_test(xff, xff_spaces_and_empty_members);
    tcase_add_test(xff, xff_ports);
    tcase_add_test(xff, xff_several_lines_in_order);
    tcase_add_test(xff, xff_many_hops);
    tcase_add_test(xff, xff_malformed_reached_gives_peer);
    tcase_add_test(xff, xff_garbage_left_of_client_is_never_read);
    tcase_add_test(xff, xff_unknown_stops_at_the_hop_that_said_it);
    tcase_add_test(xff, xff_proto);
    suite_add_tcase(s, xff);

    TCase *fwd = tcase_create("forwarded");
    tcase_add_test(fwd, forwarded_basic_and_case);
    tcase_add_test(fwd, forwarded_ipv6_and_ports);
    tcase_add_test(fwd, forwarded_hops_from_the_right);
    tcase_add_test(fwd, forwarded_wins_over_xff);
    tcase_add_test(fwd, forwarded_unknown_and_obfuscated_stop);
    tcase_add_test(fwd, forwarded_malformed_reached_gives_peer);
    tcase_add_test(fwd, forwarded_broken_quote_left_of_client_is_never_read);
    tcase_add_test(fwd, forwarded_proto_of_the_client_hop);
    suite_add_tcase(s, fwd);
    return s;
}

DM_TEST_MAIN(make_suite)
