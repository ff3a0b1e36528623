/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cli-planned: `drover failover VM --planned [--start]`; every other
 * failover goes to cli_operation. */
#include <config.h>

#include "face/cli-priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"
#include "face/repljob.h"
#include "repl/repl.h"

static json_object *
cli_planned_str(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

static json_object *
cli_planned_plan_json(const void *plan)
{
    const ReplPlanned *p = plan;
    json_object *j = json_object_new_object();
    json_object *steps = json_object_new_array();
    const char *q = p->text;

    json_object_object_add(j, "operation", json_object_new_string("planned-failover"));
    json_object_object_add(j, "host", cli_planned_str(p->host));
    json_object_object_add(j, "vm", cli_planned_str(p->vm));
    json_object_object_add(j, "uuid", json_object_new_string(p->uuid));
    json_object_object_add(j, "primary_host", cli_planned_str(p->primary_host));
    json_object_object_add(j, "primary_uri", cli_planned_str(p->primary_uri));
    json_object_object_add(j, "primary_vm", cli_planned_str(p->primary_vm));
    json_object_object_add(j, "primary_power",
                           json_object_new_string(hv_power_name(p->primary_power)));
    json_object_object_add(j, "primary_autostart", json_object_new_boolean(p->primary_autostart));
    json_object_object_add(j, "shutdown_timeout", json_object_new_int(p->timeout));
    json_object_object_add(j, "from_state", json_object_new_int(p->from_state));
    json_object_object_add(j, "to_state", json_object_new_int(5));
    json_object_object_add(j, "primary_to_state", json_object_new_int(4));
    json_object_object_add(j, "point", cli_planned_str(p->point));
    json_object_object_add(j, "checkpoint", cli_planned_str(p->checkpoint));
    json_object_object_add(j, "since", cli_planned_str(p->since));
    json_object_object_add(j, "start", json_object_new_boolean(p->start));
    /* The numbered lines of the plan, as shown: "N. HOST: what". */
    while (q && *q) {
        size_t len = strcspn(q, "\n");
        const char *s = q;

        while (s < q + len && *s == ' ')
            s++;
        if (s < q + len && *s >= '1' && *s <= '9' && strchr(s, '.') && strchr(s, '.') < q + len)
            json_object_array_add(steps, json_object_new_string_len(s, (int)(q + len - s)));
        q += len + (q[len] == '\n');
    }
    json_object_object_add(j, "steps", steps);
    json_object_object_add(j, "digest", json_object_new_string(p->digest));
    return j;
}

/* Starts the job of a confirmed planned failover, detached, through
 * repljob: the console's code path. */
static int
cli_planned_start(const CliProto *cp, const void *arg, char id[37], pid_t *pid)
{
    return repljob_start_planned(cp->s->jobs, cp->s->hosts[cp->h].uri, cp->plan, arg, id, pid);
}

/* Likewise for reverse replication. */
static int
cli_reverse_start(const CliProto *cp, const void *arg, char id[37], pid_t *pid)
{
    return repljob_start_reverse(cp->s->jobs, cp->s->hosts[cp->h].uri, cp->plan, arg, id, pid);
}

/* The host the command runs on: the session's only one (-c URI); cp->h
 * becomes 0.  what runs on where, which is called host when it is not
 * connected.  Else refused: -1 with *status set. */
static int
cli_planned_host(CliProto *cp, const char *what, const char *where, const char *host, int *status)
{
    Session *s = cp->s;

    if (s->nhosts != 1) {
        err_set(RESULT_INVALID_PARAMETER, "%s runs on %s: name it with -c URI (%zu hosts are "
                "configured)", what, where, s->nhosts);
        *status = cli_proto_refuse(cp);
        return -1;
    }
    cp->h = 0;
    if (!s->hosts[0].conn || !hv_is_alive(s->hosts[0].conn)) {
        if (!err_code())
            err_set(RESULT_NOT_AVAILABLE, "the %s %s is not connected", host, s->hosts[0].uri);
        *status = cli_proto_refuse(cp);
        return -1;
    }
    return 0;
}

/* The protocol's words for either command (JobType type) on VM vm. */
static void
cli_planned_proto(CliProto *cp, Session *s, const CliOpts *o, const char *op, int type,
                  const char *vm, CliPlanJson plan_json)
{
    memset(cp, 0, sizeof(*cp));
    cp->s = s;
    cp->o = o;
    cp->op = op;
    cp->type = type;
    cp->h = -1;
    cp->vm = vm;
    cp->reason = o->reason;
    cp->plan_json = plan_json;
}

/* The plan is made (text, its VM, UUID and digest): the rest of the walk,
 * from showing it to the job fn's result.  The exit status. */
static int
cli_planned_walk(CliProto *cp, const void *plan, const char *text, const char *vm,
                 const char *uuid, const char *digest, CliStartFn start)
{
    ReplArgs ra;
    int status;

    cp->vm = vm;
    cp->uuid = uuid;
    cp->plan = plan;
    cp->digest = digest;
    if (cli_proto_show(cp, text))
        return 0;
    if (cli_proto_confirm(cp, &status) < 0)
        return status;
    memset(&ra, 0, sizeof(ra));
    ra.reason = cp->o->reason;
    ra.audit_log = cp->s->conf->audit_log;
    return cli_proto_run(cp, start, &ra, NULL);
}

static int
cli_planned(CliOpts *o)
{
    const char *vm = o->args[0];
    Session *s = cli_session(o, 1);
    ReplPlanned *plan = NULL;
    CliProto cp;
    int status;

    if (!s)
        return result_exit_status(err_code());
    cli_planned_proto(&cp, s, o, "planned failover", REPL_JOB_PLANNED, vm, cli_planned_plan_json);
    cp.audit_op = "planned-failover";
    cp.ro_what = "planned failover";
    cp.yes_what = "a planned failover of";
    cp.title = "Planned failover (the primary is shut down)";
    if (cli_planned_host(&cp, "a planned failover", "the replica's DR host", "DR host", &status) < 0)
        goto out;
    if (!(plan = repl_plan_planned(s->hosts[0].conn, s->hosts[0].name, vm,
                                   s->conf->shutdown_timeout, o->start))) {
        status = cli_proto_refuse(&cp);
        goto out;
    }
    status = cli_planned_walk(&cp, plan, plan->text, plan->vm, plan->uuid, plan->digest,
                              cli_planned_start);

out:
    repl_planned_free(plan);
    session_free(s);
    return status;
}

int
cli_failover(const CliCommand *cmd, CliOpts *o)
{
    if (!o->planned) {
        if (o->start) {
            cli_usage_error("failover --start goes with --planned (an unplanned failover leaves "
                            "the VM off)");
            return CLI_EXIT_USAGE;
        }
        return cli_operation(cmd, o);
    }
    if (o->point || o->force) {
        cli_usage_error("failover --planned does not take --%s: it fails over to the final "
                        "point it makes, with the primary shut down",
                        o->point ? "point" : "force");
        return CLI_EXIT_USAGE;
    }
    return cli_planned(o);
}

/* --- reverse-replication ---------------------------------------------------- */

static json_object *
cli_reverse_plan_json(const void *plan)
{
    const ReplReverse *p = plan;
    json_object *j = json_object_new_object();
    json_object *base = json_object_new_array();
    size_t i;

    json_object_object_add(j, "operation", json_object_new_string("reverse-replication"));
    json_object_object_add(j, "host", cli_planned_str(p->host));
    json_object_object_add(j, "vm", cli_planned_str(p->vm));
    json_object_object_add(j, "uuid", json_object_new_string(p->uuid));
    json_object_object_add(j, "primary_host", cli_planned_str(p->primary_host));
    json_object_object_add(j, "primary_uri", cli_planned_str(p->primary_uri));
    json_object_object_add(j, "primary_state", json_object_new_int(p->primary_state));
    json_object_object_add(j, "point", cli_planned_str(p->point));
    json_object_object_add(j, "checkpoint", cli_planned_str(p->checkpoint));
    json_object_object_add(j, "dir", cli_planned_str(p->dir));
    json_object_object_add(j, "nbd", cli_planned_str(p->nbd));
    for (i = 0; i < p->base.n; i++) {
        json_object *d = json_object_new_object();

        json_object_object_add(d, "target", cli_planned_str(p->base.v[i].target));
        json_object_object_add(d, "file", cli_planned_str(p->base.v[i].file));
        json_object_array_add(base, d);
    }
    json_object_object_add(j, "base", base);
    /* A full copy: why, and the old disk files it leaves in place. */
    json_object_object_add(j, "full", json_object_new_boolean(p->full));
    json_object_object_add(j, "why", cli_planned_str(p->why));
    base = json_object_new_array();
    for (i = 0; i < p->keep.n; i++) {
        json_object *d = json_object_new_object();

        json_object_object_add(d, "target", cli_planned_str(p->keep.v[i].target));
        json_object_object_add(d, "file", cli_planned_str(p->keep.v[i].file));
        json_object_array_add(base, d);
    }
    json_object_object_add(j, "keep", base);
    json_object_object_add(j, "digest", json_object_new_string(p->digest));
    return j;
}

int
cli_reverse_replication(const CliCommand *cmd, CliOpts *o)
{
    const char *vm = o->args[0];
    Session *s = cli_session(o, 1);
    ReplReverseArgs ra;
    ReplReverse *plan = NULL;
    CliProto cp;
    int status;

    (void)cmd;
    if (!s)
        return result_exit_status(err_code());
    cli_planned_proto(&cp, s, o, "reverse-replication", REPL_JOB_REVERSE, vm, cli_reverse_plan_json);
    cp.ro_what = "reverse replication";
    cp.yes_what = "to reverse the replication of";
    cp.title = "Reverse replication";
    if (cli_planned_host(&cp, "reverse-replication", "the old primary's host", "host", &status) < 0)
        goto out;
    memset(&ra, 0, sizeof(ra));
    ra.from = o->from;
    ra.dir = o->dir;
    ra.nbd = o->nbd;
    if (!(plan = repl_plan_reverse(s->hosts[0].conn, s->hosts[0].name, vm, &ra))) {
        status = cli_proto_refuse(&cp);
        goto out;
    }
    status = cli_planned_walk(&cp, plan, plan->text, plan->vm, plan->uuid, plan->digest,
                              cli_reverse_start);

out:
    repl_reverse_free(plan);
    session_free(s);
    return status;
}
