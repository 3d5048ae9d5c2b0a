/*
 * log_follow.c — the follow threads of the log hub (log_hub.h): one per
 * followed instance, inside the runtime plugin's logs op (follow = true,
 * through plugin/call.h, which does not bound a follow; its sink's
 * cancelled() stops it within a second). Each line is cleaned and encoded
 * once here (log_line.h) and put in the channel's inbox; the loop takes
 * the inbox (dm__log_follow_take). The inbox is bounded like the
 * instance's buffer: when the loop falls behind, the thread waits, and
 * the runtime's stream with it, so nothing is lost between them.
 */
#include "instances/log_hub_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "instances/log_line.h"
#include "plugin/call.h"
#include "util/clock.h"
#include "util/log.h"

/* How long an inbox wait sleeps before it looks at stop again. */
#define ROOM_WAIT_MS 250

/* One run of the runtime's logs op. */
typedef struct follow_run {
    dm_log_chan *ch;
    char        *text;     /* line_max + 1 bytes: the cleaned text of a line */
    int64_t      start_ms; /* wall clock when the op was called */
    uint64_t     lost;     /* lines dropped for want of memory */
} follow_run;

static bool inbox_full(const dm_log_chan *ch)
{
    const dm_log_hub_cfg *cfg = &ch->hub->cfg;
    return ch->in_n > 0 && (ch->in_n >= cfg->buffer_lines || ch->in_bytes >= cfg->buffer_bytes);
}

/* Room for one more pending line; false when out of memory. */
static bool inbox_grow(dm_log_chan *ch)
{
    if (ch->in_n < ch->in_cap)
        return true;
    size_t cap = ch->in_cap > 0 ? ch->in_cap * 2 : 64;
    dm_log_pending *p = realloc(ch->inbox, cap * sizeof *p);
    if (p == NULL)
        return false;
    ch->inbox = p;
    ch->in_cap = cap;
    return true;
}

/* Queue json (stolen) for the loop, waiting while the inbox is full.
 * False when the follow must stop. */
static bool push(follow_run *f, dm_rbuf *json, bool live)
{
    dm_log_chan *ch = f->ch;
    pthread_mutex_lock(&ch->mu);
    while (!atomic_load(&ch->stop) && inbox_full(ch)) {
        struct timespec until;
        dm__clock_deadline(CLOCK_REALTIME, ROOM_WAIT_MS, &until);
        pthread_cond_timedwait(&ch->room, &ch->mu, &until);
    }
    bool go = !atomic_load(&ch->stop);
    bool kept = go && inbox_grow(ch);
    if (kept) {
        ch->inbox[ch->in_n++] = (dm_log_pending){ json, live };
        ch->in_bytes += json->len;
    }
    bool wake = kept && !atomic_exchange(&ch->news, true);
    pthread_mutex_unlock(&ch->mu);
    if (!kept) {
        f->lost += go ? 1 : 0;
        dm__rbuf_unref(json);
    }
    if (wake)
        uv_async_send(&ch->hub->async);
    return go;
}

/* The sink's line(): clean, encode, queue. Non-zero stops the follow. */
static int on_line(void *opaque, const char *line, size_t len, uint32_t stream, int64_t ts_ms)
{
    follow_run *f = opaque;
    dm_log_chan *ch = f->ch;
    if (atomic_load(&ch->stop))
        return 1;
    size_t n = dm__log_line_clean(line, len, ch->hub->cfg.line_max, f->text);
    dm_rbuf *json = dm__log_event_new(ch->id, f->text, n, stream, ts_ms);
    if (json == NULL) {
        f->lost++;
        return 0;
    }
    /* A line stamped in a later second than the follow's start was
     * written after it began: the runtime's tail is over (log_hub.c).
     * Seconds, because some runtimes stamp no finer (Podman's API). */
    return push(f, json, ts_ms >= (f->start_ms / 1000 + 1) * 1000) ? 0 : 1;
}

static bool on_cancelled(void *opaque)
{
    const follow_run *f = opaque;
    return atomic_load(&f->ch->stop);
}

/* The follow returned: tell the loop, then leave the hub's count. After
 * the count drops the channel and the hub may be gone: touch neither. */
