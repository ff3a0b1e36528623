/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cli-view: the read-only commands: list, show, check, jobs. */
#include <config.h>

#include "face/cli-priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain/chain.h"
#include "hv/domxml.h"
#include "base/err.h"
#include "ops/health.h"
#include "record/replica.h"
#include "repl/repl.h"
#include "face/report.h"
#include "base/result.h"
#include "record/state.h"
#include "ops/summary.h"
#include "base/util.h"

/* A row of list: its summary, and with --json its JSON text, made in the
 * host's thread (most of the output's time, done beside the round trips
 * of the other hosts instead of after all of them). */
typedef struct {
    Summary s;
    char *json;
} CliRow;

static int
cli_cmp_row(const void *a, const void *b)
{
    const Summary *x = &((const CliRow *)a)->s, *y = &((const CliRow *)b)->s;
    int r = strcmp(x->name, y->name);
    return r ? r : strcmp(x->host, y->host);
}

/* --- list ------------------------------------------------------------------ */

static void
cli_row_clear(CliRow *r)
{
    summary_clear(&r->s);
    free(r->json);
}

/* Prints s left-aligned in width terminal columns, then a space. */
static void
cli_pad(const char *s, int width)
{
    int w = util_display_width(s);

    fputs(s, stdout);
    for (; w < width; w++)
        fputc(' ', stdout);
    fputc(' ', stdout);
}

/* The rows of each host, made in its own thread as its list comes in. */
typedef struct {
    Session *s;
    int64_t now;
    int json;                   /* make each row's JSON text too */
    CliRow **rows;              /* per host */
    size_t *nrows;
    size_t *caps;               /* per host: done comes once a part of the list */
} CliListCtx;

static void
cli_list_done(size_t i, HvConn *c, HvListResult *r, void *opaque)
{
    CliListCtx *x = opaque;
    CliRow *row;
    Replica *rec;
    size_t k;
    int local;

    if (r->failed)
        return;
    local = hv_is_local(c) == 1;
    for (k = 0; k < r->n; k++) {
        if (!r->doms[k].metadata)
            continue;   /* not a replica */
        util_grow(&x->rows[i], &x->caps[i], x->nrows[i] + 1, sizeof(*x->rows[i]));
        row = &x->rows[i][x->nrows[i]++];
        rec = summary_from_domain(&row->s, x->s->hosts[i].name, &r->doms[k], x->now,
                                  x->s->conf->rpo_warning, local);
        /* Health from the replication cycles (late, failing). */
        repl_health_summary(&row->s, rec, x->now, local);
        replica_free(rec);
        row->json = x->json ? report_element_text(report_summary_json(&row->s)) : NULL;
    }
    /* Done with the domains: free them here, in parallel too. */
    hv_domain_list_free(r->doms, r->n);
    r->doms = NULL;
    r->n = 0;
}

