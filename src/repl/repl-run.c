/* SPDX-License-Identifier: GPL-2.0-or-later */
/* repl-run: running a cycle, a resync or an initial copy: the journal, the
 * backup job, the copy into temporary layers, one define, retention. */
#include <config.h>

#include "repl/repl.h"
#include "repl/repl-priv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libxml/xmlwriter.h>
#include <nettle/base16.h>
#include <nettle/sha2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/lock.h"
#include "base/result.h"
#include "base/util.h"
#include "chain/chain.h"
#include "hv/domxml.h"
#include "ops/audit.h"
#include "ops/ops.h"
#include "ops/plan.h"
#include "record/replica.h"
#include "record/state.h"

/* --- execution ----------------------------------------------------------------- */

/* A file this run created, with its identity: undo removes only these. */
typedef struct {
    char *path;
    dev_t dev;
    ino_t ino;
} ReplMade;

typedef struct {
    HvConn *dr;
    HvConn *pc;
    const ReplPlan *p;
    Job *job;
    ReplMade *made;
    size_t nmade;
    int began;                  /* the backup job runs on the primary */
    int64_t t0;
    int disk;                   /* the disk being copied, for progress */
    int64_t copy_t0;
    int64_t last_ms;
    uint64_t moved;             /* data and zero bytes, all disks */
    uint64_t data;
    int succeeded;              /* a point was made */
    int planned;                /* a planned failover's final cycle (repl-planned.c) */
    int64_t copy_ms;            /* time spent moving data, all disks */
    char *expect;               /* the definition as last read or written (repl_define) */
    char jobid[37];             /* the job named in this run's journal */
} ReplRun;

static void
repl_step(ReplRun *x, int percent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
repl_step(ReplRun *x, int percent, const char *fmt, ...)
{
    UTIL_AUTOFREE char *s = NULL;
    va_list ap;

    if (!x->job)
        return;
    va_start(ap, fmt);
    s = util_xvasprintf(fmt, ap);
    va_end(ap);
    job_progress(x->job, percent, "%s", s);
}

static void
repl_made(ReplRun *x, const char *path)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return;
    x->made = util_xrealloc(x->made, (x->nmade + 1) * sizeof(*x->made));
    x->made[x->nmade].path = util_xstrdup(path);
    x->made[x->nmade].dev = st.st_dev;
    x->made[x->nmade].ino = st.st_ino;
    x->nmade++;
}

static void
repl_copy_progress(uint64_t done, uint64_t planned, void *opaque)
{
    ReplRun *x = opaque;
    int64_t now = util_mono_ms();
    const ReplPlanDisk *d = &x->p->disks[x->disk];
    double secs = (double)(now - x->copy_t0) / 1000.0;
    double rate = secs > 0 ? (double)done / secs : 0;
    int lo = 15 + 75 * x->disk / (int)x->p->ndisks;
    int hi = 15 + 75 * (x->disk + 1) / (int)x->p->ndisks;
    char sd[32], sp[32], sr[32];

    if (done < planned && now - x->last_ms < 500)
        return;
    x->last_ms = now;
    util_format_size(done, sd, sizeof(sd));
    util_format_size(planned, sp, sizeof(sp));
    util_format_size((uint64_t)rate, sr, sizeof(sr));
    if (rate > 0 && done < planned)
        repl_step(x, lo + (int)((hi - lo) * (planned ? (double)done / (double)planned : 1)),
                  "copying %s: %s of %s, %s/s, about %.0f s left", d->target, sd, sp, sr,
                  (double)(planned - done) / rate);
    else
        repl_step(x, lo + (int)((hi - lo) * (planned ? (double)done / (double)planned : 1)),
                  "copying %s: %s of %s", d->target, sd, sp);
}

/* The chains no deletion may touch: every disk of every domain here. */
static int
repl_load_keep(HvConn *dr, Chain ***keep, size_t *nkeep)
{
    return plan_keep_load_but(dr, NULL, keep, nkeep);
}

/* Before a merge or a resync changes anything: the files it deletes after
 * its switch pass every check of that deletion against the other domains
 * here (the replica's own chain uses them until the switch).  A disk of
 * another domain that cannot be resolved refuses here, with nothing
 * changed, rather than after the switch (issue 11, item 11). */
int
repl_check_removals_on(HvConn *dr, const char *uuid, const char *dir,
                       const ReplicaDiskList *files)
{
    const char *exclude[2] = { uuid, NULL };
    Chain **keep = NULL;
    size_t nkeep = 0, i;
    int ret = 0;

    if (plan_keep_load_but(dr, exclude, &keep, &nkeep) < 0) {
        err_prefix("drover cannot tell which files the domains here use, so it deletes nothing");
        return -1;
    }
    for (i = 0; i < files->n && ret == 0; i++) {
        dev_t dev;
        ino_t ino;
        uint64_t size;

        if (chain_stat(files->v[i].file, &dev, &ino, &size) < 0 ||
            chain_discard_check(files->v[i].file, dev, ino, dir,
                                (const Chain *const *)keep, nkeep) < 0)
            ret = -1;
    }
    plan_keep_free(keep, nkeep);
    return ret;
}

static int
repl_check_removals(ReplRun *x, const ReplicaDiskList *files)
{
    return repl_check_removals_on(x->dr, x->p->uuid, x->p->dir, files);
}

/* Removes the files of this run (still the same inode) after a failure. */
static void
repl_undo_files(ReplRun *x)
{
    Chain **keep = NULL;
    size_t nkeep = 0, i;
    ErrInfo saved;

    err_save(&saved);
    if (x->nmade && repl_load_keep(x->dr, &keep, &nkeep) == 0) {
        for (i = x->nmade; i-- > 0;) {
            if (chain_discard(x->made[i].path, x->made[i].dev, x->made[i].ino, x->p->dir,
                              (const Chain *const *)keep, nkeep) < 0 && x->job)
                job_progress(x->job, -1, "warning: %s left in place: %s", x->made[i].path,
                             err_message());
        }
    }
    plan_keep_free(keep, nkeep);
    err_restore(&saved);
}

/* Temporary files an interrupted cycle left: ".<name>.tmp-XXXXXX" of one
 * of this plan's files, removed as any deletion is. */
