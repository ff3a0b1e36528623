/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hv-checks: what plans read beyond the domain they change: every disk
 * source on the host (what no deletion may touch), whether a network is
 * isolated (a test system's network), and a domain's power state asked of
 * another host (the split-brain guard).  The domains themselves:
 * hv-domain.c. */
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
#include <strings.h>
#include <time.h>

#include "hv/domxml.h"
#include "base/err.h"
#include "base/result.h"
#include "base/util.h"

/* --- disk sources --------------------------------------------------------- */

static int
hv_excluded(virDomainPtr dom, const char *const *exclude)
{
    char uuid[VIR_UUID_STRING_BUFLEN];

    if (!exclude || hv_dom_uuid(dom, uuid) < 0)
        return 0;
    for (; *exclude; exclude++)
        if (**exclude && strcasecmp(*exclude, uuid) == 0)
            return 1;
    return 0;
}

/* The file a storage volume names, for the "in use" check, or "" when it
 * names no file a deletion could touch.  libvirt knows a volume only while
 * its pool is active and refreshed, but the file is there all the same: a
 * file pool (dir, fs, netfs) keeps volume NAME at TARGET/NAME, so that is
 * what is protected.  A volume of a pool that does not exist names no file
 * (libvirt cannot start the domain either); one of a pool of another type
 * is a block device or a network image, never a regular file drover
 * deletes.  Failing here instead blocked every deletion on the host, and
 * after an operation's switch, repair too (issue 11, item 11). */
static char *
hv_volume_path(virConnectPtr vc, const char *pool, const char *volume)
{
    virStoragePoolPtr sp = virStoragePoolLookupByName(vc, pool);
    virStorageVolPtr sv = sp ? virStorageVolLookupByName(sp, volume) : NULL;
    char *path = sv ? virStorageVolGetPath(sv) : NULL;
    char *pxml = NULL;
    char *type = NULL, *target = NULL;
    char *r = NULL;

    virResetLastError();
    if (path) {
        r = util_xstrdup(path);
    } else if (!sp) {
        r = util_xstrdup("");
    } else if (!(pxml = virStoragePoolGetXMLDesc(sp, 0))) {
        hv_err("cannot read the definition of pool %s (volume %s)", pool, volume);
    } else if (domxml_pool_target(pxml, &type, &target) < 0) {
        err_prefix("pool %s", pool);
    } else if (type && (strcmp(type, "dir") == 0 || strcmp(type, "fs") == 0 ||
                        strcmp(type, "netfs") == 0)) {
        if (!target || !*target || strchr(volume, '/'))
            err_set(RESULT_INCORRECT_TYPE, "pool %s has no target path for volume %s", pool, volume);
        else
            r = util_path_join(target, volume);
    } else {
        r = util_xstrdup("");
    }
    free(type);
    free(target);
    free(pxml);
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
        if (!*path) {
            free(path);
            continue;
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

/* --- asking another host (the split-brain guard) ---------------------- */

/* Shared by the caller and the probe thread; the last one out frees it. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    int done;
    char *uri;
    char *name;
    int power;
    ErrInfo err;                /* code 0: *power is the answer */
} HvProbe;

static void
hv_probe_unref(HvProbe *pr)
{
    int last;

    pthread_mutex_lock(&pr->mu);
    last = --pr->refs == 0;
    pthread_mutex_unlock(&pr->mu);
    if (!last)
        return;
    pthread_mutex_destroy(&pr->mu);
    pthread_cond_destroy(&pr->cv);
    free(pr->uri);
    free(pr->name);
    free(pr);
}

static void *
hv_probe_thread(void *arg)
{
    HvProbe *pr = arg;
    virConnectPtr vc;
    virDomainPtr dom = NULL;
    int st = 0, reason = 0, power = HV_POWER_UNKNOWN;
    ErrInfo e;

    memset(&e, 0, sizeof(e));
    if (!(vc = virConnectOpenReadOnly(pr->uri))) {
        hv_err("cannot connect to %s", pr->uri);
        err_save(&e);
        e.code = RESULT_NOT_AVAILABLE;
        goto done;
    }
    dom = virDomainLookupByName(vc, pr->name);
    if (!dom) {
        virResetLastError();
        dom = virDomainLookupByUUIDString(vc, pr->name);
    }
    if (!dom) {
        virResetLastError();
        err_set(RESULT_INVALID_PARAMETER, "%s has no domain %s", pr->uri, pr->name);
        err_save(&e);
        goto done;
    }
    if (virDomainGetState(dom, &st, &reason, 0) < 0) {
        hv_err("cannot read the state of %s on %s", pr->name, pr->uri);
        err_save(&e);
        if (virConnectIsAlive(vc) != 1)
            e.code = RESULT_NOT_AVAILABLE;
        virResetLastError();
        goto done;
    }
    power = hv_power_from_state(st);

done:
    if (dom)
        virDomainFree(dom);
    if (vc)
        virConnectClose(vc);
    pthread_mutex_lock(&pr->mu);
    pr->power = power;
    pr->err = e;
    pr->done = 1;
    pthread_cond_signal(&pr->cv);
    pthread_mutex_unlock(&pr->mu);
    hv_probe_unref(pr);
    return NULL;
}

int
hv_probe_power(const char *uri, const char *name_or_uuid, int timeout_s, int *power)
{
    HvProbe *pr;
    pthread_t t;
    pthread_attr_t attr;
    struct timespec until;
    int ret = -1, rc;

    if (hv_init() < 0)
        return -1;
    pr = util_xcalloc(1, sizeof(*pr));
    pthread_mutex_init(&pr->mu, NULL);
    pthread_cond_init(&pr->cv, NULL);
    pr->refs = 2;
    pr->uri = util_xstrdup(uri);
    pr->name = util_xstrdup(name_or_uuid);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&t, &attr, hv_probe_thread, pr);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        pr->refs = 1;
        hv_probe_unref(pr);
        err_set(RESULT_FAILED, "cannot start a thread to ask %s", uri);
        return -1;
    }
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_s > 0 ? timeout_s : 1;
    pthread_mutex_lock(&pr->mu);
    while (!pr->done && pthread_cond_timedwait(&pr->cv, &pr->mu, &until) != ETIMEDOUT)
        ;
    if (!pr->done) {
        err_set(RESULT_NOT_AVAILABLE, "%s did not answer within %d s", uri, timeout_s);
    } else if (pr->err.code) {
        err_restore(&pr->err);
    } else {
        *power = pr->power;
        ret = 0;
    }
    pthread_mutex_unlock(&pr->mu);
    hv_probe_unref(pr);
    return ret;
}

