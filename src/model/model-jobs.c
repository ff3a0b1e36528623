/* SPDX-License-Identifier: GPL-2.0-or-later */
/* model-jobs: the jobs the console starts (operations, repairs,
 * replication) and what the model notes when they end. */
#include <config.h>

#include "model/model.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "face/report.h"
#include "model/model-priv.h"
#include "ops/ops.h"
#include "base/result.h"
#include "record/state.h"
#include "base/util.h"

typedef struct {
    Session *s;
    unsigned reg_id;
    size_t host;
    char uuid[37];
    char *name;
    Plan *plan;                 /* NULL for a repair */
    char *reason;
    int repl_op;                /* job_run_repl: a ReplJobOp */
    char *digest;               /* its confirmed plan (resync) */
    ReplPlanned *planned;       /* job_run_planned: the confirmed plan */
} JobArg;

static void
job_arg_free(void *p)
{
    JobArg *a = p;

    if (!a)
        return;
    plan_free(a->plan);
    free(a->name);
    free(a->reason);
    free(a->digest);
    repl_planned_free(a->planned);
    free(a);
}

static void
job_note_done(Model *m, size_t host, const char *uuid, int kind)
{
    (void)uuid;
    (void)kind;
    /* A test system may have come or gone too: re-read the whole host. */
    model_note_event(m, host, NULL, HV_EVENT_RELOADED);
}

static void
job_args(const JobArg *a, OpsArgs *oa)
{
    memset(oa, 0, sizeof(*oa));
    oa->reason = a->reason;
    oa->shutdown_timeout = a->s->conf->shutdown_timeout;
    oa->audit_log = a->s->conf->audit_log;
}

static void
job_finished(const JobArg *a)
{
    ErrInfo saved;

    err_save(&saved);
    model_with((void *)(((uintptr_t)a->reg_id << 16) | (uintptr_t)a->host), job_note_done, a->uuid, 0);
    err_restore(&saved);
}

static int
job_run_plan(Job *job, void *arg)
{
    JobArg *a = arg;
    OpsArgs oa;
    int code;

    job_args(a, &oa);
    code = ops_execute(a->s->hosts[a->host].conn, a->plan, &oa, job);
    job_finished(a);
    return code;
}

static int
job_run_repair(Job *job, void *arg)
{
    JobArg *a = arg;
    OpsArgs oa;
    int did = 0, code;

    job_args(a, &oa);
    code = ops_repair(a->s->hosts[a->host].conn, a->s->hosts[a->host].name, a->uuid, &oa, job, &did);
    if (code == 0 && !did)
        job_progress(job, 100, "nothing to repair: %s has no interrupted operation", a->name);
    job_finished(a);
    return code;
}

static void
job_repl_args(const JobArg *a, ReplArgs *ra)
{
    memset(ra, 0, sizeof(*ra));
    ra->reason = a->reason;
    ra->audit_log = a->s->conf->audit_log;
}

static int
job_run_repl(Job *job, void *arg)
{
    JobArg *a = arg;
    ReplArgs ra;
    int code;

    job_repl_args(a, &ra);
    code = repljob_run(a->s->hosts[a->host].conn, a->s->hosts[a->host].name, a->uuid, a->name, a->repl_op,
                       a->digest, &ra, job);
    job_finished(a);
    return code;
}

static int
job_run_planned(Job *job, void *arg)
{
    JobArg *a = arg;
    ReplArgs ra;
    int code;

    job_repl_args(a, &ra);
    code = repl_planned_failover(a->s->hosts[a->host].conn, a->planned, &ra, job);
    job_finished(a);
    return code;
}

static int
model_host_index(const Model *m, const char *name)
{
    size_t i;

    for (i = 0; i < m->s->nhosts; i++)
        if (util_streq(m->s->hosts[i].name, name))
            return (int)i;
    return -1;
}

static int
model_refuse_readonly(const Model *m, size_t host, const char *what, const char *vm)
{
    if (!m->s->hosts[host].readonly)
        return 0;
    err_set(RESULT_ACCESS_DENIED, "%s of %s refused: the connection to %s is read-only", what, vm,
            m->s->hosts[host].name);
    return -1;
}

int
model_execute(Model *m, Plan *plan, const char *reason, char id_out[37])
{
    JobArg *a;
    Job *job;
    int host = model_host_index(m, plan->host);

    if (host < 0) {
        err_set(RESULT_INVALID_PARAMETER, "no host named %s", plan->host);
        plan_free(plan);
        return -1;
    }
    if (model_refuse_readonly(m, (size_t)host, state_op_title(plan->op), plan->vm) < 0) {
        plan_free(plan);
        return -1;
    }
    if (job_table_exe(m->s->jobs)) {
        /* Detached: the job outlives this console and its terminal. */
        OpsArgs oa;
        int rc;

        memset(&oa, 0, sizeof(oa));
        oa.reason = reason;
        oa.shutdown_timeout = m->s->conf->shutdown_timeout;
        oa.audit_log = m->s->conf->audit_log;
        rc = ops_start(m->s->jobs, m->s->hosts[host].uri, plan, &oa, id_out, NULL);
        plan_free(plan);
        return rc;
    }
    a = util_xcalloc(1, sizeof(*a));
    a->s = m->s;
    a->reg_id = m->reg_id;
    a->host = (size_t)host;
    util_strlcpy(a->uuid, plan->uuid, sizeof(a->uuid));
    a->name = util_xstrdup(plan->vm);
    a->reason = util_xstrdup(reason);
    a->plan = plan;
    job = job_submit(m->s->jobs, state_op_job_type(plan->op), plan->host, m->s->hosts[host].uri, plan->vm,
                     plan->uuid, plan->digest, job_run_plan, a, job_arg_free);
    util_strlcpy(id_out, job_id(job), 37);
    return 0;
}

