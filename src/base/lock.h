/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lock: one operation per replica across processes.
 *
 * An OFD lock (fcntl F_OFD_SETLK) on a small file beside the chain.  The
 * kernel drops it when the holder dies, so a crash never leaves a stale
 * lock; the file's text only describes the holder for the refusal message. */
#ifndef DROVER_LOCK_H
#define DROVER_LOCK_H

#include <stddef.h>

typedef struct LockHandle LockHandle;

/* Takes the lock at path without waiting and records holder (one line:
 * who, what, since when).  A held lock fails with RESULT_IN_USE (32774) and
 * the message "held by <holder>" (callers prefix what is held).  Permission problems are
 * 32769, a missing directory 32779. */
LockHandle *lock_acquire(const char *path, const char *holder);
/* Waits up to timeout_ms for the lock (for short critical sections such
 * as rewriting a fleet file). */
LockHandle *lock_acquire_wait(const char *path, const char *holder, int timeout_ms);
void lock_release(LockHandle *h);

/* If the lock is held by someone, copies its holder text into buf and
 * returns 1; 0 when free; -1 with err set when it cannot tell. */
int lock_probe(const char *path, char *buf, size_t size);

/* "alice (uid 1000, pid 4242, from 10.0.0.5)" describing this process. */
char *lock_describe_self(void);

#endif
