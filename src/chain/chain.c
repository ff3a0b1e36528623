/* SPDX-License-Identifier: GPL-2.0-or-later */
/* chain: the qcow2 disk-chain engine.
 *
 * The header reader is our own (no libqcow): it only needs the few fields
 * that describe a chain, and a corrupt file must come back as a decoded
 * refusal rather than a crash.  Everything that writes image data goes
 * through qemu-img, run without a shell. */
#include <config.h>

#include "chain/chain.h"
#include "chain/chain-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"

#define CHAIN_QCOW2_MAGIC 0x514649fbU
#define CHAIN_EXT_END 0x00000000U
#define CHAIN_EXT_BACKING_FORMAT 0xE2792ACAU
#define CHAIN_EXT_DATA_FILE 0x44415441U
#define CHAIN_V2_HEADER_LEN 72U
#define CHAIN_V3_HEADER_LEN 104U
#define CHAIN_MIN_CLUSTER_BITS 9U
#define CHAIN_MAX_CLUSTER_BITS 21U
/* Everything we read (header, extensions, backing name) lies in the first
 * cluster; we never read more than this of it. */
#define CHAIN_HEADER_READ_MAX 65536U
/* qemu keeps the backing format in a 16-byte buffer. */
#define CHAIN_MAX_BACKING_FORMAT 15U

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static uint32_t
chain_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t
chain_be64(const unsigned char *p)
{
    return (uint64_t)chain_be32(p) << 32 | chain_be32(p + 4);
}

const char *
chain_basename(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash ? slash + 1 : path;
}

/* Removes "." components and repeated slashes: both are meaningless to the
 * kernel whatever the symlinks are.  ".." is kept, since folding it
 * lexically would be wrong through a symlinked directory. */
static char *
chain_clean_path(const char *path)
{
    UtilBuf b = { 0 };
    const char *p = path;

    if (*p == '/')
        util_buf_add(&b, "/");
    while (*p) {
        const char *seg;
        size_t n;

        while (*p == '/')
            p++;
        seg = p;
        while (*p && *p != '/')
            p++;
        n = (size_t)(p - seg);
        if (n == 0 || (n == 1 && seg[0] == '.'))
            continue;
        if (b.len && b.s[b.len - 1] != '/')
            util_buf_add(&b, "/");
        util_buf_addn(&b, seg, n);
    }
    if (!b.len)
        util_buf_add(&b, ".");
    return util_buf_steal(&b);
}

/* path made absolute against the working directory, then cleaned. */
static char *
chain_abs_path(const char *path)
{
    char *joined;
    char *clean;

    if (path[0] == '/') {
        joined = util_xstrdup(path);
    } else {
        char *cwd = getcwd(NULL, 0);

        if (!cwd) {
            err_set_errno(0, errno, "cannot make %s absolute: cannot read the working directory", path);
            return NULL;
        }
        joined = util_path_join(cwd, path);
        free(cwd);
    }
    clean = chain_clean_path(joined);
    free(joined);
    return clean;
}

