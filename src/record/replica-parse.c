/* SPDX-License-Identifier: GPL-2.0-or-later */
/* replica-parse: reading a <drover:replica> document with libxml2's SAX2
 * parser, each element checked as it is read: no tree is built (a tree was
 * half the cost of a parse).  It checks the document's shape only;
 * replica_validate() holds the rules.  This file drives the parse (SAX2's
 * callbacks, libxml2's errors, the parser contexts kept between parses,
 * replica_parse); what each element may hold is in replica-parse-element.c.
 *
 * The checks run in the order a walk of the document's tree ran them: an
 * element's attributes when it starts, what follows its children when it
 * ends.  After the first failed check the rest is only parsed, because a
 * well-formedness error anywhere wins over any check, as it did when the
 * tree was built first.  A document with a type declaration is refused
 * whatever it holds; from its declaration on libxml2 builds the tree as it
 * did, so that its entities and its errors are libxml2's own. */
#include <config.h>

#include "record/replica.h"
#include "record/replica-priv.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"

static void
replica_fail(ReplicaSax *s)
{
    s->failed = 1;
}

static ReplicaSax *
replica_sax(void *ctx)
{
    return ((xmlParserCtxtPtr)ctx)->_private;
}

static void
replica_xml_keep(ReplicaXmlError *xe, int line, const char *message)
{
    size_t n;

    snprintf(xe->msg, sizeof(xe->msg), "line %d: %s", line, message);
    n = strlen(xe->msg);
    while (n && (xe->msg[n - 1] == '\n' || xe->msg[n - 1] == ' '))
        xe->msg[--n] = '\0';
    xe->have = 1;
}

/* The tree checked xml:id values with errors of its own; they can be the
 * first error of a document that is not well-formed, so they are kept the
 * same way. */
static void
replica_sax_xml_id(xmlParserCtxtPtr ctxt, ReplicaSax *s, const ReplicaAttrs *a)
{
    int line = ctxt->input ? ctxt->input->line : 0;
    int k;
    size_t i;

    for (k = 0; k < a->n; k++) {
        const xmlChar **x = a->v + 5 * k;
        UTIL_AUTOFREE char *v = NULL;

        if (!x[1] || strcmp((const char *)x[1], "xml") != 0 ||
            strcmp((const char *)x[0], "id") != 0)
            continue;
        /* libxml2 checks the value as the parser hands it over. */
        v = util_xstrndup((const char *)x[3], (size_t)(x[4] - x[3]));
        if (xmlValidateNCName((const xmlChar *)v, 1) != 0 && !s->xe.have) {
            UTIL_AUTOFREE char *m = NULL;

            m = util_xasprintf("xml:id : attribute value %s is not an NCName\n", v);
            replica_xml_keep(&s->xe, line, m);
        }
        if (!*v)
            continue;
        for (i = 0; i < s->nids; i++) {
            if (strcmp(s->ids[i], v) == 0)
                break;
        }
        if (i < s->nids) {
            if (!s->xe.have) {
                UTIL_AUTOFREE char *m = util_xasprintf("ID %s already defined\n", v);

                replica_xml_keep(&s->xe, line, m);
            }
            continue;
        }
        util_grow(&s->ids, &s->cap_ids, s->nids + 1, sizeof(*s->ids));
        s->ids[s->nids++] = UTIL_STEAL(&v);
    }
}

