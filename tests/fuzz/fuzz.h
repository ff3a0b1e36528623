/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz: shared pieces of drover's fuzz targets.
 *
 * Each fuzz-*.c defines the two libFuzzer entry points.  The same file is
 * linked either with libFuzzer (make fuzz, clang) or with replay.c (make
 * check, any compiler), which feeds it the corpus files one by one. */
#ifndef DROVER_FUZZ_H
#define DROVER_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A private directory for this process (under /dev/shm when it exists, so
 * the file-based targets do not wear a disk), removed with its files at
 * exit.  Made on first use; exits the process if it cannot be made. */
const char *fuzz_dir(void);
/* fuzz_dir()/name, to be freed. */
char *fuzz_path(const char *name);
/* Writes size bytes to path, replacing it; exits the process on failure
 * (a harness that cannot write its input would test nothing). */
void fuzz_write(const char *path, const void *data, size_t size);
/* data as a NUL-terminated string, to be freed; NULL if data holds a NUL
 * byte (the C-string APIs could never see one). */
char *fuzz_string(const uint8_t *data, size_t size);
/* Reports a broken invariant with the input's context and aborts, so both
 * libFuzzer and the replay driver record it as a crash. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
