/* SPDX-License-Identifier: GPL-2.0-or-later */
/* model-helper: the model's helper thread, which reads the details of the
 * row on the detail pane and makes the plans the UI asks for, off the UI
 * thread (the requests: model-req.c). */
#include <config.h>

#include "model/model.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hv/domxml.h"
#include "model/model-priv.h"
#include "base/util.h"

/* --- helper thread: details and plans --------------------------------------- */

void
model_detail_clear(ModelDetail *d)
{
    size_t i;

    if (!d)
        return;
    free(d->name);
    for (i = 0; d->point_broken && d->rec && i < d->rec->npoints; i++)
        free(d->point_broken[i]);
    free(d->point_broken);
    d->point_broken = NULL;
    replica_free(d->rec);
    free(d->rec_error);
    free(d->primary_text);
    for (i = 0; i < d->ndisks; i++) {
        free(d->disks[i].target);
        free(d->disks[i].source);
        chain_free(d->disks[i].used);
        free(d->disks[i].used_error);
        chain_free(d->disks[i].points);
        free(d->disks[i].points_error);
    }
    free(d->disks);
    health_report_clear(&d->health);
    memset(d, 0, sizeof(*d));
}

/* Walks path; on failure keeps the reason in *error. */
static Chain *
helper_walk(const char *path, char **error)
{
    Chain *c = chain_walk(path);

    if (!c) {
        *error = util_xstrdup(err_message());
        err_clear();
    }
    return c;
}

/* Which recovery points a failover could not use: a disk whose chain
 * does not walk (its file, or one below it, missing or unreadable). */
static char **
helper_broken_points(const Replica *rec)
{
    char **why = util_xcalloc(rec->npoints + 1, sizeof(*why));
    size_t i, k;

    for (i = 0; i < rec->npoints; i++) {
        const ReplicaPoint *pt = &rec->points[i];

        for (k = 0; k < pt->disks.n && !why[i]; k++) {
            char *error = NULL;
            Chain *ch = helper_walk(pt->disks.v[k].file, &error);

            if (!ch)
                why[i] = util_xasprintf("%s: %s", pt->disks.v[k].target, error);
            chain_free(ch);
            free(error);
        }
    }
    return why;
}

static ModelDetail *
helper_detail(Model *m, size_t host, const char *uuid)
{
    HvConn *c = m->s->hosts[host].conn;
    ModelDetail *d = util_xcalloc(1, sizeof(*d));
    UTIL_AUTOFREE char *xml = NULL;
    UTIL_AUTOFREE char *md = NULL;
    DomXml *dx = NULL;
    DomDiskList disks = { 0 };
    const ReplicaPoint *newest = NULL;
    size_t i;
    int p;

    d->host = host;
    util_strlcpy(d->uuid, uuid, sizeof(d->uuid));
    d->fetched_ms = util_mono_ms();
    if (!c || !(xml = hv_get_xml(c, uuid)) || !(dx = domxml_parse(xml)) ||
        (p = hv_get_power(c, uuid)) < 0) {
        if (!c)
            err_set(RESULT_NOT_AVAILABLE, "host %s is not connected", m->s->hosts[host].name);
        d->failed = 1;
        err_save(&d->err);
        err_clear();
        domxml_free(dx);
        return d;
    }
    d->power = p;
    d->name = util_xstrdup(domxml_name(dx));
    if ((md = domxml_get_replica(dx))) {
        if (!(d->rec = replica_parse(md, strlen(md)))) {
            d->rec_error = util_xstrdup(err_message());
            err_clear();
        }
    }
    domxml_disks(dx, &disks);
    if (d->rec)
        newest = replica_newest_point(d->rec);
    d->disks = util_xcalloc(disks.n + 1, sizeof(*d->disks));
    d->ndisks = disks.n;
    for (i = 0; i < disks.n; i++) {
        ModelDisk *k = &d->disks[i];
        const ReplicaDisk *rp = newest ? replica_disk_list_find(&newest->disks, disks.v[i].target) : NULL;

        k->target = util_xstrdup(disks.v[i].target);
        k->source = util_xstrdup(disks.v[i].source);
        if (k->source)
            k->used = helper_walk(k->source, &k->used_error);
        /* The newest point's chain shows the points the domain does not use
         * now (a failover to an older point leaves newer ones aside). */
        if (rp && (!k->used || chain_find_path(k->used, rp->file) < 0))
            k->points = helper_walk(rp->file, &k->points_error);
    }
    if (d->rec && hv_is_local(c) == 1)
        d->point_broken = helper_broken_points(d->rec);
    health_assess(d->rec, &disks, util_now(), m->o.rpo_warning,
                  hv_is_local(c) == 1 ? HEALTH_FILES_DEEP : HEALTH_FILES_NONE, &d->health);
    repl_health(d->rec, d->uuid, util_now(), hv_is_local(c) == 1, &d->health);
    if (d->rec && d->rec->repl) {
        if (hv_is_local(c) == 1 && repl_stats_read(d->rec, d->uuid, &d->repl_stats) < 0)
            memset(&d->repl_stats, 0, sizeof(d->repl_stats));
        d->repl_next_due = repl_next_due(d->rec, d->power, util_now());
    }
    if (d->rec_error)
        d->health.health = HEALTH_CRITICAL;
    /* Replicas only: a test system's record names its replica's primary. */
    if (d->rec && d->rec->mode != MODE_TEST_REPLICA)
        d->primary_guard = plan_primary_state(c, d->rec, uuid, MODEL_PRIMARY_TIMEOUT, &d->primary_power,
                                              &d->primary_text);
    if (d->rec && d->rec->repl && d->rec->mode == MODE_REPLICA) {
        if (d->primary_power == HV_POWER_RUNNING || d->primary_power == HV_POWER_PAUSED)
            repl_stats_pending(d->rec, d->uuid, NULL, &d->repl_pending);
        else
            util_strlcpy(d->repl_pending.why, d->primary_text ? d->primary_text :
                         "the primary's state is not known", sizeof(d->repl_pending.why));
    }
    domxml_disk_list_clear(&disks);
    domxml_free(dx);
    err_clear();
    return d;
}