int
cli_list(const CliCommand *cmd, CliOpts *o)
{
    /* Connected below, each host in its own thread as it lists. */
    Session *s = cli_session(o, 0);
    CliRow *rows = NULL;
    size_t nrows = 0, cap = 0, i, k, down = 0;
    int64_t now = util_now();
    int status = 0;
    HvConn **conns;
    const char **uris;
    int *ro;
    HvListResult *lists;
    CliListCtx x;

    (void)cmd;
    if (!s)
        return result_exit_status(err_code());
    /* Every host listed at once, each in a thread of its own. */
    conns = util_xcalloc(s->nhosts + 1, sizeof(*conns));
    uris = util_xcalloc(s->nhosts + 1, sizeof(*uris));
    ro = util_xcalloc(s->nhosts + 1, sizeof(*ro));
    lists = util_xcalloc(s->nhosts + 1, sizeof(*lists));
    x.s = s;
    x.now = now;
    x.json = o->json;
    x.rows = util_xcalloc(s->nhosts + 1, sizeof(*x.rows));
    x.nrows = util_xcalloc(s->nhosts + 1, sizeof(*x.nrows));
    x.caps = util_xcalloc(s->nhosts + 1, sizeof(*x.caps));
    for (i = 0; i < s->nhosts; i++) {
        uris[i] = s->hosts[i].uri;
        ro[i] = s->hosts[i].readonly;
    }
    hv_list_many(conns, uris, ro, s->nhosts, HV_LIST_METADATA, cli_list_done, &x, lists);
    for (i = 0; i < s->nhosts; i++)
        s->hosts[i].conn = conns[i];    /* session_free closes them */
    for (i = 0; i < s->nhosts; i++) {
        if (lists[i].failed) {
            err_restore(&lists[i].err);
            cli_list_host_down(s, i, &status);
            down++;
            /* The parts read before the host failed: not listed. */
            for (k = 0; k < x.nrows[i]; k++)
                cli_row_clear(&x.rows[i][k]);
            free(x.rows[i]);
            x.rows[i] = NULL;
            continue;
        }
        util_grow(&rows, &cap, nrows + x.nrows[i] + 1, sizeof(*rows));
        for (k = 0; k < x.nrows[i]; k++)
            rows[nrows++] = x.rows[i][k];   /* moved: cleared with rows */
        free(x.rows[i]);
        x.rows[i] = NULL;
    }
    free(x.rows);
    free(x.nrows);
    free(x.caps);
    if (nrows > 1)
        qsort(rows, nrows, sizeof(*rows), cli_cmp_row);
    if (o->names) {
        /* A name, and NAME@HOST too where the name is on several hosts:
         * every line is a reference the other commands accept. */
        for (i = 0; i < nrows; i++) {
            size_t same = 0;
            for (k = 0; k < nrows; k++)
                same += strcmp(rows[k].s.name, rows[i].s.name) == 0;
            for (k = 0; k < i && strcmp(rows[k].s.name, rows[i].s.name) != 0; k++)
                ;
            if (k == i)
                printf("%s\n", rows[i].s.name);
            if (same > 1)
                printf("%s@%s\n", rows[i].s.name, rows[i].s.host);
        }
    } else if (o->json) {
        char **v = util_xcalloc(nrows + 1, sizeof(*v));
        for (i = 0; i < nrows; i++)
            v[i] = rows[i].json;
        report_print_json_elements(v, nrows);
        free(v);
    } else {
        printf("%-10s %-16s %-24s %-9s %-12s %3s %-8s %-16s %s\n", "HOST", "NAME", "STATE", "HEALTH",
               "MODE", "RPS", "LAST RP", "FAILOVER", "POWER");
        for (i = 0; i < nrows; i++) {
            char st[40], age[16] = "-", fo[40] = "-";
            const Summary *r = &rows[i].s;

            snprintf(st, sizeof(st), "%d %s", r->state, state_name(r->state));
            if (r->newest_time)
                util_format_age(now - r->newest_time, age, sizeof(age));
            if (r->failover_point) {
                char fa[16];
                util_format_age(now - r->failover_time, fa, sizeof(fa));
                snprintf(fo, sizeof(fo), "%s %s ago", r->failover_point, fa);
            }
            cli_pad(r->host, 10);
            cli_pad(r->name, 16);
            printf("%-24s %-9s %-12s %3zu %-8s %-16s %s\n", st,
                   health_name(r->health), mode_name(r->mode), r->npoints, age, fo,
                   hv_power_name(r->power));
        }
        if (!nrows && down < s->nhosts)
            printf("(no replica VMs on %zu reachable host%s)\n", s->nhosts - down,
                   s->nhosts - down == 1 ? "" : "s");
    }
    for (i = 0; i < nrows; i++)
        cli_row_clear(&rows[i]);
    free(rows);
    free(lists);
    free(ro);
    free(uris);
    free(conns);
    session_free(s);
    return status;
}

/* --- show and check ----------------------------------------------------- */

typedef struct {
    char *name;
    char uuid[37];
    int power;
    Replica *rec;
    DomDiskList disks;
    HealthReport health;
    int local;                  /* the host is this machine (its files are readable) */
} CliVm;

static void
cli_vm_clear(CliVm *v)
{
    free(v->name);
    replica_free(v->rec);
    domxml_disk_list_clear(&v->disks);
    health_report_clear(&v->health);
    memset(v, 0, sizeof(*v));
}

