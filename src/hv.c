/* hv: libvirt access — the only module that includes libvirt. */
#include <config.h>

#include "hv.h"
#include "hv-priv.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "domxml.h"
#include "err.h"
#include "fsutil.h"
#include "replica.h"
#include "result.h"
#include "util.h"


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

const char *
hv_power_name(int power)
{
    switch (power) {
    case HV_POWER_RUNNING: return "running";
    case HV_POWER_PAUSED: return "paused";
    case HV_POWER_OFF: return "shut off";
    case HV_POWER_SHUTTING_DOWN: return "shutting down";
    case HV_POWER_CRASHED: return "crashed";
    case HV_POWER_OTHER: return "other";
    default: return "unknown";
    }
}

static int
hv_power_from_state(int st)
{
    switch (st) {
    case VIR_DOMAIN_RUNNING: case VIR_DOMAIN_BLOCKED: return HV_POWER_RUNNING;
    case VIR_DOMAIN_PAUSED: case VIR_DOMAIN_PMSUSPENDED: return HV_POWER_PAUSED;
    case VIR_DOMAIN_SHUTDOWN: return HV_POWER_SHUTTING_DOWN;
    case VIR_DOMAIN_SHUTOFF: return HV_POWER_OFF;
    case VIR_DOMAIN_CRASHED: return HV_POWER_CRASHED;
    default: return HV_POWER_OTHER;
    }
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
        }
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
static virConnectPtr
hv_acquire(HvConn *c)
{
    virConnectPtr vc;

    pthread_mutex_lock(&c->mu);
    vc = c->conn;
    if (vc)
        virConnectRef(vc);
    pthread_mutex_unlock(&c->mu);
    if (!vc)
        err_set(RESULT_NOT_AVAILABLE, "host %s is not connected", c->uri);
    return vc;
}

/* After a failed call: if the connection died, mark the host disconnected
 * and turn the error into 32777. */
static void
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
    virConnectPtr vc = hv_connect(c);
    virConnectPtr old;
    struct stat st;
    HvEventFn fn;
    void *op;

    if (!vc)
        return -1;
    if (c->fleet && stat(c->fleet, &st) < 0)
        memset(&st, 0, sizeof(st));
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

/* Secrets in the definition (VNC passwords...) must survive a redefine;
 * libvirt shows them only to read-write connections and refuses the flag
 * on read-only ones. */
static unsigned int
hv_secure_flag(const HvConn *c)
{
    return c->readonly ? 0 : VIR_DOMAIN_XML_SECURE;
}

/* --- domains ------------------------------------------------------------ */

static int
hv_cmp_domain(const void *a, const void *b)
{
    const HvDomain *x = a, *y = b;
    int r = strcmp(x->name, y->name);
    return r ? r : strcmp(x->uuid, y->uuid);
}

static int
hv_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted UUIDs of the domains that match flags (one bulk call). */
static char **
hv_uuid_set(virConnectPtr vc, unsigned int flags, size_t *n)
{
    virDomainPtr *doms = NULL;
    char **v;
    int k, i;

    k = virConnectListAllDomains(vc, &doms, flags);
    if (k < 0)
        return NULL;
    v = util_xcalloc((size_t)k + 1, sizeof(*v));
    for (i = 0; i < k; i++) {
        char uuid[VIR_UUID_STRING_BUFLEN] = "";
        virDomainGetUUIDString(doms[i], uuid);
        v[i] = util_xstrdup(uuid);
        virDomainFree(doms[i]);
    }
    free(doms);
    qsort(v, (size_t)k, sizeof(*v), hv_cmp_str);
    *n = (size_t)k;
    return v;
}

static int
hv_in_set(char **set, size_t n, const char *uuid)
{
    return n && bsearch(&uuid, set, n, sizeof(*set), hv_cmp_str) != NULL;
}

/* virDomainGetMetadata returns the element with its namespace stripped
 * ("<replica format=...>" with unqualified children); put it back so the
 * document parses as what it is. */
static char *
hv_fix_metadata_ns(const char *md)
{
    const char *p = md + strspn(md, " \t\r\n");
    size_t name = strlen("<" REPLICA_ELEMENT);
    const char *end = strchr(p, '>');

    if (strncmp(p, "<" REPLICA_ELEMENT, name) != 0 || !end ||
        (p[name] != ' ' && p[name] != '>' && p[name] != '/'))
        return util_xstrdup(md);
    {
        UTIL_AUTOFREE char *tag = util_xstrndup(p, (size_t)(end - p));
        if (strstr(tag, "xmlns"))
            return util_xstrdup(md);
    }
    return util_xasprintf("<%s xmlns=\"%s\"%s", REPLICA_ELEMENT, REPLICA_NS, p + name);
}

