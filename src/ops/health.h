/* SPDX-License-Identifier: GPL-2.0-or-later */
/* health: derived, never stored.  Critical when the record and the disks
 * disagree or an operation was interrupted; Warning when replication is
 * late or suspended; Normal otherwise. */
#ifndef DROVER_HEALTH_H
#define DROVER_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include "hv/domxml.h"
#include "record/replica.h"

typedef struct {
    int health;                 /* HEALTH_* */
    char **reasons;             /* one sentence each, most serious first */
    size_t n;
} HealthReport;

/* How far health_assess looks at the files the record names. */
enum {
    HEALTH_FILES_NONE = 0,      /* not at all: they are on another machine */
    HEALTH_FILES_EXIST = 1,     /* each exists (a stat) */
    HEALTH_FILES_DEEP = 2,      /* every chain walks (reads the qcow2 headers) */
};

/* Assesses rec (NULL: not a replica, health n/a).  disks: the domain's
 * current disks, or NULL when not fetched (then the disk-source checks are
 * skipped).  files: HEALTH_FILES_*.  rpo_warning: seconds without a
 * recovery point before Warning.  Never fails. */
void health_assess(const Replica *rec, const DomDiskList *disks, int64_t now, int rpo_warning,
                   int files, HealthReport *out);
void health_report_clear(HealthReport *r);

/* What an operation relies on, checked against the files: each disk's
 * recovery points lie on one another in the order of their times, the
 * failover and test disks on their points, and no layer is marked corrupt
 * (32776) or keeps an external data file (32770).  0, or -1 with err set
 * for the first problem (32775 for a chain that is not the one the record
 * describes).  A file that cannot be read is left to the plan's own walks. */
int health_verify_chains(const Replica *rec);
/* The sentence for a disk whose driver type is not qcow2 (newly allocated). */
char *health_driver_text(const DomDiskList *disks, const char *target, const char *source);

#endif
