/* SPDX-License-Identifier: GPL-2.0-or-later */
/* repl: what the parts of replication share (the primary, the record, the
 * checked define), and suspend, resume and disable (see repl.h).  Plans are
 * in repl-plan.c, cycles and enable in repl-run.c, statistics and health
 * in repl-stats.c. */
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

/* --- small helpers ----------------------------------------------------------- */

/* The host part of a libvirt URI ("qemu+ssh://root@prod-a:22/system" ->
 * "prod-a"); NULL when it names none (a local URI). */
char *
repl_uri_host(const char *uri)
{
    const char *p = strstr(uri, "://");
    const char *end, *at;

    if (!p)
        return NULL;
    p += 3;
    end = p + strcspn(p, "/?");
    at = memchr(p, '@', (size_t)(end - p));
    if (at)
        p = at + 1;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (close)
            return util_xstrndup(p, (size_t)(close - p + 1));
    }
    {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        if (colon)
            end = colon;
    }
    return end > p ? util_xstrndup(p, (size_t)(end - p)) : NULL;
}

char *
repl_default_nbd(const char *uri)
{
    UTIL_AUTOFREE char *host = repl_uri_host(uri);

    return util_xasprintf("%s:%d", host ? host : "127.0.0.1", REPL_NBD_PORT);
}

/* Opens the primary; NULL with 32777 when it cannot be reached. */
HvConn *
repl_primary_open(const char *uri)
{
    HvConn *pc;

    if (!uri) {
        err_set(RESULT_INCORRECT_TYPE, "the record names no primary URI");
        return NULL;
    }
    pc = hv_open(uri, 0);
    if (!hv_is_alive(pc)) {
        ErrInfo e;

        err_save(&e);
        hv_close(pc);
        err_set(RESULT_NOT_AVAILABLE, "the primary host %s cannot be reached: %s", uri,
                e.message[0] ? e.message : "not connected");
        return NULL;
    }
    return pc;
}

int
repl_point_number(const char *id)
{
    long long v;

    if (!id || strncmp(id, "rp-", 3) != 0 || util_parse_ll(id + 3, 0, 99999999, &v) < 0)
        return 0;
    return (int)v;
}

int
repl_is_ours(const char *checkpoint)
{
    return strncmp(checkpoint, REPL_CHECKPOINT_PREFIX, strlen(REPL_CHECKPOINT_PREFIX)) == 0;
}

/* Whether a primary's drover record (metadata, may be NULL) says it is
 * prepared for a planned failover (mode 1 Primary, state 4 Synced). */
int
repl_primary_prepared(const char *metadata)
{
    Replica *pr = metadata ? replica_parse(metadata, strlen(metadata)) : NULL;
    int prepared = pr && pr->mode == MODE_PRIMARY && pr->state == STATE_SYNCED;

    err_clear();
    replica_free(pr);
    return prepared;
}

int
repl_strv_has(char **v, const char *s)
{
    for (; v && *v; v++)
        if (strcmp(*v, s) == 0)
            return 1;
    return 0;
}

void
repl_plan_free(ReplPlan *p)
{
    size_t i;

    if (!p)
        return;
    free(p->host);
    free(p->vm);
    free(p->primary_uri);
    free(p->primary_vm);
    free(p->dir);
    free(p->nbd);
    free(p->nbd_tls);
    free(p->point);
    free(p->checkpoint);
    free(p->since);
    free(p->since_point);
    for (i = 0; i < p->ndisks; i++) {
        free(p->disks[i].target);
        free(p->disks[i].primary_file);
        free(p->disks[i].file);
        free(p->disks[i].backing);
        free(p->disks[i].base);
    }
    free(p->disks);
    for (i = 0; i < p->nnetmap; i++)
        free(p->netmap[i]);
    free(p->netmap);
    free(p->netmap_used);
    free(p->netmap_from);
    free(p->networks);
    free(p->domxml);
    free(p->nvram);
    free(p->primary_nvram);
    free(p->nvram_note);
    replica_disk_list_clear(&p->remove);
    free(p);
}

ReplPlanDisk *
repl_plan_add_disk(ReplPlan *p, const char *target)
{
    ReplPlanDisk *d;

    p->disks = util_xrealloc(p->disks, (p->ndisks + 1) * sizeof(*p->disks));
    d = &p->disks[p->ndisks++];
    memset(d, 0, sizeof(*d));
    d->target = util_xstrdup(target);
    return d;
}

