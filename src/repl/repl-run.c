/* SPDX-License-Identifier: GPL-2.0-or-later */
/* repl-run: running a cycle, a resync or an initial copy: the journal, the
 * backup job, the copy into temporary layers, one define, retention.  What
 * a run asks of the primary and copies from it is in repl-run-backup.c,
 * what it deletes on this host in repl-run-delete.c. */
#include <config.h>

#include "repl/repl.h"
#include "repl/repl-priv.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/lock.h"
#include "base/result.h"
#include "base/util.h"
#include "chain/chain.h"
#include "hv/domxml.h"
#include "ops/ops.h"
#include "record/replica.h"
#include "record/state.h"

/* --- execution ----------------------------------------------------------------- */

void
repl_step(ReplRun *x, int percent, const char *fmt, ...)
{
    UTIL_AUTOFREE char *s = NULL;
    va_list ap;

    if (!x->job)
        return;
    va_start(ap, fmt);
    s = util_xvasprintf(fmt, ap);
    va_end(ap);
    job_progress(x->job, percent, "%s", s);
}

/* Whether the cycle should try an application-consistent point. */
static int
repl_app_due(const Replica *r, int64_t now)
{
    int64_t last = 0;
    size_t i;

    if (!r->repl || r->repl->app_every <= 0)
        return 0;
    for (i = 0; i < r->npoints; i++)
        if (r->points[i].type == RP_TYPE_APP_CONSISTENT && r->points[i].time > last)
            last = r->points[i].time;
    return !last || now - last >= r->repl->app_every;
}

/* Thaws the guest; a failure is said (the guest stays frozen until its
 * agent's own timeout) and the point is not called app-consistent. */
static int
repl_thaw(ReplRun *x)
{
    if (hv_fs_thaw(x->pc, x->p->uuid) == 0)
        return 0;
    if (x->job)
        job_progress(x->job, -1, "warning: %s", err_message());
    err_clear();
    return -1;
}

/* Runs plan p (built under the lock) on replica dx/r.  Returns 0 or -1
 * with err set, everything of this run undone. */
