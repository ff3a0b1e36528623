/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for chain: header reader, walk, overlay/flatten/rebase, safe discard,
 * all on real qcow2 files made with qemu-img. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chain/chain.h"
#include "base/err.h"
#include "fixture.h"
#include "base/result.h"
#include "tap.h"
#include "base/util.h"

static const char *tmp;
/* Every recovery point and base made here: none may change. */
static FixtureSums rp_sums;

static char *
mkdir_in(const char *name)
{
    char *d = util_xasprintf("%s/%s", tmp, name);

    if (mkdir(d, 0755) < 0 && errno != EEXIST)
        tap_diag("mkdir %s: %s", d, strerror(errno));
    return d;
}

static int
msg_has(const char *needle)
{
    return strstr(err_message(), needle) != NULL;
}

/* The refusal check every failure path shares: code, and a message naming
 * what it must name. */
static void
refused(int rc, int code, const char *name1, const char *name2, const char *what)
{
    ok(rc < 0, "%s: refused", what);
    is_int(rc < 0 ? err_code() : 0, code, "%s: code %d", what, code);
    ok(name1 == NULL || msg_has(name1), "%s: message names %s", what, name1 ? name1 : "");
    ok(name2 == NULL || msg_has(name2), "%s: message names %s", what, name2 ? name2 : "");
    if (name1 && !msg_has(name1))
        tap_diag("message: %s", err_message());
    else if (name2 && !msg_has(name2))
        tap_diag("message: %s", err_message());
}

static int
qemu_img(const char *fmt_args)
{
    char *q = fixture_shquote(fixture_qemu_img());
    int st = tap_system("%s %s >/dev/null 2>&1", q, fmt_args);

    free(q);
    return st;
}

static int
compare_images(const char *a, const char *b)
{
    char *args = util_xasprintf("compare -U '%s' '%s'", a, b);
    int st = qemu_img(args);

    free(args);
    return st;
}

static int
check_image(const char *a)
{
    char *args = util_xasprintf("check -q '%s'", a);
    int st = qemu_img(args);

    free(args);
    return st;
}

static void
write_bytes(const char *path, off_t off, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY);

    if (fd < 0 || pwrite(fd, data, n, off) != (ssize_t)n)
        tap_diag("cannot patch %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
}

static void
put_be32(const char *path, off_t off, uint32_t v)
{
    unsigned char b[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 8), (unsigned char)v };

    write_bytes(path, off, b, 4);
}

static void
put_be64(const char *path, off_t off, uint64_t v)
{
    put_be32(path, off, (uint32_t)(v >> 32));
    put_be32(path, off + 4, (uint32_t)v);
}

static uint32_t
get_be32(const char *path, off_t off)
{
    unsigned char b[4] = { 0 };
    int fd = open(path, O_RDONLY);

    if (fd < 0 || pread(fd, b, 4, off) != 4)
        tap_diag("cannot read %s", path);
    if (fd >= 0)
        close(fd);
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Offset of the first 4-byte big-endian value v in the first 64 KiB, or -1. */
static long
find_be32(const char *path, uint32_t v)
{
    unsigned char buf[65536];
    unsigned char want[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
                              (unsigned char)(v >> 8), (unsigned char)v };
    int fd = open(path, O_RDONLY);
    ssize_t n;
    long i;

    if (fd < 0)
        return -1;
    n = pread(fd, buf, sizeof(buf), 0);
    close(fd);
    for (i = 0; i + 4 <= n; i++)
        if (memcmp(buf + i, want, 4) == 0)
            return i;
    return -1;
}

static const char *
json_str(json_object *o, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v))
        return NULL;
    return json_object_get_string(v);
}

static long long
json_ll(json_object *o, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v))
        return -1;
    return (long long)json_object_get_int64(v);
}

/* chain_walk(top) agrees layer by layer with qemu-img info --backing-chain. */
static void
check_walk_against_qemu(const char *top, const char *label)
{
    char *q = fixture_shquote(fixture_qemu_img());
    char *qt = fixture_shquote(top);
    char *out = tap_capture("%s info -U --backing-chain --output=json %s", q, qt);
    json_object *arr = out ? json_tokener_parse(out) : NULL;
    Chain *c = chain_walk(top);
    size_t i, n;
    int bad_name = 0, bad_fmt = 0, bad_size = 0, bad_backing = 0, bad_bfmt = 0, bad_alloc = 0;

    ok(c != NULL, "%s: chain_walk succeeds", label);
    if (!c)
        tap_diag("chain_walk: %s", err_message());
    ok(arr && json_object_is_type(arr, json_type_array), "%s: qemu-img info gives a chain", label);
    if (!c || !arr || !json_object_is_type(arr, json_type_array)) {
        tap_skip(6, "no chain to compare");
        goto out;
    }
    n = json_object_array_length(arr);
    is_int(c->n, n, "%s: same number of layers as qemu-img (%zu)", label, n);
    for (i = 0; i < n && i < c->n; i++) {
        json_object *o = json_object_array_get_idx(arr, i);
        const ChainLayer *l = &c->layers[i];

        if (!util_streq(json_str(o, "filename"), l->path) && bad_name++ < 3)
            tap_diag("layer %zu: filename %s vs %s", i, json_str(o, "filename"), l->path);
        if (!util_streq(json_str(o, "format"), l->format) && bad_fmt++ < 3)
            tap_diag("layer %zu: format %s vs %s", i, json_str(o, "format"), l->format);
        if (json_ll(o, "virtual-size") != (long long)l->virtual_size && bad_size++ < 3)
            tap_diag("layer %zu: size %lld vs %llu", i, json_ll(o, "virtual-size"),
                     (unsigned long long)l->virtual_size);
        if (!util_streq(json_str(o, "backing-filename"), l->backing_name) && bad_backing++ < 3)
            tap_diag("layer %zu: backing %s vs %s", i, json_str(o, "backing-filename"),
                     l->backing_name);
        if (!util_streq(json_str(o, "backing-filename-format"), l->backing_format) &&
            bad_bfmt++ < 3)
            tap_diag("layer %zu: backing format %s vs %s", i,
                     json_str(o, "backing-filename-format"), l->backing_format);
        if (json_ll(o, "actual-size") != (long long)l->allocated && bad_alloc++ < 3)
            tap_diag("layer %zu: actual size %lld vs %llu", i, json_ll(o, "actual-size"),
                     (unsigned long long)l->allocated);
    }
    ok(!bad_name, "%s: every filename agrees", label);
    ok(!bad_fmt, "%s: every format agrees", label);
    ok(!bad_size, "%s: every virtual size agrees", label);
    ok(!bad_backing, "%s: every backing name agrees", label);
    ok(!bad_bfmt, "%s: every backing format agrees", label);
    ok(!bad_alloc, "%s: every allocated size agrees with actual-size", label);
out:
    json_object_put(arr);
    chain_free(c);
    free(out);
    free(q);
    free(qt);
}

/* ------------------------------------------------------------------ */

static char **deep200;      /* kept for the overlay and depth-201 tests */

