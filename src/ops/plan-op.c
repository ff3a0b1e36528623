/* SPDX-License-Identifier: GPL-2.0-or-later */
/* plan-op: each operation's plan: what failover, revert, commit,
 * test-failover and stop-test create, delete, keep and switch, the
 * recovery point they use and the names of the new files. */
#include <config.h>

#include "ops/plan.h"
#include "ops/plan-priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"
#include "chain/chain.h"
#include "hv/domxml.h"
#include "ops/job.h"

static void
plan_file_add(PlanFileList *l, const char *path, const char *target, const char *role,
              const char *backing)
{
    PlanFile *f;

    l->v = util_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
    f = &l->v[l->n++];
    memset(f, 0, sizeof(*f));
    f->path = util_xstrdup(path);
    f->target = util_xstrdup(target);
    f->role = util_xstrdup(role);
    f->backing = util_xstrdup(backing);
}

static int
plan_has_path(const PlanFileList *l, const char *path)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        if (strcmp(l->v[i].path, path) == 0)
            return 1;
    return 0;
}

/* Records identity and size of an existing file (not following a
 * symlink): 32779 if it is gone. */
static int
plan_file_stat(PlanFile *f)
{
    struct stat st;

    if (lstat(f->path, &st) < 0) {
        err_set_errno(0, errno, "%s %s", f->role, f->path);
        return -1;
    }
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->size = (uint64_t)st.st_size;
    f->allocated = (uint64_t)st.st_blocks * 512;
    return 0;
}

static void
plan_add_switch(Plan *p, const char *target, const char *from, const char *to)
{
    PlanSwitch *s;

    p->switches = util_xrealloc(p->switches, (p->nswitches + 1) * sizeof(*p->switches));
    s = &p->switches[p->nswitches++];
    s->target = util_xstrdup(target);
    s->from = util_xstrdup(from);
    s->to = util_xstrdup(to);
}

/* Adds every layer of the chain under top to keep (recovery points are
 * named by their record role, other layers as "backing layer"). */
static int
plan_keep_chain_as(Plan *p, const char *top, const char *target, const char *top_role);

static int
plan_keep_chain(Plan *p, const char *top, const char *target)
{
    return plan_keep_chain_as(p, top, target, NULL);
}

/* As plan_keep_chain, naming the top layer top_role (when not NULL). */
static int
plan_keep_chain_as(Plan *p, const char *top, const char *target, const char *top_role)
{
    Chain *c = chain_walk(top);
    size_t i, k;

    if (!c) {
        err_prefix("chain of disk %s", target);
        return -1;
    }
    for (i = 0; i < c->n; i++) {
        const ChainLayer *l = &c->layers[i];
        char role[128];

        if (plan_has_path(&p->keep, l->path) || plan_has_path(&p->remove, l->path))
            continue;
        snprintf(role, sizeof(role), "%s", i == 0 && top_role ? top_role :
                 i + 1 == c->n ? "base" : "backing layer");
        for (k = 0; k < p->rec->npoints; k++) {
            const ReplicaDisk *d = replica_disk_list_find(&p->rec->points[k].disks, target);
            if (d && strcmp(d->file, l->path) == 0)
                snprintf(role, sizeof(role), "recovery point %s", p->rec->points[k].id);
        }
        plan_file_add(&p->keep, l->path, target, role, NULL);
        p->keep.v[p->keep.n - 1].size = l->file_size;
        p->keep.v[p->keep.n - 1].allocated = l->allocated;
        p->keep.v[p->keep.n - 1].dev = l->dev;
        p->keep.v[p->keep.n - 1].ino = l->ino;
    }
    chain_free(c);
    return 0;
}

/* Keeps every recovery point file of every disk (and their chains). */
static int
plan_keep_points(Plan *p)
{
    size_t k, i;

    for (k = p->rec->npoints; k-- > 0; ) {
        const ReplicaPoint *pt = &p->rec->points[k];
        for (i = 0; i < pt->disks.n; i++) {
            if (plan_has_path(&p->remove, pt->disks.v[i].file) ||
                plan_has_path(&p->keep, pt->disks.v[i].file))
                continue;
            if (plan_keep_chain(p, pt->disks.v[i].file, pt->disks.v[i].target) < 0)
                return -1;
        }
    }
    return 0;
}

