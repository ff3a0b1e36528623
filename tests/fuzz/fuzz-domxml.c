/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-domxml: the libvirt domain definition reader and the replica record
 * inside it.
 *
 * An accepted domain must format to text that parses again to the same
 * name, UUID, disks and replica element; the replica element, when it
 * parses, must survive being written back (as an operation does) and read
 * out again; switching a disk's source must take. */
#include <config.h>

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/domxml.h"
#include "base/err.h"
#include "fuzz.h"
#include "record/replica.h"
#include "base/result.h"
#include "base/util.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

static void
same_disks(const DomDiskList *a, const DomDiskList *b, const char *what)
{
    size_t i;

    if (a->n != b->n)
        fuzz_fail("%s: %zu disks, then %zu", what, a->n, b->n);
    for (i = 0; i < a->n; i++)
        if (!util_streq(a->v[i].target, b->v[i].target) ||
            !util_streq(a->v[i].source, b->v[i].source) ||
            !util_streq(a->v[i].driver_type, b->v[i].driver_type))
            fuzz_fail("%s: disk %zu differs", what, i);
}

/* The replica element of d, parsed and formatted again; NULL if there is
 * none or it does not parse. */
static char *
replica_text(const DomXml *d)
{
    char *xml = domxml_get_replica(d);
    Replica *r;
    char *text;

    if (!xml)
        return NULL;
    r = replica_parse(xml, strlen(xml));
    free(xml);
    if (!r)
        return NULL;
    text = replica_format(r);
    replica_free(r);
    return text;
}

/* True if text is well-formed XML, namespaces included. */
static int
ns_well_formed(const char *text)
{
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    xmlDocPtr doc;
    int ok;

    if (!ctxt)
        fuzz_fail("out of memory");
    doc = xmlCtxtReadMemory(ctxt, text, (int)strlen(text), NULL, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    ok = doc && ctxt->wellFormed && ctxt->nsWellFormed;
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *xml = fuzz_string(data, size);
    DomXml *d, *d2;
    DomDiskList disks = { 0 }, disks2 = { 0 };
    char *text, *rep, *rep2, *raw, *raw2;

    if (!xml)
        return 0;
    err_clear();
    d = domxml_parse(xml);
    if (!d) {
        if (err_code() != RESULT_INCORRECT_TYPE || !err_message()[0])
            fuzz_fail("domxml_parse failed with code %d: %s", err_code(), err_message());
        free(xml);
        return 0;
    }
    if (!domxml_name(d) || !*domxml_name(d))
        fuzz_fail("a parsed domain without a name");
    domxml_disks(d, &disks);
    raw = domxml_get_replica(d);
    rep = replica_text(d);
    /* The element is handed to replica_parse alone, so it must carry the
     * namespace declarations it uses, wherever the domain declared them. */
    if (raw && ns_well_formed(xml) && !ns_well_formed(raw))
        fuzz_fail("the replica element lost its namespace declarations:\n%s", raw);

    /* Format, parse again: the same domain. */
    text = domxml_format(d);
    d2 = domxml_parse(text);
    if (!d2)
        fuzz_fail("the formatted domain does not parse (%s):\n%s", err_message(), text);
    if (strcmp(domxml_name(d), domxml_name(d2)) != 0 || !util_streq(domxml_uuid(d), domxml_uuid(d2)))
        fuzz_fail("name or uuid changed by format and parse");
    domxml_disks(d2, &disks2);
    same_disks(&disks, &disks2, "format and parse");
    /* Formatting indents the element, so compare what it says. */
    raw2 = domxml_get_replica(d2);
    rep2 = replica_text(d2);
    if (!raw != !raw2 || !util_streq(rep, rep2))
        fuzz_fail("the replica element changed by format and parse:\n%s\n---\n%s",
                  raw ? raw : "(none)", raw2 ? raw2 : "(none)");
    free(raw2);
    free(rep2);
    domxml_disk_list_clear(&disks2);
    free(text);

    /* Write the parsed record back, as an operation does, and read it. */
    if (rep) {
        if (domxml_set_replica(d2, rep) < 0)
            fuzz_fail("cannot write back a valid replica element: %s", err_message());
        rep2 = replica_text(d2);
        if (!rep2 || strcmp(rep, rep2) != 0)
            fuzz_fail("the replica element changed when written back:\n%s\n---\n%s", rep,
                      rep2 ? rep2 : "(none)");
        free(rep2);
        if (domxml_set_replica(d2, NULL) < 0 || domxml_get_replica(d2))
            fuzz_fail("the replica element survives its removal");
    }

    /* Point the first disk at a new file: the first disk with its target
     * must then show it. */
    if (disks.n && *disks.v[0].target) {
        const char *t = disks.v[0].target;
        size_t i;

        if (domxml_set_disk_source(d2, t, "/var/lib/drover/fuzz.qcow2") < 0)
            fuzz_fail("cannot set the source of disk %s: %s", t, err_message());
        domxml_disks(d2, &disks2);
        for (i = 0; i < disks2.n && strcmp(disks2.v[i].target, t) != 0; i++)
            ;
        if (i == disks2.n || !util_streq(disks2.v[i].source, "/var/lib/drover/fuzz.qcow2"))
            fuzz_fail("the new source of disk %s did not take", t);
        domxml_disk_list_clear(&disks2);
    }
    domxml_strip_for_test(d2);
    domxml_reset_genid(d2);
    free(domxml_format(d2));

    free(rep);
    free(raw);
    domxml_disk_list_clear(&disks);
    domxml_free(d2);
    domxml_free(d);
    free(xml);
    return 0;
}
