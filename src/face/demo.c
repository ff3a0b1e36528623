/* SPDX-License-Identifier: GPL-2.0-or-later */
/* demo: a scratch DR site to try drover on. */
#include <config.h>

#include "face/demo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chain/chain.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "record/replica.h"
#include "base/result.h"
#include "record/state.h"
#include "base/util.h"

#define DEMO_MARKER ".drover-demo"
#define DEMO_MAX_RPS 12
#define DEMO_MAX_VMS 100000

/* What one demo replica looks like. */
typedef enum {
    DEMO_REPLICATING,
    DEMO_RECOVERED,             /* failed over, off, revertable */
    DEMO_RECOVERED_RUNNING,
    DEMO_COMMITTED,
    DEMO_SUSPENDED,
    DEMO_MISSING_RP,            /* Critical: a recovery point file is gone */
    DEMO_INTERRUPTED,           /* a revert stopped after its switch */
    DEMO_TESTING,               /* a test failover exists */
    DEMO_LATE,                  /* Warning: the newest point is hours old */
} DemoKind;

typedef struct {
    const char *name;
    DemoKind kind;
    int ndisks;
    int nrps;
    int failover_rp;            /* 1-based point used by failover/test/commit */
} DemoVm;

static const DemoVm demo_standard[] = {
    { "web01", DEMO_REPLICATING, 1, 6, 0 },
    { "web02", DEMO_RECOVERED, 1, 6, 5 },
    { "db01", DEMO_RECOVERED_RUNNING, 2, 4, 4 },
    { "app01", DEMO_COMMITTED, 1, 5, 3 },
    { "mail01", DEMO_SUSPENDED, 1, 4, 0 },
    { "files01", DEMO_MISSING_RP, 1, 5, 0 },
    { "erp01", DEMO_INTERRUPTED, 1, 4, 4 },
    { "crm01", DEMO_TESTING, 1, 4, 3 },
    { "dns01", DEMO_LATE, 1, 3, 0 },
    { "web03", DEMO_REPLICATING, 2, 3, 0 },
    { "legacy01", DEMO_REPLICATING, 1, 12, 0 },
    { "hr01", DEMO_RECOVERED, 1, 4, 2 },
};
#define DEMO_NSTANDARD (sizeof(demo_standard) / sizeof(demo_standard[0]))

static const char *const demo_targets[] = { "vda", "vdb" };

typedef struct {
    char *dir;                  /* absolute, clean */
    char *tmpl;                 /* template directory */
    int64_t now;
    int big;                    /* large fleet: small images */
    UtilBuf xml;
    const DemoArgs *a;
} Demo;

char *
demo_dir_of(const char *uri)
{
    const char *path;
    char *dir;
    UTIL_AUTOFREE char *marker = NULL;
    struct stat st;

    if (!uri || strncmp(uri, "test:///", 8) != 0)
        return NULL;
    path = uri + strlen("test://");
    if (strchr(path, '?') || strstr(path, "/../"))
        return NULL;
    dir = util_dirname(path);
    marker = util_xasprintf("%s/%s", dir, DEMO_MARKER);
    if (lstat(marker, &st) < 0 || !S_ISREG(st.st_mode)) {
        free(dir);
        return NULL;
    }
    return dir;
}

char *
demo_default_dir(void)
{
    const char *run = getenv("XDG_RUNTIME_DIR");

    if (run && run[0] == '/')
        return util_xasprintf("%s/drover-demo", run);
    return util_xasprintf("/tmp/drover-demo-%u", (unsigned)getuid());
}