/* The metadata element of dom: NULL with err code 0 when absent. */
static char *
hv_dom_metadata(virDomainPtr dom)
{
    /* Every libvirt call resets the thread's last error: take the name first. */
    const char *name = virDomainGetName(dom);
    /* The persistent definition holds the record: a define (how drover
     * changes it) does not touch a running domain's live copy. */
    char *md = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, REPLICA_NS,
                                    VIR_DOMAIN_AFFECT_CONFIG);
    char *r;

    if (!md) {
        virErrorPtr e = virGetLastError();
        if (e && e->code == VIR_ERR_NO_DOMAIN_METADATA) {
            virResetLastError();
            err_clear();
            return NULL;
        }
        hv_err("cannot read metadata of %s", name);
        return NULL;
    }
    r = hv_fix_metadata_ns(md);
    free(md);
    return r;
}

int
hv_list(HvConn *c, int flags, HvDomain **out, size_t *n)
{
    int with_metadata = flags & HV_LIST_METADATA;
    size_t nv = 0;
    virConnectPtr vc = hv_acquire(c);
    virDomainPtr *doms = NULL;
    char **active = NULL, **paused = NULL;
    size_t nactive = 0, npaused = 0;
    HvDomain *v = NULL;
    int k = -1, i;
    int ret = -1;

    *out = NULL;
    *n = 0;
    if (!vc)
        return -1;
    /* Power state from two more bulk calls instead of one call per domain. */
    k = virConnectListAllDomains(vc, &doms, 0);
    if (k < 0 ||
        !(active = hv_uuid_set(vc, VIR_CONNECT_LIST_DOMAINS_ACTIVE, &nactive)) ||
        !(paused = hv_uuid_set(vc, VIR_CONNECT_LIST_DOMAINS_PAUSED, &npaused))) {
        hv_err("cannot list domains on %s", c->uri);
        hv_check_alive(c, vc);
        goto cleanup;
    }
    v = util_xcalloc((size_t)k + 1, sizeof(*v));
    for (i = 0; i < k; i++) {
        HvDomain *d = &v[nv];

        d->name = util_xstrdup(virDomainGetName(doms[i]));
        virDomainGetUUIDString(doms[i], d->uuid);
        if (flags & HV_LIST_HANDLES) {
            /* Saves a lookup round trip per domain on a remote host. */
            virDomainRef(doms[i]);
            d->handle = doms[i];
        }
        if (hv_in_set(paused, npaused, d->uuid))
            d->power = HV_POWER_PAUSED;
        else if (hv_in_set(active, nactive, d->uuid))
            d->power = HV_POWER_RUNNING;
        else
            d->power = HV_POWER_OFF;
        if (with_metadata) {
            d->metadata = hv_dom_metadata(doms[i]);
            if (!d->metadata && err_code()) {
                /* A domain that vanished meanwhile is simply not listed. */
                if (err_get()->virt_code == VIR_ERR_NO_DOMAIN) {
                    err_clear();
                    hv_domain_clear(d);
                    continue;
                }
                hv_check_alive(c, vc);
                hv_domain_list_free(v, nv + 1);
                v = NULL;
                goto cleanup;
            }
        }
        nv++;
    }
    qsort(v, nv, sizeof(*v), hv_cmp_domain);
    *out = v;
    *n = nv;
    v = NULL;
    ret = 0;

cleanup:
    for (i = 0; i < k; i++)
        virDomainFree(doms[i]);
    free(doms);
    hv_strv_free(active);
    hv_strv_free(paused);
    virConnectClose(vc);
    return ret;
}

void
hv_domain_clear(HvDomain *d)
{
    if (!d)
        return;
    if (d->handle)
        virDomainFree(d->handle);
    free(d->name);
    free(d->metadata);
    memset(d, 0, sizeof(*d));
}

void
hv_domain_list_free(HvDomain *v, size_t n)
{
    size_t i;

    if (!v)
        return;
    for (i = 0; i < n; i++)
        hv_domain_clear(&v[i]);
    free(v);
}

