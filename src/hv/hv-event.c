/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hv-event: the event loop drover gives libvirt (virEventRegisterImpl):
 * its handles and timers, and one turn of the loop, which hv-loop.c's
 * thread runs.
 *
 * Not libvirt's own (virEventRegisterDefaultImpl): libvirt's remote
 * client takes its socket's watch away and gives it back around every
 * call, and the default loop does each of those by detaching a GSource
 * from GLib's default context and attaching a new one, under two locks
 * every connection shares, whether a thread runs the loop or not.  With
 * twenty hosts read at once that was 6 % of drover's CPU in a list, much
 * of it threads waiting on those locks (doc/performance.md).  Here a
 * change is a field set under one short lock, and wakes the loop only
 * while it is in poll(). */
#include <config.h>

#include "hv/hv.h"
#include "hv/hv-priv.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/util.h"

typedef struct {
    int id;
    int fd;
    int events;                 /* VIR_EVENT_HANDLE_*; 0: not polled */
    int deleted;                /* let go at the end of the loop's turn */
    virEventHandleCallback cb;
    void *opaque;
    virFreeCallback ff;
} HvWatch;

typedef struct {
    int id;
    int ms;                     /* -1: off; 0: every turn */
    int deleted;
    int64_t at_ms;              /* util_mono_ms() of its next run */
    virEventTimeoutCallback cb;
    void *opaque;
    virFreeCallback ff;
} HvTimer;

/* What a removal leaves for the loop to free, outside the lock: libvirt
 * wants free callbacks called from a clean stack, never from the remove
 * call (its caller may hold the lock the callback takes). */
typedef struct {
    virFreeCallback ff;
    void *opaque;
} HvFree;

/* Watches and timers only grow between the loop's turns (other threads
 * append); the loop alone takes out the deleted ones, so an index it
 * took stays valid across a callback. */
static pthread_mutex_t hv_ev_mu = PTHREAD_MUTEX_INITIALIZER;
static HvWatch *hv_watches;
static size_t hv_nwatches, hv_capwatches;
static HvTimer *hv_timers;
static size_t hv_ntimers, hv_captimers;
static int hv_ev_next_id = 1;   /* libvirt wants ids above 0 */
static int hv_ev_polling;       /* the loop is in (or about to enter) poll() */
static int64_t hv_ev_poll_until;        /* when that poll() ends by itself
                                         * (util_mono_ms; INT64_MAX: never) */
static int hv_ev_woken;         /* a wake-up written and not read yet */
static int hv_ev_fd = -1;       /* eventfd that wakes the loop */

/* Wakes the loop if it waits in poll() for a set that just changed; a
 * loop between its turns builds its set afresh and needs nothing. */
static void
hv_ev_wake_locked(void)
{
    uint64_t one = 1;

    if (!hv_ev_polling || hv_ev_woken)
        return;
    hv_ev_woken = 1;
    /* EAGAIN only when the counter is full: the loop is woken anyway. */
    if (write(hv_ev_fd, &one, sizeof(one)) < 0) {
    }
}

/* A fresh id: above 0, and after 2^31 of them round again (a watch or
 * timer lives far shorter than that many connects). */
static int
hv_ev_id_locked(void)
{
    int id = hv_ev_next_id;

    hv_ev_next_id = id == INT32_MAX ? 1 : id + 1;
    return id;
}

static HvWatch *
hv_watch_find(int id)
{
    size_t i;

    for (i = 0; i < hv_nwatches; i++)
        if (hv_watches[i].id == id && !hv_watches[i].deleted)
            return &hv_watches[i];
    return NULL;
}

static HvTimer *
hv_timer_find(int id)
{
    size_t i;

    for (i = 0; i < hv_ntimers; i++)
        if (hv_timers[i].id == id && !hv_timers[i].deleted)
            return &hv_timers[i];
    return NULL;
}

static int
hv_ev_add_handle(int fd, int events, virEventHandleCallback cb, void *opaque, virFreeCallback ff)
{
    HvWatch *w;
    int id;

    pthread_mutex_lock(&hv_ev_mu);
    util_grow(&hv_watches, &hv_capwatches, hv_nwatches + 1, sizeof(*hv_watches));
    w = &hv_watches[hv_nwatches++];
    id = hv_ev_id_locked();
    *w = (HvWatch){ .id = id, .fd = fd, .events = events, .cb = cb, .opaque = opaque, .ff = ff };
    if (events)
        hv_ev_wake_locked();
    pthread_mutex_unlock(&hv_ev_mu);
    return id;
}

static void
hv_ev_update_handle(int id, int events)
{
    HvWatch *w;

    pthread_mutex_lock(&hv_ev_mu);
    if ((w = hv_watch_find(id)) && w->events != events) {
        w->events = events;
        hv_ev_wake_locked();
    }
    pthread_mutex_unlock(&hv_ev_mu);
}