static void
test_depths(void)
{
    static const int depths[] = { 1, 5, 50, 200 };
    size_t i;

    for (i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
        char name[32];
        char *dir;
        char **paths = NULL;
        Chain *c;

        snprintf(name, sizeof(name), "depth%d", depths[i]);
        dir = mkdir_in(name);
        if (fixture_make_chain(dir, "rp", depths[i], "1M", &paths) < 0) {
            ok(0, "%s: fixture chain made", name);
            free(dir);
            continue;
        }
        fixture_sums_add_all(&rp_sums, paths);
        check_walk_against_qemu(paths[depths[i] - 1], name);
        c = chain_walk(paths[depths[i] - 1]);
        if (c) {
            is_str(c->layers[c->n - 1].path, paths[0], "%s: base is the last layer", name);
            is_int(c->layers[0].version, 3, "%s: top is qcow2 version 3", name);
            ok(c->layers[c->n - 1].backing_name == NULL, "%s: base has no backing name", name);
        } else {
            tap_skip(3, "no chain");
        }
        chain_free(c);
        if (depths[i] == 200)
            deep200 = paths;
        else
            fixture_free_paths(paths);
        free(dir);
    }
}

static void
test_depth_201(void)
{
    char *ov;
    Chain *c;
    int64_t t0;

    if (!deep200) {
        tap_skip(6, "no depth-200 chain");
        return;
    }
    ov = util_xasprintf("%s/depth200/over201.qcow2", tmp);
    t0 = util_mono_ms();
    is_int(chain_create_overlay(deep200[199], ov), 0, "overlay on a depth-200 chain created");
    tap_diag("overlay creation on depth 200 took %lld ms", (long long)(util_mono_ms() - t0));
    c = chain_walk(ov);
    refused(c ? 0 : -1, RESULT_INCORRECT_TYPE, ov, "deeper than 200", "depth 201");
    chain_free(c);
    free(ov);
}

static void
test_variants(void)
{
    static const struct {
        const char *name;
        const char *opts;
    } v[] = {
        { "v2", "compat=0.10" },
        { "c512", "cluster_size=512" },
        { "c2m", "cluster_size=2M" },
        { "lazy", "lazy_refcounts=on,refcount_bits=1" },
    };
    char *dir = mkdir_in("variants");
    size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char *base = util_xasprintf("%s/%s-base.qcow2", dir, v[i].name);
        char *top = util_xasprintf("%s/%s-top.qcow2", dir, v[i].name);
        char *args = util_xasprintf("create -q -f qcow2 -o %s '%s' 3M && %s create -q -f qcow2 "
                                    "-o %s -F qcow2 -b '%s' -u '%s' 3M", v[i].opts, base,
                                    fixture_qemu_img(), v[i].opts, base, top);
        ChainHeader h = { 0 };

        is_int(qemu_img(args), 0, "%s: chain made", v[i].name);
        check_walk_against_qemu(top, v[i].name);
        is_int(chain_read_header(top, &h), 0, "%s: header read", v[i].name);
        is_int(h.version, strcmp(v[i].name, "v2") == 0 ? 2 : 3, "%s: version", v[i].name);
        is_str(h.backing_format, "qcow2", "%s: backing format extension found", v[i].name);
        chain_header_clear(&h);
        free(args);
        free(base);
        free(top);
    }
    free(dir);
}

/* qcow2 images made with unusual options: the reader agrees with
 * qemu-img info --backing-chain, or refuses with a decoded code.  One row
 * per kind; each row is a base ("B") and a top ("T") made by a shell line
 * run in its own directory ($Q is qemu-img). */
enum { UNUSUAL_AGREE = 0, UNUSUAL_REFUSE_WALK, UNUSUAL_REFUSE_USE };

