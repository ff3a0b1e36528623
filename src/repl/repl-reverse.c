/* SPDX-License-Identifier: GPL-2.0-or-later */
/* repl-reverse: reverse replication (see repl.h): after a failover the old
 * primary becomes the replica of the failed-over VM, on its own disks with
 * no copy where they provably hold the final point (a planned failover),
 * otherwise on new bases filled by enable-replication's initial copy, its
 * old disk files left in place.  Hyper-V's Set-VMReplication -Reverse, run
 * on the new replica's host.  This file makes the plan (repl_plan_reverse:
 * a full copy's files, the plan's text and digest) from the checks of both
 * sides (repl-reverse-check.c); repl-reverse-run.c carries it out. */
#include <config.h>

#include "repl/repl.h"
#include "repl/repl-priv.h"

#include <nettle/base16.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
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

ReplReverse *
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
Replica *
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