/* Reads a domain, its record and disks, and assesses its health deeply. */
static int
cli_vm_load(Session *s, size_t host, const char *uuid, CliVm *v)
{
    HvDomain d;
    UTIL_AUTOFREE char *xml = NULL;
    UTIL_AUTOFREE char *md = NULL;
    DomXml *dx;

    memset(v, 0, sizeof(*v));
    if (hv_lookup(s->hosts[host].conn, uuid, 0, &d) < 0)
        return -1;
    v->name = util_xstrdup(d.name);
    util_strlcpy(v->uuid, d.uuid, sizeof(v->uuid));
    v->power = d.power;
    hv_domain_clear(&d);
    if (!(xml = hv_get_xml(s->hosts[host].conn, uuid)) || !(dx = domxml_parse(xml)))
        return -1;
    domxml_disks(dx, &v->disks);
    md = domxml_get_replica(dx);
    domxml_free(dx);
    if (md && !(v->rec = replica_parse(md, strlen(md)))) {
        err_prefix("replica record of %s", v->name);
        return -1;
    }
    health_assess(v->rec, &v->disks, util_now(), s->conf->rpo_warning,
                  hv_is_local(s->hosts[host].conn) == 1 ? HEALTH_FILES_DEEP : HEALTH_FILES_NONE,
                  &v->health);
    v->local = hv_is_local(s->hosts[host].conn) == 1;
    repl_health(v->rec, v->uuid, util_now(), v->local, &v->health);
    return 0;
}

static void
cli_show_text(const CliVm *v, const char *host, const JobInfo *last, const JobInfo *refused)
{
    const Replica *r = v->rec;
    int64_t now = util_now();
    char age[16], sz[32], when[32];
    size_t i, k;

    printf("%s@%s  %s\n", v->name, host, v->uuid);
    if (!r) {
        printf("  not a replica: no drover record (health n/a), power %s\n", hv_power_name(v->power));
        return;
    }
    printf("  mode %d %s, state %d %s, health %s, power %s\n", r->mode, mode_name(r->mode), r->state,
           state_name(r->state), health_name(v->health.health), hv_power_name(v->power));
    if (r->primary_name || r->primary_host)
        printf("  primary: %s on %s%s%s%s\n", r->primary_name ? r->primary_name : "?",
               r->primary_host ? r->primary_host : "?", r->primary_uri ? " (" : "",
               r->primary_uri ? r->primary_uri : "", r->primary_uri ? ")" : "");
    if (r->failover) {
        util_format_age(now - r->failover->time, age, sizeof(age));
        util_format_time(r->failover->time, when, sizeof(when));
        printf("  failover: to %s at %s (%s ago) by %s\n", r->failover->point, when, age,
               r->failover->by ? r->failover->by : "?");
    }
    if (r->test)
        printf("  test failover: %s on %s\n", r->test->domain, r->test->point);
    if (r->repl) {
        ReplStats st;
        int64_t next = repl_next_due(r, v->power, now);

        memset(&st, 0, sizeof(st));
        if (v->local && repl_stats_read(r, v->uuid, &st) < 0)
            err_clear();
        if (r->repl->interval > 0)
            printf("  replication: from %s, every %d s", r->primary_uri ? r->primary_uri : "?",
                   r->repl->interval);
        else
            printf("  replication: from %s, on demand", r->primary_uri ? r->primary_uri : "?");
        if (st.last_success) {
            util_format_age(now - st.last_success, age, sizeof(age));
            printf(", last cycle %s ago", age);
        }
        if (next > now) {
            util_format_age(next - now, age, sizeof(age));
            printf(", next due in %s", age);
        } else if (next) {
            printf(", due now");
        }
        printf("\n");
        if (st.streak)
            printf("  last cycle failed (%lld in a row%s%s): %d %s\n", (long long)st.streak,
                   repl_failure_kind(st.last_code, st.last_message) ? ", " : "",
                   repl_failure_kind(st.last_code, st.last_message) ?
                   repl_failure_kind(st.last_code, st.last_message) : "", st.last_code,
                   st.last_message);
    }
    if (r->journal)
        printf("  INTERRUPTED: %s (job %s) stopped at step %s: run drover repair %s\n",
               r->journal->op, r->journal->job, r->journal->step, v->name);
    printf("  disks:\n");
    for (i = 0; i < v->disks.n; i++) {
        Chain *c = v->disks.v[i].source ? chain_walk(v->disks.v[i].source) : NULL;
        printf("    %s  %s\n", v->disks.v[i].target, v->disks.v[i].source ? v->disks.v[i].source : "(empty)");
        if (!c) {
            printf("          chain unreadable: %s\n", err_message());
            err_clear();
            continue;
        }
        for (k = 0; k < c->n; k++) {
            const char *role = k == 0 ? "in use" : "";
            size_t p;
            for (p = 0; p < r->npoints && !*role; p++) {
                const ReplicaDisk *d = replica_disk_list_find(&r->points[p].disks, v->disks.v[i].target);
                if (d && strcmp(d->file, c->layers[k].path) == 0)
                    role = r->points[p].id;
            }
            if (!*role)
                role = k + 1 == c->n ? "base" : "layer";
            util_format_size(c->layers[k].allocated, sz, sizeof(sz));
            printf("      %s %s  [%s, %s]\n", k == 0 ? "  " : "<-", c->layers[k].path, role, sz);
        }
        chain_free(c);
    }
    printf("  recovery points (newest first):\n");
    for (k = r->npoints; k-- > 0; ) {
        util_format_time(r->points[k].time, when, sizeof(when));
        util_format_age(now - r->points[k].time, age, sizeof(age));
        printf("    %-10s %s (%s ago)  %s\n", r->points[k].id, when, age,
               replica_rp_type_name(r->points[k].type));
    }
    if (!r->npoints)
        printf("    (none)\n");
    if (v->health.n) {
        printf("  health %s:\n", health_name(v->health.health));
        for (i = 0; i < v->health.n; i++)
            printf("    - %s\n", v->health.reasons[i]);
    }
    if (last) {
        util_format_time(last->start_time, when, sizeof(when));
        printf("  last job: %s %s at %s: %d %s\n", report_job_title(last->type),
               job_state_name(last->state), when, last->error_code,
               result_name(last->error_code) ? result_name(last->error_code) : "");
    }
    if (refused) {
        util_format_time(refused->start_time, when, sizeof(when));
        printf("  refused since: %s at %s: %d %s (nothing was changed)\n", report_job_title(refused->type),
               when, refused->error_code,
               result_name(refused->error_code) ? result_name(refused->error_code) : "");
    }
}

