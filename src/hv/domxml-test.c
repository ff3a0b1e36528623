/* SPDX-License-Identifier: GPL-2.0-or-later */
/* domxml-test: a test system's definition derived from a replica's: the
 * disks it leaves out (and says so), its interfaces moved or dropped, its
 * generation ID and its run state in the test driver. */
#include <config.h>

#include "hv/domxml.h"
#include "hv/domxml-priv.h"

#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define DOMXML_TEST_NS "http://libvirt.org/schemas/domain/test/1.0"

static void
domxml_remove_children(xmlNodePtr parent, const char *name)
{
    xmlNodePtr c, next;

    for (c = parent ? parent->children : NULL; c; c = next) {
        next = c->next;
        if (domxml_is(c, name)) {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
        }
    }
}

/* A writable disk (device disk or lun, any source type, no <readonly/>)
 * whose target is not in keep: a test system leaves it out. */
static int
domxml_test_drops(xmlNodePtr c, const char *const *keep, size_t n)
{
    xmlNodePtr t;
    xmlChar *device, *dev;
    int writable, kept = 0;
    size_t i;

    if (!domxml_is(c, "disk"))
        return 0;
    device = xmlGetNoNsProp(c, (const xmlChar *)"device");
    writable = (!device || strcmp((const char *)device, "disk") == 0 ||
                strcmp((const char *)device, "lun") == 0) && !domxml_child(c, "readonly");
    xmlFree(device);
    if (!writable)
        return 0;
    t = domxml_child(c, "target");
    dev = t ? xmlGetNoNsProp(t, (const xmlChar *)"dev") : NULL;
    for (i = 0; dev && i < n && !kept; i++)
        kept = strcmp((const char *)dev, keep[i]) == 0;
    xmlFree(dev);
    return !kept;
}

size_t
domxml_drop_disks_except(DomXml *d, const char *const *keep, size_t n)
{
    xmlNodePtr devices = domxml_child(xmlDocGetRootElement(d->doc), "devices");
    xmlNodePtr c, next;
    size_t dropped = 0;

    for (c = devices ? devices->children : NULL; c; c = next) {
        next = c->next;
        if (!domxml_test_drops(c, keep, n))
            continue;
        xmlUnlinkNode(c);
        xmlFreeNode(c);
        dropped++;
    }
    return dropped;
}

/* " ATTR=value" for each attribute of n that is set, as the plan shows it. */
static void
domxml_describe_attrs(UtilBuf *b, xmlNodePtr n, const char *const *attrs, const char **sep)
{
    size_t i;

    for (i = 0; n && attrs[i]; i++) {
        char *v = domxml_prop(n, attrs[i]);
        if (v) {
            util_buf_printf(b, "%s%s", *sep, v);
            *sep = " ";
        }
        free(v);
    }
}

/* "(type, source..., mac ..., boot order N)" of a disk or interface. */
static void
domxml_describe_device(UtilBuf *b, xmlNodePtr c, int disk)
{
    static const char *const src_attrs[] = { "file", "dev", "protocol", "name", "pool", "volume",
                                             "network", "bridge", "path", "port", NULL };
    xmlNodePtr src = domxml_child(c, "source");
    xmlNodePtr boot = domxml_child(c, "boot");
    xmlNodePtr mac = domxml_child(c, "mac");
    xmlNodePtr host = src ? domxml_child(src, "host") : NULL;
    char *type = domxml_prop(c, "type");
    char *device = disk ? domxml_prop(c, "device") : NULL;
    const char *sep = " ";

    util_buf_printf(b, " (%s%s%s", type ? type : "file", disk ? " " : "",
                    disk ? (device ? device : "disk") : "");
    domxml_describe_attrs(b, src, src_attrs, &sep);
    if (host) {
        static const char *const host_attrs[] = { "name", "port", "socket", NULL };
        sep = " on ";
        domxml_describe_attrs(b, host, host_attrs, &sep);
    }
    if (mac) {
        char *m = domxml_prop(mac, "address");
        if (m)
            util_buf_printf(b, ", mac %s", m);
        free(m);
    }
    if (boot) {
        char *o = domxml_prop(boot, "order");
        if (o)
            util_buf_printf(b, ", boot order %s", o);
        free(o);
    }
    util_buf_add(b, ")");
    free(type);
    free(device);
}

static char *domxml_omissions(const DomXml *d, const char *const *keep, size_t n, int nics);

char *
domxml_test_omissions(const DomXml *d, const char *const *keep, size_t n)
{
    return domxml_omissions(d, keep, n, 1);
}

char *
domxml_test_omissions_but_interfaces(const DomXml *d, const char *const *keep, size_t n)
{
    return domxml_omissions(d, keep, n, 0);
}

