/* SPDX-License-Identifier: GPL-2.0-or-later */
/* model: the console's asynchronous view of the fleet — the UI side:
 * construction and teardown, the registry that routes libvirt's events,
 * the results the threads post (the table they are applied to:
 * model-table.c; requests: model-req.c). */
#include <config.h>

#include "model/model.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model/model-priv.h"
#include "base/result.h"
#include "base/util.h"

/* --- event routing ------------------------------------------------------
 * libvirt calls the event handler on its own thread, possibly just after
 * the model is gone; the handler finds the model through this registry, so
 * model_free() only has to unregister. */

static pthread_mutex_t model_reg_mu = PTHREAD_MUTEX_INITIALIZER;
static Model *model_reg[64];

static unsigned
model_register(Model *m)
{
    unsigned id = 0;
    size_t i;

    pthread_mutex_lock(&model_reg_mu);
    for (i = 0; i < sizeof(model_reg) / sizeof(model_reg[0]); i++) {
        if (!model_reg[i]) {
            model_reg[i] = m;
            id = (unsigned)i + 1;
            break;
        }
    }
    pthread_mutex_unlock(&model_reg_mu);
    return id;
}

static void
model_unregister(Model *m)
{
    pthread_mutex_lock(&model_reg_mu);
    if (m->reg_id)
        model_reg[m->reg_id - 1] = NULL;
    pthread_mutex_unlock(&model_reg_mu);
}

/* Runs fn with the registry held, if the model still lives. */
void
model_with(void *opaque, void (*fn)(Model *, size_t, const char *, int), const char *uuid, int kind)
{
    uintptr_t v = (uintptr_t)opaque;
    unsigned id = (unsigned)(v >> 16);
    size_t host = (size_t)(v & 0xffff);

    pthread_mutex_lock(&model_reg_mu);
    if (id && id <= sizeof(model_reg) / sizeof(model_reg[0]) && model_reg[id - 1])
        fn(model_reg[id - 1], host, uuid, kind);
    pthread_mutex_unlock(&model_reg_mu);
}

void *
model_opaque(const Model *m, size_t host)
{
    return (void *)(((uintptr_t)m->reg_id << 16) | (uintptr_t)host);
}

void
model_note_event(Model *m, size_t host, const char *uuid, int kind)
{
    Fetcher *f;

    if (host >= m->nhosts)
        return;
    f = &m->fetchers[host];
    pthread_mutex_lock(&m->mu);
    if ((kind == HV_EVENT_LIFECYCLE || kind == HV_EVENT_METADATA) && uuid)
        model_fetcher_mark_dirty(f, uuid);
    else
        f->want_full = 1;
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&m->mu);
}

void
model_on_event(HvConn *c, const char *uuid, int kind, void *opaque)
{
    (void)c;
    model_with(opaque, model_note_event, uuid, kind);
}

/* --- results ------------------------------------------------------------- */

Result *
model_result_new(ResKind kind, size_t host)
{
    Result *r = util_xcalloc(1, sizeof(*r));

    r->kind = kind;
    r->host = host;
    r->when_ms = util_mono_ms();
    return r;
}

void
model_result_free(Result *r)
{
    size_t i;

    if (!r)
        return;
    free(r->error);
    hv_domain_list_free(r->doms, r->n);
    for (i = 0; r->rows && i < r->n; i++) {
        summary_clear(&r->rows[i]);
        free(r->holders ? r->holders[i] : NULL);
    }
    free(r->rows);
    free(r->holders);
    free(r->repl);
    model_detail_clear(r->detail);
    free(r->detail);
    plan_free(r->plan);
    model_repl_plan_free(r->rplan);
    free(r);
}

void
model_post(Model *m, Result *r)
{
    char c = 'r';

    pthread_mutex_lock(&m->mu);
    if (m->tail)
        m->tail->next = r;
    else
        m->head = r;
    m->tail = r;
    if (!m->signalled) {
        m->signalled = 1;
        if (write(m->pipe[1], &c, 1) < 0) {
            /* Non-blocking: a full pipe already wakes the UI. */
        }
    }
    if (r->now && !m->now_signalled && m->now_pipe[1] >= 0) {
        m->now_signalled = 1;
        if (write(m->now_pipe[1], &c, 1) < 0) {
            /* As above. */
        }
    }
    pthread_mutex_unlock(&m->mu);
}

/* --- construction ---------------------------------------------------------- */

