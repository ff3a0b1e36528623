/* SPDX-License-Identifier: GPL-2.0-or-later */
/* result: the seed's result codes and their decoder. */
#include <config.h>

#include "base/result.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* retry_safe says whether running the same operation again can do harm, not
 * whether it will succeed.  Operations are planned afresh, locked and
 * journaled, so after a transient condition (timeout, a job holding the VM,
 * the host away, memory or space short) a retry either does the work or is
 * refused cleanly: 1.  Where the condition is a fact about the VM, its
 * record, its files or the caller (invalid state, bad data, missing file,
 * access, bad parameter, not supported) a retry repeats the same refusal
 * and teaches the operator to hammer: 0.  After a generic failure or an
 * unknown status, part of the work may have happened; acting again before
 * `drover check` could make it worse: 0.  0 and 4096 succeeded, and running
 * a finished operation again is refused by the state check: 1.  A refusal
 * known to have changed nothing (RESULT_HINT_REFUSED) is 1 whatever its code. */
typedef struct {
    int code;
    const char *symbol;
    const char *name;           /* Microsoft's wording (facts §2) */
    int exit_status;
    int retry_safe;
} ResultCode;

static const ResultCode result_table[] = {
    { RESULT_OK, "OK", "Completed with No Error", 0, 1 },
    { RESULT_JOB_STARTED, "JOB_STARTED", "Method Parameters Checked - Job Started", 0, 1 },
    { RESULT_FAILED, "FAILED", "Failed", 1, 0 },
    { RESULT_ACCESS_DENIED, "ACCESS_DENIED", "Access Denied", 6, 0 },
    { RESULT_NOT_SUPPORTED, "NOT_SUPPORTED", "Not Supported", 8, 0 },
    { RESULT_STATUS_UNKNOWN, "STATUS_UNKNOWN", "Status is unknown", 1, 0 },
    { RESULT_TIMEOUT, "TIMEOUT", "Timeout", 5, 1 },
    { RESULT_INVALID_PARAMETER, "INVALID_PARAMETER", "Invalid parameter", 2, 0 },
    { RESULT_IN_USE, "IN_USE", "System is in use", 4, 1 },
    { RESULT_INVALID_STATE, "INVALID_STATE", "Invalid state for this operation", 3, 0 },
    { RESULT_INCORRECT_TYPE, "INCORRECT_TYPE", "Incorrect data type", 7, 0 },
    { RESULT_NOT_AVAILABLE, "NOT_AVAILABLE", "System is not available", 5, 1 },
    { RESULT_OUT_OF_MEMORY, "OUT_OF_MEMORY", "Out of memory", 1, 1 },
    { RESULT_FILE_NOT_FOUND, "FILE_NOT_FOUND", "File not found", 7, 0 },
};

#define RESULT_NCODES (sizeof(result_table) / sizeof(result_table[0]))

static const int result_code_list[RESULT_NCODES] = {
    RESULT_OK, RESULT_JOB_STARTED, RESULT_FAILED, RESULT_ACCESS_DENIED,
    RESULT_NOT_SUPPORTED, RESULT_STATUS_UNKNOWN, RESULT_TIMEOUT,
    RESULT_INVALID_PARAMETER, RESULT_IN_USE, RESULT_INVALID_STATE,
    RESULT_INCORRECT_TYPE, RESULT_NOT_AVAILABLE, RESULT_OUT_OF_MEMORY,
    RESULT_FILE_NOT_FOUND,
};

/* The one table drover(1) and `drover decode` print.  Unknown codes exit 1
 * like 32768: the caller cannot know more about them than "failed". */
static const ResultExitRow result_exit_rows[] = {
    { 0, "0, 4096", "success (4096: the job was started and completed)" },
    { 1, "32768, 32771, 32778, other codes", "the operation failed, its status is unknown, or memory or disk space ran out" },
    { 2, "32773", "invalid parameter or command-line usage" },
    { 3, "32775", "invalid state for this operation" },
    { 4, "32774", "the VM is in use by another operation" },
    { 5, "32772, 32777", "timeout, or the host or VM is not available" },
    { 6, "32769", "access denied (permissions or read-only mode)" },
    { 7, "32776, 32779", "data or file problem: a record drover cannot read, or a missing file" },
    { 8, "32770", "not supported" },
    { 0, NULL, NULL },
};

