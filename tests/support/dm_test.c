/*
 * dm_test.c — small helpers every kind of test uses.
 */
#include "dm_test.h"

#include <stdio.h>
#include <string.h>

char *dm_test_mkdtemp(const char *prefix)
{
    char tmpl[256];
    snprintf(tmpl, sizeof tmpl, "/tmp/%s-XXXXXX", prefix != NULL ? prefix : "dermaga-test");
    char *dir = mkdtemp(tmpl);
    ck_assert_msg(dir != NULL, "mkdtemp(%s) failed", tmpl);
    return strdup(dir);
}
