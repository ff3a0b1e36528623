/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for result: names, mappings, exit statuses and the decoder. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Only the test includes libvirt: it proves result.c's plain numbers are
 * libvirt's constants. */
#include <libvirt/virterror.h>

#include "base/err.h"
#include "base/result.h"
#include "tap.h"

/* The expectation, written out independently of result.c. */
static const struct {
    int code;
    const char *symbol;
    const char *name;
    int exit_status;
    int retry_safe;
} want_codes[] = {
    { 0, "OK", "Completed with No Error", 0, 1 },
    { 4096, "JOB_STARTED", "Method Parameters Checked - Job Started", 0, 1 },
    { 32768, "FAILED", "Failed", 1, 0 },
    { 32769, "ACCESS_DENIED", "Access Denied", 6, 0 },
    { 32770, "NOT_SUPPORTED", "Not Supported", 8, 0 },
    { 32771, "STATUS_UNKNOWN", "Status is unknown", 1, 0 },
    { 32772, "TIMEOUT", "Timeout", 5, 1 },
    { 32773, "INVALID_PARAMETER", "Invalid parameter", 2, 0 },
    { 32774, "IN_USE", "System is in use", 4, 1 },
    { 32775, "INVALID_STATE", "Invalid state for this operation", 3, 0 },
    { 32776, "INCORRECT_TYPE", "Incorrect data type", 7, 0 },
    { 32777, "NOT_AVAILABLE", "System is not available", 5, 1 },
    { 32778, "OUT_OF_MEMORY", "Out of memory", 1, 1 },
    { 32779, "FILE_NOT_FOUND", "File not found", 7, 0 },
};
#define N_CODES (sizeof(want_codes) / sizeof(want_codes[0]))

#define V(sym, code) { sym, #sym, code }
static const struct {
    int num;
    const char *name;
    int code;
} want_virt[] = {
    V(VIR_ERR_ACCESS_DENIED, 32769),
    V(VIR_ERR_OPERATION_DENIED, 32769),
    V(VIR_ERR_AUTH_FAILED, 32769),
    V(VIR_ERR_AUTH_CANCELLED, 32769),
    V(VIR_ERR_AUTH_UNAVAILABLE, 32769),
    V(VIR_ERR_NO_SUPPORT, 32770),
    V(VIR_ERR_CONFIG_UNSUPPORTED, 32770),
    V(VIR_ERR_ARGUMENT_UNSUPPORTED, 32770),
    V(VIR_ERR_OPERATION_UNSUPPORTED, 32770),
    V(VIR_ERR_NO_DOMAIN_METADATA, 32771),
    V(VIR_ERR_OPERATION_TIMEOUT, 32772),
    V(VIR_ERR_INVALID_ARG, 32773),
    V(VIR_ERR_RESOURCE_BUSY, 32774),
    V(VIR_ERR_BLOCK_COPY_ACTIVE, 32774),
    V(VIR_ERR_OPERATION_INVALID, 32775),
    V(VIR_ERR_XML_ERROR, 32776),
    V(VIR_ERR_NO_CONNECT, 32777),
    V(VIR_ERR_NO_DOMAIN, 32777),
    V(VIR_ERR_AGENT_UNRESPONSIVE, 32777),
    V(VIR_ERR_RPC, 32777),
    V(VIR_ERR_UNKNOWN_HOST, 32777),
    V(VIR_ERR_SSH, 32777),
    V(VIR_ERR_LIBSSH, 32777),
    V(VIR_ERR_NO_MEMORY, 32778),
    V(VIR_ERR_NO_STORAGE_VOL, 32779),
    V(VIR_ERR_NO_DOMAIN_SNAPSHOT, 32779),
    V(VIR_ERR_INTERNAL_ERROR, 32768),
    V(VIR_ERR_OPERATION_FAILED, 32768),
    V(VIR_ERR_SYSTEM_ERROR, 32768),
};
#undef V
#define N_VIRT (sizeof(want_virt) / sizeof(want_virt[0]))

