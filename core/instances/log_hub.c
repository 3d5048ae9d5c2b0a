/*
 * log_hub.c — the loop side of the log hub (log_hub.h): per instance a
 * record of its line ids and a channel (one follow, a ring of its recent
 * lines, its subscribers); the pump that numbers the follow threads'
 * lines, keeps them and offers them to each subscriber from its own
 * cursor; back-pressure (a stalled subscriber's cursor jumps forward,
 * counting what it missed); and the end of follows. docs/logs.md.
 *
 * Who frees what: a subscriber is freed by dm__log_hub_unsubscribe (or,
 * when that comes from inside a sink call, by the sweep after the pump); a
 * channel by the sweep once it is retired, has no subscriber and its
 * thread has finished; records live as long as the hub.
 */
#include "instances/log_hub_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "instances/log_line.h"
#include "util/clock.h"
#include "util/log.h"

/* A channel's tail is in once no line came for this long (log_hub.h). */
#define PRIME_QUIET_MS 100
/* The hub's timer: priming and lingering deadlines. */
#define TICK_MS 50

static const char NO_WORKLOAD[] = "the instance has no workload to read logs from";
static const char NO_STREAM[] = "the container runtime could not stream the log";

typedef enum sub_state {
    SUB_WAITING, /* its channel is not primed yet */
    SUB_LIVE,    /* takes every line from `next` on */
    SUB_STALLED, /* refused lines: misses lines until drained */
    SUB_DRAINED, /* has room again: owes the "lines dropped" notice */
    SUB_ENDED,   /* logs-ended sent: no more calls */
} sub_state;

struct dm_log_sub {
    dm_log_hub  *hub;
    dm_log_chan *ch;       /* NULL: nothing to follow (error below) */
    const char  *error;    /* for a subscriber without a channel */
    char         id[37];   /* the instance */
    dm_log_sink  sink;
    uint32_t     tail;
    uint64_t     after_id;
    uint64_t     next;     /* the id of the next line to offer */
    uint64_t     dropped;  /* lines missed since it stalled */
    sub_state    state;
    bool         dead;     /* unsubscribed during a pump */
    struct dm_log_sub *next_sub, *prev_sub;
};

static void on_tick(uv_timer_t *t);

/* Keep the timer going while a deadline is pending (needs_tick). */
static void tick(dm_log_hub *h)
{
    if (!uv_is_active((uv_handle_t *)&h->timer))
        uv_timer_start(&h->timer, on_tick, TICK_MS, TICK_MS);
}

/* ---- records --------------------------------------------------------------- */

static size_t hash_id(const char *s)
{
    size_t hv = 1469598103934665603u;
    for (; *s != '\0'; s++)
        hv = (hv ^ (unsigned char)*s) * 1099511628211u;
    return hv;
}

static void rehash(dm_log_hub *h)
{
    size_t n = h->n_buckets * 2;
    dm_log_rec **b = calloc(n, sizeof *b);
    if (b == NULL)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < h->n_buckets; i++) {
        for (dm_log_rec *r = h->buckets[i], *nx; r != NULL; r = nx) {
            nx = r->hnext;
            size_t k = hash_id(r->id) & (n - 1);
            r->hnext = b[k];
            b[k] = r;
        }
    }
    free(h->buckets);
    h->buckets = b;
    h->n_buckets = n;
}

/* The record of instance id, made on first use; NULL when out of memory. */
static dm_log_rec *rec_get(dm_log_hub *h, const char *id)
{
    size_t k = hash_id(id) & (h->n_buckets - 1);
    for (dm_log_rec *r = h->buckets[k]; r != NULL; r = r->hnext)
        if (strcmp(r->id, id) == 0)
            return r;
    dm_log_rec *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    snprintf(r->id, sizeof r->id, "%s", id);
    r->next_id = 1;
    r->hnext = h->buckets[k];
    h->buckets[k] = r;
    if (++h->n_recs > h->n_buckets)
        rehash(h);
    return r;
}

