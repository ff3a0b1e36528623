/* SPDX-License-Identifier: GPL-2.0-or-later */
/* repl-planned: planned failover (see repl.h): the primary shut down, a
 * final cycle, the primary marked prepared, the replica failed over to
 * that point.  Hyper-V's Start-VMFailover -Prepare then Start-VMFailover,
 * run from the DR host. */
#include <config.h>

#include "repl/repl.h"
#include "repl/repl-priv.h"

#include <nettle/base16.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"
#include "hv/domxml.h"
#include "ops/ops.h"
#include "ops/plan.h"
#include "record/replica.h"
#include "record/state.h"

/* Seconds the primary's qemu has to exit after SIGTERM. */
#define REPL_PLANNED_STOP_WAIT 60

void
repl_planned_free(ReplPlanned *p)
{
    if (!p)
        return;
    free(p->host);
    free(p->dr_uri);
    free(p->vm);
    free(p->primary_host);
    free(p->primary_uri);
    free(p->primary_vm);
    free(p->point);
    free(p->checkpoint);
    free(p->since);
    free(p->targets);
    free(p->text);
    free(p);
}

static int
repl_planned_number(const char *id)
{
    long long v;

    if (!id || strncmp(id, "rp-", 3) != 0 || util_parse_ll(id + 3, 0, 99999999, &v) < 0)
        return 0;
    return (int)v;
}

/* The record of the replica d; NULL with err set. */
static Replica *
repl_planned_record(HvConn *dr, const HvDomain *d)
{
    UTIL_AUTOFREE char *md = hv_get_metadata(dr, d->uuid);
    Replica *r;

    if (!md) {
        if (!err_code())
            err_set(RESULT_INVALID_STATE, "%s has no drover record: it is not a replica",
                    d->name);
        return NULL;
    }
    if (!(r = replica_parse(md, strlen(md))))
        err_prefix("replica record of %s", d->name);
    return r;
}

/* Why the replica r (domain d) cannot fail over planned; 0 when it can. */
static int
repl_planned_check(const HvDomain *d, const Replica *r)
{
    const ReplicaPoint *np = replica_newest_point(r);

    if (!r->repl) {
        err_set(RESULT_INVALID_STATE, "a planned failover needs a replica drover replicates "
                "(its final cycle makes the last point); %s has no <replication>: use "
                "drover failover %s with the primary shut down", d->name, d->name);
        return -1;
    }
    if (r->journal) {
        err_set(RESULT_INVALID_STATE, "an interrupted %s (job %s) left its journal on %s: run "
                "drover repair %s first", r->journal->op, r->journal->job, d->name, d->name);
        err_hint(RESULT_HINT_REPAIR);
        return -1;
    }
    if (r->mode != MODE_REPLICA || r->state != STATE_REPLICATING) {
        err_set(RESULT_INVALID_STATE, "a planned failover runs on a replica (mode 2) in state 3 "
                "Replicating; %s is in mode %d %s, state %d %s", d->name, r->mode,
                mode_name(r->mode), r->state, state_name(r->state));
        return -1;
    }
    if (state_check(OP_INITIATE, r->state, r->mode, r->test != NULL) != 0)
        return -1;
    if (d->power != HV_POWER_OFF) {
        err_set(RESULT_INVALID_STATE, "the replica %s is %s on the DR host: a planned failover "
                "needs it off", d->name, hv_power_name(d->power));
        return -1;
    }
    if (!np || !np->checkpoint) {
        err_set(RESULT_INVALID_STATE, "%s has %s: the final cycle copies the changes since the "
                "newest point's checkpoint (drover replicate %s, or drover resync %s)", d->name,
                np ? "a newest point without a checkpoint" : "no recovery point yet", d->name,
                d->name);
        return -1;
    }
    return 0;
}

