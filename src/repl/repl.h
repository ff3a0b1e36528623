/* SPDX-License-Identifier: GPL-2.0-or-later */
/* repl: replication (DESIGN §8): drover makes the recovery points itself,
 * from a running primary, with libvirt's pull-mode backup and checkpoints.
 *
 * enable: the replica is defined on the DR host from the primary's
 * definition (same name or --name, same UUID, disks on
 * DIR/<target>.base.qcow2, state 1), then the initial copy runs.
 * A cycle: lock, journal, BackupBegin (full with checkpoint drover.1 for
 * the initial copy; else incremental from the newest point's checkpoint
 * with a new one), per disk a layer written under a temporary name
 * (dirty extents only), fsync, rename; ONE define adds the point and moves
 * the disks to it; the backup job is ended; only then are older drover.*
 * checkpoints deleted on the primary. */
#ifndef DROVER_REPL_H
#define DROVER_REPL_H

#include <stddef.h>
#include <stdint.h>

#include "base/conf.h"
#include "hv/hv.h"
#include "ops/health.h"
#include "ops/job.h"
#include "ops/summary.h"
#include "record/replica.h"

/* Job types (CIM JobType values outside the failover ones). */
enum {
    REPL_JOB_RESYNC = 107,      /* "Resynchronization" (Hyper-V's resync) */
    REPL_JOB_CYCLE = 110,       /* "Replication Cycle" */
    REPL_JOB_ENABLE = 111,      /* "Enable Replication" */
};

/* A planned failover (repl-planned.c): a job of its own. */
enum {
    REPL_JOB_PLANNED = 112,     /* "Planned Failover" */
};

/* The NBD port a primary's backup export listens on by default. */
#define REPL_NBD_PORT 10809

typedef struct {
    const char *vm;             /* the VM on the primary: name or UUID */
    const char *from;           /* the primary's libvirt URI */
    const char *dir;            /* NULL: LOCALSTATEDIR/lib/drover/<name> */
    const char *nbd;            /* NULL: the primary URI's host, port REPL_NBD_PORT */
    const char *nbd_tls;        /* NBD over TLS with the client certificates here; NULL: plain */
    const char *name;           /* the replica's name, NULL: the primary's */
    int interval;               /* seconds between cycles for replicate --due, 0: none */
    int points;                 /* recovery points kept, 0: all */
    int app_every;              /* seconds between application-consistent points, 0: never */
    const char *const *netmap;  /* --network-map "SRC=DST" (each side "NAME", "network:NAME"
                                 * or "bridge:NAME"), nnetmap of them */
    size_t nnetmap;
    const char *netmap_from;    /* drover.conf's "FILE:LINE" when netmap is its network_map
                                 * (a confirmed plan's); NULL: --network-map */
    /* drover.conf's network_map for this VM (repl_enable_defaults), used when
     * nnetmap is 0: conf_nnetmap entries, at conf_netmap_from ("FILE:LINE").
     * Unlike --network-map's, an entry no interface uses is left unused (a
     * primary's map names every network of its site), not refused. */
    const char *const *conf_netmap;
    size_t conf_nnetmap;
    const char *conf_netmap_from;
} ReplEnableArgs;

typedef struct {
    const char *reason;         /* for the audit log */
    const char *audit_log;      /* NULL: syslog only */
    int planned;                /* the final cycle of a planned failover: its point is
                                 * "planned" (the primary shut down cleanly), no freeze */
} ReplArgs;

typedef struct {
    char *target;
    char *primary_file;         /* the disk's file on the primary */
    char *file;                 /* the new point's layer */
    char *backing;              /* what it is backed by (the previous point, or the base) */
    char *base;                 /* initial copy: the base the full copy fills */
    uint64_t size;              /* virtual size, 0 when not known yet */
} ReplPlanDisk;

