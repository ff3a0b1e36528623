/* SPDX-License-Identifier: GPL-2.0-or-later */
/* job: operations as jobs modelled on CIM_ConcreteJob, run detached, seen
 * through their records by every drover process: the names, and the table
 * that lists the jobs (a job's files are in job-record.c, running a job in
 * job-run.c, the history and the JSON form of a job in job-history.c). */
#include <config.h>

#include "ops/job.h"
#include "ops/job-priv.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/result.h"
#include "base/util.h"

void
job_new_uuid(char out[37])
{
    unsigned char b[16];
    size_t got = 0;

    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            /* Extremely unlikely; mix time and pid rather than fail. */
            int64_t t = util_mono_ms() ^ ((int64_t)getpid() << 20);
            memcpy(b, &t, sizeof(t));
            break;
        }
        got += (size_t)n;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    util_uuid_format(b, out);
}

const char *
job_state_name(int state)
{
    switch (state) {
    case JOB_NEW: return "New";
    case JOB_STARTING: return "Starting";
    case JOB_RUNNING: return "Running";
    case 5: return "Suspended";
    case 6: return "Shutting Down";
    case JOB_COMPLETED: return "Completed";
    case JOB_TERMINATED: return "Terminated";
    case 9: return "Killed";
    case JOB_EXCEPTION: return "Exception";
    default: return "Unknown";
    }
}

const char *
job_type_name(int type)
{
    switch (type) {
    case 96: return "Replicate State Change";  /* suspend, resume (the console's jobs) */
    case 97: return "Initiate Failover";
    case 98: return "Revert Failover";
    case 99: return "Commit Failover";
    case 102: return "Initiate Test Replica";
    case 103: return "Remove Test Replica";
    case 104: return "Reverse Replication";
    case 107: return "Resynchronization";
    case 110: return "Replication Cycle";
    case 111: return "Enable Replication";
    case 112: return "Planned Failover";
    case 0: return "Repair";     /* the console's repair jobs */
    default: return "Other";
    }
}

/* --- table ---------------------------------------------------------------- */

static char *
job_dir_for(const char *history)
{
    const char *rt = getenv("XDG_RUNTIME_DIR");
    size_t n;

    if (!history) {
        if (rt && *rt)
            return util_xasprintf("%s/drover/jobs.d", rt);
        return util_xasprintf("/tmp/drover-%u/jobs.d", (unsigned)getuid());
    }
    n = strlen(history);
    if (n > 6 && strcmp(history + n - 6, ".jsonl") == 0)
        return util_xasprintf("%.*s.d", (int)(n - 6), history);
    return util_xasprintf("%s.d", history);
}

/* Watches the jobs directory once it exists (the first job makes it;
 * merely looking never creates it). */
static void
job_watch(JobTable *t)
{
    if (t->notify >= 0 && t->watch < 0)
        t->watch = inotify_add_watch(t->notify, t->dir, IN_CREATE | IN_MOVED_TO | IN_DELETE |
                                     IN_CLOSE_WRITE);
}

JobTable *
job_table_new(const char *history)
{
    JobTable *t = util_xcalloc(1, sizeof(*t));

    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cond, NULL);
    t->history = util_xstrdup(history);
    t->dir = job_dir_for(history);
    t->alt = job_dir_for(NULL);
    if (strcmp(t->alt, t->dir) == 0) {
        free(t->alt);
        t->alt = NULL;
    }
    t->notify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    t->watch = -1;
    job_watch(t);
    if (t->history)
        job_history_load(t);
    return t;
}

