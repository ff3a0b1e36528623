/* SPDX-License-Identifier: GPL-2.0-or-later */
/* repl-copy: the data path of a cycle: block status and reads from the
 * primary's NBD export (libnbd), writes into a qcow2 layer through a
 * private qemu-nbd (socket activation: no socket file, no port). */
#include <config.h>

#include "repl/repl-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <libnbd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"

/* Reads and writes of up to this many bytes: large enough for the
 * throughput of a sequential copy, small for progress. */
#define REPL_CHUNK (4u << 20)
/* Block status per request: the largest aligned length (NBD lengths are
 * 32 bits). */
#define REPL_STATUS_SPAN UINT64_C(0xffff0000)

struct ReplSource {
    struct nbd_handle *h;
    char *where;            /* "vda at 127.0.0.1:10809", for messages */
    char *bitmap_ctx;       /* "qemu:dirty-bitmap:backup-vda" or NULL */
    uint64_t size;
    int tcp;                /* connected over TCP (repl_quickack) */
};

/* An extent to move: data, or zeroes. */
typedef struct {
    uint64_t off;
    uint64_t len;
    int zero;
} ReplExtent;

typedef struct {
    ReplExtent *v;
    size_t n, cap;
} ReplExtentList;

/* Sets err from libnbd's last error on this thread, after our context. */
static void repl_nbd_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
repl_nbd_err(int code, const char *fmt, ...)
{
    const char *msg = nbd_get_error();
    int e = nbd_get_errno();
    UTIL_AUTOFREE char *ctx = NULL;
    va_list ap;

    va_start(ap, fmt);
    ctx = util_xvasprintf(fmt, ap);
    va_end(ap);
    /* code 0: the errno decides (a full disk is 32778, not a failure of ours). */
    if (e)
        err_set_errno(code, e, "%s: %s", ctx, msg ? msg : "libnbd failed");
    else
        err_set(code ? code : RESULT_FAILED, "%s: %s", ctx, msg ? msg : "libnbd failed");
}

ReplSource *
repl_source_open(const char *nbd, const char *tls, const char *target, const char *bitmap)
{
    ReplSource *s = util_xcalloc(1, sizeof(*s));
    int64_t size;
    int rc;

    s->where = util_xasprintf("disk %s at %s", target, nbd);
    if (!(s->h = nbd_create())) {
        repl_nbd_err(RESULT_FAILED, "%s", s->where);
        goto fail;
    }
    if (nbd_set_export_name(s->h, target) < 0 ||
        nbd_add_meta_context(s->h, LIBNBD_CONTEXT_BASE_ALLOCATION) < 0) {
        repl_nbd_err(RESULT_FAILED, "%s", s->where);
        goto fail;
    }
    /* TLS required, never merely tried: a plain connection to a server
     * that wants TLS fails, and so does a TLS one that cannot be set up. */
    if (tls && (nbd_set_tls(s->h, LIBNBD_TLS_REQUIRE) < 0 ||
                nbd_set_tls_certificates(s->h, tls) < 0)) {
        repl_nbd_err(RESULT_NOT_SUPPORTED, "%s over TLS (certificates in %s)", s->where, tls);
        goto fail;
    }
    if (bitmap) {
        s->bitmap_ctx = util_xasprintf("qemu:dirty-bitmap:%s", bitmap);
        if (nbd_add_meta_context(s->h, s->bitmap_ctx) < 0) {
            repl_nbd_err(RESULT_FAILED, "%s", s->where);
            goto fail;
        }
    }
    if (strncmp(nbd, "unix:", 5) == 0) {
        rc = nbd_connect_unix(s->h, nbd + 5);
    } else {
        const char *colon = strrchr(nbd, ':');
        UTIL_AUTOFREE char *host = NULL;

        if (!colon || colon == nbd || !colon[1]) {
            err_set(RESULT_INVALID_PARAMETER, "NBD address \"%s\" is neither HOST:PORT nor unix:PATH", nbd);
            goto fail;
        }
        host = util_xstrndup(nbd, (size_t)(colon - nbd));
        /* "[::1]:10809" */
        if (host[0] == '[' && host[strlen(host) - 1] == ']') {
            memmove(host, host + 1, strlen(host));
            host[strlen(host) - 1] = '\0';
        }
        rc = nbd_connect_tcp(s->h, host, colon + 1);
        s->tcp = 1;
    }
    if (rc < 0) {
        repl_nbd_err(RESULT_NOT_AVAILABLE, "%s: the primary's NBD export cannot be reached%s%s%s",
                     s->where, tls ? " over TLS (client certificates in " : "", tls ? tls : "",
                     tls ? ")" : "");
        goto fail;
    }
    if (s->bitmap_ctx && nbd_can_meta_context(s->h, s->bitmap_ctx) != 1) {
        err_set(RESULT_INVALID_STATE, "%s: the export offers no dirty bitmap %s", s->where,
                s->bitmap_ctx);
        goto fail;
    }
    if ((size = nbd_get_size(s->h)) < 0) {
        repl_nbd_err(RESULT_FAILED, "%s", s->where);
        goto fail;
    }
    s->size = (uint64_t)size;
    return s;

fail:
    repl_source_close(s);
    return NULL;
}

