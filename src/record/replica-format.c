/* SPDX-License-Identifier: GPL-2.0-or-later */
/* replica-format: the record written as a <drover:replica> element
 * (replica_format), with libxml2's writer. */
#include <config.h>

#include "record/replica.h"
#include "record/replica-priv.h"

#include <stdio.h>
#include <string.h>

#include <libxml/xmlwriter.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"

/* ---- formatting ------------------------------------------------------- */

/* The record is written with libxml2's writer: it escapes, and the only
 * thing left to us is what XML cannot hold at all (control characters,
 * broken UTF-8), which is refused instead of written. */
typedef struct {
    xmlTextWriterPtr w;
    int bad;                    /* a write failed, or a value was refused (err set) */
} ReplicaW;

/* XML 1.0 allows tab, newline and carriage return, and no other C0 control. */
static int
replica_w_text_ok(ReplicaW *w, const char *what, const char *s, int multiline)
{
    const unsigned char *p;

    if (w->bad)
        return 0;
    if (!replica_utf8_ok(s)) {
        UTIL_AUTOFREE char *v = replica_show(s);
        replica_bad("cannot write the record: %s \"%s\" is not valid UTF-8", what, v);
        w->bad = 1;
        return 0;
    }
    for (p = (const unsigned char *)s; *p; p++) {
        if ((*p < 0x20 && !(multiline && (*p == '\t' || *p == '\n' || *p == '\r'))) || *p == 0x7f) {
            UTIL_AUTOFREE char *v = replica_show(s);
            replica_bad("cannot write the record: %s \"%s\" contains a control character "
                        "XML cannot hold", what, v);
            w->bad = 1;
            return 0;
        }
    }
    return 1;
}

static void
replica_w_check(ReplicaW *w, int rc)
{
    if (rc < 0 && !w->bad) {
        err_set(RESULT_OUT_OF_MEMORY, "cannot write the record: libxml2's writer failed");
        w->bad = 1;
    }
}

static void
replica_w_start(ReplicaW *w, const char *elem)
{
    if (!w->bad)
        replica_w_check(w, xmlTextWriterStartElementNS(w->w, BAD_CAST REPLICA_PREFIX, BAD_CAST elem, NULL));
}

static void
replica_w_end(ReplicaW *w)
{
    if (!w->bad)
        replica_w_check(w, xmlTextWriterEndElement(w->w));
}

static void
replica_w_attr(ReplicaW *w, const char *name, const char *value)
{
    if (value && replica_w_text_ok(w, name, value, 0))
        replica_w_check(w, xmlTextWriterWriteAttribute(w->w, BAD_CAST name, BAD_CAST value));
}

static void
replica_w_int(ReplicaW *w, const char *name, long long value)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%lld", value);
    replica_w_attr(w, name, buf);
}

static void
replica_w_time(ReplicaW *w, const char *name, int64_t t)
{
    char buf[64];

    util_format_time(t, buf, sizeof(buf));
    replica_w_attr(w, name, buf);
}

/* <drover:ELEM>N</drover:ELEM> */
static void
replica_w_int_element(ReplicaW *w, const char *elem, int value)
{
    if (!w->bad)
        replica_w_check(w, xmlTextWriterWriteFormatElementNS(w->w, BAD_CAST REPLICA_PREFIX, BAD_CAST elem,
                                                             NULL, "%d", value));
}

static void
replica_w_disks(ReplicaW *w, const char *elem, const ReplicaDiskList *l)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        replica_w_start(w, elem);
        replica_w_attr(w, "target", l->v[i].target);
        replica_w_attr(w, "file", l->v[i].file);
        if (l->v[i].inode) {
            char ino[32];

            snprintf(ino, sizeof(ino), "%llu", (unsigned long long)l->v[i].inode);
            replica_w_attr(w, "inode", ino);
        }
        if (l->v[i].before && replica_w_text_ok(w, "a disk's element before failover", l->v[i].before, 1))
            replica_w_check(w, xmlTextWriterWriteElementNS(w->w, BAD_CAST REPLICA_PREFIX, BAD_CAST "before",
                                                           NULL, BAD_CAST l->v[i].before));
        replica_w_end(w);
    }
}

