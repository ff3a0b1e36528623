/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cli-ops: the commands that change things: the operations and repair. */
#include <config.h>

#include "face/cli-priv.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/err.h"
#include "ops/ops.h"
#include "ops/plan.h"
#include "face/report.h"
#include "face/repljob.h"
#include "base/result.h"
#include "record/state.h"
#include "base/util.h"

/* --- operations ------------------------------------------------------------ */

/* --- following a job ------------------------------------------------------ */

static volatile sig_atomic_t cli_interrupted;

static void
cli_on_sigint(int sig)
{
    (void)sig;
    cli_interrupted = 1;
}

/* Copies what the job's progress log gained since the last call. */
static void
cli_copy_log(int fd, FILE *out)
{
    char buf[4096];
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) > 0)
        fwrite(buf, 1, (size_t)n, out);
    cli_flush(out);
}

int
cli_follow(Session *s, const char *id, pid_t pid, FILE *out, JobInfo *fin, int *died)
{
    struct sigaction sa, old;
    char last[sizeof(fin->step)] = "";
    int reaped = pid <= 0, rc = -1;
    /* Every step, from the job's progress log; without one, the steps the
     * record shows when it is read. */
    int logfd = out ? job_log_open(s->jobs, id) : -1;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = cli_on_sigint;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: poll() returns at once on Ctrl-C. */
    sigaction(SIGINT, &sa, &old);
    cli_interrupted = 0;
    *died = 0;
    for (;;) {
        struct pollfd pfd;
        int st;

        if (job_table_get(s->jobs, id, fin) < 0)
            break;
        if (logfd >= 0)
            cli_copy_log(logfd, out);
        else if (out && fin->state == JOB_RUNNING && strcmp(fin->step, "starting") != 0 &&
                 strcmp(last, fin->step) != 0) {
            fprintf(out, "[%3d%%] %s\n", fin->percent, fin->step);
            cli_flush(out);
            util_strlcpy(last, fin->step, sizeof(last));
        }
        if (fin->state >= JOB_COMPLETED) {
            rc = 0;
            break;
        }
        if (cli_interrupted) {
            rc = 1;
            break;
        }
        if (!reaped && waitpid(pid, &st, WNOHANG) == pid) {
            /* The record says how it ended, or, if the process died
             * without one, the next reading turns it into a failure. */
            reaped = 1;
            if (WIFSIGNALED(st))
                *died = 128 + WTERMSIG(st);
            else if (WIFEXITED(st))
                *died = WEXITSTATUS(st);
            continue;
        }
        pfd.fd = job_table_fd(s->jobs);
        pfd.events = POLLIN;
        pfd.revents = 0;
        /* Records change by rename, which inotify reports; the timeout
         * only covers a job that dies between two readings. */
        if (poll(&pfd, pfd.fd >= 0 ? 1 : 0, 500) > 0)
            job_table_drain(s->jobs);
    }
    if (!reaped && rc == 0) {
        int st = 0;

        /* It ends right after its record does (or died before it wrote it). */
        if (waitpid(pid, &st, 0) == pid)
            *died = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WIFEXITED(st) ? WEXITSTATUS(st) : 0;
    }
    if (logfd >= 0) {
        cli_copy_log(logfd, out);   /* the last lines, written before the end */
        close(logfd);
    }
    sigaction(SIGINT, &old, NULL);
    return rc;
}

int
cli_detached_note(const JobInfo *ji)
{
    fprintf(stderr, "\ndrover: interrupted; job %s (%s of %s) goes on by itself: drover never stops "
            "a job half-way.\n  Follow it: drover jobs --follow %s\n", ji->id, report_job_title(ji->type),
            ji->vm, ji->id);
    if (ji->cancellable)
        fprintf(stderr, "  Cancel it (only before its switch): drover cancel %s\n", ji->id);
    return CLI_EXIT_INTERRUPTED;
}

json_object *
cli_started_json(const JobInfo *ji, json_object *plan)
{
    ResultCtx ctx;
    ResultInfo info;
    json_object *j;

    memset(&ctx, 0, sizeof(ctx));
    ctx.code = RESULT_JOB_STARTED;
    ctx.vm = ji->vm;
    ctx.host = ji->host;
    result_decode(&ctx, &info);
    j = report_result_json(&info, "the job was started; it goes on by itself");
    result_info_clear(&info);
    if (plan)
        json_object_object_add(j, "plan", plan);
    json_object_object_add(j, "job", report_job_json(ji));
    return j;
}

