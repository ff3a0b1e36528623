/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ops-steps: an execution's steps on the host, which ops_run (ops.c)
 * orders: the deletions checked before anything changes, the power-off,
 * the new files (overlays, flattened images, the NVRAM copy) and the test
 * system, the deletions after the switch and the verification; and the
 * removal of a test system, which repair uses too. */
#include <config.h>

#include "ops/ops.h"
#include "ops/ops-priv.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"
#include "chain/chain.h"
#include "hv/domxml.h"
#include "hv/hv.h"
#include "record/replica.h"
#include "record/state.h"

/* Defines the test system: the replica's definition with its own name,
 * UUID, no network interfaces, and disks on the test overlays. */
static int
ops_define_test_system(OpsCtx *x)
{
    const Plan *p = x->p;
    DomXml *t = domxml_parse(p->domxml);
    Replica *tr = NULL;
    UTIL_AUTOFREE char *md = NULL;
    UTIL_AUTOFREE char *xml = NULL;
    size_t i;
    int ret = -1;

    if (!t)
        return -1;
    domxml_set_name(t, p->test_domain);
    domxml_set_uuid(t, p->test_uuid);
    if (p->test_network) {
        domxml_interfaces_to_network(t, p->test_network);
        domxml_strip_genid(t);
    } else {
        domxml_strip_for_test(t);
    }
    for (i = 0; i < p->create.n; i++) {
        /* Its own NVRAM: the replica's is never written by a running test. */
        if (p->create.v[i].copy ? domxml_set_nvram(t, p->create.v[i].path) < 0 :
            domxml_set_disk_source(t, p->create.v[i].target, p->create.v[i].path) < 0)
            goto cleanup;
    }
    {
        /* A disk the record does not replicate would be shared, writable,
         * by the replica and its test system: leave it out (the plan says so). */
        const char **keep = util_xcalloc(p->create.n + 1, sizeof(*keep));
        size_t n = 0;
        for (i = 0; i < p->create.n; i++)
            if (!p->create.v[i].copy)
                keep[n++] = p->create.v[i].target;
        domxml_drop_disks_except(t, keep, n);
        free(keep);
    }
    tr = replica_new();
    tr->mode = MODE_TEST_REPLICA;
    tr->state = STATE_DISABLED;
    tr->primary_name = util_xstrdup(p->vm);
    tr->primary_host = util_xstrdup(p->host);
    md = replica_format(tr);
    if (!md || domxml_set_replica(t, md) < 0)
        goto cleanup;
    xml = domxml_format(t);
    if (hv_define(x->c, xml) < 0) {
        err_prefix("cannot define the test system %s", p->test_domain);
        goto cleanup;
    }
    ret = 0;

cleanup:
    replica_free(tr);
    domxml_free(t);
    return ret;
}

/* Refuses, before anything changes, a deletion the safety rules forbid. */
int
ops_precheck_removals(OpsCtx *x)
{
    size_t i;

    for (i = 0; i < x->p->remove.n; i++) {
        const PlanFile *f = &x->p->remove.v[i];
        if (chain_discard_check(f->path, f->dev, f->ino, x->p->dir,
                                (const Chain *const *)x->keep, x->nkeep) < 0) {
            err_prefix("nothing was changed; %s", f->role);
            return -1;
        }
    }
    return 0;
}

int
ops_delete_all(OpsCtx *x, const PlanFileList *files)
{
    size_t i;

    for (i = 0; i < files->n; i++) {
        const PlanFile *f = &files->v[i];
        char sz[32];

        util_format_size(f->allocated ? f->allocated : f->size, sz, sizeof(sz));
        ops_step(x, 70 + (int)(20 * i / (files->n ? files->n : 1)), "deleting %s %s (%s)",
                 f->role, f->path, sz);
        if (chain_discard(f->path, f->dev, f->ino, x->p->dir, (const Chain *const *)x->keep,
                          x->nkeep) < 0) {
            err_hint(RESULT_HINT_REPAIR);
            err_prefix("the switch is done but %s was not deleted; run drover repair %s",
                       f->role, x->p->vm);
            return -1;
        }
        if (i == 0 && files->n > 1)
            ops_fault_point(x->opname, "deleting");
    }
    return 0;
}