static void
replica_w_record(ReplicaW *w, const Replica *r)
{
    size_t i;

    /* The namespace declared first, as readers of virsh dumpxml expect it. */
    replica_w_start(w, REPLICA_ELEMENT);
    replica_w_attr(w, "xmlns:" REPLICA_PREFIX, REPLICA_NS);
    replica_w_int(w, "format", r->format);
    replica_w_int_element(w, "mode", r->mode);
    replica_w_int_element(w, "state", r->state);
    if (r->primary_host || r->primary_uri || r->primary_name) {
        replica_w_start(w, "primary");
        replica_w_attr(w, "host", r->primary_host);
        replica_w_attr(w, "uri", r->primary_uri);
        replica_w_attr(w, "name", r->primary_name);
        replica_w_end(w);
    }
    if (r->repl) {
        replica_w_start(w, "replication");
        replica_w_attr(w, "dir", r->repl->dir);
        replica_w_attr(w, "nbd", r->repl->nbd);
        replica_w_int(w, "interval", r->repl->interval);
        replica_w_int(w, "points", r->repl->points);
        if (r->repl->app_every)
            replica_w_int(w, "app-consistent-every", r->repl->app_every);
        if (r->repl->tls)
            replica_w_attr(w, "tls", r->repl->tls);
        replica_w_end(w);
    }
    if (r->npoints && r->points) {
        replica_w_start(w, "recovery-points");
        for (i = 0; i < r->npoints; i++) {
            const ReplicaPoint *pt = &r->points[i];

            replica_w_start(w, "point");
            replica_w_attr(w, "id", pt->id);
            replica_w_time(w, "time", pt->time);
            replica_w_attr(w, "type", replica_rp_type_name(pt->type));
            replica_w_attr(w, "checkpoint", pt->checkpoint);
            replica_w_disks(w, "disk", &pt->disks);
            replica_w_end(w);
        }
        replica_w_end(w);
    }
    if (r->failover) {
        const ReplicaFailover *f = r->failover;

        replica_w_start(w, "failover");
        replica_w_attr(w, "point", f->point);
        replica_w_time(w, "time", f->time);
        replica_w_attr(w, "by", f->by);
        replica_w_disks(w, "disk", &f->disks);
        replica_w_end(w);
    }
    if (r->test) {
        const ReplicaTest *t = r->test;

        replica_w_start(w, "test-system");
        replica_w_attr(w, "domain", t->domain);
        replica_w_attr(w, "uuid", t->uuid);
        replica_w_attr(w, "point", t->point);
        replica_w_time(w, "time", t->time);
        replica_w_attr(w, "nvram", t->nvram);
        replica_w_disks(w, "disk", &t->disks);
        replica_w_end(w);
    }
    if (r->journal) {
        const ReplicaJournal *j = r->journal;

        replica_w_start(w, "journal");
        replica_w_attr(w, "op", j->op);
        replica_w_attr(w, "job", j->job);
        replica_w_attr(w, "step", j->step);
        replica_w_time(w, "time", j->time);
        replica_w_int(w, "from", j->from_state);
        replica_w_int(w, "to", j->to_state);
        replica_w_attr(w, "point", j->point);
        replica_w_attr(w, "domain", j->domain);
        replica_w_attr(w, "uuid", j->uuid);
        if (j->flatten)
            replica_w_attr(w, "flatten", "yes");
        replica_w_disks(w, "create", &j->create);
        replica_w_disks(w, "remove", &j->remove);
        replica_w_end(w);
    }
    replica_w_end(w);
}

char *
replica_format(const Replica *r)
{
    xmlBufferPtr buf;
    ReplicaW w = { 0 };
    char *ret = NULL;

    if (!r)
        return util_xstrdup("");
    if (!(buf = xmlBufferCreate()) || !(w.w = xmlNewTextWriterMemory(buf, 0))) {
        xmlBufferFree(buf);
        err_set(RESULT_OUT_OF_MEMORY, "cannot write the record: no memory for libxml2's writer");
        return NULL;
    }
    replica_w_check(&w, xmlTextWriterSetIndent(w.w, 1));
    replica_w_check(&w, xmlTextWriterSetIndentString(w.w, BAD_CAST "  "));
    /* Declared UTF-8 so names stay readable (not &#xFC;); the declaration
     * itself is left out below: the record is an element of a domain. */
    replica_w_check(&w, xmlTextWriterStartDocument(w.w, NULL, "UTF-8", NULL));
    replica_w_record(&w, r);
    if (!w.bad)
        replica_w_check(&w, xmlTextWriterEndDocument(w.w));
    xmlFreeTextWriter(w.w);     /* flushes into buf */
    if (!w.bad) {
        const char *text = (const char *)xmlBufferContent(buf);
        const char *root = strstr(text, "<" REPLICA_PREFIX ":");

        ret = util_xstrdup(root ? root : text);
    }
    xmlBufferFree(buf);
    return ret;
}
