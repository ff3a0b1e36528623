/* SPDX-License-Identifier: GPL-2.0-or-later */
/* audit: one JSON line per mutating operation, to the audit log and syslog. */
#include <config.h>

#include "ops/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/util.h"
#include "base/who.h"

static void
audit_add_str(json_object *o, const char *key, const char *val)
{
    json_object_object_add(o, key, val ? json_object_new_string(val) : NULL);
}

int
audit_write(const char *path, const AuditRecord *rec)
{
    json_object *o = json_object_new_object();
    WhoAmI w;
    char when[32];
    const char *line;
    int fd = -1;
    int ret = -1;

    util_format_time(util_now(), when, sizeof(when));
    who_get(&w);

    audit_add_str(o, "time", when);
    /* Facts identify the operator; SUDO_USER is a claim, kept beside them. */
    audit_add_str(o, "operator", w.user);
    json_object_object_add(o, "uid", json_object_new_int64(w.uid));
    json_object_object_add(o, "login_uid", w.login_uid >= 0 ? json_object_new_int64(w.login_uid) : NULL);
    audit_add_str(o, "login_user", w.login_uid >= 0 ? w.login_user : NULL);
    audit_add_str(o, "claimed_user", w.claimed[0] ? w.claimed : NULL);
    audit_add_str(o, "ssh_client", w.ssh_client[0] ? w.ssh_client : NULL);
    audit_add_str(o, "host", rec->host);
    audit_add_str(o, "vm", rec->vm);
    audit_add_str(o, "operation", rec->operation);
    audit_add_str(o, "plan_digest", rec->digest);
    audit_add_str(o, "reason", rec->reason);
    audit_add_str(o, "job", rec->job);
    json_object_object_add(o, "result", json_object_new_int(rec->result));
    audit_add_str(o, "message", rec->message);
    line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

    openlog("drover", LOG_PID, LOG_AUTHPRIV);
    syslog(rec->result == 0 || rec->result == 4096 ? LOG_NOTICE : LOG_WARNING, "audit %s", line);
    closelog();

    if (!path) {
        ret = 0;
        goto cleanup;
    }
    if (fsutil_mkdir_parents(path, 0750) < 0) {
        err_prefix("audit log");
        goto cleanup;
    }
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0) {
        err_set_errno(0, errno, "cannot open audit log %s", path);
        goto cleanup;
    }
    /* One write per line: O_APPEND keeps concurrent writers' lines whole. */
    {
        char *buf = util_xasprintf("%s\n", line);
        ssize_t n = write(fd, buf, strlen(buf));
        int e = errno;
        size_t want = strlen(buf);
        free(buf);
        if (n < 0 || (size_t)n != want) {
            err_set_errno(0, n < 0 ? e : ENOSPC, "cannot write audit log %s", path);
            goto cleanup;
        }
    }
    if (fsync(fd) < 0) {
        err_set_errno(0, errno, "cannot sync audit log %s", path);
        goto cleanup;
    }
    ret = 0;

cleanup:
    if (fd >= 0)
        close(fd);
    json_object_put(o);
    return ret;
}