static void
repl_planned_text(ReplPlanned *p)
{
    UtilBuf b = { 0 };
    const char *ph = p->primary_host;
    struct sha256_ctx c;
    uint8_t bin[SHA256_DIGEST_SIZE];
    int n = 1;

    util_buf_printf(&b, "Plan: planned failover of %s@%s (%s) from %s on %s\n", p->vm, p->host,
                    p->uuid, p->primary_vm, p->primary_uri);
    util_buf_printf(&b, "  primary: %s on %s is %s (autostart %s)\n", p->primary_vm, ph,
                    hv_power_name(p->primary_power), p->primary_autostart ? "on" : "off");
    util_buf_printf(&b, "  state:   replica %d %s -> %d %s; primary -> %d %s\n",
                    p->from_state, state_name(p->from_state), STATE_RECOVERED,
                    state_name(STATE_RECOVERED), STATE_SYNCED, state_name(STATE_SYNCED));
    if (p->primary_power == HV_POWER_RUNNING)
        util_buf_printf(&b, "  %d. %s: shut %s down gracefully (up to %d s, shutdown_timeout; if "
                        "it does not stop: refused, nothing changed, it keeps running)\n", n++, ph,
                        p->primary_vm, p->timeout);
    util_buf_printf(&b, "  %d. %s: start %s paused for the final cycle's backup job (NBD export "
                    "of %s)\n", n++, ph, p->primary_vm, p->targets);
    util_buf_printf(&b, "  %d. %s: final cycle: point %s (planned), the changes since checkpoint "
                    "%s into one new layer per disk in %s; checkpoint %s kept on the primary\n",
                    n++, p->host, p->point, p->since, p->vm, p->checkpoint);
    util_buf_printf(&b, "  %d. %s: power %s off again (SIGTERM: qemu stores its checkpoint "
                    "bitmaps as it closes)\n", n++, ph, p->primary_vm);
    util_buf_printf(&b, "  %d. %s: mark %s prepared: autostart off, drover record mode %d %s, "
                    "state %d %s, point %s (checkpoint %s)\n", n++, ph, p->primary_vm,
                    MODE_PRIMARY, mode_name(MODE_PRIMARY), STATE_SYNCED, state_name(STATE_SYNCED),
                    p->point, p->checkpoint);
    util_buf_printf(&b, "  %d. %s: fail %s over to %s: one failover overlay per disk, state %d "
                    "-> %d %s\n", n++, p->host, p->vm, p->point, p->from_state, STATE_RECOVERED,
                    state_name(STATE_RECOVERED));
    if (p->start)
        util_buf_printf(&b, "  %d. %s: start %s (paused first for checkpoint %s on its disks: "
                        "the changes since the failover, for reverse replication)\n", n++,
                        p->host, p->vm, p->checkpoint);
    else
        util_buf_printf(&b, "  %d. %s: %s stays off (--start starts it)\n", n++, p->host, p->vm);
    util_buf_add(&b, "  deletes: nothing on either host (the primary's disks stay as they are)\n");
    p->text = util_buf_steal(&b);
    sha256_init(&c);
    sha256_update(&c, strlen(p->text), (const uint8_t *)p->text);
    sha256_digest(&c, sizeof(bin), bin);
    base16_encode_update(p->digest, sizeof(bin), bin);
    p->digest[64] = '\0';
}

/* The primary of a replica: opened, 32777 when it does not answer. */
static HvConn *
repl_planned_open(const char *uri)
{
    HvConn *pc = hv_open(uri, 0);

    if (!hv_is_alive(pc)) {
        ErrInfo e;

        err_save(&e);
        hv_close(pc);
        err_set(RESULT_NOT_AVAILABLE, "the primary host %s cannot be reached (%s): a planned "
                "failover needs it; when it is lost, fail over unplanned (drover failover VM)",
                uri, e.message[0] ? e.message : "not connected");
        return NULL;
    }
    return pc;
}

