/* SPDX-License-Identifier: GPL-2.0-or-later */
/* plan: what an operation will do, computed read-only, with a digest. */
#include <config.h>

#include "ops/plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <nettle/base16.h>
#include <nettle/sha2.h>

#include "chain/chain.h"
#include "hv/domxml.h"
#include "base/err.h"
#include "ops/health.h"
#include "ops/job.h"
#include "base/lock.h"
#include "base/result.h"
#include "base/util.h"

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

void
plan_file_list_clear(PlanFileList *l)
{
    size_t i;

    if (!l)
        return;
    for (i = 0; i < l->n; i++) {
        free(l->v[i].path);
        free(l->v[i].target);
        free(l->v[i].role);
        free(l->v[i].backing);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
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

void
plan_free(Plan *p)
{
    size_t i;

    if (!p)
        return;
    free(p->host);
    free(p->vm);
    free(p->point);
    free(p->dir);
    free(p->test_domain);
    free(p->test_omitted);
    free(p->test_network);
    free(p->guard_text);
    plan_file_list_clear(&p->create);
    plan_file_list_clear(&p->remove);
    plan_file_list_clear(&p->keep);
    for (i = 0; i < p->nswitches; i++) {
        free(p->switches[i].target);
        free(p->switches[i].from);
        free(p->switches[i].to);
    }
    free(p->switches);
    replica_free(p->rec);
    free(p->domxml);
    free(p);
}

const char *
plan_guard_name(int guard)
{
    switch (guard) {
    case PLAN_GUARD_NOT_ASKED: return "not-asked";
    case PLAN_GUARD_UNREACHABLE: return "unreachable";
    case PLAN_GUARD_ABSENT: return "absent";
    case PLAN_GUARD_STOPPED: return "off";
    case PLAN_GUARD_OVERRIDDEN: return "overridden";
    case PLAN_GUARD_RUNNING: return "running";
    default: return NULL;
    }
}

int
plan_primary_state(HvConn *c, const Replica *r, const char *uuid, int timeout_s, int *power,
                   char **text)
{
    const char *uri = r->primary_uri;
    const char *host = r->primary_host ? r->primary_host : uri;
    const char *name = r->primary_name ? r->primary_name : uuid;

    *power = HV_POWER_UNKNOWN;
    if (!uri) {
        *text = util_xstrdup("the record names no primary URI: the split-brain guard could not ask "
                             "whether the primary runs");
        return PLAN_GUARD_NOT_ASKED;
    }
    /* A DR host on libvirt's test driver is a demo or a test fleet: only a
     * primary on the test driver too is there to ask. */
    if (strncmp(hv_uri(c), "test:", 5) == 0 && strncmp(uri, "test:", 5) != 0) {
        *text = util_xasprintf("primary %s (%s) not asked: %s is libvirt's test driver, its primary "
                               "is not real", host, uri, hv_uri(c));
        return PLAN_GUARD_NOT_ASKED;
    }
    if (hv_probe_power(uri, name, timeout_s, power) < 0) {
        int absent = err_code() == RESULT_INVALID_PARAMETER;

        *text = absent ? util_xasprintf("primary %s has no VM %s: nothing runs there to clash with",
                                        host, name)
                       : util_xasprintf("primary %s unreachable: failing over without knowing its "
                                        "state (%s)", host, err_message());
        err_clear();
        return absent ? PLAN_GUARD_ABSENT : PLAN_GUARD_UNREACHABLE;
    }
    if (*power == HV_POWER_OFF || *power == HV_POWER_CRASHED) {
        *text = util_xasprintf("primary %s on %s is %s", name, host, hv_power_name(*power));
        return PLAN_GUARD_STOPPED;
    }
    *text = util_xasprintf("primary %s on %s is %s", name, host, hv_power_name(*power));
    return PLAN_GUARD_RUNNING;
}

/* The split-brain guard: a failover while the primary VM still runs would
 * run the workload twice, writing to two diverging copies.  Asks the
 * primary's libvirt; refuses (32775) while it runs, unless forced.  A host
 * that does not answer is a disaster the failover is for: it proceeds and
 * the plan says it failed over blind. */
static int
plan_guard(Plan *p, HvConn *c, const PlanArgs *args)
{
    const Replica *r = p->rec;
    UTIL_AUTOFREE char *text = NULL;
    int g = plan_primary_state(c, r, p->uuid, PLAN_GUARD_TIMEOUT, &p->primary_power, &text);

    p->force = args && args->force;
    if (g != PLAN_GUARD_RUNNING) {
        p->guard = g;
        p->guard_text = util_xstrdup(text);
        return 0;
    }
    if (!p->force) {
        err_set(RESULT_INVALID_STATE,
                "failover of %s refused: its %s (asked %s), and failing over now would run it twice "
                "(split brain); shut the primary down first, or use --planned (drover shuts it down "
                "and takes a final point: no data lost), or --force --reason TEXT if you know it "
                "is cut off",
                p->vm, text, r->primary_uri);
        err_hint(RESULT_HINT_PRIMARY_RUNS);
        return -1;
    }
    p->guard = PLAN_GUARD_OVERRIDDEN;
    p->guard_text = util_xasprintf("%s: the split-brain guard is overridden (--force)", text);
    return 0;
}

const char *
plan_power_action_text(int action)
{
    switch (action) {
    case PLAN_POWER_SHUTDOWN: return "shut down (forced off after the timeout)";
    case PLAN_POWER_DESTROY: return "power off at once";
    default: return "none";
    }
}

char *
plan_lock_path(const Plan *p)
{
    return replica_lock_path(p->rec, p->uuid);
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

static const char *
plan_source_of(const DomDiskList *disks, const char *target)
{
    size_t i;

    for (i = 0; i < disks->n; i++)
        if (strcmp(disks->v[i].target, target) == 0)
            return disks->v[i].source;
    return NULL;
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

static int
plan_driver_is_qcow2(const DomDiskList *disks, const char *target)
{
    size_t i;

    for (i = 0; i < disks->n; i++)
        if (strcmp(disks->v[i].target, target) == 0)
            return util_streq(disks->v[i].driver_type, "qcow2");
    return 0;
}

/* Domain disks must be where the record says, for the given state, be
 * file disks, and be given to the guest as qcow2. */
static int
plan_check_sources(Plan *p, const DomDiskList *disks)
{
    const ReplicaPoint *first = p->rec->npoints ? &p->rec->points[0] : NULL;
    size_t i, k;

    if (!first)
        return 0;
    for (i = 0; i < first->disks.n; i++) {
        const char *target = first->disks.v[i].target;
        const char *src = plan_source_of(disks, target);
        int ok = 0;

        if (!src) {
            for (k = 0; k < disks->nother; k++) {
                if (strcmp(disks->other[k].target, target) == 0) {
                    err_set(RESULT_NOT_SUPPORTED,
                            "disk %s of %s is a %s, not a file disk: drover fails over qcow2 "
                            "file disks only, and the replica record lists it", target, p->vm,
                            disks->other[k].kind);
                    return -1;
                }
            }
            err_set(RESULT_INVALID_STATE,
                    "the domain has no file disk %s, which the replica record lists", target);
            return -1;
        }
        if (!plan_driver_is_qcow2(disks, target)) {
            char *why = health_driver_text(disks, target, src);
            err_set(RESULT_INCORRECT_TYPE, "%s of %s", why, p->vm);
            free(why);
            return -1;
        }
        if (p->rec->failover) {
            const ReplicaDisk *fd = replica_disk_list_find(&p->rec->failover->disks, target);
            ok = fd && strcmp(fd->file, src) == 0;
        } else {
            for (k = 0; k < p->rec->npoints && !ok; k++) {
                const ReplicaDisk *d = replica_disk_list_find(&p->rec->points[k].disks, target);
                ok = d && strcmp(d->file, src) == 0;
            }
        }
        if (!ok) {
            err_set(RESULT_INVALID_STATE,
                    "disk %s of %s uses %s, which is not %s the record names; run drover check %s",
                    target, p->vm, src, p->rec->failover ? "the failover disk" : "a recovery point",
                    p->vm);
            return -1;
        }
    }
    return 0;
}

/* 1 when an image of the chain under top says it is encrypted (qcow2
 * crypt_method), 0 when none does, -1 when it cannot be read. */
static int
plan_chain_encrypted(const char *top, char **layer)
{
    Chain *c = chain_walk(top);
    size_t i;
    int r = 0;

    if (!c)
        return -1;
    for (i = 0; i < c->n && !r; i++) {
        if (c->layers[i].crypt_method) {
            *layer = util_xstrdup(c->layers[i].path);
            r = 1;
        }
    }
    chain_free(c);
    return r;
}

/* Every disk the record names, before anything changes:
 * - an encrypted one (<encryption> anywhere in the disk, or an image of
 *   its chain whose qcow2 header says so) would get an unencrypted overlay
 *   or flattened image the VM cannot open: operations that create such
 *   files refuse it;
 * - failover keeps each disk's element in the record so revert can put it
 *   back: one too large for the record is refused. */
static int
plan_check_disks(Plan *p, const DomXml *dx, const DomDiskList *disks, const PlanArgs *a)
{
    const ReplicaPoint *first = p->rec->npoints ? &p->rec->points[0] : NULL;
    int creates = p->op == OP_INITIATE || p->op == OP_TEST ||
                  (p->op == OP_COMMIT && a && a->flatten);
    size_t i, j;

    for (i = 0; first && i < first->disks.n; i++) {
        const char *target = first->disks.v[i].target;

        for (j = 0; creates && j < disks->n; j++) {
            char *layer = NULL;
            int enc;

            if (strcmp(disks->v[j].target, target) != 0)
                continue;
            enc = disks->v[j].encrypted ? 1 : disks->v[j].source ?
                  plan_chain_encrypted(disks->v[j].source, &layer) : 0;
            if (enc < 0) {
                err_clear();    /* an unreadable chain is reported by the operation's own walks */
                continue;
            }
            if (!enc)
                continue;
            err_set(RESULT_NOT_SUPPORTED,
                    "disk %s of %s is encrypted (%s%s): drover would create an unencrypted %s "
                    "the VM cannot open, so it does not %s encrypted disks; nothing was changed",
                    target, p->vm,
                    layer ? "the qcow2 header of " : "<encryption> with a libvirt secret",
                    layer ? layer : "", p->op == OP_COMMIT ? "flattened image" : "overlay",
                    p->op == OP_COMMIT ? "flatten" : "fail over");
            free(layer);
            return -1;
        }
        if (p->op == OP_INITIATE) {
            UTIL_AUTOFREE char *el = domxml_disk_element(dx, target);

            if (el && strlen(el) > REPLICA_MAX_BEFORE) {
                err_set(RESULT_NOT_SUPPORTED,
                        "the <disk> element of %s on %s is %zu bytes, more than the %d the "
                        "failover record keeps for revert to put back; nothing was changed",
                        target, p->vm, strlen(el), REPLICA_MAX_BEFORE);
                return -1;
            }
        }
    }
    return 0;
}

/* Failover adds each disk's saved element (escaped) and a journal to the
 * record: a record that would outgrow REPLICA_MAX_BYTES could no longer be
 * read by verify, check, revert or repair, so it is refused here. */
static int
plan_check_record_size(Plan *p, const DomXml *dx)
{
    Replica *r;
    UTIL_AUTOFREE char *md = NULL;
    size_t i, len;
    /* Room for what is not known yet: the job id, the operator, times. */
    const size_t margin = 4096;

    if (p->op != OP_INITIATE)
        return 0;
    r = replica_copy(p->rec);
    r->state = p->to_state;
    r->failover = util_xcalloc(1, sizeof(*r->failover));
    r->failover->point = util_xstrdup(p->point);
    r->failover->time = util_now();
    r->failover->by = util_xstrdup("operator");
    r->journal = util_xcalloc(1, sizeof(*r->journal));
    r->journal->op = util_xstrdup(state_op_name(p->op));
    r->journal->job = util_xstrdup("job");
    r->journal->step = util_xstrdup("switched");
    r->journal->time = util_now();
    r->journal->from_state = p->from_state;
    r->journal->to_state = p->to_state;
    r->journal->point = util_xstrdup(p->point);
    for (i = 0; i < p->create.n; i++) {
        ReplicaDiskList *l = &r->failover->disks;

        replica_disk_list_add(l, p->create.v[i].target, p->create.v[i].path, 0);
        l->v[l->n - 1].before = domxml_disk_element(dx, p->create.v[i].target);
        replica_disk_list_add(&r->journal->create, p->create.v[i].target, p->create.v[i].path, 0);
    }
    md = replica_format(r);
    replica_free(r);
    if (!md) {
        err_prefix("the replica record of %s after failover", p->vm);
        return -1;
    }
    len = strlen(md);
    if (len + margin > REPLICA_MAX_BYTES) {
        err_set(RESULT_NOT_SUPPORTED,
                "the replica record of %s would be %zu bytes after failover (it keeps each disk's "
                "<disk> element for revert), more than the %d drover reads back; nothing was "
                "changed", p->vm, len + margin, REPLICA_MAX_BYTES);
        return -1;
    }
    return 0;
}

static int
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

static int
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

static int
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

static int
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

static int
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

/* Every deletion the plan names passes chain_discard's checks against
 * the host as it will be after the switch: refused here, with nothing
 * changed and --dry-run refusing too, rather than after the switch. */
static int
plan_check_removals(HvConn *c, const Plan *p)
{
    Chain **keep = NULL;
    size_t nkeep = 0, i;
    int ret = 0;

    if (!p->remove.n)
        return 0;
    if (plan_load_keep(c, p, 1, &keep, &nkeep) < 0) {
        err_prefix("drover cannot tell which files the domains on %s use, so it deletes "
                   "nothing", p->host);
        return -1;
    }
    for (i = 0; i < p->remove.n && ret == 0; i++) {
        const PlanFile *f = &p->remove.v[i];

        if (chain_discard_check(f->path, f->dev, f->ino, p->dir, (const Chain *const *)keep,
                                nkeep) < 0) {
            err_prefix("%s would not be deleted; nothing was changed", f->role);
            ret = -1;
        }
    }
    plan_keep_free(keep, nkeep);
    return ret;
}

static void
plan_digest_files(struct sha256_ctx *h, const char *what, const PlanFileList *l)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        char *s = util_xasprintf("%s\t%s\t%s\t%s\t%llu\t%llu\t%llu\n", what, l->v[i].path,
                                 l->v[i].target, l->v[i].backing ? l->v[i].backing : "",
                                 (unsigned long long)l->v[i].size, (unsigned long long)l->v[i].dev,
                                 (unsigned long long)l->v[i].ino);
        sha256_update(h, strlen(s), (const uint8_t *)s);
        free(s);
    }
}

/* text without its ", mac xx:xx:xx:xx:xx:xx" parts (malloc'd). */
static char *
plan_without_macs(const char *text)
{
    UtilBuf b = { 0 };
    const char *p = text, *m;

    while ((m = strstr(p, ", mac "))) {
        size_t n = strspn(m + 6, "0123456789abcdefABCDEF:");

        util_buf_addn(&b, p, (size_t)(m - p));
        p = m + 6 + n;
    }
    util_buf_add(&b, p);
    return util_buf_steal(&b);
}

/* Everything the operator saw and everything the execution relies on. */
static void
plan_digest(Plan *p)
{
    struct sha256_ctx h;
    uint8_t bin[SHA256_DIGEST_SIZE];
    UTIL_AUTOFREE char *head = NULL;
    UTIL_AUTOFREE char *rec = replica_format(p->rec);
    size_t i;

    head = util_xasprintf("drover-plan-1\t%s\t%d\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n",
                          state_op_name(p->op), p->flatten, p->uuid, p->vm, p->from_state,
                          p->to_state, p->power, p->power_action, p->point ? p->point : "",
                          p->dir, p->test_domain ? p->test_domain : "", p->test_uuid);
    sha256_init(&h);
    sha256_update(&h, strlen(head), (const uint8_t *)head);
    if (p->guard) {
        char *extra = util_xasprintf("guard\t%d\t%d\t%d\n", p->guard, p->primary_power, p->force);
        sha256_update(&h, strlen(extra), (const uint8_t *)extra);
        free(extra);
    }
    if (p->test_network) {
        char *extra = util_xasprintf("test-network\t%s\n", p->test_network);
        sha256_update(&h, strlen(extra), (const uint8_t *)extra);
        free(extra);
    }
    if (p->test_omitted) {
        /* Without MAC addresses: libvirt's test driver makes up a new one
         * for an interface without one in every process that loads the
         * fleet, and a job re-plans in a process of its own.  (Another
         * writer's change to a real MAC is caught by the definition check.) */
        UTIL_AUTOFREE char *stable = plan_without_macs(p->test_omitted);
        char *extra = util_xasprintf("omit\t%s\n", stable);
        sha256_update(&h, strlen(extra), (const uint8_t *)extra);
        free(extra);
    }
    /* A plan's record was parsed, so it formats; "" keeps a digest anyway. */
    sha256_update(&h, rec ? strlen(rec) : 0, (const uint8_t *)(rec ? rec : ""));
    plan_digest_files(&h, "create", &p->create);
    plan_digest_files(&h, "remove", &p->remove);
    plan_digest_files(&h, "keep", &p->keep);
    for (i = 0; i < p->nswitches; i++) {
        char *s = util_xasprintf("switch\t%s\t%s\t%s\n", p->switches[i].target,
                                 p->switches[i].from ? p->switches[i].from : "", p->switches[i].to);
        sha256_update(&h, strlen(s), (const uint8_t *)s);
        free(s);
    }
    sha256_digest(&h, sizeof(bin), bin);
    base16_encode_update(p->digest, sizeof(bin), bin);   /* lowercase */
    p->digest[BASE16_ENCODE_LENGTH(sizeof(bin))] = '\0';
}

/* A file that vanished while planning usually means another operation ran
 * meanwhile (it deleted the overlay this plan read about): say that, with
 * 32774 while it still runs and 32775 once it is done, not "file not found". */
static void
plan_explain_missing(HvConn *c, const Plan *p, const PlanArgs *args)
{
    UTIL_AUTOFREE char *lockpath = NULL;
    UTIL_AUTOFREE char *xml = NULL;
    char holder[512];
    ErrInfo saved;

    if (err_code() != RESULT_FILE_NOT_FOUND || !p->dir || !p->domxml || (args && args->lock_held))
        return;
    err_save(&saved);
    lockpath = plan_lock_path(p);
    if (lock_probe(lockpath, holder, sizeof(holder)) > 0) {
        err_set(RESULT_IN_USE, "%s is in use: another operation holds it (%s)", p->vm, holder);
        return;
    }
    hv_reload_if_changed(c);
    xml = hv_get_xml(c, p->uuid);
    if (xml && strcmp(xml, p->domxml) != 0) {
        err_set(RESULT_INVALID_STATE,
                "%s changed while drover was planning (another operation ran on it): look at it "
                "again (drover show %s) and retry if it still applies", p->vm, p->vm);
        return;
    }
    err_restore(&saved);
}

Plan *
plan_make(HvConn *c, const char *host, const char *vm, StateOp op, const PlanArgs *args)
{
    Plan *p = util_xcalloc(1, sizeof(*p));
    HvDomain d;
    DomXml *dx = NULL;
    DomDiskList disks = { 0 };
    UTIL_AUTOFREE char *md = NULL;
    UTIL_AUTOFREE char *lockpath = NULL;
    char holder[512];
    int r;

    p->op = op;
    p->host = util_xstrdup(host);
    if (args && args->stamp) {
        util_strlcpy(p->stamp, args->stamp, sizeof(p->stamp));
    } else {
        char iso[32];
        size_t i, j = 0;
        util_format_time(util_now(), iso, sizeof(iso));
        for (i = 0; iso[i] && j + 1 < sizeof(p->stamp); i++)
            if (iso[i] != '-' && iso[i] != ':')
                p->stamp[j++] = iso[i];
        p->stamp[j] = '\0';
    }
    if (hv_lookup(c, vm, 0, &d) < 0)
        goto fail;
    if (hv_is_local(c) != 1) {
        /* Plans stat, walk and delete files by path: only on the host itself. */
        err_set(RESULT_NOT_SUPPORTED,
                "%s runs on another machine (%s), or drover cannot tell: drover reads and changes "
                "the disk chains itself, so it must run on the DR host; run drover there",
                d.name, hv_uri(c));
        hv_domain_clear(&d);
        goto fail;
    }
    p->vm = util_xstrdup(d.name);
    util_strlcpy(p->uuid, d.uuid, sizeof(p->uuid));
    p->power = d.power;
    hv_domain_clear(&d);
    if (!(p->domxml = hv_get_xml(c, p->uuid)) || !(dx = domxml_parse(p->domxml)))
        goto fail;
    if (!(md = domxml_get_replica(dx))) {
        err_set(RESULT_STATUS_UNKNOWN,
                "%s has no drover replica record (metadata in %s): it is not a replica drover manages",
                p->vm, REPLICA_NS);
        goto fail;
    }
    if (!(p->rec = replica_parse(md, strlen(md)))) {
        err_prefix("replica record of %s", p->vm);
        goto fail;
    }
    p->mode = p->rec->mode;
    p->from_state = p->to_state = p->rec->state;
    if (p->rec->mode == MODE_TEST_REPLICA) {
        err_set(RESULT_INVALID_STATE, "%s is a test system%s%s: end it with drover stop-test %s",
                p->vm, p->rec->primary_name ? " of " : "", p->rec->primary_name ? p->rec->primary_name : "",
                p->rec->primary_name ? p->rec->primary_name : "REPLICA");
        goto fail;
    }
    p->dir = replica_dir(p->rec);
    if (!p->dir) {
        err_set(RESULT_INVALID_STATE, "%s has no recovery points: there is nothing to fail over to",
                p->vm);
        goto fail;
    }
    lockpath = plan_lock_path(p);
    r = args && args->lock_held ? 0 : lock_probe(lockpath, holder, sizeof(holder));
    if (r < 0)
        goto fail;
    if (r > 0) {
        err_set(RESULT_IN_USE, "%s is in use: another operation holds it (%s)", p->vm, holder);
        goto fail;
    }
    if (p->rec->journal) {
        err_set(RESULT_INVALID_STATE,
                "an interrupted %s of %s (job %s, stopped at step \"%s\") must be repaired first: "
                "run drover repair %s", p->rec->journal->op, p->vm, p->rec->journal->job,
                p->rec->journal->step, p->vm);
        err_hint(RESULT_HINT_REPAIR);
        goto fail;
    }
    if (state_check(op, p->rec->state, p->rec->mode, p->rec->test != NULL) != 0) {
        err_prefix("%s", p->vm);
        goto fail;
    }
    p->to_state = state_after(op, p->rec->state);
    domxml_disks(dx, &disks);
    if (plan_check_sources(p, &disks) < 0 || plan_check_disks(p, dx, &disks, args) < 0)
        goto fail;
    /* The chains on disk must be the ones the record describes: every
     * operation decides what to create and delete from the record. */
    if (health_verify_chains(p->rec) < 0) {
        err_prefix("%s: nothing was changed; run drover check %s", p->vm, p->vm);
        goto fail;
    }

    switch (op) {
    case OP_INITIATE: r = plan_initiate(p, args, &disks); break;
    case OP_REVERT: r = plan_revert(p); break;
    case OP_COMMIT: r = plan_commit(p, args); break;
    case OP_TEST: r = plan_test(p, c, args, dx); break;
    case OP_STOP_TEST: r = plan_stop_test(p, c); break;
    default:
        err_set(RESULT_INVALID_PARAMETER, "unknown operation");
        r = -1;
    }
    /* Under the lock the execution runs the same check itself, right
     * after this re-plan and before any change (ops_run). */
    if (r < 0 || plan_check_record_size(p, dx) < 0 ||
        (!(args && args->lock_held) && plan_check_removals(c, p) < 0))
        goto fail;
    /* Last: it may wait for another host.  The re-plan under the lock asks
     * again, so what runs is what the primary says then. */
    if (op == OP_INITIATE && plan_guard(p, c, args) < 0)
        goto fail;
    plan_digest(p);
    domxml_disk_list_clear(&disks);
    domxml_free(dx);
    return p;

fail:
    plan_explain_missing(c, p, args);
    domxml_disk_list_clear(&disks);
    domxml_free(dx);
    plan_free(p);
    return NULL;
}

static void
plan_text_files(UtilBuf *b, const char *title, const PlanFileList *l)
{
    size_t i;
    char sz[32];

    if (!l->n)
        return;
    util_buf_printf(b, "  %s:\n", title);
    for (i = 0; i < l->n; i++) {
        util_format_size(l->v[i].allocated ? l->v[i].allocated : l->v[i].size, sz, sizeof(sz));
        util_buf_printf(b, "    %-4s %s  (%s, %s)\n", l->v[i].target, l->v[i].path, l->v[i].role, sz);
    }
}

char *
plan_text(const Plan *p)
{
    UtilBuf b = { 0 };
    size_t i;

    util_buf_printf(&b, "Plan: %s%s of %s@%s (%s)\n", state_op_title(p->op),
                    p->flatten ? " with --flatten" : "", p->vm, p->host, p->uuid);
    util_buf_printf(&b, "  state:  %d %s -> %d %s\n", p->from_state, state_name(p->from_state),
                    p->to_state, state_name(p->to_state));
    util_buf_printf(&b, "  power:  %s; action: %s\n", hv_power_name(p->power),
                    plan_power_action_text(p->power_action));
    if (p->point)
        util_buf_printf(&b, "  point:  %s\n", p->point);
    if (p->guard_text)
        util_buf_printf(&b, "  primary: %s\n", p->guard_text);
    if (p->test_domain)
        util_buf_printf(&b, "  test system: %s (%s)\n", p->test_domain, p->test_uuid);
    if (p->test_network)
        util_buf_printf(&b, "  test network: %s (isolated): the test system's interfaces use it\n",
                        p->test_network);
    if (p->test_omitted)
        util_buf_printf(&b, "  left out of the test system: %s\n", p->test_omitted);
    for (i = 0; i < p->nswitches; i++)
        util_buf_printf(&b, "  disk %s: %s -> %s\n", p->switches[i].target,
                        p->switches[i].from ? p->switches[i].from : "(none)", p->switches[i].to);
    plan_text_files(&b, "creates", &p->create);
    plan_text_files(&b, "deletes", &p->remove);
    plan_text_files(&b, "keeps", &p->keep);
    if (!p->remove.n)
        util_buf_add(&b, "  deletes nothing\n");
    util_buf_printf(&b, "  digest: %s\n", p->digest);
    return util_buf_steal(&b);
}
