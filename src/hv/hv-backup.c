/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hv-backup: libvirt's backup and checkpoint API, which replication
 * (src/repl/) drives on the primary host. */
#include <config.h>

#include "hv/hv.h"
#include "hv/hv-priv.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/result.h"
#include "base/util.h"

/* The domain with this UUID on a referenced connection, or NULL with err. */
static virDomainPtr
hv_backup_domain(HvConn *c, virConnectPtr vc, const char *uuid)
{
    virDomainPtr dom = virDomainLookupByUUIDString(vc, uuid);

    if (!dom) {
        hv_err("no domain with UUID %s on %s", uuid, c->uri);
        hv_check_alive(c, vc);
    }
    return dom;
}

int
hv_backup_begin(HvConn *c, const char *uuid, const char *backup_xml, const char *checkpoint_xml)
{
    virConnectPtr vc = hv_acquire(c);
    virDomainPtr dom = NULL;
    int ret = -1;

    if (!vc)
        return -1;
    if (!(dom = hv_backup_domain(c, vc, uuid)))
        goto cleanup;
    if (virDomainBackupBegin(dom, backup_xml, checkpoint_xml, 0) < 0) {
        hv_err("cannot start a backup job on %s (%s)", uuid, c->uri);
        hv_check_alive(c, vc);
        goto cleanup;
    }
    ret = 0;

cleanup:
    if (dom)
        virDomainFree(dom);
    virConnectClose(vc);
    return ret;
}

char *
hv_backup_xml(HvConn *c, const char *uuid)
{
    virConnectPtr vc = hv_acquire(c);
    virDomainPtr dom = NULL;
    char *xml = NULL, *r = NULL;

    if (!vc)
        return NULL;
    if (!(dom = hv_backup_domain(c, vc, uuid)))
        goto cleanup;
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
    if (dom)
        virDomainFree(dom);
    virConnectClose(vc);
    return r;
}

int
hv_backup_abort(HvConn *c, const char *uuid)
{
    virConnectPtr vc = hv_acquire(c);
    virDomainPtr dom = NULL;
    virDomainJobInfo info;
    int ret = -1;

    if (!vc)
        return -1;
    if (!(dom = hv_backup_domain(c, vc, uuid)))
        goto cleanup;
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
    if (dom)
        virDomainFree(dom);
    virConnectClose(vc);
    return ret;
}

char **
hv_checkpoint_names(HvConn *c, const char *uuid)
{
    virConnectPtr vc = hv_acquire(c);
    virDomainPtr dom = NULL;
    virDomainCheckpointPtr *cps = NULL;
    char **v = NULL;
    int n, i;

    if (!vc)
        return NULL;
    if (!(dom = hv_backup_domain(c, vc, uuid)))
        goto cleanup;
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
    if (dom)
        virDomainFree(dom);
    virConnectClose(vc);
    return v;
}

int
hv_checkpoint_delete(HvConn *c, const char *uuid, const char *name)
{
    return hv_checkpoint_delete_flags(c, uuid, name, 0);
}

int
hv_checkpoint_delete_flags(HvConn *c, const char *uuid, const char *name, int metadata_only)
{
    virConnectPtr vc = hv_acquire(c);
    virDomainPtr dom = NULL;
    virDomainCheckpointPtr cp = NULL;
    int ret = -1;

    if (!vc)
        return -1;
    if (!(dom = hv_backup_domain(c, vc, uuid)))
        goto cleanup;
    if (!(cp = virDomainCheckpointLookupByName(dom, name, 0))) {
        hv_err("no checkpoint %s on %s (%s)", name, uuid, c->uri);
        hv_check_alive(c, vc);
        goto cleanup;
    }
    if (virDomainCheckpointDelete(cp, metadata_only ?
                                  VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY : 0) < 0) {
        hv_err("cannot delete checkpoint %s of %s (%s)", name, uuid, c->uri);
        hv_check_alive(c, vc);
        goto cleanup;
    }
    ret = 0;

cleanup:
    if (cp)
        virDomainCheckpointFree(cp);
    if (dom)
        virDomainFree(dom);
    virConnectClose(vc);
    return ret;
}

char *
hv_get_live_xml(HvConn *c, const char *uuid)
{
    virConnectPtr vc = hv_acquire(c);
    virDomainPtr dom = NULL;
    char *xml = NULL, *r = NULL;

    if (!vc)
        return NULL;
    if ((dom = hv_backup_domain(c, vc, uuid))) {
        if (!(xml = virDomainGetXMLDesc(dom, 0))) {
            hv_err("cannot read the live definition of %s (%s)", uuid, c->uri);
            hv_check_alive(c, vc);
        }
        virDomainFree(dom);
    }
    if (xml) {
        r = util_xstrdup(xml);
        free(xml);
    }
    virConnectClose(vc);
    return r;
}

/* One guest-agent call on the domain: freeze (1) or thaw (0). */
static int
hv_fs_call(HvConn *c, const char *uuid, int freeze)
{
    virConnectPtr vc = hv_acquire(c);
    virDomainPtr dom = NULL;
    int ret = -1;

    if (!vc)
        return -1;
    if (!(dom = hv_backup_domain(c, vc, uuid)))
        goto cleanup;
    if ((freeze ? virDomainFSFreeze(dom, NULL, 0, 0) : virDomainFSThaw(dom, NULL, 0, 0)) < 0) {
        hv_err("the guest agent did not %s the file systems", freeze ? "freeze" : "thaw");
        hv_check_alive(c, vc);
        goto cleanup;
    }
    ret = 0;

cleanup:
    if (dom)
        virDomainFree(dom);
    virConnectClose(vc);
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
    virConnectPtr vc = hv_acquire(c);
    virDomainPtr dom = NULL;
    int ret = -1, rc = -1;

    if (!vc)
        return -1;
    if (!(dom = hv_backup_domain(c, vc, uuid)))
        goto cleanup;
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
    if (dom)
        virDomainFree(dom);
    virConnectClose(vc);
    return ret;
}

int
hv_checkpoint_create(HvConn *c, const char *uuid, const char *checkpoint_xml)
{
    virConnectPtr vc = hv_acquire(c);
    virDomainPtr dom = NULL;
    virDomainCheckpointPtr cp = NULL;
    int ret = -1;

    if (!vc)
        return -1;
    if (!(dom = hv_backup_domain(c, vc, uuid)))
        goto cleanup;
    if (!(cp = virDomainCheckpointCreateXML(dom, checkpoint_xml, 0))) {
        hv_err("cannot create a checkpoint on %s (%s)", uuid, c->uri);
        hv_check_alive(c, vc);
        goto cleanup;
    }
    ret = 0;

cleanup:
    if (cp)
        virDomainCheckpointFree(cp);
    if (dom)
        virDomainFree(dom);
    virConnectClose(vc);
    return ret;
}

int
hv_get_autostart(HvConn *c, const char *uuid)
{
    virConnectPtr vc = hv_acquire(c);
    virDomainPtr dom = NULL;
    int on = 0, ret = -1;

    if (!vc)
        return -1;
    if (!(dom = hv_backup_domain(c, vc, uuid)))
        goto cleanup;
    if (virDomainGetAutostart(dom, &on) < 0) {
        hv_err("cannot read the autostart flag of %s on %s", uuid, c->uri);
        hv_check_alive(c, vc);
        goto cleanup;
    }
    ret = on ? 1 : 0;

cleanup:
    if (dom)
        virDomainFree(dom);
    virConnectClose(vc);
    return ret;
}
