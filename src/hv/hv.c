/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hv: libvirt access — the only module that includes libvirt. */
#include <config.h>

#include "hv/hv.h"
#include "hv/hv-priv.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/testhook.h"
#include "record/replica.h"
#include "base/result.h"
#include "base/util.h"


static pthread_once_t hv_once = PTHREAD_ONCE_INIT;
static int hv_init_result = -1;

static void
hv_error_sink(void *opaque, virErrorPtr e)
{
    /* libvirt would print to stderr, under curses; errors are read with
     * virGetLastError() by the caller instead. */
    (void)opaque;
    (void)e;
}

static void
hv_init_once(void)
{
    virSetErrorFunc(NULL, hv_error_sink);
    /* Before any thread of ours or libvirt's touches libxml2: its first
     * use sets up global mutexes without a lock, and threads connecting at
     * once (hv_list_many) raced there and leaked one. */
    xmlInitParser();
    /* The event loop is registered here, before any connect, so that every
     * connection gets keepalive; its thread starts with the first
     * connection that registers for events (hv_loop_thread, hv-loop.c). */
    hv_init_result = virInitialize() < 0 || hv_event_register() < 0 ? -1 : 0;
}

int
hv_init(void)
{
    pthread_once(&hv_once, hv_init_once);
    if (hv_init_result < 0)
        err_set(RESULT_FAILED, "cannot initialise libvirt and its event loop");
    return hv_init_result;
}

/* Sets err from libvirt's last error of this thread, with our context. */
void
hv_err(const char *fmt, ...)
{
    virErrorPtr e = virGetLastError();
    char ctx[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(ctx, sizeof(ctx), fmt, ap);
    va_end(ap);
    err_set_virt(e ? e->code : VIR_ERR_INTERNAL_ERROR, e ? e->message : NULL, "%s", ctx);
    virResetLastError();
}

/* --- connection management ------------------------------------------- */

static void hv_close_cb(virConnectPtr conn, int reason, void *opaque);

static int
hv_lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    HvConn *c = opaque;
    char uuid[VIR_UUID_STRING_BUFLEN];
    HvEventFn fn;
    void *op;

    (void)conn;
    (void)event;
    (void)detail;
    if (hv_dom_uuid(dom, uuid) < 0)
        return 0;
    pthread_mutex_lock(&c->mu);
    fn = c->fn;
    op = c->opaque;
    pthread_mutex_unlock(&c->mu);
    if (fn)
        fn(c, uuid, HV_EVENT_LIFECYCLE, op);
    return 0;
}

static void
hv_metadata_cb(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri, void *opaque)
{
    HvConn *c = opaque;
    char uuid[VIR_UUID_STRING_BUFLEN];
    HvEventFn fn;
    void *op;

    (void)conn;
    (void)type;
    if (nsuri && strcmp(nsuri, REPLICA_NS) != 0)
        return;
    if (hv_dom_uuid(dom, uuid) < 0)
        return;
    pthread_mutex_lock(&c->mu);
    fn = c->fn;
    op = c->opaque;
    pthread_mutex_unlock(&c->mu);
    if (fn)
        fn(c, uuid, HV_EVENT_METADATA, op);
}

static void
hv_conn_free(HvConn *c)
{
    pthread_mutex_destroy(&c->mu);
    free(c->uri);
    free(c->fleet);
    free(c);
}

/* Drops a reference of c (its owner's, or a callback's: libvirt's free
 * callback, which it calls once the callback can no longer run, also
 * after a dispatch that was in it when it was unregistered). */
static void
hv_conn_unref(void *opaque)
{
    HvConn *c = opaque;
    int last;

    pthread_mutex_lock(&c->mu);
    last = --c->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (last)
        hv_conn_free(c);
}

/* Registers c's callbacks on a fresh vc, which is not c's yet: the
 * caller puts the hooks in c with vc (hv_hook).  Each callback holds a
 * reference of c while registered.  Calls to the host, made without
 * c->mu: a host that stops answering now holds this thread alone, until
 * keepalive, started first, ends the call (found by review: a reconnect
 * held c->mu for good, and every reader and the close with it). */
