/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hv-dial: connects bounded by the connect timeout, each in a thread of
 * its own (an HvDial), for hv.c's connections and its default-URI probe. */
#include <config.h>

#include "hv/hv.h"
#include "hv/hv-priv.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/result.h"
#include "base/testhook.h"
#include "base/util.h"

/* --- bounded connects ---------------------------------------------------
 * virConnectOpen has no timeout: a daemon that accepted the socket and then
 * hangs (SIGSTOP, a wedged host) keeps it waiting for ever, and libvirt's
 * keepalive only covers the calls after a connect.  So every connect runs
 * in a detached thread of its own (an HvDial) and its caller waits for it
 * up to the connect timeout, then goes on without it (32777).  A dial left
 * behind stays with its HvConn: a later reconnect waits for that same dial
 * instead of starting one more thread per retry, and takes its connection
 * once it comes.  The last of the thread and its waiters frees the dial,
 * closing a connection no one took. */

struct HvDial {
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* on CLOCK_MONOTONIC */
    int refs;                   /* the thread and each holder */
    int done;
    char *uri;
    int readonly;
    int keepalive;              /* set it at once (else see hv_keepalive) */
    int64_t started_ms;         /* util_mono_ms() */
    virConnectPtr vc;           /* the connection until taken */
    ErrInfo err;                /* why it failed (vc NULL) */
};

static pthread_mutex_t hv_wait_mu = PTHREAD_MUTEX_INITIALIZER;
static int hv_wait_s = HV_OPEN_WAIT_S;

void
hv_set_connect_timeout(int seconds)
{
    pthread_mutex_lock(&hv_wait_mu);
    hv_wait_s = seconds > 0 ? seconds : HV_OPEN_WAIT_S;
    pthread_mutex_unlock(&hv_wait_mu);
}

int
hv_connect_timeout(void)
{
    int s;

    pthread_mutex_lock(&hv_wait_mu);
    s = hv_wait_s;
    pthread_mutex_unlock(&hv_wait_mu);
    return s;
}

void
hv_dial_unref(HvDial *d)
{
    int last;

    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    last = --d->refs == 0;
    pthread_mutex_unlock(&d->mu);
    if (!last)
        return;
    if (d->vc) {
        /* Came too late for everyone; its close must not wait for ever on
         * a host that hangs now. */
        if (!d->keepalive)
            virConnectSetKeepAlive(d->vc, HV_KEEPALIVE_S, HV_KEEPALIVE_COUNT);
        virConnectClose(d->vc);
    }
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    free(d->uri);
    free(d);
}

static void
hv_xml_quiet(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

static void *
hv_dial_thread(void *arg)
{
    HvDial *d = arg;
    virConnectPtr vc;
    ErrInfo e;

    util_thread_name("dial");
    /* The test driver parses its node file with libxml2, which prints its
     * own warnings (per thread) for a missing file: drover reports it. */
    xmlSetGenericErrorFunc(NULL, hv_xml_quiet);
    memset(&e, 0, sizeof(e));
    vc = d->readonly ? virConnectOpenReadOnly(d->uri) : virConnectOpen(d->uri);
    /* A connect that answered: a test stops the host here, after the
     * caller gave up waiting (tests/test-hv-conn.c). */
    testhook_pause("hv:dial-done");
    if (vc) {
        /* At once, unless calls only (hv_keepalive says why): a call
         * on it must end when the host stops answering. */
        if (d->keepalive)
            virConnectSetKeepAlive(vc, HV_KEEPALIVE_S, HV_KEEPALIVE_COUNT);
        virResetLastError();
    } else {
        hv_err("cannot connect to %s", d->uri ? d->uri : "libvirt's default host");
        err_save(&e);
        /* Whatever libvirt said, an unreachable host is "not available". */
        if (e.code != RESULT_ACCESS_DENIED)
            e.code = RESULT_NOT_AVAILABLE;
    }
    err_clear();
    pthread_mutex_lock(&d->mu);
    d->vc = vc;
    d->err = e;
    d->done = 1;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    hv_dial_unref(d);
    return NULL;
}

/* Starts a connect (uri NULL: libvirt's default); the caller holds one
 * reference. */
HvDial *
hv_dial_start(const char *uri, int readonly, int keepalive)
{
    HvDial *d = util_xcalloc(1, sizeof(*d));
    pthread_condattr_t ca;
    pthread_attr_t attr;
    pthread_t t;

    pthread_mutex_init(&d->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cv, &ca);
    pthread_condattr_destroy(&ca);
    d->uri = uri ? util_xstrdup(uri) : NULL;
    d->readonly = readonly;
    d->keepalive = keepalive;
    d->started_ms = util_mono_ms();
    d->refs = 2;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, hv_dial_thread, d) != 0)
        hv_dial_thread(d);      /* no thread: in this one, unbounded */
    pthread_attr_destroy(&attr);
    return d;
}

