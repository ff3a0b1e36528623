/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ops-job: an operation as a detached job process.  The starting side
 * writes what was confirmed into a spec (JSON, one argument); the job
 * process (`drover job-run ID SPEC`) opens its own connection, re-plans,
 * and runs the operation under the replica's lock like any execution:
 * the digest check there refuses anything that changed since the
 * operator confirmed. */
#include <config.h>

#include "ops/ops.h"
#include "ops/ops-priv.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"
#include "ops/audit.h"
#include "record/state.h"

static void
ops_spec_str(json_object *o, const char *key, const char *val)
{
    if (val)
        json_object_object_add(o, key, json_object_new_string(val));
}

int
ops_start(JobTable *t, const char *uri, const Plan *plan, const OpsArgs *a, char id[37], pid_t *pid)
{
    json_object *o = json_object_new_object();
    int rc;

    ops_spec_str(o, "op", state_op_name(plan->op));
    ops_spec_str(o, "uri", uri);
    ops_spec_str(o, "host", plan->host);
    ops_spec_str(o, "uuid", plan->uuid);
    ops_spec_str(o, "vm", plan->vm);
    ops_spec_str(o, "point", plan->point);
    json_object_object_add(o, "flatten", json_object_new_boolean(plan->flatten));
    /* The split-brain guard's override and the test network, so the job's
     * re-plan is the plan the operator confirmed. */
    json_object_object_add(o, "force", json_object_new_boolean(plan->force));
    ops_spec_str(o, "test_network", plan->test_network);
    ops_spec_str(o, "stamp", plan->stamp);
    ops_spec_str(o, "test_uuid", plan->test_uuid[0] ? plan->test_uuid : NULL);
    ops_spec_str(o, "digest", plan->digest);
    ops_spec_str(o, "by", a->by);
    ops_spec_str(o, "reason", a->reason);
    ops_spec_str(o, "audit_log", a->audit_log);
    ops_spec_str(o, "history", job_table_history(t));
    json_object_object_add(o, "shutdown_timeout", json_object_new_int(a->shutdown_timeout));
    rc = job_spawn(t, state_op_job_type(plan->op), plan->host, uri, plan->vm, plan->uuid, plan->digest,
                   json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), id, pid);
    json_object_put(o);
    return rc;
}

int
ops_start_repair(JobTable *t, const char *uri, const char *host, const char *uuid, const char *vm,
                 const OpsArgs *a, int type, char id[37], pid_t *pid)
{
    json_object *o = json_object_new_object();
    int rc;

    ops_spec_str(o, "op", "repair");
    ops_spec_str(o, "uri", uri);
    ops_spec_str(o, "host", host);
    ops_spec_str(o, "uuid", uuid);
    ops_spec_str(o, "vm", vm);
    ops_spec_str(o, "reason", a->reason);
    ops_spec_str(o, "audit_log", a->audit_log);
    ops_spec_str(o, "history", job_table_history(t));
    json_object_object_add(o, "shutdown_timeout", json_object_new_int(a->shutdown_timeout));
    rc = job_spawn(t, type, host, uri, vm, uuid, NULL,
                   json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), id, pid);
    json_object_put(o);
    return rc;
}

void
ops_refused(JobTable *t, const OpsArgs *a, int type, const char *opname, const char *host,
            const char *uri, const char *vm, const char *uuid, const char *digest, const ErrInfo *e)
{
    ErrInfo saved, why = *e;
    AuditRecord rec;

    err_save(&saved);
    why.hints |= RESULT_HINT_REFUSED;
    if (!why.code)
        why.code = RESULT_FAILED;
    memset(&rec, 0, sizeof(rec));
    rec.host = host;
    rec.vm = vm;
    rec.operation = opname;
    rec.digest = digest;
    rec.reason = a ? a->reason : NULL;
    rec.result = why.code;
    rec.message = why.message[0] ? why.message : result_name(why.code);
    rec.refused = 1;
    /* The audit line is the record; the history entry is for the jobs list. */
    if (audit_write(a ? a->audit_log : NULL, &rec) < 0)
        err_clear();
    if (t)
        job_record_refused(t, type, host, uri, vm, uuid, &why);
    err_restore(&saved);
}

static const char *
ops_spec_get(json_object *o, const char *key)
{
    json_object *v;

    if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return NULL;
}

