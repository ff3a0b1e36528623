/* SPDX-License-Identifier: GPL-2.0-or-later */
/* model-table: the model's table on the UI thread: the results the
 * threads post applied to each host's rows, the timing of the refresh
 * rounds, and the accessors the console reads (the model's life and the
 * results' queue: model.c). */
#include <config.h>

#include "model/model.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model-priv.h"
#include "record/state.h"
#include "base/util.h"

/* --- the table (UI thread) ------------------------------------------------------ */

static HostRows *model_sort_hr;

static int
model_cmp_uuid_idx(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return strcmp(model_sort_hr->rows[x].s.uuid, model_sort_hr->rows[y].s.uuid);
}

static int
model_cmp_name(const void *a, const void *b)
{
    const ModelRow *x = a, *y = b;
    int r = strcmp(x->s.name ? x->s.name : "", y->s.name ? y->s.name : "");
    return r ? r : strcmp(x->s.uuid, y->s.uuid);
}

static void
host_rows_index(HostRows *hr)
{
    size_t i;

    qsort(hr->rows, hr->n, sizeof(*hr->rows), model_cmp_name);
    free(hr->by_uuid);
    hr->by_uuid = util_xcalloc(hr->n + 1, sizeof(*hr->by_uuid));
    for (i = 0; i < hr->n; i++)
        hr->by_uuid[i] = i;
    model_sort_hr = hr;     /* qsort has no context argument; UI thread only */
    qsort(hr->by_uuid, hr->n, sizeof(*hr->by_uuid), model_cmp_uuid_idx);
    model_sort_hr = NULL;
}

