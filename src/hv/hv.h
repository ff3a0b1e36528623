/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hv: libvirt access — the only module that includes libvirt.
 *
 * One HvConn per host URI.  Connections survive loss: a dead connection is a
 * state of the host (32777) and hv_reconnect() brings it back.  All calls
 * are thread-safe; the console calls them from worker threads only.
 *
 * On libvirt's test driver with a node file (test:///path/fleet.xml) the
 * file is the store: every change this process makes is written back to it
 * (under a lock, by atomic rename, merging only the domains this process
 * changed), and hv_reload_if_changed() picks up other processes' changes. */
#ifndef DROVER_HV_H
#define DROVER_HV_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

enum {
    HV_POWER_UNKNOWN = 0,
    HV_POWER_RUNNING,
    HV_POWER_PAUSED,
    HV_POWER_OFF,
    HV_POWER_SHUTTING_DOWN,
    HV_POWER_CRASHED,
    HV_POWER_OTHER,
};

typedef struct HvConn HvConn;

typedef struct {
    char *name;
    char uuid[37];
    int power;              /* HV_POWER_* */
    char *metadata;         /* replica element text, NULL if absent or not fetched */
    void *handle;           /* libvirt's domain object (HV_LIST_HANDLES), freed with the entry */
} HvDomain;

/* hv_list flags. */
enum {
    HV_LIST_METADATA = 1,   /* fetch every record now */
    HV_LIST_HANDLES = 2,    /* keep each domain's handle for hv_domain_metadata() */
};

/* Kinds of change an event reports. */
enum {
    HV_EVENT_LIFECYCLE = 1,     /* power state, define, undefine */
    HV_EVENT_METADATA = 2,      /* our metadata changed */
    HV_EVENT_CONNECTION = 3,    /* connection lost or re-established (uuid NULL) */
    HV_EVENT_RELOADED = 4,      /* fleet file reloaded: everything may have changed */
};
/* Called from the event thread (or the thread that noticed); must not block. */
typedef void (*HvEventFn)(HvConn *c, const char *uuid, int kind, void *opaque);

/* Once per process, before any connection: installs the error handler that
 * keeps libvirt from printing and registers the default event loop (its
 * thread starts with the first connection that takes events: hv_open).
 * Safe to call more than once. */
int hv_init(void);

const char *hv_power_name(int power);   /* "running", "shut off", ... */

/* How long a connect waits for the host to answer before drover goes on
 * without it (32777 "does not answer"), unless hv_set_connect_timeout()
 * (drover.conf's connect_timeout) says otherwise: virConnectOpen has no
 * timeout of its own, and libvirt's keepalive covers the calls after a
 * connect, not the connect itself. */
#define HV_OPEN_WAIT_S 30
/* Once, before connecting (seconds > 0; else HV_OPEN_WAIT_S). */
void hv_set_connect_timeout(int seconds);
int hv_connect_timeout(void);

/* Opens a connection (read-only with virConnectOpenReadOnly when asked).
 * Never NULL: when the host cannot be reached the HvConn exists in the
 * disconnected state; err holds why (check hv_is_alive()).  Every connect
 * (here, hv_reconnect, hv_open_many, hv_list_many, hv_default_uri) runs
 * in a thread of its own and gives up after the connect timeout; a host
 * that still has not answered is left to that thread, and a reconnect
 * waits for the same connect instead of starting another. */
HvConn *hv_open(const char *uri, int readonly);
/* The events of connections opened from now on (and their keepalive,
 * which runs in the same loop) wait until hv_events_resume(), or 2 s at
 * most: a first load of many hosts then goes without the thread of
 * libvirt's event loop, which libvirt's client wakes around every call
 * (three in four of the console's context switches on twenty hosts).
 * Nothing is lost meanwhile: events wait in the connection and are
 * delivered when the loop runs.  No effect once the loop runs. */
void hv_events_defer(void);
void hv_events_resume(void);
/* One turn of the event loop drover gives libvirt (hv-event.c): waits
 * for a watched descriptor, a due timer or a change made meanwhile, and
 * runs their callbacks.  hv_init first; one thread at a time: the
 * loop's own (started with the first connection for events), or a test's
 * while no such connection is open.  0, or -1 (errno) if poll() fails. */
int hv_event_run_once(void);
/* Closes and frees c (NULL is fine).  Waits at most about a second for a
 * remote host to take the close; the rest then ends in a thread. */
void hv_close(HvConn *c);
/* hv_close of n connections at once (NULLs are fine), waiting about a
 * second in all for the remote ones. */