static void finish(dm_log_chan *ch, int rc, const dm_err_t *err)
{
    dm_log_hub *h = ch->hub;
    pthread_mutex_lock(&ch->mu);
    ch->ended = true;
    ch->end_rc = rc;
    snprintf(ch->end_msg, sizeof ch->end_msg, "%s", rc != 0 ? err->msg : "");
    atomic_store(&ch->news, true);
    pthread_mutex_unlock(&ch->mu);
    pthread_mutex_lock(&h->mu);
    ch->thread_live = false;
    uv_async_send(&h->async); /* under mu: stop waits for the count, so the handle is open */
    h->threads--;
    pthread_cond_broadcast(&h->quiet);
    pthread_mutex_unlock(&h->mu);
}

static void *follow_main(void *arg)
{
    dm_log_chan *ch = arg;
    follow_run f = { .ch = ch, .text = malloc(ch->hub->cfg.line_max + 1) };
    dm_err_t err = { 0, "" };
    int rc;
    DM_LOG_I("log follow %s started", ch->id);
    if (f.text == NULL) {
        rc = dm_err_set(&err, DM_ENOMEM, "out of memory");
    } else {
        dm_runtime_log_opts_t opts = { .tail_lines = ch->tail, .follow = true };
        dm_runtime_log_sink_t sink = { .opaque = &f, .line = on_line, .cancelled = on_cancelled };
        f.start_ms = dm__clock_wall_ms();
        rc = dm__runtime_logs(ch->rt, ch->id, &opts, &sink, &err);
    }
    free(f.text);
    if (f.lost > 0)
        DM_LOG_W("log follow %s: %llu lines lost for want of memory", ch->id, (unsigned long long)f.lost);
    DM_LOG_I("log follow %s stopped", ch->id);
    /* This detached thread's OpenSSL state (a TLS follow made it) is freed
     * before the hub counts it as gone, as for the call threads
     * (plugin/call_pool.c): the process may exit right after. */
    OPENSSL_thread_stop();
    finish(ch, rc, &err);
    return NULL;
}

int dm__log_follow_start(dm_log_chan *ch)
{
    dm_log_hub *h = ch->hub;
    pthread_mutex_lock(&h->mu);
    bool stopped = h->stopped;
    if (!stopped) {
        h->threads++;
        ch->thread_live = true;
    }
    pthread_mutex_unlock(&h->mu);
    if (stopped)
        return DM_ECONFLICT;
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, follow_main, ch);
    pthread_attr_destroy(&attr);
    if (rc == 0)
        return 0;
    pthread_mutex_lock(&h->mu);
    h->threads--;
    ch->thread_live = false;
    pthread_cond_broadcast(&h->quiet);
    pthread_mutex_unlock(&h->mu);
    return DM_ENOMEM;
}

size_t dm__log_follow_take(dm_log_chan *ch, dm_log_pending *out, size_t max, size_t max_bytes, bool *ended,
                           int *rc, char *msg, size_t msg_len)
{
    pthread_mutex_lock(&ch->mu);
    size_t n = 0, bytes = 0;
    while (n < ch->in_n && n < max && (n == 0 || bytes + ch->inbox[n].json->len <= max_bytes)) {
        bytes += ch->inbox[n].json->len;
        out[n] = ch->inbox[n];
        n++;
    }
    if (n > 0 && n < ch->in_n)
        memmove(ch->inbox, ch->inbox + n, (ch->in_n - n) * sizeof *ch->inbox);
    ch->in_n -= n;
    ch->in_bytes -= bytes;
    *ended = ch->ended && ch->in_n == 0;
    if (*ended) {
        *rc = ch->end_rc;
        snprintf(msg, msg_len, "%s", ch->end_msg);
    }
    if (ch->in_n == 0)
        atomic_store(&ch->news, false);
    if (n > 0)
        pthread_cond_broadcast(&ch->room);
    pthread_mutex_unlock(&ch->mu);
    return n;
}

void dm__log_follow_cancel(dm_log_chan *ch)
{
    atomic_store(&ch->stop, true);
    pthread_mutex_lock(&ch->mu);
    pthread_cond_broadcast(&ch->room);
    pthread_mutex_unlock(&ch->mu);
}
