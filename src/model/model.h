/* SPDX-License-Identifier: GPL-2.0-or-later */
/* model: the console's asynchronous view of the fleet — hosts, rows,
 * details and plans — kept up to date by worker threads.  No curses here.
 *
 * Threads: one fetcher per host (list, metadata, events, reconnect, fleet
 * reload) so a slow or dead host never holds up another, and one helper
 * thread for the selected VM's details and for plans.  Workers never touch
 * the table the UI reads: they queue results and write a byte to a pipe;
 * the UI thread polls model_fd() and calls model_process(), which applies
 * them.  Every accessor below is for the UI thread only.
 *
 * Loading: one bulk hv_list(without metadata) per host gives the names at
 * once; metadata follows, rows named by model_set_priority() (the rows on
 * screen) first.  Afterwards libvirt events bring single rows, a full
 * resync runs every refresh_interval, and fleet files are reloaded when
 * another process changed them. */
#ifndef DROVER_MODEL_H
#define DROVER_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "chain/chain.h"
#include "base/err.h"
#include "ops/health.h"
#include "ops/plan.h"
#include "record/replica.h"
#include "face/repljob.h"
#include "face/session.h"
#include "repl/repl.h"
#include "ops/summary.h"

typedef struct Model Model;

enum {
    MODEL_HOST_CONNECTING = 0,  /* first connection attempt not finished */
    MODEL_HOST_CONNECTED,
    MODEL_HOST_DISCONNECTED,
};

/* What model_process() and model_tick() report as changed. */
enum {
    MODEL_CH_HOSTS = 1 << 0,    /* host state, data age or error */
    MODEL_CH_ROWS = 1 << 1,     /* rows added, removed or changed */
    MODEL_CH_DETAIL = 1 << 2,   /* model_detail() changed */
    MODEL_CH_PLAN = 1 << 3,     /* a plan result arrived */
    MODEL_CH_CYCLE = 1 << 4,    /* a host finished a refresh round */
    MODEL_CH_NOW = 1 << 5,      /* worth a frame at once: on a host's first
                                 * load its names (its fetcher waits to hear
                                 * which rows show) and its round's end;
                                 * the rows on screen read */
};

typedef struct {
    const char *name;           /* the session host's display name */
    const char *uri;
    int readonly;
    int state;                  /* MODEL_HOST_* */
    int busy;                   /* a list or reconnect is running now */
    int64_t last_ok_ms;         /* monotonic time of the last complete list, 0 never */
    char *error;                /* why it is disconnected, or NULL */
    size_t nrows;
    size_t nloaded;             /* rows whose record has been read */
    unsigned rounds;            /* refresh rounds finished (success or not) */
    int hung;                   /* a round has run MODEL_HUNG_MS without a word from
                                 * its fetcher: the host does not answer (a stopped or
                                 * overloaded daemon), until keepalive drops it */
    int64_t heard_ms;           /* monotonic time of the host's last result */
} ModelHost;

/* How long a round may go without any result before its host is shown as
 * not responding: libvirt's keepalive interval (src/hv/hv.c). */
#define MODEL_HUNG_MS 5000

typedef struct {
    Summary s;                  /* host name, VM name, uuid, state, health, ... */
    size_t host;                /* index into the session's hosts */
    int loaded;                 /* the record has been read: state and health are real */
    char *busy;                 /* an operation holds the VM's lock now: its holder, else
                                 * NULL (a journal without a holder is an interruption) */
    int64_t fetched_ms;         /* monotonic time its data was read */
    unsigned version;           /* changes whenever the row's data changes */
    int repl;                   /* drover replicates it (its record has <replication>) */
    int repl_primary;           /* ... and its record names the primary's URI: a planned
                                 * failover can be offered */
    int64_t repl_next_due;      /* wall clock of its next cycle by the schedule, 0: none
                                 * (no interval, suspended, failed over, running) */
} ModelRow;

/* Seconds the detail pane waits for a primary's host. */
#define MODEL_PRIMARY_TIMEOUT 3

