/* SPDX-License-Identifier: GPL-2.0-or-later */
/* repl-reverse: reverse replication (see repl.h): after a planned
 * failover the old primary becomes the replica of the failed-over VM,
 * on its own disks, with no copy where they provably hold the final point.
 * Hyper-V's Set-VMReplication -Reverse, run on the new replica's host. */
#include <config.h>

#include "repl/repl.h"
#include "repl/repl-priv.h"

#include <nettle/base16.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/lock.h"
#include "base/result.h"
#include "base/util.h"
#include "hv/domxml.h"
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

/* Checks this side (the prepared old primary) and proves its disks. */
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

    if (r->mode == MODE_REPLICA && (r->state == STATE_RECOVERED || r->state == STATE_COMMITTED)) {
        err_set(RESULT_INVALID_STATE, "%s is the failed-over replica: run reverse-replication on "
                "the old primary's host (-c its URI), which becomes the replica", d->name);
        goto out;
    }
    if (r->mode != MODE_PRIMARY || r->state != STATE_SYNCED) {
        err_set(RESULT_NOT_SUPPORTED, "%s is in mode %d %s, state %d %s: reverse replication "
                "reuses the disks of a primary prepared by a planned failover (mode 1, state 4); "
                "after an unplanned failover it needs a full copy, which drover does not do yet "
                "(enable-replication to a new domain instead)", d->name, r->mode,
                mode_name(r->mode), r->state, state_name(r->state));
        goto out;
    }
    if (r->npoints != 1 || !r->points[0].checkpoint || !r->primary_uri) {
        err_set(RESULT_INCORRECT_TYPE, "the prepared record of %s has no final point with a "
                "checkpoint and no replica URI", d->name);
        goto out;
    }
    pt = &r->points[0];
    if (d->power != HV_POWER_OFF) {
        err_set(RESULT_INVALID_STATE, "the prepared primary %s is %s: it was started after the "
                "planned failover; shut it down (its disks no longer prove anything while it "
                "runs)", d->name, hv_power_name(d->power));
        goto out;
    }
    if (!(cps = hv_checkpoint_names(here, d->uuid)))
        goto out;
    if (!repl_reverse_has(cps, pt->checkpoint)) {
        err_set(RESULT_INVALID_STATE, "checkpoint %s of the final point %s is gone from %s: "
                "nothing proves its disks hold that point (a full copy is needed, not built yet)",
                pt->checkpoint, pt->id, d->name);
        goto out;
    }
    if (!(xml = hv_get_xml(here, d->uuid)) || !(dx = domxml_parse(xml)))
        goto out;
    domxml_disks(dx, &disks);
    for (i = 0; i < pt->disks.n; i++) {
        const ReplicaDisk *rd = &pt->disks.v[i];
        UTIL_AUTOFREE char *line = NULL;
        uint64_t dirty = 0;
        size_t k;

        for (k = 0; k < disks.n; k++)
            if (strcmp(disks.v[k].target, rd->target) == 0)
                break;
        if (k == disks.n || !disks.v[k].source || strcmp(disks.v[k].source, rd->file) != 0) {
            err_set(RESULT_INVALID_STATE, "disk %s of %s is not on %s any more, the file of the "
                    "final point", rd->target, d->name, rd->file);
            goto out;
        }
        if (repl_image_dirty(rd->file, pt->checkpoint, &dirty) < 0) {
            err_prefix("disk %s of %s", rd->target, d->name);
            goto out;
        }
        if (dirty) {
            err_set(RESULT_INVALID_STATE, "disk %s of %s (%s) has %llu bytes written since the "
                    "final point %s (the prepared primary ran after the planned failover): it "
                    "does not hold that point any more; a full copy is needed (not built yet)",
                    rd->target, d->name, rd->file, (unsigned long long)dirty, pt->id);
            goto out;
        }
        replica_disk_list_add(&p->base, rd->target, rd->file, 0);
    }
    p->point = util_xstrdup(pt->id);
    p->point_time = pt->time;
    p->checkpoint = util_xstrdup(pt->checkpoint);
    ret = 0;

out:
    hv_strv_free(cps);
    domxml_disk_list_clear(&disks);
    domxml_free(dx);
    return ret;
}

