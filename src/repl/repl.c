/* SPDX-License-Identifier: GPL-2.0-or-later */
/* repl: enable-replication and replication cycles (see repl.h). */
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

#define REPL_CHECKPOINT_PREFIX "drover."
/* libvirt's VIR_ERR_CHECKPOINT_INCONSISTENT: the bitmap behind a checkpoint
 * is missing or broken (the primary's qemu was killed before it stored its
 * bitmaps).  libvirt headers stay in src/hv/. */
#define REPL_VIRT_CHECKPOINT_INCONSISTENT 109

/* --- small helpers ----------------------------------------------------------- */

/* The host part of a libvirt URI ("qemu+ssh://root@prod-a:22/system" ->
 * "prod-a"); NULL when it names none (a local URI). */
static char *
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

static char *
repl_default_nbd(const char *uri)
{
    UTIL_AUTOFREE char *host = repl_uri_host(uri);

    return util_xasprintf("%s:%d", host ? host : "127.0.0.1", REPL_NBD_PORT);
}

/* Opens the primary; NULL with 32777 when it cannot be reached. */
static HvConn *
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

static int
repl_point_number(const char *id)
{
    long long v;

    if (!id || strncmp(id, "rp-", 3) != 0 || util_parse_ll(id + 3, 0, 99999999, &v) < 0)
        return 0;
    return (int)v;
}

static int
repl_is_ours(const char *checkpoint)
{
    return strncmp(checkpoint, REPL_CHECKPOINT_PREFIX, strlen(REPL_CHECKPOINT_PREFIX)) == 0;
}

/* Whether a primary's drover record (metadata, may be NULL) says it is
 * prepared for a planned failover (mode 1 Primary, state 4 Synced). */
static int
repl_primary_prepared(const char *metadata)
{
    Replica *pr = metadata ? replica_parse(metadata, strlen(metadata)) : NULL;
    int prepared = pr && pr->mode == MODE_PRIMARY && pr->state == STATE_SYNCED;

    err_clear();
    replica_free(pr);
    return prepared;
}

static int
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

static ReplPlanDisk *
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

static void
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
static DomXml *
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
static int
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
static int
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

static int
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

/* --- plans ------------------------------------------------------------------- */

/* Why a cycle may not run in this state; 0 when it may. */
static int
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
static int
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
static ReplPlan *
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

ReplPlan *
repl_plan_cycle(HvConn *dr, const char *host, const char *vm)
{
    HvDomain d;
    Replica *r = NULL;
    DomXml *dx = NULL;
    HvConn *pc = NULL;
    ReplPlan *p = NULL;

    if (hv_lookup(dr, vm, 0, &d) < 0)
        return NULL;
    if (!(dx = repl_read(dr, d.uuid, d.name, &r, NULL)))
        goto out;
    /* Refusals that need no primary come first: a replica that is failed
     * over is refused the same whether the primary answers or not. */
    if (r->journal || repl_check_state(r, d.name) < 0 || d.power != HV_POWER_OFF || !r->repl) {
        HvConn *none = NULL;
        p = repl_plan_build(dr, host, &d, dx, r, none, 0);
        goto out;
    }
    if (!(pc = repl_primary_open(r->primary_uri))) {
        err_prefix("replication of %s", d.name);
        goto out;
    }
    p = repl_plan_build(dr, host, &d, dx, r, pc, 0);

out:
    hv_close(pc);
    replica_free(r);
    domxml_free(dx);
    hv_domain_clear(&d);
    return p;
}

static int repl_check_removals_on(HvConn *dr, const char *uuid, const char *dir,
                                  const ReplicaDiskList *files);