/* The newest job of this VM that ran (by the host's URI and the UUID:
 * names repeat between fleets), from the history: 1 with *out set, or 0.
 * A refused attempt did not run, so it is never the last job: the newest
 * one since the last job goes to *refused (1 in *has_refused). */
static int
cli_last_job(Session *s, size_t host, const char *uuid, JobInfo *out, JobInfo *refused, int *has_refused)
{
    JobInfo *jobs = NULL;
    size_t n = job_table_snapshot(s->jobs, &jobs), i;
    int found = 0;

    *has_refused = 0;
    for (i = 0; i < n && !found; i++) {
        if (!job_is_for(&jobs[i], s->hosts[host].uri, uuid))
            continue;
        if (!job_refused(&jobs[i])) {
            *out = jobs[i];
            found = 1;
        } else if (!*has_refused) {
            *refused = jobs[i];
            *has_refused = 1;
        }
    }
    free(jobs);
    return found;
}

static json_object *
cli_vm_json(const CliVm *v, const char *host, const JobInfo *last, const JobInfo *refused)
{
    json_object *o = json_object_new_object();
    json_object *disks = json_object_new_array();
    const Replica *r = v->rec;
    size_t i;

    json_object_object_add(o, "host", json_object_new_string(host));
    json_object_object_add(o, "name", json_object_new_string(v->name));
    json_object_object_add(o, "uuid", json_object_new_string(v->uuid));
    json_object_object_add(o, "power", json_object_new_string(hv_power_name(v->power)));
    json_object_object_add(o, "state", r ? json_object_new_int(r->state) : NULL);
    json_object_object_add(o, "state_name", r ? json_object_new_string(state_name(r->state)) : NULL);
    json_object_object_add(o, "mode", json_object_new_int(r ? r->mode : 0));
    json_object_object_add(o, "mode_name", json_object_new_string(mode_name(r ? r->mode : 0)));
    json_object_object_add(o, "health", json_object_new_int(v->health.health));
    json_object_object_add(o, "health_name", json_object_new_string(health_name(v->health.health)));
    {
        json_object *reasons = json_object_new_array();
        for (i = 0; i < v->health.n; i++)
            json_object_array_add(reasons, json_object_new_string(v->health.reasons[i]));
        json_object_object_add(o, "health_reasons", reasons);
    }
    json_object_object_add(o, "recovery_points", report_points_json(r));
    json_object_object_add(o, "failover_point", r && r->failover ? json_object_new_string(r->failover->point) : NULL);
    {
        char when[32];
        const ReplicaPoint *newest = r ? replica_newest_point(r) : NULL;
        json_object *prim = NULL;

        if (r && r->failover)
            util_format_time(r->failover->time, when, sizeof(when));
        json_object_object_add(o, "failover_time", r && r->failover ? json_object_new_string(when) : NULL);
        json_object_object_add(o, "failover_by", r && r->failover && r->failover->by ?
                               json_object_new_string(r->failover->by) : NULL);
        json_object_object_add(o, "newest_point", newest ? json_object_new_string(newest->id) : NULL);
        if (r && (r->primary_host || r->primary_uri || r->primary_name)) {
            prim = json_object_new_object();
            json_object_object_add(prim, "host", r->primary_host ? json_object_new_string(r->primary_host) : NULL);
            json_object_object_add(prim, "uri", r->primary_uri ? json_object_new_string(r->primary_uri) : NULL);
            json_object_object_add(prim, "name", r->primary_name ? json_object_new_string(r->primary_name) : NULL);
        }
        json_object_object_add(o, "primary", prim);
    }
    json_object_object_add(o, "test_system", r && r->test ? json_object_new_string(r->test->domain) : NULL);
    if (r && r->repl) {
        json_object *rj = json_object_new_object();
        ReplStats st;
        int64_t next = repl_next_due(r, v->power, util_now());
        const char *kind;

        memset(&st, 0, sizeof(st));
        if (v->local && repl_stats_read(r, v->uuid, &st) < 0)
            err_clear();
        kind = st.streak ? repl_failure_kind(st.last_code, st.last_message) : NULL;
        json_object_object_add(rj, "interval", json_object_new_int(r->repl->interval));
        json_object_object_add(rj, "points", json_object_new_int(r->repl->points));
        json_object_object_add(rj, "next_due", next ? json_object_new_int64(next) : NULL);
        json_object_object_add(rj, "last_success", st.last_success ?
                               json_object_new_int64(st.last_success) : NULL);
        json_object_object_add(rj, "failed_in_a_row", json_object_new_int64(st.streak));
        json_object_object_add(rj, "last_failure_code", st.streak ?
                               json_object_new_int(st.last_code) : NULL);
        json_object_object_add(rj, "last_failure_kind", kind ? json_object_new_string(kind) : NULL);
        json_object_object_add(o, "replication", rj);
    } else {
        json_object_object_add(o, "replication", NULL);
    }
    json_object_object_add(o, "interrupted_operation", r && r->journal ? json_object_new_string(r->journal->op) : NULL);
    for (i = 0; i < v->disks.n; i++) {
        json_object *d = json_object_new_object();
        Chain *c = v->disks.v[i].source ? chain_walk(v->disks.v[i].source) : NULL;

        json_object_object_add(d, "target", json_object_new_string(v->disks.v[i].target));
        json_object_object_add(d, "source", v->disks.v[i].source ? json_object_new_string(v->disks.v[i].source) : NULL);
        json_object_object_add(d, "chain", report_chain_json(c));
        if (!c && v->disks.v[i].source) {
            json_object_object_add(d, "chain_error", json_object_new_string(err_message()));
            err_clear();
        }
        chain_free(c);
        json_object_array_add(disks, d);
    }
    json_object_object_add(o, "disks", disks);
    json_object_object_add(o, "last_job", last ? report_job_json(last) : NULL);
    json_object_object_add(o, "last_refused", refused ? report_job_json(refused) : NULL);
    return o;
}

