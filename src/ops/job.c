/* SPDX-License-Identifier: GPL-2.0-or-later */
/* job: operations as jobs modelled on CIM_ConcreteJob, run detached, seen
 * through their records by every drover process (the history and the JSON
 * form of a job are in job-history.c). */
#include <config.h>

#include "ops/job.h"
#include "ops/job-priv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/lock.h"
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
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
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

/* --- records ------------------------------------------------------------------ */

static int64_t
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

static char *
job_path(const JobTable *t, const char *id, const char *ext)
{
    return util_xasprintf("%s/%s.%s", job_dir_of(t, id), id, ext);
}

/* Writes the record of ji by atomic rename: readers see the old or the
 * new state, never a torn one.  No fsync: a record only matters while
 * its process lives; the history line at the end is the durable part. */
static int
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

static int
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
static int
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

static int
job_lock_fd(int fd)
{
    struct flock fl;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    return fcntl(fd, F_OFD_SETLK, &fl);
}

static void
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
static void
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

/* --- jobs ------------------------------------------------------------------- */

static void
job_info_init(JobInfo *ji, int type, const char *host, const char *uri, const char *vm,
              const char *uuid, const char *digest)
{
    UTIL_AUTOFREE char *owner = lock_describe_self();

    memset(ji, 0, sizeof(*ji));
    job_new_uuid(ji->id);
    ji->type = type;
    ji->state = JOB_STARTING;
    util_strlcpy(ji->host, host ? host : "", sizeof(ji->host));
    util_strlcpy(ji->vm, vm ? vm : "", sizeof(ji->vm));
    util_strlcpy(ji->uri, uri ? uri : "", sizeof(ji->uri));
    util_strlcpy(ji->uuid, uuid ? uuid : "", sizeof(ji->uuid));
    util_strlcpy(ji->owner, owner, sizeof(ji->owner));
    util_strlcpy(ji->digest, digest ? digest : "", sizeof(ji->digest));
    util_strlcpy(ji->step, "starting", sizeof(ji->step));
    ji->start_ms = job_wall_ms();
    ji->start_time = ji->start_ms / 1000;
    ji->cancellable = 1;
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

static int
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

/* Called with t->mu held after a change to j; writes its record, unlocks. */
static void
job_changed_unlock(JobTable *t, Job *j)
{
    if (j->info.state < JOB_COMPLETED)
        j->info.elapsed_ms = job_wall_ms() - j->info.start_ms;
    if (j->logfd >= 0 && j->info.state == JOB_RUNNING && strcmp(j->logged, j->info.step) != 0 &&
        strcmp(j->info.step, "starting") != 0) {
        char line[256];
        int n = snprintf(line, sizeof(line), "[%3d%%] %s\n", j->info.percent, j->info.step);

        /* The log first: a follower woken by the record finds the line. */
        if (write(j->logfd, line, n > (int)sizeof(line) - 1 ? sizeof(line) - 1 : (size_t)n) < 0) {
            /* The record still says where it is. */
        }
        util_strlcpy(j->logged, j->info.step, sizeof(j->logged));
    }
    if (j->lockfd >= 0 && job_record_write(t, &j->info) < 0)
        err_clear();    /* progress is a convenience; the result goes to the history */
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->mu);
}

/* Opens the progress log of job id for appending: -1 without one. */
static int
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

/* Records the end of j from the calling thread's error (rc != 0). */
static void
job_end(Job *j, int rc)
{
    JobTable *t = j->table;
    ErrInfo saved;
    int kept;

    err_save(&saved);
    pthread_mutex_lock(&t->mu);
    if (rc == 0) {
        j->info.state = JOB_COMPLETED;
        j->info.percent = 100;
        j->info.error_code = 0;
        util_strlcpy(j->info.error_description, j->warnings, sizeof(j->info.error_description));
    } else {
        j->info.state = j->cancelled ? JOB_TERMINATED : JOB_EXCEPTION;
        j->info.error_code = rc;
        util_strlcpy(j->info.error_description, saved.message[0] ? saved.message :
                     result_name(rc) ? result_name(rc) : "failed", sizeof(j->info.error_description));
        j->info.virt_code = saved.virt_code;
        j->info.sys_errno = saved.sys_errno;
        j->info.hints = saved.hints;
    }
    j->info.cancellable = 0;
    j->info.elapsed_ms = job_wall_ms() - j->info.start_ms;
    /* Final record first, then the history, then the record goes: a
     * reader always finds the job in one of them. */
    if (j->lockfd >= 0 && job_record_write(t, &j->info) < 0)
        err_clear();
    kept = job_history_append(t, &j->info) == 0;
    if (j->lockfd >= 0) {
        if (kept) {
            job_record_remove(t, j->info.id);
        } else {
            /* Without a history line the final record is the only trace
             * of the result: it stays. */
            UTIL_AUTOFREE char *c = job_path(t, j->info.id, "cancel");
            UTIL_AUTOFREE char *l = job_path(t, j->info.id, "lock");
            unlink(c);
            unlink(l);
        }
        close(j->lockfd);
        j->lockfd = -1;
    }
    if (j->logfd >= 0) {
        close(j->logfd);
        j->logfd = -1;
    }
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->mu);
    err_restore(&saved);
}

