/* SPDX-License-Identifier: GPL-2.0-or-later */
/* repl-plan: the plans of a cycle, a resync and enable-replication, made
 * read-only, with the digest the confirmation names. */
#include <config.h>

#include "repl/repl.h"
#include "repl/repl-priv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libxml/xmlwriter.h>
#include <nettle/base16.h>
#include <nettle/sha2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/lock.h"
#include "base/result.h"
#include "base/util.h"
#include "chain/chain.h"
#include "hv/domxml.h"
#include "ops/audit.h"
#include "ops/ops.h"
#include "ops/plan.h"
#include "record/replica.h"
#include "record/state.h"

/* --- plans ------------------------------------------------------------------- */

/* Why a cycle may not run in this state; 0 when it may. */
int
repl_check_state(const Replica *r, const char *name)
{
    switch (r->state) {
    case STATE_READY:
    case STATE_WAITING_INITIAL:
    case STATE_REPLICATING:
        return 0;
    case STATE_RECOVERED:
    case STATE_COMMITTED:
    case STATE_FAILOVER_IN_PROGRESS:
        err_set(RESULT_INVALID_STATE, "replication of %s is paused: it is failed over "
                "(state %d %s); revert the failover first, replication resumes after it",
                name, r->state, state_name(r->state));
        return -1;
    case STATE_SUSPENDED:
        err_set(RESULT_INVALID_STATE, "replication of %s is suspended (state 7); resume it first",
                name);
        return -1;
    default:
        err_set(RESULT_INVALID_STATE, "replication cycles run only in state 1 Ready, 2 Waiting "
                "for initial replication or 3 Replicating; %s is in state %d %s", name, r->state,
                state_name(r->state));
        return -1;
    }
}

/* Why a resync may not run now; 0 when it may.  It replaces every point,
 * so only a replica that replicates (3) and that nothing else reads. */
int
repl_check_resync(const Replica *r, const char *name)
{
    if (r->state == STATE_WAITING_INITIAL || (r->state == STATE_READY && !r->npoints)) {
        err_set(RESULT_INVALID_STATE, "%s has no recovery point yet (state %d %s): drover "
                "replicate %s runs its initial copy", name, r->state, state_name(r->state), name);
        return -1;
    }
    if (r->state != STATE_REPLICATING) {
        if (repl_check_state(r, name) < 0)
            return -1;
        err_set(RESULT_INVALID_STATE, "a resync runs only in state 3 Replicating; %s is in "
                "state %d %s", name, r->state, state_name(r->state));
        return -1;
    }
    if (!r->npoints) {
        err_set(RESULT_INVALID_STATE, "%s has no recovery point: drover replicate %s runs its "
                "initial copy", name, name);
        return -1;
    }
    if (r->test) {
        err_set(RESULT_IN_USE, "the test system %s reads %s's chain: resync after stop-test",
                r->test->domain, name);
        return -1;
    }
    return 0;
}

/* Adds path (in dir, existing, not listed yet) to the files a resync
 * deletes after its switch. */