/* One disk of the detail pane. */
typedef struct {
    char *target;               /* "vda" */
    char *source;               /* what the domain uses now, NULL for an empty drive */
    Chain *used;                /* chain of source, NULL if it could not be walked */
    char *used_error;
    Chain *points;              /* chain of the newest recovery point's file, NULL if none
                                 * or when it is part of used */
    char *points_error;
} ModelDisk;

typedef struct {
    size_t host;
    char uuid[37];
    char *name;
    int power;                  /* HV_POWER_* */
    Replica *rec;               /* NULL when there is no readable record */
    char *rec_error;            /* why the record is unreadable, or NULL */
    ModelDisk *disks;
    size_t ndisks;
    /* Per recovery point, in rec->points order: NULL when the chain of
     * each of its disks walks, else why not ("vda: cannot open ...").  A
     * broken point is not offered for failover or test.  NULL itself when
     * the files are not this machine's to read. */
    char **point_broken;
    HealthReport health;        /* deep assessment: chains walked */
    /* The primary as its host answered when these details were read
     * (plan_primary_state, MODEL_PRIMARY_TIMEOUT): PLAN_GUARD_*, 0 when
     * there is no record. */
    int primary_guard;
    int primary_power;          /* HV_POWER_* */
    char *primary_text;
    /* Replication by drover (rec->repl): its statistics (zeros when not
     * this machine's to read) and when the next cycle is due (0: never). */
    ReplStats repl_stats;
    int64_t repl_next_due;
    /* The pending size, asked of the primary only when it just answered
     * running (primary_power), so a silent one costs no second wait. */
    ReplPending repl_pending;
    int64_t fetched_ms;
    int failed;                 /* the VM could not be read: err holds why */
    ErrInfo err;
} ModelDetail;

typedef struct {
    int refresh_interval;       /* seconds between full resyncs */
    int rpo_warning;            /* seconds, for health */
    int priority_wait_ms;       /* first load: how long to wait for model_set_priority()
                                 * before reading records in name order */
    int chunk_ms;               /* how long a reader may hold rows off screen before
                                 * handing them on (0: 100 ms; below 0: not at all) */
} ModelOpts;

/* Starts the workers; the first load begins at once.  The session must
 * outlive the model.  Never NULL. */
Model *model_new(Session *s, const ModelOpts *o);
/* How long model_free waits for its threads to come back. */
#define MODEL_QUIT_WAIT_MS 500
/* Stops the workers and frees the model once they have returned.  A
 * worker still in a call to a host that does not answer after
 * MODEL_QUIT_WAIT_MS is not waited for: the model stays (unfreed) with
 * it and the session is marked kept (session_keep), so quitting never
 * waits for a hung host; meant for the end of the process. */
void model_free(Model *m);

/* Readable when results are waiting for model_process(). */
int model_fd(const Model *m);
/* Readable when one of them is worth a frame at once (MODEL_CH_NOW): a UI
 * that holds the model's news for its next frame polls this one instead,
 * so a first load's end or the rows on screen are not held with the rest. */
int model_now_fd(const Model *m);
/* Applies queued results; returns MODEL_CH_* flags. */
unsigned model_process(Model *m);
/* Timer: schedules resyncs, reconnects and fleet reloads that are due.
 * Returns the milliseconds until it next wants to run. */
int model_tick(Model *m);
/* Forces a resync of every host now (reconnecting those that are down). */
void model_refresh(Model *m);

/* Refresh rounds every host has finished (the least of all hosts). */
unsigned model_rounds(const Model *m);

size_t model_nhosts(const Model *m);
const ModelHost *model_host(const Model *m, size_t i);

/* Rows of all hosts, host by host, each host's sorted by name.  Pointers
 * stay valid until the next model_process(). */
size_t model_nrows(const Model *m);
const ModelRow *model_row(const Model *m, size_t i);
/* The row with this host and uuid, or NULL. */
const ModelRow *model_find(const Model *m, size_t host, const char *uuid);
/* Changes whenever any row or host changes. */
unsigned model_version(const Model *m);
/* Changes whenever rows come, go, move or change their name: while it
 * stays, every row pointer stays valid across model_process() and the rows
 * keep their order by host and name (their data may change). */
unsigned model_layout(const Model *m);

/* The rows on screen: their records are read before the others'.  Copies
 * the list (n pairs). */