/* ---- the ring -------------------------------------------------------------- */

/* The id of the newest line held (first_id - 1 when none). */
static uint64_t ring_last(const dm_log_chan *ch)
{
    return ch->first_id + ch->ring_n - 1;
}

static dm_log_line *ring_at(const dm_log_chan *ch, uint64_t id)
{
    return &ch->ring[(ch->ring_head + (id - ch->first_id)) % ch->ring_cap];
}

/* Release what a line holds: its event and any transport's encodings. */
static void line_release(dm_log_line *l)
{
    dm__rbuf_unref(l->json);
    dm__rbuf_unref(l->forms[0]);
    dm__rbuf_unref(l->forms[1]);
    *l = (dm_log_line){ 0 };
}

static void ring_drop_oldest(dm_log_chan *ch)
{
    dm_log_line *l = &ch->ring[ch->ring_head];
    ch->ring_bytes -= l->json->len;
    line_release(l);
    ch->ring_head = (ch->ring_head + 1) % ch->ring_cap;
    ch->ring_n--;
    ch->first_id++;
}

/* Number json (stolen) and keep it, dropping the oldest lines past the
 * caps. Its id. */
static uint64_t publish(dm_log_hub *h, dm_log_chan *ch, dm_rbuf *json)
{
    while (ch->ring_n > 0 && (ch->ring_n == ch->ring_cap || ch->ring_bytes + json->len > h->cfg.buffer_bytes))
        ring_drop_oldest(ch);
    uint64_t id = ch->rec->next_id++;
    ch->ring[(ch->ring_head + ch->ring_n) % ch->ring_cap] = (dm_log_line){ id, json, { NULL, NULL } };
    ch->ring_n++;
    ch->ring_bytes += json->len;
    h->lines++;
    return id;
}

/* ---- channels -------------------------------------------------------------- */

static void prime(dm_log_chan *ch, uint64_t boundary);

static void chan_free(dm_log_hub *h, dm_log_chan *ch)
{
    if (ch->prev != NULL)
        ch->prev->next = ch->next;
    else
        h->chans = ch->next;
    if (ch->next != NULL)
        ch->next->prev = ch->prev;
    if (ch->rec->cur == ch)
        ch->rec->cur = NULL;
    while (ch->ring_n > 0)
        ring_drop_oldest(ch);
    for (size_t i = 0; i < ch->in_n; i++)
        dm__rbuf_unref(ch->inbox[i].json);
    free(ch->inbox);
    free(ch->ring);
    pthread_cond_destroy(&ch->room);
    pthread_mutex_destroy(&ch->mu);
    free(ch);
}

/* No new subscriber joins ch any more. */
static void retire(dm_log_chan *ch)
{
    ch->retired = true;
    if (ch->rec->cur == ch)
        ch->rec->cur = NULL;
}

/* The follow ended (or never started) with rc: what its subscribers hear. */
static void take_end(dm_log_chan *ch, int rc, const char *msg)
{
    ch->end_seen = true;
    ch->end_rc = rc;
    if (rc != 0 && rc != DM_ENOTFOUND && !atomic_load(&ch->stop)) /* the runtime's words may name hosts: log only */
        DM_LOG_W("log follow %s: %s", ch->id, msg[0] != '\0' ? msg : "failed");
    if (!ch->primed)
        prime(ch, ring_last(ch) + 1);
    ch->attention = true;
    retire(ch);
}

/* A new channel for rec, its follow asking the runtime for `tail` lines
 * back, listed as rec's current one. NULL when out of memory. A follow
 * that cannot start ends the channel at once: its subscribers hear
 * logs-error. */