static ModelRow *
host_rows_find(const HostRows *hr, const char *uuid)
{
    size_t lo = 0, hi = hr->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(hr->rows[hr->by_uuid[mid]].s.uuid, uuid);

        if (c == 0)
            return &hr->rows[hr->by_uuid[mid]];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void
model_changed(Model *m)
{
    m->version++;
    m->flat_dirty = 1;
}

static void
model_count(Model *m, size_t host)
{
    HostRows *hr = &m->rows[host];
    size_t i, loaded = 0;

    for (i = 0; i < hr->n; i++)
        loaded += hr->rows[i].loaded != 0;
    m->hosts[host].nrows = hr->n;
    m->hosts[host].nloaded = loaded;
}

/* A new list: known rows keep their records, new ones wait for theirs. */
static void
apply_list(Model *m, Result *r)
{
    HostRows *hr = &m->rows[r->host];
    HostRows nr = { 0 };
    unsigned char *taken = util_xcalloc(hr->n + 1, 1);
    size_t i;

    nr.rows = util_xcalloc(r->n + 1, sizeof(*nr.rows));
    nr.cap = r->n + 1;
    for (i = 0; i < r->n; i++) {
        const HvDomain *d = &r->doms[i];
        ModelRow *old = host_rows_find(hr, d->uuid);
        ModelRow *row = &nr.rows[nr.n++];

        if (old && !taken[old - hr->rows]) {
            /* Moved, not copied: the old array keeps its UUIDs for the
             * lookups still to come, and is freed without them. */
            *row = *old;
            taken[old - hr->rows] = 1;
            if (!util_streq(row->s.name, d->name) || row->s.power != d->power) {
                free(row->s.name);
                row->s.name = util_xstrdup(d->name);
                row->s.power = d->power;
                row->version++;
            }
        } else {
            memset(row, 0, sizeof(*row));
            row->host = r->host;
            row->s.host = util_xstrdup(m->hosts[r->host].name);
            row->s.name = util_xstrdup(d->name);
            util_strlcpy(row->s.uuid, d->uuid, sizeof(row->s.uuid));
            row->s.power = d->power;
            row->s.state = STATE_UNKNOWN;
            row->fetched_ms = r->when_ms;
        }
    }
    for (i = 0; i < hr->n; i++) {
        if (!taken[i]) {
            summary_clear(&hr->rows[i].s);
            free(hr->rows[i].busy);
        }
    }
    free(taken);
    free(hr->rows);
    free(hr->by_uuid);
    *hr = nr;
    host_rows_index(hr);
    m->layout++;
    m->hosts[r->host].busy = 1;
    model_count(m, r->host);
    model_changed(m);
}

static int
model_summary_same(const Summary *a, const Summary *b)
{
    return util_streq(a->name, b->name) && a->power == b->power &&
           a->has_record == b->has_record && a->record_error == b->record_error &&
           a->mode == b->mode && a->state == b->state && a->health == b->health &&
           a->npoints == b->npoints && util_streq(a->newest_point, b->newest_point) &&
           a->newest_time == b->newest_time && util_streq(a->failover_point, b->failover_point) &&
           a->failover_time == b->failover_time && util_streq(a->test_domain, b->test_domain) &&
           util_streq(a->journal_op, b->journal_op) && util_streq(a->problem, b->problem);
}

/* Returns 1 if the row the details show changed. */
static int
apply_rows(Model *m, Result *r)
{
    HostRows *hr = &m->rows[r->host];
    int detail = 0;
    size_t i;

    for (i = 0; i < r->n; i++) {
        Summary *s = &r->rows[i];
        ModelRow *row = host_rows_find(hr, s->uuid);

        if (!row) {
            util_grow(&hr->rows, &hr->cap, hr->n + 1, sizeof(*hr->rows));
            row = &hr->rows[hr->n++];
            memset(row, 0, sizeof(*row));
            row->host = r->host;
            row->s.name = util_xstrdup(s->name);
            util_strlcpy(row->s.uuid, s->uuid, sizeof(row->s.uuid));
            /* Sorting moves rows: index again, then find it. */
            host_rows_index(hr);
            m->layout++;
            row = host_rows_find(hr, s->uuid);
        }
        row->fetched_ms = r->when_ms;
        if (r->repl && (row->repl != r->repl[i].on || row->repl_primary != r->repl[i].primary ||
                        row->repl_next_due != r->repl[i].next_due)) {
            row->repl = r->repl[i].on;
            row->repl_primary = r->repl[i].primary;
            row->repl_next_due = r->repl[i].next_due;
            row->version++;
        }
        if (!util_streq(row->busy, r->holders[i])) {
            free(row->busy);
            row->busy = UTIL_STEAL(&r->holders[i]);
            row->version++;
            if (row->host == m->req_host && strcmp(row->s.uuid, m->req_uuid) == 0)
                detail = 1;
        }
        if (!row->loaded || !model_summary_same(&row->s, s)) {
            if (!util_streq(row->s.name, s->name))
                m->layout++;    /* out of its place by name */
            summary_clear(&row->s);
            row->s = *s;
            memset(s, 0, sizeof(*s));
            row->loaded = 1;
            row->version++;
            if (m->detail_requested || m->detail) {
                if (row->host == m->req_host && strcmp(row->s.uuid, m->req_uuid) == 0)
                    detail = 1;
            }
        }
    }
    model_count(m, r->host);
    model_changed(m);
    return detail;
}

static void
apply_gone(Model *m, Result *r)
{
    HostRows *hr = &m->rows[r->host];
    ModelRow *row = host_rows_find(hr, r->uuid);
    size_t k;

    if (!row)
        return;
    k = (size_t)(row - hr->rows);
    summary_clear(&row->s);
    free(row->busy);
    memmove(&hr->rows[k], &hr->rows[k + 1], (hr->n - k - 1) * sizeof(*hr->rows));
    hr->n--;
    host_rows_index(hr);
    m->layout++;
    model_count(m, r->host);
    model_changed(m);
}

static void
apply_host(Model *m, Result *r)
{
    ModelHost *h = &m->hosts[r->host];

    h->state = r->state;
    free(h->error);
    h->error = r->error;
    r->error = NULL;
    if (r->ok)
        h->last_ok_ms = r->when_ms;
    model_changed(m);
}

static void
apply_round(Model *m, Result *r)
{
    Fetcher *f = &m->fetchers[r->host];

    m->hosts[r->host].rounds++;
    m->hosts[r->host].busy = 0;
    f->running = 0;
    f->next_due_ms = util_mono_ms() + (int64_t)m->o.refresh_interval * 1000;
    model_changed(m);
}

/* Returns 1 when it applies to what the UI asked for last. */
static int
apply_detail(Model *m, Result *r)
{
    ModelDetail *d = r->detail;

    if (!m->detail_requested || d->host != m->req_host || strcmp(d->uuid, m->req_uuid) != 0)
        return 0;
    model_detail_clear(m->detail);
    free(m->detail);
    m->detail = d;
    r->detail = NULL;
    m->detail_requested = 0;
    return 1;
}

static int
apply_plan(Model *m, Result **rp)
{
    Result *r = *rp;

    if (r->plan_id != m->plan_wait_id)
        return 0;   /* replaced by a newer request: dropped */
    model_result_free(m->plan_done);
    m->plan_done = r;
    *rp = NULL;
    return 1;
}

unsigned
model_process(Model *m)
{
    Result *list, *r, *next;
    unsigned ch = 0;
    char buf[64];
    int redetail = 0;

    while (m->pipe[0] >= 0 && read(m->pipe[0], buf, sizeof(buf)) > 0)
        ;
    while (m->now_pipe[0] >= 0 && read(m->now_pipe[0], buf, sizeof(buf)) > 0)
        ;
    pthread_mutex_lock(&m->mu);
    list = m->head;
    m->head = m->tail = NULL;
    m->signalled = m->now_signalled = 0;
    pthread_mutex_unlock(&m->mu);
    for (r = list; r; r = next) {
        next = r->next;
        if (r->kind != RES_DETAIL && r->kind != RES_PLAN && r->host < m->nhosts) {
            /* A word from the host's fetcher.  Only an answer from the
             * host itself ends "not responding": a lost connection (the
             * keepalive gave up) or a failed round does not. */
            m->hosts[r->host].heard_ms = util_mono_ms();
            if (m->hosts[r->host].hung && r->kind != RES_ROUND &&
                (r->kind != RES_HOST || r->state == MODEL_HOST_CONNECTED)) {
                m->hosts[r->host].hung = 0;
                ch |= MODEL_CH_HOSTS;
            }
        }
        if (r->now)
            ch |= MODEL_CH_NOW;
        switch (r->kind) {
        case RES_HOST: apply_host(m, r); ch |= MODEL_CH_HOSTS; break;
        case RES_LIST: apply_list(m, r); ch |= MODEL_CH_ROWS | MODEL_CH_HOSTS; break;
        case RES_ROWS:
            redetail |= apply_rows(m, r);
            ch |= MODEL_CH_ROWS | MODEL_CH_HOSTS;
            break;
        case RES_GONE: apply_gone(m, r); ch |= MODEL_CH_ROWS | MODEL_CH_HOSTS; break;
        case RES_ROUND: apply_round(m, r); ch |= MODEL_CH_CYCLE | MODEL_CH_HOSTS; break;
        case RES_DETAIL:
            if (apply_detail(m, r))
                ch |= MODEL_CH_DETAIL;
            break;
        case RES_PLAN:
            if (apply_plan(m, &r))
                ch |= MODEL_CH_PLAN;
            break;
        }
        model_result_free(r);
    }
    /* The VM on the detail pane changed: read its details again. */
    if (redetail && m->detail) {
        char uuid[37];
        util_strlcpy(uuid, m->req_uuid, sizeof(uuid));
        model_detail_request(m, m->req_host, uuid);
    }
    return ch;
}

int
model_tick(Model *m)
{
    int64_t now = util_mono_ms(), wait = 1000;
    size_t i;

    pthread_mutex_lock(&m->mu);
    for (i = 0; i < m->nhosts; i++) {
        Fetcher *f = &m->fetchers[i];

        if (f->running) {
            /* Its fetcher waits on a host that says nothing: a stopped
             * daemon answers no call until keepalive drops it, and a
             * reconnect to it waits until it runs again. */
            if (now - m->hosts[i].heard_ms >= MODEL_HUNG_MS)
                m->hosts[i].hung = 1;
            else if (MODEL_HUNG_MS - (now - m->hosts[i].heard_ms) < wait)
                wait = MODEL_HUNG_MS - (now - m->hosts[i].heard_ms);
            continue;
        }
        if (now >= f->next_due_ms) {
            f->want_full = 1;
            f->running = 1;
            m->hosts[i].busy = 1;
            m->hosts[i].heard_ms = now;
            pthread_cond_signal(&f->cond);
        } else if (f->next_due_ms - now < wait) {
            wait = f->next_due_ms - now;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return (int)wait;
}

void
model_refresh(Model *m)
{
    size_t i;

    /* Also when a round is running: the fetcher starts another after it. */
    pthread_mutex_lock(&m->mu);
    for (i = 0; i < m->nhosts; i++) {
        if (!m->fetchers[i].running)
            m->hosts[i].heard_ms = util_mono_ms();
        m->fetchers[i].want_full = 1;
        m->fetchers[i].running = 1;
        m->hosts[i].busy = 1;
        pthread_cond_signal(&m->fetchers[i].cond);
    }
    pthread_mutex_unlock(&m->mu);
}

unsigned
model_rounds(const Model *m)
{
    unsigned least = 0;
    size_t i;

    for (i = 0; i < m->nhosts; i++)
        if (i == 0 || m->hosts[i].rounds < least)
            least = m->hosts[i].rounds;
    return least;
}

size_t
model_nhosts(const Model *m)
{
    return m->nhosts;
}

const ModelHost *
model_host(const Model *m, size_t i)
{
    return i < m->nhosts ? &m->hosts[i] : NULL;
}

static void
model_flatten(Model *m)
{
    size_t i, k, n = 0;

    if (!m->flat_dirty)
        return;
    for (i = 0; i < m->nhosts; i++)
        n += m->rows[i].n;
    free(m->flat);
    m->flat = util_xcalloc(n + 1, sizeof(*m->flat));
    m->nflat = 0;
    for (i = 0; i < m->nhosts; i++)
        for (k = 0; k < m->rows[i].n; k++)
            m->flat[m->nflat++] = &m->rows[i].rows[k];
    m->flat_dirty = 0;
}

size_t
model_nrows(const Model *m)
{
    model_flatten((Model *)m);
    return m->nflat;
}

const ModelRow *
model_row(const Model *m, size_t i)
{
    model_flatten((Model *)m);
    return i < m->nflat ? m->flat[i] : NULL;
}

const ModelRow *
model_find(const Model *m, size_t host, const char *uuid)
{
    if (host >= m->nhosts || !uuid)
        return NULL;
    return host_rows_find(&m->rows[host], uuid);
}

unsigned
model_version(const Model *m)
{
    return m->version;
}

unsigned
model_layout(const Model *m)
{
    return m->layout;
}

void
model_set_priority(Model *m, const size_t *hosts, const char *const *uuids, size_t n)
{
    size_t i;

    pthread_mutex_lock(&m->mu);
    for (i = 0; i < m->nprio; i++)
        free(m->prio_uuids[i]);
    free(m->prio_uuids);
    free(m->prio_hosts);
    m->prio_uuids = util_xcalloc(n + 1, sizeof(*m->prio_uuids));
    m->prio_hosts = util_xcalloc(n + 1, sizeof(*m->prio_hosts));
    for (i = 0; i < n; i++) {
        m->prio_uuids[i] = util_xstrdup(uuids[i]);
        m->prio_hosts[i] = hosts[i];
    }
    m->nprio = n;
    m->prio_gen++;
    for (i = 0; i < m->nhosts; i++)
        pthread_cond_signal(&m->fetchers[i].cond);
    pthread_mutex_unlock(&m->mu);
}
