/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cli-repl: the replication commands (enable-replication, replicate). */
#include <config.h>

#include "face/cli-priv.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"
#include "face/report.h"
#include "face/repljob.h"
#include "record/state.h"
#include "record/replica.h"
#include "repl/repl.h"

static json_object *
cli_repl_str(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

static json_object *
cli_repl_plan_json(const void *plan)
{
    const ReplPlan *p = plan;
    json_object *j = json_object_new_object();
    json_object *disks = json_object_new_array();
    size_t i;

    json_object_object_add(j, "operation", json_object_new_string(
        p->enable ? "enable-replication" : p->resync ? "resync" : "replicate"));
    json_object_object_add(j, "host", cli_repl_str(p->host));
    json_object_object_add(j, "vm", cli_repl_str(p->vm));
    json_object_object_add(j, "uuid", json_object_new_string(p->uuid));
    json_object_object_add(j, "primary_uri", cli_repl_str(p->primary_uri));
    json_object_object_add(j, "primary_vm", cli_repl_str(p->primary_vm));
    json_object_object_add(j, "dir", cli_repl_str(p->dir));
    json_object_object_add(j, "nbd", cli_repl_str(p->nbd));
    json_object_object_add(j, "nbd_tls", cli_repl_str(p->nbd_tls));
    json_object_object_add(j, "initial", json_object_new_boolean(p->initial));
    json_object_object_add(j, "from_state", json_object_new_int(p->from_state));
    json_object_object_add(j, "to_state", json_object_new_int(p->to_state));
    json_object_object_add(j, "point", cli_repl_str(p->point));
    json_object_object_add(j, "checkpoint", cli_repl_str(p->checkpoint));
    json_object_object_add(j, "since", cli_repl_str(p->since));
    for (i = 0; i < p->ndisks; i++) {
        json_object *d = json_object_new_object();

        json_object_object_add(d, "target", cli_repl_str(p->disks[i].target));
        json_object_object_add(d, "primary_file", cli_repl_str(p->disks[i].primary_file));
        json_object_object_add(d, "base", cli_repl_str(p->disks[i].base));
        json_object_object_add(d, "file", cli_repl_str(p->disks[i].file));
        json_object_object_add(d, "backing", cli_repl_str(p->disks[i].backing));
        json_object_object_add(d, "size", p->disks[i].size ?
                               json_object_new_int64((int64_t)p->disks[i].size) : NULL);
        json_object_array_add(disks, d);
    }
    json_object_object_add(j, "disks", disks);
    if (p->enable) {
        json_object_object_add(j, "networks", cli_repl_str(p->networks));
        json_object_object_add(j, "nvram", cli_repl_str(p->nvram));
        json_object_object_add(j, "primary_nvram", cli_repl_str(p->primary_nvram));
    }
    if (p->resync) {
        json_object *rm = json_object_new_array();

        for (i = 0; i < p->remove.n; i++)
            json_object_array_add(rm, json_object_new_string(p->remove.v[i].file));
        json_object_object_add(j, "delete_after_switch", rm);
    }
    json_object_object_add(j, "digest", json_object_new_string(p->digest));
    return j;
}

/* What a replication job is started with: the op (REPLJOB_*) and the
 * audit's words. */
typedef struct {
    int op;
    ReplArgs args;
} CliReplStart;

/* Starts the job of cp (its plan confirmed) detached, through repljob:
 * the console's code path. */
static int
cli_repl_start(const CliProto *cp, const void *arg, char id[37], pid_t *pid)
{
    const CliReplStart *rs = arg;
    Session *s = cp->s;

    if (rs->op == REPLJOB_ENABLE)
        return repljob_start_enable(s->jobs, s->hosts[cp->h].uri, cp->plan, &rs->args, id, pid);
    return repljob_start(s->jobs, s->hosts[cp->h].uri, s->hosts[cp->h].name, cp->uuid, cp->vm,
                         rs->op, cp->digest, &rs->args, id, pid);
}

/* Whether a failure (code, message) is a lost checkpoint that drover.conf's
 * replication_auto_resync lets a cycle resynchronise by itself. */
static int
cli_repl_auto_resync(const Session *s, int code, const char *message)
{
    const char *kind = repl_failure_kind(code, message);

    return s->conf->repl_auto_resync && kind && strcmp(kind, "checkpoint lost") == 0;
}

/* The protocol's words for replication command op (JobType type) on VM vm
 * of host h (-1: not known yet). */
static void
cli_repl_proto(CliProto *cp, Session *s, const CliOpts *o, const char *op, int type, int h,
               const char *vm)
{
    memset(cp, 0, sizeof(*cp));
    cp->s = s;
    cp->o = o;
    cp->op = op;
    cp->type = type;
    cp->h = h;
    cp->vm = vm;
    cp->reason = o->reason;
    cp->plan_json = cli_repl_plan_json;
}

/* The plan p is known: the refusals and the job name it. */
static void
cli_repl_proto_plan(CliProto *cp, const ReplPlan *p)
{
    cp->vm = p->vm;
    cp->uuid = p->uuid;
    cp->plan = p;
    cp->digest = p->digest;
}

/* Runs replication op (REPLJOB_*) of cp as a detached job and, unless
 * --no-wait, waits for it and prints the decoded result: the exit status.
 * *resync (may be NULL) is set when the job failed for a lost checkpoint
 * and the configuration resyncs by itself. */
static int
cli_repl_job(const CliProto *cp, int op, int *resync)
{
    CliReplStart rs;
    JobInfo ji;
    int status;

    memset(&rs, 0, sizeof(rs));
    rs.op = op;
    rs.args.reason = cp->o->reason;
    rs.args.audit_log = cp->s->conf->audit_log;
    status = cli_proto_run(cp, cli_repl_start, &rs, &ji);
    if (resync)
        *resync = ji.error_code && cli_repl_auto_resync(cp->s, ji.error_code, ji.error_description);
    return status;
}

/* The DR host: the only host of the session (-c URI); cp->h becomes 0.
 * Else refused: -1 - exit status. */
static int
cli_repl_dr_host(CliProto *cp)
{
    Session *s = cp->s;

    if (s->nhosts != 1) {
        err_set(RESULT_INVALID_PARAMETER, "%s works on one DR host: name it with -c URI "
                "(%zu hosts are configured)", cp->op, s->nhosts);
        return -1 - cli_proto_refuse(cp);
    }
    cp->h = 0;
    if (!s->hosts[0].conn || !hv_is_alive(s->hosts[0].conn)) {
        if (!err_code())
            err_set(RESULT_NOT_AVAILABLE, "the DR host %s is not connected", s->hosts[0].uri);
        return -1 - cli_proto_refuse(cp);
    }
    return 0;
}

int
cli_enable_replication(const CliCommand *cmd, CliOpts *o)
{
    const char *op = "enable-replication";
    Session *s = cli_session(o, 1);
    UTIL_AUTOFREE char *text = NULL;
    ReplEnableArgs ea;
    ReplPlan *plan = NULL;
    CliProto cp;
    int status, h;

    (void)cmd;
    if (!s)
        return result_exit_status(err_code());
    cli_repl_proto(&cp, s, o, op, REPL_JOB_ENABLE, -1, o->args[0]);
    cp.ro_what = "enable-replication";
    cp.yes_what = "to enable replication of";
    cp.title = "Enable replication";
    if ((h = cli_repl_dr_host(&cp)) < 0) {
        session_free(s);
        return -1 - h;
    }
    memset(&ea, 0, sizeof(ea));
    ea.vm = o->args[0];
    ea.from = o->from;
    ea.dir = o->dir;
    ea.name = o->name;
    /* Options left out take drover.conf's defaults (per primary, then
     * replication_*); the options given win. */
    repl_enable_defaults(s->conf, &ea);
    if (o->nbd)
        ea.nbd = o->nbd;
    if (o->points)
        ea.points = o->points;
    ea.netmap = o->netmap;
    ea.nnetmap = o->nnetmap;
    if ((o->interval && repl_parse_interval(o->interval, &ea.interval) < 0) ||
        (o->app_every && repl_parse_interval(o->app_every, &ea.app_every) < 0)) {
        status = cli_proto_refuse(&cp);
        goto out;
    }
    if (!(plan = repl_plan_enable(s->hosts[0].conn, s->hosts[0].name, &ea))) {
        if (o->name)
            cp.vm = o->name;
        status = cli_proto_refuse(&cp);
        goto out;
    }
    cli_repl_proto_plan(&cp, plan);
    text = repl_plan_text(plan);
    if (cli_proto_show(&cp, text)) {
        status = 0;
        goto out;
    }
    if (cli_proto_confirm(&cp, &status) < 0)
        goto out;
    status = cli_repl_job(&cp, REPLJOB_ENABLE, NULL);

out:
    repl_plan_free(plan);
    session_free(s);
    return status;
}

static int cli_resync_one(Session *s, const CliOpts *o, size_t h, const char *uuid,
                          const char *ref, int confirm);

/* One cycle of the VM with this UUID on host h of s. */
static int
cli_replicate_one(Session *s, const CliOpts *o, size_t h, const char *uuid, const char *ref,
                  const Replica *r)
{
    UTIL_AUTOFREE char *text = NULL;
    ReplPlan *plan = NULL;
    CliProto cp;
    int status, auto_resync = 0;

    cli_repl_proto(&cp, s, o, "replicate", REPL_JOB_CYCLE, (int)h, ref);
    cp.uuid = uuid;
    cp.ro_what = "replication";
    if (!(plan = repl_plan_cycle(s->hosts[h].conn, s->hosts[h].name, uuid))) {
        /* A scheduled cycle that could not start counts as failed; so
         * does one run by hand that the primary's side refused (a dry run
         * is no cycle, and a pause, failed over or running, no failure). */
        Replica *own = NULL;

        if (!r && !o->dry_run && repl_failure_kind(err_code(), err_message())) {
            HvDomain d;
            ErrInfo saved;

            err_save(&saved);
            memset(&d, 0, sizeof(d));
            if (hv_lookup(s->hosts[h].conn, uuid, 1, &d) == 0 && d.metadata)
                own = replica_parse(d.metadata, strlen(d.metadata));
            hv_domain_clear(&d);
            err_restore(&saved);
        }
        if (r || own)
            repl_stats_note_failure(r ? r : own, uuid, err_code() ? err_code() : RESULT_FAILED,
                                    err_message());
        replica_free(own);
        auto_resync = !o->dry_run && cli_repl_auto_resync(s, err_code(), err_message());
        status = cli_proto_refuse(&cp);
        goto out;
    }
    cli_repl_proto_plan(&cp, plan);
    text = repl_plan_text(plan);
    if (cli_proto_show(&cp, text)) {
        status = 0;
        goto out;
    }
    /* A cycle only adds a point and deletes nothing here: it runs from a
     * timer, so it asks no confirmation (cp.title NULL). */
    if (cli_proto_confirm(&cp, &status) < 0)
        goto out;
    status = cli_repl_job(&cp, REPLJOB_CYCLE, &auto_resync);

out:
    repl_plan_free(plan);
    if (auto_resync) {
        if (!o->json)
            printf("replication_auto_resync = true: the changes since the newest point are "
                   "unknown, so a resync runs now\n");
        status = cli_resync_one(s, o, h, uuid, ref, 0);
    }
    return status;
}

/* A resync of the VM with this UUID on host h; confirm: ask the operator
 * (else drover.conf's replication_auto_resync allowed it). */
static int
cli_resync_one(Session *s, const CliOpts *o, size_t h, const char *uuid, const char *ref,
               int confirm)
{
    UTIL_AUTOFREE char *text = NULL;
    ReplPlan *plan = NULL;
    CliProto cp;
    int status;

    cli_repl_proto(&cp, s, o, "resync", REPL_JOB_RESYNC, (int)h, ref);
    cp.uuid = uuid;
    cp.ro_what = "resync";
    cp.yes_what = "to resync";
    /* It deletes every older point: the operator confirms. */
    cp.title = confirm ? "Resynchronize (every older point is deleted)" : NULL;
    if (!(plan = repl_plan_resync(s->hosts[h].conn, s->hosts[h].name, uuid))) {
        status = cli_proto_refuse(&cp);
        goto out;
    }
    cli_repl_proto_plan(&cp, plan);
    text = repl_plan_text(plan);
    if (cli_proto_show(&cp, text)) {
        status = 0;
        goto out;
    }
    if (cli_proto_confirm(&cp, &status) < 0)
        goto out;
    status = cli_repl_job(&cp, REPLJOB_RESYNC, NULL);

out:
    repl_plan_free(plan);
    return status;
}

/* The host of VM ref, or -1 - exit status (refused, audited: the VM
 * was not found). */
static int
cli_repl_find(Session *s, const CliOpts *o, const char *op, int type, const char *ref, char uuid[37])
{
    CliProto cp;
    int h = session_find_vm(s, ref, uuid);

    if (h >= 0)
        return h;
    cli_repl_proto(&cp, s, o, op, type, -1, ref);
    return -1 - cli_proto_refuse(&cp);
}

int
cli_resync(const CliCommand *cmd, CliOpts *o)
{
    Session *s = cli_session(o, 1);
    char uuid[37];
    int status, h;

    (void)cmd;
    if (!s)
        return result_exit_status(err_code());
    if ((h = cli_repl_find(s, o, "resync", REPL_JOB_RESYNC, o->args[0], uuid)) < 0)
        status = -1 - h;
    else
        status = cli_resync_one(s, o, (size_t)h, uuid, o->args[0], 1);
    session_free(s);
    return status;
}

static volatile sig_atomic_t cli_repl_stop;

static void
cli_repl_on_signal(int sig)
{
    (void)sig;
    cli_repl_stop = 1;
}

/* One pass of --due over every host: the cycles that are due, one after
 * the other.  *next gets the earliest time a replica becomes due (0:
 * none).  Returns the worst exit status. */
static int
cli_replicate_due(Session *s, const CliOpts *o, int64_t *next, int *ran)
{
    int status = 0;
    size_t i, k;

    *next = 0;
    *ran = 0;
    for (i = 0; i < s->nhosts && !cli_repl_stop; i++) {
        HvDomain *doms = NULL;
        size_t n = 0;

        if (s->hosts[i].conn && !hv_is_alive(s->hosts[i].conn))
            hv_reconnect(s->hosts[i].conn);
        if (cli_list_host(s, i, &doms, &n, &status) < 0)
            continue;
        for (k = 0; k < n && !cli_repl_stop; k++) {
            Replica *r;
            int64_t when = 0;
            int due, st;

            if (!doms[k].metadata)
                continue;
            if (!(r = replica_parse(doms[k].metadata, strlen(doms[k].metadata)))) {
                err_clear();
                continue;
            }
            due = repl_is_due(r, doms[k].power, util_now(), &when);
            if (!due) {
                replica_free(r);
                if (when && (!*next || when < *next))
                    *next = when;
                continue;
            }
            (*ran)++;
            if (!o->json)
                printf("%s@%s: a cycle is due\n", doms[k].name, s->hosts[i].name);
            st = cli_replicate_one(s, o, i, doms[k].uuid, doms[k].name, r);
            replica_free(r);
            /* Ctrl-C while waiting: that cycle's job goes on, no other starts. */
            if (st == CLI_EXIT_INTERRUPTED)
                cli_repl_stop = 1;
            if (st > status)
                status = st;
        }
        hv_domain_list_free(doms, n);
    }
    return status;
}

int
cli_replicate(const CliCommand *cmd, CliOpts *o)
{
    Session *s;
    char uuid[37];
    int status, h;

    (void)cmd;
    if ((o->due || o->watch) && o->nargs) {
        cli_usage_error("replicate takes VM, or --due/--watch, not both");
        return CLI_EXIT_USAGE;
    }
    if (!o->due && !o->watch && !o->nargs) {
        cli_usage_error("replicate takes VM, --due or --watch");
        return CLI_EXIT_USAGE;
    }
    if (o->watch && o->no_wait) {
        cli_usage_error("replicate --watch waits for each cycle's job; --no-wait does not apply");
        return CLI_EXIT_USAGE;
    }
    if (!(s = cli_session(o, 1)))
        return result_exit_status(err_code());
    if (o->due && !o->watch) {
        int64_t next;
        int ran;

        status = cli_replicate_due(s, o, &next, &ran);
        if (!ran && !o->json)
            printf("nothing is due\n");
    } else if (o->watch) {
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = cli_repl_on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        status = 0;
        if (!o->json)
            printf("watching: cycles run when due; stop with Ctrl-C or SIGTERM\n");
        cli_flush(stdout);
        while (!cli_repl_stop) {
            int64_t next, wait;
            int ran;

            cli_replicate_due(s, o, &next, &ran);
            cli_flush(stdout);
            /* Look again at the earliest due time, at least every minute:
             * replicas enabled meanwhile are seen too. */
            wait = next ? next - util_now() : 60;
            if (wait > 60)
                wait = 60;
            for (; wait > 0 && !cli_repl_stop; wait--)
                sleep(1);
        }
        if (!o->json)
            printf("watch stopped\n");
    } else {
        if ((h = cli_repl_find(s, o, "replicate", REPL_JOB_CYCLE, o->args[0], uuid)) < 0)
            status = -1 - h;
        else
            status = cli_replicate_one(s, o, (size_t)h, uuid, o->args[0], NULL);
    }
    session_free(s);
    return status;
}

static json_object *
cli_repl_set_plan_json(const void *plan)
{
    return json_object_new_string(plan);
}

/* The JSON of a completed suspend, resume or disable: the shape it had
 * before it ran as a job, {"result": 0, "message": what was done}, with
 * the job's warnings and the job added. */
static void
cli_repl_set_done_json(const CliProto *cp, const JobInfo *ji)
{
    json_object *j = json_object_new_object();

    (void)cp;
    json_object_object_add(j, "result", json_object_new_int(0));
    json_object_object_add(j, "message", json_object_new_string(ji->step));
    json_object_object_add(j, "warnings", ji->error_description[0] ?
                           json_object_new_string(ji->error_description) : NULL);
    json_object_object_add(j, "job", report_job_json(ji));
    report_print_json(j);
    json_object_put(j);
}

int
cli_repl_set(const CliCommand *cmd, CliOpts *o)
{
    ReplSetOp op = (ReplSetOp)cmd->op;
    const char *opname = repl_set_name(op);
    Session *s = cli_session(o, 1);
    UTIL_AUTOFREE char *text = NULL;
    UTIL_AUTOFREE char *yes_what = util_xasprintf("to %s", opname);
    CliProto cp;
    ReplArgs ra;
    char uuid[37];
    int h, code, status;

    if (!s)
        return result_exit_status(err_code());
    /* Suspend, resume and disable are CIM's Replicate State Change. */
    if ((h = cli_repl_find(s, o, opname, REPLJOB_TYPE_STATE, o->args[0], uuid)) < 0) {
        session_free(s);
        return -1 - h;
    }
    cli_repl_proto(&cp, s, o, opname, REPLJOB_TYPE_STATE, h, o->args[0]);
    cp.uuid = uuid;
    cp.ro_what = opname;
    cp.yes_what = yes_what;
    cp.title = opname;
    memset(&ra, 0, sizeof(ra));
    ra.reason = o->reason;
    ra.audit_log = s->conf->audit_log;
    if ((code = repl_set(s->hosts[h].conn, s->hosts[h].name, uuid, op, &ra, 1, &text)) != 0) {
        status = cli_proto_refuse(&cp);
        goto out;
    }
    /* The plan is its text. */
    cp.plan = text;
    cp.plan_json = cli_repl_set_plan_json;
    if (!o->json)
        fputs(text, stdout);
    if (o->dry_run) {
        if (o->json) {
            json_object *j = json_object_new_object();
            json_object_object_add(j, "result", json_object_new_int(0));
            json_object_object_add(j, "dry_run", json_object_new_boolean(1));
            json_object_object_add(j, "plan", json_object_new_string(text));
            report_print_json(j);
            json_object_put(j);
        } else {
            printf("Dry run: nothing was changed.\n");
        }
        status = 0;
        goto out;
    }
    if (cli_proto_confirm(&cp, &status) < 0)
        goto out;
    /* repl_set audits what it does itself, in the job. */
    cp.json_done = cli_repl_set_done_json;
    status = cli_repl_job(&cp, op == REPL_SET_SUSPEND ? REPLJOB_SUSPEND :
                          op == REPL_SET_RESUME ? REPLJOB_RESUME : REPLJOB_DISABLE, NULL);

out:
    session_free(s);
    return status;
}

/* --- stats ------------------------------------------------------------------- */

static json_object *
cli_repl_time_json(int64_t t)
{
    char buf[32];

    if (!t)
        return NULL;
    util_format_time(t, buf, sizeof(buf));
    return json_object_new_string(buf);
}

static json_object *
cli_repl_stats_json(const HvDomain *d, const char *host, const Replica *r, const ReplStats *st)
{
    json_object *j = json_object_new_object();
    const ReplicaPoint *np = replica_newest_point(r);

    json_object_object_add(j, "host", json_object_new_string(host));
    json_object_object_add(j, "name", json_object_new_string(d->name));
    json_object_object_add(j, "uuid", json_object_new_string(d->uuid));
    json_object_object_add(j, "state", json_object_new_int(r->state));
    json_object_object_add(j, "state_name", json_object_new_string(state_name(r->state)));
    json_object_object_add(j, "primary_uri", cli_repl_str(r->primary_uri));
    json_object_object_add(j, "interval", json_object_new_int(r->repl->interval));
    json_object_object_add(j, "points_kept", json_object_new_int(r->repl->points));
    json_object_object_add(j, "recovery_points", json_object_new_int((int)r->npoints));
    json_object_object_add(j, "newest_point_time", cli_repl_time_json(np ? np->time : 0));
    json_object_object_add(j, "succeeded", json_object_new_int64(st->succeeded));
    json_object_object_add(j, "failed", json_object_new_int64(st->failed));
    json_object_object_add(j, "missed", json_object_new_int64(st->missed));
    json_object_object_add(j, "last_size", json_object_new_int64((int64_t)st->last_size));
    json_object_object_add(j, "average_size", json_object_new_int64(
        st->succeeded ? (int64_t)(st->total_size / (uint64_t)st->succeeded) : 0));
    json_object_object_add(j, "max_size", json_object_new_int64((int64_t)st->max_size));
    json_object_object_add(j, "last_cycle_seconds", json_object_new_double((double)st->last_ms / 1000.0));
    json_object_object_add(j, "average_cycle_seconds", json_object_new_double(
        st->succeeded ? (double)st->total_ms / 1000.0 / (double)st->succeeded : 0.0));
    json_object_object_add(j, "last_success", cli_repl_time_json(st->last_success));
    json_object_object_add(j, "last_failure", cli_repl_time_json(st->last_failure));
    json_object_object_add(j, "last_failure_code", st->last_failure ? json_object_new_int(st->last_code) : NULL);
    json_object_object_add(j, "last_failure_message", st->last_failure ?
                           json_object_new_string(st->last_message) : NULL);
    {
        int64_t app = 0;
        size_t i;

        for (i = 0; i < r->npoints; i++)
            if (r->points[i].type == RP_TYPE_APP_CONSISTENT && r->points[i].time > app)
                app = r->points[i].time;
        json_object_object_add(j, "app_consistent_every", json_object_new_int(r->repl->app_every));
        json_object_object_add(j, "last_app_consistent", cli_repl_time_json(app));
    }
    return j;
}

/* The pending size (asked of the primary, never failing stats) into j,
 * or as a line of the table. */
static void
cli_repl_pending(const Replica *r, const char *uuid, ReplPendingSeen *seen, json_object *j)
{
    ReplPending pd;
    const ReplicaPoint *np = replica_newest_point(r);
    char sz[32];

    repl_stats_pending(r, uuid, seen, &pd);
    if (j) {
        json_object_object_add(j, "pending_size", pd.known ? json_object_new_int64((int64_t)pd.bytes) : NULL);
        json_object_object_add(j, "pending_unknown", pd.known ? NULL : json_object_new_string(pd.why));
        return;
    }
    util_format_size(pd.bytes, sz, sizeof(sz));
    if (pd.known)
        printf("           pending %s (%llu B) written on the primary since %s\n", sz,
               (unsigned long long)pd.bytes, np->id);
    else
        printf("           pending unknown: %s\n", pd.why);
}

int
cli_repl_stats(const CliCommand *cmd, CliOpts *o)
{
    Session *s = cli_session(o, 1);
    json_object *arr = json_object_new_array();
    ReplPendingSeen seen = { 0 };
    size_t i, k;
    int status = 0, matched = 0, header = 0;

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
            Replica *r;
            ReplStats st;
            char ls[32], as[32], ms[32], age[32];
            const ReplicaPoint *np;

            if (o->nargs && !cli_vm_matches(o->args[0], &doms[k], s->hosts[i].name))
                continue;
            if (o->nargs)
                matched++;
            if (!doms[k].metadata || !(r = replica_parse(doms[k].metadata, strlen(doms[k].metadata)))) {
                err_clear();
                continue;
            }
            if (!r->repl || repl_stats_read(r, doms[k].uuid, &st) < 0) {
                if (r->repl)
                    fprintf(stderr, "drover: %s: %s\n", doms[k].name, err_message());
                err_clear();
                replica_free(r);
                continue;
            }
            if (o->json) {
                json_object *j = cli_repl_stats_json(&doms[k], s->hosts[i].name, r, &st);

                cli_repl_pending(r, doms[k].uuid, &seen, j);
                json_object_array_add(arr, j);
                replica_free(r);
                continue;
            }
            if (!header++)
                printf("%-10s %-12s %-15s %5s %6s %6s %9s %9s %9s %7s %7s %7s\n", "HOST", "NAME",
                       "STATE", "OK", "FAILED", "MISSED", "LAST", "AVERAGE", "LARGEST", "TIME",
                       "AVG", "NEWEST");
            util_format_size(st.last_size, ls, sizeof(ls));
            util_format_size(st.succeeded ? st.total_size / (uint64_t)st.succeeded : 0, as, sizeof(as));
            util_format_size(st.max_size, ms, sizeof(ms));
            np = replica_newest_point(r);
            if (np)
                util_format_age(util_now() - np->time, age, sizeof(age));
            else
                util_strlcpy(age, "-", sizeof(age));
            printf("%-10s %-12s %-15.15s %5lld %6lld %6lld %9s %9s %9s %6.1fs %6.1fs %7s\n",
                   s->hosts[i].name, doms[k].name, state_name(r->state), (long long)st.succeeded,
                   (long long)st.failed, (long long)st.missed, ls, as, ms,
                   (double)st.last_ms / 1000.0,
                   st.succeeded ? (double)st.total_ms / 1000.0 / (double)st.succeeded : 0.0, age);
            if (st.last_failure) {
                char when[32];
                util_format_time(st.last_failure, when, sizeof(when));
                printf("           last failure %s: %d %s\n", when, st.last_code, st.last_message);
            }
            cli_repl_pending(r, doms[k].uuid, &seen, NULL);
            replica_free(r);
        }
        hv_domain_list_free(doms, n);
    }
    repl_pending_seen_clear(&seen);
    if (o->nargs && !matched && !status) {
        err_set(RESULT_INVALID_PARAMETER, "no VM named %s", o->args[0]);
        json_object_put(arr);
        session_free(s);
        return cli_fail(o, "stats", o->args[0], NULL, NULL);
    }
    if (o->json)
        report_print_json(arr);
    else if (!header)
        printf("no replica replicated by drover\n");
    json_object_put(arr);
    session_free(s);
    return status;
}
