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

/* Removes a file an interrupted operation created, after checking it is
 * what the journal says: inside the directory and, for an overlay, backed
 * by the point it was made on. */
static int
ops_repair_remove_created(OpsCtx *x, const ReplicaJournal *j, const ReplicaDisk *d,
                          const Replica *r, const char *dir)
{
    dev_t dev;
    ino_t ino;
    uint64_t size;
    ChainHeader h;
    const ReplicaPoint *pt = j->point ? replica_find_point(r, j->point) : NULL;
    const ReplicaDisk *rp = pt ? replica_disk_list_find(&pt->disks, d->target) : NULL;
    int ret;
    size_t i;

    if (chain_stat(d->file, &dev, &ino, &size) < 0) {
        if (err_code() == RESULT_FILE_NOT_FOUND) {
            err_clear();    /* never created */
            return 0;
        }
        return -1;
    }
    if (x->undo) {
        /* Undoing our own run: only what this run made, still the same file. */
        for (i = 0; i < x->nmade && strcmp(x->made[i].path, d->file) != 0; i++)
            ;
        if (i == x->nmade || x->made[i].dev != dev || x->made[i].ino != ino)
            return 0;
        ops_step(x, 50, "removing %s, made by this %s before it failed", d->file, j->op);
        return chain_discard(d->file, dev, ino, dir, (const Chain *const *)x->keep, x->nkeep);
    }
    memset(&h, 0, sizeof(h));
    if (chain_read_header(d->file, &h) == 0 && rp && !j->flatten) {
        if (!h.backing_name || strcmp(h.backing_name, rp->file) != 0) {
            err_set(RESULT_INVALID_STATE, "%s is not the overlay the journal describes (backed by %s, not %s); left in place",
                    d->file, h.backing_name ? h.backing_name : "nothing", rp->file);
            chain_header_clear(&h);
            return -1;
        }
    }
    err_clear();    /* a half-written file may not even have a header */
    chain_header_clear(&h);
    ops_step(x, 50, "removing %s left by the interrupted %s", d->file, j->op);
    ret = chain_discard(d->file, dev, ino, dir, (const Chain *const *)x->keep, x->nkeep);
    return ret;
}

/* qemu-img writes a new file under ".<name>.tmp-XXXXXX" beside it (see
 * chain_create_overlay): one left by an interrupted create belongs to the
 * journal's file and goes with it. */
static int
ops_repair_remove_temps(OpsCtx *x, const ReplicaDisk *d, const char *dir)
{
    if (x->undo)
        return 0;   /* qemu-img runs of this process removed their own */
    {
    UTIL_AUTOFREE char *fdir = util_dirname(d->file);
    UTIL_AUTOFREE char *prefix = util_xasprintf(".%s.tmp-", strrchr(d->file, '/') + 1);
    size_t plen = strlen(prefix);
    DIR *dh = opendir(fdir);
    struct dirent *e;
    int ret = 0;

    if (!dh) {
        if (errno == ENOENT)
            return 0;
        err_set_errno(0, errno, "cannot read directory %s", fdir);
        return -1;
    }
    while ((e = readdir(dh)) && ret == 0) {
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
        ret = chain_discard(path, dev, ino, dir, (const Chain *const *)x->keep, x->nkeep);
    }
    closedir(dh);
    return ret;
    }
}

int
ops_rollback(OpsCtx *x, Replica *r, const char *dir, const char *vm)
{
    ReplicaJournal *j = r->journal;
    size_t i;

    if (ops_load_keep(x, 0) < 0)
        return -1;
    if (strcmp(j->op, "commit") == 0 && j->flatten && r->failover) {
        const ReplicaPoint *pt = replica_find_point(r, j->point);
        for (i = 0; i < r->failover->disks.n && pt; i++) {
            const ReplicaDisk *fd = &r->failover->disks.v[i];
            const ReplicaDisk *rp = replica_disk_list_find(&pt->disks, fd->target);
            const ReplicaDisk *flat = replica_disk_list_find(&j->create, fd->target);
            ChainHeader h;

            memset(&h, 0, sizeof(h));
            if (rp && flat && chain_read_header(fd->file, &h) == 0 && h.backing_name &&
                strcmp(h.backing_name, flat->file) == 0 &&
                chain_rebase_unsafe(fd->file, rp->file) < 0) {
                chain_header_clear(&h);
                return -1;
            }
            err_clear();
            chain_header_clear(&h);
        }
        /* The failover disks no longer sit on the flattened images. */
        if (ops_load_keep(x, 0) < 0)
            return -1;
    }
    if (strcmp(j->op, "test-failover") == 0 && j->uuid) {
        /* Its disks are no longer any domain's once it is gone. */
        if (ops_remove_test_system(x, j->uuid, j->domain) < 0 || ops_load_keep(x, 0) < 0)
            return -1;
    }
    for (i = 0; i < j->create.n; i++) {
        if (ops_repair_remove_created(x, j, &j->create.v[i], r, dir) < 0 ||
            ops_repair_remove_temps(x, &j->create.v[i], dir) < 0)
            return -1;
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
    size_t i;

    if (strcmp(j->step, "switched") != 0) {
        ops_step(x, 20, "rolling back the interrupted %s (it stopped before its switch)", j->op);
        return ops_rollback(x, r, dir, vm);
    }
    if (ops_load_keep(x, 0) < 0)
        return -1;
    ops_step(x, 20, "finishing the interrupted %s (it stopped after its switch)", j->op);
    if (strcmp(j->op, "stop-test") == 0 && j->uuid) {
        if (ops_remove_test_system(x, j->uuid, j->domain) < 0 || ops_load_keep(x, 0) < 0)
            return -1;
    }
    for (i = 0; i < j->remove.n; i++) {
        const ReplicaDisk *d = &j->remove.v[i];
        dev_t dev;
        ino_t ino;
        uint64_t size;

        if (chain_stat(d->file, &dev, &ino, &size) < 0) {
            if (err_code() != RESULT_FILE_NOT_FOUND)
                return -1;
            err_clear();    /* already deleted before the interruption */
            continue;
        }
        if (!d->inode) {
            /* Without the planned inode, whatever is at the path now
             * could be someone else's file. */
            err_set(RESULT_INCORRECT_TYPE,
                    "the journal does not record which file %s was (no inode); drover will not "
                    "delete it: check it and remove it by hand if it is the old one", d->file);
            return -1;
        }
        ops_step(x, 50, "deleting %s as the interrupted %s planned", d->file, j->op);
        if (chain_discard(d->file, dev, (ino_t)d->inode, dir,
                          (const Chain *const *)x->keep, x->nkeep) < 0)
            return -1;
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
