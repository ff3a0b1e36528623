/* SPDX-License-Identifier: GPL-2.0-or-later */
/* replica-validate: every semantic rule of a replica record
 * (replica_validate): text, identifiers, paths, times and UUIDs; the same
 * disks in every point, failover and test system; each file named once;
 * the journal and <replication>.  The parser calls it last. */
#include <config.h>

#include "record/replica.h"
#include "record/replica-priv.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "record/state.h"

static const char *const replica_ops[] = {
    "failover", "revert", "commit", "test-failover", "stop-test", "replicate", "resync", NULL
};

/* ---- validation --------------------------------------------------------- */

/* Strict UTF-8: no overlong forms, surrogates, or U+FFFE/U+FFFF, none of
 * which an XML document can carry. */
int
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
