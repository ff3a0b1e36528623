/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fsutil: durable file writes and directory helpers. */
#ifndef DROVER_FSUTIL_H
#define DROVER_FSUTIL_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Creates dir and its missing parents with mode: 0 or -1 with err set. */
int fsutil_mkdirs(const char *dir, mode_t mode);
/* Creates the missing parents of the file path. */
int fsutil_mkdir_parents(const char *path, mode_t mode);
/* fsync() a directory so a rename or unlink in it is durable. */
int fsutil_fsync_dir(const char *dir);
/* Writes data to path through a temporary file in the same directory,
 * fsync, rename over path, fsync the directory.  Readers see the old or the
 * new content, never a mix. */
int fsutil_write_atomic(const char *path, const char *data, size_t len, mode_t mode);
/* The same version of the same file: device, inode, size and mtime agree. */
int fsutil_same_version(const struct stat *a, const struct stat *b);
/* Reads a whole file of at most max bytes (NUL-terminated); NULL with err. */
char *fsutil_read_file(const char *path, size_t max, size_t *len);

#endif
