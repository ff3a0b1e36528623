/* SPDX-License-Identifier: GPL-2.0-or-later */
/* model-work: the model's fetchers — one thread per host that connects,
 * lists its domains and has their records read in rounds (the round's
 * readers and stages: model-round.c), and reads again the records events
 * name (the helper for details and plans: model-helper.c; the jobs the
 * console starts: model-jobs.c). */
#include <config.h>

#include "model/model.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/model-priv.h"
#include "base/result.h"
#include "base/stage.h"
#include "base/testhook.h"
#include "base/util.h"

/* --- fetchers (one per host) ---------------------------------------------- */

static void
model_post_host(Model *m, size_t host, int state, const char *error, int ok)
{
    Result *r = model_result_new(RES_HOST, host);

    r->state = state;
    r->error = util_xstrdup(error);
    r->ok = ok;
    model_post(m, r);
}

void
model_fetcher_mark_dirty(Fetcher *f, const char *uuid)
{
    size_t i;

    for (i = 0; i < f->ndirty; i++)
        if (strcmp(f->dirty[i], uuid) == 0)
            return;
    util_grow(&f->dirty, &f->capdirty, f->ndirty + 1, sizeof(*f->dirty));
    f->dirty[f->ndirty++] = util_xstrdup(uuid);
}

static HvConn *
fetcher_conn(Fetcher *f)
{
    SessionHost *h = &f->m->s->hosts[f->idx];

    return h->conn;
}

/* Disconnected: says so, with why. */
static void
fetcher_lost(Fetcher *f)
{
    model_post_host(f->m, f->idx, MODEL_HOST_DISCONNECTED, err_message()[0] ? err_message() :
                    "the host does not answer", 0);
    err_clear();
}

/* Reads one domain again; 0, or -1 when the host is lost. */
static int
fetcher_read_one(Fetcher *f, Batch *b, const char *uuid)
{
    HvDomain d;

    if (hv_lookup(fetcher_conn(f), uuid, 1, &d) == 0) {
        model_batch_add(b, &d);
        hv_domain_clear(&d);
        return 0;
    }
    if (err_code() == RESULT_INVALID_PARAMETER) {
        Result *r = model_result_new(RES_GONE, f->idx);
        util_strlcpy(r->uuid, uuid, sizeof(r->uuid));
        model_post(f->m, r);
        err_clear();
        return 0;
    }
    if (!hv_is_alive(fetcher_conn(f)))
        return -1;
    err_clear();    /* a transient error on one domain: the next round retries */
    return 0;
}

static void
fetcher_do_dirty(Fetcher *f, char **uuids, size_t n)
{
    Batch b = { .f = f };
    size_t i;

    for (i = 0; i < n; i++) {
        if (fetcher_read_one(f, &b, uuids[i]) < 0) {
            model_batch_flush(&b);
            fetcher_lost(f);
            return;
        }
    }
    model_batch_flush(&b);
}

/* Clears the requests this round is about to cover. */
static void
fetcher_take_all(Fetcher *f)
{
    size_t i;

    pthread_mutex_lock(&f->m->mu);
    f->want_full = 0;
    for (i = 0; i < f->ndirty; i++)
        free(f->dirty[i]);
    f->ndirty = 0;
    pthread_mutex_unlock(&f->m->mu);
}

/* On the first load, gives the UI a moment to say which rows it shows
 * (it does so as soon as it has painted the names), so those are read
 * first; later rounds go ahead at once. */
static void
fetcher_wait_priority(Fetcher *f)
{
    Model *m = f->m;
    struct timespec until;
    int64_t ms = m->o.priority_wait_ms;

    if (ms <= 0 || f->loaded_once)
        return;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&m->mu);
    while (!m->quit && !f->want_full && m->prio_gen == 0)
        if (pthread_cond_timedwait(&f->cond, &m->mu, &until) != 0)
            break;
    pthread_mutex_unlock(&m->mu);
}

/* A test holds a host's fetcher or reader at "model:STEP:HOST"
 * (DROVER_PAUSE, base/testhook.h).  The steps, each reached seldom enough
 * that the name is made only then:
 *   mid-round    half of a round's records are read, with the round's lock
 *                held, so that a lone host's second reader holds at its
 *                next record too (tests/console-lost.exp, console-lost1.exp
 *                lose the host there)
 *   held         a reader handed on the rows it held because one came on
 *                screen (tests/test-model: the round cannot end before the
 *                test sees them)
 *   aged         a reader handed on its chunk because it grew old, at most
 *                once each ModelOpts.chunk_ms (tests/test-model, likewise)
 *   first-round  the host's first round is over, loaded or not */