static dm_log_chan *chan_new(dm_log_hub *h, dm_log_rec *rec, const dm_plugin *rt, uint32_t tail)
{
    dm_log_chan *ch = calloc(1, sizeof *ch);
    if (ch == NULL || (ch->ring = calloc(h->cfg.buffer_lines, sizeof *ch->ring)) == NULL) {
        free(ch);
        return NULL;
    }
    pthread_mutex_init(&ch->mu, NULL);
    pthread_cond_init(&ch->room, NULL);
    atomic_init(&ch->stop, false);
    atomic_init(&ch->news, false);
    ch->hub = h;
    ch->rec = rec;
    ch->rt = rt;
    memcpy(ch->id, rec->id, sizeof ch->id);
    ch->tail = tail > 0 ? tail : 1; /* 0 would ask a runtime for its whole log */
    ch->ring_cap = h->cfg.buffer_lines;
    ch->first_id = ch->base_id = rec->next_id;
    ch->next = h->chans;
    if (h->chans != NULL)
        h->chans->prev = ch;
    h->chans = ch;
    rec->cur = ch;
    if (dm__log_follow_start(ch) != 0)
        take_end(ch, DM_EIO, "cannot start the follow thread");
    return ch;
}

/* Stop ch's follow: nobody is left to read it. */
static void chan_stop(dm_log_chan *ch)
{
    ch->linger_until = 0;
    dm__log_follow_cancel(ch);
    retire(ch);
}

/* ch lost its last subscriber: stop its follow now, or after the linger. */
static void chan_idle(dm_log_hub *h, dm_log_chan *ch)
{
    if (ch->n_subs > 0 || ch->retired)
        return;
    if (h->cfg.linger_ms <= 0)
        chan_stop(ch);
    else if (ch->linger_until == 0) {
        ch->linger_until = uv_now(h->loop) + (uint64_t)h->cfg.linger_ms;
        tick(h);
    }
}

/* ---- subscribers ----------------------------------------------------------- */

/* Right after s's after_id when this channel still holds every line after
 * it (ids of an earlier follow mean nothing here); else 0. */
static uint64_t resume_point(const dm_log_chan *ch, const dm_log_sub *s)
{
    uint64_t a = s->after_id;
    return a >= ch->base_id && a + 1 >= ch->first_id && a <= ring_last(ch) ? a + 1 : 0;
}

/* Where s starts in ch once the lines before `boundary` are the recent
 * ones: its resume point, else the last `tail` of them. */
static uint64_t start_of(const dm_log_chan *ch, const dm_log_sub *s, uint64_t boundary)
{
    uint64_t r = resume_point(ch, s);
    if (r != 0)
        return r;
    uint64_t held = boundary - ch->first_id;
    return held > s->tail ? boundary - s->tail : ch->first_id;
}

/* The tail is in: subscribers waiting for it start at boundary's tail. */
static void prime(dm_log_chan *ch, uint64_t boundary)
{
    DM_LOG_D("log follow %s: the runtime's tail is in (%llu lines, ids %llu to %llu)", ch->id,
             (unsigned long long)(boundary - ch->first_id), (unsigned long long)ch->first_id,
             (unsigned long long)boundary - 1);
    ch->primed = true;
    ch->attention = true;
    for (dm_log_sub *s = ch->subs; s != NULL; s = s->next_sub) {
        if (s->state == SUB_WAITING) {
            s->next = start_of(ch, s, boundary);
            s->state = SUB_LIVE;
        }
    }
}

static void count_dropped(dm_log_hub *h, dm_log_sub *s, uint64_t n)
{
    s->dropped += n;
    h->dropped += n;
}

/* Offer s every held line from s->next on. */
static void offer(dm_log_hub *h, dm_log_chan *ch, dm_log_sub *s)
{
    uint64_t last = ring_last(ch);
    if (s->next < ch->first_id)
        s->next = ch->first_id;
    if (s->next > last)
        return;
    size_t n = (size_t)(last - s->next + 1);
    for (size_t i = 0; i < n; i++)
        h->scratch[i] = ring_at(ch, s->next + i);
    s->next = last + 1;
    size_t took = s->sink.lines(s->sink.ctx, h->scratch, n);
    if (!s->dead && took < n) {
        s->state = SUB_STALLED;
        count_dropped(h, s, n - took);
    }
}

