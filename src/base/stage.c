/* SPDX-License-Identifier: GPL-2.0-or-later */
/* stage: one worker thread that runs the jobs handed to it, in order. */
#include <config.h>

#include "base/stage.h"

#include <pthread.h>
#include <stdlib.h>

#include "base/util.h"

typedef struct StageJob {
    struct StageJob *next;
    StageFn fn;
    void *arg;
} StageJob;

struct Stage {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;        /* a job came, or the last one ran */
    StageJob *head, *tail;      /* waiting */
    int running;                /* a job is running now */
    int quit;
    char name[16];              /* its thread's (the kernel keeps 15 bytes) */
    int lower;                  /* nice values below its creator */
};

static void *
stage_thread(void *arg)
{
    Stage *s = arg;

    if (s->lower)
        util_thread_lower(s->lower);
    if (s->name[0])
        util_thread_name("%s", s->name);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        StageJob *j = s->head;

        if (!j) {
            if (s->quit)
                break;
            pthread_cond_wait(&s->cond, &s->mu);
            continue;
        }
        s->head = j->next;
        if (!s->head)
            s->tail = NULL;
        s->running = 1;
        pthread_mutex_unlock(&s->mu);
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&s->mu);
        s->running = 0;
        if (!s->head)
            pthread_cond_broadcast(&s->cond);   /* stage_wait */
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

Stage *
stage_new(const char *name, int lower)
{
    Stage *s = util_xcalloc(1, sizeof(*s));

    s->lower = lower;
    if (name)
        util_strlcpy(s->name, name, sizeof(s->name));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    if (pthread_create(&s->thread, NULL, stage_thread, s) != 0) {
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    return s;
}

void
stage_push(Stage *s, StageFn fn, void *arg)
{
    StageJob *j;

    if (!s) {
        fn(arg);
        return;
    }
    j = util_xcalloc(1, sizeof(*j));
    j->fn = fn;
    j->arg = arg;
    pthread_mutex_lock(&s->mu);
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

void
stage_wait(Stage *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    while (s->head || s->running)
        pthread_cond_wait(&s->cond, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

void
stage_free(Stage *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->quit = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);  /* after the jobs still waiting */
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
