/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-chain: the operations that change a chain: overlay creation, full disk,
 * flatten and rebase with progress, and safe discard. */
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

char **ovchain;      /* base, rp1, rp2 with data */

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

void
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

void
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

void
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

void
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