static int
repl_run(ReplRun *x, DomXml *dx, const Replica *r)
{
    const ReplPlan *p = x->p;
    UTIL_AUTOFREE char *bxml = NULL;
    UTIL_AUTOFREE char *cxml = NULL;
    Replica *rec = replica_copy(r);
    ReplicaJournal *j;
    ReplicaPoint *pt;
    ReplCopyStats total, st;
    int64_t when;
    size_t i;
    int switched = 0, app = 0;
    char sdata[32], szero[32];
    const char *op = p->resync ? "resync" : "replicate";

    memset(&total, 0, sizeof(total));
    /* 1. Stale leftovers of an interrupted cycle (ours by name), and the
     *    checkpoints no point records (a cycle that failed after
     *    BackupBegin): the incremental below merges their bitmaps. */
    if (repl_remove_stale_temps(x) < 0)
        goto fail;
    if (repl_end_stale_job(x) < 0)
        goto fail;
    if (repl_delete_checkpoints(x, p->since, 8) < 0) {
        err_prefix("cannot remove checkpoints no recovery point records");
        goto fail;
    }
    if (p->remove.n && repl_check_removals(x, &p->remove) < 0) {
        err_prefix("the old chain of %s could not be deleted after the resync; nothing was "
                   "changed", p->vm);
        goto fail;
    }
    /* 2. The journal: what this cycle creates, written before it does. */
    repl_step(x, 10, "journal: %s of %s begins",
              p->resync ? "resync" : p->initial ? "initial copy" : "cycle", p->vm);
    j = rec->journal = util_xcalloc(1, sizeof(*j));
    j->op = util_xstrdup(op);
    {
        char id[37];
        if (x->job)
            util_strlcpy(id, job_id(x->job), sizeof(id));
        else
            job_new_uuid(id);
        j->job = util_xstrdup(id);
        util_strlcpy(x->jobid, id, sizeof(x->jobid));
    }
    j->step = util_xstrdup("prepared");
    j->time = util_now();
    j->from_state = p->from_state;
    j->to_state = p->to_state;
    j->point = util_xstrdup(p->since_point);
    for (i = 0; i < p->ndisks; i++) {
        /* A resync's new base is this run's too: repair removes it. */
        if (p->resync)
            replica_disk_list_add(&j->create, p->disks[i].target, p->disks[i].base, 0);
        replica_disk_list_add(&j->create, p->disks[i].target, p->disks[i].file, 0);
    }
    for (i = 0; i < p->remove.n; i++) {
        dev_t dev;
        ino_t ino;
        uint64_t size;

        /* The old chain's files with their identity now: after the switch
         * only these very files are deleted. */
        if (chain_stat(p->remove.v[i].file, &dev, &ino, &size) < 0)
            goto fail;
        replica_disk_list_add(&j->remove, p->remove.v[i].target, p->remove.v[i].file,
                              (uint64_t)ino);
    }
    rec->state = p->initial ? STATE_WAITING_INITIAL : p->resync ? STATE_RESYNCING : rec->state;
    if (repl_define(x->dr, dx, rec, &x->expect) < 0)
        goto fail;
    ops_fault_point(op, "journal");
    /* 3. The instant of the point: every disk in one backup job. */
    if (!(bxml = repl_backup_xml(p, p->since)) || !(cxml = repl_checkpoint_xml(p)))
        goto undo;
    /* An application-consistent point: the guest's file systems frozen
     * around BackupBegin only (the point in time is fixed when the job
     * starts), thawed at once.  Without the agent the point is standard,
     * and the job says why. */
    if (!x->planned && repl_app_due(r, util_now())) {
        repl_step(x, 11, "freezing the guest's file systems for an application-consistent point");
        if (hv_fs_freeze(x->pc, p->uuid) == 0) {
            app = 1;
        } else {
            repl_step(x, 11, "not application-consistent (this point is standard): %s",
                      err_message());
            err_clear();
        }
    }
    repl_step(x, 12, "backup job on the primary: %s with checkpoint %s",
              p->since ? "changes since" : "full copy", p->checkpoint);
    when = util_now();
    if (hv_backup_begin(x->pc, p->uuid, bxml, cxml) < 0) {
        if (p->since && err_get()->virt_code == REPL_VIRT_CHECKPOINT_INCONSISTENT) {
            UTIL_AUTOFREE char *why = util_xstrdup(err_get()->virt_msg);

            err_set(RESULT_INVALID_STATE, "checkpoint %s of the newest point %s is inconsistent "
                    "on the primary (%s; its qemu stopped without storing its bitmaps, a crash): "
                    "the changes since it are unknown; a full resync is needed (drover resync "
                    "%s)", p->since, p->since_point, why, p->vm);
        } else {
            err_prefix("the primary refused the backup of %s", p->vm);
        }
        if (app)
            repl_thaw(x);
        goto undo;
    }
    x->began = 1;
    if (app && repl_thaw(x) < 0)
        app = 0;
    ops_fault_point(op, "begun");
    /* 4. The layers. */
    for (i = 0; i < p->ndisks; i++) {
        x->disk = (int)i;
        repl_step(x, 15 + 75 * (int)i / (int)p->ndisks, "copying %s from the primary (%s)",
                  p->disks[i].target, p->since ? "changed blocks" : "full copy");
        if (repl_copy_disk(x, &p->disks[i], &st) < 0) {
            err_prefix("disk %s", p->disks[i].target);
            goto undo;
        }
        total.planned += st.planned;
        total.data += st.data;
        total.zeroed += st.zeroed;
        total.skipped += st.skipped;
        total.size += st.size;
    }
    ops_fault_point(op, "copied");
    /* 5. ONE define: the point, the disks on it, the state, the journal
     *    closed (a resync's stays, "switched", until the old chain is gone). */
    if (p->resync) {
        for (i = 0; i < rec->npoints; i++) {
            free(rec->points[i].id);
            free(rec->points[i].checkpoint);
            replica_disk_list_clear(&rec->points[i].disks);
        }
        rec->npoints = 0;
    }
    rec->points = util_xrealloc(rec->points, (rec->npoints + 1) * sizeof(*rec->points));
    pt = &rec->points[rec->npoints++];
    memset(pt, 0, sizeof(*pt));
    pt->id = util_xstrdup(p->point);
    pt->time = when;
    /* A planned point is taken from a primary shut down cleanly. */
    pt->type = x->planned ? RP_TYPE_PLANNED : app ? RP_TYPE_APP_CONSISTENT : RP_TYPE_STANDARD;
    pt->checkpoint = util_xstrdup(p->checkpoint);
    for (i = 0; i < p->ndisks; i++) {
        replica_disk_list_add(&pt->disks, p->disks[i].target, p->disks[i].file, 0);
        if (domxml_set_disk_source(dx, p->disks[i].target, p->disks[i].file) < 0)
            goto undo;
    }
    rec->state = p->to_state;
    if (p->resync) {
        free(rec->journal->step);
        rec->journal->step = util_xstrdup("switched");
    } else {
        replica_journal_free(rec->journal);
        rec->journal = NULL;
    }
    repl_step(x, 92, "switching %s to %s", p->vm, p->point);
    if (repl_define(x->dr, dx, rec, &x->expect) < 0)
        goto undo;
    switched = 1;
    ops_fault_point(op, "switched");
    /* 6. The backup job ends; only now may older checkpoints go. */
    repl_step(x, 95, "ending the backup job on the primary");
    if (hv_backup_abort(x->pc, p->uuid) < 0 && x->job)
        job_progress(x->job, -1, "warning: %s (the next cycle ends it)", err_message());
    x->began = 0;
    ops_fault_point(op, "ended");
    if (repl_delete_checkpoints(x, p->checkpoint, 97) < 0 && x->job)
        job_progress(x->job, -1, "warning: %s (the next cycle deletes it)", err_message());
    err_clear();
    if (p->resync && repl_resync_finish(x, dx, rec) < 0) {
        /* The new chain is in and complete; only old files remain. */
        if (x->job)
            job_progress(x->job, -1, "warning: the old chain is not deleted yet (drover repair "
                         "%s deletes it): %s", p->vm, err_message());
        err_clear();
    }
    if (!p->resync && rec->repl && rec->repl->points > 0 && rec->npoints > (size_t)rec->repl->points) {
        /* The new point is in; retention failing leaves more points than
         * asked, never fewer: the cycle still succeeded. */
        if (repl_retain(x, dx, rec) < 0 && x->job)
            job_progress(x->job, -1, "warning: older points not merged: %s", err_message());
        err_clear();
    }
    x->moved = total.data + total.zeroed;
    x->data = total.data;
    x->succeeded = 1;
    util_format_size(total.data, sdata, sizeof(sdata));
    util_format_size(total.zeroed, szero, sizeof(szero));
    repl_step(x, 100, "%s (%s) of %s: %s of data and %s of zeroes copied for %zu disk%s in %.1f s "
              "(copying %.1f s); state %d %s", p->point, replica_rp_type_name(pt->type), p->vm,
              sdata, szero, p->ndisks,
              p->ndisks == 1 ? "" : "s", (double)(util_mono_ms() - x->t0) / 1000.0,
              (double)x->copy_ms / 1000.0, p->to_state, state_name(p->to_state));
    replica_free(rec);
    return 0;

undo:
    {
        ErrInfo saved;

        err_save(&saved);
        if (x->began && hv_backup_abort(x->pc, p->uuid) == 0)
            x->began = 0;
        if (!switched) {
            Replica *back = replica_copy(r);

            repl_undo_files(x);
            const ReplicaPoint *np = replica_newest_point(r);

            /* The definition as it was: disks and record. */
            for (i = 0; i < p->ndisks; i++) {
                const ReplicaDisk *od = p->resync && np ?
                    replica_disk_list_find(&np->disks, p->disks[i].target) : NULL;

                domxml_set_disk_source(dx, p->disks[i].target,
                                       od ? od->file : p->initial ? p->disks[i].base
                                                                  : p->disks[i].backing);
            }
            back->state = p->initial ? STATE_WAITING_INITIAL : r->state;
            if (repl_define_back(x->dr, dx, back, x->jobid, &x->expect) < 0 && x->job)
                job_progress(x->job, -1, "warning: the journal stays (drover repair %s): %s",
                             p->vm, err_message());
            replica_free(back);
        }
        err_restore(&saved);
    }
fail:
    replica_free(rec);
    return -1;
}