#define E(sym, code) { sym, #sym, code }
static const struct {
    int num;
    const char *name;
    int code;
} want_errno[] = {
    E(EACCES, 32769), E(EPERM, 32769), E(EROFS, 32769), E(ELOOP, 32769),
    E(ENOENT, 32779), E(ENOTDIR, 32779),
    E(ENOMEM, 32778), E(ENOSPC, 32778), E(EDQUOT, 32778),
    E(EBUSY, 32774), E(EAGAIN, 32774), E(ETXTBSY, 32774),
    E(ETIMEDOUT, 32772),
    E(EINVAL, 32773), E(ENAMETOOLONG, 32773),
    E(EEXIST, 32775),
    E(ENOTSUP, 32770), E(ENOSYS, 32770),
    E(ECONNREFUSED, 32777), E(ECONNRESET, 32777), E(ECONNABORTED, 32777),
    E(EHOSTUNREACH, 32777), E(EHOSTDOWN, 32777), E(ENETUNREACH, 32777),
    E(ENETDOWN, 32777), E(ENOTCONN, 32777), E(EPIPE, 32777),
};
#undef E
#define N_ERRNO (sizeof(want_errno) / sizeof(want_errno[0]))

static void
test_names(void)
{
    size_t i, n = 0;
    const int *codes = result_codes(&n);

    for (i = 0; i < N_CODES; i++) {
        int c = want_codes[i].code;

        is_str(result_name(c), want_codes[i].name, "name of %d", c);
        is_str(result_symbol(c), want_codes[i].symbol, "symbol of %d", c);
        ok(result_is_known(c), "%d is known", c);
    }
    is_int(n, N_CODES, "result_codes lists every code");
    for (i = 0; i < n && i < N_CODES; i++)
        is_int(codes[i], want_codes[i].code, "result_codes[%zu] in ascending order", i);
    ok(RESULT_INVALID_STATE == 32775 && RESULT_FILE_NOT_FOUND == 32779 && RESULT_JOB_STARTED == 4096,
       "enum values are the seed's numbers");

    {
        static const int unknown[] = { -1, 1, 4, 4095, 4097, 4099, 32767, 32780, 65535 };

        for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
            ok(!result_is_known(unknown[i]), "%d is not known", unknown[i]);
            ok(result_name(unknown[i]) == NULL, "no name for %d", unknown[i]);
            ok(result_symbol(unknown[i]) == NULL, "no symbol for %d", unknown[i]);
        }
    }
}

static void
test_virt(void)
{
    const ResultMapRow *row;
    size_t i;
    int rows = 0;

    for (i = 0; i < N_VIRT; i++) {
        is_int(result_from_virt(want_virt[i].num), want_virt[i].code,
               "%s (%d) maps to %d", want_virt[i].name, want_virt[i].num, want_virt[i].code);
        is_str(result_virt_name(want_virt[i].num), want_virt[i].name,
               "name of libvirt error %d", want_virt[i].num);
    }
    /* Every number in the module's table is a real libvirt constant with
     * that name (the list above takes its numbers from the header). */
    for (row = result_virt_table(); row->name; row++) {
        int found = 0;

        rows++;
        for (i = 0; i < N_VIRT; i++)
            if (strcmp(want_virt[i].name, row->name) == 0) {
                found = 1;
                is_int(row->from, want_virt[i].num, "table number of %s equals libvirt's", row->name);
                is_int(row->code, want_virt[i].code, "table code of %s", row->name);
            }
        ok(found, "table row %s (%d) is expected by the test", row->name, row->from);
    }
    is_int(rows, N_VIRT, "virt table has exactly the expected rows");
    is_int(result_from_virt(VIR_ERR_OK), RESULT_OK, "VIR_ERR_OK maps to 0");
    ok(result_virt_name(VIR_ERR_OK) == NULL, "VIR_ERR_OK has no mapped name");
    is_int(result_from_virt(VIR_ERR_CONF_SYNTAX), RESULT_FAILED, "unmapped VIR_ERR_CONF_SYNTAX (33) is 32768");
    ok(result_virt_name(VIR_ERR_CONF_SYNTAX) == NULL, "no name for an unmapped number");
    is_int(result_from_virt(VIR_ERR_NO_DOMAIN_BACKUP), RESULT_FAILED, "unmapped VIR_ERR_NO_DOMAIN_BACKUP is 32768");
    is_int(result_from_virt(-5), RESULT_FAILED, "negative number is 32768");
    is_int(result_from_virt(100000), RESULT_FAILED, "huge number is 32768");
}

