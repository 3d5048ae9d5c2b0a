/*
 * sse.c — Server-Sent Event streams (sse.h). Who owns what: a stream has
 * two references, the loop's (its uv handles; dropped in their close
 * callback, or by dm__sse_discard when it never started) and the producer
 * thread's (dropped when produce() returns). The bytes queued by the
 * producer live in `pending` under the stream's mutex until the loop takes
 * them for a write. A process-wide list lets shutdown cancel them all.
 */
#include "http/sse.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "http/conn.h"
#include "http/response.h"
#include "http/server.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

#define PENDING_MAX   (1024u * 1024u) /* queued bytes before the producer waits */
#define KEEPALIVE_MS  15000
#define WRITE_QUEUED_MAX (1024u * 1024u)
#define STALL_MS      60000 /* a client that takes nothing for this long is dropped */

struct dm_sse {
    char              name[96];
    dm_sse_produce_fn produce;
    void             *arg;
    void            (*free_arg)(void *);
    pthread_mutex_t   mu;
    pthread_cond_t    room;        /* signalled when pending shrinks or on cancel */
    dm_buf            pending;     /* queued by the producer, not yet written */
    bool              cancelled;   /* the stream is over: producer, stop */
    bool              produced;    /* produce() returned */
    bool              async_live;  /* the loop's async may be signalled */
    int               refs;        /* under g_mu */
    /* loop thread only */
    struct dm_conn   *conn;        /* NULL once the connection closed */
    uv_async_t        async;
    uv_timer_t        keepalive;
    int               open_handles;
    uint64_t          progress_ms; /* loop time of the last write that completed */
    struct dm_sse    *next, *prev; /* g_list, under g_mu */
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  g_quiet = PTHREAD_COND_INITIALIZER; /* a producer thread ended */
static dm_sse         *g_list;
static int             g_open;    /* streams that exist */
static int             g_threads; /* producer threads running */

/* ---- life ---------------------------------------------------------------- */

dm_sse *dm__sse_new(const char *name, dm_sse_produce_fn produce, void *arg, void (*free_arg)(void *),
                    int max_streams, dm_err_t *err)
{
    dm_sse *s = calloc(1, sizeof *s);
    if (s == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory"), NULL;
    /* Ready before it is listed: shutdown may lock it from then on. */
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->room, NULL);
    dm__buf_init(&s->pending, 0);
    pthread_mutex_lock(&g_mu);
    bool full = g_open >= max_streams;
    if (!full) {
        g_open++;
        s->next = g_list;
        if (g_list != NULL)
            g_list->prev = s;
        g_list = s;
        s->refs = 1; /* the loop's, until handles exist to carry it */
    }
    pthread_mutex_unlock(&g_mu);
    if (full) {
        pthread_cond_destroy(&s->room);
        pthread_mutex_destroy(&s->mu);
        free(s);
        dm_err_set(err, DM_EBUSY, "%d streams are open already", max_streams);
        return NULL;
    }
    snprintf(s->name, sizeof s->name, "%s", name);
    s->produce = produce;
    s->arg = arg;
    s->free_arg = free_arg;
    return s;
}

/* Drop one reference; the last frees the stream and its argument. */
static void unref(dm_sse *s)
{
    pthread_mutex_lock(&g_mu);
    bool last = --s->refs == 0;
    if (last) {
        if (s->prev != NULL)
            s->prev->next = s->next;
        else
            g_list = s->next;
        if (s->next != NULL)
            s->next->prev = s->prev;
        g_open--;
    }
    pthread_mutex_unlock(&g_mu);
    if (!last)
        return;
    if (s->free_arg != NULL)
        s->free_arg(s->arg);
    dm__buf_free(&s->pending);
    pthread_cond_destroy(&s->room);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void dm__sse_discard(dm_sse *s)
{
    if (s != NULL)
        unref(s);
}

void dm__res_sse(dm_request *r, dm_sse *s)
{
    dm__sse_discard(r->res.sse); /* a handler that answers twice */
    r->res.status = 200;
    r->res.content_type = "text/event-stream";
    r->res.sse = s;
    dm__buf_reset(&r->res.body);
    dm__res_header(r, "Cache-Control", "no-cache");
    dm__res_header(r, "X-Accel-Buffering", "no"); /* proxies: do not buffer the stream */
    r->close_after = true;
}

/* ---- producer side ------------------------------------------------------- */

static void cancel_locked(dm_sse *s)
{
    s->cancelled = true;
    pthread_cond_broadcast(&s->room);
}

bool dm__sse_cancelled(dm_sse *s)
{
    pthread_mutex_lock(&s->mu);
    bool c = s->cancelled;
    pthread_mutex_unlock(&s->mu);
    return c;
}

int dm__sse_send(dm_sse *s, const char *event, const char *data)
{
    pthread_mutex_lock(&s->mu);
    while (!s->cancelled && s->pending.len > PENDING_MAX) {
        struct timespec until;
        dm__clock_deadline(CLOCK_REALTIME, 1000, &until);
        pthread_cond_timedwait(&s->room, &s->mu, &until);
    }
    int rc = 0;
    if (s->cancelled) {
        rc = DM_ECONFLICT;
    } else {
        if (data == NULL)
            rc = dm__buf_printf(&s->pending, ": %s\n\n", event != NULL ? event : "");
        else if (event != NULL)
            rc = dm__buf_printf(&s->pending, "event: %s\ndata: %s\n\n", event, data);
        else
            rc = dm__buf_printf(&s->pending, "data: %s\n\n", data);
        if (rc != 0)
            rc = DM_ENOMEM;
        if (rc == 0 && s->async_live)
            uv_async_send(&s->async);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void *producer(void *p)
{
    dm_sse *s = p;
    s->produce(s, s->arg);
    pthread_mutex_lock(&s->mu);
    s->produced = true;
    if (s->async_live)
        uv_async_send(&s->async);
    pthread_mutex_unlock(&s->mu);
    DM_LOG_I("%s ended", s->name);
    unref(s);
    pthread_mutex_lock(&g_mu);
    g_threads--;
    pthread_cond_broadcast(&g_quiet);
    pthread_mutex_unlock(&g_mu);
    return NULL;
}

/* ---- loop side ----------------------------------------------------------- */

/* Write what the producer queued; after its last bytes, end the
 * connection. Waits while the socket's write queue is long (a slow client:
 * dm__sse_drained calls again). */
static void pull(dm_sse *s)
{
    struct dm_conn *c = s->conn;
    if (c == NULL || uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > WRITE_QUEUED_MAX)
        return;
    pthread_mutex_lock(&s->mu);
    size_t len = 0;
    char *data = s->pending.len > 0 ? dm__buf_steal(&s->pending, &len) : NULL;
    bool over = s->produced;
    pthread_cond_broadcast(&s->room);
    pthread_mutex_unlock(&s->mu);
    if (data != NULL)
        dm__conn_write_raw(c, data, len, over); /* takes data */
    else if (over && c->writes == 0)
        dm__conn_end(c); /* only once every queued byte is out */
}

static void on_async(uv_async_t *a)
{
    pull(a->data);
}

static void on_keepalive(uv_timer_t *t)
{
    dm_sse *s = t->data;
    struct dm_conn *c = s->conn;
    if (c != NULL && uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > 0 &&
        uv_now(t->loop) - s->progress_ms > STALL_MS) {
        /* The client stopped reading: free its thread and engine stream. */
        DM_LOG_W("%s: the client took nothing for %d s; closing", s->name, STALL_MS / 1000);
        dm__conn_end(c);
        return;
    }
    pthread_mutex_lock(&s->mu);
    if (s->pending.len == 0 && !s->produced && dm__buf_puts(&s->pending, ": keep-alive\n\n") != 0)
        DM_LOG_W("%s: no memory for a keep-alive", s->name);
    pthread_mutex_unlock(&s->mu);
    pull(s);
}

static void on_closed(uv_handle_t *h)
{
    dm_sse *s = h->data;
    if (--s->open_handles == 0)
        unref(s); /* the loop's reference */
}

void dm__sse_attach(dm_sse *s, struct dm_conn *c)
{
    uv_loop_t *loop = c->server->loop;
    s->conn = c;
    s->async.data = s;
    s->keepalive.data = s;
    uv_async_init(loop, &s->async, on_async);
    uv_timer_init(loop, &s->keepalive);
    s->open_handles = 2;
    s->progress_ms = uv_now(loop);
    uv_timer_start(&s->keepalive, on_keepalive, KEEPALIVE_MS, KEEPALIVE_MS);
    pthread_mutex_lock(&s->mu);
    s->async_live = true;
    int rc = dm__buf_puts(&s->pending, ": connected\n\n");
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_lock(&g_mu);
    s->refs++; /* the producer's */
    g_threads++;
    pthread_mutex_unlock(&g_mu);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (rc != 0 || pthread_create(&t, &attr, producer, s) != 0) {
        DM_LOG_E("%s: cannot start its thread", s->name);
        pthread_mutex_lock(&g_mu);
        s->refs--;
        g_threads--;
        pthread_mutex_unlock(&g_mu);
        dm__conn_end(c); /* detaches, which closes the handles */
    } else {
        pull(s);
    }
    pthread_attr_destroy(&attr);
}

void dm__sse_detach(dm_sse *s)
{
    s->conn = NULL;
    pthread_mutex_lock(&s->mu);
    s->async_live = false;
    cancel_locked(s);
    pthread_mutex_unlock(&s->mu);
    uv_close((uv_handle_t *)&s->async, on_closed);
    uv_close((uv_handle_t *)&s->keepalive, on_closed);
}

void dm__sse_drained(dm_sse *s)
{
    s->progress_ms = uv_now(s->async.loop);
    pull(s);
}

int dm__sse_open_count(void)
{
    pthread_mutex_lock(&g_mu);
    int n = g_open;
    pthread_mutex_unlock(&g_mu);
    return n;
}

int dm__sse_shutdown(int timeout_ms)
{
    struct timespec until;
    dm__clock_deadline(CLOCK_REALTIME, timeout_ms, &until);
    pthread_mutex_lock(&g_mu);
    for (dm_sse *s = g_list; s != NULL; s = s->next) {
        pthread_mutex_lock(&s->mu);
        cancel_locked(s);
        pthread_mutex_unlock(&s->mu);
    }
    int rc = 0;
    while (g_threads > 0 && rc == 0)
        rc = pthread_cond_timedwait(&g_quiet, &g_mu, &until);
    int left = g_threads;
    pthread_mutex_unlock(&g_mu);
    return left == 0 ? 0 : DM_ETIMEDOUT;
}
