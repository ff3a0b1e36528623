/* SPDX-License-Identifier: GPL-2.0-or-later */
/* replica-parse-element: the elements of a <drover:replica> document as
 * the SAX2 parser (replica-parse.c) meets them: each element's name,
 * namespace and attributes checked when it starts, what follows its
 * children when it ends, the values' syntax (numbers, times, states), and
 * the Replica they build. */
#include <config.h>

#include "record/replica.h"
#include "record/replica-priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "record/state.h"

int
replica_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The parser hands an '&' of an attribute value over as "&#38;" (entities
 * stay unexpanded), which the tree decoded. */
static char *
replica_attr_value(const xmlChar *v, const xmlChar *end)
{
    size_t n = (size_t)(end - v);
    char *s = util_xstrndup((const char *)v, n);
    char *p, *w;

    if (!memchr(s, '&', n))
        return s;
    for (p = w = s; *p;) {
        if (strncmp(p, "&#38;", 5) == 0) {
            *w++ = '&';
            p += 5;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
    return s;
}

/* The attribute name without a namespace, or NULL. */
static char *
replica_attr(const ReplicaAttrs *a, const char *name)
{
    int i;

    for (i = 0; i < a->n; i++) {
        const xmlChar **x = a->v + 5 * i;

        if (!x[2] && strcmp((const char *)x[0], name) == 0)
            return replica_attr_value(x[3], x[4]);
    }
    return NULL;
}

static int
replica_unknown_element(const char *ctx, const char *name)
{
    return replica_bad("%s: unknown element <%s>", ctx, name);
}

/* An element among elements: 0 when it is one of ours, -1 with the error
 * set, so that no data is silently dropped. */
static int
replica_check_ns(const char *ctx, const char *name, const xmlChar *uri)
{
    UTIL_AUTOFREE char *v = NULL;

    if (uri && strcmp((const char *)uri, REPLICA_NS) == 0)
        return 0;
    if (!uri)
        return replica_bad("%s: element <%s> has no namespace: every element must be in %s",
                           ctx, name, REPLICA_NS);
    v = replica_show((const char *)uri);
    return replica_bad("%s: element <%s> is in namespace \"%s\": every element must be in %s",
                       ctx, name, v, REPLICA_NS);
}

/* Refuses attributes outside allowed (NULL-terminated). */
static int
replica_check_attrs(const char *ctx, const ReplicaAttrs *a, const char *const *allowed)
{
    int k;
    size_t i;

    for (k = 0; k < a->n; k++) {
        const xmlChar **x = a->v + 5 * k;

        if (x[2])
            return replica_bad("%s: attribute %s:%s is not allowed", ctx,
                               x[1] ? (const char *)x[1] : "", (const char *)x[0]);
        for (i = 0; allowed[i]; i++) {
            if (strcmp((const char *)x[0], allowed[i]) == 0)
                break;
        }
        if (!allowed[i]) {
            UtilBuf b = { 0 };
            int ret;

            for (i = 0; allowed[i]; i++)
                util_buf_printf(&b, "%s%s", i ? ", " : "", allowed[i]);
            ret = replica_bad("%s: unknown attribute %s (allowed: %s)", ctx,
                              (const char *)x[0], b.s ? b.s : "none");
            util_buf_free(&b);
            return ret;
        }
    }
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
int
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

/* Seconds since the epoch of a date and time of the proleptic Gregorian
 * calendar (days from civil, H. Hinnant's algorithm). */
static int64_t
replica_epoch(int64_t y, int64_t m, int64_t d, int64_t hh, int64_t mm, int64_t ss)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = y / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (era * 146097 + doe - 719468) * 86400 + hh * 3600 + mm * 60 + ss;
}

/* "YYYY-MM-DDTHH:MM:SSZ" exactly, a real time from 1970 to 9999: what
 * strptime/timegm would quietly normalize (Feb 30, 24:00, second 60) is
 * refused.  Read by hand: strptime and strftime were a tenth of a parse. */
static int
replica_parse_time(const char *ctx, const ReplicaAttrs *a, const char *name, int64_t *out)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    UTIL_AUTOFREE char *s = replica_attr(a, name);
    UTIL_AUTOFREE char *v = NULL;
    int y, mo, d, h, mi, sec, dim;
    size_t i;

    if (!s)
        return replica_bad("%s: attribute %s missing", ctx, name);
    for (i = 0; shape[i] && s[i]; i++) {
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            break;
    }
    if (!shape[i] && !s[i]) {
#define D2(k) ((s[k] - '0') * 10 + (s[k + 1] - '0'))
        y = D2(0) * 100 + D2(2);
        mo = D2(5);
        d = D2(8);
        h = D2(11);
        mi = D2(14);
        sec = D2(17);
#undef D2
        dim = mo >= 1 && mo <= 12 ? mdays[mo - 1] : 0;
        if (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
            dim = 29;
        if (y >= 1970 && d >= 1 && d <= dim && h <= 23 && mi <= 59 && sec <= 59) {
            *out = replica_epoch(y, mo, d, h, mi, sec);
            return 0;
        }
    }
    v = replica_show(s);
    return replica_bad("%s: %s \"%s\" is not a UTC time like 2026-11-24T09:00:00Z", ctx, name, v);
}

static int
replica_parse_state_attr(const char *ctx, const ReplicaAttrs *a, const char *name, int *out)
{
    UTIL_AUTOFREE char *s = replica_attr(a, name);
    char label[64];

    if (!s)
        return replica_bad("%s: attribute %s missing", ctx, name);
    snprintf(label, sizeof(label), "%s ", name);
    return replica_parse_small(ctx, label, "state", s, STATE_MAX, out);
}

/* A <disk>, <create> or <remove> starts: its attributes. */
static int
replica_disk_start(ReplicaSax *s, const char *ctx, const char *name, const ReplicaAttrs *a,
                   int with_inode, ReplicaDiskList *l, size_t *cap)
{
    static const char *const attrs[] = { "target", "file", NULL };
    static const char *const attrs_inode[] = { "target", "file", "inode", NULL };

    s->target = replica_attr(a, "target");
    s->file = replica_attr(a, "file");
    s->inode = replica_attr(a, "inode");
    s->disk_list = l;
    s->disk_cap = cap;
    replica_disk_ctx(s->disk_ctx, sizeof(s->disk_ctx), ctx, name, s->target, l->n);
    return replica_check_attrs(s->disk_ctx, a, with_inode ? attrs_inode : attrs);
}

/* ... and ends, after its children. */
int
replica_disk_end(ReplicaSax *s)
{
    ReplicaDiskList *l = s->disk_list;
    uint64_t ino = 0;
    ReplicaDisk *d;

    if (s->inode && replica_parse_uint(s->inode, UINT64_MAX, &ino) < 0) {
        UTIL_AUTOFREE char *v = replica_show(s->inode);
        return replica_bad("%s: inode \"%s\" is not a decimal number", s->disk_ctx, v);
    }
    util_grow(&l->v, s->disk_cap, l->n + 1, sizeof(*l->v));
    d = &l->v[l->n++];
    d->target = UTIL_STEAL(&s->target);
    d->file = UTIL_STEAL(&s->file);
    d->inode = ino;
    d->before = UTIL_STEAL(&s->before);
    free(s->inode);
    s->inode = NULL;
    return 0;
}

static int
replica_point_start(ReplicaSax *s, const ReplicaAttrs *a)
{
    static const char *const attrs[] = { "id", "time", "type", "checkpoint", NULL };
    Replica *r = s->r;
    const char *ctx = s->point_ctx;
    UTIL_AUTOFREE char *type = NULL;
    UTIL_AUTOFREE char *v = NULL;
    ReplicaPoint *p;

    if (r->npoints >= REPLICA_MAX_POINTS)
        return replica_bad("<recovery-points>: more than %d points", REPLICA_MAX_POINTS);
    util_grow(&r->points, &s->cap_points, r->npoints + 1, sizeof(*r->points));
    /* Counted before parsing so a half-built point is freed with r. */
    p = &r->points[r->npoints++];
    p->id = replica_attr(a, "id");
    p->checkpoint = replica_attr(a, "checkpoint");
    replica_point_ctx(s->point_ctx, sizeof(s->point_ctx), p->id, r->npoints - 1);
    if (replica_check_attrs(ctx, a, attrs) < 0 ||
        replica_parse_time(ctx, a, "time", &p->time) < 0)
        return -1;
    type = replica_attr(a, "type");
    if (!type)
        return replica_bad("%s: attribute type missing", ctx);
    p->type = replica_rp_type_from_name(type);
    if (p->type < 0) {
        v = replica_show(type);
        return replica_bad("%s: type \"%s\" is not a recovery point type "
                           "(standard, app-consistent, planned)", ctx, v);
    }
    s->list = &p->disks;
    s->list_cap = 0;
    s->with_before = 0;
    return 0;
}

static int
replica_primary_start(ReplicaSax *s, const ReplicaAttrs *a)
{
    static const char *const attrs[] = { "host", "uri", "name", NULL };
    Replica *r = s->r;

    if (replica_check_attrs("<primary>", a, attrs) < 0)
        return -1;
    r->primary_host = replica_attr(a, "host");
    r->primary_uri = replica_attr(a, "uri");
    r->primary_name = replica_attr(a, "name");
    return 0;
}

static int
replica_repl_start(ReplicaSax *s, const ReplicaAttrs *a)
{
    static const char *const attrs[] = { "dir", "nbd", "interval", "points",
                                         "app-consistent-every", "tls", NULL };
    Replica *r = s->r;

    r->repl = util_xcalloc(1, sizeof(*r->repl));
    if (replica_check_attrs("<replication>", a, attrs) < 0)
        return -1;
    r->repl->dir = replica_attr(a, "dir");
    r->repl->nbd = replica_attr(a, "nbd");
    r->repl->tls = replica_attr(a, "tls");
    s->interval = replica_attr(a, "interval");
    s->points = replica_attr(a, "points");
    s->app = replica_attr(a, "app-consistent-every");
    return 0;
}

/* Its numbers come after its children, as they did. */
int
replica_repl_end(ReplicaSax *s)
{
    const char *ctx = "<replication>";
    ReplicaRepl *p = s->r->repl;

    if (s->interval && replica_parse_small(ctx, "interval ", "whole", s->interval,
                                           86400 * 366, &p->interval) < 0)
        return -1;
    if (s->points && replica_parse_small(ctx, "points ", "whole", s->points,
                                         REPLICA_MAX_POINTS, &p->points) < 0)
        return -1;
    if (s->app && replica_parse_small(ctx, "app-consistent-every ", "whole", s->app,
                                      86400 * 366, &p->app_every) < 0)
        return -1;
    return 0;
}

static int
replica_failover_start(ReplicaSax *s, const ReplicaAttrs *a)
{
    static const char *const attrs[] = { "point", "time", "by", NULL };
    const char *ctx = "<failover>";
    ReplicaFailover *f;

    f = s->r->failover = util_xcalloc(1, sizeof(*f));
    if (replica_check_attrs(ctx, a, attrs) < 0 ||
        replica_parse_time(ctx, a, "time", &f->time) < 0)
        return -1;
    f->point = replica_attr(a, "point");
    f->by = replica_attr(a, "by");
    s->list = &f->disks;
    s->list_cap = 0;
    s->with_before = 1;
    return 0;
}

static int
replica_test_start(ReplicaSax *s, const ReplicaAttrs *a)
{
    static const char *const attrs[] = { "domain", "uuid", "point", "time", "nvram", NULL };
    const char *ctx = "<test-system>";
    ReplicaTest *t;

    t = s->r->test = util_xcalloc(1, sizeof(*t));
    if (replica_check_attrs(ctx, a, attrs) < 0 ||
        replica_parse_time(ctx, a, "time", &t->time) < 0)
        return -1;
    t->domain = replica_attr(a, "domain");
    t->uuid = replica_attr(a, "uuid");
    t->point = replica_attr(a, "point");
    t->nvram = replica_attr(a, "nvram");
    s->list = &t->disks;
    s->list_cap = 0;
    s->with_before = 0;
    return 0;
}

static int
replica_journal_start(ReplicaSax *s, const ReplicaAttrs *a)
{
    static const char *const attrs[] = {
        "op", "job", "step", "time", "from", "to", "point", "domain", "uuid", "flatten", NULL
    };
    const char *ctx = "<journal>";
    UTIL_AUTOFREE char *fl = NULL;
    ReplicaJournal *j;

    j = s->r->journal = util_xcalloc(1, sizeof(*j));
    s->cap_create = s->cap_remove = 0;
    if (replica_check_attrs(ctx, a, attrs) < 0 ||
        replica_parse_time(ctx, a, "time", &j->time) < 0 ||
        replica_parse_state_attr(ctx, a, "from", &j->from_state) < 0 ||
        replica_parse_state_attr(ctx, a, "to", &j->to_state) < 0)
        return -1;
    j->op = replica_attr(a, "op");
    j->job = replica_attr(a, "job");
    j->step = replica_attr(a, "step");
    j->point = replica_attr(a, "point");
    j->domain = replica_attr(a, "domain");
    j->uuid = replica_attr(a, "uuid");
    fl = replica_attr(a, "flatten");
    if (fl && strcmp(fl, "yes") != 0) {
        UTIL_AUTOFREE char *v = replica_show(fl);
        return replica_bad("%s: flatten \"%s\" must be \"yes\" or absent", ctx, v);
    }
    j->flatten = fl != NULL;
    return 0;
}

/* <mode> or <state> starts: no attribute; its text is read to its end. */
static int
replica_number_start(ReplicaSax *s, const char *name, const ReplicaAttrs *a)
{
    static const char *const none[] = { NULL };

    snprintf(s->num_ctx, sizeof(s->num_ctx), "<%s>", name);
    if (strcmp(name, "mode") == 0) {
        s->num_what = "mode";
        s->num_max = MODE_MAX;
        s->num_out = &s->r->mode;
    } else {
        s->num_what = "state";
        s->num_max = STATE_MAX;
        s->num_out = &s->r->state;
    }
    return replica_check_attrs(s->num_ctx, a, none);
}

/* The root element: name, namespace, then the format, which decides how to
 * read everything else. */
int
replica_root_start(ReplicaSax *s, const char *name, const xmlChar *uri, const ReplicaAttrs *a)
{
    static const char *const attrs[] = { "format", NULL };
    UTIL_AUTOFREE char *format = NULL;
    UTIL_AUTOFREE char *v = NULL;

    if (strcmp(name, REPLICA_ELEMENT) != 0)
        return replica_bad("root element <%s> is not <%s>", name, REPLICA_ELEMENT);
    if (!uri)
        return replica_bad("root element <%s> has no namespace: expected %s",
                           REPLICA_ELEMENT, REPLICA_NS);
    if (strcmp((const char *)uri, REPLICA_NS) != 0) {
        v = replica_show((const char *)uri);
        return replica_bad("root element <%s> is in namespace \"%s\", not %s",
                           REPLICA_ELEMENT, v, REPLICA_NS);
    }
    format = replica_attr(a, "format");
    if (!format)
        return replica_bad("<replica>: attribute format missing");
    if (strcmp(format, "1") != 0) {
        v = replica_show(format);
        return replica_bad("unknown metadata format \"%s\": this drover understands format %d only",
                           v, REPLICA_FORMAT);
    }
    if (replica_check_attrs("<replica>", a, attrs) < 0)
        return -1;
    s->r = replica_new();
    return 0;
}

/* A child of the root; sets its kind and context. */
static int
replica_top_start(ReplicaSax *s, const char *name, const ReplicaAttrs *a, ReplicaFrame *f)
{
    static const char *const none[] = { NULL };
    Replica *r = s->r;
    int *seen = NULL, dup;

    if (strcmp(name, "mode") == 0)
        seen = &s->have_mode;
    else if (strcmp(name, "state") == 0)
        seen = &s->have_state;
    else if (strcmp(name, "primary") == 0)
        seen = &s->have_primary;
    else if (strcmp(name, "recovery-points") == 0)
        seen = &s->have_points;
    else if (strcmp(name, "failover") != 0 && strcmp(name, "test-system") != 0 &&
             strcmp(name, "journal") != 0 && strcmp(name, "replication") != 0)
        return replica_unknown_element("<replica>", name);
    dup = seen ? *seen :
          strcmp(name, "failover") == 0 ? r->failover != NULL :
          strcmp(name, "test-system") == 0 ? r->test != NULL :
          strcmp(name, "journal") == 0 ? r->journal != NULL : r->repl != NULL;
    if (dup)
        return replica_bad("<replica>: duplicate element <%s>", name);
    if (seen)
        *seen = 1;
    if (seen == &s->have_mode || seen == &s->have_state) {
        f->kind = RS_NUMBER;
        f->ctx = s->num_ctx;
        return replica_number_start(s, name, a);
    }
    if (seen == &s->have_primary) {
        f->kind = RS_EMPTY;
        f->ctx = "<primary>";
        return replica_primary_start(s, a);
    }
    if (seen == &s->have_points) {
        f->kind = RS_POINTS;
        f->ctx = "<recovery-points>";
        return replica_check_attrs(f->ctx, a, none);
    }
    if (strcmp(name, "failover") == 0) {
        f->kind = RS_DISKS;
        f->ctx = "<failover>";
        return replica_failover_start(s, a);
    }
    if (strcmp(name, "test-system") == 0) {
        f->kind = RS_DISKS;
        f->ctx = "<test-system>";
        return replica_test_start(s, a);
    }
    if (strcmp(name, "journal") == 0) {
        f->kind = RS_JOURNAL;
        f->ctx = "<journal>";
        return replica_journal_start(s, a);
    }
    f->kind = RS_REPL;
    f->ctx = "<replication>";
    return replica_repl_start(s, a);
}

/* An element starts inside parent p. */
int
replica_child_start(ReplicaSax *s, const ReplicaFrame *p, const char *name, const xmlChar *uri,
                    const ReplicaAttrs *a, ReplicaFrame *f)
{
    ReplicaJournal *j;

    if (p->kind == RS_NUMBER || p->kind == RS_BEFORE)
        return replica_bad("%s: unexpected element <%s>: only a number belongs here",
                           p->ctx, name);
    if (replica_check_ns(p->ctx, name, uri) < 0)
        return -1;
    switch (p->kind) {
    case RS_REPLICA:
        return replica_top_start(s, name, a, f);
    case RS_POINTS:
        if (strcmp(name, "point") != 0)
            return replica_unknown_element(p->ctx, name);
        f->kind = RS_DISKS;
        f->ctx = s->point_ctx;
        return replica_point_start(s, a);
    case RS_DISKS:
        if (strcmp(name, "disk") != 0)
            return replica_unknown_element(p->ctx, name);
        if (s->list->n >= REPLICA_MAX_DISKS)
            return replica_bad("%s: more than %d disks", p->ctx, REPLICA_MAX_DISKS);
        f->kind = RS_DISK;
        f->ctx = s->disk_ctx;
        return replica_disk_start(s, p->ctx, name, a, 0, s->list, &s->list_cap);
    case RS_JOURNAL:
        j = s->r->journal;
        f->kind = RS_DISK;
        f->ctx = s->disk_ctx;
        s->with_before = 0;
        if (strcmp(name, "create") == 0) {
            if (j->create.n >= REPLICA_MAX_JOURNAL_FILES)
                return replica_bad("%s: more than %d <create>", p->ctx,
                                   REPLICA_MAX_JOURNAL_FILES);
            return replica_disk_start(s, p->ctx, name, a, 0, &j->create, &s->cap_create);
        }
        if (strcmp(name, "remove") == 0) {
            if (j->remove.n >= REPLICA_MAX_JOURNAL_FILES)
                return replica_bad("%s: more than %d <remove>", p->ctx,
                                   REPLICA_MAX_JOURNAL_FILES);
            return replica_disk_start(s, p->ctx, name, a, 1, &j->remove, &s->cap_remove);
        }
        return replica_unknown_element(p->ctx, name);
    case RS_DISK:
        if (s->with_before && !s->before && strcmp(name, "before") == 0) {
            f->kind = RS_BEFORE;
            f->ctx = s->disk_ctx;
            return 0;
        }
        return replica_unknown_element(p->ctx, name);
    default:
        return replica_unknown_element(p->ctx, name);
    }
}

/* Ends the open text node.  Among elements, text that is not blank is
 * refused with all of it (trimmed) in the message. */
int
replica_text_end(ReplicaSax *s)
{
    const ReplicaFrame *f = &s->f[s->depth - 1];
    size_t n = s->text.len;
    char *v;

    s->text_kind = RS_NO_TEXT;
    if (f->kind == RS_NUMBER || f->kind == RS_BEFORE || !n)
        return 0;
    while (n && replica_blank(s->text.s[n - 1]))
        n--;
    v = replica_show_free(util_xstrndup(s->text.s, n));
    util_buf_free(&s->text);
    replica_bad("%s: unexpected text \"%s\": only elements belong here", f->ctx, v);
    free(v);
    return -1;
}