static char *
domxml_omissions(const DomXml *d, const char *const *keep, size_t n, int nics)
{
    xmlNodePtr root = xmlDocGetRootElement(d->doc);
    xmlNodePtr devices = domxml_child(root, "devices");
    xmlNodePtr c;
    UtilBuf b = { 0 };

    for (c = devices ? devices->children : NULL; c; c = c->next) {
        if (domxml_test_drops(c, keep, n)) {
            xmlNodePtr t = domxml_child(c, "target");
            char *dev = t ? domxml_prop(t, "dev") : NULL;

            util_buf_printf(&b, "%sdisk %s", b.len ? "; " : "", dev ? dev : "(no target)");
            domxml_describe_device(&b, c, 1);
            free(dev);
        } else if (nics && domxml_is(c, "interface")) {
            util_buf_printf(&b, "%sinterface", b.len ? "; " : "");
            domxml_describe_device(&b, c, 0);
        }
    }
    if (domxml_child(root, "genid"))
        util_buf_printf(&b, "%sthe VM generation id <genid>", b.len ? "; " : "");
    if (!b.len) {
        util_buf_free(&b);
        return NULL;
    }
    return util_buf_steal(&b);
}

void
domxml_strip_genid(DomXml *d)
{
    domxml_remove_children(xmlDocGetRootElement(d->doc), "genid");
}

void
domxml_strip_for_test(DomXml *d)
{
    xmlNodePtr root = xmlDocGetRootElement(d->doc);

    domxml_remove_children(domxml_child(root, "devices"), "interface");
    domxml_remove_children(root, "genid");
}

/* Points one interface at a source of type type ("network" or "bridge"). */
static void
domxml_interface_retarget(xmlNodePtr c, const char *type, const char *name)
{
    static const char *const drop[] = { "source", "target", "virtualport", "vlan", NULL };
    xmlNodePtr src;
    size_t i;

    for (i = 0; drop[i]; i++)
        domxml_remove_children(c, drop[i]);
    xmlSetProp(c, BAD_CAST "type", BAD_CAST type);
    src = xmlNewChild(c, NULL, BAD_CAST "source", NULL);
    xmlSetProp(src, BAD_CAST type, BAD_CAST name);
}

void
domxml_interfaces_to_network(DomXml *d, const char *net)
{
    xmlNodePtr devices = domxml_child(xmlDocGetRootElement(d->doc), "devices");
    xmlNodePtr c;

    for (c = devices ? devices->children : NULL; c; c = c->next)
        if (domxml_is(c, "interface"))
            domxml_interface_retarget(c, "network", net);
}

size_t
domxml_map_networks(DomXml *d, DomNetMap *map, size_t n, char **changes)
{
    xmlNodePtr devices = domxml_child(xmlDocGetRootElement(d->doc), "devices");
    xmlNodePtr c;
    UtilBuf b = { 0 };
    size_t moved = 0, i;

    for (c = devices ? devices->children : NULL; c; c = c->next) {
        xmlNodePtr src, mac;
        char *type, *name = NULL, *addr = NULL;
        DomNetMap *hit = NULL;

        if (!domxml_is(c, "interface"))
            continue;
        type = domxml_prop(c, "type");
        src = domxml_child(c, "source");
        mac = domxml_child(c, "mac");
        if (src && type && (strcmp(type, "network") == 0 || strcmp(type, "bridge") == 0))
            name = domxml_prop(src, type);
        if (mac)
            addr = domxml_prop(mac, "address");
        for (i = 0; name && i < n && !hit; i++)
            if ((!map[i].from_type || strcmp(map[i].from_type, type) == 0) &&
                strcmp(map[i].from, name) == 0)
                hit = &map[i];
        util_buf_printf(&b, "%sinterface%s%s: %s %s", b.len ? "; " : "", addr ? " " : "", addr ? addr : "",
                        type ? type : "?", name ? name : "(no network or bridge)");
        if (hit) {
            const char *to_type = hit->to_type ? hit->to_type : type;

            util_buf_printf(&b, " -> %s %s", to_type, hit->to);
            domxml_interface_retarget(c, to_type, hit->to);
            hit->used++;
            if (strcmp(to_type, "network") == 0)
                hit->used_network++;
            moved++;
        } else {
            util_buf_add(&b, " (kept: not in the map)");
        }
        free(type);
        free(name);
        free(addr);
    }
    if (changes)
        *changes = b.len ? util_buf_steal(&b) : NULL;
    util_buf_free(&b);
    return moved;
}

void
domxml_reset_genid(DomXml *d)
{
    xmlNodePtr g = domxml_child(xmlDocGetRootElement(d->doc), "genid");

    /* An empty <genid/> makes libvirt generate a new one. */
    if (g)
        xmlNodeSetContent(g, NULL);
}

void
domxml_set_test_runstate(DomXml *d, int runstate)
{
    xmlNodePtr root = xmlDocGetRootElement(d->doc);
    xmlNsPtr ns = xmlSearchNsByHref(d->doc, root, (const xmlChar *)DOMXML_TEST_NS);
    xmlNodePtr c, next;
    char num[16];

    if (!ns)
        ns = xmlNewNs(root, (const xmlChar *)DOMXML_TEST_NS, (const xmlChar *)"test");
    for (c = root->children; c; c = next) {
        next = c->next;
        if (c->type == XML_ELEMENT_NODE && c->ns && c->ns->href &&
            strcmp((const char *)c->ns->href, DOMXML_TEST_NS) == 0 &&
            strcmp((const char *)c->name, "runstate") == 0) {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
        }
    }
    snprintf(num, sizeof(num), "%d", runstate);
    xmlNewChild(root, ns, (const xmlChar *)"runstate", (const xmlChar *)num);
}
