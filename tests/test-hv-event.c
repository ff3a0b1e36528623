/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-hv-event: the event loop drover gives libvirt (src/hv/hv-event.c),
 * through libvirt's own calls (virEventAddHandle and the rest), one turn at
 * a time in this thread, and in a thread of its own woken by a change
 * made while it waits in poll().  The connections that use it (keepalive,
 * events, the close callback) are tested by test-hv-conn and the console
 * tests. */
#include <config.h>

#include <errno.h>
#include <libvirt/libvirt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/util.h"
#include "hv/hv.h"
#include "tap.h"
#include "test-hv.h"

/* What the callbacks saw; the loop's thread writes, the test reads. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* broadcast at each change */
    int calls;                  /* handle or timer callbacks */
    int last_events;
    int freed;                  /* free callbacks */
    int freed_in_cb;            /* a free callback ran inside a callback */
    int in_cb;
    int remove_self;            /* the handle callback removes its watch */
    int watch;
    int fd;                     /* read one byte per READABLE call */
} Seen;

static void
seen_init(Seen *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->watch = -1;
    s->fd = -1;
}

static int
seen_get(Seen *s, const int *field)
{
    int v;

    pthread_mutex_lock(&s->mu);
    v = *field;
    pthread_mutex_unlock(&s->mu);
    return v;
}

static void
handle_cb(int watch, int fd, int events, void *opaque)
{
    Seen *s = opaque;
    char c;

    pthread_mutex_lock(&s->mu);
    s->in_cb = 1;
    s->calls++;
    s->last_events = events;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if ((events & VIR_EVENT_HANDLE_READABLE) && read(fd, &c, 1) < 0) {
    }
    if (s->remove_self)
        virEventRemoveHandle(watch);
    pthread_mutex_lock(&s->mu);
    s->in_cb = 0;
    pthread_mutex_unlock(&s->mu);
}

