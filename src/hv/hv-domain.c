/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hv-domain: the domains of one connection: lookups, records,
 * definitions and power (lists: hv-list.c; disk sources, networks and
 * another host's power state: hv-checks.c). */
#include <config.h>

#include "hv/hv.h"
#include "hv/hv-priv.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "record/replica.h"
#include "base/result.h"
#include "base/util.h"

/* Secrets in the definition (VNC passwords...) must survive a redefine;
 * libvirt shows them only to read-write connections and refuses the flag
 * on read-only ones. */
static unsigned int
hv_secure_flag(const HvConn *c)
{
    return c->readonly ? 0 : VIR_DOMAIN_XML_SECURE;
}

const char *
hv_power_name(int power)
{
    switch (power) {
    case HV_POWER_RUNNING: return "running";
    case HV_POWER_PAUSED: return "paused";
    case HV_POWER_OFF: return "shut off";
    case HV_POWER_SHUTTING_DOWN: return "shutting down";
    case HV_POWER_CRASHED: return "crashed";
    case HV_POWER_OTHER: return "other";
    default: return "unknown";
    }
}

int
hv_power_from_state(int st)
{
    switch (st) {
    case VIR_DOMAIN_RUNNING: case VIR_DOMAIN_BLOCKED: return HV_POWER_RUNNING;
    case VIR_DOMAIN_PAUSED: case VIR_DOMAIN_PMSUSPENDED: return HV_POWER_PAUSED;
    case VIR_DOMAIN_SHUTDOWN: return HV_POWER_SHUTTING_DOWN;
    case VIR_DOMAIN_SHUTOFF: return HV_POWER_OFF;
    case VIR_DOMAIN_CRASHED: return HV_POWER_CRASHED;
    default: return HV_POWER_OTHER;
    }
}

int
hv_dom_uuid(virDomainPtr dom, char out[VIR_UUID_STRING_BUFLEN])
{
    unsigned char raw[VIR_UUID_BUFLEN];

    out[0] = '\0';
    if (virDomainGetUUID(dom, raw) < 0)
        return -1;
    util_uuid_format(raw, out);
    return 0;
}

/* virDomainGetMetadata returns the element with its namespace stripped
 * ("<replica format=...>" with unqualified children); put it back so the
 * document parses as what it is.  Takes md. */
static char *
hv_fix_metadata_ns(char *md)
{
    const char *p = md + strspn(md, " \t\r\n");
    size_t name = strlen("<" REPLICA_ELEMENT);
    const char *end = strchr(p, '>');
    static const char head[] = "<" REPLICA_ELEMENT " xmlns=\"" REPLICA_NS "\"";
    size_t rest;
    char *r;

    if (strncmp(p, "<" REPLICA_ELEMENT, name) != 0 || !end ||
        (p[name] != ' ' && p[name] != '>' && p[name] != '/') ||
        memmem(p, (size_t)(end - p), "xmlns", 5))
        return md;
    /* Copied, not formatted: a record is kilobytes, and a load has
     * thousands of them. */
    rest = strlen(p + name);
    r = util_xmalloc(sizeof(head) - 1 + rest + 1);
    memcpy(r, head, sizeof(head) - 1);
    memcpy(r + sizeof(head) - 1, p + name, rest + 1);
    free(md);
    return r;
}

char *
hv_dom_metadata(virDomainPtr dom)
{
    /* Every libvirt call resets the thread's last error: take the name first. */
    const char *name = virDomainGetName(dom);
    /* The persistent definition holds the record: a define (how drover
     * changes it) does not touch a running domain's live copy. */
    char *md = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, REPLICA_NS,
                                    VIR_DOMAIN_AFFECT_CONFIG);
    if (!md) {
        virErrorPtr e = virGetLastError();
        if (e && e->code == VIR_ERR_NO_DOMAIN_METADATA) {
            virResetLastError();
            err_clear();
            return NULL;
        }
        hv_err("cannot read metadata of %s", name);
        return NULL;
    }
    return hv_fix_metadata_ns(md);
}

void
hv_domain_clear(HvDomain *d)
{
    if (!d)
        return;
    if (d->handle)
        virDomainFree(d->handle);
    free(d->name);
    free(d->metadata);
    memset(d, 0, sizeof(*d));
}

void
hv_domain_list_free(HvDomain *v, size_t n)
{
    size_t i;

    if (!v)
        return;
    for (i = 0; i < n; i++)
        hv_domain_clear(&v[i]);
    free(v);
}

