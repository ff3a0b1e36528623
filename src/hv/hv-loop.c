/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hv-loop: the thread of libvirt's event loop (started with the first
 * connection for events, held back while a first load is deferred:
 * hv_events_defer) and the connections whose keepalive waits for it
 * (hv_later_add). */
#include <config.h>

#include "hv/hv.h"
#include "hv/hv-priv.h"

#include <libvirt/libvirt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"

/* The loop's thread runs the loop once hv_loop_go is set, or from
 * hv_loop_at_ms on (util_mono_ms; 0: no time set) while deferred
 * (hv_events_defer). */
static pthread_mutex_t hv_loop_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t hv_loop_cond_once = PTHREAD_ONCE_INIT;
static pthread_cond_t hv_loop_cond;     /* on CLOCK_MONOTONIC, as util_mono_ms */
static int hv_loop_go;
static int64_t hv_loop_at_ms;

static void
hv_loop_cond_init(void)
{
    pthread_condattr_t ca;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&hv_loop_cond, &ca);
    pthread_condattr_destroy(&ca);
}

/* Locks hv_loop_mu, its condition set up. */
static void
hv_loop_lock(void)
{
    pthread_once(&hv_loop_cond_once, hv_loop_cond_init);
    pthread_mutex_lock(&hv_loop_mu);
}

static void *
hv_event_thread(void *arg)
{
    (void)arg;
    util_thread_name("libvirt events");
    hv_loop_lock();
    while (!hv_loop_go) {
        struct timespec until = util_mono_deadline(hv_loop_at_ms);

        if (hv_loop_at_ms <= util_mono_ms())
            break;
        pthread_cond_timedwait(&hv_loop_cond, &hv_loop_mu, &until);
    }
    hv_loop_go = 1;
    pthread_mutex_unlock(&hv_loop_mu);
    for (;;) {
        if (hv_event_run_once() < 0)
            usleep(100000);
    }
    return NULL;
}

static pthread_once_t hv_loop_once = PTHREAD_ONCE_INIT;

static void
hv_loop_once_fn(void)
{
    pthread_attr_t attr;
    pthread_t t;

    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, hv_event_thread, NULL) != 0) {
        /* No thread: no events; keepalive still ends a call that waits. */
    }
    pthread_attr_destroy(&attr);
}

/* Runs libvirt's event loop in a thread from now on: events, the close
 * callback and keepalive (its timer runs in the loop, also during a call)
 * need it.  Not before: while no thread runs the loop, libvirt's client
 * does not wake one around every call (eventfd writes, futexes and a
 * poll), a third of the system time of a `list` through libvirtd. */
void
hv_loop_thread(void)
{
    pthread_once(&hv_loop_once, hv_loop_once_fn);
}

void
hv_loop_start(void)
{
    pthread_once(&hv_loop_once, hv_loop_once_fn);
    hv_events_resume();
}

/* How long hv_events_defer holds the loop back at most: as long as the
 * keepalive of a new connection waits anyway (HV_KEEPALIVE_LATER_MS). */
#define HV_EVENTS_DEFER_MS 2000

void
hv_events_defer(void)
{
    hv_loop_lock();
    if (!hv_loop_go)
        hv_loop_at_ms = util_mono_ms() + HV_EVENTS_DEFER_MS;
    pthread_mutex_unlock(&hv_loop_mu);
}

void
hv_events_resume(void)
{
    /* The thread, if a connection started it meanwhile, runs the loop now;
     * else the next connection that asks for it starts it. */
    hv_loop_lock();
    hv_loop_go = 1;
    pthread_cond_signal(&hv_loop_cond);
    pthread_mutex_unlock(&hv_loop_mu);
}

/* keepalive of connections for events starts this long after their
 * connect (hv_keepalive says why): the first list of a host, the console's
 * first load, goes without it, and a host that stops answering during it
 * is noticed from then on, as after it. */
#define HV_KEEPALIVE_LATER_MS 2000

/* The connections whose keepalive waits, each with a reference of its
 * own, and the loop's timer that starts it (disabled while none waits). */
typedef struct {
    virConnectPtr vc;
    int64_t at_ms;              /* util_mono_ms() */
} HvLater;

static pthread_mutex_t hv_later_mu = PTHREAD_MUTEX_INITIALIZER;
static HvLater *hv_later;
static size_t hv_nlater, hv_caplater;
static int hv_later_timer = -1;

/* In the event loop's thread, which runs whenever one waits. */
static void
hv_later_tick(int timer, void *opaque)
{
    int64_t now = util_mono_ms();
    size_t i = 0;

    (void)opaque;
    pthread_mutex_lock(&hv_later_mu);
    while (i < hv_nlater) {
        if (hv_later[i].at_ms > now) {
            i++;
            continue;
        }
        /* Local only: a timer added to this loop. */
        virConnectSetKeepAlive(hv_later[i].vc, HV_KEEPALIVE_S, HV_KEEPALIVE_COUNT);
        virResetLastError();
        /* Never the last reference: hv_drop takes the entry out
         * before the connection's owner closes it. */
        virConnectClose(hv_later[i].vc);
        hv_later[i] = hv_later[--hv_nlater];
    }
    if (!hv_nlater)
        virEventUpdateTimeout(timer, -1);
    pthread_mutex_unlock(&hv_later_mu);
}

void
hv_later_add(virConnectPtr vc)
{
    pthread_mutex_lock(&hv_later_mu);
    util_grow(&hv_later, &hv_caplater, hv_nlater + 1, sizeof(*hv_later));
    virConnectRef(vc);
    hv_later[hv_nlater].vc = vc;
    hv_later[hv_nlater++].at_ms = util_mono_ms() + HV_KEEPALIVE_LATER_MS;
    if (hv_later_timer < 0)
        hv_later_timer = virEventAddTimeout(HV_KEEPALIVE_LATER_MS / 4, hv_later_tick, NULL, NULL);
    else
        virEventUpdateTimeout(hv_later_timer, HV_KEEPALIVE_LATER_MS / 4);
    if (hv_later_timer < 0)     /* no timer: keepalive at once, as before */
        virConnectSetKeepAlive(vc, HV_KEEPALIVE_S, HV_KEEPALIVE_COUNT);
    pthread_mutex_unlock(&hv_later_mu);
}

void
hv_later_remove(virConnectPtr vc)
{
    size_t i;

    pthread_mutex_lock(&hv_later_mu);
    for (i = 0; i < hv_nlater; i++) {
        if (hv_later[i].vc == vc) {
            virConnectClose(vc);    /* ours; the owner still holds its own */
            hv_later[i] = hv_later[--hv_nlater];
            break;
        }
    }
    pthread_mutex_unlock(&hv_later_mu);
}
