/*
 * sse.c — Server-Sent Event streams fed on the loop (sse.h). Who owns
 * what: a stream holds one reference for its life (dropped by
 * dm__sse_discard, or by its timer's close callback after the connection
 * closed), one per write in flight and one while it waits on the flush
 * list; the last frees it. Queued events hold references to their shared
 * bytes until their write completes. A process-wide list counts the
 * streams for server.maxLogStreams; streams are made on pool workers, so
 * that list is under a mutex, while everything else is the loop's.
 */
#include "http/sse.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/conn.h"
#include "http/response.h"
#include "http/server.h"
#include "util/log.h"

#define KEEPALIVE_MS 15000 /* a comment after this long without an event */
#define TICK_MS      5000  /* how often the keep-alive and stall checks run */
#define STALL_MS     60000 /* a client that takes nothing for this long is dropped */
#define BATCH_MAX    512   /* events in one write */
#define HEAD_MAX     32    /* "id: <20 digits>\ndata: " */

typedef enum item_kind {
    IT_DATA, /* "[id: n\n]data: " + b + "\n\n" */
    IT_RAW,  /* b is a whole event */
    IT_TEXT, /* text is a whole static event */
} item_kind;

typedef struct item {
    dm_rbuf    *b; /* one reference (IT_DATA, IT_RAW) */
    const char *text;
    uint64_t    id;
    item_kind   kind;
} item;

struct dm_sse {
    char            name[96];
    dm_sse_owner    owner;
    size_t          queue_max;
    int             refs;
    bool            owner_done;  /* close was called */
    /* loop thread */
    struct dm_conn *conn;        /* NULL once the connection closed */
    uv_timer_t      timer;
    item           *q;           /* queued, not yet written: q_n of q_cap */
    size_t          q_n, q_cap;
    size_t          queued;      /* bytes of the events in q */
    bool            refused;     /* drained() is owed */
    bool            ending;      /* close once everything is written */
    bool            over;        /* detached */
    bool            dirty;       /* on the flush list */
    bool            writing;     /* a write is in flight */
    uint64_t        active_ms;   /* loop time of the last event queued */
    uint64_t        progress_ms; /* loop time of the last write completed */
    struct dm_sse  *next, *prev; /* g_list, under g_mu */
    struct dm_sse  *dnext;       /* g_dirty, loop */
};

/* One write in flight: its events and the buffers that point into them. */
typedef struct batch {
    dm_sse  *s;
    item    *items;
    size_t   n;
    char    *heads;
    unsigned nbufs;
    uv_buf_t bufs[];
} batch;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static dm_sse         *g_list;
static int             g_open;
static dm_sse         *g_dirty; /* loop: streams with something to write */
static uv_check_t      g_flusher;
static bool            g_started;

static size_t item_len(const item *it)
{
    return it->b != NULL ? it->b->len : strlen(it->text);
}

static void release_items(item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dm__rbuf_unref(items[i].b);
}

/* ---- life ---------------------------------------------------------------- */