static void
test_errno(void)
{
    const ResultMapRow *row;
    size_t i;
    int rows = 0;

    for (i = 0; i < N_ERRNO; i++)
        is_int(result_from_errno(want_errno[i].num), want_errno[i].code,
               "%s maps to %d", want_errno[i].name, want_errno[i].code);
    for (row = result_errno_table(); row->name; row++) {
        int found = 0;

        rows++;
        for (i = 0; i < N_ERRNO; i++)
            if (strcmp(want_errno[i].name, row->name) == 0)
                found = row->from == want_errno[i].num && row->code == want_errno[i].code;
        ok(found, "errno table row %s -> %d is expected by the test", row->name, row->code);
    }
    is_int(rows, N_ERRNO, "errno table has exactly the expected rows");
    is_int(result_from_errno(0), RESULT_OK, "errno 0 is 0");
    is_int(result_from_errno(EIO), RESULT_FAILED, "EIO is 32768");
    is_int(result_from_errno(EXDEV), RESULT_FAILED, "EXDEV is 32768");
    is_int(result_from_errno(-1), RESULT_FAILED, "negative errno is 32768");
    is_int(result_from_errno(EWOULDBLOCK), RESULT_IN_USE, "EWOULDBLOCK (same as EAGAIN) is 32774");
    is_int(result_from_errno(EOPNOTSUPP), RESULT_NOT_SUPPORTED, "EOPNOTSUPP is 32770");
}

static void
test_exit(void)
{
    const ResultExitRow *t = result_exit_table();
    size_t i;
    int n, s, seen[16] = { 0 };

    for (i = 0; i < N_CODES; i++)
        is_int(result_exit_status(want_codes[i].code), want_codes[i].exit_status,
               "exit status of %d", want_codes[i].code);
    is_int(result_exit_status(12345), 1, "unknown code exits 1");
    is_int(result_exit_status(-1), 1, "negative code exits 1");

    /* The table the man page prints agrees with result_exit_status. */
    for (n = 0; t[n].meaning; n++) {
        ok(t[n].codes && *t[n].codes && *t[n].meaning, "exit row %d has codes and meaning", n);
        ok(t[n].status >= 0 && t[n].status < 16, "exit row %d status in range", n);
        if (t[n].status >= 0 && t[n].status < 16)
            seen[t[n].status]++;
    }
    is_int(n, 9, "exit table has 9 rows (statuses 0-8)");
    for (s = 0; s <= 8; s++)
        is_int(seen[s], 1, "exit status %d has exactly one row", s);
    for (i = 0; i < N_CODES; i++) {
        char num[16];
        int found = 0, k;

        snprintf(num, sizeof(num), "%d", want_codes[i].code);
        for (k = 0; t[k].meaning; k++) {
            const char *p = t[k].codes;
            size_t len = strlen(num);

            /* whole-number match inside "32768, 32771, ..." */
            while ((p = strstr(p, num)) != NULL) {
                int start = p == t[k].codes || p[-1] == ' ';
                int end = p[len] == '\0' || p[len] == ',';

                if (start && end) {
                    found = 1;
                    is_int(t[k].status, want_codes[i].exit_status, "table row for %d has its status", want_codes[i].code);
                }
                p += len;
            }
        }
        ok(found, "code %d appears in the exit table", want_codes[i].code);
    }
    ok(strstr(t[1].codes, "other") != NULL, "exit table says where unknown codes go");
}

static void
check_info_complete(const ResultInfo *info, const char *what)
{
    ok(info->name && *info->name, "%s: name set", what);
    ok(info->summary && *info->summary, "%s: summary set", what);
    ok(info->cause && *info->cause, "%s: cause set", what);
    ok(info->next_step && *info->next_step, "%s: next step set", what);
}