static void *
job_thread(void *arg)
{
    Job *j = arg;
    JobTable *t = j->table;
    int rc;

    util_thread_name("job %.8s", j->info.id);
    pthread_mutex_lock(&t->mu);
    j->info.state = JOB_RUNNING;
    job_changed_unlock(t, j);

    err_clear();
    rc = j->fn(j, j->arg);
    job_end(j, rc);
    if (j->free_arg)
        j->free_arg(j->arg);
    j->arg = NULL;
    return NULL;
}

int
job_is_for(const JobInfo *j, const char *uri, const char *uuid)
{
    return j->uri[0] && j->uuid[0] && uri && uuid && strcmp(j->uri, uri) == 0 && strcmp(j->uuid, uuid) == 0;
}

Job *
job_submit(JobTable *t, int type, const char *host, const char *uri, const char *vm, const char *uuid,
           const char *digest, JobFn fn, void *arg, void (*free_arg)(void *))
{
    Job *j = util_xcalloc(1, sizeof(*j));

    j->table = t;
    j->fn = fn;
    j->arg = arg;
    j->free_arg = free_arg;
    j->threaded = 1;
    j->lockfd = -1;
    j->logfd = -1;
    job_info_init(&j->info, type, host, uri, vm, uuid, digest);
    j->info.pid = (int)getpid();
    /* Without a record the job still runs, visible in this process only. */
    if (job_record_create(t, &j->info, &j->lockfd, 0) < 0)
        err_clear();
    else
        j->logfd = job_log_append_fd(t, j->info.id);

    pthread_mutex_lock(&t->mu);
    j->next = t->jobs;
    t->jobs = j;
    if (pthread_create(&j->thread, NULL, job_thread, j) != 0) {
        /* No thread: run inline so the operation still happens exactly once. */
        pthread_mutex_unlock(&t->mu);
        j->joined = 1;
        job_thread(j);
        return j;
    }
    job_changed_unlock(t, j);
    return j;
}

void
job_wait(Job *job, JobInfo *out)
{
    JobTable *t = job->table;

    if (job->threaded && !job->joined) {
        pthread_join(job->thread, NULL);
        job->joined = 1;
    }
    pthread_mutex_lock(&t->mu);
    if (out)
        *out = job->info;
    pthread_mutex_unlock(&t->mu);
}

const char *
job_id(const Job *job)
{
    return job->info.id;
}