static void
demo_say(const Demo *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
demo_say(const Demo *d, const char *fmt, ...)
{
    va_list ap;
    char line[256];

    if (!d->a->progress)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    d->a->progress(line, d->a->opaque);
}

/* Removes an earlier demo (marked by DEMO_MARKER) below dir; refuses a
 * directory with anything else in it, so no one's files are lost. */
static int
demo_clear_dir(const char *dir)
{
    UTIL_AUTOFREE char *marker = util_xasprintf("%s/%s", dir, DEMO_MARKER);
    UTIL_AUTOFREE char *cmd = NULL;
    struct stat st;
    DIR *dh;
    struct dirent *e;
    int empty = 1;

    if (lstat(dir, &st) < 0) {
        if (errno == ENOENT)
            return fsutil_mkdirs(dir, 0755);
        err_set_errno(0, errno, "demo directory %s", dir);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        err_set(RESULT_INVALID_PARAMETER, "%s exists and is not a directory", dir);
        return -1;
    }
    if (lstat(marker, &st) == 0) {
        /* Ours from an earlier run: the whole tree was made by drover demo. */
        pid_t pid;
        int status;

        pid = fork();
        if (pid == 0) {
            execl("/bin/rm", "rm", "-rf", "--one-file-system", "--", dir, (char *)NULL);
            _exit(127);
        }
        if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
            err_set(RESULT_FAILED, "cannot remove the earlier demo in %s", dir);
            return -1;
        }
        return fsutil_mkdirs(dir, 0755);
    }
    if (!(dh = opendir(dir))) {
        err_set_errno(0, errno, "demo directory %s", dir);
        return -1;
    }
    while ((e = readdir(dh)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            empty = 0;
    closedir(dh);
    if (!empty) {
        err_set(RESULT_INVALID_PARAMETER,
                "%s is not empty and was not made by drover demo: choose another --dir", dir);
        return -1;
    }
    return 0;
}

static int
demo_qemu_img(const char *const *args)
{
    return chain_run_qemu_img(args, NULL, NULL);
}

static const char *
demo_size(const Demo *d)
{
    return d->big ? "1G" : "8G";
}

static char *
demo_layer_name(const char *target, int layer)
{
    if (layer == 0)
        return util_xasprintf("%s.base.qcow2", target);
    return util_xasprintf("%s.rp-%04d.qcow2", target, layer);
}

/* Template files: every VM's chain is byte-identical (relative backing
 * names), so it is made once with qemu-img and copied. */
static int
demo_make_templates(Demo *d)
{
    size_t t;
    int layer;

    d->tmpl = util_xasprintf("%s/.templates", d->dir);
    if (fsutil_mkdirs(d->tmpl, 0755) < 0)
        return -1;
    for (t = 0; t < 2; t++) {
        for (layer = 0; layer <= DEMO_MAX_RPS; layer++) {
            UTIL_AUTOFREE char *name = demo_layer_name(demo_targets[t], layer);
            UTIL_AUTOFREE char *path = util_xasprintf("%s/%s", d->tmpl, name);
            UTIL_AUTOFREE char *below = layer ? demo_layer_name(demo_targets[t], layer - 1) : NULL;

            if (layer == 0) {
                const char *args[] = { "create", "-q", "-f", "qcow2", "-o", "cluster_size=4096",
                                       path, demo_size(d), NULL };
                if (demo_qemu_img(args) < 0)
                    return -1;
            } else {
                const char *args[] = { "create", "-q", "-f", "qcow2", "-o", "cluster_size=4096",
                                       "-F", "qcow2", "-b", below, "-u", path, demo_size(d), NULL };
                if (demo_qemu_img(args) < 0)
                    return -1;
            }
        }
    }
    return 0;
}

static int
demo_copy(const char *src, const char *dst)
{
    int in = -1, out = -1, ret = -1;
    struct stat st;
    off_t left;

    if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0 || fstat(in, &st) < 0) {
        err_set_errno(0, errno, "cannot read %s", src);
        goto out;
    }
    if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0) {
        err_set_errno(0, errno, "cannot create %s", dst);
        goto out;
    }
    for (left = st.st_size; left > 0; ) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
        if (n <= 0) {
            err_set_errno(0, n < 0 ? errno : EIO, "cannot copy %s to %s", src, dst);
            goto out;
        }
        left -= n;
    }
    ret = 0;
out:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return ret;
}

static void
demo_uuid(int index, char out[37])
{
    snprintf(out, 37, "d7000000-0000-4000-8000-%012d", index);
}