static void
test_unusual_images(void)
{
    static const struct {
        const char *name;
        const char *make;       /* run with sh -c in the row's directory */
        int expect;
        int code;               /* the refusal's code */
        const char *says;       /* the refusal's message names this */
        int patch;              /* 1: set incompatible bit 40, 2: bit 1 (corrupt), 3: bit 0 (dirty), in T */
    } row[] = {
        { "compat=0.10", "$Q create -q -f qcow2 -o compat=0.10 B 2M && "
          "$Q create -q -f qcow2 -o compat=0.10 -F qcow2 -b B T", UNUSUAL_AGREE, 0, NULL, 0 },
        { "cluster_size=512", "$Q create -q -f qcow2 -o cluster_size=512 B 2M && "
          "$Q create -q -f qcow2 -o cluster_size=512 -F qcow2 -b B T", UNUSUAL_AGREE, 0, NULL, 0 },
        { "cluster_size=2M", "$Q create -q -f qcow2 -o cluster_size=2M B 4M && "
          "$Q create -q -f qcow2 -o cluster_size=2M -F qcow2 -b B T", UNUSUAL_AGREE, 0, NULL, 0 },
        { "extended_l2", "$Q create -q -f qcow2 -o extended_l2=on B 2M && "
          "$Q create -q -f qcow2 -o extended_l2=on -F qcow2 -b B T", UNUSUAL_AGREE, 0, NULL, 0 },
        { "zstd", "$Q create -q -f qcow2 -o compression_type=zstd B 2M && "
          "$Q create -q -f qcow2 -o compression_type=zstd -F qcow2 -b B T", UNUSUAL_AGREE, 0, NULL, 0 },
        { "refcount_bits=1", "$Q create -q -f qcow2 -o refcount_bits=1 B 2M && "
          "$Q create -q -f qcow2 -o refcount_bits=1 -F qcow2 -b B T", UNUSUAL_AGREE, 0, NULL, 0 },
        { "refcount_bits=64", "$Q create -q -f qcow2 -o refcount_bits=64 B 2M && "
          "$Q create -q -f qcow2 -o refcount_bits=64 -F qcow2 -b B T", UNUSUAL_AGREE, 0, NULL, 0 },
        { "preallocation=metadata", "$Q create -q -f qcow2 -o preallocation=metadata B 2M && "
          "$Q create -q -f qcow2 -o extended_l2=on,preallocation=metadata -F qcow2 -b B T", UNUSUAL_AGREE, 0, NULL, 0 },
        { "preallocation=falloc", "$Q create -q -f qcow2 -o preallocation=falloc B 2M && "
          "$Q create -q -f qcow2 -o extended_l2=on,preallocation=falloc -F qcow2 -b B T", UNUSUAL_AGREE, 0, NULL, 0 },
        { "persistent bitmaps", "$Q create -q -f qcow2 B 2M && $Q bitmap --add B b0 && "
          "$Q create -q -f qcow2 -F qcow2 -b B T && $Q bitmap --add T b1 && "
          "$Q bitmap --add T b2", UNUSUAL_AGREE, 0, NULL, 0 },
        /* qemu's key-derivation benchmark fails now and then on a loaded
         * machine ("Unable to get accurate CPU usage"): try again. */
        { "luks", "$Q create -q -f qcow2 B 2M && for i in 1 2 3 4 5 6 7 8; do "
          "$Q create -q -f qcow2 --object secret,id=s0,data=drover-test "
          "-o encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10 "
          "-F qcow2 -b B T && break; rm -f T; done; test -f T", UNUSUAL_AGREE, 0, NULL, 0 },
        { "relative backing", "$Q create -q -f qcow2 B 2M && $Q create -q -f qcow2 -F qcow2 -b B T",
          UNUSUAL_AGREE, 0, NULL, 0 },
        { "absolute backing", "$Q create -q -f qcow2 B 2M && "
          "$Q create -q -f qcow2 -F qcow2 -b \"$PWD/B\" T", UNUSUAL_AGREE, 0, NULL, 0 },
        { "file: absolute backing", "$Q create -q -f qcow2 B 2M && "
          "$Q create -q -f qcow2 -F qcow2 -b \"file:$PWD/B\" T", UNUSUAL_AGREE, 0, NULL, 0 },
        { "dirty bit", "$Q create -q -f qcow2 -o lazy_refcounts=on B 2M && "
          "$Q create -q -f qcow2 -o lazy_refcounts=on -F qcow2 -b B T", UNUSUAL_AGREE, 0, NULL, 3 },
        { "data_file", "$Q create -q -f qcow2 B 2M && "
          "$Q create -q -f qcow2 -o data_file=T.data -F qcow2 -b B T",
          UNUSUAL_REFUSE_USE, RESULT_NOT_SUPPORTED, "T.data", 0 },
        { "corrupt bit", "$Q create -q -f qcow2 B 2M && $Q create -q -f qcow2 -F qcow2 -b B T",
          UNUSUAL_REFUSE_USE, RESULT_INCORRECT_TYPE, "marked corrupt", 2 },
        { "unknown incompatible bit", "$Q create -q -f qcow2 B 2M && "
          "$Q create -q -f qcow2 -F qcow2 -b B T",
          UNUSUAL_REFUSE_WALK, RESULT_INCORRECT_TYPE, "0x10000000000", 1 },
        { "file: relative backing", "$Q create -q -f qcow2 B 2M && "
          "$Q create -q -f qcow2 -F qcow2 -b \"$PWD/B\" T && $Q rebase -u -F qcow2 -b file:B T",
          UNUSUAL_REFUSE_WALK, RESULT_NOT_SUPPORTED, "working directory", 0 },
        { "json: backing", "$Q create -q -f qcow2 B 2M && "
          "$Q create -q -f qcow2 -F qcow2 -b \"$PWD/B\" T && $Q rebase -u -F qcow2 -b "
          "'json:{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\",\"filename\":\"'\"$PWD\"'/B\"}}' T",
          UNUSUAL_REFUSE_WALK, RESULT_NOT_SUPPORTED, "json:", 0 },
    };
    char *dir = mkdir_in("unusual");
    char *q = fixture_shquote(fixture_qemu_img());
    size_t i;

    for (i = 0; i < sizeof(row) / sizeof(row[0]); i++) {
        char *sub = util_xasprintf("%s/u%02zu", dir, i);
        char *qsub = NULL;
        char *top = util_xasprintf("%s/T", sub);
        Chain *c;
        int st;

        mkdir(sub, 0755);
        qsub = fixture_shquote(sub);
        st = tap_system("cd %s && Q=%s && %s >/dev/null 2>&1", qsub, q, row[i].make);
        is_int(st, 0, "%s: images made with qemu-img", row[i].name);
        if (row[i].patch == 1)
            put_be64(top, 72, (uint64_t)1 << 40);
        else if (row[i].patch == 2)
            put_be64(top, 72, CHAIN_INCOMPAT_CORRUPT);
        else if (row[i].patch == 3)
            put_be64(top, 72, CHAIN_INCOMPAT_DIRTY);
        if (row[i].expect != UNUSUAL_REFUSE_WALK) {
            check_walk_against_qemu(top, row[i].name);
            c = chain_walk(top);
            if (row[i].expect == UNUSUAL_AGREE) {
                ok(c && chain_check_usable(c) == 0, "%s: drover operates on it", row[i].name);
            } else {
                refused(c ? chain_check_usable(c) : 0, row[i].code, row[i].says, NULL,
                        row[i].name);
            }
            chain_free(c);
        } else {
            char *qt = fixture_shquote(top);

            c = chain_walk(top);
            refused(c ? 0 : -1, row[i].code, row[i].says, top, row[i].name);
            chain_free(c);
            if (row[i].patch == 1)
                ok(tap_system("%s info -U %s >/dev/null 2>&1", q, qt) != 0,
                   "%s: qemu-img refuses it too", row[i].name);
            free(qt);
        }
        err_clear();
        free(qsub);
        free(top);
        free(sub);
    }
    free(q);
    free(dir);
}

static void
test_relative_and_symlink(void)
{
    char *dir = mkdir_in("rel");
    char **paths = NULL;
    char *cwd = getcwd(NULL, 0);
    char *link;
    Chain *c;
    struct stat st;

    if (fixture_make_chain_opts(dir, "rp", 4, "1M", FIXTURE_RELATIVE, &paths) < 0) {
        ok(0, "relative chain made");
        goto out;
    }
    fixture_sums_add_all(&rp_sums, paths);
    check_walk_against_qemu(paths[3], "relative names");

    /* A relative top is made absolute against the working directory. */
    if (chdir(dir) == 0) {
        c = chain_walk("./rp003.qcow2");
        ok(c && c->n == 4, "walk from a relative top");
        if (c && c->n == 4) {
            is_str(c->layers[0].path, paths[3], "relative top made absolute and clean");
            is_str(c->layers[2].backing_name, "rp000.qcow2", "backing name kept as written");
            is_str(c->layers[3].path, paths[0], "relative backing name resolved to an absolute path");
            is_int(chain_find_path(c, "rp001.qcow2"), 2, "chain_find_path with a relative name");
        } else {
            tap_skip(4, "no chain");
        }
        chain_free(c);
        if (chdir(cwd) < 0)
            tap_diag("cannot return to %s", cwd);
    } else {
        tap_skip(5, "cannot chdir");
    }

    /* A top reached through a symlink: readable, logical path kept. */
    link = util_xasprintf("%s/current.qcow2", dir);
    if (symlink("rp003.qcow2", link) < 0)
        tap_diag("symlink: %s", strerror(errno));
    c = chain_walk(link);
    ok(c && c->n == 4, "walk through a symlinked top");
    if (c && c->n == 4 && stat(paths[3], &st) == 0) {
        is_str(c->layers[0].path, link, "symlinked top keeps its logical path");
        ok(c->layers[0].ino == st.st_ino, "symlinked top records the target's inode");
        is_int(chain_find_path(c, paths[3]), 0, "chain_find_path finds the target by identity");
        is_int(chain_find_path(c, paths[1]), 2, "chain_find_path finds a middle layer");
        ok(chain_has_file(c, st.st_dev, st.st_ino), "chain_has_file finds the top");
        is_int(chain_find_path(c, "/nonexistent/x.qcow2"), -1, "chain_find_path: absent path");
    } else {
        tap_skip(6, "no chain");
    }
    chain_free(c);
    free(link);
out:
    fixture_free_paths(paths);
    free(cwd);
    free(dir);
}

