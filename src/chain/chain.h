/* SPDX-License-Identifier: GPL-2.0-or-later */
/* chain: the qcow2 disk-chain engine.
 *
 * Reads qcow2 headers itself (versions 2 and 3), walks backing chains,
 * creates overlays with qemu-img, and deletes files only when every safety
 * check passes. */
#ifndef DROVER_CHAIN_H
#define DROVER_CHAIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* libvirt refuses deeper chains; so do we. */
#define CHAIN_MAX_DEPTH 200
/* The qcow2 spec limits the backing file name to 1023 bytes. */
#define CHAIN_MAX_BACKING_NAME 1023

typedef struct {
    int version;                /* 2 or 3 */
    uint64_t virtual_size;
    char *backing_name;         /* as written in the header, NULL if none */
    char *backing_format;       /* from extension 0xE2792ACA, NULL if absent */
    uint64_t incompatible_features; /* v3 only */
    char *data_file;            /* extension 0x44415441, as written, NULL if absent */
    uint32_t crypt_method;      /* 0 none, 1 AES, 2 LUKS */
} ChainHeader;

/* qcow2 incompatible feature bits qemu 7.2 knows; any other bit makes qemu
 * refuse the image, and so does the reader. */
#define CHAIN_INCOMPAT_DIRTY        (1ULL << 0)
#define CHAIN_INCOMPAT_CORRUPT      (1ULL << 1)
#define CHAIN_INCOMPAT_DATA_FILE    (1ULL << 2)
#define CHAIN_INCOMPAT_COMPRESSION  (1ULL << 3)
#define CHAIN_INCOMPAT_EXTL2        (1ULL << 4)
#define CHAIN_INCOMPAT_KNOWN        0x1fULL

typedef struct {
    char *path;                 /* absolute, relative backing names resolved */
    char *format;               /* "qcow2" or "raw" */
    int version;                /* qcow2 version, 0 for raw */
    uint64_t virtual_size;
    uint64_t allocated;         /* bytes the file occupies on disk (st_blocks * 512) */
    uint64_t file_size;         /* st_size */
    dev_t dev;
    ino_t ino;
    char *backing_name;         /* as written in this layer's header, NULL at the base */
    char *backing_format;
    uint64_t incompatible_features; /* CHAIN_INCOMPAT_* (qcow2 v3) */
    char *data_file;            /* external data file, resolved as qemu does, or NULL */
    uint32_t crypt_method;      /* from the qcow2 header: 0 unencrypted */
} ChainLayer;

typedef struct {
    ChainLayer *layers;         /* layers[0] is the top, layers[n-1] the base */
    size_t n;
} Chain;

/* Reads the header of one qcow2 file.  Refuses (32776) wrong magic, a
 * version other than 2 or 3, a truncated or inconsistent header, a backing
 * name longer than CHAIN_MAX_BACKING_NAME, an incompatible feature bit qemu
 * does not know (qemu refuses such an image too); missing file 32779. */
int chain_read_header(const char *path, ChainHeader *hdr);
void chain_header_clear(ChainHeader *hdr);

/* Walks the chain from top down to its base.  Refuses a loop, a depth over
 * CHAIN_MAX_DEPTH, a missing layer (32779, naming it and the layer that
 * points at it), a layer that is not qcow2 where qcow2 is expected, a
 * truncated or corrupt header.  A raw layer is accepted only as a base whose
 * backing format is recorded as raw. */
Chain *chain_walk(const char *top);
/* As chain_walk; on failure *partial (when not NULL) gets the layers read
 * before the one that failed (possibly none; free it with chain_free). */
Chain *chain_walk_partial(const char *top, Chain **partial);
void chain_free(Chain *c);
/* Refuses a chain drover must not operate on, naming the layer: a layer
 * marked corrupt (32776: its metadata is known to be inconsistent, so
 * neither a flatten nor a guest can trust what it reads), or one with an
 * external data file (32770, naming the file: drover plans, keeps and
 * deletes layers as single files).  The dirty bit is accepted: it only
 * says refcounts need a rebuild, which qemu does on open. */
int chain_check_usable(const Chain *c);
/* True if the file (by device and inode) is a layer of c. */
int chain_has_file(const Chain *c, dev_t dev, ino_t ino);
/* Index of the layer with this path (compared after resolving), or -1. */
int chain_find_path(const Chain *c, const char *path);

/* Creates an empty qcow2 overlay at path backed by backing (absolute path,
 * qcow2), with the backing image's virtual size read from its header:
 * qemu-img create -f qcow2 -F qcow2 -b BACKING -u TMP SIZE into a temporary
 * name in the same directory, fsync, rename to path, fsync the directory.
 * Refuses if path exists.  Never opens the chain below backing. */
int chain_create_overlay(const char *backing, const char *path);

/* Copies src (a regular file, not followed if a symlink) to the new file
 * dest through a temporary name beside it, fsync, rename without replacing,
 * fsync the directory: a test system's own copy of the replica's NVRAM.
 * Refuses if dest exists; src is only read. */
int chain_copy_file(const char *src, const char *dest);

/* Called with 0..100 while a long chain operation runs. */
/* Returns 0 to go on; anything else stops the copy (it fails, cancelled). */
typedef int (*ChainProgressFn)(int percent, void *opaque);

/* Writes a standalone qcow2 image at dest holding what top shows through its
 * whole chain (qemu-img convert -p), via a temporary name, fsync, rename.
 * Used by commit --flatten; touches no existing file.  Test hook: the
 * environment variable DROVER_COPY_RATE (qemu-img -r: "16M" bytes per
 * second) slows the copy down. */
int chain_flatten(const char *top, const char *dest, ChainProgressFn progress, void *opaque);
/* Points the existing overlay's header at a new backing file with identical
 * content (qemu-img rebase -u). */
int chain_rebase_unsafe(const char *overlay, const char *new_backing);

/* Deletes path only if all hold, each refusal a distinct error:
 *  - it is a regular file, not a symlink (AT_SYMLINK_NOFOLLOW)      32769
 *  - it has exactly one link (a hard-linked file is someone else's) 32769
 *  - its device and inode are the planned ones                     32775
 *  - it lies inside dir                                             32769
 *  - it is not a layer of any chain in keep                        32774
 * then unlinks it and fsyncs the directory.  A file that is already gone
 * is 32779. */
int chain_discard(const char *path, dev_t dev, ino_t ino, const char *dir,
                  const Chain *const *keep, size_t nkeep);
/* Every check of chain_discard(), without deleting: lets an operation
 * refuse before it changes anything. */
int chain_discard_check(const char *path, dev_t dev, ino_t ino, const char *dir,
                        const Chain *const *keep, size_t nkeep);

/* Runs qemu-img with args (NULL-terminated, without argv[0]; no shell),
 * calling progress for "(NN.NN/100%)" lines when given; qemu-img's
 * stderr becomes the error message on failure. */
int chain_run_qemu_img(const char *const *args, ChainProgressFn progress, void *opaque);

/* stat() without following symlinks, giving device and inode: 0 or -1. */
int chain_stat(const char *path, dev_t *dev, ino_t *ino, uint64_t *size);

#endif