static virDomainPtr
hv_find(HvConn *c, virConnectPtr vc, const char *name_or_uuid)
{
    virDomainPtr dom = NULL;

    if (strlen(name_or_uuid) == VIR_UUID_STRING_BUFLEN - 1)
        dom = virDomainLookupByUUIDString(vc, name_or_uuid);
    if (!dom)
        dom = virDomainLookupByName(vc, name_or_uuid);
    if (!dom) {
        virErrorPtr e = virGetLastError();
        if (e && e->code == VIR_ERR_NO_DOMAIN) {
            virResetLastError();
            err_set(RESULT_INVALID_PARAMETER, "no domain named %s on %s", name_or_uuid, c->uri);
        } else {
            hv_err("cannot look up %s on %s", name_or_uuid, c->uri);
            hv_check_alive(c, vc);
        }
    }
    return dom;
}

static int
hv_dom_power(virDomainPtr dom)
{
    int st = 0, reason = 0;
    const char *name = virDomainGetName(dom);

    if (virDomainGetState(dom, &st, &reason, 0) < 0) {
        hv_err("cannot read the power state of %s", name);
        return -1;
    }
    return hv_power_from_state(st);
}

int
hv_lookup(HvConn *c, const char *name_or_uuid, int with_metadata, HvDomain *out)
{
    virConnectPtr vc = hv_acquire(c);
    virDomainPtr dom = NULL;
    int ret = -1;

    memset(out, 0, sizeof(*out));
    if (!vc)
        return -1;
    if (!(dom = hv_find(c, vc, name_or_uuid)))
        goto cleanup;
    out->name = util_xstrdup(virDomainGetName(dom));
    hv_dom_uuid(dom, out->uuid);
    if ((out->power = hv_dom_power(dom)) < 0)
        goto fail;
    if (with_metadata) {
        out->metadata = hv_dom_metadata(dom);
        if (!out->metadata && err_code())
            goto fail;
    }
    ret = 0;
    goto cleanup;

fail:
    hv_check_alive(c, vc);
    hv_domain_clear(out);
cleanup:
    if (dom)
        virDomainFree(dom);
    virConnectClose(vc);
    return ret;
}

char *
hv_get_metadata(HvConn *c, const char *uuid)
{
    virConnectPtr vc = hv_acquire(c);
    virDomainPtr dom;
    char *md = NULL;

    err_clear();
    if (!vc)
        return NULL;
    if ((dom = hv_find(c, vc, uuid))) {
        md = hv_dom_metadata(dom);
        if (!md && err_code())
            hv_check_alive(c, vc);
        virDomainFree(dom);
    }
    virConnectClose(vc);
    return md;
}

char *
hv_domain_metadata(HvConn *c, const HvDomain *d)
{
    char *md;

    if (!d->handle)
        return hv_get_metadata(c, d->uuid);
    err_clear();
    md = hv_dom_metadata(d->handle);
    if (!md && err_code()) {
        virConnectPtr vc = hv_acquire(c);
        if (vc) {
            hv_check_alive(c, vc);
            virConnectClose(vc);
        }
    }
    return md;
}

int
hv_get_power(HvConn *c, const char *uuid)
{
    virConnectPtr vc = hv_acquire(c);
    virDomainPtr dom;
    int p = -1;

    if (!vc)
        return -1;
    if ((dom = hv_find(c, vc, uuid))) {
        if ((p = hv_dom_power(dom)) < 0)
            hv_check_alive(c, vc);
        virDomainFree(dom);
    }
    virConnectClose(vc);
    return p;
}

