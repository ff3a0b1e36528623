/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ops-repair: finishing or undoing an interrupted operation, from the
 * journal it left in the replica record. */
#include <config.h>

#include "ops/ops.h"
#include "ops/ops-priv.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain/chain.h"
#include "base/err.h"
#include "base/lock.h"
#include "base/result.h"
#include "record/state.h"
#include "base/util.h"

/* --- repair ------------------------------------------------------------------ */

/* Loads the chains no deletion may touch.  When that fails (another
 * domain's disk cannot be resolved, a chain cannot be read) nothing may be
 * deleted, but the rollback or repair goes on: returns why (malloc'd), to
 * say for each file left in place; NULL when the chains are loaded. */
static char *
ops_repair_load_keep(OpsCtx *x)
{
    char *why;

    if (ops_load_keep(x, 0) == 0)
        return NULL;
    why = util_xasprintf("drover cannot prove that no domain uses it, so it is not deleted: %s",
                         err_message());
    err_clear();
    return why;
}

/* Deletes path (planned inode ino) like any deletion, or leaves it in
 * place and says why: nokeep when the chains could not be loaded, else the
 * refusal of chain_discard. */
static void
ops_repair_discard(OpsCtx *x, const char *path, dev_t dev, ino_t ino, const char *dir,
                   const char *nokeep)
{
    if (nokeep) {
        ops_leave(x, path, "%s", nokeep);
        return;
    }
    if (chain_discard(path, dev, ino, dir, (const Chain *const *)x->keep, x->nkeep) < 0) {
        ops_leave(x, path, "its deletion was refused: %s", err_message());
        err_clear();
    }
}

/* Removes a file an interrupted operation created, after checking it is
 * what the journal says: inside the directory and, for an overlay, backed
 * by the point it was made on.  What fails a check stays, noted. */
static void
ops_repair_remove_created(OpsCtx *x, const ReplicaJournal *j, const ReplicaDisk *d,
                          const Replica *r, const char *dir, const char *nokeep)
{
    dev_t dev;
    ino_t ino;
    uint64_t size;
    ChainHeader h;
    const ReplicaPoint *pt = j->point ? replica_find_point(r, j->point) : NULL;
    const ReplicaDisk *rp = pt ? replica_disk_list_find(&pt->disks, d->target) : NULL;
    size_t i;

    if (chain_stat(d->file, &dev, &ino, &size) < 0) {
        if (err_code() != RESULT_FILE_NOT_FOUND)
            ops_leave(x, d->file, "drover cannot look at it: %s", err_message());
        err_clear();    /* not found: never created */
        return;
    }
    if (x->undo) {
        /* Undoing our own run: only what this run made, still the same file. */
        for (i = 0; i < x->nmade && strcmp(x->made[i].path, d->file) != 0; i++)
            ;
        if (i == x->nmade || x->made[i].dev != dev || x->made[i].ino != ino)
            return;
        ops_step(x, 50, "removing %s, made by this %s before it failed", d->file, j->op);
        ops_repair_discard(x, d->file, dev, ino, dir, nokeep);
        return;
    }
    memset(&h, 0, sizeof(h));
    if (chain_read_header(d->file, &h) == 0 && rp && !j->flatten &&
        (!h.backing_name || strcmp(h.backing_name, rp->file) != 0)) {
        ops_leave(x, d->file, "it is not the overlay the journal describes (backed by %s, not %s)",
                  h.backing_name ? h.backing_name : "nothing", rp->file);
        chain_header_clear(&h);
        return;
    }
    err_clear();    /* a half-written file may not even have a header */
    chain_header_clear(&h);
    ops_step(x, 50, "removing %s left by the interrupted %s", d->file, j->op);
    ops_repair_discard(x, d->file, dev, ino, dir, nokeep);
}

/* qemu-img writes a new file under ".<name>.tmp-XXXXXX" beside it (see
 * chain_create_overlay): one left by an interrupted create belongs to the
 * journal's file and goes with it. */