static const ReplicaPoint *
plan_pick_point(Plan *p, const char *id)
{
    const ReplicaPoint *pt;

    if (p->rec->npoints == 0) {
        err_set(RESULT_INVALID_STATE, "%s has no recovery points yet", p->vm);
        return NULL;
    }
    pt = id ? replica_find_point(p->rec, id) : replica_newest_point(p->rec);
    if (!pt) {
        UtilBuf b = { 0 };
        size_t k;
        for (k = 0; k < p->rec->npoints; k++)
            util_buf_printf(&b, "%s%s", k ? ", " : "", p->rec->points[k].id);
        err_set(RESULT_INVALID_PARAMETER, "%s has no recovery point %s (it has: %s)", p->vm, id,
                b.s ? b.s : "none");
        util_buf_free(&b);
        return NULL;
    }
    return pt;
}

/* Checks the recovery point's files are there and readable as chains. */
static int
plan_check_point(Plan *p, const ReplicaPoint *pt)
{
    size_t i;

    for (i = 0; i < pt->disks.n; i++) {
        Chain *c = chain_walk(pt->disks.v[i].file);
        if (!c) {
            err_prefix("recovery point %s of %s, disk %s", pt->id, p->vm, pt->disks.v[i].target);
            return -1;
        }
        chain_free(c);
    }
    return 0;
}

static char *
plan_new_name(const Plan *p, const char *rpfile, const char *target, const char *kind)
{
    UTIL_AUTOFREE char *dir = util_dirname(rpfile);
    return util_xasprintf("%s/%s.%s-%s.qcow2", dir, target, kind, p->stamp);
}

/* New overlays on point pt, one per disk. */
/* A new file's name must be free: drover never overwrites a file, and an
 * operation that failed must not mistake someone else's file for its own. */
static int
plan_check_new(const char *path)
{
    struct stat st;

    if (lstat(path, &st) == 0) {
        err_set(RESULT_INVALID_STATE,
                "%s already exists; drover will not overwrite it (another operation in the same "
                "second?): try again in a moment, or look at what the file is", path);
        return -1;
    }
    return 0;
}

static int
plan_overlays(Plan *p, const ReplicaPoint *pt, const char *kind, const char *role)
{
    size_t i;

    for (i = 0; i < pt->disks.n; i++) {
        UTIL_AUTOFREE char *path = plan_new_name(p, pt->disks.v[i].file, pt->disks.v[i].target, kind);
        ChainHeader h;

        if (plan_check_new(path) < 0)
            return -1;
        plan_file_add(&p->create, path, pt->disks.v[i].target, role, pt->disks.v[i].file);
        memset(&h, 0, sizeof(h));
        if (chain_read_header(pt->disks.v[i].file, &h) == 0)
            p->create.v[p->create.n - 1].size = h.virtual_size;
        else
            err_clear();    /* plan_check_point reports a bad header */
        chain_header_clear(&h);
    }
    return 0;
}

int
plan_initiate(Plan *p, const PlanArgs *a, const DomDiskList *disks)
{
    const ReplicaPoint *pt = plan_pick_point(p, a ? a->point : NULL);
    size_t i;

    if (!pt)
        return -1;
    if (p->power != HV_POWER_OFF) {
        err_set(RESULT_INVALID_STATE,
                "%s is %s: a replica must be off to fail over (it is started after failover)",
                p->vm, hv_power_name(p->power));
        return -1;
    }
    if (plan_check_point(p, pt) < 0)
        return -1;
    p->point = util_xstrdup(pt->id);
    if (plan_overlays(p, pt, "failover", "failover disk") < 0)
        return -1;
    for (i = 0; i < p->create.n; i++)
        plan_add_switch(p, p->create.v[i].target, plan_source_of(disks, p->create.v[i].target),
                        p->create.v[i].path);
    return plan_keep_points(p);
}

int
plan_revert(Plan *p)
{
    const ReplicaPoint *newest = replica_newest_point(p->rec);
    size_t i;

    if (!newest) {
        err_set(RESULT_INVALID_STATE, "%s has no recovery point to return to", p->vm);
        return -1;
    }
    if (p->rec->failover) {
        p->point = util_xstrdup(p->rec->failover->point);
        for (i = 0; i < p->rec->failover->disks.n; i++) {
            const ReplicaDisk *d = &p->rec->failover->disks.v[i];
            plan_file_add(&p->remove, d->file, d->target, "failover disk", NULL);
            if (plan_file_stat(&p->remove.v[p->remove.n - 1]) < 0)
                return -1;
        }
    }
    if (plan_check_point(p, newest) < 0)
        return -1;
    for (i = 0; i < newest->disks.n; i++) {
        const ReplicaDisk *d = &newest->disks.v[i];
        const ReplicaDisk *fd = p->rec->failover ? replica_disk_list_find(&p->rec->failover->disks, d->target) : NULL;
        plan_add_switch(p, d->target, fd ? fd->file : NULL, d->file);
    }
    if (p->power != HV_POWER_OFF)
        p->power_action = PLAN_POWER_SHUTDOWN;
    return plan_keep_points(p);
}