ReplPlan *
repl_plan_resync(HvConn *dr, const char *host, const char *vm)
{
    HvDomain d;
    Replica *r = NULL;
    DomXml *dx = NULL;
    HvConn *pc = NULL;
    ReplPlan *p = NULL;

    if (hv_lookup(dr, vm, 0, &d) < 0)
        return NULL;
    if (!(dx = repl_read(dr, d.uuid, d.name, &r, NULL)))
        goto out;
    if (r->journal || repl_check_resync(r, d.name) < 0 || d.power != HV_POWER_OFF || !r->repl) {
        err_clear();
        p = repl_plan_build(dr, host, &d, dx, r, NULL, 1);
        goto out;
    }
    if (!(pc = repl_primary_open(r->primary_uri))) {
        err_prefix("resync of %s", d.name);
        goto out;
    }
    p = repl_plan_build(dr, host, &d, dx, r, pc, 1);
    /* The old chain goes after the switch: what would refuse that is
     * refused now, --dry-run too. */
    if (p && p->remove.n && repl_check_removals_on(dr, d.uuid, p->dir, &p->remove) < 0) {
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
static int
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

/* --- execution ----------------------------------------------------------------- */

/* A file this run created, with its identity: undo removes only these. */
typedef struct {
    char *path;
    dev_t dev;
    ino_t ino;
} ReplMade;

typedef struct {
    HvConn *dr;
    HvConn *pc;
    const ReplPlan *p;
    Job *job;
    ReplMade *made;
    size_t nmade;
    int began;                  /* the backup job runs on the primary */
    int64_t t0;
    int disk;                   /* the disk being copied, for progress */
    int64_t copy_t0;
    int64_t last_ms;
    uint64_t moved;             /* data and zero bytes, all disks */
    uint64_t data;
    int succeeded;              /* a point was made */
    int planned;                /* a planned failover's final cycle (repl-planned.c) */
    int64_t copy_ms;            /* time spent moving data, all disks */
    char *expect;               /* the definition as last read or written (repl_define) */
    char jobid[37];             /* the job named in this run's journal */
} ReplRun;

static void
repl_step(ReplRun *x, int percent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
repl_step(ReplRun *x, int percent, const char *fmt, ...)
{
    UTIL_AUTOFREE char *s = NULL;
    va_list ap;

    if (!x->job)
        return;
    va_start(ap, fmt);
    s = util_xvasprintf(fmt, ap);
    va_end(ap);
    job_progress(x->job, percent, "%s", s);
}

static void
repl_made(ReplRun *x, const char *path)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return;
    x->made = util_xrealloc(x->made, (x->nmade + 1) * sizeof(*x->made));
    x->made[x->nmade].path = util_xstrdup(path);
    x->made[x->nmade].dev = st.st_dev;
    x->made[x->nmade].ino = st.st_ino;
    x->nmade++;
}

static void
repl_copy_progress(uint64_t done, uint64_t planned, void *opaque)
{
    ReplRun *x = opaque;
    int64_t now = util_mono_ms();
    const ReplPlanDisk *d = &x->p->disks[x->disk];
    double secs = (double)(now - x->copy_t0) / 1000.0;
    double rate = secs > 0 ? (double)done / secs : 0;
    int lo = 15 + 75 * x->disk / (int)x->p->ndisks;
    int hi = 15 + 75 * (x->disk + 1) / (int)x->p->ndisks;
    char sd[32], sp[32], sr[32];

    if (done < planned && now - x->last_ms < 500)
        return;
    x->last_ms = now;
    util_format_size(done, sd, sizeof(sd));
    util_format_size(planned, sp, sizeof(sp));
    util_format_size((uint64_t)rate, sr, sizeof(sr));
    if (rate > 0 && done < planned)
        repl_step(x, lo + (int)((hi - lo) * (planned ? (double)done / (double)planned : 1)),
                  "copying %s: %s of %s, %s/s, about %.0f s left", d->target, sd, sp, sr,
                  (double)(planned - done) / rate);
    else
        repl_step(x, lo + (int)((hi - lo) * (planned ? (double)done / (double)planned : 1)),
                  "copying %s: %s of %s", d->target, sd, sp);
}

/* The chains no deletion may touch: every disk of every domain here. */
static int
repl_load_keep(HvConn *dr, Chain ***keep, size_t *nkeep)
{
    return plan_keep_load_but(dr, NULL, keep, nkeep);
}

/* Before a merge or a resync changes anything: the files it deletes after
 * its switch pass every check of that deletion against the other domains
 * here (the replica's own chain uses them until the switch).  A disk of
 * another domain that cannot be resolved refuses here, with nothing
 * changed, rather than after the switch (issue 11, item 11). */
static int
repl_check_removals_on(HvConn *dr, const char *uuid, const char *dir,
                       const ReplicaDiskList *files)
{
    const char *exclude[2] = { uuid, NULL };
    Chain **keep = NULL;
    size_t nkeep = 0, i;
    int ret = 0;

    if (plan_keep_load_but(dr, exclude, &keep, &nkeep) < 0) {
        err_prefix("drover cannot tell which files the domains here use, so it deletes nothing");
        return -1;
    }
    for (i = 0; i < files->n && ret == 0; i++) {
        dev_t dev;
        ino_t ino;
        uint64_t size;

        if (chain_stat(files->v[i].file, &dev, &ino, &size) < 0 ||
            chain_discard_check(files->v[i].file, dev, ino, dir,
                                (const Chain *const *)keep, nkeep) < 0)
            ret = -1;
    }
    plan_keep_free(keep, nkeep);
    return ret;
}

static int
repl_check_removals(ReplRun *x, const ReplicaDiskList *files)
{
    return repl_check_removals_on(x->dr, x->p->uuid, x->p->dir, files);
}

/* Removes the files of this run (still the same inode) after a failure. */
static void
repl_undo_files(ReplRun *x)
{
    Chain **keep = NULL;
    size_t nkeep = 0, i;
    ErrInfo saved;

    err_save(&saved);
    if (x->nmade && repl_load_keep(x->dr, &keep, &nkeep) == 0) {
        for (i = x->nmade; i-- > 0;) {
            if (chain_discard(x->made[i].path, x->made[i].dev, x->made[i].ino, x->p->dir,
                              (const Chain *const *)keep, nkeep) < 0 && x->job)
                job_progress(x->job, -1, "warning: %s left in place: %s", x->made[i].path,
                             err_message());
        }
    }
    plan_keep_free(keep, nkeep);
    err_restore(&saved);
}

/* Temporary files an interrupted cycle left: ".<name>.tmp-XXXXXX" of one
 * of this plan's files, removed as any deletion is. */
static int
repl_remove_stale_temps(ReplRun *x)
{
    Chain **keep = NULL;
    size_t nkeep = 0, i;
    int ret = 0;

    for (i = 0; i < x->p->ndisks && ret == 0; i++) {
        const char *names[2] = { x->p->disks[i].file, x->p->disks[i].base };
        size_t k;

        for (k = 0; k < 2 && ret == 0; k++) {
            UTIL_AUTOFREE char *dir = NULL;
            UTIL_AUTOFREE char *prefix = NULL;
            struct dirent *e;
            DIR *dh;

            if (!names[k])
                continue;
            dir = util_dirname(names[k]);
            prefix = util_xasprintf(".%s.tmp-", strrchr(names[k], '/') + 1);
            if (!(dh = opendir(dir)))
                continue;
            while ((e = readdir(dh)) && ret == 0) {
                UTIL_AUTOFREE char *path = NULL;
                dev_t dev;
                ino_t ino;
                uint64_t size;

                /* Only names of the exact shape: mkstemp's six characters. */
                if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 ||
                    strlen(e->d_name) != strlen(prefix) + 6)
                    continue;
                path = util_xasprintf("%s/%s", dir, e->d_name);
                if (chain_stat(path, &dev, &ino, &size) < 0) {
                    err_clear();
                    continue;
                }
                if (!keep && repl_load_keep(x->dr, &keep, &nkeep) < 0) {
                    ret = -1;
                    break;
                }
                repl_step(x, 6, "removing %s, left by an interrupted cycle", path);
                ret = chain_discard(path, dev, ino, x->p->dir, (const Chain *const *)keep, nkeep);
            }
            closedir(dh);
        }
    }
    plan_keep_free(keep, nkeep);
    return ret;
}

/* A new file at a temporary name beside dest: its path and descriptor. */
static int
repl_tmp_create(ReplRun *x, const char *dest, char **tmp, int *fd)
{
    UTIL_AUTOFREE char *dir = util_dirname(dest);

    *tmp = util_xasprintf("%s/.%s.tmp-XXXXXX", dir, strrchr(dest, '/') + 1);
    *fd = mkostemp(*tmp, O_CLOEXEC);
    if (*fd < 0) {
        err_set_errno(0, errno, "cannot create a temporary file in %s", dir);
        free(*tmp);
        *tmp = NULL;
        return -1;
    }
    if (fchmod(*fd, 0600) < 0) {
        err_set_errno(0, errno, "cannot set the mode of %s", *tmp);
        return -1;
    }
    repl_made(x, *tmp);
    return 0;
}

/* Makes the temporary file durable and moves it to dest: never over an
 * existing file, except a base of an initial copy that an interrupted one
 * left (the replica's disk already names it, nothing else does). */
static int
repl_tmp_commit(ReplRun *x, const char *tmp, int fd, const char *dest, int may_replace)
{
    UTIL_AUTOFREE char *dir = util_dirname(dest);
    struct stat st;
    size_t i;
    int r;

    if (fsync(fd) < 0) {
        err_set_errno(0, errno, "cannot sync %s", tmp);
        return -1;
    }
    if (may_replace && lstat(dest, &st) == 0) {
        if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
            err_set(RESULT_ACCESS_DENIED, "%s is not a plain file of drover's: left in place", dest);
            return -1;
        }
        r = rename(tmp, dest);
    } else {
        r = renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RENAME_NOREPLACE);
    }
    if (r < 0) {
        err_set_errno(0, errno, "cannot rename %s to %s", tmp, dest);
        return -1;
    }
    for (i = 0; i < x->nmade; i++) {
        if (strcmp(x->made[i].path, tmp) == 0) {
            free(x->made[i].path);
            x->made[i].path = util_xstrdup(dest);
        }
    }
    return fsutil_fsync_dir(dir);
}

