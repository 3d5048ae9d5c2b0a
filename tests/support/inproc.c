/*
 * inproc.c — an in-process server driven from the caller's thread (inproc.h).
 */
#include "inproc.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "db/pool.h"
#include "http/conn.h"

static const char *no_env(const char *name)
{
    (void)name;
    return NULL;
}

/* The server takes SIGINT/SIGTERM for draining; give them back. */
static int listen_quietly(dm_inproc *p, dm_err_t *e)
{
    struct sigaction old_int, old_term;
    sigaction(SIGINT, NULL, &old_int);
    sigaction(SIGTERM, NULL, &old_term);
    int rc = dm__server_start(&p->s, e);
    if (rc == 0) {
        uv_signal_stop(&p->s.sigint);
        uv_signal_stop(&p->s.sigterm);
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return rc;
}

int dm_inproc_start(dm_inproc *p, const char *config_json, int (*add_routes)(dm_router *rt), char *err,
                    size_t err_len)
{
    memset(p, 0, sizeof *p);
    dm_err_t e = { 0 };
    if (uv_loop_init(&p->loop) != 0) {
        snprintf(err, err_len, "uv_loop_init failed");
        return -1;
    }
    p->started = true;
    if (dm__config_load_text(&p->cfg, config_json, no_env, &e) != 0) {
        snprintf(err, err_len, "config: %s", e.msg);
        return -1;
    }
    p->cfg.port = 0; /* the kernel picks a free one; a file may not say 0 */
    p->s.loop = &p->loop;
    p->s.cfg = &p->cfg;
    dm__router_init(&p->s.router);
    if (add_routes(&p->s.router) != 0) {
        snprintf(err, err_len, "cannot register the routes");
        return -1;
    }
    p->s.pool = dm__pool_new(&p->loop, &p->cfg, 1, 4, &e);
    if (p->s.pool == NULL || listen_quietly(p, &e) != 0) {
        snprintf(err, err_len, "%s", e.msg);
        return -1;
    }
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(&p->s.listener, (struct sockaddr *)&ss, &len) != 0) {
        snprintf(err, err_len, "getsockname failed");
        return -1;
    }
    memcpy(&p->addr, &ss, sizeof p->addr);
    return 0;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void dm_inproc_free(dm_inproc *p)
{
    if (!p->started)
        return;
    p->started = false;
    struct dm_conn *c = p->s.conns;
    while (c != NULL) {
        struct dm_conn *next = c->next;
        dm__conn_shutdown(c, false);
        c = next;
    }
    uv_run(&p->loop, UV_RUN_NOWAIT); /* their close callbacks */
    if (p->s.pool != NULL && dm__pool_stop(p->s.pool, 5000) != 0)
        return; /* a worker stuck: leave it all rather than free under it */
    uv_walk(&p->loop, close_walk, NULL);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    uv_loop_close(&p->loop);
    dm__pool_free(p->s.pool);
    dm__router_free(&p->s.router);
    dm__config_free(&p->cfg);
}

void dm_inproc_step(dm_inproc *p, int fd, bool want_write, int max_ms)
{
    struct pollfd pf[2] = {
        { .fd = uv_backend_fd(&p->loop), .events = POLLIN },
        { .fd = fd, .events = (short)(POLLIN | (want_write ? POLLOUT : 0)) },
    };
    int t = uv_backend_timeout(&p->loop);
    if (t < 0 || t > max_ms)
        t = max_ms;
    (void)poll(pf, fd >= 0 ? 2 : 1, t);
    uv_run(&p->loop, UV_RUN_NOWAIT);
}

struct dm_conn *dm_inproc_conn_of(dm_inproc *p, int fd)
{
    struct sockaddr_in mine;
    socklen_t mlen = sizeof mine;
    if (getsockname(fd, (struct sockaddr *)&mine, &mlen) != 0)
        return NULL;
    for (struct dm_conn *c = p->s.conns; c != NULL; c = c->next) {
        struct sockaddr_storage peer;
        int plen = sizeof peer;
        if (!c->closing && uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &plen) == 0
            && ((struct sockaddr_in *)&peer)->sin_port == mine.sin_port)
            return c;
    }
    return NULL;
}
