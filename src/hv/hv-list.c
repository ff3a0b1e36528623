/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hv-list: listing the domains of one host (hv_list) and of many at once,
 * each host in a thread of its own, its records handed on as they come
 * (hv_list_many). */
#include <config.h>

#include "hv/hv.h"
#include "hv/hv-priv.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/stage.h"
#include "base/testhook.h"
#include "base/result.h"
#include "base/util.h"

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
        hv_dom_uuid(doms[i], uuid);
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

/* Takes over n listed domains (v and what it holds) as the list goes on. */
typedef void (*HvPartFn)(void *arg, HvDomain *v, size_t n);

/* A second reader of a list's records: libvirt carries several calls at
 * once on one connection, so while the list's thread reads one record
 * this one reads the next (every other domain), and a round trip waits
 * beside another instead of after it.  Every list of records has it, on
 * one host or twenty: with a call waiting in the daemon's queue, the
 * daemon spends less CPU a call, which on a machine whose cores are busy
 * is what the list waits for (doc/performance.md, "two calls in flight on
 * every host"). */
typedef struct {
    virDomainPtr *doms;
    int k;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char **md;                  /* odd positions: the record read */
    unsigned char *ready;       /* odd positions: read (or failed) */
    ErrInfo **err;              /* odd positions: why it failed */
    int stop;                   /* the list gave up: read no more */
    pthread_t thread;
} HvAhead;

static void *
hv_ahead_thread(void *arg)
{
    HvAhead *h = arg;
    int i;

    util_thread_name("list ahead");
    for (i = 1; i < h->k; i += 2) {
        char *md;
        ErrInfo *e = NULL;
        int stop;

        pthread_mutex_lock(&h->mu);
        stop = h->stop;
        pthread_mutex_unlock(&h->mu);
        if (stop)
            break;
        err_clear();
        if (!(md = hv_dom_metadata(h->doms[i])) && err_code()) {
            e = util_xcalloc(1, sizeof(*e));
            err_save(e);
            err_clear();
        }
        pthread_mutex_lock(&h->mu);
        h->md[i] = md;
        h->err[i] = e;
        h->ready[i] = 1;
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
    }
    return NULL;
}

/* Starts a reader ahead for doms, or returns NULL (then the list reads
 * every record itself). */
static HvAhead *
hv_ahead_new(virDomainPtr *doms, int k)
{
    HvAhead *h = util_xcalloc(1, sizeof(*h));

    h->doms = doms;
    h->k = k;
    h->md = util_xcalloc((size_t)k + 1, sizeof(*h->md));
    h->ready = util_xcalloc((size_t)k + 1, 1);
    h->err = util_xcalloc((size_t)k + 1, sizeof(*h->err));
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    if (pthread_create(&h->thread, NULL, hv_ahead_thread, h) != 0) {
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->mu);
        free(h->md);
        free(h->ready);
        free(h->err);
        free(h);
        return NULL;
    }
    return h;
}

/* Domain i's record as hv_dom_metadata would give it, with its error. */
static char *
hv_ahead_take(HvAhead *h, int i)
{
    char *md;

    if (i % 2 == 0)
        return hv_dom_metadata(h->doms[i]);
    pthread_mutex_lock(&h->mu);
    while (!h->ready[i])
        pthread_cond_wait(&h->cv, &h->mu);
    md = h->md[i];
    h->md[i] = NULL;
    pthread_mutex_unlock(&h->mu);
    err_clear();
    if (h->err[i])
        err_restore(h->err[i]);
    return md;
}

