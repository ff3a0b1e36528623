/* SPDX-License-Identifier: GPL-2.0-or-later */
/* replica: the <drover:replica format="1"> metadata element (parsing is
 * in replica-parse.c).
 *
 * The parser only checks the shape of the document (elements, attributes,
 * namespaces, number and time syntax) and builds a Replica; every semantic
 * rule lives in replica_validate(), which the parser calls last, so a record
 * built in memory and a record read from libvirt obey the same rules. */
#include <config.h>

#include "record/replica.h"
#include "record/replica-priv.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlwriter.h>

#include "base/err.h"
#include "base/result.h"
#include "record/state.h"
#include "base/util.h"


static const char *const replica_ops[] = {
    "failover", "revert", "commit", "test-failover", "stop-test", "replicate", "resync", NULL
};

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

/* ---- validation --------------------------------------------------------- */

/* Strict UTF-8: no overlong forms, surrogates, or U+FFFE/U+FFFF, none of
 * which an XML document can carry. */
static int
replica_utf8_ok(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;

    while (*s) {
        unsigned int cp;
        int n, i;

        if (s[0] < 0x80) {
            s++;
            continue;
        }
        if (s[0] >= 0xC2 && s[0] <= 0xDF) {
            n = 1;
            cp = s[0] & 0x1F;
        } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
            n = 2;
            cp = s[0] & 0x0F;
        } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
            n = 3;
            cp = s[0] & 0x07;
        } else {
            return 0;
        }
        for (i = 1; i <= n; i++) {
            if ((s[i] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF)
            return 0;
        s += n + 1;
    }
    return 1;
}

/* Free text in an attribute.  Control characters are refused because XML
 * cannot carry most of them and normalizes the others to spaces. */
static int
replica_check_text(const char *ctx, const char *what, const char *s, size_t max)
{
    UTIL_AUTOFREE char *v = NULL;
    const unsigned char *p;

    if (!*s)
        return replica_bad("%s: %s is empty (leave the attribute out instead)", ctx, what);
    /* The value is shown only in a message: most records have none. */
    if (strlen(s) > max) {
        v = replica_show(s);
        return replica_bad("%s: %s \"%s\" is longer than %zu bytes", ctx, what, v, max);
    }
    if (!replica_utf8_ok(s)) {
        v = replica_show(s);
        return replica_bad("%s: %s \"%s\" is not valid UTF-8", ctx, what, v);
    }
    for (p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            v = replica_show(s);
            return replica_bad("%s: %s \"%s\" contains a control character", ctx, what, v);
        }
    }
    return 0;
}

static int
replica_check_id(const char *ctx, const char *what, const char *s)
{
    UTIL_AUTOFREE char *v = NULL;
    const unsigned char *p;

    if (!s)
        return replica_bad("%s: attribute %s missing", ctx, what);
    for (p = (const unsigned char *)s; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7f)
            break;
    }
    if (*s && !*p && strlen(s) <= REPLICA_MAX_ID)
        return 0;
    v = replica_show(s);
    return replica_bad("%s: %s \"%s\" must be 1-%d printable ASCII characters without spaces",
                       ctx, what, v, REPLICA_MAX_ID);
}

static int
replica_check_file(const char *ctx, const char *file)
{
    UTIL_AUTOFREE char *v = NULL;

    if (!file)
        return replica_bad("%s: attribute file missing", ctx);
    if (replica_check_text(ctx, "file", file, REPLICA_MAX_PATH) < 0)
        return -1;
    if (util_path_is_clean_absolute(file))
        return 0;
    v = replica_show(file);
    return replica_bad("%s: file \"%s\" is not a clean absolute path "
                       "(it must start with \"/\" and have no \".\", \"..\" or \"//\")", ctx, v);
}

static int
replica_check_time(const char *ctx, const char *what, int64_t t)
{
    if (t < 0 || t > REPLICA_MAX_TIME)
        return replica_bad("%s: %s %lld is outside 1970-01-01 to 9999-12-31",
                           ctx, what, (long long)t);
    return 0;
}

