/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fixture: real qcow2 chains and file checks for tests, made with qemu-img. */
#include <config.h>

#include "fixture.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "base/util.h"

const char *
fixture_qemu_img(void)
{
    const char *q = getenv("QEMU_IMG");

    return q && *q ? q : "qemu-img";
}

const char *
fixture_qemu_io(void)
{
    static char sibling[4096];
    const char *q = getenv("QEMU_IO");
    const char *img = fixture_qemu_img();
    const char *slash;

    if (q && *q)
        return q;
    slash = strrchr(img, '/');
    if (slash) {
        snprintf(sibling, sizeof(sibling), "%.*sqemu-io", (int)(slash - img + 1), img);
        if (access(sibling, X_OK) == 0)
            return sibling;
    }
    return "qemu-io";
}

char *
fixture_shquote(const char *s)
{
    UtilBuf b = { 0 };

    util_buf_add(&b, "'");
    for (; *s; s++) {
        if (*s == '\'')
            util_buf_add(&b, "'\\''");
        else
            util_buf_addn(&b, s, 1);
    }
    util_buf_add(&b, "'");
    return util_buf_steal(&b);
}

void
fixture_free_paths(char **paths)
{
    size_t i;

    if (!paths)
        return;
    for (i = 0; paths[i]; i++)
        free(paths[i]);
    free(paths);
}

int
fixture_write_pattern(const char *image, unsigned long long offset, unsigned long long len,
                      int pattern)
{
    char *qi = fixture_shquote(fixture_qemu_io());
    char *qimg = fixture_shquote(image);
    int st;

    st = tap_system("%s -f qcow2 -c 'write -q -P %d %llu %llu' %s >/dev/null", qi,
                    pattern & 0xff, offset, len, qimg);
    if (st != 0)
        tap_diag("fixture: qemu-io write into %s failed (status %d)", image, st);
    free(qi);
    free(qimg);
    return st == 0 ? 0 : -1;
}

int
fixture_make_chain_opts(const char *dir, const char *prefix, int depth, const char *size_str,
                        int flags, char ***paths)
{
    char **p;
    char *qemu = fixture_shquote(fixture_qemu_img());
    unsigned long long size = 0;
    char *end = NULL;
    int i;
    int rc = -1;

    *paths = NULL;
    if (depth < 1) {
        free(qemu);
        return -1;
    }
    /* The data pattern needs the size as a number: accept "<n>", "<n>K", "<n>M". */
    size = strtoull(size_str, &end, 10);
    if (end && (*end == 'K' || *end == 'k'))
        size <<= 10;
    else if (end && *end == 'M')
        size <<= 20;
    else if (end && *end == 'G')
        size <<= 30;
    p = util_xcalloc((size_t)depth + 1, sizeof(*p));
    for (i = 0; i < depth; i++) {
        char *qpath;
        int st;

        p[i] = util_xasprintf("%s/%s%03d.qcow2", dir, prefix, i);
        qpath = fixture_shquote(p[i]);
        if (i == 0) {
            st = tap_system("%s create -q -f qcow2 %s %s", qemu, qpath, size_str);
        } else {
            char *backing;
            char *qbacking;

            if (flags & FIXTURE_RELATIVE)
                backing = util_xasprintf("%s%03d.qcow2", prefix, i - 1);
            else
                backing = util_xstrdup(p[i - 1]);
            qbacking = fixture_shquote(backing);
            st = tap_system("%s create -q -f qcow2 -F qcow2 -b %s -u %s %s", qemu, qbacking,
                            qpath, size_str);
            free(backing);
            free(qbacking);
        }
        free(qpath);
        if (st != 0) {
            tap_diag("fixture: qemu-img create %s failed (status %d)", p[i], st);
            goto out;
        }
        if ((flags & FIXTURE_DATA) && size >= 65536 &&
            fixture_write_pattern(p[i], ((unsigned long long)i * 65536) % size, 4096, i + 1) < 0)
            goto out;
    }
    *paths = p;
    p = NULL;
    rc = 0;
out:
    fixture_free_paths(p);
    free(qemu);
    return rc;
}

int
fixture_make_chain(const char *dir, const char *prefix, int depth, const char *size_str,
                   char ***paths)
{
    return fixture_make_chain_opts(dir, prefix, depth, size_str, 0, paths);
}

char *
fixture_sha256(const char *path)
{
    char *q = fixture_shquote(path);
    char *out = tap_capture("sha256sum < %s 2>/dev/null", q);
    char *sp;

    free(q);
    if (!out)
        return NULL;
    sp = strchr(out, ' ');
    if (sp)
        *sp = '\0';
    if (strlen(out) != 64) {
        free(out);
        return NULL;
    }
    return out;
}

void
fixture_sums_add(FixtureSums *s, const char *path)
{
    util_grow(&s->paths, &s->cap, s->n + 1, sizeof(*s->paths));
    /* sums grows in step with paths: same capacity. */
    s->sums = util_xrealloc(s->sums, s->cap * sizeof(*s->sums));
    s->paths[s->n] = util_xstrdup(path);
    s->sums[s->n] = fixture_sha256(path);
    if (!s->sums[s->n])
        tap_diag("fixture: cannot hash %s", path);
    s->n++;
}

void
fixture_sums_add_all(FixtureSums *s, char *const *paths)
{
    size_t i;

    for (i = 0; paths && paths[i]; i++)
        fixture_sums_add(s, paths[i]);
}

size_t
fixture_sums_changed(const FixtureSums *s)
{
    size_t i, changed = 0;

    for (i = 0; i < s->n; i++) {
        char *now = fixture_sha256(s->paths[i]);

        if (!now || !s->sums[i] || strcmp(now, s->sums[i]) != 0) {
            tap_diag("fixture: %s %s", s->paths[i], now ? "changed" : "is gone or unreadable");
            changed++;
        }
        free(now);
    }
    return changed;
}

void
fixture_sums_free(FixtureSums *s)
{
    size_t i;

    if (!s)
        return;
    for (i = 0; i < s->n; i++) {
        free(s->paths[i]);
        free(s->sums[i]);
    }
    free(s->paths);
    free(s->sums);
    memset(s, 0, sizeof(*s));
}

int
fixture_count_entries(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (strstr(e->d_name, needle))
            n++;
    }
    closedir(d);
    return n;
}
