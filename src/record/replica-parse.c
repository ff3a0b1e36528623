/* SPDX-License-Identifier: GPL-2.0-or-later */
/* replica-parse: reading a <drover:replica> document with libxml2.  It
 * checks the document's shape only; replica_validate() holds the rules. */
#include <config.h>

#include "record/replica.h"
#include "record/replica-priv.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "base/err.h"
#include "base/result.h"
#include "record/state.h"
#include "base/util.h"

static int
replica_is_ns(const xmlNode *n)
{
    return n->ns && n->ns->href && strcmp((const char *)n->ns->href, REPLICA_NS) == 0;
}

static int
replica_is(const xmlNode *n, const char *name)
{
    return strcmp((const char *)n->name, name) == 0;
}

/* Classifies a child of an element that holds only elements: 1 for one of
 * our elements, 0 for something to skip (whitespace, comments), -1 with the
 * error set for anything else, so that no data is silently dropped. */
static int
replica_child_kind(const char *ctx, const xmlNode *c)
{
    UTIL_AUTOFREE char *v = NULL;
    const xmlChar *p;

    switch (c->type) {
    case XML_ELEMENT_NODE:
        if (replica_is_ns(c))
            return 1;
        if (!c->ns)
            return replica_bad("%s: element <%s> has no namespace: every element must be in %s",
                               ctx, (const char *)c->name, REPLICA_NS);
        v = replica_show((const char *)c->ns->href);
        return replica_bad("%s: element <%s> is in namespace \"%s\": every element must be in %s",
                           ctx, (const char *)c->name, v, REPLICA_NS);
    case XML_TEXT_NODE:
    case XML_CDATA_SECTION_NODE:
        for (p = c->content; p && *p; p++) {
            if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
                size_t n = strlen((const char *)p);

                while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\n' ||
                             p[n - 1] == '\r'))
                    n--;
                v = util_xstrndup((const char *)p, n);
                v = replica_show_free(v);
                return replica_bad("%s: unexpected text \"%s\": only elements belong here", ctx, v);
            }
        }
        return 0;
    case XML_COMMENT_NODE:
    case XML_PI_NODE:
        return 0;
    case XML_ENTITY_REF_NODE:
        return replica_bad("%s: unexpected entity reference &%s;", ctx, (const char *)c->name);
    default:
        return replica_bad("%s: unexpected XML node of type %d", ctx, (int)c->type);
    }
}

static int
replica_unknown_element(const char *ctx, const xmlNode *c)
{
    return replica_bad("%s: unknown element <%s>", ctx, (const char *)c->name);
}

/* Refuses attributes outside allowed (NULL-terminated). */
static int
replica_check_attrs(const char *ctx, const xmlNode *n, const char *const *allowed)
{
    const xmlAttr *a;
    size_t i;

    for (a = n->properties; a; a = a->next) {
        if (a->ns)
            return replica_bad("%s: attribute %s:%s is not allowed", ctx,
                               a->ns->prefix ? (const char *)a->ns->prefix : "",
                               (const char *)a->name);
        for (i = 0; allowed[i]; i++) {
            if (strcmp((const char *)a->name, allowed[i]) == 0)
                break;
        }
        if (!allowed[i]) {
            UtilBuf b = { 0 };
            int ret;

            for (i = 0; allowed[i]; i++)
                util_buf_printf(&b, "%s%s", i ? ", " : "", allowed[i]);
            ret = replica_bad("%s: unknown attribute %s (allowed: %s)", ctx,
                              (const char *)a->name, b.s ? b.s : "none");
            util_buf_free(&b);
            return ret;
        }
    }
    return 0;
}

static char *
replica_attr(const xmlNode *n, const char *name)
{
    xmlChar *x = xmlGetNoNsProp(n, (const xmlChar *)name);
    char *s;

    if (!x)
        return NULL;
    s = util_xstrdup((const char *)x);
    xmlFree(x);
    return s;
}