static int
repl_remove_stale_temps(ReplRun *x)
{
    Chain **keep = NULL;
    size_t nkeep = 0, i;
    int ret = 0;

    for (i = 0; i < x->p->ndisks && ret == 0; i++) {
        const char *names[2] = { x->p->disks[i].file, x->p->disks[i].base };
        size_t k;

        for (k = 0; k < 2 && ret == 0; k++) {
            UTIL_AUTOFREE char *dir = NULL;
            UTIL_AUTOFREE char *prefix = NULL;
            struct dirent *e;
            DIR *dh;

            if (!names[k])
                continue;
            dir = util_dirname(names[k]);
            prefix = util_xasprintf(".%s.tmp-", strrchr(names[k], '/') + 1);
            if (!(dh = opendir(dir)))
                continue;
            while ((e = readdir(dh)) && ret == 0) {
                UTIL_AUTOFREE char *path = NULL;
                dev_t dev;
                ino_t ino;
                uint64_t size;

                /* Only names of the exact shape: mkstemp's six characters. */
                if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 ||
                    strlen(e->d_name) != strlen(prefix) + 6)
                    continue;
                path = util_xasprintf("%s/%s", dir, e->d_name);
                if (chain_stat(path, &dev, &ino, &size) < 0) {
                    err_clear();
                    continue;
                }
                if (!keep && repl_load_keep(x->dr, &keep, &nkeep) < 0) {
                    ret = -1;
                    break;
                }
                repl_step(x, 6, "removing %s, left by an interrupted cycle", path);
                ret = chain_discard(path, dev, ino, x->p->dir, (const Chain *const *)keep, nkeep);
            }
            closedir(dh);
        }
    }
    plan_keep_free(keep, nkeep);
    return ret;
}

/* A new file at a temporary name beside dest: its path and descriptor. */
static int
repl_tmp_create(ReplRun *x, const char *dest, char **tmp, int *fd)
{
    UTIL_AUTOFREE char *dir = util_dirname(dest);

    *tmp = util_xasprintf("%s/.%s.tmp-XXXXXX", dir, strrchr(dest, '/') + 1);
    *fd = mkostemp(*tmp, O_CLOEXEC);
    if (*fd < 0) {
        err_set_errno(0, errno, "cannot create a temporary file in %s", dir);
        free(*tmp);
        *tmp = NULL;
        return -1;
    }
    if (fchmod(*fd, 0600) < 0) {
        err_set_errno(0, errno, "cannot set the mode of %s", *tmp);
        return -1;
    }
    repl_made(x, *tmp);
    return 0;
}

/* Makes the temporary file durable and moves it to dest: never over an
 * existing file, except a base of an initial copy that an interrupted one
 * left (the replica's disk already names it, nothing else does). */
static int
repl_tmp_commit(ReplRun *x, const char *tmp, int fd, const char *dest, int may_replace)
{
    UTIL_AUTOFREE char *dir = util_dirname(dest);
    struct stat st;
    size_t i;
    int r;

    if (fsync(fd) < 0) {
        err_set_errno(0, errno, "cannot sync %s", tmp);
        return -1;
    }
    if (may_replace && lstat(dest, &st) == 0) {
        if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
            err_set(RESULT_ACCESS_DENIED, "%s is not a plain file of drover's: left in place", dest);
            return -1;
        }
        r = rename(tmp, dest);
    } else {
        r = renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RENAME_NOREPLACE);
    }
    if (r < 0) {
        err_set_errno(0, errno, "cannot rename %s to %s", tmp, dest);
        return -1;
    }
    for (i = 0; i < x->nmade; i++) {
        if (strcmp(x->made[i].path, tmp) == 0) {
            free(x->made[i].path);
            x->made[i].path = util_xstrdup(dest);
        }
    }
    return fsutil_fsync_dir(dir);
}

