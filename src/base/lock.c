/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lock: one operation per replica across processes (OFD locks). */
#include <config.h>

#include "base/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"
#include "base/who.h"

struct LockHandle {
    int fd;
    char *path;
};

static int
lock_try(int fd, int wait)
{
    struct flock fl;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    return fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
}

/* The holder's one-line description: its length (0 when there is none). */
static size_t
lock_holder_text(int fd, char *buf, size_t size)
{
    ssize_t n = pread(fd, buf, size - 1, 0);

    if (n <= 0) {
        buf[0] = '\0';
        return 0;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return strlen(buf);
}

static LockHandle *
lock_open(const char *path, const char *holder, int timeout_ms)
{
    LockHandle *h;
    int fd;
    int64_t deadline = util_mono_ms() + timeout_ms;
    char text[512];
    char line[600];
    char when[32];

    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        err_set_errno(0, errno, "cannot open lock file %s", path);
        return NULL;
    }
    while (lock_try(fd, 0) < 0) {
        if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
            err_set_errno(0, errno, "cannot lock %s", path);
            close(fd);
            return NULL;
        }
        if (timeout_ms <= 0 || util_mono_ms() >= deadline) {
            /* The holder writes its description just after it locks and
             * clears it just before it unlocks: an empty file means one of
             * those moments, so look again (or take the lock) briefly. */
            int tries;
            for (tries = 0; tries < 10 && lock_holder_text(fd, text, sizeof(text)) == 0; tries++) {
                usleep(20000);
                if (lock_try(fd, 0) == 0)
                    goto locked;
            }
            if (!text[0])
                util_strlcpy(text, "another process (it has not described itself yet)", sizeof(text));
            err_set(RESULT_IN_USE, "held by %s", text);
            close(fd);
            return NULL;
        }
        usleep(20000);
    }
locked:
    util_format_time(util_now(), when, sizeof(when));
    snprintf(line, sizeof(line), "%s, since %s\n", holder ? holder : "unknown", when);
    if (ftruncate(fd, 0) < 0 || pwrite(fd, line, strlen(line), 0) < 0) {
        err_set_errno(0, errno, "cannot write lock file %s", path);
        close(fd);
        return NULL;
    }
    h = util_xcalloc(1, sizeof(*h));
    h->fd = fd;
    h->path = util_xstrdup(path);
    return h;
}

LockHandle *
lock_acquire(const char *path, const char *holder)
{
    return lock_open(path, holder, 0);
}

LockHandle *
lock_acquire_wait(const char *path, const char *holder, int timeout_ms)
{
    return lock_open(path, holder, timeout_ms);
}

void
lock_release(LockHandle *h)
{
    if (!h)
        return;
    /* Clear the description while still holding the lock, so a reader never
     * sees a holder that has gone. */
    if (ftruncate(h->fd, 0) < 0) {
        /* Nothing to do: the text is only informational. */
    }
    close(h->fd);
    free(h->path);
    free(h);
}

int
lock_probe(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    int tries;

    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        err_set_errno(0, errno, "cannot open lock file %s", path);
        return -1;
    }
    /* An empty description means the holder is just locking or unlocking:
     * look again briefly (see lock_open). */
    for (tries = 0; tries < 10; tries++) {
        struct flock fl;

        memset(&fl, 0, sizeof(fl));
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        if (fcntl(fd, F_OFD_GETLK, &fl) < 0) {
            err_set_errno(0, errno, "cannot query lock %s", path);
            close(fd);
            return -1;
        }
        if (fl.l_type == F_UNLCK) {
            close(fd);
            return 0;
        }
        if (lock_holder_text(fd, buf, size)) {
            close(fd);
            return 1;
        }
        usleep(20000);
    }
    util_strlcpy(buf, "another process (it has not described itself yet)", size);
    close(fd);
    return 1;
}

char *
lock_describe_self(void)
{
    WhoAmI w;

    who_get(&w);
    return who_describe(&w);
}
