/* SPDX-License-Identifier: GPL-2.0-or-later */
/* job: operations as jobs modelled on CIM_ConcreteJob.
 *
 * A mutating job runs detached from the terminal and the console that
 * started it: its own process (own session and process group, deaf to the
 * terminal's signals) that writes its state to a job record, one small
 * file per running job in the jobs directory beside the history.  Every
 * drover process on the host reads those records, so any console or
 * command line sees every running job live.  The job process holds an OFD
 * lock on <id>.lock for as long as it lives: a record whose lock is free
 * belongs to a job that died, and the first reader turns it into a
 * finished job ("ended without a result").  Finished jobs go to the history
 * file (JSON lines) that outlives every process.
 *
 * Without an executable to run (job_table_set_exe() not called, as in unit
 * tests), job_submit() runs the function on a thread of this process with
 * the same records. */
#ifndef DROVER_JOB_H
#define DROVER_JOB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"

/* JobState values of CIM_ConcreteJob. */
enum {
    JOB_NEW = 2,
    JOB_STARTING = 3,
    JOB_RUNNING = 4,
    JOB_COMPLETED = 7,
    JOB_TERMINATED = 8,
    JOB_EXCEPTION = 10,
};

/* The JobType of a repair (the seed has none; 0 is no other job's). */
#define JOB_TYPE_REPAIR 0

/* The descriptor a detached job process finds its record lock on. */
#define JOB_LOCK_FD 3

/* A snapshot of one job: plain data, safe to keep. */
typedef struct {
    char id[37];
    int type;                   /* JobType: 97 initiate, 98 revert, ... */
    int state;                  /* JOB_* */
    int percent;                /* PercentComplete */
    char step[200];             /* what it is doing now */
    char host[128];
    char vm[256];
    /* Which VM, for keeps: host and VM names repeat between fleets (every
     * demo has a "fleet" with the same UUIDs); the connection URI and the
     * UUID together do not.  "" in history written before they existed. */
    char uri[512];
    char uuid[37];
    char owner[128];
    char digest[65];            /* plan digest */
    int64_t start_time;         /* wall clock, seconds */
    int64_t start_ms;           /* wall clock, milliseconds; rises with each job a process starts */
    int64_t elapsed_ms;
    int error_code;             /* result code; 0 when it completed */
    char error_description[1024];
    int virt_code;              /* for decoding: libvirt error behind it */
    int sys_errno;              /* and errno */
    unsigned hints;             /* and RESULT_HINT_* */
    int pid;                    /* the process running it (0 before it started) */
    int cancellable;            /* 1 until the job passes its switch */
    int from_history;           /* 1 if loaded from the history file */
} JobInfo;

typedef struct Job Job;
typedef struct JobTable JobTable;

/* The function a job runs: returns 0 or a result code, with err set. */
typedef int (*JobFn)(Job *job, void *arg);

/* history may be NULL (no history; records then go to a per-user runtime
 * directory).  Loads up to the last 500 jobs. */
JobTable *job_table_new(const char *history);
/* Waits for this process's job threads, then frees.  Detached jobs go on. */
void job_table_free(JobTable *t);
/* The drover executable detached jobs run (`EXE job-run ID SPEC`). */
void job_table_set_exe(JobTable *t, const char *exe);
const char *job_table_exe(const JobTable *t);
const char *job_table_history(const JobTable *t);
/* The directory of running-job records. */
const char *job_table_dir(const JobTable *t);
/* A descriptor that becomes readable after a change to any job record on
 * the host (inotify), or -1; job_table_drain() empties it. */
int job_table_fd(JobTable *t);
void job_table_drain(JobTable *t);
/* Jobs running on threads of this process (they end with it). */
size_t job_table_running(JobTable *t);
/* Every job on the host: running ones first (newest first), then finished
 * ones, newest first.  Caller frees *out. */
size_t job_table_snapshot(JobTable *t, JobInfo **out);
/* The snapshot of one job by id or unique id prefix: 0, or -1 with err set
 * (32773 unknown or ambiguous). */
int job_table_get(JobTable *t, const char *id, JobInfo *out);

/* Starts fn(job, arg) on a worker thread; free_arg(arg) runs when it ends. */
Job *job_submit(JobTable *t, int type, const char *host, const char *uri, const char *vm, const char *uuid,
                const char *digest, JobFn fn, void *arg, void (*free_arg)(void *));
/* True if j is a job on the VM uuid of the host at uri (a job without them
 * belongs to no VM: it cannot be told from another fleet's). */
int job_is_for(const JobInfo *j, const char *uri, const char *uuid);
/* Blocks until the job ends; fills out. */
void job_wait(Job *job, JobInfo *out);
const char *job_id(const Job *job);

/* Starts a detached job process: `exe job-run ID SPEC` in its own session,
 * with stdio on /dev/null and the terminal's signals ignored, holding the
 * record's lock on JOB_LOCK_FD.  Writes the record first, so the job is
 * visible at once.  0 with id_out set, or -1 with err set.  With pid
 * non-NULL, *pid is the job process and the caller reaps it (waitpid);
 * without, the table reaps it in job_table_snapshot(). */
int job_spawn(JobTable *t, int type, const char *host, const char *uri, const char *vm,
              const char *uuid, const char *digest, const char *spec, char id_out[37], pid_t *pid);
/* The progress log of job id ("[ 42%] step" lines) for reading from its
 * start: for a job this process started, the descriptor it kept open
 * (every line is there even if the job already ended); else the file, or
 * -1 when the job has none (any more). */
int job_log_open(JobTable *t, const char *id);
/* In the job process: takes over the record id whose lock is on lockfd. */
Job *job_adopt(JobTable *t, const char *id, int lockfd);
/* In the job process: records the end (rc 0 or a result code with err
 * set), appends the history, removes the record and releases the lock. */
void job_finish(Job *job, int rc);

/* What a job that completes (0) still has to say, e.g. the files a repair
 * left in place: its error_description, with error code 0 ("" clears). */
void job_set_warnings(Job *job, const char *text);
/* From the job's own thread. */
void job_progress(Job *job, int percent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void job_set_digest(Job *job, const char *digest);
/* 1 when an operator asked to cancel this job and it still can be. */
int job_cancel_requested(Job *job);
/* The point of no return (just before the switch): 1 if a cancel request
 * arrived (the caller rolls back), else 0 and the job is no longer
 * cancellable. */
int job_pass_switch(Job *job);

/* Asks job id (or unique prefix) to cancel: 0 when the request is placed
 * (the job rolls back at its next step), -1 with err set: 32773 unknown,
 * 32775 finished or past its switch (the message says why). */
int job_cancel(JobTable *t, const char *id, JobInfo *out);

/* An attempt refused before any job ran: recorded as a finished job in
 * the history, 10 Exception with e's code and RESULT_HINT_REFUSED, 0%, no
 * time, so the jobs list shows refusals too (ops_refused() audits it). */
void job_record_refused(JobTable *t, int type, const char *host, const char *uri, const char *vm,
                        const char *uuid, const ErrInfo *e);
/* 1 when ji ended refused before it changed anything (a refusal at plan
 * time or under the lock): it did not run, so it is never a VM's last job. */
int job_refused(const JobInfo *ji);

const char *job_state_name(int state);      /* "Running", "Completed", ... */
const char *job_type_name(int type);        /* "Revert Failover", ... */

/* A random version-4 UUID. */
void job_new_uuid(char out[37]);

#endif
