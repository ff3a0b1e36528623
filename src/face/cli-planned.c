/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cli-planned: `drover failover VM --planned [--start]`; every other
 * failover goes to cli_operation. */
#include <config.h>

#include "face/cli-priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"
#include "face/report.h"
#include "repl/repl.h"

static json_object *
cli_planned_str(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

static json_object *
cli_planned_plan_json(const ReplPlanned *p)
{
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

typedef struct {
    HvConn *conn;
    ReplPlanned *plan;
    ReplArgs args;
} CliPlannedJob;

static void
cli_planned_job_free(void *arg)
{
    free(arg);
}

static int
cli_planned_run(Job *job, void *arg)
{
    CliPlannedJob *cj = arg;

    return repl_planned_failover(cj->conn, cj->plan, &cj->args, job);
}

/* Runs the job in this process, follows it, prints the decoded result:
 * the exit status. */
static int
cli_planned_job(Session *s, const CliOpts *o, const char *op, ReplPlanned *p, CliPlannedJob *cj)
{
    FILE *out = o->json ? stderr : stdout;
    const char *uri = s->hosts[0].uri;
    ResultInfo info;
    JobInfo ji;
    Job *job;
    int status, died = 0;

    job = job_submit(s->jobs, REPL_JOB_PLANNED, p->host, uri, p->vm, p->uuid, p->digest,
                     cli_planned_run, cj, cli_planned_job_free);
    fprintf(out, "Job %s started (%s; result 4096 until it ends)\n", job_id(job),
            report_job_title(REPL_JOB_PLANNED));
    while (cli_follow(s, job_id(job), 0, out, &ji, &died) == 1)
        fprintf(stderr, "drover: the planned failover %s runs in this process and is waited "
                "for (killing drover stops it where it is)\n", job_id(job));
    job_wait(job, &ji);
    report_decode_job(&ji, op, &info);
    status = result_exit_status(info.code);
    if (o->json) {
        json_object *j = report_result_json(&info, ji.error_code ? ji.error_description : ji.step);

        json_object_object_add(j, "plan", cli_planned_plan_json(p));
        json_object_object_add(j, "job", report_job_json(&ji));
        report_print_json(j);
        json_object_put(j);
    } else {
        char *t = report_result_text(&info);

        fputs(t, ji.error_code ? stderr : stdout);
        free(t);
        printf("Job %s: %s, %d%%, %.1f s\n", ji.id, job_state_name(ji.state), ji.percent,
               (double)ji.elapsed_ms / 1000.0);
    }
    result_info_clear(&info);
    return status;
}

static int
cli_planned(CliOpts *o)
{
    const char *op = "planned failover";
    const char *vm = o->args[0];
    Session *s = cli_session(o, 1);
    ReplPlanned *plan = NULL;
    CliPlannedJob *cj;
    int status;

    if (!s)
        return result_exit_status(err_code());
    if (s->nhosts != 1) {
        err_set(RESULT_INVALID_PARAMETER, "a planned failover runs on the replica's DR host: "
                "name it with -c URI (%zu hosts are configured)", s->nhosts);
        status = cli_fail(o, op, vm, NULL, NULL);
        goto out;
    }
    if (!s->hosts[0].conn || !hv_is_alive(s->hosts[0].conn)) {
        if (!err_code())
            err_set(RESULT_NOT_AVAILABLE, "the DR host %s is not connected", s->hosts[0].uri);
        status = cli_fail(o, op, vm, s->hosts[0].name, NULL);
        goto out;
    }
    if (!(plan = repl_plan_planned(s->hosts[0].conn, s->hosts[0].name, vm,
                                   s->conf->shutdown_timeout, o->start))) {
        status = cli_fail(o, op, vm, s->hosts[0].name, NULL);
        goto out;
    }
    if (!o->json)
        fputs(plan->text, stdout);
    if (o->dry_run) {
        if (o->json) {
            ResultCtx ctx;
            ResultInfo info;
            json_object *j;

            memset(&ctx, 0, sizeof(ctx));
            ctx.op = op;
            ctx.vm = plan->vm;
            ctx.host = plan->host;
            ctx.detail = "dry run: nothing was changed";
            result_decode(&ctx, &info);
            j = report_result_json(&info, "dry run: nothing was changed");
            result_info_clear(&info);
            json_object_object_add(j, "plan", cli_planned_plan_json(plan));
            json_object_object_add(j, "job", NULL);
            report_print_json(j);
            json_object_put(j);
        } else {
            printf("Dry run: nothing was changed.\n");
        }
        status = 0;
        goto out;
    }
    if (s->hosts[0].readonly) {
        err_set(RESULT_ACCESS_DENIED, "planned failover of %s refused: %s is open read-only",
                plan->vm, s->hosts[0].name);
        status = cli_fail(o, op, plan->vm, s->hosts[0].name, NULL);
        goto out;
    }
    if (!o->yes) {
        char line[512];

        if (!isatty(STDIN_FILENO)) {
            err_set(RESULT_INVALID_PARAMETER, "refusing a planned failover of %s without --yes: "
                    "standard input is not a terminal", plan->vm);
            status = cli_fail(o, op, plan->vm, s->hosts[0].name, NULL);
            goto out;
        }
        printf("Type the VM name (%s) to confirm: Planned failover (the primary is shut down). "
               "Anything else cancels: ", plan->vm);
        fflush(stdout);
        if (!fgets(line, sizeof(line), stdin) ||
            (line[strcspn(line, "\r\n")] = '\0', strcmp(line, plan->vm) != 0)) {
            fprintf(stderr, "drover: cancelled; nothing was changed\n");
            status = 1;
            goto out;
        }
    }
    cj = util_xcalloc(1, sizeof(*cj));
    cj->conn = s->hosts[0].conn;
    cj->plan = plan;
    cj->args.reason = o->reason;
    cj->args.audit_log = s->conf->audit_log;
    status = cli_planned_job(s, o, op, plan, cj);

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
    if (o->point || o->force || o->no_wait) {
        cli_usage_error("failover --planned does not take --%s: it fails over to the final "
                        "point it makes, with the primary shut down, and waits for its job",
                        o->point ? "point" : o->force ? "force" : "no-wait");
        return CLI_EXIT_USAGE;
    }
    return cli_planned(o);
}

/* --- reverse-replication ---------------------------------------------------- */

static json_object *
cli_reverse_plan_json(const ReplReverse *p)
{
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
    json_object_object_add(j, "digest", json_object_new_string(p->digest));
    return j;
}

typedef struct {
    HvConn *conn;
    ReplReverse *plan;
    ReplArgs args;
} CliReverseJob;

static int
cli_reverse_run(Job *job, void *arg)
{
    CliReverseJob *cj = arg;

    return repl_reverse(cj->conn, cj->plan, &cj->args, job);
}

int
cli_reverse_replication(const CliCommand *cmd, CliOpts *o)
{
    const char *op = "reverse-replication";
    const char *vm = o->args[0];
    Session *s = cli_session(o, 1);
    ReplReverseArgs ra;
    ReplReverse *plan = NULL;
    CliReverseJob *cj;
    ResultInfo info;
    JobInfo ji;
    Job *job;
    int status, died = 0;

    (void)cmd;
    if (!s)
        return result_exit_status(err_code());
    if (s->nhosts != 1) {
        err_set(RESULT_INVALID_PARAMETER, "reverse-replication runs on the old primary's host: "
                "name it with -c URI (%zu hosts are configured)", s->nhosts);
        status = cli_fail(o, op, vm, NULL, NULL);
        goto out;
    }
    if (!s->hosts[0].conn || !hv_is_alive(s->hosts[0].conn)) {
        if (!err_code())
            err_set(RESULT_NOT_AVAILABLE, "the host %s is not connected", s->hosts[0].uri);
        status = cli_fail(o, op, vm, s->hosts[0].name, NULL);
        goto out;
    }
    memset(&ra, 0, sizeof(ra));
    ra.from = o->from;
    ra.dir = o->dir;
    ra.nbd = o->nbd;
    if (!(plan = repl_plan_reverse(s->hosts[0].conn, s->hosts[0].name, vm, &ra))) {
        status = cli_fail(o, op, vm, s->hosts[0].name, NULL);
        goto out;
    }
    if (!o->json)
        fputs(plan->text, stdout);
    if (o->dry_run) {
        if (o->json) {
            ResultCtx ctx;
            json_object *j;

            memset(&ctx, 0, sizeof(ctx));
            ctx.op = op;
            ctx.vm = plan->vm;
            ctx.host = plan->host;
            ctx.detail = "dry run: nothing was changed";
            result_decode(&ctx, &info);
            j = report_result_json(&info, "dry run: nothing was changed");
            result_info_clear(&info);
            json_object_object_add(j, "plan", cli_reverse_plan_json(plan));
            json_object_object_add(j, "job", NULL);
            report_print_json(j);
            json_object_put(j);
        } else {
            printf("Dry run: nothing was changed.\n");
        }
        status = 0;
        goto out;
    }
    if (s->hosts[0].readonly) {
        err_set(RESULT_ACCESS_DENIED, "reverse replication of %s refused: %s is open read-only",
                plan->vm, s->hosts[0].name);
        status = cli_fail(o, op, plan->vm, s->hosts[0].name, NULL);
        goto out;
    }
    if (!o->yes) {
        char line[512];

        if (!isatty(STDIN_FILENO)) {
            err_set(RESULT_INVALID_PARAMETER, "refusing to reverse the replication of %s without "
                    "--yes: standard input is not a terminal", plan->vm);
            status = cli_fail(o, op, plan->vm, s->hosts[0].name, NULL);
            goto out;
        }
        printf("Type the VM name (%s) to confirm: Reverse replication. Anything else cancels: ",
               plan->vm);
        fflush(stdout);
        if (!fgets(line, sizeof(line), stdin) ||
            (line[strcspn(line, "\r\n")] = '\0', strcmp(line, plan->vm) != 0)) {
            fprintf(stderr, "drover: cancelled; nothing was changed\n");
            status = 1;
            goto out;
        }
    }
    cj = util_xcalloc(1, sizeof(*cj));
    cj->conn = s->hosts[0].conn;
    cj->plan = plan;
    cj->args.reason = o->reason;
    cj->args.audit_log = s->conf->audit_log;
    job = job_submit(s->jobs, REPL_JOB_REVERSE, plan->host, s->hosts[0].uri, plan->vm,
                     plan->uuid, plan->digest, cli_reverse_run, cj, cli_planned_job_free);
    {
        FILE *out = o->json ? stderr : stdout;

        fprintf(out, "Job %s started (%s; result 4096 until it ends)\n", job_id(job),
                report_job_title(REPL_JOB_REVERSE));
        while (cli_follow(s, job_id(job), 0, out, &ji, &died) == 1)
            fprintf(stderr, "drover: reverse replication %s runs in this process and is waited "
                    "for\n", job_id(job));
    }
    job_wait(job, &ji);
    report_decode_job(&ji, op, &info);
    status = result_exit_status(info.code);
    if (o->json) {
        json_object *j = report_result_json(&info, ji.error_code ? ji.error_description : ji.step);

        json_object_object_add(j, "plan", cli_reverse_plan_json(plan));
        json_object_object_add(j, "job", report_job_json(&ji));
        report_print_json(j);
        json_object_put(j);
    } else {
        char *t = report_result_text(&info);

        fputs(t, ji.error_code ? stderr : stdout);
        free(t);
        printf("Job %s: %s, %d%%, %.1f s\n", ji.id, job_state_name(ji.state), ji.percent,
               (double)ji.elapsed_ms / 1000.0);
    }
    result_info_clear(&info);

out:
    repl_reverse_free(plan);
    session_free(s);
    return status;
}
