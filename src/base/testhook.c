/* SPDX-License-Identifier: GPL-2.0-or-later */
/* testhook: a pause point for tests. */
#include <config.h>

#include "base/testhook.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"

#define TESTHOOK_WAIT_MS (600 * 1000)

void
testhook_pause(const char *where)
{
    static char done[4096];     /* the DROVER_PAUSE_FILE paused for */
    static long reached;        /* of the point DROVER_PAUSE names */
    const char *point = getenv("DROVER_PAUSE");
    const char *path;
    struct stat st;
    char pid[32];
    int64_t end;
    int fd;

    size_t n = strlen(where);

    if (!point)
        return;
    /* DROVER_PAUSE="POINT:FILE": hold at POINT while the test's FILE exists
     * (the test made it beforehand and removes it to let the job go on). */
    if (strncmp(point, where, n) == 0 && point[n] == ':' && point[n + 1]) {
        end = util_mono_ms() + TESTHOOK_WAIT_MS;
        while (access(point + n + 1, F_OK) == 0 && util_mono_ms() < end)
            usleep(20000);
        return;
    }
    path = getenv("DROVER_PAUSE_FILE");
    /* Once per file: a test pauses one step, not every later pass (a test
     * program that pauses at another step names another file). */
    if (strncmp(point, where, n) != 0 || !path || !*path || strcmp(path, done) == 0)
        return;
    /* DROVER_PAUSE="POINT@N": the Nth time instead (a later round). */
    if (point[n] == '@') {
        if (++reached < strtol(point + n + 1, NULL, 10))
            return;
    } else if (point[n]) {
        return;
    }
    util_strlcpy(done, path, sizeof(done));
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    /* The file itself is the signal; its text only helps a reader. */
    if (write(fd, pid, strlen(pid)) < 0)
        errno = 0;
    close(fd);
    end = util_mono_ms() + TESTHOOK_WAIT_MS;
    while (stat(path, &st) == 0 && util_mono_ms() < end)
        usleep(20000);
}