static HvHooks
hv_register(HvConn *c, virConnectPtr vc)
{
    HvHooks h = { c->events, -1, -1 };

    if (!c->events) {
        /* Calls only (hv_open_calls): its caller turns keepalive on and
         * starts the loop if a call takes long. */
        virResetLastError();
        return h;
    }
    /* The loop's thread: it runs the loop at once, or when a deferral
     * (hv_events_defer) ends. */
    hv_loop_thread();
    /* Remote hosts: notice a dead peer within ~20 s instead of hanging,
     * also in the calls below. */
    hv_later_add(vc);
    h.lifecycle = virConnectDomainEventRegisterAny(vc, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                   VIR_DOMAIN_EVENT_CALLBACK(hv_lifecycle_cb),
                                                   c, hv_conn_unref);
    h.metadata = virConnectDomainEventRegisterAny(vc, NULL, VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
                                                  VIR_DOMAIN_EVENT_CALLBACK(hv_metadata_cb),
                                                  c, hv_conn_unref);
    /* No reference for the close callback: only the remote driver keeps
     * it (and would call a free callback); libvirt's others take it and
     * never call one.  Its unregistering waits for a call in progress
     * (hv_drop says why), which is what the reference is for. */
    virConnectRegisterCloseCallback(vc, hv_close_cb, c, NULL);
    pthread_mutex_lock(&c->mu);
    c->refs += (h.lifecycle >= 0) + (h.metadata >= 0);
    pthread_mutex_unlock(&c->mu);
    virResetLastError();
    return h;
}

/* Puts the hooks hv_register made in c, with their connection (c->mu
 * held). */
static void
hv_hook(HvConn *c, HvHooks h)
{
    c->cb_lifecycle = h.lifecycle;
    c->cb_metadata = h.metadata;
}

/* c's callbacks on its connection, now no longer c's (c->mu held). */
static HvHooks
hv_unhook(HvConn *c)
{
    HvHooks h = { c->events, c->cb_lifecycle, c->cb_metadata };

    c->cb_lifecycle = c->cb_metadata = -1;
    return h;
}

/* Takes c's lost connection out of c (c->mu held): NULL if none; drop
 * it with hv_drop after c->mu. */
static virConnectPtr
hv_take_lost(HvConn *c, HvHooks *h)
{
    virConnectPtr vc = c->lost;

    *h = c->lost_hooks;
    c->lost = NULL;
    return vc;
}

/* Unregisters c's callbacks on vc and drops c's reference (NULL is fine).
 * Never under c->mu: libvirt calls hv_close_cb, which takes c->mu, with
 * vc's close-callback lock held, and unregistering the callback takes
 * that lock (each waited for the other for good: tests/test-hv-conn.c). */
static void
hv_drop(virConnectPtr vc, HvHooks h)
{
    if (!vc)
        return;
    if (!h.events) {
        /* Calls only, which may have gone without keepalive: the close
         * must not wait for ever on a host that hangs now. */
        virConnectSetKeepAlive(vc, HV_KEEPALIVE_S, HV_KEEPALIVE_COUNT);
    } else {
        hv_later_remove(vc);
        if (h.lifecycle >= 0)
            virConnectDomainEventDeregisterAny(vc, h.lifecycle);
        if (h.metadata >= 0)
            virConnectDomainEventDeregisterAny(vc, h.metadata);
        virConnectUnregisterCloseCallback(vc, hv_close_cb);
    }
    virResetLastError();
    virConnectClose(vc);
}

static void
hv_close_cb(virConnectPtr conn, int reason, void *opaque)
{
    HvConn *c = opaque;
    HvEventFn fn;
    void *op;

    (void)reason;
    /* libvirt holds the connection's close-callback lock here: a test
     * holds the callback to take c->mu against it (tests/test-hv-conn.c). */
    testhook_pause("hv:close-callback");
    pthread_mutex_lock(&c->mu);
    if (c->conn == conn && !c->lost) {
        /* Its callbacks cannot be unregistered here, with the
         * close-callback lock held: the connection waits in c->lost, with
         * c's reference, for the next reconnect or the close (hv_take_lost).
         * Closed here instead, it stayed in memory with them, and with a
         * reference of c each (found by review: one per loss). */
        c->conn = NULL;
        c->lost = conn;
        c->lost_hooks = hv_unhook(c);
        hv_later_remove(conn);
    }
    fn = c->fn;
    op = c->opaque;
    pthread_mutex_unlock(&c->mu);
    if (fn)
        fn(c, NULL, HV_EVENT_CONNECTION, op);
}

static char *
hv_fleet_from_uri(const char *uri)
{
    const char *p;

    if (strncmp(uri, "test:///", 8) != 0)
        return NULL;
    p = uri + 7;
    if (strcmp(p, "/default") == 0 || strchr(p, '?'))
        return NULL;
    return util_xstrdup(p);
}

