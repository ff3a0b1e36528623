/* SPDX-License-Identifier: GPL-2.0-or-later */
/* domxml: reading and editing a libvirt domain definition (libxml2): its
 * name, UUID, disks, sources, NVRAM and drover's record in <metadata>.
 * domxml-test.c derives a test system's definition, domxml-diff.c
 * compares two definitions. */
#include <config.h>

#include "hv/domxml.h"
#include "hv/domxml-priv.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "record/replica.h"
#include "base/result.h"
#include "base/util.h"

int
domxml_is(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && n->ns == NULL &&
           strcmp((const char *)n->name, name) == 0;
}

xmlNodePtr
domxml_child(xmlNodePtr parent, const char *name)
{
    xmlNodePtr c;

    for (c = parent ? parent->children : NULL; c; c = c->next)
        if (domxml_is(c, name))
            return c;
    return NULL;
}

char *
domxml_text(xmlNodePtr n)
{
    xmlChar *s;
    char *r;

    if (!n)
        return NULL;
    s = xmlNodeGetContent(n);
    r = util_xstrdup(s ? (const char *)s : "");
    xmlFree(s);
    return r;
}

char *
domxml_prop(xmlNodePtr n, const char *name)
{
    xmlChar *s = xmlGetNoNsProp(n, (const xmlChar *)name);
    char *r;

    if (!s)
        return NULL;
    r = util_xstrdup((const char *)s);
    xmlFree(s);
    return r;
}

xmlDocPtr
domxml_read(const char *xml, const char *what)
{
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    xmlDocPtr doc;

    if (!ctxt) {
        err_set(RESULT_OUT_OF_MEMORY, "cannot parse %s: out of memory", what);
        return NULL;
    }
    doc = xmlCtxtReadMemory(ctxt, xml, (int)strlen(xml), "domain.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        err_set(RESULT_INCORRECT_TYPE, "%s is not well-formed XML (line %d): %s", what,
                e ? e->line : 0, e && e->message ? e->message : "parse error");
    }
    xmlFreeParserCtxt(ctxt);
    return doc;
}

DomXml *
domxml_parse(const char *xml)
{
    DomXml *d;
    xmlDocPtr doc = domxml_read(xml, "domain definition");
    xmlNodePtr root;

    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    if (!root || !domxml_is(root, "domain")) {
        err_set(RESULT_INCORRECT_TYPE, "not a libvirt domain definition: root element is <%s>",
                root ? (const char *)root->name : "");
        xmlFreeDoc(doc);
        return NULL;
    }
    d = util_xcalloc(1, sizeof(*d));
    d->doc = doc;
    d->name = domxml_text(domxml_child(root, "name"));
    d->uuid = domxml_text(domxml_child(root, "uuid"));
    if (!d->name || !*d->name) {
        err_set(RESULT_INCORRECT_TYPE, "domain definition has no <name>");
        domxml_free(d);
        return NULL;
    }
    return d;
}

void
domxml_free(DomXml *d)
{
    if (!d)
        return;
    xmlFreeDoc(d->doc);
    free(d->name);
    free(d->uuid);
    free(d);
}

char *
domxml_format(const DomXml *d)
{
    xmlChar *mem = NULL;
    int len = 0;
    char *r;

    xmlDocDumpFormatMemory(d->doc, &mem, &len, 1);
    r = util_xstrndup(mem ? (const char *)mem : "", mem ? (size_t)len : 0);
    xmlFree(mem);
    return r;
}

const char *
domxml_name(const DomXml *d)
{
    return d->name;
}

const char *
domxml_uuid(const DomXml *d)
{
    return d->uuid;
}

void
domxml_set_name(DomXml *d, const char *name)
{
    xmlNodePtr root = xmlDocGetRootElement(d->doc);
    xmlNodePtr n = domxml_child(root, "name");

    if (!n)
        n = xmlNewChild(root, NULL, (const xmlChar *)"name", NULL);
    xmlNodeSetContent(n, NULL);
    xmlNodeAddContent(n, (const xmlChar *)name);
    free(d->name);
    d->name = util_xstrdup(name);
}

