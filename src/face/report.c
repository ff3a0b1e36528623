/* SPDX-License-Identifier: GPL-2.0-or-later */
/* report: text and JSON renderings for the command line. */
#include <config.h>

#include "face/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "face/repljob.h"
#include "hv/hv.h"
#include "record/state.h"
#include "base/util.h"

static json_object *
report_str(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

static json_object *
report_time(int64_t t)
{
    char buf[32];

    if (!t)
        return NULL;
    util_format_time(t, buf, sizeof(buf));
    return json_object_new_string(buf);
}

static json_object *
report_files_json(const PlanFileList *l)
{
    json_object *a = json_object_new_array();
    size_t i;

    for (i = 0; i < l->n; i++) {
        json_object *f = json_object_new_object();
        json_object_object_add(f, "path", report_str(l->v[i].path));
        json_object_object_add(f, "target", report_str(l->v[i].target));
        json_object_object_add(f, "role", report_str(l->v[i].role));
        if (l->v[i].backing)
            json_object_object_add(f, "backing", report_str(l->v[i].backing));
        json_object_object_add(f, "size", json_object_new_int64((int64_t)l->v[i].size));
        json_object_object_add(f, "allocated", json_object_new_int64((int64_t)l->v[i].allocated));
        if (l->v[i].ino)
            json_object_object_add(f, "inode", json_object_new_int64((int64_t)l->v[i].ino));
        json_object_array_add(a, f);
    }
    return a;
}

json_object *
report_plan_json(const Plan *p)
{
    json_object *o = json_object_new_object();
    json_object *sw = json_object_new_array();
    size_t i;

    json_object_object_add(o, "operation", json_object_new_string(state_op_name(p->op)));
    json_object_object_add(o, "title", json_object_new_string(state_op_title(p->op)));
    json_object_object_add(o, "flatten", json_object_new_boolean(p->flatten));
    json_object_object_add(o, "host", report_str(p->host));
    json_object_object_add(o, "vm", report_str(p->vm));
    json_object_object_add(o, "uuid", json_object_new_string(p->uuid));
    json_object_object_add(o, "from_state", json_object_new_int(p->from_state));
    json_object_object_add(o, "from_state_name", json_object_new_string(state_name(p->from_state)));
    json_object_object_add(o, "to_state", json_object_new_int(p->to_state));
    json_object_object_add(o, "to_state_name", json_object_new_string(state_name(p->to_state)));
    json_object_object_add(o, "power", json_object_new_string(hv_power_name(p->power)));
    json_object_object_add(o, "power_action", json_object_new_string(
        p->power_action == PLAN_POWER_SHUTDOWN ? "shutdown" :
        p->power_action == PLAN_POWER_DESTROY ? "destroy" : "none"));
    json_object_object_add(o, "point", report_str(p->point));
    json_object_object_add(o, "test_domain", report_str(p->test_domain));
    json_object_object_add(o, "test_left_out", report_str(p->test_omitted));
    json_object_object_add(o, "test_network", report_str(p->test_network));
    if (p->guard) {
        /* What the split-brain guard found (failover only). */
        json_object *g = json_object_new_object();

        json_object_object_add(g, "result", json_object_new_string(plan_guard_name(p->guard)));
        json_object_object_add(g, "host", report_str(p->rec ? p->rec->primary_host : NULL));
        json_object_object_add(g, "uri", report_str(p->rec ? p->rec->primary_uri : NULL));
        json_object_object_add(g, "vm", report_str(p->rec ? p->rec->primary_name : NULL));
        json_object_object_add(g, "power", p->primary_power == HV_POWER_UNKNOWN ? NULL :
                               json_object_new_string(hv_power_name(p->primary_power)));
        json_object_object_add(g, "reachable", p->guard == PLAN_GUARD_NOT_ASKED ? NULL :
                               json_object_new_boolean(p->guard != PLAN_GUARD_UNREACHABLE));
        json_object_object_add(g, "forced", json_object_new_boolean(p->guard == PLAN_GUARD_OVERRIDDEN));
        json_object_object_add(g, "message", report_str(p->guard_text));
        json_object_object_add(o, "guard", g);
    } else {
        json_object_object_add(o, "guard", NULL);
    }
    json_object_object_add(o, "create", report_files_json(&p->create));
    json_object_object_add(o, "delete", report_files_json(&p->remove));
    json_object_object_add(o, "keep", report_files_json(&p->keep));
    for (i = 0; i < p->nswitches; i++) {
        json_object *s = json_object_new_object();
        json_object_object_add(s, "target", report_str(p->switches[i].target));
        json_object_object_add(s, "from", report_str(p->switches[i].from));
        json_object_object_add(s, "to", report_str(p->switches[i].to));
        json_object_array_add(sw, s);
    }
    json_object_object_add(o, "switch", sw);
    json_object_object_add(o, "digest", json_object_new_string(p->digest));
    return o;
}

json_object *
report_job_json(const JobInfo *j)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "id", json_object_new_string(j->id));
    json_object_object_add(o, "type", json_object_new_int(j->type));
    json_object_object_add(o, "type_name", json_object_new_string(job_type_name(j->type)));
    json_object_object_add(o, "state", json_object_new_int(j->state));
    json_object_object_add(o, "state_name", json_object_new_string(job_state_name(j->state)));
    json_object_object_add(o, "percent", json_object_new_int(j->percent));
    json_object_object_add(o, "step", json_object_new_string(j->step));
    json_object_object_add(o, "host", json_object_new_string(j->host));
    json_object_object_add(o, "vm", json_object_new_string(j->vm));
    json_object_object_add(o, "owner", json_object_new_string(j->owner));
    json_object_object_add(o, "start_time", report_time(j->start_time));
    json_object_object_add(o, "elapsed_ms", json_object_new_int64(j->elapsed_ms));
    json_object_object_add(o, "error_code", json_object_new_int(j->error_code));
    json_object_object_add(o, "error_description", json_object_new_string(j->error_description));
    json_object_object_add(o, "digest", json_object_new_string(j->digest));
    json_object_object_add(o, "cancellable", json_object_new_boolean(j->state < JOB_COMPLETED && j->cancellable));
    json_object_object_add(o, "pid", j->state < JOB_COMPLETED && j->pid ? json_object_new_int(j->pid) : NULL);
    /* Refused before it changed anything: it never ran. */
    json_object_object_add(o, "refused", json_object_new_boolean(job_refused(j)));
    return o;
}