/* The text of an element that holds only text. */
static int
replica_elem_text(const char *ctx, const xmlNode *n, char **out)
{
    UtilBuf b = { 0 };
    const xmlNode *c;

    for (c = n->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            if (c->content)
                util_buf_add(&b, (const char *)c->content);
        } else if (c->type == XML_ELEMENT_NODE || c->type == XML_ENTITY_REF_NODE) {
            util_buf_free(&b);
            return replica_bad("%s: unexpected %s <%s>: only a number belongs here", ctx,
                               c->type == XML_ELEMENT_NODE ? "element" : "entity",
                               (const char *)c->name);
        }
    }
    *out = util_buf_steal(&b);
    return 0;
}

/* Digits only: no sign, no spaces, no junk. */
static int
replica_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (!*s)
        return -1;
    for (; *s; s++) {
        uint64_t d = (uint64_t)(*s - '0');

        if (*s < '0' || *s > '9')
            return -1;
        if (d > max || v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* label is "" for an element's text, "from " for an attribute. */
static int
replica_parse_small(const char *ctx, const char *label, const char *what, const char *s,
                    int max, int *out)
{
    uint64_t v;

    if (replica_parse_uint(s, (uint64_t)max, &v) < 0) {
        UTIL_AUTOFREE char *shown = replica_show(s);
        return replica_bad("%s: %s\"%s\" is not a %s number (0-%d)", ctx, label, shown, what, max);
    }
    *out = (int)v;
    return 0;
}

/* "YYYY-MM-DDTHH:MM:SSZ" exactly.  Formatting the result back and comparing
 * refuses what strptime/timegm would quietly normalize (Feb 30, 24:00). */
static int
replica_parse_time(const char *ctx, const xmlNode *n, const char *name, int64_t *out)
{
    UTIL_AUTOFREE char *s = replica_attr(n, name);
    UTIL_AUTOFREE char *v = NULL;
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    char back[32];
    int64_t t;
    size_t i;

    if (!s)
        return replica_bad("%s: attribute %s missing", ctx, name);
    for (i = 0; shape[i] && s[i]; i++) {
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            break;
    }
    if (!shape[i] && !s[i] && util_parse_time(s, &t) == 0 && t >= 0 && t <= REPLICA_MAX_TIME) {
        util_format_time(t, back, sizeof(back));
        if (strcmp(back, s) == 0) {
            *out = t;
            return 0;
        }
    }
    v = replica_show(s);
    return replica_bad("%s: %s \"%s\" is not a UTC time like 2026-11-24T09:00:00Z", ctx, name, v);
}

static int
replica_parse_state_attr(const char *ctx, const xmlNode *n, const char *name, int *out)
{
    UTIL_AUTOFREE char *s = replica_attr(n, name);
    char label[64];

    if (!s)
        return replica_bad("%s: attribute %s missing", ctx, name);
    snprintf(label, sizeof(label), "%s ", name);
    return replica_parse_small(ctx, label, "state", s, STATE_MAX, out);
}

/* One <disk>, <create> or <remove>: attributes only, but for a failover
 * disk's <before> (with_before). */
static int
replica_parse_disk(const char *ctx, const xmlNode *n, size_t idx, int with_inode,
                   int with_before, ReplicaDiskList *l, size_t *cap)
{
    static const char *const attrs[] = { "target", "file", NULL };
    static const char *const attrs_inode[] = { "target", "file", "inode", NULL };
    char dctx[REPLICA_CTX_MAX];
    UTIL_AUTOFREE char *target = replica_attr(n, "target");
    UTIL_AUTOFREE char *file = replica_attr(n, "file");
    UTIL_AUTOFREE char *inode = replica_attr(n, "inode");
    UTIL_AUTOFREE char *before = NULL;
    uint64_t ino = 0;
    const xmlNode *c;
    ReplicaDisk *d;

    replica_disk_ctx(dctx, sizeof(dctx), ctx, (const char *)n->name, target, idx);
    if (replica_check_attrs(dctx, n, with_inode ? attrs_inode : attrs) < 0)
        return -1;
    for (c = n->children; c; c = c->next) {
        int k = replica_child_kind(dctx, c);

        if (k < 0)
            return -1;
        if (k > 0 && with_before && !before && replica_is(c, "before")) {
            if (replica_elem_text(dctx, c, &before) < 0)
                return -1;
            continue;
        }
        if (k > 0)
            return replica_unknown_element(dctx, c);
    }
    if (inode && replica_parse_uint(inode, UINT64_MAX, &ino) < 0) {
        UTIL_AUTOFREE char *v = replica_show(inode);
        return replica_bad("%s: inode \"%s\" is not a decimal number", dctx, v);
    }
    util_grow(&l->v, cap, l->n + 1, sizeof(*l->v));
    d = &l->v[l->n++];
    d->target = UTIL_STEAL(&target);
    d->file = UTIL_STEAL(&file);
    d->inode = ino;
    d->before = UTIL_STEAL(&before);
    return 0;
}

/* Children of a point, failover or test system: <disk> only. */
static int
replica_parse_disks(const char *ctx, const xmlNode *n, int with_before, ReplicaDiskList *l)
{
    const xmlNode *c;
    size_t cap = 0;

    for (c = n->children; c; c = c->next) {
        int k = replica_child_kind(ctx, c);

        if (k < 0)
            return -1;
        if (k == 0)
            continue;
        if (!replica_is(c, "disk"))
            return replica_unknown_element(ctx, c);
        if (l->n >= REPLICA_MAX_DISKS)
            return replica_bad("%s: more than %d disks", ctx, REPLICA_MAX_DISKS);
        if (replica_parse_disk(ctx, c, l->n, 0, with_before, l, &cap) < 0)
            return -1;
    }
    return 0;
}

static int
replica_parse_point(const xmlNode *n, size_t idx, ReplicaPoint *p)
{
    static const char *const attrs[] = { "id", "time", "type", "checkpoint", NULL };
    char ctx[REPLICA_CTX_MAX];
    UTIL_AUTOFREE char *type = NULL;
    UTIL_AUTOFREE char *v = NULL;

    p->id = replica_attr(n, "id");
    p->checkpoint = replica_attr(n, "checkpoint");
    replica_point_ctx(ctx, sizeof(ctx), p->id, idx);
    if (replica_check_attrs(ctx, n, attrs) < 0 ||
        replica_parse_time(ctx, n, "time", &p->time) < 0)
        return -1;
    type = replica_attr(n, "type");
    if (!type)
        return replica_bad("%s: attribute type missing", ctx);
    p->type = replica_rp_type_from_name(type);
    if (p->type < 0) {
        v = replica_show(type);
        return replica_bad("%s: type \"%s\" is not a recovery point type "
                           "(standard, app-consistent, planned)", ctx, v);
    }
    return replica_parse_disks(ctx, n, 0, &p->disks);
}

static int
replica_parse_points(const xmlNode *n, Replica *r)
{
    static const char *const none[] = { NULL };
    const char *ctx = "<recovery-points>";
    const xmlNode *c;
    size_t cap = 0;

    if (replica_check_attrs(ctx, n, none) < 0)
        return -1;
    for (c = n->children; c; c = c->next) {
        int k = replica_child_kind(ctx, c);

        if (k < 0)
            return -1;
        if (k == 0)
            continue;
        if (!replica_is(c, "point"))
            return replica_unknown_element(ctx, c);
        if (r->npoints >= REPLICA_MAX_POINTS)
            return replica_bad("%s: more than %d points", ctx, REPLICA_MAX_POINTS);
        util_grow(&r->points, &cap, r->npoints + 1, sizeof(*r->points));
        /* Counted before parsing so a half-built point is freed with r. */
        r->npoints++;
        if (replica_parse_point(c, r->npoints - 1, &r->points[r->npoints - 1]) < 0)
            return -1;
    }
    return 0;
}

static int
replica_parse_primary(const xmlNode *n, Replica *r)
{
    static const char *const attrs[] = { "host", "uri", "name", NULL };
    const xmlNode *c;

    if (replica_check_attrs("<primary>", n, attrs) < 0)
        return -1;
    for (c = n->children; c; c = c->next) {
        int k = replica_child_kind("<primary>", c);

        if (k < 0)
            return -1;
        if (k > 0)
            return replica_unknown_element("<primary>", c);
    }
    r->primary_host = replica_attr(n, "host");
    r->primary_uri = replica_attr(n, "uri");
    r->primary_name = replica_attr(n, "name");
    return 0;
}

static int
replica_parse_repl(const xmlNode *n, Replica *r)
{
    static const char *const attrs[] = { "dir", "nbd", "interval", "points",
                                         "app-consistent-every", "tls", NULL };
    const char *ctx = "<replication>";
    UTIL_AUTOFREE char *interval = NULL;
    UTIL_AUTOFREE char *points = NULL;
    UTIL_AUTOFREE char *app = NULL;
    const xmlNode *c;

    r->repl = util_xcalloc(1, sizeof(*r->repl));
    if (replica_check_attrs(ctx, n, attrs) < 0)
        return -1;
    for (c = n->children; c; c = c->next) {
        int k = replica_child_kind(ctx, c);

        if (k < 0)
            return -1;
        if (k > 0)
            return replica_unknown_element(ctx, c);
    }
    r->repl->dir = replica_attr(n, "dir");
    r->repl->nbd = replica_attr(n, "nbd");
    r->repl->tls = replica_attr(n, "tls");
    interval = replica_attr(n, "interval");
    points = replica_attr(n, "points");
    if (interval && replica_parse_small(ctx, "interval ", "whole", interval,
                                        86400 * 366, &r->repl->interval) < 0)
        return -1;
    if (points && replica_parse_small(ctx, "points ", "whole", points,
                                      REPLICA_MAX_POINTS, &r->repl->points) < 0)
        return -1;
    app = replica_attr(n, "app-consistent-every");
    if (app && replica_parse_small(ctx, "app-consistent-every ", "whole", app,
                                   86400 * 366, &r->repl->app_every) < 0)
        return -1;
    return 0;
}

static int
replica_parse_failover(const xmlNode *n, Replica *r)
{
    static const char *const attrs[] = { "point", "time", "by", NULL };
    const char *ctx = "<failover>";
    ReplicaFailover *f;

    f = r->failover = util_xcalloc(1, sizeof(*f));
    if (replica_check_attrs(ctx, n, attrs) < 0 ||
        replica_parse_time(ctx, n, "time", &f->time) < 0)
        return -1;
    f->point = replica_attr(n, "point");
    f->by = replica_attr(n, "by");
    return replica_parse_disks(ctx, n, 1, &f->disks);
}

static int
replica_parse_test(const xmlNode *n, Replica *r)
{
    static const char *const attrs[] = { "domain", "uuid", "point", "time", "nvram", NULL };
    const char *ctx = "<test-system>";
    ReplicaTest *t;

    t = r->test = util_xcalloc(1, sizeof(*t));
    if (replica_check_attrs(ctx, n, attrs) < 0 ||
        replica_parse_time(ctx, n, "time", &t->time) < 0)
        return -1;
    t->domain = replica_attr(n, "domain");
    t->uuid = replica_attr(n, "uuid");
    t->point = replica_attr(n, "point");
    t->nvram = replica_attr(n, "nvram");
    return replica_parse_disks(ctx, n, 0, &t->disks);
}

static int
replica_parse_journal(const xmlNode *n, Replica *r)
{
    static const char *const attrs[] = {
        "op", "job", "step", "time", "from", "to", "point", "domain", "uuid", "flatten", NULL
    };
    const char *ctx = "<journal>";
    size_t cap_create = 0, cap_remove = 0;
    ReplicaJournal *j;
    const xmlNode *c;

    j = r->journal = util_xcalloc(1, sizeof(*j));
    if (replica_check_attrs(ctx, n, attrs) < 0 ||
        replica_parse_time(ctx, n, "time", &j->time) < 0 ||
        replica_parse_state_attr(ctx, n, "from", &j->from_state) < 0 ||
        replica_parse_state_attr(ctx, n, "to", &j->to_state) < 0)
        return -1;
    j->op = replica_attr(n, "op");
    j->job = replica_attr(n, "job");
    j->step = replica_attr(n, "step");
    j->point = replica_attr(n, "point");
    j->domain = replica_attr(n, "domain");
    j->uuid = replica_attr(n, "uuid");
    {
        UTIL_AUTOFREE char *fl = replica_attr(n, "flatten");
        if (fl && strcmp(fl, "yes") != 0) {
            UTIL_AUTOFREE char *v = replica_show(fl);
            return replica_bad("%s: flatten \"%s\" must be \"yes\" or absent", ctx, v);
        }
        j->flatten = fl != NULL;
    }
    for (c = n->children; c; c = c->next) {
        int k = replica_child_kind(ctx, c);

        if (k < 0)
            return -1;
        if (k == 0)
            continue;
        if (replica_is(c, "create")) {
            if (j->create.n >= REPLICA_MAX_JOURNAL_FILES)
                return replica_bad("%s: more than %d <create>", ctx, REPLICA_MAX_JOURNAL_FILES);
            if (replica_parse_disk(ctx, c, j->create.n, 0, 0, &j->create, &cap_create) < 0)
                return -1;
        } else if (replica_is(c, "remove")) {
            if (j->remove.n >= REPLICA_MAX_JOURNAL_FILES)
                return replica_bad("%s: more than %d <remove>", ctx, REPLICA_MAX_JOURNAL_FILES);
            if (replica_parse_disk(ctx, c, j->remove.n, 1, 0, &j->remove, &cap_remove) < 0)
                return -1;
        } else {
            return replica_unknown_element(ctx, c);
        }
    }
    return 0;
}

static int
replica_parse_number_elem(const xmlNode *n, const char *what, int max, int *out)
{
    static const char *const none[] = { NULL };
    UTIL_AUTOFREE char *text = NULL;
    char ctx[32];

    snprintf(ctx, sizeof(ctx), "<%s>", (const char *)n->name);
    if (replica_check_attrs(ctx, n, none) < 0 ||
        replica_elem_text(ctx, n, &text) < 0)
        return -1;
    return replica_parse_small(ctx, "", what, text, max, out);
}

static Replica *
replica_parse_doc(xmlDocPtr doc)
{
    static const char *const attrs[] = { "format", NULL };
    const char *ctx = "<replica>";
    UTIL_AUTOFREE char *format = NULL;
    UTIL_AUTOFREE char *v = NULL;
    int have_mode = 0, have_state = 0, have_primary = 0, have_points = 0;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    const xmlNode *c;
    Replica *r = NULL;

    if (!root) {
        replica_bad("the document has no root element");
        return NULL;
    }
    /* An internal subset could define entities: metadata never needs one. */
    if (doc->intSubset || doc->extSubset) {
        replica_bad("document type declarations are not allowed");
        return NULL;
    }
    if (!replica_is(root, REPLICA_ELEMENT)) {
        replica_bad("root element <%s> is not <%s>", (const char *)root->name, REPLICA_ELEMENT);
        return NULL;
    }
    if (!root->ns) {
        replica_bad("root element <%s> has no namespace: expected %s", REPLICA_ELEMENT, REPLICA_NS);
        return NULL;
    }
    if (!replica_is_ns(root)) {
        v = replica_show((const char *)root->ns->href);
        replica_bad("root element <%s> is in namespace \"%s\", not %s",
                    REPLICA_ELEMENT, v, REPLICA_NS);
        return NULL;
    }
    /* The format decides how to read everything else, so it comes first. */
    format = replica_attr(root, "format");
    if (!format) {
        replica_bad("%s: attribute format missing", ctx);
        return NULL;
    }
    if (strcmp(format, "1") != 0) {
        v = replica_show(format);
        replica_bad("unknown metadata format \"%s\": this drover understands format %d only",
                    v, REPLICA_FORMAT);
        return NULL;
    }
    if (replica_check_attrs(ctx, root, attrs) < 0)
        return NULL;

    r = replica_new();
    for (c = root->children; c; c = c->next) {
        int k = replica_child_kind(ctx, c), rc;
        int *seen;

        if (k < 0)
            goto error;
        if (k == 0)
            continue;
        if (replica_is(c, "mode"))
            seen = &have_mode;
        else if (replica_is(c, "state"))
            seen = &have_state;
        else if (replica_is(c, "primary"))
            seen = &have_primary;
        else if (replica_is(c, "recovery-points"))
            seen = &have_points;
        else if (replica_is(c, "failover") || replica_is(c, "test-system") ||
                 replica_is(c, "journal") || replica_is(c, "replication"))
            seen = NULL;
        else {
            replica_unknown_element(ctx, c);
            goto error;
        }
        if ((seen && *seen) ||
            (replica_is(c, "failover") && r->failover) ||
            (replica_is(c, "test-system") && r->test) ||
            (replica_is(c, "journal") && r->journal) ||
            (replica_is(c, "replication") && r->repl)) {
            replica_bad("%s: duplicate element <%s>", ctx, (const char *)c->name);
            goto error;
        }
        if (seen)
            *seen = 1;
        if (replica_is(c, "mode"))
            rc = replica_parse_number_elem(c, "mode", MODE_MAX, &r->mode);
        else if (replica_is(c, "state"))
            rc = replica_parse_number_elem(c, "state", STATE_MAX, &r->state);
        else if (replica_is(c, "primary"))
            rc = replica_parse_primary(c, r);
        else if (replica_is(c, "recovery-points"))
            rc = replica_parse_points(c, r);
        else if (replica_is(c, "failover"))
            rc = replica_parse_failover(c, r);
        else if (replica_is(c, "test-system"))
            rc = replica_parse_test(c, r);
        else if (replica_is(c, "replication"))
            rc = replica_parse_repl(c, r);
        else
            rc = replica_parse_journal(c, r);
        if (rc < 0)
            goto error;
    }
    if (!have_mode || !have_state) {
        replica_bad("%s: element <%s> missing", ctx, have_mode ? "state" : "mode");
        goto error;
    }
    return r;

 error:
    replica_free(r);
    return NULL;
}

typedef struct {
    int have;
    char msg[512];
} ReplicaXmlError;

/* Keeps libxml2's first error (later ones are mostly consequences) and
 * keeps it off stderr. */
static void
replica_xml_error(void *data, xmlErrorPtr e)
{
    xmlParserCtxtPtr ctxt = data;
    ReplicaXmlError *xe = ctxt ? ctxt->_private : NULL;
    size_t n;

    if (!xe || !e || xe->have || e->level < XML_ERR_ERROR)
        return;
    snprintf(xe->msg, sizeof(xe->msg), "line %d: %s", e->line,
             e->message ? e->message : "error");
    n = strlen(xe->msg);
    while (n && (xe->msg[n - 1] == '\n' || xe->msg[n - 1] == ' '))
        xe->msg[--n] = '\0';
    xe->have = 1;
}

static pthread_once_t replica_xml_once = PTHREAD_ONCE_INIT;

/* libxml2 wants one initialization before threads parse. */
static void
replica_xml_init(void)
{
    xmlInitParser();
}

Replica *
replica_parse(const char *xml, size_t len)
{
    ReplicaXmlError xe = { 0 };
    xmlParserCtxtPtr ctxt = NULL;
    xmlDocPtr doc = NULL;
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
    ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        err_set(RESULT_OUT_OF_MEMORY, "replica metadata: cannot create an XML parser");
        return NULL;
    }
    /* Per-parser handler: the global ones are shared with libvirt. */
    ctxt->sax->serror = replica_xml_error;
    ctxt->_private = &xe;
    /* No XML_PARSE_NOENT or DTDLOAD: entities stay unexpanded and nothing
     * outside the document is read. */
    doc = xmlCtxtReadMemory(ctxt, xml, (int)len, NULL, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc || !ctxt->wellFormed || !ctxt->nsWellFormed) {
        if (!xe.have) {
            xmlErrorPtr e = xmlCtxtGetLastError(ctxt);

            snprintf(xe.msg, sizeof(xe.msg), "line %d: %s", e ? e->line : 0,
                     e && e->message ? e->message : "parse error");
        }
        replica_bad("not well-formed XML: %s", xe.msg);
        goto cleanup;
    }
    r = replica_parse_doc(doc);
    if (r && replica_validate(r) < 0) {
        replica_free(r);
        r = NULL;
    }

 cleanup:
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    return r;
}

