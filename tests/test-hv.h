/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-hv-fleet, test-hv-conn and test-hv-event: what they share (the
 * helpers in test-hv-lib.c, compiled into each): a fleet file, a private
 * libvirtd to serve it, and waits for a flag or a thread's state. */
#ifndef DROVER_TEST_HV_H
#define DROVER_TEST_HV_H

#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* How long a test waits for a thread, a pause point or a daemon. */
#define WAIT_MS 30000

int write_numbered_fleet(const char *path, size_t n);
char proc_state(const char *path);
int daemon_usable(const char *top);
pid_t daemon_start(const char *top, const char *hd);
int kill_daemon(pid_t pid);

/* WAIT_MS from now on CLOCK_REALTIME, the clock of a condition made with
 * PTHREAD_COND_INITIALIZER. */
struct timespec rt_deadline(void);
/* Waits within WAIT_MS until *flag is above above (under mu, signalled
 * on cv, a CLOCK_REALTIME condition): whether it is. */
int wait_flag(pthread_mutex_t *mu, pthread_cond_t *cv, const int *flag, int above);
/* Thread tid of this process waits in poll(2) (libvirt's client and
 * drover's event loop wait there), not elsewhere (a pause point sleeps in
 * nanosleep). */
int task_in_poll(pid_t tid);
/* Waits within WAIT_MS until the thread whose id is *tid (0: not yet
 * known; read under mu) is in the state in() tests for: 1, or 0 at the
 * limit or once *done (NULL: no such flag) is set; *was_done (if not
 * NULL) says which. */
int thread_waits_in(pthread_mutex_t *mu, const pid_t *tid, const int *done, int (*in)(pid_t tid),
                    int *was_done);

#endif
