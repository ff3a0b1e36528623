/* SPDX-License-Identifier: GPL-2.0-or-later */
/* audit: one JSON line per mutating operation or refused attempt, to the
 * audit log and syslog. */
#ifndef DROVER_AUDIT_H
#define DROVER_AUDIT_H

typedef struct {
    const char *host;
    const char *vm;
    const char *operation;      /* state_op_name() or "repair" */
    const char *digest;         /* plan digest */
    const char *reason;         /* may be NULL */
    const char *job;            /* job id, may be NULL */
    int result;                 /* result code */
    const char *message;        /* decoded summary, may be NULL */
    int refused;                /* 1: refused before anything was changed */
} AuditRecord;

/* Appends the record (plus time, operator, uid, SSH client) to path, one
 * line written with O_APPEND, creating the file's directory if needed, and
 * sends it to syslog (LOG_AUTHPRIV; to the datagram socket named by
 * DROVER_SYSLOG_SOCKET instead when set, for tests).  path NULL: syslog only.
 * Returns 0, or -1 with err set (the operation itself is not undone). */
int audit_write(const char *path, const AuditRecord *rec);

#endif