int
job_spawn(JobTable *t, int type, const char *host, const char *uri, const char *vm,
          const char *uuid, const char *digest, const char *spec, char id_out[37], pid_t *pid_out)
{
    JobInfo ji;
    const char *argv[5];
    int lockfd = -1, devnull = -1, execpipe[2] = { -1, -1 };
    int exec_errno = 0, ret = -1;
    pid_t pid;

    if (!t->exe) {
        err_set(RESULT_NOT_SUPPORTED, "no drover executable to run the job in");
        return -1;
    }
    job_info_init(&ji, type, host, uri, vm, uuid, digest);
    if (job_record_create(t, &ji, &lockfd, pid_out != NULL) < 0)
        return -1;
    argv[0] = t->exe;
    argv[1] = "job-run";
    argv[2] = ji.id;
    argv[3] = spec;
    argv[4] = NULL;
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0 || pipe2(execpipe, O_CLOEXEC) < 0) {
        err_set_errno(0, errno, "cannot start the job process");
        goto fail;
    }
    pid = fork();
    if (pid < 0) {
        err_set_errno(0, errno, "cannot start the job process");
        goto fail;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls from here to exec. */
        static const int deaf[] = { SIGINT, SIGHUP, SIGTSTP, SIGTTIN, SIGTTOU, SIGQUIT, SIGPIPE };
        struct sigaction sa;
        sigset_t none;
        int ep, e;
        size_t k;

        setsid();
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_IGN;
        for (k = 0; k < sizeof(deaf) / sizeof(deaf[0]); k++)
            sigaction(deaf[k], &sa, NULL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* The exec-failure pipe moves out of the way of JOB_LOCK_FD. */
        ep = fcntl(execpipe[1], F_DUPFD_CLOEXEC, 10);
        if (ep < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
            goto child_fail;
        if (lockfd == JOB_LOCK_FD) {
            if (fcntl(lockfd, F_SETFD, 0) < 0)
                goto child_fail;
        } else if (dup2(lockfd, JOB_LOCK_FD) < 0) {
            goto child_fail;
        }
        execv(t->exe, (char *const *)argv);
child_fail:
        e = errno;
        if (write(ep >= 0 ? ep : execpipe[1], &e, sizeof(e)) < 0) {
            /* Nothing more a dying child can do. */
        }
        _exit(127);
    }
    close(execpipe[1]);
    execpipe[1] = -1;
    while (read(execpipe[0], &exec_errno, sizeof(exec_errno)) < 0 && errno == EINTR)
        ;
    if (exec_errno) {
        waitpid(pid, NULL, 0);
        err_set_errno(0, exec_errno, "cannot run %s for the job", t->exe);
        goto fail;
    }
    if (pid_out) {
        *pid_out = pid;     /* the caller reaps it, and learns how it ended */
    } else {
        pthread_mutex_lock(&t->mu);
        util_grow(&t->kids, &t->kids_cap, t->nkids + 1, sizeof(*t->kids));
        t->kids[t->nkids++] = pid;
        pthread_mutex_unlock(&t->mu);
    }
    util_strlcpy(id_out, ji.id, 37);
    ret = 0;
    goto out;

fail:
    /* It never ran: no trace but the error. */
    job_record_remove(t, ji.id);
    {
        int gfd = job_log_open(t, ji.id);

        if (gfd >= 0)
            close(gfd);
    }
out:
    if (lockfd >= 0)
        close(lockfd);
    if (devnull >= 0)
        close(devnull);
    if (execpipe[0] >= 0)
        close(execpipe[0]);
    if (execpipe[1] >= 0)
        close(execpipe[1]);
    return ret;
}

Job *
job_adopt(JobTable *t, const char *id, int lockfd)
{
    UTIL_AUTOFREE char *path = NULL;
    Job *j;

    if (strlen(id) != 36 || strchr(id, '/')) {
        err_set(RESULT_INVALID_PARAMETER, "bad job id %s", id);
        return NULL;
    }
    /* The lock must be ours: a record nobody holds belongs to a dead job. */
    if (job_lock_fd(lockfd) < 0) {
        err_set_errno(0, errno, "job %s: its lock is not on descriptor %d", id, lockfd);
        return NULL;
    }
    j = util_xcalloc(1, sizeof(*j));
    j->table = t;
    j->lockfd = lockfd;
    j->logfd = job_log_append_fd(t, id);
    path = job_path(t, id, "json");
    if (job_record_read(path, &j->info) < 0 || strcmp(j->info.id, id) != 0) {
        err_set(RESULT_FILE_NOT_FOUND, "no job record %s", path);
        if (j->logfd >= 0)
            close(j->logfd);
        free(j);
        return NULL;
    }
    j->info.pid = (int)getpid();
    pthread_mutex_lock(&t->mu);
    j->next = t->jobs;
    t->jobs = j;
    j->info.state = JOB_RUNNING;
    job_changed_unlock(t, j);
    return j;
}

void
job_finish(Job *job, int rc)
{
    job_end(job, rc);
}

void
job_progress(Job *job, int percent, const char *fmt, ...)
{
    JobTable *t = job->table;
    va_list ap;

    pthread_mutex_lock(&t->mu);
    /* One percentage that only grows: the bar never goes back. */
    if (percent > job->info.percent)
        job->info.percent = percent > 100 ? 100 : percent;
    va_start(ap, fmt);
    vsnprintf(job->info.step, sizeof(job->info.step), fmt, ap);
    va_end(ap);
    job_changed_unlock(t, job);
}

void
job_set_warnings(Job *job, const char *text)
{
    pthread_mutex_lock(&job->table->mu);
    util_strlcpy(job->warnings, text ? text : "", sizeof(job->warnings));
    pthread_mutex_unlock(&job->table->mu);
}

void
job_set_digest(Job *job, const char *digest)
{
    pthread_mutex_lock(&job->table->mu);
    util_strlcpy(job->info.digest, digest, sizeof(job->info.digest));
    pthread_mutex_unlock(&job->table->mu);
}

int
job_cancel_requested(Job *job)
{
    UTIL_AUTOFREE char *path = NULL;
    int cancellable;

    pthread_mutex_lock(&job->table->mu);
    cancellable = job->info.cancellable;
    pthread_mutex_unlock(&job->table->mu);
    if (!cancellable)
        return 0;
    path = job_path(job->table, job->info.id, "cancel");
    if (access(path, F_OK) < 0)
        return 0;
    job->cancelled = 1;
    return 1;
}

int
job_pass_switch(Job *job)
{
    JobTable *t = job->table;

    if (job_cancel_requested(job))
        return 1;
    pthread_mutex_lock(&t->mu);
    job->info.cancellable = 0;
    job_changed_unlock(t, job);
    /* A request placed between the check and the record is too late: the
     * canceller re-reads the record and says so. */
    return 0;
}

void
job_record_refused(JobTable *t, int type, const char *host, const char *uri, const char *vm,
                   const char *uuid, const ErrInfo *e)
{
    JobInfo ji;

    job_info_init(&ji, type, host, uri, vm, uuid, NULL);
    ji.state = JOB_EXCEPTION;
    ji.cancellable = 0;
    ji.pid = (int)getpid();
    ji.error_code = e->code ? e->code : RESULT_FAILED;
    util_strlcpy(ji.error_description, e->message[0] ? e->message : "refused", sizeof(ji.error_description));
    ji.virt_code = e->virt_code;
    ji.sys_errno = e->sys_errno;
    ji.hints = e->hints | RESULT_HINT_REFUSED;
    util_strlcpy(ji.step, "refused before it started: nothing was changed", sizeof(ji.step));
    pthread_mutex_lock(&t->mu);
    if (job_history_append(t, &ji) < 0) {
        /* No history: this process at least shows it. */
        Job *j = util_xcalloc(1, sizeof(*j));

        j->table = t;
        j->info = ji;
        j->lockfd = j->logfd = -1;
        j->joined = 1;
        j->next = t->jobs;
        t->jobs = j;
    }
    pthread_mutex_unlock(&t->mu);
}

int
job_refused(const JobInfo *ji)
{
    return ji->state == JOB_EXCEPTION && (ji->hints & RESULT_HINT_REFUSED);
}

int
job_cancel(JobTable *t, const char *id, JobInfo *out)
{
    UTIL_AUTOFREE char *path = NULL;
    UTIL_AUTOFREE char *who = NULL;
    JobInfo ji;
    int fd;

    if (job_table_get(t, id, &ji) < 0)
        return -1;
    if (out)
        *out = ji;
    if (ji.state >= JOB_COMPLETED) {
        err_set(RESULT_INVALID_STATE, "job %s (%s of %s) already ended: %s", ji.id,
                job_type_name(ji.type), ji.vm, job_state_name(ji.state));
        return -1;
    }
    if (!ji.cancellable) {
        err_set(RESULT_INVALID_STATE,
                "job %s (%s of %s) cannot be cancelled: it has passed its switch (now: %s), so %s "
                "already uses the new disks and record; stopping now would leave it half done. "
                "It finishes by itself", ji.id, job_type_name(ji.type), ji.vm, ji.step, ji.vm);
        return -1;
    }
    path = job_path(t, ji.id, "cancel");
    who = lock_describe_self();
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0) {
        err_set_errno(0, errno, "cannot ask job %s to cancel (%s)", ji.id, path);
        return -1;
    }
    if (write(fd, who, strlen(who)) < 0) {
        /* The file's existence is the request; its text only says who. */
    }
    close(fd);
    return 0;
}
