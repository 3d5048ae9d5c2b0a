/*
 * k8s_parse.c — the text formats the API server answers in: resource
 * quantities (metrics' "12345678n" CPU and "123456Ki" memory, and the
 * "250m" / "1" / "2Gi" of capacities) and RFC 3339 times (log line
 * prefixes with nanoseconds, creationTimestamp). Pure.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "k8s.h"

/* "123.45" into an integer part and fraction digits scaled to 1e9
 * (nanos); the rest (the suffix) in *end. False when no digit. */
static bool decimal(const char *q, int64_t *whole, int64_t *nanos, const char **end)
{
    const char *p = q;
    int64_t w = 0, f = 0, scale = 100000000;
    bool digit = false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (w > (INT64_MAX - 9) / 10)
            return false;
        w = w * 10 + (*p - '0');
        digit = true;
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            f += scale * (*p - '0');
            scale /= 10;
            digit = true;
        }
    }
    *whole = w;
    *nanos = f;
    *end = p;
    return digit;
}

/* value * mul / div, rounding up, saturating rather than overflowing. */
static int64_t scaled(int64_t whole, int64_t nanos, int64_t mul, int64_t div)
{
    /* Work in units of 1/div so fractions of the result round up. */
    __int128 v = ((__int128)whole * 1000000000 + nanos) * mul;
    __int128 d = (__int128)div * 1000000000;
    __int128 r = (v + d - 1) / d;
    return r > INT64_MAX ? INT64_MAX : (int64_t)r;
}

int64_t k8s_cpu_millicores(const char *q)
{
    int64_t w, f;
    const char *s;
    if (q == NULL || !decimal(q, &w, &f, &s))
        return -1;
    if (strcmp(s, "") == 0)
        return scaled(w, f, 1000, 1);
    if (strcmp(s, "m") == 0)
        return scaled(w, f, 1, 1);
    if (strcmp(s, "u") == 0)
        return scaled(w, f, 1, 1000);
    if (strcmp(s, "n") == 0)
        return scaled(w, f, 1, 1000000);
    if (strcmp(s, "k") == 0)
        return scaled(w, f, 1000000, 1);
    return -1;
}

int64_t k8s_memory_bytes(const char *q)
{
    static const struct { const char *suffix; int64_t mul; } units[] = {
        { "", 1 }, { "k", 1000 }, { "M", 1000000 }, { "G", 1000000000 },
        { "T", 1000000000000 }, { "Ki", 1024 }, { "Mi", 1048576 }, { "Gi", 1073741824 },
        { "Ti", 1099511627776 },
    };
    int64_t w, f;
    const char *s;
    if (q == NULL || !decimal(q, &w, &f, &s))
        return -1;
    if (strcmp(s, "m") == 0) /* millibytes: the API can say it */
        return scaled(w, f, 1, 1000);
    if (s[0] == 'e' || s[0] == 'E') {
        int exp = 0;
        for (const char *p = s + 1; *p != '\0'; p++) {
            if (*p < '0' || *p > '9' || exp > 18)
                return -1;
            exp = exp * 10 + (*p - '0');
        }
        if (exp > 18 || s[1] == '\0')
            return -1;
        int64_t mul = 1;
        for (int i = 0; i < exp; i++)
            mul *= 10;
        return scaled(w, f, mul, 1);
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(s, units[i].suffix) == 0)
            return scaled(w, f, units[i].mul, 1);
    }
    return -1;
}

/* n digits at s as a number; -1 when one is not a digit. */
static int digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

size_t k8s_parse_time(const char *s, size_t len, int64_t *ms)
{
    /* YYYY-MM-DDTHH:MM:SS then [.frac] then Z or ±HH:MM. */
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
        s[13] != ':' || s[16] != ':')
        return 0;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), se = digits(s + 17, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 ||
        mi > 59 || se < 0 || se > 60)
        return 0;
    size_t i = 19;
    int64_t frac_ms = 0;
    if (i < len && s[i] == '.') {
        int64_t scale = 100;
        size_t start = ++i;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            frac_ms += scale * (s[i] - '0');
            scale /= 10;
        }
        if (i == start)
            return 0;
    }
    int64_t offset_s = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 <= len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        if (oh < 0 || om < 0)
            return 0;
        offset_s = (s[i] == '+' ? 1 : -1) * (int64_t)(oh * 3600 + om * 60);
        i += 6;
    } else {
        return 0;
    }
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                     .tm_min = mi, .tm_sec = se };
    time_t t = timegm(&tm);
    *ms = ((int64_t)t - offset_s) * 1000 + frac_ms;
    return i;
}

void k8s_format_time(int64_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0 && cap > 0)
        out[0] = '\0';
}