/* A drained subscriber: what it missed up to now, as one notice, then on
 * from the newest lines. */
static void offer_notice(dm_log_hub *h, dm_log_chan *ch, dm_log_sub *s)
{
    uint64_t last = ring_last(ch);
    if (s->next <= last)
        count_dropped(h, s, last - s->next + 1);
    s->next = last + 1;
    dm_log_line notice = { 0, dm__log_dropped_new(ch->id, s->dropped, dm__clock_wall_ms()), { NULL, NULL } };
    dm_log_line *one = &notice;
    size_t took = notice.json != NULL ? s->sink.lines(s->sink.ctx, &one, 1) : 1;
    line_release(&notice);
    if (s->dead)
        return;
    s->state = took == 1 ? SUB_LIVE : SUB_STALLED;
    if (took == 1)
        s->dropped = 0;
}

/* The end, as the follow ended for s: logs-error when it failed, then
 * logs-ended. */
static void send_end(const char *id, const char *error, dm_log_sub *s)
{
    char json[320];
    s->state = SUB_ENDED;
    if (error != NULL) {
        snprintf(json, sizeof json, "{\"message\":\"%s\"}", error); /* ours: nothing to escape */
        s->sink.notice(s->sink.ctx, "logs-error", json);
        if (s->dead)
            return;
    }
    snprintf(json, sizeof json, "{\"instanceId\":\"%s\"}", id);
    s->sink.notice(s->sink.ctx, "logs-ended", json);
}

static const char *end_error(const dm_log_chan *ch)
{
    if (atomic_load(&ch->stop) || ch->end_rc == 0)
        return NULL;
    return ch->end_rc == DM_ENOTFOUND ? NO_WORKLOAD : NO_STREAM;
}

/* Bring one subscriber of ch up to date. */
static void serve(dm_log_hub *h, dm_log_chan *ch, dm_log_sub *s)
{
    if (s->dead || s->state == SUB_WAITING || s->state == SUB_ENDED)
        return;
    if (s->state == SUB_DRAINED)
        offer_notice(h, ch, s);
    if (s->dead)
        return;
    if (s->state == SUB_LIVE) {
        offer(h, ch, s);
    } else if (s->next <= ring_last(ch)) { /* stalled: the cursor jumps, counting */
        count_dropped(h, s, ring_last(ch) - s->next + 1);
        s->next = ring_last(ch) + 1;
    }
    if (!s->dead && ch->end_seen)
        send_end(ch->id, end_error(ch), s);
}

static void distribute(dm_log_hub *h, dm_log_chan *ch)
{
    ch->attention = false;
    for (dm_log_sub *s = ch->subs; s != NULL; s = s->next_sub)
        serve(h, ch, s);
}

/* ---- the pump -------------------------------------------------------------- */

/* Move ch's new lines into its ring, in chunks no bigger than half the
 * ring, offering each chunk before the next: a subscriber that keeps up
 * never loses a line to the ring's turnover. */
static void take_news(dm_log_hub *h, dm_log_chan *ch)
{
    const size_t chunk = h->cfg.buffer_lines / 2 > 0 ? h->cfg.buffer_lines / 2 : 1;
    for (;;) {
        bool ended = false;
        int rc = 0;
        char msg[256] = "";
        size_t n = dm__log_follow_take(ch, h->taken, chunk, h->cfg.buffer_bytes / 2, &ended, &rc, msg, sizeof msg);
        if (ch->end_seen || atomic_load(&ch->stop)) { /* nobody reads a stopped follow */
            for (size_t i = 0; i < n; i++)
                dm__rbuf_unref(h->taken[i].json);
            ch->end_seen = ch->end_seen || ended;
        } else if (n > 0) {
            uint64_t boundary = 0;
            for (size_t i = 0; i < n; i++) {
                uint64_t id = publish(h, ch, h->taken[i].json);
                if (!ch->primed && boundary == 0 && h->taken[i].live)
                    boundary = id;
                else if (!ch->primed && boundary == 0)
                    ch->hist_n++;
            }
            ch->last_news_ms = uv_now(h->loop);
            if (!ch->primed)
                tick(h);
            if (!ch->primed && (boundary != 0 || ch->hist_n >= ch->tail))
                prime(ch, boundary != 0 ? boundary : ring_last(ch) + 1);
            distribute(h, ch);
        }
        if (ended && !ch->end_seen)
            take_end(ch, rc, msg);
        if (n == 0 || ended)
            return;
    }
}

