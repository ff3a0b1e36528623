/* SPDX-License-Identifier: GPL-2.0-or-later */
/* repl-reverse: reverse replication (see repl.h): after a failover the old
 * primary becomes the replica of the failed-over VM, on its own disks with
 * no copy where they provably hold the final point (a planned failover),
 * otherwise on new bases filled by enable-replication's initial copy, its
 * old disk files left in place.  Hyper-V's Set-VMReplication -Reverse, run
 * on the new replica's host. */
#include <config.h>

#include "repl/repl.h"
#include "repl/repl-priv.h"

#include <nettle/base16.h>
#include <nettle/sha2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/lock.h"
#include "base/result.h"
#include "base/util.h"
#include "chain/chain.h"
#include "hv/domxml.h"
#include "ops/ops.h"
#include "record/replica.h"
#include "record/state.h"

void
repl_reverse_free(ReplReverse *p)
{
    if (!p)
        return;
    free(p->host);
    free(p->vm);
    free(p->primary_uri);
    free(p->primary_host);
    free(p->back_uri);
    free(p->point);
    free(p->checkpoint);
    free(p->dir);
    free(p->nbd);
    replica_disk_list_clear(&p->base);
    replica_disk_list_clear(&p->primary_disks);
    free(p->why);
    replica_disk_list_clear(&p->keep);
    replica_disk_list_clear(&p->first);
    free(p->text);
    free(p);
}

/* The host part of a libvirt URI, or NULL (a local URI). */
static char *
repl_reverse_uri_host(const char *uri)
{
    const char *p = strstr(uri, "://");
    const char *end, *at, *colon;

    if (!p)
        return NULL;
    p += 3;
    end = p + strcspn(p, "/?");
    if ((at = memchr(p, '@', (size_t)(end - p))))
        p = at + 1;
    if ((colon = memchr(p, ':', (size_t)(end - p))) && *p != '[')
        end = colon;
    return end > p ? util_xstrndup(p, (size_t)(end - p)) : NULL;
}

static Replica *
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
static uint64_t
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
static int
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
static int
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

/* A full copy: the disks here, kept in place; per disk of the failed-over
 * VM a new base and first point in dir, names no file has yet.  The two
 * sides must have the same disks. */
static int
repl_reverse_full_plan(HvConn *here, HvConn *pc, const HvDomain *d, ReplReverse *p)
{
    UTIL_AUTOFREE char *xml = NULL;
    DomDiskList mine = { 0 };
    DomXml *dx = NULL;
    size_t i, k;
    int local = hv_is_local(pc) == 1, ret = -1;

    free(p->point);
    free(p->checkpoint);
    /* What the initial copy makes (repl.c): its first point and checkpoint. */
    p->point = util_xstrdup("rp-0001");
    p->checkpoint = util_xstrdup("drover.1");
    p->point_time = 0;
    replica_disk_list_clear(&p->base);
    if (!(xml = hv_get_xml(here, d->uuid)) || !(dx = domxml_parse(xml)))
        goto out;
    domxml_disks(dx, &mine);
    for (k = 0; k < mine.n; k++) {
        if (!replica_disk_list_find(&p->primary_disks, mine.v[k].target)) {
            err_set(RESULT_NOT_SUPPORTED, "disk %s of %s here (%s) is not a disk of the "
                    "failed-over VM on %s: a full copy would leave it out (detach it first)",
                    mine.v[k].target, d->name, mine.v[k].source ? mine.v[k].source : "no file",
                    p->primary_uri);
            goto out;
        }
    }
    p->full_size_here = !local;
    for (i = 0; i < p->primary_disks.n; i++) {
        const ReplicaDisk *pdk = &p->primary_disks.v[i];
        UTIL_AUTOFREE char *base = util_xasprintf("%s/%s.base.qcow2", p->dir, pdk->target);
        UTIL_AUTOFREE char *first = util_xasprintf("%s/%s.%s.qcow2", p->dir, pdk->target,
                                                   p->point);
        const char *const names[2] = { base, first };
        struct stat st;
        size_t n;

        for (k = 0; k < mine.n; k++)
            if (strcmp(mine.v[k].target, pdk->target) == 0)
                break;
        if (k == mine.n) {
            err_set(RESULT_NOT_SUPPORTED, "the failed-over VM on %s has disk %s, which %s here "
                    "has not: attach it here first", p->primary_uri, pdk->target, d->name);
            goto out;
        }
        for (n = 0; n < 2; n++) {
            if (lstat(names[n], &st) == 0) {
                err_set(RESULT_IN_USE, "%s exists already: the full copy of %s would write "
                        "it, and drover never writes over a file it did not make (an earlier "
                        "replication into %s?); name a new directory with --dir", names[n],
                        pdk->target, p->dir);
                goto out;
            }
        }
        if (mine.v[k].source && lstat(mine.v[k].source, &st) == 0)
            replica_disk_list_add(&p->keep, pdk->target, mine.v[k].source, 0);
        replica_disk_list_add(&p->base, pdk->target, base, 0);
        replica_disk_list_add(&p->first, pdk->target, first, 0);
        p->full_size += repl_reverse_size(local ? pdk->file : mine.v[k].source);
    }
    ret = 0;

out:
    domxml_disk_list_clear(&mine);
    domxml_free(dx);
    return ret;
}

