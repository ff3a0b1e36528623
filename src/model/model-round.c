/* SPDX-License-Identifier: GPL-2.0-or-later */
/* model-round: a round's records made into rows — the readers that take
 * them, the rows on screen first, each with a stage that makes its records
 * into rows and hands them to the UI in batches (the fetcher that starts a
 * round, and reads again the records an event names: model-work.c). */
#include <config.h>

#include "model/model.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/lock.h"
#include "model/model-priv.h"
#include "base/result.h"
#include "base/stage.h"
#include "base/util.h"

/* Metadata rows go to the UI in batches: at most this many, or after this
 * long, whichever comes first. */
#define MODEL_BATCH_ROWS 64
#define MODEL_BATCH_MS 40



void
model_batch_flush(Batch *b)
{
    Result *r;

    if (!b->n)
        return;
    r = model_result_new(RES_ROWS, b->f->idx);
    r->rows = b->v;
    r->holders = b->holders;
    r->repl = b->repl;
    r->n = b->n;
    r->now = b->now;
    b->now = 0;
    model_post(b->f->m, r);
    b->v = NULL;
    b->holders = NULL;
    b->repl = NULL;
    b->n = b->cap = b->hcap = b->rcap = 0;
    b->since_ms = util_mono_ms();
}

/* Who holds the lock of a replica whose record carries a journal: an
 * operation running now (here or in another process), as opposed to one
 * that was interrupted.  NULL when nobody holds it. */
static char *
batch_holder(const HvDomain *d)
{
    Replica *r = replica_parse(d->metadata, strlen(d->metadata));
    UTIL_AUTOFREE char *path = r ? replica_lock_path(r, d->uuid) : NULL;
    char *out = NULL;

    if (path) {
        char holder[512];

        if (lock_probe(path, holder, sizeof(holder)) == 1)
            out = util_xstrdup(holder);
    }
    replica_free(r);
    err_clear();
    return out;
}

/* Whether drover replicates the domain (r: its record, or NULL), and when
 * its next cycle is due: the NEXT column. */
static void
batch_repl(RowRepl *out, const HvDomain *d, const Replica *r)
{
    memset(out, 0, sizeof(*out));
    if (r && r->repl) {
        out->on = 1;
        out->primary = r->primary_uri != NULL;
        out->next_due = repl_next_due(r, d->power, util_now());
    }
}

void
model_batch_add(Batch *b, const HvDomain *d)
{
    Model *m = b->f->m;
    int local = hv_is_local(m->s->hosts[b->f->idx].conn) == 1;
    Replica *r;
    Summary *s;

    util_grow(&b->v, &b->cap, b->n + 1, sizeof(*b->v));
    util_grow(&b->holders, &b->hcap, b->n + 1, sizeof(*b->holders));
    util_grow(&b->repl, &b->rcap, b->n + 1, sizeof(*b->repl));
    s = &b->v[b->n];
    /* One parse of the record serves the row, its replication health and
     * its next cycle. */
    r = summary_from_domain(s, m->s->hosts[b->f->idx].name, d, util_now(), m->o.rpo_warning, local);
    repl_health_summary(s, r, util_now(), local);
    b->holders[b->n] = s->journal_op && d->metadata ? batch_holder(d) : NULL;
    batch_repl(&b->repl[b->n], d, r);
    replica_free(r);
    b->n++;
}


/* Records read in a round, handed to the reader's stage to be made into
 * rows (parse, health, files) while the reader reads the next ones: at
 * most FETCH_CHUNK at once, and none held longer than ModelOpts.chunk_ms
 * (FETCH_CHUNK_MS), which is how often the rows off screen move on a slow
 * host.  The rows on screen never wait for either (round_done,
 * round_read).  Chunks of 16 cost twenty hosts 10-25 ms more CPU a load:
 * a stage's wake-up, a batch and a post to the UI each (doc/performance.md,
 * "chunks by time"). */
#define FETCH_CHUNK 256

typedef struct {
    Batch *b;
    const HvDomain *v[FETCH_CHUNK];
    size_t n;
    int64_t since_ms;           /* its first record's */
    int now;                    /* the rows on screen are all in: out at once */
} Chunk;