/* Checks the other side: the failed-over VM on the final point with its
 * checkpoint. */
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
    int ret = -1;

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
    /* Failed over to the final point (5), or committed on it (6: the
     * point is the only one left). */
    if (nr->mode != MODE_REPLICA ||
        !((nr->state == STATE_RECOVERED && nr->failover &&
           strcmp(nr->failover->point, p->point) == 0) ||
          (nr->state == STATE_COMMITTED && nr->npoints == 1 &&
           strcmp(nr->points[0].id, p->point) == 0))) {
        err_set(RESULT_INVALID_STATE, "%s on %s is in mode %d %s, state %d %s%s%s: reverse "
                "replication needs it failed over (5 Recovered, or 6 Committed) to the final "
                "point %s", pd.name, p->primary_uri, nr->mode, mode_name(nr->mode), nr->state,
                state_name(nr->state), nr->failover ? ", on " : "",
                nr->failover ? nr->failover->point : "", p->point);
        goto out;
    }
    if (!(cps = hv_checkpoint_names(pc, d->uuid)))
        goto out;
    if (!repl_reverse_has(cps, p->checkpoint)) {
        err_set(RESULT_NOT_SUPPORTED, "%s on %s has no checkpoint %s (it was started without "
                "drover failover --planned --start): what it wrote since the failover is "
                "unknown, and a full copy is not built yet", pd.name, p->primary_uri,
                p->checkpoint);
        goto out;
    }
    /* Its disks as they are now (the failover layers, kept by a commit). */
    if (!(xml = hv_get_xml(pc, d->uuid)) || !(dx = domxml_parse(xml)))
        goto out;
    domxml_disks(dx, &disks);
    for (i = 0; i < p->base.n; i++) {
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

static void
repl_reverse_text(ReplReverse *p)
{
    UtilBuf b = { 0 };
    struct sha256_ctx c;
    uint8_t bin[SHA256_DIGEST_SIZE];
    size_t i;

    util_buf_printf(&b, "Plan: reverse replication of %s: %s on %s becomes the primary, %s "
                    "here (%s) its replica\n", p->vm, p->vm, p->primary_host, p->vm, p->host);
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

    p->host = util_xstrdup(host);
    p->vm = util_xstrdup(d->name);
    util_strlcpy(p->uuid, d->uuid, sizeof(p->uuid));
    if (a->dir && !util_path_is_clean_absolute(a->dir)) {
        err_set(RESULT_INVALID_PARAMETER, "--dir %s is not a clean absolute path", a->dir);
        goto fail;
    }
    if (repl_reverse_here(here, d, r, p) < 0)
        goto fail;
    p->primary_uri = util_xstrdup(a->from ? a->from : r->primary_uri);
    p->primary_host = util_xstrdup(r->primary_host ? r->primary_host : p->primary_uri);
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
    p->dir = a->dir ? util_xstrdup(a->dir)
                    : util_xasprintf("%s/lib/drover/%s", LOCALSTATEDIR, p->vm);
    phost = repl_reverse_uri_host(p->primary_uri);
    p->nbd = a->nbd ? util_xstrdup(a->nbd)
                    : util_xasprintf("%s:%d", phost ? phost : "127.0.0.1", REPL_NBD_PORT);
    repl_reverse_text(p);
    return p;

fail:
    repl_reverse_free(p);
    return NULL;
}

/* This host's domain and record; NULL with err set. */
static Replica *
repl_reverse_read(HvConn *here, const char *vm, HvDomain *d)
{
    UTIL_AUTOFREE char *md = NULL;
    Replica *r;

    if (hv_lookup(here, vm, 0, d) < 0)
        return NULL;
    if (!(md = hv_get_metadata(here, d->uuid))) {
        if (!err_code())
            err_set(RESULT_INVALID_STATE, "%s has no drover record: it is neither a prepared "
                    "primary nor a replica", d->name);
        return NULL;
    }
    r = repl_reverse_parse(md, d->name);
    return r;
}

ReplReverse *
repl_plan_reverse(HvConn *here, const char *host, const char *vm, const ReplReverseArgs *a)
{
    ReplReverse *p = NULL;
    HvConn *pc = NULL;
    Replica *r;
    HvDomain d;

    memset(&d, 0, sizeof(d));
    if ((r = repl_reverse_read(here, vm, &d)))
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

/* The record of the new replica (this domain). */
static Replica *
repl_reverse_replica_record(const ReplReverse *p, const Replica *old)
{
    Replica *rec = repl_record_planned(MODE_REPLICA, STATE_REPLICATING,
                                       old->primary_host ? old->primary_host : p->primary_host,
                                       p->primary_uri, p->vm, p->point, p->point_time,
                                       p->checkpoint);

    replica_disk_list_copy(&rec->points[0].disks, &p->base);
    rec->repl = util_xcalloc(1, sizeof(*rec->repl));
    rec->repl->dir = util_xstrdup(p->dir);
    rec->repl->nbd = util_xstrdup(p->nbd);
    rec->repl->interval = p->interval;
    rec->repl->points = p->points;
    rec->repl->app_every = p->app_every;
    return rec;
}

/* The record of the new primary: mode 1, state 3; its one point is its own
 * disks as at the checkpoint the replica starts from; <primary> names the
 * other side, as on a prepared primary. */
static Replica *
repl_reverse_primary_record(const ReplReverse *p)
{
    Replica *rec = repl_record_planned(MODE_PRIMARY, STATE_REPLICATING, p->host, p->back_uri,
                                       p->vm, p->point, p->point_time, p->checkpoint);

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
    LockHandle *lk = NULL;
    HvConn *pc = NULL;
    Replica *r = NULL, *rec = NULL, *prec = NULL;
    DomXml *dx = NULL, *pdx = NULL;
    char **cps = NULL;
    HvDomain d;
    size_t i;
    int code = 0;

    memset(&d, 0, sizeof(d));
    if ((code = repl_writable(here, "reverse replication", confirmed->vm)) != 0)
        goto out;
    if (!(r = repl_reverse_read(here, confirmed->uuid, &d)))
        goto fail;
    if (!(lockpath = replica_lock_path(r, d.uuid))) {
        err_set(RESULT_INCORRECT_TYPE, "the record of %s names no point to lock beside", d.name);
        goto fail;
    }
    holder = util_xasprintf("%s, reverse replication of %s, job %s", self, d.name,
                            job ? job_id(job) : "none");
    repl_job_step(job, 2, "locking %s", d.name);
    if (!(lk = lock_acquire(lockpath, holder))) {
        err_prefix("%s", d.name);
        goto fail;
    }
    /* Under the lock: the plan again, bitmaps read again; what runs is what
     * was confirmed. */
    repl_job_step(job, 5, "planning again: proving the disks of %s hold %s", d.name,
                  confirmed->point);
    replica_free(r);
    hv_domain_clear(&d);
    if (!(r = repl_reverse_read(here, confirmed->uuid, &d)))
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
    repl_job_step(job, 20, "creating %s", p->dir);
    if (fsutil_mkdirs(p->dir, 0750) < 0)
        goto fail;
    /* 1. Here: one define, the replica's record. */
    if (!(old_xml = hv_get_xml(here, d.uuid)) || !(dx = domxml_parse(old_xml)))
        goto fail;
    rec = repl_reverse_replica_record(p, r);
    repl_job_step(job, 40, "%s here becomes the replica (mode 2, state 3, point %s)", d.name,
                  p->point);
    if (repl_reverse_define(here, dx, rec, d.name) < 0)
        goto fail;
    /* 2. There: one define, the primary's record; if it fails, step 1 is
     *    undone with the definition as it was. */
    repl_job_step(job, 60, "%s on %s becomes the primary (mode 1, state 3)", d.name,
                  p->primary_host);
    prec = repl_reverse_primary_record(p);
    if (!(pxml = hv_get_xml(pc, d.uuid)) || !(pdx = domxml_parse(pxml)) ||
        repl_reverse_define(pc, pdx, prec, p->primary_host) < 0) {
        ErrInfo e;

        err_save(&e);
        if (hv_define(here, old_xml) < 0)
            repl_job_step(job, -1, "warning: %s keeps its replica record (it could not be "
                          "put back: %s)", d.name, err_message());
        err_restore(&e);
        err_prefix("the failed-over VM could not become the primary; %s here is prepared again",
                   d.name);
        goto fail;
    }
    /* 3. The old direction's checkpoints on this domain: libvirt forgets
     *    them (their bitmaps stay in the files, which are read-only layers
     *    now); a later cycle in the other direction would trip on them. */
    if ((cps = hv_checkpoint_names(here, d.uuid))) {
        for (i = 0; cps[i]; i++) {
            if (strncmp(cps[i], "drover.", 7) != 0)
                continue;
            repl_job_step(job, 80, "forgetting checkpoint %s of the old direction",
                          cps[i]);
            if (hv_checkpoint_delete_flags(here, d.uuid, cps[i], 1) < 0) {
                repl_job_step(job, -1, "warning: %s", err_message());
                err_clear();
            }
        }
    } else {
        repl_job_step(job, -1, "warning: %s", err_message());
        err_clear();
    }
    repl_job_step(job, 100, "replication of %s reversed: %s (%s) -> %s (here), from %s; "
                  "drover replicate %s makes the next point", d.name, p->primary_host,
                  p->primary_uri, p->host, p->point, d.name);
    goto out;

fail:
    code = err_code() ? err_code() : RESULT_FAILED;
out:
    {
        const ReplReverse *done = p ? p : confirmed;

        repl_audit(a, done->host, done->vm, "reverse-replication", done->digest, job, code);
    }
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