typedef struct {
    int enable;                 /* enable-replication (defines the replica first) */
    int initial;                /* the cycle is the initial full copy */
    int resync;                 /* a full copy into new bases; the old chain goes after the switch */
    char *host;                 /* display name of the DR host */
    char *vm;                   /* the replica's name */
    char uuid[37];
    char *primary_uri;
    char *primary_vm;
    char *dir;
    char *nbd;
    char *nbd_tls;              /* the client's certificate directory: NBD over TLS; NULL: plain */
    int from_state;
    int to_state;
    char *point;                /* the new point's id */
    char *checkpoint;           /* the checkpoint taken with it */
    char *since;                /* incremental from this checkpoint; NULL: full copy */
    char *since_point;          /* ... which belongs to this point */
    ReplPlanDisk *disks;
    size_t ndisks;
    int interval;               /* enable: the settings recorded */
    int points;
    int app_every;
    char **netmap;              /* enable: the map's entries as given */
    size_t nnetmap;
    size_t *netmap_used;        /* enable: interfaces each entry moved */
    char *netmap_from;          /* enable: drover.conf's "FILE:LINE" of the map; NULL: the
                                 * map is --network-map's (or there is none) */
    char *networks;             /* enable: each interface, moved or kept ("; " between), or NULL */
    char *domxml;               /* enable: the replica definition to define */
    char *nvram;                /* enable: the replica's NVRAM file (DIR/nvram.fd), or NULL */
    char *primary_nvram;        /* enable: the primary's NVRAM file it copies, NULL: not copied */
    char *nvram_note;           /* enable: why it is not copied, or NULL */
    uint64_t nvram_size;
    ReplicaDiskList remove;     /* resync: the old chain's files, deleted after the switch */
    char digest[65];
} ReplPlan;

/* The defaults of enable-replication's options from drover.conf: each
 * from the "replication" group naming a->vm of the primary a->from, else
 * the group for that whole primary (conf_repl_find), else the
 * replication_* settings.  Sets interval, points, app_every, nbd, nbd_tls
 * and the conf_netmap fields (which point into conf); the caller then
 * applies the options given on the command line, which win (a->netmap, when
 * given, over conf_netmap). */
void repl_enable_defaults(const Conf *conf, ReplEnableArgs *a);
/* The plan of enable-replication: reads the primary's definition over
 * a->from, nothing else.  NULL with err set (32777 primary unreachable,
 * 32773 no such VM, 32770 a disk that cannot be replicated, 32774 the
 * replica already exists on the DR host). */
ReplPlan *repl_plan_enable(HvConn *dr, const char *host, const ReplEnableArgs *a);
/* The plan of one cycle of replica vm (name or UUID) on dr; opens the
 * primary named in its record.  NULL with err set (32775 refused in this
 * state, or while the replica runs; 32777 primary unreachable). */
ReplPlan *repl_plan_cycle(HvConn *dr, const char *host, const char *vm);
/* The plan of a full resynchronisation of replica vm: every disk copied
 * in full into a new base (DIR/<target>.base.<point>.qcow2) with an empty
 * point on it, while the old chain stays usable; ONE define swaps them in
 * (state 10 Resynchronizing while it runs, 3 after); the old chain's files
 * are deleted after that.  NULL with err set (32775 in another state than
 * 3, failed over, running, a test system reads the chain; 32777 primary
 * unreachable). */
ReplPlan *repl_plan_resync(HvConn *dr, const char *host, const char *vm);
char *repl_plan_text(const ReplPlan *p);
void repl_plan_free(ReplPlan *p);

/* Runs a confirmed enable plan on job: defines the replica (state 1),
 * then its initial copy.  0 or a result code with err set. */
int repl_enable(HvConn *dr, const ReplPlan *confirmed, const ReplArgs *a, Job *job);
/* One cycle of replica vm (the initial copy while it is pending).  0 or a
 * result code with err set; nothing half done stays (a crash leaves a
 * journal that drover repair undoes). */
int repl_cycle(HvConn *dr, const char *host, const char *vm, const ReplArgs *a, Job *job);