static void
test_decode_all(void)
{
    size_t i;

    for (i = 0; i < N_CODES; i++) {
        ResultCtx ctx = { 0 };
        ResultInfo info;
        int c = want_codes[i].code;
        char what[64];

        /* Without any context. */
        ctx.code = c;
        result_decode(&ctx, &info);
        snprintf(what, sizeof(what), "%d bare", c);
        check_info_complete(&info, what);
        is_int(info.code, c, "%s: code", what);
        is_str(info.name, want_codes[i].name, "%s: name", what);
        is_int(info.retry_safe, want_codes[i].retry_safe, "%s: retry flag", what);
        is_str(info.cause, "no further detail", "%s: cause says there is none", what);
        ok(strstr(info.summary, "The operation") == info.summary, "%s: summary starts generically", what);
        result_info_clear(&info);
        ok(info.summary == NULL && info.cause == NULL && info.next_step == NULL, "%s: cleared", what);

        /* With op, VM and host. */
        ctx.op = "revert";
        ctx.vm = "web01";
        ctx.host = "dr-b";
        ctx.detail = "checking web01";
        result_decode(&ctx, &info);
        snprintf(what, sizeof(what), "%d with context", c);
        check_info_complete(&info, what);
        ok(strstr(info.summary, "Revert failover of web01 on dr-b") == info.summary,
           "%s: summary names op, VM and host: %s", what, info.summary);
        ok(info.summary[strlen(info.summary) - 1] == '.', "%s: summary is a sentence", what);
        ok(strstr(info.cause, "checking web01") != NULL, "%s: cause has the detail", what);
        ok(strstr(info.next_step, "VM") == NULL || strstr(info.next_step, "web01") != NULL,
           "%s: next step names the VM rather than a placeholder", what);
        is_int(info.retry_safe, want_codes[i].retry_safe, "%s: retry flag", what);
        result_info_clear(&info);
    }
    result_info_clear(NULL);
}