static void
chunk_run(void *arg)
{
    Chunk *c = arg;
    Batch *b = c->b;
    size_t i;

    for (i = 0; i < c->n; i++)
        model_batch_add(b, c->v[i]);
    b->now = c->now;
    if (b->now || b->n >= MODEL_BATCH_ROWS || util_mono_ms() - b->since_ms >= MODEL_BATCH_MS)
        model_batch_flush(b);
    free(c);
}

/* Hands *cp (if any) to the stage; a fresh one is made on the next add. */
static void
chunk_push(Stage *st, Chunk **cp)
{
    if (*cp)
        stage_push(st, chunk_run, *cp);
    *cp = NULL;
}

/* Adds d (if any) to *cp; 1 when that handed the chunk on for its age
 * alone (neither full nor now). */
static int
chunk_add(Stage *st, Chunk **cp, Batch *b, const HvDomain *d, int now)
{
    int full, old;

    if (!*cp) {
        *cp = util_xcalloc(1, sizeof(**cp));
        (*cp)->b = b;
        (*cp)->since_ms = util_mono_ms();
    }
    if (d)
        (*cp)->v[(*cp)->n++] = d;
    (*cp)->now = now;
    full = (*cp)->n == FETCH_CHUNK;
    old = util_mono_ms() - (*cp)->since_ms >= b->f->m->o.chunk_ms;
    if (now || full || old)
        chunk_push(st, cp);
    return old && !now && !full;
}

static int
round_cmp_uuid(const void *a, const void *b)
{
    const HvDomain *const *x = a, *const *y = b;
    return strcmp((*x)->uuid, (*y)->uuid);
}

/* Reads the priority UUIDs for this host that are in doms; returns the
 * positions (in doms) in the order the UI gave them. */
static size_t
round_priority(Fetcher *f, HvDomain **sorted, size_t n, HvDomain *doms, size_t **out)
{
    Model *m = f->m;
    size_t i, k = 0;

    pthread_mutex_lock(&m->mu);
    *out = util_xcalloc(m->nprio + 1, sizeof(**out));
    for (i = 0; i < m->nprio; i++) {
        HvDomain key, *kp = &key, **hit;

        if (m->prio_hosts[i] != f->idx)
            continue;
        util_strlcpy(key.uuid, m->prio_uuids[i], sizeof(key.uuid));
        hit = bsearch(&kp, sorted, n, sizeof(*sorted), round_cmp_uuid);
        if (hit)
            (*out)[k++] = (size_t)(*hit - doms);
    }
    pthread_mutex_unlock(&m->mu);
    return k;
}

/* A round's records are read by two reader threads at once (the fetcher
 * waits for them): libvirt carries several calls at once on one
 * connection, so a round trip waits beside another instead of after it,
 * and with a call waiting in its queue the daemon spends less CPU a call,
 * on one host or twenty (doc/performance.md, "two calls in flight").
 * Each reader has a stage of its own that makes its records into rows, in
 * a batch of its own.  Every reader takes the next record here, the rows
 * on screen first. */
typedef struct Round Round;

typedef struct {
    Round *rd;
    Stage *st;
    Batch b;                    /* only st touches it until stage_wait */
    Chunk *ck;
    unsigned prio_gen;          /* the rows on screen it last knew of */
} RoundReader;

struct Round {
    Fetcher *f;
    HvConn *c;
    HvDomain *doms, **sorted;
    size_t n;
    RoundReader r[FETCH_READERS_MAX];
    size_t nr;
    pthread_mutex_t mu;         /* guards what follows */
    unsigned char *state;       /* per record: 0 to read, 1 being read, 2 done */
    size_t next;                /* records before it are taken */
    size_t nread;               /* records done */
    size_t *prio, nprio, pi;    /* the rows on screen (positions in doms) */
    unsigned prio_gen;
    int prio_sent;              /* those rows went out, all read */
    int cut;                    /* stopped with records left: a new round asked
                                 * for, the model ends, or the host is lost */
    int quit;                   /* the model ends */
    int lost;
    ErrInfo lost_err;           /* why, from the reader that saw it */
};

/* Every row on screen is read (rd->mu held). */
static int
round_prio_read(const Round *rd)
{
    size_t i;

    for (i = 0; i < rd->nprio; i++)
        if (rd->state[rd->prio[i]] != 2)
            return 0;
    return 1;
}