/* Stops the reader ahead (after the call it is in) and frees it. */
static void
hv_ahead_free(HvAhead *h)
{
    int i;

    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = 1;
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    for (i = 0; i < h->k; i++) {
        free(h->md[i]);
        free(h->err[i]);
    }
    free(h->md);
    free(h->ready);
    free(h->err);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

/* Domains a part hands on (hv_list_parts). */
#define HV_LIST_PART 64

/* Records enough for a second reader to be worth its thread. */
#define HV_AHEAD_MIN 64

/* hv_list; with part set, every HV_LIST_PART domains listed (in libvirt's
 * order, not by name) go to part as they come, and *out gets none. */
static int
hv_list_parts(HvConn *c, int flags, HvPartFn part, void *arg, HvDomain **out, size_t *n)
{
    int with_metadata = flags & HV_LIST_METADATA;
    size_t nv = 0, cap;
    virConnectPtr vc = hv_acquire(c);
    virDomainPtr *doms = NULL;
    char **active = NULL, **paused = NULL;
    size_t nactive = 0, npaused = 0;
    HvDomain *v = NULL;
    HvAhead *ahead = NULL;
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
    cap = part ? HV_LIST_PART : (size_t)k;
    v = util_xcalloc(cap + 1, sizeof(*v));
    if (with_metadata && k >= HV_AHEAD_MIN)
        ahead = hv_ahead_new(doms, k);
    for (i = 0; i < k; i++) {
        HvDomain *d = &v[nv];

        /* Halfway through a list that reads ahead: a test loses the host here
         * (tests/hosts-list-lost.sh). */
        if (ahead && i == k / 2)
            testhook_pause("hv:list-record");
        d->name = util_xstrdup(virDomainGetName(doms[i]));
        hv_dom_uuid(doms[i], d->uuid);
        if (hv_in_set(paused, npaused, d->uuid))
            d->power = HV_POWER_PAUSED;
        else if (hv_in_set(active, nactive, d->uuid))
            d->power = HV_POWER_RUNNING;
        else
            d->power = HV_POWER_OFF;
        if (with_metadata) {
            d->metadata = ahead ? hv_ahead_take(ahead, i) : hv_dom_metadata(doms[i]);
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
        if (flags & HV_LIST_HANDLES) {
            /* Saves a lookup round trip per domain on a remote host.  Handed
             * over, not shared: each of libvirt's calls on a domain, a
             * virDomainRef and a virDomainFree too, formats its UUID for a
             * debug line it then drops, and ten thousand domains made that
             * a tenth of the fetchers' time.  The thread ahead is done with
             * position i once hv_ahead_take returned, and reads no other. */
            d->handle = doms[i];
            doms[i] = NULL;
        }
        nv++;
        if (part && nv == cap) {
            part(arg, v, nv);
            v = util_xcalloc(cap + 1, sizeof(*v));
            nv = 0;
        }
    }
    if (part) {
        if (nv)
            part(arg, v, nv);
        else
            free(v);
        v = NULL;
        ret = 0;
        goto cleanup;
    }
    qsort(v, nv, sizeof(*v), hv_cmp_domain);
    *out = v;
    *n = nv;
    v = NULL;
    ret = 0;

cleanup:
    hv_ahead_free(ahead);       /* before the domains it reads go */
    for (i = 0; i < k; i++)
        if (doms[i])
            virDomainFree(doms[i]);
    free(doms);
    hv_strv_free(active);
    hv_strv_free(paused);
    virConnectClose(vc);
    return ret;
}

int
hv_list(HvConn *c, int flags, HvDomain **out, size_t *n)
{
    return hv_list_parts(c, flags, NULL, NULL, out, n);
}

/* How long hv_list_many waits for its hosts before it starts libvirt's
 * event loop: a list through twenty hosts takes about a second, and one
 * that takes longer may be waiting on a host that stopped answering, whose
 * call only keepalive (a timer of the loop) can end. */
#define HV_LIST_LOOP_MS 2000

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* on CLOCK_MONOTONIC */
    size_t left;                /* hosts not done yet */
    int late;                   /* the wait passed HV_LIST_LOOP_MS: keepalive stays on */
} HvListWait;

typedef struct {
    HvConn *c;
    const char *uri;
    int readonly;
    int flags;
    size_t i;
    HvListDoneFn done;
    void *opaque;
    HvListResult r;
    HvListWait *w;
    int listing;                /* a->c is listing without keepalive (w->mu) */
    int parts;                  /* hand the records on in parts (hv_list_many) */
    /* The host's thread makes the calls, the stage's hands each part to
     * done meanwhile, so that what the caller makes of the records
     * overlaps the round trips even on one host. */
    Stage *stage;
} HvListArg;

/* One part of a list on its way from the host's thread to the stage. */
typedef struct {
    HvListArg *a;
    HvDomain *v;
    size_t n;
} HvPart;

static void
hv_part_run(void *arg)
{
    HvPart *p = arg;
    HvListArg *a = p->a;
    HvListResult r;

    memset(&r, 0, sizeof(r));
    r.doms = p->v;
    r.n = p->n;
    a->done(a->i, a->c, &r, a->opaque);
    err_clear();
    hv_domain_list_free(r.doms, r.n);
    free(p);
}

static void
hv_part_put(void *arg, HvDomain *v, size_t n)
{
    HvListArg *a = arg;
    HvPart *p = util_xcalloc(1, sizeof(*p));

    p->a = a;
    p->v = v;
    p->n = n;
    stage_push(a->stage, hv_part_run, p);
}

/* hv_list of a->c with its records handed to a->done in parts, by a stage
 * (without its thread, each part as it comes, in this one). */
static int
hv_list_made(HvListArg *a)
{
    int rc;

    a->stage = stage_new("list rows", 0);
    rc = hv_list_parts(a->c, a->flags, hv_part_put, a, &a->r.doms, &a->r.n);
    stage_free(a->stage);       /* after the parts still waiting */
    a->stage = NULL;
    return rc;
}

static void *
hv_list_thread(void *arg)
{
    HvListArg *a = arg;
    int parts, rc;

    /* hv_open gives up on a host that does not answer its connect (the
     * connect timeout), and keepalive ends a call to a host that stops
     * answering after it: this thread always comes back. */
    if (!a->c && a->uri) {
        a->c = hv_open_calls(a->uri, a->readonly);
        err_clear();    /* hv_list says why it is not connected */
    }
    /* Records that come with the list are made in parts as they come. */
    parts = a->parts && a->done && (a->flags & HV_LIST_METADATA);
    if (!a->c) {
        err_set(RESULT_NOT_AVAILABLE, "not connected");
        rc = -1;
    } else {
        /* keepalive only once the wait passed HV_LIST_LOOP_MS (see
         * hv_keepalive): then a host that stops answering now is noticed. */
        pthread_mutex_lock(&a->w->mu);
        if (a->w->late)
            hv_keepalive(a->c);
        else
            a->listing = 1;
        pthread_mutex_unlock(&a->w->mu);
        testhook_pause("hv:list-connected");
        rc = parts ? hv_list_made(a) : hv_list(a->c, a->flags, &a->r.doms, &a->r.n);
        pthread_mutex_lock(&a->w->mu);
        a->listing = 0;
        pthread_mutex_unlock(&a->w->mu);
    }
    if (rc < 0) {
        a->r.failed = 1;
        err_save(&a->r.err);
    }
    err_clear();
    if (a->done && (!parts || a->r.failed))
        a->done(a->i, a->c, &a->r, a->opaque);
    err_clear();
    pthread_mutex_lock(&a->w->mu);
    if (--a->w->left == 0)
        pthread_cond_signal(&a->w->cv);
    pthread_mutex_unlock(&a->w->mu);
    return NULL;
}

void
hv_list_many(HvConn **conns, const char *const *uris, const int *readonly, size_t n, int flags,
             HvListDoneFn done, void *opaque, HvListResult *out)
{
    HvListArg *a = util_xcalloc(n + 1, sizeof(*a));
    pthread_t *t = util_xcalloc(n + 1, sizeof(*t));
    unsigned char *started = util_xcalloc(n + 1, 1);
    HvListWait w;
    long ncpu;
    pthread_condattr_t ca;
    struct timespec until;
    int64_t until_ms;
    size_t i;

    hv_init();
    err_clear();
    pthread_mutex_init(&w.mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w.cv, &ca);
    pthread_condattr_destroy(&ca);
    w.left = n;
    w.late = 0;
    /* A maker thread a host pays when a core would wait otherwise: with at
     * least as many hosts as cores, the hosts' threads keep them busy and
     * a second thread each only adds switches (measured on 20 hosts). */
    ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    for (i = 0; i < n; i++) {
        a[i].w = &w;
        a[i].parts = ncpu < 1 || (long)n <= ncpu;
        a[i].c = conns[i];
        a[i].uri = uris ? uris[i] : NULL;
        a[i].readonly = readonly ? readonly[i] : 0;
        a[i].flags = flags;
        a[i].i = i;
        a[i].done = done;
        a[i].opaque = opaque;
        if (pthread_create(&t[i], NULL, hv_list_thread, &a[i]) == 0)
            started[i] = 1;
        else
            hv_list_thread(&a[i]);      /* no thread: in this one */
    }
    until_ms = util_mono_ms() + HV_LIST_LOOP_MS;
    until = util_mono_deadline(until_ms);
    pthread_mutex_lock(&w.mu);
    while (w.left && pthread_cond_timedwait(&w.cv, &w.mu, &until) != ETIMEDOUT)
        ;
    if (w.left) {
        /* A host this slow may have stopped answering: keepalive on for
         * those listing, and its timer run from now on. */
        w.late = 1;
        for (i = 0; i < n; i++) {
            if (a[i].listing)
                hv_keepalive(a[i].c);
            a[i].listing = 0;
        }
        hv_loop_start();
    }
    pthread_mutex_unlock(&w.mu);
    for (i = 0; i < n; i++) {
        if (started[i])
            pthread_join(t[i], NULL);
        out[i] = a[i].r;
        conns[i] = a[i].c;
    }
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    free(started);
    free(t);
    free(a);
}
