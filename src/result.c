/* result: the seed's result codes and their decoder. */
#include <config.h>

#include "result.h"

#include <errno.h>

int
result_from_errno(int errnum)
{
    switch (errnum) {
    case 0: return RESULT_OK;
    case EACCES: case EPERM: case EROFS: case ELOOP: return RESULT_ACCESS_DENIED;
    case ENOENT: case ENOTDIR: return RESULT_FILE_NOT_FOUND;
    case ENOMEM: case ENOSPC: case EDQUOT: return RESULT_OUT_OF_MEMORY;
    case EBUSY: case EAGAIN: case ETXTBSY: return RESULT_IN_USE;
    case ETIMEDOUT: return RESULT_TIMEOUT;
    case EINVAL: case ENAMETOOLONG: return RESULT_INVALID_PARAMETER;
    case EEXIST: return RESULT_INVALID_STATE;
    case ENOTSUP: return RESULT_NOT_SUPPORTED;
    case ECONNREFUSED: case EHOSTUNREACH: case ENETUNREACH: case ECONNRESET: case EPIPE:
        return RESULT_NOT_AVAILABLE;
    default: return RESULT_FAILED;
    }
}

int
result_from_virt(int virt_code)
{
    switch (virt_code) {
    case 0: return RESULT_OK;
    case 88: return RESULT_ACCESS_DENIED;          /* VIR_ERR_ACCESS_DENIED */
    case 3: case 67: case 74: return RESULT_NOT_SUPPORTED;
    case 80: return RESULT_STATUS_UNKNOWN;         /* VIR_ERR_NO_DOMAIN_METADATA */
    case 68: return RESULT_TIMEOUT;                /* VIR_ERR_OPERATION_TIMEOUT */
    case 8: return RESULT_INVALID_PARAMETER;       /* VIR_ERR_INVALID_ARG */
    case 87: case 83: return RESULT_IN_USE;
    case 55: return RESULT_INVALID_STATE;          /* VIR_ERR_OPERATION_INVALID */
    case 27: return RESULT_INCORRECT_TYPE;         /* VIR_ERR_XML_ERROR */
    case 5: case 42: case 86: return RESULT_NOT_AVAILABLE;
    case 2: return RESULT_OUT_OF_MEMORY;
    case 50: case 72: return RESULT_FILE_NOT_FOUND;
    default: return RESULT_FAILED;
    }
}