/* errno -> code.  ELOOP is what O_NOFOLLOW gives on a symlink: drover
 * refuses to follow it, which is a permission matter, not a failure. */
static const ResultMapRow result_errno_rows[] = {
    { EACCES, "EACCES", RESULT_ACCESS_DENIED },
    { EPERM, "EPERM", RESULT_ACCESS_DENIED },
    { EROFS, "EROFS", RESULT_ACCESS_DENIED },
    { ELOOP, "ELOOP", RESULT_ACCESS_DENIED },
    { ENOENT, "ENOENT", RESULT_FILE_NOT_FOUND },
    { ENOTDIR, "ENOTDIR", RESULT_FILE_NOT_FOUND },
    { ENOMEM, "ENOMEM", RESULT_OUT_OF_MEMORY },
    { ENOSPC, "ENOSPC", RESULT_OUT_OF_MEMORY },
    { EDQUOT, "EDQUOT", RESULT_OUT_OF_MEMORY },
    { EBUSY, "EBUSY", RESULT_IN_USE },
    { EAGAIN, "EAGAIN", RESULT_IN_USE },
    { ETXTBSY, "ETXTBSY", RESULT_IN_USE },
    { ETIMEDOUT, "ETIMEDOUT", RESULT_TIMEOUT },
    { EINVAL, "EINVAL", RESULT_INVALID_PARAMETER },
    { ENAMETOOLONG, "ENAMETOOLONG", RESULT_INVALID_PARAMETER },
    { EEXIST, "EEXIST", RESULT_INVALID_STATE },
    { ENOTSUP, "ENOTSUP", RESULT_NOT_SUPPORTED },
    { ENOSYS, "ENOSYS", RESULT_NOT_SUPPORTED },
    { ECONNREFUSED, "ECONNREFUSED", RESULT_NOT_AVAILABLE },
    { ECONNRESET, "ECONNRESET", RESULT_NOT_AVAILABLE },
    { ECONNABORTED, "ECONNABORTED", RESULT_NOT_AVAILABLE },
    { EHOSTUNREACH, "EHOSTUNREACH", RESULT_NOT_AVAILABLE },
    { EHOSTDOWN, "EHOSTDOWN", RESULT_NOT_AVAILABLE },
    { ENETUNREACH, "ENETUNREACH", RESULT_NOT_AVAILABLE },
    { ENETDOWN, "ENETDOWN", RESULT_NOT_AVAILABLE },
    { ENOTCONN, "ENOTCONN", RESULT_NOT_AVAILABLE },
    { EPIPE, "EPIPE", RESULT_NOT_AVAILABLE },
    { 0, NULL, 0 },
};

/* libvirt virErrorNumber -> code (facts §9.4 plus the connection and
 * authentication errors).  Plain numbers: src/ outside hv never includes
 * libvirt; tests/test-result checks each against <libvirt/virterror.h>. */
