/* SPDX-License-Identifier: GPL-2.0-or-later */
/* model-priv: what the model's UI side (model.c, model-table.c) and its
 * worker threads (model-work.c, model-round.c) share.  Not for other
 * modules. */
#ifndef DROVER_MODEL_PRIV_H
#define DROVER_MODEL_PRIV_H

#include <pthread.h>
#include <stdint.h>

#include "base/stage.h"
#include "model/model.h"

typedef enum {
    RES_HOST,       /* connection state of a host */
    RES_LIST,       /* names, UUIDs and power of every domain of a host */
    RES_ROWS,       /* rows with their records read */
    RES_GONE,       /* a domain that no longer exists */
    RES_ROUND,      /* a refresh round of a host finished */
    RES_DETAIL,
    RES_PLAN,
} ResKind;

/* What a row carries about drover's replication of it. */
typedef struct {
    int on;
    int primary;                /* the record names the primary's URI */
    int64_t next_due;
} RowRepl;

typedef struct Result {
    struct Result *next;
    ResKind kind;
    size_t host;
    int state;                  /* RES_HOST */
    char *error;                /* RES_HOST */
    int ok;                     /* RES_HOST, RES_ROUND: the list completed */
    HvDomain *doms;             /* RES_LIST */
    Summary *rows;              /* RES_ROWS */
    char **holders;             /* RES_ROWS: ModelRow.busy for each row */
    RowRepl *repl;              /* RES_ROWS: ModelRow.repl and repl_next_due for each row */
    /* Worth a frame at once (MODEL_CH_NOW, model_now_fd): RES_ROWS the rows
     * on screen, all read; on a host's first load its RES_LIST (its fetcher
     * waits to hear which rows show) and its RES_ROUND (the table may be
     * whole now).  Not a refresh round's: they change no row on screen,
     * and twenty hosts' rounds would each cut a frame short while keys are
     * typed. */
    int now;
    size_t n;
    int64_t when_ms;
    char uuid[37];              /* RES_GONE */
    ModelDetail *detail;        /* RES_DETAIL */
    unsigned plan_id;           /* RES_PLAN */
    Plan *plan;
    ModelReplPlan *rplan;       /* RES_PLAN of a replication request */
    ErrInfo err;
} Result;

/* A round reads with at most this many calls in flight on one host. */
#define FETCH_READERS_MAX 2

/* How long a reader holds rows off screen at most (ModelOpts.chunk_ms 0). */
#define FETCH_CHUNK_MS 100

typedef struct {
    Model *m;
    size_t idx;
    pthread_t thread;
    pthread_cond_t cond;
    /* Guarded by m->mu. */
    int want_full;              /* resync (reconnecting first if needed) */
    char **dirty;               /* UUIDs that events named */
    size_t ndirty, capdirty;
    int loaded_once;            /* fetcher thread only */
    int first_done;             /* fetcher thread only: its first round ended */
    Stage *stages[FETCH_READERS_MAX];   /* fetcher thread only: make each reader's records
                                         * into rows (model-round.c) */
    int exited;                 /* its thread has returned (guarded by m->mu) */
    /* UI thread only. */
    int64_t next_due_ms;
    int running;                /* a round was asked for and has not finished */
} Fetcher;

typedef struct {
    ModelRow *rows;             /* sorted by name, then UUID */
    size_t n, cap;
    size_t *by_uuid;            /* indexes of rows, sorted by UUID */
} HostRows;

typedef struct {
    int active;
    size_t host;
    char uuid[37];
    StateOp op;
    char *point;
    int flatten;
    int force;                  /* a failover: override the split-brain guard */
    int start;                  /* a planned failover: start the replica after */
    int repl_op;                /* a ReplJobOp to plan instead, or -1 */
    char *vm;                   /* its VM's name */
    unsigned id;
} PlanReq;