/* A cycle of replica d with its lock held. */

/* A cycle, or with resync a resync whose confirmed plan had digest
 * confirmed, of replica d with its lock held. */
static int
repl_cycle_locked(HvConn *dr, const char *host, const HvDomain *d, const ReplArgs *a, Job *job,
                  char **digest, int resync, const char *confirmed)
{
    ReplRun x;
    Replica *r = NULL;
    DomXml *dx = NULL;
    ReplPlan *p = NULL;
    HvDomain now;
    int ret = -1;
    size_t i;

    memset(&x, 0, sizeof(x));
    memset(&now, 0, sizeof(now));
    x.dr = dr;
    x.job = job;
    x.planned = a && a->planned;
    x.t0 = util_mono_ms();
    /* Under the lock: read again, and the power state with it. */
    if (hv_lookup(dr, d->uuid, 0, &now) < 0 ||
        !(dx = repl_read(dr, d->uuid, d->name, &r, &x.expect)))
        goto out;
    if (r->journal ||
        (resync ? repl_check_resync(r, now.name) : repl_check_state(r, now.name)) < 0 ||
        now.power != HV_POWER_OFF || !r->repl) {
        err_clear();
        p = repl_plan_build(dr, host, &now, dx, r, NULL, resync);
        goto out;
    }
    if (!(x.pc = repl_primary_open(r->primary_uri))) {
        err_prefix("%s of %s", resync ? "resync" : "replication", now.name);
        goto out;
    }
    if (!(p = repl_plan_build(dr, host, &now, dx, r, x.pc, resync)))
        goto out;
    *digest = util_xstrdup(p->digest);
    if (confirmed && strcmp(confirmed, p->digest) != 0) {
        err_set(RESULT_INVALID_STATE, "the plan for %s changed since it was shown (a cycle ran, "
                "or the chain or the primary changed): nothing was done; plan again", now.name);
        err_hint(RESULT_HINT_PLAN_CHANGED);
        goto out;
    }
    x.p = p;
    ret = repl_run(&x, dx, r);

out:
    if (ret < 0 && !err_code())
        err_set(RESULT_FAILED, "replication of %s failed", d->name);
    if (r && r->repl) {
        ErrInfo saved;

        err_save(&saved);
        repl_stats_note(r, d->uuid, ret < 0 ? repl_code() : 0, ret < 0 ? saved.message : NULL,
                        x.moved, util_mono_ms() - x.t0);
        err_restore(&saved);
    }
    for (i = 0; i < x.nmade; i++)
        free(x.made[i].path);
    free(x.made);
    free(x.expect);
    hv_close(x.pc);
    repl_plan_free(p);
    replica_free(r);
    domxml_free(dx);
    hv_domain_clear(&now);
    return ret < 0 ? repl_code() : 0;
}

