/*
 * log_hub_internal.h — what the two halves of the log hub share: the loop
 * side (log_hub.c: buffers, subscribers, distribution) and the follow
 * threads (log_follow.c). Nothing outside them includes this.
 *
 * Locks: hub->mu guards the thread count, `stopped` and each channel's
 * thread_live; a channel's mu guards its inbox and end. A follow thread
 * takes a channel's mu, then (alone) the hub's; the loop never holds both.
 */
#ifndef DM_LOG_HUB_INTERNAL_H
#define DM_LOG_HUB_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "instances/log_hub.h"

/* An instance this process has followed, kept for the life of the hub so
 * that its line ids are never reused. Loop only. */
typedef struct dm_log_rec {
    char                id[37];
    uint64_t            next_id;  /* the id the next line gets */
    struct dm_log_chan *cur;      /* the channel new subscribers join, or NULL */
    struct dm_log_rec  *hnext;    /* hash chain */
} dm_log_rec;

/* A line made by a follow thread, not yet numbered by the loop. */
typedef struct dm_log_pending {
    dm_rbuf *json;
    bool     live; /* its timestamp is later than the follow's start */
} dm_log_pending;

/* One follow of one instance and the subscribers that share it. */
typedef struct dm_log_chan {
    dm_log_hub      *hub;
    dm_log_rec      *rec;
    const dm_plugin *rt;   /* borrowed */
    char             id[37];
    uint32_t         tail;  /* the tail the follow asks the runtime for (>= 1) */
    /* shared with the follow thread, under mu */
    pthread_mutex_t  mu;
    pthread_cond_t   room;        /* the inbox shrank, or stop */
    dm_log_pending  *inbox;       /* owned, in_n of in_cap */
    size_t           in_n, in_cap, in_bytes;
    bool             ended;       /* the runtime's logs op returned */
    int              end_rc;
    char             end_msg[256];
    atomic_bool      stop;        /* the follow must stop (cancelled() says so) */
    atomic_bool      news;        /* inbox lines or the end wait for the loop */
    /* under hub->mu */
    bool             thread_live; /* the follow thread has not finished */
    /* loop only */
    dm_log_line     *ring;        /* ring_cap slots; ring_n lines from ring_head */
    uint32_t         ring_cap, ring_head, ring_n;
    uint64_t         first_id;    /* the id of the oldest line held (or of the next) */
    uint64_t         base_id;     /* the first id of this channel */
    size_t           ring_bytes;
    bool             primed;      /* the runtime's tail is in: every subscriber may start */
    uint32_t         hist_n;      /* lines of the runtime's tail received */
    uint64_t         last_news_ms;
    uint64_t         linger_until; /* loop ms; 0 when not lingering */
    bool             retired;     /* ended or stopped: no new subscriber joins */
    bool             end_seen;    /* the loop took the end */
    bool             attention;   /* subscribers to serve at the next pump */
    struct dm_log_sub  *subs;
    int              n_subs;
    struct dm_log_chan *next, *prev; /* hub's list */
} dm_log_chan;

struct dm_log_hub {
    uv_loop_t      *loop;
    uv_async_t      async;  /* follow threads: news */
    uv_timer_t      timer;  /* priming and lingering deadlines */
    int             open_handles;
    dm_log_hub_cfg  cfg;
    pthread_mutex_t mu;
    pthread_cond_t  quiet;   /* a follow thread finished */
    int             threads; /* follow threads running (under mu) */
    bool            stopped; /* dm__log_hub_stop ran (under mu) */
    /* loop only */
    dm_log_chan    *chans;
    dm_log_rec    **buckets;
    size_t          n_buckets, n_recs;
    struct dm_log_sub *orphans; /* subscribers with nothing to follow */
    int             pumping;    /* inside a pump: unsubscribing only marks */
    bool            dead_subs;  /* marked subscribers await the sweep */
    dm_log_line    **scratch;    /* pointers offered to one sink */
    dm_log_pending *taken;       /* lines taken from an inbox */
    int             n_subs;
    uint64_t        lines, dropped;
};

/* log_follow.c. Start ch's follow thread (loop thread): 0, or DM_ENOMEM
 * / DM_ECONFLICT (the hub has stopped); on failure nothing runs. */
int dm__log_follow_start(dm_log_chan *ch);

/* log_follow.c. Move at most max lines (and, past the first, at most
 * max_bytes) of ch's inbox into out (the caller now holds their
 * references), oldest first; *ended says whether the follow has returned
 * and every line is taken (then *rc and msg, of msg_len bytes, say how).
 * Loop thread. */
size_t dm__log_follow_take(dm_log_chan *ch, dm_log_pending *out, size_t max, size_t max_bytes, bool *ended,
                           int *rc, char *msg, size_t msg_len);

/* log_follow.c. Tell ch's thread to stop (any thread). */
void dm__log_follow_cancel(dm_log_chan *ch);

#endif
