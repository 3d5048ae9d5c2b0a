/*
 * check.h — `dermaga plugin-check`, the integrators' conformance kit: load
 * one plugin file exactly as the server would (file and descriptor checks,
 * config, init), report every problem, then run the contract tests of its
 * kind through the same call layer the server uses, printing one PASS or
 * FAIL line per check. What each kind's checks are: docs/plugins.md,
 * "The contract of each kind". The files of this folder share this header.
 */
#ifndef DM_PLUGINCHECK_CHECK_H
#define DM_PLUGINCHECK_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "plugin/registry.h"

/* What the command line gave. Strings borrowed from argv. */
typedef struct dm_check_opts {
    const char *file;     /* the plugin .so */
    const char *config;   /* JSON file: the plugin's config block, or NULL ({}) */
    const char *against;  /* payment: the gateway or its simulator's base URL */
    const char *spec;     /* runtime: a workload spec file, or NULL (a built-in one) */
    const char *catalog;  /* service: a catalog file, or NULL (catalogPath's default) */
    const char *identity; /* auth: good credentials */
    const char *secret;
    int         wait_s;   /* runtime: how long a phase may take to be reached */
} dm_check_opts;

/* The tally and where the lines go. */
typedef struct dm_check {
    FILE *out;
    int   passed, failed, skipped;
} dm_check;

void dm__check_pass(dm_check *c, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void dm__check_fail(dm_check *c, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void dm__check_skip(dm_check *c, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* PASS when ok, else FAIL; returns ok. */
bool dm__check_expect(dm_check *c, bool ok, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A JSON file as a new reference, or NULL with the reason in why. */
json_t *dm__check_read_json(const char *path, char *why, size_t cap);

/* The contract tests of one loaded, initialised plugin. */
void dm__check_runtime(dm_check *c, const dm_plugin *p, const dm_check_opts *o);
void dm__check_service(dm_check *c, const dm_plugin *p, const dm_check_opts *o);
void dm__check_auth(dm_check *c, const dm_plugin *p, const dm_check_opts *o);
void dm__check_payment(dm_check *c, const dm_plugin *p, const dm_check_opts *o);

/* The command: argv after "plugin-check". Exit status: 0 all passed, 1
 * something failed (or the plugin was refused), 2 bad usage. */
int dm__plugin_check_main(int argc, char **argv);

#endif /* DM_PLUGINCHECK_CHECK_H */
