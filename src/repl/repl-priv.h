/* SPDX-License-Identifier: GPL-2.0-or-later */
/* repl-priv.h: what the parts of replication share: the common helpers
 * (repl.c), plans (repl-plan.c), cycles (repl-run.c, with what they ask of
 * the primary in repl-run-backup.c and what they delete in
 * repl-run-delete.c), statistics (repl-stats.c), the NBD copy
 * (repl-copy.c), the planned failover (repl-planned.c) and reverse
 * replication (repl-reverse.c); libnbd stays inside repl-copy.c. */
#ifndef DROVER_REPL_PRIV_H
#define DROVER_REPL_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include "hv/domxml.h"
#include "hv/hv.h"
#include "ops/job.h"
#include "record/replica.h"
#include "repl/repl.h"

/* The audit line of replication work op on vm (job may be NULL; code 0:
 * completed, else err's message says why).  Keeps the thread's error. */
void repl_audit(const ReplArgs *a, const char *host, const char *vm, const char *op,
                const char *digest, Job *job, int code);
/* Progress of job (may be NULL): percent (-1: unchanged) and the step. */
void repl_job_step(Job *job, int percent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A record with one point of type planned, its checkpoint, and <primary>
 * naming the other side (host, uri, vm): what a prepared primary and both
 * sides of a reversed relationship start from.  The caller adds the
 * point's disks (and <replication>). */
Replica *repl_record_planned(int mode, int state, const char *host, const char *uri, const char *vm,
                             const char *point, int64_t time, const char *checkpoint);
/* A checkpoint definition for libvirt (written with libxml2): checkpoint
 * name, its description, and one bitmap per disk of targets (n of them).
 * NULL with err set. */
char *repl_checkpoint_doc(const char *name, const char *description, const char *const *targets,
                          size_t n);
/* The initial copy of replica uuid on dr (its record in state 1 or 2 with
 * no point), the caller holding its lock: what repl_enable runs after its
 * define, for reverse replication's full copy.  0 or a result code with
 * err set. */
int repl_initial_locked(HvConn *dr, const char *host, const char *uuid, const ReplArgs *a,
                        Job *job);
/* The read-only floor of work that writes on c: 0, or 32769 with err set
 * ("WHAT of VM refused: the connection is read-only"). */
int repl_writable(HvConn *c, const char *what, const char *vm);

/* ---- repl.c, repl-plan.c, repl-run.c, repl-stats.c ---- */

#define REPL_CHECKPOINT_PREFIX "drover."
/* libvirt's VIR_ERR_CHECKPOINT_INCONSISTENT: the bitmap behind a checkpoint
 * is missing or broken (the primary's qemu was killed before it stored its
 * bitmaps).  libvirt headers stay in src/hv/. */
#define REPL_VIRT_CHECKPOINT_INCONSISTENT 109

/* The host part of a libvirt URI ("qemu+ssh://root@prod-a:22/system" ->
 * "prod-a"); NULL when it names none (a local URI). */
char *repl_uri_host(const char *uri);
/* The NBD address a primary at uri serves backups on by default. */
char *repl_default_nbd(const char *uri);
/* Opens the primary; NULL with 32777 when it cannot be reached. */
HvConn *repl_primary_open(const char *uri);
/* N of point "rp-N", or 0. */
int repl_point_number(const char *id);
/* A checkpoint drover made (named "drover.N"). */
int repl_is_ours(const char *checkpoint);
/* Whether a primary's drover record (metadata, may be NULL) says it is
 * prepared for a planned failover (mode 1 Primary, state 4 Synced). */
int repl_primary_prepared(const char *metadata);
/* s is in the NULL-terminated list v. */
int repl_strv_has(char **v, const char *s);
/* A new disk of plan p, for target. */
ReplPlanDisk *repl_plan_add_disk(ReplPlan *p, const char *target);
/* Sets p->digest from everything the plan shows and relies on. */
void repl_plan_digest(ReplPlan *p);
/* The replica's definition and record; NULL with err set.  With xml,
 * *xml is the text read: what repl_define checks is still there. */
DomXml *repl_read(HvConn *dr, const char *uuid, const char *name, Replica **rec, char **xml);
/* Defines dx with rec as its record.  *expect is the definition drover
 * last read or wrote: another writer's change since (virsh edit, another
 * application) is refused with 32774, not overwritten, as an operation's
 * define refuses it (ops_check_definition).  *expect becomes what libvirt
 * holds after the define. */
int repl_define(HvConn *dr, DomXml *dx, const Replica *rec, char **expect);
/* Closes the journal of a run that failed before its switch: dx with back
 * as its record.  When another writer changed the definition since the
 * journal, the run had switched nothing in it, so the same record goes
 * onto that writer's definition, keeping its change; unless the record
 * there is no longer this run's (job jobid): then the journal stays, for
 * repair. */
int repl_define_back(HvConn *dr, DomXml *dx, const Replica *back, const char *jobid,
                     char **expect);
/* The thread's error code, or 32768 when none is set. */
int repl_code(void);
/* Why a cycle may not run in this state; 0 when it may. */
int repl_check_state(const Replica *r, const char *name);
/* Why a resync may not run now; 0 when it may.  It replaces every point,
 * so only a replica that replicates (3) and that nothing else reads. */
int repl_check_resync(const Replica *r, const char *name);
/* The plan of one cycle (or, with resync, a full resync) from the record
 * r of replica d, with the primary open as pc.  Read-only. */
ReplPlan *repl_plan_build(HvConn *dr, const char *host, const HvDomain *d, DomXml *dx,
                          const Replica *r, HvConn *pc, int resync);
/* Copies the primary's NVRAM to the replica's (never over a file): a
 * temporary name, fsync, rename, the directory fsynced.  Sets *dev, *ino
 * of the copy for an undo.  0 or -1 with err set. */
int repl_copy_nvram(const ReplPlan *p, dev_t *dev, ino_t *ino);
/* Before a merge or a resync changes anything: the files it deletes after
 * its switch pass every check of that deletion against the other domains
 * here (the replica's own chain uses them until the switch).  A disk of
 * another domain that cannot be resolved refuses here, with nothing
 * changed, rather than after the switch (issue 11, item 11). */
int repl_check_removals_on(HvConn *dr, const char *uuid, const char *dir,
                           const ReplicaDiskList *files);
/* Adds one cycle to the statistics (code 0: it made a point).  Statistics
 * never fail a cycle: a file that cannot be written is left as it was. */
void repl_stats_note(const Replica *r, const char *uuid, int code, const char *message,
                     uint64_t moved, int64_t ms);

/* One disk's export on the primary, opened over NBD. */
typedef struct ReplSource ReplSource;

/* Connects to the export named target at nbd ("HOST:PORT" or
 * "unix:PATH"), over TLS when tls names the directory of the client's
 * certificates (ca-cert.pem, client-cert.pem, client-key.pem); with bitmap
 * (the export's dirty bitmap, "backup-vda") only the areas it marks are
 * copied.  NULL with err set: 32777 when nothing answers or TLS fails,
 * 32775 when the export lacks the bitmap. */
ReplSource *repl_source_open(const char *nbd, const char *tls, const char *target,
                             const char *bitmap);
uint64_t repl_source_size(const ReplSource *s);
void repl_source_close(ReplSource *s);

typedef struct {
    uint64_t size;          /* the disk's virtual size */
    uint64_t planned;       /* bytes the block status asked to move (data and zeroes) */
    uint64_t data;          /* bytes read and written as data */
    uint64_t zeroed;        /* bytes written as zeroes (no data moved) */
    uint64_t skipped;       /* bytes not touched (clean, or holes on a new base) */
} ReplCopyStats;

/* Told of the bytes done so far out of the bytes planned. */
typedef void (*ReplCopyProgress)(uint64_t done, uint64_t planned, void *opaque);

/* Copies what s exports into the qcow2 image dest (served by a qemu-nbd
 * child of our own, so qemu writes the qcow2): every extent the dirty
 * bitmap marks, or all data when s has none.  Zero extents become zero
 * writes, or nothing when fresh (dest is a new image that reads as zeroes).
 * Flushes; qemu-nbd has exited when it returns.  0 or -1 with err set. */
int repl_copy(ReplSource *s, const char *dest, int fresh, ReplCopyProgress fn, void *opaque,
              ReplCopyStats *st);

/* The bytes bitmap marks as written in the qcow2 image file (read through
 * a qemu-nbd child of our own, --read-only --bitmap): 0 with *dirty set,
 * or -1 with err set (32775 when the bitmap is missing or inconsistent). */
int repl_image_dirty(const char *file, const char *bitmap, uint64_t *dirty);

/* ---- a run: repl-run.c, repl-run-backup.c, repl-run-delete.c ---- */

/* A file this run created, with its identity: undo removes only these. */
typedef struct {
    char *path;
    dev_t dev;
    ino_t ino;
} ReplMade;

/* One run of a cycle, a resync or an initial copy (repl-run.c): the state
 * its parts share. */
typedef struct {
    HvConn *dr;
    HvConn *pc;
    const ReplPlan *p;
    Job *job;
    ReplMade *made;
    size_t nmade;
    int began;                  /* the backup job runs on the primary */
    int64_t t0;
    int disk;                   /* the disk being copied, for progress */
    int64_t copy_t0;
    int64_t last_ms;
    uint64_t moved;             /* data and zero bytes, all disks */
    uint64_t data;
    int succeeded;              /* a point was made */
    int planned;                /* a planned failover's final cycle (repl-planned.c) */
    int64_t copy_ms;            /* time spent moving data, all disks */
    char *expect;               /* the definition as last read or written (repl_define) */
    char jobid[37];             /* the job named in this run's journal */
} ReplRun;

/* The progress of x's job (nothing without one): percent and the step. */
void repl_step(ReplRun *x, int percent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* What a run asks of the primary and copies from it (repl-run-backup.c):
 * one disk copied from the backup job's export into its new layer (or
 * base); the backup job's definition (incremental: the checkpoint the
 * changes are since, or NULL) and the new checkpoint's; drover's
 * checkpoints on the primary other than keep deleted (NULL: all of them);
 * a backup job of drover's that a killed cycle left ended (anyone else's
 * refused with 32774).  NULL or -1 with err set. */