/* One disk: a layer (or the base) filled from the primary's export. */
static int
repl_copy_disk(ReplRun *x, const ReplPlanDisk *d, ReplCopyStats *st)
{
    const ReplPlan *p = x->p;
    UTIL_AUTOFREE char *bitmap = p->since ? util_xasprintf("backup-%s", d->target) : NULL;
    UTIL_AUTOFREE char *tmp = NULL;
    char sizebuf[32];
    ReplSource *src = NULL;
    int full = p->initial || p->resync;
    const char *dest = full ? d->base : d->file;
    uint64_t size;
    int fd = -1, ret = -1;

    if (!(src = repl_source_open(p->nbd, p->nbd_tls, d->target, bitmap)))
        goto out;
    size = repl_source_size(src);
    if (!full && size != d->size) {
        err_set(RESULT_INVALID_STATE, "disk %s of %s was resized on the primary (%llu bytes, "
                "the replica's %llu): a full resync is needed", d->target, p->vm,
                (unsigned long long)size, (unsigned long long)d->size);
        goto out;
    }
    if (repl_tmp_create(x, dest, &tmp, &fd) < 0)
        goto out;
    snprintf(sizebuf, sizeof(sizebuf), "%llu", (unsigned long long)size);
    {
        const char *args_base[] = { "create", "-q", "-f", "qcow2", tmp, sizebuf, NULL };
        const char *args_layer[] = { "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                                     d->backing, "-u", tmp, sizebuf, NULL };

        if (chain_run_qemu_img(full ? args_base : args_layer, NULL, NULL) < 0)
            goto out;
    }
    x->copy_t0 = util_mono_ms();
    x->last_ms = 0;
    if (repl_copy(src, tmp, full, repl_copy_progress, x, st) < 0)
        goto out;
    x->copy_ms += util_mono_ms() - x->copy_t0;
    /* Only an initial copy's own base may be replaced (see repl_tmp_commit);
     * a resync's base is new, its name unused. */
    if (repl_tmp_commit(x, tmp, fd, dest, p->initial) < 0)
        goto out;
    if (full) {
        /* The empty first point on the base, as every later point is on
         * the one before it. */
        if (chain_create_overlay(d->base, d->file) < 0)
            goto out;
        repl_made(x, d->file);
    }
    ret = 0;

out:
    if (fd >= 0)
        close(fd);
    repl_source_close(src);
    return ret;
}

/* The definitions handed to libvirt (backup, checkpoint) are written with
 * libxml2's writer, which escapes every value: a writer into a buffer,
 * indented as libvirt's own documents. */
static xmlTextWriterPtr
repl_xml_begin(xmlBufferPtr *buf)
{
    xmlTextWriterPtr w = NULL;

    if (!(*buf = xmlBufferCreate()) || !(w = xmlNewTextWriterMemory(*buf, 0))) {
        xmlBufferFree(*buf);
        *buf = NULL;
        err_set(RESULT_OUT_OF_MEMORY, "no memory for libxml2's writer");
        return NULL;
    }
    if (xmlTextWriterSetIndent(w, 1) < 0 || xmlTextWriterSetIndentString(w, BAD_CAST "  ") < 0) {
        xmlFreeTextWriter(w);
        xmlBufferFree(*buf);
        *buf = NULL;
        err_set(RESULT_FAILED, "libxml2's writer refused its settings");
        return NULL;
    }
    return w;
}

/* The document w wrote (bad: a call of the writer failed); frees w and
 * buf.  NULL with err set naming what. */
static char *
repl_xml_end(xmlBufferPtr buf, xmlTextWriterPtr w, int bad, const char *what)
{
    char *ret = NULL;

    bad |= xmlTextWriterFlush(w) < 0;
    xmlFreeTextWriter(w);
    if (bad)
        err_set(RESULT_FAILED, "libxml2 could not write the %s definition", what);
    else
        ret = util_xstrdup((const char *)xmlBufferContent(buf));
    xmlBufferFree(buf);
    return ret;
}

/* <disk name='TARGET' checkpoint='bitmap'/> per disk: the checkpoint of
 * the point description names. */
char *
repl_checkpoint_doc(const char *name, const char *description, const char *const *targets,
                    size_t n)
{
    xmlBufferPtr buf = NULL;
    xmlTextWriterPtr w = repl_xml_begin(&buf);
    size_t i;
    int bad = 0;

    if (!w)
        return NULL;
    bad |= xmlTextWriterStartElement(w, BAD_CAST "domaincheckpoint") < 0;
    bad |= xmlTextWriterWriteElement(w, BAD_CAST "name", BAD_CAST name) < 0;
    bad |= xmlTextWriterWriteElement(w, BAD_CAST "description", BAD_CAST description) < 0;
    bad |= xmlTextWriterStartElement(w, BAD_CAST "disks") < 0;
    for (i = 0; i < n; i++) {
        bad |= xmlTextWriterStartElement(w, BAD_CAST "disk") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST targets[i]) < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "checkpoint", BAD_CAST "bitmap") < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
    }
    bad |= xmlTextWriterEndElement(w) < 0;
    bad |= xmlTextWriterEndElement(w) < 0;
    return repl_xml_end(buf, w, bad, "checkpoint");
}

static char *
repl_backup_xml(const ReplPlan *p, const char *incremental)
{
    xmlBufferPtr buf = NULL;
    xmlTextWriterPtr w = repl_xml_begin(&buf);
    size_t i;
    int bad = 0;

    if (!w)
        return NULL;
    bad |= xmlTextWriterStartElement(w, BAD_CAST "domainbackup") < 0;
    bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "mode", BAD_CAST "pull") < 0;
    if (incremental)
        bad |= xmlTextWriterWriteElement(w, BAD_CAST "incremental", BAD_CAST incremental) < 0;
    bad |= xmlTextWriterStartElement(w, BAD_CAST "server") < 0;
    if (strncmp(p->nbd, "unix:", 5) == 0) {
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "transport", BAD_CAST "unix") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "socket", BAD_CAST (p->nbd + 5)) < 0;
    } else {
        const char *colon = strrchr(p->nbd, ':');
        UTIL_AUTOFREE char *host = util_xstrndup(p->nbd, (size_t)(colon - p->nbd));

        if (host[0] == '[' && host[strlen(host) - 1] == ']') {
            memmove(host, host + 1, strlen(host));
            host[strlen(host) - 1] = '\0';
        }
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "transport", BAD_CAST "tcp") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST host) < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "port", BAD_CAST (colon + 1)) < 0;
        /* The primary's backup_tls_x509_* settings in qemu.conf. */
        if (p->nbd_tls)
            bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "tls", BAD_CAST "yes") < 0;
    }
    bad |= xmlTextWriterEndElement(w) < 0;
    bad |= xmlTextWriterStartElement(w, BAD_CAST "disks") < 0;
    for (i = 0; i < p->ndisks; i++) {
        /* The scratch file holds what the guest overwrites while the
         * export is read; on the primary, beside its disk (where libvirt
         * would put it too), removed by libvirt when the job ends. */
        UTIL_AUTOFREE char *scratch = util_xasprintf("%s.%s.scratch", p->disks[i].primary_file,
                                                     p->checkpoint);

        bad |= xmlTextWriterStartElement(w, BAD_CAST "disk") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST p->disks[i].target) < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "backup", BAD_CAST "yes") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "file") < 0;
        bad |= xmlTextWriterStartElement(w, BAD_CAST "scratch") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "file", BAD_CAST scratch) < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
    }
    bad |= xmlTextWriterEndElement(w) < 0;
    bad |= xmlTextWriterEndElement(w) < 0;
    return repl_xml_end(buf, w, bad, "backup");
}

static char *
repl_checkpoint_xml(const ReplPlan *p)
{
    UTIL_AUTOFREE char *desc = util_xasprintf("drover recovery point %s", p->point);
    const char **targets = util_xcalloc(p->ndisks + 1, sizeof(*targets));
    char *ret;
    size_t i;

    for (i = 0; i < p->ndisks; i++)
        targets[i] = p->disks[i].target;
    ret = repl_checkpoint_doc(p->checkpoint, desc, targets, p->ndisks);
    free(targets);
    return ret;
}

/* Deletes drover's checkpoints on the primary other than keep (NULL: all
 * of them).  Only names drover gives ("drover.N"). */