/* Checks the host and the disks now say what the plan promised. */
int
ops_verify(OpsCtx *x)
{
    const Plan *p = x->p;
    UTIL_AUTOFREE char *xml = hv_get_xml(x->c, p->uuid);
    UTIL_AUTOFREE char *md = NULL;
    DomXml *d = NULL;
    DomDiskList disks = { 0 };
    Replica *r = NULL;
    size_t i, j;
    int ret = -1;

    if (!xml || !(d = domxml_parse(xml)))
        goto cleanup;
    if (!(md = domxml_get_replica(d)) || !(r = replica_parse(md, strlen(md)))) {
        if (!err_code())
            err_set(RESULT_STATUS_UNKNOWN, "the replica record is gone");
        goto cleanup;
    }
    if (r->state != p->to_state) {
        err_set(RESULT_FAILED, "the record says state %d, expected %d", r->state, p->to_state);
        goto cleanup;
    }
    domxml_disks(d, &disks);
    for (i = 0; i < p->nswitches; i++) {
        const char *src = NULL;
        Chain *c;

        for (j = 0; j < disks.n; j++)
            if (strcmp(disks.v[j].target, p->switches[i].target) == 0)
                src = disks.v[j].source;
        if (!src || strcmp(src, p->switches[i].to) != 0) {
            err_set(RESULT_FAILED, "disk %s uses %s, expected %s", p->switches[i].target,
                    src ? src : "nothing", p->switches[i].to);
            goto cleanup;
        }
        if (!(c = chain_walk(src))) {
            err_prefix("disk %s", p->switches[i].target);
            goto cleanup;
        }
        chain_free(c);
    }
    for (i = 0; i < p->create.n; i++) {
        Chain *c;
        int ok;

        if (p->create.v[i].copy) {
            if (access(p->create.v[i].path, F_OK) < 0) {
                err_set_errno(0, errno, "new file %s", p->create.v[i].path);
                goto cleanup;
            }
            continue;
        }
        if (!(c = chain_walk(p->create.v[i].path))) {
            err_prefix("new file %s", p->create.v[i].path);
            goto cleanup;
        }
        /* An overlay's first backing layer is the recovery point. */
        ok = p->op == OP_COMMIT || (c->n > 1 && strcmp(c->layers[1].path, p->create.v[i].backing) == 0);
        chain_free(c);
        if (!ok) {
            err_set(RESULT_FAILED, "%s is not backed by %s", p->create.v[i].path, p->create.v[i].backing);
            goto cleanup;
        }
    }
    for (i = 0; i < p->remove.n; i++) {
        if (access(p->remove.v[i].path, F_OK) == 0 || errno != ENOENT) {
            err_set(RESULT_FAILED, "%s still exists", p->remove.v[i].path);
            goto cleanup;
        }
    }
    ret = 0;

cleanup:
    if (ret < 0)
        err_prefix("verification after %s failed", state_op_title(p->op));
    replica_free(r);
    domxml_disk_list_clear(&disks);
    domxml_free(d);
    return ret;
}

/* 1 if the domain uuid is still the test system name, 0 if it is gone or
 * is another domain now (a reused UUID is someone else's), -1 on error. */
static int
ops_is_test_system(OpsCtx *x, const char *uuid, const char *name)
{
    HvDomain td;
    int ours;

    if (hv_lookup(x->c, uuid, 0, &td) < 0) {
        if (err_code() != RESULT_INVALID_PARAMETER)
            return -1;
        err_clear();
        return 0;
    }
    ours = name && strcmp(td.name, name) == 0;
    hv_domain_clear(&td);
    return ours;
}

static void
ops_tick(int elapsed, int timeout, void *opaque)
{
    OpsCtx *x = opaque;

    ops_step(x, 10 + (timeout > 0 ? 25 * elapsed / timeout : 0),
             "waiting for %s to shut down (%d of %d s, then forced off)", x->p->vm, elapsed, timeout);
}

int
ops_power(OpsCtx *x)
{
    const Plan *p = x->p;
    int forced = 0;

    if (p->power_action == PLAN_POWER_SHUTDOWN) {
        ops_step(x, 10, "shutting down %s (up to %d s, then forced off)", p->vm, x->a->shutdown_timeout);
        if (hv_power_off(x->c, p->uuid, x->a->shutdown_timeout, ops_tick, x, &forced) < 0) {
            err_prefix("cannot power off %s", p->vm);
            return -1;
        }
        ops_step(x, 35, forced ? "%s forced off after %d s" : "%s shut down", p->vm,
                 x->a->shutdown_timeout);
    } else if (p->power_action == PLAN_POWER_DESTROY) {
        int ours;

        ops_step(x, 10, "powering off the test system %s", p->test_domain);
        if ((ours = ops_is_test_system(x, p->test_uuid, p->test_domain)) < 0)
            return -1;
        if (ours && hv_destroy(x->c, p->test_uuid) < 0 && err_code() != RESULT_INVALID_STATE) {
            err_prefix("cannot power off %s", p->test_domain);
            return -1;
        }
        err_clear();
    }
    ops_fault_point(x->opname, "powered-off");
    return 0;
}