static ReplPlanned *
repl_plan_planned_on(HvConn *dr, HvConn *pc, const char *host, const HvDomain *d,
                     const Replica *r, int timeout, int start)
{
    ReplPlanned *p = util_xcalloc(1, sizeof(*p));
    const ReplicaPoint *np = replica_newest_point(r);
    UtilBuf t = { 0 };
    Replica *pr = NULL;
    char **cps = NULL;
    HvDomain pd;
    size_t i;
    int n = 0, found = 0;

    memset(&pd, 0, sizeof(pd));
    p->host = util_xstrdup(host);
    p->dr_uri = util_xstrdup(hv_uri(dr));
    p->vm = util_xstrdup(d->name);
    util_strlcpy(p->uuid, d->uuid, sizeof(p->uuid));
    p->primary_uri = util_xstrdup(r->primary_uri);
    p->primary_host = util_xstrdup(r->primary_host ? r->primary_host : r->primary_uri);
    p->timeout = timeout;
    p->start = start;
    p->from_state = r->state;
    if (hv_lookup(pc, d->uuid, 1, &pd) < 0) {
        err_prefix("the primary of %s on %s", d->name, r->primary_uri);
        goto fail;
    }
    p->primary_vm = util_xstrdup(pd.name);
    p->primary_power = pd.power;
    if (pd.metadata && (pr = replica_parse(pd.metadata, strlen(pd.metadata))) &&
        pr->mode == MODE_PRIMARY && pr->state == STATE_SYNCED) {
        const ReplicaPoint *pp = replica_newest_point(pr);

        err_set(RESULT_INVALID_STATE, "the primary %s on %s is prepared already (state %d %s, "
                "point %s): a planned failover stopped after marking it; finish it with "
                "drover failover %s --point %s (the primary stays off)", pd.name, p->primary_host,
                STATE_SYNCED, state_name(STATE_SYNCED), pp ? pp->id : "?", d->name,
                pp ? pp->id : "ID");
        goto fail;
    }
    err_clear();
    if (pd.power != HV_POWER_RUNNING && pd.power != HV_POWER_OFF) {
        err_set(RESULT_INVALID_STATE, "the primary %s on %s is %s: a planned failover shuts down a "
                "running primary, or starts a shut-off one paused for the final cycle; resume "
                "it or shut it down first", pd.name, p->primary_host, hv_power_name(pd.power));
        goto fail;
    }
    if ((p->primary_autostart = hv_get_autostart(pc, d->uuid)) < 0)
        goto fail;
    if (!(cps = hv_checkpoint_names(pc, d->uuid)))
        goto fail;
    for (i = 0; cps[i]; i++)
        found |= strcmp(cps[i], np->checkpoint) == 0;
    if (!found) {
        err_set(RESULT_INVALID_STATE, "checkpoint %s of the newest point %s is missing on the "
                "primary %s: the final cycle could not know what changed; run drover resync %s "
                "first", np->checkpoint, np->id, p->primary_host, d->name);
        goto fail;
    }
    for (i = 0; i < r->npoints; i++)
        if (repl_planned_number(r->points[i].id) > n)
            n = repl_planned_number(r->points[i].id);
    p->point = util_xasprintf("rp-%04d", n + 1);
    p->checkpoint = util_xasprintf("drover.%d", n + 1);
    p->since = util_xstrdup(np->checkpoint);
    for (i = 0; i < np->disks.n; i++)
        util_buf_printf(&t, "%s%s", i ? ", " : "", np->disks.v[i].target);
    p->targets = util_buf_steal(&t);
    repl_planned_text(p);
    goto out;

fail:
    repl_planned_free(p);
    p = NULL;
out:
    hv_strv_free(cps);
    replica_free(pr);
    hv_domain_clear(&pd);
    return p;
}