struct Model {
    Session *s;
    ModelOpts o;
    unsigned reg_id;
    pthread_mutex_t mu;
    int quit;                   /* guarded by mu */
    pthread_cond_t exit_cond;   /* a thread returned (CLOCK_MONOTONIC) */
    int helper_exited;          /* guarded by mu */
    size_t first_rounds;        /* fetchers past their first round (mu) */
    struct Model *left_next;    /* model_free left it to its threads */
    int pipe[2];                /* a byte: results wait */
    int now_pipe[2];            /* a byte: one of them is worth a frame at once */
    /* Results, guarded by mu. */
    Result *head, *tail;
    int signalled, now_signalled;
    /* Priority, guarded by mu. */
    size_t *prio_hosts;
    char **prio_uuids;
    size_t nprio;
    unsigned prio_gen;
    /* Helper thread requests, guarded by mu. */
    pthread_t helper;
    pthread_cond_t helper_cond;
    int detail_want;
    size_t detail_host;
    char detail_uuid[37];
    PlanReq plan_req;
    unsigned plan_next_id;
    /* UI thread only. */
    Fetcher *fetchers;
    ModelHost *hosts;
    HostRows *rows;
    size_t nhosts;
    const ModelRow **flat;
    size_t nflat;
    int flat_dirty;
    unsigned version;
    unsigned layout;            /* see model_layout() */
    ModelDetail *detail;
    int detail_requested;       /* a detail request is outstanding */
    size_t req_host;
    char req_uuid[37];
    unsigned plan_wait_id;      /* the plan request the UI waits for */
    Result *plan_done;          /* its result, once arrived */
};

/* model.c */
Result *model_result_new(ResKind kind, size_t host);
void model_result_free(Result *r);
/* Hands a result to the UI thread. */
void model_post(Model *m, Result *r);
/* Records an event for the host's fetcher (any thread, mu not held). */
void model_note_event(Model *m, size_t host, const char *uuid, int kind);
/* The event handler registered on every connection, and its opaque. */
void model_on_event(HvConn *c, const char *uuid, int kind, void *opaque);
void *model_opaque(const Model *m, size_t host);
/* Runs fn on the model registered as opaque says, if it still exists. */
void model_with(void *opaque, void (*fn)(Model *, size_t, const char *, int), const char *uuid,
                int kind);

/* model-work.c */
void *model_fetcher_thread(void *arg);
/* A test holds the fetcher or a reader of f's host at "model:STEP:HOST". */
void model_fetcher_pause(Fetcher *f, const char *step);

/* Reading records and making rows is background work: the readers and
 * the stages run this many nice values below the UI thread, which must
 * paint while twenty hosts' readers and stages take turns on the cores
 * (with twenty hosts on two cores it otherwise waited 20-40 ms for a core
 * at each step of a frame, and the rows on screen came at 0.53 s instead
 * of 0.20 s: doc/performance.md).  Not the fetcher: the threads it starts
 * (a reconnect's, and what libvirt forks from it: ssh, a session daemon)
 * would inherit it, and no thread can raise it again; the few records an
 * event has it read again (fetcher_do_dirty) stay there. */
#define MODEL_READ_NICE 5

/* Rows made from records, on their way to the UI (model-round.c). */
typedef struct {
    Fetcher *f;
    Summary *v;
    char **holders;
    RowRepl *repl;
    size_t n, cap, hcap, rcap;
    int64_t since_ms;
    int now;                    /* the next flush completes the rows on screen */
} Batch;

/* model-round.c */
/* Makes d's row into b; b goes to the UI when flushed. */
void model_batch_add(Batch *b, const HvDomain *d);
void model_batch_flush(Batch *b);
/* Reads the records of the n domains f's host listed through c, the rows on
 * screen first, and hands their rows to the UI.  0 when every record was
 * read; else the round was cut: 1 for a new round asked for or the model
 * ending, -1 for the host lost (the error set). */
int model_round_read(Fetcher *f, HvConn *c, HvDomain *doms, size_t n);
/* model-helper.c */
void *model_helper_thread(void *arg);
/* Called by each of the model's threads as it returns. */
void model_thread_exited(Model *m, Fetcher *f);
/* Adds uuid to the fetcher's events (m->mu held). */
void model_fetcher_mark_dirty(Fetcher *f, const char *uuid);

#endif