uint64_t
repl_source_size(const ReplSource *s)
{
    return s->size;
}

void
repl_source_close(ReplSource *s)
{
    if (!s)
        return;
    if (s->h) {
        nbd_shutdown(s->h, 0);
        nbd_close(s->h);
    }
    free(s->where);
    free(s->bitmap_ctx);
    free(s);
}

/* --- block status ---------------------------------------------------------- */

/* One reply: the extents of each context, from the same offset. */
typedef struct {
    const char *bitmap_ctx;
    uint32_t *alloc;        /* pairs (length, flags) */
    size_t nalloc;
    uint32_t *dirty;
    size_t ndirty;
} ReplStatus;

static int
repl_status_cb(void *opaque, const char *ctx, uint64_t offset, uint32_t *entries, size_t n,
               int *error)
{
    ReplStatus *st = opaque;
    uint32_t **dst;
    size_t *dn;

    (void)offset;
    (void)error;
    if (strcmp(ctx, LIBNBD_CONTEXT_BASE_ALLOCATION) == 0) {
        dst = &st->alloc;
        dn = &st->nalloc;
    } else if (st->bitmap_ctx && strcmp(ctx, st->bitmap_ctx) == 0) {
        dst = &st->dirty;
        dn = &st->ndirty;
    } else {
        return 0;
    }
    free(*dst);
    *dst = util_xmalloc(n * sizeof(**dst) + 1);
    memcpy(*dst, entries, n * sizeof(**dst));
    *dn = n;
    return 0;
}

static void
repl_extent_add(ReplExtentList *l, uint64_t off, uint64_t len, int zero)
{
    if (l->n && l->v[l->n - 1].zero == zero && l->v[l->n - 1].off + l->v[l->n - 1].len == off) {
        l->v[l->n - 1].len += len;
        return;
    }
    util_grow(&l->v, &l->cap, l->n + 1, sizeof(*l->v));
    l->v[l->n].off = off;
    l->v[l->n].len = len;
    l->v[l->n].zero = zero;
    l->n++;
}

/* Block status requests kept in flight: one after the other, each costs
 * a round trip (about 45 ms on loopback TCP with two meta contexts, as
 * the server's two reply chunks meet delayed acknowledgements), and a
 * cycle's time would grow with the disk's size; qemu's NBD server serves
 * 16 requests of a client at once. */
#define REPL_STATUS_WINDOW 16

/* Walks one reply from off: the extents up to the shorter context's end
 * (at most limit) go to out or the skipped count; *endp gets where the
 * reply stopped.  0, or -1 with err set. */