static int
replica_check_uuid(const char *ctx, const char *s)
{
    UTIL_AUTOFREE char *v = NULL;
    size_t i;

    for (i = 0; s[i] && i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = s[i];
        int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');

        if (dash ? c != '-' : !hex)
            break;
    }
    if (i == 36 && !s[i])
        return 0;
    v = replica_show(s);
    return replica_bad("%s: uuid \"%s\" is not a UUID like 4dea22b3-1d52-d8f3-2516-782e98ab3fa0",
                       ctx, v);
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

enum {
    DISKS_NEED_ONE = 1,         /* a point or overlay set has at least one disk */
    DISKS_UNIQUE_TARGETS = 2,   /* one file per disk: targets do not repeat */
    DISKS_INODE = 4,            /* inode may be recorded (journal deletions) */
    DISKS_BEFORE = 8,           /* the disk element before failover may be recorded */
};

static int
replica_check_disks(const char *ctx, const char *elem, const ReplicaDiskList *l,
                    size_t max, int flags)
{
    char dctx[REPLICA_CTX_MAX];
    size_t i, j;

    if (l->n == 0 && (flags & DISKS_NEED_ONE))
        return replica_bad("%s: no <%s>: at least one is required", ctx, elem);
    if (l->n > max)
        return replica_bad("%s: %zu <%s> elements, at most %zu are allowed", ctx, l->n, elem, max);
    if (l->n && !l->v)
        return replica_bad("%s: %zu <%s> elements but no list", ctx, l->n, elem);
    for (i = 0; i < l->n; i++) {
        const ReplicaDisk *d = &l->v[i];

        replica_disk_ctx(dctx, sizeof(dctx), ctx, elem, d->target, i);
        if (replica_check_id(dctx, "target", d->target) < 0 ||
            replica_check_file(dctx, d->file) < 0)
            return -1;
        if (d->inode && !(flags & DISKS_INODE))
            return replica_bad("%s: an inode is only recorded for <remove>", dctx);
        if (d->before && !(flags & DISKS_BEFORE))
            return replica_bad("%s: <before> is only recorded for failover disks", dctx);
        if (d->before && strlen(d->before) > REPLICA_MAX_BEFORE)
            return replica_bad("%s: <before> is longer than %d bytes", dctx, REPLICA_MAX_BEFORE);
        if (flags & DISKS_UNIQUE_TARGETS) {
            for (j = 0; j < i; j++) {
                if (strcmp(l->v[j].target, d->target) == 0)
                    return replica_bad("%s: duplicate disk target: each disk may appear once",
                                       dctx);
            }
        }
    }
    return 0;
}

static char *
replica_target_names(const ReplicaDiskList *l)
{
    UtilBuf b = { 0 };
    size_t i;

    for (i = 0; i < l->n; i++) {
        if (i)
            util_buf_add(&b, ", ");
        util_buf_add(&b, l->v[i].target);
    }
    return util_buf_steal(&b);
}

/* Both lists are checked and have unique targets. */
static int
replica_check_same_targets(const char *ctx, const ReplicaDiskList *l,
                           const ReplicaDiskList *ref, const char *why)
{
    UTIL_AUTOFREE char *names = NULL;
    UTIL_AUTOFREE char *v = NULL;
    const char *what = NULL;
    size_t i;

    for (i = 0; i < ref->n && !what; i++) {
        if (!replica_disk_list_find(l, ref->v[i].target)) {
            v = replica_show(ref->v[i].target);
            what = "missing";
        }
    }
    for (i = 0; i < l->n && !what; i++) {
        if (!replica_disk_list_find(ref, l->v[i].target)) {
            v = replica_show(l->v[i].target);
            what = "is one too many";
        }
    }
    if (!what)
        return 0;
    names = replica_target_names(ref);
    return replica_bad("%s: <disk target=\"%s\"> %s: %s (%s)", ctx, v, what, why, names);
}

/* Where a file is named, for the uniqueness checks. */
typedef struct {
    const char *file;
    const char *target;
    const char *elem;       /* "disk", "remove", ... */
    const char *owner;      /* "<point id=...>", "<failover>", ... (owned by the table) */
    size_t seq;             /* document order: the later one is the offender */
} ReplicaFileRef;

static int
replica_fileref_cmp(const void *a, const void *b)
{
    const ReplicaFileRef *x = a, *y = b;
    int c = strcmp(x->file, y->file);

    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

typedef struct {
    ReplicaFileRef *v;
    size_t n, cap;
    char **owners;
    size_t nowners, capowners;
} ReplicaFileTable;

static const char *
replica_table_owner(ReplicaFileTable *t, const char *owner)
{
    util_grow(&t->owners, &t->capowners, t->nowners + 1, sizeof(*t->owners));
    t->owners[t->nowners] = util_xstrdup(owner);
    return t->owners[t->nowners++];
}

static void
replica_table_add(ReplicaFileTable *t, const char *owner, const char *elem,
                  const ReplicaDiskList *l)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        util_grow(&t->v, &t->cap, t->n + 1, sizeof(*t->v));
        t->v[t->n].file = l->v[i].file;
        t->v[t->n].target = l->v[i].target;
        t->v[t->n].elem = elem;
        t->v[t->n].owner = owner;
        t->v[t->n].seq = t->n;
        t->n++;
    }
}