/* One disk: a layer (or the base) filled from the primary's export. */
static int
repl_copy_disk(ReplRun *x, const ReplPlanDisk *d, ReplCopyStats *st)
{
    const ReplPlan *p = x->p;
    UTIL_AUTOFREE char *bitmap = p->since ? util_xasprintf("backup-%s", d->target) : NULL;
    UTIL_AUTOFREE char *tmp = NULL;
    char sizebuf[32];
    ReplSource *src = NULL;
    int full = p->initial || p->resync;
    const char *dest = full ? d->base : d->file;
    uint64_t size;
    int fd = -1, ret = -1;

    if (!(src = repl_source_open(p->nbd, p->nbd_tls, d->target, bitmap)))
        goto out;
    size = repl_source_size(src);
    if (!full && size != d->size) {
        err_set(RESULT_INVALID_STATE, "disk %s of %s was resized on the primary (%llu bytes, "
                "the replica's %llu): a full resync is needed", d->target, p->vm,
                (unsigned long long)size, (unsigned long long)d->size);
        goto out;
    }
    if (repl_tmp_create(x, dest, &tmp, &fd) < 0)
        goto out;
    snprintf(sizebuf, sizeof(sizebuf), "%llu", (unsigned long long)size);
    {
        const char *args_base[] = { "create", "-q", "-f", "qcow2", tmp, sizebuf, NULL };
        const char *args_layer[] = { "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                                     d->backing, "-u", tmp, sizebuf, NULL };

        if (chain_run_qemu_img(full ? args_base : args_layer, NULL, NULL) < 0)
            goto out;
    }
    x->copy_t0 = util_mono_ms();
    x->last_ms = 0;
    if (repl_copy(src, tmp, full, repl_copy_progress, x, st) < 0)
        goto out;
    x->copy_ms += util_mono_ms() - x->copy_t0;
    /* Only an initial copy's own base may be replaced (see repl_tmp_commit);
     * a resync's base is new, its name unused. */
    if (repl_tmp_commit(x, tmp, fd, dest, p->initial) < 0)
        goto out;
    if (full) {
        /* The empty first point on the base, as every later point is on
         * the one before it. */
        if (chain_create_overlay(d->base, d->file) < 0)
            goto out;
        repl_made(x, d->file);
    }
    ret = 0;

out:
    if (fd >= 0)
        close(fd);
    repl_source_close(src);
    return ret;
}

/* The definitions handed to libvirt (backup, checkpoint) are written with
 * libxml2's writer, which escapes every value: a writer into a buffer,
 * indented as libvirt's own documents. */
static xmlTextWriterPtr
repl_xml_begin(xmlBufferPtr *buf)
{
    xmlTextWriterPtr w = NULL;

    if (!(*buf = xmlBufferCreate()) || !(w = xmlNewTextWriterMemory(*buf, 0))) {
        xmlBufferFree(*buf);
        *buf = NULL;
        err_set(RESULT_OUT_OF_MEMORY, "no memory for libxml2's writer");
        return NULL;
    }
    if (xmlTextWriterSetIndent(w, 1) < 0 || xmlTextWriterSetIndentString(w, BAD_CAST "  ") < 0) {
        xmlFreeTextWriter(w);
        xmlBufferFree(*buf);
        *buf = NULL;
        err_set(RESULT_FAILED, "libxml2's writer refused its settings");
        return NULL;
    }
    return w;
}

/* The document w wrote (bad: a call of the writer failed); frees w and
 * buf.  NULL with err set naming what. */
static char *
repl_xml_end(xmlBufferPtr buf, xmlTextWriterPtr w, int bad, const char *what)
{
    char *ret = NULL;

    bad |= xmlTextWriterFlush(w) < 0;
    xmlFreeTextWriter(w);
    if (bad)
        err_set(RESULT_FAILED, "libxml2 could not write the %s definition", what);
    else
        ret = util_xstrdup((const char *)xmlBufferContent(buf));
    xmlBufferFree(buf);
    return ret;
}

/* <disk name='TARGET' checkpoint='bitmap'/> per disk: the checkpoint of
 * the point description names. */
char *
repl_checkpoint_doc(const char *name, const char *description, const char *const *targets,
                    size_t n)
{
    xmlBufferPtr buf = NULL;
    xmlTextWriterPtr w = repl_xml_begin(&buf);
    size_t i;
    int bad = 0;

    if (!w)
        return NULL;
    bad |= xmlTextWriterStartElement(w, BAD_CAST "domaincheckpoint") < 0;
    bad |= xmlTextWriterWriteElement(w, BAD_CAST "name", BAD_CAST name) < 0;
    bad |= xmlTextWriterWriteElement(w, BAD_CAST "description", BAD_CAST description) < 0;
    bad |= xmlTextWriterStartElement(w, BAD_CAST "disks") < 0;
    for (i = 0; i < n; i++) {
        bad |= xmlTextWriterStartElement(w, BAD_CAST "disk") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST targets[i]) < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "checkpoint", BAD_CAST "bitmap") < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
    }
    bad |= xmlTextWriterEndElement(w) < 0;
    bad |= xmlTextWriterEndElement(w) < 0;
    return repl_xml_end(buf, w, bad, "checkpoint");
}

static char *
repl_backup_xml(const ReplPlan *p, const char *incremental)
{
    xmlBufferPtr buf = NULL;
    xmlTextWriterPtr w = repl_xml_begin(&buf);
    size_t i;
    int bad = 0;

    if (!w)
        return NULL;
    bad |= xmlTextWriterStartElement(w, BAD_CAST "domainbackup") < 0;
    bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "mode", BAD_CAST "pull") < 0;
    if (incremental)
        bad |= xmlTextWriterWriteElement(w, BAD_CAST "incremental", BAD_CAST incremental) < 0;
    bad |= xmlTextWriterStartElement(w, BAD_CAST "server") < 0;
    if (strncmp(p->nbd, "unix:", 5) == 0) {
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "transport", BAD_CAST "unix") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "socket", BAD_CAST (p->nbd + 5)) < 0;
    } else {
        const char *colon = strrchr(p->nbd, ':');
        UTIL_AUTOFREE char *host = util_xstrndup(p->nbd, (size_t)(colon - p->nbd));

        if (host[0] == '[' && host[strlen(host) - 1] == ']') {
            memmove(host, host + 1, strlen(host));
            host[strlen(host) - 1] = '\0';
        }
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "transport", BAD_CAST "tcp") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST host) < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "port", BAD_CAST (colon + 1)) < 0;
        /* The primary's backup_tls_x509_* settings in qemu.conf. */
        if (p->nbd_tls)
            bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "tls", BAD_CAST "yes") < 0;
    }
    bad |= xmlTextWriterEndElement(w) < 0;
    bad |= xmlTextWriterStartElement(w, BAD_CAST "disks") < 0;
    for (i = 0; i < p->ndisks; i++) {
        /* The scratch file holds what the guest overwrites while the
         * export is read; on the primary, beside its disk (where libvirt
         * would put it too), removed by libvirt when the job ends. */
        UTIL_AUTOFREE char *scratch = util_xasprintf("%s.%s.scratch", p->disks[i].primary_file,
                                                     p->checkpoint);

        bad |= xmlTextWriterStartElement(w, BAD_CAST "disk") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST p->disks[i].target) < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "backup", BAD_CAST "yes") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "file") < 0;
        bad |= xmlTextWriterStartElement(w, BAD_CAST "scratch") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "file", BAD_CAST scratch) < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
    }
    bad |= xmlTextWriterEndElement(w) < 0;
    bad |= xmlTextWriterEndElement(w) < 0;
    return repl_xml_end(buf, w, bad, "backup");
}

static char *
repl_checkpoint_xml(const ReplPlan *p)
{
    UTIL_AUTOFREE char *desc = util_xasprintf("drover recovery point %s", p->point);
    const char **targets = util_xcalloc(p->ndisks + 1, sizeof(*targets));
    char *ret;
    size_t i;

    for (i = 0; i < p->ndisks; i++)
        targets[i] = p->disks[i].target;
    ret = repl_checkpoint_doc(p->checkpoint, desc, targets, p->ndisks);
    free(targets);
    return ret;
}

/* Deletes drover's checkpoints on the primary other than keep (NULL: all
 * of them).  Only names drover gives ("drover.N"). */
static int
repl_delete_checkpoints(ReplRun *x, const char *keep, int percent)
{
    char **cps = hv_checkpoint_names(x->pc, x->p->uuid);
    size_t i;
    int ret = 0;

    if (!cps)
        return -1;
    for (i = 0; cps[i] && ret == 0; i++) {
        if (!repl_is_ours(cps[i]) || (keep && strcmp(cps[i], keep) == 0))
            continue;
        repl_step(x, percent, "deleting checkpoint %s on the primary", cps[i]);
        ret = hv_checkpoint_delete(x->pc, x->p->uuid, cps[i]);
        if (ret < 0 && x->p->resync) {
            /* A resync replaces every checkpoint: one whose bitmap a crash
             * lost cannot be deleted normally, so libvirt forgets it. */
            repl_step(x, percent, "checkpoint %s cannot be deleted (%s): libvirt forgets it "
                      "(its bitmap is broken or gone)", cps[i], err_message());
            err_clear();
            ret = hv_checkpoint_delete_flags(x->pc, x->p->uuid, cps[i], 1);
        }
    }
    hv_strv_free(cps);
    return ret;
}

/* A backup job of drover's that a killed cycle left running on the
 * primary (its scratch files carry drover's checkpoint names): ended, so
 * this cycle can start its own.  Anyone else's job is refused with 32774. */
static int
repl_end_stale_job(ReplRun *x)
{
    UTIL_AUTOFREE char *xml = hv_backup_xml(x->pc, x->p->uuid);

    if (!xml)
        return err_code() ? -1 : 0;
    if (!strstr(xml, "." REPL_CHECKPOINT_PREFIX) || !strstr(xml, ".scratch")) {
        err_set(RESULT_IN_USE, "another backup job runs on the primary's %s (not drover's): "
                "a cycle waits until it ends", x->p->vm);
        return -1;
    }
    repl_step(x, 7, "ending a backup job an interrupted cycle left on the primary");
    return hv_backup_abort(x->pc, x->p->uuid);
}

/* Retention: merges the oldest point into the base while there are more
 * than the record keeps.  Per merge: journal (the layers to delete, with
 * their inodes); qemu-img commit of the oldest layer into the base (no
 * view changes: the layer still covers what it commits); the next point
 * rebased onto the base (-u: same content); ONE define drops the point
 * (journal "switched"); the layers deleted; the journal closed.  A crash
 * anywhere leaves every point reading as before; repair finishes or undoes
 * it. */