int
cli_show(const CliCommand *cmd, CliOpts *o)
{
    Session *s = cli_session(o, 1);
    char uuid[37];
    CliVm v;
    JobInfo last, refused;
    int h, has_last, has_refused, status = 0;

    (void)cmd;
    if (!s)
        return result_exit_status(err_code());
    if ((h = cli_find(s, o, "show", o->args[0], uuid)) < 0) {
        session_free(s);
        return -1 - h;
    }
    if (cli_vm_load(s, (size_t)h, uuid, &v) < 0) {
        status = cli_fail(o, "show", o->args[0], s->hosts[h].name, NULL);
    } else {
        has_last = cli_last_job(s, (size_t)h, uuid, &last, &refused, &has_refused);
        if (o->names) {
            size_t p;
            for (p = 0; v.rec && p < v.rec->npoints; p++)
                printf("%s\n", v.rec->points[p].id);
        } else if (o->json) {
            json_object *j = cli_vm_json(&v, s->hosts[h].name, has_last ? &last : NULL,
                                         has_refused ? &refused : NULL);
            report_print_json(j);
            json_object_put(j);
        } else {
            cli_show_text(&v, s->hosts[h].name, has_last ? &last : NULL, has_refused ? &refused : NULL);
        }
    }
    cli_vm_clear(&v);
    session_free(s);
    return status;
}