int
plan_commit(Plan *p, const PlanArgs *a)
{
    const ReplicaPoint *k = replica_find_point(p->rec, p->rec->failover->point);
    size_t i, j;

    if (!k) {
        err_set(RESULT_INCORRECT_TYPE, "the failover record names point %s, which is not listed",
                p->rec->failover->point);
        return -1;
    }
    if (p->rec->test) {
        err_set(RESULT_INVALID_STATE,
                "%s has a test failover (%s) running on its recovery points: stop it first (drover stop-test %s)",
                p->vm, p->rec->test->domain, p->vm);
        return -1;
    }
    p->point = util_xstrdup(k->id);
    p->flatten = a && a->flatten;
    if (p->flatten && p->power != HV_POWER_OFF) {
        err_set(RESULT_INVALID_STATE,
                "%s is %s: commit --flatten rewrites the layers under its disk and needs it off; "
                "shut it down or commit without --flatten", p->vm, hv_power_name(p->power));
        return -1;
    }
    /* Newer points than k leave the record and are deleted. */
    for (j = 0; j < p->rec->npoints; j++) {
        const ReplicaPoint *pt = &p->rec->points[j];
        char role[128];

        if (pt == k || pt->time < k->time || (pt->time == k->time && j < (size_t)(k - p->rec->points)))
            continue;
        snprintf(role, sizeof(role), "recovery point %s (newer than %s)", pt->id, k->id);
        for (i = 0; i < pt->disks.n; i++) {
            plan_file_add(&p->remove, pt->disks.v[i].file, pt->disks.v[i].target, role, NULL);
            if (plan_file_stat(&p->remove.v[p->remove.n - 1]) < 0)
                return -1;
        }
    }
    if (p->flatten) {
        /* One standalone image per disk replaces k and every layer below. */
        for (i = 0; i < k->disks.n; i++) {
            const ReplicaDisk *d = &k->disks.v[i];
            UTIL_AUTOFREE char *flat = plan_new_name(p, d->file, d->target, "flat");
            Chain *c = chain_walk(d->file);
            size_t l;

            if (!c) {
                err_prefix("recovery point %s, disk %s", k->id, d->target);
                return -1;
            }
            if (plan_check_new(flat) < 0) {
                chain_free(c);
                return -1;
            }
            plan_file_add(&p->create, flat, d->target, "flattened image", d->file);
            p->create.v[p->create.n - 1].size = c->layers[0].virtual_size;
            for (l = 0; l < c->n; l++) {
                PlanFile *f;
                if (plan_has_path(&p->remove, c->layers[l].path))
                    continue;
                plan_file_add(&p->remove, c->layers[l].path, d->target,
                              l == 0 ? "recovery point (merged)" :
                              l + 1 == c->n ? "base (merged)" : "older layer (merged)", NULL);
                f = &p->remove.v[p->remove.n - 1];
                f->size = c->layers[l].file_size;
                f->allocated = c->layers[l].allocated;
                f->dev = c->layers[l].dev;
                f->ino = c->layers[l].ino;
            }
            chain_free(c);
        }
    }
    /* The failover disks stay: they are the VM's disks from now on. */
    for (i = 0; i < p->rec->failover->disks.n; i++) {
        const ReplicaDisk *d = &p->rec->failover->disks.v[i];
        if (p->flatten) {
            plan_file_add(&p->keep, d->file, d->target, "failover disk (kept, rebased)", NULL);
            if (plan_file_stat(&p->keep.v[p->keep.n - 1]) < 0)
                return -1;
        } else if (plan_keep_chain_as(p, d->file, d->target, "failover disk (kept)") < 0) {
            return -1;
        }
    }
    return 0;
}

/* The test system gets its own copy of the replica's NVRAM, in the
 * replica directory: the replica's file is never written or deleted. */
static int
plan_test_nvram(Plan *p, const DomXml *dx)
{
    int other = 0;
    UTIL_AUTOFREE char *nv = domxml_nvram(dx, &other);
    UTIL_AUTOFREE char *copy = NULL;
    struct stat st;
    PlanFile *f;

    if (other) {
        err_set(RESULT_NOT_SUPPORTED,
                "the NVRAM of %s is not a file (a network or block <nvram>): drover cannot give "
                "the test system a copy of its own, and will not let it share the replica's",
                p->vm);
        return -1;
    }
    if (!nv)
        return 0;
    if (lstat(nv, &st) < 0) {
        err_set_errno(0, errno, "the NVRAM of %s (%s): the test system starts with a copy of it",
                      p->vm, nv);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        err_set(RESULT_NOT_SUPPORTED, "the NVRAM of %s (%s) is not a regular file: drover cannot "
                "give the test system a copy of its own", p->vm, nv);
        return -1;
    }
    copy = util_xasprintf("%s/nvram.test-%s.fd", p->dir, p->stamp);
    if (plan_check_new(copy) < 0)
        return -1;
    plan_file_add(&p->create, copy, "nvram", "test system NVRAM (a copy of the replica's)", nv);
    f = &p->create.v[p->create.n - 1];
    f->size = (uint64_t)st.st_size;
    f->copy = 1;
    plan_file_add(&p->keep, nv, "nvram", "replica NVRAM (copied, never written)", NULL);
    return plan_file_stat(&p->keep.v[p->keep.n - 1]);
}

