/* SPDX-License-Identifier: GPL-2.0-or-later */
/* health: derived replica health. */
#include <config.h>

#include "ops/health.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chain/chain.h"
#include "base/err.h"
#include "base/result.h"
#include "record/state.h"
#include "base/util.h"

static void health_add(HealthReport *r, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void
health_add(HealthReport *r, int level, const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = util_xvasprintf(fmt, ap);
    va_end(ap);
    r->reasons = util_xrealloc(r->reasons, (r->n + 1) * sizeof(*r->reasons));
    /* Critical reasons go first. */
    if (level == HEALTH_CRITICAL && r->health != HEALTH_CRITICAL) {
        memmove(r->reasons + 1, r->reasons, r->n * sizeof(*r->reasons));
        r->reasons[0] = s;
    } else {
        r->reasons[r->n] = s;
    }
    r->n++;
    if (level > r->health)
        r->health = level;
}

/* Each disk's file is there (and, deep, its chain reads).  The disks are
 * those of "<owner><id>", e.g. "recovery point " "rp-0003"; the words are
 * made only for a problem: a healthy fleet has tens of thousands of files. */
static void
health_check_files(HealthReport *r, const char *owner, const char *id, const ReplicaDiskList *disks,
                   int deep)
{
    size_t i;

    for (i = 0; i < disks->n; i++) {
        const ReplicaDisk *d = &disks->v[i];

        if (deep) {
            Chain *c = chain_walk(d->file);
            if (!c) {
                health_add(r, HEALTH_CRITICAL, "%s%s disk %s: %s", owner, id, d->target,
                           err_message());
                err_clear();
                continue;
            }
            chain_free(c);
            continue;
        }
        /* Whether it is there, not what it is: access(2) skips the
         * attributes a stat reads and copies out (30,000 files: 45 ms
         * against lstat's 54 here). */
        if (faccessat(AT_FDCWD, d->file, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
            health_add(r, HEALTH_CRITICAL, "%s%s disk %s %s is %s", owner, id, d->target, d->file,
                       errno == ENOENT ? "missing" : "unreadable");
    }
}

static const char *
health_driver(const DomDiskList *disks, const char *target)
{
    size_t i;

    for (i = 0; i < disks->n; i++)
        if (strcmp(disks->v[i].target, target) == 0)
            return disks->v[i].driver_type;
    return NULL;
}

char *
health_driver_text(const DomDiskList *disks, const char *target, const char *source)
{
    const char *dt = health_driver(disks, target);

    return util_xasprintf("disk %s has %s%s%s but %s is a qcow2 image: the guest would see the "
                          "qcow2 file itself as its disk (and write into it); set "
                          "<driver name='qemu' type='qcow2'/>", target,
                          dt ? "<driver type='" : "no driver type", dt ? dt : "",
                          dt ? "'>" : "", source);
}

static const char *
health_source(const DomDiskList *disks, const char *target)
{
    size_t i;

    for (i = 0; i < disks->n; i++)
        if (strcmp(disks->v[i].target, target) == 0)
            return disks->v[i].source;
    return NULL;
}

/* Where health_chains puts what it finds: reasons in a report, or (no
 * report) the first problem as the error, for an operation to refuse. */
typedef struct {
    HealthReport *report;
} HealthChains;

/* Records a problem: a reason in the report, or the error (then 1: stop). */
static int health_problem(HealthChains *h, int level, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int
health_problem(HealthChains *h, int level, int code, const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = util_xvasprintf(fmt, ap);
    va_end(ap);
    if (h->report) {
        health_add(h->report, level, "%s", s);
        free(s);
        return 0;
    }
    err_set(code, "%s", s);
    free(s);
    return 1;
}

/* The point whose file (for one disk) is this layer, by identity, so a
 * record path spelled differently still matches; ids[k] holds point k's
 * file identity (ino 0: none). */
typedef struct {
    dev_t dev;
    ino_t ino;
} HealthId;

static int
health_point_of(const Replica *rec, const HealthId *ids, const ChainLayer *l)
{
    size_t k;

    for (k = 0; k < rec->npoints; k++)
        if (ids[k].ino && ids[k].dev == l->dev && ids[k].ino == l->ino)
            return (int)k;
    return -1;
}

/* a was recorded before b (times, then the record's order). */
static int
health_older(const Replica *rec, size_t a, size_t b)
{
    return rec->points[a].time < rec->points[b].time ||
           (rec->points[a].time == rec->points[b].time && a < b);
}

/* Walks path and checks its layers are usable; NULL when it cannot be
 * walked or is not usable (then *stop is set when stopping). */
static Chain *
health_walk(HealthChains *h, const char *what, const char *path, int *stop)
{
    Chain *c = chain_walk(path);

    if (!c) {
        /* A file that cannot be read is reported by the caller's own
         * checks (health_check_file, the plan's walks), in their words. */
        err_clear();
        return NULL;
    }
    if (chain_check_usable(c) < 0) {
        int code = err_code();
        char *msg = util_xstrdup(err_message());

        err_clear();
        *stop = health_problem(h, HEALTH_CRITICAL, code, "%s: %s", what, msg);
        free(msg);
        chain_free(c);
        return NULL;
    }
    return c;
}

/* below[] (the next point down each point's chain, -1 at the bottom)
 * links all cnt points into one line. */
static int
health_linear(const int *below, const size_t *order, size_t cnt)
{
    size_t m, bottoms = 0;
    int linear = 1;

    if (cnt < 2)
        return 0;
    for (m = 0; m < cnt && linear; m++) {
        int b = below[order[m]];
        size_t j;

        if (b == -2) {
            linear = 0;
        } else if (b == -1) {
            bottoms++;
        } else {
            /* No two points lie directly on the same one. */
            for (j = 0; j < m && linear; j++)
                if (below[order[j]] == b)
                    linear = 0;
        }
    }
    return linear && bottoms == 1;
}

/* Each disk's recovery points, in the order of their times, must each lie
 * directly on the one recorded before it (other layers may sit between:
 * retention merges, commits), and the failover and test disks on their
 * points. */
/* The failover or test overlays (KIND) must sit on the point the record
 * names (SAYS: how the message refers to it).  Returns 1 to stop. */
static int
health_check_overlays(HealthChains *h, const Replica *rec, const char *kind, const char *point,
                      const ReplicaDiskList *disks, const char *says)
{
    const ReplicaPoint *pt = replica_find_point(rec, point);
    int stop = 0;
    size_t t;

    for (t = 0; t < disks->n && !stop; t++) {
        const ReplicaDisk *d = &disks->v[t];
        const ReplicaDisk *rp = pt ? replica_disk_list_find(&pt->disks, d->target) : NULL;
        char what[160];
        Chain *c;

        snprintf(what, sizeof(what), "%s disk %s", kind, d->target);
        if (!(c = health_walk(h, what, d->file, &stop)))
            continue;
        if (rp && chain_find_path(c, rp->file) != 1)
            stop = health_problem(h, HEALTH_CRITICAL, RESULT_INVALID_STATE,
                                  "%s disk %s is backed by %s, not by %s, the recovery point %s %s",
                                  kind, d->file, c->n < 2 ? "nothing" : c->layers[1].path, rp->file,
                                  pt->id, says);
        chain_free(c);
    }
    return stop;
}

static int
health_chains(const Replica *rec, HealthChains *h)
{
    size_t t, k, m;
    int stop = 0;

    for (t = 0; rec->npoints && t < rec->points[0].disks.n && !stop; t++) {
        const char *target = rec->points[0].disks.v[t].target;
        size_t *order = util_xcalloc(rec->npoints, sizeof(*order));
        int *below = util_xcalloc(rec->npoints, sizeof(*below));
        HealthId *ids = util_xcalloc(rec->npoints, sizeof(*ids));
        size_t cnt = 0;

        for (k = 0; k < rec->npoints; k++) {
            const ReplicaDisk *d = replica_disk_list_find(&rec->points[k].disks, target);
            struct stat st;

            below[k] = -2;  /* not seen in any chain */
            if (!d)
                continue;
            order[cnt++] = k;
            if (stat(d->file, &st) == 0) {
                ids[k].dev = st.st_dev;
                ids[k].ino = st.st_ino;
            }
        }
        /* Insertion sort by time: a few hundred points at most. */
        for (m = 1; m < cnt; m++) {
            size_t v = order[m], j = m;
            while (j > 0 && health_older(rec, v, order[j - 1])) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = v;
        }
        for (m = cnt; m-- > 0 && !stop; ) {
            const ReplicaPoint *pt = &rec->points[order[m]];
            char what[160];
            Chain *c;
            int prev = -1;
            size_t i;

            if (below[order[m]] != -2)
                continue;
            snprintf(what, sizeof(what), "recovery point %s disk %s", pt->id, target);
            c = health_walk(h, what, replica_disk_list_find(&pt->disks, target)->file, &stop);
            if (!c)
                continue;
            for (i = 0; i < c->n; i++) {
                int j = health_point_of(rec, ids, &c->layers[i]);
                if (j < 0)
                    continue;
                if (prev >= 0 && below[prev] == -2)
                    below[prev] = j;
                prev = j;
            }
            if (prev >= 0 && below[prev] == -2)
                below[prev] = -1;
            chain_free(c);
        }
        /* The chain orders every point in one line, only not as their
         * times do: the record's times are wrong, not the chain. */
        if (health_linear(below, order, cnt)) {
            for (m = 0; m < cnt && !stop; m++) {
                int got = below[order[m]];
                const ReplicaPoint *pt = &rec->points[order[m]];
                char tp[32], tq[32];

                if (got < 0 || !health_older(rec, order[m], (size_t)got))
                    continue;
                util_format_time(pt->time, tp, sizeof(tp));
                util_format_time(rec->points[got].time, tq, sizeof(tq));
                stop = health_problem(h, HEALTH_WARNING, RESULT_INVALID_STATE,
                                      "the record's times contradict the chain of disk %s: "
                                      "recovery point %s (%s) lies on %s (%s), which the record "
                                      "says is newer", target, pt->id, tp,
                                      rec->points[got].id, tq);
            }
            cnt = 0;
        }
        for (m = 0; m < cnt && !stop; m++) {
            size_t pk = order[m];
            int want = m ? (int)order[m - 1] : -1;
            int got = below[pk];
            const ReplicaPoint *pt = &rec->points[pk];
            char tp[32], tq[32];

            if (got == -2 || got == want)
                continue;
            if (got >= 0 && health_older(rec, pk, (size_t)got)) {
                util_format_time(pt->time, tp, sizeof(tp));
                util_format_time(rec->points[got].time, tq, sizeof(tq));
                stop = health_problem(h, HEALTH_WARNING, RESULT_INVALID_STATE,
                                      "the record's times contradict the chain of disk %s: "
                                      "recovery point %s (%s) lies on %s (%s), which the record "
                                      "says is newer", target, pt->id, tp,
                                      rec->points[got].id, tq);
            } else if (got >= 0) {
                stop = health_problem(h, HEALTH_CRITICAL, RESULT_INVALID_STATE,
                                      "the chain of disk %s does not match the record: recovery "
                                      "point %s lies on %s, but the record has %s between them",
                                      target, pt->id, rec->points[got].id,
                                      rec->points[want].id);
            } else {
                stop = health_problem(h, HEALTH_CRITICAL, RESULT_INVALID_STATE,
                                      "the chain of disk %s does not match the record: recovery "
                                      "point %s does not lie on %s, the point recorded before it",
                                      target, pt->id, rec->points[want].id);
            }
        }
        free(order);
        free(below);
        free(ids);
    }
    if (rec->failover && !stop)
        stop = health_check_overlays(h, rec, "failover", rec->failover->point,
                                     &rec->failover->disks, "the record says it was failed over to");
    if (rec->test && !stop)
        stop = health_check_overlays(h, rec, "test", rec->test->point, &rec->test->disks,
                                     "the record names");
    return stop ? -1 : 0;
}

int
health_verify_chains(const Replica *rec)
{
    HealthChains h = { NULL };

    return health_chains(rec, &h);
}

/* 1 if path is a layer of the chain under one of the domain's disks (a
 * recovery point a commit keeps as a backing layer is named by no point). */
static int
health_in_disk_chains(const DomDiskList *disks, const char *path)
{
    size_t i, l;
    int found = 0;

    for (i = 0; i < disks->n && !found; i++) {
        Chain *partial = NULL;
        Chain *c;

        if (!disks->v[i].source)
            continue;
        if (!(c = chain_walk_partial(disks->v[i].source, &partial)))
            c = partial;
        else
            chain_free(partial);
        err_clear();
        for (l = 0; c && l < c->n && !found; l++)
            found = strcmp(c->layers[l].path, path) == 0;
        chain_free(c);
    }
    return found;
}

/* A failover, test or flattened image, or a recovery-point layer, in the
 * replica directory that nothing names: left by an operation drover does
 * not know about, by a repair that could not prove it unused, or a record
 * that lost track of it.  Never deleted here; said. */
static void
health_orphans(const Replica *rec, const DomDiskList *disks, HealthReport *out)
{
    UTIL_AUTOFREE char *dir = replica_dir(rec);
    DIR *dh;
    struct dirent *e;
    size_t i;

    if (!dir || !(dh = opendir(dir)))
        return;
    while ((e = readdir(dh))) {
        UTIL_AUTOFREE char *path = NULL;
        const char *n = e->d_name;
        size_t len = strlen(n);
        int named = 0, layer;
        size_t k;

        if (n[0] == '.' || len < 6 || strcmp(n + len - 6, ".qcow2") != 0)
            continue;
        layer = strstr(n, ".rp-") != NULL;
        if (!layer && !strstr(n, ".failover-") && !strstr(n, ".test-") && !strstr(n, ".flat-"))
            continue;
        path = util_path_join(dir, n);
        for (i = 0; i < disks->n && !named; i++)
            named = disks->v[i].source && strcmp(disks->v[i].source, path) == 0;
        for (k = 0; k < rec->npoints && !named; k++)
            for (i = 0; i < rec->points[k].disks.n && !named; i++)
                named = strcmp(rec->points[k].disks.v[i].file, path) == 0;
        for (i = 0; rec->failover && i < rec->failover->disks.n && !named; i++)
            named = strcmp(rec->failover->disks.v[i].file, path) == 0;
        for (i = 0; rec->test && i < rec->test->disks.n && !named; i++)
            named = strcmp(rec->test->disks.v[i].file, path) == 0;
        for (i = 0; rec->journal && i < rec->journal->create.n && !named; i++)
            named = strcmp(rec->journal->create.v[i].file, path) == 0;
        for (i = 0; rec->journal && i < rec->journal->remove.n && !named; i++)
            named = strcmp(rec->journal->remove.v[i].file, path) == 0;
        if (!named && layer)
            named = health_in_disk_chains(disks, path);
        if (!named)
            health_add(out, HEALTH_WARNING,
                       "%s lies in the replica directory but no record or disk names it "
                       "(left by an operation drover does not know of?); drover never deletes "
                       "it: look at it and remove it by hand if it is not needed", path);
    }
    closedir(dh);
}

void
health_assess(const Replica *rec, const DomDiskList *disks, int64_t now, int rpo_warning,
              int files, HealthReport *out)
{
    const ReplicaPoint *newest;
    size_t i, k;

    memset(out, 0, sizeof(*out));
    if (!rec || rec->mode == MODE_NONE || rec->mode == MODE_TEST_REPLICA) {
        out->health = HEALTH_NA;
        return;
    }
    out->health = HEALTH_NORMAL;
    if (rec->journal)
        health_add(out, HEALTH_CRITICAL,
                   "an interrupted %s (job %s) stopped at step \"%s\": run drover repair",
                   rec->journal->op, rec->journal->job, rec->journal->step);
    if (rec->state == STATE_CRITICAL)
        health_add(out, HEALTH_CRITICAL, "replication is in state 8 Critical");
    for (k = 0; files != HEALTH_FILES_NONE && k < rec->npoints; k++) {
        health_check_files(out, "recovery point ", rec->points[k].id, &rec->points[k].disks,
                           files == HEALTH_FILES_DEEP);
    }
    if (rec->failover && files != HEALTH_FILES_NONE)
        health_check_files(out, "failover", "", &rec->failover->disks, files == HEALTH_FILES_DEEP);
    if (rec->test && files != HEALTH_FILES_NONE)
        health_check_files(out, "test", "", &rec->test->disks, files == HEALTH_FILES_DEEP);
    if (disks && rec->npoints && !rec->journal) {
        const ReplicaPoint *first = &rec->points[0];
        for (i = 0; i < first->disks.n; i++) {
            const char *target = first->disks.v[i].target;
            const char *src = health_source(disks, target);
            const ReplicaDisk *want = NULL;
            int ok = 0;

            if (!src) {
                const DomDisk *other = NULL;
                for (k = 0; k < disks->nother && !other; k++)
                    if (strcmp(disks->other[k].target, target) == 0)
                        other = &disks->other[k];
                if (other)
                    health_add(out, HEALTH_CRITICAL,
                               "disk %s is a %s, not a file disk: drover fails over qcow2 file "
                               "disks only", target, other->kind);
                else
                    health_add(out, HEALTH_CRITICAL, "the domain has no disk %s, which the record lists", target);
                continue;
            }
            if (rec->state != STATE_COMMITTED && !util_streq(health_driver(disks, target), "qcow2")) {
                char *why = health_driver_text(disks, target, src);
                health_add(out, HEALTH_CRITICAL, "%s", why);
                free(why);
            }
            if (rec->failover) {
                want = replica_disk_list_find(&rec->failover->disks, target);
                ok = want && strcmp(want->file, src) == 0;
            } else if (rec->state == STATE_COMMITTED) {
                ok = 1;     /* the VM runs on its own disk now */
            } else {
                for (k = 0; k < rec->npoints && !ok; k++) {
                    want = replica_disk_list_find(&rec->points[k].disks, target);
                    ok = want && strcmp(want->file, src) == 0;
                }
            }
            if (!ok)
                health_add(out, HEALTH_CRITICAL, "disk %s uses %s, which the record does not name",
                           target, src);
        }
    }
    if (files == HEALTH_FILES_DEEP) {
        HealthChains h = { out };
        health_chains(rec, &h);
        if (disks)
            health_orphans(rec, disks, out);
    }
    newest = replica_newest_point(rec);
    if (rec->state == STATE_SUSPENDED)
        health_add(out, HEALTH_WARNING, "replication is suspended");
    if (rec->state == STATE_REPLICATING || rec->state == STATE_SUSPENDED) {
        char age[32];
        if (!newest) {
            health_add(out, HEALTH_WARNING, "no recovery point has arrived yet");
        } else if (rpo_warning > 0 && now - newest->time > rpo_warning) {
            util_format_age(now - newest->time, age, sizeof(age));
            health_add(out, HEALTH_WARNING, "the newest recovery point %s is %s old (limit %d s)",
                       newest->id, age, rpo_warning);
        }
    }
}

void
health_report_clear(HealthReport *r)
{
    size_t i;

    if (!r)
        return;
    for (i = 0; i < r->n; i++)
        free(r->reasons[i]);
    free(r->reasons);
    r->reasons = NULL;
    r->n = 0;
}