void
domxml_set_uuid(DomXml *d, const char *uuid)
{
    xmlNodePtr root = xmlDocGetRootElement(d->doc);
    xmlNodePtr n = domxml_child(root, "uuid");

    free(d->uuid);
    d->uuid = NULL;
    if (!uuid) {
        if (n) {
            xmlUnlinkNode(n);
            xmlFreeNode(n);
        }
        return;
    }
    if (!n)
        n = xmlNewChild(root, NULL, (const xmlChar *)"uuid", NULL);
    xmlNodeSetContent(n, NULL);
    xmlNodeAddContent(n, (const xmlChar *)uuid);
    d->uuid = util_xstrdup(uuid);
}

static int
domxml_is_file_disk(xmlNodePtr n)
{
    xmlChar *type, *device;
    int r;

    if (!domxml_is(n, "disk"))
        return 0;
    type = xmlGetNoNsProp(n, (const xmlChar *)"type");
    device = xmlGetNoNsProp(n, (const xmlChar *)"device");
    r = type && strcmp((const char *)type, "file") == 0 &&
        (!device || strcmp((const char *)device, "disk") == 0);
    xmlFree(type);
    xmlFree(device);
    return r;
}

/* What a disk that is not a file disk is, in words an operator knows. */
static char *
domxml_disk_kind(xmlNodePtr n)
{
    UTIL_AUTOFREE char *type = domxml_prop(n, "type");
    UTIL_AUTOFREE char *device = domxml_prop(n, "device");
    const char *what;

    if (device && strcmp(device, "cdrom") == 0)
        what = "CD-ROM drive";
    else if (device && strcmp(device, "floppy") == 0)
        what = "floppy drive";
    else if (device && strcmp(device, "lun") == 0)
        what = "SCSI LUN";
    else if (!type)
        what = "disk without a type";
    else if (strcmp(type, "block") == 0)
        what = "block device disk";
    else if (strcmp(type, "network") == 0)
        what = "network disk";
    else if (strcmp(type, "volume") == 0)
        what = "storage-volume disk";
    else if (strcmp(type, "vhostuser") == 0)
        what = "vhost-user disk";
    else if (strcmp(type, "dir") == 0)
        what = "directory disk";
    else
        what = "disk";
    return util_xasprintf("%s (<disk type='%s' device='%s'>)", what, type ? type : "",
                          device ? device : "disk");
}

static void
domxml_other_disks(xmlNodePtr devices, DomDiskList *out)
{
    xmlNodePtr n;
    size_t cap = 0;

    out->other = NULL;
    out->nother = 0;
    for (n = devices ? devices->children : NULL; n; n = n->next) {
        xmlNodePtr target;
        DomDisk *dk;

        if (!domxml_is(n, "disk") || domxml_is_file_disk(n))
            continue;
        if (!(target = domxml_child(n, "target")))
            continue;
        util_grow(&out->other, &cap, out->nother + 1, sizeof(*out->other));
        dk = &out->other[out->nother++];
        memset(dk, 0, sizeof(*dk));
        dk->target = domxml_prop(target, "dev");
        if (!dk->target)
            dk->target = util_xstrdup("");
        dk->kind = domxml_disk_kind(n);
    }
}

/* 1 when n has an element of this name anywhere below it (an <encryption>
 * of the disk, its <source>, or any <backingStore> layer). */
static int
domxml_has_descendant(xmlNodePtr n, const char *name)
{
    xmlNodePtr c;

    for (c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && (domxml_is(c, name) || domxml_has_descendant(c, name)))
            return 1;
    return 0;
}

void
domxml_disks(const DomXml *d, DomDiskList *out)
{
    xmlNodePtr devices = domxml_child(xmlDocGetRootElement(d->doc), "devices");
    xmlNodePtr n;
    size_t cap = 0;

    out->v = NULL;
    out->n = 0;
    for (n = devices ? devices->children : NULL; n; n = n->next) {
        xmlNodePtr target, source, driver;
        DomDisk *dk;

        if (!domxml_is_file_disk(n))
            continue;
        target = domxml_child(n, "target");
        if (!target)
            continue;
        source = domxml_child(n, "source");
        driver = domxml_child(n, "driver");
        util_grow(&out->v, &cap, out->n + 1, sizeof(*out->v));
        dk = &out->v[out->n++];
        dk->target = domxml_prop(target, "dev");
        dk->source = source ? domxml_prop(source, "file") : NULL;
        dk->driver_type = driver ? domxml_prop(driver, "type") : NULL;
        dk->encrypted = domxml_has_descendant(n, "encryption");
        if (!dk->target)
            dk->target = util_xstrdup("");
    }
    domxml_other_disks(devices, out);
}

