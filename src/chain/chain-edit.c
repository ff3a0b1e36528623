/* SPDX-License-Identifier: GPL-2.0-or-later */
/* chain-edit: everything in the chain engine that writes: qemu-img runs
 * (overlays, flattened images, rebases) through temporary names, and the
 * one function that deletes a file, after every check. */
#include <config.h>

#include "chain/chain.h"
#include "chain/chain-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fsutil.h"
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

/* ------------------------------------------------------------------ */
/* Creating files via a temporary name                                 */

typedef struct {
    char *dir;
    char *tmp;
    int fd;
    dev_t dev;
    ino_t ino;
} ChainTmp;

/* Reserves "<dir>/.<base>.tmp-XXXXXX" beside dest: the name is ours alone,
 * so removing it on failure can never hit someone else's file. */
static int
chain_tmp_create(ChainTmp *t, const char *dest, mode_t mode)
{
    struct stat st;

    memset(t, 0, sizeof(*t));
    t->fd = -1;
    t->dir = util_dirname(dest);
    t->tmp = util_xasprintf("%s/.%s.tmp-XXXXXX", t->dir, chain_basename(dest));
    t->fd = mkostemp(t->tmp, O_CLOEXEC);
    if (t->fd < 0) {
        err_set_errno(0, errno, "cannot create a temporary file in %s", t->dir);
        free(t->tmp);
        t->tmp = NULL;
        return -1;
    }
    if (fstat(t->fd, &st) < 0) {
        err_set_errno(0, errno, "cannot stat %s", t->tmp);
        return -1;
    }
    t->dev = st.st_dev;
    t->ino = st.st_ino;
    /* The new image holds the same data as its source: same permissions. */
    if (fchmod(t->fd, (mode & 0666) | 0600) < 0) {
        err_set_errno(0, errno, "cannot set the mode of %s", t->tmp);
        return -1;
    }
    return 0;
}

/* Removes the temporary file only while it is still the one we created. */
static void
chain_tmp_discard(ChainTmp *t)
{
    if (t->tmp) {
        struct stat st;

        if (lstat(t->tmp, &st) == 0 && st.st_dev == t->dev && st.st_ino == t->ino)
            unlink(t->tmp);
    }
    if (t->fd >= 0)
        close(t->fd);
    free(t->tmp);
    free(t->dir);
    memset(t, 0, sizeof(*t));
    t->fd = -1;
}

/* Moves the finished temporary file to dest without ever replacing an
 * existing dest, and makes both durable. */
static int
chain_tmp_commit(ChainTmp *t, const char *dest)
{
    struct stat st;
    int r;

    if (lstat(t->tmp, &st) < 0 || st.st_dev != t->dev || st.st_ino != t->ino) {
        err_set(RESULT_INVALID_STATE, "temporary file %s was replaced while qemu-img wrote it", t->tmp);
        return -1;
    }
    if (fsync(t->fd) < 0) {
        err_set_errno(0, errno, "cannot sync %s", t->tmp);
        return -1;
    }
#ifdef RENAME_NOREPLACE
    r = renameat2(AT_FDCWD, t->tmp, AT_FDCWD, dest, RENAME_NOREPLACE);
    if (r < 0 && (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP))
#endif
    {
        /* No atomic no-replace rename on this file system: link refuses
         * an existing name just the same. */
        r = link(t->tmp, dest);
        if (r == 0 && unlink(t->tmp) < 0) {
            err_set_errno(0, errno, "cannot remove %s after linking it to %s", t->tmp, dest);
            if (lstat(dest, &st) == 0 && st.st_dev == t->dev && st.st_ino == t->ino)
                unlink(dest);
            return -1;
        }
    }
    if (r < 0) {
        err_set_errno(0, errno, "cannot rename %s to %s", t->tmp, dest);
        return -1;
    }
    free(t->tmp);
    t->tmp = NULL;
    if (fsutil_fsync_dir(t->dir) < 0) {
        /* Not durable, so not done: take back the file we just placed. */
        if (lstat(dest, &st) == 0 && st.st_dev == t->dev && st.st_ino == t->ino)
            unlink(dest);
        return -1;
    }
    return 0;
}

/* Adds the operation to the error; a full file system also names the
 * directory, which is what the operator has to make room in. */
static void
chain_prefix_dest(const char *what, const char *dest)
{
    int e = err_get()->sys_errno;

    if (e == ENOSPC || e == EDQUOT) {
        char *dir = util_dirname(dest);

        err_prefix("%s %s: directory %s is full", what, dest, dir);
        free(dir);
    } else {
        err_prefix("%s %s", what, dest);
    }
}