static int
repl_retain(ReplRun *x, DomXml *dx, Replica *rec)
{
    Chain **keep = NULL;
    size_t nkeep = 0, i;
    UTIL_AUTOFREE char *jobid = NULL;
    int ret = -1, journaled = 0;

    while (rec->npoints > (size_t)rec->repl->points && rec->npoints > 1) {
        ReplicaPoint *old = &rec->points[0], *next = &rec->points[1];
        ReplicaJournal *j;
        char id[37];

        /* A test system reads the base too: nothing is merged under it. */
        if (rec->test) {
            err_set(RESULT_IN_USE, "the test system %s runs on %s's chain: %s is merged after "
                    "stop-test", rec->test->domain, rec->test->point ? rec->test->point : "a point",
                    old->id);
            goto out;
        }
        if (repl_check_removals(x, &old->disks) < 0) {
            err_prefix("%s is not merged", old->id);
            goto out;
        }
        repl_step(x, 98, "retention: merging %s into the base (%d points kept)", old->id,
                  rec->repl->points);
        j = rec->journal = util_xcalloc(1, sizeof(*j));
        j->op = util_xstrdup("replicate");
        if (x->job)
            util_strlcpy(id, job_id(x->job), sizeof(id));
        else
            job_new_uuid(id);
        j->job = util_xstrdup(id);
        j->step = util_xstrdup("prepared");
        j->time = util_now();
        j->from_state = j->to_state = rec->state;
        for (i = 0; i < old->disks.n; i++) {
            dev_t dev;
            ino_t ino;
            uint64_t size;

            if (chain_stat(old->disks.v[i].file, &dev, &ino, &size) < 0)
                goto out;
            replica_disk_list_add(&j->remove, old->disks.v[i].target, old->disks.v[i].file,
                                  (uint64_t)ino);
        }
        if (repl_define(x->dr, dx, rec, &x->expect) < 0)
            goto out;
        journaled = 1;
        ops_fault_point("retain", "journal");
        for (i = 0; i < old->disks.n; i++) {
            const ReplicaDisk *od = &old->disks.v[i];
            const ReplicaDisk *nd = replica_disk_list_find(&next->disks, od->target);
            const char *args[] = { "commit", "-q", "-d", od->file, NULL };
            ChainHeader h;
            UTIL_AUTOFREE char *base = NULL;

            memset(&h, 0, sizeof(h));
            if (!nd || chain_read_header(od->file, &h) < 0 || !h.backing_name) {
                if (!err_code())
                    err_set(RESULT_INCORRECT_TYPE, "%s has no backing file: nothing to merge into",
                            od->file);
                chain_header_clear(&h);
                goto out;
            }
            base = util_xstrdup(h.backing_name);
            chain_header_clear(&h);
            if (chain_run_qemu_img(args, NULL, NULL) < 0) {
                err_prefix("merging %s into %s", od->file, base);
                goto out;
            }
            ops_fault_point("retain", "committed");
            if (chain_rebase_unsafe(nd->file, base) < 0)
                goto out;
        }
        ops_fault_point("retain", "rebased");
        /* The point goes; the journal says its layers go next. */
        free(rec->journal->step);
        rec->journal->step = util_xstrdup("switched");
        {
            ReplicaPoint gone = *old;

            memmove(&rec->points[0], &rec->points[1], (rec->npoints - 1) * sizeof(*rec->points));
            rec->npoints--;
            if (repl_define(x->dr, dx, rec, &x->expect) < 0) {
                /* Not switched: the point is still in the record. */
                memmove(&rec->points[1], &rec->points[0], rec->npoints * sizeof(*rec->points));
                rec->points[0] = gone;
                rec->npoints++;
                goto out;
            }
            ops_fault_point("retain", "switched");
            journaled = 2;
            plan_keep_free(keep, nkeep);
            keep = NULL;
            if (repl_load_keep(x->dr, &keep, &nkeep) < 0) {
                free(gone.id);
                free(gone.checkpoint);
                replica_disk_list_clear(&gone.disks);
                goto out;
            }
            for (i = 0; i < rec->journal->remove.n; i++) {
                const ReplicaDisk *d = &rec->journal->remove.v[i];
                dev_t dev;
                ino_t ino;
                uint64_t size;

                if (chain_stat(d->file, &dev, &ino, &size) < 0 ||
                    chain_discard(d->file, dev, (ino_t)d->inode, x->p->dir,
                                  (const Chain *const *)keep, nkeep) < 0)
                    break;
            }
            free(gone.id);
            free(gone.checkpoint);
            replica_disk_list_clear(&gone.disks);
            if (i < rec->journal->remove.n)
                goto out;
        }
        replica_journal_free(rec->journal);
        rec->journal = NULL;
        if (repl_define(x->dr, dx, rec, &x->expect) < 0)
            goto out;
        journaled = 0;
    }
    ret = 0;

out:
    if (ret < 0 && journaled == 1) {
        /* Failed before its switch: every point reads as before (a partly
         * merged base is covered by the layer above it); close the journal
         * so the replica is not left "interrupted".  After the switch the
         * journal stays for repair, which deletes the merged layers. */
        ErrInfo saved;

        err_save(&saved);
        jobid = util_xstrdup(rec->journal->job);
        replica_journal_free(rec->journal);
        rec->journal = NULL;
        if (repl_define_back(x->dr, dx, rec, jobid, &x->expect) < 0 && x->job)
            job_progress(x->job, -1, "warning: the retention's journal stays (drover repair "
                         "%s): %s", x->p->vm, err_message());
        err_restore(&saved);
    } else if (ret < 0 && rec->journal && journaled == 0) {
        /* Not defined: the record in memory goes back to what libvirt has. */
        replica_journal_free(rec->journal);
        rec->journal = NULL;
    }
    plan_keep_free(keep, nkeep);
    return ret;
}

/* Whether the cycle should try an application-consistent point. */
static int
repl_app_due(const Replica *r, int64_t now)
{
    int64_t last = 0;
    size_t i;

    if (!r->repl || r->repl->app_every <= 0)
        return 0;
    for (i = 0; i < r->npoints; i++)
        if (r->points[i].type == RP_TYPE_APP_CONSISTENT && r->points[i].time > last)
            last = r->points[i].time;
    return !last || now - last >= r->repl->app_every;
}

/* Thaws the guest; a failure is said (the guest stays frozen until its
 * agent's own timeout) and the point is not called app-consistent. */
static int
repl_thaw(ReplRun *x)
{
    if (hv_fs_thaw(x->pc, x->p->uuid) == 0)
        return 0;
    if (x->job)
        job_progress(x->job, -1, "warning: %s", err_message());
    err_clear();
    return -1;
}

/* After a resync's switch: the old chain's files (the very files the
 * journal names, by inode) deleted, then the journal closed with one
 * define.  -1 with err set leaves the journal for drover repair. */
static int
repl_resync_finish(ReplRun *x, DomXml *dx, Replica *rec)
{
    Chain **keep = NULL;
    size_t nkeep = 0, i;
    int ret = -1;

    if (repl_load_keep(x->dr, &keep, &nkeep) < 0)
        goto out;
    for (i = 0; i < rec->journal->remove.n; i++) {
        const ReplicaDisk *d = &rec->journal->remove.v[i];
        dev_t dev;
        ino_t ino;
        uint64_t size;

        if (chain_stat(d->file, &dev, &ino, &size) < 0) {
            if (err_code() != RESULT_FILE_NOT_FOUND)
                goto out;
            err_clear();
            continue;
        }
        repl_step(x, 98, "deleting %s (old chain)", d->file);
        if (chain_discard(d->file, dev, (ino_t)d->inode, x->p->dir, (const Chain *const *)keep,
                          nkeep) < 0)
            goto out;
        ops_fault_point("resync", "deleting");
    }
    replica_journal_free(rec->journal);
    rec->journal = NULL;
    if (repl_define(x->dr, dx, rec, &x->expect) < 0)
        goto out;
    ret = 0;

out:
    plan_keep_free(keep, nkeep);
    return ret;
}

