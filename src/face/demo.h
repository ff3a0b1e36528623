/* SPDX-License-Identifier: GPL-2.0-or-later */
/* demo: a scratch DR site to try drover on.
 *
 * Real qcow2 chains made with qemu-img, and a libvirt test-driver node file
 * (fleet.xml) defining replica domains in varied states.  The hypervisor is
 * simulated by libvirt's own test driver; the disk edits are real. */
#ifndef DROVER_DEMO_H
#define DROVER_DEMO_H

typedef struct {
    const char *dir;            /* NULL: $XDG_RUNTIME_DIR/drover-demo or /tmp/drover-demo-UID */
    int vms;                    /* number of replicas; 0: the standard fleet of 12 */
    /* Called with a line of text while a large fleet is built (may be NULL). */
    void (*progress)(const char *line, void *opaque);
    void *opaque;
} DemoArgs;

/* Builds the fleet (replacing an earlier demo in the same directory, and
 * refusing a directory that holds anything else).  Returns the URI to
 * open ("test:///DIR/fleet.xml"), or NULL with err set. */
char *demo_build(const DemoArgs *a);

/* The demo directory of a demo fleet's URI ("test:///DIR/fleet.xml" with
 * DIR marked as made by drover demo), or NULL for any other URI. */
char *demo_dir_of(const char *uri);

/* The default directory for this user. */
char *demo_default_dir(void);

#endif
