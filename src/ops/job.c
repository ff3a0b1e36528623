/* job: operations as jobs modelled on CIM_ConcreteJob. */
#include <config.h>

#include "ops/job.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/lock.h"
#include "base/result.h"
#include "base/util.h"

#define JOB_HISTORY_KEEP 500
#define JOB_HISTORY_MAX_BYTES (16u * 1024 * 1024)

struct Job {
    JobTable *table;
    JobInfo info;               /* guarded by table->mu */
    int64_t start_mono;
    JobFn fn;
    void *arg;
    void (*free_arg)(void *);
    pthread_t thread;
    int joined;
    Job *next;
};

struct JobTable {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    char *history;
    Job *jobs;                  /* submitted by this process, newest first */
    JobInfo *past;              /* loaded from history, newest first */
    size_t npast;
    struct stat hist_st;        /* the history file as last loaded */
    int pipe[2];
    JobObserver observer;
    void *observer_opaque;
};

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
    case 97: return "Initiate Failover";
    case 98: return "Revert Failover";
    case 99: return "Commit Failover";
    case 102: return "Initiate Test Replica";
    case 103: return "Remove Test Replica";
    case 107: return "Resynchronization";
    case 110: return "Replication Cycle";
    case 111: return "Enable Replication";
    default: return "Other";
    }
}

/* --- history ------------------------------------------------------------ */

static void
job_json_str(json_object *o, const char *key, char *dst, size_t size)
{
    json_object *v;

    if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
        util_strlcpy(dst, json_object_get_string(v), size);
}

static int64_t
job_json_int(json_object *o, const char *key)
{
    json_object *v;

    if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int))
        return json_object_get_int64(v);
    return 0;
}

static int
job_from_json(const char *line, JobInfo *ji)
{
    json_object *o = json_tokener_parse(line);
    char when[32] = "";

    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return -1;
    }
    memset(ji, 0, sizeof(*ji));
    job_json_str(o, "id", ji->id, sizeof(ji->id));
    ji->type = (int)job_json_int(o, "type");
    ji->state = (int)job_json_int(o, "state");
    ji->percent = (int)job_json_int(o, "percent");
    job_json_str(o, "step", ji->step, sizeof(ji->step));
    job_json_str(o, "host", ji->host, sizeof(ji->host));
    job_json_str(o, "vm", ji->vm, sizeof(ji->vm));
    job_json_str(o, "uri", ji->uri, sizeof(ji->uri));
    job_json_str(o, "uuid", ji->uuid, sizeof(ji->uuid));
    job_json_str(o, "owner", ji->owner, sizeof(ji->owner));
    job_json_str(o, "digest", ji->digest, sizeof(ji->digest));
    job_json_str(o, "start_time", when, sizeof(when));
    if (util_parse_time(when, &ji->start_time) < 0)
        ji->start_time = 0;
    ji->elapsed_ms = job_json_int(o, "elapsed_ms");
    ji->error_code = (int)job_json_int(o, "error_code");
    job_json_str(o, "error_description", ji->error_description, sizeof(ji->error_description));
    ji->virt_code = (int)job_json_int(o, "virt_code");
    ji->sys_errno = (int)job_json_int(o, "errno");
    ji->hints = (unsigned)job_json_int(o, "hints");
    ji->from_history = 1;
    json_object_put(o);
    return ji->id[0] ? 0 : -1;
}

