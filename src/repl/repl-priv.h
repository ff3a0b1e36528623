/* SPDX-License-Identifier: GPL-2.0-or-later */
/* repl-priv.h: what the cycle (repl.c), the NBD copy (repl-copy.c), the
 * planned failover (repl-planned.c) and reverse replication
 * (repl-reverse.c) share; libnbd stays inside repl-copy.c. */
#ifndef DROVER_REPL_PRIV_H
#define DROVER_REPL_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "hv/hv.h"
#include "ops/job.h"
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

#endif
