/* SPDX-License-Identifier: GPL-2.0-or-later */
/* replica: the <drover:replica format="1"> metadata element: the record in
 * memory (names, copies, lookups, its directory and lock) and the messages
 * about it.  Parsing is in replica-parse.c and replica-parse-element.c, the
 * rules in replica-validate.c, writing in replica-format.c.
 *
 * The parser only checks the shape of the document (elements, attributes,
 * namespaces, number and time syntax) and builds a Replica; every semantic
 * rule lives in replica_validate(), which the parser calls last, so a record
 * built in memory and a record read from libvirt obey the same rules. */
#include <config.h>

#include "record/replica.h"
#include "record/replica-priv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"

/* ---- errors ---------------------------------------------------------- */


/* Sets a 32776 error and returns -1, so checks read "return replica_bad()". */
int
replica_bad(const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = util_xvasprintf(fmt, ap);
    va_end(ap);
    err_set(RESULT_INCORRECT_TYPE, "replica metadata: %s", msg);
    free(msg);
    return -1;
}

/* A value for a message: control characters become '?', long values are
 * cut at a character boundary so one bad attribute cannot fill the message. */
char *
replica_show(const char *s)
{
    size_t n, len, i;
    char *v;

    if (!s)
        return util_xstrdup("(null)");
    len = n = strlen(s);
    if (n > 80) {
        n = 80;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    /* One allocation: every record's checks build messages' contexts. */
    v = util_xmalloc(n + (n < len ? 3 : 0) + 1);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        v[i] = c < 0x20 || c == 0x7f ? '?' : s[i];
    }
    if (n < len) {
        memcpy(v + n, "...", 3);
        n += 3;
    }
    v[n] = '\0';
    return v;
}

/* s is shown as it is: no control character, and not cut. */
static int
replica_show_same(const char *s)
{
    const unsigned char *p;

    for (p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f || p - (const unsigned char *)s >= 80)
            return 0;
    return 1;
}

char *
replica_show_free(char *s)
{
    char *v = replica_show(s);

    free(s);
    return v;
}

/* Appends to a context string as snprintf would write it: cut to size.
 * Contexts are made for every point and disk, message or not, and
 * snprintf was most of their cost. */
static void
replica_ctx_add(char *buf, size_t size, size_t *len, const char *s)
{
    size_t n = strlen(s);

    if (*len + 1 >= size)
        return;
    if (n > size - 1 - *len)
        n = size - 1 - *len;
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = '\0';
}

void
replica_point_ctx(char *buf, size_t size, const char *id, size_t idx)
{
    UTIL_AUTOFREE char *v = NULL;
    size_t len = 0;

    if (!id) {
        snprintf(buf, size, "<point> #%zu", idx + 1);
        return;
    }
    if (!replica_show_same(id))
        v = replica_show(id);
    if (size)
        buf[0] = '\0';
    replica_ctx_add(buf, size, &len, "<point id=\"");
    replica_ctx_add(buf, size, &len, v ? v : id);
    replica_ctx_add(buf, size, &len, "\">");
}

void
replica_disk_ctx(char *buf, size_t size, const char *ctx, const char *elem,
                 const char *target, size_t idx)
{
    UTIL_AUTOFREE char *v = NULL;
    size_t len = 0;

    if (!target) {
        snprintf(buf, size, "%s: <%s> #%zu", ctx, elem, idx + 1);
        return;
    }
    if (!replica_show_same(target))
        v = replica_show(target);
    if (size)
        buf[0] = '\0';
    replica_ctx_add(buf, size, &len, ctx);
    replica_ctx_add(buf, size, &len, ": <");
    replica_ctx_add(buf, size, &len, elem);
    replica_ctx_add(buf, size, &len, " target=\"");
    replica_ctx_add(buf, size, &len, v ? v : target);
    replica_ctx_add(buf, size, &len, "\">");
}

/* ---- names ------------------------------------------------------------ */

const char *
replica_rp_type_name(int type)
{
    switch (type) {
    case RP_TYPE_STANDARD: return "standard";
    case RP_TYPE_APP_CONSISTENT: return "app-consistent";
    case RP_TYPE_PLANNED: return "planned";
    default: return "invalid";
    }
}