static int
repl_delete_checkpoints(ReplRun *x, const char *keep, int percent)
{
    char **cps = hv_checkpoint_names(x->pc, x->p->uuid);
    size_t i;
    int ret = 0;

    if (!cps)
        return -1;
    for (i = 0; cps[i] && ret == 0; i++) {
        if (!repl_is_ours(cps[i]) || (keep && strcmp(cps[i], keep) == 0))
            continue;
        repl_step(x, percent, "deleting checkpoint %s on the primary", cps[i]);
        ret = hv_checkpoint_delete(x->pc, x->p->uuid, cps[i]);
        if (ret < 0 && x->p->resync) {
            /* A resync replaces every checkpoint: one whose bitmap a crash
             * lost cannot be deleted normally, so libvirt forgets it. */
            repl_step(x, percent, "checkpoint %s cannot be deleted (%s): libvirt forgets it "
                      "(its bitmap is broken or gone)", cps[i], err_message());
            err_clear();
            ret = hv_checkpoint_delete_flags(x->pc, x->p->uuid, cps[i], 1);
        }
    }
    hv_strv_free(cps);
    return ret;
}

/* A backup job of drover's that a killed cycle left running on the
 * primary (its scratch files carry drover's checkpoint names): ended, so
 * this cycle can start its own.  Anyone else's job is refused with 32774. */
static int
repl_end_stale_job(ReplRun *x)
{
    UTIL_AUTOFREE char *xml = hv_backup_xml(x->pc, x->p->uuid);

    if (!xml)
        return err_code() ? -1 : 0;
    if (!strstr(xml, "." REPL_CHECKPOINT_PREFIX) || !strstr(xml, ".scratch")) {
        err_set(RESULT_IN_USE, "another backup job runs on the primary's %s (not drover's): "
                "a cycle waits until it ends", x->p->vm);
        return -1;
    }
    repl_step(x, 7, "ending a backup job an interrupted cycle left on the primary");
    return hv_backup_abort(x->pc, x->p->uuid);
}

/* Retention: merges the oldest point into the base while there are more
 * than the record keeps.  Per merge: journal (the layers to delete, with
 * their inodes); qemu-img commit of the oldest layer into the base (no
 * view changes: the layer still covers what it commits); the next point
 * rebased onto the base (-u: same content); ONE define drops the point
 * (journal "switched"); the layers deleted; the journal closed.  A crash
 * anywhere leaves every point reading as before; repair finishes or undoes
 * it. */
static int
repl_retain(ReplRun *x, DomXml *dx, Replica *rec)
{
    Chain **keep = NULL;
    size_t nkeep = 0, i;
    UTIL_AUTOFREE char *jobid = NULL;
    int ret = -1, journaled = 0;

    while (rec->npoints > (size_t)rec->repl->points && rec->npoints > 1) {
        ReplicaPoint *old = &rec->points[0], *next = &rec->points[1];
        ReplicaJournal *j;
        char id[37];

        /* A test system reads the base too: nothing is merged under it. */
        if (rec->test) {
            err_set(RESULT_IN_USE, "the test system %s runs on %s's chain: %s is merged after "
                    "stop-test", rec->test->domain, rec->test->point ? rec->test->point : "a point",
                    old->id);
            goto out;
        }
        if (repl_check_removals(x, &old->disks) < 0) {
            err_prefix("%s is not merged", old->id);
            goto out;
        }
        repl_step(x, 98, "retention: merging %s into the base (%d points kept)", old->id,
                  rec->repl->points);
        j = rec->journal = util_xcalloc(1, sizeof(*j));
        j->op = util_xstrdup("replicate");
        if (x->job)
            util_strlcpy(id, job_id(x->job), sizeof(id));
        else
            job_new_uuid(id);
        j->job = util_xstrdup(id);
        j->step = util_xstrdup("prepared");
        j->time = util_now();
        j->from_state = j->to_state = rec->state;
        for (i = 0; i < old->disks.n; i++) {
            dev_t dev;
            ino_t ino;
            uint64_t size;

            if (chain_stat(old->disks.v[i].file, &dev, &ino, &size) < 0)
                goto out;
            replica_disk_list_add(&j->remove, old->disks.v[i].target, old->disks.v[i].file,
                                  (uint64_t)ino);
        }
        if (repl_define(x->dr, dx, rec, &x->expect) < 0)
            goto out;
        journaled = 1;
        ops_fault_point("retain", "journal");
        for (i = 0; i < old->disks.n; i++) {
            const ReplicaDisk *od = &old->disks.v[i];
            const ReplicaDisk *nd = replica_disk_list_find(&next->disks, od->target);
            const char *args[] = { "commit", "-q", "-d", od->file, NULL };
            ChainHeader h;
            UTIL_AUTOFREE char *base = NULL;

            memset(&h, 0, sizeof(h));
            if (!nd || chain_read_header(od->file, &h) < 0 || !h.backing_name) {
                if (!err_code())
                    err_set(RESULT_INCORRECT_TYPE, "%s has no backing file: nothing to merge into",
                            od->file);
                chain_header_clear(&h);
                goto out;
            }
            base = util_xstrdup(h.backing_name);
            chain_header_clear(&h);
            if (chain_run_qemu_img(args, NULL, NULL) < 0) {
                err_prefix("merging %s into %s", od->file, base);
                goto out;
            }
            ops_fault_point("retain", "committed");
            if (chain_rebase_unsafe(nd->file, base) < 0)
                goto out;
        }
        ops_fault_point("retain", "rebased");
        /* The point goes; the journal says its layers go next. */
        free(rec->journal->step);
        rec->journal->step = util_xstrdup("switched");
        {
            ReplicaPoint gone = *old;

            memmove(&rec->points[0], &rec->points[1], (rec->npoints - 1) * sizeof(*rec->points));
            rec->npoints--;
            if (repl_define(x->dr, dx, rec, &x->expect) < 0) {
                /* Not switched: the point is still in the record. */
                memmove(&rec->points[1], &rec->points[0], rec->npoints * sizeof(*rec->points));
                rec->points[0] = gone;
                rec->npoints++;
                goto out;
            }
            ops_fault_point("retain", "switched");
            journaled = 2;
            plan_keep_free(keep, nkeep);
            keep = NULL;
            if (repl_load_keep(x->dr, &keep, &nkeep) < 0) {
                free(gone.id);
                free(gone.checkpoint);
                replica_disk_list_clear(&gone.disks);
                goto out;
            }
            for (i = 0; i < rec->journal->remove.n; i++) {
                const ReplicaDisk *d = &rec->journal->remove.v[i];
                dev_t dev;
                ino_t ino;
                uint64_t size;

                if (chain_stat(d->file, &dev, &ino, &size) < 0 ||
                    chain_discard(d->file, dev, (ino_t)d->inode, x->p->dir,
                                  (const Chain *const *)keep, nkeep) < 0)
                    break;
            }
            free(gone.id);
            free(gone.checkpoint);
            replica_disk_list_clear(&gone.disks);
            if (i < rec->journal->remove.n)
                goto out;
        }
        replica_journal_free(rec->journal);
        rec->journal = NULL;
        if (repl_define(x->dr, dx, rec, &x->expect) < 0)
            goto out;
        journaled = 0;
    }
    ret = 0;

out:
    if (ret < 0 && journaled == 1) {
        /* Failed before its switch: every point reads as before (a partly
         * merged base is covered by the layer above it); close the journal
         * so the replica is not left "interrupted".  After the switch the
         * journal stays for repair, which deletes the merged layers. */
        ErrInfo saved;

        err_save(&saved);
        jobid = util_xstrdup(rec->journal->job);
        replica_journal_free(rec->journal);
        rec->journal = NULL;
        if (repl_define_back(x->dr, dx, rec, jobid, &x->expect) < 0 && x->job)
            job_progress(x->job, -1, "warning: the retention's journal stays (drover repair "
                         "%s): %s", x->p->vm, err_message());
        err_restore(&saved);
    } else if (ret < 0 && rec->journal && journaled == 0) {
        /* Not defined: the record in memory goes back to what libvirt has. */
        replica_journal_free(rec->journal);
        rec->journal = NULL;
    }
    plan_keep_free(keep, nkeep);
    return ret;
}

