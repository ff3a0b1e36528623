/* SPDX-License-Identifier: GPL-2.0-or-later */
/* repl-reverse-check: what reverse replication (repl-reverse.c) checks on
 * both sides before it plans: this side, the old primary (prepared, or the
 * primary of an unplanned failover), and whether its disks provably hold
 * the final point; the other side, the failed-over VM on that point with
 * its checkpoint, or committed and running for a full copy.  What cannot
 * be proven makes the reverse a full copy and the plan says why. */
#include <config.h>

#include "repl/repl.h"
#include "repl/repl-priv.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"
#include "chain/chain.h"
#include "hv/domxml.h"
#include "record/replica.h"
#include "record/state.h"

Replica *
repl_reverse_parse(const char *md, const char *name)
{
    Replica *r = replica_parse(md, strlen(md));

    if (!r)
        err_prefix("the drover record of %s", name);
    return r;
}

static int
repl_reverse_has(char **v, const char *s)
{
    for (; v && *v; v++)
        if (strcmp(*v, s) == 0)
            return 1;
    return 0;
}

/* The disks here cannot be proven to hold the final point: the reverse
 * copies in full, and the plan says why (the first reason found). */
static void repl_reverse_unproven(ReplReverse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
repl_reverse_unproven(ReplReverse *p, const char *fmt, ...)
{
    va_list ap;

    if (p->full)
        return;
    p->full = 1;
    va_start(ap, fmt);
    p->why = util_xvasprintf(fmt, ap);
    va_end(ap);
    replica_disk_list_clear(&p->base);
}

/* The virtual size of the qcow2 image file, 0 when it cannot be read. */
uint64_t
repl_reverse_size(const char *file)
{
    ChainHeader h;
    uint64_t size = 0;

    memset(&h, 0, sizeof(h));
    if (chain_read_header(file, &h) == 0)
        size = h.virtual_size;
    err_clear();
    chain_header_clear(&h);
    return size;
}

/* Checks this side (the old primary: prepared, or the primary of an
 * unplanned failover, r NULL when it has no record) and proves its disks;
 * what cannot be proven makes the reverse a full copy. */
int
repl_reverse_here(HvConn *here, const HvDomain *d, const Replica *r, ReplReverse *p)
{
    UTIL_AUTOFREE char *xml = NULL;
    const ReplicaPoint *pt;
    DomDiskList disks = { 0 };
    DomXml *dx = NULL;
    char **cps = NULL;
    size_t i;
    int ret = -1;

    p->here_mode = r ? r->mode : -1;
    p->here_state = r ? r->state : -1;
    if (r && r->mode == MODE_REPLICA &&
        (r->state == STATE_RECOVERED || r->state == STATE_COMMITTED)) {
        err_set(RESULT_INVALID_STATE, "%s is the failed-over replica: run reverse-replication on "
                "the old primary's host (-c its URI), which becomes the replica", d->name);
        goto out;
    }
    if (r && r->mode == MODE_REPLICA && r->repl && !r->journal &&
        (((r->state == STATE_READY || r->state == STATE_WAITING_INITIAL) && !r->npoints) ||
         (r->state == STATE_REPLICATING && r->npoints == 1 && r->points[0].checkpoint))) {
        /* A replica already, as step 1 of a reverse leaves it: an
         * interrupted reverse when the other side is still failed over
         * (repl_reverse_there refuses otherwise); the steps left run. */
        if (d->power != HV_POWER_OFF) {
            err_set(RESULT_INVALID_STATE, "the replica %s is %s here: reverse replication "
                    "needs it off", d->name, hv_power_name(d->power));
            goto out;
        }
        p->resume = 1;
        p->full = !r->npoints;
        pt = r->npoints ? &r->points[0] : NULL;
        p->point = util_xstrdup(pt ? pt->id : "rp-0001");
        p->point_time = pt ? pt->time : 0;
        p->checkpoint = util_xstrdup(pt ? pt->checkpoint : "drover.1");
        if (pt)
            replica_disk_list_copy(&p->base, &pt->disks);
        ret = 0;
        goto out;
    }
    if (r && (r->mode != MODE_PRIMARY ||
              (r->state != STATE_SYNCED && r->state != STATE_REPLICATING))) {
        err_set(RESULT_INVALID_STATE, "%s is in mode %d %s, state %d %s: reverse replication "
                "runs on the old primary of a failed-over replica (prepared by a planned "
                "failover, mode 1 state 4; or the primary of an unplanned one)", d->name,
                r->mode, mode_name(r->mode), r->state, state_name(r->state));
        goto out;
    }
    if (d->power != HV_POWER_OFF) {
        if (r && r->state == STATE_SYNCED)
            err_set(RESULT_INVALID_STATE, "the prepared primary %s is %s: it was started after "
                    "the planned failover; shut it down (its disks no longer prove anything "
                    "while it runs)", d->name, hv_power_name(d->power));
        else
            err_set(RESULT_INVALID_STATE, "the old primary %s is %s here: shut it down first "
                    "(the failed-over VM carries the workload now; what this one writes is "
                    "in neither, and drover does not move the disks of a running VM)", d->name,
                    hv_power_name(d->power));
        goto out;
    }
    if (!r || r->state != STATE_SYNCED) {
        repl_reverse_unproven(p, "%s here was not prepared by a planned failover (%s): no "
                              "checkpoint marks the point the failed-over VM started from",
                              d->name, r ? "its record says mode 1, state 3 Replicating"
                                         : "it has no drover record");
        ret = 0;
        goto out;
    }
    if (r->npoints != 1 || !r->points[0].checkpoint || !r->primary_uri) {
        err_set(RESULT_INCORRECT_TYPE, "the prepared record of %s has no final point with a "
                "checkpoint and no replica URI", d->name);
        goto out;
    }
    pt = &r->points[0];
    p->point = util_xstrdup(pt->id);
    p->point_time = pt->time;
    p->checkpoint = util_xstrdup(pt->checkpoint);
    if (!(cps = hv_checkpoint_names(here, d->uuid)))
        goto out;
    if (!repl_reverse_has(cps, pt->checkpoint)) {
        repl_reverse_unproven(p, "checkpoint %s of the final point %s is gone from %s here",
                              pt->checkpoint, pt->id, d->name);
        ret = 0;
        goto out;
    }
    if (!(xml = hv_get_xml(here, d->uuid)) || !(dx = domxml_parse(xml)))
        goto out;
    domxml_disks(dx, &disks);
    for (i = 0; i < pt->disks.n && !p->full; i++) {
        const ReplicaDisk *rd = &pt->disks.v[i];
        uint64_t dirty = 0;
        size_t k;

        for (k = 0; k < disks.n; k++)
            if (strcmp(disks.v[k].target, rd->target) == 0)
                break;
        if (k == disks.n || !disks.v[k].source || strcmp(disks.v[k].source, rd->file) != 0) {
            repl_reverse_unproven(p, "disk %s of %s is not on %s any more, the file of the "
                                  "final point", rd->target, d->name, rd->file);
            break;
        }
        if (repl_image_dirty(rd->file, pt->checkpoint, &dirty) < 0) {
            repl_reverse_unproven(p, "disk %s of %s (%s): %s", rd->target, d->name, rd->file,
                                  err_message());
            err_clear();
            break;
        }
        if (dirty) {
            repl_reverse_unproven(p, "disk %s of %s (%s) has %llu bytes written since the "
                                  "final point %s (the prepared primary ran after the planned "
                                  "failover)", rd->target, d->name, rd->file,
                                  (unsigned long long)dirty, pt->id);
            break;
        }
        replica_disk_list_add(&p->base, rd->target, rd->file, 0);
    }
    ret = 0;

out:
    hv_strv_free(cps);
    domxml_disk_list_clear(&disks);
    domxml_free(dx);
    return ret;
}

/* Checks the other side: the failed-over VM, on the final point with its
 * checkpoint (what proves the disks here), else committed (or, after a
 * planned failover, failed over) and running for a full copy. */
int
repl_reverse_there(HvConn *pc, const HvDomain *d, ReplReverse *p)
{
    UTIL_AUTOFREE char *md = NULL;
    UTIL_AUTOFREE char *xml = NULL;
    DomDiskList disks = { 0 };
    DomXml *dx = NULL;
    Replica *nr = NULL;
    char **cps = NULL;
    HvDomain pd;
    size_t i;
    int ret = -1, resume_proven = p->resume && !p->full;

    memset(&pd, 0, sizeof(pd));
    if (hv_lookup(pc, d->uuid, 0, &pd) < 0) {
        err_prefix("the failed-over VM on %s", p->primary_uri);
        goto out;
    }
    if (!(md = hv_get_metadata(pc, d->uuid))) {
        if (!err_code())
            err_set(RESULT_INVALID_STATE, "%s on %s has no drover record", pd.name,
                    p->primary_uri);
        goto out;
    }
    if (!(nr = repl_reverse_parse(md, pd.name)))
        goto out;
    p->primary_state = nr->state;
    p->primary_power = pd.power;
    if (p->resume && (nr->mode != MODE_REPLICA ||
                      (nr->state != STATE_RECOVERED && nr->state != STATE_COMMITTED))) {
        err_set(RESULT_INVALID_STATE, "%s here is a replica already (mode %d %s, state %d %s) "
                "and %s on %s is in mode %d %s, state %d %s: there is nothing to reverse",
                d->name, p->here_mode, mode_name(p->here_mode), p->here_state,
                state_name(p->here_state), pd.name, p->primary_uri, nr->mode,
                mode_name(nr->mode), nr->state, state_name(nr->state));
        goto out;
    }
    if (nr->mode != MODE_REPLICA ||
        (nr->state != STATE_RECOVERED && nr->state != STATE_COMMITTED)) {
        err_set(RESULT_INVALID_STATE, "%s on %s is in mode %d %s, state %d %s: reverse "
                "replication needs it failed over (5 Recovered, or 6 Committed)%s%s", pd.name,
                p->primary_uri, nr->mode, mode_name(nr->mode), nr->state, state_name(nr->state),
                p->point ? " to the final point " : "", p->point ? p->point : "");
        goto out;
    }
    /* Failed over to the final point (5), or committed on it (6: the
     * point is the only one left), with its checkpoint. */
    if (!p->full &&
        !((nr->state == STATE_RECOVERED && nr->failover &&
           strcmp(nr->failover->point, p->point) == 0) ||
          (nr->state == STATE_COMMITTED && nr->npoints == 1 &&
           strcmp(nr->points[0].id, p->point) == 0)))
        repl_reverse_unproven(p, "%s on %s is failed over to %s, not to the final point %s",
                              pd.name, p->primary_uri,
                              nr->failover ? nr->failover->point :
                              nr->npoints ? nr->points[0].id : "no point", p->point);
    if (!p->full) {
        if (!(cps = hv_checkpoint_names(pc, d->uuid)))
            goto out;
        if (!repl_reverse_has(cps, p->checkpoint))
            repl_reverse_unproven(p, "%s on %s has no checkpoint %s (it was started without "
                                  "drover failover --planned --start): what it wrote since the "
                                  "failover is unknown", pd.name, p->primary_uri, p->checkpoint);
    }
    if (resume_proven && p->full) {
        /* This side already runs on the proven point: what the other side
         * did since cannot be followed from here. */
        err_set(RESULT_INVALID_STATE, "%s here is a replica already on %s, and %s on %s cannot "
                "be proven on that point any more (%s): make %s there the primary by hand, then "
                "drover resync %s here", d->name, p->point, pd.name, p->primary_uri, p->why,
                pd.name, d->name);
        goto out;
    }
    /* (An interrupted reverse had this decided when it began.) */
    if (p->full && !p->resume && p->here_state != STATE_SYNCED &&
        nr->state != STATE_COMMITTED) {
        err_set(RESULT_INVALID_STATE, "%s on %s is in state %d %s after an unplanned failover: "
                "commit it first (drover commit %s there); reverse replication follows a "
                "committed failover, while a recovered one can still be reverted", pd.name,
                p->primary_uri, nr->state, state_name(nr->state), pd.name);
        goto out;
    }
    if (p->full && pd.power != HV_POWER_RUNNING && pd.power != HV_POWER_PAUSED) {
        err_set(RESULT_INVALID_STATE, "%s on %s is %s: the full copy reads it through a backup "
                "job, which needs it running; start it first", pd.name, p->primary_uri,
                hv_power_name(pd.power));
        goto out;
    }
    /* Its disks as they are now (the failover layers, kept by a commit):
     * the proven ones' targets, or for a full copy every one it has. */
    if (!(xml = hv_get_xml(pc, d->uuid)) || !(dx = domxml_parse(xml)))
        goto out;
    domxml_disks(dx, &disks);
    for (i = 0; !p->full && i < p->base.n; i++) {
        size_t k;

        for (k = 0; k < disks.n; k++)
            if (strcmp(disks.v[k].target, p->base.v[i].target) == 0 && disks.v[k].source)
                break;
        if (k == disks.n) {
            err_set(RESULT_INVALID_STATE, "%s on %s has no file for disk %s", pd.name,
                    p->primary_uri, p->base.v[i].target);
            goto out;
        }
        replica_disk_list_add(&p->primary_disks, disks.v[k].target, disks.v[k].source, 0);
    }
    /* Equal sizes too, where the failed-over VM's files can be read here
     * (a disk resized since proves nothing). */
    for (i = 0; !p->full && !p->resume && hv_is_local(pc) == 1 && i < p->base.n; i++) {
        uint64_t mine = repl_reverse_size(p->base.v[i].file);
        uint64_t theirs = repl_reverse_size(p->primary_disks.v[i].file);

        if (mine && theirs && mine != theirs)
            repl_reverse_unproven(p, "disk %s is %llu bytes here (%s) and %llu bytes on %s "
                                  "(resized after the failover)", p->base.v[i].target,
                                  (unsigned long long)mine, p->base.v[i].file,
                                  (unsigned long long)theirs, p->primary_uri);
    }
    if (p->full) {
        replica_disk_list_clear(&p->primary_disks);
        for (i = 0; i < disks.n; i++) {
            if (!disks.v[i].source) {
                err_set(RESULT_INVALID_STATE, "%s on %s has no file for disk %s", pd.name,
                        p->primary_uri, disks.v[i].target);
                goto out;
            }
            replica_disk_list_add(&p->primary_disks, disks.v[i].target, disks.v[i].source, 0);
        }
        if (!p->primary_disks.n) {
            err_set(RESULT_NOT_SUPPORTED, "%s on %s has no file-backed disk to copy", pd.name,
                    p->primary_uri);
            goto out;
        }
    }
    p->back_uri = util_xstrdup(nr->primary_uri);
    if (nr->repl) {
        p->interval = nr->repl->interval;
        p->points = nr->repl->points;
        p->app_every = nr->repl->app_every;
    }
    ret = 0;

out:
    hv_strv_free(cps);
    domxml_disk_list_clear(&disks);
    domxml_free(dx);
    replica_free(nr);
    hv_domain_clear(&pd);
    return ret;
}
