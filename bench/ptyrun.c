/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ptyrun: runs drover's console in a pseudo-terminal for the benchmarks
 * (bench/console.sh, doc/performance.md) without touching the console's
 * code: it reads the screen from DROVER_SCREEN_DUMP (the file is renamed
 * into place just before each repaint reaches the terminal, so an inotify
 * event on it marks a frame), counts every byte the console writes to the
 * terminal, sends keys, and reads the console's CPU time from /proc.
 *
 * Usage: ptyrun [-s ROWSxCOLS] [-t SECONDS] [-o TRACE] [-r RAW] -d DUMP STEP... -- COMMAND [ARG]...
 * The steps run in order and print key=value lines on stdout (times in
 * seconds since the command was started unless said otherwise):
 *   load         the first screens: names_s (every table row shows a name),
 *                visible_s (every row on screen shows its state), all_s (the
 *                title line says every record is read), nrows, load_cpu_ms
 *                (utime+stime of the command until then, /proc/PID/stat)
 *   wait=S       S seconds pass (output is still read and counted)
 *   mark=NAME    remembers the byte count, the time and the frame
 *   since=NAME   NAME_bytes, NAME_s, NAME_frames, NAME_frame_max (bytes of
 *                the largest frame) since mark NAME
 *   run=CMD      starts `sh -c CMD` in the background, output to /dev/null,
 *                once the command of the run= before has ended
 *   until=REGEX  waits for a screen matching the extended regex; until_s
 *                (since run=), until_frame_bytes (that frame's output),
 *                run_status when the command has ended
 *   redraw       Ctrl-L three times: redraw_bytes, the smallest full repaint
 *   keys=TEXT    each character (\e Esc, \b Backspace, \r Return, \\) is sent
 *                once the previous one was repainted; keys_n, keys_wall_s,
 *                keys_ui_ms and keys_proc_ms (utime+stime of the UI thread and
 *                of the process, /proc/PID/task/PID/stat and /proc/PID/stat),
 *                keys_ui_sched_ms (the UI thread's schedstat, in ns
 *                resolution), idle_ui_sched_ms (the same thread over as long
 *                a time with no key, measured just before)
 *   quit         SIGTERM, then waits: maxrss_kb (ru_maxrss of the command),
 *                status
 * Finally total_bytes.  Exit status 0, or 1 when a step timed out or the
 * command ended early (the reason goes to stderr).  -s sets the terminal's
 * size (default 40x120), -t the timeout of load and until (default 300 s),
 * -o writes a trace (each read and frame, timed) and -r the raw output. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ptyrun-read.h"

typedef struct {
    int master;
    pid_t pid;
    int exited;
    int status;
    struct rusage ru;
    int ino;
    const char *dump;
    const char *dump_base;
    FILE *trace;
    FILE *raw;
    int64_t t0;
    uint64_t bytes;
    uint64_t frames;
    int64_t last_byte_ms;
    /* Bytes read when each frame began, to size frames. */
    uint64_t *frame_at;
    size_t nframe_at, capframe_at;
    char *screen;               /* the last dump read */
    pid_t run_pid;
    int64_t run_ms;
    int run_status;             /* -1 while running or never started */
} Pty;

typedef struct {
    char name[64];
    uint64_t bytes, frames;
    int64_t ms;
} Mark;

static Mark marks[16];
static size_t nmarks;

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double
since_s(const Pty *p, int64_t ms)
{
    return (double)(ms - p->t0) / 1000.0;
}

static void
die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("ptyrun: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* --- the pump --------------------------------------------------------------------- */

static void
reap_run(Pty *p)
{
    int status;

    if (p->run_pid > 0 && waitpid(p->run_pid, &status, WNOHANG) == p->run_pid) {
        p->run_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        p->run_pid = 0;
    }
}

static void
check_child(Pty *p)
{
    if (!p->exited && wait4(p->pid, &p->status, WNOHANG, &p->ru) == p->pid)
        p->exited = 1;
    reap_run(p);
}

/* Reads the new screen: 1, or 0 when it was replaced again meanwhile (the
 * next event has it). */
static int
on_frame(Pty *p)
{
    char *s = read_file(p->dump);

    if (!s)
        return 0;
    free(p->screen);
    p->screen = s;
    p->frames++;
    if (p->nframe_at == p->capframe_at) {
        p->capframe_at = p->capframe_at ? p->capframe_at * 2 : 256;
        if (!(p->frame_at = realloc(p->frame_at, p->capframe_at * sizeof(*p->frame_at))))
            die("out of memory");
    }
    p->frame_at[p->nframe_at++] = p->bytes;
    if (p->trace)
        fprintf(p->trace, "%.4f frame %llu bytes %llu\n", since_s(p, now_ms()),
                (unsigned long long)p->frames, (unsigned long long)p->bytes);
    return 1;
}

/* Reads what is ready for up to wait_ms; returns 1 if a frame arrived. */
static int
pump(Pty *p, int wait_ms)
{
    struct pollfd fds[2];
    int got = 0;

    fds[0].fd = p->master;
    fds[0].events = POLLIN;
    fds[1].fd = p->ino;
    fds[1].events = POLLIN;
    fds[0].revents = fds[1].revents = 0;
    if (poll(fds, 2, wait_ms) < 0 && errno != EINTR)
        die("poll: %s", strerror(errno));
    /* The dump is renamed before the repaint is written: frames first. */
    if (fds[1].revents & POLLIN) {
        char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
        ssize_t k = read(p->ino, buf, sizeof(buf));

        for (char *q = buf; k > 0 && q < buf + k;) {
            struct inotify_event *ev = (struct inotify_event *)q;

            if (ev->len && strcmp(ev->name, p->dump_base) == 0)
                got = 1;
            q += sizeof(*ev) + ev->len;
        }
        if (got)
            got = on_frame(p);
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        char buf[65536];
        ssize_t k = read(p->master, buf, sizeof(buf));

        if (k > 0) {
            p->bytes += (uint64_t)k;
            p->last_byte_ms = now_ms();
            if (p->trace)
                fprintf(p->trace, "%.4f read %zd total %llu\n", since_s(p, p->last_byte_ms), k,
                        (unsigned long long)p->bytes);
            if (p->raw)
                fwrite(buf, 1, (size_t)k, p->raw);
        } else if (k < 0 && errno == EIO) {
            /* The console closed the terminal: wait for it below. */
            usleep(10000);
        }
    }
    check_child(p);
    return got;
}

static void
pump_for(Pty *p, int64_t ms)
{
    int64_t end = now_ms() + ms;

    while (now_ms() < end && !p->exited)
        pump(p, (int)(end - now_ms()));
}

/* Until quiet_ms passed with no output, counted from now at the
 * earliest (at most max_ms). */
static void
pump_quiet(Pty *p, int64_t quiet_ms, int64_t max_ms)
{
    int64_t start = now_ms(), end = start + max_ms;

    while (!p->exited && now_ms() < end &&
           now_ms() - (p->last_byte_ms > start ? p->last_byte_ms : start) < quiet_ms)
        pump(p, 10);
}

static void
need_alive(const Pty *p, const char *step)
{
    if (p->exited)
        die("%s: the console ended (status %d)", step, p->status);
}

static void
send_bytes(Pty *p, const char *s, size_t n)
{
    while (n) {
        ssize_t k = write(p->master, s, n);

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            die("write to the terminal: %s", strerror(errno));
        s += k;
        n -= (size_t)k;
    }
}

/* --- steps ------------------------------------------------------------------------------- */

static void
step_load(Pty *p, int64_t timeout_ms)
{
    int64_t end = p->t0 + timeout_ms;
    int64_t names = -1, visible = -1;
    ScreenState st = { -1, 0, 0, 0 };

    for (;;) {
        int64_t t;

        need_alive(p, "load");
        if (now_ms() > end)
            die("load: no complete screen after %lld s", (long long)(timeout_ms / 1000));
        if (!pump(p, 100) || !p->screen)
            continue;
        t = now_ms();
        st = read_screen_state(p->screen);
        if (names < 0 && st.names)
            names = t;
        if (visible < 0 && st.visible)
            visible = t;
        if (st.all)
            break;
    }
    printf("names_s=%.4f\nvisible_s=%.4f\nall_s=%.4f\nnrows=%ld\nload_cpu_ms=%.0f\n", since_s(p, names),
           since_s(p, visible), since_s(p, now_ms()), st.total, read_proc_cpu_ms(p->pid));
}

static Mark *
mark_find(const char *name)
{
    for (size_t i = 0; i < nmarks; i++)
        if (strcmp(marks[i].name, name) == 0)
            return &marks[i];
    return NULL;
}

static void
step_mark(Pty *p, const char *name)
{
    Mark *m = mark_find(name);

    if (!m) {
        if (nmarks == sizeof(marks) / sizeof(marks[0]))
            die("too many marks");
        m = &marks[nmarks++];
    }
    snprintf(m->name, sizeof(m->name), "%s", name);
    m->bytes = p->bytes;
    m->frames = p->nframe_at;
    m->ms = now_ms();
}

static void
step_since(Pty *p, const char *name)
{
    Mark *m = mark_find(name);
    uint64_t max = 0;

    if (!m)
        die("since=%s: no such mark", name);
    for (size_t i = m->frames; i < p->nframe_at; i++) {
        uint64_t next = i + 1 < p->nframe_at ? p->frame_at[i + 1] : p->bytes;
        if (next - p->frame_at[i] > max)
            max = next - p->frame_at[i];
    }
    printf("%s_bytes=%llu\n%s_s=%.3f\n%s_frames=%zu\n%s_frame_max=%llu\n", name,
           (unsigned long long)(p->bytes - m->bytes), name, (double)(now_ms() - m->ms) / 1000.0, name,
           (size_t)(p->nframe_at - m->frames), name, (unsigned long long)max);
}

static void
step_run(Pty *p, const char *cmd, int64_t timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    pid_t pid;

    /* One command at a time: the one before ends first.  A kill that
     * tidies up after its daemon (hosts_kill_one removes the pid file)
     * raced the restart started after it and removed the new daemon's
     * pid file, so that nothing stopped that daemon (bench/hosts.sh, H5).
     * pump reaps it. */
    while (p->run_pid > 0) {
        if (now_ms() >= end)
            die("run: the command of the run= before did not end after %lld s",
                (long long)(timeout_ms / 1000));
        pump(p, 10);
    }
    p->run_ms = now_ms();
    p->run_status = -1;
    if ((pid = fork()) < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);

        if (fd >= 0) {
            dup2(fd, 0);
            dup2(fd, 1);
            dup2(fd, 2);
        }
        setsid();       /* not on the console's terminal */
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    p->run_pid = pid;
}

static void
step_until(Pty *p, const char *re, int64_t timeout_ms)
{
    regex_t rx;
    int64_t end = now_ms() + timeout_ms, t;
    uint64_t at;

    if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB | REG_NEWLINE) != 0)
        die("until: bad regex %s", re);
    for (;;) {
        need_alive(p, "until");
        if (now_ms() > end)
            die("until: no screen matches %s after %lld s", re, (long long)(timeout_ms / 1000));
        if (pump(p, 100) && p->screen && regexec(&rx, p->screen, 0, NULL, 0) == 0)
            break;
    }
    t = now_ms();
    at = p->frame_at[p->nframe_at - 1];
    /* The frame is written right after its dump: read it to the end. */
    while (!p->exited && p->nframe_at && p->frame_at[p->nframe_at - 1] == at && now_ms() - t < 1000) {
        pump(p, 20);
        if (p->bytes > at && now_ms() - p->last_byte_ms >= 50)
            break;
    }
    printf("until_s=%.4f\nuntil_frame_bytes=%llu\n", (double)(t - p->run_ms) / 1000.0,
           (unsigned long long)((p->nframe_at && p->frame_at[p->nframe_at - 1] != at ?
                                 p->frame_at[p->nframe_at - 1] : p->bytes) - at));
    regfree(&rx);
}