/* Whether the cycle should try an application-consistent point. */
static int
repl_app_due(const Replica *r, int64_t now)
{
    int64_t last = 0;
    size_t i;

    if (!r->repl || r->repl->app_every <= 0)
        return 0;
    for (i = 0; i < r->npoints; i++)
        if (r->points[i].type == RP_TYPE_APP_CONSISTENT && r->points[i].time > last)
            last = r->points[i].time;
    return !last || now - last >= r->repl->app_every;
}

/* Thaws the guest; a failure is said (the guest stays frozen until its
 * agent's own timeout) and the point is not called app-consistent. */
static int
repl_thaw(ReplRun *x)
{
    if (hv_fs_thaw(x->pc, x->p->uuid) == 0)
        return 0;
    if (x->job)
        job_progress(x->job, -1, "warning: %s", err_message());
    err_clear();
    return -1;
}

/* After a resync's switch: the old chain's files (the very files the
 * journal names, by inode) deleted, then the journal closed with one
 * define.  -1 with err set leaves the journal for drover repair. */
static int
repl_resync_finish(ReplRun *x, DomXml *dx, Replica *rec)
{
    Chain **keep = NULL;
    size_t nkeep = 0, i;
    int ret = -1;

    if (repl_load_keep(x->dr, &keep, &nkeep) < 0)
        goto out;
    for (i = 0; i < rec->journal->remove.n; i++) {
        const ReplicaDisk *d = &rec->journal->remove.v[i];
        dev_t dev;
        ino_t ino;
        uint64_t size;

        if (chain_stat(d->file, &dev, &ino, &size) < 0) {
            if (err_code() != RESULT_FILE_NOT_FOUND)
                goto out;
            err_clear();
            continue;
        }
        repl_step(x, 98, "deleting %s (old chain)", d->file);
        if (chain_discard(d->file, dev, (ino_t)d->inode, x->p->dir, (const Chain *const *)keep,
                          nkeep) < 0)
            goto out;
        ops_fault_point("resync", "deleting");
    }
    replica_journal_free(rec->journal);
    rec->journal = NULL;
    if (repl_define(x->dr, dx, rec, &x->expect) < 0)
        goto out;
    ret = 0;

out:
    plan_keep_free(keep, nkeep);
    return ret;
}

/* Runs plan p (built under the lock) on replica dx/r.  Returns 0 or -1
 * with err set, everything of this run undone. */