static void
repl_plan_remove_add(ReplPlan *p, const char *target, const char *path)
{
    size_t n = strlen(p->dir), i;
    struct stat st;

    if (strncmp(path, p->dir, n) != 0 || path[n] != '/' || strchr(path + n + 1, '/') ||
        lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return;
    for (i = 0; i < p->remove.n; i++)
        if (strcmp(p->remove.v[i].file, path) == 0)
            return;
    replica_disk_list_add(&p->remove, target, path, 0);
}

/* The old chain of a resync: per disk every file from the newest point's
 * layer down to its base, and every point's layer, as far as they exist
 * in the replica's directory (a broken chain is why a resync runs: what
 * cannot be read is skipped, never guessed). */
static void
repl_plan_old_chain(ReplPlan *p, const Replica *r)
{
    const ReplicaPoint *np = replica_newest_point(r);
    size_t i, k;

    for (i = 0; np && i < np->disks.n; i++) {
        Chain *partial = NULL;
        Chain *c = chain_walk_partial(np->disks.v[i].file, &partial);

        err_clear();
        if (!c)
            c = partial;
        else
            chain_free(partial);
        for (k = 0; c && k < c->n; k++)
            repl_plan_remove_add(p, np->disks.v[i].target, c->layers[k].path);
        chain_free(c);
    }
    for (i = 0; i < r->npoints; i++)
        for (k = 0; k < r->points[i].disks.n; k++)
            repl_plan_remove_add(p, r->points[i].disks.v[k].target,
                                 r->points[i].disks.v[k].file);
}

/* The plan of one cycle (or, with resync, a full resync) from the record
 * r of replica d, with the primary open as pc.  Read-only. */
ReplPlan *
repl_plan_build(HvConn *dr, const char *host, const HvDomain *d, DomXml *dx, const Replica *r,
                HvConn *pc, int resync)
{
    ReplPlan *p = util_xcalloc(1, sizeof(*p));
    UTIL_AUTOFREE char *live = NULL;
    DomXml *plive = NULL;
    DomDiskList pdisks = { 0 }, rdisks = { 0 };
    char **cps = NULL;
    HvDomain pd;
    size_t i;
    int n = 0;

    (void)dr;
    memset(&pd, 0, sizeof(pd));
    p->host = util_xstrdup(host);
    p->vm = util_xstrdup(d->name);
    util_strlcpy(p->uuid, d->uuid, sizeof(p->uuid));
    p->primary_uri = util_xstrdup(r->primary_uri);
    p->primary_vm = util_xstrdup(r->primary_name ? r->primary_name : d->name);
    if (!r->repl) {
        err_set(RESULT_NOT_SUPPORTED, "%s is not replicated by drover (its record has no "
                "<replication>): use enable-replication", d->name);
        goto fail;
    }
    if (r->mode != MODE_REPLICA) {
        err_set(RESULT_INVALID_STATE, "%s is in mode %d %s: cycles run on a replica (mode 2)",
                d->name, r->mode, mode_name(r->mode));
        goto fail;
    }
    if (r->journal) {
        err_set(RESULT_INVALID_STATE, "an interrupted %s (job %s) left its journal on %s: "
                "run drover repair %s first", r->journal->op, r->journal->job, d->name, d->name);
        err_hint(RESULT_HINT_REPAIR);
        goto fail;
    }
    if (resync ? repl_check_resync(r, d->name) < 0 : repl_check_state(r, d->name) < 0)
        goto fail;
    if (d->power != HV_POWER_OFF) {
        err_set(RESULT_INVALID_STATE, "the replica %s is %s on the DR host: cycles pause while "
                "it runs (its disks are its own until it is off)", d->name, hv_power_name(d->power));
        goto fail;
    }
    p->dir = util_xstrdup(r->repl->dir);
    p->nbd = r->repl->nbd ? util_xstrdup(r->repl->nbd) : repl_default_nbd(r->primary_uri);
    p->nbd_tls = util_xstrdup(r->repl->tls);
    p->initial = r->npoints == 0;
    p->resync = resync;
    p->from_state = p->initial ? STATE_WAITING_INITIAL : r->state;
    p->to_state = STATE_REPLICATING;

    if (hv_lookup(pc, d->uuid, 1, &pd) < 0) {
        err_prefix("the primary of %s on %s", d->name, r->primary_uri);
        goto fail;
    }
    if (repl_primary_prepared(pd.metadata)) {
        /* Its workload went to the replica: whatever runs there now (an
         * accidental start) is not what the replica must follow. */
        err_set(RESULT_INVALID_STATE, "the primary %s on %s is prepared for a planned failover "
                "(state %d %s): its workload moved to the replica, drover does not replicate "
                "from it (shut it down; reverse replication makes it a replica)", pd.name,
                r->primary_uri, STATE_SYNCED, state_name(STATE_SYNCED));
        goto fail;
    }
    if (pd.power != HV_POWER_RUNNING && pd.power != HV_POWER_PAUSED) {
        err_set(RESULT_INVALID_STATE, "the primary %s on %s is %s: a backup needs it running",
                pd.name, r->primary_uri, hv_power_name(pd.power));
        goto fail;
    }
    if (!(live = hv_get_live_xml(pc, d->uuid)) || !(plive = domxml_parse(live)))
        goto fail;
    domxml_disks(plive, &pdisks);
    if (!(cps = hv_checkpoint_names(pc, d->uuid)))
        goto fail;

    if (p->initial) {
        domxml_disks(dx, &rdisks);
        n = 1;
    } else {
        const ReplicaPoint *np = replica_newest_point(r);

        for (i = 0; i < r->npoints; i++)
            if (repl_point_number(r->points[i].id) > n)
                n = repl_point_number(r->points[i].id);
        n++;
        if (resync) {
            /* A full copy: no checkpoint of the old chain is needed. */
        } else if (!np->checkpoint) {
            err_set(RESULT_INVALID_STATE, "the newest point %s of %s has no checkpoint on the "
                    "primary (drover did not make it): a full resync is needed (drover resync "
                    "%s)", np->id, d->name, d->name);
            goto fail;
        } else if (!repl_strv_has(cps, np->checkpoint)) {
            err_set(RESULT_INVALID_STATE, "checkpoint %s of the newest point %s is missing on the "
                    "primary %s: the changes since it are unknown; a full resync is needed "
                    "(drover resync %s)", np->checkpoint, np->id, r->primary_uri, d->name);
            goto fail;
        }
        if (!resync) {
            p->since = util_xstrdup(np->checkpoint);
            p->since_point = util_xstrdup(np->id);
        }
        for (i = 0; i < np->disks.n; i++) {
            DomDisk *dd = util_xcalloc(1, sizeof(*dd));
            dd->target = util_xstrdup(np->disks.v[i].target);
            dd->source = util_xstrdup(np->disks.v[i].file);
            rdisks.v = util_xrealloc(rdisks.v, (rdisks.n + 1) * sizeof(*rdisks.v));
            rdisks.v[rdisks.n++] = *dd;
            free(dd);
        }
    }
    p->point = util_xasprintf("rp-%04d", n);
    p->checkpoint = util_xasprintf(REPL_CHECKPOINT_PREFIX "%d", n);
    if (!rdisks.n) {
        err_set(RESULT_INCORRECT_TYPE, "%s has no file-backed disk to replicate", d->name);
        goto fail;
    }
    for (i = 0; i < rdisks.n; i++) {
        ReplPlanDisk *pdk = repl_plan_add_disk(p, rdisks.v[i].target);
        size_t k;
        struct stat st;

        for (k = 0; k < pdisks.n; k++)
            if (strcmp(pdisks.v[k].target, rdisks.v[i].target) == 0)
                break;
        if (k == pdisks.n) {
            err_set(RESULT_INVALID_STATE, "disk %s of %s is not on the primary any more: "
                    "replication cannot follow a removed disk (disable-replication, then "
                    "enable-replication again)", rdisks.v[i].target, d->name);
            goto fail;
        }
        if (!pdisks.v[k].source) {
            err_set(RESULT_INVALID_STATE, "disk %s of the primary has no file now", pdk->target);
            goto fail;
        }
        pdk->primary_file = util_xstrdup(pdisks.v[k].source);
        pdk->file = util_xasprintf("%s/%s.%s.qcow2", p->dir, pdk->target, p->point);
        if (p->initial) {
            pdk->base = util_xasprintf("%s/%s.base.qcow2", p->dir, pdk->target);
            pdk->backing = util_xstrdup(pdk->base);
        } else if (resync) {
            /* A new base beside the old chain, named after its first point. */
            pdk->base = util_xasprintf("%s/%s.base.%s.qcow2", p->dir, pdk->target, p->point);
            pdk->backing = util_xstrdup(pdk->base);
            if (lstat(pdk->base, &st) == 0) {
                err_set(RESULT_INVALID_STATE, "%s exists already: an earlier resync of %s did "
                        "not finish; drover will not overwrite it (run drover repair %s)",
                        pdk->base, d->name, d->name);
                goto fail;
            }
        } else {
            ChainHeader h;

            pdk->backing = util_xstrdup(rdisks.v[i].source);
            memset(&h, 0, sizeof(h));
            if (chain_read_header(pdk->backing, &h) < 0) {
                err_prefix("point %s, disk %s", p->since_point, pdk->target);
                goto fail;
            }
            pdk->size = h.virtual_size;
            chain_header_clear(&h);
        }
        if (lstat(pdk->file, &st) == 0) {
            err_set(RESULT_INVALID_STATE, "%s exists already: an earlier cycle of %s did not "
                    "finish; drover will not overwrite it (run drover repair %s, or remove it "
                    "if it is not a recovery point)", pdk->file, d->name, d->name);
            goto fail;
        }
    }
    if (resync)
        repl_plan_old_chain(p, r);
    repl_plan_digest(p);
    domxml_disk_list_clear(&pdisks);
    domxml_disk_list_clear(&rdisks);
    domxml_free(plive);
    hv_strv_free(cps);
    hv_domain_clear(&pd);
    return p;

fail:
    domxml_disk_list_clear(&pdisks);
    domxml_disk_list_clear(&rdisks);
    domxml_free(plive);
    hv_strv_free(cps);
    hv_domain_clear(&pd);
    repl_plan_free(p);
    return NULL;
}

/* The plan of a cycle or (resync) a resync of vm: refusals that need no
 * primary come first (a failed-over replica is refused the same whether
 * the primary answers or not), then the primary is asked. */
static ReplPlan *
repl_plan_read(HvConn *dr, const char *host, const char *vm, int resync)
{
    const char *what = resync ? "resync" : "replication";
    HvDomain d;
    Replica *r = NULL;
    DomXml *dx = NULL;
    HvConn *pc = NULL;
    ReplPlan *p = NULL;

    if (hv_lookup(dr, vm, 0, &d) < 0)
        return NULL;
    if (!(dx = repl_read(dr, d.uuid, d.name, &r, NULL)))
        goto out;
    if (r->journal || (resync ? repl_check_resync(r, d.name) : repl_check_state(r, d.name)) < 0 ||
        d.power != HV_POWER_OFF || !r->repl) {
        err_clear();
        p = repl_plan_build(dr, host, &d, dx, r, NULL, resync);
        goto out;
    }
    if (!(pc = repl_primary_open(r->primary_uri))) {
        err_prefix("%s of %s", what, d.name);
        goto out;
    }
    p = repl_plan_build(dr, host, &d, dx, r, pc, resync);
    /* A resync deletes the old chain after the switch: what would refuse
     * that is refused now, --dry-run too. */
    if (resync && p && p->remove.n &&
        repl_check_removals_on(dr, d.uuid, p->dir, &p->remove) < 0) {
        err_prefix("resync of %s: the old chain could not be deleted after its switch; nothing "
                   "was changed", d.name);
        repl_plan_free(p);
        p = NULL;
    }

out:
    hv_close(pc);
    replica_free(r);
    domxml_free(dx);
    hv_domain_clear(&d);
    return p;
}

ReplPlan *
repl_plan_cycle(HvConn *dr, const char *host, const char *vm)
{
    return repl_plan_read(dr, host, vm, 0);
}

ReplPlan *
repl_plan_resync(HvConn *dr, const char *host, const char *vm)
{
    return repl_plan_read(dr, host, vm, 1);
}

/* Moves the replica's interfaces from the primary's networks or bridges to
 * the DR site's, for the plan and the definition: by --network-map, else
 * by drover.conf's network_map (repl_enable_defaults). */
static int
repl_map_networks(ReplPlan *p, HvConn *dr, DomXml *dx, const ReplEnableArgs *a)
{
    const char *const *entries = a->nnetmap ? a->netmap : a->conf_netmap;
    size_t n = a->nnetmap ? a->nnetmap : a->conf_nnetmap;
    const char *from = a->nnetmap ? a->netmap_from : a->conf_netmap_from;
    DomNetMap *map = util_xcalloc(n + 1, sizeof(*map));
    ConfNetSide *sides = util_xcalloc(2 * n + 1, sizeof(*sides));
    UTIL_AUTOFREE char *where = from ? util_xasprintf("network_map at %s", from)
                                     : util_xstrdup("--network-map");
    size_t i;
    int ret = -1;

    for (i = 0; i < n; i++) {
        if (conf_netmap_parse(entries[i], &sides[2 * i], &sides[2 * i + 1]) < 0) {
            err_prefix("%s", where);
            goto out;
        }
        map[i].from_type = sides[2 * i].type;
        map[i].from = sides[2 * i].name;
        map[i].to_type = sides[2 * i + 1].type;
        map[i].to = sides[2 * i + 1].name;
    }
    domxml_map_networks(dx, map, n, &p->networks);
    for (i = 0; i < n; i++) {
        /* An option names the VM's own interfaces: one that matches none is
         * a mistake.  drover.conf's map is for every VM of the primary. */
        if (!map[i].used && !from) {
            err_set(RESULT_INVALID_PARAMETER, "--network-map %s matches no interface of %s (%s)",
                    entries[i], p->primary_vm, p->networks ? p->networks : "it has none");
            goto out;
        }
        /* A network the DR host does not have would leave the replica
         * unable to start after a failover: say so now. */
        if (map[i].used_network && hv_network_isolated(dr, map[i].to) < 0) {
            err_prefix("%s %s", where, entries[i]);
            goto out;
        }
    }
    p->netmap = util_xcalloc(n + 1, sizeof(*p->netmap));
    p->netmap_used = util_xcalloc(n + 1, sizeof(*p->netmap_used));
    for (i = 0; i < n; i++) {
        p->netmap[i] = util_xstrdup(entries[i]);
        p->netmap_used[i] = map[i].used;
    }
    p->nnetmap = n;
    p->netmap_from = util_xstrdup(from);
    ret = 0;

out:
    for (i = 0; i < 2 * n; i++)
        conf_net_side_clear(&sides[i]);
    free(sides);
    free(map);
    return ret;
}

/* The replica's UEFI variables: a copy of the primary's NVRAM file in the
 * replica directory, named in the replica's definition (the primary's file
 * is only read, at enable).  A primary on another machine: its file cannot
 * be read here (libvirt has no call for it), so the replica's NVRAM starts
 * from the firmware's template, and the plan says so. */
static int
repl_plan_nvram(ReplPlan *p, HvConn *pc, DomXml *dx)
{
    int other = 0;
    UTIL_AUTOFREE char *nv = domxml_nvram(dx, &other);
    struct stat st;

    if (other) {
        err_set(RESULT_NOT_SUPPORTED, "the NVRAM of %s is not a file (a network or block "
                "<nvram>): drover copies only a file", p->primary_vm);
        return -1;
    }
    if (!nv)
        return 0;   /* no UEFI variables, or libvirt names them when it starts the VM */
    p->nvram = util_xasprintf("%s/nvram.fd", p->dir);
    if (lstat(p->nvram, &st) == 0) {
        err_set(RESULT_IN_USE, "%s already exists (of an earlier replica?): drover never writes "
                "over a file it did not make; move it away first", p->nvram);
        return -1;
    }
    if (hv_is_local(pc) != 1) {
        p->nvram_note = util_xasprintf("the primary's %s is on another machine; the replica "
                                       "starts from the firmware's template", nv);
    } else if (stat(nv, &st) < 0 && errno == ENOENT) {
        p->nvram_note = util_xasprintf("the primary's %s does not exist yet (made when it first "
                                       "starts); the replica starts from the firmware's template",
                                       nv);
    } else if (stat(nv, &st) < 0) {
        err_set_errno(0, errno, "the NVRAM of %s (%s)", p->primary_vm, nv);
        return -1;
    } else if (!S_ISREG(st.st_mode)) {
        err_set(RESULT_NOT_SUPPORTED, "the NVRAM of %s (%s) is not a regular file: drover "
                "copies only a file", p->primary_vm, nv);
        return -1;
    } else {
        p->primary_nvram = util_xstrdup(nv);
        p->nvram_size = (uint64_t)st.st_size;
    }
    return domxml_set_nvram(dx, p->nvram);
}

/* Copies the primary's NVRAM to the replica's (never over a file): a
 * temporary name, fsync, rename, the directory fsynced.  Sets *dev, *ino
 * of the copy for an undo.  0 or -1 with err set. */
int
repl_copy_nvram(const ReplPlan *p, dev_t *dev, ino_t *ino)
{
    UTIL_AUTOFREE char *tmp = util_xasprintf("%s/.nvram.fd.tmp-XXXXXX", p->dir);
    UTIL_AUTOFREE char *data = NULL;
    size_t len = 0, off = 0;
    struct stat st;
    int fd = -1, ret = -1;

    /* NVRAM stores are a few MiB at most. */
    if (!(data = fsutil_read_file(p->primary_nvram, 64u << 20, &len))) {
        err_prefix("cannot read the primary's NVRAM");
        return -1;
    }
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
        err_set_errno(0, errno, "cannot create a temporary file in %s", p->dir);
        return -1;
    }
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err_set_errno(0, errno, "cannot write %s", tmp);
            goto out;
        }
        off += (size_t)n;
    }
    if (fchmod(fd, 0600) < 0 || fsync(fd) < 0 || fstat(fd, &st) < 0) {
        err_set_errno(0, errno, "cannot write %s", tmp);
        goto out;
    }
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, p->nvram, RENAME_NOREPLACE) < 0) {
        err_set_errno(0, errno, "cannot rename %s to %s", tmp, p->nvram);
        goto out;
    }
    tmp[0] = '\0';
    *dev = st.st_dev;
    *ino = st.st_ino;
    ret = fsutil_fsync_dir(p->dir);