void
model_fetcher_pause(Fetcher *f, const char *step)
{
    char where[128];

    snprintf(where, sizeof(where), "model:%s:%s", step, f->m->s->hosts[f->idx].name);
    testhook_pause(where);
}

/* One refresh round: reconnect if needed, reload a changed fleet file, list,
 * then read every record, the rows on screen first. */
static void
fetcher_do_full(Fetcher *f)
{
    Model *m = f->m;
    HvConn *c = fetcher_conn(f);
    HvDomain *doms = NULL;
    size_t n = 0, i;
    Result *r;
    int ok = 0, k, first = !f->loaded_once;

    /* This round covers everything asked and every event until now. */
    fetcher_take_all(f);
    if (!hv_is_alive(c) && hv_reconnect(c) < 0) {
        fetcher_lost(f);
        goto round;
    }
    if (hv_reload_if_changed(c) < 0)
        err_clear();    /* an unreadable fleet file: keep what libvirt has */
    /* Our own reconnect or reload announced itself: already covered. */
    fetcher_take_all(f);
    if (hv_list(c, HV_LIST_HANDLES, &doms, &n) < 0) {
        fetcher_lost(f);
        goto round;
    }
    model_post_host(m, f->idx, MODEL_HOST_CONNECTED, NULL, 0);
    r = model_result_new(RES_LIST, f->idx);
    r->now = first;
    r->doms = util_xcalloc(n + 1, sizeof(*r->doms));
    r->n = n;
    for (i = 0; i < n; i++) {
        r->doms[i].name = util_xstrdup(doms[i].name);
        util_strlcpy(r->doms[i].uuid, doms[i].uuid, sizeof(r->doms[i].uuid));
        r->doms[i].power = doms[i].power;
    }
    model_post(m, r);
    fetcher_wait_priority(f);
    if ((k = model_round_read(f, c, doms, n)) != 0) {
        /* Not every record was read: the data's age stays the last whole
         * round's. */
        if (k < 0)
            fetcher_lost(f);
        goto round;
    }
    f->loaded_once = 1;
    ok = 1;
    model_post_host(m, f->idx, MODEL_HOST_CONNECTED, NULL, 1);

round:
    r = model_result_new(RES_ROUND, f->idx);
    r->ok = ok;
    r->now = first;
    model_post(m, r);
    hv_domain_list_free(doms, n);
}

/* The first round is over, loaded or not: the last host to get here
 * starts libvirt's event loop, which model_new deferred. */
static void
fetcher_first_done(Fetcher *f)
{
    Model *m = f->m;
    int last;

    model_fetcher_pause(f, "first-round");
    f->first_done = 1;
    pthread_mutex_lock(&m->mu);
    last = ++m->first_rounds == m->nhosts;
    pthread_mutex_unlock(&m->mu);
    if (last)
        hv_events_resume();
}

void *
model_fetcher_thread(void *arg)
{
    Fetcher *f = arg;
    Model *m = f->m;
    SessionHost *h = &m->s->hosts[f->idx];
    char name[16];
    size_t k;

    if (!h->conn) {
        /* The session was opened without connecting: connect here, never
         * on the UI thread. */
        h->conn = hv_open(h->uri, h->readonly);
        err_clear();
        hv_set_event_handler(h->conn, model_on_event, model_opaque(m, f->idx));
    }
    util_thread_name("fetch %s", h->name);
    /* Its rounds' records are made into rows there (NULL: here). */
    snprintf(name, sizeof(name), "rows %s", h->name);
    f->stages[0] = stage_new(name, MODEL_READ_NICE);
    pthread_mutex_lock(&m->mu);
    while (!m->quit) {
        if (f->want_full) {
            pthread_mutex_unlock(&m->mu);
            fetcher_do_full(f);
            if (!f->first_done)
                fetcher_first_done(f);
            pthread_mutex_lock(&m->mu);
        } else if (f->ndirty) {
            char **v = f->dirty;
            size_t n = f->ndirty, i;

            f->dirty = NULL;
            f->ndirty = f->capdirty = 0;
            pthread_mutex_unlock(&m->mu);
            fetcher_do_dirty(f, v, n);
            for (i = 0; i < n; i++)
                free(v[i]);
            free(v);
            pthread_mutex_lock(&m->mu);
        } else {
            pthread_cond_wait(&f->cond, &m->mu);
        }
    }
    pthread_mutex_unlock(&m->mu);
    for (k = 0; k < FETCH_READERS_MAX; k++) {
        stage_free(f->stages[k]);
        f->stages[k] = NULL;
    }
    model_thread_exited(m, f);
    return NULL;
}