static char *
job_to_json(const JobInfo *ji)
{
    json_object *o = json_object_new_object();
    char when[32];
    char *s;

    util_format_time(ji->start_time, when, sizeof(when));
    json_object_object_add(o, "id", json_object_new_string(ji->id));
    json_object_object_add(o, "type", json_object_new_int(ji->type));
    json_object_object_add(o, "type_name", json_object_new_string(job_type_name(ji->type)));
    json_object_object_add(o, "state", json_object_new_int(ji->state));
    json_object_object_add(o, "state_name", json_object_new_string(job_state_name(ji->state)));
    json_object_object_add(o, "percent", json_object_new_int(ji->percent));
    json_object_object_add(o, "step", json_object_new_string(ji->step));
    json_object_object_add(o, "host", json_object_new_string(ji->host));
    json_object_object_add(o, "vm", json_object_new_string(ji->vm));
    json_object_object_add(o, "uri", json_object_new_string(ji->uri));
    json_object_object_add(o, "uuid", json_object_new_string(ji->uuid));
    json_object_object_add(o, "owner", json_object_new_string(ji->owner));
    json_object_object_add(o, "digest", json_object_new_string(ji->digest));
    json_object_object_add(o, "start_time", json_object_new_string(when));
    json_object_object_add(o, "elapsed_ms", json_object_new_int64(ji->elapsed_ms));
    json_object_object_add(o, "error_code", json_object_new_int(ji->error_code));
    json_object_object_add(o, "error_description", json_object_new_string(ji->error_description));
    json_object_object_add(o, "virt_code", json_object_new_int(ji->virt_code));
    json_object_object_add(o, "errno", json_object_new_int(ji->sys_errno));
    json_object_object_add(o, "hints", json_object_new_int((int)ji->hints));
    s = util_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

/* The last JOB_HISTORY_MAX_BYTES of the history, from a line start: the
 * file only grows, and the newest jobs are the ones worth showing. */
static char *
job_history_tail(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    off_t from = 0;
    char *buf, *start;
    ssize_t n;
    size_t got = 0, want;

    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (st.st_size > (off_t)JOB_HISTORY_MAX_BYTES)
        from = st.st_size - (off_t)JOB_HISTORY_MAX_BYTES;
    want = (size_t)(st.st_size - from);
    buf = util_xmalloc(want + 1);
    while (got < want && (n = pread(fd, buf + got, want - got, from + (off_t)got)) > 0)
        got += (size_t)n;
    close(fd);
    buf[got] = '\0';
    start = buf;
    if (from > 0 && (start = strchr(buf, '\n')))
        memmove(buf, start + 1, strlen(start + 1) + 1);
    else if (from > 0)
        buf[0] = '\0';
    return buf;
}

/* (Re)reads the history; t->mu held or not yet shared. */
static void
job_history_load(JobTable *t)
{
    char *text, *line, *save = NULL;
    JobInfo *all = NULL;
    size_t n = 0, cap = 0, i;

    free(t->past);
    t->past = NULL;
    t->npast = 0;
    if (stat(t->history, &t->hist_st) < 0)
        memset(&t->hist_st, 0, sizeof(t->hist_st));
    text = job_history_tail(t->history);
    if (!text) {
        err_clear();    /* no history yet, or unreadable: start empty */
        return;
    }
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        JobInfo ji;
        if (job_from_json(line, &ji) < 0)
            continue;   /* a torn or foreign line: skip it, keep the rest */
        util_grow(&all, &cap, n + 1, sizeof(*all));
        all[n++] = ji;
    }
    free(text);
    /* Newest first, at most JOB_HISTORY_KEEP. */
    t->npast = n < JOB_HISTORY_KEEP ? n : JOB_HISTORY_KEEP;
    t->past = util_xcalloc(t->npast ? t->npast : 1, sizeof(*t->past));
    for (i = 0; i < t->npast; i++)
        t->past[i] = all[n - 1 - i];
    free(all);
}

static void
job_history_append(JobTable *t, const JobInfo *ji)
{
    UTIL_AUTOFREE char *json = NULL;
    UTIL_AUTOFREE char *line = NULL;
    int fd;

    if (!t->history)
        return;
    if (fsutil_mkdir_parents(t->history, 0750) < 0) {
        err_clear();
        return;
    }
    json = job_to_json(ji);
    line = util_xasprintf("%s\n", json);
    fd = open(t->history, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0)
        return;     /* history is a convenience; the audit log is the record */
    if (write(fd, line, strlen(line)) < 0) {
        /* same */
    }
    close(fd);
}

/* --- table ---------------------------------------------------------------- */

JobTable *
job_table_new(const char *history)
{
    JobTable *t = util_xcalloc(1, sizeof(*t));

    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cond, NULL);
    t->history = util_xstrdup(history);
    if (pipe2(t->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        t->pipe[0] = t->pipe[1] = -1;
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
        if (!j->joined)
            pthread_join(j->thread, NULL);
        free(j);
    }
    if (t->pipe[0] >= 0) {
        close(t->pipe[0]);
        close(t->pipe[1]);
    }
    free(t->past);
    free(t->history);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

void
job_table_set_observer(JobTable *t, JobObserver fn, void *opaque)
{
    pthread_mutex_lock(&t->mu);
    t->observer = fn;
    t->observer_opaque = opaque;
    pthread_mutex_unlock(&t->mu);
}

int
job_table_fd(JobTable *t)
{
    return t->pipe[0];
}

void
job_table_drain(JobTable *t)
{
    char buf[256];

    while (t->pipe[0] >= 0 && read(t->pipe[0], buf, sizeof(buf)) > 0)
        ;
}

/* Called with t->mu held after a change to j; unlocks it. */
static void
job_changed_unlock(JobTable *t, Job *j)
{
    JobInfo copy;
    JobObserver fn = t->observer;
    void *op = t->observer_opaque;
    char c = 'j';

    /* A finished job keeps the elapsed time its history line recorded. */
    if (j->info.state < JOB_COMPLETED)
        j->info.elapsed_ms = util_mono_ms() - j->start_mono;
    copy = j->info;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->mu);
    if (t->pipe[1] >= 0 && write(t->pipe[1], &c, 1) < 0) {
        /* A full pipe already means "changed". */
    }
    if (fn)
        fn(&copy, op);
}