/* "mode 1 Primary, state 4 Synced", or that there is no record. */
static char *
repl_reverse_here_was(const ReplReverse *p)
{
    if (p->here_mode < 0)
        return util_xstrdup("no drover record");
    return util_xasprintf("mode %d %s, state %d %s", p->here_mode, mode_name(p->here_mode),
                          p->here_state, state_name(p->here_state));
}

/* The steps of a full copy: what is kept, what is made, in order. */
static void
repl_reverse_text_full(const ReplReverse *p, UtilBuf *b)
{
    UTIL_AUTOFREE char *was = repl_reverse_here_was(p);
    char size[32];
    size_t i;

    util_format_size(p->full_size, size, sizeof(size));
    util_buf_printf(b, "  primary: %s on %s (%s) is %s, state %d %s\n", p->vm, p->primary_host,
                    p->primary_uri, hv_power_name(p->primary_power), p->primary_state,
                    state_name(p->primary_state));
    util_buf_printf(b, "  full:    the old primary's disk cannot be proven equal: %s; copying in "
                    "full, %s%s\n", p->why, size,
                    p->full_size_here ? " (the sizes of the disks here)" : "");
    for (i = 0; i < p->keep.n; i++)
        util_buf_printf(b, "  keep:    %s: %s (the old primary's disk, not trusted as base): "
                        "left in place, no longer %s's disk; nothing deletes it\n",
                        p->keep.v[i].target, p->keep.v[i].file, p->vm);
    for (i = 0; i < p->base.n; i++) {
        util_buf_printf(b, "  create:  %s (%s, the new base: full copy of %s on %s)\n",
                        p->base.v[i].file, p->base.v[i].target, p->primary_disks.v[i].file,
                        p->primary_host);
        util_buf_printf(b, "  create:  %s (%s, empty, backed by %s)\n", p->first.v[i].file,
                        p->first.v[i].target, p->base.v[i].file);
    }
    util_buf_printf(b, "  1. %s: %s: %s -> mode %d %s, state %d %s; its disks on the new bases "
                    "in %s; cycles from %s (NBD %s); checkpoints of the old direction forgotten "
                    "(libvirt's metadata only)\n", p->host, p->vm, was, MODE_REPLICA,
                    mode_name(MODE_REPLICA), STATE_READY, state_name(STATE_READY), p->dir,
                    p->primary_uri, p->nbd);
    util_buf_printf(b, "  2. %s: %s: mode %d %s, state %d %s -> mode %d %s, state %d %s; its "
                    "disks stay as they are\n", p->primary_host, p->vm, MODE_REPLICA,
                    mode_name(MODE_REPLICA), p->primary_state, state_name(p->primary_state),
                    MODE_PRIMARY, mode_name(MODE_PRIMARY), STATE_REPLICATING,
                    state_name(STATE_REPLICATING));
    util_buf_printf(b, "  3. %s: the initial copy (as enable-replication's): a full backup of %s "
                    "on %s with checkpoint %s into the new bases, first point %s; state %d %s "
                    "-> %d %s\n", p->host, p->vm, p->primary_host, p->checkpoint, p->point,
                    STATE_WAITING_INITIAL, state_name(STATE_WAITING_INITIAL), STATE_REPLICATING,
                    state_name(STATE_REPLICATING));
    util_buf_printf(b, "  next:    drover replicate %s (here) copies the changes since %s\n",
                    p->vm, p->checkpoint);
}

