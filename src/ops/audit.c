/* SPDX-License-Identifier: GPL-2.0-or-later */
/* audit: one JSON line per mutating operation or refused attempt, to the
 * audit log and syslog. */
#include <config.h>

#include "ops/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/result.h"
#include "base/util.h"
#include "base/who.h"

static void
audit_add_str(json_object *o, const char *key, const char *val)
{
    json_object_object_add(o, key, val ? json_object_new_string(val) : NULL);
}

/* The line as syslog(3) would send it (RFC 3164), to the datagram socket
 * sock: a test's own listener instead of the system log.  Best effort,
 * like syslog(3) itself: a socket nobody listens on loses the line. */
static void
audit_syslog_to(const char *sock, int prio, const char *line)
{
    struct sockaddr_un sa;
    char stamp[32];
    struct tm tm;
    time_t now = time(NULL);
    UTIL_AUTOFREE char *msg = NULL;
    int fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(sock) >= sizeof(sa.sun_path))
        return;
    memcpy(sa.sun_path, sock, strlen(sock) + 1);
    localtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
    msg = util_xasprintf("<%d>%s drover[%d]: audit %s", LOG_AUTHPRIV | prio, stamp, (int)getpid(), line);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
        /* Nobody listens: syslog(3) drops the line the same way. */
    }
    close(fd);
}

static void
audit_syslog(int prio, const char *line)
{
    const char *sock = getenv("DROVER_SYSLOG_SOCKET");

    if (sock && *sock) {
        audit_syslog_to(sock, prio, line);
        return;
    }
    openlog("drover", LOG_PID, LOG_AUTHPRIV);
    syslog(prio, "audit %s", line);
    closelog();
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
    audit_add_str(o, "result_name", result_name(rec->result));
    /* An auditor wants the attempts too: refused, nothing was changed. */
    json_object_object_add(o, "refused", json_object_new_boolean(rec->refused));
    audit_add_str(o, "message", rec->message);
    line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

    audit_syslog(rec->result == 0 || rec->result == 4096 ? LOG_NOTICE : LOG_WARNING, line);

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
