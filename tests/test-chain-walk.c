/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-chain: the header reader and chain_walk on chains of every depth and
 * kind, unusual, relative, raw-based, corrupt, looping and missing images. */
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

char **deep200;      /* kept for the overlay and depth-201 tests */

void
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

void
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

void
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

void
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

void
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

void
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

void
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

void
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
