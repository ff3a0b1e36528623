/* SPDX-License-Identifier: GPL-2.0-or-later */
/* repljob: replication work as a job the console and the command line
 * start (a detached job process, or a thread where there is no executable
 * to run). */
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
    "disable-replication", "enable-replication", "reverse-replication",
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

const char *
repljob_type_op(int type)
{
    switch (type) {
    case REPL_JOB_CYCLE: return "replicate";
    case REPL_JOB_RESYNC: return "resync";
    case REPL_JOB_ENABLE: return "enable-replication";
    case REPL_JOB_PLANNED: return "planned failover";
    case REPL_JOB_REVERSE: return "reverse-replication";
    case REPLJOB_TYPE_STATE: return "replication state change";
    default: return NULL;
    }
}

int
repljob_type(int op)
{
    switch (op) {
    case REPLJOB_CYCLE: return REPL_JOB_CYCLE;
    case REPLJOB_RESYNC: return REPL_JOB_RESYNC;
    case REPLJOB_PLANNED: return REPL_JOB_PLANNED;
    case REPLJOB_ENABLE: return REPL_JOB_ENABLE;
    case REPLJOB_REVERSE: return REPL_JOB_REVERSE;
    default: return REPLJOB_TYPE_STATE;
    }
}

/* Replication work does not stop half way when asked (src/repl has no
 * cancel points but a planned failover's, which checks them itself): a
 * cancel is honoured only before it starts, and after that the job says
 * it cannot be cancelled, rather than take a request it would ignore.
 * 1 (err set) when cancelled. */
static int
repljob_cancelled(Job *job, const char *what, const char *vm)
{
    if (!job || !job_pass_switch(job))
        return 0;
    err_set(RESULT_FAILED, "%s of %s was cancelled before it started: nothing was changed", what,
            vm);
    return 1;
}

/* Suspend, resume or disable: one define under the replica's lock (repl_set). */
static int
repljob_set(HvConn *c, const char *host, const char *uuid, const char *vm, ReplSetOp op,
            const ReplArgs *a, Job *job)
{
    UTIL_AUTOFREE char *text = NULL;
    const char *now, *end;
    int code;

    if (repljob_cancelled(job, repl_set_name(op), vm))
        return RESULT_FAILED;
    if (job)
        job_progress(job, 10, "%s of %s", repl_set_name(op), vm);
    if ((code = repl_set(c, host, uuid, op, a, 0, &text)) != 0)
        return code;
    /* What it did, one line a step, from "web01: now 7 Suspended" on (the
     * lines before are the plan the operator saw), that line last: the
     * job's last step says what it came to.  A warning (disable's
     * checkpoints left on the primary) is the job's warning. */
    if (job && text && (now = strstr(text, ": now "))) {
        const char *line;
        int nowlen;

        while (now > text && now[-1] != '\n')
            now--;
        nowlen = (int)strcspn(now, "\n");
        for (line = now + nowlen; *line; line = end) {
            int len;

            line += *line == '\n';
            end = line + strcspn(line, "\n");
            len = (int)(end - line);
            if (len && strncmp(line, "warning: ", 9) == 0) {
                UTIL_AUTOFREE char *w = util_xasprintf("%.*s", len - 9, line + 9);
                job_set_warnings(job, w);
            } else if (len) {
                job_progress(job, 90, "%.*s", len, line);
            }
        }
        job_progress(job, 100, "%.*s", nowlen, now);
    }
    return 0;
}

