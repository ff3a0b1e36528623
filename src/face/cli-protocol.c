/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cli-protocol: the steps every mutating command walks (operations,
 * replication, planned failover, reverse replication), written once: the
 * dry run, the refusals (audited), the confirmation, the job and its result. */
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
#include "ops/ops.h"

static const char *
cli_proto_host(const CliProto *p)
{
    return p->h >= 0 ? p->s->hosts[p->h].name : NULL;
}

int
cli_proto_refuse(const CliProto *p)
{
    const char *host = cli_proto_host(p);

    err_hint(RESULT_HINT_REFUSED);
    if (!p->o->dry_run) {
        OpsArgs oa;
        ErrInfo e;

        memset(&oa, 0, sizeof(oa));
        oa.reason = p->reason;
        oa.audit_log = p->s->conf->audit_log;
        err_save(&e);
        ops_refused(p->s->jobs, &oa, p->type, p->audit_op ? p->audit_op : p->op, host,
                    p->h >= 0 ? p->s->hosts[p->h].uri : NULL, p->vm, p->uuid, p->digest, &e);
    }
    return cli_fail(p->o, p->op, p->vm, host, NULL);
}

int
cli_proto_show(const CliProto *p, const char *text)
{
    if (!p->o->json)
        fputs(text, stdout);
    if (!p->o->dry_run)
        return 0;
    if (p->o->json) {
        ResultCtx ctx;
        ResultInfo info;
        json_object *j;

        memset(&ctx, 0, sizeof(ctx));
        ctx.op = p->op;
        ctx.vm = p->vm;
        ctx.host = cli_proto_host(p);
        ctx.detail = "dry run: nothing was changed";
        result_decode(&ctx, &info);
        j = report_result_json(&info, "dry run: nothing was changed");
        result_info_clear(&info);
        json_object_object_add(j, "plan", p->plan_json(p->plan));
        json_object_object_add(j, "job", NULL);
        report_print_json(j);
        json_object_put(j);
    } else {
        printf("Dry run: nothing was changed.\n");
    }
    return 1;
}

/* Asks on the terminal; 1 confirmed, 0 not. */
static int
cli_proto_ask(const CliProto *p)
{
    int yes_no = p->yes_no && p->s->conf->confirm == CONF_CONFIRM_YES_NO;
    char line[512];

    if (yes_no)
        printf("%s %s@%s? Type yes to proceed, anything else cancels: ", p->title, p->vm,
               cli_proto_host(p));
    else
        printf("Type the VM name (%s) to confirm: %s. Anything else cancels: ", p->vm, p->title);
    cli_flush(stdout);
    if (!fgets(line, sizeof(line), stdin))
        return 0;
    line[strcspn(line, "\r\n")] = '\0';
    return strcmp(line, yes_no ? "yes" : p->vm) == 0;
}

int
cli_proto_confirm(const CliProto *p, int *status)
{
    if (p->s->hosts[p->h].readonly) {
        err_set(RESULT_ACCESS_DENIED, "%s of %s refused: %s is open read-only", p->ro_what, p->vm,
                p->s->hosts[p->h].name);
        *status = cli_proto_refuse(p);
        return -1;
    }
    if (p->o->yes || !p->title)
        return 0;
    if (!isatty(STDIN_FILENO)) {
        err_set(RESULT_INVALID_PARAMETER, "refusing %s %s without --yes: standard input is not a "
                "terminal", p->yes_what, p->vm);
        *status = cli_proto_refuse(p);
        return -1;
    }
    if (!cli_proto_ask(p)) {
        fprintf(stderr, "drover: cancelled; nothing was changed\n");
        *status = 1;
        return -1;
    }
    return 0;
}

int
cli_job_result(const CliOpts *o, const char *opname, const JobInfo *ji, json_object *plan, int died)
{
    ResultInfo info;
    int status;

    report_decode_job(ji, opname, &info);
    status = result_exit_status(info.code);
    if (o->json) {
        json_object *j = report_result_json(&info, ji->error_code ? ji->error_description : ji->step);
        if (plan)
            json_object_object_add(j, "plan", plan);
        json_object_object_add(j, "job", report_job_json(ji));
        report_print_json(j);
        json_object_put(j);
    } else {
        char *t = report_result_text(&info);
        fputs(t, ji->error_code ? stderr : stdout);
        free(t);
        printf("Job %s: %s, %d%%, %.1f s\n", ji->id, job_state_name(ji->state), ji->percent,
               (double)ji->elapsed_ms / 1000.0);
        json_object_put(plan);
    }
    result_info_clear(&info);
    /* A job process that died without a result: its own exit status (a
     * test's fault point, a kill) says more than "failed". */
    if (died && ji->state == JOB_EXCEPTION && (ji->hints & RESULT_HINT_REPAIR) &&
        strstr(ji->error_description, "ended without a result"))
        return died;
    return status;
}

int
cli_proto_run(const CliProto *p, CliStartFn start, const void *arg, JobInfo *fin)
{
    FILE *prog = p->o->json ? stderr : stdout;
    JobInfo ji;
    char id[37];
    pid_t pid = 0;
    int died = 0, r;

    if (fin)
        memset(fin, 0, sizeof(*fin));
    /* Detached from this terminal: its own session, deaf to the terminal's
     * signals; this process only waits for it. */
    if (start(p, arg, id, p->o->no_wait ? NULL : &pid) < 0) {
        err_prefix("cannot start the job");
        return cli_proto_refuse(p);
    }
    if (job_table_get(p->s->jobs, id, &ji) < 0) {
        /* It ended and its history line is not readable: the id says enough. */
        err_clear();
        memset(&ji, 0, sizeof(ji));
        util_strlcpy(ji.id, id, sizeof(ji.id));
        ji.type = p->type;
    }
    if (p->o->no_wait) {
        if (p->o->json) {
            json_object *j = cli_started_json(&ji, p->plan_json(p->plan));

            report_print_json(j);
            json_object_put(j);
        } else {
            printf("Job %s started (%s; result 4096): it goes on by itself.\n"
                   "Follow it: drover jobs --follow %s\n", id, report_job_title(ji.type), id);
        }
        return 0;
    }
    fprintf(prog, "Job %s started (%s; result 4096 until it ends; Ctrl-C leaves it running)\n", id,
            report_job_title(ji.type));
    cli_flush(prog);
    r = cli_follow(p->s, id, pid, prog, &ji, &died);
    if (r < 0)
        return cli_fail(p->o, p->op, p->vm, cli_proto_host(p), NULL);
    if (r > 0)
        return cli_detached_note(&ji);
    if (fin)
        *fin = ji;
    if (p->o->json && p->json_done && ji.state == JOB_COMPLETED) {
        p->json_done(p, &ji);
        return 0;
    }
    return cli_job_result(p->o, p->op, &ji, p->o->json ? p->plan_json(p->plan) : NULL, died);
}
