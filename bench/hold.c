/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hold: loads a demo fleet file into a libvirtd's test driver and keeps
 * it there, for the many-hosts benchmark (bench/hosts.sh).  The test
 * driver's test:///default state lives in the daemon while a connection to
 * it is open: this process defines every <domain> of FLEET there, prints
 * "ready", and holds its connection until it is killed.  Listing then
 * costs the daemon what a qemu host's costs (the domains are in memory),
 * not a parse of the fleet file per connection (test:///FILE).
 * Usage: hold URI FLEET */
#include <config.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
hold_quiet(void *opaque, virErrorPtr e)
{
    (void)opaque;
    (void)e;
}

int
main(int argc, char **argv)
{
    virConnectPtr conn;
    xmlDocPtr doc;
    xmlNodePtr n;
    int defined = 0;

    if (argc != 3) {
        fprintf(stderr, "usage: hold URI FLEET\n");
        return 2;
    }
    virSetErrorFunc(NULL, hold_quiet);
    if (!(conn = virConnectOpen(argv[1]))) {
        fprintf(stderr, "hold: cannot open %s\n", argv[1]);
        return 1;
    }
    if (!(doc = xmlReadFile(argv[2], NULL, XML_PARSE_NONET)) || !xmlDocGetRootElement(doc)) {
        fprintf(stderr, "hold: cannot read %s\n", argv[2]);
        return 1;
    }
    for (n = xmlDocGetRootElement(doc)->children; n; n = n->next) {
        xmlBufferPtr b;
        virDomainPtr d;

        if (n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, "domain") != 0)
            continue;
        b = xmlBufferCreate();
        xmlNodeDump(b, doc, n, 0, 0);
        if (!(d = virDomainDefineXML(conn, (const char *)xmlBufferContent(b)))) {
            virErrorPtr e = virGetLastError();
            fprintf(stderr, "hold: cannot define a domain: %s\n", e && e->message ? e->message : "?");
            return 1;
        }
        virDomainFree(d);
        xmlBufferFree(b);
        defined++;
    }
    xmlFreeDoc(doc);
    printf("ready %d\n", defined);
    fflush(stdout);
    for (;;)
        pause();
    return 0;
}