/* Whether c holds a row on screen (rd->mu held). */
static int
round_chunk_on_screen(const Round *rd, const Chunk *c)
{
    size_t i, k;

    for (i = 0; c && i < c->n; i++)
        for (k = 0; k < rd->nprio; k++)
            if (c->v[i] == &rd->doms[rd->prio[k]])
                return 1;
    return 0;
}

/* The next record for me to read, or n when there is none (or the round
 * stops).  *held: the rows on screen moved, and me's chunk holds one of
 * them, read before it was on screen: it goes out now, not when the chunk
 * is full or old. */
static size_t
round_take(RoundReader *me, int *urgent, int *held)
{
    Round *rd = me->rd;
    Model *m = rd->f->m;
    size_t pick = rd->n;
    int quit, again;
    unsigned gen;

    pthread_mutex_lock(&m->mu);
    quit = m->quit;
    again = rd->f->want_full;
    gen = m->prio_gen;
    pthread_mutex_unlock(&m->mu);
    pthread_mutex_lock(&rd->mu);
    rd->quit |= quit;
    if (!rd->cut && gen != rd->prio_gen) {
        rd->prio_gen = gen;
        free(rd->prio);
        rd->nprio = round_priority(rd->f, rd->sorted, rd->n, rd->doms, &rd->prio);
        rd->pi = 0;
        /* Rows on screen already read need no flush of their own (the UI
         * moves its view often while a load paints), unless a reader
         * still holds them (round_read). */
        rd->prio_sent = round_prio_read(rd);
    }
    *held = 0;
    if (me->prio_gen != rd->prio_gen) {
        me->prio_gen = rd->prio_gen;
        *held = round_chunk_on_screen(rd, me->ck);
    }
    *urgent = 0;
    if (!rd->cut) {
        while (rd->pi < rd->nprio && rd->state[rd->prio[rd->pi]])
            rd->pi++;
        if (rd->pi < rd->nprio) {
            pick = rd->prio[rd->pi++];
            *urgent = 1;
        } else {
            while (rd->next < rd->n && rd->state[rd->next])
                rd->next++;
            pick = rd->next;
        }
        if (pick < rd->n && (quit || again)) {
            /* Records left, and a reload, a reconnect, Ctrl-R or a
             * connection that closed (libvirt's close callback) asks
             * for a new round. */
            rd->cut = 1;
            pick = rd->n;
        }
        if (pick < rd->n)
            rd->state[pick] = 1;
    }
    pthread_mutex_unlock(&rd->mu);
    return pick;
}

/* Record pick is read (d: it, or NULL when it could not be).  The rows on
 * screen go out as soon as they are all read: each is handed on at once,
 * under the lock, and the one that completes them has every stage flush,
 * after those rows, since a stage keeps the order it is given. */
static void
round_done(RoundReader *me, size_t pick, const HvDomain *d, int urgent)
{
    Round *rd = me->rd;
    size_t i;
    int all = 0;

    pthread_mutex_lock(&rd->mu);
    rd->state[pick] = 2;
    if (++rd->nread == rd->n / 2)
        model_fetcher_pause(rd->f, "mid-round");
    if (!rd->prio_sent && rd->nprio)
        all = rd->prio_sent = round_prio_read(rd);
    if (urgent || all) {
        chunk_add(me->st, &me->ck, &me->b, d, all);
        chunk_push(me->st, &me->ck);
        for (i = 0; all && i < rd->nr; i++) {
            /* Another reader's chunk is its own: the flush goes alone. */
            Chunk *flush = NULL;

            if (&rd->r[i] != me)
                chunk_add(rd->r[i].st, &flush, &rd->r[i].b, NULL, 1);
        }
        pthread_mutex_unlock(&rd->mu);
    } else {
        pthread_mutex_unlock(&rd->mu);
        if (d && chunk_add(me->st, &me->ck, &me->b, d, 0))
            model_fetcher_pause(rd->f, "aged");
    }
}

