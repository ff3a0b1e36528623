/* SPDX-License-Identifier: GPL-2.0-or-later */
/* job-priv.h: what the job table (job.c), a job's files (job-record.c),
 * running a job (job-run.c) and the history (job-history.c) share. */
#ifndef DROVER_JOB_PRIV_H
#define DROVER_JOB_PRIV_H

#include <pthread.h>
#include <stdint.h>
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
    int64_t last_start_ms;      /* of the newest job started here */
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

/* ---- a job's files (job-record.c), for the table and running a job ---- */

/* The wall clock in ms, as a job's start and elapsed times count it. */
int64_t job_wall_ms(void);
/* The path of job id's file with extension ext: "json" (its record),
 * "lock", "log" (its progress), "cancel" (malloc'd). */
char *job_path(const JobTable *t, const char *id, const char *ext);
/* Replaces the record of ji whole: 0, or -1 with err set. */
int job_record_write(const JobTable *t, const JobInfo *ji);
/* Reads the record at path: 0, or -1 (no error left) when it is gone or
 * is no job's. */
int job_record_read(const char *path, JobInfo *ji);
/* 1 while the job's process holds its lock, 0 when it does not. */
int job_alive(const JobTable *t, const char *id);
/* Takes the lock on a job's lock file fd: 0, or -1 (errno). */
int job_lock_fd(int fd);
/* Removes job id's files. */
void job_record_remove(const JobTable *t, const char *id);
/* The record ji of a running job whose process is gone: ends it as an
 * Exception in ji and, when its lock can be taken, in the history. */
void job_reap_dead(JobTable *t, JobInfo *ji);
/* A new job's record, its lock (held by *lockfd) and its progress log
 * (kept open for this process's follower with keep_log): 0, or -1 with err
 * set. */
int job_record_create(JobTable *t, const JobInfo *ji, int *lockfd, int keep_log);
/* Opens the progress log of job id for appending: -1 without one. */
int job_log_append_fd(const JobTable *t, const char *id);

#endif
