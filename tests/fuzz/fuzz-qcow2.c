/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-qcow2: the qcow2 header reader and the backing-chain walk.
 *
 * The input is written to top.qcow2 in a private directory.  If it holds
 * FUZZ_QCOW2_SPLIT, the bytes after the marker become base.qcow2 and the
 * bytes before it the top, so one input can fuzz both layers of a chain;
 * otherwise base.qcow2 is a valid image with no backing file.  Beside them
 * lie fixed files a fuzzed backing name can reach: a qcow2 image over a raw
 * base, a raw file, and an image whose backing file is the top (a loop). */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chain/chain.h"
#include "base/err.h"
#include "fuzz.h"
#include "base/util.h"

#define FUZZ_QCOW2_SPLIT "DROVERBASE"

static char *top_path;
static char *base_path;
static unsigned char *base_default;
static size_t base_default_len;

static void
put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void
put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

/* A well-formed header as qemu-img writes it: extensions (the backing
 * format, then the end marker) right after the header, then the name.
 * Returns the buffer (allocated, *len bytes). */
static unsigned char *
make_header(int version, const char *backing, const char *format, size_t *len)
{
    size_t hlen = version == 2 ? 72 : 104;
    size_t flen = format ? strlen(format) : 0;
    size_t ext = format ? 8 + ((flen + 7) & ~(size_t)7) : 0;
    size_t off = hlen + ext + 8;
    size_t blen = backing ? strlen(backing) : 0;
    size_t total = off + blen + 64;
    unsigned char *b = util_xcalloc(1, total);

    put32(b, 0x514649fbU);
    put32(b + 4, (uint32_t)version);
    if (backing) {
        put64(b + 8, off);
        put32(b + 16, (uint32_t)blen);
        memcpy(b + off, backing, blen);
    }
    put32(b + 20, 16);
    put64(b + 24, (uint64_t)1 << 20);
    if (version == 3) {
        put32(b + 96, 4);
        put32(b + 100, (uint32_t)hlen);
    }
    if (format) {
        put32(b + hlen, 0xE2792ACAU);
        put32(b + hlen + 4, (uint32_t)flen);
        memcpy(b + hlen + 8, format, flen);
    }
    *len = total;
    return b;
}

static void
write_fixed(const char *name, const unsigned char *data, size_t len)
{
    char *p = fuzz_path(name);

    fuzz_write(p, data, len);
    free(p);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    unsigned char raw[1024] = { 0 };
    unsigned char *h;
    size_t len;

    top_path = fuzz_path("top.qcow2");
    base_path = fuzz_path("base.qcow2");
    base_default = make_header(3, NULL, NULL, &base_default_len);
    write_fixed("fixed.raw", raw, sizeof(raw));
    h = make_header(3, "fixed.raw", "raw", &len);
    write_fixed("fixed.qcow2", h, len);
    free(h);
    h = make_header(2, "top.qcow2", NULL, &len);
    write_fixed("loop.qcow2", h, len);
    free(h);
    return 0;
}

/* What a walk that succeeded must look like. */
static void
check_chain(const Chain *c, const ChainHeader *top_hdr)
{
    struct stat st;
    size_t i;

    if (c->n < 1 || c->n > CHAIN_MAX_DEPTH)
        fuzz_fail("chain of %zu layers", c->n);
    if (strcmp(c->layers[0].path, top_path) != 0)
        fuzz_fail("top layer is %s, not %s", c->layers[0].path, top_path);
    if (c->layers[0].version != top_hdr->version ||
        c->layers[0].virtual_size != top_hdr->virtual_size ||
        !util_streq(c->layers[0].backing_name, top_hdr->backing_name) ||
        !util_streq(c->layers[0].backing_format, top_hdr->backing_format))
        fuzz_fail("the walk and the header reader disagree about the top");
    for (i = 0; i < c->n; i++) {
        const ChainLayer *l = &c->layers[i];
        int last = i + 1 == c->n;

        if (!l->path || l->path[0] != '/')
            fuzz_fail("layer %zu has no absolute path", i);
        if (strcmp(l->format, "qcow2") != 0 && strcmp(l->format, "raw") != 0)
            fuzz_fail("layer %zu has format %s", i, l->format);
        if (strcmp(l->format, "raw") == 0 && (!last || i == 0))
            fuzz_fail("raw layer %zu is not the base", i);
        if (last != !l->backing_name)
            fuzz_fail("layer %zu: backing name %s at %s", i,
                      l->backing_name ? l->backing_name : "(none)", last ? "the base" : "a middle layer");
        if (l->backing_name && (!*l->backing_name || strlen(l->backing_name) > CHAIN_MAX_BACKING_NAME))
            fuzz_fail("layer %zu: backing name of %zu bytes", i, strlen(l->backing_name));
    }
    if (chain_find_path(c, top_path) != 0)
        fuzz_fail("chain_find_path does not find the top at 0");
    if (stat(top_path, &st) != 0 || !chain_has_file(c, st.st_dev, st.st_ino))
        fuzz_fail("chain_has_file does not find the top");
}

static void
check_error(const char *what)
{
    if (err_code() == 0 || !err_message()[0])
        fuzz_fail("%s failed without an error", what);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *split = size >= sizeof(FUZZ_QCOW2_SPLIT) - 1
        ? memmem(data, size, FUZZ_QCOW2_SPLIT, sizeof(FUZZ_QCOW2_SPLIT) - 1) : NULL;
    size_t top_len = split ? (size_t)(split - data) : size;
    ChainHeader hdr;
    Chain *c;
    int rc;

    fuzz_write(top_path, data, top_len);
    if (split) {
        size_t off = top_len + sizeof(FUZZ_QCOW2_SPLIT) - 1;

        fuzz_write(base_path, data + off, size - off);
    } else {
        fuzz_write(base_path, base_default, base_default_len);
    }

    err_clear();
    rc = chain_read_header(top_path, &hdr);
    if (rc < 0) {
        check_error("chain_read_header");
    } else {
        if (hdr.version != 2 && hdr.version != 3)
            fuzz_fail("header read with version %d", hdr.version);
        if (hdr.backing_name && strlen(hdr.backing_name) > CHAIN_MAX_BACKING_NAME)
            fuzz_fail("backing name of %zu bytes", strlen(hdr.backing_name));
    }

    err_clear();
    c = chain_walk(top_path);
    if (!c) {
        check_error("chain_walk");
    } else {
        if (rc < 0)
            fuzz_fail("chain_walk accepted a top whose header chain_read_header refused");
        check_chain(c, &hdr);
        chain_free(c);
    }
    chain_header_clear(&hdr);

    if (split) {
        err_clear();
        if (chain_read_header(base_path, &hdr) < 0)
            check_error("chain_read_header (base)");
        chain_header_clear(&hdr);
    }
    return 0;
}