/* One reader: takes records until none are left. */
static void
round_read(RoundReader *me)
{
    Round *rd = me->rd;
    Model *m = rd->f->m;

    for (;;) {
        int urgent, held;
        size_t pick = round_take(me, &urgent, &held);
        HvDomain *d;

        if (held) {
            chunk_add(me->st, &me->ck, &me->b, NULL, 1);
            model_fetcher_pause(rd->f, "held");
        }
        if (pick >= rd->n)
            break;
        d = &rd->doms[pick];
        if (!(d->metadata = hv_domain_metadata(rd->c, d)) && err_code()) {
            if (err_code() == RESULT_INVALID_PARAMETER) {
                Result *g = model_result_new(RES_GONE, rd->f->idx);
                util_strlcpy(g->uuid, d->uuid, sizeof(g->uuid));
                model_post(m, g);
                err_clear();
                round_done(me, pick, NULL, urgent);
                continue;
            }
            if (!hv_is_alive(rd->c)) {
                /* The fetcher reports it, with this reader's error. */
                pthread_mutex_lock(&rd->mu);
                if (!rd->lost) {
                    rd->lost = rd->cut = 1;
                    err_save(&rd->lost_err);
                }
                pthread_mutex_unlock(&rd->mu);
                err_clear();
                break;
            }
            err_clear();
            round_done(me, pick, NULL, urgent);
            continue;
        }
        round_done(me, pick, d, urgent);
    }
    chunk_push(me->st, &me->ck);
}

static void *
round_reader_thread(void *arg)
{
    RoundReader *me = arg;

    /* Lowered before it has its name: a thread named so is lowered. */
    util_thread_lower(MODEL_READ_NICE);
    util_thread_name("read %s", me->rd->f->m->s->hosts[me->rd->f->idx].name);
    round_read(me);
    return NULL;
}

/* How many readers a round of n records gets: a second one with records
 * enough to be worth it, and with a stage for each. */
static size_t
round_readers(Fetcher *f, size_t n)
{
    size_t k;
    char name[16];

    if (n < 64)
        return 1;
    for (k = 0; k < FETCH_READERS_MAX; k++) {
        if (f->stages[k])
            continue;
        snprintf(name, sizeof(name), "rows%zu %s", k, f->m->s->hosts[f->idx].name);
        if (!(f->stages[k] = stage_new(name, MODEL_READ_NICE)))
            break;
    }
    return k ? k : 1;
}


int
model_round_read(Fetcher *f, HvConn *c, HvDomain *doms, size_t n)
{
    HvDomain **sorted = util_xcalloc(n + 1, sizeof(*sorted));
    size_t i, started = 0;
    pthread_t readers[FETCH_READERS_MAX];
    Round rd;
    int ret = 0;

    for (i = 0; i < n; i++)
        sorted[i] = &doms[i];
    qsort(sorted, n, sizeof(*sorted), round_cmp_uuid);
    memset(&rd, 0, sizeof(rd));
    rd.f = f;
    rd.c = c;
    rd.doms = doms;
    rd.sorted = sorted;
    rd.n = n;
    rd.state = util_xcalloc(n + 1, 1);
    pthread_mutex_init(&rd.mu, NULL);
    rd.nr = round_readers(f, n);
    for (i = 0; i < rd.nr; i++) {
        rd.r[i].rd = &rd;
        rd.r[i].st = f->stages[i];
        rd.r[i].b.f = f;
        rd.r[i].b.since_ms = util_mono_ms();
    }
    /* Each reader in a thread of its own (MODEL_READ_NICE: the fetcher
     * stays as it is).  One that cannot start takes no record: the others
     * take them all, and the fetcher reads if none started. */
    for (i = 0; i < rd.nr; i++)
        if (pthread_create(&readers[started], NULL, round_reader_thread, &rd.r[i]) == 0)
            started++;
    if (!started)
        round_read(&rd.r[0]);
    for (i = 0; i < started; i++)
        pthread_join(readers[i], NULL);
    for (i = 0; i < rd.nr; i++) {
        stage_wait(rd.r[i].st);
        model_batch_flush(&rd.r[i].b);
    }
    pthread_mutex_destroy(&rd.mu);
    if (rd.cut) {
        /* A lost host is said now (with the failed call's error, if one
         * failed), not after the next round's reconnect, which may wait
         * for its connect timeout. */
        ret = 1;
        if (rd.lost)
            err_restore(&rd.lost_err);
        if (rd.lost || (!rd.quit && !hv_is_alive(c)))
            ret = -1;
    }
    for (i = 0; i < FETCH_READERS_MAX; i++) {
        free(rd.r[i].b.v);
        free(rd.r[i].b.holders);
        free(rd.r[i].b.repl);
    }
    free(rd.prio);
    free(rd.state);
    free(sorted);
    return ret;
}