static void
test_raw_base(void)
{
    char *dir = mkdir_in("raw");
    char *base = util_xasprintf("%s/base.raw", dir);
    char *ov = util_xasprintf("%s/ov.qcow2", dir);
    char *nofmt = util_xasprintf("%s/ov-nofmt.qcow2", dir);
    char *args;
    Chain *c;
    long at;

    args = util_xasprintf("create -q -f raw '%s' 1M", base);
    is_int(qemu_img(args), 0, "raw base made");
    free(args);
    args = util_xasprintf("create -q -f qcow2 -F raw -b '%s' -u '%s' 1M", base, ov);
    is_int(qemu_img(args), 0, "overlay on raw base made");
    free(args);
    fixture_sums_add(&rp_sums, base);
    check_walk_against_qemu(ov, "raw base");
    c = chain_walk(ov);
    if (c && c->n == 2) {
        is_str(c->layers[1].format, "raw", "raw base: format raw");
        is_int(c->layers[1].version, 0, "raw base: version 0");
        is_int(c->layers[1].virtual_size, 1048576, "raw base: virtual size is the file size");
        is_str(c->layers[0].backing_format, "raw", "overlay records backing format raw");
    } else {
        ok(0, "raw base walk: %s", err_message());
        tap_skip(3, "no chain");
    }
    chain_free(c);

    /* Same overlay with its backing-format extension renamed to an unknown
     * type: the format is no longer recorded, and a raw file is refused. */
    tap_system("cp '%s' '%s'", ov, nofmt);
    at = find_be32(nofmt, 0xE2792ACAU);
    ok(at > 0, "backing format extension found in the overlay");
    if (at > 0)
        put_be32(nofmt, at, 0x12345678U);
    c = chain_walk(nofmt);
    refused(c ? 0 : -1, RESULT_INCORRECT_TYPE, base, nofmt, "raw base without a recorded format");
    ok(msg_has("not recorded"), "message says the format is not recorded");
    chain_free(c);
    free(base);
    free(ov);
    free(nofmt);
    free(dir);
}

static void
test_corrupt(void)
{
    char *dir = mkdir_in("corrupt");
    char *good = util_xasprintf("%s/good.qcow2", dir);
    char *base = util_xasprintf("%s/base.qcow2", dir);
    char *args;
    ChainHeader h = { 0 };
    uint32_t hlen;
    long fmt_ext;
    struct {
        const char *name;
        const char *field;
    } cases[] = {
        { "magic", "not a qcow2 image" },
        { "v1", "version 1 is not supported" },
        { "v4", "version 4 is not supported" },
        { "trunc10", "truncated" },
        { "trunc80", "truncated" },
        { "bname5000", "backing_file_size 5000" },
        { "boff", "backing_file_offset" },
        { "extlen", "extension" },
        { "cbits", "cluster_bits" },
        { "hlen", "header_length" },
        { "empty", "empty" },
        { "fmtlen", "backing format extension" },
    };
    size_t i;

    args = util_xasprintf("create -q -f qcow2 '%s' 1M", base);
    qemu_img(args);
    free(args);
    args = util_xasprintf("create -q -f qcow2 -F qcow2 -b '%s' -u '%s' 1M", base, good);
    qemu_img(args);
    free(args);
    is_int(chain_read_header(good, &h), 0, "header of a good overlay read");
    is_str(h.backing_name, base, "backing name read");
    is_str(h.backing_format, "qcow2", "backing format read");
    is_int(h.version, 3, "version read");
    is_int(h.virtual_size, 1048576, "virtual size read");
    is_int(h.incompatible_features, 0, "no incompatible features");
    chain_header_clear(&h);
    chain_header_clear(&h);     /* twice is harmless */
    chain_header_clear(NULL);
    hlen = get_be32(good, 100);
    fmt_ext = find_be32(good, 0xE2792ACAU);

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *f = util_xasprintf("%s/%s.qcow2", dir, cases[i].name);
        char *ov = util_xasprintf("%s/on-%s.qcow2", dir, cases[i].name);
        const char *n = cases[i].name;
        Chain *c;
        int rc;

        if (strcmp(n, "trunc10") == 0)
            tap_system("head -c 10 '%s' > '%s'", good, f);
        else if (strcmp(n, "trunc80") == 0)
            tap_system("head -c 80 '%s' > '%s'", good, f);
        else if (strcmp(n, "empty") == 0)
            tap_system(": > '%s'", f);
        else
            tap_system("cp '%s' '%s'", good, f);
        if (strcmp(n, "magic") == 0)
            write_bytes(f, 0, "XFI\373", 4);
        else if (strcmp(n, "v1") == 0)
            put_be32(f, 4, 1);
        else if (strcmp(n, "v4") == 0)
            put_be32(f, 4, 4);
        else if (strcmp(n, "bname5000") == 0)
            put_be32(f, 16, 5000);
        else if (strcmp(n, "boff") == 0)
            put_be64(f, 8, 1ULL << 40);
        else if (strcmp(n, "extlen") == 0)
            put_be32(f, (off_t)hlen + 4, 0x7ffffff0U);
        else if (strcmp(n, "cbits") == 0)
            put_be32(f, 20, 40);
        else if (strcmp(n, "hlen") == 0)
            put_be32(f, 100, 50);
        else if (strcmp(n, "fmtlen") == 0 && fmt_ext > 0)
            put_be32(f, fmt_ext + 4, 20);

        rc = chain_read_header(f, &h);
        refused(rc, RESULT_INCORRECT_TYPE, f, cases[i].field, n);
        ok(h.backing_name == NULL && h.backing_format == NULL, "%s: nothing left in the header", n);
        chain_header_clear(&h);
        c = chain_walk(f);
        refused(c ? 0 : -1, RESULT_INCORRECT_TYPE, f, NULL, "walk from corrupt top");
        chain_free(c);

        /* The same file as a backing layer: the walk names it too. */
        args = util_xasprintf("create -q -f qcow2 -F qcow2 -b '%s' -u '%s' 1M", f, ov);
        qemu_img(args);
        free(args);
        c = chain_walk(ov);
        refused(c ? 0 : -1, RESULT_INCORRECT_TYPE, f, ov, "walk onto corrupt backing");
        chain_free(c);
        free(f);
        free(ov);
    }

    {
        Chain *c = chain_walk(dir);

        refused(c ? 0 : -1, RESULT_INCORRECT_TYPE, dir, "directory", "a directory as top");
        chain_free(c);
        refused(chain_read_header(dir, &h), RESULT_INCORRECT_TYPE, dir, NULL,
                "a directory's header");
    }
    {
        char *gone = util_xasprintf("%s/gone.qcow2", dir);
        Chain *c = chain_walk(gone);

        refused(c ? 0 : -1, RESULT_FILE_NOT_FOUND, gone, NULL, "missing top");
        chain_free(c);
        refused(chain_read_header(gone, &h), RESULT_FILE_NOT_FOUND, gone, NULL,
                "missing file's header");
        is_int(err_get()->sys_errno, ENOENT, "missing file: errno ENOENT");
        free(gone);
    }
    {
        /* Permission denied is its own code: read as an unprivileged user. */
        pid_t pid;
        int status = 0;

        if (geteuid() != 0) {
            tap_skip(1, "needs root to switch to an unprivileged user");
        } else if ((pid = fork()) == 0) {
            ChainHeader ch = { 0 };
            int rc;

            if (setgid(65534) < 0 || setuid(65534) < 0)
                _exit(2);
            rc = chain_read_header(good, &ch);
            _exit(rc < 0 && err_code() == RESULT_ACCESS_DENIED && msg_has(good) ? 0 : 1);
        } else {
            waitpid(pid, &status, 0);
            ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
               "permission denied gives 32769 naming the file");
        }
    }
    {
        Chain *cn = chain_walk(NULL);

        refused(cn ? 0 : -1, RESULT_INVALID_PARAMETER, NULL, NULL, "walk without a top");
    }
    free(good);
    free(base);
    free(dir);
}