static const ResultMapRow result_virt_rows[] = {
    { 1, "VIR_ERR_INTERNAL_ERROR", RESULT_FAILED },
    { 2, "VIR_ERR_NO_MEMORY", RESULT_OUT_OF_MEMORY },
    { 3, "VIR_ERR_NO_SUPPORT", RESULT_NOT_SUPPORTED },
    { 4, "VIR_ERR_UNKNOWN_HOST", RESULT_NOT_AVAILABLE },
    { 5, "VIR_ERR_NO_CONNECT", RESULT_NOT_AVAILABLE },
    { 8, "VIR_ERR_INVALID_ARG", RESULT_INVALID_PARAMETER },
    { 9, "VIR_ERR_OPERATION_FAILED", RESULT_FAILED },
    { 27, "VIR_ERR_XML_ERROR", RESULT_INCORRECT_TYPE },
    { 29, "VIR_ERR_OPERATION_DENIED", RESULT_ACCESS_DENIED },
    { 38, "VIR_ERR_SYSTEM_ERROR", RESULT_FAILED },
    { 39, "VIR_ERR_RPC", RESULT_NOT_AVAILABLE },
    { 42, "VIR_ERR_NO_DOMAIN", RESULT_NOT_AVAILABLE },
    { 45, "VIR_ERR_AUTH_FAILED", RESULT_ACCESS_DENIED },
    { 50, "VIR_ERR_NO_STORAGE_VOL", RESULT_FILE_NOT_FOUND },
    { 55, "VIR_ERR_OPERATION_INVALID", RESULT_INVALID_STATE },
    { 67, "VIR_ERR_CONFIG_UNSUPPORTED", RESULT_NOT_SUPPORTED },
    { 68, "VIR_ERR_OPERATION_TIMEOUT", RESULT_TIMEOUT },
    { 72, "VIR_ERR_NO_DOMAIN_SNAPSHOT", RESULT_FILE_NOT_FOUND },
    { 74, "VIR_ERR_ARGUMENT_UNSUPPORTED", RESULT_NOT_SUPPORTED },
    { 79, "VIR_ERR_AUTH_CANCELLED", RESULT_ACCESS_DENIED },
    { 80, "VIR_ERR_NO_DOMAIN_METADATA", RESULT_STATUS_UNKNOWN },
    { 83, "VIR_ERR_BLOCK_COPY_ACTIVE", RESULT_IN_USE },
    { 84, "VIR_ERR_OPERATION_UNSUPPORTED", RESULT_NOT_SUPPORTED },
    { 85, "VIR_ERR_SSH", RESULT_NOT_AVAILABLE },
    { 86, "VIR_ERR_AGENT_UNRESPONSIVE", RESULT_NOT_AVAILABLE },
    { 87, "VIR_ERR_RESOURCE_BUSY", RESULT_IN_USE },
    { 88, "VIR_ERR_ACCESS_DENIED", RESULT_ACCESS_DENIED },
    { 94, "VIR_ERR_AUTH_UNAVAILABLE", RESULT_ACCESS_DENIED },
    { 98, "VIR_ERR_LIBSSH", RESULT_NOT_AVAILABLE },
    { 0, NULL, 0 },
};

/* libvirt numbers the decoder refines its advice on. */
enum {
    VIRT_NO_MEMORY = 2,
    VIRT_OPERATION_DENIED = 29,
    VIRT_NO_DOMAIN = 42,
    VIRT_AUTH_FAILED = 45,
    VIRT_OPERATION_INVALID = 55,
    VIRT_AUTH_CANCELLED = 79,
    VIRT_BLOCK_COPY_ACTIVE = 83,
    VIRT_AGENT_UNRESPONSIVE = 86,
    VIRT_AUTH_UNAVAILABLE = 94,
};

static const ResultCode *
result_lookup(int code)
{
    size_t i;

    for (i = 0; i < RESULT_NCODES; i++)
        if (result_table[i].code == code)
            return &result_table[i];
    return NULL;
}

static const ResultMapRow *
result_map_lookup(const ResultMapRow *rows, int from)
{
    for (; rows->name; rows++)
        if (rows->from == from)
            return rows;
    return NULL;
}

const char *
result_name(int code)
{
    const ResultCode *rc = result_lookup(code);

    return rc ? rc->name : NULL;
}

int
result_is_known(int code)
{
    return result_lookup(code) != NULL;
}

const char *
result_symbol(int code)
{
    const ResultCode *rc = result_lookup(code);

    return rc ? rc->symbol : NULL;
}

const int *
result_codes(size_t *count)
{
    if (count)
        *count = RESULT_NCODES;
    return result_code_list;
}

const ResultMapRow *
result_errno_table(void)
{
    return result_errno_rows;
}

const ResultMapRow *
result_virt_table(void)
{
    return result_virt_rows;
}

int
result_from_errno(int errnum)
{
    const ResultMapRow *row;

    if (errnum == 0)
        return RESULT_OK;
    row = result_map_lookup(result_errno_rows, errnum);
    return row ? row->code : RESULT_FAILED;
}

int
result_from_virt(int virt_code)
{
    const ResultMapRow *row;

    if (virt_code == 0)
        return RESULT_OK;
    row = result_map_lookup(result_virt_rows, virt_code);
    return row ? row->code : RESULT_FAILED;
}

const char *
result_virt_name(int virt_code)
{
    const ResultMapRow *row = result_map_lookup(result_virt_rows, virt_code);

    return row ? row->name : NULL;
}

