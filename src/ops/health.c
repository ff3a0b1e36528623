/* health: derived replica health. */
#include <config.h>

#include "ops/health.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chain/chain.h"
#include "base/err.h"
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

/* The file is there (and, deep, its chain reads). */
static void
health_check_file(HealthReport *r, const char *what, const char *path, int deep)
{
    struct stat st;

    if (deep) {
        Chain *c = chain_walk(path);
        if (!c) {
            health_add(r, HEALTH_CRITICAL, "%s: %s", what, err_message());
            err_clear();
            return;
        }
        chain_free(c);
        return;
    }
    if (lstat(path, &st) < 0)
        health_add(r, HEALTH_CRITICAL, "%s %s is %s", what, path,
                   errno == ENOENT ? "missing" : "unreadable");
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

void
health_assess(const Replica *rec, const DomDiskList *disks, int64_t now, int rpo_warning,
              int files, HealthReport *out)
{
    const ReplicaPoint *newest;
    size_t i, k;
    char what[160];

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
        for (i = 0; i < rec->points[k].disks.n; i++) {
            snprintf(what, sizeof(what), "recovery point %s disk %s", rec->points[k].id,
                     rec->points[k].disks.v[i].target);
            health_check_file(out, what, rec->points[k].disks.v[i].file, files == HEALTH_FILES_DEEP);
        }
    }
    if (rec->failover && files != HEALTH_FILES_NONE) {
        for (i = 0; i < rec->failover->disks.n; i++) {
            snprintf(what, sizeof(what), "failover disk %s", rec->failover->disks.v[i].target);
            health_check_file(out, what, rec->failover->disks.v[i].file, files == HEALTH_FILES_DEEP);
        }
    }
    if (rec->test && files != HEALTH_FILES_NONE) {
        for (i = 0; i < rec->test->disks.n; i++) {
            snprintf(what, sizeof(what), "test disk %s", rec->test->disks.v[i].target);
            health_check_file(out, what, rec->test->disks.v[i].file, files == HEALTH_FILES_DEEP);
        }
    }
    if (disks && rec->npoints && !rec->journal) {
        const ReplicaPoint *first = &rec->points[0];
        for (i = 0; i < first->disks.n; i++) {
            const char *target = first->disks.v[i].target;
            const char *src = health_source(disks, target);
            const ReplicaDisk *want = NULL;
            int ok = 0;

            if (!src) {
                health_add(out, HEALTH_CRITICAL, "the domain has no disk %s, which the record lists", target);
                continue;
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
            else if (files == HEALTH_FILES_DEEP && rec->failover) {
                /* The failover disk must sit on the point failed over to. */
                const ReplicaPoint *pt = replica_find_point(rec, rec->failover->point);
                const ReplicaDisk *rp = pt ? replica_disk_list_find(&pt->disks, target) : NULL;
                Chain *c = chain_walk(src);
                if (c && rp && (c->n < 2 || strcmp(c->layers[1].path, rp->file) != 0))
                    health_add(out, HEALTH_CRITICAL, "failover disk %s is not backed by %s",
                               src, rp->file);
                chain_free(c);
                err_clear();
            }
        }
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