static int
repl_run(ReplRun *x, DomXml *dx, const Replica *r)
{
    const ReplPlan *p = x->p;
    UTIL_AUTOFREE char *bxml = NULL;
    UTIL_AUTOFREE char *cxml = NULL;
    Replica *rec = replica_copy(r);
    ReplicaJournal *j;
    ReplicaPoint *pt;
    ReplCopyStats total, st;
    int64_t when;
    size_t i;
    int switched = 0, app = 0;
    char sdata[32], szero[32];
    const char *op = p->resync ? "resync" : "replicate";

    memset(&total, 0, sizeof(total));
    /* 1. Stale leftovers of an interrupted cycle (ours by name), and the
     *    checkpoints no point records (a cycle that failed after
     *    BackupBegin): the incremental below merges their bitmaps. */
    if (repl_remove_stale_temps(x) < 0)
        goto fail;
    if (repl_end_stale_job(x) < 0)
        goto fail;
    if (repl_delete_checkpoints(x, p->since, 8) < 0) {
        err_prefix("cannot remove checkpoints no recovery point records");
        goto fail;
    }
    if (p->remove.n && repl_check_removals(x, &p->remove) < 0) {
        err_prefix("the old chain of %s could not be deleted after the resync; nothing was "
                   "changed", p->vm);
        goto fail;
    }
    /* 2. The journal: what this cycle creates, written before it does. */
    repl_step(x, 10, "journal: %s of %s begins",
              p->resync ? "resync" : p->initial ? "initial copy" : "cycle", p->vm);
    j = rec->journal = util_xcalloc(1, sizeof(*j));
    j->op = util_xstrdup(op);
    {
        char id[37];
        if (x->job)
            util_strlcpy(id, job_id(x->job), sizeof(id));
        else
            job_new_uuid(id);
        j->job = util_xstrdup(id);
        util_strlcpy(x->jobid, id, sizeof(x->jobid));
    }
    j->step = util_xstrdup("prepared");
    j->time = util_now();
    j->from_state = p->from_state;
    j->to_state = p->to_state;
    j->point = util_xstrdup(p->since_point);
    for (i = 0; i < p->ndisks; i++) {
        /* A resync's new base is this run's too: repair removes it. */
        if (p->resync)
            replica_disk_list_add(&j->create, p->disks[i].target, p->disks[i].base, 0);
        replica_disk_list_add(&j->create, p->disks[i].target, p->disks[i].file, 0);
    }
    for (i = 0; i < p->remove.n; i++) {
        dev_t dev;
        ino_t ino;
        uint64_t size;

        /* The old chain's files with their identity now: after the switch
         * only these very files are deleted. */
        if (chain_stat(p->remove.v[i].file, &dev, &ino, &size) < 0)
            goto fail;
        replica_disk_list_add(&j->remove, p->remove.v[i].target, p->remove.v[i].file,
                              (uint64_t)ino);
    }
    rec->state = p->initial ? STATE_WAITING_INITIAL : p->resync ? STATE_RESYNCING : rec->state;
    if (repl_define(x->dr, dx, rec, &x->expect) < 0)
        goto fail;
    ops_fault_point(op, "journal");
    /* 3. The instant of the point: every disk in one backup job. */
    if (!(bxml = repl_backup_xml(p, p->since)) || !(cxml = repl_checkpoint_xml(p)))
        goto undo;
    /* An application-consistent point: the guest's file systems frozen
     * around BackupBegin only (the point in time is fixed when the job
     * starts), thawed at once.  Without the agent the point is standard,
     * and the job says why. */
    if (!x->planned && repl_app_due(r, util_now())) {
        repl_step(x, 11, "freezing the guest's file systems for an application-consistent point");
        if (hv_fs_freeze(x->pc, p->uuid) == 0) {
            app = 1;
        } else {
            repl_step(x, 11, "not application-consistent (this point is standard): %s",
                      err_message());
            err_clear();
        }
    }
    repl_step(x, 12, "backup job on the primary: %s with checkpoint %s",
              p->since ? "changes since" : "full copy", p->checkpoint);
    when = util_now();
    if (hv_backup_begin(x->pc, p->uuid, bxml, cxml) < 0) {
        if (p->since && err_get()->virt_code == REPL_VIRT_CHECKPOINT_INCONSISTENT) {
            UTIL_AUTOFREE char *why = util_xstrdup(err_get()->virt_msg);

            err_set(RESULT_INVALID_STATE, "checkpoint %s of the newest point %s is inconsistent "
                    "on the primary (%s; its qemu stopped without storing its bitmaps, a crash): "
                    "the changes since it are unknown; a full resync is needed (drover resync "
                    "%s)", p->since, p->since_point, why, p->vm);
        } else {
            err_prefix("the primary refused the backup of %s", p->vm);
        }
        if (app)
            repl_thaw(x);
        goto undo;
    }
    x->began = 1;
    if (app && repl_thaw(x) < 0)
        app = 0;
    ops_fault_point(op, "begun");
    /* 4. The layers. */
    for (i = 0; i < p->ndisks; i++) {
        x->disk = (int)i;
        repl_step(x, 15 + 75 * (int)i / (int)p->ndisks, "copying %s from the primary (%s)",
                  p->disks[i].target, p->since ? "changed blocks" : "full copy");
        if (repl_copy_disk(x, &p->disks[i], &st) < 0) {
            err_prefix("disk %s", p->disks[i].target);
            goto undo;
        }
        total.planned += st.planned;
        total.data += st.data;
        total.zeroed += st.zeroed;
        total.skipped += st.skipped;
        total.size += st.size;
    }
    ops_fault_point(op, "copied");
    /* 5. ONE define: the point, the disks on it, the state, the journal
     *    closed (a resync's stays, "switched", until the old chain is gone). */
    if (p->resync) {
        for (i = 0; i < rec->npoints; i++) {
            free(rec->points[i].id);
            free(rec->points[i].checkpoint);
            replica_disk_list_clear(&rec->points[i].disks);
        }
        rec->npoints = 0;
    }
    rec->points = util_xrealloc(rec->points, (rec->npoints + 1) * sizeof(*rec->points));
    pt = &rec->points[rec->npoints++];
    memset(pt, 0, sizeof(*pt));
    pt->id = util_xstrdup(p->point);
    pt->time = when;
    /* A planned point is taken from a primary shut down cleanly. */
    pt->type = x->planned ? RP_TYPE_PLANNED : app ? RP_TYPE_APP_CONSISTENT : RP_TYPE_STANDARD;
    pt->checkpoint = util_xstrdup(p->checkpoint);
    for (i = 0; i < p->ndisks; i++) {
        replica_disk_list_add(&pt->disks, p->disks[i].target, p->disks[i].file, 0);
        if (domxml_set_disk_source(dx, p->disks[i].target, p->disks[i].file) < 0)
            goto undo;
    }
    rec->state = p->to_state;
    if (p->resync) {
        free(rec->journal->step);
        rec->journal->step = util_xstrdup("switched");
    } else {
        replica_journal_free(rec->journal);
        rec->journal = NULL;
    }
    repl_step(x, 92, "switching %s to %s", p->vm, p->point);
    if (repl_define(x->dr, dx, rec, &x->expect) < 0)
        goto undo;
    switched = 1;
    ops_fault_point(op, "switched");
    /* 6. The backup job ends; only now may older checkpoints go. */
    repl_step(x, 95, "ending the backup job on the primary");
    if (hv_backup_abort(x->pc, p->uuid) < 0 && x->job)
        job_progress(x->job, -1, "warning: %s (the next cycle ends it)", err_message());
    x->began = 0;
    ops_fault_point(op, "ended");
    if (repl_delete_checkpoints(x, p->checkpoint, 97) < 0 && x->job)
        job_progress(x->job, -1, "warning: %s (the next cycle deletes it)", err_message());
    err_clear();
    if (p->resync && repl_resync_finish(x, dx, rec) < 0) {
        /* The new chain is in and complete; only old files remain. */
        if (x->job)
            job_progress(x->job, -1, "warning: the old chain is not deleted yet (drover repair "
                         "%s deletes it): %s", p->vm, err_message());
        err_clear();
    }
    if (!p->resync && rec->repl && rec->repl->points > 0 && rec->npoints > (size_t)rec->repl->points) {
        /* The new point is in; retention failing leaves more points than
         * asked, never fewer: the cycle still succeeded. */
        if (repl_retain(x, dx, rec) < 0 && x->job)
            job_progress(x->job, -1, "warning: older points not merged: %s", err_message());
        err_clear();
    }
    x->moved = total.data + total.zeroed;
    x->data = total.data;
    x->succeeded = 1;
    util_format_size(total.data, sdata, sizeof(sdata));
    util_format_size(total.zeroed, szero, sizeof(szero));
    repl_step(x, 100, "%s (%s) of %s: %s of data and %s of zeroes copied for %zu disk%s in %.1f s "
              "(copying %.1f s); state %d %s", p->point, replica_rp_type_name(pt->type), p->vm,
              sdata, szero, p->ndisks,
              p->ndisks == 1 ? "" : "s", (double)(util_mono_ms() - x->t0) / 1000.0,
              (double)x->copy_ms / 1000.0, p->to_state, state_name(p->to_state));
    replica_free(rec);
    return 0;

undo:
    {
        ErrInfo saved;

        err_save(&saved);
        if (x->began && hv_backup_abort(x->pc, p->uuid) == 0)
            x->began = 0;
        if (!switched) {
            Replica *back = replica_copy(r);

            repl_undo_files(x);
            const ReplicaPoint *np = replica_newest_point(r);

            /* The definition as it was: disks and record. */
            for (i = 0; i < p->ndisks; i++) {
                const ReplicaDisk *od = p->resync && np ?
                    replica_disk_list_find(&np->disks, p->disks[i].target) : NULL;

                domxml_set_disk_source(dx, p->disks[i].target,
                                       od ? od->file : p->initial ? p->disks[i].base
                                                                  : p->disks[i].backing);
            }
            back->state = p->initial ? STATE_WAITING_INITIAL : r->state;
            if (repl_define_back(x->dr, dx, back, x->jobid, &x->expect) < 0 && x->job)
                job_progress(x->job, -1, "warning: the journal stays (drover repair %s): %s",
                             p->vm, err_message());
            replica_free(back);
        }
        err_restore(&saved);
    }
fail:
    replica_free(rec);
    return -1;
}