static void
test_loops_and_missing(void)
{
    char *dir = mkdir_in("loop");
    char *a = util_xasprintf("%s/a.qcow2", dir);
    char *b = util_xasprintf("%s/b.qcow2", dir);
    char *s = util_xasprintf("%s/s.qcow2", dir);
    char *l = util_xasprintf("%s/l.qcow2", dir);
    char *llink = util_xasprintf("%s/l-link.qcow2", dir);
    char *top = util_xasprintf("%s/top.qcow2", dir);
    char *gone = util_xasprintf("%s/gone.qcow2", dir);
    char *args;
    Chain *c;

    args = util_xasprintf("create -q -f qcow2 '%s' 1M && %s create -q -f qcow2 -F qcow2 -b '%s' "
                          "-u '%s' 1M && %s rebase -u -f qcow2 -F qcow2 -b '%s' '%s'",
                          a, fixture_qemu_img(), a, b, fixture_qemu_img(), b, a);
    is_int(qemu_img(args), 0, "loop a -> b -> a made");
    free(args);
    c = chain_walk(a);
    refused(c ? 0 : -1, RESULT_INCORRECT_TYPE, a, b, "loop a -> b -> a");
    ok(msg_has("loops"), "loop: message says it loops");
    chain_free(c);
    c = chain_walk(b);
    refused(c ? 0 : -1, RESULT_INCORRECT_TYPE, b, a, "loop seen from b");
    chain_free(c);

    args = util_xasprintf("create -q -f qcow2 '%s' 1M && %s rebase -u -f qcow2 -F qcow2 -b '%s' '%s'",
                          s, fixture_qemu_img(), s, s);
    is_int(qemu_img(args), 0, "self-loop made");
    free(args);
    c = chain_walk(s);
    refused(c ? 0 : -1, RESULT_INCORRECT_TYPE, s, "loops", "self-loop");
    chain_free(c);

    /* A loop through a symlink is the same file: found by inode. */
    args = util_xasprintf("create -q -f qcow2 -F qcow2 -b l-link.qcow2 -u '%s' 1M", l);
    qemu_img(args);
    free(args);
    if (symlink("l.qcow2", llink) < 0)
        tap_diag("symlink: %s", strerror(errno));
    c = chain_walk(l);
    refused(c ? 0 : -1, RESULT_INCORRECT_TYPE, llink, "loops", "loop through a symlink");
    chain_free(c);

    args = util_xasprintf("create -q -f qcow2 -F qcow2 -b '%s' -u '%s' 1M", gone, top);
    qemu_img(args);
    free(args);
    c = chain_walk(top);
    refused(c ? 0 : -1, RESULT_FILE_NOT_FOUND, gone, top, "missing backing file");
    chain_free(c);

    /* Backings the walk will not follow. */
    {
        char *vm = util_xasprintf("%s/on-vmdk.qcow2", dir);
        char *nbd = util_xasprintf("%s/on-nbd.qcow2", dir);
        char *fifo = util_xasprintf("%s/fifo", dir);
        char *onfifo = util_xasprintf("%s/on-fifo.qcow2", dir);

        args = util_xasprintf("create -q -f qcow2 -F vmdk -b '%s' -u '%s' 1M", a, vm);
        qemu_img(args);
        free(args);
        c = chain_walk(vm);
        refused(c ? 0 : -1, RESULT_INCORRECT_TYPE, vm, "'vmdk'", "backing format vmdk");
        chain_free(c);
        args = util_xasprintf("create -q -f qcow2 -F raw -b nbd://localhost:1/x -u '%s' 1M", nbd);
        qemu_img(args);
        free(args);
        c = chain_walk(nbd);
        refused(c ? 0 : -1, RESULT_NOT_SUPPORTED, nbd, "nbd://localhost:1/x", "network backing");
        chain_free(c);
        if (mkfifo(fifo, 0600) < 0)
            tap_diag("mkfifo: %s", strerror(errno));
        args = util_xasprintf("create -q -f qcow2 -F qcow2 -b fifo -u '%s' 1M", onfifo);
        qemu_img(args);
        free(args);
        c = chain_walk(onfifo);
        refused(c ? 0 : -1, RESULT_INCORRECT_TYPE, fifo, onfifo, "a FIFO as backing (no hang)");
        chain_free(c);
        free(vm);
        free(nbd);
        free(fifo);
        free(onfifo);
    }

    free(a);
    free(b);
    free(s);
    free(l);
    free(llink);
    free(top);
    free(gone);
    free(dir);
}

/* ------------------------------------------------------------------ */

static char **ovchain;      /* base, rp1, rp2 with data */

static void
with_qemu_img(const char *value, const char *backing, const char *path, int code,
              const char *needle, const char *what)
{
    const char *old = getenv("QEMU_IMG");
    char *saved = util_xstrdup(old);

    setenv("QEMU_IMG", value, 1);
    refused(chain_create_overlay(backing, path), code, path, needle, what);
    if (saved)
        setenv("QEMU_IMG", saved, 1);
    else
        unsetenv("QEMU_IMG");
    free(saved);
    ok(access(path, F_OK) < 0, "%s: overlay not created", what);
}