void
domxml_disk_list_clear(DomDiskList *l)
{
    size_t i;

    if (!l)
        return;
    for (i = 0; i < l->n; i++) {
        free(l->v[i].target);
        free(l->v[i].source);
        free(l->v[i].driver_type);
    }
    for (i = 0; i < l->nother; i++) {
        free(l->other[i].target);
        free(l->other[i].kind);
    }
    free(l->v);
    free(l->other);
    l->v = NULL;
    l->n = 0;
    l->other = NULL;
    l->nother = 0;
}

static void
domxml_add_source(DomSourceList *out, size_t *cap, xmlNodePtr src)
{
    DomSource *ds;
    char *path = domxml_prop(src, "file");

    if (!path)
        path = domxml_prop(src, "dev");
    util_grow(&out->v, cap, out->n + 1, sizeof(*out->v));
    ds = &out->v[out->n];
    memset(ds, 0, sizeof(*ds));
    ds->path = path;
    if (!path) {
        ds->pool = domxml_prop(src, "pool");
        ds->volume = domxml_prop(src, "volume");
        if (!ds->pool || !ds->volume) {
            free(ds->pool);
            free(ds->volume);
            return;     /* network and empty sources name no local file */
        }
    }
    out->n++;
}

/* A disk's <source>, then its <backingStore> chain, recursively. */
static void
domxml_collect_sources(xmlNodePtr n, DomSourceList *out, size_t *cap)
{
    xmlNodePtr src = domxml_child(n, "source");
    xmlNodePtr bs = domxml_child(n, "backingStore");

    if (src)
        domxml_add_source(out, cap, src);
    if (bs)
        domxml_collect_sources(bs, out, cap);
}

void
domxml_sources(const DomXml *d, DomSourceList *out)
{
    xmlNodePtr devices = domxml_child(xmlDocGetRootElement(d->doc), "devices");
    xmlNodePtr n;
    size_t cap = 0;

    out->v = NULL;
    out->n = 0;
    for (n = devices ? devices->children : NULL; n; n = n->next)
        if (domxml_is(n, "disk"))
            domxml_collect_sources(n, out, &cap);
}

