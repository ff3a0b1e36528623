/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tap: a small TAP producer for drover's C tests (automake tap-driver.sh). */
#ifndef DROVER_TAP_H
#define DROVER_TAP_H

#include <stddef.h>

void tap_ok(int pass, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void tap_is_int(long long got, long long want, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void tap_is_str(const char *got, const char *want, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tap_skip(int n, const char *reason);
/* Skips the whole program (exit status 0, "1..0 # SKIP reason"). */
void tap_skip_all(const char *reason) __attribute__((noreturn));
/* Prints the plan; returns the exit status for main. */
int tap_done(void);
int tap_failures(void);

/* A fresh directory under $TMPDIR (or /tmp) for this test program,
 * removed by tap_done() when every test passed. */
const char *tap_tmpdir(void);
/* Runs a shell command; returns its exit status (-1 if it could not run). */
int tap_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Runs a shell command and returns its standard output (malloc'd) or NULL. */
char *tap_capture(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) tap_is_int((long long)(got), (long long)(want), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, want, ...) tap_is_str((got), (want), __FILE__, __LINE__, __VA_ARGS__)

#endif