int
result_exit_status(int code)
{
    const ResultCode *rc = result_lookup(code);

    return rc ? rc->exit_status : 1;
}

const ResultExitRow *
result_exit_table(void)
{
    return result_exit_rows;
}

/* ---- decoder ---- */

/* Titles for the command names, so a summary reads "Revert failover of
 * web01" whoever calls the decoder. */
static const struct {
    const char *op;
    const char *title;
} result_op_titles[] = {
    { "failover", "Initiate failover" },
    { "initiate", "Initiate failover" },
    { "revert", "Revert failover" },
    { "commit", "Commit failover" },
    { "test-failover", "Test failover" },
    { "stop-test", "Stop test failover" },
};

/* "Revert failover of web01 on dr-b", "The operation on dr-b", ... */
static char *
result_subject(const ResultCtx *ctx)
{
    UtilBuf b = { 0 };
    const char *op = ctx->op && *ctx->op ? ctx->op : NULL;
    const char *vm = ctx->vm && *ctx->vm ? ctx->vm : NULL;
    const char *host = ctx->host && *ctx->host ? ctx->host : NULL;
    size_t i;

    if (op) {
        const char *title = NULL;

        for (i = 0; i < sizeof(result_op_titles) / sizeof(result_op_titles[0]); i++)
            if (strcmp(op, result_op_titles[i].op) == 0)
                title = result_op_titles[i].title;
        if (title) {
            util_buf_add(&b, title);
        } else {
            /* Another command ("repair"): capitalise it, dashes as spaces. */
            for (i = 0; op[i]; i++) {
                char c = op[i] == '-' ? ' ' : op[i];

                if (i == 0 && c >= 'a' && c <= 'z')
                    c = (char)(c - 'a' + 'A');
                util_buf_addn(&b, &c, 1);
            }
        }
        if (vm)
            util_buf_printf(&b, " of %s", vm);
    } else {
        util_buf_add(&b, "The operation");
        if (vm)
            util_buf_printf(&b, " for %s", vm);
    }
    if (host)
        util_buf_printf(&b, " on %s", host);
    return util_buf_steal(&b);
}

static int
result_is_space_errno(int errnum)
{
    return errnum == ENOSPC || errnum == EDQUOT;
}

/* 32774 because a disk chain uses a file, not because a lock is held. */
static int
result_file_in_use(const ResultCtx *ctx)
{
    return ctx->code == RESULT_IN_USE && (ctx->hints & RESULT_HINT_FILE_IN_USE);
}

/* 32774 because another writer changed the definition during the operation. */
static int
result_definition_changed(const ResultCtx *ctx)
{
    return ctx->code == RESULT_IN_USE && (ctx->hints & RESULT_HINT_DEFINITION_CHANGED);
}

/* What happened, after the subject. */
static const char *
result_outcome(const ResultCtx *ctx)
{
    switch (ctx->code) {
    case RESULT_OK:
        return "completed";
    case RESULT_JOB_STARTED:
        return "was accepted and started as a job";
    case RESULT_FAILED:
        return "failed";
    case RESULT_ACCESS_DENIED:
        return "was refused: access was denied";
    case RESULT_NOT_SUPPORTED:
        return "was refused: it is not supported for this VM or host";
    case RESULT_STATUS_UNKNOWN:
        return "could not go ahead: the replica's state could not be determined";
    case RESULT_TIMEOUT:
        return "timed out";
    case RESULT_INVALID_PARAMETER:
        return "was refused: a parameter is invalid";
    case RESULT_IN_USE:
        if (result_file_in_use(ctx))
            return "was refused: a file it would delete is in use by a disk chain";
        if (result_definition_changed(ctx))
            return "was stopped: another writer changed the VM's definition meanwhile";
        return "was refused: the VM is in use by another operation";
    case RESULT_INVALID_STATE:
        if (ctx->hints & RESULT_HINT_PRIMARY_RUNS)
            return "was refused: its primary still runs, and both would run (split brain)";
        return "was refused: the replica is not in a state that allows it";
    case RESULT_INCORRECT_TYPE:
        return "was refused: a record holds data drover cannot read";
    case RESULT_NOT_AVAILABLE:
        return "failed: the VM or its host is not available";
    case RESULT_OUT_OF_MEMORY:
        if (result_is_space_errno(ctx->sys_errno))
            return "failed: the host ran out of disk space";
        if (ctx->sys_errno == ENOMEM || ctx->virt_code == VIRT_NO_MEMORY)
            return "failed: the host ran out of memory";
        return "failed: the host ran out of memory or disk space";
    case RESULT_FILE_NOT_FOUND:
        return "failed: a file it needs was not found";
    default:
        return NULL;
    }
}