static int
repl_walk_status(ReplSource *s, const ReplStatus *st, uint64_t off, uint64_t limit, int fresh,
                 ReplExtentList *out, ReplCopyStats *stats, uint64_t *endp)
{
    uint64_t a_end = off, d_end = off, end, pos = off, a_next, d_next;
    size_t ai = 0, di = 0, i;

    if (!st->nalloc || (s->bitmap_ctx && !st->ndirty)) {
        err_set(RESULT_FAILED, "%s: the NBD server answered block status without extents at %llu",
                s->where, (unsigned long long)off);
        return -1;
    }
    for (i = 0; i < st->nalloc; i += 2)
        a_end += st->alloc[i];
    for (i = 0; i < st->ndirty; i += 2)
        d_end += st->dirty[i];
    end = s->bitmap_ctx && d_end < a_end ? d_end : a_end;
    if (end > limit)
        end = limit;
    a_next = off + st->alloc[0];
    d_next = s->bitmap_ctx ? off + st->dirty[0] : end;
    while (pos < end) {
        uint64_t next = a_next < d_next ? a_next : d_next;
        int zero = (st->alloc[ai + 1] & LIBNBD_STATE_ZERO) != 0;
        int dirty = !s->bitmap_ctx || (st->dirty[di + 1] & 1) != 0;

        if (next > end)
            next = end;
        if (!dirty || (zero && fresh))
            stats->skipped += next - pos;
        else
            repl_extent_add(out, pos, next - pos, zero);
        pos = next;
        if (pos >= a_next && ai + 2 < st->nalloc) {
            ai += 2;
            a_next += st->alloc[ai];
        }
        if (s->bitmap_ctx && pos >= d_next && di + 2 < st->ndirty) {
            di += 2;
            d_next += st->dirty[di];
        }
    }
    if (end <= off) {
        err_set(RESULT_FAILED, "%s: block status made no progress at %llu", s->where,
                (unsigned long long)off);
        return -1;
    }
    *endp = end;
    return 0;
}

/* One request of the window: a span of the disk and its reply. */
typedef struct {
    ReplStatus st;
    uint64_t off, len;
    int64_t cookie;
} ReplStatusReq;

static int
repl_status_issue(ReplSource *s, ReplStatusReq *rq, uint64_t off)
{
    nbd_extent_callback cb = { .callback = repl_status_cb, .user_data = &rq->st, .free = NULL };
    nbd_completion_callback done = { .callback = NULL, .user_data = NULL, .free = NULL };

    rq->off = off;
    rq->len = s->size - off < REPL_STATUS_SPAN ? s->size - off : REPL_STATUS_SPAN;
    rq->st.nalloc = rq->st.ndirty = 0;
    rq->st.bitmap_ctx = s->bitmap_ctx;
    rq->cookie = nbd_aio_block_status(s->h, rq->len, off, cb, done, 0);
    if (rq->cookie < 0) {
        repl_nbd_err(RESULT_FAILED, "%s: block status", s->where);
        return -1;
    }
    return 0;
}

/* Acknowledges what arrives at once, before each wait for block status.
 * qemu answers a block status with two meta contexts in two chunks; with
 * Nagle's algorithm on its side the second waits for the first one's
 * acknowledgement, which Linux delays by up to 40 ms when the client has
 * nothing to send: one such wait per reply or two, so that a cycle's time
 * grew with the disk's size (64 GiB against 4 GiB, issue 13's bench).  The
 * flag is not sticky (tcp(7)), hence set before every wait; a failure only
 * costs time. */