int
repljob_run(HvConn *c, const char *host, const char *uuid, const char *vm, int op,
            const char *digest, const ReplArgs *a, Job *job)
{
    if ((op == REPLJOB_CYCLE || op == REPLJOB_RESYNC) &&
        repljob_cancelled(job, repljob_op_name(op), vm))
        return RESULT_FAILED;
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
    case REPLJOB_DISABLE:
        return repljob_set(c, host, uuid, vm, REPL_SET_DISABLE, a, job);
    case REPLJOB_PLANNED:
    case REPLJOB_ENABLE:
    case REPLJOB_REVERSE:
        err_set(RESULT_INVALID_PARAMETER, "%s of %s runs only the plan the operator confirmed, "
                "and none was given", repljob_op_name(op), vm);
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

static int
repljob_spec_int(json_object *o, const char *key)
{
    json_object *v;

    return o && json_object_object_get_ex(o, key, &v) ? json_object_get_int(v) : 0;
}

/* Spawns the job of spec o (consumed), adding what every job process
 * needs: the reason, the audit log and the job history. */
static int
repljob_spawn(JobTable *t, json_object *o, int type, const char *uri, const char *host,
              const char *uuid, const char *vm, const char *digest, const ReplArgs *a,
              char id[37], pid_t *pid)
{
    int rc;

    repljob_spec_str(o, "uri", uri);
    repljob_spec_str(o, "host", host);
    repljob_spec_str(o, "uuid", uuid);
    repljob_spec_str(o, "vm", vm);
    repljob_spec_str(o, "digest", digest);
    repljob_spec_str(o, "reason", a->reason);
    repljob_spec_str(o, "audit_log", a->audit_log);
    repljob_spec_str(o, "history", job_table_history(t));
    rc = job_spawn(t, type, host, uri, vm, uuid, digest,
                   json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), id, pid);
    json_object_put(o);
    return rc;
}

static json_object *
repljob_spec_new(int op)
{
    json_object *o = json_object_new_object();

    repljob_spec_str(o, "op", repljob_op_name(op));
    return o;
}

int
repljob_start(JobTable *t, const char *uri, const char *host, const char *uuid, const char *vm,
              int op, const char *digest, const ReplArgs *a, char id[37], pid_t *pid)
{
    return repljob_spawn(t, repljob_spec_new(op), repljob_type(op), uri, host, uuid, vm, digest,
                         a, id, pid);
}

int
repljob_start_planned(JobTable *t, const char *uri, const ReplPlanned *p, const ReplArgs *a,
                      char id[37], pid_t *pid)
{
    json_object *o = repljob_spec_new(REPLJOB_PLANNED);

    /* What repl_planned_failover plans again from: the same inputs give
     * the same digest. */
    repljob_spec_str(o, "primary_uri", p->primary_uri);
    repljob_spec_str(o, "primary_vm", p->primary_vm);
    json_object_object_add(o, "timeout", json_object_new_int(p->timeout));
    json_object_object_add(o, "start", json_object_new_boolean(p->start));
    return repljob_spawn(t, o, REPL_JOB_PLANNED, uri, p->host, p->uuid, p->vm, p->digest, a, id,
                         pid);
}

int
repljob_start_enable(JobTable *t, const char *uri, const ReplPlan *p, const ReplArgs *a,
                     char id[37], pid_t *pid)
{
    json_object *o = repljob_spec_new(REPLJOB_ENABLE);
    json_object *map = json_object_new_array();
    size_t i;

    /* What repl_enable plans again from (the fields it reads of the
     * confirmed plan). */
    repljob_spec_str(o, "primary_uri", p->primary_uri);
    repljob_spec_str(o, "primary_vm", p->primary_vm);
    repljob_spec_str(o, "dir", p->dir);
    repljob_spec_str(o, "nbd", p->nbd);
    repljob_spec_str(o, "nbd_tls", p->nbd_tls);
    json_object_object_add(o, "interval", json_object_new_int(p->interval));
    json_object_object_add(o, "points", json_object_new_int(p->points));
    json_object_object_add(o, "app_every", json_object_new_int(p->app_every));
    for (i = 0; i < p->nnetmap; i++)
        json_object_array_add(map, json_object_new_string(p->netmap[i]));
    json_object_object_add(o, "netmap", map);
    repljob_spec_str(o, "netmap_from", p->netmap_from);
    return repljob_spawn(t, o, REPL_JOB_ENABLE, uri, p->host, p->uuid, p->vm, p->digest, a, id,
                         pid);
}

int
repljob_start_reverse(JobTable *t, const char *uri, const ReplReverse *p, const ReplArgs *a,
                      char id[37], pid_t *pid)
{
    json_object *o = repljob_spec_new(REPLJOB_REVERSE);

    /* What repl_reverse plans again from. */
    repljob_spec_str(o, "primary_uri", p->primary_uri);
    repljob_spec_str(o, "point", p->point);
    repljob_spec_str(o, "dir", p->dir);
    repljob_spec_str(o, "nbd", p->nbd);
    return repljob_spawn(t, o, REPL_JOB_REVERSE, uri, p->host, p->uuid, p->vm, p->digest, a, id,
                         pid);
}

