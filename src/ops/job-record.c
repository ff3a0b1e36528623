/* SPDX-License-Identifier: GPL-2.0-or-later */
/* job-record: a job's files in the jobs directory, which every drover
 * process reads: its record (<id>.json, replaced whole), its lock (held by
 * the job's process while it runs), its progress log and a cancel request;
 * and the record of a job whose process died, reaped. */
#include <config.h>

#include "ops/job.h"
#include "ops/job-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/result.h"
#include "base/util.h"

/* --- records ------------------------------------------------------------------ */

int64_t
job_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The directory of job id's files: the jobs directory, or the per-user
 * one when the job had to go there. */
static const char *
job_dir_of(const JobTable *t, const char *id)
{
    if (t->alt) {
        UTIL_AUTOFREE char *p = util_xasprintf("%s/%s.lock", t->alt, id);
        UTIL_AUTOFREE char *q = util_xasprintf("%s/%s.json", t->alt, id);

        if (access(p, F_OK) == 0 || access(q, F_OK) == 0)
            return t->alt;
    }
    return t->dir;
}

char *
job_path(const JobTable *t, const char *id, const char *ext)
{
    return util_xasprintf("%s/%s.%s", job_dir_of(t, id), id, ext);
}

/* Writes the record of ji by atomic rename: readers see the old or the
 * new state, never a torn one.  No fsync: a record only matters while
 * its process lives; the history line at the end is the durable part. */
int
job_record_write(const JobTable *t, const JobInfo *ji)
{
    UTIL_AUTOFREE char *json = job_to_json(ji);
    UTIL_AUTOFREE char *path = job_path(t, ji->id, "json");
    UTIL_AUTOFREE char *tmp = util_xasprintf("%s/.%s.tmp", job_dir_of(t, ji->id), ji->id);
    size_t len = strlen(json);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);

    if (fd < 0) {
        err_set_errno(0, errno, "cannot write the job record %s", tmp);
        return -1;
    }
    if (write(fd, json, len) != (ssize_t)len || close(fd) < 0) {
        err_set_errno(0, errno ? errno : EIO, "cannot write the job record %s", tmp);
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) < 0) {
        err_set_errno(0, errno, "cannot write the job record %s", path);
        unlink(tmp);
        return -1;
    }
    return 0;
}

int
job_record_read(const char *path, JobInfo *ji)
{
    UTIL_AUTOFREE char *text = fsutil_read_file(path, 64 * 1024, NULL);

    if (!text) {
        err_clear();
        return -1;
    }
    if (job_from_json(text, ji) < 0)
        return -1;
    ji->from_history = 0;
    return 0;
}

/* 1 while the job's process holds its lock, 0 when it does not. */
int
job_alive(const JobTable *t, const char *id)
{
    UTIL_AUTOFREE char *path = job_path(t, id, "lock");
    struct flock fl;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    int alive;

    if (fd < 0)
        return 0;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    alive = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    close(fd);
    return alive;
}

int
job_lock_fd(int fd)
{
    struct flock fl;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    return fcntl(fd, F_OFD_SETLK, &fl);
}

void
job_record_remove(const JobTable *t, const char *id)
{
    static const char *const exts[] = { "json", "log", "cancel", "lock" };
    size_t i;

    for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        UTIL_AUTOFREE char *p = job_path(t, id, exts[i]);
        unlink(p);
    }
}

/* The record of a running job whose process is gone: it ended without a
 * result.  The reader that can take its lock writes that into the history
 * and removes the record; one that cannot (no rights) only shows it. */