/* Runs plan p (built under the lock) on replica dx/r.  Returns 0 or -1
 * with err set, everything of this run undone. */
static int
repl_run(ReplRun *x, DomXml *dx, const Replica *r)
{
    const ReplPlan *p = x->p;
    UTIL_AUTOFREE char *bxml = NULL;
    UTIL_AUTOFREE char *cxml = NULL;
    Replica *rec = replica_copy(r);
    ReplicaJournal *j;
    ReplicaPoint *pt;
    ReplCopyStats total, st;
    int64_t when;
    size_t i;
    int switched = 0, app = 0;
    char sdata[32], szero[32];
    const char *op = p->resync ? "resync" : "replicate";

    memset(&total, 0, sizeof(total));
    /* 1. Stale leftovers of an interrupted cycle (ours by name), and the
     *    checkpoints no point records (a cycle that failed after
     *    BackupBegin): the incremental below merges their bitmaps. */
    if (repl_remove_stale_temps(x) < 0)
        goto fail;
    if (repl_end_stale_job(x) < 0)
        goto fail;
    if (repl_delete_checkpoints(x, p->since, 8) < 0) {
        err_prefix("cannot remove checkpoints no recovery point records");
        goto fail;
    }
    if (p->remove.n && repl_check_removals(x, &p->remove) < 0) {
        err_prefix("the old chain of %s could not be deleted after the resync; nothing was "
                   "changed", p->vm);
        goto fail;
    }
    /* 2. The journal: what this cycle creates, written before it does. */
    repl_step(x, 10, "journal: %s of %s begins",
              p->resync ? "resync" : p->initial ? "initial copy" : "cycle", p->vm);
    j = rec->journal = util_xcalloc(1, sizeof(*j));
    j->op = util_xstrdup(op);
    {
        char id[37];
        if (x->job)
            util_strlcpy(id, job_id(x->job), sizeof(id));
        else
            job_new_uuid(id);
        j->job = util_xstrdup(id);
        util_strlcpy(x->jobid, id, sizeof(x->jobid));
    }
    j->step = util_xstrdup("prepared");
    j->time = util_now();
    j->from_state = p->from_state;
    j->to_state = p->to_state;
    j->point = util_xstrdup(p->since_point);
    for (i = 0; i < p->ndisks; i++) {
        /* A resync's new base is this run's too: repair removes it. */
        if (p->resync)
            replica_disk_list_add(&j->create, p->disks[i].target, p->disks[i].base, 0);
        replica_disk_list_add(&j->create, p->disks[i].target, p->disks[i].file, 0);
    }
    for (i = 0; i < p->remove.n; i++) {
        dev_t dev;
        ino_t ino;
        uint64_t size;

        /* The old chain's files with their identity now: after the switch
         * only these very files are deleted. */
        if (chain_stat(p->remove.v[i].file, &dev, &ino, &size) < 0)
            goto fail;
        replica_disk_list_add(&j->remove, p->remove.v[i].target, p->remove.v[i].file,
                              (uint64_t)ino);
    }
    rec->state = p->initial ? STATE_WAITING_INITIAL : p->resync ? STATE_RESYNCING : rec->state;
    if (repl_define(x->dr, dx, rec, &x->expect) < 0)
        goto fail;
    ops_fault_point(op, "journal");
    /* 3. The instant of the point: every disk in one backup job. */
    if (!(bxml = repl_backup_xml(p, p->since)) || !(cxml = repl_checkpoint_xml(p)))
        goto undo;
    /* An application-consistent point: the guest's file systems frozen
     * around BackupBegin only (the point in time is fixed when the job
     * starts), thawed at once.  Without the agent the point is standard,
     * and the job says why. */
    if (!x->planned && repl_app_due(r, util_now())) {
        repl_step(x, 11, "freezing the guest's file systems for an application-consistent point");
        if (hv_fs_freeze(x->pc, p->uuid) == 0) {
            app = 1;
        } else {
            repl_step(x, 11, "not application-consistent (this point is standard): %s",
                      err_message());
            err_clear();
        }
    }
    repl_step(x, 12, "backup job on the primary: %s with checkpoint %s",
              p->since ? "changes since" : "full copy", p->checkpoint);
    when = util_now();
    if (hv_backup_begin(x->pc, p->uuid, bxml, cxml) < 0) {
        if (p->since && err_get()->virt_code == REPL_VIRT_CHECKPOINT_INCONSISTENT) {
            UTIL_AUTOFREE char *why = util_xstrdup(err_get()->virt_msg);

            err_set(RESULT_INVALID_STATE, "checkpoint %s of the newest point %s is inconsistent "
                    "on the primary (%s; its qemu stopped without storing its bitmaps, a crash): "
                    "the changes since it are unknown; a full resync is needed (drover resync "
                    "%s)", p->since, p->since_point, why, p->vm);
        } else {
            err_prefix("the primary refused the backup of %s", p->vm);
        }
        if (app)
            repl_thaw(x);
        goto undo;
    }
    x->began = 1;
    if (app && repl_thaw(x) < 0)
        app = 0;
    ops_fault_point(op, "begun");
    /* 4. The layers. */
    for (i = 0; i < p->ndisks; i++) {
        x->disk = (int)i;
        repl_step(x, 15 + 75 * (int)i / (int)p->ndisks, "copying %s from the primary (%s)",
                  p->disks[i].target, p->since ? "changed blocks" : "full copy");
        if (repl_copy_disk(x, &p->disks[i], &st) < 0) {
            err_prefix("disk %s", p->disks[i].target);
            goto undo;
        }
        total.planned += st.planned;
        total.data += st.data;
        total.zeroed += st.zeroed;
        total.skipped += st.skipped;
        total.size += st.size;
    }
    ops_fault_point(op, "copied");
    /* 5. ONE define: the point, the disks on it, the state, the journal
     *    closed (a resync's stays, "switched", until the old chain is gone). */
    if (p->resync) {
        for (i = 0; i < rec->npoints; i++) {
            free(rec->points[i].id);
            free(rec->points[i].checkpoint);
            replica_disk_list_clear(&rec->points[i].disks);
        }
        rec->npoints = 0;
    }
    rec->points = util_xrealloc(rec->points, (rec->npoints + 1) * sizeof(*rec->points));
    pt = &rec->points[rec->npoints++];
    memset(pt, 0, sizeof(*pt));
    pt->id = util_xstrdup(p->point);
    pt->time = when;
    /* A planned point is taken from a primary shut down cleanly. */
    pt->type = x->planned ? RP_TYPE_PLANNED : app ? RP_TYPE_APP_CONSISTENT : RP_TYPE_STANDARD;
    pt->checkpoint = util_xstrdup(p->checkpoint);
    for (i = 0; i < p->ndisks; i++) {
        replica_disk_list_add(&pt->disks, p->disks[i].target, p->disks[i].file, 0);
        if (domxml_set_disk_source(dx, p->disks[i].target, p->disks[i].file) < 0)
            goto undo;
    }
    rec->state = p->to_state;
    if (p->resync) {
        free(rec->journal->step);
        rec->journal->step = util_xstrdup("switched");
    } else {
        replica_journal_free(rec->journal);
        rec->journal = NULL;
    }
    repl_step(x, 92, "switching %s to %s", p->vm, p->point);
    if (repl_define(x->dr, dx, rec, &x->expect) < 0)
        goto undo;
    switched = 1;
    ops_fault_point(op, "switched");
    /* 6. The backup job ends; only now may older checkpoints go. */
    repl_step(x, 95, "ending the backup job on the primary");
    if (hv_backup_abort(x->pc, p->uuid) < 0 && x->job)
        job_progress(x->job, -1, "warning: %s (the next cycle ends it)", err_message());
    x->began = 0;
    ops_fault_point(op, "ended");
    if (repl_delete_checkpoints(x, p->checkpoint, 97) < 0 && x->job)
        job_progress(x->job, -1, "warning: %s (the next cycle deletes it)", err_message());
    err_clear();
    if (p->resync && repl_resync_finish(x, dx, rec) < 0) {
        /* The new chain is in and complete; only old files remain. */
        if (x->job)
            job_progress(x->job, -1, "warning: the old chain is not deleted yet (drover repair "
                         "%s deletes it): %s", p->vm, err_message());
        err_clear();
    }
    if (!p->resync && rec->repl && rec->repl->points > 0 && rec->npoints > (size_t)rec->repl->points) {
        /* The new point is in; retention failing leaves more points than
         * asked, never fewer: the cycle still succeeded. */
        if (repl_retain(x, dx, rec) < 0 && x->job)
            job_progress(x->job, -1, "warning: older points not merged: %s", err_message());
        err_clear();
    }
    x->moved = total.data + total.zeroed;
    x->data = total.data;
    x->succeeded = 1;
    util_format_size(total.data, sdata, sizeof(sdata));
    util_format_size(total.zeroed, szero, sizeof(szero));
    repl_step(x, 100, "%s (%s) of %s: %s of data and %s of zeroes copied for %zu disk%s in %.1f s "
              "(copying %.1f s); state %d %s", p->point, replica_rp_type_name(pt->type), p->vm,
              sdata, szero, p->ndisks,
              p->ndisks == 1 ? "" : "s", (double)(util_mono_ms() - x->t0) / 1000.0,
              (double)x->copy_ms / 1000.0, p->to_state, state_name(p->to_state));
    replica_free(rec);
    return 0;

undo:
    {
        ErrInfo saved;

        err_save(&saved);
        if (x->began && hv_backup_abort(x->pc, p->uuid) == 0)
            x->began = 0;
        if (!switched) {
            Replica *back = replica_copy(r);

            repl_undo_files(x);
            const ReplicaPoint *np = replica_newest_point(r);

            /* The definition as it was: disks and record. */
            for (i = 0; i < p->ndisks; i++) {
                const ReplicaDisk *od = p->resync && np ?
                    replica_disk_list_find(&np->disks, p->disks[i].target) : NULL;

                domxml_set_disk_source(dx, p->disks[i].target,
                                       od ? od->file : p->initial ? p->disks[i].base
                                                                  : p->disks[i].backing);
            }
            back->state = p->initial ? STATE_WAITING_INITIAL : r->state;
            if (repl_define_back(x->dr, dx, back, x->jobid, &x->expect) < 0 && x->job)
                job_progress(x->job, -1, "warning: the journal stays (drover repair %s): %s",
                             p->vm, err_message());
            replica_free(back);
        }
        err_restore(&saved);
    }
fail:
    replica_free(rec);
    return -1;
}