/* A cycle or a resync of vm under its lock, audited. */
static int
repl_lock_run(HvConn *dr, const char *host, const char *vm, const ReplArgs *a, Job *job,
              int resync, const char *confirmed)
{
    const char *opname = resync ? "resync" : "replicate";
    UTIL_AUTOFREE char *self = lock_describe_self();
    UTIL_AUTOFREE char *holder = NULL;
    UTIL_AUTOFREE char *lockpath = NULL;
    UTIL_AUTOFREE char *digest = NULL;
    LockHandle *lk = NULL;
    Replica *r = NULL;
    DomXml *dx = NULL;
    HvDomain d;
    int code;

    if (hv_lookup(dr, vm, 0, &d) < 0)
        return repl_code();
    if ((code = repl_writable(dr, opname, d.name)) != 0)
        goto out;
    if (!(dx = repl_read(dr, d.uuid, d.name, &r, NULL))) {
        code = repl_code();
        goto out;
    }
    if (!(lockpath = replica_lock_path(r, d.uuid))) {
        err_set(RESULT_NOT_SUPPORTED, "%s is not replicated by drover (no <replication> and no "
                "points): use enable-replication", d.name);
        code = RESULT_NOT_SUPPORTED;
        goto out;
    }
    holder = util_xasprintf("%s, %s of %s, job %s", self,
                            resync ? "resync" : "replication cycle", d.name,
                            job ? job_id(job) : "none");
    if (job)
        job_progress(job, 1, "locking %s", d.name);
    if (!(lk = lock_acquire(lockpath, holder))) {
        err_prefix("%s", d.name);
        code = repl_code();
        goto out;
    }
    code = repl_cycle_locked(dr, host, &d, a, job, &digest, resync, confirmed);

out:
    repl_audit(a, host, d.name, opname, digest, job, code);
    lock_release(lk);
    replica_free(r);
    domxml_free(dx);
    hv_domain_clear(&d);
    return code;
}

int
repl_cycle(HvConn *dr, const char *host, const char *vm, const ReplArgs *a, Job *job)
{
    return repl_lock_run(dr, host, vm, a, job, 0, NULL);
}

int
repl_resync(HvConn *dr, const char *host, const char *vm, const char *digest,
            const ReplArgs *a, Job *job)
{
    return repl_lock_run(dr, host, vm, a, job, 1, digest);
}