out:
    close(fd);
    if (tmp[0])
        unlink(tmp);    /* our own temporary file, never renamed */
    return ret;
}

void
repl_enable_defaults(const Conf *conf, ReplEnableArgs *a)
{
    UTIL_AUTOFREE char *host = a->from ? repl_uri_host(a->from) : NULL;
    /* The replica's group, then the primary's, then replication_*: each
     * setting from the first that has it. */
    const ConfRepl *g[2];
    size_t i;

    g[0] = a->vm ? conf_repl_find(conf, a->from, host, a->vm) : NULL;
    g[1] = conf_repl_find(conf, a->from, host, NULL);
    a->interval = conf->repl_interval;
    a->points = conf->repl_points;
    a->app_every = conf->repl_app_every;
    a->nbd = NULL;
    a->nbd_tls = NULL;
    a->conf_netmap = NULL;
    a->conf_nnetmap = 0;
    a->conf_netmap_from = NULL;
    for (i = 2; i-- > 0;) {
        if (!g[i])
            continue;
        if (g[i]->interval >= 0)
            a->interval = g[i]->interval;
        if (g[i]->points >= 0)
            a->points = g[i]->points;
        if (g[i]->app_every >= 0)
            a->app_every = g[i]->app_every;
        if (g[i]->nbd)
            a->nbd = g[i]->nbd;
        if (g[i]->nbd_tls)
            a->nbd_tls = g[i]->nbd_tls;
        if (g[i]->netmap) {
            a->conf_netmap = (const char *const *)g[i]->netmap;
            a->conf_nnetmap = g[i]->nnetmap;
            a->conf_netmap_from = g[i]->netmap_from;
        }
    }
}