static char *
result_summary(const ResultCtx *ctx)
{
    UTIL_AUTOFREE char *subj = result_subject(ctx);
    const char *outcome = result_outcome(ctx);

    if (!outcome)
        return util_xasprintf("%s ended with code %d, which is not one of drover's result codes.",
                              subj, ctx->code);
    return util_xasprintf("%s %s.", subj, outcome);
}

static void
result_join(UtilBuf *b, const char *part)
{
    if (b->len)
        util_buf_add(b, "; ");
    util_buf_add(b, part);
}

static int
result_contains(const char *hay, const char *needle)
{
    return hay && needle && *needle && strstr(hay, needle) != NULL;
}

/* The detail, the libvirt error and the errno, without repeating a text
 * err_set_virt()/err_set_errno() already appended to the detail. */
static char *
result_cause(const ResultCtx *ctx)
{
    UtilBuf b = { 0 };
    const char *detail = ctx->detail && *ctx->detail ? ctx->detail : NULL;
    const char *vmsg = ctx->virt_msg && *ctx->virt_msg ? ctx->virt_msg : NULL;
    char *part;

    if (detail)
        result_join(&b, detail);
    if (ctx->virt_code || vmsg) {
        const char *vname = result_virt_name(ctx->virt_code);
        int show_msg = vmsg && !result_contains(detail, vmsg);

        if (!ctx->virt_code)
            part = util_xasprintf("libvirt: %s", vmsg);
        else if (vname)
            part = util_xasprintf("libvirt error %s (%d)%s%s", vname, ctx->virt_code,
                                  show_msg ? ": " : "", show_msg ? vmsg : "");
        else
            part = util_xasprintf("libvirt error %d%s%s", ctx->virt_code,
                                  show_msg ? ": " : "", show_msg ? vmsg : "");
        result_join(&b, part);
        free(part);
    }
    if (ctx->sys_errno) {
        char ebuf[256];
        const char *text = strerror_r(ctx->sys_errno, ebuf, sizeof(ebuf));
        const ResultMapRow *row = result_map_lookup(result_errno_rows, ctx->sys_errno);
        int show_text = !result_contains(detail, text);

        if (row)
            part = util_xasprintf("system error %s%s%s%s", row->name,
                                  show_text ? " (" : "", show_text ? text : "",
                                  show_text ? ")" : "");
        else
            part = util_xasprintf("system error %d%s%s%s", ctx->sys_errno,
                                  show_text ? " (" : "", show_text ? text : "",
                                  show_text ? ")" : "");
        result_join(&b, part);
        free(part);
    }
    if (!b.len)
        util_buf_add(&b, "no further detail");
    return util_buf_steal(&b);
}

static int
result_detail_mentions_format(const char *detail)
{
    return detail && (strstr(detail, "format") || strstr(detail, "Format"));
}

/* The detail says the operation left its journal behind. */
static int
result_needs_repair(const ResultCtx *ctx)
{
    return ctx->code != RESULT_OK && ctx->code != RESULT_JOB_STARTED &&
           (ctx->hints & RESULT_HINT_REPAIR);
}

