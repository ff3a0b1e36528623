/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ops-priv.h: what the execution (ops.c), its steps on the host
 * (ops-steps.c), its undo (ops-undo.c), repair (ops-repair.c) and the
 * checked define (ops-define.c) share. */
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

/* Something an operation's clean-up left in place instead of deleting it
 * (drover could not prove that no domain uses it, or the deletion was
 * refused), and why. */
typedef struct {
    char *what;                 /* a file's path, or "test system NAME" */
    char *why;                  /* one sentence */
} OpsLeft;

typedef struct {
    OpsLeft *v;
    size_t n;
} OpsLeftList;

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
    char *expect;               /* the definition as this run last read or wrote it;
                                 * ops_define refuses when it changed (NULL: no check) */
    char *changed;              /* the definition another writer left, once refused */
    char *defined;              /* the document the last define sent */
    int define_unknown;         /* the last define failed: it may have been applied */
    int applied;                /* the last define was applied (even if it then failed) */
    OpsLeftList left;           /* what a rollback or repair left in place, and why */
    uint64_t copy_bytes;        /* the copy running now (flatten): its size */
    int64_t copy_start;         /* and when it started (monotonic ms) */
} OpsCtx;

void ops_step(OpsCtx *x, int percent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ops_keep_free(OpsCtx *x);
/* Frees what an OpsCtx owns (not x itself). */
void ops_ctx_clear(OpsCtx *x);
/* Loads the chains no deletion may touch (see ops.c). */
int ops_load_keep(OpsCtx *x, int future);
/* Saves rec into the replica's definition with one define.  First reads
 * the definition again: when it is no longer x->expect (another writer:
 * virsh edit, replication, another application) it refuses with 32774
 * naming what changed, keeps that definition in x->changed and defines
 * nothing.  Afterwards x->expect is the definition as libvirt now has it;
 * when that read-back holds more than what was defined (a write landed in
 * between) it fails the same way with x->applied set: the define stands. */
int ops_define(OpsCtx *x, const Replica *rec);
/* The check before a define alone: -1 with x->changed set when another
 * writer changed the definition since x->expect. */
int ops_check_unchanged(OpsCtx *x);
/* ops_define for the last define of a run: a change another writer made
 * right after it is theirs to keep, not a failure. */
int ops_define_last(OpsCtx *x, const Replica *rec);
int ops_remove_test_system(OpsCtx *x, const char *uuid, const char *name);
/* Notes in x->left that what stays in place, and why (printf-style). */
void ops_leave(OpsCtx *x, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* x->left as one text, "PATH (why); ..." (malloc'd), or NULL when empty. */
char *ops_left_text(const OpsCtx *x);
void ops_audit(const OpsArgs *a, const char *host, const char *vm, const char *opname,
               const char *digest, Job *job, int code);
/* ops_audit with note as the message of a completed operation (NULL:
 * "completed"). */
void ops_audit_note(const OpsArgs *a, const char *host, const char *vm, const char *opname,
                    const char *digest, Job *job, int code, const char *note);
/* Rolls back an operation recorded in r's journal (step "prepared"): the
 * flattened images unhooked, the test system removed, created files
 * deleted, the state restored and the journal closed with one define.
 * What cannot be proven unused, or whose removal is refused, stays and is
 * noted in x->left; the rollback finishes all the same.  Repair uses it;
 * so does an execution that failed before its switch. */
int ops_rollback(OpsCtx *x, Replica *r, const char *dir, const char *vm);
/* The calling thread's result code, 32768 when none is set. */
int ops_code(void);

/* ---- an execution: ops.c, ops-steps.c, ops-undo.c ---- */

/* Sets the step of r's journal. */
void ops_set_journal_step(Replica *r, const char *step);
/* The file plan p creates for disk target, or NULL. */
const PlanFile *ops_created(const Plan *p, const char *target);
/* The steps ops_run takes (ops-steps.c): refusing, before anything changes,
 * a deletion the safety rules forbid; 1 with err set when an operator
 * cancelled (before the switch); powering off what the plan says; creating
 * the new files and the test system; the deletions after the switch;
 * checking the host and the disks say what the plan promised. */
int ops_precheck_removals(OpsCtx *x);
int ops_cancelled(OpsCtx *x);
int ops_power(OpsCtx *x);
int ops_create(OpsCtx *x);
int ops_delete_all(OpsCtx *x, const PlanFileList *files);
int ops_verify(OpsCtx *x);
/* The execution failed before its switch: puts the definition back and
 * rolls back with repair's code, or on another writer's definition when
 * it changed meanwhile (ops-undo.c); the error stays the failure's. */
void ops_undo(OpsCtx *x, const Replica *journaled);
/* Another writer changed the definition after the switch, which stands:
 * closes the journal on their definition (ops-undo.c). */
int ops_close_on_changed(OpsCtx *x, const Replica *journaled);

#endif