/* A cycle of replica d with its lock held. */
static void repl_stats_note(const Replica *r, const char *uuid, int code, const char *message,
                            uint64_t moved, int64_t ms);

/* A cycle, or with resync a resync whose confirmed plan had digest
 * confirmed, of replica d with its lock held. */
static int
repl_cycle_locked(HvConn *dr, const char *host, const HvDomain *d, const ReplArgs *a, Job *job,
                  char **digest, int resync, const char *confirmed)
{
    ReplRun x;
    Replica *r = NULL;
    DomXml *dx = NULL;
    ReplPlan *p = NULL;
    HvDomain now;
    int ret = -1;
    size_t i;

    memset(&x, 0, sizeof(x));
    memset(&now, 0, sizeof(now));
    x.dr = dr;
    x.job = job;
    x.planned = a && a->planned;
    x.t0 = util_mono_ms();
    /* Under the lock: read again, and the power state with it. */
    if (hv_lookup(dr, d->uuid, 0, &now) < 0 ||
        !(dx = repl_read(dr, d->uuid, d->name, &r, &x.expect)))
        goto out;
    if (r->journal ||
        (resync ? repl_check_resync(r, now.name) : repl_check_state(r, now.name)) < 0 ||
        now.power != HV_POWER_OFF || !r->repl) {
        err_clear();
        p = repl_plan_build(dr, host, &now, dx, r, NULL, resync);
        goto out;
    }
    if (!(x.pc = repl_primary_open(r->primary_uri))) {
        err_prefix("%s of %s", resync ? "resync" : "replication", now.name);
        goto out;
    }
    if (!(p = repl_plan_build(dr, host, &now, dx, r, x.pc, resync)))
        goto out;
    *digest = util_xstrdup(p->digest);
    if (confirmed && strcmp(confirmed, p->digest) != 0) {
        err_set(RESULT_INVALID_STATE, "the plan for %s changed since it was shown (a cycle ran, "
                "or the chain or the primary changed): nothing was done; plan again", now.name);
        err_hint(RESULT_HINT_PLAN_CHANGED);
        goto out;
    }
    x.p = p;
    ret = repl_run(&x, dx, r);

out:
    if (ret < 0 && !err_code())
        err_set(RESULT_FAILED, "replication of %s failed", d->name);
    if (r && r->repl) {
        ErrInfo saved;

        err_save(&saved);
        repl_stats_note(r, d->uuid, ret < 0 ? repl_code() : 0, ret < 0 ? saved.message : NULL,
                        x.moved, util_mono_ms() - x.t0);
        err_restore(&saved);
    }
    for (i = 0; i < x.nmade; i++)
        free(x.made[i].path);
    free(x.made);
    free(x.expect);
    hv_close(x.pc);
    repl_plan_free(p);
    replica_free(r);
    domxml_free(dx);
    hv_domain_clear(&now);
    return ret < 0 ? repl_code() : 0;
}

/* A cycle or a resync of vm under its lock, audited. */
static int
repl_lock_run(HvConn *dr, const char *host, const char *vm, const ReplArgs *a, Job *job,
              int resync, const char *confirmed)
{
    const char *opname = resync ? "resync" : "replicate";
    UTIL_AUTOFREE char *self = lock_describe_self();
    UTIL_AUTOFREE char *holder = NULL;
    UTIL_AUTOFREE char *lockpath = NULL;
    UTIL_AUTOFREE char *digest = NULL;
    LockHandle *lk = NULL;
    Replica *r = NULL;
    DomXml *dx = NULL;
    HvDomain d;
    int code;

    if (hv_lookup(dr, vm, 0, &d) < 0)
        return repl_code();
    if ((code = repl_writable(dr, opname, d.name)) != 0)
        goto out;
    if (!(dx = repl_read(dr, d.uuid, d.name, &r, NULL))) {
        code = repl_code();
        goto out;
    }
    if (!(lockpath = replica_lock_path(r, d.uuid))) {
        err_set(RESULT_NOT_SUPPORTED, "%s is not replicated by drover (no <replication> and no "
                "points): use enable-replication", d.name);
        code = RESULT_NOT_SUPPORTED;
        goto out;
    }
    holder = util_xasprintf("%s, %s of %s, job %s", self,
                            resync ? "resync" : "replication cycle", d.name,
                            job ? job_id(job) : "none");
    if (job)
        job_progress(job, 1, "locking %s", d.name);
    if (!(lk = lock_acquire(lockpath, holder))) {
        err_prefix("%s", d.name);
        code = repl_code();
        goto out;
    }
    code = repl_cycle_locked(dr, host, &d, a, job, &digest, resync, confirmed);

out:
    repl_audit(a, host, d.name, opname, digest, job, code);
    lock_release(lk);
    replica_free(r);
    domxml_free(dx);
    hv_domain_clear(&d);
    return code;
}

int
repl_cycle(HvConn *dr, const char *host, const char *vm, const ReplArgs *a, Job *job)
{
    return repl_lock_run(dr, host, vm, a, job, 0, NULL);
}

int
repl_resync(HvConn *dr, const char *host, const char *vm, const char *digest,
            const ReplArgs *a, Job *job)
{
    return repl_lock_run(dr, host, vm, a, job, 1, digest);
}

int
repl_initial_locked(HvConn *dr, const char *host, const char *uuid, const ReplArgs *a, Job *job)
{
    UTIL_AUTOFREE char *digest = NULL;
    HvDomain d;
    int code;

    if (hv_lookup(dr, uuid, 0, &d) < 0)
        return repl_code();
    code = repl_cycle_locked(dr, host, &d, a, job, &digest, 0, NULL);
    hv_domain_clear(&d);
    return code;
}

/* The replica was not defined: its NVRAM copy goes (the same inode, as
 * any deletion); the define's error stays the one reported. */