/* The steps an interrupted reverse left: step 1 (here) ran. */
static void
repl_reverse_text_resume(const ReplReverse *p, UtilBuf *b)
{
    util_buf_printf(b, "  resume:  an interrupted reverse replication: %s here is its replica "
                    "already (mode %d %s, state %d %s, %s%s), %s on %s is still the failed-over "
                    "replica (state %d %s, %s): the steps left\n", p->vm, p->here_mode,
                    mode_name(p->here_mode), p->here_state, state_name(p->here_state),
                    p->full ? "no point yet, its disks on new bases in " : "first point ",
                    p->full ? p->dir : p->point, p->vm, p->primary_host, p->primary_state,
                    state_name(p->primary_state), hv_power_name(p->primary_power));
    util_buf_printf(b, "  2. %s: %s: mode %d %s, state %d %s -> mode %d %s, state %d %s; its "
                    "disks stay as they are\n", p->primary_host, p->vm, MODE_REPLICA,
                    mode_name(MODE_REPLICA), p->primary_state, state_name(p->primary_state),
                    MODE_PRIMARY, mode_name(MODE_PRIMARY), STATE_REPLICATING,
                    state_name(STATE_REPLICATING));
    if (p->full)
        util_buf_printf(b, "  3. %s: the initial copy (as enable-replication's): a full backup "
                        "of %s on %s with checkpoint %s into the new bases in %s, first point "
                        "%s\n", p->host, p->vm, p->primary_host, p->checkpoint, p->dir, p->point);
    util_buf_printf(b, "  next:    drover replicate %s (here) copies the changes since %s\n",
                    p->vm, p->checkpoint);
}

static void
repl_reverse_text(ReplReverse *p)
{
    UtilBuf b = { 0 };
    struct sha256_ctx c;
    uint8_t bin[SHA256_DIGEST_SIZE];
    size_t i;

    util_buf_printf(&b, "Plan: reverse replication of %s: %s on %s becomes the primary, %s "
                    "here (%s) its replica\n", p->vm, p->vm, p->primary_host, p->vm, p->host);
    if (p->resume) {
        repl_reverse_text_resume(p, &b);
        goto done;
    }
    if (p->full) {
        repl_reverse_text_full(p, &b);
        goto done;
    }
    util_buf_printf(&b, "  primary: %s on %s (%s) is %s, state %d %s on %s, checkpoint %s taken "
                    "when it started\n", p->vm, p->primary_host, p->primary_uri,
                    hv_power_name(p->primary_power), p->primary_state,
                    state_name(p->primary_state), p->point, p->checkpoint);
    for (i = 0; i < p->base.n; i++)
        util_buf_printf(&b, "  base:    %s: %s holds %s (bitmap %s consistent, nothing written "
                        "since): reused in place, nothing copied\n", p->base.v[i].target,
                        p->base.v[i].file, p->point, p->checkpoint);
    util_buf_printf(&b, "  1. %s: %s: mode %d %s, state %d %s -> mode %d %s, state %d %s; first "
                    "point %s on its own disks; cycles from %s (NBD %s), new layers in %s; "
                    "checkpoints of the old direction forgotten (libvirt's metadata only)\n",
                    p->host, p->vm, MODE_PRIMARY, mode_name(MODE_PRIMARY), STATE_SYNCED,
                    state_name(STATE_SYNCED), MODE_REPLICA, mode_name(MODE_REPLICA),
                    STATE_REPLICATING, state_name(STATE_REPLICATING), p->point, p->primary_uri,
                    p->nbd, p->dir);
    util_buf_printf(&b, "  2. %s: %s: mode %d %s, state %d %s -> mode %d %s, state %d %s; its "
                    "disks stay as they are\n", p->primary_host, p->vm, MODE_REPLICA,
                    mode_name(MODE_REPLICA), p->primary_state, state_name(p->primary_state),
                    MODE_PRIMARY, mode_name(MODE_PRIMARY), STATE_REPLICATING,
                    state_name(STATE_REPLICATING));
    util_buf_printf(&b, "  next:    drover replicate %s (here) copies the changes since %s\n",
                    p->vm, p->checkpoint);
done:
    util_buf_add(&b, "  deletes: nothing on either host\n");
    p->text = util_buf_steal(&b);
    sha256_init(&c);
    sha256_update(&c, strlen(p->text), (const uint8_t *)p->text);
    sha256_digest(&c, sizeof(bin), bin);
    base16_encode_update(p->digest, sizeof(bin), bin);
    p->digest[64] = '\0';
}

