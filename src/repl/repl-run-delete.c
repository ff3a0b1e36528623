/* SPDX-License-Identifier: GPL-2.0-or-later */
/* repl-run-delete: what a run deletes on the DR host, each file by
 * chain_discard against every chain here: the checks before a deletion;
 * this run's files after a failure; the temporaries an interrupted cycle
 * left; retention's merges of the oldest points into the base; a resync's
 * old chain after its switch; enable's NVRAM copy when the replica was not
 * defined. */
#include <config.h>

#include "repl/repl.h"
#include "repl/repl-priv.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"
#include "chain/chain.h"
#include "ops/ops.h"
#include "ops/plan.h"
#include "record/replica.h"

/* The chains no deletion may touch: every disk of every domain here. */
static int
repl_load_keep(HvConn *dr, Chain ***keep, size_t *nkeep)
{
    return plan_keep_load_but(dr, NULL, keep, nkeep);
}

/* Before a merge or a resync changes anything: the files it deletes after
 * its switch pass every check of that deletion against the other domains
 * here (the replica's own chain uses them until the switch).  A disk of
 * another domain that cannot be resolved refuses here, with nothing
 * changed, rather than after the switch (issue 11, item 11). */
int
repl_check_removals_on(HvConn *dr, const char *uuid, const char *dir,
                       const ReplicaDiskList *files)
{
    const char *exclude[2] = { uuid, NULL };
    Chain **keep = NULL;
    size_t nkeep = 0, i;
    int ret = 0;

    if (plan_keep_load_but(dr, exclude, &keep, &nkeep) < 0) {
        err_prefix("drover cannot tell which files the domains here use, so it deletes nothing");
        return -1;
    }
    for (i = 0; i < files->n && ret == 0; i++) {
        dev_t dev;
        ino_t ino;
        uint64_t size;

        if (chain_stat(files->v[i].file, &dev, &ino, &size) < 0 ||
            chain_discard_check(files->v[i].file, dev, ino, dir,
                                (const Chain *const *)keep, nkeep) < 0)
            ret = -1;
    }
    plan_keep_free(keep, nkeep);
    return ret;
}

int
repl_check_removals(ReplRun *x, const ReplicaDiskList *files)
{
    return repl_check_removals_on(x->dr, x->p->uuid, x->p->dir, files);
}

/* Removes the files of this run (still the same inode) after a failure. */
void
repl_undo_files(ReplRun *x)
{
    Chain **keep = NULL;
    size_t nkeep = 0, i;
    ErrInfo saved;

    err_save(&saved);
    if (x->nmade && repl_load_keep(x->dr, &keep, &nkeep) == 0) {
        for (i = x->nmade; i-- > 0;) {
            if (chain_discard(x->made[i].path, x->made[i].dev, x->made[i].ino, x->p->dir,
                              (const Chain *const *)keep, nkeep) < 0 && x->job)
                job_progress(x->job, -1, "warning: %s left in place: %s", x->made[i].path,
                             err_message());
        }
    }
    plan_keep_free(keep, nkeep);
    err_restore(&saved);
}

/* Temporary files an interrupted cycle left: ".<name>.tmp-XXXXXX" of one
 * of this plan's files, removed as any deletion is. */
int
repl_remove_stale_temps(ReplRun *x)
{
    Chain **keep = NULL;
    size_t nkeep = 0, i;
    int ret = 0;

    for (i = 0; i < x->p->ndisks && ret == 0; i++) {
        const char *names[2] = { x->p->disks[i].file, x->p->disks[i].base };
        size_t k;

        for (k = 0; k < 2 && ret == 0; k++) {
            UTIL_AUTOFREE char *dir = NULL;
            UTIL_AUTOFREE char *prefix = NULL;
            struct dirent *e;
            DIR *dh;

            if (!names[k])
                continue;
            dir = util_dirname(names[k]);
            prefix = util_xasprintf(".%s.tmp-", strrchr(names[k], '/') + 1);
            if (!(dh = opendir(dir)))
                continue;
            while ((e = readdir(dh)) && ret == 0) {
                UTIL_AUTOFREE char *path = NULL;
                dev_t dev;
                ino_t ino;
                uint64_t size;

                /* Only names of the exact shape: mkstemp's six characters. */
                if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 ||
                    strlen(e->d_name) != strlen(prefix) + 6)
                    continue;
                path = util_xasprintf("%s/%s", dir, e->d_name);
                if (chain_stat(path, &dev, &ino, &size) < 0) {
                    err_clear();
                    continue;
                }
                if (!keep && repl_load_keep(x->dr, &keep, &nkeep) < 0) {
                    ret = -1;
                    break;
                }
                repl_step(x, 6, "removing %s, left by an interrupted cycle", path);
                ret = chain_discard(path, dev, ino, x->p->dir, (const Chain *const *)keep, nkeep);
            }
            closedir(dh);
        }
    }
    plan_keep_free(keep, nkeep);
    return ret;
}