static HvConn *
hv_open_with(const char *uri, int readonly, int events)
{
    HvConn *c = util_xcalloc(1, sizeof(*c));

    pthread_mutex_init(&c->mu, NULL);
    c->refs = 1;
    c->uri = util_xstrdup(uri);
    c->readonly = readonly;
    c->events = events;
    c->cb_lifecycle = c->cb_metadata = -1;
    c->local = -1;
    c->fleet = hv_fleet_from_uri(uri);
    if (hv_init() < 0)
        return c;
    if (c->fleet && stat(c->fleet, &c->fleet_st) < 0)
        memset(&c->fleet_st, 0, sizeof(c->fleet_st));
    c->conn = hv_connect(c, NULL);
    if (c->conn) {
        HvHooks h = hv_register(c, c->conn);

        pthread_mutex_lock(&c->mu);
        hv_hook(c, h);
        pthread_mutex_unlock(&c->mu);
    }
    testhook_pause("hv:open-connected");
    return c;
}

HvConn *
hv_open(const char *uri, int readonly)
{
    return hv_open_with(uri, readonly, 1);
}

HvConn *
hv_open_calls(const char *uri, int readonly)
{
    return hv_open_with(uri, readonly, 0);
}

typedef struct {
    const char *uri;
    int readonly;
    HvConn *out;
} HvOpenArg;

static void *
hv_open_thread(void *arg)
{
    HvOpenArg *a = arg;

    a->out = hv_open(a->uri, a->readonly);
    err_clear();    /* a host that is down is a state of its HvConn */
    return NULL;
}

void
hv_open_many(const char *const *uris, const int *readonly, size_t n, HvConn **out)
{
    HvOpenArg *a = util_xcalloc(n + 1, sizeof(*a));
    pthread_t *t = util_xcalloc(n + 1, sizeof(*t));
    unsigned char *started = util_xcalloc(n + 1, 1);
    size_t i;

    /* Once, before the threads: libvirt's own initialisation. */
    hv_init();
    err_clear();
    for (i = 0; i < n; i++) {
        a[i].uri = uris[i];
        a[i].readonly = readonly ? readonly[i] : 0;
        if (n > 1 && pthread_create(&t[i], NULL, hv_open_thread, &a[i]) == 0)
            started[i] = 1;
        else
            hv_open_thread(&a[i]);      /* no thread: in this one */
    }
    for (i = 0; i < n; i++) {
        if (started[i])
            pthread_join(t[i], NULL);
        out[i] = a[i].out;
    }
    free(started);
    free(t);
    free(a);
}

/* How long hv_close waits for a host to take its connection's close
 * before it leaves the rest to a thread: quitting never hangs on a host
 * that stopped answering after its connect (keepalive ends that call). */
#define HV_CLOSE_WAIT_MS 1000

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* on CLOCK_MONOTONIC */
    int refs;
    int done;
    HvConn *c;                  /* the closing thread's */
    HvDial *d;                  /* c's connect that came too late, or NULL */
} HvCloser;

static void
hv_closer_unref(HvCloser *k)
{
    int last;

    pthread_mutex_lock(&k->mu);
    last = --k->refs == 0;
    pthread_mutex_unlock(&k->mu);
    if (last) {
        pthread_mutex_destroy(&k->mu);
        pthread_cond_destroy(&k->cv);
        free(k);
    }
}

/* Unregisters, closes and frees c: every step a call to the host.  A
 * callback running now ends on c as it is, calling no handler; c goes
 * with the last reference. */
static void
hv_close_now(HvConn *c)
{
    virConnectPtr vc, lost;
    HvHooks h, lh;

    pthread_mutex_lock(&c->mu);
    vc = c->conn;
    c->conn = NULL;
    h = hv_unhook(c);
    lost = hv_take_lost(c, &lh);
    c->fn = NULL;
    c->opaque = NULL;
    pthread_mutex_unlock(&c->mu);
    hv_drop(vc, h);
    hv_drop(lost, lh);
    hv_conn_unref(c);
}

static void *
hv_closer_thread(void *arg)
{
    HvCloser *k = arg;

    /* The last reference of a connect that came too late closes what it
     * got: a call to a host that may hang now. */
    hv_dial_unref(k->d);
    hv_close_now(k->c);
    pthread_mutex_lock(&k->mu);
    k->done = 1;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
    hv_closer_unref(k);
    return NULL;
}

