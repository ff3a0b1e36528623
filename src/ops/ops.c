/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ops: executing a confirmed plan (repair is in ops-repair.c, the checked
 * define in ops-define.c). */
#include <config.h>

#include "ops/ops.h"
#include "ops/ops-priv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops/audit.h"
#include "chain/chain.h"
#include "hv/domxml.h"
#include "base/err.h"
#include "base/lock.h"
#include "base/testhook.h"
#include "record/replica.h"
#include "base/result.h"
#include "record/state.h"
#include "base/util.h"

#define OPS_FAULT_EXIT 86

void
ops_fault_point(const char *op, const char *step)
{
    const char *f = getenv("DROVER_FAULT");
    const char *pause = getenv("DROVER_PAUSE");
    size_t n;

    if (pause && *pause) {
        char where[128];

        snprintf(where, sizeof(where), "%s:%s", op, step);
        testhook_pause(where);
    }
    if (!f || !*f)
        return;
    n = strlen(op);
    if (strncmp(f, op, n) == 0 && f[n] == ':' && strcmp(f + n + 1, step) == 0)
        _exit(OPS_FAULT_EXIT);
}

void
ops_step(OpsCtx *x, int percent, const char *fmt, ...)
{
    char text[200];
    va_list ap;

    if (!x->job)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    job_progress(x->job, percent, "%s", text);
}

void
ops_keep_free(OpsCtx *x)
{
    plan_keep_free(x->keep, x->nkeep);
    x->keep = NULL;
    x->nkeep = 0;
}

/* The chains no deletion may touch (plan_load_keep): every disk of every
 * other domain on the host, and this replica's disks as they will be after
 * the switch.  With future = 0 the replica's (and test system's) disks as
 * they are now. */
int
ops_load_keep(OpsCtx *x, int future)
{
    ops_keep_free(x);
    /* On a fleet file, a domain another process defined since this one
     * last read it reaches memory only on reload: its disks count too. */
    if (hv_reload_if_changed(x->c) < 0) {
        err_prefix("cannot read the domains on %s again", hv_uri(x->c));
        return -1;
    }
    return plan_load_keep(x->c, x->p, future, &x->keep, &x->nkeep);
}