static ReplReverse *
repl_plan_reverse_on(HvConn *here, HvConn **pcp, const char *host, const HvDomain *d,
                     const Replica *r, const ReplReverseArgs *a)
{
    ReplReverse *p = util_xcalloc(1, sizeof(*p));
    UTIL_AUTOFREE char *phost = NULL;
    const char *from = a->from ? a->from : r ? r->primary_uri : NULL;

    p->host = util_xstrdup(host);
    p->vm = util_xstrdup(d->name);
    util_strlcpy(p->uuid, d->uuid, sizeof(p->uuid));
    if (a->dir && !util_path_is_clean_absolute(a->dir)) {
        err_set(RESULT_INVALID_PARAMETER, "--dir %s is not a clean absolute path", a->dir);
        goto fail;
    }
    if (repl_reverse_here(here, d, r, p) < 0)
        goto fail;
    if (!from) {
        err_set(RESULT_INVALID_PARAMETER, "%s here has no drover record naming the failed-over "
                "VM's host: give its URI with --from", d->name);
        goto fail;
    }
    p->primary_uri = util_xstrdup(from);
    phost = repl_reverse_uri_host(p->primary_uri);
    p->primary_host = util_xstrdup(r && r->primary_host ? r->primary_host
                                   : phost ? phost : p->primary_uri);
    *pcp = hv_open(p->primary_uri, 0);
    if (!hv_is_alive(*pcp)) {
        ErrInfo e;

        err_save(&e);
        err_set(RESULT_NOT_AVAILABLE, "the failed-over VM's host %s cannot be reached (%s)",
                p->primary_uri, e.message[0] ? e.message : "not connected");
        goto fail;
    }
    if (repl_reverse_there(*pcp, d, p) < 0)
        goto fail;
    if (!p->back_uri)
        p->back_uri = util_xstrdup(hv_uri(here));
    if (p->resume) {
        /* Where the interrupted run put the replica. */
        p->dir = util_xstrdup(r->repl->dir);
        p->nbd = util_xstrdup(r->repl->nbd);
    } else {
        p->dir = a->dir ? util_xstrdup(a->dir)
                        : util_xasprintf("%s/lib/drover/%s", LOCALSTATEDIR, p->vm);
        p->nbd = a->nbd ? util_xstrdup(a->nbd)
                        : util_xasprintf("%s:%d", phost ? phost : "127.0.0.1", REPL_NBD_PORT);
    }
    if (!p->dir || !p->nbd) {
        err_set(RESULT_INCORRECT_TYPE, "the replica record of %s names no directory or NBD "
                "export", d->name);
        goto fail;
    }
    if (p->full && !p->resume && repl_reverse_full_plan(here, *pcp, d, p) < 0)
        goto fail;
    repl_reverse_text(p);
    return p;

fail:
    repl_reverse_free(p);
    return NULL;
}

/* This host's domain and its record (NULL with *none set when it has
 * none); NULL with err set when it cannot be read. */
static Replica *
repl_reverse_read(HvConn *here, const char *vm, HvDomain *d, int *none)
{
    UTIL_AUTOFREE char *md = NULL;

    *none = 0;
    if (hv_lookup(here, vm, 0, d) < 0)
        return NULL;
    if (!(md = hv_get_metadata(here, d->uuid))) {
        *none = !err_code();
        return NULL;
    }
    return repl_reverse_parse(md, d->name);
}

ReplReverse *
repl_plan_reverse(HvConn *here, const char *host, const char *vm, const ReplReverseArgs *a)
{
    ReplReverse *p = NULL;
    HvConn *pc = NULL;
    Replica *r;
    HvDomain d;
    int none = 0;

    memset(&d, 0, sizeof(d));
    if ((r = repl_reverse_read(here, vm, &d, &none)) || none)
        p = repl_plan_reverse_on(here, &pc, host, &d, r, a);
    hv_close(pc);
    replica_free(r);
    hv_domain_clear(&d);
    return p;
}

