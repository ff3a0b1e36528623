/* cli-ops: the commands that change things: the operations and repair. */
#include <config.h>

#include "face/cli-priv.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "ops/ops.h"
#include "ops/plan.h"
#include "face/report.h"
#include "base/result.h"
#include "record/state.h"
#include "base/util.h"

/* --- operations ------------------------------------------------------------ */

typedef struct {
    HvConn *conn;
    Plan *plan;
    OpsArgs args;
} CliJob;

static int
cli_job_run(Job *job, void *arg)
{
    CliJob *cj = arg;

    return ops_execute(cj->conn, cj->plan, &cj->args, job);
}

typedef struct {
    pthread_mutex_t mu;
    char last[200];
    int last_percent;
    FILE *out;
} CliProgress;

static void
cli_observe(const JobInfo *j, void *opaque)
{
    CliProgress *p = opaque;

    pthread_mutex_lock(&p->mu);
    /* The first event, whichever thread reports it, opens the job. */
    if (p->last_percent < 0) {
        fprintf(p->out, "Job %s started (%s; result 4096 until it ends)\n", j->id, report_job_title(j->type));
        p->last_percent = 0;
    }
    if (j->state == JOB_RUNNING && strcmp(j->step, "starting") != 0 &&
        (strcmp(p->last, j->step) != 0 || p->last_percent != j->percent)) {
        if (strcmp(p->last, j->step) != 0) {
            fprintf(p->out, "[%3d%%] %s\n", j->percent, j->step);
            fflush(p->out);
        }
        util_strlcpy(p->last, j->step, sizeof(p->last));
        p->last_percent = j->percent;
    }
    pthread_mutex_unlock(&p->mu);
}

/* Asks on the terminal; 1 confirmed, 0 not. */
static int
cli_confirm(const Session *s, const Plan *p)
{
    char line[512];

    if (s->conf->confirm == CONF_CONFIRM_YES_NO)
        printf("%s %s@%s? Type yes to proceed, anything else cancels: ", state_op_title(p->op),
               p->vm, p->host);
    else
        printf("Type the VM name (%s) to confirm: %s. Anything else cancels: ", p->vm,
               state_op_title(p->op));
    fflush(stdout);
    if (!fgets(line, sizeof(line), stdin))
        return 0;
    line[strcspn(line, "\r\n")] = '\0';
    if (s->conf->confirm == CONF_CONFIRM_YES_NO)
        return strcmp(line, "yes") == 0;
    return strcmp(line, p->vm) == 0;
}

static char *
cli_ask_reason(void)
{
    char line[512];

    printf("Reason (kept in the audit log): ");
    fflush(stdout);
    if (!fgets(line, sizeof(line), stdin))
        return NULL;
    line[strcspn(line, "\r\n")] = '\0';
    return line[0] ? util_xstrdup(line) : NULL;
}