/* The console's operator has keys, not a shell. */
char *
result_console_next_step(const ResultCtx *ctx)
{
    const char *vm = ctx->vm && *ctx->vm ? ctx->vm : "the VM";
    const char *host = ctx->host && *ctx->host ? ctx->host : "the host";
    int v = ctx->virt_code;

    if (result_needs_repair(ctx))
        return util_xasprintf("Press R on %s once %s answers: repair finishes or undoes the interrupted "
                              "operation; until then every operation on %s is refused.", vm, host, vm);
    switch (ctx->code) {
    case RESULT_OK:
        return util_xasprintf("Nothing to do; the row of %s shows its new state, Enter its details.", vm);
    case RESULT_JOB_STARTED:
        return util_xstrdup("J shows the job; its decoded result appears here when it ends.");
    case RESULT_FAILED:
    case RESULT_STATUS_UNKNOWN:
        return util_xasprintf("Read the cause, then press Enter on %s: its details check the record against "
                              "the disk chains (health), and R repairs an interrupted operation; act again "
                              "only once the state is known. J keeps the job's details.", vm);
    case RESULT_TIMEOUT:
        return util_xasprintf("No answer in time from %s or a libvirt job on %s: J shows the jobs; try again "
                              "once the host is less busy (the plan is made afresh).", host, vm);
    case RESULT_INVALID_PARAMETER:
        return util_xasprintf("Choose another recovery point: f and t list the points of %s (Enter shows "
                              "them too).", vm);
    case RESULT_ACCESS_DENIED:
        if (ctx->sys_errno == ELOOP)
            return util_xasprintf("A replica file of %s is a symbolic link, and drover never follows links "
                                  "when it changes or deletes files: Enter on %s shows its chains; replace "
                                  "the link with the real file.", vm, vm);
        return NULL;
    case RESULT_INCORRECT_TYPE:
        return util_xasprintf("drover refuses to guess at data it cannot read: Enter on %s shows what in its "
                              "replica record is wrong; if a newer drover wrote it, upgrade drover.", vm);
    case RESULT_IN_USE:
        if (v == VIRT_BLOCK_COPY_ACTIVE)
            return util_xasprintf("A libvirt block job is active on %s: wait for it to finish (J shows "
                                  "drover's own jobs), then try again.", vm);
        if (result_file_in_use(ctx))
            return util_xasprintf("Another disk chain (another domain's disk, or a layer built on this file) "
                                  "uses the file named in the cause: move that disk off the file, then try "
                                  "again; drover never deletes a file a chain uses.");
        /* Other causes named by a hint keep the common text. */
        if (ctx->hints)
            return NULL;
        return util_xasprintf("Another operation holds %s: J shows which job, who started it and since "
                              "when; try again once it ends.", vm);
    case RESULT_INVALID_STATE:
        if (ctx->hints & RESULT_HINT_PRIMARY_RUNS)
            return util_xasprintf("Shut the primary VM down on its host (the cause names it), then press f "
                                  "again; if it is cut off from its users and storage, fail over on the "
                                  "command line: drover failover %s --force --reason TEXT.", vm);
        if (v == VIRT_OPERATION_INVALID)
            return util_xasprintf("libvirt refused because of the domain's state (for example it is running): "
                                  "Enter shows %s's power; shut it off or let the operation power it off, "
                                  "then try again.", vm);
        return util_xasprintf("The cause names the states that allow it; the key hint below the table "
                              "shows what %s allows now (r revert, c commit, T stop the test system).", vm);
    case RESULT_NOT_AVAILABLE:
        if (v == VIRT_NO_DOMAIN)
            return util_xasprintf("%s was not found on %s: it may have been undefined, renamed or moved; "
                                  "Ctrl-R refreshes the table.", vm, host);
        if (v == VIRT_AGENT_UNRESPONSIVE)
            return NULL;
        return util_xasprintf("The title line shows the connection to %s; drover reconnects by itself "
                              "(Ctrl-R: now), so try again once the host answers.", host);
    case RESULT_FILE_NOT_FOUND:
        return util_xasprintf("Enter on %s shows which recovery point, overlay or disk file is missing "
                              "(health); restore it, or press R if an operation was interrupted. Trying "
                              "again fails the same way until then.", vm);
    default:
        return NULL;
    }
}

