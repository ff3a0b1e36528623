/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hv-backup: libvirt's backup and checkpoint API, which replication
 * (src/repl/) drives on the primary host. */
#include <config.h>

#include "hv/hv.h"
#include "hv/hv-priv.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"

/* A referenced connection and the domain with this UUID on it, for one
 * call: 0, or -1 with err set and nothing held.  hv_backup_close lets go. */
static int
hv_backup_open(HvConn *c, const char *uuid, virConnectPtr *vc, virDomainPtr *dom)
{
    *dom = NULL;
    if (!(*vc = hv_acquire(c)))
        return -1;
    if (!(*dom = virDomainLookupByUUIDString(*vc, uuid))) {
        hv_err("no domain with UUID %s on %s", uuid, c->uri);
        hv_check_alive(c, *vc);
        virConnectClose(*vc);
        *vc = NULL;
        return -1;
    }
    return 0;
}

static void
hv_backup_close(virConnectPtr vc, virDomainPtr dom)
{
    virDomainFree(dom);
    virConnectClose(vc);
}

/* hv_backup_open, then the checkpoint name of that domain: NULL with err
 * set and nothing held.  hv_checkpoint_close lets go of all three. */
static virDomainCheckpointPtr
hv_checkpoint_open(HvConn *c, const char *uuid, const char *name, virConnectPtr *vc,
                   virDomainPtr *dom)
{
    virDomainCheckpointPtr cp;

    if (hv_backup_open(c, uuid, vc, dom) < 0)
        return NULL;
    if (!(cp = virDomainCheckpointLookupByName(*dom, name, 0))) {
        hv_err("no checkpoint %s on %s (%s)", name, uuid, c->uri);
        hv_check_alive(c, *vc);
        hv_backup_close(*vc, *dom);
    }
    return cp;
}

static void
hv_checkpoint_close(virConnectPtr vc, virDomainPtr dom, virDomainCheckpointPtr cp)
{
    virDomainCheckpointFree(cp);
    hv_backup_close(vc, dom);
}

int
hv_backup_begin(HvConn *c, const char *uuid, const char *backup_xml, const char *checkpoint_xml)
{
    virConnectPtr vc;
    virDomainPtr dom;
    int ret = -1;

    if (hv_backup_open(c, uuid, &vc, &dom) < 0)
        return -1;
    if (virDomainBackupBegin(dom, backup_xml, checkpoint_xml, 0) < 0) {
        hv_err("cannot start a backup job on %s (%s)", uuid, c->uri);
        hv_check_alive(c, vc);
        goto cleanup;
    }
    ret = 0;

cleanup:
    hv_backup_close(vc, dom);
    return ret;
}

char *
hv_backup_xml(HvConn *c, const char *uuid)
{
    virConnectPtr vc;
    virDomainPtr dom;
    char *xml = NULL, *r = NULL;

    if (hv_backup_open(c, uuid, &vc, &dom) < 0)
        return NULL;
    if (!(xml = virDomainBackupGetXMLDesc(dom, 0))) {
        virErrorPtr e = virGetLastError();

        if (e && e->code == VIR_ERR_NO_DOMAIN_BACKUP) {
            virResetLastError();
            err_clear();
            goto cleanup;
        }
        hv_err("cannot read the backup job of %s (%s)", uuid, c->uri);
        hv_check_alive(c, vc);
        goto cleanup;
    }
    r = util_xstrdup(xml);
    free(xml);

cleanup:
    hv_backup_close(vc, dom);
    return r;
}

int
hv_backup_abort(HvConn *c, const char *uuid)
{
    virConnectPtr vc;
    virDomainPtr dom;
    virDomainJobInfo info;
    int ret = -1;

    if (hv_backup_open(c, uuid, &vc, &dom) < 0)
        return -1;
    memset(&info, 0, sizeof(info));
    if (virDomainGetJobInfo(dom, &info) == 0 && info.type == VIR_DOMAIN_JOB_NONE) {
        ret = 0;
        goto cleanup;
    }
    virResetLastError();
    if (virDomainAbortJob(dom) < 0) {
        virErrorPtr e = virGetLastError();
        /* Gone already (the domain stopped, or another client ended it). */
        if (e && e->code == VIR_ERR_OPERATION_INVALID) {
            virResetLastError();
            ret = 0;
            goto cleanup;
        }
        hv_err("cannot end the backup job of %s (%s)", uuid, c->uri);
        hv_check_alive(c, vc);
        goto cleanup;
    }
    ret = 0;

cleanup:
    hv_backup_close(vc, dom);
    return ret;
}

