/* SPDX-License-Identifier: GPL-2.0-or-later */
/* repl-reverse-run: reverse replication carried out (repl_reverse): the
 * plan the operator confirmed made again and compared, the locks, the new
 * records (the new replica's and the new primary's), one define on each
 * side that swaps the roles, the old direction's checkpoints, and for a
 * full copy enable's initial copy under the same lock. */
#include <config.h>

#include "repl/repl.h"
#include "repl/repl-priv.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/lock.h"
#include "base/result.h"
#include "base/util.h"
#include "hv/domxml.h"
#include "ops/ops.h"
#include "record/replica.h"
#include "record/state.h"

/* The record of the new replica (this domain): its first point its own
 * disks; for a full copy no point yet, state 1 Ready (the initial copy
 * makes rp-0001). */
static Replica *
repl_reverse_replica_record(const ReplReverse *p, const Replica *old)
{
    const char *phost = old && old->primary_host ? old->primary_host : p->primary_host;
    Replica *rec;

    if (p->full) {
        rec = replica_new();
        rec->mode = MODE_REPLICA;
        rec->state = STATE_READY;
        rec->primary_host = util_xstrdup(phost);
        rec->primary_uri = util_xstrdup(p->primary_uri);
        rec->primary_name = util_xstrdup(p->vm);
    } else {
        rec = repl_record_planned(MODE_REPLICA, STATE_REPLICATING, phost, p->primary_uri, p->vm,
                                  p->point, p->point_time, p->checkpoint);
        replica_disk_list_copy(&rec->points[0].disks, &p->base);
    }
    rec->repl = util_xcalloc(1, sizeof(*rec->repl));
    rec->repl->dir = util_xstrdup(p->dir);
    rec->repl->nbd = util_xstrdup(p->nbd);
    rec->repl->interval = p->interval;
    rec->repl->points = p->points;
    rec->repl->app_every = p->app_every;
    return rec;
}

/* The record of the new primary: mode 1, state 3; <primary> names the
 * other side, as on a prepared primary; its one point is its own disks as
 * at the checkpoint the replica starts from (none before a full copy: the
 * initial copy's checkpoint is made by it). */
static Replica *
repl_reverse_primary_record(const ReplReverse *p)
{
    Replica *rec;

    if (p->full) {
        rec = replica_new();
        rec->mode = MODE_PRIMARY;
        rec->state = STATE_REPLICATING;
        rec->primary_host = util_xstrdup(p->host);
        rec->primary_uri = util_xstrdup(p->back_uri);
        rec->primary_name = util_xstrdup(p->vm);
        return rec;
    }
    rec = repl_record_planned(MODE_PRIMARY, STATE_REPLICATING, p->host, p->back_uri, p->vm,
                              p->point, p->point_time, p->checkpoint);
    replica_disk_list_copy(&rec->points[0].disks, &p->primary_disks);
    return rec;
}

/* dx's definition with record rec, defined on c. */
static int
repl_reverse_define(HvConn *c, DomXml *dx, const Replica *rec, const char *what)
{
    UTIL_AUTOFREE char *md = NULL;
    UTIL_AUTOFREE char *xml = NULL;

    if (replica_validate(rec) < 0 || !(md = replica_format(rec))) {
        err_prefix("the new record of %s", what);
        return -1;
    }
    if (domxml_set_replica(dx, md) < 0)
        return -1;
    xml = domxml_format(dx);
    if (hv_define(c, xml) < 0) {
        err_prefix("cannot save the definition of %s", what);
        return -1;
    }
    return 0;
}

/* Takes the lock at path (NULL: none) for job; NULL lock and 0 when path
 * is NULL or one already held (*held) is that file. */
static int
repl_reverse_lock(const char *path, const char *held, const char *holder, const char *name,
                  LockHandle **lk)
{
    *lk = NULL;
    if (!path || (held && strcmp(path, held) == 0))
        return 0;
    if (!(*lk = lock_acquire(path, holder))) {
        err_prefix("%s", name);
        return -1;
    }
    return 0;
}

/* The lock of the new replica's directory dir (made first), unless held
 * is that file already. */