/* Runs a resync of replica vm whose plan the operator confirmed (digest:
 * the plan is built again under the lock and must be the same).  0 or a
 * result code with err set; a crash leaves a journal ("resync") that
 * drover repair undoes before the switch and finishes after it. */
int repl_resync(HvConn *dr, const char *host, const char *vm, const char *digest,
                const ReplArgs *a, Job *job);

/* Settings of the relationship, changed without a job. */
typedef enum {
    REPL_SET_SUSPEND = 0,       /* 3 Replicating -> 7 Suspended: cycles refused */
    REPL_SET_RESUME,            /* 7 -> 3 (2 while the initial copy is pending) */
    REPL_SET_DISABLE,           /* drover stops replicating it; points stay */
} ReplSetOp;

const char *repl_set_name(ReplSetOp op);   /* "suspend-replication", ... */
/* Plans (dry_run, *text set) or applies op on replica vm under its lock,
 * with one define; disable also deletes drover's checkpoints on the
 * primary when it answers (a warning in *text when it does not).  0 or a
 * result code with err set; *text (may be NULL) says what it did. */
int repl_set(HvConn *dr, const char *host, const char *vm, ReplSetOp op, const ReplArgs *a,
             int dry_run, char **text);

/* Whether replicate --due runs a cycle of this replica now: drover
 * replicates it with an interval, it is in 1, 2 or 3, off, without a
 * journal, and its newest point is at least the interval old (or it has
 * none).  *next (may be NULL) gets when it will be due, 0 if never. */
int repl_is_due(const Replica *r, int power, int64_t now, int64_t *next);

/* Statistics of one replica's cycles, kept across runs in
 * <dir>/.drover-stats-<uuid>.json (modelled on Msvm_ReplicationStatistics). */
typedef struct {
    int64_t succeeded;          /* cycles that made a point */
    int64_t failed;             /* cycles that were refused or failed */
    int64_t missed;             /* intervals that passed without a cycle */
    uint64_t last_size;         /* bytes moved by the last successful cycle (data and zeroes) */
    uint64_t max_size;
    uint64_t total_size;        /* for the average */
    int64_t last_ms;            /* the last successful cycle's time */
    int64_t total_ms;
    int64_t last_success;       /* wall clock, 0: never */
    int64_t last_failure;
    int64_t streak;             /* cycles failed since the last success */
    int last_code;              /* the last failure's result code */
    char last_message[512];     /* and why */
} ReplStats;

/* The statistics of the replica with record r and UUID uuid: zeros when
 * there are none yet.  0, or -1 with err set (an unreadable file). */
int repl_stats_read(const Replica *r, const char *uuid, ReplStats *st);
/* Counts a failed cycle that never started (the primary was down when
 * --due planned it), so it shows in the statistics like any other. */
void repl_stats_note_failure(const Replica *r, const char *uuid, int code, const char *message);

/* The size written on the primary since the replica's newest point: what
 * the next cycle will move (Msvm_ReplicationStatistics' pending size). */
typedef struct {
    int known;                  /* 1: bytes is libvirt's answer */
    uint64_t bytes;             /* qemu's dirty bitmaps, rounded up to their granularity */
    char why[384];              /* when not known: why not */
} ReplPending;
/* Primaries that did not answer, within one run over several replicas:
 * each costs the connect timeout once, not once per replica. */
typedef struct {
    char **uris;
    char **whys;
    size_t n;
} ReplPendingSeen;
void repl_pending_seen_clear(ReplPendingSeen *seen);
/* Asks the primary (r's primary URI, the domain with this UUID) for the
 * size written since the checkpoint of r's newest point.  Never fails and
 * leaves the thread's error as it was: not known, with why, when r has no
 * checkpoint yet, is failed over (5, 6, 12: cycles pause), the primary
 * cannot be reached within the connect timeout (or did not answer before,
 * as seen, which may be NULL, remembers), or is not running. */
