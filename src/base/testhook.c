/* SPDX-License-Identifier: GPL-2.0-or-later */
/* testhook: a pause point for tests. */
#include <config.h>

#include "base/testhook.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"

#define TESTHOOK_WAIT_MS (600 * 1000)

/* The points paused at, each with the DROVER_PAUSE_FILE it paused for:
 * "POINT FILE". */
#define TESTHOOK_DONE 8
static char testhook_done[TESTHOOK_DONE][4096];
static unsigned testhook_ndone;

/* The table and the count of "POINT@N" are shared: several threads may
 * reach one point at once (a round's two readers). */
static pthread_mutex_t testhook_mu = PTHREAD_MUTEX_INITIALIZER;

/* Whether where paused for path already; else notes that it does now. */
static int
testhook_once(const char *where, const char *path)
{
    char key[sizeof(testhook_done[0])];
    unsigned i;
    int seen = 0;

    snprintf(key, sizeof(key), "%s %s", where, path);
    pthread_mutex_lock(&testhook_mu);
    for (i = 0; i < TESTHOOK_DONE && !seen; i++)
        seen = strcmp(testhook_done[i], key) == 0;
    if (!seen)
        util_strlcpy(testhook_done[testhook_ndone++ % TESTHOOK_DONE], key, sizeof(key));
    pthread_mutex_unlock(&testhook_mu);
    return seen;
}

/* One point of DROVER_PAUSE: point is "POINT", "POINT@N" or "POINT:FILE". */
static void
testhook_pause_at(const char *point, const char *where)
{
    static long reached;        /* of the point DROVER_PAUSE names */
    const char *path;
    struct stat st;
    char pid[32];
    int64_t end;
    int fd;

    size_t n = strlen(where);

    /* DROVER_PAUSE="POINT:FILE": hold at POINT while the test's FILE exists
     * (the test made it beforehand and removes it to let the job go on). */
    if (strncmp(point, where, n) == 0 && point[n] == ':' && point[n + 1]) {
        end = util_mono_ms() + TESTHOOK_WAIT_MS;
        while (access(point + n + 1, F_OK) == 0 && util_mono_ms() < end)
            usleep(20000);
        return;
    }
    path = getenv("DROVER_PAUSE_FILE");
    /* Once per point and file: a test pauses one step, not every later
     * pass (a test program that pauses at it again names another file). */
    if (strncmp(point, where, n) != 0 || !path || !*path)
        return;
    /* DROVER_PAUSE="POINT@N": the Nth time instead (a later round). */
    if (point[n] == '@') {
        long k;

        pthread_mutex_lock(&testhook_mu);
        k = ++reached;
        pthread_mutex_unlock(&testhook_mu);
        if (k < strtol(point + n + 1, NULL, 10))
            return;
    } else if (point[n]) {
        return;
    }
    if (testhook_once(where, path))
        return;
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

void
testhook_pause(const char *where)
{
    const char *points = getenv("DROVER_PAUSE");
    char one[4096];

    /* Several points, separated by spaces: a test that holds a round
     * halfway and then at a later step names both. */
    while (points && *points) {
        size_t n = strcspn(points, " ");

        if (n && n < sizeof(one)) {
            memcpy(one, points, n);
            one[n] = '\0';
            testhook_pause_at(one, where);
        }
        points += n;
        points += strspn(points, " ");
    }
}