int
model_repair(Model *m, size_t host, const char *uuid, const char *name, const char *reason,
             char id_out[37])
{
    JobArg *a;
    Job *job;

    if (host >= m->nhosts) {
        err_set(RESULT_INVALID_PARAMETER, "no host %zu", host);
        return -1;
    }
    if (model_refuse_readonly(m, host, "repair", name) < 0)
        return -1;
    if (job_table_exe(m->s->jobs)) {
        /* Detached, like every mutating job. */
        OpsArgs oa;

        memset(&oa, 0, sizeof(oa));
        oa.reason = reason;
        oa.shutdown_timeout = m->s->conf->shutdown_timeout;
        oa.audit_log = m->s->conf->audit_log;
        return ops_start_repair(m->s->jobs, m->s->hosts[host].uri, m->s->hosts[host].name, uuid, name,
                                &oa, MODEL_JOB_REPAIR, id_out, NULL);
    }
    a = util_xcalloc(1, sizeof(*a));
    a->s = m->s;
    a->reg_id = m->reg_id;
    a->host = host;
    util_strlcpy(a->uuid, uuid, sizeof(a->uuid));
    a->name = util_xstrdup(name);
    a->reason = util_xstrdup(reason);
    job = job_submit(m->s->jobs, MODEL_JOB_REPAIR, m->s->hosts[host].name, m->s->hosts[host].uri, name, uuid,
                     NULL, job_run_repair, a, job_arg_free);
    util_strlcpy(id_out, job_id(job), 37);
    return 0;
}

const char *
model_job_op(int type)
{
    switch (type) {
    case 97: return state_op_name(OP_INITIATE);
    case 98: return state_op_name(OP_REVERT);
    case 99: return state_op_name(OP_COMMIT);
    case 102: return state_op_name(OP_TEST);
    case 103: return state_op_name(OP_STOP_TEST);
    case MODEL_JOB_REPAIR: return "repair";
    default: return repljob_type_op(type) ? repljob_type_op(type) : "operation";
    }
}

const char *
model_job_title(int type)
{
    return type == MODEL_JOB_REPAIR ? "Repair" : report_job_title(type);
}

int
model_repl_execute(Model *m, ModelReplPlan *plan, const char *reason, char id_out[37])
{
    const char *digest = plan->digest[0] ? plan->digest : NULL;
    size_t host = plan->host;
    JobArg *a;
    Job *job;
    int rc = -1;

    if (host >= m->nhosts) {
        err_set(RESULT_INVALID_PARAMETER, "no host %zu", host);
        goto out;
    }
    if (model_refuse_readonly(m, host, repljob_op_name(plan->op), plan->vm) < 0)
        goto out;
    if (plan->op == REPLJOB_PLANNED && !plan->planned) {
        err_set(RESULT_INVALID_PARAMETER, "a planned failover of %s runs only a plan the operator "
                "confirmed, and none was given", plan->vm);
        goto out;
    }
    if (job_table_exe(m->s->jobs)) {
        /* Detached like every mutating job: it outlives this console, and
         * qemu-nbd and qemu-img never write on its terminal. */
        ReplArgs ra;

        memset(&ra, 0, sizeof(ra));
        ra.reason = reason;
        ra.audit_log = m->s->conf->audit_log;
        if (plan->op == REPLJOB_PLANNED)
            rc = repljob_start_planned(m->s->jobs, m->s->hosts[host].uri, plan->planned, &ra, id_out,
                                       NULL);
        else
            rc = repljob_start(m->s->jobs, m->s->hosts[host].uri, m->s->hosts[host].name, plan->uuid,
                               plan->vm, plan->op, digest, &ra, id_out, NULL);
        goto out;
    }
    a = util_xcalloc(1, sizeof(*a));
    a->s = m->s;
    a->reg_id = m->reg_id;
    a->host = host;
    util_strlcpy(a->uuid, plan->uuid, sizeof(a->uuid));
    a->name = util_xstrdup(plan->vm);
    a->reason = util_xstrdup(reason);
    a->repl_op = plan->op;
    a->digest = util_xstrdup(digest);
    a->planned = UTIL_STEAL(&plan->planned);
    job = job_submit(m->s->jobs, repljob_type(plan->op), m->s->hosts[host].name, m->s->hosts[host].uri,
                     plan->vm, plan->uuid, digest, a->planned ? job_run_planned : job_run_repl, a,
                     job_arg_free);
    util_strlcpy(id_out, job_id(job), 37);
    rc = 0;

out:
    model_repl_plan_free(plan);
    return rc;
}
