/* SPDX-License-Identifier: GPL-2.0-or-later */
/* summary: one replica as a row — what `drover list` prints and the
 * console's table shows, computed from a listed domain and its record. */
#ifndef DROVER_SUMMARY_H
#define DROVER_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include "hv/hv.h"
#include "record/replica.h"

typedef struct {
    char *host;
    char *name;
    char uuid[37];
    int power;                  /* HV_POWER_* */
    int has_record;             /* the domain carries a drover record */
    int record_error;           /* result code when the record is unreadable, else 0 */
    int mode;
    int state;
    int health;                 /* HEALTH_* */
    size_t npoints;
    char *newest_point;         /* NULL if none */
    int64_t newest_time;
    char *failover_point;       /* NULL unless failed over */
    int64_t failover_time;
    char *test_domain;          /* NULL unless a test failover exists */
    char *journal_op;           /* NULL unless an operation was interrupted */
    char *problem;              /* the most serious health reason, or NULL */
} Summary;

/* Fills s from a listed domain (with its metadata).  Quick checks only:
 * the record's files exist, when local (the host is this machine; on
 * another machine they are not ours to look at).  Never fails.  Returns
 * the record it parsed, for the caller's other uses of the same row (one
 * parse per row: parsing is most of a list's time), or NULL (no record,
 * or one that cannot be read: s says why); free it with replica_free. */
Replica *summary_from_domain(Summary *s, const char *host, const HvDomain *d, int64_t now,
                             int rpo_warning, int local);
void summary_clear(Summary *s);
void summary_copy(Summary *dst, const Summary *src);

#endif
