/* SPDX-License-Identifier: GPL-2.0-or-later */
/* chain-qemu: running qemu-img, with its progress read and its errors
 * decoded; every write of the chain engine goes through it. */
#include <config.h>

#include "chain/chain.h"
#include "chain/chain-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"


/* qemu-img's stderr is kept for the message, not stored without bound. */
#define CHAIN_STDERR_MAX 8192U

/* ------------------------------------------------------------------ */
/* Running qemu-img                                                    */

/* qemu-img is found when drover runs (QEMU_IMG, else the PATH), not fixed
 * at build time: qemu-utils may be installed, moved or upgraded after drover. */
static const char *
chain_qemu_img(void)
{
    const char *q = getenv("QEMU_IMG");

    return q && *q ? q : "qemu-img";
}

/* qemu-img's messages and progress are parsed, so it runs in the C locale. */
static char **
chain_child_env(void)
{
    extern char **environ;
    size_t n = 0, i, j = 0;
    char **env;

    while (environ && environ[n])
        n++;
    env = util_xcalloc(n + 2, sizeof(*env));
    for (i = 0; i < n; i++) {
        if (strncmp(environ[i], "LC_ALL=", 7) == 0 || strncmp(environ[i], "LANGUAGE=", 9) == 0)
            continue;
        env[j++] = environ[i];
    }
    env[j++] = (char *)"LC_ALL=C";
    env[j] = NULL;
    return env;
}

typedef struct {
    ChainProgressFn fn;
    void *opaque;
    int last;
    char tok[32];
    size_t toklen;
    int intok;
    int stop;                   /* the callback asked to stop */
} ChainProgress;

/* qemu-img -p writes "    (12.34/100%)\r" repeatedly. */
static void
chain_progress_feed(ChainProgress *p, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        char ch = s[i];

        if (ch == '(') {
            p->intok = 1;
            p->toklen = 0;
        } else if (p->intok && ch == ')') {
            char *end;
            double v;

            p->tok[p->toklen] = '\0';
            p->intok = 0;
            errno = 0;
            v = strtod(p->tok, &end);
            if (end != p->tok && !errno && strcmp(end, "/100%") == 0) {
                int pct = v <= 0 ? 0 : v >= 100 ? 100 : (int)v;

                if (pct > p->last) {
                    p->last = pct;
                    if (p->fn && p->fn(pct, p->opaque) != 0)
                        p->stop = 1;
                }
            }
        } else if (p->intok) {
            if (p->toklen + 1 < sizeof(p->tok))
                p->tok[p->toklen++] = ch;
            else
                p->intok = 0;
        }
    }
}

/* The errno behind qemu-img's message, when it ends with a strerror text
 * we can recognise; 0 otherwise. */
static int
chain_errno_from_text(const char *text)
{
    static const int candidates[] = { ENOSPC, EDQUOT, EACCES, EPERM, EROFS, ENOENT, EEXIST };
    size_t i;

    for (i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        char buf[128];
        const char *msg = strerror_r(candidates[i], buf, sizeof(buf));

        if (strstr(text, msg))
            return candidates[i];
    }
    return 0;
}

/* Runs qemu-img with args (NULL-terminated, without argv[0]), stdin from
 * /dev/null, stdout parsed for progress when progress is given, stderr
 * captured for the error message.  0, or -1 with the error set. */