char *
repl_plan_text(const ReplPlan *p)
{
    UtilBuf b = { 0 };
    char size[32];
    size_t i;

    if (p->enable)
        util_buf_printf(&b, "Plan: enable replication of %s from %s (%s)\n", p->primary_vm,
                        p->primary_uri, p->uuid);
    else if (p->resync)
        util_buf_printf(&b, "Plan: full resync of %s@%s (%s) from %s\n", p->vm, p->host,
                        p->uuid, p->primary_uri);
    else
        util_buf_printf(&b, "Plan: %s cycle of %s@%s (%s) from %s\n",
                        p->initial ? "initial copy" : "replication", p->vm, p->host, p->uuid,
                        p->primary_uri);
    if (p->enable) {
        util_buf_printf(&b, "  define:  replica %s on %s, same UUID, mode 2 Replica, state 1 Ready\n",
                        p->vm, p->host);
        if (p->interval)
            util_buf_printf(&b, "  every:   %d s (drover replicate --due)\n", p->interval);
        else
            util_buf_add(&b, "  every:   on demand only (no --interval)\n");
        if (p->points)
            util_buf_printf(&b, "  keep:    %d recovery points\n", p->points);
        if (p->app_every)
            util_buf_printf(&b, "  app:     an application-consistent point every %d s (guest "
                            "agent)\n", p->app_every);
    }
    for (i = 0; p->enable && i < p->nnetmap; i++) {
        /* Each entry of the map and where it came from. */
        if (p->netmap_from)
            util_buf_printf(&b, "  map:     %s (network_map at %s)%s\n", p->netmap[i],
                            p->netmap_from, p->netmap_used[i] ? "" : ": no interface uses it");
        else
            util_buf_printf(&b, "  map:     %s (--network-map)\n", p->netmap[i]);
    }
    if (p->enable && p->networks) {
        /* One line per interface: where it goes on the DR site. */
        const char *q = p->networks;

        while (*q) {
            const char *end = strstr(q, "; ");
            size_t len = end ? (size_t)(end - q) : strlen(q);

            util_buf_printf(&b, "  network: %.*s\n", (int)len, q);
            q += len + (end ? 2 : 0);
        }
    }
    if (p->resync)
        util_buf_printf(&b, "  state:   %d %s -> %d %s while it copies -> %d %s\n",
                        p->from_state, state_name(p->from_state), STATE_RESYNCING,
                        state_name(STATE_RESYNCING), p->to_state, state_name(p->to_state));
    else
        util_buf_printf(&b, "  state:   %d %s -> %d %s\n", p->from_state,
                        state_name(p->from_state), p->to_state, state_name(p->to_state));
    util_buf_printf(&b, "  files:   %s\n", p->dir);
    util_buf_printf(&b, "  primary: backup job, NBD export at %s%s%s%s; checkpoint %s%s%s\n",
                    p->nbd, p->nbd_tls ? " over TLS (client certificates in " : "",
                    p->nbd_tls ? p->nbd_tls : "", p->nbd_tls ? ")" : "", p->checkpoint, p->since ? ", changes since " : " (full copy)",
                    p->since ? p->since : "");
    util_buf_printf(&b, "  point:   %s\n", p->point);
    for (i = 0; i < p->ndisks; i++) {
        const ReplPlanDisk *d = &p->disks[i];

        if (d->size)
            util_format_size(d->size, size, sizeof(size));
        else
            util_strlcpy(size, "size of the primary's disk", sizeof(size));
        if (d->base)
            util_buf_printf(&b, "  create:  %s (%s, full copy of %s)\n", d->base, size,
                            d->primary_file ? d->primary_file : d->target);
        util_buf_printf(&b, "  create:  %s (%s, %s, backed by %s)\n", d->file,
                        d->target, d->base ? "empty" : "changed blocks", d->backing);
    }
    if (p->nvram && p->primary_nvram) {
        util_format_size(p->nvram_size, size, sizeof(size));
        util_buf_printf(&b, "  create:  %s (nvram, %s, a copy of the primary's %s, which is "
                        "only read)\n", p->nvram, size, p->primary_nvram);
    } else if (p->nvram) {
        util_buf_printf(&b, "  nvram:   %s, not copied: %s\n", p->nvram, p->nvram_note);
    }
    if (p->since)
        util_buf_printf(&b, "  after:   checkpoint %s deleted on the primary\n", p->since);
    if (p->resync) {
        util_buf_add(&b, "  after:   every other drover.* checkpoint deleted on the primary\n");
        util_buf_printf(&b, "  points:  the %s replace every recovery point (the old chain stays "
                        "usable until the switch)\n", p->point);
        for (i = 0; i < p->remove.n; i++)
            util_buf_printf(&b, "  delete:  %s (old chain of %s, after the switch)\n",
                            p->remove.v[i].file, p->remove.v[i].target);
        if (!p->remove.n)
            util_buf_add(&b, "  deletes: nothing on this host (no file of the old chain is "
                         "left)\n");
    } else {
        util_buf_add(&b, "  deletes: nothing on this host\n");
    }
    return util_buf_steal(&b);
}