/* dest must not exist in any form, a dangling symlink included. */
static int
chain_check_absent(const char *dest)
{
    struct stat st;

    if (lstat(dest, &st) == 0) {
        err_set_errno(0, EEXIST, "refusing to overwrite %s", dest);
        return -1;
    }
    if (errno != ENOENT) {
        err_set_errno(0, errno, "cannot check %s", dest);
        return -1;
    }
    return 0;
}

static int
chain_check_dir_writable(const char *dest)
{
    char *dir = util_dirname(dest);
    int rc = 0;

    if (access(dir, W_OK | X_OK) < 0) {
        err_set_errno(0, errno, "directory %s is not writable", dir);
        rc = -1;
    }
    free(dir);
    return rc;
}

int
chain_copy_file(const char *src, const char *dest)
{
    ChainTmp t;
    struct stat st;
    char buf[65536];
    int in = -1, ret = -1;

    if (chain_check_absent(dest) < 0 || chain_check_dir_writable(dest) < 0) {
        chain_prefix_dest("cannot create", dest);
        return -1;
    }
    if ((in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 || fstat(in, &st) < 0) {
        err_set_errno(0, errno, "cannot read %s", src);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        err_set(RESULT_NOT_SUPPORTED, "%s is not a regular file", src);
        goto out;
    }
    if (chain_tmp_create(&t, dest, st.st_mode) < 0) {
        chain_tmp_discard(&t);
        chain_prefix_dest("cannot create", dest);
        goto out;
    }
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf)), off = 0;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err_set_errno(0, errno, "cannot read %s", src);
            goto discard;
        }
        if (n == 0)
            break;
        while (off < n) {
            ssize_t w = write(t.fd, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                err_set_errno(0, errno, "cannot write %s", t.tmp);
                chain_prefix_dest("cannot create", dest);
                goto discard;
            }
            off += w;
        }
    }
    if (chain_tmp_commit(&t, dest) < 0)
        goto discard;
    ret = 0;
discard:
    chain_tmp_discard(&t);
out:
    if (in >= 0)
        close(in);
    return ret;
}

int
chain_create_overlay(const char *backing, const char *path)
{
    ChainHeader hdr = { 0 };
    ChainTmp t = { NULL, NULL, -1, 0, 0 };
    struct stat st;
    char size[32];
    int rc = -1;

    if (!path || !*path) {
        err_set(RESULT_INVALID_PARAMETER, "no overlay file named");
        return -1;
    }
    if (!backing || backing[0] != '/') {
        err_set(RESULT_INVALID_PARAMETER,
                "backing file '%s' of overlay %s is not an absolute path", backing ? backing : "",
                path);
        return -1;
    }
    if (chain_check_absent(path) < 0)
        return -1;
    if (chain_read_header(backing, &hdr) < 0) {
        err_prefix("cannot create overlay %s", path);
        return -1;
    }
    if (stat(backing, &st) < 0) {
        err_set_errno(0, errno, "cannot stat %s", backing);
        goto fail;
    }
    if (chain_check_dir_writable(path) < 0)
        goto fail;
    snprintf(size, sizeof(size), "%llu", (unsigned long long)hdr.virtual_size);
    if (chain_tmp_create(&t, path, st.st_mode) < 0)
        goto fail;
    {
        /* -u: qemu-img must not open the chain below backing (seconds per
         * create on deep chains); the size comes from the header instead. */
        const char *args[] = { "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", backing,
                               "-u", t.tmp, size, NULL };

        if (chain_run_qemu_img(args, NULL, NULL) < 0)
            goto fail;
    }
    {
        /* Check what qemu-img wrote before it takes the final name. */
        ChainHeader made = { 0 };
        int good;

        if (chain_read_header(t.tmp, &made) < 0)
            goto fail;
        good = util_streq(made.backing_name, backing) && made.virtual_size == hdr.virtual_size;
        chain_header_clear(&made);
        if (!good) {
            err_set(RESULT_FAILED, "qemu-img created %s without the expected backing file or size",
                    t.tmp);
            goto fail;
        }
    }
    if (chain_tmp_commit(&t, path) < 0)
        goto fail;
    rc = 0;
    goto out;
fail:
    chain_prefix_dest("cannot create overlay", path);
out:
    chain_tmp_discard(&t);
    chain_header_clear(&hdr);
    return rc;
}

