/* SPDX-License-Identifier: GPL-2.0-or-later */
/* err: the calling thread's last error. */
#include <config.h>

#include "base/err.h"

#include <stdio.h>
#include <string.h>

#include "base/result.h"
#include "base/util.h"

static _Thread_local ErrInfo err_cur;

static void
err_vformat(const char *fmt, va_list ap)
{
    vsnprintf(err_cur.message, sizeof(err_cur.message), fmt, ap);
}

void
err_set(int code, const char *fmt, ...)
{
    va_list ap;

    memset(&err_cur, 0, sizeof(err_cur));
    err_cur.code = code ? code : RESULT_FAILED;
    va_start(ap, fmt);
    err_vformat(fmt, ap);
    va_end(ap);
}

void
err_set_errno(int code, int errnum, const char *fmt, ...)
{
    va_list ap;
    size_t n;
    char ebuf[256];

    memset(&err_cur, 0, sizeof(err_cur));
    err_cur.code = code ? code : result_from_errno(errnum);
    err_cur.sys_errno = errnum;
    va_start(ap, fmt);
    err_vformat(fmt, ap);
    va_end(ap);
    n = strlen(err_cur.message);
    snprintf(err_cur.message + n, sizeof(err_cur.message) - n, ": %s",
             strerror_r(errnum, ebuf, sizeof(ebuf)));
}

void
err_set_virt(int virt_code, const char *virt_msg, const char *fmt, ...)
{
    va_list ap;
    size_t n;

    memset(&err_cur, 0, sizeof(err_cur));
    err_cur.code = result_from_virt(virt_code);
    err_cur.virt_code = virt_code;
    util_strlcpy(err_cur.virt_msg, virt_msg ? virt_msg : "", sizeof(err_cur.virt_msg));
    va_start(ap, fmt);
    err_vformat(fmt, ap);
    va_end(ap);
    if (virt_msg && *virt_msg) {
        n = strlen(err_cur.message);
        snprintf(err_cur.message + n, sizeof(err_cur.message) - n, ": %s", virt_msg);
    }
}

void
err_hint(unsigned hints)
{
    err_cur.hints |= hints;
}

void
err_prefix(const char *fmt, ...)
{
    va_list ap;
    char ctx[512];
    char old[sizeof(err_cur.message)];
    size_t n;

    va_start(ap, fmt);
    vsnprintf(ctx, sizeof(ctx), fmt, ap);
    va_end(ap);
    memcpy(old, err_cur.message, sizeof(old));
    if (!err_cur.code)
        err_cur.code = RESULT_FAILED;
    /* Context first; the old message is cut at the end if it no longer fits. */
    n = util_strlcpy(err_cur.message, ctx, sizeof(err_cur.message));
    if (old[0] && n + 2 < sizeof(err_cur.message)) {
        util_strlcpy(err_cur.message + n, ": ", sizeof(err_cur.message) - n);
        util_strlcpy(err_cur.message + n + 2, old, sizeof(err_cur.message) - n - 2);
    }
}

const ErrInfo *
err_get(void)
{
    return &err_cur;
}

int
err_code(void)
{
    return err_cur.code;
}

const char *
err_message(void)
{
    return err_cur.message;
}

void
err_clear(void)
{
    memset(&err_cur, 0, sizeof(err_cur));
}

void
err_save(ErrInfo *dst)
{
    *dst = err_cur;
}

void
err_restore(const ErrInfo *src)
{
    err_cur = *src;
}

void
err_to_ctx(ResultCtx *ctx, const char *op, const char *vm, const char *host)
{
    err_info_to_ctx(ctx, err_get(), op, vm, host);
}

void
err_info_to_ctx(ResultCtx *ctx, const ErrInfo *e, const char *op, const char *vm,
                const char *host)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->code = e->code;
    ctx->op = op;
    ctx->vm = vm;
    ctx->host = host;
    ctx->virt_code = e->virt_code;
    ctx->virt_msg = e->virt_msg[0] ? e->virt_msg : NULL;
    ctx->sys_errno = e->sys_errno;
    ctx->detail = e->message[0] ? e->message : NULL;
    ctx->hints = e->hints;
}