/* The job process of enable-replication: the confirmed plan as the spec
 * carries it. */
static int
repljob_enable_main(HvConn *c, json_object *o, const ReplArgs *ra, Job *job)
{
    json_object *map = NULL;
    const char **netmap = NULL;
    const char *uuid = repljob_spec_get(o, "uuid");
    const char *digest = repljob_spec_get(o, "digest");
    ReplPlan p;
    size_t i;
    int code;

    memset(&p, 0, sizeof(p));
    p.enable = 1;
    p.host = (char *)repljob_spec_get(o, "host");
    p.vm = (char *)repljob_spec_get(o, "vm");
    p.primary_uri = (char *)repljob_spec_get(o, "primary_uri");
    p.primary_vm = (char *)repljob_spec_get(o, "primary_vm");
    p.dir = (char *)repljob_spec_get(o, "dir");
    p.nbd = (char *)repljob_spec_get(o, "nbd");
    p.nbd_tls = (char *)repljob_spec_get(o, "nbd_tls");
    p.netmap_from = (char *)repljob_spec_get(o, "netmap_from");
    p.interval = repljob_spec_int(o, "interval");
    p.points = repljob_spec_int(o, "points");
    p.app_every = repljob_spec_int(o, "app_every");
    if (!uuid || !digest || !p.host || !p.vm || !p.primary_uri || !p.primary_vm || !p.dir) {
        err_set(RESULT_INVALID_PARAMETER, "the enable-replication job spec is incomplete");
        return RESULT_INVALID_PARAMETER;
    }
    util_strlcpy(p.uuid, uuid, sizeof(p.uuid));
    util_strlcpy(p.digest, digest, sizeof(p.digest));
    if (json_object_object_get_ex(o, "netmap", &map) && json_object_is_type(map, json_type_array)) {
        p.nnetmap = json_object_array_length(map);
        netmap = util_xcalloc(p.nnetmap + 1, sizeof(*netmap));
        for (i = 0; i < p.nnetmap; i++)
            netmap[i] = json_object_get_string(json_object_array_get_idx(map, i));
        p.netmap = (char **)netmap;
    }
    if (repljob_cancelled(job, "enable-replication", p.vm))
        code = RESULT_FAILED;
    else
        code = repl_enable(c, &p, ra, job);
    free(netmap);
    return code;
}

/* The job process of reverse replication, likewise. */
static int
repljob_reverse_main(HvConn *c, json_object *o, const ReplArgs *ra, Job *job)
{
    const char *uuid = repljob_spec_get(o, "uuid");
    const char *digest = repljob_spec_get(o, "digest");
    ReplReverse p;

    memset(&p, 0, sizeof(p));
    p.host = (char *)repljob_spec_get(o, "host");
    p.vm = (char *)repljob_spec_get(o, "vm");
    p.primary_uri = (char *)repljob_spec_get(o, "primary_uri");
    p.point = (char *)repljob_spec_get(o, "point");
    p.dir = (char *)repljob_spec_get(o, "dir");
    p.nbd = (char *)repljob_spec_get(o, "nbd");
    if (!uuid || !digest || !p.host || !p.vm || !p.primary_uri) {
        err_set(RESULT_INVALID_PARAMETER, "the reverse replication job spec is incomplete");
        return RESULT_INVALID_PARAMETER;
    }
    util_strlcpy(p.uuid, uuid, sizeof(p.uuid));
    util_strlcpy(p.digest, digest, sizeof(p.digest));
    if (repljob_cancelled(job, "reverse replication", p.vm))
        return RESULT_FAILED;
    return repl_reverse(c, &p, ra, job);
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
    else if (op == REPLJOB_ENABLE)
        code = repljob_enable_main(c, o, &ra, job);
    else if (op == REPLJOB_REVERSE)
        code = repljob_reverse_main(c, o, &ra, job);
    else
        code = repljob_run(c, host, uuid, vm ? vm : uuid, op, repljob_spec_get(o, "digest"), &ra, job);

out:
    job_finish(job, code);
    hv_close(c);
    json_object_put(o);
    return code;
}