/* Refuses a file named twice in the table. */
static int
replica_table_check(ReplicaFileTable *t, const char *why)
{
    size_t i;

    if (t->n > 1)
        qsort(t->v, t->n, sizeof(*t->v), replica_fileref_cmp);
    for (i = 1; i < t->n; i++) {
        const ReplicaFileRef *a = &t->v[i - 1], *b = &t->v[i];

        if (strcmp(a->file, b->file) == 0) {
            UTIL_AUTOFREE char *f = replica_show(b->file);
            UTIL_AUTOFREE char *ta = replica_show(a->target);
            UTIL_AUTOFREE char *tb = replica_show(b->target);

            return replica_bad("%s: <%s target=\"%s\"> file \"%s\" is already the file of "
                               "%s <%s target=\"%s\">: %s",
                               b->owner, b->elem, tb, f, a->owner, a->elem, ta, why);
        }
    }
    return 0;
}

static void
replica_table_free(ReplicaFileTable *t)
{
    size_t i;

    for (i = 0; i < t->nowners; i++)
        free(t->owners[i]);
    free(t->owners);
    free(t->v);
}

static int
replica_validate_points(const Replica *r)
{
    char ctx[REPLICA_CTX_MAX];
    size_t i, j;

    if (r->npoints > REPLICA_MAX_POINTS)
        return replica_bad("<recovery-points>: %zu points, at most %d are allowed",
                           r->npoints, REPLICA_MAX_POINTS);
    if (r->npoints && !r->points)
        return replica_bad("<recovery-points>: %zu points but no list", r->npoints);
    for (i = 0; i < r->npoints; i++) {
        const ReplicaPoint *p = &r->points[i];

        replica_point_ctx(ctx, sizeof(ctx), p->id, i);
        if (replica_check_id(ctx, "id", p->id) < 0)
            return -1;
        for (j = 0; j < i; j++) {
            if (strcmp(r->points[j].id, p->id) == 0)
                return replica_bad("%s: duplicate point id (also point #%zu)", ctx, j + 1);
        }
        if (replica_check_time(ctx, "time", p->time) < 0)
            return -1;
        if (p->type < RP_TYPE_STANDARD || p->type > RP_TYPE_PLANNED)
            return replica_bad("%s: type %d is not a recovery point type "
                               "(standard, app-consistent, planned)", ctx, p->type);
        if (p->checkpoint && replica_check_id(ctx, "checkpoint", p->checkpoint) < 0)
            return -1;
        if (replica_check_disks(ctx, "disk", &p->disks, REPLICA_MAX_DISKS,
                                DISKS_NEED_ONE | DISKS_UNIQUE_TARGETS) < 0)
            return -1;
        if (i > 0 &&
            replica_check_same_targets(ctx, &p->disks, &r->points[0].disks,
                                       "every point must have the same disks as the first") < 0)
            return -1;
    }
    return 0;
}