static virDomainPtr
hv_find(HvConn *c, virConnectPtr vc, const char *name_or_uuid)
{
    virDomainPtr dom = NULL;

    if (strlen(name_or_uuid) == VIR_UUID_STRING_BUFLEN - 1)
        dom = virDomainLookupByUUIDString(vc, name_or_uuid);
    if (!dom)
        dom = virDomainLookupByName(vc, name_or_uuid);
    if (!dom) {
        virErrorPtr e = virGetLastError();
        if (e && e->code == VIR_ERR_NO_DOMAIN) {
            virResetLastError();
            err_set(RESULT_INVALID_PARAMETER, "no domain named %s on %s", name_or_uuid, c->uri);
        } else {
            hv_err("cannot look up %s on %s", name_or_uuid, c->uri);
            hv_check_alive(c, vc);
        }
    }
    return dom;
}

static int
hv_dom_power(virDomainPtr dom)
{
    int st = 0, reason = 0;
    const char *name = virDomainGetName(dom);

    if (virDomainGetState(dom, &st, &reason, 0) < 0) {
        hv_err("cannot read the power state of %s", name);
        return -1;
    }
    return hv_power_from_state(st);
}

int
hv_lookup(HvConn *c, const char *name_or_uuid, int with_metadata, HvDomain *out)
{
    virConnectPtr vc = hv_acquire(c);
    virDomainPtr dom = NULL;
    int ret = -1;

    memset(out, 0, sizeof(*out));
    if (!vc)
        return -1;
    if (!(dom = hv_find(c, vc, name_or_uuid)))
        goto cleanup;
    out->name = util_xstrdup(virDomainGetName(dom));
    virDomainGetUUIDString(dom, out->uuid);
    if ((out->power = hv_dom_power(dom)) < 0)
        goto fail;
    if (with_metadata) {
        out->metadata = hv_dom_metadata(dom);
        if (!out->metadata && err_code())
            goto fail;
    }
    ret = 0;
    goto cleanup;

fail:
    hv_check_alive(c, vc);
    hv_domain_clear(out);
cleanup:
    if (dom)
        virDomainFree(dom);
    virConnectClose(vc);
    return ret;
}

char *
hv_get_metadata(HvConn *c, const char *uuid)
{
    virConnectPtr vc = hv_acquire(c);
    virDomainPtr dom;
    char *md = NULL;

    err_clear();
    if (!vc)
        return NULL;
    if ((dom = hv_find(c, vc, uuid))) {
        md = hv_dom_metadata(dom);
        if (!md && err_code())
            hv_check_alive(c, vc);
        virDomainFree(dom);
    }
    virConnectClose(vc);
    return md;
}

char *
hv_domain_metadata(HvConn *c, const HvDomain *d)
{
    char *md;

    if (!d->handle)
        return hv_get_metadata(c, d->uuid);
    err_clear();
    md = hv_dom_metadata(d->handle);
    if (!md && err_code()) {
        virConnectPtr vc = hv_acquire(c);
        if (vc) {
            hv_check_alive(c, vc);
            virConnectClose(vc);
        }
    }
    return md;
}

int
hv_get_power(HvConn *c, const char *uuid)
{
    virConnectPtr vc = hv_acquire(c);
    virDomainPtr dom;
    int p = -1;

    if (!vc)
        return -1;
    if ((dom = hv_find(c, vc, uuid))) {
        if ((p = hv_dom_power(dom)) < 0)
            hv_check_alive(c, vc);
        virDomainFree(dom);
    }
    virConnectClose(vc);
    return p;
}

char *
hv_get_xml(HvConn *c, const char *uuid)
{
    virConnectPtr vc = hv_acquire(c);
    virDomainPtr dom;
    char *xml = NULL, *r = NULL;

    if (!vc)
        return NULL;
    if ((dom = hv_find(c, vc, uuid))) {
        xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | hv_secure_flag(c));
        if (!xml) {
            hv_err("cannot read the definition of %s", uuid);
            hv_check_alive(c, vc);
        }
        virDomainFree(dom);
    }
    if (xml) {
        r = util_xstrdup(xml);
        free(xml);
    }
    virConnectClose(vc);
    return r;
}

/* Runs after a successful change: keeps a fleet file in step. */
static int
hv_after_change(HvConn *c, virConnectPtr vc, const char *uuid)
{
    if (!c->fleet)
        return 0;
    if (hv_fleet_writeback(c, vc, uuid) < 0) {
        err_prefix("the change is made in memory but not saved");
        return -1;
    }
    return 0;
}

