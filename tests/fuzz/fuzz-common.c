/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-common: private directory, file and string helpers for the targets. */
#include <config.h>

#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"

static char *fuzz_tmp;
static pid_t fuzz_owner;

/* Removes the directory's files (the targets make no subdirectories that
 * outlive a run), then the directory; only in the process that made it, not
 * in a child that inherited the atexit handler. */
static void
fuzz_cleanup(void)
{
    DIR *d;
    struct dirent *e;

    if (!fuzz_tmp || getpid() != fuzz_owner)
        return;
    d = opendir(fuzz_tmp);
    if (d) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno == EISDIR)
                unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
        }
        closedir(d);
    }
    rmdir(fuzz_tmp);
    free(fuzz_tmp);
    fuzz_tmp = NULL;
}

const char *
fuzz_dir(void)
{
    struct stat st;
    const char *base;

    if (fuzz_tmp)
        return fuzz_tmp;
    if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
        base = "/dev/shm";
    else
        base = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    fuzz_tmp = util_xasprintf("%s/drover-fuzz.XXXXXX", base);
    if (!mkdtemp(fuzz_tmp)) {
        fprintf(stderr, "fuzz: cannot create %s: %s\n", fuzz_tmp, strerror(errno));
        exit(99);
    }
    fuzz_owner = getpid();
    atexit(fuzz_cleanup);
    return fuzz_tmp;
}

char *
fuzz_path(const char *name)
{
    return util_path_join(fuzz_dir(), name);
}

void
fuzz_write(const char *path, const void *data, size_t size)
{
    const char *p = data;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

    if (fd < 0) {
        fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
        exit(99);
    }
    while (size > 0) {
        ssize_t n = write(fd, p, size);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
            exit(99);
        }
        p += n;
        size -= (size_t)n;
    }
    close(fd);
}

char *
fuzz_string(const uint8_t *data, size_t size)
{
    char *s;

    if (size && memchr(data, '\0', size))
        return NULL;
    s = util_xmalloc(size + 1);
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

void
fuzz_fail(const char *fmt, ...)
{
    va_list ap;

    fputs("fuzz: invariant broken: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}