/* The shared part of <failover> and <test-system>: a point and overlays. */
static int
replica_validate_overlays(const Replica *r, const char *ctx, const char *point,
                          int64_t t, const ReplicaDiskList *disks, int flags, const char *why)
{
    UTIL_AUTOFREE char *v = NULL;

    if (replica_check_id(ctx, "point", point) < 0)
        return -1;
    if (!replica_find_point(r, point)) {
        v = replica_show(point);
        return replica_bad("%s: point \"%s\" is not a recovery point of this replica", ctx, v);
    }
    if (replica_check_time(ctx, "time", t) < 0)
        return -1;
    if (replica_check_disks(ctx, "disk", disks, REPLICA_MAX_DISKS,
                            DISKS_NEED_ONE | DISKS_UNIQUE_TARGETS | flags) < 0)
        return -1;
    return replica_check_same_targets(ctx, disks, &r->points[0].disks, why);
}

static int
replica_validate_failover(const Replica *r)
{
    const ReplicaFailover *f = r->failover;

    if (!f) {
        if (r->state == STATE_RECOVERED)
            return replica_bad("<failover> missing: state 5 (Recovered) requires it");
        return 0;
    }
    if (r->state != STATE_RECOVERED && r->state != STATE_FAILOVER_IN_PROGRESS)
        return replica_bad("<failover>: not allowed in state %d: only in state 5 (Recovered) "
                           "or 12 (Failover in progress)", r->state);
    if (replica_validate_overlays(r, "<failover>", f->point, f->time, &f->disks, DISKS_BEFORE,
                                  "the failover needs one disk for each disk of the points") < 0)
        return -1;
    if (f->by && replica_check_text("<failover>", "by", f->by, REPLICA_MAX_TEXT) < 0)
        return -1;
    return 0;
}

static int
replica_validate_test(const Replica *r)
{
    const ReplicaTest *t = r->test;

    if (!t)
        return 0;
    if (!t->domain)
        return replica_bad("<test-system>: attribute domain missing");
    if (replica_check_text("<test-system>", "domain", t->domain, REPLICA_MAX_TEXT) < 0)
        return -1;
    if (t->uuid && replica_check_uuid("<test-system>", t->uuid) < 0)
        return -1;
    if (t->nvram && replica_check_file("<test-system> nvram", t->nvram) < 0)
        return -1;
    return replica_validate_overlays(r, "<test-system>", t->point, t->time, &t->disks, 0,
                                     "the test system needs one disk for each disk of the points");
}

/* No two disks of points, failover and test system share a file: an
 * overlay that is a point's file would be written to, or deleted. */
static int
replica_validate_files(const Replica *r)
{
    ReplicaFileTable t = { 0 };
    char ctx[REPLICA_CTX_MAX];
    size_t i;
    int ret;

    for (i = 0; i < r->npoints; i++) {
        replica_point_ctx(ctx, sizeof(ctx), r->points[i].id, i);
        replica_table_add(&t, replica_table_owner(&t, ctx), "disk", &r->points[i].disks);
    }
    if (r->failover)
        replica_table_add(&t, "<failover>", "disk", &r->failover->disks);
    if (r->test)
        replica_table_add(&t, "<test-system>", "disk", &r->test->disks);
    ret = replica_table_check(&t, "every disk needs its own file");
    replica_table_free(&t);
    return ret;
}

static int
replica_validate_journal_list(const char *elem, const ReplicaDiskList *l, int flags)
{
    ReplicaFileTable t = { 0 };
    int ret;

    if (replica_check_disks("<journal>", elem, l, REPLICA_MAX_JOURNAL_FILES, flags) < 0)
        return -1;
    replica_table_add(&t, "<journal>", elem, l);
    ret = replica_table_check(&t, "the journal names each file once");
    replica_table_free(&t);
    return ret;
}

