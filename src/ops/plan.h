/* SPDX-License-Identifier: GPL-2.0-or-later */
/* plan: what an operation will do, computed read-only, with a digest.
 *
 * The operator confirms a plan; execution re-plans under the lock and
 * refuses when the digest differs, so what runs is what was shown. */
#ifndef DROVER_PLAN_H
#define DROVER_PLAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "chain/chain.h"
#include "hv/hv.h"
#include "record/replica.h"
#include "record/state.h"

enum {
    PLAN_POWER_NONE = 0,        /* the VM is off, or stays as it is */
    PLAN_POWER_SHUTDOWN,        /* graceful shutdown, destroy after the timeout */
    PLAN_POWER_DESTROY,         /* power off at once (test systems) */
};

/* What the split-brain guard found before a failover (Plan.guard). */
enum {
    PLAN_GUARD_NONE = 0,        /* not a failover: the guard does not ask */
    PLAN_GUARD_NOT_ASKED,       /* no primary URI in the record, or a demo's primary */
    PLAN_GUARD_UNREACHABLE,     /* the primary host did not answer in time */
    PLAN_GUARD_ABSENT,          /* the primary host has no such VM */
    PLAN_GUARD_STOPPED,         /* the primary VM is shut off (or crashed) */
    PLAN_GUARD_OVERRIDDEN,      /* it runs, and --force overrides the guard */
    PLAN_GUARD_RUNNING,         /* it runs or is paused (a plan refuses: never in Plan.guard) */
};

/* Seconds the guard waits for the primary's libvirt. */
#define PLAN_GUARD_TIMEOUT 10

typedef struct {
    char *path;
    char *target;               /* disk target, "vda" */
    char *role;                 /* "failover disk", "recovery point rp-0012", "base", ... */
    char *backing;              /* created files: what they are backed by */
    uint64_t size;              /* file size in bytes (for created files: virtual size) */
    uint64_t allocated;         /* bytes on disk */
    dev_t dev;
    ino_t ino;
    int copy;                   /* created as a copy of backing (the test system's NVRAM) */
} PlanFile;

typedef struct {
    PlanFile *v;
    size_t n;
} PlanFileList;

/* A disk whose source the switch changes. */
typedef struct {
    char *target;
    char *from;
    char *to;
} PlanSwitch;

typedef struct {
    StateOp op;
    int flatten;                /* commit --flatten */
    char *host;                 /* display name of the host */
    char *vm;
    char uuid[37];
    int mode;
    int from_state;
    int to_state;
    int power;                  /* HV_POWER_* now */
    int power_action;           /* PLAN_POWER_* */
    char *point;                /* the recovery point the operation uses, or NULL */
    char *dir;                  /* the replica directory (lock and new files live here) */
    char *test_domain;          /* test-failover / stop-test: the test system */
    char test_uuid[37];
    char *test_network;         /* test-failover: the isolated network its interfaces use,
                                 * or NULL: it has none */
    char *test_omitted;         /* test-failover: every disk and setting the test system
                                 * will not have ("disk vdc (file ...); interface ..."), or NULL */
    char stamp[32];             /* names new files; reused when re-planning */
    PlanFileList create;        /* new files */
    PlanFileList remove;        /* files deleted after the switch */
    PlanFileList keep;          /* files that stay (recovery points, base) */
    PlanSwitch *switches;
    size_t nswitches;
    int force;                  /* failover: the guard may be overridden */
    int guard;                  /* PLAN_GUARD_*: what the split-brain guard found */
    int primary_power;          /* HV_POWER_* of the primary VM, UNKNOWN if not known */
    char *guard_text;           /* one sentence, for the plan; NULL without a guard */
    char digest[65];
    /* What execution needs; not part of what is shown. */
    Replica *rec;               /* the record as read */
    char *domxml;               /* the persistent definition as read */
} Plan;

typedef struct {
    const char *point;          /* recovery point id; NULL = newest */
    int flatten;
    const char *stamp;          /* NULL: now */
    const char *test_uuid;      /* NULL: a new random one */
    int lock_held;              /* the caller holds the replica's lock */
    int force;                  /* failover: proceed although the primary runs */
    const char *test_network;   /* test-failover: an isolated network for the test
                                 * system's interfaces; NULL: it has none */
} PlanArgs;

/* Computes the plan for op on vm (name or UUID) read-only.  host is the
 * display name.  A failover first asks the primary's libvirt (the record's
 * URI, read-only, PLAN_GUARD_TIMEOUT) for the primary VM's state and refuses
 * with 32775 while it runs or is paused, unless args->force.  NULL with
 * err set (32775 wrong state, 32774 in use, 32773
 * unknown VM or point, 32779 missing file, 32771 no record, ...). */
Plan *plan_make(HvConn *c, const char *host, const char *vm, StateOp op, const PlanArgs *args);
void plan_free(Plan *p);

/* "not-asked", "unreachable", "absent", "off", "overridden", "running";
 * NULL for NONE. */
const char *plan_guard_name(int guard);
/* Asks the primary of replica r (uuid: the replica's, for a record that
 * names no primary VM) for its state, as the guard does, on the DR host c:
 * a PLAN_GUARD_* (never NONE or OVERRIDDEN), *power (HV_POWER_UNKNOWN when
 * not known) and *text, one sentence to free. */
int plan_primary_state(HvConn *c, const Replica *r, const char *uuid, int timeout_s, int *power,
                       char **text);

/* Human-readable plan, several lines, for the command line. */
char *plan_text(const Plan *p);
const char *plan_power_action_text(int action);

/* The lock file of the replica (beside its chain). */
char *plan_lock_path(const Plan *p);

void plan_file_list_clear(PlanFileList *l);

/* The chains no deletion may touch (see chain_discard): every layer of every
 * disk of every domain on the host and, with future, the domains other than
 * p's replica and test system plus p's replica as it will be after the
 * switch (p may be NULL without future).  A chain that breaks part way
 * protects what could be read and the layer it could not; one that cannot
 * be read at all is an error: nothing may then be deleted.  *keep is freed
 * with plan_keep_free. */
int plan_load_keep(HvConn *c, const Plan *p, int future, Chain ***keep, size_t *nkeep);
/* The same without a plan: every domain on the host but the UUIDs in
 * exclude (NULL-terminated, or NULL). */
int plan_keep_load_but(HvConn *c, const char *const *exclude, Chain ***keep, size_t *nkeep);
void plan_keep_free(Chain **keep, size_t n);

#endif
