/* SPDX-License-Identifier: GPL-2.0-or-later */
/* repljob: replication work as a job the console starts (a detached job
 * process, or a thread where there is no executable to run). */
#include <config.h>

#include "face/repljob.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"

static const char *const repljob_names[REPLJOB_COUNT] = {
    "replicate", "suspend-replication", "resume-replication", "resync", "planned-failover",
};

const char *
repljob_op_name(int op)
{
    return op >= 0 && op < REPLJOB_COUNT ? repljob_names[op] : "replication";
}

int
repljob_op_from_name(const char *name)
{
    int i;

    for (i = 0; name && i < REPLJOB_COUNT; i++)
        if (strcmp(name, repljob_names[i]) == 0)
            return i;
    return -1;
}

int
repljob_type(int op)
{
    switch (op) {
    case REPLJOB_CYCLE: return REPL_JOB_CYCLE;
    case REPLJOB_RESYNC: return REPL_JOB_RESYNC;
    case REPLJOB_PLANNED: return REPL_JOB_PLANNED;
    default: return REPLJOB_TYPE_STATE;
    }
}

/* Suspend or resume: one define under the replica's lock (repl_set). */
static int
repljob_set(HvConn *c, const char *host, const char *uuid, const char *vm, ReplSetOp op,
            const ReplArgs *a, Job *job)
{
    UTIL_AUTOFREE char *text = NULL;
    const char *now, *end;
    int code;

    if (job && job_pass_switch(job)) {
        err_set(RESULT_FAILED, "%s of %s was cancelled before it started: nothing was changed",
                repl_set_name(op), vm);
        return RESULT_FAILED;
    }
    if (job)
        job_progress(job, 10, "%s of %s", repl_set_name(op), vm);
    if ((code = repl_set(c, host, uuid, op, a, 0, &text)) != 0)
        return code;
    /* Its last word: "web01: now 7 Suspended". */
    if (job && text && (now = strstr(text, ": now "))) {
        while (now > text && now[-1] != '\n')
            now--;
        end = strchr(now, '\n');
        job_progress(job, 100, "%.*s", end ? (int)(end - now) : (int)strlen(now), now);
    }
    return 0;
}

int
repljob_run(HvConn *c, const char *host, const char *uuid, const char *vm, int op,
            const char *digest, const ReplArgs *a, Job *job)
{
    /* A cycle and a resync do not stop half way when asked (src/repl has
     * no cancel points): a cancel is honoured only before they start, and
     * after that the job says it cannot be cancelled, rather than take a
     * request it would ignore. */
    if ((op == REPLJOB_CYCLE || op == REPLJOB_RESYNC) && job && job_pass_switch(job)) {
        err_set(RESULT_FAILED, "%s of %s was cancelled before it started: nothing was changed",
                repljob_op_name(op), vm);
        return RESULT_FAILED;
    }
    switch (op) {
    case REPLJOB_CYCLE:
        return repl_cycle(c, host, uuid, a, job);
    case REPLJOB_RESYNC:
        if (!digest) {
            err_set(RESULT_INVALID_PARAMETER, "a resync of %s runs only a plan the operator "
                    "confirmed, and none was given", vm);
            return RESULT_INVALID_PARAMETER;
        }
        return repl_resync(c, host, uuid, digest, a, job);
    case REPLJOB_SUSPEND:
        return repljob_set(c, host, uuid, vm, REPL_SET_SUSPEND, a, job);
    case REPLJOB_RESUME:
        return repljob_set(c, host, uuid, vm, REPL_SET_RESUME, a, job);
    case REPLJOB_PLANNED:
        err_set(RESULT_INVALID_PARAMETER, "a planned failover of %s runs only the plan the "
                "operator confirmed, and none was given", vm);
        return RESULT_INVALID_PARAMETER;
    default:
        err_set(RESULT_INVALID_PARAMETER, "unknown replication operation %d", op);
        return RESULT_INVALID_PARAMETER;
    }
}

static void
repljob_spec_str(json_object *o, const char *key, const char *val)
{
    if (val)
        json_object_object_add(o, key, json_object_new_string(val));
}

static const char *
repljob_spec_get(json_object *o, const char *key)
{
    json_object *v;

    if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return NULL;
}

int
repljob_start(JobTable *t, const char *uri, const char *host, const char *uuid, const char *vm,
              int op, const char *digest, const ReplArgs *a, char id[37])
{
    json_object *o = json_object_new_object();
    int rc;

    repljob_spec_str(o, "op", repljob_op_name(op));
    repljob_spec_str(o, "uri", uri);
    repljob_spec_str(o, "host", host);
    repljob_spec_str(o, "uuid", uuid);
    repljob_spec_str(o, "vm", vm);
    repljob_spec_str(o, "digest", digest);
    repljob_spec_str(o, "reason", a->reason);
    repljob_spec_str(o, "audit_log", a->audit_log);
    repljob_spec_str(o, "history", job_table_history(t));
    rc = job_spawn(t, repljob_type(op), host, uri, vm, uuid, digest,
                   json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), id, NULL);
    json_object_put(o);
    return rc;
}