int
chain_flatten(const char *top, const char *dest, ChainProgressFn progress, void *opaque)
{
    ChainTmp t = { NULL, NULL, -1, 0, 0 };
    Chain *c = NULL;
    struct stat st;
    int rc = -1;

    if (chain_check_absent(dest) < 0)
        return -1;
    /* qemu-img would open whatever the headers say: check the chain first. */
    c = chain_walk(top);
    if (!c)
        goto fail;
    if (stat(c->layers[0].path, &st) < 0) {
        err_set_errno(0, errno, "cannot stat %s", c->layers[0].path);
        goto fail;
    }
    if (chain_check_dir_writable(dest) < 0)
        goto fail;
    if (chain_tmp_create(&t, dest, st.st_mode) < 0)
        goto fail;
    {
        /* Test hook: DROVER_COPY_RATE (qemu-img's -r, bytes per second,
         * "16M") makes a flatten last long enough to act on it meanwhile. */
        const char *rate = getenv("DROVER_COPY_RATE");
        const char *args[] = { "convert", "-p", "-f", "qcow2", "-O", "qcow2",
                               c->layers[0].path, t.tmp, NULL, NULL, NULL };

        if (rate && *rate && strspn(rate, "0123456789kKMG") == strlen(rate)) {
            args[8] = "-r";
            args[9] = rate;
        }
        if (chain_run_qemu_img(args, progress, opaque) < 0)
            goto fail;
    }
    if (chain_tmp_commit(&t, dest) < 0)
        goto fail;
    rc = 0;
    goto out;
fail:
    {
        char *what = util_xasprintf("cannot flatten %s into", top);

        chain_prefix_dest(what, dest);
        free(what);
    }
out:
    chain_tmp_discard(&t);
    chain_free(c);
    return rc;
}