static void serve_orphans(dm_log_hub *h)
{
    for (dm_log_sub *s = h->orphans; s != NULL; s = s->next_sub)
        if (!s->dead && s->state != SUB_ENDED)
            send_end(s->id, s->error, s);
}

static void unlink_sub(dm_log_sub *s)
{
    dm_log_sub **head = s->ch != NULL ? &s->ch->subs : &s->hub->orphans;
    if (s->prev_sub != NULL)
        s->prev_sub->next_sub = s->next_sub;
    else
        *head = s->next_sub;
    if (s->next_sub != NULL)
        s->next_sub->prev_sub = s->prev_sub;
    if (s->ch != NULL)
        s->ch->n_subs--;
    s->hub->n_subs--;
}

/* Free the subscribers marked dead in list *head. */
static void sweep_subs(dm_log_sub *head)
{
    for (dm_log_sub *s = head, *nx; s != NULL; s = nx) {
        nx = s->next_sub;
        if (s->dead) {
            unlink_sub(s);
            free(s);
        }
    }
}

static bool thread_live(dm_log_hub *h, const dm_log_chan *ch)
{
    pthread_mutex_lock(&h->mu);
    bool live = ch->thread_live;
    pthread_mutex_unlock(&h->mu);
    return live;
}

/* After a pump: free marked subscribers, stop idle follows whose linger is
 * over, free finished channels. */
static void sweep(dm_log_hub *h)
{
    uint64_t now = uv_now(h->loop);
    if (h->dead_subs)
        sweep_subs(h->orphans);
    for (dm_log_chan *ch = h->chans, *nx; ch != NULL; ch = nx) {
        nx = ch->next;
        if (h->dead_subs) {
            sweep_subs(ch->subs);
            chan_idle(h, ch);
        }
        if (!ch->retired && ch->n_subs == 0 && ch->linger_until != 0 && now >= ch->linger_until)
            chan_stop(ch);
        if (ch->retired && ch->n_subs == 0 && !thread_live(h, ch))
            chan_free(h, ch);
    }
    h->dead_subs = false;
}

/* Whether a deadline is pending: a runtime's tail that only quiet can
 * end, or a lingering follow. Otherwise the timer rests. */
static bool needs_tick(const dm_log_hub *h)
{
    for (const dm_log_chan *ch = h->chans; ch != NULL; ch = ch->next)
        if ((!ch->primed && ch->hist_n > 0) || ch->linger_until != 0)
            return true;
    return false;
}

static void pump(dm_log_hub *h)
{
    h->pumping++;
    uint64_t now = uv_now(h->loop);
    for (dm_log_chan *ch = h->chans; ch != NULL; ch = ch->next) {
        if (atomic_load(&ch->news))
            take_news(h, ch);
        if (!ch->primed && ch->hist_n > 0 && now - ch->last_news_ms >= PRIME_QUIET_MS)
            prime(ch, ring_last(ch) + 1);
        if (ch->attention)
            distribute(h, ch);
    }
    serve_orphans(h);
    h->pumping--;
    sweep(h);
    if (!needs_tick(h))
        uv_timer_stop(&h->timer);
}

static void on_async(uv_async_t *a)
{
    pump(a->data);
}

static void on_tick(uv_timer_t *t)
{
    pump(t->data);
}

/* Pump at the next loop iteration. */
static void wake(dm_log_hub *h)
{
    uv_async_send(&h->async);
}

/* ---- the API --------------------------------------------------------------- */