/* One percentage for the whole job (the copy spans 40% to 90% of it),
 * with how much is copied, the rate and the time left.  Non-zero asks the
 * copy to stop: an operator cancelled the job, which is still before its
 * switch. */
static int
ops_progress_flatten(int percent, void *opaque)
{
    OpsCtx *x = opaque;
    int64_t ms = util_mono_ms() - x->copy_start;
    char done[32], total[32], rate[32];

    if (x->job && job_cancel_requested(x->job))
        return 1;
    /* qemu-img counts its way through the virtual disk, so the amounts
     * and the rate are of the disk gone through, not of bytes written. */
    util_format_size(x->copy_bytes, total, sizeof(total));
    if (percent > 0 && percent < 100 && ms > 0) {
        uint64_t d = (uint64_t)((double)x->copy_bytes * percent / 100.0);
        int64_t left = (int64_t)((double)ms * (100 - percent) / percent / 1000.0 + 0.5);

        util_format_size(d, done, sizeof(done));
        util_format_size((uint64_t)((double)d * 1000.0 / (double)ms), rate, sizeof(rate));
        ops_step(x, 40 + percent / 2, "flattening the chain: %s of %s done, %s/s, %lld s left",
                 done, total, rate, (long long)left);
    } else {
        ops_step(x, 40 + percent / 2, "flattening the chain: %s %s", total,
                 percent >= 100 ? "done" : "to go through");
    }
    return 0;
}

/* An operator asked to cancel (only possible before the switch). */
int
ops_cancelled(OpsCtx *x)
{
    if (!x->job || !job_cancel_requested(x->job))
        return 0;
    err_set(RESULT_FAILED, "%s of %s was cancelled by an operator before its switch: "
            "nothing was changed", state_op_title(x->p->op), x->p->vm);
    return 1;
}

/* Remembers a file this run created, with its identity, for undo. */
static void
ops_made(OpsCtx *x, const char *path)
{
    OpsMade *m;

    x->made = util_xrealloc(x->made, (x->nmade + 1) * sizeof(*x->made));
    m = &x->made[x->nmade];
    if (chain_stat(path, &m->dev, &m->ino, NULL) < 0) {
        err_clear();    /* it was just renamed into place; if it is gone, there is nothing to undo */
        return;
    }
    m->path = util_xstrdup(path);
    x->nmade++;
}

/* Creates the plan's new files (overlays, flattened images). */
int
ops_create(OpsCtx *x)
{
    const Plan *p = x->p;
    size_t i;

    for (i = 0; i < p->create.n; i++) {
        const PlanFile *f = &p->create.v[i];
        int r;

        ops_step(x, 40, "creating %s %s %s %s", f->role, f->path,
                 p->op == OP_COMMIT ? "from" : "on", f->backing);
        if (f->copy) {
            r = chain_copy_file(f->backing, f->path);
        } else if (p->op == OP_COMMIT) {
            x->copy_bytes = f->size;
            x->copy_start = util_mono_ms();
            r = chain_flatten(f->backing, f->path, ops_progress_flatten, x);
            if (r < 0 && ops_cancelled(x))
                return -1;
        } else {
            r = chain_create_overlay(f->backing, f->path);
        }
        if (r < 0) {
            err_prefix("cannot create %s", f->role);
            return -1;
        }
        ops_made(x, f->path);
    }
    ops_fault_point(x->opname, "created");
    if (p->op == OP_COMMIT && p->flatten) {
        for (i = 0; i < p->rec->failover->disks.n; i++) {
            const ReplicaDisk *d = &p->rec->failover->disks.v[i];
            const PlanFile *f = ops_created(p, d->target);

            ops_step(x, 58, "pointing failover disk %s at %s", d->file, f->path);
            if (chain_rebase_unsafe(d->file, f->path) < 0)
                return -1;
        }
        ops_fault_point(x->opname, "rebased");
    }
    if (p->op == OP_TEST) {
        ops_step(x, 58, "defining the test system %s", p->test_domain);
        if (ops_define_test_system(x) < 0)
            return -1;
        ops_fault_point(x->opname, "test-defined");
    }
    return 0;
}

/* Powers off and undefines the test system uuid, but only if it still is
 * the domain the journal or plan named (a reused UUID is someone else's).
 * A test system that is already gone is fine. */
int
ops_remove_test_system(OpsCtx *x, const char *uuid, const char *name)
{
    int ours = ops_is_test_system(x, uuid, name);

    if (ours <= 0)
        return ours;
    hv_destroy(x->c, uuid);
    err_clear();    /* already off */
    return hv_undefine(x->c, uuid);
}
