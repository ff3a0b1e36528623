/* SPDX-License-Identifier: GPL-2.0-or-later */
/* plan: what an operation will do, computed read-only, with a digest:
 * plan_make, the plan's digest and its text.  The checks before an
 * operation are in plan-checks.c, what each operation creates, deletes and
 * keeps in plan-op.c, the chains no deletion may touch in plan-keep.c. */
#include <config.h>

#include "ops/plan.h"
#include "ops/plan-priv.h"

#include <stdlib.h>
#include <string.h>

#include <nettle/base16.h>
#include <nettle/sha2.h>

#include "hv/domxml.h"
#include "base/err.h"
#include "ops/health.h"
#include "base/lock.h"
#include "base/result.h"
#include "base/util.h"

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