static void
step_redraw(Pty *p)
{
    uint64_t best = UINT64_MAX;

    for (int i = 0; i < 3; i++) {
        uint64_t before, frames;
        int64_t end = now_ms() + 5000;

        need_alive(p, "redraw");
        /* Just after a clock tick, so that no tick falls into the count. */
        frames = p->nframe_at;
        while (p->nframe_at == frames && now_ms() < end)
            pump(p, 50);
        pump_quiet(p, 50, 1000);
        before = p->bytes;
        send_bytes(p, "\x0c", 1);
        frames = p->nframe_at;
        while (p->nframe_at == frames && now_ms() < end)
            pump(p, 50);
        pump_quiet(p, 100, 2000);
        if (p->bytes - before < best)
            best = p->bytes - before;
    }
    printf("redraw_bytes=%llu\n", (unsigned long long)best);
}

static void
step_keys(Pty *p, const char *text)
{
    double ui0 = 0, pr0 = 0, sc0 = 0, ui1, pr1, sc1, idle0, idle1;
    int64_t t0, wall;
    size_t n = 0;

    need_alive(p, "keys");
    pump_quiet(p, 200, 3000);
    t0 = now_ms();
    for (const char *s = text; *s; s++) {
        char c = *s;
        uint64_t frames = p->nframe_at;
        int64_t end;

        if (c == '\\' && s[1]) {
            s++;
            c = *s == 'e' ? 27 : *s == 'b' ? 127 : *s == 'r' ? '\r' : *s;
        }
        if (n == 1) {
            /* The first key opens the filter; the count starts after it. */
            t0 = now_ms();
            ui0 = read_ui_cpu_ms(p->pid);
            pr0 = read_proc_cpu_ms(p->pid);
            sc0 = read_ui_sched_ms(p->pid);
        }
        send_bytes(p, &c, 1);
        end = now_ms() + 5000;
        while (p->nframe_at == frames) {
            need_alive(p, "keys");
            if (now_ms() > end)
                die("keys: no repaint after key %zu", n);
            pump(p, 50);
        }
        n++;
    }
    pump_quiet(p, 100, 3000);
    wall = now_ms() - t0;
    ui1 = read_ui_cpu_ms(p->pid);
    pr1 = read_proc_cpu_ms(p->pid);
    sc1 = read_ui_sched_ms(p->pid);
    /* The UI thread's own background (clock ticks, arriving rows) over as
     * long a time with no key. */
    idle0 = read_ui_sched_ms(p->pid);
    pump_for(p, wall);
    idle1 = read_ui_sched_ms(p->pid);
    printf("keys_n=%zu\nkeys_wall_s=%.3f\nkeys_ui_ms=%.1f\nkeys_proc_ms=%.1f\nkeys_ui_sched_ms=%.2f\n"
           "idle_ui_sched_ms=%.2f\n", n - 1, (double)wall / 1000.0, ui1 - ui0, pr1 - pr0, sc1 - sc0,
           idle1 - idle0);
}