static void
test_decode_specific(void)
{
    ResultCtx ctx = { 0 };
    ResultInfo a, b;

    /* The brief's example sentence. */
    ctx.code = RESULT_INVALID_STATE;
    ctx.op = "revert";
    ctx.vm = "web01";
    ctx.host = "dr-b";
    result_decode(&ctx, &a);
    is_str(a.summary, "Revert failover of web01 on dr-b was refused: the replica is not in a state that allows it.",
           "32775 summary");
    ok(strstr(a.next_step, "`drover show web01`") != NULL, "32775 says to check the state with drover show");
    is_int(a.retry_safe, 0, "32775 is not retry-safe");
    result_info_clear(&a);

    /* ENOSPC and ENOMEM share 32778 but need different actions. */
    memset(&ctx, 0, sizeof(ctx));
    ctx.code = RESULT_OUT_OF_MEMORY;
    ctx.op = "failover";
    ctx.vm = "web01";
    ctx.host = "dr-b";
    ctx.sys_errno = ENOSPC;
    result_decode(&ctx, &a);
    ctx.sys_errno = ENOMEM;
    result_decode(&ctx, &b);
    ok(strcmp(a.next_step, b.next_step) != 0, "ENOSPC and ENOMEM next steps differ");
    ok(strstr(a.next_step, "space in the replica directory") != NULL, "ENOSPC: free space in the replica directory");
    ok(strstr(a.next_step, "memory") == NULL, "ENOSPC does not talk about memory");
    ok(strstr(b.next_step, "memory") != NULL, "ENOMEM: free memory");
    ok(strstr(a.summary, "disk space") != NULL, "ENOSPC summary says disk space");
    ok(strstr(b.summary, "memory") != NULL && strstr(b.summary, "disk") == NULL, "ENOMEM summary says memory");
    ok(strstr(a.summary, "Initiate failover of web01") == a.summary, "failover op titled: %s", a.summary);
    ok(strstr(a.cause, "ENOSPC") != NULL && strstr(a.cause, strerror(ENOSPC)) != NULL,
       "cause names ENOSPC and its text: %s", a.cause);
    result_info_clear(&a);
    result_info_clear(&b);

    /* 32774: another operation holds the VM. */
    memset(&ctx, 0, sizeof(ctx));
    ctx.code = RESULT_IN_USE;
    ctx.vm = "db02";
    result_decode(&ctx, &a);
    ok(strstr(a.next_step, "drover jobs") != NULL && strstr(a.next_step, "wait") != NULL,
       "32774 says wait or look at drover jobs");
    ok(strstr(a.next_step, "db02") != NULL, "32774 names the VM");
    ok(strstr(a.summary, "The operation for db02") == a.summary, "summary without op names the VM: %s", a.summary);
    is_int(a.retry_safe, 1, "32774 is retry-safe");
    result_info_clear(&a);

    /* 32777: host connection. */
    memset(&ctx, 0, sizeof(ctx));
    ctx.code = RESULT_NOT_AVAILABLE;
    ctx.host = "dr-b";
    result_decode(&ctx, &a);
    ok(strstr(a.next_step, "connection to dr-b") != NULL, "32777 says check the connection to the host");
    ok(strstr(a.next_step, "reconnects") != NULL, "32777 says drover reconnects");
    ok(strstr(a.summary, "The operation on dr-b") == a.summary, "summary with host only: %s", a.summary);
    result_info_clear(&a);

    /* 32777 refined: the domain is gone. */
    ctx.virt_code = VIR_ERR_NO_DOMAIN;
    ctx.vm = "web01";
    ctx.virt_msg = "Domain not found: no domain with matching name 'web01'";
    result_decode(&ctx, &a);
    ok(strstr(a.next_step, "not found") != NULL && strstr(a.next_step, "drover list") != NULL,
       "NO_DOMAIN says the VM is gone and to refresh");
    ok(strstr(a.cause, "VIR_ERR_NO_DOMAIN (42): Domain not found") != NULL,
       "cause has libvirt constant, number and message: %s", a.cause);
    result_info_clear(&a);

    /* 32779 names drover check VM. */
    memset(&ctx, 0, sizeof(ctx));
    ctx.code = RESULT_FILE_NOT_FOUND;
    ctx.vm = "web01";
    result_decode(&ctx, &a);
    ok(strstr(a.next_step, "`drover check web01`") != NULL, "32779 says drover check VM");
    result_info_clear(&a);

    /* 32776: unknown metadata format. */
    memset(&ctx, 0, sizeof(ctx));
    ctx.code = RESULT_INCORRECT_TYPE;
    ctx.vm = "web01";
    ctx.detail = "web01: replica record: unknown format \"7\"";
    result_decode(&ctx, &a);
    ok(strstr(a.next_step, "refuses to guess") != NULL, "32776 format: drover refuses to guess");
    ok(strstr(a.next_step, "upgrade drover") != NULL, "32776 format: upgrade drover");
    ok(strstr(a.next_step, "virsh metadata web01") != NULL, "32776 format: inspect the record");
    ctx.detail = "web01: <state> is not a number";
    result_decode(&ctx, &b);
    ok(strcmp(a.next_step, b.next_step) != 0, "32776 without a format problem gives other advice");
    ok(strstr(b.next_step, "refuses to guess") != NULL, "32776 always refuses to guess");
    result_info_clear(&a);
    result_info_clear(&b);

    /* 32769: permissions and read-only mode, refined by the source. */
    memset(&ctx, 0, sizeof(ctx));
    ctx.code = RESULT_ACCESS_DENIED;
    ctx.vm = "web01";
    result_decode(&ctx, &a);
    ok(strstr(a.next_step, "ermission") != NULL && strstr(a.next_step, "read-only") != NULL,
       "32769 says check permissions and read-only mode");
    result_info_clear(&a);
    ctx.virt_code = VIR_ERR_OPERATION_DENIED;
    ctx.host = "dr-b";
    result_decode(&ctx, &a);
    ok(strstr(a.next_step, "connection to dr-b is read-only") != NULL, "OPERATION_DENIED: read-only connection");
    result_info_clear(&a);
    ctx.virt_code = 0;
    ctx.sys_errno = ELOOP;
    result_decode(&ctx, &a);
    ok(strstr(a.next_step, "symbolic link") != NULL, "ELOOP explains the symlink refusal");
    result_info_clear(&a);
    ctx.sys_errno = EROFS;
    result_decode(&ctx, &a);
    ok(strstr(a.next_step, "mounted read-only") != NULL, "EROFS explains the read-only file system");
    result_info_clear(&a);
}