Model *
model_new(Session *s, const ModelOpts *o)
{
    Model *m = util_xcalloc(1, sizeof(*m));
    size_t i;

    m->s = s;
    m->o = *o;
    if (m->o.refresh_interval < 1)
        m->o.refresh_interval = 1;
    if (!m->o.chunk_ms)
        m->o.chunk_ms = FETCH_CHUNK_MS;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->helper_cond, NULL);
    {
        pthread_condattr_t ca;

        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&m->exit_cond, &ca);
        pthread_condattr_destroy(&ca);
    }
    if (pipe2(m->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        m->pipe[0] = m->pipe[1] = -1;
    if (pipe2(m->now_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        m->now_pipe[0] = m->now_pipe[1] = -1;
    m->reg_id = model_register(m);
    m->nhosts = s->nhosts;
    m->fetchers = util_xcalloc(m->nhosts + 1, sizeof(*m->fetchers));
    m->hosts = util_xcalloc(m->nhosts + 1, sizeof(*m->hosts));
    m->rows = util_xcalloc(m->nhosts + 1, sizeof(*m->rows));
    m->flat_dirty = 1;
    for (i = 0; i < m->nhosts; i++) {
        ModelHost *h = &m->hosts[i];
        Fetcher *f = &m->fetchers[i];

        h->name = s->hosts[i].name;
        h->uri = s->hosts[i].uri;
        h->readonly = s->hosts[i].readonly;
        h->state = MODEL_HOST_CONNECTING;
        h->busy = 1;
        h->heard_ms = util_mono_ms();
        f->m = m;
        f->idx = i;
        f->want_full = 1;       /* the first load */
        f->running = 1;
        pthread_cond_init(&f->cond, NULL);
        if (s->hosts[i].conn)
            hv_set_event_handler(s->hosts[i].conn, model_on_event, model_opaque(m, i));
    }
    /* The first load goes without libvirt's event loop (hv_events_defer
     * says why); the last fetcher to end its first round starts it. */
    hv_events_defer();
    for (i = 0; i < m->nhosts; i++)
        if (pthread_create(&m->fetchers[i].thread, NULL, model_fetcher_thread, &m->fetchers[i]) != 0)
            abort();    /* no thread for a host: nothing sensible to show */
    if (pthread_create(&m->helper, NULL, model_helper_thread, m) != 0)
        abort();
    return m;
}

static void
host_rows_clear(HostRows *hr)
{
    size_t i;

    for (i = 0; i < hr->n; i++) {
        summary_clear(&hr->rows[i].s);
        free(hr->rows[i].busy);
    }
    free(hr->rows);
    free(hr->by_uuid);
    memset(hr, 0, sizeof(*hr));
}

void
model_thread_exited(Model *m, Fetcher *f)
{
    pthread_mutex_lock(&m->mu);
    if (f)
        f->exited = 1;
    else
        m->helper_exited = 1;
    pthread_cond_broadcast(&m->exit_cond);
    pthread_mutex_unlock(&m->mu);
}

/* Models whose threads model_free left running: kept reachable (for
 * LeakSanitizer too) until the process ends. */
static pthread_mutex_t model_left_mu = PTHREAD_MUTEX_INITIALIZER;
static Model *model_left;

/* 1 when every thread of m has returned (m->mu held). */
static int
model_all_exited(const Model *m)
{
    size_t i;

    for (i = 0; i < m->nhosts; i++)
        if (!m->fetchers[i].exited)
            return 0;
    return m->helper_exited;
}

void
model_free(Model *m)
{
    Result *r, *next;
    struct timespec until;
    int64_t until_ms;
    int all;
    size_t i;

    if (!m)
        return;
    model_unregister(m);
    for (i = 0; i < m->nhosts; i++)
        if (m->s->hosts[i].conn)
            hv_set_event_handler(m->s->hosts[i].conn, NULL, NULL);
    /* Quitting waits for the threads a short while only: one may be in a
     * call to a host that stopped answering (a connect, up to
     * connect_timeout; a call, until keepalive gives up), and the operator
     * asked to quit now. */
    until_ms = util_mono_ms() + MODEL_QUIT_WAIT_MS;
    until = util_mono_deadline(until_ms);
    pthread_mutex_lock(&m->mu);
    m->quit = 1;
    for (i = 0; i < m->nhosts; i++)
        pthread_cond_signal(&m->fetchers[i].cond);
    pthread_cond_signal(&m->helper_cond);
    while (!(all = model_all_exited(m)) &&
           pthread_cond_timedwait(&m->exit_cond, &m->mu, &until) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&m->mu);
    if (!all) {
        /* Left to the threads still out, with the session they use (the
         * process is ending): nothing of it is freed. */
        for (i = 0; i < m->nhosts; i++)
            pthread_detach(m->fetchers[i].thread);
        pthread_detach(m->helper);
        session_keep(m->s);
        pthread_mutex_lock(&model_left_mu);
        m->left_next = model_left;
        model_left = m;
        pthread_mutex_unlock(&model_left_mu);
        return;
    }
    for (i = 0; i < m->nhosts; i++)
        pthread_join(m->fetchers[i].thread, NULL);
    pthread_join(m->helper, NULL);
    for (r = m->head; r; r = next) {
        next = r->next;
        model_result_free(r);
    }
    model_result_free(m->plan_done);
    free(m->plan_req.point);
    free(m->plan_req.vm);
    for (i = 0; i < m->nhosts; i++) {
        Fetcher *f = &m->fetchers[i];
        size_t k;

        for (k = 0; k < f->ndirty; k++)
            free(f->dirty[k]);
        free(f->dirty);
        pthread_cond_destroy(&f->cond);
        free(m->hosts[i].error);
        host_rows_clear(&m->rows[i]);
    }
    for (i = 0; i < m->nprio; i++)
        free(m->prio_uuids[i]);
    free(m->prio_uuids);
    free(m->prio_hosts);
    free(m->fetchers);
    free(m->hosts);
    free(m->rows);
    free(m->flat);
    model_detail_clear(m->detail);
    free(m->detail);
    if (m->pipe[0] >= 0) {
        close(m->pipe[0]);
        close(m->pipe[1]);
    }
    if (m->now_pipe[0] >= 0) {
        close(m->now_pipe[0]);
        close(m->now_pipe[1]);
    }
    pthread_cond_destroy(&m->helper_cond);
    pthread_cond_destroy(&m->exit_cond);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

int
model_fd(const Model *m)
{
    return m->pipe[0];
}

int
model_now_fd(const Model *m)
{
    return m->now_pipe[0];
}
