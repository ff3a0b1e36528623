/* SPDX-License-Identifier: GPL-2.0-or-later */
/* plan-checks: what a plan checks before an operation, refusing with
 * nothing changed: the split-brain guard, which asks the primary; the
 * domain's disks against the record (file disks, given as qcow2, not
 * encrypted); the record's size after a failover; every deletion against
 * the chains of the host. */
#include <config.h>

#include "ops/plan.h"
#include "ops/plan-priv.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"
#include "chain/chain.h"
#include "hv/domxml.h"
#include "ops/health.h"

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
int
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
plan_source_of(const DomDiskList *disks, const char *target)
{
    size_t i;

    for (i = 0; i < disks->n; i++)
        if (strcmp(disks->v[i].target, target) == 0)
            return disks->v[i].source;
    return NULL;
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
int
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
int
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
int
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

/* Every deletion the plan names passes chain_discard's checks against
 * the host as it will be after the switch: refused here, with nothing
 * changed and --dry-run refusing too, rather than after the switch. */
int
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
