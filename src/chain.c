/* chain: the qcow2 disk-chain engine.
 *
 * The header reader is our own (no libqcow): it only needs the few fields
 * that describe a chain, and a corrupt file must come back as a decoded
 * refusal rather than a crash.  Everything that writes image data goes
 * through qemu-img, run without a shell. */
#include <config.h>

#include "chain.h"

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

#include "err.h"
#include "result.h"
#include "util.h"

#define CHAIN_QCOW2_MAGIC 0x514649fbU
#define CHAIN_EXT_END 0x00000000U
#define CHAIN_EXT_BACKING_FORMAT 0xE2792ACAU
#define CHAIN_V2_HEADER_LEN 72U
#define CHAIN_V3_HEADER_LEN 104U
#define CHAIN_MIN_CLUSTER_BITS 9U
#define CHAIN_MAX_CLUSTER_BITS 21U
/* Everything we read (header, extensions, backing name) lies in the first
 * cluster; we never read more than this of it. */
#define CHAIN_HEADER_READ_MAX 65536U
/* qemu keeps the backing format in a 16-byte buffer. */
#define CHAIN_MAX_BACKING_FORMAT 15U
/* qemu-img's stderr is kept for the message, not stored without bound. */
#define CHAIN_STDERR_MAX 8192U

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

static const char *
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

static int
chain_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc;

    if (fd < 0) {
        err_set_errno(0, errno, "cannot open directory %s to sync it", dir);
        return -1;
    }
    rc = fsync(fd);
    if (rc < 0)
        err_set_errno(0, errno, "cannot sync directory %s", dir);
    close(fd);
    return rc;
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
    }
    hdr->version = (int)version;
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
        l->allocated = (uint64_t)st.st_blocks * 512;
        l->file_size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : size;
        l->dev = st.st_dev;
        l->ino = st.st_ino;
        l->backing_name = UTIL_STEAL(&hdr.backing_name);
        l->backing_format = UTIL_STEAL(&hdr.backing_format);
        chain_header_clear(&hdr);
        free(expect_format);
        expect_format = NULL;

        if (!l->backing_name)
            break;
        if (chain_name_is_protocol(l->backing_name)) {
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

/* ------------------------------------------------------------------ */
/* Running qemu-img                                                    */

static const char *
chain_qemu_img(void)
{
    const char *q = getenv("QEMU_IMG");

    return q && *q ? q : DROVER_QEMU_IMG;
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
                    if (p->fn)
                        p->fn(pct, p->opaque);
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
    ChainProgress prog = { progress, opaque, -1, { 0 }, 0, 0 };

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
        err_set_errno(0, exec_errno, "cannot run qemu-img %s", qemu);
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
    if (chain_fsync_dir(t->dir) < 0) {
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
        const char *args[] = { "convert", "-p", "-f", "qcow2", "-O", "qcow2",
                               c->layers[0].path, t.tmp, NULL };

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