static void
ops_left_list_clear(OpsLeftList *l)
{
    size_t i;

    if (!l)
        return;
    for (i = 0; i < l->n; i++) {
        free(l->v[i].what);
        free(l->v[i].why);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

void
ops_leave(OpsCtx *x, const char *what, const char *fmt, ...)
{
    OpsLeft *l;
    va_list ap;
    char why[1024];

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    x->left.v = util_xrealloc(x->left.v, (x->left.n + 1) * sizeof(*x->left.v));
    l = &x->left.v[x->left.n++];
    l->what = util_xstrdup(what);
    l->why = util_xstrdup(why);
    if (x->job)
        job_progress(x->job, -1, "warning: %s left in place: %s", what, why);
}

char *
ops_left_text(const OpsCtx *x)
{
    UtilBuf b = { 0 };
    size_t i;

    if (!x->left.n)
        return NULL;
    for (i = 0; i < x->left.n; i++)
        util_buf_printf(&b, "%s%s (%s)", i ? "; " : "", x->left.v[i].what, x->left.v[i].why);
    return util_buf_steal(&b);
}

void
ops_ctx_clear(OpsCtx *x)
{
    size_t i;

    ops_left_list_clear(&x->left);
    ops_keep_free(x);
    for (i = 0; i < x->nmade; i++)
        free(x->made[i].path);
    free(x->made);
    x->made = NULL;
    x->nmade = 0;
    domxml_free(x->dx);
    x->dx = NULL;
    free(x->expect);
    x->expect = NULL;
    free(x->changed);
    x->changed = NULL;
    free(x->defined);
    x->defined = NULL;
}

static ReplicaJournal *
ops_journal_new(const Plan *p, const char *jobid)
{
    ReplicaJournal *j = util_xcalloc(1, sizeof(*j));
    size_t i;

    j->op = util_xstrdup(state_op_name(p->op));
    j->job = util_xstrdup(jobid);
    j->step = util_xstrdup("prepared");
    j->time = util_now();
    j->from_state = p->from_state;
    j->to_state = p->to_state;
    j->point = util_xstrdup(p->point);
    j->domain = util_xstrdup(p->test_domain);
    j->uuid = p->test_uuid[0] ? util_xstrdup(p->test_uuid) : NULL;
    j->flatten = p->flatten;
    for (i = 0; i < p->create.n; i++)
        replica_disk_list_add(&j->create, p->create.v[i].target, p->create.v[i].path, 0);
    for (i = 0; i < p->remove.n; i++)
        replica_disk_list_add(&j->remove, p->remove.v[i].target, p->remove.v[i].path,
                              (uint64_t)p->remove.v[i].ino);
    return j;
}

static void
ops_set_journal_step(Replica *r, const char *step)
{
    free(r->journal->step);
    r->journal->step = util_xstrdup(step);
}

static char *
ops_operator(const OpsArgs *a)
{
    UTIL_AUTOFREE char *self = NULL;

    if (a && a->by && *a->by)
        return util_xstrdup(a->by);
    self = lock_describe_self();
    return util_xstrndup(self, strcspn(self, " "));
}

static const PlanFile *
ops_created(const Plan *p, const char *target)
{
    size_t i;

    for (i = 0; i < p->create.n; i++)
        if (strcmp(p->create.v[i].target, target) == 0)
            return &p->create.v[i];
    return NULL;
}

/* The record as it is after the switch (journal kept, step "switched"). */
static Replica *
ops_final_record(OpsCtx *x, const Replica *journaled)
{
    const Plan *p = x->p;
    Replica *r = replica_copy(journaled);
    size_t i;

    r->state = p->to_state;
    ops_set_journal_step(r, "switched");
    switch (p->op) {
    case OP_INITIATE:
        replica_failover_free(r->failover);
        r->failover = util_xcalloc(1, sizeof(*r->failover));
        r->failover->point = util_xstrdup(p->point);
        r->failover->time = util_now();
        r->failover->by = ops_operator(x->a);
        for (i = 0; i < p->create.n; i++) {
            ReplicaDiskList *l = &r->failover->disks;
            replica_disk_list_add(l, p->create.v[i].target, p->create.v[i].path, 0);
            /* Revert puts the disk back exactly as it is now. */
            l->v[l->n - 1].before = domxml_disk_element(x->dx, p->create.v[i].target);
        }
        break;
    case OP_REVERT:
        replica_failover_free(r->failover);
        r->failover = NULL;
        break;
    case OP_COMMIT: {
        /* Only the committed point stays a recovery point. */
        ReplicaPoint keep;
        size_t k;

        memset(&keep, 0, sizeof(keep));
        for (k = 0; k < r->npoints; k++) {
            if (strcmp(r->points[k].id, p->point) == 0) {
                keep = r->points[k];
                memset(&r->points[k], 0, sizeof(r->points[k]));
            }
        }
        {
            Replica *tmp = replica_new();
            tmp->points = r->points;
            tmp->npoints = r->npoints;
            r->points = util_xcalloc(1, sizeof(*r->points));
            r->points[0] = keep;
            r->npoints = 1;
            replica_free(tmp);
        }
        if (p->flatten) {
            for (i = 0; i < r->points[0].disks.n; i++) {
                const PlanFile *f = ops_created(p, r->points[0].disks.v[i].target);
                if (f) {
                    free(r->points[0].disks.v[i].file);
                    r->points[0].disks.v[i].file = util_xstrdup(f->path);
                }
            }
        }
        replica_failover_free(r->failover);
        r->failover = NULL;
        break;
    }
    case OP_TEST:
        replica_test_free(r->test);
        r->test = util_xcalloc(1, sizeof(*r->test));
        r->test->domain = util_xstrdup(p->test_domain);
        r->test->uuid = util_xstrdup(p->test_uuid);
        r->test->point = util_xstrdup(p->point);
        r->test->time = util_now();
        for (i = 0; i < p->create.n; i++) {
            if (p->create.v[i].copy)
                r->test->nvram = util_xstrdup(p->create.v[i].path);
            else
                replica_disk_list_add(&r->test->disks, p->create.v[i].target, p->create.v[i].path, 0);
        }
        break;
    case OP_STOP_TEST:
        replica_test_free(r->test);
        r->test = NULL;
        break;
    default:
        break;
    }
    return r;
}

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
static int
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

static int
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
static int
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

static int
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
static int
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
static int
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

/* Appends text to a saved error's message. */
static void
ops_err_append(ErrInfo *e, const char *text)
{
    size_t n = strlen(e->message);

    snprintf(e->message + n, sizeof(e->message) - n, "; %s", text);
}

/* Says in a saved error what the undo left in place (x->left). */
static void
ops_err_append_left(const OpsCtx *x, ErrInfo *e)
{
    UTIL_AUTOFREE char *left = ops_left_text(x);
    UTIL_AUTOFREE char *t = NULL;

    if (!left)
        return;
    t = util_xasprintf("the undo left in place what drover could not prove unused: %s", left);
    ops_err_append(e, t);
}

/* Parses the definition another writer left (x->changed) into *cur and its
 * record into *r (NULL when either is gone; no error left).  Returns 1 when
 * that record still holds this run's journal, else 0. */
static int
ops_parse_changed(OpsCtx *x, const Replica *journaled, DomXml **cur, Replica **r)
{
    UTIL_AUTOFREE char *md = NULL;

    *r = NULL;
    if ((*cur = domxml_parse(x->changed)) && (md = domxml_get_replica(*cur)))
        *r = replica_parse(md, strlen(md));
    err_clear();    /* no definition or no record: the callers say so */
    return *r && (*r)->journal && (*r)->journal->job && journaled->journal->job &&
           strcmp((*r)->journal->job, journaled->journal->job) == 0;
}

/* Another writer changed the definition before the switch: undo this run
 * on *their* definition, so their change stays.  The record is theirs (a
 * recovery point replication added stays); the journal is ours, whatever
 * they left of it, so the rollback removes exactly what this run made and
 * puts the state back. */
static void
ops_undo_on_changed(OpsCtx *x, const Replica *journaled)
{
    const Plan *p = x->p;
    DomXml *cur = NULL;
    Replica *r = NULL;
    ErrInfo saved;
    int ours;

    err_save(&saved);
    ours = ops_parse_changed(x, journaled, &cur, &r);
    if (!ours && x->nmade == 0) {
        /* Our journal never reached the definition and nothing was made. */
        if (p->power_action == PLAN_POWER_NONE) {
            ops_err_append(&saved, "nothing was changed");
        } else {
            const char *off = p->power_action == PLAN_POWER_DESTROY ? p->test_domain : p->vm;
            UTIL_AUTOFREE char *t = util_xasprintf("nothing was changed (%s was powered off, "
                                                   "as the plan said)", off);
            ops_err_append(&saved, t);
        }
        err_restore(&saved);
        goto cleanup;
    }
    if (!r) {
        /* Nothing to define: only remove what this run made, if no domain
         * uses it now; a test system this run defined goes first, as in
         * ops_rollback (it uses the overlays and the NVRAM copy). */
        UtilBuf left = { 0 };
        int keep_ok;
        size_t i;

        if (p->op == OP_TEST && p->test_uuid[0] &&
            ops_remove_test_system(x, p->test_uuid, p->test_domain) < 0)
            util_buf_printf(&left, "the test system %s, ", p->test_domain);
        keep_ok = ops_load_keep(x, 0) == 0;
        for (i = 0; i < x->nmade; i++) {
            const OpsMade *m = &x->made[i];
            if (!keep_ok || left.len ||
                chain_discard(m->path, m->dev, m->ino, p->dir,
                              (const Chain *const *)x->keep, x->nkeep) < 0)
                util_buf_printf(&left, "%s%s", i ? ", " : "", m->path);
        }
        err_clear();
        {
            UTIL_AUTOFREE char *t = util_xasprintf("%s or its drover record is gone, so there is "
                                                   "no definition to undo this operation on; %s%s",
                                                   p->vm, left.len ? "what it made is left: " :
                                                   "the files it made are removed",
                                                   left.len ? left.s : "");
            ops_err_append(&saved, t);
        }
        util_buf_free(&left);
        err_restore(&saved);
        goto cleanup;
    }
    {
        Replica *mine = replica_copy(journaled);

        replica_journal_free(r->journal);
        r->journal = UTIL_STEAL(&mine->journal);
        replica_free(mine);
    }
    ops_set_journal_step(r, "prepared");
    domxml_free(x->dx);
    x->dx = UTIL_STEAL(&cur);
    free(x->expect);
    x->expect = UTIL_STEAL(&x->changed);
    x->undo = 1;
    if (ops_rollback(x, r, p->dir, p->vm) < 0) {
        err_restore(&saved);
        err_hint(RESULT_HINT_REPAIR);
        err_prefix("the operation could not be undone: run drover repair %s", p->vm);
    } else {
        ops_err_append(&saved, "the operation was undone on the new definition, which keeps "
                       "that change");
        ops_err_append_left(x, &saved);
        err_restore(&saved);
    }
    x->undo = 0;

cleanup:
    replica_free(r);
    domxml_free(cur);
}

/* After a define that failed (perhaps after libvirt applied it), reads the
 * definition again: unchanged (not applied) or this run's own (applied),
 * x->expect becomes it; another writer's, x->changed does.  Unreadable:
 * x->expect is unknown (NULL) and the undo defines without a check. */
static void
ops_settle_failed_define(OpsCtx *x)
{
    const char *uuid = domxml_uuid(x->dx);
    char *now = uuid ? hv_get_xml(x->c, uuid) : NULL;
    UTIL_AUTOFREE char *vs_expect = NULL;
    UTIL_AUTOFREE char *vs_defined = NULL;

    if (!now) {
        if (uuid && err_code() == RESULT_INVALID_PARAMETER) {
            free(x->changed);
            x->changed = util_xstrdup("");     /* undefined meanwhile */
        } else {
            free(x->expect);
            x->expect = NULL;
        }
        err_clear();
        return;
    }
    if (x->expect && !(vs_expect = domxml_describe_changes(x->expect, now)) && !err_code()) {
        free(now);      /* not applied */
        return;
    }
    if (x->defined && !(vs_defined = domxml_describe_changes(x->defined, now)) && !err_code()) {
        free(x->expect);
        x->expect = now;        /* applied: ours */
        return;
    }
    err_clear();
    free(x->changed);
    x->changed = now;           /* another writer's */
}

/* The operation failed before its switch (or the switch's outcome is
 * unknown): put the definition back as it was, journal included, then roll
 * back with repair's own code, deleting only files this run made.  If even
 * that fails, the journal stays and repair finishes the job later.  The
 * definition is checked first: another writer's change made meanwhile is
 * kept (ops_undo_on_changed). */
static void
ops_undo(OpsCtx *x, const Replica *journaled)
{
    const Plan *p = x->p;
    ErrInfo saved;
    Replica *r;

    err_save(&saved);
    if (!x->changed && x->define_unknown)
        ops_settle_failed_define(x);
    if (!x->changed && x->expect && ops_check_unchanged(x) < 0 && !x->changed) {
        err_restore(&saved);
        err_hint(RESULT_HINT_REPAIR);
        err_prefix("the failed operation could not be undone: run drover repair %s", p->vm);
        return;
    }
    err_restore(&saved);
    if (x->changed) {
        ops_undo_on_changed(x, journaled);
        return;
    }
    r = replica_copy(journaled);
    ops_set_journal_step(r, "prepared");
    domxml_free(x->dx);
    x->dx = domxml_parse(p->domxml);
    x->undo = 1;
    if (!x->dx || ops_define(x, r) < 0 || ops_rollback(x, r, p->dir, p->vm) < 0) {
        err_restore(&saved);
        err_hint(RESULT_HINT_REPAIR);
        err_prefix("the failed operation could not be undone: run drover repair %s", p->vm);
    } else {
        ops_err_append_left(x, &saved);
        err_restore(&saved);
    }
    x->undo = 0;
    replica_free(r);
}

/* Another writer changed the definition after the switch, which stands:
 * close the journal on their definition instead of overwriting it. */
static int
ops_close_on_changed(OpsCtx *x, const Replica *journaled)
{
    DomXml *cur = NULL;
    Replica *r = NULL;
    ErrInfo saved;
    int ret = -1;

    err_save(&saved);
    if (!ops_parse_changed(x, journaled, &cur, &r)) {
        /* Their definition no longer holds our journal: nothing to close. */
        err_restore(&saved);
        err_prefix("%s of %s was done, but its journal is gone from the definition another "
                   "writer left: check it (drover check %s)", state_op_title(x->p->op),
                   x->p->vm, x->p->vm);
        goto cleanup;
    }
    replica_journal_free(r->journal);
    r->journal = NULL;
    ops_step(x, 98, "closing the journal on the definition another writer changed");
    domxml_free(x->dx);
    x->dx = UTIL_STEAL(&cur);
    free(x->expect);
    x->expect = UTIL_STEAL(&x->changed);
    ret = ops_define_last(x, r);

cleanup:
    replica_free(r);
    domxml_free(cur);
    return ret;
}

/* Points a disk at its new file.  Revert puts back the disk element the
 * failover saved (an explicit <backingStore>, <source> slices, ...), and
 * only repoints it when it named another file than the one reverted to. */
static int
ops_switch_disk(OpsCtx *x, const PlanSwitch *sw)
{
    const Plan *p = x->p;
    const ReplicaDisk *fd = p->op == OP_REVERT && p->rec->failover ?
                            replica_disk_list_find(&p->rec->failover->disks, sw->target) : NULL;
    DomDiskList disks = { 0 };
    size_t i;
    int same = 0;

    if (!fd || !fd->before)
        return domxml_set_disk_source(x->dx, sw->target, sw->to);
    if (domxml_restore_disk(x->dx, sw->target, fd->before) < 0) {
        err_prefix("disk %s", sw->target);
        return -1;
    }
    domxml_disks(x->dx, &disks);
    for (i = 0; i < disks.n; i++)
        if (strcmp(disks.v[i].target, sw->target) == 0)
            same = util_streq(disks.v[i].source, sw->to);
    domxml_disk_list_clear(&disks);
    return same ? 0 : domxml_set_disk_source(x->dx, sw->target, sw->to);
}

static int
ops_run(OpsCtx *x)
{
    const Plan *p = x->p;
    Replica *journaled = NULL, *final = NULL;
    size_t i;
    int ret = -1;

    if (!(x->dx = domxml_parse(p->domxml)))
        goto cleanup;
    /* Read under the lock by the re-plan: every define must find it so. */
    x->expect = util_xstrdup(p->domxml);
    if (p->remove.n) {
        ops_step(x, 5, "checking that no other domain uses the files to delete");
        if (ops_load_keep(x, 1) < 0 || ops_precheck_removals(x) < 0)
            goto cleanup;
    }
    if (ops_cancelled(x) || ops_power(x) < 0)
        goto cleanup;

    /* 1. Intent, before the first change. */
    journaled = replica_copy(p->rec);
    journaled->journal = ops_journal_new(p, x->job ? job_id(x->job) : "none");
    journaled->state = state_during(p->op, p->from_state);
    ops_step(x, 38, "recording the operation in the replica record");
    /* A failed define may still have been applied (a write-back that timed
     * out, a connection lost after the call): undo, as for any later step. */
    if (ops_define(x, journaled) < 0)
        goto undo;
    ops_fault_point(x->opname, "journal");

    /* 2. Prepare: new files only, nothing the VM uses changes. */
    if (ops_create(x) < 0)
        goto undo;

    /* 3. Switch: disks, state and record in one define.  Up to here an
     * operator may cancel; from here on the job only goes forward. */
    if (x->job && job_pass_switch(x->job)) {
        ops_cancelled(x);
        goto undo;
    }
    final = ops_final_record(x, journaled);
    for (i = 0; i < p->nswitches; i++)
        if (ops_switch_disk(x, &p->switches[i]) < 0)
            goto undo;
    if (p->op == OP_INITIATE || p->op == OP_REVERT)
        domxml_reset_genid(x->dx);
    ops_step(x, 65, "switching %s to %d %s", p->vm, p->to_state, state_name(p->to_state));
    if (ops_define(x, final) < 0) {
        if (!x->applied)
            goto undo;
        err_clear();    /* the switch stands; the journal is closed on their definition */
    }
    ops_fault_point(x->opname, "switched");

    /* 4. After the switch: remove what the plan named, and only that. */
    if (p->op == OP_STOP_TEST && p->test_uuid[0]) {
        ops_step(x, 68, "removing the test system %s", p->test_domain);
        if (ops_remove_test_system(x, p->test_uuid, p->test_domain) < 0) {
            err_hint(RESULT_HINT_REPAIR);
            err_prefix("the switch is done but the test system was not removed; run drover repair %s", p->vm);
            goto cleanup;
        }
        ops_fault_point(x->opname, "undefined");
    }
    if (p->remove.n) {
        /* Our own disks changed with the switch: protect their new chains. */
        if (ops_load_keep(x, 0) < 0) {
            /* Checked under the lock before the journal: a domain changed
             * since.  Repair finishes, leaving what it cannot prove unused. */
            err_hint(RESULT_HINT_REPAIR);
            err_prefix("the switch is done but nothing was deleted; run drover repair %s",
                       p->vm);
            goto cleanup;
        }
        if (ops_delete_all(x, &p->remove) < 0)
            goto cleanup;
        ops_fault_point(x->opname, "deleted");
    }

    /* 5. Verify, then close the journal. */
    ops_step(x, 92, "verifying");
    if (ops_verify(x) < 0)
        goto cleanup;
    ops_fault_point(x->opname, "verified");
    replica_journal_free(final->journal);
    final->journal = NULL;
    ops_step(x, 97, "closing the journal");
    if (x->changed) {
        if (ops_close_on_changed(x, journaled) < 0)
            goto cleanup;
    } else if (ops_define_last(x, final) < 0 &&
               (!x->changed || ops_close_on_changed(x, journaled) < 0)) {
        goto cleanup;
    }
    ops_step(x, 100, "%s of %s completed: now %d %s", state_op_title(p->op), p->vm, p->to_state,
             state_name(p->to_state));
    ret = 0;
    goto cleanup;

undo:
    ops_undo(x, journaled);
cleanup:
    replica_free(journaled);
    replica_free(final);
    return ret;
}

void
ops_audit(const OpsArgs *a, const char *host, const char *vm, const char *opname,
          const char *digest, Job *job, int code)
{
    ops_audit_note(a, host, vm, opname, digest, job, code, NULL);
}

void
ops_audit_note(const OpsArgs *a, const char *host, const char *vm, const char *opname,
               const char *digest, Job *job, int code, const char *note)
{
    AuditRecord rec;
    ErrInfo saved;

    err_save(&saved);
    memset(&rec, 0, sizeof(rec));
    rec.host = host;
    rec.vm = vm;
    rec.operation = opname;
    rec.digest = digest;
    rec.reason = a ? a->reason : NULL;
    rec.job = job ? job_id(job) : NULL;
    rec.result = code;
    rec.message = code ? saved.message : note ? note : "completed";
    rec.refused = code && (saved.hints & RESULT_HINT_REFUSED);
    if (audit_write(a ? a->audit_log : NULL, &rec) < 0 && job)
        job_progress(job, -1, "warning: %s", err_message());
    err_restore(&saved);
}

int
ops_code(void)
{
    return err_code() ? err_code() : RESULT_FAILED;
}

int
ops_execute(HvConn *c, const Plan *confirmed, const OpsArgs *a, Job *job)
{
    UTIL_AUTOFREE char *self = lock_describe_self();
    UTIL_AUTOFREE char *holder = NULL;
    UTIL_AUTOFREE char *lockpath = plan_lock_path(confirmed);
    UTIL_AUTOFREE char *forced_reason = NULL;
    OpsArgs defaults, forced;
    OpsCtx x;
    PlanArgs pa;
    Plan *fresh = NULL;
    LockHandle *lk;
    int code;

    if (!a) {
        memset(&defaults, 0, sizeof(defaults));
        defaults.shutdown_timeout = 60;
        a = &defaults;
    }
    /* An overridden split-brain guard is said in the audit log, with why. */
    if (confirmed->guard == PLAN_GUARD_OVERRIDDEN) {
        forced = *a;
        forced_reason = util_xasprintf("split-brain guard overridden (%s): %s", confirmed->guard_text,
                                       a->reason ? a->reason : "no reason given");
        forced.reason = forced_reason;
        a = &forced;
    }
    memset(&x, 0, sizeof(x));
    x.c = c;
    x.a = a;
    x.job = job;
    x.opname = state_op_name(confirmed->op);
    if (job)
        job_set_digest(job, confirmed->digest);
    if (hv_is_readonly(c)) {
        err_set(RESULT_ACCESS_DENIED, "%s of %s refused: drover is connected to %s read-only",
                state_op_title(confirmed->op), confirmed->vm, hv_uri(c));
        err_hint(RESULT_HINT_REFUSED);
        ops_audit(a, confirmed->host, confirmed->vm, x.opname, confirmed->digest, job,
                  RESULT_ACCESS_DENIED);
        return RESULT_ACCESS_DENIED;
    }
    holder = util_xasprintf("%s, %s of %s, job %s", self, state_op_title(confirmed->op),
                            confirmed->vm, job ? job_id(job) : "none");
    ops_step(&x, 1, "locking %s", confirmed->vm);
    if (!(lk = lock_acquire(lockpath, holder))) {
        err_prefix("%s is in use by another operation", confirmed->vm);
        err_hint(RESULT_HINT_REFUSED);
        code = ops_code();
        ops_audit(a, confirmed->host, confirmed->vm, x.opname, confirmed->digest, job, code);
        return code;
    }
    ops_fault_point(x.opname, "locked");
    /* Another process may have changed a fleet file since we read it. */
    if (hv_reload_if_changed(c) < 0)
        goto fail;
    memset(&pa, 0, sizeof(pa));
    pa.point = confirmed->point;
    pa.flatten = confirmed->flatten;
    pa.stamp = confirmed->stamp;
    pa.test_uuid = confirmed->test_uuid[0] ? confirmed->test_uuid : NULL;
    pa.lock_held = 1;
    pa.force = confirmed->force;
    pa.test_network = confirmed->test_network;
    ops_step(&x, 3, "re-reading %s to check the plan still holds", confirmed->vm);
    if (!(fresh = plan_make(c, confirmed->host, confirmed->uuid, confirmed->op, &pa))) {
        /* What was confirmed no longer holds: the state changed meanwhile. */
        if (err_code() == RESULT_INVALID_STATE)
            err_hint(RESULT_HINT_PLAN_CHANGED);
        goto refused;
    }
    if (strcmp(fresh->digest, confirmed->digest) != 0) {
        err_set(RESULT_INVALID_STATE,
                "the plan for %s changed since it was confirmed (its state, files or power changed); "
                "nothing was done: review the new plan and confirm again", confirmed->vm);
        err_hint(RESULT_HINT_PLAN_CHANGED);
        goto refused;
    }
    x.p = fresh;
    if (ops_run(&x) < 0)
        goto fail;
    code = 0;
    goto out;

refused:
    /* Nothing was changed before the re-plan: a refusal. */
    err_hint(RESULT_HINT_REFUSED);
fail:
    code = ops_code();
out:
    ops_ctx_clear(&x);
    ops_audit(a, confirmed->host, confirmed->vm, x.opname, confirmed->digest, job, code);
    plan_free(fresh);
    lock_release(lk);
    return code;
}