void
domxml_source_list_clear(DomSourceList *l)
{
    size_t i;

    if (!l)
        return;
    for (i = 0; i < l->n; i++) {
        free(l->v[i].path);
        free(l->v[i].pool);
        free(l->v[i].volume);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* The file disk (device disk) with this target, or NULL. */
static xmlNodePtr
domxml_find_file_disk(const DomXml *d, const char *target)
{
    xmlNodePtr devices = domxml_child(xmlDocGetRootElement(d->doc), "devices");
    xmlNodePtr n;

    for (n = devices ? devices->children : NULL; n; n = n->next) {
        xmlNodePtr t;
        xmlChar *dev;
        int match;

        if (!domxml_is_file_disk(n) || !(t = domxml_child(n, "target")))
            continue;
        dev = xmlGetNoNsProp(t, (const xmlChar *)"dev");
        match = dev && strcmp((const char *)dev, target) == 0;
        xmlFree(dev);
        if (match)
            return n;
    }
    return NULL;
}

int
domxml_set_disk_source(DomXml *d, const char *target, const char *file)
{
    xmlNodePtr n = domxml_find_file_disk(d, target);
    xmlNodePtr source, bs, c, next;
    xmlAttrPtr a, anext;

    if (!n) {
        err_set(RESULT_INVALID_PARAMETER, "domain %s has no file disk with target %s", d->name,
                target);
        return -1;
    }
    source = domxml_child(n, "source");
    if (!source)
        source = xmlNewChild(n, NULL, (const xmlChar *)"source", NULL);
    /* Slices, encryption, an index, ... described the old file, not this
     * one; startupPolicy and a <seclabel> are about the disk and stay. */
    for (c = source->children; c; c = next) {
        next = c->next;
        if (!domxml_is(c, "seclabel")) {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
        }
    }
    for (a = source->properties; a; a = anext) {
        anext = a->next;
        if (a->ns || (strcmp((const char *)a->name, "file") != 0 &&
                      strcmp((const char *)a->name, "startupPolicy") != 0))
            xmlRemoveProp(a);
    }
    xmlSetProp(source, (const xmlChar *)"file", (const xmlChar *)file);
    while ((bs = domxml_child(n, "backingStore"))) {
        xmlUnlinkNode(bs);
        xmlFreeNode(bs);
    }
    return 0;
}

char *
domxml_disk_element(const DomXml *d, const char *target)
{
    xmlNodePtr n = domxml_find_file_disk(d, target);
    xmlBufferPtr buf;
    char *r;

    if (!n)
        return NULL;
    buf = xmlBufferCreate();
    xmlNodeDump(buf, d->doc, n, 0, 0);
    r = util_xstrdup((const char *)xmlBufferContent(buf));
    xmlBufferFree(buf);
    return r;
}

int
domxml_restore_disk(DomXml *d, const char *target, const char *element)
{
    xmlNodePtr old = domxml_find_file_disk(d, target);
    xmlDocPtr frag;
    xmlNodePtr root, t, copy;
    xmlChar *dev = NULL;
    int ok;

    if (!old) {
        err_set(RESULT_INVALID_PARAMETER, "domain %s has no file disk with target %s", d->name,
                target);
        return -1;
    }
    if (!(frag = domxml_read(element, "saved disk element")))
        return -1;
    root = xmlDocGetRootElement(frag);
    t = root && domxml_is_file_disk(root) ? domxml_child(root, "target") : NULL;
    dev = t ? xmlGetNoNsProp(t, (const xmlChar *)"dev") : NULL;
    ok = dev && strcmp((const char *)dev, target) == 0;
    xmlFree(dev);
    if (!ok) {
        err_set(RESULT_INCORRECT_TYPE, "the saved element of disk %s is not a file disk %s",
                target, target);
        xmlFreeDoc(frag);
        return -1;
    }
    {
        /* The saved <source> goes where the current one is (or first);
         * every current <backingStore> goes, the saved ones follow it. */
        xmlNodePtr cur_source = domxml_child(old, "source");
        xmlNodePtr at = cur_source, c, next;

        for (c = old->children; c; c = next) {
            next = c->next;
            if (c != at && domxml_is(c, "backingStore")) {
                xmlUnlinkNode(c);
                xmlFreeNode(c);
            }
        }
        for (c = root->children; c; c = c->next) {
            if (!domxml_is(c, "source") && !domxml_is(c, "backingStore"))
                continue;
            if (!(copy = xmlDocCopyNode(c, d->doc, 1))) {
                xmlFreeDoc(frag);
                err_set(RESULT_OUT_OF_MEMORY, "cannot copy the saved element of disk %s", target);
                return -1;
            }
            if (at) {
                xmlAddNextSibling(at, copy);
            } else if (old->children) {
                xmlAddPrevSibling(old->children, copy);
            } else {
                xmlAddChild(old, copy);
            }
            at = copy;
        }
        if (cur_source && domxml_child(root, "source")) {
            /* replaced by the saved one */
            xmlUnlinkNode(cur_source);
            xmlFreeNode(cur_source);
        }
    }
    xmlFreeDoc(frag);
    return 0;
}

char *
domxml_nvram(const DomXml *d, int *other)
{
    xmlNodePtr os = domxml_child(xmlDocGetRootElement(d->doc), "os");
    xmlNodePtr nv = domxml_child(os, "nvram");
    xmlNodePtr src;
    char *type, *r;

    *other = 0;
    if (!nv)
        return NULL;
    type = domxml_prop(nv, "type");
    if (type && strcmp(type, "file") != 0) {
        free(type);
        *other = 1;
        return NULL;
    }
    free(type);
    if ((src = domxml_child(nv, "source"))) {
        if (!(r = domxml_prop(src, "file")))
            *other = 1;
        return r;
    }
    r = domxml_text(nv);
    if (r && !*r) {
        free(r);
        r = NULL;   /* <nvram template=.../> alone: libvirt names it after the domain */
    }
    return r;
}

int
domxml_set_nvram(DomXml *d, const char *path)
{
    xmlNodePtr os = domxml_child(xmlDocGetRootElement(d->doc), "os");
    xmlNodePtr nv = domxml_child(os, "nvram");
    xmlNodePtr src;

    if (!nv) {
        err_set(RESULT_INVALID_PARAMETER, "domain %s has no <nvram>", d->name);
        return -1;
    }
    if ((src = domxml_child(nv, "source"))) {
        xmlSetProp(src, (const xmlChar *)"file", (const xmlChar *)path);
        return 0;
    }
    xmlNodeSetContent(nv, NULL);
    xmlNodeAddContent(nv, (const xmlChar *)path);
    return 0;
}

static xmlNodePtr
domxml_find_replica(xmlNodePtr metadata)
{
    xmlNodePtr c;

    for (c = metadata ? metadata->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && c->ns && c->ns->href &&
            strcmp((const char *)c->ns->href, REPLICA_NS) == 0)
            return c;
    return NULL;
}

char *
domxml_get_replica(const DomXml *d)
{
    xmlNodePtr md = domxml_child(xmlDocGetRootElement(d->doc), "metadata");
    xmlNodePtr rep = domxml_find_replica(md);
    xmlDocPtr tmp;
    xmlNodePtr copy;
    xmlBufferPtr buf;
    char *r;

    if (!rep)
        return NULL;
    /* Dumped alone, the element would lose namespace declarations made on
     * an ancestor (<domain xmlns:drover=...>); a copy in a document of its
     * own declares on itself every namespace it uses. */
    tmp = xmlNewDoc((const xmlChar *)"1.0");
    copy = xmlDocCopyNode(rep, tmp, 1);
    if (!tmp || !copy) {
        xmlFreeDoc(tmp);
        err_set(RESULT_OUT_OF_MEMORY, "cannot copy the replica element: out of memory");
        return NULL;
    }
    xmlDocSetRootElement(tmp, copy);
    buf = xmlBufferCreate();
    xmlNodeDump(buf, tmp, copy, 0, 0);
    r = util_xstrdup((const char *)xmlBufferContent(buf));
    xmlBufferFree(buf);
    xmlFreeDoc(tmp);
    return r;
}

int
domxml_set_replica(DomXml *d, const char *replica_xml)
{
    xmlNodePtr root = xmlDocGetRootElement(d->doc);
    xmlNodePtr md = domxml_child(root, "metadata");
    xmlNodePtr old = domxml_find_replica(md);
    xmlDocPtr frag;
    xmlNodePtr copy;

    if (!replica_xml) {
        if (old) {
            xmlUnlinkNode(old);
            xmlFreeNode(old);
        }
        return 0;
    }
    frag = domxml_read(replica_xml, "replica metadata");
    if (!frag)
        return -1;
    copy = xmlDocCopyNode(xmlDocGetRootElement(frag), d->doc, 1);
    xmlFreeDoc(frag);
    if (!copy) {
        err_set(RESULT_OUT_OF_MEMORY, "cannot copy replica metadata");
        return -1;
    }
    if (!md) {
        /* libvirt puts <metadata> after the identity elements; its position
         * does not matter to the parser. */
        md = xmlNewNode(NULL, (const xmlChar *)"metadata");
        xmlAddChild(root, md);
    }
    if (old) {
        xmlReplaceNode(old, copy);
        xmlFreeNode(old);
    } else {
        xmlAddChild(md, copy);
    }
    xmlReconciliateNs(d->doc, copy);
    return 0;
}

int
domxml_pool_target(const char *xml, char **type, char **path)
{
    xmlDocPtr doc = domxml_read(xml, "storage pool definition");
    xmlNodePtr root;

    *type = *path = NULL;
    if (!doc)
        return -1;
    root = xmlDocGetRootElement(doc);
    if (!root || !domxml_is(root, "pool")) {
        xmlFreeDoc(doc);
        err_set(RESULT_INCORRECT_TYPE, "not a storage pool definition");
        return -1;
    }
    *type = domxml_prop(root, "type");
    *path = domxml_text(domxml_child(domxml_child(root, "target"), "path"));
    xmlFreeDoc(doc);
    return 0;
}