json_object *
report_result_json(const ResultInfo *info, const char *message)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "result", json_object_new_int(info->code));
    json_object_object_add(o, "result_name", json_object_new_string(info->name));
    json_object_object_add(o, "result_symbol", report_str(result_symbol(info->code)));
    json_object_object_add(o, "message", report_str(message ? message : info->summary));
    json_object_object_add(o, "summary", report_str(info->summary));
    json_object_object_add(o, "cause", report_str(info->cause));
    json_object_object_add(o, "next_step", report_str(info->next_step));
    json_object_object_add(o, "retry_safe", json_object_new_boolean(info->retry_safe));
    json_object_object_add(o, "exit_status", json_object_new_int(result_exit_status(info->code)));
    return o;
}

json_object *
report_summary_json(const Summary *s)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "host", report_str(s->host));
    json_object_object_add(o, "name", report_str(s->name));
    json_object_object_add(o, "uuid", json_object_new_string(s->uuid));
    json_object_object_add(o, "state", json_object_new_int(s->state));
    json_object_object_add(o, "state_name", json_object_new_string(state_name(s->state)));
    json_object_object_add(o, "health", json_object_new_int(s->health));
    json_object_object_add(o, "health_name", json_object_new_string(health_name(s->health)));
    json_object_object_add(o, "mode", json_object_new_int(s->mode));
    json_object_object_add(o, "mode_name", json_object_new_string(mode_name(s->mode)));
    json_object_object_add(o, "recovery_points", json_object_new_int((int)s->npoints));
    json_object_object_add(o, "newest_point", report_str(s->newest_point));
    json_object_object_add(o, "newest_point_time", report_time(s->newest_time));
    json_object_object_add(o, "failover_point", report_str(s->failover_point));
    json_object_object_add(o, "failover_time", report_time(s->failover_time));
    json_object_object_add(o, "test_system", report_str(s->test_domain));
    json_object_object_add(o, "interrupted_operation", report_str(s->journal_op));
    json_object_object_add(o, "power", json_object_new_string(hv_power_name(s->power)));
    json_object_object_add(o, "problem", report_str(s->problem));
    json_object_object_add(o, "record_error", s->record_error ? json_object_new_int(s->record_error) : NULL);
    return o;
}

json_object *
report_chain_json(const Chain *c)
{
    json_object *a = json_object_new_array();
    size_t i;

    for (i = 0; c && i < c->n; i++) {
        json_object *l = json_object_new_object();
        json_object_object_add(l, "path", report_str(c->layers[i].path));
        json_object_object_add(l, "format", report_str(c->layers[i].format));
        json_object_object_add(l, "virtual_size", json_object_new_int64((int64_t)c->layers[i].virtual_size));
        json_object_object_add(l, "allocated", json_object_new_int64((int64_t)c->layers[i].allocated));
        json_object_object_add(l, "backing", report_str(c->layers[i].backing_name));
        json_object_array_add(a, l);
    }
    return a;
}