static void
test_create_overlay(void)
{
    char *chaindir = mkdir_in("ovchain");
    char *dir = mkdir_in("ov");
    char *ov1 = util_xasprintf("%s/ov1.qcow2", dir);
    char *ov2 = util_xasprintf("%s/ov2.qcow2", dir);
    char *dangling = util_xasprintf("%s/dangling.qcow2", dir);
    char *raw = util_xasprintf("%s/plain.raw", dir);
    char *decoy = util_xasprintf("%s/.ov2.qcow2.tmp-KEEPME", dir);
    char *sum_before = NULL, *sum_after = NULL;
    ChainHeader h = { 0 };
    struct stat st_ov, st_b;
    Chain *c;
    const char *top;
    int entries;

    if (fixture_make_chain_opts(chaindir, "rp", 3, "1M", FIXTURE_DATA, &ovchain) < 0) {
        ok(0, "overlay test chain made");
        goto out;
    }
    fixture_sums_add_all(&rp_sums, ovchain);
    top = ovchain[2];
    /* Something that looks like our temporary name but is not ours. */
    tap_system("echo decoy > '%s'", decoy);

    err_clear();
    is_int(chain_create_overlay(top, ov1), 0, "overlay created");
    if (err_code())
        tap_diag("%s", err_message());
    is_int(check_image(ov1), 0, "overlay passes qemu-img check");
    is_int(chain_read_header(ov1, &h), 0, "overlay header readable");
    is_str(h.backing_name, top, "overlay backing name is the backing path");
    is_str(h.backing_format, "qcow2", "overlay backing format qcow2");
    is_int(h.virtual_size, 1048576, "overlay has the backing's virtual size");
    chain_header_clear(&h);
    ok(stat(ov1, &st_ov) == 0 && stat(top, &st_b) == 0 &&
       (st_ov.st_mode & 07777) == (st_b.st_mode & 0666), "overlay has the backing's mode");
    c = chain_walk(ov1);
    ok(c && c->n == 4, "walk from the overlay includes the backing chain");
    if (c && c->n == 4) {
        is_str(c->layers[1].path, ovchain[2], "layer 1 is the backing");
        is_str(c->layers[3].path, ovchain[0], "layer 3 is the base");
    } else {
        tap_skip(2, "no chain");
    }
    chain_free(c);
    is_int(compare_images(ov1, top), 0, "overlay shows the backing's content");
    is_int(fixture_count_entries(dir, ".tmp-"), 1, "no temporary file left after success");

    /* Existing name: refused, untouched. */
    sum_before = fixture_sha256(ov1);
    refused(chain_create_overlay(top, ov1), RESULT_INVALID_STATE, ov1, NULL, "existing overlay name");
    is_int(err_get()->sys_errno, EEXIST, "existing name: errno EEXIST");
    sum_after = fixture_sha256(ov1);
    is_str(sum_after, sum_before, "existing file untouched");
    if (symlink("/nonexistent/target.qcow2", dangling) < 0)
        tap_diag("symlink: %s", strerror(errno));
    refused(chain_create_overlay(top, dangling), RESULT_INVALID_STATE, dangling, NULL,
            "dangling symlink at the name");
    ok(lstat(dangling, &st_ov) == 0 && S_ISLNK(st_ov.st_mode), "dangling symlink left alone");

    /* Bad backings. */
    tap_system("head -c 65536 /dev/zero > '%s'", raw);
    refused(chain_create_overlay(raw, ov2), RESULT_INCORRECT_TYPE, raw, ov2, "raw backing");
    {
        char *gone = util_xasprintf("%s/gone.qcow2", dir);
        char *nodir = util_xasprintf("%s/nodir/ov.qcow2", dir);

        refused(chain_create_overlay(gone, ov2), RESULT_FILE_NOT_FOUND, gone, ov2, "missing backing");
        refused(chain_create_overlay(nodir, ov2), RESULT_FILE_NOT_FOUND, nodir, NULL,
                "backing in a missing directory");
        refused(chain_create_overlay(top, nodir), RESULT_FILE_NOT_FOUND, nodir, NULL,
                "overlay in a missing directory");
        free(gone);
        free(nodir);
    }
    refused(chain_create_overlay("rp002.qcow2", ov2), RESULT_INVALID_PARAMETER, "rp002.qcow2", ov2,
            "relative backing");
    ok(access(ov2, F_OK) < 0, "no overlay after the refusals");

    /* qemu-img itself failing: missing binary, failing run, a run that
     * writes nothing.  The temporary file goes each time. */
    with_qemu_img("/nonexistent/qemu-img", top, ov2, RESULT_FILE_NOT_FOUND, "/nonexistent/qemu-img",
                  "qemu-img missing");
    with_qemu_img("/bin/false", top, ov2, RESULT_FAILED, "exited with status 1", "qemu-img fails");
    with_qemu_img("/bin/true", top, ov2, RESULT_INCORRECT_TYPE, "empty", "qemu-img writes nothing");
    is_int(fixture_count_entries(dir, ".tmp-"), 1, "no temporary file left after failures");
    ok(access(decoy, F_OK) == 0, "a look-alike temporary name that is not ours is kept");
    entries = fixture_count_entries(dir, "");
    is_int(entries, 4, "directory holds ov1, dangling, plain.raw, the decoy");

    /* ov2 after all: the decoy does not stop it either. */
    is_int(chain_create_overlay(top, ov2), 0, "second overlay created");
    is_int(fixture_count_entries(dir, ".tmp-"), 1, "still only the decoy");
out:
    free(sum_before);
    free(sum_after);
    free(chaindir);
    free(dir);
    free(ov1);
    free(ov2);
    free(dangling);
    free(raw);
    free(decoy);
}

static void
test_full_disk(void)
{
    char *dir = mkdir_in("full");
    char *ov = util_xasprintf("%s/ov.qcow2", dir);

    if (!ovchain) {
        tap_skip(7, "no backing chain");
        goto out;
    }
    if (geteuid() != 0 ||
        tap_system("mount -t tmpfs -o size=64k tmpfs '%s' >/dev/null 2>&1", dir) != 0) {
        tap_skip(7, "cannot mount a small tmpfs (needs root)");
        goto out;
    }
    tap_system("dd if=/dev/zero of='%s/fill' bs=4k >/dev/null 2>&1", dir);
    refused(chain_create_overlay(ovchain[2], ov), RESULT_OUT_OF_MEMORY, dir, "full",
            "full file system");
    is_int(err_get()->sys_errno, ENOSPC, "full file system: errno ENOSPC");
    ok(access(ov, F_OK) < 0, "full file system: no overlay");
    is_int(fixture_count_entries(dir, ""), 1, "full file system: only the filler is left");
    if (tap_system("umount '%s'", dir) != 0)
        tap_diag("cannot unmount %s", dir);
out:
    free(ov);
    free(dir);
}

typedef struct {
    int calls;
    int first;
    int last;
    int monotonic;
} ProgressRec;

static int
record_progress(int percent, void *opaque)
{
    ProgressRec *r = opaque;

    if (percent < r->last)
        r->monotonic = 0;
    if (r->calls == 0)
        r->first = percent;
    r->last = percent;
    r->calls++;
    return 0;
}

static int
stop_progress(int percent, void *opaque)
{
    (void)percent;
    ++*(int *)opaque;
    return 1;
}