void
repl_plan_digest(ReplPlan *p)
{
    UTIL_AUTOFREE char *t = repl_plan_text(p);
    struct sha256_ctx c;
    uint8_t bin[SHA256_DIGEST_SIZE];

    sha256_init(&c);
    sha256_update(&c, strlen(t), (const uint8_t *)t);
    if (p->domxml)
        sha256_update(&c, strlen(p->domxml), (const uint8_t *)p->domxml);
    sha256_digest(&c, sizeof(bin), bin);
    base16_encode_update(p->digest, sizeof(bin), bin);
    p->digest[64] = '\0';
}

/* The replica's definition and record; NULL with err set.  With xml,
 * *xml is the text read: what repl_define checks is still there. */
DomXml *
repl_read(HvConn *dr, const char *uuid, const char *name, Replica **rec, char **xml)
{
    UTIL_AUTOFREE char *text = NULL;
    UTIL_AUTOFREE char *md = NULL;
    DomXml *dx;

    *rec = NULL;
    if (!(text = hv_get_xml(dr, uuid)) || !(dx = domxml_parse(text)))
        return NULL;
    if (!(md = domxml_get_replica(dx))) {
        err_set(RESULT_STATUS_UNKNOWN, "%s has no drover replica record", name);
        domxml_free(dx);
        return NULL;
    }
    if (!(*rec = replica_parse(md, strlen(md)))) {
        err_prefix("replica record of %s", name);
        domxml_free(dx);
        return NULL;
    }
    if (xml) {
        free(*xml);
        *xml = UTIL_STEAL(&text);
    }
    return dx;
}

/* Defines dx with rec as its record.  *expect is the definition drover
 * last read or wrote: another writer's change since (virsh edit, another
 * application) is refused with 32774, not overwritten, as an operation's
 * define refuses it (ops_check_definition).  *expect becomes what libvirt
 * holds after the define. */
int
repl_define(HvConn *dr, DomXml *dx, const Replica *rec, char **expect)
{
    UTIL_AUTOFREE char *md = replica_format(rec);
    UTIL_AUTOFREE char *what = NULL;
    char *xml = NULL;
    char *now;

    if (replica_validate(rec) < 0 || !md) {
        err_prefix("the new record of %s", domxml_name(dx));
        return -1;
    }
    if (ops_check_definition(dr, domxml_uuid(dx), domxml_name(dx), *expect, NULL) < 0)
        return -1;
    if (domxml_set_replica(dx, md) < 0)
        return -1;
    xml = domxml_format(dx);
    if (hv_define(dr, xml) < 0) {
        free(xml);
        err_prefix("cannot save the definition of %s", domxml_name(dx));
        return -1;
    }
    /* What libvirt made of it, unless another writer's change landed
     * already: then what was sent, so the next define sees that change. */
    now = hv_get_xml(dr, domxml_uuid(dx));
    if (now && !(what = domxml_describe_changes(xml, now)) && !err_code()) {
        free(xml);
        xml = now;
    } else {
        free(now);
    }
    err_clear();
    free(*expect);
    *expect = xml;
    return 0;
}

/* Closes the journal of a run that failed before its switch: dx with back
 * as its record.  When another writer changed the definition since the
 * journal, the run had switched nothing in it, so the same record goes
 * onto that writer's definition, keeping its change; unless the record
 * there is no longer this run's (job jobid): then the journal stays, for
 * repair. */
int
repl_define_back(HvConn *dr, DomXml *dx, const Replica *back, const char *jobid,
                 char **expect)
{
    Replica *cur = NULL;
    DomXml *fresh;
    int ret = -1;

    if (repl_define(dr, dx, back, expect) == 0)
        return 0;
    if (err_code() != RESULT_IN_USE || !jobid)
        return -1;
    if (!(fresh = repl_read(dr, domxml_uuid(dx), domxml_name(dx), &cur, expect)))
        return -1;
    if (!cur->journal || !cur->journal->job || strcmp(cur->journal->job, jobid) != 0)
        err_set(RESULT_IN_USE, "another writer changed the replica record of %s: drover leaves "
                "it as it is", domxml_name(dx));
    else
        ret = repl_define(dr, fresh, back, expect);
    replica_free(cur);
    domxml_free(fresh);
    return ret;
}