/* --- networks ------------------------------------------------------------ */

int
hv_network_isolated(HvConn *c, const char *name)
{
    virConnectPtr vc = hv_acquire(c);
    virNetworkPtr net = NULL;
    char *xml = NULL;
    xmlDocPtr doc = NULL;
    xmlNodePtr n;
    int ret = -1;

    if (!vc)
        return -1;
    if (!(net = virNetworkLookupByName(vc, name))) {
        hv_err("no network %s on %s", name, c->uri);
        if (virConnectIsAlive(vc) == 1)
            err_set(RESULT_INVALID_PARAMETER, "%s has no network %s (virsh net-list --all lists them)",
                    c->uri, name);
        else
            hv_check_alive(c, vc);
        goto cleanup;
    }
    if (!(xml = virNetworkGetXMLDesc(net, 0))) {
        hv_err("cannot read network %s on %s", name, c->uri);
        goto cleanup;
    }
    if (!(doc = xmlReadMemory(xml, (int)strlen(xml), "network.xml", NULL, XML_PARSE_NONET)) ||
        !xmlDocGetRootElement(doc)) {
        err_set(RESULT_INCORRECT_TYPE, "libvirt's description of network %s does not parse", name);
        goto cleanup;
    }
    ret = 1;
    for (n = xmlDocGetRootElement(doc)->children; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, BAD_CAST "forward") == 0)
            ret = 0;

cleanup:
    if (doc)
        xmlFreeDoc(doc);
    free(xml);
    if (net)
        virNetworkFree(net);
    virConnectClose(vc);
    return ret;
}