static void
test_flatten_and_rebase(void)
{
    char *dir = mkdir_in("flat");
    char *flat = util_xasprintf("%s/flat.qcow2", dir);
    char *flat1 = util_xasprintf("%s/flat1.qcow2", dir);
    char *ov = util_xasprintf("%s/ov.qcow2", dir);
    char *ref = util_xasprintf("%s/ref.qcow2", dir);
    char *broken = util_xasprintf("%s/broken.qcow2", dir);
    char *sum = NULL, *sum2 = NULL;
    ProgressRec rec = { 0, -1, -1, 1 };
    Chain *c;
    char *args;

    if (!ovchain) {
        ok(0, "no chain to flatten");
        goto out;
    }
    err_clear();
    is_int(chain_flatten(ovchain[2], flat, record_progress, &rec), 0, "chain flattened");
    if (err_code())
        tap_diag("%s", err_message());
    is_int(compare_images(flat, ovchain[2]), 0, "flattened image equals the chain");
    ok(compare_images(flat, ovchain[0]) != 0, "and differs from the base alone (the test can fail)");
    is_int(check_image(flat), 0, "flattened image passes qemu-img check");
    c = chain_walk(flat);
    ok(c && c->n == 1, "flattened image stands alone");
    chain_free(c);
    /* Only qemu-img's own "(0.00/100%)" gets a call below 100. */
    ok(rec.calls >= 2 && rec.first >= 0 && rec.first < 100,
       "progress parsed from qemu-img (%d calls, first %d)", rec.calls, rec.first);
    is_int(rec.last, 100, "progress reaches 100");
    ok(rec.monotonic, "progress never goes back");
    is_int(fixture_count_entries(dir, ".tmp-"), 0, "no temporary file after flatten");
    is_int(fixture_sums_changed(&rp_sums), 0, "sources byte-identical after flatten");

    sum = fixture_sha256(flat);
    refused(chain_flatten(ovchain[2], flat, NULL, NULL), RESULT_INVALID_STATE, flat, NULL,
            "flatten onto an existing file");
    sum2 = fixture_sha256(flat);
    is_str(sum2, sum, "existing flatten target untouched");
    args = util_xasprintf("create -q -f qcow2 -F qcow2 -b '%s/gone.qcow2' -u '%s' 1M", dir, broken);
    qemu_img(args);
    free(args);
    refused(chain_flatten(broken, ref, NULL, NULL), RESULT_FILE_NOT_FOUND, "gone.qcow2", ref,
            "flatten a broken chain");
    ok(access(ref, F_OK) < 0, "broken chain: nothing written");
    is_int(fixture_count_entries(dir, ".tmp-"), 0, "no temporary file after a refused flatten");
    {
        int calls = 0;

        err_clear();
        ok(chain_flatten(ovchain[2], ref, stop_progress, &calls) < 0 && calls >= 1,
           "a progress callback that asks to stop stops the flatten");
        ok(strstr(err_message(), "cancelled") != NULL, "... and says it was cancelled");
        ok(access(ref, F_OK) < 0, "cancelled flatten: nothing written");
        is_int(fixture_count_entries(dir, ".tmp-"), 0, "no temporary file after a cancelled flatten");
        is_int(fixture_sums_changed(&rp_sums), 0, "sources byte-identical after a cancelled flatten");
    }

    /* Rebase: ov on rp1 moves to flat1, a standalone copy of rp1's view. */
    is_int(chain_flatten(ovchain[1], flat1, NULL, NULL), 0, "rp1 flattened");
    is_int(chain_create_overlay(ovchain[1], ov), 0, "overlay on rp1");
    fixture_write_pattern(ov, 8192, 4096, 0x77);
    is_int(chain_flatten(ov, ref, NULL, NULL), 0, "reference copy of the overlay's view");
    err_clear();
    is_int(chain_rebase_unsafe(ov, flat1), 0, "unsafe rebase onto flat1");
    if (err_code())
        tap_diag("%s", err_message());
    c = chain_walk(ov);
    ok(c && c->n == 2, "overlay now sits on flat1 alone");
    if (c && c->n == 2)
        is_str(c->layers[1].path, flat1, "layer 1 is flat1");
    else
        tap_skip(1, "no chain");
    chain_free(c);
    is_int(compare_images(ov, ref), 0, "content unchanged by the rebase");
    is_int(check_image(ov), 0, "rebased overlay passes qemu-img check");
    refused(chain_rebase_unsafe(ov, "flat1.qcow2"), RESULT_INVALID_PARAMETER, "flat1.qcow2", NULL,
            "rebase onto a relative name");
    refused(chain_rebase_unsafe(ov, broken), RESULT_FILE_NOT_FOUND, "gone.qcow2", NULL,
            "rebase onto a broken chain");
    free(sum);
    sum = fixture_sha256(flat1);
    refused(chain_rebase_unsafe(flat1, ov), RESULT_INCORRECT_TYPE, flat1, "loop",
            "rebase that would loop");
    free(sum2);
    sum2 = fixture_sha256(flat1);
    is_str(sum2, sum, "refused rebase leaves the file untouched");
    c = chain_walk(ov);
    ok(c && c->n == 2, "chain still sound after the refusals");
    chain_free(c);
out:
    free(sum);
    free(sum2);
    free(dir);
    free(flat);
    free(flat1);
    free(ov);
    free(ref);
    free(broken);
}

/* ------------------------------------------------------------------ */

static void
plan(const char *path, dev_t *dev, ino_t *ino)
{
    uint64_t size;

    if (chain_stat(path, dev, ino, &size) < 0)
        tap_diag("chain_stat %s: %s", path, err_message());
}