int repl_copy_disk(ReplRun *x, const ReplPlanDisk *d, ReplCopyStats *st);
char *repl_backup_xml(const ReplPlan *p, const char *incremental);
char *repl_checkpoint_xml(const ReplPlan *p);
int repl_delete_checkpoints(ReplRun *x, const char *keep, int percent);
int repl_end_stale_job(ReplRun *x);

/* What a run deletes on this host, each file by chain_discard against
 * every chain here (repl-run-delete.c): repl_check_removals_on for x's
 * replica; this run's files, after a failure (the error stays); the
 * temporaries an interrupted cycle left; retention, merging the oldest
 * points into the base while rec has more than it keeps; after a resync's
 * switch, the old chain, closing the journal; enable's NVRAM copy when the
 * replica could not be defined.  0 or -1 with err set. */
int repl_check_removals(ReplRun *x, const ReplicaDiskList *files);
void repl_undo_files(ReplRun *x);
int repl_remove_stale_temps(ReplRun *x);
int repl_retain(ReplRun *x, DomXml *dx, Replica *rec);
int repl_resync_finish(ReplRun *x, DomXml *dx, Replica *rec);
void repl_enable_undo_nvram(HvConn *dr, const ReplPlan *p, dev_t dev, ino_t ino);

/* Reverse replication's checks (repl-reverse-check.c), which the plan
 * (repl-reverse.c) runs: the record in metadata md of domain name (err
 * prefixed); the virtual size of a qcow2 image file, 0 when it cannot be
 * read; this side (the old primary: prepared, or the primary of an
 * unplanned failover, r NULL when it has no record) with its disks proven,
 * what cannot be proven making the reverse a full copy; the other side, the
 * failed-over VM on the final point with its checkpoint, else committed (or
 * after a planned failover failed over) and running for a full copy. */
Replica *repl_reverse_parse(const char *md, const char *name);
uint64_t repl_reverse_size(const char *file);
int repl_reverse_here(HvConn *here, const HvDomain *d, const Replica *r, ReplReverse *p);
int repl_reverse_there(HvConn *pc, const HvDomain *d, ReplReverse *p);
/* The plan (repl-reverse.c), which the run (repl-reverse-run.c) makes again
 * to compare its digest with the one confirmed: repl_plan_reverse's plan for
 * domain d here and its record r (NULL: none), the failed-over VM's side
 * reached through *pcp; and this host's domain and its record (NULL with
 * *none set when it has none).  NULL with err set. */
ReplReverse *repl_plan_reverse_on(HvConn *here, HvConn **pcp, const char *host, const HvDomain *d,
                                  const Replica *r, const ReplReverseArgs *a);
Replica *repl_reverse_read(HvConn *here, const char *vm, HvDomain *d, int *none);

#endif