ReplPlanned *
repl_plan_planned(HvConn *dr, const char *host, const char *vm, int timeout, int start)
{
    ReplPlanned *p = NULL;
    Replica *r = NULL;
    HvConn *pc = NULL;
    HvDomain d;

    if (hv_lookup(dr, vm, 0, &d) < 0)
        return NULL;
    if (!(r = repl_planned_record(dr, &d)) || repl_planned_check(&d, r) < 0)
        goto out;
    if (!r->primary_uri) {
        err_set(RESULT_INVALID_STATE, "the record of %s names no primary URI", d.name);
        goto out;
    }
    if (!(pc = repl_planned_open(r->primary_uri)))
        goto out;
    p = repl_plan_planned_on(dr, pc, host, &d, r, timeout, start);

out:
    hv_close(pc);
    replica_free(r);
    hv_domain_clear(&d);
    return p;
}

/* --- execution ------------------------------------------------------------- */

/* Waits until the primary is off: 0, or -1 (err set; 32772 when it
 * is still on after timeout_s). */
static int
repl_planned_wait_off(HvConn *pc, const ReplPlanned *p, int timeout_s, Job *job, int percent,
                      int *cancelled)
{
    int64_t t0 = util_mono_ms();
    int last = -1;

    for (;;) {
        int power = hv_get_power(pc, p->uuid);
        int elapsed = (int)((util_mono_ms() - t0) / 1000);

        if (power < 0)
            return -1;
        if (power == HV_POWER_OFF)
            return 0;
        /* Only the first wait may be cancelled: nothing but the shutdown
         * request was done yet. */
        if (cancelled && job && job_cancel_requested(job)) {
            *cancelled = 1;
            err_set(RESULT_FAILED, "planned failover of %s cancelled by an operator while the "
                    "primary %s was asked to shut down: nothing else was done (it is %s; its "
                    "guest may still act on the shutdown request)", p->vm, p->primary_vm,
                    hv_power_name(power));
            return -1;
        }
        if (elapsed >= timeout_s) {
            err_set(RESULT_TIMEOUT, "the primary %s on %s is still %s after %d s", p->primary_vm,
                    p->primary_host, hv_power_name(power), timeout_s);
            return -1;
        }
        if (elapsed != last && job) {
            repl_job_step(job, percent, "waiting for the primary %s to shut down (%d of %d s)",
                          p->primary_vm, elapsed, timeout_s);
            last = elapsed;
        }
        usleep(200000);
    }
}

/* Step 5: the primary marked prepared: autostart off, then one define of
 * its definition with drover's record (mode 1, state 4, the final point
 * and the disks it covers). */
static int
repl_planned_mark(HvConn *pc, const ReplPlanned *p, const ReplicaPoint *final)
{
    UTIL_AUTOFREE char *xml = NULL;
    UTIL_AUTOFREE char *md = NULL;
    UTIL_AUTOFREE char *out = NULL;
    DomDiskList disks = { 0 };
    DomXml *dx = NULL;
    /* On a prepared primary <primary> names where its workload went: the
     * replica, the primary once it is failed over. */
    Replica *rec = repl_record_planned(MODE_PRIMARY, STATE_SYNCED, p->host, p->dr_uri, p->vm,
                                       final->id, final->time, p->checkpoint);
    ReplicaPoint *pt = &rec->points[0];
    size_t i;
    int ret = -1;

    if (!(xml = hv_get_xml(pc, p->uuid)) || !(dx = domxml_parse(xml)))
        goto out;
    domxml_disks(dx, &disks);
    /* The primary's own disks hold exactly this point now. */
    for (i = 0; i < final->disks.n; i++) {
        size_t k;

        for (k = 0; k < disks.n; k++)
            if (strcmp(disks.v[k].target, final->disks.v[i].target) == 0 && disks.v[k].source)
                break;
        if (k == disks.n) {
            err_set(RESULT_INVALID_STATE, "the primary %s has no file for disk %s any more",
                    p->primary_vm, final->disks.v[i].target);
            goto out;
        }
        replica_disk_list_add(&pt->disks, disks.v[k].target, disks.v[k].source, 0);
    }
    if (replica_validate(rec) < 0 || !(md = replica_format(rec))) {
        err_prefix("the prepared record of %s", p->primary_vm);
        goto out;
    }
    if (domxml_set_replica(dx, md) < 0)
        goto out;
    out = domxml_format(dx);
    /* Autostart off first: the record is what says prepared, and it is
     * written only when the host will not start the domain by itself. */
    if (hv_domain_action(pc, p->uuid, HV_ACT_NOAUTOSTART) < 0) {
        err_prefix("cannot turn the primary %s's autostart off", p->primary_vm);
        goto out;
    }
    if (hv_define(pc, out) < 0) {
        err_prefix("cannot mark the primary %s prepared (its autostart is off now)",
                   p->primary_vm);
        goto out;
    }
    ret = 0;

out:
    domxml_disk_list_clear(&disks);
    domxml_free(dx);
    replica_free(rec);
    return ret;
}

