/* SPDX-License-Identifier: GPL-2.0-or-later */
/* job-priv.h: what the job table (job.c) and the history (job-history.c)
 * share. */
#ifndef DROVER_JOB_PRIV_H
#define DROVER_JOB_PRIV_H

#include <pthread.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "ops/job.h"

#define JOB_HISTORY_KEEP 500
#define JOB_HISTORY_MAX_BYTES (16u * 1024 * 1024)

typedef struct {
    char id[37];
    int fd;
} JobLogFd;

struct Job {
    JobTable *table;
    JobInfo info;               /* guarded by table->mu */
    JobFn fn;
    void *arg;
    void (*free_arg)(void *);
    pthread_t thread;
    int threaded;               /* runs on a thread of this process */
    int joined;
    int lockfd;                 /* holds the record's lock; -1 without a record */
    int logfd;                  /* its progress log (<id>.log), appended to; or -1 */
    char logged[200];           /* the last step written to it */
    int cancelled;              /* it saw a cancel request */
    char warnings[1024];        /* job_set_warnings: kept as the completed job's
                                 * error_description (error code 0) */
    Job *next;
};

struct JobTable {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    char *history;
    char *dir;                  /* running-job records */
    char *alt;                  /* this user's own, when dir is another's; or NULL */
    char *exe;                  /* drover, for detached jobs */
    Job *jobs;                  /* run by this process, newest first */
    pid_t *kids;                /* job processes started here, not yet reaped */
    size_t nkids, kids_cap;
    JobInfo *past;              /* loaded from history, newest first */
    size_t npast;
    struct stat hist_st;        /* the history file as last loaded */
    JobLogFd *logs;             /* progress logs of jobs started here, held open for a follower */
    size_t nlogs, logs_cap;
    int notify;                 /* inotify, or -1 */
    int watch;                  /* its watch on dir, or -1 until dir exists */
};

/* A job as one line of JSON (malloc'd), and back: 0, or -1 when the line
 * is not a job. */
char *job_to_json(const JobInfo *ji);
int job_from_json(const char *line, JobInfo *ji);
/* (Re)reads the history's tail into t->past, newest first, at most
 * JOB_HISTORY_KEEP; t->mu held or t not yet shared. */
void job_history_load(JobTable *t);
/* Appends ji to the history file: 0, or -1 (the history is a convenience;
 * the audit log is the record). */
int job_history_append(JobTable *t, const JobInfo *ji);

#endif