static void
test_decode_cause(void)
{
    ResultCtx ctx = { 0 };
    ResultInfo info;
    const char *msg = "Requested operation is not valid: domain is running";
    char detail[256];

    /* Detail already carries the libvirt message (err_set_virt does that):
     * the cause adds the constant but not the message twice. */
    snprintf(detail, sizeof(detail), "defining web01: %s", msg);
    ctx.code = RESULT_INVALID_STATE;
    ctx.detail = detail;
    ctx.virt_code = VIR_ERR_OPERATION_INVALID;
    ctx.virt_msg = msg;
    result_decode(&ctx, &info);
    ok(strstr(info.cause, "VIR_ERR_OPERATION_INVALID (55)") != NULL, "cause names the libvirt constant");
    ok(strstr(info.cause, msg) == strstr(info.cause, "Requested") && strstr(strstr(info.cause, msg) + 1, msg) == NULL,
       "libvirt message appears once: %s", info.cause);
    ok(strstr(info.next_step, "running") != NULL, "OPERATION_INVALID advice mentions the domain's run state");
    result_info_clear(&info);

    /* Unmapped libvirt number: named by number. */
    memset(&ctx, 0, sizeof(ctx));
    ctx.code = RESULT_FAILED;
    ctx.virt_code = VIR_ERR_CONF_SYNTAX;
    ctx.virt_msg = "bad";
    result_decode(&ctx, &info);
    is_str(info.cause, "libvirt error 33: bad", "unmapped libvirt number in the cause");
    result_info_clear(&info);

    /* errno text not repeated when the detail has it already. */
    memset(&ctx, 0, sizeof(ctx));
    snprintf(detail, sizeof(detail), "opening /x: %s", strerror(ENOENT));
    ctx.code = RESULT_FILE_NOT_FOUND;
    ctx.detail = detail;
    ctx.sys_errno = ENOENT;
    result_decode(&ctx, &info);
    snprintf(detail, sizeof(detail), "opening /x: %s; system error ENOENT", strerror(ENOENT));
    is_str(info.cause, detail, "detail then errno name, without repeating the text");
    result_info_clear(&info);

    /* Unknown errno in the cause. */
    memset(&ctx, 0, sizeof(ctx));
    ctx.code = RESULT_FAILED;
    ctx.sys_errno = EIO;
    result_decode(&ctx, &info);
    snprintf(detail, sizeof(detail), "system error %d (%s)", EIO, strerror(EIO));
    is_str(info.cause, detail, "unnamed errno by number and text");
    result_info_clear(&info);

    /* Empty strings count as absent. */
    memset(&ctx, 0, sizeof(ctx));
    ctx.code = RESULT_TIMEOUT;
    ctx.detail = "";
    ctx.virt_msg = "";
    ctx.vm = "";
    ctx.op = "";
    result_decode(&ctx, &info);
    is_str(info.cause, "no further detail", "empty strings give no cause");
    is_str(info.summary, "The operation timed out.", "empty op and VM give the generic subject");
    result_info_clear(&info);

    /* Another op name is capitalised. */
    memset(&ctx, 0, sizeof(ctx));
    ctx.code = RESULT_OK;
    ctx.op = "repair";
    ctx.vm = "web01";
    result_decode(&ctx, &info);
    is_str(info.summary, "Repair of web01 completed.", "other op names read naturally");
    result_info_clear(&info);
}

static void
test_decode_unknown(void)
{
    ResultCtx ctx = { 0 };
    ResultInfo info;

    ctx.code = 4097;
    ctx.op = "stop-test";
    ctx.vm = "web01";
    result_decode(&ctx, &info);
    check_info_complete(&info, "4097");
    is_str(info.name, "Unknown result code", "unknown code name");
    ok(strstr(info.summary, "Stop test failover of web01") == info.summary, "unknown code summary names op and VM");
    ok(strstr(info.summary, "4097") != NULL && strstr(info.summary, "not one of drover's") != NULL,
       "summary says it is not one of drover's codes: %s", info.summary);
    is_int(info.retry_safe, 0, "unknown code is not retry-safe");
    result_info_clear(&info);

    result_decode(NULL, &info);
    check_info_complete(&info, "NULL ctx");
    is_int(info.code, 0, "NULL ctx decodes as 0");
    result_info_clear(&info);
}