void
job_table_free(JobTable *t)
{
    Job *j, *next;

    if (!t)
        return;
    for (j = t->jobs; j; j = next) {
        next = j->next;
        if (j->threaded && !j->joined)
            pthread_join(j->thread, NULL);
        if (j->lockfd >= 0)
            close(j->lockfd);
        if (j->logfd >= 0)
            close(j->logfd);
        free(j);
    }
    if (t->notify >= 0)
        close(t->notify);
    for (size_t i = 0; i < t->nlogs; i++)
        close(t->logs[i].fd);
    free(t->logs);
    free(t->kids);
    free(t->past);
    free(t->history);
    free(t->dir);
    free(t->alt);
    free(t->exe);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

void
job_table_set_exe(JobTable *t, const char *exe)
{
    free(t->exe);
    t->exe = util_xstrdup(exe);
}

const char *
job_table_exe(const JobTable *t)
{
    return t->exe;
}

const char *
job_table_history(const JobTable *t)
{
    return t->history;
}

const char *
job_table_dir(const JobTable *t)
{
    return t->dir;
}

int
job_table_fd(JobTable *t)
{
    return t->notify;
}

void
job_table_drain(JobTable *t)
{
    char buf[4096];

    while (t->notify >= 0 && read(t->notify, buf, sizeof(buf)) > 0)
        ;
}

size_t
job_table_running(JobTable *t)
{
    Job *j;
    size_t n = 0;

    pthread_mutex_lock(&t->mu);
    for (j = t->jobs; j; j = j->next)
        if (j->threaded && j->info.state < JOB_COMPLETED)
            n++;
    pthread_mutex_unlock(&t->mu);
    return n;
}

/* Another drover process may have finished jobs since: read them. */
static void
job_history_refresh(JobTable *t)
{
    struct stat st;

    if (!t->history)
        return;
    if (stat(t->history, &st) < 0)
        memset(&st, 0, sizeof(st));
    if (!fsutil_same_version(&st, &t->hist_st))
        job_history_load(t);
}

/* Job processes this process started and that ended: collect them, so a
 * console that runs for days leaves no zombies. */
static void
job_reap_kids(JobTable *t)
{
    size_t i = 0;

    while (i < t->nkids) {
        if (waitpid(t->kids[i], NULL, WNOHANG) != 0) {
            t->kids[i] = t->kids[--t->nkids];
            continue;
        }
        i++;
    }
}

static int
job_cmp_start(const void *a, const void *b)
{
    const JobInfo *x = a, *y = b;
    int rx = x->state < JOB_COMPLETED, ry = y->state < JOB_COMPLETED;

    if (rx != ry)
        return ry - rx;
    if (x->start_ms != y->start_ms)
        return x->start_ms < y->start_ms ? 1 : -1;
    return strcmp(x->id, y->id);
}

static int
job_listed(const JobInfo *v, size_t n, const char *id)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(v[i].id, id) == 0)
            return 1;
    return 0;
}

size_t
job_table_snapshot(JobTable *t, JobInfo **out)
{
    JobInfo *v = NULL;
    size_t n = 0, cap = 0, i, nrec;
    DIR *d;
    struct dirent *e;
    Job *j;
    int64_t now = job_wall_ms();

    pthread_mutex_lock(&t->mu);
    job_reap_kids(t);
    job_watch(t);
    for (int pass = 0; pass < 2; pass++) {
    const char *dirpath = pass ? t->alt : t->dir;

    if (dirpath && (d = opendir(dirpath))) {
        while ((e = readdir(d))) {
            size_t len = strlen(e->d_name);
            UTIL_AUTOFREE char *path = NULL;
            JobInfo ji;

            if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
                continue;
            path = util_xasprintf("%s/%s", dirpath, e->d_name);
            if (job_record_read(path, &ji) < 0)
                continue;   /* removed meanwhile, or not ours */
            if (ji.state < JOB_COMPLETED && !job_alive(t, ji.id)) {
                /* A job that ends removes its record before it lets go of
                 * its lock: read again, after the lock was seen free. */
                if (job_record_read(path, &ji) < 0)
                    continue;   /* it ended: the history has it */
                if (ji.state < JOB_COMPLETED)
                    job_reap_dead(t, &ji);
            } else if (ji.state < JOB_COMPLETED) {
                ji.elapsed_ms = now - ji.start_ms;
            }
            util_grow(&v, &cap, n + 1, sizeof(*v));
            v[n++] = ji;
        }
        closedir(d);
    }
    }
    /* This process's own thread jobs, if their records could not be written. */
    for (j = t->jobs; j; j = j->next) {
        if (job_listed(v, n, j->info.id))
            continue;
        util_grow(&v, &cap, n + 1, sizeof(*v));
        v[n] = j->info;
        if (v[n].state < JOB_COMPLETED)
            v[n].elapsed_ms = now - v[n].start_ms;
        n++;
    }
    nrec = n;
    job_history_refresh(t);
    for (i = 0; i < t->npast; i++) {
        if (job_listed(v, nrec, t->past[i].id))
            continue;   /* its record is newer than or as new as the history */
        util_grow(&v, &cap, n + 1, sizeof(*v));
        v[n++] = t->past[i];
    }
    pthread_mutex_unlock(&t->mu);
    /* Running first, newest first; then the finished ones, newest first. */
    if (n)
        qsort(v, n, sizeof(*v), job_cmp_start);
    *out = v;
    return n;
}

int
job_table_get(JobTable *t, const char *id, JobInfo *out)
{
    JobInfo *v = NULL;
    size_t n = job_table_snapshot(t, &v), i, len = strlen(id), hits = 0;
    int exact = -1, first = -1;

    for (i = 0; i < n; i++) {
        if (strcmp(v[i].id, id) == 0)
            exact = (int)i;
        else if (len >= 4 && strncasecmp(v[i].id, id, len) == 0 && hits++ == 0)
            first = (int)i;
    }
    if (exact < 0 && hits == 1)
        exact = first;
    if (exact >= 0)
        *out = v[exact];
    free(v);
    if (exact >= 0)
        return 0;
    if (hits > 1)
        err_set(RESULT_INVALID_PARAMETER, "job id %s is ambiguous: %zu jobs start with it", id, hits);
    else
        err_set(RESULT_INVALID_PARAMETER, "no job %s (drover jobs lists them)", id);
    return -1;
}
