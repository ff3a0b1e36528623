/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What test-hv-fleet and test-hv-conn share (test-hv.h): a fleet file of
 * numbered domains, and a private libvirtd (tests/hosts-lib.sh) that serves
 * it, started and killed. */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "tap.h"
#include "test-hv.h"

/* A fleet file of n domains vm000..., each with a record that names it
 * (n='NUMBER'); 0 or -1. */
int
write_numbered_fleet(const char *path, size_t n)
{
    FILE *f = fopen(path, "w");
    size_t i;

    if (!f)
        return -1;
    fputs("<node>\n", f);
    for (i = 0; i < n; i++)
        fprintf(f, "  <domain type='test'><name>vm%03zu</name>"
                "<uuid>8d3a1c2e-0000-4000-8000-%012zx</uuid><memory>65536</memory>"
                "<os><type>hvm</type></os><metadata><r:replica xmlns:r='urn:drover:replica:1' "
                "n='%zu'/></metadata></domain>\n", i, i + 1, i);
    fputs("</node>\n", f);
    return fclose(f) == 0 ? 0 : -1;
}

/* The state letter of a /proc stat file (R, S, Z, ...), or 0 when there
 * is none to read. */
char
proc_state(const char *path)
{
    char buf[512];
    const char *st;
    FILE *f;
    size_t n;

    if (!(f = fopen(path, "r")))
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    st = strrchr(buf, ')');
    return st && st[1] ? st[2] : 0;
}

/* Process pid is gone (or a zombie): its sockets are closed. */
static int
gone(pid_t pid)
{
    char path[64], st;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    st = proc_state(path);
    return !st || st == 'Z' || st == 'X';
}

/* Whether a private libvirtd can run here (tests/hosts-lib.sh). */
int
daemon_usable(const char *top)
{
    return top && geteuid() == 0 &&
           tap_system(". '%s/tests/hosts-lib.sh' && hosts_require", top) == 0;
}

/* Starts one private libvirtd under hd (its socket hd/h1/s/libvirt-sock):
 * its pid, or 0 when it did not start. */
pid_t
daemon_start(const char *top, const char *hd)
{
    UTIL_AUTOFREE char *pidfile = util_xasprintf("%s/h1/libvirtd.pid", hd);
    FILE *f;
    long pid = 0;

    if (tap_system(". '%s/tests/hosts-lib.sh' && hosts_require && hosts_start '%s' 1", top, hd) != 0)
        return 0;
    if ((f = fopen(pidfile, "r"))) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return (pid_t)pid;
}

/* SIGKILL, and waits until it is gone: 0, or -1. */
int
kill_daemon(pid_t pid)
{
    int64_t end = util_mono_ms() + WAIT_MS;

    if (pid <= 0 || kill(pid, SIGKILL) < 0)
        return -1;
    while (!gone(pid) && util_mono_ms() < end)
        usleep(10000);
    return gone(pid) ? 0 : -1;
}

struct timespec
rt_deadline(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += WAIT_MS / 1000;
    return ts;
}

int
wait_flag(pthread_mutex_t *mu, pthread_cond_t *cv, const int *flag, int above)
{
    struct timespec until = rt_deadline();
    int r;

    pthread_mutex_lock(mu);
    while (*flag <= above && pthread_cond_timedwait(cv, mu, &until) != ETIMEDOUT)
        ;
    r = *flag > above;
    pthread_mutex_unlock(mu);
    return r;
}

int
task_in_poll(pid_t tid)
{
    char path[64];
    long nr = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/self/task/%ld/syscall", (long)tid);
    if (!(f = fopen(path, "r")))
        return 0;
    if (fscanf(f, "%ld", &nr) != 1)
        nr = -1;
    fclose(f);
    return nr == SYS_poll || nr == SYS_ppoll;
}

int
thread_waits_in(pthread_mutex_t *mu, const pid_t *tid, const int *done, int (*in)(pid_t tid),
                int *was_done)
{
    int64_t end = util_mono_ms() + WAIT_MS;
    pid_t t;
    int d;

    if (was_done)
        *was_done = 0;
    /* What a thread waits in shows only in /proc, which tells nobody:
     * looked at every 10 ms. */
    while (util_mono_ms() < end) {
        pthread_mutex_lock(mu);
        t = *tid;
        d = done ? *done : 0;
        pthread_mutex_unlock(mu);
        if (was_done)
            *was_done = d;
        if (d)
            return 0;
        if (t && in(t))
            return 1;
        usleep(10000);
    }
    return 0;
}