static int
hv_ev_remove_handle(int id)
{
    HvWatch *w;
    int ret = -1;

    pthread_mutex_lock(&hv_ev_mu);
    if ((w = hv_watch_find(id))) {
        w->deleted = 1;
        w->events = 0;
        /* A loop in poll() drops it and calls its free callback now. */
        hv_ev_wake_locked();
        ret = 0;
    }
    pthread_mutex_unlock(&hv_ev_mu);
    return ret;
}

/* A timer now due before the loop's poll() would end by itself wakes it;
 * a later one is seen when that poll() ends (libvirt's keepalive moves
 * its timer on at every message a call receives). */
static void
hv_ev_timer_wake_locked(const HvTimer *t)
{
    if (t->ms >= 0 && t->at_ms < hv_ev_poll_until)
        hv_ev_wake_locked();
}

static int
hv_ev_add_timeout(int ms, virEventTimeoutCallback cb, void *opaque, virFreeCallback ff)
{
    HvTimer *t;
    int id;

    pthread_mutex_lock(&hv_ev_mu);
    util_grow(&hv_timers, &hv_captimers, hv_ntimers + 1, sizeof(*hv_timers));
    t = &hv_timers[hv_ntimers++];
    id = hv_ev_id_locked();
    *t = (HvTimer){ .id = id, .ms = ms, .at_ms = util_mono_ms() + (ms > 0 ? ms : 0),
                    .cb = cb, .opaque = opaque, .ff = ff };
    hv_ev_timer_wake_locked(t);
    pthread_mutex_unlock(&hv_ev_mu);
    return id;
}

static void
hv_ev_update_timeout(int id, int ms)
{
    HvTimer *t;

    pthread_mutex_lock(&hv_ev_mu);
    if ((t = hv_timer_find(id))) {
        /* As libvirt's loops do: a new interval counts from now. */
        t->ms = ms;
        t->at_ms = util_mono_ms() + (ms > 0 ? ms : 0);
        hv_ev_timer_wake_locked(t);
    }
    pthread_mutex_unlock(&hv_ev_mu);
}

static int
hv_ev_remove_timeout(int id)
{
    HvTimer *t;
    int ret = -1;

    pthread_mutex_lock(&hv_ev_mu);
    if ((t = hv_timer_find(id))) {
        t->deleted = 1;
        t->ms = -1;
        hv_ev_wake_locked();
        ret = 0;
    }
    pthread_mutex_unlock(&hv_ev_mu);
    return ret;
}