/* Starts closing c: NULL when done already, else the closer to wait for. */
static HvCloser *
hv_close_start(HvConn *c)
{
    HvDial *d;
    HvCloser *k;
    pthread_condattr_t ca;
    pthread_attr_t attr;
    pthread_t t;
    int remote;

    pthread_mutex_lock(&c->mu);
    d = c->dial;
    c->dial = NULL;
    remote = ((c->conn || c->lost) && !c->fleet) || d;
    pthread_mutex_unlock(&c->mu);
    /* A connect still waiting for the host ends on its own, and its thread
     * closes what it gets; one that came too late is closed by the
     * closer, which hv_close waits for HV_CLOSE_WAIT_MS at most. */
    if (!remote) {
        hv_close_now(c);
        return NULL;
    }
    k = util_xcalloc(1, sizeof(*k));
    pthread_mutex_init(&k->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&k->cv, &ca);
    pthread_condattr_destroy(&ca);
    k->refs = 2;
    k->c = c;
    k->d = d;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, hv_closer_thread, k) != 0) {
        k->refs = 1;
        hv_closer_unref(k);
        k = NULL;
        hv_dial_unref(d);
        hv_close_now(c);
    }
    pthread_attr_destroy(&attr);
    return k;
}

void
hv_close_many(HvConn **v, size_t n)
{
    HvCloser **k = util_xcalloc(n + 1, sizeof(*k));
    struct timespec until;
    int64_t until_ms;
    size_t i;

    for (i = 0; i < n; i++)
        k[i] = v[i] ? hv_close_start(v[i]) : NULL;
    /* One deadline for all: hosts that hang cost a second together. */
    until_ms = util_mono_ms() + HV_CLOSE_WAIT_MS;
    until = util_mono_deadline(until_ms);
    for (i = 0; i < n; i++) {
        if (!k[i])
            continue;
        pthread_mutex_lock(&k[i]->mu);
        while (!k[i]->done && pthread_cond_timedwait(&k[i]->cv, &k[i]->mu, &until) != ETIMEDOUT)
            ;
        pthread_mutex_unlock(&k[i]->mu);
        hv_closer_unref(k[i]);
    }
    free(k);
}

void
hv_close(HvConn *c)
{
    hv_close_many(&c, 1);
}

/* c's connection, referenced (virConnectClose it after), or NULL. */
static virConnectPtr
hv_ref(HvConn *c)
{
    virConnectPtr vc;

    pthread_mutex_lock(&c->mu);
    vc = c->conn;
    if (vc)
        virConnectRef(vc);
    pthread_mutex_unlock(&c->mu);
    return vc;
}

/* A referenced connection for one call, or NULL with 32777. */
virConnectPtr
hv_acquire(HvConn *c)
{
    virConnectPtr vc;

    ErrInfo why;

    pthread_mutex_lock(&c->mu);
    vc = c->conn;
    if (vc)
        virConnectRef(vc);
    why = c->conn_err;
    pthread_mutex_unlock(&c->mu);
    if (!vc) {
        if (why.code) {
            /* "cannot connect to URI: " and libvirt's own reason ("Failed
             * to connect socket to '...'"). */
            err_restore(&why);
        } else {
            err_set(RESULT_NOT_AVAILABLE, "host %s is not connected", c->uri);
        }
    }
    return vc;
}

void
hv_keepalive(HvConn *c)
{
    virConnectPtr vc = hv_ref(c);

    if (!vc)
        return;
    /* Sends nothing: a timer of the event loop; libvirt's client also
     * checks it in the thread that waits in a call. */
    virConnectSetKeepAlive(vc, HV_KEEPALIVE_S, HV_KEEPALIVE_COUNT);
    virResetLastError();
    virConnectClose(vc);
}

/* After a failed call: if the connection died, mark the host disconnected
 * and turn the error into 32777. */
void
hv_check_alive(HvConn *c, virConnectPtr vc)
{
    ErrInfo e;
    HvHooks h;
    int mine;

    if (virConnectIsAlive(vc) == 1) {
        virResetLastError();
        return;
    }
    virResetLastError();
    err_save(&e);
    e.code = RESULT_NOT_AVAILABLE;
    err_restore(&e);
    pthread_mutex_lock(&c->mu);
    mine = c->conn == vc;
    if (mine) {
        c->conn = NULL;
        h = hv_unhook(c);
    }
    pthread_mutex_unlock(&c->mu);
    if (mine)
        hv_drop(vc, h);         /* c's reference */
}

int
hv_is_alive(HvConn *c)
{
    virConnectPtr vc = hv_ref(c);
    int alive;

    if (!vc)
        return 0;
    alive = virConnectIsAlive(vc) == 1;
    virResetLastError();
    if (!alive)
        hv_check_alive(c, vc);
    virConnectClose(vc);
    return alive;
}