static void
step_quit(Pty *p)
{
    int64_t end = now_ms() + 60000;

    if (!p->exited)
        kill(p->pid, SIGTERM);
    while (!p->exited) {
        if (now_ms() > end)
            die("quit: the console did not end within 60 s");
        pump(p, 20);
    }
    /* What it wrote while leaving. */
    for (int i = 0; i < 50; i++) {
        char buf[65536];
        ssize_t k = read(p->master, buf, sizeof(buf));
        if (k <= 0)
            break;
        p->bytes += (uint64_t)k;
    }
    printf("maxrss_kb=%ld\nstatus=%d\n", p->ru.ru_maxrss,
           WIFEXITED(p->status) ? WEXITSTATUS(p->status) : 128 + WTERMSIG(p->status));
}

static void
usage(void)
{
    fprintf(stderr, "usage: ptyrun [-s ROWSxCOLS] [-t SECONDS] [-o TRACE] [-r RAW] -d DUMP STEP... -- COMMAND [ARG]...\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    Pty p;
    struct winsize ws = { .ws_row = 40, .ws_col = 120 };
    int64_t timeout_ms = 300000;
    char dir[PATH_MAX];
    const char *slash;
    int i, first_step, cmd = -1;

    memset(&p, 0, sizeof(p));
    p.run_status = -1;
    for (i = 1; i < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0; i += 2) {
        if (i + 1 >= argc)
            usage();
        if (strcmp(argv[i], "-s") == 0) {
            unsigned r, c;
            if (sscanf(argv[i + 1], "%ux%u", &r, &c) != 2)
                usage();
            ws.ws_row = (unsigned short)r;
            ws.ws_col = (unsigned short)c;
        } else if (strcmp(argv[i], "-t") == 0) {
            timeout_ms = strtoll(argv[i + 1], NULL, 10) * 1000;
        } else if (strcmp(argv[i], "-d") == 0) {
            p.dump = argv[i + 1];
        } else if (strcmp(argv[i], "-r") == 0) {
            if (!(p.raw = fopen(argv[i + 1], "w")))
                die("%s: %s", argv[i + 1], strerror(errno));
        } else if (strcmp(argv[i], "-o") == 0) {
            if (!(p.trace = fopen(argv[i + 1], "w")))
                die("%s: %s", argv[i + 1], strerror(errno));
        } else {
            usage();
        }
    }
    first_step = i;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            cmd = i + 1;
            break;
        }
    }
    if (!p.dump || cmd < 0 || cmd >= argc)
        usage();

    /* Watch the dump's directory for the renames that mark frames. */
    slash = strrchr(p.dump, '/');
    p.dump_base = slash ? slash + 1 : p.dump;
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - p.dump) : 1, slash ? p.dump : ".");
    if (!dir[0])
        snprintf(dir, sizeof(dir), "/");
    unlink(p.dump);
    if ((p.ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) < 0 ||
        inotify_add_watch(p.ino, dir, IN_MOVED_TO) < 0)
        die("inotify on %s: %s", dir, strerror(errno));
    if (setenv("DROVER_SCREEN_DUMP", p.dump, 1) < 0)
        die("setenv: %s", strerror(errno));

    p.t0 = now_ms();
    p.last_byte_ms = p.t0;
    if ((p.pid = forkpty(&p.master, NULL, NULL, &ws)) < 0)
        die("forkpty: %s", strerror(errno));
    if (p.pid == 0) {
        execvp(argv[cmd], argv + cmd);
        fprintf(stderr, "ptyrun: %s: %s\n", argv[cmd], strerror(errno));
        _exit(127);
    }
    fcntl(p.master, F_SETFD, FD_CLOEXEC);
    fcntl(p.master, F_SETFL, O_NONBLOCK);

    for (i = first_step; i < cmd - 1; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        const char *v = eq ? eq + 1 : "";

        if (strcmp(a, "load") == 0)
            step_load(&p, timeout_ms);
        else if (strncmp(a, "wait=", 5) == 0)
            pump_for(&p, (int64_t)(strtod(v, NULL) * 1000));
        else if (strncmp(a, "mark=", 5) == 0)
            step_mark(&p, v);
        else if (strncmp(a, "since=", 6) == 0)
            step_since(&p, v);
        else if (strncmp(a, "run=", 4) == 0)
            step_run(&p, v, timeout_ms);
        else if (strncmp(a, "until=", 6) == 0)
            step_until(&p, v, timeout_ms);
        else if (strcmp(a, "redraw") == 0)
            step_redraw(&p);
        else if (strncmp(a, "keys=", 5) == 0)
            step_keys(&p, v);
        else if (strcmp(a, "quit") == 0)
            step_quit(&p);
        else
            die("unknown step %s", a);
        fflush(stdout);
    }
    if (!p.exited)
        step_quit(&p);
    while (p.run_pid > 0) {
        usleep(20000);
        reap_run(&p);
    }
    if (p.run_status >= 0)
        printf("run_status=%d\n", p.run_status);
    printf("total_bytes=%llu\n", (unsigned long long)p.bytes);
    if (p.trace)
        fclose(p.trace);
    if (p.raw)
        fclose(p.raw);
    free(p.screen);
    free(p.frame_at);
    return 0;
}
