/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fsutil: durable file writes and directory helpers. */
#include <config.h>

#include "base/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"

int
fsutil_mkdirs(const char *dir, mode_t mode)
{
    UTIL_AUTOFREE char *copy = util_xstrdup(dir);
    char *p;

    for (p = copy + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(copy, mode) < 0 && errno != EEXIST) {
                err_set_errno(0, errno, "cannot create directory %s", copy);
                return -1;
            }
            *p = c;
            if (!c)
                break;
        }
    }
    return 0;
}

int
fsutil_mkdir_parents(const char *path, mode_t mode)
{
    UTIL_AUTOFREE char *dir = util_dirname(path);

    if (strcmp(dir, ".") == 0 || strcmp(dir, "/") == 0)
        return 0;
    return fsutil_mkdirs(dir, mode);
}

int
fsutil_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int ret = 0;

    if (fd < 0) {
        err_set_errno(0, errno, "cannot open directory %s", dir);
        return -1;
    }
    if (fsync(fd) < 0 && errno != EINVAL) {
        err_set_errno(0, errno, "cannot sync directory %s", dir);
        ret = -1;
    }
    close(fd);
    return ret;
}

int
fsutil_write_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
    UTIL_AUTOFREE char *dir = util_dirname(path);
    UTIL_AUTOFREE char *tmp = util_xasprintf("%s.tmp-XXXXXX", path);
    int fd;
    size_t off = 0;

    fd = mkstemp(tmp);
    if (fd < 0) {
        err_set_errno(0, errno, "cannot create a temporary file beside %s", path);
        return -1;
    }
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err_set_errno(0, errno, "cannot write %s", tmp);
            goto fail;
        }
        off += (size_t)n;
    }
    if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
        err_set_errno(0, errno, "cannot sync %s", tmp);
        goto fail;
    }
    if (close(fd) < 0) {
        fd = -1;
        err_set_errno(0, errno, "cannot close %s", tmp);
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        err_set_errno(0, errno, "cannot rename %s to %s", tmp, path);
        goto fail;
    }
    return fsutil_fsync_dir(dir);

fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return -1;
}

char *
fsutil_read_file(const char *path, size_t max, size_t *len)
{
    FILE *fp = fopen(path, "re");
    struct stat st;
    size_t cap, n = 0;
    char *buf;

    if (!fp) {
        err_set_errno(0, errno, "cannot open %s", path);
        return NULL;
    }
    /* Allocate for the file as it is (it may still grow), not for the limit. */
    cap = (fstat(fileno(fp), &st) == 0 && st.st_size >= 0 && (uint64_t)st.st_size <= max ?
           (size_t)st.st_size : 4096) + 2;
    buf = util_xmalloc(cap);
    for (;;) {
        size_t k;

        if (n + 1 >= cap) {
            if (n > max)
                break;
            cap = cap > (max + 2) / 2 ? max + 2 : cap * 2;
            buf = util_xrealloc(buf, cap);
        }
        k = fread(buf + n, 1, cap - 1 - n, fp);
        n += k;
        if (k == 0)
            break;
    }
    if (ferror(fp)) {
        err_set_errno(0, errno, "cannot read %s", path);
        fclose(fp);
        free(buf);
        return NULL;
    }
    fclose(fp);
    if (n > max) {
        err_set(RESULT_INVALID_PARAMETER, "%s is larger than %zu bytes", path, max);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

int
fsutil_same_version(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}
