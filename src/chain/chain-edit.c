/* SPDX-License-Identifier: GPL-2.0-or-later */
/* chain-edit: the chain engine's writes: overlays, flattened images and
 * rebases, each made under a temporary name and renamed into place. */
#include <config.h>

#include "chain/chain.h"
#include "chain/chain-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/result.h"
#include "base/util.h"

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
