/* SPDX-License-Identifier: GPL-2.0-or-later */
/* job-history: the history of finished jobs (one JSON line a job, the
 * newest 500 kept) and the JSON form a job record shares with it. */
#include <config.h>

#include "ops/job.h"
#include "ops/job-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/lock.h"
#include "base/result.h"
#include "base/util.h"

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

int
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
    ji->pid = (int)job_json_int(o, "pid");
    ji->cancellable = (int)job_json_int(o, "cancellable");
    ji->start_ms = job_json_int(o, "start_ms");
    if (!ji->start_ms)
        ji->start_ms = ji->start_time * 1000;
    ji->from_history = 1;
    json_object_put(o);
    return ji->id[0] ? 0 : -1;
}

char *
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
    json_object_object_add(o, "pid", json_object_new_int(ji->pid));
    json_object_object_add(o, "cancellable", json_object_new_int(ji->cancellable));
    json_object_object_add(o, "start_ms", json_object_new_int64(ji->start_ms));
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
void
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
    t->past = util_xcalloc(n ? n : 1, sizeof(*t->past));
    for (i = 0; i < n && t->npast < JOB_HISTORY_KEEP; i++) {
        const JobInfo *ji = &all[n - 1 - i];
        size_t k;

        /* A job a reader recorded as dead may be recorded again by a
         * second reader: the newest line of an id wins. */
        for (k = 0; k < t->npast && strcmp(t->past[k].id, ji->id) != 0; k++)
            ;
        if (k == t->npast)
            t->past[t->npast++] = *ji;
    }
    free(all);
}

int
job_history_append(JobTable *t, const JobInfo *ji)
{
    UTIL_AUTOFREE char *json = NULL;
    UTIL_AUTOFREE char *line = NULL;
    int fd;

    if (!t->history)
        return -1;
    if (fsutil_mkdir_parents(t->history, 0750) < 0) {
        err_clear();
        return -1;
    }
    json = job_to_json(ji);
    line = util_xasprintf("%s\n", json);
    fd = open(t->history, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0)
        return -1;  /* history is a convenience; the audit log is the record */
    if (write(fd, line, strlen(line)) < 0) {
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}