/* Waits for d until wait_s after it started.  Returns 1 when it ended (its
 * connection, if it made one and no one took it yet, moves to *vc; else
 * err holds why), 2 when it ended and another caller took its connection,
 * 0 with 32777 set when it still waits for the host. */
int
hv_dial_wait(HvDial *d, int wait_s, virConnectPtr *vc)
{
    int64_t until_ms = d->started_ms + (int64_t)wait_s * 1000;
    struct timespec until;
    ErrInfo e;
    int done;

    *vc = NULL;
    until = util_mono_deadline(until_ms);
    pthread_mutex_lock(&d->mu);
    while (!d->done && pthread_cond_timedwait(&d->cv, &d->mu, &until) != ETIMEDOUT)
        ;
    done = d->done;
    if (done) {
        *vc = d->vc;
        d->vc = NULL;
        e = d->err;
    }
    pthread_mutex_unlock(&d->mu);
    if (!done) {
        err_set(RESULT_NOT_AVAILABLE, "%s does not answer: no reply to the connect in %d s",
                d->uri ? d->uri : "libvirt's default host",
                (int)((util_mono_ms() - d->started_ms) / 1000));
        return 0;
    }
    if (!*vc && !e.code) {
        err_set(RESULT_NOT_AVAILABLE, "%s: its connect was taken by another caller",
                d->uri ? d->uri : "libvirt's default host");
        return 2;
    }
    if (!*vc)
        err_restore(&e);
    return 1;
}

/* Opens c's connection, waiting at most the connect timeout (counted from
 * the start of a dial still pending from an earlier attempt); NULL with
 * err set, also kept in c->conn_err for later calls unless another caller
 * took the connection (*taken). */
virConnectPtr
hv_connect(HvConn *c, int *taken)
{
    virConnectPtr vc = NULL;
    HvDial *d;
    int ended;

    if (taken)
        *taken = 0;
    pthread_mutex_lock(&c->mu);
    if (!c->dial)
        c->dial = hv_dial_start(c->uri, c->readonly, 0);  /* c's reference */
    d = c->dial;
    pthread_mutex_lock(&d->mu);
    d->refs++;                                              /* ours */
    pthread_mutex_unlock(&d->mu);
    pthread_mutex_unlock(&c->mu);

    ended = hv_dial_wait(d, hv_connect_timeout(), &vc);
    pthread_mutex_lock(&c->mu);
    if (ended && c->dial == d) {
        c->dial = NULL;
        hv_dial_unref(d);       /* c's: never the last, we hold ours */
    }
    if (vc) {
        memset(&c->conn_err, 0, sizeof(c->conn_err));
    } else if (ended == 2) {
        /* Not why the host is down: it is up, and the other caller's
         * connection (found by review: this stayed as the host's last
         * connect error while the host was connected). */
        if (taken)
            *taken = 1;
    } else {
        /* Kept for later calls on the disconnected host, so they can say
         * why (the socket path, the refusal, no answer) as virsh does. */
        err_save(&c->conn_err);
    }
    pthread_mutex_unlock(&c->mu);
    hv_dial_unref(d);
    return vc;
}
