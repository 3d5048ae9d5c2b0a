/*
 * pg_health.c — idle-connection liveness and the outage log of pg.c
 * (see pg_health.h). The reachability state is one per process: every
 * pool worker, job thread and the migrator report to it.
 */
#include "db/pg_health.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "util/clock.h"
#include "util/log.h"

/* How often a continuing outage is logged again. */
#define REMIND_NS (30ull * 1000000000ull)
/* Reads of pending input before giving up on reaching its end: a FATAL
 * message and the close behind it take one or two. */
#define MAX_IDLE_READS 8

bool dm__pg_idle_alive(PGconn *c, char *why, size_t cap)
{
    for (int i = 0; i < MAX_IDLE_READS && PQstatus(c) == CONNECTION_OK; i++) {
        struct pollfd pfd = { .fd = PQsocket(c), .events = POLLIN };
        if (pfd.fd < 0)
            break;
        int n = poll(&pfd, 1, 0);
        if (n == 0)
            return true; /* nothing pending: nothing says it died */
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || !PQconsumeInput(c))
            break;
        /* Parse what was read: an error the server sent while idle (the
         * FATAL before it closes) reaches the notice receiver. */
        (void)PQisBusy(c);
    }
    if (PQstatus(c) == CONNECTION_OK && PQsocket(c) >= 0)
        return true; /* input keeps coming (notices): alive */
    if (cap > 0) {
        const char *msg = PQerrorMessage(c);
        size_t len = strcspn(msg, "\n");
        snprintf(why, cap, "%.*s", (int)len, len > 0 ? msg : "connection closed");
    }
    return false;
}

static struct {
    pthread_mutex_t mu;
    bool            down;
    uint64_t        since_ns;     /* first failure of this outage */
    uint64_t        logged_ns;    /* last line about it */
    unsigned long   failures;     /* failed connects in this outage */
    unsigned long   unlogged;     /* of which since the last line */
} state = { .mu = PTHREAD_MUTEX_INITIALIZER };

void dm__pg_note_connect_failed(const char *why)
{
    uint64_t now = dm__clock_mono_ns();
    pthread_mutex_lock(&state.mu);
    state.failures++;
    if (!state.down) {
        state.down = true;
        state.since_ns = state.logged_ns = now;
        state.unlogged = 0;
        DM_LOG_W("database unreachable: %s (further failed connects are counted and logged at "
                 "most every 30 s)", why);
    } else if (now - state.logged_ns >= REMIND_NS) {
        DM_LOG_W("database still unreachable after %" PRIu64 " s: %s (%lu failed connects since "
                 "the last line)", (now - state.since_ns) / 1000000000u, why, state.unlogged + 1);
        state.logged_ns = now;
        state.unlogged = 0;
    } else {
        state.unlogged++;
    }
    pthread_mutex_unlock(&state.mu);
}

void dm__pg_note_connected(void)
{
    pthread_mutex_lock(&state.mu);
    if (state.down) {
        DM_LOG_I("database reachable again after %" PRIu64 " ms (%lu failed connects)",
                 (dm__clock_mono_ns() - state.since_ns) / 1000000u, state.failures);
        state.down = false;
        state.failures = 0;
    }
    pthread_mutex_unlock(&state.mu);
}
