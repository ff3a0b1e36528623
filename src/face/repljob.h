/* SPDX-License-Identifier: GPL-2.0-or-later */
/* repljob: replication work (enable, a cycle, a resync, suspend, resume,
 * disable, a planned failover, reverse replication) as a job the console
 * and the command line start alike: a detached job process like an
 * operation's (`drover job-run ID SPEC`), so it outlives the console or
 * the command and its terminal, and its children (qemu-nbd, qemu-img)
 * never write to that terminal. */
#ifndef DROVER_REPLJOB_H
#define DROVER_REPLJOB_H

#include <stddef.h>
#include <sys/types.h>

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
    REPLJOB_DISABLE,            /* drover stops replicating it (repl_set) */
    REPLJOB_ENABLE,             /* enable-replication (repl_enable): repljob_start_enable */
    REPLJOB_REVERSE,            /* reverse replication (repl_reverse): repljob_start_reverse */
    REPLJOB_COUNT
} ReplJobOp;

/* Job type of suspend, resume and disable: CIM's "Replicate State
 * Change" (the job Hyper-V's RequestReplicationStateChange returns). */
#define REPLJOB_TYPE_STATE 96

/* "replicate", "suspend-replication", "resume-replication", "resync",
 * "planned-failover", "disable-replication", "enable-replication",
 * "reverse-replication". */
const char *repljob_op_name(int op);
/* The decoder's name of a replication job of JobType type ("replicate",
 * "enable-replication", "planned failover", ...), or NULL for another
 * type. */
const char *repljob_type_op(int type);
/* The op named so, or -1. */
int repljob_op_from_name(const char *name);
/* Its job type: REPL_JOB_CYCLE, REPLJOB_TYPE_STATE, REPL_JOB_RESYNC,
 * REPL_JOB_PLANNED, REPL_JOB_ENABLE, REPL_JOB_REVERSE. */
int repljob_type(int op);

/* Runs op on the replica uuid of host (display name) on c, reporting on
 * job; digest: the confirmed resync plan (required for a resync).  0 or
 * a result code with err set. */
int repljob_run(HvConn *c, const char *host, const char *uuid, const char *vm, int op,
                const char *digest, const ReplArgs *a, Job *job);

/* The starts below run the job as a detached job process that connects
 * to uri itself: 0 with id set, or -1 with err set.  pid: NULL, or where
 * the job process's pid goes; the caller then reaps it (cli_follow) and
 * learns how it ended, and its progress log stays open for it to read. */

/* Starts op (a cycle, suspend, resume, disable or a resync: digest its
 * confirmed plan's). */
int repljob_start(JobTable *t, const char *uri, const char *host, const char *uuid,
                  const char *vm, int op, const char *digest, const ReplArgs *a, char id[37],
                  pid_t *pid);
/* Starts the planned failover p (repl_plan_planned, confirmed): it plans
 * again and runs only a plan with p's digest. */
int repljob_start_planned(JobTable *t, const char *uri, const ReplPlanned *p, const ReplArgs *a,
                          char id[37], pid_t *pid);
/* Starts enable-replication of the confirmed plan p (repl_plan_enable):
 * repl_enable plans again from what p recorded and runs only p's digest. */
int repljob_start_enable(JobTable *t, const char *uri, const ReplPlan *p, const ReplArgs *a,
                         char id[37], pid_t *pid);
/* Starts reverse replication of the confirmed plan p (repl_plan_reverse),
 * likewise planned again. */
int repljob_start_reverse(JobTable *t, const char *uri, const ReplReverse *p, const ReplArgs *a,
                          char id[37], pid_t *pid);
/* True when spec (a job-run spec) names a replication op. */
int repljob_is_spec(const char *spec);
/* The job process: adopts record id (its lock on lockfd), runs what the
 * spec names, records the result.  Returns the result code. */
int repljob_main(JobTable *t, const char *id, const char *spec, int lockfd);

#endif