static void
demo_stamp(int64_t t, char *buf, size_t size)
{
    char iso[32];
    size_t i, j = 0;

    util_format_time(t, iso, sizeof(iso));
    for (i = 0; iso[i] && j + 1 < size; i++)
        if (iso[i] != '-' && iso[i] != ':')
            buf[j++] = iso[i];
    buf[j] = '\0';
}

/* One domain of the fleet file. */
static void
demo_domain_xml(Demo *d, const char *name, const char *uuid, const Replica *r,
                char *const *sources, int ndisks, int running, int test_system)
{
    UTIL_AUTOFREE char *md = replica_format(r);
    UtilBuf *b = &d->xml;
    int i;

    util_buf_add(b, "  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n");
    util_buf_add(b, "    <name>");
    util_buf_add_xml(b, name);
    util_buf_printf(b, "</name>\n    <uuid>%s</uuid>\n", uuid);
    util_buf_add(b, "    <metadata>\n");
    util_buf_add(b, md);
    util_buf_add(b, "    </metadata>\n");
    util_buf_add(b, "    <memory unit='MiB'>2048</memory>\n    <vcpu>2</vcpu>\n");
    util_buf_add(b, "    <os><type arch='x86_64'>hvm</type></os>\n    <devices>\n");
    for (i = 0; i < ndisks; i++) {
        util_buf_add(b, "      <disk type='file' device='disk'>\n"
                        "        <driver name='qemu' type='qcow2'/>\n        <source file='");
        util_buf_add_xml(b, sources[i]);
        util_buf_printf(b, "'/>\n        <target dev='%s' bus='virtio'/>\n      </disk>\n",
                        demo_targets[i]);
    }
    if (!test_system)
        util_buf_add(b, "      <interface type='network'><source network='default'/></interface>\n");
    util_buf_printf(b, "    </devices>\n    <test:runstate>%d</test:runstate>\n  </domain>\n",
                    running ? 1 : 5);
}

static int
demo_overlay(const char *backing, const char *path)
{
    if (chain_create_overlay(backing, path) < 0) {
        err_prefix("demo");
        return -1;
    }
    return 0;
}