void
repl_audit(const ReplArgs *a, const char *host, const char *vm, const char *op,
           const char *digest, Job *job, int code)
{
    AuditRecord rec;
    ErrInfo saved;

    err_save(&saved);
    memset(&rec, 0, sizeof(rec));
    rec.host = host;
    rec.vm = vm;
    rec.operation = op;
    rec.digest = digest;
    rec.reason = a ? a->reason : NULL;
    rec.job = job ? job_id(job) : NULL;
    rec.result = code;
    rec.message = code ? saved.message : "completed";
    if (audit_write(a ? a->audit_log : NULL, &rec) < 0 && job)
        job_progress(job, -1, "warning: %s", err_message());
    err_restore(&saved);
}

int
repl_code(void)
{
    return err_code() ? err_code() : RESULT_FAILED;
}

void
repl_job_step(Job *job, int percent, const char *fmt, ...)
{
    UTIL_AUTOFREE char *s = NULL;
    va_list ap;

    if (!job)
        return;
    va_start(ap, fmt);
    s = util_xvasprintf(fmt, ap);
    va_end(ap);
    job_progress(job, percent, "%s", s);
}

int
repl_writable(HvConn *c, const char *what, const char *vm)
{
    if (!hv_is_readonly(c))
        return 0;
    err_set(RESULT_ACCESS_DENIED, "%s of %s refused: the connection is read-only", what, vm);
    return RESULT_ACCESS_DENIED;
}


/* --- suspend, resume, disable ------------------------------------------------- */

const char *
repl_set_name(ReplSetOp op)
{
    switch (op) {
    case REPL_SET_SUSPEND: return "suspend-replication";
    case REPL_SET_RESUME: return "resume-replication";
    case REPL_SET_DISABLE: return "disable-replication";
    default: return "unknown";
    }
}

/* The state op leads to from r, or -1 with err set (32775). */
static int
repl_set_target(const Replica *r, ReplSetOp op, const char *name)
{
    if (r->journal) {
        err_set(RESULT_INVALID_STATE, "an interrupted %s (job %s) left its journal on %s: run "
                "drover repair %s first", r->journal->op, r->journal->job, name, name);
        err_hint(RESULT_HINT_REPAIR);
        return -1;
    }
    if (!r->repl) {
        err_set(RESULT_NOT_SUPPORTED, "%s is not replicated by drover (its record has no "
                "<replication>)", name);
        return -1;
    }
    switch (op) {
    case REPL_SET_SUSPEND:
        if (r->state == STATE_REPLICATING || r->state == STATE_READY ||
            r->state == STATE_WAITING_INITIAL)
            return STATE_SUSPENDED;
        break;
    case REPL_SET_RESUME:
        if (r->state == STATE_SUSPENDED)
            return r->npoints ? STATE_REPLICATING : STATE_WAITING_INITIAL;
        break;
    case REPL_SET_DISABLE:
        if (r->state == STATE_FAILOVER_IN_PROGRESS)
            break;
        /* The points stay usable: the state they have says what they are. */
        return r->npoints ? (r->state == STATE_SUSPENDED ? STATE_REPLICATING : r->state)
                          : STATE_DISABLED;
    }
    err_set(RESULT_INVALID_STATE, "%s of %s is not allowed in state %d %s%s", repl_set_name(op),
            name, r->state, state_name(r->state),
            op == REPL_SET_SUSPEND ? ": only a replicating replica (1, 2 or 3) is suspended" :
            op == REPL_SET_RESUME ? ": only a suspended replica (7) is resumed" : "");
    return -1;
}

