/* SPDX-License-Identifier: GPL-2.0-or-later */
/* job-run: running a job, on a thread of this process (job_submit) or as a
 * detached process (job_spawn, job_adopt): its start, its progress, a
 * cancel before its switch, its end; and a job refused before it started. */
#include <config.h>

#include "ops/job.h"
#include "ops/job-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/err.h"
#include "base/lock.h"
#include "base/result.h"
#include "base/util.h"

/* --- jobs ------------------------------------------------------------------- */

static void
job_info_init(JobTable *t, JobInfo *ji, int type, const char *host, const char *uri, const char *vm,
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
    /* Later than the job started here before, even within a millisecond
     * (keys refused one after another): lists order by start, newest
     * first, and an equal start left the order to the random ids. */
    ji->start_ms = job_wall_ms();
    pthread_mutex_lock(&t->mu);
    if (ji->start_ms <= t->last_start_ms)
        ji->start_ms = t->last_start_ms + 1;
    t->last_start_ms = ji->start_ms;
    pthread_mutex_unlock(&t->mu);
    ji->start_time = ji->start_ms / 1000;
    ji->cancellable = 1;
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
    job_info_init(t, &j->info, type, host, uri, vm, uuid, digest);
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
    job_info_init(t, &ji, type, host, uri, vm, uuid, digest);
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

    job_info_init(t, &ji, type, host, uri, vm, uuid, NULL);
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
