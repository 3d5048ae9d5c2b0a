/*
 * rfc3339.c — strict RFC 3339 reading and writing in UTC milliseconds
 * (rfc3339.h), for the from/to filters of the administrators' listings.
 */
#include "util/rfc3339.h"

#include <stdio.h>
#include <time.h>

/* n decimal digits at p into *out; false if any is not a digit. */
static bool digits(const char *p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (the
 * civil-from-days algorithm run backwards: eras of 400 years). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "HH:MM:SS[.frac](Z|±HH:MM)" at p: seconds of the day minus the offset,
 * and the milliseconds of the fraction. */
static bool parse_clock(const char *p, int64_t *secs, int *millis)
{
    int hh, mi, ss;
    if (!digits(p, 2, &hh) || p[2] != ':' || !digits(p + 3, 2, &mi) || p[5] != ':' || !digits(p + 6, 2, &ss)
        || hh > 23 || mi > 59 || ss > 59)
        return false;
    p += 8;
    *millis = 0;
    if (*p == '.') {
        int n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 3)
                *millis = *millis * 10 + (*p - '0');
        if (n == 0 || n > 9)
            return false;
        for (; n < 3; n++)
            *millis *= 10;
    }
    int64_t offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        offset = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return false;
    }
    *secs = hh * 3600 + mi * 60 + ss - offset;
    return *p == '\0';
}

bool dm__rfc3339_parse(const char *s, int64_t *ms)
{
    int y, m, d;
    if (s == NULL || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &m) || s[7] != '-'
        || !digits(s + 8, 2, &d) || y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return false;
    int64_t secs = 0;
    int millis = 0;
    if (s[10] != '\0' && ((s[10] != 'T' && s[10] != 't') || !parse_clock(s + 11, &secs, &millis)))
        return false;
    int64_t t = (days_from_civil(y, m, d) * 86400 + secs) * 1000 + millis;
    /* An offset can carry 0001-01-01 into year 0 or 9999-12-31 into 10000:
     * neither prints as a four-digit RFC 3339 year (strftime writes "0"),
     * so the normalised text would be refused or misread downstream. */
    if (t < days_from_civil(1, 1, 1) * 86400000 || t >= days_from_civil(10000, 1, 1) * 86400000)
        return false;
    *ms = t;
    return true;
}

void dm__rfc3339_format(int64_t ms, char out[32])
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL) {
        snprintf(out, 32, "1970-01-01T00:00:00.000Z");
        return;
    }
    /* strftime bounds the date part; the remainder is 0..999 by construction. */
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    if (n == 0 || n > 26) {
        snprintf(out, 32, "1970-01-01T00:00:00.000Z");
        return;
    }
    snprintf(out + n, 32 - n, ".%03uZ", (unsigned)((uint64_t)(ms - (int64_t)secs * 1000) % 1000u));
}