/* A cycle of replica d with its lock held. */

/* A cycle, or with resync a resync whose confirmed plan had digest
 * confirmed, of replica d with its lock held. */
static int
repl_cycle_locked(HvConn *dr, const char *host, const HvDomain *d, const ReplArgs *a, Job *job,
                  char **digest, int resync, const char *confirmed)
{
    ReplRun x;
    Replica *r = NULL;
    DomXml *dx = NULL;
    ReplPlan *p = NULL;
    HvDomain now;
    int ret = -1;
    size_t i;

    memset(&x, 0, sizeof(x));
    memset(&now, 0, sizeof(now));
    x.dr = dr;
    x.job = job;
    x.planned = a && a->planned;
    x.t0 = util_mono_ms();
    /* Under the lock: read again, and the power state with it. */
    if (hv_lookup(dr, d->uuid, 0, &now) < 0 ||
        !(dx = repl_read(dr, d->uuid, d->name, &r, &x.expect)))
        goto out;
    if (r->journal ||
        (resync ? repl_check_resync(r, now.name) : repl_check_state(r, now.name)) < 0 ||
        now.power != HV_POWER_OFF || !r->repl) {
        err_clear();
        p = repl_plan_build(dr, host, &now, dx, r, NULL, resync);
        goto out;
    }
    if (!(x.pc = repl_primary_open(r->primary_uri))) {
        err_prefix("%s of %s", resync ? "resync" : "replication", now.name);
        goto out;
    }
    if (!(p = repl_plan_build(dr, host, &now, dx, r, x.pc, resync)))
        goto out;
    *digest = util_xstrdup(p->digest);
    if (confirmed && strcmp(confirmed, p->digest) != 0) {
        err_set(RESULT_INVALID_STATE, "the plan for %s changed since it was shown (a cycle ran, "
                "or the chain or the primary changed): nothing was done; plan again", now.name);
        err_hint(RESULT_HINT_PLAN_CHANGED);
        goto out;
    }
    x.p = p;
    ret = repl_run(&x, dx, r);

out:
    if (ret < 0 && !err_code())
        err_set(RESULT_FAILED, "replication of %s failed", d->name);
    if (r && r->repl) {
        ErrInfo saved;

        err_save(&saved);
        repl_stats_note(r, d->uuid, ret < 0 ? repl_code() : 0, ret < 0 ? saved.message : NULL,
                        x.moved, util_mono_ms() - x.t0);
        err_restore(&saved);
    }
    for (i = 0; i < x.nmade; i++)
        free(x.made[i].path);
    free(x.made);
    free(x.expect);
    hv_close(x.pc);
    repl_plan_free(p);
    replica_free(r);
    domxml_free(dx);
    hv_domain_clear(&now);
    return ret < 0 ? repl_code() : 0;
}

/* A cycle or a resync of vm under its lock, audited. */
static int
repl_lock_run(HvConn *dr, const char *host, const char *vm, const ReplArgs *a, Job *job,
              int resync, const char *confirmed)
{
    const char *opname = resync ? "resync" : "replicate";
    UTIL_AUTOFREE char *self = lock_describe_self();
    UTIL_AUTOFREE char *holder = NULL;
    UTIL_AUTOFREE char *lockpath = NULL;
    UTIL_AUTOFREE char *digest = NULL;
    LockHandle *lk = NULL;
    Replica *r = NULL;
    DomXml *dx = NULL;
    HvDomain d;
    int code;

    if (hv_lookup(dr, vm, 0, &d) < 0)
        return repl_code();
    if ((code = repl_writable(dr, opname, d.name)) != 0)
        goto out;
    if (!(dx = repl_read(dr, d.uuid, d.name, &r, NULL))) {
        code = repl_code();
        goto out;
    }
    if (!(lockpath = replica_lock_path(r, d.uuid))) {
        err_set(RESULT_NOT_SUPPORTED, "%s is not replicated by drover (no <replication> and no "
                "points): use enable-replication", d.name);
        code = RESULT_NOT_SUPPORTED;
        goto out;
    }
    holder = util_xasprintf("%s, %s of %s, job %s", self,
                            resync ? "resync" : "replication cycle", d.name,
                            job ? job_id(job) : "none");
    if (job)
        job_progress(job, 1, "locking %s", d.name);
    if (!(lk = lock_acquire(lockpath, holder))) {
        err_prefix("%s", d.name);
        code = repl_code();
        goto out;
    }
    code = repl_cycle_locked(dr, host, &d, a, job, &digest, resync, confirmed);

out:
    repl_audit(a, host, d.name, opname, digest, job, code);
    lock_release(lk);
    replica_free(r);
    domxml_free(dx);
    hv_domain_clear(&d);
    return code;
}