void hv_close_many(HvConn **v, size_t n);
/* hv_open of n hosts at once, each in a thread of its own: a host that is
 * slow to answer holds up no other, and the whole takes as long as the
 * slowest instead of the sum.  out[i] is never NULL. */
void hv_open_many(const char *const *uris, const int *readonly, size_t n, HvConn **out);
int hv_is_alive(HvConn *c);
/* Tries to connect again if disconnected: 0 when connected. */
int hv_reconnect(HvConn *c);
const char *hv_uri(const HvConn *c);
/* The URI libvirt itself connects to when given none (LIBVIRT_DEFAULT_URI,
 * uri_default in libvirt.conf, else its own probing), as virsh uses it;
 * malloc'd, or NULL with err set when libvirt cannot resolve one. */
char *hv_default_uri(void);
/* 1 when the host is the machine drover runs on (its disk files are ours
 * to read and write), 0 when it is another machine, -1 when unknown
 * (not connected yet). */
int hv_is_local(HvConn *c);
int hv_is_readonly(const HvConn *c);
/* The node file of a test:///FILE connection, else NULL. */
const char *hv_fleet_path(const HvConn *c);
/* Reloads a fleet file changed by another process: 1 reloaded, 0 unchanged, -1 error. */
int hv_reload_if_changed(HvConn *c);
/* Event callback for this connection (lifecycle and metadata events). */
void hv_set_event_handler(HvConn *c, HvEventFn fn, void *opaque);

/* All domains, sorted by name; flags: HV_LIST_*. */
int hv_list(HvConn *c, int flags, HvDomain **out, size_t *n);
/* The replica element of a listed domain: one call on its kept handle
 * (HV_LIST_HANDLES), else a lookup by UUID first.  NULL when it has none
 * (err code 0) or on error. */
char *hv_domain_metadata(HvConn *c, const HvDomain *d);
void hv_domain_list_free(HvDomain *v, size_t n);

/* One host's part of hv_list_many: what hv_list gave, or its error. */
typedef struct {
    HvDomain *doms;
    size_t n;
    int failed;             /* hv_list failed: err holds why */
    ErrInfo err;
} HvListResult;
/* hv_list of n hosts at once, each in a thread of its own.  A host whose
 * conns[i] is NULL is opened first in its thread (uris[i], readonly[i]),
 * so one host's open overlaps another's list as they come; conns[i] is
 * then set (never NULL after), a connection for calls only: no events and
 * no close callback.  libvirt's event loop (keepalive) starts only if the
 * hosts take more than 2 s: until then no thread of it is woken around
 * every call.  Free each list with hv_domain_list_free(). */
/* A host that does not answer its connect fails with 32777 after the
 * connect timeout; the others are waited for as long as their calls take
 * (keepalive ends a call to a host that stops answering). */
typedef void (*HvListDoneFn)(size_t i, HvConn *c, HvListResult *r, void *opaque);
/* done (may be NULL) runs in a thread of host i's once its list is in, so
 * that what the caller makes of each list overlaps the other hosts' calls;
 * it may take over (and clear) r->doms.  With HV_LIST_METADATA and no
 * more hosts than cores it runs several times instead, once for each part
 * of the list (64 domains, in libvirt's order, not by name) as the records
 * come, one call at a time per host, overlapping that host's own calls
 * too; and once more with r->failed set if the list fails (the parts
 * before it were handed on). */
void hv_list_many(HvConn **conns, const char *const *uris, const int *readonly, size_t n, int flags,
                  HvListDoneFn done, void *opaque, HvListResult *out);
void hv_domain_clear(HvDomain *d);
/* One domain by name or UUID: 32773 when there is none. */
int hv_lookup(HvConn *c, const char *name_or_uuid, int with_metadata, HvDomain *out);
/* The replica element, NULL when the domain has none (err code 0) or on
 * error (err set). */
char *hv_get_metadata(HvConn *c, const char *uuid);
int hv_get_power(HvConn *c, const char *uuid);
/* Persistent definition (VIR_DOMAIN_XML_INACTIVE | SECURE). */
char *hv_get_xml(HvConn *c, const char *uuid);

/* Defines (or redefines) a domain from a whole document: disks and
 * metadata change together in one call. */
int hv_define(HvConn *c, const char *xml);
int hv_undefine(HvConn *c, const char *uuid);
int hv_start(HvConn *c, const char *uuid);
int hv_destroy(HvConn *c, const char *uuid);

/* Called about once a second while waiting for a shutdown. */
typedef void (*HvTickFn)(int elapsed_s, int timeout_s, void *opaque);
/* Graceful shutdown, then destroy after timeout_s.  *forced tells which. */
int hv_power_off(HvConn *c, const char *uuid, int timeout_s, HvTickFn tick, void *opaque,
                 int *forced);