dm_log_sub *dm__log_hub_subscribe(dm_log_hub *h, const dm_plugin *rt, const char *instance_id, bool has_workload,
                                  uint32_t tail, uint64_t after_id, const dm_log_sink *sink)
{
    dm_log_sub *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    *s = (dm_log_sub){ .hub = h, .sink = *sink, .tail = tail, .after_id = after_id, .state = SUB_WAITING };
    snprintf(s->id, sizeof s->id, "%s", instance_id);
    dm_log_rec *rec = NULL;
    if (!has_workload || rt == NULL) {
        s->error = !has_workload ? NO_WORKLOAD : NO_STREAM;
    } else if ((rec = rec_get(h, instance_id)) == NULL
               || (s->ch = rec->cur != NULL ? rec->cur : chan_new(h, rec, rt, tail)) == NULL) {
        free(s);
        return NULL;
    }
    dm_log_sub **head = s->ch != NULL ? &s->ch->subs : &h->orphans;
    s->next_sub = *head;
    if (*head != NULL)
        (*head)->prev_sub = s;
    *head = s;
    h->n_subs++;
    if (s->ch != NULL) {
        s->ch->n_subs++;
        s->ch->linger_until = 0;
        s->ch->attention = true;
        if (s->ch->primed) {
            s->next = start_of(s->ch, s, ring_last(s->ch) + 1);
            s->state = SUB_LIVE;
        } else if (tail >= s->ch->tail) { /* the runtime sends its tail, or less: all of it */
            uint64_t r = resume_point(s->ch, s);
            s->next = r != 0 ? r : s->ch->base_id;
            s->state = SUB_LIVE;
        }
    }
    wake(h);
    return s;
}

void dm__log_hub_unsubscribe(dm_log_sub *s)
{
    if (s == NULL || s->dead)
        return;
    dm_log_hub *h = s->hub;
    if (h->pumping > 0) {
        s->dead = true; /* freed by the sweep */
        h->dead_subs = true;
        return;
    }
    dm_log_chan *ch = s->ch;
    unlink_sub(s);
    free(s);
    if (ch != NULL)
        chan_idle(h, ch);
    wake(h); /* the sweep frees what is finished */
}

void dm__log_hub_drained(dm_log_sub *s)
{
    if (s == NULL || s->dead || s->state != SUB_STALLED)
        return;
    s->state = SUB_DRAINED;
    s->ch->attention = true;
    wake(s->hub);
}

void dm__log_hub_stats(const dm_log_hub *h, dm_log_hub_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock((pthread_mutex_t *)&h->mu);
    out->follows = h->threads;
    pthread_mutex_unlock((pthread_mutex_t *)&h->mu);
    out->subscribers = h->n_subs;
    for (const dm_log_chan *ch = h->chans; ch != NULL; ch = ch->next)
        out->buffered_bytes += ch->ring_bytes;
    out->lines = h->lines;
    out->dropped = h->dropped;
}

int dm__log_hub_render_metrics(void *hub, dm_buf *out)
{
    dm_log_hub_stats st;
    dm__log_hub_stats(hub, &st);
    return dm__buf_printf(out,
                          "# HELP dermaga_log_follows Runtime log follows running (one per followed instance).\n"
                          "# TYPE dermaga_log_follows gauge\n"
                          "dermaga_log_follows %d\n"
                          "# HELP dermaga_log_subscribers Live-log subscribers (SSE streams and Socket.IO follows).\n"
                          "# TYPE dermaga_log_subscribers gauge\n"
                          "dermaga_log_subscribers %d\n"
                          "# HELP dermaga_log_buffered_bytes Bytes of log events kept in the instances' recent buffers.\n"
                          "# TYPE dermaga_log_buffered_bytes gauge\n"
                          "dermaga_log_buffered_bytes %zu\n"
                          "# HELP dermaga_log_lines_total Log lines published to subscribers.\n"
                          "# TYPE dermaga_log_lines_total counter\n"
                          "dermaga_log_lines_total %llu\n"
                          "# HELP dermaga_log_lines_dropped_total Lines slow subscribers missed (each told by a notice).\n"
                          "# TYPE dermaga_log_lines_dropped_total counter\n"
                          "dermaga_log_lines_dropped_total %llu\n",
                          st.follows, st.subscribers, st.buffered_bytes, (unsigned long long)st.lines,
                          (unsigned long long)st.dropped);
}