static void
replica_sax_start(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                  const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
                  int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
    ReplicaSax *s = replica_sax(ctx);
    ReplicaAttrs a = { attributes, nb_attributes };
    const char *name = (const char *)localname;
    ReplicaFrame *f;
    int rc;

    (void)prefix;
    (void)nb_namespaces;
    (void)namespaces;
    (void)nb_defaulted;
    replica_sax_xml_id(ctx, s, &a);
    if (s->failed) {
        s->depth++;
        return;
    }
    /* The parent's text node ends here. */
    if (s->depth > 0 && replica_text_end(s) < 0) {
        s->depth++;
        replica_fail(s);
        return;
    }
    s->depth++;
    if (s->depth > RS_DEPTH) {
        /* Cannot happen: an element below a disk is refused. */
        replica_bad("element <%s> nested too deep", name);
        replica_fail(s);
        return;
    }
    f = &s->f[s->depth - 1];
    if (s->depth == 1) {
        f->kind = RS_REPLICA;
        f->ctx = "<replica>";
        rc = replica_root_start(s, name, uri, &a);
    } else {
        rc = replica_child_start(s, &s->f[s->depth - 2], name, uri, &a, f);
    }
    if (rc < 0)
        replica_fail(s);
}

static void
replica_sax_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
    ReplicaSax *s = replica_sax(ctx);
    const ReplicaFrame *f;
    int rc = 0;

    (void)localname;
    (void)prefix;
    (void)uri;
    if (s->failed) {
        s->depth--;
        return;
    }
    f = &s->f[s->depth - 1];
    rc = replica_text_end(s);
    s->depth--;
    if (rc < 0) {
        replica_fail(s);
        return;
    }
    switch (f->kind) {
    case RS_NUMBER: {
        UTIL_AUTOFREE char *text = util_buf_steal(&s->text);

        rc = replica_parse_small(f->ctx, "", s->num_what, text, s->num_max, s->num_out);
        break;
    }
    case RS_BEFORE:
        s->before = util_buf_steal(&s->text);
        break;
    case RS_DISK:
        rc = replica_disk_end(s);
        break;
    case RS_REPL:
        rc = replica_repl_end(s);
        break;
    case RS_REPLICA:
        if (!s->have_mode || !s->have_state)
            rc = replica_bad("<replica>: element <%s> missing", s->have_mode ? "state" : "mode");
        break;
    default:
        break;
    }
    if (rc < 0)
        replica_fail(s);
}

static void
replica_sax_add_text(void *ctx, const xmlChar *ch, int len, int kind)
{
    ReplicaSax *s = replica_sax(ctx);
    const ReplicaFrame *f;
    size_t n = (size_t)len;

    if (s->failed || s->depth < 1)
        return;
    f = &s->f[s->depth - 1];
    if (f->kind == RS_NUMBER || f->kind == RS_BEFORE) {
        util_buf_addn(&s->text, (const char *)ch, n);
        return;
    }
    if (s->text_kind != kind && replica_text_end(s) < 0) {
        replica_fail(s);
        return;
    }
    s->text_kind = kind;
    if (!s->text.len) {
        while (n && replica_blank((char)*ch)) {
            ch++;
            n--;
        }
    }
    if (n)
        util_buf_addn(&s->text, (const char *)ch, n);
}

static void
replica_sax_characters(void *ctx, const xmlChar *ch, int len)
{
    replica_sax_add_text(ctx, ch, len, RS_TEXT);
}

static void
replica_sax_cdata(void *ctx, const xmlChar *ch, int len)
{
    replica_sax_add_text(ctx, ch, len, RS_CDATA);
}

/* Comments and processing instructions are skipped, but end a text node. */
static void
replica_sax_node(ReplicaSax *s)
{
    if (s->failed || s->depth < 1 || s->text_kind == RS_NO_TEXT)
        return;
    if (replica_text_end(s) < 0)
        replica_fail(s);
}

static void
replica_sax_comment(void *ctx, const xmlChar *value)
{
    (void)value;
    replica_sax_node(replica_sax(ctx));
}

static void
replica_sax_pi(void *ctx, const xmlChar *target, const xmlChar *data)
{
    (void)target;
    (void)data;
    replica_sax_node(replica_sax(ctx));
}

/* A document type declaration: the document is refused, and from here on
 * libxml2 builds its tree, so that entities and errors are its own. */