static char *
result_next_step(const ResultCtx *ctx)
{
    const char *vm = ctx->vm && *ctx->vm ? ctx->vm : "VM";
    const char *host = ctx->host && *ctx->host ? ctx->host : "the host";
    int e = ctx->sys_errno;
    int v = ctx->virt_code;

    /* Whatever the code, an operation that stopped half way leaves a journal
     * that only repair clears: that is the next step. */
    if (result_needs_repair(ctx))
        return util_xasprintf("Run `drover repair %s` once %s answers: it finishes or undoes the "
                              "interrupted operation; until then every operation on %s is refused.",
                              vm, host, vm);
    switch (ctx->code) {
    case RESULT_OK:
        if (ctx->vm && *ctx->vm)
            return util_xasprintf("Nothing to do; `drover show %s` shows the resulting state.", vm);
        return util_xstrdup("Nothing to do.");
    case RESULT_JOB_STARTED:
        return util_xstrdup("Follow the job with `drover jobs`; its final result is decoded when it finishes.");
    case RESULT_FAILED:
        return util_xasprintf("Read the cause, then run `drover check %s` to verify the record and disk "
                              "chains (and `drover repair %s` if an operation was interrupted) before "
                              "trying again; `drover jobs` keeps the job's details.", vm, vm);
    case RESULT_ACCESS_DENIED:
        if (v == VIRT_OPERATION_DENIED)
            return util_xasprintf("The libvirt connection to %s is read-only: drop --readonly, or the "
                                  "read-only setting of that host in drover.conf, if you mean to change it.",
                                  host);
        if (v == VIRT_AUTH_FAILED || v == VIRT_AUTH_CANCELLED || v == VIRT_AUTH_UNAVAILABLE)
            return util_xasprintf("Authentication to %s failed: check the credentials or SSH keys for its "
                                  "libvirt URI in drover.conf, then try again.", host);
        if (e == EROFS)
            return util_xasprintf("The file system holding the replica directory of %s on %s is mounted "
                                  "read-only: remount it read-write before trying again.", vm, host);
        if (e == ELOOP)
            return util_xasprintf("A replica file of %s is a symbolic link, and drover never follows links "
                                  "when it changes or deletes files: run `drover check %s` and replace the "
                                  "link with the real file.", vm, vm);
        return util_xasprintf("Check permissions: the user running drover must be able to write the replica "
                              "directory of %s and manage domains on %s (qemu:///system needs root or the "
                              "libvirt group). Check read-only mode too: --readonly, or a host marked "
                              "read-only in drover.conf, refuses every change.", vm, host);
    case RESULT_NOT_SUPPORTED:
        return util_xasprintf("drover or the host cannot do this for %s (for example a disk that is not a "
                              "file-backed qcow2 image, or a libvirt or QEMU feature missing on %s); the "
                              "cause says what was refused. Change the configuration; retrying will not help.",
                              vm, host);
    case RESULT_STATUS_UNKNOWN:
        return util_xasprintf("Run `drover check %s` to compare the replica record with the disks, and "
                              "`drover repair %s` if an operation was interrupted; act again only once "
                              "the state is known.", vm, vm);
    case RESULT_TIMEOUT:
        return util_xasprintf("No answer in time from %s or a libvirt job on %s: look at `drover jobs` and "
                              "the host's load, then try again; drover plans afresh and refuses if anything "
                              "changed meanwhile.", host, vm);
    case RESULT_INVALID_PARAMETER:
        return util_xasprintf("Check the arguments: the VM name, and that --point names an existing "
                              "recovery point (`drover show %s` lists them); `drover --help` shows the options.",
                              vm);
    case RESULT_IN_USE:
        if (v == VIRT_BLOCK_COPY_ACTIVE)
            return util_xasprintf("A libvirt block job is active on %s (see `virsh blockjob %s DISK --info`): "
                                  "wait for it to finish, or look at `drover jobs` if drover started it, "
                                  "then try again.", vm, vm);
        if (result_file_in_use(ctx))
            return util_xasprintf("Another disk chain (another domain's disk, or a layer built on this file) "
                                  "uses the file named in the cause: find it with `drover check` or `virsh "
                                  "domblklist`, move that disk off the file, then try again; drover never "
                                  "deletes a file a chain uses.");
        if (result_definition_changed(ctx))
            return util_xasprintf("Another writer (virsh edit, replication, another application) changed "
                                  "%s's definition while drover worked on it, and drover kept that change "
                                  "(the cause names it): look at %s (`drover show %s`), then run the "
                                  "operation again; it plans on the new definition.", vm, vm, vm);
        return util_xasprintf("Another operation holds %s: wait for it to finish, or look at `drover jobs` "
                              "to see which job holds it, who started it and since when; then try again.", vm);
    case RESULT_INVALID_STATE:
        if (ctx->hints & RESULT_HINT_PRIMARY_RUNS)
            return util_xasprintf("Shut the primary VM down on its host (the cause names it and its URI), "
                                  "then run the failover again; if it is cut off from its users and storage, "
                                  "drover failover %s --force --reason TEXT overrides the guard (audited).",
                                  vm);
        if (v == VIRT_OPERATION_INVALID)
            return util_xasprintf("libvirt refused because of the domain's current state (for example it is "
                                  "running): check it with `drover show %s`, shut it off or let the operation "
                                  "power it off, then try again.", vm);
        return util_xasprintf("Check the state with `drover show %s`: the cause names the states that allow "
                              "this operation. Bring the replica into one of them first (for example revert "
                              "or commit a failover, or stop the test system); running it again as is will "
                              "be refused the same way.", vm);
    case RESULT_INCORRECT_TYPE:
        if (result_detail_mentions_format(ctx->detail))
            return util_xasprintf("The replica record of %s has a format this drover does not know, and "
                                  "drover refuses to guess: upgrade drover, or inspect the record with "
                                  "`virsh metadata %s urn:drover:replica:1`.", vm, vm);
        return util_xasprintf("drover refuses to guess at data it cannot read: inspect the replica record "
                              "with `virsh metadata %s urn:drover:replica:1` and run `drover check %s`; if "
                              "the record was written by a newer drover, upgrade drover.", vm, vm);
    case RESULT_NOT_AVAILABLE:
        if (v == VIRT_NO_DOMAIN)
            return util_xasprintf("%s was not found on %s: it may have been undefined, renamed or moved. "
                                  "Refresh with `drover list` before trying again.", vm, host);
        if (v == VIRT_AGENT_UNRESPONSIVE)
            return util_xasprintf("The guest agent in %s did not answer: check that it runs in the guest, "
                                  "or power the VM off and try again.", vm);
        return util_xasprintf("Check the connection to %s (network, libvirtd running there, the URI in "
                              "drover.conf); drover reconnects by itself, so try again once the host answers.",
                              host);
    case RESULT_OUT_OF_MEMORY:
        if (e == EDQUOT)
            return util_xasprintf("Free space in the replica directory of %s on %s, or raise the disk quota, "
                                  "then try again; failover and test overlays grow as the VM writes.", vm, host);
        if (e == ENOSPC)
            return util_xasprintf("Free space in the replica directory of %s on %s, then try again; failover "
                                  "and test overlays grow as the VM writes.", vm, host);
        if (e == ENOMEM || v == VIRT_NO_MEMORY)
            return util_xasprintf("Free memory on %s (stop other processes or VMs), then try again.", host);
        return util_xasprintf("Free memory on %s, and space in the replica directory of %s, then try again.",
                              host, vm);
    case RESULT_FILE_NOT_FOUND:
        return util_xasprintf("Run `drover check %s` to see which recovery point, overlay or disk file is "
                              "missing; restore it or run `drover repair %s`. Trying again fails the same "
                              "way until then.", vm, vm);
    default:
        return util_xstrdup("Find out where the code came from: `drover decode` lists drover's codes; a "
                            "code from another tool (a job cancel call uses a different numbering) must "
                            "be decoded there.");
    }
}

void
result_decode(const ResultCtx *ctx, ResultInfo *info)
{
    static const ResultCtx none;
    const ResultCode *rc;

    if (!ctx)
        ctx = &none;
    rc = result_lookup(ctx->code);
    memset(info, 0, sizeof(*info));
    info->code = ctx->code;
    info->name = rc ? rc->name : "Unknown result code";
    info->summary = result_summary(ctx);
    info->cause = result_cause(ctx);
    info->next_step = result_next_step(ctx);
    /* A refusal changed nothing: trying again cannot make it worse, whatever
     * the code (issue 12), unless a journal waits for repair first. */
    if (result_needs_repair(ctx))
        info->retry_safe = 0;
    else if (ctx->code != RESULT_OK && (ctx->hints & RESULT_HINT_REFUSED))
        info->retry_safe = 1;
    else
        info->retry_safe = rc ? rc->retry_safe : 0;
}

void
result_info_clear(ResultInfo *info)
{
    if (!info)
        return;
    free(info->summary);
    free(info->cause);
    free(info->next_step);
    memset(info, 0, sizeof(*info));
}