static int
demo_vm(Demo *d, int index, const DemoVm *vm)
{
    UTIL_AUTOFREE char *vmdir = util_xasprintf("%s/vms/%s", d->dir, vm->name);
    char uuid[37], stamp[32];
    char *sources[2] = { NULL, NULL };
    char *rpfile[2][DEMO_MAX_RPS + 1];
    Replica *r = replica_new();
    int64_t newest = d->now - (vm->kind == DEMO_LATE ? 3 * 3600 : 15 * 60);
    int t, k, running = 0;
    int ret = -1;

    memset(rpfile, 0, sizeof(rpfile));
    demo_uuid(index, uuid);
    if (fsutil_mkdirs(vmdir, 0755) < 0)
        goto cleanup;
    for (t = 0; t < vm->ndisks; t++) {
        for (k = 0; k <= vm->nrps; k++) {
            UTIL_AUTOFREE char *name = demo_layer_name(demo_targets[t], k);
            UTIL_AUTOFREE char *src = util_xasprintf("%s/%s", d->tmpl, name);
            rpfile[t][k] = util_xasprintf("%s/%s", vmdir, name);
            /* A committed replica keeps only the committed point's chain. */
            if (vm->kind == DEMO_COMMITTED && k > vm->failover_rp)
                continue;
            if (demo_copy(src, rpfile[t][k]) < 0)
                goto cleanup;
        }
    }
    r->mode = MODE_REPLICA;
    r->state = STATE_REPLICATING;
    r->primary_host = util_xstrdup("prod-a");
    r->primary_uri = util_xstrdup("qemu+ssh://prod-a/system");
    r->primary_name = util_xstrdup(vm->name);
    r->points = util_xcalloc((size_t)vm->nrps, sizeof(*r->points));
    for (k = 1; k <= vm->nrps; k++) {
        ReplicaPoint *p;

        if (vm->kind == DEMO_COMMITTED && k != vm->failover_rp)
            continue;
        p = &r->points[r->npoints++];
        p->id = util_xasprintf("rp-%04d", k);
        p->time = newest - (int64_t)(vm->nrps - k) * 3600;
        p->type = k % 4 == 0 ? RP_TYPE_APP_CONSISTENT : RP_TYPE_STANDARD;
        for (t = 0; t < vm->ndisks; t++)
            replica_disk_list_add(&p->disks, demo_targets[t], rpfile[t][k], 0);
    }
    for (t = 0; t < vm->ndisks; t++)
        sources[t] = util_xstrdup(rpfile[t][vm->nrps]);

    demo_stamp(d->now - 40 * 60, stamp, sizeof(stamp));
    switch (vm->kind) {
    case DEMO_RECOVERED_RUNNING:
        running = 1;
        /* fall through */
    case DEMO_RECOVERED:
    case DEMO_COMMITTED:
    case DEMO_INTERRUPTED: {
        ReplicaFailover *f = util_xcalloc(1, sizeof(*f));
        f->point = util_xasprintf("rp-%04d", vm->failover_rp);
        f->time = d->now - 40 * 60;
        f->by = util_xstrdup("alice");
        for (t = 0; t < vm->ndisks; t++) {
            UTIL_AUTOFREE char *ov = util_xasprintf("%s/%s.failover-%s.qcow2", vmdir, demo_targets[t], stamp);
            if (demo_overlay(rpfile[t][vm->failover_rp], ov) < 0) {
                replica_failover_free(f);
                goto cleanup;
            }
            replica_disk_list_add(&f->disks, demo_targets[t], ov, 0);
            free(sources[t]);
            sources[t] = util_xstrdup(ov);
        }
        if (vm->kind == DEMO_COMMITTED) {
            r->state = STATE_COMMITTED;
            replica_failover_free(f);
        } else if (vm->kind == DEMO_INTERRUPTED) {
            /* A revert that switched, then died before deleting. */
            ReplicaJournal *j = util_xcalloc(1, sizeof(*j));
            char jid[37];
            snprintf(jid, sizeof(jid), "d7000000-0000-4000-9000-%012d", index);
            j->op = util_xstrdup("revert");
            j->job = util_xstrdup(jid);
            j->step = util_xstrdup("switched");
            j->time = d->now - 5 * 60;
            j->from_state = STATE_RECOVERED;
            j->to_state = STATE_REPLICATING;
            j->point = util_xstrdup(f->point);
            for (t = 0; t < vm->ndisks; t++) {
                ino_t ino = 0;
                chain_stat(f->disks.v[t].file, NULL, &ino, NULL);
                replica_disk_list_add(&j->remove, demo_targets[t], f->disks.v[t].file, (uint64_t)ino);
                free(sources[t]);
                sources[t] = util_xstrdup(rpfile[t][vm->nrps]);
            }
            r->journal = j;
            replica_failover_free(f);
        } else {
            r->state = STATE_RECOVERED;
            r->failover = f;
        }
        break;
    }
    case DEMO_SUSPENDED:
        r->state = STATE_SUSPENDED;
        break;
    case DEMO_MISSING_RP:
        /* Someone deleted a point by hand: drover must say so, not guess. */
        if (unlink(rpfile[0][vm->nrps - 1]) < 0) {
            err_set_errno(0, errno, "demo: cannot remove %s", rpfile[0][vm->nrps - 1]);
            goto cleanup;
        }
        break;
    case DEMO_TESTING: {
        ReplicaTest *tst = util_xcalloc(1, sizeof(*tst));
        char tuuid[37];
        char *tsrc[2] = { NULL, NULL };
        Replica *tr = replica_new();
        UTIL_AUTOFREE char *tname = util_xasprintf("%s-test", vm->name);

        snprintf(tuuid, sizeof(tuuid), "d7000000-0000-4000-a000-%012d", index);
        tst->domain = util_xstrdup(tname);
        tst->uuid = util_xstrdup(tuuid);
        tst->point = util_xasprintf("rp-%04d", vm->failover_rp);
        tst->time = d->now - 20 * 60;
        for (t = 0; t < vm->ndisks; t++) {
            UTIL_AUTOFREE char *ov = util_xasprintf("%s/%s.test-%s.qcow2", vmdir, demo_targets[t], stamp);
            if (demo_overlay(rpfile[t][vm->failover_rp], ov) < 0) {
                replica_test_free(tst);
                replica_free(tr);
                goto cleanup;
            }
            replica_disk_list_add(&tst->disks, demo_targets[t], ov, 0);
            tsrc[t] = util_xstrdup(ov);
        }
        r->test = tst;
        tr->mode = MODE_TEST_REPLICA;
        tr->state = STATE_DISABLED;
        tr->primary_name = util_xstrdup(vm->name);
        tr->primary_host = util_xstrdup("this host");
        demo_domain_xml(d, tname, tuuid, tr, tsrc, vm->ndisks, 1, 1);
        for (t = 0; t < 2; t++)
            free(tsrc[t]);
        replica_free(tr);
        break;
    }
    default:
        break;
    }
    if (replica_validate(r) < 0) {
        err_prefix("demo record of %s", vm->name);
        goto cleanup;
    }
    demo_domain_xml(d, vm->name, uuid, r, sources, vm->ndisks, running, 0);
    ret = 0;

cleanup:
    for (t = 0; t < 2; t++) {
        free(sources[t]);
        for (k = 0; k <= DEMO_MAX_RPS; k++)
            free(rpfile[t][k]);
    }
    replica_free(r);
    return ret;
}

