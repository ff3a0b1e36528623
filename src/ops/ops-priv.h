/* ops-priv.h: what the execution (ops.c) and repair (ops-repair.c) share. */
#ifndef DROVER_OPS_PRIV_H
#define DROVER_OPS_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "chain/chain.h"
#include "hv/domxml.h"
#include "hv/hv.h"
#include "ops/job.h"
#include "ops/ops.h"
#include "ops/plan.h"
#include "record/replica.h"

/* A file an execution created: undo deletes only these, and only while
 * the path still holds the same inode. */
typedef struct {
    char *path;
    dev_t dev;
    ino_t ino;
} OpsMade;

/* Everything one execution or repair works with. */
typedef struct {
    HvConn *c;
    const Plan *p;              /* the fresh plan (execution) */
    const OpsArgs *a;
    Job *job;
    const char *opname;
    DomXml *dx;                 /* the replica's definition, edited in place */
    Chain **keep;               /* chains of every domain on the host */
    size_t nkeep;
    int undo;                   /* rolling back this run's own failure (not repairing) */
    OpsMade *made;              /* files this run created, with their identity */
    size_t nmade;
    uint64_t copy_bytes;        /* the copy running now (flatten): its size */
    int64_t copy_start;         /* and when it started (monotonic ms) */
} OpsCtx;

void ops_step(OpsCtx *x, int percent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ops_keep_free(OpsCtx *x);
/* Loads the chains no deletion may touch (see ops.c). */
int ops_load_keep(OpsCtx *x, int future);
/* Saves rec into the replica's definition with one define. */
int ops_define(OpsCtx *x, const Replica *rec);
int ops_remove_test_system(OpsCtx *x, const char *uuid, const char *name);
void ops_audit(const OpsArgs *a, const char *host, const char *vm, const char *opname,
               const char *digest, Job *job, int code);
/* Rolls back an operation recorded in r's journal (step "prepared"): the
 * flattened images unhooked, the test system removed, created files
 * deleted, the state restored and the journal closed with one define.
 * Repair uses it; so does an execution that failed before its switch. */
int ops_rollback(OpsCtx *x, Replica *r, const char *dir, const char *vm);
/* The calling thread's result code, 32768 when none is set. */
int ops_code(void);

#endif