int
replica_rp_type_from_name(const char *name)
{
    int t;

    if (!name)
        return -1;
    for (t = RP_TYPE_STANDARD; t <= RP_TYPE_PLANNED; t++) {
        if (strcmp(name, replica_rp_type_name(t)) == 0)
            return t;
    }
    return -1;
}

/* ---- memory ----------------------------------------------------------- */

void
replica_disk_list_clear(ReplicaDiskList *l)
{
    size_t i;

    if (!l)
        return;
    for (i = 0; i < l->n; i++) {
        free(l->v[i].target);
        free(l->v[i].file);
        free(l->v[i].before);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

void
replica_disk_list_add(ReplicaDiskList *l, const char *target, const char *file, uint64_t inode)
{
    ReplicaDisk *d;

    /* Lists carry no capacity, so grow by one: lists are short and built once. */
    l->v = util_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
    d = &l->v[l->n++];
    d->target = util_xstrdup(target);
    d->file = util_xstrdup(file);
    d->inode = inode;
    d->before = NULL;
}

/* dst is overwritten, not cleared first: it may be a shallow copy of src's
 * owner, and freeing it would free src. */
void
replica_disk_list_copy(ReplicaDiskList *dst, const ReplicaDiskList *src)
{
    size_t i;

    dst->v = NULL;
    dst->n = 0;
    if (!src || src->n == 0)
        return;
    dst->v = util_xcalloc(src->n, sizeof(*dst->v));
    for (i = 0; i < src->n; i++) {
        dst->v[i].target = util_xstrdup(src->v[i].target);
        dst->v[i].file = util_xstrdup(src->v[i].file);
        dst->v[i].inode = src->v[i].inode;
        dst->v[i].before = util_xstrdup(src->v[i].before);
    }
    dst->n = src->n;
}

const ReplicaDisk *
replica_disk_list_find(const ReplicaDiskList *l, const char *target)
{
    size_t i;

    if (!l || !target)
        return NULL;
    for (i = 0; i < l->n; i++) {
        if (util_streq(l->v[i].target, target))
            return &l->v[i];
    }
    return NULL;
}

void
replica_failover_free(ReplicaFailover *f)
{
    if (!f)
        return;
    free(f->point);
    free(f->by);
    replica_disk_list_clear(&f->disks);
    free(f);
}

void
replica_test_free(ReplicaTest *t)
{
    if (!t)
        return;
    free(t->domain);
    free(t->uuid);
    free(t->point);
    free(t->nvram);
    replica_disk_list_clear(&t->disks);
    free(t);
}

void
replica_repl_free(ReplicaRepl *p)
{
    if (!p)
        return;
    free(p->dir);
    free(p->nbd);
    free(p->tls);
    free(p);
}

void
replica_journal_free(ReplicaJournal *j)
{
    if (!j)
        return;
    free(j->op);
    free(j->job);
    free(j->step);
    free(j->point);
    free(j->domain);
    free(j->uuid);
    replica_disk_list_clear(&j->create);
    replica_disk_list_clear(&j->remove);
    free(j);
}

static void
replica_point_clear(ReplicaPoint *p)
{
    free(p->id);
    p->id = NULL;
    free(p->checkpoint);
    p->checkpoint = NULL;
    replica_disk_list_clear(&p->disks);
}

void
replica_free(Replica *r)
{
    size_t i;

    if (!r)
        return;
    free(r->primary_host);
    free(r->primary_uri);
    free(r->primary_name);
    for (i = 0; i < r->npoints; i++)
        replica_point_clear(&r->points[i]);
    free(r->points);
    replica_failover_free(r->failover);
    replica_test_free(r->test);
    replica_journal_free(r->journal);
    replica_repl_free(r->repl);
    free(r);
}

Replica *
replica_new(void)
{
    Replica *r = util_xcalloc(1, sizeof(*r));

    r->format = REPLICA_FORMAT;
    return r;
}

Replica *
replica_copy(const Replica *r)
{
    Replica *c;
    size_t i;

    if (!r)
        return NULL;
    c = util_xcalloc(1, sizeof(*c));
    c->format = r->format;
    c->mode = r->mode;
    c->state = r->state;
    c->primary_host = util_xstrdup(r->primary_host);
    c->primary_uri = util_xstrdup(r->primary_uri);
    c->primary_name = util_xstrdup(r->primary_name);
    if (r->npoints) {
        c->points = util_xcalloc(r->npoints, sizeof(*c->points));
        for (i = 0; i < r->npoints; i++) {
            c->points[i].id = util_xstrdup(r->points[i].id);
            c->points[i].time = r->points[i].time;
            c->points[i].type = r->points[i].type;
            c->points[i].checkpoint = util_xstrdup(r->points[i].checkpoint);
            replica_disk_list_copy(&c->points[i].disks, &r->points[i].disks);
        }
        c->npoints = r->npoints;
    }
    if (r->failover) {
        c->failover = util_xcalloc(1, sizeof(*c->failover));
        c->failover->point = util_xstrdup(r->failover->point);
        c->failover->time = r->failover->time;
        c->failover->by = util_xstrdup(r->failover->by);
        replica_disk_list_copy(&c->failover->disks, &r->failover->disks);
    }
    if (r->test) {
        c->test = util_xcalloc(1, sizeof(*c->test));
        c->test->domain = util_xstrdup(r->test->domain);
        c->test->uuid = util_xstrdup(r->test->uuid);
        c->test->point = util_xstrdup(r->test->point);
        c->test->time = r->test->time;
        c->test->nvram = util_xstrdup(r->test->nvram);
        replica_disk_list_copy(&c->test->disks, &r->test->disks);
    }
    if (r->journal) {
        c->journal = util_xcalloc(1, sizeof(*c->journal));
        c->journal->op = util_xstrdup(r->journal->op);
        c->journal->job = util_xstrdup(r->journal->job);
        c->journal->step = util_xstrdup(r->journal->step);
        c->journal->time = r->journal->time;
        c->journal->from_state = r->journal->from_state;
        c->journal->to_state = r->journal->to_state;
        c->journal->point = util_xstrdup(r->journal->point);
        c->journal->domain = util_xstrdup(r->journal->domain);
        c->journal->uuid = util_xstrdup(r->journal->uuid);
        c->journal->flatten = r->journal->flatten;
        replica_disk_list_copy(&c->journal->create, &r->journal->create);
        replica_disk_list_copy(&c->journal->remove, &r->journal->remove);
    }
    if (r->repl) {
        c->repl = util_xcalloc(1, sizeof(*c->repl));
        c->repl->dir = util_xstrdup(r->repl->dir);
        c->repl->nbd = util_xstrdup(r->repl->nbd);
        c->repl->tls = util_xstrdup(r->repl->tls);
        c->repl->interval = r->repl->interval;
        c->repl->points = r->repl->points;
        c->repl->app_every = r->repl->app_every;
    }
    return c;
}

/* ---- lookups ---------------------------------------------------------- */

const ReplicaPoint *
replica_find_point(const Replica *r, const char *id)
{
    size_t i;

    if (!r || !id)
        return NULL;
    for (i = 0; i < r->npoints; i++) {
        if (util_streq(r->points[i].id, id))
            return &r->points[i];
    }
    return NULL;
}

const ReplicaPoint *
replica_newest_point(const Replica *r)
{
    const ReplicaPoint *best = NULL;
    size_t i;

    if (!r)
        return NULL;
    for (i = 0; i < r->npoints; i++) {
        if (!best || r->points[i].time >= best->time)
            best = &r->points[i];
    }
    return best;
}

char *
replica_dir(const Replica *r)
{
    const ReplicaPoint *newest = replica_newest_point(r);

    if ((!newest || !newest->disks.n) && r && r->repl && r->repl->dir)
        return util_xstrdup(r->repl->dir);
    if (!newest || !newest->disks.n)
        return NULL;
    return util_dirname(newest->disks.v[0].file);
}

char *
replica_lock_path(const Replica *r, const char *uuid)
{
    UTIL_AUTOFREE char *dir = replica_dir(r);

    return dir ? util_xasprintf("%s/.drover-%s.lock", dir, uuid) : NULL;
}