dm_sse *dm__sse_new(const char *name, const dm_sse_owner *owner, size_t queue_max, int max_streams, dm_err_t *err)
{
    dm_sse *s = calloc(1, sizeof *s);
    if (s == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory"), NULL;
    pthread_mutex_lock(&g_mu);
    bool full = g_open >= max_streams;
    if (!full) {
        g_open++;
        s->next = g_list;
        if (g_list != NULL)
            g_list->prev = s;
        g_list = s;
    }
    pthread_mutex_unlock(&g_mu);
    if (full) {
        free(s);
        return dm_err_set(err, DM_EBUSY, "%d streams are open already", max_streams), NULL;
    }
    snprintf(s->name, sizeof s->name, "%s", name);
    s->owner = *owner;
    s->queue_max = queue_max;
    s->refs = 1;
    return s;
}

static void close_owner(dm_sse *s)
{
    if (!s->owner_done) {
        s->owner_done = true;
        s->owner.close(s->owner.ctx);
    }
}

static void unref(dm_sse *s)
{
    if (--s->refs > 0)
        return;
    pthread_mutex_lock(&g_mu);
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        g_list = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    g_open--;
    pthread_mutex_unlock(&g_mu);
    release_items(s->q, s->q_n);
    free(s->q);
    free(s);
}

void dm__sse_discard(dm_sse *s)
{
    if (s == NULL)
        return;
    close_owner(s);
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

/* ---- the queue ------------------------------------------------------------- */

static void mark_dirty(dm_sse *s)
{
    if (s->dirty || s->over)
        return;
    s->dirty = true;
    s->refs++;
    s->dnext = g_dirty;
    g_dirty = s;
}

/* Bytes waiting to reach the kernel: queued here, or handed to libuv and
 * not written yet (a client that reads slowly). What the kernel took does
 * not count: it is on its way. */
static size_t backlog(const dm_sse *s)
{
    size_t wq = s->conn != NULL ? uv_stream_get_write_queue_size((const uv_stream_t *)&s->conn->tcp) : 0;
    return s->queued + wq;
}

static int enqueue(dm_sse *s, item it)
{
    if (s->q_n == s->q_cap) {
        size_t cap = s->q_cap > 0 ? s->q_cap * 2 : 16;
        item *q = realloc(s->q, cap * sizeof *q);
        if (q == NULL)
            return DM_ENOMEM;
        s->q = q;
        s->q_cap = cap;
    }
    s->q[s->q_n++] = it;
    s->queued += item_len(&it);
    s->active_ms = uv_now(s->timer.loop);
    mark_dirty(s);
    return 0;
}

int dm__sse_push(dm_sse *s, uint64_t id, dm_rbuf *data)
{
    if (s->over || s->ending)
        return DM_ECONFLICT;
    size_t waiting = backlog(s);
    if (waiting > 0 && waiting + data->len > s->queue_max) {
        s->refused = true;
        return DM_EBUSY;
    }
    int rc = enqueue(s, (item){ .b = data, .id = id, .kind = IT_DATA });
    if (rc == 0)
        dm__rbuf_ref(data);
    return rc;
}

int dm__sse_send(dm_sse *s, const char *event, const char *data)
{
    if (s->over || s->ending)
        return DM_ECONFLICT;
    size_t n = strlen("event: \ndata: \n\n") + strlen(event) + strlen(data);
    dm_rbuf *b = dm__rbuf_alloc(n);
    if (b == NULL)
        return DM_ENOMEM;
    snprintf(b->data, n + 1, "event: %s\ndata: %s\n\n", event, data);
    int rc = enqueue(s, (item){ .b = b, .kind = IT_RAW });
    if (rc != 0)
        dm__rbuf_unref(b);
    return rc;
}

void dm__sse_end(dm_sse *s)
{
    s->ending = true;
    mark_dirty(s);
}

/* ---- writing --------------------------------------------------------------- */

/* The buffers of the first n queued events into b. */
static void fill_bufs(batch *b)
{
    static char blank[] = "\n\n";
    unsigned k = 0;
    for (size_t i = 0; i < b->n; i++) {
        item *it = &b->items[i];
        if (it->kind == IT_TEXT) {
            b->bufs[k++] = uv_buf_init((char *)it->text, (unsigned)strlen(it->text));
        } else if (it->kind == IT_RAW) {
            b->bufs[k++] = uv_buf_init(it->b->data, (unsigned)it->b->len);
        } else {
            char *head = b->heads + i * HEAD_MAX;
            int hn = it->id != 0 ? snprintf(head, HEAD_MAX, "id: %llu\ndata: ", (unsigned long long)it->id)
                                 : snprintf(head, HEAD_MAX, "data: ");
            b->bufs[k++] = uv_buf_init(head, (unsigned)hn);
            b->bufs[k++] = uv_buf_init(it->b->data, (unsigned)it->b->len);
            b->bufs[k++] = uv_buf_init(blank, 2);
        }
    }
    b->nbufs = k;
}

static void batch_free(batch *b)
{
    release_items(b->items, b->n);
    free(b->items);
    free(b->heads);
    free(b);
}

/* A write finished (or failed, or was cancelled by the close). */
static void on_written(void *arg, int status)
{
    batch *b = arg;
    dm_sse *s = b->s;
    s->writing = false;
    batch_free(b);
    if (!s->over && status == 0) {
        s->progress_ms = uv_now(s->timer.loop);
        if (s->refused && backlog(s) <= s->queue_max / 2) {
            s->refused = false;
            s->owner.drained(s->owner.ctx);
        }
        mark_dirty(s); /* more may be queued, or the end is due */
    }
    unref(s);
}

/* Write up to BATCH_MAX queued events in one write; end the connection
 * once nothing is left when ending. */
static void write_some(dm_sse *s)
{
    if (s->conn == NULL || s->writing)
        return;
    if (s->q_n == 0) {
        if (s->ending)
            dm__conn_end(s->conn); /* detaches */
        return;
    }
    size_t n = s->q_n < BATCH_MAX ? s->q_n : BATCH_MAX;
    batch *b = calloc(1, sizeof *b + 3 * n * sizeof(uv_buf_t));
    item *items = b != NULL ? malloc(n * sizeof *items) : NULL;
    char *heads = items != NULL ? malloc(n * HEAD_MAX) : NULL;
    if (heads == NULL) {
        free(items);
        free(b);
        dm__conn_end(s->conn); /* out of memory: the stream cannot go on */
        return;
    }
    memcpy(items, s->q, n * sizeof *items);
    memmove(s->q, s->q + n, (s->q_n - n) * sizeof *s->q);
    s->q_n -= n;
    for (size_t i = 0; i < n; i++)
        s->queued -= item_len(&items[i]);
    if (s->q_n == 0 && s->q_cap > 64) { /* an idle stream keeps little */
        free(s->q);
        s->q = NULL;
        s->q_cap = 0;
    }
    *b = (batch){ .s = s, .items = items, .n = n, .heads = heads };
    fill_bufs(b);
    if (dm__conn_write_bufs(s->conn, b->bufs, b->nbufs, on_written, b) != 0) {
        batch_free(b); /* the connection is closing */
        return;
    }
    s->writing = true;
    s->refs++;
}

static void on_flush(uv_check_t *h)
{
    (void)h;
    dm_sse *list = g_dirty;
    g_dirty = NULL;
    while (list != NULL) {
        dm_sse *s = list;
        list = s->dnext;
        s->dirty = false;
        write_some(s);
        unref(s);
    }
}

int dm__sse_start(uv_loop_t *loop)
{
    int rc = uv_check_init(loop, &g_flusher);
    if (rc == 0)
        rc = uv_check_start(&g_flusher, on_flush);
    if (rc == 0) {
        uv_unref((uv_handle_t *)&g_flusher);
        g_started = true;
    }
    return rc;
}

void dm__sse_stop(void)
{
    if (!g_started)
        return;
    uv_check_stop(&g_flusher);
    uv_close((uv_handle_t *)&g_flusher, NULL);
    g_started = false;
}

/* ---- the connection -------------------------------------------------------- */

static void on_tick(uv_timer_t *t)
{
    dm_sse *s = t->data;
    uint64_t now = uv_now(t->loop);
    if (s->conn == NULL)
        return;
    if (s->writing && now - s->progress_ms > STALL_MS) {
        /* The client stopped reading: what it holds goes with it. */
        DM_LOG_W("%s: the client took nothing for %d s; closing", s->name, STALL_MS / 1000);
        dm__conn_end(s->conn);
        return;
    }
    if (s->q_n == 0 && !s->writing && !s->ending && now - s->active_ms >= KEEPALIVE_MS
        && enqueue(s, (item){ .text = ": keep-alive\n\n", .kind = IT_TEXT }) != 0)
        DM_LOG_W("%s: no memory for a keep-alive", s->name);
}

static void on_timer_closed(uv_handle_t *h)
{
    unref(h->data); /* the stream's life */
}

void dm__sse_attach(dm_sse *s, struct dm_conn *c)
{
    uv_loop_t *loop = c->server->loop;
    s->conn = c;
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    s->progress_ms = uv_now(loop);
    uv_timer_start(&s->timer, on_tick, TICK_MS, TICK_MS);
    if (enqueue(s, (item){ .text = ": connected\n\n", .kind = IT_TEXT }) != 0) {
        dm__conn_end(c); /* detaches, which closes the owner */
        return;
    }
    s->owner.start(s->owner.ctx, s);
}

void dm__sse_detach(dm_sse *s)
{
    s->conn = NULL;
    s->over = true;
    DM_LOG_I("%s ended", s->name);
    close_owner(s);
    release_items(s->q, s->q_n);
    s->queued = 0;
    s->q_n = 0;
    uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}

int dm__sse_open_count(void)
{
    pthread_mutex_lock(&g_mu);
    int n = g_open;
    pthread_mutex_unlock(&g_mu);
    return n;
}
