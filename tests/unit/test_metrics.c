/*
 * test_metrics.c — the pieces of /metrics that need no server: label
 * escaping, status classes, labelled histograms, /proc/self/stat parsing,
 * and the MiB figure of an instance's memory.used.
 */
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"
#include "instances/observe.h"
#include "ops/metrics.h"
#include "ops/process_metrics.h"

START_TEST(label_values_are_escaped)
{
    dm_buf b;
    dm__buf_init(&b, 0);
    ck_assert_int_eq(dm__metrics_label_value(&b, "a\"b\\c\nd"), 0);
    ck_assert_int_eq(dm__buf_append(&b, "", 1), 0);
    ck_assert_msg(strcmp(b.data, "a\\\"b\\\\c\\nd") == 0, "escaped as %s", b.data);
    dm__buf_free(&b);
}
END_TEST

START_TEST(status_classes)
{
    ck_assert_str_eq(dm__metrics_status_class(101), "1xx");
    ck_assert_str_eq(dm__metrics_status_class(200), "2xx");
    ck_assert_str_eq(dm__metrics_status_class(304), "3xx");
    ck_assert_str_eq(dm__metrics_status_class(404), "4xx");
    ck_assert_str_eq(dm__metrics_status_class(599), "5xx");
    ck_assert_str_eq(dm__metrics_status_class(0), "5xx");
}
END_TEST

/* Two statuses of one class share a histogram; the buckets are cumulative
 * and end with +Inf equal to _count. */
START_TEST(histogram_by_route_and_class)
{
    static dm_metrics m; /* large: off the stack */
    memset(&m, 0, sizeof m);
    const char *pat = "/api/instances/:id";
    dm__metrics_observe(&m, "GET", pat, 200, 1000000);    /* 1 ms */
    dm__metrics_observe(&m, "GET", pat, 204, 3000000000); /* 3 s: past every bound */
    dm__metrics_observe(&m, "GET", pat, 404, 1000000);
    ck_assert_int_eq(m.n_hist, 2);
    dm_buf b;
    dm__buf_init(&b, 0);
    ck_assert_int_eq(dm__metrics_render(&m, &b), 0);
    ck_assert_int_eq(dm__buf_append(&b, "", 1), 0);
    const char *want[] = {
        "dermaga_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/instances/:id\",status=\"2xx\","
        "le=\"0.001\"} 1\n",
        "dermaga_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/instances/:id\",status=\"2xx\","
        "le=\"2.5\"} 1\n",
        "dermaga_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/instances/:id\",status=\"2xx\","
        "le=\"+Inf\"} 2\n",
        "dermaga_http_request_duration_seconds_count{method=\"GET\",route=\"/api/instances/:id\",status=\"2xx\"} 2\n",
        "dermaga_http_request_duration_seconds_count{method=\"GET\",route=\"/api/instances/:id\",status=\"4xx\"} 1\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(b.data, want[i]) != NULL, "missing %s in:\n%s", want[i], b.data);
    dm__buf_free(&b);
}
END_TEST

START_TEST(proc_stat_is_parsed)
{
    /* A real line's shape, with a command name holding ") (" to prove the
     * fields are counted from the last ')'. utime 250, stime 150 ticks;
     * starttime 1000 ticks; vsize 4096000; rss 300 pages. */
    static const char line[] = "4242 (dermaga) (x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 9 0 "
                               "1000 4096000 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
    dm_process_stat st;
    ck_assert_int_eq(dm__process_stat_parse(line, 1700000000.0, 100, 4096, &st), 0);
    ck_assert_msg(st.cpu_seconds > 3.99 && st.cpu_seconds < 4.01, "cpu %f, want 4", st.cpu_seconds);
    ck_assert_msg(st.start_time_s > 1700000009.99 && st.start_time_s < 1700000010.01, "start %f", st.start_time_s);
    ck_assert_msg(st.resident_bytes == 300.0 * 4096, "rss %f", st.resident_bytes);
    ck_assert_msg(st.virtual_bytes == 4096000.0, "vsize %f", st.virtual_bytes);
    ck_assert_int_eq(dm__process_stat_parse("no parenthesis here", 0, 100, 4096, &st), DM_EINVAL);
    ck_assert_int_eq(dm__process_stat_parse("1 (x) S 1 2", 0, 100, 4096, &st), DM_EINVAL);
}
END_TEST

START_TEST(memory_used_is_mib_with_two_decimals)
{
    ck_assert_msg(dm__observe_mib(1433600) == 1.37, "1433600 bytes → %.17g, want 1.37", dm__observe_mib(1433600));
    ck_assert_msg(dm__observe_mib(524288) == 0.5, "half a MiB → %.17g", dm__observe_mib(524288));
    ck_assert_msg(dm__observe_mib(5000) == 0.0, "5000 bytes → %.17g, want 0 (under half a hundredth)",
                  dm__observe_mib(5000));
    ck_assert_msg(dm__observe_mib(6000) == 0.01, "6000 bytes → %.17g, want 0.01", dm__observe_mib(6000));
    ck_assert_msg(dm__observe_mib(64ull * 1048576) == 64.0, "64 MiB → %.17g", dm__observe_mib(64ull * 1048576));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("render");
    tcase_add_test(tc, label_values_are_escaped);
    tcase_add_test(tc, status_classes);
    tcase_add_test(tc, histogram_by_route_and_class);
    tcase_add_test(tc, proc_stat_is_parsed);
    tcase_add_test(tc, memory_used_is_mib_with_two_decimals);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