int
repl_initial_locked(HvConn *dr, const char *host, const char *uuid, const ReplArgs *a, Job *job)
{
    UTIL_AUTOFREE char *digest = NULL;
    HvDomain d;
    int code;

    if (hv_lookup(dr, uuid, 0, &d) < 0)
        return repl_code();
    code = repl_cycle_locked(dr, host, &d, a, job, &digest, 0, NULL);
    hv_domain_clear(&d);
    return code;
}

int
repl_enable(HvConn *dr, const ReplPlan *confirmed, const ReplArgs *a, Job *job)
{
    UTIL_AUTOFREE char *self = lock_describe_self();
    UTIL_AUTOFREE char *holder = NULL;
    UTIL_AUTOFREE char *lockpath = NULL;
    UTIL_AUTOFREE char *digest = NULL;
    ReplEnableArgs ea;
    ReplPlan *p = NULL;
    LockHandle *lk = NULL;
    HvDomain d;
    dev_t nv_dev = 0;
    ino_t nv_ino = 0;
    int code = 0, nv_made = 0;

    memset(&d, 0, sizeof(d));
    if ((code = repl_writable(dr, "enable-replication", confirmed->vm)) != 0)
        goto out;
    if (job)
        job_progress(job, 1, "creating %s", confirmed->dir);
    if (fsutil_mkdirs(confirmed->dir, 0750) < 0) {
        code = repl_code();
        goto out;
    }
    lockpath = util_xasprintf("%s/.drover-%s.lock", confirmed->dir, confirmed->uuid);
    holder = util_xasprintf("%s, enable-replication of %s, job %s", self, confirmed->vm,
                            job ? job_id(job) : "none");
    if (!(lk = lock_acquire(lockpath, holder))) {
        err_prefix("%s", confirmed->vm);
        code = repl_code();
        goto out;
    }
    /* What runs is what was confirmed. */
    memset(&ea, 0, sizeof(ea));
    ea.vm = confirmed->uuid;
    ea.from = confirmed->primary_uri;
    ea.dir = confirmed->dir;
    ea.nbd = confirmed->nbd;
    ea.nbd_tls = confirmed->nbd_tls;
    ea.name = strcmp(confirmed->vm, confirmed->primary_vm) ? confirmed->vm : NULL;
    ea.interval = confirmed->interval;
    ea.points = confirmed->points;
    ea.app_every = confirmed->app_every;
    ea.netmap = (const char *const *)confirmed->netmap;
    ea.nnetmap = confirmed->nnetmap;
    ea.netmap_from = confirmed->netmap_from;
    if (!(p = repl_plan_enable(dr, confirmed->host, &ea))) {
        code = repl_code();
        goto out;
    }
    if (strcmp(p->digest, confirmed->digest) != 0) {
        err_set(RESULT_INVALID_STATE, "the plan for %s changed since it was shown (the primary's "
                "definition or the DR host changed): nothing was done; plan again", confirmed->vm);
        err_hint(RESULT_HINT_PLAN_CHANGED);
        code = RESULT_INVALID_STATE;
        goto out;
    }
    if (p->primary_nvram) {
        if (job)
            job_progress(job, 2, "copying the NVRAM %s to %s", p->primary_nvram, p->nvram);
        if (repl_copy_nvram(p, &nv_dev, &nv_ino) < 0) {
            code = repl_code();
            goto out;
        }
        nv_made = 1;
    }
    if (job)
        job_progress(job, 3, "defining the replica %s (state 1 Ready)", p->vm);
    if (hv_define(dr, p->domxml) < 0) {
        err_prefix("cannot define the replica %s", p->vm);
        code = repl_code();
        if (nv_made)
            repl_enable_undo_nvram(dr, p, nv_dev, nv_ino);
        goto out;
    }
    if (hv_lookup(dr, p->uuid, 0, &d) < 0) {
        code = repl_code();
        goto out;
    }
    code = repl_cycle_locked(dr, p->host, &d, a, job, &digest, 0, NULL);
    if (code)
        err_prefix("the replica %s is defined (state 2, initial copy pending: drover replicate "
                   "%s runs it again)", p->vm, p->vm);

out:
    repl_audit(a, confirmed->host, confirmed->vm, "enable-replication", confirmed->digest, job,
               code);
    lock_release(lk);
    repl_plan_free(p);
    hv_domain_clear(&d);
    return code;
}