void model_set_priority(Model *m, const size_t *hosts, const char *const *uuids, size_t n);

/* Details of one VM (record, chains walked, deep health), read by the
 * helper thread; the newest request wins.  They are read again when the
 * VM's row changes. */
void model_detail_request(Model *m, size_t host, const char *uuid);
void model_detail_forget(Model *m);
/* The latest details that arrived (maybe for an earlier request), or NULL. */
const ModelDetail *model_detail(const Model *m);
/* True while the details of the requested VM are being read. */
int model_detail_pending(const Model *m);

/* Plans op for the VM on the helper thread; returns a request id (never 0).
 * A newer request replaces an older one. */
unsigned model_plan_request(Model *m, size_t host, const char *uuid, StateOp op, const char *point,
                            int flatten);
/* The same for a failover (OP_INITIATE) to point; force: proceed although
 * the split-brain guard finds the primary running (the job records the
 * override and the reason in the audit log). */
unsigned model_failover_plan_request(Model *m, size_t host, const char *uuid, const char *point,
                                     int force);
/* If the result of request id arrived: returns 1 and hands over either the
 * plan (*plan, caller frees) or the error (*plan NULL, *err filled).
 * 0 while it is still being computed; -1 for an unknown or replaced id. */
int model_plan_take(Model *m, unsigned id, Plan **plan, ErrInfo *err);

/* Runs a confirmed plan as a job (ops_execute); takes ownership of plan.
 * The job's host and VM rows are re-read when it ends.  Copies the job id
 * into id_out.  0, or -1 with err set (read-only host). */
int model_execute(Model *m, Plan *plan, const char *reason, char id_out[37]);
/* Repairs an interrupted operation on the VM as a job (ops_repair). */
int model_repair(Model *m, size_t host, const char *uuid, const char *name, const char *reason,
                 char id_out[37]);

/* Replication from the console: the plan of one ReplJobOp on a replica
 * drover replicates, as text, for the same plan -> confirm -> job as an
 * operation. */
typedef struct {
    int op;                     /* ReplJobOp */
    size_t host;
    char uuid[37];
    char *vm;
    char *text;                 /* the plan, lines of text */
    char digest[65];            /* resync: the job runs only this plan */
    int primary_down;           /* a cycle whose primary did not answer while planning
                                 * (why: err): the job asks again, and ends with that
                                 * code if it still does not, changing nothing */
    ErrInfo err;
    ReplPlanned *planned;       /* REPLJOB_PLANNED: the plan its job runs (text is its text) */
} ModelReplPlan;

void model_repl_plan_free(ModelReplPlan *p);
/* Plans op on the helper thread (the primary is asked for a cycle and a
 * resync); a request id like model_plan_request's, and it replaces any
 * plan request. */
unsigned model_repl_plan_request(Model *m, size_t host, const char *uuid, const char *vm, int op);
/* Plans a planned failover of the replica (repl_plan_planned with the
 * configured shutdown_timeout; start: the replica is started after) on
 * the helper thread: a ModelReplPlan of op REPLJOB_PLANNED, taken with
 * model_repl_plan_take and run with model_repl_execute. */
unsigned model_planned_request(Model *m, size_t host, const char *uuid, const char *vm, int start);
/* Like model_plan_take: 1 with *plan (caller frees) or *err, 0 while
 * planning, -1 for an unknown or replaced id. */
int model_repl_plan_take(Model *m, unsigned id, ModelReplPlan **plan, ErrInfo *err);
/* Runs a confirmed replication plan as a job (a detached process where
 * the job table has an executable); takes ownership of plan.  0 with
 * id_out set, or -1 with err set (read-only host). */
int model_repl_execute(Model *m, ModelReplPlan *plan, const char *reason, char id_out[37]);

/* Job type the console uses for repair jobs (CIM leaves 0 as "Unknown"). */
#define MODEL_JOB_REPAIR 0

/* The operation name for the decoder from a job type: "revert", ...,
 * "repair" for MODEL_JOB_REPAIR. */
const char *model_job_op(int type);
/* The job type's title: report_job_title() ("Test failover"), or "Repair". */
const char *model_job_title(int type);

void model_detail_clear(ModelDetail *d);

#endif
