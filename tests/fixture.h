/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fixture: real qcow2 chains and file checks for tests, made with qemu-img. */
#ifndef DROVER_FIXTURE_H
#define DROVER_FIXTURE_H

#include <stddef.h>

/* $QEMU_IMG, or "qemu-img" when it is unset or empty. */
const char *fixture_qemu_img(void);
/* $QEMU_IO, else qemu-io beside qemu-img when it exists, else "qemu-io". */
const char *fixture_qemu_io(void);

/* The argument quoted for /bin/sh (newly allocated). */
char *fixture_shquote(const char *s);

enum {
    /* Overlays name their backing file relative ("rp000.qcow2"), not absolute. */
    FIXTURE_RELATIVE = 1 << 0,
    /* Each layer i gets 4 KiB of byte (i + 1) at offset (i * 64 KiB) mod size,
     * so a flattened chain differs from any single layer. */
    FIXTURE_DATA = 1 << 1,
};

/* Makes a chain of depth layers in dir: "<prefix>000.qcow2" is the base
 * (virtual size size_str, e.g. "1M"), "<prefix>001.qcow2" .. are qcow2
 * overlays, each backed by the one before (qemu-img create -u, so deep
 * chains are quick).  *paths gets a NULL-terminated array of the absolute
 * paths, base first, top last (free with fixture_free_paths).  0 or -1,
 * with a TAP diagnostic saying what failed. */
int fixture_make_chain(const char *dir, const char *prefix, int depth, const char *size_str,
                       char ***paths);
int fixture_make_chain_opts(const char *dir, const char *prefix, int depth, const char *size_str,
                            int flags, char ***paths);
void fixture_free_paths(char **paths);

/* Writes len bytes of pattern at offset into a qcow2 image with qemu-io. */
int fixture_write_pattern(const char *image, unsigned long long offset, unsigned long long len,
                          int pattern);

/* Hex SHA-256 of a file (sha256sum), newly allocated, or NULL. */
char *fixture_sha256(const char *path);

/* Records the SHA-256 of files so a test can check at the end that none
 * of them changed. */
typedef struct {
    char **paths;
    char **sums;
    size_t n;
    size_t cap;
} FixtureSums;

void fixture_sums_add(FixtureSums *s, const char *path);
void fixture_sums_add_all(FixtureSums *s, char *const *paths);
/* Number of recorded files whose content changed or vanished (each one
 * reported as a TAP diagnostic). */
size_t fixture_sums_changed(const FixtureSums *s);
void fixture_sums_free(FixtureSums *s);

/* Number of entries in dir whose name contains needle ("" counts all but
 * "." and ".."), or -1 if dir cannot be read. */
int fixture_count_entries(const char *dir, const char *needle);

#endif