static int
chain_pread_full(int fd, unsigned char *buf, size_t n, uint64_t off, size_t *got)
{
    size_t done = 0;

    while (done < n) {
        ssize_t r = pread(fd, buf + done, n - done, (off_t)(off + done));

        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Header reader                                                       */

void
chain_header_clear(ChainHeader *hdr)
{
    if (!hdr)
        return;
    free(hdr->backing_name);
    free(hdr->backing_format);
    free(hdr->data_file);
    memset(hdr, 0, sizeof(*hdr));
}

/* The part of the file the header lives in, read on demand so a walk of a
 * deep chain reads a few KiB per layer, not a whole cluster. */
typedef struct {
    int fd;
    const char *path;
    uint64_t limit;             /* bytes we may read: min(file size, READ_MAX) */
    unsigned char *buf;
    size_t have;
} ChainHdrBuf;

static int
chain_hdr_need(ChainHdrBuf *hb, uint64_t end)
{
    size_t want;
    size_t got = 0;

    if (end <= hb->have)
        return 0;
    /* Callers check end against limit first; this is the last line. */
    if (end > hb->limit) {
        err_set(RESULT_INCORRECT_TYPE, "%s: qcow2 header is truncated", hb->path);
        return -1;
    }
    want = (size_t)((end + 4095) & ~(uint64_t)4095);
    if (want > hb->limit)
        want = (size_t)hb->limit;
    if (chain_pread_full(hb->fd, hb->buf + hb->have, want - hb->have, hb->have, &got) < 0) {
        err_set_errno(0, errno, "%s: cannot read the qcow2 header", hb->path);
        return -1;
    }
    hb->have += got;
    if (hb->have < end) {
        /* The file shrank under us. */
        err_set(RESULT_INCORRECT_TYPE, "%s: qcow2 header is truncated (the file is %zu bytes)",
                hb->path, hb->have);
        return -1;
    }
    return 0;
}

static int
chain_parse_extensions(ChainHdrBuf *hb, uint64_t off, uint64_t end, ChainHeader *hdr)
{
    while (off < end) {
        uint32_t type, len;

        if (end - off < 8) {
            err_set(RESULT_INCORRECT_TYPE,
                    "%s: header extension at offset %llu is truncated (the extension area ends at %llu)",
                    hb->path, (unsigned long long)off, (unsigned long long)end);
            return -1;
        }
        if (chain_hdr_need(hb, off + 8) < 0)
            return -1;
        type = chain_be32(hb->buf + off);
        len = chain_be32(hb->buf + off + 4);
        if (type == CHAIN_EXT_END)
            return 0;
        if (len > end - off - 8) {
            err_set(RESULT_INCORRECT_TYPE,
                    "%s: header extension 0x%08x at offset %llu has length %u, "
                    "which runs past the end of the extension area at %llu",
                    hb->path, type, (unsigned long long)off, len, (unsigned long long)end);
            return -1;
        }
        if (type == CHAIN_EXT_BACKING_FORMAT) {
            const unsigned char *data;

            if (len == 0 || len > CHAIN_MAX_BACKING_FORMAT) {
                err_set(RESULT_INCORRECT_TYPE,
                        "%s: backing format extension has length %u (1..%u expected)",
                        hb->path, len, CHAIN_MAX_BACKING_FORMAT);
                return -1;
            }
            if (chain_hdr_need(hb, off + 8 + len) < 0)
                return -1;
            data = hb->buf + off + 8;
            if (memchr(data, '\0', len)) {
                err_set(RESULT_INCORRECT_TYPE, "%s: backing format extension contains a NUL byte",
                        hb->path);
                return -1;
            }
            free(hdr->backing_format);
            hdr->backing_format = util_xstrndup((const char *)data, len);
        } else if (type == CHAIN_EXT_DATA_FILE) {
            const unsigned char *data;

            if (len == 0 || len > CHAIN_MAX_BACKING_NAME) {
                err_set(RESULT_INCORRECT_TYPE,
                        "%s: external data file extension has length %u (1..%u expected)",
                        hb->path, len, CHAIN_MAX_BACKING_NAME);
                return -1;
            }
            if (chain_hdr_need(hb, off + 8 + len) < 0)
                return -1;
            data = hb->buf + off + 8;
            if (memchr(data, '\0', len)) {
                err_set(RESULT_INCORRECT_TYPE, "%s: external data file name contains a NUL byte",
                        hb->path);
                return -1;
            }
            free(hdr->data_file);
            hdr->data_file = util_xstrndup((const char *)data, len);
        }
        /* Data is padded to a multiple of 8; unknown extensions are skipped,
         * as qemu does. */
        off += 8 + (((uint64_t)len + 7) & ~(uint64_t)7);
    }
    return 0;
}

/* Reads the header from an open file of size fsize.  path is for messages. */
static int
chain_parse_header(int fd, const char *path, uint64_t fsize, ChainHeader *hdr)
{
    ChainHdrBuf hb = { fd, path, 0, NULL, 0 };
    uint32_t magic, version, cluster_bits, header_len, backing_len;
    uint64_t cluster_size, area, backing_off, ext_end;
    int rc = -1;

    memset(hdr, 0, sizeof(*hdr));
    if (fsize == 0) {
        err_set(RESULT_INCORRECT_TYPE, "%s is empty (0 bytes), not a qcow2 image", path);
        return -1;
    }
    hb.limit = fsize < CHAIN_HEADER_READ_MAX ? fsize : CHAIN_HEADER_READ_MAX;
    hb.buf = util_xmalloc(CHAIN_HEADER_READ_MAX);

    if (fsize < 4) {
        err_set(RESULT_INCORRECT_TYPE, "%s is truncated: %llu bytes is too short for a qcow2 header",
                path, (unsigned long long)fsize);
        goto out;
    }
    if (chain_hdr_need(&hb, fsize < CHAIN_V3_HEADER_LEN ? fsize : CHAIN_V3_HEADER_LEN) < 0)
        goto out;
    magic = chain_be32(hb.buf);
    if (magic != CHAIN_QCOW2_MAGIC) {
        err_set(RESULT_INCORRECT_TYPE, "%s is not a qcow2 image (magic 0x%08x, expected 0x%08x)",
                path, magic, CHAIN_QCOW2_MAGIC);
        goto out;
    }
    if (fsize < 8) {
        err_set(RESULT_INCORRECT_TYPE, "%s: qcow2 header is truncated (the file is %llu bytes)",
                path, (unsigned long long)fsize);
        goto out;
    }
    version = chain_be32(hb.buf + 4);
    if (version != 2 && version != 3) {
        err_set(RESULT_INCORRECT_TYPE, "%s: qcow2 version %u is not supported (2 or 3 expected)",
                path, version);
        goto out;
    }
    header_len = version == 2 ? CHAIN_V2_HEADER_LEN : CHAIN_V3_HEADER_LEN;
    if (fsize < header_len) {
        err_set(RESULT_INCORRECT_TYPE,
                "%s: qcow2 header is truncated: the file is %llu bytes, a version %u header needs %u",
                path, (unsigned long long)fsize, version, header_len);
        goto out;
    }
    cluster_bits = chain_be32(hb.buf + 20);
    if (cluster_bits < CHAIN_MIN_CLUSTER_BITS || cluster_bits > CHAIN_MAX_CLUSTER_BITS) {
        err_set(RESULT_INCORRECT_TYPE, "%s: cluster_bits %u is outside %u..%u",
                path, cluster_bits, CHAIN_MIN_CLUSTER_BITS, CHAIN_MAX_CLUSTER_BITS);
        goto out;
    }
    cluster_size = (uint64_t)1 << cluster_bits;
    /* Header, extensions and backing name all live in the first cluster. */
    area = cluster_size < hb.limit ? cluster_size : hb.limit;
    if (version == 3) {
        header_len = chain_be32(hb.buf + 100);
        if (header_len < CHAIN_V3_HEADER_LEN) {
            err_set(RESULT_INCORRECT_TYPE, "%s: header_length %u is smaller than %u",
                    path, header_len, CHAIN_V3_HEADER_LEN);
            goto out;
        }
        if (header_len > area) {
            err_set(RESULT_INCORRECT_TYPE,
                    "%s: header_length %u runs past the first cluster or the end of the file "
                    "(%llu bytes readable)", path, header_len, (unsigned long long)area);
            goto out;
        }
        hdr->incompatible_features = chain_be64(hb.buf + 72);
        if (hdr->incompatible_features & ~CHAIN_INCOMPAT_KNOWN) {
            /* qemu refuses to open such an image ("Unsupported qcow2
             * feature(s)"); guessing what the bit means could lose data. */
            err_set(RESULT_INCORRECT_TYPE,
                    "%s uses incompatible qcow2 feature bits 0x%llx that drover and qemu do not "
                    "know (incompatible_features 0x%llx); qemu cannot open it either",
                    path, (unsigned long long)(hdr->incompatible_features & ~CHAIN_INCOMPAT_KNOWN),
                    (unsigned long long)hdr->incompatible_features);
            goto out;
        }
    }
    hdr->version = (int)version;
    hdr->crypt_method = chain_be32(hb.buf + 32);
    hdr->virtual_size = chain_be64(hb.buf + 24);
    if (hdr->virtual_size > (uint64_t)INT64_MAX) {
        err_set(RESULT_INCORRECT_TYPE, "%s: size %llu is out of range",
                path, (unsigned long long)hdr->virtual_size);
        goto out;
    }

    backing_off = chain_be64(hb.buf + 8);
    backing_len = chain_be32(hb.buf + 16);
    ext_end = area;
    if (backing_off != 0) {
        if (backing_len > CHAIN_MAX_BACKING_NAME) {
            err_set(RESULT_INCORRECT_TYPE, "%s: backing_file_size %u exceeds %d bytes",
                    path, backing_len, CHAIN_MAX_BACKING_NAME);
            goto out;
        }
        if (backing_off >= fsize || backing_len > fsize - backing_off) {
            err_set(RESULT_INCORRECT_TYPE,
                    "%s: backing_file_offset %llu (%u bytes) lies beyond the end of the file (%llu bytes)",
                    path, (unsigned long long)backing_off, backing_len, (unsigned long long)fsize);
            goto out;
        }
        if (backing_off < header_len) {
            err_set(RESULT_INCORRECT_TYPE, "%s: backing_file_offset %llu lies inside the %u-byte header",
                    path, (unsigned long long)backing_off, header_len);
            goto out;
        }
        if (backing_off + backing_len > area) {
            err_set(RESULT_INCORRECT_TYPE,
                    "%s: backing_file_offset %llu (%u bytes) lies outside the first cluster",
                    path, (unsigned long long)backing_off, backing_len);
            goto out;
        }
        if (chain_hdr_need(&hb, backing_off + backing_len) < 0)
            goto out;
        if (memchr(hb.buf + backing_off, '\0', backing_len)) {
            err_set(RESULT_INCORRECT_TYPE, "%s: backing file name contains a NUL byte", path);
            goto out;
        }
        /* An empty name means no backing file, as in qemu. */
        if (backing_len > 0)
            hdr->backing_name = util_xstrndup((const char *)hb.buf + backing_off, backing_len);
        ext_end = backing_off;
    }
    if (chain_parse_extensions(&hb, header_len, ext_end, hdr) < 0)
        goto out;
    rc = 0;
out:
    free(hb.buf);
    if (rc < 0)
        chain_header_clear(hdr);
    return rc;
}

/* Opens an image for reading (following symlinks: layers may be links) and
 * returns its size; regular files and block devices only. */
static int
chain_open_image(const char *path, struct stat *st, uint64_t *size)
{
    /* O_NONBLOCK: a FIFO named as a backing file must not hang the walk. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

    if (fd < 0) {
        err_set_errno(0, errno, "cannot open %s", path);
        return -1;
    }
    if (fstat(fd, st) < 0) {
        err_set_errno(0, errno, "cannot stat %s", path);
        goto fail;
    }
    if (S_ISDIR(st->st_mode)) {
        err_set(RESULT_INCORRECT_TYPE, "%s is a directory, not a disk image", path);
        goto fail;
    }
    if (S_ISREG(st->st_mode)) {
        *size = (uint64_t)st->st_size;
    } else if (S_ISBLK(st->st_mode)) {
        off_t end = lseek(fd, 0, SEEK_END);

        if (end < 0) {
            err_set_errno(0, errno, "cannot find the size of %s", path);
            goto fail;
        }
        *size = (uint64_t)end;
    } else {
        err_set(RESULT_INCORRECT_TYPE, "%s is not a regular file or block device", path);
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

int
chain_read_header(const char *path, ChainHeader *hdr)
{
    struct stat st;
    uint64_t size;
    int fd;
    int rc;

    memset(hdr, 0, sizeof(*hdr));
    if (!path || !*path) {
        err_set(RESULT_INVALID_PARAMETER, "no image file named");
        return -1;
    }
    fd = chain_open_image(path, &st, &size);
    if (fd < 0)
        return -1;
    rc = chain_parse_header(fd, path, size, hdr);
    close(fd);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Walk                                                                */

void
chain_free(Chain *c)
{
    size_t i;

    if (!c)
        return;
    for (i = 0; i < c->n; i++) {
        free(c->layers[i].path);
        free(c->layers[i].format);
        free(c->layers[i].backing_name);
        free(c->layers[i].backing_format);
        free(c->layers[i].data_file);
    }
    free(c->layers);
    free(c);
}

int
chain_has_file(const Chain *c, dev_t dev, ino_t ino)
{
    size_t i;

    if (!c)
        return 0;
    for (i = 0; i < c->n; i++)
        if (c->layers[i].dev == dev && c->layers[i].ino == ino)
            return 1;
    return 0;
}

int
chain_find_path(const Chain *c, const char *path)
{
    struct stat st;
    size_t i;

    if (!c || !path)
        return -1;
    /* Same file by identity when it exists (any spelling, any symlink);
     * otherwise by the cleaned absolute name. */
    if (stat(path, &st) == 0) {
        for (i = 0; i < c->n; i++)
            if (c->layers[i].dev == st.st_dev && c->layers[i].ino == st.st_ino)
                return (int)i;
        return -1;
    } else {
        char *abs = chain_abs_path(path);
        int found = -1;

        if (!abs) {
            err_clear();
            return -1;
        }
        for (i = 0; i < c->n && found < 0; i++)
            if (strcmp(c->layers[i].path, abs) == 0)
                found = (int)i;
        free(abs);
        return found;
    }
}

/* "a.qcow2 -> b.qcow2 -> a.qcow2" from layer `from` to the end, then path. */
static char *
chain_loop_text(const Chain *c, size_t from, const char *path)
{
    UtilBuf b = { 0 };
    size_t i;

    for (i = from; i < c->n; i++) {
        util_buf_add(&b, c->layers[i].path);
        util_buf_add(&b, " -> ");
    }
    util_buf_add(&b, path);
    return util_buf_steal(&b);
}

/* Backing names qemu would hand to a protocol driver, not open as files. */
static int
chain_name_is_protocol(const char *name)
{
    const char *p;

    if (strncmp(name, "json:", 5) == 0)
        return 1;
    for (p = name; *p && *p != '/'; p++) {
        if (p[0] == ':' && p[1] == '/' && p[2] == '/' && p != name)
            return 1;
    }
    return 0;
}

int
chain_check_usable(const Chain *c)
{
    size_t i;

    for (i = 0; c && i < c->n; i++) {
        const ChainLayer *l = &c->layers[i];

        if (l->incompatible_features & CHAIN_INCOMPAT_CORRUPT) {
            err_set(RESULT_INCORRECT_TYPE,
                    "%s is marked corrupt by qemu (incompatible feature bit 1): its metadata is "
                    "inconsistent and what it reads cannot be trusted; check it with qemu-img "
                    "check (repair with -r only on a copy)", l->path);
            return -1;
        }
        if (l->data_file) {
            err_set(RESULT_NOT_SUPPORTED,
                    "%s keeps its data in an external data file %s: drover plans, keeps and "
                    "deletes each layer as one file, so it does not operate on such chains "
                    "(convert the layer without data_file)", l->path, l->data_file);
            return -1;
        }
    }
    return 0;
}

Chain *
chain_walk(const char *top)
{
    return chain_walk_partial(top, NULL);
}

Chain *
chain_walk_partial(const char *top, Chain **partial)
{
    Chain *c = util_xcalloc(1, sizeof(*c));
    size_t cap = 0;
    char *path = NULL;
    char *expect_format = NULL;     /* what the layer above says this one is */
    const char *referrer = NULL;    /* path of the layer above, NULL at the top */

    if (!top || !*top) {
        err_set(RESULT_INVALID_PARAMETER, "no top image named for the chain walk");
        goto fail;
    }
    path = chain_abs_path(top);
    if (!path)
        goto fail;
    for (;;) {
        ChainHeader hdr = { 0 };
        ChainLayer *l;
        struct stat st;
        uint64_t size;
        size_t i;
        int fd;

        if (c->n >= CHAIN_MAX_DEPTH) {
            err_set(RESULT_INCORRECT_TYPE,
                    "the backing chain of %s is deeper than %d layers (%s is layer %d)",
                    c->layers[0].path, CHAIN_MAX_DEPTH, path, CHAIN_MAX_DEPTH + 1);
            goto fail;
        }
        fd = chain_open_image(path, &st, &size);
        if (fd < 0) {
            if (referrer)
                err_prefix("backing file of %s", referrer);
            goto fail;
        }
        for (i = 0; i < c->n; i++) {
            if (c->layers[i].dev == st.st_dev && c->layers[i].ino == st.st_ino) {
                char *loop = chain_loop_text(c, i, path);

                err_set(RESULT_INCORRECT_TYPE, "the backing chain of %s loops: %s",
                        c->layers[0].path, loop);
                free(loop);
                close(fd);
                goto fail;
            }
        }
        if (expect_format && strcmp(expect_format, "raw") == 0) {
            /* qemu reads it as raw whatever it contains, so do we. */
            hdr.version = 0;
            hdr.virtual_size = size;
        } else if (expect_format && strcmp(expect_format, "qcow2") != 0) {
            err_set(RESULT_INCORRECT_TYPE, "%s: backing format '%s' of %s is not supported "
                    "(qcow2 or raw expected)", referrer, expect_format, path);
            close(fd);
            goto fail;
        } else if (chain_parse_header(fd, path, size, &hdr) < 0) {
            if (referrer && !expect_format)
                err_prefix("backing file of %s, whose backing format is not recorded", referrer);
            else if (referrer)
                err_prefix("backing file of %s", referrer);
            close(fd);
            goto fail;
        }
        close(fd);

        util_grow(&c->layers, &cap, c->n + 1, sizeof(*c->layers));
        l = &c->layers[c->n++];
        l->path = UTIL_STEAL(&path);
        l->format = util_xstrdup(hdr.version ? "qcow2" : "raw");
        l->version = hdr.version;
        l->virtual_size = hdr.virtual_size;
        l->crypt_method = hdr.crypt_method;
        l->allocated = (uint64_t)st.st_blocks * 512;
        l->file_size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : size;
        l->dev = st.st_dev;
        l->ino = st.st_ino;
        l->backing_name = UTIL_STEAL(&hdr.backing_name);
        l->backing_format = UTIL_STEAL(&hdr.backing_format);
        l->incompatible_features = hdr.incompatible_features;
        if (hdr.data_file) {
            UTIL_AUTOFREE char *dir = util_dirname(l->path);
            UTIL_AUTOFREE char *joined = util_path_join(dir, hdr.data_file);

            l->data_file = chain_clean_path(joined);
        } else if (hdr.incompatible_features & CHAIN_INCOMPAT_DATA_FILE) {
            l->data_file = util_xstrdup("(a data file the header does not name)");
        }
        chain_header_clear(&hdr);
        free(expect_format);
        expect_format = NULL;

        if (!l->backing_name)
            break;
        if (strncmp(l->backing_name, "file:", 5) == 0) {
            /* qemu opens "file:NAME" with the file driver and NAME as is:
             * a relative NAME is taken from the working directory of the
             * process that opens it, not the image's directory. */
            if (l->backing_name[5] != '/') {
                err_set(RESULT_NOT_SUPPORTED,
                        "%s: backing file '%s' is relative with a file: prefix, which qemu "
                        "resolves against the working directory of whatever process opens it; "
                        "drover cannot tell which file that is", l->path, l->backing_name);
                goto fail;
            }
            path = chain_clean_path(l->backing_name + 5);
        } else if (strncmp(l->backing_name, "json:", 5) == 0) {
            err_set(RESULT_NOT_SUPPORTED,
                    "%s: backing file '%s' is a json: block specification, which drover does "
                    "not follow (rebase the layer onto a plain file name)",
                    l->path, l->backing_name);
            goto fail;
        } else if (chain_name_is_protocol(l->backing_name)) {
            err_set(RESULT_NOT_SUPPORTED, "%s: backing file '%s' is not a local file",
                    l->path, l->backing_name);
            goto fail;
        } else {
            char *dir = util_dirname(l->path);
            char *joined = util_path_join(dir, l->backing_name);

            path = chain_clean_path(joined);
            free(joined);
            free(dir);
        }
        expect_format = util_xstrdup(l->backing_format);
        referrer = l->path;
    }
    return c;
fail:
    free(path);
    free(expect_format);
    if (partial)
        *partial = c;
    else
        chain_free(c);
    return NULL;
}
