/* SPDX-License-Identifier: GPL-2.0-or-later */
/* plan-priv.h: what making a plan (plan.c), the checks before an operation
 * (plan-checks.c) and each operation's plan (plan-op.c) share.  plan-keep.c
 * needs only plan.h. */
#ifndef DROVER_PLAN_PRIV_H
#define DROVER_PLAN_PRIV_H

#include "hv/domxml.h"
#include "hv/hv.h"
#include "ops/plan.h"

/* ---- the checks before an operation (plan-checks.c) ---- */

/* The source of the file disk target in disks, or NULL. */
const char *plan_source_of(const DomDiskList *disks, const char *target);
/* The split-brain guard before a failover: refuses (32775) while the
 * primary VM runs, unless args->force; sets p's guard and its text. */
int plan_guard(Plan *p, HvConn *c, const PlanArgs *args);
/* The domain's disks are where the record says, file disks given to the
 * guest as qcow2. */
int plan_check_sources(Plan *p, const DomDiskList *disks);
/* No disk the operation creates files for is encrypted, and a failover's
 * saved <disk> elements fit the record. */
int plan_check_disks(Plan *p, const DomXml *dx, const DomDiskList *disks, const PlanArgs *a);
/* A failover's record, with its saved elements and journal, stays within
 * what drover reads back. */
int plan_check_record_size(Plan *p, const DomXml *dx);
/* Every deletion of p passes chain_discard's checks against the host as it
 * will be after the switch. */
int plan_check_removals(HvConn *c, const Plan *p);

/* ---- each operation's plan (plan-op.c), for plan_make ---- */

/* What failover, revert, commit, test-failover and stop-test create,
 * delete, keep and switch: 0, or -1 with err set. */
int plan_initiate(Plan *p, const PlanArgs *a, const DomDiskList *disks);
int plan_revert(Plan *p);
int plan_commit(Plan *p, const PlanArgs *a);
int plan_test(Plan *p, HvConn *c, const PlanArgs *a, const DomXml *dx);
int plan_stop_test(Plan *p, HvConn *c);

#endif