char *
demo_build(const DemoArgs *a)
{
    Demo d;
    UTIL_AUTOFREE char *dir = a->dir ? util_xstrdup(a->dir) : demo_default_dir();
    UTIL_AUTOFREE char *marker = NULL;
    UTIL_AUTOFREE char *fleet = NULL;
    UTIL_AUTOFREE char *real = NULL;
    char *uri = NULL;
    int n = a->vms > 0 ? a->vms : (int)DEMO_NSTANDARD;
    int i;

    memset(&d, 0, sizeof(d));
    d.a = a;
    if (n > DEMO_MAX_VMS) {
        err_set(RESULT_INVALID_PARAMETER, "--vms %d is more than %d", n, DEMO_MAX_VMS);
        return NULL;
    }
    if (demo_clear_dir(dir) < 0)
        return NULL;
    if (!(real = realpath(dir, NULL))) {
        err_set_errno(0, errno, "demo directory %s", dir);
        return NULL;
    }
    d.dir = real;
    d.now = util_now();
    d.big = n > 100;
    marker = util_xasprintf("%s/%s", d.dir, DEMO_MARKER);
    if (fsutil_write_atomic(marker, "made by drover demo; removed by the next drover demo\n", 53, 0644) < 0)
        goto fail;
    demo_say(&d, "making template chains with qemu-img in %s", d.dir);
    if (demo_make_templates(&d) < 0)
        goto fail;
    util_buf_add(&d.xml, "<node>\n");
    for (i = 0; i < n; i++) {
        DemoVm vm;
        char name[32];

        if ((size_t)i < DEMO_NSTANDARD) {
            vm = demo_standard[i];
        } else {
            snprintf(name, sizeof(name), "vm-%05d", i + 1);
            vm.name = name;
            vm.kind = DEMO_REPLICATING;
            vm.ndisks = 1;
            vm.nrps = 2 + i % 3;
            vm.failover_rp = 0;
        }
        if (demo_vm(&d, i + 1, &vm) < 0)
            goto fail;
        if (n > 1000 && (i + 1) % 1000 == 0)
            demo_say(&d, "%d of %d replicas", i + 1, n);
    }
    util_buf_add(&d.xml, "</node>\n");
    fleet = util_xasprintf("%s/fleet.xml", d.dir);
    if (fsutil_write_atomic(fleet, d.xml.s, d.xml.len, 0644) < 0)
        goto fail;
    uri = util_xasprintf("test://%s", fleet);

fail:
    if (!uri)
        err_prefix("drover demo");
    util_buf_free(&d.xml);
    free(d.tmpl);
    return uri;
}