int
plan_test(Plan *p, HvConn *c, const PlanArgs *a, const DomXml *dx)
{
    const ReplicaPoint *pt = plan_pick_point(p, a ? a->point : NULL);
    HvDomain other;
    const char **keep;
    size_t i;

    if (!pt)
        return -1;
    if (plan_check_point(p, pt) < 0)
        return -1;
    p->point = util_xstrdup(pt->id);
    p->test_domain = util_xasprintf("%s-test", p->vm);
    if (hv_lookup(c, p->test_domain, 0, &other) == 0) {
        err_set(RESULT_INVALID_STATE, "a domain named %s already exists on %s; remove or rename it first",
                p->test_domain, p->host);
        hv_domain_clear(&other);
        return -1;
    }
    if (err_code() != RESULT_INVALID_PARAMETER)
        return -1;
    err_clear();
    if (a && a->test_uuid)
        util_strlcpy(p->test_uuid, a->test_uuid, sizeof(p->test_uuid));
    else
        job_new_uuid(p->test_uuid);
    if (plan_overlays(p, pt, "test", "test disk") < 0)
        return -1;
    /* Disks the record does not replicate (any type: file, block, network)
     * stay out of the test system (domxml_drop_disks_except), so it never
     * shares a writable disk; so do its network interfaces: the plan names
     * each, with what it was (a boot order moves to another device). */
    keep = util_xcalloc(pt->disks.n + 1, sizeof(*keep));
    for (i = 0; i < pt->disks.n; i++)
        keep[i] = pt->disks.v[i].target;
    if (a && a->test_network) {
        /* Only an isolated network: a test system that could reach the
         * production network would answer as the VM it copies. */
        int iso = hv_network_isolated(c, a->test_network);

        if (iso < 0) {
            free(keep);
            err_prefix("--test-network");
            return -1;
        }
        if (!iso) {
            free(keep);
            err_set(RESULT_INVALID_PARAMETER, "--test-network %s: that network forwards beyond the host "
                    "(it has a <forward>), so the test system could reach the production network; name "
                    "an isolated network (no <forward>)", a->test_network);
            return -1;
        }
        p->test_network = util_xstrdup(a->test_network);
        p->test_omitted = domxml_test_omissions_but_interfaces(dx, keep, pt->disks.n);
    } else {
        p->test_omitted = domxml_test_omissions(dx, keep, pt->disks.n);
    }
    free(keep);
    if (plan_test_nvram(p, dx) < 0)
        return -1;
    return plan_keep_points(p);
}

int
plan_stop_test(Plan *p, HvConn *c)
{
    const ReplicaTest *t = p->rec->test;
    HvDomain td;
    size_t i;

    p->point = util_xstrdup(t->point);
    p->test_domain = util_xstrdup(t->domain);
    if (t->uuid)
        util_strlcpy(p->test_uuid, t->uuid, sizeof(p->test_uuid));
    if (hv_lookup(c, t->uuid ? t->uuid : t->domain, 0, &td) == 0) {
        util_strlcpy(p->test_uuid, td.uuid, sizeof(p->test_uuid));
        if (td.power != HV_POWER_OFF)
            p->power_action = PLAN_POWER_DESTROY;
        hv_domain_clear(&td);
    } else if (err_code() == RESULT_INVALID_PARAMETER) {
        err_clear();    /* already gone: only its disks remain */
    } else {
        return -1;
    }
    for (i = 0; i < t->disks.n; i++) {
        plan_file_add(&p->remove, t->disks.v[i].file, t->disks.v[i].target, "test disk", NULL);
        if (plan_file_stat(&p->remove.v[p->remove.n - 1]) < 0)
            return -1;
    }
    if (t->nvram) {
        plan_file_add(&p->remove, t->nvram, "nvram", "test system NVRAM", NULL);
        if (plan_file_stat(&p->remove.v[p->remove.n - 1]) < 0)
            return -1;
    }
    return plan_keep_points(p);
}