static void
repl_quickack(ReplSource *s)
{
    int one = 1, fd;

    if (s->tcp && (fd = nbd_aio_get_fd(s->h)) >= 0)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

/* Waits for rq's reply.  0, or -1 with err set. */
static int
repl_status_wait(ReplSource *s, ReplStatusReq *rq)
{
    int r;

    while ((r = nbd_aio_command_completed(s->h, (uint64_t)rq->cookie)) == 0) {
        repl_quickack(s);
        if (nbd_poll(s->h, -1) < 0)
            break;
    }
    rq->cookie = -1;
    if (r != 1) {
        repl_nbd_err(RESULT_FAILED, "%s: block status", s->where);
        return -1;
    }
    return 0;
}

/* The extents to move: the dirty ones (all, without a bitmap), each data
 * or zeroes; a fresh image needs no zeroes.  Only metadata is read: spans
 * of the disk asked in a window of requests in flight, walked in order; a
 * reply that stops short of its span is completed one request at a time. */
static int
repl_plan_extents(ReplSource *s, int fresh, ReplExtentList *out, ReplCopyStats *stats)
{
    ReplStatusReq win[REPL_STATUS_WINDOW];
    uint64_t next = 0;          /* the next span to ask */
    size_t head = 0, n = 0, i;
    int ret = -1;

    memset(win, 0, sizeof(win));
    for (i = 0; i < REPL_STATUS_WINDOW; i++)
        win[i].cookie = -1;
    while (n || next < s->size) {
        ReplStatusReq *rq;
        uint64_t pos, end;

        while (n < REPL_STATUS_WINDOW && next < s->size) {
            rq = &win[(head + n) % REPL_STATUS_WINDOW];
            if (repl_status_issue(s, rq, next) < 0)
                goto out;
            next += rq->len;
            n++;
        }
        rq = &win[head];
        if (repl_status_wait(s, rq) < 0)
            goto out;
        for (pos = rq->off; pos < rq->off + rq->len; pos = end) {
            if (repl_walk_status(s, &rq->st, pos, rq->off + rq->len, fresh, out, stats, &end) < 0)
                goto out;
            if (end < rq->off + rq->len) {
                /* The rest of the span: asked alone, in order. */
                nbd_extent_callback cb = { .callback = repl_status_cb, .user_data = &rq->st,
                                           .free = NULL };

                rq->st.nalloc = rq->st.ndirty = 0;
                if (nbd_block_status(s->h, rq->off + rq->len - end, end, cb, 0) < 0) {
                    repl_nbd_err(RESULT_FAILED, "%s: block status", s->where);
                    goto out;
                }
            }
        }
        head = (head + 1) % REPL_STATUS_WINDOW;
        n--;
    }
    ret = 0;

out:
    /* Requests still in flight end before their buffers go. */
    for (i = 0; i < REPL_STATUS_WINDOW; i++) {
        if (win[i].cookie >= 0) {
            while (nbd_aio_command_completed(s->h, (uint64_t)win[i].cookie) == 0)
                if (nbd_poll(s->h, -1) < 0)
                    break;
        }
        free(win[i].st.alloc);
        free(win[i].st.dirty);
    }
    return ret;
}

/* --- the copy -------------------------------------------------------------- */

static int
repl_all_zero(const unsigned char *p, size_t n)
{
    return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* The copy keeps several reads and writes in flight on both connections
 * at once (libnbd's asynchronous calls and one poll loop), as nbdcopy
 * does, instead of one round trip after the other. */
#define REPL_SLOTS 16

typedef struct ReplCopy ReplCopy;

typedef struct {
    ReplCopy *c;
    const ReplExtent *e;
    unsigned char *buf;
    int busy;
    int zeroing;                /* the write in flight writes zeroes */
} ReplSlot;

struct ReplCopy {
    ReplSource *s;
    struct nbd_handle *d;
    const char *dest;
    int fresh;
    ReplExtent *chunks;         /* extents cut to at most REPL_CHUNK */
    size_t nchunks;
    size_t next;                /* the next chunk to issue */
    size_t inflight;
    int failed;                 /* set from a completion: errno and what */
    int fail_errno;
    const char *fail_what;
    uint64_t done;
    ReplCopyStats *st;
    ReplCopyProgress fn;
    void *opaque;
    ReplSlot slots[REPL_SLOTS];
};

static void
repl_slot_done(ReplSlot *sl, int zero)
{
    ReplCopy *c = sl->c;

    if (zero)
        c->st->zeroed += sl->e->len;
    else
        c->st->data += sl->e->len;
    c->done += sl->e->len;
    sl->busy = 0;
    c->inflight--;
    if (c->fn)
        c->fn(c->done, c->st->planned, c->opaque);
}

static void
repl_slot_fail(ReplSlot *sl, int errnum, const char *what)
{
    ReplCopy *c = sl->c;

    if (!c->failed) {
        c->failed = 1;
        c->fail_errno = errnum ? errnum : EIO;
        c->fail_what = what;
    }
    sl->busy = 0;
    c->inflight--;
}

static int
repl_write_done(void *opaque, int *error)
{
    ReplSlot *sl = opaque;

    if (*error)
        repl_slot_fail(sl, *error, "write");
    else
        repl_slot_done(sl, sl->zeroing);
    return 1;   /* retired: nothing waits for it */
}

/* Data read: written, or zeroes written (nothing at all on a fresh image). */
static int
repl_read_done(void *opaque, int *error)
{
    ReplSlot *sl = opaque;
    ReplCopy *c = sl->c;
    nbd_completion_callback cb = { .callback = repl_write_done, .user_data = sl, .free = NULL };
    int64_t r;

    if (*error) {
        repl_slot_fail(sl, *error, "read");
        return 1;
    }
    if (c->failed) {
        /* Draining after a failure: nothing more is written. */
        sl->busy = 0;
        c->inflight--;
        return 1;
    }
    if (repl_all_zero(sl->buf, (size_t)sl->e->len)) {
        if (c->fresh) {
            repl_slot_done(sl, 1);
            return 1;
        }
        /* A zero write keeps the layer small. */
        sl->zeroing = 1;
        r = nbd_aio_zero(c->d, sl->e->len, sl->e->off, cb, 0);
    } else {
        sl->zeroing = 0;
        r = nbd_aio_pwrite(c->d, sl->buf, (size_t)sl->e->len, sl->e->off, cb, 0);
    }
    if (r < 0)
        repl_slot_fail(sl, nbd_get_errno(), "write");
    return 1;
}

/* Issues what free slots can take.  0, or -1 with err set. */
static int
repl_copy_issue(ReplCopy *c)
{
    size_t i;

    for (i = 0; i < REPL_SLOTS && c->next < c->nchunks && !c->failed; i++) {
        ReplSlot *sl = &c->slots[i];
        int64_t r;

        if (sl->busy)
            continue;
        sl->e = &c->chunks[c->next++];
        sl->busy = 1;
        sl->zeroing = sl->e->zero;
        c->inflight++;
        if (sl->e->zero) {
            nbd_completion_callback cb = { .callback = repl_write_done, .user_data = sl, .free = NULL };
            r = nbd_aio_zero(c->d, sl->e->len, sl->e->off, cb, 0);
            if (r < 0)
                repl_nbd_err(0, "%s: writing zeroes", c->dest);
        } else {
            nbd_completion_callback cb = { .callback = repl_read_done, .user_data = sl, .free = NULL };
            r = nbd_aio_pread(c->s->h, sl->buf, (size_t)sl->e->len, sl->e->off, cb, 0);
            if (r < 0)
                repl_nbd_err(RESULT_FAILED, "%s: read", c->s->where);
        }
        if (r < 0) {
            sl->busy = 0;
            c->inflight--;
            return -1;
        }
    }
    return 0;
}

/* Waits for either connection and lets libnbd work.  0 or -1 with err. */
static int
repl_copy_poll(ReplCopy *c)
{
    struct nbd_handle *hs[2] = { c->s->h, c->d };
    struct pollfd fds[2];
    int idx[2], n = 0, i;

    for (i = 0; i < 2; i++) {
        unsigned dir = nbd_aio_get_direction(hs[i]);
        short ev = (short)(((dir & LIBNBD_AIO_DIRECTION_READ) ? POLLIN : 0) |
                           ((dir & LIBNBD_AIO_DIRECTION_WRITE) ? POLLOUT : 0));

        if (!ev)
            continue;
        fds[n].fd = nbd_aio_get_fd(hs[i]);
        fds[n].events = ev;
        fds[n].revents = 0;
        idx[n++] = i;
    }
    if (!n) {
        err_set(RESULT_FAILED, "copying to %s: %zu requests in flight but no connection to wait on",
                c->dest, c->inflight);
        return -1;
    }
    if (poll(fds, (nfds_t)n, -1) < 0) {
        if (errno == EINTR)
            return 0;
        err_set_errno(RESULT_FAILED, errno, "copying to %s: poll", c->dest);
        return -1;
    }
    for (i = 0; i < n; i++) {
        struct nbd_handle *h = hs[idx[i]];

        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) && nbd_aio_notify_read(h) < 0) {
            repl_nbd_err(idx[i] ? 0 : RESULT_FAILED, "%s", idx[i] ? c->dest : c->s->where);
            return -1;
        }
        if ((fds[i].revents & POLLOUT) && nbd_aio_notify_write(h) < 0) {
            repl_nbd_err(idx[i] ? 0 : RESULT_FAILED, "%s", idx[i] ? c->dest : c->s->where);
            return -1;
        }
    }
    return 0;
}

/* How qemu-nbd writes dest: "none" (O_DIRECT) where its file system
 * takes it, else "writeback".  Through the page cache every byte is
 * copied once more and the flush before the rename then writes the whole
 * layer at once: a full copy of 1 GiB took 1.5 times as long (issue 13's
 * bench, doc/performance.md).  Either way the flush makes it durable. */
static const char *
repl_dest_cache(const char *dest)
{
    int fd = open(dest, O_RDONLY | O_DIRECT | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0)
        return "--cache=writeback";
    close(fd);
    return "--cache=none";
}

int
repl_copy(ReplSource *s, const char *dest, int fresh, ReplCopyProgress fn, void *opaque,
          ReplCopyStats *st)
{
    /* qemu-nbd is found when drover runs, as qemu-img is (QEMU_NBD, else the PATH). */
    const char *qemu_nbd = getenv("QEMU_NBD");
    char *argv[] = { (char *)(qemu_nbd && *qemu_nbd ? qemu_nbd : "qemu-nbd"),
                     (char *)"--format=qcow2", (char *)repl_dest_cache(dest), (char *)dest, NULL };
    ReplExtentList ext = { 0 };
    ReplCopy c;
    size_t i, cap = 0;
    int ret = -1;

    memset(st, 0, sizeof(*st));
    memset(&c, 0, sizeof(c));
    st->size = s->size;
    if (repl_plan_extents(s, fresh, &ext, st) < 0)
        goto out;
    for (i = 0; i < ext.n; i++) {
        uint64_t off = ext.v[i].off, end = off + ext.v[i].len;

        st->planned += ext.v[i].len;
        /* Zeroes go in one request; data in chunks. */
        while (off < end) {
            uint64_t n = ext.v[i].zero ? end - off : (end - off < REPL_CHUNK ? end - off : REPL_CHUNK);

            if (n > UINT64_C(1) << 30)
                n = UINT64_C(1) << 30;
            util_grow(&c.chunks, &cap, c.nchunks + 1, sizeof(*c.chunks));
            c.chunks[c.nchunks].off = off;
            c.chunks[c.nchunks].len = n;
            c.chunks[c.nchunks].zero = ext.v[i].zero;
            c.nchunks++;
            off += n;
        }
    }
    if (!(c.d = nbd_create())) {
        repl_nbd_err(RESULT_FAILED, "%s", dest);
        goto out;
    }
    if (nbd_connect_systemd_socket_activation(c.d, argv) < 0) {
        repl_nbd_err(RESULT_FAILED, "cannot serve %s with %s (install the Debian package "
                     "qemu-utils, or set QEMU_NBD)", dest, argv[0]);
        goto out;
    }
    if ((uint64_t)nbd_get_size(c.d) != s->size) {
        err_set(RESULT_INVALID_STATE, "%s is %lld bytes, the primary's disk %llu", dest,
                (long long)nbd_get_size(c.d), (unsigned long long)s->size);
        goto out;
    }
    c.s = s;
    c.dest = dest;
    c.fresh = fresh;
    c.st = st;
    c.fn = fn;
    c.opaque = opaque;
    for (i = 0; i < REPL_SLOTS; i++) {
        c.slots[i].c = &c;
        c.slots[i].buf = util_xmalloc(REPL_CHUNK);
    }
    if (fn)
        fn(0, st->planned, opaque);
    while (!c.failed && (c.next < c.nchunks || c.inflight)) {
        if (repl_copy_issue(&c) < 0 || (c.inflight && repl_copy_poll(&c) < 0))
            goto drain;
    }
    if (c.failed) {
        if (strcmp(c.fail_what, "read") == 0)
            err_set_errno(RESULT_FAILED, c.fail_errno, "%s: read", s->where);
        else
            err_set_errno(0, c.fail_errno, "%s: %s", dest, c.fail_what);
        goto drain;
    }
    if (nbd_flush(c.d, 0) < 0) {
        repl_nbd_err(0, "%s: flush", dest);
        goto out;
    }
    if (nbd_shutdown(c.d, 0) < 0) {
        repl_nbd_err(RESULT_FAILED, "%s", dest);
        goto out;
    }
    ret = 0;
    goto out;

drain:
    /* Requests still in flight read into the buffers: let them end first. */
    {
        ErrInfo saved;

        err_save(&saved);
        c.failed = 1;
        while (c.inflight && repl_copy_poll(&c) == 0)
            ;
        err_restore(&saved);
    }
out:
    /* Closing waits for qemu-nbd, so the image is closed when we return. */
    if (c.d)
        nbd_close(c.d);
    /* A request that never ended may still write into its buffer: left. */
    for (i = 0; i < REPL_SLOTS && !c.inflight; i++)
        free(c.slots[i].buf);
    free(c.chunks);
    free(ext.v);
    return ret;
}

/* --- a bitmap's dirty bytes, for reverse replication ----------------------- */

int
repl_image_dirty(const char *file, const char *bitmap, uint64_t *dirty)
{
    const char *qemu_nbd = getenv("QEMU_NBD");
    UTIL_AUTOFREE char *barg = util_xasprintf("--bitmap=%s", bitmap);
    char *argv[] = { (char *)(qemu_nbd && *qemu_nbd ? qemu_nbd : "qemu-nbd"),
                     (char *)"--format=qcow2", (char *)"--read-only", barg, (char *)file, NULL };
    ReplExtentList ext = { 0 };
    ReplCopyStats st;
    ReplSource s;
    int64_t size;
    size_t i;
    int ret = -1;

    memset(&s, 0, sizeof(s));
    memset(&st, 0, sizeof(st));
    *dirty = 0;
    s.where = util_xasprintf("bitmap %s of %s", bitmap, file);
    s.bitmap_ctx = util_xasprintf("qemu:dirty-bitmap:%s", bitmap);
    if (!(s.h = nbd_create()) ||
        nbd_add_meta_context(s.h, LIBNBD_CONTEXT_BASE_ALLOCATION) < 0 ||
        nbd_add_meta_context(s.h, s.bitmap_ctx) < 0) {
        repl_nbd_err(RESULT_FAILED, "%s", s.where);
        goto out;
    }
    /* qemu-nbd refuses a bitmap that is missing or inconsistent (a qemu
     * that did not close the image): nothing then proves the disk. */
    if (nbd_connect_systemd_socket_activation(s.h, argv) < 0 ||
        nbd_can_meta_context(s.h, s.bitmap_ctx) != 1) {
        repl_nbd_err(RESULT_INVALID_STATE, "%s cannot be read (missing, or inconsistent after "
                     "a qemu that did not close the image)", s.where);
        goto out;
    }
    if ((size = nbd_get_size(s.h)) < 0) {
        repl_nbd_err(RESULT_FAILED, "%s", s.where);
        goto out;
    }
    s.size = (uint64_t)size;
    if (repl_plan_extents(&s, 0, &ext, &st) < 0)
        goto out;
    for (i = 0; i < ext.n; i++)
        *dirty += ext.v[i].len;
    ret = 0;

out:
    free(ext.v);
    if (s.h) {
        nbd_shutdown(s.h, 0);
        nbd_close(s.h);
    }
    free(s.where);
    free(s.bitmap_ctx);
    return ret;
}