void repl_stats_pending(const Replica *r, const char *uuid, ReplPendingSeen *seen,
                        ReplPending *out);

/* Health from the cycles (DESIGN §8): Warning when the newest point is
 * older than the interval and its grace (REPL_GRACE); Critical after
 * REPL_CRITICAL_FAILURES failed cycles in a row, with the reason decoded
 * (repl_failure_kind).  Adds its reasons to out (from health_assess);
 * local: the statistics (on the DR host's disk) may be read.  Nothing
 * for a replica drover does not replicate, or one failed over. */
#define REPL_CRITICAL_FAILURES 3
/* The grace after the interval: half of it, at least a minute (a cycle
 * takes time, and the timer looks every minute). */
#define REPL_GRACE(interval) ((interval) / 2 > 60 ? (interval) / 2 : 60)
void repl_health(const Replica *r, const char *uuid, int64_t now, int local, HealthReport *out);
/* The same for a row of drover list and the console: its health and
 * problem raised when the cycles say worse.  r: the row's record, as
 * summary_from_domain parsed it (NULL: nothing to do). */
void repl_health_summary(Summary *s, const Replica *r, int64_t now, int local);
/* Why a cycle failed, decoded from its result code and message: "primary
 * unreachable", "NBD refused", "checkpoint lost", "DR disk full", or NULL. */
const char *repl_failure_kind(int code, const char *message);
/* When the next cycle of r is due (0: never: no interval, or not
 * replicating); for the console and show. */
int64_t repl_next_due(const Replica *r, int power, int64_t now);

/* --- planned failover (repl-planned.c) ----------------------------------- */

/* The plan of `drover failover VM --planned`, run on the DR host: each
 * step on each host, in order:
 *   1. primary: graceful shutdown, up to timeout s (skipped when it is off;
 *      when it does not stop: 32772, nothing changed);
 *   2. primary: started paused for the final cycle's backup job;
 *   3. DR: the final cycle, a point of type "planned";
 *   4. primary: powered off again (SIGTERM: qemu stores its bitmaps);
 *   5. primary: marked prepared: autostart off and drover's record on its
 *      domain, mode 1 Primary, state 4 Synced, <primary> naming the replica
 *      its workload moved to, one point: the final one with its checkpoint;
 *   6. DR: failover to the final point (the ordinary failover: 5 Recovered);
 *   7. DR: with start, the replica started paused, given checkpoint
 *      drover.N (the base of reverse replication), resumed. */
typedef struct {
    char *host;                 /* display name of the DR host */
    char *dr_uri;
    char *vm;                   /* the replica */
    char uuid[37];
    char *primary_host;
    char *primary_uri;
    char *primary_vm;
    int primary_power;          /* HV_POWER_* when planned */
    int primary_autostart;      /* 1 on, 0 off */
    int timeout;                /* seconds the primary has to shut down */
    int start;                  /* start the replica after */
    int from_state;
    char *point;                /* the final point's id */
    char *checkpoint;           /* the checkpoint taken with it on the primary */
    char *since;                /* the final cycle copies the changes since this one */
    char *targets;              /* the disks, "vda, vdb" */
    char *text;                 /* the plan as shown */
    char digest[65];
} ReplPlanned;

/* Read-only.  NULL with err set: 32775 the replica is not in 3
 * Replicating, runs, is not replicated by drover, has an interrupted
 * operation, or the primary is paused or prepared already; 32777 the
 * primary cannot be reached; 32773 no such VM. */
ReplPlanned *repl_plan_planned(HvConn *dr, const char *host, const char *vm, int timeout,
                               int start);
void repl_planned_free(ReplPlanned *p);
/* Runs a confirmed plan (planned again first: the digest must be the
 * same).  0 or a result code with err set, saying what state each host
 * was left in.  Honours a cancel of job (job_cancel) up to its switch,
 * step 5 (32768: the primary as it was, the final point an ordinary one),
 * and passes the switch itself (job_pass_switch). */