/* The primary did not answer a cycle's plan: a job may still ask it (it
 * may be back), and ends with the same code, changing nothing, if not. */
static int
helper_primary_down(void)
{
    const char *kind = repl_failure_kind(err_code(), err_message());

    return err_code() == RESULT_NOT_AVAILABLE && kind && strcmp(kind, "primary unreachable") == 0;
}

static ModelReplPlan *
helper_repl_plan(Model *m, const PlanReq *q)
{
    HvConn *c = m->s->hosts[q->host].conn;
    const char *host = m->s->hosts[q->host].name;
    ModelReplPlan *p = util_xcalloc(1, sizeof(*p));
    ReplPlan *rp = NULL;
    ReplArgs ra;

    p->op = q->repl_op;
    p->host = q->host;
    util_strlcpy(p->uuid, q->uuid, sizeof(p->uuid));
    p->vm = util_xstrdup(q->vm ? q->vm : q->uuid);
    if (!c) {
        err_set(RESULT_NOT_AVAILABLE, "host %s is not connected", host);
        goto fail;
    }
    switch (q->repl_op) {
    case REPLJOB_CYCLE:
        if (!(rp = repl_plan_cycle(c, host, q->uuid))) {
            if (!helper_primary_down())
                goto fail;
            err_save(&p->err);
            p->primary_down = 1;
            p->text = util_xasprintf("Plan: replication cycle of %s@%s (%s)\n"
                                     "  primary: did not answer now: %s\n"
                                     "  the job asks it again: if it still does not answer, the job "
                                     "ends with %d and nothing changes on %s\n"
                                     "  deletes: nothing\n", p->vm, host, p->uuid, p->err.message,
                                     p->err.code, host);
            err_clear();
            return p;
        }
        p->text = repl_plan_text(rp);
        break;
    case REPLJOB_RESYNC:
        if (!(rp = repl_plan_resync(c, host, q->uuid)))
            goto fail;
        p->text = repl_plan_text(rp);
        util_strlcpy(p->digest, rp->digest, sizeof(p->digest));
        break;
    case REPLJOB_PLANNED:
        if (!(p->planned = repl_plan_planned(c, host, q->uuid, m->s->conf->shutdown_timeout, q->start)))
            goto fail;
        p->text = util_xstrdup(p->planned->text);
        util_strlcpy(p->digest, p->planned->digest, sizeof(p->digest));
        break;
    case REPLJOB_SUSPEND:
    case REPLJOB_RESUME:
        memset(&ra, 0, sizeof(ra));
        if (repl_set(c, host, q->uuid, q->repl_op == REPLJOB_SUSPEND ? REPL_SET_SUSPEND : REPL_SET_RESUME,
                     &ra, 1, &p->text) != 0)
            goto fail;
        break;
    default:
        err_set(RESULT_INVALID_PARAMETER, "unknown replication operation %d", q->repl_op);
        goto fail;
    }
    repl_plan_free(rp);
    return p;

fail:
    repl_plan_free(rp);
    model_repl_plan_free(p);
    return NULL;
}

void *
model_helper_thread(void *arg)
{
    Model *m = arg;

    util_thread_name("helper");
    pthread_mutex_lock(&m->mu);
    while (!m->quit) {
        if (m->plan_req.active) {
            PlanReq q = m->plan_req;
            PlanArgs pa;
            Result *r = model_result_new(RES_PLAN, q.host);

            m->plan_req.active = 0;
            m->plan_req.point = NULL;
            m->plan_req.vm = NULL;
            pthread_mutex_unlock(&m->mu);
            memset(&pa, 0, sizeof(pa));
            pa.point = q.point;
            pa.flatten = q.flatten;
            pa.force = q.force;
            r->plan_id = q.id;
            err_clear();
            if (q.repl_op >= 0) {
                if (!(r->rplan = helper_repl_plan(m, &q)))
                    err_save(&r->err);
            } else if (!(r->plan = plan_make(m->s->hosts[q.host].conn, m->s->hosts[q.host].name, q.uuid,
                                             q.op, &pa))) {
                err_save(&r->err);
            }
            err_clear();
            free(q.point);
            free(q.vm);
            model_post(m, r);
            pthread_mutex_lock(&m->mu);
        } else if (m->detail_want) {
            size_t host = m->detail_host;
            char uuid[37];
            Result *r = model_result_new(RES_DETAIL, host);

            util_strlcpy(uuid, m->detail_uuid, sizeof(uuid));
            m->detail_want = 0;
            pthread_mutex_unlock(&m->mu);
            r->detail = helper_detail(m, host, uuid);
            model_post(m, r);
            pthread_mutex_lock(&m->mu);
        } else {
            pthread_cond_wait(&m->helper_cond, &m->mu);
        }
    }
    pthread_mutex_unlock(&m->mu);
    model_thread_exited(m, NULL);
    return NULL;
}
