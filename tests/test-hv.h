/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-hv-fleet and test-hv-conn: what both programs share (the helpers in
 * test-hv-lib.c, compiled into each): a fleet file and a private libvirtd
 * to serve it. */
#ifndef DROVER_TEST_HV_H
#define DROVER_TEST_HV_H

#include <stddef.h>
#include <sys/types.h>

/* How long a test waits for a thread, a pause point or a daemon. */
#define WAIT_MS 30000

int write_numbered_fleet(const char *path, size_t n);
char proc_state(const char *path);
int daemon_usable(const char *top);
pid_t daemon_start(const char *top, const char *hd);
int kill_daemon(pid_t pid);

#endif