/* A cancel seen at the switch: the primary started again when it ran
 * before; err says what each host was left in. */
static void
repl_planned_cancel(HvConn *pc, const ReplPlanned *p, int was_running, Job *job)
{
    UTIL_AUTOFREE char *why = NULL;

    if (was_running) {
        repl_job_step(job, -1, "cancelled: starting the primary %s again", p->primary_vm);
        if (hv_start(pc, p->uuid) < 0)
            why = util_xstrdup(err_message());
    }
    err_set(RESULT_FAILED, "planned failover of %s cancelled by an operator before its switch "
            "(marking the primary prepared): the primary %s is %s%s%s, not prepared; the "
            "replica stays in state 3 Replicating, the final cycle's point %s kept as an "
            "ordinary recovery point; nothing was failed over", p->vm, p->primary_vm,
            !was_running ? "off, as it was" : why ? "off: it could not be started again (" :
            "running again", why ? why : "", why ? ")" : "", p->point);
}

/* Steps 2 to 4 with the primary off: the final cycle (the primary started
 * paused and stopped again), then the mark.  On failure the primary is
 * left off and unmarked; err says so. */
static int
repl_planned_final(HvConn *dr, HvConn *pc, const ReplPlanned *p, const ReplArgs *a, Job *job,
                   int was_running, int *cancelled)
{
    ReplArgs fa = *a;
    Replica *r = NULL;
    const ReplicaPoint *final;
    HvDomain d;
    int code, ret = -1;

    memset(&d, 0, sizeof(d));
    repl_job_step(job, 22, "starting the primary %s paused for the final cycle", p->primary_vm);
    if (hv_domain_action(pc, p->uuid, HV_ACT_START_PAUSED) < 0) {
        err_prefix("the final cycle needs the primary running");
        return -1;
    }
    fa.planned = 1;
    code = repl_cycle(dr, p->host, p->uuid, &fa, job);
    {
        ErrInfo saved;

        err_save(&saved);
        repl_job_step(job, 70, "powering the primary %s off again", p->primary_vm);
        if (hv_domain_action(pc, p->uuid, HV_ACT_STOP) < 0 ||
            repl_planned_wait_off(pc, p, REPL_PLANNED_STOP_WAIT, job, 70, NULL) < 0) {
            err_prefix("the primary %s started paused for the final cycle does not stop: stop it "
                       "(virsh destroy) before anything else;", p->primary_vm);
            return -1;
        }
        err_restore(&saved);
    }
    if (code) {
        err_prefix("the final cycle failed");
        return -1;
    }
    if (hv_lookup(dr, p->uuid, 0, &d) < 0 || !(r = repl_planned_record(dr, &d)))
        goto out;
    final = replica_newest_point(r);
    if (!final || strcmp(final->id, p->point) != 0 || final->type != RP_TYPE_PLANNED) {
        err_set(RESULT_INVALID_STATE, "the final cycle made %s, not the planned point %s",
                final ? final->id : "no point", p->point);
        goto out;
    }
    /* The switch: from the mark on the job only goes forward.  Up to here
     * an operator may cancel: the primary as it was, the final point an
     * ordinary recovery point of the replica. */
    ops_fault_point("planned", "cycled");
    if (job && job_pass_switch(job)) {
        *cancelled = 1;
        repl_planned_cancel(pc, p, was_running, job);
        goto out;
    }
    repl_job_step(job, 75, "marking the primary %s prepared (autostart off, state %d %s)",
                  p->primary_vm, STATE_SYNCED, state_name(STATE_SYNCED));
    if (repl_planned_mark(pc, p, final) < 0)
        goto out;
    ops_fault_point("planned", "marked");
    ret = 0;

out:
    replica_free(r);
    hv_domain_clear(&d);
    return ret;
}

