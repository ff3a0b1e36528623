/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ops: executing a confirmed plan, and repairing interrupted operations.
 *
 * Every operation: lock beside the chain -> re-plan and compare digests ->
 * journal in the record -> prepare (create files) -> one define that
 * switches disks and state together -> delete after the switch -> verify ->
 * clear the journal.  A crash at any point is undone or finished by repair. */
#ifndef DROVER_OPS_H
#define DROVER_OPS_H

#include "base/err.h"
#include "hv/hv.h"
#include "ops/job.h"
#include "ops/plan.h"

typedef struct {
    const char *by;             /* operator, for the failover record; NULL: this user */
    const char *reason;         /* for the audit log */
    int shutdown_timeout;       /* seconds before a graceful shutdown becomes destroy */
    const char *audit_log;      /* NULL: syslog only */
} OpsArgs;

/* Runs confirmed (a plan from plan_make) on c, reporting progress on job
 * (may be NULL).  Returns 0 or a result code with err set.  Refuses with
 * 32774 when another operation holds the replica, and with 32775 when the
 * plan changed since it was confirmed. */
int ops_execute(HvConn *c, const Plan *confirmed, const OpsArgs *a, Job *job);

/* Starts the confirmed plan as a detached job process (job_spawn) that
 * connects to uri itself: 0 with id (and *pid) set, or -1 with err set. */
int ops_start(JobTable *t, const char *uri, const Plan *plan, const OpsArgs *a, char id[37],
              pid_t *pid);
/* Starts ops_repair() of the VM uuid as a detached job process of JobType
 * type: 0 with id (and *pid, when pid is not NULL: the caller reaps it)
 * set, or -1 with err set. */
int ops_start_repair(JobTable *t, const char *uri, const char *host, const char *uuid, const char *vm,
                     const OpsArgs *a, int type, char id[37], pid_t *pid);
/* An attempt refused before any job ran (its plan failed: wrong state,
 * unknown VM or point, read-only, no --yes, ...; e says why): one audit
 * line (audit log and syslog, "refused": true) and one entry in the job
 * history of t (t may be NULL), 10 Exception with e's code, so the jobs
 * list shows refusals too.  type and opname name the operation (JobType
 * and state_op_name(), or JOB_TYPE_REPAIR and "repair"); host, uri, uuid
 * and digest may be NULL when the VM was not found.  Writes nothing else;
 * keeps the calling thread's error. */
void ops_refused(JobTable *t, const OpsArgs *a, int type, const char *opname, const char *host,
                 const char *uri, const char *vm, const char *uuid, const char *digest, const ErrInfo *e);
/* The job process (`drover job-run ID SPEC`): adopts record id (its lock on
 * lockfd), runs the operation the spec names, records the result.
 * Returns the result code. */
int ops_job_main(JobTable *t, const char *id, const char *spec, int lockfd);

/* Finishes or undoes an interrupted operation on vm (name or UUID):
 * rolled back if it stopped before its switch, forward after it.  Deletes
 * only files the journal names, after the same checks as any deletion.
 * It always finishes once it holds the lock and can define: a file it
 * cannot prove unused (another domain's disk cannot be resolved, the
 * deletion is refused) or a test system it cannot remove is left in place
 * and the journal is closed all the same; what was left, and why, goes to
 * the job (its warnings and job_set_warnings) and the audit line.  Returns
 * 0 (also when there was nothing to repair; *did says whether it acted) or
 * a result code with err set. */
int ops_repair(HvConn *c, const char *host, const char *vm, const OpsArgs *a, Job *job,
               int *did);

/* What ops_repair would do for vm, as sentences: 1 with *text set when
 * an operation is interrupted, 0 when there is nothing to repair, -1 with
 * err set. */
int ops_repair_preview(HvConn *c, const char *vm, char **text);

/* Refuses (32774, naming what changed) when the definition of uuid on c is
 * no longer expect, the text drover last read or wrote: a define built from
 * the older copy would silently revert another writer's change.  The same
 * content laid out differently passes; no expect (NULL) passes.  With
 * changed, *changed is the definition found ("" when undefined). */
int ops_check_definition(HvConn *c, const char *uuid, const char *name, const char *expect,
                         char **changed);

/* Test hook: when the environment variable DROVER_FAULT is "OP:STEP"
 * (e.g. "revert:switched"), the process _exit()s with status 86 at that
 * point.  With DROVER_PAUSE it pauses there instead (base/testhook.h), so a
 * test can act as a second writer or on a running job at a known step.
 * Costs two getenv() per step when unset. */
void ops_fault_point(const char *op, const char *step);

#endif