int
cli_check(const CliCommand *cmd, CliOpts *o)
{
    Session *s = cli_session(o, 1);
    json_object *arr = json_object_new_array();
    size_t i, k;
    int worst = HEALTH_NA, status = 0, checked = 0;

    (void)cmd;
    if (!s) {
        json_object_put(arr);
        return result_exit_status(err_code());
    }
    for (i = 0; i < s->nhosts; i++) {
        HvDomain *doms = NULL;
        size_t n = 0;

        if (cli_list_host(s, i, &doms, &n, &status) < 0)
            continue;
        for (k = 0; k < n; k++) {
            CliVm v;

            if (o->nargs) {
                if (!cli_vm_matches(o->args[0], &doms[k], s->hosts[i].name))
                    continue;
            } else if (!doms[k].metadata) {
                continue;
            }
            checked++;
            if (cli_vm_load(s, i, doms[k].uuid, &v) < 0) {
                /* A record drover cannot read is the most critical finding. */
                char *reason = util_xstrdup(err_message());
                err_clear();
                health_report_clear(&v.health);
                v.health.health = HEALTH_CRITICAL;
                v.health.reasons = util_xcalloc(1, sizeof(*v.health.reasons));
                v.health.reasons[0] = reason;
                v.health.n = 1;
                if (!v.name)
                    v.name = util_xstrdup(doms[k].name);
                util_strlcpy(v.uuid, doms[k].uuid, sizeof(v.uuid));
            }
            if (v.health.health > worst)
                worst = v.health.health;
            if (o->json) {
                json_object *j = report_health_json(&v.health);
                json_object_object_add(j, "host", json_object_new_string(s->hosts[i].name));
                json_object_object_add(j, "name", json_object_new_string(v.name));
                json_object_object_add(j, "uuid", json_object_new_string(v.uuid));
                json_object_array_add(arr, j);
            } else {
                size_t r;
                printf("%-24s %s\n", v.name, health_name(v.health.health));
                for (r = 0; r < v.health.n; r++)
                    printf("    - %s\n", v.health.reasons[r]);
            }
            cli_vm_clear(&v);
        }
        hv_domain_list_free(doms, n);
    }
    if (o->nargs && !checked && !status) {
        json_object_put(arr);
        err_set(RESULT_INVALID_PARAMETER, "no VM named %s", o->args[0]);
        session_free(s);
        return cli_fail(o, "check", o->args[0], NULL, NULL);
    }
    if (o->json)
        report_print_json(arr);
    json_object_put(arr);
    session_free(s);
    if (!status && worst == HEALTH_CRITICAL)
        status = result_exit_status(RESULT_FILE_NOT_FOUND);
    return status;
}

/* --- jobs, repair, decode ------------------------------------------------ */

int
cli_jobs(const CliCommand *cmd, CliOpts *o)
{
    Session *s = cli_session(o, 0);
    JobInfo *jobs = NULL;
    size_t n, i;

    (void)cmd;
    if (!s)
        return result_exit_status(err_code());
    if (o->follow || o->nargs) {
        int status = cli_job_show(s, o);

        session_free(s);
        return status;
    }
    n = job_table_snapshot(s->jobs, &jobs);
    if (o->json) {
        json_object *a = json_object_new_array();
        for (i = 0; i < n; i++)
            json_object_array_add(a, report_job_json(&jobs[i]));
        report_print_json(a);
        json_object_put(a);
    } else {
        printf("%-20s %-22s %-16s %-10s %-10s %4s %8s  %s\n", "STARTED", "TYPE", "VM", "HOST", "STATE",
               "%", "ELAPSED", "RESULT");
        for (i = 0; i < n; i++) {
            char when[32];
            util_format_time(jobs[i].start_time, when, sizeof(when));
            printf("%-20s %-22s %-16s %-10s %-10s %4d %7.1fs  %d %s\n", when, report_job_title(jobs[i].type),
                   jobs[i].vm, jobs[i].host,
                   job_refused(&jobs[i]) ? "Refused" : job_state_name(jobs[i].state), jobs[i].percent,
                   (double)jobs[i].elapsed_ms / 1000.0, jobs[i].error_code,
                   result_name(jobs[i].error_code) ? result_name(jobs[i].error_code) : "");
        }
        if (!n)
            printf("(no jobs yet; history: %s)\n", s->conf->job_history ? s->conf->job_history : "off");
    }
    free(jobs);
    session_free(s);
    return 0;
}