static void
test_discard(void)
{
    char *dir = mkdir_in("disc");
    char *other = mkdir_in("elsewhere");
    char **rps = NULL;
    char *o[6];
    char *slink = util_xasprintf("%s/slink.qcow2", dir);
    char *hard = util_xasprintf("%s/o1-hard.qcow2", dir);
    char *o2new = util_xasprintf("%s/o2-new.qcow2", dir);
    char *out1 = util_xasprintf("%s/e1.qcow2", other);
    char *sub = util_xasprintf("%s/sub", dir);
    char *viasub = util_xasprintf("%s/sub/e1.qcow2", dir);
    char *adir = util_xasprintf("%s/adir", dir);
    char *gone = util_xasprintf("%s/gone.qcow2", dir);
    char *dirlink = util_xasprintf("%s/disc-slink", tmp);
    char *via_dirlink = NULL;
    FixtureSums all = { 0 };
    Chain *keep = NULL;
    const Chain *keeps[1];
    dev_t dev, ldev;
    ino_t ino, lino;
    uint64_t size;
    struct stat st;
    int i, before;

    if (fixture_make_chain(dir, "dc", 3, "1M", &rps) < 0) {
        ok(0, "discard chain made");
        goto out;
    }
    fixture_sums_add_all(&rp_sums, rps);
    for (i = 0; i < 6; i++) {
        o[i] = util_xasprintf("%s/o%d.qcow2", dir, i);
        if (chain_create_overlay(rps[2], o[i]) < 0)
            tap_diag("overlay %s: %s", o[i], err_message());
    }
    if (chain_create_overlay(rps[2], out1) < 0)
        tap_diag("overlay %s: %s", out1, err_message());
    keep = chain_walk(rps[2]);
    keeps[0] = keep;
    ok(keep && keep->n == 3, "kept chain walked");

    /* chain_stat does not follow links. */
    if (symlink("o0.qcow2", slink) < 0)
        tap_diag("symlink: %s", strerror(errno));
    is_int(chain_stat(slink, &ldev, &lino, &size), 0, "chain_stat on a symlink");
    plan(o[0], &dev, &ino);
    ok(lino != ino, "chain_stat gives the slink's own inode");
    refused(chain_stat(gone, &dev, &ino, &size), RESULT_FILE_NOT_FOUND, gone, NULL, "chain_stat missing");

    if (link(o[1], hard) < 0)
        tap_diag("slink: %s", strerror(errno));
    if (symlink(other, sub) < 0)
        tap_diag("symlink: %s", strerror(errno));
    if (mkdir(adir, 0755) < 0)
        tap_diag("mkdir: %s", strerror(errno));
    for (i = 0; i < 6; i++)
        fixture_sums_add(&all, o[i]);
    fixture_sums_add(&all, out1);
    fixture_sums_add_all(&all, rps);
    before = fixture_count_entries(dir, "");

    /* 1. symlink to an overlay */
    plan(o[0], &dev, &ino);
    refused(chain_discard(slink, dev, ino, dir, keeps, 1), RESULT_ACCESS_DENIED, slink,
            "symbolic link", "discard through a symlink");
    ok(lstat(slink, &st) == 0 && S_ISLNK(st.st_mode), "symlink still there");
    /* 2. hard-linked overlay */
    plan(o[1], &dev, &ino);
    refused(chain_discard(o[1], dev, ino, dir, keeps, 1), RESULT_ACCESS_DENIED, o[1],
            "has 2 hard links", "discard a hard-linked file");
    /* 3. replaced since the plan: same name, new inode */
    plan(o[2], &dev, &ino);
    if (chain_create_overlay(rps[2], o2new) < 0 || rename(o2new, o[2]) < 0)
        tap_diag("cannot replace %s", o[2]);
    refused(chain_discard(o[2], dev, ino, dir, keeps, 1), RESULT_INVALID_STATE, o[2],
            "replaced since the plan", "discard a replaced file");
    fixture_sums_add(&all, o[2]);   /* the replacement must survive as well */
    /* 4. outside the directory */
    plan(out1, &dev, &ino);
    refused(chain_discard(out1, dev, ino, dir, keeps, 1), RESULT_ACCESS_DENIED, out1,
            "outside the replica directory", "discard outside the directory");
    /* 5. inside only by name, through a symlinked subdirectory */
    refused(chain_discard(viasub, dev, ino, dir, keeps, 1), RESULT_ACCESS_DENIED, viasub,
            "outside the replica directory", "discard via a symlinked parent");
    /* 6. a layer of a kept chain */
    plan(rps[1], &dev, &ino);
    refused(chain_discard(rps[1], dev, ino, dir, keeps, 1), RESULT_IN_USE, rps[1],
            "backing layer of", "discard a backing layer");
    ok(msg_has(rps[2]), "backing layer: message names the kept top");
    plan(rps[2], &dev, &ino);
    refused(chain_discard(rps[2], dev, ino, dir, keeps, 1), RESULT_IN_USE, rps[2],
            "top of the kept chain", "discard a kept top");
    /* 7. missing, a directory, a relative name */
    refused(chain_discard(gone, dev, ino, dir, keeps, 1), RESULT_FILE_NOT_FOUND, gone, NULL,
            "discard a missing file");
    plan(adir, &dev, &ino);
    refused(chain_discard(adir, dev, ino, dir, keeps, 1), RESULT_ACCESS_DENIED, adir,
            "not a regular file", "discard a directory");
    plan(o[3], &dev, &ino);
    {
        /* The relative name exists from tmp, so only the inside check stops it. */
        char *cwd = getcwd(NULL, 0);

        if (chdir(tmp) < 0)
            tap_diag("chdir %s: %s", tmp, strerror(errno));
        refused(chain_discard("disc/o3.qcow2", dev, ino, dir, keeps, 1), RESULT_ACCESS_DENIED,
                "disc/o3.qcow2", "outside", "discard a relative name");
        if (!cwd || chdir(cwd) < 0)
            tap_diag("cannot return to the working directory");
        free(cwd);
    }

    is_int(fixture_sums_changed(&all), 0, "every file intact after the refusals");
    is_int(fixture_count_entries(dir, ""), before, "no entry gone from the directory");
    ok(access(out1, F_OK) == 0 && lstat(slink, &st) == 0 && access(hard, F_OK) == 0,
       "outside file, symlink and hard link all kept");

    /* The happy path: exactly one file goes. */
    plan(o[3], &dev, &ino);
    err_clear();
    is_int(chain_discard(o[3], dev, ino, dir, keeps, 1), 0, "planned overlay discarded");
    if (err_code())
        tap_diag("%s", err_message());
    ok(access(o[3], F_OK) < 0, "it is gone");
    is_int(fixture_count_entries(dir, ""), before - 1, "exactly one entry fewer");
    /* Through a replica directory that is itself reached by a symlink. */
    if (symlink(dir, dirlink) < 0)
        tap_diag("symlink: %s", strerror(errno));
    via_dirlink = util_xasprintf("%s/o4.qcow2", dirlink);
    plan(o[4], &dev, &ino);
    is_int(chain_discard(via_dirlink, dev, ino, dirlink, keeps, 1), 0,
           "discard inside a symlinked replica directory");
    ok(access(o[4], F_OK) < 0, "that one is gone too");
    is_int(fixture_count_entries(dir, ""), before - 2, "two entries fewer in all");
    {
        /* Remaining files untouched: everything but o3 and o4. */
        FixtureSums rest = { 0 };
        size_t k;

        for (k = 0; k < all.n; k++) {
            if (strcmp(all.paths[k], o[3]) == 0 || strcmp(all.paths[k], o[4]) == 0)
                continue;
            fixture_sums_add(&rest, all.paths[k]);
            free(rest.sums[rest.n - 1]);
            rest.sums[rest.n - 1] = util_xstrdup(all.sums[k]);
        }
        is_int(fixture_sums_changed(&rest), 0, "all other files byte-identical");
        fixture_sums_free(&rest);
    }
    for (i = 0; i < 6; i++)
        free(o[i]);
out:
    chain_free(keep);
    fixture_sums_free(&all);
    fixture_free_paths(rps);
    free(dir);
    free(other);
    free(slink);
    free(hard);
    free(o2new);
    free(out1);
    free(sub);
    free(viasub);
    free(adir);
    free(gone);
    free(dirlink);
    free(via_dirlink);
}

int
main(void)
{
    tmp = tap_tmpdir();
    chain_free(NULL);

    test_depths();
    test_depth_201();
    test_variants();
    test_unusual_images();
    test_relative_and_symlink();
    test_raw_base();
    test_corrupt();
    test_loops_and_missing();
    test_create_overlay();
    test_full_disk();
    test_flatten_and_rebase();
    test_discard();

    is_int(fixture_sums_changed(&rp_sums), 0, "every recovery point and base is byte-identical (%zu files)",
           rp_sums.n);
    fixture_sums_free(&rp_sums);
    fixture_free_paths(deep200);
    fixture_free_paths(ovchain);
    return tap_done();
}