static json_object *
cli_ops_plan_json(const void *plan)
{
    return report_plan_json(plan);
}

/* The operation's job: the confirmed plan, run by ops_start. */
static int
cli_ops_start(const CliProto *p, const void *arg, char id[37], pid_t *pid)
{
    return ops_start(p->s->jobs, p->s->hosts[p->h].uri, p->plan, arg, id, pid);
}

static char *
cli_ask_reason(void)
{
    char line[512];

    printf("Reason (kept in the audit log): ");
    cli_flush(stdout);
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
    UTIL_AUTOFREE char *yes_what = util_xasprintf("to %s", opname);
    UTIL_AUTOFREE char *text = NULL;
    char uuid[37];
    CliProto cp;
    PlanArgs pa;
    Plan *plan = NULL;
    OpsArgs oa;
    int h, status;

    if (!s)
        return result_exit_status(err_code());
    memset(&cp, 0, sizeof(cp));
    cp.s = s;
    cp.o = o;
    cp.op = opname;
    cp.type = state_op_job_type(op);
    cp.h = -1;
    cp.vm = o->args[0];
    cp.reason = reason;
    cp.plan_json = cli_ops_plan_json;
    cp.ro_what = state_op_title(op);
    cp.yes_what = yes_what;
    cp.title = state_op_title(op);
    cp.yes_no = 1;
    if ((h = session_find_vm(s, o->args[0], uuid)) < 0) {
        status = cli_proto_refuse(&cp);
        goto out;
    }
    cp.h = h;
    cp.uuid = uuid;
    if (o->flatten && op != OP_COMMIT) {
        err_set(RESULT_INVALID_PARAMETER, "--flatten only applies to commit");
        status = cli_proto_refuse(&cp);
        goto out;
    }
    if (o->point && op != OP_INITIATE && op != OP_TEST) {
        err_set(RESULT_INVALID_PARAMETER, "--point only applies to failover and test-failover");
        status = cli_proto_refuse(&cp);
        goto out;
    }
    if (o->force && !reason) {
        err_set(RESULT_INVALID_PARAMETER, "--force overrides the split-brain guard: say why with "
                "--reason TEXT (kept in the audit log)");
        status = cli_proto_refuse(&cp);
        goto out;
    }
    if (o->test_network && op != OP_TEST) {
        err_set(RESULT_INVALID_PARAMETER, "--test-network only applies to test-failover");
        status = cli_proto_refuse(&cp);
        goto out;
    }
    memset(&pa, 0, sizeof(pa));
    pa.test_network = o->test_network;
    pa.point = o->point;
    pa.flatten = o->flatten;
    pa.force = o->force;
    if (!(plan = plan_make(s->hosts[h].conn, s->hosts[h].name, uuid, op, &pa))) {
        status = cli_proto_refuse(&cp);
        goto out;
    }
    cp.vm = plan->vm;
    cp.plan = plan;
    cp.digest = plan->digest;
    text = plan_text(plan);
    if (cli_proto_show(&cp, text)) {
        status = 0;
        goto out;
    }
    if (cli_proto_confirm(&cp, &status) < 0)
        goto out;
    if (!reason && s->conf->require_reason) {
        if (!o->yes && isatty(STDIN_FILENO))
            cp.reason = reason = cli_ask_reason();
        if (!reason) {
            err_set(RESULT_INVALID_PARAMETER, "a reason is required (require_reason in drover.conf): use --reason TEXT");
            status = cli_proto_refuse(&cp);
            goto out;
        }
    }

    memset(&oa, 0, sizeof(oa));
    oa.reason = reason;
    oa.shutdown_timeout = s->conf->shutdown_timeout;
    oa.audit_log = s->conf->audit_log;
    status = cli_proto_run(&cp, cli_ops_start, &oa, NULL);

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

/* The end of a repair job this command followed, as cli_repair reports
 * it: 1 repaired, 0 nothing to repair, -1 failed with err set from the job. */
static int
cli_repair_ended(const JobInfo *ji)
{
    ErrInfo e;

    if (ji->state == JOB_COMPLETED)
        return strncmp(ji->step, "nothing to repair", 17) == 0 ? 0 : 1;
    memset(&e, 0, sizeof(e));
    e.code = ji->error_code ? ji->error_code : RESULT_FAILED;
    e.virt_code = ji->virt_code;
    e.sys_errno = ji->sys_errno;
    e.hints = ji->hints;
    util_strlcpy(e.message, ji->error_description[0] ? ji->error_description : "the repair job failed",
                 sizeof(e.message));
    err_restore(&e);
    return -1;
}

int
cli_repair(const CliCommand *cmd, CliOpts *o)
{
    Session *s = cli_session(o, 1);
    OpsArgs oa;
    json_object *done = json_object_new_array();
    json_object *failed = json_object_new_array();
    json_object *started = json_object_new_array();
    size_t i, k;
    int status = 0, repaired = 0, matched = 0, pending = 0, first_code = 0, nstarted = 0;
    int interrupted = 0;

    (void)cmd;
    if (!s) {
        json_object_put(done);
        json_object_put(failed);
        json_object_put(started);
        return result_exit_status(err_code());
    }
    memset(&oa, 0, sizeof(oa));
    oa.reason = o->reason;
    oa.shutdown_timeout = s->conf->shutdown_timeout;
    oa.audit_log = s->conf->audit_log;
    for (i = 0; i < s->nhosts && !interrupted; i++) {
        HvDomain *doms = NULL;
        size_t n = 0;

        if (cli_list_host(s, i, &doms, &n, &status) < 0)
            continue;
        for (k = 0; k < n && !interrupted; k++) {
            UTIL_AUTOFREE char *preview = NULL;
            FILE *prog = o->json ? stderr : stdout;
            JobInfo ji;
            char id[37];
            pid_t pid = 0;
            int died = 0, r;

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
                    cli_repair_failed(o, failed, s->hosts[i].name, doms[k].name, &status, &first_code);
                else if (o->nargs && !o->json)
                    printf("%s@%s: nothing to repair\n", doms[k].name, s->hosts[i].name);
                continue;
            }
            pending++;
            if (!o->json)
                printf("%s@%s: %s\n", doms[k].name, s->hosts[i].name, preview);
            if (o->dry_run)
                continue;
            /* The job connects by itself: the read-only floor is kept here. */
            if (s->hosts[i].readonly) {
                err_set(RESULT_ACCESS_DENIED, "repair of %s refused: %s is open read-only", doms[k].name,
                        s->hosts[i].name);
                err_hint(RESULT_HINT_REFUSED);
                ops_refused(s->jobs, &oa, JOB_TYPE_REPAIR, "repair", s->hosts[i].name, s->hosts[i].uri,
                            doms[k].name, doms[k].uuid, NULL, err_get());
                cli_repair_failed(o, failed, s->hosts[i].name, doms[k].name, &status, &first_code);
                continue;
            }
            if (!o->yes) {
                char line[64];
                if (!isatty(STDIN_FILENO)) {
                    err_set(RESULT_INVALID_PARAMETER,
                            "refusing to repair %s without --yes: standard input is not a terminal",
                            doms[k].name);
                    err_hint(RESULT_HINT_REFUSED);
                    ops_refused(s->jobs, &oa, JOB_TYPE_REPAIR, "repair", s->hosts[i].name, s->hosts[i].uri,
                                doms[k].name, doms[k].uuid, NULL, err_get());
                    cli_repair_failed(o, failed, s->hosts[i].name, doms[k].name, &status, &first_code);
                    continue;
                }
                printf("Type yes to repair %s@%s, anything else skips it: ", doms[k].name,
                       s->hosts[i].name);
                cli_flush(stdout);
                if (!fgets(line, sizeof(line), stdin) || strcmp(line, "yes\n") != 0) {
                    printf("%s@%s: skipped; nothing was changed\n", doms[k].name, s->hosts[i].name);
                    continue;
                }
            }
            /* A job of its own, detached from this terminal like every
             * operation: closing it does not stop a repair half way. */
            if (ops_start_repair(s->jobs, s->hosts[i].uri, s->hosts[i].name, doms[k].uuid, doms[k].name,
                                 &oa, JOB_TYPE_REPAIR, id, o->no_wait ? NULL : &pid) < 0) {
                err_prefix("cannot start the repair job");
                cli_repair_failed(o, failed, s->hosts[i].name, doms[k].name, &status, &first_code);
                continue;
            }
            if (o->no_wait) {
                json_object *st = cli_vm_ref_json(s->hosts[i].name, doms[k].name);

                json_object_object_add(st, "action", json_object_new_string(preview));
                json_object_object_add(st, "job", json_object_new_string(id));
                json_object_array_add(started, st);
                nstarted++;
                if (!o->json)
                    printf("%s@%s: job %s started (Repair; result 4096): it goes on by itself.\n"
                           "Follow it: drover jobs --follow %s\n", doms[k].name, s->hosts[i].name, id, id);
                continue;
            }
            fprintf(prog, "Job %s started (Repair of %s; result 4096 until it ends; Ctrl-C leaves it "
                    "running)\n", id, doms[k].name);
            cli_flush(prog);
            r = cli_follow(s, id, pid, prog, &ji, &died);
            if (r > 0) {
                status = cli_detached_note(&ji);
                interrupted = 1;
                continue;
            }
            if (r < 0 || (r = cli_repair_ended(&ji)) < 0) {
                cli_repair_failed(o, failed, s->hosts[i].name, doms[k].name, &status, &first_code);
            } else if (r > 0) {
                json_object *d = cli_vm_ref_json(s->hosts[i].name, doms[k].name);
                json_object_object_add(d, "action", json_object_new_string(preview));
                json_object_object_add(d, "job", json_object_new_string(id));
                /* Repair always finishes; what it left in place it says. */
                json_object_object_add(d, "warnings", ji.error_description[0] ?
                                       json_object_new_string(ji.error_description) : NULL);
                json_object_array_add(done, d);
                repaired++;
                if (!o->json && ji.error_description[0]) {
                    const char *w = ji.error_description;
                    const char *pre = "completed with warnings: ";

                    if (strncmp(w, pre, strlen(pre)) == 0)
                        w += strlen(pre);
                    printf("%s@%s: repaired with warnings: %s\n", doms[k].name, s->hosts[i].name, w);
                }
                else if (!o->json)
                    printf("%s@%s: repaired\n", doms[k].name, s->hosts[i].name);
            } else {
                pending--;  /* finished meanwhile by someone else */
                if (!o->json)
                    printf("%s@%s: nothing to repair\n", doms[k].name, s->hosts[i].name);
            }
        }
        hv_domain_list_free(doms, n);
    }
    if (interrupted) {
        json_object_put(done);
        json_object_put(failed);
        json_object_put(started);
        session_free(s);
        return status;
    }
    if (o->nargs && !matched && !status) {
        err_set(RESULT_INVALID_PARAMETER, "no VM named %s", o->args[0]);
        json_object_put(done);
        json_object_put(failed);
        json_object_put(started);
        session_free(s);
        return cli_fail(o, "repair", o->args[0], NULL, NULL);
    }
    if (o->json) {
        json_object *j = json_object_new_object();
        /* Without a failed repair, a non-zero status means a host was down. */
        json_object_object_add(j, "result", json_object_new_int(first_code ? first_code :
                                                                status ? RESULT_NOT_AVAILABLE :
                                                                nstarted ? RESULT_JOB_STARTED : 0));
        json_object_object_add(j, "dry_run", json_object_new_boolean(o->dry_run));
        json_object_object_add(j, "pending", json_object_new_int(o->dry_run ? pending : pending - repaired));
        json_object_object_add(j, "repaired", done);
        json_object_object_add(j, "failed", failed);
        json_object_object_add(j, "started", started);
        report_print_json(j);
        json_object_put(j);
    } else {
        json_object_put(done);
        json_object_put(failed);
        json_object_put(started);
        if (!pending && !status && !o->nargs)
            printf("nothing to repair\n");
        else if (o->dry_run)
            printf("Dry run: nothing was changed.\n");
    }
    session_free(s);
    return status;
}