int
chain_rebase_unsafe(const char *overlay, const char *new_backing)
{
    ChainHeader hdr = { 0 };
    Chain *below = NULL;
    struct stat st;
    int fd = -1;
    int rc = -1;

    if (!new_backing || new_backing[0] != '/') {
        err_set(RESULT_INVALID_PARAMETER, "new backing file '%s' of %s is not an absolute path",
                new_backing ? new_backing : "", overlay);
        return -1;
    }
    if (chain_read_header(overlay, &hdr) < 0)
        goto fail;
    if (stat(overlay, &st) < 0) {
        err_set_errno(0, errno, "cannot stat %s", overlay);
        goto fail;
    }
    below = chain_walk(new_backing);
    if (!below)
        goto fail;
    if (chain_has_file(below, st.st_dev, st.st_ino)) {
        err_set(RESULT_INCORRECT_TYPE, "%s is already part of the chain of %s: the rebase would loop",
                overlay, new_backing);
        goto fail;
    }
    if (below->n + 1 > CHAIN_MAX_DEPTH) {
        err_set(RESULT_INCORRECT_TYPE, "the chain would be deeper than %d layers", CHAIN_MAX_DEPTH);
        goto fail;
    }
    if (strcmp(below->layers[0].format, "qcow2") != 0) {
        err_set(RESULT_INCORRECT_TYPE, "%s is not a qcow2 image", new_backing);
        goto fail;
    }
    {
        const char *args[] = { "rebase", "-u", "-f", "qcow2", "-F", "qcow2", "-b", new_backing,
                               overlay, NULL };

        if (chain_run_qemu_img(args, NULL, NULL) < 0)
            goto fail;
    }
    chain_header_clear(&hdr);
    if (chain_read_header(overlay, &hdr) < 0)
        goto fail;
    if (!util_streq(hdr.backing_name, new_backing)) {
        err_set(RESULT_FAILED, "qemu-img rebase left %s backed by '%s'", overlay,
                hdr.backing_name ? hdr.backing_name : "(nothing)");
        goto fail;
    }
    fd = open(overlay, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        err_set_errno(0, errno, "cannot sync %s", overlay);
        goto fail;
    }
    rc = 0;
    goto out;
fail:
    err_prefix("cannot rebase %s onto %s", overlay, new_backing);
out:
    if (fd >= 0)
        close(fd);
    chain_free(below);
    chain_header_clear(&hdr);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Safe discard                                                        */

/* The checks that only need the file's own status. */
static int
chain_discard_check_stat(const char *path, const struct stat *st, dev_t dev, ino_t ino)
{
    if (S_ISLNK(st->st_mode)) {
        err_set(RESULT_ACCESS_DENIED, "%s is a symbolic link; drover never deletes through links",
                path);
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        err_set(RESULT_ACCESS_DENIED, "%s is not a regular file", path);
        return -1;
    }
    if (st->st_nlink != 1) {
        err_set(RESULT_ACCESS_DENIED, "%s has %lu hard links; drover deletes only files with one link",
                path, (unsigned long)st->st_nlink);
        return -1;
    }
    if (st->st_dev != dev || st->st_ino != ino) {
        err_set(RESULT_INVALID_STATE,
                "%s was replaced since the plan (device %lu inode %lu, planned device %lu inode %lu)",
                path, (unsigned long)st->st_dev, (unsigned long)st->st_ino,
                (unsigned long)dev, (unsigned long)ino);
        return -1;
    }
    return 0;
}

static int
chain_discard_run(const char *path, dev_t dev, ino_t ino, const char *dir,
                  const Chain *const *keep, size_t nkeep, int dry)
{
    struct stat st;
    char *parent = NULL;
    char *real_parent = NULL;
    char *real_dir = NULL;
    const char *base;
    int dfd = -1;
    int rc = -1;
    size_t i;

    if (!path || !*path) {
        err_set(RESULT_INVALID_PARAMETER, "no file named to discard");
        return -1;
    }
    if (fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        err_set_errno(0, errno, "cannot discard %s", path);
        return -1;
    }
    if (chain_discard_check_stat(path, &st, dev, ino) < 0)
        return -1;
    if (!dir || !util_path_is_inside(path, dir)) {
        err_set(RESULT_ACCESS_DENIED, "%s lies outside the replica directory %s", path,
                dir ? dir : "(none)");
        return -1;
    }
    /* Lexically inside is not enough: a symlinked directory on the way
     * could lead anywhere. */
    parent = util_dirname(path);
    real_parent = realpath(parent, NULL);
    if (!real_parent) {
        err_set_errno(0, errno, "cannot resolve directory %s of %s", parent, path);
        goto out;
    }
    real_dir = realpath(dir, NULL);
    if (!real_dir) {
        err_set_errno(0, errno, "cannot resolve the replica directory %s", dir);
        goto out;
    }
    if (strcmp(real_parent, real_dir) != 0 && !util_path_is_inside(real_parent, real_dir)) {
        err_set(RESULT_ACCESS_DENIED,
                "%s lies outside the replica directory %s (its directory resolves to %s)",
                path, dir, real_parent);
        goto out;
    }
    for (i = 0; i < nkeep; i++) {
        const Chain *c = keep[i];
        size_t k;

        if (!c)
            continue;
        for (k = 0; k < c->n; k++) {
            if (c->layers[k].dev != st.st_dev || c->layers[k].ino != st.st_ino)
                continue;
            if (k == 0)
                err_set(RESULT_IN_USE, "%s is the top of the kept chain %s", path,
                        c->layers[0].path);
            else
                err_set(RESULT_IN_USE, "%s is a backing layer of %s", path, c->layers[0].path);
            err_hint(RESULT_HINT_FILE_IN_USE);
            goto out;
        }
    }
    if (dry) {
        rc = 0;
        goto out;
    }

    /* Delete by name inside the resolved directory, after checking once
     * more through that directory, so a swap since the checks above is
     * caught rather than followed. */
    dfd = open(real_parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        err_set_errno(0, errno, "cannot open directory %s", real_parent);
        goto out;
    }
    base = chain_basename(path);
    if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        err_set_errno(0, errno, "cannot discard %s", path);
        goto out;
    }
    if (chain_discard_check_stat(path, &st, dev, ino) < 0)
        goto out;
    if (unlinkat(dfd, base, 0) < 0) {
        err_set_errno(0, errno, "cannot delete %s", path);
        goto out;
    }
    if (fsync(dfd) < 0) {
        err_set_errno(0, errno, "deleted %s but cannot sync directory %s", path, real_parent);
        goto out;
    }
    rc = 0;
out:
    if (dfd >= 0)
        close(dfd);
    free(parent);
    free(real_parent);
    free(real_dir);
    return rc;
}

int
chain_discard(const char *path, dev_t dev, ino_t ino, const char *dir,
              const Chain *const *keep, size_t nkeep)
{
    return chain_discard_run(path, dev, ino, dir, keep, nkeep, 0);
}

int
chain_discard_check(const char *path, dev_t dev, ino_t ino, const char *dir,
                    const Chain *const *keep, size_t nkeep)
{
    return chain_discard_run(path, dev, ino, dir, keep, nkeep, 1);
}

int
chain_stat(const char *path, dev_t *dev, ino_t *ino, uint64_t *size)
{
    struct stat st;

    if (fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        err_set_errno(0, errno, "cannot stat %s", path);
        return -1;
    }
    if (dev)
        *dev = st.st_dev;
    if (ino)
        *ino = st.st_ino;
    if (size)
        *size = (uint64_t)st.st_size;
    return 0;
}