ReplPlan *
repl_plan_enable(HvConn *dr, const char *host, const ReplEnableArgs *a)
{
    ReplPlan *p = util_xcalloc(1, sizeof(*p));
    UTIL_AUTOFREE char *xml = NULL;
    UTIL_AUTOFREE char *md = NULL;
    UTIL_AUTOFREE char *phost = NULL;
    DomDiskList disks = { 0 };
    const char **keep = NULL;
    HvConn *pc = NULL;
    DomXml *dx = NULL;
    Replica *rec = NULL;
    HvDomain pd, other;
    size_t i;

    memset(&pd, 0, sizeof(pd));
    memset(&other, 0, sizeof(other));
    p->enable = p->initial = 1;
    p->host = util_xstrdup(host);
    p->primary_uri = util_xstrdup(a->from);
    p->from_state = STATE_READY;
    p->to_state = STATE_REPLICATING;
    if (!a->from || !*a->from) {
        err_set(RESULT_INVALID_PARAMETER, "enable-replication needs --from PRIMARY_URI");
        goto fail;
    }
    if (a->dir && !util_path_is_clean_absolute(a->dir)) {
        err_set(RESULT_INVALID_PARAMETER, "--dir %s is not a clean absolute path", a->dir);
        goto fail;
    }
    if (a->nbd && strncmp(a->nbd, "unix:/", 6) != 0 &&
        (!strrchr(a->nbd, ':') || strrchr(a->nbd, ':') == a->nbd || !strrchr(a->nbd, ':')[1])) {
        err_set(RESULT_INVALID_PARAMETER, "--nbd %s is neither HOST:PORT nor unix:PATH", a->nbd);
        goto fail;
    }
    if (hv_is_local(dr) == 0) {
        err_set(RESULT_NOT_SUPPORTED, "drover writes the replica's files itself: run it on the "
                "DR host (%s is another machine)", hv_uri(dr));
        goto fail;
    }
    if (!(pc = repl_primary_open(a->from)))
        goto fail;
    if (hv_lookup(pc, a->vm, 0, &pd) < 0) {
        err_prefix("on the primary %s", a->from);
        goto fail;
    }
    p->primary_vm = util_xstrdup(pd.name);
    util_strlcpy(p->uuid, pd.uuid, sizeof(p->uuid));
    p->vm = util_xstrdup(a->name ? a->name : pd.name);
    if (hv_lookup(dr, pd.uuid, 0, &other) == 0 || (hv_domain_clear(&other), 0) ||
        hv_lookup(dr, p->vm, 0, &other) == 0) {
        err_set(RESULT_IN_USE, "the DR host %s already has a domain %s (UUID %s): replication "
                "is enabled once; remove it first or choose --name", hv_uri(dr), other.name,
                other.uuid);
        goto fail;
    }
    if (err_code() != RESULT_INVALID_PARAMETER) {
        err_prefix("on the DR host %s", hv_uri(dr));
        goto fail;
    }
    err_clear();
    p->dir = a->dir ? util_xstrdup(a->dir)
                    : util_xasprintf("%s/lib/drover/%s", LOCALSTATEDIR, p->vm);
    if (!util_path_is_clean_absolute(p->dir)) {
        err_set(RESULT_INVALID_PARAMETER, "the replica directory %s is not a clean absolute path",
                p->dir);
        goto fail;
    }
    p->nbd = a->nbd ? util_xstrdup(a->nbd) : repl_default_nbd(a->from);
    if (a->nbd_tls && strncmp(p->nbd, "unix:", 5) == 0) {
        err_set(RESULT_INVALID_PARAMETER, "NBD over TLS (nbd_tls %s) is for TCP: the export at "
                "%s is a unix socket", a->nbd_tls, p->nbd);
        goto fail;
    }
    if (a->nbd_tls && !util_path_is_clean_absolute(a->nbd_tls)) {
        err_set(RESULT_INVALID_PARAMETER, "nbd_tls %s is not a clean absolute path", a->nbd_tls);
        goto fail;
    }
    p->nbd_tls = util_xstrdup(a->nbd_tls);
    p->point = util_xstrdup("rp-0001");
    p->checkpoint = util_xstrdup(REPL_CHECKPOINT_PREFIX "1");

    if (!(xml = hv_get_xml(pc, pd.uuid)) || !(dx = domxml_parse(xml)))
        goto fail;
    domxml_disks(dx, &disks);
    if (!disks.n) {
        err_set(RESULT_NOT_SUPPORTED, "%s has no file-backed disk: nothing to replicate", pd.name);
        goto fail;
    }
    keep = util_xcalloc(disks.n + 1, sizeof(*keep));
    for (i = 0; i < disks.n; i++) {
        ReplPlanDisk *d;
        size_t k;

        if (!disks.v[i].driver_type || strcmp(disks.v[i].driver_type, "qcow2") != 0) {
            err_set(RESULT_NOT_SUPPORTED, "disk %s of %s is %s, not qcow2: libvirt keeps "
                    "checkpoints (changed-block bitmaps) only in qcow2 images", disks.v[i].target,
                    pd.name, disks.v[i].driver_type ? disks.v[i].driver_type : "of no declared format");
            goto fail;
        }
        if (!disks.v[i].source) {
            err_set(RESULT_NOT_SUPPORTED, "disk %s of %s has no file", disks.v[i].target, pd.name);
            goto fail;
        }
        if (!*disks.v[i].target || strchr(disks.v[i].target, '/')) {
            err_set(RESULT_INCORRECT_TYPE, "a disk of %s has no usable target name", pd.name);
            goto fail;
        }
        for (k = 0; k < i; k++)
            if (strcmp(disks.v[k].target, disks.v[i].target) == 0)
                break;
        if (k < i) {
            err_set(RESULT_INCORRECT_TYPE, "two disks of %s have target %s", pd.name,
                    disks.v[i].target);
            goto fail;
        }
        d = repl_plan_add_disk(p, disks.v[i].target);
        d->primary_file = util_xstrdup(disks.v[i].source);
        d->base = util_xasprintf("%s/%s.base.qcow2", p->dir, d->target);
        d->backing = util_xstrdup(d->base);
        d->file = util_xasprintf("%s/%s.rp-0001.qcow2", p->dir, d->target);
        if (domxml_set_disk_source(dx, d->target, d->base) < 0)
            goto fail;
        keep[i] = disks.v[i].target;
    }
    /* Disks that are not replicated (not file-backed qcow2 disks) would be
     * shared with the primary, or missing here: the replica has none. */
    domxml_drop_disks_except(dx, keep, disks.n);
    if (repl_plan_nvram(p, pc, dx) < 0)
        goto fail;
    if (repl_map_networks(p, dr, dx, a) < 0)
        goto fail;
    if (a->name)
        domxml_set_name(dx, a->name);
    rec = replica_new();
    rec->mode = MODE_REPLICA;
    rec->state = STATE_READY;
    phost = repl_uri_host(a->from);
    rec->primary_host = util_xstrdup(phost ? phost : "localhost");
    rec->primary_uri = util_xstrdup(a->from);
    rec->primary_name = util_xstrdup(pd.name);
    rec->repl = util_xcalloc(1, sizeof(*rec->repl));
    rec->repl->dir = util_xstrdup(p->dir);
    rec->repl->nbd = util_xstrdup(p->nbd);
    rec->repl->tls = util_xstrdup(p->nbd_tls);
    rec->repl->interval = p->interval = a->interval;
    rec->repl->points = p->points = a->points;
    rec->repl->app_every = p->app_every = a->app_every;
    if (replica_validate(rec) < 0)
        goto fail;
    md = replica_format(rec);
    if (!md || domxml_set_replica(dx, md) < 0)
        goto fail;
    p->domxml = domxml_format(dx);
    repl_plan_digest(p);
    goto out;

fail:
    repl_plan_free(p);
    p = NULL;
out:
    free(keep);
    domxml_disk_list_clear(&disks);
    domxml_free(dx);
    replica_free(rec);
    hv_domain_clear(&pd);
    hv_domain_clear(&other);
    hv_close(pc);
    return p;
}
