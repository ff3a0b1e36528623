/* SPDX-License-Identifier: GPL-2.0-or-later */
/* stage: one worker thread that runs the jobs handed to it, in order.
 *
 * A reader that makes one round trip per record hands the work on each
 * record to a stage and reads the next one meanwhile: with one host the
 * round trips and the work then overlap on two cores instead of adding
 * up (doc/performance.md, "the remote path"). */
#ifndef DROVER_STAGE_H
#define DROVER_STAGE_H

typedef struct Stage Stage;
typedef void (*StageFn)(void *arg);

/* A stage with its thread, named name (NULL: as the caller's), running
 * lower nice values below the caller (util_thread_lower; 0: as the
 * caller); NULL when no thread can be made, and every function below
 * takes NULL: the jobs then run at once, in the caller. */
Stage *stage_new(const char *name, int lower);
/* fn(arg) runs in the stage's thread after every job pushed before it. */
void stage_push(Stage *s, StageFn fn, void *arg);
/* Returns once every job pushed so far has run. */
void stage_wait(Stage *s);
/* Waits as stage_wait, ends the thread and frees s. */
void stage_free(Stage *s);

#endif