void
job_reap_dead(JobTable *t, JobInfo *ji)
{
    UTIL_AUTOFREE char *lpath = job_path(t, ji->id, "lock");
    UTIL_AUTOFREE char *rpath = job_path(t, ji->id, "json");
    char step[sizeof(ji->step)];
    struct stat st;
    int fd;

    util_strlcpy(step, ji->step, sizeof(step));
    ji->state = JOB_EXCEPTION;
    ji->error_code = RESULT_FAILED;
    ji->hints |= RESULT_HINT_REPAIR;
    ji->cancellable = 0;
    snprintf(ji->error_description, sizeof(ji->error_description),
             "the job process (pid %d) ended without a result while %s (it was killed or "
             "crashed); if it left an interrupted operation, drover repair %s finishes or undoes it",
             ji->pid, step[0] ? step : "starting", ji->vm);
    ji->elapsed_ms = job_wall_ms() - ji->start_ms;
    fd = open(lpath, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return;
    /* Under the lock, and only if nobody reaped it meanwhile. */
    if (job_lock_fd(fd) == 0 && stat(rpath, &st) == 0 && job_history_append(t, ji) == 0)
        job_record_remove(t, ji->id);
    close(fd);
}

/* A new job's record and its lock, held by lockfd: 0, or -1 with err set. */
/* Creates and locks <dir>/<id>.lock: the descriptor, or -1 with err set. */
static int
job_lock_create(const char *dir, const char *id)
{
    UTIL_AUTOFREE char *lpath = util_xasprintf("%s/%s.lock", dir, id);
    int fd;

    if (fsutil_mkdirs(dir, 0750) < 0) {
        err_prefix("cannot create the jobs directory");
        return -1;
    }
    fd = open(lpath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0)
        err_set_errno(0, errno, "cannot create the job lock %s", lpath);
    return fd;
}

int
job_record_create(JobTable *t, const JobInfo *ji, int *lockfd, int keep_log)
{
    UTIL_AUTOFREE char *lpath = NULL;
    int fd = job_lock_create(t->dir, ji->id);

    /* An operator who may not write the shared jobs directory (another
     * user's history) still gets a detached job: in their own directory,
     * seen by their own drover processes. */
    if (fd < 0 && t->alt && err_code() == RESULT_ACCESS_DENIED)
        fd = job_lock_create(t->alt, ji->id);
    if (fd < 0)
        return -1;
    lpath = job_path(t, ji->id, "lock");
    if (job_lock_fd(fd) < 0) {
        err_set_errno(0, errno, "cannot lock %s", lpath);
        close(fd);
        unlink(lpath);
        return -1;
    }
    if (job_record_write(t, ji) < 0) {
        close(fd);
        unlink(lpath);
        return -1;
    }
    {
        /* The progress log exists before the job runs. */
        UTIL_AUTOFREE char *gpath = job_path(t, ji->id, "log");
        int gfd = open(gpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);

        if (keep_log && gfd >= 0) {
            /* Kept open for this process's follower: it reads every line,
             * even those of a job that ends (and removes it) first. */
            pthread_mutex_lock(&t->mu);
            util_grow(&t->logs, &t->logs_cap, t->nlogs + 1, sizeof(*t->logs));
            util_strlcpy(t->logs[t->nlogs].id, ji->id, sizeof(t->logs[0].id));
            t->logs[t->nlogs++].fd = gfd;
            pthread_mutex_unlock(&t->mu);
        } else if (gfd >= 0) {
            close(gfd);
        }
    }
    *lockfd = fd;
    return 0;
}

/* Opens the progress log of job id for appending: -1 without one. */
int
job_log_append_fd(const JobTable *t, const char *id)
{
    UTIL_AUTOFREE char *path = job_path(t, id, "log");

    return open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
}

int
job_log_open(JobTable *t, const char *id)
{
    UTIL_AUTOFREE char *path = NULL;
    size_t i;
    int fd = -1;

    pthread_mutex_lock(&t->mu);
    for (i = 0; i < t->nlogs; i++) {
        if (strcmp(t->logs[i].id, id) == 0) {
            fd = t->logs[i].fd;
            t->logs[i] = t->logs[--t->nlogs];
            break;
        }
    }
    pthread_mutex_unlock(&t->mu);
    if (fd >= 0)
        return fd;
    path = job_path(t, id, "log");
    return open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}