int
cli_operation(const CliCommand *cmd, CliOpts *o)
{
    Session *s = cli_session(o, 1);
    StateOp op = (StateOp)cmd->op;
    const char *opname = state_op_name(op);
    UTIL_AUTOFREE char *reason = o->reason ? util_xstrdup(o->reason) : NULL;
    char uuid[37];
    PlanArgs pa;
    Plan *plan = NULL;
    CliJob *cj;
    CliProgress prog;
    JobInfo ji;
    ResultInfo info;
    Job *job;
    int h, status;

    if (!s)
        return result_exit_status(err_code());
    if ((h = cli_find(s, o, opname, o->args[0], uuid)) < 0) {
        session_free(s);
        return -1 - h;
    }
    if (o->flatten && op != OP_COMMIT) {
        err_set(RESULT_INVALID_PARAMETER, "--flatten only applies to commit");
        status = cli_fail(o, opname, o->args[0], s->hosts[h].name, NULL);
        goto out;
    }
    if (o->point && op != OP_INITIATE && op != OP_TEST) {
        err_set(RESULT_INVALID_PARAMETER, "--point only applies to failover and test-failover");
        status = cli_fail(o, opname, o->args[0], s->hosts[h].name, NULL);
        goto out;
    }
    if (o->force && !reason) {
        err_set(RESULT_INVALID_PARAMETER, "--force overrides the split-brain guard: say why with "
                "--reason TEXT (kept in the audit log)");
        status = cli_fail(o, opname, o->args[0], s->hosts[h].name, NULL);
        goto out;
    }
    if (o->test_network && op != OP_TEST) {
        err_set(RESULT_INVALID_PARAMETER, "--test-network only applies to test-failover");
        status = cli_fail(o, opname, o->args[0], s->hosts[h].name, NULL);
        goto out;
    }
    memset(&pa, 0, sizeof(pa));
    pa.test_network = o->test_network;
    pa.point = o->point;
    pa.flatten = o->flatten;
    pa.force = o->force;
    if (!(plan = plan_make(s->hosts[h].conn, s->hosts[h].name, uuid, op, &pa))) {
        status = cli_fail(o, opname, o->args[0], s->hosts[h].name, NULL);
        goto out;
    }
    if (!o->json) {
        char *t = plan_text(plan);
        fputs(t, stdout);
        free(t);
    }
    if (o->dry_run) {
        if (o->json) {
            ResultCtx ctx;
            json_object *j;

            memset(&ctx, 0, sizeof(ctx));
            ctx.op = opname;
            ctx.vm = plan->vm;
            ctx.host = plan->host;
            ctx.detail = "dry run: nothing was changed";
            result_decode(&ctx, &info);
            j = report_result_json(&info, "dry run: nothing was changed");
            result_info_clear(&info);
            json_object_object_add(j, "plan", report_plan_json(plan));
            json_object_object_add(j, "job", NULL);
            report_print_json(j);
            json_object_put(j);
        } else {
            printf("Dry run: nothing was changed.\n");
        }
        status = 0;
        goto out;
    }
    if (s->hosts[h].readonly) {
        err_set(RESULT_ACCESS_DENIED, "%s of %s refused: %s is open read-only", state_op_title(op),
                plan->vm, s->hosts[h].name);
        status = cli_fail(o, opname, plan->vm, s->hosts[h].name, NULL);
        goto out;
    }
    if (!o->yes) {
        if (!isatty(STDIN_FILENO)) {
            err_set(RESULT_INVALID_PARAMETER,
                    "refusing to %s %s without --yes: standard input is not a terminal", opname, plan->vm);
            status = cli_fail(o, opname, plan->vm, s->hosts[h].name, NULL);
            goto out;
        }
        if (!cli_confirm(s, plan)) {
            fprintf(stderr, "drover: cancelled; nothing was changed\n");
            status = 1;
            goto out;
        }
    }
    if (!reason && s->conf->require_reason) {
        if (!o->yes && isatty(STDIN_FILENO))
            reason = cli_ask_reason();
        if (!reason) {
            err_set(RESULT_INVALID_PARAMETER, "a reason is required (require_reason in drover.conf): use --reason TEXT");
            status = cli_fail(o, opname, plan->vm, s->hosts[h].name, NULL);
            goto out;
        }
    }

    cj = util_xcalloc(1, sizeof(*cj));
    cj->conn = s->hosts[h].conn;
    cj->plan = plan;
    cj->args.reason = reason;
    cj->args.shutdown_timeout = s->conf->shutdown_timeout;
    cj->args.audit_log = s->conf->audit_log;
    memset(&prog, 0, sizeof(prog));
    pthread_mutex_init(&prog.mu, NULL);
    prog.out = o->json ? stderr : stdout;
    prog.last_percent = -1;
    job_table_set_observer(s->jobs, cli_observe, &prog);
    job = job_submit(s->jobs, state_op_job_type(op), s->hosts[h].name, s->hosts[h].uri, plan->vm, plan->uuid,
                     plan->digest, cli_job_run, cj, free);
    job_wait(job, &ji);
    job_table_set_observer(s->jobs, NULL, NULL);
    pthread_mutex_destroy(&prog.mu);

    report_decode_job(&ji, opname, &info);
    status = result_exit_status(info.code);
    if (o->json) {
        json_object *j = report_result_json(&info, ji.error_code ? ji.error_description : ji.step);
        json_object_object_add(j, "plan", report_plan_json(plan));
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
    plan_free(plan);
    session_free(s);
    return status;
}

static json_object *
cli_vm_ref_json(const char *host, const char *name)
{
    json_object *j = json_object_new_object();

    json_object_object_add(j, "host", json_object_new_string(host));
    json_object_object_add(j, "name", json_object_new_string(name));
    return j;
}

/* One VM's repair failed: decoded on stderr (text), or added to the JSON
 * object's failures; the first failure's code and exit status win. */
static void
cli_repair_failed(const CliOpts *o, json_object *failed, const char *host, const char *name,
                  int *status, int *first_code)
{
    json_object *f = cli_vm_ref_json(host, name);
    int code = err_code() ? err_code() : RESULT_FAILED;
    int st;

    json_object_object_add(f, "result", json_object_new_int(code));
    json_object_object_add(f, "message", json_object_new_string(err_message()));
    json_object_array_add(failed, f);
    st = o->json ? result_exit_status(code) : cli_fail(o, "repair", name, host, NULL);
    if (!*status) {
        *status = st;
        *first_code = code;
    }
}

int
cli_repair(const CliCommand *cmd, CliOpts *o)
{
    Session *s = cli_session(o, 1);
    OpsArgs oa;
    json_object *done = json_object_new_array();
    json_object *failed = json_object_new_array();
    size_t i, k;
    int status = 0, repaired = 0, matched = 0, pending = 0, first_code = 0;

    (void)cmd;
    if (!s) {
        json_object_put(done);
        json_object_put(failed);
        return result_exit_status(err_code());
    }
    memset(&oa, 0, sizeof(oa));
    oa.reason = o->reason;
    oa.shutdown_timeout = s->conf->shutdown_timeout;
    oa.audit_log = s->conf->audit_log;
    for (i = 0; i < s->nhosts; i++) {
        HvDomain *doms = NULL;
        size_t n = 0;

        if (cli_list_host(s, i, &doms, &n, &status) < 0)
            continue;
        for (k = 0; k < n; k++) {
            UTIL_AUTOFREE char *preview = NULL;
            int did = 0, code, r;

            if (o->nargs) {
                if (!cli_vm_matches(o->args[0], &doms[k], s->hosts[i].name))
                    continue;
                matched++;
            } else if (!doms[k].metadata || !strstr(doms[k].metadata, "journal")) {
                continue;
            }
            r = ops_repair_preview(s->hosts[i].conn, doms[k].uuid, &preview);
            if (r <= 0) {
                if (r < 0)
                    cli_repair_failed(o, failed, s->hosts[i].name, doms[k].name, &status, &first_code); else if (o->nargs && !o->json) {
                    printf("%s@%s: nothing to repair\n", doms[k].name, s->hosts[i].name);
                }
                continue;
            }
            pending++;
            if (!o->json)
                printf("%s@%s: %s\n", doms[k].name, s->hosts[i].name, preview);
            if (o->dry_run)
                continue;
            if (!o->yes) {
                char line[64];
                if (!isatty(STDIN_FILENO)) {
                    err_set(RESULT_INVALID_PARAMETER,
                            "refusing to repair %s without --yes: standard input is not a terminal",
                            doms[k].name);
                    cli_repair_failed(o, failed, s->hosts[i].name, doms[k].name, &status, &first_code);
                    continue;
                }
                printf("Type yes to repair %s@%s, anything else skips it: ", doms[k].name,
                       s->hosts[i].name);
                fflush(stdout);
                if (!fgets(line, sizeof(line), stdin) || strcmp(line, "yes\n") != 0) {
                    printf("%s@%s: skipped; nothing was changed\n", doms[k].name, s->hosts[i].name);
                    continue;
                }
            }
            code = ops_repair(s->hosts[i].conn, s->hosts[i].name, doms[k].uuid, &oa, NULL, &did);
            if (code) {
                cli_repair_failed(o, failed, s->hosts[i].name, doms[k].name, &status, &first_code);
            } else if (did) {
                json_object *d = cli_vm_ref_json(s->hosts[i].name, doms[k].name);
                json_object_object_add(d, "action", json_object_new_string(preview));
                json_object_array_add(done, d);
                repaired++;
                if (!o->json)
                    printf("%s@%s: repaired\n", doms[k].name, s->hosts[i].name);
            }
        }
        hv_domain_list_free(doms, n);
    }
    if (o->nargs && !matched && !status) {
        err_set(RESULT_INVALID_PARAMETER, "no VM named %s", o->args[0]);
        json_object_put(done);
        json_object_put(failed);
        session_free(s);
        return cli_fail(o, "repair", o->args[0], NULL, NULL);
    }
    if (o->json) {
        json_object *j = json_object_new_object();
        /* Without a failed repair, a non-zero status means a host was down. */
        json_object_object_add(j, "result", json_object_new_int(first_code ? first_code :
                                                                status ? RESULT_NOT_AVAILABLE : 0));
        json_object_object_add(j, "dry_run", json_object_new_boolean(o->dry_run));
        json_object_object_add(j, "pending", json_object_new_int(o->dry_run ? pending : pending - repaired));
        json_object_object_add(j, "repaired", done);
        json_object_object_add(j, "failed", failed);
        report_print_json(j);
        json_object_put(j);
    } else {
        json_object_put(done);
        json_object_put(failed);
        if (!pending && !status && !o->nargs)
            printf("nothing to repair\n");
        else if (o->dry_run)
            printf("Dry run: nothing was changed.\n");
    }
    session_free(s);
    return status;
}

