/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for a connection's life (private libvirtd daemons, libvirt's test
 * driver): the close callback against a reader, an event callback held
 * while its connection closes, a connect answered late, a reconnect to a
 * host that hangs. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <libvirt/libvirt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/util.h"
#include "hv/hv.h"
#include "tap.h"
#include "test-hv.h"

/* A thread that makes one call on a host: hv_is_alive (as a console
 * reader after a failed call), hv_reconnect (as a fetcher's round) or
 * hv_close; with its thread's id, whether it returned, and what. */
typedef struct {
    HvConn *c;
    int (*fn)(HvConn *c);
    pthread_mutex_t mu;
    pid_t tid;
    int done;
    int r;
} Caller;

static void *
caller_thread(void *arg)
{
    Caller *k = arg;
    int r;

    pthread_mutex_lock(&k->mu);
    k->tid = gettid();
    pthread_mutex_unlock(&k->mu);
    r = k->fn(k->c);
    err_clear();
    pthread_mutex_lock(&k->mu);
    k->r = r;
    k->done = 1;
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

static int
call_close(HvConn *c)
{
    hv_close(c);
    return 0;
}

/* Waits within ms for *flag, read under mu: its value. */
static int
wait_done(pthread_mutex_t *mu, const int *flag, int64_t ms)
{
    int64_t end = util_mono_ms() + ms;
    int v;

    for (;;) {
        pthread_mutex_lock(mu);
        v = *flag;
        pthread_mutex_unlock(mu);
        if (v || util_mono_ms() >= end)
            return v;
        usleep(10000);
    }
}

/* Thread tid of this process sleeps (waits on a lock, here). */
static int
task_sleeps(pid_t tid)
{
    char path[64];

    snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", (long)tid);
    return proc_state(path) == 'S';
}

/* libvirt calls hv_close_cb with the connection's close-callback lock
 * held, and the callback takes c->mu; a reader that finds the host dead
 * (hv_check_alive) unregisters that callback, which takes the same lock.
 * Were it to hold c->mu meanwhile, each would wait for the other for good:
 * a console whose host stays NOT RESPONDING after its daemon died
 * (tests/console-lost1.exp met it once in 22 runs).  Here the callback is
 * held at its start (the pause point) until the reader waits, then let go:
 * both must end. */
#define CLOSE_TESTS 6
static void
test_close_callback_against_reader(const char *dir)
{
    const char *top = getenv("top_srcdir");
    UTIL_AUTOFREE char *path = util_xasprintf("%s/close.xml", dir);
    UTIL_AUTOFREE char *hd = util_xasprintf("%s/dc", dir);
    UTIL_AUTOFREE char *pause_file = util_xasprintf("%s/close.pause", dir);
    UTIL_AUTOFREE char *uri = util_xasprintf("test+unix://%s?socket=%s/h1/s/libvirt-sock", path, hd);
    Caller k;
    pthread_t t;
    int64_t end;
    pid_t pid = 0;
    int held, sleeps = 0, done = 0, started;

    if (!daemon_usable(top)) {
        tap_skip(CLOSE_TESTS, "a private libvirtd: needs root, libvirtd and unshare");
        return;
    }
    memset(&k, 0, sizeof(k));
    pthread_mutex_init(&k.mu, NULL);
    k.fn = hv_is_alive;
    ok(write_numbered_fleet(path, 3) == 0 && (pid = daemon_start(top, hd)) > 0,
       "a private libvirtd serves a fleet of 3");
    /* With events: the close callback registered, libvirt's loop running. */
    k.c = hv_open(uri, 1);
    setenv("DROVER_PAUSE", "hv:close-callback", 1);
    setenv("DROVER_PAUSE_FILE", pause_file, 1);
    ok(k.c && hv_is_alive(k.c) && kill_daemon(pid) == 0, "connected, then the daemon killed");
    end = util_mono_ms() + WAIT_MS;
    while (!(held = access(pause_file, F_OK) == 0) && util_mono_ms() < end)
        usleep(10000);
    ok(held, "libvirt's loop calls the close callback, which is held at its start");
    started = pthread_create(&t, NULL, caller_thread, &k) == 0;
    /* The reader waits (on the close-callback lock) or is done already. */
    end = util_mono_ms() + WAIT_MS;
    while (started && util_mono_ms() < end) {
        pid_t tid;

        pthread_mutex_lock(&k.mu);
        tid = k.tid;
        done = k.done;
        pthread_mutex_unlock(&k.mu);
        if (done || (tid && (sleeps = task_sleeps(tid))))
            break;
        usleep(10000);
    }
    ok(started && (sleeps || done), "a reader checks the host meanwhile, and waits");
    unlink(pause_file);
    end = util_mono_ms() + WAIT_MS;
    while (started && util_mono_ms() < end) {
        pthread_mutex_lock(&k.mu);
        done = k.done;
        pthread_mutex_unlock(&k.mu);
        if (done)
            break;
        usleep(10000);
    }
    unsetenv("DROVER_PAUSE");
    unsetenv("DROVER_PAUSE_FILE");
    ok(done, "once the callback goes on, both end: the reader within %d s", WAIT_MS / 1000);
    ok(done && !k.r, "and the host is found not alive");
    tap_system(". '%s/tests/hosts-lib.sh'; HOSTS_DIR='%s'; HOSTS_N=1; hosts_stop", top, hd);
    if (!done)
        return;         /* deadlocked: the threads stay as they are */
    pthread_join(t, NULL);
    hv_close(k.c);
    pthread_mutex_destroy(&k.mu);
}

/* An event callback libvirt runs while its connection is closed.  A
 * review found it: unregistering a domain event callback does not wait
 * for a dispatch that is in it, and hv_close freed the HvConn the
 * callback was about to lock.  The test holds libvirt's event thread in
 * the lifecycle callback (on its virDomainGetUUIDString, before the lock),
 * closes the connection, lets the callback go, and waits for a later event
 * of another connection, which the same thread dispatches after it.  Under
 * ASan (CI's second pass) a use after free is a report; in any build, the
 * closed connection's handler must not be called. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int armed, in_cb, go;
} evhold = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0 };

/* WAIT_MS from now on CLOCK_REALTIME, the clock of a condition made with
 * PTHREAD_COND_INITIALIZER. */
static struct timespec
rt_deadline(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += WAIT_MS / 1000;
    return ts;
}

int __real_virDomainGetUUIDString(virDomainPtr dom, char *buf);
int __wrap_virDomainGetUUIDString(virDomainPtr dom, char *buf);

int
__wrap_virDomainGetUUIDString(virDomainPtr dom, char *buf)
{
    char thread[16] = "";
    struct timespec until = rt_deadline();

    pthread_getname_np(pthread_self(), thread, sizeof(thread));
    pthread_mutex_lock(&evhold.mu);
    if (evhold.armed && strcmp(thread, "libvirt events") == 0) {
        evhold.armed = 0;
        evhold.in_cb = 1;
        pthread_cond_broadcast(&evhold.cv);
        while (!evhold.go && pthread_cond_timedwait(&evhold.cv, &evhold.mu, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&evhold.mu);
    return __real_virDomainGetUUIDString(dom, buf);
}

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
} EvCount;

static void
ev_count(HvConn *c, const char *uuid, int kind, void *opaque)
{
    EvCount *e = opaque;

    (void)c;
    (void)uuid;
    (void)kind;
    pthread_mutex_lock(&e->mu);
    e->n++;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

/* Waits for *flag (under mu, signalled on cv, a CLOCK_REALTIME
 * condition) within WAIT_MS. */
static int
wait_flag(pthread_mutex_t *mu, pthread_cond_t *cv, const int *flag)
{
    struct timespec until = rt_deadline();
    int r;

    pthread_mutex_lock(mu);
    while (!*flag && pthread_cond_timedwait(cv, mu, &until) != ETIMEDOUT)
        ;
    r = *flag;
    pthread_mutex_unlock(mu);
    return r;
}

#define EVCLOSE_TESTS 5
static void
test_event_during_close(void)
{
    EvCount closed = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    EvCount later = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    HvConn *c = hv_open("test:///default", 0), *c2;
    Caller closer = { NULL, call_close, PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 };
    pthread_t tc;
    int held, n;

    if (!hv_is_alive(c)) {
        hv_close(c);
        tap_skip(EVCLOSE_TESTS, "no test:///default");
        return;
    }
    hv_set_event_handler(c, ev_count, &closed);
    pthread_mutex_lock(&evhold.mu);
    evhold.armed = 1;
    pthread_mutex_unlock(&evhold.mu);
    ok(hv_destroy(c, "test") == 0, "the test driver's domain is stopped: a lifecycle event (%s)",
       err_message());
    held = wait_flag(&evhold.mu, &evhold.cv, &evhold.in_cb);
    ok(held, "libvirt's event thread is held in the lifecycle callback, before it locks the connection");
    /* Opened first: test:///default's driver goes with its last
     * connection, and the event below is of the same driver. */
    c2 = hv_open("test:///default", 0);
    hv_set_event_handler(c2, ev_count, &later);
    /* In a thread: a close that waited for the held callback would
     * otherwise hold the test, not fail it. */
    closer.c = c;
    ok(pthread_create(&tc, NULL, caller_thread, &closer) == 0 &&
       wait_done(&closer.mu, &closer.done, WAIT_MS),
       "hv_close returns while the callback runs");
    pthread_mutex_lock(&evhold.mu);
    evhold.go = 1;
    pthread_cond_broadcast(&evhold.cv);
    pthread_mutex_unlock(&evhold.mu);
    if (wait_done(&closer.mu, &closer.done, WAIT_MS))
        pthread_join(tc, NULL);
    hv_start(c2, "test");
    ok(wait_flag(&later.mu, &later.cv, &later.n),
       "a later event of another connection comes: the held callback has ended");
    pthread_mutex_lock(&closed.mu);
    n = closed.n;
    pthread_mutex_unlock(&closed.mu);
    ok(n == 0, "the closed connection's handler was not called (%d)", n);
    hv_close(c2);
    err_clear();
}

/* Threads of this process named name (/proc/self/task/N/comm). */
static int
threads_named(const char *name)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    while (d && (e = readdir(d))) {
        char path[300], comm[32] = "";
        FILE *f;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
        if ((f = fopen(path, "r"))) {
            if (fgets(comm, sizeof(comm), f))
                comm[strcspn(comm, "\n")] = '\0';
            fclose(f);
        }
        n += strcmp(comm, name) == 0;
    }
    if (d)
        closedir(d);
    return n;
}

/* hv_close of a host whose connect was answered after its caller gave up,
 * and which hangs again by then.  A review found it: the connect's last
 * reference, dropped in hv_close's own thread, closed that connection
 * there, a call to the hung host that never ended. */
#define LATE_TESTS 6
#define LATE_CLOSE_MS 8000
static void
test_close_late_dial(const char *dir)
{
    const char *top = getenv("top_srcdir");
    UTIL_AUTOFREE char *path = util_xasprintf("%s/late.xml", dir);
    UTIL_AUTOFREE char *hd = util_xasprintf("%s/dl", dir);
    UTIL_AUTOFREE char *pause_file = util_xasprintf("%s/late.pause", dir);
    UTIL_AUTOFREE char *uri = util_xasprintf("test+unix://%s?socket=%s/h1/s/libvirt-sock", path, hd);
    int timeout = hv_connect_timeout(), reached, alone, done = 0;
    Caller k = { NULL, call_close, PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 };
    pthread_t t;
    int64_t end;
    pid_t pid = 0;

    if (!daemon_usable(top)) {
        tap_skip(LATE_TESTS, "a private libvirtd: needs root, libvirtd and unshare");
        return;
    }
    ok(write_numbered_fleet(path, 3) == 0 && (pid = daemon_start(top, hd)) > 0,
       "a private libvirtd serves a fleet of 3");
    kill(pid, SIGSTOP);
    hv_set_connect_timeout(1);
    setenv("DROVER_PAUSE", "hv:dial-done", 1);
    setenv("DROVER_PAUSE_FILE", pause_file, 1);
    k.c = hv_open(uri, 1);
    ok(!hv_is_alive(k.c), "the daemon stopped (SIGSTOP): hv_open gives up after its 1 s");
    kill(pid, SIGCONT);
    end = util_mono_ms() + WAIT_MS;
    while (!(reached = access(pause_file, F_OK) == 0) && util_mono_ms() < end)
        usleep(10000);
    ok(reached, "the daemon goes on (SIGCONT): the connect left behind is answered");
    kill(pid, SIGSTOP);
    unlink(pause_file);
    end = util_mono_ms() + WAIT_MS;
    while (!(alone = threads_named("dial") == 0) && util_mono_ms() < end)
        usleep(10000);
    unsetenv("DROVER_PAUSE");
    unsetenv("DROVER_PAUSE_FILE");
    ok(alone, "the daemon hangs again (SIGSTOP), and the connect's thread has ended");
    /* hv_close waits HV_CLOSE_WAIT_MS (1 s) for a host; keepalive would
     * end a close that hangs only after three pings go unanswered, and
     * without libvirt's event loop running never. */
    if (pthread_create(&t, NULL, caller_thread, &k) == 0)
        done = wait_done(&k.mu, &k.done, LATE_CLOSE_MS);
    ok(done, "hv_close returns within %d s: the late connection is closed by a thread of its own",
       LATE_CLOSE_MS / 1000);
    kill(pid, SIGCONT);
    ok(tap_system(". '%s/tests/hosts-lib.sh'; HOSTS_DIR='%s'; HOSTS_N=1; hosts_stop", top, hd) == 0,
       "the daemon goes on and is stopped");
    if (done)
        pthread_join(t, NULL);
    hv_set_connect_timeout(timeout);
    err_clear();
}

/* Waits within WAIT_MS until c is found dead (libvirt's loop reads the
 * socket's end): 1, or 0. */
static int
wait_dead(HvConn *c)
{
    int64_t end = util_mono_ms() + WAIT_MS;

    while (hv_is_alive(c) && util_mono_ms() < end)
        usleep(10000);
    err_clear();
    return !hv_is_alive(c);
}

/* Thread tid of this process waits in poll(2) (libvirt's client waits for
 * a reply there), not elsewhere (a pause point sleeps in nanosleep). */
static int
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

/* A reconnect whose host stops answering right after the connect, in the
 * calls that register drover's callbacks.  A review found it: they were
 * made with c->mu held and before keepalive was asked for, so the
 * reconnect waited for good and every reader of the host, and its close,
 * with it. */
#define SWAP_TESTS 7
#define SWAP_END_MS 60000
static void
test_reconnect_to_hung_host(const char *dir)
{
    const char *top = getenv("top_srcdir");
    UTIL_AUTOFREE char *path = util_xasprintf("%s/swap.xml", dir);
    UTIL_AUTOFREE char *hd = util_xasprintf("%s/ds", dir);
    UTIL_AUTOFREE char *pause_file = util_xasprintf("%s/swap.pause", dir);
    UTIL_AUTOFREE char *pidfile = util_xasprintf("%s/h1/libvirtd.pid", hd);
    UTIL_AUTOFREE char *uri = util_xasprintf("test+unix://%s?socket=%s/h1/s/libvirt-sock", path, hd);
    Caller r = { NULL, hv_reconnect, PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 };
    Caller k = { NULL, hv_is_alive, PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 };
    pthread_t t, tk;
    int reached, sleeping = 0, started = 0, kstarted = 0;
    int64_t end;
    pid_t pid = 0;
    long pid2 = 0;
    FILE *f;

    if (!daemon_usable(top)) {
        tap_skip(SWAP_TESTS, "a private libvirtd: needs root, libvirtd and unshare");
        return;
    }
    ok(write_numbered_fleet(path, 3) == 0 && (pid = daemon_start(top, hd)) > 0,
       "a private libvirtd serves a fleet of 3");
    r.c = k.c = hv_open(uri, 1);
    ok(hv_is_alive(r.c) && kill_daemon(pid) == 0 && wait_dead(r.c) &&
       tap_system(". '%s/tests/hosts-lib.sh' && hosts_require && HOSTS_DIR='%s' && HOSTS_N=1 && "
                  "hosts_restart_one 1", top, hd) == 0 &&
       (f = fopen(pidfile, "r")) && fscanf(f, "%ld", &pid2) == 1 && fclose(f) == 0 && pid2 > 0,
       "connected; the daemon killed and started again");
    if (pid2 <= 0) {
        /* Never signal pid 0 (the test's own group). */
        tap_skip(SWAP_TESTS - 2, "the daemon did not start again");
        tap_system(". '%s/tests/hosts-lib.sh'; HOSTS_DIR='%s'; HOSTS_N=1; hosts_stop", top, hd);
        hv_close(r.c);
        return;
    }
    setenv("DROVER_PAUSE", "hv:swap-connected", 1);
    setenv("DROVER_PAUSE_FILE", pause_file, 1);
    started = pthread_create(&t, NULL, caller_thread, &r) == 0;
    end = util_mono_ms() + WAIT_MS;
    while (!(reached = access(pause_file, F_OK) == 0) && util_mono_ms() < end)
        usleep(10000);
    ok(started && reached, "a reconnect has its new connection, and is held there");
    kill((pid_t)pid2, SIGSTOP);
    unlink(pause_file);
    /* It goes on into the calls that register its callbacks, and waits. */
    end = util_mono_ms() + WAIT_MS;
    while (started && util_mono_ms() < end) {
        pid_t tid;
        int done;

        pthread_mutex_lock(&r.mu);
        tid = r.tid;
        done = r.done;
        pthread_mutex_unlock(&r.mu);
        if (done || (tid && (sleeping = task_in_poll(tid))))
            break;
        usleep(10000);
    }
    unsetenv("DROVER_PAUSE");
    unsetenv("DROVER_PAUSE_FILE");
    ok(sleeping, "the daemon stopped (SIGSTOP): the reconnect waits on it, in a call");
    kstarted = pthread_create(&tk, NULL, caller_thread, &k) == 0;
    ok(kstarted && wait_done(&k.mu, &k.done, LATE_CLOSE_MS),
       "meanwhile another thread asks whether the host is alive, and has its answer within %d s",
       LATE_CLOSE_MS / 1000);
    ok(started && wait_done(&r.mu, &r.done, SWAP_END_MS),
       "the reconnect ends by itself within %d s (keepalive)", SWAP_END_MS / 1000);
    kill((pid_t)pid2, SIGCONT);
    ok(tap_system(". '%s/tests/hosts-lib.sh'; HOSTS_DIR='%s'; HOSTS_N=1; hosts_stop", top, hd) == 0,
       "the daemon goes on and is stopped");
    if (!r.done || !k.done)
        return;         /* held for good: the threads stay as they are */
    pthread_join(t, NULL);
    pthread_join(tk, NULL);
    hv_close(r.c);
    err_clear();
}

int
main(void)
{
    if (hv_init() < 0)
        tap_skip_all("libvirt cannot be initialised");
    test_close_callback_against_reader(tap_tmpdir());
    test_event_during_close();
    test_close_late_dial(tap_tmpdir());
    test_reconnect_to_hung_host(tap_tmpdir());
    return tap_done();
}