static void
ops_repair_remove_temps(OpsCtx *x, const ReplicaDisk *d, const char *dir, const char *nokeep)
{
    UTIL_AUTOFREE char *fdir = NULL;
    UTIL_AUTOFREE char *prefix = NULL;
    size_t plen;
    DIR *dh;
    struct dirent *e;

    if (x->undo)
        return;     /* qemu-img runs of this process removed their own */
    fdir = util_dirname(d->file);
    prefix = util_xasprintf(".%s.tmp-", strrchr(d->file, '/') + 1);
    plen = strlen(prefix);
    if (!(dh = opendir(fdir))) {
        if (errno != ENOENT)
            ops_leave(x, fdir, "drover cannot read the directory for temporary files of %s: %s",
                      d->file, strerror(errno));
        return;
    }
    while ((e = readdir(dh))) {
        UTIL_AUTOFREE char *path = NULL;
        dev_t dev;
        ino_t ino;
        uint64_t size;

        if (strncmp(e->d_name, prefix, plen) != 0 || strlen(e->d_name) != plen + 6)
            continue;
        path = util_xasprintf("%s/%s", fdir, e->d_name);
        if (chain_stat(path, &dev, &ino, &size) < 0) {
            err_clear();
            continue;
        }
        ops_step(x, 55, "removing %s, a temporary file of the interrupted operation", path);
        ops_repair_discard(x, path, dev, ino, dir, nokeep);
    }
    closedir(dh);
}

/* Removes the test system uuid, or leaves it and says why. */
static void
ops_repair_remove_test(OpsCtx *x, const char *uuid, const char *name)
{
    UTIL_AUTOFREE char *what = NULL;

    if (ops_remove_test_system(x, uuid, name) == 0)
        return;
    what = util_xasprintf("test system %s", name ? name : uuid);
    ops_leave(x, what, "drover could not remove it: %s", err_message());
    err_clear();
}

int
ops_rollback(OpsCtx *x, Replica *r, const char *dir, const char *vm)
{
    ReplicaJournal *j = r->journal;
    UTIL_AUTOFREE char *nokeep = NULL;
    size_t i;

    if (strcmp(j->op, "commit") == 0 && j->flatten && r->failover) {
        const ReplicaPoint *pt = replica_find_point(r, j->point);
        for (i = 0; i < r->failover->disks.n && pt; i++) {
            const ReplicaDisk *fd = &r->failover->disks.v[i];
            const ReplicaDisk *rp = replica_disk_list_find(&pt->disks, fd->target);
            const ReplicaDisk *flat = replica_disk_list_find(&j->create, fd->target);
            ChainHeader h;

            memset(&h, 0, sizeof(h));
            /* Not a refusal but a failed write: the failover disk would
             * read another chain than the record says, so the journal
             * stays for a repair that can finish it. */
            if (rp && flat && chain_read_header(fd->file, &h) == 0 && h.backing_name &&
                strcmp(h.backing_name, flat->file) == 0 &&
                chain_rebase_unsafe(fd->file, rp->file) < 0) {
                chain_header_clear(&h);
                return -1;
            }
            err_clear();
            chain_header_clear(&h);
        }
    }
    /* Its disks are no longer any domain's once it is gone. */
    if (strcmp(j->op, "test-failover") == 0 && j->uuid)
        ops_repair_remove_test(x, j->uuid, j->domain);
    /* Loaded after the steps above: the failover disks no longer sit on
     * the flattened images, the test system no longer uses its overlays. */
    nokeep = ops_repair_load_keep(x);
    for (i = 0; i < j->create.n; i++) {
        ops_repair_remove_created(x, j, &j->create.v[i], r, dir, nokeep);
        ops_repair_remove_temps(x, &j->create.v[i], dir, nokeep);
    }
    r->state = j->from_state;
    replica_journal_free(r->journal);
    r->journal = NULL;
    ops_step(x, 90, "closing the journal of %s", vm);
    return ops_define_last(x, r);
}

