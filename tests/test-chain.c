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
#include "test-chain.h"

const char *tmp;
/* Every recovery point and base made here: none may change. */
FixtureSums rp_sums;

char *
mkdir_in(const char *name)
{
    char *d = util_xasprintf("%s/%s", tmp, name);

    if (mkdir(d, 0755) < 0 && errno != EEXIST)
        tap_diag("mkdir %s: %s", d, strerror(errno));
    return d;
}

int
msg_has(const char *needle)
{
    return strstr(err_message(), needle) != NULL;
}

/* The refusal check every failure path shares: code, and a message naming
 * what it must name. */
void
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

int
qemu_img(const char *fmt_args)
{
    char *q = fixture_shquote(fixture_qemu_img());
    int st = tap_system("%s %s >/dev/null 2>&1", q, fmt_args);

    free(q);
    return st;
}

int
compare_images(const char *a, const char *b)
{
    char *args = util_xasprintf("compare -U '%s' '%s'", a, b);
    int st = qemu_img(args);

    free(args);
    return st;
}

int
check_image(const char *a)
{
    char *args = util_xasprintf("check -q '%s'", a);
    int st = qemu_img(args);

    free(args);
    return st;
}

void
write_bytes(const char *path, off_t off, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY);

    if (fd < 0 || pwrite(fd, data, n, off) != (ssize_t)n)
        tap_diag("cannot patch %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
}

void
put_be32(const char *path, off_t off, uint32_t v)
{
    unsigned char b[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 8), (unsigned char)v };

    write_bytes(path, off, b, 4);
}

void
put_be64(const char *path, off_t off, uint64_t v)
{
    put_be32(path, off, (uint32_t)(v >> 32));
    put_be32(path, off + 4, (uint32_t)v);
}

uint32_t
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
long
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
void
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