int
hv_event_register(void)
{
    if (hv_ev_fd < 0 && (hv_ev_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        return -1;
    virEventRegisterImpl(hv_ev_add_handle, hv_ev_update_handle, hv_ev_remove_handle,
                         hv_ev_add_timeout, hv_ev_update_timeout, hv_ev_remove_timeout);
    return 0;
}

/* poll()'s timeout for the timers: 0 if one is due, -1 if none is on. */
static int
hv_ev_timeout_locked(int64_t now)
{
    int64_t wait = -1;
    size_t i;

    for (i = 0; i < hv_ntimers; i++) {
        const HvTimer *t = &hv_timers[i];
        int64_t left;

        if (t->deleted || t->ms < 0)
            continue;
        left = t->at_ms > now ? t->at_ms - now : 0;
        if (wait < 0 || left < wait)
            wait = left;
    }
    return wait > INT32_MAX ? INT32_MAX : (int)wait;
}

static short
hv_ev_to_poll(int events)
{
    return (short)(((events & VIR_EVENT_HANDLE_READABLE) ? POLLIN : 0) |
                   ((events & VIR_EVENT_HANDLE_WRITABLE) ? POLLOUT : 0));
}

static int
hv_ev_from_poll(short revents)
{
    return ((revents & POLLIN) ? VIR_EVENT_HANDLE_READABLE : 0) |
        ((revents & POLLOUT) ? VIR_EVENT_HANDLE_WRITABLE : 0) |
        ((revents & (POLLERR | POLLNVAL)) ? VIR_EVENT_HANDLE_ERROR : 0) |
        ((revents & POLLHUP) ? VIR_EVENT_HANDLE_HANGUP : 0);
}

/* Runs the timers that are due, each without the lock. */
static void
hv_ev_run_timers_locked(void)
{
    int64_t now = util_mono_ms();
    size_t i, n = hv_ntimers;

    /* Timers a callback adds wait for the next turn, as in libvirt's
     * loops: a chain of them cannot hold the descriptors back. */
    for (i = 0; i < n; i++) {
        HvTimer *t = &hv_timers[i];
        virEventTimeoutCallback cb = t->cb;
        void *opaque = t->opaque;
        int id = t->id;

        if (t->deleted || t->ms < 0 || t->at_ms > now)
            continue;
        t->at_ms = now + t->ms;
        pthread_mutex_unlock(&hv_ev_mu);
        cb(id, opaque);
        pthread_mutex_lock(&hv_ev_mu);
    }
}

/* Takes the deleted watches and timers out, their free callbacks into
 * *fr (*nfr of them). */
static void
hv_ev_sweep_locked(HvFree **fr, size_t *nfr, size_t *capfr)
{
    size_t i, k;

    for (i = k = 0; i < hv_nwatches; i++) {
        if (!hv_watches[i].deleted) {
            hv_watches[k++] = hv_watches[i];
        } else if (hv_watches[i].ff) {
            util_grow(fr, capfr, *nfr + 1, sizeof(**fr));
            (*fr)[(*nfr)++] = (HvFree){ hv_watches[i].ff, hv_watches[i].opaque };
        }
    }
    hv_nwatches = k;
    for (i = k = 0; i < hv_ntimers; i++) {
        if (!hv_timers[i].deleted) {
            hv_timers[k++] = hv_timers[i];
        } else if (hv_timers[i].ff) {
            util_grow(fr, capfr, *nfr + 1, sizeof(**fr));
            (*fr)[(*nfr)++] = (HvFree){ hv_timers[i].ff, hv_timers[i].opaque };
        }
    }
    hv_ntimers = k;
}

/* Takes out what was removed and runs its free callbacks, without the
 * lock (held on entry and on return), until they remove nothing more. */
static void
hv_ev_sweep_run_locked(void)
{
    for (;;) {
        UTIL_AUTOFREE HvFree *fr = NULL;
        size_t i, nfr = 0, capfr = 0;

        hv_ev_sweep_locked(&fr, &nfr, &capfr);
        if (!nfr)
            return;
        pthread_mutex_unlock(&hv_ev_mu);
        for (i = 0; i < nfr; i++)
            fr[i].ff(fr[i].opaque);
        pthread_mutex_lock(&hv_ev_mu);
    }
}

int
hv_event_run_once(void)
{
    UTIL_AUTOFREE struct pollfd *fds = NULL;
    UTIL_AUTOFREE size_t *at = NULL;    /* fds[1 + j] is hv_watches[at[j]] */
    size_t i, n = 0;
    int64_t now;
    int timeout, r, saved;

    pthread_mutex_lock(&hv_ev_mu);
    /* What was removed between turns (no wake-up then): its free callback
     * now, not after a poll() that may wait for good. */
    hv_ev_sweep_run_locked();
    fds = util_xcalloc(hv_nwatches + 1, sizeof(*fds));
    at = util_xcalloc(hv_nwatches + 1, sizeof(*at));
    fds[0] = (struct pollfd){ .fd = hv_ev_fd, .events = POLLIN };
    for (i = 0; i < hv_nwatches; i++) {
        /* No events: libvirt's client holds the socket for a call; a
         * hangup polled meanwhile would wake the loop again and again. */
        if (hv_watches[i].deleted || !hv_watches[i].events)
            continue;
        fds[1 + n] = (struct pollfd){ .fd = hv_watches[i].fd,
                                      .events = hv_ev_to_poll(hv_watches[i].events) };
        at[n++] = i;
    }
    now = util_mono_ms();
    timeout = hv_ev_timeout_locked(now);
    hv_ev_poll_until = timeout < 0 ? INT64_MAX : now + timeout;
    hv_ev_polling = 1;
    pthread_mutex_unlock(&hv_ev_mu);

    r = poll(fds, n + 1, timeout);
    saved = errno;

    pthread_mutex_lock(&hv_ev_mu);
    hv_ev_polling = 0;
    if (hv_ev_woken || (r > 0 && fds[0].revents)) {
        uint64_t v;

        if (read(hv_ev_fd, &v, sizeof(v)) < 0) {
            /* EAGAIN: already read */
        }
        hv_ev_woken = 0;
    }
    if (r < 0 && saved != EINTR) {
        hv_ev_sweep_run_locked();
        pthread_mutex_unlock(&hv_ev_mu);
        errno = saved;
        return -1;
    }
    hv_ev_run_timers_locked();
    for (i = 0; r > 0 && i < n; i++) {
        HvWatch *w = &hv_watches[at[i]];
        virEventHandleCallback cb = w->cb;
        void *opaque = w->opaque;
        int id = w->id, fd = w->fd, ev;

        if (!fds[1 + i].revents || w->deleted || !w->events)
            continue;
        /* Only what it still asks for, and errors (a timer above may
         * have changed it). */
        ev = hv_ev_from_poll(fds[1 + i].revents) &
            (w->events | VIR_EVENT_HANDLE_ERROR | VIR_EVENT_HANDLE_HANGUP);
        if (!ev)
            continue;
        pthread_mutex_unlock(&hv_ev_mu);
        cb(id, fd, ev, opaque);
        pthread_mutex_lock(&hv_ev_mu);
    }
    hv_ev_sweep_run_locked();
    pthread_mutex_unlock(&hv_ev_mu);
    return 0;
}
