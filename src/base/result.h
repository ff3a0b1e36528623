/* SPDX-License-Identifier: GPL-2.0-or-later */
/* result: the seed's result codes (Msvm_ReplicationService return values)
 * and a decoder that explains a code for one VM. */
#ifndef DROVER_RESULT_H
#define DROVER_RESULT_H

#include <stddef.h>


enum {
    RESULT_OK = 0,
    RESULT_JOB_STARTED = 4096,
    RESULT_FAILED = 32768,
    RESULT_ACCESS_DENIED = 32769,
    RESULT_NOT_SUPPORTED = 32770,
    RESULT_STATUS_UNKNOWN = 32771,
    RESULT_TIMEOUT = 32772,
    RESULT_INVALID_PARAMETER = 32773,
    RESULT_IN_USE = 32774,
    RESULT_INVALID_STATE = 32775,
    RESULT_INCORRECT_TYPE = 32776,
    RESULT_NOT_AVAILABLE = 32777,
    RESULT_OUT_OF_MEMORY = 32778,
    RESULT_FILE_NOT_FOUND = 32779,
};

/* The Microsoft name ("Invalid state for this operation"), or NULL when the
 * code is not one of the seed's. */
const char *result_name(int code);
int result_is_known(int code);
/* The symbolic name ("INVALID_STATE"), for JSON and logs; NULL if unknown. */
const char *result_symbol(int code);

/* Maps an errno value to a code (EACCES -> 32769, ENOENT -> 32779, ...). */
int result_from_errno(int errnum);
/* Maps a libvirt virErrorNumber to a code (VIR_ERR_OPERATION_INVALID -> 32775, ...).
 * Takes the plain number so callers need no libvirt header. */
int result_from_virt(int virt_code);
/* "VIR_ERR_OPERATION_INVALID" for the numbers the mapping names, else NULL. */
const char *result_virt_name(int virt_code);

/* Every known code in ascending order (0, 4096, 32768..32779); *count gets
 * how many there are. */
const int *result_codes(size_t *count);

/* One row of the errno or libvirt mapping: the number, its C name and the
 * code it maps to. */
typedef struct {
    int from;
    const char *name;       /* "ENOSPC", "VIR_ERR_RESOURCE_BUSY" */
    int code;
} ResultMapRow;
/* The mapping tables behind result_from_errno() and result_from_virt(),
 * terminated by a row with name == NULL.  Numbers not listed (other than 0,
 * which is RESULT_OK) map to RESULT_FAILED. */
const ResultMapRow *result_errno_table(void);
const ResultMapRow *result_virt_table(void);

/* Process exit status for a code: each class of code has its own status,
 * documented in drover(1) from the same table (result_exit_table). */
int result_exit_status(int code);

typedef struct {
    int status;             /* exit status */
    const char *codes;      /* "32775", "32769", ... as text */
    const char *meaning;
} ResultExitRow;
/* The exit-status table, terminated by a row with meaning == NULL. */
const ResultExitRow *result_exit_table(void);

/* What an error means for the operator's next step, beyond its code.  Set
 * where the fact is known, so no one has to read it back out of a message. */
enum {
    RESULT_HINT_REPAIR = 1 << 0,       /* an operation left its journal: only repair helps */
    RESULT_HINT_FILE_IN_USE = 1 << 1,  /* 32774 because a disk chain uses a file, not a lock */
    RESULT_HINT_PLAN_CHANGED = 1 << 2, /* the re-plan under the lock disagreed: nothing was done */
    RESULT_HINT_DEFINITION_CHANGED = 1 << 3, /* 32774 because another writer changed the
                                              * domain's definition while the operation ran */
    RESULT_HINT_PRIMARY_RUNS = 1 << 4, /* 32775 from the split-brain guard: the primary VM runs */
    RESULT_HINT_REFUSED = 1 << 5,      /* refused before anything was changed: a retry does no harm */
};

/* What the decoder knows about one failure. Every pointer may be NULL. */
typedef struct {
    int code;
    const char *op;         /* "revert", "failover", "commit", "test-failover", "stop-test", "repair", ... */
    const char *vm;
    const char *host;
    int virt_code;          /* 0 if none */
    const char *virt_msg;
    int sys_errno;          /* 0 if none */
    const char *detail;     /* our own message (err_message()), naming the file or field */
    unsigned hints;         /* RESULT_HINT_* */
} ResultCtx;

typedef struct {
    int code;
    const char *name;       /* static */
    char *summary;          /* one sentence about this VM: "Revert of web01 on dr-b was refused: ..." */
    char *cause;            /* libvirt error, errno text, our detail */
    char *next_step;        /* what the operator should do */
    int retry_safe;         /* 1 if running the same operation again cannot do harm */
} ResultInfo;

/* The next step as the console says it, naming its keys rather than
 * command lines (malloc'd); NULL where the command-line text names no
 * drover command and serves both. */
char *result_console_next_step(const ResultCtx *ctx);

/* Fills info for ctx; never fails for unknown codes (they decode as
 * "not a drover result code").  Free with result_info_clear(). */
void result_decode(const ResultCtx *ctx, ResultInfo *info);
void result_info_clear(ResultInfo *info);


#endif