/* --- jobs: follow, cancel, the job process --------------------------------- */

/* The command name of a job type, for the decoder's sentences. */
static const char *
cli_job_opname(int type)
{
    int op;

    if (type == JOB_TYPE_REPAIR)
        return "repair";    /* 0 is also what invalid operations map to */
    if (repljob_type_op(type))
        return repljob_type_op(type);
    for (op = 0; op < 16; op++)
        if (state_op_job_type((StateOp)op) == type && state_op_name((StateOp)op))
            return state_op_name((StateOp)op);
    return "repair";
}

/* The newest running job, for `drover jobs --follow` without an id. */
static int
cli_newest_running(Session *s, char id[37])
{
    JobInfo *v = NULL;
    size_t n = job_table_snapshot(s->jobs, &v);
    int found = n && v[0].state < JOB_COMPLETED;

    if (found)
        util_strlcpy(id, v[0].id, 37);
    free(v);
    if (!found)
        err_set(RESULT_INVALID_PARAMETER, "no job is running (drover jobs lists the finished ones)");
    return found ? 0 : -1;
}

int
cli_job_show(Session *s, CliOpts *o)
{
    char id[37];
    JobInfo ji;
    int died = 0, r;

    if (o->nargs)
        util_strlcpy(id, o->args[0], sizeof(id));
    else if (cli_newest_running(s, id) < 0)
        return cli_fail(o, "jobs", NULL, NULL, NULL);
    if (job_table_get(s->jobs, id, &ji) < 0)
        return cli_fail(o, "jobs", NULL, NULL, NULL);
    if (o->follow && ji.state < JOB_COMPLETED) {
        FILE *prog = o->json ? stderr : stdout;

        fprintf(prog, "Following job %s: %s of %s@%s, started by %s, %d%%: %s\n", ji.id,
                report_job_title(ji.type), ji.vm, ji.host, ji.owner, ji.percent, ji.step);
        cli_flush(prog);
        r = cli_follow(s, ji.id, 0, prog, &ji, &died);
        if (r < 0)
            return cli_fail(o, "jobs", NULL, NULL, NULL);
        if (r > 0) {
            fprintf(stderr, "\ndrover: stopped following; job %s goes on by itself "
                    "(drover jobs --follow %s)\n", ji.id, ji.id);
            return CLI_EXIT_INTERRUPTED;
        }
    }
    if (ji.state < JOB_COMPLETED) {
        /* Not following: where it is now. */
        if (o->json) {
            json_object *j = cli_started_json(&ji, NULL);

            report_print_json(j);
            json_object_put(j);
        } else {
            printf("Job %s: %s of %s@%s, %s, %d%%, %.1f s: %s\n", ji.id, report_job_title(ji.type), ji.vm,
                   ji.host, job_state_name(ji.state), ji.percent, (double)ji.elapsed_ms / 1000.0, ji.step);
        }
        return 0;
    }
    return cli_job_result(o, cli_job_opname(ji.type), &ji, NULL, 0);
}

