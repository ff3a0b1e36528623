/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for the jobs list's order: newest first, also for jobs started in
 * one millisecond (a console's keys refused one after another). */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"
#include "ops/job.h"
#include "tap.h"

#define N 40

/* Refusals back to back: most fall in the same millisecond as another. */
static void
record(JobTable *t)
{
    ErrInfo e;
    char vm[16];
    int i;

    memset(&e, 0, sizeof(e));
    e.code = RESULT_ACCESS_DENIED;
    for (i = 0; i < N; i++) {
        snprintf(vm, sizeof(vm), "vm%02d", i);
        job_record_refused(t, JOB_TYPE_REPAIR, "fleet", "test:///x", vm, "", &e);
    }
}

/* The snapshot of t lists vm39 .. vm00 with start times that fall. */
static void
check(JobTable *t, const char *who)
{
    JobInfo *v = NULL;
    size_t n = job_table_snapshot(t, &v), i;
    int order = 1, falls = 1;
    char want[16];

    is_int(n, N, "%s: the %d refusals are listed", who, N);
    for (i = 0; i < n && i < N; i++) {
        snprintf(want, sizeof(want), "vm%02d", (int)(N - 1 - i));
        if (strcmp(v[i].vm, want) != 0 && order) {
            tap_diag("%s: row %zu is %s, not %s", who, i, v[i].vm, want);
            order = 0;
        }
        if (i && v[i].start_ms >= v[i - 1].start_ms)
            falls = 0;
    }
    ok(order, "%s: newest first, in the order they were recorded", who);
    ok(falls, "%s: each starts later than the one recorded before it", who);
    free(v);
}

int
main(void)
{
    char *hist = util_xasprintf("%s/jobs.jsonl", tap_tmpdir());
    JobTable *t, *t2;

    t = job_table_new(hist);
    record(t);
    check(t, "this process");
    /* Another reader has only the history file. */
    t2 = job_table_new(hist);
    check(t2, "a second reader");
    job_table_free(t2);
    job_table_free(t);
    free(hist);
    return tap_done();
}