Replica *
repl_record_planned(int mode, int state, const char *host, const char *uri, const char *vm,
                    const char *point, int64_t time, const char *checkpoint)
{
    Replica *rec = replica_new();
    ReplicaPoint *pt;

    rec->mode = mode;
    rec->state = state;
    rec->primary_host = util_xstrdup(host);
    rec->primary_uri = util_xstrdup(uri);
    rec->primary_name = util_xstrdup(vm);
    rec->points = util_xcalloc(1, sizeof(*rec->points));
    rec->npoints = 1;
    pt = &rec->points[0];
    pt->id = util_xstrdup(point);
    pt->time = time;
    pt->type = RP_TYPE_PLANNED;
    pt->checkpoint = util_xstrdup(checkpoint);
    return rec;
}

/* The record of the new replica (this domain): its first point its own
 * disks; for a full copy no point yet, state 1 Ready (the initial copy
 * makes rp-0001). */
static Replica *
repl_reverse_replica_record(const ReplReverse *p, const Replica *old)
{
    const char *phost = old && old->primary_host ? old->primary_host : p->primary_host;
    Replica *rec;

    if (p->full) {
        rec = replica_new();
        rec->mode = MODE_REPLICA;
        rec->state = STATE_READY;
        rec->primary_host = util_xstrdup(phost);
        rec->primary_uri = util_xstrdup(p->primary_uri);
        rec->primary_name = util_xstrdup(p->vm);
    } else {
        rec = repl_record_planned(MODE_REPLICA, STATE_REPLICATING, phost, p->primary_uri, p->vm,
                                  p->point, p->point_time, p->checkpoint);
        replica_disk_list_copy(&rec->points[0].disks, &p->base);
    }
    rec->repl = util_xcalloc(1, sizeof(*rec->repl));
    rec->repl->dir = util_xstrdup(p->dir);
    rec->repl->nbd = util_xstrdup(p->nbd);
    rec->repl->interval = p->interval;
    rec->repl->points = p->points;
    rec->repl->app_every = p->app_every;
    return rec;
}

/* The record of the new primary: mode 1, state 3; <primary> names the
 * other side, as on a prepared primary; its one point is its own disks as
 * at the checkpoint the replica starts from (none before a full copy: the
 * initial copy's checkpoint is made by it). */
static Replica *
repl_reverse_primary_record(const ReplReverse *p)
{
    Replica *rec;

    if (p->full) {
        rec = replica_new();
        rec->mode = MODE_PRIMARY;
        rec->state = STATE_REPLICATING;
        rec->primary_host = util_xstrdup(p->host);
        rec->primary_uri = util_xstrdup(p->back_uri);
        rec->primary_name = util_xstrdup(p->vm);
        return rec;
    }
    rec = repl_record_planned(MODE_PRIMARY, STATE_REPLICATING, p->host, p->back_uri, p->vm,
                              p->point, p->point_time, p->checkpoint);
    replica_disk_list_copy(&rec->points[0].disks, &p->primary_disks);
    return rec;
}

/* dx's definition with record rec, defined on c. */
static int
repl_reverse_define(HvConn *c, DomXml *dx, const Replica *rec, const char *what)
{
    UTIL_AUTOFREE char *md = NULL;
    UTIL_AUTOFREE char *xml = NULL;

    if (replica_validate(rec) < 0 || !(md = replica_format(rec))) {
        err_prefix("the new record of %s", what);
        return -1;
    }
    if (domxml_set_replica(dx, md) < 0)
        return -1;
    xml = domxml_format(dx);
    if (hv_define(c, xml) < 0) {
        err_prefix("cannot save the definition of %s", what);
        return -1;
    }
    return 0;
}

/* Takes the lock at path (NULL: none) for job; NULL lock and 0 when path
 * is NULL or one already held (*held) is that file. */
static int
repl_reverse_lock(const char *path, const char *held, const char *holder, const char *name,
                  LockHandle **lk)
{
    *lk = NULL;
    if (!path || (held && strcmp(path, held) == 0))
        return 0;
    if (!(*lk = lock_acquire(path, holder))) {
        err_prefix("%s", name);
        return -1;
    }
    return 0;
}

