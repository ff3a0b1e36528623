/* SPDX-License-Identifier: GPL-2.0-or-later */
/* domxml-diff: comparing two domain definitions, element by element,
 * to say what another writer changed. */
#include <config.h>

#include "hv/domxml.h"
#include "hv/domxml-priv.h"

#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"
#include "record/replica.h"

/* Whitespace-only text, comments and processing instructions are layout,
 * not content: libvirt and libxml2 may indent a definition differently. */
static int
domxml_significant(const xmlNode *n)
{
    const xmlChar *s;

    if (n->type == XML_ELEMENT_NODE)
        return 1;
    if (n->type != XML_TEXT_NODE && n->type != XML_CDATA_SECTION_NODE)
        return 0;
    for (s = n->content; s && *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return 1;
    return 0;
}

static xmlNodePtr
domxml_next_significant(xmlNodePtr n)
{
    while (n && !domxml_significant(n))
        n = n->next;
    return n;
}

static const char *
domxml_ns_href(const xmlNode *n)
{
    return n->ns && n->ns->href ? (const char *)n->ns->href : "";
}

static int
domxml_same_attrs(xmlNodePtr a, xmlNodePtr b)
{
    xmlAttrPtr p;
    size_t na = 0, nb = 0;

    for (p = a->properties; p; p = p->next) {
        xmlChar *va = xmlNodeListGetString(a->doc, p->children, 1);
        xmlChar *vb = xmlGetNsProp(b, p->name, p->ns ? p->ns->href : NULL);
        int same = va && vb && xmlStrEqual(va, vb);

        xmlFree(va);
        xmlFree(vb);
        if (!same)
            return 0;
        na++;
    }
    for (p = b->properties; p; p = p->next)
        nb++;
    return na == nb;
}

/* 1 when a and b hold the same content (names, namespaces, attributes,
 * text, children in order). */
static int
domxml_same(xmlNodePtr a, xmlNodePtr b)
{
    xmlNodePtr ca, cb;

    if (a->type != b->type)
        return 0;
    if (a->type != XML_ELEMENT_NODE) {
        /* Text: compare without surrounding layout. */
        const char *sa = a->content ? (const char *)a->content : "";
        const char *sb = b->content ? (const char *)b->content : "";
        size_t la, lb;

        sa += strspn(sa, " \t\r\n");
        sb += strspn(sb, " \t\r\n");
        for (la = strlen(sa); la && strchr(" \t\r\n", sa[la - 1]); la--)
            ;
        for (lb = strlen(sb); lb && strchr(" \t\r\n", sb[lb - 1]); lb--)
            ;
        return la == lb && memcmp(sa, sb, la) == 0;
    }
    if (!xmlStrEqual(a->name, b->name) || strcmp(domxml_ns_href(a), domxml_ns_href(b)) != 0 ||
        !domxml_same_attrs(a, b))
        return 0;
    ca = domxml_next_significant(a->children);
    cb = domxml_next_significant(b->children);
    while (ca && cb) {
        if (!domxml_same(ca, cb))
            return 0;
        ca = domxml_next_significant(ca->next);
        cb = domxml_next_significant(cb->next);
    }
    return !ca && !cb;
}

typedef enum {
    DOMXML_IN_DOMAIN,
    DOMXML_IN_DEVICES,
    DOMXML_IN_METADATA,
    DOMXML_IN_RECORD,
} DomXmlWhere;

/* How an operator recognises child n of a parent of kind where (siblings
 * with the same label are told apart by their order). */
static char *
domxml_label(xmlNodePtr n, DomXmlWhere where)
{
    UTIL_AUTOFREE char *key = NULL;

    if (n->type != XML_ELEMENT_NODE)
        return util_xstrdup("text");
    switch (where) {
    case DOMXML_IN_DEVICES:
        if (domxml_is(n, "disk")) {
            key = domxml_prop(domxml_child(n, "target"), "dev");
            return util_xasprintf("disk %s", key ? key : "without a target");
        }
        if (domxml_is(n, "interface")) {
            key = domxml_prop(domxml_child(n, "mac"), "address");
            return key ? util_xasprintf("interface %s", key) : util_xstrdup("interface");
        }
        return util_xasprintf("device <%s>", (const char *)n->name);
    case DOMXML_IN_METADATA:
        if (strcmp(domxml_ns_href(n), REPLICA_NS) == 0)
            return util_xstrdup("drover's replica record");
        return util_xasprintf("metadata of namespace %s", n->ns ? domxml_ns_href(n) : "(none)");
    case DOMXML_IN_RECORD:
        if (strcmp((const char *)n->name, "recovery-points") == 0)
            return util_xstrdup("the record's recovery points");
        return util_xasprintf("the record's <%s>", (const char *)n->name);
    default:
        return util_xasprintf("<%s>", (const char *)n->name);
    }
}

static void
domxml_note(UtilBuf *out, const char *label, const char *what)
{
    if (out->len)
        util_buf_add(out, "; ");
    util_buf_printf(out, "%s %s", label, what);
}

/* The child of parent with this label and occurrence, or NULL. */
static xmlNodePtr
domxml_counterpart(xmlNodePtr parent, DomXmlWhere where, const char *label, int occ)
{
    xmlNodePtr c;

    for (c = domxml_next_significant(parent->children); c; c = domxml_next_significant(c->next)) {
        UTIL_AUTOFREE char *l = domxml_label(c, where);
        if (strcmp(l, label) == 0 && occ-- == 0)
            return c;
    }
    return NULL;
}

static int
domxml_occurrence(xmlNodePtr parent, xmlNodePtr n, DomXmlWhere where, const char *label)
{
    xmlNodePtr c;
    int occ = 0;

    for (c = domxml_next_significant(parent->children); c && c != n;
         c = domxml_next_significant(c->next)) {
        UTIL_AUTOFREE char *l = domxml_label(c, where);
        occ += strcmp(l, label) == 0;
    }
    return occ;
}

/* Notes in out what differs between the children of a and b. */
static void
domxml_diff_children(xmlNodePtr a, xmlNodePtr b, DomXmlWhere where, UtilBuf *out)
{
    xmlNodePtr c, other;

    for (c = domxml_next_significant(a->children); c; c = domxml_next_significant(c->next)) {
        UTIL_AUTOFREE char *label = domxml_label(c, where);

        other = domxml_counterpart(b, where, label, domxml_occurrence(a, c, where, label));
        if (!other)
            domxml_note(out, label, "removed");
        else if (domxml_same(c, other))
            continue;
        else if (where == DOMXML_IN_DOMAIN && domxml_is(c, "devices"))
            domxml_diff_children(c, other, DOMXML_IN_DEVICES, out);
        else if (where == DOMXML_IN_DOMAIN && domxml_is(c, "metadata"))
            domxml_diff_children(c, other, DOMXML_IN_METADATA, out);
        else if (where == DOMXML_IN_METADATA && strcmp(domxml_ns_href(c), REPLICA_NS) == 0)
            domxml_diff_children(c, other, DOMXML_IN_RECORD, out);
        else
            domxml_note(out, label, "changed");
    }
    for (c = domxml_next_significant(b->children); c; c = domxml_next_significant(c->next)) {
        UTIL_AUTOFREE char *label = domxml_label(c, where);

        if (!domxml_counterpart(a, where, label, domxml_occurrence(b, c, where, label)))
            domxml_note(out, label, "added");
    }
    /* Same children, different attributes of the parent itself. */
    if (!domxml_same_attrs(a, b)) {
        UTIL_AUTOFREE char *label = util_xasprintf("attributes of <%s>", (const char *)a->name);
        domxml_note(out, label, "changed");
    }
}

char *
domxml_describe_changes(const char *before, const char *after)
{
    xmlDocPtr da = NULL, db = NULL;
    xmlNodePtr ra, rb;
    UtilBuf out = { 0 };
    char *r = NULL;

    err_clear();
    if (!(da = domxml_read(before, "domain definition")) ||
        !(db = domxml_read(after, "domain definition")))
        goto cleanup;
    ra = xmlDocGetRootElement(da);
    rb = xmlDocGetRootElement(db);
    if (!ra || !rb) {
        err_set(RESULT_INCORRECT_TYPE, "an empty domain definition");
        goto cleanup;
    }
    if (domxml_same(ra, rb))
        goto cleanup;
    domxml_diff_children(ra, rb, DOMXML_IN_DOMAIN, &out);
    if (!out.len)
        util_buf_add(&out, "the definition's layout");
    r = util_buf_steal(&out);

cleanup:
    util_buf_free(&out);
    xmlFreeDoc(da);
    xmlFreeDoc(db);
    return r;
}
