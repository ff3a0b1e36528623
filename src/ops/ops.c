/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ops: executing a confirmed plan: the lock, the re-plan, the journal, the
 * switch, and what the module's parts share (the steps on the host are in
 * ops-steps.c, undoing a failed execution in ops-undo.c, repair in
 * ops-repair.c, the checked define in ops-define.c). */
#include <config.h>

#include "ops/ops.h"
#include "ops/ops-priv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops/audit.h"
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

void
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

const PlanFile *
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