json_object *
report_points_json(const Replica *r)
{
    json_object *a = json_object_new_array();
    size_t k, i;

    for (k = 0; r && k < r->npoints; k++) {
        json_object *p = json_object_new_object();
        json_object *disks = json_object_new_array();

        json_object_object_add(p, "id", report_str(r->points[k].id));
        json_object_object_add(p, "time", report_time(r->points[k].time));
        json_object_object_add(p, "type", json_object_new_string(replica_rp_type_name(r->points[k].type)));
        json_object_object_add(p, "checkpoint", report_str(r->points[k].checkpoint));
        for (i = 0; i < r->points[k].disks.n; i++) {
            json_object *d = json_object_new_object();
            json_object_object_add(d, "target", report_str(r->points[k].disks.v[i].target));
            json_object_object_add(d, "file", report_str(r->points[k].disks.v[i].file));
            json_object_array_add(disks, d);
        }
        json_object_object_add(p, "disks", disks);
        json_object_array_add(a, p);
    }
    return a;
}

json_object *
report_health_json(const HealthReport *h)
{
    json_object *o = json_object_new_object();
    json_object *a = json_object_new_array();
    size_t i;

    json_object_object_add(o, "health", json_object_new_int(h->health));
    json_object_object_add(o, "health_name", json_object_new_string(health_name(h->health)));
    for (i = 0; i < h->n; i++)
        json_object_array_add(a, json_object_new_string(h->reasons[i]));
    json_object_object_add(o, "reasons", a);
    return o;
}

char *
report_result_text(const ResultInfo *info)
{
    UtilBuf b = { 0 };

    util_buf_printf(&b, "Result: %d %s\n", info->code, info->name);
    if (info->summary)
        util_buf_printf(&b, "  what happened: %s\n", info->summary);
    if (info->code != 0 && info->code != 4096) {
        if (info->cause)
            util_buf_printf(&b, "  cause:         %s\n", info->cause);
        if (info->next_step)
            util_buf_printf(&b, "  next step:     %s\n", info->next_step);
        util_buf_printf(&b, "  retry safe:    %s\n", info->retry_safe ? "yes" : "no");
    }
    return util_buf_steal(&b);
}

const char *
report_job_title(int type)
{
    /* The operation's one name, as the plans and dialogs say it; the CIM
     * job type names stay in JSON (type_name). */
    switch (type) {
    case 97: return state_op_title(OP_INITIATE);
    case 98: return state_op_title(OP_REVERT);
    case 99: return state_op_title(OP_COMMIT);
    case 102: return state_op_title(OP_TEST);
    case 103: return state_op_title(OP_STOP_TEST);
    case REPLJOB_TYPE_STATE: return "Replication state change";   /* suspend, resume */
    default: return job_type_name(type);
    }
}

void
report_decode_job(const JobInfo *j, const char *op, ResultInfo *info)
{
    report_decode_job_for(j, op, 0, info);
}

void
report_decode_job_for(const JobInfo *j, const char *op, int console, ResultInfo *info)
{
    ResultCtx ctx;

    memset(&ctx, 0, sizeof(ctx));
    ctx.code = j->state == JOB_COMPLETED ? 0 : j->error_code;
    ctx.op = op;
    ctx.vm = j->vm[0] ? j->vm : NULL;
    ctx.host = j->host[0] ? j->host : NULL;
    ctx.virt_code = j->virt_code;
    ctx.sys_errno = j->sys_errno;
    ctx.hints = j->hints;
    ctx.detail = j->error_description[0] ? j->error_description : NULL;
    if (j->error_code == 0 && j->state == JOB_COMPLETED)
        ctx.detail = j->step;
    result_decode(&ctx, info);
    if (console) {
        char *next = result_console_next_step(&ctx);

        if (next) {
            free(info->next_step);
            info->next_step = next;
        }
    }
}

#define REPORT_JSON_FLAGS \
    (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)

void
report_print_json(json_object *o)
{
    fputs(json_object_to_json_string_ext(o, REPORT_JSON_FLAGS), stdout);
    fputc('\n', stdout);
}

char *
report_element_text(json_object *o)
{
    json_object *a = json_object_new_array();
    const char *t;
    size_t n;
    char *r;

    json_object_array_add(a, o);
    /* "[\n" ELEMENT "\n]": the element as json-c indents it in an array. */
    t = json_object_to_json_string_ext(a, REPORT_JSON_FLAGS);
    n = strlen(t);
    r = n >= 4 ? util_xstrndup(t + 2, n - 4) : util_xstrdup("");
    json_object_put(a);
    return r;
}

void
report_print_json_elements(char *const *v, size_t n)
{
    size_t i;

    fputs("[\n", stdout);
    for (i = 0; i < n; i++) {
        fputs(v[i], stdout);
        fputs(i + 1 < n ? ",\n" : "\n", stdout);
    }
    fputs("]\n", stdout);
}