/* Replaces the connection (c->mu not held). */
static int
hv_swap(HvConn *c, int kind)
{
    virConnectPtr vc, old, lost;
    struct stat st;
    HvEventFn fn;
    HvHooks h, nh, lh;
    void *op;
    int taken;

    /* Stat before connecting, as hv_open does: a write landing between the
     * two must leave the recorded version older than memory (one reload
     * too many), never newer (a stale view taken as current). */
    if (c->fleet && stat(c->fleet, &st) < 0)
        memset(&st, 0, sizeof(st));
    if (!(vc = hv_connect(c, &taken))) {
        if (!taken)
            return -1;
        /* Another caller waited on the same connect and is putting its
         * connection in c now: nothing failed. */
        err_clear();
        return 0;
    }
    testhook_pause("hv:swap-connected");
    nh = hv_register(c, vc);
    pthread_mutex_lock(&c->mu);
    old = c->conn;
    h = hv_unhook(c);
    lost = hv_take_lost(c, &lh);
    c->conn = vc;
    c->local = -1;
    hv_hook(c, nh);
    if (c->fleet)
        c->fleet_st = st;
    fn = c->fn;
    op = c->opaque;
    pthread_mutex_unlock(&c->mu);
    hv_drop(old, h);
    hv_drop(lost, lh);
    if (fn)
        fn(c, NULL, kind, op);
    return 0;
}

int
hv_reconnect(HvConn *c)
{
    if (hv_is_alive(c))
        return 0;
    return hv_swap(c, HV_EVENT_CONNECTION);
}

const char *
hv_uri(const HvConn *c)
{
    return c->uri;
}

char *
hv_default_uri(void)
{
    virConnectPtr vc;
    char *uri, *ret = NULL;
    HvDial *d;

    if (hv_init() < 0)
        return NULL;
    /* Read-only is enough to learn the name, and works where a read-write
     * connection would be refused; bounded as every connect is. */
    d = hv_dial_start(NULL, 1, 1);
    hv_dial_wait(d, hv_connect_timeout(), &vc);
    hv_dial_unref(d);
    if (!vc) {
        err_prefix("libvirt's default connection");
        return NULL;
    }
    uri = virConnectGetURI(vc);
    if (!uri)
        hv_err("libvirt's default connection: no URI");
    else
        ret = util_xstrdup(uri);
    free(uri);
    virConnectClose(vc);
    return ret;
}

int
hv_is_local(HvConn *c)
{
    virConnectPtr vc;
    char *remote;
    char here[256];
    int local;

    if (c->fleet || strncmp(c->uri, "test:", 5) == 0)
        return 1;
    pthread_mutex_lock(&c->mu);
    local = c->local;
    vc = c->conn;
    if (vc && local < 0)
        virConnectRef(vc);
    pthread_mutex_unlock(&c->mu);
    if (local >= 0 || !vc)
        return local;
    remote = virConnectGetHostname(vc);
    virConnectClose(vc);
    if (!remote || gethostname(here, sizeof(here)) < 0) {
        virResetLastError();
        free(remote);
        return -1;
    }
    here[sizeof(here) - 1] = '\0';
    local = strcmp(remote, here) == 0;
    free(remote);
    /* Asked once per connection: the console asks for every row. */
    pthread_mutex_lock(&c->mu);
    c->local = local;
    pthread_mutex_unlock(&c->mu);
    return local;
}

int
hv_is_readonly(const HvConn *c)
{
    return c->readonly;
}

const char *
hv_fleet_path(const HvConn *c)
{
    return c->fleet;
}

int
hv_reload_if_changed(HvConn *c)
{
    struct stat st, loaded;

    if (!c->fleet)
        return 0;
    if (stat(c->fleet, &st) < 0) {
        err_set_errno(0, errno, "fleet file %s", c->fleet);
        return -1;
    }
    pthread_mutex_lock(&c->mu);
    loaded = c->fleet_st;
    pthread_mutex_unlock(&c->mu);
    if (fsutil_same_version(&st, &loaded) && hv_is_alive(c))
        return 0;
    return hv_swap(c, HV_EVENT_RELOADED) < 0 ? -1 : 1;
}

void
hv_set_event_handler(HvConn *c, HvEventFn fn, void *opaque)
{
    pthread_mutex_lock(&c->mu);
    c->fn = fn;
    c->opaque = opaque;
    pthread_mutex_unlock(&c->mu);
}