static void
replica_sax_dtd(void *ctx, const xmlChar *name, const xmlChar *external_id,
                const xmlChar *system_id)
{
    xmlParserCtxtPtr ctxt = ctx;
    xmlSAXHandler def;

    replica_sax(ctx)->dtd = 1;
    xmlSAXVersion(&def, 2);
    ctxt->sax->startElementNs = def.startElementNs;
    ctxt->sax->endElementNs = def.endElementNs;
    ctxt->sax->characters = def.characters;
    ctxt->sax->ignorableWhitespace = def.ignorableWhitespace;
    ctxt->sax->cdataBlock = def.cdataBlock;
    ctxt->sax->comment = def.comment;
    ctxt->sax->processingInstruction = def.processingInstruction;
    ctxt->sax->reference = def.reference;
    if (!ctxt->myDoc)
        xmlSAX2StartDocument(ctx);
    xmlSAX2InternalSubset(ctx, name, external_id, system_id);
}

/* Keeps libxml2's first error (later ones are mostly consequences) and
 * keeps it off stderr. */
static void
replica_xml_error(void *data, xmlErrorPtr e)
{
    xmlParserCtxtPtr ctxt = data;
    ReplicaSax *s = ctxt ? ctxt->_private : NULL;

    if (!s || !e || s->xe.have || e->level < XML_ERR_ERROR)
        return;
    replica_xml_keep(&s->xe, e->line, e->message ? e->message : "error");
}

static pthread_once_t replica_xml_once = PTHREAD_ONCE_INIT;

/* libxml2 wants one initialization before threads parse. */
static void
replica_xml_init(void)
{
    xmlInitParser();
}

/* Parser contexts kept between parses, reset as xmlCtxtReadMemory resets
 * the one it is given: making and freeing one was 7,600 instructions of a
 * 90,800-instruction parse.  As many as parse at once (one thread a host,
 * the console's fetchers); one whose dictionary of names grew past
 * REPLICA_DICT_MAX (foreign element names) is dropped, not kept. */
#define REPLICA_CTXT_KEEP 32
#define REPLICA_DICT_MAX 2048

static pthread_mutex_t replica_ctxt_mu = PTHREAD_MUTEX_INITIALIZER;
static xmlParserCtxtPtr replica_ctxt_kept[REPLICA_CTXT_KEEP];
static size_t replica_ctxt_nkept;

static xmlParserCtxtPtr
replica_ctxt_get(void)
{
    xmlParserCtxtPtr c = NULL;

    pthread_mutex_lock(&replica_ctxt_mu);
    if (replica_ctxt_nkept)
        c = replica_ctxt_kept[--replica_ctxt_nkept];
    pthread_mutex_unlock(&replica_ctxt_mu);
    return c ? c : xmlNewParserCtxt();
}

/* Resets c (its input, a copy of the document, and any tree a DOCTYPE
 * made) and keeps or frees it. */
static void
replica_ctxt_put(xmlParserCtxtPtr c)
{
    if (!c)
        return;
    if (c->myDoc)
        xmlFreeDoc(c->myDoc);
    c->myDoc = NULL;
    xmlCtxtReset(c);
    c->_private = NULL;
    if (xmlDictSize(c->dict) <= REPLICA_DICT_MAX) {
        pthread_mutex_lock(&replica_ctxt_mu);
        if (replica_ctxt_nkept < REPLICA_CTXT_KEEP) {
            replica_ctxt_kept[replica_ctxt_nkept++] = c;
            c = NULL;
        }
        pthread_mutex_unlock(&replica_ctxt_mu);
    }
    xmlFreeParserCtxt(c);
}

/* The document as c's input, copied as xmlCtxtReadMemory copies it.  Its
 * read callback, which only says "no more" (the whole document is in
 * memory), is dropped when no encoding can need converting (neither an XML
 * declaration nor a byte-order mark: every record libvirt returns):
 * libxml2 called it, and grew its buffer, every few tokens near the end
 * (13,600 instructions of a 90,800-instruction parse). */