int
cli_cancel(const CliCommand *cmd, CliOpts *o)
{
    Session *s = cli_session(o, 0);
    JobInfo ji;
    int died = 0, r, status;

    (void)cmd;
    if (!s)
        return result_exit_status(err_code());
    if (job_cancel(s->jobs, o->args[0], &ji) < 0) {
        status = cli_fail(o, "cancel", ji.vm[0] ? ji.vm : NULL, ji.host[0] ? ji.host : NULL, NULL);
        goto out;
    }
    if (o->no_wait) {
        if (!o->json)
            printf("Cancel requested: job %s (%s of %s) rolls back at its next step.\n"
                   "Follow it: drover jobs --follow %s\n", ji.id, report_job_title(ji.type), ji.vm, ji.id);
        else {
            json_object *j = cli_started_json(&ji, NULL);

            report_print_json(j);
            json_object_put(j);
        }
        status = 0;
        goto out;
    }
    if (!o->json)
        printf("Cancel requested: job %s (%s of %s) rolls back at its next step; waiting for it.\n",
               ji.id, report_job_title(ji.type), ji.vm);
    cli_flush(stdout);
    r = cli_follow(s, ji.id, 0, NULL, &ji, &died);
    if (r != 0) {
        status = r < 0 ? cli_fail(o, "cancel", NULL, NULL, NULL) : CLI_EXIT_INTERRUPTED;
        goto out;
    }
    if (ji.state == JOB_TERMINATED) {
        status = cli_job_result(o, "cancel", &ji, NULL, 0);
        status = 0;
        goto out;
    }
    if (ji.state == JOB_COMPLETED) {
        err_set(RESULT_INVALID_STATE, "job %s (%s of %s) passed its switch before it saw the "
                "request, and completed: it cannot be cancelled any more", ji.id,
                report_job_title(ji.type), ji.vm);
        status = cli_fail(o, "cancel", ji.vm, ji.host, NULL);
        goto out;
    }
    status = cli_job_result(o, "cancel", &ji, NULL, 0);
out:
    session_free(s);
    return status;
}

int
cli_job_process(const char *id, const char *spec)
{
    json_object *o = json_tokener_parse(spec);
    json_object *v;
    const char *history = NULL;
    JobTable *t;
    int code;

    if (o && json_object_object_get_ex(o, "history", &v) && json_object_is_type(v, json_type_string))
        history = json_object_get_string(v);
    t = job_table_new(history);
    /* Replication work the console started runs in src/repl, above ops. */
    code = repljob_is_spec(spec) ? repljob_main(t, id, spec, JOB_LOCK_FD)
                                 : ops_job_main(t, id, spec, JOB_LOCK_FD);
    job_table_free(t);
    json_object_put(o);
    return result_exit_status(code);
}
