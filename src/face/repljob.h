/* SPDX-License-Identifier: GPL-2.0-or-later */
/* repljob: replication work (a cycle, a resync, suspend, resume) as a job
 * the console starts: a detached job process like an operation's
 * (`drover job-run ID SPEC`), so it outlives the console, and its
 * children (qemu-nbd, qemu-img) never write to the console's terminal. */
#ifndef DROVER_REPLJOB_H
#define DROVER_REPLJOB_H

#include <stddef.h>

#include "hv/hv.h"
#include "ops/job.h"
#include "repl/repl.h"

typedef enum {
    REPLJOB_CYCLE = 0,          /* replicate now: one cycle (repl_cycle) */
    REPLJOB_SUSPEND,            /* 3 -> 7 (repl_set) */
    REPLJOB_RESUME,             /* 7 -> 3 */
    REPLJOB_RESYNC,             /* full resynchronisation (repl_resync) */
    REPLJOB_PLANNED,            /* planned failover (repl_planned_failover): started with
                                 * repljob_start_planned, never by repljob_run */
    REPLJOB_COUNT
} ReplJobOp;

/* Job type of suspend and resume: CIM's "Replicate State Change" (the
 * job Hyper-V's RequestReplicationStateChange returns). */
#define REPLJOB_TYPE_STATE 96

/* "replicate", "suspend-replication", "resume-replication", "resync",
 * "planned-failover". */
const char *repljob_op_name(int op);
/* The op named so, or -1. */
int repljob_op_from_name(const char *name);
/* Its job type: REPL_JOB_CYCLE, REPLJOB_TYPE_STATE, REPL_JOB_RESYNC,
 * REPL_JOB_PLANNED. */
int repljob_type(int op);

/* Runs op on the replica uuid of host (display name) on c, reporting on
 * job; digest: the confirmed resync plan (required for a resync).  0 or
 * a result code with err set. */
int repljob_run(HvConn *c, const char *host, const char *uuid, const char *vm, int op,
                const char *digest, const ReplArgs *a, Job *job);

/* Starts op as a detached job process that connects to uri itself: 0
 * with id set, or -1 with err set. */
int repljob_start(JobTable *t, const char *uri, const char *host, const char *uuid,
                  const char *vm, int op, const char *digest, const ReplArgs *a, char id[37]);
/* Starts the planned failover p (repl_plan_planned, confirmed) as a
 * detached job process: it plans again and runs only a plan with p's
 * digest.  0 with id set, or -1 with err set. */
int repljob_start_planned(JobTable *t, const char *uri, const ReplPlanned *p, const ReplArgs *a,
                          char id[37]);
/* True when spec (a job-run spec) names a replication op. */
int repljob_is_spec(const char *spec);
/* The job process: adopts record id (its lock on lockfd), runs what the
 * spec names, records the result.  Returns the result code. */
int repljob_main(JobTable *t, const char *id, const char *spec, int lockfd);

#endif
