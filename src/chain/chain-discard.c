/* SPDX-License-Identifier: GPL-2.0-or-later */
/* chain-discard: the one function that deletes a file, after every check
 * (the file is the one planned, regular, not linked elsewhere, inside its
 * directory, not in use). */
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
#include "base/result.h"
#include "base/util.h"

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