int
chain_run_qemu_img(const char *const *args, ChainProgressFn progress, void *opaque)
{
    pid_t parent;
    const char *qemu = chain_qemu_img();
    const char **argv;
    char **envp;
    size_t nargs = 0, i;
    int errpipe[2] = { -1, -1 }, outpipe[2] = { -1, -1 }, execpipe[2] = { -1, -1 };
    int devnull = -1;
    int exec_errno = 0;
    int status = 0;
    int rc = -1;
    pid_t pid;
    UtilBuf errtext = { 0 };
    ChainProgress prog = { progress, opaque, -1, { 0 }, 0, 0, 0 };
    int killed = 0;

    while (args[nargs])
        nargs++;
    argv = util_xcalloc(nargs + 2, sizeof(*argv));
    argv[0] = qemu;
    for (i = 0; i < nargs; i++)
        argv[i + 1] = args[i];
    /* Everything the child needs is prepared before fork: after it, only
     * async-signal-safe calls. */
    envp = chain_child_env();
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) {
        err_set_errno(0, errno, "cannot open /dev/null");
        goto out;
    }
    if (pipe2(errpipe, O_CLOEXEC) < 0 || pipe2(outpipe, O_CLOEXEC) < 0 ||
        pipe2(execpipe, O_CLOEXEC) < 0) {
        err_set_errno(0, errno, "cannot create a pipe for qemu-img");
        goto out;
    }
    parent = getpid();
    pid = fork();
    if (pid < 0) {
        err_set_errno(0, errno, "cannot start %s", qemu);
        goto out;
    }
    if (pid == 0) {
        int e;

        /* If drover dies, qemu-img must not go on writing a temporary
         * file nobody will rename or remove. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
            _exit(127);
        /* An ignored signal stays ignored across exec: give qemu-img the
         * default drover's command line set aside for libvirt's sockets. */
        signal(SIGPIPE, SIG_DFL);

        if (dup2(devnull, 0) < 0 || dup2(outpipe[1], 1) < 0 || dup2(errpipe[1], 2) < 0)
            goto child_fail;
#ifdef SYS_close_range
        /* Descriptors the rest of the program left inheritable stay ours. */
        syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
#endif
        execvpe(qemu, (char *const *)argv, envp);
child_fail:
        e = errno;
        if (write(execpipe[1], &e, sizeof(e)) < 0) {
            /* Nothing more a dying child can do. */
        }
        _exit(127);
    }
    close(execpipe[1]);
    execpipe[1] = -1;
    close(outpipe[1]);
    outpipe[1] = -1;
    close(errpipe[1]);
    errpipe[1] = -1;

    while (outpipe[0] >= 0 || errpipe[0] >= 0) {
        struct pollfd pfd[2];
        int nfd = 0;
        int k;

        if (outpipe[0] >= 0) {
            pfd[nfd].fd = outpipe[0];
            pfd[nfd++].events = POLLIN;
        }
        if (errpipe[0] >= 0) {
            pfd[nfd].fd = errpipe[0];
            pfd[nfd++].events = POLLIN;
        }
        if (poll(pfd, (nfds_t)nfd, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (k = 0; k < nfd; k++) {
            char buf[4096];
            ssize_t r;

            if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            r = read(pfd[k].fd, buf, sizeof(buf));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                if (pfd[k].fd == outpipe[0]) {
                    close(outpipe[0]);
                    outpipe[0] = -1;
                } else {
                    close(errpipe[0]);
                    errpipe[0] = -1;
                }
                continue;
            }
            if (pfd[k].fd == outpipe[0]) {
                chain_progress_feed(&prog, buf, (size_t)r);
                if (prog.stop && !killed) {
                    kill(pid, SIGKILL);
                    killed = 1;
                }
            } else if (errtext.len < CHAIN_STDERR_MAX) {
                size_t room = CHAIN_STDERR_MAX - errtext.len;

                util_buf_addn(&errtext, buf, (size_t)r < room ? (size_t)r : room);
            }
        }
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            err_set_errno(0, errno, "cannot wait for %s", qemu);
            goto out;
        }
    }
    if (read(execpipe[0], &exec_errno, sizeof(exec_errno)) == (ssize_t)sizeof(exec_errno)) {
        if (exec_errno == ENOENT && !strchr(qemu, '/'))
            err_set_errno(0, exec_errno, "cannot run qemu-img: not found in PATH "
                          "(install the Debian package qemu-utils, or set QEMU_IMG)");
        else
            err_set_errno(0, exec_errno, "cannot run qemu-img %s", qemu);
        goto out;
    }
    if (killed) {
        err_set(RESULT_FAILED, "qemu-img was stopped: the copy was cancelled");
        goto out;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        if (progress && prog.last < 100)
            progress(100, opaque);
        rc = 0;
        goto out;
    }
    {
        char *text = util_buf_steal(&errtext);
        size_t n = strlen(text);
        int e;
        char what[64];

        /* One line for the message: newlines and progress returns out. */
        for (i = 0; i < n; i++)
            if (text[i] == '\n' || text[i] == '\r')
                text[i] = ' ';
        while (n && text[n - 1] == ' ')
            text[--n] = '\0';
        if (WIFEXITED(status))
            snprintf(what, sizeof(what), "exited with status %d", WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
            snprintf(what, sizeof(what), "was killed by signal %d", WTERMSIG(status));
        else
            snprintf(what, sizeof(what), "failed");
        e = chain_errno_from_text(text);
        if (e) {
            char ebuf[128];
            const char *etext = strerror_r(e, ebuf, sizeof(ebuf));
            size_t elen = strlen(etext);

            /* err_set_errno appends the errno text itself. */
            if (n >= elen + 2 && strcmp(text + n - elen, etext) == 0 &&
                text[n - elen - 2] == ':')
                text[n - elen - 2] = '\0';
            err_set_errno(0, e, "qemu-img %s %s: %s", args[0], what, text);
        } else {
            err_set(RESULT_FAILED, "qemu-img %s %s: %s", args[0], what, n ? text : "(no message)");
        }
        free(text);
    }
out:
    if (devnull >= 0)
        close(devnull);
    for (i = 0; i < 2; i++) {
        if (errpipe[i] >= 0)
            close(errpipe[i]);
        if (outpipe[i] >= 0)
            close(outpipe[i]);
        if (execpipe[i] >= 0)
            close(execpipe[i]);
    }
    util_buf_free(&errtext);
    free(envp);
    free(argv);
    return rc;
}