static void
repl_enable_undo_nvram(HvConn *dr, const ReplPlan *p, dev_t dev, ino_t ino)
{
    Chain **keep = NULL;
    size_t nkeep = 0;
    ErrInfo saved;

    err_save(&saved);
    if (repl_load_keep(dr, &keep, &nkeep) == 0)
        chain_discard(p->nvram, dev, ino, p->dir, (const Chain *const *)keep, nkeep);
    plan_keep_free(keep, nkeep);
    err_restore(&saved);
}

int
repl_enable(HvConn *dr, const ReplPlan *confirmed, const ReplArgs *a, Job *job)
{
    UTIL_AUTOFREE char *self = lock_describe_self();
    UTIL_AUTOFREE char *holder = NULL;
    UTIL_AUTOFREE char *lockpath = NULL;
    UTIL_AUTOFREE char *digest = NULL;
    ReplEnableArgs ea;
    ReplPlan *p = NULL;
    LockHandle *lk = NULL;
    HvDomain d;
    dev_t nv_dev = 0;
    ino_t nv_ino = 0;
    int code = 0, nv_made = 0;

    memset(&d, 0, sizeof(d));
    if ((code = repl_writable(dr, "enable-replication", confirmed->vm)) != 0)
        goto out;
    if (job)
        job_progress(job, 1, "creating %s", confirmed->dir);
    if (fsutil_mkdirs(confirmed->dir, 0750) < 0) {
        code = repl_code();
        goto out;
    }
    lockpath = util_xasprintf("%s/.drover-%s.lock", confirmed->dir, confirmed->uuid);
    holder = util_xasprintf("%s, enable-replication of %s, job %s", self, confirmed->vm,
                            job ? job_id(job) : "none");
    if (!(lk = lock_acquire(lockpath, holder))) {
        err_prefix("%s", confirmed->vm);
        code = repl_code();
        goto out;
    }
    /* What runs is what was confirmed. */
    memset(&ea, 0, sizeof(ea));
    ea.vm = confirmed->uuid;
    ea.from = confirmed->primary_uri;
    ea.dir = confirmed->dir;
    ea.nbd = confirmed->nbd;
    ea.nbd_tls = confirmed->nbd_tls;
    ea.name = strcmp(confirmed->vm, confirmed->primary_vm) ? confirmed->vm : NULL;
    ea.interval = confirmed->interval;
    ea.points = confirmed->points;
    ea.app_every = confirmed->app_every;
    ea.netmap = (const char *const *)confirmed->netmap;
    ea.nnetmap = confirmed->nnetmap;
    ea.netmap_from = confirmed->netmap_from;
    if (!(p = repl_plan_enable(dr, confirmed->host, &ea))) {
        code = repl_code();
        goto out;
    }
    if (strcmp(p->digest, confirmed->digest) != 0) {
        err_set(RESULT_INVALID_STATE, "the plan for %s changed since it was shown (the primary's "
                "definition or the DR host changed): nothing was done; plan again", confirmed->vm);
        err_hint(RESULT_HINT_PLAN_CHANGED);
        code = RESULT_INVALID_STATE;
        goto out;
    }
    if (p->primary_nvram) {
        if (job)
            job_progress(job, 2, "copying the NVRAM %s to %s", p->primary_nvram, p->nvram);
        if (repl_copy_nvram(p, &nv_dev, &nv_ino) < 0) {
            code = repl_code();
            goto out;
        }
        nv_made = 1;
    }
    if (job)
        job_progress(job, 3, "defining the replica %s (state 1 Ready)", p->vm);
    if (hv_define(dr, p->domxml) < 0) {
        err_prefix("cannot define the replica %s", p->vm);
        code = repl_code();
        if (nv_made)
            repl_enable_undo_nvram(dr, p, nv_dev, nv_ino);
        goto out;
    }
    if (hv_lookup(dr, p->uuid, 0, &d) < 0) {
        code = repl_code();
        goto out;
    }
    code = repl_cycle_locked(dr, p->host, &d, a, job, &digest, 0, NULL);
    if (code)
        err_prefix("the replica %s is defined (state 2, initial copy pending: drover replicate "
                   "%s runs it again)", p->vm, p->vm);

out:
    repl_audit(a, confirmed->host, confirmed->vm, "enable-replication", confirmed->digest, job,
               code);
    lock_release(lk);
    repl_plan_free(p);
    hv_domain_clear(&d);
    return code;
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

/* --- statistics -------------------------------------------------------------- */

static char *
repl_stats_path(const Replica *r, const char *uuid)
{
    UTIL_AUTOFREE char *dir = replica_dir(r);

    return dir ? util_xasprintf("%s/.drover-stats-%s.json", dir, uuid) : NULL;
}

static int64_t
repl_json_int(json_object *o, const char *key)
{
    json_object *v;

    return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

int
repl_stats_read(const Replica *r, const char *uuid, ReplStats *st)
{
    UTIL_AUTOFREE char *path = repl_stats_path(r, uuid);
    UTIL_AUTOFREE char *text = NULL;
    json_object *o, *v;
    size_t len;

    memset(st, 0, sizeof(*st));
    if (!path)
        return 0;
    if (!(text = fsutil_read_file(path, 65536, &len))) {
        if (err_code() == RESULT_FILE_NOT_FOUND) {
            err_clear();
            return 0;
        }
        return -1;
    }
    if (!(o = json_tokener_parse(text))) {
        err_set(RESULT_INCORRECT_TYPE, "%s is not JSON", path);
        return -1;
    }
    st->succeeded = repl_json_int(o, "succeeded");
    st->failed = repl_json_int(o, "failed");
    st->missed = repl_json_int(o, "missed");
    st->last_size = (uint64_t)repl_json_int(o, "last_size");
    st->max_size = (uint64_t)repl_json_int(o, "max_size");
    st->total_size = (uint64_t)repl_json_int(o, "total_size");
    st->last_ms = repl_json_int(o, "last_ms");
    st->total_ms = repl_json_int(o, "total_ms");
    st->last_success = repl_json_int(o, "last_success");
    st->last_failure = repl_json_int(o, "last_failure");
    st->last_code = (int)repl_json_int(o, "last_code");
    st->streak = repl_json_int(o, "failed_in_a_row");
    if (json_object_object_get_ex(o, "last_message", &v) && json_object_is_type(v, json_type_string))
        util_strlcpy(st->last_message, json_object_get_string(v), sizeof(st->last_message));
    json_object_put(o);
    return 0;
}

static int
repl_stats_write(const Replica *r, const char *uuid, const ReplStats *st)
{
    UTIL_AUTOFREE char *path = repl_stats_path(r, uuid);
    json_object *o = json_object_new_object();
    const char *text;
    int ret;

    if (!path) {
        json_object_put(o);
        return 0;
    }
    json_object_object_add(o, "succeeded", json_object_new_int64(st->succeeded));
    json_object_object_add(o, "failed", json_object_new_int64(st->failed));
    json_object_object_add(o, "missed", json_object_new_int64(st->missed));
    json_object_object_add(o, "last_size", json_object_new_int64((int64_t)st->last_size));
    json_object_object_add(o, "max_size", json_object_new_int64((int64_t)st->max_size));
    json_object_object_add(o, "total_size", json_object_new_int64((int64_t)st->total_size));
    json_object_object_add(o, "last_ms", json_object_new_int64(st->last_ms));
    json_object_object_add(o, "total_ms", json_object_new_int64(st->total_ms));
    json_object_object_add(o, "last_success", json_object_new_int64(st->last_success));
    json_object_object_add(o, "last_failure", json_object_new_int64(st->last_failure));
    json_object_object_add(o, "last_code", json_object_new_int(st->last_code));
    json_object_object_add(o, "failed_in_a_row", json_object_new_int64(st->streak));
    json_object_object_add(o, "last_message", json_object_new_string(st->last_message));
    text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    ret = fsutil_write_atomic(path, text, strlen(text), 0600);
    json_object_put(o);
    return ret;
}

/* Adds one cycle to the statistics (code 0: it made a point).  Statistics
 * never fail a cycle: a file that cannot be written is left as it was. */
static void
repl_stats_note(const Replica *r, const char *uuid, int code, const char *message,
                uint64_t moved, int64_t ms)
{
    const ReplicaPoint *np = replica_newest_point(r);
    int64_t now = util_now();
    ReplStats st;

    if (repl_stats_read(r, uuid, &st) < 0)
        memset(&st, 0, sizeof(st));
    /* Whole intervals that passed beyond the one this cycle is for. */
    if (r->repl && r->repl->interval > 0 && np && now - np->time > 2 * (int64_t)r->repl->interval) {
        int64_t since = st.last_failure > np->time ? st.last_failure : np->time;
        if (now - since > 2 * (int64_t)r->repl->interval)
            st.missed += (now - since) / r->repl->interval - 1;
    }
    if (code == 0) {
        st.succeeded++;
        st.last_size = moved;
        if (moved > st.max_size)
            st.max_size = moved;
        st.total_size += moved;
        st.last_ms = ms;
        st.total_ms += ms;
        st.last_success = now;
        st.streak = 0;
    } else {
        st.failed++;
        st.streak++;
        st.last_failure = now;
        st.last_code = code;
        util_strlcpy(st.last_message, message ? message : "", sizeof(st.last_message));
    }
    repl_stats_write(r, uuid, &st);
    err_clear();
}

void
repl_stats_note_failure(const Replica *r, const char *uuid, int code, const char *message)
{
    ErrInfo saved;

    err_save(&saved);
    repl_stats_note(r, uuid, code, message, 0, 0);
    err_restore(&saved);
}

void
repl_pending_seen_clear(ReplPendingSeen *seen)
{
    size_t i;

    if (!seen)
        return;
    for (i = 0; i < seen->n; i++) {
        free(seen->uris[i]);
        free(seen->whys[i]);
    }
    free(seen->uris);
    free(seen->whys);
    memset(seen, 0, sizeof(*seen));
}

void
repl_stats_pending(const Replica *r, const char *uuid, ReplPendingSeen *seen, ReplPending *out)
{
    const ReplicaPoint *np = replica_newest_point(r);
    HvConn *pc = NULL;
    ErrInfo saved;
    size_t i;

    memset(out, 0, sizeof(*out));
    if (r->state == STATE_RECOVERED || r->state == STATE_COMMITTED ||
        r->state == STATE_FAILOVER_IN_PROGRESS) {
        snprintf(out->why, sizeof(out->why), "failed over (state %d %s): cycles pause",
                 r->state, state_name(r->state));
        return;
    }
    if (!np || !np->checkpoint) {
        util_strlcpy(out->why, np ? "the newest point has no checkpoint on the primary"
                     : "no recovery point yet (the initial copy is pending)", sizeof(out->why));
        return;
    }
    for (i = 0; seen && r->primary_uri && i < seen->n; i++) {
        if (strcmp(seen->uris[i], r->primary_uri) == 0) {
            util_strlcpy(out->why, seen->whys[i], sizeof(out->why));
            return;
        }
    }
    err_save(&saved);
    /* repl_primary_open gives up after the connect timeout (hv_open). */
    if (!(pc = repl_primary_open(r->primary_uri)) ||
        hv_checkpoint_pending(pc, uuid, np->checkpoint, &out->bytes) < 0) {
        snprintf(out->why, sizeof(out->why), "%d %s: %s", err_code(), result_name(err_code()),
                 err_message());
        out->bytes = 0;
        if (seen && r->primary_uri && err_code() == RESULT_NOT_AVAILABLE) {
            seen->uris = util_xrealloc(seen->uris, (seen->n + 1) * sizeof(*seen->uris));
            seen->whys = util_xrealloc(seen->whys, (seen->n + 1) * sizeof(*seen->whys));
            seen->uris[seen->n] = util_xstrdup(r->primary_uri);
            seen->whys[seen->n++] = util_xstrdup(out->why);
        }
    } else {
        out->known = 1;
    }
    hv_close(pc);
    err_restore(&saved);
}

/* --- health from the cycles --------------------------------------------------- */

const char *
repl_failure_kind(int code, const char *message)
{
    const char *m = message ? message : "";

    if (strstr(m, "No space left on device") || strstr(m, "Disk quota exceeded"))
        return "DR disk full";
    if (code == RESULT_NOT_AVAILABLE && (strstr(m, "NBD") || strstr(m, "nbd")))
        return "NBD refused";
    if (code == RESULT_NOT_AVAILABLE)
        return "primary unreachable";
    if (code == RESULT_INVALID_STATE && strstr(m, "resync"))
        return "checkpoint lost";
    return NULL;
}

int64_t
repl_next_due(const Replica *r, int power, int64_t now)
{
    int64_t next = 0;

    repl_is_due(r, power, now, &next);
    return next;
}

/* Adds a reason to out; a more serious one goes first. */
static void repl_health_add(HealthReport *out, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
repl_health_add(HealthReport *out, int level, const char *fmt, ...)
{
    char *s;
    va_list ap;

    va_start(ap, fmt);
    s = util_xvasprintf(fmt, ap);
    va_end(ap);
    out->reasons = util_xrealloc(out->reasons, (out->n + 1) * sizeof(*out->reasons));
    if (level > out->health) {
        memmove(&out->reasons[1], &out->reasons[0], out->n * sizeof(*out->reasons));
        out->reasons[0] = s;
        out->health = level;
    } else {
        out->reasons[out->n] = s;
    }
    out->n++;
}

void
repl_health(const Replica *r, const char *uuid, int64_t now, int local, HealthReport *out)
{
    const ReplicaPoint *np;
    ReplStats st;
    const char *kind;
    char age[32];

    if (!r || !r->repl || r->mode != MODE_REPLICA || out->health == HEALTH_NA ||
        (r->state != STATE_REPLICATING && r->state != STATE_READY &&
         r->state != STATE_WAITING_INITIAL && r->state != STATE_RESYNCING))
        return;
    memset(&st, 0, sizeof(st));
    if (local && repl_stats_read(r, uuid, &st) < 0) {
        err_clear();
        memset(&st, 0, sizeof(st));
    }
    kind = st.streak ? repl_failure_kind(st.last_code, st.last_message) : NULL;
    if (st.streak >= REPL_CRITICAL_FAILURES)
        repl_health_add(out, HEALTH_CRITICAL, "the last %lld replication cycles failed%s%s%s: "
                        "%d %s", (long long)st.streak, kind ? " (" : "", kind ? kind : "",
                        kind ? ")" : "", st.last_code, st.last_message);
    np = replica_newest_point(r);
    if (np && r->repl->interval > 0 && r->state == STATE_REPLICATING &&
        now - np->time > (int64_t)r->repl->interval + REPL_GRACE(r->repl->interval)) {
        util_format_age(now - np->time, age, sizeof(age));
        if (st.streak && st.streak < REPL_CRITICAL_FAILURES)
            repl_health_add(out, HEALTH_WARNING, "the newest point %s is %s old (a cycle every "
                            "%d s, grace %d s); the last cycle failed%s%s%s: %d %s", np->id, age,
                            r->repl->interval, REPL_GRACE(r->repl->interval),
                            kind ? " (" : "", kind ? kind : "", kind ? ")" : "",
                            st.last_code, st.last_message);
        else
            repl_health_add(out, HEALTH_WARNING, "the newest point %s is %s old (a cycle every "
                            "%d s, grace %d s): is drover-replicate.timer running?", np->id, age,
                            r->repl->interval, REPL_GRACE(r->repl->interval));
    } else if (st.streak && st.streak < REPL_CRITICAL_FAILURES) {
        repl_health_add(out, HEALTH_NORMAL, "the last replication cycle failed%s%s%s: %d %s",
                        kind ? " (" : "", kind ? kind : "", kind ? ")" : "", st.last_code,
                        st.last_message);
    }
}

void
repl_health_summary(Summary *s, const Replica *r, int64_t now, int local)
{
    HealthReport hr;

    if (!r || s->record_error)
        return;
    memset(&hr, 0, sizeof(hr));
    hr.health = s->health;
    repl_health(r, s->uuid, now, local, &hr);
    if (hr.health > s->health && hr.n) {
        s->health = hr.health;
        free(s->problem);
        s->problem = util_xstrdup(hr.reasons[0]);
    }
    health_report_clear(&hr);
}