static int
ops_repair_run(OpsCtx *x, Replica *r, const char *dir, const char *vm)
{
    ReplicaJournal *j = r->journal;
    UTIL_AUTOFREE char *nokeep = NULL;
    size_t i;

    if (strcmp(j->step, "switched") != 0) {
        ops_step(x, 20, "rolling back the interrupted %s (it stopped before its switch)", j->op);
        return ops_rollback(x, r, dir, vm);
    }
    ops_step(x, 20, "finishing the interrupted %s (it stopped after its switch)", j->op);
    if (strcmp(j->op, "stop-test") == 0 && j->uuid)
        ops_repair_remove_test(x, j->uuid, j->domain);
    nokeep = ops_repair_load_keep(x);
    for (i = 0; i < j->remove.n; i++) {
        const ReplicaDisk *d = &j->remove.v[i];
        dev_t dev;
        ino_t ino;
        uint64_t size;

        if (chain_stat(d->file, &dev, &ino, &size) < 0) {
            if (err_code() != RESULT_FILE_NOT_FOUND)
                ops_leave(x, d->file, "drover cannot look at it: %s", err_message());
            err_clear();    /* not found: deleted before the interruption */
            continue;
        }
        if (!d->inode) {
            /* Without the planned inode, whatever is at the path now
             * could be someone else's file. */
            ops_leave(x, d->file, "the journal does not record which file it was (no inode), so "
                      "drover does not delete it: check it and remove it by hand if it is the "
                      "old one");
            continue;
        }
        ops_step(x, 50, "deleting %s as the interrupted %s planned", d->file, j->op);
        ops_repair_discard(x, d->file, dev, (ino_t)d->inode, dir, nokeep);
    }
    replica_journal_free(r->journal);
    r->journal = NULL;
    ops_step(x, 90, "closing the journal of %s", vm);
    return ops_define_last(x, r);
}

int
ops_repair(HvConn *c, const char *host, const char *vm, const OpsArgs *a, Job *job, int *did)
{
    UTIL_AUTOFREE char *self = lock_describe_self();
    UTIL_AUTOFREE char *holder = NULL;
    UTIL_AUTOFREE char *lockpath = NULL;
    UTIL_AUTOFREE char *xml = NULL;
    UTIL_AUTOFREE char *md = NULL;
    UTIL_AUTOFREE char *dir = NULL;
    UTIL_AUTOFREE char *digest = NULL;
    OpsCtx x;
    HvDomain d;
    Replica *r = NULL;
    LockHandle *lk = NULL;
    int code = 0;

    *did = 0;
    memset(&x, 0, sizeof(x));
    x.c = c;
    x.a = a;
    x.job = job;
    x.opname = "repair";
    if (hv_lookup(c, vm, 0, &d) < 0)
        return ops_code();
    /* Read once without the lock to find where the lock lives. */
    if (!(xml = hv_get_xml(c, d.uuid)) || !(x.dx = domxml_parse(xml)))
        goto fail;
    if (!(md = domxml_get_replica(x.dx))) {
        err_set(RESULT_STATUS_UNKNOWN, "%s has no drover replica record", d.name);
        goto fail;
    }
    if (!(r = replica_parse(md, strlen(md)))) {
        err_prefix("replica record of %s", d.name);
        goto fail;
    }
    if (!r->journal)
        goto done;
    dir = replica_dir(r);
    lockpath = replica_lock_path(r, d.uuid);
    if (!dir || !lockpath) {
        err_set(RESULT_INCORRECT_TYPE, "%s has a journal but no recovery points", d.name);
        goto fail;
    }
    if (hv_is_readonly(c)) {
        err_set(RESULT_ACCESS_DENIED, "repair of %s refused: the connection is read-only", d.name);
        err_hint(RESULT_HINT_REFUSED);
        goto fail;
    }
    holder = util_xasprintf("%s, repair of %s, job %s", self, d.name, job ? job_id(job) : "none");
    if (!(lk = lock_acquire(lockpath, holder))) {
        err_prefix("%s: an operation is running on it now (it is not interrupted)", d.name);
        err_hint(RESULT_HINT_REFUSED);
        goto fail;
    }
    ops_fault_point("repair", "locked");
    /* Under the lock: read again, the operation may have finished. */
    replica_free(r);
    r = NULL;
    domxml_free(x.dx);
    x.dx = NULL;
    free(xml);
    xml = NULL;
    free(md);
    md = NULL;
    if (hv_reload_if_changed(c) < 0 || !(xml = hv_get_xml(c, d.uuid)) || !(x.dx = domxml_parse(xml)))
        goto fail;
    if (!(md = domxml_get_replica(x.dx)) || !(r = replica_parse(md, strlen(md)))) {
        if (!err_code())
            err_set(RESULT_STATUS_UNKNOWN, "%s has no drover replica record", d.name);
        goto fail;
    }
    if (!r->journal)
        goto done;
    x.expect = util_xstrdup(xml);
    digest = util_xasprintf("repair:%s:%s:%s", r->journal->op, r->journal->job, r->journal->step);
    *did = 1;
    if (ops_repair_run(&x, r, dir, d.name) < 0)
        goto fail;
    if (x.left.n) {
        /* Finished all the same: the record is consistent again, and what
         * was not deleted is said here, in the job and in the audit log. */
        UTIL_AUTOFREE char *text = ops_left_text(&x);
        UTIL_AUTOFREE char *note = util_xasprintf("completed with warnings: left in place: %s",
                                                  text);

        UtilBuf paths = { 0 };
        size_t i;

        for (i = 0; i < x.left.n; i++)
            util_buf_printf(&paths, "%s%s", i ? ", " : "", x.left.v[i].what);
        /* The step is short: the paths here, the reasons in the warnings
         * and the audit line. */
        ops_step(&x, 100, "repaired %s with warnings: now %d %s; left in place: %s", d.name,
                 r->state, state_name(r->state), paths.s);
        util_buf_free(&paths);
        ops_audit_note(a, host, d.name, "repair", digest, job, 0, note);
        if (job)
            job_set_warnings(job, note);
        goto done;
    }
    ops_step(&x, 100, "repaired %s: now %d %s", d.name, r->state, state_name(r->state));
    ops_audit(a, host, d.name, "repair", digest, job, 0);
    goto done;

fail:
    code = ops_code();
    /* Refused or failed once a journal was found: audited like any attempt. */
    if (*did || lockpath)
        ops_audit(a, host, d.name, "repair", digest, job, code);
done:
    ops_ctx_clear(&x);
    replica_free(r);
    lock_release(lk);
    hv_domain_clear(&d);
    return code;
}