int
repljob_start_planned(JobTable *t, const char *uri, const ReplPlanned *p, const ReplArgs *a,
                      char id[37])
{
    json_object *o = json_object_new_object();
    int rc;

    repljob_spec_str(o, "op", repljob_op_name(REPLJOB_PLANNED));
    repljob_spec_str(o, "uri", uri);
    repljob_spec_str(o, "host", p->host);
    repljob_spec_str(o, "uuid", p->uuid);
    repljob_spec_str(o, "vm", p->vm);
    repljob_spec_str(o, "digest", p->digest);
    /* What repl_planned_failover plans again from: the same inputs give
     * the same digest. */
    repljob_spec_str(o, "primary_uri", p->primary_uri);
    repljob_spec_str(o, "primary_vm", p->primary_vm);
    json_object_object_add(o, "timeout", json_object_new_int(p->timeout));
    json_object_object_add(o, "start", json_object_new_boolean(p->start));
    repljob_spec_str(o, "reason", a->reason);
    repljob_spec_str(o, "audit_log", a->audit_log);
    repljob_spec_str(o, "history", job_table_history(t));
    rc = job_spawn(t, REPL_JOB_PLANNED, p->host, uri, p->vm, p->uuid, p->digest,
                   json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), id, NULL);
    json_object_put(o);
    return rc;
}

/* The job process of a planned failover: the confirmed plan as the spec
 * carries it. */
static int
repljob_planned_main(HvConn *c, json_object *o, const ReplArgs *ra, Job *job)
{
    ReplPlanned p;
    json_object *v;
    const char *uuid = repljob_spec_get(o, "uuid");
    const char *digest = repljob_spec_get(o, "digest");

    memset(&p, 0, sizeof(p));
    p.host = (char *)repljob_spec_get(o, "host");
    p.vm = (char *)repljob_spec_get(o, "vm");
    p.primary_uri = (char *)repljob_spec_get(o, "primary_uri");
    p.primary_vm = (char *)repljob_spec_get(o, "primary_vm");
    if (!uuid || !digest || !p.host || !p.vm || !p.primary_uri || !p.primary_vm) {
        err_set(RESULT_INVALID_PARAMETER, "the planned failover's job spec is incomplete");
        return RESULT_INVALID_PARAMETER;
    }
    util_strlcpy(p.uuid, uuid, sizeof(p.uuid));
    util_strlcpy(p.digest, digest, sizeof(p.digest));
    if (json_object_object_get_ex(o, "timeout", &v))
        p.timeout = json_object_get_int(v);
    if (json_object_object_get_ex(o, "start", &v))
        p.start = json_object_get_boolean(v);
    /* repl_planned_failover honours a cancel up to its switch (marking
     * the primary prepared) and passes the switch itself. */
    return repl_planned_failover(c, &p, ra, job);
}

int
repljob_is_spec(const char *spec)
{
    json_object *o = json_tokener_parse(spec);
    int yes = repljob_op_from_name(repljob_spec_get(o, "op")) >= 0;

    json_object_put(o);
    return yes;
}

int
repljob_main(JobTable *t, const char *id, const char *spec, int lockfd)
{
    json_object *o = json_tokener_parse(spec);
    const char *uri, *uuid, *host, *vm;
    HvConn *c = NULL;
    ReplArgs ra;
    Job *job;
    int op, code;

    if (!(job = job_adopt(t, id, lockfd))) {
        json_object_put(o);
        return err_code() ? err_code() : RESULT_FAILED;
    }
    op = repljob_op_from_name(repljob_spec_get(o, "op"));
    uri = repljob_spec_get(o, "uri");
    uuid = repljob_spec_get(o, "uuid");
    host = repljob_spec_get(o, "host");
    vm = repljob_spec_get(o, "vm");
    if (op < 0 || !uri || !uuid || !host) {
        err_set(RESULT_INVALID_PARAMETER, "job %s: its spec is incomplete", id);
        code = RESULT_INVALID_PARAMETER;
        goto out;
    }
    memset(&ra, 0, sizeof(ra));
    ra.reason = repljob_spec_get(o, "reason");
    ra.audit_log = repljob_spec_get(o, "audit_log");
    job_progress(job, 0, "connecting to %s", uri);
    if (hv_init() < 0) {
        code = err_code() ? err_code() : RESULT_FAILED;
        goto out;
    }
    c = hv_open(uri, 0);
    if (!hv_is_alive(c)) {
        err_prefix("the job cannot reach %s", uri);
        code = err_code() ? err_code() : RESULT_NOT_AVAILABLE;
        goto out;
    }
    if (op == REPLJOB_PLANNED)
        code = repljob_planned_main(c, o, &ra, job);
    else
        code = repljob_run(c, host, uuid, vm ? vm : uuid, op, repljob_spec_get(o, "digest"), &ra, job);

out:
    job_finish(job, code);
    hv_close(c);
    json_object_put(o);
    return code;
}