/* Retention: merges the oldest point into the base while there are more
 * than the record keeps.  Per merge: journal (the layers to delete, with
 * their inodes); qemu-img commit of the oldest layer into the base (no
 * view changes: the layer still covers what it commits); the next point
 * rebased onto the base (-u: same content); ONE define drops the point
 * (journal "switched"); the layers deleted; the journal closed.  A crash
 * anywhere leaves every point reading as before; repair finishes or undoes
 * it. */
int
repl_retain(ReplRun *x, DomXml *dx, Replica *rec)
{
    Chain **keep = NULL;
    size_t nkeep = 0, i;
    UTIL_AUTOFREE char *jobid = NULL;
    int ret = -1, journaled = 0;

    while (rec->npoints > (size_t)rec->repl->points && rec->npoints > 1) {
        ReplicaPoint *old = &rec->points[0], *next = &rec->points[1];
        ReplicaJournal *j;
        char id[37];

        /* A test system reads the base too: nothing is merged under it. */
        if (rec->test) {
            err_set(RESULT_IN_USE, "the test system %s runs on %s's chain: %s is merged after "
                    "stop-test", rec->test->domain, rec->test->point ? rec->test->point : "a point",
                    old->id);
            goto out;
        }
        if (repl_check_removals(x, &old->disks) < 0) {
            err_prefix("%s is not merged", old->id);
            goto out;
        }
        repl_step(x, 98, "retention: merging %s into the base (%d points kept)", old->id,
                  rec->repl->points);
        j = rec->journal = util_xcalloc(1, sizeof(*j));
        j->op = util_xstrdup("replicate");
        if (x->job)
            util_strlcpy(id, job_id(x->job), sizeof(id));
        else
            job_new_uuid(id);
        j->job = util_xstrdup(id);
        j->step = util_xstrdup("prepared");
        j->time = util_now();
        j->from_state = j->to_state = rec->state;
        for (i = 0; i < old->disks.n; i++) {
            dev_t dev;
            ino_t ino;
            uint64_t size;

            if (chain_stat(old->disks.v[i].file, &dev, &ino, &size) < 0)
                goto out;
            replica_disk_list_add(&j->remove, old->disks.v[i].target, old->disks.v[i].file,
                                  (uint64_t)ino);
        }
        if (repl_define(x->dr, dx, rec, &x->expect) < 0)
            goto out;
        journaled = 1;
        ops_fault_point("retain", "journal");
        for (i = 0; i < old->disks.n; i++) {
            const ReplicaDisk *od = &old->disks.v[i];
            const ReplicaDisk *nd = replica_disk_list_find(&next->disks, od->target);
            const char *args[] = { "commit", "-q", "-d", od->file, NULL };
            ChainHeader h;
            UTIL_AUTOFREE char *base = NULL;

            memset(&h, 0, sizeof(h));
            if (!nd || chain_read_header(od->file, &h) < 0 || !h.backing_name) {
                if (!err_code())
                    err_set(RESULT_INCORRECT_TYPE, "%s has no backing file: nothing to merge into",
                            od->file);
                chain_header_clear(&h);
                goto out;
            }
            base = util_xstrdup(h.backing_name);
            chain_header_clear(&h);
            if (chain_run_qemu_img(args, NULL, NULL) < 0) {
                err_prefix("merging %s into %s", od->file, base);
                goto out;
            }
            ops_fault_point("retain", "committed");
            if (chain_rebase_unsafe(nd->file, base) < 0)
                goto out;
        }
        ops_fault_point("retain", "rebased");
        /* The point goes; the journal says its layers go next. */
        free(rec->journal->step);
        rec->journal->step = util_xstrdup("switched");
        {
            ReplicaPoint gone = *old;

            memmove(&rec->points[0], &rec->points[1], (rec->npoints - 1) * sizeof(*rec->points));
            rec->npoints--;
            if (repl_define(x->dr, dx, rec, &x->expect) < 0) {
                /* Not switched: the point is still in the record. */
                memmove(&rec->points[1], &rec->points[0], rec->npoints * sizeof(*rec->points));
                rec->points[0] = gone;
                rec->npoints++;
                goto out;
            }
            ops_fault_point("retain", "switched");
            journaled = 2;
            plan_keep_free(keep, nkeep);
            keep = NULL;
            if (repl_load_keep(x->dr, &keep, &nkeep) < 0) {
                free(gone.id);
                free(gone.checkpoint);
                replica_disk_list_clear(&gone.disks);
                goto out;
            }
            for (i = 0; i < rec->journal->remove.n; i++) {
                const ReplicaDisk *d = &rec->journal->remove.v[i];
                dev_t dev;
                ino_t ino;
                uint64_t size;

                if (chain_stat(d->file, &dev, &ino, &size) < 0 ||
                    chain_discard(d->file, dev, (ino_t)d->inode, x->p->dir,
                                  (const Chain *const *)keep, nkeep) < 0)
                    break;
            }
            free(gone.id);
            free(gone.checkpoint);
            replica_disk_list_clear(&gone.disks);
            if (i < rec->journal->remove.n)
                goto out;
        }
        replica_journal_free(rec->journal);
        rec->journal = NULL;
        if (repl_define(x->dr, dx, rec, &x->expect) < 0)
            goto out;
        journaled = 0;
    }
    ret = 0;

out:
    if (ret < 0 && journaled == 1) {
        /* Failed before its switch: every point reads as before (a partly
         * merged base is covered by the layer above it); close the journal
         * so the replica is not left "interrupted".  After the switch the
         * journal stays for repair, which deletes the merged layers. */
        ErrInfo saved;

        err_save(&saved);
        jobid = util_xstrdup(rec->journal->job);
        replica_journal_free(rec->journal);
        rec->journal = NULL;
        if (repl_define_back(x->dr, dx, rec, jobid, &x->expect) < 0 && x->job)
            job_progress(x->job, -1, "warning: the retention's journal stays (drover repair "
                         "%s): %s", x->p->vm, err_message());
        err_restore(&saved);
    } else if (ret < 0 && rec->journal && journaled == 0) {
        /* Not defined: the record in memory goes back to what libvirt has. */
        replica_journal_free(rec->journal);
        rec->journal = NULL;
    }
    plan_keep_free(keep, nkeep);
    return ret;
}