static int
replica_ctxt_input(xmlParserCtxtPtr c, const char *xml, size_t len)
{
    xmlParserInputBufferPtr buf;
    xmlParserInputPtr in;

    buf = xmlParserInputBufferCreateMem(xml, (int)len, XML_CHAR_ENCODING_NONE);
    if (!buf)
        return -1;
    if (len >= 2 && xml[0] == '<' && xml[1] != '?' && xml[1] != '\0')
        buf->readcallback = NULL;
    in = xmlNewIOInputStream(c, buf, XML_CHAR_ENCODING_NONE);
    if (!in) {
        xmlFreeParserInputBuffer(buf);
        return -1;
    }
    inputPush(c, in);
    return 0;
}

static void
replica_sax_clear(ReplicaSax *s)
{
    size_t i;

    util_buf_free(&s->text);
    free(s->target);
    free(s->file);
    free(s->inode);
    free(s->before);
    free(s->interval);
    free(s->points);
    free(s->app);
    for (i = 0; i < s->nids; i++)
        free(s->ids[i]);
    free(s->ids);
}

Replica *
replica_parse(const char *xml, size_t len)
{
    ReplicaSax s;
    xmlParserCtxtPtr ctxt = NULL;
    xmlSAXHandlerPtr h;
    Replica *r = NULL;

    if (!xml || len == 0) {
        replica_bad("the document is empty");
        return NULL;
    }
    if (len > REPLICA_MAX_BYTES) {
        replica_bad("the document is %zu bytes, more than the %d allowed", len, REPLICA_MAX_BYTES);
        return NULL;
    }
    pthread_once(&replica_xml_once, replica_xml_init);
    memset(&s, 0, sizeof(s));
    ctxt = replica_ctxt_get();
    if (!ctxt || replica_ctxt_input(ctxt, xml, len) < 0) {
        replica_ctxt_put(ctxt);
        err_set(RESULT_OUT_OF_MEMORY, "replica metadata: cannot create an XML parser");
        return NULL;
    }
    /* The context's own handler (a copy of SAX2's), so libvirt's are not
     * touched; the error handler is per parser too. */
    h = ctxt->sax;
    h->startDocument = NULL;
    h->internalSubset = replica_sax_dtd;
    h->startElementNs = replica_sax_start;
    h->endElementNs = replica_sax_end;
    h->characters = replica_sax_characters;
    h->ignorableWhitespace = replica_sax_characters;
    h->cdataBlock = replica_sax_cdata;
    h->comment = replica_sax_comment;
    h->processingInstruction = replica_sax_pi;
    h->reference = NULL;
    h->serror = replica_xml_error;
    ctxt->_private = &s;
    /* No XML_PARSE_NOENT or DTDLOAD: entities stay unexpanded and nothing
     * outside the document is read. */
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlParseDocument(ctxt);
    if (!ctxt->wellFormed || !ctxt->nsWellFormed) {
        if (!s.xe.have) {
            xmlErrorPtr e = xmlCtxtGetLastError(ctxt);

            snprintf(s.xe.msg, sizeof(s.xe.msg), "line %d: %s", e ? e->line : 0,
                     e && e->message ? e->message : "parse error");
        }
        replica_bad("not well-formed XML: %s", s.xe.msg);
        goto cleanup;
    }
    /* An internal subset could define entities: metadata never needs one. */
    if (s.dtd) {
        replica_bad("document type declarations are not allowed");
        goto cleanup;
    }
    if (s.failed)
        goto cleanup;
    if (!s.r) {
        replica_bad("the document has no root element");
        goto cleanup;
    }
    if (replica_validate(s.r) < 0)
        goto cleanup;
    r = UTIL_STEAL(&s.r);

 cleanup:
    replica_free(s.r);
    replica_sax_clear(&s);
    replica_ctxt_put(ctxt);
    return r;
}