static int
ops_spec_int(json_object *o, const char *key)
{
    json_object *v;

    if (json_object_object_get_ex(o, key, &v))
        return json_object_get_int(v);
    return 0;
}

int
ops_job_main(JobTable *t, const char *id, const char *spec, int lockfd)
{
    json_object *o = json_tokener_parse(spec);
    const char *opname, *uri, *uuid;
    Plan *plan = NULL;
    HvConn *c = NULL;
    Job *job;
    PlanArgs pa;
    OpsArgs oa;
    int op = -1;
    int code;

    if (!(job = job_adopt(t, id, lockfd))) {
        json_object_put(o);
        return err_code() ? err_code() : RESULT_FAILED;
    }
    opname = o ? ops_spec_get(o, "op") : NULL;
    uri = o ? ops_spec_get(o, "uri") : NULL;
    uuid = o ? ops_spec_get(o, "uuid") : NULL;
    if (opname && strcmp(opname, "repair") == 0)
        op = OP_COUNT;
    else if (opname)
        op = state_op_from_name(opname);
    if (!opname || !uri || !uuid || op < 0 || (op != OP_COUNT && !ops_spec_get(o, "digest"))) {
        err_set(RESULT_INVALID_PARAMETER, "job %s: its spec is incomplete", id);
        code = RESULT_INVALID_PARAMETER;
        goto out;
    }
    memset(&oa, 0, sizeof(oa));
    oa.by = ops_spec_get(o, "by");
    oa.reason = ops_spec_get(o, "reason");
    oa.audit_log = ops_spec_get(o, "audit_log");
    oa.shutdown_timeout = ops_spec_int(o, "shutdown_timeout");
    job_progress(job, 0, "connecting to %s", uri);
    if (hv_init() < 0) {
        code = ops_code();
        goto out;
    }
    c = hv_open(uri, 0);
    if (!hv_is_alive(c)) {
        err_prefix("the job cannot reach %s", uri);
        code = ops_code();
        ops_audit(&oa, ops_spec_get(o, "host"), ops_spec_get(o, "vm"), opname,
                  ops_spec_get(o, "digest"), job, code);
        goto out;
    }
    if (op == OP_COUNT) {
        const char *vm = ops_spec_get(o, "vm");
        int did = 0;

        /* A repair finishes or undoes what another job left: it has no
         * switch of its own to stop before, so it is cancellable only
         * until it starts. */
        if (job_pass_switch(job)) {
            err_set(RESULT_FAILED, "the repair of %s was cancelled before it started: nothing was changed",
                    vm ? vm : uuid);
            code = RESULT_FAILED;
            goto out;
        }
        code = ops_repair(c, ops_spec_get(o, "host"), uuid, &oa, job, &did);
        if (code == 0 && !did)
            job_progress(job, 100, "nothing to repair: %s has no interrupted operation", vm ? vm : uuid);
        goto out;
    }
    memset(&pa, 0, sizeof(pa));
    pa.point = ops_spec_get(o, "point");
    pa.flatten = ops_spec_int(o, "flatten");
    pa.force = ops_spec_int(o, "force");
    pa.test_network = ops_spec_get(o, "test_network");
    pa.stamp = ops_spec_get(o, "stamp");
    pa.test_uuid = ops_spec_get(o, "test_uuid");
    /* What the operator confirmed, rebuilt; ops_execute re-plans under the
     * lock and compares with the confirmed digest. */
    if (!(plan = plan_make(c, ops_spec_get(o, "host"), uuid, (StateOp)op, &pa))) {
        if (err_code() == RESULT_INVALID_STATE)
            err_hint(RESULT_HINT_PLAN_CHANGED);
        err_hint(RESULT_HINT_REFUSED);
        code = ops_code();
        ops_audit(&oa, ops_spec_get(o, "host"), ops_spec_get(o, "vm"), opname,
                  ops_spec_get(o, "digest"), job, code);
        goto out;
    }
    util_strlcpy(plan->digest, ops_spec_get(o, "digest"), sizeof(plan->digest));
    code = ops_execute(c, plan, &oa, job);

out:
    job_finish(job, code);
    plan_free(plan);
    hv_close(c);
    json_object_put(o);
    return code;
}
