/* SPDX-License-Identifier: GPL-2.0-or-later */
/* model-req: what the UI asks of the model's helper thread — a VM's
 * details and the plans of operations and replication — and takes back
 * when the answer came (model_process applies it). */
#include <config.h>

#include "model/model.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "model/model-priv.h"
#include "record/state.h"
#include "base/util.h"

void
model_detail_request(Model *m, size_t host, const char *uuid)
{
    if (host >= m->nhosts || !uuid)
        return;
    m->req_host = host;
    util_strlcpy(m->req_uuid, uuid, sizeof(m->req_uuid));
    m->detail_requested = 1;
    pthread_mutex_lock(&m->mu);
    m->detail_want = 1;
    m->detail_host = host;
    util_strlcpy(m->detail_uuid, uuid, sizeof(m->detail_uuid));
    pthread_cond_signal(&m->helper_cond);
    pthread_mutex_unlock(&m->mu);
}

void
model_detail_forget(Model *m)
{
    m->detail_requested = 0;
    m->req_uuid[0] = '\0';
    model_detail_clear(m->detail);
    free(m->detail);
    m->detail = NULL;
    pthread_mutex_lock(&m->mu);
    m->detail_want = 0;
    pthread_mutex_unlock(&m->mu);
}

const ModelDetail *
model_detail(const Model *m)
{
    return m->detail;
}

int
model_detail_pending(const Model *m)
{
    return m->detail_requested;
}

/* Hands req (its strings now the helper's) to the helper thread as the
 * one plan request: a newer request replaces an older one. */
static unsigned
model_plan_submit(Model *m, PlanReq *req)
{
    unsigned id;

    pthread_mutex_lock(&m->mu);
    id = ++m->plan_next_id;
    if (id == 0)
        id = ++m->plan_next_id;
    free(m->plan_req.point);
    free(m->plan_req.vm);
    m->plan_req = *req;
    m->plan_req.active = 1;
    m->plan_req.host = req->host < m->nhosts ? req->host : 0;
    m->plan_req.id = id;
    pthread_cond_signal(&m->helper_cond);
    pthread_mutex_unlock(&m->mu);
    m->plan_wait_id = id;
    model_result_free(m->plan_done);
    m->plan_done = NULL;
    return id;
}

static unsigned
model_plan_request_force(Model *m, size_t host, const char *uuid, StateOp op, const char *point,
                         int flatten, int force)
{
    PlanReq req = { 0 };

    req.host = host;
    util_strlcpy(req.uuid, uuid, sizeof(req.uuid));
    req.op = op;
    req.point = util_xstrdup(point);
    req.flatten = flatten;
    req.force = force;
    req.repl_op = -1;
    return model_plan_submit(m, &req);
}

unsigned
model_plan_request(Model *m, size_t host, const char *uuid, StateOp op, const char *point,
                   int flatten)
{
    return model_plan_request_force(m, host, uuid, op, point, flatten, 0);
}

unsigned
model_failover_plan_request(Model *m, size_t host, const char *uuid, const char *point, int force)
{
    return model_plan_request_force(m, host, uuid, OP_INITIATE, point, 0, force);
}

int
model_plan_take(Model *m, unsigned id, Plan **plan, ErrInfo *err)
{
    Result *r = m->plan_done;

    *plan = NULL;
    if (id == 0 || id != m->plan_wait_id)
        return -1;
    if (!r)
        return 0;
    *plan = r->plan;
    r->plan = NULL;
    if (!*plan && err)
        *err = r->err;
    model_result_free(r);
    m->plan_done = NULL;
    m->plan_wait_id = 0;
    return 1;
}

void
model_repl_plan_free(ModelReplPlan *p)
{
    if (!p)
        return;
    free(p->vm);
    free(p->text);
    repl_planned_free(p->planned);
    free(p);
}

static unsigned
model_repl_plan_request_start(Model *m, size_t host, const char *uuid, const char *vm, int op,
                              int start)
{
    PlanReq req = { 0 };

    req.host = host;
    util_strlcpy(req.uuid, uuid, sizeof(req.uuid));
    req.repl_op = op;
    req.start = start;
    req.vm = util_xstrdup(vm);
    return model_plan_submit(m, &req);
}

unsigned
model_repl_plan_request(Model *m, size_t host, const char *uuid, const char *vm, int op)
{
    return model_repl_plan_request_start(m, host, uuid, vm, op, 0);
}

unsigned
model_planned_request(Model *m, size_t host, const char *uuid, const char *vm, int start)
{
    return model_repl_plan_request_start(m, host, uuid, vm, REPLJOB_PLANNED, start);
}

int
model_repl_plan_take(Model *m, unsigned id, ModelReplPlan **plan, ErrInfo *err)
{
    Result *r = m->plan_done;

    *plan = NULL;
    if (id == 0 || id != m->plan_wait_id)
        return -1;
    if (!r)
        return 0;
    *plan = UTIL_STEAL(&r->rplan);
    if (!*plan && err)
        *err = r->err;
    model_result_free(r);
    m->plan_done = NULL;
    m->plan_wait_id = 0;
    return 1;
}