char **
hv_checkpoint_names(HvConn *c, const char *uuid)
{
    virConnectPtr vc;
    virDomainPtr dom;
    virDomainCheckpointPtr *cps = NULL;
    char **v = NULL;
    int n, i;

    if (hv_backup_open(c, uuid, &vc, &dom) < 0)
        return NULL;
    if ((n = virDomainListAllCheckpoints(dom, &cps, 0)) < 0) {
        hv_err("cannot list the checkpoints of %s (%s)", uuid, c->uri);
        hv_check_alive(c, vc);
        goto cleanup;
    }
    v = util_xcalloc((size_t)n + 1, sizeof(*v));
    for (i = 0; i < n; i++) {
        v[i] = util_xstrdup(virDomainCheckpointGetName(cps[i]));
        virDomainCheckpointFree(cps[i]);
    }
    free(cps);

cleanup:
    hv_backup_close(vc, dom);
    return v;
}

/* Sums the size attributes of <disks><disk> in a checkpoint document;
 * -1 when there is none (libvirt gave no sizes). */
static int
hv_checkpoint_sum_sizes(const char *xml, uint64_t *bytes, size_t *ndisks)
{
    xmlDocPtr doc;
    xmlNodePtr n, k;
    int ret = -1;

    *bytes = 0;
    *ndisks = 0;
    if (!(doc = xmlReadMemory(xml, (int)strlen(xml), "checkpoint.xml", NULL,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)))
        return -1;
    for (n = xmlDocGetRootElement(doc)->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE || !xmlStrEqual(n->name, BAD_CAST "disks"))
            continue;
        for (k = n->children; k; k = k->next) {
            xmlChar *size;
            unsigned long long v;
            char *end;

            if (k->type != XML_ELEMENT_NODE || !xmlStrEqual(k->name, BAD_CAST "disk"))
                continue;
            /* checkpoint='no' disks have no bitmap and no size. */
            if (!(size = xmlGetProp(k, BAD_CAST "size")))
                continue;
            errno = 0;
            v = strtoull((const char *)size, &end, 10);
            if (errno || end == (char *)size || *end) {
                xmlFree(size);
                goto out;
            }
            xmlFree(size);
            *bytes += v;
            (*ndisks)++;
        }
    }
    ret = *ndisks ? 0 : -1;

out:
    xmlFreeDoc(doc);
    return ret;
}

int
hv_checkpoint_pending(HvConn *c, const char *uuid, const char *name, uint64_t *bytes)
{
    virConnectPtr vc;
    virDomainPtr dom;
    virDomainCheckpointPtr cp;
    char *xml = NULL;
    size_t ndisks;
    int power, ret = -1;

    *bytes = 0;
    /* libvirt asks qemu for the bitmaps' counts: only a running domain
     * has them (a shut-off one fails with a less useful message). */
    if ((power = hv_get_power(c, uuid)) < 0)
        return -1;
    if (power != HV_POWER_RUNNING && power != HV_POWER_PAUSED) {
        err_set(RESULT_INVALID_STATE, "the domain is %s on %s: only a running domain tells "
                "the size written since a checkpoint", hv_power_name(power), c->uri);
        return -1;
    }
    if (!(cp = hv_checkpoint_open(c, uuid, name, &vc, &dom)))
        return -1;
    if (!(xml = virDomainCheckpointGetXMLDesc(cp, VIR_DOMAIN_CHECKPOINT_XML_SIZE |
                                              VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN))) {
        hv_err("cannot read the size of checkpoint %s of %s (%s)", name, uuid, c->uri);
        hv_check_alive(c, vc);
        goto cleanup;
    }
    if (hv_checkpoint_sum_sizes(xml, bytes, &ndisks) < 0) {
        err_set(RESULT_NOT_SUPPORTED, "libvirt gave no disk sizes for checkpoint %s of %s (%s)",
                name, uuid, c->uri);
        goto cleanup;
    }
    ret = 0;

cleanup:
    free(xml);
    hv_checkpoint_close(vc, dom, cp);
    return ret;
}

int
hv_checkpoint_delete(HvConn *c, const char *uuid, const char *name)
{
    return hv_checkpoint_delete_flags(c, uuid, name, 0);
}

int
hv_checkpoint_delete_flags(HvConn *c, const char *uuid, const char *name, int metadata_only)
{
    virConnectPtr vc;
    virDomainPtr dom;
    virDomainCheckpointPtr cp;
    int ret = -1;

    if (!(cp = hv_checkpoint_open(c, uuid, name, &vc, &dom)))
        return -1;
    if (virDomainCheckpointDelete(cp, metadata_only ?
                                  VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY : 0) < 0) {
        hv_err("cannot delete checkpoint %s of %s (%s)", name, uuid, c->uri);
        hv_check_alive(c, vc);
        goto cleanup;
    }
    ret = 0;

cleanup:
    hv_checkpoint_close(vc, dom, cp);
    return ret;
}