static void
timer_cb(int timer, void *opaque)
{
    Seen *s = opaque;

    (void)timer;
    pthread_mutex_lock(&s->mu);
    s->calls++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void
free_cb(void *opaque)
{
    Seen *s = opaque;

    pthread_mutex_lock(&s->mu);
    s->freed++;
    s->freed_in_cb += s->in_cb;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* A free callback that removes a timer (as libvirt's free callbacks may
 * drop the last reference of an object that removes its own). */
static int chained_timer = -1;

static void
free_removes_timer(void *opaque)
{
    free_cb(opaque);
    virEventRemoveTimeout(chained_timer);
}

/* A timer whose callback adds another timer due at once, the first time. */
static Seen chained;
static int chained_added = -1;

static void
timer_adds_timer(int timer, void *opaque)
{
    timer_cb(timer, opaque);
    if (seen_get(opaque, &((Seen *)opaque)->calls) == 1)
        chained_added = virEventAddTimeout(0, timer_cb, &chained, NULL);
}

/* Turns of the loop in this thread, with a timer due at every turn so
 * that none waits: what one turn does, and nothing more. */
static int spin_timer = -1;
static Seen spin;

static void
turn(void)
{
    if (spin_timer < 0) {
        seen_init(&spin);
        spin_timer = virEventAddTimeout(0, timer_cb, &spin, NULL);
    }
    virEventUpdateTimeout(spin_timer, 0);
    hv_event_run_once();
}

static void
turns_off(void)
{
    virEventUpdateTimeout(spin_timer, -1);
}

/* A thread that runs the loop until told to stop; its tid, to see it
 * waiting in poll(). */
typedef struct {
    pthread_mutex_t mu;
    pid_t tid;
    int stop;
} Runner;

static void *
runner_main(void *arg)
{
    Runner *r = arg;

    pthread_mutex_lock(&r->mu);
    r->tid = (pid_t)syscall(SYS_gettid);
    pthread_mutex_unlock(&r->mu);
    for (;;) {
        int stop;

        pthread_mutex_lock(&r->mu);
        stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (stop)
            break;
        hv_event_run_once();
    }
    return NULL;
}

/* r's thread waits in poll(), up to WAIT_MS. */
static int
waits_in_poll(Runner *r)
{
    return thread_waits_in(&r->mu, &r->tid, NULL, task_in_poll, NULL);
}

/* Waits until *field of s is at least want, up to WAIT_MS. */
static int
wait_for(Seen *s, const int *field, int want)
{
    return wait_flag(&s->mu, &s->cv, field, want - 1);
}

int
main(void)
{
    Seen a, b, t;
    Runner r = { PTHREAD_MUTEX_INITIALIZER, 0, 0 };
    pthread_t th;
    int p[2], q[2], w, w2, tm, i;
    int64_t t0;

    if (hv_init() < 0 || pipe(p) < 0 || pipe(q) < 0)
        tap_skip_all("no libvirt or no pipe");

    /* A readable descriptor, its events changed and taken away. */
    seen_init(&a);
    w = virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, handle_cb, &a, free_cb);
    ok(w > 0, "a watch gets an id above 0 (%d)", w);
    is_int(write(p[1], "xy", 2), 2, "two bytes written");
    turn();
    is_int(a.calls, 1, "one turn: the readable descriptor's callback ran once");
    is_int(a.last_events, VIR_EVENT_HANDLE_READABLE, "... told it is readable");
    virEventUpdateHandle(w, 0);
    for (i = 0; i < 3; i++)
        turn();
    is_int(a.calls, 1, "with its events taken away, three turns call it no more (a byte is left)");
    virEventUpdateHandle(w, VIR_EVENT_HANDLE_READABLE);
    turn();
    is_int(a.calls, 2, "given back, the next turn calls it for the byte left");

    /* A removal from inside the callback; its free callback after. */
    a.remove_self = 1;
    is_int(write(p[1], "z", 1), 1, "a byte written");
    turn();
    is_int(a.calls, 3, "the callback that removes its own watch ran");
    is_int(a.freed, 1, "its free callback ran in the same turn, once");
    is_int(a.freed_in_cb, 0, "... after the callback returned, not inside it");
    is_int(virEventRemoveHandle(w), -1, "a second removal of the watch fails");

    /* A removed watch is not called, nor updated back. */
    virEventUpdateHandle(w, VIR_EVENT_HANDLE_READABLE);
    is_int(write(p[1], "z", 1), 1, "one more byte");
    turn();
    is_int(a.calls, 3, "the removed watch is not called, even updated");

    /* Timers: off, every turn, and one that waits its interval. */
    seen_init(&t);
    tm = virEventAddTimeout(-1, timer_cb, &t, free_cb);
    ok(tm > 0 && tm != w, "a timer gets an id of its own (%d)", tm);
    for (i = 0; i < 3; i++)
        turn();
    is_int(t.calls, 0, "a timer off (-1) does not run in three turns");
    virEventUpdateTimeout(tm, 0);
    for (i = 0; i < 3; i++)
        turn();
    is_int(t.calls, 3, "at 0 it runs once every turn");
    t0 = util_mono_ms();
    virEventUpdateTimeout(tm, 100);
    turns_off();
    while (seen_get(&t, &t.calls) < 4 && util_mono_ms() < t0 + WAIT_MS)
        hv_event_run_once();
    ok(t.calls == 4 && util_mono_ms() - t0 >= 100,
       "at 100 ms one turn waits for it and it runs, not before 100 ms (%d calls, %lld ms)",
       t.calls, (long long)(util_mono_ms() - t0));
    is_int(virEventRemoveTimeout(tm), 0, "the timer is removed");
    turn();
    is_int(t.freed, 1, "its free callback ran once, at the next turn");

    /* A timer added by a timer's callback waits for the next turn, as in
     * libvirt's loops (a chain of them cannot hold the descriptors back). */
    seen_init(&t);
    seen_init(&chained);
    tm = virEventAddTimeout(0, timer_adds_timer, &t, NULL);
    turn();
    is_int(chained.calls, 0, "a timer a timer's callback added does not run in the same turn");
    virEventUpdateTimeout(tm, -1);
    turn();
    is_int(chained.calls, 1, "... it runs in the next one");
    virEventRemoveTimeout(chained_added);
    virEventRemoveTimeout(tm);

    /* A loop in its own thread, waiting in poll() with nothing due,
     * woken by changes other threads make. */
    turns_off();
    pthread_create(&th, NULL, runner_main, &r);
    seen_init(&b);
    ok(waits_in_poll(&r), "the loop's thread waits in poll() with nothing to do");
    tm = virEventAddTimeout(0, timer_cb, &b, free_cb);
    ok(wait_for(&b, &b.calls, 1), "a timer added meanwhile wakes it and runs");
    virEventRemoveTimeout(tm);
    ok(wait_for(&b, &b.freed, 1), "its removal wakes it again and its free callback runs");
    ok(waits_in_poll(&r), "the loop waits in poll() again");
    seen_init(&a);
    w2 = virEventAddHandle(q[0], 0, handle_cb, &a, free_cb);
    is_int(write(q[1], "q", 1), 1, "a byte on a watch added without events");
    ok(waits_in_poll(&r), "... the loop still waits");
    is_int(seen_get(&a, &a.calls), 0, "... and has not called it");
    virEventUpdateHandle(w2, VIR_EVENT_HANDLE_READABLE);
    ok(wait_for(&a, &a.calls, 1), "its events given while the loop waits: it is woken and the callback runs");
    ok(waits_in_poll(&r), "the byte read, the loop waits again");
    virEventRemoveHandle(w2);
    ok(wait_for(&a, &a.freed, 1), "a removal while it waits: woken, the free callback runs");
    is_int(a.freed_in_cb, 0, "... outside any callback");

    /* A timer moved earlier while the loop waits for it wakes the loop. */
    seen_init(&b);
    tm = virEventAddTimeout(600000, timer_cb, &b, free_cb);
    ok(waits_in_poll(&r), "the loop waits in poll() for a timer ten minutes away");
    virEventUpdateTimeout(tm, 0);
    ok(wait_for(&b, &b.calls, 1), "moved to now, it wakes the loop and runs");
    virEventRemoveTimeout(tm);
    ok(wait_for(&b, &b.freed, 1), "removed, its free callback runs");

    /* A free callback that removes a timer: that timer's free callback
     * runs in the same turn, not after a poll() that waits for good. */
    seen_init(&a);
    seen_init(&t);
    chained_timer = virEventAddTimeout(-1, timer_cb, &t, free_cb);
    w2 = virEventAddHandle(q[0], VIR_EVENT_HANDLE_READABLE, handle_cb, &a, free_removes_timer);
    ok(waits_in_poll(&r), "the loop waits with a watch and a timer that is off");
    virEventRemoveHandle(w2);
    ok(wait_for(&a, &a.freed, 1), "the watch's removal wakes it: its free callback runs");
    ok(wait_for(&t, &t.freed, 1), "the timer that free callback removed is let go too, with nothing else to wake the loop");

    /* Stop the thread: a timer due now wakes its last turn. */
    pthread_mutex_lock(&r.mu);
    r.stop = 1;
    pthread_mutex_unlock(&r.mu);
    virEventAddTimeout(0, timer_cb, &b, NULL);
    pthread_join(th, NULL);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
    return tap_done();
}
