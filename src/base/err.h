/* SPDX-License-Identifier: GPL-2.0-or-later */
/* err: the calling thread's last error.
 *
 * A function that fails returns -1 or NULL and leaves one error here.
 * Callers add context with err_prefix(); they do not report again. */
#ifndef DROVER_ERR_H
#define DROVER_ERR_H

#include <stdarg.h>

#include "base/result.h"

typedef struct {
    int code;               /* result code (result.h), 0 when there is no error */
    int sys_errno;          /* errno behind the error, 0 if none */
    int virt_code;          /* libvirt virErrorNumber behind it, 0 if none */
    char virt_msg[512];     /* libvirt's own message, "" if none */
    char message[1024];     /* what failed, with the context callers added */
    unsigned hints;         /* RESULT_HINT_*: facts the decoder needs beyond the code */
} ErrInfo;


/* Sets the error with an explicit result code. */
void err_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets the error from errnum: the code comes from result_from_errno() unless
 * code is non-zero; the message gets ": <strerror>" appended. */
void err_set_errno(int code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sets the error from a libvirt error number and message (hv passes them in,
 * so this module needs no libvirt header). */
void err_set_virt(int virt_code, const char *virt_msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds hints (RESULT_HINT_*) to the current error; err_set*() clear them. */
void err_hint(unsigned hints);
/* Prepends "context: " to the current message. */
void err_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

const ErrInfo *err_get(void);
int err_code(void);
const char *err_message(void);
void err_clear(void);
/* Copy the error out and back, e.g. around cleanup code that may fail. */
void err_save(ErrInfo *dst);
void err_restore(const ErrInfo *src);

/* Fills ctx for result_decode() from the calling thread's error plus op, vm,
 * host; the pointers lead into the thread's error: valid until it changes. */
void err_to_ctx(ResultCtx *ctx, const char *op, const char *vm, const char *host);
/* The same from a saved error; the pointers lead into e. */
void err_info_to_ctx(ResultCtx *ctx, const ErrInfo *e, const char *op, const char *vm,
                     const char *host);

#endif