int repl_planned_failover(HvConn *dr, const ReplPlanned *confirmed, const ReplArgs *a, Job *job);

/* --- reverse replication (repl-reverse.c) -------------------------------- */

enum {
    REPL_JOB_REVERSE = 104,     /* "Reverse Replication" (Hyper-V's job type) */
};

/* Run on the old primary's host after a failover (its domain prepared by
 * a planned one: mode 1, state 4; or the primary of an unplanned one, with
 * no record or mode 1 state 3, shut off): that domain becomes the replica
 * of the failed-over VM, which becomes the primary.  The old primary's
 * disks are the base, reused in place, when they provably hold the final
 * point: the checkpoint's bitmap in each is consistent and clean (nothing
 * written since), the sizes match, and the failed-over VM is on that point
 * with the same checkpoint (taken when failover --planned --start started
 * it).  Otherwise (full) they are not trusted: they stay where they are,
 * the domain's disks move to new bases in dir, and the initial copy of
 * enable-replication fills them from the new primary (checkpoint drover.1,
 * point rp-0001). */
typedef struct {
    const char *from;           /* the new primary's URI as seen from here; NULL: the record's */
    const char *dir;            /* NULL: LOCALSTATEDIR/lib/drover/<name> */
    const char *nbd;            /* NULL: the URI's host, port REPL_NBD_PORT */
} ReplReverseArgs;

typedef struct {
    char *host;                 /* display name of this host (the new replica's) */
    char *vm;
    char uuid[37];
    char *primary_uri;          /* the new primary (the failed-over VM) */
    char *primary_host;
    int primary_state;
    int primary_power;
    char *back_uri;             /* how the new primary's side names this host */
    char *point;                /* the final point: the new replica's first */
    int64_t point_time;
    char *checkpoint;
    char *dir;
    char *nbd;
    int interval, points, app_every;
    ReplicaDiskList base;       /* this domain's disks, proven to hold the point; full:
                                 * the new bases the full copy fills */
    ReplicaDiskList primary_disks; /* the new primary's disks now */
    int full;                   /* copy in full (the disks here are not proven) */
    int resume;                 /* an interrupted reverse: this side is the replica already,
                                 * the other still failed over; the steps left run */
    char *why;                  /* full: why the disks here cannot be proven equal */
    int here_mode, here_state;  /* this domain's record now; -1: it has none */
    uint64_t full_size;         /* full: the bytes it reads (virtual sizes) */
    int full_size_here;         /* full: the sizes are this side's (the new primary's
                                 * files cannot be read from here) */
    ReplicaDiskList keep;       /* full: this domain's disk files now, left in place */
    ReplicaDiskList first;      /* full: the first point's layers on the new bases */
    char *text;
    char digest[65];
} ReplReverse;

/* Read-only (it reads the bitmaps through qemu-nbd).  NULL with err set:
 * 32775 this domain runs, is a replica, or the new primary is not failed
 * over (an unplanned failover: not committed), or a full copy finds it off;
 * 32773 no record here and no a->from; 32770 the disks of the two sides
 * differ; 32774 a file of the full copy exists in dir; 32777 the new
 * primary unreachable. */
ReplReverse *repl_plan_reverse(HvConn *here, const char *host, const char *vm,
                               const ReplReverseArgs *a);
void repl_reverse_free(ReplReverse *p);
/* Runs a confirmed plan: one define here (the replica's record), one on
 * the new primary (its record: mode 1, state 3); the first is undone if
 * the second fails; with full, then the initial copy (a failure leaves the
 * roles swapped and the copy pending: drover replicate runs it again).
 * 0 or a result code with err set. */
int repl_reverse(HvConn *here, const ReplReverse *confirmed, const ReplArgs *a, Job *job);

/* "300", "30s", "5m", "4h", "1d" -> seconds; -1 with err (32773). */
int repl_parse_interval(const char *s, int *out);

#endif
