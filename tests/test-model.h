/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-model: the helpers shared by test-model's files and the groups of
 * tests main() runs (test-model-loop.c, test-model-view.c). */
#ifndef DROVER_TEST_MODEL_H
#define DROVER_TEST_MODEL_H

#include <stddef.h>

#include "face/session.h"
#include "model/model.h"

#define WAIT_MS 30000

/* Runs the UI side of the loop until pred(m, arg) holds or WAIT_MS pass;
 * returns the flags seen.  *okp tells whether pred held. */
typedef int (*Pred)(Model *m, void *arg);

unsigned pump(Model *m, Pred pred, void *arg, int *okp);
int pred_rounds(Model *m, void *arg);
const ModelRow *find_name(Model *m, size_t host, const char *name);

typedef struct {
    const char *name;
    int state;
} WantState;

int pred_state(Model *m, void *arg);

/* Where this test's audit log and job history live (test-model.c). */
extern char *test_state_dir;

Session *open_session(const char *uri, const char *uri2);


/* test-model-loop.c: another process, priority, resync, reader threads. */
void test_other_process(const char *uri);
void test_priority(const char *uri);
void test_resync(const char *uri);
void test_readers(const char *uri);
void test_now_fd(const char *uri);
void test_held(const char *uri);
void test_aged(const char *uri);
/* How many of this process's threads have a name that starts with
 * prefix; with lo and hi, the least and most nice value among them. */
int threads_named(const char *prefix, int *lo, int *hi);

/* test-model-view.c: the view's orders and replication requests. */
void test_view(const char *uri);
void test_repl(const char *uri);

#endif