int
ops_repair_preview(HvConn *c, const char *vm, char **text)
{
    UTIL_AUTOFREE char *xml = NULL;
    UTIL_AUTOFREE char *md = NULL;
    HvDomain d;
    DomXml *dx = NULL;
    Replica *r = NULL;
    UtilBuf b = { 0 };
    const ReplicaJournal *j;
    size_t i;
    int ret = -1;

    *text = NULL;
    if (hv_lookup(c, vm, 0, &d) < 0)
        return -1;
    if (!(xml = hv_get_xml(c, d.uuid)) || !(dx = domxml_parse(xml)))
        goto out;
    if (!(md = domxml_get_replica(dx))) {
        ret = 0;
        goto out;
    }
    if (!(r = replica_parse(md, strlen(md)))) {
        err_prefix("replica record of %s", d.name);
        goto out;
    }
    if (!(j = r->journal)) {
        ret = 0;
        goto out;
    }
    util_buf_printf(&b, "interrupted %s (job %s) stopped ", j->op, j->job);
    if (strcmp(j->step, "switched") == 0) {
        util_buf_printf(&b, "after its switch: repair finishes it (state %d %s)", j->to_state,
                        state_name(j->to_state));
        if (strcmp(j->op, "stop-test") == 0 && j->domain)
            util_buf_printf(&b, "; removes the test system %s", j->domain);
        for (i = 0; i < j->remove.n; i++)
            util_buf_printf(&b, "; deletes %s", j->remove.v[i].file);
    } else {
        util_buf_printf(&b, "before its switch: repair undoes it (back to state %d %s)",
                        j->from_state, state_name(j->from_state));
        if (strcmp(j->op, "test-failover") == 0 && j->domain)
            util_buf_printf(&b, "; removes the test system %s if it was defined", j->domain);
        for (i = 0; i < j->create.n; i++)
            util_buf_printf(&b, "; removes %s if it was created", j->create.v[i].file);
    }
    if (j->remove.n || j->create.n)
        util_buf_add(&b, " (a file drover cannot prove unused stays, and is listed)");
    util_buf_add(&b, "; clears the journal");
    *text = util_buf_steal(&b);
    ret = 1;

out:
    util_buf_free(&b);
    replica_free(r);
    domxml_free(dx);
    hv_domain_clear(&d);
    return ret;
}