static int
replica_validate_journal(const ReplicaJournal *j)
{
    UTIL_AUTOFREE char *v = NULL;
    size_t i;

    if (!j->op)
        return replica_bad("<journal>: attribute op missing");
    for (i = 0; replica_ops[i]; i++) {
        if (strcmp(j->op, replica_ops[i]) == 0)
            break;
    }
    if (!replica_ops[i]) {
        v = replica_show(j->op);
        return replica_bad("<journal>: op \"%s\" is not an operation "
                           "(failover, revert, commit, test-failover, stop-test)", v);
    }
    if (replica_check_id("<journal>", "job", j->job) < 0)
        return -1;
    if (!j->step)
        return replica_bad("<journal>: attribute step missing");
    if (strcmp(j->step, "prepared") != 0 && strcmp(j->step, "switched") != 0) {
        v = replica_show(j->step);
        return replica_bad("<journal>: step \"%s\" is neither \"prepared\" nor \"switched\"", v);
    }
    if (replica_check_time("<journal>", "time", j->time) < 0)
        return -1;
    if (j->from_state < 0 || j->from_state > STATE_MAX)
        return replica_bad("<journal>: from %d is not a state number (0-%d)",
                           j->from_state, STATE_MAX);
    if (j->to_state < 0 || j->to_state > STATE_MAX)
        return replica_bad("<journal>: to %d is not a state number (0-%d)",
                           j->to_state, STATE_MAX);
    /* Not looked up: a commit's journal may outlive points it deletes. */
    if (j->point && replica_check_id("<journal>", "point", j->point) < 0)
        return -1;
    if (j->domain && !*j->domain)
        return replica_bad("<journal>: domain is empty");
    if (j->uuid && replica_check_uuid("<journal>", j->uuid) < 0)
        return -1;
    if (replica_validate_journal_list("create", &j->create, 0) < 0 ||
        replica_validate_journal_list("remove", &j->remove, DISKS_INODE) < 0)
        return -1;
    return 0;
}

static int
replica_validate_repl(const ReplicaRepl *p)
{
    const char *ctx = "<replication>";

    if (!p->dir)
        return replica_bad("%s: attribute dir missing", ctx);
    if (replica_check_text(ctx, "dir", p->dir, REPLICA_MAX_PATH) < 0)
        return -1;
    if (!util_path_is_clean_absolute(p->dir)) {
        UTIL_AUTOFREE char *v = replica_show(p->dir);
        return replica_bad("%s: dir \"%s\" is not a clean absolute path", ctx, v);
    }
    if (p->nbd && replica_check_text(ctx, "nbd", p->nbd, REPLICA_MAX_TEXT) < 0)
        return -1;
    if (p->tls && replica_check_text(ctx, "tls", p->tls, REPLICA_MAX_PATH) < 0)
        return -1;
    if (p->tls && !util_path_is_clean_absolute(p->tls)) {
        UTIL_AUTOFREE char *v = replica_show(p->tls);
        return replica_bad("%s: tls \"%s\" is not a clean absolute path", ctx, v);
    }
    if (p->interval < 0 || p->points < 0 || p->app_every < 0)
        return replica_bad("%s: interval and points must not be negative", ctx);
    return 0;
}

int
replica_validate(const Replica *r)
{
    if (!r)
        return replica_bad("no record");
    if (r->format != REPLICA_FORMAT)
        return replica_bad("unknown metadata format \"%d\": this drover understands format %d only",
                           r->format, REPLICA_FORMAT);
    if (r->mode < 0 || r->mode > MODE_MAX)
        return replica_bad("<mode>: %d is not a mode number (0-%d)", r->mode, MODE_MAX);
    if (r->state < 0 || r->state > STATE_MAX)
        return replica_bad("<state>: %d is not a state number (0-%d)", r->state, STATE_MAX);
    if ((r->primary_host &&
         replica_check_text("<primary>", "host", r->primary_host, REPLICA_MAX_TEXT) < 0) ||
        (r->primary_uri &&
         replica_check_text("<primary>", "uri", r->primary_uri, REPLICA_MAX_TEXT) < 0) ||
        (r->primary_name &&
         replica_check_text("<primary>", "name", r->primary_name, REPLICA_MAX_TEXT) < 0))
        return -1;
    if (replica_validate_points(r) < 0 ||
        replica_validate_failover(r) < 0 ||
        replica_validate_test(r) < 0 ||
        replica_validate_files(r) < 0)
        return -1;
    if (r->journal && replica_validate_journal(r->journal) < 0)
        return -1;
    if (r->repl && replica_validate_repl(r->repl) < 0)
        return -1;
    return 0;
}

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
