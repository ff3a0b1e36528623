/* SPDX-License-Identifier: GPL-2.0-or-later */
/* session: what one drover process works with — configuration, the hosts
 * it is connected to, and its job table.  Shared by the command line and
 * the console. */
#ifndef DROVER_SESSION_H
#define DROVER_SESSION_H

#include <stddef.h>

#include "base/conf.h"
#include "hv/hv.h"
#include "ops/job.h"

typedef struct {
    char *name;                 /* display name */
    char *uri;
    int readonly;
    HvConn *conn;
} SessionHost;

typedef struct {
    Conf *conf;
    SessionHost *hosts;
    size_t nhosts;
    JobTable *jobs;
    const char *hosts_from;     /* where the hosts came from, for `drover config` */
    int kept;                   /* session_keep(): threads left running still use it */
} Session;

typedef struct {
    const char *config;         /* --config FILE or NULL */
    const char *const *uris;    /* -c URI, repeatable; NULL-terminated or NULL */
    int readonly;               /* --readonly */
    int connect;                /* open the libvirt connections now */
    const char *state_dir;      /* if set: audit log and job history live here (the demo's sandbox) */
} SessionArgs;

/* Loads configuration, picks hosts (-c, else the config's hosts, else
 * libvirt's own default URI as virsh has it, else qemu:///system), opens
 * the job table and,
 * when asked, connects.  A host that cannot be reached is kept,
 * disconnected.  NULL with err set (bad configuration). */
Session *session_open(const SessionArgs *a);
void session_free(Session *s);
/* Threads that were not waited for (a call to a host that does not
 * answer) still use s: session_free() then leaves it alone, for the
 * process to end with it.  s stays reachable from their model. */
void session_keep(Session *s);

/* Finds a VM by "NAME", "UUID" or "NAME@HOST" on the session's hosts.
 * Returns the host index, with the domain's UUID in uuid; -1 with err set:
 * 32773 when it is nowhere or on several hosts (the message names them),
 * 32777 when the hosts that could have it are unreachable. */
int session_find_vm(Session *s, const char *ref, char uuid[37]);

#endif