static int
repl_reverse_dirlock(const char *dir, const char *uuid, const char *held, const char *holder,
                     const char *name, Job *job, LockHandle **lk)
{
    UTIL_AUTOFREE char *path = NULL;

    if (!dir) {
        err_set(RESULT_INVALID_PARAMETER, "reverse replication of %s names no directory", name);
        return -1;
    }
    repl_job_step(job, 3, "creating %s", dir);
    if (fsutil_mkdirs(dir, 0750) < 0)
        return -1;
    path = util_xasprintf("%s/.drover-%s.lock", dir, uuid);
    return repl_reverse_lock(path, held, holder, name, lk);
}

int
repl_reverse(HvConn *here, const ReplReverse *confirmed, const ReplArgs *a, Job *job)
{
    UTIL_AUTOFREE char *self = lock_describe_self();
    UTIL_AUTOFREE char *holder = NULL;
    UTIL_AUTOFREE char *lockpath = NULL;
    UTIL_AUTOFREE char *old_xml = NULL;
    UTIL_AUTOFREE char *pxml = NULL;
    ReplReverseArgs ra;
    ReplReverse *p = NULL;
    LockHandle *lk = NULL, *lk2 = NULL;
    HvConn *pc = NULL;
    Replica *r = NULL, *rec = NULL, *prec = NULL;
    DomXml *dx = NULL, *pdx = NULL;
    char **cps = NULL;
    HvDomain d;
    size_t i;
    int code = 0, none = 0;

    memset(&d, 0, sizeof(d));
    if ((code = repl_writable(here, "reverse replication", confirmed->vm)) != 0)
        goto out;
    if (!(r = repl_reverse_read(here, confirmed->uuid, &d, &none)) && !none)
        goto fail;
    /* The old record's lock (beside its point), and for a full copy the
     * new replica's (in dir, where the cycles will take it).  The job
     * decides by the plan made under the lock, not by the confirmed one's
     * fields: a job process gets only what the plan is made again from. */
    lockpath = r ? replica_lock_path(r, d.uuid) : NULL;
    holder = util_xasprintf("%s, reverse replication of %s, job %s", self, d.name,
                            job ? job_id(job) : "none");
    repl_job_step(job, 2, "locking %s", d.name);
    if (repl_reverse_lock(lockpath, NULL, holder, d.name, &lk) < 0)
        goto fail;
    /* No point to lock beside (no record, or a primary's without a point):
     * a full copy for sure; its directory's lock before planning again. */
    if (!lockpath && repl_reverse_dirlock(confirmed->dir, d.uuid, NULL, holder, d.name, job,
                                          &lk2) < 0)
        goto fail;
    /* Under the lock: the plan again, bitmaps read again; what runs is what
     * was confirmed. */
    repl_job_step(job, 5, "planning again: %s", lockpath ? "proving the disks hold the point"
                                                         : "the full copy's files still free");
    replica_free(r);
    hv_domain_clear(&d);
    if (!(r = repl_reverse_read(here, confirmed->uuid, &d, &none)) && !none)
        goto fail;
    memset(&ra, 0, sizeof(ra));
    ra.from = confirmed->primary_uri;
    ra.dir = confirmed->dir;
    ra.nbd = confirmed->nbd;
    if (!(p = repl_plan_reverse_on(here, &pc, confirmed->host, &d, r, &ra)))
        goto fail;
    if (strcmp(p->digest, confirmed->digest) != 0) {
        err_set(RESULT_INVALID_STATE, "the plan for %s changed since it was shown: nothing was "
                "done; plan again", d.name);
        err_hint(RESULT_HINT_PLAN_CHANGED);
        goto fail;
    }
    if (p->full && !lk2 &&
        repl_reverse_dirlock(p->dir, d.uuid, lockpath, holder, d.name, job, &lk2) < 0)
        goto fail;
    if (!p->full) {
        repl_job_step(job, 20, "creating %s", p->dir);
        if (fsutil_mkdirs(p->dir, 0750) < 0)
            goto fail;
    }
    /* 1. Here: one define, the replica's record (and for a full copy its
     *    disks on the new bases; the old files stay where they are). */
    if (p->resume) {
        repl_job_step(job, 40, "%s here is the replica already (an interrupted reverse "
                      "replication)", d.name);
    } else {
        if (!(old_xml = hv_get_xml(here, d.uuid)) || !(dx = domxml_parse(old_xml)))
            goto fail;
        for (i = 0; p->full && i < p->base.n; i++)
            if (domxml_set_disk_source(dx, p->base.v[i].target, p->base.v[i].file) < 0)
                goto fail;
        rec = repl_reverse_replica_record(p, r);
        repl_job_step(job, 40, "%s here becomes the replica (mode 2, state %d, %s)", d.name,
                      rec->state, p->full ? "its disks on the new bases" : p->point);
        if (repl_reverse_define(here, dx, rec, d.name) < 0)
            goto fail;
        /* A crash from here to step 2's define leaves this side the
         * replica and the other still failed over: the same command
         * then runs the steps left (p->resume). */
        ops_fault_point("reverse", "here");
    }
    /* 2. There: one define, the primary's record; if it fails, step 1 is
     *    undone with the definition as it was. */
    repl_job_step(job, 60, "%s on %s becomes the primary (mode 1, state 3)", d.name,
                  p->primary_host);
    prec = repl_reverse_primary_record(p);
    if (!(pxml = hv_get_xml(pc, d.uuid)) || !(pdx = domxml_parse(pxml)) ||
        repl_reverse_define(pc, pdx, prec, p->primary_host) < 0) {
        ErrInfo e;

        err_save(&e);
        if (old_xml && hv_define(here, old_xml) < 0)
            repl_job_step(job, -1, "warning: %s keeps its replica record (it could not be "
                          "put back: %s)", d.name, err_message());
        err_restore(&e);
        err_prefix("the failed-over VM could not become the primary; %s here %s", d.name,
                   p->resume ? "stays its replica (run reverse-replication again)"
                             : "is as it was");
        goto fail;
    }
    /* 3. The old direction's checkpoints on this domain: libvirt forgets
     *    them (their bitmaps stay in the files, which are read-only layers
     *    now, or kept aside); a later cycle in the other direction would
     *    trip on them. */
    if ((cps = hv_checkpoint_names(here, d.uuid))) {
        for (i = 0; cps[i]; i++) {
            if (strncmp(cps[i], "drover.", 7) != 0)
                continue;
            repl_job_step(job, p->full ? 65 : 80, "forgetting checkpoint %s of the old "
                          "direction", cps[i]);
            if (hv_checkpoint_delete_flags(here, d.uuid, cps[i], 1) < 0) {
                repl_job_step(job, -1, "warning: %s", err_message());
                err_clear();
            }
        }
    } else {
        repl_job_step(job, -1, "warning: %s", err_message());
        err_clear();
    }
    /* 4. A full copy: enable-replication's initial copy, under the same
     *    lock, into the new bases. */
    if (p->full) {
        repl_job_step(job, 70, "the initial copy: %s on %s read in full into %s", d.name,
                      p->primary_host, p->dir);
        hv_close(pc);
        pc = NULL;
        if ((code = repl_initial_locked(here, p->host, d.uuid, a, job)) != 0) {
            err_prefix("the roles are swapped (%s here is the replica, its initial copy "
                       "pending: drover replicate %s runs it again; the old disks are kept)",
                       d.name, d.name);
            goto out;
        }
    }
    repl_job_step(job, 100, "replication of %s reversed: %s (%s) -> %s (here), from %s%s; "
                  "drover replicate %s makes the next point", d.name, p->primary_host,
                  p->primary_uri, p->host, p->point, p->full ? " (a full copy)" : "", d.name);
    goto out;

fail:
    code = err_code() ? err_code() : RESULT_FAILED;
out:
    {
        const ReplReverse *done = p ? p : confirmed;

        repl_audit(a, done->host, done->vm, "reverse-replication", done->digest, job, code);
    }
    lock_release(lk2);
    lock_release(lk);
    hv_strv_free(cps);
    hv_close(pc);
    replica_free(r);
    replica_free(rec);
    replica_free(prec);
    domxml_free(dx);
    domxml_free(pdx);
    hv_domain_clear(&d);
    repl_reverse_free(p);
    return code;
}
