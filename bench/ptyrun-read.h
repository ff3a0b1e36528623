/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ptyrun-read: the console's screen dump and its CPU time, as ptyrun
 * (bench/ptyrun.c) reads them. */
#ifndef DROVER_PTYRUN_READ_H
#define DROVER_PTYRUN_READ_H

#include <sys/types.h>

/* The whole file at path, NUL-terminated, or NULL. */
char *read_file(const char *path);

typedef struct {
    long total;                 /* rows in the model ("x/y VMs"), -1 unknown */
    int names;                  /* the table is full of names */
    int visible;                /* ... and every one shows its state */
    int all;                    /* the title line says every record is read */
} ScreenState;

/* What a screen dump s shows of the load. */
ScreenState read_screen_state(const char *s);

/* utime+stime of pid's UI thread (its main thread) and of the whole
 * process, and the UI thread's time on a CPU from schedstat, in
 * milliseconds; -1 when unreadable. */
double read_ui_cpu_ms(pid_t pid);
double read_proc_cpu_ms(pid_t pid);
double read_ui_sched_ms(pid_t pid);

#endif