static int
hv_refuse_readonly(HvConn *c, const char *what)
{
    if (!c->readonly)
        return 0;
    err_set(RESULT_ACCESS_DENIED, "cannot %s: the connection to %s is read-only", what, c->uri);
    return -1;
}

int
hv_define(HvConn *c, const char *xml)
{
    virConnectPtr vc;
    virDomainPtr dom;
    char uuid[VIR_UUID_STRING_BUFLEN] = "";
    int ret;

    if (hv_refuse_readonly(c, "define a domain") < 0 || !(vc = hv_acquire(c)))
        return -1;
    dom = virDomainDefineXML(vc, xml);
    if (!dom) {
        hv_err("cannot define the domain on %s", c->uri);
        hv_check_alive(c, vc);
        virConnectClose(vc);
        return -1;
    }
    virDomainGetUUIDString(dom, uuid);
    virDomainFree(dom);
    ret = hv_after_change(c, vc, uuid);
    virConnectClose(vc);
    return ret;
}

typedef int (*HvDomainAction)(virDomainPtr dom);

static int
hv_action(HvConn *c, const char *uuid, HvDomainAction act, const char *what)
{
    virConnectPtr vc;
    virDomainPtr dom;
    int ret = -1;

    if (hv_refuse_readonly(c, what) < 0 || !(vc = hv_acquire(c)))
        return -1;
    if ((dom = hv_find(c, vc, uuid))) {
        const char *name = virDomainGetName(dom);
        if (act(dom) < 0) {
            hv_err("cannot %s %s", what, name);
            hv_check_alive(c, vc);
        } else {
            ret = 0;
        }
        virDomainFree(dom);
    }
    if (ret == 0)
        ret = hv_after_change(c, vc, uuid);
    virConnectClose(vc);
    return ret;
}

static int
hv_do_undefine(virDomainPtr dom)
{
    unsigned int flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA;

    /* A UEFI guest cannot be undefined without its NVRAM flag; drivers
     * without NVRAM (the test driver) refuse the flag: try both. */
    if (virDomainUndefineFlags(dom, flags | VIR_DOMAIN_UNDEFINE_NVRAM) == 0)
        return 0;
    return virDomainUndefineFlags(dom, flags);
}

static int
hv_do_start(virDomainPtr dom)
{
    return virDomainCreate(dom);
}

static int
hv_do_destroy(virDomainPtr dom)
{
    return virDomainDestroy(dom);
}

static int
hv_do_shutdown(virDomainPtr dom)
{
    return virDomainShutdown(dom);
}

int
hv_undefine(HvConn *c, const char *uuid)
{
    return hv_action(c, uuid, hv_do_undefine, "undefine");
}

int
hv_start(HvConn *c, const char *uuid)
{
    return hv_action(c, uuid, hv_do_start, "start");
}

int
hv_destroy(HvConn *c, const char *uuid)
{
    return hv_action(c, uuid, hv_do_destroy, "power off (destroy)");
}

/* After a change libvirt completed on its own (a guest that shut down):
 * keeps a fleet file in step. */
static int
hv_saved(HvConn *c, const char *uuid)
{
    virConnectPtr vc;
    int ret;

    if (!c->fleet)
        return 0;
    if (!(vc = hv_acquire(c)))
        return -1;
    ret = hv_after_change(c, vc, uuid);
    virConnectClose(vc);
    return ret;
}

int
hv_power_off(HvConn *c, const char *uuid, int timeout_s, HvTickFn tick, void *opaque, int *forced)
{
    int64_t start = util_mono_ms();
    int last_tick = -1;
    int p;

    *forced = 0;
    if ((p = hv_get_power(c, uuid)) < 0)
        return -1;
    if (p == HV_POWER_OFF)
        return 0;
    /* A paused guest cannot react to ACPI: only destroy helps. */
    if (p != HV_POWER_PAUSED && timeout_s > 0) {
        if (hv_action(c, uuid, hv_do_shutdown, "shut down") < 0) {
            if (err_code() == RESULT_NOT_AVAILABLE || err_code() == RESULT_ACCESS_DENIED)
                return -1;
            err_clear();    /* no ACPI or agent: fall through to destroy */
        } else {
            for (;;) {
                int elapsed = (int)((util_mono_ms() - start) / 1000);

                if ((p = hv_get_power(c, uuid)) < 0)
                    return -1;
                if (p == HV_POWER_OFF)
                    return hv_saved(c, uuid);
                if (elapsed >= timeout_s)
                    break;
                if (tick && elapsed != last_tick) {
                    tick(elapsed, timeout_s, opaque);
                    last_tick = elapsed;
                }
                usleep(200000);
            }
        }
    }
    *forced = 1;
    if (hv_destroy(c, uuid) < 0)
        return -1;
    return 0;
}