/* After a resync's switch: the old chain's files (the very files the
 * journal names, by inode) deleted, then the journal closed with one
 * define.  -1 with err set leaves the journal for drover repair. */
int
repl_resync_finish(ReplRun *x, DomXml *dx, Replica *rec)
{
    Chain **keep = NULL;
    size_t nkeep = 0, i;
    int ret = -1;

    if (repl_load_keep(x->dr, &keep, &nkeep) < 0)
        goto out;
    for (i = 0; i < rec->journal->remove.n; i++) {
        const ReplicaDisk *d = &rec->journal->remove.v[i];
        dev_t dev;
        ino_t ino;
        uint64_t size;

        if (chain_stat(d->file, &dev, &ino, &size) < 0) {
            if (err_code() != RESULT_FILE_NOT_FOUND)
                goto out;
            err_clear();
            continue;
        }
        repl_step(x, 98, "deleting %s (old chain)", d->file);
        if (chain_discard(d->file, dev, (ino_t)d->inode, x->p->dir, (const Chain *const *)keep,
                          nkeep) < 0)
            goto out;
        ops_fault_point("resync", "deleting");
    }
    replica_journal_free(rec->journal);
    rec->journal = NULL;
    if (repl_define(x->dr, dx, rec, &x->expect) < 0)
        goto out;
    ret = 0;

out:
    plan_keep_free(keep, nkeep);
    return ret;
}

/* The replica was not defined: its NVRAM copy goes (the same inode, as
 * any deletion); the define's error stays the one reported. */
void
repl_enable_undo_nvram(HvConn *dr, const ReplPlan *p, dev_t dev, ino_t ino)
{
    Chain **keep = NULL;
    size_t nkeep = 0;
    ErrInfo saved;

    err_save(&saved);
    if (repl_load_keep(dr, &keep, &nkeep) == 0)
        chain_discard(p->nvram, dev, ino, p->dir, (const Chain *const *)keep, nkeep);
    plan_keep_free(keep, nkeep);
    err_restore(&saved);
}
