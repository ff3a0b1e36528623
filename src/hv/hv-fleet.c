/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hv-fleet: libvirt's test driver keeps its state in memory, per process;
 * drover writes every change it makes back into the node file so that
 * consecutive commands, and other processes, see each other's work. */
#include <config.h>

#include "hv/hv.h"
#include "hv/hv-priv.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "hv/domxml.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/lock.h"
#include "base/result.h"
#include "base/util.h"

/* Fleet files of 10,000 domains are a few MB; refuse anything absurd. */
#define HV_FLEET_MAX_BYTES (512u * 1024 * 1024)
#define HV_FLEET_LOCK_WAIT_MS 10000

static xmlNodePtr
hv_fleet_find(xmlNodePtr node, const char *uuid, const char *name)
{
    xmlNodePtr d, k;
    xmlNodePtr by_name = NULL;

    for (d = node->children; d; d = d->next) {
        if (d->type != XML_ELEMENT_NODE || strcmp((const char *)d->name, "domain") != 0)
            continue;
        for (k = d->children; k; k = k->next) {
            xmlChar *t;
            int match;

            if (k->type != XML_ELEMENT_NODE)
                continue;
            if (strcmp((const char *)k->name, "uuid") == 0) {
                t = xmlNodeGetContent(k);
                match = t && strcasecmp((const char *)t, uuid) == 0;
                xmlFree(t);
                if (match)
                    return d;
            } else if (name && strcmp((const char *)k->name, "name") == 0) {
                t = xmlNodeGetContent(k);
                if (t && strcmp((const char *)t, name) == 0)
                    by_name = d;
                xmlFree(t);
            }
        }
    }
    return by_name;
}

/* The domain's persistent definition with its run state, ready for a fleet
 * file; NULL if the domain no longer exists (err code 0) or on error. */
static char *
hv_fleet_domain_xml(virConnectPtr vc, const char *uuid, char **name)
{
    virDomainPtr dom = virDomainLookupByUUIDString(vc, uuid);
    char *xml = NULL, *out = NULL;
    DomXml *d = NULL;
    int st = 0, reason = 0;

    if (!dom) {
        virErrorPtr e = virGetLastError();
        if (e && e->code == VIR_ERR_NO_DOMAIN) {
            virResetLastError();
            err_clear();
            return NULL;
        }
        hv_err("cannot look up domain %s", uuid);
        return NULL;
    }
    xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
    if (!xml || virDomainGetState(dom, &st, &reason, 0) < 0) {
        hv_err("cannot read domain %s", uuid);
        goto cleanup;
    }
    if (!(d = domxml_parse(xml)))
        goto cleanup;
    /* libvirt's test driver omits the run state from its XML. */
    domxml_set_test_runstate(d, st);
    *name = util_xstrdup(domxml_name(d));
    out = domxml_format(d);

cleanup:
    free(xml);
    domxml_free(d);
    virDomainFree(dom);
    return out;
}

/* Writes this process's view of one domain back into the fleet file,
 * keeping every other domain as the file has it now. */
int
hv_fleet_writeback(HvConn *c, virConnectPtr vc, const char *uuid)
{
    UTIL_AUTOFREE char *lockpath = util_xasprintf("%s.lock", c->fleet);
    UTIL_AUTOFREE char *holder = lock_describe_self();
    UTIL_AUTOFREE char *text = NULL;
    UTIL_AUTOFREE char *domtext = NULL;
    UTIL_AUTOFREE char *name = NULL;
    LockHandle *lk;
    struct stat before, after, loaded;
    xmlDocPtr doc = NULL, frag = NULL;
    xmlNodePtr root, old, copy;
    xmlChar *mem = NULL;
    int memlen = 0;
    size_t len = 0;
    int ret = -1;

    lk = lock_acquire_wait(lockpath, holder, HV_FLEET_LOCK_WAIT_MS);
    if (!lk) {
        err_prefix("cannot update fleet file %s", c->fleet);
        return -1;
    }
    if (stat(c->fleet, &before) < 0 ||
        !(text = fsutil_read_file(c->fleet, HV_FLEET_MAX_BYTES, &len))) {
        if (!err_code())
            err_set_errno(0, errno, "fleet file %s", c->fleet);
        goto cleanup;
    }
    doc = xmlReadMemory(text, (int)len, c->fleet, NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_HUGE);
    if (!doc || !(root = xmlDocGetRootElement(doc)) || strcmp((const char *)root->name, "node") != 0) {
        err_set(RESULT_INCORRECT_TYPE, "fleet file %s is not a libvirt test-driver <node> document",
                c->fleet);
        goto cleanup;
    }
    domtext = hv_fleet_domain_xml(vc, uuid, &name);
    if (!domtext && err_code())
        goto cleanup;
    old = hv_fleet_find(root, uuid, name);
    if (domtext) {
        frag = xmlReadMemory(domtext, (int)strlen(domtext), "domain.xml", NULL,
                             XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!frag) {
            err_set(RESULT_INCORRECT_TYPE, "libvirt returned a definition of %s that does not parse", uuid);
            goto cleanup;
        }
        copy = xmlDocCopyNode(xmlDocGetRootElement(frag), doc, 1);
        if (old) {
            xmlReplaceNode(old, copy);
            xmlFreeNode(old);
        } else {
            xmlAddChild(root, copy);
        }
    } else if (old) {
        xmlUnlinkNode(old);
        xmlFreeNode(old);
    }
    xmlDocDumpFormatMemory(doc, &mem, &memlen, 1);
    if (!mem || fsutil_write_atomic(c->fleet, (const char *)mem, (size_t)memlen, 0644) < 0) {
        if (!mem)
            err_set(RESULT_OUT_OF_MEMORY, "cannot format fleet file %s", c->fleet);
        goto cleanup;
    }
    /* If nobody else changed the file since we loaded it, our memory now
     * matches it; otherwise keep the old version so the next
     * hv_reload_if_changed() picks up the other process's work. */
    pthread_mutex_lock(&c->mu);
    loaded = c->fleet_st;
    /* Only the connection that made the change has it in memory: if the
     * connection was replaced meanwhile, leave the version stale so the
     * next hv_reload_if_changed() reads the file again. */
    if (c->conn == vc && fsutil_same_version(&before, &loaded) && stat(c->fleet, &after) == 0)
        c->fleet_st = after;
    pthread_mutex_unlock(&c->mu);
    ret = 0;

cleanup:
    xmlFree(mem);
    xmlFreeDoc(frag);
    xmlFreeDoc(doc);
    lock_release(lk);
    return ret;
}