char *
hv_get_live_xml(HvConn *c, const char *uuid)
{
    virConnectPtr vc;
    virDomainPtr dom;
    char *xml, *r = NULL;

    if (hv_backup_open(c, uuid, &vc, &dom) < 0)
        return NULL;
    if (!(xml = virDomainGetXMLDesc(dom, 0))) {
        hv_err("cannot read the live definition of %s (%s)", uuid, c->uri);
        hv_check_alive(c, vc);
    } else {
        r = util_xstrdup(xml);
        free(xml);
    }
    hv_backup_close(vc, dom);
    return r;
}

/* One guest-agent call on the domain: freeze (1) or thaw (0). */
static int
hv_fs_call(HvConn *c, const char *uuid, int freeze)
{
    virConnectPtr vc;
    virDomainPtr dom;
    int ret = -1;

    if (hv_backup_open(c, uuid, &vc, &dom) < 0)
        return -1;
    if ((freeze ? virDomainFSFreeze(dom, NULL, 0, 0) : virDomainFSThaw(dom, NULL, 0, 0)) < 0) {
        hv_err("the guest agent did not %s the file systems", freeze ? "freeze" : "thaw");
        hv_check_alive(c, vc);
        goto cleanup;
    }
    ret = 0;

cleanup:
    hv_backup_close(vc, dom);
    return ret;
}

int
hv_fs_freeze(HvConn *c, const char *uuid)
{
    return hv_fs_call(c, uuid, 1);
}

int
hv_fs_thaw(HvConn *c, const char *uuid)
{
    return hv_fs_call(c, uuid, 0);
}

/* --- the primary's power and autostart, for a planned failover ---------- */

int
hv_domain_action(HvConn *c, const char *uuid, HvAction what)
{
    static const char *const names[] = { "shut down", "start (paused)", "power off",
                                         "turn autostart off for", "resume" };
    virConnectPtr vc;
    virDomainPtr dom;
    int ret = -1, rc = -1;

    if (hv_backup_open(c, uuid, &vc, &dom) < 0)
        return -1;
    switch (what) {
    case HV_ACT_SHUTDOWN:
        rc = virDomainShutdown(dom);
        break;
    case HV_ACT_START_PAUSED:
        rc = virDomainCreateWithFlags(dom, VIR_DOMAIN_START_PAUSED);
        break;
    case HV_ACT_STOP:
        rc = virDomainDestroyFlags(dom, VIR_DOMAIN_DESTROY_GRACEFUL);
        break;
    case HV_ACT_NOAUTOSTART:
        rc = virDomainSetAutostart(dom, 0);
        break;
    case HV_ACT_RESUME:
        rc = virDomainResume(dom);
        break;
    }
    if (rc < 0) {
        hv_err("cannot %s %s on %s", names[what], uuid, c->uri);
        hv_check_alive(c, vc);
        goto cleanup;
    }
    ret = 0;

cleanup:
    hv_backup_close(vc, dom);
    return ret;
}

int
hv_checkpoint_create(HvConn *c, const char *uuid, const char *checkpoint_xml)
{
    virConnectPtr vc;
    virDomainPtr dom;
    virDomainCheckpointPtr cp = NULL;
    int ret = -1;

    if (hv_backup_open(c, uuid, &vc, &dom) < 0)
        return -1;
    if (!(cp = virDomainCheckpointCreateXML(dom, checkpoint_xml, 0))) {
        hv_err("cannot create a checkpoint on %s (%s)", uuid, c->uri);
        hv_check_alive(c, vc);
        goto cleanup;
    }
    ret = 0;

cleanup:
    hv_checkpoint_close(vc, dom, cp);
    return ret;
}

int
hv_get_autostart(HvConn *c, const char *uuid)
{
    virConnectPtr vc;
    virDomainPtr dom;
    int on = 0, ret = -1;

    if (hv_backup_open(c, uuid, &vc, &dom) < 0)
        return -1;
    if (virDomainGetAutostart(dom, &on) < 0) {
        hv_err("cannot read the autostart flag of %s on %s", uuid, c->uri);
        hv_check_alive(c, vc);
        goto cleanup;
    }
    ret = on ? 1 : 0;

cleanup:
    hv_backup_close(vc, dom);
    return ret;
}
