/* SPDX-License-Identifier: GPL-2.0-or-later */
/* repl-run-backup: what a run asks of the primary and copies from it: one
 * disk copied from the backup job's export into a new layer (or base) at a
 * temporary name, made durable and renamed; the backup job's and the
 * checkpoint's definitions; drover's checkpoints no point records deleted;
 * a backup job a killed cycle left ended. */
#include <config.h>

#include "repl/repl.h"
#include "repl/repl-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <libxml/xmlwriter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/result.h"
#include "base/util.h"
#include "chain/chain.h"

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
int
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

char *
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

char *
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
int
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
int
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