/* Every disk source of every domain on the host (files, block devices,
 * backing stores, storage volumes resolved to their files; live and
 * next-boot definitions) except the domains whose UUID is in exclude
 * (NULL-terminated, may be NULL): what a deletion must never touch.
 * NULL-terminated array; NULL with err set when any definition cannot be
 * read, since it could use any file. */
char **hv_all_disk_sources(HvConn *c, const char *const *exclude);
void hv_strv_free(char **v);

/* Whether the host's libvirt network name is isolated (no <forward>: its
 * guests reach each other and the host, nothing beyond): 1 isolated, 0
 * it forwards, -1 with err (32773 no such network). */
int hv_network_isolated(HvConn *c, const char *name);

/* Asks another host, read-only, for the power state of its domain
 * name_or_uuid, giving up after timeout_s seconds (the connect and the
 * calls run in a thread of their own, which is left to finish alone when
 * the host does not answer in time).  0 with *power set; -1 with err:
 * 32777 the host could not be reached in time, 32773 it has no such
 * domain.  Opens no HvConn: nothing stays connected. */
int hv_probe_power(const char *uri, const char *name_or_uuid, int timeout_s, int *power);

/* --- backups and checkpoints (hv-backup.c), for replication ----------- */

/* Starts a backup job on a running domain (virDomainBackupBegin): the
 * documents are libvirt's <domainbackup> and <domaincheckpoint> (NULL: no
 * checkpoint).  A pull-mode job runs until hv_backup_abort(). */
int hv_backup_begin(HvConn *c, const char *uuid, const char *backup_xml,
                    const char *checkpoint_xml);
/* The description of the domain's running backup job (its
 * <domainbackup>), or NULL: err code 0 when none runs. */
char *hv_backup_xml(HvConn *c, const char *uuid);
/* Ends the domain's backup job (virDomainAbortJob); 0 also when none runs. */
int hv_backup_abort(HvConn *c, const char *uuid);
/* The names of the domain's checkpoints, NULL-terminated (free with
 * hv_strv_free); NULL with err set. */
char **hv_checkpoint_names(HvConn *c, const char *uuid);
/* Deletes one checkpoint (its bitmaps are merged into its parent's). */
int hv_checkpoint_delete(HvConn *c, const char *uuid, const char *name);
/* With metadata_only, libvirt forgets the checkpoint and leaves the disks'
 * bitmaps alone: for a checkpoint whose bitmap is missing or broken (the
 * primary's qemu was killed), which a normal deletion refuses. */
int hv_checkpoint_delete_flags(HvConn *c, const char *uuid, const char *name, int metadata_only);
/* The bytes written on the domain's disks since checkpoint name, summed
 * over its disks (virDomainCheckpointGetXMLDesc with
 * VIR_DOMAIN_CHECKPOINT_XML_SIZE: qemu's dirty bitmaps, in whole clusters
 * of their granularity).  0 with *bytes set; -1 with err: 32775 when the
 * domain is not running (only a running qemu counts its bitmaps). */
int hv_checkpoint_pending(HvConn *c, const char *uuid, const char *name, uint64_t *bytes);
/* Freezes (or thaws) the guest's file systems through its guest agent
 * (virDomainFSFreeze/Thaw), for an application-consistent point. */
int hv_fs_freeze(HvConn *c, const char *uuid);
int hv_fs_thaw(HvConn *c, const char *uuid);
/* The live definition (what runs now), for the disks a backup covers. */
char *hv_get_live_xml(HvConn *c, const char *uuid);

/* A planned failover's calls on a domain (hv-backup.c). */
typedef enum {
    HV_ACT_SHUTDOWN,            /* ask the guest to shut down (ACPI or agent): returns at
                                 * once, poll hv_get_power */
    HV_ACT_START_PAUSED,        /* start with its vCPUs stopped (the final cycle's backup) */
    HV_ACT_STOP,                /* SIGTERM only: qemu stores the checkpoints' bitmaps as it
                                 * closes its images */
    HV_ACT_NOAUTOSTART,         /* autostart off */
    HV_ACT_RESUME,              /* its vCPUs run again */
} HvAction;
/* 0, or -1 with err set (naming the action, the domain and the host). */
int hv_domain_action(HvConn *c, const char *uuid, HvAction what);
/* Autostart: 1 on, 0 off, -1 with err set. */
int hv_get_autostart(HvConn *c, const char *uuid);
/* Creates a checkpoint (a <domaincheckpoint> document) on a running
 * domain, for reverse replication. */
int hv_checkpoint_create(HvConn *c, const char *uuid, const char *checkpoint_xml);

#endif