size_t
job_table_running(JobTable *t)
{
    Job *j;
    size_t n = 0;

    pthread_mutex_lock(&t->mu);
    for (j = t->jobs; j; j = j->next)
        if (j->info.state < JOB_COMPLETED)
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

static int
job_is_ours(const JobTable *t, const char *id)
{
    const Job *j;

    for (j = t->jobs; j; j = j->next)
        if (strcmp(j->info.id, id) == 0)
            return 1;
    return 0;
}

size_t
job_table_snapshot(JobTable *t, JobInfo **out)
{
    Job *j;
    size_t n = 0, cap = 0, i;
    JobInfo *v = NULL;
    int pass;

    pthread_mutex_lock(&t->mu);
    job_history_refresh(t);
    for (pass = 0; pass < 2; pass++) {
        for (j = t->jobs; j; j = j->next) {
            int running = j->info.state < JOB_COMPLETED;
            if (running != (pass == 0))
                continue;
            util_grow(&v, &cap, n + 1, sizeof(*v));
            v[n] = j->info;
            if (running)
                v[n].elapsed_ms = util_mono_ms() - j->start_mono;
            n++;
        }
    }
    for (i = 0; i < t->npast; i++) {
        if (job_is_ours(t, t->past[i].id))
            continue;   /* this process's own jobs, already listed above */
        util_grow(&v, &cap, n + 1, sizeof(*v));
        v[n++] = t->past[i];
    }
    pthread_mutex_unlock(&t->mu);
    *out = v;
    return n;
}

int
job_table_get(JobTable *t, const char *id, JobInfo *out)
{
    Job *j;
    size_t i;
    int ret = -1;

    pthread_mutex_lock(&t->mu);
    for (j = t->jobs; j && ret < 0; j = j->next) {
        if (strcmp(j->info.id, id) == 0) {
            *out = j->info;
            ret = 0;
        }
    }
    for (i = 0; i < t->npast && ret < 0; i++) {
        if (strcmp(t->past[i].id, id) == 0) {
            *out = t->past[i];
            ret = 0;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return ret;
}

/* --- jobs ------------------------------------------------------------------- */

static void *
job_thread(void *arg)
{
    Job *j = arg;
    JobTable *t = j->table;
    int rc;
    const ErrInfo *e;

    pthread_mutex_lock(&t->mu);
    j->info.state = JOB_RUNNING;
    job_changed_unlock(t, j);

    err_clear();
    rc = j->fn(j, j->arg);
    e = err_get();

    pthread_mutex_lock(&t->mu);
    if (rc == 0) {
        j->info.state = JOB_COMPLETED;
        j->info.percent = 100;
        j->info.error_code = 0;
        j->info.error_description[0] = '\0';
    } else {
        j->info.state = JOB_EXCEPTION;
        j->info.error_code = rc;
        util_strlcpy(j->info.error_description, e->message[0] ? e->message : result_name(rc) ? result_name(rc) : "failed",
                     sizeof(j->info.error_description));
        j->info.virt_code = e->virt_code;
        j->info.sys_errno = e->sys_errno;
        j->info.hints = e->hints;
    }
    j->info.elapsed_ms = util_mono_ms() - j->start_mono;
    job_history_append(t, &j->info);
    job_changed_unlock(t, j);
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
    UTIL_AUTOFREE char *owner = lock_describe_self();

    j->table = t;
    j->fn = fn;
    j->arg = arg;
    j->free_arg = free_arg;
    job_new_uuid(j->info.id);
    j->info.type = type;
    j->info.state = JOB_STARTING;
    util_strlcpy(j->info.host, host ? host : "", sizeof(j->info.host));
    util_strlcpy(j->info.vm, vm ? vm : "", sizeof(j->info.vm));
    util_strlcpy(j->info.uri, uri ? uri : "", sizeof(j->info.uri));
    util_strlcpy(j->info.uuid, uuid ? uuid : "", sizeof(j->info.uuid));
    util_strlcpy(j->info.owner, owner, sizeof(j->info.owner));
    util_strlcpy(j->info.digest, digest ? digest : "", sizeof(j->info.digest));
    util_strlcpy(j->info.step, "starting", sizeof(j->info.step));
    j->info.start_time = util_now();
    j->start_mono = util_mono_ms();

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

    if (!job->joined) {
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

void
job_progress(Job *job, int percent, const char *fmt, ...)
{
    JobTable *t = job->table;
    va_list ap;

    pthread_mutex_lock(&t->mu);
    if (percent >= 0)
        job->info.percent = percent > 100 ? 100 : percent;
    va_start(ap, fmt);
    vsnprintf(job->info.step, sizeof(job->info.step), fmt, ap);
    va_end(ap);
    job_changed_unlock(t, job);
}

void
job_set_digest(Job *job, const char *digest)
{
    pthread_mutex_lock(&job->table->mu);
    util_strlcpy(job->info.digest, digest, sizeof(job->info.digest));
    pthread_mutex_unlock(&job->table->mu);
}