int
repl_set(HvConn *dr, const char *host, const char *vm, ReplSetOp op, const ReplArgs *a,
         int dry_run, char **text)
{
    UTIL_AUTOFREE char *self = lock_describe_self();
    UTIL_AUTOFREE char *holder = NULL;
    UTIL_AUTOFREE char *lockpath = NULL;
    UTIL_AUTOFREE char *digest = NULL;
    UTIL_AUTOFREE char *expect = NULL;
    const char *opname = repl_set_name(op);
    UtilBuf b = { 0 };
    LockHandle *lk = NULL;
    Replica *r = NULL;
    DomXml *dx = NULL;
    HvConn *pc = NULL;
    HvDomain d;
    int code = 0, to, audit = 0;

    *text = NULL;
    if (hv_lookup(dr, vm, 0, &d) < 0)
        return repl_code();
    if (!(dx = repl_read(dr, d.uuid, d.name, &r, NULL)) || (to = repl_set_target(r, op, d.name)) < 0)
        goto fail;
    util_buf_printf(&b, "Plan: %s of %s@%s (%s)\n  state: %d %s -> %d %s\n", opname, d.name, host,
                    d.uuid, r->state, state_name(r->state), to, state_name(to));
    if (op == REPL_SET_DISABLE)
        util_buf_printf(&b, "  record: <replication> removed; the %zu recovery point%s and "
                        "their files stay\n  primary: drover's checkpoints deleted on %s\n",
                        r->npoints, r->npoints == 1 ? "" : "s", r->primary_uri);
    util_buf_add(&b, "  deletes: nothing on this host\n");
    digest = util_xasprintf("%s:%s:%d", opname, d.uuid, r->state);
    if (dry_run)
        goto done;
    audit = 1;
    if (repl_writable(dr, opname, d.name))
        goto fail;
    lockpath = replica_lock_path(r, d.uuid);
    holder = util_xasprintf("%s, %s of %s", self, opname, d.name);
    if (!lockpath || !(lk = lock_acquire(lockpath, holder))) {
        if (!lockpath)
            err_set(RESULT_INCORRECT_TYPE, "%s has no replica directory", d.name);
        err_prefix("%s", d.name);
        goto fail;
    }
    /* Under the lock: read again; a cycle may have run meanwhile. */
    replica_free(r);
    r = NULL;
    domxml_free(dx);
    if (!(dx = repl_read(dr, d.uuid, d.name, &r, &expect)) ||
        (to = repl_set_target(r, op, d.name)) < 0)
        goto fail;
    {
        Replica *rec = replica_copy(r);
        int rc;

        rec->state = to;
        if (op == REPL_SET_DISABLE) {
            replica_repl_free(rec->repl);
            rec->repl = NULL;
        }
        rc = repl_define(dr, dx, rec, &expect);
        replica_free(rec);
        if (rc < 0)
            goto fail;
    }
    util_buf_printf(&b, "%s: now %d %s\n", d.name, to, state_name(to));
    if (op == REPL_SET_DISABLE) {
        /* Bitmaps the primary would keep updating for nobody. */
        char **cps = NULL;
        size_t i;

        if ((pc = repl_primary_open(r->primary_uri)) && (cps = hv_checkpoint_names(pc, d.uuid))) {
            for (i = 0; cps[i]; i++) {
                if (!repl_is_ours(cps[i]))
                    continue;
                if (hv_checkpoint_delete(pc, d.uuid, cps[i]) < 0)
                    break;
                util_buf_printf(&b, "deleted checkpoint %s on the primary\n", cps[i]);
            }
        }
        if (!pc || !cps || cps[i])
            util_buf_printf(&b, "warning: drover's checkpoints may remain on the primary (%s); "
                            "delete them with virsh checkpoint-delete\n", err_message());
        err_clear();
        hv_strv_free(cps);
    }
    goto done;

fail:
    code = repl_code();
done:
    if (audit)
        repl_audit(a, host, d.name, opname, digest, NULL, code);
    *text = util_buf_steal(&b);
    hv_close(pc);
    lock_release(lk);
    replica_free(r);
    domxml_free(dx);
    hv_domain_clear(&d);
    return code;
}

int
repl_parse_interval(const char *s, int *out)
{
    long long v;
    size_t n = s ? strlen(s) : 0;
    int mult = 1;
    UTIL_AUTOFREE char *num = NULL;

    if (!n)
        goto bad;
    switch (s[n - 1]) {
    case 's': mult = 1; n--; break;
    case 'm': mult = 60; n--; break;
    case 'h': mult = 3600; n--; break;
    case 'd': mult = 86400; n--; break;
    default: break;
    }
    num = util_xstrndup(s, n);
    if (util_parse_ll(num, 0, 366LL * 86400 / mult, &v) < 0)
        goto bad;
    *out = (int)v * mult;
    return 0;

bad:
    err_set(RESULT_INVALID_PARAMETER, "interval \"%s\" is not a duration (300, 30s, 5m, 4h, 1d)",
            s ? s : "");
    return -1;
}

int
repl_is_due(const Replica *r, int power, int64_t now, int64_t *next)
{
    const ReplicaPoint *np = replica_newest_point(r);
    int64_t when;

    if (next)
        *next = 0;
    if (!r->repl || r->repl->interval <= 0 || r->journal || r->mode != MODE_REPLICA ||
        (r->state != STATE_READY && r->state != STATE_WAITING_INITIAL &&
         r->state != STATE_REPLICATING))
        return 0;
    when = np ? np->time + r->repl->interval : now;
    if (next)
        *next = when;
    return power == HV_POWER_OFF && when <= now;
}