int
repl_cycle(HvConn *dr, const char *host, const char *vm, const ReplArgs *a, Job *job)
{
    return repl_lock_run(dr, host, vm, a, job, 0, NULL);
}

int
repl_resync(HvConn *dr, const char *host, const char *vm, const char *digest,
            const ReplArgs *a, Job *job)
{
    return repl_lock_run(dr, host, vm, a, job, 1, digest);
}

int
repl_initial_locked(HvConn *dr, const char *host, const char *uuid, const ReplArgs *a, Job *job)
{
    UTIL_AUTOFREE char *digest = NULL;
    HvDomain d;
    int code;

    if (hv_lookup(dr, uuid, 0, &d) < 0)
        return repl_code();
    code = repl_cycle_locked(dr, host, &d, a, job, &digest, 0, NULL);
    hv_domain_clear(&d);
    return code;
}

/* The replica was not defined: its NVRAM copy goes (the same inode, as
 * any deletion); the define's error stays the one reported. */
static void
repl_enable_undo_nvram(HvConn *dr, const ReplPlan *p, dev_t dev, ino_t ino)
{
    Chain **keep = NULL;
    size_t nkeep = 0;
    ErrInfo saved;

    err_save(&saved);
    if (repl_load_keep(dr, &keep, &nkeep) == 0)
        chain_discard(p->nvram, dev, ino, p->dir, (const Chain *const *)keep, nkeep);
    plan_keep_free(keep, nkeep);
    err_restore(&saved);
}

int
repl_enable(HvConn *dr, const ReplPlan *confirmed, const ReplArgs *a, Job *job)
{
    UTIL_AUTOFREE char *self = lock_describe_self();
    UTIL_AUTOFREE char *holder = NULL;
    UTIL_AUTOFREE char *lockpath = NULL;
    UTIL_AUTOFREE char *digest = NULL;
    ReplEnableArgs ea;
    ReplPlan *p = NULL;
    LockHandle *lk = NULL;
    HvDomain d;
    dev_t nv_dev = 0;
    ino_t nv_ino = 0;
    int code = 0, nv_made = 0;

    memset(&d, 0, sizeof(d));
    if ((code = repl_writable(dr, "enable-replication", confirmed->vm)) != 0)
        goto out;
    if (job)
        job_progress(job, 1, "creating %s", confirmed->dir);
    if (fsutil_mkdirs(confirmed->dir, 0750) < 0) {
        code = repl_code();
        goto out;
    }
    lockpath = util_xasprintf("%s/.drover-%s.lock", confirmed->dir, confirmed->uuid);
    holder = util_xasprintf("%s, enable-replication of %s, job %s", self, confirmed->vm,
                            job ? job_id(job) : "none");
    if (!(lk = lock_acquire(lockpath, holder))) {
        err_prefix("%s", confirmed->vm);
        code = repl_code();
        goto out;
    }
    /* What runs is what was confirmed. */
    memset(&ea, 0, sizeof(ea));
    ea.vm = confirmed->uuid;
    ea.from = confirmed->primary_uri;
    ea.dir = confirmed->dir;
    ea.nbd = confirmed->nbd;
    ea.nbd_tls = confirmed->nbd_tls;
    ea.name = strcmp(confirmed->vm, confirmed->primary_vm) ? confirmed->vm : NULL;
    ea.interval = confirmed->interval;
    ea.points = confirmed->points;
    ea.app_every = confirmed->app_every;
    ea.netmap = (const char *const *)confirmed->netmap;
    ea.nnetmap = confirmed->nnetmap;
    ea.netmap_from = confirmed->netmap_from;
    if (!(p = repl_plan_enable(dr, confirmed->host, &ea))) {
        code = repl_code();
        goto out;
    }
    if (strcmp(p->digest, confirmed->digest) != 0) {
        err_set(RESULT_INVALID_STATE, "the plan for %s changed since it was shown (the primary's "
                "definition or the DR host changed): nothing was done; plan again", confirmed->vm);
        err_hint(RESULT_HINT_PLAN_CHANGED);
        code = RESULT_INVALID_STATE;
        goto out;
    }
    if (p->primary_nvram) {
        if (job)
            job_progress(job, 2, "copying the NVRAM %s to %s", p->primary_nvram, p->nvram);
        if (repl_copy_nvram(p, &nv_dev, &nv_ino) < 0) {
            code = repl_code();
            goto out;
        }
        nv_made = 1;
    }
    if (job)
        job_progress(job, 3, "defining the replica %s (state 1 Ready)", p->vm);
    if (hv_define(dr, p->domxml) < 0) {
        err_prefix("cannot define the replica %s", p->vm);
        code = repl_code();
        if (nv_made)
            repl_enable_undo_nvram(dr, p, nv_dev, nv_ino);
        goto out;
    }
    if (hv_lookup(dr, p->uuid, 0, &d) < 0) {
        code = repl_code();
        goto out;
    }
    code = repl_cycle_locked(dr, p->host, &d, a, job, &digest, 0, NULL);
    if (code)
        err_prefix("the replica %s is defined (state 2, initial copy pending: drover replicate "
                   "%s runs it again)", p->vm, p->vm);

out:
    repl_audit(a, confirmed->host, confirmed->vm, "enable-replication", confirmed->digest, job,
               code);
    lock_release(lk);
    repl_plan_free(p);
    hv_domain_clear(&d);
    return code;
}
