/*
 * server.c — the listener, the list of connections, the connection cap and
 * graceful shutdown on SIGTERM/SIGINT; SIGHUP reopens the log file (if any).
 */
#include "http/server.h"

#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "http/conn.h"
#include "http/ws.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/log_file.h"

static void on_connection(uv_stream_t *l, int status)
{
    dm_server *s = l->data;
    if (status < 0) {
        DM_LOG_W("accept failed: %s", uv_strerror(status));
        return;
    }
    dm__conn_accept(s);
}

void dm__server_conn_opened(dm_server *s, struct dm_conn *c)
{
    c->next = s->conns;
    c->prev = NULL;
    if (s->conns != NULL)
        s->conns->prev = c;
    s->conns = c;
    s->n_conns++;
    s->metrics.open_connections = s->n_conns;
    s->metrics.connections_total++;
}

static void finish_drain(dm_server *s);

/* Giving memory back after slow clients. Each connection's buffers grow
 * with what it sends (a 12 KB partial header holds ~20 KB) and go when it
 * closes, but glibc keeps freed heap pages: after 1000 such connections
 * left, RSS stayed 20 MB up (bench/slow_conns.py). glibc gives back only
 * the free top of the heap by itself, and blocks still in use pin the rest.
 * malloc_trim(0) also returns the free pages in the middle (MADV_DONTNEED).
 * It walks the heap, so it runs on a timer, at most once a second, and only
 * after a burst of closes: a steady trickle reuses its own memory anyway.
 * Lowering M_MMAP_THRESHOLD instead would put every buffer over it in its
 * own mapping: a system call per growth on every request, for all clients.
 * (Under AddressSanitizer its allocator, not glibc's, holds the memory.) */
#define TRIM_AFTER_MS 1000
#define TRIM_MIN_CLOSES 32

static void on_trim(uv_timer_t *t)
{
    dm_server *s = t->data;
    s->closed_since_trim = 0;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

static void count_close(dm_server *s)
{
    s->closed_since_trim++;
    if (s->closed_since_trim >= TRIM_MIN_CLOSES && !uv_is_active((uv_handle_t *)&s->trim_timer)
        && !uv_is_closing((uv_handle_t *)&s->trim_timer))
        uv_timer_start(&s->trim_timer, on_trim, TRIM_AFTER_MS, 0);
}

void dm__server_conn_closed(dm_server *s, struct dm_conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else if (s->conns == c)
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
    s->n_conns--;
    s->metrics.open_connections = s->n_conns;
    count_close(s);
    if (s->draining && s->n_conns == 0)
        finish_drain(s);
}

static void on_signal(uv_signal_t *h, int signum)
{
    dm_server *s = h->data;
    DM_LOG_I("signal %d: draining (grace %d ms)", signum, s->cfg->shutdown_grace_ms);
    dm__server_drain(s);
}

/* SIGHUP (a terminal closing, logrotate after moving the log file, or an
 * operator expecting a reload) must not stop the server. Runs on the loop
 * (uv_signal), so logging is safe here. With logFile set, the file is
 * opened again at its path (util/log_file.h) so lines go to a new file
 * after a rotation; otherwise every line goes to stderr and there is
 * nothing to reopen. The configuration is read once, at start. */
static void on_sighup(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    dm_err_t err = { 0, "" };
    if (dm__log_file_path() == NULL)
        DM_LOG_I("SIGHUP: nothing to reopen (logging to stderr); configuration changes need a restart");
    else if (dm__log_file_reopen(&err) == 0)
        DM_LOG_I("SIGHUP: reopened the log file %s; configuration changes need a restart", dm__log_file_path());
    else
        DM_LOG_E("SIGHUP: %s; still writing to the file opened before", err.msg);
}

static void on_drain_timeout(uv_timer_t *t)
{
    dm_server *s = t->data;
    DM_LOG_W("grace period over: closing %d connection(s) with work in flight", s->n_conns);
    struct dm_conn *c = s->conns;
    while (c != NULL) {
        struct dm_conn *next = c->next;
        dm__conn_shutdown(c, false);
        c = next;
    }
    finish_drain(s);
}

/* Everything that keeps the loop alive goes away; main() then stops the
 * pool and closes the rest. */
static void finish_drain(dm_server *s)
{
    uv_timer_stop(&s->drain_timer);
    uv_stop(s->loop);
}

int dm__server_on_drain(dm_server *s, void (*fn)(void *ctx), void *ctx)
{
    if (s->n_drain_hooks >= (int)(sizeof s->drain_hooks / sizeof s->drain_hooks[0]))
        return DM_ENOMEM;
    s->drain_hooks[s->n_drain_hooks].fn = fn;
    s->drain_hooks[s->n_drain_hooks].ctx = ctx;
    s->n_drain_hooks++;
    return 0;
}

void dm__server_drain(dm_server *s)
{
    if (s->draining)
        return;
    s->draining = true;
    s->drain_started_ns = dm__clock_mono_ns();
    for (int i = 0; i < s->n_drain_hooks; i++)
        s->drain_hooks[i].fn(s->drain_hooks[i].ctx);
    uv_close((uv_handle_t *)&s->listener, NULL);
    uv_signal_stop(&s->sigterm);
    uv_signal_stop(&s->sigint);
    struct dm_conn *c = s->conns;
    while (c != NULL) {
        struct dm_conn *next = c->next;
        dm__conn_shutdown(c, true);
        c = next;
    }
    if (s->n_conns == 0) {
        finish_drain(s);
        return;
    }
    uv_timer_start(&s->drain_timer, on_drain_timeout, (uint64_t)s->cfg->shutdown_grace_ms, 0);
}

int dm__server_start(dm_server *s, dm_err_t *err)
{
    struct sockaddr_storage addr;
    int rc = uv_ip4_addr(s->cfg->listen, s->cfg->port, (struct sockaddr_in *)&addr);
    if (rc != 0)
        rc = uv_ip6_addr(s->cfg->listen, s->cfg->port, (struct sockaddr_in6 *)&addr);
    if (rc != 0)
        return dm_err_set(err, DM_EINVAL, "listen address %s is not an IP address", s->cfg->listen);
    uv_tcp_init(s->loop, &s->listener);
    s->listener.data = s;
    rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 1024, on_connection);
    if (rc != 0) {
        uv_close((uv_handle_t *)&s->listener, NULL);
        return dm_err_set(err, DM_EIO, "cannot listen on %s:%d: %s", s->cfg->listen, s->cfg->port,
                          uv_strerror(rc));
    }
    uv_timer_init(s->loop, &s->drain_timer);
    s->drain_timer.data = s;
    uv_timer_init(s->loop, &s->trim_timer);
    s->trim_timer.data = s;
    uv_unref((uv_handle_t *)&s->trim_timer); /* never what keeps the loop running */
    dm__ws_flusher_init(s);
    uv_signal_init(s->loop, &s->sigterm);
    uv_signal_init(s->loop, &s->sigint);
    s->sigterm.data = s->sigint.data = s;
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    /* Left running while draining (a SIGHUP then must not kill either),
     * and unreferenced: it alone never keeps the loop running. */
    uv_signal_init(s->loop, &s->sighup);
    uv_signal_start(&s->sighup, on_sighup, SIGHUP);
    uv_unref((uv_handle_t *)&s->sighup);
    return 0;
}