static void
test_ctx_from_err(void)
{
    ResultCtx ctx;
    ResultInfo info;

    err_set_virt(VIR_ERR_RESOURCE_BUSY, "resource busy: lock held", "locking %s", "web01");
    err_to_ctx(&ctx, "revert", "web01", "dr-b");
    is_int(ctx.code, RESULT_IN_USE, "ctx code from err");
    is_int(ctx.virt_code, VIR_ERR_RESOURCE_BUSY, "ctx libvirt number from err");
    is_str(ctx.virt_msg, "resource busy: lock held", "ctx libvirt message from err");
    is_str(ctx.detail, "locking web01: resource busy: lock held", "ctx detail is the err message");
    is_int(ctx.sys_errno, 0, "no errno");
    is_str(ctx.op, "revert", "op kept");
    is_str(ctx.vm, "web01", "vm kept");
    is_str(ctx.host, "dr-b", "host kept");
    result_decode(&ctx, &info);
    is_str(info.cause, "locking web01: resource busy: lock held; libvirt error VIR_ERR_RESOURCE_BUSY (87)",
           "decoded cause from err");
    result_info_clear(&info);

    err_set_errno(0, ENOSPC, "writing %s", "/srv/web01/vda.failover.qcow2");
    err_to_ctx(&ctx, NULL, NULL, NULL);
    is_int(ctx.code, RESULT_OUT_OF_MEMORY, "errno code from err");
    is_int(ctx.sys_errno, ENOSPC, "errno from err");
    ok(ctx.virt_msg == NULL, "empty libvirt message becomes NULL");
    ok(ctx.op == NULL && ctx.vm == NULL && ctx.host == NULL, "NULL op/vm/host kept");

    err_clear();
    err_to_ctx(&ctx, "commit", "web01", NULL);
    is_int(ctx.code, 0, "cleared error gives code 0");
    ok(ctx.detail == NULL, "empty message becomes NULL detail");
}

/* Hints carry what a code alone does not say; the message text does not. */
static void
test_decode_hints(void)
{
    ResultCtx ctx;
    ResultInfo info;

    memset(&ctx, 0, sizeof(ctx));
    ctx.code = RESULT_NOT_AVAILABLE;
    ctx.vm = "web01";
    ctx.host = "dr-b";
    ctx.detail = "cannot save the definition";
    result_decode(&ctx, &info);
    ok(info.retry_safe && !strstr(info.next_step, "drover repair web01"),
       "32777 without a hint: a retry is safe, no repair");
    result_info_clear(&info);
    ctx.hints = RESULT_HINT_REPAIR;
    result_decode(&ctx, &info);
    ok(!info.retry_safe && strstr(info.next_step, "Run `drover repair web01`") == info.next_step,
       "32777 with the repair hint: the next step is the repair, a retry is not safe (%s)", info.next_step);
    result_info_clear(&info);

    /* A message that merely mentions repair does not make it the next step. */
    ctx.hints = 0;
    ctx.detail = "an operator typed: run drover repair later";
    result_decode(&ctx, &info);
    ok(info.retry_safe, "the words in a message do not change the decoding");
    result_info_clear(&info);

    memset(&ctx, 0, sizeof(ctx));
    ctx.code = RESULT_IN_USE;
    ctx.vm = "web02";
    ctx.detail = "/x/a.qcow2 is a backing layer of /x/b.qcow2";
    result_decode(&ctx, &info);
    ok(strstr(info.summary, "in use by another operation") != NULL,
       "32774 without the file hint: another operation holds the VM");
    result_info_clear(&info);
    ctx.hints = RESULT_HINT_FILE_IN_USE;
    result_decode(&ctx, &info);
    ok(strstr(info.summary, "a file it would delete is in use by a disk chain") != NULL &&
       strstr(info.next_step, "never deletes a file a chain uses") != NULL,
       "32774 with the file hint: a disk chain uses the file (%s)", info.summary);
    result_info_clear(&info);
    ctx.hints = RESULT_HINT_DEFINITION_CHANGED;
    ctx.detail = "the definition of web02 changed while drover was working on it (disk vda changed)";
    result_decode(&ctx, &info);
    ok(strstr(info.summary, "another writer changed the VM's definition") != NULL &&
       strstr(info.next_step, "drover kept that change") != NULL &&
       strstr(info.next_step, "drover jobs") == NULL && info.retry_safe,
       "32774 with the definition hint: another writer, not another job (%s)", info.next_step);
    result_info_clear(&info);

    err_set(RESULT_IN_USE, "held");
    err_hint(RESULT_HINT_FILE_IN_USE);
    err_to_ctx(&ctx, "revert", "web02", NULL);
    is_int(ctx.hints, RESULT_HINT_FILE_IN_USE, "err_to_ctx carries the hints");
    err_clear();
}

