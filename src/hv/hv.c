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
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static void *
hv_event_thread(void *arg)
{
    (void)arg;
    for (;;) {
        if (virEventRunDefaultImpl() < 0)
            usleep(100000);
    }
    return NULL;
}

static void
hv_init_once(void)
{
    pthread_t t;
    pthread_attr_t attr;

    virSetErrorFunc(NULL, hv_error_sink);
    /* Before any thread of ours or libvirt's touches libxml2: its first
     * use sets up global mutexes without a lock, and threads connecting at
     * once (hv_list_many) raced there and leaked one. */
    xmlInitParser();
    if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0) {
        hv_init_result = -1;
        return;
    }
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    hv_init_result = pthread_create(&t, &attr, hv_event_thread, NULL) == 0 ? 0 : -1;
    pthread_attr_destroy(&attr);
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
    if (virDomainGetUUIDString(dom, uuid) < 0)
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
    if (virDomainGetUUIDString(dom, uuid) < 0)
        return;
    pthread_mutex_lock(&c->mu);
    fn = c->fn;
    op = c->opaque;
    pthread_mutex_unlock(&c->mu);
    if (fn)
        fn(c, uuid, HV_EVENT_METADATA, op);
}

/* Registers callbacks on a fresh virConnectPtr (c->mu held). */
static void
hv_register(HvConn *c, virConnectPtr vc)
{
    c->cb_lifecycle = virConnectDomainEventRegisterAny(vc, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                       VIR_DOMAIN_EVENT_CALLBACK(hv_lifecycle_cb),
                                                       c, NULL);
    c->cb_metadata = virConnectDomainEventRegisterAny(vc, NULL, VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
                                                      VIR_DOMAIN_EVENT_CALLBACK(hv_metadata_cb),
                                                      c, NULL);
    virConnectRegisterCloseCallback(vc, hv_close_cb, c, NULL);
    /* Remote hosts: notice a dead peer within ~20 s instead of hanging. */
    virConnectSetKeepAlive(vc, 5, 3);
    virResetLastError();
}

static void
hv_unregister(HvConn *c, virConnectPtr vc)
{
    if (c->cb_lifecycle >= 0)
        virConnectDomainEventDeregisterAny(vc, c->cb_lifecycle);
    if (c->cb_metadata >= 0)
        virConnectDomainEventDeregisterAny(vc, c->cb_metadata);
    virConnectUnregisterCloseCallback(vc, hv_close_cb);
    c->cb_lifecycle = c->cb_metadata = -1;
    virResetLastError();
}

static void
hv_close_cb(virConnectPtr conn, int reason, void *opaque)
{
    HvConn *c = opaque;
    HvEventFn fn;
    void *op;

    (void)reason;
    pthread_mutex_lock(&c->mu);
    if (c->conn == conn) {
        /* The connection object stays referenced by libvirt until the
         * callback returns; drop ours afterwards through the reconnect path. */
        c->conn = NULL;
        c->cb_lifecycle = c->cb_metadata = -1;
        virConnectClose(conn);
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

static void
hv_xml_quiet(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

static virConnectPtr
hv_connect(HvConn *c)
{
    virConnectPtr vc;

    /* The test driver parses its node file with libxml2, which prints its
     * own warnings (per thread) for a missing file: drover reports it. */
    xmlSetGenericErrorFunc(NULL, hv_xml_quiet);
    vc = c->readonly ? virConnectOpenReadOnly(c->uri) : virConnectOpen(c->uri);
    if (!vc) {
        hv_err("cannot connect to %s", c->uri);
        err_get();
        /* Whatever libvirt said, an unreachable host is "not available". */
        {
            ErrInfo e;
            err_save(&e);
            if (e.code != RESULT_ACCESS_DENIED)
                e.code = RESULT_NOT_AVAILABLE;
            err_restore(&e);
            /* Kept for later calls on the disconnected host, so they can say
             * why (the socket path, the refusal) as virsh does. */
            pthread_mutex_lock(&c->mu);
            c->conn_err = e;
            pthread_mutex_unlock(&c->mu);
        }
    } else {
        pthread_mutex_lock(&c->mu);
        memset(&c->conn_err, 0, sizeof(c->conn_err));
        pthread_mutex_unlock(&c->mu);
    }
    return vc;
}

HvConn *
hv_open(const char *uri, int readonly)
{
    HvConn *c = util_xcalloc(1, sizeof(*c));

    pthread_mutex_init(&c->mu, NULL);
    c->uri = util_xstrdup(uri);
    c->readonly = readonly;
    c->cb_lifecycle = c->cb_metadata = -1;
    c->local = -1;
    c->fleet = hv_fleet_from_uri(uri);
    if (hv_init() < 0)
        return c;
    if (c->fleet && stat(c->fleet, &c->fleet_st) < 0)
        memset(&c->fleet_st, 0, sizeof(c->fleet_st));
    c->conn = hv_connect(c);
    if (c->conn)
        hv_register(c, c->conn);
    return c;
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

void
hv_close(HvConn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    if (c->conn) {
        hv_unregister(c, c->conn);
        virConnectClose(c->conn);
        c->conn = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_destroy(&c->mu);
    free(c->uri);
    free(c->fleet);
    free(c);
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

/* After a failed call: if the connection died, mark the host disconnected
 * and turn the error into 32777. */
void
hv_check_alive(HvConn *c, virConnectPtr vc)
{
    ErrInfo e;

    if (virConnectIsAlive(vc) == 1) {
        virResetLastError();
        return;
    }
    virResetLastError();
    err_save(&e);
    e.code = RESULT_NOT_AVAILABLE;
    err_restore(&e);
    pthread_mutex_lock(&c->mu);
    if (c->conn == vc) {
        hv_unregister(c, vc);
        c->conn = NULL;
        virConnectClose(vc);
    }
    pthread_mutex_unlock(&c->mu);
}

int
hv_is_alive(HvConn *c)
{
    virConnectPtr vc;
    int alive;

    pthread_mutex_lock(&c->mu);
    vc = c->conn;
    if (vc)
        virConnectRef(vc);
    pthread_mutex_unlock(&c->mu);
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
    virConnectPtr vc;
    virConnectPtr old;
    struct stat st;
    HvEventFn fn;
    void *op;

    /* Stat before connecting, as hv_open does: a write landing between the
     * two must leave the recorded version older than memory (one reload
     * too many), never newer (a stale view taken as current). */
    if (c->fleet && stat(c->fleet, &st) < 0)
        memset(&st, 0, sizeof(st));
    if (!(vc = hv_connect(c)))
        return -1;
    testhook_pause("hv:swap-connected");
    pthread_mutex_lock(&c->mu);
    old = c->conn;
    if (old)
        hv_unregister(c, old);
    c->conn = vc;
    c->local = -1;
    hv_register(c, vc);
    if (c->fleet)
        c->fleet_st = st;
    fn = c->fn;
    op = c->opaque;
    pthread_mutex_unlock(&c->mu);
    if (old)
        virConnectClose(old);
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

    if (hv_init() < 0)
        return NULL;
    /* Read-only is enough to learn the name, and works where a read-write
     * connection would be refused. */
    vc = virConnectOpenReadOnly(NULL);
    if (!vc) {
        hv_err("libvirt's default connection");
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