/* The checkpoint the replica gets when it starts after the failover:
 * one bitmap per disk, named as the final point's.  NULL with err set. */
static char *
repl_planned_checkpoint_xml(const ReplPlanned *p)
{
    UTIL_AUTOFREE char *desc = util_xasprintf("drover: %s as at planned point %s", p->vm,
                                              p->point);
    const char **targets = NULL;
    const char *q = p->targets;
    size_t n = 0, i;
    char *ret;

    while (q && *q) {
        size_t len = strcspn(q, ",");

        targets = util_xrealloc(targets, (n + 1) * sizeof(*targets));
        targets[n++] = util_xstrndup(q, len);
        q += len;
        while (*q == ',' || *q == ' ')
            q++;
    }
    ret = repl_checkpoint_doc(p->checkpoint, desc, targets, n);
    for (i = 0; i < n; i++)
        free((char *)targets[i]);
    free(targets);
    return ret;
}

int
repl_planned_failover(HvConn *dr, const ReplPlanned *confirmed, const ReplArgs *a, Job *job)
{
    ReplPlanned *p = NULL;
    Plan *fo = NULL;
    HvConn *pc = NULL;
    Replica *r = NULL;
    HvDomain d;
    OpsArgs oa;
    PlanArgs pa;
    int code = 0, was_running = 0, cancelled = 0;

    memset(&d, 0, sizeof(d));
    if ((code = repl_writable(dr, "planned failover", confirmed->vm)) != 0)
        goto out;
    /* What runs is what was confirmed. */
    repl_job_step(job, 1, "planning again: %s and its primary %s", confirmed->vm,
                  confirmed->primary_vm);
    if (hv_lookup(dr, confirmed->uuid, 0, &d) < 0 || !(r = repl_planned_record(dr, &d)) ||
        repl_planned_check(&d, r) < 0 || !(pc = repl_planned_open(confirmed->primary_uri)) ||
        !(p = repl_plan_planned_on(dr, pc, confirmed->host, &d, r, confirmed->timeout,
                                   confirmed->start))) {
        code = err_code() ? err_code() : RESULT_FAILED;
        goto out;
    }
    if (strcmp(p->digest, confirmed->digest) != 0) {
        err_set(RESULT_INVALID_STATE, "the plan for %s changed since it was shown (the primary's "
                "power, a cycle, or the replica changed): nothing was done; plan again", p->vm);
        err_hint(RESULT_HINT_PLAN_CHANGED);
        code = RESULT_INVALID_STATE;
        goto out;
    }
    if (job && job_cancel_requested(job)) {
        err_set(RESULT_FAILED, "planned failover of %s cancelled by an operator before it "
                "started: nothing was changed", p->vm);
        code = RESULT_FAILED;
        goto out;
    }
    /* 1. The primary shut down by its guest: the only step that may be
     *    refused without anything changed. */
    if (p->primary_power == HV_POWER_RUNNING) {
        was_running = 1;
        repl_job_step(job, 3, "asking the primary %s on %s to shut down (up to %d s)",
                      p->primary_vm, p->primary_host, p->timeout);
        if (hv_domain_action(pc, p->uuid, HV_ACT_SHUTDOWN) < 0 ||
            repl_planned_wait_off(pc, p, p->timeout, job, 5, &cancelled) < 0) {
            code = err_code() ? err_code() : RESULT_FAILED;
            if (cancelled)
                goto out;
            err_prefix("planned failover of %s refused: nothing was changed (the primary keeps "
                       "running, the replica is as it was; its guest may still act on the "
                       "shutdown request). Shut it down from inside the guest or raise "
                       "shutdown_timeout, then run the planned failover again", p->vm);
            goto out;
        }
    }
    /* 2-4. The final cycle and the mark. */
    if (repl_planned_final(dr, pc, p, a, job, was_running, &cancelled) < 0) {
        code = err_code() ? err_code() : RESULT_FAILED;
        if (cancelled)
            goto out;
        err_prefix("planned failover of %s stopped before the failover: the primary %s is shut "
                   "off%s and not marked prepared, the replica is in state 3 (start the primary "
                   "again, or fix the cause and run the planned failover again)", p->vm,
                   p->primary_vm, was_running ? " (it ran before)" : "");
        goto out;
    }
    /* 5. The ordinary failover to the final point; its guard finds the
     *    primary off. */
    repl_job_step(job, 80, "failing %s over to %s", p->vm, p->point);
    memset(&pa, 0, sizeof(pa));
    pa.point = p->point;
    memset(&oa, 0, sizeof(oa));
    oa.reason = a ? a->reason : NULL;
    oa.audit_log = a ? a->audit_log : NULL;
    oa.shutdown_timeout = p->timeout;
    if (!(fo = plan_make(dr, p->host, p->uuid, OP_INITIATE, &pa))) {
        code = err_code() ? err_code() : RESULT_FAILED;
        goto failover_failed;
    }
    if ((code = ops_execute(dr, fo, &oa, job)) != 0)
        goto failover_failed;
    /* 6. Started paused, so that the checkpoint sees the disks exactly as
     *    the final point: reverse replication copies what changed since. */
    if (p->start) {
        UTIL_AUTOFREE char *cxml = repl_planned_checkpoint_xml(p);

        repl_job_step(job, 98, "starting %s on %s", p->vm, p->host);
        if (hv_domain_action(dr, p->uuid, HV_ACT_START_PAUSED) < 0) {
            code = err_code() ? err_code() : RESULT_FAILED;
            err_prefix("%s is failed over to %s (state 5 Recovered) but did not start", p->vm,
                       p->point);
            goto out;
        }
        if (!cxml || hv_checkpoint_create(dr, p->uuid, cxml) < 0) {
            repl_job_step(job, 99, "warning: no checkpoint %s on %s (reverse replication "
                          "will need a full copy): %s", p->checkpoint, p->vm, err_message());
            err_clear();
        }
        if (hv_domain_action(dr, p->uuid, HV_ACT_RESUME) < 0) {
            code = err_code() ? err_code() : RESULT_FAILED;
            err_prefix("%s is failed over to %s (state 5 Recovered) and started, but stays "
                       "paused", p->vm, p->point);
            goto out;
        }
    }
    repl_job_step(job, 100, "%s failed over to %s (planned, no data lost): state %d %s%s; "
                  "the primary %s is off and prepared (state %d %s)", p->vm, p->point,
                  STATE_RECOVERED, state_name(STATE_RECOVERED), p->start ? ", running" : "",
                  p->primary_vm, STATE_SYNCED, state_name(STATE_SYNCED));
    goto out;

failover_failed:
    err_prefix("planned failover of %s: the final point %s is made and the primary %s is off and "
               "prepared, but the failover did not run (finish it with drover failover %s --point "
               "%s)", p->vm, p->point, p->primary_vm, p->vm, p->point);

out:
    {
        const ReplPlanned *done = p ? p : confirmed;

        repl_audit(a, done->host, done->vm, "planned-failover", done->digest, job, code);
    }
    plan_free(fo);
    hv_close(pc);
    replica_free(r);
    hv_domain_clear(&d);
    repl_planned_free(p);
    return code;
}