static int
hv_excluded(virDomainPtr dom, const char *const *exclude)
{
    char uuid[VIR_UUID_STRING_BUFLEN];

    if (!exclude || virDomainGetUUIDString(dom, uuid) < 0)
        return 0;
    for (; *exclude; exclude++)
        if (**exclude && strcasecmp(*exclude, uuid) == 0)
            return 1;
    return 0;
}

/* The path of a storage volume, for the "in use" check. */
static char *
hv_volume_path(virConnectPtr vc, const char *pool, const char *volume)
{
    virStoragePoolPtr sp = virStoragePoolLookupByName(vc, pool);
    virStorageVolPtr sv = sp ? virStorageVolLookupByName(sp, volume) : NULL;
    char *path = sv ? virStorageVolGetPath(sv) : NULL;
    char *r = NULL;

    if (!path)
        hv_err("cannot find the file of volume %s in pool %s", volume, pool);
    else
        r = util_xstrdup(path);
    free(path);
    if (sv)
        virStorageVolFree(sv);
    if (sp)
        virStoragePoolFree(sp);
    return r;
}

/* Adds every source of one definition (flags: 0 live, or INACTIVE). 0 when
 * the domain vanished meanwhile (nothing to add), -1 on any other error:
 * a definition that cannot be read could use any file. */
static int
hv_collect_sources(virConnectPtr vc, virDomainPtr dom, unsigned int flags, char ***out,
                   size_t *nout, size_t *cap)
{
    const char *name = virDomainGetName(dom);
    char *xml = virDomainGetXMLDesc(dom, flags);
    DomXml *d;
    DomSourceList src;
    size_t j;
    int ret = 0;

    if (!xml) {
        virErrorPtr e = virGetLastError();
        if (e && e->code == VIR_ERR_NO_DOMAIN) {
            virResetLastError();
            return 0;
        }
        hv_err("cannot read the definition of %s", name);
        return -1;
    }
    d = domxml_parse(xml);
    free(xml);
    if (!d) {
        err_prefix("definition of %s", name);
        return -1;
    }
    domxml_sources(d, &src);
    for (j = 0; j < src.n && ret == 0; j++) {
        char *path = src.v[j].path ? util_xstrdup(src.v[j].path) :
                     hv_volume_path(vc, src.v[j].pool, src.v[j].volume);
        if (!path) {
            err_prefix("disk of %s", name);
            ret = -1;
            break;
        }
        util_grow(out, cap, *nout + 2, sizeof(**out));
        (*out)[(*nout)++] = path;
    }
    domxml_source_list_clear(&src);
    domxml_free(d);
    return ret;
}

char **
hv_all_disk_sources(HvConn *c, const char *const *exclude)
{
    virConnectPtr vc = hv_acquire(c);
    virDomainPtr *doms = NULL;
    char **out = NULL;
    size_t nout = 0, cap = 0;
    int k, i, failed = 0;

    if (!vc)
        return NULL;
    k = virConnectListAllDomains(vc, &doms, 0);
    if (k < 0) {
        hv_err("cannot list domains on %s", c->uri);
        hv_check_alive(c, vc);
        virConnectClose(vc);
        return NULL;
    }
    util_grow(&out, &cap, 1, sizeof(*out));
    for (i = 0; i < k && !failed; i++) {
        if (hv_excluded(doms[i], exclude))
            continue;
        /* What runs now and what starts next time: both must be protected. */
        if (hv_collect_sources(vc, doms[i], 0, &out, &nout, &cap) < 0 ||
            (virDomainIsActive(doms[i]) == 1 &&
             hv_collect_sources(vc, doms[i], VIR_DOMAIN_XML_INACTIVE, &out, &nout, &cap) < 0))
            failed = 1;
        virResetLastError();
    }
    for (i = 0; i < k; i++)
        virDomainFree(doms[i]);
    free(doms);
    out[nout] = NULL;
    if (failed) {
        hv_check_alive(c, vc);
        hv_strv_free(out);
        out = NULL;
    }
    virConnectClose(vc);
    return out;
}

void
hv_strv_free(char **v)
{
    char **p;

    if (!v)
        return;
    for (p = v; *p; p++)
        free(*p);
    free(v);
}