/* The lock of the new replica's directory dir (made first), unless held
 * is that file already. */
static int
repl_reverse_dirlock(const char *dir, const char *uuid, const char *held, const char *holder,
                     const char *name, Job *job, LockHandle **lk)
{
    UTIL_AUTOFREE char *path = NULL;

    if (!dir) {
        err_set(RESULT_INVALID_PARAMETER, "reverse replication of %s names no directory", name);
        return -1;
    }
    repl_job_step(job, 3, "creating %s", dir);
    if (fsutil_mkdirs(dir, 0750) < 0)
        return -1;
    path = util_xasprintf("%s/.drover-%s.lock", dir, uuid);
    return repl_reverse_lock(path, held, holder, name, lk);
}

int
repl_reverse(HvConn *here, const ReplReverse *confirmed, const ReplArgs *a, Job *job)
{
    UTIL_AUTOFREE char *self = lock_describe_self();
    UTIL_AUTOFREE char *holder = NULL;
    UTIL_AUTOFREE char *lockpath = NULL;
    UTIL_AUTOFREE char *old_xml = NULL;
    UTIL_AUTOFREE char *pxml = NULL;
    ReplReverseArgs ra;
    ReplReverse *p = NULL;
    LockHandle *lk = NULL, *lk2 = NULL;
    HvConn *pc = NULL;
    Replica *r = NULL, *rec = NULL, *prec = NULL;
    DomXml *dx = NULL, *pdx = NULL;
    char **cps = NULL;
    HvDomain d;
    size_t i;
    int code = 0, none = 0;

    memset(&d, 0, sizeof(d));
    if ((code = repl_writable(here, "reverse replication", confirmed->vm)) != 0)
        goto out;
    if (!(r = repl_reverse_read(here, confirmed->uuid, &d, &none)) && !none)
        goto fail;
    /* The old record's lock (beside its point), and for a full copy the
     * new replica's (in dir, where the cycles will take it).  The job
     * decides by the plan made under the lock, not by the confirmed one's
     * fields: a job process gets only what the plan is made again from. */
    lockpath = r ? replica_lock_path(r, d.uuid) : NULL;
    holder = util_xasprintf("%s, reverse replication of %s, job %s", self, d.name,
                            job ? job_id(job) : "none");
    repl_job_step(job, 2, "locking %s", d.name);
    if (repl_reverse_lock(lockpath, NULL, holder, d.name, &lk) < 0)
        goto fail;
    /* No point to lock beside (no record, or a primary's without a point):
     * a full copy for sure; its directory's lock before planning again. */
    if (!lockpath && repl_reverse_dirlock(confirmed->dir, d.uuid, NULL, holder, d.name, job,
                                          &lk2) < 0)
        goto fail;
    /* Under the lock: the plan again, bitmaps read again; what runs is what
     * was confirmed. */
    repl_job_step(job, 5, "planning again: %s", lockpath ? "proving the disks hold the point"
                                                         : "the full copy's files still free");
    replica_free(r);
    hv_domain_clear(&d);
    if (!(r = repl_reverse_read(here, confirmed->uuid, &d, &none)) && !none)
        goto fail;
    memset(&ra, 0, sizeof(ra));
    ra.from = confirmed->primary_uri;
    ra.dir = confirmed->dir;
    ra.nbd = confirmed->nbd;
    if (!(p = repl_plan_reverse_on(here, &pc, confirmed->host, &d, r, &ra)))
        goto fail;
    if (strcmp(p->digest, confirmed->digest) != 0) {
        err_set(RESULT_INVALID_STATE, "the plan for %s changed since it was shown: nothing was "
                "done; plan again", d.name);
        err_hint(RESULT_HINT_PLAN_CHANGED);
        goto fail;
    }
    if (p->full && !lk2 &&
        repl_reverse_dirlock(p->dir, d.uuid, lockpath, holder, d.name, job, &lk2) < 0)
        goto fail;
    if (!p->full) {
        repl_job_step(job, 20, "creating %s", p->dir);
        if (fsutil_mkdirs(p->dir, 0750) < 0)
            goto fail;
    }
    /* 1. Here: one define, the replica's record (and for a full copy its
     *    disks on the new bases; the old files stay where they are). */
    if (p->resume) {
        repl_job_step(job, 40, "%s here is the replica already (an interrupted reverse "
                      "replication)", d.name);
    } else {
        if (!(old_xml = hv_get_xml(here, d.uuid)) || !(dx = domxml_parse(old_xml)))
            goto fail;
        for (i = 0; p->full && i < p->base.n; i++)
            if (domxml_set_disk_source(dx, p->base.v[i].target, p->base.v[i].file) < 0)
                goto fail;
        rec = repl_reverse_replica_record(p, r);
        repl_job_step(job, 40, "%s here becomes the replica (mode 2, state %d, %s)", d.name,
                      rec->state, p->full ? "its disks on the new bases" : p->point);
        if (repl_reverse_define(here, dx, rec, d.name) < 0)
            goto fail;
        /* A crash from here to step 2's define leaves this side the
         * replica and the other still failed over: the same command
         * then runs the steps left (p->resume). */
        ops_fault_point("reverse", "here");
    }
    /* 2. There: one define, the primary's record; if it fails, step 1 is
     *    undone with the definition as it was. */
    repl_job_step(job, 60, "%s on %s becomes the primary (mode 1, state 3)", d.name,
                  p->primary_host);
    prec = repl_reverse_primary_record(p);
    if (!(pxml = hv_get_xml(pc, d.uuid)) || !(pdx = domxml_parse(pxml)) ||
        repl_reverse_define(pc, pdx, prec, p->primary_host) < 0) {
        ErrInfo e;

        err_save(&e);
        if (old_xml && hv_define(here, old_xml) < 0)
            repl_job_step(job, -1, "warning: %s keeps its replica record (it could not be "
                          "put back: %s)", d.name, err_message());
        err_restore(&e);
        err_prefix("the failed-over VM could not become the primary; %s here %s", d.name,
                   p->resume ? "stays its replica (run reverse-replication again)"
                             : "is as it was");
        goto fail;
    }
    /* 3. The old direction's checkpoints on this domain: libvirt forgets
     *    them (their bitmaps stay in the files, which are read-only layers
     *    now, or kept aside); a later cycle in the other direction would
     *    trip on them. */
    if ((cps = hv_checkpoint_names(here, d.uuid))) {
        for (i = 0; cps[i]; i++) {
            if (strncmp(cps[i], "drover.", 7) != 0)
                continue;
            repl_job_step(job, p->full ? 65 : 80, "forgetting checkpoint %s of the old "
                          "direction", cps[i]);
            if (hv_checkpoint_delete_flags(here, d.uuid, cps[i], 1) < 0) {
                repl_job_step(job, -1, "warning: %s", err_message());
                err_clear();
            }
        }
    } else {
        repl_job_step(job, -1, "warning: %s", err_message());
        err_clear();
    }
    /* 4. A full copy: enable-replication's initial copy, under the same
     *    lock, into the new bases. */
    if (p->full) {
        repl_job_step(job, 70, "the initial copy: %s on %s read in full into %s", d.name,
                      p->primary_host, p->dir);
        hv_close(pc);
        pc = NULL;
        if ((code = repl_initial_locked(here, p->host, d.uuid, a, job)) != 0) {
            err_prefix("the roles are swapped (%s here is the replica, its initial copy "
                       "pending: drover replicate %s runs it again; the old disks are kept)",
                       d.name, d.name);
            goto out;
        }
    }
    repl_job_step(job, 100, "replication of %s reversed: %s (%s) -> %s (here), from %s%s; "
                  "drover replicate %s makes the next point", d.name, p->primary_host,
                  p->primary_uri, p->host, p->point, p->full ? " (a full copy)" : "", d.name);
    goto out;

fail:
    code = err_code() ? err_code() : RESULT_FAILED;
out:
    {
        const ReplReverse *done = p ? p : confirmed;

        repl_audit(a, done->host, done->vm, "reverse-replication", done->digest, job, code);
    }
    lock_release(lk2);
    lock_release(lk);
    hv_strv_free(cps);
    hv_close(pc);
    replica_free(r);
    replica_free(rec);
    replica_free(prec);
    domxml_free(dx);
    domxml_free(pdx);
    hv_domain_clear(&d);
    repl_reverse_free(p);
    return code;
}
