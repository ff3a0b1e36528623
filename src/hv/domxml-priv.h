/* SPDX-License-Identifier: GPL-2.0-or-later */
/* domxml-priv.h: what domxml.c, domxml-test.c and domxml-diff.c share. */
#ifndef DROVER_DOMXML_PRIV_H
#define DROVER_DOMXML_PRIV_H

#include <libxml/tree.h>

struct DomXml {
    xmlDocPtr doc;
    char *name;
    char *uuid;
};

/* n is an element called name, in no namespace (libvirt's own). */
int domxml_is(const xmlNode *n, const char *name);
/* The first child element called name, or NULL. */
xmlNodePtr domxml_child(xmlNodePtr parent, const char *name);
/* n's text, or an attribute's value: allocated, NULL when absent. */
char *domxml_text(xmlNodePtr n);
char *domxml_prop(xmlNodePtr n, const char *name);
/* Parses xml (what names it in the error): the document, or NULL with err set. */
xmlDocPtr domxml_read(const char *xml, const char *what);

#endif
