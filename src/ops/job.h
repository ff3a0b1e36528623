/* job: operations as jobs modelled on CIM_ConcreteJob.
 *
 * A job runs its function on a worker thread and reports progress; finished
 * jobs go to a history file (JSON lines) that outlives the process. */
#ifndef DROVER_JOB_H
#define DROVER_JOB_H

#include <stddef.h>
#include <stdint.h>

/* JobState values of CIM_ConcreteJob. */
enum {
    JOB_NEW = 2,
    JOB_STARTING = 3,
    JOB_RUNNING = 4,
    JOB_COMPLETED = 7,
    JOB_TERMINATED = 8,
    JOB_EXCEPTION = 10,
};

/* A snapshot of one job: plain data, safe to keep. */
typedef struct {
    char id[37];
    int type;                   /* JobType: 97 initiate, 98 revert, ... */
    int state;                  /* JOB_* */
    int percent;                /* PercentComplete */
    char step[200];             /* what it is doing now */
    char host[128];
    char vm[256];
    char owner[128];
    char digest[65];            /* plan digest */
    int64_t start_time;         /* wall clock, seconds */
    int64_t elapsed_ms;
    int error_code;             /* result code; 0 when it completed */
    char error_description[1024];
    int virt_code;              /* for decoding: libvirt error behind it */
    int sys_errno;              /* and errno */
    unsigned hints;             /* and RESULT_HINT_* */
    int from_history;           /* 1 if loaded from an earlier run */
} JobInfo;

typedef struct Job Job;
typedef struct JobTable JobTable;

/* The function a job runs: returns 0 or a result code, with err set. */
typedef int (*JobFn)(Job *job, void *arg);
/* Told about every change, from the thread that made it; must not block. */
typedef void (*JobObserver)(const JobInfo *info, void *opaque);

/* history may be NULL (no history).  Loads up to the last 500 jobs. */
JobTable *job_table_new(const char *history);
/* Waits for running jobs, then frees. */
void job_table_free(JobTable *t);
void job_table_set_observer(JobTable *t, JobObserver fn, void *opaque);
/* A descriptor that becomes readable after any change; job_table_drain()
 * empties it.  For a poll() loop. */
int job_table_fd(JobTable *t);
void job_table_drain(JobTable *t);
size_t job_table_running(JobTable *t);
/* Running jobs first, then finished ones, newest first.  Caller frees *out. */
size_t job_table_snapshot(JobTable *t, JobInfo **out);
/* The snapshot of one job by id: 0, or -1 if unknown. */
int job_table_get(JobTable *t, const char *id, JobInfo *out);

/* Starts fn(job, arg) on a worker thread; free_arg(arg) runs when it ends. */
Job *job_submit(JobTable *t, int type, const char *host, const char *vm, const char *digest,
                JobFn fn, void *arg, void (*free_arg)(void *));
/* Blocks until the job ends; fills out. */
void job_wait(Job *job, JobInfo *out);
const char *job_id(const Job *job);

/* From the job's own thread. */
void job_progress(Job *job, int percent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void job_set_digest(Job *job, const char *digest);

const char *job_state_name(int state);      /* "Running", "Completed", ... */
const char *job_type_name(int type);        /* "Revert Failover", ... */

/* A random version-4 UUID. */
void job_new_uuid(char out[37]);

#endif