/* ---- life ------------------------------------------------------------------ */

dm_log_hub *dm__log_hub_new(uv_loop_t *loop, const dm_log_hub_cfg *cfg, dm_err_t *err)
{
    if (cfg->buffer_lines < 2 || cfg->buffer_bytes < 1024 || cfg->line_max < DM_LOG_LINE_MIN_BYTES
        || cfg->linger_ms < 0)
        return dm_err_set(err, DM_EINVAL, "log hub: a limit is out of range"), NULL;
    dm_log_hub *h = calloc(1, sizeof *h);
    if (h == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory"), NULL;
    h->loop = loop;
    h->cfg = *cfg;
    h->n_buckets = 64;
    h->buckets = calloc(h->n_buckets, sizeof *h->buckets);
    h->scratch = calloc(cfg->buffer_lines, sizeof *h->scratch);
    h->taken = calloc(cfg->buffer_lines, sizeof *h->taken);
    if (h->buckets == NULL || h->scratch == NULL || h->taken == NULL) {
        free(h->buckets);
        free(h->scratch);
        free(h->taken);
        free(h);
        return dm_err_set(err, DM_ENOMEM, "out of memory"), NULL;
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->quiet, NULL);
    uv_async_init(loop, &h->async, on_async);
    uv_timer_init(loop, &h->timer);
    h->async.data = h->timer.data = h;
    h->open_handles = 2;
    /* Neither keeps the loop alive: the server's own handles decide. */
    uv_unref((uv_handle_t *)&h->async);
    uv_unref((uv_handle_t *)&h->timer);
    return h;
}

int dm__log_hub_stop(dm_log_hub *h, int timeout_ms)
{
    if (h == NULL)
        return 0;
    pthread_mutex_lock(&h->mu);
    h->stopped = true;
    pthread_mutex_unlock(&h->mu);
    for (dm_log_chan *ch = h->chans; ch != NULL; ch = ch->next)
        dm__log_follow_cancel(ch);
    struct timespec until;
    dm__clock_deadline(CLOCK_REALTIME, timeout_ms, &until);
    pthread_mutex_lock(&h->mu);
    int rc = 0;
    while (h->threads > 0 && rc == 0)
        rc = pthread_cond_timedwait(&h->quiet, &h->mu, &until);
    int left = h->threads;
    pthread_mutex_unlock(&h->mu);
    return left == 0 ? 0 : DM_ETIMEDOUT;
}

static void on_closed(uv_handle_t *handle)
{
    dm_log_hub *h = handle->data;
    if (--h->open_handles == 0)
        free(h);
}

static void free_list(dm_log_sub *s)
{
    for (dm_log_sub *nx; s != NULL; s = nx) {
        nx = s->next_sub;
        free(s);
    }
}

void dm__log_hub_free(dm_log_hub *h)
{
    if (h == NULL)
        return;
    while (h->chans != NULL) {
        free_list(h->chans->subs);
        chan_free(h, h->chans);
    }
    free_list(h->orphans);
    for (size_t i = 0; i < h->n_buckets; i++) {
        for (dm_log_rec *r = h->buckets[i], *nx; r != NULL; r = nx) {
            nx = r->hnext;
            free(r);
        }
    }
    free(h->buckets);
    free(h->scratch);
    free(h->taken);
    pthread_cond_destroy(&h->quiet);
    pthread_mutex_destroy(&h->mu);
    uv_close((uv_handle_t *)&h->async, on_closed);
    uv_close((uv_handle_t *)&h->timer, on_closed);
}