char *
hv_get_xml(HvConn *c, const char *uuid)
{
    virConnectPtr vc = hv_acquire(c);
    virDomainPtr dom;
    char *xml = NULL, *r = NULL;

    if (!vc)
        return NULL;
    if ((dom = hv_find(c, vc, uuid))) {
        xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | hv_secure_flag(c));
        if (!xml) {
            hv_err("cannot read the definition of %s", uuid);
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

/* Runs after a successful change: keeps a fleet file in step. */
static int
hv_after_change(HvConn *c, virConnectPtr vc, const char *uuid)
{
    if (!c->fleet)
        return 0;
    if (hv_fleet_writeback(c, vc, uuid) < 0) {
        err_prefix("the change is made in memory but not saved");
        return -1;
    }
    return 0;
}

static int
hv_refuse_readonly(HvConn *c, const char *what)
{
    if (!c->readonly)
        return 0;
    err_set(RESULT_ACCESS_DENIED, "cannot %s: the connection to %s is read-only", what, c->uri);
    return -1;
}

int
hv_define(HvConn *c, const char *xml)
{
    virConnectPtr vc;
    virDomainPtr dom;
    char uuid[VIR_UUID_STRING_BUFLEN] = "";
    int ret;

    if (hv_refuse_readonly(c, "define a domain") < 0 || !(vc = hv_acquire(c)))
        return -1;
    dom = virDomainDefineXML(vc, xml);
    if (!dom) {
        hv_err("cannot define the domain on %s", c->uri);
        hv_check_alive(c, vc);
        virConnectClose(vc);
        return -1;
    }
    hv_dom_uuid(dom, uuid);
    virDomainFree(dom);
    ret = hv_after_change(c, vc, uuid);
    virConnectClose(vc);
    return ret;
}

typedef int (*HvDomainAction)(virDomainPtr dom);

static int
hv_action(HvConn *c, const char *uuid, HvDomainAction act, const char *what)
{
    virConnectPtr vc;
    virDomainPtr dom;
    int ret = -1;

    if (hv_refuse_readonly(c, what) < 0 || !(vc = hv_acquire(c)))
        return -1;
    if ((dom = hv_find(c, vc, uuid))) {
        const char *name = virDomainGetName(dom);
        if (act(dom) < 0) {
            hv_err("cannot %s %s", what, name);
            hv_check_alive(c, vc);
        } else {
            ret = 0;
        }
        virDomainFree(dom);
    }
    if (ret == 0)
        ret = hv_after_change(c, vc, uuid);
    virConnectClose(vc);
    return ret;
}

static int
hv_do_undefine(virDomainPtr dom)
{
    unsigned int flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA;
    virErrorPtr e;

    /* Never VIR_DOMAIN_UNDEFINE_NVRAM: libvirt would delete whatever file
     * <nvram> names, which no plan lists (a test system's own copy is
     * deleted by drover's safe discard).  A UEFI guest cannot be undefined
     * without one of the two flags; a driver that knows neither refuses
     * KEEP_NVRAM as an unsupported flag: then try without it. */
    if (virDomainUndefineFlags(dom, flags | VIR_DOMAIN_UNDEFINE_KEEP_NVRAM) == 0)
        return 0;
    e = virGetLastError();
    if (!e || (e->code != VIR_ERR_INVALID_ARG && e->code != VIR_ERR_NO_SUPPORT &&
               e->code != VIR_ERR_ARGUMENT_UNSUPPORTED))
        return -1;
    return virDomainUndefineFlags(dom, flags);
}

static int
hv_do_start(virDomainPtr dom)
{
    return virDomainCreate(dom);
}

static int
hv_do_destroy(virDomainPtr dom)
{
    return virDomainDestroy(dom);
}

static int
hv_do_shutdown(virDomainPtr dom)
{
    return virDomainShutdown(dom);
}

int
hv_undefine(HvConn *c, const char *uuid)
{
    return hv_action(c, uuid, hv_do_undefine, "undefine");
}

int
hv_start(HvConn *c, const char *uuid)
{
    return hv_action(c, uuid, hv_do_start, "start");
}

int
hv_destroy(HvConn *c, const char *uuid)
{
    return hv_action(c, uuid, hv_do_destroy, "power off (destroy)");
}

/* After a change libvirt completed on its own (a guest that shut down):
 * keeps a fleet file in step. */
static int
hv_saved(HvConn *c, const char *uuid)
{
    virConnectPtr vc;
    int ret;

    if (!c->fleet)
        return 0;
    if (!(vc = hv_acquire(c)))
        return -1;
    ret = hv_after_change(c, vc, uuid);
    virConnectClose(vc);
    return ret;
}

int
hv_power_off(HvConn *c, const char *uuid, int timeout_s, HvTickFn tick, void *opaque, int *forced)
{
    int64_t start = util_mono_ms();
    int last_tick = -1;
    int p;

    *forced = 0;
    if ((p = hv_get_power(c, uuid)) < 0)
        return -1;
    if (p == HV_POWER_OFF)
        return 0;
    /* A paused guest cannot react to ACPI: only destroy helps. */
    if (p != HV_POWER_PAUSED && timeout_s > 0) {
        if (hv_action(c, uuid, hv_do_shutdown, "shut down") < 0) {
            if (err_code() == RESULT_NOT_AVAILABLE || err_code() == RESULT_ACCESS_DENIED)
                return -1;
            err_clear();    /* no ACPI or agent: fall through to destroy */
        } else {
            for (;;) {
                int elapsed = (int)((util_mono_ms() - start) / 1000);

                if ((p = hv_get_power(c, uuid)) < 0)
                    return -1;
                if (p == HV_POWER_OFF)
                    return hv_saved(c, uuid);
                if (elapsed >= timeout_s)
                    break;
                if (tick && elapsed != last_tick) {
                    tick(elapsed, timeout_s, opaque);
                    last_tick = elapsed;
                }
                usleep(200000);
            }
        }
    }
    *forced = 1;
    if (hv_destroy(c, uuid) < 0)
        return -1;
    return 0;
}
