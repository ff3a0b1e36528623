/* SPDX-License-Identifier: GPL-2.0-or-later */
/* summary: one replica as a row. */
#include <config.h>

#include "ops/summary.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "ops/health.h"
#include "record/replica.h"
#include "record/state.h"
#include "base/util.h"

Replica *
summary_from_domain(Summary *s, const char *host, const HvDomain *d, int64_t now, int rpo_warning,
                    int local)
{
    Replica *r;
    const ReplicaPoint *newest;
    HealthReport hr;

    memset(s, 0, sizeof(*s));
    s->host = util_xstrdup(host);
    s->name = util_xstrdup(d->name);
    util_strlcpy(s->uuid, d->uuid, sizeof(s->uuid));
    s->power = d->power;
    s->health = HEALTH_NA;
    s->state = STATE_UNKNOWN;
    if (!d->metadata)
        return NULL;
    s->has_record = 1;
    r = replica_parse(d->metadata, strlen(d->metadata));
    if (!r) {
        /* An unreadable record is shown, never guessed: state Unknown. */
        s->record_error = err_code();
        s->health = HEALTH_CRITICAL;
        s->problem = util_xstrdup(err_message());
        err_clear();
        return NULL;
    }
    s->mode = r->mode;
    s->state = r->state;
    s->npoints = r->npoints;
    if ((newest = replica_newest_point(r))) {
        s->newest_point = util_xstrdup(newest->id);
        s->newest_time = newest->time;
    }
    if (r->failover) {
        s->failover_point = util_xstrdup(r->failover->point);
        s->failover_time = r->failover->time;
    }
    if (r->test)
        s->test_domain = util_xstrdup(r->test->domain);
    if (r->journal)
        s->journal_op = util_xstrdup(r->journal->op);
    health_assess(r, NULL, now, rpo_warning, local ? HEALTH_FILES_EXIST : HEALTH_FILES_NONE, &hr);
    s->health = hr.health;
    if (hr.n)
        s->problem = util_xstrdup(hr.reasons[0]);
    health_report_clear(&hr);
    return r;
}

void
summary_clear(Summary *s)
{
    if (!s)
        return;
    free(s->host);
    free(s->name);
    free(s->newest_point);
    free(s->failover_point);
    free(s->test_domain);
    free(s->journal_op);
    free(s->problem);
    memset(s, 0, sizeof(*s));
}

void
summary_copy(Summary *dst, const Summary *src)
{
    *dst = *src;
    dst->host = util_xstrdup(src->host);
    dst->name = util_xstrdup(src->name);
    dst->newest_point = util_xstrdup(src->newest_point);
    dst->failover_point = util_xstrdup(src->failover_point);
    dst->test_domain = util_xstrdup(src->test_domain);
    dst->journal_op = util_xstrdup(src->journal_op);
    dst->problem = util_xstrdup(src->problem);
}