/* A refusal changed nothing: safe to retry whatever its code, unless a
 * journal waits for repair; without the hint the code's own answer. */
static void
test_decode_refused(void)
{
    static const int codes[] = {
        RESULT_ACCESS_DENIED, RESULT_NOT_SUPPORTED, RESULT_INVALID_PARAMETER, RESULT_IN_USE,
        RESULT_INVALID_STATE, RESULT_INCORRECT_TYPE, RESULT_FILE_NOT_FOUND,
    };
    ResultCtx ctx;
    ResultInfo info;
    size_t i;

    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        memset(&ctx, 0, sizeof(ctx));
        ctx.code = codes[i];
        ctx.op = "revert";
        ctx.vm = "web01";
        ctx.hints = RESULT_HINT_REFUSED;
        result_decode(&ctx, &info);
        ok(info.retry_safe, "%d refused (nothing changed): a retry is safe", codes[i]);
        result_info_clear(&info);
        ctx.hints = RESULT_HINT_REFUSED | RESULT_HINT_REPAIR;
        result_decode(&ctx, &info);
        ok(!info.retry_safe, "%d refused while a journal waits: repair first, a retry is not called safe",
           codes[i]);
        result_info_clear(&info);
    }
    memset(&ctx, 0, sizeof(ctx));
    ctx.code = RESULT_INVALID_STATE;
    result_decode(&ctx, &info);
    ok(!info.retry_safe, "32775 without the hint (not known to be a refusal): not retry-safe");
    result_info_clear(&info);
    ctx.code = RESULT_OK;
    ctx.hints = RESULT_HINT_REFUSED;
    result_decode(&ctx, &info);
    ok(info.retry_safe, "0 with the hint: as 0");
    result_info_clear(&info);
}

/* The console's next steps name its keys, never a command line. */
static void
test_console_next_step(void)
{
    static const int codes[] = {
        RESULT_OK, RESULT_JOB_STARTED, RESULT_FAILED, RESULT_ACCESS_DENIED, RESULT_NOT_SUPPORTED,
        RESULT_STATUS_UNKNOWN, RESULT_TIMEOUT, RESULT_INVALID_PARAMETER, RESULT_IN_USE,
        RESULT_INVALID_STATE, RESULT_INCORRECT_TYPE, RESULT_NOT_AVAILABLE, RESULT_OUT_OF_MEMORY,
        RESULT_FILE_NOT_FOUND,
    };
    ResultCtx ctx;
    size_t i, k;
    char *s;

    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        memset(&ctx, 0, sizeof(ctx));
        ctx.code = codes[i];
        ctx.op = "revert";
        ctx.vm = "web01";
        ctx.host = "fleet";
        for (k = 0; k < 2; k++) {
            ResultInfo info;

            /* Plain, and a symbolic link (whose common text names a
             * command). */
            ctx.sys_errno = k == 1 ? ELOOP : 0;
            s = result_console_next_step(&ctx);
            result_decode(&ctx, &info);
            ok(!strstr(s ? s : info.next_step, "`drover"), "%d (%s): the console's next step names no drover "
               "command (%s)", codes[i], k == 1 ? "ELOOP" : "plain",
               s ? s : info.next_step);
            result_info_clear(&info);
            free(s);
        }
    }
    memset(&ctx, 0, sizeof(ctx));
    ctx.code = RESULT_INVALID_STATE;
    ctx.vm = "web01";
    s = result_console_next_step(&ctx);
    ok(s && strstr(s, "key hint") && strstr(s, "r revert"), "32775: the console points at the keys (%s)", s);
    free(s);
    ctx.code = RESULT_IN_USE;
    s = result_console_next_step(&ctx);
    ok(s && strstr(s, "J shows which job"), "32774 (a lock): J shows the job holding it (%s)", s);
    free(s);
}

int
main(void)
{
    test_decode_hints();
    test_names();
    test_virt();
    test_errno();
    test_exit();
    test_decode_all();
    test_decode_specific();
    test_decode_cause();
    test_decode_unknown();
    test_ctx_from_err();
    test_decode_refused();
    test_console_next_step();
    return tap_done();
}
