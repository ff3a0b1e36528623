/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hv-priv.h: what the files of src/hv share; only they include libvirt. */
#ifndef DROVER_HV_PRIV_H
#define DROVER_HV_PRIV_H

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <sys/stat.h>

#include "base/err.h"
#include "hv/hv.h"

typedef struct HvDial HvDial;

/* drover's callbacks on one connection, as registered (ids -1: none);
 * events 0 for a connection opened for calls only (hv.c). */
typedef struct {
    int events;
    int lifecycle;
    int metadata;
} HvHooks;

/* keepalive: a ping after 5 s without a word, the peer dead after 3 more
 * unanswered (about 20 s): libvirt's own defaults for its clients. */
#define HV_KEEPALIVE_S 5
#define HV_KEEPALIVE_COUNT 3

struct HvConn {
    pthread_mutex_t mu;
    char *uri;
    int readonly;
    virConnectPtr conn;         /* NULL while disconnected */
    int cb_lifecycle;
    int cb_metadata;
    HvEventFn fn;
    void *opaque;
    char *fleet;                /* node file of a test:///FILE connection */
    int local;                  /* hv_is_local() once known for this connection, else -1 */
    struct stat fleet_st;       /* the version this connection loaded */
    ErrInfo conn_err;           /* why the last connect failed (libvirt's reason), code 0 if it did not */
    HvDial *dial;               /* a connect still waiting for the host, or NULL (hv.c) */
    int events;                 /* 0: opened for calls only (hv_open_calls) */
    virConnectPtr lost;         /* a connection libvirt's close callback
                                 * found dead, with c's reference and its
                                 * callbacks still registered: they
                                 * cannot be unregistered in that callback
                                 * (hv.c) */
    HvHooks lost_hooks;
    int refs;                   /* its owner's, and one a domain event
                                 * callback libvirt holds: one may be
                                 * running while hv_close unregisters it
                                 * (hv.c) */
};

/* hv_open for a command that only makes calls and then closes (`list`):
 * no domain events and no close callback, so it needs no event-loop
 * thread, which would be woken around every call, and no keepalive
 * until hv_keepalive: a caller that waits too long turns it on and starts
 * the loop (hv_loop_start).
 * hv_set_event_handler on it gets nothing. */
HvConn *hv_open_calls(const char *uri, int readonly);
/* hv-event.c.  Registers drover's event loop with libvirt (hv-event.c
 * says why not libvirt's own); before any connect: a connection opened
 * before it gets no keepalive.  0, or -1 (errno) if it cannot. */
int hv_event_register(void);
/* hv-loop.c.  Starts the thread of libvirt's event loop, once, and has it
 * run the loop now (a deferral ends); hv_init first. */
void hv_loop_start(void);
/* Starts that thread, once: it runs the loop at once, or when a deferral
 * (hv_events_defer) ends. */
void hv_loop_thread(void);
/* keepalive for vc 2 s from now, from a timer of the loop (vc gets a
 * reference of its own until then); hv_later_remove before vc's close. */
void hv_later_add(virConnectPtr vc);
void hv_later_remove(virConnectPtr vc);
/* Turns keepalive on for c's connection (a ping after 5 s without a word,
 * dead after 3 unanswered).  A connection for events gets it 2 s after
 * its connect, from the event loop; one for calls only from its caller
 * when a call takes long, and before its close: with keepalive on, libvirt's client re-arms
 * its timer in the event loop at every reply it reads, under a lock every
 * connection shares, 8 % of the time of a list of twenty hosts. */
void hv_keepalive(HvConn *c);

/* hv-dial.c: a connect in a thread of its own (uri NULL: libvirt's
 * default), keepalive set at once if asked; the caller holds one
 * reference. */
HvDial *hv_dial_start(const char *uri, int readonly, int keepalive);
/* Waits for d until wait_s after it started: 1 when it ended (its
 * connection, if no one took it yet, moves to *vc; else err says why), 2
 * when it ended and another caller took its connection, 0 with 32777 set
 * when the host still has not answered. */
int hv_dial_wait(HvDial *d, int wait_s, virConnectPtr *vc);
/* Drops a reference (NULL is fine); the last closes a connection no one
 * took. */
void hv_dial_unref(HvDial *d);
/* Opens c's connection within the connect timeout (a dial still pending
 * from an earlier attempt counts from its start); NULL with err set, also
 * kept in c->conn_err, unless *taken (taken may be NULL) says another
 * caller waiting on the same connect took it. */
virConnectPtr hv_connect(HvConn *c, int *taken);

/* dom's UUID as text, as virDomainGetUUIDString writes it (hv-domain.c).
 * That one formats it twice with g_snprintf, once for a debug line it
 * drops, and twenty hosts list ten thousand domains. */
int hv_dom_uuid(virDomainPtr dom, char out[VIR_UUID_STRING_BUFLEN]);
/* The metadata element of dom (drover's record): NULL with err code 0
 * when absent (hv-domain.c). */
char *hv_dom_metadata(virDomainPtr dom);
/* HV_POWER_* for libvirt's VIR_DOMAIN_* state st (hv-domain.c; the
 * split-brain guard's probe in hv-checks.c reads another host's). */
int hv_power_from_state(int st);

/* Sets err from libvirt's last error of this thread, with our context.
 * Take names for the message before: every libvirt call resets the error. */
void hv_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A referenced connection for one call (virConnectClose it after), or
 * NULL with 32777 while the host is disconnected. */
virConnectPtr hv_acquire(HvConn *c);
/* After a failed call: if the connection died, mark the host disconnected
 * and turn the error into 32777. */
void hv_check_alive(HvConn *c, virConnectPtr vc);

/* Writes this process's view of one domain back into c's fleet file,
 * keeping every other domain as the file has it now. */
int hv_fleet_writeback(HvConn *c, virConnectPtr vc, const char *uuid);

#endif
